# SPDX-License-Identifier: BSD-3-Clause
"""`onvm-bench SCENARIO --cores LAYOUT`: which CPU runs what, for machines
with more than the two CPUs the default layouts use.

    --cores control=0/workers=1-4/nfs=5-12/testpmd=13-15

ROLE=CPUS pairs joined by '/', each CPUS a list as the manager's --cores
takes it (0,2,4-7):

    control   the manager's control thread: one CPU
    workers   its data-plane workers, one per CPU (1 to 8); the control CPU
              may be one of them, as with the manager's --cores 0,0,1
    nfs       CPUs for the NFs: each NF busy-polls a CPU of its own while
              there are enough, else they share these CPUs in shared-core
              mode; left out, NFs float in shared-core mode as by default
    testpmd   dpdk-testpmd's lcores; each scenario says what it makes of them

Without --cores a scenario keeps its two-CPU layout. A layout is checked
before anything starts: every CPU must exist here, and roles that run at
the same time share none (the control thread and a worker excepted).
"""

from __future__ import annotations

import argparse
import os
import re
from collections.abc import Callable
from dataclasses import dataclass

from onvm import options
from onvm.contract import MAX_CPU, MAX_WORKERS

ROLES = ("control", "workers", "nfs", "testpmd")
_RANGE = re.compile(r"([0-9]+)(?:-([0-9]+))?")


@dataclass(frozen=True)
class Layout:
    control: int
    workers: tuple[int, ...]
    nfs: tuple[int, ...] = ()
    testpmd: tuple[int, ...] = ()

    @property
    def manager_cores(self) -> str:
        """The manager's --cores: control first, then the workers."""
        return ",".join(map(str, (self.control, *self.workers)))

    def nf_placement(self, count: int) -> list[list[str]]:
        """onvm-nf options of `count` NFs: a CPU each (busy polling) while
        the layout has enough, else shared-core NFs spread over its CPUs;
        no option at all without NF CPUs."""
        if not self.nfs:
            return [[] for _ in range(count)]
        if count <= len(self.nfs):
            return [["--core", str(cpu), "--busy-poll"] for cpu in self.nfs[:count]]
        return [["--core", str(self.nfs[i % len(self.nfs)])] for i in range(count)]

    def describe(self) -> dict:
        return {"control": self.control, "workers": list(self.workers),
                "nfs": list(self.nfs), "testpmd": list(self.testpmd)}


def _cpus(role: str, text: str) -> tuple[int, ...]:
    cpus: list[int] = []
    for item in (s.strip() for s in text.split(",")):
        found = _RANGE.fullmatch(item)
        # However many digits: beyond 5 it is beyond MAX_CPU anyway.
        bounds = [int(g) if len(g) <= 5 else MAX_CPU + 1
                  for g in found.groups() if g] if found else []
        if not found or any(b > MAX_CPU for b in bounds):
            raise ValueError(f"{role}={options.shown(text)}: '{options.shown(item)}' is not a "
                             f"CPU number (0 to {MAX_CPU}) or range such as 4-7")
        if bounds[-1] < bounds[0]:
            raise ValueError(f"{role}={text}: range '{item}' runs backwards")
        cpus.extend(range(bounds[0], bounds[-1] + 1))
    if len(set(cpus)) != len(cpus):
        raise ValueError(f"{role}={options.shown(text)} names a CPU twice")
    return tuple(cpus)


def parse(text: str, *, testpmd: tuple[int, int] | None, testpmd_alone: bool = True,
          max_workers: int = MAX_WORKERS, available: set[int] | None = None) -> Layout:
    """A layout, checked; ValueError with one line otherwise.

    `testpmd`: how many testpmd CPUs the scenario takes (at least, at most),
    None if it runs no testpmd. `testpmd_alone`: testpmd runs while no
    manager does (its CPUs may then be the manager's too). `max_workers`:
    the most workers the scenario can use.
    """
    roles: dict[str, tuple[int, ...]] = {}
    for part in text.split("/"):
        role, eq, cpus = part.strip().partition("=")
        if not eq or role not in ROLES:
            raise ValueError(f"'{options.shown(part)}' is not ROLE=CPUS with a role of "
                             f"{', '.join(ROLES)} (e.g. control=0/workers=1-4/nfs=5-8)")
        if role in roles:
            raise ValueError(f"role {role} is given twice")
        roles[role] = _cpus(role, cpus)
    for role in ("control", "workers"):
        if role not in roles:
            raise ValueError(f"the layout needs {role}= (e.g. control=0/workers=1-4)")
    if len(roles["control"]) != 1:
        raise ValueError(f"control= takes one CPU, not {len(roles['control'])}")
    if len(roles["workers"]) > max_workers:
        what = "the manager's workers" if max_workers == MAX_WORKERS else "in this scenario"
        raise ValueError(f"workers= takes at most {max_workers} CPU(s) ({what}), not "
                         f"{len(roles['workers'])}")
    given = roles.get("testpmd", ())
    if testpmd is None and given:
        raise ValueError("this scenario runs no testpmd: leave testpmd= out")
    if testpmd is not None:
        lo, hi = testpmd
        if not lo <= len(given) <= hi:
            count = str(lo) if lo == hi else f"{lo} to {hi}"
            raise ValueError(f"this scenario needs testpmd= with {count} CPUs, not "
                             f"{len(given)}")
    _disjoint(roles, testpmd_alone)
    cpus = available if available is not None else os.sched_getaffinity(0)
    missing = sorted({c for v in roles.values() for c in v} - cpus)
    if missing:
        raise ValueError(f"CPU {missing[0]} does not exist or is not allowed here; available "
                         f"CPUs: {','.join(map(str, sorted(cpus)))}")
    return Layout(control=roles["control"][0], workers=roles["workers"],
                  nfs=roles.get("nfs", ()), testpmd=given)


def _disjoint(roles: dict[str, tuple[int, ...]], testpmd_alone: bool) -> None:
    together = ["control", "workers", "nfs"] + ([] if testpmd_alone else ["testpmd"])
    for i, a in enumerate(together):
        for b in together[i + 1:]:
            if {a, b} == {"control", "workers"}:
                continue  # the control thread sleeps between its ticks
            shared = sorted(set(roles.get(a, ())) & set(roles.get(b, ())))
            if shared:
                raise ValueError(f"CPU {shared[0]} is in both {a}= and {b}=: roles that run "
                                 "at the same time need CPUs of their own")


def add_arg(parser: argparse.ArgumentParser, testpmd: tuple[int, int] | None,
            testpmd_alone: bool, roles_help: str, max_workers: int = MAX_WORKERS) -> None:
    """The --cores option of a scenario (see the module's doc)."""

    def convert(text: str) -> Layout:
        return parse(text, testpmd=testpmd, testpmd_alone=testpmd_alone,
                     max_workers=max_workers)

    parser.add_argument(
        "--cores", metavar="LAYOUT", type=_argparse_type(convert),
        help="CPUs of each role for a bigger machine, ROLE=CPUS joined by '/', e.g. "
             "control=0/workers=1-4/nfs=5-12/testpmd=13-15; " + roles_help
             + " (default: the two-CPU layout)")


def _argparse_type(convert: Callable[[str], Layout]) -> Callable[[str], Layout]:
    def layout(text: str) -> Layout:
        try:
            return convert(text)
        except ValueError as e:
            raise argparse.ArgumentTypeError(str(e)) from None

    return layout
