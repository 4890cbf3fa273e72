# SPDX-License-Identifier: BSD-3-Clause
"""native/src/nflib/nflib_args.c through the NF binding: the options nflib
takes out of an NF's argv, wherever they are, and the one-line errors."""

from __future__ import annotations

import pytest

from onvm import contract
from onvm.pydpdk.nf import ffi, lib


def parse(*args: str) -> tuple[int, list[str]]:
    """(return value, argv left for the NF) of onvm_nflib_parse_args."""
    argv = ["nf", *args]
    keep = [ffi.new("char[]", a.encode()) for a in argv]
    c_argv = ffi.new("char *[]", [*keep, ffi.NULL])
    rc = lib.onvm_nflib_parse_args(len(keep), c_argv)
    left = [ffi.string(c_argv[i]).decode() for i in range(max(rc, 0))]
    return rc, left


def error() -> str:
    return ffi.string(lib.onvm_nflib_strerror()).decode()


def test_nflib_options_leave_the_nf_its_own_arguments_in_order():
    rc, left = parse("--dest", "3", "--service", "2", "-v", "--name", "lab", "--busy-poll",
                     "--core=1", "x")
    assert rc == 5
    assert left == ["nf", "--dest", "3", "-v", "x"]


def test_everything_after_a_double_dash_is_the_nfs():
    rc, left = parse("--service", "1", "--", "--service", "9", "--name", "x")
    assert left == ["nf", "--service", "9", "--name", "x"]
    assert rc == 5


def test_option_equals_value_works_like_two_words():
    assert parse("--service=4", "--nf-name=mine")[0] == 1


@pytest.mark.parametrize("args, message", [
    ((), "no service id: pass --service ID (1 to 63)"),
    (("--service", "0"), "--service takes a number from 1 to 63, not '0'"),
    (("--service", str(contract.MAX_SERVICES)), "--service takes a number from 1 to 63"),
    (("--service", "1" * 60), "--service takes a number from 1 to 63"),
    (("--service", "2x"), "not '2x'"),
    (("--service", ""), "not ''"),
    (("--service",), "--service needs a value"),
    (("--service", "1", "--core", "-1"), "--core takes a number from 0 to 1023, not '-1'"),
    (("--service", "1", "--core", "1024"), "--core takes a number from 0 to 1023"),
    (("--service", "1", "--name", "a.b"), "--name takes a manager name of 1 to 32 letters"),
    (("--service", "1", "--name", "a" * (contract.NAME_MAX + 1)), "--name takes a manager"),
    (("--service", "1", "--name", ""), "--name takes a manager name"),
])
def test_bad_options_are_refused_with_one_line(args, message):
    rc, _ = parse(*args)
    assert rc < 0
    assert message in error()
    assert "\n" not in error()


def test_every_name_character_of_the_contract_is_accepted():
    rc, _ = parse("--service", "1", "--name", contract.NAME_CHARS[: contract.NAME_MAX])
    assert rc == 1
    rc, _ = parse("--service", "1", "--name", contract.NAME_CHARS[-contract.NAME_MAX:])
    assert rc == 1


def test_dedicated_is_nflibs_and_leaves_the_rest():
    rc, left = parse("--service", "2", "--dedicated", "--dest", "3")
    assert rc == 3
    assert left == ["nf", "--dest", "3"]


def test_dedicated_with_core_is_refused_in_one_line():
    rc, _ = parse("--service", "2", "--dedicated", "--core", "3")
    assert rc < 0
    assert error() == "--dedicated asks the manager for a free CPU and --core 3 names one: " \
                      "give one of them"
