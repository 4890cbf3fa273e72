# SPDX-License-Identifier: BSD-3-Clause
"""Errors a user meets with a real manager: one clear line, non-zero exit,
no traceback, nothing left behind."""

from __future__ import annotations

import glob
import os
import subprocess
import uuid

import pytest

from onvm.manager.bringup.runtime import remove_dpdk_files
from tests.support.harness import tool


def run_manager(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    name = f"err-{uuid.uuid4().hex[:8]}"
    try:
        return subprocess.run(
            [tool("onvm-manager"), "start", "--name", name, "--stats-interval", "0", *args],
            capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL,
        )
    finally:
        assert not glob.glob(f"/dev/hugepages/onvm-{name}map_*"), "hugepage files left behind"
        assert not os.path.exists(f"/run/onvm/{name}/manager.lock")
        remove_dpdk_files(name)


def one_error_line(result: subprocess.CompletedProcess) -> str:
    assert result.returncode != 0
    assert "Traceback" not in result.stdout + result.stderr
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("onvm-manager: error: ")
    return lines[0]


def test_port_that_does_not_exist():
    line = one_error_line(run_manager("--port", "net_nosuchdriver0"))
    assert "net_nosuchdriver0" in line


def test_pci_port_that_is_not_there():
    line = one_error_line(run_manager("--port", "0000:7f:1f.7"))
    assert "0000:7f:1f.7" in line and "does not exist" in line


def test_chain_out_of_a_port_the_manager_lacks():
    line = one_error_line(run_manager("--port", "net_null0", "--chain", "1,out:3"))
    assert "port 3" in line


def test_not_enough_hugepages():
    line = one_error_line(run_manager("--num-mbufs", "50000000"))
    assert "hugepages" in line and "num_mbufs" in line


def test_second_manager_with_the_same_name(start_manager):
    first = start_manager()
    result = subprocess.run(
        [tool("onvm-manager"), "start", "--name", first.name], capture_output=True, text=True,
        timeout=60, stdin=subprocess.DEVNULL,
    )
    line = one_error_line(result)
    assert "already running" in line and str(first.pid) in line
    assert first.popen.poll() is None  # the first one is untouched
    assert first.stop() == 0


def test_not_root():
    if subprocess.run(["which", "setpriv"], capture_output=True).returncode != 0:
        pytest.skip("setpriv is not installed")
    result = subprocess.run(
        ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
         tool("onvm-manager"), "start", "--name", "notroot"],
        capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
    )
    if "Permission denied" in result.stderr and "python" in result.stderr:
        pytest.skip("the virtual environment is not readable by nobody")
    line = one_error_line(result)
    assert "root" in line


def test_nf_for_a_manager_that_is_not_running():
    result = subprocess.run(
        [tool("onvm-nf"), "simple_forward", "--service", "1", "--name", "nobody-here"],
        capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
    )
    assert result.returncode != 0
    assert "no manager named 'nobody-here' is running" in result.stderr
    assert "Traceback" not in result.stderr


def dpdk_files_of(name: str) -> set[str]:
    return set(glob.glob(f"/dev/hugepages/onvm-{name}map_*")) | set(
        glob.glob(f"/var/run/dpdk/onvm-{name}/*")) | set(glob.glob(f"/run/onvm/{name}/*"))


@pytest.mark.timeout(90)
@pytest.mark.parametrize("extra", [(), ("--num-mbufs", "100000000"), ("--port", "net_bogus0")])
def test_a_refused_start_leaves_the_running_manager_whole(start_manager, extra):
    """A start refused because the name runs (whatever else is wrong with it)
    touches none of the running manager's files: NFs still join it."""
    first = start_manager("--port", "net_null0", "--chain", "1")
    before = dpdk_files_of(first.name)
    assert any("map_" in f for f in before) and any("manager.lock" in f for f in before)
    result = subprocess.run(
        [tool("onvm-manager"), "start", "--name", first.name, *extra], capture_output=True,
        text=True, timeout=60, stdin=subprocess.DEVNULL,
    )
    line = one_error_line(result)
    assert "already running" in line or "hugepages" in line, line
    assert dpdk_files_of(first.name) >= {f for f in before if "stats.json" not in f}
    nf = first.start_nf("simple_forward", 1)  # joins as a secondary of the survivor
    first.wait_stats(lambda s: first.nf_stats(s, nf).get("rx", 0) > 0, 20,
                     "traffic through an NF that joined after the refused start")
    assert first.stop() == 0


def test_nf_whose_manager_has_its_lock_but_no_dpdk_primary_gets_one_line(tmp_path):
    """A manager still starting (its lock held, EAL not up): the NF cannot
    join as a secondary and says so in one line, naming no errno of 0."""
    import fcntl

    name = f"err-{uuid.uuid4().hex[:8]}"
    run = f"/run/onvm/{name}"
    os.makedirs(run, mode=0o700)
    fd = os.open(f"{run}/manager.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        result = subprocess.run(
            [tool("onvm-nf"), "simple_forward", "--service", "1", "--name", name],
            capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
        )
    finally:
        os.close(fd)
        subprocess.run(["rm", "-rf", run, f"/var/run/dpdk/onvm-{name}"], check=False)
        remove_dpdk_files(name)
    assert result.returncode == 1
    lines = [ln for ln in (result.stdout + result.stderr).splitlines() if ln.strip()]
    assert len(lines) == 1, result.stdout + result.stderr
    assert f"cannot join manager '{name}' as a DPDK secondary" in lines[0]
    assert "Success" not in lines[0]
