# SPDX-License-Identifier: BSD-3-Clause
"""native/src/manager/services.c through the manager's binding, on a shared
region made with ffi.new: no root, no hugepages, no EAL.

A service maps 256 flow-hash buckets to its instances; adding or removing an
instance moves only the buckets it gains or loses."""

from __future__ import annotations

import errno
from collections import Counter

from onvm import contract
from onvm.pydpdk.manager import lib

SERVICE = 5


def buckets(sh) -> list[int]:
    return list(sh.services[SERVICE].bucket_nf)


def instances(sh) -> list[int]:
    svc = sh.services[SERVICE]
    return list(svc.instances)[: svc.count]


def add(sh, nf_id: int) -> int:
    return lib.__onvm_service_add(sh, SERVICE, nf_id)


def test_the_first_instance_takes_every_bucket(shared):
    assert add(shared, 7) == 0
    assert buckets(shared) == [7] * contract.SERVICE_BUCKETS
    assert instances(shared) == [7]
    assert shared.nfs[7].instance == 0


def test_a_new_instance_takes_an_equal_share_only_from_those_above_theirs(shared):
    add(shared, 1)
    add(shared, 2)
    two = buckets(shared)
    assert Counter(two) == {1: 128, 2: 128}
    add(shared, 3)
    three = buckets(shared)
    share = contract.SERVICE_BUCKETS // 3
    assert Counter(three)[3] == share
    # Every bucket that moved went to the newcomer; the others stayed put.
    moved = [b for b in range(contract.SERVICE_BUCKETS) if two[b] != three[b]]
    assert len(moved) == share and all(three[b] == 3 for b in moved)
    assert [shared.nfs[i].instance for i in (1, 2, 3)] == [0, 1, 2]


def test_a_leaving_instance_hands_on_only_its_own_buckets(shared):
    for nf_id in (1, 2, 3):
        add(shared, nf_id)
    before = buckets(shared)
    lib.__onvm_service_remove(shared, SERVICE, 2)
    after = buckets(shared)
    assert 2 not in after
    for b in range(contract.SERVICE_BUCKETS):
        if before[b] != 2:
            assert after[b] == before[b], b
    # Handed round-robin: the two left share them nearly equally.
    handed = Counter(after[b] for b in range(contract.SERVICE_BUCKETS) if before[b] == 2)
    assert set(handed) == {1, 3} and abs(handed[1] - handed[3]) <= 1
    assert sorted(instances(shared)) == [1, 3]
    # The instance indices stay dense: 0..count-1.
    assert sorted(shared.nfs[i].instance for i in (1, 3)) == [0, 1]


def test_the_last_instance_leaving_empties_the_service(shared):
    add(shared, 4)
    lib.__onvm_service_remove(shared, SERVICE, 4)
    assert buckets(shared) == [0] * contract.SERVICE_BUCKETS
    assert instances(shared) == []


def test_removing_an_nf_that_is_not_an_instance_changes_nothing(shared):
    add(shared, 1)
    seq = shared.services[SERVICE].seq
    lib.__onvm_service_remove(shared, SERVICE, 9)
    assert buckets(shared) == [1] * contract.SERVICE_BUCKETS
    assert shared.services[SERVICE].seq == seq


def test_a_full_service_refuses_another_instance(shared):
    for nf_id in range(1, contract.MAX_INSTANCES + 1):
        assert add(shared, nf_id) == 0
    assert add(shared, contract.MAX_INSTANCES + 1) == -errno.ENOSPC
    assert len(instances(shared)) == contract.MAX_INSTANCES
    assert set(buckets(shared)) == set(range(1, contract.MAX_INSTANCES + 1))


def test_every_write_leaves_the_sequence_even(shared):
    """Readers retry while the sequence is odd: a finished write is even,
    and each write moves it on."""
    seqs = [shared.services[SERVICE].seq]
    for nf_id in (1, 2, 3):
        add(shared, nf_id)
        seqs.append(shared.services[SERVICE].seq)
    lib.__onvm_service_remove(shared, SERVICE, 1)
    seqs.append(shared.services[SERVICE].seq)
    assert all(s % 2 == 0 for s in seqs)
    assert seqs == sorted(set(seqs))
