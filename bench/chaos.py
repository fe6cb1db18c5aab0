#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Chaos benchmark of knotd + mod-tgcluster (driven by bench/chaos.sh).

For DURATION seconds: dnsperf loads knotd with A queries for the cluster
name, every node flaps at random (up and down for 100 ms to 2 s each) and
`knotc reload` runs every RELOAD_MS. A separate checker thread queries the
name continuously and counts

  - stale answers: an answer (by the time its query was sent) listing a node
    that had been dead for longer than interval x fall + timeout + interval,
    judged only while some node had been alive for longer than that bound
    (otherwise all-down "all" answers every node on purpose);
  - SERVFAILs while at least one node was alive;
  - knotd restarts (its PID changed or it exited);
  - growth of knotd's descriptors, threads and RSS (after warm-up vs end).

Variants (first argument): "flap-reload" (the above). Another variant adds
its own node behaviour in VARIANTS below. Uses the test harness
(tests/integration/tgc.py: Knotd, NodeSim, query); loopback only.
"""

import os
import random
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
import tgc  # noqa: E402

import dns.rcode  # noqa: E402

ZONE = "cluster.test"
APEX = ZONE + "."
IPS = ["127.0.0.11", "127.0.0.12", "127.0.0.13"]


def env_int(name, default):
    return int(os.environ.get(name, default))


DURATION = env_int("DURATION", 60)
INTERVAL = env_int("INTERVAL", 200)
TIMEOUT = env_int("TIMEOUT", 100)
FALL = env_int("FALL", 2)
RISE = env_int("RISE", 2)
RELOAD_MS = env_int("RELOAD_MS", 200)
FLAP_MIN_MS = env_int("FLAP_MIN_MS", 100)
FLAP_MAX_MS = env_int("FLAP_MAX_MS", 2000)
QPS = env_int("QPS", 0)                 # dnsperf -Q (0 = unlimited)
WARMUP = env_int("WARMUP", 3)
BOUND = (INTERVAL * FALL + TIMEOUT + INTERVAL) / 1000.0


class Flapper(threading.Thread):
    """Flaps one node: alive and dead for random periods; keeps the times
    of its state changes (under lock) for the answer checker."""

    def __init__(self, sim, stop, down_action, up_action):
        super().__init__(daemon=True)
        self.sim, self.stop_ev = sim, stop
        self.down_action, self.up_action = down_action, up_action
        self.lock = threading.Lock()
        self.alive = True
        self.since = time.monotonic()
        self.rng = random.Random(hash(sim.addr))

    def dead_for(self, t):
        """How long the node had been dead at time t (0 if alive then)."""
        with self.lock:
            if self.alive or t < self.since:
                return 0.0
            return t - self.since

    def is_alive(self):
        with self.lock:
            return self.alive

    def alive_for(self, t):
        """How long the node had been alive at time t (0 if dead then)."""
        with self.lock:
            if not self.alive or t < self.since:
                return 0.0
            return t - self.since

    def run(self):
        while not self.stop_ev.is_set():
            period = self.rng.uniform(FLAP_MIN_MS, FLAP_MAX_MS) / 1000.0
            if self.stop_ev.wait(period):
                break
            with self.lock:
                going_down = self.alive
            if going_down:
                self.down_action(self.sim)
            else:
                self.up_action(self.sim)
            with self.lock:
                self.alive = not going_down
                self.since = time.monotonic()
        self.up_action(self.sim)


def node_down(sim):
    sim.stop()


def node_up(sim):
    sim.start()


# name -> (down action, up action)
VARIANTS = {
    "flap-reload": (node_down, node_up),
}


def proc_sample(pid):
    fds = len(os.listdir("/proc/%d/fd" % pid))
    threads = rss = 0
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("Threads:"):
                threads = int(line.split()[1])
            elif line.startswith("VmRSS:"):
                rss = int(line.split()[1])
    return {"fds": fds, "threads": threads, "rss_kb": rss}


def main():
    variant = sys.argv[1] if len(sys.argv) > 1 else "flap-reload"
    if variant not in VARIANTS:
        sys.exit("unknown variant %r (known: %s)" % (variant, ", ".join(VARIANTS)))
    down_action, up_action = VARIANTS[variant]

    sims = [tgc.NodeSim(ip, 0, "tcp").start() for ip in IPS]
    port = sims[0].port
    for s in sims[1:]:
        s.stop()
        s.port = port
        s.start()
    k = tgc.Knotd({ZONE: {"node": [s.spec for s in sims], "policy": "round-robin",
                          "check-interval": INTERVAL, "check-timeout": TIMEOUT,
                          "check-fall": FALL, "check-rise": RISE, "ttl": 1}},
                  workers=2, name="chaos")
    stop = threading.Event()
    counts = {"queries": 0, "stale": 0, "servfail_live": 0, "servfail_all_dead": 0,
              "timeouts": 0, "restarts": 0, "reloads": 0, "reload_failures": 0,
              "all_down_window": 0}
    worst = [0.0]
    try:
        k.start()
        pid0 = k.pid
        tgc.wait_until(lambda: sorted(tgc.query(k.port, APEX).addrs) == IPS, 10,
                       what="all nodes answered")
        flappers = [Flapper(s, stop, down_action, up_action) for s in sims]

        def checker():
            while not stop.is_set():
                t = time.monotonic()
                try:
                    a = tgc.query(k.port, APEX, timeout=1.0, tries=1)
                except Exception:  # noqa: BLE001 - a lost query is counted
                    counts["timeouts"] += 1
                    continue
                counts["queries"] += 1
                if a.rcode == dns.rcode.SERVFAIL:
                    if any(f.is_alive() for f in flappers):
                        counts["servfail_live"] += 1
                    else:
                        counts["servfail_all_dead"] += 1
                    continue
                # all-down "all" answers every node while none is up: only
                # answers given while some node had been alive for longer
                # than the bound (long enough to be confirmed up) count.
                if all(f.alive_for(t) <= BOUND for f in flappers):
                    counts["all_down_window"] += 1
                    continue
                for f in flappers:
                    if f.sim.addr in a.addrs:
                        d = f.dead_for(t)
                        worst[0] = max(worst[0], d)
                        if d > BOUND:
                            counts["stale"] += 1
                if k.pid != pid0 or not k.alive():
                    counts["restarts"] += 1
                    stop.set()

        def reloader():
            while not stop.wait(RELOAD_MS / 1000.0):
                rc, _ = k.knotc("reload")
                counts["reloads"] += 1
                if rc != 0:
                    counts["reload_failures"] += 1

        qfile = tempfile.NamedTemporaryFile("w", prefix="tgc-chaos-", suffix=".q",
                                            delete=False)
        qfile.write("%s A\n" % APEX)
        qfile.close()
        cmd = ["dnsperf", "-s", "127.0.0.1", "-p", str(k.port), "-d", qfile.name,
               "-l", str(DURATION), "-c", "4", "-t", "2"]
        if QPS > 0:
            cmd += ["-Q", str(QPS)]
        perf = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True)
        threads = [threading.Thread(target=checker, daemon=True),
                   threading.Thread(target=reloader, daemon=True)]
        for f in flappers:
            f.start()
        for th in threads:
            th.start()
        time.sleep(WARMUP)
        before = proc_sample(k.pid)
        perf_out, _ = perf.communicate(timeout=DURATION + 60)
        after = proc_sample(k.pid) if k.alive() else None
        stop.set()
        for th in threads + flappers:
            th.join(10)
        os.unlink(qfile.name)
        if k.pid != pid0 or not k.alive():
            counts["restarts"] = max(counts["restarts"], 1)

        print("variant=%s duration=%ds interval=%dms timeout=%dms fall=%d rise=%d "
              "reload=%dms flaps=%d-%dms bound=%.2fs"
              % (variant, DURATION, INTERVAL, TIMEOUT, FALL, RISE, RELOAD_MS,
                 FLAP_MIN_MS, FLAP_MAX_MS, BOUND))
        for line in perf_out.splitlines():
            if any(w in line for w in ("Queries sent", "Queries completed",
                                       "Queries lost", "Response codes",
                                       "Queries per second")):
                print("dnsperf: " + line.strip())
        print("checker: %(queries)d queries, %(timeouts)d lost, "
              "%(stale)d stale answers, %(servfail_live)d SERVFAIL with a live "
              "node (%(servfail_all_dead)d with all dead), %(all_down_window)d "
              "not judged (no node up for longer than the bound: all-down "
              "answers every node)" % counts)
        print("worst dead-node age in an answer: %.3f s (bound %.2f s)"
              % (worst[0], BOUND))
        print("reloads: %(reloads)d (%(reload_failures)d failed); knotd "
              "restarts: %(restarts)d" % counts)
        print("knotd after warm-up: %s" % before)
        print("knotd at the end:    %s" % after)
        log = k.log_text()
        print("log: %d 'no heartbeat', %d 'took the writer role back', "
              "%d 'no longer using it'"
              % (log.count("no heartbeat"), log.count("took the writer role back"),
                 log.count("no longer using it")))
        ok = (counts["stale"] == 0 and counts["servfail_live"] == 0 and
              counts["restarts"] == 0)
        return 0 if ok else 1
    finally:
        stop.set()
        k.cleanup()
        for s in sims:
            s.close()


if __name__ == "__main__":
    sys.exit(main())
