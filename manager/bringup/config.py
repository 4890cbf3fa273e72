# SPDX-License-Identifier: BSD-3-Clause
"""Manager configuration: a TOML file, overridden by command-line flags.

Everything is validated here, before DPDK starts, so a bad value is one
clear ConfigError line rather than a failure deep in EAL.
"""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from onvm.contract import (
    BURST_MAX,
    DEFAULT_MANAGER,
    MAX_CHAIN_HOPS,
    MAX_CPU,
    MAX_FLOW_RULES,
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
    """One chain hop: to a service, or out of a port."""

    kind: str  # "nf" or "port"
    dest: int

    def __str__(self) -> str:
        return str(self.dest) if self.kind == "nf" else f"out:{self.dest}"


def parse_chain(spec: str) -> list[Hop]:
    """Parse "1,2,out:1" into hops; raises ConfigError naming the bad hop."""
    spec = spec.strip()
    if not spec:
        return []
    hops = []
    for text in (part.strip() for part in spec.split(",")):
        if text.startswith("out:"):
            port = text[4:]
            if not DIGITS_RE.fullmatch(port) or int(port) >= MAX_PORTS:
                raise ConfigError(
                    f"chain hop '{text}': out: takes a port id from 0 to {MAX_PORTS - 1}"
                )
            hops.append(Hop("port", int(port)))
        elif DIGITS_RE.fullmatch(text) and 1 <= int(text) < MAX_SERVICES:
            hops.append(Hop("nf", int(text)))
        else:
            raise ConfigError(
                f"chain hop '{text}' is neither a service id (1 to {MAX_SERVICES - 1}) "
                f"nor an output port (out:N); example: --chain 1,2,out:1"
            )
    if len(hops) > MAX_CHAIN_HOPS:
        raise ConfigError(f"chain '{spec}' has {len(hops)} hops; at most {MAX_CHAIN_HOPS}")
    return hops


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
            raise ConfigError(f"cores: '{item}' is not a CPU number or range (e.g. 0,1 or 0-1)")
        lo, hi = int(m.group(1)), int(m.group(2) or m.group(1))
        if hi < lo:
            raise ConfigError(f"cores: range '{item}' runs backwards")
        if hi > MAX_CPU:
            raise ConfigError(f"cores: CPU {hi} is beyond the largest supported CPU {MAX_CPU}")
        cores.extend(range(lo, hi + 1))
    if not cores:
        raise ConfigError("cores: give at least one CPU (e.g. --cores 0,1)")
    if len(set(cores)) != len(cores):
        raise ConfigError(f"cores: {spec} names a CPU twice")
    return cores


def _power_of_two(n: int) -> bool:
    return n > 0 and n & (n - 1) == 0


@dataclass
class Config:
    """Everything `onvm-manager start` needs."""

    name: str = DEFAULT_MANAGER
    cores: list[int] = field(default_factory=lambda: [0, 1])
    wait_for_chain: bool = False
    stats_interval: float = 1.0
    ports: list[str] = field(default_factory=list)
    chain: list[Hop] = field(default_factory=list)
    burst_size: int = 32
    nf_ring_size: int = 4096
    num_mbufs: int = 16383
    mbuf_cache: int = 256
    max_flow_rules: int = 1024
    port_rx_desc: int = 1024
    port_tx_desc: int = 1024
    chain_grace_ms: int = 1000
    nf_stop_timeout: float = 3.0
    eal_args: list[str] = field(default_factory=list)
    # Control plane: the ipc endpoints are always on; TCP and Prometheus
    # are opt-in ("host:port", or a port alone for loopback).
    control_tcp: str = ""
    curve_keys: str = ""
    stats_publish_interval: float = 1.0
    prometheus: str = ""
    max_request_bytes: int = 65536

    @property
    def control_core(self) -> int:
        return self.cores[0]

    @property
    def worker_cores(self) -> list[int]:
        """CPUs of the data-plane workers; with one core, it is shared."""
        return self.cores[1:] or self.cores[:1]

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
        if not 1 <= self.burst_size <= BURST_MAX:
            raise ConfigError(f"burst_size must be from 1 to {BURST_MAX}")
        if not _power_of_two(self.nf_ring_size) or self.nf_ring_size < 64:
            raise ConfigError("nf_ring_size must be a power of two, at least 64")
        if self.num_mbufs < 1024:
            raise ConfigError("num_mbufs must be at least 1024")
        if not 0 <= self.mbuf_cache <= 512:
            raise ConfigError("mbuf_cache must be from 0 to 512")
        if not 0 <= self.stats_interval <= 3600:
            raise ConfigError("stats_interval must be from 0 to 3600 seconds (0: no stats)")
        if not 0 < self.nf_stop_timeout <= 600:
            raise ConfigError("nf_stop_timeout must be from 0 to 600 seconds")
        if not 1 <= self.max_flow_rules <= MAX_FLOW_RULES:
            raise ConfigError(f"max_flow_rules must be from 1 to {MAX_FLOW_RULES}")
        self._validate_control()
        for key in ("port_rx_desc", "port_tx_desc"):
            if not 32 <= getattr(self, key) <= 32768:
                raise ConfigError(f"{key} must be from 32 to 32768")
        if not 0 <= self.chain_grace_ms <= 60000:
            raise ConfigError("chain_grace_ms must be from 0 to 60000")
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
        if not 0.01 <= self.stats_publish_interval <= 3600:
            raise ConfigError("stats_publish_interval must be from 0.01 to 3600 seconds")
        if not 1024 <= self.max_request_bytes <= 1 << 24:
            raise ConfigError("max_request_bytes must be from 1024 to 16777216")


def parse_listen(spec: str, what: str) -> tuple[str, int]:
    """Parse "host:port" or "port" (loopback) into (host, port)."""
    host, _, port = spec.rpartition(":")
    host = host.strip("[]") or "127.0.0.1"
    if not DIGITS_RE.fullmatch(port) or not 1 <= int(port) <= 65535:
        raise ConfigError(f"{what} '{spec}': give host:port or a port from 1 to 65535")
    return host, int(port)


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
    "dataplane.chain_grace_ms": ("chain_grace_ms", int),
    "control.tcp": ("control_tcp", str),
    "control.curve_keys": ("curve_keys", str),
    "control.stats_publish_interval": ("stats_publish_interval", (int, float)),
    "control.prometheus": ("prometheus", str),
    "control.max_request_bytes": ("max_request_bytes", int),
    "ports.devargs": ("ports", list),
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
    try:
        data = tomllib.loads(Path(path).read_text())
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except OSError as e:
        raise ConfigError(f"cannot read config file {path}: {e.strerror}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ConfigError(f"config file {path} is not valid TOML: {e}") from None
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
