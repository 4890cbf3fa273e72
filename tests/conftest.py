# SPDX-License-Identifier: BSD-3-Clause
"""Shared by every test. Tests under integration/ (the platform) and nfs/
(each bundled NF, beside its name) run real managers and NFs: they need root
and hugepages, and are skipped with the reason where those are missing.
unit/ needs neither."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
REAL_PROCESS_DIRS = ("integration", "nfs")


def _free_hugepages() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("HugePages_Free:"):
            return int(line.split()[1])
    return 0


def pytest_collection_modifyitems(items):
    reason = None
    if os.geteuid() != 0:
        reason = "integration tests need root"
    elif _free_hugepages() == 0:
        reason = "integration tests need free hugepages (run scripts/setup.sh)"
    for item in items:
        if Path(item.fspath).resolve().relative_to(TESTS).parts[0] in REAL_PROCESS_DIRS:
            item.add_marker(pytest.mark.integration)
            if reason:
                item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture
def start_manager(tmp_path):
    """start_manager(*args) -> a ready Manager; all of them cleaned up after."""
    from tests.support.control_helpers import close_clients
    from tests.support.harness import Manager

    managers: list[Manager] = []

    def start(*args: str, wait: bool = True) -> Manager:
        mgr = Manager(tmp_path, list(args))
        managers.append(mgr)
        return mgr.wait_ready() if wait else mgr

    yield start
    close_clients()
    for mgr in managers:
        mgr.cleanup()
