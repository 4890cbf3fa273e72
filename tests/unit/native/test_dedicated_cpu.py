# SPDX-License-Identifier: BSD-3-Clause
"""Where a dedicated NF (onvm-nf --dedicated) runs: the control worker's
pick (native/src/manager/nf_registry.c) over a fake NF table and a fake set
of spare CPUs, and the manager's list of spare CPUs from a fake machine."""

from __future__ import annotations

import pytest

from onvm import contract
from onvm.contract import NfState
from onvm.manager.bringup.config import Config
from onvm.pydpdk.manager import ffi, lib

NEWCOMER = 9  # the slot registering


def config(cpus: list[int]):
    cfg = ffi.new("struct onvm_mgr_config *")
    cfg.n_nf_cpus = len(cpus)
    for i, cpu in enumerate(cpus):
        cfg.nf_cpus[i] = cpu
    return cfg


def occupy(sh, nf_id: int, core: int, state: int = NfState.RUNNING) -> None:
    sh.nfs[nf_id].state = state
    sh.nfs[nf_id].core = core


def pick(sh, cpus: list[int]) -> int:
    return lib.__onvm_dedicated_cpu(sh, config(cpus), NEWCOMER)


def test_the_lowest_spare_cpu_first(shared):
    assert pick(shared, [4, 5, 6]) == 4


def test_cpus_other_nfs_hold_are_skipped(shared):
    occupy(shared, 1, 4)  # a dedicated NF
    occupy(shared, 2, 5, NfState.STOPPING)  # still there
    occupy(shared, 3, -1)  # floating: holds no CPU
    assert pick(shared, [4, 5, 6, 7]) == 6


def test_an_nf_pinned_with_core_holds_its_cpu_too(shared):
    occupy(shared, 1, 4, NfState.STARTING)  # --core 4, registering
    assert pick(shared, [4, 5]) == 5


def test_freed_and_rejected_slots_hold_nothing(shared):
    occupy(shared, 1, 4, NfState.FREE)
    occupy(shared, 2, 5, NfState.REJECTED)
    assert pick(shared, [4, 5]) == 4
    occupy(shared, 1, 4)
    assert pick(shared, [4, 5]) == 5


def test_the_newcomers_own_slot_does_not_count(shared):
    occupy(shared, NEWCOMER, 4, NfState.STARTING)  # left from its last occupant
    assert pick(shared, [4]) == 4


def test_none_free_is_minus_one(shared):
    assert pick(shared, []) == -1  # every CPU runs the manager
    occupy(shared, 1, 4)
    occupy(shared, 2, 5)
    assert pick(shared, [4, 5]) == -1


def test_a_machine_of_64_cpus_places_63_nfs(shared):
    spare = list(range(1, 64))
    for nf_id in range(1, contract.MAX_NFS):
        if nf_id == NEWCOMER:
            continue
        got = lib.__onvm_dedicated_cpu(shared, config(spare), nf_id)
        assert got not in [shared.nfs[i].core for i in range(1, contract.MAX_NFS)
                           if shared.nfs[i].state != NfState.FREE]
        occupy(shared, nf_id, got)
    assert pick(shared, spare) != -1  # one left: the newcomer's
    occupy(shared, NEWCOMER, pick(shared, spare))
    assert lib.__onvm_dedicated_cpu(shared, config(spare), 0) == -1


@pytest.mark.parametrize("cores, machine, spare", [
    ([0, 1], {0, 1}, []),  # this machine: nothing to spare
    ([0], {0, 1}, [1]),
    ([0, 0, 1], {0, 1}, []),
    ([0, 1, 2, 3, 4], set(range(16)), list(range(5, 16))),
    ([8, 9, 10], set(range(16)), [0, 1, 2, 3, 4, 5, 6, 7, 11, 12, 13, 14, 15]),
    ([0, 1], {0, 1, 4, 7}, [4, 7]),  # a cpuset with holes
    ([0, 1], set(range(200)), list(range(2, 65))),  # at most one per NF slot
])
def test_spare_cpus_of_a_machine(cores, machine, spare):
    assert Config(cores=cores).nf_cpus(machine) == spare
