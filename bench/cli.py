# SPDX-License-Identifier: BSD-3-Clause
"""`onvm-bench SCENARIO`: benchmark programs that print a table and write
JSON (and, for sweeps, a PNG plot). They measure; they never pass or fail.

A scenario is a module of onvm.bench with NAME, HELP, add_args(parser),
run(args) -> result dict, render(result) -> str, headline(result) (its
figures to set against the physical limits, see onvm.bench.limits) and,
for sweeps, plot(result, path). After the scenario, the limits of the same
run (testpmd io, DPDK's ring_perf) are measured unless --no-limits.
"""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys
from pathlib import Path

from onvm import options
from onvm.bench import limits, report

# Scenario name -> module; imported only when chosen.
SCENARIOS = {
    "testpmd": "testpmd",
    "null": "null_ports",
    "speed_tester": "speed_chain",
    "latency": "latency",
    "python": "python_nfs",
    "shared-core": "shared_core",
    "soak": "soak",
    "flows": "flows",
    "bpf": "bpf_nfs",
    "pping": "pping_nf",
}


def _module(name: str):
    return importlib.import_module(f"onvm.bench.{SCENARIOS[name]}")


def _parser() -> argparse.ArgumentParser:
    # onvm.options' parser: a bad value is one line, as in the other tools.
    parser = options.ArgumentParser(prog="onvm-bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="scenario", required=True)
    for name in SCENARIOS:
        mod = _module(name)
        p = sub.add_parser(name, help=mod.HELP, description=mod.HELP)
        mod.add_args(p)
        p.add_argument("--no-limits", action="store_true",
                       help="skip the physical limits measured after the scenario "
                            "(testpmd io, ring_perf) and the ratios to them")
        p.add_argument("--json", type=Path, default=Path(f"bench-{name}.json"),
                       help=f"JSON output (default bench-{name}.json)")
        if hasattr(mod, "plot"):
            p.add_argument("--plot", type=Path, default=Path(f"bench-{name}.png"),
                           help=f"PNG plot output (default bench-{name}.png)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if os.geteuid() != 0:
        print("onvm-bench: error: benchmarks start managers: run as root", file=sys.stderr)
        return 3
    mod = _module(args.scenario)
    # SIGTERM (timeout, kill) ends a run like Ctrl-C: the scenario's finally
    # blocks stop the managers and testpmds it started, in their own sessions.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        result = mod.run(args)
        if not args.no_limits:
            limits.attach(result, mod)
    except (RuntimeError, TimeoutError, OSError) as e:
        print(f"onvm-bench: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("onvm-bench: interrupted; what it started is stopped", file=sys.stderr)
        return 130
    print(mod.render(result))
    if "limits" in result:
        print(limits.render(result))
    report.write_json(result, args.json)
    print(f"JSON: {args.json}")
    if hasattr(mod, "plot"):
        mod.plot(result, args.plot)
        print(f"plot: {args.plot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
