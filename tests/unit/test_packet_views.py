# SPDX-License-Identifier: BSD-3-Clause
"""onvm.nflib.Packet and its header views on fake mbufs, with scapy as the reference.

Reading: every property of every view equals what scapy parses from the same
bytes. Writing: rewriting through the views and calling fix_checksums() gives
the bytes scapy builds for the rewritten packet. Hostile input: random,
truncated and length-mutated packets never make a view raise, exist when its
fixed header does not fit, or make anything read or write outside the packet.
"""

from __future__ import annotations

import random
import struct
from ipaddress import IPv4Address, IPv6Address

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scapy.layers.inet import ICMP, IP, TCP, UDP, IPOption_NOP, IPOption_RR, fragment
from scapy.layers.inet6 import ICMPv6EchoReply, ICMPv6EchoRequest, IPv6
from scapy.layers.l2 import ARP, Dot1AD, Dot1Q, Ether
from scapy.packet import NoPayload, Padding, Raw

from onvm.nflib import headers
from tests.unit.fake_mbuf import (
    CANARY,
    MACS,
    VIEW_NAMES,
    FakeMbuf,
    read_everything,
    run_between_guard_pages,
    view_properties,
)

ETH_VLAN, ETH_QINQ, ETH_IPV4, ETH_IPV6, ETH_ARP = 0x8100, 0x88A8, 0x0800, 0x86DD, 0x0806
VIEW_TYPES = {
    "eth": headers.Ether, "vlan": headers.Vlan, "arp": headers.Arp, "ipv4": headers.IPv4,
    "ipv6": headers.IPv6, "tcp": headers.TCP, "udp": headers.UDP, "icmp": headers.ICMP,
    "icmp6": headers.ICMP,
}
TCP_OPTIONS = [("NOP", None), ("NOP", None), ("Timestamp", (1, 2))]

PACKETS = {
    "tcp4": Ether(**MACS)
    / IP(src="10.1.2.3", dst="192.168.7.9", tos=0x10, id=777, ttl=33, flags="DF")
    / TCP(sport=1234, dport=80, seq=0x01020304, ack=0xA0B0C0D0, flags="PA", window=4321,
          options=TCP_OPTIONS)
    / b"hello tcp",
    "udp4": Ether(**MACS) / IP(src="10.0.0.1", dst="10.0.0.2", ttl=5)
    / UDP(sport=5353, dport=53) / b"dns?",
    "icmp4": Ether(**MACS) / IP(src="172.16.0.1", dst="172.16.0.2")
    / ICMP(type=8, id=0x1234, seq=7) / b"ping data",
    "udp6": Ether(**MACS) / IPv6(src="2001:db8::1", dst="fe80::abcd:1", tc=0x2E, fl=0xBEEF,
                                 hlim=9)
    / UDP(sport=546, dport=547) / b"dhcp6",
    "tcp6": Ether(**MACS) / IPv6(src="::1", dst="::2") / TCP(sport=40000, dport=443, flags="S")
    / b"syn data",
    "icmp6": Ether(**MACS) / IPv6(src="2001:db8::a", dst="2001:db8::b")
    / ICMPv6EchoRequest(id=0x4242, seq=3, data=b"ping6"),
    "arp": Ether(src=MACS["src"], dst="ff:ff:ff:ff:ff:ff")
    / ARP(op=1, hwsrc=MACS["src"], psrc="10.0.0.1", pdst="10.0.0.2"),
    "vlan_tcp4": Ether(**MACS) / Dot1Q(vlan=42, prio=5) / IP(src="1.2.3.4", dst="5.6.7.8")
    / TCP(sport=7, dport=9, flags="A") / b"tagged",
    "qinq_tcp4": Ether(**MACS) / Dot1AD(vlan=100, prio=3) / Dot1Q(vlan=5, prio=1)
    / IP(src="1.2.3.4", dst="5.6.7.8") / TCP(sport=1111, dport=2222, flags="F") / b"qinq",
    "ipv4_options": Ether(**MACS)
    / IP(src="3.3.3.3", dst="4.4.4.4", options=[IPOption_RR(), IPOption_NOP()])
    / TCP(sport=4321, dport=22) / b"opts",
    "ipv4_first_fragment": Ether(**MACS) / IP(src="9.9.9.9", dst="8.8.8.8", flags="MF")
    / UDP(sport=1, dport=2) / (b"f" * 40),
    "ipv4_later_fragment": Ether(**MACS) / IP(src="9.9.9.9", dst="8.8.8.8", frag=185, proto=17)
    / (b"g" * 40),
}
RAW = {name: bytes(p) for name, p in PACKETS.items()}


# ---- scapy's view of a packet, in the views' terms ----


def scapy_layers(raw: bytes) -> list[tuple[object, int]]:
    """(layer, offset) for each header scapy finds in `raw`."""
    found = []
    layer = Ether(raw)
    while not isinstance(layer, NoPayload | Raw | Padding):
        found.append((layer, len(raw) - len(bytes(layer))))
        layer = layer.payload
    return found


def scapy_views(raw: bytes) -> dict:
    """What each Packet view should read, according to scapy."""
    views: dict = dict.fromkeys(VIEW_NAMES)
    for layer, off in scapy_layers(raw):
        if isinstance(layer, Ether):
            views["eth"] = {"offset": off, "dst": layer.dst, "src": layer.src,
                            "ethertype": layer.type}
        elif isinstance(layer, Dot1Q) and views["vlan"] is None:
            views["vlan"] = {"offset": off, "vid": layer.vlan, "pcp": layer.prio,
                             "ethertype": layer.type}
        elif isinstance(layer, ARP):
            views["arp"] = {
                "offset": off, "op": layer.op,
                "sender_mac": layer.hwsrc, "sender_ip": IPv4Address(layer.psrc),
                "target_mac": layer.hwdst, "target_ip": IPv4Address(layer.pdst),
                "is_ipv4_over_ethernet": (layer.hwtype, layer.ptype, layer.hwlen, layer.plen)
                == (1, 0x0800, 6, 4),
            }
        elif isinstance(layer, IP):
            views["ipv4"] = {
                "offset": off, "version": layer.version, "ihl": layer.ihl * 4,
                "tos": layer.tos, "total_length": layer.len, "identification": layer.id,
                "fragment_offset": layer.frag, "more_fragments": bool(layer.flags.MF),
                "ttl": layer.ttl, "proto": layer.proto, "checksum": layer.chksum,
                "src": IPv4Address(layer.src), "dst": IPv4Address(layer.dst),
            }
        elif isinstance(layer, IPv6):
            views["ipv6"] = {
                "offset": off, "traffic_class": layer.tc, "flow_label": layer.fl,
                "payload_length": layer.plen, "next_header": layer.nh,
                "hop_limit": layer.hlim,
                "src": IPv6Address(layer.src), "dst": IPv6Address(layer.dst),
            }
        elif isinstance(layer, TCP):
            views["tcp"] = {
                "offset": off, "sport": layer.sport, "dport": layer.dport, "seq": layer.seq,
                "ack": layer.ack, "data_offset": layer.dataofs * 4, "flags": int(layer.flags),
                "window": layer.window, "checksum": layer.chksum,
                "mss": dict(layer.options).get("MSS"),
                "wscale": dict(layer.options).get("WScale"),
                "sack_permitted": "SAckOK" in dict(layer.options),
                "tsval": (dict(layer.options).get("Timestamp") or (None, None))[0],
                "tsecr": (dict(layer.options).get("Timestamp") or (None, None))[1],
            }
        elif isinstance(layer, UDP):
            views["udp"] = {"offset": off, "sport": layer.sport, "dport": layer.dport,
                            "length": layer.len, "checksum": layer.chksum}
        elif isinstance(layer, ICMP):
            views["icmp"] = {"offset": off, "type": layer.type, "code": layer.code,
                             "checksum": layer.chksum, "echo_id": layer.id,
                             "echo_seq": layer.seq}
        elif isinstance(layer, ICMPv6EchoRequest | ICMPv6EchoReply):
            views["icmp6"] = {"offset": off, "type": layer.type, "code": layer.code,
                              "checksum": layer.cksum, "echo_id": layer.id,
                              "echo_seq": layer.seq}
    return views


def scapy_payload(raw: bytes) -> bytes:
    """The bytes scapy finds after the innermost header it knows."""
    layer, _ = scapy_layers(raw)[-1]
    if isinstance(layer, ICMPv6EchoRequest | ICMPv6EchoReply):
        return layer.data
    return layer[Raw].load if Raw in layer else b""


def payload_of(raw: bytes) -> bytes:
    fake = FakeMbuf(raw)
    return bytes(fake.packet().payload)


def scapy_rebuilt(pkt) -> bytes:
    """The bytes of scapy packet `pkt` with every checksum recomputed."""
    layer = pkt
    while not isinstance(layer, NoPayload):
        for field in layer.fields_desc:
            if field.name in ("chksum", "cksum"):
                setattr(layer, field.name, None)
        layer = layer.payload
    return bytes(pkt)


# ---- reading ----


@pytest.mark.parametrize("name", RAW)
def test_every_view_property_equals_scapy(name):
    fake = FakeMbuf(RAW[name])
    pkt = fake.packet()
    got = {view: view_properties(getattr(pkt, view)) for view in VIEW_NAMES}
    assert got == scapy_views(RAW[name])


def test_cases_cover_every_view():
    covered = {view for raw in RAW.values() for view, v in scapy_views(raw).items() if v}
    assert covered == set(VIEW_NAMES)


@pytest.mark.parametrize(
    ("name", "absent"),
    [
        ("udp4", {"tcp", "icmp", "icmp6", "ipv6", "arp", "vlan"}),
        ("tcp4", {"udp", "icmp", "ipv6", "arp"}),
        ("icmp4", {"tcp", "udp", "icmp6"}),
        ("icmp6", {"icmp", "ipv4", "tcp", "udp"}),
        ("udp6", {"ipv4", "tcp"}),
        ("arp", {"ipv4", "ipv6", "tcp", "udp", "icmp", "vlan"}),
        ("ipv4_later_fragment", {"udp", "tcp"}),
    ],
)
def test_views_of_absent_headers_are_none(name, absent):
    fake = FakeMbuf(RAW[name])
    pkt = fake.packet()
    assert {view: getattr(pkt, view) for view in absent} == dict.fromkeys(absent)


@pytest.mark.parametrize(
    ("name", "outer", "inner"),
    [("vlan_tcp4", ETH_VLAN, ETH_IPV4), ("qinq_tcp4", ETH_QINQ, ETH_IPV4),
     ("udp6", ETH_IPV6, ETH_IPV6), ("arp", ETH_ARP, ETH_ARP)],
)
def test_ethertype_is_the_one_after_the_vlan_tags(name, outer, inner):
    fake = FakeMbuf(RAW[name])
    pkt = fake.packet()
    assert pkt.eth.ethertype == outer
    assert pkt.ethertype == inner


def test_qinq_vlan_view_is_the_outer_tag():
    fake = FakeMbuf(RAW["qinq_tcp4"])
    pkt = fake.packet()
    assert (pkt.vlan.vid, pkt.vlan.pcp, pkt.vlan.ethertype) == (100, 3, ETH_VLAN)
    assert pkt.ipv4.offset == 22


@pytest.mark.parametrize("name", RAW)
def test_proto_is_the_ip_protocol(name):
    fake = FakeMbuf(RAW[name])
    pkt = fake.packet()
    sp = Ether(RAW[name])
    want = sp[IP].proto if IP in sp else sp[IPv6].nh if IPv6 in sp else 0
    assert pkt.proto == want


@pytest.mark.parametrize("name", list(RAW))
def test_payload_equals_scapy_payload(name):
    fake = FakeMbuf(RAW[name])
    pkt = fake.packet()
    assert bytes(pkt.payload) == scapy_payload(RAW[name])


def test_payload_of_vlan_tagged_non_ip_frame_starts_after_the_tag():
    raw = bytes(Ether(**MACS) / Dot1Q(vlan=9, type=0x88B5) / b"local experimental")
    assert payload_of(raw) == b"local experimental"


@pytest.mark.parametrize("l4", [UDP, TCP])
def test_payload_stops_at_the_ip_total_length(l4):
    raw = bytes(Ether(**MACS) / IP(src="10.0.0.1", dst="10.0.0.2") / l4(sport=1, dport=2)
                / b"ab")
    padded = raw + bytes(60 - len(raw))
    assert scapy_payload(padded) == b"ab"
    assert payload_of(padded) == b"ab"


def test_payload_after_a_cut_tcp_header_is_what_follows_the_ip_header():
    raw = RAW["tcp4"][: 14 + 20 + 10]
    assert payload_of(raw) == raw[14 + 20 :]


@pytest.mark.parametrize(
    ("name", "view"), [("udp4", "udp"), ("icmp4", "icmp"), ("udp6", "udp"), ("icmp6", "icmp6")])
def test_payload_after_a_cut_udp_or_icmp_header_is_what_follows_the_ip_header(name, view):
    l4 = scapy_views(RAW[name])[view]["offset"]
    raw = RAW[name][: l4 + 3]
    assert payload_of(raw) == raw[l4:]


def test_in_port_length_and_bytes_come_from_the_mbuf():
    fake = FakeMbuf(RAW["udp4"], port=7, headroom=128, tailroom=16)
    pkt = fake.packet()
    assert pkt.in_port == 7
    assert pkt.length == len(pkt) == len(RAW["udp4"])
    assert bytes(pkt) == RAW["udp4"]
    assert repr(pkt) == f"<Packet {len(RAW['udp4'])} bytes ethertype 0x0800>"


def test_data_is_a_writable_zero_copy_view():
    fake = FakeMbuf(RAW["udp4"], headroom=8)
    pkt = fake.packet()
    pkt.data[-1] = ord("!")
    assert fake.data[-1] == ord("!")
    assert fake.whole[:8] == bytes([CANARY]) * 8


# ---- writing ----


def rewrite_and_fix(raw: bytes, rewrite) -> FakeMbuf:
    """Rewrite `raw` through a Packet's views, check the checksums are then stale,
    fix them, and return the fake mbuf."""
    fake = FakeMbuf(raw, headroom=32, tailroom=32)
    pkt = fake.packet()
    rewrite(pkt)
    stale = fake.data
    assert pkt.fix_checksums() is True
    assert fake.data != stale, "the rewrite did not invalidate any checksum"
    assert fake.whole[:32] + fake.whole[-32:] == bytes([CANARY]) * 64
    return fake


def test_rewritten_ipv4_tcp_matches_scapy():
    def rewrite(pkt):
        pkt.eth.swap_macs()
        pkt.ipv4.src = "192.0.2.1"
        pkt.ipv4.dst = IPv4Address("198.51.100.7")
        pkt.ipv4.ttl = 17
        pkt.tcp.sport = 40000
        pkt.tcp.dport = 8080

    fake = rewrite_and_fix(RAW["tcp4"], rewrite)
    want = Ether(RAW["tcp4"])
    want.src, want.dst = want.dst, want.src
    want[IP].src, want[IP].dst, want[IP].ttl = "192.0.2.1", "198.51.100.7", 17
    want[TCP].sport, want[TCP].dport = 40000, 8080
    assert fake.data == scapy_rebuilt(want)


def test_swapped_ipv4_udp_matches_scapy():
    def rewrite(pkt):
        ip = pkt.ipv4
        ip.src, ip.dst = ip.dst, ip.src  # swaps alone keep the checksums valid
        ip.ttl = 4
        pkt.udp.swap_ports()
        pkt.eth.src = "0a:0b:0c:0d:0e:0f"
        pkt.eth.dst = bytes.fromhex("020000000063")

    fake = rewrite_and_fix(RAW["udp4"], rewrite)
    want = Ether(RAW["udp4"])
    want.src, want.dst = "0a:0b:0c:0d:0e:0f", "02:00:00:00:00:63"
    want[IP].src, want[IP].dst, want[IP].ttl = want[IP].dst, want[IP].src, 4
    want[UDP].sport, want[UDP].dport = want[UDP].dport, want[UDP].sport
    assert fake.data == scapy_rebuilt(want)


def test_icmp_echo_turned_into_a_reply_matches_scapy():
    def rewrite(pkt):
        pkt.eth.swap_macs()
        ip = pkt.ipv4
        ip.src, ip.dst = ip.dst, ip.src
        ip.ttl = 64
        pkt.icmp.type = 0

    fake = rewrite_and_fix(RAW["icmp4"], rewrite)
    sp = PACKETS["icmp4"]
    want = (Ether(src=MACS["dst"], dst=MACS["src"])
            / IP(src=sp[IP].dst, dst=sp[IP].src, ttl=64)
            / ICMP(type=0, id=0x1234, seq=7) / b"ping data")
    assert fake.data == bytes(want)


def test_rewritten_ipv4_with_options_matches_scapy():
    def rewrite(pkt):
        pkt.ipv4.dst = "203.0.113.9"
        pkt.tcp.swap_ports()

    fake = rewrite_and_fix(RAW["ipv4_options"], rewrite)
    want = Ether(RAW["ipv4_options"])
    want[IP].dst = "203.0.113.9"
    want[TCP].sport, want[TCP].dport = want[TCP].dport, want[TCP].sport
    assert fake.data == scapy_rebuilt(want)


def test_rewritten_vlan_tagged_ipv4_matches_scapy():
    def rewrite(pkt):
        pkt.vlan.vid = 7
        pkt.vlan.pcp = 2
        pkt.ipv4.src = "10.9.8.7"
        pkt.tcp.seq = 99
        pkt.tcp.flags = headers.TCP.SYN | headers.TCP.ACK

    fake = rewrite_and_fix(RAW["vlan_tcp4"], rewrite)
    want = Ether(RAW["vlan_tcp4"])
    want[Dot1Q].vlan, want[Dot1Q].prio = 7, 2
    want[IP].src = "10.9.8.7"
    want[TCP].seq, want[TCP].flags = 99, "SA"
    assert fake.data == scapy_rebuilt(want)


def test_rewritten_padded_ipv4_udp_keeps_the_padding_out_of_the_checksum():
    raw = bytes(Ether(**MACS) / IP(src="10.0.0.1", dst="10.0.0.2") / UDP(sport=1, dport=2))
    padded = raw + b"\x5a" * (60 - len(raw))

    def rewrite(pkt):
        pkt.ipv4.src = "10.0.0.3"
        pkt.udp.dport = 9

    fake = rewrite_and_fix(padded, rewrite)
    want = Ether(padded)
    want[IP].src, want[UDP].dport = "10.0.0.3", 9
    assert fake.data == scapy_rebuilt(want)


@pytest.mark.parametrize("name", ["udp6", "tcp6"])
def test_rewritten_ipv6_matches_scapy(name):
    def rewrite(pkt):
        ip6 = pkt.ipv6
        ip6.src, ip6.dst = "2001:db8:1::1", IPv6Address("2001:db8:2::2")
        ip6.hop_limit = 3
        l4 = pkt.tcp or pkt.udp
        l4.sport, l4.dport = 1000, 2000

    fake = rewrite_and_fix(RAW[name], rewrite)
    want = Ether(RAW[name])
    want[IPv6].src, want[IPv6].dst, want[IPv6].hlim = "2001:db8:1::1", "2001:db8:2::2", 3
    l4 = want[TCP] if TCP in want else want[UDP]
    l4.sport, l4.dport = 1000, 2000
    assert fake.data == scapy_rebuilt(want)


def test_icmpv6_echo_turned_into_a_reply_matches_scapy():
    def rewrite(pkt):
        ip6 = pkt.ipv6
        ip6.src, ip6.dst = ip6.dst, ip6.src
        pkt.icmp6.type = 129

    fake = rewrite_and_fix(RAW["icmp6"], rewrite)
    want = (Ether(**MACS) / IPv6(src="2001:db8::b", dst="2001:db8::a")
            / ICMPv6EchoReply(id=0x4242, seq=3, data=b"ping6"))
    assert fake.data == bytes(want)


def test_arp_request_turned_into_a_reply_matches_scapy():
    fake = FakeMbuf(RAW["arp"])
    pkt = fake.packet()
    arp = pkt.arp
    pkt.eth.dst, pkt.eth.src = pkt.eth.src, "02:00:00:00:00:99"
    arp.op = headers.Arp.REPLY
    arp.target_mac, arp.target_ip = arp.sender_mac, arp.sender_ip
    arp.sender_mac, arp.sender_ip = "02:00:00:00:00:99", "10.0.0.2"
    assert pkt.fix_checksums() is True
    want = (Ether(src="02:00:00:00:00:99", dst=MACS["src"])
            / ARP(op=2, hwsrc="02:00:00:00:00:99", psrc="10.0.0.2", hwdst=MACS["src"],
                  pdst="10.0.0.1"))
    assert fake.data == bytes(want)


@pytest.mark.parametrize(
    ("view", "field", "value"),
    [("eth", "src", "02:00:00:00:01"), ("eth", "dst", "zz:00:00:00:00:01"),
     ("eth", "dst", b"\x01\x02"), ("ipv4", "src", "10.0.0.256"), ("ipv4", "dst", "::1")],
)
def test_bad_addresses_raise_value_error_and_write_nothing(view, field, value):
    fake = FakeMbuf(RAW["udp4"])
    with pytest.raises(ValueError):
        setattr(getattr(fake.packet(), view), field, value)
    assert fake.data == RAW["udp4"]


@pytest.mark.parametrize("name", list(RAW))
def test_fix_checksums_leaves_a_correct_packet_unchanged(name):
    raw = RAW[name]
    if name == "ipv4_first_fragment":
        # A real first fragment: its UDP checksum covers the whole datagram.
        big = IP(src="9.9.9.9", dst="8.8.8.8") / UDP(sport=1, dport=2) / (b"z" * 3000)
        raw = bytes(Ether(**MACS) / fragment(big, 1400)[0])
    fake = FakeMbuf(raw)
    assert fake.packet().fix_checksums() is True
    assert fake.data == raw


def test_fix_checksums_on_non_ip_changes_nothing():
    raw = RAW["arp"] + b"\xff" * 18
    fake = FakeMbuf(raw)
    assert fake.packet().fix_checksums() is True
    assert fake.data == raw


def set_ipv4_total_length_past_end(pkt):
    pkt.ipv4.total_length = len(pkt) - pkt.ipv4.offset + 1


def set_ipv4_ihl_below_minimum(pkt):
    pkt.data[pkt.ipv4.offset] = 0x44


def set_ipv4_total_length_below_ihl(pkt):
    pkt.ipv4.total_length = 19


def set_ipv6_payload_length_past_end(pkt):
    pkt.ipv6.payload_length = len(pkt) - pkt.ipv6.offset - 40 + 1


@pytest.mark.parametrize(
    ("name", "break_length"),
    [
        ("tcp4", set_ipv4_total_length_past_end),
        ("udp4", set_ipv4_total_length_past_end),
        ("icmp4", set_ipv4_total_length_past_end),
        ("vlan_tcp4", set_ipv4_total_length_past_end),
        ("udp4", set_ipv4_ihl_below_minimum),
        ("udp4", set_ipv4_total_length_below_ihl),
        ("udp6", set_ipv6_payload_length_past_end),
        ("tcp6", set_ipv6_payload_length_past_end),
        ("icmp6", set_ipv6_payload_length_past_end),
    ],
)
def test_fix_checksums_refuses_a_length_past_the_packet_and_changes_nothing(name, break_length):
    fake = FakeMbuf(RAW[name], headroom=16, tailroom=16)
    pkt = fake.packet()
    if pkt.ipv4:
        pkt.ipv4.src = "10.99.99.99"  # stale checksums: a fix would change bytes
    else:
        pkt.ipv6.src = "2001:db8::99"
    break_length(pkt)
    before = fake.whole
    assert pkt.fix_checksums() is False
    assert fake.whole == before


def test_views_see_a_rewrite_through_data_after_fix_checksums():
    fake = FakeMbuf(RAW["tcp4"])
    pkt = fake.packet()
    assert pkt.tcp is not None
    pkt.ipv4.proto = 17  # TCP -> UDP
    pkt.fix_checksums()  # forgets the cached layout
    assert pkt.tcp is None
    assert pkt.udp.sport == 1234


# ---- hostile input ----

# Header offsets of the packets that get their length fields mutated.
BASES = [
    (name, RAW[name], {view: props["offset"] for view, props in scapy_views(RAW[name]).items()
                       if props})
    for name in ("tcp4", "udp4", "icmp4", "udp6", "tcp6", "icmp6", "vlan_tcp4", "qinq_tcp4",
                 "ipv4_options", "arp")
]


def mutate(raw: bytes, offsets: dict, choose) -> bytes:
    """`raw` with some of its length fields (and proto, fragment) set to values that
    `choose(lo, hi)` picks, then truncated to a chosen length."""
    pkt = bytearray(raw)
    n = len(pkt)
    if "ipv4" in offsets:
        l3 = offsets["ipv4"]
        if choose(0, 1):
            pkt[l3] = 0x40 | choose(0, 15)  # ihl, including < 5 and past the packet
        if choose(0, 1):
            near = n - l3 + choose(-12, 12)
            total = choose(0, 0xFFFF) if choose(0, 3) == 0 else max(0, near)
            pkt[l3 + 2 : l3 + 4] = struct.pack("!H", total)
        if choose(0, 3) == 0:
            pkt[l3 + 6 : l3 + 8] = struct.pack("!H", choose(0, 0xFFFF))
        if choose(0, 3) == 0:
            pkt[l3 + 9] = (1, 6, 17, 58, 132, 0)[choose(0, 5)]
    if "ipv6" in offsets:
        l3 = offsets["ipv6"]
        if choose(0, 1):
            near = n - l3 - 40 + choose(-12, 12)
            plen = choose(0, 0xFFFF) if choose(0, 3) == 0 else max(0, near)
            pkt[l3 + 4 : l3 + 6] = struct.pack("!H", plen)
        if choose(0, 3) == 0:
            pkt[l3 + 6] = (1, 6, 17, 58, 0, 44)[choose(0, 5)]
    if "tcp" in offsets and choose(0, 1):
        at = offsets["tcp"] + 12
        pkt[at] = (choose(0, 15) << 4) | (pkt[at] & 0xF)
    if "udp" in offsets and choose(0, 1):
        at = offsets["udp"] + 4
        pkt[at : at + 2] = struct.pack("!H", choose(0, 0xFFFF))
    return bytes(pkt[: choose(0, n)] if choose(0, 1) else pkt)


def shaped_random(raw: bytes, choose) -> bytes:
    """Random bytes with Ethernet, VLAN and IP markers written in, so every branch of
    the parser runs."""
    pkt = bytearray(raw)
    n = len(pkt)
    off = 12
    while off + 2 <= n and choose(0, 3) == 0:
        pkt[off : off + 2] = struct.pack("!H", (ETH_VLAN, ETH_QINQ)[choose(0, 1)])
        off += 4
    if off + 2 <= n and choose(0, 4):
        pkt[off : off + 2] = struct.pack("!H", (ETH_IPV4, ETH_IPV6, ETH_ARP)[choose(0, 2)])
        l3 = off + 2
        if l3 < n and choose(0, 1):
            pkt[l3] = 0x40 | choose(0, 15)
        for proto_at in (l3 + 9, l3 + 6):
            if proto_at < n and choose(0, 1):
                pkt[proto_at] = (1, 6, 17, 58)[choose(0, 3)]
        if l3 + 8 <= n and choose(0, 1):
            pkt[l3 + 6 : l3 + 8] = b"\0\0"
    return bytes(pkt)


def assert_views_are_safe(raw: bytes) -> dict:
    """Everything a reader can touch works, returns values from inside the packet,
    writes nothing, and every view's fixed header fits in the packet."""
    fake = FakeMbuf(raw, headroom=16, tailroom=16)
    pkt = fake.packet()
    values = read_everything(pkt)
    for name in VIEW_NAMES:
        view = getattr(pkt, name)
        if view is not None:
            assert view.offset >= 0
            assert view.offset + type(view).SIZE <= len(raw), f"{name} at {view.offset}"
    if values["icmp"] or values["icmp6"]:
        icmp = values["icmp"] or values["icmp6"]
        assert (icmp["echo_id"] is None) == (icmp["offset"] + 8 > len(raw))
    assert values["data"] == raw
    assert values["payload"] in raw  # a slice of the packet, padding excluded
    assert fake.whole == bytes([CANARY]) * 16 + raw + bytes([CANARY]) * 16
    return values


def checksum_positions(pkt) -> set[int]:
    """Byte offsets fix_checksums may write: the checksum fields of the views."""
    where = {"ipv4": 10, "tcp": 16, "udp": 6, "icmp": 2, "icmp6": 2}
    positions = set()
    for name, at in where.items():
        view = getattr(pkt, name)
        if view is not None:
            positions |= {view.offset + at, view.offset + at + 1}
    return positions


def ones_complement_sum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total > 0xFFFF:
        total = (total & 0xFFFF) + (total >> 16)
    return total


def assert_fix_checksums_is_safe(raw: bytes) -> None:
    """fix_checksums writes only checksum fields inside the packet; when it refuses,
    nothing; when it accepts an IPv4 packet, its header checksum then verifies."""
    room = 32
    fake = FakeMbuf(raw, headroom=room, tailroom=room)
    pkt = fake.packet()
    allowed = checksum_positions(pkt)
    ipv4 = pkt.ipv4
    ok = pkt.fix_checksums()
    assert fake.whole[:room] == bytes([CANARY]) * room
    assert fake.whole[room + len(raw):] == bytes([CANARY]) * room
    changed = {i for i, (a, b) in enumerate(zip(raw, fake.data, strict=True)) if a != b}
    if not ok:
        assert not changed
        return
    assert changed <= allowed
    if ipv4 is not None:
        header = fake.data[ipv4.offset : ipv4.offset + ipv4.ihl]
        assert ones_complement_sum(header) == 0xFFFF


HOSTILE = settings(max_examples=300, deadline=None,
                   suppress_health_check=[HealthCheck.too_slow])


@HOSTILE
@given(st.binary(max_size=120))
def test_random_bytes_are_safe_to_read_and_fix(raw):
    assert_views_are_safe(raw)
    assert_fix_checksums_is_safe(raw)


@HOSTILE
@given(st.binary(min_size=14, max_size=120).flatmap(
    lambda raw: st.builds(lambda c: shaped_random(raw, c),
                          st.randoms(use_true_random=False).map(lambda r: r.randint))))
def test_ethernet_shaped_random_bytes_are_safe_to_read_and_fix(raw):
    assert_views_are_safe(raw)
    assert_fix_checksums_is_safe(raw)


@HOSTILE
@given(st.sampled_from(BASES), st.data())
def test_mutated_length_fields_are_safe_to_read_and_fix(base, data):
    _, raw, offsets = base
    pkt = mutate(raw, offsets, lambda lo, hi: data.draw(st.integers(lo, hi)))
    assert_views_are_safe(pkt)
    assert_fix_checksums_is_safe(pkt)


@pytest.mark.parametrize("name", RAW)
def test_truncated_packet_has_exactly_the_views_that_fit(name):
    """At every length, a view exists iff its fixed header fits, and what it reads
    is what the whole packet's view reads (or None for what was cut off)."""
    raw = RAW[name]
    full = assert_views_are_safe(raw)
    for n in range(len(raw) + 1):
        cut = assert_views_are_safe(raw[:n])
        assert_fix_checksums_is_safe(raw[:n])
        for view in VIEW_NAMES:
            if not full[view]:
                assert cut[view] is None, f"{view} appeared at {n} bytes"
                continue
            fits = n >= full[view]["offset"] + VIEW_TYPES[view].SIZE
            assert (cut[view] is not None) == fits, f"{view} at {n} bytes"
            if cut[view]:
                assert all(v is None or v == full[view][k] for k, v in cut[view].items()), n


def test_views_and_fix_checksums_never_touch_memory_outside_the_packet():
    """Packets flush against PROT_NONE pages: one byte too far and the child faults."""
    rng = random.Random(20240611)
    sample = [raw[:n] for raw in RAW.values() for n in range(len(raw) + 1)]
    for _ in range(600):
        _, raw, offsets = rng.choice(BASES)
        sample.append(mutate(raw, offsets, rng.randint))
    for _ in range(300):
        sample.append(shaped_random(rng.randbytes(rng.randrange(14, 100)), rng.randint))
    proc = run_between_guard_pages(sample)
    assert proc.returncode == 0, f"rc={proc.returncode} stderr={proc.stderr[-2000:]}"
    assert proc.stdout.split() == ["checked", str(2 * len(sample))]
