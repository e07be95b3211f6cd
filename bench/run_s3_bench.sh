#!/usr/bin/env bash
# Benchmarks ckpt's store in S3 object storage against restic's S3 backend,
# with the raw upload of each file (boto3) as the floor: the same server, the
# same data (bench/gen, as bench/run_bench.sh) and the same run.
#
# For each repetition and scenario of ckpt_bench_gen (6 checkpoints of a
# training run), each tool stores the 6 files one after another under a
# fresh prefix of one bucket, the tools taking turns per checkpoint:
#   ckpt   ckpt --store s3://BUCKET/P/ckpt import STAGE/model.safetensors
#   restic restic -r s3:ENDPOINT/BUCKET/P/restic backup STAGE/model.safetensors
#   raw    boto3 upload_file of the file to BUCKET/P/raw/ckpt-K.safetensors
# Then checkpoint 6 is restored by each (ckpt export, restic restore latest,
# boto3 download_file) and compared with cmp. Measured: bytes in the bucket
# under each tool's prefix (every object's size, listed), the median wall time
# of the incremental saves 2..6, and the wall time of the restore; medians
# over the repetitions.
#
#   eval "$(bash scripts/rgw.sh env DIR)"      # or any S3 endpoint's AWS_* variables
#   bash bench/run_s3_bench.sh [--scale F] [--size-mb MB] [--scenarios a,b]
#        [--reps N] [--bucket NAME] [--rgw-conf DIR/ceph.conf] [--ckpt PATH]
#        [--gen PATH] [--out DIR] [--keep] [--results PREFIX]
#
# See bench/README.md.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
SCALE=1
SIZE_MB=200
SCENARIOS=finetune,frozen,embedding,bf16
REPS=3
BUCKET=ckpt-s3-bench
RGW_CONF=
CKPT=$ROOT/build/tools/ckpt
GEN=
OUT=
KEEP=0
RESULTS=$ROOT/bench/results/s3-bench-latest
SEED=1
TOOLS=(ckpt restic raw)

usage() {
  sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'
  cat <<EOF
Options:
  --scale F          multiply the checkpoint size by F (default 1; 0.1 = quick run)
  --size-mb MB       checkpoint size before scaling (default 200)
  --scenarios LIST   comma-separated subset of: finetune,frozen,embedding,bf16
  --reps N           repetitions of every scenario (default 3); medians are reported
  --bucket NAME      bucket to use, created if missing (default ckpt-s3-bench)
  --rgw-conf PATH    ceph.conf of the Ceph cluster serving the endpoint: after each
                     scenario its objects are deleted and \`radosgw-admin gc process\`
                     frees them at once (RGW otherwise keeps deleted data for hours;
                     a memstore OSD holds it in RAM). Without it the objects stay and
                     the server must hold every repetition's data.
  --ckpt PATH        the ckpt CLI (default build/tools/ckpt of this checkout)
  --gen PATH         ckpt_bench_gen (default: next to the CLI's build tree)
  --out DIR          work directory (default: a new temporary directory)
  --keep             keep the work directory (data, restores, logs)
  --results PREFIX   write PREFIX.md and PREFIX.json (default bench/results/s3-bench-latest)
  --seed N           data seed (default 1)
EOF
}

while (($#)); do
  case "$1" in
    --scale) SCALE=$2; shift 2 ;;
    --size-mb) SIZE_MB=$2; shift 2 ;;
    --scenarios) SCENARIOS=$2; shift 2 ;;
    --reps) REPS=$2; shift 2 ;;
    --bucket) BUCKET=$2; shift 2 ;;
    --rgw-conf) RGW_CONF=$2; shift 2 ;;
    --ckpt) CKPT=$2; shift 2 ;;
    --gen) GEN=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    --keep) KEEP=1; shift ;;
    --results) RESULTS=$2; shift 2 ;;
    --seed) SEED=$2; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "run_s3_bench.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
  esac
done

die() { echo "run_s3_bench.sh: $*" >&2; exit 1; }

# ---- tools and endpoint -----------------------------------------------------------
[[ -x $CKPT ]] || die "no ckpt CLI at $CKPT (build it: bash scripts/build.sh, or pass --ckpt)"
CKPT=$(cd "$(dirname "$CKPT")" && pwd)/$(basename "$CKPT")
[[ -n $GEN ]] || GEN=$(dirname "$CKPT")/../bench/gen/ckpt_bench_gen
[[ -x $GEN ]] || die "no ckpt_bench_gen at $GEN (build the ckpt_bench_gen target, or pass --gen)"
GEN=$(cd "$(dirname "$GEN")" && pwd)/$(basename "$GEN")
command -v restic >/dev/null || die "restic missing: CKPT_SETUP_BENCH=1 bash scripts/setup.sh"
python3 -c 'import boto3' 2>/dev/null || die "python3-boto3 missing: CKPT_SETUP_S3=1 bash scripts/setup.sh"
for c in cmp awk sort sync; do command -v $c >/dev/null || die "$c missing"; done
for v in AWS_ENDPOINT_URL AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY; do
  [[ -n ${!v:-} ]] || die "$v is not set (for a local RGW: eval \"\$(bash scripts/rgw.sh env DIR)\")"
done
if [[ -n $RGW_CONF ]]; then
  [[ -f $RGW_CONF ]] || die "--rgw-conf $RGW_CONF: no such file"
  command -v radosgw-admin >/dev/null || die "--rgw-conf needs radosgw-admin"
fi
export AWS_REGION=${AWS_REGION:-us-east-1}
export AWS_DEFAULT_REGION=$AWS_REGION  # what restic's S3 client reads
obj() { python3 "$ROOT/bench/s3_objects.py" "$@"; }

# ---- work directory -------------------------------------------------------------------
if [[ -z $OUT ]]; then
  OUT=$(mktemp -d "${TMPDIR:-/tmp}/ckpt-s3-bench.XXXXXX")
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

# Each tool's local cache lives in the work directory: ckpt's index copy,
# restic's cache. Neither counts as bytes in the bucket.
export RESTIC_PASSWORD=ckpt-bench
export RESTIC_CACHE_DIR=$OUT/home/restic-cache
export CKPT_CACHE_DIR=$OUT/home/ckpt-cache

now() { date +%s.%N; }
# prime BYTES: writes and deletes a scratch file of BYTES, so that the next
# command finds that much freshly freed memory. On a VM that hands free
# memory back to its host (free page reporting, as Firecracker guests do),
# the first process to touch memory after a pause pays a host fault per
# page: a 200 MiB restore run first took 1.05-1.2 s where the same one run
# after another tool took 0.63 s. Primed before every timed command, every
# tool starts from the same state, whatever its place in the order.
prime() {
  head -c "$1" /dev/zero >"$OUT/prime"
  rm -f "$OUT/prime"
}
# timed CMD...: runs CMD (output to the log) and sets T to its wall seconds.
timed() {
  local t0 t1
  echo "+ $*" >>"$LOG"
  t0=$(now)
  "$@" >>"$LOG" 2>&1 || { tail -n 30 "$LOG" >&2; die "failed: $*"; }
  t1=$(now)
  T=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.3f", b-a}')
}
quiet() { echo "+ $*" >>"$LOG"; "$@" >>"$LOG" 2>&1 || { tail -n 30 "$LOG" >&2; die "failed: $*"; }; }
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END{if(NR%2)print v[(NR+1)/2]; else printf "%.3f\n",(v[NR/2]+v[NR/2+1])/2}'; }
div() { awk -v a="$1" -v b="$2" 'BEGIN{if(b>0)printf "%.2f", a/b; else printf "n/a"}'; }
mib() { awk -v a="$1" 'BEGIN{printf "%.1f", a/1048576}'; }

# ---- machine and versions ----------------------------------------------------------------
CPU=$(lscpu 2>/dev/null | awk -F: '/^Model name/{gsub(/^ +/,"",$2); print $2; exit}')
CORES=$(nproc)
RAM_KIB=$(awk '/^MemTotal/{print $2}' /proc/meminfo)
KERNEL=$(uname -r)
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
# shellcheck source=/dev/null
OS=$( (. /etc/os-release 2>/dev/null && echo "$PRETTY_NAME") || echo unknown)
V_CKPT=$("$CKPT" --version 2>/dev/null | head -n 1 || echo unknown)
V_RESTIC=$(restic version | head -n 1)
V_BOTO3=$(python3 -c 'import boto3; print("boto3", boto3.__version__)')
SERVER=$(curl -s -o /dev/null -D - --max-time 5 "$AWS_ENDPOINT_URL/" | tr -d '\r' |
  awk -F': ' 'tolower($1)=="server"{print $2}')
if [[ -n $RGW_CONF ]]; then
  SERVER="${SERVER:+$SERVER, }Ceph RGW, $(radosgw-admin -c "$RGW_CONF" --version 2>/dev/null |
    awk '{print $1, $2, $3}')"
fi
SERVER=${SERVER:-server unknown}

echo "== machine"
echo "cpu:      $CPU, $CORES cores"
echo "ram:      $(mib $((RAM_KIB * 1024))) MiB"
echo "kernel:   $KERNEL; $OS"
echo "load:     $LOAD_START (1, 5, 15 min; other work on the machine skews timings)"
echo "server:   $AWS_ENDPOINT_URL ($SERVER), bucket $BUCKET"
echo "== versions"
echo "ckpt:     $V_CKPT"
echo "restic:   $V_RESTIC (repository version 2, --compression auto, S3 backend)"
echo "floor:    $V_BOTO3 (upload_file / download_file, default transfer settings)"
echo "== data"

# ---- data -------------------------------------------------------------------------------
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
  printf '%-9s 6 files x %s MiB (%s tensors), %s MiB in all; %s%% of bytes change from one checkpoint to the next\n' \
    "$sc" "$(mib "${D[$sc.bytes_per_file]}")" "${D[$sc.tensors]}" "$(mib "$logical")" \
    "${D[$sc.changed_bytes_pct]}"
done

quiet obj mkbucket "$BUCKET"
RUN_ID=$(date -u +%Y%m%dT%H%M%S)

# ---- benchmark --------------------------------------------------------------------------------
declare -A R  # R[sc.tool.field]: space-separated samples
for ((rep = 1; rep <= REPS; rep++)); do
  for sc in "${SC_LIST[@]}"; do
    echo "== $sc, repetition $rep" | tee -a "$LOG"
    P=$RUN_ID/r$rep/$sc
    STAGE=$OUT/stage/$sc
    mkdir -p "$STAGE"
    quiet "$CKPT" --store "s3://$BUCKET/$P/ckpt" init
    quiet restic -r "s3:$AWS_ENDPOINT_URL/$BUCKET/$P/restic" init --repository-version 2
    for k in 1 2 3 4 5 6; do
      # A trainer replaces its checkpoint file: same path, new inode and mtime.
      ln -f "$OUT/data/$sc/ckpt-$k.safetensors" "$STAGE/model.safetensors"
      line="  ckpt-$k:"
      for t in "${TOOLS[@]}"; do
        # Every tool reads its input from the page cache, as in run_bench.sh.
        cat "$STAGE/model.safetensors" >/dev/null
        prime $((2 * $(stat -c %s "$STAGE/model.safetensors")))
        sync
        case $t in
          ckpt) timed "$CKPT" -q --store "s3://$BUCKET/$P/ckpt" import "$STAGE/model.safetensors" \
                  --run "$sc" --step "$k" ;;
          restic) timed restic -r "s3:$AWS_ENDPOINT_URL/$BUCKET/$P/restic" --compression auto \
                    backup -q --host bench "$STAGE/model.safetensors" ;;
          raw) T=$(obj put "$BUCKET" "$P/raw/ckpt-$k.safetensors" "$STAGE/model.safetensors") ||
                 die "boto3 upload failed" ;;
        esac
        ((k > 1)) && R[$sc.$t.saves]+=" $T"
        line+=" $t ${T}s"
      done
      echo "$line"
    done
    rm -f "$STAGE/model.safetensors"
    want=$OUT/data/$sc/ckpt-6.safetensors
    line="  restore 6:"
    for t in "${TOOLS[@]}"; do
      dst=$OUT/restore/$sc/$t
      rm -rf "$dst"
      mkdir -p "$dst"
      prime $((2 * $(stat -c %s "$want")))
      sync
      case $t in
        ckpt) timed "$CKPT" -q --store "s3://$BUCKET/$P/ckpt" export "$sc@6" -o "$dst/model.safetensors"
              got=$dst/model.safetensors ;;
        restic) timed restic -r "s3:$AWS_ENDPOINT_URL/$BUCKET/$P/restic" restore latest --target "$dst"
                got=$dst$STAGE/model.safetensors ;;
        raw) T=$(obj get "$BUCKET" "$P/raw/ckpt-6.safetensors" "$dst/model.safetensors") ||
               die "boto3 download failed"
             got=$dst/model.safetensors ;;
      esac
      cmp -s "$want" "$got" || die "$t: restored checkpoint 6 of $sc differs from the original"
      R[$sc.$t.restores]+=" $T"
      line+=" $t ${T}s"
      rm -rf "$dst"
    done
    echo "$line"
    line="  bytes in bucket:"
    for t in "${TOOLS[@]}"; do
      read -r bytes objects < <(obj bytes "$BUCKET" "$P/$t")
      R[$sc.$t.bytes]+=" $bytes"
      R[$sc.$t.objects]+=" $objects"
      line+=" $t $(mib "$bytes") MiB ($objects objects)"
    done
    echo "$line"
    if [[ -n $RGW_CONF ]]; then
      quiet obj rm "$BUCKET" "$P"
      quiet radosgw-admin -c "$RGW_CONF" gc process --include-all
    fi
  done
done

# ---- report --------------------------------------------------------------------------------
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)
for sc in "${SC_LIST[@]}"; do
  for t in "${TOOLS[@]}"; do
    # shellcheck disable=SC2086
    {
      R[$sc.$t.bytes_med]=$(printf '%.0f' "$(median ${R[$sc.$t.bytes]})")
      R[$sc.$t.objects_med]=$(printf '%.0f' "$(median ${R[$sc.$t.objects]})")
      R[$sc.$t.save]=$(median ${R[$sc.$t.saves]})
      R[$sc.$t.restore]=$(median ${R[$sc.$t.restores]})
    }
  done
  for f in bytes_med save restore; do
    R[$sc.ratio.$f]=$(div "${R[$sc.ckpt.$f]}" "${R[$sc.restic.$f]}")
  done
done
MD=$OUT/report.md
{
  echo "## ckpt benchmark in object storage: checkpoint series saved into S3 beside restic"
  echo
  echo "Run $(date -u +%Y-%m-%dT%H:%MZ) by \`bench/run_s3_bench.sh --scale $SCALE --reps $REPS\` (checkpoints of ~$(awk -v a="$SIZE_MB" -v s="$SCALE" 'BEGIN{printf "%g", a*s}') MiB, seed $SEED)."
  echo
  echo "- Machine: $CPU, $CORES cores, $(mib $((RAM_KIB * 1024))) MiB RAM, Linux $KERNEL, $OS; load average $LOAD_START at start, $LOAD_END at end. The S3 server runs on the same machine (loopback), so it shares the cores with the tool under test."
  echo "- Server: $AWS_ENDPOINT_URL ($SERVER); each tool under its own prefix of bucket \`$BUCKET\`, a fresh prefix per scenario and repetition."
  echo "- Tools: ckpt $V_CKPT (\`ckpt --store s3://…\` import / export); $V_RESTIC (S3 backend, repository v2, compression auto); floor: $V_BOTO3, the raw file uploaded and downloaded with \`upload_file\` / \`download_file\` (managed multipart transfer, default settings), timed inside the process."
  echo "- Per scenario and repetition the tools take turns on each of the 6 checkpoints; bytes = the sizes of all objects under the tool's prefix after the 6 saves (listed); save = wall time of saves 2..6; restore = wall time to get checkpoint 6 back into a file, checked byte-identical with \`cmp\`. Figures are medians over the $REPS repetitions (saves: over all $((5 * REPS)) incremental saves)."
  echo "- Page cache is warm for all tools alike, as in \`bench/run_bench.sh\`: each save's input is read once before each tool's timed save; before every timed command a scratch file of twice the checkpoint's size is written and deleted (the same freshly freed memory for every tool: this VM reports free memory to its host, and the first process to touch memory after a pause pays a host fault per page), then \`sync\` runs."
  echo
  echo "| scenario | data per checkpoint | changed bytes |"
  echo "|---|---:|---:|"
  for sc in "${SC_LIST[@]}"; do
    printf '| %s | %s MiB, %s tensors | %s%% |\n' "$sc" "$(mib "${D[$sc.bytes_per_file]}")" \
      "${D[$sc.tensors]}" "${D[$sc.changed_bytes_pct]}"
  done
  echo
  echo "| scenario | tool | MiB in bucket | objects | ratio to logical | median incremental save s | restore of checkpoint 6 s |"
  echo "|---|---|---:|---:|---:|---:|---:|"
  for sc in "${SC_LIST[@]}"; do
    for t in "${TOOLS[@]}"; do
      name=$t
      [[ $t == raw ]] && name="raw files (boto3, floor)"
      printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$sc" "$name" "$(mib "${R[$sc.$t.bytes_med]}")" \
        "${R[$sc.$t.objects_med]}" "$(div "${R[$sc.$t.bytes_med]}" "${D[$sc.logical]}")" \
        "${R[$sc.$t.save]}" "${R[$sc.$t.restore]}"
    done
    printf '| %s | **ckpt / restic** | **%s** | | | **%s** | **%s** |\n' "$sc" \
      "${R[$sc.ratio.bytes_med]}" "${R[$sc.ratio.save]}" "${R[$sc.ratio.restore]}"
  done
  echo
  echo "Ratios below 1 favour ckpt; targets: bytes ≤ 1, save ≤ 0.5, restore ≤ 0.5. Logical = the 6 files' total size."
} >"$MD"

JS=$OUT/report.json
{
  printf '{\n  "date": "%s", "scale": %s, "size_mb": %s, "seed": %s, "reps": %s,\n' \
    "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$SCALE" "$SIZE_MB" "$SEED" "$REPS"
  printf '  "machine": {"cpu": "%s", "cores": %s, "ram_bytes": %s, "kernel": "%s", "os": "%s", "loadavg_start": "%s", "loadavg_end": "%s"},\n' \
    "$CPU" "$CORES" "$((RAM_KIB * 1024))" "$KERNEL" "$OS" "$LOAD_START" "$LOAD_END"
  printf '  "server": "%s", "versions": {"ckpt": "%s", "restic": "%s", "floor": "%s"},\n' \
    "$SERVER" "$V_CKPT" "$V_RESTIC" "$V_BOTO3"
  printf '  "scenarios": ['
  first=1
  for sc in "${SC_LIST[@]}"; do
    ((first)) || printf ','
    first=0
    printf '\n    {"name": "%s", "bytes_per_file": %s, "logical_bytes": %s, "tools": {' \
      "$sc" "${D[$sc.bytes_per_file]}" "${D[$sc.logical]}"
    tf=1
    for t in "${TOOLS[@]}"; do
      ((tf)) || printf ','
      tf=0
      csv() { local v=${1# }; echo "${v// /, }"; }
      printf '\n      "%s": {"bucket_bytes": [%s], "objects": [%s], "incremental_save_s": [%s], "restore_s": [%s]}' \
        "$t" "$(csv "${R[$sc.$t.bytes]}")" "$(csv "${R[$sc.$t.objects]}")" \
        "$(csv "${R[$sc.$t.saves]}")" "$(csv "${R[$sc.$t.restores]}")"
    done
    printf '},\n     "ckpt_over_restic": {"bytes": %s, "save": %s, "restore": %s}}' \
      "${R[$sc.ratio.bytes_med]}" "${R[$sc.ratio.save]}" "${R[$sc.ratio.restore]}"
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
