#!/usr/bin/env bash
# Sharded saves by 4 rank processes against one process and against
# torch.save per rank (bench/sharded/sharded_bench.py): builds ckpt,
# installs the package into a venv of Debian's python3 (with its torch),
# runs the benchmark. Arguments go to sharded_bench.py, e.g. --scale 0.1.
set -euo pipefail
cd "$(dirname "$0")/../.."
bash scripts/setup.sh
bash scripts/build.sh
venv=${BUILD_DIR:-build}/py-venv-bench
/usr/bin/python3 -m venv --system-site-packages "$venv"
CKPT_BUILD_DIR=${BUILD_DIR:-build} "$venv/bin/pip" install --quiet --no-index \
  --no-build-isolation ./python
exec "$venv/bin/python" -P bench/sharded/sharded_bench.py \
  --gen "${BUILD_DIR:-build}/bench/gen/ckpt_bench_gen" "$@"
