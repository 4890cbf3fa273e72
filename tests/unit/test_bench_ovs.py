# SPDX-License-Identifier: BSD-3-Clause
"""onvm.bench.ovs's parsers on output recorded from the private OVS-DPDK
3.1 of `onvm-bench null` (Debian's openvswitch-switch-dpdk, net_null ports
p0 and p1, rule in_port=p0 actions=output:p1), and the null scenario's
table with and without OVS. No DPDK is started."""

from __future__ import annotations

from pathlib import Path

from onvm.bench import null_ports, ovs

SAMPLES = Path(__file__).parent / "bench_samples"


def sample(name: str) -> str:
    return (SAMPLES / name).read_text()


def test_dump_ports_counters_by_port():
    ports = ovs.parse_dump_ports(sample("ovs_dump_ports.txt"))
    assert set(ports) == {"LOCAL", "1", "2"}
    assert ports["1"]["rx"]["pkts"] == 33842208 and ports["1"]["tx"]["pkts"] == 0
    assert ports["2"]["tx"]["pkts"] == 33183488 and ports["2"]["rx"]["pkts"] == 0
    # What a dpdk port does not count is `?`, not zero.
    assert ports["2"]["rx"]["frame"] is None and ports["2"]["tx"]["coll"] is None
    assert ports["LOCAL"]["rx"]["frame"] == 0


def test_dump_ports_with_quoted_port_names():
    text = sample("ovs_dump_ports.txt").replace("port  2:", 'port  "p1":')
    assert ovs.parse_dump_ports(text)["p1"]["tx"]["pkts"] == 33183488


def test_pmd_stats_per_thread():
    threads = ovs.parse_pmd_stats(sample("ovs_pmd_stats.txt"))
    assert list(threads) == ["pmd thread numa_id 0 core_id 1", "main thread"]
    pmd = threads["pmd thread numa_id 0 core_id 1"]
    assert pmd["packets received"] == 33957120
    assert pmd["emc hits"] == 33907424
    # The bracketed share or ratio after a figure is not part of it.
    assert pmd["avg cycles per packet"] == 119.73
    assert pmd["idle cycles"] == 0 and pmd["processing cycles"] == 4065660652
    assert threads["main thread"]["packets received"] == 0


def test_only_a_dpdk_build_of_vswitchd_counts():
    assert ovs.parse_version(sample("ovs_vswitchd_version.txt")) == ("3.1.0", "22.11.11")
    assert ovs.parse_version(sample("ovs_vswitchd_version_plain.txt")) == ("3.1.0", None)


def spread(value: float) -> dict:
    return {"min": value, "median": value, "max": value, "runs": [value]}


def null_result(with_ovs: bool) -> dict:
    result = {
        "repeat": 1, "seconds": 2,
        "machine": {"cpu_model": "test CPU", "dpdk": "22.11"},
        "layout": {"onvm": "onvm layout", "testpmd": "testpmd layout", "ovs": "ovs layout"},
        "onvm": {"mpps": spread(20.0), "rx_mpps": spread(20.0), "nf_batch": spread(32.0),
                 "nf_sleeps_per_s": spread(100.0)},
        "testpmd": {"mpps": spread(80.0), "rx_mpps": spread(80.0)},
        "ratio": spread(0.25), "ovs": None, "ratio_ovs": None, "ovs_vs_testpmd": None,
        "ovs_missing": "OVS-DPDK is not installed (ovs-vsctl not found): install it",
    }
    if with_ovs:
        result.update(ovs={"mpps": spread(16.0), "rx_mpps": spread(16.0),
                           "cycles_per_packet": spread(120.0), "version": "3.1.0",
                           "dpdk": "22.11.11", "vswitchd": "/usr/sbin/ovs-vswitchd"},
                      ovs_missing=None, ratio_ovs=spread(1.25), ovs_vs_testpmd=spread(0.2))
    return result


def test_null_table_has_an_ovs_row_and_onvm_to_ovs():
    result = null_result(with_ovs=True)
    text = null_ports.render(result)
    onvm_row = next(ln for ln in text.splitlines() if ln.startswith("onvm:"))
    assert "x OVS" in text and onvm_row.split()[-2] == "1.25"
    ovs_row = next(ln for ln in text.splitlines() if ln.startswith("OVS-DPDK 3.1.0"))
    assert "16.00" in ovs_row and ovs_row.split()[-1] == "1.00"
    assert [label for label, _, _ in null_ports.headline(result)] == [
        "onvm: manager + simple_forward, port 1 TX", "OVS-DPDK, port 1 TX"]


def test_null_without_ovs_says_so_in_one_line():
    text = null_ports.render(null_result(with_ovs=False))
    said = [ln for ln in text.splitlines() if "OVS" in ln]
    assert said == ["OVS-DPDK is not installed (ovs-vsctl not found): install it; "
                    "onvm against testpmd only"]
    assert "testpmd io" in text
