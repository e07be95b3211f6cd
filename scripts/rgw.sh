#!/usr/bin/env bash
# Starts and stops a real single-node Ceph cluster (one monitor, one OSD, no
# manager) with its S3 gateway, radosgw, on 127.0.0.1, so that ckpt's S3
# backend is tested against a real S3 implementation rather than only a fake.
#
#   scripts/rgw.sh start DIR [PORT]  create a fresh cluster in DIR, serve S3 on
#                                    127.0.0.1:PORT (default 7480), create a
#                                    user with fixed test keys and a bucket
#   scripts/rgw.sh env DIR           print `export VAR=...` lines for the tests
#   scripts/rgw.sh stop DIR [--purge]  stop the daemons started in DIR (by the
#                                    PIDs start recorded); --purge also removes
#                                    DIR, logs included
#
# Everything (ceph.conf, monitor store, logs, sockets, PIDs) lives in DIR;
# nothing in /etc/ceph or /var/lib/ceph is read or written. Authentication is
# off (loopback only, throwaway data). The OSD keeps its objects in memory
# (memstore), capped at CKPT_RGW_MEMSTORE_BYTES (default 4 GiB); memstore takes
# about twice the stored bytes of RAM, and once it is full uploads hang rather
# than fail, so size the cap to the test. Objects do not survive a stop: every
# start creates a new cluster.
#
# Environment: CKPT_RGW_MEMSTORE_BYTES, CKPT_RGW_MON_PORT (monitor, default
# 3300), CKPT_RGW_OSD_PORT_MIN (first of 100 ports the OSD may bind, default
# 6800), CKPT_RGW_BUCKET (default ckpt-test), CKPT_RGW_TIMEOUT (seconds each
# readiness step may take, default 120), CKPT_RGW_ADDR (more IPv4 addresses,
# separated by spaces or commas, on which radosgw serves S3 at PORT besides
# 127.0.0.1: each must be an address of this machine when it starts, e.g. the
# end of a private bridge that network namespaces reach it through, as
# scripts/test.sh sets up for tests/netns/; the tests' endpoint stays
# 127.0.0.1).
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)

usage() {
  echo "usage: $0 start DIR [PORT] | env DIR | stop DIR [--purge]" >&2
  exit 2
}

# Fixed test credentials: the cluster is only reachable from this machine and
# holds only test data.
ACCESS_KEY=CKPTTESTACCESSKEY001
SECRET_KEY=ckpt-test-secret-key-not-a-real-secret-01
MARKER=.ckpt-rgw # marks DIR as created by this script, so start may reuse it

now() { echo "${EPOCHREALTIME/,/.}"; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# True if PID is alive and is a daemon started on DIR's ceph.conf (guards
# against PID reuse after a crash or reboot).
ours() {
  local pid=$1 cmdline
  [[ -n "$pid" ]] || return 1
  cmdline=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
  [[ "$cmdline" == *"$dir/ceph.conf"* ]]
}

# Gateway first, then the OSD, the monitor last: each shuts down while what
# it talks to is still there.
stop_daemons() {
  local name pid i
  for name in rgw osd mon; do
    [[ -f "$dir/run/$name.pid" ]] || continue
    pid=$(<"$dir/run/$name.pid")
    if ours "$pid"; then
      kill -TERM "$pid" 2>/dev/null || true
      for ((i = 0; i < 150; i++)); do
        ours "$pid" || break
        sleep 0.1
      done
      if ours "$pid"; then
        echo "rgw.sh: $name (PID $pid) did not exit within 15 s of SIGTERM; sending SIGKILL" >&2
        kill -KILL "$pid" 2>/dev/null || true
        for ((i = 0; i < 50; i++)); do
          ours "$pid" || break
          sleep 0.1
        done
      fi
    fi
    rm -f "$dir/run/$name.pid"
  done
}

# The daemon logs that tell why a step failed: the daemon's own log and its
# stdout/stderr.
show_logs() {
  local name f
  for name in "$@"; do
    for f in "$dir/log/$name.out" "$dir/log/$name.log"; do
      [[ -s "$f" ]] || continue
      echo "---- last lines of $f" >&2
      tail -n 30 "$f" >&2
    done
  done
}

fail() {
  local msg=$1
  shift
  echo "rgw.sh: $msg" >&2
  show_logs "$@"
  started=0 # the EXIT trap must not report twice
  echo "rgw.sh: stopping what was started" >&2
  stop_daemons
  exit 1
}

# Runs a daemon in the foreground (-f) as a background job of this shell, so
# its PID is known; setsid puts it in its own session so that a Ctrl-C or
# hang-up aimed at the caller's terminal does not reach it.
launch() {
  local name=$1
  shift
  setsid "$@" -f -c "$dir/ceph.conf" </dev/null >>"$dir/log/$name.out" 2>&1 &
  echo $! >"$dir/run/$name.pid"
}

alive() { ours "$(cat "$dir/run/$1.pid" 2>/dev/null)"; }

# Retries a command until it succeeds, for at most $timeout seconds, failing
# early if the daemon it waits for has exited.
wait_for() {
  local what=$1 daemon=$2 deadline
  shift 2
  deadline=$((SECONDS + timeout))
  until "$@" >/dev/null 2>&1; do
    alive "$daemon" || fail "$what: the $daemon daemon exited" "$daemon"
    ((SECONDS < deadline)) || fail "$what: not ready after $timeout s" "$daemon"
    sleep 0.25
  done
}

ceph_() { timeout 20 ceph -c "$dir/ceph.conf" --connect-timeout 15 "$@"; }

osd_up() {
  local dump
  dump=$(ceph_ osd dump) && grep -q '^osd\.0 up' <<<"$dump"
}

rados_put() {
  local probe="$dir/run/probe"
  echo "ckpt rgw.sh probe" >"$probe"
  timeout 30 rados -c "$dir/ceph.conf" -p ckpt-probe put probe "$probe"
}

# An S3 request signed with SigV4 (region = the zonegroup, "default"); RGW
# refuses requests without x-amz-content-sha256. Prints the HTTP status.
s3() {
  curl -sS -o "$dir/run/s3.out" -w '%{http_code}' --max-time 30 \
    --aws-sigv4 "aws:amz:default:s3" --user "$ACCESS_KEY:$SECRET_KEY" \
    -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" "$@"
}

rgw_answers() {
  local code
  code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$1/") || true
  [[ "$code" =~ ^[1-5][0-9][0-9]$ ]]
}

write_conf() {
  local fsid=$1
  cat >"$dir/ceph.conf" <<EOF
# Written by scripts/rgw.sh: a throwaway single-node cluster on 127.0.0.1.
[global]
fsid = $fsid
mon host = [v2:127.0.0.1:$mon_port]
mon initial members = a
public addr = 127.0.0.1
cluster addr = 127.0.0.1
ms bind ipv6 = false
ms bind msgr1 = false
ms bind port min = $osd_port_min
ms bind port max = $((osd_port_min + 99))
auth cluster required = none
auth service required = none
auth client required = none
# Without this, clients (radosgw among them) insist on the "secure" mode,
# which needs cephx, and retry forever.
ms mon client mode = crc

run dir = $dir/run
log file = $dir/log/\$name.log
admin socket = \$run_dir/\$name.asok
crash dir = $dir/crash
mon cluster log file = $dir/log/cluster.log
keyring = $dir/keyring

# One OSD: one copy, no failure domain above the OSD, few PGs; radosgw
# creates about eight pools.
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon warn on pool no redundancy = false
mon max pg per osd = 1000
# Free disk space does not matter: the OSD stores its data in memory.
mon data avail crit = 0
mon data avail warn = 0
# The monitor batches map changes for paxos propose interval (default 1 s);
# bringing up the OSD and radosgw's pools takes a dozen of them in a row, so
# a short interval cuts the time to ready from ~18 s to ~2 s.
paxos propose interval = 0.05
paxos min wait = 0.01

# A small machine: few threads.
ms async op threads = 2

[mon]
mon data = $dir/mon

[osd]
osd data = $dir/osd
osd objectstore = memstore
memstore device bytes = $memstore_bytes
osd op num shards = 2
osd op num threads per shard = 1

[client]
admin socket = \$run_dir/\$name.\$pid.asok
log file = $dir/log/client.log

[client.rgw.x]
admin socket = \$run_dir/\$name.asok
log file = $dir/log/rgw.log
# tcp_nodelay: with Nagle's algorithm on, beast holds a small body back
# until its headers are acknowledged, which a client on a kept-alive
# connection delays by up to 40 ms: a small GET or LIST took 44 ms, 1 ms
# with this (measured).
rgw frontends = beast $beast_endpoints tcp_nodelay=1
rgw data = $dir/rgw
EOF
}

start() {
  local t0 t fsid osd_uuid osd_id code
  if [[ -e "$dir" && ! -e "$dir/$MARKER" ]] && [[ -n "$(ls -A "$dir")" ]]; then
    echo "rgw.sh: $dir exists, is not empty and was not made by rgw.sh; refusing to use it" >&2
    exit 1
  fi
  if alive mon || alive osd || alive rgw; then
    echo "rgw.sh: a cluster is already running in $dir; run: $0 stop $dir" >&2
    exit 1
  fi
  CKPT_SETUP_S3=1 bash "$repo/scripts/setup.sh"

  # A fresh cluster each time; the previous run's logs go too.
  rm -rf "$dir/mon" "$dir/osd" "$dir/rgw" "$dir/run" "$dir/log" "$dir/crash" \
    "$dir/ceph.conf" "$dir/monmap" "$dir/s3.env"
  mkdir -p "$dir/mon" "$dir/osd" "$dir/rgw" "$dir/run" "$dir/log" "$dir/crash"
  touch "$dir/$MARKER"
  fsid=$(cat /proc/sys/kernel/random/uuid)
  write_conf "$fsid"
  export CEPH_CONF="$dir/ceph.conf"

  started=1
  t0=$(now)
  monmaptool --create --fsid "$fsid" --addv a "[v2:127.0.0.1:$mon_port]" "$dir/monmap" >/dev/null ||
    fail "monmaptool failed"
  ceph-mon -c "$dir/ceph.conf" --mkfs -i a --monmap "$dir/monmap" >>"$dir/log/mon.out" 2>&1 ||
    fail "ceph-mon --mkfs failed" mon
  launch mon ceph-mon -i a
  wait_for "monitor on 127.0.0.1:$mon_port (ceph mon stat)" mon ceph_ mon stat
  t=$(since "$t0")
  echo "rgw.sh: monitor up after $t s"

  osd_uuid=$(cat /proc/sys/kernel/random/uuid)
  osd_id=$(ceph_ osd new "$osd_uuid" 2>>"$dir/log/osd.out") || fail "ceph osd new failed" osd
  [[ "$osd_id" == 0 ]] || fail "ceph osd new returned id '$osd_id', expected 0" osd
  ceph-osd -c "$dir/ceph.conf" -i 0 --mkfs --osd-uuid "$osd_uuid" >>"$dir/log/osd.out" 2>&1 ||
    fail "ceph-osd --mkfs failed" osd
  launch osd ceph-osd -i 0
  wait_for "OSD 0 up (ceph osd dump)" osd osd_up
  echo "rgw.sh: OSD up after $(since "$t0") s"

  ceph_ osd pool create ckpt-probe 8 >/dev/null 2>>"$dir/log/osd.out" ||
    fail "ceph osd pool create failed" mon osd
  ceph_ osd pool application enable ckpt-probe rados >/dev/null 2>&1 || true
  wait_for "first RADOS write (rados put)" osd rados_put
  echo "rgw.sh: RADOS write done after $(since "$t0") s"

  launch rgw radosgw -n client.rgw.x
  wait_for "radosgw answering HTTP on $endpoint" rgw rgw_answers "$endpoint"
  for addr in "${extra_addrs[@]}"; do
    wait_for "radosgw answering HTTP on http://$addr:$port" rgw rgw_answers "http://$addr:$port"
  done
  echo "rgw.sh: radosgw answering after $(since "$t0") s"

  timeout 60 radosgw-admin -c "$dir/ceph.conf" user create --uid ckpt-test \
    --display-name "ckpt tests" --access-key "$ACCESS_KEY" --secret "$SECRET_KEY" \
    >"$dir/run/user.json" 2>>"$dir/log/rgw.out" || fail "radosgw-admin user create failed" rgw
  code=$(s3 -X PUT "$endpoint/$bucket") || code="curl failed"
  [[ "$code" == 200 ]] ||
    fail "creating bucket $bucket answered $code: $(cat "$dir/run/s3.out" 2>/dev/null)" rgw

  cat >"$dir/s3.env" <<EOF
export AWS_ENDPOINT_URL=$endpoint
export AWS_REGION=default
export AWS_ACCESS_KEY_ID=$ACCESS_KEY
export AWS_SECRET_ACCESS_KEY=$SECRET_KEY
export CKPT_TEST_S3_BUCKET=$bucket
EOF
  started=0
  echo "rgw.sh: S3 ready at $endpoint (bucket $bucket) in $(since "$t0") s"
  echo "rgw.sh: for the tests: eval \"\$(bash scripts/rgw.sh env $dir)\""
}

on_exit() {
  local rc=$?
  if ((started)); then
    echo "rgw.sh: start failed (exit status $rc)" >&2
    show_logs mon osd rgw
    echo "rgw.sh: stopping what was started" >&2
    stop_daemons
  fi
}

[[ $# -ge 2 ]] || usage
cmd=$1
mkdir_dir() { mkdir -p "$1" && cd "$1" && pwd; }
case "$cmd" in
start)
  [[ $# -le 3 ]] || usage
  dir=$(mkdir_dir "$2")
  port=${3:-7480}
  mon_port=${CKPT_RGW_MON_PORT:-3300}
  osd_port_min=${CKPT_RGW_OSD_PORT_MIN:-6800}
  memstore_bytes=${CKPT_RGW_MEMSTORE_BYTES:-$((4 << 30))}
  bucket=${CKPT_RGW_BUCKET:-ckpt-test}
  timeout=${CKPT_RGW_TIMEOUT:-120}
  endpoint="http://127.0.0.1:$port"
  addrs=${CKPT_RGW_ADDR:-}
  read -r -a extra_addrs <<<"${addrs//,/ }"
  beast_endpoints="endpoint=127.0.0.1:$port"
  for addr in "${extra_addrs[@]}"; do
    [[ "$addr" =~ ^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$ ]] ||
      { echo "rgw.sh: CKPT_RGW_ADDR: '$addr' is not an IPv4 address" >&2; exit 2; }
    ip -4 -o addr show 2>/dev/null | grep -q " inet $addr/" ||
      { echo "rgw.sh: CKPT_RGW_ADDR: $addr is not an address of this machine" >&2; exit 2; }
    beast_endpoints+=" endpoint=$addr:$port"
  done
  started=0
  trap on_exit EXIT
  start
  ;;
env)
  [[ $# -eq 2 ]] || usage
  dir=$(cd "$2" 2>/dev/null && pwd) || { echo "rgw.sh: no directory $2" >&2; exit 1; }
  [[ -f "$dir/s3.env" ]] || { echo "rgw.sh: no cluster was started in $dir" >&2; exit 1; }
  alive rgw || { echo "rgw.sh: the cluster in $dir is not running" >&2; exit 1; }
  cat "$dir/s3.env"
  ;;
stop)
  [[ $# -le 3 ]] || usage
  purge=0
  if [[ $# -eq 3 ]]; then
    [[ "$3" == --purge ]] || usage
    purge=1
  fi
  dir=$(cd "$2" 2>/dev/null && pwd) || { echo "rgw.sh: nothing to stop in $2"; exit 0; }
  t0=$(now)
  stop_daemons
  echo "rgw.sh: stopped in $(since "$t0") s"
  if ((purge)) && [[ -e "$dir/$MARKER" ]]; then
    rm -rf "$dir"
  fi
  ;;
*) usage ;;
esac
