# SPDX-License-Identifier: BSD-3-Clause
"""Manager configuration: a TOML file, overridden by command-line flags.

Everything is validated here, before DPDK starts, so a bad value is one
clear ConfigError line rather than a failure deep in EAL.
"""

from __future__ import annotations

import dataclasses
import os
import re
from dataclasses import dataclass, field
from typing import Any

from onvm import contract, options
from onvm.contract import (
    BURST_MAX,
    DEFAULT_MANAGER,
    MAX_CHAIN_HOPS,
    MAX_CPU,
    MAX_FLOW_RULES,
    MAX_NFS,
    MAX_PORT_RX_QUEUES,
    MAX_PORTS,
    MAX_SERVICES,
    MAX_WORKERS,
    NAME_CHARS,
    NAME_MAX,
)
from onvm.errors import ConfigError

# The name rule of managers and chains (onvm/common.h).
NAME_RE = re.compile(f"[{re.escape(NAME_CHARS)}]{{1,{NAME_MAX}}}")
DIGITS_RE = re.compile(r"[0-9]+")

@dataclass(frozen=True)
class Hop:
    """One chain hop: to a service, out of a port, or a copy to a service
    (tee) while the packet goes on to the next hop."""

    kind: str  # "nf", "port" or "tee"
    dest: int

    def __str__(self) -> str:
        return {"nf": "", "port": "out:", "tee": "tee:"}[self.kind] + str(self.dest)


# Hops written PREFIX:N: (kind, what N is, its bounds).
_PREFIXED_HOPS = {"out:": ("port", "a port id", 0, MAX_PORTS - 1),
                  "tee:": ("tee", "a service id", 1, MAX_SERVICES - 1)}


def parse_chain(spec: str) -> list[Hop]:
    """Parse "1,2,out:1" into hops; raises ConfigError naming the bad hop."""
    spec = spec.strip()
    if not spec:
        return []
    hops = []
    for text in (part.strip() for part in spec.split(",")):
        prefix = text[:4]
        if prefix in _PREFIXED_HOPS:
            kind, what, lo, hi = _PREFIXED_HOPS[prefix]
            dest = _digits_in(text[4:], lo, hi)
            if dest is None:
                raise ConfigError(f"chain hop '{options.shown(text)}': {prefix} takes {what} "
                                  f"from {lo} to {hi}")
            hops.append(Hop(kind, dest))
        elif (service := _digits_in(text, 1, MAX_SERVICES - 1)) is not None:
            hops.append(Hop("nf", service))
        else:
            raise ConfigError(
                f"chain hop '{options.shown(text)}' is neither a service id (1 to "
                f"{MAX_SERVICES - 1}), an output port (out:N) nor a copy to a service "
                "(tee:N); example: --chain 1,tee:2,out:1"
            )
    if len(hops) > MAX_CHAIN_HOPS:
        raise ConfigError(f"chain '{spec}' has {len(hops)} hops; at most {MAX_CHAIN_HOPS}")
    return hops


def _digits_in(text: str, lo: int, hi: int) -> int | None:
    """`text` as a number from lo to hi if it is plain digits, else None."""
    if not DIGITS_RE.fullmatch(text):
        return None
    try:
        return options.integer(text, lo, hi)
    except ValueError:
        return None


def parse_cores(spec: str | list[int]) -> list[int]:
    """Parse "0,1", "0-3" or [0, 1] into CPU numbers, in order."""
    if isinstance(spec, list):
        items = [str(x) for x in spec]
    else:
        items = [s.strip() for s in str(spec).split(",") if s.strip()]
    cores: list[int] = []
    for item in items:
        m = re.fullmatch(r"([0-9]+)(?:-([0-9]+))?", item)
        if not m:
            raise ConfigError(f"cores: '{options.shown(item)}' is not a CPU number or range "
                              "(e.g. 0,1 or 0-1)")
        bounds = [_digits_in(m.group(i), 0, MAX_CPU) for i in (1, 2) if m.group(i)]
        if None in bounds:
            raise ConfigError(f"cores: '{options.shown(item)}' names a CPU beyond the largest "
                              f"supported CPU {MAX_CPU}")
        lo, hi = bounds[0], bounds[-1]
        if hi < lo:
            raise ConfigError(f"cores: range '{item}' runs backwards")
        cores.extend(range(lo, hi + 1))
    if not cores:
        raise ConfigError("cores: give at least one CPU (e.g. --cores 0,1)")
    # The control thread sleeps between ticks, so a worker may share its
    # CPU (as the one worker does with a single CPU): 0,0,1 is two workers
    # on two CPUs. Two busy-polling workers on one CPU only take turns.
    workers = cores[1:]
    if len(set(workers)) != len(workers):
        raise ConfigError(f"cores: {spec} names a worker CPU twice (the first CPU, the "
                          "control thread's, may be named once more, e.g. 0,0,1)")
    return cores


def _power_of_two(n: int) -> bool:
    return n > 0 and n & (n - 1) == 0


RX_QUEUES_AUTO = "auto"


def parse_rx_queues(value: object, what: str = "rx_queues") -> str | int:
    """[dataplane] rx_queues: "auto" (one per worker) or a count."""
    if isinstance(value, str) and value.strip().lower() == RX_QUEUES_AUTO:
        return RX_QUEUES_AUTO
    try:
        return options.integer(value, 1, MAX_PORT_RX_QUEUES)
    except ValueError:
        raise ConfigError(f"{what} takes \"auto\" (one RX queue per worker on ports "
                          f"with RSS) or a count from 1 to {MAX_PORT_RX_QUEUES}, not "
                          f"'{options.shown(value)}'") from None


UINT32_MAX = (1 << 32) - 1
# Every numeric setting and its bounds, for the config file and the flags
# alike: (lo, hi). Each is checked before DPDK starts, so no value reaches
# a C type too small for it.
WHOLE_SETTINGS: dict[str, tuple[int, int]] = {
    "burst_size": (1, BURST_MAX),
    "nf_ring_size": (64, 1 << 16),
    "num_mbufs": (1024, UINT32_MAX),  # the hugepage check says how many fit
    "mbuf_cache": (0, 512),  # DPDK's largest per-lcore cache
    "max_flow_rules": (1, MAX_FLOW_RULES),
    "port_rx_desc": (32, 32768),
    "port_tx_desc": (32, 32768),
    "chain_grace_ms": (0, 60000),
    "idle_sleep_us": (0, 1_000_000),
    "wake_batch": (1, 1 << 16),
    "wake_delay_us": (0, 1_000_000),
    "latency_sample": (0, 1 << 20),
    "max_request_bytes": (1024, 1 << 24),
}
SECONDS_SETTINGS: dict[str, tuple[float, float]] = {
    "stats_interval": (0, 3600),  # 0: no stats tables
    "nf_stop_timeout": (0.01, 600),
    "stats_publish_interval": (0.01, 3600),
}
# nf_to_nf values, as the data plane numbers them.
NF_TO_NF = {"manager": contract.NfToNf.MANAGER, "direct": contract.NfToNf.DIRECT}
# Rings are powers of two. So are descriptor counts: every PMD takes a
# power of two as it is (alignments of 8 or 32, mlx5's rounding up), where
# another value may be refused or silently changed.
POWERS_OF_TWO = {"nf_ring_size", "port_rx_desc", "port_tx_desc"}


def check_setting(key: str, value: object, what: str | None = None) -> int | float:
    """A numeric setting's value, as int or float, if within its bounds;
    ConfigError naming `what` (default: the setting) otherwise."""
    what = what or key
    try:
        if key in WHOLE_SETTINGS:
            checked: int | float = options.integer(value, *WHOLE_SETTINGS[key])
        else:
            checked = options.number(value, *SECONDS_SETTINGS[key], " seconds")
    except ValueError as e:
        raise ConfigError(f"{what} {e}") from None
    if key in POWERS_OF_TWO and not _power_of_two(checked):
        lo, hi = WHOLE_SETTINGS[key]
        raise ConfigError(f"{what} must be a power of two from {lo} to {hi}, not {checked}")
    return checked


def setting_flag(key: str, text: str | None) -> int | float | None:
    """A numeric flag's text (None: not given) as the value of setting `key`."""
    if text is None:
        return None
    return check_setting(key, text, "--" + key.replace("_", "-"))


@dataclass
class Config:
    """Everything `onvm-manager start` needs."""

    name: str = DEFAULT_MANAGER
    cores: list[int] = field(default_factory=lambda: [0, 1])
    wait_for_chain: bool = False
    stats_interval: float = 1.0
    ports: list[str] = field(default_factory=list)
    # Stamp packets with their ports' RX times where a port can (net_pcap:
    # the capture times of its file); NFs read them (onvm/pkt_time.h).
    rx_timestamps: bool = False
    chain: list[Hop] = field(default_factory=list)
    burst_size: int = 32
    nf_ring_size: int = 4096
    num_mbufs: int = 16383
    mbuf_cache: int = 256
    max_flow_rules: int = 1024
    port_rx_desc: int = 1024
    port_tx_desc: int = 1024
    # RX queues of a port with RSS: "auto" (one per worker) or a count.
    rx_queues: str | int = RX_QUEUES_AUTO
    chain_grace_ms: int = 1000
    # Shared-core NFs: see [dataplane] in configs/manager.toml.
    idle_sleep_us: int = 200
    wake_batch: int = 32
    wake_delay_us: int = 20
    # Who moves packets from one NF to the next: "manager" (its workers) or
    # "direct" (the NF itself, on a ring per NF pair).
    nf_to_nf: str = "manager"
    # Latency histograms record one packet in latency_sample (0: none).
    latency_sample: int = 1
    nf_stop_timeout: float = 3.0
    eal_args: list[str] = field(default_factory=list)
    # Control plane: the ipc endpoints are always on; TCP, Prometheus and
    # the web console are opt-in ("host:port", or a port alone for loopback).
    control_tcp: str = ""
    curve_keys: str = ""
    stats_publish_interval: float = 1.0
    prometheus: str = ""
    web: str = ""
    max_request_bytes: int = 65536
    # Where clients over TCP may write captures (ipc clients, root on this
    # host, may name any new file).
    capture_dir: str = "/var/lib/onvm/captures"

    @property
    def control_core(self) -> int:
        return self.cores[0]

    @property
    def worker_cores(self) -> list[int]:
        """CPUs of the data-plane workers; with one core, it is shared."""
        return self.cores[1:] or self.cores[:1]

    def nf_cpus(self, available_cpus: set[int] | None = None) -> list[int]:
        """The CPUs a dedicated NF (onvm-nf --dedicated) may be given, lowest
        first: those of `available_cpus` (default: this process's) that run
        neither the control thread nor a worker; at most one per NF slot."""
        cpus = available_cpus if available_cpus is not None else os.sched_getaffinity(0)
        return sorted(set(cpus) - set(self.cores))[:MAX_NFS - 1]

    def validate(self, available_cpus: set[int] | None = None) -> Config:
        if not NAME_RE.fullmatch(self.name):
            raise ConfigError(
                f"name '{self.name}': use 1 to {NAME_MAX} letters, digits, '-' or '_'"
            )
        if len(self.worker_cores) > MAX_WORKERS:
            raise ConfigError(f"cores: at most {MAX_WORKERS} data-plane workers")
        cpus = available_cpus if available_cpus is not None else os.sched_getaffinity(0)
        missing = [c for c in self.cores if c not in cpus]
        if missing:
            raise ConfigError(
                f"core {missing[0]} does not exist or is not allowed here; "
                f"available CPUs: {','.join(map(str, sorted(cpus)))}"
            )
        for key in (*WHOLE_SETTINGS, *SECONDS_SETTINGS):
            check_setting(key, getattr(self, key))
        parse_rx_queues(self.rx_queues)
        if self.nf_to_nf not in NF_TO_NF:
            raise ConfigError(f"nf_to_nf '{options.shown(self.nf_to_nf)}': give "
                              f"{' or '.join(NF_TO_NF)}")
        self._validate_control()
        if len(self.ports) > MAX_PORTS:
            raise ConfigError(f"at most {MAX_PORTS} ports")
        for port in self.ports:
            if not port.strip():
                raise ConfigError("an empty --port; give DPDK devargs such as net_null0")
        return self

    def _validate_control(self) -> None:
        if self.control_tcp:
            parse_listen(self.control_tcp, "control tcp")
            if not self.curve_keys:
                raise ConfigError(
                    "control tcp needs CURVE keys: give --curve-keys DIR "
                    "(make them with `onvm-ctl keys DIR`)"
                )
        if self.prometheus:
            parse_listen(self.prometheus, "prometheus")
        if self.web:
            parse_listen(self.web, "web")
        if not os.path.isabs(self.capture_dir) or "\0" in self.capture_dir:
            raise ConfigError(f"capture_dir '{self.capture_dir[:80]}' must be an absolute path "
                              "(e.g. /var/lib/onvm/captures)")


def parse_listen(spec: str, what: str) -> tuple[str, int]:
    """Parse "host:port" or "port" (loopback) into (host, port)."""
    host, _, port = spec.rpartition(":")
    host = host.strip("[]") or "127.0.0.1"
    port_number = _digits_in(port, 1, 65535)
    if port_number is None:
        raise ConfigError(f"{what} '{options.shown(spec)}': give host:port or a port from 1 "
                          "to 65535")
    return host, port_number


# TOML table.key -> Config field, with the type each must have.
_FIELDS: dict[str, tuple[str, type | tuple[type, ...]]] = {
    "manager.name": ("name", str),
    "manager.cores": ("cores", (str, list)),
    "manager.wait_for_chain": ("wait_for_chain", bool),
    "manager.stats_interval": ("stats_interval", (int, float)),
    "manager.nf_stop_timeout": ("nf_stop_timeout", (int, float)),
    "dataplane.burst_size": ("burst_size", int),
    "dataplane.nf_ring_size": ("nf_ring_size", int),
    "dataplane.num_mbufs": ("num_mbufs", int),
    "dataplane.mbuf_cache": ("mbuf_cache", int),
    "dataplane.max_flow_rules": ("max_flow_rules", int),
    "dataplane.port_rx_desc": ("port_rx_desc", int),
    "dataplane.port_tx_desc": ("port_tx_desc", int),
    "dataplane.rx_queues": ("rx_queues", (str, int)),
    "dataplane.chain_grace_ms": ("chain_grace_ms", int),
    "dataplane.idle_sleep_us": ("idle_sleep_us", int),
    "dataplane.wake_batch": ("wake_batch", int),
    "dataplane.wake_delay_us": ("wake_delay_us", int),
    "dataplane.nf_to_nf": ("nf_to_nf", str),
    "dataplane.latency_sample": ("latency_sample", int),
    "control.tcp": ("control_tcp", str),
    "control.curve_keys": ("curve_keys", str),
    "control.stats_publish_interval": ("stats_publish_interval", (int, float)),
    "control.prometheus": ("prometheus", str),
    "control.web": ("web", str),
    "control.max_request_bytes": ("max_request_bytes", int),
    "control.capture_dir": ("capture_dir", str),
    "ports.devargs": ("ports", list),
    "ports.rx_timestamps": ("rx_timestamps", bool),
    "chains.default": ("chain", str),
    "eal.args": ("eal_args", list),
}


def _flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in data.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten(value, path + "."))
        else:
            flat[path] = value
    return flat


def load(path: str | os.PathLike[str] | None) -> Config:
    """Read a TOML config file (None: the built-in defaults)."""
    config = Config()
    if path is None:
        return config
    data = options.read_toml(path, "config file", ConfigError)
    for key, value in _flatten(data).items():
        if key not in _FIELDS:
            raise ConfigError(f"{path}: unknown setting '{key}' (known: {', '.join(_FIELDS)})")
        attr, types = _FIELDS[key]
        wants_bool = types is bool
        if not isinstance(value, types) or (isinstance(value, bool) and not wants_bool):
            raise ConfigError(f"{path}: '{key}' has the wrong type ({type(value).__name__})")
        if attr == "chain":
            value = parse_chain(value)
        elif attr == "cores":
            value = parse_cores(value)
        elif attr == "rx_queues":
            value = parse_rx_queues(value, f"{path}: 'dataplane.rx_queues'")
        elif attr in ("ports", "eal_args"):
            if not all(isinstance(v, str) for v in value):
                raise ConfigError(f"{path}: '{key}' must be a list of strings")
        setattr(config, attr, value)
    tables = {key.split(".", 1)[0] for key in _FIELDS}
    for table in data:  # an empty unknown table has no key to complain about
        if table not in tables:
            known = ", ".join(sorted(tables))
            raise ConfigError(f"{path}: unknown table '{table}' (known: {known})")
    return config


def override(config: Config, **flags: Any) -> Config:
    """Apply command-line flags that were given (None means not given)."""
    given = {k: v for k, v in flags.items() if v is not None}
    return dataclasses.replace(config, **given)
