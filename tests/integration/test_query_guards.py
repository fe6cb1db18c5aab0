#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Queries the module must not answer on its own, and forwarding that must
not starve the translator's cache.

Covered: a flood of random names while the upstreams are silent (gone) or
drop only those names, with the cluster name still answered from the cache
at its normal pace; the forward-limit bound on forwards in flight; the memory
of a name whose forward failed; TSIG on queries to a translator (unknown key,
wrong signature, valid key, key not allowed by the zone ACL) checked by
knotd's rules, compared with knotd's own answers, and left to knotd by a
global translator; a zone that is not loaded
(zone file missing or broken) answered with knotd's own SERVFAIL by
load-balancer and translator instances, compared with a plain zone.

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
from test_translator import (Knotd, before, key_text, remotes_text,  # noqa: E402
                             start_translator, TSIG_ALG, TSIG_SECRET,
                             TSIG_WRONG, LB_RECORDS)

import dns.exception  # noqa: E402
import dns.flags  # noqa: E402
import dns.message  # noqa: E402
import dns.name  # noqa: E402
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
    """Sends queries for random names under the zone at \\a rate per second
    from one UDP socket, without waiting for the answers (they are read and
    dropped)."""

    def __init__(self, port, rate):
        super().__init__(name="flood", daemon=True)
        self.port, self.rate = port, rate
        self.stopping = False
        self.sent = 0
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setblocking(False)

    def run(self):
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
            try:
                while True:
                    self.sock.recv(65535)
            except OSError:
                pass
            t += step
            time.sleep(max(0.0, t - time.monotonic()))

    def stop(self):
        self.stopping = True
        self.join(5)
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

    def test_flood_of_dropped_names(self):
        # The upstreams answer the poll but drop the random names: every
        # forward of one takes the whole bound. forward-limit 1 of 4 workers.
        ups = [self.upstream(), self.upstream()]
        for up in ups:
            up.drop_junk = True
        tr = self.start_plain(self.translator(ups, items={"forward-limit": 1},
                                              workers=4))
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

    def test_failed_name_remembered(self):
        ups = [self.upstream()]
        ups[0].drop_junk = True
        tr = self.start_plain(self.translator(ups))
        self.wait_addrs(tr, ["192.168.1.7"])
        name = "rnd-same." + APEX
        self.assertEqual(query(tr.port, name, timeout=3, tries=1).rcode,
                         dns.rcode.SERVFAIL)
        asked = ups[0].count(name)
        self.assertGreater(asked, 0)
        # Asked again at once: SERVFAIL without another forward.
        before_st = tgc.stat_sum(tr.zone_stats(ZONE), "recent-failure")
        self.assertEqual(query(tr.port, name, timeout=3, tries=1).rcode,
                         dns.rcode.SERVFAIL)
        self.assertEqual(ups[0].count(name), asked)
        self.assertEqual(tgc.stat_sum(tr.zone_stats(ZONE), "recent-failure"),
                         before_st + 1)
        # Other names are still forwarded (a worker rests as long as the
        # failed forward took, answering "busy" SERVFAIL meanwhile).
        wait_until(lambda: query(tr.port, "other." + APEX, timeout=3,
                                 tries=1).rcode == dns.rcode.NXDOMAIN,
                   3, interval=0.05, what="another name forwarded")
        # The memory is short: the name is forwarded again later.
        wait_until(lambda: (query(tr.port, name, timeout=3, tries=1) and
                            ups[0].count(name) > asked),
                   15, interval=0.5, what="the name forwarded again")

    def test_forward_limit_conf_check(self):
        ups = [self.upstream()]
        for value in ("-1", "1025", "many"):
            with self.subTest(value=value):
                k = self.translator(ups, items={"forward-limit": value})
                self.addCleanup(k.cleanup)
                rc, out = k.conf_check()
                self.assertNotEqual(rc, 0, out)
                self.assertIn("forward-limit", out)
        k = self.translator(ups, items={"forward-limit": 3})
        self.addCleanup(k.cleanup)
        rc, out = k.conf_check()
        self.assertEqual(rc, 0, out)
        # Never all workers: a limit not below them is lowered, the
        # default is half of them.
        for items, workers, want in (({"forward-limit": 9}, 4, 3),
                                     ({"forward-limit": 2}, 4, 2),
                                     ({}, 4, 2), ({}, 2, 1)):
            with self.subTest(items=items, workers=workers):
                k = self.start_plain(self.translator(ups, items=items,
                                                     workers=workers))
                line = "forwarding at most %d queries at once (%d UDP workers)" \
                    % (want, workers)
                wait_until(lambda: line in k.log_text(), 5, what=line)
                self.assertEqual("lowered" in k.log_text(),
                                 items.get("forward-limit", 0) >= workers)
                k.stop()
        # udp-workers not set: knotd runs one per online CPU.
        cpus = os.sysconf("SC_NPROCESSORS_ONLN")
        k = self.translator(ups, edits=[("    udp-workers: 2\n", "")])
        self.start_plain(k)
        line = "forwarding at most %d queries at once (%d UDP workers)" \
            % (max(1, cpus // 2), cpus)
        wait_until(lambda: line in k.log_text(), 5, what=line)

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
        st = tr.zone_stats(ZONE)
        self.assertGreater(tgc.stat_sum(st, "cached"), 0, st)
        self.assertGreater(tgc.stat_sum(st, "forwarded"), 0, st)
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
