#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""A load that fails after its checker or poller started leaves nothing
running.

knotd does not call unload after a failed load, so the load must stop what
it started. The steps that can fail that late (registering the query hooks)
fail only when knotd runs out of memory: the fault-injection build of the
module (module/fault.h, TGC_FAULT_MODULE) makes the step named by TGC_FAULT
fail instead. The tests check what an operator would see: the failure is
logged, the zone answers its static records (the module is not active), no
probe or poll follows the failure, knotd keeps serving, and a knotd with the
normal module loads the instance on the same segment afterwards.
"""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tgc  # noqa: E402
from tgc import query, wait_until  # noqa: E402
import test_translator as tt  # noqa: E402

ZONE = "cluster.test"
APEX = ZONE + "."
FAULT_MODULE = os.environ.get("TGC_FAULT_MODULE")
STATIC = "127.0.0.200"
INTERVAL = 200


def records():
    return tgc.DEFAULT_RECORDS + ["@ A " + STATIC]


class FaultEnv:
    """Sets TGC_FAULT for the knotd started inside the block."""

    def __init__(self, step):
        self.step = step

    def __enter__(self):
        os.environ["TGC_FAULT"] = self.step

    def __exit__(self, *exc):
        os.environ.pop("TGC_FAULT", None)


class LoadFaults(tgc.TgcTestCase):

    def setUp(self):
        if not FAULT_MODULE or not os.path.exists(FAULT_MODULE):
            self.fail("TGC_FAULT_MODULE not built (tests/meson.build)")

    def quiet(self, count, what):
        """\\a count() stays unchanged over 3 check intervals (and more)."""
        before = count()
        self.assertStays(lambda: count() == before, 3 * INTERVAL / 1000 + 0.2,
                         what=what)

    def test_lb_hooks_fail_checker_stopped(self):
        n = self.nodes([("127.0.0.11", "tcp")])
        shm = tgc.unique("faults-load")
        self.addCleanup(tgc.unlink_segment, shm)
        conf = {ZONE: {"node": [n[0].spec], "shm": shm,
                       "check-interval": INTERVAL, "check-timeout": 100}}
        with FaultEnv("lb-hooks"):
            k = self.knotd(conf, records=records(), module=FAULT_MODULE)
        wait_until(lambda: "cannot register the query hooks" in k.log_text(),
                   5, what="the load failure logged")
        self.assertTrue(k.alive())
        # The module is not active: the zone's static record answers.
        self.assertEqual(query(k.port, APEX).addrs, [STATIC])
        # Its checker was stopped: no probe reaches the node any more.
        self.quiet(lambda: n[0].accepted, "probes after the failed load")
        self.assertEqual(k.stop(), 0)

        # The same configuration with the normal module loads on the segment.
        k2 = self.knotd(conf, records=records())
        wait_until(lambda: query(k2.port, APEX).addrs == [n[0].addr], 5,
                   what="the module answers after a good load")

    def test_translator_hooks_fail_poller_stopped(self):
        up = tt.FakeUpstream()
        up.start()
        self.addCleanup(up.stop)
        conf = {ZONE: {"upstream": ["lb1"], "upstream-interval": INTERVAL,
                       "upstream-timeout": 100, "nat-map": tt.NAT_MAP}}
        edits = [tt.before("module", tt.remotes_text([up]))]
        with FaultEnv("translator-hooks"):
            k = tt.Knotd(conf, edits=edits, records=records(),
                         module=FAULT_MODULE, name="translator")
            self.addCleanup(k.cleanup)
            k.start()
        wait_until(lambda: "cannot register the query hooks" in k.log_text(),
                   5, what="the load failure logged")
        self.assertTrue(k.alive())
        self.assertEqual(query(k.port, APEX).addrs, [STATIC])
        # Its poller was stopped: no poll reaches the upstream any more.
        self.quiet(lambda: up.udp_queries + up.tcp_queries,
                   "polls after the failed load")
        self.assertEqual(k.stop(), 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
