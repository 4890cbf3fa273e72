# SPDX-License-Identifier: BSD-3-Clause
"""SIGKILL of an NF in mid-traffic: the others keep forwarding, its slot is
freed, and every mbuf is back in the pool once traffic drains."""

from __future__ import annotations

import re
import signal
import time

from tests.support.harness import wait_until
from tests.support.nf_helpers import start_nf_file

BATCH = 1024


# An NF that forwards to service 1 until the marker file exists, then stops
# inside its handler, holding the packets of its current batch, and says so
# by creating the marker's ".stuck" file.
HOLDER = """
import os, time
from onvm.nflib import NF, main, to_service

def run():
    nf = NF(name="holder")
    marker = nf.args[0]

    @nf.packet_handler
    def forward(pkt):
        if os.path.exists(marker):
            open(marker + ".stuck", "w").close()
            while True:
                time.sleep(0.01)
        return to_service(1)

    nf.run()

raise SystemExit(main(run))
"""


def held_by(snap: dict, nf_id: str) -> int:
    """Packets an NF has taken from its rings and not yet passed on (to the
    manager, or straight to the next NF with nf_to_nf direct)."""
    nf = snap["nfs"][nf_id]
    return nf["enqueued"] - nf["rx_ring"] + nf["direct_in"] - nf["tx"] - nf["direct"]


def test_sigkill_of_an_nf_under_load(tmp_path, start_manager):
    mgr = start_manager()
    holder, marker = tmp_path / "holder.py", tmp_path / "hold"
    holder.write_text(HOLDER)
    # A loop without ports: speed_tester (1) -> two instances of 2 -> back to 1.
    survivor = mgr.start_nf("simple_forward", 2, "--dest", "1")
    victim = start_nf_file(mgr, holder, 2, "--", str(marker))
    tester = mgr.start_nf("speed_tester", 1, "--", "--dest", "2", "--packets", str(BATCH))

    def loaded(s):
        return all(mgr.nf_stats(s, p)["rx"] > 50_000 for p in (survivor, victim))

    before = mgr.wait_stats(loaded, 30, "traffic through both instances")
    victim_id = next(k for k, n in before["nfs"].items() if n["pid"] == victim.pid)
    marker.touch()  # the victim now holds the batch it is in
    # Only once inside its handler: a count that stays still could also be
    # a hand-over waiting for room, which goes on to take more.
    wait_until(lambda: marker.with_name("hold.stuck").exists(), 10,
               "the victim to stop in its handler")
    snaps = []

    def holding_still(s):
        snaps.append(held_by(s, victim_id))
        return len(snaps) >= 3 and snaps[-1] == snaps[-2] == snaps[-3] > 0

    mgr.wait_stats(holding_still, 10, "the victim to hold packets")
    held = snaps[-1]
    victim.popen.send_signal(signal.SIGKILL)
    victim.popen.wait(10)

    after_kill = mgr.wait_stats(lambda s: victim_id not in s["nfs"], 10, "the dead NF's slot")
    assert after_kill["crashed_nfs"] == 1
    assert "died" in mgr.output()

    # The survivor now carries the whole loop.
    base = mgr.nf_stats(after_kill, survivor)["rx"]
    tester_base = mgr.nf_stats(after_kill, tester)["rx"]
    moving = mgr.wait_stats(
        lambda s: mgr.nf_stats(s, survivor)["rx"] > base + 100_000
        and mgr.nf_stats(s, tester)["rx"] > tester_base + 100_000,
        20, "forwarding to continue through the survivor")
    # What the dead NF held went back to the pool; no other packet was lost.
    assert moving["reclaimed_mbufs"] == held
    in_use = moving["pool"]["size"] - moving["pool"]["available"]
    assert in_use == BATCH - held, moving

    tester.signal(signal.SIGTERM)
    tester.wait(10)
    drained = mgr.wait_stats(lambda s: s["pool"]["available"] == s["pool"]["size"], 10,
                             "the pool to be full again")
    assert drained["nfs"][next(k for k, n in drained["nfs"].items()
                               if n["pid"] == survivor.pid)]["state"] == "running"
    assert mgr.stop() == 0
    assert re.search(r"pool (\d+)/\1 free", mgr.output())


def test_nf_killed_while_idle_frees_its_slot(tmp_path, start_manager):
    mgr = start_manager()
    nf = mgr.start_nf("basic_monitor", 3)
    nf.popen.send_signal(signal.SIGKILL)
    nf.popen.wait(10)
    snap = mgr.wait_stats(lambda s: not s["nfs"], 10, "the slot to be freed")
    assert snap["pool"]["available"] == snap["pool"]["size"]
    # The slot is usable again.
    again = mgr.start_nf("basic_monitor", 3)
    time.sleep(0.2)
    assert mgr.nf_stats(mgr.stats(), again)["state"] == "running"
    assert mgr.stop() == 0


def test_nfs_whose_manager_is_killed_say_so_and_exit_non_zero(start_manager):
    """C and Python NFs alike: one line naming the manager that went away,
    and exit code 3 (ONVM_NF_EXIT_MANAGER_GONE)."""
    mgr = start_manager()
    c_nf = mgr.start_nf("simple_forward", 2, "--", "--dest", "1")
    py_nf = mgr.start_nf("simple_forward.py", 3)
    tester = mgr.start_nf("speed_tester", 1, "--", "--dest", "2", "--packets", "256")
    mgr.wait_stats(lambda s: mgr.nf_stats(s, c_nf).get("rx", 0) > 1000, 20, "traffic")
    mgr.signal(signal.SIGKILL)
    mgr.wait(10)
    gone = f"manager '{mgr.name}' (pid {mgr.pid}) went away without stopping: this NF stopped too"
    for nf, prog in ((c_nf, "simple_forward: "), (py_nf, "simple_forward.py: error: "),
                     (tester, "speed_tester: ")):
        assert nf.wait(10) == 3, nf.output()
        lines = [ln for ln in nf.output().splitlines() if "went away" in ln]
        assert lines == [prog + gone], nf.output()
        assert "Traceback" not in nf.output()


def test_nfs_of_a_manager_that_stops_exit_zero(start_manager):
    mgr = start_manager()
    c_nf = mgr.start_nf("simple_forward", 2)
    py_nf = mgr.start_nf("simple_forward.py", 3)
    assert mgr.stop() == 0
    for nf in (c_nf, py_nf):
        assert nf.wait(10) == 0, nf.output()
        assert "went away" not in nf.output()
