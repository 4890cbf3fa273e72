# SPDX-License-Identifier: BSD-3-Clause
"""The manager's binding: EAL and ports, and the native data plane's calls
(onvm/manager.h). Only onvm.manager imports it."""

from __future__ import annotations

from collections.abc import Sequence

from onvm.pydpdk import Binding
from onvm.pydpdk._manager import ffi, lib

__all__ = ["ffi", "lib", "check", "check_ptr", "strerror", "eal_init"]

_binding = Binding(ffi, lib)
check, check_ptr, strerror = _binding.check, _binding.check_ptr, _binding.strerror


def eal_init(args: Sequence[str]) -> int:
    """Initialise the EAL with argv `args` (args[0] is the program name)."""
    keep = [ffi.new("char[]", a.encode()) for a in args]
    argv = ffi.new("char *[]", keep + [ffi.NULL])
    return check(lib.rte_eal_init(len(args), argv), "DPDK EAL initialisation failed")
