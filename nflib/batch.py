# SPDX-License-Identifier: BSD-3-Clause
"""Batch: one handler call's packets as NumPy arrays of parsed fields.

The arrays are views over C memory filled in one pass per batch; a vector
handler reads them, never touching packets one by one in Python, and
answers with one verdict per packet.
"""

from __future__ import annotations

import numpy as np

from onvm.pydpdk import ffi, lib

# Field name -> (NumPy dtype, trailing shape).
FIELDS = {
    "ether_type": (np.uint16, ()),
    "vlan": (np.uint16, ()),
    "ip_version": (np.uint8, ()),
    "proto": (np.uint8, ()),
    "tcp_flags": (np.uint8, ()),
    "src4": (np.uint32, ()),
    "dst4": (np.uint32, ()),
    "src6": (np.uint8, (16,)),
    "dst6": (np.uint8, (16,)),
    "src_port": (np.uint16, ()),
    "dst_port": (np.uint16, ()),
    "length": (np.uint16, ()),
    "l3_offset": (np.uint16, ()),
    "l4_offset": (np.uint16, ()),
    "in_port": (np.uint16, ()),
    "flow_hash": (np.uint32, ()),
}


class Batch:
    """The packets of one vector-handler call.

    Arrays (length n): ether_type, vlan, ip_version, proto, tcp_flags,
    src4/dst4 (IPv4 as integers), src6/dst6 (n x 16 bytes), src_port,
    dst_port, length, l3_offset, l4_offset, in_port, flow_hash; `verdicts`
    is writable and starts as NEXT for every packet.
    """

    def __init__(self) -> None:
        self._fields = ffi.new("struct onvm_pkt_fields *")
        self._full = {
            name: np.frombuffer(ffi.buffer(getattr(self._fields, name)), dtype=dtype).reshape(
                (lib.ONVM_BATCH_MAX, *shape))
            for name, (dtype, shape) in FIELDS.items()
        }
        self._verdicts = np.frombuffer(ffi.buffer(self._fields.verdicts), dtype=np.uint32)
        key_type = np.dtype((np.void, ffi.sizeof("struct onvm_flow_key")))
        self._keys = np.frombuffer(ffi.buffer(self._fields.keys), dtype=key_type)
        self._pkts = None
        self.n = 0

    def _load(self, pkts, n: int) -> None:
        lib.onvm_pkt_fields_parse(pkts, n, self._fields)
        self._pkts = pkts
        self.n = n

    def __len__(self) -> int:
        return self.n

    def __getattr__(self, name: str) -> np.ndarray:
        full = self.__dict__["_full"].get(name)
        if full is None:
            raise AttributeError(name)
        return full[: self.n]

    @property
    def verdicts(self) -> np.ndarray:
        return self._verdicts[: self.n]

    @property
    def flow_keys(self) -> np.ndarray:
        """One 40-byte key per packet (a flow's identity), as NumPy voids."""
        return self._keys[: self.n]

    def data(self, i: int) -> memoryview:
        """Zero-copy, writable bytes of packet i."""
        if not 0 <= i < self.n:
            raise IndexError(f"packet {i} of a batch of {self.n}")
        m = self._pkts[i]
        return memoryview(ffi.buffer(lib.pydpdk_mbuf_data(m), m.data_len))

    def classify(self, classifier) -> np.ndarray:
        """Results of `classifier` (onvm.nflib.Classifier) for every packet."""
        return classifier.classify_keys(self._fields.keys, self.n)
