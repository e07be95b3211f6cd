#!/usr/bin/env bash
# gc benchmark: a store of CHECKPOINTS checkpoints and CHECKPOINTS * BLOCKS
# distinct chunks (default 200 * 5000 = 1,000,000), then "keep the last 5":
# ckpt gc against restic forget --keep-last 5 --prune on a restic repository
# holding the same files, side by side in one run. Reports wall time and
# peak RSS of each, beside the deletion floor (rm of as many files of the
# same mean size), and ckpt gc on a schedule (a second gc, a grace period
# after the first, deleting what the first condemned). Usage:
#   bash bench/gc/run_gc_bench.sh [--checkpoints N] [--blocks N] [--ckpt PATH] [--out DIR] [--keep]
set -euo pipefail
cd "$(dirname "$0")/../.."
CHECKPOINTS=200 BLOCKS=5000 CKPT=build/tools/ckpt OUT="" KEEP=0
while (($#)); do
  case $1 in
    --checkpoints) CHECKPOINTS=$2; shift 2 ;;
    --blocks) BLOCKS=$2; shift 2 ;;
    --ckpt) CKPT=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    --keep) KEEP=1; shift ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
CKPT=$(realpath "$CKPT")
[[ -n $OUT ]] || OUT=$(mktemp -d)
mkdir -p "$OUT"
[[ $KEEP == 1 ]] || trap 'rm -rf "$OUT"' EXIT
export RESTIC_PASSWORD=bench RESTIC_CACHE_DIR="$OUT/restic-cache"

measure() {  # measure LABEL CMD... : prints "LABEL seconds peak_rss_mib"
  local label=$1; shift
  /usr/bin/time -f "$label %e %M" -o "$OUT/time.txt" "$@" >"$OUT/$label.log" 2>&1
  awk '{printf "%s %.2f %.0f\n", $1, $2, $3 / 1024}' "$OUT/time.txt"
}

echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB RAM"
echo "tools: $("$CKPT" --version 2>/dev/null | head -1); $(restic version | head -1)"
echo "data: $CHECKPOINTS checkpoints x $BLOCKS distinct 4 KiB blocks = $((CHECKPOINTS * BLOCKS)) chunks"
python3 bench/gc/make_series.py "$OUT/data" "$CHECKPOINTS" "$BLOCKS"

"$CKPT" --store "$OUT/store" init -q --chunk-size 4096
restic init -q --repository-version 2 -r "$OUT/restic" >/dev/null
mkdir -p "$OUT/stage"
for k in $(seq 1 "$CHECKPOINTS"); do
  "$CKPT" --store "$OUT/store" import -q "$OUT/data/ckpt-$k.safetensors" --run bench --step "$k" >/dev/null
  cp "$OUT/data/ckpt-$k.safetensors" "$OUT/stage/model.safetensors"
  restic -q -r "$OUT/restic" backup "$OUT/stage" >/dev/null
  rm -f "$OUT/data/ckpt-$k.safetensors"
done
chunks=$("$CKPT" --store "$OUT/store" stats --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["chunks"])')
echo "ckpt store: $chunks chunks, $(du -sh "$OUT/store" | cut -f1); restic repository: $(du -sh "$OUT/restic" | cut -f1)"
# The floor both tools stand on: unlinking as many files of the same mean
# size as gc deleted, with rm on 8 processes (as many unlinks in flight as
# ckpt gc has). On file systems that discard freed blocks this is most of gc.
floor() {  # floor JSON: prints the seconds rm took
  local n b
  read -r n b < <(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(r["packs_deleted"], r["bytes_deleted"])' "$1")
  rm -rf "$OUT/floor"
  /usr/bin/python3 bench/floor_files.py "$OUT/floor" "$n" "$b"
  sync
  measure rm bash -c "find '$OUT/floor' -type f -print0 | xargs -0 -P 8 -n 16 rm" | cut -d' ' -f2
}

# A copy for the scheduled case below, made before gc changes the store.
cp -a "$OUT/store" "$OUT/store2"
sync
ckpt_line=$(measure ckpt "$CKPT" --store "$OUT/store" gc --keep-last 5 --grace 0s --json)
sync
restic_line=$(measure restic restic -r "$OUT/restic" forget --keep-last 5 --prune)
read -r _ ckpt_s ckpt_mib <<<"$ckpt_line"
read -r _ restic_s restic_mib <<<"$restic_line"
left=$("$CKPT" --store "$OUT/store" log --json bench | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["checkpoints"]))')
floor_s=$(floor "$OUT/ckpt.log")
steps=$(python3 -c 'import json,sys; print(", ".join("%s %.2f" % (k, v) for k, v in sorted(json.load(open(sys.argv[1]))["step_seconds"].items(), key=lambda kv: "plan remove mark sweep repack delete compact unlink".split().index(kv[0]))))' "$OUT/ckpt.log")

# gc on a schedule: the first gc (keep the last 100) condemns packs, the
# second (keep the last 5), a grace period later, deletes them while it
# removes 95 more checkpoints and condemns their packs.
"$CKPT" --store "$OUT/store2" gc --keep-last 100 --grace 15s --json >/dev/null
sleep 16
sched_line=$(measure ckpt2 "$CKPT" --store "$OUT/store2" gc --keep-last 5 --grace 15s --json)
read -r _ sched_s sched_mib <<<"$sched_line"
sched_floor_s=$(floor "$OUT/ckpt2.log")
sched_steps=$(python3 -c 'import json,sys; print(", ".join("%s %.2f" % (k, v) for k, v in sorted(json.load(open(sys.argv[1]))["step_seconds"].items(), key=lambda kv: "plan remove mark sweep repack delete compact unlink".split().index(kv[0]))))' "$OUT/ckpt2.log")

ratio() { python3 -c "print(f'{$1/$2:.2f}')"; }
echo
echo "| | gc time s | peak RSS MiB | rm floor s | / floor |"
echo "|---|---:|---:|---:|---:|"
echo "| ckpt gc --keep-last 5 --grace 0s | $ckpt_s | $ckpt_mib | $floor_s | $(ratio "$ckpt_s" "$floor_s") |"
echo "| restic forget --keep-last 5 --prune | $restic_s | $restic_mib | $floor_s | $(ratio "$restic_s" "$floor_s") |"
echo "| ckpt gc on a schedule (deletes what the previous gc condemned) | $sched_s | $sched_mib | $sched_floor_s | $(ratio "$sched_s" "$sched_floor_s") |"
echo
echo "ckpt / restic: $(ratio "$ckpt_s" "$restic_s"); checkpoints left in ckpt: $left; store after gc: $(du -sh "$OUT/store" | cut -f1)"
echo "ckpt steps (s): $steps"
echo "scheduled gc steps (s): $sched_steps"
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
