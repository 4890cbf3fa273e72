# SPDX-License-Identifier: BSD-3-Clause
"""The main job, end to end, on virtual ports: `python -m onvm.manager.demo` (root).

1. Build a pcap of mixed traffic (TCP, UDP, ICMP, IPv6, ARP, VLAN; 60..1514
   bytes; many flows) with scapy.
2. Start `onvm-manager` with that pcap on port 0, an output pcap on port 1
   and chain 1,2,out:1; port RX waits until the chain's services have NFs.
   The manager prints its stats table every second throughout.
3. Phase 1: a speed_tester loop (service 3 <-> simple_forward on service 4)
   for a few seconds shows the NF-to-NF rate in Mpps.
4. Phase 2: the chain's NFs join, simple_forward (service 1) and
   basic_monitor (service 2), and the pcap traffic flows through them.
5. Stop the NFs and the manager, and check that the output pcap equals the
   input, packet for packet, byte for byte, in order. Exit 0 only if it
   does (and the speed test and the manager did their part).

Every process it starts runs in its own process group and is stopped (then
killed, if it must be) on every path: errors, Ctrl-C, SIGTERM, a time limit.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

try:
    from scapy.compat import raw
    from scapy.layers.inet import ICMP, IP, TCP, UDP
    from scapy.layers.inet6 import IPv6
    from scapy.layers.l2 import ARP, Dot1Q, Ether
    from scapy.packet import Padding, Raw
    from scapy.utils import RawPcapReader, RawPcapWriter
except ImportError:  # reported by check_environment()
    raw = None

from onvm.manager.runtime import remove_dpdk_files, runtime_dir

PROG = "demo"
CHAIN = "1,2,out:1"
TEMPLATES = 1500  # distinct flows / packet shapes built with scapy
SPEED_SECONDS = 5
RUN_TIMEOUT = 35  # the whole run, before cleanup; a normal run takes about 10 s
START_TIMEOUT = 15.0  # manager up, NF joined
TRAFFIC_TIMEOUT = 15.0  # all packets through the chain
NF_STOP_TIMEOUT = 5.0  # NFs leave after SIGTERM
MANAGER_STOP_TIMEOUT = 8.0  # the manager stops its NFs (3 s at most) and ports

_print_lock = threading.Lock()


class DemoError(Exception):
    """An expected failure: printed as one line, exit 1."""


def say(message: str) -> None:
    with _print_lock:
        print(f"{PROG}: {message}", flush=True)


def echo(line: str) -> None:
    with _print_lock:
        print(line, flush=True)


# ---- child processes ----


class Child:
    """A process in its own process group; its output is echoed and kept.
    It adds itself to `children` at once, so cleanup always finds it."""

    def __init__(self, label: str, argv: list[str], children: list[Child]) -> None:
        self.label = label
        self.lines: list[str] = []
        self._eof = False
        self._cond = threading.Condition()
        self.proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            bufsize=1,
            start_new_session=True,
        )
        children.append(self)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            line = line.rstrip("\n")
            echo(line)
            with self._cond:
                self.lines.append(line)
                self._cond.notify_all()
        with self._cond:
            self._eof = True
            self._cond.notify_all()

    def wait_for(self, pattern: str, timeout: float, since: int = 0) -> str | None:
        """The first output line from index `since` matching `pattern`, or
        None if the process ends or `timeout` passes first."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for line in self.lines[since:]:
                    if regex.search(line):
                        return line
                since = len(self.lines)
                remaining = deadline - time.monotonic()
                if self._eof or remaining <= 0:
                    return None
                self._cond.wait(remaining)

    def last_line(self) -> str:
        with self._cond:
            return self.lines[-1] if self.lines else "(no output)"

    def running(self) -> bool:
        return self.proc.poll() is None

    def stop(self, sig: int, timeout: float) -> int | None:
        """Send `sig`, wait up to `timeout`, kill the group if it stays."""
        self.signal(sig)
        return self.reap(timeout)

    def reap(self, timeout: float) -> int | None:
        """Wait up to `timeout` for the process to end, then kill its group.
        Returns the exit code, or None if it had to be killed."""
        code = None
        try:
            code = self.proc.wait(max(timeout, 0.1))
        except subprocess.TimeoutExpired:
            say(f"{self.label} did not stop in time: killing it")
            self.signal(signal.SIGKILL)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                say(f"{self.label} (pid {self.proc.pid}) survives SIGKILL")
        self._reader.join(2)
        return code

    def signal(self, sig: int) -> bool:
        """Signal the group while its leader is unreaped (so the group id is
        still ours). False if the process already ended."""
        if self.proc.poll() is not None:
            return False
        try:
            os.killpg(self.proc.pid, sig)
        except ProcessLookupError:
            return False
        return True


def onvm_command(module: str, *args: str) -> list[str]:
    """argv running an onvm CLI with this interpreter (no PATH needed)."""
    return [sys.executable, "-m", module, *args]


# ---- traffic ----


def _payload(rng: random.Random, header_len: int):
    """Random payload making the frame 60..1514 bytes long."""
    return Raw(rng.randbytes(max(rng.randint(60, 1514) - header_len, 0)))


def _ipv4(rng: random.Random):
    return IP(
        src=f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}",
        dst=f"192.168.{rng.randrange(256)}.{rng.randrange(1, 255)}",
    )


def _l4(rng: random.Random):
    """A TCP or UDP header of a random flow, and its length."""
    sport, dport = rng.randrange(1024, 65536), rng.choice([22, 53, 80, 443, 8080])
    if rng.random() < 0.5:
        return TCP(sport=sport, dport=dport, flags="PA"), 20
    return UDP(sport=sport, dport=dport), 8


def _ether(rng: random.Random):
    return Ether(src="02:00:00:00:00:01", dst=f"02:00:00:00:01:{rng.randrange(256):02x}")


def _tcp_or_udp_v4(rng):
    l4, l4_len = _l4(rng)
    return _ether(rng) / _ipv4(rng) / l4 / _payload(rng, 14 + 20 + l4_len)


def _icmp_v4(rng):
    return _ether(rng) / _ipv4(rng) / ICMP(id=rng.randrange(65536)) / _payload(rng, 14 + 20 + 8)


def _ipv6(rng):
    ip = IPv6(src=f"fd00::{rng.randrange(1, 65536):x}", dst=f"fd01::{rng.randrange(1, 65536):x}")
    l4, l4_len = _l4(rng)
    return _ether(rng) / ip / l4 / _payload(rng, 14 + 40 + l4_len)


def _vlan(rng):
    l4, l4_len = _l4(rng)
    return (
        _ether(rng)
        / Dot1Q(vlan=rng.randrange(1, 4095))
        / _ipv4(rng)
        / l4
        / _payload(rng, 14 + 4 + 20 + l4_len)
    )


def _arp(rng):
    arp = ARP(psrc=f"10.0.0.{rng.randrange(1, 255)}", pdst=f"10.0.0.{rng.randrange(1, 255)}")
    padding = Padding(bytes(18))  # 42 -> 60 bytes
    return Ether(src="02:00:00:00:00:01", dst="ff:ff:ff:ff:ff:ff") / arp / padding


TRAFFIC_MIX = {_tcp_or_udp_v4: 55, _icmp_v4: 10, _ipv6: 15, _vlan: 12, _arp: 8}


def build_frames(count: int, seed: int = 1) -> list[bytes]:
    """`count` frames over TEMPLATES scapy-built flows. Each frame's source
    MAC carries its sequence number (no checksum covers it), so every frame
    is unique and any loss or reordering shows in the comparison."""
    rng = random.Random(seed)
    makers = rng.choices(
        list(TRAFFIC_MIX), weights=list(TRAFFIC_MIX.values()), k=min(TEMPLATES, count)
    )
    templates = [raw(make(rng)) for make in makers]
    frames = []
    for seq in range(count):
        template = rng.choice(templates)
        frames.append(template[:6] + b"\x02\x00" + seq.to_bytes(4, "big") + template[12:])
    return frames


def write_pcap(path: Path, frames: list[bytes]) -> None:
    writer = RawPcapWriter(str(path), linktype=1)  # Ethernet
    try:
        for frame in frames:
            writer.write(frame)
    finally:
        writer.close()


def read_pcap(path: Path) -> list[bytes]:
    if not path.exists() or path.stat().st_size == 0:
        return []
    reader = RawPcapReader(str(path))
    try:
        return [bytes(data) for data, _meta in reader]
    finally:
        reader.close()


def first_difference(sent: list[bytes], received: list[bytes]) -> int | None:
    """Index of the first packet that differs (or is missing), None if equal."""
    for i, (a, b) in enumerate(zip(sent, received, strict=False)):
        if a != b:
            return i
    return None if len(sent) == len(received) else min(len(sent), len(received))


# ---- manager and NFs ----


def start_manager(children: list[Child], name: str, in_pcap: Path, out_pcap: Path) -> Child:
    ports = ["--port", f"net_pcap0,rx_pcap={in_pcap}", "--port", f"net_pcap1,tx_pcap={out_pcap}"]
    options = ["--name", name, "--chain", CHAIN, "--wait-for-chain", "--stats-interval", "1"]
    return Child(
        "onvm-manager", onvm_command("onvm.manager.cli", "start", *options, *ports), children
    )


def wait_ready(manager: Child, name: str) -> None:
    if manager.wait_for(rf"^onvm-manager: '{re.escape(name)}' ready", START_TIMEOUT) is None:
        raise DemoError(f"the manager did not come up: {manager.last_line()}")


def start_nf(
    children: list[Child], manager_name: str, nf: str, service: int, *nf_args: str
) -> Child:
    args = ["--service", str(service), "--name", manager_name]
    if nf_args:
        args += ["--", *nf_args]
    return Child(f"{nf} (service {service})", onvm_command("onvm.nfs.cli", nf, *args), children)


def wait_serving(nf: Child) -> None:
    if nf.wait_for(r"serving service", START_TIMEOUT) is None:
        raise DemoError(f"{nf.label} did not join the manager: {nf.last_line()}")


def read_stats(name: str) -> dict | None:
    try:
        return json.loads((runtime_dir(name) / "stats.json").read_text())
    except (OSError, ValueError):
        return None


def port_counter(snap: dict | None, port: int, key: str) -> int:
    return int(((snap or {}).get("ports", {}).get(str(port)) or {}).get(key, 0))


def wait_for_traffic(manager: Child, name: str, count: int) -> dict | None:
    """Wait until port 1 sent all `count` packets, or nothing has moved for
    2 s after port 0 received them all, or TRAFFIC_TIMEOUT. Returns the last
    stats snapshot."""
    deadline = time.monotonic() + TRAFFIC_TIMEOUT
    snap, last_tx, last_change = None, -1, time.monotonic()
    while time.monotonic() < deadline:
        if not manager.running():
            raise DemoError(f"the manager stopped during the traffic: {manager.last_line()}")
        snap = read_stats(name) or snap
        rx, tx = port_counter(snap, 0, "rx"), port_counter(snap, 1, "tx")
        if tx >= count:
            return snap
        if tx != last_tx:
            last_tx, last_change = tx, time.monotonic()
        elif rx >= count and time.monotonic() - last_change > 2.0:
            return snap
        time.sleep(0.1)
    say(f"traffic did not finish within {TRAFFIC_TIMEOUT:.0f} s")
    return snap


def wait_for_no_nfs(name: str, timeout: float = 5.0) -> dict | None:
    """The first stats snapshot without NFs: the speed test is over."""
    deadline = time.monotonic() + timeout
    snap = read_stats(name)
    while (snap is None or snap.get("nfs")) and time.monotonic() < deadline:
        time.sleep(0.1)
        snap = read_stats(name)
    return snap


def run_speed_test(name: str, children: list[Child]) -> str | None:
    """speed_tester (service 3) <-> simple_forward (service 4) for
    SPEED_SECONDS, then both leave; returns the speed_tester summary, or None."""
    loop = start_nf(children, name, "simple_forward", 4, "--dest", "3")
    wait_serving(loop)
    tester_args = ["--dest", "4", "--packets", "1024", "--duration", str(SPEED_SECONDS)]
    tester = start_nf(children, name, "speed_tester", 3, *tester_args)
    line = tester.wait_for(r"^speed_tester: summary: ", SPEED_SECONDS + START_TIMEOUT)
    tester.stop(signal.SIGTERM, NF_STOP_TIMEOUT)
    loop.stop(signal.SIGTERM, NF_STOP_TIMEOUT)
    return line.split("summary: ", 1)[1] if line else None


def run_chain(name: str, manager: Child, children: list[Child], count: int) -> dict | None:
    """Start the chain's NFs, which releases port RX; wait for the `count`
    packets to go through. Returns the last stats snapshot."""
    chain_nfs = [
        start_nf(children, name, "simple_forward", 1),
        start_nf(children, name, "basic_monitor", 2),
    ]
    for nf in chain_nfs:
        wait_serving(nf)
    snap = wait_for_traffic(manager, name, count)
    # Let the live views catch up: a basic_monitor report, one more table.
    chain_nfs[1].wait_for(r"total \d+ packets", 3.0)
    manager.wait_for(r"^\[", 3.0, since=len(manager.lines))
    return snap


def stop_all(manager: Child, nfs: list[Child]) -> int | None:
    """SIGTERM the NFs, then SIGINT the manager; returns its exit code."""
    for nf in nfs:
        nf.signal(signal.SIGTERM)
    deadline = time.monotonic() + NF_STOP_TIMEOUT
    for nf in nfs:
        nf.reap(deadline - time.monotonic())
    return manager.stop(signal.SIGINT, MANAGER_STOP_TIMEOUT)


def remove_leftovers(name: str) -> None:
    """Files of a manager that had to be killed: its runtime directory and
    DPDK hugepage files. (A manager that exits by itself removes them.)"""
    removed = remove_dpdk_files(name)
    if runtime_dir(name).exists():
        shutil.rmtree(runtime_dir(name), ignore_errors=True)
        removed += 1
    if removed:
        say(f"removed files left by manager '{name}'")


# ---- the demo ----


def check_environment() -> None:
    if os.geteuid() != 0:
        raise DemoError("run as root (sudo scripts/demo.sh): DPDK needs hugepages")
    if raw is None:
        raise DemoError("scapy is missing: run scripts/setup.sh (installs onvm[test])")


def drops(snap: dict | None, before: dict | None) -> str:
    """The non-zero drop counters of `snap`; the data plane's counted since
    `before` (they include the speed test), the NFs' those of the chain NFs."""
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


def verdict(sent: list[bytes], received: list[bytes]) -> tuple[bool, str]:
    diff = first_difference(sent, received)
    if diff is None:
        return True, f"yes: {len(sent)} packets, byte for byte, in order"
    if diff >= len(received):
        return False, f"NO: output ends after {len(received)} of {len(sent)} packets"
    return False, f"NO: packet {diff} differs"


def problems(same: bool, speed: str | None, manager_exit: int | None) -> list[str]:
    found = []
    if not same:
        found.append("the output pcap differs from the input")
    if speed is None:
        found.append("the speed test gave no result")
    if manager_exit != 0:
        found.append(f"the manager exited with code {manager_exit}")
    return found


def run_demo(
    name: str, workdir: Path, count: int, children: list[Child], started: float
) -> list[str]:
    """The whole demo; returns what went wrong, if anything."""
    in_pcap, out_pcap = workdir / "in.pcap", workdir / "out.pcap"

    say(f"building {count} packets of mixed traffic with scapy ...")
    sent = build_frames(count)
    write_pcap(in_pcap, sent)

    say(f"starting manager '{name}': port 0 <- {in_pcap.name}, port 1 -> {out_pcap.name}")
    manager = start_manager(children, name, in_pcap, out_pcap)
    wait_ready(manager, name)

    # The speed test goes first: an NF that joins after packets were written
    # to a tx pcap truncates that file (each DPDK secondary re-opens the
    # net_pcap files), so every NF joins before the pcap traffic flows.
    say(
        f"phase 1: speed_tester loop, service 3 <-> service 4, {SPEED_SECONDS} s "
        f"(port RX waits for chain {CHAIN})"
    )
    speed = run_speed_test(name, children)

    before = wait_for_no_nfs(name)
    say(f"phase 2: {count} packets through chain {CHAIN}")
    snap = run_chain(name, manager, children, count)

    say("stopping the NFs and the manager")
    manager_exit = stop_all(manager, children[1:])
    summary = manager.wait_for(r"^onvm-manager: summary: ", 0)
    received = read_pcap(out_pcap)
    same, comparison = verdict(sent, received)
    print_summary(
        [
            ("packets in (input pcap)", len(sent)),
            ("port 0 rx", port_counter(snap, 0, "rx")),
            ("port 1 tx", port_counter(snap, 1, "tx")),
            ("drops counted", drops(snap, before)),
            ("packets out (output pcap)", len(received)),
            ("output == input", comparison),
            ("speed_tester", speed or "no result (see its output above)"),
            ("manager", summary.split(": ", 1)[1] if summary else f"exit code {manager_exit}"),
            ("took", f"{time.monotonic() - started:.1f} s"),
        ]
    )
    return problems(same, speed, manager_exit)


def _raise_interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def _raise_timeout(signum, frame) -> None:
    raise DemoError(f"the run took longer than {RUN_TIMEOUT} s; everything it started is stopped")


def cleanup(name: str, children: list[Child]) -> None:
    """Stop whatever still runs (the manager is children[0]), with signals
    ignored so that cleanup is not cut short."""
    signal.alarm(0)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if children:
        stop_all(children[0], [nf for nf in children[1:] if nf.running()])
        remove_leftovers(name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m onvm.manager.demo", description="onvm end to end on pcap ports (root)"
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
    name = f"demo-{os.getpid()}"
    children: list[Child] = []
    try:
        check_environment()
        with tempfile.TemporaryDirectory(prefix="onvm-demo-") as workdir:
            try:
                found = run_demo(name, Path(workdir), args.packets, children, started)
            finally:
                cleanup(name, children)
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
