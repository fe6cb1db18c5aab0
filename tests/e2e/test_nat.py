#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""End-to-end, topology 2 of docs/deployment.rst ("DNS for clusters with NAT"),
in network namespaces.

    client ns           nat ns                          cluster ns
    viewer .10 --(1)--> internal DNS .53 (unbound)
                          --(2)--> translator on the LAN addresses of the
                                   LBs (198.51.100.100, .101) --(3)--> LB1 / LB2
                                   on their NAT addresses (203.0.113.100, .101)
                          <--(5)-- <--(4)-- live nodes as LAN addresses
           <--(6)--
    viewer --(7)--> 198.51.100.10x:5900 --DNAT (8)--> node 203.0.113.10x

Namespaces, veth links and an nftables DNAT ruleset are made by the test,
with documentation addresses only (see e2e.NatTopology). The client LAN has
no route to the cluster network: the LBs are unreachable from it, as in the
docs. Each node (tgc.py nodesim, mode rfbid) answers a connection with an
RFB banner and, after the client's version and the security types, a line
naming itself, its own
address and the peer it sees, so the test checks
that the viewer reached the node the LAN address stands for, through the DNAT
(the node sees the viewer's LAN address: no masquerading).

Variants:
  seed      the LBs answer LAN addresses themselves (`nat-base`, variant A
            of docs/deployment.rst); the translator (mod-tgcluster
            `upstream`) only relays them.
  nat-map   the LBs answer the nodes' own addresses; the translator rewrites
            them with `nat-map`.
  forwarder the LBs answer LAN addresses (`nat-base`) and the NAT host runs a
            plain forwarding resolver (unbound) instead of the translator.
  least-loaded (TestNatLeastLoaded) the nodes' agents report sessions to
            an LB with policy least-loaded; the translator (least-loaded,
            answers 1, nat-map) follows the load the LB reports with its
            polls, weighed by the nodes' maxconn.
In each of the first three: steps 1-8, the translator's answers spread the first address over
all three nodes (translator variants), another name of the zone resolves
(through a translator: TC over UDP, then TCP), a killed node leaves the
answers the viewer gets, a killed LB does not break resolution.

Needs root (or CAP_NET_ADMIN) for the namespaces: skipped with the reason
otherwise (the run then reports SKIP, never a pass), failed where TGC_NO_SKIP
is set (.ci/run). A missing resolver or nft, or a translator configuration
knotd refuses, is a failure.
"""

import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e  # noqa: E402
from e2e import CLUSTER, NODE_PORT, ZONE, log, tgc, wait_until  # noqa: E402

import dns.exception  # noqa: E402
import dns.rcode  # noqa: E402

INTERVAL, TIMEOUT, RISE, FALL, TTL = 200, 100, 2, 2, 1
LAN = [lan for _, _, lan, _ in CLUSTER]
LB_NAT = [node for _, node, _, lb in CLUSTER if lb]       # 203.0.113.100, .101
LB_LAN = [lan for _, _, lan, lb in CLUSTER if lb]         # 198.51.100.100, .101
IDENT = {lan: (ident, node) for ident, node, lan, _ in CLUSTER}
GONE_DEADLINE = 8.0
# www of the LBs' zone (tgc.DEFAULT_RECORDS): outside the cluster network,
# so nat-map leaves it as it is.
WWW = "127.0.0.99"


class TestSeedNat(e2e.E2eTestCase):

    def setUp(self):
        e2e.require_netns(self)
        e2e.require_binary(self, e2e.NFT, "nft", "nftables")
        e2e.require_binary(self, e2e.UNBOUND, "unbound", "unbound")
        self.topo = e2e.NatTopology(self).up()
        self.logdir = e2e.mkdtemp("tgc-nodes-")
        self.addCleanup(e2e.rmtree, self.logdir)
        self.nodes = e2e.IdNodes(self.topo.cluster,
                                 {ident: (node, NODE_PORT)
                                  for ident, node, _, _ in CLUSTER},
                                 self.logdir)
        self.addCleanup(self.nodes.close)
        self.nodes.start_all()

    # -- roles ------------------------------------------------------------
    def start_lbs(self, nat_base):
        items = {"node": ["%s@%d" % (node, NODE_PORT) for _, node, _, _ in CLUSTER],
                 "check": "rfb", "check-interval": INTERVAL,
                 "check-timeout": TIMEOUT, "check-rise": RISE,
                 "check-fall": FALL, "ttl": TTL, "policy": "round-robin",
                 "id": "lb"}
        if nat_base:
            items["nat-base"] = LAN[0]
        # Both LBs share the cluster namespace: each listens on its own NAT
        # address (port 53) and on its own loopback port (for the harness).
        self.lbs = [self.ns_knotd(self.topo.cluster, {ZONE: dict(items)},
                                  port=5301 + i, listen=["%s@53" % addr],
                                  name="lb%d" % (i + 1))
                    for i, addr in enumerate(LB_NAT)]

    def start_translator(self, nat_map):
        items = {"upstream": ["lb1", "lb2"], "upstream-interval": INTERVAL,
                 "upstream-timeout": TIMEOUT, "id": "translator"}
        if nat_map:
            items["nat-map"] = "%s=%s" % (e2e.CLUSTER_NET, e2e.LAN_NET)
        remotes = e2e.remotes_text([("lb%d" % (i + 1), "%s@53" % a)
                                    for i, a in enumerate(LB_NAT)])
        self.translator = self.ns_knotd(
            self.topo.nat, {ZONE: items}, port=53,
            listen=["%s@53" % a for a in LB_LAN],
            edits=[e2e.before("module", remotes)], name="translator")

    def start_internal_dns(self):
        self.dns = self.resolver("unbound", self.topo.client, e2e.INTERNAL_DNS,
                                 53, [(a, 53) for a in LB_LAN])

    # -- the viewer -------------------------------------------------------
    def resolve(self):
        return self.topo.client.call(e2e.resolve, e2e.INTERNAL_DNS)

    def view(self):
        return self.topo.client.call(e2e.view, e2e.INTERNAL_DNS,
                                     node_port=NODE_PORT, identity=True)

    def connect(self, addr):
        return self.topo.client.call(_read_ident, addr, NODE_PORT)

    def lb_answers(self, lb):
        return tgc.stat_sum(lb.zone_stats(ZONE), "answer")

    # -- the scenario -----------------------------------------------------
    def assert_translator_spreads(self, variant, queries=60):
        """What the internal DNS gets from the translator, asked from the
        client LAN as it asks: the first address spreads over every node
        (the translator's default policy, round-robin over its cache), not
        one node per poll interval."""
        firsts = {}
        for _ in range(queries):
            a = self.topo.client.call(e2e.resolve, LB_LAN[0])
            self.assertEqual(sorted(a.addrs), LAN, a.addrs)
            firsts[a.addrs[0]] = firsts.get(a.addrs[0], 0) + 1
        log("%s: first addresses of %d answers of the translator: %s"
            % (variant, queries, firsts))
        self.assertGreaterEqual(len(firsts), 3, firsts)
        self.assertGreaterEqual(min(firsts.values()), queries / len(LAN) / 2,
                                firsts)

    def assert_lan_unreachable(self):
        """The NAT barrier: the client LAN cannot reach the cluster network,
        neither the nodes nor the LBs (hence the translator)."""
        for addr in LB_NAT:
            with self.assertRaises(OSError, msg="%s reachable" % addr):
                self.topo.client.call(socket.create_connection,
                                      (addr, NODE_PORT), 1.0)
            with self.assertRaises((OSError, dns.exception.Timeout)):
                self.topo.client.call(e2e.resolve, addr, timeout=1.0)

    def run_seed(self, variant):
        self.assert_lan_unreachable()
        log("%s: the client LAN has no route to %s" % (variant, e2e.CLUSTER_NET))

        # Steps 1-6: the viewer asks the internal DNS, which asks the
        # translator (on the LBs' LAN addresses), which asks the LBs (on
        # their NAT addresses); the answer carries LAN addresses.
        v = wait_until(lambda: (lambda v: v if v.ident else None)(self.view()),
                       10.0, interval=0.1, what="the viewer reaching a node")
        log("%s: steps 1-6: viewer got %s" % (variant, v.answer.addrs))
        self.assertEqual(v.answer.rcode, dns.rcode.NOERROR)
        self.assertEqual(sorted(v.answer.addrs), LAN)
        self.assertLessEqual(max(v.answer.ttls), TTL)
        self.assertGreater(sum(self.lb_answers(lb) for lb in self.lbs), 0,
                           "step 3/4: the LBs answered nothing")
        # Steps 7-8: the connection to the LAN address reaches the node it
        # stands for, through the DNAT; the node sees the viewer's address.
        ident, node = IDENT[v.addr]
        log("%s: steps 7-8: viewer connected to %s, reached %s"
            % (variant, v.addr, v.ident))
        self.assertEqual(v.banner, "RFB 003.008")
        self.assertEqual((v.ident["id"], v.ident["addr"], v.ident["peer"]),
                         (ident, node, e2e.VIEWER))
        for lan in LAN:
            got = self.connect(lan)
            self.assertEqual((got["id"], got["addr"], got["peer"]),
                             IDENT[lan] + (e2e.VIEWER,), lan)
        self.assertGreater(self.topo.dnat_packets(), 0)
        tr = getattr(self, "translator", None)
        if tr is not None:
            st = tr.zone_stats(ZONE)
            log("%s: translator counters %s" % (variant, {
                k: v for k, v in st.items() if v}))
            # The internal DNS got the translator's polled answers.
            self.assertGreater(tgc.stat_sum(st, "cached"), 0, st)
            if variant == "nat-map":
                self.assertGreater(tgc.stat_sum(st, "mapped"), 0, st)

        if tr is not None:
            self.assert_translator_spreads(variant)

        # Another name of the zone: a translator answers it over UDP with an
        # empty TC answer, unbound asks again over TCP, the translator
        # forwards it to an LB.
        www = self.topo.client.call(e2e.resolve, e2e.INTERNAL_DNS,
                                    name="www." + e2e.APEX)
        log("%s: www resolved to %s" % (variant, www.addrs))
        self.assertEqual((www.rcode, www.addrs), (dns.rcode.NOERROR, [WWW]))
        if tr is not None:
            st = tr.zone_stats(ZONE)
            self.assertGreater(tgc.stat_sum(st, "to-tcp"), 0, st)
            self.assertGreater(tgc.stat_sum(st, "forwarded"), 0, st)

        # A node dies (tg3): its LAN address leaves what the viewer gets.
        dead_id, _, dead_lan, _ = CLUSTER[2]
        live = [lan for lan in LAN if lan != dead_lan]
        t0 = time.monotonic()
        self.nodes.stop(dead_id)
        wait_until(lambda: sorted(self.resolve().addrs) == live,
                   GONE_DEADLINE, interval=0.05,
                   what="%s (%s) out of the answers" % (dead_id, dead_lan))
        log("%s: node %s (%s) gone from the viewer's answers after %.0f ms"
            % (variant, dead_id, dead_lan, (time.monotonic() - t0) * 1000))
        self.assertStays(lambda: sorted(self.resolve().addrs) == live,
                         2.5 * TTL, what="%s staying out" % dead_lan,
                         interval=0.1)
        v = self.view()
        self.assertIn(v.addr, live, v)
        self.assertEqual(v.ident.get("id"), IDENT[v.addr][0], v)

        # LB1 dies: resolution goes on through LB2.
        before = self.lb_answers(self.lbs[1])
        self.lbs[0].stop()
        t0 = time.monotonic()
        answers = []

        def lb2_took_over():
            a = self.resolve()
            answers.append(a)
            self.assertEqual(a.rcode, dns.rcode.NOERROR, a)
            self.assertEqual(sorted(a.addrs), live, a)
            # LB2 answered on, for more than two cache lifetimes of the
            # internal DNS.
            return (self.lb_answers(self.lbs[1]) >= before + 3
                    and time.monotonic() - t0 > 2.5 * TTL)
        wait_until(lb2_took_over, 15.0, interval=0.1,
                   what="LB2 answering for the dead LB1")
        log("%s: LB1 down: %d resolutions in %.1f s all answered (slowest "
            "%.0f ms)" % (variant, len(answers), time.monotonic() - t0,
                          max(a.elapsed for a in answers) * 1000))
        if tr is not None:
            # The translator saw LB1 go (logged once).
            wait_until(lambda: "upstream %s@53 up -> down" % LB_NAT[0]
                       in tr.log_text(), 5.0, what="translator logging LB1 down")
        v = self.view()
        self.assertIn(v.addr, live, v)
        self.assertEqual(v.ident.get("peer"), e2e.VIEWER, v)

    # -- tests ------------------------------------------------------------
    def test_seed_lbs_answer_lan_addresses(self):
        """Variant A (seed): nat-base on the LBs, the translator relays."""
        self.start_lbs(nat_base=True)
        self.start_translator(nat_map=False)
        self.start_internal_dns()
        self.run_seed("seed")

    def test_translator_rewrites_with_nat_map(self):
        """The LBs answer node addresses, the translator maps them."""
        self.start_lbs(nat_base=False)
        self.start_translator(nat_map=True)
        self.start_internal_dns()
        self.run_seed("nat-map")

    def test_forwarding_resolver_on_nat_host(self):
        """nat-base on the LBs, a plain forwarder (unbound) on the NAT host
        listening on the LBs' LAN addresses."""
        self.start_lbs(nat_base=True)
        self.resolver("unbound", self.topo.nat, LB_LAN[0], 53,
                      [(a, 53) for a in LB_NAT], also=LB_LAN[1:])
        self.start_internal_dns()
        self.run_seed("forwarder")


class TestNatLeastLoaded(e2e.E2eTestCase):
    """Load-aware balancing in the NAT topology: the nodes' agents report
    sessions and maxconn to the LBs (policy least-loaded, every live node
    answered); the translator on the NAT host (policy least-loaded,
    answers 1, nat-map) follows the load the LBs report with every poll. The
    client LAN asks the translator as the internal DNS does."""

    AGENT_PORT = 5999
    MAXCONN = [100, 100, 200]

    def setUp(self):
        e2e.require_netns(self)
        e2e.require_binary(self, e2e.NFT, "nft", "nftables")
        self.topo = e2e.NatTopology(self).up()
        group = e2e.NsNodeGroup(self.topo.cluster)
        self.addCleanup(group.close)
        self.n = [group.add(node, NODE_PORT, "tcp") for _, node, _, _ in CLUSTER]
        for node, maxconn in zip(self.n, self.MAXCONN):
            group.add_agent(node, self.AGENT_PORT)
            node.maxconn = maxconn
        items = {"node": ["%s@%d" % (node, NODE_PORT) for _, node, _, _ in CLUSTER],
                 "check-interval": INTERVAL, "check-timeout": TIMEOUT,
                 "check-rise": 1, "check-fall": 1, "ttl": TTL,
                 "agent-port": self.AGENT_PORT, "policy": "least-loaded",
                 "answers": 0, "id": "lb"}
        self.lb = self.ns_knotd(self.topo.cluster, {ZONE: items}, port=5301,
                                listen=["%s@53" % LB_NAT[0]], name="lb1")
        self.seg = self.lb.shm()
        remotes = e2e.remotes_text([("lb1", "%s@53" % LB_NAT[0])])
        self.translator = self.ns_knotd(
            self.topo.nat, {ZONE: {"upstream": ["lb1"], "upstream-interval": INTERVAL,
                                   "upstream-timeout": TIMEOUT, "id": "translator",
                                   "nat-map": "%s=%s" % (e2e.CLUSTER_NET, e2e.LAN_NET),
                                   "policy": "least-loaded", "answers": 1}},
            port=53, listen=["%s@53" % a for a in LB_LAN],
            edits=[e2e.before("module", remotes)], name="translator")

    def reported(self, sessions):
        for node, count in zip(self.n, sessions):
            node.sessions = count
        wait_until(lambda: [x["agent"]["sessions"] for x in self.seg.nodes()]
                   == list(sessions), 10.0, what="sessions %r reported" % (sessions,))

    def firsts(self, queries):
        got = {}
        for _ in range(queries):
            a = self.topo.client.call(e2e.resolve, LB_LAN[0])
            self.assertEqual(len(a.addrs), 1, a.addrs)
            got[a.addrs[0]] = got.get(a.addrs[0], 0) + 1
        return got

    def test_translator_follows_the_reported_load(self):
        # Per unit of capacity: tg1 0.6, tg2 0, tg3 0 (capacity 2).
        self.reported([60, 0, 0])
        tr_seg = self.translator.shm()
        # (The LB answers in its own order: least loaded first.)
        wait_until(lambda: sorted(tr_seg.cache_loads() or []) == [
            (node, count, 100 * m) for (_, node, _, _), count, m
            in zip(CLUSTER, (60, 0, 0), self.MAXCONN)], 10.0,
            what="the report of sessions 60/0/0 in the translator's cache")
        got = self.firsts(60)
        log("least-loaded: first addresses of 60 answers of the translator "
            "with sessions 60/0/0 and maxconn %s: %s" % (self.MAXCONN, got))
        # 60 grants spread over tg2 and tg3 in proportion to their
        # capacities (about 20 and 40) bring them to 0.2 per unit: never
        # to tg1's 0.6.
        self.assertNotIn(LAN[0], got, got)
        self.assertGreater(got.get(LAN[2], 0), got.get(LAN[1], 0), got)
        # tg1 empties, tg2 and tg3 fill: after the next poll tg1 leads.
        self.reported([0, 90, 180])
        wait_until(lambda: [x[1] for x in sorted(tr_seg.cache_loads())] == [0, 90, 180],
                   10.0, what="the new report in the translator's cache")
        self.assertEqual(self.firsts(10), {LAN[0]: 10})
        st = self.translator.zone_stats(ZONE)
        self.assertGreater(tgc.stat_sum(st, "mapped"), 0, st)


def _read_ident(addr, port):
    """Connects to addr:port and returns the identity line of an rfbid node."""
    with socket.create_connection((addr, port), timeout=2.0) as s:
        buf = e2e.read_node(s)
    lines = buf.decode(errors="replace").split("\n")
    if len(lines) < 2 or not lines[1].startswith("TGC-NODE "):
        raise AssertionError("no identity from %s: %r" % (addr, buf))
    return dict(kv.split("=", 1) for kv in lines[1].split()[1:])


if __name__ == "__main__":
    e2e.main()
