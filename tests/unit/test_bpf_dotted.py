# SPDX-License-Identifier: BSD-3-Clause
"""onvm.bpf's text keys and values: an IPv4 address written bare is refused
with a hint, never read as dot-separated hex (10.10.10.10 as 0x10101010)."""

from __future__ import annotations

import pytest

from onvm.bpf import encode


@pytest.mark.parametrize("text", ["10.10.10.10", "10.0.0.1", "192.168.100.200"])
def test_a_bare_ipv4_address_asks_for_ip4(text):
    with pytest.raises(ValueError, match=f"looks like an IPv4 address: write ip4:{text}"):
        encode(text, 4, "key")


@pytest.mark.parametrize("text, data", [
    ("ip4:10.10.10.10", "0a0a0a0a"),
    ("10:10:10:10", "10101010"),
    ("10-10-10-10", "10101010"),
    ("0x10101010", "10101010"),
    ("hex:10.10.10.10", "10101010"),  # hex: says what it is; separators go
])
def test_hex_and_typed_addresses_still_read(text, data):
    assert encode(text, 4, "key").hex() == data
