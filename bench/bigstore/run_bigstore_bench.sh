#!/usr/bin/env bash
# Big stores: everyday commands on stores of growing size, so that what
# grows with what shows. For each size (distinct chunks; 2000 new chunks
# per checkpoint, 100 checkpoints per run, as ckpt_bench_bigstore makes
# them): generate the store (resumed if it exists), then
#   - the CLI: ckpt log RUN, ckpt log (all runs), ckpt show RUN@STEP,
#     ckpt ls RUN@STEP, each a fresh process (median and worst of 5);
#   - the API (ckpt_bench_bigstore time): open, list, describe, load one
#     tensor, and two series of 200 small saves in a row (median and worst);
#   - ckpt verify (metadata): time and peak RSS;
#   - ckpt gc --keep-last 5 --grace 0s on every run: time and peak RSS, and
#     beside it the deletion floor: rm of as many files of the same mean size
#     as gc deleted, spread over 256 directories like packs, with as many
#     processes as gc has unlinks in flight (8).
#
#   bash bench/bigstore/run_bigstore_bench.sh [--sizes 1000000,5000000,20000000]
#        [--dir DIR] [--keep] [--build DIR] [--results PREFIX]
#
# Needs about 150 bytes of disk per chunk (3 GB at 20 million). The stores
# live in DIR (default: a temporary directory, removed at the end unless
# --keep); a store already in DIR/store-SIZE is resumed, and gc runs on a
# copy of it, so a kept store can be measured again.
set -euo pipefail
cd "$(dirname "$0")/../.."
SIZES=1000000,5000000,20000000 DIR="" KEEP=0 BUILD=build RESULTS=bench/results/bigstore-latest
while (($#)); do
  case $1 in
    --sizes) SIZES=$2; shift 2 ;;
    --dir) DIR=$2; shift 2 ;;
    --keep) KEEP=1; shift ;;
    --build) BUILD=$2; shift 2 ;;
    --results) RESULTS=$2; shift 2 ;;
    *) echo "usage: see the header of $0" >&2; exit 2 ;;
  esac
done
die() { echo "run_bigstore_bench.sh: $*" >&2; exit 1; }
CKPT=$(realpath "$BUILD/tools/ckpt")
GEN=$(realpath "$BUILD/bench/bigstore/ckpt_bench_bigstore")
[[ -x $CKPT && -x $GEN ]] || die "build the ckpt and ckpt_bench_bigstore targets in $BUILD"
if [[ -z $DIR ]]; then
  DIR=$(mktemp -d "${TMPDIR:-/tmp}/ckpt-bigstore.XXXXXX")
  ((KEEP)) || trap 'rm -rf "$DIR"' EXIT
fi
mkdir -p "$DIR"

# ms CMD...: wall milliseconds of CMD (output discarded).
ms() {
  local t0 t1
  t0=$(date +%s%N)
  "$@" >/dev/null
  t1=$(date +%s%N)
  echo $(((t1 - t0) / 1000000))
}
# five CMD...: "median worst" of 5 runs of CMD, in ms.
five() {
  local v=() i
  for i in 1 2 3 4 5; do v+=("$(ms "$@")"); done
  printf '%s\n' "${v[@]}" | sort -n | awk '{a[NR]=$1} END{print a[3], a[5]}'
}
# timed NAME CMD...: wall seconds and peak RSS MiB of CMD into S[NAME], M[NAME].
declare -A S M
timed() {
  local name=$1
  shift
  /usr/bin/time -f "%e %M" -o "$DIR/time.txt" "$@" >"$DIR/$name.out" 2>&1 || die "failed: $* (see $DIR/$name.out)"
  read -r S[$name] M[$name] <"$DIR/time.txt"
  M[$name]=$((M[$name] / 1024))
}

MACHINE="$(lscpu | awk -F: '/^Model name/{gsub(/^ +/,"",$2); print $2; exit}'), $(nproc) cores, $(awk '/^MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo) RAM, $(df -PT "$DIR" | awk 'NR==2{print $2}'), $(uname -r)"
ROWS=() NOTES=()
IFS=, read -ra SIZE_LIST <<<"$SIZES"
declare -A V
# First every store's read-only and API timings, then verify and gc on each:
# gc's deletions (and the file system's discards) would otherwise still run
# beside the next store's timings.
for size in "${SIZE_LIST[@]}"; do
  checkpoints=$((size / 2000))
  runs=$(((checkpoints + 99) / 100))
  store=$DIR/store-$size
  echo "== $size chunks: $checkpoints checkpoints in $runs runs ($store)"
  t0=$(date +%s)
  "$GEN" generate "$store" --runs "$runs" --checkpoints "$checkpoints" --chunks "$size" --jobs 2 |
    tail -1
  echo "generated in $(($(date +%s) - t0)) s (0 when resumed complete)"
  sync
  run=$(printf 'run-%03d' $((runs / 2)))
  step=$(((checkpoints / runs / 2) * 100))
  ref="$run@$step"
  V[$size]="$(five "$CKPT" --store "$store" log "$run")"
  V[$size]+=" $(five "$CKPT" --store "$store" log)"
  V[$size]+=" $(five "$CKPT" --store "$store" show "$ref")"
  V[$size]+=" $(five "$CKPT" --store "$store" ls "$ref")"
  # Two series of 200 saves: the first pays what compaction the generator
  # left behind (it saves far faster than a trainer does), the second is
  # the steady state.
  "$GEN" time "$store" --saves 200 | tee "$DIR/api-$size.md"
  "$GEN" time "$store" --saves 200 | tee "$DIR/api2-$size.md"
done
for size in "${SIZE_LIST[@]}"; do
  checkpoints=$((size / 2000))
  store=$DIR/store-$size
  read -r log1 log1w logall logallw show showw ls lsw <<<"${V[$size]}"
  api() { awk -F'|' -v k="$1" 'index($2, k) {for (i = 3; i <= 5; i++) gsub(/ ms| /, "", $i); print $3, $4, $5}' "$DIR/${2:-api}-$size.md"; }
  read -r open _ openw < <(api "open the store")
  read -r load _ loadw < <(api "load one tensor")
  read -r save save95 savew < <(api "save a small checkpoint")
  read -r steady steady95 steadyw < <(api "save a small checkpoint" api2)
  timed verify "$CKPT" --store "$store" verify
  index_mib=$(du -sm "$store/index" | cut -f1)
  store_mib=$(du -sm "$store" | cut -f1)
  # gc on a copy: the kept store stays whole for another measurement.
  rm -rf "$store.gc"
  cp -a "$store" "$store.gc"
  sync
  timed gc "$CKPT" --store "$store.gc" gc --keep-last 5 --grace 0s --json
  read -r packs bytes < <(/usr/bin/python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(r["packs_deleted"], r["bytes_deleted"])' "$DIR/gc.out")
  NOTES+=("- $size chunks: gc removed $(/usr/bin/python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(r["checkpoints_removed"], "checkpoints; steps (s):", ", ".join("%s %.2f" % (k, v) for k, v in sorted(r["step_seconds"].items(), key=lambda kv: "plan remove mark sweep repack delete compact unlink".split().index(kv[0]))))' "$DIR/gc.out")")
  rm -rf "$store.gc"
  # The floor: as many files of the same mean size, unlinked by 8 processes.
  floor=$DIR/floor
  rm -rf "$floor"
  /usr/bin/python3 bench/floor_files.py "$floor" "$packs" "$bytes"
  sync
  timed floor bash -c "find '$floor' -type f -print0 | xargs -0 -P 8 -n 16 rm"
  rm -rf "$floor"
  ROWS+=("| $size | $checkpoints | $store_mib MiB ($index_mib MiB index) | $open ($openw) | $log1 ($log1w) | $logall ($logallw) | $show ($showw) | $ls ($lsw) | $load ($loadw) | $save ($save95; $savew) | $steady ($steady95; $steadyw) | ${S[verify]} s, ${M[verify]} MiB | ${S[gc]} s, ${M[gc]} MiB | ${S[floor]} s ($packs files) | $(awk -v a="${S[gc]}" -v b="${S[floor]}" 'BEGIN{printf "%.2f", (b > 0 ? a / b : 0)}') |")
done

{
  echo "## Big stores"
  echo
  echo "Run $(date -u +%Y-%m-%dT%H:%MZ) by \`bench/bigstore/run_bigstore_bench.sh --sizes $SIZES\` on $MACHINE; load average $(cut -d' ' -f1-3 /proc/loadavg) at the end."
  echo
  echo "Each store: 2000 new distinct 4 KiB chunks per checkpoint, 100 checkpoints per run (ckpt_bench_bigstore). Times in ms: median of 5 (worst in brackets); CLI commands are fresh processes, API operations run in one process (two series of 200 saves in a row, the worst showing what compaction a save pays: the first series right after the generator, whose compaction debt it pays, the second the steady state). gc keeps the last 5 of every run, on a copy of the store; the floor is rm of as many files of the same mean size with 8 processes."
  echo
  echo "| chunks | checkpoints | store | open (API) | log RUN | log (all) | show | ls | load one tensor (API) | small save (API), first 200: median (95th percentile; worst) | next 200 | verify | gc: time, peak RSS | rm floor | gc / floor |"
  echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
  printf '%s\n' "${ROWS[@]}"
  echo
  printf '%s\n' "${NOTES[@]}"
} | tee "$RESULTS.md"
