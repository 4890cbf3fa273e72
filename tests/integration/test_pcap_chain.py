# SPDX-License-Identifier: BSD-3-Clause
"""Packets through a chain of two C NFs come out exactly as they went in."""

from __future__ import annotations

from tests.support.nf_helpers import pcap_ports
from tests.support.pcaps import mixed_packets, read_pcap


def test_two_nf_chain_output_equals_input(tmp_path, start_manager):
    packets = mixed_packets(1200)
    assert {len(p) for p in packets} >= {60, 1514}
    port0, port1, _, out = pcap_ports(tmp_path, packets)
    mgr = start_manager("--port", port0, "--port", port1, "--chain", "1,2,out:1",
                        "--wait-for-chain")
    first = mgr.start_nf("simple_forward", 1)
    second = mgr.start_nf("basic_monitor", 2)

    snap = mgr.wait_stats(lambda s: s["ports"]["1"]["tx"] == len(packets), 30,
                          "all packets out of port 1")
    assert snap["ports"]["0"]["rx"] == len(packets)
    assert mgr.nf_stats(snap, first)["rx"] == len(packets)
    assert mgr.nf_stats(snap, second)["rx"] == len(packets)
    assert mgr.nf_stats(snap, second)["act_next"] == len(packets)

    assert mgr.stop() == 0
    assert read_pcap(out) == packets
    assert read_pcap(tmp_path / "out0.pcap") == []
    assert "summary:" in mgr.output()
    assert "pool 16383/16383 free" in mgr.output()


def test_ports_wait_for_the_chain(tmp_path, start_manager):
    packets = mixed_packets(300, seed=7)
    port0, port1, _, out = pcap_ports(tmp_path, packets)
    mgr = start_manager("--port", port0, "--port", port1, "--chain", "1,2,out:1",
                        "--wait-for-chain")
    mgr.start_nf("simple_forward", 1)
    snap = mgr.stats()
    assert snap["ports_enabled"] is False
    assert snap["ports"]["0"]["rx"] == 0  # held until service 2 runs
    mgr.start_nf("simple_forward", 2)
    mgr.wait_stats(lambda s: s["ports"]["1"]["tx"] == len(packets), 30, "packets out")
    assert mgr.stop() == 0
    assert read_pcap(out) == packets


def test_nf_joining_later_leaves_the_ports_alone(tmp_path, start_manager):
    """NFs are DPDK secondaries: they must not re-open the manager's pcap
    ports (which would truncate the output file)."""
    packets = mixed_packets(200, seed=9)
    port0, port1, _, out = pcap_ports(tmp_path, packets)
    mgr = start_manager("--port", port0, "--port", port1, "--chain", "1,out:1",
                        "--wait-for-chain")
    mgr.start_nf("simple_forward", 1)
    mgr.wait_stats(lambda s: s["ports"]["1"]["tx"] == len(packets), 30, "packets out")
    mgr.start_nf("basic_monitor", 5)  # joins after the traffic
    assert mgr.stop() == 0
    assert read_pcap(out) == packets
