#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# The main job, end to end, as root on a fresh Debian 12 machine:
# set the machine up (scripts/setup.sh), then run the demo (pcap in ->
# manager + NF chain -> pcap out, then a speed_tester loop). Extra arguments
# go to the demo, e.g. --packets 50000.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${ONVM_VENV:-$ROOT/.venv}"

"$ROOT/scripts/setup.sh"
cd "$ROOT"
exec "$VENV/bin/python" -m onvm.bench.demo "$@"
