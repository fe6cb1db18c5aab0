#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""tgclusterctl against a spawned knotd: set takes effect on the next query,
admin states survive reload and restart, status --json matches what DNS
answers, watch stops on signals, and every error has its exit code.

The CLI is $TGC_CTL (default build/tgclusterctl). Instances are always named
explicitly: other tests may have segments on this host at the same time.
"""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tgc  # noqa: E402
from tgc import query, wait_until  # noqa: E402

CTL = os.path.abspath(os.environ.get(
    "TGC_CTL", os.path.join(tgc.REPO, "build", "tgclusterctl")))

ZONE = "cluster.test"
APEX = ZONE + "."

EXIT_USAGE, EXIT_NOINST, EXIT_PERM, EXIT_VERSION, EXIT_NONODE, EXIT_CORRUPT = \
    2, 3, 4, 5, 6, 7

NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]


def ctl(*args, prefix=(), timeout=30, raw=False):
    """Runs tgclusterctl; returns the CompletedProcess (text output, or
    bytes with \\a raw). Arguments may be str (surrogate escapes become
    their bytes) or bytes."""
    return subprocess.run(list(prefix) + [CTL] + [a if isinstance(a, bytes)
                                                  else str(a) for a in args],
                          stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, timeout=timeout,
                          text=not raw)


# What must never reach a terminal raw: C0 controls but newline, DEL, C1
# controls (U+009B is a CSI), bidi controls, invisible separators/joiners.
UNSAFE = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200b-\u200f"
                    "\u2028-\u202e\u2060-\u2069\ufeff]")


class CtlCase(tgc.TgcTestCase):
    """Helpers shared by the test classes."""

    def ctl_ok(self, *args):
        p = ctl(*args)
        self.assertEqual(p.returncode, 0, "tgclusterctl %s: rc %d\nstdout: %s\n"
                         "stderr: %s" % (" ".join(map(str, args)), p.returncode,
                                         p.stdout, p.stderr))
        return p

    def ctl_fails(self, code, *args, prefix=(), stderr_has=()):
        p = ctl(*args, prefix=prefix)
        self.assertEqual(p.returncode, code, "tgclusterctl %s: rc %d, expected "
                         "%d\nstdout: %s\nstderr: %s"
                         % (" ".join(map(str, args)), p.returncode, code,
                            p.stdout, p.stderr))
        self.assertTrue(p.stderr.startswith("tgclusterctl: "), p.stderr)
        self.assertEqual(p.stdout, "", "errors go to stderr only")
        for needle in stderr_has:
            self.assertIn(needle, p.stderr)
        return p

    def status(self, seg):
        doc = json.loads(self.ctl_ok("status", seg, "--json").stdout)
        self.assertEqual(doc["version"], 1)
        return doc

    def fake_segment(self, data):
        """Writes a segment file with \\a data (0600); removed at cleanup."""
        name = tgc.unique("tgcluster.test-ctl-fake-")
        path = os.path.join(tgc.SHM_DIR, name)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        self.addCleanup(tgc.unlink_segment, name)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        return name


class CtlLb(CtlCase):
    """A load balancer with three live nodes, ordered policy."""

    def setUp(self):
        self.n = self.nodes([("127.0.0.11", "tcp"), ("127.0.0.12", "tcp"),
                             ("127.0.0.13", "tcp")])
        self.addrs = [x.addr for x in self.n]
        self.k = self.knotd({ZONE: {
            "node": [x.spec for x in self.n], "policy": "ordered",
            "check-interval": 200, "check-timeout": 100,
            "check-rise": 2, "check-fall": 2}})
        self.segment = os.path.basename(self.k.shm().path)
        wait_until(lambda: self.k.shm().health() == ["up"] * 3, 5,
                   what="all nodes confirmed up")

    def answers(self):
        return query(self.k.port, APEX).addrs

    def admin_log_lines(self, mark, addr, state):
        return [line for line in self.k.log_since(mark).splitlines()
                if addr in line and "admin" in line and state in line]

    # -- set -----------------------------------------------------------
    def test_set_drain_removes_node_at_once_and_auto_restores(self):
        self.assertEqual(self.answers(), self.addrs)
        mark = self.k.log_mark()
        p = self.ctl_ok("set", self.segment, self.addrs[0], "drain")
        self.assertIn("node 0 (%s) admin auto -> drain" % self.n[0].spec,
                      p.stdout)
        # The very next query: no reload, no waiting.
        self.assertEqual(self.answers(), self.addrs[1:])
        doc = self.status(self.segment)
        self.assertEqual([x["admin"] for x in doc["nodes"]],
                         ["drain", "auto", "auto"])
        self.assertEqual(doc["nodes"][0]["health"], "up",
                         "a drained node is still health-checked")
        # Logged by the module once.
        wait_until(lambda: self.admin_log_lines(mark, self.addrs[0], "drain"),
                   3, what="admin change logged")
        # A window (two admin ticks and more) in which no second line may
        # appear.
        self.assertStays(lambda: len(self.admin_log_lines(
            mark, self.addrs[0], "drain")) == 1, 0.5,
            what="one admin log line:\n" + self.k.log_since(mark))

        # Unchanged state: said so, still exit 0.
        p = self.ctl_ok("set", self.segment, "0", "drain")
        self.assertIn("already drain", p.stdout)

        p = self.ctl_ok("set", self.segment, "0", "auto")
        self.assertIn("admin drain -> auto", p.stdout)
        self.assertEqual(self.answers(), self.addrs)

    def test_set_up_answers_dead_node(self):
        self.n[2].stop()
        wait_until(lambda: self.answers() == self.addrs[:2], 5,
                   what="dead node left out")
        self.ctl_ok("set", self.segment, "2", "up")
        self.assertEqual(self.answers(), self.addrs)
        node = self.status(self.segment)["nodes"][2]
        self.assertEqual((node["health"], node["admin"]), ("down", "up"))
        self.ctl_ok("set", self.segment, self.n[2].spec, "auto")
        self.assertEqual(self.answers(), self.addrs[:2])

    def test_set_down_removes_live_node(self):
        self.ctl_ok("set", self.segment, self.n[1].spec, "down")
        self.assertEqual(self.answers(), [self.addrs[0], self.addrs[2]])
        node = self.status(self.segment)["nodes"][1]
        self.assertEqual((node["health"], node["admin"]), ("up", "down"))
        self.ctl_ok("set", self.segment, "1", "auto")
        self.assertEqual(self.answers(), self.addrs)

    def test_admin_state_survives_reload_and_restart(self):
        self.ctl_ok("set", self.segment, "1", "drain")
        self.ctl_ok("set", self.segment, "2", "down")
        want = [self.addrs[0]]
        self.assertEqual(self.answers(), want)

        threads = self.k.threads()
        self.k.reload()
        self.assertEqual(self.answers(), want)
        # Past the point where the old instance is gone (its checker thread
        # ended: knotd has as many threads as before) and the new one owns
        # the table.
        wait_until(lambda: self.k.threads() == threads, 10,
                   what="checker of the old instance ended")
        self.assertEqual(self.answers(), want)
        doc = self.status(self.segment)
        self.assertEqual([x["admin"] for x in doc["nodes"]],
                         ["auto", "drain", "down"])

        old_pid = self.k.pid
        self.k.restart()
        self.assertEqual(self.answers(), want)
        doc = wait_until(lambda: (lambda d: d if d["writer_pid"] == self.k.pid
                                  else None)(self.status(self.segment)),
                         5, what="new knotd owns the segment")
        self.assertNotEqual(doc["writer_pid"], old_pid)
        self.assertEqual([x["admin"] for x in doc["nodes"]],
                         ["auto", "drain", "down"])
        self.assertEqual(self.answers(), want)

        self.ctl_ok("set", self.segment, "1", "auto")
        self.ctl_ok("set", self.segment, "2", "auto")
        self.assertEqual(self.answers(), self.addrs)

    # -- status --------------------------------------------------------
    def test_status_json_matches_dns(self):
        self.n[1].stop()
        wait_until(lambda: self.status(self.segment)["nodes"][1]["health"]
                   == "down", 5, what="killed node down in status --json")
        before = self.status(self.segment)
        served = set()
        for _ in range(10):
            served.update(self.answers())
        # Answer counts reach the segment with the next admin tick (200 ms).
        wait_until(lambda: self.status(self.segment)["nodes"][0]["answers"] -
                   before["nodes"][0]["answers"] >= 10, 3,
                   what="answer counts folded into the segment")
        after = self.status(self.segment)

        self.assertEqual(after["segment"], self.segment)
        self.assertEqual(after["zone"], ZONE)
        self.assertEqual(after["name"], ZONE)
        self.assertEqual(after["role"], "lb")
        self.assertEqual(after["check"], {"kind": "tcp", "interval_ms": 200,
                                          "timeout_ms": 100, "rise": 2,
                                          "fall": 2})
        self.assertEqual(after["writer_pid"], self.k.pid)
        self.assertFalse(after["heartbeat_stale"])
        self.assertLess(after["heartbeat_age_ms"], 3 * 200 + 1000)
        nodes = after["nodes"]
        self.assertEqual([(x["index"], x["address"], x["port"], x["mapped"])
                          for x in nodes],
                         [(i, s.addr, s.port, None) for i, s in enumerate(self.n)])
        self.assertEqual([x["health"] for x in nodes], ["up", "down", "up"])
        self.assertEqual(nodes[1]["last_probe"], "refused")
        self.assertGreaterEqual(nodes[1]["consec_fail"], 2)
        self.assertEqual(nodes[1]["consec_ok"], 0)
        self.assertGreaterEqual(nodes[0]["consec_ok"], 2)
        for x in nodes:
            self.assertEqual(x["admin"], "auto")
            self.assertGreater(x["probes"], 0)
            self.assertIsInstance(x["last_rtt_us"], int)
            self.assertGreaterEqual(x["in_state_ms"], 0)
            self.assertLessEqual(x["since_ms"], after["now_ms"])

        # The nodes status calls answerable are exactly those DNS answered,
        # and their answer counters grew by the queries made.
        live = {x["address"] for x in nodes if x["health"] != "down"}
        self.assertEqual(served, live)
        for i in (0, 2):
            self.assertGreaterEqual(nodes[i]["answers"] -
                                    before["nodes"][i]["answers"], 10)
        self.assertEqual(nodes[1]["answers"], before["nodes"][1]["answers"])

    def test_status_human_list_and_watch(self):
        p = self.ctl_ok("status", self.segment)
        lines = p.stdout.splitlines()
        self.assertTrue(lines[0].startswith(self.segment + ": zone " + ZONE),
                        lines[0])
        self.assertIn("check tcp, interval 200 ms, timeout 100 ms, rise 2, "
                      "fall 2", lines[1])
        self.assertNotIn("STALE", lines[1])
        # The zone has no admin record: none, or its serial once a query
        # made the module read it.
        self.assertRegex(lines[2], r"^min-live 0; zone admin records: (none "
                         r"taken in yet|serial 1, 0 malformed, 0 held back "
                         r"by min-live)$")
        head = lines[4]
        self.assertTrue(head.startswith("IDX  ADDRESS"), head)
        rows = lines[5:]
        self.assertEqual(len(rows), 3)
        col = head.index("HEALTH")
        for i, row in enumerate(rows):
            self.assertIn(self.addrs[i], row)
            self.assertTrue(row[col:].startswith("up "), row)

        p = self.ctl_ok("list")
        self.assertIn(self.segment, p.stdout)
        segs = json.loads(self.ctl_ok("list", "--json").stdout)["segments"]
        mine = [s for s in segs if s["segment"] == self.segment]
        self.assertEqual(len(mine), 1, segs)
        self.assertEqual((mine[0]["zone"], mine[0]["role"], mine[0]["node_count"],
                          mine[0]["writer_pid"], mine[0]["writer_alive"]),
                         (ZONE, "lb", 3, self.k.pid, True))

        p = self.ctl_ok("watch", self.segment, "--count", "3", "--interval", "50")
        self.assertEqual(p.stdout.count("tgclusterctl watch " + self.segment), 3)
        self.assertEqual(p.stdout.count("IDX  ADDRESS"), 3)

    def test_watch_stops_on_signals(self):
        for sig in (signal.SIGINT, signal.SIGTERM):
            proc = subprocess.Popen([CTL, "watch", self.segment, "--interval",
                                     "100"], stdin=subprocess.DEVNULL,
                                    stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE)
            try:
                first = proc.stdout.readline()
                self.assertIn(b"tgclusterctl watch", first)
                # The second screen: watch is in its refresh loop.
                while True:
                    line = proc.stdout.readline()
                    self.assertTrue(line, "watch ended before its second "
                                    "screen")
                    if b"tgclusterctl watch" in line:
                        break
                proc.send_signal(sig)
                out, err = proc.communicate(timeout=5)
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait(5)
            self.assertEqual(proc.returncode, 0, "watch after %s: %r" % (sig, err))

    # -- errors --------------------------------------------------------
    def test_unknown_node_and_instance(self):
        self.ctl_fails(EXIT_NONODE, "set", self.segment, "3", "drain",
                       stderr_has=("no such node",))
        self.ctl_fails(EXIT_NONODE, "set", self.segment, "127.0.0.99", "drain")
        self.ctl_fails(EXIT_NONODE, "set", self.segment,
                       "%s@%d" % (self.addrs[0], self.n[1].port), "drain")
        missing = tgc.unique("no-such-instance-")
        self.ctl_fails(EXIT_NOINST, "status", missing,
                       stderr_has=("no such instance", missing))
        self.ctl_fails(EXIT_NOINST, "set", missing, "0", "drain")
        self.ctl_fails(EXIT_NOINST, "watch", missing, "--count", "1")
        self.assertEqual([x["admin"] for x in self.status(self.segment)["nodes"]],
                         ["auto"] * 3, "failed commands changed nothing")

    def test_usage_errors(self):
        self.ctl_fails(EXIT_USAGE, "set", self.segment, "0", "sideways",
                       stderr_has=("sideways",))
        self.ctl_fails(EXIT_USAGE, "set", self.segment, "not-a-node", "drain")
        self.ctl_fails(EXIT_USAGE, "set", self.segment)
        self.ctl_fails(EXIT_USAGE, "status", self.segment, "--interval", "10")
        self.ctl_fails(EXIT_USAGE, "watch", self.segment, "--interval", "x")
        self.ctl_fails(EXIT_USAGE, "status", self.segment, "extra")
        self.ctl_fails(EXIT_USAGE, "frobnicate")
        self.ctl_fails(EXIT_USAGE, "--bogus", "list")
        p = ctl()
        self.assertEqual(p.returncode, EXIT_USAGE)
        self.assertIn("Usage:", p.stderr)
        p = self.ctl_ok("--help")
        self.assertIn("Usage:", p.stdout)
        p = self.ctl_ok("--version")
        self.assertIn("segment layout version %d" % tgc.TABLE_VERSION, p.stdout)

    def test_permission_denied_for_other_user(self):
        if os.geteuid() != 0:
            tgc.skip_for_environment(
                self, "needs root to own the segment and drop privileges")
        if shutil.which(NOBODY[0]) is None:
            self.fail("setpriv not installed (scripts/deps.sh: util-linux)")
        st = os.stat(os.path.join(tgc.SHM_DIR, self.segment))
        self.assertEqual((st.st_uid, st.st_mode & 0o777), (0, 0o600))
        prefix = NOBODY + [self._ctl_for_nobody()]
        for args in (["status", self.segment], ["status", self.segment, "--json"],
                     ["set", self.segment, "0", "drain"],
                     ["watch", self.segment, "--count", "1"]):
            p = subprocess.run(prefix + args, stdin=subprocess.DEVNULL,
                               capture_output=True, text=True, timeout=30)
            self.assertEqual(p.returncode, EXIT_PERM, "%s: %r" % (args, p))
            self.assertIn("permission denied", p.stderr)
            self.assertIn("mode 0600", p.stderr)
        # list shows the segment, unreadable, and succeeds.
        p = subprocess.run(prefix + ["list"], capture_output=True, text=True,
                           timeout=30)
        self.assertEqual(p.returncode, 0, p)
        self.assertIn(self.segment, p.stdout)
        self.assertEqual(self.status(self.segment)["nodes"][0]["admin"], "auto")

    def _ctl_for_nobody(self):
        """Path of the CLI that the unprivileged user can execute."""
        p = subprocess.run(NOBODY + [CTL, "--version"], capture_output=True,
                           timeout=30)
        if p.returncode == 0:
            return CTL
        d = tempfile.mkdtemp(prefix="tgc-ctl-")
        self.addCleanup(shutil.rmtree, d, True)
        os.chmod(d, 0o755)
        path = os.path.join(d, "tgclusterctl")
        shutil.copy2(CTL, path)
        os.chmod(path, 0o755)
        return path

    def test_version_and_corrupt_segments(self):
        with open(os.path.join(tgc.SHM_DIR, self.segment), "rb") as f:
            good = bytearray(f.read())

        other = bytearray(good)
        tgc.seg_put(other, "HDR", "version", tgc.TABLE_VERSION + 1)
        name = self.fake_segment(other)
        self.ctl_fails(EXIT_VERSION, "status", name, stderr_has=(
            "segment layout version %d, this tgclusterctl understands %d"
            % (tgc.TABLE_VERSION + 1, tgc.TABLE_VERSION),))
        self.ctl_fails(EXIT_VERSION, "set", name, "0", "drain")

        bad_magic = bytearray(good)
        bad_magic[0] ^= 0xff
        self.ctl_fails(EXIT_CORRUPT, "status", self.fake_segment(bad_magic),
                       stderr_has=("invalid",))
        self.ctl_fails(EXIT_CORRUPT, "status", self.fake_segment(good[:-1]))
        self.ctl_fails(EXIT_CORRUPT, "status", self.fake_segment(b"x" * 100))

        # list reports them and goes on.
        p = self.ctl_ok("list")
        self.assertIn(name, p.stdout)
        self.assertIn("layout version %d" % (tgc.TABLE_VERSION + 1), p.stdout)


class CtlMisc(CtlCase):
    """Instances named in other ways, ambiguous nodes."""

    def test_instance_by_zone_and_short_name(self):
        # A zone of its own: other tests may serve cluster.test meanwhile.
        zone = tgc.unique("ctl") + ".test"
        n = self.nodes([("127.0.0.31", "tcp"), ("127.0.0.32", "tcp")])
        k = self.knotd({zone: {"node": [x.spec for x in n], "policy": "ordered",
                               "check-interval": 200, "check-timeout": 100}})
        seg = os.path.basename(k.shm().path)
        short = seg[len("tgcluster."):]
        for inst in (zone, zone.upper() + ".", short, "/" + seg):
            p = self.ctl_ok("set", inst, "1", "drain")
            self.assertIn(seg + ": node 1", p.stdout)
            self.assertEqual(query(k.port, zone + ".").addrs, [n[0].addr])
            self.assertEqual(self.status(inst)["segment"], seg)
            self.ctl_ok("set", inst, "1", "auto")
            self.assertEqual(query(k.port, zone + ".").addrs,
                             [n[0].addr, n[1].addr])

    def test_ambiguous_address_lists_candidates(self):
        n = self.nodes([("127.0.0.21", "tcp"), ("127.0.0.21", "tcp"),
                        ("127.0.0.22", "tcp")])
        k = self.knotd({ZONE: {"node": [x.spec for x in n],
                               "check-interval": 200, "check-timeout": 100}})
        seg = os.path.basename(k.shm().path)
        p = self.ctl_fails(EXIT_NONODE, "set", seg, "127.0.0.21", "drain",
                           stderr_has=("ambiguous", n[0].spec, n[1].spec))
        self.assertNotIn(n[2].spec, p.stderr)
        self.assertEqual([x["admin"] for x in self.status(seg)["nodes"]],
                         ["auto"] * 3)
        p = self.ctl_ok("set", seg, n[1].spec, "drain")
        self.assertIn("node 1 (%s)" % n[1].spec, p.stdout)
        self.assertEqual([x["admin"] for x in self.status(seg)["nodes"]],
                         ["auto", "drain", "auto"])


class CtlHostileNames(CtlCase):
    """Segments, zones and names written by someone else: nothing they hold
    reaches a terminal raw, JSON stays strict, and what stands at a
    segment's name without being one is named."""

    # Name of a forged segment: an escape sequence, a C1 CSI (U+009B), an
    # isolate (U+2066), a BOM; its zone (unique: other runs may forge theirs
    # meanwhile) has a bidi override (U+202E).
    NAME_TXT = "n\x1b[2J\u009b31m\u2066x\ufeff.test"

    def setUp(self):
        self.zone_txt = tgc.unique("evil\u202etxt-") + ".test"
        n = self.nodes([("127.0.0.41", "tcp")])
        self.k = self.knotd({ZONE: {"node": [n[0].spec], "check": "none"}})
        self.segment = os.path.basename(self.k.shm().path)
        with open(os.path.join(tgc.SHM_DIR, self.segment), "rb") as f:
            self.good = bytes(f.read())

    def forged(self, suffix=b""):
        """A valid segment with the hostile zone and name, under a file name
        ending in \\\\a suffix (bytes, may be invalid UTF-8)."""
        data = bytearray(self.good)
        for off, size, txt in ((40, 256, self.zone_txt), (360, 256, self.NAME_TXT)):
            raw = txt.encode("utf-8")
            data[off:off + size] = raw + bytes(size - len(raw))
        name = os.fsencode(tgc.unique("tgcluster.test-ctl-evil-")) + suffix
        path = os.path.join(os.fsencode(tgc.SHM_DIR), name)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        self.addCleanup(self._unlink, path)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        return name

    @staticmethod
    def _unlink(path):
        try:
            if os.path.isdir(path) and not os.path.islink(path):
                os.rmdir(path)
            else:
                os.unlink(path)
        except FileNotFoundError:
            pass

    def clean(self, out, what):
        """\\\\a out (bytes) is strict UTF-8 with no unsafe code point."""
        text = out.decode("utf-8")  # raises on invalid UTF-8
        bad = UNSAFE.findall(text)
        self.assertEqual(bad, [], "%s: raw %r in %r" % (what, bad, text))
        return text

    def test_text_and_json_escaped(self):
        # A file name with an escape sequence and an invalid UTF-8 byte.
        seg = self.forged(b"\x1b[1m\xff")
        p = ctl("status", seg, raw=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        text = self.clean(p.stdout, "status")
        self.assertIn("zone " + self.zone_txt.replace("\u202e", "\\u{202e}"),
                      text)
        self.assertIn("name n\\x1b[2J\\u{009b}31m\\u{2066}x\\u{feff}.test", text)
        self.assertIn("\\x1b[1m\\xff: zone", text)

        p = ctl("status", seg, "--json", raw=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        raw = self.clean(p.stdout, "status --json")
        # Escaped (JSON hex digits may be either case).
        self.assertIn("\\u202e", raw.lower())
        self.assertIn("\\u009b", raw.lower())
        doc = json.loads(raw)
        # Valid UTF-8 comes back exactly; the invalid byte as U+FFFD.
        self.assertEqual(doc["zone"], self.zone_txt)
        self.assertEqual(doc["name"], self.NAME_TXT)
        self.assertTrue(doc["segment"].endswith("\x1b[1m\ufffd"), doc["segment"])

        # Found by its zone too; list and list --json are clean.
        p = ctl("status", self.zone_txt, "--json", raw=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(json.loads(self.clean(p.stdout, "by zone"))["name"],
                         self.NAME_TXT)
        p = ctl("list", raw=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn(self.zone_txt.replace("\u202e", "\\u{202e}"),
                      self.clean(p.stdout, "list"))
        p = ctl("list", "--json", raw=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        segs = json.loads(self.clean(p.stdout, "list --json"))["segments"]
        self.assertIn(self.zone_txt, [x["zone"] for x in segs])

        # set and watch print the segment name escaped.
        p = ctl("set", seg, "0", "drain", raw=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("\\x1b[1m\\xff: node 0", self.clean(p.stdout, "set"))
        self.clean(p.stderr, "set stderr")
        p = ctl("watch", seg, "--count", "1", raw=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.clean(p.stdout, "watch")

        # Errors naming what the user typed or what is on the host.
        p = ctl("status", b"\x1b]0;owned\x07\xc2\x9b\xe2\x80\xae", raw=True)
        self.assertEqual(p.returncode, EXIT_NOINST)
        err = self.clean(p.stderr, "error")
        self.assertIn("\\x1b]0;owned\\x07\\u{009b}\\u{202e}", err)
        p = ctl("set", seg, "\x1b[2J", "drain", raw=True)
        self.assertEqual(p.returncode, EXIT_USAGE)
        self.assertIn("\\x1b[2J", self.clean(p.stderr, "node error"))

    def test_fifo_directory_and_link_named(self):
        base = tgc.unique("tgcluster.test-ctl-odd-")
        fifo, dird, link = base + "-fifo", base + "-dir", base + "-link"
        for name in (fifo, dird, link):
            self.addCleanup(self._unlink, os.path.join(tgc.SHM_DIR, name))
        os.mkfifo(os.path.join(tgc.SHM_DIR, fifo), 0o600)
        os.mkdir(os.path.join(tgc.SHM_DIR, dird), 0o700)
        os.symlink(self.segment, os.path.join(tgc.SHM_DIR, link))

        # Every command says what is there, at once (a FIFO opened for
        # reading would block until a writer comes: the timeout fails it).
        for name, kind in ((fifo, "a FIFO"), (dird, "a directory"),
                           (link, "a symbolic link")):
            what = "%s/%s is %s, not a tgcluster segment" % (tgc.SHM_DIR, name,
                                                              kind)
            p = ctl("status", name, timeout=20)
            self.assertEqual(p.returncode, EXIT_CORRUPT, p.stderr)
            self.assertIn(what, p.stderr)
            self.assertEqual(p.stdout, "")
            short = name[len(tgc.SHM_PREFIX):]
            for args in (("status", short, "--json"), ("set", name, "0", "drain"),
                         ("watch", name, "--count", "1")):
                p = ctl(*args, timeout=20)
                self.assertEqual(p.returncode, EXIT_CORRUPT, (args, p.stderr))
                self.assertIn(what, p.stderr)

        # list names them and goes on; the real segment is unaffected.
        p = ctl("list", timeout=20)
        self.assertEqual(p.returncode, 0, p.stderr)
        for name, kind in ((fifo, "a FIFO"), (dird, "a directory"),
                           (link, "a symbolic link")):
            line = [x for x in p.stdout.splitlines() if x.startswith(name + " ")]
            self.assertEqual(len(line), 1, p.stdout)
            self.assertIn("%s, not a tgcluster segment" % kind, line[0])
        segs = json.loads(ctl("list", "--json", timeout=20).stdout)["segments"]
        errors = {x["segment"]: x["error"] for x in segs}
        self.assertEqual(errors[fifo], "a FIFO, not a tgcluster segment")
        self.assertIsNone(errors[self.segment])
        self.assertEqual(self.status(self.segment)["zone"], ZONE)


if __name__ == "__main__":
    tgc.main()
