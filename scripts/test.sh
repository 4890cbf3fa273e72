#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Set up the machine (scripts/setup.sh), then run the checks and the tests:
# clang-format over the C, ruff over the Python, then pytest (unit, then
# integration: real managers and NFs on virtual ports). Extra arguments go
# to pytest.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash scripts/setup.sh
VENV="${ONVM_VENV:-$ROOT/.venv}"
export PATH="$VENV/bin:$PATH"

echo "test: clang-format"
# native/pydpdk/cdef/ holds cffi declarations, not C.
find native nfs -name '*.[ch]' -not -path 'native/pydpdk/cdef/*' -print0 |
    xargs -0 clang-format --dry-run --Werror

echo "test: ruff"
ruff check manager nflib nfs native tests bench

echo "test: pytest"
exec timeout --kill-after=30 1500 python -m pytest -ra -p no:cacheprovider "$@"
