# SPDX-License-Identifier: BSD-3-Clause
"""Helpers for the Python NF tests: pcap ports, NFs started from a path or a
plain interpreter, and the text the bundled NFs print."""

from __future__ import annotations

import re
from pathlib import Path

from tests.support.harness import VENV_BIN, Manager, Proc, wait_until
from tests.support.pcaps import write_pcap

PYTHON = str(VENV_BIN / "python") if (VENV_BIN / "python").exists() else "python3"


def pcap_ports(tmp: Path, rx: list[bytes]) -> tuple[str, str, Path, Path]:
    """Port 0 replays rx and writes out0.pcap; port 1 writes out1.pcap.

    Returns both ports' devargs and both output paths.
    """
    write_pcap(tmp / "in.pcap", rx)
    write_pcap(tmp / "empty.pcap", [])
    return (
        f"net_pcap0,rx_pcap={tmp}/in.pcap,tx_pcap={tmp}/out0.pcap",
        f"net_pcap1,rx_pcap={tmp}/empty.pcap,tx_pcap={tmp}/out1.pcap",
        tmp / "out0.pcap",
        tmp / "out1.pcap",
    )


def chain_manager(start_manager, tmp: Path, rx: list[bytes], chain: str) -> Manager:
    """A manager whose port 0 replays rx into `chain` once the chain's NFs run."""
    port0, port1, _, _ = pcap_ports(tmp, rx)
    return start_manager("--port", port0, "--port", port1, "--chain", chain, "--wait-for-chain")


def start_nf_argv(mgr: Manager, argv: list[str], label: str, wait: bool = True) -> Proc:
    """Start an NF from a full command line (a path, a plain interpreter);
    registered with the manager's NFs, so it is cleaned up with them."""
    proc = Proc(argv, mgr.tmp / f"nf-{label}-{len(mgr.nfs)}.log")
    mgr.nfs.append(proc)
    if wait:
        mgr.wait_nf_running(proc)
    return proc


def start_nf_file(mgr: Manager, path: Path, service: int, *nf_args: str,
                  wait: bool = True) -> Proc:
    """`onvm-nf path/to/my_nf.py --service N --name MGR [args]`."""
    return mgr.start_nf(str(path), service, *nf_args, wait=wait)


def port_mac(mgr: Manager, port: int) -> str:
    """The MAC the manager logged for `port` ("port 0: ... (net_pcap, MAC)")."""
    found = wait_until(
        lambda: re.search(rf"port {port}: \S+ \(\S+, ([0-9a-f:]{{17}})\)", mgr.output()), 5,
        f"the manager to log port {port}")
    return found.group(1)


def error_lines(output: str) -> list[str]:
    """Non-empty lines of an NF's output."""
    return [ln for ln in output.splitlines() if ln.strip()]


def assert_nf_refuses(mgr: Manager, nf: str, service: int, args: tuple[str, ...],
                      message: str, code: int = 2) -> str:
    """Bundled NF `nf` given its own options `args` exits with `code` and
    says `message`, without a traceback. Returns its output."""
    proc = mgr.start_nf(nf, service, "--", *args, wait=False)
    assert proc.wait(20) == code, proc.output()
    out = proc.output()
    assert message in out and "Traceback" not in out, out
    return out


def assert_one_error_line(proc: Proc, code: int) -> str:
    """The NF exited with a non-zero code and said why in one line."""
    assert code != 0, proc.output()
    out = proc.output()
    assert "Traceback" not in out, out
    lines = error_lines(out)
    assert len(lines) == 1, out
    assert "error: " in lines[0], out
    return lines[0]


MONITOR_TOTAL = re.compile(r"basic_monitor(?:\.py)?\[nf \d+\]: .* total (\d+) packets (\d+) bytes")


def monitor_totals(output: str) -> list[tuple[int, int]]:
    """(packets, bytes) of every basic_monitor.py report so far."""
    return [(int(p), int(b)) for p, b in MONITOR_TOTAL.findall(output)]


FLOW_HEADER = re.compile(r"^flow_tracker\.py: (\d+) active flows, (\d+) expired$")
FLOW_LINE = re.compile(r"^\s+(\d+) pkts\s+(\d+) bytes  (.+)$")


def flow_reports(output: str) -> list[dict]:
    """flow_tracker.py reports: {"active", "expired", "top": [(pkts, bytes, flow)]}."""
    reports: list[dict] = []
    for line in output.splitlines():
        header = FLOW_HEADER.match(line)
        if header:
            reports.append({"active": int(header[1]), "expired": int(header[2]), "top": []})
            continue
        row = FLOW_LINE.match(line)
        if row and reports:
            reports[-1]["top"].append((int(row[1]), int(row[2]), row[3]))
    return reports
