# SPDX-License-Identifier: BSD-3-Clause
"""C objects for tests that drive native code through cffi: DPDK lays out
mbufs and onvm's tables on cache lines, and the compiled code may rely on
it (UBSan checks that it can), so tests allocate them aligned too."""

from __future__ import annotations

CACHE_LINE = 64
# Blocks behind the pointers handed out: a cast pointer does not keep its
# memory alive, so they live as long as the test process.
_blocks: list = []


def aligned(ffi, ctype: str, size: int | None = None, align: int = CACHE_LINE):
    """A zeroed `ctype *` (e.g. "struct rte_mbuf") on an `align`-byte
    boundary, with `size` bytes behind it (default: sizeof the type)."""
    size = ffi.sizeof(ctype) if size is None else size
    block = ffi.new("char[]", size + align)
    _blocks.append(block)
    address = int(ffi.cast("uintptr_t", block))
    return ffi.cast(f"{ctype} *", (address + align - 1) // align * align)
