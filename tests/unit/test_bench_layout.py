# SPDX-License-Identifier: BSD-3-Clause
"""onvm-bench --cores LAYOUT: parsing, the checks before anything starts,
and where the NFs of a scenario go."""

from __future__ import annotations

import pytest

from onvm.bench.layout import Layout, parse

BIG = set(range(32))  # a 32-CPU machine


def null(text: str, cpus: set[int] = BIG) -> Layout:
    """As the null scenario takes it: testpmd runs alone, 2 to 9 CPUs."""
    return parse(text, testpmd=(2, 9), testpmd_alone=True, available=cpus)


def test_a_16_cpu_layout():
    layout = null("control=0/workers=1-4/nfs=5-12/testpmd=13-15", set(range(16)))
    assert layout == Layout(control=0, workers=(1, 2, 3, 4), nfs=tuple(range(5, 13)),
                            testpmd=(13, 14, 15))
    assert layout.manager_cores == "0,1,2,3,4"


def test_roles_in_any_order_with_lists_and_spaces():
    layout = null(" testpmd=20,21 / nfs=8,10-11 / workers=2,4 / control=1 ")
    assert layout == Layout(control=1, workers=(2, 4), nfs=(8, 10, 11), testpmd=(20, 21))


def test_the_control_cpu_may_run_a_worker():
    assert null("control=0/workers=0,1/testpmd=0,1", {0, 1}).manager_cores == "0,0,1"


def test_testpmd_may_share_the_managers_cpus_when_it_runs_alone():
    assert null("control=0/workers=1/testpmd=0,1", {0, 1}).testpmd == (0, 1)


def test_nf_placement():
    layout = Layout(control=0, workers=(1,), nfs=(5, 6, 7))
    assert layout.nf_placement(2) == [["--core", "5", "--busy-poll"],
                                      ["--core", "6", "--busy-poll"]]
    assert layout.nf_placement(5) == [["--core", c] for c in ("5", "6", "7", "5", "6")]
    assert Layout(control=0, workers=(1,)).nf_placement(2) == [[], []]


@pytest.mark.parametrize("text, message", [
    ("", "'' is not ROLE=CPUS"),
    ("control", "'control' is not ROLE=CPUS"),
    ("cpu=1/workers=2", "'cpu=1' is not ROLE=CPUS with a role of control, workers, nfs, "
                        "testpmd"),
    ("control=0/control=1/workers=2", "role control is given twice"),
    ("workers=1-4/testpmd=5,6", "the layout needs control="),
    ("control=0/testpmd=5,6", "the layout needs workers="),
    ("control=0,1/workers=2/testpmd=5,6", "control= takes one CPU, not 2"),
    ("control=0/workers=1-9/testpmd=20,21", "workers= takes at most 8 CPU(s)"),
    ("control=0/workers=/testpmd=5,6", "workers=: '' is not a CPU number"),
    ("control=x/workers=1/testpmd=5,6", "control=x: 'x' is not a CPU number (0 to 1023)"),
    ("control=0/workers=1,-2/testpmd=5,6", "'-2' is not a CPU number"),
    ("control=0/workers=4-2/testpmd=5,6", "workers=4-2: range '4-2' runs backwards"),
    ("control=0/workers=1,1/testpmd=5,6", "workers=1,1 names a CPU twice"),
    ("control=0/workers=1/testpmd=5,6/nfs=" + "9" * 5000, "is not a CPU number"),
    ("control=0/workers=1/testpmd=5,6/nfs=1024", "'1024' is not a CPU number (0 to 1023)"),
    ("control=0/workers=1-2/nfs=2,3/testpmd=5,6",
     "CPU 2 is in both workers= and nfs=: roles that run at the same time"),
    ("control=0/workers=1/nfs=0/testpmd=5,6", "CPU 0 is in both control= and nfs="),
    ("control=0/workers=1", "this scenario needs testpmd= with 2 to 9 CPUs, not 0"),
    ("control=0/workers=1/testpmd=5", "needs testpmd= with 2 to 9 CPUs, not 1"),
    ("control=0/workers=1/testpmd=40,41", "CPU 40 does not exist or is not allowed here; "
                                          "available CPUs: 0,1,"),
])
def test_bad_layouts_are_one_line(text, message):
    with pytest.raises(ValueError) as err:
        null(text)
    assert message in str(err.value)
    assert "\n" not in str(err.value) and len(str(err.value)) < 300


def test_scenarios_without_testpmd_refuse_it():
    with pytest.raises(ValueError, match="this scenario runs no testpmd: leave testpmd= out"):
        parse("control=0/workers=1/testpmd=2,3", testpmd=None, available=BIG)
    assert parse("control=0/workers=1/nfs=2-9", testpmd=None, available=BIG).nfs == tuple(
        range(2, 10))


def test_testpmd_beside_the_manager_needs_cpus_of_its_own():
    with pytest.raises(ValueError, match="CPU 1 is in both workers= and testpmd="):
        parse("control=0/workers=1/testpmd=1,2", testpmd=(2, 2), testpmd_alone=False,
              available=BIG)
    with pytest.raises(ValueError, match=r"workers= takes at most 1 CPU\(s\) \(in this "
                                         "scenario\\), not 2"):
        parse("control=0/workers=1,2/testpmd=3,4", testpmd=(2, 2), testpmd_alone=False,
              max_workers=1, available=BIG)
