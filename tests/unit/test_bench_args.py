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


@pytest.mark.parametrize("scenario, layout, message", [
    ("null", "control=0/workers=1", "needs testpmd= with 2 to 9 CPUs, not 0"),
    ("null", "control=0/workers=1/testpmd=0,4096", "'4096' is not a CPU number"),
    ("null", "workers=1", "the layout needs control="),
    ("null", "control=0;workers=1", "'0;workers=1' is not a CPU number"),
    ("speed_tester", "control=0/workers=1/testpmd=0,1", "this scenario runs no testpmd"),
    ("speed_tester", "control=0/workers=1/nfs=1", "CPU 1 is in both workers= and nfs="),
    ("speed_tester", "control=0/workers=0-8", "workers= takes at most 8 CPU(s)"),
    ("speed_tester", "control=0/workers=1/nfs=999", "CPU 999 does not exist or is not allowed"),
    ("testpmd", "control=0/workers=1/testpmd=1,0", "CPU 0 is in both control= and testpmd="),
    ("testpmd", "control=0/workers=0,1/testpmd=2,3", "takes at most 1 CPU(s) (in this scenario)"),
    ("testpmd", "control=0/workers=1/testpmd=2", "needs testpmd= with 2 CPUs, not 1"),
])
def test_bad_cores_layout_is_one_line(scenario, layout, message):
    result = subprocess.run([BENCH, scenario, "--cores", layout], capture_output=True,
                            text=True, timeout=30)
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"onvm-bench {scenario}: error: argument --cores: ")
    assert message in lines[0]


@pytest.mark.parametrize("scenario", ["null", "speed_tester", "testpmd"])
def test_cores_needs_a_layout(scenario):
    result = subprocess.run([BENCH, scenario, "--cores"], capture_output=True, text=True,
                            timeout=30)
    assert result.returncode == 2
    assert result.stderr.strip().endswith("argument --cores: expected one argument "
                                          "(--help lists the options)")
