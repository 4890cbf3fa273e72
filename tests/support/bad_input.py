# SPDX-License-Identifier: BSD-3-Clause
"""Bad invocations as a table: each case runs a real onvm command and
expects what a user must see, whatever they typed: a given non-zero exit
code, exactly one non-empty line of output naming the problem, and no
Python traceback."""

from __future__ import annotations

import os
import signal
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.support.harness import tool

TIMEOUT = 30.0  # a case that runs longer was accepted by mistake
BIG = "9" * 5000  # more digits than Python's int() takes from text


@dataclass(frozen=True)
class Bad:
    """One bad invocation. `argv` may name {tmp} (the test's directory),
    {mgr} (a manager name) and what the test adds; `files` are written to
    {tmp} first."""

    id: str
    argv: tuple[str, ...]
    code: int
    says: str  # found in the one line
    files: dict[str, str] = field(default_factory=dict)


def params(cases: list[Bad]) -> list:
    ids = [c.id for c in cases]
    assert len(ids) == len(set(ids)), "two cases share an id"
    return [pytest.param(c, id=c.id) for c in cases]


def run(argv: list[str], timeout: float = TIMEOUT, **popen) -> subprocess.CompletedProcess:
    """Run a command in its own session, without ONVM_DEBUG (which asks for
    tracebacks); one still running after `timeout` is killed with its group
    and fails the test."""
    env = {k: v for k, v in os.environ.items() if k != "ONVM_DEBUG"}
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env,
                            start_new_session=True, **popen)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        pytest.fail(f"{argv} still ran after {timeout} s: it should have failed at once")
    return subprocess.CompletedProcess(argv, proc.returncode, out, err)


def one_line(result: subprocess.CompletedProcess, code: int, says: str) -> str:
    """The exit code is `code`, the output is one line holding `says`, and
    there is no traceback. Returns the line."""
    output = result.stdout + result.stderr
    assert "Traceback" not in output, output
    lines = [ln for ln in output.splitlines() if ln.strip()]
    assert len(lines) == 1, f"{len(lines)} lines: {output!r}"
    assert result.returncode == code, (result.returncode, lines[0])
    assert says in lines[0], lines[0]
    return lines[0]


def run_case(case: Bad, tmp: Path, manager: str, **names: object) -> str:
    """Write the case's files, run it, check it; returns its line. `names`
    are more placeholders for argv."""
    for name, text in case.files.items():
        (tmp / name).write_text(text)
    argv = [arg.format(tmp=tmp, mgr=manager, **names) for arg in case.argv]
    return one_line(run([tool(argv[0]), *argv[1:]]), case.code, case.says)
