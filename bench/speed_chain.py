# SPDX-License-Identifier: BSD-3-Clause
"""Scenario `speed_tester`: the speed_tester loop rate against the chain
length, 1 to 8 NFs, with no port involved.

    length 1:  speed_tester -> manager -> speed_tester
    length L:  speed_tester -> manager -> simple_forward 2 -> manager -> ...
               -> simple_forward L -> manager -> speed_tester

speed_tester (service 1) keeps a batch of packets looping; for L > 1 the
manager's default chain is `2,3,...,L,1`: speed_tester sends each packet to
service 2 at hop 0, every simple_forward answers NEXT (its packets' metadata
stays untouched) and the last hop brings it back. Every hop is a pass
through the manager's worker: NF tx ring, route, NF rx ring.

Two figures per length: the loop rate (packets per second arriving back at
speed_tester) and the hop rate (packets per second handled by all the NFs
together, which is the loop rate times L, measured from each NF's counter).
The hop rate is the data plane's throughput; the loop rate falls as 1/L
even on an ideal data plane.

With --cores (onvm.bench.layout) on a bigger machine: the manager runs on
the layout's control and worker CPUs, and the L NFs of a loop busy-poll a
CPU each of the layout's NF CPUs while there are enough (speed_tester
first); past that they share those CPUs in shared-core mode.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from onvm.bench import layout as layouts
from onvm.bench import machine, report
from onvm.bench.procs import ManagerProc, Proc

NAME = "speed_tester"
HELP = "speed_tester loop and hop Mpps against chain length 1..8, plotted"

SPEED_TESTER_SERVICE = 1
WARMUP_SECONDS = 1.0
LAYOUT = {
    "manager": "control thread on CPU 0, one data-plane worker on CPU 1 (busy polling)",
    "nfs": "every NF floats off the worker's CPU, so all share CPU 0 (with the manager's "
           "control thread), in shared-core mode: an idle NF sleeps and the worker wakes it. "
           "Context switches between NFs are part of every figure with more than one NF.",
}


def chain_args(length: int) -> list[str]:
    """Manager arguments for a loop of `length` NFs."""
    if length == 1:
        return []
    hops = [str(s) for s in range(2, length + 1)] + [str(SPEED_TESTER_SERVICE)]
    return ["--chain", ",".join(hops)]


def start_loop(mgr: ManagerProc, length: int, speed_tester_args: list[str],
               placement: list[list[str]] | None = None) -> tuple[Proc, list[Proc]]:
    """The forwarders, then speed_tester; returns (speed_tester, forwarders).
    `placement`: onvm-nf options of each NF, speed_tester's first."""
    place = placement or [[] for _ in range(length)]
    forwarders = [mgr.start_nf("simple_forward", s, *place[s - 1])
                  for s in range(2, length + 1)]
    if length == 1:
        loop = ["--dest", str(SPEED_TESTER_SERVICE)]
    else:
        loop = ["--dest", "2", "--chain"]
    tester = mgr.start_nf("speed_tester", SPEED_TESTER_SERVICE, *place[0], "--", *loop,
                          *speed_tester_args)
    return tester, forwarders


def context_switches(proc: Proc) -> int:
    """Voluntary plus involuntary context switches of a process so far."""
    total = 0
    try:
        for line in Path(f"/proc/{proc.pid}/status").read_text().splitlines():
            if "ctxt_switches:" in line:
                total += int(line.split(":")[1])
    except FileNotFoundError:
        pass
    return total


def window(mgr: ManagerProc, tester: Proc, nfs: list[Proc], seconds: float) -> dict:
    """Rates over `seconds`, from the manager's counters and /proc."""
    snap0 = mgr.stats()
    cpu0 = [p.cpu_seconds() for p in nfs]
    cs0 = [context_switches(p) for p in nfs]
    time.sleep(seconds)
    snap1 = mgr.stats()
    cpu1 = [p.cpu_seconds() for p in nfs]
    cs1 = [context_switches(p) for p in nfs]
    elapsed = snap1["time"] - snap0["time"]
    if elapsed <= 0:
        raise RuntimeError("the manager's stats did not advance")

    def delta(proc: Proc, key: str) -> int:
        return mgr.nf_stats(snap1, proc)[key] - mgr.nf_stats(snap0, proc)[key]

    handled = sum(delta(p, "rx") for p in nfs)
    return {
        "loop_mpps": delta(tester, "rx") / elapsed / 1e6,
        "hop_mpps": handled / elapsed / 1e6,
        "nf_cpu": (sum(cpu1) - sum(cpu0)) / elapsed,
        "switches_per_s": (sum(cs1) - sum(cs0)) / elapsed,
        "sleeps_per_s": sum(delta(p, "sleeps") for p in nfs) / elapsed,
        "batch": handled / max(sum(delta(p, "batches") for p in nfs), 1),
        "ring_drops": sum(delta(p, "ring_full_drop") for p in nfs),
    }


def measure(workdir: Path, length: int, seconds: float, packets: int, size: int,
            layout: layouts.Layout | None = None) -> dict:
    """One run: a fresh manager, the loop, a warm-up, a measured window."""
    cores = ["--cores", layout.manager_cores] if layout else []
    mgr = ManagerProc(workdir, cores + chain_args(length), prefix="bench")
    try:
        mgr.wait_ready()
        tester, forwarders = start_loop(
            mgr, length, ["--packets", str(packets), "--size", str(size)],
            layout.nf_placement(length) if layout else None)
        mgr.wait_stats(lambda s: mgr.nf_stats(s, tester)["rx"] > 0, 10,
                       "packets back at speed_tester")
        time.sleep(WARMUP_SECONDS)
        result = window(mgr, tester, [tester, *forwarders], seconds)
        mgr.stop()
        return result
    finally:
        mgr.cleanup()


def add_args(parser) -> None:
    parser.add_argument("--seconds", type=float, default=2.5, help="measured seconds per run")
    parser.add_argument("--repeat", type=int, default=3, help="runs per chain length")
    parser.add_argument("--max-length", type=int, default=8, choices=range(1, 17),
                        metavar="1..16", help="longest chain (default 8)")
    parser.add_argument("--packets", type=int, default=1024,
                        help="packets speed_tester keeps looping (default 1024)")
    parser.add_argument("--size", type=int, default=64, help="frame size in bytes")
    layouts.add_arg(parser, testpmd=None, testpmd_alone=True,
                    roles_help="nfs: a CPU per NF of the loop while there are enough; no "
                               "testpmd")


FIGURES = ("loop_mpps", "hop_mpps", "nf_cpu", "switches_per_s", "sleeps_per_s", "batch")


def run(args) -> dict:
    rows = []
    with tempfile.TemporaryDirectory(prefix="onvm-bench-") as tmp:
        for length in range(1, args.max_length + 1):
            runs = [measure(Path(tmp), length, args.seconds, args.packets, args.size,
                            args.cores)
                    for _ in range(args.repeat)]
            row = {"length": length,
                   "ring_drops": sum(r["ring_drops"] for r in runs)}
            row.update({key: report.spread([r[key] for r in runs]) for key in FIGURES})
            rows.append(row)
    one = rows[0]["hop_mpps"]["median"]
    for row in rows:
        row["hop_vs_1"] = row["hop_mpps"]["median"] / one if one else 0.0
    return {
        "scenario": NAME,
        "machine": machine.describe(),
        "layout": {**describe(args.cores),
                   "traffic": f"speed_tester: {args.packets} packets of {args.size} bytes "
                              "looping (UDP, one flow per packet)"},
        "seconds": args.seconds, "repeat": args.repeat, "warmup_seconds": WARMUP_SECONDS,
        "lengths": rows,
        "longest_vs_1_hop": rows[-1]["hop_vs_1"],
    }


def describe(layout: layouts.Layout | None) -> dict:
    if layout is None:
        return dict(LAYOUT)
    if layout.nfs:
        nfs = (f"NFs on CPU(s) {','.join(map(str, layout.nfs))}: one each, busy-polling, "
               f"for loops of up to {len(layout.nfs)} NFs; longer loops share them in "
               "shared-core mode")
    else:
        nfs = "NFs float in shared-core mode off the workers' CPUs"
    return {"manager": f"control thread on CPU {layout.control}, {len(layout.workers)} "
                       f"data-plane worker(s) on CPU(s) {','.join(map(str, layout.workers))} "
                       "(busy polling)",
            "nfs": nfs, "cores": layout.describe()}


def render(result: dict) -> str:
    rows = [[r["length"], report.fmt(r["loop_mpps"]), report.fmt(r["hop_mpps"]),
             f"{r['hop_vs_1']:.2f}", f"{r['nf_cpu']['median']:.0%}",
             f"{r['switches_per_s']['median']:.0f}", f"{r['batch']['median']:.1f}",
             r["ring_drops"]] for r in result["lengths"]]
    m = result["machine"]
    head = (f"speed_tester loop: {result['repeat']} runs of {result['seconds']} s per length; "
            f"{m['cpus']} CPUs ({m['cpu_model']}), DPDK {m['dpdk']}\n"
            f"layout: {result['layout']['manager']}; {result['layout']['nfs']}")
    last = result["lengths"][-1]["length"]
    return (head + "\n" + report.table(
        ["NFs", "loop Mpps", "hop Mpps", "hop x 1", "NF CPU", "ctx sw/s", "batch", "drops"],
        rows) + f"\n(median (min-max) of the runs; hop Mpps = NF hops/s, loop Mpps x NFs;"
        f" {last}-NF hop rate = {result['longest_vs_1_hop']:.2f} x the 1-NF one;"
        " NF CPU: CPU time of all NFs per second)")


def plot(result: dict, path: Path) -> None:
    lengths = [r["length"] for r in result["lengths"]]
    with report.plot_axes(result, "speed_tester loop",
                          f"median, min-max of {result['repeat']}", path) as ax:
        for key, label in (("hop_mpps", "hop Mpps (NF hops/s)"),
                           ("loop_mpps", "loop Mpps (back at speed_tester)")):
            figures = [r[key] for r in result["lengths"]]
            med = [f["median"] for f in figures]
            err = [[f["median"] - f["min"] for f in figures],
                   [f["max"] - f["median"] for f in figures]]
            ax.errorbar(lengths, med, yerr=err, marker="o", capsize=3, label=label)
        ax.set_xlabel("chain length (NFs in the loop, speed_tester included)")
        ax.set_ylabel("Mpps")
        ax.set_xticks(lengths)
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
        ax.legend()
