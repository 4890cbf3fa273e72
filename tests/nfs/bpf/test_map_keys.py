# SPDX-License-Identifier: BSD-3-Clause
"""Hash maps of a bpf NF through the control plane, on keys whose hashes
collide: a probe then compares the keys themselves, and keys that differ
only in their last 5 bytes (a 32-bit CRC tells apart any two that differ in
4 bytes or fewer) must stay apart. Key and value sizes of every remainder
modulo 8, up to the largest, are covered."""

from __future__ import annotations

import random

import pytest

from tests.support.bpf_programs import example, nf_id
from tests.support.control_helpers import client

pytestmark = pytest.mark.timeout(60)

SEED = 0x6F6E766D  # the maps' CRC32-C seed (native/src/common/bpf_map.c)
# (key bytes, value bytes): maps declared with --map, 16 at most
SHAPES = [(5, 1), (6, 2), (7, 3), (8, 4), (9, 5), (12, 7), (15, 8), (16, 9), (17, 15),
          (23, 16), (24, 17), (31, 33), (33, 64), (48, 100), (63, 1023), (64, 1024)]


def crc32c(data: bytes, crc: int = 0) -> int:
    """CRC32-C as rte_hash_crc computes it: no inversion before or after."""
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc


def colliding_differences(size: int, count: int) -> list[bytes]:
    """`count` distinct non-zero byte strings d, zero but in their last 5
    bytes, with crc32c(d) == 0: a key and the key xor d hash alike (the
    CRC is linear). Gaussian elimination over the last 40 bits."""
    bits = 40
    rows = []  # (crc of the combination, the combination as a bit mask)
    for i in range(bits):
        unit = bytearray(size)
        unit[size - 5 + i // 8] = 1 << (i % 8)
        rows.append((crc32c(bytes(unit)), 1 << i))
    basis: dict[int, tuple[int, int]] = {}
    kernel = []
    for value, mask in rows:
        for bit in sorted(basis, reverse=True):
            if value >> bit & 1:
                value, mask = value ^ basis[bit][0], mask ^ basis[bit][1]
        if value:
            basis[value.bit_length() - 1] = (value, mask)
        else:
            kernel.append(mask)
    assert len(kernel) >= count
    out = []
    for mask in kernel[:count]:
        d = bytearray(size)
        for i in range(bits):
            if mask >> i & 1:
                d[size - 5 + i // 8] |= 1 << (i % 8)
        assert crc32c(bytes(d)) == 0 and any(d)
        out.append(bytes(d))
    return out


def xor(a: bytes, b: bytes) -> bytes:
    return bytes(x ^ y for x, y in zip(a, b, strict=True))


def test_colliding_keys_stay_apart(tmp_path, start_manager):
    rng = random.Random(7)
    maps = [f"--map=m{k}_{v}:hash:{k}:{v}:64" for k, v in SHAPES]
    mgr = start_manager()
    nf = mgr.start_nf("bpf", 1, "--", "--program", str(example("reflector", tmp_path)), *maps)
    bpf = client(mgr).bpf(nf_id(mgr, nf))
    for k, v in SHAPES:
        table = bpf.map(f"m{k}_{v}")
        a = rng.randbytes(k)
        d1, d2 = colliding_differences(k, 2)
        b, c = xor(a, d1), xor(a, d2)  # hash as a does; differ in the last 5 bytes
        assert crc32c(a, SEED) == crc32c(b, SEED) == crc32c(c, SEED)
        va, vb, vb2 = rng.randbytes(v), rng.randbytes(v), rng.randbytes(v)
        table[a] = va
        table[b] = vb
        assert (table.get(a), table.get(b), table.get(c)) == (va, vb, None), (k, v)
        table[b] = vb2  # an update finds b's entry, not a's
        assert (table.get(a), table.get(b), len(table)) == (va, vb2, 2), (k, v)
        assert table.delete(a) and not table.delete(c)
        assert (table.get(a), table.get(b), table.get(c)) == (None, vb2, None), (k, v)
        assert sorted(table.items()) == [(b, vb2)], (k, v)
    assert mgr.stop() == 0
