# SPDX-License-Identifier: BSD-3-Clause
"""Emit the C source of one side's cffi extension.

    gen_binding.py SPEC.py OUTPUT.c CDEF_DIR INCLUDE_DIR...

SPEC.py (native/pydpdk/bind_*.py) names the extension, the headers it
compiles against, the DPDK declaration files it reads, and the functions,
structs and callbacks its side binds. The declarations themselves are taken
from those headers, with what they need pulled in after them, so a change to
an onvm header reaches Python at the next build. cffi runs in out-of-line API
mode: the compiler checks every declaration against the real headers, and
static assertions check the values the contract generator read.
"""

from __future__ import annotations

import re
import runpy
import sys
from pathlib import Path

import cffi

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cheader import Decl, HeaderError, read_headers  # noqa: E402

_STRUCT_REF = re.compile(r"\bstruct (\w+)\s*(\**)")
_IDENT = re.compile(r"[A-Za-z_]\w*")


def _find(name: str, dirs: list[Path]) -> Path:
    for d in dirs:
        if (d / name).is_file():
            return d / name
    raise HeaderError(f"header {name} is in none of {', '.join(map(str, dirs))}")


class Binding:
    def __init__(self, spec: dict, cdef_dir: Path, include_dirs: list[Path]) -> None:
        self.spec = spec
        self.cdef_dir = cdef_dir
        self.dpdk = read_headers([cdef_dir / f for f in spec["DPDK"]])
        self.headers = [_find(h, include_dirs) for h in spec["INCLUDES"]]
        self.onvm = read_headers(self.headers)
        clash = set(self.dpdk) & set(self.onvm)
        if clash:
            raise HeaderError(f"declared both in cdef/ and in a header: {sorted(clash)}")
        self.decls: dict[str, Decl] = {**self.dpdk, **self.onvm}
        self.defines = {k: d for k, d in self.onvm.items() if d.kind == "define"}
        self.full: list[str] = []  # structs, typedefs, functions, in dependency order
        self.opaque: set[str] = set()

    # ---- which declarations ----

    def _take(self, name: str) -> None:
        if name in self.full:
            return
        decl = self.decls.get(name)
        if decl is None:
            raise HeaderError(f"{self.spec['MODULE']} binds {name}, which no header declares")
        if decl.kind == "define":
            raise HeaderError(f"{name}: constants reach Python through onvm.contract, "
                              "not the bindings")
        self._needs(decl)
        self.full.append(name)

    def _needs(self, decl: Decl) -> None:
        text = decl.text
        if decl.kind == "struct":
            text = " ".join(f.text for f in decl.fields)
        for tag, stars in _STRUCT_REF.findall(text):
            ref = f"struct {tag}"
            if ref == decl.name:
                continue
            if stars or decl.kind != "struct":
                self.opaque.add(ref)  # a pointer: the name is enough
            else:
                self._take(ref)  # held by value: its layout is needed
        for word in _IDENT.findall(text):
            dep = self.decls.get(word)
            if dep is not None and dep.kind == "typedef" and word != decl.name:
                self._take(word)

    # ---- rendering ----

    def _dim(self, dim: str, first: bool) -> str:
        if first or dim == "...":
            return "..."
        if dim.isdigit():
            return dim
        if dim in self.defines and isinstance(self.defines[dim].value, int):
            return str(self.defines[dim].value)
        raise HeaderError(f"array dimension {dim} is not a known integer")

    def _render(self, decl: Decl) -> str:
        if decl.kind != "struct" or decl.name in self.dpdk:
            return decl.text
        lines = []
        for f in decl.fields:
            if "(*)" in f.ctype:
                lines.append(f"\t{f.text};")
                continue
            dims = "".join(f"[{self._dim(d, i == 0)}]" for i, d in enumerate(f.dims))
            lines.append(f"\t{f.ctype} {f.name}{dims};".replace("* ", "*"))
        # The compiler lays the struct out (alignment attributes included).
        return f"{decl.name} {{\n" + "\n".join(lines) + "\n\t...;\n};"

    def cdef(self) -> str:
        for name in self.spec["BIND"]:
            self._take(name)
        for typedef in self.spec["CALLBACKS"].values():
            self._take(typedef)
        out = [f"{name};" for name in sorted(self.opaque - set(self.full))]
        out += [self._render(self.decls[name]) for name in self.full]
        for fn, typedef in self.spec["CALLBACKS"].items():
            m = re.fullmatch(r"typedef (.*?)\(\s*\*\s*\w+\s*\)\s*(\(.*\));",
                             self.decls[typedef].text)
            out.append(f'extern "Python" {m.group(1).strip()} {fn}{m.group(2)};')
        return "\n".join(out) + "\n"

    def source(self) -> str:
        # Each cdef file's first line names the DPDK headers it mirrors.
        lines = []
        for name in self.spec["DPDK"]:
            first = (self.cdef_dir / name).read_text().split("\n", 2)[1]
            lines += [f"#include <{h}>" for h in re.findall(r"\b(rte_\w+\.h)\b", first)]
        for inc in self.spec["INCLUDES"]:
            lines.append(f"#include <{inc}>" if inc.startswith("onvm/") else f'#include "{inc}"')
        # The Python contract (onvm.contract) is generated by the same reader:
        # the compiler confirms each value it read.
        for name, decl in self.onvm.items():
            if decl.kind == "define" and isinstance(decl.value, int):
                lines.append(f'_Static_assert(({name}) == {decl.value}ULL, "{name}");')
            elif decl.kind == "define" and isinstance(decl.value, str):
                lines.append(f'_Static_assert(sizeof({name}) == {len(decl.value.encode()) + 1},'
                             f' "{name}");')
            elif decl.kind == "enum":
                lines += [f'_Static_assert({m} == {v}, "{m}");' for m, v in decl.members]
        return "\n".join(lines) + "\n"


def main() -> None:
    spec_path, out, cdef_dir, *include_dirs = sys.argv[1:]
    spec = runpy.run_path(spec_path)
    try:
        binding = Binding(spec, Path(cdef_dir), [Path(d) for d in include_dirs])
        cdef = binding.cdef()
    except HeaderError as e:
        sys.exit(f"gen_binding: {Path(spec_path).name}: {e}")
    ffi = cffi.FFI()
    ffi.cdef(cdef)
    ffi.set_source(spec["MODULE"], binding.source())
    ffi.emit_c_code(out)


if __name__ == "__main__":
    main()
