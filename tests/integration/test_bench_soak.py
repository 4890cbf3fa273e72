# SPDX-License-Identifier: BSD-3-Clause
"""`onvm-bench soak` runs end to end with tiny settings and writes the JSON
and PNG its users read: the verdicts are there, whatever they say. It
checks that the program works, not the figures."""

from __future__ import annotations

import json

import pytest

from tests.support.bench_run import run_bench

pytestmark = pytest.mark.timeout(300)


def test_soak_writes_verdicts_and_series(tmp_path):
    out, png = tmp_path / "soak.json", tmp_path / "soak.png"
    stdout = run_bench(tmp_path, "soak", ["--minutes", "0.1", "--load", "50", "--no-limits",
                                          "--json", str(out), "--plot", str(png)], 150)
    assert "lost nothing" in stdout and "leaked nothing" in stdout
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    result = json.loads(out.read_text())
    assert result["scenario"] == "soak" and result["machine"]["dpdk"]
    assert result["layout"]["manager"] and result["load_pct"] == 50
    assert isinstance(result["lost_nothing"], bool)
    assert isinstance(result["leaked_nothing"], bool)
    assert isinstance(result["saturated"], bool)
    assert result["samples"] and set(result["pool"]) >= {"size", "start", "after_stop"}
    assert set(result["drops"]["dataplane"]) == {
        "act_drop", "chain_end", "chain_gone", "no_dest", "ring_full_drop"}
    # An RSS figure for the manager and each NF of the loop.
    assert len(result["rss"]) == 3
