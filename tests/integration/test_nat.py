#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""NAT/alias address mapping: nat-base, nat-map and nat-client.

Simulated nodes listen on 127.0.1.1-3. A client in a nat-client range (the
query's source, or its EDNS Client Subnet when present) gets the mapped (LAN)
addresses, every other client the nodes' own addresses; both views follow
health (a node failing and recovering), the `mapped` counter counts mapped
answers only, and sticky picks do not depend on the mapping. knotc conf-check
rejects wrong NAT items naming the item and value.

Clients are told apart by the source address of the query (127.0.0.1 vs
127.0.0.2); the mapped addresses (127.0.2.x, 127.0.3.x, 127.0.4.9, fd00:aa::x)
and ECS subnets (10.30.x.x, 192.0.2.x) are answer data only: nothing but
loopback is ever contacted.
"""

import os
import re
import socket
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tgc  # noqa: E402
from tgc import query, wait_until  # noqa: E402

import dns.rcode  # noqa: E402

ZONE = "cluster.test"
APEX = ZONE + "."
TIMING = {"check-interval": 200, "check-timeout": 100,
          "check-rise": 2, "check-fall": 2}
# Node failure is seen within interval * fall + timeout = 0.5 s, recovery
# within interval * rise + timeout; allow generous slack on a loaded machine.
CHANGE_TIMEOUT = 5.0

INSIDE = "127.0.0.2"    # source address in nat-client: mapped answers
OUTSIDE = "127.0.0.1"   # source address outside nat-client: own addresses
NODE_ADDRS = ["127.0.1.1", "127.0.1.2", "127.0.1.3"]


def segment_mapped(seg):
    """Mapped address per record of a segment (None where unset)."""
    with open(seg.path, "rb") as f:
        b = f.read()
    count = seg.header()["count"]
    out = []
    for i in range(count):
        o = tgc.rec_base(i)
        fam = tgc.seg_get(b, "REC", "mapped_family", o)
        raw = tgc.seg_bytes(b, "REC", "mapped", o)
        if fam == 0:
            out.append(None)
        elif fam == socket.AF_INET:
            out.append(socket.inet_ntop(socket.AF_INET, raw[:4]))
        else:
            out.append(socket.inet_ntop(socket.AF_INET6, raw))
    return out


def mapped_count(stats):
    return tgc.stat_sum(stats, ".mapped")


class NatBase(tgc.TgcTestCase):
    """nat-base: node i is answered as base + i to nat-client clients."""

    def setUp(self):
        self.sims = self.nodes([(a, "tcp") for a in NODE_ADDRS])
        conf = {"node": [n.spec for n in self.sims], "policy": "ordered",
                "nat-base": "127.0.2.1", "nat-client": [INSIDE + "/32"]}
        conf.update(TIMING)
        self.k = self.knotd({ZONE: conf})
        wait_until(lambda: self.k.shm().health() == ["up"] * 3, 5,
                   what="all nodes confirmed up")
        self.lan = ["127.0.2.1", "127.0.2.2", "127.0.2.3"]

    def views(self, **kw):
        return (query(self.k.port, APEX, source=OUTSIDE, **kw).addrs,
                query(self.k.port, APEX, source=INSIDE, **kw).addrs)

    def test_mapped_and_unmapped_clients(self):
        own, mapped = self.views()
        self.assertEqual(own, NODE_ADDRS)
        self.assertEqual(mapped, self.lan)
        # TCP too, and an ordinary zone name is never mapped.
        self.assertEqual(self.views(tcp=True), (NODE_ADDRS, self.lan))
        self.assertEqual(query(self.k.port, "www." + APEX, source=INSIDE).addrs,
                         ["127.0.0.99"])
        # No IPv6 nodes: AAAA is NODATA for both.
        for src in (INSIDE, OUTSIDE):
            a = query(self.k.port, APEX, "AAAA", source=src)
            self.assertEqual((a.rcode, a.addrs), (dns.rcode.NOERROR, []))
        # The segment carries the mapped address of every node.
        self.assertEqual(segment_mapped(self.k.shm()), self.lan)

    def test_ecs_decides_over_source(self):
        port = self.k.port
        # ECS inside the range from an outside source: mapped.
        self.assertEqual(query(port, APEX, source=OUTSIDE,
                               ecs=INSIDE + "/32").addrs, self.lan)
        # ECS outside the range from an inside source: own addresses.
        self.assertEqual(query(port, APEX, source=INSIDE,
                               ecs=OUTSIDE + "/32").addrs, NODE_ADDRS)
        self.assertEqual(query(port, APEX, source=INSIDE,
                               ecs="192.0.2.0/24").addrs, NODE_ADDRS)
        # An IPv6 ECS never lies in an IPv4 range.
        self.assertEqual(query(port, APEX, source=INSIDE,
                               ecs="2001:db8::/56").addrs, NODE_ADDRS)
        # Over TCP as well.
        self.assertEqual(query(port, APEX, source=OUTSIDE, tcp=True,
                               ecs=INSIDE + "/32").addrs, self.lan)

    def test_node_fails_and_recovers_in_both_views(self):
        victim = self.sims[1]
        victim.stop()
        wait_until(lambda: query(self.k.port, APEX, source=OUTSIDE).addrs
                   == ["127.0.1.1", "127.0.1.3"], CHANGE_TIMEOUT,
                   what="127.0.1.2 gone from the unmapped view")
        # The mapped view lost the same node: base + index, not position.
        self.assertEqual(query(self.k.port, APEX, source=INSIDE).addrs,
                         ["127.0.2.1", "127.0.2.3"])
        self.assertEqual(query(self.k.port, APEX, source=OUTSIDE,
                               ecs=INSIDE + "/32").addrs,
                         ["127.0.2.1", "127.0.2.3"])

        victim.start()
        wait_until(lambda: query(self.k.port, APEX, source=INSIDE).addrs
                   == self.lan, CHANGE_TIMEOUT,
                   what="127.0.2.2 back in the mapped view")
        self.assertEqual(query(self.k.port, APEX, source=OUTSIDE).addrs,
                         NODE_ADDRS)

        # Node 0 now: the remaining ones keep their own mapped addresses.
        self.sims[0].stop()
        wait_until(lambda: query(self.k.port, APEX, source=INSIDE).addrs
                   == ["127.0.2.2", "127.0.2.3"], CHANGE_TIMEOUT,
                   what="127.0.2.1 gone from the mapped view")
        self.assertEqual(query(self.k.port, APEX, source=OUTSIDE).addrs,
                         ["127.0.1.2", "127.0.1.3"])

    def test_all_down_answers_every_node_mapped(self):
        for s in self.sims:
            s.stop()
        wait_until(lambda: self.k.shm().health() == ["down"] * 3,
                   CHANGE_TIMEOUT, what="all nodes down")
        # all-down: all (default) answers every configured node, mapped for
        # mapped clients.
        self.assertEqual(self.views(), (NODE_ADDRS, self.lan))
        self.assertGreaterEqual(tgc.stat_sum(self.k.zone_stats(), "all-down"), 2)

    def test_reload_with_new_base(self):
        self.k.zones[ZONE]["nat-base"] = "127.0.6.10"
        self.k.write_conf()
        self.k.reload()
        new = ["127.0.6.10", "127.0.6.11", "127.0.6.12"]
        wait_until(lambda: query(self.k.port, APEX, source=INSIDE).addrs == new,
                   CHANGE_TIMEOUT, what="answers with the new base")
        self.assertEqual(query(self.k.port, APEX, source=OUTSIDE).addrs,
                         NODE_ADDRS)
        self.assertEqual(segment_mapped(self.k.shm()), new)
        # Health was carried over: all nodes still up without a new rise.
        self.assertEqual(self.k.shm().health(), ["up"] * 3)

    def test_mapped_counter(self):
        port = self.k.port
        before = self.k.zone_stats()
        base_mapped = mapped_count(before)
        for _ in range(5):
            self.assertEqual(query(port, APEX, source=INSIDE).addrs, self.lan)
        for _ in range(7):
            self.assertEqual(query(port, APEX, source=OUTSIDE).addrs, NODE_ADDRS)
        for _ in range(3):
            self.assertEqual(query(port, APEX, source=OUTSIDE,
                                   ecs=INSIDE + "/32").addrs, self.lan)
        for _ in range(2):
            self.assertEqual(query(port, APEX, source=INSIDE,
                                   ecs="192.0.2.0/24").addrs, NODE_ADDRS)
        # Not answers of the module: other names, other types, NODATA.
        query(port, "www." + APEX, source=INSIDE)
        query(port, APEX, "TXT", source=INSIDE)
        query(port, APEX, "AAAA", source=INSIDE)
        after = self.k.zone_stats()
        self.assertEqual(mapped_count(after) - base_mapped, 8, after)
        # Each of the 17 answers counted every node once.
        for i in range(3):
            key = "answer[%d]" % i
            self.assertEqual(tgc.stat_sum(after, key) - tgc.stat_sum(before, key),
                             17, after)


class NatClientForms(tgc.TgcTestCase):
    """nat-client takes knotd's address ranges: ADDR, ADDR/LEN (host bits
    ignored, /0 = the whole family) and FIRST-LAST."""

    def setUp(self):
        self.sims = self.nodes([(a, "tcp") for a in NODE_ADDRS])
        conf = {"node": [n.spec for n in self.sims], "policy": "ordered",
                "nat-base": "127.0.2.1",
                "nat-client": ["127.0.0.3-127.0.0.5", "10.20.30.77/24",
                               "192.0.2.9", "::/0"]}
        conf.update(TIMING)
        self.k = self.knotd({ZONE: conf})
        wait_until(lambda: self.k.shm().health() == ["up"] * 3, 5,
                   what="all nodes confirmed up")
        self.lan = ["127.0.2.1", "127.0.2.2", "127.0.2.3"]

    def test_forms(self):
        port = self.k.port
        for src, want in (("127.0.0.2", NODE_ADDRS), ("127.0.0.3", self.lan),
                          ("127.0.0.5", self.lan), ("127.0.0.6", NODE_ADDRS)):
            self.assertEqual(query(port, APEX, source=src).addrs, want, src)
        for ecs, want in (("10.20.30.0/24", self.lan),
                          ("10.20.31.0/24", NODE_ADDRS),
                          ("192.0.2.9/32", self.lan),
                          ("192.0.2.10/32", NODE_ADDRS),
                          ("2001:db8::/56", self.lan)):
            self.assertEqual(query(port, APEX, source=OUTSIDE,
                                   ecs=ecs).addrs, want, ecs)

    def test_malformed_forms_rejected_naming_item_and_value(self):
        for value in ("127.0.0.0/33", "foo", "127.0.0.1@53"):
            with self.subTest(value=value):
                k = self.knotd({ZONE: {"node": NODE_ADDRS,
                                       "nat-base": "127.0.2.1",
                                       "nat-client": [value]}}, start=False)
                rc, out = k.conf_check()
                self.assertNotEqual(rc, 0, out)
                errors = "\n".join(l for l in out.splitlines()
                                   if "error" in l.lower())
                self.assertIn("nat-client", errors, out)
                self.assertIn(value, errors, out)


class NatMap(tgc.TgcTestCase):
    """nat-map: most specific pair wins, unmatched nodes stay as they are."""

    def setUp(self):
        self.sims = self.nodes([(a, "tcp") for a in NODE_ADDRS] +
                               [("127.0.5.1", "tcp"), ("::1", "tcp")])
        conf = {"node": [n.spec for n in self.sims], "policy": "ordered",
                "nat-map": ["127.0.1.0/24=127.0.3.0/24", "127.0.1.3=127.0.4.9",
                            "::/120=fd00:aa::/120"],
                # A /31 (127.0.0.2-3) and an ECS-only data range.
                "nat-client": ["127.0.0.2/31", "10.20.0.0/16"]}
        conf.update(TIMING)
        self.k = self.knotd({ZONE: conf})
        wait_until(lambda: self.k.shm().health() == ["up"] * 5, 5,
                   what="all nodes confirmed up")
        self.own4 = NODE_ADDRS + ["127.0.5.1"]
        self.lan4 = ["127.0.3.1", "127.0.3.2", "127.0.4.9", "127.0.5.1"]

    def test_most_specific_pair_and_unmatched_node(self):
        port = self.k.port
        for src in (INSIDE, "127.0.0.3"):
            self.assertEqual(query(port, APEX, source=src).addrs, self.lan4, src)
            self.assertEqual(query(port, APEX, "AAAA", source=src).addrs,
                             ["fd00:aa::1"], src)
        for src in (OUTSIDE, "127.0.0.4"):
            self.assertEqual(query(port, APEX, source=src).addrs, self.own4, src)
            self.assertEqual(query(port, APEX, "AAAA", source=src).addrs,
                             ["::1"], src)
        # ECS in the data range (a subnet), and outside it.
        self.assertEqual(query(port, APEX, source=OUTSIDE,
                               ecs="10.20.30.0/24").addrs, self.lan4)
        self.assertEqual(query(port, APEX, source=INSIDE,
                               ecs="10.21.30.0/24").addrs, self.own4)
        # The segment shows the mapping; the unmatched node has none.
        self.assertEqual(segment_mapped(self.k.shm()),
                         ["127.0.3.1", "127.0.3.2", "127.0.4.9", None,
                          "fd00:aa::1"])

    def test_node_fails_and_recovers_in_both_views(self):
        port = self.k.port
        victim = self.sims[2]  # 127.0.1.3, mapped by the /32 override
        victim.stop()
        wait_until(lambda: "127.0.1.3" not in query(port, APEX,
                                                    source=OUTSIDE).addrs,
                   CHANGE_TIMEOUT, what="127.0.1.3 gone")
        self.assertEqual(query(port, APEX, source=OUTSIDE).addrs,
                         ["127.0.1.1", "127.0.1.2", "127.0.5.1"])
        self.assertEqual(query(port, APEX, source=INSIDE).addrs,
                         ["127.0.3.1", "127.0.3.2", "127.0.5.1"])
        victim.start()
        wait_until(lambda: query(port, APEX, source=INSIDE).addrs == self.lan4,
                   CHANGE_TIMEOUT, what="127.0.4.9 back in the mapped view")
        self.assertEqual(query(port, APEX, source=OUTSIDE).addrs, self.own4)

        # The IPv6 node: AAAA of both views follow its health.
        self.sims[4].stop()
        wait_until(lambda: self.k.shm().health()[4] == "down", CHANGE_TIMEOUT,
                   what="::1 down")
        all_down = tgc.stat_sum(self.k.zone_stats(), "all-down")
        # The only IPv6 node is down: all-down (all) answers it, still
        # mapped for mapped clients; A answers are untouched.
        self.assertEqual(query(port, APEX, "AAAA", source=INSIDE).addrs,
                         ["fd00:aa::1"])
        self.assertEqual(query(port, APEX, "AAAA", source=OUTSIDE).addrs,
                         ["::1"])
        self.assertEqual(tgc.stat_sum(self.k.zone_stats(), "all-down"),
                         all_down + 2)
        self.assertEqual(query(port, APEX, source=INSIDE).addrs, self.lan4)
        self.sims[4].start()
        wait_until(lambda: self.k.shm().health()[4] == "up", CHANGE_TIMEOUT,
                   what="::1 up again")
        self.assertEqual(query(port, APEX, "AAAA", source=INSIDE).addrs,
                         ["fd00:aa::1"])

    def test_mapped_counter(self):
        port = self.k.port
        before = mapped_count(self.k.zone_stats())
        for _ in range(4):
            query(port, APEX, source=INSIDE)
            query(port, APEX, source=OUTSIDE)
            query(port, APEX, "AAAA", source="127.0.0.3")
        self.assertEqual(mapped_count(self.k.zone_stats()) - before, 8)


class NatMapNoRuleApplies(tgc.TgcTestCase):
    """A nat-map none of whose pairs matches a node changes no address."""

    def test_answers_unchanged_and_not_counted_as_mapped(self):
        sims = self.nodes([("127.0.5.1", "tcp"), ("127.0.5.2", "tcp")])
        conf = {"node": [n.spec for n in sims], "policy": "ordered",
                "nat-map": ["127.0.1.0/24=127.0.3.0/24"]}
        conf.update(TIMING)
        k = self.knotd({ZONE: conf})
        own = ["127.0.5.1", "127.0.5.2"]
        for src in (INSIDE, OUTSIDE):
            self.assertEqual(query(k.port, APEX, source=src).addrs, own)
        # The counter counts answers with NAT-mapped addresses: none here.
        self.assertEqual(mapped_count(k.zone_stats()), 0,
                         "answers without any mapped address counted as mapped")


class NatSticky(tgc.TgcTestCase):
    """Sticky picks hash the client subnet and the node, never the mapping."""

    def test_same_node_mapped_or_not(self):
        sims = self.nodes([(a, "tcp") for a in NODE_ADDRS])
        # /25 ranges: in each 10.30.X.0/24 (one sticky key) the low half is
        # mapped, the high half is not.
        subnets = list(range(24))
        conf = {"node": [n.spec for n in sims], "policy": "sticky",
                "answers": 1, "nat-base": "127.0.2.1",
                "nat-client": ["10.30.%d.0/25" % x for x in subnets] +
                              [INSIDE + "/32"]}
        conf.update(TIMING)
        k = self.knotd({ZONE: conf})
        wait_until(lambda: k.shm().health() == ["up"] * 3, 5,
                   what="all nodes confirmed up")
        lan = {"127.0.2.%d" % (i + 1): NODE_ADDRS[i] for i in range(3)}

        picks = set()
        for x in subnets:
            own = query(k.port, APEX, ecs="10.30.%d.200/32" % x).addrs
            mapped = query(k.port, APEX, ecs="10.30.%d.1/32" % x).addrs
            self.assertEqual(len(own), 1, own)
            self.assertIn(own[0], NODE_ADDRS, "unmapped client got %s" % own)
            self.assertEqual(len(mapped), 1, mapped)
            self.assertIn(mapped[0], lan, "mapped client got %s" % mapped)
            self.assertEqual(lan[mapped[0]], own[0],
                             "10.30.%d.0/24: mapped pick %s is not own pick %s"
                             % (x, mapped[0], own[0]))
            # Sticky: the same again.
            self.assertEqual(query(k.port, APEX, ecs="10.30.%d.1/32" % x).addrs,
                             mapped)
            picks.add(own[0])
        # The keys spread over more than one node, so the comparison above
        # tells something.
        self.assertGreater(len(picks), 1, picks)

        # By source address: 127.0.0.1 and 127.0.0.2 share a /24 key.
        own = query(k.port, APEX, source=OUTSIDE).addrs
        mapped = query(k.port, APEX, source=INSIDE).addrs
        self.assertEqual([lan[a] for a in mapped], own)


# (description, items replacing/adding to a valid config with 3 IPv4 nodes,
#  words the error must contain)
BAD = [
    ("nat-base of another family", {"nat-base": "fd00::1"},
     ["nat-base", "fd00::1"]),
    ("nat-base overflows", {"nat-base": "255.255.255.254"},
     ["nat-base", "255.255.255.254"]),
    ("nat-base reaches the broadcast address", {"nat-base": "255.255.255.253"},
     ["nat-base", "255.255.255.253", "255.255.255.255"]),
    ("nat-base reaches multicast", {"nat-base": "223.255.255.255"},
     ["nat-base", "223.255.255.255", "224.0.0.0"]),
    ("nat-base unspecified", {"nat-base": "0.0.0.0"},
     ["nat-base", "0.0.0.0"]),
    ("nat-map onto the broadcast address",
     {"nat-map": ["127.0.1.0/24=192.168.1.0/24",
                  "127.0.1.3=255.255.255.255"]},
     ["nat-map", "127.0.1.3=255.255.255.255"]),
    ("nat-map network reaching the broadcast address",
     {"nat-map": ["127.0.1.0/30=255.255.255.252/30"]},
     ["nat-map", "127.0.1.0/30=255.255.255.252/30", "255.255.255.255"]),
    ("nat-map onto a multicast network",
     {"nat-map": ["127.0.1.0/24=239.1.1.0/24"]},
     ["nat-map", "127.0.1.0/24=239.1.1.0/24"]),
    ("nat-base not an address", {"nat-base": "127.0.2.1/24"},
     ["nat-base", "127.0.2.1/24"]),
    ("nat-base with nat-map",
     {"nat-base": "127.0.2.1", "nat-map": ["127.0.1.0/24=127.0.3.0/24"]},
     ["nat-base", "nat-map"]),
    ("nat-client without a mapping", {"nat-client": ["127.0.0.2/32"]},
     ["nat-client"]),
    ("nat-map without '='", {"nat-map": ["127.0.1.0/24"]},
     ["nat-map", "127.0.1.0/24"]),
    ("nat-map with two '='", {"nat-map": ["127.0.1.1=127.0.3.1=127.0.4.1"]},
     ["nat-map", "127.0.1.1=127.0.3.1=127.0.4.1"]),
    ("nat-map bad address", {"nat-map": ["127.0.1.300=127.0.3.1"]},
     ["nat-map", "127.0.1.300=127.0.3.1"]),
    ("nat-map duplicate FROM",
     {"nat-map": ["127.0.1.0/24=127.0.3.0/24", "127.0.1.5/24=127.0.4.0/24"]},
     ["nat-map", "127.0.1.5/24=127.0.4.0/24"]),
    ("nat-map prefix-length mismatch", {"nat-map": ["127.0.1.0/24=127.0.3.0/25"]},
     ["nat-map", "127.0.1.0/24=127.0.3.0/25"]),
    ("nat-map mixed families", {"nat-map": ["127.0.1.0/24=fd00::/24"]},
     ["nat-map", "127.0.1.0/24=fd00::/24"]),
    ("nat-client malformed",
     {"nat-base": "127.0.2.1", "nat-client": ["127.0.0.0/33"]},
     ["nat-client", "127.0.0.0/33"]),
]


def item_re(item):
    """The item as a word of its own ('nat-map' does not match 'nat-mapx')."""
    return re.compile(r"(?<![\w-])%s(?![\w-])" % re.escape(item))


class NatConfCheck(tgc.TgcTestCase):

    def conf(self, items):
        conf = {"node": ["127.0.1.1", "127.0.1.2", "127.0.1.3"]}
        conf.update(items)
        return self.knotd({ZONE: conf}, start=False)

    def test_valid_nat_configs_pass(self):
        for items in ({"nat-base": "127.0.2.1", "nat-client": ["127.0.0.2/32"]},
                      {"nat-base": "255.255.255.252"},
                      {"nat-map": ["127.0.1.0/24=127.0.3.0/24",
                                   "127.0.1.3=127.0.4.9",
                                   "127.0.1.0/25=127.0.6.0/25",
                                   "::/120=fd00:aa::/120"],
                       "nat-client": ["127.0.0.2/31", "::1"]}):
            with self.subTest(items=items):
                rc, out = self.conf(items).conf_check()
                self.assertEqual(rc, 0, out)
        rc, out = self.knotd({ZONE: {"node": ["::1", "::2"],
                                     "nat-base": "fd00::1"}},
                             start=False).conf_check()
        self.assertEqual(rc, 0, out)

    def test_bad_nat_items_rejected_naming_item_and_value(self):
        for desc, items, words in BAD:
            with self.subTest(desc):
                k = self.conf(items)
                rc, out = k.conf_check()
                self.assertNotEqual(rc, 0, "%s: accepted:\n%s" % (desc, out))
                errors = "\n".join(l for l in out.splitlines()
                                   if "error" in l.lower())
                for w in words:
                    if w.startswith("nat-"):
                        self.assertRegex(errors, item_re(w),
                                         "%s: error does not name item %r:\n%s"
                                         % (desc, w, out))
                    else:
                        self.assertIn(w, errors, "%s: error does not name "
                                      "value %r:\n%s" % (desc, w, out))

    def test_ipv6_base_overflow_and_family(self):
        rc, out = self.knotd({ZONE: {
            "node": ["::1", "::2", "::3"],
            "nat-base": "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe"}},
            start=False).conf_check()
        self.assertNotEqual(rc, 0, out)
        self.assertRegex(out, item_re("nat-base"))
        self.assertIn("ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe", out)
        # Mixed-family nodes cannot share one base.
        rc, out = self.knotd({ZONE: {"node": ["127.0.1.1", "::1"],
                                     "nat-base": "127.0.2.1"}},
                             start=False).conf_check()
        self.assertNotEqual(rc, 0, out)
        self.assertRegex(out, item_re("nat-base"))

    def test_knotd_refuses_to_start(self):
        k = self.conf({"nat-base": "fd00::1"})
        with self.assertRaises(RuntimeError):
            k.start(timeout=5)
        self.assertRegex(k.log_text(), item_re("nat-base"))


if __name__ == "__main__":
    tgc.main()
