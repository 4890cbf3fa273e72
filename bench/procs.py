# SPDX-License-Identifier: BSD-3-Clause
"""Running a manager and its NFs as real processes, for benchmarks (and
tests): unique names, readiness and stats from the runtime directory, and
cleanup of every process, hugepage file and runtime file on every path."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from onvm.manager.runtime import remove_dpdk_files, runtime_dir


def tool(name: str) -> str:
    """An onvm command, from the running interpreter's environment first."""
    beside = Path(sys.executable).parent / name
    return str(beside) if beside.exists() else (shutil.which(name) or name)


def wait_until(predicate: Callable[[], object], timeout: float, what: str, step: float = 0.05):
    """Poll until truthy; TimeoutError naming `what` otherwise."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(step)


class Proc:
    """A process in its own session, its output in a log file."""

    def __init__(self, argv: list[str], log: Path) -> None:
        self.argv = argv
        self.log_path = log
        self._log = open(log, "wb")
        self.popen = subprocess.Popen(argv, stdout=self._log, stderr=subprocess.STDOUT,
                                      stdin=subprocess.DEVNULL, start_new_session=True)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def output(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")

    def signal(self, sig: int) -> None:
        if self.alive():
            os.kill(self.popen.pid, sig)

    def wait(self, timeout: float) -> int:
        try:
            return self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            raise TimeoutError(
                f"{self.argv[0]} did not exit within {timeout} s; output:\n{self.output()}"
            ) from None

    def cpu_seconds(self) -> float:
        """User plus system CPU time used so far (0 once it has exited)."""
        try:
            fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            return 0.0
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def kill(self) -> None:
        if self.alive():
            try:
                os.killpg(self.popen.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.popen.wait(10)
        self._log.close()


class ManagerProc(Proc):
    """`onvm-manager start` under a unique name, with its NFs."""

    def __init__(self, workdir: Path, args: list[str], name: str | None = None,
                 prefix: str = "mgr") -> None:
        self.name = name or f"{prefix}-{uuid.uuid4().hex[:8]}"
        self.workdir = workdir
        self.nfs: list[Proc] = []
        argv = [tool("onvm-manager"), "start", "--name", self.name, "--stats-interval", "0",
                *args]
        super().__init__(argv, workdir / f"manager-{self.name}.log")

    def wait_ready(self, timeout: float = 30.0) -> ManagerProc:
        ready = runtime_dir(self.name) / "ready"

        def up() -> bool:
            if not self.alive():
                raise RuntimeError(f"manager exited early:\n{self.output()}")
            return ready.exists()

        wait_until(up, timeout, f"manager {self.name} to be ready")
        return self

    def stats(self) -> dict:
        path = runtime_dir(self.name) / "stats.json"
        for _ in range(50):
            try:
                return json.loads(path.read_text())
            except (FileNotFoundError, json.JSONDecodeError):
                time.sleep(0.02)
        raise RuntimeError(f"no stats from manager {self.name}:\n{self.output()}")

    def wait_stats(self, predicate: Callable[[dict], object], timeout: float, what: str) -> dict:
        def check():
            if not self.alive():
                raise RuntimeError(f"manager exited:\n{self.output()}")
            snap = self.stats()
            return snap if predicate(snap) else None

        return wait_until(check, timeout, what)

    def start_nf(self, nf: str, service: int, *nf_args: str, wait: bool = True,
                 timeout: float = 20.0) -> Proc:
        """Start a bundled or file NF for this manager; by default wait until it runs."""
        log = self.workdir / f"nf-{Path(nf).name}-{service}-{len(self.nfs)}.log"
        proc = Proc([tool("onvm-nf"), nf, "--service", str(service), "--name", self.name,
                     *nf_args], log)
        self.nfs.append(proc)
        if wait:
            self.wait_nf_running(proc, timeout)
        return proc

    def wait_nf_running(self, proc: Proc, timeout: float = 20.0) -> dict:
        def running(snap):
            if not proc.alive():
                raise RuntimeError(f"NF exited early:\n{proc.output()}")
            return any(n["pid"] == proc.pid and n["state"] == "running"
                       for n in snap["nfs"].values())

        return self.wait_stats(running, timeout, f"NF pid {proc.pid} to run")

    def nf_stats(self, snap: dict, proc: Proc) -> dict:
        for n in snap["nfs"].values():
            if n["pid"] == proc.pid:
                return n
        raise KeyError(f"NF pid {proc.pid} not in stats: {snap['nfs']}")

    def stop(self, timeout: float = 30.0) -> int:
        """SIGINT, as an operator would; returns the exit code."""
        self.signal(signal.SIGINT)
        code = self.wait(timeout)
        for nf in self.nfs:
            nf.wait(10)
        return code

    def cleanup(self) -> None:
        for nf in self.nfs:
            nf.kill()
        self.kill()
        remove_dpdk_files(self.name)
        shutil.rmtree(runtime_dir(self.name), ignore_errors=True)
