#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Queries the module must not answer on its own, and forwarding that must
not starve the translator's cache.

Covered: a flood of random names while the upstreams are silent (gone) or
drop only those names, with the cluster name still answered from the cache
at its normal pace, and over UDP never behind a forward (forward-udp
truncate: forwarded names get an empty answer with TC over UDP and are
forwarded over TCP; forward-udp forward keeps forwarding over UDP); the
forward-limit bound on forwards in flight and its default from the workers
that forward; the memory of a name whose forward failed; TSIG on queries to a translator (unknown key,
wrong signature, valid key, key not allowed by the zone ACL) checked by
knotd's rules, compared with knotd's own answers, and left to knotd by a
global translator; a zone that is not loaded
(zone file missing or broken) answered with knotd's own SERVFAIL by
load-balancer and translator instances, compared with a plain zone.

Everything runs on loopback; every daemon and segment is removed by the
harness cleanups, also on failure.
"""

import os
import queue
import socket
import struct
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tgc  # noqa: E402
from tgc import query, wait_until  # noqa: E402
from test_translator import (Knotd, before, key_text, remotes_text,  # noqa: E402
                             start_translator, TSIG_ALG, TSIG_SECRET,
                             TSIG_WRONG, LB_RECORDS)

import dns.exception  # noqa: E402
import dns.flags  # noqa: E402
import dns.message  # noqa: E402
import dns.name  # noqa: E402
import dns.query  # noqa: E402
import dns.rcode  # noqa: E402
import dns.rdatatype  # noqa: E402
import dns.rrset  # noqa: E402
import dns.tsig  # noqa: E402

ZONE = "cluster.test"
APEX = ZONE + "."
NODE_IPS = ["127.0.1.1", "127.0.1.2"]
MAPPED = ["192.168.1.1", "192.168.1.2"]
NAT_MAP = "127.0.1.0/24=192.168.1.0/24"
INTERVAL, TIMEOUT = 200, 100
# One forward to two silent upstreams lasts 2 x TIMEOUT.
FORWARD_S = 2 * TIMEOUT / 1000.0
# A long upstream-timeout: a forward to two silent upstreams lasts 3 s (the
# bound of all tries), a probe stuck behind it would wait up to that.
LONG_INTERVAL, LONG_TIMEOUT = 3000, 2000
LONG_FORWARD_S = 3.0


class Upstream(threading.Thread):
    """A UDP DNS server on 127.0.0.1 standing in for a load balancer: A of
    the cluster name is REAL, every other question NXDOMAIN. \\a silent drops
    every query (the LB is gone, no ICMP); \\a drop_junk drops the questions
    whose first label starts with "rnd-". Counts the queries per name."""

    REAL = "127.0.1.7"

    def __init__(self):
        super().__init__(name="upstream", daemon=True)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.silent = False
        self.drop_junk = False
        self.stopping = False
        self.lock = threading.Lock()
        self.seen = {}

    def count(self, name):
        with self.lock:
            return self.seen.get(name.lower(), 0)

    def junk_names(self):
        with self.lock:
            return {n for n in self.seen if n.startswith("rnd-")}

    def run(self):
        while not self.stopping:
            try:
                wire, peer = self.sock.recvfrom(65535)
                q = dns.message.from_wire(wire)
            except socket.timeout:
                continue
            except (OSError, dns.exception.DNSException):
                continue
            qname = q.question[0].name
            text = qname.to_text().lower()
            with self.lock:
                self.seen[text] = self.seen.get(text, 0) + 1
            if self.silent or (self.drop_junk and text.startswith("rnd-")):
                continue
            r = dns.message.make_response(q)
            r.flags |= dns.flags.AA
            if qname == dns.name.from_text(APEX) and \
                    q.question[0].rdtype == dns.rdatatype.A:
                r.answer.append(dns.rrset.from_text(qname, 5, "IN", "A",
                                                    self.REAL))
            elif qname != dns.name.from_text(APEX):
                r.set_rcode(dns.rcode.NXDOMAIN)
            r.authority.append(dns.rrset.from_text(
                APEX, 5, "IN", "SOA", "ns.%s hm.%s 1 3600 900 604800 5"
                % (APEX, APEX)))
            try:
                self.sock.sendto(r.to_wire(), peer)
            except OSError:
                pass

    def stop(self):
        self.stopping = True
        self.join(5)
        self.sock.close()


class Flood(threading.Thread):
    """Sends queries for random names under the zone at \a rate per second
    from one UDP socket, without waiting for the answers (they are read and
    dropped). With \a tcp_retries > 0, an answer with TC is followed by the
    same query over TCP, as a resolver does, by that many threads (a retry
    is dropped while all of them are busy); the TCP answers are counted by
    RCODE in \a tcp_rcodes."""

    def __init__(self, port, rate, tcp_retries=0):
        super().__init__(name="flood", daemon=True)
        self.port, self.rate = port, rate
        self.stopping = False
        self.sent = 0
        self.truncated = 0
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setblocking(False)
        self.retry_q = queue.Queue(maxsize=max(1, tcp_retries))
        self.lock = threading.Lock()
        self.tcp_rcodes = {}
        self.retriers = [threading.Thread(target=self.retry, daemon=True,
                                          name="flood-tcp-%d" % i)
                         for i in range(tcp_retries)]

    def retry(self):
        while True:
            name = self.retry_q.get()
            if name is None:
                return
            try:
                rcode = query(self.port, name, "A", tcp=True, timeout=5).rcode
            except (OSError, TimeoutError, dns.exception.DNSException):
                rcode = "none"
            with self.lock:
                self.tcp_rcodes[rcode] = self.tcp_rcodes.get(rcode, 0) + 1

    def read(self):
        try:
            while True:
                wire = self.sock.recv(65535)
                if self.retriers and len(wire) > 12 and wire[2] & 0x02:
                    self.truncated += 1
                    name = dns.message.from_wire(wire).question[0].name
                    try:
                        self.retry_q.put_nowait(name.to_text())
                    except queue.Full:
                        pass
        except (OSError, dns.exception.DNSException, IndexError):
            pass

    def run(self):
        for t in self.retriers:
            t.start()
        step = 1.0 / self.rate
        t = time.monotonic()
        while not self.stopping:
            name = "rnd-%s.%s" % (os.urandom(6).hex(), APEX)
            q = dns.message.make_query(name, "A", use_edns=0)
            try:
                self.sock.sendto(q.to_wire(), ("127.0.0.1", self.port))
                self.sent += 1
            except OSError:
                pass
            self.read()
            t += step
            time.sleep(max(0.0, t - time.monotonic()))

    def stop(self):
        self.stopping = True
        self.join(5)
        try:
            while True:
                self.retry_q.get_nowait()
        except queue.Empty:
            pass
        for t in self.retriers:
            while t.is_alive():
                try:
                    self.retry_q.put(None, timeout=0.1)
                    break
                except queue.Full:
                    pass
        for t in self.retriers:
            t.join(10)
        self.retriers = []
        self.sock.close()


def probe_cluster_name(port, count, pace, timeout):
    """Asks A of the cluster name \\a count times, one every \\a pace
    seconds, each with one try of \\a timeout seconds. Returns the answers
    (None for no answer in time)."""
    out = []
    t = time.monotonic()
    for _ in range(count):
        try:
            out.append(query(port, APEX, "A", timeout=timeout, tries=1))
        except TimeoutError:
            out.append(None)
        t += pace
        time.sleep(max(0.0, t - time.monotonic()))
    return out


def signed_query(port, name, rdtype, keyname, secret, tcp=False):
    """Sends a query signed with (\\a keyname, \\a secret) and returns
    (rcode from the header, TSIG verdict, parsed message or None). The
    verdict is "signed" (valid signature over the answer), "badkey",
    "badsig" (the TSIG error the server put in), "unsigned" or "invalid"."""
    key = dns.tsig.Key(keyname, secret, TSIG_ALG)
    q = dns.message.make_query(name, rdtype, use_edns=0)
    q.flags &= ~dns.flags.RD
    q.use_tsig(key)
    wire = q.to_wire()
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM if tcp else socket.SOCK_DGRAM)
    try:
        s.settimeout(3)
        if tcp:
            s.connect(("127.0.0.1", port))
            s.sendall(struct.pack("!H", len(wire)) + wire)
            n = struct.unpack("!H", tgc._recv_exact(s, 2))[0]
            resp = tgc._recv_exact(s, n)
        else:
            s.sendto(wire, ("127.0.0.1", port))
            resp = s.recv(65535)
    finally:
        s.close()
    rcode = resp[3] & 0x0f
    try:
        msg = dns.message.from_wire(resp, keyring=key, request_mac=q.mac)
    except dns.tsig.PeerBadKey:
        return rcode, "badkey", None
    except dns.tsig.PeerBadSignature:
        return rcode, "badsig", None
    except dns.exception.DNSException:
        return rcode, "invalid", None
    return rcode, "signed" if msg.had_tsig else "unsigned", msg


def reply_shape(port, name, rdtype):
    """What a client sees of an answer, for comparisons between servers."""
    a = query(port, name, rdtype, timeout=2)
    return (dns.rcode.to_text(a.rcode), a.aa, a.ancount, a.nscount,
            sorted(a.addrs))


class Guards(tgc.TgcTestCase):

    # -- building blocks ----------------------------------------------------
    def setUp(self):
        self.sims = self.nodes([(ip, "tcp") for ip in NODE_IPS])
        self.node_port = self.sims[0].port
        self.sims[1].stop()
        self.sims[1].port = self.node_port
        self.sims[1].start()

    def upstream(self):
        up = Upstream()
        up.start()
        self.addCleanup(up.stop)
        return up

    def start_plain(self, k):
        """Starts knotd whose zone may not load: waits for the control
        socket and TCP instead of an answered SOA."""
        self.addCleanup(self._dump_log_on_failure, k)
        self.addCleanup(k.cleanup)
        return start_translator(k)

    def lb_items(self):
        return {"node": ["%s@%d" % (ip, self.node_port) for ip in NODE_IPS],
                "check-interval": INTERVAL, "check-timeout": TIMEOUT,
                "check-rise": 1, "check-fall": 1, "policy": "ordered"}

    def translator(self, upstreams, items=None, edits=(), workers=2, pre=""):
        conf = {"upstream": ["lb%d" % (i + 1) for i in range(len(upstreams))],
                "upstream-interval": INTERVAL, "upstream-timeout": TIMEOUT,
                "stale-limit": 60, "nat-map": NAT_MAP}
        conf.update(items or {})
        k = Knotd({ZONE: conf},
                  edits=[before("module", pre + remotes_text(upstreams))] + list(edits),
                  workers=workers, name="translator")
        return k

    def wait_addrs(self, k, want, timeout=5.0):
        return wait_until(lambda: query(k.port, APEX).addrs == want, timeout,
                          interval=0.02, what="answers %s" % (want,))

    # -- forwarding does not starve the cache --------------------------------
    def test_flood_with_upstreams_gone(self):
        ups = [self.upstream(), self.upstream()]
        tr = self.start_plain(self.translator(ups))
        want = ["192.168.1.7"]
        self.wait_addrs(tr, want)
        baseline = probe_cluster_name(tr.port, 10, 0.1, 1.5)
        self.assertTrue(all(a is not None and a.addrs == want for a in baseline),
                        baseline)

        for up in ups:
            up.silent = True
        flood = Flood(tr.port, 50)
        flood.start()
        self.addCleanup(flood.stop)
        answers = probe_cluster_name(tr.port, 30, 0.1, 1.5)
        flood.stop()

        missing = [i for i, a in enumerate(answers) if a is None]
        self.assertEqual(missing, [], "cluster name unanswered during the flood")
        for a in answers:
            self.assertEqual(a.rcode, dns.rcode.NOERROR, a)
            self.assertEqual(a.addrs, want, a)
        # Served stale (TTL at most 1) once the poller failed.
        self.assertEqual(answers[-1].ttls, [1], answers[-1])
        st = tr.zone_stats(ZONE)
        self.assertGreater(flood.sent, 100)
        self.assertGreater(tgc.stat_sum(st, "stale"), 0, st)
        refused = (tgc.stat_sum(st, "busy") + tgc.stat_sum(st, "unreachable") +
                   tgc.stat_sum(st, "recent-failure"))
        self.assertGreater(refused, 0, st)
        self.assertGreater(tgc.stat_sum(st, "unreachable"), 0, st)

    def test_flood_of_dropped_names_udp_forward(self):
        # forward-udp forward: UDP workers forward. The upstreams answer the
        # poll but drop the random names: every forward of one takes the
        # whole bound. forward-limit 1 of 4 workers.
        ups = [self.upstream(), self.upstream()]
        for up in ups:
            up.drop_junk = True
        tr = self.start_plain(self.translator(
            ups, items={"forward-limit": 1, "forward-udp": "forward"}, workers=4))
        want = ["192.168.1.7"]
        self.wait_addrs(tr, want)

        flood = Flood(tr.port, 50)
        t0 = time.monotonic()
        flood.start()
        self.addCleanup(flood.stop)
        answers = probe_cluster_name(tr.port, 30, 0.1, 1.5)
        flood.stop()
        elapsed = time.monotonic() - t0

        missing = [i for i, a in enumerate(answers) if a is None]
        self.assertEqual(missing, [], "cluster name unanswered during the flood")
        for a in answers:
            self.assertEqual((a.rcode, a.addrs), (dns.rcode.NOERROR, want), a)
        # Each forward holds its slot while both upstreams time out
        # (FORWARD_S), so with one slot the upstreams see at most one new
        # name per FORWARD_S (and one in flight at the start).
        junk = set.union(*(up.junk_names() for up in ups))
        self.assertGreater(len(junk), 0)
        self.assertLessEqual(len(junk), elapsed / FORWARD_S + 2,
                             "forwards in flight above forward-limit")
        st = tr.zone_stats(ZONE)
        self.assertGreater(tgc.stat_sum(st, "busy"), 0, st)
        self.assertEqual(tgc.stat_sum(st, "unreachable"), 0, st)
        self.assertGreaterEqual(tgc.stat_sum(st, "servfail"),
                                tgc.stat_sum(st, "busy"), st)
        self.assertEqual(tgc.stat_sum(st, "to-tcp"), 0, st)

    def test_flood_of_dropped_names_never_waits(self):
        # forward-udp truncate (the default): forwards run in TCP workers
        # only. The upstreams answer the poll but drop the random names,
        # with a long upstream-timeout: a forward holds its TCP worker for
        # the whole bound (LONG_FORWARD_S). A flood of random names over
        # UDP, each TC answer asked again over TCP as a resolver does. A
        # probe of the cluster name over UDP that waited behind a forward
        # would wait up to LONG_FORWARD_S: each probe gets half an
        # upstream-timeout and must be answered within it.
        ups = [self.upstream(), self.upstream()]
        for up in ups:
            up.drop_junk = True
        tr = self.start_plain(self.translator(
            ups, items={"upstream-interval": LONG_INTERVAL,
                        "upstream-timeout": LONG_TIMEOUT}, workers=2))
        want = ["192.168.1.7"]
        self.wait_addrs(tr, want)

        flood = Flood(tr.port, 50, tcp_retries=4)
        t0 = time.monotonic()
        flood.start()
        self.addCleanup(flood.stop)
        # Until a TCP retry holds a forward, probes would prove nothing.
        wait_until(lambda: ups[0].junk_names() or ups[1].junk_names(), 5,
                   interval=0.02, what="a forward of a random name")
        answers = probe_cluster_name(tr.port, 40, 0.1, LONG_TIMEOUT / 2000.0)
        elapsed = time.monotonic() - t0
        flood.stop()

        missing = [i for i, a in enumerate(answers) if a is None]
        self.assertEqual(missing, [], "cluster name waited behind a forward")
        for a in answers:
            self.assertEqual((a.rcode, a.addrs, a.tc),
                             (dns.rcode.NOERROR, want, False), a)
        # The flood was sent to TCP and forwarded there, within
        # forward-limit (default: half of the 2 TCP workers = 1).
        st = tr.zone_stats(ZONE)
        self.assertGreater(flood.truncated, 50, flood.truncated)
        self.assertGreaterEqual(tgc.stat_sum(st, "to-tcp"), flood.truncated, st)
        self.assertGreater(sum(flood.tcp_rcodes.values()), 0, flood.tcp_rcodes)
        junk = set.union(*(up.junk_names() for up in ups))
        self.assertGreater(len(junk), 0)
        self.assertLessEqual(len(junk), elapsed / LONG_FORWARD_S + 2,
                             "forwards in flight above forward-limit")
        self.assertIn("forwarding at most 1 queries at once (2 TCP workers)",
                      tr.log_text())

    def test_udp_truncated_then_tcp(self):
        # A forwarded name over UDP: an empty answer with TC (the question
        # only, EDNS kept); over TCP: the forwarded answer.
        up = self.upstream()
        tr = self.start_plain(self.translator([up]))
        self.wait_addrs(tr, ["192.168.1.7"])
        name = "www." + APEX
        asked = up.count(name)
        q = dns.message.make_query(name, "A", use_edns=0, payload=1232)
        r = dns.query.udp(q, "127.0.0.1", port=tr.port, timeout=2)
        self.assertTrue(r.flags & dns.flags.TC, r)
        self.assertEqual(r.rcode(), dns.rcode.NOERROR)
        self.assertEqual((r.answer, r.authority, r.additional), ([], [], []))
        self.assertEqual(r.question, q.question)
        self.assertEqual(r.edns, 0)
        self.assertEqual(up.count(name), asked, "forwarded over UDP")
        r = dns.query.tcp(q, "127.0.0.1", port=tr.port, timeout=3)
        self.assertFalse(r.flags & dns.flags.TC, r)
        self.assertEqual(r.rcode(), dns.rcode.NXDOMAIN)
        self.assertEqual([rr.rdtype for rr in r.authority], [dns.rdatatype.SOA])
        self.assertEqual(up.count(name), asked + 1)
        # The cluster name over UDP: from the cache, never truncated.
        r = dns.query.udp(dns.message.make_query(APEX, "A"), "127.0.0.1",
                          port=tr.port, timeout=2)
        self.assertFalse(r.flags & dns.flags.TC, r)
        self.assertEqual([rd.address for rr in r.answer for rd in rr],
                         ["192.168.1.7"])
        st = tr.zone_stats(ZONE)
        self.assertEqual(tgc.stat_sum(st, "to-tcp"), 1, st)
        self.assertEqual(tgc.stat_sum(st, "forwarded"), 1, st)

        # forward-udp forward: the same query is forwarded over UDP.
        fw = self.start_plain(self.translator([up], items={"forward-udp": "forward"}))
        self.wait_addrs(fw, ["192.168.1.7"])
        r = dns.query.udp(q, "127.0.0.1", port=fw.port, timeout=3)
        self.assertFalse(r.flags & dns.flags.TC, r)
        self.assertEqual(r.rcode(), dns.rcode.NXDOMAIN)
        self.assertEqual(up.count(name), asked + 2)
        self.assertEqual(tgc.stat_sum(fw.zone_stats(ZONE), "to-tcp"), 0)
        self.assertIn("forwarding at most 1 queries at once (2 UDP workers)",
                      fw.log_text())

    def test_failed_name_remembered(self):
        ups = [self.upstream()]
        ups[0].drop_junk = True
        tr = self.start_plain(self.translator(ups))
        self.wait_addrs(tr, ["192.168.1.7"])
        name = "rnd-same." + APEX
        self.assertEqual(query(tr.port, name, tcp=True, timeout=3).rcode,
                         dns.rcode.SERVFAIL)
        asked = ups[0].count(name)
        self.assertGreater(asked, 0)
        # Asked again at once: SERVFAIL without another forward, over TCP
        # and over UDP (no TC: a retry over TCP would fail the same way).
        before_st = tgc.stat_sum(tr.zone_stats(ZONE), "recent-failure")
        for tcp in (True, False):
            a = query(tr.port, name, tcp=tcp, timeout=3, tries=1)
            self.assertEqual((a.rcode, a.tc), (dns.rcode.SERVFAIL, False), a)
        self.assertEqual(ups[0].count(name), asked)
        self.assertEqual(tgc.stat_sum(tr.zone_stats(ZONE), "recent-failure"),
                         before_st + 2)
        # Other names are still forwarded (a worker rests as long as the
        # failed forward took, answering "busy" SERVFAIL meanwhile).
        wait_until(lambda: query(tr.port, "other." + APEX, tcp=True,
                                 timeout=3).rcode == dns.rcode.NXDOMAIN,
                   3, interval=0.05, what="another name forwarded")
        # The memory is short: the name is forwarded again later.
        wait_until(lambda: (query(tr.port, name, tcp=True, timeout=3) and
                            ups[0].count(name) > asked),
                   15, interval=0.5, what="the name forwarded again")

    def test_forward_limit_conf_check(self):
        ups = [self.upstream()]
        for item, value in (("forward-limit", "-1"), ("forward-limit", "1025"),
                            ("forward-limit", "many"), ("forward-udp", "tcp"),
                            ("forward-udp", "1")):
            with self.subTest(item=item, value=value):
                k = self.translator(ups, items={item: value})
                self.addCleanup(k.cleanup)
                rc, out = k.conf_check()
                self.assertNotEqual(rc, 0, out)
                self.assertIn(item, out)
        for items in ({"forward-limit": 3}, {"forward-udp": "truncate"},
                      {"forward-udp": "forward"}):
            with self.subTest(items=items):
                k = self.translator(ups, items=items)
                self.addCleanup(k.cleanup)
                rc, out = k.conf_check()
                self.assertEqual(rc, 0, out)
        # Never all workers that forward (TCP workers, UDP workers with
        # forward-udp forward): a limit not below them is lowered, the
        # default is half of them. The harness runs as many TCP workers as
        # UDP workers: each case changes the other count to tell them apart.
        for items, workers, want in (({"forward-limit": 9}, 4, 3),
                                     ({"forward-limit": 2}, 4, 2),
                                     ({}, 4, 2), ({}, 2, 1)):
            for mode, kind, other in (("truncate", "TCP", "udp"),
                                      ("forward", "UDP", "tcp")):
                with self.subTest(items=items, workers=workers, mode=mode):
                    conf = dict(items)
                    if mode == "forward":
                        conf["forward-udp"] = mode
                    k = self.translator(ups, items=conf, workers=workers, edits=[
                        ("    %s-workers: %d\n" % (other, workers),
                         "    %s-workers: %d\n" % (other, workers + 3))])
                    self.start_plain(k)
                    line = "forwarding at most %d queries at once (%d %s workers)" \
                        % (want, workers, kind)
                    wait_until(lambda: line in k.log_text(), 5, what=line)
                    self.assertEqual("lowered" in k.log_text(),
                                     items.get("forward-limit", 0) >= workers)
                    k.stop()
        # Worker counts not set: knotd's defaults, one UDP worker per online
        # CPU (2 if there is one), TCP workers as many but at least 10.
        cpus = os.sysconf("SC_NPROCESSORS_ONLN")
        udp = cpus if cpus > 1 else 2
        for mode, kind, n in (("truncate", "TCP", max(udp, 10)),
                              ("forward", "UDP", udp)):
            with self.subTest(mode=mode, workers="default"):
                k = self.translator(ups, items={"forward-udp": mode}, edits=[
                    ("    udp-workers: 2\n", ""), ("    tcp-workers: 2\n", "")])
                self.start_plain(k)
                line = "forwarding at most %d queries at once (%d %s workers)" \
                    % (n // 2, n, kind)
                wait_until(lambda: line in k.log_text(), 5, what=line)
                k.stop()

    # -- TSIG on queries to a translator ------------------------------------
    KEYS = key_text("tgc-key", TSIG_SECRET).rstrip("\n") + \
        "\n  - id: other-key\n    algorithm: %s\n    secret: %s\n" % (TSIG_ALG, TSIG_WRONG)
    ACL_EDITS = [
        ("acl:\n", "acl:\n  - id: tgc-query\n    key: tgc-key\n    action: query\n"),
        ("    acl: xfr\n", "    acl: [ xfr, tgc-query ]\n"),
    ]

    def test_tsig_on_queries(self):
        up = self.upstream()
        tr = self.translator([up], edits=[before("acl", self.KEYS)] + self.ACL_EDITS)
        self.start_plain(tr)
        self.wait_addrs(tr, ["192.168.1.7"])
        # knotd's own answers for the same zone, keys and ACL, no module.
        plain = Knotd({ZONE: None}, records=LB_RECORDS,
                      edits=[before("acl", self.KEYS)] + self.ACL_EDITS,
                      name="plain")
        self.start_plain(plain)

        cases = [
            # (key name, secret, expected verdict)
            ("nosuch-key", TSIG_SECRET, "badkey"),   # unknown key
            ("tgc-key", TSIG_WRONG, "badsig"),       # wrong signature
            ("other-key", TSIG_WRONG, "badkey"),     # key the ACL does not allow
        ]
        for qname in (APEX, "www." + APEX):
            for keyname, secret, verdict in cases:
                for tcp in (False, True):
                    with self.subTest(name=qname, key=keyname, tcp=tcp):
                        got = signed_query(tr.port, qname, "A", keyname, secret, tcp)
                        ref = signed_query(plain.port, qname, "A", keyname, secret, tcp)
                        self.assertEqual(got[:2], (dns.rcode.NOTAUTH, verdict))
                        self.assertEqual(got[:2], ref[:2])

        # Valid key: the module's answers, signed by knotd.
        rcode, verdict, msg = signed_query(tr.port, APEX, "A", "tgc-key", TSIG_SECRET)
        self.assertEqual((rcode, verdict), (dns.rcode.NOERROR, "signed"))
        self.assertEqual([rd.address for rr in msg.answer for rd in rr],
                         ["192.168.1.7"])
        self.assertTrue(msg.flags & dns.flags.AA)
        rcode, verdict, msg = signed_query(tr.port, "www." + APEX, "A", "tgc-key",
                                           TSIG_SECRET, tcp=True)
        self.assertEqual((rcode, verdict), (dns.rcode.NXDOMAIN, "signed"))
        self.assertEqual([rr.rdtype for rr in msg.authority], [dns.rdatatype.SOA])
        self.assertFalse(msg.flags & dns.flags.TC)
        # The same over UDP: the empty answer with TC, signed by knotd.
        rcode, verdict, msg = signed_query(tr.port, "www." + APEX, "A", "tgc-key",
                                           TSIG_SECRET)
        self.assertEqual((rcode, verdict), (dns.rcode.NOERROR, "signed"))
        self.assertTrue(msg.flags & dns.flags.TC)
        self.assertEqual((msg.answer, msg.authority), ([], []))
        st = tr.zone_stats(ZONE)
        self.assertGreater(tgc.stat_sum(st, "cached"), 0, st)
        self.assertGreater(tgc.stat_sum(st, "forwarded"), 0, st)
        self.assertEqual(tgc.stat_sum(st, "to-tcp"), 1, st)
        # Unsigned queries are answered as before.
        self.assertEqual(query(tr.port, APEX).addrs, ["192.168.1.7"])

    def test_tsig_global_translator(self):
        # A global translator has no zone ACL to check a key against: signed
        # queries get knotd's own answer (the name is in no zone here).
        up = self.upstream()
        conf = {"name": APEX, "upstream": ["lb1"],
                "upstream-interval": INTERVAL, "upstream-timeout": TIMEOUT,
                "nat-map": NAT_MAP, "id": "tr"}
        k = Knotd({"other.test": conf},
                  edits=[before("acl", self.KEYS),
                         before("module", remotes_text([up])),
                         ("    module: mod-tgcluster/tr\n", ""),
                         ("  - id: default\n",
                          "  - id: default\n    global-module: mod-tgcluster/tr\n")],
                  name="translator-global")
        self.start_plain(k)
        self.wait_addrs(k, ["192.168.1.7"])
        plain = Knotd({"other.test": None},
                      edits=[before("acl", self.KEYS)], name="plain")
        self.start_plain(plain)
        for keyname, secret in (("tgc-key", TSIG_SECRET), ("tgc-key", TSIG_WRONG),
                                ("nosuch-key", TSIG_SECRET)):
            with self.subTest(key=keyname, secret=secret):
                got = signed_query(k.port, APEX, "A", keyname, secret)
                ref = signed_query(plain.port, APEX, "A", keyname, secret)
                self.assertEqual(got[:2], ref[:2])
                self.assertNotEqual(got[0], dns.rcode.NOERROR)
        st = k.knotc("stats")[1]
        self.assertIn("mod-tgcluster", st)

    # -- no zone, no answer ---------------------------------------------------
    SHAPES = [(APEX, "A"), (APEX, "AAAA"), (APEX, "SOA"), (APEX, "TXT"),
              (APEX, "MX"), ("www." + APEX, "A")]

    def break_zone(self, k, how):
        path = os.path.join(k.dir, "%s.zone" % ZONE)
        if how == "missing":
            os.unlink(path)
        else:
            with open(path, "w") as f:
                f.write("$ORIGIN %s\n@ SOA this is not a zone\n" % APEX)

    def compare_unloaded(self, k, plain):
        for name, rdtype in self.SHAPES:
            with self.subTest(name=name, rdtype=rdtype):
                got = reply_shape(k.port, name, rdtype)
                self.assertEqual(got[0], "SERVFAIL", got)
                self.assertEqual(got, reply_shape(plain.port, name, rdtype))

    def test_lb_zone_not_loaded(self):
        for how in ("missing", "broken"):
            with self.subTest(zone_file=how):
                k = Knotd({ZONE: self.lb_items()}, name="lb")
                self.break_zone(k, how)
                self.start_plain(k)
                plain = Knotd({ZONE: None}, name="plain")
                self.break_zone(plain, how)
                self.start_plain(plain)
                # The checker runs: the module would have answers.
                wait_until(lambda: all(h == "up" for h in k.shm().health()), 5,
                           what="nodes up")
                self.compare_unloaded(k, plain)
                st = k.zone_stats(ZONE)
                self.assertEqual(tgc.stat_sum(st, "answer"), 0, st)
                # Once the zone loads, the module answers again.
                k._write_zone(ZONE)
                rc, out = k.knotc("zone-reload", ZONE)
                self.assertEqual(rc, 0, out)
                wait_until(lambda: query(k.port, APEX).addrs == NODE_IPS, 5,
                           what="module answers after the zone loaded")
                k.stop()
                plain.stop()

    def test_translator_zone_not_loaded(self):
        up = self.upstream()
        tr = self.translator([up])
        self.break_zone(tr, "missing")
        mark = 0
        self.start_plain(tr)
        # The poller fills the cache: the module would have an answer.
        wait_until(lambda: "unknown -> up" in tr.log_since(mark), 5,
                   what="upstream polled")
        plain = Knotd({ZONE: None}, name="plain")
        self.break_zone(plain, "missing")
        self.start_plain(plain)
        asked = up.count("www." + APEX)
        self.compare_unloaded(tr, plain)
        self.assertEqual(up.count("www." + APEX), asked, "forwarded anyway")
        st = tr.zone_stats(ZONE)
        self.assertEqual(tgc.stat_sum(st, "cached") + tgc.stat_sum(st, "forwarded"),
                         0, st)


if __name__ == "__main__":
    tgc.main()
