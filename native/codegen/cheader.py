# SPDX-License-Identifier: BSD-3-Clause
"""Read onvm's C headers into declarations the generators can use.

The headers are the contract between C and Python, written once; this
module lets the build derive the Python side from them instead of a person
copying it. It reads the subset of C that onvm's headers (and the cffi
declaration files in native/pydpdk/cdef/) are written in: object-like
#defines of integer or string literals, enums, structs, typedefs, function
prototypes and static inline functions. Anything else it does not
understand fails the build with the file and the text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

# Attributes and qualifiers that change nothing cffi needs to know: the
# layout comes from the compiler anyway ("...;" closes every onvm struct).
_ATTRIBUTES = re.compile(r"\b(__rte_\w+|static|inline|volatile|RTE_STD_C11)\b")
_INT = re.compile(r"(0[xX][0-9a-fA-F]+|[0-9]+)[uUlL]*")
_STRINGS = re.compile(r'(\s*"(?:[^"\\]|\\.)*"\s*)+')
_IDENT = re.compile(r"[A-Za-z_][A-Za-z_0-9]*")


class HeaderError(Exception):
    """A header uses C this reader does not handle."""


@dataclass
class Field:
    ctype: str  # "uint16_t", "struct rte_ring *", "int (*)(...)" for function pointers
    name: str
    dims: list[str]  # array dimensions as written, outermost first
    text: str  # the whole declaration, without its ';'


@dataclass
class Decl:
    kind: str  # define, enum, struct, opaque, typedef, function
    name: str  # ONVM_X, enum tag, "struct tag", typedef or function name
    text: str  # C text without comments, ending in ';'
    header: str
    value: int | str | None = None  # define
    comment: str = ""  # define: its trailing comment
    members: list[tuple[str, int]] = field(default_factory=list)  # enum
    fields: list[Field] = field(default_factory=list)  # struct


def _strip_comments(text: str) -> str:
    # A comment becomes the newlines it held, so line structure stays.
    text = re.sub(r"/\*.*?\*/", lambda m: "\n" * m.group(0).count("\n"), text, flags=re.S)
    return re.sub(r"//[^\n]*", "", text)


def _logical_lines(text: str) -> list[str]:
    """Lines with backslash continuations joined."""
    return text.replace("\\\n", " ").split("\n")


def _literal(value: str, defines: dict[str, Decl]) -> int | str | None:
    value = value.strip()
    if m := _INT.fullmatch(value):
        return int(m.group(1), 0)
    if _STRINGS.fullmatch(value):
        return "".join(re.findall(r'"((?:[^"\\]|\\.)*)"', value)).encode().decode(
            "unicode_escape")
    if value in defines:
        return defines[value].value
    if m := re.fullmatch(r"\((.*)\)", value):
        return _literal(m.group(1), defines)
    return None


def _defines(text: str, header: str, known: dict[str, Decl]) -> list[Decl]:
    out = []
    for line in _logical_lines(text):
        m = re.match(r"\s*#\s*define\s+(\w+)(\(?)(.*)$", line)
        if not m or m.group(2):  # not a define, or a function-like macro
            continue
        name, rest = m.group(1), m.group(3)
        comment = " ".join(re.findall(r"/\*(.*?)\*/", rest)).strip()
        value_text = re.sub(r"/\*.*?\*/", "", rest).strip()
        if not value_text:  # an include guard
            continue
        if value_text == "...":  # a cffi declaration file: the compiler knows
            out.append(Decl("define", name, f"#define {name} ...", header))
            continue
        value = _literal(value_text, known)
        if value is None:
            raise HeaderError(f"{header}: #define {name} {value_text}: not an integer or "
                              "string literal")
        decl = Decl("define", name, f"#define {name} ...", header, value=value,
                    comment=comment)
        known[name] = decl
        out.append(decl)
    return out


def _drop_cplusplus_and_directives(text: str) -> str:
    text = re.sub(r"#ifdef __cplusplus.*?#endif", "", text, flags=re.S)
    return "\n".join(ln for ln in _logical_lines(text) if not ln.lstrip().startswith("#"))


def _statements(text: str, header: str) -> list[str]:
    """Top-level statements; a function's body becomes a ';'."""
    out, cur, depth, i = [], [], 0, 0
    while i < len(text):
        c = text[i]
        if c == "{":
            if depth == 0 and "".join(cur).strip().endswith(")"):
                # A function definition: keep its prototype, skip its body.
                level, i = 1, i + 1
                while level:
                    if i >= len(text):
                        raise HeaderError(f"{header}: unbalanced braces")
                    level += {"{": 1, "}": -1}.get(text[i], 0)
                    i += 1
                out.append("".join(cur).strip() + ";")
                cur = []
                continue
            depth += 1
        elif c == "}":
            depth -= 1
        if c == ";" and depth == 0:
            out.append("".join(cur).strip() + ";")
            cur = []
        else:
            cur.append(c)
        i += 1
    rest = "".join(cur).strip()
    if rest:
        raise HeaderError(f"{header}: text after the last declaration: {rest[:60]!r}")
    return [s for s in out if s != ";"]


def _clean(text: str) -> str:
    text = re.sub(r"__attribute__\s*\(\(.*?\)\)", "", text)
    text = _ATTRIBUTES.sub("", text)
    return re.sub(r"\s+", " ", text).strip()


def _split_top(text: str, sep: str) -> list[str]:
    parts, cur, depth = [], [], 0
    for c in text:
        depth += {"(": 1, ")": -1}.get(c, 0)
        if c == sep and depth == 0:
            parts.append("".join(cur).strip())
            cur = []
        else:
            cur.append(c)
    if "".join(cur).strip():
        parts.append("".join(cur).strip())
    return parts


def _field(text: str, header: str, struct: str) -> Field:
    if text == "...":
        return Field("...", "...", [], "...")
    if m := re.fullmatch(r"(.*?)\(\s*\*\s*(\w+)\s*\)\s*\((.*)\)", text):
        return Field(f"{m.group(1).strip()} (*)({m.group(3)})", m.group(2), [], text)
    if len(_split_top(text, ",")) > 1:
        raise HeaderError(f"{header}: struct {struct}: one field per declaration: {text}")
    m = re.fullmatch(r"(.*?)(\w+)\s*((?:\[[^\]]*\]\s*)*)", text)
    if not m:
        raise HeaderError(f"{header}: struct {struct}: cannot read field {text!r}")
    dims = [d.strip() for d in re.findall(r"\[([^\]]*)\]", m.group(3))]
    return Field(m.group(1).strip(), m.group(2), dims, text)


def _classify(stmt: str, header: str) -> Decl | None:
    s = _clean(stmt)
    if s.startswith("extern "):
        return None  # variables are not part of what Python binds
    if s.startswith("typedef "):
        m = re.search(r"\(\s*\*\s*(\w+)\s*\)", s) or re.search(r"(\w+)\s*;$", s)
        return Decl("typedef", m.group(1), s, header)
    if m := re.fullmatch(r"struct (\w+)\s*;", s):
        return Decl("opaque", f"struct {m.group(1)}", f"struct {m.group(1)};", header)
    if m := re.fullmatch(r"struct (\w+)\s*\{(.*)\}\s*;", s):
        name = f"struct {m.group(1)}"
        fields = [_field(f.strip(), header, name) for f in _split_top(m.group(2), ";")]
        return Decl("struct", name, s, header, fields=fields)
    if m := re.fullmatch(r"enum (\w+)\s*\{(.*)\}\s*;", s):
        members, nxt = [], 0
        for item in (x.strip() for x in m.group(2).split(",")):
            if not item or item == "...":
                continue
            name, _, value = (p.strip() for p in item.partition("="))
            nxt = int(_INT.fullmatch(value).group(1), 0) if value else nxt
            members.append((name, nxt))
            nxt += 1
        return Decl("enum", m.group(1), s, header, members=members)
    if "(" in s:
        head = s[: s.index("(")]
        names = _IDENT.findall(head)
        if not names:
            raise HeaderError(f"{header}: cannot read {s!r}")
        return Decl("function", names[-1], s, header)
    raise HeaderError(f"{header}: cannot read {s!r}")


def read_header(path: Path, defines: dict[str, Decl] | None = None) -> list[Decl]:
    """The declarations of one header, in order. `defines` collects the
    defines seen so far, so a header may use those of the ones it includes."""
    known = {} if defines is None else defines
    raw = path.read_text()
    header = path.name
    decls = _defines(_strip_comments_keep_define_comments(raw), header, known)
    body = _drop_cplusplus_and_directives(_strip_comments(raw))
    for stmt in _statements(body, header):
        decl = _classify(stmt, header)
        if decl is not None:
            decls.append(decl)
    return decls


def _strip_comments_keep_define_comments(text: str) -> str:
    """Block comments stay on #define lines (they carry the field groups);
    elsewhere they go, so a commented-out #define is never read."""
    out = []
    for line in _logical_lines(re.sub(r"/\*.*?\*/",
                                      lambda m: m.group(0) if "\n" not in m.group(0) else "",
                                      text, flags=re.S)):
        out.append(line if line.lstrip().startswith("#") else "")
    return "\n".join(out)


def read_headers(paths: list[Path]) -> dict[str, Decl]:
    """Every declaration of `paths` by name; a name declared twice must be
    declared the same way (an opaque struct may be completed later)."""
    defines: dict[str, Decl] = {}
    out: dict[str, Decl] = {}
    for path in paths:
        for decl in read_header(path, defines):
            old = out.get(decl.name)
            if old is not None and decl.kind == "opaque":
                continue
            if old is not None and old.kind != "opaque" and old.text != decl.text:
                raise HeaderError(f"{decl.name} is declared in {old.header} and, differently, "
                                  f"in {decl.header}")
            out[decl.name] = decl
    return out
