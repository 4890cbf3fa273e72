# SPDX-License-Identifier: BSD-3-Clause
"""Verdicts: what happens to a packet, packed as one integer.

A verdict is `action | destination << 8` (C: ONVM_VERDICT in
onvm/pkt_fields.h). Handlers return one per packet (per-packet API) or an
array of them (vector API). Action is C's enum onvm_action.
"""

from __future__ import annotations

from onvm.contract import VERDICT_ACTION_MASK, VERDICT_DEST_SHIFT, Action
from onvm.pydpdk.nf import ffi

__all__ = ["DROP", "HOLD", "NEXT", "Action", "out_port", "to_service", "verdict_action",
           "verdict_destination"]

# Plain ints: the fastest values a per-packet handler can return.
DROP = int(Action.DROP)
NEXT = int(Action.NEXT)
# The NF keeps the packet (NF.hold() gives a handle to it) and hands it on
# later with NF.release(), or frees it with NF.free().
HOLD = int(Action.HOLD)

# The largest service or port id the packet metadata's destination holds.
_DESTINATION = dict(ffi.typeof("struct onvm_pkt_meta").fields)["destination"]
_MAX_DESTINATION = (1 << 8 * ffi.sizeof(_DESTINATION.type)) - 1


def to_service(service_id: int) -> int:
    """Verdict: send the packet to service `service_id`."""
    if not 0 <= service_id <= _MAX_DESTINATION:
        raise ValueError(f"service id {service_id} does not fit in 16 bits")
    return int(Action.TONF) | service_id << VERDICT_DEST_SHIFT


def out_port(port_id: int) -> int:
    """Verdict: send the packet out of port `port_id`."""
    if not 0 <= port_id <= _MAX_DESTINATION:
        raise ValueError(f"port id {port_id} does not fit in 16 bits")
    return int(Action.OUT) | port_id << VERDICT_DEST_SHIFT


def verdict_action(verdict: int) -> Action:
    """The action of a verdict; an unknown one is DROP, as in the data plane."""
    action = verdict & VERDICT_ACTION_MASK
    return Action(action) if action <= Action.HOLD else Action.DROP


def verdict_destination(verdict: int) -> int:
    return verdict >> VERDICT_DEST_SHIFT
