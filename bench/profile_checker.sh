#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Where the checker's CPU goes: knotd + mod-tgcluster checking NODES simulated
# nodes (tests/integration/tgc.py nodesim, one process) at INTERVAL ms, no queries; perf
# samples the knotd process (software event cpu-clock, kernel and user) for
# WINDOW s. Reports knotd's CPU % over the window, the split by thread, and
# the top symbols (perf report --sort dso,symbol).
#
# CHECK=http or https profiles those checks (the simulator serves them; https
# with a certificate of a CA made here, verified with check-tls-ca).
#
# Env: NODES=1000 INTERVAL=1000 WINDOW=30 NODE_PORT=15993 PORT=25391
#      CHECK=tcp MODULE_SO=build/mod-tgcluster.so OUT= KEEP=
set -u
. "$(dirname "$0")/lib.sh"
NODES=${NODES:-1000} INTERVAL=${INTERVAL:-1000} WINDOW=${WINDOW:-30}
NODE_PORT=${NODE_PORT:-15993} PORT=${PORT:-25391} CHECK=${CHECK:-tcp}
command -v perf >/dev/null || die "perf missing"
bench_init profck
OUT=${OUT:-${TMPDIR:-/tmp}/tgc-bench-results/profile-checker-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT"
SIM_PID=""
trap '[ -n "$SIM_PID" ] && { kill -TERM "$SIM_PID" 2>/dev/null; wait "$SIM_PID"; }; bench_cleanup' EXIT
mkdir -p "$WORK/pki"
( cd "$WORK/pki" &&
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-keyout ca.pem.key -out ca.pem -subj "/CN=bench CA" -days 2 &&
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-keyout node.pem.key -out node.csr -subj /CN=bench.test &&
  printf 'subjectAltName=DNS:bench.test\n' >node.ext &&
  openssl x509 -req -in node.csr -CA ca.pem -CAkey ca.pem.key -CAcreateserial \
	-out node.pem -days 2 -extfile node.ext ) >/dev/null 2>&1 || die "openssl failed"
check_items="    check: $CHECK
    check-host: bench.test"
HTTPS_ARGS=()
[ "$CHECK" = https ] && check_items="$check_items
    check-tls-ca: $WORK/pki/ca.pem" && HTTPS_ARGS=(--tls "$WORK/pki/node.pem")
taskset -c "$CLIENT_CPU" "$PYTHON" "$HARNESS" nodesim --first 127.2.0.1 --count "$NODES" \
	--port "$NODE_PORT" --mode http200 ${HTTPS_ARGS[@]+"${HTTPS_ARGS[@]}"} \
	--list "$WORK/nodes.txt" >"$WORK/sim.log" 2>&1 &
SIM_PID=$!
for i in $(seq 1 300); do grep -q '^ready' "$WORK/sim.log" && break; sleep 0.1; done
grep -q '^ready' "$WORK/sim.log" || die "simulator did not start"
list=$(paste -sd, "$WORK/nodes.txt" | sed 's/,/, /g')
SHM=tgcluster.bench-profck-$$; SHM_NAMES+=("$SHM")
knot_write module "$PORT" "" "    node: [ $list ]
$check_items
    check-port: $NODE_PORT
    check-interval: $INTERVAL
    answers: 3
    shm: $SHM"
knot_start module
sleep 5
pid=${KNOT_PID[module]}
{ machine_notes; echo "nodes=$NODES interval=${INTERVAL}ms window=${WINDOW}s"; } | tee "$OUT/meta.txt" >&2
HZ=$(getconf CLK_TCK)
declare -A t0
for t in /proc/$pid/task/*; do t0[${t##*/}]=$(awk '{print $14+$15}' "$t/stat"); done
c0=$(cpu_ticks "$pid")
perf record -e cpu-clock -F 2000 -p "$pid" -o "$OUT/perf.data" -- sleep "$WINDOW" >"$OUT/perf-record.log" 2>&1
c1=$(cpu_ticks "$pid")
{
	awk -v d=$((c1 - c0)) -v hz="$HZ" -v t="$WINDOW" -v n="$NODES" -v i="$INTERVAL" 'BEGIN{
		printf "knotd CPU %.2f %% of one core (with perf sampling), %.1f us per probe\n",
		       100*d/hz/t, d/hz*1e6/(t*n*1000/i)}'
	echo "by thread (ticks over the window, name):"
	for t in /proc/$pid/task/*; do
		id=${t##*/}; now=$(awk '{print $14+$15}' "$t/stat")
		d=$(( now - ${t0[$id]:-$now} )); [ "$d" -gt 0 ] && echo "  $id $(cat "$t/comm") $d"
	done
	echo "top symbols (perf report --sort dso,symbol):"
	perf report -i "$OUT/perf.data" --stdio --sort dso,symbol 2>/dev/null | grep -v '^#' | grep -v '^$' | head -40
} | tee "$OUT/summary.txt"
log "results in $OUT"
