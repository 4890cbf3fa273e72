# SPDX-License-Identifier: BSD-3-Clause
"""Clients of a running manager, over its control protocol alone (they load
no DPDK): the Python Client, `onvm-ctl` and the text both print.

    from onvm.manager.client import Client
"""

from onvm.manager.client.connection import Client

__all__ = ["Client"]
