# SPDX-License-Identifier: BSD-3-Clause
"""The speed_tester, latency and shared-core benchmarks run end to end with
tiny settings, and speed_tester's latency summary reads back right. They
check that the programs work, not the figures."""

from __future__ import annotations

import json

import pytest

from onvm.bench.latency import parse_summary
from onvm.bench.speed_chain import start_loop
from tests.support.bench_run import run_bench
from tests.support.harness import Manager

pytestmark = pytest.mark.timeout(300)

# The limits are measured once, by the null smoke test (test_bench_smoke).
TINY = ["--seconds", "0.5", "--repeat", "1", "--no-limits"]


def bench(tmp_path, scenario: str, *args: str, timeout: float = 150) -> dict:
    out, png = tmp_path / f"{scenario}.json", tmp_path / f"{scenario}.png"
    plot = ["--plot", str(png)] if scenario != "shared-core" else []
    run_bench(tmp_path, scenario, [*TINY, *args, "--json", str(out), *plot], timeout)
    if scenario != "shared-core":
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    result = json.loads(out.read_text())
    assert result["machine"]["dpdk"] and result["machine"]["cpus"] >= 1
    assert result["layout"]["manager"] and result["repeat"] == 1
    return result


def positive(spread: dict) -> bool:
    return 0 < spread["min"] <= spread["median"] <= spread["max"]


def test_speed_tester_sweep(tmp_path):
    result = bench(tmp_path, "speed_tester", "--max-length", "3")
    # The baseline is speed_tester + 1 forwarder; the self-loop is apart.
    assert [r["length"] for r in result["lengths"]] == [2, 3]
    assert result["baseline_length"] == 2 and result["lengths"][0]["hop_vs_base"] == 1.0
    assert result["self_loop"]["length"] == 1 and result["self_loop"]["forwarders"] == 0
    for row in [*result["lengths"], result["self_loop"]]:
        assert positive(row["loop_mpps"]) and positive(row["hop_mpps"])
        # Every NF of the loop handles every packet: hops = loop x length.
        assert row["hop_mpps"]["median"] == pytest.approx(
            row["loop_mpps"]["median"] * row["length"], rel=0.05)
        assert 0 <= row["others_cpu"]["median"] <= 2 and row["worker_wait"]["median"] >= 0
        assert row["nf_ns_per_hop"]["median"] > 0
    assert result["longest_vs_base_hop"] > 0
    assert "limits" not in result


def test_latency_sweep(tmp_path):
    result = bench(tmp_path, "latency", "--lengths", "1,2", "--loads", "10,50")
    assert {(p["length"], p["load_pct"]) for p in result["points"]} == {
        (1, 10), (1, 50), (2, 10), (2, 50)}
    assert all(v > 0 for v in result["max_loop_mpps"].values())
    for point in result["points"]:
        assert point["samples"] > 0 and positive(point["received_mpps"])
        assert 0 < point["p50"]["median"] <= point["p99"]["median"] <= point["p999"]["median"]
    assert [h["load_pct"] for h in result["per_hop"]] == [10, 50]
    assert result["unit"] == "us"


def test_shared_core(tmp_path):
    result = bench(tmp_path, "shared-core", "--nfs", "2")
    assert set(result["cases"]) == {"1", "2"}
    for case in result["cases"].values():
        assert positive(case["mpps"]) and case["balance"]["median"] > 0
    assert result["ratio"] > 0
    assert positive(result["nf_start"]["onvm_nf_ms"]) and positive(result["nf_start"]["binary_ms"])


@pytest.mark.parametrize("family", [[], ["--ipv6"]])
def test_flows_sweep(tmp_path, family):
    result = bench(tmp_path, "flows", "--rules", "10,1", "--single-adds", "0",
                   "--bulk-adds", "0", *family)
    assert result["ip_version"] == (6 if family else 4)
    assert result["adds"] is None
    rows = {r["rules"]: r for r in result["counts"]}
    assert set(rows) == {0, 1, 10}  # the 0-rule reference is always measured
    for n, row in rows.items():
        assert positive(row["mpps"]) and positive(row["cycles_per_packet"])
        assert row["x_0_rules"]["median"] > 0 and row["drops"] == 0
        assert positive(row["single_add_seconds"])
        if n:  # every packet the ports took hit the last rule, the only one it matches
            assert row["matched"] == 1.0 and positive(row["bulk_add_seconds"])
        else:
            assert row["matched"] is None
    assert rows[0]["x_0_rules"]["median"] == 1.0


@pytest.mark.parametrize("family", [[], ["--ipv6"]])
def test_flows_added_while_traffic_flows(tmp_path, family):
    """Rules added one request at a time, then many in one request, with the
    loop running: each part timed, the rate meanwhile measured, and every
    packet from the first add on steered by the rule it matches."""
    result = bench(tmp_path, "flows", "--no-sweep", "--single-adds", "40", "--bulk-adds",
                   "300", *family)
    assert result["counts"] == []
    adds = result["adds"]
    assert (adds["single_adds"], adds["bulk_adds"]) == (40, 300)
    for key in ("single_seconds", "bulk_seconds", "bulk_manager_seconds", "mpps_before",
                "mpps_after", "mpps_single", "mpps_bulk", "per_single_add_ms"):
        assert positive(adds[key]), key
    assert adds["bulk_manager_seconds"]["median"] <= adds["bulk_seconds"]["median"]
    # Every rule is in force, in some tier, the newest settled into the others.
    tiers = {t["tier"]: t for t in adds["tiers"]}
    assert sum(t["rules"] for t in tiers.values()) == 340 and tiers["newest"]["rules"] == 0
    assert tiers["newest"]["builds"] >= 16 and tiers["main"]["builds"] >= 1
    assert 0.99 < adds["matched"] <= 1.0


@pytest.mark.parametrize("length", [1, 2])
def test_speed_tester_latency_summary_is_ordered(tmp_path, length):
    """An open-loop run with --latency ends with percentiles that parse and
    are ordered, and it sent about what --rate asked."""
    mgr = Manager(tmp_path, ["--chain", "2,1"] if length == 2 else [])
    try:
        mgr.wait_ready()
        tester, _ = start_loop(mgr, length, ["--rate", "200000", "--latency",
                                             "--duration", "2"])
        tester.wait(30)
        summary = parse_summary(tester.output())
        assert mgr.stop() == 0
    finally:
        mgr.cleanup()
    lat, paced = summary["latency"], summary["paced"]
    assert lat["samples"] > 0
    assert 0 < lat["p50_ns"] <= lat["p99_ns"] <= lat["p999_ns"] <= lat["max_ns"]
    assert lat["p50_ns"] <= lat["mean_ns"] * 10
    assert paced["rate_pps"] == 200000
    assert 0.5 * 200000 < paced["sent_pps"] <= 1.1 * 200000
    assert summary["mpps"] > 0
