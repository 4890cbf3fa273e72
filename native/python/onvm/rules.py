# SPDX-License-Identifier: BSD-3-Clause
"""5-tuple rules: CIDRs, port ranges and protocols, IPv4 and IPv6.

The one parser of what users write as a rule, for the firewall's rules files
(NF side, onvm.nflib.Classifier) and for flow rules (manager side): both
turn a Rule into the fields of `struct onvm_rule` (onvm/classifier.h) with
rule_fields(), which needs no DPDK.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from dataclasses import dataclass

from onvm.errors import RuleError
from onvm.options import shown

__all__ = ["PROTOCOLS", "Rule", "RuleError", "check", "port_range", "rule_fields"]

PORT_RANGE_RE = re.compile(r"([0-9]{1,5})(?:-([0-9]{1,5}))?")
PREFIX_RE = re.compile(r"0|[1-9][0-9]{0,2}")
PROTOCOLS = {"any": 0, "icmp": 1, "tcp": 6, "udp": 17, "sctp": 132, "icmpv6": 58}


@dataclass(frozen=True)
class Rule:
    """Match on a packet's 5-tuple; None means any."""

    src: str | None = None
    dst: str | None = None
    proto: int | str | None = None
    src_ports: tuple[int, int] | None = None
    dst_ports: tuple[int, int] | None = None


# (IP version, address family, bits) of each kind of address.
_FAMILIES = ((4, socket.AF_INET, 32), (6, socket.AF_INET6, 128))


@dataclass(frozen=True)
class _Network:
    version: int
    prefixlen: int
    packed: bytes  # the network address, host bits cleared


def _network_fast(text: str) -> _Network | None:
    """An address or CIDR in its plain form, parsed in C (ipaddress takes
    30 us an address: a third of a 10,000-rule bulk add); None for any
    other text, which ipaddress judges."""
    address, slash, prefix = text.partition("/")
    for version, family, bits in _FAMILIES:
        try:
            packed = socket.inet_pton(family, address)
        except OSError:
            continue
        if not slash:
            length = bits
        elif PREFIX_RE.fullmatch(prefix) and int(prefix) <= bits:
            length = int(prefix)
        else:
            return None
        value = int.from_bytes(packed, "big") >> (bits - length) << (bits - length)
        return _Network(version, length, value.to_bytes(bits // 8, "big"))
    return None


def _network(text: str | None, what: str) -> _Network | None:
    if text is None or text == "any":
        return None
    # Only text: ipaddress would take the number 10 for 0.0.0.10/32.
    if not isinstance(text, str):
        raise RuleError(f"{what} {shown(text)} is not an address: write an IPv4 or IPv6 "
                        "address or CIDR as a string, e.g. \"10.0.0.0/8\"")
    fast = _network_fast(text)
    if fast is not None:
        return fast
    try:
        net = ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise RuleError(f"{what} '{shown(text)}' is not an IPv4 or IPv6 address or CIDR"
                        ) from None
    return _Network(net.version, net.prefixlen, net.network_address.packed)


def _proto(value) -> int:
    if value is None:
        return 0
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 255:
        return value
    if isinstance(value, str) and value.lower() in PROTOCOLS:
        return PROTOCOLS[value.lower()]
    raise RuleError(f"protocol '{shown(value)}' is not one of {', '.join(PROTOCOLS)} or "
                    "0..255")


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
    raise RuleError(f"port '{shown(value)}' is not a number, a range like 1024-65535 or 'any'")


def _ports(value, what: str) -> tuple[int, int]:
    if value is None:
        return (0, 65535)
    lo, hi = value
    if not (0 <= lo <= 65535 and 0 <= hi <= 65535):
        raise RuleError(f"{what} range {shown(lo)}-{shown(hi)} is not within 0-65535")
    if lo > hi:
        raise RuleError(f"{what} range {lo}-{hi} runs backwards")
    return (lo, hi)


def rule_fields(rule: Rule, result: int) -> dict:
    """The fields of `struct onvm_rule` for `rule`, matching with `result`;
    raises RuleError if the rule is malformed."""
    src, dst = _network(rule.src, "source"), _network(rule.dst, "destination")
    versions = {n.version for n in (src, dst) if n is not None}
    if len(versions) > 1:
        raise RuleError(f"rule mixes IPv4 and IPv6 addresses: {rule.src} -> {rule.dst}")
    family = versions.pop() if versions else 0
    sp, dp = _ports(rule.src_ports, "source port"), _ports(rule.dst_ports, "destination port")

    def addr(net):
        return list(net.packed.ljust(16, b"\0")) if net else [0] * 16

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


def check(rule: Rule) -> None:
    """Raise RuleError if `rule` is malformed."""
    rule_fields(rule, 1)
