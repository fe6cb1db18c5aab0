#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""The reference agent contrib/agent/tgcluster-agent: reports the
established sessions to its port, maxconn from its configuration, and drain
while its drain file exists, in one line the module's agent check reads."""

import os
import socket
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tgc  # noqa: E402

AGENT = os.path.join(tgc.REPO, "contrib", "agent", "tgcluster-agent")


class ContribAgent(unittest.TestCase):

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)
        self.srv = socket.socket()
        self.addCleanup(self.srv.close)
        self.srv.bind(("127.0.0.1", 0))
        self.srv.listen(64)
        self.port = self.srv.getsockname()[1]
        self.drain = os.path.join(self.tmp.name, "drain")
        self.conf = os.path.join(self.tmp.name, "agent.conf")
        self.write_conf(40)
        self.socks = []
        self.addCleanup(lambda: [s.close() for s in self.socks])

    def write_conf(self, maxconn):
        with open(self.conf, "w") as f:
            f.write("PORT=%d\nMAXCONN=%d\nDRAIN_FILE=%s\n"
                    % (self.port, maxconn, self.drain))

    def run_agent(self):
        p = subprocess.run(["sh", AGENT], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, timeout=30,
                           env=dict(os.environ, TGC_AGENT_CONF=self.conf))
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertTrue(p.stdout.endswith("\n"), p.stdout)
        self.assertEqual(p.stdout.count("\n"), 1, p.stdout)
        return p.stdout

    def open_sessions(self, n):
        for _ in range(n):
            c = socket.create_connection(("127.0.0.1", self.port), 5)
            s, _ = self.srv.accept()
            self.socks += [c, s]

    def test_sessions_maxconn_drain(self):
        self.assertEqual(self.run_agent(), "ready maxconn:40 sessions:0\n")
        self.open_sessions(3)
        self.assertEqual(self.run_agent(), "ready maxconn:40 sessions:3\n")
        # Closing sessions lowers the count (server side closes: the
        # socket leaves ESTABLISHED at once).
        for s in self.socks[:2]:
            s.close()
        self.socks = self.socks[2:]
        self.assertEqual(self.run_agent(), "ready maxconn:40 sessions:2\n")
        open(self.drain, "w").close()
        self.assertEqual(self.run_agent(), "drain maxconn:40 sessions:2\n")
        os.unlink(self.drain)
        self.write_conf(0)
        self.assertEqual(self.run_agent(), "ready sessions:2\n")

    def test_ipv6_sessions_counted(self):
        try:
            srv6 = socket.socket(socket.AF_INET6)
            srv6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            srv6.bind(("::1", self.port))
        except OSError as e:
            self.fail("cannot listen on [::1]:%d: %s" % (self.port, e))
        self.addCleanup(srv6.close)
        srv6.listen(8)
        c = socket.create_connection(("::1", self.port), 5)
        s, _ = srv6.accept()
        self.socks += [c, s]
        self.open_sessions(1)
        self.assertEqual(self.run_agent(), "ready maxconn:40 sessions:2\n")

    def test_bad_port_reports_down(self):
        with open(self.conf, "w") as f:
            f.write("PORT=59x0\n")
        self.assertEqual(self.run_agent(), "down\n")


if __name__ == "__main__":
    unittest.main(verbosity=2)
