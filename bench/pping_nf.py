# SPDX-License-Identifier: BSD-3-Clause
"""Scenario `pping`: Mpps per NF core of the pping NF beside the C
simple_forward, in the bpf scenario's loop (onvm.bench.bpf_nfs: a net_ring
port that feeds its TX back to its RX, LOOP_FRAMES frames going round, the
NF's time on them from its busy cycles and its run time).

Two traffics:
- TCP with timestamps: CONNECTIONS connections, both directions, each
  direction SEGMENTS segments of TSvals of their own, each echoing a TSval
  of the other direction. Round the loop a segment's TSval is never the one
  before it in its flow, nor its echo: every packet looks up its flow, looks
  for its TSval among the stamps (the first round stamped them all) and
  looks up the stamp its echo names (matched, so no sample). That is
  pping's most work per packet short of printing.
- the bpf scenario's mix (TCP without timestamps and UDP): parsed and
  passed on, nothing to time.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from onvm.bench import bpf_nfs, machine, report
from onvm.bench.traffic import write_pcap

NAME = "pping"
HELP = "the pping NF (passive RTT) beside C simple_forward, Mpps per NF core"

CONNECTIONS = 64
SEGMENTS = bpf_nfs.LOOP_FRAMES // CONNECTIONS // 2  # per direction
FIGURES = ("mpps_per_core", "ns_per_packet", "wall_mpps", "cpu_share", "busy_share",
           "others_cpu")


def tcp_timestamp_frames(size: int) -> list[bytes]:
    """LOOP_FRAMES TCP segments with timestamps, both directions of
    CONNECTIONS connections, interleaved."""
    from scapy.layers.inet import IP, TCP
    from scapy.layers.l2 import Ether
    from scapy.packet import Raw

    frames = []
    for seg in range(SEGMENTS):
        for conn in range(CONNECTIONS):
            client, server = f"10.1.{conn >> 8}.{conn & 0xff}", "10.2.0.1"
            for forward in (True, False):
                src, dst = (client, server) if forward else (server, client)
                sport, dport = (20000 + conn, 80) if forward else (80, 20000 + conn)
                base, echo = (1000, 500000) if forward else (500000, 1000)
                headers = (Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
                           / IP(src=src, dst=dst)
                           / TCP(sport=sport, dport=dport, flags="A",
                                 options=[("NOP", None), ("NOP", None),
                                          ("Timestamp", (base + seg, echo + seg))]))
                frames.append(bytes(headers / Raw(bytes(max(size - len(headers), 0)))))
    return frames


def cases() -> list[dict]:
    return [
        {"nf": "C simple_forward", "kind": "c", "start": ["simple_forward"], "traffic": "tcp",
         "does": "returns NEXT for the whole burst, touches no packet"},
        {"nf": "pping, TCP timestamps", "kind": "c", "start": ["pping"], "traffic": "tcp",
         "does": "parses each segment, looks up its flow, its TSval and its echo"},
        {"nf": "pping, no timestamps", "kind": "c", "start": ["pping"], "traffic": "mix",
         "does": "parses each packet: nothing to time"},
    ]


def add_args(parser) -> None:
    bpf_nfs.add_args(parser)


def run(args) -> dict:
    todo = cases()
    runs: list[list[dict]] = [[] for _ in todo]
    with tempfile.TemporaryDirectory(prefix="onvm-bench-") as tmp:
        workdir = Path(tmp)
        pcaps = {"tcp": write_pcap(workdir / "tcp.pcap", tcp_timestamp_frames(args.size)),
                 "mix": write_pcap(workdir / "mix.pcap", bpf_nfs.loop_frames(args.size))}
        for _ in range(args.repeat):
            for case, done in zip(todo, runs, strict=True):
                done.append(bpf_nfs.measure(workdir, pcaps[case["traffic"]], case,
                                            args.seconds))
    base = runs[0]
    results = [{"nf": case["nf"], "does": case["does"], "traffic": case["traffic"],
                **{k: report.spread([r[k] for r in done]) for k in FIGURES},
                "x_simple_forward": report.spread(
                    [r["mpps_per_core"] / b["mpps_per_core"]
                     for r, b in zip(done, base, strict=True)]),
                "drops": sum(r["drops"] for r in done)}
               for case, done in zip(todo, runs, strict=True)]
    return {
        "scenario": NAME,
        "machine": machine.describe(),
        "seconds": args.seconds, "repeat": args.repeat,
        "warmup_seconds": bpf_nfs.WARMUP_SECONDS,
        "layout": bpf_nfs.LAYOUT,
        "traffic": {
            "frames": bpf_nfs.LOOP_FRAMES, "size": args.size,
            "tcp": f"TCP with timestamps: {CONNECTIONS} connections x 2 directions x "
                   f"{SEGMENTS} segments, each its own TSval and echo",
            "mix": "the bpf scenario's frames: TCP (no timestamps) and UDP over IPv4",
        },
        "results": results,
    }


def headline(result: dict) -> list[tuple[str, float, bool]]:
    return [(f"{r['nf']}: Mpps per NF core", r["mpps_per_core"]["median"], False)
            for r in result["results"]]


def render(result: dict) -> str:
    rows = [[r["nf"], report.fmt(r["mpps_per_core"]), f"{r['ns_per_packet']['median']:.1f}",
             report.fmt(r["x_simple_forward"]), report.fmt(r["wall_mpps"]),
             f"{r['busy_share']['median']:.0%}", f"{r['cpu_share']['median']:.0%}",
             f"{r['others_cpu']['max']:.0%}"]
            for r in result["results"]]
    t, m = result["traffic"], result["machine"]
    lines = [
        f"pping: {result['repeat']} runs of {result['seconds']:g} s each; {m['cpus']} CPUs "
        f"({m['cpu_model']}), DPDK {m['dpdk']}",
        report.table(["NF", "Mpps/NF core", "ns/pkt", "x simple_forward", "loop Mpps",
                      "NF busy", "NF CPU", "others CPU"], rows),
        "(median (min-max) of the runs; Mpps/NF core: packets over the NF's time on them, "
        "the smaller of its busy cycles and the time it ran; see onvm-bench bpf)",
        "what each NF does: " + "; ".join(f"{r['nf']}: {r['does']}"
                                          for r in result["results"]),
        f"traffic: {t['frames']} frames of {t['size']} bytes; tcp: {t['tcp']}; mix: {t['mix']}",
        f"layout: {result['layout']['manager']}; {result['layout']['nf']}",
    ]
    drops = sum(r["drops"] for r in result["results"])
    if drops:
        lines.append(f"drops in the windows: {drops} (frames lost from the loop)")
    return "\n".join(lines)
