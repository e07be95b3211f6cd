#!/usr/bin/env bash
# Makes or removes the private bridge through which the network namespaces
# of tests/netns/hosts_test.sh reach RGW: a Linux bridge in this (the root)
# namespace holding ADDR/24, linked to no physical interface. RGW must listen
# on ADDR too (scripts/rgw.sh with CKPT_RGW_ADDR=ADDR), which it can only do
# once the address exists: so scripts/test.sh makes the bridge first.
#
#   scripts/netns_bridge.sh up NAME ADDR   make bridge NAME holding ADDR/24 (a
#                                          bridge NAME that holds it already is
#                                          kept); fails, saying why, if not
#                                          root or without `ip`
#   scripts/netns_bridge.sh down NAME      remove bridge NAME, if it exists
set -euo pipefail

usage() {
  echo "usage: $0 up NAME ADDR | down NAME" >&2
  exit 2
}

up() {
  local name=$1 addr=$2
  [[ $(id -u) == 0 ]] || { echo "netns_bridge.sh: needs root" >&2; return 1; }
  command -v ip >/dev/null || { echo "netns_bridge.sh: no ip command (iproute2)" >&2; return 1; }
  if ip -4 -o addr show dev "$name" 2>/dev/null | grep -q " inet $addr/24 "; then
    return 0
  fi
  ip link del "$name" 2>/dev/null || true
  ip link add "$name" type bridge
  # No spanning tree: a port forwards as soon as it is up, also after a
  # test brought its link down and up again.
  ip link set "$name" type bridge stp_state 0 forward_delay 0
  ip addr add "$addr/24" dev "$name"
  ip link set "$name" up
}

[[ $# -ge 2 ]] || usage
case "$1" in
up)
  [[ $# -eq 3 ]] || usage
  up "$2" "$3"
  ;;
down)
  [[ $# -eq 2 ]] || usage
  ip link del "$2" 2>/dev/null || true
  ;;
*) usage ;;
esac
