# SPDX-License-Identifier: BSD-3-Clause
"""Helpers for the bpf NF's tests: programs compiled with onvm-bpf, what
tcpdump keeps of a pcap, and traffic run through one bpf NF."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from tests.support.harness import Manager, Proc, tool
from tests.support.nf_helpers import pcap_ports
from tests.support.pcaps import read_pcap

POOL_FULL = "pool 16383/16383 free"  # the default pool, every mbuf back
POOL_LINE = re.compile(r"pool (\d+)/(\d+) free")


def build_program(tmp: Path, name: str, source: str, *build_args: str) -> Path:
    """`source` compiled by `onvm-bpf build` into tmp/NAME.o."""
    src = tmp / f"{name}.c"
    src.write_text(source)
    obj = tmp / f"{name}.o"
    done = subprocess.run([tool("onvm-bpf"), "build", str(src), "-o", str(obj), *build_args],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return obj


def tcpdump_keeps(pcap: Path, expr: str, out: Path) -> list[bytes]:
    """The frames of `pcap` that tcpdump's filter `expr` matches, in order."""
    done = subprocess.run(["tcpdump", "-r", str(pcap), "-w", str(out), expr],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return read_pcap(out)


def first_difference(got: list[bytes], want: list[bytes]) -> str:
    """Where two frame lists part, for an assertion's message."""
    for i, (g, w) in enumerate(zip(got, want, strict=False)):
        if g != w:
            return f"frame {i} differs: got {g.hex()} want {w.hex()}"
    return f"{len(got)} frames, {len(want)} wanted"


def assert_pool_full(mgr: Manager) -> None:
    """The stopped manager had every mbuf of its pool back."""
    pools = POOL_LINE.findall(mgr.output())
    assert pools and pools[-1][0] == pools[-1][1], mgr.output()


class BpfRun:
    """Frames through one bpf NF on service 1 of chain "1,out:1": port 0
    replays them, port 1 writes what the NF passes on (port 0 what it
    sends back). `manager_args` go to onvm-manager start."""

    def __init__(self, start_manager, tmp: Path, packets: list[bytes], *nf_args: str,
                 manager_args: tuple[str, ...] = ()) -> None:
        self.packets = packets
        self.tmp = tmp
        port0, port1, _, _ = pcap_ports(tmp, packets)
        self.mgr: Manager = start_manager("--port", port0, "--port", port1, "--chain", "1,out:1",
                                          "--wait-for-chain", *manager_args)
        self.nf: Proc = self.mgr.start_nf("bpf", 1, "--", *nf_args)

    def finish(self, timeout: float = 30) -> tuple[list[bytes], dict]:
        """Wait until the NF has judged every frame and port 1 has sent
        what it passed; stop the manager. Returns port 1's frames and the
        NF's counters."""
        total = len(self.packets)

        def judged(snap):
            s = self.mgr.nf_stats(snap, self.nf)
            return (s["rx"] == total and s["act_drop"] + s["act_next"] + s["act_out"] +
                    s["act_tonf"] == total and snap["ports"]["1"]["tx"] + snap["ports"]["0"]["tx"]
                    == s["act_next"] + s["act_out"])

        snap = self.mgr.wait_stats(judged, timeout, f"the bpf NF to judge {total} frames")
        counters = self.mgr.nf_stats(snap, self.nf)
        assert self.mgr.stop() == 0, self.mgr.output()
        assert_pool_full(self.mgr)
        return read_pcap(self.tmp / "out1.pcap"), counters
