#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Signed answers: a zone signed by knotd, the module's answers validated by
unbound with the zone's DNSKEY as trust anchor."""

import os
import shutil
import sys

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
# A policy whose ZSK rollover runs in seconds (knotd waits DNSKEY TTL +
# propagation delay to switch, zone max TTL + propagation delay to remove).
FAST_POLICY = """\
policy:
  - id: fast
    dnskey-ttl: 2
    zone-max-ttl: 2
    propagation-delay: 0
"""


class Unbound(tgc.Unbound):
    """The harness's unbound, validating, stub zone ZONE to knotd, trust
    anchor given as DNSKEY records."""

    def __init__(self, knot_port, anchors, cache=False):
        # With the cache: denials are used for other names and types too
        # (RFC 8198, unbound's default since 1.15; set explicitly).
        extra = ("    cache-min-ttl: 0\n" +
                 ("    aggressive-nsec: yes\n" if cache else
                  "    cache-max-ttl: 0\n") +
                 "".join('    trust-anchor: "%s"\n' % a for a in anchors))
        super().__init__(ZONE, knot_port, extra=extra, validate=True)

    def ask(self, name, rdtype):
        q = dns.message.make_query(name, rdtype, want_dnssec=True)
        return dns.query.udp(q, "127.0.0.1", port=self.port, timeout=5)


class Dnssec(tgc.TgcTestCase):

    def setUp(self):
        if UNBOUND is None:
            self.fail("unbound not installed (scripts/deps.sh: unbound)")
        self.v4 = self.nodes([("127.0.0.11", "tcp"), ("127.0.0.12", "tcp"),
                              ("127.0.0.13", "tcp")])

    def signed_lb(self, name=None, records=None, zone_conf=(), policy=None, ttl=7):
        conf = {"node": [n.spec for n in self.v4],
                "check-interval": 200, "check-timeout": 100,
                "check-rise": 1, "check-fall": 1, "ttl": ttl}
        if name:
            conf["name"] = name
        k = self.knotd({ZONE: conf}, records=records, start=False,
                       zone_conf=["dnssec-signing: on"] + list(zone_conf))
        if policy:
            # A policy is referenced by the zone: it goes before the zones.
            with open(k.conf) as f:
                text = f.read()
            with open(k.conf, "w") as f:
                f.write(text.replace("template:\n", policy + "\ntemplate:\n", 1))
        k.start()
        wait_until(lambda: query(k.port, APEX, "DNSKEY").ancount > 0, 20,
                   what="zone signed")
        # knotd 3.2 gives a module the keys that exist when it loads: on a
        # first start it makes them after that, and a reload hands them over.
        k.knotc("reload")
        wait_until(lambda: dns.rdatatype.RRSIG in self.do_types(k, name=name), 20,
                   what="module signs after reload")
        return k

    def do_types(self, k, rdtype="A", name=None):
        q = dns.message.make_query(name or APEX, rdtype, want_dnssec=True)
        r = dns.query.udp(q, "127.0.0.1", port=k.port, timeout=5)
        return [rr.rdtype for rr in r.answer]

    def resolver(self, k, cache=False):
        keys = query(k.port, APEX, "DNSKEY").msg.answer[0]
        anchors = ["%s DNSKEY %s" % (APEX, rd.to_text()) for rd in keys]
        u = Unbound(k.port, anchors, cache=cache)
        self.addCleanup(u.close)
        return u

    def validated(self, u, rdtype, name=APEX):
        r = u.ask(name, rdtype)
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

    def test_apex_without_placeholder_is_logged(self):
        k = self.signed_lb()
        wait_until(lambda: "the signed zone has no A record at the apex"
                   in k.log_text(), 10, what="warning logged")

    def test_placeholder_keeps_answers_after_cached_denial(self):
        # The zone has a placeholder A at the apex: its NSEC lists A, and a
        # resolver holding that NSEC (from the AAAA NODATA) still asks for
        # A when the module's answer expires, instead of denying it.
        k = self.signed_lb(records=tgc.DEFAULT_RECORDS + ["@ A 192.0.2.1"], ttl=1)
        u = self.resolver(k, cache=True)
        self.assertIsNotNone(self.validated(u, "AAAA"), "AAAA NODATA not validated")
        first = self.validated(u, "A")
        self.assertIsNotNone(first, "A not validated")
        answered = sum(n["answers"] for n in k.shm().nodes())

        def refetched():
            r = self.validated(u, "A")
            addrs = sorted(rd.address for rr in (r.answer if r else [])
                           if rr.rdtype == dns.rdatatype.A for rd in rr)
            self.assertEqual(addrs, sorted(n.addr for n in self.v4),
                             "A from the resolver's cache: %s" % u.ask(APEX, "A"))
            return sum(n["answers"] for n in k.shm().nodes()) > answered
        # Until the resolver asked knotd again (its cached A expired), every
        # answer carries the nodes.
        wait_until(refetched, 20, what="resolver refetched A")
        self.assertNotIn("has no A record at the apex", k.log_text())

    def test_nsec3_nodata_validates(self):
        k = self.signed_lb(zone_conf=["dnssec-policy: n3"],
                           policy="policy:\n  - id: n3\n    nsec3: on\n")
        u = self.resolver(k)
        self.assertIsNotNone(self.validated(u, "A"))
        r = self.validated(u, "AAAA")
        self.assertIsNotNone(r, "AAAA NODATA (NSEC3) not validated: %s"
                             % u.ask(APEX, "AAAA"))
        self.assertEqual([rr for rr in r.answer
                          if rr.rdtype == dns.rdatatype.AAAA], [])
        q = dns.message.make_query(APEX, "AAAA", want_dnssec=True)
        d = dns.query.udp(q, "127.0.0.1", port=k.port, timeout=5)
        self.assertIn(dns.rdatatype.NSEC3, [rr.rdtype for rr in d.authority])

    def test_name_below_apex_validates(self):
        name = "lb." + APEX
        # A placeholder of the cluster's only family: the zone's NSEC for
        # the name lists A, not AAAA.
        records = tgc.DEFAULT_RECORDS + ["lb A 192.0.2.1"]
        k = self.signed_lb(name=name, records=records)
        self.assertIn("is below the apex of a signed zone", k.log_text())
        u = self.resolver(k)
        r = self.validated(u, "A", name)
        self.assertIsNotNone(r, "A below the apex not validated: %s"
                             % u.ask(name, "A"))
        addrs = sorted(rd.address for rr in r.answer
                       if rr.rdtype == dns.rdatatype.A for rd in rr)
        self.assertEqual(addrs, sorted(n.addr for n in self.v4))
        r = self.validated(u, "AAAA", name)
        self.assertIsNotNone(r, "AAAA NODATA below the apex not validated: %s"
                             % u.ask(name, "AAAA"))
        self.assertEqual([rr for rr in r.answer
                          if rr.rdtype == dns.rdatatype.AAAA], [])
        self.assertNotIn("is answered from the zone", k.log_text())

    def test_name_below_apex_without_record_is_logged(self):
        name = "gone." + APEX
        k = self.signed_lb(name=name)
        q = dns.message.make_query(name, "AAAA", want_dnssec=True)
        r = dns.query.udp(q, "127.0.0.1", port=k.port, timeout=5)
        self.assertEqual(r.rcode(), dns.rcode.NXDOMAIN)
        wait_until(lambda: "a NODATA for AAAA is answered from the zone, which "
                   "has no record" in k.log_text(), 10, what="warning logged")

    def test_onlinesign_beside_is_refused(self):
        conf = {"node": [n.spec for n in self.v4], "ttl": 7}
        k = self.knotd({ZONE: conf}, zone_conf=["module: mod-onlinesign"])
        wait_until(lambda: "mod-tgcluster and mod-onlinesign cannot serve one "
                   "zone" in k.log_text(), 10, what="refusal logged")
        # The zone is served without the module: A at the apex comes from
        # the zone (it has none), never the cluster's nodes unsigned.
        self.assertEqual(query(k.port, APEX, "A").addrs, [])

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

    def test_zsk_rollover_old_key_removed(self):
        # Short timings: the whole ZSK rollover (publish, switch, remove)
        # takes seconds. Each change of the DNSKEY set needs a reload.
        k = self.signed_lb(zone_conf=["dnssec-policy: fast"], policy=FAST_POLICY)
        u = self.resolver(k)
        self.assertIsNotNone(self.validated(u, "A"))

        def keys():
            return {rd.to_text() for rd in query(k.port, APEX, "DNSKEY").msg.answer[0]}
        before = keys()
        k.knotc("zone-key-rollover", ZONE, "zsk")
        wait_until(lambda: len(keys() - before) == 1, 30, what="new ZSK published")
        new = keys() - before
        # The documented step: a reload hands the module the new key.
        k.knotc("reload")
        wait_until(lambda: keys() == (before | new) - {
            rd for rd in before if rd.startswith("256 ")}, 60,
            what="old ZSK removed")
        # knotd 3.2 gives a module the key list once per load: the new
        # instance knows both keys, signs with the old one (still published)
        # until it goes, and cannot load that list once the old key's
        # private key is deleted. It answers unsigned and says so...
        # (The module notices the new DNSKEY set at the next DO query.)
        wait_until(lambda: self.do_types(k) == [dns.rdatatype.A] and
                   "run 'knotc reload' to use the keys" in k.log_text(), 20,
                   what="warning after the removal")
        self.assertEqual(self.do_types(k), [dns.rdatatype.A])
        # ...and the documented second reload restores validating answers.
        k.knotc("reload")
        wait_until(lambda: self.validated(u, "A") is not None, 20,
                   what="A validated after the second reload")
        self.assertIsNotNone(self.validated(u, "AAAA"),
                             "AAAA NODATA not validated after the second reload")

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
