# SPDX-License-Identifier: BSD-3-Clause
"""`onvm-bpf`: compile eBPF programs for the bpf NF.

    onvm-bpf build PROG.c [-o PROG.o] [-I DIR]... [-D NAME[=VALUE]]... [--verbose]
    onvm-bpf include-dir

`build` runs clang with the flags DPDK 22.11's validator needs (-target bpf
-mcpu=v2: it has no JMP32 instructions) and the directory holding
<onvm/bpf.h> on the include path. `include-dir` prints that directory, for
a Makefile of your own. Exit codes: 0 done, 1 the program did not compile
or clang is missing, 2 bad arguments (nothing was run).
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import shutil
import subprocess
import sys
import sysconfig
from importlib import resources
from pathlib import Path

from onvm import options

PROG = "onvm-bpf"
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
HEADER = Path("onvm", "bpf.h")
# The validator takes what clang emits for eBPF v2 at -O2; -g0 keeps debug
# sections (BTF, DWARF) it has no use for out of the object.
CLANG_FLAGS = ("-O2", "-target", "bpf", "-mcpu=v2", "-g0", "-x", "c", "-c")
# Warnings that hide a program the NF will refuse (an undeclared function
# is an unknown helper at load time) are errors; the rest stay warnings.
WARNING_FLAGS = ("-Wall", "-Wextra", "-Wno-unused-parameter",
                 "-Werror=implicit-function-declaration", "-Werror=int-conversion",
                 "-Werror=incompatible-pointer-types", "-Werror=return-type")
MACRO_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(=.*)?", re.DOTALL)


class UsageError(Exception):
    """A bad argument: one line, exit 2."""


def _header_dirs() -> list[Path]:
    """Where <onvm/bpf.h> may be, best first: the package's own copy (an
    editable install maps it to native/include in the source tree), then
    where install_headers puts it under the environment's prefix (pip's
    headers scheme, a plain prefix, Debian's /usr/local)."""
    dirs = []
    try:
        # A Path in a wheel and in an editable install (its loader maps
        # the file to the source tree); an orphan if it was not installed.
        packaged = resources.files("onvm").joinpath("include", "onvm", "bpf.h")
        if isinstance(packaged, Path):
            dirs.append(packaged.parent.parent)
    except (ModuleNotFoundError, OSError):
        pass
    version = sysconfig.get_python_version()
    for prefix in dict.fromkeys((sys.prefix, sys.base_prefix)):
        dirs += [Path(prefix, "include", "site", f"python{version}", "onvm"),
                 Path(prefix, "include"), Path(prefix, "local", "include")]
    return dirs


def include_dir() -> Path:
    """The directory holding onvm/bpf.h.

    Raises FileNotFoundError naming the places looked in.
    """
    dirs = _header_dirs()
    for d in dirs:
        if (d / HEADER).is_file():
            return d.resolve()
    raise FileNotFoundError(f"{HEADER} is in none of {', '.join(map(str, dirs))}: "
                            "reinstall onvm (scripts/setup.sh)")


def _input_file(text: str) -> Path:
    path = Path(text)
    if path.is_dir():
        raise UsageError(f"{text} is a directory: give the program's .c file")
    if not path.is_file():
        raise UsageError(f"{text} does not exist" if not path.exists()
                         else f"{text} is not a regular file")
    if not os.access(path, os.R_OK):
        raise UsageError(f"cannot read {text}: permission denied")
    return path


def _output_file(text: str | None, source: Path) -> Path:
    if text == "":
        raise UsageError("-o takes a file name")
    path = Path(text) if text is not None else source.with_suffix(".o")
    if path.is_dir():
        raise UsageError(f"output {path} is a directory: give a file name such as "
                         f"{path / source.with_suffix('.o').name}")
    parent = path.parent
    if not parent.is_dir():
        raise UsageError(f"cannot write {path}: directory {parent} does not exist")
    if path.exists() and path.resolve() == source.resolve():
        raise UsageError(f"output {path} is the program itself: give another -o")
    return path


def _include_dirs(texts: list[str]) -> list[Path]:
    dirs = []
    for text in texts:
        path = Path(text)
        if not path.is_dir():
            raise UsageError(f"-I {text}: " + ("not a directory" if path.exists()
                                               else "no such directory"))
        dirs.append(path)
    return dirs


def _macros(texts: list[str]) -> list[str]:
    for text in texts:
        if not MACRO_RE.fullmatch(text):
            raise UsageError(f"-D {options.shown(text)}: give NAME or NAME=VALUE, "
                             "NAME a C identifier")
    return texts


def clang_command(clang: str, source: Path, output: Path, includes: list[Path],
                  macros: list[str], onvm_include: Path) -> list[str]:
    """The clang command line that compiles `source` into `output`."""
    argv = [clang, *CLANG_FLAGS, *WARNING_FLAGS]
    for d in includes:
        argv += ["-I", str(d)]
    argv += ["-I", str(onvm_include)]
    for m in macros:
        argv += ["-D", m]
    return [*argv, str(source), "-o", str(output)]


def build(args: argparse.Namespace) -> int:
    source = _input_file(args.program)
    output = _output_file(args.output, source)
    includes = _include_dirs(args.include)
    macros = _macros(args.define)
    clang = shutil.which("clang")
    if clang is None:
        print(f"{PROG}: error: clang not found: install it with `apt-get install clang` "
              "(or run scripts/setup.sh)", file=sys.stderr)
        return EXIT_FAILED
    try:
        onvm_include = include_dir()
    except FileNotFoundError as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return EXIT_FAILED
    argv = clang_command(clang, source, output, includes, macros, onvm_include)
    if args.verbose:
        print(shlex.join(argv), file=sys.stderr)
    try:
        # clang's diagnostics go straight to our stderr, as it wrote them.
        code = subprocess.run(argv, stdin=subprocess.DEVNULL).returncode
    except OSError as e:
        print(f"{PROG}: error: cannot run {clang}: {e.strerror or e}", file=sys.stderr)
        return EXIT_FAILED
    if code != 0:
        print(f"{PROG}: {args.program} did not compile", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


def _parser() -> argparse.ArgumentParser:
    parser = options.ArgumentParser(
        prog=PROG, description="Compile eBPF programs for `onvm-nf bpf`.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    b = sub.add_parser("build", help="compile PROG.c into an eBPF object",
                       description="Compile PROG.c into an eBPF object for "
                       "`onvm-nf bpf -- --program PROG.o`.")
    b.add_argument("program", metavar="PROG.c", help="the program's C source")
    b.add_argument("-o", dest="output", metavar="PROG.o",
                   help="the object to write (default: PROG.o beside PROG.c)")
    b.add_argument("-I", dest="include", metavar="DIR", action="append", default=[],
                   help="another directory of headers (repeatable)")
    b.add_argument("-D", dest="define", metavar="NAME[=VALUE]", action="append", default=[],
                   help="define a macro (repeatable)")
    b.add_argument("--verbose", action="store_true", help="print the clang command first")
    sub.add_parser("include-dir", help="print the directory holding onvm/bpf.h",
                   description="Print the directory holding onvm/bpf.h (for -I).")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "include-dir":
            try:
                print(include_dir())
            except FileNotFoundError as e:
                print(f"{PROG}: error: {e}", file=sys.stderr)
                return EXIT_FAILED
            return EXIT_OK
        return build(args)
    except UsageError as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
