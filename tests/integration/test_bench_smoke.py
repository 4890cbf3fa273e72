# SPDX-License-Identifier: BSD-3-Clause
"""The testpmd benchmarks run end to end: real managers, NFs and testpmds,
one short run each. They check that the programs work, not the figures."""

from __future__ import annotations

import json
import shutil

import pytest

from tests.support.bench_run import run_bench

pytestmark = [
    pytest.mark.timeout(300),
    pytest.mark.skipif(shutil.which("dpdk-testpmd") is None,
                       reason="dpdk-testpmd is not installed (Debian package dpdk)"),
]


def bench(tmp_path, scenario: str, timeout: float = 150) -> dict:
    out = tmp_path / f"{scenario}.json"
    run_bench(tmp_path, scenario, ["--seconds", "1", "--repeat", "1", "--json", str(out)]
              + (["--no-limits"] if scenario != "null" else []), timeout)
    return json.loads(out.read_text())


def assert_both_sides_measured(result: dict) -> None:
    assert result["onvm"]["mpps"]["median"] > 0
    assert result["testpmd"]["mpps"]["median"] > 0
    assert result["ratio"]["median"] > 0
    assert result["machine"]["dpdk"] and result["layout"]


def test_null_ports_against_testpmd_io(tmp_path):
    result = bench(tmp_path, "null")
    assert_both_sides_measured(result)
    assert result["onvm"]["rx_mpps"]["median"] > 0
    # The same without latency histograms, and what they cost.
    assert result["onvm_no_latency"]["mpps"]["median"] > 0
    assert -1 < result["latency_cost"]["median"] < 1
    if result["ovs_missing"] is None:  # OVS-DPDK is installed: it ran
        assert result["ovs"]["mpps"]["median"] > 0 and result["ratio_ovs"]["median"] > 0
    else:
        assert result["ovs"] is None
    # The limits, after the scenario: its own testpmd io, and ring_perf.
    limits = result["limits"]
    assert limits["testpmd_io"]["mpps"] == result["testpmd"]["mpps"]["median"]
    assert "error" not in limits["ring_perf"], limits["ring_perf"]
    assert limits["ring_perf"]["two_core_spsc_cycles_per_elem"] > 0
    assert result["vs_limits"][0]["x_testpmd_io"] == pytest.approx(
        result["onvm"]["mpps"]["median"] / result["testpmd"]["mpps"]["median"])


def test_testpmd_over_memif_through_the_manager_and_direct(tmp_path):
    result = bench(tmp_path, "testpmd")
    assert_both_sides_measured(result)
    assert result["nfs"] == ["simple_forward"]
    assert result["tools"]["pktgen"]["used"] is False


def test_null_ports_with_a_cores_layout(tmp_path):
    """Two workers (one beside the control thread) on net_null0's two RSS
    queues: both take packets."""
    out = tmp_path / "null.json"
    run_bench(tmp_path, "null", ["--seconds", "1", "--repeat", "1", "--json", str(out),
                                 "--cores", "control=0/workers=0,1/testpmd=0,1"], 150)
    result = json.loads(out.read_text())
    assert_both_sides_measured(result)
    assert result["layout"]["cores"] == {"control": 0, "workers": [0, 1], "nfs": [],
                                         "testpmd": [0, 1]}
    assert result["onvm"]["rx_min_worker_share"]["median"] > 0


def test_speed_tester_with_its_nf_on_a_cpu_of_its_own(tmp_path):
    out = tmp_path / "speed.json"
    stdout = run_bench(tmp_path, "speed_tester", [
        "--seconds", "1", "--repeat", "1", "--max-length", "2", "--json", str(out),
        "--plot", str(tmp_path / "speed.png"), "--cores", "control=0/workers=0/nfs=1"], 120)
    result = json.loads(out.read_text())
    assert [r["length"] for r in result["lengths"]] == [2]  # the self-loop is apart
    assert result["self_loop"]["loop_mpps"]["median"] > 0  # speed_tester alone on CPU 1
    assert result["lengths"][0]["loop_mpps"]["median"] > 0
    assert result["layout"]["cores"]["nfs"] == [1]
    assert "NFs on CPU(s) 1: one each, busy-polling" in stdout
