# SPDX-License-Identifier: BSD-3-Clause
"""Classifier: ordered 5-tuple rules (CIDRs, port ranges, protocol, IPv4 and
IPv6), first match wins, compiled to DPDK ACL tries and run in C."""

from __future__ import annotations

import ipaddress
import itertools
import os
import re
import weakref
from dataclasses import dataclass

import numpy as np

from onvm.errors import OnvmError
from onvm.pydpdk import ffi, lib, strerror

PORT_RANGE_RE = re.compile(r"([0-9]{1,5})(?:-([0-9]{1,5}))?")
PROTOCOLS = {"any": 0, "icmp": 1, "tcp": 6, "udp": 17, "sctp": 132, "icmpv6": 58}
_names = itertools.count()
# Classifiers live in DPDK memory: they must be freed before the NF detaches.
_live: weakref.WeakSet[Classifier] = weakref.WeakSet()


def close_all() -> None:
    """Free every classifier (the NF calls this before it detaches)."""
    for classifier in list(_live):
        classifier.close()


class RuleError(OnvmError):
    """A classifier rule is malformed."""

    exit_code = 2


@dataclass(frozen=True)
class Rule:
    """Match on a packet's 5-tuple; None means any."""

    src: str | None = None
    dst: str | None = None
    proto: int | str | None = None
    src_ports: tuple[int, int] | None = None
    dst_ports: tuple[int, int] | None = None


def _network(text: str | None, what: str):
    if text is None or text == "any":
        return None
    try:
        return ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise RuleError(f"{what} '{text}' is not an IPv4 or IPv6 address or CIDR") from None


def _proto(value) -> int:
    if value is None:
        return 0
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 255:
        return value
    if isinstance(value, str) and value.lower() in PROTOCOLS:
        return PROTOCOLS[value.lower()]
    raise RuleError(f"protocol '{value}' is not one of {', '.join(PROTOCOLS)} or 0..255")


def port_range(value) -> tuple[int, int] | None:
    """A rule's port field as written: 80, "80", "1024-65535", or None or
    "any" for every port (None). Bounds are checked when the rule is."""
    if value is None or value == "any":
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return (value, value)
    m = PORT_RANGE_RE.fullmatch(value) if isinstance(value, str) else None
    if m:
        return (int(m.group(1)), int(m.group(2) or m.group(1)))
    raise RuleError(f"port '{value}' is not a number, a range like 1024-65535 or 'any'")


def _ports(value, what: str) -> tuple[int, int]:
    if value is None:
        return (0, 65535)
    lo, hi = value
    if not (0 <= lo <= 65535 and 0 <= hi <= 65535):
        raise RuleError(f"{what} range {lo}-{hi} is not within 0-65535")
    if lo > hi:
        raise RuleError(f"{what} range {lo}-{hi} runs backwards")
    return (lo, hi)


def verdict_table(default: int, verdicts: list[int]):
    """A verdict per rule result for Batch.set_verdicts_by_rule: index 0 is
    the default (no rule matched), index i the verdict of rule i."""
    return ffi.new("uint32_t[]", [default, *verdicts])


class Classifier:
    """Rules added in order; build() compiles; classify_keys() runs in C."""

    def __init__(self, rules: list[Rule], name: str | None = None) -> None:
        self._name = name or f"py{os.getpid()}_{next(_names)}"
        self._c = ffi.NULL
        specs = [self._spec(rule, i + 1) for i, rule in enumerate(rules)]
        c = lib.onvm_classifier_create(self._name.encode(), max(len(specs), 1))
        if c == ffi.NULL:
            err = lib.pydpdk_errno()
            raise OnvmError(f"cannot create classifier {self._name}: {strerror(err)}")
        # A rule error below must not leak the DPDK memory.
        self._c = c
        _live.add(self)
        if specs:
            arr = ffi.new("struct onvm_rule[]", specs)
            rc = lib.onvm_classifier_add(self._c, arr, len(specs))
            if rc == 0:
                rc = lib.onvm_classifier_build(self._c)
            if rc < 0:
                self.close()
                raise OnvmError(f"classifier could not be built: {strerror(-rc)}")
        self._results = np.zeros(lib.ONVM_BATCH_MAX, dtype=np.uint32)
        self._results_c = ffi.from_buffer("uint32_t[]", self._results)

    @staticmethod
    def check(rule: Rule) -> None:
        """Raise RuleError if `rule` is malformed (needs no DPDK)."""
        Classifier._spec(rule, 1)

    @staticmethod
    def _spec(rule: Rule, result: int) -> dict:
        src, dst = _network(rule.src, "source"), _network(rule.dst, "destination")
        versions = {n.version for n in (src, dst) if n is not None}
        if len(versions) > 1:
            raise RuleError(f"rule mixes IPv4 and IPv6 addresses: {rule.src} -> {rule.dst}")
        family = versions.pop() if versions else 0
        sp, dp = _ports(rule.src_ports, "source port"), _ports(rule.dst_ports, "destination port")

        def addr(net):
            return list(net.network_address.packed.ljust(16, b"\0")) if net else [0] * 16

        return {
            "family": family,
            "proto": _proto(rule.proto),
            "src_prefix": src.prefixlen if src else 0,
            "dst_prefix": dst.prefixlen if dst else 0,
            "src": addr(src),
            "dst": addr(dst),
            "src_port_lo": sp[0], "src_port_hi": sp[1],
            "dst_port_lo": dp[0], "dst_port_hi": dp[1],
            "result": result,
        }

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
