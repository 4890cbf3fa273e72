# SPDX-License-Identifier: BSD-3-Clause
"""Messages from the control plane to NFs, and their replies.

The control thread puts a request on the inboxes of one NF or of every
instance of a service; an NF's answer comes back through the control
worker onto the reply ring, which only this thread reads. A wait polls that
ring for the replies to its request; replies to requests no longer waited
for (they came too late) are dropped there and counted.
"""

from __future__ import annotations

import itertools
import time

from onvm.contract import MSG_DATA_MAX
from onvm.errors import ControlError
from onvm.manager.protocol import BAD_ARGS, BUSY, NOT_FOUND
from onvm.pydpdk import manager as pydpdk

ffi, lib = pydpdk.ffi, pydpdk.lib

MAX_WAIT = 60.0  # seconds a request may wait for its replies
POLL = 0.0005


class Messages:
    def __init__(self, shared) -> None:
        self.sh = shared
        self._ids = itertools.count(1)
        self._reply = ffi.new("struct onvm_nf_msg *")
        self.late = 0  # replies that came after their request stopped waiting

    def send(self, data: bytes, nf: int | None, service: int | None, wait: bool,
             timeout: float) -> dict:
        if (nf is None) == (service is None):
            raise ControlError(BAD_ARGS, "nf.msg: give exactly one of nf and service")
        if len(data) > MSG_DATA_MAX:
            raise ControlError(BAD_ARGS, f"nf.msg: a message holds at most {MSG_DATA_MAX} "
                               f"bytes, not {len(data)}")
        request = next(self._ids) & 0xFFFFFFFF
        sent = lib.onvm_mgr_msg_send(self.sh, nf or 0, service or 0, data, len(data), request)
        if sent == -12 or sent == -105:  # ENOMEM, ENOBUFS: the pool is empty
            raise ControlError(BUSY, "the message pool is empty: NFs are not reading their "
                               "messages; try again")
        if sent < 0:
            raise ControlError(BAD_ARGS, f"nf.msg: {pydpdk.strerror(-sent)}")
        target = f"NF {nf}" if nf is not None else f"service {service}"
        if sent == 0:
            raise ControlError(NOT_FOUND, f"{target} has no running NF to take the message "
                               "(or its inbox is full)")
        result = {"sent": sent, "replies": []}
        if wait:
            result["replies"] = self._wait(request, sent, timeout)
            if len(result["replies"]) < sent:
                result["missing"] = sent - len(result["replies"])
        return result

    def _wait(self, request: int, count: int, timeout: float) -> list[dict]:
        replies: list[dict] = []
        deadline = time.monotonic() + min(timeout, MAX_WAIT)
        while len(replies) < count and time.monotonic() < deadline:
            if not lib.onvm_mgr_msg_take_reply(self.sh, self._reply):
                time.sleep(POLL)
                continue
            if self._reply.id != request:
                self.late += 1
                continue
            replies.append({"nf": getattr(self._reply, "from"),
                            "data": bytes(ffi.buffer(self._reply.data, self._reply.len))})
        return replies
