# SPDX-License-Identifier: BSD-3-Clause
"""The shared tables as the control thread sees them: the data plane's
handle (the one owner of the shared region's cdata) and the rooms that read
and write through it (NF registry, chains, flow rules, capture, scaling,
stats)."""
