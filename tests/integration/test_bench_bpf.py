# SPDX-License-Identifier: BSD-3-Clause
"""onvm-bench bpf runs end to end with tiny settings: every NF handles the
loop's frames, the filter leaves out exactly the frames it does not keep,
the switch sends the frames of the hosts in its map out of the loopback
port, and each bpf row ran JIT-compiled or interpreted as labelled. It
checks that the program works, not the figures."""

from __future__ import annotations

import json

import pytest
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.l2 import Ether

from onvm.bench.bpf_nfs import FILTER, HIT_HOSTS, HOSTS, LOOP_FRAMES, loop_frames
from tests.support.bench_run import run_bench

pytestmark = pytest.mark.timeout(300)


def positive(spread: dict) -> bool:
    return 0 < spread["min"] <= spread["median"] <= spread["max"]


def test_bpf_nfs_beside_c(tmp_path):
    out = tmp_path / "bpf.json"
    stdout = run_bench(tmp_path, "bpf", ["--seconds", "0.2", "--repeat", "1", "--no-limits",
                                         "--json", str(out)], 240)
    result = json.loads(out.read_text())
    rows = {r["nf"]: r for r in result["results"]}
    assert list(rows) == ["C simple_forward", "C basic_monitor", "filter, JIT",
                          "filter, interpreter", "filter --invert, JIT",
                          "filter --invert, interpreter", "switch, JIT", "switch, interpreter"]
    for row in rows.values():
        assert positive(row["mpps_per_core"]) and positive(row["wall_mpps"]), row
        assert row["drops"] == 0, row
    assert rows["C simple_forward"]["x_simple_forward"]["median"] == 1.0
    assert result["switch_jit_x_simple_forward"] == rows["switch, JIT"]["x_simple_forward"]

    # What FILTER matches, told by scapy: the filter dropped the rest at
    # their first pass, and --invert the matching ones; then all are kept.
    def matches(frame: bytes) -> bool:
        ip = Ether(frame)[IP]
        return UDP in ip or (TCP in ip and 80 in (ip[TCP].sport, ip[TCP].dport))

    assert FILTER == "udp or tcp port 80"
    matching = sum(matches(f) for f in loop_frames(64))
    assert 0 < matching < LOOP_FRAMES and result["traffic"]["filter_matching"] == matching
    for name in ("filter, JIT", "filter, interpreter"):
        assert rows[name]["dropped"] == [LOOP_FRAMES - matching]
    for name in ("filter --invert, JIT", "filter --invert, interpreter"):
        assert rows[name]["dropped"] == [matching]
    for name in ("switch, JIT", "switch, interpreter"):
        assert rows[name]["dropped"] == [0]
        # The frames round the loop all take one path: hits are their share.
        assert rows[name]["redirected"]["median"] == pytest.approx(HIT_HOSTS / HOSTS, abs=0.03)
    for name, row in rows.items():
        if row["kind"] != "c":
            assert row["kept"]["median"] == 1.0 and row["copied"] == 0, row
            assert row["jit"] == ["JIT" in name], row
    assert "switch JIT = " in stdout and "x C simple_forward" in stdout
