# shellcheck shell=bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Contender D for /work/shared/bench/peers (sourced by its lib.sh through
# EXTRA_PEERS_DIR=/work/main/bench/peers): knotd 3.2 + mod-tgcluster answering
# internet.intern.netz A with the live nodes of 127.0.0.11-13, TCP connect
# checks on port 5901 (same nodes and port as B_pdns and C_gdnsd).
#
#   D_tgcluster        module defaults: check-interval 1000, check-timeout 500,
#                      check-rise 2, check-fall 2 (only ttl is set: 30 s, the
#                      TTL of the other peers, so every response is 86 bytes)
#   D_tgcluster_tuned  check-interval 100, check-timeout 50 (rise/fall 2)
#   D_tgcluster_b      as D_tgcluster with another build (TGC_MODULE_SO_B):
#                      before/after comparisons in one interleaved run
#
# Env: TGC_MODULE_SO (default: the repo's build/mod-tgcluster.so; copied into
#      the run dir at prepare, so a rebuild does not change a running test),
#      TGC_MODULE_SO_B (D_tgcluster_b), KNOT_UDP_WORKERS=1,
#      D_TGCLUSTER_PORT=25357, D_TGCLUSTER_TUNED_PORT=25358, D_TGCLUSTER_B_PORT=25359,
#      TGC_TTL=30, TGC_EXTRA (more module items, one per line, 4-space indent).
# The shared-memory segment has a fixed name per peer
# (/dev/shm/tgcluster.peerbench.<peer>); prepare removes it, so every start
# begins from unknown states. bench/side_by_side.sh and bench/failover_peers.sh
# remove it on exit.
TGC_PEER_FILE_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TGC_MODULE_SO=${TGC_MODULE_SO:-$TGC_PEER_FILE_DIR/../../build/mod-tgcluster.so}

PEER_PORT[D_tgcluster]=${D_TGCLUSTER_PORT:-25357}
PEER_HC[D_tgcluster]=1
PEER_DESC[D_tgcluster]="knotd 3.2.6 + mod-tgcluster, check tcp:5901, defaults (interval 1000 ms, timeout 500 ms, rise 2, fall 2)"
PEER_PORT[D_tgcluster_tuned]=${D_TGCLUSTER_TUNED_PORT:-25358}
PEER_HC[D_tgcluster_tuned]=1
PEER_DESC[D_tgcluster_tuned]="knotd 3.2.6 + mod-tgcluster, check tcp:5901, interval 100 ms, timeout 50 ms, rise 2, fall 2"
PEER_PORT[D_tgcluster_b]=${D_TGCLUSTER_B_PORT:-25359}
PEER_HC[D_tgcluster_b]=1
PEER_DESC[D_tgcluster_b]="as D_tgcluster, module ${TGC_MODULE_SO_B:-(TGC_MODULE_SO_B unset)}"

# _tgc_prepare PEER RUNDIR PORT MODULE_ITEMS [MODULE_SO]
_tgc_prepare() {
  local p=$1 d=$2 port=$3 items=$4 so=${5:-$TGC_MODULE_SO} shm=tgcluster.peerbench.$1
  [ -r "$so" ] || { echo "$p: module not found: $so" >&2; return 1; }
  mkdir -p "$d/db"
  cp "$so" "$d/mod-tgcluster.so"
  rm -f "/dev/shm/$shm"
  export RUNDIR=$d PORT=$port KNOT_UDP_WORKERS=${KNOT_UDP_WORKERS:-1} CLUSTER_RECORDS=""
  render zone.tmpl >"$d/internet.intern.netz.zone"
  # knot.conf.tmpl of the shared peers, with the module added to the zone.
  render knot.conf.tmpl | sed '/^zone:/,$d' >"$d/knot.conf"
  cat >>"$d/knot.conf" <<CONF
module:
  - id: mod-tgcluster
    file: "$d/mod-tgcluster.so"
mod-tgcluster:
  - id: bench
    node: [ ${NODE_IPS[0]}, ${NODE_IPS[1]}, ${NODE_IPS[2]} ]
    check-port: $NODE_PORT
    ttl: ${TGC_TTL:-30}
    shm: $shm
${items:+$items
}${TGC_EXTRA:+$TGC_EXTRA
}zone:
  - domain: internet.intern.netz
    module: mod-tgcluster/bench
CONF
  knotc -c "$d/knot.conf" conf-check >"$d/conf-check.log" 2>&1 ||
    { echo "$p: conf-check failed:" >&2; cat "$d/conf-check.log" >&2; return 1; }
  PEER_CMD=(knotd -c "$d/knot.conf")
}
peer_D_tgcluster_prepare() { _tgc_prepare D_tgcluster "$1" "${PEER_PORT[D_tgcluster]}" ""; }
peer_D_tgcluster_tuned_prepare() {
  _tgc_prepare D_tgcluster_tuned "$1" "${PEER_PORT[D_tgcluster_tuned]}" \
"    check-interval: 100
    check-timeout: 50"
}
peer_D_tgcluster_b_prepare() {
  _tgc_prepare D_tgcluster_b "$1" "${PEER_PORT[D_tgcluster_b]}" "" "${TGC_MODULE_SO_B:-}"
}
