# SPDX-License-Identifier: BSD-3-Clause
"""Port devargs the manager reads itself: which memif ports are clients
(they need a server listening before the manager starts them); how many RX
queues a port gets, and the RSS key that keeps both directions of a flow
on one of them."""

from __future__ import annotations

import random
import struct

import pytest

from onvm.errors import PortError
from onvm.manager.bringup.ports import RxPlan, memif_client_socket, plan_rx, symmetric_rss_key


@pytest.mark.parametrize(
    ("devargs", "socket"),
    [
        ("net_memif0", "/run/memif.sock"),  # memif's defaults: client, this socket
        ("net_memif0,socket=/tmp/a.sock", "/tmp/a.sock"),
        ("net_memif1,role=client,socket=/tmp/b.sock,rsize=14", "/tmp/b.sock"),
        ("net_memif0,role=server,socket=/tmp/a.sock", None),
        ("net_memif0,role=master", None),  # the old name of server
        ("net_pcap0,rx_pcap=in.pcap,tx_pcap=out.pcap", None),
        ("net_null0", None),
        ("0000:01:00.0", None),
    ],
)
def test_memif_client_socket(devargs, socket):
    assert memif_client_socket(devargs) == socket


# ---- RX queues and RSS ----


def plan(**kw) -> RxPlan:
    args = {"workers": 2, "setting": "auto", "has_rss": False, "max_rx_queues": 1,
            "driver_rx_queues": 0}
    return plan_rx("port 0 (x)", **{**args, **kw})


@pytest.mark.parametrize(("kw", "expected"), [
    # RSS: one queue per worker, or as many as asked, within what the port has
    ({"has_rss": True, "max_rx_queues": 1024, "workers": 4}, RxPlan(4, True)),
    ({"has_rss": True, "max_rx_queues": 1024, "workers": 8, "setting": 3}, RxPlan(3, True)),
    ({"has_rss": True, "max_rx_queues": 2, "workers": 8}, RxPlan(2, True)),
    ({"has_rss": True, "max_rx_queues": 1024, "workers": 1}, RxPlan(1, True)),
    ({"has_rss": True, "max_rx_queues": 64, "setting": 1}, RxPlan(1, True)),
    # no RSS: what the driver made (pcap files, rings), else one queue
    ({"max_rx_queues": 2, "driver_rx_queues": 2}, RxPlan(2, False)),
    ({"max_rx_queues": 16, "driver_rx_queues": 16, "workers": 1}, RxPlan(16, False)),
    ({"max_rx_queues": 255, "driver_rx_queues": 0, "workers": 4}, RxPlan(1, False)),
    ({"max_rx_queues": 255, "driver_rx_queues": 0, "setting": 8}, RxPlan(1, False)),
    ({"max_rx_queues": 1, "driver_rx_queues": 1}, RxPlan(1, False)),
])
def test_plan_rx(kw, expected):
    assert plan(**kw) == expected


def test_plan_rx_refuses_more_queues_than_the_port_has():
    with pytest.raises(PortError) as err:
        plan(has_rss=True, max_rx_queues=4, setting=8)
    assert "has at most 4 RX queue(s) but rx_queues is 8" in str(err.value)
    assert "rx_queues to 4 or less" in str(err.value)
    with pytest.raises(PortError, match="polls at most 16"):
        plan(max_rx_queues=20, driver_rx_queues=20)


def toeplitz(key: bytes, data: bytes) -> int:
    """The Toeplitz hash of RSS: for each set bit of the input, the 32 key
    bits from that bit's position on."""
    key_bits = int.from_bytes(key, "big")
    key_len = len(key) * 8
    result = 0
    for i in range(len(data) * 8):
        if data[i // 8] & (0x80 >> (i % 8)):
            result ^= (key_bits >> (key_len - 32 - i)) & 0xFFFFFFFF
    return result


def tuple4(src: bytes, dst: bytes, sport: int, dport: int) -> bytes:
    return src + dst + struct.pack("!HH", sport, dport)


# The key drivers default to (Microsoft's RSS verification suite).
ASYMMETRIC_KEY = bytes.fromhex(
    "6d5a56da255b0ec24167253d43a38fb0d0ca2bcbae7b30b477cb2da38030f20c6a42b73bbeac01fa")


def test_toeplitz_matches_the_published_verification_value():
    # 66.9.149.187:2794 -> 161.142.100.80:1766, IPv4 with TCP: 0x51ccc178
    data = tuple4(bytes([66, 9, 149, 187]), bytes([161, 142, 100, 80]), 2794, 1766)
    assert toeplitz(ASYMMETRIC_KEY, data) == 0x51CCC178


@pytest.mark.parametrize("size", [40, 52])
def test_symmetric_rss_key_hashes_both_directions_alike(size):
    key = symmetric_rss_key(size)
    assert len(key) == size and key[:4] == b"\x6d\x5a\x6d\x5a"
    rng = random.Random(size)
    for _ in range(200):
        for addr_len in (4, 16):  # IPv4 and IPv6 addresses
            a, b = rng.randbytes(addr_len), rng.randbytes(addr_len)
            p, q = rng.randrange(65536), rng.randrange(65536)
            there, back = tuple4(a, b, p, q), tuple4(b, a, q, p)
            assert toeplitz(key, there) == toeplitz(key, back)
            assert toeplitz(key, a + b) == toeplitz(key, b + a)  # IP only


def test_the_default_key_is_not_symmetric():
    """What the key is for: the drivers' default splits a connection."""
    rng = random.Random(1)
    split = 0
    for _ in range(50):
        a, b = rng.randbytes(4), rng.randbytes(4)
        p, q = rng.randrange(65536), rng.randrange(65536)
        split += toeplitz(ASYMMETRIC_KEY, tuple4(a, b, p, q)) != toeplitz(
            ASYMMETRIC_KEY, tuple4(b, a, q, p))
    assert split > 45
