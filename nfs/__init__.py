# SPDX-License-Identifier: BSD-3-Clause
"""onvm.nfs: the bundled NFs, one folder each under nfs/ (its source, README
and tests), and `onvm-nf`, which runs them. Which NFs are bundled, and where
they are, is onvm.bundled's to say."""
