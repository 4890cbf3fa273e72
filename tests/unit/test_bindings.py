# SPDX-License-Identifier: BSD-3-Clause
"""onvm.pydpdk without EAL: the C contract as Python sees it, and the
return-code-to-exception helpers."""

from __future__ import annotations

import errno
import os

import pytest

from onvm.errors import DpdkError, OnvmError, PortError
from onvm.manager import config as configlib
from onvm.nflib import Action
from onvm.pydpdk import check, check_ptr, ffi, lib, strerror

# ---- actions ----


def test_action_values_equal_the_c_enum():
    assert Action.DROP == lib.ONVM_ACTION_DROP
    assert Action.NEXT == lib.ONVM_ACTION_NEXT
    assert Action.TONF == lib.ONVM_ACTION_TONF
    assert Action.OUT == lib.ONVM_ACTION_OUT


def test_action_members_are_exactly_the_c_enum():
    c_enum = ffi.typeof("enum onvm_action").relements
    c_actions = {name.removeprefix("ONVM_ACTION_"): value for name, value in c_enum.items()}
    assert {a.name: a.value for a in Action} == c_actions


# ---- limits ----


@pytest.mark.parametrize(
    "c_name, py_value",
    [
        ("ONVM_MAX_SERVICES", configlib.MAX_SERVICES),
        ("ONVM_MAX_PORTS", configlib.MAX_PORTS),
        ("ONVM_MAX_CHAIN_HOPS", configlib.MAX_CHAIN_HOPS),
        ("ONVM_MAX_WORKERS", configlib.MAX_WORKERS),
    ],
)
def test_config_limits_equal_the_c_limits(c_name, py_value):
    assert getattr(lib, c_name) == py_value


def test_config_burst_limit_is_the_c_burst_max():
    two_cpus = {0, 1}
    configlib.Config(burst_size=lib.ONVM_BURST_MAX).validate(available_cpus=two_cpus)
    with pytest.raises(configlib.ConfigError):
        configlib.Config(burst_size=lib.ONVM_BURST_MAX + 1).validate(available_cpus=two_cpus)


def test_shared_tables_have_the_c_limits():
    shared = ffi.new("struct onvm_shared *")
    assert len(shared.nfs) == lib.ONVM_MAX_NFS
    assert len(shared.ports) == lib.ONVM_MAX_PORTS
    assert len(shared.services) == lib.ONVM_MAX_SERVICES
    assert len(shared.workers) == lib.ONVM_MAX_WORKERS
    assert len(shared.chains.bodies[0].hops) == lib.ONVM_MAX_CHAIN_HOPS


# ---- strerror ----


@pytest.mark.parametrize("code", [errno.EINVAL, errno.ENOENT, errno.ENOMEM, errno.EEXIST])
def test_strerror_of_a_system_errno_is_the_libc_text(code):
    assert strerror(code) == os.strerror(code)


def test_strerror_of_einval():
    assert "Invalid argument" in strerror(22)


def test_strerror_knows_dpdk_errnos():
    # E_RTE_SECONDARY: DPDK's own code above the system range.
    assert "secondary" in strerror(1001).lower()


# ---- check ----


def test_check_returns_non_negative_rc():
    assert check(5, "anything") == 5
    assert check(0, "anything") == 0


def test_check_negative_errno_raises_dpdk_error_with_strerror_text():
    with pytest.raises(DpdkError) as err:
        check(-22, "configuring port 0")
    e = err.value
    assert e.errno == 22
    assert e.detail == strerror(22)
    assert "Invalid argument" in str(e)
    assert str(e).startswith("configuring port 0")
    assert isinstance(e, OnvmError)


def test_check_raises_the_error_class_it_is_given():
    with pytest.raises(PortError) as err:
        check(-errno.ENODEV, "probing net_foo", PortError)
    assert err.value.errno == errno.ENODEV
    assert os.strerror(errno.ENODEV) in str(err.value)


def test_check_minus_one_raises_with_rte_errno_or_eperm():
    """-1 means "see rte_errno"; with rte_errno unset it can only be -EPERM."""
    rte_errno = lib.pydpdk_errno()
    with pytest.raises(DpdkError) as err:
        check(-1, "a call that sets rte_errno")
    expected = rte_errno or errno.EPERM
    assert err.value.errno == expected
    assert str(err.value) == f"a call that sets rte_errno: {strerror(expected)}"


def test_check_ptr_returns_the_pointer():
    ptr = ffi.new("int *", 7)
    assert check_ptr(ptr, "allocating") is ptr


def test_check_ptr_null_raises():
    with pytest.raises(DpdkError, match="^looking up ring onvm_nf1_rx: "):
        check_ptr(ffi.NULL, "looking up ring onvm_nf1_rx")


def test_check_ptr_raises_the_error_class_it_is_given():
    with pytest.raises(PortError):
        check_ptr(ffi.NULL, "port", PortError)
