#!/usr/bin/env bash
# Installs the Debian 12 packages mod-tgcluster needs to build, test and demo.
# Idempotent: does nothing when everything is already installed.
# SPDX-License-Identifier: GPL-3.0-or-later
set -euo pipefail

PKGS=(
	gcc clang libclang-rt-14-dev pkg-config meson ninja-build
	libknot-dev libuv1-dev libgnutls28-dev libjansson-dev check liburcu-dev
	knot knot-dnsutils
	python3 python3-dnspython
	socat iproute2 procps util-linux openssl
	valgrind
	unbound knot-resolver bind9 nftables
	debhelper dpkg-dev lintian python3-docutils man-db
	tigervnc-standalone-server tigervnc-tools
	prometheus
)

missing=()
for p in "${PKGS[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "deps.sh: missing packages (${missing[*]}); run as root to install them" >&2
	exit 1
fi
echo "deps.sh: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# Installing must start no daemon: unbound, named and kresd (the end-to-end
# tests run their own copies) would otherwise begin resolving for the
# machine. A policy-rc.d answering 101 (action forbidden) keeps invoke-rc.d
# from starting them; it is ours only for the time of the install.
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
	printf '#!/bin/sh\nexit 101\n' >"$policy"
	chmod 755 "$policy"
	trap 'rm -f "$policy"' EXIT
fi
apt-get update -qq
# knot's postinst tries to start the service; policy-rc.d may deny it, fine.
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
