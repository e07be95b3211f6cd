#!/usr/bin/env bash
# Reading old checkpoints through a mount: `ckpt mount` against restic's and
# borg's own `mount`, on the same series of checkpoints, in the same run.
#
#   bash bench/run_mount_bench.sh [--size-mb MB] [--scenario NAME] [--reps N]
#                                 [--ckpt PATH] [--gen PATH] [--results PREFIX]
#
# Each tool stores the six checkpoints of one bench scenario (bench/gen, as
# run_bench.sh). Then, REPS times with the tools taking turns, each from a
# fresh mount with the page cache dropped (cold):
#   one tensor   the byte range of checkpoint 6's largest tensor, read from
#                its model.safetensors through the mount (dd, 1 MiB blocks);
#                for ckpt also the tensor's own .npy file
#   whole file   all of checkpoint 6's model.safetensors through the mount
#   export       `ckpt export` of checkpoint 6 to a file (the way without a
#                mount), and a plain `cat` of the original file (the floor)
# Medians are reported, with ckpt's ratios. Needs root (drop_caches) and
# FUSE; restic, borg and pyfuse3 from CKPT_SETUP_BENCH=1 bash scripts/setup.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE_MB=200 SCENARIO=finetune REPS=3 CKPT=build/tools/ckpt GEN=build/bench/gen/ckpt_bench_gen
RESULTS=bench/results/mount-latest
while (($#)); do
  case $1 in
    --size-mb) SIZE_MB=$2; shift 2 ;;
    --scenario) SCENARIO=$2; shift 2 ;;
    --reps) REPS=$2; shift 2 ;;
    --ckpt) CKPT=$2; shift 2 ;;
    --gen) GEN=$2; shift 2 ;;
    --results) RESULTS=$2; shift 2 ;;
    *) echo "usage: see the header of $0" >&2; exit 2 ;;
  esac
done
die() { echo "run_mount_bench.sh: $*" >&2; exit 1; }
[[ $(id -u) == 0 ]] || die "needs root to drop the page cache"
[[ -e /dev/fuse ]] || die "needs /dev/fuse"
for c in restic borg fusermount3 dd /usr/bin/python3; do command -v $c >/dev/null || die "$c missing"; done
CKPT=$(realpath "$CKPT"); GEN=$(realpath "$GEN")

OUT=$(mktemp -d "${TMPDIR:-/tmp}/ckpt-mount-bench.XXXXXX")
LOG=$OUT/log.txt
MNT=$OUT/mnt
mkdir -p "$MNT"
cleanup() {
  mountpoint -q "$MNT" && fusermount3 -uz "$MNT"
  rm -rf "$OUT"
}
trap cleanup EXIT
export RESTIC_PASSWORD=ckpt-bench RESTIC_CACHE_DIR=$OUT/home/restic-cache
export BORG_BASE_DIR=$OUT/home/borg BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK=yes
quiet() { echo "+ $*" >>"$LOG"; "$@" >>"$LOG" 2>&1 || { tail -n 20 "$LOG" >&2; die "failed: $*"; }; }
now() { date +%s.%N; }
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END{if(NR%2)print v[(NR+1)/2]; else printf "%.3f\n",(v[NR/2]+v[NR/2+1])/2}'; }
div() { awk -v a="$1" -v b="$2" 'BEGIN{if(b>0)printf "%.2f", a/b; else printf "n/a"}'; }
mib() { awk -v a="$1" 'BEGIN{printf "%.1f", a/1048576}'; }
drop_caches() { sync; echo 3 >/proc/sys/vm/drop_caches; }
# timed CMD...: wall seconds of CMD on stdout, its output to the log.
timed() {
  local t0 t1
  echo "+ $*" >>"$LOG"
  t0=$(now)
  "$@" >>"$LOG" 2>&1 || { tail -n 20 "$LOG" >&2; die "failed: $*"; }
  t1=$(now)
  awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.3f", b-a}'
}
read_range() { dd if="$1" of=/dev/null bs=1M iflag=skip_bytes,count_bytes skip="$2" count="$3" status=none; }

echo "== machine"
echo "cpu:    $(lscpu | awk -F: '/^Model name/{gsub(/^ +/,"",$2); print $2; exit}'), $(nproc) cores"
echo "ram:    $(awk '/^MemTotal/{printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
echo "disk:   $(df -PT "$OUT" | awk 'NR==2{print $2" ("$1")"}'); kernel $(uname -r)"
echo "tools:  $("$CKPT" --version | head -n 1); $(restic version | head -n 1); $(borg --version)"

"$GEN" --out "$OUT/data" --size-mb "$SIZE_MB" --scenarios "$SCENARIO" >"$OUT/gen.txt" ||
  die "ckpt_bench_gen failed"
SIX=$OUT/data/$SCENARIO/ckpt-6.safetensors
# The largest tensor of checkpoint 6: its name and byte range in the file.
read -r TENSOR BEGIN LENGTH < <(/usr/bin/python3 - "$SIX" <<'PY'
import json, struct, sys
with open(sys.argv[1], "rb") as f:
    n = struct.unpack("<Q", f.read(8))[0]
    header = json.loads(f.read(n))
header.pop("__metadata__", None)
name, e = max(header.items(), key=lambda kv: kv[1]["data_offsets"][1] - kv[1]["data_offsets"][0])
b, end = e["data_offsets"]
print(name, 8 + n + b, end - b)
PY
)
echo "== data"
echo "$SCENARIO: 6 checkpoints of $(mib "$(stat -c %s "$SIX")") MiB (bench/gen); the tensor read: $TENSOR, $(mib "$LENGTH") MiB"

STAGE=$OUT/stage
mkdir -p "$STAGE"
quiet "$CKPT" --store "$OUT/ckpt" init
quiet restic -r "$OUT/restic" init --repository-version 2
quiet borg init --encryption none "$OUT/borg"
for k in 1 2 3 4 5 6; do
  ln -f "$OUT/data/$SCENARIO/ckpt-$k.safetensors" "$STAGE/model.safetensors"
  quiet "$CKPT" -q --store "$OUT/ckpt" import "$STAGE/model.safetensors" --run "$SCENARIO" --step "$k"
  quiet restic -r "$OUT/restic" --compression auto backup -q --host bench "$STAGE/model.safetensors"
  quiet env -C "$STAGE" borg create --compression zstd,3 "$OUT/borg::ckpt-$k" model.safetensors
done

# mount TOOL: mounts TOOL's repository at $MNT; sets FILE to checkpoint 6.
RESTIC_PID=
mount_tool() {
  case $1 in
    ckpt) quiet "$CKPT" -q --store "$OUT/ckpt" mount "$MNT" --background
          FILE=$MNT/runs/$SCENARIO/6/model.safetensors ;;
    restic) restic -r "$OUT/restic" mount "$MNT" >>"$LOG" 2>&1 &
            RESTIC_PID=$!
            FILE=$MNT/snapshots/latest$STAGE/model.safetensors ;;
    borg) quiet borg mount "$OUT/borg::ckpt-6" "$MNT"
          FILE=$MNT/model.safetensors ;;
  esac
  for _ in $(seq 600); do [[ -e $FILE ]] && return; sleep 0.1; done
  die "$1 mount did not show $FILE"
}
unmount_tool() {
  fusermount3 -u "$MNT"
  [[ -n $RESTIC_PID ]] && { wait "$RESTIC_PID" || true; RESTIC_PID=; }
  for _ in $(seq 100); do mountpoint -q "$MNT" || return 0; sleep 0.1; done
  die "$MNT still mounted"
}

declare -A T
for ((rep = 1; rep <= REPS; rep++)); do
  for t in ckpt restic borg; do
    mount_tool $t; drop_caches
    T[$t.tensor]+=" $(timed read_range "$FILE" "$BEGIN" "$LENGTH")"
    unmount_tool
    mount_tool $t; drop_caches
    T[$t.whole]+=" $(timed cat "$FILE")"
    cmp -s "$FILE" "$SIX" || die "$t mount: checkpoint 6 differs from the original"
    if [[ $t == ckpt ]]; then
      unmount_tool; mount_tool ckpt; drop_caches
      T[ckpt.npy]+=" $(timed cat "$MNT/runs/$SCENARIO/6/tensors/$TENSOR.npy")"
    fi
    unmount_tool
  done
  rm -f "$OUT/export.safetensors"; drop_caches
  T[export]+=" $(timed "$CKPT" -q --store "$OUT/ckpt" export "$SCENARIO@6" -o "$OUT/export.safetensors")"
  drop_caches
  T[cat]+=" $(timed cat "$SIX")"
done
for k in "${!T[@]}"; do
  # shellcheck disable=SC2086
  T[$k]=$(median ${T[$k]})
done

{
  echo "| read of checkpoint 6 (cold: fresh mount, page cache dropped) | ckpt | restic | borg | ckpt / restic | ckpt / borg |"
  echo "|---|---|---|---|---|---|"
  echo "| one tensor ($(mib "$LENGTH") MiB) from model.safetensors | ${T[ckpt.tensor]} s | ${T[restic.tensor]} s | ${T[borg.tensor]} s | $(div "${T[ckpt.tensor]}" "${T[restic.tensor]}") | $(div "${T[ckpt.tensor]}" "${T[borg.tensor]}") |"
  echo "| the same tensor as tensors/NAME.npy | ${T[ckpt.npy]} s | | | | |"
  echo "| whole model.safetensors ($(mib "$(stat -c %s "$SIX")") MiB) | ${T[ckpt.whole]} s | ${T[restic.whole]} s | ${T[borg.whole]} s | $(div "${T[ckpt.whole]}" "${T[restic.whole]}") | $(div "${T[ckpt.whole]}" "${T[borg.whole]}") |"
  echo
  echo "Without a mount: \`ckpt export\` of checkpoint 6 ${T[export]} s (one tensor through the mount: $(div "${T[ckpt.tensor]}" "${T[export]}")x of it; the whole file: $(div "${T[ckpt.whole]}" "${T[export]}")x); \`cat\` of the original file, cold: ${T[cat]} s."
  echo "Medians of $REPS runs, the tools taking turns."
} | tee "$OUT/table.md"
{
  echo "# ckpt mount against restic mount and borg mount"
  echo
  echo "Machine: $(lscpu | awk -F: '/^Model name/{gsub(/^ +/,"",$2); print $2; exit}'), $(nproc) cores, $(awk '/^MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo) RAM, $(df -PT "$OUT" | awk 'NR==2{print $2}'). Data: bench scenario \`$SCENARIO\`, 6 checkpoints of $(mib "$(stat -c %s "$SIX")") MiB; tensor $TENSOR. Run: \`bash bench/run_mount_bench.sh --size-mb $SIZE_MB --scenario $SCENARIO --reps $REPS\`."
  echo
  cat "$OUT/table.md"
} >"$RESULTS.md"
echo "results: $RESULTS.md"
