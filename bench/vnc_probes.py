#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Connections a health check costs a VNC server: per node per minute, by check
kind and interval, counted on the server side.

    bench/vnc_probes.py [--seconds 60] [--intervals 1000,200] [--checks tcp,rfb]

For every (check, interval) pair at once: one knotd (the built module, one
instance, one node) probing one TigerVNC Xvnc (Xtigervnc, VncAuth, blacklist
raised so that it never trips) on its own loopback address, plus one NodeSim
of the same kind next to it. Counts, over the same window: connections Xvnc
logged ("Connections: accepted"), connections the NodeSim accepted, probes in
the module's table, and lines Xvnc wrote to its log. Then, at the defaults,
how long until an Xvnc at its default blacklist (threshold 5) turns the
checker away. Prints one table; stops everything it started by PID.

Uses the integration harness (tests/integration/tgc.py): TGC_MODULE, TGC_KNOTD
as there (default build/mod-tgcluster.so). Loopback only.
"""

import argparse
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
import tgc  # noqa: E402

ZONE = "cluster.test"


def start_pair(idx, check, interval, threshold, cleanups, group):
    x = tgc.XvncNode("127.0.0.%d" % (70 + 2 * idx), threshold=threshold,
                     timeout=600)
    cleanups.append(x.cleanup)
    x.start()
    mode = "rfb" if check == "rfb" else "tcp"
    sim = group.add("127.0.0.%d" % (71 + 2 * idx), 0, mode)
    timeout = min(500, interval // 2)
    k = tgc.Knotd({ZONE: {"node": [x.spec, sim.spec], "check": check,
                          "check-interval": interval,
                          "check-timeout": timeout}})
    cleanups.append(k.cleanup)
    k.start()
    return x, sim, k


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--intervals", default="1000,200")
    ap.add_argument("--checks", default="tcp,rfb")
    args = ap.parse_args()
    tgc.require_module()

    pairs = [(c, int(i)) for c in args.checks.split(",")
             for i in args.intervals.split(",")]
    cleanups = []
    group = tgc.NodeGroup()
    cleanups.append(group.close)
    try:
        runs = []
        for idx, (check, interval) in enumerate(pairs):
            x, sim, k = start_pair(idx, check, interval, 1000000000, cleanups,
                                   group)
            runs.append((check, interval, x, sim, k))
        # Let every checker settle (first probes, confirmations).
        tgc.wait_until(lambda: all(all(n["probes"] >= 3 for n in k.shm().nodes())
                                   for _, _, _, _, k in runs), 30)
        first = []
        for check, interval, x, sim, k in runs:
            first.append((x.accepted, len(x.log_text().splitlines()),
                          sim.accepted, k.shm().nodes()[0]["probes"]))
        t0 = time.monotonic()
        time.sleep(args.seconds)  # the measurement window itself
        secs = time.monotonic() - t0
        print("window %.1f s; per node per minute:" % secs)
        print("%-5s %8s %12s %12s %10s %14s %s" % (
            "check", "interval", "xvnc-conns", "nodesim-conn", "probes",
            "xvnc-log-lines", "last_probe"))
        per_min = 60.0 / secs
        for (check, interval, x, sim, k), f in zip(runs, first):
            node = k.shm().nodes()[0]
            print("%-5s %6d ms %12.1f %12.1f %10.1f %14.1f %s" % (
                check, interval, (x.accepted - f[0]) * per_min,
                (sim.accepted - f[2]) * per_min,
                (node["probes"] - f[3]) * per_min,
                (len(x.log_text().splitlines()) - f[1]) * per_min,
                node["last_probe"]))
        for fn in reversed(cleanups[1:]):
            fn()
        cleanups[1:] = []

        # Xvnc at its default blacklist: time to the first refusal.
        print("\nXvnc at -BlacklistThreshold 5 (its default):")
        for idx, (check, interval) in enumerate(pairs):
            x, sim, k = start_pair(idx, check, interval, 5, cleanups, group)
            t0 = time.monotonic()
            tgc.wait_until(lambda: x.blacklisted > 0, 60)
            t = time.monotonic() - t0
            time.sleep(1)
            print("%-5s %6d ms: blacklisted after %.1f s (%d connections); "
                  "last_probe then: %s" % (check, interval, t, x.accepted,
                                           k.shm().nodes()[0]["last_probe"]))
    finally:
        for fn in reversed(cleanups):
            try:
                fn()
            except Exception as exc:  # noqa: BLE001 - report, keep cleaning
                sys.stderr.write("cleanup: %r\n" % exc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
