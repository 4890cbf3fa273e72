# SPDX-License-Identifier: BSD-3-Clause
"""eBPF NFs from Python: load a program into a running bpf NF, and read and
fill its maps while traffic flows.

    from onvm.manager.client import Client

    with Client("onvm") as c:
        nf = c.bpf(3)                        # bpf NF 3 (onvm-nf bpf ...)
        ports = nf.map("ports")
        ports["mac:02:00:00:00:00:02"] = "u16:1"
        print(ports.get("mac:02:00:00:00:00:02", as_type="u16"))
        nf.load("switch_v2.o")               # replaced between two bursts

Keys and values are bytes, ints (little-endian, as the program's C sees
them) or text: hex ("0x0a000001", "hex:0a000001", "0a:00:00:01",
"02-00-00-00-00-01") or typed fields joined by commas, each TYPE:VALUE:
u8 u16 u32 u64 (little-endian), be16 be32 be64 (network order), mac, ip4,
ip6, hex, pad:N (N zero bytes). A bare decimal number is an integer. What
is shorter than the map's key or value is padded with zero bytes (C
structs end in padding); what is longer is refused.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Iterator
from typing import Any, Protocol

_INT_TYPES = {"u8": (1, "little"), "u16": (2, "little"), "u32": (4, "little"),
              "u64": (8, "little"), "be16": (2, "big"), "be32": (4, "big"),
              "be64": (8, "big")}
FIELD_TYPES = (*_INT_TYPES, "mac", "ip4", "ip6", "hex", "pad")
# Not dots: 10.10.10.10 would be read as the bytes 0x10 0x10 0x10 0x10.
_HEX_SEPARATED = re.compile(r"[0-9a-fA-F]{2}([:\-][0-9a-fA-F]{2})+")
_DOTTED_QUAD = re.compile(r"\d{1,3}(\.\d{1,3}){3}")
_HEX_PLAIN = re.compile(r"(?:[0-9a-fA-F]{2})+")
_MAC = re.compile(r"[0-9a-fA-F]{2}([:\-][0-9a-fA-F]{2}){5}")
MAP_TYPES = {1: "hash", 2: "array", 3: "percpu_hash", 4: "percpu_array"}
VERDICTS = ("drop", "pass", "tx", "redirect", "aborted")


class Caller(Protocol):
    def call(self, cmd: str, **args: Any) -> Any: ...


def _hex(text: str) -> bytes:
    digits = re.sub(r"[:\-. ]", "", text)
    if not digits or len(digits) % 2 or not _HEX_PLAIN.fullmatch(digits):
        raise ValueError(f"'{text[:80]}' is not hex bytes (pairs of hex digits)")
    return bytes.fromhex(digits)


def _integer(text: str, size: int, order: str, what: str) -> bytes:
    try:
        value = int(text, 0)
    except ValueError:
        raise ValueError(f"{what} '{text[:80]}' is not an integer") from None
    if value < 0 or value >= 1 << (8 * size):
        raise ValueError(f"{what} {text[:80]} does not fit in {size} byte(s) "
                         f"(0 to {(1 << (8 * size)) - 1})")
    return value.to_bytes(size, order)


def _field(kind: str, value: str) -> bytes:
    if kind in _INT_TYPES:
        size, order = _INT_TYPES[kind]
        return _integer(value, size, order, kind)
    if kind == "mac":
        if not _MAC.fullmatch(value):
            raise ValueError(f"mac '{value[:80]}' is not six hex bytes (02:00:00:00:00:01)")
        return _hex(value)
    if kind in ("ip4", "ip6"):
        try:
            addr = (ipaddress.IPv4Address if kind == "ip4" else ipaddress.IPv6Address)(value)
        except ValueError:
            raise ValueError(f"{kind} '{value[:80]}' is not an IPv{kind[2]} address") from None
        return addr.packed
    if kind == "hex":
        return _hex(value)
    if kind == "pad":
        count = _integer(value, 2, "little", "pad")
        return bytes(int.from_bytes(count, "little"))
    raise ValueError(f"unknown field type '{kind[:40]}': the types are {', '.join(FIELD_TYPES)}")


def encode(value: bytes | int | str, size: int, what: str = "value") -> bytes:
    """`value` as exactly `size` bytes (see the module's help), or
    ValueError saying what is wrong."""
    if isinstance(value, bool):
        raise ValueError(f"{what} must be bytes, an int or text, not a bool")
    if isinstance(value, bytes | bytearray):
        data = bytes(value)
    elif isinstance(value, int):
        data = _integer(str(value), size, "little", what)
    elif isinstance(value, str):
        data = _text(value.strip(), size, what)
    else:
        raise ValueError(f"{what} must be bytes, an int or text, not {type(value).__name__}")
    if len(data) > size:
        raise ValueError(f"{what} is {len(data)} bytes; the map takes {size}")
    return data + bytes(size - len(data))


def _text(text: str, size: int, what: str) -> bytes:
    if not text:
        raise ValueError(f"{what} is empty: give hex (0x0a000001) or typed fields (u16:80)")
    if text.isdigit():
        return _integer(text, size, "little", what)
    if text.lower().startswith("0x"):
        return _hex(text[2:])
    if _HEX_SEPARATED.fullmatch(text):
        return _hex(text)
    parts = []
    for item in text.split(","):
        kind, sep, rest = item.strip().partition(":")
        if not sep:
            kind, sep, rest = item.strip().partition("=")
        if not sep:
            if _HEX_PLAIN.fullmatch(item.strip()):
                parts.append(_hex(item.strip()))
                continue
            if _DOTTED_QUAD.fullmatch(item.strip()):
                raise ValueError(f"{what} '{item.strip()}' looks like an IPv4 address: "
                                 f"write ip4:{item.strip()}")
            raise ValueError(f"{what} '{item.strip()[:80]}' is neither hex nor TYPE:VALUE "
                             f"(types: {', '.join(FIELD_TYPES)})")
        parts.append(_field(kind.strip().lower(), rest.strip()))
    return b"".join(parts)


def decode(data: bytes, types: str | None = None) -> str:
    """`data` as hex, or as the typed fields `types` names ("mac,u16";
    "pad:2" skips two bytes): "mac:02:00:00:00:00:01,u16:7"."""
    if not types:
        return data.hex()
    out, at = [], 0
    for kind in (t.strip().lower() for t in types.split(",")):
        kind, _, count = kind.partition(":")
        if kind in _INT_TYPES:
            size, order = _INT_TYPES[kind]
            piece = data[at:at + size]
            out.append(f"{kind}:{int.from_bytes(piece, order)}")
        elif kind == "mac":
            size = 6
            out.append("mac:" + ":".join(f"{b:02x}" for b in data[at:at + 6]))
        elif kind == "ip4":
            size = 4
            out.append(f"ip4:{ipaddress.IPv4Address(data[at:at + 4].ljust(4, bytes(1)))}")
        elif kind == "ip6":
            size = 16
            out.append(f"ip6:{ipaddress.IPv6Address(data[at:at + 16].ljust(16, bytes(1)))}")
        elif kind == "pad":
            size = int(count) if count.isdigit() else 1
        elif kind == "hex":
            size = int(count) if count.isdigit() else len(data) - at
            out.append(f"hex:{data[at:at + size].hex()}")
        else:
            raise ValueError(f"unknown field type '{kind[:40]}': the types are "
                             f"{', '.join(FIELD_TYPES)}")
        at += size
    if at < len(data):
        out.append(f"hex:{data[at:].hex()}")
    return ",".join(out)


class BpfMap:
    """One map of a bpf NF, read and written through the manager."""

    def __init__(self, nf: BpfNF, desc: dict) -> None:
        self.nf = nf
        self.name = desc["name"]
        self.type = desc["type"]
        self.key_size = desc["key_size"]
        self.value_size = desc["value_size"]
        self.max_entries = desc["max_entries"]

    def _args(self, key) -> dict:
        return {"nf": self.nf.nf_id, "map": self.name,
                "key": encode(key, self.key_size, "key")}

    def get(self, key, default: Any = None, as_type: str | None = None) -> Any:
        """The value of `key` (bytes; decoded when `as_type` names fields),
        or `default`."""
        reply = self.nf.client.call("bpf.map.get", **self._args(key))
        if reply["value"] is None:
            return default
        value = reply["value"]
        return decode(value, as_type) if as_type else value

    def __getitem__(self, key) -> bytes:
        value = self.get(key)
        if value is None:
            raise KeyError(key)
        return value

    def set(self, key, value) -> None:
        self.nf.client.call("bpf.map.set", **self._args(key),
                            value=encode(value, self.value_size))

    __setitem__ = set

    def delete(self, key) -> bool:
        """Delete `key`; False if it was not there."""
        return self.nf.client.call("bpf.map.delete", **self._args(key))["deleted"]

    def __delitem__(self, key) -> None:
        if not self.delete(key):
            raise KeyError(key)

    def items(self, limit: int = 1 << 20) -> list[tuple[bytes, bytes]]:
        reply = self.nf.client.call("bpf.map.dump", nf=self.nf.nf_id, map=self.name, limit=limit)
        return [(k, v) for k, v in reply["entries"]]

    def __iter__(self) -> Iterator[bytes]:
        return iter([k for k, _ in self.items()])

    def __len__(self) -> int:
        return self.nf.map_info(self.name)["entries"]

    def clear(self) -> None:
        self.nf.client.call("bpf.map.clear", nf=self.nf.nf_id, map=self.name)


class BpfNF:
    """A running bpf NF, through a manager client (Client.bpf(nf_id))."""

    def __init__(self, client: Caller, nf_id: int) -> None:
        self.client = client
        self.nf_id = nf_id

    def info(self) -> dict:
        """The program in force, its verdict counters and its maps."""
        return self.client.call("bpf.info", nf=self.nf_id)

    def maps(self) -> list[dict]:
        return self.client.call("bpf.map.list", nf=self.nf_id)

    def map_info(self, name: str) -> dict:
        for desc in self.maps():
            if desc["name"] == name:
                return desc
        raise KeyError(name)

    def map(self, name: str) -> BpfMap:
        """Map `name`; KeyError if the program has none of that name."""
        return BpfMap(self, self.map_info(name))

    def load(self, path: str | os.PathLike, section: str | None = None,
             interp: bool = False) -> str:
        """Have the NF load the program at `path` (on the manager's host)
        and switch to it between two bursts; returns the NF's one line."""
        reply = self.client.call("bpf.load", nf=self.nf_id, path=os.path.abspath(path),
                                 section=section, interp=interp)
        return reply["message"]
