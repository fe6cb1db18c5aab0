#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Polls a DNS server over UDP until an address leaves or enters the A answer.

    poll_answer.py --port P --name N (--absent IP | --present IP)
                   [--interval 0.05] [--max 10]

Prints "ready" on stdout, then reads one line from stdin: the start time t0
(seconds since the epoch, e.g. bash's $EPOCHREALTIME, taken right after the
node was killed or restarted). Polls at t0 + k * interval (k = 0, 1, ...) and
prints "ELAPSED_MS POLLS" for the first reply that satisfies the condition,
ELAPSED_MS measured from t0 to that reply. Exit 1 after --max seconds.
Only 127.0.0.0/8 servers are accepted.
"""

import argparse
import ipaddress
import os
import socket
import struct
import sys
import time


def build_query(qid, name):
    wire = b"".join(bytes([len(l)]) + l.encode() for l in name.strip(".").split(".")) + b"\0"
    return struct.pack("!HHHHHH", qid, 0, 1, 0, 0, 0) + wire + struct.pack("!HH", 1, 1)


def skip_name(msg, off):
    while True:
        ln = msg[off]
        if ln == 0:
            return off + 1
        if ln & 0xC0 == 0xC0:
            return off + 2
        off += 1 + ln


def parse_a(msg, qid):
    """-> (rcode, set of A addresses) or None if not our reply."""
    if len(msg) < 12:
        return None
    rid, flags, qd, an, _, _ = struct.unpack("!HHHHHH", msg[:12])
    if rid != qid or not flags & 0x8000:
        return None
    off = 12
    for _ in range(qd):
        off = skip_name(msg, off) + 4
    addrs = set()
    for _ in range(an):
        off = skip_name(msg, off)
        rtype, _, _, rdlen = struct.unpack("!HHIH", msg[off:off + 10])
        off += 10
        if rtype == 1 and rdlen == 4:
            addrs.add(socket.inet_ntoa(msg[off:off + 4]))
        off += rdlen
    return flags & 0xF, addrs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--server", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--name", required=True)
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--absent")
    g.add_argument("--present")
    ap.add_argument("--interval", type=float, default=0.05)
    ap.add_argument("--max", type=float, default=10.0)
    args = ap.parse_args()
    if not ipaddress.ip_address(args.server).is_loopback:
        sys.exit("loopback servers only")

    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.connect((args.server, args.port))
    print("ready", flush=True)
    t0 = float(sys.stdin.readline().strip())

    k = 0
    qid = int.from_bytes(os.urandom(2), "big")
    while True:
        target = t0 + k * args.interval
        now = time.time()
        if now - t0 > args.max:
            print("timeout %d" % k, flush=True)
            return 1
        if target > now:
            time.sleep(target - now)
        k += 1
        qid = (qid + 1) & 0xFFFF
        sock.send(build_query(qid, args.name))
        sock.settimeout(max(args.interval, 0.2))
        res = None
        try:
            while res is None:
                res = parse_a(sock.recv(4096), qid)
        except socket.timeout:
            continue
        t_reply = time.time()
        rcode, addrs = res
        if rcode != 0 or not addrs:
            continue
        done = (args.absent not in addrs) if args.absent else (args.present in addrs)
        if done:
            print("%.1f %d" % ((t_reply - t0) * 1000.0, k), flush=True)
            return 0


if __name__ == "__main__":
    sys.exit(main())
