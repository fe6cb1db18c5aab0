#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""A simulated cluster node that tells who it is, for the end-to-end tests
and `demo.sh nat`.

    idnode.py --listen 203.0.113.100:5900=tg1 [--listen ADDR:PORT=ID ...]

Every accepted connection gets an RFB 3.8 banner ("RFB 003.008\\n"); once the
client has answered with its 12-byte version, the node offers one security
type (None: bytes 1, 1), which is what the module's `rfb` check reads,
followed by one identity line:

    TGC-NODE id=tg1 addr=203.0.113.100 port=5900 peer=198.51.100.10

addr is the address the connection arrived at and peer the address it came
from, as this node sees them: behind a DNAT the node shows its own address and
the viewer's LAN address. The connection is held open until the peer closes
it (at most --hold seconds). Runs until SIGTERM/SIGINT.

Only loopback and documentation addresses (192.0.2.0/24, 198.51.100.0/24,
203.0.113.0/24, 2001:db8::/32) are accepted: this program is meant to run on
loopback or inside network namespaces made by the tests.
"""

import argparse
import ipaddress
import signal
import socket
import sys
import threading

BANNER = b"RFB 003.008\n"
TYPES = b"\x01\x01"  # one security type: None
ALLOWED = [ipaddress.ip_network(n) for n in (
    "127.0.0.0/8", "::1/128", "192.0.2.0/24", "198.51.100.0/24",
    "203.0.113.0/24", "2001:db8::/32")]


def parse_listen(text):
    """"ADDR:PORT=ID" (or "[ADDR6]:PORT=ID") -> (addr, port, id)."""
    spec, _, ident = text.partition("=")
    if spec.startswith("["):
        addr, _, rest = spec[1:].partition("]")
        port = rest.lstrip(":")
    else:
        addr, _, port = spec.rpartition(":")
    try:
        ip = ipaddress.ip_address(addr)
        port = int(port)
    except ValueError:
        raise argparse.ArgumentTypeError("bad --listen %r (ADDR:PORT=ID)" % text)
    if not any(ip in n for n in ALLOWED):
        raise argparse.ArgumentTypeError(
            "%s is neither loopback nor a documentation address" % addr)
    if not 0 < port < 65536 or not ident or any(c.isspace() for c in ident):
        raise argparse.ArgumentTypeError("bad --listen %r (ADDR:PORT=ID)" % text)
    return str(ip), port, ident


def serve_conn(conn, ident, hold):
    try:
        local = conn.getsockname()
        peer = conn.getpeername()
        line = "TGC-NODE id=%s addr=%s port=%d peer=%s\n" % (
            ident, local[0], local[1], peer[0])
        conn.settimeout(hold)
        conn.sendall(BANNER)
        version = b""
        while len(version) < 12:
            chunk = conn.recv(12 - len(version))
            if not chunk:
                return
            version += chunk
        conn.sendall(TYPES + line.encode())
        while conn.recv(4096):
            pass
    except OSError:
        pass
    finally:
        conn.close()


def serve(listener, ident, hold):
    while True:
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        threading.Thread(target=serve_conn, args=(conn, ident, hold),
                         daemon=True).start()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--listen", action="append", type=parse_listen,
                    required=True, metavar="ADDR:PORT=ID")
    ap.add_argument("--hold", type=float, default=3.0,
                    help="most seconds a connection stays open")
    args = ap.parse_args(argv)

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    listeners = []
    for addr, port, ident in args.listen:
        fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
        s = socket.socket(fam, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((addr, port))
        s.listen(64)
        listeners.append(s)
        threading.Thread(target=serve, args=(s, ident, args.hold),
                         daemon=True).start()
        print("idnode: %s listening on %s:%d" % (ident, addr, port), flush=True)
    while not stop.wait(0.5):
        pass
    for s in listeners:
        s.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
