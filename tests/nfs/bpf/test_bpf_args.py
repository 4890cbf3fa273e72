# SPDX-License-Identifier: BSD-3-Clause
"""bpf's own options, each wrong: one line naming the problem, exit code 2,
no traceback. The NF reads them before it joins a manager, so none of
these needs one (the name given is nobody's: a case that went on to attach
would say so instead). Refusals that need the manager (filters libpcap
rejects, programs the validator rejects) are in test_bpf_refusals.py."""

from __future__ import annotations

import secrets
import shutil

import pytest

from onvm.manager.bringup import runtime
from tests.support.bad_input import BIG, Bad, params, run_case

pytestmark = pytest.mark.timeout(60)

USAGE = 2
HUGE = "99999999999999999999"  # past any 64-bit integer
GOOD_MAP = "counts:hash:4:8:16"


def bpf(id: str, *args: str, says: str) -> Bad:  # noqa: A002
    """`onvm-nf bpf` given its own options `args`; {tmp}/prog.o exists."""
    return Bad(id, ("onvm-nf", "bpf", "--service", "1", "--name", "{mgr}", "--", *args), USAGE,
               says, {"prog.o": "not an object, never read: arguments come first\n"})


def bad_map(id: str, spec: str, says: str) -> Bad:  # noqa: A002
    return bpf(id, "--program", "{tmp}/prog.o", "--map", spec, says=says)


SHAPES = "key bytes 1-64, value bytes 1-1024, entries 1-1048576"

CHOICE = [
    bpf("nothing", says="give --program PROG.o or --filter 'EXPR'"),
    bpf("program-and-filter", "--program", "{tmp}/prog.o", "--filter", "tcp",
        says="give --program or --filter, not both"),
    bpf("invert-with-program", "--program", "{tmp}/prog.o", "--invert",
        says="--invert is for --filter"),
    bpf("section-with-filter", "--filter", "tcp", "--section", "onvm",
        says="--section is for --program"),
    bpf("only-section", "--section", "onvm", says="give --program PROG.o or --filter"),
    bpf("unknown-option", "--bogus", says="unknown option '--bogus'"),
    bpf("stray-argument", "--filter", "tcp", "and", "udp",
        says="unexpected argument 'and'"),
]

VALUES = [
    bpf("program-empty", "--program", "", says="--program takes a value"),
    bpf("program-no-value", "--program", says="--program needs a value"),
    bpf("program-missing", "--program", "{tmp}/absent.o",
        says="absent.o: No such file or directory"),
    bpf("program-directory", "--program", "{tmp}", says="is not a file: give the .o"),
    bpf("program-too-long", "--program", "/" + "p" * 300,
        says="--program is longer than 255 characters"),
    bpf("section-empty", "--program", "{tmp}/prog.o", "--section", "",
        says="--section takes a value"),
    bpf("section-too-long", "--program", "{tmp}/prog.o", "--section", "s" * 64,
        says="--section is longer than 63 characters"),
    bpf("filter-empty", "--filter", "", says="--filter takes a value"),
    bpf("filter-no-value", "--filter", says="--filter needs a value"),
    bpf("filter-too-long", "--filter", "tcp or " * 50, says="--filter is longer than 255"),
]

MAPS = [
    bad_map("map-four-fields", "counts:hash:4:8", "needs five fields"),
    bad_map("map-six-fields", "counts:hash:4:8:16:1", "needs five fields"),
    bad_map("map-empty", "", "needs five fields"),
    bad_map("map-empty-type", "counts::4:8:16", "needs five fields"),
    bad_map("map-no-name", ":hash:4:8:16", "needs five fields"),
    bad_map("map-bad-type", "counts:tree:4:8:16",
            "the type is hash, array, percpu_hash or percpu_array"),
    bad_map("map-type-number", "counts:1:4:8:16", "the type is hash, array"),
    bad_map("map-key-zero", "counts:hash:0:8:16", SHAPES),
    bad_map("map-key-65", "counts:hash:65:8:16", SHAPES),
    bad_map("map-key-huge", f"counts:hash:{HUGE}:8:16", SHAPES),
    bad_map("map-entries-100-digits", f"counts:hash:4:8:{'9' * 100}", SHAPES),
    bad_map("map-entries-5000-digits", f"counts:hash:4:8:{BIG}", "is too long"),
    bad_map("map-key-negative", "counts:hash:-4:8:16", SHAPES),
    bad_map("map-key-plus", "counts:hash:+4:8:16", SHAPES),
    bad_map("map-key-space", "counts:hash: 4:8:16", SHAPES),
    bad_map("map-key-hex", "counts:hash:0x4:8:16", SHAPES),
    bad_map("map-key-fraction", "counts:hash:4.5:8:16", SHAPES),
    bad_map("map-value-zero", "counts:hash:4:0:16", SHAPES),
    bad_map("map-value-1025", "counts:hash:4:1025:16", SHAPES),
    bad_map("map-value-nan", "counts:hash:4:NaN:16", SHAPES),
    bad_map("map-value-huge", f"counts:hash:4:{HUGE}:16", SHAPES),
    bad_map("map-entries-zero", "counts:hash:4:8:0", SHAPES),
    bad_map("map-entries-past-limit", "counts:hash:4:8:1048577", SHAPES),
    bad_map("map-entries-2-to-32", f"counts:hash:4:8:{1 << 32}", SHAPES),
    bad_map("map-entries-negative", "counts:hash:4:8:-1", SHAPES),
    bad_map("map-entries-inf", "counts:hash:4:8:inf", SHAPES),
    bad_map("map-entries-huge", f"counts:hash:4:8:{HUGE}", SHAPES),
    bad_map("map-array-key-8", "counts:array:8:8:16", "array keys are 4-byte indexes"),
    bad_map("map-percpu-value-12", "counts:percpu_hash:4:12:16",
            "per-CPU values are 8-byte counters: a multiple of 8 bytes"),
    bad_map("map-name-digit", "9counts:hash:4:8:16", "a name is a C name"),
    bad_map("map-name-dash", "my-counts:hash:4:8:16", "a name is a C name"),
    bad_map("map-name-32", "c" * 32 + ":hash:4:8:16", "names are 1-31 characters"),
    bad_map("map-too-long", "c" * 200 + ":hash:4:8:16", "is too long"),
    bpf("map-twice", "--program", "{tmp}/prog.o", "--map", GOOD_MAP, "--map",
        "counts:array:4:8:16", says="--map counts:array:4:8:16: that name twice"),
    bpf("map-17", "--program", "{tmp}/prog.o",
        *[arg for i in range(17) for arg in ("--map", f"m{i}:hash:4:8:16")],
        says="more than 16 maps (--map m16:hash:4:8:16)"),
    bpf("map-no-value", "--program", "{tmp}/prog.o", "--map", says="--map needs a value"),
]

CASES = CHOICE + VALUES + MAPS


@pytest.fixture
def manager_name():
    """A name no manager uses; nothing may be left under it."""
    name = f"bb-{secrets.token_hex(4)}"
    yield name
    left = [p for p in (runtime.RUN_ROOT / name, runtime.DPDK_RUN_ROOT /
                        runtime.file_prefix(name)) if p.exists()]
    for path in left:
        shutil.rmtree(path, ignore_errors=True)
    assert runtime.remove_dpdk_files(name) == 0 and not left, f"left behind: {left}"


@pytest.mark.parametrize("case", params(CASES))
def test_bad_option_is_one_line_and_exit_2(case, tmp_path, manager_name):
    line = run_case(case, tmp_path, manager_name)
    assert line.startswith("bpf: "), line


def test_help_is_the_usage_and_exit_0(tmp_path, manager_name):
    help_case = Bad("help", ("onvm-nf", "bpf", "--service", "1", "--name", "{mgr}", "--",
                             "--help"), 0, "usage: bpf --service ID -- (--program PROG.o")
    run_case(help_case, tmp_path, manager_name)
