#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""check: http, https and tls against simulated nodes (200, 503, garbage,
an unfinished head, a close in the middle of the head; valid, expired and
wrong-name certificates; IPv6), and the backup tier taking over and
handing back."""

import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tgc  # noqa: E402
from tgc import query, wait_until  # noqa: E402

import dns.rcode  # noqa: E402

ZONE = "cluster.test"
APEX = ZONE + "."
TIMING = {"check-interval": 200, "check-timeout": 150, "check-rise": 1,
          "check-fall": 1, "policy": "ordered"}


def probes(k):
    return [(n["health"], n["last_probe"]) for n in k.shm().nodes()]


class HttpChecks(tgc.TgcTestCase):

    @classmethod
    def setUpClass(cls):
        cls.pki_dir = tempfile.mkdtemp(prefix="tgc-pki-")
        cls.pki = tgc.make_certs(cls.pki_dir, ips=("127.0.0.1", "127.0.0.31",
                                                   "127.0.0.41", "::1"))

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.pki_dir, ignore_errors=True)

    def lb(self, nodes, **items):
        conf = {"node": [n.spec for n in nodes]}
        conf.update(TIMING)
        conf.update(items)
        return self.knotd({ZONE: conf})

    def wait_probed(self, k, want, what):
        try:
            wait_until(lambda: probes(k) == want, 10, what=what)
        except AssertionError:
            self.fail("%s: want %s, have %s" % (what, want, probes(k)))

    def test_http_statuses_and_broken_responses(self):
        nodes = self.nodes([("127.0.0.21", "http200"), ("127.0.0.22", "http503"),
                            ("127.0.0.23", "httpgarbage"),
                            ("127.0.0.24", "httpslow"),
                            ("127.0.0.25", "httpcut"),
                            ("127.0.0.26", "rfb")])
        k = self.lb(nodes, check="http", **{"check-path": "/hc?x=1",
                                            "check-host": "node.test"})
        self.wait_probed(k, [("up", "ok"), ("down", "status"),
                             ("down", "banner"), ("down", "timeout"),
                             ("down", "banner"), ("down", "banner")],
                         "one healthy node")
        self.assertEqual(query(k.port, APEX).addrs, ["127.0.0.21"])
        req = nodes[0].requests[-1].decode()
        self.assertTrue(req.startswith("GET /hc?x=1 HTTP/1.1\r\n"), req)
        self.assertIn("\r\nHost: node.test\r\n", req)
        self.assertIn("\r\nConnection: close\r\n", req)

        # The 503 node recovers; the healthy one starts failing.
        nodes[1].set_mode("http200")
        nodes[0].set_mode("httpcut")
        wait_until(lambda: query(k.port, APEX).addrs == ["127.0.0.22"], 10,
                   what="answers follow the status codes")
        self.assertIn("node 127.0.0.22 port %d down -> up (ok" % nodes[1].port,
                      k.log_text())

    def test_http_status_list_and_ipv6(self):
        nodes = self.nodes([("127.0.0.21", "http503"), ("::1", "http200"),
                            ("127.0.0.22", "http200")])
        k = self.lb(nodes, check="http", **{"check-status": [200, 503]})
        self.wait_probed(k, [("up", "ok")] * 3, "503 accepted")
        self.assertEqual(query(k.port, APEX, "AAAA").addrs, ["::1"])
        # Default Host: the node address with its port, IPv6 in brackets.
        req = nodes[1].requests[-1].decode()
        self.assertIn("\r\nHost: [::1]:%d\r\n" % nodes[1].port, req)
        self.assertTrue(req.startswith("GET / HTTP/1.1\r\n"), req)

    def test_https_verified_with_a_ca_file(self):
        p = self.pki
        nodes = self.nodes([
            ("127.0.0.1", "http200", 0, tgc.server_tls(p["valid"])),
            ("::1", "http200", 0, tgc.server_tls(p["valid"])),
            ("127.0.0.1", "http200", 0, tgc.server_tls(p["expired"])),
            ("127.0.0.1", "http200", 0, tgc.server_tls(p["wrongname"])),
            ("127.0.0.1", "rfb", 0, None),
            ("127.0.0.1", "http503", 0, tgc.server_tls(p["valid"]))])
        k = self.lb(nodes, check="https", **{"check-tls-ca": p["ca"],
                                             "check-host": "node.test"})
        self.wait_probed(k, [("up", "ok"), ("up", "ok"), ("down", "cert"),
                             ("down", "cert"), ("down", "tls"),
                             ("down", "status")], "https verdicts")
        req = nodes[0].requests[-1].decode()
        self.assertIn("\r\nHost: node.test\r\n", req)
        self.assertEqual(query(k.port, APEX, "AAAA").addrs, ["::1"])
        # Probes after the first resume its TLS session (the server
        # issues tickets); failed ones never do.
        wait_until(lambda: nodes[0].resumed >= 2, 10,
                   what="sessions resumed")
        self.assertEqual(nodes[2].resumed + nodes[3].resumed, 0)

    def test_https_verify_by_address_and_system_cas(self):
        p = self.pki
        # Without check-host the expected name is the node address, which
        # the valid certificate carries as an IP entry.
        nodes = self.nodes([
            ("127.0.0.31", "http200", 0, tgc.server_tls(p["valid"])),
            ("127.0.0.32", "http200", 0, tgc.server_tls(p["valid"]))])
        k = self.lb(nodes, check="https", **{"check-tls-ca": p["ca"]})
        self.wait_probed(k, [("up", "ok"), ("down", "cert")],
                         "address checked against the certificate")
        k.stop()
        # The system CAs do not know the test CA.
        k2 = self.lb(nodes, check="https")
        self.wait_probed(k2, [("down", "cert"), ("down", "cert")],
                         "test CA not trusted by the system CAs")

    def test_tls_handshake_alone_verify_off(self):
        p = self.pki
        nodes = self.nodes([
            ("127.0.0.41", "hung", 0, tgc.server_tls(p["expired"])),
            ("127.0.0.42", "tcp", 0, tgc.server_tls(p["wrongname"])),
            ("127.0.0.43", "hung", 0, None),
            ("::1", "hung", 0, tgc.server_tls(p["valid"]))])
        k = self.lb(nodes, check="tls", **{"check-tls-verify": False})
        self.wait_probed(k, [("up", "ok"), ("up", "ok"), ("down", "timeout"),
                             ("up", "ok")], "handshakes without verification")
        self.assertGreater(nodes[0].handshakes, 0)
        k.stop()
        nodes[2].set_mode("rfb")  # speaks first, not TLS
        # Verified against the node address: ::1 is in the valid
        # certificate, 127.0.0.41 only in the expired one.
        k2 = self.lb(nodes, check="tls", **{"check-tls-ca": p["ca"]})
        self.wait_probed(k2, [("down", "cert"), ("down", "cert"),
                              ("down", "tls"), ("up", "ok")],
                         "verification on")


class BackupTier(tgc.TgcTestCase):

    def test_backups_take_over_and_hand_back(self):
        prim = self.nodes([("127.0.0.51", "tcp"), ("127.0.0.52", "tcp")])
        back = self.nodes([("127.0.0.61", "tcp"), ("127.0.0.62", "tcp"),
                           ("::1", "tcp")])
        conf = {"node": [n.spec for n in prim],
                "backup": [n.spec for n in back]}
        conf.update(TIMING)
        k = self.knotd({ZONE: conf})
        seg = k.shm()
        wait_until(lambda: seg.health() == ["up"] * 5, 10, what="all up")
        self.assertEqual([n["tier"] for n in seg.nodes()],
                         ["primary"] * 2 + ["backup"] * 3)
        self.assertEqual(query(k.port, APEX).addrs, ["127.0.0.51", "127.0.0.52"])
        # The IPv6 family has no primary: its backup answers.
        self.assertEqual(query(k.port, APEX, "AAAA").addrs, ["::1"])

        prim[0].stop()
        wait_until(lambda: query(k.port, APEX).addrs == ["127.0.0.52"], 10,
                   what="one primary left, no backups (backup-when 1)")
        prim[1].stop()
        wait_until(lambda: query(k.port, APEX).addrs ==
                   ["127.0.0.61", "127.0.0.62"], 10, what="backups take over")
        st = k.zone_stats()
        self.assertGreater(tgc.stat_sum(st, "backup"), 0, st)
        self.assertEqual(tgc.stat_sum(st, "all-down"), 0, st)

        prim[1].start()
        wait_until(lambda: query(k.port, APEX).addrs == ["127.0.0.52"], 10,
                   what="backups hand back")

        # All down in both tiers: the all-down policy over both.
        for n in prim + back:
            n.stop()
        wait_until(lambda: seg.health() == ["down"] * 5, 10, what="all down")
        self.assertEqual(sorted(query(k.port, APEX).addrs),
                         ["127.0.0.51", "127.0.0.52", "127.0.0.61",
                          "127.0.0.62"])

    def test_backup_when_and_status(self):
        prim = self.nodes([("127.0.0.51", "tcp"), ("127.0.0.52", "tcp"),
                           ("127.0.0.53", "tcp")])
        back = self.nodes([("127.0.0.61", "tcp")])
        conf = {"node": [n.spec for n in prim],
                "backup": [n.spec for n in back], "backup-when": 3,
                "nat-base": "192.168.1.100"}
        conf.update(TIMING)
        k = self.knotd({ZONE: conf})
        wait_until(lambda: k.shm().health() == ["up"] * 4, 10, what="all up")
        self.assertEqual(query(k.port, APEX).addrs,
                         ["192.168.1.100", "192.168.1.101", "192.168.1.102"])
        prim[2].stop()
        # Two primaries are fewer than 3: the backup joins them, mapped
        # as base + its index (3).
        wait_until(lambda: query(k.port, APEX).addrs ==
                   ["192.168.1.100", "192.168.1.101", "192.168.1.103"], 10,
                   what="backup joins below backup-when")
        import json
        import subprocess
        ctl = os.environ.get("TGC_CTL", os.path.join(tgc.REPO, "build",
                                                     "tgclusterctl"))
        out = subprocess.run([ctl, "status", "--json", k.shm().path.split(
            "/")[-1]], stdout=subprocess.PIPE, text=True, check=True).stdout
        tiers = [n["tier"] for n in json.loads(out)["nodes"]]
        self.assertEqual(tiers, ["primary"] * 3 + ["backup"])
        human = subprocess.run([ctl, "status", k.shm().path.split("/")[-1]],
                               stdout=subprocess.PIPE, text=True,
                               check=True).stdout
        self.assertIn("TIER", human)
        self.assertIn("backup", human)


if __name__ == "__main__":
    tgc.main()
