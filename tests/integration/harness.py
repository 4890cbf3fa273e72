# SPDX-License-Identifier: BSD-3-Clause
"""Real processes for integration tests: a manager and its NFs.

Every process is started in its own session and killed with its group on
teardown; every wait has a timeout; a manager's hugepage files and runtime
directory are removed even if it crashed.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from onvm.manager.runtime import remove_dpdk_files, runtime_dir

VENV_BIN = Path(__file__).resolve().parents[2] / ".venv" / "bin"


def tool(name: str) -> str:
    """Path of an onvm command, from the venv when there is one."""
    path = VENV_BIN / name
    return str(path) if path.exists() else name


def wait_until(predicate: Callable[[], object], timeout: float, what: str, step: float = 0.05):
    """Poll predicate until truthy; AssertionError naming `what` on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(step)


class Proc:
    """A process in its own session, output captured to a file."""

    def __init__(self, argv: list[str], log: Path) -> None:
        self.argv = argv
        self.log_path = log
        self._log = open(log, "wb")
        self.popen = subprocess.Popen(
            argv, stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,
        )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def output(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")

    def signal(self, sig: int) -> None:
        if self.popen.poll() is None:
            os.kill(self.popen.pid, sig)

    def wait(self, timeout: float) -> int:
        try:
            return self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(
                f"{self.argv[0]} did not exit within {timeout} s; output:\n{self.output()}"
            ) from None

    def kill(self) -> None:
        if self.popen.poll() is None:
            try:
                os.killpg(self.popen.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.popen.wait(10)
        self._log.close()


class Manager(Proc):
    """onvm-manager start with a unique name; ready once NFs can join."""

    def __init__(self, tmp: Path, args: list[str], name: str | None = None) -> None:
        self.name = name or f"it-{uuid.uuid4().hex[:8]}"
        self.tmp = tmp
        self.nfs: list[Proc] = []
        argv = [tool("onvm-manager"), "start", "--name", self.name, "--stats-interval", "0", *args]
        super().__init__(argv, tmp / f"manager-{self.name}.log")

    def wait_ready(self, timeout: float = 30.0) -> Manager:
        ready = runtime_dir(self.name) / "ready"

        def up() -> bool:
            if self.popen.poll() is not None:
                raise AssertionError(f"manager exited early:\n{self.output()}")
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
        raise AssertionError(f"no stats from manager {self.name}:\n{self.output()}")

    def wait_stats(self, predicate: Callable[[dict], object], timeout: float, what: str) -> dict:
        def check():
            if self.popen.poll() is not None:
                raise AssertionError(f"manager exited:\n{self.output()}")
            snap = self.stats()
            return snap if predicate(snap) else None

        return wait_until(check, timeout, what)

    def start_nf(self, nf: str, service: int, *nf_args: str, wait: bool = True) -> Proc:
        """Start a bundled NF for this manager; by default wait until it runs."""
        log = self.tmp / f"nf-{nf}-{service}-{len(self.nfs)}.log"
        proc = Proc([tool("onvm-nf"), nf, "--service", str(service), "--name", self.name,
                     *nf_args], log)
        self.nfs.append(proc)
        if wait:
            self.wait_nf_running(proc)
        return proc

    def wait_nf_running(self, proc: Proc, timeout: float = 20.0) -> dict:
        def running(snap):
            if proc.popen.poll() is not None:
                raise AssertionError(f"NF exited early:\n{proc.output()}")
            return any(n["pid"] == proc.pid and n["state"] == "running"
                       for n in snap["nfs"].values())

        return self.wait_stats(running, timeout, f"NF pid {proc.pid} to run")

    def nf_stats(self, snap: dict, proc: Proc) -> dict:
        for n in snap["nfs"].values():
            if n["pid"] == proc.pid:
                return n
        raise AssertionError(f"NF pid {proc.pid} not in stats: {snap['nfs']}")

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
        d = runtime_dir(self.name)
        if d.exists():
            for f in d.iterdir():
                f.unlink()
            d.rmdir()
