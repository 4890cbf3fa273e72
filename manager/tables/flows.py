# SPDX-License-Identifier: BSD-3-Clause
"""Flow rules of the control plane: 5-tuple matches with wildcards, CIDRs
and port ranges, each steering packets from the ports to a named chain.

Rules are kept in the order they were added (the first match wins) and
published to the data plane as one compiled set on every change. Each rule
owns a slot whose per-worker hit counters tell when it last matched, which
is how idle rules expire.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from onvm import options, rules
from onvm.contract import MAX_FLOW_RULES
from onvm.errors import ControlError, RuleError
from onvm.manager.protocol import BAD_ARGS, LIMIT, NOT_FOUND
from onvm.pydpdk import manager as pydpdk
from onvm.rules import Rule, port_range

ffi, lib = pydpdk.ffi, pydpdk.lib

# A freed slot waits this long before reuse, so that late hits counted by
# a worker still on the old rule set do not land on a new rule.
SLOT_COOLDOWN = 1.0
MAX_IDLE_TIMEOUT = 30 * 24 * 3600  # seconds: a month; 0 is never


def parse_ports(value, what: str) -> tuple[int, int] | None:
    """80, "80", "1000-2000" or None/"any" (every port)."""
    try:
        return port_range(value)
    except RuleError as e:
        raise ControlError(BAD_ARGS, f"{what}: {e}") from None


@dataclass
class FlowRule:
    rule_id: int
    match: Rule
    chain: str
    idle_timeout: float  # seconds; 0 never expires
    slot: int
    hits_base: int  # the slot's counter when the rule was added
    hits: int = 0
    last_hit: float = field(default_factory=time.monotonic)

    def describe(self) -> dict:
        m = self.match

        def ports(p):
            return "any" if p is None else (str(p[0]) if p[0] == p[1] else f"{p[0]}-{p[1]}")

        return {
            "id": self.rule_id, "src": m.src or "any", "dst": m.dst or "any",
            "proto": m.proto if m.proto is not None else "any",
            "sport": ports(m.src_ports), "dport": ports(m.dst_ports),
            "chain": self.chain, "idle_timeout": self.idle_timeout, "hits": self.hits,
            "idle_for": round(time.monotonic() - self.last_hit, 3),
        }


class FlowRules:
    """The rule list, its slots, and its publication to the data plane."""

    def __init__(self, shared, max_rules: int, chain_id) -> None:
        self.sh = shared
        self.max_rules = max_rules
        self.chain_id = chain_id  # chain name -> id, or raises ControlError
        self.rules: list[FlowRule] = []
        self._next_id = 1
        self._free_slots = list(range(MAX_FLOW_RULES - 1, -1, -1))
        self._cooling: list[tuple[float, int]] = []

    def add(self, args: dict) -> dict:
        if len(self.rules) >= self.max_rules:
            raise ControlError(LIMIT, f"{self.max_rules} flow rules already (max_flow_rules)")
        chain = args["chain"]
        self.chain_id(chain)
        try:  # NaN or an infinity would never expire, and is no JSON number
            timeout = options.number(args.get("idle_timeout", 0), 0, MAX_IDLE_TIMEOUT,
                                     " seconds")
        except ValueError as e:
            raise ControlError(BAD_ARGS, f"idle_timeout {e} (0: never)") from None
        match = Rule(
            src=args.get("src"), dst=args.get("dst"), proto=args.get("proto"),
            src_ports=parse_ports(args.get("sport"), "sport"),
            dst_ports=parse_ports(args.get("dport"), "dport"),
        )
        try:
            rules.check(match)
        except RuleError as e:
            raise ControlError(BAD_ARGS, str(e)) from None
        self._uncool()
        if not self._free_slots:
            raise ControlError(LIMIT, "no free rule slot yet: rules were deleted too fast")
        slot = self._free_slots.pop()
        rule = FlowRule(self._next_id, match, chain, timeout, slot,
                        lib.onvm_mgr_flow_hits(self.sh, slot))
        self.rules.append(rule)
        try:
            self._publish()
        except ControlError:
            self.rules.pop()
            self._free_slots.append(slot)
            raise
        self._next_id += 1
        return rule.describe()

    def delete(self, rule_id: int) -> dict:
        for i, rule in enumerate(self.rules):
            if rule.rule_id == rule_id:
                del self.rules[i]
                self._publish()
                self._cooling.append((time.monotonic() + SLOT_COOLDOWN, rule.slot))
                return rule.describe()
        raise ControlError(NOT_FOUND, f"no flow rule {rule_id}")

    def using_chain(self, chain: str) -> list[int]:
        return [r.rule_id for r in self.rules if r.chain == chain]

    def list(self) -> list[dict]:
        self._count_hits()
        return [r.describe() for r in self.rules]

    def expire(self) -> list[dict]:
        """Delete rules idle for longer than their timeout; call each tick."""
        lib.onvm_mgr_flow_rules_gc(self.sh)
        if not any(r.idle_timeout for r in self.rules):
            return []
        self._count_hits()
        now = time.monotonic()
        idle = [r for r in self.rules if r.idle_timeout and now - r.last_hit > r.idle_timeout]
        return [self.delete(r.rule_id) for r in idle]

    def _count_hits(self) -> None:
        now = time.monotonic()
        for r in self.rules:
            hits = lib.onvm_mgr_flow_hits(self.sh, r.slot) - r.hits_base
            if hits != r.hits:
                r.hits, r.last_hit = hits, now

    def _uncool(self) -> None:
        now = time.monotonic()
        ready = [s for t, s in self._cooling if t <= now]
        self._cooling = [(t, s) for t, s in self._cooling if t > now]
        self._free_slots.extend(ready)

    def _publish(self) -> None:
        # The classifier's result is the slot + 1: it indexes the hit counters.
        fields = [rules.rule_fields(r.match, r.slot + 1) for r in self.rules]
        c_rules = ffi.new("struct onvm_rule[]", fields or 1)
        chains = ffi.new("uint16_t[]", [self.chain_id(r.chain) for r in self.rules] or 1)
        rc = lib.onvm_mgr_flow_rules_set(self.sh, c_rules, chains, len(fields))
        if rc < 0:
            raise ControlError(LIMIT if rc == -28 else BAD_ARGS,
                               f"flow rules not published: {pydpdk.strerror(-rc)}")
