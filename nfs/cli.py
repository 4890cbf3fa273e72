# SPDX-License-Identifier: BSD-3-Clause
"""`onvm-nf`: run an NF.

    onvm-nf NAME --service ID [--name MANAGER] [NF args]     bundled C NF
    onvm-nf NAME.py --service ID [...]                       bundled Python NF
    onvm-nf path/to/my_nf.py --service ID [...]              your own Python NF
    onvm-nf path/to/my_nf --service ID [...]                 your own C NF binary
    onvm-nf --list

The manager's scaler starts its instances through this module too, so a
scaled NF runs exactly as one started by hand.

The installed `onvm-nf` is a shell script (nfs/onvm-nf.in) that execs a
bundled C NF itself, without Python, and runs this module for the rest. Here
too a C NF replaces the process (exec), so signals and exit codes are its
own; a Python NF runs in it as __main__.
"""

from __future__ import annotations

import os
import runpy
import sys
from pathlib import Path

from onvm import bundled
from onvm.errors import OnvmError

USAGE = (
    "usage: onvm-nf NAME|NAME.py|PATH.py|PATH --service ID [--name MANAGER] "
    "[--core N | --dedicated] [--busy-poll] [NF args]\n"
    "       onvm-nf --list"
)


def _run_python(target: str, rest: list[str], module: str | None) -> int:
    sys.argv = [target, *rest]
    try:
        if module is not None:
            runpy.run_module(module, run_name="__main__", alter_sys=True)
        else:
            sys.path.insert(0, str(Path(target).resolve().parent))
            runpy.run_path(target, run_name="__main__")
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except OnvmError as e:  # an NF written without nflib.main()
        print(f"{Path(target).name}: error: {e}", file=sys.stderr)
        return e.exit_code
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE)
        return 0 if argv else 2
    if argv[0] == "--list":
        print("\n".join(bundled.bundled()))
        return 0
    name, rest = argv[0], argv[1:]
    if bundled.is_path(name):
        try:
            kind = bundled.user_nf(name)
        except (FileNotFoundError, ValueError) as e:
            print(f"onvm-nf: error: {e}", file=sys.stderr)
            return 2
        if kind == "python":
            return _run_python(name, rest, None)
        return _exec(Path(name), rest, "")
    if name.endswith(".py"):
        module = bundled.py_nf_module(name[:-3])
        if module is None and not Path(name).is_file():
            print(f"onvm-nf: error: no Python NF '{name}': neither bundled "
                  f"({', '.join(n for n in bundled.bundled() if n.endswith('.py'))}) nor a file",
                  file=sys.stderr)
            return 2
        return _run_python(name, rest, module)
    binary = bundled.c_nf_binary(name)
    if binary is None:
        known = ", ".join(bundled.bundled()) or "none built"
        print(f"onvm-nf: error: no bundled NF named '{name}' (bundled: {known})", file=sys.stderr)
        return 2
    return _exec(binary, rest, " (rebuild with scripts/setup.sh)")


def _exec(binary: Path, rest: list[str], fix: str) -> int:
    """Become the C NF: its signals and exit code are the process's own."""
    try:
        os.execv(binary, [str(binary), *rest])
    except OSError as e:
        print(f"onvm-nf: error: cannot run {binary}: {e.strerror or e}{fix}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
