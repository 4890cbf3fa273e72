# SPDX-License-Identifier: BSD-3-Clause
"""Latency histograms of the data plane (see native/include/onvm/latency.h):
each NF's hop (from a packet being queued for it to the NF handing it on)
and each chain's end to end (port RX to port TX, one histogram per worker,
summed here). Their writers never reset them: a reset, and "the last
interval", are subtractions of copies taken here."""

from __future__ import annotations

import numpy as np

from onvm.contract import HIST_BUCKETS, HIST_SUB_BITS, MAX_CHAINS
from onvm.manager.tables.dataplane import DataPlane
from onvm.pydpdk import manager as pydpdk

ffi = pydpdk.ffi

PERCENTILES = (("p50", 50.0), ("p90", 90.0), ("p99", 99.0), ("p99_9", 99.9))
# Prometheus buckets, in seconds: coarse bounds summed from the fine buckets.
PROMETHEUS_BOUNDS = (1e-6, 2e-6, 5e-6, 1e-5, 2e-5, 5e-5, 1e-4, 2e-4, 5e-4, 1e-3, 2e-3,
                     5e-3, 1e-2, 2e-2, 5e-2, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0)


def _edges() -> tuple[np.ndarray, np.ndarray]:
    """Each bucket's lowest value and width, in cycles."""
    sub = 1 << HIST_SUB_BITS
    index = np.arange(HIST_BUCKETS, dtype=np.uint64)
    shift = np.where(index < sub, 0, (index >> np.uint64(HIST_SUB_BITS)) - np.uint64(1))
    mant = index & np.uint64(sub - 1)
    low = np.where(index < sub, index, (np.uint64(sub) + mant) << shift)
    return low.astype(np.float64), (np.uint64(1) << shift).astype(np.float64)


BUCKET_LOW, BUCKET_WIDTH = _edges()
BUCKET_MID = BUCKET_LOW + (BUCKET_WIDTH - 1) / 2


class Histogram:
    """A copy of one histogram (or a sum or difference of copies)."""

    __slots__ = ("buckets", "sum", "max")

    def __init__(self, buckets: np.ndarray, total: int, peak: int) -> None:
        self.buckets = buckets
        self.sum = total
        self.max = peak

    @classmethod
    def empty(cls) -> Histogram:
        return cls(np.zeros(HIST_BUCKETS, dtype=np.uint64), 0, 0)

    @classmethod
    def read(cls, hist) -> Histogram:
        """Copy a struct onvm_hist that its writer may be updating."""
        buckets = np.frombuffer(ffi.buffer(hist.buckets), dtype=np.uint64).copy()
        return cls(buckets, int(hist.sum), int(hist.max))

    @property
    def count(self) -> int:
        return int(self.buckets.sum())

    def __add__(self, other: Histogram) -> Histogram:
        return Histogram(self.buckets + other.buckets, self.sum + other.sum,
                         max(self.max, other.max))

    def since(self, base: Histogram) -> Histogram:
        """What was recorded after `base` was copied (max: over all time,
        or, once every sample is newer, the largest bucket's top)."""
        buckets = np.where(self.buckets >= base.buckets, self.buckets - base.buckets, 0)
        newer = Histogram(buckets.astype(np.uint64), max(self.sum - base.sum, 0), self.max)
        if base.count and newer.count:
            top = int(np.nonzero(buckets)[0][-1])
            newer.max = min(self.max, int(BUCKET_LOW[top] + BUCKET_WIDTH[top] - 1))
        return newer

    def percentile(self, q: float) -> float:
        """The q-th percentile in cycles: the middle of its bucket."""
        count = self.count
        if count == 0:
            return 0.0
        rank = max(1, int(np.ceil(count * q / 100.0)))
        index = int(np.searchsorted(np.cumsum(self.buckets), rank))
        return float(BUCKET_MID[min(index, HIST_BUCKETS - 1)])

    def cumulative_below(self, cycles: float) -> int:
        """Samples in the buckets wholly under `cycles`."""
        return int(self.buckets[BUCKET_LOW + BUCKET_WIDTH <= cycles].sum())

    def summary(self, tsc_hz: float) -> dict:
        us = 1e6 / tsc_hz
        count = self.count
        out = {"count": count}
        for name, q in PERCENTILES:
            out[f"{name}_us"] = round(self.percentile(q) * us, 3)
        out["max_us"] = round(self.max * us, 3) if count else 0.0
        out["mean_us"] = round(self.sum / count * us, 3) if count else 0.0
        return out


class Latency:
    """Reads the histograms; keeps the copies that resets and intervals
    subtract."""

    def __init__(self, dataplane: DataPlane) -> None:
        self.dp = dataplane
        self.tsc_hz = float(dataplane.sh.tsc_hz)
        # Copies at the last reset and at the last interval's start. An NF
        # key holds its slot generation: a new NF in the slot starts at 0.
        self._reset_nfs: dict[tuple[int, int], Histogram] = {}
        self._reset_chains: dict[int, Histogram] = {}
        self._interval_nfs: dict[tuple[int, int], Histogram] = {}
        self._interval_chains: dict[int, Histogram] = {}
        self._last_nfs: dict[tuple[int, int], Histogram] = {}
        self._last_chains: dict[int, Histogram] = {}

    @property
    def sample(self) -> int:
        return int(self.dp.sh.latency_sample)

    def _nf_raw(self) -> dict[tuple[int, int], Histogram]:
        return {(s.nf_id, s.generation): Histogram.read(self.dp.sh.nfs[s.nf_id].latency)
                for s in self.dp.nf_slots() if s.state in ("running", "stopping")}

    def _chain_raw(self, chain_ids) -> dict[int, Histogram]:
        sh = self.dp.sh
        out = {}
        for chain_id in chain_ids:
            total = Histogram.empty()
            for w in range(sh.num_workers):
                total = total + Histogram.read(sh.chain_latency[w * MAX_CHAINS + chain_id])
            out[chain_id] = total
        return out

    def reset(self, chain_ids) -> None:
        self._reset_nfs = self._nf_raw()
        self._reset_chains = self._chain_raw(chain_ids)

    def tick(self, chain_ids) -> None:
        """Start a new interval (the manager calls it once per stats publish)."""
        self._interval_nfs, self._interval_chains = self._last_nfs, self._last_chains
        self._last_nfs, self._last_chains = self._nf_raw(), self._chain_raw(chain_ids)

    def histograms(self, chain_ids, interval: bool = False
                   ) -> tuple[dict[tuple[int, int], Histogram], dict[int, Histogram]]:
        """NF and chain histograms since the last reset, or over the last
        complete interval."""
        nfs, chains = self._nf_raw(), self._chain_raw(chain_ids)
        if interval:
            nf_base, chain_base = self._interval_nfs, self._interval_chains
            nfs, chains = self._last_nfs, self._last_chains
            nf_base = {k: v for k, v in nf_base.items() if k in nfs}
        else:
            nf_base, chain_base = self._reset_nfs, self._reset_chains
        return ({k: h.since(nf_base[k]) if k in nf_base else h for k, h in nfs.items()},
                {k: h.since(chain_base[k]) if k in chain_base else h
                 for k, h in chains.items()})


def describe(latency: Latency, chain_names: dict[str, int], hops_of, nf_info: dict[int, dict],
             interval: bool = False, nf: int | None = None, chain: str | None = None) -> dict:
    """Summaries per NF, per chain end to end and per chain hop (a hop's
    figures are those of its service's NFs, on whichever chains they
    serve), as `latency` replies and snapshots carry them."""
    nfs, chains = latency.histograms(chain_names.values(), interval)
    hz = latency.tsc_hz
    by_service: dict[int, Histogram] = {}
    nf_out = []
    for (nf_id, _gen), h in sorted(nfs.items()):
        info = nf_info.get(nf_id, {})
        service = info.get("service", 0)
        by_service[service] = by_service.get(service, Histogram.empty()) + h
        if nf is None or nf == nf_id:
            nf_out.append({"id": nf_id, "name": info.get("name", ""), "service": service,
                           **h.summary(hz), **_prometheus(h, hz)})
    chain_out = []
    for name, chain_id in sorted(chain_names.items(), key=lambda kv: kv[1]):
        if chain is not None and chain != name:
            continue
        hops = []
        for index, hop in enumerate(hops_of(chain_id)):
            if hop.kind == "port":
                continue
            h = by_service.get(hop.dest, Histogram.empty())
            hops.append({"hop": index, "kind": hop.kind, "service": hop.dest, **h.summary(hz)})
        h = chains.get(chain_id, Histogram.empty())
        chain_out.append({"name": name, "id": chain_id, **h.summary(hz), **_prometheus(h, hz),
                          "hops": hops})
    return {"sample": latency.sample, "interval": interval, "nfs": nf_out, "chains": chain_out}


def _prometheus(h: Histogram, tsc_hz: float) -> dict:
    """Cumulative counts at PROMETHEUS_BOUNDS and the sum, in seconds."""
    return {"le": [h.cumulative_below(bound * tsc_hz) for bound in PROMETHEUS_BOUNDS],
            "sum_s": h.sum / tsc_hz}
