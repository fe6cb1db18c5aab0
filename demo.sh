#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# mod-tgcluster demo: a load-balancer knotd answering a cluster name with its
# live nodes, on loopback only; a node dies and comes back; the operator's
# view (tgclusterctl status) and a drain (tgclusterctl set NODE drain/auto).
# It loads the module by path from build/ and stops with one line while a
# copy is installed in knotd's module directory (knotd would load both).
#
#   sudo ./demo.sh            (Debian 12; installs missing packages with apt-get)
#   sudo ./demo.sh nat        the seed's NAT topology in network namespaces,
#                             narrated step by step (scripts/demo-nat.sh)
#
# Environment: DEMO_DNS_PORT [53535], DEMO_NODE_PORT [5900],
#              KNOTD [/usr/sbin/knotd], KNOTC [/usr/sbin/knotc].
# Everything it starts is stopped on exit, by PID.

set -euo pipefail

cd "$(dirname "$(readlink -f "$0")")"
case "${1:-}" in
"") ;;
nat) exec ./scripts/demo-nat.sh ;;
*) echo "usage: $0 [nat]" >&2; exit 2 ;;
esac
REPO=$PWD
DNS_PORT=${DEMO_DNS_PORT:-53535}
NODE_PORT=${DEMO_NODE_PORT:-5900}
KNOTD=${KNOTD:-/usr/sbin/knotd}
KNOTC=${KNOTC:-/usr/sbin/knotc}
PY=/usr/bin/python3   # has dnspython (python3-dnspython), which the harness needs
HARNESS=$REPO/tests/integration/tgc.py   # knot.conf writer and node simulator
ZONE=internet.intern.netz
NODES=(127.0.0.11 127.0.0.12 127.0.0.13)
SHM=demo-$$

step=0
heading() {
	step=$((step + 1))
	printf '\n\033[1m==== %d. %s ====\033[0m\n' "$step" "$*"
}
info() { printf '  %s\n' "$*"; }
die() { printf 'demo: %s\n' "$*" >&2; exit 1; }
now_ms() { date +%s%3N; }

# --- cleanup: only what this script started -------------------------------
TMP=""
KNOTD_PID=""
declare -A NODE_PID=()
cleanup() {
	local rc=$?
	set +e
	if [ -n "$KNOTD_PID" ] && kill -0 "$KNOTD_PID" 2>/dev/null; then
		kill -TERM "$KNOTD_PID"
		for _ in $(seq 50); do kill -0 "$KNOTD_PID" 2>/dev/null || break; sleep 0.1; done
		kill -0 "$KNOTD_PID" 2>/dev/null && kill -KILL "$KNOTD_PID"
		wait "$KNOTD_PID" 2>/dev/null
	fi
	for ip in "${!NODE_PID[@]}"; do
		stop_node "$ip"
	done
	rm -f "/dev/shm/tgcluster.$SHM"
	[ -n "$TMP" ] && rm -rf "$TMP"
	[ "$rc" -eq 0 ] || printf '\ndemo: failed (exit %d)\n' "$rc" >&2
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

start_node() {
	local ip=$1
	"$PY" "$HARNESS" nodesim --listen "$ip:$NODE_PORT" \
		--mode rfb >"$TMP/node-$ip.log" 2>&1 &
	NODE_PID[$ip]=$!
	local deadline=$(( $(now_ms) + 5000 ))
	until grep -q '^ready' "$TMP/node-$ip.log" 2>/dev/null; do
		kill -0 "${NODE_PID[$ip]}" 2>/dev/null || die "node $ip failed: $(cat "$TMP/node-$ip.log")"
		[ "$(now_ms)" -lt "$deadline" ] || die "node $ip did not start"
		sleep 0.05
	done
	info "node $ip:$NODE_PORT speaks RFB (pid ${NODE_PID[$ip]})"
}

stop_node() {
	local ip=$1 pid=${NODE_PID[$1]:-}
	[ -n "$pid" ] || return 0
	kill -TERM "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	unset "NODE_PID[$ip]"
}

ask() { # prints the A answer addresses on one line
	kdig @127.0.0.1 -p "$DNS_PORT" +short +timeout=1 +retry=1 "$ZONE" A | tr '\n' ' '
}

# run CMD...: prints CMD exactly as it is run (shell-quoted), then runs it,
# its output indented; returns CMD's status.
run() {
	printf '  $'
	printf ' %q' "$@"
	printf '\n'
	"$@" 2>&1 | sed 's/^/    /'
}

show() {
	run kdig @127.0.0.1 -p "$DNS_PORT" +noall +answer +timeout=1 "$ZONE" A
}

# --- 1. dependencies -------------------------------------------------------
heading "Dependencies"
PKGS=(libknot-dev libuv1-dev libjansson-dev check liburcu-dev knot knot-dnsutils meson ninja-build
      pkg-config python3 python3-dnspython)
missing=()
for p in "${PKGS[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
		|| missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	[ "$(id -u)" -eq 0 ] || die "missing packages (${missing[*]}); run as root"
	info "installing: ${missing[*]}"
	apt-get update -q
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
else
	info "all present: ${PKGS[*]}"
fi

# --- 2. build --------------------------------------------------------------
heading "Build (meson + ninja into build/)"
# knotd loads every module of its module directory by itself; an installed
# copy would collide with the build this demo loads by path.
MODDIR=$(pkg-config --variable=module_instdir knotd)
[ ! -e "$MODDIR/mod-tgcluster.so" ] || die "an installed $MODDIR/mod-tgcluster.so shadows the build (knotd: duplicate module); remove it first: apt purge knot-module-tgcluster (or delete the file)"
[ -f build/build.ninja ] || meson setup build
ninja -C build mod-tgcluster.so tgclusterctl
MODULE=$REPO/build/mod-tgcluster.so
CTL=build/tgclusterctl
[ -f "$MODULE" ] || die "no $MODULE after the build"
info "module: $MODULE"

# --- 3. nodes --------------------------------------------------------------
heading "Three simulated cluster nodes (RFB servers) on ${NODES[*]}"
TMP=$(mktemp -d /tmp/tgcluster-demo.XXXXXX)
for ip in "${NODES[@]}"; do
	start_node "$ip"
done

# --- 4. knotd --------------------------------------------------------------
heading "knotd with mod-tgcluster on 127.0.0.1@$DNS_PORT"
# The knot.conf and the zone file come from the test harness's writer.
"$PY" "$HARNESS" conf "$TMP" --zone "$ZONE" --port "$DNS_PORT" --module "$MODULE" \
	--log-level info --id lb --item "node: [ $(printf '%s, ' "${NODES[@]}" | sed 's/, $//') ]
check: rfb
check-port: $NODE_PORT
check-interval: 200
check-timeout: 100
check-rise: 2
check-fall: 2
ttl: 5
policy: round-robin
shm: $SHM" >/dev/null || die "writing knot.conf failed"
sed -n '/^mod-tgcluster:/,/^template:/p' "$TMP/knot.conf" | sed '$d; s/^/    /'
"$KNOTC" -c "$TMP/knot.conf" conf-check >/dev/null || die "conf-check failed"
"$KNOTD" -c "$TMP/knot.conf" >"$TMP/knotd.log" 2>&1 &
KNOTD_PID=$!
deadline=$(( $(now_ms) + 10000 ))
until "$KNOTC" -c "$TMP/knot.conf" -t 1 zone-status "$ZONE" 2>/dev/null | grep -q "serial: 1"; do
	kill -0 "$KNOTD_PID" 2>/dev/null || die "knotd exited: $(cat "$TMP/knotd.log" 2>/dev/null)"
	[ "$(now_ms)" -lt "$deadline" ] || die "knotd not ready"
	sleep 0.05
done
info "knotd pid $KNOTD_PID ready"

# --- 5. answers ------------------------------------------------------------
heading "All nodes live: the name answers with all of them (round-robin)"
show
for i in 1 2 3; do info "query $i: $(ask)"; done

# --- 6. a node dies --------------------------------------------------------
victim=${NODES[1]}
heading "Kill node $victim and wait until it leaves the answers"
t0=$(now_ms)
stop_node "$victim"
info "node $victim stopped"
until ! ask | grep -qw "$victim"; do
	[ $(( $(now_ms) - t0 )) -lt 10000 ] || die "$victim still answered after 10 s"
	sleep 0.01
done
info "gone from the answers after $(( $(now_ms) - t0 )) ms (interval 200 x fall 2 + timeout 100 = 500 ms)"
show

# --- 7. it comes back ------------------------------------------------------
heading "Restart node $victim and wait until it is answered again"
start_node "$victim"
t0=$(now_ms)
until ask | grep -qw "$victim"; do
	[ $(( $(now_ms) - t0 )) -lt 10000 ] || die "$victim not back after 10 s"
	sleep 0.01
done
info "back in the answers $(( $(now_ms) - t0 )) ms after it listens again (rise 2)"
show

# --- 8. the operator's tools ------------------------------------------------
heading "The live table, as the operator sees it: tgclusterctl status"
info "tgclusterctl reads the module's shared-memory segment (/dev/shm/tgcluster.$SHM);"
info "installed by the package as /usr/sbin/tgclusterctl, here from the build:"
run "$CTL" status "$ZONE"

drained=${NODES[2]}
heading "Drain $drained for maintenance: it leaves the answers, no reload"
run "$CTL" set "$ZONE" "$drained" drain
t0=$(now_ms)
until ! ask | grep -qw "$drained"; do
	[ $(( $(now_ms) - t0 )) -lt 5000 ] || die "$drained still answered 5 s after the drain"
	sleep 0.01
done
for i in 1 2 3; do info "query $i: $(ask)"; done
run "$CTL" status "$ZONE"
info "$drained is still probed and up; it would only be answered again if no other node were live"

heading "Back to auto: $drained is answered again"
run "$CTL" set "$ZONE" "$drained" auto
t0=$(now_ms)
until ask | grep -qw "$drained"; do
	[ $(( $(now_ms) - t0 )) -lt 5000 ] || die "$drained not answered 5 s after set auto"
	sleep 0.01
done
show

# --- 9. what knotd saw -----------------------------------------------------
heading "knotd log (module lines) and counters"
grep -F "mod-tgcluster" "$TMP/knotd.log" | sed 's/^/    /' || true
"$KNOTC" -c "$TMP/knot.conf" zone-stats "$ZONE" | sed 's/^/    /'

heading "Stopping everything this demo started"
