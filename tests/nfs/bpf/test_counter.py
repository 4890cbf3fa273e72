# SPDX-License-Identifier: BSD-3-Clause
"""The eBPF flow counter example through a real manager: every frame comes
out unchanged, and its maps, read from Python and onvm-ctl, hold exactly
the packets and bytes per flow that the test counts in the pcap."""

from __future__ import annotations

from collections import Counter

import pytest
from scapy.layers.inet import ICMP, IP, TCP, UDP, fragment
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import Dot1AD, Dot1Q, Ether
from scapy.layers.sctp import SCTP

from onvm.bpf import decode
from tests.support.bpf_programs import (
    ENGINES,
    EXAMPLES,
    compile_program,
    ctl,
    example,
    nf_id,
    program_args,
)
from tests.support.control_helpers import client
from tests.support.pcaps import mixed_packets, read_pcap, write_pcap

pytestmark = pytest.mark.timeout(90)

KEY_TYPES = "ip4,ip4,be16,be16,u8,pad:3"  # struct flow
NOT_IPV4, NO_ROOM = 0, 1  # indexes of map `other`
ETH = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")


def traffic() -> list[bytes]:
    """Mixed traffic (TCP, UDP, ICMP, IPv6, ARP, VLAN-tagged; 60 to 1514
    bytes) and the cases it lacks."""
    extra = []
    for n in range(20):
        def ip(n: int = n, **kw) -> IP:
            return IP(src=f"10.9.0.{n % 3}", dst="10.9.1.1", **kw)

        extra += [bytes(p) for p in (
            ETH / ip() / SCTP(sport=7, dport=9),
            ETH / ip(options=b"\x01" * 4) / TCP(sport=n, dport=80),  # ports further on
            ETH / ip(proto=47) / (b"gre" * n),  # no ports
            Ether(src=ETH.src, dst=ETH.dst) / Dot1AD(vlan=1) / Dot1Q(vlan=2) / ip() / UDP(),
            ETH / IPv6(src="2001:db8::1", dst="2001:db8::2") / ICMP(),
        )]
        # Only the first fragment has the ports: the others count apart.
        extra += [bytes(ETH / f) for f in fragment(ip() / UDP(sport=n % 2, dport=53)
                                                   / (b"x" * 64), fragsize=32)]
    return mixed_packets(1500, flows=48, seed=12) + extra


def flow_of(frame: bytes) -> tuple | None:
    """The reference: the 5-tuple a frame counts under, as the map's key
    decodes, or None for `other`."""
    pkt = Ether(frame)
    tags = sum(layer in pkt for layer in (Dot1Q, Dot1AD))
    if IP not in pkt or tags > 1:
        return None
    ip = pkt[IP]
    l4 = next((pkt[k] for k in (TCP, UDP, SCTP) if k in pkt), None)
    ports = (l4.sport, l4.dport) if l4 is not None and ip.frag == 0 else (0, 0)
    return ip.src, ip.dst, *ports, ip.proto


def count(frames: list[bytes], room: int = 1 << 30) -> tuple[dict, list[int]]:
    """Packets and bytes per flow, with at most `room` flows; and those
    of `other` [not IPv4, IPv4 without room], as [packets, bytes] each."""
    flows: dict[tuple, list[int]] = {}
    other = [[0, 0], [0, 0]]
    for frame in frames:
        key = flow_of(frame)
        if key is not None and (key in flows or len(flows) < room):
            tally = flows.setdefault(key, [0, 0])
        else:
            tally = other[NOT_IPV4 if key is None else NO_ROOM]
        tally[0] += 1
        tally[1] += len(frame)
    return flows, other


def read_flows(bpf) -> dict:
    """Map `flows`, from Python, as count() gives it."""
    out = {}
    for key, value in bpf.map("flows").items():
        fields = [f.partition(":")[2] for f in decode(key, KEY_TYPES).split(",")]
        src, dst, sport, dport, proto = fields
        out[(src, dst, int(sport), int(dport), int(proto))] = [
            int.from_bytes(value[:8], "little"), int.from_bytes(value[8:], "little")]
    return out


def read_other(bpf) -> list[list[int]]:
    other = bpf.map("other")
    return [[int.from_bytes(other[i][:8], "little"), int.from_bytes(other[i][8:], "little")]
            for i in (NOT_IPV4, NO_ROOM)]


def run(tmp_path, start_manager, obj, engine: str, frames: list[bytes]):
    """Run `frames` through the counter `obj` into out.pcap; returns the
    manager (traffic done) and the NF's bpf handle."""
    write_pcap(tmp_path / "in.pcap", frames)
    mgr = start_manager("--port", f"net_pcap0,rx_pcap={tmp_path}/in.pcap,"
                        f"tx_pcap={tmp_path}/out.pcap", "--chain", "1,out:0",
                        "--wait-for-chain")
    nf = mgr.start_nf("bpf", 1, *program_args(obj, engine))
    ident = nf_id(mgr, nf)
    mgr.wait_stats(lambda s: s["ports"]["0"]["tx"] == len(frames), 30, "every frame out")
    bpf = client(mgr).bpf(ident)
    assert bpf.info()["jit"] == (engine == "jit")
    return mgr, ident, bpf


def test_traffic_covers_each_case():
    flows, other = count(traffic())
    protos = Counter(key[4] for key in flows)
    assert {6, 17, 1, 132, 47} <= set(protos)
    assert any(key[2:4] == (0, 0) and key[4] == 17 for key in flows)  # later fragments
    assert other[NOT_IPV4][0] > 0 and len(flows) > 100


@pytest.mark.parametrize("engine", ENGINES)
def test_counter_counts_each_flow_and_passes_every_frame(tmp_path, start_manager, engine):
    """Both engines must count the same, and pass the same frames: the ones
    sent."""
    frames = traffic()
    mgr, ident, bpf = run(tmp_path, start_manager, example("counter", tmp_path), engine, frames)
    flows, other = count(frames)
    assert read_flows(bpf) == flows
    assert read_other(bpf) == other
    dump = ctl(mgr, "bpf", "map", "dump", str(ident), "flows", "--key-type", KEY_TYPES,
               "--value-type", "u64,u64")
    assert dump.returncode == 0, dump.stderr
    rows = sorted(tuple(line.split()) for line in dump.stdout.splitlines()[1:])
    assert rows == sorted((f"ip4:{s},ip4:{d},be16:{sp},be16:{dp},u8:{p}", f"u64:{n},u64:{b}")
                          for (s, d, sp, dp, p), (n, b) in flows.items()), dump.stdout
    # A counter set from userspace reads back as set: here, one reset.
    (src, dst, sport, dport, proto), _ = next(iter(flows.items()))
    key = f"ip4:{src},ip4:{dst},be16:{sport},be16:{dport},u8:{proto}"
    reset = ctl(mgr, "bpf", "map", "set", str(ident), "flows", key, "0")
    assert reset.returncode == 0, reset.stderr
    assert bpf.map("flows").get(key) == bytes(16)
    assert mgr.stop() == 0
    out = read_pcap(tmp_path / "out.pcap")
    for n, (frame, sent) in enumerate(zip(out, frames, strict=True)):
        assert frame == sent, f"frame {n} changed: {Ether(sent).summary()}"


def test_flows_beyond_the_map_count_as_no_room(tmp_path, start_manager):
    """With room for 8 flows (-DCOUNTER_FLOWS_MAX=8), the first 8 flows keep
    counting and every packet of a later one counts in other[1]."""
    obj = compile_program(EXAMPLES / "counter" / "counter.c", tmp_path, "COUNTER_FLOWS_MAX=8")
    frames = traffic()
    mgr, _, bpf = run(tmp_path, start_manager, obj, "jit", frames)
    flows, other = count(frames, room=8)
    assert len(flows) == 8 and other[NO_ROOM][0] > 0
    assert read_flows(bpf) == flows
    assert read_other(bpf) == other
    assert bpf.map_info("flows")["full"] > 0
    assert mgr.stop() == 0
    assert read_pcap(tmp_path / "out.pcap") == frames
