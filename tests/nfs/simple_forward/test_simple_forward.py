# SPDX-License-Identifier: BSD-3-Clause
"""simple_forward, C and Python, through a real manager: every packet passed
on, to the next hop, to a service (--dest) or out of a port (--out)."""

from __future__ import annotations

import pytest

from tests.support.nf_helpers import assert_nf_refuses, chain_manager
from tests.support.pcaps import mixed_packets, read_pcap

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


def test_c_simple_forward_out_sends_every_packet_out_of_that_port(tmp_path, start_manager):
    packets = mixed_packets(1000, seed=25)
    mgr = chain_manager(start_manager, tmp_path, packets, "1,out:1")
    nf = mgr.start_nf("simple_forward", 1, "--", "--out", "0")
    snap = mgr.wait_stats(lambda s: s["ports"]["0"]["tx"] == len(packets), 30,
                          "all packets out of port 0")
    assert mgr.nf_stats(snap, nf)["act_out"] == len(packets)
    assert mgr.stop() == 0
    assert read_pcap(tmp_path / "out0.pcap") == packets
    assert read_pcap(tmp_path / "out1.pcap") == []


def test_c_simple_forward_dest_hands_every_packet_to_that_service(tmp_path, start_manager):
    """--dest 2 sends every packet to basic_monitor on service 2, whose NEXT
    continues the packet's chain: out of port 1."""
    packets = mixed_packets(1000, seed=26)
    mgr = chain_manager(start_manager, tmp_path, packets, "1,out:1")
    monitor = mgr.start_nf("basic_monitor", 2)
    forward = mgr.start_nf("simple_forward", 1, "--", "--dest", "2")
    snap = mgr.wait_stats(lambda s: s["ports"]["1"]["tx"] == len(packets), 30,
                          "all packets out of port 1")
    assert mgr.nf_stats(snap, forward)["act_tonf"] == len(packets)
    assert mgr.nf_stats(snap, monitor)["rx"] == len(packets)
    assert mgr.stop() == 0
    assert read_pcap(tmp_path / "out1.pcap") == packets


@pytest.mark.parametrize("args, message", [
    (("--dest", "0"), "simple_forward: --dest takes a number from 1 to 63"),
    (("--dest", "64"), "simple_forward: --dest takes a number from 1 to 63"),
    (("--out", "x"), "simple_forward: --out takes a number from 0 to 15"),
    (("--bogus",), "usage: simple_forward --service ID [--dest SERVICE | --out PORT]"),
])
def test_c_simple_forward_refuses_a_bad_option(start_manager, args, message):
    assert_nf_refuses(start_manager(), "simple_forward", 1, args, message)
