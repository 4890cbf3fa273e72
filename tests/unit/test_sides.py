# SPDX-License-Identifier: BSD-3-Clause
"""The two sides stay apart (docs/ARCHITECTURE.md): the manager never loads
the NF library or the bundled NFs, NFs never load the manager, clients load
no DPDK at all, each extension holds only its side's C code, and every
binding an extension declares is called by someone."""

from __future__ import annotations

import json
import pkgutil
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import onvm.manager
import onvm.nflib
from onvm.pydpdk import _manager, _nf

ROOT = Path(__file__).resolve().parents[2]


def modules_of(package) -> list[str]:
    return [package.__name__] + [
        m.name for m in pkgutil.walk_packages(package.__path__, package.__name__ + ".")]


def loaded_after_importing(modules: list[str]) -> dict:
    """sys.modules and the excepthook of a clean interpreter that imported `modules`."""
    code = (
        "import importlib, json, sys\n"
        f"for m in {modules!r}: importlib.import_module(m)\n"
        "print(json.dumps({'modules': sorted(sys.modules),"
        " 'excepthook': sys.excepthook is sys.__excepthook__}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, check=True)
    return json.loads(out.stdout)


def test_the_manager_side_loads_neither_the_nf_library_nor_the_nfs():
    seen = loaded_after_importing(modules_of(onvm.manager))
    nf_side = [m for m in seen["modules"]
               if m.startswith(("onvm.nflib", "onvm.nfs")) or m == "onvm.pydpdk._nf"]
    assert nf_side == []
    assert seen["excepthook"], "something in the manager replaced sys.excepthook"


def test_the_nf_side_loads_nothing_of_the_manager():
    seen = loaded_after_importing(modules_of(onvm.nflib) + ["onvm.nfs.cli"])
    manager_side = [m for m in seen["modules"]
                    if m.startswith("onvm.manager") or m == "onvm.pydpdk._manager"]
    assert manager_side == []


def test_clients_of_a_manager_load_no_dpdk():
    client = [m for m in modules_of(onvm.manager) if m.startswith("onvm.manager.client")]
    seen = loaded_after_importing(client)
    assert [m for m in seen["modules"] if m.startswith("onvm.pydpdk.")] == []
    assert [m for m in seen["modules"] if m.startswith("onvm.manager.")
            and not m.startswith("onvm.manager.client") and m != "onvm.manager.protocol"] == []


def defined_symbols(path: str) -> set[str]:
    """Every symbol the shared object defines (dynamic and, if kept, local)."""
    names = set()
    for args in (["nm", "--defined-only", path], ["nm", "-D", "--defined-only", path]):
        out = subprocess.run(args, capture_output=True, text=True)
        names |= {line.split()[-1] for line in out.stdout.splitlines() if line.strip()}
    return names


@pytest.mark.skipif(shutil.which("nm") is None, reason="nm (binutils) is not installed")
def test_each_extension_holds_only_its_sides_c_code():
    nf, manager = defined_symbols(_nf.__file__), defined_symbols(_manager.__file__)
    assert any(s.startswith("onvm_nflib_") for s in nf)
    assert any(s.startswith("onvm_mgr_") for s in manager)
    assert [s for s in nf if s.startswith(("onvm_mgr_", "__onvm_service", "__onvm_mgr"))] == []
    assert [s for s in manager if s.startswith(("onvm_nflib_", "__onvm_nflib"))] == []


def python_sources(*folders: str) -> str:
    return "\n".join(p.read_text() for folder in folders
                     for p in (ROOT / folder).rglob("*.py"))


@pytest.mark.parametrize("binding, users", [
    (_manager, ("manager", "native/pydpdk", "tests")),
    (_nf, ("nflib", "nfs", "native/pydpdk", "tests")),
])
def test_every_bound_call_and_struct_is_used(binding, users):
    """A declaration nobody calls is dead surface: bind_*.py should not name it."""
    source = python_sources(*users)
    unused = [name for name in dir(binding.lib)
              if not re.search(rf"\b{re.escape(name)}\b", source)]
    assert unused == []
    spec = (ROOT / "native" / "pydpdk" / f"bind_{binding.__name__.rsplit('_', 1)[1]}.py")
    structs = re.findall(r'"struct (\w+)"', spec.read_text())
    unused_structs = [s for s in structs
                      if not re.search(rf"\b{s}\b|\.{s.removeprefix('onvm_')}\b", source)]
    assert unused_structs == []
