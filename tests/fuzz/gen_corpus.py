#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Writes the seed corpora of the libFuzzer harnesses into tests/fuzz/corpus/.

    tests/fuzz/gen_corpus.py            (rewrites corpus/<harness>/seed-*)

The output is committed; rerun after changing a harness's input format.
Files named regress-* are crash inputs the fuzzers found, kept as
regression seeds (never rewritten by this script).
Deterministic: the same files every run. Needs python3-dnspython and a
build of the project: the segment layout is read from the build directory
(build/tests/tgc_layout.py, generated from module/table.h; or $TGC_LAYOUT).
"""

import os
import shutil
import struct
import sys

import dns.edns
import dns.flags
import dns.inet
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import dns.tsigkeyring

HERE = os.path.dirname(os.path.abspath(__file__))
# The segment layout comes from the build (tgc.LAYOUT, generated from
# module/table.h): build the project first, or set TGC_LAYOUT.
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "integration"))
import tgc  # noqa: E402
OUT = os.path.join(HERE, "corpus")
NAME = "internet.intern.netz."
FWD_ID = 0x4242


def write(harness, files):
    d = os.path.join(OUT, harness)
    if os.path.isdir(d):
        for f in os.listdir(d):
            if f.startswith("seed-"):
                os.unlink(os.path.join(d, f))
    os.makedirs(d, exist_ok=True)
    for i, (label, data) in enumerate(files):
        with open(os.path.join(d, "seed-%02d-%s" % (i, label)), "wb") as f:
            f.write(data)


def query(name=NAME, rdtype="A", edns=0, payload=1232, options=(), do=False,
          qid=0x1234, pad=None):
    q = dns.message.make_query(name, rdtype, use_edns=edns, payload=payload,
                               options=list(options), want_dnssec=do)
    q.id = qid
    q.flags &= ~dns.flags.RD
    if pad is not None:
        q.use_edns(0, 0, payload, options=list(options), pad=pad)
    return q.to_wire()


def answer_seeds():
    # 10 control bytes (see fuzz_answer.c), then the query.
    all_up = bytes([0] * 8)           # health unknown, admin auto
    mixed = bytes([0x01, 0x02, 0x06, 0x08, 0x0c, 0x11, 0x02, 0x00])
    all_down = bytes([0x02] * 8)      # health down
    drained = bytes([0x05, 0x05, 0x06, 0x05, 0x06, 0x05, 0x05, 0x05])
    ecs4 = dns.edns.ECSOption("192.0.2.0", 24)
    ecs6 = dns.edns.ECSOption("2001:db8::", 56)
    seeds = []
    for ctl0, ctl1, states, label in [
            (0x00, 0, all_up, "rr-small"),
            (0x13, 0, mixed, "sticky-answers1"),
            (0x21, 1, mixed, "random-dup"),
            (0x42, 2, all_up, "ordered-large-mapped"),
            (0x04, 0, all_down, "alldown-servfail"),
            (0x08, 1, all_down, "alldown-nodata"),
            (0x83, 2, drained, "sticky-tcp-drain")]:
        for rdtype in ("A", "AAAA"):
            seeds.append(("%s-%s" % (label, rdtype.lower()),
                          bytes([ctl0, ctl1]) + states + query(rdtype=rdtype)))
    pre = bytes([0x03, 0x80]) + mixed
    seeds += [
        ("ecs4", pre + query(options=[ecs4])),
        ("ecs6", pre + query(rdtype="AAAA", options=[ecs6])),
        ("ecs0", pre + query(options=[dns.edns.ECSOption("0.0.0.0", 0)])),
        ("do-bit", pre + query(do=True)),
        ("padded", pre + query(pad=128)),
        ("noedns", pre + query(edns=-1)),
        ("any", pre + query(rdtype="ANY")),
        ("txt", pre + query(rdtype="TXT")),
        ("upper", pre + query(name=NAME.upper())),
        ("payload512", bytes([0x30, 2]) + states + query(payload=512)),
    ]
    return seeds


def conf_seeds():
    values = [
        "10.10.10.100", "10.10.10.100@5900", "fd00::1@65535", "::ffff:1.2.3.4",
        "10.10.10.0/24=192.168.1.0/24", "fd00::/64=fd01::/64",
        "10.0.0.1=192.168.0.1", "192.168.0.0/16", "::/0", "0.0.0.0/0",
        "tgcluster.internet.intern.netz.lb", "/my-segment_1",
        "255.255.255.250", "10.10.10.100\n10.10.10.101@5901\nfd00::2",
        "10.10.10.0/24=192.168.1.0/24\n10.10.0.0/16=192.168.0.0/16",
        "2", "10.0.0.1@5901", "192.168.1.3", "caf\u00e9 \u009b[2J".encode("utf-8").decode("latin-1"),
        "10.10.10.100=4", "fd00::1@5901=10000",
    ]
    return [("v%02d" % i, v.encode("latin-1")) for i, v in enumerate(values)]


LOADOPT_CODE = 65350  # module/loadopt.h


def load_entry(addr, sessions, capacity_x100, flags=1, family=None):
    """One entry of the load report (module/loadopt.h): family, flags,
    sessions, capacity x 100, address."""
    raw = dns.inet.inet_pton(dns.inet.af_for_address(addr), addr)
    if family is None:
        family = 1 if len(raw) == 4 else 2
    return struct.pack("!BBII", family, flags, sessions, capacity_x100) + raw


def load_report(*entries, version=1):
    """Option data of a load report: the version, then the entries."""
    return bytes([version]) + b"".join(entries)


def reply(rdtype="A", addrs=(), rcode=dns.rcode.NOERROR, soa=False, qid=FWD_ID,
          name=NAME, extra_owner=None, tc=False, keyring=None,
          soa_owner="intern.netz.", additional=(), ecs=None, load=None):
    q = dns.message.make_query(NAME, rdtype)
    q.id = qid
    if keyring is not None:
        q.use_tsig(keyring, keyname="tgc-key.", algorithm="hmac-sha256")
    r = dns.message.make_response(q)
    r.set_rcode(rcode)
    r.flags |= dns.flags.AA
    if tc:
        r.flags |= dns.flags.TC
    if addrs:
        r.answer.append(dns.rrset.from_text_list(name, 5, "IN", rdtype, list(addrs)))
    if extra_owner:
        r.answer.append(dns.rrset.from_text(extra_owner, 5, "IN", rdtype,
                                            "10.10.10.9" if rdtype == "A" else "fd00::9"))
    if soa:
        r.authority.append(dns.rrset.from_text(
            soa_owner, 3600, "IN", "SOA",
            "ns.intern.netz. hostmaster.intern.netz. 1 3600 900 604800 60"))
    for owner, rtype, rdata in additional:
        r.additional.append(dns.rrset.from_text(owner, 5, "IN", rtype, rdata))
    options = []
    if ecs is not None:
        options.append(dns.edns.ECSOption(*ecs))
    if load is not None:
        options.append(dns.edns.GenericOption(LOADOPT_CODE, load))
    if options:
        r.use_edns(0, payload=1232, options=options)
    return r.to_wire()


def forward_seeds():
    # 1 control byte (bit 0 AAAA, bit 1 TSIG key, bit 2 confined to the zone
    # intern.netz., bit 3 over TCP, bit 4 the query carried the client
    # subnet 192.0.2.0/24), then the reply.
    ring = dns.tsigkeyring.from_text({"tgc-key.": ("hmac-sha256",
                                      "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0")})
    many = ["10.10.10.%d" % i for i in range(1, 41)]
    return [
        ("a", b"\x00" + reply("A", ["10.10.10.100", "10.10.10.101"])),
        ("aaaa", b"\x01" + reply("AAAA", ["fd00::1", "fd00::2"])),
        ("a-many", b"\x00" + reply("A", many)),
        ("nxdomain", b"\x00" + reply("A", rcode=dns.rcode.NXDOMAIN, soa=True)),
        ("nodata", b"\x01" + reply("AAAA", soa=True)),
        ("servfail", b"\x00" + reply("A", rcode=dns.rcode.SERVFAIL)),
        ("other-owner", b"\x00" + reply("A", ["10.10.10.1"], extra_owner="x.intern.netz.")),
        ("bad-id", b"\x00" + reply("A", ["10.10.10.1"], qid=0x4243)),
        ("tc", b"\x00" + reply("A", tc=True)),
        ("tsig", b"\x02" + reply("A", ["10.10.10.1"], keyring=ring)),
        ("tsig-missing", b"\x02" + reply("A", ["10.10.10.1"])),
        # Confined to the zone (what a translator does).
        ("scope-a", b"\x04" + reply("A", ["10.10.10.1"], additional=[
            ("victim.example.", "A", "192.0.2.66"),
            ("ns.intern.netz.", "A", "10.10.10.53")])),
        ("scope-nxdomain-com-soa", b"\x04" + reply(
            "A", rcode=dns.rcode.NXDOMAIN, soa=True, soa_owner="com.")),
        ("scope-nodata-com-soa", b"\x05" + reply("AAAA", soa=True,
                                                 soa_owner="com.")),
        ("scope-nodata-foreign-answer", b"\x05" + reply(
            "AAAA", soa=True, soa_owner="com.",
            extra_owner="victim.example.")),
        ("scope-nodata-cut-soa", b"\x05" + reply(
            "AAAA", soa=True, soa_owner="internet.intern.netz.")),
        ("scope-positive-com-soa", b"\x04" + reply(
            "A", ["10.10.10.1"], soa=True, soa_owner="com.")),
        ("tcp-tc", b"\x0c" + reply("A", tc=True)),
        ("tcp-tc-answer", b"\x08" + reply("A", ["10.10.10.1"], tc=True)),
        # Client subnet: the echo of the one sent, a scoped answer to a
        # poll (none sent), the echo of another subnet.
        ("ecs-echo", b"\x10" + reply("A", ["10.10.10.1"],
                                     ecs=("192.0.2.0", 24, 16))),
        ("ecs-scoped-poll", b"\x00" + reply("A", ["10.10.10.1"],
                                            ecs=("192.0.2.0", 24, 24))),
        ("ecs-other-subnet", b"\x10" + reply("A", ["10.10.10.1"],
                                             ecs=("198.51.100.0", 24, 24))),
        # A load balancer's answer to a translator's poll: the load report
        # for two of three addresses, for AAAA, cut inside an entry, with
        # no entry.
        ("load-report", b"\x00" + reply(
            "A", ["10.10.10.1", "10.10.10.2", "10.10.10.3"],
            load=load_report(load_entry("10.10.10.3", 30, 200),
                             load_entry("10.10.10.1", 10, 100, flags=0)))),
        ("load-report-aaaa", b"\x01" + reply(
            "AAAA", ["fd00::1", "fd00::2"],
            load=load_report(load_entry("fd00::1", 1, 100),
                             load_entry("fd00::2", 4294967295, 0)))),
        ("load-report-cut", b"\x00" + reply(
            "A", ["10.10.10.1"],
            load=load_report(load_entry("10.10.10.1", 5, 100))[:-2])),
        ("load-report-empty", b"\x00" + reply("A", ["10.10.10.1"],
                                              load=load_report())),
    ]


L = tgc.LAYOUT
put, put_bytes = tgc.seg_put, tgc.seg_put_bytes


def put_all(b, area, base, **fields):
    """Integer fields of one structure of a segment image."""
    for name, value in fields.items():
        put(b, area, name, value, base)


def segment(role=1, nodes=(), cache=None, sched=None):
    """A valid segment image (layout of module/table.h). \\a sched: per node
    (probe_start_ms, next_due_ms) of the record, zero when not given."""
    count = len(nodes)
    cache_off = L.HDR_SIZE + count * L.REC_SIZE
    translator = role == L.ROLE_TRANSLATOR
    size = cache_off + (L.CACHE_RECS * L.CACHE_REC_SIZE if translator else 0)
    b = bytearray(size)
    put_all(b, "HDR", 0, magic=L.MAGIC, version=L.VERSION, size=size,
            hdr_size=L.HDR_SIZE, rec_size=L.REC_SIZE, node_count=count,
            role=role, created_ms=1700000000000, check=0, interval_ms=1000,
            timeout_ms=500, rise=2, fall=2, writer=1, writer_pid=4242,
            generation=7, heartbeat_ms=1700000000000)
    put_bytes(b, "HDR", "zone", b"internet.intern.netz")
    put_bytes(b, "HDR", "instance", b"lb")
    put_bytes(b, "HDR", "name", b"internet.intern.netz.")
    if translator:
        put_all(b, "HDR", 0, cache_off=cache_off, cache_count=L.CACHE_RECS,
                cache_rec_size=L.CACHE_REC_SIZE, stale_limit_s=60)
    for i, (fam, addr, port, health, admin, seq) in enumerate(nodes):
        o = tgc.rec_base(i)
        put_all(b, "REC", o, seq=seq, port=port, family=fam, mapped_family=0,
                health=health, admin=admin, consec_ok=2, consec_fail=0,
                last_rtt_us=350, last_check_ms=1700000000000,
                since_ms=1700000000000, probes=10, transitions=1, answers=5)
        put_bytes(b, "REC", "addr", addr, o)
        if sched:
            put_all(b, "REC", o, probe_start_ms=sched[i][0],
                    next_due_ms=sched[i][1])
    if translator and cache:
        for i, (count_a, addrs, soa) in enumerate(cache):
            o = cache_off + i * L.CACHE_REC_SIZE
            put_all(b, "CACHE", o, seq=0, valid=1, rcode=0, count=count_a,
                    ok=1, ttl=5)
            slot = L.CACHE["addrs"][1] // L.CACHE_ADDRS_MAX
            for k, a in enumerate(addrs):
                put_bytes(b, "CACHE", "addrs", a, o + slot * k)
            if soa:
                owner, rdata = soa
                put_bytes(b, "CACHE", "soa", owner + rdata, o)
                put_all(b, "CACHE", o, soa_owner_len=len(owner),
                        soa_rdata_len=len(rdata))
    return bytes(b)


def admin_sources(seg):
    """The admin fields by source filled in (module/table.h
    tgc_node_rec_t)."""
    b = bytearray(seg)
    put_all(b, "HDR", 0, min_live=2, admin_guarded=1, zone_serial=2026120401,
            zone_malformed=1)
    for i, (local, zone, src, flags) in enumerate([(1, 3, 1, 0), (0, 1, 0, 1),
                                                   (0, 1, 2, 0)]):
        o = tgc.rec_base(i)
        put_all(b, "REC", o, admin_local=local, admin_zone=zone, admin_src=src,
                admin_flags=flags, zone_serial=2026120401,
                admin_since_ms=1700000000000, admin_uid=1000)
        put_bytes(b, "REC", "zone_reason",
                  b"kernel update " * 6 + b"x" * 12, o)
    return bytes(b)


def bad_version(seg):
    """\\a seg with layout version 2."""
    b = bytearray(seg)
    put(b, "HDR", "version", 2)
    return bytes(b)


def table_seeds():
    v4 = lambda s: bytes(int(x) for x in s.split("."))  # noqa: E731
    lb = [(2, v4("10.10.10.100"), 5900, 1, 0, 0),
          (2, v4("10.10.10.101"), 5900, 2, 1, 4),
          (10, bytes(15) + b"\x01", 5900, 0, 3, 2)]
    same = [(2, v4("10.10.10.100"), 5900, 1, 0, 0),
            (2, v4("10.10.10.101"), 5900, 2, 3, 0),
            (10, bytes.fromhex("fd00" + "00" * 13 + "01"), 5900, 0, 0, 0)]
    owner = b"\x06intern\x04netz\x00"
    rdata = (b"\x02ns\x06intern\x04netz\x00\x0ahostmaster\x06intern\x04netz\x00"
             + struct.pack("!IIIII", 1, 3600, 900, 604800, 60))
    tr = segment(2, [(2, v4("127.0.0.1"), 53, 1, 0, 0)],
                 cache=[(2, [v4("10.10.10.1"), v4("10.10.10.2")], None),
                        (0, [], (owner, rdata))])
    return [
        ("lb3", segment(1, lb)),
        ("lb-same-spec", segment(1, same)),
        ("lb-empty", segment(1, [])),
        ("translator", tr),
        ("bad-version", bad_version(segment(1, lb))),
        # Cut inside the second record.
        ("short", segment(1, lb)[:L.HDR_SIZE + L.REC_SIZE + 20]),
        # A probe in flight, a due time ahead, one long overdue.
        ("lb-schedule", segment(1, lb, sched=[(1700000000000 - 200, 1700000000000),
                                              (0, 1700000000000 + 1000),
                                              (0, 1600000000000)])),
        # Admin by source: local drain over zone down, zone drain held
        # back by min-live, a zone reason without its zero.
        ("lb-admin-sources", admin_sources(segment(1, lb))),
    ]


def txt(*strings):
    """TXT rdata: length-prefixed character strings."""
    out = b""
    for x in strings:
        x = x.encode() if isinstance(x, str) else x
        out += bytes([len(x)]) + x
    return out


def admin_seeds():
    """TXT rdata of zone admin records (module/admin.h), good and hostile."""
    tag = "tgcluster-admin"
    return [
        ("drain", txt(tag, "10.10.10.102", "drain", "reason=kernel update")),
        ("down-port", txt(tag, "10.10.10.100@5901", "down")),
        ("up-v6-name", txt(tag, "fd00::1", "up", "name=internet.intern.netz.")),
        ("other-txt", txt("v=spf1 -all")),
        ("empty", b""),
        ("tag-only", txt(tag)),
        ("bad-state", txt(tag, "10.10.10.102", "auto")),
        ("bad-node", txt(tag, "node1", "drain")),
        ("bad-port", txt(tag, "10.10.10.1@99999", "drain")),
        ("unknown-key", txt(tag, "10.10.10.1", "drain", "weight=3")),
        ("twice-reason", txt(tag, "10.10.10.1", "drain", "reason=a", "reason=b")),
        ("nul-node", txt(tag, b"10.10.10.1\x00", "drain")),
        ("binary-reason", txt(tag, "10.10.10.1", "drain",
                              b"reason=\x00\xff\x1b[31m" + b"A" * 200)),
        ("truncated", txt(tag, "10.10.10.1")[:-3] + b"\xff"),
    ]


def probe_rfb_seeds():
    """First byte: piece size (0 = whole); then what the server sends."""
    v38, v37, v33 = b"RFB 003.008\n", b"RFB 003.007\n", b"RFB 003.003\n"
    why = b"Too many security failures"
    return [
        ("xvnc-vncauth", b"\x00" + v38 + b"\x01\x02"),
        ("xvnc-blacklist", b"\x00" + v33 + struct.pack("!II", 0, len(why)) + why),
        ("v38-refused", b"\x03" + v38 + b"\x00" + struct.pack("!I", 4) + b"busy"),
        ("v37-types", b"\x01" + v37 + b"\x03\x00\x01\x10"),
        ("v33-none", b"\x05" + v33 + struct.pack("!I", 1)),
        ("apple", b"\x00RFB 003.889\n\x02\x1e\x02"),
        ("realvnc4", b"\x02RFB 004.001\n\x01\x02"),
        ("half-open", b"\x00" + v38),
        ("invalid-types", b"\x00" + v38 + b"\x02\x00\x00"),
        ("huge-reason", b"\x07" + v38 + b"\x00\xff\xff\xff\xff" + b"x" * 200),
        ("escape-reason", b"\x00" + v33 + struct.pack("!II", 0, 8)
         + b"a\n\x1b[m\xc3\xa9\x7f"),
        ("ssh", b"\x00SSH-2.0-OpenSSH_9.2\r\n"),
    ]


def agent_seeds():
    """First byte: piece size (0 = whole); then what the agent sends."""
    return [
        ("ready", b"\x00ready 75% maxconn:40 sessions:12\n"),
        ("haproxy", b"\x01UP, 100%\r\n"),
        ("drain", b"\x00drain\tsessions:3\n"),
        ("maint", b"\x02maint,down\n"),
        ("no-newline", b"\x00sessions:7"),
        ("unknown", b"\x00stopped fail weird:1 sessions:-1 99999999999%\n"),
        ("huge", b"\x00sessions:184467440737095516160 maxconn:4294967296\n"),
        ("nul", b"\x03up\x00down\n"),
        ("long", b"\x10" + b"sessions:1 " * 30 + b"\n"),
        ("two-lines", b"\x00down\nup\n"),
    ]


def loadopt_seeds():
    """Option data of load reports (module/loadopt.h), good and hostile."""
    v4 = ["10.10.10.%d" % i for i in range(1, 41)]
    return [
        ("version-only", load_report()),
        ("v4-two", load_report(load_entry("10.10.10.100", 12, 4000),
                               load_entry("10.10.10.101", 0, 0, flags=0))),
        ("v6-one", load_report(load_entry("fd00::1", 3, 250))),
        ("mixed", load_report(load_entry("10.10.10.1", 1, 100),
                              load_entry("2001:db8::1", 2, 200),
                              load_entry("10.10.10.2", 3, 300))),
        ("max-figures", load_report(load_entry("10.10.10.1", 4294967295,
                                               4294967295, flags=0xff))),
        ("forty", load_report(*[load_entry(a, i, 100 * i)
                                for i, a in enumerate(v4)])),
        ("version-2", load_report(load_entry("10.10.10.1", 1, 100), version=2)),
        ("empty", b""),
        ("cut-header", load_report(load_entry("10.10.10.1", 1, 100))[:8]),
        ("cut-address", load_report(load_entry("fd00::1", 1, 100))[:-3]),
        ("family-3", load_report(load_entry("10.10.10.1", 1, 100),
                                 load_entry("fd00::1", 1, 100, family=3))),
    ]


def main():
    write("answer", answer_seeds())
    write("conf", conf_seeds())
    write("forward", forward_seeds())
    write("table", table_seeds())
    write("probe_rfb", probe_rfb_seeds())
    write("admin", admin_seeds())
    write("agent", agent_seeds())
    write("loadopt", loadopt_seeds())
    for h in sorted(os.listdir(OUT)):
        d = os.path.join(OUT, h)
        print("%s: %d files, %d bytes" % (h, len(os.listdir(d)),
              sum(os.path.getsize(os.path.join(d, f)) for f in os.listdir(d))))


if __name__ == "__main__":
    main()
