# SPDX-License-Identifier: BSD-3-Clause
"""onvm.bpf's keys and values: hex, typed fields and integers to exactly a
map's size, and back; what is wrong is one clear ValueError."""

from __future__ import annotations

import pytest

from onvm.bpf import decode, encode


@pytest.mark.parametrize("text, size, want", [
    ("0x0a000001", 4, bytes([10, 0, 0, 1])),
    ("hex:0a000001", 4, bytes([10, 0, 0, 1])),
    ("02:00:00:00:00:0a", 6, bytes([2, 0, 0, 0, 0, 10])),
    ("02-00-00-00-00-0a", 8, bytes([2, 0, 0, 0, 0, 10, 0, 0])),
    ("mac:02:00:00:00:00:0a,u16:1", 8, bytes([2, 0, 0, 0, 0, 10, 1, 0])),
    ("ip4:10.0.0.1,be16:80", 6, bytes([10, 0, 0, 1, 0, 80])),
    ("u8=6,pad:1,be16=22", 4, bytes([6, 0, 0, 22])),
    ("ip6:2001:db8::1", 16, bytes.fromhex("20010db8000000000000000000000001")),
    ("7", 4, bytes([7, 0, 0, 0])),
    ("u64:18446744073709551615", 8, b"\xff" * 8),
    ("be32:1", 4, bytes([0, 0, 0, 1])),
])
def test_text_becomes_exactly_the_maps_bytes(text, size, want):
    assert encode(text, size) == want


def test_ints_and_bytes():
    assert encode(258, 2) == bytes([2, 1])
    assert encode(b"\x01", 4) == bytes([1, 0, 0, 0])


@pytest.mark.parametrize("value, size, words", [
    ("0x0a0000010b", 4, "is 5 bytes; the map takes 4"),
    ("u16:65536", 2, "does not fit in 2 byte(s)"),
    ("u16:-1", 2, "does not fit"),
    ("u32:nan", 4, "is not an integer"),
    ("u8:99999999999999999999999999", 1, "does not fit"),
    ("mac:02:00", 6, "is not six hex bytes"),
    ("ip4:300.1.1.1", 4, "is not an IPv4 address"),
    ("ip6:zz::", 16, "is not an IPv6 address"),
    ("float:1.5", 4, "unknown field type"),
    ("", 4, "is empty"),
    ("0x0g", 4, "is not hex bytes"),
    (2 ** 80, 8, "does not fit"),
    (-1, 4, "does not fit"),
    (True, 1, "not a bool"),
    (1.5, 4, "not float"),
])
def test_bad_keys_and_values_say_what_is_wrong(value, size, words):
    with pytest.raises(ValueError, match=words.replace("(", r"\(").replace(")", r"\)")):
        encode(value, size)


def test_decode_shows_hex_or_the_fields_asked_for():
    data = bytes([2, 0, 0, 0, 0, 10, 1, 0])
    assert decode(data) == "02000000000a0100"
    assert decode(data, "mac,u16") == "mac:02:00:00:00:00:0a,u16:1"
    assert decode(bytes([10, 0, 0, 1, 0, 80]), "ip4,be16") == "ip4:10.0.0.1,be16:80"
    assert decode(bytes([6, 0, 0, 22]), "u8,pad:1,be16") == "u8:6,be16:22"
    assert decode(bytes([1, 2, 3]), "u8") == "u8:1,hex:0203"
    with pytest.raises(ValueError, match="unknown field type"):
        decode(data, "float")
