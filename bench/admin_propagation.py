#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Cluster-wide drain: time from a knsupdate on the primary until both load
balancers answer without the node (bench/admin_propagation.sh runs it).

A primary knotd (no module) and two load-balancer secondaries (module loaded)
on loopback, NOTIFY/IXFR and the update authenticated with TSIG (the harness
of tests/integration/tgc.py). Per repetition: t0 just before knsupdate starts
(it includes knsupdate's own start-up and the primary's update processing),
then both load balancers are polled every POLL_MS for the cluster name until
neither answers the drained node: the time of the later one is the figure.
Then the record is deleted and the node's return is timed the same way.
Each poll also asks the load balancers' SOA, so that the module's own share
(new serial served -> answers follow it) is reported apart from knotd's
replication (knotd 3.2 sends NOTIFY about 1 s after a dynamic update).

The module takes a new zone serial in at the first query after knotd loaded
it (the module API has no zone-load event); the polls are those queries, as
a resolver's traffic would be.
"""

import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
import tgc  # noqa: E402

REPS = int(os.environ.get("REPS", "20"))
POLL_MS = float(os.environ.get("POLL_MS", "5"))
ZONE = "cluster.bench"
APEX = ZONE + "."


def until_all(lbs, pred, t0, serial, limit=10.0):
    """Polls every load balancer (SOA, then A of the cluster name) until
    pred holds for each A answer. Returns the elapsed ms (from t0) of the
    last one to satisfy it, and the largest gap between a load balancer
    serving the new serial and answering accordingly (the module's share)."""
    done, seen = {}, {}
    k = 0
    while len(done) < len(lbs):
        for lb in lbs:
            if lb.name in done:
                continue
            if lb.name not in seen and tgc.soa_serial(lb.port, ZONE) == serial:
                seen[lb.name] = (time.monotonic() - t0) * 1000
            if pred(tgc.query(lb.port, APEX, timeout=1).addrs):
                done[lb.name] = (time.monotonic() - t0) * 1000
                seen.setdefault(lb.name, done[lb.name])
        if time.monotonic() - t0 > limit:
            raise SystemExit("timed out: %s" % sorted(done))
        k += 1
        delay = t0 + k * POLL_MS / 1000 - time.monotonic()
        if delay > 0:
            time.sleep(delay)
    return max(done.values()), max(done[n] - seen[n] for n in done)


def summary(label, vals):
    vals = sorted(vals)
    print("%-8s n=%d median %.1f ms  p90 %.1f ms  worst %.1f ms  best %.1f ms"
          % (label, len(vals), statistics.median(vals),
             vals[int(0.9 * (len(vals) - 1))], vals[-1], vals[0]))


def main():
    group = tgc.NodeGroup()
    procs = []
    try:
        nodes = [group.add(a, 0, "tcp")
                 for a in ("127.0.0.11", "127.0.0.12", "127.0.0.13")]
        addrs = [n.addr for n in nodes]
        key = tgc.Tsig()
        ports = [tgc.free_port() for _ in range(3)]
        primary = tgc.Knotd({ZONE: None}, port=ports[0], name="primary",
                            repl={"key": key, "notify": ports[1:]})
        procs.append(primary)
        primary.start()
        lbs = []
        for i, p in enumerate(ports[1:]):
            lb = tgc.Knotd({ZONE: {"node": [n.spec for n in nodes],
                                   "check-interval": 200,
                                   "check-timeout": 100, "ttl": 1}},
                           port=p, name="lb%d" % i,
                           repl={"key": key, "master": ports[0]})
            procs.append(lb)
            lb.start()
            lbs.append(lb)
        for lb in lbs:
            seg = lb.shm()
            tgc.wait_until(lambda: seg.health() == ["up"] * 3, 10,
                           what="nodes up")
        rec = ('%s 60 TXT "tgcluster-admin" "%s" "drain" "reason=bench"'
               % (APEX, addrs[1]))
        gone, back, share = [], [], []
        serial = tgc.soa_serial(primary.port, ZONE)
        for _ in range(REPS):
            t0 = time.monotonic()
            tgc.knsupdate(primary.port, ZONE, key, ["update add " + rec])
            serial += 1
            t, m = until_all(lbs, lambda a: addrs[1] not in a and a, t0, serial)
            gone.append(t)
            share.append(m)
            t0 = time.monotonic()
            tgc.knsupdate(primary.port, ZONE, key, ["update delete " + rec])
            serial += 1
            t, m = until_all(lbs, lambda a: addrs[1] in a, t0, serial)
            back.append(t)
            share.append(m)
        print("reps=%d poll=%gms (2 load balancers; time of the later one)"
              % (REPS, POLL_MS))
        summary("drain", gone)
        summary("undrain", back)
        summary("module", share)
        print("module = from a load balancer serving the new serial to its "
              "answer following it (poll granularity %g ms)" % POLL_MS)
        print("drain ms: " + " ".join("%.1f" % v for v in gone))
        print("undrain ms: " + " ".join("%.1f" % v for v in back))
    finally:
        for k in reversed(procs):
            k.cleanup()
        group.close()


if __name__ == "__main__":
    main()
