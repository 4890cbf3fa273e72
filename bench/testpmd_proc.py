# SPDX-License-Identifier: BSD-3-Clause
"""dpdk-testpmd as a benchmark process: its own DPDK file prefix, no PCI,
little memory, pinned lcores; rates read from the stats it prints every
second; every file it made removed on every path."""

from __future__ import annotations

import glob
import os
import re
import shutil
import signal
import uuid
from collections.abc import Sequence
from pathlib import Path

from onvm.bench.procs import Proc, wait_until
from onvm.manager.bringup.runtime import DPDK_RUN_ROOT, HUGEPAGE_DIRS

TESTPMD = "dpdk-testpmd"
MBUFS = 8192  # enough for memif and null rings; keeps each testpmd at ~20 MB

# testpmd prints one block per port per period; these come from the
# "Throughput (since last show)" part, measured by testpmd on its TSC.
_RX_PPS = re.compile(r"Rx-pps:\s+(\d+)")
_TX_PPS = re.compile(r"Tx-pps:\s+(\d+)")
_VERSION = re.compile(r"RTE Version: '([^']+)'")
# Lines that mean testpmd will not forward anything.
_FATAL = ("Fail to start port", "No probed ethernet devices", "Cause:",
          "failed to initialize", "Not all ports were started")
# A warning every memif port gives under --in-memory: not a reason.
_BENIGN = "Failed to register mp action callback"


def find_testpmd() -> str:
    path = shutil.which(TESTPMD)
    if path is None:
        raise RuntimeError(f"{TESTPMD} not found: install the Debian package dpdk")
    return path


def require_cpus(*cpus: int) -> None:
    """Benchmarks pin to fixed CPUs so that runs compare; say so up front."""
    missing = sorted(set(cpus) - os.sched_getaffinity(0))
    if missing:
        raise RuntimeError(f"this benchmark runs on CPUs {sorted(set(cpus))}, and CPU(s) "
                           f"{missing} are not available to it")


def remove_prefix_files(prefix: str) -> None:
    """What DPDK leaves behind for `prefix`: its runtime directory, and
    hugepage files if it ran without --in-memory."""
    shutil.rmtree(DPDK_RUN_ROOT / prefix, ignore_errors=True)
    for hugedir in HUGEPAGE_DIRS:
        for path in glob.glob(os.path.join(hugedir, f"{prefix}map_*")):
            Path(path).unlink(missing_ok=True)


class TestpmdProc(Proc):
    """One dpdk-testpmd: `main_cpu` runs its stats loop (asleep between
    prints), `fwd_cpu` its one forwarding lcore, or each CPU of a list one,
    polling a queue pair of each port of its own."""

    def __init__(self, workdir: Path, role: str, vdevs: list[str], forward_mode: str,
                 main_cpu: int, fwd_cpu: int | Sequence[int]) -> None:
        self.role = role
        self.nb_ports = len(vdevs)
        # Not onvm-*: that is where managers' file prefixes live.
        self.prefix = f"bench-testpmd-{role}-{uuid.uuid4().hex[:8]}"
        fwd = [fwd_cpu] if isinstance(fwd_cpu, int) else list(fwd_cpu)
        lcores = ",".join([f"0@{main_cpu}", *(f"{i}@{cpu}" for i, cpu in enumerate(fwd, 1))])
        argv = [find_testpmd(), "-v", f"--lcores={lcores}", "--main-lcore=0",
                f"--file-prefix={self.prefix}", "--no-pci", "--in-memory", "-m", "128"]
        for vdev in vdevs:
            argv += ["--vdev", vdev]
        # Non-interactive with a stats period: testpmd forwards until SIGINT.
        # Without one it reads stdin for "enter to exit", gets EOF at once
        # and stops forwarding after the first ring-full of packets.
        argv += ["--", f"--forward-mode={forward_mode}", "--stats-period=1",
                 f"--total-num-mbufs={MBUFS * len(fwd)}"]
        if len(fwd) > 1:
            argv += [f"--nb-cores={len(fwd)}", f"--rxq={len(fwd)}", f"--txq={len(fwd)}"]
        super().__init__(argv, workdir / f"testpmd-{role}-{self.prefix[-8:]}.log")

    def _check(self) -> str:
        """The output so far; RuntimeError, one line, once testpmd has failed."""
        text = self.output()
        failed = any(mark in text for mark in _FATAL)
        if failed or not self.alive():
            what = "failed" if failed else "exited early"
            raise RuntimeError(f"testpmd {self.role} {what}: {_reasons(text)}")
        return text

    def wait_forwarding(self, timeout: float = 20.0) -> TestpmdProc:
        """Until its first stats block: ports started, forwarding on."""
        wait_until(lambda: self.periods() >= 1, timeout,
                   f"testpmd {self.role} to start forwarding")
        return self

    def periods(self) -> int:
        """Stats periods printed in full so far (one a second)."""
        return len(_TX_PPS.findall(self._check())) // self.nb_ports

    def wait_periods(self, count: int, timeout: float) -> None:
        wait_until(lambda: self.periods() >= count, timeout,
                   f"{count} stats periods from testpmd {self.role}")

    def rates(self, port: int = 0) -> tuple[list[int], list[int]]:
        """Per-period RX and TX packets per second of `port` (its index
        among this testpmd's vdevs)."""
        text = self.output()
        rx = [int(v) for v in _RX_PPS.findall(text)][port::self.nb_ports]
        tx = [int(v) for v in _TX_PPS.findall(text)][port::self.nb_ports]
        return rx, tx

    def dpdk_version(self) -> str:
        found = _VERSION.search(self.output())
        return found.group(1) if found else "unknown"

    def stop(self, timeout: float = 10.0) -> None:
        """SIGINT: testpmd stops forwarding, closes its ports and exits."""
        self.signal(signal.SIGINT)
        try:
            self.wait(timeout)
        except TimeoutError:
            pass  # cleanup() kills it

    def cleanup(self) -> None:
        self.kill()
        remove_prefix_files(self.prefix)


def _reasons(text: str) -> str:
    """The lines of testpmd's output that say why it stopped."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    said = [ln for ln in lines
            if ("fail" in ln.lower() or "Cause:" in ln or "No probed" in ln)
            and _BENIGN not in ln]
    return "; ".join(dict.fromkeys(said[:3])) or " / ".join(lines[-3:]) or "no output"


def one_line(error: Exception) -> str:
    """A benchmark process failure as one line: its first line, plus the
    line of the process's output that says what went wrong, if any."""
    lines = [ln.strip() for ln in str(error).splitlines() if ln.strip()]
    if not lines:
        return type(error).__name__
    said = [ln for ln in lines[1:] if "error" in ln.lower() or "failed" in ln.lower()]
    return lines[0].rstrip(":") + (f": {said[-1]}" if said else "")
