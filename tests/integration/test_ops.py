#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Operating the module: `tgclusterctl metrics` checked by promtool and
against the live table, leftover segments of a stopped knotd (list, lookups
that pick the live segment, prune), knotd run as user knot with
NoNewPrivileges as the stock knot.service does, and the zone's static
records answering when the module cannot load.

Every instance has a zone and segment of its own: other tests may have
segments on this host at the same time. prune is only ever given this
test's segment names (or --dry-run).
"""

import json
import os
import pwd
import re
import shutil
import stat
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tgc  # noqa: E402
from tgc import query, wait_until  # noqa: E402

CTL = os.path.abspath(os.environ.get(
    "TGC_CTL", os.path.join(tgc.REPO, "build", "tgclusterctl")))
PROMTOOL = shutil.which("promtool")

EXIT_NOINST, EXIT_PERM = 3, 4
NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
STATIC = "127.0.0.200"

# One sample line of the text format: name{labels} value.
SAMPLE = re.compile(r'^([a-z_]+)\{(.*)\} (\S+)$')
LABEL = re.compile(r'([a-z_]+)="((?:[^"\\]|\\.)*)"')


def ctl(*args, prefix=(), stdin=None):
    return subprocess.run(list(prefix) + [CTL] + [str(a) for a in args],
                          input=stdin, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, timeout=30)


def parse_metrics(text):
    """{(name, frozenset(labels)): float} of the samples in \\a text."""
    out = {}
    for line in text.splitlines():
        if line.startswith("#") or not line:
            continue
        m = SAMPLE.match(line)
        assert m, "not a sample line: %r" % line
        labels = frozenset(LABEL.findall(m.group(2)))
        key = (m.group(1), labels)
        assert key not in out, "duplicate series: %r" % line
        out[key] = float(m.group(3))
    return out


def series(metrics, name, **labels):
    """Values of \\a name whose labels include \\a labels."""
    want = set(labels.items())
    return [v for (n, lab), v in metrics.items()
            if n == name and want <= set(lab)]


class OpsCase(tgc.TgcTestCase):

    def ctl_ok(self, *args, **kw):
        p = ctl(*args, **kw)
        self.assertEqual(p.returncode, 0, "tgclusterctl %s: rc %d\nstdout: %s\n"
                         "stderr: %s" % (" ".join(map(str, args)), p.returncode,
                                         p.stdout, p.stderr))
        return p

    def lb(self, zone, nodes, shm=None, **kw):
        items = {"node": [x.spec for x in nodes], "policy": "ordered",
                 "check-interval": 200, "check-timeout": 100}
        if shm is not None:
            items["shm"] = shm
        return self.knotd({zone: items}, **kw)

    def promtool(self, text):
        p = subprocess.run([PROMTOOL, "check", "metrics"], input=text,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True, timeout=60)
        self.assertEqual((p.returncode, p.stdout), (0, ""),
                         "promtool check metrics:\n%s\non:\n%s" % (p.stdout, text))


class Metrics(OpsCase):

    def setUp(self):
        if PROMTOOL is None:
            self.fail("promtool not installed (scripts/deps.sh: prometheus)")
        self.zone = tgc.unique("ops-m") + ".test"
        self.n = self.nodes([("127.0.0.41", "tcp"), ("127.0.0.42", "tcp")])
        self.k = self.lb(self.zone, self.n)
        self.seg = os.path.basename(self.k.shm().path)
        wait_until(lambda: self.k.shm().health() == ["up", "up"], 5,
                   what="both nodes up")
        # Node 1 dies; node 0 is drained by the operator.
        self.n[1].stop()
        wait_until(lambda: self.k.shm().health() == ["up", "down"], 5,
                   what="node 1 down")
        self.ctl_ok("set", self.seg, "0", "drain")
        for _ in range(7):
            self.assertEqual(query(self.k.port, self.zone + ".").addrs,
                             [self.n[0].addr])
        # Workers count answers privately; knotd adds them to the segment
        # on its next tick.
        wait_until(lambda: self.k.shm().nodes()[0]["answers"] >= 7, 5,
                   what="answers in the segment")

    def test_metrics_match_table_and_pass_promtool(self):
        out = tempfile.mkdtemp(prefix="tgc-metrics-")
        self.addCleanup(shutil.rmtree, out, True)
        path = os.path.join(out, "tgcluster.prom")
        with open(path, "w") as f:
            f.write("old content\n")
        self.ctl_ok("metrics", self.seg, "--output", path)
        status = json.loads(self.ctl_ok("status", self.seg, "--json").stdout)
        # Replaced atomically: no temporary file left, readable by others
        # (node_exporter need not run as root).
        self.assertEqual(os.listdir(out), ["tgcluster.prom"])
        self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o644)
        with open(path) as f:
            text = f.read()
        self.promtool(text)
        m = parse_metrics(text)

        inst = {"zone": self.zone, "cluster": self.zone, "segment": self.seg}
        self.assertEqual(series(m, "tgcluster_writer_alive", **inst), [1])
        self.assertEqual(series(m, "tgcluster_writer_pid", **inst), [self.k.pid])
        age = series(m, "tgcluster_heartbeat_age_seconds", **inst)
        self.assertEqual(len(age), 1)
        self.assertLess(age[0], 2.0)
        self.assertEqual(series(m, "tgcluster_nodes", **inst), [2])
        self.assertEqual(series(m, "tgcluster_live_nodes", **inst), [1])
        self.assertEqual(series(m, "tgcluster_all_down", **inst), [0])
        for i, (health, admin) in enumerate((("up", "drain"), ("down", "auto"))):
            node = dict(inst, address=self.n[i].addr, port=str(self.n[i].port))
            self.assertEqual(series(m, "tgcluster_node_health", state=health,
                                    **node), [1])
            self.assertEqual(sum(series(m, "tgcluster_node_health", **node)), 1)
            self.assertEqual(series(m, "tgcluster_node_admin_state",
                                    state=admin, **node), [1])
            self.assertEqual(sum(series(m, "tgcluster_node_admin_state",
                                        **node)), 1)
            js = status["nodes"][i]
            # Counters move only forwards: the file was written first.
            ans = series(m, "tgcluster_node_answers_total", **node)
            self.assertEqual(len(ans), 1)
            self.assertLessEqual(ans[0], js["answers"])
            self.assertGreaterEqual(ans[0], 7 if i == 0 else 0)
            tr = series(m, "tgcluster_node_transitions_total", **node)
            self.assertEqual(len(tr), 1)
            self.assertLessEqual(tr[0], js["transitions"])
            self.assertGreaterEqual(tr[0], 1 if i == 1 else 0)
            rtt = series(m, "tgcluster_node_last_rtt_seconds", **node)
            self.assertEqual(len(rtt), 1)
            self.assertTrue(0 <= rtt[0] < 1.0, rtt)
        self.assertEqual(series(m, "tgcluster_node_answers_total",
                                address=self.n[1].addr), [0])

        # Written again: the new content replaces the old file.
        st1 = os.stat(path)
        self.ctl_ok("metrics", self.seg, "--output", path)
        self.assertNotEqual(os.stat(path).st_ino, st1.st_ino)
        self.assertEqual(os.listdir(out), ["tgcluster.prom"])

    def test_all_down_answers_counted_like_zone_stats(self):
        self.assertEqual(series(parse_metrics(self.ctl_ok(
            "metrics", self.seg).stdout), "tgcluster_all_down_answers_total",
            zone=self.zone), [0])
        # Node 0 taken down too: every answer is an all-down answer (the
        # default "all" lists every node).
        self.ctl_ok("set", self.seg, "0", "down")
        for _ in range(5):
            query(self.k.port, self.zone + ".")
        stats = self.k.zone_stats(self.zone)
        knotd_count = tgc.stat_sum(stats, ".all-down")
        self.assertEqual(knotd_count, 5, stats)
        wait_until(lambda: json.loads(self.ctl_ok(
            "status", self.seg, "--json").stdout)["all_down_answers"] == 5, 5,
            what="all-down answers in the segment")
        text = self.ctl_ok("metrics", self.seg).stdout
        self.promtool(text)
        self.assertEqual(series(parse_metrics(text),
                                "tgcluster_all_down_answers_total",
                                zone=self.zone), [5])

    def test_all_instances_and_write_errors(self):
        # Every instance on the host (other tests' too) passes promtool.
        p = self.ctl_ok("metrics")
        self.promtool(p.stdout)
        m = parse_metrics(p.stdout)
        self.assertEqual(series(m, "tgcluster_writer_alive", segment=self.seg), [1])
        self.assertEqual(len(series(m, "tgcluster_node_health", segment=self.seg)),
                         6)

        # An unwritable directory (nobody): an error, the old file stays.
        out = tempfile.mkdtemp(prefix="tgc-metrics-ro-")
        self.addCleanup(shutil.rmtree, out, True)
        os.chmod(out, 0o755)
        path = os.path.join(out, "tgcluster.prom")
        with open(path, "w") as f:
            f.write("old\n")
        os.chmod(path, 0o644)
        # nobody cannot read the segment either: metrics of one instance
        # is then an error; of all instances, the unreadable ones are
        # skipped and the write into the directory fails.
        p = ctl("metrics", "--output", path, prefix=NOBODY)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("cannot create a temporary file beside", p.stderr)
        with open(path) as f:
            self.assertEqual(f.read(), "old\n")
        self.assertEqual(os.listdir(out), ["tgcluster.prom"])
        p = ctl("metrics", self.seg, prefix=NOBODY)
        self.assertEqual(p.returncode, EXIT_PERM, p.stderr)
        self.assertEqual(p.stdout, "")


class Usage(OpsCase):

    def test_option_and_argument_errors(self):
        for args, needle in ((("list", "--output", "x"), "--output applies to 'metrics' only"),
                             (("status", "--dry-run"), "--dry-run applies to 'prune' only"),
                             (("metrics", "--output", ""), "--output needs a file name"),
                             (("metrics", "a", "b"), "takes at most an INSTANCE"),
                             (("metrics", "--json"), "--json applies to")):
            p = ctl(*args)
            self.assertEqual(p.returncode, 2, (args, p.stderr))
            self.assertIn(needle, p.stderr)
            self.assertEqual(p.stdout, "")
        out = tempfile.mkdtemp(prefix="tgc-metrics-dir-")
        self.addCleanup(shutil.rmtree, out, True)
        p = ctl("metrics", "--output", out + "/")
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("names a directory", p.stderr)
        self.assertEqual(os.listdir(out), [])


class Leftovers(OpsCase):
    """A stopped knotd's segment next to the live one of the same zone."""

    def test_list_lookup_and_prune(self):
        zone = tgc.unique("ops-l") + ".test"
        n = self.nodes([("127.0.0.51", "tcp"), ("127.0.0.52", "tcp")])
        old = self.lb(zone, n, shm=tgc.unique("ops-old"))
        old_seg = os.path.basename(old.shm().path)
        wait_until(lambda: old.shm().health() == ["up", "up"], 5, what="up")
        old_pid = old.pid
        old.stop()
        new = self.lb(zone, n, shm=tgc.unique("ops-new"))
        new_seg = os.path.basename(new.shm().path)
        wait_until(lambda: new.shm().health() == ["up", "up"], 5, what="up")

        # list marks the leftover.
        segs = {s["segment"]: s for s in
                json.loads(self.ctl_ok("list", "--json").stdout)["segments"]}
        self.assertFalse(segs[old_seg]["writer_alive"])
        self.assertTrue(segs[new_seg]["writer_alive"])
        rows = {line.split()[0]: line for line in
                self.ctl_ok("list").stdout.splitlines()[1:]}
        self.assertIn("no live writer", rows[old_seg])
        self.assertNotIn("no live writer", rows[new_seg])

        # The zone names the live segment: status and set use it.
        self.assertEqual(json.loads(self.ctl_ok("status", zone, "--json")
                                    .stdout)["segment"], new_seg)
        # A look-alike of the live segment planted by another user (it
        # names the running knotd as its writer) is not a live candidate.
        forged = tgc.unique("tgcluster.ops-forged")
        self.addCleanup(tgc.unlink_segment, forged)
        with open(new.shm().path, "rb") as f:
            image = f.read()
        fd = os.open(os.path.join(tgc.SHM_DIR, forged),
                     os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.write(fd, image)
        os.fchown(fd, 65534, 65534)
        os.close(fd)
        segs = {s["segment"]: s for s in
                json.loads(self.ctl_ok("list", "--json").stdout)["segments"]}
        self.assertIn("untrusted", segs[forged]["error"])
        p = self.ctl_ok("set", zone, n[0].addr, "drain")
        self.assertIn(new_seg + ": node 0", p.stdout)
        self.assertEqual(query(new.port, zone + ".").addrs, [n[1].addr])
        self.ctl_ok("set", zone, n[0].addr, "auto")

        # Both stopped: ambiguous, the candidates listed as leftovers.
        new.stop()
        p = ctl("status", zone)
        self.assertEqual(p.returncode, EXIT_NOINST, p.stderr)
        self.assertIn("ambiguous", p.stderr)
        for seg in (old_seg, new_seg):
            self.assertRegex(p.stderr, r"\n  %s \(zone %s\) no live writer"
                             % (re.escape(seg), re.escape(zone)))
        new.start()
        wait_until(lambda: ctl("status", zone).returncode == 0, 5,
                   what="live again")

        # prune --dry-run: says, removes nothing; the live one is kept.
        p = self.ctl_ok("prune", "--dry-run", old_seg, new_seg)
        self.assertIn("%s: would remove (zone %s, knotd pid %d gone)"
                      % (old_seg, zone, old_pid), p.stdout)
        self.assertNotIn(new_seg, p.stdout)
        self.assertIn("1 to remove, 1 kept (live writer)", p.stdout)
        self.assertTrue(old.shm().exists() and new.shm().exists())

        # Without permission: nothing removed, exit 4.
        p = ctl("prune", old_seg, new_seg, prefix=NOBODY)
        self.assertEqual(p.returncode, EXIT_PERM, p.stdout + p.stderr)
        self.assertTrue(old.shm().exists() and new.shm().exists())

        # Only the leftover goes; the running knotd goes on answering.
        p = self.ctl_ok("prune", old_seg, new_seg)
        self.assertIn("%s: removed" % old_seg, p.stdout)
        self.assertFalse(old.shm().exists())
        self.assertTrue(new.shm().exists())
        self.assertEqual(query(new.port, zone + ".").addrs,
                         [n[0].addr, n[1].addr])
        self.assertEqual(json.loads(self.ctl_ok("status", zone, "--json")
                                    .stdout)["segment"], new_seg)


class OneLiveSegment(OpsCase):
    """INSTANCE omitted on a host with a leftover next to the one live
    segment: status and set use the live one. knotd and tgclusterctl run
    in a mount namespace of their own with an empty /dev/shm, so that no
    other test's segment is on this "host"."""

    def test_instance_omitted_picks_the_live_segment(self):
        zone = tgc.unique("ops-o") + ".test"
        n = self.nodes([("127.0.0.71", "tcp"), ("127.0.0.72", "tcp")])
        # unshare without --fork and sh's exec keep knotd's pid.
        prefix = ["unshare", "--mount", "--propagation", "private", "sh", "-c",
                  "mount -t tmpfs -o mode=1777 tgc-shm /dev/shm && exec \"$@\"",
                  "sh"]
        one, left = tgc.unique("ops-one"), tgc.unique("ops-left")
        seg_one, seg_left = "tgcluster." + one, "tgcluster." + left
        k = self.lb(zone, n, shm=one, prefix=prefix)
        inside = ["nsenter", "--target", str(k.pid), "--mount"]

        def ctl_in(*args):
            return ctl(*args, prefix=inside)

        wait_until(lambda: ctl_in("status").returncode == 0, 5,
                   what="segment in the namespace")
        # A leftover: a copy of the segment whose owner is gone (owner
        # word zeroed), made inside the namespace.
        owner_off, owner_size = tgc.LAYOUT.HDR["owner"]
        script = ("d = bytearray(open('/dev/shm/%s', 'rb').read()); "
                  "d[%d:%d] = bytes(%d); open('/dev/shm/%s', 'wb').write(d)"
                  % (seg_one, owner_off, owner_off + owner_size, owner_size,
                     seg_left))
        p = subprocess.run(inside + [sys.executable, "-c", script],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stdout)
        self.assertFalse(os.path.exists(os.path.join(tgc.SHM_DIR, seg_left)))

        p = ctl_in("list")
        self.assertEqual(p.returncode, 0, p.stderr)
        rows = {line.split()[0]: line for line in p.stdout.splitlines()[1:]}
        self.assertEqual(sorted(rows), sorted([seg_left, seg_one]))
        self.assertIn("no live writer", rows[seg_left])

        p = ctl_in("status", "--json")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(json.loads(p.stdout)["segment"], seg_one)
        p = ctl_in("set", n[0].addr, "drain")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn(seg_one + ": node 0", p.stdout)
        self.assertEqual(query(k.port, zone + ".").addrs, [n[1].addr])

        # Never owned and just created: knotd may be creating it.
        p = ctl_in("prune", "--dry-run")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn(seg_left + ": left alone: created ", p.stdout)
        self.assertIn("0 to remove, 1 kept (live writer), 1 left alone",
                      p.stdout)
        # Owned by a process that has exited: a leftover.
        script = ("import subprocess, sys; c = subprocess.Popen(['true']); "
                  "st = open('/proc/%d/stat' % c.pid).read(); c.wait(); "
                  "start = int(st.rsplit(')', 1)[1].split()[19]); "
                  "f = open('/dev/shm/{1}', 'r+b'); "
                  "f.seek({0}); f.write(((start << {2}) | c.pid)"
                  ".to_bytes({3}, sys.byteorder))".format(
                      owner_off, seg_left, tgc.LAYOUT.OWNER_PID_BITS,
                      owner_size))
        p = subprocess.run(inside + [sys.executable, "-c", script],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stdout)
        p = ctl_in("prune", "--dry-run")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertRegex(p.stdout, r"%s: would remove \(zone %s, knotd pid "
                         r"\d+ gone\)" % (re.escape(seg_left), re.escape(zone)))
        self.assertIn("1 to remove, 1 kept (live writer), 0 left alone",
                      p.stdout)
        p = ctl_in("prune")
        self.assertEqual(p.returncode, 0, p.stderr)
        p = ctl_in("list")
        self.assertNotIn(seg_left, p.stdout)
        self.assertIn(seg_one, p.stdout)
        self.assertEqual(k.stop(), 0)


class KnotUser(OpsCase):
    """knotd as the stock knot.service runs it: user knot, NoNewPrivileges
    (no systemd as PID 1 here: setpriv sets the same no_new_privs bit)."""

    def setUp(self):
        try:
            self.knot = pwd.getpwnam("knot")
        except KeyError:
            self.fail("user knot missing (Debian package knot creates it)")

    def knotd_as_knot(self, zone, nodes, shm):
        prefix = ["setpriv", "--reuid=%d" % self.knot.pw_uid,
                  "--regid=%d" % self.knot.pw_gid, "--init-groups",
                  "--no-new-privs"]
        k = self.lb(zone, nodes, shm=shm, records=tgc.DEFAULT_RECORDS +
                    ["@ A " + STATIC], prefix=prefix, start=False)
        for root, dirs, files in os.walk(k.dir):
            for name in [root] + [os.path.join(root, x) for x in dirs + files]:
                os.chown(name, self.knot.pw_uid, self.knot.pw_gid)
        return k

    def test_knot_user_no_new_privs_and_static_fallback(self):
        zone = tgc.unique("ops-k") + ".test"
        n = self.nodes([("127.0.0.61", "tcp"), ("127.0.0.62", "tcp")])
        shm = tgc.unique("ops-knot")
        k = self.knotd_as_knot(zone, n, shm)
        seg = os.path.basename(k.shm().path)

        # A segment squatted by another user (root here): the module
        # cannot load, knotd serves the zone, the static record answers.
        fd = os.open(k.shm().path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.write(fd, b"squatted")
        os.close(fd)
        k.start()
        with open("/proc/%d/status" % k.pid) as f:
            proc = f.read()
        self.assertRegex(proc, r"\nUid:\s+%d\s" % self.knot.pw_uid)
        self.assertRegex(proc, r"\nNoNewPrivs:\s+1\n")
        self.assertEqual(query(k.port, zone + ".").addrs, [STATIC],
                         "fail-safe: the static record without the module")
        self.assertIn("'shm' segment %s refused: cannot open the existing "
                      "segment" % k.shm().path.replace(tgc.SHM_DIR, ""),
                      k.log_text())
        self.assertIn("failed to load", k.log_text())

        # The squatter gone, a reload loads the module: its answers
        # override the static record.
        os.unlink(k.shm().path)
        k.reload()
        wait_until(lambda: k.shm().exists() and
                   k.shm().health() == ["up", "up"], 5, what="module loaded")
        self.assertEqual(query(k.port, zone + ".").addrs, [n[0].addr, n[1].addr])
        st = os.stat(k.shm().path)
        self.assertEqual((st.st_uid, stat.S_IMODE(st.st_mode)),
                         (self.knot.pw_uid, 0o600))

        # tgclusterctl as root reads and steers the knot user's segment.
        doc = json.loads(self.ctl_ok("status", seg, "--json").stdout)
        self.assertEqual(doc["writer_pid"], k.pid)
        self.ctl_ok("set", seg, "0", "down")
        self.assertEqual(query(k.port, zone + ".").addrs, [n[1].addr])
        m = parse_metrics(self.ctl_ok("metrics", seg).stdout)
        self.assertEqual(series(m, "tgcluster_node_admin_state",
                                address=n[0].addr, state="down"), [1])
        self.assertEqual(k.stop(), 0)


class ExampleZone(OpsCase):
    """contrib/internet.intern.netz.zone: loads, its static records answer
    without the module and are overridden by the module's answers. The
    nodes are data only (check: none, never contacted)."""

    ZONE = "internet.intern.netz"
    NODES = ["10.10.10.100", "10.10.10.101", "10.10.10.102"]

    def serve(self, items):
        k = self.knotd({self.ZONE: items}, start=False)
        shutil.copy(os.path.join(tgc.REPO, "contrib", self.ZONE + ".zone"),
                    os.path.join(k.dir, self.ZONE + ".zone"))
        return k.start()

    def test_static_records_then_module_answers(self):
        plain = self.serve(None)
        a = query(plain.port, self.ZONE + ".")
        self.assertEqual(sorted(a.addrs), self.NODES)
        self.assertEqual(a.ttls, [5])

        k = self.serve({"node": self.NODES, "check": "none",
                        "policy": "ordered"})
        seg = os.path.basename(k.shm().path)
        self.assertEqual(query(k.port, self.ZONE + ".").addrs, self.NODES)
        self.ctl_ok("set", seg, "10.10.10.101", "down")
        self.assertEqual(query(k.port, self.ZONE + ".").addrs,
                         ["10.10.10.100", "10.10.10.102"])
        # Other names of the zone come from the file.
        self.assertEqual(query(k.port, "ns2." + self.ZONE + ".").addrs,
                         ["10.10.10.101"])


if __name__ == "__main__":
    tgc.main()
