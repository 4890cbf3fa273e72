# SPDX-License-Identifier: BSD-3-Clause
"""`onvm-bench SCENARIO`: benchmark programs that print a table and write
JSON. They measure; they never pass or fail."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from onvm.bench import python_nfs, report


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="onvm-bench", description=__doc__)
    sub = parser.add_subparsers(dest="scenario", required=True)
    py = sub.add_parser("python", help="Python NFs (per-packet and vector) beside C, Mpps/core")
    py.add_argument("--seconds", type=float, default=5.0, help="measured seconds per run")
    py.add_argument("--repeat", type=int, default=3, help="runs per NF")
    py.add_argument("--batch", type=int, default=256, help="vector handler batch size")
    py.add_argument("--json", type=Path, default=Path("bench-python.json"), help="JSON output")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if os.geteuid() != 0:
        print("onvm-bench: error: benchmarks start managers: run as root", file=sys.stderr)
        return 3
    try:
        result = python_nfs.run(args.seconds, args.repeat, args.batch)
    except (RuntimeError, TimeoutError) as e:
        print(f"onvm-bench: error: {e}", file=sys.stderr)
        return 1
    print(python_nfs.render(result))
    report.write_json(result, args.json)
    print(f"JSON: {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
