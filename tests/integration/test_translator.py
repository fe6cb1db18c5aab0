#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""NAT translator mode: a translator knotd forwards the cluster zone
to two load-balancer knotd instances (mod-tgcluster in LB mode) and rewrites
their answers with nat-map.

Covered: answers from the polled cache with the NAT mapping applied, a node
failure seen through the translator, failover when one LB dies, stale answers
and then SERVFAIL when both die, recovery when one comes back, the loss and
the recovery logged once each, on-demand forwarding of other names (NXDOMAIN
and NODATA passed through, TCP retry after TC), over TCP only by default
(an empty answer with TC over UDP) and over UDP too with forward-udp
forward, a fake upstream whose
wrong-ID and wrong-question replies do not poison the cache, a hostile
upstream whose out-of-zone records, foreign-SOA negative answers and TC
over TCP never reach a client, a TSIG-keyed
remote (valid key works, wrong key rejected), the global-module setup and the
conf-check rules of the upstream items.

Everything runs on loopback; every daemon and segment is removed by the
harness cleanups, also on failure.
"""

import os
import socket
import struct
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tgc  # noqa: E402
from tgc import query, wait_until  # noqa: E402

import dns.exception  # noqa: E402
import dns.flags  # noqa: E402
import dns.message  # noqa: E402
import dns.name  # noqa: E402
import dns.rcode  # noqa: E402
import dns.rdatatype  # noqa: E402
import dns.rrset  # noqa: E402

ZONE = "cluster.test"
APEX = ZONE + "."
NODE_IPS = ["127.0.1.1", "127.0.1.2"]
MAPPED = ["192.168.1.1", "192.168.1.2"]
NAT_MAP = "127.0.1.0/24=192.168.1.0/24"
INTERVAL, TIMEOUT, STALE = 200, 100, 3
# The LBs' zone: differs from the translator's own zone file, so that a
# forwarded answer is recognisable.
LB_RECORDS = [
    "@ NS ns",
    "ns A 127.0.1.53",
    "www A 127.0.1.50",
    "@ MX 10 mail",
    "mail A 127.0.1.25",
    '@ TXT "from the load balancer"',
]
TSIG_ALG = "hmac-sha256"
TSIG_SECRET = "Wp0m4pkCIJ1n4c1sbG5V5HGQ0O0yqZbI0C5q7K8yvbM="
TSIG_WRONG = "c2VjcmV0IHRoYXQgaXMgbm90IHRoZSBzYW1lIG9uZSE="


class Knotd(tgc.Knotd):
    """tgc.Knotd with text edits of the generated knot.conf: sections that
    must precede the module sections (key, remote), extra acl entries and
    zone lines, which the harness does not write itself."""

    def __init__(self, zones, edits=(), **kw):
        self.edits = list(edits)
        super().__init__(zones, **kw)

    def write_conf(self):
        super().write_conf()
        with open(self.conf) as f:
            text = f.read()
        for old, new in self.edits:
            if old not in text:
                raise AssertionError("conf edit anchor %r not found" % old)
            text = text.replace(old, new, 1)
        with open(self.conf, "w") as f:
            f.write(text)


def before(section, text):
    """An edit that inserts \\a text before the first \\a section header."""
    return ("\n%s:\n" % section, "\n%s\n%s:\n" % (text.rstrip("\n"), section))


def remotes_text(lbs, key=None):
    lines = ["remote:"]
    for i, lb in enumerate(lbs):
        lines += ["  - id: lb%d" % (i + 1),
                  "    address: 127.0.0.1@%d" % lb.port]
        if key:
            lines.append("    key: %s" % key)
    return "\n".join(lines) + "\n"


def key_text(name, secret):
    return ("key:\n  - id: %s\n    algorithm: %s\n    secret: %s\n"
            % (name, TSIG_ALG, secret))


def start_translator(k, timeout=10.0):
    """Starts a translator knotd. The harness's readiness check (a SOA
    query answered NOERROR) would be forwarded to the upstreams, which may be
    down or refuse us on purpose: wait for the control socket and TCP."""
    k.start(wait=False)

    def ready():
        if not k.alive():
            raise RuntimeError("knotd exited; log:\n%s" % k.log_text()[-3000:])
        return (tgc.tcp_connectable("127.0.0.1", k.port) and
                k.knotc("status")[0] == 0)
    wait_until(ready, timeout, interval=0.02, what="translator knotd ready")
    return k


def stats(k, zone=ZONE):
    return k.zone_stats(zone)


def assert_to_tcp(a, name, rdtype="A"):
    """\a a is the answer over UDP to a query for a forwarded name with
    forward-udp truncate: empty, TC set, the question only."""
    rdtype = dns.rdatatype.from_text(rdtype)
    if not (a.tc and a.rcode == dns.rcode.NOERROR and a.ancount == 0 and
            a.nscount == 0 and len(a.msg.additional) == 0 and
            [(q.name, q.rdtype) for q in a.msg.question] ==
            [(dns.name.from_text(name), rdtype)]):
        raise AssertionError("not an empty answer with TC for %s/%s: %r %s"
                             % (name, dns.rdatatype.to_text(rdtype), a,
                                a.msg.to_text()))


def forwarded(port, name, rdtype="A", truncate=True, **kw):
    """A forwarded name asked as a resolver asks it: over UDP, and when the
    answer is the empty one with TC (\a truncate: forward-udp truncate,
    checked), again over TCP. Returns the final answer."""
    a = query(port, name, rdtype, **kw)
    if not truncate:
        if a.tc and a.ancount == 0:
            raise AssertionError("TC over UDP with forward-udp forward: %r" % a)
        return a
    assert_to_tcp(a, name, rdtype)
    kw.pop("tries", None)
    return query(port, name, rdtype, tcp=True, **kw)


class FakeUpstream(threading.Thread):
    """A DNS server on 127.0.0.1 (UDP and TCP, one port) written with
    dnspython. For every UDP query it first sends a reply with a wrong ID and
    one with another question, both carrying POISON, then the real answer.
    Names starting with "big." get a truncated UDP reply and the real answer
    over TCP."""

    POISON = "6.6.6.6"
    REAL = "127.0.1.7"

    def __init__(self):
        super().__init__(name="fake-upstream", daemon=True)
        # A free UDP port may be taken for TCP (other tests run in
        # parallel): try again with another one.
        for attempt in range(50):
            self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self.udp.bind(("127.0.0.1", 0))
            self.port = self.udp.getsockname()[1]
            self.tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self.tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                self.tcp.bind(("127.0.0.1", self.port))
                break
            except OSError:
                self.tcp.close()
                self.udp.close()
                if attempt == 49:
                    raise
        self.tcp.listen(16)
        self.stopping = False
        self.udp_queries = 0
        self.tcp_queries = 0

    def answer(self, q, name=None, addr=None):
        r = dns.message.make_response(q)
        r.flags |= dns.flags.AA
        qname = name or q.question[0].name
        if q.question[0].rdtype == dns.rdatatype.A:
            r.answer.append(dns.rrset.from_text(qname, 5, "IN", "A",
                                                addr or self.REAL))
        return r

    def run(self):
        import selectors
        sel = selectors.DefaultSelector()
        sel.register(self.udp, selectors.EVENT_READ, "udp")
        sel.register(self.tcp, selectors.EVENT_READ, "tcp")
        while not self.stopping:
            for key, _ in sel.select(0.2):
                try:
                    if key.data == "udp":
                        self.serve_udp()
                    else:
                        self.serve_tcp()
                except (OSError, dns.exception.DNSException):
                    pass
        sel.close()

    def serve_udp(self):
        wire, peer = self.udp.recvfrom(65535)
        q = dns.message.from_wire(wire)
        self.udp_queries += 1
        qname = q.question[0].name
        if qname.labels[0] == b"big":
            r = dns.message.make_response(q)
            r.flags |= dns.flags.TC
            self.udp.sendto(r.to_wire(), peer)
            return
        bad_id = self.answer(q, addr=self.POISON)
        bad_id.id = (q.id + 1) & 0xffff
        self.udp.sendto(bad_id.to_wire(), peer)
        other = dns.message.make_query(dns.name.from_text("evil." + APEX),
                                       q.question[0].rdtype)
        other.id = q.id
        bad_q = dns.message.make_response(other)
        bad_q.answer.append(dns.rrset.from_text("evil." + APEX, 5, "IN", "A",
                                                self.POISON))
        self.udp.sendto(bad_q.to_wire(), peer)
        self.udp.sendto(self.answer(q).to_wire(), peer)

    def serve_tcp(self):
        conn, _ = self.tcp.accept()
        with conn:
            conn.settimeout(2)
            n = struct.unpack("!H", tgc._recv_exact(conn, 2))[0]
            q = dns.message.from_wire(tgc._recv_exact(conn, n))
            self.tcp_queries += 1
            out = self.answer(q).to_wire()
            conn.sendall(struct.pack("!H", len(out)) + out)

    def stop(self):
        self.stopping = True
        self.join(5)
        self.udp.close()
        self.tcp.close()


class HostileUpstream(FakeUpstream):
    """A semi-trusted upstream: its replies pass the ID, question and source
    checks, but carry records outside the zone (victim.example. in the
    additional and authority sections), negative answers with the SOA of
    com. (NXDOMAIN for "nope." names and for AAAA of the cluster name,
    NODATA for "nodata." names), and for "big." names TC over UDP and again
    over TCP with an empty answer."""

    VICTIM = "victim.example."

    def reply(self, q, tcp):
        qname = q.question[0].name
        rdtype = q.question[0].rdtype
        first = qname.labels[0]
        r = dns.message.make_response(q)
        r.flags |= dns.flags.AA
        if first == b"big":
            r.flags |= dns.flags.TC
            return r
        com_soa = dns.rrset.from_text(
            "com.", 900, "IN", "SOA",
            "a.gtld-servers.net. nstld.verisign-grs.com. 1 1800 900 604800 86400")
        if first == b"nope" or (qname == dns.name.from_text(APEX) and
                                rdtype == dns.rdatatype.AAAA):
            r.set_rcode(dns.rcode.NXDOMAIN)
            r.authority.append(com_soa)
            return r
        if first == b"nodata":
            r.authority.append(com_soa)
            return r
        if rdtype == dns.rdatatype.A:
            r.answer.append(dns.rrset.from_text(qname, 5, "IN", "A", self.REAL))
            r.authority.append(dns.rrset.from_text(
                self.VICTIM, 5, "IN", "NS", "ns." + self.VICTIM))
            r.additional.append(dns.rrset.from_text(
                self.VICTIM, 5, "IN", "A", self.POISON))
            r.additional.append(dns.rrset.from_text(
                "ns." + APEX, 5, "IN", "A", "127.0.1.53"))
        return r

    def serve_udp(self):
        wire, peer = self.udp.recvfrom(65535)
        q = dns.message.from_wire(wire)
        self.udp_queries += 1
        self.udp.sendto(self.reply(q, False).to_wire(), peer)

    def serve_tcp(self):
        conn, _ = self.tcp.accept()
        with conn:
            conn.settimeout(2)
            n = struct.unpack("!H", tgc._recv_exact(conn, 2))[0]
            q = dns.message.from_wire(tgc._recv_exact(conn, n))
            self.tcp_queries += 1
            out = self.reply(q, True).to_wire()
            conn.sendall(struct.pack("!H", len(out)) + out)


def names_in(answer):
    """Owner names of every record of an answer (all sections)."""
    return {rr.name.to_text().lower()
            for sec in (answer.msg.answer, answer.msg.authority,
                        answer.msg.additional) for rr in sec}


class Translator(tgc.TgcTestCase):

    # -- building blocks ----------------------------------------------------
    def lb(self, port=None, edits=(), zone_items=None):
        items = {"node": ["%s@%d" % (ip, self.node_port) for ip in NODE_IPS],
                 "check-interval": INTERVAL, "check-timeout": TIMEOUT,
                 "check-rise": 1, "check-fall": 1, "policy": "ordered"}
        items.update(zone_items or {})
        k = Knotd({ZONE: items}, port=port, records=LB_RECORDS, edits=edits,
                  name="lb")
        self.addCleanup(self._dump_log_on_failure, k)
        self.addCleanup(k.cleanup)
        return k.start()

    def translator(self, upstreams, key=None, items=None, extra_edits=(),
                   start=True, pre=""):
        conf = {"upstream": ["lb%d" % (i + 1) for i in range(len(upstreams))],
                "upstream-interval": INTERVAL, "upstream-timeout": TIMEOUT,
                "stale-limit": STALE, "nat-map": NAT_MAP}
        conf.update(items or {})
        text = pre + remotes_text(upstreams, key)
        k = Knotd({ZONE: conf}, edits=[before("module", text)] + list(extra_edits),
                  name="translator")
        self.addCleanup(self._dump_log_on_failure, k)
        self.addCleanup(k.cleanup)
        if start:
            start_translator(k)
        return k

    def setUp(self):
        self.sims = self.nodes([(ip, "tcp") for ip in NODE_IPS])
        # Both simulated nodes on one port (different loopback addresses).
        self.node_port = self.sims[0].port
        self.sims[1].stop()
        self.sims[1].port = self.node_port
        self.sims[1].start()

    def wait_addrs(self, k, want, timeout=5.0, rdtype="A"):
        return wait_until(lambda: query(k.port, APEX, rdtype).addrs == want,
                          timeout, interval=0.02,
                          what="translator answers %s" % (want,))

    # -- tests ------------------------------------------------------------
    def test_failover_stale_and_recovery(self):
        lb1, lb2 = self.lb(), self.lb()
        tr = self.translator([lb1, lb2])
        self.wait_addrs(tr, MAPPED)
        a = query(tr.port, APEX)
        self.assertTrue(a.aa)
        self.assertEqual(a.ttls, [5])
        self.assertEqual(query(tr.port, APEX, tcp=True).addrs, MAPPED)

        # A node failure at the LBs shows through the translator.
        self.sims[1].stop()
        self.wait_addrs(tr, MAPPED[:1], timeout=5)
        self.sims[1].start()
        self.wait_addrs(tr, MAPPED, timeout=5)

        # One LB dies: answers continue (failover to the other).
        mark = tr.log_mark()
        lb1.stop()
        self.assertStays(lambda: query(tr.port, APEX).addrs == MAPPED, 1.5,
                         what="answers while one LB is down")
        st = stats(tr)
        self.assertGreater(tgc.stat_sum(st, "failover"), 0, st)
        self.assertEqual(tgc.stat_sum(st, "stale"), 0, st)
        self.assertIn("upstream 127.0.0.1@%d up -> down" % lb1.port,
                      tr.log_since(mark))

        # Both die: the last answer, stale (short TTL), then SERVFAIL.
        lb2.stop()
        t0 = time.monotonic()
        wait_until(lambda: query(tr.port, APEX).ttls == [1], 3,
                   what="stale answer (TTL 1)")
        a = query(tr.port, APEX)
        self.assertEqual(a.addrs, MAPPED)
        self.assertGreater(tgc.stat_sum(stats(tr), "stale"), 0)
        wait_until(lambda: query(tr.port, APEX).rcode == dns.rcode.SERVFAIL,
                   STALE + 3, interval=0.05, what="SERVFAIL after stale-limit")
        waited = time.monotonic() - t0
        self.assertGreater(waited, STALE - 1.0)
        self.assertLess(waited, STALE + 2.0)
        self.assertGreater(tgc.stat_sum(stats(tr), "servfail"), 0)
        wait_until(lambda: "within stale-limit" in tr.log_since(mark), 1,
                   what="stale-limit expiry logged")

        # One comes back (same port): recovery.
        lb2.start()
        self.wait_addrs(tr, MAPPED, timeout=5)
        self.assertEqual(query(tr.port, APEX).ttls, [5])
        # The poll logs the recovery after it stored both answers (A, AAAA).
        wait_until(lambda: "upstream answers for %s again" % APEX in
                   tr.log_since(mark), 2, what="recovery logged")
        log = tr.log_since(mark)
        self.assertEqual(log.count("no upstream answers for"), 1, log)
        self.assertEqual(log.count("within stale-limit"), 1, log)
        self.assertEqual(log.count("upstream answers for %s again" % APEX), 1, log)
        st = stats(tr)
        self.assertGreater(tgc.stat_sum(st, "upstream-error"), 0, st)
        self.assertGreater(tgc.stat_sum(st, "mapped"), 0, st)

    def test_restart_after_kill_inside_cache_write(self):
        """knotd killed inside a cache write leaves the cache record's
        seqlock odd. The restarted translator closes it (its writer is gone)
        and answers at once from the kept cache: no SERVFAIL storm, no
        worker spinning."""
        lb1 = self.lb()
        tr = self.translator([lb1])
        self.wait_addrs(tr, MAPPED)
        seg = tr.shm()
        tr.proc.kill()
        tr.proc.wait(10)
        tr.stop()
        # What a crash between the start and the end of a cache write
        # leaves: both cache records (A, AAAA) odd.
        with open(seg.path, "r+b") as f:
            b = bytearray(f.read())
            cache_off = tgc.seg_get(b, "HDR", "cache_off")
            cache_rec_size = tgc.seg_get(b, "HDR", "cache_rec_size")
            for i in range(tgc.LAYOUT.CACHE_RECS):
                o = cache_off + i * cache_rec_size
                seq = tgc.seg_get(b, "CACHE", "seq", o)
                tgc.seg_put(b, "CACHE", "seq", seq | 1, o)
            f.seek(0)
            f.write(b)
        lb1.stop()          # no fresh poll can hide a stuck cached answer
        mark = tr.log_mark()
        t0 = time.monotonic()
        start_translator(tr)
        answers = []
        while time.monotonic() - t0 < 1.0:
            answers.append(query(tr.port, APEX, timeout=1.0))
        ok = [a for a in answers if a.rcode == dns.rcode.NOERROR and
              a.addrs == MAPPED]
        fails = [a for a in answers if a.rcode == dns.rcode.SERVFAIL]
        self.assertTrue(ok, "no answer from the kept cache within 1 s")
        self.assertEqual(fails, [], "SERVFAIL after the restart")
        self.assertRegex(tr.log_since(mark), r"closed 2 records? left open")
        self.assertEqual(tgc.stat_sum(stats(tr), "servfail"), 0)

    def test_other_names(self):
        # forward-udp truncate (the default): over UDP an empty answer with
        # TC, over TCP the forwarded one; forward: forwarded over UDP too.
        lb1 = self.lb()
        for mode in ("truncate", "forward"):
            with self.subTest(forward_udp=mode):
                items = {"forward-udp": mode} if mode == "forward" else {}
                tr = self.translator([lb1], items=items)
                self.other_names(tr, mode == "truncate")
                tr.stop()

        # Upstream gone: forwarded names fail within the bound.
        tr = self.translator([lb1])
        self.wait_addrs(tr, MAPPED)
        lb1.stop()
        t0 = time.monotonic()
        a = query(tr.port, "www." + APEX, tcp=True, timeout=3)
        self.assertEqual(a.rcode, dns.rcode.SERVFAIL)
        self.assertLess(time.monotonic() - t0, 1.5)

    def other_names(self, tr, truncate):
        self.wait_addrs(tr, MAPPED)
        to_tcp = tgc.stat_sum(stats(tr), "to-tcp")

        def fwd(name, rdtype="A"):
            return forwarded(tr.port, name, rdtype, truncate=truncate)

        # Another name: forwarded, rewritten, AA kept.
        a = fwd("www." + APEX)
        self.assertEqual(a.rcode, dns.rcode.NOERROR)
        self.assertEqual(a.addrs, ["192.168.1.50"])
        self.assertTrue(a.aa)
        self.assertEqual(query(tr.port, "www." + APEX, tcp=True).addrs,
                         ["192.168.1.50"])
        # NXDOMAIN stays NXDOMAIN, with the LB's SOA.
        a = fwd("nope." + APEX)
        self.assertEqual(a.rcode, dns.rcode.NXDOMAIN)
        self.assertEqual(a.authority_types, [dns.rdatatype.SOA])
        # Other types at the name: forwarded (additional data included).
        a = fwd(APEX, "MX")
        self.assertEqual(a.types, [dns.rdatatype.MX])
        self.assertIn("192.168.1.25",
                      [rd.address for rr in a.msg.additional
                       if rr.rdtype == dns.rdatatype.A for rd in rr])
        a = fwd(APEX, "TXT")
        self.assertIn("from the load balancer", a.msg.answer[0].to_text())
        # AAAA of the cluster name: NODATA from the cache, with the SOA,
        # over UDP in both modes.
        a = query(tr.port, APEX, "AAAA")
        self.assertEqual(a.rcode, dns.rcode.NOERROR)
        self.assertFalse(a.tc)
        self.assertEqual(a.addrs, [])
        self.assertEqual(a.authority_types, [dns.rdatatype.SOA])
        st = stats(tr)
        self.assertGreaterEqual(tgc.stat_sum(st, "forwarded"), 5, st)
        self.assertGreater(tgc.stat_sum(st, "cached"), 0, st)
        self.assertEqual(tgc.stat_sum(st, "to-tcp") - to_tcp,
                         4 if truncate else 0, st)

    def test_spoofed_replies_do_not_poison(self):
        fake = FakeUpstream()
        fake.start()
        self.addCleanup(fake.stop)
        tr = self.translator([fake])
        want = ["192.168.1.7"]  # 127.0.1.7 through nat-map
        self.wait_addrs(tr, want)
        self.assertStays(lambda: query(tr.port, APEX).addrs == want, 1.0,
                         what="only the real answer is served")
        a = forwarded(tr.port, "host." + APEX)
        self.assertEqual(a.addrs, want)
        st = stats(tr)
        self.assertGreater(tgc.stat_sum(st, "upstream-error", "invalid"), 0, st)
        # Truncated over UDP: asked again over TCP.
        a = forwarded(tr.port, "big." + APEX)
        self.assertEqual(a.addrs, want)
        self.assertGreater(fake.tcp_queries, 0)
        self.assertGreater(tgc.stat_sum(stats(tr), "tcp-retry"), 0)

    def test_hostile_upstream_confined(self):
        fake = HostileUpstream()
        fake.start()
        self.addCleanup(fake.stop)
        tr = self.translator([fake])
        want = ["192.168.1.7"]  # 127.0.1.7 through nat-map
        self.wait_addrs(tr, want)
        st0 = tgc.stat_sum(stats(tr), "upstream-error", "invalid")

        # Forwarded: the zone's records come through, victim.example.'s
        # do not (neither the additional A nor the authority NS).
        a = forwarded(tr.port, "www." + APEX)
        self.assertEqual((a.rcode, a.addrs), (dns.rcode.NOERROR, want))
        self.assertNotIn(HostileUpstream.VICTIM, names_in(a))
        self.assertNotIn("ns." + HostileUpstream.VICTIM, names_in(a))
        self.assertIn("ns." + APEX, names_in(a))
        self.assertNotIn(FakeUpstream.POISON, a.msg.to_text())
        for tcp in (False, True):
            a = query(tr.port, APEX, tcp=tcp)
            self.assertEqual(a.addrs, want)
            self.assertEqual(names_in(a), {APEX})

        # NXDOMAIN and NODATA with the SOA of com.: rejected (no other
        # upstream: SERVFAIL), never passed on or cached.
        # A worker rests for as long as a failed forward took, refusing
        # forwards ("busy") meanwhile: a refused query is asked again until
        # its forward was made and rejected.
        def invalid():
            return tgc.stat_sum(stats(tr), "upstream-error", "invalid")

        for name, rdtype in (("nope." + APEX, "A"), ("nodata." + APEX, "TXT"),
                             (APEX, "AAAA")):
            before = invalid()

            def rejected():
                a = query(tr.port, name, rdtype, tcp=True)
                self.assertEqual(a.rcode, dns.rcode.SERVFAIL, (name, rdtype, a))
                self.assertNotIn("com.", names_in(a))
                return invalid() > before

            wait_until(rejected, 5, interval=0.1,
                       what="%s %s rejected as invalid" % (name, rdtype))
        self.assertGreaterEqual(invalid() - st0, 3)
        # The poller rejects the AAAA answer at every poll: nothing cached.
        self.assertStays(lambda: query(tr.port, APEX, "AAAA").rcode ==
                         dns.rcode.SERVFAIL, 0.6,
                         what="no cached answer with a foreign SOA")

        # TC over UDP, then TC over TCP: an error, not an empty answer.
        a = forwarded(tr.port, "big." + APEX)
        self.assertEqual(a.rcode, dns.rcode.SERVFAIL)
        self.assertGreater(fake.tcp_queries, 0)
        self.assertGreater(tgc.stat_sum(stats(tr), "tcp-retry"), 0)

    def test_tsig(self):
        key = key_text("tgc-key", TSIG_SECRET)
        acl = ("acl:\n  - id: tgc-query\n    key: tgc-key\n"
               "    action: query\n")
        lb1 = self.lb(edits=[before("acl", key),
                             ("acl:\n", acl.replace("acl:\n", "acl:\n", 1), ),
                             ("    acl: xfr\n", "    acl: [ xfr, tgc-query ]\n")])
        good = self.translator([lb1], key="tgc-key", pre=key)
        self.wait_addrs(good, MAPPED)
        self.assertEqual(forwarded(good.port, "www." + APEX).addrs,
                         ["192.168.1.50"])
        self.assertEqual(tgc.stat_sum(stats(good), "upstream-error", "tsig"), 0)

        bad = self.translator([lb1], key="tgc-key",
                              pre=key_text("tgc-key", TSIG_WRONG))
        wait_until(lambda: tgc.stat_sum(stats(bad), "upstream-error", "tsig") > 0,
                   5, what="TSIG errors counted")
        self.assertEqual(query(bad.port, APEX).rcode, dns.rcode.SERVFAIL)
        self.assertEqual(forwarded(bad.port, "www." + APEX).rcode,
                         dns.rcode.SERVFAIL)
        # The good one is unaffected.
        self.assertEqual(query(good.port, APEX).addrs, MAPPED)

    def test_global_module(self):
        lb1 = self.lb()
        # A translator without the cluster zone: the instance is global and
        # the only zone is an unrelated one.
        conf = {"name": APEX, "upstream": ["lb1"],
                "upstream-interval": INTERVAL, "upstream-timeout": TIMEOUT,
                "stale-limit": STALE, "nat-map": NAT_MAP, "id": "tr"}
        k = Knotd({"other.test": conf},
                  edits=[before("module", remotes_text([lb1])),
                         ("    module: mod-tgcluster/tr\n", ""),
                         ("  - id: default\n",
                          "  - id: default\n    global-module: mod-tgcluster/tr\n")],
                  name="translator-global")
        self.addCleanup(self._dump_log_on_failure, k)
        self.addCleanup(k.cleanup)
        start_translator(k)
        self.wait_addrs(k, MAPPED)
        self.assertEqual(forwarded(k.port, "www." + APEX).addrs, ["192.168.1.50"])
        self.assertEqual(forwarded(k.port, "nope." + APEX).rcode,
                         dns.rcode.NXDOMAIN)
        # Names outside `name` are left to knotd (its own zone, or REFUSED).
        self.assertEqual(query(k.port, "www.other.test.").addrs, ["127.0.0.99"])
        self.assertEqual(query(k.port, "www.elsewhere.test.").rcode,
                         dns.rcode.REFUSED)
        rc, out = k.knotc("stats")
        self.assertEqual(rc, 0, out)
        self.assertIn("mod-tgcluster", out)

    def test_conf_check(self):
        lb1 = self.lb()
        cases = [
            ({"node": ["127.0.0.11"]}, "'node' and 'upstream' cannot be used together"),
            ({"nat-base": "192.168.1.100", "nat-map": None},
             "'nat-base' cannot be used with 'upstream'"),
            ({"upstream-interval": 500, "upstream-timeout": 500},
             "'upstream-timeout' must be below 'upstream-interval'"),
            ({"upstream": ["nosuch"]}, "invalid reference"),
        ]
        for items, msg in cases:
            with self.subTest(msg=msg):
                conf = {k: v for k, v in items.items() if v is not None}
                tr = self.translator([lb1], items=conf, start=False)
                for k_, v in items.items():
                    if v is None:
                        tr.zones[ZONE].pop(k_, None)
                tr.write_conf()
                rc, out = tr.conf_check()
                self.assertNotEqual(rc, 0, out)
                self.assertIn(msg, out)
        tr = self.translator([lb1], start=False)
        rc, out = tr.conf_check()
        self.assertEqual(rc, 0, out)


if __name__ == "__main__":
    tgc.main()
