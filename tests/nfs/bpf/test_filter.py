# SPDX-License-Identifier: BSD-3-Clause
"""The bpf NF as a tcpdump filter through a real manager, JIT-compiled and
interpreted (--interp): it keeps exactly the frames the expression matches
(or, with --invert, the others), in order."""

from __future__ import annotations

import pytest
from scapy.layers.inet import TCP, UDP
from scapy.layers.l2 import Ether

from tests.support.bpf_programs import nf_id
from tests.support.control_helpers import client
from tests.support.nf_helpers import assert_nf_refuses, chain_manager
from tests.support.pcaps import mixed_packets, read_pcap

pytestmark = pytest.mark.timeout(60)

EXPRESSION = "udp or tcp port 80"


def matches(frame: bytes) -> bool:
    """EXPRESSION, told by scapy: over IPv4 or IPv6 straight on Ethernet
    (tcpdump's `udp` takes no VLAN-tagged frame)."""
    eth = Ether(frame)
    if eth.type not in (0x0800, 0x86DD):
        return False
    return UDP in eth or (TCP in eth and 80 in (eth[TCP].sport, eth[TCP].dport))


@pytest.mark.parametrize("interp", [False, True], ids=["jit", "interpreter"])
@pytest.mark.parametrize("invert", [False, True], ids=["match", "invert"])
def test_filter_keeps_what_it_matches(tmp_path, start_manager, interp, invert):
    packets = mixed_packets(1200, seed=31)
    kept = [p for p in packets if matches(p) != invert]
    assert 0 < len(kept) < len(packets)
    mgr = chain_manager(start_manager, tmp_path, packets, "1,out:1")
    args = ["--filter", EXPRESSION] + (["--invert"] if invert else []) \
        + (["--interp"] if interp else [])
    nf = mgr.start_nf("bpf", 1, "--", *args)
    info = client(mgr).bpf(nf_id(mgr, nf)).info()
    assert info["kind"] == "filter" and info["jit"] is not interp
    mgr.wait_stats(lambda s: mgr.nf_stats(s, nf)["rx"] == len(packets), 30,
                   "every frame through the filter")
    snap = mgr.wait_stats(lambda s: s["ports"]["1"]["tx"] == len(kept), 30,
                          "the kept frames out of port 1")
    assert mgr.nf_stats(snap, nf)["act_drop"] == len(packets) - len(kept)
    assert ("JIT" if not interp else "interpreter") in nf.output()
    assert mgr.stop() == 0
    assert read_pcap(tmp_path / "out1.pcap") == kept


def test_section_is_for_programs(tmp_path, start_manager):
    mgr = start_manager()
    out = assert_nf_refuses(mgr, "bpf", 1, ("--filter", "udp", "--section", "onvm"),
                            "--section is for --program")
    assert len([ln for ln in out.splitlines() if ln.strip()]) == 1, out
