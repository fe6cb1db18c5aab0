#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Server CPU time per answered query of a NAT translator
# answering the cluster name from its polled cache, versus the load-balancer
# answer path (knotd + mod-tgcluster with live nodes). Same method as
# cpu_per_query.sh: both servers run at once, rounds interleaved (order flips
# every round), dnsperf pinned to CLIENT_CPU, every knotd thread re-pinned to
# SERVER_CPU; CPU per query = delta(utime+stime of the knotd PID from
# /proc/PID/stat) / queries completed.
#
# The LB (3 live simulated nodes on 127.0.0.11-13) is also the translator's
# upstream; neither maps addresses, so both send the same 3 A records (same
# response size). The translator's CPU includes its poller thread.
#
# Env: ROUNDS=5 DURATION=10 CLIENTS=10 OUTSTANDING=100 LB_PORT=25365
#      TR_PORT=25366 NODE_PORT=15900 SERVER_CPU=1 CLIENT_CPU=0 UDP_WORKERS=1
#      MODULE_SO=build/mod-tgcluster.so KEEP=1 OUT=...
set -u
. "$(dirname "$0")/lib.sh"

ROUNDS=${ROUNDS:-5} DURATION=${DURATION:-10} CLIENTS=${CLIENTS:-10}
OUTSTANDING=${OUTSTANDING:-100}
LB_PORT=${LB_PORT:-25365} TR_PORT=${TR_PORT:-25366}
command -v dnsperf >/dev/null || die "dnsperf missing: apt-get install -y dnsperf"

bench_init translator
OUT=${OUT:-${TMPDIR:-/tmp}/tgc-bench-results/translator-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT"
SHM_LB=tgcluster.bench-tr-lb-$$
SHM_TR=tgcluster.bench-tr-tr-$$
SHM_NAMES+=("$SHM_LB" "$SHM_TR")

for ip in "${NODE_IPS[@]}"; do node_start "$ip"; done

knot_write lb "$LB_PORT" "" "    node: [ ${NODE_IPS[0]}, ${NODE_IPS[1]}, ${NODE_IPS[2]} ]
    check-port: $NODE_PORT
    ttl: 5
    policy: ordered
    shm: $SHM_LB"
knot_write translator "$TR_PORT" "" "    upstream: lb
    upstream-interval: 1000
    upstream-timeout: 500
    ttl: 5
    shm: $SHM_TR" --remote "lb=127.0.0.1@$LB_PORT"
knot_start lb
knot_start translator
ALL3="${NODE_IPS[*]}"
wait_answer lb "$ALL3" 5 || die "LB does not answer the 3 live nodes"
wait_answer translator "$ALL3" 5 || die "translator does not answer the 3 nodes"
for n in lb translator; do
	kdig @127.0.0.1 -p "${KNOT_PORT[$n]}" "$ZONE" A >"$OUT/answer-$n.txt" 2>&1
done

QFILE=$WORK/queries.txt
for i in $(seq 1 100); do echo "$ZONE A"; done >"$QFILE"
HZ=$(getconf CLK_TCK)

{ machine_notes
  echo "rounds=$ROUNDS duration=${DURATION}s clients=$CLIENTS outstanding=$OUTSTANDING udp-workers=$UDP_WORKERS"
  echo "server cpu=$SERVER_CPU client cpu=$CLIENT_CPU CLK_TCK=$HZ"
  echo "lb response size: $(grep -o 'Received [0-9]* B' "$OUT/answer-lb.txt")," \
       "translator response size: $(grep -o 'Received [0-9]* B' "$OUT/answer-translator.txt")"
} | tee "$OUT/meta.txt" >&2

cpu_rounds translator lb
wait_answer translator "$ALL3" 2 || log "WARN: translator answer changed during the runs"
"$KNOTC" -c "${KNOT_CONF[translator]}" zone-stats "$ZONE" >"$OUT/translator-stats.txt" 2>&1

cpu_summary translator lb ' (bound: <= 1.1)'
log "raw results in $OUT"
