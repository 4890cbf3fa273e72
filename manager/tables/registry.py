# SPDX-License-Identifier: BSD-3-Clause
"""NF registry of the control thread: who joined, who left, who died.

NFs register with the data plane directly (a handshake with the control
worker); this side watches each NF's process through a pidfd, tells the
data plane when one dies, and returns a crashed NF's packets to the pool.
"""

from __future__ import annotations

import logging
import os
import select
from collections.abc import Callable
from dataclasses import dataclass

from onvm.manager.tables.dataplane import DataPlane, NfSlot
from onvm.manager.tables.events import Events

log = logging.getLogger("onvm.manager")


def _who(slot: NfSlot) -> dict:
    return {"nf": slot.nf_id, "name": slot.name, "service": slot.service_id, "pid": slot.pid}


@dataclass
class Watched:
    slot: NfSlot
    pidfd: int | None
    dead: bool = False
    reported_dead: bool = False
    announced: bool = False
    crashed: bool = False


class NfRegistry:
    """Tracks NF slots by (id, generation); call poll() on every tick.
    `on_gone(nf_id, generation)` is called once an NF it saw has left its
    slot (cleanly or after a crash), for what it left in shared memory."""

    def __init__(self, dataplane: DataPlane, events: Events | None = None,
                 on_gone: Callable[[int, int], object] | None = None) -> None:
        self.dp = dataplane
        self.events = events if events is not None else Events()
        self.on_gone = on_gone
        self.watched: dict[int, Watched] = {}
        self.crashed = 0
        self.reclaimed = 0

    def pidfds(self) -> dict[int, int]:
        """pidfd -> NF id, for the control loop's poll()."""
        return {w.pidfd: i for i, w in self.watched.items() if w.pidfd is not None and not w.dead}

    def _close(self, w: Watched) -> None:
        if w.pidfd is not None:
            os.close(w.pidfd)
            w.pidfd = None

    def _watch(self, slot: NfSlot) -> Watched:
        try:
            pidfd = os.pidfd_open(slot.pid) if slot.pid > 0 else None
            dead = pidfd is None
        except ProcessLookupError:
            pidfd, dead = None, True
        return Watched(slot=slot, pidfd=pidfd, dead=dead)

    def _alive(self, w: Watched) -> bool:
        if w.dead or w.pidfd is None:
            return False
        readable, _, _ = select.select([w.pidfd], [], [], 0)
        # A pidfd turns readable when its process exits. The manager's own
        # children are the scaler's: it reaps them, and reads from their exit
        # status whether they crashed.
        if readable:
            w.dead = True
            self._close(w)
        return not w.dead

    def poll(self) -> None:
        seen = set()
        for slot in self.dp.nf_slots():
            seen.add(slot.nf_id)
            w = self.watched.get(slot.nf_id)
            if w is None or w.slot.generation != slot.generation or w.slot.pid != slot.pid:
                if w is not None:
                    self._close(w)
                    if w.slot.generation != slot.generation:
                        self._gone(w)
                w = self.watched[slot.nf_id] = self._watch(slot)
            w.slot = slot
            self._step(w)
        for nf_id in list(self.watched):
            if nf_id not in seen:
                w = self.watched.pop(nf_id)
                self._close(w)
                self._gone(w)
                if w.announced and not w.crashed:
                    log.info("NF %d '%s' left service %d", nf_id, w.slot.name, w.slot.service_id)
                    self.events.record("nf.left", **_who(w.slot))

    def _gone(self, w: Watched) -> None:
        if self.on_gone is not None:
            self.on_gone(w.slot.nf_id, w.slot.generation)

    def _step(self, w: Watched) -> None:
        slot = w.slot
        if slot.state == "running" and not w.announced:
            w.announced = True
            log.info(
                "NF %d '%s' (pid %d) joined service %d as instance %d%s",
                slot.nf_id, slot.name, slot.pid, slot.service_id, slot.instance,
                ", shared core" if slot.shared_core else "",
            )
            self.events.record("nf.joined", **_who(slot), instance=slot.instance)
        if slot.state == "reclaiming":  # the data plane's verdict: it crashed
            returned = self.dp.nf_reclaim(slot.nf_id)
            self.crashed += 1
            w.crashed = True
            self.reclaimed += returned
            log.warning(
                "NF %d '%s' died: slot freed, %d packets it held returned to the pool",
                slot.nf_id, slot.name, returned,
            )
            self.events.record("nf.crashed", **_who(slot))
            self.events.record("nf.reclaimed", **_who(slot), mbufs=returned)
            return
        if not self._alive(w):
            if slot.state == "rejected":
                self.dp.nf_release_rejected(slot.nf_id)
            elif slot.state in ("starting", "running", "stopping") and not w.reported_dead:
                if self.dp.nf_dead(slot.nf_id, slot.generation):
                    w.reported_dead = True

    def running(self) -> list[NfSlot]:
        return [s for s in self.dp.nf_slots() if s.state == "running"]

    def close(self) -> None:
        for w in self.watched.values():
            self._close(w)
        self.watched.clear()
