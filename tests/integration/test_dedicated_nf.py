# SPDX-License-Identifier: BSD-3-Clause
"""NFs on CPUs of their own (onvm-nf --dedicated): the manager gives each a
CPU that runs neither its control thread, a worker nor another NF, and an
NF finds none free is refused in one line. On this two-CPU machine a
manager on CPU 0 alone leaves CPU 1 to spare."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.support.nf_helpers import error_lines, pcap_ports
from tests.support.pcaps import flow_packets, read_pcap

REFUSED = re.compile(r"manager '[\w-]+' has no free CPU for a dedicated NF \(.*\): start "
                     r"this one without --dedicated, or with --core N$")


def cpus_of(pid: int) -> str:
    """The CPUs the NF's main thread (its lcore) may run on."""
    for line in Path(f"/proc/{pid}/task/{pid}/status").read_text().splitlines():
        if line.startswith("Cpus_allowed_list:"):
            return line.split(":", 1)[1].strip()
    raise AssertionError(f"no Cpus_allowed_list for pid {pid}")


def assert_refused(proc) -> None:
    assert proc.wait(20) != 0
    lines = error_lines(proc.output())
    assert len(lines) == 1 and REFUSED.search(lines[0]), proc.output()


@pytest.mark.timeout(90)
def test_a_dedicated_nf_gets_the_spare_cpu_and_forwards(tmp_path, start_manager):
    packets = flow_packets(1000, flows=20, seed=21)
    port0, port1, _, out = pcap_ports(tmp_path, packets)
    mgr = start_manager("--cores", "0", "--port", port0, "--port", port1,
                        "--chain", "1,out:1", "--wait-for-chain")
    nf = mgr.start_nf("simple_forward", 1, "--dedicated")
    assert cpus_of(nf.pid) == "1"
    snap = mgr.wait_stats(lambda s: s["ports"]["1"]["tx"] == len(packets), 30,
                          "every packet out of port 1")
    assert mgr.nf_stats(snap, nf)["sleeps"] == 0  # it busy-polls its CPU

    # CPU 1 is taken now: the next dedicated NF, C or Python, is refused.
    assert_refused(mgr.start_nf("simple_forward", 2, "--dedicated", wait=False))
    assert_refused(mgr.start_nf("simple_forward.py", 2, "--dedicated", wait=False))
    # ...and once the first leaves, CPU 1 is free again.
    nf.signal(2)
    assert nf.wait(20) == 0
    mgr.wait_stats(lambda s: not s["nfs"], 10, "the NF's slot to be freed")
    again = mgr.start_nf("simple_forward", 1, "--dedicated")
    assert cpus_of(again.pid) == "1"
    assert mgr.stop() == 0
    assert read_pcap(out) == packets


@pytest.mark.timeout(60)
def test_no_spare_cpu_refuses_in_one_line(start_manager):
    """--cores 0,1 takes both CPUs of this machine."""
    mgr = start_manager("--cores", "0,1", "--port", "net_null0")
    assert_refused(mgr.start_nf("simple_forward", 1, "--dedicated", wait=False))
    snap = mgr.stats()
    assert snap["nfs"] == {}  # the refused NF left no slot behind
    shared = mgr.start_nf("simple_forward", 1)  # without --dedicated it runs
    assert shared.alive()
    assert mgr.stop() == 0


@pytest.mark.timeout(60)
def test_dedicated_and_core_together_are_refused(start_manager):
    mgr = start_manager("--cores", "0", "--port", "net_null0")
    proc = mgr.start_nf("simple_forward", 1, "--dedicated", "--core", "1", wait=False)
    assert proc.wait(20) != 0
    assert error_lines(proc.output()) == [
        "simple_forward: --dedicated asks the manager for a free CPU and --core 1 names one: "
        "give one of them"]
    assert mgr.stop() == 0
