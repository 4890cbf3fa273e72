# SPDX-License-Identifier: BSD-3-Clause
"""Batch: one handler call's packets as NumPy arrays of parsed fields.

The arrays are views over C memory filled in one pass per batch; a vector
handler reads them, never touching packets one by one in Python, and
answers with one verdict per packet.
"""

from __future__ import annotations

import numpy as np

from onvm.pydpdk import ffi, lib

# Field name -> (NumPy dtype, trailing shape, group that fills it).
FIELDS = {
    "ip_version": (np.uint8, (), "keys"),
    "proto": (np.uint8, (), "keys"),
    "ether_type": (np.uint16, (), "l2"),
    "vlan": (np.uint16, (), "l2"),
    "src4": (np.uint32, (), "l3"),
    "dst4": (np.uint32, (), "l3"),
    "src6": (np.uint8, (16,), "l3"),
    "dst6": (np.uint8, (16,), "l3"),
    "l3_offset": (np.uint16, (), "l3"),
    "src_port": (np.uint16, (), "l4"),
    "dst_port": (np.uint16, (), "l4"),
    "tcp_flags": (np.uint8, (), "l4"),
    "l4_offset": (np.uint16, (), "l4"),
    "length": (np.uint16, (), "meta"),
    "in_port": (np.uint16, (), "meta"),
    "flow_hash": (np.uint32, (), "meta"),
}
GROUPS = {
    "keys": lib.ONVM_FIELDS_KEYS, "l2": lib.ONVM_FIELDS_L2, "l3": lib.ONVM_FIELDS_L3,
    "l4": lib.ONVM_FIELDS_L4, "meta": lib.ONVM_FIELDS_META,
}


class Batch:
    """The packets of one vector-handler call.

    Arrays (length n), by group: keys (flow_keys, ip_version, proto), l2
    (ether_type, vlan), l3 (src4/dst4 as integers, src6/dst6 as n x 16
    bytes, l3_offset), l4 (src_port, dst_port, tcp_flags, l4_offset), meta
    (length, in_port, flow_hash). Only the groups asked for are parsed.
    `verdicts` is writable and starts as NEXT for every packet.
    """

    def __init__(self, groups: tuple[str, ...] = tuple(GROUPS)) -> None:
        unknown = set(groups) - set(GROUPS)
        if unknown:
            raise ValueError(f"unknown field groups {sorted(unknown)}; known: {list(GROUPS)}")
        self._groups = {"keys", *groups}
        self._mask = 0
        for g in self._groups:
            self._mask |= GROUPS[g]
        self._fields = ffi.new("struct onvm_pkt_fields *")
        self._full = {
            name: np.frombuffer(ffi.buffer(getattr(self._fields, name)), dtype=dtype).reshape(
                (lib.ONVM_BATCH_MAX, *shape))
            for name, (dtype, shape, group) in FIELDS.items() if group in self._groups
        }
        self._verdicts = np.frombuffer(ffi.buffer(self._fields.verdicts), dtype=np.uint32)
        key_type = np.dtype((np.void, ffi.sizeof("struct onvm_flow_key")))
        self._keys = np.frombuffer(ffi.buffer(self._fields.keys), dtype=key_type)
        self._pkts = None
        self.n = 0

    def _load(self, pkts, n: int) -> None:
        lib.onvm_pkt_fields_parse(pkts, n, self._fields, self._mask)
        self._pkts = pkts
        self.n = n

    def __len__(self) -> int:
        return self.n

    def __getattr__(self, name: str) -> np.ndarray:
        full = self.__dict__["_full"].get(name)
        if full is None:
            if name in FIELDS:
                raise AttributeError(f"batch field '{name}' is in group '{FIELDS[name][2]}', "
                                     "which this handler did not ask for (fields=...)")
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

    def set_verdicts_by_rule(self, classifier, table) -> None:
        """verdicts[i] = table[rule matched by packet i] (table[0]: no match),
        classified and mapped in one C call. `table` is a uint32 array made
        with onvm.nflib.verdict_table()."""
        classifier.map_keys(self._fields.keys, self.n, table, self._fields.verdicts)
