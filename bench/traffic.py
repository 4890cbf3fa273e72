# SPDX-License-Identifier: BSD-3-Clause
"""Traffic for benchmarks and tests: pcap files read and written exactly,
and packet sets built with scapy."""

from __future__ import annotations

import random
import struct
from pathlib import Path

PCAP_HEADER = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)


def write_pcap(path: Path, packets: list[bytes]) -> Path:
    with open(path, "wb") as f:
        f.write(PCAP_HEADER)
        for raw in packets:
            f.write(struct.pack("<IIII", 0, 0, len(raw), len(raw)))
            f.write(raw)
    return path


def read_pcap(path: Path) -> list[bytes]:
    """Raw frames of a pcap file (micro- or nanosecond, little-endian)."""
    data = Path(path).read_bytes()
    magic = struct.unpack_from("<I", data, 0)[0]
    if magic not in (0xA1B2C3D4, 0xA1B23C4D):
        raise ValueError(f"{path} is not a little-endian pcap file")
    off, frames = 24, []
    while off + 16 <= len(data):
        _, _, caplen, _ = struct.unpack_from("<IIII", data, off)
        off += 16
        frames.append(data[off:off + caplen])
        off += caplen
    return frames


def five_tuple_packets(count: int, flows: int, size: int = 64, seed: int = 5) -> list[bytes]:
    """TCP and UDP over IPv4 and IPv6 (3:1), `flows` distinct 5-tuples."""
    from scapy.layers.inet import IP, TCP, UDP
    from scapy.layers.inet6 import IPv6
    from scapy.layers.l2 import Ether

    rng = random.Random(seed)
    out = []
    for _ in range(count):
        flow = rng.randrange(flows)
        eth = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
        if flow % 4 == 3:
            ip = IPv6(src=f"2001:db8:{flow % 7}::{flow:x}", dst=f"2001:db8:ff::{flow % 5}")
        else:
            ip = IP(src=f"10.{flow % 3}.{(flow >> 8) & 0xFF}.{flow & 0xFF}",
                    dst=f"192.168.{flow % 11}.1")
        l4 = TCP(sport=1024 + flow, dport=(80, 443, 22, 53, 8080)[flow % 5]) if flow % 2 \
            else UDP(sport=1024 + flow, dport=(53, 123, 443, 5000)[flow % 4])
        pkt = bytes(eth / ip / l4)
        out.append(pkt + bytes(max(0, size - len(pkt))) if len(pkt) < size else pkt)
    return out
