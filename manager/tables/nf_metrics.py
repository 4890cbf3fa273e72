# SPDX-License-Identifier: BSD-3-Clause
"""Metrics NFs publish (onvm/nf_metrics.h): counters and histograms in a
memzone of each NF's own, read here for the nf.metrics command and
Prometheus, and freed here once the NF's slot is free again.

Reads come from the control thread and from Prometheus's HTTP thread; a
lock keeps the control thread from freeing a zone while the other reads it.
"""

from __future__ import annotations

import threading

from onvm.contract import MAX_NFS
from onvm.errors import ControlError
from onvm.manager.protocol import BUSY, NOT_FOUND
from onvm.pydpdk import manager as pydpdk

ffi, lib = pydpdk.ffi, pydpdk.lib

KINDS = {1: "counter", 2: "histogram"}
ANY_GENERATION = 0xFFFFFFFF


def _text(chars) -> str:
    return ffi.string(chars).decode(errors="replace")


class NfMetrics:
    def __init__(self, dataplane) -> None:
        self.dp = dataplane
        self._lock = threading.Lock()
        self._copy = ffi.new("struct onvm_metric_series *")

    def _series(self, zone, f: int, i: int, family: dict) -> dict:
        s = lib.onvm_nf_metrics_series(zone, f, i)
        if s == ffi.NULL or lib.onvm_nf_metrics_read_series(s, self._copy) != 0:
            raise ControlError(BUSY, f"NF {zone.nf_id} kept writing its metrics: try again")
        c = self._copy
        out = {"value": _text(c.value), "count": c.count}
        if family["kind"] == "histogram":
            out["sum"] = c.sum
            out["buckets"] = list(ffi.unpack(c.buckets, len(family["bounds"]) + 1))
        return out

    def _read(self, nf_id: int) -> dict | None:
        zone = lib.onvm_nf_metrics_lookup(nf_id)
        if zone == ffi.NULL:
            return None
        slot = self.dp.nf_slot(nf_id)
        if zone.generation != slot.generation:
            return None  # an NF that held the slot before: freed once seen gone
        families = []
        for f in range(min(zone.nfamilies, len(zone.families))):
            fam = zone.families[f]
            family = {
                "name": _text(fam.name), "help": _text(fam.help), "label": _text(fam.label),
                "kind": KINDS.get(fam.kind, str(fam.kind)),
                "bounds": list(ffi.unpack(fam.bounds, min(fam.nbounds, len(fam.bounds)))),
            }
            published = min(fam.nseries, fam.max_series)
            family["series"] = [self._series(zone, f, i, family) for i in range(published)]
            if family["kind"] != "histogram":
                del family["bounds"]
            families.append(family)
        return {"nf": nf_id, "name": slot.name, "service": slot.service_id,
                "families": families}

    def read(self, nf_id: int) -> dict:
        """What NF `nf_id` publishes; not_found if it is not there or
        publishes nothing."""
        if not self.dp.nf_occupied(nf_id):
            raise ControlError(NOT_FOUND, f"no NF {nf_id} (onvm-ctl nf list shows the NFs)")
        with self._lock:
            found = self._read(nf_id)
        if found is None:
            raise ControlError(NOT_FOUND, f"NF {nf_id} publishes no metrics (pping does; "
                               "see onvm/nf_metrics.h)")
        return found

    def read_all(self) -> list[dict]:
        """What every running NF publishes, for a Prometheus scrape; an NF
        caught writing a series for too long is left out of this one."""
        out = []
        with self._lock:
            for nf_id in range(1, MAX_NFS):
                if not self.dp.nf_occupied(nf_id):
                    continue
                try:
                    found = self._read(nf_id)
                except ControlError:
                    continue
                if found is not None:
                    out.append(found)
        return out

    def release(self, nf_id: int, generation: int = ANY_GENERATION) -> bool:
        """Free the zone NF `nf_id` of slot generation `generation` made:
        it is gone. True if there was one."""
        with self._lock:
            return lib.onvm_nf_metrics_release(nf_id, generation) == 1
