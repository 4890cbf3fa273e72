# SPDX-License-Identifier: BSD-3-Clause
"""Where the bundled NFs are, without importing them.

C NFs are executables `onvm-nf-NAME`; Python NFs are modules onvm.nfs.NAME,
run as `onvm-nf NAME.py`. The lists come from nfs/meson.build, through the
build. The manager's scaler and onvm.nfs.cli ask here; the `onvm-nf`
launcher (nfs/onvm-nf.in) looks in the same places itself.
"""

from __future__ import annotations

from pathlib import Path

from onvm._build_info import BUILD_DIR, C_NFS, PY_NFS

__all__ = ["C_NFS", "PY_NFS", "bundled", "c_nf_binary", "py_nf_module"]

_INSTALLED_BIN = Path(__file__).parent / "nfs" / "bin"


def c_nf_binary(name: str) -> Path | None:
    """Path of bundled C NF `name`, installed or (editable) in the build dir."""
    if name not in C_NFS:
        return None
    exe = f"onvm-nf-{name}"
    for candidate in (_INSTALLED_BIN / exe, Path(BUILD_DIR) / "nfs" / exe):
        if candidate.is_file():
            return candidate
    return None


def py_nf_module(name: str) -> str | None:
    """Module of bundled Python NF `name` (without .py), if there is one."""
    return f"onvm.nfs.{name}" if name in PY_NFS else None


def bundled() -> list[str]:
    """Names of the bundled NFs, C ones bare and Python ones with .py."""
    names = [name for name in C_NFS if c_nf_binary(name) is not None]
    return names + [f"{name}.py" for name in PY_NFS]
