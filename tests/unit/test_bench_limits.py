# SPDX-License-Identifier: BSD-3-Clause
"""onvm.bench.limits on a recorded ring_perf_autotest run (dpdk-test of
DPDK 22.11.11 on this 2-CPU machine, lcores 0 and 1; of EAL's debug lines
only the first few and the TSC rate are kept). No DPDK is started."""

from __future__ import annotations

from pathlib import Path

import pytest

from onvm.bench import limits

SAMPLE = (Path(__file__).parent / "bench_samples" / "ring_perf_autotest.txt").read_text()


def test_every_figure_line_is_parsed_with_its_section():
    parsed = limits.parse_ring_perf(SAMPLE)
    figure_lines = [ln for ln in SAMPLE.splitlines() if ln.startswith(("legacy APIs", "elem APIs"))]
    assert len(parsed["figures"]) == len(figure_lines) == 32
    assert parsed["passed"] and parsed["tsc_hz"] == 2_600_000_000
    first = parsed["figures"][0]
    assert first == {"section": "single element enq/deq", "esize": 8, "sync": "SP/SC",
                     "op": "single", "size": 1, "value": 14.65}
    # The two APIs print the same sections: the legacy one (pointers) first.
    two_core = [f for f in parsed["figures"] if f["section"] == "using two physical cores"]
    assert [(f["esize"], f["sync"], f["size"]) for f in two_core] == [
        (8, "SP/SC", 8), (8, "MP/MC", 8), (8, "SP/SC", 32), (8, "MP/MC", 32),
        (16, "SP/SC", 8), (16, "MP/MC", 8), (16, "SP/SC", 32), (16, "MP/MC", 32)]
    assert [(t["esize"], t["size"], t["count"]) for t in parsed["all_cores_totals"]] == [
        (8, 8, 2791870), (8, 32, 2430445), (16, 8, 1348552), (16, 32, 532162)]


def test_limits_are_the_pointer_ring_bulk_32_figures():
    got = limits.ring_limits(limits.parse_ring_perf(SAMPLE))
    # One core: ring_perf prints cycles per burst of 32 there.
    assert got["one_core_spsc_cycles_per_elem"] == pytest.approx(93.75 / 32)
    assert got["one_core_mpmc_cycles_per_elem"] == pytest.approx(73.85 / 32)
    assert got["two_core_test"] == "using two physical cores"
    assert got["two_core_spsc_cycles_per_elem"] == 4.54
    assert got["two_core_mpmc_cycles_per_elem"] == 5.51
    # Each side's time per element is half the printed sum.
    assert got["two_core_spsc_melems_per_s"] == pytest.approx(2 * 2.6e9 / 4.54 / 1e6)
    assert got["hop_bound_mpps"] == pytest.approx(2.6e9 / 4.54 / 1e6)


def test_hyperthread_pair_is_taken_when_there_are_no_two_cores():
    text = SAMPLE.replace("using two physical cores", "using two hyperthreads")
    assert limits.ring_limits(limits.parse_ring_perf(text))["two_core_test"] == (
        "using two hyperthreads")


def test_no_tsc_rate_means_no_hop_bound_but_the_cycles_stay():
    text = "\n".join(ln for ln in SAMPLE.splitlines() if "TSC frequency" not in ln)
    got = limits.ring_limits(limits.parse_ring_perf(text))
    assert got["tsc_hz"] is None and "hop_bound_mpps" not in got
    assert got["two_core_spsc_cycles_per_elem"] == 4.54


@pytest.mark.parametrize("text", [
    SAMPLE.replace("Test OK", "Test Failed"),
    SAMPLE[:SAMPLE.index("### Testing using two physical cores")] + "Test OK\n",
    "",
])
def test_a_failed_or_cut_run_is_refused(text):
    with pytest.raises(RuntimeError, match="ring_perf_autotest"):
        limits.ring_limits(limits.parse_ring_perf(text))


def test_ratios_to_the_limits():
    known = {"testpmd_io": {"mpps": 50.0},
             "ring_perf": limits.ring_limits(limits.parse_ring_perf(SAMPLE))}
    bound = known["ring_perf"]["hop_bound_mpps"]
    rows = limits.compare([("hops", 20.0, True), ("per core", 10.0, False)], known)
    assert rows[0]["x_testpmd_io"] == pytest.approx(0.4)
    assert rows[0]["x_hop_bound"] == pytest.approx(20.0 / bound)
    # A rate that is not of hops through the manager has no hop bound.
    assert rows[1]["x_testpmd_io"] == pytest.approx(0.2) and rows[1]["x_hop_bound"] is None


def test_a_limit_that_failed_gives_no_ratio_and_says_why():
    result = {"limits": {"testpmd_io": {"error": "dpdk-testpmd not found"},
                         "ring_perf": {"error": "dpdk-test not found"}}}
    result["vs_limits"] = limits.compare([("hops", 20.0, True)], result["limits"])
    assert result["vs_limits"][0]["x_testpmd_io"] is None
    text = limits.render(result)
    assert "testpmd io: not measured: dpdk-testpmd not found" in text
    assert "ring_perf: not measured: dpdk-test not found" in text


def test_best_of_runs_takes_each_figure_at_its_fewest_cycles():
    quiet = limits.parse_ring_perf(SAMPLE)
    # The same run with its two-core SP/SC bulk-32 figure preempted.
    noisy = limits.parse_ring_perf(SAMPLE.replace("legacy APIs: SP/SC: bulk (size: 32): 4.54",
                                                  "legacy APIs: SP/SC: bulk (size: 32): 25.61"))
    assert limits.ring_limits(noisy)["two_core_spsc_cycles_per_elem"] == 25.61
    best = limits.ring_limits(limits.best_of([noisy, quiet]))
    assert best["two_core_spsc_cycles_per_elem"] == 4.54
    assert best["hop_bound_mpps"] == pytest.approx(2.6e9 / 4.54 / 1e6)
    failed = limits.parse_ring_perf(SAMPLE.replace("Test OK", "Test Failed"))
    assert not limits.best_of([quiet, failed])["passed"]
    assert not limits.best_of([])["passed"]
