#!/usr/bin/env bash
# Benchmarks ckpt's core store against restic and borgbackup on the same
# machine, the same data and in the same run.
#
# For each scenario of ckpt_bench_gen (6 checkpoints of a training run), every
# tool stores the 6 files one after another into a fresh repository, each
# checkpoint its own snapshot/archive/import of the "same" file
# (STAGE/model.safetensors, replaced by each new checkpoint as a trainer would
# replace it). Measured per scenario and tool: bytes of the repository after
# all 6 (du -sb), wall time of the incremental saves 2..6 (median), wall time
# to restore checkpoint 6, and that the restored file is byte-identical (cmp).
#
#   bash bench/run_bench.sh [--scale F] [--size-mb MB] [--scenarios a,b]
#        [--tools ckpt,restic,borg] [--ckpt PATH] [--gen PATH] [--out DIR]
#        [--keep] [--results PREFIX]
#
# See bench/README.md.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
SCALE=1
SIZE_MB=200
SCENARIOS=dense,finetune,frozen,embedding,bf16
TOOLS=ckpt,restic,borg
CKPT=$ROOT/build/tools/ckpt
GEN=
OUT=
KEEP=0
RESULTS=$ROOT/bench/results/latest
SEED=1
RESTORE_REPS=5

usage() {
  sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'
  cat <<EOF
Options:
  --scale F          multiply the checkpoint size by F (default 1; 0.1 = quick run)
  --size-mb MB       checkpoint size before scaling (default 200; dense is twice it)
  --scenarios LIST   comma-separated subset of: dense,finetune,frozen,embedding,bf16
  --tools LIST       comma-separated subset of: ckpt,restic,borg (default all)
  --ckpt PATH        the ckpt CLI (default build/tools/ckpt of this checkout)
  --gen PATH         ckpt_bench_gen (default: next to the CLI's build tree)
  --out DIR          work directory (default: a new temporary directory)
  --keep             keep the work directory (data, stores, restores, logs)
  --results PREFIX   write PREFIX.md and PREFIX.json (default bench/results/latest)
  --seed N           data seed (default 1)
  --restore-reps N   time each restore N times, tools taking turns; report the median (default 5)
EOF
}

while (($#)); do
  case "$1" in
    --scale) SCALE=$2; shift 2 ;;
    --size-mb) SIZE_MB=$2; shift 2 ;;
    --scenarios) SCENARIOS=$2; shift 2 ;;
    --tools) TOOLS=$2; shift 2 ;;
    --ckpt) CKPT=$2; shift 2 ;;
    --gen) GEN=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    --keep) KEEP=1; shift ;;
    --results) RESULTS=$2; shift 2 ;;
    --seed) SEED=$2; shift 2 ;;
    --restore-reps) RESTORE_REPS=$2; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "run_bench.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
  esac
done

die() { echo "run_bench.sh: $*" >&2; exit 1; }
has_tool() { [[ ",$TOOLS," == *",$1,"* ]]; }

# ---- tools ------------------------------------------------------------------
IFS=, read -r -a TOOL_LIST <<<"$TOOLS"
for t in "${TOOL_LIST[@]}"; do
  case "$t" in ckpt|restic|borg) ;; *) die "unknown tool '$t' (ckpt, restic, borg)" ;; esac
done
if has_tool ckpt; then
  [[ -x $CKPT ]] || die "no ckpt CLI at $CKPT (build it: bash scripts/build.sh, or pass --ckpt)"
  CKPT=$(cd "$(dirname "$CKPT")" && pwd)/$(basename "$CKPT")
fi
if [[ -z $GEN ]]; then
  GEN=$(dirname "$CKPT")/../bench/gen/ckpt_bench_gen
fi
[[ -x $GEN ]] || die "no ckpt_bench_gen at $GEN (build the ckpt_bench_gen target, or pass --gen)"
GEN=$(cd "$(dirname "$GEN")" && pwd)/$(basename "$GEN")
has_tool restic && { command -v restic >/dev/null || die "restic missing: CKPT_SETUP_BENCH=1 bash scripts/setup.sh"; }
has_tool borg && { command -v borg >/dev/null || die "borg missing: CKPT_SETUP_BENCH=1 bash scripts/setup.sh"; }
for c in cmp du awk sort sync; do command -v $c >/dev/null || die "$c missing"; done
HAVE_TIME=0
[[ -x /usr/bin/time ]] && HAVE_TIME=1

# ---- work directory -----------------------------------------------------------
if [[ -z $OUT ]]; then
  OUT=$(mktemp -d "${TMPDIR:-/tmp}/ckpt-bench.XXXXXX")
else
  mkdir -p "$OUT"
  [[ -z $(ls -A "$OUT") ]] || die "--out $OUT is not empty"
fi
OUT=$(cd "$OUT" && pwd)
cleanup() {
  if ((KEEP)); then echo "work directory kept: $OUT"; else rm -rf "$OUT"; fi
}
trap cleanup EXIT
LOG=$OUT/log.txt
: >"$LOG"

# Keep the peers' caches and configs inside the work directory (not in $HOME,
# not counted as stored bytes: both tools keep them outside the repository).
export RESTIC_PASSWORD=ckpt-bench
export RESTIC_CACHE_DIR=$OUT/home/restic-cache
export BORG_BASE_DIR=$OUT/home/borg
export BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK=yes
export BORG_RELOCATED_REPO_ACCESS_IS_OK=yes

now() { date +%s.%N; }
# timed NAME CMD...: runs CMD (output to the log), sets T_NAME to its wall
# seconds and RSS_NAME to its peak resident set in KiB (0 if unknown).
timed() {
  local name=$1 t0 t1 rss=0
  shift
  echo "+ $*" >>"$LOG"
  t0=$(now)
  if ((HAVE_TIME)); then
    /usr/bin/time -f %M -o "$OUT/time.out" "$@" >>"$LOG" 2>&1 || {
      tail -n 30 "$LOG" >&2; die "failed: $*"; }
    rss=$(tail -n 1 "$OUT/time.out")
  else
    "$@" >>"$LOG" 2>&1 || { tail -n 30 "$LOG" >&2; die "failed: $*"; }
  fi
  t1=$(now)
  printf -v "T_$name" '%s' "$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.3f", b-a}')"
  printf -v "RSS_$name" '%s' "$rss"
}
T_save=0 RSS_save=0 T_restore=0 RSS_restore=0
quiet() { echo "+ $*" >>"$LOG"; "$@" >>"$LOG" 2>&1 || { tail -n 30 "$LOG" >&2; die "failed: $*"; }; }
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END{if(NR%2)print v[(NR+1)/2]; else printf "%.3f\n",(v[NR/2]+v[NR/2+1])/2}'; }
maxof() { printf '%s\n' "$@" | sort -g | tail -n 1; }
div() { awk -v a="$1" -v b="$2" 'BEGIN{if(b>0)printf "%.2f", a/b; else printf "n/a"}'; }
mib() { awk -v a="$1" 'BEGIN{printf "%.1f", a/1048576}'; }

# ---- machine and versions -------------------------------------------------------
CPU=$(lscpu 2>/dev/null | awk -F: '/^Model name/{gsub(/^ +/,"",$2); print $2; exit}')
CORES=$(nproc)
RAM_KIB=$(awk '/^MemTotal/{print $2}' /proc/meminfo)
FS=$(df -PT "$OUT" | awk 'NR==2{print $2" ("$1")"}')
KERNEL=$(uname -r)
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
# shellcheck source=/dev/null
OS=$( (. /etc/os-release 2>/dev/null && echo "$PRETTY_NAME") || echo unknown)
V_CKPT=n/a; V_RESTIC=n/a; V_BORG=n/a
has_tool ckpt && V_CKPT=$("$CKPT" --version 2>/dev/null | head -n 1 || echo unknown)
has_tool restic && V_RESTIC=$(restic version | head -n 1)
has_tool borg && V_BORG=$(borg --version | head -n 1)
V_ZSTD=$(zstd --version 2>/dev/null | head -n 1 || echo n/a)

echo "== machine"
echo "cpu:    $CPU, $CORES cores"
echo "ram:    $(mib $((RAM_KIB * 1024))) MiB"
echo "disk:   $FS (work directory $OUT)"
echo "kernel: $KERNEL; $OS"
echo "load:   $LOAD_START (1, 5, 15 min; other work on the machine skews timings)"
echo "== versions"
echo "ckpt:   $V_CKPT"
echo "restic: $V_RESTIC (repository version 2, --compression auto)"
echo "borg:   $V_BORG (--encryption none, --compression zstd,3)"
echo "zstd:   $V_ZSTD (data description only)"
echo "== data"

# ---- data ---------------------------------------------------------------------------
"$GEN" --out "$OUT/data" --size-mb "$SIZE_MB" --scale "$SCALE" --scenarios "$SCENARIOS" \
  --seed "$SEED" >"$OUT/gen.txt" || die "ckpt_bench_gen failed"
grep -v '^summary' "$OUT/gen.txt" >>"$LOG"
sync
declare -A D
IFS=, read -r -a SC_LIST <<<"$SCENARIOS"
for sc in "${SC_LIST[@]}"; do
  line=$(grep "^summary scenario=$sc " "$OUT/gen.txt") || die "no data for scenario $sc"
  for kv in ${line#summary }; do D[$sc.${kv%%=*}]=${kv#*=}; done
  logical=0
  for k in 1 2 3 4 5 6; do logical=$((logical + $(stat -c %s "$OUT/data/$sc/ckpt-$k.safetensors"))); done
  D[$sc.logical]=$logical
  D[$sc.zstd]=n/a
  if command -v zstd >/dev/null; then
    D[$sc.zstd]=$(zstd -3 -T"$CORES" -c "$OUT/data/$sc/ckpt-6.safetensors" | wc -c)
  fi
  printf '%-9s 6 files x %s MiB (%s tensors), %s MiB in all; from one checkpoint to the next:\n' \
    "$sc" "$(mib "${D[$sc.bytes_per_file]}")" "${D[$sc.tensors]}" "$(mib "$logical")"
  printf '          %s%% of bytes change; %s%% of bytes lie in unchanged 4 KiB chunks, %s%% in unchanged 256 KiB chunks; zstd -3 of one file: %s%% of its size\n' \
    "${D[$sc.changed_bytes_pct]}" "${D[$sc.same_4k_pct]}" "${D[$sc.same_256k_pct]}" \
    "$(awk -v z="${D[$sc.zstd]}" -v n="${D[$sc.bytes_per_file]}" 'BEGIN{if(z=="n/a")print "n/a"; else printf "%.1f", 100*z/n}')"
done

# ---- benchmark ---------------------------------------------------------------------------
declare -A R  # R[sc.tool.field]
for sc in "${SC_LIST[@]}"; do
  echo "== $sc" | tee -a "$LOG"
  S=$OUT/stores/$sc
  STAGE=$OUT/stage/$sc
  mkdir -p "$S" "$STAGE"
  has_tool ckpt && quiet "$CKPT" --store "$S/ckpt" init
  has_tool restic && quiet restic -r "$S/restic" init --repository-version 2
  has_tool borg && quiet borg init --encryption none "$S/borg"
  for k in 1 2 3 4 5 6; do
    # A trainer replaces its checkpoint file: same path, new inode and mtime.
    ln -f "$OUT/data/$sc/ckpt-$k.safetensors" "$STAGE/model.safetensors"
    line="  ckpt-$k:"
    for t in "${TOOL_LIST[@]}"; do
      # Every tool reads its input from the page cache: the file was written
      # minutes ago and the kernel may have dropped it since, and otherwise
      # the first tool of each round would pay the disk read for the rest.
      cat "$STAGE/model.safetensors" >/dev/null
      sync
      case $t in
        ckpt) timed save "$CKPT" -q --store "$S/ckpt" import "$STAGE/model.safetensors" \
                --run "$sc" --step "$k" ;;
        restic) timed save restic -r "$S/restic" --compression auto backup -q --host bench \
                  "$STAGE/model.safetensors" ;;
        borg) timed save env -C "$STAGE" borg create --compression zstd,3 "$S/borg::ckpt-$k" \
                model.safetensors ;;
      esac
      R[$sc.$t.save$k]=$T_save
      R[$sc.$t.rss]=$(maxof "${R[$sc.$t.rss]:-0}" "$RSS_save")
      line+=" $t ${T_save}s"
    done
    echo "$line"
  done
  rm -f "$STAGE/model.safetensors"
  want=$OUT/data/$sc/ckpt-6.safetensors
  # Restores are timed RESTORE_REPS times, the tools taking turns, into a
  # fresh directory each time; the median counts. One sample of a 200 MiB
  # write swings by 2x with the page cache's state on a small VM.
  for ((rep = 1; rep <= RESTORE_REPS; rep++)); do
    for t in "${TOOL_LIST[@]}"; do
      dst=$OUT/restore/$sc/$t
      rm -rf "$dst"
      mkdir -p "$dst"
      sync
      case $t in
        ckpt) timed restore "$CKPT" -q --store "$S/ckpt" export "$sc@6" -o "$dst/model.safetensors"
              got=$dst/model.safetensors ;;
        restic) timed restore restic -r "$S/restic" restore latest --target "$dst"
                got=$dst$STAGE/model.safetensors ;;
        borg) timed restore env -C "$dst" borg extract "$S/borg::ckpt-6"
              got=$dst/model.safetensors ;;
      esac
      R[$sc.$t.restores]+=" $T_restore"
      R[$sc.$t.restore_rss]=$(maxof "${R[$sc.$t.restore_rss]:-0}" "$RSS_restore")
      if cmp -s "$want" "$got"; then
        [[ ${R[$sc.$t.identical]:-true} == true ]] && R[$sc.$t.identical]=true
      else
        R[$sc.$t.identical]=false
      fi
    done
  done
  for t in "${TOOL_LIST[@]}"; do
    R[$sc.$t.stored]=$(du -sb "$S/$t" | cut -f1)
    # shellcheck disable=SC2086
    R[$sc.$t.restore]=$(median ${R[$sc.$t.restores]})
    T_restore=${R[$sc.$t.restore]}
    R[$sc.$t.median]=$(median "${R[$sc.$t.save2]}" "${R[$sc.$t.save3]}" "${R[$sc.$t.save4]}" \
      "${R[$sc.$t.save5]}" "${R[$sc.$t.save6]}")
    echo "  $t: stored $(mib "${R[$sc.$t.stored]}") MiB, restore ${T_restore}s, identical ${R[$sc.$t.identical]}"
    rm -rf "$dst"
  done
done

# ---- report --------------------------------------------------------------------------------
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)
FAILED=0
MD=$OUT/report.md
{
  echo "## ckpt benchmark: store, incremental save and restore of checkpoint series"
  echo
  echo "Run $(date -u +%Y-%m-%dT%H:%MZ) by \`bench/run_bench.sh --scale $SCALE --scenarios $SCENARIOS\` (checkpoints of ~$(awk -v a="$SIZE_MB" -v s="$SCALE" 'BEGIN{printf "%g", a*s}') MiB, dense twice that; seed $SEED)."
  echo
  echo "- Machine: $CPU, $CORES cores, $(mib $((RAM_KIB * 1024))) MiB RAM, $FS, Linux $KERNEL, $OS; load average $LOAD_START at start, $LOAD_END at end"
  echo "- Tools: ckpt $V_CKPT; $V_RESTIC (repository v2, compression auto); $V_BORG (no encryption, zstd,3)"
  echo "- Each tool stores the same 6 checkpoint files into a fresh repository, one save per checkpoint; stored = \`du -sb\` of the repository after all 6; save = median wall time of saves 2..6; restore = median wall time of $RESTORE_REPS restores of checkpoint 6 (tools taking turns, each into a fresh directory); every restore is checked byte-identical with \`cmp\`."
  echo "- Page cache is warm for all tools alike (dropping it needs root): each save's input file is read once before each tool's timed save; \`sync\` runs before every timed command. Save peak RSS is the largest of the 6 saves."
  echo
  echo "| scenario | data per checkpoint | changed bytes | in unchanged 4 KiB / 256 KiB chunks | zstd -3 of one file |"
  echo "|---|---:|---:|---:|---:|"
  for sc in "${SC_LIST[@]}"; do
    printf '| %s | %s MiB, %s tensors | %s%% | %s%% / %s%% | %s |\n' "$sc" "$(mib "${D[$sc.bytes_per_file]}")" \
      "${D[$sc.tensors]}" "${D[$sc.changed_bytes_pct]}" "${D[$sc.same_4k_pct]}" "${D[$sc.same_256k_pct]}" \
      "$(awk -v z="${D[$sc.zstd]}" -v n="${D[$sc.bytes_per_file]}" 'BEGIN{if(z=="n/a")print "n/a"; else printf "%.1f%%", 100*z/n}')"
  done
  echo
  echo "| scenario | tool | stored MiB | ratio to logical | median incremental save s | restore s | save peak RSS MiB | identical |"
  echo "|---|---|---:|---:|---:|---:|---:|---|"
  for sc in "${SC_LIST[@]}"; do
    for t in "${TOOL_LIST[@]}"; do
      [[ ${R[$sc.$t.identical]} == true ]] || FAILED=1
      printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "$sc" "$t" "$(mib "${R[$sc.$t.stored]}")" \
        "$(div "${R[$sc.$t.stored]}" "${D[$sc.logical]}")" "${R[$sc.$t.median]}" "${R[$sc.$t.restore]}" \
        "$(awk -v k="${R[$sc.$t.rss]}" 'BEGIN{printf "%.0f", k/1024}')" "${R[$sc.$t.identical]}"
    done
    if has_tool ckpt && { has_tool restic || has_tool borg; }; then
      best() {  # best FIELD: smallest value among the peers that ran
        local v=() t
        for t in restic borg; do has_tool $t && v+=("${R[$sc.$t.$1]}"); done
        printf '%s\n' "${v[@]}" | sort -g | head -n 1
      }
      R[$sc.ratio.stored]=$(div "${R[$sc.ckpt.stored]}" "$(best stored)")
      R[$sc.ratio.save]=$(div "${R[$sc.ckpt.median]}" "$(best median)")
      R[$sc.ratio.restore]=$(div "${R[$sc.ckpt.restore]}" "$(best restore)")
      printf '| %s | **ckpt / best peer** | **%s** | | **%s** | **%s** | | |\n' "$sc" \
        "${R[$sc.ratio.stored]}" "${R[$sc.ratio.save]}" "${R[$sc.ratio.restore]}"
    fi
  done
  echo
  echo "Ratios below 1 favour ckpt. Logical = the 6 files' total size."
} >"$MD"

# JSON with every raw number.
JS=$OUT/report.json
{
  printf '{\n  "date": "%s", "scale": %s, "size_mb": %s, "seed": %s,\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$SCALE" "$SIZE_MB" "$SEED"
  printf '  "machine": {"cpu": "%s", "cores": %s, "ram_bytes": %s, "fs": "%s", "kernel": "%s", "os": "%s",\n              "loadavg_start": "%s", "loadavg_end": "%s"},\n' \
    "$CPU" "$CORES" "$((RAM_KIB * 1024))" "$FS" "$KERNEL" "$OS" "$LOAD_START" "$LOAD_END"
  printf '  "versions": {"ckpt": "%s", "restic": "%s", "borg": "%s", "zstd": "%s"},\n' \
    "$V_CKPT" "$V_RESTIC" "$V_BORG" "$V_ZSTD"
  printf '  "page_cache": "warm for all tools; sync before every timed command",\n'
  printf '  "scenarios": [\n'
  first=1
  for sc in "${SC_LIST[@]}"; do
    ((first)) || printf ',\n'
    first=0
    printf '    {"name": "%s", "files": 6, "bytes_per_file": %s, "logical_bytes": %s, "tensors": %s,\n' \
      "$sc" "${D[$sc.bytes_per_file]}" "${D[$sc.logical]}" "${D[$sc.tensors]}"
    printf '     "changed_bytes_pct": %s, "same_4k_pct": %s, "same_256k_pct": %s, "zstd3_one_file_bytes": %s,\n' \
      "${D[$sc.changed_bytes_pct]}" "${D[$sc.same_4k_pct]}" "${D[$sc.same_256k_pct]}" \
      "$([[ ${D[$sc.zstd]} == n/a ]] && echo null || echo "${D[$sc.zstd]}")"
    printf '     "tools": {'
    tf=1
    for t in "${TOOL_LIST[@]}"; do
      ((tf)) || printf ','
      tf=0
      printf '\n       "%s": {"stored_bytes": %s, "save_s": [%s, %s, %s, %s, %s, %s], "median_incremental_save_s": %s, "restore_s": %s, "restore_samples_s": [%s], "save_peak_rss_kib": %s, "restore_peak_rss_kib": %s, "identical": %s}' \
        "$t" "${R[$sc.$t.stored]}" "${R[$sc.$t.save1]}" "${R[$sc.$t.save2]}" "${R[$sc.$t.save3]}" \
        "${R[$sc.$t.save4]}" "${R[$sc.$t.save5]}" "${R[$sc.$t.save6]}" "${R[$sc.$t.median]}" \
        "${R[$sc.$t.restore]}" "$(echo ${R[$sc.$t.restores]} | sed 's/ /, /g')" \
        "${R[$sc.$t.rss]}" "${R[$sc.$t.restore_rss]}" "${R[$sc.$t.identical]}"
    done
    printf '}'
    if [[ -n ${R[$sc.ratio.stored]:-} ]]; then
      jnum() { [[ $1 == n/a ]] && echo null || echo "$1"; }
      printf ',\n     "ckpt_over_best_peer": {"stored": %s, "save": %s, "restore": %s}' \
        "$(jnum "${R[$sc.ratio.stored]}")" "$(jnum "${R[$sc.ratio.save]}")" "$(jnum "${R[$sc.ratio.restore]}")"
    fi
    printf '}'
  done
  printf '\n  ]\n}\n'
} >"$JS"

echo
cat "$MD"
mkdir -p "$(dirname "$RESULTS")"
cp "$MD" "$RESULTS.md"
cp "$JS" "$RESULTS.json"
echo
echo "results: $RESULTS.md, $RESULTS.json"
((FAILED == 0)) || die "a restored file differs from the original"
