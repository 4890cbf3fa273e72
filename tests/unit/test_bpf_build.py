# SPDX-License-Identifier: BSD-3-Clause
"""onvm-bpf: `build` makes eBPF v2 objects the bpf NF loads, with the
flags, macros and include directories asked for; a program that does not
compile gets clang's diagnostics and one line of its own; bad arguments
and a missing clang get one line each. `include-dir` finds onvm/bpf.h in
the source tree (editable), beside the package (a wheel) or under the
prefix. No root, no manager: the compiler only."""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from onvm import bpf_build
from tests.support.bad_input import Bad, params, run, run_case

pytestmark = pytest.mark.timeout(60)

ROOT = Path(__file__).resolve().parents[2]
ONVM_BPF = str(Path(sys.executable).parent / "onvm-bpf")
EM_BPF = 247
BPF_JMP32 = 0x06  # the instruction class DPDK 22.11 does not run
needs_clang = pytest.mark.skipif(shutil.which("clang") is None,
                                 reason="clang is not installed (scripts/setup.sh installs it)")

PROGRAM = """#include <onvm/bpf.h>

ONVM_BPF_PROGRAM("onvm") int
prog(unsigned char *frame)
{
	return ONVM_BPF_PASS;
}
"""
# Compares 32-bit values: clang emits JMP32 for them from -mcpu=v3 on.
COMPARES = """#include <onvm/bpf.h>

ONVM_BPF_PROGRAM("onvm") int
prog(unsigned char *frame)
{
	unsigned int a = *(unsigned int *)(frame + 26);
	unsigned int b = *(unsigned int *)(frame + 30);

	if (a > b)
		return ONVM_BPF_PASS;
	return a == 7 ? ONVM_BPF_TX : ONVM_BPF_DROP;
}
"""


def sections(obj: Path) -> dict[str, bytes]:
    """The named sections of a little-endian ELF64 object."""
    data = obj.read_bytes()
    assert data[:4] == b"\x7fELF" and data[4] == 2 and data[5] == 1, "not an ELF64 LE object"
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)
    headers = [struct.unpack_from("<IIQQQQ", data, shoff + i * shentsize) for i in range(shnum)]
    names_at = headers[shstrndx][4]

    def name(offset: int) -> str:
        end = data.index(b"\0", names_at + offset)
        return data[names_at + offset:end].decode()

    return {name(h[0]): data[h[4]:h[4] + h[5]] for h in headers if h[0]}


def machine(obj: Path) -> int:
    return struct.unpack_from("<H", obj.read_bytes(), 0x12)[0]


def build(*args: str) -> subprocess.CompletedProcess:
    return run([ONVM_BPF, "build", *args])


# --- include-dir -------------------------------------------------------------

def test_include_dir_is_where_onvm_bpf_h_is():
    done = run([ONVM_BPF, "include-dir"])
    assert done.returncode == 0 and done.stderr == "", done.stderr
    found = Path(done.stdout.strip())
    assert found.is_absolute() and done.stdout.count("\n") == 1
    assert (found / "onvm" / "bpf.h").read_bytes() == (
        ROOT / "native/include/onvm/bpf.h").read_bytes()


def test_the_build_installs_bpf_h_beside_the_package():
    """A wheel gets the header as package data, where include_dir() looks
    first (meson's install plan is what meson-python packs)."""
    plan = json.loads((ROOT / "build/meson-info/intro-install_plan.json").read_text())
    destinations = {entry["destination"] for files in plan.values() for entry in files.values()}
    assert {"{py_platlib}/onvm/include/onvm/bpf.h",
            "{py_purelib}/onvm/include/onvm/bpf.h"} & destinations, sorted(destinations)
    # and the prefix's include directory, for C NFs built against onvm
    assert "{includedir}/onvm/bpf.h" in destinations


def _header_at(root: Path) -> Path:
    (root / "onvm").mkdir(parents=True)
    (root / "onvm" / "bpf.h").write_text("/* onvm/bpf.h */\n")
    return root


def test_include_dir_of_a_wheel_is_the_package_copy(tmp_path, monkeypatch):
    package = tmp_path / "site-packages" / "onvm"
    _header_at(package / "include")
    monkeypatch.setattr(bpf_build.resources, "files", lambda _: package)
    assert bpf_build.include_dir() == (package / "include").resolve()


def test_include_dir_falls_back_to_the_prefix(tmp_path, monkeypatch):
    """Without the package copy: pip's headers directory of the
    environment, then its include directory."""
    monkeypatch.setattr(bpf_build.resources, "files", lambda _: tmp_path / "no-package")
    monkeypatch.setattr(bpf_build.sys, "prefix", str(tmp_path / "venv"))
    monkeypatch.setattr(bpf_build.sys, "base_prefix", str(tmp_path / "usr"))
    plain = _header_at(tmp_path / "usr" / "include")
    assert bpf_build.include_dir() == plain.resolve()
    version = bpf_build.sysconfig.get_python_version()
    headers = _header_at(tmp_path / "venv" / "include" / "site" / f"python{version}" / "onvm")
    assert bpf_build.include_dir() == headers.resolve()


def test_include_dir_nowhere_says_where_it_looked(tmp_path, monkeypatch):
    monkeypatch.setattr(bpf_build.resources, "files", lambda _: tmp_path / "no-package")
    monkeypatch.setattr(bpf_build.sys, "prefix", str(tmp_path / "venv"))
    monkeypatch.setattr(bpf_build.sys, "base_prefix", str(tmp_path / "usr"))
    with pytest.raises(FileNotFoundError, match=r"onvm/bpf.h is in none of .*venv.*reinstall"):
        bpf_build.include_dir()


# --- build ---------------------------------------------------------------------

@needs_clang
def test_build_makes_an_ebpf_object_with_the_program_section(tmp_path):
    src = tmp_path / "prog.c"
    src.write_text(PROGRAM)
    done = build(str(src), "-o", str(tmp_path / "out.o"))
    assert done.returncode == 0 and done.stdout == "" and done.stderr == "", done.stderr
    obj = tmp_path / "out.o"
    assert machine(obj) == EM_BPF
    code = sections(obj)["onvm"]
    # r0 = 1 (ONVM_BPF_PASS); exit
    assert code == bytes.fromhex("b700000001000000") + bytes.fromhex("9500000000000000")
    assert not any(n.startswith((".debug", ".BTF")) for n in sections(obj)), "built with -g0"


@needs_clang
def test_build_writes_prog_o_beside_prog_c_by_default(tmp_path):
    src = tmp_path / "reflector.c"
    src.write_text((ROOT / "nfs/bpf/examples/reflector/reflector.c").read_text())
    assert build(str(src)).returncode == 0
    assert machine(tmp_path / "reflector.o") == EM_BPF


@needs_clang
def test_build_targets_ebpf_v2_without_jmp32(tmp_path):
    src = tmp_path / "compares.c"
    src.write_text(COMPARES)
    assert build(str(src)).returncode == 0
    code = sections(tmp_path / "compares.o")["onvm"]
    classes = {code[i] & 0x07 for i in range(0, len(code), 8)}
    assert BPF_JMP32 not in classes
    # the same source at v3 does use JMP32: the check above can tell
    v3 = subprocess.run(["clang", "-O2", "-target", "bpf", "-mcpu=v3", "-I",
                         str(bpf_build.include_dir()), "-c", str(src), "-o",
                         str(tmp_path / "v3.o")], capture_output=True, text=True, timeout=60)
    assert v3.returncode == 0, v3.stderr
    code = sections(tmp_path / "v3.o")["onvm"]
    assert BPF_JMP32 in {code[i] & 0x07 for i in range(0, len(code), 8)}


@needs_clang
def test_build_takes_macros_and_include_directories(tmp_path):
    (tmp_path / "inc").mkdir()
    (tmp_path / "inc" / "verdicts.h").write_text("#define CHOSEN (VERDICT + OFFSET)\n")
    src = tmp_path / "prog.c"
    src.write_text('#include <onvm/bpf.h>\n#include "verdicts.h"\n'
                   "#ifndef OFFSET\n#error OFFSET is not set\n#endif\n"
                   'ONVM_BPF_PROGRAM("onvm") int\nprog(unsigned char *frame)\n'
                   "{\n\treturn CHOSEN;\n}\n")
    done = build(str(src), "-I", str(tmp_path / "inc"), "-D", "VERDICT=2", "-DOFFSET")
    assert done.returncode == 0, done.stderr
    # -DOFFSET defines it as 1: r0 = 3
    assert sections(tmp_path / "prog.o")["onvm"][:8] == bytes.fromhex("b700000003000000")


@needs_clang
def test_verbose_prints_the_clang_command(tmp_path):
    src = tmp_path / "prog.c"
    src.write_text(PROGRAM)
    done = build(str(src), "--verbose", "-D", "X=a b")
    assert done.returncode == 0
    line = done.stderr.strip()
    assert "-O2 -target bpf -mcpu=v2 -g0" in line and "-Wall" in line
    assert f"-I {bpf_build.include_dir()}" in line and "-D 'X=a b'" in line


@needs_clang
@pytest.mark.parametrize("body, diagnostic", [
    ("\treturn ONVM_BPF_PASS\n", "expected ';'"),
    ("\treturn undeclared_helper(frame[0]);\n", "implicit declaration of function"),
    ("\tvolatile unsigned char big[600];\n\tbig[frame[0]] = 1;\n\treturn big[frame[1]];\n",
     "BPF stack limit of 512 bytes is exceeded"),
])
def test_a_program_that_does_not_compile_gets_clangs_words_and_one_line(tmp_path, body,
                                                                        diagnostic):
    src = tmp_path / "bad.c"
    src.write_text('#include <onvm/bpf.h>\nONVM_BPF_PROGRAM("onvm") int\n'
                   "prog(unsigned char *frame)\n{\n" + body + "}\n")
    done = build(str(src), "-o", str(tmp_path / "bad.o"))
    assert done.returncode == 1
    lines = done.stderr.splitlines()
    assert lines[-1] == f"onvm-bpf: {src} did not compile", done.stderr
    assert diagnostic in done.stderr and "error" in done.stderr
    assert "Traceback" not in done.stderr and not (tmp_path / "bad.o").exists()


def test_without_clang_one_line_names_the_package(tmp_path):
    src = tmp_path / "prog.c"
    src.write_text(PROGRAM)
    done = subprocess.run([ONVM_BPF, "build", str(src)], env={"PATH": str(tmp_path / "no-bin")},
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        "onvm-bpf: error: clang not found: install it with `apt-get install clang` "
        "(or run scripts/setup.sh)"]


def bpf(id: str, *args: str, says: str) -> Bad:  # noqa: A002
    """onvm-bpf ARGS; {tmp}/prog.c exists."""
    return Bad(id, ("onvm-bpf", *args), 2, says, {"prog.c": PROGRAM})


BAD = [
    bpf("no-command", says="onvm-bpf: error: the following arguments are required: COMMAND"),
    bpf("unknown-command", "compile", says="invalid choice: 'compile'"),
    bpf("build-nothing", "build", says="the following arguments are required: PROG.c"),
    bpf("build-missing", "build", "{tmp}/absent.c", says="absent.c does not exist"),
    bpf("build-directory", "build", "{tmp}", says="is a directory: give the program's .c file"),
    bpf("build-device", "build", "/dev/null", says="/dev/null is not a regular file"),
    bpf("output-in-missing-directory", "build", "{tmp}/prog.c", "-o", "{tmp}/no/such/prog.o",
        says="/no/such does not exist"),
    bpf("output-is-a-directory", "build", "{tmp}/prog.c", "-o", "{tmp}",
        says="is a directory: give a file name such as"),
    bpf("output-is-the-source", "build", "{tmp}/prog.c", "-o", "{tmp}/prog.c",
        says="is the program itself: give another -o"),
    bpf("output-empty", "build", "{tmp}/prog.c", "-o", "", says="-o takes a file name"),
    bpf("output-no-value", "build", "{tmp}/prog.c", "-o", says="argument -o: expected one"),
    bpf("include-missing", "build", "{tmp}/prog.c", "-I", "{tmp}/absent",
        says="absent: no such directory"),
    bpf("include-a-file", "build", "{tmp}/prog.c", "-I", "{tmp}/prog.c",
        says="prog.c: not a directory"),
    bpf("define-digit", "build", "{tmp}/prog.c", "-D", "1X", says="-D 1X: give NAME or NAME="),
    bpf("define-dash", "build", "{tmp}/prog.c", "-D", "A-B=1", says="NAME a C identifier"),
    bpf("define-empty", "build", "{tmp}/prog.c", "-D", "", says="-D : give NAME"),
    bpf("define-equals", "build", "{tmp}/prog.c", "-D", "=1", says="-D =1: give NAME"),
    bpf("define-long", "build", "{tmp}/prog.c", "-D", "X" * 5000 + "-",
        says="-D " + "X" * 24 + "...: give NAME"),
    bpf("unknown-option", "build", "{tmp}/prog.c", "--mcpu=v3",
        says="unrecognized arguments: --mcpu=v3"),
    bpf("abbreviated-option", "build", "{tmp}/prog.c", "--verb",
        says="unrecognized arguments: --verb"),
    bpf("include-dir-argument", "include-dir", "x", says="unrecognized arguments: x"),
]


@pytest.mark.parametrize("case", params(BAD))
def test_bad_arguments_are_one_line_and_exit_2(case, tmp_path):
    line = run_case(case, tmp_path, "unused")
    assert line.startswith("onvm-bpf"), line
    assert not list(tmp_path.glob("*.o")), "nothing was built"
