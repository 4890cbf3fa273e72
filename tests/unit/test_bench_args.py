# SPDX-License-Identifier: BSD-3-Clause
"""onvm-bench refuses bad values in one line before it starts anything."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCH = str(Path(sys.executable).parent / "onvm-bench")


@pytest.mark.parametrize("args, message", [
    (["--minutes", "0"], "argument --minutes: must be a number from 0.01 to 1440 minutes"),
    (["--minutes", "-1"], "argument --minutes: must be a number from 0.01 to 1440 minutes"),
    (["--minutes", "1441"], "argument --minutes: must be a number from 0.01 to 1440 minutes"),
    (["--minutes", "nan"], "argument --minutes: must be a number from 0.01 to 1440 minutes"),
    (["--minutes", "inf"], "argument --minutes: must be a number from 0.01 to 1440 minutes"),
    (["--minutes", "9" * 5000], "argument --minutes: must be a number from 0.01 to 1440"),
    (["--minutes", "ten"], "argument --minutes: must be a number from 0.01 to 1440 minutes"),
    (["--load", "0"], "argument --load: must be a number from 1 to 100 percent"),
    (["--load", "101"], "argument --load: must be a number from 1 to 100 percent"),
    (["--load", "nan"], "argument --load: must be a number from 1 to 100 percent"),
    (["--size", "59"], "argument --size: must be a whole number from 60 to 1514"),
    (["--minutes"], "argument --minutes: expected one argument"),
])
def test_soak_bad_value_is_one_line(args, message):
    result = subprocess.run([BENCH, "soak", *args], capture_output=True, text=True,
                            timeout=30)
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"onvm-bench soak: error: {message}")


@pytest.mark.parametrize("scenario", ["null", "speed_tester", "soak"])
def test_no_limits_takes_no_value(scenario):
    result = subprocess.run([BENCH, scenario, "--no-limits=3"], capture_output=True, text=True,
                            timeout=30)
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"onvm-bench {scenario}: error: argument --no-limits: "
                               "ignored explicit argument '3'")
