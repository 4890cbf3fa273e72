# SPDX-License-Identifier: BSD-3-Clause
"""Scenario `python`: Mpps per NF core of Python NFs beside the C
simple_forward, in the same run.

Each NF runs alone on its core (busy polling) behind a manager that replays
a pcap of 5-tuple traffic forever (net_pcap infinite_rx) through the chain
NF -> out; the wall-clock rate is reported beside the per-core figure.

Mpps per NF core is the packets the NF handled divided by the time it was
busy with them (nflib counts TSC cycles from dequeue to hand-back), so it
measures the NF's own cost even when the manager, not the NF, limits the
wall-clock rate; ns per packet is its inverse.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from onvm.bench import machine, report, traffic
from onvm.bench.procs import ManagerProc

FIREWALL_RULES = 100


def firewall_rules(path: Path, count: int = FIREWALL_RULES) -> Path:
    """`count` rules over IPv4 and IPv6 CIDRs, ports and protocols; the last
    one passes what the others did not decide."""
    lines = ['default = "drop"']
    protos = ["tcp", "udp", "any", 6, 17]
    for i in range(count - 1):
        action = "drop" if i % 3 == 0 else "pass"
        if i % 4 == 3:
            src, dst = f"2001:db8:{i % 7}::/{48 + i % 17}", "any"
        else:
            src = f"10.{i % 3}.{i}.0/{24 + i % 9}"
            dst = f"192.168.{i % 11}.0/24"
        proto = protos[i % len(protos)]
        proto = f'"{proto}"' if isinstance(proto, str) else proto
        lo = 1000 + 37 * i
        lines += ["[[rules]]", f'action = "{action}"', f"proto = {proto}", f'src = "{src}"',
                  f'dst = "{dst}"', f'src_port = "{lo}-{lo + 200}"', f"dst_port = {22 + i % 4}"]
    lines += ["[[rules]]", 'action = "pass"', 'proto = "any"']
    path.write_text("\n".join(lines) + "\n")
    return path


def measure(workdir: Path, pcap: Path, nf: str, nf_args: list[str], seconds: float) -> dict:
    """One run: manager + the NF; returns its rates."""
    mgr = ManagerProc(workdir, ["--port", f"net_pcap0,rx_pcap={pcap},infinite_rx=1",
                                "--chain", "1,out:0", "--wait-for-chain"], prefix="bench")
    try:
        mgr.wait_ready()
        proc = mgr.start_nf(nf, 1, "--busy-poll", *nf_args)
        time.sleep(1.0)  # warm-up
        snap0, cpu0, t0 = mgr.stats(), proc.cpu_seconds(), time.monotonic()
        time.sleep(seconds)
        snap1, cpu1, t1 = mgr.stats(), proc.cpu_seconds(), time.monotonic()
        before, after = mgr.nf_stats(snap0, proc), mgr.nf_stats(snap1, proc)
        handled = after["rx"] - before["rx"]
        busy = max(after["busy_cycles"] - before["busy_cycles"], 1) / snap1["tsc_hz"]
        batches = max(after["batches"] - before["batches"], 1)
        mgr.stop()
        return {"mpps_per_core": handled / busy / 1e6, "ns_per_packet": busy / handled * 1e9,
                "wall_mpps": handled / (t1 - t0) / 1e6, "busy_share": busy / (t1 - t0),
                "cpu_share": (cpu1 - cpu0) / (t1 - t0), "batch": handled / batches,
                "packets": handled}
    finally:
        mgr.cleanup()


def run(seconds: float, repeat: int, batch: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="onvm-bench-") as tmp:
        workdir = Path(tmp)
        pcap = traffic.write_pcap(workdir / "flows.pcap",
                                  traffic.five_tuple_packets(1024, flows=512))
        rules = firewall_rules(workdir / "rules.toml")
        cases = [
            ("C simple_forward", "simple_forward", [], "C burst handler"),
            ("Python simple_forward.py", "simple_forward.py", [], "per-packet"),
            ("Python basic_monitor.py", "basic_monitor.py", [], "vector, batch 256"),
            (f"Python firewall.py, {FIREWALL_RULES} rules", "firewall.py",
             ["--rules", str(rules), "--batch", str(batch)], f"vector, batch {batch}"),
        ]
        results = []
        for label, nf, args, api in cases:
            runs = [measure(workdir, pcap, nf, args, seconds) for _ in range(repeat)]
            results.append({
                "nf": label, "api": api,
                "mpps_per_core": report.spread([r["mpps_per_core"] for r in runs]),
                "ns_per_packet": report.spread([r["ns_per_packet"] for r in runs]),
                "wall_mpps": report.spread([r["wall_mpps"] for r in runs]),
                "busy_share": report.spread([r["busy_share"] for r in runs]),
                "batch": report.spread([r["batch"] for r in runs]),
            })
    c_rate = results[0]["mpps_per_core"]["median"]
    for r in results:
        r["ratio_to_c"] = r["mpps_per_core"]["median"] / c_rate if c_rate else 0.0
    return {
        "scenario": "python",
        "machine": machine.describe(),
        "layout": {"manager": "control CPU 0, one worker on CPU 1",
                   "nf": "busy polling, floating off the worker's CPU (CPU 0)",
                   "traffic": "net_pcap infinite_rx, 1024 packets of 64 bytes, 512 flows"},
        "seconds": seconds, "repeat": repeat, "results": results,
    }


def render(result: dict) -> str:
    rows = [[r["nf"], r["api"], report.fmt(r["mpps_per_core"]),
             report.fmt(r["ns_per_packet"], 0), report.fmt(r["wall_mpps"]),
             f"{r['busy_share']['median']:.0%}", f"{r['batch']['median']:.0f}",
             f"{r['ratio_to_c']:.2f}"] for r in result["results"]]
    head = (f"python NFs: {result['repeat']} runs of {result['seconds']} s; "
            f"{result['machine']['cpu_model']}, DPDK {result['machine']['dpdk']}")
    return head + "\n" + report.table(
        ["NF", "API", "Mpps/NF core", "ns/packet", "wall Mpps", "busy", "batch", "x C"],
        rows) + "\n(median (min-max) of the runs; busy: the NF's share of time on packets)"
