# SPDX-License-Identifier: BSD-3-Clause
"""How the Linux scheduler treated a run, from /proc: the CPU time other
processes took on the run's CPUs, and how long the manager's workers were
runnable but waited for their CPU. The machine is shared: a compile that
lands on the NFs' CPU takes half of it from a lone NF, and the figures of
that run show it (see docs/PERFORMANCE.md, "The self-loop")."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

WORKER_THREAD = "rte-worker-"  # DPDK's name for an lcore thread of the manager


def cpu_busy_seconds(cpus: list[int]) -> float:
    """Seconds the CPUs in `cpus` were busy (not idle or waiting on I/O) since boot."""
    ticks = os.sysconf("SC_CLK_TCK")
    busy = 0
    for line in Path("/proc/stat").read_text().splitlines():
        name, *fields = line.split()
        if name.startswith("cpu") and name[3:].isdigit() and int(name[3:]) in cpus:
            values = [int(v) for v in fields]
            busy += sum(values) - values[3] - values[4]  # idle, iowait
    return busy / ticks


def _schedstat(pid: int, tid: int) -> tuple[float, float]:
    """(seconds on CPU, seconds runnable but waiting) of one thread."""
    try:
        run, wait, _ = Path(f"/proc/{pid}/task/{tid}/schedstat").read_text().split()
    except (FileNotFoundError, ProcessLookupError, ValueError):
        return 0.0, 0.0
    return int(run) / 1e9, int(wait) / 1e9


def _threads(pid: int) -> list[tuple[int, str]]:
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except FileNotFoundError:
        return []
    found = []
    for tid in tids:
        try:
            found.append((int(tid), Path(f"/proc/{pid}/task/{tid}/comm").read_text().strip()))
        except (FileNotFoundError, ProcessLookupError):
            pass
    return found


def run_seconds(pid: int) -> float:
    """Seconds all threads of process `pid` have run on a CPU (to the
    nanosecond, where /proc/PID/stat counts clock ticks)."""
    return sum(_schedstat(pid, tid)[0] for tid, _ in _threads(pid))


@dataclass
class Sample:
    busy: float  # the CPUs' busy seconds
    ours: float  # CPU seconds of the run's processes, all threads
    worker_wait: float  # seconds the manager's workers waited, runnable
    worker_threads: int


def sample(manager_pid: int, pids: list[int], cpus: list[int]) -> Sample:
    """A reading, to subtract from a later one (see share)."""
    ours = worker_wait = 0.0
    workers = 0
    for pid in [manager_pid, *pids]:
        for tid, name in _threads(pid):
            run, wait = _schedstat(pid, tid)
            ours += run
            if pid == manager_pid and name.startswith(WORKER_THREAD):
                worker_wait += wait
                workers += 1
    return Sample(cpu_busy_seconds(cpus), ours, worker_wait, workers)


def share(before: Sample, after: Sample, elapsed: float) -> dict:
    """Per second of `elapsed`: CPU time others took on the CPUs, and the
    share of the time the workers waited for theirs."""
    others = (after.busy - before.busy) - (after.ours - before.ours)
    return {
        "others_cpu": max(others, 0.0) / elapsed,
        "worker_wait": (after.worker_wait - before.worker_wait) / elapsed
                       / max(after.worker_threads, 1),
    }
