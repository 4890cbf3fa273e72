# SPDX-License-Identifier: BSD-3-Clause
"""The bundled Python NFs through a real manager: scapy packets in, the
packets (and the reports) each NF must produce out."""

from __future__ import annotations

import pytest
from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import ARP, Dot1Q, Ether
from scapy.packet import Raw

from tests.integration.expect import chain_manager, flow_reports, monitor_totals, port_mac
from tests.integration.harness import wait_until
from tests.integration.pcaps import mixed_packets, read_pcap

pytestmark = pytest.mark.timeout(60)


def test_simple_forward_py_passes_everything_on(tmp_path, start_manager):
    packets = mixed_packets(1200, seed=21)
    mgr = chain_manager(start_manager, tmp_path, packets, "1,out:1")
    nf = mgr.start_nf("simple_forward.py", 1)
    snap = mgr.wait_stats(lambda s: s["ports"]["1"]["tx"] == len(packets), 30,
                          "all packets out of port 1")
    assert mgr.nf_stats(snap, nf)["act_next"] == len(packets)
    assert "simple_forward.py: NF " in nf.output()
    assert mgr.stop() == 0
    assert read_pcap(tmp_path / "out1.pcap") == packets
    assert read_pcap(tmp_path / "out0.pcap") == []
    assert "pool 16383/16383 free" in mgr.output()


def test_simple_forward_py_dest_to_a_c_nf(tmp_path, start_manager):
    """--dest 2 sends every packet to the C simple_forward on service 2,
    whose NEXT continues the packet's chain: out of port 1."""
    packets = mixed_packets(1000, seed=22)
    mgr = chain_manager(start_manager, tmp_path, packets, "1,out:1")
    c_nf = mgr.start_nf("simple_forward", 2)
    py_nf = mgr.start_nf("simple_forward.py", 1, "--dest", "2")
    snap = mgr.wait_stats(lambda s: s["ports"]["1"]["tx"] == len(packets), 30,
                          "all packets out of port 1")
    assert mgr.nf_stats(snap, py_nf)["act_tonf"] == len(packets)
    assert mgr.nf_stats(snap, c_nf)["rx"] == len(packets)
    assert mgr.stop() == 0
    assert read_pcap(tmp_path / "out1.pcap") == packets


def test_basic_monitor_py_counts_every_packet_and_byte(tmp_path, start_manager):
    packets = mixed_packets(1500, seed=23)
    total = (len(packets), sum(len(p) for p in packets))
    mgr = chain_manager(start_manager, tmp_path, packets, "1,out:1")
    nf = mgr.start_nf("basic_monitor.py", 1)
    mgr.wait_stats(lambda s: s["ports"]["1"]["tx"] == len(packets), 30,
                   "all packets out of port 1")
    # The once-a-second report catches up with the traffic.
    wait_until(lambda: total in monitor_totals(nf.output()), 10,
               f"basic_monitor.py to report {total}")
    assert mgr.stop() == 0
    reports = monitor_totals(nf.output())
    assert reports[-1] == total  # the final report, printed as it leaves
    assert all(b <= total[1] for _, b in reports)
    assert read_pcap(tmp_path / "out1.pcap") == packets


# ---- flow_tracker.py ----

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


# ---- arp_response.py ----

ASKER_MAC, ASKER_IP = "02:00:00:00:aa:01", "10.0.0.100"


def arp_request(target: str, vlan: int | None = None, op: int = 1) -> bytes:
    eth = Ether(src=ASKER_MAC, dst="ff:ff:ff:ff:ff:ff")
    arp = ARP(op=op, hwsrc=ASKER_MAC, psrc=ASKER_IP, hwdst="00:00:00:00:00:00", pdst=target)
    pkt = eth / Dot1Q(vlan=vlan) / arp if vlan is not None else eth / arp
    raw = bytes(pkt)
    return raw + b"\x00" * (60 - len(raw))


def arp_reply(request: bytes, mac: str, asked: str, vlan: int | None = None) -> bytes:
    """What an ARP responder must answer: the request rewritten in place."""
    eth = Ether(src=mac, dst=ASKER_MAC)
    arp = ARP(op=2, hwsrc=mac, psrc=asked, hwdst=ASKER_MAC, pdst=ASKER_IP)
    raw = bytes(eth / Dot1Q(vlan=vlan) / arp if vlan is not None else eth / arp)
    return raw + request[len(raw):]


def test_arp_response_py_answers_for_its_addresses(tmp_path, start_manager):
    others = mixed_packets(300, seed=24)  # includes ARP requests for 10.0.0.254
    asked = [
        ("10.0.0.1", None), ("10.0.0.2", None), ("10.0.0.1", 7), ("10.0.0.2", None),
    ]
    not_ours = [arp_request("10.0.0.3"), arp_request("10.0.0.1", op=2),
                arp_request("10.0.0.20", vlan=7)]
    requests = [arp_request(ip, vlan) for ip, vlan in asked]
    packets = others[:100] + requests[:2] + not_ours + others[100:200] + requests[2:] \
        + others[200:]
    mgr = chain_manager(start_manager, tmp_path, packets, "1,out:1")
    mac = port_mac(mgr, 0)
    nf = mgr.start_nf("arp_response.py", 1, "--", "--ip", "10.0.0.1", "--ip", "10.0.0.2")
    passed_on = [p for p in packets if p not in requests]
    snap = mgr.wait_stats(
        lambda s: s["ports"]["1"]["tx"] == len(passed_on) and s["ports"]["0"]["tx"] == len(asked),
        30, "replies out of port 0 and the rest out of port 1")
    assert mgr.nf_stats(snap, nf)["act_out"] == len(asked)
    assert mgr.stop() == 0
    assert "sent 4 replies" in nf.output()

    assert read_pcap(tmp_path / "out1.pcap") == passed_on
    replies = read_pcap(tmp_path / "out0.pcap")
    assert replies == [arp_reply(req, mac, ip, vlan)
                       for req, (ip, vlan) in zip(requests, asked, strict=True)]
    for raw, (ip, _) in zip(replies, asked, strict=True):
        arp = Ether(raw)[ARP]
        assert (arp.op, arp.psrc, arp.hwsrc, arp.pdst) == (2, ip, mac, ASKER_IP)
