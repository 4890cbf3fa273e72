# SPDX-License-Identifier: BSD-3-Clause
"""arp_response.py through a real manager: ARP requests for its addresses
answered out of the port they came in on, everything else passed on."""

from __future__ import annotations

import pytest
from scapy.layers.l2 import ARP, Dot1Q, Ether

from tests.support.nf_helpers import chain_manager, port_mac
from tests.support.pcaps import mixed_packets, read_pcap

pytestmark = pytest.mark.timeout(60)


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
