#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# The translator's forwarding path under a flood of queries for random names
# under the zone, and what it does to the cluster name answered from the
# cache. One LB knotd (3 live simulated nodes) is the translator's upstream.
# Phases of DURATION s each, flood_probe.py on CLIENT_CPU probing the cluster
# name over UDP at PROBE/s (one query at a time, TIMEOUT s each) while
# flooding random names over UDP (an answer with TC asked again over TCP by
# TCP_RETRY threads, as a resolver does):
#   up-quiet   LB up, no flood
#   up-flood   LB up, FLOOD_HIGH/s random names (forwarded, NXDOMAIN)
#   gone-now   the LB goes away (its port then held by a silent UDP socket:
#              no reply, no ICMP) at the start of the phase, FLOOD_HIGH/s
#              random names: the poller needs about an interval to see it
#   gone-5     LB gone (found down by the poller), 5/s random names
#   gone-flood LB gone, FLOOD_HIGH/s random names
#   drop-5, drop-flood   a second translator whose upstream (fake_upstream.py)
#              answers the polls but drops the random names: every forward
#              waits the whole 500 ms, the poller keeps seeing the upstream
#              up; 5/s and FLOOD_HIGH/s random names
# Per phase: probe answered/sent, stale answers, latency p50/p99/max, flood
# answers by RCODE (UDP; tcp_*: the retries over TCP), knotd CPU time (all
# threads, ticks). The translators' counters at the end go to
# $OUT/translator*-stats.txt.
#
# Env: DURATION=10 PROBE=20 FLOOD_HIGH=200 TIMEOUT=1.0 UDP_WORKERS=2
#      TCP_WORKERS=2 TCP_RETRY=8 FORWARD_UDP= (empty: item not written, the
#      default truncate; "forward" forwards over UDP too)
#      FORWARD_LIMIT= (empty: item not written, the default) LB_PORT=25375
#      TR_PORT=25376 TR2_PORT=25377 FAKE_PORT=25378 NODE_PORT=15900 SERVER_CPU=1 CLIENT_CPU=0
#      MODULE_SO=build/mod-tgcluster.so KEEP=1 OUT=...
set -u
UDP_WORKERS=${UDP_WORKERS:-2}
TCP_WORKERS=${TCP_WORKERS:-2}
. "$(dirname "$0")/lib.sh"

DURATION=${DURATION:-10} PROBE=${PROBE:-20} FLOOD_HIGH=${FLOOD_HIGH:-200}
TIMEOUT=${TIMEOUT:-1.0} FORWARD_LIMIT=${FORWARD_LIMIT:-}
FORWARD_UDP=${FORWARD_UDP:-} TCP_RETRY=${TCP_RETRY:-8}
LB_PORT=${LB_PORT:-25375} TR_PORT=${TR_PORT:-25376}
TR2_PORT=${TR2_PORT:-25377} FAKE_PORT=${FAKE_PORT:-25378}

bench_init flood
OUT=${OUT:-${TMPDIR:-/tmp}/tgc-bench-results/forward-flood-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT"
SHM_LB=tgcluster.bench-fl-lb-$$
SHM_TR=tgcluster.bench-fl-tr-$$
SHM_TR2=tgcluster.bench-fl-tr2-$$
SHM_NAMES+=("$SHM_LB" "$SHM_TR" "$SHM_TR2")

for ip in "${NODE_IPS[@]}"; do node_start "$ip"; done
knot_write lb "$LB_PORT" "" "    node: [ ${NODE_IPS[0]}, ${NODE_IPS[1]}, ${NODE_IPS[2]} ]
    check-port: $NODE_PORT
    policy: ordered
    shm: $SHM_LB"
knot_write translator "$TR_PORT" "" "    upstream: lb
    upstream-interval: 1000
    upstream-timeout: 500
    stale-limit: 3600
    shm: $SHM_TR${FORWARD_LIMIT:+
    forward-limit: $FORWARD_LIMIT}${FORWARD_UDP:+
    forward-udp: $FORWARD_UDP}" --remote "lb=127.0.0.1@$LB_PORT"
knot_write translator2 "$TR2_PORT" "" "    upstream: lb
    upstream-interval: 1000
    upstream-timeout: 500
    stale-limit: 3600
    shm: $SHM_TR2${FORWARD_LIMIT:+
    forward-limit: $FORWARD_LIMIT}${FORWARD_UDP:+
    forward-udp: $FORWARD_UDP}" --remote "lb=127.0.0.1@$FAKE_PORT"
port_free "$FAKE_PORT" || die "port $FAKE_PORT in use (set FAKE_PORT)"
"$PYTHON" "$BENCH_DIR/fake_upstream.py" --port "$FAKE_PORT" --zone "$ZONE" \
	--answer "$(echo "${NODE_IPS[*]}" | tr ' ' ,)" >"$WORK/fake.log" 2>&1 &
NODE_PID[fake]=$!
knot_start lb
knot_start translator
knot_start translator2
ALL3="${NODE_IPS[*]}"
wait_answer translator "$ALL3" 5 || die "translator does not answer the 3 nodes"

{ machine_notes
  echo "duration=${DURATION}s probe=${PROBE}/s flood_high=${FLOOD_HIGH}/s timeout=${TIMEOUT}s" \
       "udp-workers=$UDP_WORKERS tcp-workers=$TCP_WORKERS tcp-retry=$TCP_RETRY" \
       "forward-udp=${FORWARD_UDP:-default} forward-limit=${FORWARD_LIMIT:-default}" \
       "upstream-timeout=500ms (1 upstream address: a forward waits at most 500 ms)"
} | tee "$OUT/meta.txt" >&2

phase() {   # phase NAME FLOOD_RATE [TRANSLATOR]
	local c0 c1 res tr=${3:-translator}
	knot_pin "$tr"
	c0=$(cpu_ticks "${KNOT_PID[$tr]}")
	res=$(taskset -c "$CLIENT_CPU" "$PYTHON" "$BENCH_DIR/flood_probe.py" --port "${KNOT_PORT[$tr]}" \
		--zone "$ZONE" --flood "$2" --probe "$PROBE" --duration "$DURATION" \
		--timeout "$TIMEOUT" --tcp-retry "$TCP_RETRY") || die "flood_probe failed"
	c1=$(cpu_ticks "${KNOT_PID[$tr]}")
	echo "phase=$1 flood_rate=$2 knotd_cpu_ticks=$((c1 - c0)) $res" | tee -a "$OUT/phases.txt" >&2
}

phase up-quiet 0
phase up-flood "$FLOOD_HIGH"
# The LB goes away: its port now swallows every datagram.
knot_stop lb
socat -u "UDP-RECV:$LB_PORT,bind=127.0.0.1" /dev/null >>"$WORK/blackhole.log" 2>&1 &
NODE_PID[blackhole]=$!
phase gone-now "$FLOOD_HIGH"
phase gone-5 5
phase gone-flood "$FLOOD_HIGH"
wait_answer translator2 "$ALL3" 5 || die "translator2 does not answer the 3 nodes"
phase drop-5 5 translator2
phase drop-flood "$FLOOD_HIGH" translator2
for n in translator translator2; do
	"$KNOTC" -c "${KNOT_CONF[$n]}" zone-stats "$ZONE" >"$OUT/$n-stats.txt" 2>&1
	echo "$n:" >&2
	grep -E 'forwarded|servfail|busy|recent-failure|unreachable|stale|cached|to-tcp' \
		"$OUT/$n-stats.txt" | sed 's/^/  /' >&2
done
log "raw results in $OUT"
