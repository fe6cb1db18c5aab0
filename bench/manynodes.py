#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Many simulated cluster nodes in one process (benchmarks).

    manynodes.py --first 127.1.0.1 --count 1000 --port 15990
                 [--mode tcp|http|https --cert FILE]

Listens on COUNT consecutive loopback addresses starting at FIRST (skipping
addresses whose last octet is 0 or 255) on PORT. Mode tcp: every accepted
connection is closed at once (connect succeeds). Mode http: reads a request
head, answers "200 OK" and closes. Mode https: the same after a TLS
handshake with --cert (key in FILE.key); the server issues TLS 1.3
session tickets (Python's default, as most servers do), --no-tickets turns
them off so that every probe is a full handshake. One thread, one selectors
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


RESPONSE = (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n"
            b"\r\nok")


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
    ap.add_argument("--mode", choices=("tcp", "http", "https"), default="tcp")
    ap.add_argument("--cert", help="certificate (https), key in CERT.key")
    ap.add_argument("--no-tickets", action="store_true",
                    help="https: issue no session tickets (no resumption)")
    args = ap.parse_args()
    tls = None
    if args.mode == "https":
        import ssl
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(args.cert, args.cert + ".key")
        if args.no_tickets:
            tls.options |= ssl.OP_NO_TICKET
            tls.num_tickets = 0
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
    served = 0
    resumed = 0
    conns = {}  # socket -> request bytes so far (None: TLS handshake pending)

    def close(c):
        conns.pop(c, None)
        sel.unregister(c)
        c.close()

    def readable(c):
        nonlocal served, resumed
        try:
            if conns[c] is None:
                c.do_handshake()
                conns[c] = b""
                resumed += c.session_reused
            data = c.recv(4096)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as e:  # ssl.SSLWantReadError is an OSError too
            if type(e).__name__ in ("SSLWantReadError", "SSLWantWriteError"):
                return
            close(c)
            return
        if not data:
            close(c)
            return
        conns[c] += data
        if b"\r\n\r\n" in conns[c]:
            try:
                c.sendall(RESPONSE)
                served += 1
            except OSError:
                pass
            close(c)

    while not stop:
        for key, _ in sel.select(timeout=0.5):
            if key.data is not None:
                readable(key.fileobj)
                continue
            for _ in range(64):   # drain the accept queue, bounded
                try:
                    c, _ = key.fileobj.accept()
                except (BlockingIOError, InterruptedError):
                    break
                except OSError:
                    break
                accepted += 1
                if args.mode == "tcp":
                    c.close()
                    continue
                c.setblocking(False)
                if tls is not None:
                    c = tls.wrap_socket(c, server_side=True,
                                        do_handshake_on_connect=False)
                conns[c] = None if tls is not None else b""
                sel.register(c, selectors.EVENT_READ, "conn")
    print("accepted %d served %d resumed %d" % (accepted, served, resumed),
          flush=True)


if __name__ == "__main__":
    main()
