#!/usr/bin/env bash
# Sets up, builds and runs the demo: a small trainer that checkpoints into a
# local store, resumes from a checkpoint, and prints the store's history.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh -DCKPT_BUILD_TESTS=OFF -DCKPT_BUILD_BENCH=OFF
STORE=${DEMO_STORE:-$(mktemp -d)/demo-store}
./build/examples/demo/ckpt_demo "$STORE"
