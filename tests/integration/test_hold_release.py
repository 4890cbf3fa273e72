# SPDX-License-Identifier: BSD-3-Clause
"""NFs that keep packets across batches (HOLD) and hand them on later, in
an order of their own; what they still hold when they stop or die goes back
to the pool."""

from __future__ import annotations

import pytest

from tests.support.control_helpers import numbered_packets, seq_of
from tests.support.harness import wait_until
from tests.support.nf_helpers import chain_manager, start_nf_file
from tests.support.pcaps import read_pcap

pytestmark = pytest.mark.timeout(90)

# Holds every packet; each time it holds GROUP, releases them newest first.
# A vector handler with batch 7 makes groups span batches.
REVERSER = """
from onvm.nflib import NF, NEXT, main

def run():
    nf = NF(name="reverser")
    group = int(nf.args[0])
    kept = []

    @nf.vector_handler(batch=7, fields=("meta",))
    def handle(batch):
        for i in range(len(batch)):
            kept.append(nf.hold(batch, i))
        while len(kept) >= group:
            chunk = kept[:group]
            del kept[:group]
            for pkt in reversed(chunk):
                assert nf.release(pkt, NEXT)
        return NEXT

    nf.run()
    print(f"reverser: held {nf.stats()['held']} released {nf.stats()['released']}", flush=True)

raise SystemExit(main(run))
"""

# Per-packet API: holds everything and never lets go.
HOARDER = """
from onvm.nflib import NF, DROP, main

def run():
    nf = NF(name="hoarder")

    @nf.packet_handler
    def handle(pkt):
        nf.hold(pkt)
        return DROP  # hold() wins over what the handler returns

    nf.run()

raise SystemExit(main(run))
"""


@pytest.mark.parametrize("chain", ["1,out:1", "1,2,out:1"])
def test_held_packets_come_out_in_the_order_the_nf_releases_them(tmp_path, start_manager,
                                                                   chain):
    packets = numbered_packets(1000)
    mgr = chain_manager(start_manager, tmp_path, packets, chain)
    if chain.startswith("1,2"):
        mgr.start_nf("simple_forward", 2)
    path = tmp_path / "reverser.py"
    path.write_text(REVERSER)
    nf = start_nf_file(mgr, path, 1, "--", "50")
    snap = mgr.wait_stats(lambda s: s["ports"]["1"]["tx"] == len(packets), 30, "every packet out")
    assert mgr.nf_stats(snap, nf)["held"] == len(packets)
    assert mgr.nf_stats(snap, nf)["released"] == len(packets)
    assert mgr.stop() == 0
    expected = [p for start in range(0, len(packets), 50)
                for p in reversed(packets[start:start + 50])]
    out = read_pcap(tmp_path / "out1.pcap")
    assert [seq_of(p) for p in out] == [seq_of(p) for p in expected]
    assert out == expected
    assert "pool 16383/16383 free" in mgr.output()


@pytest.mark.parametrize("end", ["stop", "kill"])
def test_what_an_nf_still_holds_goes_back_to_the_pool(tmp_path, start_manager, end):
    packets = numbered_packets(600)
    mgr = chain_manager(start_manager, tmp_path, packets, "1,out:1")
    path = tmp_path / "hoarder.py"
    path.write_text(HOARDER)
    nf = start_nf_file(mgr, path, 1)
    snap = mgr.wait_stats(lambda s: mgr.nf_stats(s, nf)["held"] == len(packets), 30,
                          "every packet held")
    assert snap["pool"]["available"] == snap["pool"]["size"] - len(packets)
    assert mgr.nf_stats(snap, nf)["act_drop"] == 0
    if end == "stop":
        nf.signal(2)
        assert nf.wait(20) == 0
    else:
        nf.kill()
    wait_until(lambda: mgr.stats()["pool"]["available"] == mgr.stats()["pool"]["size"], 20,
               "the held packets back in the pool")
    assert mgr.stop() == 0
    assert read_pcap(tmp_path / "out1.pcap") == []
