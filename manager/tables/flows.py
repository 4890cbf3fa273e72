# SPDX-License-Identifier: BSD-3-Clause
"""Flow rules of the control plane: 5-tuple matches with wildcards, CIDRs
and port ranges, each steering packets from the ports to a named chain.

Rules are kept in the order they were added (the first match wins) and
published to the data plane as one compiled set on every change: a bulk add
or the expiry of many idle rules is one change. Each rule owns a slot whose
per-worker hit counters tell when it last matched, which is how idle rules
expire.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from onvm import flow_rules, rules
from onvm.contract import MAX_FLOW_RULES
from onvm.errors import ControlError, RuleError
from onvm.flow_rules import MAX_IDLE_TIMEOUT
from onvm.manager.protocol import BAD_ARGS, LIMIT, NOT_FOUND
from onvm.pydpdk import manager as pydpdk
from onvm.rules import Rule

ffi, lib = pydpdk.ffi, pydpdk.lib

__all__ = ["MAX_IDLE_TIMEOUT", "FlowRule", "FlowRules"]

# A freed slot waits this long before reuse, so that late hits counted by
# a worker still on the old rule set do not land on a new rule.
SLOT_COOLDOWN = 1.0


@dataclass(frozen=True)
class _Checked:
    """One rule of a request, checked, before it has a slot."""

    match: Rule
    chain: str
    chain_id: int
    idle_timeout: float
    fields: dict  # of struct onvm_rule, its result still to be set


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
        # What is published, in C and in rule order, kept from one change to
        # the next: converting every rule again made each add cost O(rules)
        # in Python (5 ms at 1,000 rules) on top of the classifier's build.
        self._c_rules = ffi.new("struct onvm_rule[]", max_rules)
        self._c_chains = ffi.new("uint16_t[]", max_rules)

    def add(self, args: dict) -> dict:
        """One rule (flow.add's arguments); returns it as flow.list shows it."""
        if len(self.rules) >= self.max_rules:
            raise ControlError(LIMIT, f"{self.max_rules} flow rules already (max_flow_rules)")
        return self._insert([self._check(args)])[0].describe()

    def add_bulk(self, specs: list[dict]) -> dict:
        """Rules in order, all or none, with one build and one publication.
        An error names the rule by its position in `specs`, from 1."""
        self.room_for(len(specs))
        started = time.perf_counter()
        checked = [self._check(spec, f"rule {i}: ") for i, spec in enumerate(specs, start=1)]
        added = self._insert(checked)
        return {"added": len(added), "first_id": added[0].rule_id,
                "last_id": added[-1].rule_id, "flow_rules": len(self.rules),
                "seconds": round(time.perf_counter() - started, 6)}

    def room_for(self, n: int) -> None:
        """Raise unless `n` rules more can be added (bulk adds ask first)."""
        if n == 0:
            raise ControlError(BAD_ARGS, "flow.add_bulk: 'rules' is empty: give at least one")
        have = len(self.rules)
        if have + n > self.max_rules:
            raise ControlError(LIMIT, f"{have} flow rules in force and {n} more would pass "
                               f"max_flow_rules {self.max_rules}: raise [dataplane] "
                               f"max_flow_rules (up to {MAX_FLOW_RULES}) or add fewer")

    def _check(self, args: dict, where: str = "") -> _Checked:
        try:
            chain_id = self.chain_id(args["chain"])
        except ControlError as e:
            raise ControlError(e.code, where + e.message) from None
        try:
            timeout = flow_rules.idle_timeout(args.get("idle_timeout", 0))
            match = flow_rules.match(args)
            fields = rules.rule_fields(match, 1)
        except RuleError as e:
            raise ControlError(BAD_ARGS, f"{where}{e}") from None
        return _Checked(match, args["chain"], chain_id, timeout, fields)

    def _insert(self, checked: list[_Checked]) -> list[FlowRule]:
        """Append checked rules and publish; on failure nothing changes."""
        self._uncool()
        if len(self._free_slots) < len(checked):
            raise ControlError(LIMIT, "no free rule slot yet: rules were deleted too fast")
        start = len(self.rules)
        for i, c in enumerate(checked):
            slot = self._free_slots.pop()
            # The classifier's result is the slot + 1: it indexes the hit counters.
            self._c_rules[start + i] = {**c.fields, "result": slot + 1}
            self._c_chains[start + i] = c.chain_id
            self.rules.append(FlowRule(self._next_id + i, c.match, c.chain, c.idle_timeout,
                                       slot, lib.onvm_mgr_flow_hits(self.sh, slot)))
        try:
            self._publish()
        except ControlError:
            self._free_slots.extend(r.slot for r in reversed(self.rules[start:]))
            del self.rules[start:]
            raise
        self._next_id += len(checked)
        return self.rules[start:]

    def delete(self, rule_id: int) -> dict:
        for rule in self.rules:
            if rule.rule_id == rule_id:
                return self._remove({rule_id})[0]
        raise ControlError(NOT_FOUND, f"no flow rule {rule_id}")

    def _remove(self, ids: set[int]) -> list[dict]:
        """Delete the rules of `ids` with one publication; their descriptions."""
        kept = [r for r in self.rules if r.rule_id not in ids]
        gone = [r for r in self.rules if r.rule_id in ids]
        before = self.rules
        self._compact(kept, before)
        try:
            self._publish()
        except ControlError:
            self._restore(before)
            raise
        now = time.monotonic()
        self._cooling.extend((now + SLOT_COOLDOWN, r.slot) for r in gone)
        return [r.describe() for r in gone]

    def _compact(self, kept: list[FlowRule], before: list[FlowRule]) -> None:
        """Move the C entries of `kept` (a subsequence of `before`) down in order."""
        position = {id(r): i for i, r in enumerate(before)}
        for k, rule in enumerate(kept):
            j = position[id(rule)]
            if j != k:
                self._c_rules[k] = self._c_rules[j]
                self._c_chains[k] = self._c_chains[j]
        self.rules = kept

    def _restore(self, before: list[FlowRule]) -> None:
        """After a failed publication: the C entries of `before` again."""
        for i, rule in enumerate(before):
            self._c_rules[i] = rules.rule_fields(rule.match, rule.slot + 1)
            self._c_chains[i] = self.chain_id(rule.chain)
        self.rules = before

    def using_chain(self, chain: str) -> list[int]:
        return [r.rule_id for r in self.rules if r.chain == chain]

    def list(self) -> list[dict]:
        self._count_hits()
        return [r.describe() for r in self.rules]

    def expire(self) -> list[dict]:
        """Delete rules idle for longer than their timeout, in one change;
        call each tick."""
        lib.onvm_mgr_flow_rules_gc(self.sh)
        if not any(r.idle_timeout for r in self.rules):
            return []
        self._count_hits()
        now = time.monotonic()
        idle = {r.rule_id for r in self.rules
                if r.idle_timeout and now - r.last_hit > r.idle_timeout}
        return self._remove(idle) if idle else []

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
        rc = lib.onvm_mgr_flow_rules_set(self.sh, self._c_rules, self._c_chains,
                                         len(self.rules))
        if rc < 0:
            raise ControlError(LIMIT if rc == -28 else BAD_ARGS,
                               f"flow rules not published: {pydpdk.strerror(-rc)}")
