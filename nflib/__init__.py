# SPDX-License-Identifier: BSD-3-Clause
"""onvm.nflib: writing NFs in Python.

Actions are the same as the C library's enum onvm_action.
"""

from __future__ import annotations

import enum


class Action(enum.IntEnum):
    """What happens to a packet an NF returns."""

    DROP = 0  # the manager frees it
    NEXT = 1  # next hop of its chain
    TONF = 2  # to a service (its flow picks the instance)
    OUT = 3  # out of a port


__all__ = ["Action"]
