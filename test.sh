#!/usr/bin/env bash
# Runs the whole mod-tgcluster test suite: unit (Check) and integration
# (spawned knotd on loopback) tests in a normal build, the same again with
# ASan+UBSan, the shared-memory/checker concurrency suites under TSan, and
# the Debian package (built, installed, smoke-tested and purged).
# Usage: ./test.sh            (as root on Debian 12: installs what is missing)
# SPDX-License-Identifier: GPL-3.0-or-later
set -uo pipefail
cd "$(dirname "$0")"

./scripts/deps.sh || exit 1

# knotd loads every module of its module directory by itself; an installed
# copy collides with the build every test loads by path.
moddir=$(pkg-config --variable=module_instdir knotd)
if [ -e "$moddir/mod-tgcluster.so" ]; then
	echo "test.sh: an installed $moddir/mod-tgcluster.so shadows the build (knotd: duplicate module); remove it first: apt purge knot-module-tgcluster (or delete the file)" >&2
	exit 1
fi

passed=0
failed=0
failures=()
tests_ok=0
tests_failed=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT

# mtest ARGS...: meson test, with its Ok/Fail counts added to the totals.
mtest() {
	local rc
	meson test "$@" 2>&1 | tee "$log"
	rc=${PIPESTATUS[0]}
	tests_ok=$((tests_ok + $(awk '/^Ok:/ {print $2}' "$log" | tail -n 1 | grep . || echo 0)))
	tests_failed=$((tests_failed + $(awk '/^(Fail|Timeout):/ {s += $2} END {print s + 0}' "$log")))
	return "$rc"
}

# step NAME CMD...: runs one step, counts it, keeps going on failure.
step() {
	local name=$1; shift
	echo "=== $name"
	if "$@"; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
		failures+=("$name")
	fi
}

# setup DIR OPTIONS...: configures a build dir once (reconfigures if present).
setup() {
	local dir=$1; shift
	if [ -d "$dir" ]; then
		meson setup --reconfigure "$dir" "$@" >/dev/null
	else
		meson setup "$dir" "$@" >/dev/null
	fi
}

# Plain build, warnings are errors.
step "configure" setup build -Dwerror=true
step "compile" ninja -C build
step "tests" mtest -C build --print-errorlogs --no-suite stress
# knotd under valgrind through 100 reloads, flaps and CLI writes
# (tests/integration/test_valgrind.py).
step "stress-valgrind" mtest -C build --suite stress --print-errorlogs

# ASan + UBSan: the unit and integration suites (knotd gets the runtime
# preloaded by the harness, see tests/meson.build).
step "configure-asan" setup build-asan -Dwerror=true -Db_sanitize=address,undefined -Db_lundef=false
step "compile-asan" ninja -C build-asan
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
step "tests-asan" mtest -C build-asan --print-errorlogs

# TSan: the checker/reader concurrency (table seqlock, checker thread).
step "configure-tsan" setup build-tsan -Dwerror=true -Db_sanitize=thread -Db_lundef=false
step "compile-tsan" ninja -C build-tsan tests/test_table tests/test_health tests/test_health_sm tests/test_uvloop tests/test_fwd_client tests/test_poller tests/test_steer
export TSAN_OPTIONS=halt_on_error=1
step "tests-tsan" mtest -C build-tsan --suite unit --print-errorlogs table health health_sm uvloop fwd_client poller steer

# The Debian package: build, lintian, install, smoke test, purge
# (tests/package/run.sh purges it and removes its files even on failure).
step "package" tests/package/run.sh

# libFuzzer (clang): every harness for FUZZ_SECONDS (60) on its committed
# seed corpus (tests/fuzz/run.sh; build dir build-fuzz).
step "fuzz" tests/fuzz/run.sh "${FUZZ_SECONDS:-60}"

echo
if [ $failed -gt 0 ]; then
	echo "failed steps: ${failures[*]}"
fi
echo "build and test steps: $passed ok, $failed failed"
# Each meson test is a whole Check suite or integration test file.
echo "tests: $tests_ok passed, $tests_failed failed"
[ $failed -eq 0 ]
