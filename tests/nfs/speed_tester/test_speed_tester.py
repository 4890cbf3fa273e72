# SPDX-License-Identifier: BSD-3-Clause
"""speed_tester through a real manager, without ports: it injects its
packets, they loop through simple_forward and back, and its summary line
(which onvm-bench parses) counts them."""

from __future__ import annotations

import re

import pytest

from tests.support.harness import wait_until
from tests.support.nf_helpers import assert_nf_refuses

pytestmark = pytest.mark.timeout(60)

SUMMARY = re.compile(r"^speed_tester: summary: ([0-9.]+) Mpps average over ([0-9.]+) s "
                     r"\(min ([0-9.]+), max ([0-9.]+)\), (\d+) packets$", re.M)


def test_speed_tester_loops_its_packets_and_sums_them_up(start_manager):
    mgr = start_manager()
    mgr.start_nf("simple_forward", 4, "--", "--dest", "3")
    tester = mgr.start_nf("speed_tester", 3, "--", "--dest", "4", "--packets", "256",
                          "--size", "128", "--duration", "2.5")
    assert tester.wait(20) == 0
    out = tester.output()
    assert "speed_tester: injected 256 packets of 128 bytes to service 4" in out
    assert re.search(r"^speed_tester: [0-9.]+ Mpps$", out, re.M), out
    m = SUMMARY.search(out)
    assert m, out
    mpps, seconds, low, high, packets = (float(m[1]), float(m[2]), float(m[3]), float(m[4]),
                                         int(m[5]))
    assert packets > 256 * 100  # every packet came back many times
    assert mpps > 0 and 0 < seconds <= 2.5 and low <= mpps <= high
    # Its packets go back to the pool when it leaves.
    wait_until(lambda: mgr.stats()["pool"]["available"] == mgr.stats()["pool"]["size"], 10,
               "every packet back in the pool")
    assert mgr.stop() == 0


INJECTED = re.compile(r"^speed_tester: injected (\d+) packets of 64 bytes to service 3 "
                      r"\((\d+) asked: (\d+) dropped at full NF rings, (\d+) not sent", re.M)


def test_speed_tester_says_how_many_packets_really_went_in(tmp_path, start_manager):
    """More packets than its own rx ring holds (256 slots here): the manager
    drops the rest as it hands them over, and the injected line counts only
    those that are looping."""
    config = tmp_path / "small_rings.toml"
    config.write_text("[dataplane]\nnf_ring_size = 256\n")
    mgr = start_manager("--config", str(config))
    tester = mgr.start_nf("speed_tester", 3, "--", "--packets", "3000", "--duration", "1.5")
    assert tester.wait(20) == 0
    m = INJECTED.search(tester.output())
    assert m, tester.output()
    looping, asked, dropped, unsent = map(int, m.groups())
    assert asked == 3000 and looping + dropped + unsent == asked
    assert 0 < looping <= 2 * 255  # at most its rx and tx rings' worth
    assert dropped > 0
    # What it says is looping is what the manager counted as handed over.
    snap = mgr.stats()
    assert snap["dataplane"]["ring_full_drop"] >= dropped
    wait_until(lambda: mgr.stats()["pool"]["available"] == mgr.stats()["pool"]["size"], 10,
               "every packet back in the pool")
    assert mgr.stop() == 0


@pytest.mark.parametrize("args, message", [
    (("--size", "59"), "usage: speed_tester"),
    (("--packets", "0"), "usage: speed_tester"),
    (("--dest", "64"), "usage: speed_tester"),
    (("--duration", "-1"), "--duration takes seconds"),
    (("--rate", "10"), "--rate takes packets per second"),
])
def test_speed_tester_refuses_a_bad_option(start_manager, args, message):
    assert_nf_refuses(start_manager(), "speed_tester", 3, args, message)
