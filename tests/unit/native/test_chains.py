# SPDX-License-Identifier: BSD-3-Clause
"""native/src/manager/chains.c through the manager's binding, on a shared
region made with ffi.new: no root, no hugepages, no EAL.

A chain version is written into a free body and published by switching the
chain's head; the old body is retired, never changed in place."""

from __future__ import annotations

import errno

import pytest

from onvm import contract
from onvm.contract import ChainBodyState, HopKind
from onvm.pydpdk.manager import ffi, lib


@pytest.fixture()
def shared(shared):
    shared.tsc_hz = 1_000_000_000
    shared.ports[1].enabled = 1
    return shared


def hops(*spec):
    arr = ffi.new("struct onvm_chain_hop[]", max(len(spec), 1))
    for i, hop in enumerate(spec):
        kind, dest = ("port", int(hop[4:])) if isinstance(hop, str) else ("nf", hop)
        arr[i].kind = HopKind.PORT if kind == "port" else HopKind.NF
        arr[i].dest = dest
    return arr, len(spec)


def chain_set(sh, chain_id, *spec) -> int:
    arr, n = hops(*spec)
    return lib.onvm_mgr_chain_set(sh, chain_id, arr, n)


def published(sh, chain_id):
    body = sh.chains.bodies[sh.chains.head[chain_id]]
    return [(body.hops[i].kind, body.hops[i].dest) for i in range(body.length)]


def test_a_published_chain_is_what_was_written(shared):
    assert chain_set(shared, 3, 1, 2, "out:1") == 0
    assert published(shared, 3) == [(HopKind.NF, 1), (HopKind.NF, 2), (HopKind.PORT, 1)]
    body = shared.chains.bodies[shared.chains.head[3]]
    assert body.chain_id == 3 and body.state == ChainBodyState.LIVE


def test_replacing_a_chain_retires_the_old_body_untouched(shared):
    chain_set(shared, 0, 1, "out:1")
    old = shared.chains.head[0]
    chain_set(shared, 0, 2, "out:1")
    new = shared.chains.head[0]
    assert new != old
    # Packets still on the old version finish the walk they started.
    assert shared.chains.bodies[old].state == ChainBodyState.RETIRED
    assert [(shared.chains.bodies[old].hops[i].dest) for i in range(2)] == [1, 1]
    assert published(shared, 0) == [(HopKind.NF, 2), (HopKind.PORT, 1)]


def test_an_empty_chain_points_at_body_zero(shared):
    chain_set(shared, 4, 1)
    old = shared.chains.head[4]
    assert chain_set(shared, 4) == 0
    assert shared.chains.head[4] == 0
    assert published(shared, 4) == []
    assert shared.chains.bodies[old].state == ChainBodyState.RETIRED


@pytest.mark.parametrize("spec", [
    (0,),                         # service 0 means none
    (contract.MAX_SERVICES,),     # past the service table
    ("out:0",),                   # a port the manager does not have
    ("out:" + str(contract.MAX_PORTS),),
])
def test_a_bad_hop_is_refused_and_nothing_changes(shared, spec):
    chain_set(shared, 2, 1, "out:1")
    head = shared.chains.head[2]
    assert chain_set(shared, 2, *spec) == -errno.EINVAL
    assert shared.chains.head[2] == head
    assert published(shared, 2) == [(HopKind.NF, 1), (HopKind.PORT, 1)]


def test_a_chain_id_or_length_past_the_table_is_refused(shared):
    assert chain_set(shared, contract.MAX_CHAINS, 1) == -errno.EINVAL
    too_long = [1] * (contract.MAX_CHAIN_HOPS + 1)
    assert chain_set(shared, 1, *too_long) == -errno.EINVAL
    assert chain_set(shared, 1, *too_long[:-1]) == 0


def test_with_every_body_live_a_new_chain_finds_no_room(shared):
    """Body 0 is the empty chain; the others hold live versions, none of
    which may be overwritten."""
    for chain_id in range(contract.MAX_CHAINS):
        assert chain_set(shared, chain_id, 1) == 0
    # Fill the rest of the bodies with live versions by hand, then ask for one more.
    for i in range(1, contract.MAX_CHAIN_BODIES):
        if shared.chains.bodies[i].state == ChainBodyState.FREE:
            shared.chains.bodies[i].state = ChainBodyState.LIVE
    assert chain_set(shared, 5, 2) == -errno.ENOSPC
    assert published(shared, 5) == [(HopKind.NF, 1)]
