# SPDX-License-Identifier: BSD-3-Clause
"""onvm.nfs: the bundled NFs, and where to find them.

C NFs are executables `onvm-nf-NAME`; Python NFs are modules onvm.nfs.NAME,
run as `onvm-nf NAME.py`.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from onvm._build_info import BUILD_DIR

C_NFS = ("simple_forward", "basic_monitor", "speed_tester")
PY_NFS = ("simple_forward", "basic_monitor", "firewall", "flow_tracker", "arp_response")


def c_nf_binary(name: str) -> Path | None:
    """Path of bundled C NF `name`, installed or (editable) in the build dir."""
    exe = f"onvm-nf-{name}"
    for candidate in (Path(__file__).parent / "bin" / exe, Path(BUILD_DIR) / "nfs" / exe):
        if candidate.is_file():
            return candidate
    return None


def py_nf_module(name: str) -> str | None:
    """Module of bundled Python NF `name` (without .py), if it exists."""
    if name not in PY_NFS:
        return None
    module = f"onvm.nfs.{name}"
    return module if importlib.util.find_spec(module) is not None else None


def bundled() -> list[str]:
    """Names of the bundled NFs, C ones bare and Python ones with .py."""
    names = [name for name in C_NFS if c_nf_binary(name) is not None]
    names += [f"{name}.py" for name in PY_NFS if py_nf_module(name) is not None]
    return names
