# SPDX-License-Identifier: BSD-3-Clause
"""`onvm-ctl`: operate a running manager over its control protocol.

    onvm-ctl [--name NAME | --connect tcp://HOST:PORT --keys DIR] [--json] COMMAND ...

Each subcommand is one request through onvm.manager.client (a few for the
ones that wait); docs/CONTROL.md has the protocol. Exit codes: 0 ok, 1 an
error reply, 2 usage or a bad rules file (nothing was sent), 3 the manager
is unreachable or did not answer, 130 interrupted, 141 its output was
closed early (`onvm-ctl ... | head`).

Numbers are checked here only as far as they are onvm-ctl's own (--timeout)
or the contract's (NF, service and port ids) or the protocol's (a scale's
--respawn-limit); the manager checks the rest against the command's schema
and says what range it takes.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import sys
import time
from pathlib import Path

import zmq
import zmq.auth

from onvm import bpf, bundled, flow_rules, options
from onvm.contract import MAX_INSTANCES, MAX_NFS, MAX_PORTS, MAX_SERVICES
from onvm.errors import RuleError
from onvm.manager.client import text as tables
from onvm.manager.client.connection import TIMEOUT, TIMEOUT_BOUNDS, UNREACHABLE, Client
from onvm.manager.protocol import BAD_ARGS, MAX_RESPAWN_LIMIT, NOT_FOUND, ControlError

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_UNREACHABLE, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
EXIT_OUTPUT_CLOSED = 128 + signal.SIGPIPE  # what a shell shows for a reader that left
POLL_SECONDS = 0.1  # capture.status and service.list polling
SCALE_WAIT_SECONDS = 30.0
DEFAULT_CAPTURE_COUNT = 100

# What each number may be before it is sent: ids within the contract, the
# rest whatever msgpack carries (whole numbers of 63 bits, finite numbers).
INT63 = (1 << 63) - 1
NF_ID = options.integer_arg(1, MAX_NFS - 1)
SERVICE_ID = options.integer_arg(1, MAX_SERVICES - 1)
PORT_ID = options.integer_arg(0, MAX_PORTS - 1)
INSTANCES = options.integer_arg(0, MAX_INSTANCES)
RESPAWN_LIMIT = options.integer_arg(1, MAX_RESPAWN_LIMIT)
COUNT = options.integer_arg(0, INT63)
TABLE_ID = options.integer_arg(1, INT63)
SECONDS = options.number_arg(0, 1e9, " seconds")


class UsageError(Exception):
    """Arguments argparse accepted but that do not go together."""


# ---- the commands ----
# Each takes (client, args) and returns (result, human text); main prints
# one or the other.

def _simple(cmd: str, text, **from_args):
    """A command that is one request; from_args maps its arguments to ours."""
    def run(client, args):
        result = client.call(cmd, **{k: getattr(args, v) for k, v in from_args.items()})
        return result, text(result, args)
    return run


# A rule's own options, which a rules file gives on its lines instead.
RULE_OPTIONS = ("src", "dst", "proto", "sport", "dport", "in_port", "vlan", "dscp", "action",
                "mirror", "priority", "hard_timeout")


def _flow_add_usage(args) -> None:
    """Before connecting: one rule from the options, or a file of them."""
    if args.file is None:
        if args.chain is None and args.action != "drop":
            raise UsageError("flow add needs --chain NAME or --action drop (or --file RULES)")
        if args.chain is not None and args.action == "drop":
            raise UsageError("--chain with --action drop: a drop rule steers nowhere")
        if args.mirror is not None and args.action == "drop":
            raise UsageError("--mirror with --action drop: a drop rule copies nothing (steer "
                             "to a chain of that service instead)")
        return
    given = [f"--{o.replace('_', '-')}" for o in RULE_OPTIONS if getattr(args, o) is not None]
    if given:
        raise UsageError(f"{', '.join(given)} with --file: the rules come from the file's "
                         "lines (--chain and --idle-timeout are for lines without one)")


def _flow_add(client, args):
    if args.file is not None:
        done = client.flow_add_file(args.file, chain=args.chain, idle_timeout=args.idle_timeout)
        return done, (f"added {done['added']} flow rules (ids {done['first_id']}-"
                      f"{done['last_id']}) from {flow_rules.source_name(args.file)} in "
                      f"{done['seconds']:.3f} s; {done['flow_rules']} in force")
    number = flow_rules.number_or_text
    rule = client.call("flow.add", chain=args.chain, src=args.src, dst=args.dst,
                       proto=number(args.proto), sport=number(args.sport),
                       dport=number(args.dport), in_port=args.in_port, vlan=args.vlan,
                       dscp=args.dscp, action=args.action, mirror=args.mirror,
                       priority=args.priority, idle_timeout=args.idle_timeout,
                       hard_timeout=args.hard_timeout)
    return rule, tables.flows([rule])


def _stats(client, args):
    if args.action == "reset":
        return client.call("stats.reset"), "counters reset"
    if args.count is not None and not args.watch:
        raise UsageError("--count goes with --watch")
    if not args.watch:
        snap = client.call("stats")
        return snap, tables.snapshot(snap, args.connect or args.name)
    _watch(client, args)
    return None, None


def _events(client, args):
    """The kept events (the last --count), then with --follow each new one
    as it comes, until Ctrl-C (or --count of them)."""
    if not args.follow:
        r = client.call("events", count=args.count)
        return r, tables.events(r)
    # Subscribe before asking for the kept ones, so that none falls between.
    stream = client.events_stream(timeout=None)
    shown = 0
    try:
        kept = client.call("events", count=args.count or 20)
        last = kept["last"]
        for e in kept["events"]:
            print(json.dumps(e) if args.json else tables.event_line(e), flush=True)
        for e in stream:
            if e.get("seq", 0) <= last:
                continue
            print(json.dumps(e) if args.json else tables.event_line(e), flush=True)
            shown += 1
            if args.count and shown >= args.count:
                break
    except KeyboardInterrupt:
        pass
    finally:
        stream.close()
    return None, None


def _watch(client, args) -> None:
    """Print snapshots from the PUB socket as they come, until Ctrl-C or --count."""
    stream = client.stats_stream(timeout=args.timeout)
    shown = 0
    try:
        for snap in stream:
            if args.json:
                print(json.dumps(snap), flush=True)
            else:
                print(("\n" if shown else "") + tables.snapshot(snap, args.connect or args.name),
                      flush=True)
            shown += 1
            if args.count and shown >= args.count:
                return
    except KeyboardInterrupt:
        return
    finally:
        stream.close()  # its SUB socket must close before the client's context ends
    raise ControlError(TIMEOUT, f"no stats snapshot within {args.timeout:g} s")


def _scale_usage(args) -> None:
    if args.respawn_limit is not None and not args.respawn:
        raise UsageError("--respawn-limit goes with --respawn")


def _scale(client, args):
    # A path names the user's own NF; the manager may run in another
    # directory, so it gets the path whole.
    nf = os.path.abspath(args.nf) if args.nf and bundled.is_path(args.nf) else args.nf
    result = client.call("service.scale", service=args.service, instances=args.instances,
                         nf=nf, nf_args=args.nf_args or None,
                         respawn=args.respawn or None, respawn_limit=args.respawn_limit)
    if not args.wait:
        return result, tables.scaled(result)
    if not args.json:
        print(tables.scaled(result), flush=True)
    deadline = time.monotonic() + SCALE_WAIT_SECONDS
    started = {s["pid"] for s in result.get("started", [])}
    while True:
        running = next((s for s in client.call("service.list") if s["id"] == args.service),
                       {"id": args.service, "instances": 0, "nfs": [], "names": []})
        if running["instances"] == args.instances:
            return {**result, "running": running}, tables.service_ready(running)
        exited = [e for e in running.get("exited", []) if e["pid"] in started]
        respawn = running.get("respawn")
        if exited and (not respawn or respawn["gave_up"]):
            # It is not coming back: no use waiting out the 30 s.
            raise ControlError("not_ready", tables.scale_exited(args.service, exited[0]))
        if time.monotonic() >= deadline:
            logs = ", ".join(s["log"] for s in result.get("started", []))
            raise ControlError("not_ready", f"service {args.service} has "
                               f"{running['instances']} of {args.instances} instances after "
                               f"{SCALE_WAIT_SECONDS:g} s" + (f"; see {logs}" if logs else ""))
        time.sleep(POLL_SECONDS)


def _capture(client, args):
    if args.port is not None and args.direction not in (None, "rx", "tx"):
        raise UsageError("a port's direction is rx or tx")
    if args.nf is not None and args.direction not in (None, "in", "out"):
        raise UsageError("an NF's direction is in or out")
    count = args.count
    if count is None and args.seconds is None:
        count = DEFAULT_CAPTURE_COUNT
    # The manager writes the file, so a relative path would land in its cwd.
    path = os.path.abspath(args.write)
    started = client.call("capture.start", path=path, port=args.port, nf=args.nf,
                          direction=args.direction, count=count, seconds=args.seconds,
                          snaplen=args.snaplen)
    status = _wait_capture(client, started["id"])
    if status["state"] == "failed":
        raise ControlError("capture_failed", f"capture {status['id']} of {status['target']} "
                           f"failed: {status['error']}")
    return status, (f"captured {status['packets']} packets of {status['target']} to "
                    f"{status['path']} ({status['missed']} missed)")


def _wait_capture(client, capture_id: int) -> dict:
    """Poll until the capture is done or failed; a Ctrl-C ends it early."""
    while True:
        try:
            status = client.call("capture.status", id=capture_id)
            if status["state"] in ("done", "failed"):
                return status
            time.sleep(POLL_SECONDS)
        except KeyboardInterrupt:
            try:
                client.call("capture.stop", id=capture_id)
            except ControlError as e:
                if e.code != NOT_FOUND:  # not_found: it ended on its own meanwhile
                    raise


def _keys(args):
    """Make a server and a client CURVE key pair, the client's trusted."""
    base = Path(args.dir)
    authorized = base / "authorized"
    files = [base / f for f in ("server.key", "server.key_secret", "client.key",
                                "client.key_secret")] + [authorized / "client.key"]
    existing = [str(f) for f in files if f.exists()]
    if existing:
        raise ControlError("exists", f"{', '.join(existing)} already exist(s): "
                           "refusing to overwrite keys; choose another directory")
    old = os.umask(0o077)  # secret keys are born readable by their owner only
    try:
        for d in (base, authorized):
            d.mkdir(mode=0o700, parents=True, exist_ok=True)
        zmq.auth.create_certificates(base, "server")
        zmq.auth.create_certificates(base, "client")
        shutil.copyfile(base / "client.key", authorized / "client.key")
    except OSError as e:
        raise ControlError("io", f"cannot write keys to {base}: {e.strerror or e}") from None
    finally:
        os.umask(old)
    result = {"dir": str(base.resolve()), "files": [str(f) for f in files]}
    return result, tables.keys_made(result)


# ---- messages ----

def _message_data(args) -> bytes:
    if not args.hex:
        return args.data.encode()
    try:
        return bytes.fromhex(args.data.replace(":", "").replace(" ", ""))
    except ValueError:
        raise UsageError(f"--hex: '{options.shown(args.data)}' is not hex bytes") from None


def _message(client, args):
    target = {"nf": args.id} if args.action == "msg" and args.command == "nf" else {
        "service": args.id}
    timeout = args.wait_seconds if args.wait_seconds is not None else 5.0
    # The reply to the request comes once the wait is over.
    client.timeout = max(client.timeout, timeout + 5.0)
    result = client.message(_message_data(args), wait=args.wait, timeout=timeout, **target)
    shown = {**result, "replies": [{"nf": r["nf"], "data": tables.message_text(r["data"])}
                                   for r in result["replies"]]}
    if args.wait and not result["replies"]:
        raise ControlError("no_reply", f"no reply from {tables.message_target(target)} "
                           f"within {timeout:g} s")
    return shown, tables.message_result(shown, target, args.wait)


# ---- bpf NFs ----

def _bpf_load(client, args):
    result = client.bpf(args.id).load(args.program, args.section, args.interp)
    return {"nf": args.id, "message": result}, f"NF {args.id}: {result}"


def _bpf_info(client, args):
    result = client.call("bpf.info", nf=args.id)
    return result, tables.bpf_info(result)


def _bpf_map_list(client, args):
    result = client.call("bpf.map.list", nf=args.id)
    return result, tables.bpf_maps(result)


def _bpf_map(client, args) -> bpf.BpfMap:
    try:
        return client.bpf(args.id).map(args.map)
    except KeyError:
        known = ", ".join(m["name"] for m in client.call("bpf.map.list", nf=args.id))
        raise ControlError(NOT_FOUND, f"NF {args.id} has no map '{args.map[:64]}' "
                           f"(its maps: {known or 'none'})") from None


def _bpf_bytes(text: str, size: int, what: str) -> bytes:
    try:
        return bpf.encode(text, size, what)
    except ValueError as e:
        raise UsageError(str(e)) from None


def _bpf_show(data: bytes, types: str | None) -> str:
    try:
        return bpf.decode(data, types)
    except ValueError as e:
        raise UsageError(str(e)) from None


def _bpf_map_get(client, args):
    m = _bpf_map(client, args)
    value = m.get(_bpf_bytes(args.key, m.key_size, "key"))
    if value is None:
        raise ControlError(NOT_FOUND, f"map '{m.name}' of NF {args.id} has no key {args.key}")
    shown = _bpf_show(value, args.value_type)
    return {"key": args.key, "value": shown}, shown


def _bpf_map_set(client, args):
    m = _bpf_map(client, args)
    m.set(_bpf_bytes(args.key, m.key_size, "key"),
          _bpf_bytes(args.value, m.value_size, "value"))
    return {"key": args.key, "value": args.value}, f"{m.name}[{args.key}] = {args.value}"


def _bpf_map_delete(client, args):
    m = _bpf_map(client, args)
    if not m.delete(_bpf_bytes(args.key, m.key_size, "key")):
        raise ControlError(NOT_FOUND, f"map '{m.name}' of NF {args.id} has no key {args.key}")
    return {"key": args.key, "deleted": True}, f"deleted {m.name}[{args.key}]"


def _bpf_map_dump(client, args):
    m = _bpf_map(client, args)
    rows = [{"key": _bpf_show(k, args.key_type), "value": _bpf_show(v, args.value_type)}
            for k, v in m.items(args.limit)]
    return rows, tables.bpf_entries(rows)


# ---- the parser ----

def _parser() -> argparse.ArgumentParser:
    # The global options are accepted before or after the subcommand: each
    # subparser repeats them with SUPPRESS so an absent one keeps its default.
    common = options.ArgumentParser(add_help=False)
    _add_global_options(common, argparse.SUPPRESS)
    parser = options.ArgumentParser(
        prog="onvm-ctl", description="Operate a running onvm manager.",
        epilog="docs/CONTROL.md describes every command and the protocol.")
    _add_global_options(parser, None)
    parser.set_defaults(name="onvm", timeout=5.0, json=False)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name, run, help_text, parent=sub):
        p = parent.add_parser(name, help=help_text, description=help_text, parents=[common])
        p.set_defaults(run=run)
        return p

    add("status", _simple("status", lambda r, a: tables.status(r)), "the manager at a glance")
    add("version", _simple("version", lambda r, a: tables.version(r)), "versions")
    add("help", _simple("help", lambda r, a: tables.commands(r)), "the server's commands")
    add("shutdown", _simple("shutdown", lambda r, a: f"manager '{a.name}' is shutting down"),
        "stop every NF, then the manager")
    group = sub.add_parser("port", help="ports").add_subparsers(dest="action", required=True)
    add("list", _simple("port.list", lambda r, a: tables.ports(r)), "ports and counters", group)

    group = sub.add_parser("nf", help="NFs").add_subparsers(dest="action", required=True)
    add("list", _simple("nf.list", lambda r, a: tables.nfs(r)), "NFs and counters", group)
    add("stop", _simple("nf.stop", lambda r, a: f"NF {r['id']} is stopping", id="id"),
        "ask an NF to leave", group).add_argument("id", type=NF_ID)
    add("metrics", _simple("nf.metrics", lambda r, a: tables.nf_metrics(r), nf="id"),
        "the counters and histograms an NF publishes", group
        ).add_argument("id", type=NF_ID, metavar="NF_ID")
    msg_help = ("the message: text, or hex bytes with --hex (at most 1024 bytes)")
    for parent_group, target, meta in ((group, "an NF", "NF_ID"),):
        p = add("msg", _message, f"send {target} a message; --wait prints its answer",
                parent_group)
        p.add_argument("id", type=NF_ID, metavar=meta)
        p.add_argument("data", metavar="DATA", help=msg_help)
        p.add_argument("--hex", action="store_true", help="DATA is hex bytes")
        p.add_argument("--wait", action="store_true", help="wait for the reply and print it")
        p.add_argument("--wait-seconds", type=options.number_arg(0, 60, " seconds"),
                       metavar="S", help="how long --wait waits (default 5)")

    group = sub.add_parser("service", help="services").add_subparsers(dest="action",
                                                                      required=True)
    add("list", _simple("service.list", lambda r, a: tables.services(r)),
        "services and their instances", group)
    p = add("msg", _message, "send every instance of a service a message; --wait prints "
            "their answers", group)
    p.add_argument("id", type=SERVICE_ID, metavar="SERVICE")
    p.add_argument("data", metavar="DATA", help=msg_help)
    p.add_argument("--hex", action="store_true", help="DATA is hex bytes")
    p.add_argument("--wait", action="store_true", help="wait for the replies and print them")
    p.add_argument("--wait-seconds", type=options.number_arg(0, 60, " seconds"),
                   metavar="S", help="how long --wait waits (default 5)")

    group = sub.add_parser("chain", help="chains").add_subparsers(dest="action", required=True)
    add("list", _simple("chain.list", lambda r, a: tables.chains(r)), "chains", group)
    # dest chain_name: "name" is the manager's (--name).
    p = add("set", _simple("chain.set", lambda r, a: tables.chains([r]), name="chain_name",
                           hops="hops"), "create or replace a chain", group)
    p.add_argument("chain_name", metavar="NAME",
                   help="chain name; 'default' is the chain of unmatched packets")
    p.add_argument("hops", help="service ids and out:PORT, e.g. 1,2,out:1")
    add("delete", _simple("chain.delete", lambda r, a: f"deleted chain '{r['name']}'",
                          name="chain_name"), "delete a chain", group
        ).add_argument("chain_name", metavar="NAME")

    group = sub.add_parser("flow", help="flow rules").add_subparsers(dest="action",
                                                                    required=True)
    add("list", _simple("flow.list", lambda r, a: tables.flows(r)), "flow rules", group)
    p = add("add", _flow_add, "steer a match to a chain, or drop it; --file: many at once",
            group)
    p.set_defaults(usage=_flow_add_usage)
    p.add_argument("--file", metavar="RULES",
                   help="add every rule of RULES, all or none: one a line, written as these "
                        "options are, '#' comments ('-': standard input)")
    p.add_argument("--src", metavar="CIDR")
    p.add_argument("--dst", metavar="CIDR")
    p.add_argument("--proto", metavar="P", help="tcp, udp, icmp, ... or a number")
    p.add_argument("--sport", metavar="P|LO-HI")
    p.add_argument("--dport", metavar="P|LO-HI")
    p.add_argument("--in-port", type=options.integer_arg(*flow_rules.IN_PORTS), metavar="N",
                   help="packets that came in on port N")
    p.add_argument("--vlan", type=options.integer_arg(*flow_rules.VLAN_IDS), metavar="ID",
                   help="tagged packets whose outer VLAN id is ID (0-4095)")
    p.add_argument("--dscp", type=options.integer_arg(*flow_rules.DSCPS), metavar="D",
                   help="IP packets with DSCP D (0-63)")
    p.add_argument("--chain", metavar="NAME", help="the chain to steer to (required without "
                   "--file or --action drop; with --file, for lines that name none)")
    p.add_argument("--action", choices=flow_rules.ACTIONS,
                   help="chain (the default): steer to --chain; drop: drop at port RX")
    p.add_argument("--mirror", type=options.integer_arg(*flow_rules.MIRRORS), metavar="S",
                   help="also copy each packet to service S")
    p.add_argument("--priority", type=options.integer_arg(*flow_rules.PRIORITIES),
                   metavar="N", help="0 (default) to 65535: the higher wins; of equal ones, "
                                     "the rule added first")
    p.add_argument("--idle-timeout", type=SECONDS, metavar="S",
                   help="delete after S idle seconds (with --file: for lines that give none)")
    p.add_argument("--hard-timeout", type=SECONDS, metavar="S",
                   help="delete S seconds after the add, whatever its traffic")
    add("delete", _simple("flow.delete", lambda r, a: f"deleted flow rule {r['id']}", id="id"),
        "delete a flow rule", group).add_argument("id", type=TABLE_ID)

    p = add("latency", _simple("latency", lambda r, a: tables.latency(r), nf="nf",
                               chain="chain", interval="interval"),
            "latency percentiles per NF, per chain and per chain hop")
    p.add_argument("--nf", type=NF_ID, metavar="ID", help="only NF ID")
    p.add_argument("--chain", metavar="NAME", help="only chain NAME")
    p.add_argument("--interval", action="store_true",
                   help="over the last stats interval, not since start (or stats reset)")

    p = add("events", _events, "what changed (NFs, scaling, chains, flow rules, links, "
            "captures); --follow for new ones as they come")
    p.add_argument("--follow", action="store_true", help="then print new events as they come")
    p.add_argument("--count", type=options.integer_arg(1, 1 << 20), metavar="N",
                   help="the last N kept (default all); with --follow: stop after N new")

    p = add("stats", _stats, "a stats table; --watch for a stream; 'reset' to zero them")
    p.add_argument("action", nargs="?", choices=["reset"])
    p.add_argument("--watch", action="store_true", help="print snapshots as they are published")
    p.add_argument("--count", type=options.integer_arg(1, INT63), metavar="N",
                   help="with --watch: stop after N")

    p = add("scale", _scale, "run N instances of an NF for a service, a bundled one or "
            "your own (NF arguments after --)")
    p.set_defaults(usage=_scale_usage)
    p.add_argument("service", type=SERVICE_ID)
    p.add_argument("--nf", metavar="NAME|PATH",
                   help="the NF to start (to scale up): a bundled NF's name, or the path of "
                        "your own .py file or C binary (with a '/': ./my_nf.py)")
    p.add_argument("--instances", type=INSTANCES, required=True, metavar="N")
    p.add_argument("--wait", action="store_true",
                   help=f"wait up to {SCALE_WAIT_SECONDS:g} s for N instances")
    p.add_argument("--respawn", action="store_true",
                   help="restart an instance that crashes (exits non-zero or is killed), "
                        "after a backoff from 0.5 s doubling to 8 s")
    p.add_argument("--respawn-limit", type=RESPAWN_LIMIT, metavar="N",
                   help="with --respawn: give up after N restarts within 60 s (default 5)")

    p = add("capture", _capture, "capture packets to a pcapng file")
    target = p.add_mutually_exclusive_group(required=True)
    target.add_argument("--port", type=PORT_ID, metavar="ID")
    target.add_argument("--nf", type=NF_ID, metavar="ID")
    p.add_argument("--direction", choices=["rx", "tx", "in", "out"],
                   help="rx|tx for a port (default rx), in|out for an NF (default in)")
    p.add_argument("--count", type=COUNT, metavar="N",
                   help=f"packets (default {DEFAULT_CAPTURE_COUNT} if no --seconds)")
    p.add_argument("--seconds", type=SECONDS, metavar="T")
    p.add_argument("--snaplen", type=COUNT, metavar="B")
    p.add_argument("-w", dest="write", required=True, metavar="FILE")

    group = sub.add_parser("bpf", help="bpf NFs: programs and maps").add_subparsers(
        dest="action", required=True)
    p = add("load", _bpf_load, "load a program into a running bpf NF (switched to between "
            "two bursts)", group)
    p.add_argument("id", type=NF_ID, metavar="NF_ID")
    p.add_argument("program", metavar="PROG.o")
    p.add_argument("--section", metavar="NAME", help="the code section (default: the only one)")
    p.add_argument("--interp", action="store_true", help="the interpreter, not the JIT")
    add("info", _bpf_info, "what a bpf NF runs, its verdicts and maps", group
        ).add_argument("id", type=NF_ID, metavar="NF_ID")
    maps = group.add_parser("map", help="a bpf NF's maps").add_subparsers(dest="map_action",
                                                                        required=True)
    add("list", _bpf_map_list, "the maps of a bpf NF", maps).add_argument(
        "id", type=NF_ID, metavar="NF_ID")
    typed = ("hex (0x0a000001, 02:00:00:00:00:01) or typed fields TYPE:VALUE joined by "
             "commas (" + ", ".join(bpf.FIELD_TYPES) + "); shorter is zero-padded")
    for action, run, help_text, with_value in (
            ("get", _bpf_map_get, "the value of a key", False),
            ("set", _bpf_map_set, "set a key's value", True),
            ("delete", _bpf_map_delete, "delete a key", False)):
        p = add(action, run, help_text, maps)
        p.add_argument("id", type=NF_ID, metavar="NF_ID")
        p.add_argument("map", metavar="MAP")
        p.add_argument("key", metavar="KEY", help=typed)
        if with_value:
            p.add_argument("value", metavar="VALUE", help=typed)
        if action == "get":
            p.add_argument("--value-type", metavar="TYPES", help="show the value as these "
                           "fields (e.g. u16 or mac,pad:2)")
    p = add("dump", _bpf_map_dump, "every entry of a map", maps)
    p.add_argument("id", type=NF_ID, metavar="NF_ID")
    p.add_argument("map", metavar="MAP")
    p.add_argument("--key-type", metavar="TYPES", help="show keys as these fields")
    p.add_argument("--value-type", metavar="TYPES", help="show values as these fields")
    p.add_argument("--limit", type=options.integer_arg(1, 1 << 20), default=1 << 20,
                   metavar="N", help="at most N entries")

    add("keys", None, "create CURVE keys for the TCP endpoint").add_argument("dir", metavar="DIR")
    return parser


def _add_global_options(parser: argparse.ArgumentParser, default) -> None:
    p = parser.add_argument_group("global options")
    p.add_argument("--name", default=default, help="manager name (default onvm)")
    p.add_argument("--connect", default=default, metavar="tcp://HOST:PORT",
                   help="a TCP endpoint instead of the local ipc socket")
    p.add_argument("--server-key", default=default, metavar="FILE",
                   help="the server's public CURVE key")
    p.add_argument("--client-key", default=default, metavar="FILE",
                   help="this client's secret CURVE key")
    p.add_argument("--keys", default=default, metavar="DIR",
                   help="DIR/server.key and DIR/client.key_secret")
    p.add_argument("--json", action="store_true", default=default,
                   help="print the raw result as JSON")
    p.add_argument("--timeout", type=options.number_arg(*TIMEOUT_BOUNDS, " seconds"),
                   default=default, metavar="SECONDS",
                   help="seconds to wait for each reply (default 5)")


# ---- main ----

def _connect(args) -> Client:
    server_key, client_key = args.server_key, args.client_key
    if args.keys:
        if server_key or client_key:
            raise UsageError("give --keys DIR or --server-key/--client-key, not both")
        server_key = Path(args.keys, "server.key")
        client_key = Path(args.keys, "client.key_secret")
    tcp = re.fullmatch(r"tcp://.+:([0-9]+)", args.connect or "")
    if args.connect and not (tcp or args.connect.startswith("ipc://")):
        raise UsageError(f"--connect {options.shown(args.connect)}: give tcp://HOST:PORT")
    if tcp:
        try:
            options.integer(tcp.group(1), 1, 65535)
        except ValueError as e:
            raise UsageError(f"--connect: the port {e}") from None
    return Client(name=args.name, endpoint=args.connect, timeout=args.timeout,
                  server_key=server_key, client_key=client_key)


def _run(args) -> tuple[object, str | None]:
    if args.command == "keys":
        return _keys(args)
    if getattr(args, "usage", None):
        args.usage(args)
    client = _connect(args)
    try:
        return args.run(client, args)
    finally:
        client.close()


def _fail(message: str, code: str) -> None:
    print(f"onvm-ctl: error: {message} ({code})", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # Everything after -- is the NF's (scale); argparse would mix it with ours.
    nf_args = argv[argv.index("--") + 1:] if "--" in argv else []
    argv = argv[:argv.index("--")] if "--" in argv else argv
    try:
        args = _parser().parse_args(argv)
    except SystemExit as e:  # argparse printed usage, or --help
        return EXIT_USAGE if e.code else EXIT_OK
    args.nf_args = nf_args
    try:
        return _answer(args)
    except BrokenPipeError:
        # The reader left (`| head`): nothing more can be said to it, and
        # Python's own flush at exit must not fail on the closed pipe.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OUTPUT_CLOSED


def _answer(args) -> int:
    """Run the command and print its result or its one-line error."""
    try:
        if args.nf_args and args.command != "scale":
            raise UsageError("only scale takes arguments after --")
        result, text = _run(args)
    except UsageError as e:
        _fail(str(e), "usage")
        return EXIT_USAGE
    except RuleError as e:  # a rules file: refused before anything was sent
        _fail(str(e), BAD_ARGS)
        return EXIT_USAGE
    except ControlError as e:
        _fail(e.message, e.code)
        return EXIT_UNREACHABLE if e.code in (TIMEOUT, UNREACHABLE) else EXIT_ERROR
    except zmq.ZMQError as e:
        _fail(f"{args.connect or args.name}: {e}", UNREACHABLE)
        return EXIT_UNREACHABLE
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    if args.json and result is not None:
        print(json.dumps(result, indent=2), flush=True)
    elif not args.json and text:
        print(text, flush=True)
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
