# SPDX-License-Identifier: BSD-3-Clause
"""onvm.manager.tables.stats.render on hand-built snapshots (the shape of Stats.snapshot)."""

from __future__ import annotations

import json

from onvm.manager.client.text import render
from onvm.manager.tables.stats import write_json


def port(name: str, rx: int, tx: int, drop: int, rx_pps: float, tx_pps: float) -> dict:
    return {
        "name": name,
        "rx": rx,
        "tx": tx,
        "drop": drop,
        "rx_pps": rx_pps,
        "tx_pps": tx_pps,
        "rx_bytes": rx * 64,
        "tx_bytes": tx * 64,
    }


def nf(name: str, service: int, state: str, rx: int, tx: int, drop: int, rx_pps: float) -> dict:
    return {
        "name": name,
        "service": service,
        "state": state,
        "pid": 4242,
        "instance": 0,
        "generation": 1,
        "rx": rx,
        "tx": tx,
        "act_drop": drop,
        "ring_full_drop": 0,
        "drop": drop,
        "rx_pps": rx_pps,
        "tx_pps": rx_pps,
    }


def snapshot(ports: dict, nfs: dict, ports_enabled: bool = True) -> dict:
    return {
        "time": 0.0,
        "pool": {"size": 16383, "available": 16001},
        "ports_enabled": ports_enabled,
        "ports": ports,
        "nfs": nfs,
        "dataplane": {"chain_end": 0, "no_dest": 0},
    }


SNAP = snapshot(
    {
        "0": port("net_pcap0", 123456, 120000, 3456, 1_500_000.0, 999.0),
        "1": port("net_null1", 0, 77, 0, 0.0, 2_500_000_000.0),
    },
    {
        "1": nf("simple_forward", 1, "running", 120001, 119999, 2, 12_345.0),
        "2": nf("basic_monitor", 2, "stopping", 5, 4, 1, 0.0),
    },
)


def rows(text: str, first: str) -> list[list[str]]:
    """Whitespace-split table rows whose first column is `first`."""
    return [line.split() for line in text.splitlines()[1:] if line.split()[:1] == [first]]


def test_header_names_manager_and_pool():
    first = render(SNAP, "edge-1").splitlines()[0]
    assert first.startswith("[edge-1 ")
    assert "pool 16001/16383 free" in first
    assert "ports held" not in first


def test_header_says_when_ports_are_held():
    text = render(snapshot({}, {}, ports_enabled=False), "m")
    assert "ports held" in text.splitlines()[0]


def test_one_row_per_port_with_its_counters():
    text = render(SNAP, "m")
    assert rows(text, "0") == [["0", "net_pcap0", "123456", "1.50M", "120000", "999", "3456"]]
    assert rows(text, "1")[0] == ["1", "net_null1", "0", "0", "77", "2.50G", "0"]


def test_one_row_per_nf_with_its_counters():
    text = render(SNAP, "m")
    nf_rows = [r for r in (rows(text, "1") + rows(text, "2")) if len(r) == 8]
    assert nf_rows == [
        ["1", "simple_forward", "1", "running", "120001", "12.35k", "119999", "2"],
        ["2", "basic_monitor", "2", "stopping", "5", "0", "4", "1"],
    ]


def test_table_has_port_and_nf_headers_in_order():
    lines = render(SNAP, "m").splitlines()
    port_header = next(i for i, line in enumerate(lines) if line.split()[:2] == ["port", "name"])
    nf_header = next(i for i, line in enumerate(lines) if line.split()[:2] == ["nf", "name"])
    assert port_header == 1
    assert nf_header == port_header + 1 + len(SNAP["ports"])
    assert len(lines) == nf_header + 1 + len(SNAP["nfs"])


def test_no_nf_section_without_nfs():
    snap = snapshot({"0": port("net_null0", 1, 1, 0, 0.0, 0.0)}, {})
    lines = render(snap, "m").splitlines()
    assert len(lines) == 3
    assert not any(line.split()[:1] == ["nf"] for line in lines)


def test_no_port_rows_without_ports():
    lines = render(snapshot({}, {"3": nf("x", 3, "running", 0, 0, 0, 0.0)}), "m").splitlines()
    assert lines[1].split()[0] == "port"
    assert lines[2].split()[0] == "nf"


def test_long_names_are_cut_so_columns_stay_aligned():
    snap = snapshot(
        {"0": port("net_pcap0,rx_pcap=/tmp/in.pcap", 1, 2, 3, 0.0, 0.0)},
        {"1": nf("a_very_long_network_function_name", 1, "running", 7, 8, 9, 0.0)},
    )
    text = render(snap, "m")
    assert rows(text, "0")[0][1] == "net_pcap0,rx_"
    nf_row = [r for r in rows(text, "1") if len(r) == 8][0]
    assert nf_row[1] == "a_very_long_net"
    assert nf_row[4:] == ["7", "0", "8", "9"]


def test_nf_without_registry_info_still_renders():
    """A slot the registry has no name for yet: '?' instead of a KeyError."""
    counters = {"rx": 1, "tx": 1, "drop": 0, "rx_pps": 0.0, "tx_pps": 0.0}
    text = render(snapshot({}, {"5": counters}), "m")
    assert rows(text, "5") == [["5", "?", "0", "?", "1", "0", "1", "0"]]


def test_write_json_round_trips(tmp_path):
    path = tmp_path / "stats.json"
    path.write_text("old")
    write_json(SNAP, path)
    assert json.loads(path.read_text()) == SNAP
    assert [p.name for p in tmp_path.iterdir()] == ["stats.json"]


def test_nf_metrics_as_tables() -> None:
    from onvm.manager.client.text import nf_metrics

    text = nf_metrics({"nf": 4, "name": "pping", "service": 1, "families": [
        {"name": "pping_rtt_seconds", "help": "RTTs.", "label": "subnet",
         "kind": "histogram", "bounds": [0.001, 0.01, 0.1],
         "series": [{"value": "10.0.0.0/24", "count": 4, "sum": 0.1,
                     "buckets": [1, 2, 0, 1]}]},
        {"name": "pping_events", "help": "Events.", "label": "event", "kind": "counter",
         "series": [{"value": "rtt_tcp", "count": 4}]},
    ]})
    lines = text.splitlines()
    assert lines[0] == "NF 4 (pping, service 1)"
    row = next(ln for ln in lines if ln.startswith("10.0.0.0/24")).split()
    # count, mean 25 ms, p50 in the second bucket, p90 and p99 above the top
    assert row[1:4] == ["4", "25", "ms"]
    assert "<= 10 ms" in " ".join(row) and "> top bucket" in " ".join(row)
    assert any(ln.split() == ["rtt_tcp", "4"] for ln in lines)
