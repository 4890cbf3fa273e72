# SPDX-License-Identifier: BSD-3-Clause
"""The latency histograms' buckets: the C writer (onvm/latency.h) and the
Python reader (manager/tables/latency.py) agree on every bucket's bounds,
a bucket is under 0.8% of its values wide, and percentiles read back
within that of the values recorded."""

from __future__ import annotations

import random

import numpy as np
import pytest

from onvm.contract import HIST_BUCKETS, HIST_MAX_BITS, HIST_SUB_BITS
from onvm.manager.tables.latency import BUCKET_LOW, BUCKET_WIDTH, Histogram
from onvm.pydpdk import manager as pydpdk

ffi, lib = pydpdk.ffi, pydpdk.lib


def values():
    rng = random.Random(5)
    yield from range(0, 600)
    for bits in range(8, 64):
        yield 1 << bits
        yield (1 << bits) - 1
        yield rng.randrange(1 << (bits - 1), 1 << bits)


def test_c_buckets_and_python_bounds_agree():
    for v in values():
        b = lib.onvm_hist_bucket(v)
        assert 0 <= b < HIST_BUCKETS
        if v >= 1 << HIST_MAX_BITS:
            assert b == HIST_BUCKETS - 1  # the last bucket takes the rest
            continue
        assert BUCKET_LOW[b] <= v < BUCKET_LOW[b] + BUCKET_WIDTH[b], (v, b)


def test_buckets_are_contiguous_and_narrow():
    assert np.all(BUCKET_LOW[1:] == BUCKET_LOW[:-1] + BUCKET_WIDTH[:-1])
    wide = BUCKET_LOW >= 1 << HIST_SUB_BITS
    assert np.all(BUCKET_WIDTH[wide] / BUCKET_LOW[wide] <= 1 / (1 << HIST_SUB_BITS))


@pytest.mark.parametrize("scale", [50, 3_000, 2_600_000, 900_000_000])
def test_percentiles_read_back_within_the_bucket_error(scale):
    rng = random.Random(scale)
    samples = sorted(int(rng.lognormvariate(0, 0.5) * scale) + 1 for _ in range(20_000))
    hist = ffi.new("struct onvm_hist *")
    for v in samples:
        lib.onvm_hist_record(hist, v)
    h = Histogram.read(hist)
    assert h.count == hist.count == len(samples)
    assert h.max == samples[-1] and h.sum == sum(samples)
    for q in (50.0, 90.0, 99.0, 99.9):
        exact = samples[max(0, int(np.ceil(len(samples) * q / 100)) - 1)]
        assert abs(h.percentile(q) - exact) <= max(1.0, exact / (1 << HIST_SUB_BITS)), q


def test_since_subtracts_a_copy():
    hist = ffi.new("struct onvm_hist *")
    for v in (10, 20, 30):
        lib.onvm_hist_record(hist, v)
    base = Histogram.read(hist)
    for v in (1000, 2000):
        lib.onvm_hist_record(hist, v)
    newer = Histogram.read(hist).since(base)
    assert newer.count == 2 and newer.sum == 3000
    assert 1000 <= newer.percentile(50) < 1000 * 1.008
