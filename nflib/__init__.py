# SPDX-License-Identifier: BSD-3-Clause
"""onvm.nflib: writing NFs in Python.

    from onvm.nflib import NF, NEXT, DROP, to_service, out_port

A packet handler returns a verdict per packet; a vector handler gets a
Batch of NumPy arrays and returns an array of verdicts.
"""

from onvm.nflib.actions import (
    DROP,
    HOLD,
    NEXT,
    Action,
    out_port,
    to_service,
    verdict_action,
    verdict_destination,
)
from onvm.nflib.batch import Batch
from onvm.nflib.classifier import Classifier, Rule, RuleError, verdict_table
from onvm.nflib.nf import NF, ManagerGone, Message, NfError, main
from onvm.nflib.packet import HeldPacket, Packet

__all__ = [
    "DROP", "HOLD", "NEXT", "Action", "Batch", "Classifier", "HeldPacket", "ManagerGone",
    "Message", "NF", "NfError", "Packet",
    "Rule", "RuleError", "main", "out_port", "to_service", "verdict_action", "verdict_destination",
    "verdict_table",
]
