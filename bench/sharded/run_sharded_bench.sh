#!/usr/bin/env bash
# Sharded saves by 4 rank processes against one process and against
# torch.save per rank (bench/sharded/sharded_bench.py), in a venv of
# Debian's python3 with the package installed (bench/python_venv.sh).
# Arguments go to sharded_bench.py, e.g. --scale 0.1.
set -euo pipefail
cd "$(dirname "$0")/../.."
python=$(bash bench/python_venv.sh)
exec "$python" -P bench/sharded/sharded_bench.py \
  --gen "${BUILD_DIR:-build}/bench/gen/ckpt_bench_gen" "$@"
