"""Builds the tiercache wheel's native parts with the project's CMake build, not with
setuptools' compiler: the extension tiercache._l1 and the two servers share their sources and
link options with the rest of the project, and the CMake targets are the only list of them.

CMake runs with TIERCACHE_STATIC=ON (libuv, hiredis, Lua, xxhash and libstdc++ linked
statically, spdlog/fmt/toml++ header-only), so the binaries in the wheel need only the C
library. Environment:
    TIERCACHE_WHEEL_BUILD_DIR   the CMake build directory (default: <build_temp>/cmake); reuse
                                one to make rebuilds incremental or to share it with CPack
    TIERCACHE_WHEEL_BUILD_TYPE  CMAKE_BUILD_TYPE (default Release)
    JOBS                        parallel jobs (default: all cores)
"""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
BINARIES = {"tiercache-l2": "l2/tiercache-l2", "tiercache-sidecar": "sidecar/tiercache-sidecar"}


def project_version():
    """The one version of the project: project(tiercache VERSION x.y.z) in CMakeLists.txt."""
    text = (REPO / "CMakeLists.txt").read_text()
    m = re.search(r"project\(\s*tiercache\s+VERSION\s+([0-9][0-9.]*)", text)
    if not m:
        sys.exit("setup.py: no project(tiercache VERSION ...) in %s" % (REPO / "CMakeLists.txt"))
    return m.group(1)


VERSION = project_version()


class CMakeBuild(build_ext):
    def build_extension(self, ext):
        build_dir = Path(os.environ.get("TIERCACHE_WHEEL_BUILD_DIR")
                         or Path(self.build_temp).resolve() / "cmake").resolve()
        configure = ["cmake", "-S", str(REPO), "-B", str(build_dir), "-G", "Ninja",
                     "-DCMAKE_BUILD_TYPE=" + os.environ.get("TIERCACHE_WHEEL_BUILD_TYPE",
                                                            "Release"),
                     "-DTIERCACHE_STATIC=ON",
                     "-DPython3_EXECUTABLE=" + sys.executable]
        subprocess.run(configure, check=True)
        jobs = os.environ.get("JOBS") or str(os.cpu_count() or 1)
        subprocess.run(["cmake", "--build", str(build_dir), "-j", jobs, "--target",
                        "tiercache-l2", "tiercache-sidecar", "tiercache_l1_py"], check=True)

        target = Path(self.get_ext_fullpath(ext.name))
        target.parent.mkdir(parents=True, exist_ok=True)
        built = sorted((build_dir / "python" / "tiercache").glob("_l1*.so"))
        if len(built) != 1:
            raise RuntimeError("expected one built _l1 extension in %s, found %s"
                               % (build_dir / "python" / "tiercache", built))
        shutil.copyfile(built[0], target)
        bindir = target.parent / "bin"
        bindir.mkdir(exist_ok=True)
        for name, rel in BINARIES.items():
            dest = bindir / name
            shutil.copyfile(build_dir / rel, dest)
            os.chmod(dest, 0o755)


class BuildPy(build_py):
    """Also writes tiercache/_version.py (the build tree's comes from CMake)."""

    def run(self):
        super().run()
        out = Path(self.build_lib) / "tiercache" / "_version.py"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text('__version__ = "%s"\n' % VERSION)


setup(
    version=VERSION,
    ext_modules=[Extension("tiercache._l1", sources=[])],
    cmdclass={"build_ext": CMakeBuild, "build_py": BuildPy},
)
