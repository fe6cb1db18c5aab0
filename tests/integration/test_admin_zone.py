#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Admin records in the cluster zone, replicated by knotd itself: a primary
knotd without the module and two load-balancer knotd secondaries (module
loaded), transfers, NOTIFY and updates authenticated with TSIG, all on
loopback. A drain added with knsupdate on the primary reaches both load
balancers; deleting it brings the node back; a local tgclusterctl set beats
the zone; the min-live guard holds; malformed records are ignored, logged and
counted.

Every check polls the load balancers with queries for the cluster name: the
module takes a new zone serial in at the first query after knotd loaded it
(the module API has no zone-load event), as a resolver's steady queries do.
"""

import json
import threading
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import tgc  # noqa: E402
from tgc import query, wait_until  # noqa: E402

ZONE = "cluster.test"
APEX = ZONE + "."
CTL = os.path.abspath(os.environ.get(
    "TGC_CTL", os.path.join(tgc.REPO, "build", "tgclusterctl")))


def ctl(*args):
    return subprocess.run([CTL] + list(args), capture_output=True, text=True,
                          timeout=30)


class _Cluster(tgc.TgcTestCase):
    """A primary and two load-balancer secondaries (no tests of its own)."""

    min_live = 0

    def setUp(self):
        self.n = self.nodes([("127.0.0.11", "tcp"), ("127.0.0.12", "tcp"),
                             ("127.0.0.13", "tcp")])
        self.addrs = [x.addr for x in self.n]
        self.key = tgc.Tsig()
        ports = [tgc.free_port() for _ in range(3)]
        self.primary = self.knotd({ZONE: None}, port=ports[0], name="primary",
                                  repl={"key": self.key, "notify": ports[1:]})
        items = {"node": [x.spec for x in self.n], "policy": "ordered",
                 "check-interval": 200, "check-timeout": 100,
                 "min-live": self.min_live}
        self.lbs = [self.knotd({ZONE: dict(items)}, port=p, name="lb%d" % i,
                               repl={"key": self.key, "master": ports[0]})
                    for i, p in enumerate(ports[1:])]
        for lb in self.lbs:
            seg = lb.shm()
            wait_until(lambda: seg.health() == ["up"] * 3, 5,
                       what="all nodes confirmed up")

    # -- helpers -----------------------------------------------------------
    def answers(self, lb):
        return query(lb.port, APEX).addrs

    def update(self, *commands):
        tgc.knsupdate(self.primary.port, ZONE, self.key, commands)
        return tgc.soa_serial(self.primary.port, ZONE)

    def record(self, node, state, *extra):
        return '%s 60 TXT "tgcluster-admin" "%s" "%s"%s' % (
            APEX, node, state, "".join(' "%s"' % e for e in extra))

    def wait_answers(self, lb, want, timeout=10):
        wait_until(lambda: self.answers(lb) == want, timeout,
                   what="%s answers %s" % (lb.name, want))

    def status(self, lb):
        p = ctl("status", os.path.basename(lb.shm().path), "--json")
        self.assertEqual(p.returncode, 0, p.stderr)
        return json.loads(p.stdout)



class AdminZone(_Cluster):
    def test_drain_reaches_both_and_delete_restores(self):
        for lb in self.lbs:
            self.assertEqual(self.answers(lb), self.addrs)
        rec = self.record(self.addrs[1], "drain", "reason=kernel update")
        serial = self.update("update add " + rec)
        for lb in self.lbs:
            self.wait_answers(lb, [self.addrs[0], self.addrs[2]])
            node = self.status(lb)["nodes"][1]
            self.assertEqual((node["admin"], node["admin_source"],
                              node["admin_zone"], node["admin_local"],
                              node["zone_serial"], node["reason"]),
                             ("drain", "zone", "drain", "auto", serial,
                              "kernel update"))
            self.assertIsNotNone(node["admin_since_ms"])
            seg = lb.shm().nodes()[1]
            self.assertEqual((seg["admin"], seg["admin_src"]),
                             (tgc.ADMIN["drain"], "zone"))
            # The text status names the source and the reason.
            p = ctl("status", os.path.basename(lb.shm().path))
            self.assertRegex(p.stdout, r"zone %d\s+kernel update" % serial)

        # Audit: one log line per load balancer with serial and reason.
        pattern = ("admin auto -> drain (source zone, serial %d, reason "
                   "'kernel update')" % serial)
        for lb in self.lbs:
            wait_until(lambda: pattern in lb.log_text(), 5, what="audit line")
            self.assertEqual(lb.log_text().count(pattern), 1)

        serial2 = self.update("update delete " + rec)
        self.assertGreater(serial2, serial)
        for lb in self.lbs:
            self.wait_answers(lb, self.addrs)
            node = self.status(lb)["nodes"][1]
            self.assertEqual((node["admin"], node["admin_source"],
                              node["admin_zone"]), ("auto", "none", "auto"))
            self.assertEqual(self.status(lb)["zone_serial"], serial2)
            wait_until(lambda: "admin drain -> auto (no local or zone state "
                       "left)" in lb.log_text(), 5, what="audit line")

    def test_local_override_beats_zone(self):
        lb0, lb1 = self.lbs
        seg0 = os.path.basename(lb0.shm().path)
        self.update("update add " + self.record(self.addrs[1], "down"))
        for lb in self.lbs:
            self.wait_answers(lb, [self.addrs[0], self.addrs[2]])

        # A local "up" on LB0 only: LB0 answers the node, LB1 follows the zone.
        p = ctl("set", seg0, self.n[1].spec, "up")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.wait_answers(lb0, self.addrs)
        node = self.status(lb0)["nodes"][1]
        self.assertEqual((node["admin"], node["admin_source"],
                          node["admin_zone"], node["admin_local_uid"]),
                         ("up", "local", "down", os.getuid()))
        self.assertEqual(self.answers(lb1), [self.addrs[0], self.addrs[2]])
        wait_until(lambda: "admin down -> up (source local, uid %d)"
                   % os.getuid() in lb0.log_text(), 5, what="audit line")

        # A newer zone serial does not override the local state either.
        self.update("update add " + self.record(self.addrs[2], "drain"))
        self.wait_answers(lb1, [self.addrs[0]])
        self.wait_answers(lb0, [self.addrs[0], self.addrs[1]])

        # auto hands the node back to the zone.
        p = ctl("set", seg0, self.n[1].spec, "auto")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.wait_answers(lb0, [self.addrs[0]])
        self.assertEqual(self.status(lb0)["nodes"][1]["admin_source"], "zone")

    def test_malformed_records_ignored_counted(self):
        serial = self.update(
            "update add " + self.record("not-an-address", "drain"),
            "update add " + self.record(self.addrs[0], "sleep"),
            "update add " + self.record(self.addrs[2], "down", "reason=ok"))
        for lb in self.lbs:
            self.wait_answers(lb, [self.addrs[0], self.addrs[1]])
            self.assertEqual(self.status(lb)["zone_malformed"], 2)
            stats = lb.zone_stats(ZONE)
            self.assertEqual(tgc.stat_sum(stats, "admin-malformed"), 2)
            log = lb.log_text()
            self.assertEqual(log.count("zone admin record ignored (serial %d)"
                                       % serial), 2)
        # The same serial again (more queries): not parsed, not counted again.
        for _ in range(20):
            self.answers(self.lbs[0])
        stats = self.lbs[0].zone_stats(ZONE)
        self.assertEqual(tgc.stat_sum(stats, "admin-malformed"), 2)

    def test_drain_wait(self):
        lb0, lb1 = self.lbs
        seg = os.path.basename(lb0.shm().path)
        stop = threading.Event()

        def traffic():  # a resolver's steady queries
            while not stop.is_set():
                query(lb0.port, APEX)
                stop.wait(0.02)
        t = threading.Thread(target=traffic, daemon=True)
        t.start()
        self.addCleanup(t.join)
        self.addCleanup(stop.set)
        p = ctl("drain", seg, self.n[1].spec, "--wait", "--timeout", "20")
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn("node 1 drained: no answers", p.stdout)
        self.assertNotIn(self.addrs[1], self.answers(lb0))
        self.assertEqual(self.answers(lb1), self.addrs)

        # The only other nodes locally down: the drained node 0 is still
        # answered (drain-only), so the wait times out (exit 9).
        for i in (1, 2):
            self.assertEqual(ctl("set", seg, self.n[i].spec, "down").returncode, 0)
        p = ctl("drain", seg, self.n[0].spec, "--wait", "--timeout", "2")
        self.assertEqual(p.returncode, 9, p.stdout + p.stderr)
        self.assertIn("still answered", p.stderr)
        self.assertEqual(self.answers(lb0), [self.addrs[0]])

    def test_explain(self):
        lb0 = self.lbs[0]
        seg = os.path.basename(lb0.shm().path)
        self.update("update add " + self.record(self.addrs[1], "drain",
                                                "reason=kernel update"))
        self.wait_answers(lb0, [self.addrs[0], self.addrs[2]])
        self.n[2].stop()
        wait_until(lambda: lb0.shm().health()[2] == "down", 5,
                   what="node 2 down")
        p = ctl("explain", seg, "192.0.2.7", "--ecs", "24",
                "--server", "127.0.0.1@%d" % lb0.port)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        out = p.stdout
        self.assertIn("for client 192.0.2.7/24 (ECS)", out)
        self.assertRegex(out, r"\n  A    NOERROR %s \(ttl \d+\)\n"
                         % re.escape(self.addrs[0]))
        self.assertRegex(out, r"node 0 %s: health up, admin auto \(-\): IN at "
                         r"position 1, unmapped" % re.escape(self.addrs[0]))
        self.assertRegex(out, r"node 1 %s: health up, admin drain \(zone \d+, "
                         r"reason 'kernel update'\): OUT: drained"
                         % re.escape(self.addrs[1]))
        self.assertRegex(out, r"node 2 %s: health down, admin auto \(-\): OUT: "
                         r"health down \(last probe refused\)"
                         % re.escape(self.addrs[2]))
        # Nothing listens there: no reply, exit 1.
        p = ctl("explain", seg, "192.0.2.7", "--server",
                "127.0.0.1@%d" % tgc.free_port())
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        self.assertIn("no reply", p.stdout)


class AdminGuard(_Cluster):
    """min-live 2 of 3 nodes."""

    min_live = 2

    def test_min_live_guard(self):
        # min-live 2 of 3: the zone drains nodes 0 and 1; node 0 (first in
        # node order) is drained, node 1 is held back and keeps answering.
        serial = self.update(
            "update add " + self.record(self.addrs[0], "drain", "reason=a"),
            "update add " + self.record(self.addrs[1], "drain", "reason=b"))
        for lb in self.lbs:
            self.wait_answers(lb, [self.addrs[1], self.addrs[2]])
            st = self.status(lb)
            self.assertEqual(st["min_live"], 2)
            self.assertEqual(st["admin_guarded"], 1)
            self.assertEqual([(x["admin"], x["admin_guarded"])
                              for x in st["nodes"]],
                             [("drain", False), ("auto", True),
                              ("auto", False)])
            wait_until(lambda: re.search(
                r"zone admin drain \(serial %d\) not applied: min-live 2"
                % serial, lb.log_text()), 5, what="guard log")
        self.assertStays(lambda: self.answers(self.lbs[0]) ==
                         [self.addrs[1], self.addrs[2]], 0.6,
                         what="the guard holds")

        # Local states come first: a local drain of node 2 is accepted, and
        # the zone's drains yield to the guard (nodes 0 and 1 answer).
        seg = os.path.basename(self.lbs[0].shm().path)
        p = ctl("set", seg, self.n[2].spec, "drain")
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.wait_answers(self.lbs[0], [self.addrs[0], self.addrs[1]])
        st = self.status(self.lbs[0])
        self.assertEqual([(x["admin"], x["admin_source"], x["admin_guarded"])
                          for x in st["nodes"]],
                         [("auto", "none", True), ("auto", "none", True),
                          ("drain", "local", False)])
        # A second local drain would leave one node: refused...
        p = ctl("set", seg, self.n[1].spec, "drain")
        self.assertEqual(p.returncode, 8, p.stdout + p.stderr)
        self.assertIn("below min-live 2", p.stderr)
        self.assertEqual(self.status(self.lbs[0])["nodes"][1]["admin_local"],
                         "auto")
        self.assertStays(lambda: self.answers(self.lbs[0]) ==
                         [self.addrs[0], self.addrs[1]], 0.6,
                         what="refused change not applied")
        # ... unless forced.
        p = ctl("set", "--force", seg, self.n[1].spec, "drain")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.wait_answers(self.lbs[0], [self.addrs[0]])
        # LB1 has no local state: the zone and the guard alone.
        self.assertEqual(self.answers(self.lbs[1]),
                         [self.addrs[1], self.addrs[2]])


if __name__ == "__main__":
    tgc.main()
