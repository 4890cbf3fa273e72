# SPDX-License-Identifier: BSD-3-Clause
"""A bpf NF killed while traffic flows: the manager returns its packets to
the pool and frees its maps and directory with its slot."""

from __future__ import annotations

import pytest

from onvm.errors import ControlError
from tests.support.bpf_programs import example, nf_id
from tests.support.control_helpers import client, numbered_packets, start_slow_forward
from tests.support.harness import wait_until
from tests.support.nf_helpers import chain_manager

pytestmark = pytest.mark.timeout(120)


def test_a_killed_bpf_nf_leaves_no_map_behind(tmp_path, start_manager):
    obj = example("switch", tmp_path)
    mgr = chain_manager(start_manager, tmp_path, numbered_packets(20000), "2,1,out:1")
    nf = mgr.start_nf("bpf", 1, "--", "--program", str(obj))
    ident = nf_id(mgr, nf)
    c = client(mgr)
    c.bpf(ident).map("ports")["mac:02:00:00:00:00:02"] = "u16:1"
    start_slow_forward(mgr, 2, 0.001)
    mgr.wait_stats(lambda s: s["ports"]["1"]["tx"] > 300, 30, "traffic")
    nf.kill()
    wait_until(lambda: f"NF {ident} 'bpf' died" in mgr.output(), 30, "the manager to reclaim")
    with pytest.raises(ControlError) as refused:
        c.call("bpf.info", nf=ident)
    assert refused.value.code == "not_found"
    again = mgr.start_nf("bpf", 1, "--", "--program", str(obj))
    fresh = c.bpf(nf_id(mgr, again)).map("ports")
    assert fresh.items() == []  # a new map, not the dead NF's
    mgr.wait_stats(lambda s: s["ports"]["1"]["tx"] > 1000, 60, "traffic through the new NF")
    assert mgr.stop() == 0
    assert "pool 16383/16383 free" in mgr.output()
