#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# The Debian package, end to end: builds knot-module-tgcluster from the
# working tree (dpkg-buildpackage -us -uc -b in a scratch copy), runs lintian
# (no errors allowed), installs it with apt, checks the installed files and
# the pinned knot dependency, starts knotd on loopback with a configuration
# that has no module section (so only the installed module can serve it),
# queries it, steers it with the installed tgclusterctl, and purges the
# package again.
#
#   sudo tests/package/run.sh          (Debian 12, root; ./test.sh runs it)
#
# An installed module in knotd's module directory shadows every other build
# and test on the machine, so the install window is kept short and the
# package is purged, the knotd stopped (by PID) and the scratch directory
# removed on every exit, failed or not. It refuses to start while a copy is
# installed already (that one is not ours to remove).

set -euo pipefail

cd "$(dirname "$(readlink -f "$0")")/../.."
REPO=$PWD
PKG=knot-module-tgcluster
KNOTD=/usr/sbin/knotd
KNOTC=/usr/sbin/knotc
ZONE=pkgtest.tgcluster.test
NODES=(127.0.0.21 127.0.0.22 127.0.0.23)
SHM=pkgtest-$$
APT=(apt-get -y -qq -o DPkg::Lock::Timeout=300)

say() { printf 'package: %s\n' "$*"; }
die() { printf 'package: FAIL: %s\n' "$*" >&2; exit 1; }
now_ms() { date +%s%3N; }

[ "$(id -u)" -eq 0 ] || die "needs root (apt-get install/purge)"
for t in dpkg-buildpackage dh lintian rst2man man kdig; do
	command -v "$t" >/dev/null || die "$t missing: run scripts/deps.sh"
done
MODDIR=$(pkg-config --variable=module_instdir knotd)
installed() { dpkg-query -W -f='${Status}' "$PKG" 2>/dev/null | grep -q "ok installed"; }
if installed || [ -e "$MODDIR/mod-tgcluster.so" ]; then
	die "$PKG or $MODDIR/mod-tgcluster.so is installed already; remove it first (apt purge $PKG)"
fi

TMP=""
KNOTD_PID=""
OURS=0 # set once we started installing: only then is the package ours to purge
cleanup() {
	local rc=$?
	set +e
	if [ -n "$KNOTD_PID" ] && kill -0 "$KNOTD_PID" 2>/dev/null; then
		kill -TERM "$KNOTD_PID"
		for _ in $(seq 50); do kill -0 "$KNOTD_PID" 2>/dev/null || break; sleep 0.1; done
		kill -0 "$KNOTD_PID" 2>/dev/null && kill -KILL "$KNOTD_PID"
		wait "$KNOTD_PID" 2>/dev/null
	fi
	rm -f "/dev/shm/tgcluster.$SHM"
	if [ "$OURS" -eq 1 ]; then
		if installed || dpkg-query -W "$PKG" >/dev/null 2>&1; then
			say "purging $PKG"
			DEBIAN_FRONTEND=noninteractive "${APT[@]}" purge "$PKG" >/dev/null || rc=1
		fi
		if [ -e "$MODDIR/mod-tgcluster.so" ]; then
			printf 'package: FAIL: %s still installed after the purge\n' \
				"$MODDIR/mod-tgcluster.so" >&2
			rc=1
		fi
	fi
	[ -n "$TMP" ] && rm -rf "$TMP"
	[ "$rc" -eq 0 ] && say "ok" || say "failed (exit $rc)"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

TMP=$(mktemp -d /tmp/tgc-package.XXXXXX)

# --- build: a scratch copy of the tree (tracked and new files, no build dirs)
say "building $PKG in $TMP"
mkdir "$TMP/src"
git -C "$REPO" ls-files -z --cached --others --exclude-standard \
	| (cd "$REPO" && xargs -0 cp --parents -t "$TMP/src" 2>/dev/null || true)
[ -x "$TMP/src/debian/rules" ] || die "no debian/rules in the copy"
if ! (cd "$TMP/src" && dpkg-buildpackage -us -uc -b >"$TMP/build.log" 2>&1); then
	tail -n 40 "$TMP/build.log" >&2
	die "dpkg-buildpackage failed"
fi
DEB=$(ls "$TMP"/${PKG}_*_*.deb)
CHANGES=$(ls "$TMP"/${PKG}_*_*.changes)
say "built $(basename "$DEB")"

# --- lintian: tags are printed; an error fails the step
say "lintian $(basename "$CHANGES")"
lrc=0
lintian --fail-on error --tag-display-limit 0 "$CHANGES" >"$TMP/lintian.out" 2>&1 || lrc=$?
grep -v 'running with root privileges' "$TMP/lintian.out" | sed 's/^/  /' || true
[ "$lrc" -eq 0 ] || die "lintian reports errors (exit $lrc)"

# --- what the package declares and holds, before installing it
knot_version=$(dpkg-query -W -f='${Version}' libknot-dev)
depends=$(dpkg-deb -f "$DEB" Depends)
case ", $depends," in
*", knot (= $knot_version),"*) say "Depends pins knot (= $knot_version)" ;;
*) die "Depends does not pin knot (= $knot_version): $depends" ;;
esac
contents=$(dpkg-deb -c "$DEB")
for f in ".$MODDIR/mod-tgcluster.so" ./usr/sbin/tgclusterctl \
	./usr/share/man/man8/tgclusterctl.8.gz ./usr/share/man/man7/mod-tgcluster.7.gz \
	./usr/share/doc/$PKG/copyright ./usr/share/doc/$PKG/mod-tgcluster.rst.gz; do
	grep -qF " $f" <<<"$contents" || die "$f not in the package"
done

# --- install (from here on the package is ours to purge) -------------------
OURS=1
say "installing $(basename "$DEB")"
t0=$(now_ms)
DEBIAN_FRONTEND=noninteractive "${APT[@]}" install --no-install-recommends "$DEB" >/dev/null
installed || die "$PKG not installed"
[ -f "$MODDIR/mod-tgcluster.so" ] || die "no $MODDIR/mod-tgcluster.so"
man -w tgclusterctl >/dev/null || die "man -w tgclusterctl finds no page"
man -w 7 mod-tgcluster >/dev/null || die "man -w 7 mod-tgcluster finds no page"
say "man pages: $(man -w tgclusterctl) $(man -w 7 mod-tgcluster)"
/usr/sbin/tgclusterctl --version >/dev/null || die "tgclusterctl --version failed"

# knotd on loopback with no module section: only the installed module knows
# the mod-tgcluster section. check: none keeps every node up (unknown).
# knot.conf and zone file from the test harness's writer (--module "": no
# module section).
PY=/usr/bin/python3   # has dnspython (python3-dnspython), which the harness needs
HARNESS=$REPO/tests/integration/tgc.py
port=$("$PY" -c 'import sys; sys.path.insert(0, sys.argv[1]); import tgc; print(tgc.free_port())' "$REPO/tests/integration")
"$PY" "$HARNESS" conf "$TMP/run" --zone "$ZONE" --port "$port" --module "" \
	--log-level info --id lb --item "node: [ ${NODES[0]}, ${NODES[1]}, ${NODES[2]} ]
check: none
shm: $SHM" >/dev/null || die "writing knot.conf failed"
"$KNOTC" -c "$TMP/run/knot.conf" conf-check >/dev/null || die "conf-check without a module section failed"
# What the docs say: a module section on top of the installed copy collides.
{ printf 'module:\n  - id: mod-tgcluster\n    file: "%s"\n' "$MODDIR/mod-tgcluster.so"
  cat "$TMP/run/knot.conf"; } >"$TMP/run/dup.conf"
if "$KNOTC" -c "$TMP/run/dup.conf" conf-check >"$TMP/run/dup.out" 2>&1 \
	|| ! grep -q "duplicate module" "$TMP/run/dup.out"; then
	die "a module section on top of the installed module did not fail with 'duplicate module'"
fi
"$KNOTD" -c "$TMP/run/knot.conf" >"$TMP/run/knotd.log" 2>&1 &
KNOTD_PID=$!
deadline=$(( $(now_ms) + 20000 ))
until "$KNOTC" -c "$TMP/run/knot.conf" -t 1 zone-status "$ZONE" 2>/dev/null | grep -q "serial: 1"; do
	kill -0 "$KNOTD_PID" 2>/dev/null || die "knotd exited: $(cat "$TMP/run/knotd.log" 2>/dev/null)"
	[ "$(now_ms)" -lt "$deadline" ] || die "knotd not ready"
	sleep 0.05
done
answer() { kdig @127.0.0.1 -p "$port" +short +tcp +timeout=2 +retry=1 "$ZONE" A | sort | tr '\n' ' '; }
want="${NODES[0]} ${NODES[1]} ${NODES[2]} "
got=$(answer)
[ "$got" = "$want" ] || die "installed module answered '$got', want '$want'"
say "knotd with the installed module answers: $got"
/usr/sbin/tgclusterctl status "$ZONE" | grep -q "3 nodes" || die "tgclusterctl status does not show the 3 nodes"
/usr/sbin/tgclusterctl set "$ZONE" "${NODES[1]}" down >/dev/null || die "tgclusterctl set failed"
got=$(answer)
[ "$got" = "${NODES[0]} ${NODES[2]} " ] || die "after set ${NODES[1]} down the answer is '$got'"
say "after tgclusterctl set ${NODES[1]} down: $got"
kill -TERM "$KNOTD_PID"
wait "$KNOTD_PID" 2>/dev/null || true
KNOTD_PID=""

say "purging $PKG"
DEBIAN_FRONTEND=noninteractive "${APT[@]}" purge "$PKG" >/dev/null
! installed || die "$PKG still installed after the purge"
[ ! -e "$MODDIR/mod-tgcluster.so" ] || die "$MODDIR/mod-tgcluster.so left after the purge"
say "installed for $(( $(now_ms) - t0 )) ms"
