# SPDX-License-Identifier: BSD-3-Clause
"""`onvm-nf NAME --service ID [--name MANAGER] [NF args]`: run a bundled NF.

The NF replaces this process (exec), so signals and exit codes are its own.
"""

from __future__ import annotations

import os
import sys

from onvm import nfs

USAGE = (
    "usage: onvm-nf NAME --service ID [--name MANAGER] [--core N] [--busy-poll] [NF args]\n"
    "       onvm-nf --list"
)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE)
        return 0 if argv else 2
    if argv[0] == "--list":
        print("\n".join(nfs.bundled()))
        return 0
    name, rest = argv[0], argv[1:]
    binary = nfs.c_nf_binary(name)
    if binary is None:
        known = ", ".join(nfs.bundled()) or "none built"
        print(f"onvm-nf: error: no bundled NF named '{name}' (bundled: {known})", file=sys.stderr)
        return 2
    os.execv(binary, [str(binary), *rest])
    return 1  # not reached


if __name__ == "__main__":
    sys.exit(main())
