# SPDX-License-Identifier: BSD-3-Clause
"""Helpers for the control-plane tests: a client of a test manager,
numbered packets, and an NF slow enough that traffic lasts while the test
changes things."""

from __future__ import annotations

import struct
from pathlib import Path

from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.l2 import Ether
from scapy.packet import Raw

from onvm.manager.client import Client
from tests.support.harness import Manager, Proc
from tests.support.nf_helpers import start_nf_file
from tests.support.pcaps import write_pcap

# Forwards every batch after a pause, so that a pcap replay (held back by
# the manager while this NF's ring is full) lasts seconds, not milliseconds.
SLOW_FORWARD = """
import time
from onvm.nflib import NF, NEXT, main

def run():
    nf = NF(name="slow_forward")
    delay = float(nf.args[0]) if nf.args else 0.001

    @nf.vector_handler(batch=32, fields=("meta",))
    def forward(batch):
        time.sleep(delay)
        return NEXT

    nf.run()

raise SystemExit(main(run))
"""


OPEN_CLIENTS: list[Client] = []  # closed after each test (conftest)


def client(mgr: Manager, **kw) -> Client:
    c = Client(mgr.name, timeout=kw.pop("timeout", 10.0), **kw)
    OPEN_CLIENTS.append(c)
    return c


def close_clients() -> None:
    while OPEN_CLIENTS:
        OPEN_CLIENTS.pop().close()


def start_slow_forward(mgr: Manager, service: int, delay: float = 0.001) -> Proc:
    path = mgr.tmp / "slow_forward.py"
    if not path.exists():
        path.write_text(SLOW_FORWARD)
    return start_nf_file(mgr, path, service, "--", str(delay))


SEQ = struct.Struct("!I")


def _template(i: int, flows: int) -> bytes:
    eth = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
    ip = IP(src=f"10.1.{(i % flows) >> 8}.{(i % flows) & 0xff}", dst="192.168.7.1")
    dport = 80 if i % 2 == 0 else 443
    l4 = UDP if i % 7 == 0 else TCP
    return bytes(eth / ip / l4(sport=5000 + i % flows, dport=dport) / Raw(b"\0" * 12))


def _ones_sum(data: bytes) -> int:
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return total


def numbered_packets(count: int, flows: int = 64) -> list[bytes]:
    """TCP packets numbered in their payload, even ones to port 80 and odd
    ones to port 443, over `flows` source addresses; every 7th is UDP.
    Scapy builds one template per shape; the number is patched in with the
    L4 checksum updated (RFC 1624), so every packet stays valid."""
    templates: dict[tuple[int, int, int], bytes] = {}
    out = []
    for i in range(count):
        shape = (i % flows, i % 2, int(i % 7 == 0))
        base = templates.get(shape)
        if base is None:
            base = templates[shape] = _template(i, flows)
        csum_at = 14 + 20 + (6 if base[23] == 17 else 16)
        old = struct.unpack_from("!H", base, csum_at)[0]
        new_sum = _ones_sum(struct.pack("!HH", (~old) & 0xFFFF, 0) + SEQ.pack(i))
        csum = (~new_sum) & 0xFFFF
        frame = bytearray(base)
        struct.pack_into("!H", frame, csum_at, csum or 0xFFFF if base[23] == 17 else csum)
        SEQ.pack_into(frame, len(frame) - 12, i)
        out.append(bytes(frame))
    return out


def seq_of(frame: bytes) -> int:
    return SEQ.unpack_from(frame, len(frame) - 12)[0]


def is_tcp80(frame: bytes) -> bool:
    return frame[23] == 6 and struct.unpack_from("!H", frame, 36)[0] == 80


def pcap_manager(start_manager, tmp: Path, packets: list[bytes]) -> Manager:
    """A manager whose port 0 replays `packets` into the chain 1,out:1 once
    service 1 has an NF; ports 1 and 2 write out1.pcap and out2.pcap."""
    ports = three_pcap_ports(tmp, packets)
    return start_manager(*(a for p in ports for a in ("--port", p)), "--chain", "1,out:1",
                         "--wait-for-chain")


def three_pcap_ports(tmp: Path, packets: list[bytes]) -> list[str]:
    """Port 0 replays `packets`; ports 0, 1 and 2 write outN.pcap."""
    write_pcap(tmp / "in.pcap", packets)
    write_pcap(tmp / "empty.pcap", [])
    return [
        f"net_pcap0,rx_pcap={tmp}/in.pcap,tx_pcap={tmp}/out0.pcap",
        f"net_pcap1,rx_pcap={tmp}/empty.pcap,tx_pcap={tmp}/out1.pcap",
        f"net_pcap2,rx_pcap={tmp}/empty.pcap,tx_pcap={tmp}/out2.pcap",
    ]
