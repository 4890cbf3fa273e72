# SPDX-License-Identifier: BSD-3-Clause
"""The eBPF program of the README, taken from the README, does what it says."""

from __future__ import annotations

import re
import struct
from collections import Counter

import pytest
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.l2 import Ether

from tests.support.bpf_programs import ROOT, nf_id, program
from tests.support.control_helpers import client
from tests.support.nf_helpers import chain_manager
from tests.support.pcaps import read_pcap

pytestmark = pytest.mark.timeout(60)


def readme_program() -> str:
    text = (ROOT / "README.md").read_text()
    return re.search(r"```c\n(/\* drop_port\.c.*?)```", text, re.S).group(1)


def test_the_readme_program_drops_udp_port_9_and_counts_per_source(tmp_path, start_manager):
    obj = program(readme_program(), tmp_path, "drop_port")
    packets = []
    for i in range(400):
        ip = IP(src=f"10.0.0.{i % 5 + 1}", dst="10.9.9.9")
        l4 = UDP(sport=1000, dport=9 if i % 3 == 0 else 53) if i % 4 else TCP(dport=9)
        packets.append(bytes(Ether(dst="02:00:00:00:00:02") / ip / l4 / b"payload"))
    mgr = chain_manager(start_manager, tmp_path, packets, "1,out:1")
    nf = mgr.start_nf("bpf", 1, "--", "--program", str(obj))
    mgr.wait_stats(lambda s: s["ports"]["1"]["tx"] + mgr.nf_stats(s, nf)["act_drop"]
                   == len(packets), 30, "every packet handled")
    drops = client(mgr).bpf(nf_id(mgr, nf)).map("drops").items()
    assert mgr.stop() == 0

    def dropped(p: bytes) -> bool:
        pkt = Ether(p)
        return UDP in pkt and pkt[UDP].dport == 9

    assert read_pcap(tmp_path / "out1.pcap") == [p for p in packets if not dropped(p)]
    expected = Counter(Ether(p)[IP].src for p in packets if dropped(p))
    got = {".".join(str(b) for b in k): struct.unpack("<Q", v)[0] for k, v in drops}
    assert got == dict(expected)
