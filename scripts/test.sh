#!/usr/bin/env bash
# Sets up, builds and runs the whole test suite: CTest, then the Python
# package's pytest suite in a venv (skipped, with the reason, in sanitizer
# builds). Extra arguments go to cmake.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh "$@"
ctest --test-dir "${BUILD_DIR:-build}" --output-on-failure -j "$(nproc)"
bash scripts/test_python.sh "$@"
