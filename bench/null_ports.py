# SPDX-License-Identifier: BSD-3-Clause
"""Scenario `null`: the manager's cost per packet against testpmd's and
OVS-DPDK's, with no traffic generator in the way. net_null RX makes a
packet every time it is polled and net_null TX frees what it is given, so
each side runs as fast as its own forwarding allows:

    onvm:     net_null0 -> manager -> simple_forward (C) -> manager -> net_null1
    testpmd:  net_null0 -> testpmd io -> net_null1
    OVS-DPDK: net_null0 -> ovs-vswitchd (1 PMD, rule p0 -> p1) -> net_null1

Port 1 is `no-rx` on every side: it only sinks. The figure is the TX rate
of port 1, from the manager's counters, testpmd's port stats and OVS's
port counters, on the same two CPUs, in the same run. OVS-DPDK runs when
it is installed (scripts/setup.sh installs it, its services masked), as a
private instance of the benchmark's own (onvm.bench.ovs).

With --cores (onvm.bench.layout) on a bigger machine: the manager's workers
poll one RSS queue of net_null0 each; the NF CPUs run a chain of as many
simple_forwards, one busy-polling each CPU (net_null's frames carry no
flows to spread over instances of one service); testpmd's first CPU runs
its main lcore and each further one a forwarding lcore on a queue pair of
its own; OVS its other threads on the first and its one PMD thread on the
second. The sides run in turn, so testpmd's CPUs may be the manager's.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from onvm.bench import layout as layouts
from onvm.bench import machine, report
from onvm.bench.ovs import OvsMissing, OvsSwitch, OvsTools, find_ovs
from onvm.bench.procs import ManagerProc
from onvm.bench.testpmd_proc import TestpmdProc, find_testpmd, one_line, require_cpus

NAME = "null"
HELP = "the manager and one C NF between net_null ports, against testpmd io (Mpps, ratio)"

PORTS = ["net_null0", "net_null1,no-rx=1"]
WARMUP_SECONDS = 1
MANAGER_CORES = "0,1"  # control thread on CPU 0, one data-plane worker on CPU 1
TESTPMD_MAIN_CPU, TESTPMD_FWD_CPU = 0, 1
# OVS: its one PMD thread where onvm's worker and testpmd's forwarding
# lcore run; ovsdb-server and its other threads where their control runs.
OVS_PMD_CPU, OVS_CONTROL_CPU = 1, 0
OVS_FLOWS = ["in_port=p0,actions=output:p1"]


def add_args(parser) -> None:
    parser.add_argument("--seconds", type=int, default=5,
                        help="measured seconds per run (whole: testpmd reports each second)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each side")
    layouts.add_arg(parser, testpmd=(2, 9), testpmd_alone=True,
                    roles_help="workers poll an RSS queue of net_null0 each, nfs: a chain of "
                               "simple_forwards, one per CPU, testpmd: its main lcore, then a "
                               "forwarding lcore per CPU (OVS: its threads, then its PMD)")


def chain(nfs: int) -> str:
    """Services 1..nfs, then out of port 1."""
    return ",".join(str(s) for s in range(1, nfs + 1)) + ",out:1"


def measure_onvm(workdir: Path, seconds: int, layout: layouts.Layout | None = None,
                 latency_sample: int | None = None) -> dict:
    """latency_sample: the manager's setting (None: its default, every packet)."""
    nfs = len(layout.nfs) if layout and layout.nfs else 1
    cores = layout.manager_cores if layout else MANAGER_CORES
    args = ["--cores", cores, "--chain", chain(nfs)]
    if latency_sample is not None:
        args += ["--latency-sample", str(latency_sample)]
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


def measure_testpmd(workdir: Path, seconds: int, layout: layouts.Layout | None = None) -> dict:
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


def ovs_cpus(layout: layouts.Layout | None) -> tuple[int, int]:
    """(OVS's PMD CPU, its control CPU)."""
    return (layout.testpmd[1], layout.testpmd[0]) if layout else (OVS_PMD_CPU, OVS_CONTROL_CPU)


def measure_ovs(workdir: Path, tools: OvsTools, seconds: int,
                layout: layouts.Layout | None = None) -> dict:
    """OVS-DPDK forwarding p0 to p1: port 1's TX over `seconds`, from the
    live OpenFlow port counters (the database's statistics column is
    refreshed only every 5 s)."""
    switch = OvsSwitch(workdir, tools, PORTS, OVS_FLOWS, *ovs_cpus(layout))
    try:
        switch.start()
        time.sleep(WARMUP_SECONDS)
        switch.clear_pmd_stats()
        before, t0 = switch.port_counters(), time.monotonic()
        time.sleep(seconds)
        after, t1 = switch.port_counters(), time.monotonic()
        pmd = [t for name, t in switch.pmd_stats().items() if name.startswith("pmd thread")]
        switch.stop()
    finally:
        switch.cleanup()
    elapsed = t1 - t0

    def rate(port: str, side: str) -> float:
        return ((after[port][side].get("pkts") or 0)
                - (before[port][side].get("pkts") or 0)) / elapsed / 1e6

    return {"mpps": rate("p1", "tx"), "rx_mpps": rate("p0", "rx"),
            "cycles_per_packet": pmd[0].get("avg cycles per packet", 0.0) if pmd else 0.0}


def run(args) -> dict:
    if args.seconds < 1 or args.repeat < 1:
        raise RuntimeError("--seconds and --repeat must be at least 1")
    testpmd = find_testpmd()
    layout = args.cores
    if layout is None:
        require_cpus(TESTPMD_MAIN_CPU, TESTPMD_FWD_CPU)
    try:
        ovs_tools, ovs_missing = find_ovs(), None
    except OvsMissing as e:
        ovs_tools, ovs_missing = None, str(e)
    onvm_runs, testpmd_runs, ovs_runs, unmeasured_runs = [], [], [], []
    try:
        with tempfile.TemporaryDirectory(prefix="onvm-bench-") as tmp:
            # Alternate the sides so that all see the same background load.
            for _ in range(args.repeat):
                onvm_runs.append(measure_onvm(Path(tmp), args.seconds, layout))
                # The same without latency histograms: what recording costs.
                unmeasured_runs.append(measure_onvm(Path(tmp), args.seconds, layout,
                                                    latency_sample=0))
                testpmd_runs.append(measure_testpmd(Path(tmp), args.seconds, layout))
                if ovs_tools:
                    ovs_runs.append(measure_ovs(Path(tmp), ovs_tools, args.seconds, layout))
    except (RuntimeError, TimeoutError) as e:
        raise RuntimeError(one_line(e)) from None
    ovs = None
    if ovs_runs:
        ovs = {k: report.spread([r[k] for r in ovs_runs]) for k in ovs_runs[0]}
        ovs.update(version=ovs_tools.version, dpdk=ovs_tools.dpdk, vswitchd=ovs_tools.vswitchd)
    return {
        "scenario": NAME,
        "machine": machine.describe(),
        "tools": {"testpmd": testpmd, "testpmd_dpdk": testpmd_runs[0]["dpdk"],
                  "ovs_vswitchd": ovs_tools.vswitchd if ovs_tools else None},
        "seconds": args.seconds, "repeat": args.repeat, "warmup_seconds": WARMUP_SECONDS,
        "ports": PORTS,
        "traffic": "net_null: 64-byte frames, made as fast as port 0 is polled",
        "layout": describe(layout),
        "onvm": {k: report.spread([r[k] for r in onvm_runs]) for k in onvm_runs[0]},
        "testpmd": {k: report.spread([r[k] for r in testpmd_runs])
                    for k in ("mpps", "rx_mpps")},
        "ovs": ovs,
        "ovs_missing": ovs_missing,
        "onvm_no_latency": {k: report.spread([r[k] for r in unmeasured_runs])
                            for k in ("mpps", "rx_mpps")},
        "latency_cost": report.spread([1 - r["mpps"] / b["mpps"] if b["mpps"] else 0.0
                                       for r, b in zip(onvm_runs, unmeasured_runs,
                                                       strict=True)]),
        "ratio": _ratios(onvm_runs, testpmd_runs),
        "ratio_ovs": _ratios(onvm_runs, ovs_runs) if ovs_runs else None,
        "ovs_vs_testpmd": _ratios(ovs_runs, testpmd_runs) if ovs_runs else None,
    }


def describe(layout: layouts.Layout | None) -> dict:
    pmd_cpu, control_cpu = ovs_cpus(layout)
    ovs = (f"private ovsdb-server + ovs-vswitchd, one PMD thread on CPU {pmd_cpu} "
           f"(pmd-cpu-mask), its other threads and ovsdb-server on CPU {control_cpu}; bridge "
           f"datapath_type=netdev, dpdk ports p0 and p1 on the same vdevs; OpenFlow rule "
           f"{OVS_FLOWS[0]}")
    if layout is None:
        return {
            "onvm": "manager control on CPU 0, its one worker (RX and TX) on CPU 1; "
                    "simple_forward (C) shared-core, floating on CPU 0; chain 1,out:1",
            "testpmd": f"testpmd io, one forwarding lcore on CPU {TESTPMD_FWD_CPU}, its "
                       f"stats lcore on CPU {TESTPMD_MAIN_CPU} (asleep)",
            "ovs": ovs,
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
        "ovs": ovs,
        "cores": layout.describe(),
    }


def _ratios(runs: list[dict], bases: list[dict]) -> dict:
    """Per-run ratio of the port 1 TX rates."""
    return report.spread([r["mpps"] / b["mpps"] if b["mpps"] else 0.0
                          for r, b in zip(runs, bases, strict=True)])


def own_limits(result: dict) -> dict:
    """The testpmd io figure this scenario measured itself, for onvm.bench.limits."""
    return {"testpmd_io": {"mpps": result["testpmd"]["mpps"]["median"],
                           "rx_mpps": result["testpmd"]["rx_mpps"]["median"],
                           "seconds": result["seconds"], "runs": result["repeat"],
                           "from": "this scenario's own testpmd io runs"}}


def headline(result: dict) -> list[tuple[str, float, bool]]:
    """Mpps figures to set against the physical limits: onvm's packets each
    take one hop through the manager (port to NF, NF to port)."""
    figures = [("onvm: manager + simple_forward, port 1 TX", result["onvm"]["mpps"]["median"],
                True)]
    if result["ovs"]:
        figures.append(("OVS-DPDK, port 1 TX", result["ovs"]["mpps"]["median"], False))
    return figures


def render(result: dict) -> str:
    o, t, v = result["onvm"], result["testpmd"], result["ovs"]
    rows = [
        ["onvm: manager + simple_forward (C)", report.fmt(o["mpps"]), report.fmt(o["rx_mpps"]),
         report.fmt(result["ratio"])],
        ["testpmd io", report.fmt(t["mpps"]), report.fmt(t["rx_mpps"]), "1.00"],
    ]
    headers = ["forwarder", "port 1 TX Mpps", "port 0 RX Mpps", "x testpmd"]
    if v:
        headers.append("x OVS")
        rows[0].append(report.fmt(result["ratio_ovs"]))
        rows[1].append(f"{t['mpps']['median'] / v['mpps']['median']:.2f}"
                       if v["mpps"]["median"] else "-")
        rows.append([f"OVS-DPDK {v['version']}: 1 PMD, rule p0 -> p1", report.fmt(v["mpps"]),
                     report.fmt(v["rx_mpps"]), report.fmt(result["ovs_vs_testpmd"]), "1.00"])
    lines = [
        f"null ports: {result['repeat']} runs of {result['seconds']} s; "
        f"{result['machine']['cpu_model']}, DPDK {result['machine']['dpdk']}",
        report.table(headers, rows),
        "(median (min-max) of the runs; x testpmd" + (", x OVS" if v else "")
        + ": per-run ratios of the TX rates)",
        f"NF: {o['nf_batch']['median']:.1f} packets per batch, "
        f"{o['nf_sleeps_per_s']['median']:.0f} sleeps/s" + (
            f"; least loaded worker: {o['rx_min_worker_share']['median']:.0%} of port 0's RX"
            if "rx_min_worker_share" in o else ""),  # results older than the figure lack it
    ]
    if "latency_cost" in result:  # results older than the figure lack it
        lines.append(
            f"latency histograms of every packet cost {result['latency_cost']['median']:.1%} "
            f"of onvm's Mpps (without: {report.fmt(result['onvm_no_latency']['mpps'])} Mpps; "
            "per-run 1 - with/without)")
    if v:
        lines.append(f"OVS PMD: {v['cycles_per_packet']['median']:.0f} cycles per packet "
                     f"(its own count); ovs-vswitchd {v['vswitchd']}, DPDK {v['dpdk']}")
    else:
        lines.append(f"{result['ovs_missing']}; onvm against testpmd only")
    lines += [f"layout: onvm: {result['layout']['onvm']}",
              f"        testpmd: {result['layout']['testpmd']}"]
    if v:
        lines.append(f"        OVS-DPDK: {result['layout']['ovs']}")
    return "\n".join(lines)
