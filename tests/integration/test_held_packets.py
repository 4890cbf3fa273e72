# SPDX-License-Identifier: BSD-3-Clause
"""Packets an NF holds longer than the chain grace period, across many chain
changes: none may follow another chain than the one it started on (a
firewall would be bypassed); they are dropped and counted instead."""

from __future__ import annotations

import time

import pytest

from tests.support.control_helpers import client, numbered_packets, three_pcap_ports
from tests.support.nf_helpers import start_nf_file
from tests.support.pcaps import read_pcap

pytestmark = pytest.mark.timeout(90)

# Holds everything it is given until the marker file is gone, then passes it on.
HOLDER = """
import os, time
from onvm.nflib import NF, NEXT, main

def run():
    nf = NF(name="holder")
    marker = nf.args[0]

    @nf.vector_handler(batch=32, fields=("meta",))
    def hold(batch):
        while os.path.exists(marker):
            time.sleep(0.01)
        return NEXT

    nf.run()

raise SystemExit(main(run))
"""

DROP_ALL = """
from onvm.nflib import DROP, NF, main

def run():
    nf = NF(name="drop_all")
    nf.vector_handler(lambda batch: DROP, batch=32, fields=("meta",))
    nf.run()

raise SystemExit(main(run))
"""


def test_held_packets_never_take_a_chain_that_reused_their_chains_body(tmp_path, start_manager):
    packets = numbered_packets(2000)
    ports = three_pcap_ports(tmp_path, packets)
    mgr = start_manager(*(a for p in ports for a in ("--port", p)), "--chain", "1,2,out:1",
                        "--wait-for-chain")
    (tmp_path / "holder.py").write_text(HOLDER)
    (tmp_path / "drop_all.py").write_text(DROP_ALL)
    marker = tmp_path / "hold"
    marker.touch()
    start_nf_file(mgr, tmp_path / "drop_all.py", 2)  # the firewall: passes nothing
    holder = start_nf_file(mgr, tmp_path / "holder.py", 1, "--", str(marker))
    mgr.wait_stats(lambda s: s["ports"]["0"]["rx"] == len(packets), 20,
                   "every packet taken in, and held by service 1")
    c = client(mgr)
    # The held packets' version is replaced; past the grace period its body
    # is reused, again and again, by chains that would send them out of port 1.
    c.call("chain.set", name="default", hops="3,out:1")
    time.sleep(1.3)
    for round_ in range(20):
        c.call("chain.set", name=f"other{round_}", hops="4,out:1")
        c.call("chain.set", name="default", hops="4,out:1" if round_ % 2 else "3,out:1")
    marker.unlink()
    snap = mgr.wait_stats(lambda s: mgr.nf_stats(s, holder)["tx"] == len(packets), 30,
                          "the holder to let go of every packet")
    snap = mgr.wait_stats(lambda s: s["dataplane"]["chain_gone"] == len(packets), 10,
                          "every held packet dropped as on a replaced chain")
    assert snap["ports"]["1"]["tx"] == 0
    assert snap["pool"]["available"] == snap["pool"]["size"]
    assert mgr.stop() == 0
    assert read_pcap(tmp_path / "out1.pcap") == []
    assert "2000 on a replaced chain" in mgr.output()
