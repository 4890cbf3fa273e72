# SPDX-License-Identifier: BSD-3-Clause
"""onvm.manager: the NF manager (DPDK primary) and its command-line tools."""
