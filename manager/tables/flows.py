# SPDX-License-Identifier: BSD-3-Clause
"""Flow rules of the control plane: matches on the 5-tuple (wildcards,
CIDRs, port ranges), input port, VLAN and DSCP, each steering packets from
the ports to a named chain or dropping them, perhaps copying them to a
service too.

Of the rules a packet matches, the highest priority wins, then the rule
added first. The data plane keeps them compiled in tiers (flow_rules.c), so
that an add compiles a few rules, not all of them: this module hands it the
rules added and the slots deleted, a bulk add or the expiry of many rules
as one change. Each rule owns a slot whose per-worker packet and byte
counters tell when it last matched, which is how idle rules expire; hard
timeouts expire rules at a fixed time after their add.
"""

from __future__ import annotations

import heapq
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from onvm import flow_rules, rules
from onvm.contract import FLOW_TIERS, MAX_FLOW_RULES, FlowAction
from onvm.errors import ControlError, RuleError
from onvm.flow_rules import MAX_HARD_TIMEOUT, MAX_IDLE_TIMEOUT
from onvm.manager.protocol import BAD_ARGS, LIMIT, NOT_FOUND
from onvm.pydpdk import manager as pydpdk
from onvm.rules import Rule

ffi, lib = pydpdk.ffi, pydpdk.lib
log = logging.getLogger("onvm.manager")

__all__ = ["MAX_HARD_TIMEOUT", "MAX_IDLE_TIMEOUT", "FlowRule", "FlowRules"]

# A freed slot waits this long before reuse, so that late hits counted by
# a worker still on the old rule set do not land on a new rule.
SLOT_COOLDOWN = 1.0
# How often idle rules' counters are read (each read visits every rule with
# an idle timeout); hard timeouts are looked at on every pass of the loop.
IDLE_CHECK_SECONDS = 0.1
# Once adds pause this long, the newest rules, which the workers test one
# by one, are compiled with the others (onvm_mgr_flow_rules_settle).
SETTLE_SECONDS = 0.2
# While it changes the rules the control thread runs at this much below
# its nice value (CFS then gives it 9 parts of a CPU it shares with a busy
# NF at the default nice, not 1): compiling 10,000 rules takes 0.5 to 0.8 s
# of CPU, and beside a shared-core NF that never sleeps took 2.4-2.6 s in
# all at the default nice against 1.7-1.8 s so (onvm-bench flows).
CHANGE_NICE = -10
TIER_NAMES = ("main", "middle", "newest")
ACTION_CODES = {"chain": FlowAction.CHAIN, "drop": FlowAction.DROP}


@dataclass(frozen=True)
class _Checked:
    """One rule of a request, checked, before it has a slot."""

    match: Rule
    extra: dict  # in_port, vlan, dscp as given (None: any)
    chain: str | None
    chain_id: int
    action: str
    mirror: int
    priority: int
    idle_timeout: float
    hard_timeout: float
    fields: dict  # of struct onvm_flow_rule, its match's result still to be set


@dataclass
class FlowRule:
    rule_id: int
    rule: _Checked
    slot: int
    hits_base: int  # the slot's counters when the rule was added
    bytes_base: int
    added: float = field(default_factory=time.monotonic)
    hits: int = 0
    bytes: int = 0
    last_hit: float = field(default_factory=time.monotonic)

    @property
    def chain(self) -> str | None:
        return self.rule.chain

    def describe(self, now: float | None = None) -> dict:
        m, r = self.rule.match, self.rule
        now = time.monotonic() if now is None else now

        def ports(p):
            return "any" if p is None else (str(p[0]) if p[0] == p[1] else f"{p[0]}-{p[1]}")

        def given(key):
            value = r.extra.get(key)
            return "any" if value is None else value

        return {
            "id": self.rule_id, "priority": r.priority,
            "src": m.src or "any", "dst": m.dst or "any",
            "proto": m.proto if m.proto is not None else "any",
            "sport": ports(m.src_ports), "dport": ports(m.dst_ports),
            "in_port": given("in_port"), "vlan": given("vlan"), "dscp": given("dscp"),
            "action": r.action, "chain": r.chain, "mirror": r.mirror or None,
            "idle_timeout": r.idle_timeout, "hard_timeout": r.hard_timeout,
            "hits": self.hits, "packets": self.hits, "bytes": self.bytes,
            "idle_for": round(now - self.last_hit, 3),
            "age": round(now - self.added, 3),
        }


@contextmanager
def _ahead_of_nfs() -> Iterator[None]:
    """Run the block at CHANGE_NICE below the thread's nice value (Linux's
    nice is per thread); as it is without the right to (CAP_SYS_NICE)."""
    tid = threading.get_native_id()
    try:
        was = os.getpriority(os.PRIO_PROCESS, tid)
        os.setpriority(os.PRIO_PROCESS, tid, max(was + CHANGE_NICE, -20))
    except OSError:
        yield
        return
    try:
        yield
    finally:
        os.setpriority(os.PRIO_PROCESS, tid, was)


class FlowRules:
    """The rules in force, their slots, and the changes to the data plane."""

    def __init__(self, shared, max_rules: int, chain_id) -> None:
        self.sh = shared
        self.max_rules = max_rules
        self.chain_id = chain_id  # chain name -> id, or raises ControlError
        self.rules: dict[int, FlowRule] = {}  # by id, in the order added
        self._next_id = 1
        self._free_slots = list(range(MAX_FLOW_RULES - 1, -1, -1))
        self._cooling: deque[tuple[float, int]] = deque()  # in the order freed
        self._deadlines: list[tuple[float, int]] = []  # hard timeouts: a heap
        self._idle: set[int] = set()  # ids of the rules with idle timeouts
        self._next_idle_check = 0.0
        self._last_add = 0.0
        self._unsettled = False  # rules added since the last settle

    # ---- adding ----

    def add(self, args: dict) -> dict:
        """One rule (flow.add's arguments); returns it as flow.list shows it."""
        if len(self.rules) >= self.max_rules:
            raise ControlError(LIMIT, f"{self.max_rules} flow rules already (max_flow_rules)")
        with _ahead_of_nfs():
            return self._insert([self._check(args)])[0].describe()

    def add_bulk(self, specs: list[dict]) -> dict:
        """Rules in order, all or none, in one change. An error names the
        rule by its position in `specs`, from 1."""
        self.room_for(len(specs))
        started = time.perf_counter()
        with _ahead_of_nfs():
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
            action, mirror = flow_rules.action(args)
        except RuleError as e:
            raise ControlError(BAD_ARGS, f"{where}{e}") from None
        chain = args.get("chain")
        try:
            chain_id = self.chain_id(chain) if action == "chain" else 0
        except ControlError as e:
            raise ControlError(e.code, where + e.message) from None
        try:
            idle = flow_rules.idle_timeout(args.get("idle_timeout") or 0)
            hard = flow_rules.hard_timeout(args.get("hard_timeout") or 0)
            priority = flow_rules.priority(args.get("priority"))
            match = flow_rules.match(args)
            fields = {**rules.rule_fields(match, 1), **flow_rules.match_fields(args)}
        except RuleError as e:
            raise ControlError(BAD_ARGS, f"{where}{e}") from None
        extra = {k: args.get(k) for k in ("in_port", "vlan", "dscp")}
        return _Checked(match, extra, chain, chain_id, action, mirror, priority, idle, hard,
                        {"match": fields, "chain": chain_id, "mirror": mirror,
                         "priority": priority, "action": ACTION_CODES[action]})

    def _insert(self, checked: list[_Checked]) -> list[FlowRule]:
        """Add checked rules in one change; on failure nothing changes."""
        self._uncool()
        n = len(checked)
        if len(self._free_slots) < n:
            raise ControlError(LIMIT, "no free rule slot yet: rules were deleted too fast")
        slots = self._free_slots[-n:][::-1]
        c_rules = ffi.new("struct onvm_flow_rule[]", n)
        for i, (c, slot) in enumerate(zip(checked, slots, strict=True)):
            c.fields["match"]["result"] = slot + 1
            c_rules[i] = c.fields
        rc = lib.onvm_mgr_flow_rules_add(self.sh, c_rules, n)
        if rc < 0:
            raise _publish_error(rc)
        del self._free_slots[-n:]
        now = time.monotonic()
        added = []
        for i, (c, slot) in enumerate(zip(checked, slots, strict=True)):
            rule = FlowRule(self._next_id + i, c, slot, lib.onvm_mgr_flow_hits(self.sh, slot),
                            lib.onvm_mgr_flow_bytes(self.sh, slot), now, last_hit=now)
            self.rules[rule.rule_id] = rule
            if c.hard_timeout:
                heapq.heappush(self._deadlines, (now + c.hard_timeout, rule.rule_id))
            if c.idle_timeout:
                self._idle.add(rule.rule_id)
            added.append(rule)
        self._next_id += n
        self._last_add, self._unsettled = now, True
        return added

    # ---- deleting ----

    def delete(self, rule_id: int) -> dict:
        if rule_id not in self.rules:
            raise ControlError(NOT_FOUND, f"no flow rule {rule_id}")
        with _ahead_of_nfs():
            return self._remove({rule_id})[0]

    def _remove(self, ids: set[int]) -> list[dict]:
        """Delete the rules of `ids` in one change; their descriptions."""
        gone = [self.rules[i] for i in sorted(ids)]
        self._count(gone, time.monotonic())
        slots = ffi.new("uint32_t[]", [r.slot for r in gone])
        rc = lib.onvm_mgr_flow_rules_delete(self.sh, slots, len(gone))
        if rc < 0:
            raise _publish_error(rc)
        now = time.monotonic()
        for r in gone:
            del self.rules[r.rule_id]
            self._idle.discard(r.rule_id)
            self._cooling.append((now + SLOT_COOLDOWN, r.slot))
        return [r.describe(now) for r in gone]

    def expire(self) -> list[dict]:
        """Delete the rules past their hard timeout, and those idle for
        longer than their idle timeout, in one change; settle the newest
        rules once adds pause. Call each tick."""
        lib.onvm_mgr_flow_rules_gc(self.sh)
        now = time.monotonic()
        if self._unsettled and now - self._last_add >= SETTLE_SECONDS:
            self._unsettled = False
            with _ahead_of_nfs():
                rc = lib.onvm_mgr_flow_rules_settle(self.sh)
            if rc < 0:
                log.warning("the newest flow rules stay uncompiled: %s", pydpdk.strerror(-rc))
        due = set()
        while self._deadlines and self._deadlines[0][0] <= now:
            rule_id = heapq.heappop(self._deadlines)[1]
            if rule_id in self.rules:
                due.add(rule_id)
        if self._idle and now >= self._next_idle_check:
            self._next_idle_check = now + IDLE_CHECK_SECONDS
            idle = [self.rules[i] for i in self._idle]
            self._count(idle, now)
            due.update(r.rule_id for r in idle if now - r.last_hit > r.rule.idle_timeout)
        if not due:
            return []
        with _ahead_of_nfs():
            return self._remove(due)

    # ---- reading ----

    def using_chain(self, chain: str) -> list[int]:
        return [r.rule_id for r in self.rules.values() if r.chain == chain]

    def list(self) -> list[dict]:
        """Every rule, in order of precedence: priority, then the first added."""
        now = time.monotonic()
        ordered = sorted(self.rules.values(), key=lambda r: (-r.rule.priority, r.rule_id))
        self._count(ordered, now)
        return [r.describe(now) for r in ordered]

    def tiers(self) -> list[dict]:
        """The data plane's compiled sets: rules (deleted ones among them),
        dead, builds and the seconds spent building, main set first."""
        info = ffi.new("struct onvm_flow_tier_info[]", FLOW_TIERS)
        lib.onvm_mgr_flow_tiers(self.sh, info)
        return [{"tier": name, "rules": t.rules, "dead": t.dead, "builds": t.builds,
                 "build_seconds": round(t.build_ns / 1e9, 6)}
                for name, t in zip(TIER_NAMES, info, strict=True)]

    def _count(self, selected: list[FlowRule], now: float) -> None:
        for r in selected:
            hits = lib.onvm_mgr_flow_hits(self.sh, r.slot) - r.hits_base
            if hits != r.hits:
                r.hits, r.last_hit = hits, now
                r.bytes = lib.onvm_mgr_flow_bytes(self.sh, r.slot) - r.bytes_base

    def _uncool(self) -> None:
        now = time.monotonic()
        while self._cooling and self._cooling[0][0] <= now:
            self._free_slots.append(self._cooling.popleft()[1])


def _publish_error(rc: int) -> ControlError:
    return ControlError(LIMIT if rc == -28 else BAD_ARGS,
                        f"flow rules not changed: {pydpdk.strerror(-rc)}")
