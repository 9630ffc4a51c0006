"""Fixtures of the packaging checks: one static release build (CMake, driven by the wheel's
setup.py) gives the wheel and, from the same build directory, the Debian package.

Environment:
    TIERCACHE_PACKAGING_BUILD_DIR  the CMake build directory (default <repo>/build-packaging);
                                   kept between runs so ccache and ninja make reruns fast
    JOBS                           parallel build jobs (default: all cores)

The tests take no build lock themselves: run the whole command under `flock /work/.buildlock`
as every build is."""

import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))
sys.path.insert(0, os.path.join(REPO, "examples", "demo"))
from locations import free_port  # noqa: E402,F401  (re-exported)
from leftovers import pytest_sessionfinish  # noqa: E402,F401  (fails the session on leftovers)

BUILD_DIR = os.environ.get("TIERCACHE_PACKAGING_BUILD_DIR",
                           os.path.join(REPO, "build-packaging"))
SYSTEM_PYTHON = "/usr/bin/python3"  # Debian's: sees Debian's pip, setuptools, wheel and Django


def project_version():
    with open(os.path.join(REPO, "CMakeLists.txt")) as f:
        return re.search(r"project\(\s*tiercache\s+VERSION\s+([0-9.]+)", f.read()).group(1)


def run(argv, check=True, **kw):
    """subprocess.run with text output captured; on failure the output is in the message."""
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw)
    if check and p.returncode != 0:
        raise AssertionError("%s exited with %d:\n%s" % (argv, p.returncode, p.stdout[-6000:]))
    return p


def build_env():
    env = dict(os.environ)
    # ccache only for a build directory configured here first. CMake takes the launcher from
    # the environment on every configure that lacks it: set on the release step's directory
    # (configured without it), it changed every compile command, so the step recompiled the
    # whole tree cold (CI: +300 s).
    if shutil.which("ccache") and not os.path.exists(os.path.join(BUILD_DIR, "CMakeCache.txt")):
        env.setdefault("CMAKE_CXX_COMPILER_LAUNCHER", "ccache")
        env.setdefault("CMAKE_C_COMPILER_LAUNCHER", "ccache")
    env["TIERCACHE_WHEEL_BUILD_DIR"] = BUILD_DIR
    env.pop("PYTHONPATH", None)
    return env


@pytest.fixture(scope="session")
def artifacts(tmp_path_factory):
    """{"wheel": path, "deb": path}: the wheel built offline by Debian's pip (its setup.py runs
    the static CMake build), then, from that build directory, the man pages and the .deb."""
    out = tmp_path_factory.mktemp("artifacts")
    # setuptools builds in python/build; a stale copy there could slip removed files into the
    # wheel.
    for stale in [os.path.join(REPO, "python", "build")] + glob.glob(
            os.path.join(REPO, "python", "*.egg-info")):
        shutil.rmtree(stale, ignore_errors=True)
    env = build_env()
    run([SYSTEM_PYTHON, "-m", "pip", "wheel", "--no-build-isolation", "--no-deps", "--no-index",
         "--wheel-dir", str(out / "wheel"), os.path.join(REPO, "python")], env=env, cwd=REPO)
    wheels = glob.glob(str(out / "wheel" / "tiercache-*.whl"))
    assert len(wheels) == 1, wheels

    run(["cmake", "-S", REPO, "-B", BUILD_DIR, "-DTIERCACHE_PACKAGE=ON"], env=env)
    run(["cmake", "--build", BUILD_DIR, "-j", env.get("JOBS", str(os.cpu_count() or 1)),
         "--target", "tiercache-l2", "tiercache-sidecar", "tiercache_man"], env=env)
    run(["cpack", "-G", "DEB", "--config", os.path.join(BUILD_DIR, "CPackConfig.cmake"),
         "-B", str(out / "deb")], env=env, cwd=BUILD_DIR)
    debs = glob.glob(str(out / "deb" / "tiercache_*.deb"))
    assert len(debs) == 1, debs
    yield {"wheel": wheels[0], "deb": debs[0]}
    shutil.rmtree(out, ignore_errors=True)
