# SPDX-License-Identifier: BSD-3-Clause
"""Running a manager and its NFs as real processes, for benchmarks, tests
and the demo: unique names, readiness and stats from the runtime directory,
output kept in a log file (and echoed live if asked), and cleanup of every
process, hugepage file and runtime file on every path."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from onvm.contract import READY_FILE, STATS_FILE
from onvm.manager.bringup.runtime import remove_dpdk_files, runtime_dir


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
    """A process in its own session (so its group can be killed with it),
    its output in a log file.

    With `echo`, the output goes through a pipe instead: a thread copies it
    to the log and calls `echo` with each line as it comes, for programs
    that show their children's output live.
    """

    def __init__(self, argv: list[str], log: Path, label: str | None = None,
                 echo: Callable[[str], None] | None = None, cwd: Path | None = None,
                 env: dict[str, str] | None = None) -> None:
        self.argv = argv
        self.label = label or Path(argv[0]).name
        self.log_path = log
        self._log = open(log, "wb")
        self._echo = echo
        self._copier: threading.Thread | None = None
        self.popen = subprocess.Popen(argv, stdout=subprocess.PIPE if echo else self._log,
                                      stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                      start_new_session=True, cwd=cwd, env=env)
        if echo:
            self._copier = threading.Thread(target=self._copy_output, daemon=True)
            self._copier.start()

    def _copy_output(self) -> None:
        for line in self.popen.stdout:
            try:
                self._log.write(line)
                self._log.flush()
            except ValueError:  # log closed: kill() stopped waiting for this copy
                return
            self._echo(line.decode(errors="replace").rstrip("\n"))

    def _output_complete(self, timeout: float = 5.0) -> None:
        """Once the process has ended: wait until the log holds all it wrote."""
        if self._copier is not None:
            self._copier.join(timeout)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def output(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(errors="replace")

    def lines(self) -> list[str]:
        """Its output lines so far; while it runs, not one still being written."""
        running = self.alive()
        if not running:
            self._output_complete()
        text = self.output()
        lines = text.splitlines()
        if lines and not text.endswith("\n") and running:
            lines.pop()
        return lines

    def last_line(self) -> str:
        lines = self.lines()
        return lines[-1] if lines else "(no output)"

    def wait_line(self, pattern: str, timeout: float, after: int = 0) -> str | None:
        """The first output line, from line number `after` on, in which the
        regular expression `pattern` is found; None if the process ends or
        `timeout` passes first."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            ended = not self.alive()  # before reading: then its last lines are in what is read
            for line in self.lines()[after:]:
                if regex.search(line):
                    return line
            if ended or time.monotonic() > deadline:
                return None
            time.sleep(0.05)

    def signal(self, sig: int) -> None:
        if self.alive():
            os.kill(self.popen.pid, sig)

    def wait(self, timeout: float) -> int:
        try:
            code = self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            raise TimeoutError(
                f"{self.label} did not exit within {timeout} s; output:\n{self.output()}"
            ) from None
        self._output_complete()
        return code

    def wait_or_kill(self, timeout: float) -> int | None:
        """Wait up to `timeout` for the process to end (after a stop signal),
        then kill its group. Returns the exit code, or None if it was killed."""
        try:
            code = self.popen.wait(max(timeout, 0))
        except subprocess.TimeoutExpired:
            self.kill()
            return None
        self._output_complete()
        return code

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
        self._output_complete()
        self._log.close()


class ManagerProc(Proc):
    """`onvm-manager start` under a unique name, with its NFs. With `echo`,
    its output and its NFs' are echoed live (see Proc); `stats_interval`
    is the seconds between the stats tables it prints (0: none)."""

    def __init__(self, workdir: Path, args: list[str], name: str | None = None,
                 prefix: str = "mgr", echo: Callable[[str], None] | None = None,
                 stats_interval: float = 0) -> None:
        self.name = name or f"{prefix}-{uuid.uuid4().hex[:8]}"
        self.workdir = workdir
        self.nfs: list[Proc] = []
        argv = [tool("onvm-manager"), "start", "--name", self.name,
                "--stats-interval", f"{stats_interval:g}", *args]
        super().__init__(argv, workdir / f"manager-{self.name}.log", label="onvm-manager",
                         echo=echo)

    def wait_ready(self, timeout: float = 30.0) -> ManagerProc:
        ready = runtime_dir(self.name) / READY_FILE

        def up() -> bool:
            if not self.alive():
                raise RuntimeError(f"manager exited early:\n{self.output()}")
            return ready.exists()

        wait_until(up, timeout, f"manager {self.name} to be ready")
        return self

    def stats(self) -> dict:
        path = runtime_dir(self.name) / STATS_FILE
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
                     *nf_args], log, label=f"{Path(nf).name} (service {service})",
                    echo=self._echo)
        self.nfs.append(proc)
        if wait:
            self.wait_nf_running(proc, timeout)
        return proc

    def wait_nf_running(self, proc: Proc, timeout: float = 20.0) -> dict:
        def running(snap):
            if not proc.alive():
                raise RuntimeError(f"NF exited early:\n{proc.output()}")
            # An NF that has just joined the data plane may not have its
            # name and pid in the snapshot yet.
            return any(n.get("pid") == proc.pid and n.get("state") == "running"
                       for n in snap["nfs"].values())

        return self.wait_stats(running, timeout, f"NF pid {proc.pid} to run")

    def nf_stats(self, snap: dict, proc: Proc) -> dict:
        for n in snap["nfs"].values():
            if n.get("pid") == proc.pid:
                return n
        raise KeyError(f"NF pid {proc.pid} not in stats: {snap['nfs']}")

    def stop(self, timeout: float = 30.0) -> int:
        """SIGINT, as an operator would; returns the exit code."""
        self.signal(signal.SIGINT)
        code = self.wait(timeout)
        for nf in self.nfs:
            nf.wait(10)
        return code

    def cleanup(self) -> bool:
        """Kill whatever still runs and remove the manager's files. True if
        there were files to remove: a manager that stops by itself removes
        its own, so files left mean it crashed or was killed."""
        for nf in self.nfs:
            nf.kill()
        self.kill()
        left = remove_dpdk_files(self.name) > 0 or runtime_dir(self.name).exists()
        shutil.rmtree(runtime_dir(self.name), ignore_errors=True)
        return left
