#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Chaos run: knotd + mod-tgcluster under dnsperf load while every node flaps
# at random (100 ms to 2 s) and `knotc reload` runs every 200 ms. Counts
# answers listing a node dead for longer than interval x fall + timeout +
# interval, SERVFAILs while some node lives, knotd restarts, and the growth
# of knotd's descriptors, threads and RSS. Exit status 0 if the first three
# are zero.
#
#   bench/chaos.sh [VARIANT]          VARIANT: flap-reload (default)
#
# Env: DURATION=60 INTERVAL=200 TIMEOUT=100 FALL=2 RISE=2 RELOAD_MS=200
#      FLAP_MIN_MS=100 FLAP_MAX_MS=2000 QPS=0 (dnsperf -Q, 0 = unlimited)
#      WARMUP=3 MODULE_SO=build/mod-tgcluster.so
#      OUT=${TMPDIR:-/tmp}/tgc-bench-results/chaos-<variant>-<timestamp>.txt
# Installs nothing: needs dnsperf (Debian package dnsperf) and
# python3-dnspython. Loopback only; every process and segment is removed
# by the harness (tests/integration/tgc.py) on exit.
set -u
. "$(dirname "$0")/lib.sh"

VARIANT=${1:-flap-reload}
command -v dnsperf >/dev/null || die "missing dnsperf (apt-get install dnsperf)"
bench_init chaos
export DURATION=${DURATION:-60}
export TGC_MODULE=$WORK/mod-tgcluster.so TGC_KNOTD=$KNOTD TGC_KNOTC=$KNOTC
OUT=${OUT:-${TMPDIR:-/tmp}/tgc-bench-results/chaos-$VARIANT-$(date +%Y%m%d-%H%M%S).txt}
mkdir -p "$(dirname "$OUT")"
{ machine_notes; echo; } >"$OUT"
"$PYTHON" "$BENCH_DIR/chaos.py" "$VARIANT" | tee -a "$OUT"
rc=${PIPESTATUS[0]}
log "results in $OUT"
exit "$rc"
