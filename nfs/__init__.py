# SPDX-License-Identifier: BSD-3-Clause
"""onvm.nfs: the bundled NFs, and where to find them."""

from __future__ import annotations

from pathlib import Path

from onvm._build_info import BUILD_DIR

C_NFS = ("simple_forward", "basic_monitor", "speed_tester")


def c_nf_binary(name: str) -> Path | None:
    """Path of bundled C NF `name`, installed or (editable) in the build dir."""
    exe = f"onvm-nf-{name}"
    for candidate in (Path(__file__).parent / "bin" / exe, Path(BUILD_DIR) / "nfs" / exe):
        if candidate.is_file():
            return candidate
    return None


def bundled() -> list[str]:
    """Names of the bundled NFs that are built."""
    return [name for name in C_NFS if c_nf_binary(name) is not None]
