# SPDX-License-Identifier: BSD-3-Clause
"""Chains that drop, TONF to a service with two instances, and flow affinity
of both directions of a connection across instances."""

from __future__ import annotations

import random
import struct
from collections import defaultdict

import pytest
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import Dot1Q, Ether
from scapy.packet import Raw

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


def connections(count: int, seed: int) -> tuple[list[bytes], dict[bytes, int]]:
    """Both directions of `count` connections (TCP and UDP over IPv4 and
    IPv6, some VLAN-tagged), interleaved; and the connection of each frame."""
    rng = random.Random(seed)
    frames, conn_of = [], {}
    for c in range(count):
        if c % 2:
            a, b = f"2001:db8:{c:x}::1", f"2001:db8:ffff::{rng.randrange(1, 9)}"
            net = IPv6
        else:
            a, b = f"10.{c >> 8}.{c & 0xff}.1", f"192.168.0.{rng.randrange(1, 9)}"
            net = IP
        l4 = TCP if c % 3 else UDP
        sport, dport = rng.randrange(1024, 65536), rng.choice((80, 443, 53))
        for i in range(4):
            there = i % 2 == 0
            eth = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
            if c % 5 == 0:
                eth = eth / Dot1Q(vlan=100 + c % 7)
            pkt = eth / (net(src=a, dst=b) if there else net(src=b, dst=a))
            pkt = pkt / (l4(sport=sport, dport=dport) if there else l4(sport=dport, dport=sport))
            raw = bytes(pkt / Raw(struct.pack("!HH", c, i)))
            frames.append(raw)
            conn_of[raw] = c
    rng.shuffle(frames)
    return frames, conn_of


@pytest.mark.timeout(90)
@pytest.mark.parametrize("instances", [2, 3])
def test_both_directions_of_a_connection_reach_the_same_instance(tmp_path, start_manager,
                                                                  instances):
    """The flow hash is symmetric: a stateful NF scaled out sees the packets
    of both directions of a connection on one instance."""
    frames, conn_of = connections(200, seed=instances)
    write_pcap(tmp_path / "in.pcap", frames)
    write_pcap(tmp_path / "empty.pcap", [])
    outs = range(1, instances + 1)
    ports = [f"net_pcap0,rx_pcap={tmp_path}/in.pcap,tx_pcap={tmp_path}/out0.pcap"]
    ports += [f"net_pcap{i},rx_pcap={tmp_path}/empty.pcap,tx_pcap={tmp_path}/out{i}.pcap"
              for i in outs]
    mgr = start_manager(*[a for p in ports for a in ("--port", p)], "--chain", "1",
                        "--wait-for-chain")
    for i in outs:  # instance i of service 1 leaves by port i
        mgr.start_nf("simple_forward", 1, "--out", str(i))
    mgr.wait_stats(lambda s: sum(s["ports"][str(i)]["tx"] for i in outs) == len(frames), 30,
                   "every frame out of the instances' ports")
    assert mgr.stop() == 0
    instance_of = defaultdict(set)
    for i in outs:
        for raw in read_pcap(tmp_path / f"out{i}.pcap"):
            instance_of[conn_of[raw]].add(i)
    assert len(instance_of) == 200
    split = [c for c, seen in instance_of.items() if len(seen) > 1]
    assert split == [], f"{len(split)} of 200 connections split across instances"
    per_instance = defaultdict(int)
    for seen in instance_of.values():
        per_instance[next(iter(seen))] += 1
    assert min(per_instance.values()) >= 200 // instances // 2, dict(per_instance)
