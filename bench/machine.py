# SPDX-License-Identifier: BSD-3-Clause
"""What a benchmark ran on, recorded with its figures."""

from __future__ import annotations

import os
import platform
from pathlib import Path

from onvm import DPDK_VERSION, __version__


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def describe() -> dict:
    return {
        "cpus": os.cpu_count(),
        "cpus_allowed": sorted(os.sched_getaffinity(0)),
        "cpu_model": cpu_model(),
        "kernel": platform.release(),
        "dpdk": DPDK_VERSION,
        "onvm": __version__,
        "python": platform.python_version(),
    }
