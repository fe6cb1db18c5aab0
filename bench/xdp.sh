#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# The XDP path: knotd CPU per answer over XDP (`xdp: listen`), knotd +
# mod-tgcluster (3 live simulated nodes) versus knotd serving a static zone
# with the same 3 A records, and the module's answers per knotd core-second.
#
# Two network namespaces made here (tgc-xdp-<pid>-srv, -cli) with two veth
# pairs: xs0/xc0 (192.0.2.1 <- 192.0.2.2) to the module's knotd, xs1/xc1
# (198.51.100.1 <- .2) to the static zone's knotd; each knotd binds XDP on
# its end (native mode) and a socket on 127.0.0.1 of the server namespace.
# The nodes are the harness's simulator (tgc.py nodesim) on
# 127.0.0.11-13 inside the server namespace. kxdpgun (knot-dnsutils) sends from the client namespace at a
# fixed rate; rounds are interleaved (the order flips every round). Every
# knotd thread runs on SERVER_CPU, kxdpgun on CLIENT_CPU. Everything is
# stopped by PID and both namespaces are deleted on exit.
#
# CPU per answer = delta(utime+stime of the knotd PID) / replies counted by
# kxdpgun; answers per core = replies / knotd CPU seconds.
#
# GDNSD=1 also runs bench/side_by_side.sh with PEERS=C_gdnsd (gdnsd over
# sockets, dnsperf; ROUNDS and DURATION as here) and prints gdnsd's answers
# per server core next to the module's over XDP.
#
# Env: ROUNDS=3 DURATION=5 XDP_QPS=100000 (kxdpgun rate) SERVER_CPU=1
#      CLIENT_CPU=0 NODE_PORT=15900 MODULE_SO=build/mod-tgcluster.so KEEP=1
#      OUT=${TMPDIR:-/tmp}/tgc-bench-results/xdp-<timestamp>  GDNSD=0
# Needs root (namespaces, XDP).
set -u
. "$(dirname "$0")/lib.sh"

ROUNDS=${ROUNDS:-3} DURATION=${DURATION:-5} XDP_QPS=${XDP_QPS:-100000}
GDNSD=${GDNSD:-0}
[ "$(id -u)" = 0 ] || die "needs root (network namespaces, XDP)"
command -v kxdpgun >/dev/null || die "kxdpgun missing: apt-get install -y knot-dnsutils"

bench_init xdp
OUT=${OUT:-${TMPDIR:-/tmp}/tgc-bench-results/xdp-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT"
NS_SRV=tgc-xdp-$$-srv NS_CLI=tgc-xdp-$$-cli
NETNS=()
xdp_cleanup() {
	local ip n
	for n in "${!KNOT_PID[@]}"; do knot_stop "$n"; done
	for ip in "${!NODE_PID[@]}"; do node_stop "$ip"; done
	for n in "${NETNS[@]}"; do ip netns del "$n" 2>/dev/null; done
	bench_cleanup
}
trap xdp_cleanup EXIT
SHM=tgcluster.bench-xdp-$$
SHM_NAMES+=("$SHM")

# ---- namespaces and veth pairs ----
for n in "$NS_SRV" "$NS_CLI"; do
	ip netns add "$n" || die "ip netns add $n failed"
	NETNS+=("$n")
	ip -n "$n" link set lo up
done
SRV_ADDR=(192.0.2.1 198.51.100.1) CLI_ADDR=(192.0.2.2 198.51.100.2)
for i in 0 1; do
	ip link add "xs$i" netns "$NS_SRV" type veth peer name "xc$i" netns "$NS_CLI" ||
		die "veth pair $i"
	ip -n "$NS_SRV" addr add "${SRV_ADDR[$i]}/24" dev "xs$i"
	ip -n "$NS_CLI" addr add "${CLI_ADDR[$i]}/24" dev "xc$i"
	ip -n "$NS_SRV" link set "xs$i" up
	ip -n "$NS_CLI" link set "xc$i" up
done
declare -A IFACE=([module]=0 [static]=1)

# ---- nodes and knotd inside the server namespace ----
# The harness's node simulator (lib.sh's, run inside the namespace); the
# module's answer of the 3 nodes below shows they listen.
for ip in "${NODE_IPS[@]}"; do
	ip netns exec "$NS_SRV" "$PYTHON" "$HARNESS" nodesim --listen "$ip:$NODE_PORT" \
		--mode tcp >/dev/null 2>>"$WORK/node-$ip.log" &
	NODE_PID[$ip]=$!
done

knot_write module 25373 "" "    node: [ ${NODE_IPS[0]}, ${NODE_IPS[1]}, ${NODE_IPS[2]} ]
    check-port: $NODE_PORT
    ttl: 5
    shm: $SHM"
knot_write static 25374 "$(printf '@ 5 IN A %s\n' "${NODE_IPS[@]}")" ""
for n in module static; do
	printf 'xdp:\n    listen: xs%s@53\n' "${IFACE[$n]}" >>"${KNOT_CONF[$n]}"
done

ns_kdig() { ip netns exec "$NS_SRV" kdig @127.0.0.1 -p "${KNOT_PORT[$1]}" +timeout=1 +retry=0 "${@:2}"; }

xdp_knot_start() {
	local name=$1 d=$WORK/$1 i
	ip netns exec "$NS_SRV" "$KNOTC" -c "${KNOT_CONF[$name]}" conf-check >"$d/conf-check.log" 2>&1 ||
		die "$name: conf-check failed: $(cat "$d/conf-check.log")"
	# ip netns exec and taskset exec knotd: the PID is knotd's.
	ip netns exec "$NS_SRV" taskset -c "$SERVER_CPU" "$KNOTD" -c "${KNOT_CONF[$name]}" \
		>"$d/knotd.log" 2>&1 &
	KNOT_PID[$name]=$!
	for i in $(seq 1 100); do
		if ns_kdig "$name" +tcp "$ZONE" SOA +short 2>/dev/null | grep -q hostmaster; then
			grep -q "initialized XDP interface xs${IFACE[$name]}" "$d/knotd.log" ||
				die "$name: no XDP on xs${IFACE[$name]}: $(grep -i xdp "$d/knotd.log")"
			knot_pin "$name"
			log "$name: knotd pid ${KNOT_PID[$name]}, XDP on xs${IFACE[$name]}"
			return 0
		fi
		kill -0 "${KNOT_PID[$name]}" 2>/dev/null || break
		sleep 0.05
	done
	tail -20 "$d/knotd.log" >&2
	die "$name: knotd did not come up"
}
xdp_knot_start module
xdp_knot_start static

ALL3="${NODE_IPS[*]}"
xdp_answer_ips() {   # A addresses over XDP, from the client namespace
	local i=${IFACE[$1]}
	ip netns exec "$NS_CLI" kdig @"${SRV_ADDR[$i]}" +timeout=1 +retry=2 "$ZONE" A +short 2>/dev/null |
		grep -E '^[0-9.]+$' | sort | tr '\n' ' ' | sed 's/ $//'
}
for n in static module; do
	for i in $(seq 1 100); do
		[ "$(xdp_answer_ips "$n")" = "$ALL3" ] && break
		sleep 0.05
	done
	[ "$(xdp_answer_ips "$n")" = "$ALL3" ] || die "$n: answer over XDP is not the 3 nodes"
	ip netns exec "$NS_CLI" kdig @"${SRV_ADDR[${IFACE[$n]}]}" "$ZONE" A >"$OUT/answer-$n.txt" 2>&1
done

QFILE=$WORK/queries.txt
for i in $(seq 1 100); do echo "$ZONE A"; done >"$QFILE"
HZ=$(getconf CLK_TCK)
{ machine_notes
  echo "kxdpgun: $(kxdpgun -V 2>&1 | head -1); rate $XDP_QPS qps, ${DURATION}s per run, $ROUNDS rounds"
  echo "server cpu=$SERVER_CPU client cpu=$CLIENT_CPU CLK_TCK=$HZ; 1 UDP worker, XDP workers = queues of xsN (1)"
  echo "static response: $(grep -o 'Received [0-9]* B' "$OUT/answer-static.txt"), module response: $(grep -o 'Received [0-9]* B' "$OUT/answer-module.txt")"
} | tee "$OUT/meta.txt" >&2

# Rows in the format of lib.sh's cpu_rounds (so cpu_summary reads them):
# qps = replies per second, completed = replies, lost = sent - replies.
printf "round\tserver\tqps\tcompleted\tlost\tnoerror\tcpu_ticks\tcpu_us_per_q\tserver_cpu_pct\n" >"$OUT/runs.tsv"
for r in $(seq 1 "$ROUNDS"); do
	if (( r % 2 )); then order="module static"; else order="static module"; fi
	for n in $order; do
		knot_pin "$n"
		f=$OUT/r$r-$n.txt
		c0=$(cpu_ticks "${KNOT_PID[$n]}")
		ip netns exec "$NS_CLI" taskset -c "$CLIENT_CPU" kxdpgun -t "$DURATION" -Q "$XDP_QPS" \
			-F "$CLIENT_CPU" -i "$QFILE" -I "xc${IFACE[$n]}" "${SRV_ADDR[${IFACE[$n]}]}" >"$f" 2>&1
		c1=$(cpu_ticks "${KNOT_PID[$n]}")
		awk -v r="$r" -v n="$n" -v d=$((c1 - c0)) -v hz="$HZ" -v t="$DURATION" '
			/^total queries:/    {sent=$3}
			/^total replies:/    {done=$3}
			/^responded NOERROR:/{ok=$3}
			END { if (done == 0) { print "no replies" > "/dev/stderr"; exit 1 }
			      printf "%s\t%s\t%.0f\t%d\t%d\t%d\t%d\t%.3f\t%.1f\n", r, n, done / t, done,
			             sent - done, ok, d, d / hz * 1e6 / done, 100 * d / hz / t }' "$f" |
			tee -a "$OUT/runs.tsv" >&2 || die "kxdpgun run failed: $(tail -5 "$f")"
	done
done
[ "$(xdp_answer_ips module)" = "$ALL3" ] || log "WARN: module answer changed during the runs"

cpu_summary module static " (over XDP; lost = not answered at kxdpgun's rate)"
"$PYTHON" - "$OUT/runs.tsv" <<'PY' | tee -a "$OUT/summary.txt"
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
for s in ("module", "static"):
    per_core = [1e6 / float(r["cpu_us_per_q"]) for r in rows if r["server"] == s]
    print(f"{s}: answers per knotd core-second over XDP, median {statistics.median(per_core):.0f}"
          f" (per run {' '.join('%.0f' % x for x in per_core)})")
PY

if [ "$GDNSD" = 1 ]; then
	log "gdnsd over sockets: bench/side_by_side.sh PEERS=C_gdnsd"
	PEERS=C_gdnsd ROUNDS=$ROUNDS DURATION=$DURATION OUT=$OUT/gdnsd \
		"$BENCH_DIR/side_by_side.sh" >"$OUT/gdnsd.log" 2>&1 ||
		die "side_by_side.sh failed: $(tail -5 "$OUT/gdnsd.log")"
	"$PYTHON" - "$OUT/gdnsd/runs.tsv" "$OUT/runs.tsv" <<'PY' | tee -a "$OUT/summary.txt"
import csv, statistics, sys
g = [float(r["qps"]) / max(float(r["server_cpu_pct"]), 0.1) * 100
     for r in csv.DictReader(open(sys.argv[1]), delimiter="\t") if r["peer"] == "C_gdnsd"]
m = [1e6 / float(r["cpu_us_per_q"])
     for r in csv.DictReader(open(sys.argv[2]), delimiter="\t") if r["server"] == "module"]
gm, mm = statistics.median(g), statistics.median(m)
print(f"gdnsd over sockets: answers per server core, median {gm:.0f} (per run {' '.join('%.0f' % x for x in g)})")
print(f"module over XDP / gdnsd over sockets, answers per core: {mm / gm:.2f}")
PY
fi
log "raw results in $OUT"
