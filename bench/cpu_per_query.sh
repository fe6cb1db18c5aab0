#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Server CPU time per answered query: knotd + mod-tgcluster (3 live simulated
# nodes on 127.0.0.11-13) versus knotd serving a static zone with the same 3 A
# records. Both servers run at once; rounds are interleaved (the order flips
# every round) so machine noise hits both alike. dnsperf is pinned to
# CLIENT_CPU, every knotd thread to SERVER_CPU.
#
# CPU per query = delta(utime+stime of the knotd PID, /proc/PID/stat) /
#                 queries completed (dnsperf), per run.
#
# Env: ROUNDS=5 DURATION=10 CLIENTS=10 OUTSTANDING=100 QPS_LIMIT= (empty =
#      unlimited) MOD_PORT=25363 STATIC_PORT=25364 NODE_PORT=15900
#      SERVER_CPU=1 CLIENT_CPU=0 UDP_WORKERS=1 POLICY=round-robin
#      MODULE_SO=build/mod-tgcluster.so KEEP=1 (keep the temp dir)
#      OUT=${TMPDIR:-/tmp}/tgc-bench-results/cpu-<timestamp> (raw results)
#      SIGNED=1: compare the module in a zone signed by knotd ("signed")
#      with the module in an unsigned zone ("module"), both queried with the
#      DO bit (dnsperf -D), instead of module vs static zone.
#      BASE_POLICY=round-robin: compare the module with POLICY against the
#      module with BASE_POLICY ("static" in the summary), same nodes.
set -u
. "$(dirname "$0")/lib.sh"

ROUNDS=${ROUNDS:-5} DURATION=${DURATION:-10} CLIENTS=${CLIENTS:-10}
OUTSTANDING=${OUTSTANDING:-100} QPS_LIMIT=${QPS_LIMIT:-}
MOD_PORT=${MOD_PORT:-25363} STATIC_PORT=${STATIC_PORT:-25364}
POLICY=${POLICY:-round-robin} SIGNED=${SIGNED:-0} BASE_POLICY=${BASE_POLICY:-}
command -v dnsperf >/dev/null || die "dnsperf missing: apt-get install -y dnsperf"

bench_init cpu
OUT=${OUT:-${TMPDIR:-/tmp}/tgc-bench-results/cpu-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT"
SHM=tgcluster.bench-cpu-$$
SHM_NAMES+=("$SHM")

for ip in "${NODE_IPS[@]}"; do node_start "$ip"; done

if [ "$SIGNED" = 1 ]; then
	knot_write static "$STATIC_PORT" "" "    node: [ ${NODE_IPS[0]}, ${NODE_IPS[1]}, ${NODE_IPS[2]} ]
    check-port: $NODE_PORT
    ttl: 5
    policy: $POLICY
    shm: $SHM-s" --zone-item "dnssec-signing: on"
	SHM_NAMES+=("$SHM-s")
	DNSPERF_ARGS=-D
elif [ -n "$BASE_POLICY" ]; then
	knot_write static "$STATIC_PORT" "" "    node: [ ${NODE_IPS[0]}, ${NODE_IPS[1]}, ${NODE_IPS[2]} ]
    check-port: $NODE_PORT
    ttl: 5
    policy: $BASE_POLICY
    shm: $SHM-s"
	SHM_NAMES+=("$SHM-s")
else
	knot_write static "$STATIC_PORT" \
		"$(printf '@ 5 IN A %s\n' "${NODE_IPS[@]}")" ""
fi
knot_write module "$MOD_PORT" "" "    node: [ ${NODE_IPS[0]}, ${NODE_IPS[1]}, ${NODE_IPS[2]} ]
    check-port: $NODE_PORT
    ttl: 5
    policy: $POLICY
    shm: $SHM"
knot_start static
knot_start module
ALL3="${NODE_IPS[*]}"
wait_answer static "$ALL3" 5 || die "static zone answer wrong"
wait_answer module "$ALL3" 5 || die "module does not answer the 3 live nodes"
if [ "$SIGNED" = 1 ]; then
	# knotd 3.2 gives the module the keys that exist at load: reload once
	# the zone is signed (docs: Signed answers).
	for i in $(seq 1 100); do
		kdig @127.0.0.1 -p "$STATIC_PORT" "$ZONE" DNSKEY +short | grep -q . && break
		sleep 0.1
	done
	"$KNOTC" -c "${KNOT_CONF[static]}" reload >/dev/null
	for i in $(seq 1 100); do
		kdig @127.0.0.1 -p "$STATIC_PORT" +dnssec "$ZONE" A | grep -q 'RRSIG' && break
		sleep 0.1
	done
	kdig @127.0.0.1 -p "$STATIC_PORT" +dnssec "$ZONE" A | grep -q 'RRSIG' ||
		die "signed module answers carry no RRSIG"
fi
for n in static module; do
	kdig @127.0.0.1 -p "${KNOT_PORT[$n]}" ${DNSPERF_ARGS:+ +dnssec} "$ZONE" A >"$OUT/answer-$n.txt" 2>&1
done

QFILE=$WORK/queries.txt
for i in $(seq 1 100); do echo "$ZONE A"; done >"$QFILE"
HZ=$(getconf CLK_TCK)

{ machine_notes
  echo "rounds=$ROUNDS duration=${DURATION}s clients=$CLIENTS outstanding=$OUTSTANDING qps_limit=${QPS_LIMIT:-unlimited} udp-workers=$UDP_WORKERS policy=$POLICY"
  echo "server cpu=$SERVER_CPU client cpu=$CLIENT_CPU CLK_TCK=$HZ"
  echo "static response size: $(grep -o 'Received [0-9]* B' "$OUT/answer-static.txt")," \
       "module response size: $(grep -o 'Received [0-9]* B' "$OUT/answer-module.txt")"
} | tee "$OUT/meta.txt" >&2

cpu_rounds module static
wait_answer module "$ALL3" 2 || log "WARN: module answer changed during the runs"

if [ "$SIGNED" = 1 ]; then
	cpu_summary static module " (static = module in a signed zone, DO queries)"
elif [ -n "$BASE_POLICY" ]; then
	cpu_summary module static " (static = the module with policy $BASE_POLICY)"
else
	cpu_summary module static
fi
log "raw results in $OUT"
