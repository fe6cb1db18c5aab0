# SPDX-License-Identifier: GPL-3.0-or-later
"""Integration test harness for mod-tgcluster.

Pieces:
  NodeSim       simulated cluster nodes (TCP listeners on loopback) run by a
                selector loop in a thread of the test process.
  XvncNode      a real VNC server (TigerVNC's Xtigervnc) as a node.
  Knotd         a knotd child with a generated knot.conf, zone files and
                mod-tgcluster instances; reload, conf-check, zone-stats, log.
  Segment       read/write view of a module's shared-memory table
                (/dev/shm/tgcluster.*), layout of module/table.h.
  query()       one DNS query over UDP or TCP, optional source address and ECS.
  wait_until()  polling helper with a deadline.
  TgcTestCase   unittest.TestCase with helpers that register every cleanup.

Environment: TGC_MODULE (the .so), TGC_KNOTD, TGC_KNOTC; defaults are
build/mod-tgcluster.so in the repository, /usr/sbin/knotd and /usr/sbin/knotc.
TGC_MODULE_DIR is knotd's module directory: a mod-tgcluster.so installed
there stops every test at the start with one line saying so.
TGC_KEEP=1 keeps the temporary directories of the knotd instances;
TGC_SHOW_LOG=1 prints every knotd log tail (not only of failed tests);
TGC_PRELOAD is put into LD_PRELOAD of knotd and knotc (ASan builds).
TGC_LAYOUT is the segment layout the build generates from module/table.h
(build/tests/tgc_layout.py; also found through TGC_BUILD_DIR).

Network traffic goes to loopback only. Processes are stopped by the PID the
harness started, and shared-memory segments are removed by exact name.
"""

import atexit
import importlib.util
import ipaddress
import base64
import mmap
import os
import re
import selectors
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import unittest

import dns.edns
import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))

MODULE = os.path.abspath(os.environ.get(
    "TGC_MODULE", os.path.join(REPO, "build", "mod-tgcluster.so")))
KNOTD = os.environ.get("TGC_KNOTD", "/usr/sbin/knotd")
KNOTC = os.environ.get("TGC_KNOTC", "/usr/sbin/knotc")
KEEP = os.environ.get("TGC_KEEP", "") not in ("", "0")
# Set where the environment must be complete (.ci/run): a test that would
# be skipped for want of root or network namespaces fails instead.
NO_SKIP = os.environ.get("TGC_NO_SKIP", "") not in ("", "0")
# knotd's compiled-in module directory (pkg-config knotd module_instdir).
MODULE_DIR = os.environ.get("TGC_MODULE_DIR",
                            "/usr/lib/x86_64-linux-gnu/knot/modules-3.2")
INSTALLED_HINT = ("an installed %s shadows the module under test (knotd loads"
                  " it by itself: \"duplicate module\"); remove it first:"
                  " apt purge knot-module-tgcluster, or delete the file")
# Preloaded into knotd and knotc only (an ASan runtime for a sanitized module).
PRELOAD = os.environ.get("TGC_PRELOAD", "")


def _child_env():
    env = dict(os.environ)
    if PRELOAD:
        env["LD_PRELOAD"] = PRELOAD
    return env

SHM_DIR = "/dev/shm"
SHM_PREFIX = "tgcluster."

# Every child process and shared-memory segment the harness created, so that
# an interpreter exit (even after an unexpected error) still cleans up.
_children = {}          # pid -> subprocess.Popen
_segments = set()       # segment file names (without directory)
_sims = []              # running NodeSim loops
_dirs = set()           # temporary directories of Knotd instances
_uniq_lock = threading.Lock()
_uniq = [0]


def unique(prefix):
    """A name unique to this process and call (for shm names, dirs)."""
    with _uniq_lock:
        _uniq[0] += 1
        return "%s%d-%d" % (prefix, os.getpid(), _uniq[0])


def log(msg):
    """Progress output of tests (stderr, next to the unittest output)."""
    sys.stderr.write("    [tgc] %s\n" % msg)
    sys.stderr.flush()


# --------------------------------------------------------------------------
# Ports and polling
# --------------------------------------------------------------------------

def free_port(addrs=("127.0.0.1", "::1"), udp=True):
    """Finds a port free for TCP (and UDP) on all of \\a addrs.

    Binds port 0 on the first address and checks the others; retried a few
    times. There is a small window before the caller binds it.
    """
    for _ in range(50):
        first = _bind(addrs[0], 0, socket.SOCK_STREAM)
        port = first.getsockname()[1]
        held = [first]
        try:
            ok = True
            for a in addrs:
                kinds = [socket.SOCK_STREAM] + ([socket.SOCK_DGRAM] if udp else [])
                for kind in kinds:
                    if a == addrs[0] and kind == socket.SOCK_STREAM:
                        continue
                    try:
                        held.append(_bind(a, port, kind))
                    except OSError:
                        ok = False
                        break
                if not ok:
                    break
            if ok:
                return port
        finally:
            for s in held:
                s.close()
    raise RuntimeError("no free port found")


def _family(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def _bind(addr, port, kind):
    s = socket.socket(_family(addr), kind)
    try:
        s.bind((addr, port))
    except OSError:
        s.close()
        raise
    return s


def wait_until(pred, timeout, interval=0.01, what=None):
    """Polls \\a pred until it returns a true value; returns that value.

    Raises AssertionError naming \\a what when \\a timeout seconds pass. The
    predicate may raise; the last exception is reported on timeout.
    """
    deadline = time.monotonic() + timeout
    last_exc = None
    while True:
        try:
            val = pred()
            if val:
                return val
            last_exc = None
        except Exception as exc:  # noqa: BLE001 - reported below
            last_exc = exc
        if time.monotonic() >= deadline:
            desc = what or getattr(pred, "__name__", "condition")
            extra = " (last error: %r)" % (last_exc,) if last_exc else ""
            raise AssertionError("timed out after %.2fs waiting for %s%s"
                                 % (timeout, desc, extra))
        time.sleep(interval)


def tcp_connectable(addr, port, timeout=0.2):
    try:
        with socket.create_connection((addr, port), timeout=timeout):
            return True
    except OSError:
        return False


# --------------------------------------------------------------------------
# Simulated nodes
# --------------------------------------------------------------------------

MODES = ("tcp", "rfb", "hung", "badbanner", "rfbrefuse", "rfbmute",
         "http200", "http503", "httpgarbage", "httpslow", "httpcut", "rfbid",
         "agent")
# Responses of the http modes (after the request head has arrived).
HTTP_REPLIES = {
    "http200": b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close"
               b"\r\n\r\nok",
    "http503": b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n"
               b"Connection: close\r\n\r\n",
    "httpgarbage": b"GARBAGE GARBAGE\r\n\r\n",
    # Never finishes the head (held open).
    "httpslow": b"HTTP/1.1 200 OK\r\nServer: slow\r\n",
    # Closes in the middle of the head.
    "httpcut": b"HTTP/1.1 200 OK\r\nServ",
}
RFB_BANNER = b"RFB 003.008\n"
# Answer of an RFB 3.8 server to the client's version: one security type,
# VncAuth (what Xvnc offers with -SecurityTypes VncAuth).
RFB_TYPES = b"\x01\x02"
# What Xvnc sends, all at once, to an address it has blacklisted.
RFB_REFUSAL_REASON = b"Too many security failures"
RFB_REFUSAL = (b"RFB 003.003\n" + struct.pack("!II", 0, len(RFB_REFUSAL_REASON))
               + RFB_REFUSAL_REASON)
BAD_BANNER = b"SSH-2.0-x\r\n"
# rfbid: one security type, None (what the module's rfb check reads), then
# the identity line of the node (see NodeSim).
RFB_TYPES_NONE = b"\x01\x01"


class _SimLoop(threading.Thread):
    """One selector loop running the listeners of many NodeSims.

    Other threads act on the loop only through call(), which runs a function
    inside the loop thread and waits for it; so no socket is touched by two
    threads.
    """

    def __init__(self):
        super().__init__(name="nodesim", daemon=True)
        self.sel = selectors.DefaultSelector()
        self.wake_r, self.wake_w = socket.socketpair()
        self.wake_r.setblocking(False)
        self.sel.register(self.wake_r, selectors.EVENT_READ, ("wake", None))
        self.pending = []
        self.lock = threading.Lock()
        self.stopping = False
        self.conns = {}  # conn socket -> (node, close deadline)
        self.rx = {}     # conn socket -> bytes the prober sent (rfb)

    def call(self, fn, timeout=5.0):
        if not self.is_alive():
            return fn()
        done = threading.Event()
        box = {}

        def run():
            try:
                box["val"] = fn()
            except BaseException as exc:  # noqa: BLE001 - re-raised in caller
                box["exc"] = exc
            done.set()

        with self.lock:
            self.pending.append(run)
        self.wake_w.send(b"x")
        if not done.wait(timeout):
            raise RuntimeError("node simulator loop is stuck")
        if "exc" in box:
            raise box["exc"]
        return box.get("val")

    def run(self):
        while not self.stopping:
            now = time.monotonic()
            next_deadline = min([d for _, d in self.conns.values()] or [now + 0.5])
            timeout = max(0.0, min(0.5, next_deadline - now))
            for key, events in self.sel.select(timeout):
                kind, node = key.data
                if kind == "wake":
                    try:
                        self.wake_r.recv(4096)
                    except BlockingIOError:
                        pass
                    with self.lock:
                        work, self.pending = self.pending, []
                    for fn in work:
                        fn()
                elif kind == "listen":
                    node._accept(self)
                elif kind == "conn":
                    self._conn_readable(key.fileobj)
            now = time.monotonic()
            for conn, (node, deadline) in list(self.conns.items()):
                if deadline <= now:
                    self.close_conn(conn)
        for conn in list(self.conns):
            self.close_conn(conn)
        self.sel.close()
        self.wake_r.close()
        self.wake_w.close()

    def _conn_readable(self, conn):
        node = self.conns.get(conn, (None, 0))[0]
        if node is not None and (node.tls is not None or
                                 conn in node.http_conns):
            node._http_readable(self, conn)
            return
        try:
            data = conn.recv(4096)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:  # the prober closed
            self.close_conn(conn)
            return
        node = self.conns[conn][0] if conn in self.conns else None
        if node is None or node.mode not in ("rfb", "rfbid"):
            return
        # RFB: once the prober's 12-byte version is in, offer the types.
        got = self.rx.get(conn, b"")
        if len(got) < 12 <= len(got) + len(data):
            try:
                conn.send(RFB_TYPES if node.mode == "rfb" else
                          RFB_TYPES_NONE + node.identity(conn))
            except OSError:
                self.close_conn(conn)
                return
        self.rx[conn] = (got + data)[:12]

    def add_conn(self, conn, node, hold):
        conn.setblocking(False)
        self.sel.register(conn, selectors.EVENT_READ, ("conn", node))
        self.conns[conn] = (node, time.monotonic() + hold)

    def close_conn(self, conn):
        self.rx.pop(conn, None)
        if conn in self.conns:
            del self.conns[conn]
            try:
                self.sel.unregister(conn)
            except (KeyError, ValueError):
                pass
        try:
            conn.close()
        except OSError:
            pass

    def shutdown(self):
        if self.is_alive():
            self.call(lambda: setattr(self, "stopping", True))
            self.join(5)


class NodeSim:
    """A simulated cluster node: a TCP listener on \\a addr:\\a port.

    Modes: tcp (accept, close at once), rfb (an RFB 3.8 server: send the
    banner, offer VncAuth once the prober's version is in, keep the
    connection open a while), hung (accept, send nothing), badbanner (send a
    banner that is not RFB), rfbrefuse (what a VNC server that blacklisted
    the prober sends: RFB 3.3, no security type, a reason; then close),
    rfbmute (send the RFB banner, then never answer); rfbid (an RFB 3.8
    server offering security type None, followed by the line
    "TGC-NODE id=ID addr=ADDR port=PORT peer=PEER": \a ident, the address
    and port the connection arrived at and the peer's address, as the node
    sees them, e.g. behind a DNAT); http200, http503,
    httpgarbage, httpslow, httpcut read a request head and answer with
    HTTP_REPLIES[mode] (then close, except httpslow). With \\a tls (a server
    ssl.SSLContext) every connection is TLS first: tcp and hung then mean
    handshake, then close or hold; agent (a node's load agent: send
    agent_line, bytes or a callable giving them, then close; agent_line
    None: accept and send nothing). stop() closes the listener and every connection
    (connection refused from then on); start() listens again on the same port.
    Counts accepted connections (= probes that reached it).
    """

    def __init__(self, addr="127.0.0.11", port=0, mode="tcp", hold=3.0,
                 loop=None, tls=None, ident=None):
        if mode not in MODES:
            raise ValueError("bad mode %r" % mode)
        self.ident = ident or addr  # rfbid: the id in the identity line
        self.tls = tls  # ssl.SSLContext (server side) or None
        self.http_conns = {}  # conn -> bytes of the request head so far
        self.requests = []  # request heads received (http modes)
        self.handshakes = 0  # TLS handshakes completed
        self.resumed = 0  # of which resumed a session
        self.addr = addr
        self.port = port
        self.mode = mode
        self.hold = hold
        self.loop = loop
        self.listener = None
        self.accepted = 0
        self.agent_line = b"up\n"
        # Simulated load, reported by the node's agent (NodeGroup.add_agent):
        # sessions held, maxconn (None: not reported), state words (None: a
        # silent agent that accepts and never answers).
        self.sessions = 0
        self.maxconn = None
        self.agent_words = "up"
        self.agent = None
        self._own_loop = loop is None

    # -- public ----------------------------------------------------------
    def start(self):
        if self.loop is None:
            self.loop = _SimLoop()
            self.loop.start()
            _sims.append(self.loop)
        self.loop.call(self._listen)
        return self

    def stop(self):
        if self.loop is not None:
            self.loop.call(self._close)

    def agent_report(self):
        """The line this node's agent sends now (bytes), None when silent."""
        if self.agent_words is None:
            return None
        line = "%s sessions:%d" % (self.agent_words, self.sessions)
        if self.maxconn is not None:
            line += " maxconn:%d" % self.maxconn
        return (line + "\n").encode()

    def set_mode(self, mode):
        if mode not in MODES:
            raise ValueError("bad mode %r" % mode)
        self.mode = mode

    def close(self):
        """Stops the node and, if it owns its loop, the loop."""
        self.stop()
        if self._own_loop and self.loop is not None:
            self.loop.shutdown()
            if self.loop in _sims:
                _sims.remove(self.loop)
            self.loop = None

    @property
    def running(self):
        return self.listener is not None

    @property
    def spec(self):
        """The node item value: "ADDR@PORT"."""
        return "%s@%d" % (self.addr, self.port)

    def identity(self, conn):
        """The rfbid identity line of \\a conn."""
        local, peer = conn.getsockname(), conn.getpeername()
        return ("TGC-NODE id=%s addr=%s port=%d peer=%s\n" % (
            self.ident, local[0], local[1], peer[0])).encode()

    def __repr__(self):
        return "NodeSim(%s, %s%s)" % (self.spec, self.mode,
                                      "" if self.running else ", stopped")

    # -- loop thread -----------------------------------------------------
    def _listen(self):
        if self.listener is not None:
            return
        s = socket.socket(_family(self.addr), socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if _family(self.addr) == socket.AF_INET6:
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        try:
            s.bind((self.addr, self.port))
        except OSError:
            s.close()
            raise
        s.listen(128)
        s.setblocking(False)
        self.port = s.getsockname()[1]
        self.listener = s
        self.loop.sel.register(s, selectors.EVENT_READ, ("listen", self))

    def _close(self):
        if self.listener is not None:
            self.loop.sel.unregister(self.listener)
            self.listener.close()
            self.listener = None
        for conn, (node, _) in list(self.loop.conns.items()):
            if node is self:
                self.loop.close_conn(conn)

    def _accept(self, loop):
        while self.listener is not None:
            try:
                conn, _ = self.listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            self.accepted += 1
            mode = self.mode
            if self.tls is not None or mode in HTTP_REPLIES:
                self._http_accept(loop, conn)
                continue
            try:
                if mode == "tcp":
                    conn.close()
                    continue
                if mode == "agent":
                    line = self.agent_line
                    line = line() if callable(line) else line
                    if line is None:
                        loop.add_conn(conn, self, 30.0)
                        continue
                    conn.sendall(line)
                    conn.close()
                    continue
                if mode == "rfbrefuse":
                    conn.sendall(RFB_REFUSAL)
                    conn.close()
                    continue
                if mode in ("rfb", "rfbmute", "rfbid"):
                    conn.send(RFB_BANNER)
                elif mode == "badbanner":
                    conn.send(BAD_BANNER)
            except OSError:
                conn.close()
                continue
            loop.add_conn(conn, self, self.hold if mode != "hung" else 30.0)


    def _http_accept(self, loop, conn):
        if self.tls is not None:
            try:
                conn.setblocking(False)
                conn = self.tls.wrap_socket(conn, server_side=True,
                                            do_handshake_on_connect=False)
            except (OSError, ValueError):
                conn.close()
                return
        self.http_conns[conn] = None if self.tls is not None else b""
        loop.add_conn(conn, self, self.hold if self.mode != "httpslow" else 30.0)

    def _http_readable(self, loop, conn):
        """Handshake (TLS), then the request head, then the reply."""
        import ssl
        state = self.http_conns.get(conn)
        data = b""
        eof = False
        try:
            if state is None:  # TLS handshake pending
                conn.do_handshake()
                self.handshakes += 1
                self.resumed += conn.session_reused
                state = self.http_conns[conn] = b""
                if self.mode == "tcp":
                    self._http_close(loop, conn)
                    return
            # The request may have come with the handshake's last flight:
            # read what the TLS layer holds, not only what the socket has.
            while True:
                chunk = conn.recv(4096)
                if not chunk:
                    eof = True
                    break
                data += chunk
                if self.tls is None or not conn.pending():
                    break
        except (ssl.SSLWantReadError, ssl.SSLWantWriteError, BlockingIOError):
            if not data:
                return
        except (OSError, ssl.SSLError) as e:
            if os.environ.get("TGC_DEBUG_SIM"):
                sys.stderr.write("sim %s: %r\n" % (self.spec, e))
            self._http_close(loop, conn)
            return
        if eof and not data:
            self._http_close(loop, conn)
            return
        if not data:
            return
        head = state + data
        self.http_conns[conn] = head
        if b"\r\n\r\n" not in head or self.mode not in HTTP_REPLIES:
            return
        self.requests.append(head)
        try:
            conn.sendall(HTTP_REPLIES[self.mode])
        except (OSError, ssl.SSLError):
            pass
        if self.mode != "httpslow":
            self._http_close(loop, conn)

    def _http_close(self, loop, conn):
        self.http_conns.pop(conn, None)
        loop.close_conn(conn)


def make_certs(directory, ips=("127.0.0.1", "::1"), name="node.test"):
    """Test PKI made with the openssl CLI: a CA and, signed by it, a valid
    certificate for \a name and \a ips, an expired one (same names) and one
    for another name. Returns the paths: ca, valid, expired, wrongname
    (certificate files, each with its key in FILE + ".key")."""
    def run(*args):
        subprocess.run(("openssl",) + args, check=True, cwd=directory,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes")
    run("req", "-x509", *ec, "-keyout", "ca.pem.key", "-out", "ca.pem",
        "-subj", "/CN=tgcluster test CA", "-days", "2")
    out = {"ca": os.path.join(directory, "ca.pem")}
    sans = ",".join(["DNS:" + name] + ["IP:" + ip for ip in ips])
    for kind, san, days in (("valid", sans, "2"), ("expired", sans, "-1"),
                            ("wrongname", "DNS:other.test", "2")):
        cn = "other.test" if kind == "wrongname" else name
        run("req", *ec, "-keyout", kind + ".pem.key", "-out", kind + ".csr",
            "-subj", "/CN=" + cn)
        with open(os.path.join(directory, kind + ".ext"), "w") as f:
            f.write("subjectAltName=%s\n" % san)
        run("x509", "-req", "-in", kind + ".csr", "-CA", "ca.pem",
            "-CAkey", "ca.pem.key", "-CAcreateserial", "-out", kind + ".pem",
            "-days", days, "-extfile", kind + ".ext")
        out[kind] = os.path.join(directory, kind + ".pem")
    return out


def server_tls(cert):
    """A server ssl.SSLContext presenting \a cert (key in cert + ".key")."""
    import ssl
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, cert + ".key")
    return ctx


class NodeGroup:
    """Several NodeSims sharing one loop thread."""

    def __init__(self):
        self.loop = _SimLoop()
        self.loop.start()
        _sims.append(self.loop)
        self.nodes = []

    def add(self, addr="127.0.0.11", port=0, mode="tcp", hold=3.0, tls=None,
            ident=None):
        n = NodeSim(addr, port, mode, hold, loop=self.loop, tls=tls,
                    ident=ident)
        n.start()
        self.nodes.append(n)
        return n

    def add_agent(self, node, port=0):
        """Starts \a node's load agent on \a node's address and \a port
        (0: a free one): a NodeSim in mode agent whose line reports the
        node's simulated load (NodeSim.agent_report()). Returns it."""
        a = self.add(node.addr, port, "agent")
        a.agent_line = node.agent_report
        node.agent = a
        return a

    def close(self):
        for n in self.nodes:
            try:
                n.stop()
            except Exception:  # noqa: BLE001 - best effort in cleanup
                pass
        self.loop.shutdown()
        if self.loop in _sims:
            _sims.remove(self.loop)


# --------------------------------------------------------------------------
# A caching resolver in front of knotd
# --------------------------------------------------------------------------

UNBOUND = shutil.which("unbound", path="/usr/sbin:/usr/bin")


class Unbound:
    """unbound on 127.0.0.1 (a free port): caches what it gets for the TTL
    the answers carry, stub zone \a zone to knotd on \a knot_port,
    validating with \a validate (trust anchors then among \a extra).
    \a extra: more `server:` lines. close() stops it."""

    def __init__(self, zone, knot_port, extra="", validate=False):
        if UNBOUND is None:
            raise RuntimeError("unbound not installed")
        self.dir = tempfile.mkdtemp(prefix="tgc-unbound-")
        self.port = free_port(("127.0.0.1",))
        self.proc = None
        conf = os.path.join(self.dir, "unbound.conf")
        with open(conf, "w") as f:
            f.write("""\
server:
    username: ""
    chroot: ""
    directory: "{d}"
    pidfile: "{d}/unbound.pid"
    use-syslog: no
    logfile: ""
    verbosity: 0
    num-threads: 1
    interface: 127.0.0.1@{port}
    do-ip6: no
    do-not-query-localhost: no
    module-config: "{modules}"
    rrset-roundrobin: no
    prefetch: no
    local-zone: "." refuse
    local-zone: "{zone}" transparent
{extra}
remote-control:
    control-enable: no
stub-zone:
    name: "{zone}"
    stub-addr: 127.0.0.1@{kport}
""".format(d=self.dir, port=self.port, zone=zone.rstrip(".") + ".",
           kport=knot_port, extra=extra,
           modules="validator iterator" if validate else "iterator"))
        self.log = open(os.path.join(self.dir, "unbound.log"), "w")
        self.proc = subprocess.Popen([UNBOUND, "-d", "-c", conf],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        try:
            wait_until(lambda: tcp_connectable("127.0.0.1", self.port), 10,
                       what="unbound ready")
        except Exception:
            self.close()
            raise

    def close(self):
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
            self.proc = None
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


# --------------------------------------------------------------------------
# A real VNC server as a node
# --------------------------------------------------------------------------

XVNC = os.environ.get("TGC_XVNC", "/usr/bin/Xtigervnc")
VNCPASSWD = os.environ.get("TGC_VNCPASSWD", "/usr/bin/vncpasswd")


def tcp_listening(addr, port):
    """Tells whether something listens on IPv4 \\a addr:\\a port, from
    /proc/net/tcp: unlike a connect, this is invisible to the server (a VNC
    server counts every connection towards its blacklist)."""
    want = "%s:%04X" % ("".join("%02X" % b for b in reversed(
        socket.inet_aton(addr))), port)
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            fields = line.split()
            if fields[1] == want and fields[3] == "0A":  # TCP_LISTEN
                return True
    return False


class XvncNode:
    """TigerVNC's Xvnc (Xtigervnc, Debian's tigervnc-standalone-server) as a
    cluster node: headless, RFB on IPv4 loopback \\a addr, VncAuth with a
    password file, on a free private display.

    \\a threshold and \\a timeout set Xvnc's -BlacklistThreshold and
    -BlacklistTimeout. start() waits until the RFB port listens without
    connecting to it; stop() (also kill()) ends the process by its PID.
    The log (Xvnc's stderr) is kept for counting connections and blacklist
    events.
    """

    def __init__(self, addr="127.0.0.41", threshold=5, timeout=10,
                 extra=()):
        if not ipaddress.IPv4Address(addr).is_loopback:
            raise ValueError("Xvnc nodes listen on IPv4 loopback only")
        self.addr = addr
        self.port = free_port((addr,), udp=False)
        self.threshold = threshold
        self.timeout = timeout
        self.extra = list(extra)
        self.dir = tempfile.mkdtemp(prefix="tgc-xvnc-")
        _dirs.add(self.dir)
        self.logfile = os.path.join(self.dir, "xvnc.log")
        self.pwfile = os.path.join(self.dir, "passwd")
        self.display = None
        self.last_pid = None
        self.proc = None
        p = subprocess.run([VNCPASSWD, "-f"], input=b"tgc-test\n",
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           check=True)
        with open(self.pwfile, "wb") as f:
            f.write(p.stdout)
        os.chmod(self.pwfile, 0o600)

    @property
    def spec(self):
        return "%s@%d" % (self.addr, self.port)

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def _free_display(self):
        # Displays 200..999, starting at a spot that depends on our PID so
        # that parallel test processes rarely meet; Xvnc itself refuses a
        # display whose lock exists (start() then tries the next one).
        base = 200 + (os.getpid() * 7) % 700
        for i in range(700):
            d = 200 + (base - 200 + i) % 800
            if not (os.path.exists("/tmp/.X%d-lock" % d) or
                    os.path.exists("/tmp/.X11-unix/X%d" % d)):
                yield d

    def start(self, timeout=20.0):
        assert self.proc is None, "already running"
        for display in self._free_display():
            self._log_fd = open(self.logfile, "ab")
            cmd = [XVNC, ":%d" % display, "-rfbport", str(self.port),
                   "-interface", self.addr, "-SecurityTypes", "VncAuth",
                   "-PasswordFile", self.pwfile,
                   "-BlacklistThreshold", str(self.threshold),
                   "-BlacklistTimeout", str(self.timeout),
                   "-nolisten", "tcp", "-geometry", "64x64", "-depth", "24",
                   "-desktop", "tgc-test"] + self.extra
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                                         stdout=self._log_fd,
                                         stderr=self._log_fd,
                                         start_new_session=True)
            _children[self.proc.pid] = self.proc
            self.display = display
            self.last_pid = self.proc.pid
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    break
                if tcp_listening(self.addr, self.port):
                    return self
                time.sleep(0.02)
            rc = self.proc.poll()
            text = self.log_text()
            self._reap()
            if rc is not None and "already active" in text:
                continue  # display taken meanwhile: the next one
            raise RuntimeError("Xtigervnc did not start (rc %s); log:\n%s"
                               % (rc, text[-3000:]))
        raise RuntimeError("no free X display for Xtigervnc")

    def _reap(self):
        proc, self.proc = self.proc, None
        if proc is None:
            return None
        if proc.poll() is None:
            proc.kill()
        rc = proc.wait(10)
        _children.pop(proc.pid, None)
        self._log_fd.close()
        return rc

    def stop(self, timeout=10.0):
        """SIGTERM (SIGKILL after \\a timeout) to our Xvnc, by its PID."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        return self._reap()

    def kill(self):
        """SIGKILL, the way a crash ends it."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
        return self._reap()

    def cleanup(self):
        self.stop()
        if self.display is not None:
            # A killed Xvnc leaves its display lock and socket behind:
            # removed when the lock names our (ended) process.
            lock = "/tmp/.X%d-lock" % self.display
            try:
                with open(lock) as f:
                    ours = int(f.read().strip() or 0) == self.last_pid
            except (OSError, ValueError):
                ours = False
            if ours:
                for f in (lock, "/tmp/.X11-unix/X%d" % self.display):
                    try:
                        os.unlink(f)
                    except OSError:
                        pass
        if not KEEP:
            shutil.rmtree(self.dir, ignore_errors=True)
            _dirs.discard(self.dir)

    def log_text(self):
        try:
            with open(self.logfile, "rb") as f:
                return f.read().decode(errors="replace")
        except FileNotFoundError:
            return ""

    def count(self, needle):
        """Lines of the log containing \\a needle."""
        return sum(1 for l in self.log_text().splitlines() if needle in l)

    @property
    def accepted(self):
        """Connections Xvnc accepted (each one counts towards its blacklist)."""
        return self.count("Connections: accepted:")

    @property
    def blacklisted(self):
        """Connections Xvnc turned away as blacklisted."""
        return self.count("Connections: blacklisted:")


# --------------------------------------------------------------------------
# DNS queries
# --------------------------------------------------------------------------

class Answer:
    """What a query returned."""

    def __init__(self, msg, wire):
        self.msg = msg
        self.wire = wire
        self.rcode = msg.rcode()
        self.flags = msg.flags
        self.aa = bool(msg.flags & dns.flags.AA)
        self.tc = bool(msg.flags & dns.flags.TC)
        # Counts straight from the header: dnspython merges duplicate RRs.
        self.ancount, self.nscount = struct.unpack("!HH", wire[6:10])
        self.addrs = []   # A/AAAA addresses in wire order of the answer
        self.ttls = []    # TTL of every answer RRset
        self.types = []   # types of the answer RRsets
        for rrset in msg.answer:
            self.ttls.append(rrset.ttl)
            self.types.append(rrset.rdtype)
            if rrset.rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA):
                self.addrs.extend(rd.address for rd in rrset)
        self.authority_types = [r.rdtype for r in msg.authority]

    @property
    def first(self):
        return self.addrs[0] if self.addrs else None

    def __repr__(self):
        return "Answer(%s, aa=%s, addrs=%s, ttls=%s)" % (
            dns.rcode.to_text(self.rcode), self.aa, self.addrs, self.ttls)


def query(port, name, rdtype="A", tcp=False, source=None, ecs=None,
          server="127.0.0.1", timeout=2.0, tries=3, payload=1232, edns=True,
          rdclass="IN"):
    """Sends one query to knotd on loopback and parses the answer.

    \\a ecs is "ADDR/LEN" (EDNS Client Subnet option). \\a source binds the
    client socket to a loopback address. UDP is retried \\a tries times.
    \\a edns=False sends a plain query (512-byte UDP limit). \\a rdclass is
    the QCLASS.
    """
    if isinstance(rdtype, str):
        rdtype = dns.rdatatype.from_text(rdtype)
    options = []
    if ecs is not None:
        addr, _, plen = ecs.partition("/")
        options.append(dns.edns.ECSOption(addr, int(plen) if plen else None))
    if edns:
        q = dns.message.make_query(name, rdtype, rdclass=rdclass, use_edns=0,
                                   payload=payload, options=options)
    else:
        q = dns.message.make_query(name, rdtype, rdclass=rdclass,
                                   use_edns=False)
    q.flags &= ~dns.flags.RD
    wire = q.to_wire()
    fam = _family(server)
    last = None
    for _ in range(1 if tcp else tries):
        s = socket.socket(fam, socket.SOCK_STREAM if tcp else socket.SOCK_DGRAM)
        try:
            s.settimeout(timeout)
            if source is not None:
                s.bind((source, 0))
            if tcp:
                s.connect((server, port))
                s.sendall(struct.pack("!H", len(wire)) + wire)
                hdr = _recv_exact(s, 2)
                resp = _recv_exact(s, struct.unpack("!H", hdr)[0])
            else:
                s.sendto(wire, (server, port))
                while True:
                    resp, peer = s.recvfrom(65535)
                    if len(resp) >= 2 and resp[:2] == wire[:2]:
                        break
            msg = dns.message.from_wire(resp)
            return Answer(msg, resp)
        except socket.timeout as exc:
            last = exc
        finally:
            s.close()
    raise TimeoutError("no answer from %s@%d for %s/%s: %r"
                       % (server, port, name, dns.rdatatype.to_text(rdtype), last))


def _recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("connection closed after %d of %d bytes"
                                  % (len(buf), n))
        buf += chunk
    return buf


def axfr(port, zone, server="127.0.0.1", timeout=5.0):
    """Zone transfer over TCP; returns (rcode, list of (name, type) pairs,
    number of SOA records)."""
    q = dns.message.make_query(zone, dns.rdatatype.AXFR)
    wire = q.to_wire()
    records = []
    soas = 0
    rcode = None
    with socket.create_connection((server, port), timeout=timeout) as s:
        s.sendall(struct.pack("!H", len(wire)) + wire)
        while soas < 2:
            hdr = _recv_exact(s, 2)
            msg = dns.message.from_wire(
                _recv_exact(s, struct.unpack("!H", hdr)[0]),
                one_rr_per_rrset=True)
            rcode = msg.rcode()
            if rcode != dns.rcode.NOERROR or not msg.answer:
                break
            for rr in msg.answer:
                if rr.rdtype == dns.rdatatype.SOA:
                    soas += 1
                records.append((rr.name.to_text(), rr.rdtype,
                                [rd.to_text() for rd in rr]))
    return rcode, records, soas


# --------------------------------------------------------------------------
# Shared-memory table (module/table.h)
# --------------------------------------------------------------------------

def _load_layout():
    """The layout module the build generates from module/table.h
    (tests/tgc_layout.c -> build/tests/tgc_layout.py): $TGC_LAYOUT (set by
    meson test), else tests/tgc_layout.py in $TGC_BUILD_DIR or build/."""
    path = os.environ.get("TGC_LAYOUT") or os.path.join(
        os.environ.get("TGC_BUILD_DIR") or os.path.join(REPO, "build"),
        "tests", "tgc_layout.py")
    if not os.path.isfile(path):
        raise RuntimeError(
            "segment layout %s not found: build the project first (meson "
            "setup build && ninja -C build) or point TGC_LAYOUT at the "
            "tgc_layout.py of a build directory" % path)
    spec = importlib.util.spec_from_file_location("tgc_layout", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


# Offsets and sizes of the header (HDR), node record (REC) and cache record
# (CACHE) fields: LAYOUT.HDR["generation"] == (offset, size).
LAYOUT = _load_layout()
TABLE_MAGIC = LAYOUT.MAGIC
TABLE_VERSION = LAYOUT.VERSION
HDR_SIZE = LAYOUT.HDR_SIZE
REC_SIZE = LAYOUT.REC_SIZE
CACHE_REC_SIZE = LAYOUT.CACHE_REC_SIZE
ADMIN_SRC = {0: "none", 1: "local", 2: "zone"}
AGENT_DOWN, AGENT_DRAIN, AGENT_MAINT = \
    LAYOUT.AGENT_DOWN, LAYOUT.AGENT_DRAIN, LAYOUT.AGENT_MAINT
AGENT_F_ANSWERED, AGENT_F_SESSIONS, AGENT_F_MAXCONN, AGENT_F_PCT, AGENT_F_POLLED = \
    LAYOUT.AGENT_F_ANSWERED, LAYOUT.AGENT_F_SESSIONS, LAYOUT.AGENT_F_MAXCONN, \
    LAYOUT.AGENT_F_PCT, LAYOUT.AGENT_F_POLLED
AGENT_F_CAPACITY = LAYOUT.AGENT_F_CAPACITY
_FIELD_FMT = {1: "B", 2: "H", 4: "I", 8: "Q"}


def seg_get(buf, area, name, base=0):
    """Integer field \a name of a segment structure \a area ("HDR", "REC"
    or "CACHE" of LAYOUT) that starts at \a base of \a buf."""
    off, size = getattr(LAYOUT, area)[name]
    return struct.unpack_from("=" + _FIELD_FMT[size], buf, base + off)[0]


def seg_put(buf, area, name, value, base=0):
    """Stores integer field \a name (see seg_get()) into \a buf."""
    off, size = getattr(LAYOUT, area)[name]
    struct.pack_into("=" + _FIELD_FMT[size], buf, base + off, value)


def seg_bytes(buf, area, name, base=0):
    """The bytes of array field \a name (address, text) of \a buf."""
    off, size = getattr(LAYOUT, area)[name]
    return bytes(buf[base + off:base + off + size])


def seg_put_bytes(buf, area, name, data, base=0):
    """Writes \a data at the start of array field \a name of \a buf."""
    off, size = getattr(LAYOUT, area)[name]
    if len(data) > size:
        raise ValueError("%d bytes do not fit %s.%s" % (len(data), area, name))
    buf[base + off:base + off + len(data)] = data


def rec_base(idx):
    """Offset of node record \a idx in a segment."""
    return HDR_SIZE + idx * REC_SIZE

HEALTH = {0: "unknown", 1: "up", 2: "down"}
PROBE = {0: "none", 1: "ok", 2: "refused", 3: "timeout", 4: "banner",
         5: "error", 6: "disabled", 7: "rfb-refused", 8: "bad-handshake",
         9: "status", 10: "tls", 11: "cert"}
ADMIN = {"auto": 0, "drain": 1, "up": 2, "down": 3}


def shm_path(name):
    """File of a segment given the shm item value or the full name."""
    name = name.lstrip("/")
    if not name.startswith(SHM_PREFIX):
        name = SHM_PREFIX + name
    return os.path.join(SHM_DIR, name)


def default_shm_name(zone, inst_id):
    """Default segment name (tgc_table_name in module/table.c)."""
    raw = "%s%s.%s" % (SHM_PREFIX, zone.rstrip(".") or "_global", inst_id)
    return "".join(c if (c.isascii() and (c.isalnum() or c in "._-")) else "_"
                   for c in raw.lower())


class Segment:
    """A view of one segment; read with fresh file reads, admin via mmap."""

    def __init__(self, name):
        self.path = shm_path(name)

    def exists(self):
        return os.path.exists(self.path)

    def _read(self):
        with open(self.path, "rb") as f:
            return f.read()

    def header(self):
        b = self._read()
        magic, version, size, hdr_size, rec_size, count = (
            seg_get(b, "HDR", f) for f in ("magic", "version", "size",
                                           "hdr_size", "rec_size",
                                           "node_count"))
        if magic != TABLE_MAGIC or version != TABLE_VERSION:
            raise ValueError("not a tgcluster v%d segment: %s"
                             % (TABLE_VERSION, self.path))
        if hdr_size != HDR_SIZE or rec_size != REC_SIZE:
            raise ValueError("layout mismatch: hdr %d rec %d" % (hdr_size, rec_size))
        if size != len(b) or size != HDR_SIZE + count * REC_SIZE:
            raise ValueError("size mismatch in %s" % self.path)
        owner = seg_get(b, "HDR", "owner")
        return {"size": size, "count": count,
                "generation": seg_get(b, "HDR", "generation"),
                "heartbeat_ms": seg_get(b, "HDR", "heartbeat_ms"),
                "owner": owner,
                "owner_pid": owner & ((1 << LAYOUT.OWNER_PID_BITS) - 1),
                "admin_ack": seg_get(b, "HDR", "admin_ack"),
                "min_live": seg_get(b, "HDR", "min_live"),
                "admin_guarded": seg_get(b, "HDR", "admin_guarded"),
                "zone_serial": seg_get(b, "HDR", "zone_serial"),
                "zone_malformed": seg_get(b, "HDR", "zone_malformed")}

    def cache_loads(self, idx=0):
        """A translator segment's cached answer \a idx (0 A, 1 AAAA) with
        the load report: [(address, sessions, capacity_x100)], None when
        the answer came without a report (read without the seqlock: good
        enough for tests)."""
        b = self._read()
        base = seg_get(b, "HDR", "cache_off") + idx * CACHE_REC_SIZE
        if seg_get(b, "HDR", "cache_off") == 0 or not seg_get(b, "CACHE", "reported", base):
            return None
        out = []
        fam, alen = (socket.AF_INET, 4) if idx == 0 else (socket.AF_INET6, 16)
        addrs = seg_bytes(b, "CACHE", "addrs", base)
        loads = seg_bytes(b, "CACHE", "load", base)
        for i in range(seg_get(b, "CACHE", "count", base)):
            word, = struct.unpack_from("=Q", loads, 8 * i)
            out.append((socket.inet_ntop(fam, addrs[16 * i:16 * i + alen]),
                        word >> 32, word & 0xffffffff))
        return out

    def nodes(self):
        """List of dicts: addr, port, health, admin, last_probe, consec_ok,
        consec_fail, probes, transitions, answers (probe details are read
        without the seqlock: good enough for tests)."""
        b = self._read()
        count = self.header()["count"]
        out = []
        for i in range(count):
            o = rec_base(i)
            f = lambda name: seg_get(b, "REC", name, o)  # noqa: E731
            raw = seg_bytes(b, "REC", "addr", o)
            if f("family") == socket.AF_INET:
                addr = socket.inet_ntop(socket.AF_INET, raw[:4])
            else:
                addr = socket.inet_ntop(socket.AF_INET6, raw)
            reason = seg_bytes(b, "REC", "zone_reason", o)
            out.append({"addr": addr, "port": f("port"),
                        "tier": "backup" if f("tier") else "primary",
                        "health": HEALTH.get(f("health"), f("health")),
                        "admin": f("admin"),
                        "last_probe": PROBE.get(f("last_probe"),
                                                f("last_probe")),
                        "consec_ok": f("consec_ok"),
                        "consec_fail": f("consec_fail"),
                        "probes": f("probes"),
                        "transitions": f("transitions"),
                        "answers": f("answers"),
                        "admin_local": f("admin_local"),
                        "admin_zone": f("admin_zone"),
                        "admin_src": ADMIN_SRC.get(f("admin_src"),
                                                   f("admin_src")),
                        "admin_guarded": bool(f("admin_flags") &
                                              LAYOUT.ADMIN_F_GUARDED),
                        "zone_serial": f("zone_serial"),
                        "zone_reason": reason.split(b"\0", 1)[0].decode(
                            "ascii", "replace"),
                        "agent": {"sessions": f("agent_sessions"),
                                  "maxconn": f("agent_maxconn"),
                                  "pct": f("agent_pct"),
                                  "state": f("agent_state"),
                                  "flags": f("agent_flags"),
                                  "errors": f("agent_errors"),
                                  "weight": f("weight"),
                                  "capacity_x100": f("capacity_x100")}})
        return out

    def health(self):
        return [n["health"] for n in self.nodes()]

    def set_admin(self, idx, state, wait=True):
        """Writes the admin byte of node \\a idx and bumps the header
        generation; then, like tgclusterctl set, waits until knotd has taken
        the change in (header admin_ack), if a knotd serves the segment."""
        value = ADMIN[state] if isinstance(state, str) else int(state)
        count = self.header()["count"]
        if not 0 <= idx < count:
            raise IndexError(idx)
        fd = os.open(self.path, os.O_RDWR)
        try:
            m = mmap.mmap(fd, rec_base(count))
            try:
                # Like tgclusterctl set: the local state; knotd recomputes
                # the effective one (admin) from it.
                seg_put(m, "REC", "admin_local", value, rec_base(idx))
                seg_put(m, "REC", "admin", value, rec_base(idx))
                gen = seg_get(m, "HDR", "generation")
                seg_put(m, "HDR", "generation", gen + 1)
            finally:
                m.close()
        finally:
            os.close(fd)
        hdr = self.header()
        if wait and time.time() * 1000 - hdr["heartbeat_ms"] < 3000:
            wait_until(lambda: self.header()["admin_ack"] >= gen + 1, 5,
                       what="knotd took the admin change in")


def unlink_segment(name):
    """Removes one segment by exact name; names that cannot be a segment
    file (a slash inside, too long) are ignored."""
    path = shm_path(name)
    base = os.path.basename(path)
    if os.path.dirname(path) != SHM_DIR or not base.startswith(SHM_PREFIX) \
            or len(base) > 255:
        return
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


# --------------------------------------------------------------------------
# knotd
# --------------------------------------------------------------------------

def _yval(v):
    """knot.conf value: lists as [ ... ], strings double-quoted."""
    if isinstance(v, (list, tuple)):
        return "[ " + ", ".join(_yval(x) for x in v) + " ]"
    if isinstance(v, bool):
        return "on" if v else "off"
    if isinstance(v, int):
        return str(v)
    s = str(v)
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


DEFAULT_RECORDS = [
    "@ NS ns",
    "ns A 127.0.0.53",
    "www A 127.0.0.99",
    "www AAAA ::99",
    '@ TXT "tgcluster test zone"',
    "@ MX 10 mail",
    "mail A 127.0.0.25",
]


class Knotd:
    """A knotd child process on loopback with its own config and directory.

    \\a zones maps a zone name to its mod-tgcluster items (a dict, with an
    optional "id") or to None for a plain zone. Unless an instance gives
    "shm" (or shm=None to use the default name), a unique segment name is
    generated; every segment name is unlinked by cleanup().

    \a repl makes the zones replicated (zone transfers on loopback):
    {"key": Tsig, "master": PORT} for a secondary fed by the knotd on PORT
    (no zone file: the first transfer loads it), {"key": Tsig, "notify":
    [PORT, ...]} for a primary that notifies those secondaries. Transfers,
    NOTIFY and dynamic updates are allowed with the TSIG key only; the
    journal keeps changes, so secondaries get IXFR.

    More knobs: \a listen, further "ADDR@PORT" listen values (knotd always
    listens on 127.0.0.1 and ::1 at \a port); \a remotes, (id,
    "ADDR@PORT") pairs written as remote sections (translator upstreams);
    A remote may be (id, "ADDR@PORT", KEY): its queries are signed with the
    key named KEY, one of \a keys (Tsig objects written as key sections);
    \a query_key, the name of one of \a keys: every zone also takes
    queries signed with it (an acl with action query);
    \a log_level of the stderr log; \a tcp_workers (default \a workers);
    \a directory, an existing directory to write into instead of a private
    temporary one (then cleanup() leaves it alone); \a module "" writes no
    module section (knotd's installed copy of the module serves the zones).
    """

    def __init__(self, zones, port=None, records=None, extra_conf="",
                 module=None, workers=2, name=None, prefix=None,
                 repl=None, zone_conf=(), listen=(), remotes=(),
                 log_level="debug", tcp_workers=None, directory=None,
                 keys=(), query_key=None):
        self.name = name or "knotd"
        self.own_dir = not directory
        if directory:
            self.dir = os.path.abspath(directory)
            os.makedirs(os.path.join(self.dir, "db"), exist_ok=True)
        else:
            self.dir = tempfile.mkdtemp(prefix="tgc-knotd-")
            _dirs.add(self.dir)
            os.mkdir(os.path.join(self.dir, "db"))
        self.port = port or free_port()
        self.conf = os.path.join(self.dir, "knot.conf")
        self.sock = os.path.join(self.dir, "knot.sock")
        self.logfile = os.path.join(self.dir, "knotd.log")
        self.module = MODULE if module is None else module
        self.workers = workers
        self.records = records
        self.extra_conf = extra_conf
        # Command run in front of knotd, which it must exec (same pid),
        # e.g. setpriv to run knotd as another user.
        self.prefix = list(prefix or [])
        self.repl = repl
        self.zone_conf = list(zone_conf)   # more items of every zone
        self.listen = list(listen)
        self.remotes = list(remotes)
        self.keys = list(keys)
        self.query_key = query_key
        self.log_level = log_level
        self.tcp_workers = workers if tcp_workers is None else tcp_workers
        self.proc = None
        self.zones = {}
        self.segments = []
        for zone, items in zones.items():
            zone = zone.rstrip(".")
            if items is not None:
                items = dict(items)
                items.setdefault("id", "lb" + str(len(self.zones)))
                if "shm" not in items:
                    items["shm"] = unique("t")
                if items["shm"] is None:
                    del items["shm"]
                    seg = default_shm_name(zone, items["id"])
                else:
                    seg = os.path.basename(shm_path(str(items["shm"])))
                self.segments.append(seg)
                _segments.add(seg)
            self.zones[zone] = items
        self.write_conf()

    # -- configuration ---------------------------------------------------
    def shm(self, zone=None):
        """Segment of the module instance of \\a zone (the first by default)."""
        zone = (zone or next(z for z, i in self.zones.items() if i)).rstrip(".")
        items = self.zones[zone]
        if "shm" in items:
            return Segment(items["shm"])
        return Segment(default_shm_name(zone, items["id"]))

    def write_conf(self):
        d = self.dir
        lines = [
            "server:",
            "    rundir: %s" % _yval(d),
            "    listen: [ %s ]" % ", ".join(_yval(a) for a in [
                "127.0.0.1@%d" % self.port, "::1@%d" % self.port]
                + self.listen),
            "    udp-workers: %d" % self.workers,
            "    tcp-workers: %d" % self.tcp_workers,
            "    background-workers: 1",
            "",
            "control:",
            "    listen: %s" % _yval(self.sock),
            "",
            "database:",
            "    storage: %s" % _yval(os.path.join(d, "db")),
            "",
            "log:",
            "  - target: stderr",
            "    any: %s" % self.log_level,
            "",
            "acl:",
            "  - id: xfr",
            "    address: [ 127.0.0.0/8, ::1 ]",
            "    action: transfer",
            "",
        ]
        repl = self.repl
        if repl:
            key = repl["key"]
            lines[lines.index("acl:"):lines.index("acl:")] = [
                "key:",
                "  - id: %s" % key.name,
                "    algorithm: %s" % key.alg,
                "    secret: %s" % key.secret,
                "",
                "remote:",
            ] + sum([["  - id: r%d" % p,
                      "    address: %s" % _yval("127.0.0.1@%d" % p),
                      "    key: %s" % key.name]
                     for p in ([repl["master"]] if repl.get("master") else [])
                     + list(repl.get("notify", ()))], []) + [""]
            lines += [
                "  - id: repl",
                "    address: [ 127.0.0.0/8, ::1 ]",
                "    key: %s" % key.name,
                "    action: [ transfer, notify, update ]",
                "",
            ]
        if self.keys:
            entries = sum([["  - id: %s" % k.name,
                            "    algorithm: %s" % k.alg,
                            "    secret: %s" % k.secret] for k in self.keys], [])
            if "key:" in lines:
                at = lines.index("key:") + 1
            else:
                at = lines.index("acl:")
                entries = ["key:"] + entries + [""]
            lines[at:at] = entries
        if self.query_key:
            lines += [
                "  - id: query-key",
                "    key: %s" % self.query_key,
                "    action: query",
                "",
            ]
        if self.remotes:
            entries = sum([["  - id: %s" % r[0], "    address: %s" % _yval(r[1])]
                           + (["    key: %s" % r[2]] if len(r) > 2 else [])
                           for r in self.remotes], [])
            if "remote:" in lines:
                at = lines.index("remote:") + 1
            else:
                at = lines.index("acl:")
                entries = ["remote:"] + entries + [""]
            lines[at:at] = entries
        if any(self.zones.values()):
            if self.module:
                lines += [
                    "module:",
                    "  - id: mod-tgcluster",
                    "    file: %s" % _yval(self.module),
                    "",
                ]
            lines.append("mod-tgcluster:")
            for items in self.zones.values():
                if not items:
                    continue
                lines.append("  - id: %s" % items["id"])
                for key, val in items.items():
                    if key == "id":
                        continue
                    lines.append("    %s: %s" % (key, _yval(val)))
            lines.append("")
        lines += [
            "template:",
            "  - id: default",
            "    storage: %s" % _yval(d),
            "    file: \"%s.zone\"",
            "    zonefile-sync: -1",
            "    zonefile-load: whole",
            "    journal-content: none",
            "",
            "zone:",
        ]
        for zone, items in self.zones.items():
            lines.append("  - domain: %s" % zone)
            acls = ["xfr"] + (["repl"] if repl else []) + (
                ["query-key"] if self.query_key else [])
            lines.append("    acl: [ %s ]" % ", ".join(acls)
                         if len(acls) > 1 else "    acl: xfr")
            lines += ["    %s" % item for item in self.zone_conf]
            if items:
                lines.append("    module: mod-tgcluster/%s" % items["id"])
            if repl:
                lines.append("    journal-content: changes")
                lines.append("    serial-policy: increment")
                if repl.get("master"):
                    lines.append("    master: r%d" % repl["master"])
                if repl.get("notify"):
                    lines.append("    notify: [ %s ]" % ", ".join(
                        "r%d" % p for p in repl["notify"]))
            if not (repl and repl.get("master")):
                self._write_zone(zone)
        lines.append(self.extra_conf)
        with open(self.conf, "w") as f:
            f.write("\n".join(lines) + "\n")

    def _write_zone(self, zone):
        recs = self.records if self.records is not None else DEFAULT_RECORDS
        text = ["$ORIGIN %s." % zone, "$TTL 3600",
                "@ SOA ns hostmaster 1 3600 900 604800 60"] + list(recs)
        with open(os.path.join(self.dir, "%s.zone" % zone), "w") as f:
            f.write("\n".join(text) + "\n")

    # -- process ---------------------------------------------------------
    def start(self, wait=True, timeout=10.0):
        assert self.proc is None, "already running"
        self._log_fd = open(self.logfile, "ab")
        self.proc = subprocess.Popen(self.prefix + [KNOTD, "-c", self.conf],
                                     stdin=subprocess.DEVNULL, env=_child_env(),
                                     stdout=self._log_fd, stderr=self._log_fd)
        _children[self.proc.pid] = self.proc
        if wait:
            self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout=10.0):
        """TCP connect to the port, then a TCP SOA query of every zone
        answering NOERROR with AA (the zones are loaded)."""
        def ready():
            if self.proc.poll() is not None:
                raise RuntimeError("knotd exited with %s; log:\n%s"
                                   % (self.proc.returncode, self.log_text()[-3000:]))
            if not tcp_connectable("127.0.0.1", self.port):
                return False
            for zone in self.zones:
                a = query(self.port, zone + ".", "SOA", tcp=True, timeout=1)
                if a.rcode != dns.rcode.NOERROR or not a.aa:
                    return False
            return True
        try:
            wait_until(ready, timeout, interval=0.02, what="knotd ready")
        except AssertionError:
            if self.proc.poll() is not None:
                raise RuntimeError("knotd exited with %s; log:\n%s"
                                   % (self.proc.returncode, self.log_text()[-3000:]))
            raise

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def threads(self):
        """Number of threads of our knotd (/proc/PID/task): every checker
        or poller of a module instance is one of them."""
        return len(os.listdir("/proc/%d/task" % self.proc.pid))

    def stop(self, timeout=10.0):
        """SIGTERM to our knotd, SIGKILL after \\a timeout; returns the exit
        status (None if it was not running)."""
        if self.proc is None:
            return None
        proc, self.proc = self.proc, None
        rc = proc.poll()
        if rc is None:
            proc.send_signal(signal.SIGTERM)
            try:
                rc = proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                rc = proc.wait(5)
        _children.pop(proc.pid, None)
        self._log_fd.close()
        self.last_rc = rc
        return rc

    def restart(self, **kw):
        self.stop()
        return self.start(**kw)

    def cleanup(self):
        self.stop()
        for seg in self.segments:
            unlink_segment(seg)
            _segments.discard(seg)
        if not self.own_dir:
            pass  # the caller's directory
        elif not KEEP:
            shutil.rmtree(self.dir, ignore_errors=True)
            _dirs.discard(self.dir)
        elif self.dir in _dirs:
            _dirs.discard(self.dir)
            log("kept %s" % self.dir)

    # -- control ---------------------------------------------------------
    def knotc(self, *args, timeout=30):
        p = subprocess.run([KNOTC, "-c", self.conf, "-t", "10"] + list(args),
                           stdin=subprocess.DEVNULL, env=_child_env(),
                           stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=timeout)
        return p.returncode, p.stdout.decode(errors="replace")

    def reload(self):
        rc, out = self.knotc("reload")
        if rc != 0:
            raise RuntimeError("knotc reload failed (%d): %s" % (rc, out))
        return out

    def conf_check(self):
        """knotc conf-check of the written config: (rc, output)."""
        return self.knotc("conf-check")

    def zone_stats(self, zone=None):
        """mod-tgcluster counters of \\a zone as {key: value}.

        knotc prints lines like "[zone.] mod-tgcluster[id].counter[index] = N";
        the key is the text after "mod-tgcluster" ("[id].counter[index]" etc.).
        """
        zone = (zone or next(iter(self.zones))).rstrip(".")
        rc, out = self.knotc("zone-stats", zone + ".")
        if rc != 0:
            raise RuntimeError("knotc zone-stats failed (%d): %s" % (rc, out))
        return parse_zone_stats(out)

    def log_text(self):
        try:
            with open(self.logfile, "rb") as f:
                return f.read().decode(errors="replace")
        except FileNotFoundError:
            return ""

    def log_mark(self):
        """Current length of the log, for log_since()."""
        return len(self.log_text())

    def log_since(self, mark):
        return self.log_text()[mark:]


class Tsig:
    """A TSIG key for transfers and updates (random secret)."""

    def __init__(self, name="tgc-admin", alg="hmac-sha256"):
        self.name, self.alg = name, alg
        self.secret = base64.b64encode(os.urandom(32)).decode()


def knsupdate(port, zone, key, commands, timeout=10):
    """Sends one dynamic update to the knotd on \a port with knsupdate,
    signed with \a key; \a commands are knsupdate lines ("update add ...").
    Raises on failure."""
    script = ["server 127.0.0.1 %d" % port,
              "zone %s." % zone.rstrip("."),
              "key %s:%s %s" % (key.alg, key.name, key.secret)]
    script += list(commands) + ["send", "quit"]
    p = subprocess.run(["knsupdate", "-t", str(timeout)],
                       input="\n".join(script) + "\n", capture_output=True,
                       text=True, timeout=timeout + 5)
    if p.returncode != 0:
        raise RuntimeError("knsupdate failed (%d): %s%s"
                           % (p.returncode, p.stdout, p.stderr))
    return p


def soa_serial(port, zone):
    """SOA serial the knotd on \a port serves for \a zone (TCP)."""
    a = query(port, zone.rstrip(".") + ".", "SOA", tcp=True, timeout=2)
    for rrset in a.msg.answer:
        if rrset.rdtype == dns.rdatatype.SOA:
            return rrset[0].serial
    return None


_STAT_RE = re.compile(r"mod-tgcluster(\S*)\s*=\s*(\d+)\s*$")


def parse_zone_stats(text):
    stats = {}
    for line in text.splitlines():
        m = _STAT_RE.search(line.strip())
        if m:
            stats[m.group(1)] = stats.get(m.group(1), 0) + int(m.group(2))
    return stats


def stat_sum(stats, *needles):
    """Sum of the counters whose key contains every needle."""
    return sum(v for k, v in stats.items() if all(n in k for n in needles))


# --------------------------------------------------------------------------
# unittest glue
# --------------------------------------------------------------------------

class TgcTestCase(unittest.TestCase):
    """TestCase whose helpers register the cleanup of what they start."""

    maxDiff = None

    def nodes(self, specs):
        """Starts simulated nodes on one shared loop. \\a specs: list of
        (addr, mode), (addr, mode, port) or (addr, mode, port, tls).
        Returns the NodeSims."""
        group = NodeGroup()
        self.addCleanup(group.close)
        out = []
        for spec in specs:
            addr, mode = spec[0], spec[1]
            port = spec[2] if len(spec) > 2 else 0
            tls = spec[3] if len(spec) > 3 else None
            out.append(group.add(addr, port, mode, tls=tls))
        return out

    def knotd(self, zones, start=True, **kw):
        k = Knotd(zones, **kw)
        self.addCleanup(k.cleanup)
        self.addCleanup(self._dump_log_on_failure, k)  # runs first (LIFO)
        if start:
            k.start()
        return k

    def _dump_log_on_failure(self, k):
        # Shows the tail of the log of a failed test, before k.cleanup
        # removes it.
        outcome = getattr(self, "_outcome", None)
        failed = outcome is not None and not getattr(outcome, "success", True)
        result = getattr(outcome, "result", None)
        if result is not None:  # Python 3.11 reports failures at once
            failed = failed or any(
                t is self or getattr(t, "test_case", None) is self
                for t, _ in result.failures + result.errors)
        if failed or os.environ.get("TGC_SHOW_LOG"):
            sys.stderr.write("\n---- knotd log (%s) tail ----\n%s\n----\n"
                             % (k.dir, k.log_text()[-4000:]))

    def addrs(self, k, name, rdtype="A", **kw):
        return query(k.port, name, rdtype, **kw).addrs

    def assertEventually(self, pred, timeout=5.0, what=None, interval=0.01):
        return wait_until(pred, timeout, interval=interval, what=what)

    def assertStays(self, pred, duration, what=None, interval=0.02):
        """Asserts \\a pred holds on every poll during \\a duration seconds."""
        deadline = time.monotonic() + duration
        while time.monotonic() < deadline:
            val = pred()
            self.assertTrue(val, "%s stopped holding" % (what or "condition"))
            time.sleep(interval)


def installed_module():
    """Path of a mod-tgcluster.so in knotd's own module directory, or None.

    knotd loads every module of that directory by itself, so a configuration
    that declares ``module: id: mod-tgcluster`` (every configuration this
    harness writes) fails with "duplicate module" while such a copy exists.
    """
    path = os.path.join(MODULE_DIR, "mod-tgcluster.so")
    return path if os.path.exists(path) else None


def skip_for_environment(test, why):
    """Skips \\a test because the machine lacks what it needs (\\a why: not
    root, no network namespaces); fails it instead where TGC_NO_SKIP is set.
    Only for what a developer's machine may lack: a tool scripts/deps.sh
    installs is never a reason to skip (fail with the package to install)."""
    if NO_SKIP:
        test.fail("%s (TGC_NO_SKIP is set: this machine must provide it)"
                  % why)
    test.skipTest(why)


def require_module():
    """A missing module is an error (never a skip), reported clearly; so is
    an installed copy that would shadow the module under test."""
    if not os.path.exists(MODULE):
        raise SystemExit("mod-tgcluster module not found: %s (set TGC_MODULE)"
                         % MODULE)
    if installed_module():
        raise SystemExit(INSTALLED_HINT % installed_module())


def _on_sigterm(signum, frame):
    # A SIGTERM (meson's timeout) unwinds like ^C, so that the atexit
    # handler below still stops our children and removes our segments.
    raise KeyboardInterrupt("SIGTERM")


def main():
    """Entry point of the test files: unittest's main, exit status set."""
    require_module()
    signal.signal(signal.SIGTERM, _on_sigterm)
    unittest.main(verbosity=2)


@atexit.register
def _cleanup_all():
    for pid, proc in list(_children.items()):
        if proc.poll() is None:
            proc.kill()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                pass
        _children.pop(pid, None)
    for loop in list(_sims):
        try:
            loop.shutdown()
        except Exception:  # noqa: BLE001 - best effort at exit
            pass
    for seg in list(_segments):
        unlink_segment(seg)
    if not KEEP:
        for d in list(_dirs):
            shutil.rmtree(d, ignore_errors=True)


# --------------------------------------------------------------------------
# Command line: the same knot.conf writer and node simulator for the shell
# scripts (demo.sh, scripts/demo-nat.sh, bench/)
# --------------------------------------------------------------------------

# Where simulated nodes may listen: loopback, and the documentation ranges
# (only ever inside network namespaces a test or demo made).
SIM_NETS = ("127.0.0.0/8", "::1/128", "192.0.2.0/24", "198.51.100.0/24",
            "203.0.113.0/24", "2001:db8::/32")


def _sim_addr(text):
    ip = ipaddress.ip_address(text)
    if not any(ip in ipaddress.ip_network(n) for n in SIM_NETS):
        raise ValueError("%s is neither loopback nor a documentation address"
                         % text)
    return str(ip)


def _cli_listen(text):
    """"ADDR:PORT[=ID]" or "[ADDR6]:PORT[=ID]" -> (addr, port, id or None)."""
    import argparse
    spec, _, ident = text.partition("=")
    if spec.startswith("["):
        addr, _, rest = spec[1:].partition("]")
        port = rest.lstrip(":")
    else:
        addr, _, port = spec.rpartition(":")
    try:
        addr, port = _sim_addr(addr), int(port)
    except ValueError as e:
        raise argparse.ArgumentTypeError("bad --listen %r: %s" % (text, e))
    if not 0 < port < 65536 or any(c.isspace() for c in ident):
        raise argparse.ArgumentTypeError("bad --listen %r" % text)
    return addr, port, ident or None


def _cli_item(text):
    """Module items "key: value" (one a line) -> [(key, value)]; a value
    "[ a, b ]" is a list, digits are a number, quotes are dropped."""
    out = []
    for line in text.splitlines():
        if not line.strip():
            continue
        key, sep, val = line.strip().partition(":")
        if not sep or not key or " " in key:
            raise ValueError("bad module item %r (KEY: VALUE)" % line)
        val = val.strip()

        def one(v):
            v = v.strip().strip('"')
            return int(v) if v.isdigit() else v
        if val.startswith("[") and val.endswith("]"):
            val = [one(v) for v in val[1:-1].split(",") if v.strip()]
        else:
            val = one(val)
        out.append((key, val))
    return out


def _cli_conf(args):
    items = None
    if args.item:
        items = {"id": args.id}
        for text in args.item:
            items.update(_cli_item(text))
        if "shm" not in items:
            items["shm"] = None  # the module's default name
    records = ["@ NS ns", "ns A 127.0.0.53"] if args.record is None else \
        [r for text in args.record for r in text.splitlines() if r.strip()]
    remotes = []
    for text in args.remote:
        rid, sep, addr = text.partition("=")
        if not sep:
            raise SystemExit("bad --remote %r (ID=ADDR@PORT)" % text)
        remotes.append((rid, addr))
    k = Knotd({args.zone: items}, port=args.port, records=records,
              module=args.module and os.path.abspath(args.module),
              workers=args.workers,
              tcp_workers=args.tcp_workers, listen=args.listen,
              remotes=remotes, log_level=args.log_level,
              zone_conf=args.zone_item, directory=args.dir)
    # The caller owns the segment and the directory: nothing is removed
    # when this process exits.
    for seg in k.segments:
        _segments.discard(seg)
    print(k.conf)
    return 0


def _cli_nodesim(args):
    tls = None
    if args.tls:
        tls = server_tls(args.tls)
        if args.no_tickets:
            import ssl
            tls.options |= ssl.OP_NO_TICKET
            tls.num_tickets = 0
    specs = list(args.listen or [])
    if args.count:
        ip = ipaddress.ip_address(args.first)
        while len(specs) < args.count:
            if ip.packed[-1] not in (0, 255):
                try:
                    specs.append((_sim_addr(str(ip)), args.port, None))
                except ValueError as e:
                    raise SystemExit("nodesim: %s" % e)
            ip += 1
    if not specs:
        raise SystemExit("nodesim: no --listen and no --count")
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    group = NodeGroup()

    def pause(*_):
        for n in group.nodes:
            n.stop()
        print("stopped %d" % len(group.nodes), flush=True)

    def resume(*_):
        for n in group.nodes:
            n.start()
        print("ready %d" % len(group.nodes), flush=True)
    # SIGUSR1 closes every listener (connection refused from then on, as
    # if the node had died), SIGUSR2 listens again; each says so when done.
    signal.signal(signal.SIGUSR1, pause)
    signal.signal(signal.SIGUSR2, resume)
    try:
        for addr, port, ident in specs:
            node = group.add(addr, port, args.mode, args.hold, tls=tls,
                             ident=ident)
            if args.count == 0:
                print("nodesim: %d listening on %s (%s%s)" % (
                    os.getpid(), node.spec, args.mode,
                    " id=" + ident if ident else ""), flush=True)
        if args.list:
            with open(args.list, "w") as f:
                f.write("".join(n.addr + "\n" for n in group.nodes))
        print("ready %d" % len(group.nodes), flush=True)
        while not stop.wait(0.5):
            pass
    finally:
        nodes = list(group.nodes)
        group.close()
    print("accepted %d served %d resumed %d" % (
        sum(n.accepted for n in nodes), sum(len(n.requests) for n in nodes),
        sum(n.resumed for n in nodes)), flush=True)
    return 0


def cli(argv=None):
    """python3 tests/integration/tgc.py conf|nodesim ... (see --help)."""
    import argparse
    ap = argparse.ArgumentParser(
        prog="tgc.py", description="mod-tgcluster test harness: writes a"
        " knot.conf and zone file, or runs simulated cluster nodes.")
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("conf", help="write DIR/knot.conf and DIR/ZONE.zone"
                       " (prints the knot.conf path)")
    c.add_argument("dir", help="directory (made if missing)")
    c.add_argument("--zone", required=True)
    c.add_argument("--port", type=int, required=True,
                   help="listen on 127.0.0.1 and ::1 at this port")
    c.add_argument("--listen", action="append", default=[],
                   metavar="ADDR@PORT", help="one more listen address")
    c.add_argument("--record", action="append", metavar="RECORDS",
                   help="zone records after the SOA, one a line (default:"
                   " @ NS ns, ns A 127.0.0.53)")
    c.add_argument("--item", action="append", default=[], metavar="ITEMS",
                   help="mod-tgcluster items \"key: value\", one a line;"
                   " none: a plain zone without the module")
    c.add_argument("--id", default="lb", help="module instance id")
    c.add_argument("--remote", action="append", default=[],
                   metavar="ID=ADDR@PORT", help="a remote (translator upstream)")
    c.add_argument("--zone-item", action="append", default=[],
                   metavar="\"key: value\"", help="one more item of the zone")
    c.add_argument("--module", default=MODULE, help="the module .so (\"\":"
                   " no module section, the module installed in knotd's"
                   " module directory)")
    c.add_argument("--log-level", default="info")
    c.add_argument("--workers", type=int, default=2,
                   help="udp-workers (and tcp-workers unless given)")
    c.add_argument("--tcp-workers", type=int)
    n = sub.add_parser("nodesim", help="simulated cluster nodes (NodeSim)"
                       " until SIGTERM/SIGINT; SIGUSR1 closes the listeners"
                       " (prints \"stopped N\"), SIGUSR2 opens them again"
                       " (prints \"ready N\")")
    n.add_argument("--listen", action="append", type=_cli_listen,
                   metavar="ADDR:PORT[=ID]", help="a node (repeatable); ID"
                   " names it in the rfbid identity line")
    n.add_argument("--first", default="127.1.0.1",
                   help="with --count: the first of consecutive addresses")
    n.add_argument("--count", type=int, default=0,
                   help="nodes on COUNT consecutive addresses from --first"
                   " (last octet 0 and 255 skipped), at --port")
    n.add_argument("--port", type=int, default=15990)
    n.add_argument("--list", help="write the node addresses here, one a line")
    n.add_argument("--mode", choices=MODES, default="rfb")
    n.add_argument("--hold", type=float, default=3.0,
                   help="seconds a held connection stays open at most")
    n.add_argument("--tls", metavar="CERT",
                   help="TLS first (key in CERT.key)")
    n.add_argument("--no-tickets", action="store_true",
                   help="with --tls: issue no session tickets")
    args = ap.parse_args(argv)
    if args.cmd == "conf":
        return _cli_conf(args)
    return _cli_nodesim(args)


if __name__ == "__main__":
    sys.exit(cli())
