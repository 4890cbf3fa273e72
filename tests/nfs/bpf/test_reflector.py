# SPDX-License-Identifier: BSD-3-Clause
"""The eBPF reflector example through a real manager: each frame goes back
out of the port it came in on, its Ethernet addresses swapped, packet for
packet."""

from __future__ import annotations

import pytest
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import ARP, Dot1Q, Ether
from scapy.packet import Raw

from tests.support.bpf_programs import ENGINES, example, nf_id, program_args
from tests.support.control_helpers import client
from tests.support.pcaps import read_pcap, write_pcap

pytestmark = pytest.mark.timeout(90)

HOSTS = ["02:00:00:00:00:01", "02:00:00:00:00:02", "02:00:00:00:00:03"]
PEER = "02:00:00:00:00:fe"
RUNT = bytes(range(12))  # shorter than an Ethernet header: dropped


def frame(src: str, dst: str, n: int) -> bytes:
    """Frame n of a mix of kinds and sizes, from src to dst."""
    eth = Ether(src=src, dst=dst)
    kind = n % 5
    if kind == 0:
        pkt = eth / IP(src="10.0.0.1", dst="10.0.0.2") / UDP(sport=n, dport=53)
    elif kind == 1:
        pkt = eth / IP(src="10.0.0.1", dst="10.0.0.2") / TCP(sport=n, dport=80) / Raw(
            b"t" * (n * 37 % 1461))  # up to 1514-byte frames
    elif kind == 2:
        pkt = eth / IPv6(src="2001:db8::1", dst="2001:db8::2") / UDP(sport=n, dport=443)
    elif kind == 3:
        pkt = eth / Dot1Q(vlan=n % 4000) / IP(dst="10.0.0.9") / UDP(sport=n)
    else:
        pkt = eth / ARP(psrc="10.0.0.1", pdst="10.0.0.254")
    return bytes(pkt)


def port_traffic(port: int, count: int) -> tuple[list[bytes], list[bytes]]:
    """Frames for a port and the frames expected back out of it: the same
    frames built with source and destination swapped."""
    sent, back = [], []
    for n in range(count):
        src = HOSTS[(n + port) % len(HOSTS)]
        dst = PEER if n % 7 else "ff:ff:ff:ff:ff:ff"
        sent.append(frame(src, dst, n))
        back.append(frame(dst, src, n))
    return sent, back


@pytest.mark.parametrize("engine", ENGINES)
def test_reflector_sends_each_frame_back_swapped(tmp_path, start_manager, engine):
    """Two ports, each replaying its own frames; both engines must send the
    same frames back: the expected ones, each out of its input port."""
    obj = example("reflector", tmp_path)
    sent0, back0 = port_traffic(0, 300)
    sent1, back1 = port_traffic(1, 200)
    sent0.insert(150, RUNT)
    write_pcap(tmp_path / "in0.pcap", sent0)
    write_pcap(tmp_path / "in1.pcap", sent1)
    mgr = start_manager(
        *(a for p in (0, 1) for a in ("--port", f"net_pcap{p},rx_pcap={tmp_path}/in{p}.pcap,"
                                                f"tx_pcap={tmp_path}/out{p}.pcap")),
        "--chain", "1,out:1", "--wait-for-chain")
    nf = mgr.start_nf("bpf", 1, *program_args(obj, engine))
    bpf = client(mgr).bpf(nf_id(mgr, nf))
    assert bpf.info()["jit"] == (engine == "jit")
    mgr.wait_stats(lambda s: s["ports"]["0"]["tx"] + s["ports"]["1"]["tx"]
                   == len(back0) + len(back1), 30, "every frame back")
    verdicts = bpf.info()["verdicts"]
    assert (verdicts["tx"], verdicts["drop"]) == (len(back0) + len(back1), 1)
    assert mgr.stop() == 0
    for port, back in ((0, back0), (1, back1)):
        out = read_pcap(tmp_path / f"out{port}.pcap")
        for n, (got, want) in enumerate(zip(out, back, strict=True)):
            assert got == want, f"port {port} frame {n}: {Ether(got).summary()}"
