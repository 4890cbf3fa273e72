# SPDX-License-Identifier: BSD-3-Clause
"""Fake mbufs for unit tests of packet parsing and rewriting, without DPDK's EAL.

A FakeMbuf holds a packet in a cffi buffer of exactly its size (plus optional
canary bytes around it) and an rte_mbuf that describes it, so C code and the
nflib views have nothing of the packet's own to read past its end. A guard
page, in a child process so that a fault fails one test rather than pytest,
checks that they really never do.
"""

from __future__ import annotations

import contextlib
import ctypes
import mmap
import subprocess
import sys
import textwrap
from collections.abc import Iterable, Iterator
from pathlib import Path

from onvm.nflib import Packet, headers
from onvm.pydpdk import _nf
from onvm.pydpdk.nf import ffi
from tests.support.cdata import aligned

ROOT = Path(__file__).resolve().parents[2]
# Explicit MACs: scapy would otherwise resolve them through the host's routes.
MACS = {"src": "02:00:00:00:00:01", "dst": "02:00:00:00:00:02"}
CANARY = 0xA5

MBUF_SIZE = ffi.sizeof("struct rte_mbuf")
# Where the fake onvm_pkt_meta lives: right after the rte_mbuf, in the same block.
META_OFFSET = (MBUF_SIZE + 7) & ~7
# rte_mbuf_core.h (DPDK 22.11): data_len, vlan_tci, then the hash union whose
# first member is the 32-bit RSS hash. The cdef does not declare the union.
RSS_OFFSET = ffi.offsetof("struct rte_mbuf", "data_len") + 4


class FakeMbuf:
    """One packet in a buffer of headroom + len(data) + tailroom bytes.

    Headroom and tailroom are filled with CANARY bytes; data_off points at the
    packet and data_len = pkt_len = len(data). Keep the FakeMbuf alive while
    anything (a Packet, a Batch) uses its mbuf.
    """

    def __init__(
        self, data: bytes, *, port: int = 0, headroom: int = 0, tailroom: int = 0
    ) -> None:
        self.headroom = headroom
        self.size = len(data)
        total = headroom + len(data) + tailroom
        self.buf = ffi.new("uint8_t[]", total)
        image = bytes([CANARY]) * headroom + data + bytes([CANARY]) * tailroom
        ffi.memmove(self.buf, image, total)
        self.m = aligned(ffi, "struct rte_mbuf", META_OFFSET + ffi.sizeof("struct onvm_pkt_meta"))
        self._block = ffi.cast("uint8_t *", self.m)
        self.m.buf_addr = self.buf
        self.m.buf_len = total
        self.m.data_off = headroom
        self.m.data_len = len(data)
        self.m.pkt_len = len(data)
        self.m.nb_segs = 1
        self.m.port = port

    @property
    def data(self) -> bytes:
        """The packet's bytes now."""
        return bytes(ffi.buffer(self.buf + self.headroom, self.size))

    @property
    def whole(self) -> bytes:
        """The whole buffer, canaries included."""
        return bytes(ffi.buffer(self.buf, len(self.buf)))

    @property
    def rss(self) -> int:
        return ffi.cast("uint32_t *", self._block + RSS_OFFSET)[0]

    @rss.setter
    def rss(self, value: int) -> None:
        ffi.cast("uint32_t *", self._block + RSS_OFFSET)[0] = value

    def packet(self) -> Packet:
        return Packet(self.m)


def mbuf_array(fakes: Iterable[FakeMbuf]):
    """A `struct rte_mbuf *[]` of the fakes' mbufs, as a burst handler gets it."""
    return ffi.new("struct rte_mbuf *[]", [f.m for f in fakes])


@contextlib.contextmanager
def pkt_meta_at_fake_offset() -> Iterator[None]:
    """Point onvm_pkt_meta() at the room FakeMbuf keeps after each rte_mbuf.

    In a real process the manager registers the dynfield (needs EAL) and sets
    the global offset; here the test sets it, and restores it afterwards.
    """
    offset = ctypes.c_int.in_dll(ctypes.CDLL(_nf.__file__), "onvm_pkt_meta_offset")
    saved = offset.value
    offset.value = META_OFFSET
    try:
        yield
    finally:
        offset.value = saved


# ---- every property of every view ----

VIEW_NAMES = ("eth", "vlan", "arp", "ipv4", "ipv6", "tcp", "udp", "icmp", "icmp6")


def view_properties(view: headers.Header | None) -> dict | None:
    """Every property of a header view (its offset too), by name; None for no view."""
    if view is None:
        return None
    cls = type(view)
    return {
        name: getattr(view, name)
        for name in dir(cls)
        if isinstance(getattr(cls, name), property)
    }


def read_everything(pkt: Packet) -> dict:
    """Touch everything a Packet offers a reader; returns the values by name."""
    values = {name: view_properties(getattr(pkt, name)) for name in VIEW_NAMES}
    values.update(
        length=pkt.length,
        in_port=pkt.in_port,
        ethertype=pkt.ethertype,
        proto=pkt.proto,
        payload=bytes(pkt.payload),
        data=bytes(pkt.data),
        len=len(pkt),
        repr=repr(pkt),
    )
    return values


# ---- guard pages ----

GUARD_SCRIPT = textwrap.dedent(
    """
    import ctypes, mmap, sys
    from onvm import contract
    from onvm.pydpdk.nf import ffi, lib
    from onvm.nflib import Packet
    from tests.support.cdata import aligned
    from tests.unit.fake_mbuf import read_everything

    PAGE = mmap.PAGESIZE
    area = mmap.mmap(-1, 3 * PAGE, prot=mmap.PROT_READ | mmap.PROT_WRITE)
    base = ctypes.addressof(ctypes.c_char.from_buffer(area))
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    for guard in (base, base + 2 * PAGE):
        if libc.mprotect(guard, PAGE, 0) != 0:
            sys.exit("mprotect failed")
    page = ffi.cast("uint8_t *", base + PAGE)
    m = aligned(ffi, "struct rte_mbuf")
    mbufs = ffi.new("struct rte_mbuf *[1]", [m])
    fields = ffi.new("struct onvm_pkt_fields *")
    # Batches of keys (and meta) parse common frames their own way.
    groups = (contract.FIELDS_KEYS, contract.FIELDS_KEYS | contract.FIELDS_META,
              contract.FIELDS_ALL)
    checked = 0
    for line in sys.stdin:
        pkt = bytes.fromhex(line.strip())
        # Once right after the lower guard page, once right before the upper one.
        for start in (0, PAGE - len(pkt)):
            ffi.memmove(page + start, pkt, len(pkt))
            m.buf_addr = page + start
            m.buf_len = len(pkt)
            m.data_off = 0
            m.data_len = m.pkt_len = len(pkt)
            p = Packet(m)
            read_everything(p)
            for g in groups:
                lib.onvm_pkt_fields_parse(mbufs, 1, fields, g)
            p.fix_checksums()
            read_everything(p)
            checked += 1
    print("checked", checked)
    """
)


def run_between_guard_pages(packets: Iterable[bytes]) -> subprocess.CompletedProcess:
    """Read every view of, parse as a batch, and fix the checksums of, each
    packet placed flush against a PROT_NONE page on either side, in a child
    process."""
    packets = [p for p in packets if len(p) <= mmap.PAGESIZE]
    return subprocess.run(
        [sys.executable, "-c", GUARD_SCRIPT],
        input="".join(p.hex() + "\n" for p in packets),
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
