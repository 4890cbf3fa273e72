# SPDX-License-Identifier: BSD-3-Clause
"""Packet capture to pcapng, run by the control thread.

The data plane copies the packets of one capture point (a port's RX or TX,
an NF's input or output) onto a ring; each tick the control thread takes
them off and writes them, until the capture has its packet count or its
time is up. Copies beyond the count are discarded, not written.
"""

from __future__ import annotations

import errno
import itertools
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from onvm.contract import CapturePoint
from onvm.errors import ControlError
from onvm.manager.protocol import BAD_ARGS, BUSY, NOT_FOUND
from onvm.manager.tables.pcapng import PcapngWriter
from onvm.pydpdk import manager as pydpdk

ffi, lib = pydpdk.ffi, pydpdk.lib
log = logging.getLogger("onvm.manager")

POINTS = {
    ("port", "rx"): CapturePoint.PORT_RX,
    ("port", "tx"): CapturePoint.PORT_TX,
    ("nf", "in"): CapturePoint.NF_IN,
    ("nf", "out"): CapturePoint.NF_OUT,
}
TAKE_MAX = 512
# Takes of TAKE_MAX per poll at most: the control loop must go on (requests,
# signals) even when a port copies faster than a file is written; what the
# ring cannot hold meanwhile is counted as missed.
TAKES_PER_POLL = 8
MAX_SNAPLEN = 65535
MAX_SECONDS = 24 * 3600
_ids = itertools.count(1)


@dataclass
class Capture:
    capture_id: int
    target: str  # "port 0 rx", "nf 3 in"
    path: str
    count: int  # 0: no packet limit
    seconds: float  # 0: no time limit
    started: float = field(default_factory=time.monotonic)
    state: str = "running"  # running -> draining -> done | failed
    packets: int = 0
    discarded: int = 0
    missed_base: int = 0
    missed: int = 0
    error: str = ""

    def describe(self) -> dict:
        return {
            "id": self.capture_id, "target": self.target, "path": self.path,
            "state": self.state, "packets": self.packets, "missed": self.missed,
            "count": self.count, "seconds": self.seconds,
            "elapsed": round(time.monotonic() - self.started, 3), "error": self.error,
        }


class Captures:
    """One capture at a time; finished ones stay listed for their status."""

    def __init__(self, shared, tsc_hz: int) -> None:
        self.sh = shared
        self.tsc_hz = tsc_hz
        self.current: Capture | None = None
        self.writer: PcapngWriter | None = None
        self.finished: dict[int, Capture] = {}
        self._buf = ffi.new("uint8_t[]", TAKE_MAX * 2048)
        self._recs = ffi.new("struct onvm_capture_record[]", TAKE_MAX)
        self._snaplen = 0
        self._drain_ticks = 0
        # TSC to wall clock: one pair read together, then the TSC's rate.
        self._wall0, self._tsc0 = time.time_ns(), lib.onvm_mgr_tsc()

    @property
    def active(self) -> bool:
        return self.current is not None

    def start(self, kind: str, target_id: int, side: str, path: str, count: int,
              seconds: float, snaplen: int, exists) -> dict:
        point = POINTS.get((kind, side))
        if point is None:
            raise ControlError(BAD_ARGS, "capture a port's rx or tx, or an NF's in or out")
        if not exists(target_id):
            raise ControlError(NOT_FOUND, f"no {kind} {target_id}")
        if count < 0 or not 0 <= seconds <= MAX_SECONDS or (count == 0 and seconds == 0):
            raise ControlError(BAD_ARGS, "give a packet count, a time in seconds, or both")
        if not 1 <= snaplen <= MAX_SNAPLEN:
            raise ControlError(BAD_ARGS, f"snaplen must be from 1 to {MAX_SNAPLEN}")
        if not os.path.isabs(path):
            raise ControlError(BAD_ARGS, "the capture path must be absolute")
        if self.current is not None:
            raise ControlError(BUSY, f"capture {self.current.capture_id} is running")
        target = f"{kind} {target_id} {side}"
        try:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            writer = PcapngWriter(path, snaplen=snaplen, comment=f"onvm capture of {target}",
                                  interface_name=target)
        except OSError as e:
            if os.path.islink(path) or e.errno == errno.ELOOP:
                raise ControlError(BAD_ARGS, f"{path} is a symbolic link: a capture never "
                                   "follows one; name a new plain file") from None
            if e.errno == errno.EEXIST:
                raise ControlError(BAD_ARGS, f"{path} exists: a capture never overwrites a "
                                   "file; remove it or name a new one") from None
            raise ControlError(BAD_ARGS, f"cannot write {path}: {e.strerror}") from None
        self._grow(snaplen)
        rc = lib.onvm_mgr_capture_start(self.sh, point, target_id, snaplen)
        if rc < 0:
            writer.close()
            os.unlink(path)
            code = BUSY if rc == -16 else BAD_ARGS
            raise ControlError(code, f"capture not started: {pydpdk.strerror(-rc)}")
        cap = Capture(next(_ids), target, path, count, seconds,
                      missed_base=self._missed_now())
        self.current, self.writer = cap, writer
        log.info("capture %d: %s to %s", cap.capture_id, target, path)
        return cap.describe()

    def status(self, capture_id: int | None) -> dict:
        if capture_id is None:
            cap = self.current or (self.finished[max(self.finished)] if self.finished else None)
        elif self.current and self.current.capture_id == capture_id:
            cap = self.current
        else:
            cap = self.finished.get(capture_id)
        if cap is None:
            raise ControlError(NOT_FOUND, f"no capture {capture_id}" if capture_id else
                               "no capture has run")
        return cap.describe()

    def stop(self, capture_id: int | None) -> dict:
        cap = self.current
        if cap is None or (capture_id is not None and cap.capture_id != capture_id):
            raise ControlError(NOT_FOUND, "that capture is not running")
        self._finish_copying()
        return cap.describe()

    def poll(self) -> None:
        """Write what was copied; end the capture when its limit is reached."""
        cap = self.current
        if cap is None:
            return
        try:
            self._take()
        except OSError as e:
            cap.error = f"writing {cap.path}: {e.strerror}"
            self._finish_copying()
        if cap.state == "running":
            full = cap.count and cap.packets >= cap.count
            late = cap.seconds and time.monotonic() - cap.started >= cap.seconds
            if full or late:
                self._finish_copying()
        elif cap.state == "draining":
            # Workers saw the stop by their next loop; a few ticks later the
            # ring holds everything they copied.
            self._drain_ticks += 1
            if self._drain_ticks >= 3 and not self._take():
                self._close()

    def close(self) -> None:
        """At shutdown: end a running capture and keep what it got."""
        if self.current is not None:
            self._finish_copying()
            while self._take():  # the workers have stopped copying
                pass
            self._close()

    def _finish_copying(self) -> None:
        lib.onvm_mgr_capture_stop(self.sh)
        self.current.state = "draining"
        self._drain_ticks = 0

    def _close(self) -> None:
        cap = self.current
        self.writer.close()
        cap.missed = self._missed_now() - cap.missed_base
        cap.state = "failed" if cap.error else "done"
        log.info("capture %d done: %d packets in %s%s", cap.capture_id, cap.packets, cap.path,
                 f", {cap.missed} missed" if cap.missed else "")
        self.finished[cap.capture_id] = cap
        while len(self.finished) > 16:
            del self.finished[min(self.finished)]
        self.current, self.writer = None, None

    def _take(self) -> int:
        """Move copies from the ring to the file, a bounded amount per call;
        returns how many were taken."""
        cap, taken = self.current, 0
        for _ in range(TAKES_PER_POLL):
            n = lib.onvm_mgr_capture_take(self.sh, self._recs, TAKE_MAX, self._buf,
                                          len(self._buf))
            if n == 0:
                break
            taken += n
            data = ffi.buffer(self._buf, len(self._buf))
            for i in range(n):
                rec = self._recs[i]
                if cap.count and cap.packets >= cap.count or cap.error:
                    cap.discarded += 1
                    continue
                ts = self._wall0 + (rec.tsc - self._tsc0) * 1_000_000_000 // self.tsc_hz
                self.writer.write(data[rec.offset:rec.offset + rec.caplen],
                                  timestamp_ns=ts, orig_len=rec.origlen)
                cap.packets += 1
            cap.missed = self._missed_now() - cap.missed_base
            if cap.count and cap.packets >= cap.count:
                break  # the rest are the poll's to stop and discard
        return taken

    def _grow(self, snaplen: int) -> None:
        want = max(TAKE_MAX * 2048, snaplen * 8)  # take() needs a snaplen of room
        if len(self._buf) < want:
            self._buf = ffi.new("uint8_t[]", want)

    def _missed_now(self) -> int:
        w = self.sh.workers
        return sum(w[i].capture_missed for i in range(self.sh.num_workers))
