#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Signed answers: a zone signed by knotd, the module's answers validated by
unbound with the zone's DNSKEY as trust anchor."""

import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tgc  # noqa: E402
from tgc import query, wait_until  # noqa: E402

import dns.flags  # noqa: E402
import dns.message  # noqa: E402
import dns.query  # noqa: E402
import dns.rcode  # noqa: E402
import dns.rdatatype  # noqa: E402

ZONE = "cluster.test"
APEX = ZONE + "."
UNBOUND = shutil.which("unbound", path="/usr/sbin:/usr/bin")


class Unbound:
    """unbound on loopback: validating, stub zone ZONE to knotd, trust
    anchor given as DNSKEY records."""

    def __init__(self, knot_port, anchors):
        self.dir = tempfile.mkdtemp(prefix="tgc-unbound-")
        self.port = tgc.free_port(("127.0.0.1",))
        self.proc = None
        conf = os.path.join(self.dir, "unbound.conf")
        with open(conf, "w") as f:
            f.write("""\
server:
    username: ""
    chroot: ""
    directory: "{d}"
    pidfile: "{d}/unbound.pid"
    use-syslog: no
    logfile: ""
    verbosity: 1
    num-threads: 1
    interface: 127.0.0.1@{port}
    do-ip6: no
    do-not-query-localhost: no
    module-config: "validator iterator"
    cache-min-ttl: 0
    cache-max-ttl: 0
    local-zone: "." refuse
    local-zone: "{zone}." transparent
{anchors}
remote-control:
    control-enable: no
stub-zone:
    name: "{zone}."
    stub-addr: 127.0.0.1@{kport}
""".format(d=self.dir, port=self.port, zone=ZONE, kport=knot_port,
           anchors="".join('    trust-anchor: "%s"\n' % a for a in anchors)))
        self.log = open(os.path.join(self.dir, "unbound.log"), "w")
        self.proc = subprocess.Popen([UNBOUND, "-d", "-c", conf],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        wait_until(lambda: tgc.tcp_connectable("127.0.0.1", self.port), 10,
                   what="unbound ready")

    def ask(self, name, rdtype):
        q = dns.message.make_query(name, rdtype, want_dnssec=True)
        return dns.query.udp(q, "127.0.0.1", port=self.port, timeout=5)

    def close(self):
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


class Dnssec(tgc.TgcTestCase):

    def setUp(self):
        if UNBOUND is None:
            self.skipTest("unbound not installed")
        self.v4 = self.nodes([("127.0.0.11", "tcp"), ("127.0.0.12", "tcp"),
                              ("127.0.0.13", "tcp")])

    def signed_lb(self):
        conf = {"node": [n.spec for n in self.v4],
                "check-interval": 200, "check-timeout": 100,
                "check-rise": 1, "check-fall": 1, "ttl": 7}
        k = self.knotd({ZONE: conf}, zone_conf=["dnssec-signing: on"])
        wait_until(lambda: query(k.port, APEX, "DNSKEY").ancount > 0, 20,
                   what="zone signed")
        # knotd 3.2 gives a module the keys that exist when it loads: on a
        # first start it makes them after that, and a reload hands them over.
        k.knotc("reload")
        wait_until(lambda: dns.rdatatype.RRSIG in self.do_types(k), 20,
                   what="module signs after reload")
        return k

    def do_types(self, k, rdtype="A"):
        q = dns.message.make_query(APEX, rdtype, want_dnssec=True)
        r = dns.query.udp(q, "127.0.0.1", port=k.port, timeout=5)
        return [rr.rdtype for rr in r.answer]

    def resolver(self, k):
        keys = query(k.port, APEX, "DNSKEY").msg.answer[0]
        anchors = ["%s DNSKEY %s" % (APEX, rd.to_text()) for rd in keys]
        u = Unbound(k.port, anchors)
        self.addCleanup(u.close)
        return u

    def validated(self, u, rdtype):
        r = u.ask(APEX, rdtype)
        return r if (r.rcode() == dns.rcode.NOERROR and
                     r.flags & dns.flags.AD) else None

    def test_answer_carries_rrsig(self):
        k = self.signed_lb()
        a = query(k.port, APEX, "A")   # no DO: no RRSIG
        self.assertEqual(a.types, [dns.rdatatype.A])
        q = dns.message.make_query(APEX, "A", want_dnssec=True)
        r = dns.query.udp(q, "127.0.0.1", port=k.port, timeout=5)
        types = [rr.rdtype for rr in r.answer]
        self.assertIn(dns.rdatatype.RRSIG, types)

    def test_live_answer_validates(self):
        k = self.signed_lb()
        u = self.resolver(k)
        r = self.validated(u, "A")
        self.assertIsNotNone(r, "A answer not validated: %s" % u.ask(APEX, "A"))
        addrs = sorted(rd.address for rr in r.answer
                       if rr.rdtype == dns.rdatatype.A for rd in rr)
        self.assertEqual(addrs, sorted(n.addr for n in self.v4))

    def test_answer_after_node_failure_validates(self):
        k = self.signed_lb()
        u = self.resolver(k)
        self.assertIsNotNone(self.validated(u, "A"))
        self.v4[0].stop()
        wait_until(lambda: k.shm().health()[0] == "down", 10,
                   what="node 0 down")
        r = self.validated(u, "A")
        self.assertIsNotNone(r, "A after failure not validated")
        addrs = sorted(rd.address for rr in r.answer
                       if rr.rdtype == dns.rdatatype.A for rd in rr)
        self.assertEqual(addrs, sorted(n.addr for n in self.v4[1:]))

    def test_nodata_aaaa_validates(self):
        k = self.signed_lb()
        u = self.resolver(k)
        r = self.validated(u, "AAAA")
        self.assertIsNotNone(r, "AAAA NODATA not validated: %s"
                             % u.ask(APEX, "AAAA"))
        self.assertEqual([rr for rr in r.answer
                          if rr.rdtype == dns.rdatatype.AAAA], [])

    def test_zsk_rollover_keeps_answers_validating(self):
        k = self.signed_lb()
        u = self.resolver(k)
        self.assertIsNotNone(self.validated(u, "A"))
        before = query(k.port, APEX, "DNSKEY").ancount
        k.knotc("zone-key-rollover", ZONE, "zsk")
        wait_until(lambda: query(k.port, APEX, "DNSKEY").ancount > before, 20,
                   what="new ZSK published")
        # The DNSKEY set changed: the module reloads its keyset and flushes
        # its cache, and its answers still validate.
        self.assertIsNotNone(self.validated(u, "A"),
                             "A not validated after ZSK publication")
        self.assertIsNotNone(self.validated(u, "AAAA"),
                             "AAAA NODATA not validated after ZSK publication")
        k.knotc("reload")
        wait_until(lambda: self.validated(u, "A") is not None, 20,
                   what="A validated after reload")

    def test_large_signed_answer_truncates_then_tcp(self):
        # 26 nodes (the A RRset fits 512 bytes, its RRSIG does not), not probed (check: none): answered as data only.
        conf = {"node": ["10.10.10.%d" % i for i in range(100, 126)],
                "check": "none", "ttl": 7}
        k = self.knotd({ZONE: conf}, zone_conf=["dnssec-signing: on"])
        wait_until(lambda: query(k.port, APEX, "DNSKEY").ancount > 0, 20,
                   what="zone signed")
        k.knotc("reload")
        q = dns.message.make_query(APEX, "A", want_dnssec=True, payload=4096)
        wait_until(lambda: dns.rdatatype.RRSIG in
                   [rr.rdtype for rr in dns.query.tcp(q, "127.0.0.1", port=k.port,
                                                       timeout=5).answer],
                   20, what="module signs after reload")
        small = dns.message.make_query(APEX, "A", want_dnssec=True, payload=512)
        r = dns.query.udp(small, "127.0.0.1", port=k.port, timeout=5,
                          ignore_trailing=True)
        self.assertTrue(r.flags & dns.flags.TC, "no TC on a 512-byte UDP answer")
        r = dns.query.tcp(small, "127.0.0.1", port=k.port, timeout=5)
        self.assertFalse(r.flags & dns.flags.TC)
        a = [rr for rr in r.answer if rr.rdtype == dns.rdatatype.A]
        self.assertEqual(len(a[0]), 26)
        self.assertIn(dns.rdatatype.RRSIG, [rr.rdtype for rr in r.answer])

    def test_first_start_answers_unsigned_until_reload(self):
        conf = {"node": [n.spec for n in self.v4], "ttl": 7}
        k = self.knotd({ZONE: conf}, zone_conf=["dnssec-signing: on"])
        wait_until(lambda: query(k.port, APEX, "DNSKEY").ancount > 0, 20,
                   what="zone signed")
        for _ in range(5):
            self.assertEqual(self.do_types(k), [dns.rdatatype.A])

        def warnings():
            with open(k.logfile) as f:
                return f.read().count("answers unsigned")
        wait_until(lambda: warnings() >= 1, 10, what="warning logged")
        self.assertEqual(warnings(), 1, "the keyset load is tried once per DNSKEY set")
        k.knotc("reload")
        wait_until(lambda: dns.rdatatype.RRSIG in self.do_types(k), 20,
                   what="signed after reload")


if __name__ == "__main__":
    tgc.main()
