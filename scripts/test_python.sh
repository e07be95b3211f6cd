#!/usr/bin/env bash
# Installs the Python package from python/ into a fresh venv under the build
# directory the way users do (Debian's interpreter, --system-site-packages,
# pip --no-build-isolation, offline) and runs its pytest suite with that
# venv's python. Reuses the extension already built in ${BUILD_DIR:-build}
# (CKPT_BUILD_DIR) instead of compiling libckpt a second time. Extra
# arguments are those given to cmake, to tell whether the build was meant to
# include Python.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
cache_value() { sed -n "s/^$1:[A-Z]*=//p" "$BUILD_DIR/CMakeCache.txt"; }

sanitize=$(cache_value CKPT_SANITIZE)
if [[ -n "$sanitize" && "$sanitize" != OFF ]]; then
  echo "python: skipped: this build is instrumented (CKPT_SANITIZE=$sanitize), and an" \
    "instrumented extension cannot be loaded into the uninstrumented /usr/bin/python3"
  exit 0
fi
if [[ "$(cache_value CKPT_BUILD_PYTHON)" != ON ]]; then
  if [[ " $* " == *" -DCKPT_BUILD_PYTHON=OFF "* ]]; then
    echo "python: skipped: -DCKPT_BUILD_PYTHON=OFF"
    exit 0
  fi
  echo "python: CKPT_BUILD_PYTHON is OFF in $BUILD_DIR: are python3-dev and pybind11-dev" \
    "installed (scripts/setup.sh)?" >&2
  exit 1
fi

venv="$BUILD_DIR/py-venv"
rm -rf "$venv"
/usr/bin/python3 -m venv --system-site-packages "$venv"
CKPT_BUILD_DIR="$BUILD_DIR" "$venv/bin/pip" install --quiet --no-index --no-build-isolation \
  ./python
# -P: import ckpt from the venv, never from the source tree.
"$venv/bin/python" -P -c 'import ckpt, sys; f = ckpt.__file__; print("python: testing", f);
sys.exit(0 if "site-packages" in f else "ckpt was not imported from the venv")'
if [[ -x "$BUILD_DIR/tools/ckpt" ]]; then
  export CKPT_CLI="$PWD/$BUILD_DIR/tools/ckpt"
  [[ "$BUILD_DIR" == /* ]] && CKPT_CLI="$BUILD_DIR/tools/ckpt"
fi
"$venv/bin/python" -P -m pytest -q -p no:cacheprovider python/tests
