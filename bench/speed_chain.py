# SPDX-License-Identifier: BSD-3-Clause
"""Scenario `speed_tester`: the speed_tester loop rate against the chain
length, with no port involved. The baseline is speed_tester and one
forwarding NF; the self-loop, speed_tester sending to itself, is measured
too but reported apart: it is no chain.

    baseline (L = 2): speed_tester -> manager -> simple_forward 2 -> manager
                      -> speed_tester
    length L:         speed_tester -> manager -> simple_forward 2 -> manager
                      -> ... -> simple_forward L -> manager -> speed_tester
    self-loop:        speed_tester -> manager -> speed_tester

speed_tester (service 1) keeps a batch of packets looping; for L > 1 the
manager's default chain is `2,3,...,L,1`: speed_tester sends each packet to
service 2 at hop 0, every simple_forward answers NEXT (its packets' metadata
stays untouched) and the last hop brings it back. Every hop is a pass
through the manager's worker: NF tx ring, route, NF rx ring.

Two figures per length: the loop rate (packets per second arriving back at
speed_tester) and the hop rate (packets per second handled by all the NFs
together, which is the loop rate times L, measured from each NF's counter).
The hop rate is the data plane's throughput; the loop rate falls as 1/L
even on an ideal data plane. Hop rates are given as a ratio to the
baseline's.

Why the self-loop is not the baseline: with one NF on each side of the
worker it is a ping-pong between two processes, one of them speed_tester,
whose rate depends on where the batch of packets sits (see
docs/PERFORMANCE.md, "The self-loop"); a chain adds what every real chain
has, an NF that forwards.

With --cores (onvm.bench.layout) on a bigger machine: the manager runs on
the layout's control and worker CPUs, and the L NFs of a loop busy-poll a
CPU each of the layout's NF CPUs while there are enough (speed_tester
first); past that they share those CPUs in shared-core mode.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from onvm.bench import layout as layouts
from onvm.bench import machine, report, sched
from onvm.bench.procs import ManagerProc, Proc

NAME = "speed_tester"
HELP = ("speed_tester loop and hop Mpps against chain length 2..8 (baseline: speed_tester + "
        "1 forwarding NF), and the self-loop apart, plotted")

SPEED_TESTER_SERVICE = 1
SELF_LOOP = 1  # loop length of speed_tester sending to itself
BASELINE = 2  # speed_tester and one simple_forward
WARMUP_SECONDS = 1.0
LAYOUT = {
    "manager": "control thread on CPU 0, one data-plane worker on CPU 1 (busy polling)",
    "nfs": "every NF floats off the worker's CPU, so all share CPU 0 (with the manager's "
           "control thread), in shared-core mode: an idle NF sleeps and the worker wakes it. "
           "Context switches between NFs are part of every figure with more than one NF.",
}


NF_TO_NF = ("manager", "direct")


def chain_args(length: int, nf_to_nf: str = "manager") -> list[str]:
    """Manager arguments for a loop of `length` NFs, NF to NF by `nf_to_nf`
    (see [dataplane] nf_to_nf in configs/manager.toml)."""
    mode = ["--nf-to-nf", nf_to_nf]
    if length == 1:
        return mode
    hops = [str(s) for s in range(2, length + 1)] + [str(SPEED_TESTER_SERVICE)]
    return [*mode, "--chain", ",".join(hops)]


def add_nf_to_nf_arg(parser) -> None:
    parser.add_argument("--nf-to-nf", choices=NF_TO_NF, default="manager",
                        help="who hands packets from one NF to the next: the manager's "
                             "worker (default) or the NFs directly")


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
    cpus = sorted(os.sched_getaffinity(0))
    snap0 = mgr.stats()
    cpu0 = [p.cpu_seconds() for p in nfs]
    cs0 = [context_switches(p) for p in nfs]
    sched0 = sched.sample(mgr.pid, [p.pid for p in nfs], cpus)
    time.sleep(seconds)
    snap1 = mgr.stats()
    cpu1 = [p.cpu_seconds() for p in nfs]
    cs1 = [context_switches(p) for p in nfs]
    sched1 = sched.sample(mgr.pid, [p.pid for p in nfs], cpus)
    elapsed = snap1["time"] - snap0["time"]
    if elapsed <= 0:
        raise RuntimeError("the manager's stats did not advance")

    def delta(proc: Proc, key: str) -> int:
        return mgr.nf_stats(snap1, proc)[key] - mgr.nf_stats(snap0, proc)[key]

    handled = sum(delta(p, "rx") for p in nfs)
    nf_seconds = sum(cpu1) - sum(cpu0)
    return {
        "loop_mpps": delta(tester, "rx") / elapsed / 1e6,
        "hop_mpps": handled / elapsed / 1e6,
        "nf_cpu": nf_seconds / elapsed,
        # What a hop costs the NFs while they run: it rises when moving
        # cache lines between the two CPUs gets dearer (see docs/PERFORMANCE.md).
        "nf_ns_per_hop": nf_seconds / max(handled, 1) * 1e9,
        "switches_per_s": (sum(cs1) - sum(cs0)) / elapsed,
        "sleeps_per_s": sum(delta(p, "sleeps") for p in nfs) / elapsed,
        "batch": handled / max(sum(delta(p, "batches") for p in nfs), 1),
        "ring_drops": sum(delta(p, "ring_full_drop") for p in nfs),
        # The machine is shared: what others took of the run's CPUs.
        **sched.share(sched0, sched1, elapsed),
    }


def measure(workdir: Path, length: int, seconds: float, packets: int, size: int,
            nf_to_nf: str = "manager", layout: layouts.Layout | None = None) -> dict:
    """One run: a fresh manager, the loop, a warm-up, a measured window."""
    cores = ["--cores", layout.manager_cores] if layout else []
    mgr = ManagerProc(workdir, cores + chain_args(length, nf_to_nf), prefix="bench")
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
                        metavar="1..16",
                        help="longest loop, NFs with speed_tester (default 8); the baseline "
                             f"({BASELINE}) and the self-loop always run")
    parser.add_argument("--packets", type=int, default=1024,
                        help="packets speed_tester keeps looping (default 1024)")
    parser.add_argument("--size", type=int, default=64, help="frame size in bytes")
    add_nf_to_nf_arg(parser)
    layouts.add_arg(parser, testpmd=None, testpmd_alone=True,
                    roles_help="nfs: a CPU per NF of the loop while there are enough; no "
                               "testpmd")


FIGURES = ("loop_mpps", "hop_mpps", "nf_cpu", "nf_ns_per_hop", "switches_per_s",
           "sleeps_per_s", "batch", "others_cpu", "worker_wait")


def summarize(length: int, runs: list[dict]) -> dict:
    row = {"length": length, "forwarders": length - 1,
           "ring_drops": sum(r["ring_drops"] for r in runs)}
    row.update({key: report.spread([r[key] for r in runs]) for key in FIGURES})
    return row


def run(args) -> dict:
    measured = {}
    with tempfile.TemporaryDirectory(prefix="onvm-bench-") as tmp:
        for length in [SELF_LOOP, *range(BASELINE, max(args.max_length, BASELINE) + 1)]:
            measured[length] = [measure(Path(tmp), length, args.seconds, args.packets,
                                        args.size, args.nf_to_nf, args.cores)
                                for _ in range(args.repeat)]
    self_loop = summarize(SELF_LOOP, measured.pop(SELF_LOOP))
    rows = [summarize(length, runs) for length, runs in measured.items()]
    base = rows[0]["hop_mpps"]["median"]
    for row in [*rows, self_loop]:
        row["hop_vs_base"] = row["hop_mpps"]["median"] / base if base else 0.0
    return {
        "scenario": NAME,
        "machine": machine.describe(),
        "layout": {**describe(args.cores),
                   "traffic": f"speed_tester: {args.packets} packets of {args.size} bytes "
                              "looping (UDP, one flow per packet)"},
        "seconds": args.seconds, "repeat": args.repeat, "warmup_seconds": WARMUP_SECONDS,
        "nf_to_nf": args.nf_to_nf,
        "baseline_length": BASELINE,
        "lengths": rows,
        "self_loop": self_loop,
        "longest_vs_base_hop": rows[-1]["hop_vs_base"],
    }


def headline(result: dict) -> list[tuple[str, float, bool]]:
    base, last = result["lengths"][0], result["lengths"][-1]
    figures = [("baseline: speed_tester + 1 NF, hop Mpps", base["hop_mpps"]["median"], True)]
    if last is not base:
        figures.append((f"speed_tester + {last['forwarders']} NFs, hop Mpps",
                        last["hop_mpps"]["median"], True))
    figures.append(("self-loop (speed_tester to itself), hop Mpps",
                    result["self_loop"]["hop_mpps"]["median"], True))
    return figures


def _row(label: str, r: dict) -> list:
    return [label, r["length"], report.fmt(r["loop_mpps"]), report.fmt(r["hop_mpps"]),
            f"{r['hop_vs_base']:.2f}", f"{r['nf_cpu']['median']:.0%}",
            report.fmt(r["nf_ns_per_hop"], 1),
            f"{r['switches_per_s']['median']:.0f}", f"{r['batch']['median']:.1f}",
            r["ring_drops"], f"{r['others_cpu']['max']:.0%}"]


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
    rows = [_row("1 NF (baseline)" if i == 0 else f"{r['forwarders']} NFs", r)
            for i, r in enumerate(result["lengths"])]
    rows.append(_row("self-loop", result["self_loop"]))
    m = result["machine"]
    head = (f"speed_tester loop: {result['repeat']} runs of {result['seconds']} s per length; "
            f"{m['cpus']} CPUs ({m['cpu_model']}), DPDK {m['dpdk']}\n"
            f"layout: {result['layout']['manager']}; {result['layout']['nfs']}; "
            f"NF to NF: {result.get('nf_to_nf', 'manager')}")
    last = result["lengths"][-1]["forwarders"]
    return (head + "\n" + report.table(
        ["forwarders", "hops", "loop Mpps", "hop Mpps", "hop x base", "NF CPU", "NF ns/hop",
         "ctx sw/s",
         "batch", "drops", "others CPU"], rows)
        + "\n(median (min-max) of the runs; forwarders: simple_forward NFs between "
        "speed_tester's send and its receive; hops: passes through the manager per loop; "
        "hop Mpps = NF hops/s, loop Mpps x hops; base: speed_tester + 1 NF; self-loop: "
        "speed_tester sending to itself, no forwarder, not a chain;"
        f" {last}-NF hop rate = {result['longest_vs_base_hop']:.2f} x the baseline's;"
        " NF CPU: CPU time of all NFs per second; NF ns/hop: their CPU time per hop;"
        " others CPU: the most CPU time per second that processes outside the run took on"
        " its CPUs, in any of its runs. A slow run with others CPU high shared its CPUs; one"
        " with others CPU near 0 and NF ns/hop high ran while moving cache lines between"
        " the CPUs was dear (the host's placement of them): docs/PERFORMANCE.md, The"
        " self-loop)")


def plot(result: dict, path: Path) -> None:
    lengths = [r["length"] for r in result["lengths"]]
    loop = result["self_loop"]
    with report.plot_axes(result, "speed_tester loop",
                          f"median, min-max of {result['repeat']}", path) as ax:
        for key, label in (("hop_mpps", "hop Mpps (NF hops/s)"),
                           ("loop_mpps", "loop Mpps (back at speed_tester)")):
            figures = [r[key] for r in result["lengths"]]
            med = [f["median"] for f in figures]
            err = [[f["median"] - f["min"] for f in figures],
                   [f["max"] - f["median"] for f in figures]]
            ax.errorbar(lengths, med, yerr=err, marker="o", capsize=3, label=label)
        # Apart, unjoined: the self-loop is not a chain of length 1.
        hop = loop["hop_mpps"]
        ax.errorbar([loop["length"]], [hop["median"]],
                    yerr=[[hop["median"] - hop["min"]], [hop["max"] - hop["median"]]],
                    marker="s", linestyle="none", color="grey", capsize=3,
                    label="self-loop (speed_tester to itself, 1 hop)")
        ax.set_xlabel("loop length: hops per loop (NFs in the loop, speed_tester included)")
        ax.set_ylabel("Mpps")
        ax.set_xticks([loop["length"], *lengths])
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
        ax.legend()
