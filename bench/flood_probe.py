#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Floods a translator with queries for random names under a zone while
probing the cluster name, over UDP, for --duration seconds.

    flood_probe.py --port P --zone Z [--name N] [--flood 50] [--probe 20]
                   [--duration 10] [--timeout 1.0] [--tcp-retry 8]
                   [--tcp-timeout 3.0]

The flood sends A queries for rnd-<hex>.<zone> at --flood per second, in turn
from 16 sockets (16 source ports, as a resolver's random ports spread over
knotd's per-worker sockets), and counts the answers by RCODE (unanswered =
sent - answered, counted after a grace of --timeout). As a resolver does, an
answer with TC is asked again over TCP, by --tcp-retry threads (a retry is
dropped, counted in tcp_dropped, while all are busy; 0: no retries), each
waiting at most --tcp-timeout; the TCP answers are counted by RCODE
(tcp_<rcode>, tcp_none for no answer). The probe asks A of
--name (default: the zone) at --probe per second, one query at a time, each
from a new socket (a new source port) and waiting at most --timeout, and
records its latency and whether the answer was stale (TTL 1). Prints one
line of key=value pairs. Only 127.0.0.0/8 servers are accepted.
"""

import argparse
import os
import queue
import selectors
import socket
import statistics
import struct
import threading
import time

RCODES = {0: "noerror", 2: "servfail", 3: "nxdomain", 5: "refused"}


def build_query(qid, name, qtype=1):
    wire = b"".join(bytes([len(lb)]) + lb.encode()
                    for lb in name.strip(".").split(".")) + b"\0"
    return struct.pack("!HHHHHH", qid, 0, 1, 0, 0, 0) + wire + struct.pack("!HH", qtype, 1)


def first_ttl(msg):
    """TTL of the first answer record (None if there is none)."""
    if struct.unpack("!H", msg[6:8])[0] == 0:
        return None
    off = 12
    while msg[off] != 0:          # question name (never compressed here)
        off += 1 + msg[off]
    off += 5
    if msg[off] & 0xc0 == 0xc0:   # answer owner: a pointer
        off += 2
    else:
        while msg[off] != 0:
            off += 1 + msg[off]
        off += 1
    return struct.unpack("!I", msg[off + 4:off + 8])[0]


def tcp_query(port, name, timeout):
    """One A query over TCP; returns the RCODE name ("none": no answer)."""
    q = build_query(int.from_bytes(os.urandom(2), "big"), name)
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.settimeout(timeout)
            s.sendall(struct.pack("!H", len(q)) + q)
            buf = b""
            while len(buf) < 2 or len(buf) < 2 + struct.unpack("!H", buf[:2])[0]:
                chunk = s.recv(65535)
                if not chunk:
                    return "none"
                buf += chunk
    except OSError:
        return "none"
    return RCODES.get(buf[5] & 0x0f, "other")


def tcp_retrier(args, jobs, counts, lock):
    while True:
        name = jobs.get()
        if name is None:
            return
        rc = tcp_query(args.port, name, args.tcp_timeout)
        with lock:
            counts[rc] = counts.get(rc, 0) + 1


def qname_of(msg):
    """The question name of a reply (never compressed in the question)."""
    labels, off = [], 12
    while msg[off] != 0:
        labels.append(msg[off + 1:off + 1 + msg[off]].decode())
        off += 1 + msg[off]
    return ".".join(labels)


def flood(args, stop, out):
    socks = []
    for _ in range(16):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.connect(("127.0.0.1", args.port))
        socks.append(s)
    sel = selectors.DefaultSelector()
    for s in socks:
        sel.register(s, selectors.EVENT_READ)
    counts = {}
    sent = 0
    jobs = queue.Queue(maxsize=max(1, args.tcp_retry))
    tcp_counts, tcp_lock = {}, threading.Lock()
    retriers = [threading.Thread(target=tcp_retrier, daemon=True,
                                 args=(args, jobs, tcp_counts, tcp_lock))
                for _ in range(args.tcp_retry)]
    for t in retriers:
        t.start()
    tc = [0, 0]   # answers with TC, retries dropped

    def reader():
        while not stop.is_set() or time.monotonic() < grace[0]:
            for key, _ in sel.select(0.05):
                try:
                    msg = key.fileobj.recv(65535)
                except OSError:
                    continue
                if len(msg) > 12 and msg[2] & 0x02:
                    tc[0] += 1
                    if retriers:
                        try:
                            jobs.put_nowait(qname_of(msg))
                        except (queue.Full, IndexError, UnicodeDecodeError):
                            tc[1] += 1
                    continue
                rc = RCODES.get(msg[3] & 0x0f, "other")
                counts[rc] = counts.get(rc, 0) + 1

    grace = [float("inf")]
    rt = threading.Thread(target=reader, daemon=True)
    rt.start()
    step, t = 1.0 / args.flood, time.monotonic()
    while not stop.is_set():
        name = "rnd-%s.%s" % (os.urandom(6).hex(), args.zone)
        try:
            socks[sent % len(socks)].send(build_query(sent & 0xffff, name))
            sent += 1
        except OSError:
            pass
        t += step
        time.sleep(max(0.0, t - time.monotonic()))
    grace[0] = time.monotonic() + args.timeout
    rt.join()
    sel.close()
    for s in socks:
        s.close()
    for t in retriers:
        jobs.put(None)
    for t in retriers:
        t.join()
    out.update(flood_sent=sent, **{"flood_" + k: v for k, v in counts.items()})
    out["flood_unanswered"] = sent - sum(counts.values()) - tc[0]
    if tc[0]:
        out.update(flood_tc=tc[0], tcp_dropped=tc[1],
                   **{"tcp_" + k: v for k, v in tcp_counts.items()})


def probe(args, stop, out):
    lat, sent, stale, bad = [], 0, 0, 0
    step, t, qid = 1.0 / args.probe, time.monotonic(), 0
    while not stop.is_set():
        qid = (qid + 1) & 0xffff
        q = build_query(qid, args.name)
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.connect(("127.0.0.1", args.port))
        t0 = time.monotonic()
        s.send(q)
        sent += 1
        deadline = t0 + args.timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            s.settimeout(left)
            try:
                msg = s.recv(65535)
            except socket.timeout:
                break
            if msg[:2] == q[:2]:
                lat.append((time.monotonic() - t0) * 1000.0)
                if msg[3] & 0x0f != 0 or first_ttl(msg) is None:
                    bad += 1
                elif first_ttl(msg) <= 1:
                    stale += 1
                break
        s.close()
        t += step
        time.sleep(max(0.0, t - time.monotonic()))
    lat.sort()
    out.update(probe_sent=sent, probe_answered=len(lat), probe_not_addresses=bad,
               probe_stale=stale)
    if lat:
        out.update(probe_p50_ms="%.1f" % statistics.median(lat),
                   probe_p99_ms="%.1f" % lat[min(len(lat) - 1, int(len(lat) * 0.99))],
                   probe_max_ms="%.1f" % lat[-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--zone", required=True)
    ap.add_argument("--name")
    ap.add_argument("--flood", type=float, default=50)
    ap.add_argument("--probe", type=float, default=20)
    ap.add_argument("--duration", type=float, default=10)
    ap.add_argument("--timeout", type=float, default=1.0)
    ap.add_argument("--tcp-retry", type=int, default=8)
    ap.add_argument("--tcp-timeout", type=float, default=3.0)
    args = ap.parse_args()
    args.name = args.name or args.zone
    stop = threading.Event()
    out = {}
    threads = [threading.Thread(target=probe, args=(args, stop, out))]
    if args.flood > 0:
        threads.append(threading.Thread(target=flood, args=(args, stop, out)))
    for t in threads:
        t.start()
    time.sleep(args.duration)
    stop.set()
    for t in threads:
        t.join()
    print(" ".join("%s=%s" % kv for kv in sorted(out.items())))


if __name__ == "__main__":
    main()
