# SPDX-License-Identifier: BSD-3-Clause
"""The NF binding: the NF library (onvm/nflib.h), packet fields and
verdicts, the classifier. Only onvm.nflib imports it."""

from __future__ import annotations

from onvm.pydpdk import Binding
from onvm.pydpdk._nf import ffi, lib

__all__ = ["ffi", "lib", "strerror"]

strerror = Binding(ffi, lib).strerror
