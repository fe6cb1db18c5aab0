#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Answers of a load-balancer instance: families, flags, TTL, limits,
policies, TCP, and what falls through to the zone."""

import collections
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tgc  # noqa: E402
from tgc import query, wait_until  # noqa: E402

import dns.edns  # noqa: E402
import dns.rcode  # noqa: E402
import dns.rdataclass  # noqa: E402
import dns.rdatatype  # noqa: E402

ZONE = "cluster.test"
APEX = ZONE + "."


class LbAnswers(tgc.TgcTestCase):

    def setUp(self):
        # Three IPv4 nodes on distinct loopback addresses, two IPv6 nodes on
        # ::1 that differ by port only.
        self.v4 = self.nodes([("127.0.0.11", "tcp"), ("127.0.0.12", "tcp"),
                              ("127.0.0.13", "tcp")])
        self.v6 = self.nodes([("::1", "tcp"), ("::1", "tcp")])
        self.v4_addrs = [n.addr for n in self.v4]

    def lb(self, records=None, extra_conf="", **items):
        conf = {"node": [n.spec for n in self.v4 + self.v6],
                "check-interval": 200, "check-timeout": 100,
                "check-rise": 2, "check-fall": 2, "ttl": 7}
        conf.update(items)
        return self.knotd({ZONE: conf}, records=records, extra_conf=extra_conf)

    def wait_all_up(self, k):
        wait_until(lambda: k.shm().health() == ["up"] * 5, 5,
                   what="all nodes confirmed up")

    # -- basics --------------------------------------------------------
    def test_a_answers_live_ipv4_nodes_with_aa_and_ttl(self):
        k = self.lb()
        for tcp in (False, True):
            a = query(k.port, APEX, "A", tcp=tcp)
            self.assertEqual(a.rcode, dns.rcode.NOERROR)
            self.assertTrue(a.aa, "AA flag not set (tcp=%s)" % tcp)
            self.assertEqual(sorted(a.addrs), sorted(self.v4_addrs))
            self.assertEqual(a.ancount, 3, "one A record per IPv4 node")
            self.assertEqual(a.ttls, [7], "TTL must be the 'ttl' item")
            self.assertEqual(a.types, [dns.rdatatype.A])

    def test_aaaa_answers_ipv6_nodes_only(self):
        k = self.lb()
        a = query(k.port, APEX, "AAAA")
        self.assertEqual(a.rcode, dns.rcode.NOERROR)
        self.assertTrue(a.aa)
        self.assertEqual(a.types, [dns.rdatatype.AAAA])
        self.assertEqual(set(a.addrs), {"::1"})
        self.assertEqual(a.ttls, [7])
        # Two nodes share the address ::1: the RRset must not carry the
        # same record twice (RFC 2181 5: no duplicate RRs in an RRset).
        self.assertEqual(a.ancount, 1, "duplicate AAAA records on the wire")

    def test_aaaa_nodes_that_differ_by_port_are_checked_separately(self):
        k = self.lb()
        self.wait_all_up(k)
        self.v6[0].stop()
        wait_until(lambda: k.shm().health()[3] == "down", 5,
                   what="::1 node 0 down")
        self.assertEqual(k.shm().health()[4], "up",
                         "the other ::1 node (other port) must stay up")
        self.assertEqual(query(k.port, APEX, "AAAA").addrs, ["::1"])
        self.v6[1].stop()
        # Both IPv6 nodes down, IPv4 still live: AAAA is all-down (default
        # 'all' answers the configured nodes), A is unaffected.
        wait_until(lambda: k.shm().health()[4] == "down", 5,
                   what="::1 node 1 down")
        self.assertEqual(sorted(query(k.port, APEX, "A").addrs),
                         sorted(self.v4_addrs))

    def test_multiple_ipv6_addresses(self):
        # check: none sends no probes, so non-loopback documentation
        # addresses are safe here.
        k = self.knotd({ZONE: {"node": ["2001:db8::1", "2001:db8::2",
                                         "2001:db8::3", "192.0.2.1"],
                               "check": "none", "policy": "ordered",
                               "ttl": 30}})
        a = query(k.port, APEX, "AAAA")
        self.assertEqual(a.addrs, ["2001:db8::1", "2001:db8::2", "2001:db8::3"])
        self.assertEqual(a.ttls, [30])
        self.assertTrue(a.aa)
        self.assertEqual(query(k.port, APEX, "A").addrs, ["192.0.2.1"])

    def test_edns_and_truncation_as_knotd_does(self):
        # 100 nodes (check: none, documentation addresses: no probes) make an
        # answer of about 1.7 kB: too big for UDP, complete over TCP.
        nodes = ["198.51.100.%d" % i for i in range(1, 101)]
        k = self.knotd({ZONE: {"node": nodes, "check": "none",
                               "policy": "ordered"}})
        a = query(k.port, APEX, "A", payload=1232)
        self.assertTrue(a.tc, "oversized UDP answer without TC")
        self.assertGreaterEqual(a.msg.edns, 0, "EDNS query answered without OPT")
        self.assertLessEqual(len(a.wire), 1232)
        plain = query(k.port, APEX, "A", edns=False)
        self.assertTrue(plain.tc)
        self.assertLess(plain.msg.edns, 0, "OPT in an answer to a non-EDNS query")
        self.assertLessEqual(len(plain.wire), 512)
        t = query(k.port, APEX, "A", tcp=True)
        self.assertFalse(t.tc)
        self.assertEqual(t.addrs, nodes)
        self.assertTrue(t.aa)
        small = query(k.port, "www." + APEX, "A", edns=False)
        self.assertEqual((small.addrs, small.tc), (["127.0.0.99"], False))

    def test_qname_case_insensitive(self):
        k = self.lb()
        a = query(k.port, "ClUsTeR.TeSt.", "A")
        self.assertEqual(sorted(a.addrs), sorted(self.v4_addrs))
        self.assertTrue(a.aa)

    def test_answers_limit(self):
        for limit in (1, 2):
            with self.subTest(answers=limit):
                k = self.lb(answers=limit)
                for tcp in (False, True):
                    for _ in range(10):
                        a = query(k.port, APEX, "A", tcp=tcp)
                        self.assertEqual(len(a.addrs), limit, a)
                        self.assertEqual(a.ancount, limit)
                        self.assertTrue(set(a.addrs) <= set(self.v4_addrs))
                k.cleanup()

    def test_answers_zero_means_all_live(self):
        k = self.lb(answers=0)
        self.wait_all_up(k)
        self.v4[1].stop()
        wait_until(lambda: self.v4_addrs[1] not in query(k.port, APEX).addrs,
                   5, what="stopped node left out")
        self.assertEqual(sorted(query(k.port, APEX).addrs),
                         sorted([self.v4_addrs[0], self.v4_addrs[2]]))

    # -- policies --------------------------------------------------------
    def test_policy_ordered(self):
        k = self.lb(policy="ordered")
        for tcp in (False, True):
            for _ in range(20):
                self.assertEqual(query(k.port, APEX, "A", tcp=tcp).addrs,
                                 self.v4_addrs)
        one = self.lb(policy="ordered", answers=1)
        for _ in range(20):
            self.assertEqual(query(one.port, APEX).addrs, [self.v4_addrs[0]])
        # Lowest index first among the live ones.
        wait_until(lambda: one.shm().health() == ["up"] * 5, 5)
        self.v4[0].stop()
        wait_until(lambda: query(one.port, APEX).addrs == [self.v4_addrs[1]],
                   5, what="node 1 first once node 0 is down")
        for _ in range(10):
            self.assertEqual(query(one.port, APEX).addrs, [self.v4_addrs[1]])

    def test_policy_round_robin_rotates_first(self):
        k = self.lb(policy="round-robin")
        firsts = collections.Counter()
        n = 60
        for i in range(n):
            a = query(k.port, APEX, "A", tcp=bool(i % 2))
            self.assertEqual(sorted(a.addrs), sorted(self.v4_addrs),
                             "every live node in each answer")
            firsts[a.first] += 1
        tgc.log("round-robin firsts over %d queries: %s" % (n, dict(firsts)))
        self.assertEqual(set(firsts), set(self.v4_addrs))
        for addr in self.v4_addrs:
            self.assertGreaterEqual(firsts[addr], n // 3 // 2,
                                    "round-robin is lopsided: %s" % dict(firsts))

    def test_policy_round_robin_single_answer_spreads(self):
        k = self.lb(policy="round-robin", answers=1)
        seen = collections.Counter(query(k.port, APEX).first for _ in range(30))
        self.assertEqual(set(seen), set(self.v4_addrs), dict(seen))

    def test_policy_random(self):
        k = self.lb(policy="random")
        firsts = collections.Counter()
        for _ in range(100):
            a = query(k.port, APEX, "A")
            self.assertEqual(sorted(a.addrs), sorted(self.v4_addrs))
            firsts[a.first] += 1
        tgc.log("random firsts over 100 queries: %s" % dict(firsts))
        # P(some node never first in 100 uniform draws) ~ 3 * (2/3)^100.
        self.assertEqual(set(firsts), set(self.v4_addrs))

    def sticky_map(self, k, clients):
        return {c: query(k.port, APEX, "A", ecs=c).first for c in clients}

    def test_policy_sticky(self):
        k = self.lb(policy="sticky", answers=1)
        self.wait_all_up(k)
        clients = ["10.%d.%d.0/24" % (i // 8, i % 8 * 31) for i in range(64)]
        before = self.sticky_map(k, clients)
        # The same client gets the same node, over UDP and TCP.
        for c in clients[:8]:
            for tcp in (False, True):
                for _ in range(5):
                    self.assertEqual(query(k.port, APEX, ecs=c, tcp=tcp).first,
                                     before[c], "client %s moved" % c)
        # Different subnets spread over the nodes.
        spread = collections.Counter(before.values())
        tgc.log("sticky spread of 64 subnets: %s" % dict(spread))
        self.assertEqual(set(spread), set(self.v4_addrs), dict(spread))

        # One node dies: only its clients move.
        victim = self.v4[1]
        moved_clients = [c for c in clients if before[c] == victim.addr]
        victim.stop()
        wait_until(lambda: query(k.port, APEX, ecs=moved_clients[0]).first
                   != victim.addr, 5, what="victim's client moved")
        after = self.sticky_map(k, clients)
        for c in clients:
            if before[c] == victim.addr:
                self.assertNotEqual(after[c], victim.addr)
                self.assertIn(after[c], self.v4_addrs)
            else:
                self.assertEqual(after[c], before[c],
                                 "client %s moved though its node lived" % c)
        tgc.log("sticky: %d of 64 clients moved with their node"
                % len(moved_clients))

        # It comes back: the mapping is the original one again.
        victim.start()
        wait_until(lambda: self.sticky_map(k, clients) == before, 5,
                   what="original sticky mapping back")

    def test_policy_sticky_without_ecs_uses_source(self):
        k = self.lb(policy="sticky", answers=1)
        first = query(k.port, APEX, source="127.0.0.77").first
        for _ in range(10):
            self.assertEqual(query(k.port, APEX, source="127.0.0.77").first,
                             first)
            self.assertEqual(query(k.port, APEX, source="127.0.0.77",
                                   tcp=True).first, first)

    def test_policy_sticky_all_answers_starts_with_sticky_node(self):
        k = self.lb(policy="sticky")
        for c in ("10.1.0.0/24", "10.2.0.0/24", "10.3.0.0/24"):
            one = query(k.port, APEX, ecs=c)
            self.assertEqual(sorted(one.addrs), sorted(self.v4_addrs))
            for _ in range(5):
                self.assertEqual(query(k.port, APEX, ecs=c).addrs, one.addrs)

    # -- ECS scope -----------------------------------------------------
    def ecs_scope(self, k, ecs, rdtype="A"):
        """The scope prefix of the ECS option in the answer to \\a ecs."""
        a = query(k.port, APEX, rdtype, ecs=ecs)
        opts = [o for o in a.msg.options if isinstance(o, dns.edns.ECSOption)]
        self.assertEqual(len(opts), 1, "one ECS option echoed: %r" % a.msg)
        return opts[0].scopelen

    def test_ecs_scope_is_the_prefix_sticky_hashes(self):
        # knotd echoes ECS (with the scope the module sets) only with its
        # edns-client-subnet on.
        k = self.lb(policy="sticky", answers=1,
                    extra_conf="server:\n    edns-client-subnet: on\n")
        # A subnet longer than the sticky prefix is hashed as its /24
        # (IPv4) or /56 (IPv6): the answer holds for all of that prefix.
        self.assertEqual(self.ecs_scope(k, "192.0.2.77/32"), 24)
        self.assertEqual(self.ecs_scope(k, "2001:db8::1/128", "AAAA"), 56)
        # A shorter one is hashed whole.
        self.assertEqual(self.ecs_scope(k, "192.0.2.0/20"), 20)
        self.assertEqual(self.ecs_scope(k, "2001:db8::/48", "AAAA"), 48)
        # The same /24 gets the same node whatever the longer prefix says.
        first = query(k.port, APEX, ecs="192.0.2.77/32").first
        for host in (1, 100, 254):
            self.assertEqual(query(k.port, APEX,
                                   ecs="192.0.2.%d/32" % host).first, first)

    def test_ecs_scope_zero_when_the_answer_ignores_the_client(self):
        k = self.lb(policy="round-robin",
                    extra_conf="server:\n    edns-client-subnet: on\n")
        self.assertEqual(self.ecs_scope(k, "192.0.2.77/32"), 0)

    # -- what falls through ------------------------------------------
    def test_other_types_and_names_come_from_zone(self):
        k = self.lb()
        soa = query(k.port, APEX, "SOA")
        self.assertEqual(soa.rcode, dns.rcode.NOERROR)
        self.assertEqual(soa.types, [dns.rdatatype.SOA])
        self.assertEqual(soa.ttls, [3600])
        txt = query(k.port, APEX, "TXT", tcp=True)
        self.assertEqual(txt.types, [dns.rdatatype.TXT])
        self.assertIn('"tgcluster test zone"',
                      txt.msg.answer[0][0].to_text())
        mx = query(k.port, APEX, "MX")
        self.assertEqual(mx.types, [dns.rdatatype.MX])
        www = query(k.port, "www." + APEX, "A")
        self.assertEqual((www.addrs, www.ttls, www.aa), (["127.0.0.99"], [3600], True))
        self.assertEqual(query(k.port, "www." + APEX, "AAAA").addrs, ["::99"])
        nx = query(k.port, "nope." + APEX, "A")
        self.assertEqual(nx.rcode, dns.rcode.NXDOMAIN)
        self.assertEqual(nx.authority_types, [dns.rdatatype.SOA])

    def test_qclass_any_answered_like_a_plain_zone(self):
        # knotd answers QCLASS ANY from a zone's class IN data; the module
        # answers it at the cluster name the same way (also over zone data
        # at the name, which it wins over for class IN).
        records = tgc.DEFAULT_RECORDS + ["@ A 192.0.2.1"]
        conf = {"node": [n.spec for n in self.v4 + self.v6],
                "check-interval": 200, "check-timeout": 100, "ttl": 7,
                "policy": "ordered"}
        k = self.knotd({ZONE: conf, "plain.test": None}, records=records)
        plain_in = query(k.port, "plain.test.", "A")
        plain_any = query(k.port, "plain.test.", "A", rdclass="ANY")
        self.assertEqual((plain_any.rcode, plain_any.aa, plain_any.addrs),
                         (dns.rcode.NOERROR, True, ["192.0.2.1"]))
        self.assertEqual(plain_any.addrs, plain_in.addrs)
        self.assertEqual(plain_any.msg.answer[0].rdclass, dns.rdataclass.IN)

        for tcp in (False, True):
            a = query(k.port, APEX, "A", rdclass="ANY", tcp=tcp)
            self.assertEqual((a.rcode, a.aa), (dns.rcode.NOERROR, True), a)
            self.assertEqual(a.addrs, self.v4_addrs, "tcp=%s" % tcp)
            self.assertEqual(a.ttls, [7])
            self.assertEqual(a.msg.answer[0].rdclass, dns.rdataclass.IN)
        a = query(k.port, APEX, "AAAA", rdclass="ANY")
        self.assertEqual((a.rcode, a.aa, set(a.addrs)),
                         (dns.rcode.NOERROR, True, {"::1"}))
        # Other classes stay knotd's (it refuses them), at both names.
        for name in ("plain.test.", APEX):
            self.assertEqual(query(k.port, name, "A", rdclass="CH").rcode,
                             dns.rcode.REFUSED)

    def test_name_item_below_apex(self):
        conf = {"name": "vnc." + APEX, "node": [n.spec for n in self.v4],
                "policy": "ordered", "ttl": 9}
        k = self.knotd({ZONE: conf}, records=tgc.DEFAULT_RECORDS + [
            "@ A 192.0.2.1", 'vnc TXT "vnc text"'])
        a = query(k.port, "vnc." + APEX, "A")
        self.assertEqual((a.addrs, a.ttls, a.aa), (self.v4_addrs, [9], True))
        # The apex is zone data now.
        self.assertEqual(query(k.port, APEX, "A").addrs, ["192.0.2.1"])
        self.assertEqual(query(k.port, "vnc." + APEX, "TXT").types,
                         [dns.rdatatype.TXT])

    def test_module_wins_over_zone_data_and_axfr_untouched(self):
        records = tgc.DEFAULT_RECORDS + ["@ A 192.0.2.1"]
        k = self.lb(records=records, policy="ordered")
        self.assertEqual(query(k.port, APEX, "A").addrs, self.v4_addrs)
        rcode, recs, soas = tgc.axfr(k.port, ZONE)
        self.assertEqual(rcode, dns.rcode.NOERROR)
        self.assertEqual(soas, 2, "AXFR framed by two SOAs")
        apex_a = [r for r in recs if r[0] == APEX and r[1] == dns.rdatatype.A]
        self.assertEqual(apex_a, [(APEX, dns.rdatatype.A, ["192.0.2.1"])],
                         "AXFR must carry the zone's data, not node addresses")
        names = {r[0] for r in recs}
        self.assertIn("www." + APEX, names)
        for r in recs:
            for rd in r[2]:
                self.assertNotIn(rd, self.v4_addrs)


if __name__ == "__main__":
    tgc.main()
