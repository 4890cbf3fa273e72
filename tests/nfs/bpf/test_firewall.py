# SPDX-License-Identifier: BSD-3-Clause
"""The eBPF firewall example through a real manager: what it passes,
packet for packet, against a reference written here; block lists edited
from Python and onvm-ctl, before and while traffic flows; its per-source
drop counters against the packets it was sent."""

from __future__ import annotations

import functools
from collections import Counter

import pytest
from scapy.layers.inet import ICMP, IP, TCP, UDP, fragment
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import ARP, Dot1AD, Dot1Q, Ether
from scapy.layers.sctp import SCTP
from scapy.packet import Raw

from tests.support.bpf_programs import ENGINES, ctl, example, nf_id, program_args
from tests.support.control_helpers import client, numbered_packets, start_slow_forward
from tests.support.pcaps import read_pcap, write_pcap

pytestmark = pytest.mark.timeout(120)

A, B, C, D = "10.1.0.1", "10.1.0.2", "10.1.0.3", "10.1.0.4"
SERVER = "192.0.2.10"
ETH = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")


def port_key(proto: int, port: int) -> str:
    """A key of map `blocked_ports`: {u8 proto; u8 pad; be16 port}."""
    return f"u8:{proto},pad:1,be16:{port}"


@functools.cache
def facts(frame: bytes) -> tuple[str | None, tuple[int, int] | None]:
    """What the firewall looks at: the IPv4 source (None: not IPv4 behind
    at most one VLAN tag) and the (protocol, destination port) if any."""
    pkt = Ether(frame)
    tags = sum(layer in pkt for layer in (Dot1Q, Dot1AD))
    if IP not in pkt or tags > 1 or len(frame) < 14 + 4 * tags + 20:
        return None, None
    ip = pkt[IP]
    l4 = next((pkt[k] for k in (TCP, UDP, SCTP) if k in pkt), None)
    return ip.src, (ip.proto, l4.dport) if ip.frag == 0 and l4 is not None else None


def blocked_by(frame: bytes, sources: set[str], ports: set[tuple[int, int]]) -> str | None:
    """The reference: the source address that a frame is dropped under,
    or None if it passes."""
    src, port = facts(frame)
    return src if src is not None and (src in sources or port in ports) else None


def traffic(rounds: int) -> list[bytes]:
    """Frames of every kind the firewall tells apart, numbered in their
    payload so that no two are alike."""
    out = []
    for n in range(rounds):
        def ip(src: str, n: int = n, **kw) -> IP:
            return IP(src=src, dst=SERVER, id=n % 65536, **kw)

        body = Raw(n.to_bytes(4, "big"))
        out += [bytes(p) for p in (
            ETH / ip(A) / TCP(sport=1000, dport=80) / body,
            ETH / ip(A) / ICMP(id=n) / body,
            ETH / ip(B) / TCP(sport=1000, dport=22) / body,    # blocked port
            ETH / ip(B) / UDP(sport=1000, dport=22) / body,    # same port, other protocol
            ETH / ip(B) / TCP(sport=22, dport=1000) / body,    # a source port is no match
            ETH / ip(C) / UDP(sport=1000, dport=53) / body,    # blocked port
            ETH / ip(C) / TCP(sport=1000, dport=53) / body,
            ETH / ip(C) / SCTP(sport=1000, dport=9) / body,    # blocked port
            ETH / ip(C) / ICMP(id=n) / body,
            ETH / ip(D) / UDP(sport=1000, dport=80) / body,
            ETH / ip(B, options=b"\x01" * 8) / TCP(sport=1, dport=22) / body,  # longer header
            Ether(src=ETH.src, dst=ETH.dst) / Dot1Q(vlan=5) / ip(A) / UDP(dport=80) / body,
            Ether(src=ETH.src, dst=ETH.dst) / Dot1Q(vlan=5) / ip(B) / TCP(dport=22) / body,
            # Two tags: not looked through, passed.
            Ether(src=ETH.src, dst=ETH.dst) / Dot1AD(vlan=1) / Dot1Q(vlan=5) / ip(A) / body,
            ETH / IPv6(src="2001:db8::1", dst="2001:db8::2") / TCP(dport=22) / body,
            ETH / ARP(psrc=A, pdst=SERVER),
        )]
        # A datagram to a blocked port in fragments: only the first has the port.
        whole = ip(B) / UDP(sport=1000, dport=53) / (n.to_bytes(4, "big") * 20)
        out += [bytes(ETH / f) for f in fragment(whole, fragsize=32)]
    return out


def test_traffic_covers_each_case():
    """The test's own traffic and reference: each rule drops something, and
    something near each passes."""
    frames = traffic(1)
    assert len(set(frames)) == len(frames)
    dropped = Counter(blocked_by(f, {A}, {(6, 22), (17, 53), (132, 9)}) for f in frames)
    assert dropped == {None: 10, A: 3, B: 4, C: 2}, dropped


@pytest.mark.parametrize("engine", ENGINES)
def test_firewall_drops_exactly_the_blocked_packets(tmp_path, start_manager, engine):
    """Blocks set from Python and onvm-ctl before the first frame (the chain
    1,2,out:0 runs once simple_forward joins service 2). Both engines must
    pass the same frames: those the reference passes."""
    obj = example("firewall", tmp_path)
    frames = traffic(40)
    write_pcap(tmp_path / "in.pcap", frames)
    mgr = start_manager("--port", f"net_pcap0,rx_pcap={tmp_path}/in.pcap,"
                        f"tx_pcap={tmp_path}/out.pcap", "--chain", "1,2,out:0",
                        "--wait-for-chain")
    nf = mgr.start_nf("bpf", 1, *program_args(obj, engine))
    ident = nf_id(mgr, nf)
    bpf = client(mgr).bpf(ident)
    assert bpf.info()["jit"] == (engine == "jit")
    bpf.map("blocked")[f"ip4:{A}"] = 1
    bpf.map("blocked_ports")[port_key(6, 22)] = 1
    for name, key in (("blocked", f"ip4:{D}"), ("blocked_ports", port_key(17, 53)),
                      ("blocked_ports", port_key(132, 9))):
        result = ctl(mgr, "bpf", "map", "set", str(ident), name, key, "1")
        assert result.returncode == 0, result.stderr
    sources, ports = {A, D}, {(6, 22), (17, 53), (132, 9)}
    mgr.start_nf("simple_forward", 2)
    verdict = [blocked_by(f, sources, ports) for f in frames]
    passed = [f for f, v in zip(frames, verdict, strict=True) if v is None]
    mgr.wait_stats(lambda s: s["ports"]["0"]["tx"] == len(passed), 30, "the passed frames out")
    mgr.wait_stats(lambda s: s["ports"]["0"]["rx"] == len(frames), 30, "every frame in")
    drops = {k: int.from_bytes(v, "little") for k, v in bpf.map("drops").items()}
    want = Counter(v for v in verdict if v is not None)
    assert drops == {bytes(map(int, src.split("."))): n for src, n in want.items()}
    assert bpf.info()["verdicts"]["drop"] == len(frames) - len(passed)
    dump = ctl(mgr, "bpf", "map", "dump", str(ident), "drops", "--key-type", "ip4",
               "--value-type", "u64")
    rows = sorted(tuple(line.split()) for line in dump.stdout.splitlines()[1:])
    assert rows == sorted((f"ip4:{src}", f"u64:{n}") for src, n in want.items()), dump.stdout
    assert mgr.stop() == 0
    out = read_pcap(tmp_path / "out.pcap")
    for n, (frame, want_frame) in enumerate(zip(out, passed, strict=True)):
        assert frame == want_frame, f"frame {n} out: {Ether(frame).summary()}"


def phases_explain(sent: list[bytes], out: list[bytes],
                   phases: list[tuple[set[str], set[tuple[int, int]]]]) -> int:
    """The last of `phases` (block lists in force one after the other)
    that the output needs, if the output is what the firewall passes of
    `sent` when each phase holds for a stretch of it, in order; else
    AssertionError. Each phase is taken as early as the output allows."""
    phase, j = 0, 0
    for n, frame in enumerate(sent):
        passes = j < len(out) and out[j] == frame
        while phase < len(phases) and (blocked_by(frame, *phases[phase]) is None) != passes:
            phase += 1
        assert phase < len(phases), (f"frame {n} ({Ether(frame).summary()}) was "
                                     f"{'passed' if passes else 'dropped'} out of turn")
        j += passes
    assert j == len(out), f"{len(out) - j} frames out that were not sent"
    return phase


def test_block_lists_edited_while_traffic_flows(tmp_path, start_manager):
    """A slow forwarder ahead of the firewall makes the replay last; blocks
    change as it runs: a source blocked from Python, then TCP port 443
    blocked and the source unblocked with onvm-ctl. The output is the input
    cut into stretches, each filtered by the block lists of its time, and
    each source's drop counter is the number of its frames that did not
    come out."""
    obj = example("firewall", tmp_path)
    # Numbered TCP (every 7th UDP) from 10.1.0.0-3: from .0 and .2 to port
    # 80, from .1 (A) and .3 to port 443.
    frames = numbered_packets(10000, flows=4)
    write_pcap(tmp_path / "in.pcap", frames)
    write_pcap(tmp_path / "empty.pcap", [])
    mgr = start_manager("--port", f"net_pcap0,rx_pcap={tmp_path}/in.pcap",
                        "--port", f"net_pcap1,rx_pcap={tmp_path}/empty.pcap,"
                        f"tx_pcap={tmp_path}/out.pcap", "--chain", "2,1,out:1",
                        "--wait-for-chain")
    ident = nf_id(mgr, mgr.start_nf("bpf", 1, *program_args(obj, "jit")))
    bpf = client(mgr).bpf(ident)
    # 4 ms a batch: slow, yet fast enough that the manager never takes it
    # for stuck (port RX held back for 0.5 s) and drops at its ring.
    start_slow_forward(mgr, 2, delay=0.004)

    def seen(more: int) -> None:
        """Wait until the firewall has had `more` frames more."""
        def count() -> int:
            return sum(bpf.info()["verdicts"].values())
        target = count() + more
        mgr.wait_stats(lambda s: count() >= target, 30, f"{more} more frames")

    seen(500)
    bpf.map("blocked")[f"ip4:{A}"] = 1
    seen(1000)
    for args in (("set", str(ident), "blocked_ports", port_key(6, 443), "1"),
                 ("delete", str(ident), "blocked", f"ip4:{A}")):
        result = ctl(mgr, "bpf", "map", *args)
        assert result.returncode == 0, result.stderr
    seen(500)
    snap = mgr.wait_stats(lambda s: s["ports"]["0"]["rx"] == len(frames), 60,
                          "every frame in")
    mgr.wait_stats(lambda s: sum(bpf.info()["verdicts"].values()) == len(frames), 30,
                   f"every frame through the firewall (dataplane: {snap['dataplane']})")
    drops = {k: int.from_bytes(v, "little") for k, v in bpf.map("drops").items()}
    assert mgr.stop() == 0
    out = read_pcap(tmp_path / "out.pcap")
    phases = [(set(), set()), ({A}, set()), ({A}, {(6, 443)}), (set(), {(6, 443)})]
    assert phases_explain(frames, out, phases) == 3
    left = Counter(facts(f)[0] for f in frames) - Counter(facts(f)[0] for f in out)
    assert drops == {bytes(map(int, src.split("."))): n for src, n in left.items()}
    assert set(left) == {A, "10.1.0.3"}
