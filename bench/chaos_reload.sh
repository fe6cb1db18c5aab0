#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Reload storm with hung nodes: knotd + mod-tgcluster with NODES simulated RFB
# nodes (`check: rfb`) is reloaded with `knotc reload` every RELOAD_MS while
# dnsperf sends QPS queries for the cluster name and nodes fail one after the
# other: every CYCLE s the next node either hangs (accepts TCP, never sends
# the RFB banner) or refuses connections, for DOWN s, then comes back.
#
# Counted (target: zero answers listing a node dead past its bound):
#   bound = check-interval x check-fall + check-timeout + check-interval
#   - sampler: a UDP query every 1/SAMPLE_QPS s; each answer listing a node
#     at a send time in [fail + bound, back) counts as "past bound";
#   - shm: the per-node answer counter of the shared table (every answer of
#     knotd, dnsperf's included) read at fail + bound and when the node comes
#     back: their difference is what was answered past the bound;
#   - detection: time from the failure to the table saying down.
#
# knotd, its knot.conf and the nodes come from the test harness
# (tests/integration/tgc.py: Knotd, NodeGroup); this file only drives them.
#
# Env: DURATION=60 RELOAD_MS=300 QPS=5000 NODES=10 CYCLE=3 DOWN=6
#      INTERVAL=1000 TIMEOUT=500 FALL=2 RISE=2 SAMPLE_QPS=200 WORKERS=1
#      SERVER_CPU=1 CLIENT_CPU=0 MODULE_SO=build/mod-tgcluster.so KEEP=1
#      PYTHON=/usr/bin/python3 (a Python with dnspython)
#      OUT=${TMPDIR:-/tmp}/tgc-bench-results/chaos-reload-<timestamp>
set -u
. "$(dirname "$0")/lib.sh"

DURATION=${DURATION:-60} RELOAD_MS=${RELOAD_MS:-300} QPS=${QPS:-5000}
NODES=${NODES:-10} CYCLE=${CYCLE:-3} DOWN=${DOWN:-6}
INTERVAL=${INTERVAL:-1000} TIMEOUT=${TIMEOUT:-500} FALL=${FALL:-2} RISE=${RISE:-2}
SAMPLE_QPS=${SAMPLE_QPS:-200} WORKERS=${WORKERS:-1}
(( DURATION >= 10 && DURATION <= 3600 )) || die "DURATION out of 10-3600"
(( NODES >= 3 && NODES <= 200 )) || die "NODES out of 3-200"

if ! command -v dnsperf >/dev/null; then
	log "dnsperf missing: apt-get install -y dnsperf"
	apt-get install -y dnsperf >/dev/null 2>&1 || die "cannot install dnsperf"
fi

bench_init chaos-reload
OUT=${OUT:-${TMPDIR:-/tmp}/tgc-bench-results/chaos-reload-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT"
{ machine_notes
  echo "duration=${DURATION}s reload every ${RELOAD_MS}ms qps=$QPS nodes=$NODES cycle=${CYCLE}s down=${DOWN}s" \
       "check=rfb interval=${INTERVAL}ms timeout=${TIMEOUT}ms fall=$FALL rise=$RISE sample=${SAMPLE_QPS}/s"
  echo "bound interval x fall + timeout + interval = $(( INTERVAL * FALL + TIMEOUT + INTERVAL )) ms"
} | tee "$OUT/meta.txt" >&2

# The harness starts and stops knotd and the nodes (by PID, also on error)
# and removes its segment; lib.sh's cleanup removes $WORK.
export TGC_MODULE=$WORK/mod-tgcluster.so TGC_KNOTD=$KNOTD TGC_KNOTC=$KNOTC
export DURATION RELOAD_MS QPS NODES CYCLE DOWN INTERVAL TIMEOUT FALL RISE \
       SAMPLE_QPS WORKERS SERVER_CPU CLIENT_CPU OUT ZONE
taskset -c "$CLIENT_CPU" "$PYTHON" - "$REPO_DIR/tests/integration" <<'PY' 2>&1 | tee "$OUT/summary.txt"
import os, statistics, subprocess, sys, threading, time
sys.path.insert(0, sys.argv[1])
import tgc

E = {k: os.environ[k] for k in ("DURATION", "RELOAD_MS", "QPS", "NODES", "CYCLE",
                                "DOWN", "INTERVAL", "TIMEOUT", "FALL", "RISE",
                                "SAMPLE_QPS", "WORKERS", "SERVER_CPU", "CLIENT_CPU")}
E = {k: int(v) for k, v in E.items()}
OUT, ZONE = os.environ["OUT"], os.environ["ZONE"]
NAME = ZONE + "."
BOUND = (E["INTERVAL"] * E["FALL"] + E["TIMEOUT"] + E["INTERVAL"]) / 1000.0
WARMUP = 3.0

def say(msg):
    print(msg, flush=True)

group = tgc.NodeGroup()
nodes = [group.add("127.0.1.%d" % (i + 1), 0, "rfb") for i in range(E["NODES"])]
idx_of = {n.addr: i for i, n in enumerate(nodes)}
k = tgc.Knotd({ZONE: {"node": [n.spec for n in nodes], "check": "rfb",
                      "check-interval": E["INTERVAL"], "check-timeout": E["TIMEOUT"],
                      "check-fall": E["FALL"], "check-rise": E["RISE"], "ttl": 1}},
              workers=E["WORKERS"])
dnsperf = None
stop = threading.Event()
try:
    k.start()
    subprocess.run(["taskset", "-a", "-p", "-c", str(E["SERVER_CPU"]), str(k.pid)],
                   stdout=subprocess.DEVNULL, check=True)
    seg = k.shm()
    tgc.wait_until(lambda: seg.health() == ["up"] * E["NODES"], 10, what="all nodes up")

    # Reloads.
    reloads, reload_fail = [], []
    def reloader():
        while not stop.is_set():
            t = time.monotonic()
            rc, out = k.knotc("reload")
            reloads.append(time.monotonic() - t)
            if rc != 0:
                reload_fail.append(out.strip())
            stop.wait(max(0.0, E["RELOAD_MS"] / 1000.0 - (time.monotonic() - t)))

    # Dead intervals: [fail, back) per node, filled by the chaos loop.
    dead = []  # dicts: idx, mode, fail, back, detect, shm_bound, shm_back
    lock = threading.Lock()
    samples = {"answers": 0, "errors": 0, "dead": 0, "past": 0, "past_list": []}
    def sampler():
        period = 1.0 / E["SAMPLE_QPS"]
        nxt = time.monotonic()
        while not stop.is_set():
            t = time.monotonic()
            try:
                a = tgc.query(k.port, NAME, "A", timeout=0.5, tries=1)
            except Exception:  # noqa: BLE001 - counted
                samples["errors"] += 1
                a = None
            if a is not None:
                samples["answers"] += 1
                listed_dead = listed_past = False
                with lock:
                    for d in dead:
                        if nodes[d["idx"]].addr in a.addrs and d["fail"] <= t and \
                                (d["back"] is None or t < d["back"]):
                            listed_dead = True
                            if t >= d["fail"] + BOUND:
                                listed_past = True
                                samples["past_list"].append((d["idx"], t - d["fail"]))
                samples["dead"] += listed_dead
                samples["past"] += listed_past
            nxt += period
            stop.wait(max(0.0, nxt - time.monotonic()))

    qfile = os.path.join(OUT, "queries.txt")
    with open(qfile, "w") as f:
        f.write("%s A\n" % NAME)
    threads = [threading.Thread(target=reloader), threading.Thread(target=sampler)]
    t0 = time.monotonic()
    trans0 = [n["transitions"] for n in seg.nodes()]
    dnsperf = subprocess.Popen(
        ["taskset", "-c", str(E["CLIENT_CPU"]), "dnsperf", "-s", "127.0.0.1",
         "-p", str(k.port), "-d", qfile, "-l", str(E["DURATION"]), "-Q", str(E["QPS"]),
         "-c", "4", "-q", "100"],
        stdout=open(os.path.join(OUT, "dnsperf.txt"), "w"), stderr=subprocess.STDOUT)
    for th in threads:
        th.start()

    # Chaos: (time, action, record) events; between them, poll the table.
    events = []
    j = 0
    while WARMUP + j * E["CYCLE"] + E["DOWN"] <= E["DURATION"] - 1:
        d = {"idx": j % E["NODES"], "mode": "hung" if j % 2 == 0 else "refused",
             "fail": None, "back": None, "detect": None, "shm_bound": None,
             "shm_back": None}
        tf = t0 + WARMUP + j * E["CYCLE"]
        events += [(tf, 0, "fail", d), (tf + BOUND, 1, "bound", d),
                   (tf + E["DOWN"], 2, "back", d)]
        j += 1
    events.sort(key=lambda e: (e[0], e[1]))
    pending = []
    def answers_of(i):
        return seg.nodes()[i]["answers"]
    for when, _, action, d in events:
        while time.monotonic() < when:
            if pending:
                health = seg.health()
                now = time.monotonic()
                for p in list(pending):
                    if health[p["idx"]] == "down":
                        p["detect"] = now - p["fail"]
                        pending.remove(p)
            time.sleep(min(0.01, max(0.0, when - time.monotonic())))
        n = nodes[d["idx"]]
        if action == "fail":
            if d["mode"] == "hung":
                n.set_mode("hung")
            else:
                n.stop()
            with lock:
                d["fail"] = time.monotonic()
                dead.append(d)
            pending.append(d)
        elif action == "bound":
            d["shm_bound"] = answers_of(d["idx"])
        else:
            d["shm_back"] = answers_of(d["idx"])
            with lock:
                d["back"] = time.monotonic()
            if d["mode"] == "hung":
                n.set_mode("rfb")
            else:
                n.start()
    # Let the last nodes come back, then stop.
    try:
        tgc.wait_until(lambda: seg.health() == ["up"] * E["NODES"], 4 * BOUND,
                       what="all nodes back up")
        not_back = []
    except AssertionError:
        not_back = [i for i, h in enumerate(seg.health()) if h != "up"]
    rc = dnsperf.wait(E["DURATION"] + 30)
    stop.set()
    for th in threads:
        th.join(30)
    elapsed = time.monotonic() - t0
    trans = [n["transitions"] - t for n, t in zip(seg.nodes(), trans0)]
    alive = k.alive()
    rc_knotd = k.stop()

    perf = open(os.path.join(OUT, "dnsperf.txt")).read()
    def field(label):
        for line in perf.splitlines():
            if label in line:
                return line.split(":", 1)[1].strip()
        return "?"
    detects = [d["detect"] for d in dead if d["detect"] is not None]
    undetected = [d for d in dead if d["detect"] is None]
    past_shm = sum(d["shm_back"] - d["shm_bound"] for d in dead)
    expected_trans = [2 * sum(1 for d in dead if d["idx"] == i) for i in range(E["NODES"])]
    say("run: %.1f s, knotd alive to the end: %s, exit %s" % (elapsed, alive, rc_knotd))
    say("reloads: %d (%.0f ms median knotc time, %d failed), one every %.0f ms on average"
        % (len(reloads), 1000 * statistics.median(reloads), len(reload_fail),
           1000 * elapsed / max(1, len(reloads))))
    say("dnsperf: completed %s; lost %s; %s qps; rcodes %s" % (
        field("Queries completed"), field("Queries lost"),
        field("Queries per second"), field("Response codes")))
    say("failures: %d (%d hung, %d refused), each %d s; bound %.1f s"
        % (len(dead), sum(d["mode"] == "hung" for d in dead),
           sum(d["mode"] == "refused" for d in dead), E["DOWN"], BOUND))
    for mode in ("hung", "refused"):
        ts = [d["detect"] for d in dead if d["mode"] == mode and d["detect"] is not None]
        if ts:
            say("  %-7s marked down after: median %.2f s, max %.2f s (%s)" % (
                mode, statistics.median(ts), max(ts), " ".join("%.2f" % x for x in ts)))
    say("  never marked down while dead: %d" % len(undetected))
    say("sampler: %d answers (%d failed queries), %d listed a dead node, "
        "%d listed a node dead past its bound" % (samples["answers"], samples["errors"],
                                                 samples["dead"], samples["past"]))
    for idx, late in samples["past_list"][:10]:
        say("  past bound: node %d listed %.2f s after it failed" % (idx, late))
    say("shm answer counters (all answers incl. dnsperf): %d listed a node dead past its bound"
        % past_shm)
    say("health transitions per node: %s (expected %s)" % (trans, expected_trans))
    say("nodes not up again %.0f s after the last one came back: %s"
        % (4 * BOUND, not_back or "none"))
    say("RESULT past-bound answers: sampler %d, shm %d (target 0); worst detection %s "
        "(bound %.1f s), %d of %d failures never detected"
        % (samples["past"], past_shm, "%.2f s" % max(detects) if detects else "-", BOUND,
           len(undetected), len(dead)))
finally:
    stop.set()
    if dnsperf is not None and dnsperf.poll() is None:
        dnsperf.terminate()
        dnsperf.wait(10)
    k.cleanup()
    group.close()
PY
exit "${PIPESTATUS[0]}"
