# SPDX-License-Identifier: BSD-3-Clause
"""Live changes over the control protocol while traffic flows: chains
replaced under load lose nothing, and flow rules steer packets from the
next burst on and stop when deleted."""

from __future__ import annotations

import time

from tests.support.control_helpers import (
    client,
    is_tcp80,
    numbered_packets,
    pcap_manager,
    seq_of,
    start_slow_forward,
)
from tests.support.pcaps import read_pcap

PACKETS = 30_000


def rx_of_port0(c) -> int:
    return c.call("stats")["ports"]["0"]["rx"]


def wait_drained(mgr, c, total: int, timeout: float = 60.0) -> dict:
    """Until every packet has left port 1 or 2 and the NFs are idle."""
    def done(snap):
        ports = snap["ports"]
        out = ports["1"]["tx"] + ports["2"]["tx"]
        return snap if ports["0"]["rx"] == total and out + dropped(snap) >= total else None
    return mgr.wait_stats(done, timeout, f"{total} packets to pass")


def dropped(snap: dict) -> int:
    dp = snap["dataplane"]
    return dp["act_drop"] + dp["chain_end"] + dp["no_dest"] + dp["ring_full_drop"]


def test_chain_replaced_under_load_loses_no_packet(tmp_path, start_manager):
    packets = numbered_packets(PACKETS)
    mgr = pcap_manager(start_manager, tmp_path, packets)
    first = start_slow_forward(mgr, 2, 0.002)  # both in place before traffic starts
    second = start_slow_forward(mgr, 1, 0.002)
    c = client(mgr)
    swaps = 0
    while rx_of_port0(c) < PACKETS * 0.9:
        c.call("chain.set", name="default", hops="2,out:1" if swaps % 2 == 0 else "1,out:1")
        swaps += 1
        time.sleep(0.03)
    snap = wait_drained(mgr, c, PACKETS)
    out = read_pcap_when_closed(mgr, tmp_path / "out1.pcap")
    assert swaps >= 10, f"traffic ended after {swaps} swaps: not a test under load"
    assert dropped(snap) == 0, snap["dataplane"]
    assert snap["ports"]["1"]["tx"] == PACKETS
    # Packets in flight finish on the version they started on, so order can
    # change at a swap; none may be lost or duplicated.
    assert sorted(out) == sorted(packets)
    nfs = {n["pid"]: n for n in snap["nfs"].values()}
    assert nfs[first.pid]["rx"] > 0 and nfs[second.pid]["rx"] > 0
    assert nfs[first.pid]["rx"] + nfs[second.pid]["rx"] == PACKETS


def read_pcap_when_closed(mgr, path) -> list[bytes]:
    """The tx pcap is complete once the manager has closed its ports."""
    assert mgr.stop() == 0, mgr.output()
    return read_pcap(path)


def test_flow_rule_steers_from_the_next_burst_until_deleted(tmp_path, start_manager):
    packets = numbered_packets(PACKETS)
    mgr = pcap_manager(start_manager, tmp_path, packets)
    c = client(mgr)
    c.call("chain.set", name="web", hops="out:2")
    start_slow_forward(mgr, 1, 0.002)
    while rx_of_port0(c) < PACKETS * 0.2:
        time.sleep(0.01)
    rule = c.call("flow.add", dst="192.168.7.0/24", proto="tcp", dport=80, chain="web")
    added_at = rx_of_port0(c)
    while rx_of_port0(c) < PACKETS * 0.6:
        time.sleep(0.01)
    hits = c.call("flow.list")[0]["hits"]
    c.call("flow.delete", id=rule["id"])
    deleted_at = rx_of_port0(c)
    assert added_at < deleted_at < PACKETS, "traffic ended before the rule was deleted"
    snap = wait_drained(mgr, c, PACKETS)
    assert dropped(snap) == 0
    assert mgr.stop() == 0
    out1, out2 = read_pcap(tmp_path / "out1.pcap"), read_pcap(tmp_path / "out2.pcap")
    assert sorted(out1 + out2) == sorted(packets)
    assert all(is_tcp80(f) for f in out2), "a packet the rule does not match was steered"
    steered = [seq_of(f) for f in out2]
    assert steered == sorted(steered)  # chain out:2 has no NF: port order kept
    # Steering is one contiguous run of the matching packets: from the burst
    # after the rule went in to the burst after it went out; none missed.
    matching = [seq_of(f) for f in packets if is_tcp80(f)]
    start = matching.index(steered[0])
    assert steered == matching[start:start + len(steered)]
    assert steered[0] <= added_at + 64 and steered[-1] <= deleted_at + 64
    assert hits <= len(steered)


def test_idle_rule_expires_and_busy_rule_stays(tmp_path, start_manager):
    packets = numbered_packets(PACKETS * 2)
    mgr = pcap_manager(start_manager, tmp_path, packets)
    c = client(mgr)
    c.call("chain.set", name="web", hops="out:2")
    start_slow_forward(mgr, 1, 0.002)
    while rx_of_port0(c) == 0:
        time.sleep(0.01)
    # A rule's idle time counts from when it is added, traffic or not.
    busy = c.call("flow.add", proto="tcp", dport=80, chain="web", idle_timeout=0.4)
    idle = c.call("flow.add", src="2001:db8::/32", chain="web", idle_timeout=0.4)
    time.sleep(1.2)
    rules = {r["id"]: r for r in c.call("flow.list")}
    assert rx_of_port0(c) < PACKETS * 2, "traffic ended too early for this test"
    assert idle["id"] not in rules
    assert rules[busy["id"]]["hits"] > 0
