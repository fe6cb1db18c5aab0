#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""End-to-end, topology 1 of docs/deployment.rst ("DNS for clusters", no NAT),
with real resolvers.

    viewer --(1)--> internal DNS --(2)--> LB1 / LB2 (knotd + mod-tgcluster)
           <--(4)--              <--(3)-- live nodes
    viewer --(5)--> the first address of the answer (RFB banner)

The internal DNS is unbound, Knot Resolver (kresd) or BIND (named), each
configured as in docs/deployment.rst: only the cluster zone is forwarded, to
both LBs, without DNSSEC validation; everything else is refused and their
root hints point at an address where nothing listens.

Everything runs inside one network namespace made by the test with only its
loopback up: no resolver can reach anything but the test's own daemons. Per
resolver: all three nodes are answered and the viewer reaches one; a killed
node leaves the answers seen through the resolver once its cache (TTL 1 s)
expires, and stays out; a killed LB does not break resolution (the other LB
answers); the node comes back.
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e  # noqa: E402
from e2e import APEX, ZONE, log, tgc, wait_until  # noqa: E402,F401

import dns.rcode  # noqa: E402

NODES = ["127.0.0.11", "127.0.0.12", "127.0.0.13"]
NODE_PORT = 5900
LB_PORTS = [5301, 5302]
DNS_ADDR, DNS_PORT = "127.0.0.53", 53
INTERVAL, TIMEOUT, RISE, FALL, TTL = 200, 100, 2, 2, 1
# A dead node must leave the answers of the LBs within interval x fall +
# timeout (0.5 s) and those of the resolver one TTL later; generous margin
# for a loaded machine.
GONE_DEADLINE = 8.0


class ClusterBehindResolver:
    """The scenario, run once per resolver (mixed into a TestCase)."""

    kind = None

    def setUp(self):
        e2e.require_netns(self)
        _, path, package = e2e.RESOLVERS[self.kind]
        e2e.require_binary(self, path, self.kind, package)
        self.ns = self.netns("lo-" + self.kind)
        # The namespace is isolated: loopback only, no route elsewhere.
        links = self.ns.ip("-o", "link", "show")
        self.assertEqual([l.split(":")[1].strip() for l in links.splitlines()],
                         ["lo"], links)
        # An address of its own for the internal DNS (named listens only on
        # addresses configured on an interface).
        self.ns.ip("addr", "add", DNS_ADDR + "/32", "dev", "lo")
        group = e2e.NsNodeGroup(self.ns)
        self.addCleanup(group.close)
        self.sims = [group.add(ip, NODE_PORT, "rfb") for ip in NODES]
        items = {"node": ["%s@%d" % (ip, NODE_PORT) for ip in NODES],
                 "check": "rfb", "check-interval": INTERVAL,
                 "check-timeout": TIMEOUT, "check-rise": RISE,
                 "check-fall": FALL, "ttl": TTL, "policy": "round-robin"}
        self.lbs = [self.ns_knotd(self.ns, {ZONE: dict(items, id="lb")},
                                  port=p, name="lb%d" % (i + 1))
                    for i, p in enumerate(LB_PORTS)]
        self.res = self.resolver(self.kind, self.ns, DNS_ADDR, DNS_PORT,
                                 [("127.0.0.1", p) for p in LB_PORTS])

    # -- helpers ----------------------------------------------------------
    def resolve(self, **kw):
        return self.ns.call(e2e.resolve, DNS_ADDR, DNS_PORT, **kw)

    def view(self):
        return self.ns.call(e2e.view, DNS_ADDR, DNS_PORT, NODE_PORT)

    def lb_answers(self, lb):
        """Answers of the cluster name the LB gave (its module counters)."""
        return tgc.stat_sum(lb.zone_stats(ZONE), "answer")

    # -- the test ---------------------------------------------------------
    def test_seed_cluster_through_resolver(self):
        # Steps 1-5: the viewer resolves through the internal DNS and
        # connects to the first address.
        v = wait_until(lambda: (lambda v: v if v.banner else None)(self.view()),
                       10.0, interval=0.1, what="the viewer reaching a node")
        log("%s: viewer got %s, connected to %s: %r"
            % (self.kind, v.answer.addrs, v.addr, v.banner))
        self.assertEqual(v.answer.rcode, dns.rcode.NOERROR)
        self.assertEqual(sorted(v.answer.addrs), NODES)
        self.assertLessEqual(max(v.answer.ttls), TTL)
        self.assertIn(v.addr, NODES)
        self.assertEqual(v.banner, "RFB 003.008")
        # The LBs answered the resolver (step 3).
        self.assertGreater(sum(self.lb_answers(lb) for lb in self.lbs), 0)
        # Nothing outside the cluster zone is resolved.
        # (unbound and kresd refuse it by policy; named has no such policy
        # and fails it, as its root hints lead nowhere)
        other = self.resolve(name="www.example.")
        self.assertIn(other.rcode, (dns.rcode.REFUSED, dns.rcode.SERVFAIL),
                      other)
        self.assertEqual(other.addrs, [])
        if self.kind != "named":
            self.assertEqual(other.rcode, dns.rcode.REFUSED, other)

        # A node dies: it leaves the answers once the cache expires.
        dead = NODES[1]
        live = [ip for ip in NODES if ip != dead]
        t0 = time.monotonic()
        self.sims[1].stop()
        wait_until(lambda: sorted(self.resolve().addrs) == live,
                   GONE_DEADLINE, interval=0.05,
                   what="%s out of the answers through %s" % (dead, self.kind))
        log("%s: node %s gone from the resolver's answers after %.0f ms"
            % (self.kind, dead, (time.monotonic() - t0) * 1000))
        # ... and stays out, across more than one cache lifetime.
        self.assertStays(lambda: sorted(self.resolve().addrs) == live,
                         2.5 * TTL, what="%s staying out" % dead, interval=0.1)
        v = self.view()
        self.assertIn(v.addr, live, v)
        self.assertEqual(v.banner, "RFB 003.008", v)

        # An LB dies: resolution goes on through the other one.
        before = self.lb_answers(self.lbs[1])
        self.lbs[0].stop()
        t0 = time.monotonic()
        answers = []

        def lb2_took_over():
            a = self.resolve()
            answers.append(a)
            self.assertEqual(a.rcode, dns.rcode.NOERROR, a)
            self.assertEqual(sorted(a.addrs), live, a)
            # Three cache misses answered by LB2 after LB1 died.
            # (and more than two cache lifetimes passed)
            return (self.lb_answers(self.lbs[1]) >= before + 3
                    and time.monotonic() - t0 > 2.5 * TTL)
        wait_until(lb2_took_over, 15.0, interval=0.1,
                   what="LB2 answering for the dead LB1")
        slowest = max(a.elapsed for a in answers)
        log("%s: LB1 down, %d resolutions in %.1f s all answered "
            "(slowest %.0f ms), LB2 answered %d more"
            % (self.kind, len(answers), time.monotonic() - t0, slowest * 1000,
               self.lb_answers(self.lbs[1]) - before))
        v = self.view()
        self.assertIn(v.addr, live, v)

        # The node comes back and is answered again (through LB2 only).
        self.sims[1].start()
        wait_until(lambda: sorted(self.resolve().addrs) == NODES,
                   GONE_DEADLINE, interval=0.05,
                   what="%s back in the answers" % dead)


class TestUnbound(ClusterBehindResolver, e2e.E2eTestCase):
    kind = "unbound"


class TestKnotResolver(ClusterBehindResolver, e2e.E2eTestCase):
    kind = "kresd"


class TestBind(ClusterBehindResolver, e2e.E2eTestCase):
    kind = "named"


if __name__ == "__main__":
    e2e.main()
