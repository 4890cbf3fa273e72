# SPDX-License-Identifier: BSD-3-Clause
"""Scaling a service: the manager starts instances of a bundled NF as its
own child processes, and stops instances (its own first, newest first).

Flows stay put where they can: a new instance takes buckets of flow hashes
only from instances above their share, and a leaving one hands just its own
buckets to the others (see native/src/manager/services.c).
"""

from __future__ import annotations

import logging
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from onvm import bundled
from onvm.contract import MAX_INSTANCES, MAX_SERVICES
from onvm.errors import ControlError
from onvm.manager.protocol import BAD_ARGS, LIMIT, NOT_FOUND
from onvm.manager.tables.dataplane import DataPlane

log = logging.getLogger("onvm.manager")

START_TIMEOUT = 30.0  # a spawned NF that has not joined by then is killed


@dataclass
class Spawned:
    proc: subprocess.Popen
    service: int
    nf: str
    log_path: Path
    started: float


def _last_line(path: Path) -> str:
    """The last non-empty line of a child's log: what it said as it exited."""
    try:
        with open(path, "rb") as f:
            f.seek(max(0, f.seek(0, 2) - 4096))
            lines = [ln.strip() for ln in f.read().decode(errors="replace").splitlines()]
    except OSError:
        return ""
    return next((ln for ln in reversed(lines) if ln), "")


class Scaler:
    def __init__(self, dataplane: DataPlane, manager_name: str, runtime_dir: Path) -> None:
        self.dp = dataplane
        self.manager_name = manager_name
        self.runtime_dir = runtime_dir
        self.spawned: list[Spawned] = []
        # Per service, children started by its last scale that have exited
        # since (before joining, or after: a C NF joins before it checks its
        # options): `scale --wait` reports them instead of waiting on.
        self.exited: dict[int, list[dict]] = {}
        self._started = 0  # numbers the log files, never reused

    def scale(self, service: int, instances: int, nf: str | None, nf_args: list[str]) -> dict:
        if not 1 <= service < MAX_SERVICES:
            raise ControlError(BAD_ARGS, f"service must be from 1 to {MAX_SERVICES - 1}")
        if not 0 <= instances <= MAX_INSTANCES:
            raise ControlError(BAD_ARGS, f"instances must be from 0 to {MAX_INSTANCES}")
        self.reap()
        self.exited.pop(service, None)  # a new scale: earlier exits are history
        members = self._members(service)
        pending = self._pending(service, members)
        have = len(members) + len(pending)
        started, stopping = [], []
        if instances > have:
            if nf is None:
                raise ControlError(BAD_ARGS, "scaling up needs the bundled NF to start (nf)")
            if nf not in bundled.bundled():
                raise ControlError(NOT_FOUND, f"no bundled NF '{nf}' "
                                   f"(bundled: {', '.join(bundled.bundled())})")
            free = self.dp.free_nf_slots()
            if instances - have > free:
                raise ControlError(LIMIT, f"only {free} free NF slots")
            started = [self._spawn(service, nf, nf_args) for _ in range(instances - have)]
        elif instances < have:
            excess = have - instances
            for s in pending[:excess]:  # not joined yet: simply end them
                s.proc.terminate()
                stopping.append({"pid": s.proc.pid})
            excess -= len(stopping)
            for slot in self._victims(members)[:excess]:
                self.dp.nf_stop(slot.nf_id)
                stopping.append({"id": slot.nf_id, "pid": slot.pid})
        return {"service": service, "instances": instances, "had": have,
                "started": started, "stopping": stopping}

    def _members(self, service: int):
        return [s for s in self.dp.nf_slots()
                if s.service_id == service and s.state in ("starting", "running")]

    def _pending(self, service: int, members) -> list[Spawned]:
        """Spawned for `service`, alive, and not yet in the NF table."""
        pids = {s.pid for s in members}
        return [s for s in self.spawned
                if s.service == service and s.proc.poll() is None and s.proc.pid not in pids]

    def _victims(self, members):
        """Ours before others', newest first."""
        ours = {s.proc.pid for s in self.spawned}
        return sorted(members, key=lambda s: (s.pid in ours, s.instance), reverse=True)

    def _spawn(self, service: int, nf: str, nf_args: list[str]) -> dict:
        self._started += 1
        log_path = self.runtime_dir / f"nf-{service}-{self._started}.log"
        cmd = [sys.executable, "-m", "onvm.nfs.cli", nf, "--service", str(service),
               "--name", self.manager_name]
        cmd += nf_args
        # In the manager's process group: whatever kills the group kills them,
        # and they leave on their own if the manager dies (nflib watches it).
        with open(log_path, "wb") as out:
            proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out,
                                    stderr=subprocess.STDOUT)
        self.spawned.append(Spawned(proc, service, nf, log_path, time.monotonic()))
        log.info("scale: started %s for service %d (pid %d, log %s)", nf, service, proc.pid,
                 log_path)
        return {"pid": proc.pid, "nf": nf, "log": str(log_path)}

    def reap(self) -> None:
        """Forget children that exited; kill those that never joined."""
        joined = {s.pid for s in self.dp.nf_slots()}
        now = time.monotonic()
        for s in list(self.spawned):
            code = s.proc.poll()
            if code is not None:
                if code != 0:
                    log.warning("scale: %s (pid %d) exited with %d; see %s", s.nf, s.proc.pid,
                                code, s.log_path)
                self.exited.setdefault(s.service, []).append({
                    "pid": s.proc.pid, "nf": s.nf, "code": code, "log": str(s.log_path),
                    "said": _last_line(s.log_path),
                })
                self.spawned.remove(s)
            elif s.proc.pid not in joined and now - s.started > START_TIMEOUT:
                log.warning("scale: %s (pid %d) did not join in %.0f s: killing it; see %s",
                            s.nf, s.proc.pid, START_TIMEOUT, s.log_path)
                s.proc.kill()

    def managed_pids(self) -> set[int]:
        return {s.proc.pid for s in self.spawned}

    def close(self, timeout: float = 3.0) -> None:
        """At shutdown, after the NFs were asked to stop: end every child."""
        deadline = time.monotonic() + timeout
        for s in self.spawned:
            if s.proc.poll() is None:
                s.proc.terminate()
        for s in self.spawned:
            try:
                s.proc.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                s.proc.kill()
                s.proc.wait()
        self.spawned.clear()
