# SPDX-License-Identifier: BSD-3-Clause
"""Running `onvm-bench` from a test: bounded, and stopped with SIGINT so
that it stops what it started."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

import pytest

from tests.support.harness import tool


def run_bench(cwd: Path, scenario: str, args: list[str], timeout: float) -> str:
    """stdout of a successful run; the test fails on error, traceback or timeout."""
    proc = subprocess.Popen([tool("onvm-bench"), scenario, *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=cwd)
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=60)
        pytest.fail(f"onvm-bench {scenario} took over {timeout} s:\n{stdout}{stderr}")
    assert proc.returncode == 0, stdout + stderr
    assert "Traceback" not in stderr
    return stdout
