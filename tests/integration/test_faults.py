#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Fault injection: the module must never crash knotd, never answer from an
untrusted segment, and keep answering through crashes, flapping nodes, file
descriptor exhaustion and hostile queries.

  - kill -9 of knotd and a restart keep health and admin states;
  - a record left open by a writer that died is closed again at load;
  - a segment pre-created by another user, a symlink, garbage, a wrong
    version, a wrong size or a wrong mode: refused or recreated, never used;
  - all nodes flapping at 10 Hz: every query answered, latency bounded;
  - a checker that cannot create sockets keeps the last states and logs once;
  - malformed, oversized, ANY, DO-bit, EDNS-padded and other odd queries get
    sane answers and knotd stays up.
"""

import mmap
import os
import random
import resource
import socket
import struct
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tgc  # noqa: E402
from tgc import query, wait_until  # noqa: E402

import dns.edns  # noqa: E402
import dns.flags  # noqa: E402
import dns.message  # noqa: E402
import dns.opcode  # noqa: E402
import dns.rcode  # noqa: E402
import dns.rdataclass  # noqa: E402
import dns.rdatatype  # noqa: E402

ZONE = "cluster.test"
APEX = ZONE + "."
CTL = os.environ.get("TGC_CTL", os.path.join(tgc.REPO, "build", "tgclusterctl"))
# The address a planted (untrusted) segment advertises: it must never appear
# in an answer.
EVIL = "10.66.66.66"
EVIL_V4 = bytes([10, 66, 66, 66])
NOBODY = 65534


def ctl(*args):
    p = subprocess.run([CTL] + list(args), stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=30)
    return p.returncode, p.stdout.decode(errors="replace")


def segment_image(addrs, version=tgc.TABLE_VERSION, port=5900, health=1):
    """A load-balancer segment image (layout of module/table.h) whose nodes
    are \\a addrs (IPv4 text), all with health \\a health."""
    count = len(addrs)
    size = tgc.rec_base(count)
    b = bytearray(size)
    for name, value in (("magic", tgc.TABLE_MAGIC), ("version", version),
                        ("size", size), ("hdr_size", tgc.HDR_SIZE),
                        ("rec_size", tgc.REC_SIZE), ("node_count", count),
                        ("role", tgc.LAYOUT.ROLE_LB)):
        tgc.seg_put(b, "HDR", name, value)
    tgc.seg_put_bytes(b, "HDR", "zone", ZONE.encode())
    tgc.seg_put_bytes(b, "HDR", "instance", b"lb")
    tgc.seg_put_bytes(b, "HDR", "name", APEX.encode())
    for i, a in enumerate(addrs):
        o = tgc.rec_base(i)
        tgc.seg_put(b, "REC", "port", port, o)
        tgc.seg_put(b, "REC", "family", socket.AF_INET, o)
        tgc.seg_put_bytes(b, "REC", "addr", socket.inet_aton(a), o)
        tgc.seg_put(b, "REC", "health", health, o)
    return bytes(b)


def plant(path, data, uid=None, mode=0o600):
    with open(path, "wb") as f:
        f.write(data)
    os.chmod(path, mode)
    if uid is not None:
        os.chown(path, uid, uid)


def fd_count(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


class Faults(tgc.TgcTestCase):

    # ------------------------------------------------------------------
    # Crashes
    # ------------------------------------------------------------------
    def test_kill9_restart_keeps_health_and_admin(self):
        n = self.nodes([("127.0.0.11", "tcp"), ("127.0.0.12", "tcp"),
                        ("127.0.0.13", "tcp")])
        addrs = [x.addr for x in n]
        k = self.knotd({ZONE: {"node": [x.spec for x in n], "policy": "ordered",
                               "check-interval": 2000, "check-timeout": 500}})
        seg = k.shm()
        wait_until(lambda: seg.health() == ["up"] * 3, 6, what="all up")
        n[2].stop()
        wait_until(lambda: seg.health()[2] == "down", 8, what="node 2 down")
        rc, out = ctl("set", os.path.basename(seg.path), addrs[0], "drain")
        self.assertEqual(rc, 0, out)
        wait_until(lambda: query(k.port, APEX).addrs == [addrs[1]], 2,
                   what="drained and dead nodes left out")

        k.proc.kill()                       # SIGKILL: no unload, no cleanup
        k.proc.wait(10)
        self.assertEqual(k.stop(), -9)
        self.assertTrue(seg.exists(), "segment gone after kill -9")
        mark = k.log_mark()
        k.start()
        # At once, before any probe could have run again.
        self.assertEqual(query(k.port, APEX).addrs, [addrs[1]])
        nodes = seg.nodes()
        self.assertEqual([x["health"] for x in nodes], ["up", "up", "down"])
        self.assertEqual(nodes[0]["admin"], tgc.ADMIN["drain"])
        self.assertRegex(k.log_since(mark).lower(), r"reuse")
        # And it keeps working: the node comes back.
        n[2].start()
        wait_until(lambda: query(k.port, APEX).addrs == addrs[1:], 8,
                   what="node 2 back after the restart")

    def test_record_left_open_by_dead_writer_is_closed(self):
        """knotd killed inside a record write leaves its seqlock odd; the
        next knotd must close it, or that node's health would never change
        again (the checker skips busy records)."""
        n = self.nodes([("127.0.0.11", "tcp"), ("127.0.0.12", "tcp")])
        k = self.knotd({ZONE: {"node": [x.spec for x in n], "policy": "ordered",
                               "check-interval": 300, "check-timeout": 200}})
        seg = k.shm()
        wait_until(lambda: seg.health() == ["up", "up"], 3, what="all up")
        k.proc.kill()
        k.proc.wait(10)
        k.stop()
        # What a crash between tgc_table_write_begin() and _end() leaves.
        fd = os.open(seg.path, os.O_RDWR)
        try:
            m = mmap.mmap(fd, tgc.rec_base(2))
            seq = tgc.seg_get(m, "REC", "seq", tgc.rec_base(1))
            tgc.seg_put(m, "REC", "seq", seq | 1, tgc.rec_base(1))
            m.close()
        finally:
            os.close(fd)
        n[1].stop()
        mark = k.log_mark()
        k.start()
        wait_until(lambda: seg.health()[1] == "down", 5,
                   what="node 1 (record left open) probed down after restart")
        wait_until(lambda: query(k.port, APEX).addrs == [n[0].addr], 2)
        self.assertRegex(k.log_since(mark), r"closed 1 records? left open")

    # ------------------------------------------------------------------
    # Untrusted segments
    # ------------------------------------------------------------------
    def _segment_case(self, shm, prepare):
        """Starts knotd for a zone whose segment \\a prepare(path) planted
        first. Returns (knotd, node addresses, log)."""
        n = self.nodes([("127.0.0.11", "tcp"), ("127.0.0.12", "tcp")])
        path = tgc.shm_path(shm)
        self.addCleanup(tgc.unlink_segment, shm)
        prepare(path)
        k = self.knotd({ZONE: {"node": [x.spec for x in n], "policy": "ordered",
                               "shm": shm, "check-interval": 300,
                               "check-timeout": 200}})
        return k, [x.addr for x in n], k.log_text()

    def assert_never_evil(self, k, tries=20):
        for _ in range(tries):
            for rdtype in ("A", "AAAA"):
                a = query(k.port, APEX, rdtype)
                self.assertNotIn(EVIL, a.addrs)
        self.assertTrue(k.alive(), "knotd died")

    def assert_recreated(self, k, addrs, path, log, reason):
        self.assertRegex(log, r"replaced an invalid segment: " + reason)
        st = os.stat(path)
        self.assertEqual((st.st_uid, st.st_mode & 0o777), (os.geteuid(), 0o600))
        seg = tgc.Segment(os.path.basename(path))
        self.assertEqual([x["addr"] for x in seg.nodes()], addrs)
        self.assertEqual(query(k.port, APEX).addrs, addrs)
        self.assert_never_evil(k)

    def _foreign(self, mode, reason):
        shm = tgc.unique("faults-foreign")
        image = segment_image([EVIL])
        k, addrs, log = self._segment_case(
            shm, lambda p: plant(p, image, uid=NOBODY, mode=mode))
        self.assertRegex(log, r"segment \S+ refused: " + reason)
        path = tgc.shm_path(shm)
        st = os.stat(path)
        self.assertEqual((st.st_uid, st.st_mode & 0o777), (NOBODY, mode),
                         "foreign segment touched")
        with open(path, "rb") as f:
            self.assertEqual(f.read(), image, "foreign segment modified")
        # The instance did not load: the zone answers (no module data).
        a = query(k.port, APEX)
        self.assertEqual(a.addrs, [])
        self.assert_never_evil(k)

    def test_segment_of_another_user_is_refused(self):
        # 0600: the kernel refuses knotd the open (knotd runs without
        # CAP_DAC_OVERRIDE, even as root: it drops its capabilities).
        self._foreign(0o600, r"cannot open the existing segment")

    def test_writable_segment_of_another_user_is_refused(self):
        # 0666: the open works, the module's owner check refuses it.
        self._foreign(0o666, r"existing segment is owned by another user")

    def test_segment_symlink_is_refused(self):
        shm = tgc.unique("faults-link")
        target = os.path.join(tgc.SHM_DIR, "tgc-target-%d" % os.getpid())
        image = segment_image([EVIL])
        plant(target, image)
        self.addCleanup(lambda: os.path.exists(target) and os.unlink(target))
        k, addrs, log = self._segment_case(
            shm, lambda p: os.symlink(target, p))
        self.assertRegex(log, r"segment \S+ refused")
        with open(target, "rb") as f:
            self.assertEqual(f.read(), image, "symlink target modified")
        self.assert_never_evil(k)

    def test_garbage_segment_is_recreated(self):
        shm = tgc.unique("faults-garbage")
        rnd = random.Random(8)
        junk = bytes(rnd.getrandbits(8) for _ in range(4096))
        k, addrs, log = self._segment_case(shm, lambda p: plant(p, junk))
        self.assert_recreated(k, addrs, tgc.shm_path(shm), log, "bad magic")

    def test_wrong_version_segment_is_recreated(self):
        shm = tgc.unique("faults-version")
        k, addrs, log = self._segment_case(
            shm, lambda p: plant(p, segment_image([EVIL, EVIL], version=tgc.TABLE_VERSION + 1)))
        self.assert_recreated(k, addrs, tgc.shm_path(shm), log,
                              "unsupported layout version")

    def test_wrong_size_segment_is_recreated(self):
        shm = tgc.unique("faults-size")
        # Header says 2 nodes, the file holds 3 records.
        image = segment_image([EVIL, EVIL]) + bytes(tgc.REC_SIZE)
        k, addrs, log = self._segment_case(shm, lambda p: plant(p, image))
        self.assert_recreated(k, addrs, tgc.shm_path(shm), log,
                              "segment size does not match its node count")

    def test_truncated_segment_is_recreated(self):
        shm = tgc.unique("faults-short")
        k, addrs, log = self._segment_case(
            shm, lambda p: plant(p, segment_image([EVIL])[:100]))
        self.assert_recreated(k, addrs, tgc.shm_path(shm), log,
                              "bad mode or size")

    def test_world_readable_segment_is_recreated(self):
        shm = tgc.unique("faults-mode")
        k, addrs, log = self._segment_case(
            shm, lambda p: plant(p, segment_image([EVIL]), mode=0o666))
        self.assert_recreated(k, addrs, tgc.shm_path(shm), log,
                              "bad mode or size")

    # ------------------------------------------------------------------
    # Flapping nodes
    # ------------------------------------------------------------------
    def test_all_nodes_flapping_at_10hz_do_not_stall_answers(self):
        n = self.nodes([("127.0.0.%d" % (11 + i), "tcp") for i in range(6)])
        k = self.knotd({ZONE: {"node": [x.spec for x in n],
                               "check-interval": 100, "check-timeout": 50,
                               "check-rise": 1, "check-fall": 1}})
        seg = k.shm()
        stop = threading.Event()
        errors = []

        def flap():
            # Paces the flapping (a load generator, not a wait).
            try:
                while not stop.is_set():
                    for x in n:
                        x.stop()
                    time.sleep(0.05)
                    for x in n:
                        x.start()
                    time.sleep(0.05)
            except Exception as exc:  # noqa: BLE001 - reported below
                errors.append(repr(exc))

        flapper = threading.Thread(target=flap)
        latencies, bad = [], []
        flapper.start()
        try:
            deadline = time.monotonic() + 5.0
            while time.monotonic() < deadline:
                t0 = time.monotonic()
                try:
                    a = query(k.port, APEX, timeout=1.0, tries=1)
                except Exception as exc:  # noqa: BLE001 - counted
                    bad.append(repr(exc))
                    continue
                latencies.append(time.monotonic() - t0)
                # all-down defaults to "all": always an answer.
                if a.rcode != dns.rcode.NOERROR or not a.aa or not a.addrs:
                    bad.append(repr(a))
        finally:
            stop.set()
            flapper.join(10)
        for x in n:
            x.start()
        latencies.sort()
        p99 = latencies[int(len(latencies) * 0.99)]
        transitions = sum(x["transitions"] for x in seg.nodes())
        tgc.log("%d queries during 10 Hz flapping: max %.1f ms, p99 %.1f ms, "
                "%d transitions" % (len(latencies), latencies[-1] * 1000,
                                    p99 * 1000, transitions))
        self.assertEqual(errors, [])
        self.assertEqual(bad, [], "queries unanswered or wrong while flapping")
        self.assertGreater(len(latencies), 200)
        # Loose bounds: ASan builds and parallel tests share two cores.
        self.assertLess(latencies[-1], 1.0, "an answer stalled")
        self.assertLess(p99, 0.2)
        self.assertGreater(transitions, 6, "the checker did not see the flaps")
        self.assertTrue(k.alive())
        wait_until(lambda: seg.health() == ["up"] * 6, 3, what="all up again")

    # ------------------------------------------------------------------
    # Checker without sockets
    # ------------------------------------------------------------------
    def test_checker_without_sockets_keeps_states_and_logs_once(self):
        count = 24
        n = self.nodes([("127.0.0.%d" % (11 + i), "tcp") for i in range(count)])
        addrs = [x.addr for x in n]
        k = self.knotd({ZONE: {"node": [x.spec for x in n], "policy": "ordered",
                               "check-interval": 200, "check-timeout": 100,
                               "check-rise": 1, "check-fall": 1}})
        seg = k.shm()
        wait_until(lambda: seg.health() == ["up"] * count, 3, what="all up")
        pid = k.pid
        orig = resource.prlimit(pid, resource.RLIMIT_NOFILE)

        # Only the soft limit is changed: raising a hard limit back needs
        # CAP_SYS_RESOURCE, which a test machine may not grant.
        def restore():
            if k.alive():
                resource.prlimit(pid, resource.RLIMIT_NOFILE, orig)
        self.addCleanup(restore)
        # The lowest free descriptor number of knotd must be >= the limit
        # for every new socket: cap it at the longest run 0..L-1 of
        # descriptors present in two snapshots with a whole probe round
        # between them (not probe sockets, which come and go).
        fds1 = set(int(f) for f in os.listdir("/proc/%d/fd" % pid))
        probes = [x["probes"] for x in seg.nodes()]
        wait_until(lambda: all(x["probes"] > p for x, p in
                               zip(seg.nodes(), probes)), 5,
                   what="a probe round")
        fds2 = set(int(f) for f in os.listdir("/proc/%d/fd" % pid))
        limit = 0
        while limit in fds1 and limit in fds2:
            limit += 1
        limit = min(limit, 12)
        self.assertGreaterEqual(limit, 5, "knotd has too few descriptors?")
        mark = k.log_mark()
        resource.prlimit(pid, resource.RLIMIT_NOFILE, (limit, orig[1]))
        # Every node dies; without sockets the checker cannot see it.
        for x in n:
            x.stop()
        wait_until(lambda: "cannot probe node" in k.log_since(mark), 5,
                   what="the failing probes logged")
        # A window of 10 intervals in which no state may change.
        self.assertStays(lambda: seg.health() == ["up"] * count, 2.0,
                         what="states kept")
        self.assertEqual(query(k.port, APEX).addrs, addrs)
        log = k.log_since(mark)
        self.assertEqual(log.count("cannot probe node"), 1,
                         "not logged exactly once:\n" + log[-3000:])
        self.assertTrue(k.alive())
        # Sockets again: it notices, logs, and sees the nodes down.
        resource.prlimit(pid, resource.RLIMIT_NOFILE, orig)
        wait_until(lambda: seg.health() == ["down"] * count, 3,
                   what="nodes probed down once sockets are back")
        self.assertEqual(k.log_since(mark).count("probing resumed"), 1)

    # ------------------------------------------------------------------
    # Hostile and odd queries
    # ------------------------------------------------------------------
    def _raw(self, k, wire, tcp=False, timeout=1.0):
        """Sends raw bytes; returns the reply bytes or None (no reply)."""
        s = socket.socket(socket.AF_INET,
                          socket.SOCK_STREAM if tcp else socket.SOCK_DGRAM)
        s.settimeout(timeout)
        try:
            if tcp:
                s.connect(("127.0.0.1", k.port))
                s.sendall(struct.pack("!H", len(wire)) + wire)
                hdr = s.recv(2)
                if len(hdr) < 2:
                    return None
                return tgc._recv_exact(s, struct.unpack("!H", hdr)[0])
            s.sendto(wire, ("127.0.0.1", k.port))
            return s.recvfrom(65535)[0]
        except (socket.timeout, ConnectionError):
            return None
        finally:
            s.close()

    def _msg(self, name=APEX, rdtype="A", rdclass="IN", **kw):
        q = dns.message.make_query(name, rdtype, rdclass, **kw)
        q.flags &= ~dns.flags.RD
        return q

    def _exchange(self, k, q, tcp=False):
        if not isinstance(q, (bytes, bytearray)):
            q = q.to_wire(max_size=65535)   # dnspython caps at the payload
        wire = q
        r = self._raw(k, wire, tcp=tcp)
        self.assertIsNotNone(r, "no reply")
        return dns.message.from_wire(r), r

    def assert_up(self, k, addrs):
        self.assertTrue(k.alive(), "knotd died")
        a = query(k.port, APEX)
        self.assertEqual(a.rcode, dns.rcode.NOERROR)
        self.assertEqual(sorted(a.addrs), sorted(addrs))

    def test_hostile_and_odd_queries(self):
        # 40 nodes: an A answer (16 bytes a record) does not fit 512 bytes.
        n = self.nodes([("127.0.0.%d" % (11 + i), "tcp") for i in range(40)])
        addrs = [x.addr for x in n]
        k = self.knotd({ZONE: {"node": [x.spec for x in n],
                               "policy": "sticky"}})
        rnd = random.Random(7)

        # Garbage of every length: no reply or FORMERR; never a crash.
        for size in list(range(0, 40)) + [100, 511, 512, 513, 1400, 4096]:
            wire = bytes(rnd.getrandbits(8) for _ in range(size))
            for tcp in (False, True):
                r = self._raw(k, wire, tcp=tcp, timeout=0.15)
                if r is not None and len(r) >= 4:
                    self.assertIn(r[3] & 0x0f, (dns.rcode.FORMERR, dns.rcode.NOTIMP,
                                                dns.rcode.REFUSED, dns.rcode.NOERROR,
                                                dns.rcode.NOTAUTH),
                                  "odd rcode for %d garbage bytes" % size)
        self.assert_up(k, addrs)

        # A valid query cut short at every byte.
        full = self._msg().to_wire()
        for cut in range(len(full)):
            r = self._raw(k, full[:cut], timeout=0.15)
            if r is not None and len(r) >= 4:
                self.assertEqual(r[3] & 0x0f, dns.rcode.FORMERR)
        # Two questions; a response (QR set) sent as a query.
        two = bytearray(full)
        struct.pack_into("!H", two, 4, 2)
        r = self._raw(k, bytes(two) + full[12:], timeout=0.5)
        self.assertTrue(r is None or r[3] & 0x0f == dns.rcode.FORMERR)
        qr = bytearray(full)
        qr[2] |= 0x80
        self.assertIsNone(self._raw(k, bytes(qr), timeout=0.3),
                          "a response was answered")
        self.assert_up(k, addrs)

        # ANY at the cluster name: not synthesised, the zone answers.
        m, _ = self._exchange(k, self._msg(rdtype="ANY"))
        self.assertEqual(m.rcode(), dns.rcode.NOERROR)
        self.assertTrue(m.flags & dns.flags.AA)
        for rrset in m.answer:
            self.assertNotIn(rrset.rdtype, (dns.rdatatype.A, dns.rdatatype.AAAA))

        # DO bit: answered, DO echoed, AA set.
        m, _ = self._exchange(k, self._msg(use_edns=0, payload=1232,
                                           want_dnssec=True))
        self.assertEqual(m.rcode(), dns.rcode.NOERROR)
        self.assertTrue(m.flags & dns.flags.AA)
        self.assertTrue(m.ednsflags & dns.flags.DO)
        self.assertEqual(sorted(rd.address for rr in m.answer for rd in rr),
                         sorted(addrs))

        # EDNS padding (RFC 7830), UDP and TCP, small and large.
        for pad, tcp in ((16, False), (468, False), (4000, True)):
            q = self._msg(use_edns=0, payload=1232)
            q.use_edns(0, 0, 1232, pad=pad)
            m, _ = self._exchange(k, q, tcp=tcp)
            self.assertEqual(m.rcode(), dns.rcode.NOERROR, "pad %d" % pad)
            self.assertEqual(len([rd for rr in m.answer for rd in rr]), 40)

        # Oversized: a 255-byte QNAME, and a 16 KiB option over TCP.
        longname = ".".join(["a" * 63] * 3 + ["a" * 61]) + "."
        m, _ = self._exchange(k, self._msg(name=longname))
        self.assertIn(m.rcode(), (dns.rcode.REFUSED, dns.rcode.NOTAUTH,
                                  dns.rcode.NXDOMAIN))
        q = self._msg(use_edns=0,
                      options=[dns.edns.GenericOption(65001, b"x" * 16000)])
        m, _ = self._exchange(k, q, tcp=True)
        self.assertEqual(m.rcode(), dns.rcode.NOERROR)

        # An answer that does not fit: 40 A without EDNS -> TC; TCP: all.
        m, wire = self._exchange(k, self._msg())
        self.assertTrue(m.flags & dns.flags.TC)
        self.assertLessEqual(len(wire), 512)
        self.assertEqual(m.answer, [])
        m, _ = self._exchange(k, self._msg(), tcp=True)
        self.assertFalse(m.flags & dns.flags.TC)
        self.assertEqual(sorted(rd.address for rr in m.answer for rd in rr),
                         sorted(addrs))

        # ECS: well-formed, a prefix longer than the family, family 3, and
        # junk option data; sticky picks stay sane, never a crash.
        good = dns.edns.ECSOption("192.0.2.0", 24)
        for opt in (good,
                    dns.edns.GenericOption(8, b"\x00\x01\x21\x00\xc0\x00\x02\x01\x00"),
                    dns.edns.GenericOption(8, b"\x00\x03\x08\x00\xc0"),
                    dns.edns.GenericOption(8, b"\x00\x02\x80\x00" + b"\xff" * 17),
                    dns.edns.GenericOption(8, b"\x00")):
            q = self._msg(use_edns=0, payload=1232, options=[opt])
            m, _ = self._exchange(k, q)
            self.assertIn(m.rcode(), (dns.rcode.NOERROR, dns.rcode.FORMERR))
            if m.rcode() == dns.rcode.NOERROR:
                got = [rd.address for rr in m.answer for rd in rr]
                self.assertEqual(sorted(got), sorted(addrs))

        # Class CH, and NOTIFY/UPDATE opcodes: never synthesised.
        m, _ = self._exchange(k, self._msg(rdclass="CH"))
        self.assertEqual(m.answer, [])
        for opcode in (dns.opcode.NOTIFY, dns.opcode.UPDATE):
            q = self._msg()
            q.set_opcode(opcode)
            r = self._raw(k, q.to_wire(), timeout=0.5)
            if r is not None:
                self.assertEqual(struct.unpack("!H", r[6:8])[0], 0,
                                 "answer records for opcode %d" % opcode)
        self.assert_up(k, addrs)
        self.assertEqual(k.stop(), 0)


class SharedSegment(tgc.TgcTestCase):
    """One live writer per segment, and a segment that changes under knotd
    (truncated, re-moded, forged by another user) never crashes it nor
    steers it."""

    INTERVAL, TIMEOUT, FALL = 300, 200, 2
    # The module's answers override the zone's static A record; the static
    # record answers when the module is not loaded (fail-safe).
    STATIC = "127.0.0.200"

    def lb_conf(self, nodes, shm):
        return {ZONE: {"node": [x.spec for x in nodes], "policy": "ordered",
                       "shm": shm, "check-interval": self.INTERVAL,
                       "check-timeout": self.TIMEOUT,
                       "check-fall": self.FALL}}

    def records(self):
        return tgc.DEFAULT_RECORDS + ["@ A " + self.STATIC]

    def test_second_knotd_same_config_refused_first_keeps_working(self):
        n = self.nodes([("127.0.0.11", "tcp"), ("127.0.0.12", "tcp")])
        addrs = [x.addr for x in n]
        shm = tgc.unique("faults-two")
        self.addCleanup(tgc.unlink_segment, shm)
        k1 = self.knotd(self.lb_conf(n, shm), records=self.records())
        seg = k1.shm()
        wait_until(lambda: seg.health() == ["up", "up"], 5, what="all up")
        self.assertEqual(query(k1.port, APEX).addrs, addrs,
                         "module answers override the static A record")

        # The same configuration on the same host: refused, with the pid
        # of the owner and what to change; the zone answers its static A.
        k2 = self.knotd(self.lb_conf(n, shm), records=self.records())
        log2 = k2.log_text()
        self.assertIn("owned by another running process, pid %d" % k1.pid, log2)
        self.assertIn("give each knotd on this host its own 'shm'", log2)
        self.assertEqual(query(k2.port, APEX).addrs, [self.STATIC],
                         "fail-safe: static A record without the module")
        hdr = seg.header()
        self.assertEqual(hdr["owner_pid"], k1.pid)
        self.assertStays(lambda: time.time() * 1000 - seg.header()["heartbeat_ms"]
                         < 1000, 1.0, what="first knotd's heartbeat")

        # Stop the second: the first still drops a killed node in time.
        k2.stop()
        bound = (self.INTERVAL * self.FALL + self.TIMEOUT + self.INTERVAL) / 1000
        t0 = time.monotonic()
        n[0].stop()
        # Generous deadline on a loaded machine; the time is reported.
        wait_until(lambda: query(k1.port, APEX).addrs == [addrs[1]],
                   3 * bound + 2, interval=0.02, what="killed node dropped")
        tgc.log("killed node dropped after %.2f s (bound %.2f s)"
                % (time.monotonic() - t0, bound))
        self.assertNotIn("no heartbeat", k1.log_text())

        # The other way round: once the first knotd is gone, a reload of
        # the second loads the module on the kept segment.
        k2.start()
        self.assertEqual(query(k2.port, APEX).addrs, [self.STATIC])
        k1.stop()
        mark = k2.log_mark()
        k2.reload()
        wait_until(lambda: query(k2.port, APEX).addrs == [addrs[1]], 5,
                   what="second knotd serves the segment after the first stopped")
        self.assertIn("reused, states kept", k2.log_since(mark))
        wait_until(lambda: seg.header()["owner_pid"] == k2.pid, 2)

    def _running(self):
        n = self.nodes([("127.0.0.11", "tcp"), ("127.0.0.12", "tcp")])
        shm = tgc.unique("faults-live")
        self.addCleanup(tgc.unlink_segment, shm)
        k = self.knotd(self.lb_conf(n, shm), records=self.records())
        seg = k.shm()
        wait_until(lambda: seg.health() == ["up", "up"], 5, what="all up")
        return k, n, seg

    def _keeps_answering(self, k, n, seg, mark):
        addrs = [x.addr for x in n]
        for _ in range(50):
            self.assertEqual(query(k.port, APEX).addrs, addrs)
        self.assertTrue(k.alive(), "knotd died")
        # Still health-checking from its own copy: a killed node leaves.
        n[0].stop()
        wait_until(lambda: query(k.port, APEX).addrs == [addrs[1]], 5,
                   what="killed node dropped without the segment")
        self.assertTrue(k.alive(), "knotd died")
        # knotc reload recreates a trusted segment.
        k.reload()
        wait_until(lambda: seg.exists() and
                   os.stat(seg.path).st_size == tgc.rec_base(2) and
                   seg.health()[0] == "down", 5, what="segment recreated")
        st = os.stat(seg.path)
        self.assertEqual(st.st_mode & 0o777, 0o600)

    def test_truncated_segment_never_crashes(self):
        for size in (0, tgc.HDR_SIZE):
            with self.subTest(size=size):
                k, n, seg = self._running()
                mark = k.log_mark()
                os.truncate(seg.path, size)
                wait_until(lambda: "segment's size changed" in k.log_since(mark),
                           3, what="truncation noticed")
                self._keeps_answering(k, n, seg, mark)
                k.cleanup()
                for x in n:
                    x.close()

    def test_segment_made_world_writable_is_dropped(self):
        k, n, seg = self._running()
        addrs = [x.addr for x in n]
        mark = k.log_mark()
        os.chmod(seg.path, 0o666)
        wait_until(lambda: "accessible to other users" in k.log_since(mark), 3,
                   what="mode change noticed")
        # Whatever another user now writes is not taken in.
        seg.set_admin(0, "down", wait=False)
        seg.set_admin(1, "down", wait=False)
        self.assertStays(lambda: query(k.port, APEX).addrs == addrs, 1.0,
                         what="answers ignore the dropped segment")
        self._keeps_answering(k, n, seg, mark)

    @staticmethod
    def owner_word(pid):
        """The owner word of process \\a pid (table.h TGC_TABLE_OWNER)."""
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[19]) << tgc.LAYOUT.OWNER_PID_BITS) | pid

    @staticmethod
    def poke_header(seg, **fields):
        fd = os.open(seg.path, os.O_RDWR)
        try:
            m = mmap.mmap(fd, tgc.HDR_SIZE)
            try:
                for name, value in fields.items():
                    tgc.seg_put(m, "HDR", name, value)
            finally:
                m.close()
        finally:
            os.close(fd)

    def test_lost_token_stale_then_taken_back(self):
        """Another process takes the segment and stops beating: queries
        notice the stale table (logged once, counted) and keep flowing; once
        that process is gone knotd takes the table back within two check
        intervals."""
        k, n, seg = self._running()
        addrs = [x.addr for x in n]
        mark = k.log_mark()
        self.poke_header(seg, owner=self.owner_word(os.getpid()),
                         writer=0x5eed, heartbeat_ms=int(time.time() * 1000) - 10000)
        wait_until(lambda: "no heartbeat for" in
                   (query(k.port, APEX) and k.log_since(mark)), 3,
                   what="stale table noticed by a query")
        for _ in range(20):
            self.assertEqual(query(k.port, APEX).addrs, addrs)
        self.assertEqual(k.log_since(mark).count("no heartbeat for"), 1,
                         "stale table logged more than once")
        self.assertIn("error:", [l for l in k.log_since(mark).splitlines()
                                 if "no heartbeat for" in l][0])
        self.assertGreaterEqual(tgc.stat_sum(k.zone_stats(), "stale-table"), 20)

        # The thief is gone: taken back within two check intervals.
        p = subprocess.Popen(["sleep", "30"])
        dead = self.owner_word(p.pid)
        p.kill()
        p.wait()
        t0 = time.monotonic()
        self.poke_header(seg, owner=dead)
        wait_until(lambda: "took the writer role back from pid %d" % p.pid
                   in k.log_since(mark), 2 * self.INTERVAL / 1000 + 2,
                   what="writer role taken back")
        tgc.log("taken back after %.2f s" % (time.monotonic() - t0))
        wait_until(lambda: seg.header()["owner_pid"] == k.pid, 2)
        wait_until(lambda: query(k.port, APEX) and
                   "heartbeat back" in k.log_since(mark), 3)
        # And it checks again: a killed node leaves.
        n[0].stop()
        wait_until(lambda: query(k.port, APEX).addrs == [addrs[1]], 5,
                   what="killed node dropped after the retake")

    def test_forged_segment_refused_by_ctl(self):
        if os.geteuid() != 0:
            tgc.skip_for_environment(
                self, "needs root to plant a segment owned by another user")
        k, n, seg = self._running()
        real = seg.header()
        forged = tgc.unique("faults-forged")
        path = tgc.shm_path(forged)
        self.addCleanup(tgc.unlink_segment, forged)
        # The layout of table.h, the real knotd's pid and owner word and a
        # fresh heartbeat, planted by another user.
        image = bytearray(segment_image([n[0].addr, n[1].addr]))
        tgc.seg_put(image, "HDR", "writer", 1)
        tgc.seg_put(image, "HDR", "writer_pid", k.pid)
        tgc.seg_put(image, "HDR", "heartbeat_ms", int(time.time() * 1000))
        tgc.seg_put(image, "HDR", "owner", real["owner"])
        plant(path, bytes(image), uid=NOBODY)
        for args in (("set", forged, n[0].addr, "drain"), ("status", forged)):
            rc, out = ctl(*args)
            self.assertNotEqual(rc, 0, "%s accepted: %s" % (args, out))
            self.assertIn("is owned by", out)
            self.assertIn("writer pid %d" % k.pid, out)
            self.assertNotIn("auto -> drain", out)
        rc, out = ctl("list")
        self.assertEqual(rc, 0, out)
        self.assertRegex(out, forged + r".*untrusted")
        # The real segment is still usable.
        rc, out = ctl("set", os.path.basename(seg.path), n[0].addr, "drain")
        self.assertEqual(rc, 0, out)
        wait_until(lambda: query(k.port, APEX).addrs == [n[1].addr], 2,
                   what="drain through the real segment")


if __name__ == "__main__":
    tgc.main()
