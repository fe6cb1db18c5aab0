#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Simulated cluster nodes for mod-tgcluster demos and manual tests.

    nodesim.py --listen 127.0.0.11:5900 --mode rfb [--listen [::1]:5901 ...]

Listens until SIGTERM/SIGINT. Modes: tcp (accept and close), rfb (an RFB 3.8
server offering VncAuth, connection kept open a while), hung (accept and send
nothing), badbanner (send a banner that is not RFB), rfbrefuse (refuse like a
VNC server that blacklisted the prober), rfbmute (RFB banner, then silence).
Loopback addresses only.
"""

import argparse
import ipaddress
import os
import signal
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tgc import MODES, NodeGroup  # noqa: E402


def parse_listen(text):
    """"ADDR:PORT" or "[ADDR6]:PORT" -> (addr, port), loopback only."""
    if text.startswith("["):
        addr, _, rest = text[1:].partition("]")
        port = rest.lstrip(":")
    else:
        addr, _, port = text.rpartition(":")
    try:
        ip = ipaddress.ip_address(addr)
        port = int(port)
    except ValueError:
        raise argparse.ArgumentTypeError("bad --listen %r (ADDR:PORT)" % text)
    if not ip.is_loopback:
        raise argparse.ArgumentTypeError("%s is not a loopback address" % addr)
    if not 0 < port < 65536:
        raise argparse.ArgumentTypeError("bad port in %r" % text)
    return str(ip), port


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--listen", action="append", type=parse_listen, required=True,
                    metavar="ADDR:PORT", help="listen address (repeatable)")
    ap.add_argument("--mode", choices=MODES, default="rfb")
    ap.add_argument("--hold", type=float, default=3.0,
                    help="seconds an rfb/badbanner connection stays open")
    args = ap.parse_args(argv)

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())

    group = NodeGroup()
    try:
        for addr, port in args.listen:
            node = group.add(addr, port, args.mode, args.hold)
            print("nodesim: %s listening on %s (%s)" % (os.getpid(), node.spec,
                                                       args.mode), flush=True)
        while not stop.wait(0.5):
            pass
    finally:
        group.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
