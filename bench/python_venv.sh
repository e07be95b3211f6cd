#!/usr/bin/env bash
# For the Python benchmarks: sets up and builds ckpt, installs the package
# into a venv of Debian's python3 (with its torch) and prints that venv's
# python.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh >&2
bash scripts/build.sh >&2
venv=${BUILD_DIR:-build}/py-venv-bench
/usr/bin/python3 -m venv --system-site-packages "$venv"
CKPT_BUILD_DIR=${BUILD_DIR:-build} "$venv/bin/pip" install --quiet --no-index \
  --no-build-isolation ./python >&2
echo "$venv/bin/python"
