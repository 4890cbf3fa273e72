# SPDX-License-Identifier: BSD-3-Clause
"""Scaling a service: the manager starts instances of an NF (a bundled one,
or a user's .py file or C binary named by its path) as its own child
processes, stops instances (its own first, newest first), and with a
respawn policy restarts the ones that crash.

Flows stay put where they can: a new instance takes buckets of flow hashes
only from instances above their share, and a leaving one hands just its own
buckets to the others (see native/src/manager/services.c).

Every child runs through onvm.nfs.cli, as `onvm-nf` runs an NF, so a scaled
NF gets the arguments and the exit codes of one started by hand. Restarts
happen from reap(), which the control loop calls on every tick: a crashed
instance waits out its backoff there, and nothing else waits on it.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from onvm import bundled
from onvm.contract import MAX_INSTANCES, MAX_SERVICES
from onvm.errors import ControlError
from onvm.manager.client.text import how_it_ended
from onvm.manager.protocol import BAD_ARGS, LIMIT, MAX_RESPAWN_LIMIT, NOT_FOUND
from onvm.manager.tables.dataplane import DataPlane

log = logging.getLogger("onvm.manager")

START_TIMEOUT = 30.0  # a spawned NF that has not joined by then is killed
RESPAWN_LIMIT = 5  # restarts of a service's instances within RESPAWN_WINDOW
RESPAWN_WINDOW = 60.0  # seconds
BACKOFF_FIRST = 0.5  # seconds before the first restart in the window, doubling
BACKOFF_MAX = 8.0


@dataclass
class Spawned:
    proc: subprocess.Popen
    service: int
    nf: str
    argv: list[str]  # to start it again just the same
    log_path: Path
    started: float
    stopping: bool = False  # the manager ended it: not a crash


@dataclass
class Respawn:
    """A service's respawn policy, set by its last scale, and its record."""

    limit: int
    restarted_at: deque[float] = field(default_factory=deque)  # within the window
    due: list[tuple[float, Spawned]] = field(default_factory=list)  # waiting out a backoff
    gave_up: str = ""  # the line it logged when it stopped restarting

    def recent(self, now: float) -> int:
        while self.restarted_at and now - self.restarted_at[0] > RESPAWN_WINDOW:
            self.restarted_at.popleft()
        return len(self.restarted_at)


def _last_line(path: Path) -> str:
    """The last non-empty line of a child's log: what it said as it exited."""
    try:
        with open(path, "rb") as f:
            f.seek(max(0, f.seek(0, 2) - 4096))
            lines = [ln.strip() for ln in f.read().decode(errors="replace").splitlines()]
    except OSError:
        return ""
    return next((ln for ln in reversed(lines) if ln), "")


def check_nf(nf: str) -> None:
    """A bundled NF's name, or the absolute path of a user's NF that can
    run; else the ControlError saying why."""
    if not bundled.is_path(nf):
        if nf not in bundled.bundled():
            raise ControlError(NOT_FOUND, f"no bundled NF '{nf}' (bundled: "
                               f"{', '.join(bundled.bundled())}; your own NF: its path, "
                               "e.g. ./my_nf.py)")
        return
    if not os.path.isabs(nf):
        raise ControlError(BAD_ARGS, f"'{nf}' is a relative path: give the NF's absolute "
                           "path (onvm-ctl makes it so)")
    try:
        bundled.user_nf(nf)
    except FileNotFoundError as e:
        raise ControlError(NOT_FOUND, str(e)) from None
    except ValueError as e:
        raise ControlError(BAD_ARGS, str(e)) from None


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
        self.respawns: dict[int, Respawn] = {}  # services whose last scale asked for it
        self.restarts: dict[int, int] = {}  # per service, since the manager started
        self._started = 0  # numbers the log files, never reused
        self.events = None  # the manager's Events, once it has them

    def scale(self, service: int, instances: int, nf: str | None, nf_args: list[str],
              respawn: bool = False, respawn_limit: int | None = None) -> dict:
        if not 1 <= service < MAX_SERVICES:
            raise ControlError(BAD_ARGS, f"service must be from 1 to {MAX_SERVICES - 1}")
        if not 0 <= instances <= MAX_INSTANCES:
            raise ControlError(BAD_ARGS, f"instances must be from 0 to {MAX_INSTANCES}")
        if respawn_limit is not None and not respawn:
            raise ControlError(BAD_ARGS, "respawn_limit goes with respawn: true")
        if respawn_limit is not None and not 1 <= respawn_limit <= MAX_RESPAWN_LIMIT:
            raise ControlError(BAD_ARGS, f"respawn_limit must be from 1 to {MAX_RESPAWN_LIMIT}")
        self.reap()
        members = self._members(service)
        pending = self._pending(service, members)
        have = len(members) + len(pending)
        if nf is not None:
            check_nf(nf)
        if instances > have:
            if nf is None:
                raise ControlError(BAD_ARGS, "scaling up needs the NF to start (nf: a bundled "
                                   "NF's name or the path of your own)")
            free = self.dp.free_nf_slots()
            if instances - have > free:
                raise ControlError(LIMIT, f"only {free} free NF slots")
        # Checked: from here on this scale is the service's.
        self.exited.pop(service, None)  # a new scale: earlier exits are history
        # The new policy replaces the old, and restarts still waiting out
        # their backoff are dropped: `instances` counts from what runs now.
        self.respawns.pop(service, None)
        if respawn:
            self.respawns[service] = Respawn(respawn_limit or RESPAWN_LIMIT)
        started, stopping = [], []
        if instances > have:
            argv = self._command(service, nf, nf_args)
            started = [self._spawn(service, nf, argv) for _ in range(instances - have)]
        elif instances < have:
            excess = have - instances
            for s in pending[:excess]:  # not joined yet: simply end them
                s.stopping = True
                s.proc.terminate()
                stopping.append({"pid": s.proc.pid})
            excess -= len(stopping)
            ours = {s.proc.pid: s for s in self.spawned}
            for slot in self._victims(members)[:excess]:
                if slot.pid in ours:
                    ours[slot.pid].stopping = True
                self.dp.nf_stop(slot.nf_id)
                stopping.append({"id": slot.nf_id, "pid": slot.pid})
        return {"service": service, "instances": instances, "had": have,
                "started": started, "stopping": stopping,
                "respawn": self._policy(service), "restarts": self.restarts.get(service, 0)}

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

    def _command(self, service: int, nf: str, nf_args: list[str]) -> list[str]:
        """What `onvm-nf NF --service S --name MANAGER NF_ARGS` runs."""
        return [sys.executable, "-m", "onvm.nfs.cli", nf, "--service", str(service),
                "--name", self.manager_name, *nf_args]

    def _spawn(self, service: int, nf: str, argv: list[str]) -> dict:
        self._started += 1
        log_path = self.runtime_dir / f"nf-{service}-{self._started}.log"
        # In the manager's process group: whatever kills the group kills them,
        # and they leave on their own if the manager dies (nflib watches it).
        with open(log_path, "wb") as out:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out,
                                    stderr=subprocess.STDOUT)
        self.spawned.append(Spawned(proc, service, nf, argv, log_path, time.monotonic()))
        log.info("scale: started %s for service %d (pid %d, log %s)", nf, service, proc.pid,
                 log_path)
        return {"pid": proc.pid, "nf": nf, "log": str(log_path)}

    def reap(self) -> None:
        """Forget children that exited, schedule the restart of those that
        crashed, kill those that never joined; then start the restarts due."""
        joined = {s.pid for s in self.dp.nf_slots()}
        now = time.monotonic()
        for s in list(self.spawned):
            code = s.proc.poll()
            if code is not None:
                if code != 0:
                    log.warning("scale: %s (pid %d) %s; see %s", s.nf, s.proc.pid,
                                how_it_ended(code), s.log_path)
                self.exited.setdefault(s.service, []).append({
                    "pid": s.proc.pid, "nf": s.nf, "code": code, "log": str(s.log_path),
                    "said": _last_line(s.log_path),
                })
                self.spawned.remove(s)
                if code != 0 and not s.stopping:
                    self._crashed(s, code, now)
            elif s.proc.pid not in joined and now - s.started > START_TIMEOUT:
                log.warning("scale: %s (pid %d) did not join in %.0f s: killing it; see %s",
                            s.nf, s.proc.pid, START_TIMEOUT, s.log_path)
                s.proc.kill()
        for service, policy in self.respawns.items():
            for entry in [e for e in policy.due if e[0] <= now]:
                policy.due.remove(entry)
                self._restart(service, entry[1])

    def _crashed(self, s: Spawned, code: int, now: float) -> None:
        """Restart a crashed instance after its backoff, within its service's limit."""
        policy = self.respawns.get(s.service)
        if policy is None or policy.gave_up:
            return
        recent = policy.recent(now)
        if recent >= policy.limit:
            policy.gave_up = (
                f"scale: service {s.service}: {s.nf} (pid {s.proc.pid}) "
                f"{how_it_ended(code)} after {recent} restart(s) in {RESPAWN_WINDOW:g} s, its "
                f"respawn limit: not restarting it again (scale the service to retry)")
            log.warning("%s", policy.gave_up)
            return
        delay = min(BACKOFF_FIRST * 2 ** recent, BACKOFF_MAX)
        policy.restarted_at.append(now)  # counted now: crashes at once share the limit
        policy.due.append((now + delay, s))
        log.info("scale: restarting %s for service %d in %g s", s.nf, s.service, delay)

    def _restart(self, service: int, crashed: Spawned) -> None:
        self.restarts[service] = self.restarts.get(service, 0) + 1
        started = self._spawn(service, crashed.nf, crashed.argv)
        if self.events is not None:
            self.events.record("nf.restarted", service=service, nf=crashed.nf,
                               pid=started["pid"], replaces=crashed.proc.pid,
                               restarts=self.restarts[service])
        log.info("scale: restart %d of service %d: %s (pid %d) in place of pid %d",
                 self.restarts[service], service, crashed.nf, started["pid"],
                 crashed.proc.pid)

    def _policy(self, service: int) -> dict | None:
        policy = self.respawns.get(service)
        if policy is None:
            return None
        return {"limit": policy.limit, "window": RESPAWN_WINDOW,
                "recent": policy.recent(time.monotonic()), "waiting": len(policy.due),
                "gave_up": policy.gave_up}

    def service_status(self, service: int) -> dict:
        """What service.list shows of a service's scaling."""
        return {"exited": self.exited.get(service, []), "restarts": self.restarts.get(service, 0),
                "respawn": self._policy(service)}

    def services(self) -> set[int]:
        """Services with something to show: exits, restarts or a policy."""
        return set(self.exited) | set(self.restarts) | set(self.respawns)

    def managed_pids(self) -> set[int]:
        return {s.proc.pid for s in self.spawned}

    def close(self, timeout: float = 3.0) -> None:
        """At shutdown, after the NFs were asked to stop: end every child."""
        self.respawns.clear()  # nothing restarts now
        deadline = time.monotonic() + timeout
        for s in self.spawned:
            s.stopping = True
            if s.proc.poll() is None:
                s.proc.terminate()
        for s in self.spawned:
            try:
                s.proc.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                s.proc.kill()
                s.proc.wait()
        self.spawned.clear()
