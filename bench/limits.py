# SPDX-License-Identifier: BSD-3-Clause
"""The physical limits of this machine, measured once per scenario run, so
that each headline figure prints beside its ratio to limits of the same run
on the same CPUs (`--no-limits` skips them):

- testpmd io: dpdk-testpmd moving net_null0 -> net_null1 with one lcore on
  CPU 1, exactly as `onvm-bench null` runs it (null_ports.measure_testpmd):
  what one core forwards between two ports with DPDK's own loop.
- ring_perf: DPDK's ring_perf_autotest (dpdk-test, lcores on CPUs 0 and 1),
  run three times, each figure at its best (fewest cycles). On one core it
  gives the cycles of an enqueue plus a dequeue of a burst; in its two-core
  test one core enqueues and the other dequeues, and it prints the sum of
  both sides' cycles per element.

The hop bound. A hop through the manager is two ring passes between the
CPUs (the NF's tx ring to the worker, the worker to the next NF's rx ring),
and each CPU does one enqueue and one dequeue per packet and hop. At
ring_perf's two-core SP/SC cost of an enqueue plus a dequeue per element,
c cycles, a CPU can do no more than tsc_hz / c of them a second: that is
the bound, in hops per second, that rings alone allow. It is an upper
bound: the NFs' rx rings are multi-producer (MP/MC is slower), and the
bound counts no routing, no metadata and no NF work.

A scenario module gives `headline(result)`: its figures as (label, Mpps,
hops), hops true for rates of hops through the manager (set against the
hop bound as well as testpmd io). It may give `own_limits(result)` for a
limit it measured itself (`null` runs testpmd io anyway).
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import uuid
from pathlib import Path

from onvm.bench import report
from onvm.bench.null_ports import TESTPMD_FWD_CPU, TESTPMD_MAIN_CPU, measure_testpmd
from onvm.bench.procs import Proc
from onvm.bench.testpmd_proc import one_line, remove_prefix_files, require_cpus

DPDK_TEST = "dpdk-test"
RING_PERF_CPUS = (0, 1)  # onvm's control/NF CPU and its worker's
RING_PERF_TIMEOUT = 120.0  # it takes about 5 s
RING_PERF_RUNS = 3
TESTPMD_SECONDS = 3
BURST = 32  # the manager's default burst

_SECTION = re.compile(r"^### Testing (.+?) ###$")
_FIGURE = re.compile(
    r"^(?:legacy APIs|elem APIs: element size (?P<esize>\d+)B): "
    r"(?P<sync>SP/SC|MP/MC|default enqueue/dequeue): "
    r"(?P<op>single|bulk|burst)(?: \(size: (?P<size>\d+)\))?: (?P<value>[0-9.]+)$")
_TOTAL = re.compile(r"^Total count \(size: (\d+)\): (\d+)$")
_TSC = re.compile(r"TSC frequency is ~(\d+) KHz")
TWO_CORE_SECTIONS = ("using two physical cores", "using two hyperthreads",
                     "using two NUMA nodes")


def parse_ring_perf(text: str) -> dict:
    """ring_perf_autotest's output as numbers: every figure line with its
    section, the element size (8: the legacy API's pointers), the sync
    mode, the operation and the burst size; the all-cores totals; the TSC
    rate if EAL logged it; and whether the test passed."""
    figures, totals = [], []
    section, esize = None, 8
    for line in text.splitlines():
        line = line.strip().removeprefix("RTE>>")
        head = _SECTION.match(line)
        if head:
            section = head.group(1)
            continue
        figure = _FIGURE.match(line)
        if figure:
            esize = int(figure["esize"] or 8)
            figures.append({"section": section, "esize": esize,
                            "sync": figure["sync"], "op": figure["op"],
                            "size": int(figure["size"] or 1),
                            "value": float(figure["value"])})
            continue
        total = _TOTAL.match(line)
        if total:
            # Its element size is that of the figures just before it.
            totals.append({"section": section, "esize": esize, "size": int(total.group(1)),
                           "count": int(total.group(2))})
    tsc = _TSC.search(text)
    return {"figures": figures, "all_cores_totals": totals,
            "tsc_hz": int(tsc.group(1)) * 1000 if tsc else None,
            "passed": "Test OK" in text}


def _find(figures: list[dict], section: str, sync: str, op: str, size: int) -> float | None:
    for f in figures:
        if (f["section"], f["esize"], f["sync"], f["op"], f["size"]) == (section, 8, sync, op,
                                                                         size):
            return f["value"]
    return None


def ring_limits(parsed: dict) -> dict:
    """The figures the benchmarks use, for pointer rings and bursts of 32:
    on one core, cycles per element of an enqueue plus a dequeue (ring_perf
    prints cycles per burst there); between two cores, ring_perf's sum of
    both sides' cycles per element, the elements per second that makes
    (each side's time per element is half the sum) and the hop bound."""
    figures = parsed["figures"]
    if not parsed["passed"] or not figures:
        raise RuntimeError("ring_perf_autotest did not pass")
    one_core = {sync: _find(figures, "bulk enq/deq", sync, "bulk", BURST)
                for sync in ("SP/SC", "MP/MC")}
    two_core = next((s for s in TWO_CORE_SECTIONS
                     if _find(figures, s, "SP/SC", "bulk", BURST) is not None), None)
    if two_core is None or None in one_core.values():
        raise RuntimeError(f"ring_perf_autotest printed no bulk-{BURST} figures for one "
                           "and for two cores")
    spsc, mpmc = (_find(figures, two_core, sync, "bulk", BURST) for sync in ("SP/SC", "MP/MC"))
    limits = {
        "burst": BURST,
        "one_core_spsc_cycles_per_elem": one_core["SP/SC"] / BURST,
        "one_core_mpmc_cycles_per_elem": one_core["MP/MC"] / BURST,
        "two_core_test": two_core,
        "two_core_spsc_cycles_per_elem": spsc,
        "two_core_mpmc_cycles_per_elem": mpmc,
        "tsc_hz": parsed["tsc_hz"],
    }
    hz = parsed["tsc_hz"]
    if hz and spsc:
        limits["two_core_spsc_melems_per_s"] = 2 * hz / spsc / 1e6
        limits["hop_bound_mpps"] = hz / spsc / 1e6
    return limits


def best_of(runs: list[dict]) -> dict:
    """Parsed runs as one: each figure at its fewest cycles. Noise (another
    process, the host) only ever adds cycles, and the two-core test is over
    in milliseconds, so one preemption can multiply its figure."""
    best: dict[tuple, dict] = {}
    for run in runs:
        for f in run["figures"]:
            key = (f["section"], f["esize"], f["sync"], f["op"], f["size"])
            if key not in best or f["value"] < best[key]["value"]:
                best[key] = f
    return {"figures": list(best.values()),
            "all_cores_totals": [t for run in runs for t in run["all_cores_totals"]],
            "tsc_hz": next((run["tsc_hz"] for run in runs if run["tsc_hz"]), None),
            "passed": bool(runs) and all(run["passed"] for run in runs)}


def run_ring_perf(binary: str, workdir: Path) -> dict:
    """One ring_perf_autotest, lcore 0 on CPU 0 and lcore 1 on CPU 1, parsed."""
    prefix = f"bench-ringperf-{uuid.uuid4().hex[:8]}"
    # DPDK_TEST runs the one test and exits; EAL's debug level logs the TSC rate.
    argv = [binary, "-l", ",".join(map(str, RING_PERF_CPUS)), "--no-pci", "--in-memory",
            f"--file-prefix={prefix}", "-m", "64", "--log-level=lib.eal:debug"]
    proc = Proc(argv, workdir / f"ring_perf-{prefix[-8:]}.log", label="dpdk-test",
                env={**os.environ, "DPDK_TEST": "ring_perf_autotest"})
    try:
        code = proc.wait(RING_PERF_TIMEOUT)
        text = proc.output()
    finally:
        proc.kill()
        remove_prefix_files(prefix)
    parsed = parse_ring_perf(text)
    if code != 0 or not parsed["passed"]:
        last = [ln for ln in text.splitlines() if ln.strip()][-1:] or ["no output"]
        raise RuntimeError(f"ring_perf_autotest failed (exit code {code}): {last[0]}")
    return parsed


def measure_ring_perf(workdir: Path) -> dict:
    """RING_PERF_RUNS of ring_perf_autotest, the best of each figure."""
    binary = shutil.which(DPDK_TEST)
    if binary is None:
        raise RuntimeError(f"{DPDK_TEST} not found: install the Debian package dpdk-dev "
                           "(scripts/setup.sh does), or pass --no-limits")
    require_cpus(*RING_PERF_CPUS)
    runs = [run_ring_perf(binary, workdir) for _ in range(RING_PERF_RUNS)]
    best = best_of(runs)
    return {**ring_limits(best), "cpus": list(RING_PERF_CPUS), "binary": binary,
            "runs": len(runs),
            "per_run": [{k: v for k, v in ring_limits(r).items() if k != "tsc_hz"}
                        for r in runs],
            "figures": best["figures"], "all_cores_totals": best["all_cores_totals"]}


def measure(known: dict | None = None) -> dict:
    """Both limits; those in `known` (measured by the scenario) are taken
    as they are. A limit that cannot be measured is an `error` line."""
    limits = dict(known or {})
    with tempfile.TemporaryDirectory(prefix="onvm-bench-limits-") as tmp:
        workdir = Path(tmp)
        if "testpmd_io" not in limits:
            try:
                require_cpus(TESTPMD_MAIN_CPU, TESTPMD_FWD_CPU)
                io = measure_testpmd(workdir, TESTPMD_SECONDS)
                limits["testpmd_io"] = {"mpps": io["mpps"], "rx_mpps": io["rx_mpps"],
                                        "seconds": TESTPMD_SECONDS, "runs": 1,
                                        "from": "onvm.bench.limits"}
            except (RuntimeError, TimeoutError, OSError) as e:
                limits["testpmd_io"] = {"error": one_line(e)}
        try:
            limits["ring_perf"] = measure_ring_perf(workdir)
        except (RuntimeError, TimeoutError, OSError) as e:
            limits["ring_perf"] = {"error": one_line(e)}
    return limits


def compare(figures: list[tuple[str, float, bool]], limits: dict) -> list[dict]:
    """Each headline figure with its ratios: to testpmd io, and for hop
    rates to the hop bound."""
    io = limits.get("testpmd_io", {}).get("mpps")
    bound = limits.get("ring_perf", {}).get("hop_bound_mpps")
    rows = []
    for label, mpps, hops in figures:
        rows.append({"figure": label, "mpps": mpps, "hops": hops,
                     "x_testpmd_io": mpps / io if io else None,
                     "x_hop_bound": mpps / bound if hops and bound else None})
    return rows


def attach(result: dict, module) -> None:
    """Measure the limits after a scenario's run and add them, and its
    figures' ratios to them, to its result."""
    known = module.own_limits(result) if hasattr(module, "own_limits") else None
    result["limits"] = measure(known)
    result["vs_limits"] = compare(module.headline(result), result["limits"])


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def render(result: dict) -> str:
    """The limits and the table of ratios, for the end of a scenario's output."""
    limits = result["limits"]
    io, ring = limits["testpmd_io"], limits["ring_perf"]
    lines = ["physical limits, this run:"]
    if "error" in io:
        lines.append(f"  testpmd io: not measured: {io['error']}")
    else:
        lines.append(f"  testpmd io: {io['mpps']:.2f} Mpps (net_null0 -> net_null1, one lcore "
                     f"on CPU {TESTPMD_FWD_CPU}; {io['runs']} x {io['seconds']} s)")
    if "error" in ring:
        lines.append(f"  ring_perf: not measured: {ring['error']}")
    else:
        pair = ring["two_core_test"].removeprefix("using ")
        lines.append(
            f"  ring_perf, bulk {ring['burst']}, cycles per element (enqueue + dequeue): "
            f"one core SP/SC {ring['one_core_spsc_cycles_per_elem']:.2f}, MP/MC "
            f"{ring['one_core_mpmc_cycles_per_elem']:.2f}; {pair} "
            f"(CPUs {', '.join(map(str, ring['cpus']))}) SP/SC "
            f"{ring['two_core_spsc_cycles_per_elem']:.2f}, MP/MC "
            f"{ring['two_core_mpmc_cycles_per_elem']:.2f} (best of {ring['runs']} runs; "
            "two-core SP/SC per run: "
            + ", ".join(f"{r['two_core_spsc_cycles_per_elem']:.2f}" for r in ring["per_run"])
            + ")")
        if "hop_bound_mpps" in ring:
            lines.append(f"  hop bound: {ring['hop_bound_mpps']:.1f} Mpps (two-core SP/SC "
                         f"{ring['two_core_spsc_melems_per_s']:.0f} M elements/s; a hop is two "
                         "ring passes, one enqueue and one dequeue per CPU)")
        else:
            lines.append("  hop bound: unknown (EAL did not log the TSC rate)")
    rows = [[r["figure"], f"{r['mpps']:.2f}", _ratio(r["x_testpmd_io"]),
             _ratio(r["x_hop_bound"])] for r in result["vs_limits"]]
    lines.append(report.table(["figure", "Mpps", "x testpmd io", "x hop bound"], rows))
    return "\n".join(lines)
