# SPDX-License-Identifier: BSD-3-Clause
"""Scenario `null`: the manager's cost per packet against testpmd's, with
no traffic generator in the way. net_null RX makes a packet every time it
is polled and net_null TX frees what it is given, so each side runs as
fast as its own forwarding allows:

    onvm:     net_null0 -> manager -> simple_forward (C) -> manager -> net_null1
    testpmd:  net_null0 -> testpmd io -> net_null1

Port 1 is `no-rx` on both sides: it only sinks. The figure is the TX rate
of port 1, from the manager's counters and from testpmd's port stats, on
the same two CPUs, in the same run.

With --cores (onvm.bench.layout) on a bigger machine: the manager's workers
poll one RSS queue of net_null0 each; the NF CPUs run a chain of as many
simple_forwards, one busy-polling each CPU (net_null's frames carry no
flows to spread over instances of one service); testpmd's first CPU runs
its main lcore and each further one a forwarding lcore on a queue pair of
its own. The two sides run in turn, so testpmd's CPUs may be the manager's.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from onvm.bench import layout as layouts
from onvm.bench import machine, report
from onvm.bench.procs import ManagerProc
from onvm.bench.testpmd_proc import TestpmdProc, find_testpmd, one_line, require_cpus

NAME = "null"
HELP = "the manager and one C NF between net_null ports, against testpmd io (Mpps, ratio)"

PORTS = ["net_null0", "net_null1,no-rx=1"]
WARMUP_SECONDS = 1
MANAGER_CORES = "0,1"  # control thread on CPU 0, one data-plane worker on CPU 1
TESTPMD_MAIN_CPU, TESTPMD_FWD_CPU = 0, 1


def add_args(parser) -> None:
    parser.add_argument("--seconds", type=int, default=5,
                        help="measured seconds per run (whole: testpmd reports each second)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each side")
    layouts.add_arg(parser, testpmd=(2, 9), testpmd_alone=True,
                    roles_help="workers poll an RSS queue of net_null0 each, nfs: a chain of "
                               "simple_forwards, one per CPU, testpmd: its main lcore, then a "
                               "forwarding lcore per CPU")


def chain(nfs: int) -> str:
    """Services 1..nfs, then out of port 1."""
    return ",".join(str(s) for s in range(1, nfs + 1)) + ",out:1"


def measure_onvm(workdir: Path, seconds: int, layout: layouts.Layout | None) -> dict:
    nfs = len(layout.nfs) if layout and layout.nfs else 1
    cores = layout.manager_cores if layout else MANAGER_CORES
    args = ["--cores", cores, "--chain", chain(nfs)]
    for devargs in PORTS:
        args += ["--port", devargs]
    mgr = ManagerProc(workdir, args, prefix="bench-null")
    try:
        mgr.wait_ready()
        placement = layout.nf_placement(nfs) if layout else [[]]
        forwarders = [mgr.start_nf("simple_forward", s, *placement[s - 1])
                      for s in range(1, nfs + 1)]
        nf = forwarders[0]
        time.sleep(WARMUP_SECONDS)
        before = mgr.stats()
        time.sleep(seconds)
        after = mgr.stats()
        elapsed = after["time"] - before["time"]
        nf_before, nf_after = mgr.nf_stats(before, nf), mgr.nf_stats(after, nf)
        rx_workers = [(a - b) / elapsed / 1e6 for a, b in zip(
            after["ports"]["0"]["rx_workers"], before["ports"]["0"]["rx_workers"], strict=True)]
        mgr.stop()
        return {
            "mpps": (after["ports"]["1"]["tx"] - before["ports"]["1"]["tx"]) / elapsed / 1e6,
            "rx_mpps": (after["ports"]["0"]["rx"] - before["ports"]["0"]["rx"]) / elapsed / 1e6,
            # the least loaded worker's share of port 0's RX: 1/workers when even
            "rx_min_worker_share": min(rx_workers) / max(sum(rx_workers), 1e-9),
            "nf_batch": (nf_after["rx"] - nf_before["rx"])
                        / max(nf_after["batches"] - nf_before["batches"], 1),
            "nf_sleeps_per_s": (nf_after["sleeps"] - nf_before["sleeps"]) / elapsed,
        }
    finally:
        mgr.cleanup()


def measure_testpmd(workdir: Path, seconds: int, layout: layouts.Layout | None) -> dict:
    main, fwd = ((layout.testpmd[0], layout.testpmd[1:]) if layout
                 else (TESTPMD_MAIN_CPU, [TESTPMD_FWD_CPU]))
    proc = TestpmdProc(workdir, "io", PORTS, "io", main, fwd)
    try:
        proc.wait_forwarding()
        start = proc.periods() + WARMUP_SECONDS
        proc.wait_periods(start + seconds, timeout=WARMUP_SECONDS + seconds + 15)
        rx, _ = proc.rates(port=0)
        _, tx = proc.rates(port=1)
        figures = {"mpps": statistics.mean(tx[start:start + seconds]) / 1e6,
                   "rx_mpps": statistics.mean(rx[start:start + seconds]) / 1e6,
                   "dpdk": proc.dpdk_version()}
        proc.stop()
        return figures
    finally:
        proc.cleanup()


def run(args) -> dict:
    if args.seconds < 1 or args.repeat < 1:
        raise RuntimeError("--seconds and --repeat must be at least 1")
    testpmd = find_testpmd()
    layout = args.cores
    if layout is None:
        require_cpus(TESTPMD_MAIN_CPU, TESTPMD_FWD_CPU)
    onvm_runs, testpmd_runs = [], []
    try:
        with tempfile.TemporaryDirectory(prefix="onvm-bench-") as tmp:
            # Alternate the sides so that both see the same background load.
            for _ in range(args.repeat):
                onvm_runs.append(measure_onvm(Path(tmp), args.seconds, layout))
                testpmd_runs.append(measure_testpmd(Path(tmp), args.seconds, layout))
    except (RuntimeError, TimeoutError) as e:
        raise RuntimeError(one_line(e)) from None
    return {
        "scenario": NAME,
        "machine": machine.describe(),
        "tools": {"testpmd": testpmd, "testpmd_dpdk": testpmd_runs[0]["dpdk"]},
        "seconds": args.seconds, "repeat": args.repeat, "warmup_seconds": WARMUP_SECONDS,
        "ports": PORTS,
        "traffic": "net_null: 64-byte frames, made as fast as port 0 is polled",
        "layout": describe(layout),
        "onvm": {k: report.spread([r[k] for r in onvm_runs]) for k in onvm_runs[0]},
        "testpmd": {k: report.spread([r[k] for r in testpmd_runs])
                    for k in ("mpps", "rx_mpps")},
        "ratio": report.spread([o["mpps"] / t["mpps"] if t["mpps"] else 0.0
                                for o, t in zip(onvm_runs, testpmd_runs, strict=True)]),
    }


def describe(layout: layouts.Layout | None) -> dict:
    if layout is None:
        return {
            "onvm": "manager control on CPU 0, its one worker (RX and TX) on CPU 1; "
                    "simple_forward (C) shared-core, floating on CPU 0; chain 1,out:1",
            "testpmd": f"testpmd io, one forwarding lcore on CPU {TESTPMD_FWD_CPU}, its "
                       f"stats lcore on CPU {TESTPMD_MAIN_CPU} (asleep)",
        }
    nfs = len(layout.nfs) or 1
    cpus = (f"on CPU(s) {','.join(map(str, layout.nfs))}, busy-polling" if layout.nfs
            else "shared-core, floating")
    fwd = layout.testpmd[1:]
    return {
        "onvm": f"manager control on CPU {layout.control}, {len(layout.workers)} worker(s) on "
                f"CPU(s) {','.join(map(str, layout.workers))}, one RSS queue of net_null0 "
                f"each; {nfs} simple_forward (C) {cpus}; chain {chain(nfs)}",
        "testpmd": f"testpmd io, {len(fwd)} forwarding lcore(s) on CPU(s) "
                   f"{','.join(map(str, fwd))} (a queue pair each), its stats lcore on CPU "
                   f"{layout.testpmd[0]} (asleep)",
        "cores": layout.describe(),
    }


def render(result: dict) -> str:
    o, t = result["onvm"], result["testpmd"]
    rows = [
        ["onvm: manager + simple_forward (C)", report.fmt(o["mpps"]), report.fmt(o["rx_mpps"]),
         report.fmt(result["ratio"])],
        ["testpmd io", report.fmt(t["mpps"]), report.fmt(t["rx_mpps"]), "1.00"],
    ]
    return "\n".join([
        f"null ports: {result['repeat']} runs of {result['seconds']} s; "
        f"{result['machine']['cpu_model']}, DPDK {result['machine']['dpdk']}",
        report.table(["forwarder", "port 1 TX Mpps", "port 0 RX Mpps", "x testpmd"], rows),
        "(median (min-max) of the runs; x testpmd: per-run ratio of the TX rates)",
        f"NF: {o['nf_batch']['median']:.1f} packets per batch, "
        f"{o['nf_sleeps_per_s']['median']:.0f} sleeps/s; least loaded worker: "
        f"{o['rx_min_worker_share']['median']:.0%} of port 0's RX",
        f"layout: onvm: {result['layout']['onvm']}",
        f"        testpmd: {result['layout']['testpmd']}",
    ])
