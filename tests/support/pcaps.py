# SPDX-License-Identifier: BSD-3-Clause
"""Test traffic: scapy-built packets, and exact pcap reading and writing."""

from __future__ import annotations

import random
import struct

from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.inet6 import ICMPv6EchoRequest, IPv6, IPv6ExtHdrHopByHop
from scapy.layers.l2 import ARP, LLC, Dot1Q, Ether
from scapy.packet import Raw

from onvm.bench.traffic import read_pcap, write_pcap

__all__ = ["flow_id", "flow_packets", "mixed_packets", "odd_packets", "read_pcap",
           "write_pcap"]


def _pad(pkt, size: int) -> bytes:
    raw = bytes(pkt)
    if len(raw) < size:
        raw = bytes(pkt / Raw(b"\x00" * (size - len(raw))))
    return raw


def mixed_packets(count: int, flows: int = 64, seed: int = 1) -> list[bytes]:
    """TCP, UDP, ICMP, IPv6, ARP and VLAN-tagged frames of 60 to 1514 bytes."""
    rng = random.Random(seed)
    out = []
    for i in range(count):
        flow = rng.randrange(flows)
        size = rng.choice([60, 64, 128, 512, 1024, 1514, rng.randint(60, 1514)])
        eth = Ether(src=f"02:00:00:00:{flow >> 8:02x}:{flow & 0xff:02x}", dst="02:00:00:00:ff:01")
        v4 = IP(src=f"10.{flow >> 8}.{flow & 0xff}.1", dst="192.168.1.1")
        kind = i % 6
        if kind == 0:
            pkt = eth / v4 / TCP(sport=1024 + flow, dport=80, flags="S", seq=i)
        elif kind == 1:
            pkt = eth / v4 / UDP(sport=2048 + flow, dport=53)
        elif kind == 2:
            pkt = eth / v4 / ICMP(id=flow, seq=i)
        elif kind == 3:
            pkt = eth / IPv6(src=f"2001:db8::{flow:x}", dst="2001:db8::1") / UDP(
                sport=3000 + flow, dport=443)
        elif kind == 4:
            pkt = eth / ARP(psrc=f"10.0.{flow & 0xff}.1", pdst="10.0.0.254")
            size = 60
        else:
            pkt = eth / Dot1Q(vlan=100 + flow % 4) / v4 / TCP(sport=4096 + flow, dport=8080)
        out.append(_pad(pkt, min(size, 1514))[:1514])
    return out


def flow_packets(count: int, flows: int, seed: int = 2) -> list[bytes]:
    """IPv4 and IPv6 TCP/UDP packets of `flows` distinct 5-tuples, interleaved."""
    rng = random.Random(seed)
    out = []
    for i in range(count):
        flow = rng.randrange(flows)
        eth = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
        if flow % 2:
            ip = IPv6(src=f"2001:db8:1::{flow:x}", dst="2001:db8:2::1")
        else:
            ip = IP(src=f"10.1.{flow >> 8}.{flow & 0xff}", dst="10.2.0.1")
        l4 = TCP(sport=10000 + flow, dport=80) if flow % 3 else UDP(sport=10000 + flow, dport=53)
        out.append(_pad(eth / ip / l4 / Raw(struct.pack("!II", flow, i)), 64))
    return out


def flow_id(raw: bytes) -> int:
    """Flow number embedded by flow_packets() in the first 4 payload bytes."""
    ethertype = struct.unpack_from("!H", raw, 12)[0]
    l3 = 14
    l4 = l3 + (40 if ethertype == 0x86DD else (raw[l3] & 0xF) * 4)
    proto = raw[l3 + 6] if ethertype == 0x86DD else raw[l3 + 9]
    payload = l4 + (20 if proto == 6 else 8)
    return struct.unpack_from("!I", raw, payload)[0]


def odd_packets() -> list[bytes]:
    """Frames at the edges of what filters parse, one of each: VLAN and
    QinQ tags, IPv6 with an extension header, ICMP and ICMPv6, IPv4 options
    and fragments, TTLs and lengths on either side of a bound, 802.3/LLC,
    and frames cut short (runts, headers cut in the middle)."""
    eth = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:ff:01")
    other = Ether(src="02:00:00:00:00:09", dst="ff:ff:ff:ff:ff:ff")
    v4 = IP(src="10.0.0.1", dst="192.168.1.1")
    frames = [
        eth / v4 / TCP(sport=1000, dport=80, flags="S"),
        eth / v4 / TCP(sport=1000, dport=80, flags="SA"),
        eth / v4 / TCP(sport=1000, dport=80, flags="A"),
        other / IP(src="192.168.1.1", dst="10.0.0.1") / UDP(sport=53, dport=3333),
        other / IP(src="10.0.0.2", dst="10.0.0.3") / UDP(sport=5353, dport=53),
        eth / IP(src="10.0.0.2", dst="10.0.0.3", options=b"\x01\x01\x01\x00") /
        TCP(sport=7, dport=7, flags="S"),
        eth / Dot1Q(vlan=7) / v4 / UDP(sport=9, dport=53),
        eth / Dot1Q(vlan=7) / Dot1Q(vlan=8) / v4 / TCP(dport=22, flags="S"),
        eth / Dot1Q(vlan=9) / IPv6(src="2001:db8::1", dst="2001:db8::2") / UDP(dport=53),
        eth / IPv6(src="2001:db8::1", dst="2001:db8::2") / TCP(dport=443, flags="S"),
        eth / IPv6(src="2001:db8::1", dst="2001:db8::2") / ICMPv6EchoRequest(),
        eth / IPv6(src="2001:db8::1", dst="2001:db8::2") / IPv6ExtHdrHopByHop() /
        UDP(dport=53),
        other / v4 / ICMP(type=8),
        eth / IP(src="10.0.0.5", dst="10.0.0.6", ttl=9) / UDP(dport=9),
        eth / IP(src="10.0.0.5", dst="10.0.0.6", ttl=10) / UDP(dport=9),
        eth / IP(src="10.0.0.5", dst="10.0.0.6", ttl=0) / ICMP(),
        # Fragments: only the first one carries the ports.
        eth / IP(src="10.0.0.7", dst="10.0.0.8", flags="MF", frag=0) / UDP(dport=53) /
        Raw(b"x" * 64),
        eth / IP(src="10.0.0.7", dst="10.0.0.8", frag=9, proto=17) / Raw(b"y" * 64),
        other / ARP(op=2, psrc="10.0.0.1", pdst="10.0.0.254"),
        other / LLC(dsap=0x42, ssap=0x42, ctrl=3) / Raw(b"stp" * 12),
    ]
    out = [bytes(f) for f in frames]
    # Either side of 200 bytes, for `greater`/`less`.
    out += [_pad(eth / v4 / UDP(dport=9), size) for size in (199, 200, 201)]
    tcp = bytes(eth / v4 / TCP(dport=80, flags="S"))
    v6 = bytes(eth / IPv6() / UDP(dport=53))
    out += [
        tcp[:6],     # not even an Ethernet header
        tcp[:13],
        tcp[:14],    # an Ethernet header and nothing after it
        tcp[:14 + 8],  # IPv4 cut before its TTL and protocol
        tcp[:14 + 20 + 4],  # TCP cut before its flags
        v6[:14 + 30],  # IPv6 cut inside its addresses
        bytes(eth / IP(src="10.0.0.1", dst="10.0.0.9") / UDP(dport=53))[:14 + 20 + 2],
    ]
    return out
