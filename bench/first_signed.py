#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Latency of the first signed answer of each address set (the one that
signs) against cached ones. Run from the repo root after a build:
TGC_MODULE=build/mod-tgcluster.so python3 bench/first_signed.py"""
import os, sys, time, statistics
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "integration"))
import tgc
import dns.message, dns.query, dns.rdatatype
from tgc import query, wait_until
ZONE="cluster.test"; APEX=ZONE+"."
conf = {"node": ["10.10.10.%d" % i for i in range(100, 126)], "check": "none",
        "ttl": 7, "answers": 1, "policy": "random", "shm": tgc.unique("t")}
k = tgc.Knotd({ZONE: conf}, zone_conf=["dnssec-signing: on"])
try:
    k.start()
    wait_until(lambda: query(k.port, APEX, "DNSKEY").ancount > 0, 20)
    k.knotc("reload")
    q = dns.message.make_query(APEX, "A", want_dnssec=True)
    wait_until(lambda: any(rr.rdtype == dns.rdatatype.RRSIG for rr in dns.query.udp(q, "127.0.0.1", port=k.port, timeout=5).answer), 20)
    seen=set(); first=[]; rest=[]
    for i in range(3000):
        t=time.perf_counter(); r=dns.query.udp(q, "127.0.0.1", port=k.port, timeout=5); dt=(time.perf_counter()-t)*1e6
        a=[rd.address for rr in r.answer if rr.rdtype==dns.rdatatype.A for rd in rr][0]
        (rest if a in seen else first).append(dt); seen.add(a)
    print("first answers per set (sign): n=%d median %.0f us; cached: n=%d median %.0f us; diff %.0f us" % (len(first), statistics.median(first), len(rest), statistics.median(rest), statistics.median(first)-statistics.median(rest)))
finally:
    k.stop(); k.cleanup()
