# SPDX-License-Identifier: BSD-3-Clause
"""bpf --filter: a tcpdump expression keeps, out of the same pcap, exactly
the frames tcpdump itself keeps, in order; --invert keeps exactly the rest;
the manager counts the kept ones as NEXT and the others as DROP."""

from __future__ import annotations

import pytest

from tests.support.bpf_helpers import BpfRun, first_difference, tcpdump_keeps
from tests.support.pcaps import mixed_packets, odd_packets

pytestmark = pytest.mark.timeout(60)

EXPRESSIONS = [
    "tcp",
    "udp port 53",
    "host 10.0.0.1",
    "ip6",
    "vlan",
    "vlan and udp port 53",
    "tcp[tcpflags] & tcp-syn != 0",
    "not arp",
    "ether src 02:00:00:00:00:01",
    "ether broadcast",
    "ip[8] < 10",
    "greater 200",
    "less 60",
    "icmp or icmp6",
    "ip and ip[6:2] & 0x1fff != 0",
    "ip6 and udp",
    "ip proto 47",
]


def _packets() -> list[bytes]:
    # The edge cases first and last: the pcap port replays them in bursts.
    odd = odd_packets()
    return odd + mixed_packets(600, seed=41) + odd[::-1]


@pytest.mark.parametrize("expr", EXPRESSIONS)
def test_filter_keeps_what_tcpdump_keeps(tmp_path, start_manager, expr):
    packets = _packets()
    run = BpfRun(start_manager, tmp_path, packets, "--filter", expr)
    want = tcpdump_keeps(tmp_path / "in.pcap", expr, tmp_path / "tcpdump.pcap")
    got, counters = run.finish()
    assert got == want, f"{expr}: {first_difference(got, want)}"
    assert counters["act_next"] == len(want)
    assert counters["act_drop"] == len(packets) - len(want)
    assert f"keeping packets that match '{expr}'" in run.nf.output()


@pytest.mark.parametrize("expr", ["tcp", "udp port 53", "vlan", "ip[8] < 10", "greater 200"])
def test_invert_keeps_exactly_the_rest(tmp_path, start_manager, expr):
    """The complement of the filter's matches, frames cut short included
    (a filter reading past a frame's end matches nothing, so they are
    kept here though tcpdump's `not (EXPR)` would drop them)."""
    packets = _packets()
    run = BpfRun(start_manager, tmp_path, packets, "--filter", expr, "--invert")
    matched = set(tcpdump_keeps(tmp_path / "in.pcap", expr, tmp_path / "tcpdump.pcap"))
    # A filter sees only a frame's bytes: equal frames get the same verdict.
    want = [p for p in packets if p not in matched]
    got, counters = run.finish()
    assert got == want, f"not {expr}: {first_difference(got, want)}"
    assert counters["act_next"] == len(want)
    assert counters["act_drop"] == len(packets) - len(want)
    assert f"keeping packets that do not match '{expr}'" in run.nf.output()
    assert matched and want, "the traffic has frames on both sides of the filter"
