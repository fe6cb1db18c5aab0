#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Cost of the per-node `answers` counter of the shared table: every knotd
# worker adds 1 to the counter of each node in each answer (one atomic add on
# a cache line all workers write). Compares knotd CPU per answered query of
# two builds of the same source, with 2 UDP workers:
#
#   counter    the module as it is
#   nocounter  the same source with that one increment deleted
#
# Both are built here from a copy of the repository's files (git ls-files,
# working tree contents) in the temp dir; the source file is the one that
# holds the increment. Both servers run at once, rounds interleaved; dnsperf
# (UDP) as in cpu_per_query.sh. To let the two workers run on two cores at
# once (where a shared cache line costs), SERVER_CPU defaults to 0-1; dnsperf
# then shares those cores (CLIENT_CPU=0-1).
#
# Env: ROUNDS=3 DURATION=5 CLIENTS=10 OUTSTANDING=100 UDP_WORKERS=2
#      SERVER_CPU=0-1 CLIENT_CPU=0-1 NODE_PORT=15900 KEEP=1
#      OUT=${TMPDIR:-/tmp}/tgc-bench-results/answer-counter-<timestamp>
set -u
export UDP_WORKERS=${UDP_WORKERS:-2} SERVER_CPU=${SERVER_CPU:-0-1} CLIENT_CPU=${CLIENT_CPU:-0-1}
. "$(dirname "$0")/lib.sh"

ROUNDS=${ROUNDS:-3} DURATION=${DURATION:-5} CLIENTS=${CLIENTS:-10}
OUTSTANDING=${OUTSTANDING:-100} QPS_LIMIT=${QPS_LIMIT:-}
command -v dnsperf >/dev/null || die "dnsperf missing: apt-get install -y dnsperf"
MODULE_SO=/dev/null   # bench_init copies a module: both are built below
bench_init counter
OUT=${OUT:-${TMPDIR:-/tmp}/tgc-bench-results/answer-counter-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT"

# ---- the two builds ----
SRC=$WORK/src
mkdir -p "$SRC"
(cd "$REPO_DIR" && git ls-files -z -co --exclude-standard | grep -zv '^build' |
	tar --null -T - -cf -) | tar -x -C "$SRC" || die "copying the source failed"
PAT='atomic_fetch_add_explicit(&ctx->table.nodes[sel[i]].answers, 1,'
FILE=$(grep -l -F "$PAT" "$SRC"/module/*.c)
[ "$(echo "$FILE" | wc -w)" = 1 ] || die "the increment is not in exactly one file: $FILE"
log "building both variants from a copy ($FILE)"
meson setup "$SRC/b" "$SRC" -Dtests=false -Dman=disabled >"$WORK/meson.log" 2>&1 ||
	die "meson setup failed: $(tail -5 "$WORK/meson.log")"
ninja -C "$SRC/b" mod-tgcluster.so >>"$WORK/meson.log" 2>&1 || die "build failed"
cp "$SRC/b/mod-tgcluster.so" "$WORK/counter.so"
cp "$WORK/counter.so" "$WORK/mod-tgcluster.so"   # for machine_notes
MODULE_SO="copy of the working tree, built in $SRC/b"
perl -0pi -e 's/\n\t+atomic_fetch_add_explicit\(&ctx->table\.nodes\[sel\[i\]\]\.answers, 1,\s*memory_order_relaxed\);//' "$FILE"
! grep -q -F "$PAT" "$FILE" || die "could not delete the increment"
ninja -C "$SRC/b" mod-tgcluster.so >>"$WORK/meson.log" 2>&1 || die "build without the counter failed"
cp "$SRC/b/mod-tgcluster.so" "$WORK/nocounter.so"
cmp -s "$WORK/counter.so" "$WORK/nocounter.so" && die "the two builds are identical"
(cd "$REPO_DIR" && git diff --no-index --stat -- "module/$(basename "$FILE")" "$FILE") >"$OUT/variant.txt" 2>&1

SHM=tgcluster.bench-counter-$$
SHM_NAMES+=("$SHM-a" "$SHM-b")
for ip in "${NODE_IPS[@]}"; do node_start "$ip"; done
items() {
	echo "    node: [ ${NODE_IPS[0]}, ${NODE_IPS[1]}, ${NODE_IPS[2]} ]
    check-port: $NODE_PORT
    ttl: 5
    shm: $1"
}
knot_write counter 25383 "" "$(items "$SHM-a")"
knot_write nocounter 25384 "" "$(items "$SHM-b")"
sed -i "s|$WORK/mod-tgcluster.so|$WORK/counter.so|" "${KNOT_CONF[counter]}"
sed -i "s|$WORK/mod-tgcluster.so|$WORK/nocounter.so|" "${KNOT_CONF[nocounter]}"
knot_start counter
knot_start nocounter
ALL3="${NODE_IPS[*]}"
wait_answer counter "$ALL3" 5 || die "counter build does not answer the 3 nodes"
wait_answer nocounter "$ALL3" 5 || die "nocounter build does not answer the 3 nodes"

QFILE=$WORK/queries.txt
for i in $(seq 1 100); do echo "$ZONE A"; done >"$QFILE"
{ machine_notes
  echo "md5 counter.so $(md5sum <"$WORK/counter.so" | cut -c1-12), nocounter.so $(md5sum <"$WORK/nocounter.so" | cut -c1-12)"
  echo "rounds=$ROUNDS duration=${DURATION}s clients=$CLIENTS outstanding=$OUTSTANDING udp-workers=$UDP_WORKERS server cpu=$SERVER_CPU client cpu=$CLIENT_CPU"
} | tee "$OUT/meta.txt" >&2

cpu_rounds counter nocounter
cpu_summary counter nocounter " (2 UDP workers)"
log "raw results in $OUT"
