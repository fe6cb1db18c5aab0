#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""knotc conf-check rejects every wrong mod-tgcluster value with a message
naming the item, and accepts a valid configuration; a name outside the zone
fails the module load."""

import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tgc  # noqa: E402
from tgc import query  # noqa: E402

import dns.rcode  # noqa: E402

ZONE = "cluster.test"
APEX = ZONE + "."
VALID = {"node": ["127.0.0.11@5900", "127.0.0.12", "::1@5901"],
         "check": "rfb", "check-port": 5900, "check-interval": 1000,
         "check-timeout": 500, "check-rise": 2, "check-fall": 3, "ttl": 5,
         "answers": 2, "policy": "sticky", "all-down": "nodata"}

# (description, items replacing/extending VALID (None removes), item named)
BAD = [
    ("bare word as node", {"node": ["foo"]}, "node"),
    ("unix path as node", {"node": ["/tmp/sock"]}, "node"),
    ("duplicate nodes via check-port",
     {"node": ["127.0.0.11", "127.0.0.11@5900"], "check-port": 5900}, "node"),
    ("port out of range", {"node": ["127.0.0.11@99999"]}, "node"),
    ("port zero", {"node": ["127.0.0.11@0"]}, "node"),
    ("IPv6 port out of range", {"node": ["::1@70000"]}, "node"),
    ("address with prefix", {"node": ["10.0.0.0/24"]}, "node"),
    ("check-timeout equal to check-interval",
     {"check-interval": 500, "check-timeout": 500}, "check-timeout"),
    ("check-timeout above check-interval",
     {"check-interval": 200, "check-timeout": 300}, "check-timeout"),
    ("check-rise 0", {"check-rise": 0}, "check-rise"),
    ("check-fall 0", {"check-fall": 0}, "check-fall"),
    ("no node and no upstream", {"node": None}, "node"),
    ("bad policy", {"policy": "weighted"}, "policy"),
    ("bad check", {"check": "ftp"}, "check"),
    ("bad all-down", {"all-down": "some"}, "all-down"),
    ("check-port 0", {"check-port": 0}, "check-port"),
    ("check-port too big", {"check-port": 65536}, "check-port"),
    ("ttl too big", {"ttl": 86401 * 365}, "ttl"),
    ("ttl negative", {"ttl": -1}, "ttl"),
    ("answers negative", {"answers": -1}, "answers"),
    ("shm with a slash inside", {"shm": "a/b"}, "shm"),
    ("shm with a space", {"shm": "a b"}, "shm"),
    ("shm empty", {"shm": ""}, "shm"),
    ("shm dot-dot", {"shm": ".."}, "shm"),
    ("shm too long", {"shm": "x" * 300}, "shm"),
    ("name not a domain name", {"name": "a..b"}, "name"),
    # http, https, tls checks.
    ("check-path without slash", {"check": "http", "check-path": "x"},
     "check-path"),
    ("check-path with a space", {"check-path": "/a b"}, "check-path"),
    ("check-path with a line break", {"check-path": "/a\r\nX: y"},
     "check-path"),
    ("check-host with a space", {"check-host": "a b"}, "check-host"),
    ("check-host with a slash", {"check-host": "a/b"}, "check-host"),
    ("check-status below 100", {"check-status": [99]}, "check-status"),
    ("check-status above 599", {"check-status": [200, 600]}, "check-status"),
    ("check-status too many codes",
     {"check-status": list(range(200, 233))}, "check-status"),
    ("check-tls-verify not a boolean", {"check-tls-verify": "maybe"},
     "check-tls-verify"),
    ("check-tls-ca missing file",
     {"check": "https", "check-tls-ca": "/nonexistent/ca.pem"},
     "check-tls-ca"),
    ("check-tls-ca not a certificate",
     {"check": "tls", "check-tls-ca": "/etc/hostname"}, "check-tls-ca"),
    ("check-tls-ca with verification off",
     {"check": "https", "check-tls-ca": "/etc/hostname",
      "check-tls-verify": False}, "check-tls-ca"),
    # Backup tier.
    ("backup not an address", {"backup": ["foo"]}, "backup"),
    ("backup duplicates a node", {"backup": ["127.0.0.12@5900"]}, "backup"),
    ("backup duplicated", {"backup": ["127.0.0.21", "127.0.0.21@5900"]},
     "backup"),
    ("backup without node", {"node": None, "backup": ["127.0.0.21"]},
     "backup"),
    ("backup-when without backup", {"backup-when": 1}, "backup-when"),
    ("backup-when 0", {"backup": ["127.0.0.21"], "backup-when": 0},
     "backup-when"),
    ("backup-when above the nodes",
     {"backup": ["127.0.0.21"], "backup-when": 4}, "backup-when"),
    ("nat-base overflows on a backup",
     {"node": ["127.0.0.11"], "backup": ["127.0.0.21"],
      "nat-base": "255.255.255.255"}, "nat-base"),
    ("min-live above the node count", {"min-live": 4}, "min-live"),
    ("min-live negative", {"min-live": -1}, "min-live"),
    ("node-weight without =", {"node-weight": ["127.0.0.11"]}, "node-weight"),
    ("node-weight too large", {"node-weight": ["127.0.0.11=10001"]},
     "node-weight"),
    ("node-weight names no node", {"node-weight": ["127.0.0.99=2"]},
     "node-weight"),
    ("node-weight port names no node",
     {"node-weight": ["127.0.0.11@5999=2"]}, "node-weight"),
    ("load-low without load-high", {"agent-port": 5901, "load-low": 50},
     "load-low"),
    ("load-low above load-high",
     {"agent-port": 5901, "load-high": 60, "load-low": 70}, "load-low"),
    ("load-high without agent-port", {"load-high": 90}, "load-high"),
    ("slow-start without least-loaded", {"slow-start": 30}, "slow-start"),
    ("bad policy", {"policy": "least-used"}, "policy"),
    ("grant-window negative", {"grant-window": -1}, "grant-window"),
]


# Longest node values (51 characters): knotd keeps all values of an item in
# at most 65535 bytes (each value takes its length + 3), so these are what
# the documented maximum must carry.
LONGEST_NODE = "fdff:ffff:ffff:ffff:ffff:ffff:255.255.%d.%d@65535"
NODES_MAX = 1200


class KnotdRemotes(tgc.Knotd):
    """tgc.Knotd with a text inserted before the module sections (the
    `remote` sections a translator's `upstream` refers to)."""

    def __init__(self, zones, pre="", **kw):
        self.pre = pre
        super().__init__(zones, **kw)

    def write_conf(self):
        super().write_conf()
        with open(self.conf) as f:
            text = f.read()
        assert "\nmodule:\n" in text
        text = text.replace("\nmodule:\n", "\n%s\nmodule:\n" % self.pre, 1)
        with open(self.conf, "w") as f:
            f.write(text)


def remotes(counts):
    """`remote` sections r0, r1, ... with counts[i] loopback addresses."""
    lines = ["remote:"]
    for i, n in enumerate(counts):
        addrs = ", ".join("127.0.%d.%d@53" % (i + 1, k + 1) for k in range(n))
        lines += ["  - id: r%d" % i, "    address: [ %s ]" % addrs]
    return "\n".join(lines) + "\n"


def item_re(item):
    """The item as a word of its own ('check' does not match 'check-port')."""
    return re.compile(r"(?<![\w-])%s(?![\w-])" % re.escape(item))


class ConfCheck(tgc.TgcTestCase):

    def conf(self, items):
        conf = dict(VALID)
        for key, val in items.items():
            if val is None:
                conf.pop(key, None)
            else:
                conf[key] = val
        return self.knotd({ZONE: conf}, start=False)

    def test_valid_config_passes(self):
        k = self.conf({})
        rc, out = k.conf_check()
        self.assertEqual(rc, 0, out)
        self.assertIn("Configuration is valid", out)

    def test_valid_minimal_config_passes(self):
        k = self.knotd({ZONE: {"node": ["127.0.0.11"]}}, start=False)
        rc, out = k.conf_check()
        self.assertEqual(rc, 0, out)

    def test_bad_values_rejected_naming_the_item(self):
        for desc, items, item in BAD:
            with self.subTest(desc):
                k = self.conf(items)
                rc, out = k.conf_check()
                self.assertNotEqual(rc, 0, "%s: accepted:\n%s" % (desc, out))
                errors = "\n".join(l for l in out.splitlines()
                                   if "error" in l.lower())
                self.assertRegex(errors, item_re(item),
                                 "%s: error does not name '%s':\n%s"
                                 % (desc, item, out))
                # knotd refuses to start with it too.
                k.cleanup()

    def test_valid_http_and_backup_items_pass(self):
        k = self.conf({"check": "https", "check-path": "/health?full=1",
                       "check-host": "[2001:db8::1]:8443",
                       "check-status": [200, 204], "check-tls-verify": False,
                       "backup": ["127.0.0.21", "::2"], "backup-when": 3})
        rc, out = k.conf_check()
        self.assertEqual(rc, 0, out)

    def test_valid_steering_items_pass(self):
        k = self.conf({"policy": "least-loaded", "agent-port": 5901,
                       "node-weight": ["127.0.0.11=4", "127.0.0.12@5900=0"],
                       "grant-window": 0, "load-high": 90, "load-low": 75,
                       "slow-start": 120})
        rc, out = k.conf_check()
        self.assertEqual(rc, 0, out)

    def test_too_many_nodes_named(self):
        nodes = ["127.1.%d.%d" % (i // 250, i % 250 + 1)
                 for i in range(NODES_MAX + 1)]
        rc, out = self.conf({"node": nodes}).conf_check()
        self.assertNotEqual(rc, 0, out)
        self.assertIn("too many nodes (max %d)" % NODES_MAX, out)
        self.assertRegex(out, item_re("node"))

    def test_max_nodes_longest_values_load(self):
        # The maximum holds however the nodes are written: the longest
        # values pass knotd's parser and the check, and the instance loads.
        nodes = [LONGEST_NODE % (100 + i // 150, 100 + i % 150)
                 for i in range(NODES_MAX)]
        self.assertEqual({len(n) for n in nodes}, {51})
        k = self.knotd({ZONE: {"node": nodes, "check": "none",
                               "answers": 2}}, start=False)
        rc, out = k.conf_check()
        self.assertEqual(rc, 0, out)
        k.start()
        self.assertEqual(k.shm().header()["count"], NODES_MAX)
        self.assertEqual(len(query(k.port, APEX, "AAAA").addrs), 2)

    def translator(self, counts, items=None):
        conf = {"upstream": ["r%d" % i for i in range(len(counts))]}
        conf.update(items or {})
        k = KnotdRemotes({ZONE: conf}, pre=remotes(counts))
        self.addCleanup(k.cleanup)
        return k

    def test_upstream_addresses_counted(self):
        # The translator loads at most 64 upstream addresses in all,
        # whatever the number of remotes they come from.
        rc, out = self.translator([40, 24]).conf_check()
        self.assertEqual(rc, 0, out)
        for counts in ([40, 25], [65], [1] * 65):
            with self.subTest(counts=len(counts)):
                rc, out = self.translator(counts).conf_check()
                self.assertNotEqual(rc, 0, out)
                self.assertRegex(out, item_re("upstream"))
                self.assertIn("too many addresses: %d" % sum(counts), out)
                self.assertIn("max 64", out)

    def test_upstream_unix_socket_rejected(self):
        k = KnotdRemotes({ZONE: {"upstream": ["r0", "u"]}},
                         pre=remotes([1]) + "  - id: u\n    address: /tmp/x.sock\n")
        self.addCleanup(k.cleanup)
        rc, out = k.conf_check()
        self.assertNotEqual(rc, 0, out)
        self.assertRegex(out, r"'upstream' u: address 1 is not an IP address")

    def test_literal_duplicate_node_collapsed(self):
        # knotd's configuration layer merges identical values of any
        # multi-valued item before the module's section check runs, and the
        # per-value check has no section context (its id is empty), so a
        # literal repeat cannot be rejected by a module. It must at least
        # not become two nodes: the effective configuration holds one.
        # (Duplicates written differently are rejected: see
        # test_bad_values.)
        k = self.conf({"node": ["127.0.0.11@5900", "127.0.0.11@5900"]})
        rc, out = k.conf_check()
        self.assertEqual(rc, 0, out)
        k.start()
        self.assertEqual(k.shm().header()["count"], 1)

    def test_knotd_refuses_bad_config(self):
        k = self.conf({"node": ["foo"]})
        with self.assertRaises(RuntimeError):
            k.start(timeout=5)
        self.assertRegex(k.log_text(), item_re("node"))

    def test_name_outside_zone_fails_load(self):
        nodes = self.nodes([("127.0.0.11", "tcp")])
        k = self.knotd({ZONE: {"node": [n.spec for n in nodes],
                               "name": "other.test."}},
                       records=tgc.DEFAULT_RECORDS + ["@ A 192.0.2.1"])
        errors = [l for l in k.log_text().splitlines()
                  if re.search(r"\b(error|critical)\b", l)]
        self.assertTrue(any(item_re("name").search(l) for l in errors),
                        "no error naming 'name' in:\n%s" % "\n".join(errors))
        # The module is not active: the apex A comes from the zone and the
        # other name is not ours.
        a = query(k.port, APEX, "A")
        self.assertEqual(a.addrs, ["192.0.2.1"])
        self.assertEqual(query(k.port, "other.test.", "A").rcode,
                         dns.rcode.REFUSED)
        self.assertFalse(k.shm().exists(),
                         "a failed instance must not leave a segment")
        self.assertTrue(k.alive())


if __name__ == "__main__":
    tgc.main()
