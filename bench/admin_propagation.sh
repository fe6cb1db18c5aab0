#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Cluster-wide drain propagation: time from `knsupdate` on a primary knotd
# until both load-balancer secondaries (mod-tgcluster) answer without the
# node, and back after the record is deleted (bench/admin_propagation.py).
# Target: median under 1 s, worst under 2 s on loopback.
#
# Env: REPS=20 POLL_MS=5 MODULE_SO=build/mod-tgcluster.so
#      OUT=${TMPDIR:-/tmp}/tgc-bench-results/admin-propagation-<timestamp>.txt
# Installs nothing: needs knsupdate (knot-dnsutils) and python3-dnspython.
# Loopback only; the harness (tests/integration/tgc.py) stops every knotd
# and removes every segment on exit.
set -u
. "$(dirname "$0")/lib.sh"

command -v knsupdate >/dev/null || die "missing knsupdate (apt-get install knot-dnsutils)"
bench_init admin-propagation
export REPS=${REPS:-20} POLL_MS=${POLL_MS:-5}
export TGC_MODULE=$WORK/mod-tgcluster.so TGC_KNOTD=$KNOTD TGC_KNOTC=$KNOTC
OUT=${OUT:-${TMPDIR:-/tmp}/tgc-bench-results/admin-propagation-$(date +%Y%m%d-%H%M%S).txt}
mkdir -p "$(dirname "$OUT")"
{ machine_notes; echo; } >"$OUT"
"$PYTHON" "$BENCH_DIR/admin_propagation.py" | tee -a "$OUT"
rc=${PIPESTATUS[0]}
log "results in $OUT"
exit "$rc"
