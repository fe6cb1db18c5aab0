#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Sessions per capacity under a policy: a simulation on loopback.

Six simulated nodes (tests/integration/tgc.py NodeSim) with capacities
1:1:2:2:4:4 (their agents report maxconn 100, 100, 200, 200, 400, 400 and
the live sessions). Clients arrive at a Poisson rate, resolve the cluster
name, open a session to the first address and hold it for an exponential
time. --mode says where the clients ask:

  direct               the load balancer knotd (answers: 1, policy --policy)
  resolver             an unbound in front of it, caching the answer for
                       its TTL
  translator           a translator knotd (the NAT topology's DNS path):
                       mod-tgcluster with `upstream:` a load balancer knotd
                       on loopback (the same six nodes and agents,
                       answers: 0, policy --lb-policy), polled every
                       --poll-ms; the translator answers one address
                       (answers: 1) ordered by --policy
  translator-resolver  client -> unbound -> translator -> load balancer

The translator of a real NAT setup rewrites the addresses with nat-map;
here every address is a loopback one and nothing is rewritten (no nat-map),
so the clients reach the nodes at the addresses the load balancer answers.
Both knotd's answers carry --ttl (the translator answers the smaller of its
own ttl and the upstream's).

Every second the sessions per node are sampled; after the warm-up the
imbalance max(sessions/capacity) / mean(sessions/capacity) is averaged over
the samples.

--new-node: the largest node (index 5) starts down; after the warm-up its
service comes up, and the times until it holds 90 % of its capacity share
of all sessions (4/14, new_node_s) and 90 % of an equal share (1/6, what
round-robin and random give it, new_node_equal_s) are measured (from the
moment it was started; the health check's rise is part of it).

Run from the repo root after a build, e.g.:
  python3 bench/sessions.py --policy least-loaded --mode resolver
  python3 bench/sessions.py --mode translator --policy ordered \
      --lb-policy least-loaded --poll-ms 1000 --net 41
Prints one line of key=value results (and --json FILE writes them).
"""

import argparse
import heapq
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "tests", "integration"))
import tgc  # noqa: E402
import dns.flags  # noqa: E402
import dns.message  # noqa: E402
import dns.query  # noqa: E402
import dns.rdatatype  # noqa: E402

ZONE = "cluster.test"
APEX = ZONE + "."
CAPS = [1, 1, 2, 2, 4, 4]
MAXCONN_UNIT = 100
CTL = os.path.join(tgc.REPO, "build", "tgclusterctl")


def parse():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--policy", default="least-loaded",
                   choices=["round-robin", "random", "least-loaded",
                            "ordered", "sticky"],
                   help="policy of the knotd the clients' answers come from "
                        "(the translator in the translator modes; ordered "
                        "and sticky only there) [least-loaded]")
    p.add_argument("--mode", default="direct",
                   choices=["direct", "resolver", "translator",
                            "translator-resolver"])
    p.add_argument("--lb-policy", default=None,
                   choices=["round-robin", "random", "least-loaded",
                            "ordered"],
                   help="translator modes: policy of the load balancer "
                        "behind the translator [least-loaded]")
    p.add_argument("--poll-ms", type=int, default=None,
                   help="translator modes: upstream-interval, ms [1000]")
    p.add_argument("--tsig", action="store_true",
                   help="translator modes: the translator signs its polls "
                        "with a TSIG key the load balancer checks (a query "
                        "acl with the key; unsigned queries are still "
                        "answered there)")
    p.add_argument("--rate", type=float, default=20.0,
                   help="client arrivals per second [20]")
    p.add_argument("--hold", type=float, default=60.0,
                   help="mean session length, s [60]")
    p.add_argument("--ttl", type=int, default=1, help="ttl of answers [1]")
    p.add_argument("--warmup", type=float, default=None,
                   help="s before measuring [2 x hold]")
    p.add_argument("--measure", type=float, default=None,
                   help="s measured [hold]")
    p.add_argument("--interval", type=int, default=500,
                   help="check-interval (agents polled as often), ms [500]")
    p.add_argument("--net", type=int, default=40,
                   help="node addresses 127.NET.0.11.. (run several at once "
                        "with different nets) [40]")
    p.add_argument("--new-node", action="store_true",
                   help="measure how long a node that comes up takes to "
                        "reach its share")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--json", help="write the results to this file")
    a = p.parse_args()
    translator = a.mode.startswith("translator")
    if not translator and a.policy in ("ordered", "sticky"):
        p.error("--policy %s needs a translator mode (the load balancer "
                "answers one address here)" % a.policy)
    if not translator and (a.tsig or a.lb_policy or a.poll_ms):
        p.error("--lb-policy, --poll-ms and --tsig need a translator mode")
    if a.lb_policy is None:
        a.lb_policy = "least-loaded"
    if a.poll_ms is None:
        a.poll_ms = 1000
    if a.poll_ms < 100:
        p.error("--poll-ms below 100")
    if a.warmup is None:
        a.warmup = 2 * a.hold
    if a.measure is None:
        a.measure = a.hold
    return a


class Resolve:
    """Asks knotd directly (no recursion wanted) or unbound (recursion)."""

    def __init__(self, port, recursive):
        self.port = port
        self.recursive = recursive
        self.errors = 0

    def first(self):
        q = dns.message.make_query(APEX, "A")
        if not self.recursive:
            q.flags &= ~dns.flags.RD
        try:
            r = dns.query.udp(q, "127.0.0.1", port=self.port, timeout=2)
        except Exception:  # noqa: BLE001 - counted, the client gives up
            self.errors += 1
            return None
        for rr in r.answer:
            if rr.rdtype == dns.rdatatype.A:
                for rd in rr:
                    return rd.address
        self.errors += 1
        return None


def start_translator(a, lb, key):
    """A translator knotd polling \a lb every --poll-ms (upstream
    remote "lb" on loopback, signed with \a key if given), answering one
    address ordered by --policy. Ready once it answers the cluster name
    with one of the nodes (its first poll is done)."""
    remote = ("lb", "127.0.0.1@%d" % lb.port) + ((key.name,) if key else ())
    conf = {"upstream": ["lb"], "upstream-interval": a.poll_ms,
            "upstream-timeout": min(500, a.poll_ms // 2),
            "policy": a.policy, "answers": 1, "ttl": a.ttl}
    tr = tgc.Knotd({ZONE: conf}, name="translator", remotes=[remote],
                   keys=[key] if key else ())
    # Not the harness's readiness check: a SOA query is forwarded to the
    # load balancer, whose acl may want the key.
    tr.start(wait=False)

    def answers():
        if not tr.alive():
            raise RuntimeError("translator knotd exited; log:\n%s"
                               % tr.log_text()[-3000:])
        if not tgc.tcp_connectable("127.0.0.1", tr.port):
            return False
        r = tgc.query(tr.port, APEX, timeout=1)
        return r.rcode == 0 and len(r.addrs) == 1
    try:
        tgc.wait_until(answers, 20, interval=0.05,
                       what="translator answers the cluster name")
    except BaseException:
        tr.cleanup()
        raise
    return tr


def translator_counts(tr):
    """The translator's counters: answers from a fresh cache, stale
    answers (no poll succeeded lately) and failed upstream tries; and
    whether its cached A answer holds the load balancer's load report
    (tgclusterctl status --json: "load" beside "addresses"; "n/a" if
    this tgclusterctl does not show it)."""
    st = tr.zone_stats()
    out = {"tr_cached": tgc.stat_sum(st, "cached"),
           "tr_stale": tgc.stat_sum(st, "stale"),
           "tr_upstream_errors": tgc.stat_sum(st, "upstream-error")}
    report = "n/a"
    try:
        p = subprocess.run([CTL, "status", os.path.basename(tr.shm().path),
                            "--json"], capture_output=True, text=True,
                           timeout=30)
        recs = json.loads(p.stdout)["cache"]["records"] if p.returncode == 0 else []
        if recs and "load" in recs[0]:
            report = int(bool(recs[0]["load"]))
    except (OSError, ValueError, KeyError, subprocess.TimeoutExpired):
        pass
    out["tr_load_report"] = report
    return out


def main():
    a = parse()
    # A SIGTERM unwinds like ^C: the finally below stops what we started.
    signal.signal(signal.SIGTERM, tgc._on_sigterm)
    rng = random.Random(a.seed)
    addrs = ["127.%d.0.%d" % (a.net, 11 + i) for i in range(len(CAPS))]
    group = tgc.NodeGroup()
    k = tr = ub = None
    try:
        nodes = [group.add(x, 0, "tcp") for x in addrs]
        first_agent = group.add_agent(nodes[0])
        for n in nodes[1:]:
            group.add_agent(n, first_agent.port)
        for n, c in zip(nodes, CAPS):
            n.maxconn = c * MAXCONN_UNIT
        if a.new_node:
            nodes[5].stop()
        by_addr = {x: i for i, x in enumerate(addrs)}
        translator = a.mode.startswith("translator")
        conf = {"node": ["%s@%d" % (n.addr, n.port) for n in nodes],
                "policy": a.lb_policy if translator else a.policy,
                "answers": 0 if translator else 1, "ttl": a.ttl,
                "check-interval": a.interval,
                "check-timeout": max(a.interval // 2, 50),
                "check-rise": 2, "check-fall": 2,
                "agent-port": first_agent.port}
        key = tgc.Tsig("tgc-upstream") if a.tsig else None
        kw = {"keys": [key], "query_key": key.name} if key else {}
        k = tgc.Knotd({ZONE: conf}, name="lb", **kw)
        k.start()
        seg = k.shm()
        want = ["up"] * 6 if not a.new_node else ["up"] * 5 + ["down"]
        tgc.wait_until(lambda: seg.health() == want, 20, what="nodes checked")
        server = k
        if translator:
            tr = start_translator(a, k, key)
            server = tr
        if a.mode.endswith("resolver"):
            ub = tgc.Unbound(ZONE, server.port)
            res = Resolve(ub.port, True)
        else:
            res = Resolve(server.port, False)

        ends = []          # heap of (end time, node index)
        samples = []       # imbalance per second after the warm-up
        t0 = time.monotonic()
        next_arrival = t0
        next_sample = t0 + 1.0
        new_started = None
        new_reached = None
        new_equal = None
        arrivals = 0
        total_time = a.warmup + a.measure
        while True:
            now = time.monotonic()
            el = now - t0
            if el >= total_time and (not a.new_node or
                                     (new_reached is not None and
                                      new_equal is not None)
                                     or el >= total_time + 2 * a.hold):
                break
            while ends and ends[0][0] <= now:
                _, i = heapq.heappop(ends)
                nodes[i].sessions -= 1
            if now >= next_sample:
                next_sample += 1.0
                ratios = [n.sessions / c for n, c in zip(nodes, CAPS)]
                total = sum(n.sessions for n in nodes)
                if a.new_node and new_started is None and el >= a.warmup:
                    nodes[5].start()
                    new_started = now
                if a.new_node and new_started is not None:
                    if (new_reached is None and
                            nodes[5].sessions >= 0.9 * total * CAPS[5] / sum(CAPS)):
                        new_reached = now - new_started
                    if new_equal is None and nodes[5].sessions >= 0.9 * total / 6:
                        new_equal = now - new_started
                if el >= a.warmup and not a.new_node:
                    mean = statistics.mean(ratios)
                    if mean > 0:
                        samples.append(max(ratios) / mean)
            if now >= next_arrival:
                next_arrival += rng.expovariate(a.rate)
                arrivals += 1
                addr = res.first()
                if addr in by_addr:
                    i = by_addr[addr]
                    nodes[i].sessions += 1
                    heapq.heappush(ends, (time.monotonic() +
                                          rng.expovariate(1.0 / a.hold), i))
            time.sleep(max(0.0, min(next_arrival, next_sample) - time.monotonic()))

        out = {"policy": a.policy, "mode": a.mode, "rate": a.rate,
               "hold": a.hold, "ttl": a.ttl, "interval_ms": a.interval,
               "arrivals": arrivals, "errors": res.errors,
               "sessions": [n.sessions for n in nodes]}
        if translator:
            out.update({"lb_policy": a.lb_policy, "poll_ms": a.poll_ms,
                        "tsig": int(a.tsig)})
            out.update(translator_counts(tr))
        if a.new_node:
            left = "not_within_%ds" % (a.measure + 2 * a.hold)
            out["new_node_s"] = (round(new_reached, 1) if new_reached is not None
                                 else left)
            out["new_node_equal_s"] = (round(new_equal, 1) if new_equal is not None
                                       else left)
        else:
            out["samples"] = len(samples)
            out["imbalance_mean"] = round(statistics.mean(samples), 3)
            out["imbalance_p95"] = round(sorted(samples)[int(0.95 * (len(samples) - 1))], 3)
            out["imbalance_max"] = round(max(samples), 3)
        print(" ".join("%s=%s" % (key, v) for key, v in out.items()), flush=True)
        if a.json:
            with open(a.json, "w") as f:
                json.dump(out, f)
    finally:
        if ub is not None:
            ub.close()
        if tr is not None:
            tr.stop()
            tr.cleanup()
        if k is not None:
            k.stop()
            k.cleanup()
        group.close()


if __name__ == "__main__":
    main()
