# SPDX-License-Identifier: BSD-3-Clause
"""onvm/flow.h through cffi, without EAL: onvm_flow_key_parse and onvm_flow_key_hash.

Packets are built with scapy and put in fake mbufs whose buffer is exactly as
long as the packet, so the parser has nothing to read past the end. A guard
page (in a child process, so a fault fails one test instead of pytest) checks
that it really never does.
"""

from __future__ import annotations

import collections
import random
import socket
import struct
import subprocess
import sys
import textwrap

import pytest
from scapy.layers.inet import ICMP, IP, TCP, UDP, IPOption_NOP, IPOption_RR
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import ARP, Dot1AD, Dot1Q, Ether
from scapy.layers.sctp import SCTP

from onvm.pydpdk.nf import ffi, lib
from tests.support.cdata import aligned

KEY_SIZE = 40
ETH_VLAN, ETH_QINQ, ETH_IPV4, ETH_IPV6, ETH_ARP = 0x8100, 0x88A8, 0x0800, 0x86DD, 0x0806
SEED = 0x9E3779B9  # ONVM_FLOW_HASH_SEED
# Explicit MACs: scapy would otherwise resolve them through the host's routes.
MACS = {"src": "02:00:00:00:00:01", "dst": "02:00:00:00:00:02"}


def parse(pkt: bytes, dirty: bool = False):
    """Parse `pkt` from a buffer of exactly len(pkt) bytes; returns the key."""
    buf = ffi.new("uint8_t[]", len(pkt))
    ffi.memmove(buf, pkt, len(pkt))
    m = aligned(ffi, "struct rte_mbuf")
    m.buf_addr = buf
    m.buf_len = len(pkt)
    m.data_off = 0
    m.data_len = len(pkt)
    m.pkt_len = len(pkt)
    m.nb_segs = 1
    key = ffi.new("struct onvm_flow_key *")
    if dirty:
        ffi.memmove(key, b"\xaa" * KEY_SIZE, KEY_SIZE)
    lib.onvm_flow_key_parse(m, key)
    return key


def key_bytes(key) -> bytes:
    return bytes(ffi.buffer(key))


def mapped(addr: str) -> bytes:
    """IPv4-mapped IPv6 form ::ffff:a.b.c.d."""
    return bytes(10) + b"\xff\xff" + socket.inet_aton(addr)


def model_key(pkt: bytes) -> bytes:
    """The key flow.h documents, from first principles: every field that is
    fully inside the packet, zero for the rest; VLAN/QinQ tags skipped; ports
    of TCP/UDP/SCTP only, and only in a first IPv4 fragment; for non-IP the
    ethertype in src_port (network order)."""
    n = len(pkt)
    src = dst = bytes(16)
    sport = dport = b"\0\0"
    proto = version = 0
    if n < 14:
        return bytes(KEY_SIZE)
    off = 14
    ethertype = pkt[12:14]
    while int.from_bytes(ethertype, "big") in (ETH_VLAN, ETH_QINQ) and n >= off + 4:
        ethertype = pkt[off + 2 : off + 4]
        off += 4
    l4 = None
    etype = int.from_bytes(ethertype, "big")
    if etype == ETH_IPV4:
        if n < off + 20:
            return bytes(KEY_SIZE)
        ihl = (pkt[off] & 0xF) * 4
        version, proto = 4, pkt[off + 9]
        src = bytes(10) + b"\xff\xff" + pkt[off + 12 : off + 16]
        dst = bytes(10) + b"\xff\xff" + pkt[off + 16 : off + 20]
        frag_offset = int.from_bytes(pkt[off + 6 : off + 8], "big") & 0x1FFF
        if ihl >= 20 and frag_offset == 0:
            l4 = off + ihl
    elif etype == ETH_IPV6:
        if n < off + 40:
            return bytes(KEY_SIZE)
        version, proto = 6, pkt[off + 6]
        src, dst = pkt[off + 8 : off + 24], pkt[off + 24 : off + 40]
        l4 = off + 40
    else:
        sport = ethertype
    if l4 is not None and proto in (6, 17, 132) and n >= l4 + 4:
        sport, dport = pkt[l4 : l4 + 2], pkt[l4 + 2 : l4 + 4]
    return src + dst + sport + dport + bytes([proto, version]) + b"\0\0"


def crc32c(data: bytes, crc: int) -> int:
    """CRC32C (Castagnoli) update without pre/post inversion, as rte_hash_crc."""
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc


# ---- the key layout Python sees is the one C writes ----


def test_flow_key_layout():
    assert ffi.sizeof("struct onvm_flow_key") == KEY_SIZE
    offsets = {
        f: ffi.offsetof("struct onvm_flow_key", f)
        for f in ("src", "dst", "src_port", "dst_port", "proto", "ip_version", "reserved")
    }
    assert offsets == {
        "src": 0,
        "dst": 16,
        "src_port": 32,
        "dst_port": 34,
        "proto": 36,
        "ip_version": 37,
        "reserved": 38,
    }


# ---- well-formed packets ----


@pytest.mark.parametrize("l4", [TCP, UDP, SCTP])
def test_ipv4_five_tuple(l4):
    pkt = (
        Ether(**MACS)
        / IP(src="10.1.2.3", dst="192.168.7.9")
        / l4(sport=1234, dport=80)
        / (b"x" * 20)
    )
    key = parse(bytes(pkt))
    assert key.ip_version == 4
    assert key.proto == pkt[IP].proto
    assert bytes(key.src) == mapped("10.1.2.3")
    assert bytes(key.dst) == mapped("192.168.7.9")
    assert key.src[10] == key.src[11] == 0xFF
    assert key.src_port == socket.htons(1234)
    assert key.dst_port == socket.htons(80)
    assert key.reserved == 0


def test_ipv6_udp_five_tuple():
    pkt = Ether(**MACS) / IPv6(src="2001:db8::1", dst="fe80::abcd:1") / UDP(sport=5353, dport=53)
    key = parse(bytes(pkt))
    assert key.ip_version == 6
    assert key.proto == socket.IPPROTO_UDP
    assert bytes(key.src) == socket.inet_pton(socket.AF_INET6, "2001:db8::1")
    assert bytes(key.dst) == socket.inet_pton(socket.AF_INET6, "fe80::abcd:1")
    assert key.src_port == socket.htons(5353)
    assert key.dst_port == socket.htons(53)


def test_ipv6_tcp_five_tuple():
    pkt = Ether(**MACS) / IPv6(src="::1", dst="::2") / TCP(sport=40000, dport=443)
    key = parse(bytes(pkt))
    assert (key.ip_version, key.proto) == (6, socket.IPPROTO_TCP)
    assert (key.src_port, key.dst_port) == (socket.htons(40000), socket.htons(443))


def test_vlan_tagged_ipv4():
    pkt = Ether(**MACS) / Dot1Q(vlan=42) / IP(src="1.2.3.4", dst="5.6.7.8") / UDP(sport=7, dport=9)
    key = parse(bytes(pkt))
    assert key.ip_version == 4
    assert bytes(key.src) == mapped("1.2.3.4")
    assert bytes(key.dst) == mapped("5.6.7.8")
    assert (key.src_port, key.dst_port) == (socket.htons(7), socket.htons(9))


def test_qinq_tagged_ipv4():
    pkt = (
        Ether(**MACS)
        / Dot1AD(vlan=100)
        / Dot1Q(vlan=5)
        / IP(src="1.2.3.4", dst="5.6.7.8")
        / TCP(sport=1111, dport=2222)
    )
    raw = bytes(pkt)
    assert raw[12:14] == b"\x88\xa8"
    key = parse(raw)
    assert (key.ip_version, key.proto) == (4, socket.IPPROTO_TCP)
    assert bytes(key.dst) == mapped("5.6.7.8")
    assert (key.src_port, key.dst_port) == (socket.htons(1111), socket.htons(2222))


def test_tagged_and_untagged_packets_of_a_flow_have_the_same_key():
    flow = IP(src="9.9.9.9", dst="8.8.8.8") / UDP(sport=1, dport=2)
    plain = key_bytes(parse(bytes(Ether(**MACS) / flow)))
    assert key_bytes(parse(bytes(Ether(**MACS) / Dot1Q(vlan=3) / flow))) == plain
    assert key_bytes(parse(bytes(Ether(**MACS) / Dot1AD(vlan=4) / Dot1Q(vlan=3) / flow))) == plain


def test_arp_is_non_ip_with_ethertype_in_src_port():
    key = parse(bytes(Ether(**MACS) / ARP(psrc="10.0.0.1", pdst="10.0.0.2")))
    assert key.ip_version == 0
    assert key.src_port == socket.htons(ETH_ARP)
    assert key.dst_port == 0
    assert key.proto == 0
    assert bytes(key.src) == bytes(16)
    assert bytes(key.dst) == bytes(16)


def test_icmp_has_addresses_but_no_ports():
    key = parse(bytes(Ether(**MACS) / IP(src="10.0.0.1", dst="10.0.0.2") / ICMP(id=0x1234, seq=7)))
    assert (key.ip_version, key.proto) == (4, socket.IPPROTO_ICMP)
    assert bytes(key.src) == mapped("10.0.0.1")
    assert (key.src_port, key.dst_port) == (0, 0)


def test_ipv4_non_first_fragment_has_no_ports():
    pkt = Ether(**MACS) / IP(src="1.1.1.1", dst="2.2.2.2", frag=185) / UDP(sport=1234, dport=80)
    key = parse(bytes(pkt))
    assert (key.ip_version, key.proto) == (4, socket.IPPROTO_UDP)
    assert bytes(key.src) == mapped("1.1.1.1")
    assert (key.src_port, key.dst_port) == (0, 0)


def test_ipv4_first_fragment_has_ports():
    pkt = Ether(**MACS) / IP(flags="MF", frag=0) / UDP(sport=1234, dport=80) / (b"y" * 64)
    key = parse(bytes(pkt))
    assert (key.src_port, key.dst_port) == (socket.htons(1234), socket.htons(80))


@pytest.mark.parametrize(
    "options",
    [[IPOption_NOP()] * 4, [IPOption_RR()], [IPOption_NOP()] * 40],
    ids=["nop4", "record_route", "nop40"],
)
def test_ipv4_options_do_not_shift_the_ports(options):
    pkt = Ether(**MACS) / IP(src="3.3.3.3", options=options) / TCP(sport=4321, dport=22)
    raw = bytes(pkt)
    assert raw[14] & 0xF > 5
    key = parse(raw)
    assert (key.src_port, key.dst_port) == (socket.htons(4321), socket.htons(22))
    assert bytes(key.src) == mapped("3.3.3.3")


def test_ipv4_bad_ihl_has_no_ports():
    raw = bytearray(bytes(Ether(**MACS) / IP() / UDP(sport=1, dport=2)))
    raw[14] = 0x44  # version 4, ihl 4: shorter than the fixed header
    key = parse(bytes(raw))
    assert key.ip_version == 4
    assert (key.src_port, key.dst_port) == (0, 0)


def test_parse_zeroes_the_key_first():
    key = parse(bytes(Ether(**MACS) / IP() / ICMP()), dirty=True)
    assert key.reserved == 0
    assert (key.src_port, key.dst_port) == (0, 0)
    assert bytes(key.src[0:10]) == bytes(10)
    assert key_bytes(parse(b"\x01" * 10, dirty=True)) == bytes(KEY_SIZE)


@pytest.mark.parametrize(
    "pkt",
    [
        Ether(**MACS) / IP(src="10.1.2.3", dst="10.3.2.1") / TCP(sport=1000, dport=2000),
        Ether(**MACS) / IP(src="10.1.2.3", options=[IPOption_RR()]) / UDP(sport=1, dport=2),
        Ether(**MACS) / IP(frag=3) / UDP(),
        Ether(**MACS) / IP() / ICMP(),
        Ether(**MACS) / IPv6(src="2001:db8::5", dst="2001:db8::6") / UDP(sport=9, dport=10),
        Ether(**MACS) / IPv6() / SCTP(sport=5, dport=6),
        Ether(**MACS) / Dot1Q(vlan=1) / IP() / UDP(sport=11, dport=12),
        Ether(**MACS) / Dot1AD(vlan=1) / Dot1Q(vlan=2) / IPv6() / TCP(sport=13, dport=14),
        Ether(**MACS) / ARP(),
    ],
    ids=["tcp4", "udp4_opts", "frag4", "icmp4", "udp6", "sctp6", "vlan", "qinq6", "arp"],
)
def test_well_formed_packets_match_the_model(pkt):
    raw = bytes(pkt)
    assert key_bytes(parse(raw)) == model_key(raw)


# ---- truncation ----

TRUNCATED = [
    Ether(**MACS) / IP(src="10.0.0.1", dst="10.0.0.2") / TCP(sport=1234, dport=80),
    Ether(**MACS) / IP(options=[IPOption_NOP()] * 8) / UDP(sport=1, dport=2),
    Ether(**MACS) / IPv6(src="2001:db8::1", dst="2001:db8::2") / UDP(sport=3, dport=4),
    Ether(**MACS) / Dot1AD(vlan=9) / Dot1Q(vlan=8) / IP() / UDP(sport=5, dport=6),
    Ether(**MACS) / ARP(),
]


@pytest.mark.parametrize("pkt", TRUNCATED, ids=["tcp4", "udp4_opts", "udp6", "qinq", "arp"])
def test_truncated_packet_key_has_only_fields_fully_present(pkt):
    raw = bytes(pkt)
    for n in range(len(raw) + 1):
        key = parse(raw[:n], dirty=True)
        assert key_bytes(key) == model_key(raw[:n]), f"truncated to {n} bytes"


def test_truncated_ipv4_header_yields_an_empty_key():
    raw = bytes(Ether(**MACS) / IP(src="10.0.0.1") / TCP(sport=1, dport=2))
    for n in range(14, 14 + 20):
        assert key_bytes(parse(raw[:n])) == bytes(KEY_SIZE), f"truncated to {n} bytes"
    assert parse(raw[:34]).ip_version == 4


def test_ports_need_all_four_bytes():
    raw = bytes(Ether(**MACS) / IP() / UDP(sport=0x1234, dport=0x5678))
    for n in (34, 35, 36, 37):
        key = parse(raw[:n])
        assert (key.src_port, key.dst_port) == (0, 0), f"truncated to {n} bytes"
    assert parse(raw[:38]).dst_port == socket.htons(0x5678)


def _random_packet(rng: random.Random) -> bytes:
    """Random bytes, often shaped like Ethernet/VLAN/IP so every branch runs."""
    n = rng.randrange(0, 120)
    pkt = bytearray(rng.getrandbits(8) for _ in range(n))
    off = 12
    while off + 2 <= n and rng.random() < 0.3:
        pkt[off : off + 2] = struct.pack("!H", rng.choice([ETH_VLAN, ETH_QINQ]))
        off += 4
    if off + 2 <= n and rng.random() < 0.8:
        pkt[off : off + 2] = struct.pack("!H", rng.choice([ETH_IPV4, ETH_IPV6, ETH_ARP]))
        l3 = off + 2
        if l3 < n and rng.random() < 0.5:
            pkt[l3] = 0x40 | rng.randrange(16)  # any ihl, including < 5
        for proto_at in (l3 + 9, l3 + 6):
            if proto_at < n and rng.random() < 0.6:
                pkt[proto_at] = rng.choice([6, 17, 132, 1])
        if l3 + 8 <= n and rng.random() < 0.5:
            pkt[l3 + 6 : l3 + 8] = b"\0\0"  # unfragmented, so ports are read
    return bytes(pkt)


def test_random_bytes_match_the_model():
    rng = random.Random(20221122)
    seen = {"v4": 0, "v6": 0, "ports": 0, "non_ip": 0}
    for i in range(4000):
        raw = _random_packet(rng)
        key = parse(raw, dirty=True)
        assert key_bytes(key) == model_key(raw), f"case {i}: {raw.hex()}"
        seen["v4"] += key.ip_version == 4
        seen["v6"] += key.ip_version == 6
        seen["ports"] += key.dst_port != 0
        seen["non_ip"] += key.ip_version == 0 and key.src_port != 0
    # The loop only means something if it reached every branch often.
    assert min(seen.values()) > 100, seen


GUARD_PAGE_SCRIPT = textwrap.dedent(
    """
    import ctypes, mmap, random, sys
    from onvm.pydpdk.nf import ffi, lib
    from tests.support.cdata import aligned

    PAGE = mmap.PAGESIZE
    area = mmap.mmap(-1, 2 * PAGE, prot=mmap.PROT_READ | mmap.PROT_WRITE)
    base = ctypes.addressof(ctypes.c_char.from_buffer(area))
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    if libc.mprotect(base + PAGE, PAGE, 0) != 0:
        sys.exit("mprotect failed")
    page = ffi.cast("uint8_t *", base)
    m = aligned(ffi, "struct rte_mbuf")
    key = ffi.new("struct onvm_flow_key *")
    rng = random.Random(int(sys.argv[1]))
    for pkt in [bytes.fromhex(h) for h in sys.argv[2:]] + [
        rng.randbytes(rng.randrange(0, 100)) for _ in range(3000)
    ]:
        for n in range(len(pkt) + 1):
            start = PAGE - n  # the packet ends where the guard page begins
            ffi.memmove(page + start, pkt[:n], n)
            m.buf_addr = page + start
            m.buf_len = n
            m.data_off = 0
            m.data_len = n
            m.pkt_len = n
            lib.onvm_flow_key_parse(m, key)
    print("ok")
    """
)


def test_parser_never_reads_past_the_packet_end():
    """Packets end at a PROT_NONE page: one byte too far and the child faults."""
    shaped = [bytes(p).hex() for p in TRUNCATED]
    rng = random.Random(7)
    shaped += [_random_packet(rng).hex() for _ in range(300)]
    proc = subprocess.run(
        [sys.executable, "-c", GUARD_PAGE_SCRIPT, "1", *shaped],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, f"rc={proc.returncode} stderr={proc.stderr[-2000:]}"
    assert proc.stdout.strip() == "ok"


# ---- hash ----


def test_same_five_tuple_same_hash():
    a = (
        Ether(src="00:00:00:00:00:01", dst=MACS["dst"])
        / IP(src="1.2.3.4", dst="4.3.2.1", ttl=64, id=1)
        / TCP(sport=1000, dport=80, seq=1)
    )
    b = (
        Ether(src="00:00:00:00:00:02", dst=MACS["dst"])
        / IP(src="1.2.3.4", dst="4.3.2.1", ttl=3, id=99)
        / TCP(sport=1000, dport=80, seq=12345, flags="A")
        / (b"payload" * 10)
    )
    ka, kb = parse(bytes(a)), parse(bytes(b))
    assert key_bytes(ka) == key_bytes(kb)
    assert lib.onvm_flow_key_hash(ka) == lib.onvm_flow_key_hash(kb)


def test_hash_is_deterministic_for_one_key():
    key = parse(bytes(Ether(**MACS) / IP() / UDP(sport=5, dport=6)))
    assert len({lib.onvm_flow_key_hash(key) for _ in range(10)}) == 1


def test_different_ports_different_hash():
    template = bytearray(bytes(Ether(**MACS) / IP(src="10.0.0.1", dst="10.0.0.2") / UDP(dport=53)))
    hashes = set()
    for port in range(1, 2001):
        template[34:36] = struct.pack("!H", port)  # UDP source port
        key = parse(bytes(template))
        assert key.src_port == socket.htons(port)
        hashes.add(lib.onvm_flow_key_hash(key))
    assert len(hashes) == 2000


def test_different_flows_spread_over_buckets():
    """The low bits pick a service bucket: they must not be constant."""
    rng = random.Random(3)
    buckets = set()
    for _ in range(1000):
        pkt = (
            Ether(**MACS)
            / IP(src=f"10.0.{rng.randrange(256)}.{rng.randrange(256)}")
            / TCP(sport=rng.randrange(1, 65536), dport=80)
        )
        buckets.add(lib.onvm_flow_key_hash(parse(bytes(pkt))) % 256)
    assert len(buckets) > 200


def canonical(key: bytes) -> bytes:
    """The key with its endpoints in canonical order: the lower first, each
    address compared as two 64-bit words as an x86 CPU loads them, then the
    ports as stored."""
    src, dst, sport, dport, rest = key[:16], key[16:32], key[32:34], key[34:36], key[36:]

    def order(addr: bytes, port: bytes) -> tuple[int, int, int]:
        return (*struct.unpack("<QQ", addr), struct.unpack("<H", port)[0])

    if order(src, sport) > order(dst, dport):
        src, dst, sport, dport = dst, src, dport, sport
    return src + dst + sport + dport + rest


def test_hash_is_crc32c_of_the_canonical_key_with_the_documented_seed():
    """Equal keys hash equal in every process: the hash is a fixed function of the
    40 key bytes, whichever CRC implementation (SSE4.2 or software) a process uses."""
    for pkt in TRUNCATED:
        key = parse(bytes(pkt))
        assert lib.onvm_flow_key_hash(key) == crc32c(canonical(key_bytes(key)), SEED)


def reply_of(pkt):
    """The same packet going the other way: addresses and ports swapped."""
    back = pkt.copy()
    ip = back[IP] if IP in back else back[IPv6]
    ip.src, ip.dst = ip.dst, ip.src
    l4 = back[TCP] if TCP in back else back[UDP]
    l4.sport, l4.dport = l4.dport, l4.sport
    return back


@pytest.mark.parametrize("pkt", [
    Ether(**MACS) / IP(src="10.0.0.1", dst="192.168.1.9") / TCP(sport=40000, dport=80),
    Ether(**MACS) / IP(src="192.168.1.9", dst="10.0.0.1") / UDP(sport=53, dport=5353),
    Ether(**MACS) / IP(src="10.0.0.1", dst="10.0.0.1") / TCP(sport=2, dport=1),
    Ether(**MACS) / IPv6(src="2001:db8::1", dst="2001:db8::2") / TCP(sport=443, dport=50000),
    Ether(**MACS) / IPv6(src="fe80::9", dst="2001:db8::2") / UDP(sport=1, dport=1),
    Ether(**MACS) / Dot1Q(vlan=7) / IP(src="1.2.3.4", dst="5.6.7.8") / UDP(sport=9, dport=10),
    Ether(**MACS) / Dot1AD(vlan=3) / Dot1Q(vlan=7) / IPv6(src="::1", dst="::2") / TCP(),
])
def test_both_directions_of_a_connection_hash_alike(pkt):
    forward, back = parse(bytes(pkt)), parse(bytes(reply_of(pkt)))
    assert lib.onvm_flow_key_hash(forward) == lib.onvm_flow_key_hash(back)


def test_the_symmetric_hash_stays_well_spread():
    """Many connections of one client to one server port: their hashes, and
    the service buckets they pick, spread as a random function's would."""
    rng = random.Random(11)
    hashes = set()
    buckets = collections.Counter()
    for _ in range(4096):
        pkt = (Ether(**MACS) / IP(src=f"10.{rng.randrange(256)}.{rng.randrange(256)}.1",
                                  dst="192.168.0.1")
               / TCP(sport=rng.randrange(1024, 65536), dport=443))
        h = lib.onvm_flow_key_hash(parse(bytes(pkt)))
        hashes.add(h)
        buckets[h % 256] += 1
    assert len(hashes) > 4090
    assert len(buckets) == 256 and max(buckets.values()) < 40  # 16 expected per bucket
