#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""The shared table survives knotc reload and a knotd restart: health history
and admin states are kept, so a reload never re-answers a dead node."""

import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tgc  # noqa: E402
from tgc import query, wait_until  # noqa: E402

import dns.rcode  # noqa: E402

ZONE = "cluster.test"
APEX = ZONE + "."
# A slow interval: after a reload that lost the table, the dead node (last of
# three, first probed about 2/3 interval after load, then again after a
# confirmation delay) would be answered for well over WATCH seconds.
INTERVAL, TIMEOUT = 2000, 500
WATCH = 1.0


class LbReload(tgc.TgcTestCase):

    def setUp(self):
        self.n = self.nodes([("127.0.0.11", "tcp"), ("127.0.0.12", "tcp"),
                             ("127.0.0.13", "tcp")])
        self.addrs = [x.addr for x in self.n]
        self.k = self.knotd({ZONE: {
            "node": [x.spec for x in self.n], "policy": "ordered",
            "check-interval": INTERVAL, "check-timeout": TIMEOUT,
            "check-rise": 2, "check-fall": 2}})
        self.seg = self.k.shm()

    def kill_and_confirm(self, idx):
        self.n[idx].stop()
        wait_until(lambda: self.seg.health()[idx] == "down", 3 * INTERVAL / 1000.0,
                   what="node %d confirmed down" % idx)
        wait_until(lambda: self.addrs[idx] not in query(self.k.port, APEX).addrs,
                   2, what="node %d gone from answers" % idx)

    def assert_absent_for(self, addr, duration):
        """\\a addr is never answered during \\a duration (polled)."""
        deadline = time.monotonic() + duration
        polls = 0
        while time.monotonic() < deadline:
            a = query(self.k.port, APEX)
            self.assertEqual(a.rcode, dns.rcode.NOERROR)
            self.assertNotIn(addr, a.addrs,
                             "dead node answered %.0f ms after reload/restart"
                             % ((duration - (deadline - time.monotonic())) * 1000))
            polls += 1
            time.sleep(0.01)
        self.assertGreater(polls, 10)

    def test_reload_keeps_down_node_down(self):
        self.kill_and_confirm(2)
        mark = self.k.log_mark()
        self.k.reload()
        # Right after the reload, before the new checker could confirm it.
        self.assertNotIn(self.addrs[2], query(self.k.port, APEX).addrs)
        self.assert_absent_for(self.addrs[2], WATCH)
        self.assertEqual(query(self.k.port, APEX).addrs, self.addrs[:2])
        self.assertTrue(self.k.alive(), "knotd died on reload")
        self.assertRegex(self.k.log_since(mark).lower(), r"reuse",
                         "log does not show the segment was reused")
        self.assertEqual(self.seg.health()[2], "down")
        # It still recovers after the reload.
        self.n[2].start()
        wait_until(lambda: query(self.k.port, APEX).addrs == self.addrs,
                   3 * INTERVAL / 1000.0, what="node back after reload")

    def test_restart_keeps_health(self):
        self.kill_and_confirm(2)
        self.assertEqual(self.k.stop(), 0, "knotd exit status")
        self.assertTrue(self.seg.exists(), "segment removed at knotd exit")
        mark = self.k.log_mark()
        self.k.start()
        self.assertNotIn(self.addrs[2], query(self.k.port, APEX).addrs)
        self.assert_absent_for(self.addrs[2], WATCH)
        self.assertRegex(self.k.log_since(mark).lower(), r"reuse")

    def test_admin_state_survives_reload_and_restart(self):
        wait_until(lambda: self.seg.health() == ["up"] * 3, 3 * INTERVAL / 1000.0)
        self.seg.set_admin(0, "down")
        wait_until(lambda: query(self.k.port, APEX).addrs == self.addrs[1:], 2,
                   what="admin-down node left out")
        self.k.reload()
        self.assertEqual(self.seg.nodes()[0]["admin"], tgc.ADMIN["down"])
        self.assert_absent_for(self.addrs[0], WATCH)
        self.k.restart()
        self.assertEqual(self.seg.nodes()[0]["admin"], tgc.ADMIN["down"])
        self.assert_absent_for(self.addrs[0], WATCH)
        self.seg.set_admin(0, "auto")
        wait_until(lambda: query(self.k.port, APEX).addrs == self.addrs, 2,
                   what="node back with admin auto")

    def test_reload_with_changed_nodes_adopts_states(self):
        self.kill_and_confirm(1)
        wait_until(lambda: self.seg.health() == ["up", "down", "up"],
                   3 * INTERVAL / 1000.0, what="nodes 0 and 2 confirmed up")
        extra = self.nodes([("127.0.0.14", "tcp")])[0]
        self.k.zones[ZONE]["node"] = [x.spec for x in self.n] + [extra.spec]
        self.k.write_conf()
        mark = self.k.log_mark()
        self.k.reload()
        self.assertNotIn(self.addrs[1], query(self.k.port, APEX).addrs)
        wait_until(lambda: query(self.k.port, APEX).addrs ==
                   [self.addrs[0], self.addrs[2], extra.addr], 2,
                   what="new node answered")
        self.assert_absent_for(self.addrs[1], WATCH)
        self.assertEqual(len(self.seg.nodes()), 4, "segment has the new node list")
        # Every kept node keeps its state (up or down), the new one starts
        # unknown (= answered) until probed.
        self.assertEqual(self.seg.health()[:3], ["up", "down", "up"])
        self.assertRegex(self.k.log_since(mark).lower(), r"adopt|carried over")

    def test_reloads_under_query_load(self):
        stop = threading.Event()
        results = {"ok": 0, "bad": []}

        def load():
            while not stop.is_set():
                try:
                    a = query(self.k.port, APEX, timeout=1, tries=1)
                    if a.rcode == dns.rcode.NOERROR and a.addrs == self.addrs:
                        results["ok"] += 1
                    else:
                        results["bad"].append(repr(a))
                except Exception as exc:  # noqa: BLE001 - counted as failure
                    results["bad"].append(repr(exc))

        threads = [threading.Thread(target=load) for _ in range(3)]
        for t in threads:
            t.start()
        try:
            for _ in range(5):
                self.k.reload()
                time.sleep(0.1)  # paces the reloads, not a wait
        finally:
            stop.set()
            for t in threads:
                t.join(5)
        tgc.log("%d answers during 5 reloads, %d bad" % (results["ok"],
                                                        len(results["bad"])))
        self.assertTrue(self.k.alive(), "knotd died during reloads")
        self.assertEqual(results["bad"], [])
        self.assertGreater(results["ok"], 20)
        self.assertEqual(self.k.stop(), 0)


class LbReloadStorm(tgc.TgcTestCase):
    """Reloads every 0.3 s (knotc reload and zone-reload -f in turn) never
    starve the checker: a hung node (accepts, never sends the RFB banner)
    and a refusing node are marked down within interval x fall + timeout +
    interval of failing, healthy nodes are never marked down, and the
    failed nodes come back while the reloads go on."""

    INTERVAL, TIMEOUT, FALL, RISE = 1000, 500, 2, 2
    PERIOD = 0.3

    def setUp(self):
        # The failing nodes last: their first probe after a load without
        # history would be 500 and 750 ms away, beyond the next reload.
        self.n = self.nodes([("127.0.0.11", "rfb"), ("127.0.0.12", "rfb"),
                             ("127.0.0.13", "rfb"), ("127.0.0.14", "rfb")])
        self.addrs = [x.addr for x in self.n]
        self.k = self.knotd({ZONE: {
            "node": [x.spec for x in self.n], "policy": "ordered",
            "check": "rfb", "check-interval": self.INTERVAL,
            "check-timeout": self.TIMEOUT, "check-rise": self.RISE,
            "check-fall": self.FALL}})
        self.seg = self.k.shm()
        self.stop = threading.Event()
        self.reloads = []      # monotonic end time of each reload
        self.reload_errors = []
        self.thread = None
        self.addCleanup(self.stop_reloads)

    def reload_loop(self):
        i = 0
        while not self.stop.is_set():
            t = time.monotonic()
            if i % 2 == 0:
                rc, out = self.k.knotc("reload")
            else:
                rc, out = self.k.knotc("zone-reload", "-f", APEX)
            if rc != 0:
                self.reload_errors.append(out)
            self.reloads.append(time.monotonic())
            i += 1
            self.stop.wait(max(0.0, self.PERIOD - (time.monotonic() - t)))

    def stop_reloads(self):
        self.stop.set()
        if self.thread is not None:
            self.thread.join(30)
            self.thread = None

    def test_reload_storm_marks_failed_nodes_down(self):
        bound = (self.INTERVAL * self.FALL + self.TIMEOUT + self.INTERVAL) / 1000.0
        wait_until(lambda: self.seg.health() == ["up"] * 4, 5,
                   what="all nodes up")
        transitions = [n["transitions"] for n in self.seg.nodes()]
        mark = self.k.log_mark()
        self.thread = threading.Thread(target=self.reload_loop)
        self.thread.start()
        wait_until(lambda: len(self.reloads) >= 4, 10, what="reloads running")

        hung, refusing = 2, 3
        t_fail = time.monotonic()
        self.n[hung].set_mode("hung")
        self.n[refusing].stop()
        seen = {}
        answered = {}

        def both_gone():
            now = time.monotonic()
            health = self.seg.health()
            addrs = query(self.k.port, APEX).addrs
            for idx in (hung, refusing):
                if health[idx] == "down":
                    seen.setdefault(idx, now - t_fail)
                if self.addrs[idx] not in addrs:
                    answered.setdefault(idx, now - t_fail)
                else:
                    answered.pop(idx, None)
            # Healthy nodes stay up and answered throughout.
            self.assertEqual(health[:2], ["up", "up"])
            self.assertEqual(addrs[:2], self.addrs[:2])
            return len(seen) == 2 and len(answered) == 2
        wait_until(both_gone, 4 * bound, interval=0.02,
                   what="hung and refusing nodes down under reloads")
        n_reloads = sum(1 for t in self.reloads if t > t_fail)
        tgc.log("reloads every %.1f s: hung node down after %.2f s, refusing "
                "after %.2f s (bound %.1f s), %d reloads meanwhile"
                % (self.PERIOD, seen[hung], seen[refusing], bound, n_reloads))
        self.assertLessEqual(seen[hung], bound, "hung node down too late")
        self.assertLessEqual(seen[refusing], bound, "refusing node down too late")
        # The reloads really outpaced the probes of the failed nodes.
        self.assertGreaterEqual(n_reloads, int(max(seen.values()) / 0.6),
                                "reloads too slow to mean anything")
        nodes = self.seg.nodes()
        self.assertEqual(nodes[hung]["last_probe"], "timeout")
        self.assertEqual(nodes[refusing]["last_probe"], "refused")

        # Back while the reloads go on (rise progress survives them too).
        self.n[hung].set_mode("rfb")
        self.n[refusing].start()
        wait_until(lambda: self.seg.health() == ["up"] * 4, 4 * bound,
                   what="nodes back up under reloads")
        wait_until(lambda: query(self.k.port, APEX).addrs == self.addrs, 2,
                   what="nodes back in answers")
        self.stop_reloads()
        self.assertEqual(self.reload_errors, [])
        self.assertTrue(self.k.alive(), "knotd died during reloads")
        # Exactly one down and one up per failed node, none for the others.
        after = [n["transitions"] for n in self.seg.nodes()]
        self.assertEqual([a - b for a, b in zip(after, transitions)],
                         [0, 0, 2, 2])
        # Both reload paths loaded new instances.
        log = self.k.log_since(mark)
        self.assertGreaterEqual(log.count("reused, states kept"), 4)
        self.assertEqual(self.k.stop(), 0)


if __name__ == "__main__":
    tgc.main()
