# SPDX-License-Identifier: BSD-3-Clause
"""Bring-up: the configuration, the checks made before DPDK starts, the
runtime directory and its lock, the EAL and the ports."""
