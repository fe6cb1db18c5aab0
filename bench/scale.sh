#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Scale: 10, 100, 1000 nodes. One simulator process (tgc.py nodesim)
# listens on N loopback addresses (127.1.0.1 ...) on NODE_PORT; two knotd +
# mod-tgcluster servers check all of them (check: tcp, check-interval
# INTERVAL) and answer the cluster name with `answers: 0` (every live node)
# and `answers: 3`; a third knotd serves a static zone with 3 A records as
# the reference. Per N:
#   - checker CPU: utime+stime of each knotd over IDLE s without queries
#     (% of one core; the static knotd shows knotd's own idle cost);
#   - shared table: size of the segment in /dev/shm, knotd VmRSS;
#   - answer CPU: server CPU per answered query with dnsperf unlimited,
#     ROUNDS x DURATION s, the three servers interleaved (order rotates);
#   - latency at a fixed LAT_QPS (dnsperf -Q) for each server.
# Then, per N and per kind in CHECKS (default "http https"): the simulator
# serves that protocol (https: a full handshake per probe, no tickets, a
# certificate of a CA made here with the openssl CLI, verified by the probes
# with check-tls-ca and check-host), one knotd checks it, and its CPU over
# IDLE s without queries is the checker's (checks.tsv; the nodes seen up and
# the probes served tell whether the simulator kept up). CHECKS="" skips it.
# knotd (every thread) runs on SERVER_CPU, dnsperf and the simulator on
# CLIENT_CPU. Every process is stopped by PID on exit; segments are removed
# by their exact names.
#
# Env: SIZES="10 100 1000" IDLE=60 ROUNDS=3 DURATION=10 INTERVAL=1000
#      NODE_PORT=15990 FIRST=127.1.0.1 LAT_QPS=2000 LAT_DURATION=5
#      CLIENTS=10 OUTSTANDING=100 PORTS="25371 25372 25373" (static ans0 ans3)
#      MODULE_SO=build/mod-tgcluster.so OUT= KEEP= CHECKS="http https"
#      CHECK_SIZES=1000 CHECK_TIMEOUT=500
#      (SIZES="" with CHECKS runs only the http/https part)
set -u
. "$(dirname "$0")/lib.sh"

SIZES=${SIZES-10 100 1000} IDLE=${IDLE:-60} ROUNDS=${ROUNDS:-3} DURATION=${DURATION:-10}
INTERVAL=${INTERVAL:-1000} FIRST=${FIRST:-127.1.0.1} LAT_QPS=${LAT_QPS:-2000}
LAT_DURATION=${LAT_DURATION:-5} CLIENTS=${CLIENTS:-10} OUTSTANDING=${OUTSTANDING:-100}
NODE_PORT=${NODE_PORT:-15990}
CHECKS=${CHECKS-http https} CHECK_TIMEOUT=${CHECK_TIMEOUT:-500}
read -r P_STATIC P_ANS0 P_ANS3 <<<"${PORTS:-25371 25372 25373}"
command -v dnsperf >/dev/null || die "dnsperf missing"

bench_init scale
OUT=${OUT:-${TMPDIR:-/tmp}/tgc-bench-results/scale-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT"
SIM_PID=""
sim_stop() {
	[ -n "$SIM_PID" ] || return 0
	kill -TERM "$SIM_PID" 2>/dev/null; wait "$SIM_PID" 2>/dev/null; SIM_PID=""
}
trap 'sim_stop; bench_cleanup' EXIT
HZ=$(getconf CLK_TCK)
QFILE=$WORK/queries.txt
for i in $(seq 1 100); do echo "$ZONE A"; done >"$QFILE"

{ machine_notes
  echo "sizes=$SIZES idle=${IDLE}s rounds=$ROUNDS duration=${DURATION}s interval=${INTERVAL}ms lat_qps=$LAT_QPS"
  echo "server cpu=$SERVER_CPU client+simulator cpu=$CLIENT_CPU CLK_TCK=$HZ; load: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$OUT/meta.txt" >&2

knot_write static "$P_STATIC" "$(printf '@ 5 IN A %s\n' 127.1.0.1 127.1.0.2 127.1.0.3)" ""
knot_start static

printf "nodes\tserver\tidle_cpu_pct\tseg_bytes\trss_kb\tresp_bytes\tanswer_rrs\ttc\tlat_ms\n" >"$OUT/size.tsv"
printf "nodes\tround\tserver\tqps\tcompleted\tlost\tcpu_us_per_q\n" >"$OUT/runs.tsv"
for N in $SIZES; do
	log "=== $N nodes"
	taskset -c "$CLIENT_CPU" "$PYTHON" "$HARNESS" nodesim --first "$FIRST" --count "$N" \
		--port "$NODE_PORT" --mode tcp --list "$WORK/nodes-$N.txt" >"$WORK/sim-$N.log" 2>&1 &
	SIM_PID=$!
	for i in $(seq 1 300); do grep -q '^ready' "$WORK/sim-$N.log" && break; sleep 0.1; done
	grep -q '^ready' "$WORK/sim-$N.log" || die "simulator did not start: $(tail -3 "$WORK/sim-$N.log")"
	list=$(paste -sd, "$WORK/nodes-$N.txt" | sed 's/,/, /g')
	for a in 0 3; do
		shm=tgcluster.bench-scale-$$-$N-$a
		SHM_NAMES+=("$shm")
		port=$P_ANS0; [ "$a" = 3 ] && port=$P_ANS3
		knot_write "ans$a" "$port" "" "    node: [ $list ]
    check-port: $NODE_PORT
    check-interval: $INTERVAL
    answers: $a
    ttl: 5
    shm: $shm"
		knot_start "ans$a"
	done
	sleep 5   # first probes (unknown counts as up anyway; rise from first success)
	for a in 0 3; do
		up=$("$KNOTC" -c "${KNOT_CONF[ans$a]}" zone-stats "$ZONE" 2>/dev/null | awk -F' = ' '/transition\[up\]/{print $2}')
		log "ans$a: transition[up] = ${up:-0} of $N"
	done
	# Checker CPU: no queries for IDLE s.
	declare -A c0 c1
	for n in static ans0 ans3; do knot_pin "$n"; c0[$n]=$(cpu_ticks "${KNOT_PID[$n]}"); done
	sleep "$IDLE"
	for n in static ans0 ans3; do c1[$n]=$(cpu_ticks "${KNOT_PID[$n]}"); done
	for n in static ans0 ans3; do
		pct=$(awk -v d=$(( ${c1[$n]} - ${c0[$n]} )) -v hz="$HZ" -v t="$IDLE" 'BEGIN{printf "%.2f", 100*d/hz/t}')
		seg=0; [ "$n" != static ] && seg=$(stat -c %s "/dev/shm/tgcluster.bench-scale-$$-$N-${n#ans}")
		rss=$(awk '/VmRSS/{print $2}' "/proc/${KNOT_PID[$n]}/status")
		kd=$(kdig @127.0.0.1 -p "${KNOT_PORT[$n]}" +notcp +ignore +timeout=2 +retry=0 "$ZONE" A 2>&1)
		rb=$(grep -o 'Received [0-9]* B' <<<"$kd" | awk '{print $2}')
		rrs=$(grep -cE "^$ZONE\.[[:space:]].*[[:space:]]A[[:space:]]" <<<"$kd")
		tc=$(grep -qiE 'flags:.* tc( |;|$)' <<<"$kd" && echo 1 || echo 0)
		lat=$(taskset -c "$CLIENT_CPU" dnsperf -s 127.0.0.1 -p "${KNOT_PORT[$n]}" -d "$QFILE" -c 1 \
			-l "$LAT_DURATION" -Q "$LAT_QPS" 2>&1 | awk '/Average Latency/{printf "%.3f", $4*1000}')
		printf "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n" "$N" "$n" "$pct" "$seg" "$rss" "$rb" "$rrs" "$tc" "$lat" |
			tee -a "$OUT/size.tsv" >&2
	done
	# Answer CPU per query, interleaved.
	order=(static ans3 ans0)
	for r in $(seq 1 "$ROUNDS"); do
		for n in "${order[@]}"; do
			knot_pin "$n"
			f=$OUT/n$N-r$r-$n.txt
			b0=$(cpu_ticks "${KNOT_PID[$n]}")
			taskset -c "$CLIENT_CPU" dnsperf -s 127.0.0.1 -p "${KNOT_PORT[$n]}" -d "$QFILE" \
				-c "$CLIENTS" -q "$OUTSTANDING" -l "$DURATION" >"$f" 2>&1
			b1=$(cpu_ticks "${KNOT_PID[$n]}")
			awk -v N="$N" -v r="$r" -v n="$n" -v d=$((b1 - b0)) -v hz="$HZ" '
				/Queries completed:/ {done=$3} /Queries lost:/ {lost=$3} /Queries per second:/ {qps=$4}
				END { printf "%s\t%s\t%s\t%.0f\t%d\t%d\t%.3f\n", N, r, n, qps, done, lost,
				      (done ? d / hz * 1e6 / done : -1) }' "$f" | tee -a "$OUT/runs.tsv" >&2
		done
		order=("${order[@]:1}" "${order[0]}")
	done
	knot_stop ans0; knot_stop ans3
	sim_stop
	log "simulator: $(tail -1 "$WORK/sim-$N.log")"
done

# Checker CPU of the http and https checks.
printf "nodes\tcheck\tidle_cpu_pct\tnodes_up\tnodes_down\tserved/resumed\n" >"$OUT/checks.tsv"
if [ -n "$CHECKS" ]; then
	PKI=$WORK/pki
	mkdir -p "$PKI"
	( cd "$PKI" &&
	  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout ca.pem.key -out ca.pem -subj "/CN=bench CA" -days 2 &&
	  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout node.pem.key -out node.csr -subj /CN=bench.test &&
	  printf 'subjectAltName=DNS:bench.test\n' >node.ext &&
	  openssl x509 -req -in node.csr -CA ca.pem -CAkey ca.pem.key -CAcreateserial \
		-out node.pem -days 2 -extfile node.ext ) >/dev/null 2>&1 || die "openssl failed"
fi
for N in ${CHECK_SIZES:-1000}; do
	for C in $CHECKS; do
		# https-full: https against servers that issue no session
		# tickets (a full handshake every probe).
		kind=${C%-full} sim_args=()
		[ "$kind" = https ] && sim_args=(--tls "$PKI/node.pem")
		[ "$C" = https-full ] && sim_args+=(--no-tickets)
		log "=== $N nodes, check: $C"
		taskset -c "$CLIENT_CPU" "$PYTHON" "$HARNESS" nodesim --first "$FIRST" --count "$N" \
			--port "$NODE_PORT" --mode http200 ${sim_args[@]+"${sim_args[@]}"} \
			--list "$WORK/nodes-$C-$N.txt" >"$WORK/sim-$C-$N.log" 2>&1 &
		SIM_PID=$!
		for i in $(seq 1 300); do grep -q '^ready' "$WORK/sim-$C-$N.log" && break; sleep 0.1; done
		grep -q '^ready' "$WORK/sim-$C-$N.log" || die "simulator did not start"
		list=$(paste -sd, "$WORK/nodes-$C-$N.txt" | sed 's/,/, /g')
		shm=tgcluster.bench-scale-$$-$N-$C
		SHM_NAMES+=("$shm")
		tls_items=""
		[ "$kind" = https ] && tls_items="
    check-tls-ca: $PKI/ca.pem"
		knot_write "chk$C" "$P_ANS0" "" "    node: [ $list ]
    check: $kind
    check-path: /health
    check-host: bench.test$tls_items
    check-port: $NODE_PORT
    check-interval: $INTERVAL
    check-timeout: $CHECK_TIMEOUT
    ttl: 5
    shm: $shm"
		knot_start "chk$C"
		sleep 5
		knot_pin "chk$C"
		c0=$(cpu_ticks "${KNOT_PID[chk$C]}")
		sleep "$IDLE"
		c1=$(cpu_ticks "${KNOT_PID[chk$C]}")
		pct=$(awk -v d=$((c1 - c0)) -v hz="$HZ" -v t="$IDLE" 'BEGIN{printf "%.2f", 100*d/hz/t}')
		st=$("$KNOTC" -c "${KNOT_CONF[chk$C]}" zone-stats "$ZONE" 2>/dev/null)
		up=$(awk -F' = ' '/transition\[up\]/{s+=$2} END{print s+0}' <<<"$st")
		down=$(awk -F' = ' '/transition\[down\]/{s+=$2} END{print s+0}' <<<"$st")
		knot_stop "chk$C"
		sim_stop
		served=$(awk '/^accepted/{print $4 "/" $6}' "$WORK/sim-$C-$N.log")
		printf "%s\t%s\t%s\t%s\t%s\t%s\n" "$N" "$C" "$pct" "$up" "$down" "${served:-?}" |
			tee -a "$OUT/checks.tsv" >&2
	done
done
[ -n "$CHECKS" ] && { echo "checker CPU by check kind (idle, % of one core):"; column -t "$OUT/checks.tsv"; } |
	tee "$OUT/checks.txt"

[ -n "$SIZES" ] || { log "raw results in $OUT"; exit 0; }
"$PYTHON" - "$OUT/size.tsv" "$OUT/runs.tsv" <<'PY' | tee "$OUT/summary.txt"
import csv, statistics as st, sys
size = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
runs = list(csv.DictReader(open(sys.argv[2]), delimiter="\t"))
print(f"{'nodes':>5} {'server':7} {'idle CPU %':>10} {'segment B':>10} {'RSS kB':>8} {'resp B':>7} {'A RRs':>6} {'TC':>3} "
      f"{'lat ms@Q':>8} {'CPU us/q':>9} {'net us/q':>9} {'x static':>8} {'qps':>7}")
idle = {(s["nodes"], s["server"]): float(s["idle_cpu_pct"]) for s in size}
def net(r):   # CPU per query without the checker's idle rate
    return float(r["cpu_us_per_q"]) - idle[(r["nodes"], r["server"])] / 100 * 1e6 / float(r["qps"])
for s in size:
    n, srv = s["nodes"], s["server"]
    rr = [r for r in runs if r["nodes"] == n and r["server"] == srv]
    ref = [net(r) for r in runs if r["nodes"] == n and r["server"] == "static"]
    c = [float(r["cpu_us_per_q"]) for r in rr]
    m = st.median(c) if c else float("nan")
    mn = st.median(net(r) for r in rr) if rr else float("nan")
    q = [float(r["qps"]) for r in rr]
    print(f"{n:>5} {srv:7} {s['idle_cpu_pct']:>10} {s['seg_bytes']:>10} {s['rss_kb']:>8} {s['resp_bytes']:>7} "
          f"{s['answer_rrs']:>6} {s['tc']:>3} {s['lat_ms']:>8} {m:9.3f} {mn:9.3f} {mn / st.median(ref):8.3f} {st.median(q):7.0f}")
print("idle CPU % = knotd utime+stime over the idle window / its length (one core = 100);"
      " CPU us/q = median over rounds; net us/q = the same less the idle rate (checker) per query;"
      " x static = ratio of the net medians to the static zone of the same N")
PY
log "raw results in $OUT"
