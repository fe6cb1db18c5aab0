#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Instructions per answered query, by function: knotd under valgrind
# --tool=callgrind, once with mod-tgcluster answering the cluster name (3 live
# nodes, as cpu_per_query.sh) and once with a static zone holding the same 3
# A records. The counters are zeroed (callgrind_control -z) after a warm-up,
# QUERIES queries are sent with dnsperf, then dumped (callgrind_control -d):
# Ir / completed queries is the instruction count per query of the whole
# server (UDP receive to send, plus the idle checker). Deterministic, so it
# shows small changes on a busy machine where CPU time cannot (no hardware
# counters here: `perf stat -e instructions` is "not supported").
#
# Env: QUERIES=20000 SERVERS="static module" POLICY=round-robin ANSWERS=0
#      NODES=3 (module nodes on 127.0.0.11...; more need the harness simulator, tgc.py nodesim:
#      NODES>3 starts it on 127.1.0.1...) PORT_BASE=25381 NODE_PORT=15900
#      MODULE_SO=build/mod-tgcluster.so OUT= KEEP=
set -u
. "$(dirname "$0")/lib.sh"
QUERIES=${QUERIES:-20000} SERVERS=${SERVERS:-static module} POLICY=${POLICY:-round-robin}
ANSWERS=${ANSWERS:-0} NODES=${NODES:-3} PORT_BASE=${PORT_BASE:-25381}
command -v valgrind >/dev/null || die "valgrind missing"
command -v callgrind_control >/dev/null || die "callgrind_control missing"
bench_init profile
OUT=${OUT:-${TMPDIR:-/tmp}/tgc-bench-results/profile-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT"
SIM_PID=""
trap '[ -n "$SIM_PID" ] && { kill -TERM "$SIM_PID" 2>/dev/null; wait "$SIM_PID"; }; bench_cleanup' EXIT

if (( NODES > 3 )); then
	NODE_PORT=15991
	taskset -c "$CLIENT_CPU" "$PYTHON" "$HARNESS" nodesim --first 127.1.0.1 --count "$NODES" \
		--port "$NODE_PORT" --mode tcp --list "$WORK/nodes.txt" >"$WORK/sim.log" 2>&1 &
	SIM_PID=$!
	for i in $(seq 1 300); do grep -q '^ready' "$WORK/sim.log" && break; sleep 0.1; done
	mapfile -t IPS <"$WORK/nodes.txt"
else
	IPS=("${NODE_IPS[@]:0:$NODES}")
	for ip in "${IPS[@]}"; do node_start "$ip"; done
fi
list=$(printf '%s, ' "${IPS[@]}"); list=${list%, }
QFILE=$WORK/queries.txt
for i in $(seq 1 100); do echo "$ZONE A"; done >"$QFILE"
{ machine_notes; echo "queries=$QUERIES nodes=$NODES answers=$ANSWERS policy=$POLICY"; } | tee "$OUT/meta.txt" >&2

port=$PORT_BASE
for n in $SERVERS; do
	if [ "$n" = static ]; then
		knot_write static "$port" "$(printf '@ 5 IN A %s\n' "${IPS[@]:0:3}")" ""
	else
		shm=tgcluster.bench-profile-$$-$n; SHM_NAMES+=("$shm")
		knot_write "$n" "$port" "" "    node: [ $list ]
    check-port: $NODE_PORT
    ttl: 5
    answers: $ANSWERS
    policy: $POLICY
    shm: $shm"
	fi
	port=$((port + 1))
	d=$WORK/$n
	taskset -c "$SERVER_CPU" valgrind --tool=callgrind --callgrind-out-file="$OUT/callgrind.$n.%p" \
		"$KNOTD" -c "${KNOT_CONF[$n]}" >"$d/knotd.log" 2>&1 &
	KNOT_PID[$n]=$!
	for i in $(seq 1 600); do
		kdig @127.0.0.1 -p "${KNOT_PORT[$n]}" +tcp +timeout=1 +retry=0 "$ZONE" SOA +short 2>/dev/null |
			grep -q hostmaster && break
		sleep 0.1
	done
	sleep 3   # first probes done
	knot_pin "$n"
	taskset -c "$CLIENT_CPU" dnsperf -s 127.0.0.1 -p "${KNOT_PORT[$n]}" -d "$QFILE" -n 10 >/dev/null 2>&1  # warm-up
	callgrind_control -z "${KNOT_PID[$n]}" >/dev/null
	taskset -c "$CLIENT_CPU" dnsperf -s 127.0.0.1 -p "${KNOT_PORT[$n]}" -d "$QFILE" -c 1 -q 20 \
		-n $(( QUERIES / 100 )) >"$OUT/dnsperf.$n.txt" 2>&1
	callgrind_control -d "${KNOT_PID[$n]}" >/dev/null
	done_q=$(awk '/Queries completed:/{print $3}' "$OUT/dnsperf.$n.txt")
	kpid=${KNOT_PID[$n]}
	knot_stop "$n"
	f=$OUT/callgrind.$n.$kpid.1   # the dump of callgrind_control -d
	[ -r "$f" ] || die "no callgrind dump $f"
	ir=$(callgrind_annotate "$f" 2>/dev/null | awk '/PROGRAM TOTALS/{gsub(",","",$1); print $1; exit}')
	printf "%s\tqueries=%s\tIr=%s\tIr/query=%.0f\n" "$n" "$done_q" "$ir" "$(awk -v a="$ir" -v b="$done_q" 'BEGIN{print a/b}')" |
		tee -a "$OUT/summary.txt"
	callgrind_annotate --inclusive=no "$f" 2>/dev/null | sed -n '1,60p' >"$OUT/top-self.$n.txt"
	callgrind_annotate --inclusive=yes "$f" 2>/dev/null | sed -n '1,80p' >"$OUT/top-incl.$n.txt"
done
log "results in $OUT"
