# SPDX-License-Identifier: BSD-3-Clause
"""onvm-bench pping runs end to end with tiny settings: each row handled
the loop's frames, none lost. It checks that the program works, not the
figures."""

from __future__ import annotations

import json

import pytest

from onvm.bench.pping_nf import CONNECTIONS, SEGMENTS, tcp_timestamp_frames
from tests.support.bench_run import run_bench

pytestmark = pytest.mark.timeout(200)


def positive(spread: dict) -> bool:
    return 0 < spread["min"] <= spread["median"] <= spread["max"]


def test_pping_beside_simple_forward(tmp_path):
    out = tmp_path / "pping.json"
    stdout = run_bench(tmp_path, "pping", ["--seconds", "0.2", "--repeat", "1", "--no-limits",
                                           "--json", str(out)], 150)
    result = json.loads(out.read_text())
    rows = {r["nf"]: r for r in result["results"]}
    assert list(rows) == ["C simple_forward", "pping, TCP timestamps", "pping, no timestamps"]
    for row in rows.values():
        assert positive(row["mpps_per_core"]) and positive(row["wall_mpps"]), row
        assert row["drops"] == 0, row
    assert rows["C simple_forward"]["x_simple_forward"]["median"] == 1.0
    assert "pping, TCP timestamps" in stdout


def test_the_tcp_frames_carry_their_own_tsvals_and_echoes():
    from scapy.layers.inet import TCP
    from scapy.layers.l2 import Ether

    frames = tcp_timestamp_frames(64)
    assert len(frames) == 2 * CONNECTIONS * SEGMENTS == 1024
    stamps = [dict(Ether(f)[TCP].options)["Timestamp"] for f in frames]
    assert len(set(stamps)) == 2 * SEGMENTS  # per direction, one per segment
