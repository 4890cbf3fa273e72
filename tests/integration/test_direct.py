# SPDX-License-Identifier: BSD-3-Clause
"""nf_to_nf = direct: NFs hand packets straight to the next NF. The
platform's guarantees are those of the manager mode, so the tests of those
guarantees run here again with every manager in direct mode (this module's
start_manager), next to tests that the packets did go direct."""

from __future__ import annotations

import pytest
from scapy.utils import rdpcap

from tests.integration import (
    test_control_live,
    test_drop_and_balance,
    test_hold_release,
    test_nf_crash,
    test_pcap_chain,
    test_stop_under_load,
)
from tests.integration.test_control_capture import capture
from tests.support.control_helpers import (
    client,
    numbered_packets,
    seq_of,
    start_slow_forward,
    three_pcap_ports,
)
from tests.support.harness import wait_until
from tests.support.nf_helpers import pcap_ports
from tests.support.pcaps import mixed_packets, read_pcap


@pytest.fixture
def start_manager(start_manager):
    """Every manager of this module hands packets over directly."""
    def start(*args: str, wait: bool = True):
        return start_manager("--nf-to-nf", "direct", *args, wait=wait)
    return start


def test_three_nf_chain_goes_direct_and_out_equals_in(tmp_path, start_manager):
    packets = mixed_packets(1500)
    port0, port1, _, out = pcap_ports(tmp_path, packets)
    mgr = start_manager("--port", port0, "--port", port1, "--chain", "1,2,3,out:1",
                        "--wait-for-chain")
    nfs = [mgr.start_nf("simple_forward", s) for s in (1, 2)]
    nfs.append(mgr.start_nf("basic_monitor", 3))
    snap = mgr.wait_stats(lambda s: s["ports"]["1"]["tx"] == len(packets), 30,
                          "all packets out of port 1")
    first, second, last = (mgr.nf_stats(snap, p) for p in nfs)
    # 1 -> 2 and 2 -> 3 never touched a worker; 3 -> port 1 did.
    assert first["direct"] == second["direct"] == len(packets)
    assert second["direct_in"] == last["direct_in"] == len(packets)
    assert first["tx"] == second["tx"] == 0
    assert last["tx"] == len(packets) and last["direct"] == 0
    assert first["direct_fallback"] == second["direct_fallback"] == 0
    assert mgr.stop() == 0
    assert read_pcap(out) == packets
    assert "pool 16383/16383 free" in mgr.output()


def test_a_capture_of_an_nf_input_takes_its_packets_through_the_manager(
        tmp_path, start_manager):
    """Captures are taken by the workers: while one runs at an NF's input,
    the packets for that NF take the manager's way; none is lost, and the
    capture holds consecutive packets of the stream, unchanged."""
    packets = numbered_packets(20_000)
    ports = three_pcap_ports(tmp_path, packets)
    mgr = start_manager(*(a for p in ports for a in ("--port", p)), "--chain", "1,2,out:1",
                        "--wait-for-chain")
    c = client(mgr)
    first = start_slow_forward(mgr, 1, 0.002)
    second = mgr.start_nf("simple_forward", 2)
    wait_until(lambda: c.call("stats")["ports"]["1"]["tx"] > 0, 30, "traffic out of port 1")
    second_id = next(n["id"] for n in c.call("nf.list") if n["pid"] == second.pid)
    status = capture(c, tmp_path / "in.pcapng", count=300, nf=second_id, direction="in")
    assert status["state"] == "done" and status["packets"] == 300, status
    frames = [bytes(p) for p in rdpcap(str(tmp_path / "in.pcapng"))]
    seqs = [seq_of(f) for f in frames]
    assert seqs == list(range(seqs[0], seqs[0] + 300))
    by_seq = {seq_of(p): p for p in packets}
    assert all(f == by_seq[s] for f, s in zip(frames, seqs, strict=True))
    snap = mgr.wait_stats(lambda s: s["ports"]["1"]["tx"] == len(packets), 60,
                          "all packets out of port 1")
    handed = mgr.nf_stats(snap, first)
    # Direct before and after the capture, through the manager during it.
    assert handed["direct"] > 0 and handed["tx"] >= 300, handed
    assert handed["direct"] + handed["tx"] == len(packets)
    assert handed["direct_fallback"] == 0
    assert mgr.stop() == 0
    assert read_pcap(tmp_path / "out1.pcap") == packets


def test_an_nf_sending_to_its_own_service_goes_through_the_manager(start_manager):
    """speed_tester looping to itself: its own ring would be the one it waits
    on, so those packets take the manager's way, at full speed."""
    mgr = start_manager()
    tester = mgr.start_nf("speed_tester", 1, "--", "--dest", "1", "--packets", "1024")
    base = mgr.wait_stats(lambda s: mgr.nf_stats(s, tester)["rx"] > 0, 10, "the loop")
    snap = mgr.wait_stats(
        lambda s: mgr.nf_stats(s, tester)["rx"] > mgr.nf_stats(base, tester)["rx"] + 1_000_000,
        20, "a million packets round the loop")
    stats = mgr.nf_stats(snap, tester)
    assert stats["direct"] == 0 and stats["direct_fallback"] == 0, stats
    assert mgr.stop() == 0


def test_a_loop_of_nfs_with_full_rings_keeps_moving(start_manager):
    """speed_tester -> simple_forward -> speed_tester with more packets than
    both direct rings hold: each NF finds the next one's ring full while
    that one waits on its own. Neither may wait for the other (they would
    for ever); the loop keeps going, through the manager when it must."""
    mgr = start_manager("--chain", "2,1")
    forward = mgr.start_nf("simple_forward", 2)
    tester = mgr.start_nf("speed_tester", 1, "--", "--dest", "2", "--chain",
                          "--packets", "4096")
    base = mgr.wait_stats(lambda s: mgr.nf_stats(s, tester)["rx"] > 0, 10, "the loop")
    snap = mgr.wait_stats(
        lambda s: mgr.nf_stats(s, tester)["rx"] > mgr.nf_stats(base, tester)["rx"] + 2_000_000,
        20, "two million packets round the loop")
    assert mgr.nf_stats(snap, forward)["direct"] > 0
    assert mgr.stop() == 0


test_two_nf_chain = test_pcap_chain.test_two_nf_chain_output_equals_input
test_flows_stay_on_one_instance = test_drop_and_balance.test_flows_stay_on_one_instance
test_both_directions_reach_one_instance = (
    test_drop_and_balance.test_both_directions_of_a_connection_reach_the_same_instance)
test_sigkill_of_an_nf_under_load = test_nf_crash.test_sigkill_of_an_nf_under_load
test_chain_replaced_under_load_loses_no_packet = (
    test_control_live.test_chain_replaced_under_load_loses_no_packet)
test_stopping_nfs_under_load_loses_no_mbuf = (
    test_stop_under_load.test_stopping_nfs_under_load_loses_no_mbuf)
test_held_packets_released_in_another_order = (
    test_hold_release.test_held_packets_come_out_in_the_order_the_nf_releases_them)
test_what_an_nf_holds_goes_back_to_the_pool = (
    test_hold_release.test_what_an_nf_still_holds_goes_back_to_the_pool)
