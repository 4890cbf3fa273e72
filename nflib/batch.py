# SPDX-License-Identifier: BSD-3-Clause
"""Batch: one handler call's packets as NumPy arrays of parsed fields.

The arrays are views over C memory filled in one pass per batch; a vector
handler reads them, never touching packets one by one in Python, and
answers with one verdict per packet.
"""

from __future__ import annotations

import numpy as np

from onvm.contract import BATCH_FIELDS, BATCH_MAX, FIELD_GROUPS
from onvm.pydpdk.nf import ffi, lib

# Field name -> (NumPy dtype, trailing shape, group that fills it), from
# struct onvm_pkt_fields and the ONVM_FIELDS_* groups (onvm/pkt_fields.h).
FIELDS = {name: (np.dtype(dtype).type, shape, group)
          for name, (dtype, shape, group) in BATCH_FIELDS.items()}
GROUPS = FIELD_GROUPS


class _Field:
    """A batch array: the first n entries of its field's C array. The view
    is made once per batch size, not at each access (full batches keep
    theirs), as a vector handler's cost per call is Python's, not NumPy's."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __get__(self, batch, owner=None):
        if batch is None:
            return self
        view = batch._views.get(self.name)
        if view is None:
            full = batch._full.get(self.name)
            if full is None:
                raise AttributeError(f"batch field '{self.name}' is in group "
                                     f"'{FIELDS[self.name][2]}', which this handler did not "
                                     "ask for (fields=...)")
            view = batch._views[self.name] = full[: batch.n]
        return view


class Batch:
    """The packets of one vector-handler call.

    Arrays (length n), by group: keys (flow_keys, ip_version, proto), l2
    (ether_type, vlan), l3 (src4/dst4 as integers, src6/dst6 as n x 16
    bytes, l3_offset), l4 (src_port, dst_port, tcp_flags, l4_offset), meta
    (length, in_port, flow_hash), time (rx_ns: when the manager took it
    from its port, ns on the TSC clock), tcpopt (tcp_options, a bit per
    option present as onvm.contract's TCPOPT_*, tcp_mss, tcp_wscale,
    tcp_tsval, tcp_tsecr; 0 when absent). Only the groups asked for are
    parsed.
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
                (BATCH_MAX, *shape))
            for name, (dtype, shape, group) in FIELDS.items() if group in self._groups
        }
        self._verdicts = np.frombuffer(ffi.buffer(self._fields.verdicts), dtype=np.uint32)
        key_type = np.dtype((np.void, ffi.sizeof("struct onvm_flow_key")))
        self._full["verdicts"] = self._verdicts
        self._full["flow_keys"] = self._keys = np.frombuffer(ffi.buffer(self._fields.keys),
                                                             dtype=key_type)
        # cdata for the C calls, made once.
        self._keys_c = self._fields.keys
        self._verdicts_c = self._fields.verdicts
        self._views: dict[str, np.ndarray] = {}
        self._pkts = None
        self.n = 0

    def _load(self, pkts, n: int) -> None:
        lib.onvm_pkt_fields_parse(pkts, n, self._fields, self._mask)
        self._pkts = pkts
        if n != self.n:
            self._views.clear()
            self.n = n

    def __len__(self) -> int:
        return self.n

    verdicts = _Field("verdicts")
    # One 40-byte key per packet (a flow's identity), as NumPy voids.
    flow_keys = _Field("flow_keys")

    def data(self, i: int) -> memoryview:
        """Zero-copy, writable bytes of packet i."""
        if not 0 <= i < self.n:
            raise IndexError(f"packet {i} of a batch of {self.n}")
        m = self._pkts[i]
        return memoryview(ffi.buffer(lib.pydpdk_mbuf_data(m), m.data_len))

    def classify(self, classifier) -> np.ndarray:
        """Results of `classifier` (onvm.nflib.Classifier) for every packet."""
        return classifier.classify_keys(self._keys_c, self.n)

    def set_verdicts_by_rule(self, classifier, table) -> None:
        """verdicts[i] = table[rule matched by packet i] (table[0]: no match),
        classified and mapped in one C call. `table` is a uint32 array made
        with onvm.nflib.verdict_table()."""
        classifier.map_keys(self._keys_c, self.n, table, self._verdicts_c)


for _name in FIELDS:
    setattr(Batch, _name, _Field(_name))
