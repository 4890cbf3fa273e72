# SPDX-License-Identifier: BSD-3-Clause
"""Chains that drop, and TONF to a service with two instances."""

from __future__ import annotations

from collections import defaultdict

from tests.support.pcaps import flow_id, flow_packets, mixed_packets, read_pcap, write_pcap


def test_chain_without_output_drops_everything(tmp_path, start_manager):
    packets = mixed_packets(1000, seed=3)
    write_pcap(tmp_path / "in.pcap", packets)
    mgr = start_manager("--port", f"net_pcap0,rx_pcap={tmp_path}/in.pcap,tx_pcap={tmp_path}/o.pcap",
                        "--chain", "1", "--wait-for-chain")
    nf = mgr.start_nf("simple_forward", 1)
    snap = mgr.wait_stats(lambda s: s["dataplane"]["chain_end"] == len(packets), 30,
                          "every packet to reach the end of the chain")
    assert mgr.nf_stats(snap, nf)["rx"] == len(packets)
    assert snap["ports"]["0"]["tx"] == 0
    assert snap["pool"]["available"] == snap["pool"]["size"]
    assert mgr.stop() == 0
    assert read_pcap(tmp_path / "o.pcap") == []


def test_tonf_to_a_service_without_instances_drops(tmp_path, start_manager):
    packets = mixed_packets(500, seed=4)
    write_pcap(tmp_path / "in.pcap", packets)
    mgr = start_manager("--port", f"net_pcap0,rx_pcap={tmp_path}/in.pcap,tx_pcap={tmp_path}/o.pcap",
                        "--chain", "1,out:0", "--wait-for-chain")
    mgr.start_nf("simple_forward", 1, "--dest", "9")  # nobody serves 9
    snap = mgr.wait_stats(lambda s: s["dataplane"]["no_dest"] == len(packets), 30,
                          "packets to an empty service to be dropped")
    assert snap["ports"]["0"]["tx"] == 0
    assert snap["pool"]["available"] == snap["pool"]["size"]
    assert mgr.stop() == 0


def test_flows_stay_on_one_instance(tmp_path, start_manager):
    """Service 1 sends to service 2, whose two instances leave by different
    ports: each flow must come out of one port only, in order."""
    packets = flow_packets(3000, flows=200)
    write_pcap(tmp_path / "in.pcap", packets)
    write_pcap(tmp_path / "empty.pcap", [])
    ports = [f"net_pcap0,rx_pcap={tmp_path}/in.pcap,tx_pcap={tmp_path}/out0.pcap"]
    ports += [f"net_pcap{i},rx_pcap={tmp_path}/empty.pcap,tx_pcap={tmp_path}/out{i}.pcap"
              for i in (1, 2)]
    args = [a for p in ports for a in ("--port", p)]
    mgr = start_manager(*args, "--chain", "1", "--wait-for-chain")
    mgr.start_nf("simple_forward", 2, "--out", "1")
    mgr.start_nf("simple_forward", 2, "--out", "2")
    mgr.start_nf("simple_forward", 1, "--dest", "2")
    mgr.wait_stats(lambda s: s["ports"]["1"]["tx"] + s["ports"]["2"]["tx"] == len(packets), 30,
                   "all packets out of ports 1 and 2")
    assert mgr.stop() == 0

    outputs = {i: read_pcap(tmp_path / f"out{i}.pcap") for i in (1, 2)}
    assert sorted(outputs[1] + outputs[2]) == sorted(packets)
    port_of_flow = defaultdict(set)
    for port, frames in outputs.items():
        for raw in frames:
            port_of_flow[flow_id(raw)].add(port)
    assert all(len(p) == 1 for p in port_of_flow.values()), "a flow was split"
    flows_per_port = {port: sum(1 for p in port_of_flow.values() if port in p) for port in (1, 2)}
    assert min(flows_per_port.values()) >= 40, flows_per_port  # both instances share the load
    for frames in outputs.values():  # per-flow order is kept
        by_flow = defaultdict(list)
        for raw in frames:
            by_flow[flow_id(raw)].append(raw)
        for fid, got in by_flow.items():
            assert got == [p for p in packets if flow_id(p) == fid]
