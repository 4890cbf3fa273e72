# SPDX-License-Identifier: BSD-3-Clause
"""Copies of packets: tee hops in chains, and NFs that clone packets
themselves. Every branch's output is compared packet by packet with what
it must be, a writer on one branch never changes another's bytes, and the
pool is full once the copies are gone. Each test runs with both ways of
moving packets from NF to NF."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from tests.support.bpf_programs import ctl
from tests.support.harness import wait_until
from tests.support.nf_helpers import start_nf_file
from tests.support.pcaps import mixed_packets, read_pcap, write_pcap

pytestmark = [pytest.mark.timeout(120), pytest.mark.parametrize("nf_to_nf", ["manager", "direct"])]

POOL_FULL = "pool 16383/16383 free"

# Rewrites the first 6 bytes (the destination MAC) of every packet, then
# passes it on, or sends it out of the port its argument names: a writer,
# as NFs are unless they say otherwise.
WRITER = """
from onvm.nflib import NF, NEXT, main, out_port

def run():
    nf = NF(name="writer")
    verdict = out_port(int(nf.args[0])) if nf.args else NEXT

    @nf.packet_handler
    def rewrite(pkt):
        pkt.data[0:6] = b"\\x02\\xee\\xee\\xee\\xee\\xee"
        return verdict

    nf.run()

raise SystemExit(main(run))
"""

# Sends a copy of every packet out of port 2 and the packet itself on:
# a read-only NF's copy shares the bytes, a writer's has its own, which it
# then changes (argument "write").
CLONER = """
import sys
from onvm.nflib import NF, NEXT, main, out_port

def run():
    write = "write" in sys.argv[1:]
    nf = NF(name="cloner", read_only=not write)

    @nf.packet_handler
    def copy(pkt):
        twin = nf.clone(pkt)
        if write:
            twin.data[0:6] = b"\\x02\\xcc\\xcc\\xcc\\xcc\\xcc"
        nf.send(twin, out_port(2))
        return NEXT

    nf.run()

raise SystemExit(main(run))
"""

# Holds every packet it gets, for ever: a read-only NF keeps shared ones.
HOARDER = """
from onvm.nflib import NF, NEXT, main

def run():
    nf = NF(name="hoarder", read_only=True)

    @nf.packet_handler
    def keep(pkt):
        nf.hold(pkt)
        return NEXT

    nf.run()

raise SystemExit(main(run))
"""


def ports(tmp: Path, packets: list[bytes], count: int) -> list[str]:
    """Port 0 replays `packets`; every port writes outN.pcap."""
    write_pcap(tmp / "in.pcap", packets)
    write_pcap(tmp / "empty.pcap", [])
    return [a for i in range(count) for a in (
        "--port", f"net_pcap{i},rx_pcap={tmp}/{'in' if i == 0 else 'empty'}.pcap,"
        f"tx_pcap={tmp}/out{i}.pcap")]


def out(tmp: Path, port: int) -> list[bytes]:
    return read_pcap(tmp / f"out{port}.pcap")


def with_mac(packets: list[bytes], mac: bytes) -> list[bytes]:
    return [mac + p[6:] for p in packets]


def nf_file(tmp: Path, name: str, text: str) -> Path:
    path = tmp / f"{name}.py"
    path.write_text(text)
    return path


def test_two_tees_fan_one_stream_out_to_three_ports(tmp_path, start_manager, nf_to_nf):
    packets = mixed_packets(1500, seed=11)
    mgr = start_manager("--nf-to-nf", nf_to_nf, *ports(tmp_path, packets, 4),
                        "--chain", "tee:2,tee:3,out:1", "--wait-for-chain")
    c_nf = mgr.start_nf("simple_forward", 2, "--", "--out", "2")
    py_nf = mgr.start_nf("simple_forward.py", 3, "--", "--out", "3")
    snap = mgr.wait_stats(
        lambda s: all(s["ports"][p]["tx"] == len(packets) for p in ("1", "2", "3")), 30,
        "the packets and both copies out")
    assert snap["dataplane"]["tee_copies"] == 2 * len(packets)
    assert snap["dataplane"]["tee_fail"] == 0
    # Read-only NFs: the copies reached them as they were, shared.
    assert mgr.nf_stats(snap, c_nf)["unshared"] == mgr.nf_stats(snap, py_nf)["unshared"] == 0
    assert mgr.stop() == 0
    assert out(tmp_path, 1) == packets
    assert out(tmp_path, 2) == packets
    assert out(tmp_path, 3) == packets
    assert out(tmp_path, 0) == []
    assert POOL_FULL in mgr.output()


def test_a_tee_after_an_nf_copies_what_that_nf_passed_on(tmp_path, start_manager, nf_to_nf):
    packets = mixed_packets(900, seed=12)
    mgr = start_manager("--nf-to-nf", nf_to_nf, *ports(tmp_path, packets, 3),
                        "--chain", "1,tee:2,out:1", "--wait-for-chain")
    mgr.start_nf("simple_forward", 1)
    mgr.start_nf("basic_monitor", 2)  # passes its copies on: their chain ends there
    snap = mgr.wait_stats(lambda s: s["ports"]["1"]["tx"] == len(packets)
                          and s["dataplane"]["chain_end"] == len(packets), 30,
                          "the packets out and every copy ended")
    assert snap["dataplane"]["tee_copies"] == len(packets)
    assert mgr.stop() == 0
    assert out(tmp_path, 1) == packets
    assert out(tmp_path, 2) == []
    assert POOL_FULL in mgr.output()


def test_a_writer_behind_a_tee_leaves_the_other_branch_alone(tmp_path, start_manager,
                                                            nf_to_nf):
    packets = mixed_packets(1200, seed=13)
    mgr = start_manager("--nf-to-nf", nf_to_nf, *ports(tmp_path, packets, 3),
                        "--chain", "tee:2,3,out:1", "--wait-for-chain")
    mgr.start_nf("simple_forward", 2, "--", "--out", "2")
    writer = start_nf_file(mgr, nf_file(tmp_path, "writer", WRITER), 3)
    snap = mgr.wait_stats(lambda s: s["ports"]["1"]["tx"] == len(packets)
                          and s["ports"]["2"]["tx"] == len(packets), 30, "both branches out")
    # A private copy of each packet still shared when the writer took it
    # (not of those whose copy had left port 2 already).
    assert mgr.nf_stats(snap, writer)["unshared"] <= len(packets)
    assert mgr.stop() == 0
    assert out(tmp_path, 1) == with_mac(packets, b"\x02\xee\xee\xee\xee\xee")
    assert out(tmp_path, 2) == packets
    assert POOL_FULL in mgr.output()


def test_a_writer_on_the_tee_branch_leaves_the_packet_alone(tmp_path, start_manager,
                                                           nf_to_nf):
    packets = mixed_packets(1200, seed=14)
    mgr = start_manager("--nf-to-nf", nf_to_nf, *ports(tmp_path, packets, 3),
                        "--chain", "tee:3,2,out:1", "--wait-for-chain")
    mgr.start_nf("basic_monitor", 2)
    writer = start_nf_file(mgr, nf_file(tmp_path, "writer", WRITER), 3, "--", "2")
    snap = mgr.wait_stats(lambda s: s["ports"]["1"]["tx"] == len(packets)
                          and s["ports"]["2"]["tx"] == len(packets), 30, "both branches out")
    assert mgr.nf_stats(snap, writer)["unshared"] == len(packets)
    assert mgr.stop() == 0
    assert out(tmp_path, 1) == packets
    assert out(tmp_path, 2) == with_mac(packets, b"\x02\xee\xee\xee\xee\xee")
    assert POOL_FULL in mgr.output()


@pytest.mark.parametrize("mode", ["read_only", "write"])
def test_an_nf_clones_packets_and_sends_the_copies_out(tmp_path, start_manager, nf_to_nf,
                                                      mode):
    packets = mixed_packets(1000, seed=15)
    mgr = start_manager("--nf-to-nf", nf_to_nf, *ports(tmp_path, packets, 3),
                        "--chain", "2,out:1", "--wait-for-chain")
    cloner = start_nf_file(mgr, nf_file(tmp_path, "cloner", CLONER), 2,
                           *(["--", "write"] if mode == "write" else []))
    snap = mgr.wait_stats(lambda s: s["ports"]["1"]["tx"] == len(packets)
                          and s["ports"]["2"]["tx"] == len(packets), 30, "packets and copies out")
    stats = mgr.nf_stats(snap, cloner)
    assert stats["clones"] == len(packets) and stats["clone_fail"] == 0
    assert mgr.stop() == 0
    assert out(tmp_path, 1) == packets
    copies = out(tmp_path, 2)
    assert copies == (packets if mode == "read_only"
                      else with_mac(packets, b"\x02\xcc\xcc\xcc\xcc\xcc"))
    assert POOL_FULL in mgr.output()


def test_copies_held_by_an_nf_that_dies_go_back_to_the_pool(tmp_path, start_manager,
                                                           nf_to_nf):
    packets = mixed_packets(600, seed=16)
    mgr = start_manager("--nf-to-nf", nf_to_nf, *ports(tmp_path, packets, 2),
                        "--chain", "tee:2,1,out:1", "--wait-for-chain")
    mgr.start_nf("simple_forward", 1)
    hoarder = start_nf_file(mgr, nf_file(tmp_path, "hoarder", HOARDER), 2)
    snap = mgr.wait_stats(lambda s: s["ports"]["1"]["tx"] == len(packets)
                          and mgr.nf_stats(s, hoarder)["holding"] == len(packets), 30,
                          "the packets out and every copy held")
    hoarder.popen.send_signal(signal.SIGKILL)
    hoarder.popen.wait(10)
    snap = wait_until(lambda: (s := mgr.stats())["pool"]["available"] == s["pool"]["size"]
                      and s, 10, "every mbuf back in the pool")
    assert snap["reclaimed_mbufs"] == len(packets)
    assert mgr.stop() == 0
    assert out(tmp_path, 1) == packets
    assert POOL_FULL in mgr.output()


def test_onvm_ctl_sets_a_tee_chain_and_the_ports_wait_for_its_services(
        tmp_path, start_manager, nf_to_nf):
    packets = mixed_packets(800, seed=17)
    mgr = start_manager("--nf-to-nf", nf_to_nf, *ports(tmp_path, packets, 3),
                        "--chain", "2,out:1", "--wait-for-chain")
    done = ctl(mgr, "chain", "set", "default", "tee:3,2,out:1")
    assert done.returncode == 0, done.stderr
    listed = ctl(mgr, "chain", "list")
    assert "tee:3,2,out:1" in listed.stdout
    mgr.start_nf("simple_forward", 2)
    assert mgr.stats()["ports_enabled"] is False  # the tee's service has no NF yet
    mgr.start_nf("simple_forward.py", 3, "--", "--out", "2")
    mgr.wait_stats(lambda s: s["ports"]["1"]["tx"] == len(packets)
                   and s["ports"]["2"]["tx"] == len(packets), 30, "both branches out")
    assert mgr.stop() == 0
    assert out(tmp_path, 1) == packets
    assert out(tmp_path, 2) == packets
    assert POOL_FULL in mgr.output()
