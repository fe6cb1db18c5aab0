#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# mod-tgcluster demo, seed figure "DNS for clusters with NAT": three network
# namespaces (client LAN, NAT host, cluster network), nftables DNAT, two
# load-balancer knotd, a translator knotd, unbound as the internal DNS, and a
# viewer; narrates the seed's steps 1-8 as they happen, then kills a node and
# a load balancer.
#
#   sudo ./demo.sh nat        (Debian 12, root: namespaces need CAP_NET_ADMIN)
#
# Only documentation addresses, only inside the namespaces this script makes:
#   client  198.51.100.10 (viewer), 198.51.100.53 (internal DNS, unbound)
#   nat     198.51.100.1 + LAN aliases 198.51.100.100-102 (translator on .100
#           and .101 port 53; DNAT of port 5900 to the nodes), 203.0.113.1
#   cluster 203.0.113.100-102 (nodes tg1-tg3; LBs on .100 and .101)
# Everything it starts is stopped on exit by PID; the namespaces are deleted
# by name (their veths and the nftables ruleset go with them).

set -euo pipefail

cd "$(dirname "$(readlink -f "$0")")/.."
REPO=$PWD
KNOTD=${KNOTD:-/usr/sbin/knotd}
KNOTC=${KNOTC:-/usr/sbin/knotc}
PY=/usr/bin/python3
ZONE=internet.intern.netz
NS_CLIENT=tgc-demo-$$-client
NS_NAT=tgc-demo-$$-nat
NS_CLUSTER=tgc-demo-$$-cluster
IDS=(tg1 tg2 tg3)
NODE=(203.0.113.100 203.0.113.101 203.0.113.102)
LAN=(198.51.100.100 198.51.100.101 198.51.100.102)
VIEWER=198.51.100.10
IDNS=198.51.100.53
PORT=5900

step=0
heading() {
	step=$((step + 1))
	printf '\n\033[1m==== %d. %s ====\033[0m\n' "$step" "$*"
}
seed() { printf '\n  \033[1;36m[seed step %s]\033[0m %s\n' "$1" "$2"; }
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
NSS=()
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
	for ns in "${NSS[@]}"; do ip netns del "$ns" 2>/dev/null; done
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
for ns in "$NS_CLIENT" "$NS_NAT" "$NS_CLUSTER"; do
	ip netns add "$ns"
	NSS+=("$ns")
	ip -n "$ns" link set lo up
done
ip link add lan0 netns "$NS_CLIENT" type veth peer name lan0 netns "$NS_NAT"
ip link add clu0 netns "$NS_NAT" type veth peer name clu0 netns "$NS_CLUSTER"
for pair in "$NS_CLIENT lan0" "$NS_NAT lan0" "$NS_NAT clu0" "$NS_CLUSTER clu0"; do
	set -- $pair
	ip -n "$1" link set "$2" up
done
ip -n "$NS_CLIENT" addr add $VIEWER/24 dev lan0
ip -n "$NS_CLIENT" addr add $IDNS/32 dev lan0
ip -n "$NS_NAT" addr add 198.51.100.1/24 dev lan0
ip -n "$NS_NAT" addr add 203.0.113.1/24 dev clu0
for i in 0 1 2; do
	ip -n "$NS_NAT" addr add "${LAN[$i]}/32" dev lan0
	ip -n "$NS_CLUSTER" addr add "${NODE[$i]}/$([ $i -eq 0 ] && echo 24 || echo 32)" dev clu0
done
ip -n "$NS_CLUSTER" route add default via 203.0.113.1
in_ns "$NS_NAT" sysctl -q -w net.ipv4.ip_forward=1
info "client  $NS_CLIENT: viewer $VIEWER, internal DNS $IDNS (no route to 203.0.113.0/24)"
info "nat     $NS_NAT: 198.51.100.1 + LAN aliases ${LAN[*]}, 203.0.113.1"
info "cluster $NS_CLUSTER: nodes ${NODE[*]}, default via 203.0.113.1"

cat >"$TMP/nat.nft" <<EOF
table ip tgc_nat {
    map lan2node {
        type ipv4_addr : ipv4_addr
        elements = { ${LAN[0]} : ${NODE[0]}, ${LAN[1]} : ${NODE[1]}, ${LAN[2]} : ${NODE[2]} }
    }
    chain prerouting {
        type nat hook prerouting priority dstnat; policy accept;
        iifname "lan0" tcp dport $PORT counter dnat to ip daddr map @lan2node
    }
    chain forward {
        type filter hook forward priority filter; policy drop;
        ct state established,related accept
        ct status dnat counter accept
    }
}
EOF
in_ns "$NS_NAT" nft -f "$TMP/nat.nft"
info "NAT host ruleset (nftables): LAN alias -> node for port $PORT; DNS to the"
info "LB aliases (.100, .101) stays on the NAT host, where the translator answers:"
sed 's/^/      /' "$TMP/nat.nft"

# --- 3. the cluster ------------------------------------------------------------
heading "Cluster: three nodes, two load balancers (knotd + mod-tgcluster)"
for i in 0 1 2; do
	spawn "node-${IDS[$i]}" "$NS_CLUSTER" "$PY" "$REPO/tests/e2e/idnode.py" \
		--listen "${NODE[$i]}:$PORT=${IDS[$i]}"
	wait_for "node ${IDS[$i]}" 5000 grep -q listening "$TMP/node-${IDS[$i]}.log"
	info "node ${IDS[$i]} ${NODE[$i]}:$PORT (RFB banner, security types + identity line), pid ${PIDS[node-${IDS[$i]}]}"
done

cat >"$TMP/zone" <<EOF
\$ORIGIN $ZONE.
\$TTL 3600
@    SOA ns hostmaster 1 3600 900 604800 60
@    NS  ns
ns   A   ${LAN[0]}
EOF
# knot_conf NAME LISTEN MODULE-SECTION [PRE-MODULE-TEXT]
knot_conf() {
	local name=$1 listen=$2 section=$3 pre=${4:-}
	mkdir -p "$TMP/$name/db"
	cp "$TMP/zone" "$TMP/$name/$ZONE.zone"
	cat >"$TMP/$name/knot.conf" <<EOF
server:
    rundir: "$TMP/$name"
    listen: [ $listen ]
control:
    listen: "$TMP/$name/knot.sock"
database:
    storage: "$TMP/$name/db"
log:
  - target: stderr
    any: info
$pre
module:
  - id: mod-tgcluster
    file: "$MODULE"
mod-tgcluster:
$section
template:
  - id: default
    storage: "$TMP/$name"
    file: "%s.zone"
    zonefile-sync: -1
    journal-content: none
zone:
  - domain: $ZONE
    module: mod-tgcluster/$(printf '%s' "$section" | sed -n 's/.*- id: //p')
EOF
}
start_knotd() { # NAME NS
	local name=$1 ns=$2
	"$KNOTC" -c "$TMP/$name/knot.conf" conf-check >/dev/null || die "$name: conf-check failed"
	spawn "$name" "$ns" "$KNOTD" -c "$TMP/$name/knot.conf"
	wait_for "$name" 10000 sh -c "'$KNOTC' -c '$TMP/$name/knot.conf' -t 1 zone-status $ZONE | grep -q 'serial: 1'"
	info "$name ready in $ns, pid ${PIDS[$name]}"
}
LB_SECTION="  - id: lb
    node: [ ${NODE[0]}, ${NODE[1]}, ${NODE[2]} ]
    check: rfb
    check-port: $PORT
    check-interval: 200
    check-timeout: 100
    ttl: 1
    nat-base: ${LAN[0]}
    shm: demo-nat-$$-LBN"
for n in 1 2; do
	knot_conf "lb$n" "${NODE[$((n - 1))]}@53" "${LB_SECTION/LBN/lb$n}"
done
info "load balancer knot.conf (LB1 listens on ${NODE[0]}@53, LB2 on ${NODE[1]}@53):"
sed -n '/^mod-tgcluster:/,/^template:/p' "$TMP/lb1/knot.conf" | sed '$d; s/^/      /'
start_knotd lb1 "$NS_CLUSTER"
start_knotd lb2 "$NS_CLUSTER"

# --- 4. the translator on the NAT host ------------------------------------------
heading "NAT translator: knotd + mod-tgcluster (upstream) on the NAT host"
knot_conf translator "${LAN[0]}@53, ${LAN[1]}@53" "  - id: translator
    upstream: [ lb1, lb2 ]
    upstream-interval: 200
    upstream-timeout: 100
    shm: demo-nat-$$-tr" "remote:
  - id: lb1
    address: ${NODE[0]}@53
  - id: lb2
    address: ${NODE[1]}@53"
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
    access-control: 198.51.100.0/24 allow
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

# --- 6. the seed's steps ------------------------------------------------------------
heading "The seed's steps 1-8"
info "The client LAN cannot reach the cluster network (this is why a translator is needed):"
out=$(run ip netns exec "$NS_CLIENT" kdig @"${NODE[0]}" +timeout=1 +retry=0 "$ZONE" A) || true
printf '%s\n' "$out" | grep -v '^ *$'
if grep -q 'status: NOERROR' <<<"$out"; then
	die "the client reached ${NODE[0]}: the topology is wrong"
fi
info "-> no answer; the client's route to it:"
run ip netns exec "$NS_CLIENT" ip route get "${NODE[0]}" || true

seed 1 "the viewer ($VIEWER) asks the internal DNS ($IDNS) for $ZONE"
seed 2 "the internal DNS forwards to the translator on the LBs' LAN addresses (${LAN[0]}, ${LAN[1]})"
seed 3 "the translator asks the LBs on their NAT addresses; what LB1 answers it:"
run ip netns exec "$NS_NAT" kdig @"${NODE[0]}" +noall +answer +timeout=1 "$ZONE" A
seed 4 "the LBs answer with the LAN addresses of the live nodes (nat-base ${LAN[0]} + index)"
seed 5 "the translator answers the internal DNS from its polled cache:"
run ip netns exec "$NS_CLIENT" kdig @"${LAN[0]}" +noall +answer +timeout=1 "$ZONE" A
seed 6 "the internal DNS answers the viewer:"
run ip netns exec "$NS_CLIENT" kdig @"$IDNS" +noall +answer +timeout=2 "$ZONE" A
first=$(in_ns "$NS_CLIENT" kdig @"$IDNS" +short +timeout=2 "$ZONE" A | head -n 1)
seed 7 "the viewer connects to the first address, $first:$PORT"
got=$(connect "$first")
seed 8 "the NAT host DNATs it to the node; the node says:"
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
