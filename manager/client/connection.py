# SPDX-License-Identifier: BSD-3-Clause
"""Python client of a running manager's control server.

    with Client(name="onvm") as c:
        c.call("chain.set", name="web", hops="2,out:1")
        for nf in c.call("nf.list"):
            ...

Over TCP, pass the server's public key file and this client's secret key
file (made by `onvm-ctl keys DIR`): the connection is CURVE-encrypted and
the manager only answers keys it was told to trust.
"""

from __future__ import annotations

import itertools
import re
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import zmq
import zmq.auth

from onvm import flow_rules, options
from onvm.bpf import BpfNF
from onvm.errors import ControlError
from onvm.manager import protocol

TIMEOUT = "timeout"  # error code of a request that got no reply in time
UNREACHABLE = "unreachable"
TIMEOUT_BOUNDS = (0.001, 86400.0)  # seconds per reply; ZeroMQ's limit is 24 days
SMALLEST_REQUEST_LIMIT = 1024  # the least max_request_bytes a manager takes
RULE_AT = re.compile(r"rule ([0-9]+): ")  # how the manager names a rule of a bulk add


class Client:
    def __init__(self, name: str = "onvm", endpoint: str | None = None, *,
                 timeout: float = 5.0, server_key: str | Path | None = None,
                 client_key: str | Path | None = None) -> None:
        self.name = name
        self.endpoint = endpoint or protocol.control_endpoint(name)
        try:
            self.timeout = options.number(timeout, *TIMEOUT_BOUNDS, " seconds")
        except ValueError as e:
            raise ControlError(protocol.BAD_ARGS, f"timeout {e}") from None
        self._curve = self._load_curve(server_key, client_key)
        self._ids = itertools.count(1)
        self._probe()
        self.ctx = zmq.Context()
        self.sock: zmq.Socket | None = None
        self._connect()

    def _probe(self) -> None:
        """Fail at once, saying why, where ZeroMQ would wait out the timeout:
        no socket, a socket left by a manager that is gone, one this user
        may not open, a TCP port nothing listens on."""
        if self.endpoint.startswith("ipc://"):
            self._probe_ipc(self.endpoint[len("ipc://"):])
        elif self.endpoint.startswith("tcp://"):
            self._probe_tcp()

    def _probe_ipc(self, path: str) -> None:
        named = self.endpoint == protocol.control_endpoint(self.name)
        start = (f"start one with onvm-manager start --name {self.name}" if named else
                 "start the manager that serves it")
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.connect(path)
        except FileNotFoundError:
            raise ControlError(UNREACHABLE, f"no manager {repr(self.name) + ' ' if named else ''}"
                               f"is running here ({path} does not exist): {start}") from None
        except PermissionError:
            raise ControlError(UNREACHABLE, f"{path} is for root, who runs the manager: run "
                               "onvm-ctl as root (sudo), or reach the manager over TCP with "
                               "keys (--connect tcp://HOST:PORT --keys DIR)") from None
        except ConnectionRefusedError:
            raise ControlError(UNREACHABLE, f"no manager listens on {path}: the manager that "
                               f"made it is gone; {start}") from None
        except OSError:
            pass  # ZeroMQ's own connect decides
        finally:
            probe.close()

    def _probe_tcp(self) -> None:
        host, _, port = self.endpoint[len("tcp://"):].rpartition(":")
        try:
            port_number = options.integer(port, 1, 65535)
        except ValueError as e:
            raise ControlError(protocol.BAD_ARGS, f"{self.endpoint}: the port {e}") from None
        try:
            family, kind, proto, _, address = socket.getaddrinfo(
                host.strip("[]"), port_number, type=socket.SOCK_STREAM)[0]
        except OSError:
            raise ControlError(UNREACHABLE, f"{self.endpoint}: no such host") from None
        probe = socket.socket(family, kind, proto)
        probe.settimeout(self.timeout)
        try:
            probe.connect(address)
        except ConnectionRefusedError:
            raise ControlError(UNREACHABLE, f"nothing listens on {self.endpoint}: is the "
                               "manager running, with --control-tcp?") from None
        except OSError:
            pass  # a slow or filtered network: ZeroMQ's own wait decides
        finally:
            probe.close()

    @staticmethod
    def _load_curve(server_key, client_key):
        if server_key is None and client_key is None:
            return None
        if server_key is None or client_key is None:
            raise ControlError(protocol.BAD_ARGS, "CURVE needs both the server's public key "
                               "and this client's secret key")
        try:
            server_public, _ = zmq.auth.load_certificate(str(server_key))
            public, secret = zmq.auth.load_certificate(str(client_key))
        except (OSError, ValueError) as e:
            raise ControlError(protocol.BAD_ARGS, f"cannot read CURVE keys: {e}") from None
        if secret is None:
            raise ControlError(protocol.BAD_ARGS, f"{client_key} holds no secret key")
        return server_public, public, secret

    def _socket(self, kind: int) -> zmq.Socket:
        sock = self.ctx.socket(kind)
        sock.setsockopt(zmq.LINGER, 0)
        # A DEALER with no working connection (manager gone, CURVE refused)
        # would block on send: give up after the timeout instead.
        sock.setsockopt(zmq.SNDTIMEO, int(self.timeout * 1000))
        if self._curve:
            sock.curve_serverkey, sock.curve_publickey, sock.curve_secretkey = self._curve
        return sock

    def _connect(self) -> None:
        # DEALER, not REQ: a lost reply never wedges the socket; a stale one
        # is recognised by its id and skipped.
        self.sock = self._socket(zmq.DEALER)
        self.sock.connect(self.endpoint)

    def call(self, cmd: str, **args: Any) -> Any:
        """Send one request and return its result; raises ControlError."""
        req_id = next(self._ids)
        msg = protocol.request(cmd, {k: v for k, v in args.items() if v is not None}, req_id)
        deadline_ms = int(self.timeout * 1000)
        try:
            data = protocol.pack(msg)
        except (OverflowError, TypeError, ValueError) as e:  # ints beyond 64 bits, objects
            raise ControlError(protocol.BAD_ARGS, f"{cmd}: its arguments cannot be sent "
                               f"({type(e).__name__}: {e})") from None
        try:
            self.sock.send(data)
        except zmq.Again:
            self._reconnect()
            raise ControlError(TIMEOUT, f"cannot reach {self.endpoint} within "
                               f"{self.timeout:g} s (over TCP: are the keys right?)") from None
        while self.sock.poll(deadline_ms, zmq.POLLIN):
            reply = protocol.unpack(self.sock.recv())
            if not isinstance(reply, dict) or reply.get("id") != req_id:
                continue  # the late reply of an earlier, timed-out request
            if reply.get("ok"):
                return reply.get("result")
            err = reply.get("error") or {}
            raise ControlError(err.get("code", "?"), err.get("message", "?"))
        self._reconnect()
        raise ControlError(TIMEOUT, f"no reply from {self.endpoint} within {self.timeout:g} s "
                           "(is the manager running? over TCP: are the keys right?)")

    def flow_add_bulk(self, rules: list[dict]) -> dict:
        """Add `rules` (each a map of flow.add's arguments) in one request:
        all or none, one classifier build. Returns {added, first_id, last_id,
        flow_rules, seconds}. A request the manager would not take (over its
        max_request_bytes, which ZeroMQ enforces by dropping it unanswered)
        is refused here, saying so."""
        size = len(protocol.pack(protocol.request("flow.add_bulk", {"rules": rules}, 0)))
        if size > SMALLEST_REQUEST_LIMIT:
            limit = self.call("status").get("limits", {}).get("max_request_bytes")
            if limit is not None and size > limit:
                raise ControlError(protocol.BAD_ARGS, f"{len(rules)} flow rules make a "
                                   f"{size}-byte request, more than this manager's "
                                   f"max_request_bytes ({limit}): raise [control] "
                                   "max_request_bytes or add them in parts")
        return self.call("flow.add_bulk", rules=rules)

    def flow_add_file(self, path: str | Path, chain: str | None = None,
                      idle_timeout: float | None = None) -> dict:
        """flow_add_bulk() of a rules file (onvm.flow_rules: one rule a line,
        in `onvm-ctl flow add`'s syntax); `chain` and `idle_timeout` are for
        lines that give none. A bad line raises RuleError before anything is
        sent; an error reply about a rule names its line."""
        lines = flow_rules.read(path, chain, idle_timeout)
        try:
            return self.flow_add_bulk([args for _, args in lines])
        except ControlError as e:
            at = RULE_AT.match(e.message)
            if at and 1 <= int(at.group(1)) <= len(lines):
                line = lines[int(at.group(1)) - 1][0]
                e = ControlError(e.code, f"{flow_rules.source_name(path)} line {line}: "
                                 f"{e.message[at.end():]}")
                raise e from None
            raise

    def message(self, data: bytes | str, *, nf: int | None = None, service: int | None = None,
                wait: bool = False, timeout: float = 5.0) -> dict:
        """Send `data` to NF `nf` or to every instance of `service`; with
        `wait`, the replies: {sent, replies: [{nf, data}], missing?}."""
        return self.call("nf.msg", nf=nf, service=service, data=data, wait=wait,
                         timeout=timeout)

    def bpf(self, nf_id: int) -> BpfNF:
        """bpf NF `nf_id`: its program, counters and maps (onvm.bpf)."""
        return BpfNF(self, nf_id)

    def _reconnect(self) -> None:
        """Start afresh, so that a late reply cannot be taken for the next."""
        self.sock.close(linger=0)
        self._connect()

    def stats_stream(self, endpoint: str | None = None, timeout: float | None = None
                     ) -> Iterator[dict]:
        """Yield stats snapshots as the manager publishes them."""
        return self._stream(protocol.STATS_TOPIC, endpoint, timeout)

    def events_stream(self, endpoint: str | None = None, timeout: float | None = None
                      ) -> Iterator[dict]:
        """Yield events (see the `events` command) as they happen."""
        return self._stream(protocol.EVENTS_TOPIC, endpoint, timeout)

    def _stream(self, topic: bytes, endpoint: str | None, timeout: float | None
                ) -> Iterator[dict]:
        if endpoint is None:
            if self.endpoint.startswith("ipc://"):
                endpoint = protocol.stats_endpoint(self.name)
            else:  # tcp://host:port serves stats on port + 1
                host, _, port = self.endpoint.rpartition(":")
                endpoint = f"{host}:{int(port) + 1}"
        # Subscribed now, not at the first next(): what is published from
        # here on reaches the caller.
        sub = self._socket(zmq.SUB)
        sub.setsockopt(zmq.SUBSCRIBE, topic)
        sub.connect(endpoint)
        return self._received(sub, timeout)

    @staticmethod
    def _received(sub, timeout: float | None) -> Iterator[dict]:
        try:
            wait_ms = None if timeout is None else int(timeout * 1000)
            while sub.poll(wait_ms, zmq.POLLIN):
                _topic, data = sub.recv_multipart()
                yield protocol.unpack(data)
        finally:
            sub.close(linger=0)

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close(linger=0)
            self.sock = None
        self.ctx.destroy(linger=0)  # also ends a stats stream left open

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
