# SPDX-License-Identifier: BSD-3-Clause
"""Verdicts: what happens to a packet, packed as one integer.

A verdict is `action | destination << 8` (C: ONVM_VERDICT). Handlers
return one per packet (per-packet API) or an array of them (vector API).
"""

from __future__ import annotations

import enum


class Action(enum.IntEnum):
    """What happens to a packet an NF returns (C: enum onvm_action)."""

    DROP = 0  # the manager frees it
    NEXT = 1  # next hop of its chain
    TONF = 2  # to a service (its flow picks the instance)
    OUT = 3  # out of a port


# Plain ints: the fastest values a per-packet handler can return.
DROP = int(Action.DROP)
NEXT = int(Action.NEXT)


def to_service(service_id: int) -> int:
    """Verdict: send the packet to service `service_id`."""
    if not 0 <= service_id <= 0xFFFF:  # the destination field has 16 bits
        raise ValueError(f"service id {service_id} does not fit in 16 bits")
    return int(Action.TONF) | service_id << 8


def out_port(port_id: int) -> int:
    """Verdict: send the packet out of port `port_id`."""
    if not 0 <= port_id <= 0xFFFF:
        raise ValueError(f"port id {port_id} does not fit in 16 bits")
    return int(Action.OUT) | port_id << 8


def verdict_action(verdict: int) -> Action:
    """The action of a verdict; an unknown one is DROP, as in the data plane."""
    action = verdict & 0xFF
    return Action(action) if action <= Action.OUT else Action.DROP


def verdict_destination(verdict: int) -> int:
    return verdict >> 8
