#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Side by side: the shared peer benchmark (/work/shared/bench/peers,
# run_throughput.sh: dnsperf on CLIENT_CPU, each server on SERVER_CPU, peers
# interleaved per round) with our module added as contender D_tgcluster
# (bench/peers/D_tgcluster.sh through EXTRA_PEERS_DIR), next to A_knot (static
# zone), B_pdns (LUA ifportup) and C_gdnsd (multifo). Then adds to the peers'
# summary what it does not show: server CPU time per answered query
# (= server CPU % / qps), its ratio to A_knot per round (same round, so the
# same machine noise) and of the medians, and qps per fully used server core.
#
# Env: PEERS_DIR=/work/shared/bench/peers  PEERS="A_knot B_pdns C_gdnsd D_tgcluster"
#      TGC_MODULE_SO=build/mod-tgcluster.so (copied before the run)
#      TGC_MODULE_SO_B= another build for peer D_tgcluster_b (add it to PEERS)
#      ROUNDS=5 DURATION=15 (and every knob of run_throughput.sh: CLIENTS,
#      QPS_LIMIT, DNSPERF_EXTRA, LAT_QPS, ...)
#      OUT=${TMPDIR:-/tmp}/tgc-bench-results/side-by-side-<timestamp>
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
PEERS_DIR=${PEERS_DIR:-/work/shared/bench/peers}
PYTHON=${PYTHON:-/usr/bin/python3}   # the Python of bench/lib.sh
[ -x "$PEERS_DIR/run_throughput.sh" ] || { echo "no $PEERS_DIR/run_throughput.sh" >&2; exit 1; }
export PEERS=${PEERS:-A_knot B_pdns C_gdnsd D_tgcluster}
export ROUNDS=${ROUNDS:-5} DURATION=${DURATION:-15} REF_PEER=${REF_PEER:-A_knot}
export EXTRA_PEERS_DIR=$HERE/peers
export OUT=${OUT:-${TMPDIR:-/tmp}/tgc-bench-results/side-by-side-$(date +%Y%m%d-%H%M%S)}
export RUN_DIR=${RUN_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/tgc-sbs-run.XXXXXX")}
SO=${TGC_MODULE_SO:-$REPO/build/mod-tgcluster.so}
[ -r "$SO" ] || { echo "module not found: $SO (ninja -C build, or TGC_MODULE_SO=)" >&2; exit 1; }
mkdir -p "$OUT"
cp "$SO" "$RUN_DIR/mod-tgcluster.so"   # private copy: rebuilds during the run do not matter
export TGC_MODULE_SO=$RUN_DIR/mod-tgcluster.so
if [ -n "${TGC_MODULE_SO_B:-}" ]; then   # peer D_tgcluster_b (before/after)
	SO_B=$TGC_MODULE_SO_B
	cp "$SO_B" "$RUN_DIR/mod-tgcluster-b.so" || exit 1
	export TGC_MODULE_SO_B=$RUN_DIR/mod-tgcluster-b.so
fi
cleanup() {
	local p
	for p in $PEERS; do rm -f "/dev/shm/tgcluster.peerbench.$p"; done
	[ -n "${KEEP:-}" ] || rm -rf "$RUN_DIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

{ echo "date: $(date -Is)"
  echo "module: $SO md5 $(md5sum <"$TGC_MODULE_SO" | cut -c1-12), repo HEAD $(git -C "$REPO" rev-parse --short HEAD)"
  [ -n "${SO_B:-}" ] && echo "module B (D_tgcluster_b): $SO_B md5 $(md5sum <"$TGC_MODULE_SO_B" | cut -c1-12)"
  echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$OUT/tgc-meta.txt" >&2

"$PEERS_DIR/run_throughput.sh" || exit $?
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$OUT/tgc-meta.txt"

"$PYTHON" - "$OUT/runs.tsv" "$REF_PEER" "$PEERS" <<'PY' | tee "$OUT/tgc-summary.txt"
import csv, statistics as st, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
ref, peers = sys.argv[2], sys.argv[3].split()
def us(r):   # server CPU microseconds per answered query
    return float(r["server_cpu_pct"]) * 1e4 / float(r["qps"])
cpu = {p: [us(r) for r in rows if r["peer"] == p] for p in peers}
qps = {p: [float(r["qps"]) for r in rows if r["peer"] == p] for p in peers}
per_core = {p: [float(r["qps"]) / max(float(r["server_cpu_pct"]), 0.1) * 100
                for r in rows if r["peer"] == p] for p in peers}
lat = {p: [float(r["avg_lat_ms"]) for r in rows if r["peer"] == p] for p in peers}
rounds = sorted({r["round"] for r in rows}, key=int)
print(f"{'peer':18} {'CPU us/query per round':36} {'median':>7} {'x ' + ref:>9} {'rnd-ratio':>9} "
      f"{'qps':>7} {'qps/core':>9} {'lat ms':>7}")
for p in peers:
    if not cpu[p]:
        continue
    ratios = []
    for rd in rounds:
        a = [us(r) for r in rows if r["round"] == rd and r["peer"] == p]
        b = [us(r) for r in rows if r["round"] == rd and r["peer"] == ref]
        if a and b:
            ratios.append(a[0] / b[0])
    m = st.median(cpu[p])
    print(f"{p:18} {' '.join('%.2f' % x for x in cpu[p]):36} {m:7.2f} {m / st.median(cpu[ref]):9.3f} "
          f"{st.median(ratios):9.3f} {st.median(qps[p]):7.0f} {st.median(per_core[p]):9.0f} {st.median(lat[p]):7.3f}")
print(f"CPU us/query = server CPU % x 1e4 / qps; 'x {ref}' = ratio of the medians, "
      f"'rnd-ratio' = median of the per-round ratios to {ref}; qps/core = qps / server CPU share")
PY
echo "results in $OUT" >&2
