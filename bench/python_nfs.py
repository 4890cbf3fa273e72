# SPDX-License-Identifier: BSD-3-Clause
"""Scenario `python`: Mpps per NF core of Python NFs beside the C
simple_forward, in the same run.

The NF under test serves hop 0 of the default chain `1,2`; speed_tester
serves hop 1 and keeps 8192 packets looping through it (`--chain`), so the
NF always finds a full batch waiting: what is measured is the NF's own
capacity, not the rate a port can feed it. Mpps per NF core is the packets
the NF handled divided by the CPU time it used (user + system, from /proc),
which stays right when it shares its CPU with speed_tester; ns/packet is
its inverse. The loop rate (wall Mpps) is reported beside it.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from onvm.bench import machine, report
from onvm.bench.procs import ManagerProc
from onvm.nflib.nf import VECTOR_BATCH

FIREWALL_RULES = 100


def firewall_rules(path: Path, count: int = FIREWALL_RULES) -> Path:
    """`count` rules over IPv4 and IPv6 CIDRs, ports and protocols; the last
    one passes what the others did not decide (speed_tester's packets reach
    it, so each is checked against every rule's fields)."""
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


def measure(workdir: Path, nf: str, nf_args: list[str], seconds: float) -> dict:
    """One run: manager, the NF on hop 0, speed_tester looping packets."""
    mgr = ManagerProc(workdir, ["--chain", "1,2"], prefix="bench")
    try:
        mgr.wait_ready()
        proc = mgr.start_nf(nf, 1, *nf_args)
        mgr.start_nf("speed_tester", 2, "--", "--dest", "1", "--chain", "--packets", "8192")
        time.sleep(1.0)  # warm-up
        snap0, cpu0, t0 = mgr.stats(), proc.cpu_seconds(), time.monotonic()
        time.sleep(seconds)
        snap1, cpu1, t1 = mgr.stats(), proc.cpu_seconds(), time.monotonic()
        before, after = mgr.nf_stats(snap0, proc), mgr.nf_stats(snap1, proc)
        handled = max(after["rx"] - before["rx"], 1)
        cpu = max(cpu1 - cpu0, 1e-9)
        batches = max(after["batches"] - before["batches"], 1)
        mgr.stop()
        return {"mpps_per_core": handled / cpu / 1e6, "ns_per_packet": cpu / handled * 1e9,
                "wall_mpps": handled / (t1 - t0) / 1e6, "cpu_share": cpu / (t1 - t0),
                "batch": handled / batches, "packets": handled}
    finally:
        mgr.cleanup()


NAME = "python"
HELP = "Python NFs (per-packet and vector) beside C, Mpps per NF core"


def add_args(parser) -> None:
    parser.add_argument("--seconds", type=float, default=5.0, help="measured seconds per run")
    parser.add_argument("--repeat", type=int, default=3, help="runs per NF")
    parser.add_argument("--batch", type=int, default=512, help="firewall vector batch size")


def run(args) -> dict:
    return measure_all(args.seconds, args.repeat, args.batch)


def measure_all(seconds: float, repeat: int, batch: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="onvm-bench-") as tmp:
        workdir = Path(tmp)
        rules = firewall_rules(workdir / "rules.toml")
        cases = [
            ("C simple_forward", "simple_forward", [], "C verdict handler"),
            ("Python simple_forward.py", "simple_forward.py", [], "per-packet"),
            ("Python basic_monitor.py", "basic_monitor.py", [], f"vector, batch {VECTOR_BATCH}"),
            (f"Python firewall.py, {FIREWALL_RULES} rules", "firewall.py",
             ["--rules", str(rules), "--batch", str(batch)], f"vector, batch {batch}"),
        ]
        results = []
        for label, nf, args, api in cases:
            runs = [measure(workdir, nf, args, seconds) for _ in range(repeat)]
            results.append({
                "nf": label, "api": api,
                "mpps_per_core": report.spread([r["mpps_per_core"] for r in runs]),
                "ns_per_packet": report.spread([r["ns_per_packet"] for r in runs]),
                "wall_mpps": report.spread([r["wall_mpps"] for r in runs]),
                "cpu_share": report.spread([r["cpu_share"] for r in runs]),
                "batch": report.spread([r["batch"] for r in runs]),
            })
    c_rate = results[0]["mpps_per_core"]["median"]
    for r in results:
        r["ratio_to_c"] = r["mpps_per_core"]["median"] / c_rate if c_rate else 0.0
    return {
        "scenario": "python",
        "machine": machine.describe(),
        "layout": {"manager": "control CPU 0, one worker on CPU 1",
                   "nf": "shared-core, floating off the worker's CPU (CPU 0), with speed_tester",
                   "traffic": "speed_tester: 8192 packets of 64 bytes (UDP, 8192 flows) "
                              "looping through the chain 1,2"},
        "seconds": seconds, "repeat": repeat, "results": results,
    }


def headline(result: dict) -> list[tuple[str, float, bool]]:
    """Each NF's packets per second of its own CPU time: a per-core rate,
    like testpmd io's."""
    return [(f"{r['nf']}: Mpps per NF core", r["mpps_per_core"]["median"], False)
            for r in result["results"]]


def render(result: dict) -> str:
    rows = [[r["nf"], r["api"], report.fmt(r["mpps_per_core"]),
             report.fmt(r["ns_per_packet"], 0), report.fmt(r["wall_mpps"]),
             f"{r['cpu_share']['median']:.0%}", f"{r['batch']['median']:.0f}",
             f"{r['ratio_to_c']:.2f}"] for r in result["results"]]
    head = (f"python NFs: {result['repeat']} runs of {result['seconds']} s; "
            f"{result['machine']['cpu_model']}, DPDK {result['machine']['dpdk']}")
    return head + "\n" + report.table(
        ["NF", "API", "Mpps/NF core", "ns/packet", "loop Mpps", "NF CPU", "batch", "x C"],
        rows) + "\n(median (min-max) of the runs; NF CPU: the NF's CPU time per second)"
