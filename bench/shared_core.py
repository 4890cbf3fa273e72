# SPDX-License-Identifier: BSD-3-Clause
"""Scenario `shared-core`: k NFs sharing one core against one NF alone on
it, as a ratio of throughput; and how long an NF takes to start.

    speed_tester (service 1) -> manager -> simple_forward, service 2
        (1 instance, or k instances by flow hash) -> manager -> speed_tester

The manager's default chain is `2,1`. speed_tester keeps a batch of packets
(one flow each) looping: it sends them to service 2, whose instances share
the flows by hash and answer NEXT, which brings them back. speed_tester and
every simple_forward are pinned to CPU 0 (`--core 0`) in the default
shared-core mode (an idle NF sleeps on a futex and the manager wakes it);
the manager's worker busy-polls CPU 1. The same source drives both cases,
so the ratio is what splitting the work over k processes on one core costs:
context switches, wake-ups and smaller batches.

Throughput is the packets all service-2 instances handle per second. NF
start is the time from spawning `onvm-nf simple_forward` (the launcher,
which brings an editable build up to date and execs the NF binary) to its
log line saying it serves its service, printed once the manager has marked
it running; the NF binary started directly (no launcher) is timed too.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from onvm import bundled
from onvm.bench import machine, report
from onvm.bench.procs import ManagerProc, Proc, tool, wait_until
from onvm.bench.speed_chain import context_switches

NAME = "shared-core"
HELP = "k NFs sharing one core against one NF alone on it (throughput ratio), and NF start time"

CORE = "0"
SERVICE = 2
TESTER_SERVICE = 1
WARMUP_SECONDS = 1.0
# Services for the start-time NFs: outside the chain, so they stay idle.
START_SERVICE_BASE = 10
RUNNING_LINE = "serving service"


def start_timed(mgr: ManagerProc, argv: list[str], service: int, *nf_args: str
                ) -> tuple[Proc, float]:
    """Spawn an NF; returns it and the ms until it said it runs."""
    log = mgr.workdir / f"nf-timed-{service}-{len(mgr.nfs)}.log"
    started = time.monotonic()
    proc = Proc([*argv, "--service", str(service), "--name", mgr.name, *nf_args], log)
    mgr.nfs.append(proc)

    def running() -> bool:
        if not proc.alive():
            raise RuntimeError(f"NF exited early:\n{proc.output()}")
        return RUNNING_LINE in log.read_text(errors="replace")

    wait_until(running, 20.0, f"NF {argv[-1]} to run", step=0.001)
    return proc, (time.monotonic() - started) * 1e3


def measure_start(workdir: Path, repeat: int) -> dict:
    """Start times, ms: through onvm-nf, and of the NF binary itself."""
    launcher = [tool("onvm-nf"), "simple_forward"]
    binary = [str(bundled.c_nf_binary("simple_forward"))]
    times: dict[str, list[float]] = {"onvm_nf_ms": [], "binary_ms": []}
    mgr = ManagerProc(workdir, [], prefix="bench")
    try:
        mgr.wait_ready()
        for i in range(repeat):
            times["onvm_nf_ms"].append(
                start_timed(mgr, launcher, START_SERVICE_BASE + 2 * i)[1])
            times["binary_ms"].append(
                start_timed(mgr, binary, START_SERVICE_BASE + 2 * i + 1)[1])
        mgr.stop()
    finally:
        mgr.cleanup()
    return {key: report.spread(values) for key, values in times.items()}


def measure(workdir: Path, count: int, seconds: float, packets: int) -> dict:
    """One run with `count` instances of service 2."""
    mgr = ManagerProc(workdir, ["--chain", f"{SERVICE},{TESTER_SERVICE}"], prefix="bench")
    try:
        mgr.wait_ready()
        forwarders = [mgr.start_nf("simple_forward", SERVICE, "--core", CORE)
                      for _ in range(count)]
        tester = mgr.start_nf("speed_tester", TESTER_SERVICE, "--core", CORE, "--",
                              "--dest", str(SERVICE), "--chain", "--packets", str(packets))
        mgr.wait_stats(lambda s: mgr.nf_stats(s, tester)["rx"] > 0, 10,
                       "packets back at speed_tester")
        time.sleep(WARMUP_SECONDS)
        snap0 = mgr.stats()
        cs0 = sum(context_switches(p) for p in (tester, *forwarders))
        time.sleep(seconds)
        snap1 = mgr.stats()
        cs1 = sum(context_switches(p) for p in (tester, *forwarders))
        mgr.stop()
    finally:
        mgr.cleanup()
    elapsed = snap1["time"] - snap0["time"]
    per_nf = [(mgr.nf_stats(snap1, p)["rx"] - mgr.nf_stats(snap0, p)["rx"]) / elapsed / 1e6
              for p in forwarders]
    total = sum(per_nf)
    return {
        "mpps": total,
        # The least-served instance against an even share: 1.0 is fair.
        "balance": min(per_nf) / (total / count) if total else 0.0,
        "switches_per_s": (cs1 - cs0) / elapsed,
    }


def add_args(parser) -> None:
    parser.add_argument("--seconds", type=float, default=3.0, help="measured seconds per run")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each case")
    parser.add_argument("--nfs", type=int, default=4, choices=range(2, 16), metavar="2..15",
                        help="NFs sharing the core (default 4)")
    parser.add_argument("--packets", type=int, default=1024,
                        help="packets speed_tester keeps looping (default 1024)")


def run(args) -> dict:
    cases = {}
    with tempfile.TemporaryDirectory(prefix="onvm-bench-") as tmp:
        workdir = Path(tmp)
        runs: dict[int, list[dict]] = {1: [], args.nfs: []}
        # Alternate the cases, so a slow spell of a shared machine hits both.
        for _ in range(args.repeat):
            for count in runs:
                runs[count].append(measure(workdir, count, args.seconds, args.packets))
        for count, results in runs.items():
            cases[str(count)] = {key: report.spread([r[key] for r in results])
                                 for key in ("mpps", "balance", "switches_per_s")}
        start = measure_start(workdir, args.repeat)
    alone, shared = cases["1"]["mpps"], cases[str(args.nfs)]["mpps"]
    return {
        "scenario": NAME,
        "machine": machine.describe(),
        "layout": {
            "manager": "control thread on CPU 0, one data-plane worker on CPU 1 (busy polling)",
            "nfs": f"speed_tester and the simple_forward instances pinned to CPU {CORE}, "
                   "shared-core mode (sleep when idle, woken by the manager)",
            "traffic": f"speed_tester: {args.packets} packets of 64 bytes, one flow each, "
                       f"looping through service {SERVICE} (chain {SERVICE},{TESTER_SERVICE})",
        },
        "seconds": args.seconds, "repeat": args.repeat, "nfs": args.nfs,
        "cases": cases,
        "ratio": shared["median"] / alone["median"] if alone["median"] else 0.0,
        "ratio_runs": [s / a for s, a in zip(shared["runs"], alone["runs"], strict=True) if a],
        "nf_start": start,
    }


def headline(result: dict) -> list[tuple[str, float, bool]]:
    """Hop rates: each loop is two hops (to service 2 and back)."""
    return [(f"{count} NF{'s' if count != '1' else ''} on CPU {CORE}: hop Mpps "
             "(service 2 Mpps x 2)", case["mpps"]["median"] * 2, True)
            for count, case in result["cases"].items()]


def render(result: dict) -> str:
    m = result["machine"]
    k = result["nfs"]
    rows = [[f"{count} NF" + ("s" if count != "1" else "") + f" on CPU {CORE}",
             report.fmt(c["mpps"]), report.fmt(c["balance"]),
             f"{c['switches_per_s']['median']:.0f}"] for count, c in result["cases"].items()]
    ratio_runs = ", ".join(f"{r:.2f}" for r in result["ratio_runs"])
    start = result["nf_start"]
    return (
        f"shared-core: {result['repeat']} runs of {result['seconds']} s per case; "
        f"{m['cpus']} CPUs ({m['cpu_model']}), DPDK {m['dpdk']}\n"
        f"layout: {result['layout']['manager']}; {result['layout']['nfs']}; "
        f"{result['layout']['traffic']}\n"
        + report.table(["case", "Mpps (service 2)", "balance", "ctx sw/s"], rows)
        + f"\n{k} NFs / 1 NF: {result['ratio']:.2f} (medians; per run pair: {ratio_runs})"
        + f"\nNF start to running, ms: onvm-nf simple_forward {report.fmt(start['onvm_nf_ms'], 1)}"
        + f"; the binary alone {report.fmt(start['binary_ms'], 1)}"
        + "\n(median (min-max); balance: least-served instance / even share)"
    )

