#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Failover time of knotd + mod-tgcluster: a node's listener is closed
# (connection refused from then on) and the answer is polled every POLL_MS
# until the node is absent; then the listener is opened again and polled
# until the node is back. Repeated REPS times. The node is the harness's
# simulator (bench/lib.sh: node_pause / node_resume, SIGUSR1 / SIGUSR2 to
# its process, which stays up).
#
#   gone:   t0 = right after the simulator said its listening socket is
#           closed, until the first reply without the node.
#   return: t0 = right before the simulator is told to listen again
#           (includes its listen), until the first reply with the node.
#
# Times are those of the first satisfying reply of a poll at t0 + k*POLL_MS,
# so they are quantised to POLL_MS (plus the query's round trip).
#
# Env: REPS=10 POLL_MS=50 INTERVAL=100 TIMEOUT=50 FALL=2 RISE=2 CHECK=tcp
#      VICTIM=127.0.0.12 PORT=25365 NODE_PORT=15900 SETTLE_MS=300
#      SERVER_CPU=1 CLIENT_CPU=0 MODULE_SO=build/mod-tgcluster.so KEEP=1
#      OUT=${TMPDIR:-/tmp}/tgc-bench-results/failover-<timestamp>
set -u
. "$(dirname "$0")/lib.sh"

REPS=${REPS:-10} POLL_MS=${POLL_MS:-50}
INTERVAL=${INTERVAL:-100} TIMEOUT=${TIMEOUT:-50} FALL=${FALL:-2} RISE=${RISE:-2}
CHECK=${CHECK:-tcp} VICTIM=${VICTIM:-127.0.0.12} PORT=${PORT:-25365}
SETTLE_MS=${SETTLE_MS:-300} MAX_WAIT=${MAX_WAIT:-10}
(( REPS >= 1 && REPS <= 1000 )) || die "REPS out of 1-1000"

bench_init failover
OUT=${OUT:-${TMPDIR:-/tmp}/tgc-bench-results/failover-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT"
SHM=tgcluster.bench-failover-$$
SHM_NAMES+=("$SHM")
POLLER=$BENCH_DIR/poll_answer.py

for ip in "${NODE_IPS[@]}"; do node_start "$ip"; done
knot_write module "$PORT" "" "    node: [ ${NODE_IPS[0]}, ${NODE_IPS[1]}, ${NODE_IPS[2]} ]
    check: $CHECK
    check-port: $NODE_PORT
    check-interval: $INTERVAL
    check-timeout: $TIMEOUT
    check-fall: $FALL
    check-rise: $RISE
    ttl: 1
    shm: $SHM"
knot_start module
ALL3="${NODE_IPS[*]}"
wait_answer module "$ALL3" 5 || die "module does not answer the 3 live nodes"

{ machine_notes
  echo "reps=$REPS poll=${POLL_MS}ms check=$CHECK interval=${INTERVAL}ms timeout=${TIMEOUT}ms fall=$FALL rise=$RISE victim=$VICTIM"
  echo "bound interval x fall + timeout = $(( INTERVAL * FALL + TIMEOUT )) ms"
} | tee "$OUT/meta.txt" >&2

FIFO=$WORK/go.fifo
mkfifo "$FIFO"

# measure absent|present kill|restart: runs the action, polls; sets MEAS="ms polls"
# (runs in this shell, not in a subshell: node PIDs must stay ours)
MEAS=""
measure() {
	local mode=$1 action=$2 pid t0 res i
	taskset -c "$CLIENT_CPU" "$PYTHON" "$POLLER" --port "$PORT" --name "$ZONE" \
		"--$mode" "$VICTIM" --interval "$(awk -v p="$POLL_MS" 'BEGIN{print p/1000}')" \
		--max "$MAX_WAIT" <"$FIFO" >"$WORK/poll.out" 2>&1 &
	pid=$!
	exec 3>"$FIFO"
	for i in $(seq 1 500); do grep -q ready "$WORK/poll.out" 2>/dev/null && break; sleep 0.01; done
	grep -q ready "$WORK/poll.out" || { exec 3>&-; kill "$pid" 2>/dev/null; wait "$pid"; die "poller not ready"; }
	case $action in
	kill)    node_pause "$VICTIM"; t0=$EPOCHREALTIME ;;
	restart) t0=$EPOCHREALTIME; node_resume "$VICTIM" ;;
	esac
	echo "$t0" >&3
	exec 3>&-
	[ "$action" = restart ] && node_wait "$VICTIM"
	wait "$pid"
	res=$(tail -1 "$WORK/poll.out")
	case $res in timeout*|"") die "$mode: node state not reached within ${MAX_WAIT}s ($res)";; esac
	MEAS=$res
}

printf "rep\tgone_ms\tgone_polls\treturn_ms\treturn_polls\n" >"$OUT/failover.tsv"
for r in $(seq 1 "$REPS"); do
	# Random phase against the probe schedule.
	sleep "$(awk -v s="$SETTLE_MS" -v i="$INTERVAL" -v r="$RANDOM" 'BEGIN{printf "%.3f", (s + r % i) / 1000}')"
	measure absent kill; g=$MEAS
	sleep "$(awk -v s="$SETTLE_MS" -v i="$INTERVAL" -v r="$RANDOM" 'BEGIN{printf "%.3f", (s + r % i) / 1000}')"
	measure present restart; b=$MEAS
	wait_answer module "$ALL3" 5 || die "not all nodes back after rep $r"
	printf "%s\t%s\t%s\t%s\t%s\n" "$r" ${g% *} ${g#* } ${b% *} ${b#* } | tee -a "$OUT/failover.tsv" >&2
done
"$KNOTC" -c "${KNOT_CONF[module]}" zone-stats "$ZONE" >"$OUT/zone-stats.txt" 2>&1
grep -c "node $VICTIM port $NODE_PORT up -> down" "$WORK/module/knotd.log" >"$OUT/down-logs.txt"

"$PYTHON" - "$OUT/failover.tsv" "$(( INTERVAL * FALL + TIMEOUT ))" <<'PY' | tee "$OUT/summary.txt"
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
bound = int(sys.argv[2])
for key, what in (("gone_ms", "killed node gone from answers"), ("return_ms", "restarted node back in answers")):
    v = sorted(float(r[key]) for r in rows)
    print(f"{what:32}: n={len(v)} median {statistics.median(v):.0f} ms, worst {v[-1]:.0f} ms, best {v[0]:.0f} ms"
          f" (all: {' '.join('%.0f' % x for x in v)})")
print(f"bound interval x fall + timeout = {bound} ms")
PY
log "raw results in $OUT"
