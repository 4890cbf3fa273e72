# SPDX-License-Identifier: BSD-3-Clause
"""OVS-DPDK as a benchmark peer: a private ovsdb-server and ovs-vswitchd
that nothing else on the machine sees, and that leave nothing behind.

Everything lives in one directory of the benchmark's: the database, the
sockets, the logs (OVS_RUNDIR, OVS_DBDIR, OVS_LOGDIR and OVS_SYSCONFDIR
point there, so no tool falls back to /var/run/openvswitch). ovs-vswitchd
gets its own DPDK file prefix, no PCI, in-memory hugepages (OVS adds
--in-memory itself) and the vdevs through other_config:dpdk-extra; its
control threads and ovsdb-server run on the control CPU, its one PMD
thread on pmd-cpu-mask's CPU. The bridge is datapath_type=netdev with the
vdevs as dpdk ports p0, p1, ... and whatever OpenFlow rules are given.

The netdev datapath makes persistent tap devices (the bridge's local port
and `ovs-netdev`): `exit --cleanup` removes them, and cleanup() deletes any
this switch made that a kill left behind.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path

from onvm.bench.procs import Proc, wait_until
from onvm.bench.testpmd_proc import remove_prefix_files

PACKAGE = "openvswitch-switch-dpdk"
# Debian's DPDK build, used directly if the ovs-vswitchd alternative is not it.
DEBIAN_DPDK_VSWITCHD = "/usr/lib/openvswitch-switch-dpdk/ovs-vswitchd-dpdk"
SCHEMA = Path("/usr/share/openvswitch/vswitch.ovsschema")
TOOLS = ("ovsdb-tool", "ovsdb-server", "ovs-vsctl", "ovs-ofctl", "ovs-appctl")
# The tap of the netdev datapath itself: one name for every OVS on the host.
DATAPATH_TAP = "ovs-netdev"
START_TIMEOUT = 30.0  # DPDK's start in ovs-vswitchd takes a few seconds
CTL_TIMEOUT = 20.0
STOP_TIMEOUT = 10.0

_VERSION = re.compile(r"\(Open vSwitch\) (\S+)")
_DPDK_VERSION = re.compile(r"^DPDK (\S+)", re.MULTILINE)
# ovs-ofctl dump-ports: `port  2: rx pkts=1, bytes=0, drop=0, ...` then
# `tx pkts=...` on the next line; a counter the port lacks is `?`.
_PORT = re.compile(r"^\s*port\s+(\S+?):\s*rx\s+(.*)$")
_TX = re.compile(r"^\s*tx\s+(.*)$")
_COUNTER = re.compile(r"(\w+)=(\d+|\?)")


class OvsMissing(RuntimeError):
    """OVS-DPDK is not installed (or not its DPDK build): one line why."""


@dataclass(frozen=True)
class OvsTools:
    vswitchd: str
    version: str
    dpdk: str
    paths: dict[str, str]


def parse_version(text: str) -> tuple[str | None, str | None]:
    """(Open vSwitch version, DPDK version or None) from `ovs-vswitchd --version`."""
    ovs, dpdk = _VERSION.search(text), _DPDK_VERSION.search(text)
    return (ovs.group(1) if ovs else None), (dpdk.group(1) if dpdk else None)


def _vswitchd_version(binary: str) -> tuple[str | None, str | None]:
    try:
        done = subprocess.run([binary, "--version"], capture_output=True, text=True,
                              timeout=10, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return None, None
    return parse_version(done.stdout)


def find_ovs() -> OvsTools:
    """The OVS tools and a DPDK-enabled ovs-vswitchd; OvsMissing otherwise."""
    how = f"install {PACKAGE} (scripts/setup.sh does, with its services masked)"
    paths = {name: shutil.which(name) for name in TOOLS}
    missing = [name for name, path in paths.items() if path is None]
    if missing or not SCHEMA.exists():
        raise OvsMissing(f"OVS-DPDK is not installed ({', '.join(missing) or SCHEMA} "
                         f"not found): {how}")
    for candidate in (shutil.which("ovs-vswitchd"), DEBIAN_DPDK_VSWITCHD):
        if candidate and os.access(candidate, os.X_OK):
            version, dpdk = _vswitchd_version(candidate)
            if version and dpdk:
                return OvsTools(candidate, version, dpdk, paths)
    raise OvsMissing(f"OVS-DPDK is not installed (no ovs-vswitchd built with DPDK): {how}")


def _counters(text: str) -> dict[str, int | None]:
    return {k: (None if v == "?" else int(v)) for k, v in _COUNTER.findall(text)}


def parse_dump_ports(text: str) -> dict[str, dict[str, dict[str, int | None]]]:
    """`ovs-ofctl dump-ports` as {port: {"rx": {...}, "tx": {...}}}; the
    port as OVS printed it (an OpenFlow port number, or LOCAL)."""
    ports: dict[str, dict[str, dict[str, int | None]]] = {}
    current = None
    for line in text.splitlines():
        port = _PORT.match(line)
        if port:
            current = port.group(1).strip('"')
            ports[current] = {"rx": _counters(port.group(2)), "tx": {}}
            continue
        tx = _TX.match(line)
        if tx and current is not None:
            ports[current]["tx"] = _counters(tx.group(1))
    return ports


def parse_pmd_stats(text: str) -> dict[str, dict[str, float]]:
    """`ovs-appctl dpif-netdev/pmd-stats-show` as {thread: {figure: value}},
    e.g. {"pmd thread numa_id 0 core_id 1": {"packets received": 61091840.0,
    "avg cycles per packet": 131.43, ...}}; a percentage or a ratio in
    brackets after a value is left out."""
    threads: dict[str, dict[str, float]] = {}
    current: dict[str, float] | None = None
    for line in text.splitlines():
        if not line.strip():
            continue
        if not line.startswith((" ", "\t")):
            current = threads.setdefault(line.strip().rstrip(":"), {})
            continue
        name, sep, value = line.strip().partition(":")
        number = re.match(r"\s*(-?[0-9.]+)", value)
        if current is not None and sep and number:
            current[name.strip()] = float(number.group(1))
    return threads


def _tap_exists(name: str) -> bool:
    return Path("/sys/class/net", name).exists()


class OvsSwitch:
    """One private OVS-DPDK: `vdevs` become dpdk ports p0, p1, ... of a
    netdev bridge; `flows` its OpenFlow rules (port names allowed)."""

    def __init__(self, workdir: Path, tools: OvsTools, vdevs: list[str], flows: list[str],
                 pmd_cpu: int, control_cpu: int) -> None:
        tag = uuid.uuid4().hex[:8]
        self.tools = tools
        self.vdevs = vdevs
        self.flows = flows
        self.pmd_cpu, self.control_cpu = pmd_cpu, control_cpu
        self.dir = workdir / f"ovs-{tag}"
        # Not onvm-*: that is where managers' file prefixes live.
        self.prefix = f"bench-ovs-{tag}"
        self.bridge = f"onvmb{tag}"  # a Linux interface name: at most 15 bytes
        self.db_sock = self.dir / "db.sock"
        self.vswitchd_ctl = self.dir / "ovs-vswitchd.ctl"
        self.ovsdb_ctl = self.dir / "ovsdb-server.ctl"
        self.env = {**os.environ, **{var: str(self.dir) for var in (
            "OVS_RUNDIR", "OVS_DBDIR", "OVS_LOGDIR", "OVS_SYSCONFDIR")}}
        self.ports = [f"p{i}" for i in range(len(vdevs))]
        self.ofports: dict[str, int] = {}
        self.ovsdb: Proc | None = None
        self.vswitchd: Proc | None = None
        # Taps this switch is to remove if a kill leaves them: its bridge's,
        # and the datapath's unless another OVS already had it.
        self._taps = [self.bridge] + ([] if _tap_exists(DATAPATH_TAP) else [DATAPATH_TAP])

    # ---- control ----

    def _run(self, tool: str, *args: str, timeout: float = CTL_TIMEOUT,
             command: str | None = None) -> str:
        """One OVS command; RuntimeError with its one-line complaint if it
        fails, naming `command` (by default its first argument that is no option)."""
        argv = [self.tools.paths[tool], *args]
        what = f"{tool} " + (command or next((a for a in args if not a.startswith("-")), ""))
        try:
            done = subprocess.run(argv, capture_output=True, text=True, env=self.env,
                                  timeout=timeout, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            raise RuntimeError(f"OVS-DPDK: {what} took over {timeout:g} s"
                               f"{self._log_reason()}") from None
        if done.returncode != 0:
            said = (done.stderr.strip().splitlines() or [f"exit code {done.returncode}"])[-1]
            raise RuntimeError(f"OVS-DPDK: {what} failed: {said}"
                               f"{self._log_reason()}")
        return done.stdout

    def vsctl(self, *args: str, timeout: float = CTL_TIMEOUT) -> str:
        return self._run("ovs-vsctl", f"--db=unix:{self.db_sock}", f"--timeout={timeout:.0f}",
                         *args, timeout=timeout + 5)

    def ofctl(self, *args: str) -> str:
        # The bridge's management socket is found in OVS_RUNDIR.
        return self._run("ovs-ofctl", *args)

    def appctl(self, target: Path, *args: str, timeout: float = CTL_TIMEOUT) -> str:
        return self._run("ovs-appctl", "-t", str(target), *args, timeout=timeout,
                         command=args[0])

    def _log_reason(self) -> str:
        """What ovs-vswitchd's log says went wrong, if anything, as `: ...`."""
        log = self.dir / "ovs-vswitchd.log"
        try:
            lines = log.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        bad = [ln.split("|", 4)[-1] for ln in lines if "|EMER|" in ln or "|ERR|" in ln]
        return f": {bad[-1]}" if bad else ""

    # ---- start ----

    def start(self) -> OvsSwitch:
        self.dir.mkdir()
        db = self.dir / "conf.db"
        self._run("ovsdb-tool", "create", str(db), str(SCHEMA))
        self.ovsdb = Proc(["taskset", "-c", str(self.control_cpu), self.tools.paths["ovsdb-server"],
                           str(db), f"--remote=punix:{self.db_sock}",
                           f"--unixctl={self.ovsdb_ctl}",
                           f"--log-file={self.dir / 'ovsdb-server.log'}"],
                          self.dir / "ovsdb-server.out", label="ovsdb-server", env=self.env)

        def db_up() -> bool:
            if not self.ovsdb.alive():
                raise RuntimeError(f"OVS-DPDK: ovsdb-server exited: {self.ovsdb.last_line()}")
            return self.db_sock.exists()

        wait_until(db_up, CTL_TIMEOUT, "ovsdb-server's socket")
        extra = " ".join(["--no-pci", f"--file-prefix={self.prefix}",
                          *(f"--vdev {vdev}" for vdev in self.vdevs)])
        self.vsctl("--no-wait", "init", "--", "set", "Open_vSwitch", ".",
                   "other_config:dpdk-init=true",
                   f"other_config:dpdk-extra={extra}",
                   f"other_config:pmd-cpu-mask={1 << self.pmd_cpu:#x}",
                   # Pools sized for the ports' queues, not 256 Ki mbufs each:
                   # the hugepages are shared with everyone else's runs.
                   "other_config:per-port-memory=true")
        # Every thread starts on the control CPU; the PMD moves itself.
        self.vswitchd = Proc(["taskset", "-c", str(self.control_cpu), self.tools.vswitchd,
                              f"unix:{self.db_sock}", f"--unixctl={self.vswitchd_ctl}",
                              f"--log-file={self.dir / 'ovs-vswitchd.log'}"],
                             self.dir / "ovs-vswitchd.out", label="ovs-vswitchd", env=self.env)
        wait_until(self._dpdk_initialized, START_TIMEOUT, "ovs-vswitchd to start DPDK",
                   step=0.2)
        commands = ["add-br", self.bridge, "--", "set", "Bridge", self.bridge,
                    "datapath_type=netdev"]
        for port, vdev in zip(self.ports, self.vdevs, strict=True):
            # A vdev from dpdk-extra is found by its name, without its arguments.
            commands += ["--", "add-port", self.bridge, port, "--", "set", "Interface", port,
                         "type=dpdk", f"options:dpdk-devargs={vdev.split(',', 1)[0]}"]
        self.vsctl(*commands)
        for port in self.ports:
            ofport = int(self.vsctl("get", "Interface", port, "ofport").strip() or -1)
            if ofport < 0:
                error = self.vsctl("get", "Interface", port, "error").strip().strip('"')
                raise RuntimeError(f"OVS-DPDK: port {port} did not come up: {error}")
            self.ofports[port] = ofport
        self.ofctl("del-flows", self.bridge)
        for flow in self.flows:
            self.ofctl("add-flow", self.bridge, flow)
        return self

    def _dpdk_initialized(self) -> bool:
        if not self.vswitchd.alive():
            raise RuntimeError(f"OVS-DPDK: ovs-vswitchd exited{self._log_reason()}")
        try:
            return self.vsctl("--no-wait", "get", "Open_vSwitch", ".",
                              "dpdk_initialized", timeout=5).strip() == "true"
        except RuntimeError:
            return False

    # ---- figures ----

    def port_counters(self) -> dict[str, dict[str, dict[str, int | None]]]:
        """Live counters of every dpdk port, by port name (p0, p1, ...)."""
        ports = parse_dump_ports(self.ofctl("dump-ports", self.bridge))
        return {name: ports.get(str(ofport), {"rx": {}, "tx": {}})
                for name, ofport in self.ofports.items()}

    def pmd_stats(self) -> dict[str, dict[str, float]]:
        return parse_pmd_stats(self.appctl(self.vswitchd_ctl, "dpif-netdev/pmd-stats-show"))

    def clear_pmd_stats(self) -> None:
        self.appctl(self.vswitchd_ctl, "dpif-netdev/pmd-stats-clear")

    # ---- stop ----

    def stop(self) -> None:
        """As an operator would: ovs-vswitchd leaves with its bridge and
        ports removed (taps included), then ovsdb-server."""
        for proc, target, args in ((self.vswitchd, self.vswitchd_ctl, ("exit", "--cleanup")),
                                   (self.ovsdb, self.ovsdb_ctl, ("exit",))):
            if proc is None or not proc.alive():
                continue
            try:
                self.appctl(target, *args, timeout=STOP_TIMEOUT)
            except RuntimeError:
                proc.signal(signal.SIGTERM)
            proc.wait_or_kill(STOP_TIMEOUT)

    def cleanup(self) -> None:
        """Kill whatever still runs; remove the taps it left, DPDK's files
        of its prefix and its directory."""
        for proc in (self.vswitchd, self.ovsdb):
            if proc is not None:
                proc.kill()
        for tap in self._taps:
            if _tap_exists(tap):
                subprocess.run(["ip", "link", "delete", tap], capture_output=True,
                               timeout=10, stdin=subprocess.DEVNULL)
        remove_prefix_files(self.prefix)
        shutil.rmtree(self.dir, ignore_errors=True)
