"""The wheel (issue #16): built offline from python/ with Debian's pip, setuptools and wheel;
installed with pip, offline, into fresh virtualenvs; its servers run from the venv's bin and
need only the C library; the Django integration tests pass against the installed package."""

import glob
import os
import shutil
import subprocess
import sys
import zipfile

import pytest

from conftest import REPO, SYSTEM_PYTHON, project_version, run

# What ldd may show for the wheel's binaries and its extension: the C library and the parts
# glibc splits off (libm, and the stubs libpthread, libdl, librt kept for old links), the
# dynamic loader and the vDSO. Not libgcc_s: libgcc is linked statically with libstdc++.
LIBC_LEVEL = {"linux-vdso.so.1", "libc.so.6", "libm.so.6", "libpthread.so.0", "libdl.so.2",
              "librt.so.1", "ld-linux-x86-64.so.2"}
SERVERS = ("tiercache-l2", "tiercache-sidecar")

# The Django integration tests: Django + django-redis against tiercache-l2, and Django through
# two sidecars with django-redis's backend and tiercache's own (direct L1 reads by tiercache._l1).
DJANGO_TESTS = ["tests/integration/django",
                "tests/integration/sidecar/test_django.py",
                "tests/integration/sidecar/test_direct_l1.py"]


def make_venv(path, wheel, system_site_packages):
    argv = [SYSTEM_PYTHON, "-m", "venv"]
    if system_site_packages:
        argv.append("--system-site-packages")
    run(argv + [str(path)])
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    run([str(path / "bin" / "python"), "-m", "pip", "install", "--no-index", "--no-deps",
         "--no-cache-dir", wheel], env=env)
    return path


def package_dir(venv):
    """site-packages/tiercache of the venv, asked of the venv's python (from outside the repo)."""
    p = run([str(venv / "bin" / "python"), "-c",
             "import os, tiercache; print(os.path.dirname(tiercache.__file__))"],
            cwd="/", env={"PATH": os.environ["PATH"]})
    return p.stdout.strip()


@pytest.fixture(scope="module")
def venv(artifacts, tmp_path_factory):
    """A venv with Debian's site packages visible (Django, django-redis, redis-py and pytest
    exist here only as Debian packages, and PyPI is unreachable), the wheel installed into it."""
    base = tmp_path_factory.mktemp("venv-sys")
    yield make_venv(base / "venv", artifacts["wheel"], True)
    shutil.rmtree(base, ignore_errors=True)


def test_wheel_holds_both_servers_and_the_extension(artifacts):
    version = project_version()
    assert os.path.basename(artifacts["wheel"]).startswith("tiercache-%s-" % version)
    with zipfile.ZipFile(artifacts["wheel"]) as z:
        names = z.namelist()
        for server in SERVERS:
            info = z.getinfo("tiercache/bin/" + server)
            assert (info.external_attr >> 16) & 0o111, "%s not executable in the wheel" % server
        assert [n for n in names if n.startswith("tiercache/_l1.") and n.endswith(".so")]
        assert z.read("tiercache/_version.py").decode() == '__version__ = "%s"\n' % version
        entry_points = z.read("tiercache-%s.dist-info/entry_points.txt" % version).decode()
    assert "tiercache-l2 = tiercache._cli:l2" in entry_points
    assert "tiercache-sidecar = tiercache._cli:sidecar" in entry_points


def test_servers_answer_version_from_the_venv_bin(venv):
    version = project_version()
    for server in SERVERS:
        p = run([str(venv / "bin" / server), "--version"], cwd="/")
        assert p.stdout == "%s %s\n" % (server, version)
    p = run([str(venv / "bin" / "python"), "-c", "import tiercache; print(tiercache.__version__)"],
            cwd="/")
    assert p.stdout.strip() == version


def ldd_names(path):
    p = run(["ldd", path])
    names = set()
    for line in p.stdout.splitlines():
        line = line.strip()
        assert "not found" not in line, "%s: %s" % (path, line)
        names.add(os.path.basename(line.split()[0]))
    return names


def test_installed_binaries_need_only_the_c_library(venv):
    pkg = package_dir(venv)
    files = [os.path.join(pkg, "bin", s) for s in SERVERS] + glob.glob(os.path.join(pkg, "_l1*.so"))
    assert len(files) == 3, files
    for f in files:
        names = ldd_names(f)
        assert "libc.so.6" in names, (f, names)
        assert names <= LIBC_LEVEL, "%s links %s" % (f, sorted(names - LIBC_LEVEL))


def test_wheel_installs_into_an_isolated_venv(artifacts, tmp_path, request):
    """Without Debian's site packages too: the servers and the extension need nothing else
    (Django is then the team's to install, `pip install tiercache[django]`)."""
    venv = make_venv(tmp_path / "venv", artifacts["wheel"], False)
    request.addfinalizer(lambda: shutil.rmtree(venv, ignore_errors=True))
    for server in SERVERS:
        assert run([str(venv / "bin" / server), "--version"], cwd="/").stdout.startswith(server)
    p = run([str(venv / "bin" / "python"), "-c",
             "import sys, tiercache._l1; print(tiercache._l1.__file__); "
             "import importlib.util; print(importlib.util.find_spec('django'))"], cwd="/")
    so, django = p.stdout.split()
    assert so.startswith(str(venv) + "/"), so
    assert django == "None", "the isolated venv sees Django: %s" % django


# Run in the venv's interpreter: the Django tests, then a check that every tiercache module
# they used came from the venv's site-packages.
RUN_DJANGO_TESTS = r"""
import os, sys
import pytest
rc = pytest.main(sys.argv[1:])
mods = {n: getattr(m, "__file__", None) for n, m in sys.modules.items()
        if n == "tiercache" or n.startswith("tiercache.")}
print("tiercache modules used:", mods)
site = os.path.join(sys.prefix, "lib")
bad = {n: f for n, f in mods.items() if not (f or "").startswith(site + os.sep)}
if "tiercache._l1" not in mods or "tiercache.django_cache" not in mods:
    print("PACKAGING CHECK: the tests did not use tiercache.django_cache and tiercache._l1")
    rc = rc or 3
if bad:
    print("PACKAGING CHECK: not from the venv:", bad)
    rc = rc or 4
sys.exit(rc)
"""


@pytest.fixture(scope="module")
def installed_env(venv, tmp_path_factory):
    """The environment for running the project's tests against the venv's install. The test
    helpers find the servers under $TIERCACHE_BUILD_DIR/{l2,sidecar}: a directory of links to
    the wheel's binaries. $TIERCACHE_BUILD_DIR/python (which the sidecar suite and the demo's
    sites would put on sys.path / PYTHONPATH) does not exist, nor does TIERCACHE_PYTHON_DIR;
    PYTHONPATH is not set."""
    pkg = package_dir(venv)
    assert pkg.startswith(str(venv) + "/"), pkg
    base = tmp_path_factory.mktemp("installed")
    fake_build = base / "build"
    for sub, server in (("l2", "tiercache-l2"), ("sidecar", "tiercache-sidecar")):
        (fake_build / sub).mkdir(parents=True)
        os.symlink(os.path.join(pkg, "bin", server), fake_build / sub / server)
    env = {k: v for k, v in os.environ.items()
           if k != "PYTHONPATH" and not k.startswith("TIERCACHE_")}
    env["TIERCACHE_BUILD_DIR"] = str(fake_build)
    env["TIERCACHE_PYTHON_DIR"] = str(base / "no-build-python")
    yield env
    shutil.rmtree(base, ignore_errors=True)


def run_tests(venv, env, argv, timeout=1200):
    p = subprocess.run([str(venv / "bin" / "python")] + argv, cwd=REPO, env=env,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                       timeout=timeout)
    sys.stdout.write(p.stdout[-3000:])
    assert p.returncode == 0, p.stdout[-8000:]
    return p.stdout


def test_django_integration_tests_against_the_installed_package(venv, installed_env):
    env = dict(installed_env, TIERCACHE_TEST_TARGET="tiercache")
    out = run_tests(venv, env, ["-c", RUN_DJANGO_TESTS, "-q", "-p", "no:cacheprovider"]
                    + [os.path.join(REPO, t) for t in DJANGO_TESTS])
    assert "tiercache._l1" in out and " passed" in out


def test_demo_against_the_installed_package(venv, installed_env):
    """The demo's end-to-end suite (tests/e2e: L2, two sidecars, two gunicorn sites of
    examples/django, HTTP and a headless Chromium) with the wheel's servers and the sites run
    by the venv's python, whose tiercache is the installed one."""
    env = dict(installed_env, TIERCACHE_E2E_PYTHON=str(venv / "bin" / "python"),
               PYTHONPATH=os.path.join(installed_env["TIERCACHE_BUILD_DIR"], "python"))
    # what the sites import, with the sites' PYTHONPATH
    p = run([str(venv / "bin" / "python"), "-c",
             "import tiercache._l1; print(tiercache._l1.__file__)"],
            cwd=os.path.join(REPO, "examples", "django"), env=env)
    assert p.stdout.strip().startswith(str(venv) + "/"), p.stdout
    env.pop("PYTHONPATH")
    run_tests(venv, env, ["-m", "pytest", "-q", "-p", "no:cacheprovider",
                          os.path.join(REPO, "tests", "e2e")])
