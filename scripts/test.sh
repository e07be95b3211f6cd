#!/usr/bin/env bash
# Sets up, builds and runs the whole test suite: CTest, then the Python
# package's pytest suite in a venv (skipped, with the reason, in sanitizer
# builds). The object-storage tests ([s3]) run against a real Ceph RGW that
# this script starts in the build directory (scripts/rgw.sh) and stops, by
# its PIDs, when it exits; CKPT_TEST_S3=0 leaves them out (CTest then
# reports them as skipped). Run as root, it also makes a private bridge
# (scripts/netns_bridge.sh, $CKPT_NETNS_BRIDGE, default ckptbr0, holding
# 10.77.0.1/24) on which RGW listens too, for the test whose hosts are
# network namespaces (tests/netns/hosts_test.sh), and removes it at exit;
# without it that test is skipped. Extra arguments go to cmake.
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${BUILD_DIR:-build}
test_s3=${CKPT_TEST_S3:-1}
CKPT_SETUP_S3=$test_s3 bash scripts/setup.sh
bash scripts/build.sh "$@"
if [[ "$test_s3" == 1 ]]; then
  rgw_dir="$(pwd)/$build_dir/rgw"
  [[ "$build_dir" == /* ]] && rgw_dir="$build_dir/rgw"
  netns_bridge=${CKPT_NETNS_BRIDGE:-ckptbr0}
  netns_gateway=10.77.0.1
  trap 'bash scripts/rgw.sh stop "$rgw_dir"; bash scripts/netns_bridge.sh down "$netns_bridge"' EXIT
  if bash scripts/netns_bridge.sh up "$netns_bridge" "$netns_gateway"; then
    export CKPT_RGW_ADDR=$netns_gateway CKPT_TEST_NETNS_BRIDGE=$netns_bridge
  else
    echo "test.sh: no bridge for network namespaces: the test of hosts in namespaces is skipped"
  fi
  bash scripts/rgw.sh start "$rgw_dir" "${CKPT_RGW_PORT:-7480}"
  eval "$(bash scripts/rgw.sh env "$rgw_dir")"
fi
ctest --test-dir "$build_dir" --output-on-failure -j "$(nproc)"
bash scripts/test_python.sh "$@"
