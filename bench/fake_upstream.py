#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""A UDP DNS server on 127.0.0.1 standing in for a load balancer that answers
the translator's polls but drops some names (an overloaded or rate-limiting
upstream): A of --zone gets --answer, SOA of --zone a SOA, names whose first label starts with
--drop-prefix get no reply at all, every other name NXDOMAIN.

    fake_upstream.py --port P --zone Z --answer 127.0.0.11,127.0.0.12
                     [--drop-prefix rnd-]

Prints "ready" once bound; runs until killed.
"""

import argparse
import socket
import struct
import sys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--zone", required=True)
    ap.add_argument("--answer", required=True)
    ap.add_argument("--drop-prefix", default="rnd-")
    args = ap.parse_args()
    zone = b"".join(bytes([len(lb)]) + lb.encode()
                    for lb in args.zone.strip(".").lower().split(".")) + b"\0"
    addrs = [socket.inet_aton(a) for a in args.answer.split(",")]
    drop = args.drop_prefix.encode()
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", args.port))
    print("ready", flush=True)
    while True:
        q, peer = s.recvfrom(65535)
        if len(q) < 17 or q[2] & 0x80:
            continue
        end = 12
        while end < len(q) and q[end] != 0:
            end += 1 + q[end]
        if end + 5 > len(q):
            continue
        qname = q[12:end + 1].lower()
        qtype = struct.unpack("!H", q[end + 1:end + 3])[0]
        if qname[1:1 + len(drop)] == drop:
            continue
        question = q[12:end + 5]
        flags = 0x8400 | (q[2] & 0x01) << 8   # QR, AA, RD copied
        answers = b""
        count = 0
        if qname == zone and qtype == 1:
            for a in addrs:
                answers += b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 5, 4) + a
                count += 1
        elif qname == zone and qtype == 6:
            rdata = (b"\x03ns1\xc0\x0c\x0ahostmaster\xc0\x0c" +
                     struct.pack("!IIIII", 1, 3600, 600, 86400, 60))
            answers = b"\xc0\x0c" + struct.pack("!HHIH", 6, 1, 5, len(rdata)) + rdata
            count = 1
        elif qname != zone:
            flags |= 3                          # NXDOMAIN
        hdr = q[:2] + struct.pack("!HHHHH", flags, 1, count, 0, 0)
        s.sendto(hdr + question + answers, peer)


if __name__ == "__main__":
    sys.exit(main())
