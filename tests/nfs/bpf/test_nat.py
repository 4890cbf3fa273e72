# SPDX-License-Identifier: BSD-3-Clause
"""The static NAT example through a real manager: each packet out is the
packet in with its translated addresses, built again by scapy with the
checksums scapy computes for it, packet for packet."""

from __future__ import annotations

import secrets
import subprocess
import sys

import pytest
from scapy.layers.inet import ICMP, IP, TCP, UDP, IPOption_RR, fragment, in4_chksum
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import ARP, Dot1AD, Dot1Q, Ether
from scapy.packet import Raw

from tests.support.bad_input import BIG, Bad, one_line, params, run, run_case
from tests.support.bpf_programs import ENGINES, EXAMPLES, ctl, example, nf_id, program_args
from tests.support.control_helpers import client
from tests.support.pcaps import read_pcap, write_pcap

pytestmark = pytest.mark.timeout(90)

REMOTE = "198.51.100.7"
# Both ways, from translations.py; 10.0.0.3 from onvm-ctl (snat) and
# Python (dnat); 10.0.0.4 only outbound, 203.0.113.5 only inbound.
PAIRS = {"10.0.0.1": "203.0.113.1", "10.0.0.2": "203.0.113.2"}
SNAT = {**PAIRS, "10.0.0.3": "203.0.113.3", "10.0.0.4": "203.0.113.4"}
DNAT = {**{e: i for i, e in PAIRS.items()}, "203.0.113.3": "10.0.0.3",
        "203.0.113.5": "10.0.0.5"}
ETH = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
TRANSLATIONS = EXAMPLES / "nat" / "translations.py"


def ipv4(src: str, dst: str, kind: str, i: int) -> list[bytes]:
    """The frames of one IPv4 packet of `kind` from src to dst."""
    body = Raw(bytes([i % 256]) * (i % 23))
    udp = UDP(sport=5000 + i, dport=53) / body
    if kind == "tcp":
        return [bytes(ETH / IP(src=src, dst=dst, id=i) / TCP(sport=1000 + i, dport=80,
                                                          flags="PA", seq=i) / body)]
    if kind == "udp":
        return [bytes(ETH / IP(src=src, dst=dst, id=i) / udp)]
    if kind == "udp-no-checksum":
        return [bytes(ETH / IP(src=src, dst=dst, id=i) / UDP(sport=5000 + i, dport=53,
                                                          chksum=0) / body)]
    if kind == "icmp":
        return [bytes(ETH / IP(src=src, dst=dst, id=i) / ICMP(id=i, seq=i) / body)]
    if kind == "options":  # a 32-byte header: the L4 header is further on
        return [bytes(ETH / IP(src=src, dst=dst, id=i,
                               options=[IPOption_RR(routers=["0.0.0.0"] * 2)])
                      / TCP(sport=1000 + i, dport=443, flags="S") / body)]
    if kind == "vlan":
        return [bytes(Ether(src=ETH.src, dst=ETH.dst) / Dot1Q(vlan=7)
                      / IP(src=src, dst=dst, id=i) / udp)]
    if kind == "fragments":  # the UDP checksum, in the first, covers all three
        whole = IP(src=src, dst=dst, id=i) / UDP(sport=5000 + i, dport=53) / (b"f" * 100)
        return [bytes(ETH / f) for f in fragment(whole, fragsize=48)]
    raise ValueError(kind)


def untouched(i: int) -> list[bytes]:
    """Frames the program must pass as they are."""
    return [
        bytes(ETH / IPv6(src="2001:db8::1", dst="2001:db8::2") / UDP(sport=i, dport=53)),
        bytes(ETH / ARP(psrc="10.0.0.1", pdst="10.0.0.254")),
        # Two tags: only one is looked through.
        bytes(Ether(src=ETH.src, dst=ETH.dst) / Dot1AD(vlan=1) / Dot1Q(vlan=2)
              / IP(src="10.0.0.1", dst=REMOTE) / UDP(sport=i, dport=53)),
        # An IPv4 header cut short by the frame's end.
        bytes(ETH / IP(src="10.0.0.1", dst=REMOTE) / UDP())[:30],
    ]


def zero_after_nat(i: int) -> tuple[bytes, bytes]:
    """A UDP packet from 10.0.0.1 whose translated checksum computes to 0,
    which UDP sends as 0xffff: its first payload word makes it so."""
    out = IP(src=SNAT["10.0.0.1"], dst=REMOTE, id=i) / UDP(sport=7000 + i, dport=53)
    tail = bytes([i]) * 6
    no_sum = UDP(sport=7000 + i, dport=53, chksum=0) / (b"\0\0" + tail)
    word = in4_chksum(17, out, bytes(no_sum))
    payload = word.to_bytes(2, "big") + tail
    expected = bytes(ETH / out / payload)
    assert Ether(expected)[UDP].chksum == 0xFFFF
    return bytes(ETH / IP(src="10.0.0.1", dst=REMOTE, id=i) / UDP(sport=7000 + i, dport=53)
                 / payload), expected


KINDS = ("tcp", "udp", "udp-no-checksum", "icmp", "options", "vlan", "fragments")
ADDRESS_PAIRS = [(a, REMOTE) for a in ("10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4",
                                       "10.0.0.5", "10.9.9.9")] \
    + [(REMOTE, b) for b in ("203.0.113.1", "203.0.113.2", "203.0.113.3", "203.0.113.4",
                             "203.0.113.5", "203.0.113.99", "10.0.0.1")] \
    + [("10.0.0.1", "203.0.113.2"), ("10.0.0.4", "203.0.113.5")]  # hairpins: both


def traffic() -> tuple[list[bytes], list[bytes], list[int]]:
    """Frames in, the frames expected out, and the packets translated
    [snat, dnat]."""
    frames_in, frames_out, counts = [], [], [0, 0]
    i = 0
    for rnd in range(3):
        for src, dst in ADDRESS_PAIRS:
            for kind in KINDS:
                i += 1
                before = ipv4(src, dst, kind, i)
                frames_in += before
                frames_out += ipv4(SNAT.get(src, src), DNAT.get(dst, dst), kind, i)
                counts[0] += len(before) * (src in SNAT)
                counts[1] += len(before) * (dst in DNAT)
        frames_in += untouched(rnd)
        frames_out += untouched(rnd)
        before, after = zero_after_nat(rnd)
        frames_in.append(before)
        frames_out.append(after)
        counts[0] += 1
    return frames_in, frames_out, counts


def checksums_hold(frame: bytes) -> bool:
    """Whether scapy, computing the IPv4 and TCP/UDP checksums afresh,
    writes the checksums `frame` carries (whole packets only)."""
    pkt = Ether(frame)
    del pkt[IP].chksum
    if (TCP in pkt or (UDP in pkt and pkt[UDP].chksum != 0)) and pkt[IP].frag == 0 \
            and not pkt[IP].flags.MF:
        del pkt[(TCP if TCP in pkt else UDP)].chksum
    return bytes(pkt) == frame


def test_traffic_covers_each_case():
    """The test's own traffic: every case is there and the expected frames
    differ from the input where, and only where, a translation applies."""
    frames_in, frames_out, counts = traffic()
    assert len(frames_in) == len(frames_out)
    changed = sum(a != b for a, b in zip(frames_in, frames_out, strict=True))
    translated = {(s, d) for s, d in ADDRESS_PAIRS if s in SNAT or d in DNAT}
    assert changed == 3 * (sum(len(ipv4(s, d, k, 1)) for s, d in translated for k in KINDS) + 1)
    assert counts[0] > 0 and counts[1] > 0
    assert all(checksums_hold(f) for f in frames_out if IP in Ether(f) and len(f) > 30
               and Dot1AD not in Ether(f))


@pytest.mark.parametrize("engine", ENGINES)
def test_nat_rewrites_addresses_and_checksums(tmp_path, start_manager, engine):
    """Translations from translations.py, onvm-ctl and Python; the chain
    1,2,out:0 runs once simple_forward joins service 2, after the maps are
    filled. Both engines must give the same frames: the expected ones."""
    obj = example("nat", tmp_path)
    frames_in, expected, counts = traffic()
    write_pcap(tmp_path / "in.pcap", frames_in)
    mgr = start_manager("--port", f"net_pcap0,rx_pcap={tmp_path}/in.pcap,"
                        f"tx_pcap={tmp_path}/out.pcap", "--chain", "1,2,out:0",
                        "--wait-for-chain")
    nf = mgr.start_nf("bpf", 1, *program_args(obj, engine))
    ident = nf_id(mgr, nf)
    script = subprocess.run([sys.executable, str(TRANSLATIONS),
                             "--name", mgr.name, str(ident),
                             *(f"{i}={e}" for i, e in PAIRS.items())],
                            capture_output=True, text=True, timeout=30)
    assert script.returncode == 0, script.stderr
    assert "  10.0.0.1        -> 203.0.113.1" in script.stdout, script.stdout
    assert "  203.0.113.2     -> 10.0.0.2" in script.stdout, script.stdout
    assert "translated: snat 0, dnat 0" in script.stdout, script.stdout
    for name, table in (("snat", {"10.0.0.3": "203.0.113.3", "10.0.0.4": "203.0.113.4"}),
                        ("dnat", {"203.0.113.5": "10.0.0.5"})):
        for key, value in table.items():
            result = ctl(mgr, "bpf", "map", "set", str(ident), name, f"ip4:{key}",
                         f"ip4:{value}")
            assert result.returncode == 0, result.stderr
    bpf = client(mgr).bpf(ident)
    bpf.map("dnat")["ip4:203.0.113.3"] = "ip4:10.0.0.3"
    assert bpf.info()["jit"] == (engine == "jit")
    forward = nf_id(mgr, mgr.start_nf("simple_forward", 2))
    mgr.wait_stats(lambda s: s["ports"]["0"]["tx"] == len(frames_in), 30, "every frame out")
    one_line(run([sys.executable, str(TRANSLATIONS), "--name", mgr.name, str(forward)]), 1,
             f"NF {forward} is no bpf NF")
    stats = bpf.map("stats")
    assert [int.from_bytes(stats[i], "little") for i in (0, 1)] == counts
    got = ctl(mgr, "bpf", "map", "get", str(ident), "stats", "u32:1", "--value-type", "u64")
    assert got.stdout.strip() == f"u64:{counts[1]}", got.stdout + got.stderr
    assert mgr.stop() == 0
    out = read_pcap(tmp_path / "out.pcap")
    assert len(out) == len(expected)
    for n, (frame, want) in enumerate(zip(out, expected, strict=True)):
        assert frame == want, (f"frame {n}: in {Ether(frames_in[n]).summary()}\n"
                               f"got {frame.hex()}\nwant {want.hex()}")


SCRIPT = ("python", str(TRANSLATIONS), "--name", "{mgr}")
BAD_ARGS = [
    Bad("pair-without-equals", (*SCRIPT, "1", "10.0.0.1"), 2, "is not INTERNAL=EXTERNAL"),
    Bad("pair-bad-address", (*SCRIPT, "1", "10.0.0.256=203.0.113.1"), 2,
        "'10.0.0.256=203.0.113.1' is not INTERNAL=EXTERNAL"),
    Bad("pair-ipv6", (*SCRIPT, "1", "10.0.0.1=2001:db8::1"), 2, "two IPv4 addresses"),
    Bad("pair-5000-characters", (*SCRIPT, "1", f"10.0.0.1={BIG}"), 2,
        "is not INTERNAL=EXTERNAL"),
    Bad("nf-0", (*SCRIPT, "0"), 2, "NF_ID: must be a whole number from 1 to"),
    Bad("nf-5000-digit", (*SCRIPT, BIG), 2, "NF_ID: must be a whole number"),
    Bad("nf-nan", (*SCRIPT, "nan"), 2, "NF_ID: must be a whole number"),
    Bad("no-manager", (*SCRIPT, "1", "10.0.0.1=203.0.113.1"), 1, "no manager"),
]


@pytest.mark.parametrize("case", params(BAD_ARGS))
def test_translations_py_refuses_bad_arguments(tmp_path, case):
    """One line and a non-zero exit, before anything is set."""
    run_case(case, tmp_path, f"it-none-{secrets.token_hex(4)}")
