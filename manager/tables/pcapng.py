# SPDX-License-Identifier: BSD-3-Clause
"""Write packets to a pcapng file: one section, one interface, nanosecond timestamps.

Written from the pcapng specification (draft-ietf-opsawg-pcapng): a Section Header
Block, one Interface Description Block, then one Enhanced Packet Block per packet.
Every block is `type, total length, body, total length` with the body padded to
32 bits, so a reader can walk the file forwards and backwards.
"""

from __future__ import annotations

import os
import struct
from types import TracebackType

# Block types.
SHB_TYPE = 0x0A0D0D0A
IDB_TYPE = 0x00000001
EPB_TYPE = 0x00000006

BYTE_ORDER_MAGIC = 0x1A2B3C4D
SECTION_LENGTH_UNKNOWN = -1

# Option codes.
OPT_ENDOFOPT = 0
OPT_COMMENT = 1
SHB_USERAPPL = 4
IF_NAME = 2
IF_TSRESOL = 9

TSRESOL_NANOSECONDS = 9  # 10^-9 s per timestamp unit
USER_APPLICATION = "onvm"

# Always little-endian: the byte-order magic tells readers, and every machine onvm
# runs on (x86-64, arm64) is little-endian, so this is also host order.
_U32 = struct.Struct("<I")
_OPTION_HEADER = struct.Struct("<HH")
_SHB_FIXED = struct.Struct("<IHHq")  # magic, major, minor, section length
_IDB_FIXED = struct.Struct("<HHI")  # linktype, reserved, snaplen
_EPB_FIXED = struct.Struct("<IIIII")  # interface, ts high, ts low, caplen, orig len


def _padding(length: int) -> bytes:
    return b"\0" * (-length % 4)


def _options(options: list[tuple[int, bytes]]) -> bytes:
    """Encode options, each padded to 32 bits, closed by opt_endofopt.

    With no options the field is left out entirely, as the spec allows."""
    if not options:
        return b""
    parts = []
    for code, value in options:
        parts += [_OPTION_HEADER.pack(code, len(value)), value, _padding(len(value))]
    parts.append(_OPTION_HEADER.pack(OPT_ENDOFOPT, 0))
    return b"".join(parts)


def _block(block_type: int, body: bytes) -> bytes:
    """Frame a 32-bit aligned body with its type and total length (at both ends)."""
    total = _U32.pack(4 + 4 + len(body) + 4)
    return _U32.pack(block_type) + total + body + total


class PcapngWriter:
    """Appends packets to a new pcapng file, as Enhanced Packet Blocks of interface 0.

    The file is always created new, for its owner only: an existing file is
    never truncated and a symbolic link never followed (FileExistsError, or
    OSError ELOOP), since the manager writes it as root.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        *,
        snaplen: int = 65535,
        linktype: int = 1,
        comment: str = "",
        interface_name: str = "",
    ) -> None:
        if not 0 <= snaplen <= 0xFFFFFFFF:
            raise ValueError(f"pcapng: snaplen {snaplen} is not a 32-bit unsigned value")
        if not 0 <= linktype <= 0xFFFF:
            raise ValueError(f"pcapng: linktype {linktype} is not a 16-bit unsigned value")
        self.snaplen = snaplen
        self._packets = 0
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                     0o600)
        self._file = os.fdopen(fd, "wb")
        try:
            self._file.write(self._section_header(comment))
            self._file.write(self._interface_description(linktype, snaplen, interface_name))
        except BaseException:
            self._file.close()
            raise

    @staticmethod
    def _section_header(comment: str) -> bytes:
        options = [(SHB_USERAPPL, USER_APPLICATION.encode())]
        if comment:
            options.insert(0, (OPT_COMMENT, comment.encode()))
        fixed = _SHB_FIXED.pack(BYTE_ORDER_MAGIC, 1, 0, SECTION_LENGTH_UNKNOWN)
        return _block(SHB_TYPE, fixed + _options(options))

    @staticmethod
    def _interface_description(linktype: int, snaplen: int, name: str) -> bytes:
        options = [(IF_TSRESOL, bytes([TSRESOL_NANOSECONDS]))]
        if name:
            options.insert(0, (IF_NAME, name.encode()))
        fixed = _IDB_FIXED.pack(linktype, 0, snaplen)
        return _block(IDB_TYPE, fixed + _options(options))

    @property
    def packets(self) -> int:
        """How many packets have been written."""
        return self._packets

    def write(
        self, data: bytes | memoryview, *, timestamp_ns: int, orig_len: int | None = None
    ) -> None:
        """Write one packet; it is cut to the snaplen, `orig_len` defaults to its length."""
        packet = memoryview(data).cast("B")
        if orig_len is None:
            orig_len = len(packet)
        if self.snaplen:  # 0 means no limit
            packet = packet[: self.snaplen]
        if orig_len < len(packet):
            raise ValueError(f"pcapng: orig_len {orig_len} is below the {len(packet)} bytes given")
        if not 0 <= timestamp_ns < 1 << 64:
            raise ValueError(f"pcapng: timestamp {timestamp_ns} ns is not a 64-bit unsigned value")
        fixed = _EPB_FIXED.pack(
            0, timestamp_ns >> 32, timestamp_ns & 0xFFFFFFFF, len(packet), orig_len
        )
        self._file.write(_block(EPB_TYPE, fixed + packet + _padding(len(packet))))
        self._packets += 1

    def flush(self) -> None:
        self._file.flush()

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> PcapngWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
