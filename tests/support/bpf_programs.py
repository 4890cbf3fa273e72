# SPDX-License-Identifier: BSD-3-Clause
"""eBPF programs for the tests: the bundled examples and programs written in
a test, compiled with clang against onvm/bpf.h."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.support.harness import VENV_BIN

ROOT = Path(__file__).resolve().parents[2]
INCLUDE = ROOT / "native" / "include"
EXAMPLES = ROOT / "nfs" / "bpf" / "examples"
# How the NF runs a program: its JIT (the default) or --interp.
ENGINES = ("jit", "interp")


def compile_program(source: Path, out_dir: Path, *defines: str) -> Path:
    """`source` compiled to out_dir/<stem>.o."""
    obj = out_dir / (source.stem + ".o")
    done = subprocess.run(["clang", "-O2", "-target", "bpf", "-mcpu=v2", "-g0", "-Wall",
                           "-Werror", f"-I{INCLUDE}", *(f"-D{d}" for d in defines), "-c",
                           str(source), "-o", str(obj)], capture_output=True, text=True)
    if done.returncode != 0:
        raise AssertionError(f"{source.name} did not compile:\n{done.stderr}")
    return obj


def example(name: str, out_dir: Path) -> Path:
    """Example nfs/bpf/examples/NAME/NAME.c, compiled."""
    return compile_program(EXAMPLES / name / f"{name}.c", out_dir)


def program(text: str, out_dir: Path, name: str = "prog") -> Path:
    """A program written in a test, compiled."""
    source = out_dir / f"{name}.c"
    source.write_text(text)
    return compile_program(source, out_dir)


def program_args(obj: Path, engine: str) -> list[str]:
    """The bpf NF's arguments that run `obj` on `engine` (ENGINES)."""
    return ["--", "--program", str(obj), *(["--interp"] if engine == "interp" else [])]


def nf_id(mgr, proc) -> int:
    """The NF id of NF process `proc` of manager `mgr`."""
    for key, nf in mgr.stats()["nfs"].items():
        if nf["pid"] == proc.pid:
            return int(nf.get("id", key))
    raise KeyError(f"NF pid {proc.pid} is not in the manager's stats")


def ctl(mgr, *args: str) -> subprocess.CompletedProcess:
    """onvm-ctl ARGS against manager `mgr`."""
    return subprocess.run([str(VENV_BIN / "onvm-ctl"), "--name", mgr.name, *args],
                          capture_output=True, text=True, timeout=30)
