# SPDX-License-Identifier: BSD-3-Clause
"""Scenario `latency`: end-to-end and per-hop latency percentiles (p50,
p99, p99.9) at several offered loads.

The loops are those of `onvm-bench speed_tester` (speed_tester, then L-1
simple_forward NFs, each hop through the manager). speed_tester runs open
loop (`--rate PPS --latency`): it sends bursts of 32 packets at PPS on
average, stamps each packet with the TSC in its metadata timestamp as it
leaves, and records the TSC difference when it comes back, in a histogram
of log-linear buckets (under 1% error). Its summary line gives the
percentiles of the steady part of the run (the first second is left out).
speed_tester shares CPU 0 with the NFs and hands it to them whenever it has
nothing due; a pacer that fell behind catches up in bursts (its sent rate
is reported beside the offered one).

Loads are fractions of the maximum loop rate of the same loop, measured
first in the same run (closed loop, no pacing), so 50% means the data plane
and the NFs' core are half busy whatever the length.

End to end is speed_tester back to speed_tester: a loop of length L is
speed_tester and L-1 forwarding NFs, L hops; length 1 is the self-loop,
speed_tester sending to itself (speed_tester -> manager -> speed_tester),
one hop and no forwarder. Per hop
is what each added NF adds: (p(L_max) - p(L_min)) / (L_max - L_min), per
percentile and load; percentiles do not add exactly, so this is the usual
estimate, not a measured distribution. On a shared core an added NF costs a
wake-up and a context switch per burst, and whatever else runs on CPU 0
(the manager's control thread takes about 1 ms every 0.1 s for its stats
snapshot) shows in the tail.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

from onvm.bench import machine, report
from onvm.bench.procs import ManagerProc
from onvm.bench.speed_chain import (
    LAYOUT,
    add_nf_to_nf_arg,
    chain_args,
    measure,
    start_loop,
)

NAME = "latency"
HELP = "end-to-end and per-hop latency p50/p99/p99.9 at 10/50/90%% of the max loop rate"

PERCENTILES = ("p50", "p99", "p999")
# speed_tester's ramp-up second, left out of its summary figures.
RAMP_SECONDS = 1.0
MAX_RATE_PACKETS = 1024
# A point whose pacer sent less than this share of the offered rate.
SATURATED = 0.95
MIN_RATE = 1000


def parse_summary(output: str) -> dict:
    """speed_tester's summary lines as numbers: `mpps` (received), and the
    key=value fields of its `paced:` and `latency:` lines."""
    result: dict = {}
    mpps = re.search(r"speed_tester: summary: ([0-9.]+) Mpps", output)
    if mpps is None:
        raise RuntimeError(f"speed_tester printed no summary:\n{output[-2000:]}")
    result["mpps"] = float(mpps.group(1))
    for kind in ("paced", "latency"):
        line = re.search(rf"speed_tester: {kind}: (.*)", output)
        if line:
            result[kind] = {k: float(v) for k, v in re.findall(r"(\w+)=([0-9.e+-]+)",
                                                                 line.group(1))}
    return result


def measure_latency(workdir: Path, length: int, rate: float, seconds: float,
                    size: int, nf_to_nf: str = "manager") -> dict:
    """One open-loop run at `rate` packets/s; percentiles in us."""
    mgr = ManagerProc(workdir, chain_args(length, nf_to_nf), prefix="bench")
    try:
        mgr.wait_ready()
        duration = RAMP_SECONDS + seconds
        tester, _ = start_loop(mgr, length, ["--rate", f"{rate:.0f}", "--latency",
                                             "--size", str(size), "--duration", str(duration)])
        tester.wait(duration + 30)
        summary = parse_summary(tester.output())
        mgr.stop()
    finally:
        mgr.cleanup()
    lat, paced = summary.get("latency"), summary.get("paced")
    if not lat or not paced or lat["samples"] == 0:
        raise RuntimeError(f"speed_tester recorded no latency at {rate:.0f} pps")
    return {
        "sent_mpps": paced["sent_pps"] / 1e6,
        "received_mpps": summary["mpps"],
        "samples": int(lat["samples"]),
        **{p: lat[f"{p}_ns"] / 1e3 for p in (*PERCENTILES, "mean", "max")},
    }


def add_args(parser) -> None:
    parser.add_argument("--seconds", type=float, default=2.0,
                        help="measured seconds per run (after a 1 s ramp-up)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per length and load")
    parser.add_argument("--loads", default="10,50,90",
                        help="offered loads, %% of the max loop rate (default 10,50,90)")
    parser.add_argument("--lengths", default="1,2",
                        help="chain lengths, NFs in the loop (default 1,2)")
    parser.add_argument("--size", type=int, default=64, help="frame size in bytes")
    add_nf_to_nf_arg(parser)


def _numbers(text: str, what: str, lo: int, hi: int) -> list[int]:
    try:
        values = sorted({int(v) for v in text.split(",")})
    except ValueError:
        raise RuntimeError(f"--{what} takes comma-separated numbers, not '{text}'") from None
    if not values or values[0] < lo or values[-1] > hi:
        raise RuntimeError(f"--{what} takes numbers from {lo} to {hi}, not '{text}'")
    return values


def run(args) -> dict:
    loads = _numbers(args.loads, "loads", 1, 100)
    lengths = _numbers(args.lengths, "lengths", 1, 16)
    points = []
    max_rates = {}
    with tempfile.TemporaryDirectory(prefix="onvm-bench-") as tmp:
        workdir = Path(tmp)
        for length in lengths:
            # The reference: the closed loop's rate, same loop, this run.
            max_mpps = measure(workdir, length, args.seconds, MAX_RATE_PACKETS,
                               args.size, args.nf_to_nf)["loop_mpps"]
            max_rates[length] = max_mpps
            for load in loads:
                # speed_tester paces no slower than MIN_RATE packets/s.
                rate = max(max_mpps * 1e6 * load / 100, MIN_RATE)
                runs = [measure_latency(workdir, length, rate, args.seconds, args.size,
                                        args.nf_to_nf)
                        for _ in range(args.repeat)]
                point = {"length": length, "load_pct": load, "offered_mpps": rate / 1e6,
                         "samples": sum(r["samples"] for r in runs)}
                for key in ("sent_mpps", "received_mpps", *PERCENTILES, "mean", "max"):
                    point[key] = report.spread([r[key] for r in runs])
                # The pacer could not send the offered rate: the loop was
                # full, and its latency is queueing.
                point["saturated"] = point["sent_mpps"]["median"] < SATURATED * rate / 1e6
                points.append(point)
    return {
        "scenario": NAME,
        "machine": machine.describe(),
        "nf_to_nf": args.nf_to_nf,
        "layout": {**LAYOUT,
                   "traffic": f"speed_tester open loop (--rate, --latency), {args.size}-byte "
                              "UDP frames; it shares CPU 0 with the NFs"},
        "seconds": args.seconds, "repeat": args.repeat, "ramp_seconds": RAMP_SECONDS,
        "max_loop_mpps": {str(k): v for k, v in max_rates.items()},
        "points": points,
        "per_hop": per_hop(points, lengths, loads),
        "unit": "us",
    }


def headline(result: dict) -> list[tuple[str, float, bool]]:
    """The closed-loop maxima it measured first, as hop rates."""
    return [(f"{_loop_label(int(length))}, closed loop: hop Mpps", mpps * int(length), True)
            for length, mpps in result["max_loop_mpps"].items()]


def _loop_label(length: int) -> str:
    """What a loop of `length` is: speed_tester alone is a self-loop, not a chain."""
    if length == 1:
        return "self-loop (speed_tester to itself)"
    return f"speed_tester + {length - 1} NF" + ("s" if length > 2 else "")


def per_hop(points: list[dict], lengths: list[int], loads: list[int]) -> list[dict]:
    """What each added NF adds, per load, from the shortest and the longest
    loop; with one length only, that loop divided by its length."""
    out = []
    lo, hi = lengths[0], lengths[-1]
    for load in loads:
        by_length = {p["length"]: p for p in points if p["load_pct"] == load}
        row = {"load_pct": load, "from_lengths": [lo, hi],
               "saturated": by_length[lo]["saturated"] or by_length[hi]["saturated"]}
        for p in PERCENTILES:
            short, long = by_length[lo][p]["median"], by_length[hi][p]["median"]
            row[p] = (long - short) / (hi - lo) if hi > lo else long / hi
        out.append(row)
    return out


def render(result: dict) -> str:
    m = result["machine"]
    head = (f"latency: {result['repeat']} runs of {result['seconds']} s per point; "
            f"{m['cpus']} CPUs ({m['cpu_model']}), DPDK {m['dpdk']}\n"
            f"layout: {result['layout']['manager']}; {result['layout']['nfs']}; "
            f"NF to NF: {result.get('nf_to_nf', 'manager')}\n"
            "max loop Mpps (closed loop, this run): "
            + ", ".join(f"{_loop_label(int(k))}: {v:.2f}"
                        for k, v in result["max_loop_mpps"].items()))
    rows = [[_loop_label(p["length"]), p["length"],
             f"{p['load_pct']}%" + (" *" if p["saturated"] else ""),
             f"{p['offered_mpps']:.2f}",
             report.fmt(p["sent_mpps"]), report.fmt(p["received_mpps"]),
             *(report.fmt(p[k], 1) for k in (*PERCENTILES, "max"))] for p in result["points"]]
    end_to_end = report.table(
        ["loop", "hops", "load", "offered Mpps", "sent Mpps", "back Mpps", "p50 us", "p99 us",
         "p99.9 us", "max us"], rows)
    hops = result["per_hop"]
    lo, hi = hops[0]["from_lengths"]
    hop_rows = [[f"{h['load_pct']}%" + (" *" if h["saturated"] else ""),
                 *(f"{h[p]:.2f}" for p in PERCENTILES)] for h in hops]
    how = (f"added per hop: ({_loop_label(hi)} - {_loop_label(lo)}) / {hi - lo}" if hi > lo
           else f"{_loop_label(hi)} / {hi} hop(s)")
    per_hop_table = report.table(["load", "p50 us", "p99 us", "p99.9 us"], hop_rows)
    return (f"{head}\nend to end (speed_tester back to speed_tester; hops: passes through "
            f"the manager per loop), median (min-max):\n{end_to_end}\nper hop ({how}; medians):\n"
            f"{per_hop_table}\n(* saturated: speed_tester sent under {SATURATED:.0%} of the "
            "offered rate, so the loop was full and its latency is queueing)")


def plot(result: dict, path: Path) -> None:
    lengths = sorted({p["length"] for p in result["points"]})
    styles = {"p50": "o-", "p99": "s--", "p999": "^:"}
    with report.plot_axes(result, "speed_tester loop latency",
                          f"median of {result['repeat']}", path) as ax:
        for length in lengths:
            pts = [p for p in result["points"] if p["length"] == length]
            loads = [p["load_pct"] for p in pts]
            for key, style in styles.items():
                ax.plot(loads, [p[key]["median"] for p in pts], style,
                        label=f"{_loop_label(length)} {key.replace('p999', 'p99.9')}")
        ax.set_xlabel("offered load, % of the max loop rate")
        ax.set_ylabel("end-to-end latency, us")
        ax.set_yscale("log")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8, ncol=len(lengths))

