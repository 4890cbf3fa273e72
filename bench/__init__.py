# SPDX-License-Identifier: BSD-3-Clause
"""onvm.bench: benchmark programs (onvm-bench) and their process tools."""
