#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Admin states written into the shared table (what tgclusterctl set does):
down is never answered, up is answered whatever the checks say, drain is left
out while another node is live."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dns.rcode  # noqa: E402

import tgc  # noqa: E402
from tgc import query, wait_until  # noqa: E402

ZONE = "cluster.test"
APEX = ZONE + "."


class LbAdmin(tgc.TgcTestCase):

    def setUp(self):
        self.n = self.nodes([("127.0.0.11", "tcp"), ("127.0.0.12", "tcp"),
                             ("127.0.0.13", "tcp")])
        self.addrs = [x.addr for x in self.n]
        self.k = self.knotd({ZONE: {
            "node": [x.spec for x in self.n], "policy": "ordered",
            "check-interval": 200, "check-timeout": 100,
            "check-rise": 2, "check-fall": 2}})
        self.seg = self.k.shm()
        wait_until(lambda: self.seg.health() == ["up"] * 3, 5,
                   what="all nodes confirmed up")

    def answers(self):
        return query(self.k.port, APEX).addrs

    def test_admin_down_never_answered(self):
        self.seg.set_admin(1, "down")
        wait_until(lambda: self.answers() == [self.addrs[0], self.addrs[2]], 2)
        # Not even when every other node is dead and all-down answers "all".
        self.n[0].stop()
        self.n[2].stop()
        wait_until(lambda: self.seg.health() == ["down", "up", "down"], 5)
        a = self.answers()
        self.assertNotIn(self.addrs[1], a)
        self.assertEqual(a, [self.addrs[0], self.addrs[2]],
                         "all-down 'all' answers every node but admin-down")

    def test_every_node_admin_down_is_all_down(self):
        # all-down "all" never answers admin-down nodes: with all of them
        # down the answer is NODATA (SOA in authority), counted as all-down.
        before = tgc.stat_sum(self.k.zone_stats(), "all-down")
        for i in range(3):
            self.seg.set_admin(i, "down")
        r = query(self.k.port, APEX)
        self.assertEqual(r.rcode, dns.rcode.NOERROR)
        self.assertEqual(r.addrs, [])
        after = tgc.stat_sum(self.k.zone_stats(), "all-down")
        self.assertEqual(after, before + 1, "NODATA answer not counted")

    def test_admin_up_answers_dead_node(self):
        self.n[2].stop()
        wait_until(lambda: self.answers() == self.addrs[:2], 5)
        self.seg.set_admin(2, "up")
        wait_until(lambda: self.answers() == self.addrs, 2,
                   what="admin-up node answered though down")
        self.assertEqual(self.seg.health()[2], "down", "health still tracked")
        self.seg.set_admin(2, "auto")
        wait_until(lambda: self.answers() == self.addrs[:2], 2)

    def test_admin_drain(self):
        mark = self.k.log_mark()
        self.seg.set_admin(0, "drain")
        wait_until(lambda: self.answers() == self.addrs[1:], 2,
                   what="drained node left out")
        self.n[1].stop()
        self.n[2].stop()
        # Only the drained node is live: it is answered (not all-down).
        wait_until(lambda: self.answers() == [self.addrs[0]], 5,
                   what="drained node answered when it is the last live one")
        st = self.k.zone_stats()
        self.assertGreaterEqual(tgc.stat_sum(st, "drain"), 1, st)
        self.assertEqual(tgc.stat_sum(st, "all-down"), 0, st)
        self.n[2].start()
        wait_until(lambda: self.answers() == [self.addrs[2]], 5,
                   what="drained node left out again")
        # The admin change is logged once.
        lines = [l for l in self.k.log_since(mark).splitlines()
                 if self.addrs[0] in l and "drain" in l.lower()]
        self.assertEqual(len(lines), 1, lines)


if __name__ == "__main__":
    tgc.main()
