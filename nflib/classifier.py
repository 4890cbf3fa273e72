# SPDX-License-Identifier: BSD-3-Clause
"""Classifier: ordered 5-tuple rules (onvm.rules), first match wins,
compiled to DPDK ACL tries and run in C."""

from __future__ import annotations

import itertools
import os
import weakref

import numpy as np

from onvm.contract import BATCH_MAX
from onvm.errors import OnvmError, RuleError
from onvm.pydpdk.nf import ffi, lib, strerror
from onvm.rules import PROTOCOLS, Rule, port_range, rule_fields

__all__ = ["PROTOCOLS", "Classifier", "Rule", "RuleError", "close_all", "port_range",
           "verdict_table"]

_names = itertools.count()
# Classifiers live in DPDK memory: they must be freed before the NF detaches.
_live: weakref.WeakSet[Classifier] = weakref.WeakSet()


def close_all() -> None:
    """Free every classifier (the NF calls this before it detaches)."""
    for classifier in list(_live):
        classifier.close()


def verdict_table(default: int, verdicts: list[int]):
    """A verdict per rule result for Batch.set_verdicts_by_rule: index 0 is
    the default (no rule matched), index i the verdict of rule i."""
    return ffi.new("uint32_t[]", [default, *verdicts])


class Classifier:
    """Rules added in order; build() compiles; classify_keys() runs in C."""

    def __init__(self, rules: list[Rule], name: str | None = None) -> None:
        self._name = name or f"py{os.getpid()}_{next(_names)}"
        self._c = ffi.NULL
        fields = [rule_fields(rule, i + 1) for i, rule in enumerate(rules)]
        c = lib.onvm_classifier_create(self._name.encode(), max(len(fields), 1))
        if c == ffi.NULL:
            err = lib.pydpdk_errno()
            raise OnvmError(f"cannot create classifier {self._name}: {strerror(err)}")
        # A rule error below must not leak the DPDK memory.
        self._c = c
        _live.add(self)
        if fields:
            arr = ffi.new("struct onvm_rule[]", fields)
            rc = lib.onvm_classifier_add(self._c, arr, len(fields))
            if rc == 0:
                rc = lib.onvm_classifier_build(self._c)
            if rc < 0:
                self.close()
                raise OnvmError(f"classifier could not be built: {strerror(-rc)}")
        self._results = np.zeros(BATCH_MAX, dtype=np.uint32)
        self._results_c = ffi.from_buffer("uint32_t[]", self._results)

    def close(self) -> None:
        """Free the classifier's DPDK memory; it cannot classify afterwards."""
        if self._c != ffi.NULL:
            lib.onvm_classifier_free(self._c)
            self._c = ffi.NULL
            _live.discard(self)

    def map_keys(self, keys, n: int, table, out) -> None:
        """out[i] = table[result of key i], in C (table: cdata uint32 of
        len(rules) + 1 entries; out: cdata uint32 of n or more)."""
        if self._c == ffi.NULL:
            raise OnvmError("classifier used after close()")
        lib.onvm_classifier_classify_map(self._c, keys, n, table, out)

    def classify_keys(self, keys, n: int) -> np.ndarray:
        """1-based index of the first matching rule for each key; 0: none."""
        if self._c == ffi.NULL:
            raise OnvmError("classifier used after close()")
        lib.onvm_classifier_classify(self._c, keys, n, self._results_c)
        return self._results[:n]
