# SPDX-License-Identifier: BSD-3-Clause
"""Where the bundled NFs are, without importing them, and what a user's own
NF named by its path is.

C NFs are executables `onvm-nf-NAME`; Python NFs are modules onvm.nfs.NAME,
run as `onvm-nf NAME.py`. The lists come from nfs/meson.build, through the
build. The manager's scaler and onvm.nfs.cli ask here; the `onvm-nf`
launcher (nfs/onvm-nf.in) looks in the same places itself.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from onvm._build_info import BUILD_DIR, C_NFS, PY_NFS

__all__ = ["C_NFS", "PY_NFS", "bundled", "c_nf_binary", "is_path", "py_nf_module", "user_nf"]

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


def is_path(nf: str) -> bool:
    """`nf` names a user's NF by its path, not a bundled NF: it has a '/'
    (or is . or ..)."""
    return "/" in nf or nf in (".", "..")


def user_nf(path: str) -> str:
    """What a user's NF at `path` is: "python" (a .py file, run by onvm-nf
    in Python) or "binary" (an executable, a C NF, run as it is).

    Raises FileNotFoundError if nothing is there and ValueError for anything
    else that cannot be run (a directory, a .py that is not a file, a file
    without execute permission), each with one line naming the fix.
    """
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise FileNotFoundError(f"no NF file '{path}': give the path of your NF's .py "
                                "file or C binary") from None
    except OSError as e:
        raise ValueError(f"cannot read '{path}': {e.strerror or e}") from None
    if stat.S_ISDIR(mode):
        raise ValueError(f"'{path}' is a directory: give the NF's .py file or C binary in it")
    if path.endswith(".py"):
        if not stat.S_ISREG(mode):
            raise ValueError(f"'{path}' is not a regular file: a Python NF is a .py file")
        return "python"
    if not stat.S_ISREG(mode):
        raise ValueError(f"'{path}' is not a regular file: a C NF is an executable file")
    if not os.access(path, os.X_OK):
        raise ValueError(f"'{path}' is not executable: chmod +x it (a Python NF's file "
                         "ends in .py)")
    return "binary"
