#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Set up a Debian 12 machine for onvm, as root; safe to run again.
#   - Debian packages: DPDK 22.11 (with dpdk-testpmd and dpdk-test), build
#     tools, libpcap, clang-format (the C style check), clang and llvm
#     (onvm-bpf builds eBPF programs), libelf (the bpf NF reads them),
#     tcpdump (the bpf NF's filter tests compare with it), chromium (the
#     web console's test opens it in headless Chromium)
#   - OVS-DPDK (openvswitch-switch-dpdk), the peer `onvm-bench null` compares
#     with, unless ONVM_OVS=0: installed with its services refused, their
#     units masked so that nothing starts on boot, and the DPDK-enabled
#     ovs-vswitchd selected. The benchmark starts its own private instance.
#   - hugepages: ONVM_HUGEPAGES_MB (default 1024) of 2 MiB pages, hugetlbfs
#   - .venv with onvm installed editable, with its test extras
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${ONVM_VENV:-$ROOT/.venv}"
HUGEPAGES_MB="${ONVM_HUGEPAGES_MB:-1024}"
WITH_OVS="${ONVM_OVS:-1}"
PACKAGES=(dpdk dpdk-dev libdpdk-dev meson ninja-build pkg-config gcc binutils
          python3 python3-venv python3-dev libpcap-dev tshark clang-format
          clang llvm tcpdump libelf-dev chromium)

say() { printf 'setup: %s\n' "$*"; }
die() { printf 'setup: error: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run as root (sudo $0): it installs packages and reserves hugepages"

install_packages() {
    local missing=()
    for p in "${PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
    done
    if [ ${#missing[@]} -eq 0 ]; then
        say "Debian packages present"
        return
    fi
    say "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
    apt-get update -q >/dev/null
    apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
}

OVS_PACKAGE=openvswitch-switch-dpdk
OVS_UNITS=(openvswitch-switch.service ovsdb-server.service ovs-vswitchd.service
           ovs-record-hostname.service)
OVS_DPDK_VSWITCHD=/usr/lib/openvswitch-switch-dpdk/ovs-vswitchd-dpdk
POLICY_RC=/usr/sbin/policy-rc.d
POLICY_SAVED=""

# While OVS installs, a policy-rc.d refuses every service start (exit 101,
# as invoke-rc.d and deb-systemd-invoke read it); whatever policy the
# machine had is put back afterwards, on every path.
restore_policy() {
    if [ -n "$POLICY_SAVED" ]; then
        mv -f "$POLICY_SAVED" "$POLICY_RC"
    else
        rm -f "$POLICY_RC"
    fi
}

install_ovs() {
    [ "$WITH_OVS" = 0 ] && { say "OVS-DPDK skipped (ONVM_OVS=0)"; return; }
    if ! dpkg-query -W -f='${Status}' "$OVS_PACKAGE" 2>/dev/null | grep -q "ok installed"; then
        say "installing $OVS_PACKAGE, its services refused while it installs"
        if [ -e "$POLICY_RC" ]; then
            POLICY_SAVED=$(mktemp)
            cp -p "$POLICY_RC" "$POLICY_SAVED"
        fi
        trap restore_policy EXIT
        printf '#!/bin/sh\n# onvm setup: no service starts while packages install\nexit 101\n' > "$POLICY_RC"
        chmod 755 "$POLICY_RC"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -q >/dev/null
        apt-get install -y -q --no-install-recommends "$OVS_PACKAGE" >/dev/null
        restore_policy
        trap - EXIT
    fi
    # Masked units start neither on boot nor as another unit's dependency;
    # systemctl edits the links even when systemd is not running.
    systemctl mask --quiet "${OVS_UNITS[@]}" 2>/dev/null ||
        say "warning: could not mask ${OVS_UNITS[*]}"
    update-rc.d openvswitch-switch disable >/dev/null 2>&1 || true
    # Debian ranks the plain ovs-vswitchd above the DPDK build: select it.
    update-alternatives --quiet --set ovs-vswitchd "$OVS_DPDK_VSWITCHD"
    say "OVS-DPDK: $(ovs-vswitchd --version | head -1), services masked"
}

reserve_hugepages() {
    local want=$((HUGEPAGES_MB / 2)) sys=/sys/kernel/mm/hugepages/hugepages-2048kB
    [ -d "$sys" ] || die "this kernel has no 2 MiB hugepages"
    local have
    have=$(cat "$sys/nr_hugepages")
    if [ "$have" -lt "$want" ]; then
        echo "$want" > "$sys/nr_hugepages"
        have=$(cat "$sys/nr_hugepages")
        [ "$have" -ge "$want" ] || say "warning: only $have of $want hugepages could be reserved (memory fragmented?)"
    fi
    if ! grep -qs ' hugetlbfs ' /proc/mounts; then
        mkdir -p /dev/hugepages
        mount -t hugetlbfs -o pagesize=2M nodev /dev/hugepages
    fi
    say "hugepages: $have x 2 MiB reserved, hugetlbfs at $(awk '$3=="hugetlbfs"{print $2; exit}' /proc/mounts)"
}

make_venv() {
    # Debian's Python: its headers are the ones python3-dev installed.
    local python=/usr/bin/python3
    [ -x "$python" ] || python=$(command -v python3)
    if [ ! -x "$VENV/bin/python" ]; then
        say "creating $VENV"
        "$python" -m venv "$VENV"
    fi
    local stamp="$VENV/.onvm-installed" sum
    sum=$(cat "$ROOT/pyproject.toml" | sha256sum | cut -d' ' -f1)
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$sum" ] && "$VENV/bin/python" -c 'import onvm.pydpdk' 2>/dev/null; then
        say "virtual environment up to date"
        return
    fi
    say "installing onvm (editable) and its test extras"
    "$VENV/bin/pip" install -q --upgrade pip
    # Editable meson-python installs rebuild on import: the build tools
    # must live in the environment (no build isolation).
    "$VENV/bin/pip" install -q "meson-python>=0.15" "meson>=1.1" ninja "cffi>=1.15"
    PATH="$VENV/bin:$PATH" "$VENV/bin/pip" install -q --no-build-isolation -Cbuild-dir=build -e "$ROOT[test]"
    echo "$sum" > "$stamp"
}

# Importing onvm from an editable install rebuilds first and writes this log:
# leave it writable so that a non-root user gets onvm's own "needs root"
# line rather than a PermissionError from the rebuild.
open_build_log() {
    local log="$ROOT/build/meson-logs/meson-python-build-log.txt"
    [ -d "$(dirname "$log")" ] || return 0
    touch "$log" && chmod a+rw "$log"
}

# meson-python's editable installs carry no scripts: `onvm-nf` is the
# build's launcher (nfs/onvm-nf.in), linked so that a rebuild updates it.
link_nf_launcher() {
    local launcher="$ROOT/build/nfs/onvm-nf"
    [ -x "$launcher" ] || die "$launcher was not built (see build/meson-logs/meson-log.txt)"
    ln -sfn "$launcher" "$VENV/bin/onvm-nf"
}

install_packages
install_ovs
pkg-config --exists libdpdk || die "pkg-config cannot find libdpdk after installing libdpdk-dev"
reserve_hugepages
make_venv
link_nf_launcher
open_build_log
say "ready: $VENV"
