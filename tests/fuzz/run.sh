#!/usr/bin/env bash
# Builds the libFuzzer harnesses with clang into build-fuzz and runs each for
# a bounded time on a copy of its committed seed corpus.
#
#   tests/fuzz/run.sh [SECONDS]       (default 60 per harness)
#
# Environment: FUZZ_HARNESSES="answer conf" to run some only; FUZZ_KEEP=1
# keeps the working corpora (build-fuzz/fuzz-corpus/<harness>/).
# A crash leaves its input in build-fuzz/fuzz-artifacts/ and fails the run;
# reproduce with build-fuzz/tests/fuzz/fuzz_<harness> <file>.
# SPDX-License-Identifier: GPL-3.0-or-later
set -uo pipefail
cd "$(dirname "$0")/../.."

secs=${1:-60}
harnesses=${FUZZ_HARNESSES:-admin answer conf forward table probe_rfb http agent loadopt}
build=build-fuzz

if [ -d "$build" ]; then
	CC=clang meson setup --reconfigure "$build" -Dfuzz=true -Dtests=false >/dev/null || exit 1
else
	CC=clang meson setup "$build" -Dfuzz=true -Dtests=false >/dev/null || exit 1
fi
targets=()
for h in $harnesses; do
	targets+=("tests/fuzz/fuzz_$h")
done
ninja -C "$build" "${targets[@]}" || exit 1

art="$build/fuzz-artifacts"
mkdir -p "$art"
failed=()
for h in $harnesses; do
	work="$build/fuzz-corpus/$h"
	rm -rf "$work"
	mkdir -p "$work"
	cp tests/fuzz/corpus/"$h"/* "$work"/
	log="$build/fuzz-$h.log"
	echo "=== fuzz_$h: ${secs}s"
	# -timeout: a single input taking longer is a failure (a hang).
	# -rss_limit_mb: a leak or runaway allocation is a failure.
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	"$build/tests/fuzz/fuzz_$h" -max_total_time="$secs" -timeout=10 \
		-rss_limit_mb=2048 -max_len=8192 -print_final_stats=1 \
		-artifact_prefix="$art/$h-" "$work" >"$log" 2>&1 &
	pid=$!
	wait $pid
	rc=$?
	# fuzz_table's segment, left behind if the harness crashed.
	rm -f "/dev/shm/tgcluster.fuzz-$pid"
	grep -E "^#[0-9]+ +DONE|stat::number_of_executed_units|stat::new_units_added" "$log" | tail -3
	if [ $rc -ne 0 ]; then
		echo "fuzz_$h FAILED (exit $rc), log $log:"
		grep -A30 -E "ERROR|==ERROR|invariant|timeout|Test unit written" "$log" | head -60
		failed+=("$h")
	fi
	[ -n "${FUZZ_KEEP:-}" ] || rm -rf "$work"
done

if [ ${#failed[@]} -gt 0 ]; then
	echo "fuzzing found problems in: ${failed[*]} (inputs in $art/)"
	exit 1
fi
echo "fuzzing: ${harnesses// /, } clean, ${secs}s each"
