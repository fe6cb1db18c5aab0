# SPDX-License-Identifier: GPL-3.0-or-later
"""End-to-end harness: the topologies of docs/deployment.rst with real
resolvers and real NAT.

Builds on tests/integration/tgc.py (Knotd, NodeSim, wait_until, cleanup of
children and segments) and adds:

  NetNS         a network namespace made by the test (`ip netns add`), with
                call() running a function in a thread that entered it (so the
                test process can query, connect and spawn inside it) and
                exec_argv() for children started with `ip netns exec`.
  NsKnotd       tgc.Knotd started inside a namespace, with extra listen
                addresses and text edits of its knot.conf (remote sections).
  NsNodeGroup   tgc.NodeGroup whose selector loop runs inside a namespace.
  Unbound, Kresd, Named
                the internal DNS server: a child with its own configuration in
                a temporary directory, forwarding only the cluster zone.
  resolve(), view()
                the viewer: a recursive query to the internal DNS and a TCP
                connection to the first address of the answer.

Network rule: everything runs inside namespaces the test creates, on their
loopback or on veth links between them, with documentation addresses only
(192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24). A resolver has no route to
anything else, and its root hints point at 127.0.0.254 (where nothing
listens), so that it would not even try the real root servers.

Cleanup: children are stopped by the PID the harness started; namespaces are
deleted by exact name (their veths go with them), also at interpreter exit.
"""

import atexit
import ctypes
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))
import tgc  # noqa: E402
from tgc import log, wait_until  # noqa: E402,F401

import dns.flags  # noqa: E402
import dns.message  # noqa: E402
import dns.query  # noqa: E402
import dns.rcode  # noqa: E402
import dns.rdatatype  # noqa: E402

ZONE = "internet.intern.netz"
APEX = ZONE + "."
# The node simulator: NodeSim's command line (mode rfbid names the node).
NODESIM = [os.path.join(REPO, "tests", "integration", "tgc.py"), "nodesim",
           "--mode", "rfbid"]
PY = "/usr/bin/python3"
IP = shutil.which("ip", path="/usr/sbin:/sbin:/usr/bin:/bin") or "ip"
NFT = shutil.which("nft", path="/usr/sbin:/sbin:/usr/bin:/bin")
UNBOUND = shutil.which("unbound", path="/usr/sbin:/usr/bin")
KRESD = shutil.which("kresd", path="/usr/sbin:/usr/bin")
NAMED = shutil.which("named", path="/usr/sbin:/usr/bin")

# Where a resolver's root hints point: a loopback address nothing listens on.
DEAD_ROOT = "127.0.0.254"

_netns = []         # names of the namespaces this process created
_tmpdirs = set()    # temporary directories of resolvers and children


def sh(*argv, check=True, timeout=30):
    """Runs a command; returns its stdout. Raises with its output on failure."""
    p = subprocess.run([str(a) for a in argv], stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=timeout)
    if check and p.returncode != 0:
        raise RuntimeError("%s failed (%d): %s" % (
            " ".join(str(a) for a in argv), p.returncode,
            (p.stderr or p.stdout).decode(errors="replace").strip()))
    return p.stdout.decode(errors="replace")


def mkdtemp(prefix):
    d = tempfile.mkdtemp(prefix=prefix)
    _tmpdirs.add(d)
    return d


def rmtree(d):
    if tgc.KEEP:
        log("kept %s" % d)
    else:
        shutil.rmtree(d, ignore_errors=True)
    _tmpdirs.discard(d)


# --------------------------------------------------------------------------
# Network namespaces
# --------------------------------------------------------------------------

_libc = ctypes.CDLL(None, use_errno=True)
CLONE_NEWNET = 0x40000000


def ns_name(role):
    """tgc-e2e-<pid>-<role>: unique to this process."""
    return "tgc-e2e-%d-%s" % (os.getpid(), role)


class NetNS:
    """A network namespace created (and deleted) by this process; \\a name
    replaces the default name (ns_name())."""

    def __init__(self, role, name=None):
        self.name = name or ns_name(role)
        sh(IP, "netns", "add", self.name)
        _netns.append(self.name)
        self.ip("link", "set", "lo", "up")

    def __repr__(self):
        return "NetNS(%s)" % self.name

    def ip(self, *args):
        return sh(IP, "-n", self.name, *args)

    def exec_argv(self, argv):
        return [IP, "netns", "exec", self.name] + [str(a) for a in argv]

    def run(self, *argv, check=True):
        return sh(*self.exec_argv(argv), check=check)

    def sysctl(self, key, value):
        self.run("sysctl", "-q", "-w", "%s=%s" % (key, value))

    def enter(self):
        """Moves the calling thread (only it) into this namespace."""
        fd = os.open("/run/netns/" + self.name, os.O_RDONLY | os.O_CLOEXEC)
        try:
            if _libc.setns(fd, CLONE_NEWNET) != 0:
                err = ctypes.get_errno()
                raise OSError(err, "setns(%s): %s" % (self.name, os.strerror(err)))
        finally:
            os.close(fd)

    def call(self, fn, *args, **kw):
        """Runs fn(*args, **kw) in a new thread inside this namespace and
        returns its value (or raises its exception). Sockets it opens and
        children it spawns live in the namespace."""
        box = {}

        def run():
            try:
                self.enter()
                box["val"] = fn(*args, **kw)
            except BaseException as exc:  # noqa: BLE001 - re-raised below
                box["exc"] = exc

        t = threading.Thread(target=run, name="in-" + self.name, daemon=True)
        t.start()
        t.join()
        if "exc" in box:
            raise box["exc"]
        return box.get("val")

    def delete(self):
        if self.name in _netns:
            sh(IP, "netns", "del", self.name, check=False)
            _netns.remove(self.name)


def veth(ns_a, if_a, ns_b, if_b):
    """A veth pair with one end in each namespace (nothing in the host's)."""
    sh(IP, "link", "add", if_a, "netns", ns_a.name, "type", "veth",
       "peer", "name", if_b, "netns", ns_b.name)
    ns_a.ip("link", "set", if_a, "up")
    ns_b.ip("link", "set", if_b, "up")


_NETNS_PROBE = None


def netns_problem():
    """None when this process can create network namespaces (tried once),
    else the reason why not."""
    global _NETNS_PROBE
    if _NETNS_PROBE is None:
        if os.geteuid() != 0:
            _NETNS_PROBE = "not running as root (uid %d)" % os.geteuid()
        elif shutil.which(IP) is None and not os.path.exists(IP):
            _NETNS_PROBE = "no ip(8) (Debian package iproute2)"
        else:
            try:
                probe = NetNS("probe")
                probe.delete()
                _NETNS_PROBE = ""
            except Exception as exc:  # noqa: BLE001 - reported as skip reason
                _NETNS_PROBE = "ip netns add failed: %s" % exc
    return _NETNS_PROBE or None


def require_netns(test):
    """Skips \\a test without network namespaces (a failure where
    TGC_NO_SKIP is set, see tgc.skip_for_environment())."""
    why = netns_problem()
    if why:
        tgc.skip_for_environment(
            test, "network namespaces unavailable, needs root/CAP_NET_ADMIN "
            "(%s)" % why)


def require_binary(test, path, what, package):
    """Fails \\a test when a program scripts/deps.sh installs is missing."""
    if not path or not os.access(path, os.X_OK):
        test.fail("%s not installed (Debian package %s; scripts/deps.sh "
                  "installs it)" % (what, package))


# --------------------------------------------------------------------------
# Children
# --------------------------------------------------------------------------

class Child:
    """A child process (optionally inside a namespace) logging to a file."""

    def __init__(self, name, argv, logfile, ns=None, cwd=None):
        self.name = name
        self.argv = [str(a) for a in argv]
        self.logfile = logfile
        self.ns = ns
        self.cwd = cwd
        self.proc = None

    def start(self):
        assert self.proc is None
        argv = self.ns.exec_argv(self.argv) if self.ns else self.argv
        with open(self.logfile, "ab") as f:
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                         stdout=f, stderr=subprocess.STDOUT,
                                         cwd=self.cwd)
        tgc._children[self.proc.pid] = self.proc
        return self

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=5.0):
        if self.proc is None:
            return None
        proc, self.proc = self.proc, None
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        tgc._children.pop(proc.pid, None)
        return proc.returncode

    def log_text(self):
        try:
            with open(self.logfile, "rb") as f:
                return f.read().decode(errors="replace")
        except FileNotFoundError:
            return ""

    def check_alive(self):
        if self.proc is not None and self.proc.poll() is not None:
            raise RuntimeError("%s exited with %s; log:\n%s" % (
                self.name, self.proc.returncode, self.log_text()[-3000:]))


def wait_tcp(ns, addr, port, child=None, timeout=10.0, what=None):
    """Polls until addr:port accepts a TCP connection inside \\a ns."""
    def ready():
        if child is not None:
            child.check_alive()
        return ns.call(tgc.tcp_connectable, addr, port)
    wait_until(ready, timeout, interval=0.02,
               what=what or "%s:%d listening in %s" % (addr, port, ns.name))


class IdNodes:
    """Simulated nodes that name themselves (tgc.py nodesim --mode rfbid),
    one child each inside a namespace: {id: (addr, port)}."""

    def __init__(self, ns, nodes, logdir):
        self.ns = ns
        self.nodes = dict(nodes)
        self.logdir = logdir
        self.children = {}

    def start(self, ident):
        addr, port = self.nodes[ident]
        c = Child("node " + ident,
                  [PY] + NODESIM + ["--listen", "%s:%d=%s" % (addr, port, ident)],
                  os.path.join(self.logdir, "node-%s.log" % ident), ns=self.ns)
        c.start()
        self.children[ident] = c
        wait_tcp(self.ns, addr, port, child=c, what="node %s" % ident)

    def stop(self, ident):
        c = self.children.pop(ident, None)
        if c is not None:
            c.stop()

    def start_all(self):
        for ident in self.nodes:
            self.start(ident)

    def close(self):
        for ident in list(self.children):
            self.stop(ident)


# --------------------------------------------------------------------------
# knotd and simulated nodes inside a namespace
# --------------------------------------------------------------------------

class NsKnotd(tgc.Knotd):
    """tgc.Knotd inside \\a ns. \\a listen: extra "ADDR@PORT" listen values
    (the harness itself listens on 127.0.0.1 and ::1 at \\a port); \\a edits:
    (old, new) text replacements in the generated knot.conf."""

    def __init__(self, ns, zones, listen=(), edits=(), **kw):
        self.ns = ns
        self.edits = list(edits)
        super().__init__(zones, listen=listen, **kw)

    def write_conf(self):
        super().write_conf()
        with open(self.conf) as f:
            text = f.read()
        for old, new in self.edits:
            if old not in text:
                raise AssertionError("knot.conf edit anchor %r not found" % old)
            text = text.replace(old, new, 1)
        with open(self.conf, "w") as f:
            f.write(text)

    def start(self, wait=True, timeout=10.0):
        return self.ns.call(tgc.Knotd.start, self, wait, timeout)

    def wait_ready(self, timeout=10.0):
        return self.ns.call(tgc.Knotd.wait_ready, self, timeout)


def before(section, text):
    """A knot.conf edit inserting \\a text before the \\a section header."""
    return ("\n%s:\n" % section, "\n%s\n%s:\n" % (text.rstrip("\n"), section))


def remotes_text(remotes):
    """remote: sections; \\a remotes: list of (id, "ADDR@PORT")."""
    lines = ["remote:"]
    for rid, addr in remotes:
        lines += ["  - id: %s" % rid, "    address: %s" % addr]
    return "\n".join(lines) + "\n"


class _NsSimLoop(tgc._SimLoop):
    def __init__(self, ns):
        super().__init__()
        self.ns = ns

    def run(self):
        self.ns.enter()
        super().run()


class NsNodeGroup(tgc.NodeGroup):
    """tgc.NodeGroup whose listeners live in \\a ns."""

    def __init__(self, ns):  # noqa: D107 - replaces NodeGroup's loop
        self.loop = _NsSimLoop(ns)
        self.loop.start()
        tgc._sims.append(self.loop)
        self.nodes = []


# --------------------------------------------------------------------------
# The NAT topology (topology 2 of docs/deployment.rst)
# --------------------------------------------------------------------------

LAN_NET = "198.51.100.0/24"
CLUSTER_NET = "203.0.113.0/24"
VIEWER = "198.51.100.10"          # the viewer's address in the client LAN
INTERNAL_DNS = "198.51.100.53"    # the internal DNS server in the client LAN
NAT_LAN = "198.51.100.1"          # the NAT host on the client LAN
NAT_CLUSTER = "203.0.113.1"       # the NAT host on the cluster network
# The example table: NAT (cluster) address, LAN (alias) address, LB or not.
CLUSTER = [
    ("tg1", "203.0.113.100", "198.51.100.100", True),
    ("tg2", "203.0.113.101", "198.51.100.101", True),
    ("tg3", "203.0.113.102", "198.51.100.102", False),
]
NODE_PORT = 5900


def nat_ruleset():
    """nftables ruleset of the NAT host: the LAN alias addresses are DNATed
    to the nodes for the node port (DNS to the alias addresses of the LBs is
    answered by the translator on the NAT host itself); only DNATed
    connections and their replies are forwarded."""
    elements = ", ".join("%s : %s" % (lan, node) for _, node, lan, _ in CLUSTER)
    return """\
table ip tgc_nat {
    map lan2node {
        type ipv4_addr : ipv4_addr
        elements = { %s }
    }
    chain prerouting {
        type nat hook prerouting priority dstnat; policy accept;
        iifname "lan0" tcp dport %d counter dnat to ip daddr map @lan2node
    }
    chain forward {
        type filter hook forward priority filter; policy drop;
        ct state established,related accept
        ct status dnat counter accept
    }
}
""" % (elements, NODE_PORT)


class NatTopology:
    """Three namespaces and two veth links, as in the figure of docs/deployment.rst
    (\\a prefix: the namespaces are PREFIX-client, PREFIX-nat, PREFIX-cluster
    instead of the default names):

      client  lan0 198.51.100.10 (viewer), .53 (internal DNS)
        |  veth, 198.51.100.0/24 (the LAN; no route to the cluster)
      nat     lan0 198.51.100.1 + LAN aliases .100-.102
              clu0 203.0.113.1; nftables DNAT alias -> node
        |  veth, 203.0.113.0/24 (the cluster network)
      cluster clu0 203.0.113.100-.102 (nodes, LBs on .100 and .101),
              default route via the NAT host
    """

    def __init__(self, test=None, prefix=None):
        self.client = self.nat = self.cluster = None
        self.test = test
        self.prefix = prefix

    def up(self):
        if self.test is not None:
            mk = self.test.netns
        elif self.prefix:
            def mk(role):
                return NetNS(role, "%s-%s" % (self.prefix, role))
        else:
            mk = NetNS
        self.client = mk("client")
        self.nat = mk("nat")
        self.cluster = mk("cluster")
        veth(self.client, "lan0", self.nat, "lan0")
        veth(self.nat, "clu0", self.cluster, "clu0")
        self.client.ip("addr", "add", VIEWER + "/24", "dev", "lan0")
        self.client.ip("addr", "add", INTERNAL_DNS + "/32", "dev", "lan0")
        self.nat.ip("addr", "add", NAT_LAN + "/24", "dev", "lan0")
        self.nat.ip("addr", "add", NAT_CLUSTER + "/24", "dev", "clu0")
        first = True
        for _, node, lan, _ in CLUSTER:
            self.nat.ip("addr", "add", lan + "/32", "dev", "lan0")
            self.cluster.ip("addr", "add", node + ("/24" if first else "/32"),
                            "dev", "clu0")
            first = False
        self.cluster.ip("route", "add", "default", "via", NAT_CLUSTER)
        self.nat.sysctl("net.ipv4.ip_forward", 1)
        path = os.path.join(mkdtemp("tgc-nft-"), "nat.nft")
        with open(path, "w") as f:
            f.write(nat_ruleset())
        try:
            self.nat.run(NFT, "-f", path)
        finally:
            rmtree(os.path.dirname(path))
        return self

    def dnat_packets(self):
        """Packets counted by the DNAT rule."""
        out = self.nat.run(NFT, "list", "chain", "ip", "tgc_nat", "prerouting")
        m = re.search(r"counter packets (\d+)", out)
        return int(m.group(1)) if m else 0

    def down(self):
        for ns in (self.client, self.nat, self.cluster):
            if ns is not None:
                ns.delete()


# --------------------------------------------------------------------------
# Internal DNS servers
# --------------------------------------------------------------------------

class Resolver:
    """An internal DNS server forwarding only ZONE to \\a forwarders
    [(addr, port)], listening on addr@port inside \\a ns."""

    kind = "resolver"

    def __init__(self, ns, addr, port, forwarders, also=()):
        self.ns = ns
        self.also = list(also)   # more listen addresses (unbound only)
        self.addr = addr
        self.port = port
        self.forwarders = list(forwarders)
        self.dir = mkdtemp("tgc-%s-" % self.kind)
        self.child = None

    def write(self, name, text):
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def argv(self):
        raise NotImplementedError

    def start(self, timeout=15.0):
        self.child = Child(self.kind, self.argv(),
                           os.path.join(self.dir, "%s.log" % self.kind),
                           ns=self.ns, cwd=self.dir)
        self.child.start()
        wait_tcp(self.ns, self.addr, self.port, child=self.child,
                 timeout=timeout, what="%s ready" % self.kind)
        return self

    def stop(self):
        if self.child is not None:
            self.child.stop()

    def cleanup(self):
        self.stop()
        rmtree(self.dir)

    def log_text(self):
        return self.child.log_text() if self.child else ""

    def conf_text(self):
        raise NotImplementedError


class Unbound(Resolver):
    kind = "unbound"

    def conf_text(self):
        fwd = "".join("    forward-addr: %s@%d\n" % f for f in self.forwarders)
        return """\
server:
    # no daemon tricks: a foreground child with everything in its directory
    username: ""
    chroot: ""
    directory: "{dir}"
    pidfile: "{dir}/unbound.pid"
    use-syslog: no
    logfile: ""
    verbosity: 1
    num-threads: 1
    interface: {addr}@{port}
{also}    access-control: 0.0.0.0/0 allow
    do-ip6: no
    # the forwarders may be on 127.0.0.1
    do-not-query-localhost: no
    # validation stays on (root key of dns-root-data), but the cluster zone
    # is not signed: no validation below it ...
    module-config: "validator iterator"
    trust-anchor-file: "/usr/share/dns/root.key"
    domain-insecure: "{zone}."
    # ... and no recursion outside the cluster zone, no root priming:
    # every other name is refused, and the root hints point nowhere.
    root-hints: "{dir}/root.hints"
    local-zone: "." refuse
    local-zone: "{zone}." transparent
    # answers live as long as their TTL (mod-tgcluster `ttl`)
    cache-min-ttl: 0
    prefetch: no

remote-control:
    control-enable: no

forward-zone:
    name: "{zone}."
{fwd}""".format(dir=self.dir, addr=self.addr, port=self.port, zone=ZONE,
                fwd=fwd, also="".join("    interface: %s@%d\n" % (a, self.port)
                                      for a in self.also))

    def argv(self):
        self.write("root.hints", ROOT_HINTS)
        conf = self.write("unbound.conf", self.conf_text())
        return [UNBOUND, "-d", "-c", conf]


class Kresd(Resolver):
    kind = "kresd"

    def conf_text(self):
        fwd = ", ".join("'%s@%d'" % f for f in self.forwarders)
        return """\
-- Knot Resolver: forward (stub) only the cluster zone, refuse the rest
net.ipv6 = false
net.listen('{addr}', {port}, {{ kind = 'dns' }})
cache.size = 10 * MB
-- answers live as long as their TTL (mod-tgcluster `ttl`), not 5 s at least
cache.min_ttl(0)
-- the cluster zone is not signed: no validation below it
trust_anchors.set_insecure({{ '{zone}.' }})
-- root hints pointing nowhere, and no root priming
modules.unload('priming')
modules.load('hints > iterate')
hints.root({{ ['a.root-servers.net.'] = '{dead}' }})
policy.add(policy.suffix(policy.STUB({{ {fwd} }}),
                         {{ todname('{zone}.') }}))
policy.add(policy.all(policy.REFUSE))
""".format(addr=self.addr, port=self.port, zone=ZONE, fwd=fwd, dead=DEAD_ROOT)

    def argv(self):
        conf = self.write("kresd.conf", self.conf_text())
        return [KRESD, "-n", "-c", conf, self.dir]


class Named(Resolver):
    kind = "named"

    def conf_text(self):
        fwd = " ".join("%s port %d;" % f for f in self.forwarders)
        return """\
options {{
    directory "{dir}";
    pid-file "{dir}/named.pid";
    session-keyfile "{dir}/session.key";
    managed-keys-directory "{dir}";
    listen-on port {port} {{ {addr}; }};
    listen-on-v6 {{ none; }};
    recursion yes;
    allow-query {{ any; }};
    allow-recursion {{ any; }};
    // validation stays on (built-in root key), but the cluster zone is
    // not signed: no validation below it
    dnssec-validation auto;
    validate-except {{ "{zone}"; }};
    notify no;
}};
controls {{ }};
// root hints pointing nowhere: nothing is resolved outside the cluster zone
zone "." {{ type hint; file "{dir}/root.hints"; }};
zone "{zone}" {{
    type forward;
    forward only;
    forwarders {{ {fwd} }};
}};
""".format(dir=self.dir, addr=self.addr, port=self.port, zone=ZONE, fwd=fwd)

    def argv(self):
        self.write("root.hints", ROOT_HINTS)
        conf = self.write("named.conf", self.conf_text())
        return [NAMED, "-g", "-4", "-n", "1", "-c", conf]


ROOT_HINTS = """\
.                        3600000  NS  a.root-servers.net.
a.root-servers.net.      3600000  A   %s
""" % DEAD_ROOT

RESOLVERS = {"unbound": (Unbound, UNBOUND, "unbound"),
             "kresd": (Kresd, KRESD, "knot-resolver"),
             "named": (Named, NAMED, "bind9")}


# --------------------------------------------------------------------------
# The viewer
# --------------------------------------------------------------------------

class Resolved:
    def __init__(self, msg, elapsed):
        self.msg = msg
        self.elapsed = elapsed
        self.rcode = msg.rcode()
        self.addrs = []
        self.ttls = []
        for rrset in msg.answer:
            if rrset.rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA):
                self.addrs.extend(rd.address for rd in rrset)
                self.ttls.append(rrset.ttl)

    def __repr__(self):
        return "Resolved(%s, %s, %.0f ms)" % (dns.rcode.to_text(self.rcode),
                                              self.addrs, self.elapsed * 1000)


def resolve(server, port=53, name=APEX, rdtype="A", timeout=5.0):
    """A stub resolver's query (RD set) to the internal DNS."""
    q = dns.message.make_query(name, rdtype)
    t0 = time.monotonic()
    msg = dns.query.udp(q, server, port=port, timeout=timeout)
    return Resolved(msg, time.monotonic() - t0)


class Viewed:
    """What the viewer got: the DNS answer, the address it connected to, the
    banner and the node's identity line (dict) if it sent one."""

    def __init__(self, answer, addr=None, banner=None, ident=None, error=None):
        self.answer = answer
        self.addr = addr
        self.banner = banner
        self.ident = ident or {}
        self.error = error

    def __repr__(self):
        return "Viewed(%r -> %s: %r %r%s)" % (
            self.answer, self.addr, self.banner, self.ident,
            " error %r" % self.error if self.error else "")


def read_node(s, identity=True):
    """Reads what a node says on the connected socket \\a s: the RFB banner
    line and, with \\a identity (an rfbid node), answers version 3.8 and reads
    the security types and the identity line. Returns the banner line and
    the identity line (without the types), newline-separated."""
    buf = b""
    while b"\n" not in buf:
        chunk = s.recv(4096)
        if not chunk:
            return buf
        buf += chunk
    if not identity:
        return buf
    s.sendall(b"RFB 003.008\n")
    while buf.count(b"\n") < 2:
        chunk = s.recv(4096)
        if not chunk:
            break
        buf += chunk
    # Drop the security types (count 1, type None) before the line.
    head, _, rest = buf.partition(b"\n")
    return head + b"\n" + rest[2:]


def view(server, port=53, node_port=5900, identity=False, timeout=5.0):
    """Steps 1-7 of docs/deployment.rst from the viewer's side: resolve the cluster
    name through the internal DNS, connect to the first address, read the
    RFB banner (and, from an rfbid node, answer with version 3.8 and read the
    security types and the identity line)."""
    ans = resolve(server, port, timeout=timeout)
    if ans.rcode != dns.rcode.NOERROR or not ans.addrs:
        return Viewed(ans, error="no address")
    addr = ans.addrs[0]
    try:
        with socket.create_connection((addr, node_port), timeout=2.0) as s:
            buf = read_node(s, identity)
    except OSError as exc:
        return Viewed(ans, addr, error=exc)
    lines = buf.decode(errors="replace").split("\n")
    ident = {}
    if identity and len(lines) > 1 and lines[1].startswith("TGC-NODE "):
        ident = dict(kv.split("=", 1) for kv in lines[1].split()[1:])
    return Viewed(ans, addr, lines[0], ident)


# --------------------------------------------------------------------------
# unittest glue
# --------------------------------------------------------------------------

class E2eTestCase(tgc.TgcTestCase):
    """TgcTestCase with namespace, resolver and child helpers whose cleanup
    is registered."""

    def netns(self, role):
        ns = NetNS(role)
        self.addCleanup(ns.delete)
        return ns

    def ns_knotd(self, ns, zones, **kw):
        k = NsKnotd(ns, zones, **kw)
        self.addCleanup(k.cleanup)
        self.addCleanup(self._dump_log_on_failure, k)
        k.start()
        return k

    def resolver(self, kind, ns, addr, port, forwarders, **kw):
        cls, path, package = RESOLVERS[kind]
        require_binary(self, path, kind, package)
        r = cls(ns, addr, port, forwarders, **kw)
        self.addCleanup(r.cleanup)
        try:
            r.start()
        except BaseException:
            sys.stderr.write("\n---- %s log tail ----\n%s\n----\n"
                             % (r.kind, r.log_text()[-3000:]))
            raise
        self.addCleanup(self._dump_child_log_on_failure, r)
        return r

    def _dump_child_log_on_failure(self, r):
        outcome = getattr(self, "_outcome", None)
        result = getattr(outcome, "result", None)
        failed = outcome is not None and not getattr(outcome, "success", True)
        if result is not None:
            failed = failed or any(
                t is self or getattr(t, "test_case", None) is self
                for t, _ in result.failures + result.errors)
        if failed or os.environ.get("TGC_SHOW_LOG"):
            sys.stderr.write("\n---- %s log tail ----\n%s\n----\n"
                             % (r.kind, r.log_text()[-3000:]))


def main():
    """unittest main; exits 77 (meson: SKIP) when every test was skipped, so
    that a skipped end-to-end run never shows as a pass."""
    tgc.require_module()
    signal.signal(signal.SIGTERM, tgc._on_sigterm)
    prog = unittest.main(verbosity=2, exit=False)
    res = prog.result
    if not res.wasSuccessful():
        sys.exit(1)
    if res.testsRun > 0 and len(res.skipped) == res.testsRun:
        sys.stderr.write("all tests skipped: %s\n" % res.skipped[0][1])
        sys.exit(77)
    sys.exit(0)


@atexit.register
def _cleanup_all():
    # tgc's own atexit handler (registered earlier, so run later) stops the
    # children; stop them here first, as namespaces are deleted after.
    for pid, proc in list(tgc._children.items()):
        if proc.poll() is None:
            proc.kill()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                pass
        tgc._children.pop(pid, None)
    for name in list(_netns):
        sh(IP, "netns", "del", name, check=False)
        _netns.remove(name)
    if not tgc.KEEP:
        for d in list(_tmpdirs):
            shutil.rmtree(d, ignore_errors=True)


# --------------------------------------------------------------------------
# Command line: the NAT topology for scripts/demo-nat.sh
# --------------------------------------------------------------------------

def topology_cli(argv=None):
    """e2e.py topology up|down PREFIX.

    up builds NatTopology with the namespaces PREFIX-client, PREFIX-nat and
    PREFIX-cluster, leaves them in place and prints its addresses as shell
    assignments (NS_CLIENT, NS_NAT, NS_CLUSTER, VIEWER, INTERNAL_DNS,
    NAT_LAN, NAT_CLUSTER, NODE_PORT, IDS, NODE, LAN, LB); down deletes
    those namespaces (and with them the veths and the nftables ruleset).
    """
    import argparse
    import shlex
    ap = argparse.ArgumentParser(prog="e2e.py", description=topology_cli.__doc__
                                 .split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    top = sub.add_parser("topology")
    top.add_argument("action", choices=("up", "down"))
    top.add_argument("prefix", help="namespace name prefix (unique to the caller)")
    args = ap.parse_args(argv)
    roles = ("client", "nat", "cluster")
    if args.action == "down":
        for role in roles:
            name = "%s-%s" % (args.prefix, role)
            if os.path.exists("/run/netns/" + name):
                sh(IP, "netns", "del", name, check=False)
        return 0
    topo = NatTopology(prefix=args.prefix)
    try:
        topo.up()
    except BaseException:
        topo.down()
        raise
    # The caller owns the namespaces from here on (topology down).
    for ns in (topo.client, topo.nat, topo.cluster):
        _netns.remove(ns.name)
    q = shlex.quote
    out = {"NS_CLIENT": topo.client.name, "NS_NAT": topo.nat.name,
           "NS_CLUSTER": topo.cluster.name, "VIEWER": VIEWER,
           "INTERNAL_DNS": INTERNAL_DNS, "NAT_LAN": NAT_LAN,
           "NAT_CLUSTER": NAT_CLUSTER, "NODE_PORT": str(NODE_PORT)}
    for k, v in out.items():
        print("%s=%s" % (k, q(v)))
    for k, col in (("IDS", 0), ("NODE", 1), ("LAN", 2)):
        print("%s=(%s)" % (k, " ".join(q(row[col]) for row in CLUSTER)))
    print("LB=(%s)" % " ".join(q("yes" if row[3] else "no") for row in CLUSTER))
    return 0


if __name__ == "__main__":
    sys.exit(topology_cli())
