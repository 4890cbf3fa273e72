# SPDX-License-Identifier: BSD-3-Clause
"""Scenario `soak`: a loop held at a share of its maximum rate for minutes,
watched for loss, mbuf leaks and memory growth.

    speed_tester (1) -> manager -> simple_forward (2) -> manager -> speed_tester

The loop is the 2-NF loop of `onvm-bench speed_tester`. First its maximum
is measured (closed loop, a fresh manager); then a second manager runs it
open loop, speed_tester paced (`--rate`) at `--load` percent of that
maximum for `--minutes`. Once a second the scenario reads the manager's
stats snapshot (pool level, the data plane's drop counters, each NF's
counters) and the VmRSS of the manager and of each NF.

Verdicts, in the table and the JSON:
- lost nothing: no packet dropped while speed_tester sent, other than
  those speed_tester itself retires (a paced tester drops what comes back
  when no burst is due: that is its pacing, not loss), and what it sent
  minus what came back is no more than the loop can hold in flight when
  it stops.
- leaked nothing: once speed_tester has left, the pool is full again, and
  no process's RSS grew by more than RSS_TOLERANCE_KIB from the end of the
  first RSS_BASELINE_SHARE of the run (its start-up: pools, caches, first
  allocations) to its end.
"""

from __future__ import annotations

import re
import tempfile
import time
from pathlib import Path

from onvm import options
from onvm.bench import machine, report
from onvm.bench.latency import parse_summary
from onvm.bench.procs import ManagerProc, Proc, wait_until
from onvm.bench.speed_chain import LAYOUT, chain_args, measure, start_loop

NAME = "soak"
HELP = "a 2-NF loop at --load percent of its max rate for --minutes: loss, pool, drops, RSS (plot)"

LENGTH = 2  # speed_tester and one simple_forward
MAX_SECONDS = 2.0
MAX_RATE_PACKETS = 1024
MIN_RATE = 1000  # speed_tester paces no slower
SAMPLE_SECONDS = 1.0
# The pacer sent less than this share of the offered rate: the loop was
# full, so drops at full rings are expected (as in `onvm-bench latency`).
SATURATED = 0.95
RSS_BASELINE_SHARE = 0.10
RSS_TOLERANCE_KIB = 1024
POOL_SETTLE_SECONDS = 10.0
# Beyond --duration: speed_tester stops at its first report after it.
EXIT_GRACE_SECONDS = 30.0
# The data plane's drop causes (stats "dataplane"). act_drop counts every
# DROP an NF answered, speed_tester's retirements included.
DATAPLANE_DROPS = ("act_drop", "chain_end", "chain_gone", "no_dest", "ring_full_drop")
# Causes that are loss whoever answered: nothing in this loop routes
# wrongly, ends a chain or fills a ring unless packets are being lost.
LOSS_DROPS = ("chain_end", "chain_gone", "no_dest", "ring_full_drop")
NF_COUNTERS = ("rx", "tx", "act_drop", "ring_full_drop", "unsent")


def rss_kib(pid: int) -> int | None:
    """VmRSS of a process in KiB; None once it has gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        pass
    return None


def sample(mgr: ManagerProc, procs: list[Proc], started: float) -> dict:
    """One point of the time series, from the stats snapshot and /proc."""
    snap = mgr.stats()
    nfs = {}
    for proc in procs[1:]:
        try:
            counters = mgr.nf_stats(snap, proc)
        except KeyError:  # it has left the NF table
            continue
        nfs[proc.label] = {key: counters.get(key, 0) for key in NF_COUNTERS}
    return {
        "t": time.monotonic() - started,
        "pool_available": snap["pool"]["available"],
        "dataplane": {key: snap["dataplane"].get(key, 0) for key in DATAPLANE_DROPS},
        "nfs": nfs,
        "rss_kib": {p.label: rss_kib(p.pid) for p in procs},
    }


def loop_capacity(ring_size: int) -> int:
    """Packets the loop can hold in flight: the tx and rx ring of each NF
    and a burst in the worker's hands per ring."""
    return LENGTH * 2 * (ring_size + 32)


def lost_while_sending(last: dict, forwarder_labels: list[str]) -> dict:
    """Drops by cause that are loss, at the last sample speed_tester sent."""
    lost = {f"dataplane {key}": last["dataplane"][key] for key in LOSS_DROPS}
    for label, nf in last["nfs"].items():
        lost[f"{label} unsent"] = nf["unsent"]
        if label in forwarder_labels:  # simple_forward never answers DROP
            lost[f"{label} act_drop"] = nf["act_drop"]
    return lost


def rss_growth(samples: list[dict], labels: list[str]) -> dict:
    """Per process: RSS at the end of the baseline share, at the end, peak."""
    baseline_t = samples[-1]["t"] * RSS_BASELINE_SHARE
    growth = {}
    for label in labels:
        series = [(s["t"], s["rss_kib"].get(label)) for s in samples]
        series = [(t, kib) for t, kib in series if kib is not None]
        if not series:
            continue
        after = [kib for t, kib in series if t >= baseline_t] or [series[-1][1]]
        growth[label] = {"start_kib": series[0][1], "baseline_kib": after[0],
                         "end_kib": after[-1], "peak_kib": max(after),
                         "growth_kib": after[-1] - after[0]}
    return growth


def soak(workdir: Path, rate: float, seconds: float, size: int, ring_size: int) -> dict:
    """The paced run, sampled every SAMPLE_SECONDS; the pool once it is over."""
    mgr = ManagerProc(workdir, chain_args(LENGTH), prefix="soak")
    try:
        mgr.wait_ready()
        pool_size = mgr.stats()["pool"]["size"]
        pool_start = mgr.stats()["pool"]["available"]
        started = time.monotonic()
        tester, forwarders = start_loop(mgr, LENGTH, ["--rate", f"{rate:.0f}",
                                                      "--size", str(size),
                                                      "--duration", f"{seconds:g}"])
        procs = [mgr, tester, *forwarders]
        samples = []
        deadline = started + seconds + EXIT_GRACE_SECONDS
        next_sample = started
        while tester.alive():
            if not mgr.alive():
                raise RuntimeError(f"the manager exited during the soak:\n{mgr.output()}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"speed_tester ran {EXIT_GRACE_SECONDS:g} s past its "
                                   f"--duration of {seconds:g} s")
            point = sample(mgr, procs, started)
            if tester.alive():  # else it may have stopped between the reads
                samples.append(point)
            next_sample += SAMPLE_SECONDS
            time.sleep(max(next_sample - time.monotonic(), 0))
        if tester.wait(10) != 0:
            raise RuntimeError(f"speed_tester failed:\n{tester.output()[-2000:]}")
        if not samples:
            raise RuntimeError("speed_tester ended before the first sample")
        summary = parse_summary(tester.output())
        back = re.search(r"speed_tester: summary: .*, (\d+) packets", tester.output())
        if back is None:
            raise RuntimeError(f"speed_tester's summary has no packet count:\n"
                               f"{tester.output()[-2000:]}")
        # Its last packets drain and its own rx ring is reclaimed as it
        # leaves: then every mbuf is back, unless one leaked.
        try:
            wait_until(lambda: mgr.stats()["pool"]["available"] == pool_size,
                       POOL_SETTLE_SECONDS, "the pool to fill")
        except TimeoutError:
            pass
        after = sample(mgr, procs, started)
        mgr.stop()
    finally:
        mgr.cleanup()
    paced = summary.get("paced") or {}
    if not paced:
        raise RuntimeError("speed_tester printed no paced summary")
    labels = [p.label for p in procs]
    return {
        "samples": samples,
        "pool": {"size": pool_size, "start": pool_start,
                 "after_stop": after["pool_available"],
                 "lowest": min(s["pool_available"] for s in samples)},
        "sent": int(paced["sent"]), "back": int(back.group(1)),
        "sent_pps": paced["sent_pps"], "skipped": int(paced["skipped"]),
        "no_mbufs": int(paced["no_mbufs"]), "back_mpps": summary["mpps"],
        "drops": {"dataplane": samples[-1]["dataplane"], "nfs": samples[-1]["nfs"]},
        "drops_after_stop": {"dataplane": after["dataplane"], "nfs": after["nfs"]},
        "lost": lost_while_sending(samples[-1], [f.label for f in forwarders]),
        "in_flight_max": loop_capacity(ring_size),
        "rss": rss_growth(samples, labels),
        "labels": labels,
    }


def add_args(parser) -> None:
    parser.add_argument("--minutes", type=options.number_arg(0.01, 24 * 60, " minutes"),
                        default=10.0, help="how long the loop runs at --load (default 10; "
                        "fractions allowed, 0.01 to 1440)")
    parser.add_argument("--load", type=options.number_arg(1, 100, " percent"), default=80.0,
                        help="percent of the loop's measured maximum (default 80)")
    parser.add_argument("--size", type=options.integer_arg(60, 1514), default=64,
                        help="frame size in bytes (default 64)")


def run(args) -> dict:
    seconds = args.minutes * 60
    ring_size = 4096  # the manager's default nf_ring_size; no config is given
    with tempfile.TemporaryDirectory(prefix="onvm-bench-") as tmp:
        workdir = Path(tmp)
        max_mpps = measure(workdir, LENGTH, MAX_SECONDS, MAX_RATE_PACKETS,
                           args.size)["loop_mpps"]
        rate = max(max_mpps * 1e6 * args.load / 100, MIN_RATE)
        run_result = soak(workdir, rate, seconds, args.size, ring_size)
    unaccounted = run_result["sent"] - run_result["back"]
    lost_total = sum(run_result["lost"].values())
    lost_nothing = lost_total == 0 and 0 <= unaccounted <= run_result["in_flight_max"]
    pool = run_result["pool"]
    rss_ok = all(g["growth_kib"] <= RSS_TOLERANCE_KIB for g in run_result["rss"].values())
    leaked_nothing = pool["after_stop"] == pool["size"] and rss_ok
    return {
        "scenario": NAME,
        "machine": machine.describe(),
        "layout": {**LAYOUT,
                   "traffic": f"speed_tester open loop (--rate) through one simple_forward, "
                              f"{args.size}-byte UDP frames; it shares CPU 0 with the NF"},
        "minutes": args.minutes, "load_pct": args.load,
        "max_loop_mpps": max_mpps, "offered_mpps": rate / 1e6,
        "sample_seconds": SAMPLE_SECONDS,
        "rss_tolerance_kib": RSS_TOLERANCE_KIB, "rss_baseline_share": RSS_BASELINE_SHARE,
        **run_result,
        "unaccounted": unaccounted,
        "saturated": run_result["sent_pps"] < SATURATED * rate,
        "lost_total": lost_total,
        "lost_nothing": lost_nothing,
        "leaked_nothing": leaked_nothing,
    }


def headline(result: dict) -> list[tuple[str, float, bool]]:
    return [(f"speed_tester + 1 NF, closed loop: hop Mpps (loop Mpps x {LENGTH})",
             result["max_loop_mpps"] * LENGTH, True),
            (f"paced at {result['load_pct']:g}%: hop Mpps sent",
             result["sent_pps"] / 1e6 * LENGTH, True)]


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def render(result: dict) -> str:
    m = result["machine"]
    head = (f"soak: {result['minutes']:g} min at {result['load_pct']:g}% of the max loop rate "
            f"({result['max_loop_mpps']:.2f} Mpps closed loop, this run); "
            f"{m['cpus']} CPUs ({m['cpu_model']}), DPDK {m['dpdk']}\n"
            f"layout: {result['layout']['manager']}; {result['layout']['nfs']}")
    pool = result["pool"]
    rows = [
        ["offered Mpps", f"{result['offered_mpps']:.3f}"],
        ["sent Mpps (steady)", f"{result['sent_pps'] / 1e6:.3f}"
         + (f" (saturated: under {SATURATED:.0%} of offered)" if result["saturated"] else "")],
        ["back Mpps (steady)", f"{result['back_mpps']:.3f}"],
        ["sent / back packets", f"{result['sent']} / {result['back']}"],
        ["sent - back (in flight at stop, or lost)",
         f"{result['unaccounted']} (loop holds at most {result['in_flight_max']})"],
        ["pacer skipped / no mbufs", f"{result['skipped']} / {result['no_mbufs']}"],
    ]
    rows += [[f"drops: dataplane {k}", v] for k, v in result["drops"]["dataplane"].items()]
    for label, nf in result["drops"]["nfs"].items():
        rows.append([f"drops: {label}", f"act_drop {nf['act_drop']}, ring_full "
                     f"{nf['ring_full_drop']}, unsent {nf['unsent']}"])
    rows += [
        ["lost (drops that are loss)", result["lost_total"]],
        ["pool: size / start / lowest / after stop",
         f"{pool['size']} / {pool['start']} / {pool['lowest']} / {pool['after_stop']}"],
    ]
    for label, g in result["rss"].items():
        rows.append([f"RSS MiB: {label}",
                     f"{g['start_kib'] / 1024:.1f} start, {g['baseline_kib'] / 1024:.1f} "
                     f"after {result['rss_baseline_share']:.0%}, {g['end_kib'] / 1024:.1f} end "
                     f"({g['growth_kib']:+d} KiB)"])
    rows += [["lost nothing", _verdict(result["lost_nothing"])],
             ["leaked nothing", _verdict(result["leaked_nothing"])]]
    return (head + "\n" + report.table(["figure", "value"], rows)
            + "\n(drops are counted while speed_tester sent; its act_drop is its pacing: "
            "packets back when no burst is due are retired. Leaked: the pool not full "
            f"after stop, or an RSS growing over {result['rss_tolerance_kib']} KiB after "
            f"the first {result['rss_baseline_share']:.0%} of the run)")


def plot(result: dict, path: Path) -> None:
    times = [s["t"] for s in result["samples"]]
    with report.plot_axes(result, f"soak at {result['load_pct']:g}%",
                          f"every {result['sample_seconds']:g} s", path) as ax:
        for label in result["labels"]:
            rss = [s["rss_kib"].get(label) for s in result["samples"]]
            ax.plot(times, [kib / 1024 if kib is not None else float("nan") for kib in rss],
                    label=f"RSS {label}")
        ax.set_xlabel("seconds")
        ax.set_ylabel("RSS, MiB")
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
        pool_ax = ax.twinx()
        pool_ax.plot(times, [s["pool_available"] for s in result["samples"]], "k:",
                     label="pool mbufs free")
        pool_ax.set_ylabel("mbufs free")
        pool_ax.set_ylim(0, result["pool"]["size"] * 1.05)
        lines, labels = ax.get_legend_handles_labels()
        pool_lines, pool_labels = pool_ax.get_legend_handles_labels()
        ax.legend(lines + pool_lines, labels + pool_labels, fontsize=8, loc="lower right")
