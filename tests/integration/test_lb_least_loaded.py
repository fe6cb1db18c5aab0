#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""policy least-loaded: answers follow the sessions the simulated nodes'
agents report, weighed by node-weight and maxconn; grants spread a burst of
queries before the agents report; load-high/load-low keep an overloaded node
out with hysteresis; drain, maint and down from an agent still apply; an
agent that times out leaves the node to its health check."""

import collections
import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tgc  # noqa: E402
from tgc import query, wait_until  # noqa: E402

ZONE = "cluster.test"
APEX = ZONE + "."
ADDRS = ["127.0.0.11", "127.0.0.12", "127.0.0.13"]
CTL = os.path.abspath(os.environ.get(
    "TGC_CTL", os.path.join(tgc.REPO, "build", "tgclusterctl")))


class LeastLoaded(tgc.TgcTestCase):

    items = {}

    def setUp(self):
        group = tgc.NodeGroup()
        self.addCleanup(group.close)
        self.n = [group.add(a, 0, "tcp") for a in ADDRS]
        first = group.add_agent(self.n[0])
        for node in self.n[1:]:
            group.add_agent(node, first.port)
        for node in self.n:
            node.maxconn = 100
        conf = {"node": ["%s@%d" % (x.addr, x.port) for x in self.n],
                "policy": "least-loaded", "answers": 1,
                "check-interval": 200, "check-timeout": 100,
                "check-rise": 2, "check-fall": 2,
                "agent-port": first.port}
        conf.update(self.items)
        self.k = self.knotd({ZONE: conf})
        self.seg = self.k.shm()
        wait_until(lambda: self.seg.health() == ["up"] * 3, 5,
                   what="all nodes confirmed up")

    def first(self):
        a = query(self.k.port, APEX).addrs
        self.assertEqual(len(a), 1, a)
        return a[0]

    def reported(self, sessions):
        """Sets the simulated sessions and waits until the table has them."""
        for node, s in zip(self.n, sessions):
            node.sessions = s
        wait_until(lambda: [x["agent"]["sessions"] for x in self.seg.nodes()]
                   == list(sessions), 5, what="sessions %r reported" % (sessions,))


class LeastLoadedAnswers(LeastLoaded):

    items = {"node-weight": ["127.0.0.13=2"]}

    def test_answers_follow_sessions(self):
        # Per unit of capacity (maxconn 100, weights 1, 1, 2): 0.5, 0.1,
        # 0.15: node 1 first, and after a few grants nodes 1 and 2 share
        # the answers; node 0 would need about 40 more.
        self.reported([50, 10, 30])
        self.assertEqual(self.first(), ADDRS[1])
        counts = collections.Counter(self.first() for _ in range(39))
        self.assertEqual(counts[ADDRS[0]], 0, counts)
        self.assertGreaterEqual(counts[ADDRS[1]], 8, counts)
        self.assertGreaterEqual(counts[ADDRS[2]], 12, counts)
        # The agents report that node 0 emptied: it leads now.
        self.reported([0, 10, 30])
        self.assertEqual(self.first(), ADDRS[0])

    def test_weight_shares_a_burst(self):
        # Equal sessions: the grants alone split a burst by weight, 1:1:2.
        self.reported([20, 20, 40])
        counts = collections.Counter(self.first() for _ in range(80))
        for addr, share in zip(ADDRS, (20, 20, 40)):
            self.assertLessEqual(abs(counts[addr] - share), 6, counts)

    def test_agent_states_still_apply(self):
        self.reported([50, 0, 30])
        self.assertEqual(self.first(), ADDRS[1])
        # Drain from the least loaded node's agent: the next one leads.
        self.n[1].agent_words = "drain"
        wait_until(lambda: self.seg.nodes()[1]["agent"]["state"] ==
                   tgc.AGENT_DRAIN, 5)
        got = {self.first() for _ in range(20)}
        self.assertNotIn(ADDRS[1], got)
        # Maint and down: never answered while others are live.
        self.n[1].agent_words = "maint"
        wait_until(lambda: self.seg.nodes()[1]["agent"]["state"] &
                   tgc.AGENT_MAINT, 5, what="maint reported")
        self.assertNotIn(ADDRS[1], {self.first() for _ in range(20)})
        self.n[1].agent_words = "ready"
        wait_until(lambda: self.seg.nodes()[1]["agent"]["state"] == 0, 5)
        self.n[2].agent_words = "down"
        wait_until(lambda: self.seg.nodes()[2]["agent"]["state"] ==
                   tgc.AGENT_DOWN, 5)
        self.assertNotIn(ADDRS[2], {self.first() for _ in range(20)})

    def test_agent_timeout_leaves_health_check(self):
        self.reported([50, 0, 30])
        # A silent agent: the node keeps its last load and its health
        # check decides; it is still answered.
        self.n[1].agent_words = None
        errors = self.seg.nodes()[1]["agent"]["errors"]
        wait_until(lambda: self.seg.nodes()[1]["agent"]["errors"] >= errors + 2,
                   5, what="agent polls time out")
        self.assertEqual(self.seg.nodes()[1]["agent"]["flags"] &
                         tgc.AGENT_F_ANSWERED, 0)
        self.assertEqual(self.seg.health()[1], "up")
        self.assertEqual(self.first(), ADDRS[1])
        # Its health check fails: gone from the answers.
        self.n[1].stop()
        wait_until(lambda: self.seg.health()[1] == "down", 5)
        self.assertNotIn(ADDRS[1], {self.first() for _ in range(20)})

    def test_drain_wait_waits_for_sessions(self):
        self.reported([50, 5, 30])
        seg = os.path.basename(self.seg.path)
        spec = "%s@%d" % (self.n[1].addr, self.n[1].port)
        # No answers for it any more, but its agent reports 5 sessions.
        p = subprocess.run([CTL, "drain", seg, spec, "--wait", "--timeout", "3"],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 9, p.stdout + p.stderr)
        self.assertIn("its agent reports 5 sessions", p.stderr)
        # The sessions end: the wait returns.
        w = subprocess.Popen([CTL, "drain", seg, spec, "--wait", "--timeout",
                              "20"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        self.addCleanup(lambda: w.poll() is None and w.kill())
        self.n[1].sessions = 0
        out, err = w.communicate(timeout=30)
        self.assertEqual(w.returncode, 0, out + err)
        self.assertIn("its agent reports 0 sessions", out)
        # A silent agent is not waited for.
        self.n[2].sessions = 7
        self.n[2].agent_words = None
        errors = self.seg.nodes()[2]["agent"]["errors"]
        wait_until(lambda: self.seg.nodes()[2]["agent"]["errors"] > errors, 5)
        spec2 = "%s@%d" % (self.n[2].addr, self.n[2].port)
        p = subprocess.run([CTL, "drain", seg, spec2, "--wait", "--timeout",
                            "20"], capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertNotIn("sessions", p.stdout)


class LeastLoadedWatermarks(LeastLoaded):

    items = {"load-high": 80, "load-low": 50, "grant-window": 0, "ttl": 1}

    def test_high_watermark_with_hysteresis(self):
        # Node 0 over 80 % of its capacity: left out while others are live.
        self.reported([90, 30, 30])
        self.assertNotIn(ADDRS[0], {self.first() for _ in range(10)})
        # 65 %: between the marks, still out, though it would lead by
        # load (the others at 70 %).
        self.reported([65, 70, 70])
        self.assertNotIn(ADDRS[0], {self.first() for _ in range(10)})
        # Below load-low: back, and first.
        self.reported([40, 70, 70])
        self.assertEqual(self.first(), ADDRS[0])
        # Every node over: they are answered as drained nodes, least
        # loaded first.
        self.reported([95, 99, 99])
        self.assertEqual(self.first(), ADDRS[0])
        zs = self.k.zone_stats()
        self.assertGreater(tgc.stat_sum(zs, "drain-only"), 0, zs)

class LeastLoadedSlowStart(LeastLoaded):

    items = {"slow-start": 600}

    def test_returning_node_ramps_up(self):
        self.reported([50, 50, 50])
        # Node 2 goes down and comes back empty.
        self.n[2].stop()
        wait_until(lambda: self.seg.health()[2] == "down", 5)
        self.reported([50, 50, 0])
        self.n[2].start()
        wait_until(lambda: self.seg.health()[2] == "up", 5)
        # Without the ramp it would take every answer until it held about
        # 50 grants; at the start of a 600 s ramp its capacity is 1/64, so
        # a couple of grants make it as loaded as the others.
        counts = collections.Counter(self.first() for _ in range(30))
        self.assertGreaterEqual(counts[ADDRS[2]], 1, counts)
        self.assertLessEqual(counts[ADDRS[2]], 4, counts)
        self.assertGreaterEqual(counts[ADDRS[0]] + counts[ADDRS[1]], 26, counts)


if __name__ == "__main__":
    unittest.main(verbosity=2)
