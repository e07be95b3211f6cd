#!/usr/bin/env bash
# Sets up, builds and runs the whole test suite: CTest, then the Python
# package's pytest suite in a venv (skipped, with the reason, in sanitizer
# builds). The object-storage tests ([s3]) run against a real Ceph RGW that
# this script starts in the build directory (scripts/rgw.sh) and stops, by
# its PIDs, when it exits; CKPT_TEST_S3=0 leaves them out (CTest then
# reports them as skipped). Extra arguments go to cmake.
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${BUILD_DIR:-build}
test_s3=${CKPT_TEST_S3:-1}
CKPT_SETUP_S3=$test_s3 bash scripts/setup.sh
bash scripts/build.sh "$@"
if [[ "$test_s3" == 1 ]]; then
  rgw_dir="$(pwd)/$build_dir/rgw"
  [[ "$build_dir" == /* ]] && rgw_dir="$build_dir/rgw"
  trap 'bash scripts/rgw.sh stop "$rgw_dir"' EXIT
  bash scripts/rgw.sh start "$rgw_dir" "${CKPT_RGW_PORT:-7480}"
  eval "$(bash scripts/rgw.sh env "$rgw_dir")"
fi
ctest --test-dir "$build_dir" --output-on-failure -j "$(nproc)"
bash scripts/test_python.sh "$@"
