# SPDX-License-Identifier: BSD-3-Clause
"""The bpf NFs of a running manager, for the control plane: what each runs,
its verdict counters, its maps (read and written in shared memory while
traffic flows), and program loads, which the NF's own loader thread does.
"""

from __future__ import annotations

import errno
import time

from onvm.bpf import MAP_TYPES, VERDICTS
from onvm.errors import ControlError
from onvm.manager.protocol import BAD_ARGS, BUSY, LIMIT, NOT_FOUND
from onvm.pydpdk import manager as pydpdk

ffi, lib = pydpdk.ffi, pydpdk.lib

LOAD_TIMEOUT = 10.0  # seconds an NF gets to load, validate and JIT a program
KINDS = {1: "program", 2: "filter"}
BUSY_TRIES = 100


def _text(chars) -> str:
    return ffi.string(chars).decode(errors="replace")


class BpfNFs:
    def __init__(self, shared) -> None:
        self.sh = shared

    def _dir(self, nf_id: int):
        nf = self.sh.nfs[nf_id]
        d = lib.onvm_bpf_dir_lookup(nf_id)
        if d == ffi.NULL or nf.state == 0:
            raise ControlError(NOT_FOUND, f"NF {nf_id} is no bpf NF (onvm-ctl nf list shows "
                               "the NFs; start one with onvm-nf bpf)")
        return d

    def _consistent(self, d, read):
        """`read()` of the directory, retried while the NF changes it."""
        for _ in range(BUSY_TRIES):
            seq = d.seq
            if seq % 2 == 0:
                out = read()
                if d.seq == seq:
                    return out
            time.sleep(0.0005)
        raise ControlError(BUSY, "the NF kept changing its program: try again")

    @staticmethod
    def _describe_map(m) -> dict:
        return {"name": _text(m.name), "type": MAP_TYPES.get(m.type, str(m.type)),
                "key_size": m.key_size, "value_size": m.value_size,
                "max_entries": m.max_entries, "entries": lib.onvm_bpf_map_entries(m),
                "full": m.full, "busy": m.busy}

    def map_list(self, nf_id: int) -> list[dict]:
        d = self._dir(nf_id)
        return self._consistent(d, lambda: [self._describe_map(m) for m in d.maps
                                            if m != ffi.NULL])

    def info(self, nf_id: int) -> dict:
        d = self._dir(nf_id)

        def read() -> dict:
            return {
                "nf": nf_id, "kind": KINDS.get(d.kind, "none"), "path": _text(d.path),
                "section": _text(d.section), "filter": _text(d.filter),
                "invert": bool(d.invert), "jit": bool(d.jit), "window": d.window,
                "loads": d.loads,
                "verdicts": {name: d.verdicts[i] for i, name in enumerate(VERDICTS)},
                "bad_verdicts": d.bad_verdicts, "copied": d.copied,
                "maps": [self._describe_map(m) for m in d.maps if m != ffi.NULL],
            }
        return self._consistent(d, read)

    def _map(self, nf_id: int, name: str):
        d = self._dir(nf_id)
        m = self._consistent(d, lambda: lib.onvm_bpf_dir_map(d, name.encode()[:64]))
        if m == ffi.NULL:
            known = ", ".join(x["name"] for x in self.map_list(nf_id)) or "none"
            raise ControlError(NOT_FOUND, f"NF {nf_id} has no map '{name[:64]}' "
                               f"(its maps: {known})")
        return m

    @staticmethod
    def _sized(m, data: bytes, what: str, size: int) -> bytes:
        if len(data) != size:
            raise ControlError(BAD_ARGS, f"the {what} is {len(data)} bytes; map "
                               f"'{_text(m.name)}' takes {size}-byte {what}s")
        return data

    @staticmethod
    def _check(rc: int, m, key: bytes) -> None:
        if rc == -errno.ENOSPC:
            raise ControlError(LIMIT, f"map '{_text(m.name)}' is full ({m.max_entries} "
                               "entries): delete some first")
        if rc == -errno.EBUSY:
            raise ControlError(BUSY, f"map '{_text(m.name)}': an entry stayed locked "
                               "(its NF died while writing it?)")
        if rc == -errno.ENOENT:
            raise ControlError(NOT_FOUND, f"map '{_text(m.name)}' has no entry {key.hex()} "
                               f"(an array's indexes are 0 to {m.max_entries - 1})")

    def get(self, nf_id: int, name: str, key: bytes) -> dict:
        m = self._map(nf_id, name)
        key = self._sized(m, key, "key", m.key_size)
        value = ffi.new("uint8_t[]", m.value_size)
        rc = lib.onvm_bpf_map_lookup(m, key, value, 0)
        if rc == -errno.ENOENT:
            return {"value": None}
        self._check(rc, m, key)
        return {"value": bytes(ffi.buffer(value, m.value_size))}

    def set(self, nf_id: int, name: str, key: bytes, value: bytes) -> dict:
        m = self._map(nf_id, name)
        key = self._sized(m, key, "key", m.key_size)
        value = self._sized(m, value, "value", m.value_size)
        self._check(lib.onvm_bpf_map_update(m, key, value, 0), m, key)
        return {"set": True}

    def delete(self, nf_id: int, name: str, key: bytes) -> dict:
        m = self._map(nf_id, name)
        key = self._sized(m, key, "key", m.key_size)
        rc = lib.onvm_bpf_map_delete(m, key, 0)
        if rc == -errno.ENOENT and m.type in (1, 3):
            return {"deleted": False}
        self._check(rc, m, key)
        return {"deleted": True}

    def dump(self, nf_id: int, name: str, limit: int) -> dict:
        m = self._map(nf_id, name)
        cursor = ffi.new("uint32_t *", 0)
        key = ffi.new("uint8_t[]", max(m.key_size, 4))
        value = ffi.new("uint8_t[]", m.value_size)
        entries = []
        while len(entries) < limit and lib.onvm_bpf_map_next(m, cursor, key, value) == 1:
            entries.append([bytes(ffi.buffer(key, m.key_size)),
                            bytes(ffi.buffer(value, m.value_size))])
        return {"entries": entries, "complete": len(entries) < limit}

    def clear(self, nf_id: int, name: str) -> dict:
        lib.onvm_bpf_map_clear(self._map(nf_id, name))
        return {"cleared": True}

    def load(self, nf_id: int, path: str, section: str | None, interp: bool) -> dict:
        d = self._dir(nf_id)
        if len(path.encode()) >= 256 or len((section or "").encode()) >= 64:
            raise ControlError(BAD_ARGS, "bpf.load: the path takes at most 255 bytes and the "
                               "section 63")
        seq = lib.onvm_bpf_request_load(d, path.encode(), (section or "").encode(),
                                        1 if interp else 0)
        if seq < 0:
            raise ControlError(BUSY, f"NF {nf_id} is still loading another program: try again")
        deadline = time.monotonic() + LOAD_TIMEOUT
        while not lib.onvm_bpf_request_done(d, seq):
            if time.monotonic() > deadline or self.sh.nfs[nf_id].state != 2:
                raise ControlError(BUSY, f"NF {nf_id} did not answer the load within "
                                   f"{LOAD_TIMEOUT:.0f} s (is it running?)")
            time.sleep(0.001)
        message = _text(d.request.message)
        if d.request.result < 0:
            raise ControlError(BAD_ARGS, message)
        return {"message": message}

    def release(self, nf_id: int) -> int:
        """Free what NF `nf_id` (dead) left: its directory and maps."""
        return lib.onvm_bpf_dir_release(nf_id)
