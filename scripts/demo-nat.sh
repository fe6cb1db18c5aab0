#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# mod-tgcluster demo, topology 2 of docs/deployment.rst ("DNS for clusters
# with NAT"): three network namespaces (client LAN, NAT host, cluster
# network), nftables DNAT, two load-balancer knotd, a translator knotd,
# unbound as the internal DNS, and a viewer; narrates the steps (1)-(8) of
# the figure as they happen, then kills a node and a load balancer.
#
#   sudo ./demo.sh nat        (Debian 12, root: namespaces need CAP_NET_ADMIN)
#
# Only documentation addresses, only inside the namespaces this script makes:
#   client  198.51.100.10 (viewer), 198.51.100.53 (internal DNS, unbound)
#   nat     198.51.100.1 + LAN aliases 198.51.100.100-102 (translator on .100
#           and .101 port 53; DNAT of port 5900 to the nodes), 203.0.113.1
#   cluster 203.0.113.100-102 (nodes tg1-tg3; LBs on .100 and .101)
# The topology (namespaces, addresses, DNAT ruleset), the knot.conf files and
# the nodes come from the test harness, as in the end-to-end tests:
# tests/e2e/e2e.py topology up/down, tests/integration/tgc.py conf/nodesim.
# Everything it starts is stopped on exit by PID; the namespaces are deleted
# by name (their veths and the nftables ruleset go with them).

set -euo pipefail

cd "$(dirname "$(readlink -f "$0")")/.."
REPO=$PWD
KNOTD=${KNOTD:-/usr/sbin/knotd}
KNOTC=${KNOTC:-/usr/sbin/knotc}
PY=/usr/bin/python3   # has dnspython (python3-dnspython), which the harness needs
HARNESS=$REPO/tests/integration/tgc.py   # knot.conf writer and node simulator
TOPOLOGY=$REPO/tests/e2e/e2e.py          # the NAT topology of the e2e tests
ZONE=internet.intern.netz
NS_PREFIX=tgc-demo-$$

step=0
heading() {
	step=$((step + 1))
	printf '\n\033[1m==== %d. %s ====\033[0m\n' "$step" "$*"
}
step() { printf '\n  \033[1;36m[step %s]\033[0m %s\n' "$1" "$2"; }
info() { printf '  %s\n' "$*"; }
# run CMD...: prints CMD exactly as it is run (shell-quoted), then runs it,
# its output indented; returns CMD's status.
run() {
	printf '  $'
	printf ' %q' "$@"
	printf '\n'
	"$@" 2>&1 | sed 's/^/    /'
}
die() { printf 'demo nat: %s\n' "$*" >&2; exit 1; }
now_ms() { date +%s%3N; }
in_ns() { local ns=$1; shift; ip netns exec "$ns" "$@"; }

# --- cleanup: only what this script started ---------------------------------
TMP=""
declare -A PIDS=()   # name -> pid
TOPOLOGY_UP=""
stop_pid() {
	local name=$1 pid=${PIDS[$1]:-}
	[ -n "$pid" ] || return 0
	if kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid"
		for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
	fi
	wait "$pid" 2>/dev/null || true
	unset "PIDS[$name]"
}
cleanup() {
	local rc=$?
	set +e
	for name in "${!PIDS[@]}"; do stop_pid "$name"; done
	[ -z "$TOPOLOGY_UP" ] || "$PY" "$TOPOLOGY" topology down "$NS_PREFIX"
	rm -f "/dev/shm/tgcluster.demo-nat-$$-lb1" "/dev/shm/tgcluster.demo-nat-$$-lb2" \
		"/dev/shm/tgcluster.demo-nat-$$-tr"
	[ -n "$TMP" ] && rm -rf "$TMP"
	[ "$rc" -eq 0 ] || printf '\ndemo nat: failed (exit %d)\n' "$rc" >&2
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# wait_for DESC MS CMD...: polls CMD until it succeeds.
wait_for() {
	local desc=$1 ms=$2; shift 2
	local deadline=$(( $(now_ms) + ms ))
	until "$@" >/dev/null 2>&1; do
		[ "$(now_ms)" -lt "$deadline" ] || die "timed out waiting for $desc"
		sleep 0.05
	done
}

# spawn NAME NS CMD...: starts CMD inside namespace NS, logging to $TMP/NAME.log.
spawn() {
	local name=$1 ns=$2; shift 2
	ip netns exec "$ns" "$@" >"$TMP/$name.log" 2>&1 &
	PIDS[$name]=$!
}

# The viewer: resolve through the internal DNS (prints the addresses).
resolve() {
	in_ns "$NS_CLIENT" kdig @"$IDNS" +short +timeout=2 +retry=1 "$ZONE" A | sort | tr '\n' ' '
}
# The viewer connecting to ADDR:5900: prints the node's banner and identity
# (sent after the viewer's RFB version and the security types).
connect() {
	in_ns "$NS_CLIENT" "$PY" - "$1" "$PORT" <<'EOF'
import socket, sys
with socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=2) as s:
    buf = b""
    while b"\n" not in buf:
        chunk = s.recv(4096)
        if not chunk:
            break
        buf += chunk
    s.sendall(b"RFB 003.008\n")
    while buf.count(b"\n") < 2:
        chunk = s.recv(4096)
        if not chunk:
            break
        buf += chunk
head, _, rest = buf.partition(b"\n")
print(" | ".join((head + b"\n" + rest[2:]).decode().strip().split("\n")))
EOF
}

# --- 1. dependencies and build ---------------------------------------------
heading "Dependencies and build"
[ "$(id -u)" -eq 0 ] || die "needs root (network namespaces, nftables)"
./scripts/deps.sh
# knotd loads every module of its module directory by itself; an installed
# copy would collide with the build this demo loads by path.
MODDIR=$(pkg-config --variable=module_instdir knotd)
[ ! -e "$MODDIR/mod-tgcluster.so" ] || die "an installed $MODDIR/mod-tgcluster.so shadows the build (knotd: duplicate module); remove it first: apt purge knot-module-tgcluster (or delete the file)"
[ -f build/build.ninja ] || meson setup build
ninja -C build mod-tgcluster.so >/dev/null
MODULE=$REPO/build/mod-tgcluster.so
info "module: $MODULE"
TMP=$(mktemp -d /tmp/tgcluster-demo-nat.XXXXXX)

# --- 2. the networks ---------------------------------------------------------
heading "Three network namespaces: client LAN, NAT host, cluster network"
TOPOLOGY_UP=1
topo=$("$PY" "$TOPOLOGY" topology up "$NS_PREFIX") || die "topology up failed"
eval "$topo"   # NS_CLIENT NS_NAT NS_CLUSTER VIEWER INTERNAL_DNS NAT_LAN NAT_CLUSTER NODE_PORT IDS NODE LAN LB
IDNS=$INTERNAL_DNS
PORT=$NODE_PORT
info "client  $NS_CLIENT: viewer $VIEWER, internal DNS $IDNS (no route to ${NODE[0]%.*}.0/24)"
info "nat     $NS_NAT: $NAT_LAN + LAN aliases ${LAN[*]}, $NAT_CLUSTER"
info "cluster $NS_CLUSTER: nodes ${NODE[*]}, default via $NAT_CLUSTER"
info "NAT host ruleset (nftables): LAN alias -> node for port $PORT; DNS to the"
info "LB aliases (${LAN[0]}, ${LAN[1]}) stays on the NAT host, where the translator answers:"
in_ns "$NS_NAT" nft list table ip tgc_nat | sed 's/^/      /'

# --- 3. the cluster ------------------------------------------------------------
heading "Cluster: three nodes, two load balancers (knotd + mod-tgcluster)"
for i in 0 1 2; do
	spawn "node-${IDS[$i]}" "$NS_CLUSTER" "$PY" "$HARNESS" nodesim --mode rfbid \
		--listen "${NODE[$i]}:$PORT=${IDS[$i]}"
	wait_for "node ${IDS[$i]}" 5000 grep -q '^ready' "$TMP/node-${IDS[$i]}.log"
	info "node ${IDS[$i]} ${NODE[$i]}:$PORT (RFB banner, security types + identity line), pid ${PIDS[node-${IDS[$i]}]}"
done

# knot_conf NAME LOOPBACK-PORT MODULE-ID MODULE-ITEMS [ARGS of tgc.py conf]:
# the harness's knot.conf (knotd also listens on 127.0.0.1 and ::1 at
# LOOPBACK-PORT inside its namespace; --listen adds the demo's addresses).
knot_conf() {
	local name=$1 port=$2 id=$3 items=$4
	shift 4
	"$PY" "$HARNESS" conf "$TMP/$name" --zone "$ZONE" --port "$port" \
		--module "$MODULE" --log-level info --id "$id" --item "$items" \
		--record "@ NS ns
ns A ${LAN[0]}" "$@" >/dev/null || die "$name: writing knot.conf failed"
}
start_knotd() { # NAME NS
	local name=$1 ns=$2
	"$KNOTC" -c "$TMP/$name/knot.conf" conf-check >/dev/null || die "$name: conf-check failed"
	spawn "$name" "$ns" "$KNOTD" -c "$TMP/$name/knot.conf"
	wait_for "$name" 10000 sh -c "'$KNOTC' -c '$TMP/$name/knot.conf' -t 1 zone-status $ZONE | grep -q 'serial: 1'"
	info "$name ready in $ns, pid ${PIDS[$name]}"
}
LB_ITEMS="node: [ ${NODE[0]}, ${NODE[1]}, ${NODE[2]} ]
check: rfb
check-port: $PORT
check-interval: 200
check-timeout: 100
ttl: 1
nat-base: ${LAN[0]}
shm: demo-nat-$$-LBN"
for n in 1 2; do
	knot_conf "lb$n" "530$n" lb "${LB_ITEMS/LBN/lb$n}" --listen "${NODE[$((n - 1))]}@53"
done
info "load balancer knot.conf (LB1 listens on ${NODE[0]}@53, LB2 on ${NODE[1]}@53):"
sed -n '/^mod-tgcluster:/,/^template:/p' "$TMP/lb1/knot.conf" | sed '$d; s/^/      /'
start_knotd lb1 "$NS_CLUSTER"
start_knotd lb2 "$NS_CLUSTER"

# --- 4. the translator on the NAT host ------------------------------------------
heading "NAT translator: knotd + mod-tgcluster (upstream) on the NAT host"
knot_conf translator 5300 translator "upstream: [ lb1, lb2 ]
upstream-interval: 200
upstream-timeout: 100
shm: demo-nat-$$-tr" --listen "${LAN[0]}@53" --listen "${LAN[1]}@53" \
	--remote "lb1=${NODE[0]}@53" --remote "lb2=${NODE[1]}@53"
info "translator knot.conf ($TMP/translator/knot.conf, the module loaded by path from build/):"
sed 's/^/      /' "$TMP/translator/knot.conf"
start_knotd translator "$NS_NAT"

# --- 5. the internal DNS ----------------------------------------------------------
heading "Internal DNS of the client LAN: unbound, zone-forwarding to the translator"
mkdir -p "$TMP/unbound"
printf '. 3600000 NS a.root-servers.net.\na.root-servers.net. 3600000 A 127.0.0.254\n' \
	>"$TMP/unbound/root.hints"
cat >"$TMP/unbound/unbound.conf" <<EOF
server:
    username: ""
    chroot: ""
    directory: "$TMP/unbound"
    pidfile: "$TMP/unbound/unbound.pid"
    use-syslog: no
    logfile: ""
    num-threads: 1
    interface: $IDNS@53
    access-control: ${VIEWER%.*}.0/24 allow
    do-ip6: no
    module-config: "validator iterator"
    trust-anchor-file: "/usr/share/dns/root.key"
    domain-insecure: "$ZONE."
    root-hints: "$TMP/unbound/root.hints"
    local-zone: "." refuse
    local-zone: "$ZONE." transparent
    cache-min-ttl: 0
remote-control:
    control-enable: no
forward-zone:
    name: "$ZONE."
    forward-addr: ${LAN[0]}@53
    forward-addr: ${LAN[1]}@53
EOF
sed -n '/^forward-zone:/,$p' "$TMP/unbound/unbound.conf" | sed 's/^/      /'
spawn unbound "$NS_CLIENT" unbound -d -c "$TMP/unbound/unbound.conf"
wait_for unbound 10000 in_ns "$NS_CLIENT" kdig @"$IDNS" +tcp +timeout=1 +retry=0 "$ZONE" SOA
info "unbound ready in $NS_CLIENT, pid ${PIDS[unbound]}"

# --- 6. the steps -------------------------------------------------------------------
heading "Steps (1)-(8) of a lookup and a connection"
info "The client LAN cannot reach the cluster network (this is why a translator is needed):"
out=$(run ip netns exec "$NS_CLIENT" kdig @"${NODE[0]}" +timeout=1 +retry=0 "$ZONE" A) || true
printf '%s\n' "$out" | grep -v '^ *$'
if grep -q 'status: NOERROR' <<<"$out"; then
	die "the client reached ${NODE[0]}: the topology is wrong"
fi
info "-> no answer; the client's route to it:"
run ip netns exec "$NS_CLIENT" ip route get "${NODE[0]}" || true

step 1 "the viewer ($VIEWER) asks the internal DNS ($IDNS) for $ZONE"
step 2 "the internal DNS forwards to the translator on the LBs' LAN addresses (${LAN[0]}, ${LAN[1]})"
step 3 "the translator asks the LBs on their NAT addresses; what LB1 answers it:"
run ip netns exec "$NS_NAT" kdig @"${NODE[0]}" +noall +answer +timeout=1 "$ZONE" A
step 4 "the LBs answer with the LAN addresses of the live nodes (nat-base ${LAN[0]} + index)"
step 5 "the translator answers the internal DNS from its polled cache:"
run ip netns exec "$NS_CLIENT" kdig @"${LAN[0]}" +noall +answer +timeout=1 "$ZONE" A
step 6 "the internal DNS answers the viewer:"
run ip netns exec "$NS_CLIENT" kdig @"$IDNS" +noall +answer +timeout=2 "$ZONE" A
first=$(in_ns "$NS_CLIENT" kdig @"$IDNS" +short +timeout=2 "$ZONE" A | head -n 1)
step 7 "the viewer connects to the first address, $first:$PORT"
got=$(connect "$first")
step 8 "the NAT host DNATs it to the node; the node says:"
info "  $got"
info "(addr = the node's own address behind the NAT, peer = the viewer's LAN address)"
for i in 0 1 2; do
	info "${LAN[$i]}:$PORT -> $(connect "${LAN[$i]}" | sed 's/.*| //')"
done
info "DNAT rule: $(in_ns "$NS_NAT" nft list chain ip tgc_nat prerouting | grep -o 'counter packets [0-9]*')"

# --- 7. a node dies ---------------------------------------------------------------
heading "Kill node tg3 (${NODE[2]}, LAN ${LAN[2]})"
t0=$(now_ms)
stop_pid node-tg3
info "node tg3 stopped; the viewer asks again until ${LAN[2]} is gone"
until ! resolve | grep -qw "${LAN[2]}"; do
	[ $(( $(now_ms) - t0 )) -lt 10000 ] || die "${LAN[2]} still answered after 10 s"
	sleep 0.05
done
info "gone from the viewer's answers after $(( $(now_ms) - t0 )) ms (LB: 2 x 200 ms + 100 ms; TTL 1 s at the translator and unbound)"
info "viewer now gets: $(resolve)"
first=$(in_ns "$NS_CLIENT" kdig @"$IDNS" +short +timeout=2 "$ZONE" A | head -n 1)
info "and reaches: $(connect "$first" | sed 's/.*| //')"

# --- 8. a load balancer dies --------------------------------------------------------
heading "Kill load balancer LB1 (${NODE[0]}@53)"
stop_pid lb1
t0=$(now_ms)
while [ $(( $(now_ms) - t0 )) -lt 3000 ]; do
	a=$(resolve)
	[ -n "$a" ] || die "resolution failed with LB1 down"
	info "$(( $(now_ms) - t0 )) ms: viewer gets $a"
	sleep 0.5
done
info "translator log:"
grep -F 'upstream' "$TMP/translator.log" | sed 's/^/    /' || true
info "translator counters:"
"$KNOTC" -c "$TMP/translator/knot.conf" zone-stats "$ZONE" | sed 's/^/    /'

heading "Stopping everything this demo started and deleting the namespaces"
