# SPDX-License-Identifier: BSD-3-Clause
"""Traffic for benchmarks, tests and the demo: pcap files read and written
exactly, and packet sets built with scapy."""

from __future__ import annotations

import ipaddress
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
    magic = struct.unpack_from("<I", data, 0)[0] if len(data) >= len(PCAP_HEADER) else None
    if magic not in (0xA1B2C3D4, 0xA1B23C4D):
        raise ValueError(f"{path} is not a little-endian pcap file")
    off, frames = 24, []
    while off + 16 <= len(data):
        _, _, caplen, _ = struct.unpack_from("<IIII", data, off)
        off += 16
        frames.append(data[off:off + caplen])
        off += caplen
    return frames


def mixed_traffic(count: int, shapes: int = 1500, seed: int = 1) -> list[bytes]:
    """`count` Ethernet frames of 60 to 1514 bytes: TCP and UDP over IPv4,
    ICMP, IPv6, VLAN-tagged IPv4 and ARP, drawn from `shapes` scapy-built
    frames of random flows. Each frame's source MAC carries its sequence
    number (no checksum covers it), so every frame is unique and any loss
    or reordering shows when output is compared with input."""
    # Imported here: scapy comes with the test extras, and the pcap
    # functions above are used without it.
    from scapy.layers.inet import ICMP, IP, TCP, UDP
    from scapy.layers.inet6 import IPv6
    from scapy.layers.l2 import ARP, Dot1Q, Ether
    from scapy.packet import Padding, Raw

    rng = random.Random(seed)

    def payload(header_len: int) -> Raw:
        return Raw(rng.randbytes(max(rng.randint(60, 1514) - header_len, 0)))

    def ether() -> Ether:
        return Ether(src="02:00:00:00:00:01", dst=f"02:00:00:00:01:{rng.randrange(256):02x}")

    def ipv4() -> IP:
        return IP(src=f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}",
                  dst=f"192.168.{rng.randrange(256)}.{rng.randrange(1, 255)}")

    def tcp_or_udp() -> tuple[TCP | UDP, int]:
        """The header of a random flow, and its length."""
        sport, dport = rng.randrange(1024, 65536), rng.choice([22, 53, 80, 443, 8080])
        if rng.random() < 0.5:
            return TCP(sport=sport, dport=dport, flags="PA"), 20
        return UDP(sport=sport, dport=dport), 8

    def l4_over_ipv4():
        l4, l4_len = tcp_or_udp()
        return ether() / ipv4() / l4 / payload(14 + 20 + l4_len)

    def icmp():
        return ether() / ipv4() / ICMP(id=rng.randrange(65536)) / payload(14 + 20 + 8)

    def l4_over_ipv6():
        ip = IPv6(src=f"fd00::{rng.randrange(1, 65536):x}",
                  dst=f"fd01::{rng.randrange(1, 65536):x}")
        l4, l4_len = tcp_or_udp()
        return ether() / ip / l4 / payload(14 + 40 + l4_len)

    def vlan():
        l4, l4_len = tcp_or_udp()
        return (ether() / Dot1Q(vlan=rng.randrange(1, 4095)) / ipv4() / l4
                / payload(14 + 4 + 20 + l4_len))

    def arp():
        request = ARP(psrc=f"10.0.0.{rng.randrange(1, 255)}",
                      pdst=f"10.0.0.{rng.randrange(1, 255)}")
        broadcast = Ether(src="02:00:00:00:00:01", dst="ff:ff:ff:ff:ff:ff")
        return broadcast / request / Padding(bytes(18))  # 42 -> 60 bytes, the Ethernet minimum

    weights = {l4_over_ipv4: 55, icmp: 10, l4_over_ipv6: 15, vlan: 12, arp: 8}
    makers = rng.choices(list(weights), weights=list(weights.values()), k=min(shapes, count))
    return _numbered([bytes(make()) for make in makers], count, rng)


def _numbered(templates: list[bytes], count: int, rng: random.Random) -> list[bytes]:
    """`count` frames drawn from `templates`, each with its sequence number
    in its source MAC."""
    frames = []
    for seq in range(count):
        template = rng.choice(templates)
        frames.append(template[:6] + b"\x02\x00" + seq.to_bytes(4, "big") + template[12:])
    return frames


# Where ip_traffic's flows live: rules that are to match them (or not) are
# written against these.
IP_SOURCES = {4: "10.0.0.0/8", 6: "fd00::/16"}
IP_DESTINATIONS = {4: "192.168.0.0/16", 6: "fd01::/16"}
IP_DPORTS = (22, 53, 80, 443, 8080)
MIN_FRAME, MAX_FRAME = 60, 1514


def ip_traffic(count: int, version: int, size: int = 64, flows: int = 1500,
               seed: int = 1) -> list[bytes]:
    """`count` Ethernet frames of TCP and UDP (about half each) over IPv4 or
    IPv6 (`version`), from `flows` random flows: sources in IP_SOURCES,
    destinations in IP_DESTINATIONS, source ports 1024-65535, destination
    ports IP_DPORTS. Each frame is `size` bytes, or just its headers where
    they are longer (IPv6 and TCP: 74). Numbered as in mixed_traffic."""
    from scapy.layers.inet import IP, TCP, UDP
    from scapy.layers.inet6 import IPv6
    from scapy.layers.l2 import Ether
    from scapy.packet import Raw

    rng = random.Random(seed)

    def address(version: int, space: str) -> str:
        net = ipaddress.ip_network(space)
        host = rng.randrange(1, net.num_addresses - 1)
        return str(net.network_address + host)

    def flow() -> bytes:
        ip_layer = IP if version == 4 else IPv6
        ip = ip_layer(src=address(version, IP_SOURCES[version]),
                      dst=address(version, IP_DESTINATIONS[version]))
        sport, dport = rng.randrange(1024, 65536), rng.choice(IP_DPORTS)
        l4 = TCP(sport=sport, dport=dport, flags="PA") if rng.random() < 0.5 else UDP(
            sport=sport, dport=dport)
        headers = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / ip / l4
        return bytes(headers / Raw(bytes(max(size - len(headers), 0))))

    return _numbered([flow() for _ in range(min(flows, count))], count, rng)


MAX_PACKETS = 10_000_000


def main(argv: list[str] | None = None) -> int:
    """`python -m onvm.bench.traffic OUT.pcap [--packets N] [--seed S]
    [--ip 4|6 [--size BYTES]]`: write a pcap of mixed traffic, or of TCP and
    UDP over one IP version, to replay through a manager's pcap port."""
    import argparse

    from onvm import options

    class OneLineParser(argparse.ArgumentParser):
        def error(self, message: str):  # one line, not the usage text
            self.exit(2, f"{self.prog}: error: {message} (see --help)\n")

    parser = OneLineParser(prog="python -m onvm.bench.traffic",
                           description="Write a pcap of mixed traffic: TCP, UDP, ICMP, IPv6, "
                           "VLAN-tagged and ARP frames of 60 to 1514 bytes, every one unique.")
    parser.add_argument("out", metavar="OUT.pcap", help="the pcap file to write")
    parser.add_argument("--packets", type=int, default=10_000, metavar="N",
                        help="how many frames (default 10000)")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument("--ip", type=int, choices=(4, 6),
                        help="only TCP and UDP over IPv4 or IPv6, from "
                             f"{IP_SOURCES[4]} to {IP_DESTINATIONS[4]} or from {IP_SOURCES[6]} "
                             f"to {IP_DESTINATIONS[6]}")
    parser.add_argument("--size", type=options.integer_arg(MIN_FRAME, MAX_FRAME),
                        metavar="BYTES", help="with --ip: frame size (default 64; IPv6 and "
                                              "TCP headers alone take 74)")
    args = parser.parse_args(argv)
    if not 1 <= args.packets <= MAX_PACKETS:
        parser.error(f"--packets takes 1 to {MAX_PACKETS}, not {args.packets}")
    if args.size is not None and args.ip is None:
        parser.error("--size goes with --ip (the mixed traffic has frames of 60 to 1514 bytes)")
    if args.ip is None:
        frames = mixed_traffic(args.packets, seed=args.seed)
    else:
        frames = ip_traffic(args.packets, args.ip, args.size or 64, seed=args.seed)
    try:
        write_pcap(Path(args.out), frames)
    except OSError as e:
        parser.exit(1, f"{parser.prog}: error: cannot write {args.out}: {e.strerror}\n")
    print(f"wrote {args.packets} frames to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
