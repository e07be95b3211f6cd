#!/usr/bin/env bash
# gc benchmark: a store of CHECKPOINTS checkpoints and CHECKPOINTS * BLOCKS
# distinct chunks (default 200 * 5000 = 1,000,000), then "keep the last 5":
# ckpt gc against restic forget --keep-last 5 --prune on a restic repository
# holding the same files, side by side in one run. Reports wall time and
# peak RSS of each. Usage:
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
sync
ckpt_line=$(measure ckpt "$CKPT" --store "$OUT/store" gc --keep-last 5 --grace 0s --json)
sync
restic_line=$(measure restic restic -r "$OUT/restic" forget --keep-last 5 --prune)
read -r _ ckpt_s ckpt_mib <<<"$ckpt_line"
read -r _ restic_s restic_mib <<<"$restic_line"
left=$("$CKPT" --store "$OUT/store" log --json bench | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["checkpoints"]))')
echo
echo "| tool | gc time s | peak RSS MiB |"
echo "|---|---:|---:|"
echo "| ckpt gc --keep-last 5 | $ckpt_s | $ckpt_mib |"
echo "| restic forget --keep-last 5 --prune | $restic_s | $restic_mib |"
echo "| **ckpt / restic** | **$(python3 -c "print(f'{$ckpt_s/$restic_s:.2f}')")** | |"
echo
echo "checkpoints left in ckpt: $left; store after gc: $(du -sh "$OUT/store" | cut -f1)"

# The floor both tools stand on: deleting the same number of bytes as
# plain files, with rm on 8 processes (as many unlinks in flight as ckpt
# gc has). On file systems that discard freed blocks this is most of gc.
deleted=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["bytes_deleted"])' "$OUT/ckpt.log")
files=$(( (deleted + 20971519) / 20971520 ))
mkdir -p "$OUT/floor"
head -c 20971520 /dev/urandom >"$OUT/floor/seed"
for i in $(seq 1 "$files"); do cp "$OUT/floor/seed" "$OUT/floor/f$i"; done
rm "$OUT/floor/seed"
sync
floor_line=$(measure rm bash -c "find '$OUT/floor' -type f -print0 | xargs -0 -P 8 -n 4 rm")
read -r _ floor_s _ <<<"$floor_line"
echo "deleting the same bytes as $files files of 20 MiB with rm (8 processes): $floor_s s"
