# SPDX-License-Identifier: BSD-3-Clause
"""Figures: repeated runs summarised as min, median and max, printed as a
table and written as JSON."""

from __future__ import annotations

import json
import statistics
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def spread(values: list[float]) -> dict:
    return {"min": min(values), "median": statistics.median(values), "max": max(values),
            "runs": values}


def fmt(s: dict, digits: int = 2) -> str:
    return f"{s['median']:.{digits}f} ({s['min']:.{digits}f}-{s['max']:.{digits}f})"


def table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(r[i])) for r in [headers, *rows]) for i in range(len(headers))]
    line = "  ".join(f"{{:<{w}}}" for w in widths)
    out = [line.format(*headers), line.format(*("-" * w for w in widths))]
    out += [line.format(*map(str, r)) for r in rows]
    return "\n".join(out)


def write_json(result: dict, path: Path) -> None:
    path.write_text(json.dumps(result, indent=2) + "\n")


@contextmanager
def plot_axes(result: dict, title: str, figures: str, path: Path) -> Iterator:
    """Axes to draw a sweep on; saved to `path` as a PNG titled with the
    machine and what the points are (`figures`, e.g. "median of 3")."""
    import matplotlib
    matplotlib.use("Agg")  # no display: benchmarks run headless
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    try:
        yield ax
        m = result["machine"]
        ax.set_title(f"{title}, {m['cpus']} CPUs, DPDK {m['dpdk']} ({figures})", fontsize=9)
        fig.tight_layout()
        fig.savefig(path, dpi=120)
    finally:
        plt.close(fig)
