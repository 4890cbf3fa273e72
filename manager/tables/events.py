# SPDX-License-Identifier: BSD-3-Clause
"""Events: what changed in the running manager, each once, with the time.
The last MAX_KEPT are kept for `events`; each is also published on the stats
socket under its own topic, as it happens.

Kinds: nf.joined, nf.left, nf.crashed, nf.reclaimed, service.scaled,
nf.restarted, chain.set, chain.deleted, flow.added, flow.deleted,
flow.expired, port.link, capture.started, capture.ended.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

MAX_KEPT = 1000


class Events:
    def __init__(self, publish: Callable[[dict], None] | None = None) -> None:
        self.kept: deque[dict] = deque(maxlen=MAX_KEPT)
        self.seq = 0
        self.publish = publish  # set once the control server is up

    def record(self, kind: str, **fields) -> dict:
        self.seq += 1
        event = {"seq": self.seq, "time": time.time(), "kind": kind, **fields}
        self.kept.append(event)
        if self.publish is not None:
            self.publish(event)
        return event

    def since(self, seq: int = 0, count: int | None = None) -> list[dict]:
        """Kept events after `seq`, the last `count` of them."""
        newer = [e for e in self.kept if e["seq"] > seq]
        return newer[-count:] if count else newer
