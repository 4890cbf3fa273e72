# SPDX-License-Identifier: BSD-3-Clause
"""The control commands: each checks its arguments against a declared
schema, then reads or changes the running manager. docs/CONTROL.md is the
reference for every request and reply."""

from __future__ import annotations

import os
import platform
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from onvm import DPDK_VERSION, __version__, bundled, flow_rules, options
from onvm.contract import MAX_INSTANCES, MAX_NFS, MAX_PORTS, MAX_SERVICES
from onvm.flow_rules import MAX_HARD_TIMEOUT, MAX_IDLE_TIMEOUT
from onvm.manager.protocol import (
    BAD_ARGS,
    CONFLICT,
    MAX_RESPAWN_LIMIT,
    NOT_FOUND,
    PROTOCOL_VERSION,
    UNKNOWN_COMMAND,
    ControlError,
)
from onvm.manager.tables.capture import MAX_SECONDS as MAX_CAPTURE_SECONDS
from onvm.manager.tables.capture import MAX_SNAPLEN

if TYPE_CHECKING:
    from onvm.manager.manager import Manager

NUMBER = (int, float)
HOPS = (str, list)
PORTS = (int, str)

# Bounds of the numbers commands take (Arg.bounds).
SERVICE_ID = (1, MAX_SERVICES - 1)
NF_ID = (1, MAX_NFS - 1)
PORT_ID = (0, MAX_PORTS - 1)
TABLE_ID = (1, (1 << 63) - 1)  # flow rule and capture ids count up from 1
L4_PORT = (0, 65535)
IDLE_SECONDS = (0, MAX_IDLE_TIMEOUT)
HARD_SECONDS = (0, MAX_HARD_TIMEOUT)
VLAN_ID = flow_rules.VLAN_IDS
DSCP = flow_rules.DSCPS
PRIORITY = flow_rules.PRIORITIES
CAPTURE_SECONDS = (0, MAX_CAPTURE_SECONDS)
CAPTURE_PACKETS = (0, (1 << 32) - 1)


@dataclass(frozen=True)
class Arg:
    """One argument: its types, and for a number (int or float) its bounds,
    which every number has: a value beyond them, NaN or an infinity never
    reaches a command."""

    types: type | tuple[type, ...]
    required: bool = False
    default: Any = None
    bounds: tuple[float, float] | None = None
    # A file the manager creates: a remote (TCP) client may only name one
    # inside the manager's capture_dir.
    output_file: bool = False
    # A program the manager runs, by name or by path: a remote client may
    # only name one (a bundled NF), never a file of the manager's host.
    program: bool = False

    @property
    def numeric(self) -> bool:
        types = self.types if isinstance(self.types, tuple) else (self.types,)
        return int in types or float in types


@dataclass(frozen=True)
class Command:
    name: str
    summary: str
    args: dict[str, Arg]
    fn: Callable[..., Any]


COMMANDS: dict[str, Command] = {}


def command(cmd: str, summary: str, /, **args: Arg):
    unbounded = [name for name, arg in args.items() if arg.numeric and arg.bounds is None]
    if unbounded:
        raise TypeError(f"{cmd}: numeric argument(s) {', '.join(unbounded)} need bounds")

    def register(fn):
        COMMANDS[cmd] = Command(cmd, summary, args, fn)
        return fn
    return register


def _type_name(types) -> str:
    types = types if isinstance(types, tuple) else (types,)
    return " or ".join(t.__name__ for t in types)


def check_args(cmd: Command, given: dict) -> dict:
    unknown = set(given) - set(cmd.args)
    if unknown:
        raise ControlError(BAD_ARGS, f"{cmd.name}: unknown argument(s) "
                           f"{', '.join(sorted(unknown))}; it takes "
                           f"{', '.join(cmd.args) or 'none'}")
    out = {}
    for key, spec in cmd.args.items():
        if key not in given or given[key] is None:
            if spec.required:
                raise ControlError(BAD_ARGS, f"{cmd.name}: '{key}' is required")
            out[key] = spec.default
            continue
        value = given[key]
        types = spec.types if isinstance(spec.types, tuple) else (spec.types,)
        if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
            raise ControlError(BAD_ARGS, f"{cmd.name}: '{key}' must be {_type_name(types)}, "
                               f"not {type(value).__name__}")
        if spec.bounds is not None and isinstance(value, int | float):
            check = options.number if isinstance(value, float) else options.integer
            try:
                check(value, *spec.bounds)
            except ValueError as e:
                raise ControlError(BAD_ARGS, f"{cmd.name}: '{key}' {e}") from None
        out[key] = value
    return out


def confine(path: str, directory: str) -> str:
    """`path` for a remote client: inside `directory` (a relative path is
    taken there), symbolic links and '..' resolved; else bad_args."""
    inside = os.path.realpath(directory)
    full = os.path.normpath(os.path.join(inside, path))
    parent = os.path.realpath(os.path.dirname(full))
    if os.path.commonpath([parent, inside]) != inside or full == inside:
        raise ControlError(BAD_ARGS, f"'{path[:200]}' is outside the capture directory "
                           f"{directory}: over TCP a file goes there (name it relative to it)")
    os.makedirs(inside, mode=0o700, exist_ok=True)
    return os.path.join(parent, os.path.basename(full))


def execute(manager: Manager, name: str, args: dict, remote: bool = False) -> Any:
    """Run command `name`; `remote`: the request came over TCP."""
    cmd = COMMANDS.get(name)
    if cmd is None:
        raise ControlError(UNKNOWN_COMMAND, f"unknown command '{name}'; "
                           f"known: {', '.join(sorted(COMMANDS))}")
    checked = check_args(cmd, args)
    if remote:
        for key, spec in cmd.args.items():
            if spec.output_file and checked[key] is not None:
                checked[key] = confine(checked[key], manager.config.capture_dir)
            if spec.program and checked[key] is not None and bundled.is_path(checked[key]):
                raise ControlError(BAD_ARGS, f"{cmd.name}: over TCP '{key}' names a bundled "
                                   "NF, not a path: start your own NF from the manager's "
                                   "host (onvm-ctl there, or onvm-nf)")
    result = cmd.fn(manager, **checked)
    if name in CHANGES:
        kind, fields = CHANGES[name](checked, result)
        manager.events.record(kind, **fields)
    return result


def _first(result, *keys: str) -> dict:
    return {k: result[k] for k in keys if isinstance(result, dict) and k in result}


# Commands that change the manager: the event each records once done
# (kind, fields), from its checked arguments and its result.
CHANGES: dict[str, Callable[[dict, Any], tuple]] = {
    "service.scale": lambda a, r: ("service.scaled", {
        **_first(r, "service", "instances", "had"),
        "started": [s["pid"] for s in r.get("started", [])],
        "stopping": [s["pid"] for s in r.get("stopping", [])]}),
    "chain.set": lambda a, r: ("chain.set", _first(r, "name", "id", "hops")),
    "chain.delete": lambda a, r: ("chain.deleted", _first(r, "name", "id")),
    "flow.add": lambda a, r: ("flow.added", {**_first(r, "id", "chain"), "count": 1}),
    "flow.add_bulk": lambda a, r: ("flow.added", _first(r, "first_id", "last_id", "added")),
    "flow.delete": lambda a, r: ("flow.deleted", {"id": a.get("id")}),
    "capture.start": lambda a, r: ("capture.started", _first(r, "id", "target", "path",
                                                             "count", "seconds")),
}


# ---- manager ----

@command("version", "versions of onvm, the protocol and DPDK")
def _version(m: Manager) -> dict:
    return {"onvm": __version__, "protocol": PROTOCOL_VERSION,
            "dpdk": DPDK_VERSION, "python": platform.python_version()}


@command("status", "the manager at a glance")
def _status(m: Manager) -> dict:
    snap = m.latest_snapshot()
    c = m.config
    return {
        "name": c.name, "pid": os.getpid(), "onvm": __version__, "protocol": PROTOCOL_VERSION,
        "uptime": snap.get("uptime", 0.0), "control_core": c.control_core,
        "worker_cores": c.worker_cores, "ports": len(m.ports), "nfs": len(snap["nfs"]),
        "chains": len(m.chains.ids), "flow_rules": len(m.flows.rules),
        "flow_tiers": m.flows.tiers(),
        "pool": snap["pool"], "ports_enabled": snap["ports_enabled"],
        "capture": m.captures.current.capture_id if m.captures.current else None,
        "endpoints": m.server.endpoints(),
        # What a client must know before a large request: ZeroMQ drops a
        # message over max_request_bytes without a reply.
        "limits": {"max_request_bytes": c.max_request_bytes,
                   "max_flow_rules": c.max_flow_rules},
    }


@command("shutdown", "stop every NF, then the manager")
def _shutdown(m: Manager) -> dict:
    m.request_stop()
    return {"stopping": True}


# ---- ports, NFs, services ----

@command("port.list", "ports with their counters and rates")
def _port_list(m: Manager) -> list:
    snap = m.latest_snapshot()
    by_id = {p.port_id: p for p in m.ports}
    out = []
    for port_id, p in snap["ports"].items():
        port = by_id.get(int(port_id))
        out.append({"id": int(port_id), "devargs": port.devargs if port else "?",
                    "driver": port.driver if port else "?", "mac": port.mac if port else "?",
                    "rx_queues": port.rx_queues if port else 1,
                    "rss_flow_hash": port.rss_flow_hash if port else False,
                    **{k: p[k] for k in ("rx", "tx", "drop", "rx_pps", "tx_pps",
                                         "rx_bytes", "tx_bytes", "rx_workers")}})
    return out


@command("nf.list", "NFs with their state, core, pid, counters and rates")
def _nf_list(m: Manager) -> list:
    snap = m.latest_snapshot()
    managed = m.scaler.managed_pids()
    out = []
    for slot in m.dp.nf_slots():
        n = snap["nfs"].get(str(slot.nf_id), {})
        out.append({
            "id": slot.nf_id, "name": slot.name, "service": slot.service_id,
            "instance": slot.instance, "state": slot.state, "pid": slot.pid,
            "core": slot.core, "shared_core": slot.shared_core,
            "managed": slot.pid in managed,
            **{k: n.get(k, 0) for k in ("rx", "tx", "drop", "act_drop", "ring_full_drop",
                                        "rx_pps", "tx_pps", "rx_ring", "tx_ring")},
        })
    return out


@command("nf.stop", "ask an NF to leave", id=Arg(int, required=True, bounds=NF_ID))
def _nf_stop(m: Manager, id: int) -> dict:  # noqa: A002 - the protocol's name
    if not m.dp.nf_occupied(id):
        raise ControlError(NOT_FOUND, f"no NF {id}")
    if not m.dp.nf_stop(id):
        raise ControlError(CONFLICT, f"NF {id} is not running")
    return {"id": id, "stopping": True}


@command("nf.msg", "send bytes to an NF or to every instance of a service; wait: for replies",
         nf=Arg(int, bounds=NF_ID), service=Arg(int, bounds=SERVICE_ID),
         data=Arg((bytes, str), required=True), wait=Arg(bool, default=False),
         timeout=Arg(NUMBER, default=5.0, bounds=(0, 60)))
def _nf_msg(m: Manager, nf: int | None, service: int | None, data: bytes | str, wait: bool,
            timeout: float) -> dict:
    raw = data.encode() if isinstance(data, str) else data
    return m.messages.send(raw, nf, service, wait, float(timeout))


@command("nf.metrics", "the counters and histograms an NF publishes (pping: RTTs by subnet)",
         nf=Arg(int, required=True, bounds=NF_ID))
def _nf_metrics(m: Manager, nf: int) -> dict:
    return m.nf_metrics.read(nf)


@command("service.list", "services, their instances and which serves each flow-hash bucket")
def _service_list(m: Manager) -> list:
    running: dict[int, list] = {}
    starting: dict[int, int] = {}
    for slot in m.dp.nf_slots():
        if slot.state == "running":
            running.setdefault(slot.service_id, []).append(slot)
        elif slot.state == "starting":
            starting[slot.service_id] = starting.get(slot.service_id, 0) + 1
    return [{"id": sid, "instances": len(slots := running.get(sid, [])),
             "starting": starting.get(sid, 0),
             "nfs": [s.nf_id for s in sorted(slots, key=lambda s: s.instance)],
             "names": sorted({s.name for s in slots}),
             "buckets": m.dp.service_buckets(sid),
             **m.scaler.service_status(sid)}
            for sid in sorted(set(running) | set(starting) | m.scaler.services())]


@command("service.scale", "run N instances of an NF (bundled, or a path) for a service; "
         "respawn: restart crashed ones",
         service=Arg(int, required=True, bounds=SERVICE_ID),
         instances=Arg(int, required=True, bounds=(0, MAX_INSTANCES)),
         nf=Arg(str, program=True), nf_args=Arg(list, default=[]),
         respawn=Arg(bool, default=False),
         respawn_limit=Arg(int, bounds=(1, MAX_RESPAWN_LIMIT)))
def _service_scale(m: Manager, service: int, instances: int, nf: str | None,
                   nf_args: list, respawn: bool, respawn_limit: int | None) -> dict:
    if not all(isinstance(a, str) for a in nf_args):
        raise ControlError(BAD_ARGS, "service.scale: nf_args must be strings")
    return m.scaler.scale(service, instances, nf, nf_args, respawn, respawn_limit)


# ---- chains and flow rules ----

@command("chain.list", "chains by name")
def _chain_list(m: Manager) -> list:
    return [{**c, "flow_rules": len(m.flows.using_chain(c["name"]))} for c in m.chains.list()]


@command("chain.set", "create or replace a chain (default: the chain of unmatched packets)",
         name=Arg(str, required=True), hops=Arg(HOPS, required=True))
def _chain_set(m: Manager, name: str, hops) -> dict:
    return m.chains.set(name, hops)


@command("chain.delete", "delete a named chain no flow rule uses", name=Arg(str, required=True))
def _chain_delete(m: Manager, name: str) -> dict:
    return m.chains.delete(name, m.flows.using_chain(name))


@command("flow.add", "steer a match (5-tuple with wildcards, CIDRs, port ranges; input "
         "port, VLAN, DSCP) to a chain or drop it, perhaps copying it to a service; "
         "rules=[...]: many at once, as flow.add_bulk",
         chain=Arg(str), src=Arg(str), dst=Arg(str),
         proto=Arg(PORTS, bounds=(0, 255)), sport=Arg(PORTS, bounds=L4_PORT),
         dport=Arg(PORTS, bounds=L4_PORT), in_port=Arg(int, bounds=PORT_ID),
         vlan=Arg(int, bounds=VLAN_ID), dscp=Arg(int, bounds=DSCP),
         action=Arg(str), mirror=Arg(int, bounds=SERVICE_ID),
         priority=Arg(int, bounds=PRIORITY),
         idle_timeout=Arg(NUMBER, bounds=IDLE_SECONDS),
         hard_timeout=Arg(NUMBER, bounds=HARD_SECONDS), rules=Arg(list))
def _flow_add(m: Manager, rules: list | None = None, **rule) -> dict:
    if rules is None:
        return m.flows.add(rule)
    given = sorted(k for k, v in rule.items() if v is not None)
    if given:
        raise ControlError(BAD_ARGS, f"flow.add: 'rules' goes alone, not with "
                           f"{', '.join(given)}: each rule of the list has its own arguments")
    return _flow_add_bulk(m, rules)


@command("flow.add_bulk", "add many flow rules, all or none, in one change",
         rules=Arg(list, required=True))
def _flow_add_bulk(m: Manager, rules: list) -> dict:
    m.flows.room_for(len(rules))  # before checking thousands of rules
    spec = COMMANDS["flow.add"]
    checked = []
    for i, rule in enumerate(rules, start=1):
        if not isinstance(rule, dict):
            raise ControlError(BAD_ARGS, f"rule {i}: a map of flow.add's arguments, not "
                               f"{type(rule).__name__}")
        try:
            args = check_args(spec, rule)
        except ControlError as e:
            raise ControlError(e.code, f"rule {i}: {e.message.removeprefix('flow.add: ')}"
                               ) from None
        if args.pop("rules") is not None:
            raise ControlError(BAD_ARGS, f"rule {i}: a rule holds no 'rules' of its own")
        checked.append(args)
    return m.flows.add_bulk(checked)


@command("flow.delete", "delete a flow rule", id=Arg(int, required=True, bounds=TABLE_ID))
def _flow_delete(m: Manager, id: int) -> dict:  # noqa: A002
    return m.flows.delete(id)


@command("flow.list", "flow rules in order of precedence, with their packets and bytes")
def _flow_list(m: Manager) -> list:
    return m.flows.list()


# ---- stats ----

@command("stats", "a stats snapshot taken now (the PUB socket streams the same)")
def _stats(m: Manager) -> dict:
    return m.snapshot()  # fresh: a script reading counters after a change sees it


@command("stats.reset", "count from zero again")
def _stats_reset(m: Manager) -> dict:
    m.stats.reset(m.nf_names())
    m.latency.reset(m.chains.ids.values())
    m.snapshot()  # so that the next read is of the new counters
    return {"reset": True}


@command("latency", "latency percentiles per NF, chain and chain hop",
         nf=Arg(int, bounds=NF_ID), chain=Arg(str), interval=Arg(bool, default=False))
def _latency(m: Manager, nf: int | None, chain: str | None, interval: bool) -> dict:
    if chain is not None:
        m.chains.id_of(chain)  # not_found, naming it
    if nf is not None and nf not in m.nf_names():
        raise ControlError(NOT_FOUND, f"no NF {nf} (onvm-ctl nf list shows them)")
    return m.latency_report(interval, nf, chain)


# ---- capture ----

@command("events", "what changed: NFs, scaling, chains, flow rules, links, captures",
         since=Arg(int, default=0, bounds=(0, (1 << 63) - 1)),
         count=Arg(int, bounds=(1, 1 << 20)))
def _events(m: Manager, since: int, count: int | None) -> dict:
    return {"events": m.events.since(since, count), "last": m.events.seq}


@command("capture.start", "capture a port's rx/tx or an NF's in/out to a pcapng file",
         path=Arg(str, required=True, output_file=True), port=Arg(int, bounds=PORT_ID),
         nf=Arg(int, bounds=NF_ID), direction=Arg(str),
         count=Arg(int, default=0, bounds=CAPTURE_PACKETS),
         seconds=Arg(NUMBER, default=0, bounds=CAPTURE_SECONDS),
         snaplen=Arg(int, default=2048, bounds=(1, MAX_SNAPLEN)))
def _capture_start(m: Manager, path: str, port: int | None, nf: int | None,
                   direction: str | None, count: int, seconds: float, snaplen: int) -> dict:
    if (port is None) == (nf is None):
        raise ControlError(BAD_ARGS, "capture.start: give exactly one of port and nf")
    if port is not None:
        return m.captures.start("port", port, direction or "rx", path, count, seconds,
                                snaplen, m.dp.port_enabled)
    return m.captures.start("nf", nf, direction or "in", path, count, seconds, snaplen,
                            m.dp.nf_occupied)


@command("capture.status", "a capture's progress (default: the latest)",
         id=Arg(int, bounds=TABLE_ID))
def _capture_status(m: Manager, id: int | None) -> dict:  # noqa: A002
    return m.captures.status(id)


@command("capture.stop", "end the running capture now", id=Arg(int, bounds=TABLE_ID))
def _capture_stop(m: Manager, id: int | None) -> dict:  # noqa: A002
    return m.captures.stop(id)


# ---- bpf NFs ----

MAP_DUMP_MAX = 1 << 20  # entries of one dump reply (a map holds at most that many)


@command("bpf.info", "what a bpf NF runs: program or filter, JIT, verdict counters, maps",
         nf=Arg(int, required=True, bounds=NF_ID))
def _bpf_info(m: Manager, nf: int) -> dict:
    return m.bpf.info(nf)


@command("bpf.load", "have a bpf NF load another program, switched to between two bursts",
         nf=Arg(int, required=True, bounds=NF_ID), path=Arg(str, required=True),
         section=Arg(str), interp=Arg(bool, default=False))
def _bpf_load(m: Manager, nf: int, path: str, section: str | None, interp: bool) -> dict:
    return m.bpf.load(nf, path, section, interp)


@command("bpf.map.list", "the maps of a bpf NF", nf=Arg(int, required=True, bounds=NF_ID))
def _bpf_map_list(m: Manager, nf: int) -> list:
    return m.bpf.map_list(nf)


_MAP_ARGS = {"nf": Arg(int, required=True, bounds=NF_ID), "map": Arg(str, required=True)}


@command("bpf.map.get", "the value of one key (null: none)", **_MAP_ARGS,
         key=Arg(bytes, required=True))
def _bpf_map_get(m: Manager, nf: int, map: str, key: bytes) -> dict:  # noqa: A002
    return m.bpf.get(nf, map, key)


@command("bpf.map.set", "set one key's value", **_MAP_ARGS, key=Arg(bytes, required=True),
         value=Arg(bytes, required=True))
def _bpf_map_set(m: Manager, nf: int, map: str, key: bytes, value: bytes) -> dict:  # noqa: A002
    return m.bpf.set(nf, map, key, value)


@command("bpf.map.delete", "delete one key (an array's value is zeroed)", **_MAP_ARGS,
         key=Arg(bytes, required=True))
def _bpf_map_delete(m: Manager, nf: int, map: str, key: bytes) -> dict:  # noqa: A002
    return m.bpf.delete(nf, map, key)


@command("bpf.map.dump", "every entry of a map, up to limit", **_MAP_ARGS,
         limit=Arg(int, default=MAP_DUMP_MAX, bounds=(1, MAP_DUMP_MAX)))
def _bpf_map_dump(m: Manager, nf: int, map: str, limit: int) -> dict:  # noqa: A002
    return m.bpf.dump(nf, map, limit)


@command("bpf.map.clear", "empty a map", **_MAP_ARGS)
def _bpf_map_clear(m: Manager, nf: int, map: str) -> dict:  # noqa: A002
    return m.bpf.clear(nf, map)


@command("help", "the commands and their arguments")
def _help(m: Manager) -> list:
    return [{"cmd": c.name, "summary": c.summary,
             "args": {k: {"type": _type_name(a.types), "required": a.required}
                      for k, a in c.args.items()}}
            for c in sorted(COMMANDS.values(), key=lambda c: c.name)]
