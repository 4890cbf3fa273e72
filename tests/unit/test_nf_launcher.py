# SPDX-License-Identifier: BSD-3-Clause
"""`onvm-nf` (nfs/onvm-nf.in) runs a bundled C NF without starting Python and
hands everything else to onvm.nfs.cli; the C NFs link DPDK statically.

A Python started with PYTHONHOME pointing nowhere dies at once with "Fatal
Python error": under it, an NF's own error line proves no Python ran on the
way. None of these commands gets as far as starting DPDK."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from onvm import bundled

NF = str(Path(sys.executable).parent / "onvm-nf")
NO_PYTHON = {**os.environ, "PYTHONHOME": "/nonexistent-onvm-launcher-test"}


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([NF, *args], capture_output=True, text=True, timeout=60,
                          stdin=subprocess.DEVNULL, env=env)


@pytest.mark.parametrize("name", bundled.C_NFS)
def test_a_c_nf_starts_without_python(name):
    proc = run(name, "--name", "ut-launcher", env=NO_PYTHON)
    assert proc.returncode == 1
    assert proc.stderr == f"{name}: no service id: pass --service ID (1 to 63)\n"
    assert proc.stdout == ""


@pytest.mark.parametrize("args", [
    ["--list"], ["--help"], [], ["simple_forward.py", "--service", "1"],
    ["./simple_forward", "--service", "1"], ["no_such_nf"],
])
def test_everything_else_goes_to_python(args):
    proc = run(*args, env=NO_PYTHON)
    assert proc.returncode != 0
    assert "Fatal Python error" in proc.stderr


def test_a_users_c_nf_binary_is_run_by_its_path(tmp_path):
    """A C NF built outside the tree: onvm-nf execs it with the arguments
    (here its own "no service id" answer, so it ran)."""
    binary = tmp_path / "my_forward"
    shutil.copy2(bundled.c_nf_binary("simple_forward"), binary)
    proc = run(str(binary), "--name", "ut-launcher")
    assert proc.returncode == 1
    assert proc.stderr == "simple_forward: no service id: pass --service ID (1 to 63)\n"


def test_arguments_reach_the_nf_as_given():
    proc = run("simple_forward", "--service", "1", "--name", "a *", env=NO_PYTHON)
    assert proc.returncode == 1
    assert "not 'a *'" in proc.stderr
    proc = run("simple_forward", "--service=", "--name", "x", env=NO_PYTHON)
    assert "--service takes a number from 1 to 63, not ''" in proc.stderr


@pytest.mark.parametrize("name", bundled.C_NFS)
def test_c_nfs_link_no_dpdk_shared_library(name):
    """Linked with DPDK's shared libraries, EAL would load every driver of
    its plugin directory at start."""
    binary = bundled.c_nf_binary(name)
    assert binary is not None
    libs = subprocess.run(["ldd", str(binary)], capture_output=True, text=True, check=True)
    assert "libc.so" in libs.stdout
    assert "librte_" not in libs.stdout
