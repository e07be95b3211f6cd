"""Builds the extension ckpt._ckpt with the project's CMake and packages it.

build_ext configures the repository one level up (only the library and the
extension), builds the target _ckpt, and copies the module and libckpt.so.N
beside it into the package; the module finds the library through its RPATH
($ORIGIN). Environment:
  CKPT_BUILD_DIR    reuse this already configured build directory (with
                    CKPT_BUILD_PYTHON=ON; relative to the repository root)
                    instead of configuring our own
  CKPT_CMAKE_ARGS   extra arguments for the configure step
  CMAKE_BUILD_PARALLEL_LEVEL  build jobs (default: CMake's)
"""

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


class CMakeBuild(build_ext):
    def build_extension(self, ext):
        build_dir = os.environ.get("CKPT_BUILD_DIR")
        if build_dir:
            build_dir = (ROOT / build_dir).resolve()  # relative to the repository
        else:
            build_dir = Path(self.build_temp).resolve() / "cmake"
            build_dir.mkdir(parents=True, exist_ok=True)
            args = [
                "cmake", "-S", str(ROOT), "-B", str(build_dir),
                "-DCMAKE_BUILD_TYPE=Release",
                f"-DPython3_EXECUTABLE={sys.executable}",
                "-DCKPT_BUILD_PYTHON=ON", "-DCKPT_BUILD_TESTS=OFF", "-DCKPT_BUILD_TOOLS=OFF",
                "-DCKPT_BUILD_EXAMPLES=OFF", "-DCKPT_BUILD_BENCH=OFF",
            ]
            if shutil.which("ninja"):
                args += ["-G", "Ninja"]
            args += shlex.split(os.environ.get("CKPT_CMAKE_ARGS", ""))
            subprocess.run(args, check=True)
        subprocess.run(["cmake", "--build", str(build_dir), "--target", "_ckpt"], check=True)

        module, library, soname = (build_dir / "python" / "artifacts.txt").read_text().split()
        dest = Path(self.get_ext_fullpath(ext.name)).resolve()
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(module, dest)
        shutil.copyfile(library, dest.parent / soname)


setup(
    ext_modules=[Extension("ckpt._ckpt", sources=[])],
    cmdclass={"build_ext": CMakeBuild},
)
