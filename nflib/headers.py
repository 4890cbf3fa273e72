# SPDX-License-Identifier: BSD-3-Clause
"""Zero-copy views of protocol headers inside a packet's bytes.

A view exists only when its whole fixed header lies inside the packet, so
no field read or write ever leaves the packet. Setters write in place;
call Packet.fix_checksums() after rewriting addresses or ports.
"""

from __future__ import annotations

import ipaddress
import struct

IPv4Address = ipaddress.IPv4Address
IPv6Address = ipaddress.IPv6Address


def mac_to_str(raw: bytes) -> str:
    return ":".join(f"{b:02x}" for b in raw)


def mac_to_bytes(mac: str | bytes) -> bytes:
    if isinstance(mac, bytes | bytearray):
        if len(mac) != 6:
            raise ValueError(f"a MAC address has 6 bytes, not {len(mac)}")
        return bytes(mac)
    parts = mac.split(":")
    if len(parts) != 6:
        raise ValueError(f"'{mac}' is not a MAC address like 02:00:00:00:00:01")
    return bytes(int(p, 16) for p in parts)


def _ipv4_bytes(addr) -> bytes:
    return IPv4Address(addr).packed


def _ipv6_bytes(addr) -> bytes:
    return IPv6Address(addr).packed


class Header:
    """Base of the views: a writable buffer and the header's offset in it."""

    __slots__ = ("_buf", "_off")
    SIZE = 0

    def __init__(self, buf: memoryview, off: int) -> None:
        self._buf = buf
        self._off = off

    @classmethod
    def at(cls, buf: memoryview, off: int):
        """The view at `off`, or None if the header does not fit."""
        if (off <= 0 and cls is not Ether) or off + cls.SIZE > len(buf):
            return None
        return cls(buf, off)

    @property
    def offset(self) -> int:
        return self._off

    def _u8(self, at: int) -> int:
        return self._buf[self._off + at]

    def _set_u8(self, at: int, value: int) -> None:
        self._buf[self._off + at] = value

    def _u16(self, at: int) -> int:
        return struct.unpack_from("!H", self._buf, self._off + at)[0]

    def _set_u16(self, at: int, value: int) -> None:
        struct.pack_into("!H", self._buf, self._off + at, value)

    def _u32(self, at: int) -> int:
        return struct.unpack_from("!I", self._buf, self._off + at)[0]

    def _set_u32(self, at: int, value: int) -> None:
        struct.pack_into("!I", self._buf, self._off + at, value)

    def _bytes(self, at: int, n: int) -> bytes:
        return bytes(self._buf[self._off + at : self._off + at + n])

    def _set_bytes(self, at: int, value: bytes) -> None:
        self._buf[self._off + at : self._off + at + len(value)] = value


class Ether(Header):
    __slots__ = ()
    SIZE = 14

    dst = property(lambda s: mac_to_str(s._bytes(0, 6)),
                   lambda s, v: s._set_bytes(0, mac_to_bytes(v)))
    src = property(lambda s: mac_to_str(s._bytes(6, 6)),
                   lambda s, v: s._set_bytes(6, mac_to_bytes(v)))
    ethertype = property(lambda s: s._u16(12), lambda s, v: s._set_u16(12, v))

    def swap_macs(self) -> None:
        o, b = self._off, self._buf
        b[o : o + 12] = bytes(b[o + 6 : o + 12]) + bytes(b[o : o + 6])


class Vlan(Header):
    """An 802.1Q/802.1ad tag (its 4 bytes after the outer ethertype)."""

    __slots__ = ()
    SIZE = 4

    vid = property(lambda s: s._u16(0) & 0xFFF,
                   lambda s, v: s._set_u16(0, (s._u16(0) & 0xF000) | (v & 0xFFF)))
    pcp = property(lambda s: s._u16(0) >> 13,
                   lambda s, v: s._set_u16(0, (s._u16(0) & 0x1FFF) | ((v & 7) << 13)))
    ethertype = property(lambda s: s._u16(2), lambda s, v: s._set_u16(2, v))


class Arp(Header):
    """ARP for IPv4 over Ethernet."""

    __slots__ = ()
    SIZE = 28
    REQUEST = 1
    REPLY = 2

    op = property(lambda s: s._u16(6), lambda s, v: s._set_u16(6, v))
    sender_mac = property(lambda s: mac_to_str(s._bytes(8, 6)),
                          lambda s, v: s._set_bytes(8, mac_to_bytes(v)))
    sender_ip = property(lambda s: IPv4Address(s._bytes(14, 4)),
                         lambda s, v: s._set_bytes(14, _ipv4_bytes(v)))
    target_mac = property(lambda s: mac_to_str(s._bytes(18, 6)),
                          lambda s, v: s._set_bytes(18, mac_to_bytes(v)))
    target_ip = property(lambda s: IPv4Address(s._bytes(24, 4)),
                         lambda s, v: s._set_bytes(24, _ipv4_bytes(v)))

    @property
    def is_ipv4_over_ethernet(self) -> bool:
        return self._u16(0) == 1 and self._u16(2) == 0x0800 and self._u8(4) == 6 \
            and self._u8(5) == 4


class IPv4(Header):
    __slots__ = ()
    SIZE = 20

    version = property(lambda s: s._u8(0) >> 4)
    ihl = property(lambda s: (s._u8(0) & 0xF) * 4)
    tos = property(lambda s: s._u8(1), lambda s, v: s._set_u8(1, v))
    total_length = property(lambda s: s._u16(2), lambda s, v: s._set_u16(2, v))
    identification = property(lambda s: s._u16(4), lambda s, v: s._set_u16(4, v))
    fragment_offset = property(lambda s: s._u16(6) & 0x1FFF)
    more_fragments = property(lambda s: bool(s._u16(6) & 0x2000))
    ttl = property(lambda s: s._u8(8), lambda s, v: s._set_u8(8, v))
    proto = property(lambda s: s._u8(9), lambda s, v: s._set_u8(9, v))
    checksum = property(lambda s: s._u16(10), lambda s, v: s._set_u16(10, v))
    src = property(lambda s: IPv4Address(s._bytes(12, 4)),
                   lambda s, v: s._set_bytes(12, _ipv4_bytes(v)))
    dst = property(lambda s: IPv4Address(s._bytes(16, 4)),
                   lambda s, v: s._set_bytes(16, _ipv4_bytes(v)))


class IPv6(Header):
    __slots__ = ()
    SIZE = 40

    traffic_class = property(lambda s: (s._u32(0) >> 20) & 0xFF)
    flow_label = property(lambda s: s._u32(0) & 0xFFFFF)
    payload_length = property(lambda s: s._u16(4), lambda s, v: s._set_u16(4, v))
    next_header = property(lambda s: s._u8(6), lambda s, v: s._set_u8(6, v))
    hop_limit = property(lambda s: s._u8(7), lambda s, v: s._set_u8(7, v))
    src = property(lambda s: IPv6Address(s._bytes(8, 16)),
                   lambda s, v: s._set_bytes(8, _ipv6_bytes(v)))
    dst = property(lambda s: IPv6Address(s._bytes(24, 16)),
                   lambda s, v: s._set_bytes(24, _ipv6_bytes(v)))


class Ports(Header):
    """The two ports that start TCP, UDP and SCTP headers."""

    __slots__ = ()
    sport = property(lambda s: s._u16(0), lambda s, v: s._set_u16(0, v))
    dport = property(lambda s: s._u16(2), lambda s, v: s._set_u16(2, v))

    def swap_ports(self) -> None:
        sport, dport = self.sport, self.dport
        self.sport, self.dport = dport, sport


class TCP(Ports):
    __slots__ = ()
    SIZE = 20
    FIN, SYN, RST, PSH, ACK, URG = 0x01, 0x02, 0x04, 0x08, 0x10, 0x20

    seq = property(lambda s: s._u32(4), lambda s, v: s._set_u32(4, v))
    ack = property(lambda s: s._u32(8), lambda s, v: s._set_u32(8, v))
    data_offset = property(lambda s: (s._u8(12) >> 4) * 4)
    flags = property(lambda s: s._u8(13), lambda s, v: s._set_u8(13, v))
    window = property(lambda s: s._u16(14), lambda s, v: s._set_u16(14, v))
    checksum = property(lambda s: s._u16(16), lambda s, v: s._set_u16(16, v))

    def options(self) -> dict:
        """The options this segment carries, by name: mss, wscale (the
        shift), sack_permitted (True), sack (the blocks' (left, right)
        edges), timestamp ((TSval, TSecr)). Unknown kinds are skipped;
        malformed ones end the walk, as in onvm_tcp_options_parse()."""
        out: dict = {}
        end = min(len(self._buf), self._off + self.data_offset)
        at = self._off + self.SIZE
        while at < end:
            kind = self._buf[at]
            if kind == 0:
                break
            if kind == 1:
                at += 1
                continue
            if at + 1 >= end or self._buf[at + 1] < 2 or at + self._buf[at + 1] > end:
                break
            length = self._buf[at + 1]
            value = bytes(self._buf[at + 2:at + length])
            if kind == 2 and length == 4:
                out["mss"] = struct.unpack("!H", value)[0]
            elif kind == 3 and length == 3:
                out["wscale"] = value[0]
            elif kind == 4 and length == 2:
                out["sack_permitted"] = True
            elif kind == 5 and length >= 10:
                out["sack"] = [struct.unpack_from("!II", value, i)
                               for i in range(0, len(value) - 7, 8)]
            elif kind == 8 and length == 10:
                out["timestamp"] = struct.unpack("!II", value)
            at += length
        return out

    mss = property(lambda s: s.options().get("mss"))
    wscale = property(lambda s: s.options().get("wscale"))
    sack_permitted = property(lambda s: s.options().get("sack_permitted", False))
    tsval = property(lambda s: (s.options().get("timestamp") or (None, None))[0])
    tsecr = property(lambda s: (s.options().get("timestamp") or (None, None))[1])


class UDP(Ports):
    __slots__ = ()
    SIZE = 8

    length = property(lambda s: s._u16(4), lambda s, v: s._set_u16(4, v))
    checksum = property(lambda s: s._u16(6), lambda s, v: s._set_u16(6, v))


class ICMP(Header):
    """ICMP (v4) or ICMPv6: the common first four bytes, and echo id/seq."""

    __slots__ = ()
    SIZE = 4

    type = property(lambda s: s._u8(0), lambda s, v: s._set_u8(0, v))
    code = property(lambda s: s._u8(1), lambda s, v: s._set_u8(1, v))
    checksum = property(lambda s: s._u16(2), lambda s, v: s._set_u16(2, v))

    @property
    def echo_id(self) -> int | None:
        return self._u16(4) if self._off + 8 <= len(self._buf) else None

    @property
    def echo_seq(self) -> int | None:
        return self._u16(6) if self._off + 8 <= len(self._buf) else None
