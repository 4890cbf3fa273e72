# SPDX-License-Identifier: BSD-3-Clause
"""basic_monitor, C and Python, through a real manager: it passes every packet
on and its reports count every packet and byte."""

from __future__ import annotations

import pytest

from tests.support.harness import wait_until
from tests.support.nf_helpers import chain_manager, monitor_totals
from tests.support.pcaps import mixed_packets, read_pcap

pytestmark = pytest.mark.timeout(60)


@pytest.mark.parametrize("nf_name, seed", [("basic_monitor.py", 23), ("basic_monitor", 27)])
def test_basic_monitor_counts_every_packet_and_byte(tmp_path, start_manager, nf_name, seed):
    packets = mixed_packets(1500, seed=seed)
    total = (len(packets), sum(len(p) for p in packets))
    mgr = chain_manager(start_manager, tmp_path, packets, "1,out:1")
    nf = mgr.start_nf(nf_name, 1)
    mgr.wait_stats(lambda s: s["ports"]["1"]["tx"] == len(packets), 30,
                   "all packets out of port 1")
    # The once-a-second report catches up with the traffic.
    wait_until(lambda: total in monitor_totals(nf.output()), 10,
               f"{nf_name} to report {total}")
    assert mgr.stop() == 0
    reports = monitor_totals(nf.output())
    assert reports[-1] == total  # the final report, printed as it leaves
    assert all(b <= total[1] for _, b in reports)
    assert read_pcap(tmp_path / "out1.pcap") == packets
