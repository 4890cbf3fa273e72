# SPDX-License-Identifier: BSD-3-Clause
"""How a C NF starts: `onvm-nf NAME` becomes the NF process itself, which
maps none of DPDK's shared libraries (so none of its driver plugins); and an
NF that numbers mempool handlers unlike the manager is refused in one line
before it touches the packet pool."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from onvm import bundled
from onvm._build_info import BUILD_DIR
from onvm.bench.procs import Proc

pytestmark = pytest.mark.timeout(120)


def test_onvm_nf_execs_the_static_nf_binary(start_manager):
    mgr = start_manager()
    nf = mgr.start_nf("simple_forward", 1)
    assert Path(f"/proc/{nf.pid}/exe").resolve() == bundled.c_nf_binary("simple_forward").resolve()
    maps = Path(f"/proc/{nf.pid}/maps").read_text()
    assert "librte_" not in maps and "pmds-" not in maps
    assert "python" not in maps
    assert mgr.stop() == 0


def test_an_nf_with_other_mempool_handler_numbers_is_refused(start_manager, tmp_path):
    """simple_forward linked with the shared DPDK libraries and the stack
    mempool driver first: its handler 0 is 'stack', the manager's pool is on
    handler 0 'ring_mp_mc'."""
    build = Path(BUILD_DIR)
    binary = tmp_path / "simple_forward_stack_first"
    dpdk_libs = subprocess.run(["pkg-config", "--libs", "libdpdk"], capture_output=True,
                               text=True, check=True).stdout.split()
    subprocess.run(
        ["cc", "-o", str(binary), *map(str, (build / "nfs").glob("onvm-nf-simple_forward.p/*.o")),
         str(build / "native" / "libonvm_nflib.a"), str(build / "native" / "libonvm_common.a"),
         "-Wl,--no-as-needed", "-lrte_mempool_stack", *dpdk_libs],
        check=True, timeout=60)
    mgr = start_manager()
    refused = Proc([str(binary), "--service", "1", "--name", mgr.name],
                   tmp_path / "refused.log", label="stack-first simple_forward")
    mgr.nfs.append(refused)
    assert refused.wait(30) == 1
    lines = [ln for ln in refused.output().splitlines() if ln.strip()]
    assert len(lines) == 1, lines
    assert "mempool handler 0 ('ring_mp_mc'), which this NF has as 'stack'" in lines[0]
    assert "librte_mempool_ring first" in lines[0]
    # The manager took no harm: a bundled NF still joins and runs.
    mgr.start_nf("simple_forward", 1)
    assert mgr.stop() == 0
