#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""The agent check (agent-port): each node's agent is polled for one line;
what it reports is stored in the shared table and shown by tgclusterctl;
drain, down and maint from the agent steer the answers; an agent that does
not answer leaves the node to its health check and is counted."""

import json
import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tgc  # noqa: E402
from tgc import query, wait_until  # noqa: E402

CTL = os.path.abspath(os.environ.get(
    "TGC_CTL", os.path.join(tgc.REPO, "build", "tgclusterctl")))

ZONE = "cluster.test"
APEX = ZONE + "."
ADDRS = ["127.0.0.11", "127.0.0.12", "127.0.0.13"]


class LbAgent(tgc.TgcTestCase):

    def setUp(self):
        self.n = self.nodes([(a, "tcp") for a in ADDRS])
        # The agents: one per node address, all on the same port.
        group = tgc.NodeGroup()
        self.addCleanup(group.close)
        first = group.add(ADDRS[0], 0, "agent")
        self.agents = [first] + [group.add(a, first.port, "agent")
                                 for a in ADDRS[1:]]
        self.k = self.knotd({ZONE: {
            "node": [x.spec for x in self.n], "policy": "ordered",
            "check-interval": 200, "check-timeout": 100,
            "check-rise": 2, "check-fall": 2,
            "agent-port": first.port, "node-weight": [ADDRS[0] + "=3"]}})
        self.seg = self.k.shm()
        wait_until(lambda: self.seg.health() == ["up"] * 3, 5,
                   what="all nodes confirmed up")

    def answers(self):
        return query(self.k.port, APEX).addrs

    def agent(self, i):
        return self.seg.nodes()[i]["agent"]

    def say(self, i, line):
        self.agents[i].agent_line = line

    def test_report_stored_and_shown(self):
        self.say(0, b"READY 50%, maxconn:40\tsessions:12\r\n")
        self.say(1, b"up sessions:3")  # closed without a newline
        wait_until(lambda: self.agent(0)["sessions"] == 12 and
                   self.agent(1)["sessions"] == 3, 5,
                   what="agent reports in the table")
        a = self.agent(0)
        self.assertEqual((a["maxconn"], a["pct"], a["state"]), (40, 50, 0))
        want = (tgc.AGENT_F_POLLED | tgc.AGENT_F_ANSWERED |
                tgc.AGENT_F_SESSIONS | tgc.AGENT_F_MAXCONN | tgc.AGENT_F_PCT |
                tgc.AGENT_F_CAPACITY)
        self.assertEqual(a["flags"], want)
        p = subprocess.run([CTL, "status", os.path.basename(self.seg.path),
                            "--json"], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        node = json.loads(p.stdout)["nodes"][0]
        self.assertEqual(node["agent"]["sessions"], 12)
        self.assertEqual(node["agent"]["maxconn"], 40)
        self.assertEqual(node["agent"]["weight_pct"], 50)
        self.assertEqual(node["agent"]["drain"], False)
        self.assertEqual(node["agent"]["answered"], True)
        # Capacity = weight 3 x 50 % x maxconn 40; load = 12 / 60.
        self.assertEqual((node["weight"], node["capacity"], node["load_pct"]),
                         (3, 60.0, 20.0))
        self.assertEqual((a["weight"], a["capacity_x100"]), (3, 6000))
        # Node 1: weight 1, nothing but sessions reported: capacity 1.
        node1 = json.loads(p.stdout)["nodes"][1]
        self.assertEqual((node1["weight"], node1["capacity"], node1["load_pct"]),
                         (1, 1.0, 300.0))
        self.assertEqual(self.answers(), ADDRS)
        p = subprocess.run([CTL, "status", os.path.basename(self.seg.path)],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("AGENT", p.stdout)
        row = [line for line in p.stdout.splitlines()
               if line.split()[:2] == ["0", ADDRS[0]]]
        self.assertEqual(len(row), 1, p.stdout)
        self.assertIn(" ready 12/40 ", row[0])
        cells = row[0].split()
        self.assertEqual(cells[cells.index("12/40") + 1:cells.index("12/40") + 3],
                         ["60", "20.0%"], row[0])
        p = subprocess.run([CTL, "metrics"], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        seg = os.path.basename(self.seg.path)
        samples = {}
        for line in p.stdout.splitlines():
            if line.startswith("tgcluster_node_") and 'segment="%s"' % seg in line \
                    and 'address="%s"' % ADDRS[0] in line:
                name, value = line.split("{")[0], line.rsplit(" ", 1)[1]
                samples[name] = value
        self.assertEqual(samples.get("tgcluster_node_weight"), "3", p.stdout)
        self.assertEqual(samples.get("tgcluster_node_capacity"), "60.00")
        self.assertEqual(samples.get("tgcluster_node_load_ratio"), "0.200000")
        self.assertEqual(samples.get("tgcluster_node_agent_sessions"), "12")

    def test_drain_from_agent(self):
        self.say(0, b"drain sessions:5\n")
        wait_until(lambda: self.answers() == ADDRS[1:], 5,
                   what="agent-drained node left out")
        # A line without a state word keeps the drain.
        self.say(0, b"sessions:6\n")
        wait_until(lambda: self.agent(0)["sessions"] == 6, 5)
        self.assertEqual(self.answers(), ADDRS[1:])
        # Drained nodes are still answered when no other node is live.
        self.n[1].stop()
        self.n[2].stop()
        wait_until(lambda: self.answers() == ADDRS[:1], 5,
                   what="only the drained node answered")
        self.n[1].start()
        self.n[2].start()
        self.say(0, b"ready\n")
        wait_until(lambda: self.answers() == ADDRS, 5,
                   what="ready clears the drain")

    def test_down_and_maint_from_agent(self):
        mark = self.k.log_mark()
        self.say(1, b"down\n")
        wait_until(lambda: self.answers() == [ADDRS[0], ADDRS[2]], 5,
                   what="agent-down node left out")
        self.assertEqual(self.seg.health()[1], "up",
                         "the health check still sees the node up")
        self.assertIn("agent port", self.k.log_since(mark))
        self.say(1, b"maint\n")
        wait_until(lambda: self.agent(1)["state"] ==
                   tgc.AGENT_DOWN | tgc.AGENT_MAINT, 5)
        # All others dead: all-down "all" answers every node but maint,
        # like admin down.
        self.n[0].stop()
        self.n[2].stop()
        wait_until(lambda: self.seg.health() == ["down", "up", "down"], 5)
        self.assertEqual(self.answers(), [ADDRS[0], ADDRS[2]])
        self.say(1, b"up\n")
        wait_until(lambda: self.answers() == [ADDRS[1]], 5,
                   what="up clears down and maint")

    def test_silent_agent_leaves_the_health_check(self):
        self.say(2, b"drain\n")
        wait_until(lambda: self.answers() == ADDRS[:2], 5)
        before = tgc.stat_sum(self.k.zone_stats(), "agent-error")
        mark = self.k.log_mark()
        # A hung agent: every poll times out; its state becomes unknown
        # (the drain is cleared), errors are counted, the node answered.
        self.say(2, None)
        wait_until(lambda: self.answers() == ADDRS, 5,
                   what="silent agent's drain cleared")
        wait_until(lambda: self.agent(2)["errors"] >= 2, 5)
        self.assertEqual(self.agent(2)["flags"] & tgc.AGENT_F_ANSWERED, 0)
        wait_until(lambda: tgc.stat_sum(self.k.zone_stats(), "agent-error")
                   >= before + 2, 5, what="agent errors in zone-stats")
        # Logged once, not once per poll.
        wait_until(lambda: self.agent(2)["errors"] >= 4, 5)
        log = self.k.log_since(mark)
        self.assertEqual(log.count("agent state unknown"), 1, log)
        # A stopped agent (connection refused) and hostile lines: same.
        self.agents[2].stop()
        n = self.agent(2)["errors"]
        wait_until(lambda: self.agent(2)["errors"] >= n + 2, 5)
        self.assertEqual(self.seg.health()[2], "up")
        self.agents[2].start()
        for bad in (b"x" * 300 + b"\n", b"drain\x00\n", b""):
            self.say(2, bad)
            n = self.agent(2)["errors"]
            wait_until(lambda: self.agent(2)["errors"] >= n + 2, 5,
                       what="error for %r" % bad[:20])
            self.assertEqual(self.answers(), ADDRS)

    def test_unknown_words_logged_once(self):
        mark = self.k.log_mark()
        self.say(0, b"stopped sessions:4 weird:1\n")
        wait_until(lambda: self.agent(0)["sessions"] == 4, 5)
        errors = self.agent(0)["errors"]
        # Several more polls.
        probes = self.seg.nodes()[0]["probes"]
        wait_until(lambda: self.seg.nodes()[0]["probes"] >= probes + 3, 5)
        log = self.k.log_since(mark)
        self.assertEqual(log.count("unknown word"), 1, log)
        self.assertIn("'stopped'", log)
        self.assertEqual(self.agent(0)["errors"], errors,
                         "unknown words are not errors")
        self.assertEqual(self.answers(), ADDRS)


if __name__ == "__main__":
    unittest.main(verbosity=2)
