# SPDX-License-Identifier: BSD-3-Clause
"""flow_tracker (Python, vector API): packet and byte counters per flow,
flows forgotten after --idle-timeout seconds without packets, the top
flows printed every --interval seconds. Packets go on to the next hop.

Per batch, NumPy groups the packets by flow key; Python runs once per flow
in the batch, never once per packet.
"""

from __future__ import annotations

import ipaddress
import time
from dataclasses import dataclass

import numpy as np

from onvm import options
from onvm.nflib import NF, main

PROTO_NAMES = {1: "icmp", 6: "tcp", 17: "udp", 58: "icmpv6", 132: "sctp"}


@dataclass
class Flow:
    packets: int = 0
    bytes: int = 0
    last_seen: float = 0.0


def describe(key: bytes) -> str:
    """A flow key (struct onvm_flow_key) as text."""
    version, proto = key[37], key[36]
    sport, dport = int.from_bytes(key[32:34], "big"), int.from_bytes(key[34:36], "big")
    if version == 0:
        return f"non-IP ethertype 0x{sport:04x}"
    if version == 4:
        src, dst = ipaddress.IPv4Address(key[12:16]), ipaddress.IPv4Address(key[28:32])
    else:
        src, dst = ipaddress.IPv6Address(key[0:16]), ipaddress.IPv6Address(key[16:32])
    name = PROTO_NAMES.get(proto, str(proto))
    if proto in (6, 17, 132):
        return f"{name} {src}:{sport} -> {dst}:{dport}"
    return f"{name} {src} -> {dst}"


class FlowTable:
    def __init__(self, idle_timeout: float) -> None:
        self.idle_timeout = idle_timeout
        self.flows: dict[bytes, Flow] = {}
        self.expired = 0

    def update(self, keys: np.ndarray, lengths: np.ndarray, now: float) -> None:
        uniq, inverse = np.unique(keys, return_inverse=True)
        packets = np.bincount(inverse, minlength=len(uniq))
        octets = np.bincount(inverse, weights=lengths, minlength=len(uniq))
        for key, n, b in zip(uniq.tolist(), packets.tolist(), octets.tolist(), strict=True):
            flow = self.flows.get(key)
            if flow is None:
                flow = self.flows[key] = Flow()
            flow.packets += n
            flow.bytes += int(b)
            flow.last_seen = now

    def expire(self, now: float) -> None:
        idle = [k for k, f in self.flows.items() if now - f.last_seen > self.idle_timeout]
        for key in idle:
            del self.flows[key]
        self.expired += len(idle)

    def top(self, n: int) -> list[tuple[bytes, Flow]]:
        return sorted(self.flows.items(), key=lambda kv: kv[1].bytes, reverse=True)[:n]


def run() -> None:
    nf = NF(name="flow_tracker.py")
    parser = options.ArgumentParser(prog="flow_tracker.py")
    parser.add_argument("--idle-timeout", type=options.number_arg(0, 30 * 86400, " seconds"),
                        default=30.0, help="seconds without packets before a flow is forgotten")
    parser.add_argument("--interval", type=options.number_arg(0.01, 86400, " seconds"),
                        default=5.0, help="seconds between reports")
    parser.add_argument("--top", type=options.integer_arg(0, 10000), default=10,
                        help="flows per report")
    args = parser.parse_args(nf.args)
    table = FlowTable(args.idle_timeout)

    @nf.vector_handler
    def track(batch):
        table.update(batch.flow_keys, batch.length, time.monotonic())

    @nf.periodic(seconds=args.interval)
    def report():
        table.expire(time.monotonic())
        lines = [f"flow_tracker.py: {len(table.flows)} active flows, {table.expired} expired"]
        lines += [f"  {f.packets:>10} pkts {f.bytes:>12} bytes  {describe(k)}"
                  for k, f in table.top(args.top)]
        print("\n".join(lines), flush=True)

    print(f"flow_tracker.py: NF {nf.nf_id} serving service {nf.service}", flush=True)
    nf.run()
    report()


if __name__ == "__main__":
    raise SystemExit(main(run))
