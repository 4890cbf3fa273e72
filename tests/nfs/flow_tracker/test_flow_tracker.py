# SPDX-License-Identifier: BSD-3-Clause
"""flow_tracker.py through a real manager: per-flow counters, the top flows
and idle expiry, reported while every packet passes on."""

from __future__ import annotations

import pytest
from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import ARP, Dot1Q, Ether
from scapy.packet import Raw

from tests.support.harness import wait_until
from tests.support.nf_helpers import chain_manager, flow_reports
from tests.support.pcaps import read_pcap

pytestmark = pytest.mark.timeout(60)


ETH = Ether(src="02:00:00:00:00:0a", dst="02:00:00:00:00:0b")

# (packets, frame size, the flow, how flow_tracker.py names it); sizes chosen
# so that bytes rank the flows as packets do.
FLOWS = [
    (500, 100, ETH / IP(src="10.0.0.1", dst="10.0.0.2") / TCP(sport=40000, dport=80),
     "tcp 10.0.0.1:40000 -> 10.0.0.2:80"),
    (300, 128, ETH / IPv6(src="2001:db8::1", dst="2001:db8::2") / UDP(sport=5353, dport=53),
     "udp 2001:db8::1:5353 -> 2001:db8::2:53"),
    (100, 200, ETH / IP(src="10.0.0.3", dst="10.0.0.4") / ICMP(id=7),
     "icmp 10.0.0.3 -> 10.0.0.4"),
    (50, 300, ETH / Dot1Q(vlan=5) / IP(src="10.0.0.5", dst="10.0.0.6") / UDP(sport=1, dport=2),
     "udp 10.0.0.5:1 -> 10.0.0.6:2"),
    (20, 400, ETH / IPv6(src="2001:db8::5", dst="2001:db8::6") / TCP(sport=443, dport=50000),
     "tcp 2001:db8::5:443 -> 2001:db8::6:50000"),
    (10, 64, ETH / ARP(pdst="10.0.0.9"), "non-IP ethertype 0x0806"),
    (5, 64, ETH / IP(src="10.0.0.7", dst="10.0.0.8") / UDP(sport=9, dport=9),
     "udp 10.0.0.7:9 -> 10.0.0.8:9"),
]


def flow_traffic() -> list[bytes]:
    """The flows interleaved, every packet of a flow the same size."""
    frames = []
    for count, size, pkt, _ in FLOWS:
        raw = bytes(pkt / Raw(b"\xab" * (size - len(bytes(pkt)))))
        assert len(raw) == size
        frames.append([raw] * count)
    out = []
    for i in range(max(len(f) for f in frames)):
        out += [f[i] for f in frames if i < len(f)]
    return out


def test_flow_tracker_py_reports_the_top_flows(tmp_path, start_manager):
    packets = flow_traffic()
    top = [(count, count * size, name) for count, size, _, name in FLOWS[:5]]
    mgr = chain_manager(start_manager, tmp_path, packets, "1,out:1")
    nf = mgr.start_nf("flow_tracker.py", 1, "--interval", "1", "--top", "5")
    mgr.wait_stats(lambda s: s["ports"]["1"]["tx"] == len(packets), 30,
                   "all packets out of port 1")

    def full_report():
        return next((r for r in flow_reports(nf.output()) if r["top"] == top), None)

    report = wait_until(full_report, 10, "a report with the top 5 flows")
    assert report["active"] == len(FLOWS)
    assert report["expired"] == 0
    assert mgr.stop() == 0
    assert read_pcap(tmp_path / "out1.pcap") == packets


def test_flow_tracker_py_expires_idle_flows(tmp_path, start_manager):
    packets = flow_traffic()
    mgr = chain_manager(start_manager, tmp_path, packets, "1,out:1")
    nf = mgr.start_nf("flow_tracker.py", 1, "--interval", "0.5", "--idle-timeout", "1")
    mgr.wait_stats(lambda s: s["ports"]["1"]["tx"] == len(packets), 30,
                   "all packets out of port 1")

    def expired():
        reports = flow_reports(nf.output())
        return reports if reports and reports[-1]["active"] == 0 and \
            reports[-1]["expired"] == len(FLOWS) else None

    reports = wait_until(expired, 10, "every flow to expire")
    assert reports[-1]["top"] == []
    assert any(r["active"] == len(FLOWS) for r in reports)  # they were all seen first
    assert mgr.stop() == 0
    assert read_pcap(tmp_path / "out1.pcap") == packets
