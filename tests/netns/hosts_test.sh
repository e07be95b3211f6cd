#!/usr/bin/env bash
# Hosts on a network: five network namespaces, each with its own address on
# a private /24 and its own index cache ($CKPT_CACHE_DIR), linked by veth
# pairs to the bridge in the root namespace where RGW listens
# (scripts/netns_bridge.sh; scripts/test.sh sets both up). Every host
# process is ckpt_test_host run with `ip netns exec`, reaching RGW only over
# its link:
#   - 4 ranks, one per host, save the shards of one checkpoint; a 5th host
#     loads it bit-exact and reads it as jobs of 3 and 2 ranks would;
#   - a rank killed by SIGKILL once its packs are uploaded, before its
#     shard commits, leaves no visible checkpoint; its retry completes it;
#   - a rank whose link is cut (`ip link set ... down`) while it uploads
#     fails with a clear error, nothing is visible; link up, retry succeeds;
#   - two hosts released at once to commit one RUN@STEP: exactly one wins;
#   - gc looping on one host while another saves loses nothing;
#   - a host whose cache was deleted rebuilds it and sees everything.
# Exits 77 (skipped), saying why, when not root, without `ip netns`, without
# an S3 server, or when RGW is not reachable from namespaces.
#
#   tests/netns/hosts_test.sh PATH_TO_ckpt_test_host
set -euo pipefail

host_bin=$1
t_start=$EPOCHREALTIME

skip() {
  echo "SKIPPED: $*"
  exit 77
}
fail() {
  echo "FAILED: $*" >&2
  exit 1
}

[[ $(id -u) == 0 ]] || skip "network namespaces need root"
command -v ip >/dev/null || skip "no ip command (iproute2)"
[[ -n "${CKPT_TEST_S3_BUCKET:-}" && -n "${AWS_ENDPOINT_URL:-}" ]] ||
  skip "no S3 server: set CKPT_TEST_S3_BUCKET and AWS_* (scripts/test.sh starts one)"
bridge=${CKPT_TEST_NETNS_BRIDGE:-}
[[ -n "$bridge" ]] ||
  skip "RGW is not reachable from network namespaces: CKPT_TEST_NETNS_BRIDGE is not set" \
    "(scripts/test.sh sets it: scripts/netns_bridge.sh up BRIDGE ADDR, then RGW started with" \
    "CKPT_RGW_ADDR=ADDR)"
gateway=$(ip -4 -o addr show dev "$bridge" 2>/dev/null | awk '{ print $4 }' | cut -d/ -f1) || true
[[ "$gateway" =~ ^([0-9]+\.[0-9]+\.[0-9]+)\.[0-9]+$ ]] ||
  fail "bridge $bridge (CKPT_TEST_NETNS_BRIDGE) holds no IPv4 address"
subnet=${BASH_REMATCH[1]}
port=${AWS_ENDPOINT_URL##*:}
port=${port%%/*}
endpoint="http://$gateway:$port"

tag="ck$$" # names of this run's namespaces and links: short (at most 15 bytes), unique
work=$(mktemp -d)
namespaces=()
children=()
cleanup() {
  local pid n
  for pid in "${children[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  for n in "${namespaces[@]}"; do ip netns pids "$n" 2>/dev/null | xargs -r kill -KILL || true; done
  wait 2>/dev/null || true
  # Deleting a namespace deletes its end of the veth pair, and so the pair.
  for n in "${namespaces[@]}"; do ip netns del "$n" 2>/dev/null || true; done
  for n in 1 2 3 4 5; do ip link del "${tag}h$n" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
# A signal (a CTest timeout, Ctrl-C) ends the script through its EXIT trap too.
trap "exit 143" TERM
trap "exit 130" INT

ip netns add "${tag}probe" 2>/dev/null || skip "ip netns add failed: no network namespaces here"
ip netns del "${tag}probe"

# Host n: namespace ${tag}n, address $subnet.(10+n), link ${tag}hn (root side).
make_host() {
  local n=$1 ns="${tag}$1"
  ip netns add "$ns"
  namespaces+=("$ns")
  ip link add "${tag}h$n" type veth peer name eth0 netns "$ns"
  ip link set "${tag}h$n" master "$bridge" up
  ip -n "$ns" addr add "$subnet.$((10 + n))/24" dev eth0
  ip -n "$ns" link set eth0 up
  ip -n "$ns" link set lo up
}

# True if RGW answers host n over its link.
reachable() {
  local code
  code=$(ip netns exec "${tag}$1" curl -s -o /dev/null -w '%{http_code}' --max-time 2 \
    "$endpoint/") || true
  [[ "$code" =~ ^[1-5][0-9][0-9]$ ]]
}

wait_reachable() {
  local deadline=$((SECONDS + 20))
  until reachable "$1"; do
    ((SECONDS < deadline)) || fail "host $1 does not reach RGW at $endpoint over its link"
    sleep 0.2
  done
}

# Runs ckpt_test_host as host n: in its namespace, with its own cache.
on_host() {
  local n=$1
  shift
  AWS_ENDPOINT_URL=$endpoint CKPT_CACHE_DIR="$work/cache/$n" \
    ip netns exec "${tag}$n" "$host_bin" "$@"
}

# Starts on_host in the background; its stdout and stderr go to
# $work/out/NAME and $work/err/NAME; sets $last_pid.
start_on_host() {
  local name=$1
  shift
  on_host "$@" >"$work/out/$name" 2>"$work/err/$name" &
  last_pid=$!
  children+=("$last_pid")
}

# Waits for the background host `name` (pid) to exit; sets $rc.
finish() {
  rc=0
  wait "$2" || rc=$?
}

must_finish() {
  finish "$1" "$2"
  ((rc == 0)) || fail "$1 exited with $rc: $(cat "$work/err/$1")"
}

# Waits until host `name` stopped itself at its pause point; prints its pid.
wait_paused() {
  local name=$1 deadline=$((SECONDS + 60)) pid
  until grep -q '^paused ' "$work/out/$name"; do
    ((SECONDS < deadline)) || fail "$name never reached its pause point: $(cat "$work/err/$name")"
    sleep 0.05
  done
  pid=$(awk '/^paused / { print $NF }' "$work/out/$name")
  until [[ "$(awk '{ print $3 }' "/proc/$pid/stat" 2>/dev/null)" == T ]]; do
    ((SECONDS < deadline)) || fail "$name (pid $pid) did not stop"
    sleep 0.05
  done
  echo "$pid"
}

expect_out() {
  grep -qx "$2" "$work/out/$1" || fail "$1 printed '$(cat "$work/out/$1")', expected '$2'"
}

elapsed() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }'; }

mkdir -p "$work/out" "$work/err" "$work/cache"
for n in 1 2 3 4 5; do make_host "$n"; done
for n in 1 2 3 4 5; do wait_reachable "$n"; done
# Each host has a loopback of its own: RGW's 127.0.0.1 is not reachable.
if ip netns exec "${tag}1" curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$port/"; then
  fail "host 1 reaches 127.0.0.1:$port: its namespace is not a network of its own"
fi
url="s3://$CKPT_TEST_S3_BUCKET/t-netns-$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')"
echo "hosts: 5 namespaces on $subnet.0/24 through bridge $bridge; RGW at $endpoint; $url"

world=4
scale=50 # ~0.35 MB of shards per rank per step: several 256 KiB packs each

# 1. Four ranks, one per host, save the shards of run@1 at once.
t=$EPOCHREALTIME
pids=()
for r in 0 1 2 3; do
  start_on_host "s1r$r" $((r + 1)) save-shard "$url" run 1 "$r" "$world" "$scale"
  pids+=("$last_pid")
done
for r in 0 1 2 3; do must_finish "s1r$r" "${pids[$r]}"; done
echo "sharded save of 4 ranks on 4 hosts: $(elapsed "$t") s"
committed=$(cat "$work"/out/s1r* | grep -c '^step 1 committed$' || true)
recorded=$(cat "$work"/out/s1r* | grep -c '^step 1 recorded$' || true)
# The last ranks to stage may both find every shard there and both commit
# (one writes the checkpoint, the other finds it written).
((committed >= 1 && committed + recorded == 4)) ||
  fail "step 1: $committed shards said committed and $recorded recorded, expected 1 or more and 4 in all"
on_host 5 check-shards "$url" run 1 "$world" "$scale"

# 2. Rank 2 is killed once its packs are uploaded, before its shard commits.
pids=()
for r in 0 1 3; do
  start_on_host "s2r$r" $((r + 1)) save-shard "$url" run 2 "$r" "$world" "$scale"
  pids[r]=$last_pid
done
start_on_host s2r2 3 save-shard "$url" run 2 2 "$world" "$scale" pause-before-commit
victim=$last_pid
for r in 0 1 3; do must_finish "s2r$r" "${pids[r]}"; done
pid=$(wait_paused s2r2)
kill -KILL "$pid"
finish s2r2 "$victim"
((rc == 128 + 9)) || fail "the killed rank exited with $rc, not by SIGKILL"
on_host 5 absent "$url" run 2
on_host 3 save-shard "$url" run 2 2 "$world" "$scale" >"$work/out/s2r2-retry"
expect_out s2r2-retry "step 2 committed"
on_host 5 check-shards "$url" run 2 "$world" "$scale"

# 3. Rank 3's link is cut while it uploads its packs.
pids=()
for r in 0 1 2; do
  start_on_host "s3r$r" $((r + 1)) save-shard "$url" run 3 "$r" "$world" "$scale"
  pids+=("$last_pid")
done
start_on_host s3r3 4 save-shard "$url" run 3 3 "$world" "$scale" pause-before-upload
cut=$last_pid
for r in 0 1 2; do must_finish "s3r$r" "${pids[$r]}"; done
pid=$(wait_paused s3r3)
ip link set "${tag}h4" down
t=$EPOCHREALTIME
kill -CONT "$pid"
finish s3r3 "$cut"
echo "rank with its link cut failed after $(elapsed "$t") s: $(tail -n1 "$work/err/s3r3")"
((rc == 3)) || fail "the cut-off rank exited with $rc, expected 3 (a failed save)"
grep -q "gave up after 3 tries" "$work/err/s3r3" ||
  fail "the cut-off rank's error does not say it gave up: $(cat "$work/err/s3r3")"
grep -Eq "PUT $CKPT_TEST_S3_BUCKET/.*/packs/" "$work/err/s3r3" ||
  fail "the cut-off rank's error does not name the upload: $(cat "$work/err/s3r3")"
on_host 5 absent "$url" run 3
ip link set "${tag}h4" up
wait_reachable 4
on_host 4 save-shard "$url" run 3 3 "$world" "$scale" >"$work/out/s3r3-retry"
expect_out s3r3-retry "step 3 committed"
on_host 5 check-shards "$url" run 3 "$world" "$scale"

# 4. Two hosts, released at the same moment, commit one RUN@STEP.
for round in 1 2 3; do
  a=$(((round - 1) % 4 + 1)) b=$((round % 4 + 1))
  start_on_host "race$round-a" "$a" save-step "$url" race "$round" 100 pause-before-commit
  pa=$last_pid
  start_on_host "race$round-b" "$b" save-step "$url" race "$round" 200 pause-before-commit
  pb=$last_pid
  stopped_a=$(wait_paused "race$round-a")
  stopped_b=$(wait_paused "race$round-b")
  kill -CONT "$stopped_a" "$stopped_b"
  must_finish "race$round-a" "$pa"
  must_finish "race$round-b" "$pb"
  outcome="$(tail -n1 "$work/out/race$round-a") / $(tail -n1 "$work/out/race$round-b")"
  case "$outcome" in
  "step $round committed / step $round exists") winner=100 ;;
  "step $round exists / step $round committed") winner=200 ;;
  *) fail "race $round: '$outcome', expected exactly one committed" ;;
  esac
  echo "race $round between hosts $a and $b: $outcome"
  on_host 5 check-step "$url" race "$round" "$winner"
done

# 5. Gc looping on host 2 (keeping the last 3 of run "train") while host 1
#    saves 20 checkpoints; gc's first run precedes the saves, its last
#    follows them.
start_on_host gc 2 gc-until "$url" "$work/stop-gc" 10 train 3
gc_pid=$last_pid
deadline=$((SECONDS + 60))
until grep -q '^gc 1$' "$work/out/gc"; do
  ((SECONDS < deadline)) || fail "gc never finished its first run: $(cat "$work/err/gc")"
  sleep 0.1
done
t=$EPOCHREALTIME
on_host 1 save-steps "$url" train 1 20 >"$work/out/train" 2>"$work/err/train" ||
  fail "saves beside gc failed: $(cat "$work/err/train")"
echo "20 saves beside a looping gc on another host: $(elapsed "$t") s"
touch "$work/stop-gc"
must_finish gc "$gc_pid"
gc_summary=$(tail -n1 "$work/out/gc")
[[ "$gc_summary" =~ ^runs\ ([0-9]+)\ failures\ 0$ ]] || fail "gc: $gc_summary: $(cat "$work/err/gc")"
((BASH_REMATCH[1] >= 3)) || fail "gc ran only ${BASH_REMATCH[1]} times beside the saves"
echo "gc beside the saves: $gc_summary"
[[ $(grep -c committed "$work/out/train") == 20 ]] || fail "not every save committed"
steps=$(on_host 5 check-steps "$url" train 7)
[[ "$steps" == "steps 18 19 20" ]] || fail "train after gc: '$steps', expected 'steps 18 19 20'"

# 6. Host 1 loses its cache: it rebuilds it from the bucket's log and sees
#    what the others see.
rm -rf "$work/cache/1"
on_host 1 list "$url" >"$work/out/list-rebuilt"
on_host 5 list "$url" >"$work/out/list-reader"
cmp -s "$work/out/list-rebuilt" "$work/out/list-reader" ||
  fail "host 1 with a rebuilt cache lists $(wc -l <"$work/out/list-rebuilt") checkpoints," \
    "host 5 $(wc -l <"$work/out/list-reader")"
[[ $(wc -l <"$work/out/list-rebuilt") == 9 ]] ||
  fail "expected 9 checkpoints (run 3, race 3, train 3): $(cat "$work/out/list-rebuilt")"
[[ -d "$work/cache/1" ]] || fail "host 1 did not make a new cache"
for step in 1 2 3; do on_host 1 check-shards "$url" run "$step" "$world" "$scale"; done
on_host 1 check-steps "$url" train 7 >/dev/null
on_host 1 verify "$url"

echo "hosts in network namespaces: passed in $(elapsed "$t_start") s"
