#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""The module behind knotd's XDP path (`xdp: listen`).

Two network namespaces made by the test and a veth pair between them:

    client  xc0  192.0.2.2, 198.51.100.2, 203.0.113.2 (three client subnets)
      |  veth
    server  xs0  192.0.2.1, 198.51.100.1, 203.0.113.1; knotd with
                 `xdp: listen: xs0@53` and the module

Queries go from the client namespace to 192.0.2.1@53. knotd's XDP program
takes UDP (and, with `xdp: tcp: on`, TCP) to port 53 on xs0 before the
kernel stack: the server namespace's kernel UDP and TCP counters show that
the XDP path answered. Checked: answers; `nat-client` and `sticky` see the
client's real address; an answer too large for UDP comes with TC over XDP
and whole over TCP, both with TCP in the kernel stack (`xdp: tcp: off`, the
default, and a socket listening on the address) and with TCP over XDP.

Needs root (namespaces, XDP: knotd needs CAP_NET_RAW, CAP_NET_ADMIN,
CAP_SYS_ADMIN and CAP_IPC_LOCK). The namespaces, and so the veth pair, are
deleted by the test, also when it fails.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e  # noqa: E402
from e2e import tgc, wait_until  # noqa: E402,F401

import dns.rcode  # noqa: E402

ZONE = "cluster.test"
APEX = ZONE + "."
SERVER = "192.0.2.1"
# Client addresses, one per /24 (the sticky key of a client without ECS).
CLIENTS = ["192.0.2.2", "198.51.100.2", "203.0.113.2"]
SERVER_ADDRS = ["192.0.2.1", "198.51.100.1", "203.0.113.1"]
# Node addresses are data only (check: none): never contacted.
NODES = ["10.10.10.%d" % i for i in range(100, 108)]


def kernel_counters(ns):
    """The namespace's kernel UDP InDatagrams and TCP PassiveOpens."""
    lines = ns.run("cat", "/proc/net/snmp").splitlines()
    out = {}
    for proto, field in (("Udp:", "InDatagrams"), ("Tcp:", "PassiveOpens")):
        rows = [l.split() for l in lines if l.startswith(proto)]
        out[proto + field] = int(rows[1][rows[0].index(field)])
    return out


class Xdp(e2e.E2eTestCase):

    def setUp(self):
        e2e.require_netns(self)
        self.srv = self.netns("xdp-srv")
        self.cli = self.netns("xdp-cli")
        # Made inside the namespaces: deleting them deletes the pair.
        e2e.veth(self.srv, "xs0", self.cli, "xc0")
        for a in SERVER_ADDRS:
            self.srv.ip("addr", "add", a + "/24", "dev", "xs0")
        for a in CLIENTS:
            self.cli.ip("addr", "add", a + "/24", "dev", "xc0")

    def xdp_knotd(self, conf, tcp=False, socket_listen=False):
        """knotd in the server namespace with the module for ZONE and XDP on
        xs0. \\a socket_listen adds a socket on SERVER@53 (for TCP in the
        kernel stack)."""
        xdp = "xdp:\n    listen: xs0@53\n    tcp: %s\n" % ("on" if tcp else "off")
        k = e2e.NsKnotd(self.srv, {ZONE: conf},
                        listen=[SERVER + "@53"] if socket_listen else [],
                        edits=[e2e.before("control", xdp)])
        self.addCleanup(k.cleanup)
        self.addCleanup(self._dump_log_on_failure, k)
        k.start()
        log = k.log_text()
        if "initialized XDP interface xs0" not in log:
            self.fail("knotd did not bind XDP on xs0:\n%s" % log[-2000:])
        self.assertIn("UDP/TCP port 53" if tcp else "UDP port 53", log)
        return k

    def ask(self, rdtype="A", source=CLIENTS[0], **kw):
        return self.cli.call(tgc.query, 53, APEX, rdtype, server=SERVER,
                             source=source, **kw)

    def test_answers_over_xdp(self):
        self.xdp_knotd({"node": NODES[:3] + ["2001:db8::1"], "check": "none",
                        "ttl": 9})
        before = kernel_counters(self.srv)
        a = self.ask("A")
        self.assertEqual(a.rcode, dns.rcode.NOERROR)
        self.assertTrue(a.aa)
        self.assertEqual(sorted(a.addrs), sorted(NODES[:3]))
        self.assertEqual(a.ttls, [9])
        aaaa = self.ask("AAAA")
        self.assertEqual(aaaa.addrs, ["2001:db8::1"])
        soa = self.ask("SOA")   # not the module's: from the zone, over XDP
        self.assertEqual(soa.types, [dns.rdatatype.SOA])
        after = kernel_counters(self.srv)
        # No socket listens on SERVER and the kernel saw no datagram: XDP
        # answered.
        self.assertEqual(after["Udp:InDatagrams"], before["Udp:InDatagrams"])

    def test_nat_client_sees_client_address(self):
        self.xdp_knotd({"node": NODES[:3], "check": "none",
                        "nat-base": "203.0.113.100",
                        "nat-client": "198.51.100.0/24"})
        lan = ["203.0.113.100", "203.0.113.101", "203.0.113.102"]
        self.assertEqual(sorted(self.ask(source="198.51.100.2").addrs), lan)
        self.assertEqual(sorted(self.ask(source="192.0.2.2").addrs), NODES[:3])
        self.assertEqual(sorted(self.ask(source="203.0.113.2").addrs), NODES[:3])

    def test_sticky_sees_client_address(self):
        k = self.xdp_knotd({"node": NODES, "check": "none",
                            "policy": "sticky", "answers": 1})
        seen = {}
        for c in CLIENTS:
            over_xdp = [self.ask(source=c).first for _ in range(4)]
            self.assertEqual(len(set(over_xdp)), 1, "sticky answer of %s moves: %s"
                             % (c, over_xdp))
            # The same client subnet given as ECS over the socket path (on
            # the server's loopback) picks the same node: the XDP path
            # handed the module the client's address.
            ecs = c.rsplit(".", 1)[0] + ".0/24"
            via_ecs = self.srv.call(tgc.query, k.port, APEX, "A", ecs=ecs).first
            self.assertEqual(over_xdp[0], via_ecs, "client %s" % c)
            seen[c] = via_ecs
        # The ECS answers differ between the subnets for these nodes (the
        # hash is fixed): had XDP passed no or one address, equality above
        # could not hold for all three.
        self.assertGreater(len(set(seen.values())), 1, seen)

    def truncated_then_tcp(self, k, tcp_over_xdp):
        before = kernel_counters(self.srv)
        small = self.ask(edns=False)
        self.assertTrue(small.tc, "no TC on a 512-byte UDP answer: %r" % small)
        self.assertEqual(small.addrs, [])
        full = self.ask(tcp=True, edns=False)
        self.assertFalse(full.tc)
        self.assertEqual(sorted(full.addrs), sorted(self.many))
        after = kernel_counters(self.srv)
        self.assertEqual(after["Udp:InDatagrams"], before["Udp:InDatagrams"],
                         "the UDP query went through the kernel stack")
        opens = after["Tcp:PassiveOpens"] - before["Tcp:PassiveOpens"]
        self.assertEqual(opens, 0 if tcp_over_xdp else 1)

    def test_truncated_falls_back_to_kernel_tcp(self):
        self.many = ["10.10.%d.%d" % (11 + i // 200, 1 + i % 200) for i in range(40)]
        k = self.xdp_knotd({"node": self.many, "check": "none"},
                           socket_listen=True)
        self.truncated_then_tcp(k, tcp_over_xdp=False)

    def test_truncated_falls_back_to_xdp_tcp(self):
        self.many = ["10.10.%d.%d" % (11 + i // 200, 1 + i % 200) for i in range(40)]
        k = self.xdp_knotd({"node": self.many, "check": "none"}, tcp=True)
        self.truncated_then_tcp(k, tcp_over_xdp=True)


if __name__ == "__main__":
    e2e.main()
