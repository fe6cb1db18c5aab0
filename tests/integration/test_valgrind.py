#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Stress: knotd with the module under valgrind (memcheck) through a scripted
sequence of queries, 100 `knotc reload`s, node flaps, node list changes,
tgclusterctl writes and a shutdown.

Asserts: no invalid access, uninitialised use or other memcheck error at all,
no definite leak attributed to the module (its .so or module/ sources), a
clean exit, and the same number of file descriptors (/proc/PID/fd) and
threads (/proc/PID/task) of knotd before and after the reloads.

knotd needs no suppressions in this run (knotd 3.2.6, Debian 12); a
definite leak of knotd itself, should a knotd version have one, is reported
and ignored, and knotd.supp beside this file (valgrind suppressions, empty of
rules today) is where to silence it.

In a build with ASan (TGC_PRELOAD set: the ASan runtime is preloaded into
knotd) valgrind cannot run; the same sequence runs without it and ASan/LSan
in knotd do the checking (a report makes knotd exit non-zero).

Environment: TGC_VALGRIND (valgrind binary, default "valgrind"),
TGC_STRESS_RELOADS (default 100).
"""

import glob
import os
import shutil
import subprocess
import sys
import time
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tgc  # noqa: E402
from tgc import query, wait_until  # noqa: E402

import dns.rcode  # noqa: E402

ZONE = "cluster.test"
APEX = ZONE + "."
RELOADS = int(os.environ.get("TGC_STRESS_RELOADS", "100"))
VALGRIND = os.environ.get("TGC_VALGRIND", "valgrind")
CTL = os.environ.get("TGC_CTL", os.path.join(tgc.REPO, "build", "tgclusterctl"))
SUPP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "knotd.supp")
USE_VALGRIND = not tgc.PRELOAD
# knotd under valgrind starts in seconds here, but a loaded CI machine may be
# far slower: a generous readiness deadline.
READY_TIMEOUT = 180.0 if USE_VALGRIND else 20.0
# Every C file of the module's own directory (not the CLI's): an error with
# one of these in its stack is the module's.
MODULE_SRC = tuple(sorted(os.path.basename(f) for f in glob.glob(
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                 "module", "*.c"))))


class ValgrindKnotd(tgc.Knotd):
    """A Knotd run under memcheck, writing its report as XML."""

    def start(self, wait=True, timeout=READY_TIMEOUT):
        assert self.proc is None, "already running"
        self.xml = os.path.join(self.dir, "memcheck.xml")
        cmd = [tgc.KNOTD, "-c", self.conf]
        if USE_VALGRIND:
            cmd = [VALGRIND, "--tool=memcheck", "--leak-check=full",
                   "--show-leak-kinds=definite",
                   "--errors-for-leak-kinds=definite", "--error-exitcode=99",
                   "--num-callers=40", "--track-origins=no",
                   "--suppressions=" + SUPP,
                   "--xml=yes", "--xml-file=" + self.xml] + cmd
        self._log_fd = open(self.logfile, "ab")
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                                     env=tgc._child_env(),
                                     stdout=self._log_fd, stderr=self._log_fd)
        tgc._children[self.proc.pid] = self.proc
        if wait:
            self.wait_ready(timeout)
        return self


def memcheck_errors(path):
    """(kind, attributed to the module, first frames) of every error."""
    out = []
    root = ET.parse(path).getroot()
    for err in root.iter("error"):
        kind = err.findtext("kind")
        frames = []
        ours = False
        stack = err.find("stack")
        for fr in (stack.iter("frame") if stack is not None else []):
            obj = fr.findtext("obj") or ""
            fn = fr.findtext("fn") or "?"
            src = fr.findtext("file") or ""
            frames.append("%s (%s%s)" % (fn, os.path.basename(obj),
                                         (":" + src) if src else ""))
            if obj.endswith("mod-tgcluster.so") or (
                    src in MODULE_SRC and "module" in (fr.findtext("dir") or "")):
                ours = True
        what = err.findtext("what") or (err.find("xwhat").findtext("text")
                                        if err.find("xwhat") is not None else "")
        out.append((kind, ours, what, frames[:12]))
    return out


def proc_counts(pid, samples=10):
    """(fds, threads) of a process: the most frequent pair over \\a samples
    reads 0.1 s apart (a probe socket open at one instant is not a leak)."""
    seen = {}
    for _ in range(samples):
        pair = (len(os.listdir("/proc/%d/fd" % pid)),
                len(os.listdir("/proc/%d/task" % pid)))
        seen[pair] = seen.get(pair, 0) + 1
        time.sleep(0.1)
    return max(seen.items(), key=lambda kv: kv[1])[0]


def ctl(*args):
    p = subprocess.run([CTL] + list(args), stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=60)
    return p.returncode, p.stdout.decode(errors="replace")


class ReloadStress(tgc.TgcTestCase):

    def test_reloads_flaps_cli_under_memcheck(self):
        if USE_VALGRIND and shutil.which(VALGRIND) is None:
            self.fail("valgrind not found (scripts/deps.sh installs it)")
        n = self.nodes([("127.0.0.%d" % (11 + i), "tcp") for i in range(4)])
        extra = self.nodes([("127.0.0.15", "tcp")])[0]
        addrs = [x.addr for x in n]
        # A slow interval keeps probe sockets (transient descriptors) rare;
        # a short timeout keeps them short.
        items = {"node": [x.spec for x in n], "policy": "ordered",
                 "check-interval": 1000, "check-timeout": 100,
                 "check-rise": 1, "check-fall": 1}
        k = ValgrindKnotd({ZONE: items})
        self.addCleanup(k.cleanup)
        self.addCleanup(self._dump_log_on_failure, k)
        t_start = time.monotonic()
        k.start()
        tgc.log("knotd%s ready in %.1f s" % (" under memcheck" if USE_VALGRIND
                                             else "", time.monotonic() - t_start))
        seg = k.shm()
        seg_name = os.path.basename(seg.path)
        wait_until(lambda: seg.health() == ["up"] * 4, 30, what="all up")
        self.assertEqual(query(k.port, APEX).addrs, addrs)

        pid = k.pid
        before = proc_counts(pid)
        tgc.log("before the reloads: %d fds, %d threads" % before)

        def answer_ok():
            for rdtype in ("A", "AAAA"):
                a = query(k.port, APEX, rdtype, timeout=5)
                self.assertEqual(a.rcode, dns.rcode.NOERROR)
                self.assertTrue(a.aa)
                self.assertTrue(set(a.addrs) <= set(addrs + [extra.addr]),
                                repr(a))

        t0 = time.monotonic()
        for i in range(1, RELOADS + 1):
            if i == 10:
                n[2].stop()                                   # flap
            elif i == 25:
                n[2].start()
            elif i == 15:
                rc, out = ctl("set", seg_name, addrs[0], "drain")
                self.assertEqual(rc, 0, out)
            elif i == 30:
                rc, out = ctl("set", seg_name, "0", "auto")
                self.assertEqual(rc, 0, out)
            elif i == 40:                                     # adopt: +1 node
                k.zones[ZONE]["node"] = items["node"] + [extra.spec]
                k.write_conf()
            elif i == 50:
                rc, out = ctl("set", seg_name, extra.addr, "down")
                self.assertEqual(rc, 0, out)
            elif i == 70:                                     # adopt: back
                k.zones[ZONE]["node"] = list(items["node"])
                k.write_conf()
            elif i == 80:
                n[1].stop()
            elif i == 90:
                n[1].start()
            k.reload()
            answer_ok()
            if i % 10 == 0:
                k.zone_stats()
                rc, out = ctl("status", seg_name, "--json")
                self.assertEqual(rc, 0, out)
        elapsed = time.monotonic() - t0
        tgc.log("%d reloads in %.1f s (%.0f ms each)" % (RELOADS, elapsed,
                                                        elapsed * 1000 / RELOADS))
        self.assertTrue(k.alive(), "knotd died during the reloads")
        wait_until(lambda: seg.health() == ["up"] * 4, 30, what="all up again")
        wait_until(lambda: query(k.port, APEX).addrs == addrs, 10,
                   what="all answered again")
        after = proc_counts(pid)
        tgc.log("after the reloads: %d fds, %d threads" % after)
        self.assertEqual(after, before,
                         "descriptors/threads (fds, threads) changed over "
                         "%d reloads" % RELOADS)

        rc = k.stop(timeout=300)
        if USE_VALGRIND:
            errors = memcheck_errors(k.xml)
            ours, theirs, other = [], [], []
            for kind, mine, what, frames in errors:
                if kind.startswith("Leak_"):
                    (ours if mine else theirs).append((kind, what, frames))
                else:
                    other.append((kind, what, frames))
            for kind, what, frames in theirs:
                tgc.log("knotd's own leak (ignored): %s %s\n      %s"
                        % (kind, what, "\n      ".join(frames)))
            report = "\n".join("%s: %s\n    %s" % (kind, what, "\n    ".join(fr))
                               for kind, what, fr in other + ours)
            self.assertEqual(other, [], "memcheck errors:\n" + report)
            self.assertEqual(ours, [], "definite leaks in the module:\n" + report)
            self.assertIn(rc, (0, 99) if theirs else (0,),
                          "knotd exit status under valgrind")
        else:
            self.assertEqual(rc, 0, "knotd exit status (ASan/LSan report?)")


if __name__ == "__main__":
    tgc.main()
