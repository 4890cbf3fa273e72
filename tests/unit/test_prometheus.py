# SPDX-License-Identifier: BSD-3-Clause
"""onvm.manager.control.prometheus: snapshots as Prometheus metrics, served over HTTP."""

from __future__ import annotations

import copy
import socket
import urllib.request
from collections.abc import Iterator

import pytest
from prometheus_client.parser import text_string_to_metric_families

from onvm.errors import ConfigError
from onvm.manager.control.prometheus import PrometheusExporter

TSC_HZ = 2_000_000_000

SNAP = {
    "time": 1_700_000_000.0,
    "tsc_hz": TSC_HZ,
    "uptime": 12.5,
    "pool": {"size": 16383, "available": 16001},
    "ports_enabled": True,
    "ports": {
        "0": {
            "name": "net_pcap0",
            "rx": 1000,
            "tx": 990,
            "drop": 10,
            "rx_pps": 100.0,
            "tx_pps": 99.0,
            "rx_bytes": 64000,
            "tx_bytes": 63360,
        },
        "1": {
            "name": "net_null1",
            "rx": 0,
            "tx": 7,
            "drop": 0,
            "rx_pps": 0.0,
            "tx_pps": 1.0,
            "rx_bytes": 0,
            "tx_bytes": 448,
        },
    },
    "nfs": {
        "3": {
            "name": "firewall",
            "service": 2,
            "state": "running",
            "pid": 4242,
            "instance": 0,
            "generation": 1,
            "rx": 900,
            "tx": 850,
            "act_drop": 40,
            "act_next": 800,
            "act_tonf": 30,
            "act_out": 20,
            "batches": 60,
            "sleeps": 5,
            "created": 1,
            "busy_cycles": 3 * TSC_HZ,
            "enqueued": 905,
            "ring_full_drop": 5,
            "rx_ring": 12,
            "tx_ring": 3,
            "drop": 45,
            "rx_pps": 90.0,
            "tx_pps": 85.0,
        },
    },
    "dataplane": {
        "act_drop": 40,
        "chain_end": 2,
        "no_dest": 3,
        "reclaimed": 64,
        "loops": 123456,
        "ring_full_drop": 5,
    },
    "crashed_nfs": 1,
    "reclaimed_mbufs": 64,
}

NF_LABELS = {
    "manager": "onvm",
    "nf_id": "3",
    "nf_name": "firewall",
    "service": "2",
    "instance": "0",
}


def samples(text: bytes) -> dict[tuple[str, frozenset], float]:
    """Every sample of an exposition, keyed by name and label set."""
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text.decode())
        for s in family.samples
    }


def key(name: str, **labels: str) -> tuple[str, frozenset]:
    return name, frozenset({"manager": "onvm", **labels}.items())


def value(found: dict, name: str, **labels: str) -> float:
    return found[key(name, **labels)]


def names(found: dict) -> set[str]:
    return {name for name, _ in found}


def exporter_of(snap: dict | None) -> PrometheusExporter:
    return PrometheusExporter(lambda: snap, "onvm")


def test_manager_gauges() -> None:
    found = samples(exporter_of(SNAP).render())
    assert value(found, "onvm_up") == 1
    assert value(found, "onvm_uptime_seconds") == 12.5
    assert value(found, "onvm_pool_mbufs") == 16383
    assert value(found, "onvm_pool_mbufs_available") == 16001


def test_port_counters_carry_port_id_and_name() -> None:
    found = samples(exporter_of(SNAP).render())
    port0 = {"port": "0", "port_name": "net_pcap0"}
    assert value(found, "onvm_port_rx_packets_total", **port0) == 1000
    assert value(found, "onvm_port_tx_packets_total", **port0) == 990
    assert value(found, "onvm_port_dropped_packets_total", **port0) == 10
    assert value(found, "onvm_port_rx_bytes_total", **port0) == 64000
    assert value(found, "onvm_port_tx_bytes_total", **port0) == 63360
    assert value(found, "onvm_port_tx_bytes_total", port="1", port_name="net_null1") == 448


def test_nf_counters_and_gauges() -> None:
    found = samples(exporter_of(SNAP).render())
    assert value(found, "onvm_nf_rx_packets_total", **NF_LABELS) == 900
    assert value(found, "onvm_nf_tx_packets_total", **NF_LABELS) == 850
    assert value(found, "onvm_nf_dropped_packets_total", **NF_LABELS) == 45
    assert value(found, "onvm_nf_ring_full_drops_total", **NF_LABELS) == 5
    assert value(found, "onvm_nf_batches_total", **NF_LABELS) == 60
    assert value(found, "onvm_nf_sleeps_total", **NF_LABELS) == 5
    assert value(found, "onvm_nf_busy_seconds_total", **NF_LABELS) == 3.0
    assert value(found, "onvm_nf_rx_ring_packets", **NF_LABELS) == 12
    assert value(found, "onvm_nf_tx_ring_packets", **NF_LABELS) == 3
    assert value(found, "onvm_nf_info", **NF_LABELS, state="running", pid="4242") == 1


def test_nf_actions_by_action_label() -> None:
    found = samples(exporter_of(SNAP).render())
    actions = {
        action: value(found, "onvm_nf_actions_total", **NF_LABELS, action=action)
        for action in ("drop", "next", "tonf", "out")
    }
    assert actions == {"drop": 40, "next": 800, "tonf": 30, "out": 20}


def test_dataplane_drops_by_reason_reclaims_and_crashes() -> None:
    found = samples(exporter_of(SNAP).render())
    drops = {
        reason: value(found, "onvm_dataplane_dropped_packets_total", reason=reason)
        for reason in ("nf_action", "chain_end", "no_destination", "ring_full")
    }
    assert drops == {"nf_action": 40, "chain_end": 2, "no_destination": 3, "ring_full": 5}
    assert value(found, "onvm_dataplane_reclaimed_mbufs_total") == 64
    assert value(found, "onvm_nf_crashes_total") == 1


def test_counters_are_typed_as_counters() -> None:
    types = {
        family.name: family.type
        for family in text_string_to_metric_families(exporter_of(SNAP).render().decode())
    }
    assert types["onvm_port_rx_packets"] == "counter"
    assert types["onvm_nf_actions"] == "counter"
    assert types["onvm_nf_rx_ring_packets"] == "gauge"
    assert types["onvm_up"] == "gauge"


def test_missing_optional_keys_leave_their_metrics_out() -> None:
    snap = copy.deepcopy(SNAP)
    for optional in ("uptime", "crashed_nfs", "reclaimed_mbufs", "tsc_hz"):
        del snap[optional]
    del snap["dataplane"]["reclaimed"]
    del snap["dataplane"]["ring_full_drop"]
    del snap["ports"]["0"]["rx_bytes"]
    del snap["nfs"]["3"]["sleeps"]
    found = samples(exporter_of(snap).render())
    gone = {
        "onvm_uptime_seconds",
        "onvm_nf_crashes_total",
        "onvm_dataplane_reclaimed_mbufs_total",
        "onvm_nf_busy_seconds_total",
        "onvm_nf_sleeps_total",
    }
    assert not gone & names(found)
    assert key("onvm_port_rx_bytes_total", port="0", port_name="net_pcap0") not in found
    assert value(found, "onvm_port_rx_bytes_total", port="1", port_name="net_null1") == 0
    assert value(found, "onvm_dataplane_dropped_packets_total", reason="chain_end") == 2
    assert key("onvm_dataplane_dropped_packets_total", reason="ring_full") not in found
    assert value(found, "onvm_nf_rx_packets_total", **NF_LABELS) == 900


def test_reclaimed_falls_back_to_the_managers_tally() -> None:
    snap = copy.deepcopy(SNAP)
    del snap["dataplane"]["reclaimed"]
    snap["reclaimed_mbufs"] = 32
    assert value(samples(exporter_of(snap).render()), "onvm_dataplane_reclaimed_mbufs_total") == 32


def test_bare_snapshot_gives_only_up() -> None:
    found = samples(exporter_of({}).render())
    assert found == {key("onvm_up"): 1}


def test_none_snapshot_gives_up_zero_and_nothing_else() -> None:
    found = samples(exporter_of(None).render())
    assert found == {key("onvm_up"): 0}


def test_every_scrape_reads_a_fresh_snapshot() -> None:
    snaps = iter([None, SNAP])
    exporter = PrometheusExporter(lambda: next(snaps), "onvm")
    assert value(samples(exporter.render()), "onvm_up") == 0
    assert value(samples(exporter.render()), "onvm_up") == 1


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def served() -> Iterator[tuple[PrometheusExporter, int]]:
    exporter = exporter_of(SNAP)
    port = free_port()
    exporter.start("127.0.0.1", port)
    try:
        yield exporter, port
    finally:
        exporter.stop()


def test_http_endpoint_serves_the_metrics(served: tuple[PrometheusExporter, int]) -> None:
    _, port = served
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as reply:
        found = samples(reply.read())
    assert value(found, "onvm_port_rx_packets_total", port="0", port_name="net_pcap0") == 1000
    assert "python_gc_objects_collected_total" not in names(found)  # no default metrics


def test_busy_port_is_one_config_error_line() -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        with pytest.raises(ConfigError) as error:
            exporter_of(SNAP).start("127.0.0.1", port)
    message = str(error.value)
    assert message == f"prometheus: cannot listen on 127.0.0.1:{port}: Address already in use"


def test_stop_frees_the_port(served: tuple[PrometheusExporter, int]) -> None:
    exporter, port = served
    exporter.stop()
    with socket.socket() as again:
        again.bind(("127.0.0.1", port))
    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5)


def test_stop_without_start_does_nothing() -> None:
    exporter_of(SNAP).stop()


# What NfMetrics.read_all gives: two pping NFs and an NF whose family
# clashes with theirs in kind.
NF_METRICS = [
    {"nf": 4, "name": "pping", "service": 1, "families": [
        {"name": "pping_rtt_seconds", "help": "RTTs.", "label": "subnet",
         "kind": "histogram", "bounds": [0.001, 0.01, 0.1],
         "series": [{"value": "10.0.0.0/24", "count": 6, "sum": 0.4,
                     "buckets": [1, 2, 0, 3]}]},
        {"name": "pping_events", "help": "Events.", "label": "event", "kind": "counter",
         "series": [{"value": "rtt_tcp", "count": 6}, {"value": "flows_full", "count": 0}]},
    ]},
    {"nf": 5, "name": "pping", "service": 1, "families": [
        {"name": "pping_rtt_seconds", "help": "RTTs.", "label": "subnet",
         "kind": "histogram", "bounds": [0.001, 0.01, 0.1],
         "series": [{"value": "2001:db8::/48", "count": 1, "sum": 0.002,
                     "buckets": [0, 1, 0, 0]}]},
    ]},
    {"nf": 6, "name": "other", "service": 2, "families": [
        {"name": "pping_rtt_seconds", "help": "Not RTTs.", "label": "subnet",
         "kind": "counter", "series": [{"value": "x", "count": 9}]},
    ]},
]


def test_nf_histograms_are_real_histograms() -> None:
    found = samples(PrometheusExporter(lambda: SNAP, "onvm", lambda: NF_METRICS).render())
    four = {"nf_id": "4", "nf_name": "pping", "subnet": "10.0.0.0/24"}
    cumulative = {"0.001": 1, "0.01": 3, "0.1": 3, "+Inf": 6}
    for le, count in cumulative.items():
        assert value(found, "onvm_nf_pping_rtt_seconds_bucket", le=le, **four) == count
    assert value(found, "onvm_nf_pping_rtt_seconds_count", **four) == 6
    assert value(found, "onvm_nf_pping_rtt_seconds_sum", **four) == 0.4
    five = {"nf_id": "5", "nf_name": "pping", "subnet": "2001:db8::/48"}
    assert value(found, "onvm_nf_pping_rtt_seconds_bucket", le="0.01", **five) == 1
    assert value(found, "onvm_nf_pping_events_total", nf_id="4", nf_name="pping",
                 event="rtt_tcp") == 6
    # The clashing family of NF 6 is left out, not mixed in.
    assert not [k for k in found if ("nf_id", "6") in k[1]]
    text = PrometheusExporter(lambda: SNAP, "onvm", lambda: NF_METRICS).render().decode()
    assert "# TYPE onvm_nf_pping_rtt_seconds histogram" in text


def test_no_nf_metrics_without_a_snapshot() -> None:
    found = samples(PrometheusExporter(lambda: None, "onvm", lambda: NF_METRICS).render())
    assert names(found) == {"onvm_up"}
