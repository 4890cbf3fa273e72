# SPDX-License-Identifier: BSD-3-Clause
"""onvm.pydpdk without EAL: the generated contract against the compiled
layouts, and the return-code-to-exception helpers."""

from __future__ import annotations

import errno
import os

import pytest

from onvm import contract
from onvm.errors import DpdkError, OnvmError, PortError
from onvm.manager.bringup import config as configlib
from onvm.nflib import Action
from onvm.pydpdk.manager import check, check_ptr, ffi, lib, strerror

# ---- actions ----


def test_the_nf_api_actions_are_the_contract_enum():
    assert Action is contract.Action
    assert [(a.name, a.value) for a in Action] == [
        ("DROP", 0), ("NEXT", 1), ("TONF", 2), ("OUT", 3), ("HOLD", 4)]


# ---- limits ----


def test_config_limits_are_the_contract_limits():
    assert (configlib.MAX_SERVICES, configlib.MAX_PORTS, configlib.MAX_CHAIN_HOPS,
            configlib.MAX_WORKERS) == (contract.MAX_SERVICES, contract.MAX_PORTS,
                                       contract.MAX_CHAIN_HOPS, contract.MAX_WORKERS)


def test_config_burst_limit_is_the_c_burst_max():
    two_cpus = {0, 1}
    configlib.Config(burst_size=contract.BURST_MAX).validate(available_cpus=two_cpus)
    with pytest.raises(configlib.ConfigError):
        configlib.Config(burst_size=contract.BURST_MAX + 1).validate(available_cpus=two_cpus)


def test_shared_tables_have_the_c_limits():
    """The compiler's layout (through cffi) and the generated contract agree."""
    shared = ffi.new("struct onvm_shared *")
    assert len(shared.nfs) == contract.MAX_NFS
    assert len(shared.ports) == contract.MAX_PORTS
    assert len(shared.services) == contract.MAX_SERVICES
    assert len(shared.workers) == contract.MAX_WORKERS
    assert len(shared.chains.bodies[0].hops) == contract.MAX_CHAIN_HOPS
    assert len(shared.chains.head) == contract.MAX_CHAINS
    assert len(shared.services[0].bucket_nf) == contract.SERVICE_BUCKETS
    assert len(shared.nfs[0].name) == contract.NF_NAME_LEN


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
