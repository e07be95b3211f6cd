#!/usr/bin/env bash
# Installs the built ckpt into a temporary prefix, builds the consumer
# project against it with find_package(ckpt), and runs it.
set -euo pipefail
build_dir=$1 source_dir=$2 cmake=${3:-cmake}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$cmake" --install "$build_dir" --prefix "$work/prefix" >/dev/null
test -x "$work/prefix/bin/ckpt"
test -f "$work/prefix/include/ckpt/store.h"
"$cmake" -S "$source_dir/tests/install/consumer" -B "$work/build" \
  -DCMAKE_PREFIX_PATH="$work/prefix" >/dev/null
"$cmake" --build "$work/build" >/dev/null
"$work/build/consumer" "$work/store"
"$work/prefix/bin/ckpt" --store "$work/store" log consumer
