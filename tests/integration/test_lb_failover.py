#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Health checks: failover and recovery timing, rfb checks, all-down modes,
and the counters in knotc zone-stats."""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tgc  # noqa: E402
from tgc import query, wait_until  # noqa: E402

import dns.rcode  # noqa: E402
import dns.rdatatype  # noqa: E402

ZONE = "cluster.test"
APEX = ZONE + "."
INTERVAL, TIMEOUT, RISE, FALL = 200, 100, 2, 2
TIMING = {"check-interval": INTERVAL, "check-timeout": TIMEOUT,
          "check-rise": RISE, "check-fall": FALL}
# Contract bounds (design 5): gone within interval * fall + timeout; back
# within interval * rise (+ timeout). The assertions allow 3x that.
DOWN_BOUND = (INTERVAL * FALL + TIMEOUT) / 1000.0
UP_BOUND = (INTERVAL * RISE + TIMEOUT) / 1000.0


def answer_counts(stats, count):
    """Per-node answer counters by node index."""
    return [tgc.stat_sum(stats, "answer[%d]" % i) for i in range(count)]


class LbFailover(tgc.TgcTestCase):

    def lb(self, nodes, zone=ZONE, **items):
        conf = {"node": [n.spec for n in nodes], "policy": "ordered"}
        conf.update(TIMING)
        conf.update(items)
        return self.knotd({zone: conf})

    def test_failover_and_recovery_timing(self):
        nodes = self.nodes([("127.0.0.11", "tcp"), ("127.0.0.12", "tcp"),
                            ("127.0.0.13", "tcp")])
        addrs = [n.addr for n in nodes]
        k = self.lb(nodes)
        wait_until(lambda: k.shm().health() == ["up"] * 3, 5,
                   what="all nodes confirmed up")
        self.assertEqual(query(k.port, APEX).addrs, addrs)

        downs, ups = [], []
        for rnd in range(3):
            victim = nodes[rnd % 3]
            t0 = time.monotonic()
            victim.stop()
            wait_until(lambda: victim.addr not in query(k.port, APEX).addrs,
                       10 * DOWN_BOUND, interval=0.005,
                       what="%s gone from answers" % victim.addr)
            downs.append(time.monotonic() - t0)
            self.assertEqual(query(k.port, APEX).addrs,
                             [a for a in addrs if a != victim.addr])

            t0 = time.monotonic()
            victim.start()
            wait_until(lambda: query(k.port, APEX).addrs == addrs,
                       10 * UP_BOUND, interval=0.005,
                       what="%s back in answers" % victim.addr)
            ups.append(time.monotonic() - t0)

        tgc.log("node down -> absent: %s ms (contract bound %d ms)"
                % ([round(d * 1000) for d in downs], DOWN_BOUND * 1000))
        tgc.log("node back -> present: %s ms (bound %d ms)"
                % ([round(u * 1000) for u in ups], UP_BOUND * 1000))
        for d in downs:
            self.assertLess(d, 3 * DOWN_BOUND, "failover too slow: %s" % downs)
        for u in ups:
            self.assertLess(u, 3 * UP_BOUND, "recovery too slow: %s" % ups)

        # Anti-flap: a node that died is not answered again before it is
        # confirmed up (rise successes), and a single probe failure is not
        # enough to drop a node: here just check the log names transitions.
        text = k.log_text()
        for n in nodes:
            self.assertRegex(text, r"%s\S*.*\bdown\b" % n.addr.replace(".", r"\."))
            self.assertRegex(text, r"%s\S*.*\bup\b" % n.addr.replace(".", r"\."))

    def test_transition_logged_once(self):
        nodes = self.nodes([("127.0.0.11", "tcp"), ("127.0.0.12", "tcp")])
        k = self.lb(nodes)
        wait_until(lambda: k.shm().health() == ["up"] * 2, 5)
        mark = k.log_mark()
        nodes[1].stop()
        wait_until(lambda: k.shm().health()[1] == "down", 5)
        # Several more failing probes happen while it stays down.
        probes = k.shm().nodes()[1]["probes"]
        wait_until(lambda: k.shm().nodes()[1]["probes"] >= probes + 4, 5,
                   what="more probes of the down node")
        lines = [l for l in k.log_since(mark).splitlines()
                 if "127.0.0.12" in l and "down" in l.lower()]
        self.assertEqual(len(lines), 1, "down transition logged once: %s" % lines)

    def test_rfb_check(self):
        nodes = self.nodes([("127.0.0.11", "rfb"), ("127.0.0.12", "hung"),
                            ("127.0.0.13", "badbanner"), ("127.0.0.14", "tcp"),
                            ("127.0.0.15", "rfb")])
        k = self.lb(nodes, check="rfb")
        good = ["127.0.0.11", "127.0.0.15"]
        wait_until(lambda: query(k.port, APEX).addrs == good, 5,
                   what="only the RFB nodes answered")
        # Stable: no flapping over several intervals.
        self.assertStays(lambda: query(k.port, APEX).addrs == good,
                         5 * INTERVAL / 1000.0, what="rfb answer set")
        self.assertEqual(k.shm().health(), ["up", "down", "down", "down", "up"])
        # The handshake is what matters: a node that starts speaking RFB
        # comes up.
        nodes[1].set_mode("rfb")
        wait_until(lambda: query(k.port, APEX).addrs == good[:1] + ["127.0.0.12"] + good[1:],
                   5, what="hung node up once it speaks RFB")
        # ... and one that stops speaking RFB (but still accepts) goes down.
        nodes[0].set_mode("hung")
        wait_until(lambda: "127.0.0.11" not in query(k.port, APEX).addrs, 5,
                   what="rfb node down once it hangs")

    def test_tcp_check_accepts_any_listener(self):
        nodes = self.nodes([("127.0.0.11", "hung"), ("127.0.0.12", "badbanner")])
        k = self.lb(nodes, check="tcp")
        wait_until(lambda: k.shm().health() == ["up", "up"], 5)
        self.assertEqual(query(k.port, APEX).addrs, ["127.0.0.11", "127.0.0.12"])

    def test_check_none_never_probes(self):
        nodes = self.nodes([("127.0.0.11", "tcp"), ("127.0.0.12", "tcp")])
        nodes[1].stop()
        k = self.lb(nodes, check="none")
        # A window of several intervals in which nobody connects and every
        # node is answered.
        self.assertStays(lambda: nodes[0].accepted == 0 and
                         query(k.port, APEX).addrs == ["127.0.0.11",
                                                       "127.0.0.12"],
                         5 * INTERVAL / 1000.0, what="no probe, all answered")

    def test_check_port_default_used_for_nodes_without_port(self):
        port = tgc.free_port(("127.0.0.11", "127.0.0.12"), udp=False)
        nodes = self.nodes([("127.0.0.11", "tcp", port), ("127.0.0.12", "tcp", port)])
        conf = {"node": ["127.0.0.11", "127.0.0.12"], "check-port": port,
                "policy": "ordered"}
        conf.update(TIMING)
        k = self.knotd({ZONE: conf})
        wait_until(lambda: nodes[0].accepted > 0 and nodes[1].accepted > 0, 5,
                   what="probes on check-port")
        nodes[0].stop()
        wait_until(lambda: query(k.port, APEX).addrs == ["127.0.0.12"], 5,
                   what="node without @port probed on check-port")

    def all_down_setup(self):
        nodes = self.nodes([("127.0.0.11", "tcp"), ("127.0.0.12", "tcp"),
                            ("::1", "tcp")])
        zones = {}
        for mode in ("all", "servfail", "nodata"):
            conf = {"node": [n.spec for n in nodes], "policy": "ordered",
                    "all-down": mode, "ttl": 5}
            conf.update(TIMING)
            zones["%s.test" % mode] = conf
        k = self.knotd(zones)
        for z in zones:
            wait_until(lambda: k.shm(z).health() == ["up"] * 3, 5,
                       what="%s nodes up" % z)
        return nodes, k

    def test_all_down_modes(self):
        nodes, k = self.all_down_setup()
        v4 = ["127.0.0.11", "127.0.0.12"]
        for z in ("all", "servfail", "nodata"):
            self.assertEqual(query(k.port, z + ".test.").addrs, v4)
        before = {z: k.zone_stats(z + ".test") for z in ("all", "servfail", "nodata")}
        for z in before:
            self.assertEqual(tgc.stat_sum(before[z], "all-down"), 0, before[z])

        for n in nodes[:2]:
            n.stop()
        for z in ("all", "servfail", "nodata"):
            wait_until(lambda: k.shm(z + ".test").health()[:2] == ["down"] * 2,
                       5, what="%s: IPv4 nodes down" % z)

        for tcp in (False, True):
            a = query(k.port, "all.test.", tcp=tcp)
            self.assertEqual(a.rcode, dns.rcode.NOERROR)
            self.assertEqual(a.addrs, v4, "all-down all: every configured node")
            self.assertTrue(a.aa)

            s = query(k.port, "servfail.test.", tcp=tcp)
            self.assertEqual(s.rcode, dns.rcode.SERVFAIL)
            self.assertEqual(s.addrs, [])

            d = query(k.port, "nodata.test.", tcp=tcp)
            self.assertEqual(d.rcode, dns.rcode.NOERROR)
            self.assertEqual(d.ancount, 0)
            self.assertTrue(d.aa)
            self.assertEqual(d.authority_types, [dns.rdatatype.SOA],
                             "NODATA carries the zone SOA")
            self.assertLessEqual(d.msg.authority[0].ttl, 5,
                                 "negative answer cached longer than 'ttl'")

        # The IPv6 node lives: AAAA is unaffected in every mode.
        for z in ("all", "servfail", "nodata"):
            a = query(k.port, z + ".test.", "AAAA")
            self.assertEqual((a.rcode, a.addrs), (dns.rcode.NOERROR, ["::1"]), z)

        # Counters: all-down events counted, transitions to down counted.
        for z in ("all", "servfail", "nodata"):
            st = k.zone_stats(z + ".test")
            self.assertGreaterEqual(tgc.stat_sum(st, "all-down"), 2,
                                    "%s: all-down counter %s" % (z, st))
            self.assertGreaterEqual(tgc.stat_sum(st, "transition", "down"), 2,
                                    "%s: transition counter %s" % (z, st))

        for n in nodes[:2]:
            n.start()
        for z in ("all", "servfail", "nodata"):
            wait_until(lambda: query(k.port, z + ".test.").addrs == v4, 5,
                       what="%s: nodes back" % z)
            st = k.zone_stats(z + ".test")
            self.assertGreaterEqual(tgc.stat_sum(st, "transition", "up"), 2, st)

    def test_answer_counters(self):
        nodes = self.nodes([("127.0.0.11", "tcp"), ("127.0.0.12", "tcp"),
                            ("127.0.0.13", "tcp")])
        k = self.lb(nodes, answers=1)
        wait_until(lambda: k.shm().health() == ["up"] * 3, 5)
        base = answer_counts(k.zone_stats(), 3)
        for _ in range(10):
            self.assertEqual(query(k.port, APEX).addrs, ["127.0.0.11"])
        got = answer_counts(k.zone_stats(), 3)
        self.assertEqual([g - b for g, b in zip(got, base)], [10, 0, 0],
                         "answer counters %s -> %s" % (base, got))
        # The segment counts the same answers (what tgclusterctl shows):
        # knotd folds its workers' counts in every admin tick (200 ms).
        wait_until(lambda: [n["answers"] for n in k.shm().nodes()] == got, 3,
                   what="answer counts folded into the segment")

        nodes[0].stop()
        wait_until(lambda: query(k.port, APEX).addrs == ["127.0.0.12"], 5)
        base = answer_counts(k.zone_stats(), 3)
        for _ in range(7):
            query(k.port, APEX)
        got = answer_counts(k.zone_stats(), 3)
        self.assertEqual([g - b for g, b in zip(got, base)], [0, 7, 0])
        st = k.zone_stats()
        self.assertEqual(tgc.stat_sum(st, "transition", "down"), 1, st)
        self.assertEqual(tgc.stat_sum(st, "all-down"), 0, st)


if __name__ == "__main__":
    tgc.main()
