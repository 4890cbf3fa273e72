# SPDX-License-Identifier: BSD-3-Clause
"""Port devargs the manager reads itself: which memif ports are clients
(they need a server listening before the manager starts them)."""

from __future__ import annotations

import pytest

from onvm.manager.bringup.ports import memif_client_socket


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
