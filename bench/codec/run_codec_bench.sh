#!/usr/bin/env bash
# One core's encode and decode throughput of ckpt's chunk codecs on the
# bytes of a benchmark scenario, next to `zstd -1` and `zstd -3`.
#
#   bash bench/codec/run_codec_bench.sh [--scenario dense] [--scale F] [--reps 3]
#        [--build DIR] [--out DIR] [--results PREFIX]
#
# Generates the scenario's checkpoints with ckpt_bench_gen, then runs
# ckpt_bench_codec on checkpoints 5 and 6 (the chunk codecs on 256 KiB
# chunks, one thread, MB/s of raw bytes per CPU second) and `zstd -b1`
# and -b3 on checkpoint 6 (the zstd CLI's own one-core benchmark of the
# whole file).
# Writes PREFIX.md (default bench/results/codec-latest.md).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SCENARIO=dense
SCALE=1
REPS=3
BUILD=$ROOT/build
OUT=
RESULTS=$ROOT/bench/results/codec-latest

while (($#)); do
  case "$1" in
    --scenario) SCENARIO=$2; shift 2 ;;
    --scale) SCALE=$2; shift 2 ;;
    --reps) REPS=$2; shift 2 ;;
    --build) BUILD=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    --results) RESULTS=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "run_codec_bench.sh: unknown option $1" >&2; exit 2 ;;
  esac
done

die() { echo "run_codec_bench.sh: $*" >&2; exit 1; }
GEN=$BUILD/bench/gen/ckpt_bench_gen
BENCH=$BUILD/bench/codec/ckpt_bench_codec
[[ -x $GEN && -x $BENCH ]] || die "build ckpt_bench_gen and ckpt_bench_codec in $BUILD first"
command -v zstd >/dev/null || die "zstd missing: CKPT_SETUP_BENCH=1 bash scripts/setup.sh"

if [[ -z $OUT ]]; then
  OUT=$(mktemp -d "${TMPDIR:-/tmp}/ckpt-codec.XXXXXX")
  trap 'rm -rf "$OUT"' EXIT
fi
"$GEN" --out "$OUT" --scale "$SCALE" --scenarios "$SCENARIO" >"$OUT/gen.txt"
PARENT=$OUT/$SCENARIO/ckpt-5.safetensors
CHILD=$OUT/$SCENARIO/ckpt-6.safetensors

CPU=$(lscpu 2>/dev/null | awk -F: '/^Model name/{gsub(/^ +/,"",$2); print $2; exit}')
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
CODEC=$("$BENCH" "$PARENT" "$CHILD" --reps "$REPS")
# zstd's benchmark mode: one core, the whole file; -i3: at least 3 s a level.
zstd_bench() {  # zstd_bench LEVEL: its last progress line is the result
  printf -- '-%s: ' "$1"
  zstd -b"$1" -i3 "$CHILD" 2>&1 | tr '\r' '\n' | grep -E 'MB/s.*MB/s' | tail -n 1 | sed 's/^[^:]*: *//'
}
ZSTD=$(zstd_bench 1; zstd_bench 3)
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)

{
  echo "## Chunk codec throughput, one core"
  echo
  echo "Run $(date -u +%Y-%m-%dT%H:%MZ) by \`bench/codec/run_codec_bench.sh --scenario $SCENARIO --scale $SCALE\`"
  echo "on $CPU; load average $LOAD_START at start, $LOAD_END at end. Input: checkpoint 6 of"
  echo "\`$SCENARIO\` ($(stat -c %s "$CHILD") bytes), deltas against checkpoint 5."
  echo
  echo "\`ckpt_bench_codec\` (256 KiB chunks, MB/s of raw bytes per CPU second of one thread):"
  echo
  echo '```'
  echo "$CODEC"
  echo '```'
  echo
  echo "\`zstd -b1\`, \`zstd -b3\` on the whole file (one core; size, compression and decompression speed):"
  echo
  echo '```'
  echo "$ZSTD"
  echo '```'
} >"$RESULTS.md"
cat "$RESULTS.md"
