# SPDX-License-Identifier: BSD-3-Clause
"""NFs stopped while traffic loops through them, with rings small enough
to be full at the moment they stop: every mbuf goes back to the pool."""

from __future__ import annotations

import os
import signal
import time

import pytest

from tests.support.harness import wait_until
from tests.support.nf_helpers import start_nf_file

pytestmark = pytest.mark.timeout(120)


def test_stopping_nfs_under_load_loses_no_mbuf(tmp_path, start_manager):
    config = tmp_path / "small-rings.toml"
    config.write_text("[dataplane]\nnf_ring_size = 64\n")
    mgr = start_manager("--config", str(config))
    # speed_tester (service 1) keeps half the pool looping through service 2.
    forwarders = [mgr.start_nf("simple_forward", 2, "--", "--dest", "1")]
    tester = mgr.start_nf("speed_tester", 1, "--", "--dest", "2", "--packets", "8192")
    stopped = []
    for round_ in range(6):
        nf = ("simple_forward.py" if round_ % 2 else "simple_forward")
        forwarders.append(mgr.start_nf(nf, 2, "--", "--dest", "1"))
        newest = forwarders[-1]
        mgr.wait_stats(lambda s, p=newest: mgr.nf_stats(s, p).get("rx", 0) > 10_000, 20,
                       f"traffic through {nf} of round {round_}")
        old = forwarders.pop(0)
        old.signal(signal.SIGTERM)
        assert old.wait(10) == 0, old.output()
        stopped.append(old)
    tester.signal(signal.SIGTERM)
    assert tester.wait(10) == 0, tester.output()
    for nf in forwarders:
        nf.signal(signal.SIGTERM)
        assert nf.wait(10) == 0, nf.output()
    snap = wait_until(lambda: (s := mgr.stats())["pool"]["available"] == s["pool"]["size"]
                      and not s["nfs"] and s, 10, "every mbuf back in the pool")
    assert snap["reclaimed_mbufs"] == 0  # none had to be taken back from a dead NF
    assert mgr.stop() == 0
    assert "pool 16383/16383 free" in mgr.output()


# Fills its own tx ring ahead of each batch it handles, so that the batch
# must wait for room: frozen, the manager gives it none.
FLOODER = """
from onvm.nflib import NF, NfError, main, to_service

def run():
    nf = NF(name="flooder")

    @nf.vector_handler(batch=32, fields=("meta",))
    def handle(batch):
        for _ in range(64):
            try:
                pkt = nf.create(bytes(60))
            except NfError:  # the pool is empty for now
                break
            if not nf.send(pkt, to_service(9)):  # nobody serves 9: freed there
                break
        return to_service(2)  # the batch goes back to speed_tester

    nf.run()

raise SystemExit(main(run))
"""


def test_an_nf_stopped_with_a_full_tx_ring_frees_what_it_could_not_hand_back(
        tmp_path, start_manager):
    """The manager is frozen (SIGSTOP) under load, so the NF's tx ring is
    full and it waits to hand its burst back; stopped then, it must free
    that burst, not take it out of the pool with it."""
    config = tmp_path / "small-rings.toml"
    config.write_text("[dataplane]\nnf_ring_size = 64\n")
    flooder = tmp_path / "flooder.py"
    flooder.write_text(FLOODER)
    mgr = start_manager("--config", str(config))
    nf = start_nf_file(mgr, flooder, 1)
    tester = mgr.start_nf("speed_tester", 2, "--", "--dest", "1", "--packets", "512")
    mgr.wait_stats(lambda s: mgr.nf_stats(s, nf).get("rx", 0) > 10_000, 20,
                   "traffic through the flooder")
    os.kill(mgr.pid, signal.SIGSTOP)
    try:
        time.sleep(0.5)  # the flooder's tx ring fills; it waits for room
        nf.signal(signal.SIGTERM)
        time.sleep(2.5)  # past its waits for room, the manager still frozen
    finally:
        os.kill(mgr.pid, signal.SIGCONT)
    assert nf.wait(10) == 0, nf.output()
    tester.signal(signal.SIGTERM)
    assert tester.wait(10) == 0, tester.output()
    wait_until(lambda: (s := mgr.stats())["pool"]["available"] == s["pool"]["size"]
               and not s["nfs"], 10, "every mbuf back in the pool")
    assert mgr.stop() == 0
