# SPDX-License-Identifier: BSD-3-Clause
"""The main job, end to end, on virtual ports: `python -m onvm.bench.demo` (root).

1. Build a pcap of mixed traffic (TCP, UDP, ICMP, IPv6, ARP, VLAN; 60..1514
   bytes; many flows) with scapy.
2. Start `onvm-manager` with that pcap on port 0, an output pcap on port 1
   and chain 1,2,out:1; port RX waits until the chain's services have NFs.
   The manager prints its stats table every second throughout.
3. Phase 1: a speed_tester loop (speed_tester, service 3 -> simple_forward,
   service 4 -> back to service 3) for a few seconds: two hops through the
   manager per loop. It shows the loop rate (packets back at speed_tester)
   and the hop rate (passes through the manager, twice the loop rate).
4. Phase 2: the chain's NFs join, simple_forward (service 1) and
   basic_monitor (service 2), and the pcap traffic flows through them.
5. Stop the NFs and the manager, and check that the output pcap equals the
   input, packet for packet, byte for byte, in order. Exit 0 only if it
   does (and the speed test and the manager did their part).

The processes are the benchmarks' and tests' (onvm.bench.procs), echoed
live here. Each runs in its own process group and is stopped (then killed,
if it must be) on every path: errors, Ctrl-C, SIGTERM, a time limit; the
files of a manager that had to be killed are removed.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import re
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path

from onvm.bench.procs import ManagerProc, Proc, wait_until
from onvm.bench.traffic import mixed_traffic, read_pcap, write_pcap

PROG = "demo"
CHAIN = "1,2,out:1"
SHAPES = 1500  # distinct flows / packet shapes built with scapy
SPEED_SECONDS = 5
# speed_tester -> manager -> simple_forward -> manager -> speed_tester
SPEED_HOPS = 2
RUN_TIMEOUT = 35  # the whole run, before cleanup; a normal run takes about 10 s
START_TIMEOUT = 15.0  # manager up, NF joined
TRAFFIC_TIMEOUT = 15.0  # all packets through the chain
NF_STOP_TIMEOUT = 5.0  # NFs leave after SIGTERM
MANAGER_STOP_TIMEOUT = 8.0  # the manager stops its NFs (3 s at most) and ports

# Whole lines only: the demo's own and those echoed from its processes'
# reader threads would otherwise interleave mid-line.
_print_lock = threading.Lock()


class DemoError(Exception):
    """An expected failure: printed as one line, exit 1."""


def say(message: str) -> None:
    echo(f"{PROG}: {message}")


def echo(line: str) -> None:
    with _print_lock:
        print(line, flush=True)


# ---- results ----


def read_output(path: Path) -> list[bytes]:
    """The frames of the output pcap; none if the manager never wrote it."""
    if not path.exists() or path.stat().st_size == 0:
        return []
    try:
        return read_pcap(path)
    except ValueError as e:
        raise DemoError(f"the output pcap cannot be read: {e}") from None


def first_difference(sent: list[bytes], received: list[bytes]) -> int | None:
    """Index of the first packet that differs (or is missing), None if equal."""
    for i, (a, b) in enumerate(zip(sent, received, strict=False)):
        if a != b:
            return i
    return None if len(sent) == len(received) else min(len(sent), len(received))


def verdict(sent: list[bytes], received: list[bytes]) -> tuple[bool, str]:
    diff = first_difference(sent, received)
    if diff is None:
        return True, f"yes: {len(sent)} packets, byte for byte, in order"
    if diff >= len(received):
        return False, f"NO: output ends after {len(received)} of {len(sent)} packets"
    return False, f"NO: packet {diff} differs"


def port_counter(snap: dict | None, port: int, key: str) -> int:
    return int(((snap or {}).get("ports", {}).get(str(port)) or {}).get(key, 0))


def drops(snap: dict | None, before: dict | None) -> str:
    """The non-zero drop counters of `snap`. The data plane's totals include
    the speed test, so they count from `before`; the NFs' are those of the
    chain NFs alone."""
    snap, before = snap or {}, before or {}
    counts = {f"port {pid} drop": p.get("drop", 0) for pid, p in snap.get("ports", {}).items()}
    for nf_id, nf in snap.get("nfs", {}).items():
        label = f"NF {nf_id} {nf.get('name', '?')}"
        counts[f"{label} ring full"] = nf.get("ring_full_drop", 0)
        counts[f"{label} dropped"] = nf.get("act_drop", 0)
    now, then = snap.get("dataplane", {}), before.get("dataplane", {})
    for key, label in (("no_dest", "no destination"), ("chain_end", "chain end")):
        counts[label] = now.get(key, 0) - then.get(key, 0)
    shown = [f"{label} {n}" for label, n in counts.items() if n]
    return ", ".join(shown) or "none"


def print_summary(rows: list[tuple[str, object]]) -> None:
    echo("")
    say("summary")
    for label, value in rows:
        echo(f"  {label:<27} {value}")


def speed_figures(summary: str | None) -> str | None:
    """speed_tester's summary as what it is: its Mpps count packets back at
    speed_tester, once per loop of SPEED_HOPS hops."""
    if summary is None:
        return None
    loop = re.match(r"([0-9.]+) Mpps", summary)
    if loop is None:
        return summary
    mpps = float(loop.group(1))
    return (f"loop {mpps:.2f} Mpps (back at speed_tester), hops {mpps * SPEED_HOPS:.2f} Mpps "
            f"({SPEED_HOPS} per loop); {summary}")


def problems(same: bool, speed: str | None, manager_exit: int | None) -> list[str]:
    found = []
    if not same:
        found.append("the output pcap differs from the input")
    if speed is None:
        found.append("the speed test gave no result")
    if manager_exit != 0:
        found.append(f"the manager exited with code {manager_exit}")
    return found


# ---- the demo ----


class Demo:
    """One run: a manager named `name` and its NFs, files in `workdir`."""

    def __init__(self, name: str, workdir: Path, count: int) -> None:
        self.name = name
        self.count = count
        self.workdir = workdir
        self.in_pcap, self.out_pcap = workdir / "in.pcap", workdir / "out.pcap"
        self.manager: ManagerProc | None = None  # set as soon as it runs, for cleanup()

    def run(self, started: float) -> list[str]:
        """The whole demo; returns what went wrong, if anything."""
        say(f"building {self.count} packets of mixed traffic with scapy ...")
        sent = mixed_traffic(self.count, SHAPES)
        write_pcap(self.in_pcap, sent)

        say(f"starting manager '{self.name}': port 0 <- {self.in_pcap.name}, "
            f"port 1 -> {self.out_pcap.name}")
        self._start_manager()

        # The speed test goes first, while port RX still waits for the
        # chain's NFs, so that it measures the NF-to-NF loop alone. NFs may
        # join at any time: they never re-open the manager's ports (which
        # once truncated the output pcap). That file is complete once the
        # manager has closed port 1 on stop, so it is read after stop_all().
        say(f"phase 1: speed_tester loop, service 3 -> simple_forward (service 4) -> "
            f"service 3, {SPEED_HOPS} hops through the manager per loop, {SPEED_SECONDS} s "
            f"(port RX waits for chain {CHAIN})")
        speed = self._speed_test()

        before = self._snapshot_without_nfs()
        say(f"phase 2: {self.count} packets through chain {CHAIN}")
        snap = self._chain_traffic()

        say("stopping the NFs and the manager")
        manager_exit = self.stop_all()
        summary = self.manager.wait_line(r"^onvm-manager: summary: ", 0)
        received = read_output(self.out_pcap)
        same, comparison = verdict(sent, received)
        print_summary([
            ("packets in (input pcap)", len(sent)),
            ("port 0 rx", port_counter(snap, 0, "rx")),
            ("port 1 tx", port_counter(snap, 1, "tx")),
            ("drops counted", drops(snap, before)),
            ("packets out (output pcap)", len(received)),
            ("output == input", comparison),
            (f"speed_tester loop, {SPEED_HOPS} hops",
             speed_figures(speed) or "no result (see its output above)"),
            ("manager", summary.split(": ", 1)[1] if summary else f"exit code {manager_exit}"),
            ("took", f"{time.monotonic() - started:.1f} s"),
        ])
        return problems(same, speed, manager_exit)

    # ---- processes ----

    def _start_manager(self) -> None:
        ports = ["--port", f"net_pcap0,rx_pcap={self.in_pcap}",
                 "--port", f"net_pcap1,tx_pcap={self.out_pcap}"]
        self.manager = ManagerProc(self.workdir, ["--chain", CHAIN, "--wait-for-chain", *ports],
                                   name=self.name, echo=echo, stats_interval=1)
        try:
            self.manager.wait_ready(START_TIMEOUT)
        except (RuntimeError, TimeoutError):
            raise DemoError(f"the manager did not come up: {self.manager.last_line()}") from None

    def _start_nf(self, nf: str, service: int, *nf_args: str) -> Proc:
        """Start an NF without waiting for it (see _wait_joined)."""
        args = ["--", *nf_args] if nf_args else []
        return self.manager.start_nf(nf, service, *args, wait=False)

    def _wait_joined(self, nf: Proc) -> None:
        try:
            self.manager.wait_nf_running(nf, START_TIMEOUT)
        except (RuntimeError, TimeoutError):
            self._check_manager()
            raise DemoError(f"{nf.label} did not join the manager: {nf.last_line()}") from None

    def _check_manager(self) -> None:
        if not self.manager.alive():
            raise DemoError(f"the manager stopped: {self.manager.last_line()}")

    def _snapshot(self) -> dict:
        """The manager's latest stats."""
        self._check_manager()
        try:
            return self.manager.stats()
        except RuntimeError:
            self._check_manager()
            raise DemoError(f"the manager writes no stats: {self.manager.last_line()}") from None

    def _reap(self, proc: Proc, timeout: float) -> int | None:
        """Wait for a signalled process; its exit code, None if it had to be killed."""
        code = proc.wait_or_kill(timeout)
        if code is None:
            say(f"{proc.label} did not stop in time: killed it")
        return code

    def stop_all(self) -> int | None:
        """SIGTERM the NFs still running, then SIGINT the manager, as an
        operator would; returns its exit code, None if it had to be killed."""
        nfs = [nf for nf in self.manager.nfs if nf.alive()]
        for nf in nfs:
            nf.signal(signal.SIGTERM)
        deadline = time.monotonic() + NF_STOP_TIMEOUT
        for nf in nfs:
            self._reap(nf, deadline - time.monotonic())
        self.manager.signal(signal.SIGINT)
        return self._reap(self.manager, MANAGER_STOP_TIMEOUT)

    def cleanup(self) -> None:
        """Stop whatever still runs, with signals ignored so that cleanup is
        not cut short, and remove the files of a manager that was killed."""
        signal.alarm(0)
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)
        if self.manager is None:
            return
        self.stop_all()
        if self.manager.cleanup():
            say(f"removed files left by manager '{self.name}'")

    # ---- phases ----

    def _speed_test(self) -> str | None:
        """speed_tester (service 3) <-> simple_forward (service 4) for
        SPEED_SECONDS, then both leave; returns the speed_tester summary, or None."""
        loop = self._start_nf("simple_forward", 4, "--dest", "3")
        self._wait_joined(loop)
        tester = self._start_nf("speed_tester", 3, "--dest", "4", "--packets", "1024",
                                "--duration", str(SPEED_SECONDS))
        line = tester.wait_line(r"^speed_tester: summary: ", SPEED_SECONDS + START_TIMEOUT)
        for nf in (tester, loop):
            nf.signal(signal.SIGTERM)
            self._reap(nf, NF_STOP_TIMEOUT)
        return line.split("summary: ", 1)[1] if line else None

    def _snapshot_without_nfs(self) -> dict:
        """The first stats without NFs: the speed test is over."""

        def without_nfs() -> dict | None:
            snap = self._snapshot()
            return None if snap.get("nfs") else snap

        try:
            return wait_until(without_nfs, NF_STOP_TIMEOUT, "the speed test's NFs to leave", 0.1)
        except TimeoutError:  # their counters then show in the summary's drops
            return self._snapshot()

    def _chain_traffic(self) -> dict:
        """Start the chain's NFs, which releases port RX; wait for the
        packets to go through. Returns the last stats snapshot."""
        chain_nfs = [self._start_nf("simple_forward", 1), self._start_nf("basic_monitor", 2)]
        for nf in chain_nfs:
            self._wait_joined(nf)
        snap = self._wait_for_traffic()
        # Let the live views catch up: one more basic_monitor report, one
        # more manager table, both with the final counts.
        monitor = chain_nfs[1]
        monitor.wait_line(r"total \d+ packets", 3.0, after=len(monitor.lines()))
        self.manager.wait_line(r"^\[", 3.0, after=len(self.manager.lines()))
        return snap

    def _wait_for_traffic(self) -> dict:
        """Wait until port 1 sent every packet, or nothing has moved for 2 s
        after port 0 received them all, or TRAFFIC_TIMEOUT. Returns the last
        stats snapshot."""
        deadline = time.monotonic() + TRAFFIC_TIMEOUT
        last_tx, last_change = -1, time.monotonic()
        while True:
            snap = self._snapshot()
            rx, tx = port_counter(snap, 0, "rx"), port_counter(snap, 1, "tx")
            if tx >= self.count:
                return snap
            if tx != last_tx:
                last_tx, last_change = tx, time.monotonic()
            elif rx >= self.count and time.monotonic() - last_change > 2.0:
                return snap
            if time.monotonic() > deadline:
                say(f"traffic did not finish within {TRAFFIC_TIMEOUT:.0f} s")
                return snap
            time.sleep(0.1)


def check_environment() -> None:
    if os.geteuid() != 0:
        raise DemoError("run as root (sudo scripts/demo.sh): DPDK needs hugepages")
    if importlib.util.find_spec("scapy") is None:
        raise DemoError("scapy is missing: run scripts/setup.sh (installs onvm[test])")


def _raise_interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def _raise_timeout(signum, frame) -> None:
    raise DemoError(f"the run took longer than {RUN_TIMEOUT} s; everything it started is stopped")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m onvm.bench.demo", description="onvm end to end on pcap ports (root)"
    )
    parser.add_argument(
        "--packets", type=int, default=30000, help="packets in the input pcap (default 30000)"
    )
    args = parser.parse_args(argv)
    if args.packets < 1:
        parser.error("--packets must be at least 1")
    started = time.monotonic()
    signal.signal(signal.SIGTERM, _raise_interrupt)
    signal.signal(signal.SIGHUP, _raise_interrupt)
    signal.signal(signal.SIGALRM, _raise_timeout)
    signal.alarm(RUN_TIMEOUT)
    try:
        check_environment()
        with tempfile.TemporaryDirectory(prefix="onvm-demo-") as workdir:
            demo = Demo(f"demo-{os.getpid()}", Path(workdir), args.packets)
            try:
                found = demo.run(started)
            finally:
                demo.cleanup()
    except DemoError as e:
        say(f"error: {e}")
        return 1
    except KeyboardInterrupt:
        say("interrupted; everything it started is stopped")
        return 130
    if found:
        say(f"FAIL: {'; '.join(found)}")
        return 1
    say("PASS: the chain delivered every packet unchanged")
    return 0


if __name__ == "__main__":
    sys.exit(main())
