#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Answer cost with nodes that share an address (two services on one host)
# against the same number of nodes with distinct addresses. Per N in SIZES
# and A in ANSWERS, two knotd + mod-tgcluster servers answer the cluster
# name with `check: none` (every node counts as up; no probes, so the
# figures are the answer path alone) and `answers: A`:
#   - distinct: N nodes 127.1.x.y, one address each;
#   - shared:   N/2 addresses 127.1.x.y, each twice (@PORT_A and @PORT_B).
# Server CPU per answered query with dnsperf unlimited, ROUNDS x DURATION s,
# the two servers interleaved (cpu_rounds/cpu_summary of lib.sh). With
# `answers: 0` the answers do not fit a 512-byte UDP response and are sent
# truncated (both servers alike). The addresses are never contacted.
#
# Env: SIZES="500 1200" ANSWERS="3 0" POLICY=round-robin ROUNDS=3 DURATION=5 CLIENTS=10
#      OUTSTANDING=100 PORTS="25381 25382" MODULE_SO=build/mod-tgcluster.so
#      OUT= KEEP=
set -u
. "$(dirname "$0")/lib.sh"

SIZES=${SIZES:-500 1200} ANSWERS=${ANSWERS:-3 0} POLICY=${POLICY:-round-robin}
ROUNDS=${ROUNDS:-3} DURATION=${DURATION:-5}
CLIENTS=${CLIENTS:-10} OUTSTANDING=${OUTSTANDING:-100}
read -r P_DIST P_SHARED <<<"${PORTS:-25381 25382}"
command -v dnsperf >/dev/null || die "dnsperf missing"

bench_init dedup
BASE_OUT=${OUT:-${TMPDIR:-/tmp}/tgc-bench-results/dedup-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$BASE_OUT"
QFILE=$WORK/queries.txt
for i in $(seq 1 100); do echo "$ZONE A"; done >"$QFILE"
{ machine_notes
  echo "sizes=$SIZES answers=$ANSWERS policy=$POLICY rounds=$ROUNDS duration=${DURATION}s clients=$CLIENTS outstanding=$OUTSTANDING"
  echo "server cpu=$SERVER_CPU client cpu=$CLIENT_CPU; load: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$BASE_OUT/meta.txt" >&2

# addr K: the K-th loopback address 127.1.x.y (y in 1..250)
addr() { echo "127.1.$(( $1 / 250 )).$(( $1 % 250 + 1 ))"; }

for N in $SIZES; do
	dist=$(for k in $(seq 0 $((N - 1))); do addr "$k"; done | paste -sd, | sed 's/,/, /g')
	shared=$(for k in $(seq 0 $((N / 2 - 1))); do a=$(addr "$k"); echo "$a@15901"; echo "$a@15902"; done |
		paste -sd, | sed 's/,/, /g')
	for A in $ANSWERS; do
		log "=== $N nodes, answers $A"
		for s in distinct shared; do
			list=$dist port=$P_DIST
			[ "$s" = shared ] && list=$shared port=$P_SHARED
			shm=tgcluster.bench-dedup-$$-$N-$A-$s
			SHM_NAMES+=("$shm")
			knot_write "$s" "$port" "" "    node: [ $list ]
    check: none
    answers: $A
    policy: $POLICY
    ttl: 5
    shm: $shm"
			knot_start "$s"
			n_rr=$(kdig @127.0.0.1 -p "$port" +tcp +timeout=2 +retry=0 "$ZONE" A +short | grep -c .)
			log "$s: $n_rr addresses over TCP"
		done
		OUT=$BASE_OUT/n$N-a$A
		mkdir -p "$OUT"
		cpu_rounds shared distinct
		cpu_summary shared distinct "($N nodes, answers $A)" | tee -a "$BASE_OUT/summary.txt"
		knot_stop distinct; knot_stop shared
	done
done
log "results in $BASE_OUT"
