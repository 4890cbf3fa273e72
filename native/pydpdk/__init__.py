# SPDX-License-Identifier: BSD-3-Clause
"""onvm.pydpdk: the raw cffi bindings, one extension per side.

    onvm.pydpdk.manager   the manager's: EAL, ports, the data plane's writes
    onvm.pydpdk.nf        the NF library's: nflib, packets, batches, classifier

Each is built from the headers by native/codegen/gen_binding.py and holds
only what its side calls, so an NF never carries the manager's C API and the
manager never the NF runtime. Importing this package loads neither. Outside
the modules that own cdata, onvm code sees plain Python values.
"""

from __future__ import annotations

from onvm.errors import DpdkError

__all__ = ["Binding"]


class Binding:
    """What turns one extension's DPDK return codes into DpdkError."""

    def __init__(self, ffi, lib) -> None:
        self.ffi, self.lib = ffi, lib

    def strerror(self, errno: int) -> str:
        """rte_strerror() text for a positive errno."""
        return self.ffi.string(self.lib.rte_strerror(errno)).decode(errors="replace")

    def check(self, rc: int, what: str, error: type[DpdkError] = DpdkError) -> int:
        """Return rc if >= 0, else raise `error` naming `what`.

        DPDK returns either -errno, or -1 with rte_errno set; both are handled.
        """
        if rc >= 0:
            return rc
        errno = -rc
        if rc == -1 and self.lib.pydpdk_errno() != 0:
            errno = self.lib.pydpdk_errno()
        raise error(what, errno, self.strerror(errno))

    def check_ptr(self, ptr, what: str, error: type[DpdkError] = DpdkError):
        """Return ptr if not NULL, else raise `error` with rte_errno's text."""
        if ptr == self.ffi.NULL:
            errno = self.lib.pydpdk_errno()
            raise error(what, errno, self.strerror(errno))
        return ptr
