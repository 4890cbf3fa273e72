# SPDX-License-Identifier: BSD-3-Clause
"""Test traffic: scapy-built packets, and exact pcap reading and writing."""

from __future__ import annotations

import random
import struct

from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import ARP, Dot1Q, Ether
from scapy.packet import Raw

from onvm.bench.traffic import read_pcap, write_pcap

__all__ = ["flow_id", "flow_packets", "mixed_packets", "read_pcap", "write_pcap"]



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
