#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# The native code and the C NFs built with AddressSanitizer and
# UndefinedBehaviorSanitizer (meson's b_sanitize), in a virtual environment
# of their own (.venv-sanitize, build dir build-sanitize), then the tests
# that drive the C code: the unit tests through the bindings and a pcap
# chain through the C NFs. Any report fails the run. Extra arguments go to
# pytest. Run as root, after scripts/setup.sh (this runs it too).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash scripts/setup.sh >/dev/null
VENV="${ONVM_SANITIZE_VENV:-$ROOT/.venv-sanitize}"
BUILD="${ONVM_SANITIZE_BUILD:-build-sanitize}"

if [ ! -x "$VENV/bin/python" ]; then
    /usr/bin/python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q --upgrade pip
    "$VENV/bin/pip" install -q "meson-python>=0.15" "meson>=1.1" ninja "cffi>=1.15"
fi
stamp="$VENV/.onvm-installed"
sum=$(sha256sum < pyproject.toml | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$sum" ]; then
    echo "test-sanitizers: building with -Db_sanitize=address,undefined into $BUILD"
    # Python itself is not instrumented: extensions built with ASan need
    # undefined symbols allowed at link time (b_lundef=false).
    PATH="$VENV/bin:$PATH" "$VENV/bin/pip" install -q --no-build-isolation \
        -Cbuild-dir="$BUILD" -Csetup-args=-Db_sanitize=address,undefined \
        -Csetup-args=-Db_lundef=false -e "$ROOT[test]"
    echo "$sum" > "$stamp"
fi
export PATH="$VENV/bin:$PATH"
# The interpreter is not instrumented: the runtimes must load first. C NFs
# link them themselves. Python's own allocations are not leaks to report.
LD_PRELOAD="$(gcc -print-file-name=libasan.so):$(gcc -print-file-name=libubsan.so)"
export LD_PRELOAD
export ASAN_OPTIONS="detect_leaks=0:halt_on_error=1:abort_on_error=0"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"

nf="$(python -c 'from onvm import bundled; print(bundled.c_nf_binary("simple_forward"))')"
ldd "$nf" | grep -q libasan || { echo "test-sanitizers: $nf is not built with ASan" >&2; exit 1; }
# Its own `onvm-nf`, which runs this build's C NFs (importing onvm above
# brought the build up to date; scripts/setup.sh links .venv's).
case $BUILD in
/*) ln -sfn "$BUILD/nfs/onvm-nf" "$VENV/bin/onvm-nf" ;;
*) ln -sfn "$ROOT/$BUILD/nfs/onvm-nf" "$VENV/bin/onvm-nf" ;;
esac

echo "test-sanitizers: pytest"
exec timeout --kill-after=30 900 python -m pytest -ra -p no:cacheprovider \
    tests/unit/native tests/unit/test_bindings.py tests/unit/test_flow_key.py \
    tests/unit/test_batch_fields.py tests/unit/test_packet_views.py \
    tests/unit/test_latency_hist.py tests/integration/test_pcap_chain.py \
    tests/integration/test_tee.py tests/nfs/simple_forward "$@"
