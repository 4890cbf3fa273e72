# SPDX-License-Identifier: BSD-3-Clause
"""Serve the manager's counters in the Prometheus text format on an opt-in HTTP port.

Each scrape turns one stats snapshot (the dict of onvm.manager.tables.stats.Stats.snapshot,
plus what the manager adds) into metric families. A key missing from the snapshot
leaves its metric out instead of failing the scrape.

The metrics NFs publish (onvm.manager.tables.nf_metrics) follow as onvm_nf_<name>,
counters and real histograms (_bucket, _sum, _count), labelled with the NF and the
family's own label.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, generate_latest, start_http_server
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.utils import floatToGoString

from onvm.errors import ConfigError
from onvm.manager.tables.latency import PROMETHEUS_BOUNDS

# (metric name without _total, snapshot key, help) per port.
PORT_COUNTERS = (
    ("onvm_port_rx_packets", "rx", "Packets received on the port."),
    ("onvm_port_tx_packets", "tx", "Packets sent on the port."),
    ("onvm_port_dropped_packets", "drop", "Packets lost on the port: tx drops, missed, no mbuf."),
    ("onvm_port_rx_bytes", "rx_bytes", "Bytes received on the port."),
    ("onvm_port_tx_bytes", "tx_bytes", "Bytes sent on the port."),
)
NF_COUNTERS = (
    ("onvm_nf_rx_packets", "rx", "Packets the NF received."),
    ("onvm_nf_tx_packets", "tx", "Packets the NF returned."),
    ("onvm_nf_dropped_packets", "drop", "Packets of the NF dropped: by its action or ring full."),
    ("onvm_nf_ring_full_drops", "ring_full_drop", "Packets dropped on a full NF ring."),
    ("onvm_nf_batches", "batches", "Batches the NF handled."),
    ("onvm_nf_sleeps", "sleeps", "Times the NF slept waiting for packets."),
    ("onvm_nf_clones", "clones", "Copies of packets the NF made."),
    ("onvm_nf_clone_failures", "clone_fail", "Copies the NF could not make: pool empty."),
    ("onvm_nf_unshared_packets", "unshared", "Shared packets the NF got a private copy of."),
)
NF_ACTIONS = (("drop", "act_drop"), ("next", "act_next"), ("tonf", "act_tonf"), ("out", "act_out"))
NF_RING_GAUGES = (
    ("onvm_nf_rx_ring_packets", "rx_ring", "Packets waiting in the NF's rx ring."),
    ("onvm_nf_tx_ring_packets", "tx_ring", "Packets waiting in the NF's tx ring."),
)
DATAPLANE_DROP_REASONS = (
    ("nf_action", "act_drop"),
    ("chain_end", "chain_end"),
    ("chain_gone", "chain_gone"),
    ("no_destination", "no_dest"),
    ("ring_full", "ring_full_drop"),
    ("tee_pool_empty", "tee_fail"),
    ("flow_rule", "flow_drop"),
)

PORT_LABELS = ["manager", "port", "port_name"]
NF_LABELS = ["manager", "nf_id", "nf_name", "service", "instance"]
NF_METRIC_LABELS = ["manager", "nf_id", "nf_name"]  # then the family's own label


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _nf_families(manager: str, published: list[dict]) -> list[Metric]:
    """The NFs' own metrics: one family per name, whichever NFs publish it
    (a name an NF gives another kind or label than the first is left out)."""
    families: dict[str, tuple[dict, Metric]] = {}
    for nf in published:
        nf_labels = [manager, str(nf["nf"]), str(nf["name"])]
        for fam in nf["families"]:
            name = f"onvm_nf_{fam['name']}"
            make = (HistogramMetricFamily if fam["kind"] == "histogram"
                    else CounterMetricFamily if fam["kind"] == "counter" else None)
            if make is None:
                continue
            first, family = families.setdefault(
                name, (fam, make(name, fam["help"] or name, labels=[*NF_METRIC_LABELS,
                                                                    fam["label"]])))
            if (first["kind"], first["label"]) != (fam["kind"], fam["label"]):
                continue
            for series in fam["series"]:
                labels = [*nf_labels, series["value"]]
                if fam["kind"] == "counter":
                    family.add_metric(labels, series["count"])
                    continue
                cumulative, buckets = 0, []
                for bound, count in zip([*fam["bounds"], float("inf")], series["buckets"],
                                        strict=False):
                    cumulative += count
                    buckets.append((floatToGoString(bound), cumulative))
                family.add_metric(labels, buckets, series["sum"])
    return [family for _, family in families.values()]


class _SnapshotCollector:
    """A prometheus_client collector that reads a fresh snapshot on every scrape."""

    def __init__(self, snapshot: Callable[[], dict | None], manager_name: str,
                 nf_metrics: Callable[[], list[dict]] | None = None) -> None:
        self.snapshot = snapshot
        self.manager = manager_name
        self.nf_metrics = nf_metrics

    def collect(self) -> Iterator[Metric]:
        snap = self.snapshot()
        up = GaugeMetricFamily("onvm_up", "1 if the manager is running.", labels=["manager"])
        up.add_metric([self.manager], 0 if snap is None else 1)
        yield up
        if snap is None:
            return
        families = [
            *self._manager(snap),
            *self._ports(snap.get("ports") or {}),
            *self._nfs(snap.get("nfs") or {}, snap.get("tsc_hz")),
            *self._dataplane(snap),
            *self._latency(snap.get("latency") or {}),
            *_nf_families(self.manager, self.nf_metrics() if self.nf_metrics else []),
        ]
        yield from (family for family in families if family.samples)

    def _manager(self, snap: dict) -> list[Metric]:
        uptime = GaugeMetricFamily(
            "onvm_uptime_seconds", "Seconds since the manager started.", labels=["manager"]
        )
        size = GaugeMetricFamily("onvm_pool_mbufs", "Mbufs in the packet pool.", labels=["manager"])
        available = GaugeMetricFamily(
            "onvm_pool_mbufs_available", "Mbufs free in the packet pool.", labels=["manager"]
        )
        pool = snap.get("pool") or {}
        for family, value in (
            (uptime, snap.get("uptime")),
            (size, pool.get("size")),
            (available, pool.get("available")),
        ):
            if _number(value):
                family.add_metric([self.manager], value)
        return [uptime, size, available]

    def _ports(self, ports: dict) -> list[Metric]:
        families = []
        for name, key, help_text in PORT_COUNTERS:
            family = CounterMetricFamily(name, help_text, labels=PORT_LABELS)
            for port_id, port in ports.items():
                if _number(port.get(key)):
                    labels = [self.manager, str(port_id), str(port.get("name", ""))]
                    family.add_metric(labels, port[key])
            families.append(family)
        return families

    def _nfs(self, nfs: dict, tsc_hz: object) -> list[Metric]:
        counters = {
            key: CounterMetricFamily(name, help_text, labels=NF_LABELS)
            for name, key, help_text in NF_COUNTERS
        }
        rings = {
            key: GaugeMetricFamily(name, help_text, labels=NF_LABELS)
            for name, key, help_text in NF_RING_GAUGES
        }
        actions = CounterMetricFamily(
            "onvm_nf_actions",
            "Packets by the action the NF gave them.",
            labels=[*NF_LABELS, "action"],
        )
        busy = CounterMetricFamily(
            "onvm_nf_busy_seconds", "Time the NF spent handling packets.", labels=NF_LABELS
        )
        info = GaugeMetricFamily(
            "onvm_nf_info",
            "The NF's state and process; always 1.",
            labels=[*NF_LABELS, "state", "pid"],
        )
        for nf_id, nf in nfs.items():
            labels = [
                self.manager,
                str(nf_id),
                str(nf.get("name", "")),
                str(nf.get("service", "")),
                str(nf.get("instance", "")),
            ]
            for key, family in (*counters.items(), *rings.items()):
                if _number(nf.get(key)):
                    family.add_metric(labels, nf[key])
            for action, key in NF_ACTIONS:
                if _number(nf.get(key)):
                    actions.add_metric([*labels, action], nf[key])
            # busy_cycles counts TSC ticks; without the TSC rate there is no time to report.
            if _number(nf.get("busy_cycles")) and _number(tsc_hz) and tsc_hz > 0:
                busy.add_metric(labels, nf["busy_cycles"] / tsc_hz)
            info.add_metric([*labels, str(nf.get("state", "")), str(nf.get("pid", ""))], 1)
        return [*counters.values(), actions, busy, *rings.values(), info]

    def _latency(self, latency: dict) -> list[Metric]:
        """Histograms in seconds: an NF's hop (queued for it to handed on),
        a chain's port RX to port TX."""
        nf_family = HistogramMetricFamily(
            "onvm_nf_latency_seconds",
            "Time from a packet being queued for the NF to the NF handing it on.",
            labels=NF_LABELS[:4])
        chain_family = HistogramMetricFamily(
            "onvm_chain_latency_seconds", "Time from port RX to port TX on the chain.",
            labels=["manager", "chain"])
        for nf in latency.get("nfs", []):
            labels = [self.manager, str(nf.get("id", "")), str(nf.get("name", "")),
                      str(nf.get("service", ""))]
            self._histogram(nf_family, labels, nf)
        for chain in latency.get("chains", []):
            self._histogram(chain_family, [self.manager, str(chain.get("name", ""))], chain)
        return [nf_family, chain_family]

    @staticmethod
    def _histogram(family: HistogramMetricFamily, labels: list[str], h: dict) -> None:
        counts = h.get("le")
        if not isinstance(counts, list) or len(counts) != len(PROMETHEUS_BOUNDS):
            return
        buckets = [(f"{bound:g}", count) for bound, count in zip(PROMETHEUS_BOUNDS, counts,
                                                                  strict=True)]
        family.add_metric(labels, [*buckets, ("+Inf", h.get("count", 0))],
                          sum_value=h.get("sum_s", 0.0))

    def _dataplane(self, snap: dict) -> list[Metric]:
        dataplane = snap.get("dataplane") or {}
        dropped = CounterMetricFamily(
            "onvm_dataplane_dropped_packets",
            "Packets the data plane dropped, by reason.",
            labels=["manager", "reason"],
        )
        for reason, key in DATAPLANE_DROP_REASONS:
            if _number(dataplane.get(key)):
                dropped.add_metric([self.manager, reason], dataplane[key])
        reclaimed = CounterMetricFamily(
            "onvm_dataplane_reclaimed_mbufs",
            "Mbufs returned to the pool from NFs that died.",
            labels=["manager"],
        )
        # The data plane's own count, else the registry's tally the manager adds.
        reclaimed_count = dataplane.get("reclaimed", snap.get("reclaimed_mbufs"))
        if _number(reclaimed_count):
            reclaimed.add_metric([self.manager], reclaimed_count)
        tee = CounterMetricFamily(
            "onvm_dataplane_tee_copies", "Copies made at tee hops.", labels=["manager"]
        )
        if _number(dataplane.get("tee_copies")):
            tee.add_metric([self.manager], dataplane["tee_copies"])
        crashes = CounterMetricFamily(
            "onvm_nf_crashes", "NFs that died without deregistering.", labels=["manager"]
        )
        if _number(snap.get("crashed_nfs")):
            crashes.add_metric([self.manager], snap["crashed_nfs"])
        return [dropped, reclaimed, tee, crashes]


class PrometheusExporter:
    """Exposes one manager's snapshots at http://HOST:PORT/metrics.

    `snapshot` is called on the HTTP server's thread at every scrape, so it must be
    safe to call from there; it returns None while the manager has nothing to show.
    `nf_metrics`, called there too, gives what the NFs publish
    (NfMetrics.read_all).
    """

    def __init__(self, snapshot: Callable[[], dict | None], manager_name: str,
                 nf_metrics: Callable[[], list[dict]] | None = None) -> None:
        # A registry of our own: no process or platform metrics of prometheus_client's
        # default registry, and several exporters can live in one process (tests).
        self.registry = CollectorRegistry()
        self.registry.register(_SnapshotCollector(snapshot, manager_name, nf_metrics))
        self._server = None
        self._thread = None

    def start(self, host: str, port: int) -> None:
        """Serve in a daemon thread; ConfigError if the address cannot be listened on."""
        try:
            self._server, self._thread = start_http_server(port, addr=host, registry=self.registry)
        except OSError as exc:
            where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
            raise ConfigError(
                f"prometheus: cannot listen on {where}: {exc.strerror or exc}"
            ) from None

    def render(self) -> bytes:
        """The text a scrape would get now."""
        return generate_latest(self.registry)

    def stop(self) -> None:
        """Shut the HTTP server down and free its port; does nothing if not started."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
        self._server = self._thread = None
