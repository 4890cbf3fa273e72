# SPDX-License-Identifier: BSD-3-Clause
"""onvm.pydpdk: cffi bindings to DPDK and to the onvm native library.

`ffi` and `lib` are the raw bindings (out-of-line API mode, built by meson
from native/pydpdk). The helpers here turn DPDK return codes into
DpdkError with rte_strerror's text; nothing else in onvm touches cdata
without going through a module that owns it.
"""

from __future__ import annotations

from collections.abc import Sequence

from onvm.errors import DpdkError
from onvm.pydpdk._pydpdk import ffi, lib

__all__ = ["ffi", "lib", "check", "check_ptr", "strerror", "eal_init", "dpdk_version"]


def strerror(errno: int) -> str:
    """rte_strerror() text for a positive errno."""
    return ffi.string(lib.rte_strerror(errno)).decode(errors="replace")


def check(rc: int, what: str, error: type[DpdkError] = DpdkError) -> int:
    """Return rc if >= 0, else raise `error` naming `what`.

    DPDK returns either -errno, or -1 with rte_errno set; both are handled.
    """
    if rc >= 0:
        return rc
    errno = -rc
    if rc == -1 and lib.pydpdk_errno() != 0:
        errno = lib.pydpdk_errno()
    raise error(what, errno, strerror(errno))


def check_ptr(ptr, what: str, error: type[DpdkError] = DpdkError):
    """Return ptr if not NULL, else raise `error` with rte_errno's text."""
    if ptr == ffi.NULL:
        errno = lib.pydpdk_errno()
        raise error(what, errno, strerror(errno))
    return ptr


def eal_init(args: Sequence[str]) -> int:
    """Initialise the EAL with argv `args` (args[0] is the program name)."""
    keep = [ffi.new("char[]", a.encode()) for a in args]
    argv = ffi.new("char *[]", keep + [ffi.NULL])
    return check(lib.rte_eal_init(len(args), argv), "DPDK EAL initialisation failed")


def dpdk_version() -> str:
    """The version string of the DPDK libraries in use."""
    return ffi.string(lib.rte_version()).decode()
