#!/usr/bin/env bash
# Installs ckpt's build and test dependencies from Debian 12's packages.
# Idempotent: installs only what is missing.
set -euo pipefail
packages=(
  build-essential cmake ninja-build pkg-config
  librocksdb-dev libzstd-dev libboost-filesystem-dev libssl-dev libhtscodecs-dev libxxhash-dev
  catch2 libcli11-dev nlohmann-json3-dev libfmt-dev clang-format
  # The S3 backend: HTTP with SigV4 signing, and S3's XML answers.
  libcurl4-openssl-dev libpugixml-dev
  # `ckpt mount`: libfuse3 to build it, fusermount3 to mount without a helper.
  libfuse3-dev fuse3
  # The Python package (python/): built against Debian's own interpreter.
  pybind11-dev python3-dev python3-numpy python3-pytest python3-venv python3-setuptools python3-pip
  # ckpt.torch and its tests.
  python3-torch
)
if [[ "${CKPT_SETUP_BENCH:-0}" == 1 ]]; then
  packages+=(restic borgbackup zstd time python3-pyfuse3)
fi
# scripts/fuzz.sh: clang and libFuzzer's runtime (with the sanitizers').
if [[ "${CKPT_SETUP_FUZZ:-0}" == 1 ]]; then
  packages+=(clang libclang-rt-14-dev)
fi
# scripts/rgw.sh: a single-node Ceph cluster with its S3 gateway (radosgw),
# curl to probe it, and two independent S3 clients to cross-check against;
# iproute2 (ip) for the hosts in network namespaces (tests/netns/).
if [[ "${CKPT_SETUP_S3:-0}" == 1 ]]; then
  packages+=(ceph-mon ceph-osd radosgw ceph-common python3-boto3 s3cmd curl iproute2)
fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  SUDO=""
  [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
