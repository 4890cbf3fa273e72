# SPDX-License-Identifier: BSD-3-Clause
"""A Python NF reads each packet's receive time and its TCP options from
the batch (fields time and tcpopt) and the packet view, through a real
manager: what it reads is what scapy wrote, and the times run forward."""

from __future__ import annotations

import struct
import time

import pytest
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.l2 import Ether

from onvm import contract
from tests.support.nf_helpers import chain_manager, start_nf_file
from tests.support.pcaps import read_pcap

pytestmark = pytest.mark.timeout(60)

TAIL = struct.Struct("<QIIHBBQ")  # rx_ns, tsval, tsecr, mss, wscale, options, view rx_ns

# Writes what it read into the last TAIL.size bytes of each frame.
RECORDER = """
import struct
from onvm.nflib import NF, NEXT, Packet, main

TAIL = struct.Struct("<QIIHBBQ")

def run():
    nf = NF(name="recorder")

    @nf.vector_handler(batch=16, fields=("meta", "time", "tcpopt"))
    def record(batch):
        for i in range(len(batch)):
            data = batch.data(i)
            view = Packet(batch._pkts[i])
            TAIL.pack_into(data, len(data) - TAIL.size, int(batch.rx_ns[i]),
                           int(batch.tcp_tsval[i]), int(batch.tcp_tsecr[i]),
                           int(batch.tcp_mss[i]), int(batch.tcp_wscale[i]),
                           int(batch.tcp_options[i]), view.rx_ns)
        return NEXT

    nf.run()

raise SystemExit(main(run))
"""


def packets() -> list[bytes]:
    out = []
    for i in range(200):
        opts = [("MSS", 1000 + i), ("WScale", i % 15), ("SAckOK", b""),
                ("Timestamp", (i * 1000 + 7, i))] if i % 3 == 0 else (
               [("NOP", None), ("NOP", None), ("Timestamp", (4_000_000_000 - i, 99))]
               if i % 3 == 1 else [])
        l4 = TCP(sport=1000 + i, dport=80, options=opts) if i % 5 else UDP(dport=53)
        out.append(bytes(Ether(dst="02:00:00:00:00:02") / IP(src="10.0.0.1") / l4
                         / bytes(TAIL.size)))
    return out


def test_receive_times_and_tcp_options_reach_python(tmp_path, start_manager):
    sent = packets()
    mgr = chain_manager(start_manager, tmp_path, sent, "1,out:1")
    path = tmp_path / "recorder.py"
    path.write_text(RECORDER)
    began = time.monotonic()
    start_nf_file(mgr, path, 1)
    mgr.wait_stats(lambda s: s["ports"]["1"]["tx"] == len(sent), 30, "every packet out")
    took = time.monotonic() - began
    assert mgr.stop() == 0
    out = read_pcap(tmp_path / "out1.pcap")
    assert len(out) == len(sent)
    times = []
    for frame, original in zip(out, sent, strict=True):
        rx_ns, tsval, tsecr, mss, wscale, present, view_ns = TAIL.unpack_from(
            frame, len(frame) - TAIL.size)
        assert rx_ns == view_ns > 0
        times.append(rx_ns)
        want = dict(Ether(original)[TCP].options) if TCP in Ether(original) else {}
        bits = ((contract.TCPOPT_MSS if "MSS" in want else 0)
                | (contract.TCPOPT_WSCALE if "WScale" in want else 0)
                | (contract.TCPOPT_SACK_OK if "SAckOK" in want else 0)
                | (contract.TCPOPT_TIMESTAMP if "Timestamp" in want else 0))
        assert present == bits
        assert (mss, wscale) == (want.get("MSS", 0), want.get("WScale", 0))
        assert (tsval, tsecr) == want.get("Timestamp", (0, 0))
    assert times == sorted(times)  # one port, one worker: received in order
    assert times[-1] - times[0] < took * 1e9
