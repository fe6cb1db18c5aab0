#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Many simulated cluster nodes in one process (benchmarks).

    manynodes.py --first 127.1.0.1 --count 1000 --port 15990

Listens on COUNT consecutive loopback addresses starting at FIRST (skipping
addresses whose last octet is 0 or 255) on PORT; every accepted connection is
closed at once (a 'tcp' node: connect succeeds). One thread, one selectors
loop; no dependencies beyond the standard library. Prints "ready N" and the
addresses (one per line, to --list FILE) once every socket listens. Stops on
SIGTERM/SIGINT. Loopback addresses only.
"""

import argparse
import ipaddress
import selectors
import signal
import socket
import sys


def addresses(first, count):
    ip = ipaddress.IPv4Address(first)
    out = []
    while len(out) < count:
        if not ip.is_loopback:
            sys.exit("address %s is not loopback" % ip)
        if ip.packed[3] not in (0, 255):
            out.append(str(ip))
        ip += 1
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--first", default="127.1.0.1")
    ap.add_argument("--count", type=int, required=True)
    ap.add_argument("--port", type=int, default=15990)
    ap.add_argument("--backlog", type=int, default=256)
    ap.add_argument("--list", help="write the addresses here, one per line")
    args = ap.parse_args()
    if not 1 <= args.count <= 16384:
        sys.exit("--count out of 1-16384")

    stop = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.append(1))

    sel = selectors.DefaultSelector()
    addrs = addresses(args.first, args.count)
    for a in addrs:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((a, args.port))
        s.listen(args.backlog)
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)
    if args.list:
        with open(args.list, "w") as f:
            f.write("\n".join(addrs) + "\n")
    print("ready %d" % len(addrs), flush=True)

    accepted = 0
    while not stop:
        for key, _ in sel.select(timeout=0.5):
            for _ in range(64):   # drain the accept queue, bounded
                try:
                    c, _ = key.fileobj.accept()
                except (BlockingIOError, InterruptedError):
                    break
                except OSError:
                    break
                c.close()
                accepted += 1
    print("accepted %d" % accepted, flush=True)


if __name__ == "__main__":
    main()
