#!/usr/bin/env bash
# ckpt.torch against torch.save (bench/torch/torch_bench.py), in a venv of
# Debian's python3 with the package installed (bench/python_venv.sh).
# Arguments go to torch_bench.py, e.g. --scale 0.1.
set -euo pipefail
cd "$(dirname "$0")/../.."
python=$(bash bench/python_venv.sh)
exec "$python" -P bench/torch/torch_bench.py \
  --gen "${BUILD_DIR:-build}/bench/gen/ckpt_bench_gen" --ckpt "${BUILD_DIR:-build}/tools/ckpt" "$@"
