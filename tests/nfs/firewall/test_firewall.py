# SPDX-License-Identifier: BSD-3-Clause
"""firewall.py against a table of rules: every packet passes or drops as a
small reference matcher (written here, from the rules file's documented
meaning) says, and malformed rules files are refused in one line."""

from __future__ import annotations

import functools
import ipaddress
import random

import pytest
from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.inet6 import ICMPv6EchoRequest, IPv6
from scapy.layers.l2 import ARP, Dot1Q, Ether
from scapy.layers.sctp import SCTP
from scapy.packet import Raw

from tests.support.harness import wait_until
from tests.support.nf_helpers import assert_one_error_line, chain_manager
from tests.support.pcaps import read_pcap

pytestmark = pytest.mark.timeout(60)

# Each rule is (action, {key: value}) as written to the TOML file.
RULES = [
    # 1 drops ssh from 10.1/16 and so shadows 2, a pass for part of it
    ("drop", {"proto": "tcp", "src": "10.1.0.0/16", "dst_port": 22}),
    ("pass", {"proto": "tcp", "src": "10.1.2.0/24", "dst_port": 22}),
    # 3 passes one host, shadowing 4 (a drop for its /16) for that host only
    ("pass", {"src": "10.1.5.5/32"}),
    ("drop", {"proto": "udp", "src": "10.1.0.0/16", "dst_port": "1000-2000"}),
    ("pass", {"proto": "udp", "dst": "192.168.0.0/20", "src_port": 53}),
    ("drop", {"proto": "icmp", "dst": "192.168.0.0/16"}),
    ("pass", {"proto": "icmp"}),  # no addresses: any IPv4 (ICMPv6 is another protocol)
    ("drop", {"proto": 47}),  # GRE, numerically
    ("pass", {"proto": 50, "src": "172.16.0.0/12", "dst": "any"}),
    ("drop", {"proto": 132, "dst_port": "9000-9999"}),  # SCTP, numerically, with ports
    ("drop", {"proto": "any", "dst": "203.0.113.0/24"}),
    ("pass", {"proto": "tcp", "dst": "198.51.100.0/25", "src_port": "1024-65535",
              "dst_port": 443}),
    ("drop", {"proto": "tcp", "dst": "198.51.100.0/24"}),
    ("pass", {"src": "0.0.0.0/0", "dst": "8.8.8.8"}),
    # IPv6
    ("drop", {"proto": "tcp", "src": "2001:db8:bad::/48"}),
    ("pass", {"proto": "tcp", "src": "2001:db8::/32", "dst_port": "8000-8080"}),
    ("pass", {"proto": "icmpv6", "dst": "2001:db8:1::/64"}),
    ("drop", {"proto": "icmpv6"}),
    ("pass", {"proto": "udp", "src": "2001:db8:1:2::/64", "dst": "2001:db8:ffff::1",
              "src_port": "5000-5999"}),
    ("drop", {"src": "::/0", "dst": "2001:db8:dead::/48"}),
    ("pass", {"proto": "udp", "dst": "2001:db8:ffff::/120", "dst_port": "53"}),
]

PROTO_NUMBERS = {"tcp": 6, "udp": 17, "icmp": 1, "icmpv6": 58, "sctp": 132, "any": 0}


def rules_toml(default: str, rules=RULES) -> str:
    def value(v):
        return str(v) if isinstance(v, int) else f'"{v}"'

    lines = [f'default = "{default}"']
    for action, spec in rules:
        lines += ["", "[[rules]]", f'action = "{action}"']
        lines += [f"{k} = {value(v)}" for k, v in spec.items()]
    return "\n".join(lines) + "\n"


# ---- the reference: what the rules mean, computed from scapy's parse ----

def five_tuple(raw: bytes):
    """(ip, proto, src, dst, sport, dport) of a frame; None if it is not IP.
    Ports are None for protocols without them."""
    pkt = Ether(raw)
    ip = pkt.getlayer(IP) or pkt.getlayer(IPv6)
    if ip is None:
        return None
    proto = ip.proto if ip.version == 4 else ip.nh
    l4 = ip.payload
    ports = (l4.sport, l4.dport) if proto in (6, 17, 132) else (None, None)
    return (ip.version, proto, ipaddress.ip_address(ip.src), ipaddress.ip_address(ip.dst),
            *ports)


def _port_matches(spec, port) -> bool:
    if spec is None or spec == "any":
        return True
    if port is None:
        return False
    lo, _, hi = str(spec).partition("-")
    return int(lo) <= port <= int(hi or lo)


def _addr_matches(spec, addr) -> bool:
    if spec is None or spec == "any":
        return True
    net = ipaddress.ip_network(spec)
    return net.version == addr.version and addr in net


def rule_matches(spec: dict, tup) -> bool:
    version, proto, src, dst, sport, dport = tup
    want = spec.get("proto", "any")
    want = PROTO_NUMBERS[want] if isinstance(want, str) else want
    return ((want == 0 or want == proto)
            and _addr_matches(spec.get("src"), src) and _addr_matches(spec.get("dst"), dst)
            and _port_matches(spec.get("src_port"), sport)
            and _port_matches(spec.get("dst_port"), dport))


def first_match(raw: bytes) -> int:
    """1-based index of the rule that decides the frame; 0 for the default."""
    tup = five_tuple(raw)
    if tup is None:
        return 0  # rules are on IP 5-tuples: anything else gets the default
    return next((i for i, (_, spec) in enumerate(RULES, 1) if rule_matches(spec, tup)), 0)


def passes(raw: bytes, default: str) -> bool:
    rule = first_match(raw)
    return (RULES[rule - 1][0] if rule else default) == "pass"


# ---- the traffic ----

ETH = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
V4 = ["10.1.2.3", "10.1.5.5", "10.1.200.1", "10.2.0.1", "192.168.0.10", "192.168.15.255",
      "192.168.16.1", "172.16.5.4", "172.31.255.255", "172.32.0.1", "203.0.113.7",
      "198.51.100.1", "198.51.100.127", "198.51.100.128", "8.8.8.8", "8.8.8.9"]
V6 = ["2001:db8:bad::1", "2001:db8:bad:ffff::2", "2001:db8::5", "2001:db8:1::9",
      "2001:db8:1:2::7", "2001:db8:1:3::1", "2001:db8:ffff::1", "2001:db8:ffff::2",
      "2001:db8:ffff::100", "2001:db8:dead::1", "2001:db9::1", "fe80::1"]
PORTS = [22, 53, 443, 999, 1000, 1500, 2000, 2001, 5000, 5999, 6000, 7999, 8000, 8080, 8081,
         1023, 1024, 9000, 9999, 10000, 65535]


@functools.cache
def handmade() -> tuple[bytes, ...]:
    """One or more packets aimed at each rule and at each edge of it."""
    def tcp4(src, dst, sport, dport):
        return ETH / IP(src=src, dst=dst) / TCP(sport=sport, dport=dport)

    pkts = [
        tcp4("10.1.2.3", "10.9.9.9", 40000, 22),  # 1 (shadows 2)
        tcp4("10.1.2.3", "10.9.9.9", 40000, 23),  # not ssh: default
        tcp4("10.1.5.5", "10.9.9.9", 40000, 22),  # 1 before 3
        ETH / IP(src="10.1.5.5", dst="10.9.9.9") / UDP(sport=7, dport=1500),  # 3 (shadows 4)
        ETH / IP(src="10.1.5.6", dst="10.9.9.9") / UDP(sport=7, dport=1500),  # 4
        ETH / IP(src="10.1.5.6", dst="10.9.9.9") / UDP(sport=7, dport=1000),  # 4, low edge
        ETH / IP(src="10.1.5.6", dst="10.9.9.9") / UDP(sport=7, dport=2000),  # 4, high edge
        ETH / IP(src="10.1.5.6", dst="10.9.9.9") / UDP(sport=7, dport=2001),  # past it
        ETH / IP(src="10.3.0.1", dst="192.168.15.255") / UDP(sport=53, dport=3333),  # 5
        ETH / IP(src="10.3.0.1", dst="192.168.16.1") / UDP(sport=53, dport=3333),  # not /20
        ETH / IP(src="10.3.0.1", dst="192.168.16.1") / ICMP(),  # 6
        ETH / IP(src="10.3.0.1", dst="10.9.9.9") / ICMP(),  # 7
        ETH / IP(src="10.3.0.1", dst="10.9.9.9", proto=47) / Raw(b"\x00" * 8),  # 8
        ETH / IP(src="172.31.0.1", dst="1.2.3.4", proto=50) / Raw(b"\x00" * 8),  # 9
        ETH / IP(src="172.32.0.1", dst="1.2.3.4", proto=50) / Raw(b"\x00" * 8),  # not /12
        ETH / IP(src="10.3.0.1", dst="10.9.9.9") / SCTP(sport=1, dport=9000),  # 10
        ETH / IP(src="10.3.0.1", dst="10.9.9.9") / SCTP(sport=1, dport=10000),  # past it
        ETH / IP(src="10.3.0.1", dst="203.0.113.255") / UDP(sport=1, dport=1),  # 11
        tcp4("10.3.0.1", "198.51.100.127", 1024, 443),  # 12
        tcp4("10.3.0.1", "198.51.100.127", 1023, 443),  # 13: source port below the range
        tcp4("10.3.0.1", "198.51.100.128", 1024, 443),  # 13: not in /25
        ETH / IP(src="10.3.0.1", dst="8.8.8.8") / UDP(sport=1, dport=1),  # 14
        ETH / Dot1Q(vlan=3) / IP(src="10.1.2.3", dst="10.9.9.9") / TCP(sport=9, dport=22),  # 1
        ETH / IPv6(src="2001:db8:bad::1", dst="2001:db8::1") / TCP(sport=1, dport=8000),  # 15
        ETH / IPv6(src="2001:db8:bae::1", dst="2001:db8::1") / TCP(sport=1, dport=8000),  # 16
        ETH / IPv6(src="2001:db8:bae::1", dst="2001:db8::1") / TCP(sport=1, dport=8081),  # none
        ETH / IPv6(src="2001:db9::1", dst="2001:db8::1") / TCP(sport=1, dport=8000),  # not /32
        ETH / IPv6(src="fe80::1", dst="2001:db8:1::ffff") / ICMPv6EchoRequest(),  # 17
        ETH / IPv6(src="fe80::1", dst="2001:db8:1:1::1") / ICMPv6EchoRequest(),  # 18
        ETH / IPv6(src="2001:db8:1:2::7", dst="2001:db8:ffff::1") / UDP(sport=5999, dport=1),
        ETH / IPv6(src="2001:db8:1:2::7", dst="2001:db8:ffff::2") / UDP(sport=5999, dport=1),
        ETH / IPv6(src="2001:db8:1:2::7", dst="2001:db8:ffff::1") / UDP(sport=6000, dport=1),
        ETH / IPv6(src="2001:db8::5", dst="2001:db8:dead:1::1") / UDP(sport=1, dport=53),  # 20
        ETH / IPv6(src="2001:db8::5", dst="2001:db8:ffff::ff") / UDP(sport=1, dport=53),  # 21
        ETH / IPv6(src="2001:db8::5", dst="2001:db8:ffff::100") / UDP(sport=1, dport=53),
        ETH / IPv6(src="2001:db8::5", dst="2001:db8:ffff::ff", nh=47) / Raw(b"\x00" * 8),  # 8
        ETH / ARP(pdst="10.1.2.3"),  # not IP: default
        ETH / Dot1Q(vlan=4) / ARP(pdst="10.1.2.3"),
    ]
    return tuple(bytes(p) for p in pkts)


@functools.cache
def random_traffic(count: int, seed: int = 5) -> tuple[bytes, ...]:
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        v6 = rng.random() < 0.4
        ip = IPv6(src=rng.choice(V6), dst=rng.choice(V6)) if v6 else \
            IP(src=rng.choice(V4), dst=rng.choice(V4))
        kind = rng.choice(["tcp", "tcp", "udp", "udp", "icmp", "sctp", "gre", "esp"])
        sport, dport = rng.choice(PORTS), rng.choice(PORTS)
        if kind == "tcp":
            pkt = ETH / ip / TCP(sport=sport, dport=dport)
        elif kind == "udp":
            pkt = ETH / ip / UDP(sport=sport, dport=dport)
        elif kind == "sctp":
            pkt = ETH / ip / SCTP(sport=sport, dport=dport)
        elif kind == "icmp":
            pkt = ETH / ip / (ICMPv6EchoRequest() if v6 else ICMP())
        else:
            number = 47 if kind == "gre" else 50
            if v6:
                ip.nh = number
            else:
                ip.proto = number
            pkt = ETH / ip / Raw(b"\x00" * 8)
        if rng.random() < 0.1:  # tagged: the rules see through the tag
            pkt = ETH / Dot1Q(vlan=9) / pkt[1]
        out.append(bytes(pkt / Raw(b"\x5a" * rng.randrange(0, 200))))
    return tuple(out)


def test_reference_covers_every_rule():
    """The traffic reaches every rule, except the one shadowed by design."""
    decided = {first_match(p) for p in handmade() + random_traffic(800)}
    assert decided == set(range(len(RULES) + 1)) - {2}
    shadowed = next(p for p in handmade() if rule_matches(RULES[1][1], five_tuple(p)))
    assert first_match(shadowed) == 1


@pytest.mark.parametrize("default", ["pass", "drop"])
def test_firewall_py_passes_exactly_what_the_rules_pass(tmp_path, start_manager, default):
    packets = handmade() + random_traffic(800)
    packets = [p + b"\x00" * (60 - len(p)) for p in packets]  # the wire minimum
    expected = [p for p in packets if passes(p, default)]
    dropped = len(packets) - len(expected)
    assert expected and dropped
    rules = tmp_path / "rules.toml"
    rules.write_text(rules_toml(default))

    mgr = chain_manager(start_manager, tmp_path, packets, "1,out:1")
    nf = mgr.start_nf("firewall.py", 1, "--rules", str(rules))
    snap = mgr.wait_stats(
        lambda s: s["ports"]["0"]["rx"] == len(packets)
        and mgr.nf_stats(s, nf)["act_drop"] + mgr.nf_stats(s, nf)["act_next"] == len(packets),
        30, "every packet through the firewall")
    assert mgr.nf_stats(snap, nf)["act_drop"] == dropped
    assert f"with {len(RULES)} rules" in nf.output()
    wait_until(lambda: f"passed {len(expected)} dropped {dropped}" in nf.output(), 10,
               "the firewall's report")
    assert mgr.stop() == 0
    assert read_pcap(tmp_path / "out1.pcap") == expected
    assert "pool 16383/16383 free" in mgr.output()


# ---- malformed rules files ----

MALFORMED = {
    "bad_cidr": ('[[rules]]\naction = "drop"\nsrc = "10.0.0.0/33"\n', "10.0.0.0/33"),
    "bad_ipv6_cidr": ('[[rules]]\naction = "drop"\ndst = "2001:db8::/129"\n', "2001:db8::/129"),
    "unknown_key": ('[[rules]]\naction = "drop"\nprot = "tcp"\n', "prot"),
    "bad_action": ('[[rules]]\naction = "accept"\nproto = "tcp"\n', "accept"),
    "bad_port_range": ('[[rules]]\naction = "drop"\ndst_port = "80-"\n', "80-"),
    "reversed_port_range": ('[[rules]]\naction = "drop"\nsrc_port = "2000-1000"\n',
                            "2000-1000"),
    "bad_default": ('default = "reject"\n', "reject"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_firewall_py_refuses_a_malformed_rules_file(tmp_path, start_manager, case):
    text, culprit = MALFORMED[case]
    rules = tmp_path / "rules.toml"
    rules.write_text('default = "pass"\n\n[[rules]]\naction = "pass"\nproto = "udp"\n\n'
                     + text if "default" not in text else text)
    mgr = start_manager()
    nf = mgr.start_nf("firewall.py", 1, "--rules", str(rules), wait=False)
    line = assert_one_error_line(nf, nf.wait(20))
    assert culprit in line and "firewall.py: error: " in line, line
    # The manager is still up, and holds nothing of the NF.
    snap = mgr.wait_stats(lambda s: not s["nfs"], 5, "no NF in the manager's table")
    assert snap["pool"]["available"] == snap["pool"]["size"]
    assert mgr.popen.poll() is None
    assert mgr.stop() == 0


def test_firewall_py_malformed_rules_never_join_the_chain(tmp_path, start_manager):
    rules = tmp_path / "rules.toml"
    rules.write_text('[[rules]]\naction = "drop"\nsrc = "10.0.0.0/33"\n')
    packets = list(random_traffic(200, seed=8))
    mgr = chain_manager(start_manager, tmp_path, packets, "1,out:1")
    nf = mgr.start_nf("firewall.py", 1, "--rules", str(rules), wait=False)
    assert nf.wait(20) != 0
    snap = mgr.wait_stats(lambda s: not s["nfs"], 5, "no NF in the manager's table")
    assert snap["crashed_nfs"] == 0, "a refused rules file counted as an NF crash"
    assert snap["ports_enabled"] is False and snap["ports"]["0"]["rx"] == 0, \
        "traffic started for an NF that refused its rules"
    # A good firewall then gets every packet.
    rules.write_text('default = "pass"\n')
    mgr.start_nf("firewall.py", 1, "--rules", str(rules))
    mgr.wait_stats(lambda s: s["ports"]["1"]["tx"] == len(packets), 30, "the packets out")
    assert mgr.stop() == 0
    assert read_pcap(tmp_path / "out1.pcap") == packets
