# SPDX-License-Identifier: BSD-3-Clause
"""basic_monitor, C and Python, through a real manager: it passes every packet
on and its reports count every packet and byte."""

from __future__ import annotations

import pytest

from tests.support.harness import wait_until
from tests.support.nf_helpers import chain_manager, monitor_totals
from tests.support.pcaps import mixed_packets, read_pcap

pytestmark = pytest.mark.timeout(60)


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


def test_c_basic_monitor_counts_every_packet_and_byte(tmp_path, start_manager):
    packets = mixed_packets(1500, seed=27)
    total = (len(packets), sum(len(p) for p in packets))
    mgr = chain_manager(start_manager, tmp_path, packets, "1,out:1")
    nf = mgr.start_nf("basic_monitor", 1)
    mgr.wait_stats(lambda s: s["ports"]["1"]["tx"] == len(packets), 30,
                   "all packets out of port 1")
    wait_until(lambda: total in monitor_totals(nf.output()), 10,
               f"basic_monitor to report {total}")
    assert mgr.stop() == 0
    reports = monitor_totals(nf.output())
    assert reports[-1] == total
    assert all(b <= total[1] for _, b in reports)
    assert read_pcap(tmp_path / "out1.pcap") == packets
