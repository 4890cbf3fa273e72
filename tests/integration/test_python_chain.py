# SPDX-License-Identifier: BSD-3-Clause
"""Python and C NFs in one chain: packets cross between them unchanged."""

from __future__ import annotations

import pytest

from tests.support.harness import wait_until
from tests.support.nf_helpers import chain_manager, monitor_totals
from tests.support.pcaps import mixed_packets, read_pcap

pytestmark = pytest.mark.timeout(60)


def test_python_c_python_chain(tmp_path, start_manager):
    packets = mixed_packets(1200, seed=41)
    total = (len(packets), sum(len(p) for p in packets))
    mgr = chain_manager(start_manager, tmp_path, packets, "1,2,3,out:1")
    nfs = [mgr.start_nf("simple_forward.py", 1), mgr.start_nf("simple_forward", 2),
           mgr.start_nf("basic_monitor.py", 3)]
    snap = mgr.wait_stats(lambda s: s["ports"]["1"]["tx"] == len(packets), 30,
                          "all packets through three hops")
    for nf in nfs:
        assert mgr.nf_stats(snap, nf)["rx"] == len(packets)
        assert mgr.nf_stats(snap, nf)["act_next"] == len(packets)
    wait_until(lambda: total in monitor_totals(nfs[2].output()), 10,
               "basic_monitor.py to count every packet")
    assert mgr.stop() == 0
    assert read_pcap(tmp_path / "out1.pcap") == packets
    assert read_pcap(tmp_path / "out0.pcap") == []
    assert "pool 16383/16383 free" in mgr.output()
