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


@pytest.mark.parametrize("scenario", ["null", "speed_tester", "soak", "bpf", "pping"])
def test_no_limits_takes_no_value(scenario):
    result = subprocess.run([BENCH, scenario, "--no-limits=3"], capture_output=True, text=True,
                            timeout=30)
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"onvm-bench {scenario}: error: argument --no-limits: "
                               "ignored explicit argument '3'")


FLOWS_RULES = "argument --rules: each count must be a whole number from 0 to 16384"


@pytest.mark.parametrize("args, message", [
    (["--rules", "abc"], FLOWS_RULES),
    (["--rules", ""], FLOWS_RULES),
    (["--rules", "1,,2"], FLOWS_RULES),
    (["--rules", "100,"], FLOWS_RULES),
    (["--rules", "-1"], FLOWS_RULES),
    (["--rules", "16385"], FLOWS_RULES),
    (["--rules", "1e3"], FLOWS_RULES),
    (["--rules", "1.5"], FLOWS_RULES),
    (["--rules", "nan"], FLOWS_RULES),
    (["--rules", "inf"], FLOWS_RULES),
    (["--rules", "0,1,100," + "9" * 5000], FLOWS_RULES),
    (["--rules"], "argument --rules: expected one argument"),
    (["--seconds", "nan"], "argument --seconds: must be a number from 0.2 to 60 seconds"),
    (["--seconds", "0"], "argument --seconds: must be a number from 0.2 to 60 seconds"),
    (["--seconds", "9" * 5000], "argument --seconds: must be a number from 0.2 to 60"),
    (["--repeat", "0"], "argument --repeat: must be a whole number from 1 to 20"),
    (["--repeat", "9" * 5000], "argument --repeat: must be a whole number from 1 to 20"),
    (["--ipv6=yes"], "argument --ipv6: ignored explicit argument 'yes'"),
])
def test_flows_bad_value_is_one_line(args, message):
    result = subprocess.run([BENCH, "flows", *args], capture_output=True, text=True,
                            timeout=30)
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"onvm-bench flows: error: {message}"), lines[0]


BPF_SECONDS = "argument --seconds: must be a number from 0.2 to 60 seconds"
BPF_REPEAT = "argument --repeat: must be a whole number from 1 to 20"
BPF_SIZE = "argument --size: must be a whole number from 60 to 1514"


@pytest.mark.parametrize("args, message", [
    (["--seconds", "0.1"], BPF_SECONDS),
    (["--seconds", "61"], BPF_SECONDS),
    (["--seconds", "-1"], BPF_SECONDS),
    (["--seconds", "nan"], BPF_SECONDS),
    (["--seconds", "inf"], BPF_SECONDS),
    (["--seconds", "9" * 5000], BPF_SECONDS),
    (["--seconds", "three"], BPF_SECONDS),
    (["--repeat", "0"], BPF_REPEAT),
    (["--repeat", "21"], BPF_REPEAT),
    (["--repeat", "1.5"], BPF_REPEAT),
    (["--repeat", "nan"], BPF_REPEAT),
    (["--repeat", "9" * 5000], BPF_REPEAT),
    (["--size", "59"], BPF_SIZE),
    (["--size", "1515"], BPF_SIZE),
    (["--size", "64.0"], BPF_SIZE),
    (["--size", "nan"], BPF_SIZE),
    (["--size", "-64"], BPF_SIZE),
    (["--size", "9" * 5000], BPF_SIZE),
    (["--size", "/tmp"], BPF_SIZE),
    (["--size"], "argument --size: expected one argument"),
])
def test_bpf_bad_value_is_one_line(args, message):
    result = subprocess.run([BENCH, "bpf", *args], capture_output=True, text=True,
                            timeout=30)
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"onvm-bench bpf: error: {message}"), lines[0]


def test_flows_rule_counts_are_sorted_unique_and_hold_the_reference():
    from onvm.bench.flows import rule_counts

    assert rule_counts("1000, 1,100,1") == [0, 1, 100, 1000]
    assert rule_counts("0") == [0]


@pytest.mark.parametrize("scenario", ["speed_tester", "latency"])
@pytest.mark.parametrize("value", ["", "Direct", "both", "x" * 5000])
def test_nf_to_nf_is_manager_or_direct(scenario, value):
    result = subprocess.run([BENCH, scenario, "--nf-to-nf", value], capture_output=True,
                            text=True, timeout=30)
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert "argument --nf-to-nf: invalid choice" in lines[0]


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


@pytest.mark.parametrize("argv", [["null", "--no-limit"], ["speed_tester", "--max-len", "2"],
                                  ["null", "--sec", "1"]])
def test_an_option_is_taken_only_as_spelled(argv):
    """A typo of an option is an error, not the option it begins: nothing runs."""
    result = subprocess.run([BENCH, *argv], capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert "unrecognized arguments" in lines[0]
