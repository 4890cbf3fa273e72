# SPDX-License-Identifier: BSD-3-Clause
"""Traffic with known round trips for pping: request/answer exchanges whose
answers come at given delays, as scapy packets stamped with their capture
times (pkt.time, whole microseconds), and the RTT samples pping must take
from them, read back from the pcap's own record times."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from scapy.layers.dns import DNS, DNSQR, DNSRR
from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.inet6 import ICMPv6EchoReply, ICMPv6EchoRequest, IPv6
from scapy.layers.l2 import Dot1Q, Ether
from scapy.utils import PcapNgWriter, PcapWriter

# Capture times: microseconds since the epoch (pcap's resolution).
START_US = 1_700_000_000_000_000
DELAYS_MS = (1.0, 7.5, 40.0, 250.0)
CLIENT_MAC, SERVER_MAC = "02:00:00:00:00:01", "02:00:00:00:00:02"


@dataclass(frozen=True)
class Sample:
    """An RTT pping must report: the flow as it prints it (the direction
    the identifier went), the protocol, when the echo came and the RTT."""

    flow: str
    proto: str
    echo_us: int
    rtt_us: int


class Capture:
    """Packets in capture order, each stamped, and the samples they give.
    With `limit_ms` (pping's --sample-limit), a flow's new identifier is
    timed only that long after the last one it timed."""

    def __init__(self, start_us: int = START_US, limit_ms: float = 0) -> None:
        self.now_us = start_us
        self.limit_us = round(limit_ms * 1000)
        self.packets: list = []
        self.samples: list[Sample] = []
        self.stamped = 0
        self.rate_limited = 0
        self._sent: dict[tuple, int] = {}  # (flow, proto, id) -> first sighting
        self._last_stamp: dict[str, int] = {}  # flow -> when it last timed one

    def wait(self, ms: float) -> None:
        self.now_us += round(ms * 1000)

    def add(self, pkt) -> None:
        pkt.time = Decimal(self.now_us) / Decimal(1_000_000)
        self.packets.append(pkt)

    def sent(self, flow: str, proto: str, ident: int) -> None:
        """A new identifier leaves in `flow`: timed, unless the flow timed
        one less than limit_ms ago."""
        last = self._last_stamp.get(flow)
        if last is not None and self.now_us - last < self.limit_us:
            self.rate_limited += 1
            return
        self._sent[(flow, proto, ident)] = self.now_us
        self._last_stamp[flow] = self.now_us
        self.stamped += 1

    def echoed(self, flow: str, proto: str, ident: int) -> None:
        """The answer to identifier `ident` of `flow` arrives now: a sample
        if it was timed."""
        sent = self._sent.pop((flow, proto, ident), None)
        if sent is not None:
            self.samples.append(Sample(flow, proto, self.now_us, self.now_us - sent))

    def write(self, path: Path, form: str = "pcap") -> Path:
        """As a pcap of microseconds ("pcap"), of nanoseconds ("pcap-ns"),
        or as pcapng ("pcapng")."""
        if form == "pcapng":
            writer = PcapNgWriter(str(path))
        else:
            writer = PcapWriter(str(path), nano=form == "pcap-ns")
        for pkt in self.packets:
            writer.write(pkt)
        writer.close()
        return path


def endpoint(addr: str, port: int) -> str:
    return f"[{addr}]:{port}" if ":" in addr else f"{addr}:{port}"


def _ip(src: str, dst: str):
    return IPv6(src=src, dst=dst) if ":" in src else IP(src=src, dst=dst)


def tcp_connection(cap: Capture, client: str, server: str, cport: int,
                   exchanges: list[tuple[float, float]], repeat_ms: float = 0.0) -> None:
    """A connection with TCP timestamps, watched next to the client: for each
    (delay, gap), the server's segment comes `delay` ms after the client's
    (an RTT of the client's flow) and the client's next one `gap` ms after
    that (an RTT of the server's flow: it echoes the server's TSval). With
    `repeat_ms`, each client segment is followed that much later by another
    with the same TSval: the echo is timed from the first."""
    c2s = f"{endpoint(client, cport)}+{endpoint(server, 80)}"
    s2c = f"{endpoint(server, 80)}+{endpoint(client, cport)}"
    to_server = Ether(src=CLIENT_MAC, dst=SERVER_MAC) / _ip(client, server)
    to_client = Ether(src=SERVER_MAC, dst=CLIENT_MAC) / _ip(server, client)
    tsval_c, tsval_s, seq_c, seq_s = 1000 + cport, 90000 + cport, 100, 5000
    cap.add(to_server / TCP(sport=cport, dport=80, flags="S", seq=seq_c,
                            options=[("MSS", 1460), ("Timestamp", (tsval_c, 0))]))
    cap.sent(c2s, "tcp", tsval_c)
    for i, (delay, gap) in enumerate(exchanges):
        cap.wait(delay)
        cap.add(to_client / TCP(sport=80, dport=cport, flags="SA" if i == 0 else "A",
                                seq=seq_s, ack=seq_c + 1,
                                options=[("Timestamp", (tsval_s, tsval_c))]))
        cap.echoed(c2s, "tcp", tsval_c)
        cap.sent(s2c, "tcp", tsval_s)
        cap.wait(gap)
        tsval_c += 7
        seq_c += 1
        data = TCP(sport=cport, dport=80, flags="PA", seq=seq_c, ack=seq_s + 1,
                   options=[("Timestamp", (tsval_c, tsval_s))]) / (b"x" * 20)
        cap.add(to_server / data)
        cap.echoed(s2c, "tcp", tsval_s)
        cap.sent(c2s, "tcp", tsval_c)
        if repeat_ms:
            cap.wait(repeat_ms)
            seq_c += 20
            cap.add(to_server / TCP(sport=cport, dport=80, flags="PA", seq=seq_c,
                                    ack=seq_s + 1,
                                    options=[("Timestamp", (tsval_c, tsval_s))]) / b"y")
            cap.wait(-repeat_ms)  # the delay counts from the first segment
        tsval_s += 3
        seq_s += 1
    # The server's last segment echoes the client's last TSval: one more.
    cap.wait(exchanges[-1][0])
    cap.add(to_client / TCP(sport=80, dport=cport, flags="FA", seq=seq_s, ack=seq_c + 1,
                            options=[("Timestamp", (tsval_s, tsval_c))]))
    cap.echoed(c2s, "tcp", tsval_c)
    cap.sent(s2c, "tcp", tsval_s)  # timed, never echoed
    # ...and the next echoes it again: no sample, that echo was matched.
    cap.wait(0.3)
    cap.add(to_client / TCP(sport=80, dport=cport, flags="A", seq=seq_s + 1, ack=seq_c + 1,
                            options=[("Timestamp", (tsval_s + 3, tsval_c))]))
    cap.sent(s2c, "tcp", tsval_s + 3)  # timed, never echoed


def pings(cap: Capture, client: str, server: str, ident: int, delays: list[float],
          vlan: int | None = None) -> None:
    """Echo requests and their replies `delay` ms later (tagged `vlan`);
    one reply comes twice (the second is no sample), one request is never
    answered."""
    v6 = ":" in client
    flow = f"{endpoint(client, ident)}+{endpoint(server, ident)}"
    request = ICMPv6EchoRequest if v6 else (lambda **kw: ICMP(type=8, **kw))
    reply = ICMPv6EchoReply if v6 else (lambda **kw: ICMP(type=0, **kw))
    tag = Dot1Q(vlan=vlan) if vlan is not None else None
    out = Ether(src=CLIENT_MAC, dst=SERVER_MAC) / (tag.copy() if tag else _ip(client, server))
    back = Ether(src=SERVER_MAC, dst=CLIENT_MAC) / (tag.copy() if tag else _ip(server, client))
    if tag:
        out, back = out / _ip(client, server), back / _ip(server, client)
    for seq, delay in enumerate(delays, start=1):
        cap.add(out / request(id=ident, seq=seq) / b"ping")
        cap.sent(flow, "icmp", seq)
        cap.wait(delay)
        cap.add(back / reply(id=ident, seq=seq) / b"ping")
        cap.echoed(flow, "icmp", seq)
        if seq == 2:
            cap.wait(0.2)
            cap.add(back / reply(id=ident, seq=seq) / b"ping")
        cap.wait(100)
    cap.add(out / request(id=ident, seq=len(delays) + 1) / b"lost")
    cap.sent(flow, "icmp", len(delays) + 1)
    cap.wait(100)


def dns_queries(cap: Capture, client: str, resolver: str, first_port: int,
                delays: list[float]) -> None:
    """A query from a port of its own per delay, answered that much later;
    then a response no query asked for."""
    out = Ether(src=CLIENT_MAC, dst=SERVER_MAC) / _ip(client, resolver)
    back = Ether(src=SERVER_MAC, dst=CLIENT_MAC) / _ip(resolver, client)
    for i, delay in enumerate(delays):
        port, qid = first_port + i, 0x4000 + i
        flow = f"{endpoint(client, port)}+{endpoint(resolver, 53)}"
        question = DNSQR(qname=f"host{i}.example.")
        cap.add(out / UDP(sport=port, dport=53) / DNS(id=qid, rd=1, qd=question))
        cap.sent(flow, "dns", qid)
        cap.wait(delay)
        cap.add(back / UDP(sport=53, dport=port) / DNS(
            id=qid, qr=1, qd=question, an=DNSRR(rrname=question.qname, rdata="192.0.2.7")))
        cap.echoed(flow, "dns", qid)
        cap.wait(50)
    cap.add(back / UDP(sport=53, dport=first_port) / DNS(id=0x7777, qr=1,
                                                         qd=DNSQR(qname="stray.")))
    cap.wait(10)


def pcap_records(path: Path) -> list[tuple[int, bytes]]:
    """(capture time in us, frame) of each record of a microsecond pcap."""
    data = Path(path).read_bytes()
    assert struct.unpack_from("<I", data)[0] == 0xA1B2C3D4, "a little-endian us pcap"
    off, out = 24, []
    while off + 16 <= len(data):
        sec, usec, caplen, _ = struct.unpack_from("<IIII", data, off)
        off += 16
        out.append((sec * 1_000_000 + usec, data[off:off + caplen]))
        off += caplen
    return out
