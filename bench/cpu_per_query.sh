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
set -u
. "$(dirname "$0")/lib.sh"

ROUNDS=${ROUNDS:-5} DURATION=${DURATION:-10} CLIENTS=${CLIENTS:-10}
OUTSTANDING=${OUTSTANDING:-100} QPS_LIMIT=${QPS_LIMIT:-}
MOD_PORT=${MOD_PORT:-25363} STATIC_PORT=${STATIC_PORT:-25364}
POLICY=${POLICY:-round-robin}
command -v dnsperf >/dev/null || die "dnsperf missing: apt-get install -y dnsperf"

bench_init cpu
OUT=${OUT:-${TMPDIR:-/tmp}/tgc-bench-results/cpu-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT"
SHM=tgcluster.bench-cpu-$$
SHM_NAMES+=("$SHM")

for ip in "${NODE_IPS[@]}"; do node_start "$ip"; done

knot_write static "$STATIC_PORT" \
	"$(printf '@ 5 IN A %s\n' "${NODE_IPS[@]}")" ""
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
for n in static module; do
	kdig @127.0.0.1 -p "${KNOT_PORT[$n]}" "$ZONE" A >"$OUT/answer-$n.txt" 2>&1
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

printf "round\tserver\tqps\tcompleted\tlost\tnoerror\tcpu_ticks\tcpu_us_per_q\tserver_cpu_pct\n" >"$OUT/runs.tsv"
for r in $(seq 1 "$ROUNDS"); do
	if (( r % 2 )); then order="module static"; else order="static module"; fi
	for n in $order; do
		knot_pin "$n"
		f=$OUT/r$r-$n.txt
		c0=$(cpu_ticks "${KNOT_PID[$n]}")
		taskset -c "$CLIENT_CPU" dnsperf -s 127.0.0.1 -p "${KNOT_PORT[$n]}" -d "$QFILE" \
			-c "$CLIENTS" -q "$OUTSTANDING" -l "$DURATION" ${QPS_LIMIT:+-Q "$QPS_LIMIT"} >"$f" 2>&1
		c1=$(cpu_ticks "${KNOT_PID[$n]}")
		awk -v r="$r" -v n="$n" -v d=$((c1 - c0)) -v hz="$HZ" -v t="$DURATION" '
			/Queries completed:/ {done=$3}
			/Queries lost:/      {lost=$3}
			/Queries per second:/{qps=$4}
			/Response codes:/   {for (i = 1; i < NF; i++) if ($i == "NOERROR") ok=$(i+1)}
			END { if (done == 0) { print "no queries completed" > "/dev/stderr"; exit 1 }
			      printf "%s\t%s\t%.0f\t%d\t%d\t%d\t%d\t%.3f\t%.1f\n", r, n, qps, done, lost, ok, d,
			             d / hz * 1e6 / done, 100 * d / hz / t }' "$f" | tee -a "$OUT/runs.tsv" >&2 ||
			die "dnsperf run failed: $(tail -5 "$f")"
	done
done
wait_answer module "$ALL3" 2 || log "WARN: module answer changed during the runs"

python3 - "$OUT/runs.tsv" <<'PY' | tee "$OUT/summary.txt"
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
def col(server, key):
    return [float(r[key]) for r in rows if r["server"] == server]
print(f"{'server':8} {'median qps':>10} {'median CPU us/q':>16} {'CPU us/q per round':>30} {'srv CPU %':>9}")
med = {}
for s in ("module", "static"):
    q, c, p = col(s, "qps"), col(s, "cpu_us_per_q"), col(s, "server_cpu_pct")
    med[s] = statistics.median(c)
    print(f"{s:8} {statistics.median(q):10.0f} {med[s]:16.3f} {' '.join('%.3f' % x for x in c):>30} {statistics.median(p):9.1f}")
# Per-round ratios (module vs static of the same round) and their median.
rounds = sorted({r["round"] for r in rows}, key=int)
ratios = []
for rd in rounds:
    m = [float(r["cpu_us_per_q"]) for r in rows if r["round"] == rd and r["server"] == "module"]
    s = [float(r["cpu_us_per_q"]) for r in rows if r["round"] == rd and r["server"] == "static"]
    if m and s:
        ratios.append(m[0] / s[0])
print(f"ratio module/static CPU per query: {med['module'] / med['static']:.3f} (median module / median static); "
      f"median of per-round ratios {statistics.median(ratios):.3f}; "
      f"per round {' '.join('%.3f' % x for x in ratios)}")
lost = sum(int(r["lost"]) for r in rows)
bad = sum(int(r["completed"]) - int(r["noerror"]) for r in rows)
print(f"queries lost in all runs: {lost}; completed without NOERROR: {bad}")
PY
log "raw results in $OUT"
