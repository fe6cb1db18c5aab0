#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Load-aware balancing through the translator: a load balancer answers the
load report option of a poll (per address: sessions and capacity) and does
not count the poll as a grant; a translator with policy least-loaded orders
its cached addresses by the reported load and its own grants, so the order
the load balancers would give holds behind the translator too, with and
without TSIG between them."""

import collections
import json
import os
import socket
import struct
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tgc  # noqa: E402
from tgc import query, wait_until  # noqa: E402
from test_translator import (APEX, TSIG_SECRET, ZONE, Knotd,  # noqa: E402
                             TranslatorBase, before, key_text, stats)

import dns.edns  # noqa: E402
import dns.message  # noqa: E402
import dns.query  # noqa: E402
import dns.rdatatype  # noqa: E402

CTL = os.path.abspath(os.environ.get(
    "TGC_CTL", os.path.join(tgc.REPO, "build", "tgclusterctl")))
LOADOPT = 65350
ADDRS = ["127.0.2.11", "127.0.2.12", "127.0.2.13"]
MAPPED = ["192.168.2.11", "192.168.2.12", "192.168.2.13"]


def ask_report(port, version=1, rdtype="A"):
    """Asks a load balancer for the cluster name with the report option;
    returns (addresses, {address: (flags, sessions, capacity_x100)} or None
    without an option in the reply)."""
    opt = dns.edns.GenericOption(LOADOPT, bytes([version]))
    q = dns.message.make_query(APEX, rdtype, use_edns=0, options=[opt])
    q.flags &= ~dns.flags.RD
    r = dns.query.udp(q, "127.0.0.1", port=port, timeout=2)
    want = dns.rdatatype.from_text(rdtype)
    addrs = [rd.address for rr in r.answer if rr.rdtype == want for rd in rr]
    data = None
    for o in r.options:
        if o.otype == LOADOPT:
            data = o.data
    if data is None:
        return addrs, None
    data = bytes(data)
    if data[:1] != b"\x01":
        raise AssertionError("report version %r" % data[:1])
    out, off = {}, 1
    while off < len(data):
        fam, flags, sessions, cap = struct.unpack_from("!BBII", data, off)
        off += 10
        alen = 4 if fam == 1 else 16
        raw = data[off:off + alen]
        off += alen
        addr = socket.inet_ntop(socket.AF_INET if fam == 1 else socket.AF_INET6, raw)
        out[addr] = (flags, sessions, cap)
    return addrs, out


class TranslatorLoad(TranslatorBase):

    lb_items = {"policy": "least-loaded", "answers": 0,
                "node-weight": ["127.0.2.13=2"]}

    def setUp(self):
        group = tgc.NodeGroup()
        self.addCleanup(group.close)
        self.n = [group.add(a, 0, "tcp") for a in ADDRS]
        first = group.add_agent(self.n[0])
        for node in self.n[1:]:
            group.add_agent(node, first.port)
        for node in self.n:
            node.maxconn = 100
        self.agent_port = first.port
        self.node_port = self.n[0].port

    def load_balancer(self, edits=()):
        items = {"node": ["%s@%d" % (x.addr, x.port) for x in self.n],
                 "agent-port": self.agent_port,
                 "check-interval": 200, "check-timeout": 100,
                 "check-rise": 1, "check-fall": 1}
        items.update(self.lb_items)
        lb = self.lb(zone_items=items, edits=edits)
        self.seg = lb.shm()
        wait_until(lambda: self.seg.health() == ["up"] * 3, 5,
                   what="all nodes up")
        return lb

    def reported(self, sessions):
        """Sets the simulated sessions and waits until the LB has them."""
        for node, s in zip(self.n, sessions):
            node.sessions = s
        wait_until(lambda: [x["agent"]["sessions"] for x in self.seg.nodes()]
                   == list(sessions), 5, what="sessions %r reported" % (sessions,))

    def least_loaded_translator(self, lb, **kw):
        items = {"policy": "least-loaded", "answers": 1,
                 "nat-map": "127.0.2.0/24=192.168.2.0/24"}
        items.update(kw.pop("items", {}))
        return self.translator([lb], items=items, **kw)

    def first(self, tr):
        a = query(tr.port, APEX).addrs
        self.assertEqual(len(a), 1, a)
        return a[0]

    # -- the load balancer's side ------------------------------------------
    def test_lb_reports_load_and_polls_are_not_grants(self):
        lb = self.load_balancer()
        self.reported([50, 10, 30])
        addrs, rep = ask_report(lb.port)
        self.assertEqual(sorted(addrs), ADDRS)
        # Capacity = weight x maxconn: 100, 100, 200 (x100 in the option).
        self.assertEqual(rep, {ADDRS[0]: (1, 50, 10000),
                               ADDRS[1]: (1, 10, 10000),
                               ADDRS[2]: (1, 30, 20000)})
        # Polls are no clients: asking 30 times grants nothing.
        for _ in range(30):
            ask_report(lb.port)
        self.assertEqual(ask_report(lb.port)[1][ADDRS[1]][1], 10)
        # A client's answer is a grant, and the report shows it.
        a = query(lb.port, APEX).addrs
        self.assertEqual(a[0], ADDRS[1])
        self.assertEqual(ask_report(lb.port)[1][ADDRS[1]][1], 11)
        # A query without the option, or with another version, gets none.
        self.assertIsNone(ask_report(lb.port, version=2)[1])
        r = dns.query.udp(dns.message.make_query(APEX, "A", use_edns=0),
                          "127.0.0.1", port=lb.port, timeout=2)
        self.assertFalse([o for o in r.options if o.otype == LOADOPT])
        # No address of that family: no answer records, no report.
        addrs, rep = ask_report(lb.port, rdtype="AAAA")
        self.assertEqual((addrs, rep), ([], None))

    # -- through the translator ---------------------------------------------
    def test_translator_follows_the_reported_load(self):
        lb = self.load_balancer()
        self.reported([50, 10, 30])
        tr = self.least_loaded_translator(lb)
        wait_until(lambda: self.first(tr) == MAPPED[1], 5,
                   what="the least loaded node first")
        # Per unit of capacity 0.5, 0.1, 0.15: node 1 leads until its
        # grants bring it to node 2, then they share; node 0 would need
        # about 40 more answers.
        counts = collections.Counter(self.first(tr) for _ in range(39))
        self.assertEqual(counts[MAPPED[0]], 0, counts)
        self.assertGreaterEqual(counts[MAPPED[1]], 8, counts)
        self.assertGreaterEqual(counts[MAPPED[2]], 12, counts)
        # tgclusterctl shows the report with the cached addresses (before
        # the translator's nat-map: as the load balancer answered them).
        seg = os.path.basename(tr.shm().path)
        p = subprocess.run([CTL, "status", seg, "--json"], capture_output=True,
                           text=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        rec = json.loads(p.stdout)["cache"]["records"][0]
        got = dict(zip(rec["addresses"],
                       [(x["sessions"], x["capacity"]) for x in rec["load"]]))
        self.assertEqual(got, {ADDRS[0]: (50, 100.0), ADDRS[1]: (10, 100.0),
                               ADDRS[2]: (30, 200.0)})
        p = subprocess.run([CTL, "status", seg], capture_output=True,
                           text=True, timeout=30)
        self.assertIn("%s 10/100.00" % ADDRS[1], p.stdout)
        # The agents report that node 0 emptied: after the next poll it
        # leads at the translator.
        self.reported([0, 10, 30])
        wait_until(lambda: self.first(tr) == MAPPED[0], 5,
                   what="the emptied node first")

    def test_translator_shares_a_burst_by_capacity(self):
        lb = self.load_balancer()
        self.reported([20, 20, 40])
        tr = self.least_loaded_translator(lb)
        wait_until(lambda: len(query(tr.port, APEX).addrs) == 1, 5)
        # Equal load per capacity: the translator's grants split a burst
        # 1:1:2, as the load balancer's would.
        counts = collections.Counter(self.first(tr) for _ in range(80))
        for addr, share in zip(MAPPED, (20, 20, 40)):
            self.assertLessEqual(abs(counts[addr] - share), 6, counts)

    def test_report_under_tsig(self):
        key = key_text("tgc-key", TSIG_SECRET)
        acl = "acl:\n  - id: tgc-query\n    key: tgc-key\n    action: query\n"
        lb = self.load_balancer(edits=[
            before("acl", key), ("acl:\n", acl),
            ("    acl: xfr\n", "    acl: [ xfr, tgc-query ]\n")])
        self.reported([60, 0, 0])
        tr = self.least_loaded_translator(lb, key="tgc-key", pre=key)
        wait_until(lambda: len(query(tr.port, APEX).addrs) == 1, 5)
        counts = collections.Counter(self.first(tr) for _ in range(40))
        # Node 0 is loaded 0.6 per unit: 40 grants over nodes 1 and 2
        # (capacities 1 and 2) bring them to about 0.13, never to node 0.
        self.assertEqual(counts[MAPPED[0]], 0, counts)
        self.assertGreater(counts[MAPPED[2]], counts[MAPPED[1]], counts)
        self.assertEqual(tgc.stat_sum(stats(tr), "upstream-error", "tsig"), 0)


    def test_lb_only_items_rejected_at_a_translator(self):
        lb = self.load_balancer()
        for items in ({"node-weight": ["127.0.2.13=2"]}, {"load-high": 90},
                      {"load-low": 50}, {"slow-start": 30}):
            name = next(iter(items))
            with self.subTest(item=name):
                tr = self.least_loaded_translator(lb, items=items, start=False)
                rc, out = tr.conf_check()
                self.assertNotEqual(rc, 0, out)
                self.assertIn("'%s' applies to load balancers" % name, out)
        tr = self.least_loaded_translator(lb, items={"grant-window": 5},
                                          start=False)
        rc, out = tr.conf_check()
        self.assertEqual(rc, 0, out)


if __name__ == "__main__":
    unittest.main()
