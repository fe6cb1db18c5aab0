# shellcheck shell=bash
# Common helpers of the mod-tgcluster benchmarks. Source it; do not execute it.
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Everything runs on loopback: knotd on 127.0.0.1:<port>, simulated cluster
# nodes on 127.0.0.11-13:$NODE_PORT. The knot.conf writer and the node
# simulator are the test harness's (tests/integration/tgc.py conf / nodesim,
# run by $PYTHON, a Python with dnspython). Every process is started here,
# remembered by PID and stopped by that PID in bench_cleanup (installed as
# an EXIT trap by the scripts); shared-memory segments are removed by their
# exact name.

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$BENCH_DIR/.." && pwd)

MODULE_SO=${MODULE_SO:-$REPO_DIR/build/mod-tgcluster.so}
KNOTD=${KNOTD:-/usr/sbin/knotd}
KNOTC=${KNOTC:-/usr/sbin/knotc}
# The harness needs dnspython (Debian: python3-dnspython) in this Python.
PYTHON=${PYTHON:-/usr/bin/python3}
HARNESS=$REPO_DIR/tests/integration/tgc.py
ZONE=${ZONE:-internet.intern.netz}
NODE_IPS=(127.0.0.11 127.0.0.12 127.0.0.13)
NODE_PORT=${NODE_PORT:-15900}
SERVER_CPU=${SERVER_CPU:-1}   # knotd (every thread) runs here
CLIENT_CPU=${CLIENT_CPU:-0}   # load generator / poller runs here
UDP_WORKERS=${UDP_WORKERS:-1}

WORK=""                        # private temp dir (created by bench_init)
declare -A KNOT_PID KNOT_PORT KNOT_CONF NODE_PID NODE_FD
SHM_NAMES=()                   # exact segment names to remove on exit

log() { echo "[$(date +%H:%M:%S.%3N)] $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

bench_init() {
	local tag=$1
	for t in "$KNOTD" "$KNOTC" kdig taskset "$PYTHON"; do
		command -v "$t" >/dev/null || die "missing tool: $t"
	done
	"$PYTHON" -c 'import dns.message' 2>/dev/null ||
		die "$PYTHON lacks dnspython (python3-dnspython), which $HARNESS needs"
	[ -r "$MODULE_SO" ] || die "module not found: $MODULE_SO (build it: ninja -C build)"
	WORK=$(mktemp -d "${TMPDIR:-/tmp}/tgc-bench-$tag.XXXXXX")
	# Private copy: a rebuild during the run must not change the module.
	cp "$MODULE_SO" "$WORK/mod-tgcluster.so"
	trap bench_cleanup EXIT
	trap 'exit 130' INT TERM
}

# ---- simulated nodes: the harness's NodeSim, mode tcp (accept and close) ----
# One process per node. Its status lines ("ready N" once it listens,
# "stopped N" once its listener is closed) come through a FIFO read by this
# shell, so that waiting for them needs no polling.
node_spawn() {   # starts the process, does not wait for it to listen
	local ip=$1 fifo=$WORK/node-$1.fifo fd
	rm -f "$fifo"
	mkfifo "$fifo"
	"$PYTHON" "$HARNESS" nodesim --listen "$ip:$NODE_PORT" --mode tcp \
		>"$fifo" 2>>"$WORK/node-$ip.log" &
	NODE_PID[$ip]=$!
	exec {fd}<"$fifo"
	NODE_FD[$ip]=$fd
}

node_expect() {   # node_expect IP WORD: reads status lines until WORD (max 30 s)
	local ip=$1 line
	while read -r -t 30 -u "${NODE_FD[$ip]}" line; do
		[ "${line%% *}" = "$2" ] && return 0
	done
	die "node $ip:$NODE_PORT: no '$2' ($(tail -3 "$WORK/node-$ip.log"))"
}

node_wait() { node_expect "$1" ready; }   # until the listener is up

node_start() { node_spawn "$1"; node_wait "$1"; }

# The listener closes (connection refused from then on), the process stays:
# returns once it is closed. node_resume listens again (node_wait waits).
node_pause() { kill -USR1 "${NODE_PID[$1]}"; node_expect "$1" stopped; }
node_resume() { kill -USR2 "${NODE_PID[$1]}"; }

node_stop() {
	local ip=$1 pid=${NODE_PID[$1]:-}
	[ -n "$pid" ] || return 0
	kill -TERM "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	local fd=${NODE_FD[$ip]:-}
	[ -z "$fd" ] || exec {fd}<&-
	unset "NODE_PID[$ip]" "NODE_FD[$ip]"
}

# ---- knotd ----
# knot_write NAME PORT ZONEFILE_RECORDS MODULE_ITEMS(empty = no module) [ARGS]
# MODULE_ITEMS: "key: value" lines of the module instance; ARGS: more
# options of `tgc.py conf` (e.g. --remote lb=127.0.0.1@PORT).
knot_write() {
	local name=$1 port=$2 records=$3 mod_items=$4 d=$WORK/$1
	shift 4
	local args=(--zone "$ZONE" --port "$port" --module "$WORK/mod-tgcluster.so"
		--id bench --log-level info --workers "$UDP_WORKERS"
		--tcp-workers "${TCP_WORKERS:-1}"
		--record "@ NS ns
ns A 127.0.0.1
$records")
	[ -z "$mod_items" ] || args+=(--item "$mod_items")
	"$PYTHON" "$HARNESS" conf "$d" "${args[@]}" "$@" >/dev/null ||
		die "$name: writing knot.conf failed"
	KNOT_PORT[$name]=$port
	KNOT_CONF[$name]=$d/knot.conf
}

port_free() {
	! ss -Hlntu "sport = :$1" 2>/dev/null | grep -q .
}

knot_start() {
	local name=$1 d=$WORK/$1 i
	port_free "${KNOT_PORT[$name]}" || die "port ${KNOT_PORT[$name]} in use (set another)"
	"$KNOTC" -c "${KNOT_CONF[$name]}" conf-check >"$d/conf-check.log" 2>&1 ||
		die "$name: conf-check failed: $(cat "$d/conf-check.log")"
	taskset -c "$SERVER_CPU" "$KNOTD" -c "${KNOT_CONF[$name]}" >"$d/knotd.log" 2>&1 &
	KNOT_PID[$name]=$!
	for i in $(seq 1 100); do
		if kdig @127.0.0.1 -p "${KNOT_PORT[$name]}" +tcp +timeout=1 +retry=0 \
			"$ZONE" SOA +short 2>/dev/null | grep -q hostmaster; then
			knot_pin "$name"
			log "$name: knotd pid ${KNOT_PID[$name]} on 127.0.0.1:${KNOT_PORT[$name]}"
			return 0
		fi
		kill -0 "${KNOT_PID[$name]}" 2>/dev/null || break
		sleep 0.05
	done
	tail -20 "$d/knotd.log" >&2
	die "$name: knotd did not come up"
}

# knotd pins UDP worker i to CPU i % nproc itself: re-pin every thread.
knot_pin() {
	local name=$1 pid=${KNOT_PID[$1]} t bad=""
	taskset -a -p -c "$SERVER_CPU" "$pid" >/dev/null 2>&1
	for t in /proc/"$pid"/task/*; do
		[ "$(awk '/Cpus_allowed_list/{print $2}' "$t/status" 2>/dev/null)" = "$SERVER_CPU" ] ||
			bad="$bad ${t##*/}"
	done
	[ -z "$bad" ] || log "WARN: $name threads not on cpu $SERVER_CPU:$bad"
}

knot_stop() {
	local name=$1 pid=${KNOT_PID[$1]:-} i
	[ -n "$pid" ] || return 0
	kill -TERM "$pid" 2>/dev/null
	for i in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
	kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	unset "KNOT_PID[$name]"
}

# utime+stime (clock ticks, all threads) of a pid
cpu_ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }

# sorted A addresses answered now
answer_ips() {
	kdig @127.0.0.1 -p "${KNOT_PORT[$1]}" +timeout=1 +retry=0 "$ZONE" A +short 2>/dev/null |
		grep -E '^[0-9.]+$' | sort | tr '\n' ' ' | sed 's/ $//'
}

wait_answer() {   # wait_answer NAME "want" TIMEOUT_S
	local name=$1 want=$2 i have=""
	for i in $(seq 1 $(( $3 * 20 ))); do
		have=$(answer_ips "$name")
		[ "$have" = "$want" ] && return 0
		sleep 0.05
	done
	log "$name: want '$want', have '$have'"
	return 1
}

bench_cleanup() {
	local n ip s
	for n in "${!KNOT_PID[@]}"; do knot_stop "$n"; done
	for ip in "${!NODE_PID[@]}"; do node_stop "$ip"; done
	for s in "${SHM_NAMES[@]}"; do rm -f "/dev/shm/$s"; done
	if [ -n "$WORK" ] && [ -z "${KEEP:-}" ]; then rm -rf "$WORK"; fi
}

machine_notes() {
	echo "date: $(date -Is)"
	echo "host: kernel $(uname -r), nproc $(nproc), CPU$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"
	echo "knotd: $("$KNOTD" --version 2>&1 | head -1); dnsperf: $(dnsperf -h 2>&1 | grep -m1 -i version || dpkg-query -W -f='${Version}' dnsperf 2>/dev/null)"
	echo "module: $MODULE_SO (md5 $(md5sum <"$WORK/mod-tgcluster.so" | cut -c1-12)), repo commit $(git -C "$REPO_DIR" rev-parse --short HEAD 2>/dev/null)"
}

# cpu_rounds A B: ROUNDS interleaved dnsperf runs against knotd servers A and
# B (the order flips every round), each DURATION s, dnsperf on CLIENT_CPU,
# knotd re-pinned before each run. Appends one row per run to $OUT/runs.tsv:
# round, server, qps, completed, lost, noerror, CPU ticks of the knotd PID,
# server CPU us per completed query, server CPU %. Needs QFILE; QPS_LIMIT
# (optional) caps dnsperf.
cpu_rounds() {
	local a=$1 b=$2 r n f c0 c1 order hz
	hz=$(getconf CLK_TCK)
	printf "round\tserver\tqps\tcompleted\tlost\tnoerror\tcpu_ticks\tcpu_us_per_q\tserver_cpu_pct\n" >"$OUT/runs.tsv"
	for r in $(seq 1 "$ROUNDS"); do
		if (( r % 2 )); then order="$a $b"; else order="$b $a"; fi
		for n in $order; do
			knot_pin "$n"
			f=$OUT/r$r-$n.txt
			c0=$(cpu_ticks "${KNOT_PID[$n]}")
			taskset -c "$CLIENT_CPU" dnsperf -s 127.0.0.1 -p "${KNOT_PORT[$n]}" -d "$QFILE" \
				-c "$CLIENTS" -q "$OUTSTANDING" -l "$DURATION" ${QPS_LIMIT:+-Q "$QPS_LIMIT"} ${DNSPERF_ARGS:-} >"$f" 2>&1
			c1=$(cpu_ticks "${KNOT_PID[$n]}")
			awk -v r="$r" -v n="$n" -v d=$((c1 - c0)) -v hz="$hz" -v t="$DURATION" '
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
}

# cpu_summary A B [NOTE]: medians per server from $OUT/runs.tsv and the CPU
# ratio A/B (median / median, and the median of the per-round ratios);
# written to $OUT/summary.txt. NOTE is appended to the ratio line.
cpu_summary() {
	"$PYTHON" - "$OUT/runs.tsv" "$1" "$2" "${3:-}" <<'PY' | tee "$OUT/summary.txt"
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
a, b, note = sys.argv[2], sys.argv[3], sys.argv[4]
def col(server, key):
    return [float(r[key]) for r in rows if r["server"] == server]
print(f"{'server':10} {'median qps':>10} {'median CPU us/q':>16} {'CPU us/q per round':>30} {'srv CPU %':>9}")
med = {}
for s in (a, b):
    q, c, p = col(s, "qps"), col(s, "cpu_us_per_q"), col(s, "server_cpu_pct")
    med[s] = statistics.median(c)
    print(f"{s:10} {statistics.median(q):10.0f} {med[s]:16.3f} {' '.join('%.3f' % x for x in c):>30} {statistics.median(p):9.1f}")
# Per-round ratios (a vs b of the same round) and their median.
ratios = []
for rd in sorted({r["round"] for r in rows}, key=int):
    x = [float(r["cpu_us_per_q"]) for r in rows if r["round"] == rd and r["server"] == a]
    y = [float(r["cpu_us_per_q"]) for r in rows if r["round"] == rd and r["server"] == b]
    if x and y:
        ratios.append(x[0] / y[0])
print(f"ratio {a}/{b} CPU per query: {med[a] / med[b]:.3f} (median {a} / median {b}); "
      f"median of per-round ratios {statistics.median(ratios):.3f}; "
      f"per round {' '.join('%.3f' % x for x in ratios)}{note}")
lost = sum(int(r["lost"]) for r in rows)
bad = sum(int(r["completed"]) - int(r["noerror"]) for r in rows)
print(f"queries lost in all runs: {lost}; completed without NOERROR: {bad}")
PY
}
