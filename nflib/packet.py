# SPDX-License-Identifier: BSD-3-Clause
"""Packet: a zero-copy view of one mbuf, with header views found lazily.

Headers are located once, in C, the first time one is asked for; a header
that is missing or truncated reads as None. Bytes are a writable
memoryview over the mbuf's data, bounded by its length.
"""

from __future__ import annotations

import struct

from onvm.nflib import headers
from onvm.pydpdk.nf import ffi, lib

ETH_P_ARP = 0x0806
IPPROTO_ICMP, IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMPV6 = 1, 6, 17, 58
# Fixed L4 header sizes for payload: ICMP counts its echo id and sequence.
L4_HEADER = {IPPROTO_TCP: 20, IPPROTO_UDP: 8, IPPROTO_ICMP: 8, IPPROTO_ICMPV6: 8}


class Packet:
    """One packet. In a handler it is valid only until the handler returns.

    A handler's Packet is bound to slot `_i` of the batch's mbuf array;
    moving to the next packet is one attribute store, and what is derived
    from the mbuf is recomputed only when asked for.
    """

    __slots__ = ("_pkts", "_i", "_seen", "_buf", "_lay")

    def __init__(self, mbuf=None) -> None:
        self._pkts = ffi.new("struct rte_mbuf *[1]", [mbuf]) if mbuf is not None else None
        self._i = 0
        self._seen = -1  # the slot _buf and _lay describe
        self._buf = None
        self._lay = None

    @property
    def _m(self):
        return self._pkts[self._i]

    def _fresh(self) -> None:
        if self._seen != self._i:
            self._seen = self._i
            self._buf = None
            self._lay = None

    def _bind_batch(self, pkts) -> None:
        self._pkts = pkts
        self._seen = -1

    def _unbind(self) -> None:
        self._pkts = None
        self._seen = -1
        self._buf = None
        self._lay = None

    # ---- the mbuf ----

    @property
    def length(self) -> int:
        return self._m.pkt_len

    @property
    def in_port(self) -> int:
        """The port the packet came in on."""
        return self._m.port

    @property
    def rx_ns(self) -> int:
        """When the manager took it from its port, in ns on the TSC clock
        (the same in every process of the machine); 0 if an NF made it."""
        return lib.onvm_pkt_rx_ns(self._m)

    @property
    def data(self) -> memoryview:
        """The packet's bytes, writable, zero-copy."""
        self._fresh()
        if self._buf is None:
            m = self._m
            self._buf = memoryview(ffi.buffer(lib.pydpdk_mbuf_data(m), m.data_len))
        return self._buf

    def __bytes__(self) -> bytes:
        return bytes(self.data)

    def __len__(self) -> int:
        return self._m.data_len

    @property
    def _layout(self):
        self._fresh()
        if self._lay is None:
            self._lay = ffi.new("struct onvm_pkt_layout *")
            lib.onvm_pkt_layout_parse(self._m, self._lay)
        return self._lay

    # ---- headers ----

    @property
    def eth(self) -> headers.Ether | None:
        return headers.Ether.at(self.data, 0)

    @property
    def vlan(self) -> headers.Vlan | None:
        """The outer VLAN tag, if any."""
        return headers.Vlan.at(self.data, 14) if self._layout.l2_len > 14 else None

    @property
    def ethertype(self) -> int:
        """The ethertype after any VLAN tags (0 if truncated)."""
        lay = self._layout
        return ((lay.ether_type & 0xFF) << 8) | (lay.ether_type >> 8)

    @property
    def arp(self) -> headers.Arp | None:
        if self.ethertype != ETH_P_ARP:
            return None
        return headers.Arp.at(self.data, self._layout.l2_len)

    @property
    def ipv4(self) -> headers.IPv4 | None:
        lay = self._layout
        return headers.IPv4.at(self.data, lay.l3) if lay.ip_version == 4 else None

    @property
    def ipv6(self) -> headers.IPv6 | None:
        lay = self._layout
        return headers.IPv6.at(self.data, lay.l3) if lay.ip_version == 6 else None

    @property
    def proto(self) -> int:
        """IP protocol (IPv6 next header); 0 for non-IP."""
        return self._layout.proto

    def _l4(self, proto: int, view):
        lay = self._layout
        if lay.proto != proto or lay.l4 == 0:
            return None
        return view.at(self.data, lay.l4)

    @property
    def tcp(self) -> headers.TCP | None:
        return self._l4(IPPROTO_TCP, headers.TCP)

    @property
    def udp(self) -> headers.UDP | None:
        return self._l4(IPPROTO_UDP, headers.UDP)

    @property
    def icmp(self) -> headers.ICMP | None:
        return self._l4(IPPROTO_ICMP, headers.ICMP) if self._layout.ip_version == 4 else None

    @property
    def icmp6(self) -> headers.ICMP | None:
        return self._l4(IPPROTO_ICMPV6, headers.ICMP) if self._layout.ip_version == 6 else None

    @property
    def payload(self) -> memoryview:
        """Bytes after the innermost header that fits whole, up to the end of
        the IP packet (Ethernet padding excluded); empty if there are none."""
        lay = self._layout
        data = self.data
        start, end = lay.l2_len, len(data)
        if lay.ip_version == 4:
            start = lay.l3 + max(20, (data[lay.l3] & 0xF) * 4)
            end = lay.l3 + struct.unpack_from("!H", data, lay.l3 + 2)[0]
        elif lay.ip_version == 6:
            start = lay.l3 + 40
            end = start + struct.unpack_from("!H", data, lay.l3 + 4)[0]
        elif self.ethertype == ETH_P_ARP and start + 28 <= len(data):
            start = end = start + 28
        if lay.l4:
            header = L4_HEADER.get(lay.proto, 0)
            if lay.proto == IPPROTO_TCP and lay.l4 + 20 <= len(data):
                header = max(20, (data[lay.l4 + 12] >> 4) * 4)
            if lay.l4 + header <= len(data):
                start = lay.l4 + header
        end = min(end, len(data))
        return data[min(start, end):end]

    # ---- rewriting ----

    def fix_checksums(self) -> bool:
        """Recompute IPv4, TCP, UDP, ICMP and ICMPv6 checksums after a rewrite.

        False when a length field points past the packet (nothing changed).
        """
        self._seen = -1
        return lib.onvm_pkt_fix_checksums(self._m) == 0

    def __repr__(self) -> str:
        return f"<Packet {len(self)} bytes ethertype 0x{self.ethertype:04x}>"


class HeldPacket(Packet):
    """A packet an NF keeps across batches (NF.hold()): valid until the NF
    hands it on (NF.release()) or frees it (NF.free())."""

    __slots__ = ()
