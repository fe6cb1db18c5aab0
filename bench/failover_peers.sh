#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Failover next to the peers, in a network namespace of its own (its own
# loopback: no port clash with anything else on the machine, and nftables
# rules that touch nothing outside it).
#
#   refused: the shared peers' run_failover.sh as is (node 127.0.0.12's socat
#            is stopped: connection refused; then restarted), REPS times per
#            peer, then its all-nodes-down part.
#   kill:    connection refused, measured like drop (below): socat of
#            127.0.0.12 stopped (t0 = just before the signal), restarted
#            (t0 = just before it is spawned). run_failover.sh times include its own process
#            start-ups (node_stop/node_start, one kdig per poll), which on a
#            loaded machine add hundreds of ms.
#   drop:    silent drop: an nftables rule in the namespace drops every packet
#            to 127.0.0.12 tcp/5901 (the node's SYNs vanish: connect() never
#            completes, only a probe timeout can tell), polled until the node
#            is absent; the rule is removed and polled until it is back. The
#            listener stays up all along. Polled with bench/poll_answer.py (one
#            process, UDP queries at t0 + k x POLL_MS, t0 = right after the
#            rule was added / removed); random settle before every event.
#
# Peers: B_pdns, C_gdnsd (shared peer files, their defaults), D_tgcluster
# (module defaults) and D_tgcluster_tuned (check-interval 100, timeout 50),
# from bench/peers/D_tgcluster.sh.
#
# Env: MODE="refused kill drop" PEERS="B_pdns C_gdnsd D_tgcluster D_tgcluster_tuned"
#      REPS=10 POLL_MS=50 SETTLE=2 JITTER_MS=1000 MAX_WAIT=30 ALLDOWN_WAIT=5
#      PEERS_DIR=/work/shared/bench/peers TGC_MODULE_SO=build/mod-tgcluster.so
#      OUT=${TMPDIR:-/tmp}/tgc-bench-results/failover-peers-<timestamp>
# Needs root (ip netns, nft).
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
PEERS_DIR=${PEERS_DIR:-/work/shared/bench/peers}
PYTHON=${PYTHON:-/usr/bin/python3}   # the Python of bench/lib.sh

if [ -z "${TGC_NETNS:-}" ]; then
	# Outside: make the namespace, run this script inside it, remove it.
	command -v nft >/dev/null || { echo "nft missing" >&2; exit 1; }
	export OUT=${OUT:-${TMPDIR:-/tmp}/tgc-bench-results/failover-peers-$(date +%Y%m%d-%H%M%S)}
	export RUN_DIR=${RUN_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/tgc-fo-run.XXXXXX")}
	SO=${TGC_MODULE_SO:-$REPO/build/mod-tgcluster.so}
	[ -r "$SO" ] || { echo "module not found: $SO" >&2; exit 1; }
	mkdir -p "$OUT"
	cp "$SO" "$RUN_DIR/mod-tgcluster.so"
	export TGC_MODULE_SO=$RUN_DIR/mod-tgcluster.so
	NS=tgcb-fo-$$
	ip netns add "$NS" || exit 1
	cleanup_ns() {
		ip netns del "$NS" 2>/dev/null
		rm -f /dev/shm/tgcluster.peerbench.D_tgcluster /dev/shm/tgcluster.peerbench.D_tgcluster_tuned
		[ -n "${KEEP:-}" ] || rm -rf "$RUN_DIR"
	}
	trap cleanup_ns EXIT
	trap 'exit 130' INT TERM
	{ echo "date: $(date -Is)"; echo "netns: $NS"
	  echo "module: $SO md5 $(md5sum <"$TGC_MODULE_SO" | cut -c1-12), repo HEAD $(git -C "$REPO" rev-parse --short HEAD)"
	  echo "host: $(uname -r), $(nproc) cpus; load: $(cut -d' ' -f1-3 /proc/loadavg)"; } | tee "$OUT/tgc-meta.txt" >&2
	ip netns exec "$NS" env TGC_NETNS="$NS" "$0" "$@"
	exit $?
fi

# ---- inside the namespace ----
ip link set lo up
export PEERS=${PEERS:-B_pdns C_gdnsd D_tgcluster D_tgcluster_tuned}
export EXTRA_PEERS_DIR=$HERE/peers
export REPS=${REPS:-10} POLL_MS=${POLL_MS:-50} SETTLE=${SETTLE:-2} JITTER_MS=${JITTER_MS:-1000}
export MAX_WAIT=${MAX_WAIT:-30} ALLDOWN_WAIT=${ALLDOWN_WAIT:-5}
MODE=${MODE:-refused kill drop}
rc=0

case " $MODE " in *" refused "*)
	OUT=$OUT/refused "$PEERS_DIR/run_failover.sh" || rc=$?
esac

case " $MODE " in *" drop "*|*" kill "*)
	. "$PEERS_DIR/lib.sh"
	VICTIM=${VICTIM:-127.0.0.12}
	mkdir -p "$RUN_DIR"
	load_peers
	trap 'cleanup_all' EXIT
	trap 'exit 130' INT TERM
	nft add table inet tgcb && nft add chain inet tgcb out '{ type filter hook output priority 0; policy accept; }' ||
		{ log "nft setup failed"; exit 1; }
	drop_on() { nft add rule inet tgcb out ip daddr "$VICTIM" tcp dport "$NODE_PORT" drop; }
	drop_off() { nft flush chain inet tgcb out; }
	# kill: t0 = right before the signal / the spawn, sent to the poller
	# before that (go): node_stop waits for the reaping and node_start polls
	# ss every 50 ms, and a poller started only after them could not see a
	# change that happened meanwhile. The restart times include socat's
	# start-up (and the few shell steps of node_start before the spawn).
	kill_on() {
		local pf pid; pf=$(node_pidfile "$VICTIM"); pid=$(cat "$pf" 2>/dev/null)
		node_is_ours "${pid:-0}" "$VICTIM" || { log "victim $VICTIM not running"; return 1; }
		go; kill -TERM "$pid"; wait "$pid" 2>/dev/null
		rm -f "$pf"; unset "NODE_PID[$VICTIM]"
	}
	kill_off() { go; node_start "$VICTIM"; }
	# go: t0 = now, handed to the poller at once (fd 3 is its start fifo)
	go() { t0=$EPOCHREALTIME; echo "$t0" >&3; SENT=1; }
	settle() { local j=$((RANDOM % (JITTER_MS + 1))); sleep "$((SETTLE + j / 1000)).$(printf '%03d' $((j % 1000)))"; }
	# event PEER absent|present ACTION -> MEAS="ms polls" of the first reply showing the
	# change, from t0 = right after ACTION returned (drop: rule in force /
	# removed) or the t0 the ACTION set with go (kill);
	# bench/poll_answer.py polls over UDP at t0 + k x POLL_MS. Runs in this
	# shell (not a subshell): the node processes must stay its children.
	FIFO=$RUN_DIR/go.fifo; rm -f "$FIFO"; mkfifo "$FIFO"
	event() {
		local p=$1 mode=$2 action=$3 pid i res
		taskset -c "$CLIENT_CPU" "$PYTHON" "$HERE/poll_answer.py" --port "${PEER_PORT[$p]}" --name "$QNAME" \
			"--$mode" "$VICTIM" --interval "$(awk -v p="$POLL_MS" 'BEGIN{print p/1000}')" \
			--max "$MAX_WAIT" <"$FIFO" >"$RUN_DIR/poll.out" 2>&1 &
		pid=$!
		exec 3>"$FIFO"
		for i in $(seq 1 500); do grep -q ready "$RUN_DIR/poll.out" 2>/dev/null && break; sleep 0.01; done
		SENT=""; $action
		[ -n "$SENT" ] || go   # drop: t0 = once nft returned (rule in force / gone)
		exec 3>&-
		wait "$pid"
		res=$(tail -1 "$RUN_DIR/poll.out")
		case $res in timeout*|ready|"") MEAS="-1 0" ;; *) MEAS=$res ;; esac
	}
	for kind in drop kill; do
	case " $MODE " in *" $kind "*) ;; *) continue ;; esac
	DOUT=$OUT/$kind
	mkdir -p "$DOUT"
	printf "peer\trep\tevent\tms\tpolls\n" >"$DOUT/failover.tsv"
	for p in $PEERS; do
		[ "${PEER_HC[$p]}" = 1 ] || continue
		nodes_all_start
		start_peer "$p" || continue
		wait_answer "$p" "127.0.0.11 127.0.0.12 127.0.0.13" 30 || log "WARN: $p not answering all 3 nodes"
		for rep in $(seq 1 "$REPS"); do
			settle
			event "$p" absent "${kind}_on"; read -r ms k <<<"$MEAS"
			printf "%s\t%s\t%s_detect\t%s\t%s\n" "$p" "$rep" "$kind" "$ms" "$k" | tee -a "$DOUT/failover.tsv"
			settle
			event "$p" present "${kind}_off"; read -r ms k <<<"$MEAS"
			printf "%s\t%s\tun%s_detect\t%s\t%s\n" "$p" "$rep" "$kind" "$ms" "$k" | tee -a "$DOUT/failover.tsv"
		done
		drop_off
		cp "$RUN_DIR/$p/server.log" "$DOUT/server-$p.log" 2>/dev/null
		stop_peer "$p"
		nodes_all_stop
	done
	done
	nft delete table inet tgcb
esac

"$PYTHON" - "$OUT" <<'PY' | tee "$OUT/tgc-summary.txt"
import csv, os, statistics as st, sys
out = sys.argv[1]
def show(path, key, scale, events):
    if not os.path.exists(path):
        return
    rows = list(csv.DictReader(open(path), delimiter="\t"))
    for p in dict.fromkeys(r["peer"] for r in rows):
        for ev in events:
            v = [float(r[key]) * scale for r in rows if r["peer"] == p and r["event"] == ev]
            if not v:
                continue
            bad = [x for x in v if x < 0]
            v = sorted(x for x in v if x >= 0)
            if not v:
                print(f"{p:18} {ev:14} never within MAX_WAIT ({len(bad)} reps)")
                continue
            print(f"{p:18} {ev:14} n={len(v):2} median {st.median(v):6.0f} ms  worst {v[-1]:6.0f} ms  "
                  f"best {v[0]:6.0f} ms{'  timeouts ' + str(len(bad)) if bad else ''}  all: {' '.join('%.0f' % x for x in v)}")
print("== refused (run_failover.sh: socat stopped / restarted)")
show(os.path.join(out, "refused", "failover.tsv"), "seconds", 1000, ("down_detect", "up_detect"))
print("== connection refused (socat stopped: t0 = just before the signal / restarted: t0 = just before the spawn; poll_answer.py)")
show(os.path.join(out, "kill", "failover.tsv"), "ms", 1, ("kill_detect", "unkill_detect"))
print("== silent drop (nftables drops packets to the node; listener up)")
show(os.path.join(out, "drop", "failover.tsv"), "ms", 1, ("drop_detect", "undrop_detect"))
PY
exit $rc
