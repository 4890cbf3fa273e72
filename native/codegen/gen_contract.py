# SPDX-License-Identifier: BSD-3-Clause
"""Emit onvm/contract.py: the C/Python contract as Python values.

    gen_contract.py OUTPUT.py HEADER.h...

Every object-like ONVM_* #define of the headers becomes a constant without
its prefix (ONVM_MAX_NFS is MAX_NFS), every enum an IntEnum (enum
onvm_nf_state is NfState, ONVM_NF_RUNNING is NfState.RUNNING), and the
fields of struct onvm_pkt_fields, grouped by the ONVM_FIELDS_* comments
that list them, become BATCH_FIELDS. The extensions' static assertions
(gen_binding.py) confirm each value with the compiler.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cheader import HeaderError, read_headers  # noqa: E402

NUMPY_TYPES = {"uint8_t": "uint8", "uint16_t": "uint16", "uint32_t": "uint32",
               "uint64_t": "uint64"}
# Batch members that are not per-packet fields of a group.
NOT_FIELDS = {"count", "keys", "verdicts"}


def _enum_class(tag: str) -> str:
    return "".join(part.capitalize() for part in tag.removeprefix("onvm_").split("_"))


def _common_prefix(names: list[str]) -> str:
    prefix = os.path.commonprefix(names)
    return prefix[: prefix.rfind("_") + 1]


def _batch_fields(decls) -> tuple[dict, dict]:
    groups = {name.removeprefix("ONVM_FIELDS_").lower(): d
              for name, d in decls.items()
              if name.startswith("ONVM_FIELDS_") and name != "ONVM_FIELDS_ALL"}
    group_of = {}
    for group, d in groups.items():
        for member in (m.strip() for m in d.comment.split(",")):
            if member in group_of:
                raise HeaderError(f"batch field {member} is in two groups")
            group_of[member] = group
    fields = {}
    for f in decls["struct onvm_pkt_fields"].fields:
        if f.name in NOT_FIELDS:
            continue
        if f.name not in group_of:
            raise HeaderError(f"struct onvm_pkt_fields: field {f.name} is in no ONVM_FIELDS_* "
                              "group (list it in the group's comment)")
        if f.ctype not in NUMPY_TYPES or f.dims[:1] != ["ONVM_BATCH_MAX"]:
            raise HeaderError(f"struct onvm_pkt_fields: {f.name} must be an unsigned integer "
                              "array of ONVM_BATCH_MAX")
        fields[f.name] = (NUMPY_TYPES[f.ctype], tuple(int(d) for d in f.dims[1:]),
                          group_of.pop(f.name))
    group_of.pop("keys", None)
    if group_of:
        raise HeaderError(f"ONVM_FIELDS_* comments name unknown fields {sorted(group_of)}")
    return fields, {g: d.value for g, d in groups.items()}


def render(decls) -> str:
    out = [
        "# SPDX-License-Identifier: BSD-3-Clause",
        '"""The C/Python contract, generated from native/include/onvm/*.h at build',
        "time by native/codegen/gen_contract.py: change the header, never this file.",
        "",
        "C's ONVM_X is X here; enum onvm_nf_state is NfState (ONVM_NF_RUNNING is",
        "NfState.RUNNING); BATCH_FIELDS are the arrays of struct onvm_pkt_fields",
        '(name: NumPy type, trailing shape, field group)."""',
        "",
        "import enum",
        "",
    ]
    for name, d in decls.items():
        if d.kind == "define" and name.startswith("ONVM_") and d.value is not None:
            out.append(f"{name.removeprefix('ONVM_')} = {d.value!r}")
    for name, d in decls.items():
        if d.kind != "enum" or not name.startswith("onvm_"):
            continue
        prefix = _common_prefix([m for m, _ in d.members])
        out += ["", "", f"class {_enum_class(name)}(enum.IntEnum):",
                f'    """enum {name}"""', ""]
        out += [f"    {m.removeprefix(prefix)} = {v}" for m, v in d.members]
    fields, groups = _batch_fields(decls)
    out += ["", "", "BATCH_FIELDS = {"]
    out += [f"    {k!r}: {v!r}," for k, v in fields.items()]
    out += ["}", "FIELD_GROUPS = {"]
    out += [f"    {k!r}: {v!r}," for k, v in groups.items()]
    out += ["}", ""]
    return "\n".join(out)


def main() -> None:
    out, *headers = sys.argv[1:]
    try:
        text = render(read_headers([Path(h) for h in headers]))
    except HeaderError as e:
        sys.exit(f"gen_contract: {e}")
    Path(out).write_text(text)


if __name__ == "__main__":
    main()
