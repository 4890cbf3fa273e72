# SPDX-License-Identifier: BSD-3-Clause
"""A manager and four NFs on this 2-core machine: idle NFs sleep and are
woken by traffic, and nothing is lost."""

from __future__ import annotations

import os
import time

from tests.support.pcaps import mixed_packets, read_pcap, write_pcap


def test_four_shared_core_nfs_on_two_cores(tmp_path, start_manager):
    assert len(os.sched_getaffinity(0)) >= 1
    packets = mixed_packets(4000, seed=11)
    write_pcap(tmp_path / "in.pcap", packets)
    write_pcap(tmp_path / "empty.pcap", [])
    mgr = start_manager(
        "--port", f"net_pcap0,rx_pcap={tmp_path}/in.pcap,tx_pcap={tmp_path}/o0.pcap",
        "--port", f"net_pcap1,rx_pcap={tmp_path}/empty.pcap,tx_pcap={tmp_path}/o1.pcap",
        "--chain", "1,2,3,4,out:1", "--wait-for-chain",
    )
    nfs = [mgr.start_nf("simple_forward", 1), mgr.start_nf("basic_monitor", 2),
           mgr.start_nf("simple_forward", 3), mgr.start_nf("simple_forward", 4)]
    snap = mgr.wait_stats(lambda s: s["ports"]["1"]["tx"] == len(packets), 60,
                          "packets through four hops")
    for nf in nfs:
        assert mgr.nf_stats(snap, nf)["rx"] == len(packets)

    # Idle now: every NF goes to sleep instead of spinning.
    time.sleep(0.5)
    slept = {nf.pid: mgr.nf_stats(mgr.stats(), nf)["sleeps"] for nf in nfs}
    time.sleep(0.5)
    snap = mgr.stats()
    for nf in nfs:
        stats = mgr.nf_stats(snap, nf)
        assert stats["sleeps"] > 0
        # Woken at most by its 100 ms liveness timer: a handful per second.
        assert stats["sleeps"] - slept[nf.pid] <= 20
    assert mgr.stop() == 0
    assert read_pcap(tmp_path / "o1.pcap") == packets


def test_nf_registration_is_fast(tmp_path, start_manager):
    """NF start to running: the handshake itself takes well under a second."""
    mgr = start_manager()
    started = time.monotonic()
    mgr.start_nf("simple_forward", 1)
    assert time.monotonic() - started < 3.0  # includes the onvm-nf launcher
    assert mgr.stop() == 0
