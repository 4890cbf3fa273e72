# SPDX-License-Identifier: BSD-3-Clause
"""Scenario `testpmd`: dpdk-testpmd generates and sinks traffic over
net_memif, once through the manager and a chain of N NFs, once directly
testpmd to testpmd (the ceiling), in the same run and on the same two CPUs.

    onvm:     testpmd txonly -memif-> manager port 0 -> NF 1 .. NF N
                                      manager port 1 -memif-> testpmd rxonly
    testpmd:  testpmd txonly -memif-> testpmd rxonly

The figure is the sink's receive rate (testpmd's own per-second Rx-pps)
over a window after warm-up. The manager is the memif server of both its
ports, so it is up before the testpmds, which connect as clients; in the
direct run the sink is the server.

With --cores (onvm.bench.layout) on a bigger machine: the manager runs on
the layout's control and worker CPUs, the chain's NFs busy-poll an NF CPU
each while there are enough, and testpmd= names two CPUs, the generator's
and the sink's (each runs its main and its forwarding lcore there), which
no other role may share: they run beside the manager. One worker only: the
manager's memif ports get a TX queue per worker, and a sink of one queue
pair takes nothing from the others (a sink of several RX queues did not
connect to them either, in DPDK 22.11).
"""

from __future__ import annotations

import shutil
import statistics
import tempfile
from pathlib import Path

from onvm.bench import layout as layouts
from onvm.bench import machine, report
from onvm.bench.procs import ManagerProc
from onvm.bench.testpmd_proc import TestpmdProc, find_testpmd, one_line, require_cpus

NAME = "testpmd"
HELP = ("testpmd generator and sink over memif, through the manager and N NFs, "
        "against testpmd to testpmd directly (Mpps, ratio)")

KINDS = {"c": ("simple_forward",), "python": ("simple_forward.py",),
         "mix": ("simple_forward", "simple_forward.py")}
WARMUP_PERIODS = 2
# The two CPUs every run uses. The generator and the NFs share CPU 0, the
# manager's worker and the sink CPU 1; the direct run gives the generator
# and the sink one each.
GEN_CPU, SINK_CPU = 0, 1
MANAGER_CORES = "0,1"  # control thread on CPU 0, one data-plane worker on CPU 1
# log2 of the memif ring size (the client's rsize decides it). The largest
# ring lets a producer that shares its CPU run a whole time slice before
# the ring fills.
RING_LOG2 = 14


def add_args(parser) -> None:
    parser.add_argument("--nfs", type=int, default=1, help="NFs in the chain (default 1)")
    parser.add_argument("--kind", choices=sorted(KINDS), default="c",
                        help="c: simple_forward, python: simple_forward.py, "
                             "mix: alternating (default c)")
    parser.add_argument("--seconds", type=int, default=5,
                        help="measured seconds per run (whole: testpmd reports each second)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each side")
    layouts.add_arg(parser, testpmd=(2, 2), testpmd_alone=False, max_workers=1,
                    roles_help="one worker (the memif ports have one queue pair), nfs: a CPU "
                               "per NF of the chain, testpmd: the generator's CPU, then the "
                               "sink's")


def chain_nfs(kind: str, count: int) -> list[str]:
    programs = KINDS[kind]
    return [programs[i % len(programs)] for i in range(count)]


def chain_spec(count: int) -> str:
    """Services 1..count, then out of port 1."""
    return ",".join(str(service) for service in range(1, count + 1)) + ",out:1"


def memif(index: int, role: str, socket: Path) -> str:
    # The socket name lives in the abstract namespace (memif's default):
    # no file is made, and none is left behind if a process is killed.
    return f"net_memif{index},role={role},socket={socket},rsize={RING_LOG2}"


def pktgen() -> dict:
    """Pktgen-DPDK is not packaged in Debian 12; say so rather than guess."""
    path = shutil.which("pktgen") or shutil.which("dpdk-pktgen")
    return {"found": path, "used": False}


def warm_up(gen: TestpmdProc, sink: TestpmdProc) -> tuple[int, int]:
    """Wait out the warm-up; returns the first period of the window of each."""
    sink_start = sink.periods() + WARMUP_PERIODS
    gen_start = gen.periods() + WARMUP_PERIODS
    sink.wait_periods(sink_start, timeout=WARMUP_PERIODS + 15)
    gen.wait_periods(gen_start, timeout=15)
    return sink_start, gen_start


def window(gen: TestpmdProc, sink: TestpmdProc, starts: tuple[int, int], seconds: int) -> dict:
    """Mean of the sink's and the generator's per-second rates over
    `seconds` periods from `starts`."""
    sink_start, gen_start = starts
    sink.wait_periods(sink_start + seconds, timeout=seconds + 15)
    gen.wait_periods(gen_start + seconds, timeout=15)
    rx, _ = sink.rates()
    _, tx = gen.rates()
    return {"mpps": statistics.mean(rx[sink_start:sink_start + seconds]) / 1e6,
            "gen_mpps": statistics.mean(tx[gen_start:gen_start + seconds]) / 1e6}


def testpmd_cpus(layout: layouts.Layout | None) -> tuple[int, int]:
    """(generator's CPU, sink's CPU)."""
    return (layout.testpmd[0], layout.testpmd[1]) if layout else (GEN_CPU, SINK_CPU)


def start_testpmds(workdir: Path, procs: list[TestpmdProc], sink_vdev: str,
                   gen_vdev: str, layout: layouts.Layout | None = None
                   ) -> tuple[TestpmdProc, TestpmdProc]:
    """The sink, then the generator; each in `procs` before it can fail."""
    gen_cpu, sink_cpu = testpmd_cpus(layout)
    sink = TestpmdProc(workdir, "sink", [sink_vdev], "rxonly", sink_cpu, sink_cpu)
    procs.append(sink)
    sink.wait_forwarding()
    gen = TestpmdProc(workdir, "gen", [gen_vdev], "txonly", gen_cpu, gen_cpu)
    procs.append(gen)
    gen.wait_forwarding()
    return gen, sink


def measure_onvm(workdir: Path, nfs: list[str], seconds: int,
                 layout: layouts.Layout | None = None) -> dict:
    gen_sock, sink_sock = workdir / "gen.sock", workdir / "sink.sock"
    cores = layout.manager_cores if layout else MANAGER_CORES
    mgr = ManagerProc(workdir, ["--cores", cores, "--chain", chain_spec(len(nfs)),
                                "--port", memif(0, "server", gen_sock),
                                "--port", memif(1, "server", sink_sock)],
                      prefix="bench-testpmd")
    procs: list[TestpmdProc] = []
    try:
        mgr.wait_ready()
        placement = layout.nf_placement(len(nfs)) if layout else [[] for _ in nfs]
        for service, nf in enumerate(nfs, start=1):
            mgr.start_nf(nf, service, *placement[service - 1])
        gen, sink = start_testpmds(workdir, procs, memif(0, "client", sink_sock),
                                   memif(0, "client", gen_sock), layout)
        starts = warm_up(gen, sink)
        before = mgr.stats()
        figures = window(gen, sink, starts, seconds)
        after = mgr.stats()
        per_second = 1e6 * (after["time"] - before["time"])
        figures["manager_rx_mpps"] = port_delta(before, after, "0", "rx") / per_second
        figures["manager_tx_mpps"] = port_delta(before, after, "1", "tx") / per_second
        figures["manager_tx_drop_mpps"] = port_delta(before, after, "1", "drop") / per_second
        figures["dpdk"] = gen.dpdk_version()
        for proc in reversed(procs):
            proc.stop()
        mgr.stop()
        return figures
    finally:
        for proc in procs:
            proc.cleanup()
        mgr.cleanup()


def port_delta(before: dict, after: dict, port: str, counter: str) -> int:
    return after["ports"][port][counter] - before["ports"][port][counter]


def measure_direct(workdir: Path, seconds: int, layout: layouts.Layout | None = None) -> dict:
    sock = workdir / "direct.sock"
    procs: list[TestpmdProc] = []
    try:
        gen, sink = start_testpmds(workdir, procs, memif(0, "server", sock),
                                   memif(0, "client", sock), layout)
        figures = window(gen, sink, warm_up(gen, sink), seconds)
        for proc in reversed(procs):
            proc.stop()
        return figures
    finally:
        for proc in procs:
            proc.cleanup()


def run(args) -> dict:
    if args.nfs < 1 or args.seconds < 1 or args.repeat < 1:
        raise RuntimeError("--nfs, --seconds and --repeat must be at least 1")
    testpmd = find_testpmd()
    layout = args.cores
    if layout is None:
        require_cpus(GEN_CPU, SINK_CPU)
    nfs = chain_nfs(args.kind, args.nfs)
    onvm_runs, direct_runs = [], []
    try:
        with tempfile.TemporaryDirectory(prefix="onvm-bench-") as tmp:
            # Alternate the sides so that both see the same background load.
            for _ in range(args.repeat):
                onvm_runs.append(measure_onvm(Path(tmp), nfs, args.seconds, layout))
                direct_runs.append(measure_direct(Path(tmp), args.seconds, layout))
    except (RuntimeError, TimeoutError) as e:
        raise RuntimeError(one_line(e)) from None
    return {
        "scenario": NAME,
        "machine": machine.describe(),
        "tools": {"testpmd": testpmd, "testpmd_dpdk": onvm_runs[0]["dpdk"],
                  "pktgen": pktgen()},
        "seconds": args.seconds, "repeat": args.repeat, "warmup_seconds": WARMUP_PERIODS,
        "nfs": nfs, "kind": args.kind,
        "chain": chain_spec(len(nfs)),
        "traffic": "testpmd txonly: 64-byte UDP/IPv4 frames, one flow, as fast as it can",
        "memif": {"ring_slots": 1 << RING_LOG2, "copy": "both ends (no zero-copy)"},
        "layout": describe(layout, len(nfs)),
        "onvm": summarize(onvm_runs),
        "testpmd": summarize(direct_runs),
        "ratio": report.spread([o["mpps"] / d["mpps"] if d["mpps"] else 0.0
                                for o, d in zip(onvm_runs, direct_runs, strict=True)]),
    }


def describe(layout: layouts.Layout | None, nfs: int) -> dict:
    gen_cpu, sink_cpu = testpmd_cpus(layout)
    direct = (f"testpmd txonly on CPU {gen_cpu} (client) -> testpmd rxonly on CPU {sink_cpu} "
              "(server)")
    if layout is None:
        return {
            "onvm": f"testpmd txonly on CPU {GEN_CPU}; manager control on CPU 0, its one "
                    f"worker on CPU 1; NFs shared-core, floating on CPU 0; testpmd rxonly "
                    f"on CPU {SINK_CPU}; manager = memif server, testpmds = clients",
            "testpmd": direct,
        }
    placed = layout.nf_placement(nfs)
    nf_cpus = ("NFs on CPU(s) " + ",".join(p[1] for p in placed)
               + (", busy-polling" if "--busy-poll" in placed[0] else ", shared-core")
               if layout.nfs else "NFs shared-core, floating off the workers' CPUs")
    return {
        "onvm": f"testpmd txonly on CPU {gen_cpu}; manager control on CPU {layout.control}, "
                f"{len(layout.workers)} worker(s) on CPU(s) "
                f"{','.join(map(str, layout.workers))}; {nf_cpus}; testpmd rxonly on CPU "
                f"{sink_cpu}; manager = memif server, testpmds = clients",
        "testpmd": direct,
        "cores": layout.describe(),
    }


def headline(result: dict) -> list[tuple[str, float, bool]]:
    nfs = len(result["nfs"])
    return [(f"onvm, {nfs} NF(s): hop Mpps (sink Mpps x {nfs})",
             result["onvm"]["mpps"]["median"] * nfs, True),
            ("testpmd -> testpmd over memif: sink Mpps", result["testpmd"]["mpps"]["median"],
             False)]


def summarize(runs: list[dict]) -> dict:
    keys = [k for k, v in runs[0].items() if isinstance(v, float)]
    return {k: report.spread([r[k] for r in runs]) for k in keys}


def render(result: dict) -> str:
    o, d = result["onvm"], result["testpmd"]
    pk = result["tools"]["pktgen"]
    rows = [
        [f"onvm, {len(result['nfs'])} NF(s) ({result['kind']})", report.fmt(o["mpps"]),
         report.fmt(o["gen_mpps"]), report.fmt(result["ratio"])],
        ["testpmd -> testpmd", report.fmt(d["mpps"]), report.fmt(d["gen_mpps"]), "1.00"],
    ]
    lines = [
        f"testpmd over memif: {result['repeat']} runs of {result['seconds']} s; "
        f"{result['machine']['cpu_model']}, DPDK {result['machine']['dpdk']}",
        report.table(["path", "sink Mpps", "generator Mpps", "x direct"], rows),
        "(median (min-max) of the runs; x direct: per-run ratio of the sink rates)",
        f"chain {result['chain']}: {', '.join(result['nfs'])}",
        f"manager: port 0 rx {report.fmt(o['manager_rx_mpps'])} Mpps, port 1 tx "
        f"{report.fmt(o['manager_tx_mpps'])} Mpps, port 1 tx drops "
        f"{report.fmt(o['manager_tx_drop_mpps'])} Mpps",
        f"layout: onvm: {result['layout']['onvm']}",
        f"        direct: {result['layout']['testpmd']}",
        "pktgen: " + (f"found at {pk['found']}, not used (testpmd drives both sides)"
                      if pk["found"] else "not found (Pktgen-DPDK is not packaged in "
                                          "Debian 12); testpmd generates the traffic"),
    ]
    return "\n".join(lines)
