#!/usr/bin/env bash
# Checkpoints bigger than memory: import and export of one safetensors file
# several times larger than the memory the process may use, and a Save and
# Load of the same bytes through the C++ API (bench/big/big_io.cc), each in
# a memory-limited cgroup, beside cp and `zstd -T0 -3` of the same file under
# the same limit, in the same run.
#
#   bash bench/big/run_big_bench.sh [--gib N] [--limit-gib N] [--reps N]
#                                   [--ckpt PATH] [--results PREFIX]
#
# Defaults: a 12 GiB file, a 2 GiB limit, 3 repetitions (medians). Needs
# root (cgroups, drop_caches) and 3 x N GiB of free disk in $TMPDIR. For
# each command: wall time, and peak anonymous memory (RssAnon of the
# process, sampled every 50 ms: heap and stacks, not the page cache, which
# the cgroup limits and the kernel reclaims), and the cgroup's peak usage.
set -euo pipefail
cd "$(dirname "$0")/../.."
GIB=12 LIMIT_GIB=2 REPS=3 CKPT=build/tools/ckpt RESULTS=bench/results/big-latest
while (($#)); do
  case $1 in
    --gib) GIB=$2; shift 2 ;;
    --limit-gib) LIMIT_GIB=$2; shift 2 ;;
    --reps) REPS=$2; shift 2 ;;
    --ckpt) CKPT=$2; shift 2 ;;
    --results) RESULTS=$2; shift 2 ;;
    *) echo "usage: see the header of $0" >&2; exit 2 ;;
  esac
done
die() { echo "run_big_bench.sh: $*" >&2; exit 1; }
[[ $(id -u) == 0 ]] || die "needs root (cgroups, drop_caches)"
CKPT=$(realpath "$CKPT")
IO=$(dirname "$CKPT")/../bench/big/ckpt_bench_big_io
[[ -x $IO ]] || die "no $IO: build the ckpt_bench_big_io target"
command -v zstd >/dev/null || die "zstd missing: CKPT_SETUP_BENCH=1 bash scripts/setup.sh"

OUT=$(mktemp -d "${TMPDIR:-/tmp}/ckpt-big-bench.XXXXXX")
trap 'rm -rf "$OUT"' EXIT
LIMIT=$((LIMIT_GIB << 30))

# A memory cgroup of LIMIT bytes (v2 if mounted as such, else v1).
if [[ -f /sys/fs/cgroup/cgroup.controllers ]]; then
  CG_ROOT=/sys/fs/cgroup CG_V=2
else
  CG_ROOT=/sys/fs/cgroup/memory CG_V=1
  [[ -d $CG_ROOT ]] || die "no memory cgroup controller"
fi
# measured NAME CMD...: runs CMD in a fresh cgroup with the page cache
# dropped; sets T[NAME.i], A[NAME] (max peak anon MiB), C[NAME] (cgroup peak MiB).
declare -A T A C
measured() {
  local name=$1 cg t0 t1 pid peak=0 a usage
  shift
  cg=$CG_ROOT/ckpt-big-bench-$$
  mkdir "$cg"
  if ((CG_V == 2)); then echo "$LIMIT" >"$cg/memory.max"; else echo "$LIMIT" >"$cg/memory.limit_in_bytes"; fi
  sync; echo 3 >/proc/sys/vm/drop_caches
  t0=$(date +%s.%N)
  (echo "$BASHPID" >"$cg/cgroup.procs"; exec "$@" >>"$OUT/log.txt" 2>&1) &
  pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    a=$(awk '/^RssAnon/{print $2}' "/proc/$pid/status" 2>/dev/null || true)
    [[ -n $a && $a -gt $peak ]] && peak=$a
    sleep 0.05
  done
  wait "$pid" || die "failed: $* (see $OUT/log.txt)"
  t1=$(date +%s.%N)
  if ((CG_V == 2)); then usage=$(cat "$cg/memory.peak" 2>/dev/null || echo 0); else usage=$(cat "$cg/memory.max_usage_in_bytes"); fi
  rmdir "$cg"
  T[$name]+=" $(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.2f", b-a}')"
  A[$name]=$(((peak / 1024) > ${A[$name]:-0} ? peak / 1024 : ${A[$name]:-0}))
  C[$name]=$(((usage >> 20) > ${C[$name]:-0} ? usage >> 20 : ${C[$name]:-0}))
}
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END{if(NR%2)print v[(NR+1)/2]; else printf "%.2f\n",(v[NR/2]+v[NR/2+1])/2}'; }
div() { awk -v a="$1" -v b="$2" 'BEGIN{if(b>0)printf "%.2f", a/b; else printf "n/a"}'; }

MACHINE="$(lscpu | awk -F: '/^Model name/{gsub(/^ +/,"",$2); print $2; exit}'), $(nproc) cores, $(awk '/^MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo) RAM, $(df -PT "$OUT" | awk 'NR==2{print $2}'), kernel $(uname -r), cgroup v$CG_V"
echo "machine: $MACHINE"
FILE=$OUT/big.safetensors
/usr/bin/python3 bench/big/make_big_file.py "$FILE" "$GIB"
echo "data: $GIB GiB safetensors file of unique random float32 (48 tensors); memory limit $LIMIT_GIB GiB"

LOAD_START=$(cut -d" " -f1-3 /proc/loadavg)
for ((rep = 1; rep <= REPS; rep++)); do
  rm -rf "$OUT/store" "$OUT/copy" "$OUT/export" "$OUT/api.out" "$OUT/big.zst"
  "$CKPT" --store "$OUT/store" init -q
  measured cp cp "$FILE" "$OUT/copy"
  rm -f "$OUT/copy"
  measured zstd zstd -q -T0 -3 "$FILE" -o "$OUT/big.zst"
  rm -f "$OUT/big.zst"
  measured import "$CKPT" -q --store "$OUT/store" import "$FILE" --run big --step 1
  measured export "$CKPT" -q --store "$OUT/store" export big@1 -o "$OUT/export"
  cmp -s "$FILE" "$OUT/export" || die "export differs from the imported file"
  rm -f "$OUT/export"
  measured api_save "$IO" save "$OUT/store" "$FILE" api 1
  measured api_load "$IO" load "$OUT/store" api@1 "$OUT/api.out"
  cmp -s "$FILE" "$OUT/api.out" || die "API load differs from the saved file"
  rm -f "$OUT/api.out"
done
for k in "${!T[@]}"; do
  # shellcheck disable=SC2086
  T[$k]=$(median ${T[$k]})
done

{
  echo "# Checkpoints bigger than memory"
  echo
  echo "Machine: $MACHINE. Data: one $GIB GiB safetensors file of unique random float32 values (bench/big/make_big_file.py). Every command runs in a fresh memory cgroup limited to $LIMIT_GIB GiB, with the page cache dropped first; medians of $REPS runs. Run $(date -u +%Y-%m-%dT%H:%MZ): \`bash bench/big/run_big_bench.sh --gib $GIB --limit-gib $LIMIT_GIB --reps $REPS\`; load average $LOAD_START at the start, $(cut -d" " -f1-3 /proc/loadavg) at the end."
  echo
  echo "| command | time | / cp | peak anonymous memory | cgroup peak |"
  echo "|---|---|---|---|---|"
  for k in cp zstd import export api_save api_load; do
    case $k in
      cp) label="cp of the file" ;;
      zstd) label="zstd -T0 -3 of the file" ;;
      import) label="ckpt import" ;;
      export) label="ckpt export (byte-identical)" ;;
      api_save) label="Store::Save from a read-only file mapping" ;;
      api_load) label="CheckpointReader::ReadEntries into a shared file mapping" ;;
    esac
    echo "| $label | ${T[$k]} s | $(div "${T[$k]}" "${T[cp]}") | ${A[$k]} MiB | ${C[$k]} MiB |"
  done
} | tee "$RESULTS.md"
