# SPDX-License-Identifier: BSD-3-Clause
"""Stats snapshots: counters from the data plane, rates between snapshots,
and JSON for programs (onvm.manager.client.text makes the table people read)."""

from __future__ import annotations

import json
import time
from pathlib import Path

from onvm.manager.bringup import ports as portlib
from onvm.manager.bringup.runtime import write_private
from onvm.manager.tables.dataplane import DataPlane


def _rate(now: int, before: int | None, seconds: float) -> float:
    if before is None or seconds <= 0:
        return 0.0
    return max(now - before, 0) / seconds


# Counters that stats.reset sets back to zero (rates, rings, ids are not).
PORT_COUNTERS = ("rx", "tx", "drop", "rx_bytes", "tx_bytes")
NF_COUNTERS = ("rx", "tx", "act_drop", "act_next", "act_tonf", "act_out", "batches", "sleeps",
               "created", "busy_cycles", "unsent", "enqueued", "ring_full_drop",
               "drop", "held", "released", "msg_in", "msg_out", "msg_drop", "clones",
               "clone_fail", "unshared", "unshare_drop")


def _minus(values: dict, base: dict, keys) -> None:
    for key in keys:
        if key in values:
            values[key] = max(values[key] - base.get(key, 0), 0)


def _minus_each(values: list[int], base: list[int] | None) -> list[int]:
    return [max(v - b, 0) for v, b in zip(values, base or [0] * len(values), strict=True)]


class Stats:
    """Takes snapshots and derives rates from the previous one."""

    def __init__(self, dataplane: DataPlane, port_names: dict[int, str]) -> None:
        self.dp = dataplane
        self.port_names = port_names
        self.prev: dict | None = None
        self.prev_time = 0.0
        # Raw counters at the last reset: the data plane's counters are
        # written by their owners only, so a reset is a subtraction here.
        self.base: dict = {"ports": {}, "nfs": {}, "dataplane": {}}

    def reset(self, nf_names: dict[int, dict]) -> None:
        raw = self._raw(nf_names)
        self.base = {
            "ports": {k: {**{c: p[c] for c in PORT_COUNTERS}, "rx_workers": p["rx_workers"]}
                      for k, p in raw["ports"].items()},
            "nfs": {k: {"generation": n.get("generation"), **{c: n[c] for c in NF_COUNTERS}}
                    for k, n in raw["nfs"].items()},
            "dataplane": dict(raw["dataplane"]),
        }
        self.prev = None

    def _rebase(self, snap: dict) -> dict:
        for key, port in snap["ports"].items():
            base = self.base["ports"].get(key, {})
            _minus(port, base, PORT_COUNTERS)
            port["rx_workers"] = _minus_each(port["rx_workers"], base.get("rx_workers"))
        for key, nf in snap["nfs"].items():
            base = self.base["nfs"].get(key, {})
            if base.get("generation") == nf.get("generation"):  # same NF as at the reset
                _minus(nf, base, NF_COUNTERS)
        _minus(snap["dataplane"], self.base["dataplane"], list(snap["dataplane"]))
        return snap

    def snapshot(self, nf_names: dict[int, dict]) -> dict:
        """Counters since the last reset, with rates since the last snapshot."""
        now = time.monotonic()
        snap = self._rebase(self._raw(nf_names))
        elapsed = now - self.prev_time if self.prev else 0.0
        prev_ports = self.prev["ports"] if self.prev else {}
        prev_nfs = self.prev["nfs"] if self.prev else {}
        for key, port in snap["ports"].items():
            before = prev_ports.get(key, {})
            port["rx_pps"] = _rate(port["rx"], before.get("rx"), elapsed)
            port["tx_pps"] = _rate(port["tx"], before.get("tx"), elapsed)
        for key, nf in snap["nfs"].items():
            before = prev_nfs.get(key, {})
            if before.get("generation") != nf.get("generation"):
                before = {}
            nf["rx_pps"] = _rate(nf["rx"], before.get("rx"), elapsed)
            nf["tx_pps"] = _rate(nf["tx"], before.get("tx"), elapsed)
        self.prev, self.prev_time = snap, now
        return snap

    def _raw(self, nf_names: dict[int, dict]) -> dict:
        """Counters since start."""
        counters = self.dp.counters()
        ports = {}
        for port_id, c in counters["ports"].items():
            hw = portlib.hw_stats(port_id)
            ports[str(port_id)] = {
                "name": self.port_names.get(port_id, "?"),
                "rx": c["rx"],
                # What each worker took from the port's RX queues.
                "rx_workers": c["rx_workers"],
                "tx": c["tx"],
                "drop": c["tx_drop"] + hw.get("imissed", 0) + hw.get("rx_nombuf", 0),
                "rx_bytes": hw.get("ibytes", 0),
                "tx_bytes": hw.get("obytes", 0),
            }
        nfs = {
            str(nf_id): {
                **nf_names.get(nf_id, {}),
                **c,
                "drop": c["act_drop"] + c["ring_full_drop"] + c["unsent"],
            }
            for nf_id, c in counters["nfs"].items()
        }
        return {
            "time": time.time(),
            "tsc_hz": self.dp.tsc_hz,
            "pool": {"size": self.dp.pool_size, "available": self.dp.pool_available()},
            "ports_enabled": self.dp.ports_enabled,
            "ports": ports,
            "nfs": nfs,
            "dataplane": counters["dataplane"],
        }


def write_json(snap: dict, path: Path) -> None:
    """Atomically replace `path` with the snapshot (root's only, 0600)."""
    write_private(path, json.dumps(snap))
