# SPDX-License-Identifier: BSD-3-Clause
"""Real processes for integration tests: a manager and its NFs.

The process tools are the benchmarks' (onvm.bench.procs): every process in
its own session, killed with its group on teardown, every wait bounded, and
a manager's hugepage files and runtime directory removed even if it
crashed.
"""

from __future__ import annotations

import sys
from pathlib import Path

from onvm.bench.procs import ManagerProc, Proc, tool, wait_until

VENV_BIN = Path(sys.executable).parent

__all__ = ["VENV_BIN", "Manager", "Proc", "tool", "wait_until"]


class Manager(ManagerProc):
    """`onvm-manager start` under a unique it-XXXXXXXX name."""

    def __init__(self, tmp: Path, args: list[str], name: str | None = None) -> None:
        super().__init__(tmp, args, name, prefix="it")

    @property
    def tmp(self) -> Path:
        return self.workdir
