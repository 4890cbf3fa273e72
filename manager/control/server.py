# SPDX-License-Identifier: BSD-3-Clause
"""The control server: ZeroMQ ROUTER sockets taking msgpack requests, and
PUB sockets streaming stats, all served from the manager's control thread.

The ipc endpoints in the runtime directory are for root only (mode 0600).
TCP is opt-in and CURVE-authenticated: only clients whose public key is in
the keys directory's `authorized/` folder get through. A request that is
too large, malformed or wrong gets an error reply or is dropped; none can
stop the loop, and the data plane never waits for it.
"""

from __future__ import annotations

import logging
import os
import traceback
from pathlib import Path

import zmq
import zmq.auth
from zmq.auth.thread import ThreadAuthenticator

from onvm.contract import CONTROL_SOCKET, STATS_SOCKET
from onvm.errors import ConfigError, ControlError
from onvm.manager import protocol
from onvm.manager.bringup.config import Config, parse_listen
from onvm.manager.control import commands
from onvm.manager.protocol import BAD_REQUEST, INTERNAL

log = logging.getLogger("onvm.manager")

# Requests handled per socket per wake-up: a flood cannot starve the rest
# of the control loop (NF registry, captures, stats).
MAX_REQUESTS_PER_POLL = 256
QUEUE_LIMIT = 1000  # ZeroMQ high-water marks: beyond, messages are dropped
ZAP_DOMAIN = "onvm"  # the authenticator's CURVE policy applies to this domain


def load_keys(directory: str) -> tuple[bytes, bytes, Path]:
    """(server public, server secret, authorized clients dir) of a keys dir."""
    base = Path(directory)
    secret_file = base / "server.key_secret"
    authorized = base / "authorized"
    if not secret_file.is_file() or not authorized.is_dir():
        raise ConfigError(
            f"curve keys: {base} needs server.key_secret and an authorized/ folder; "
            "make them with `onvm-ctl keys DIR`"
        )
    try:
        public, secret = zmq.auth.load_certificate(secret_file)
    except (OSError, ValueError) as e:
        raise ConfigError(f"curve keys: cannot read {secret_file}: {e}") from None
    if secret is None:
        raise ConfigError(f"curve keys: {secret_file} holds no secret key")
    return public, secret, authorized


class ControlServer:
    def __init__(self, config: Config, runtime_dir: Path, manager) -> None:
        self.manager = manager
        self.max_bytes = config.max_request_bytes
        self.ctx = zmq.Context()
        self.auth: ThreadAuthenticator | None = None
        self.routers: list[zmq.Socket] = []
        self.remote_routers: list[zmq.Socket] = []  # TCP: its clients are not root here
        self.pubs: list[zmq.Socket] = []
        self._endpoints: dict[str, str] = {}
        try:
            self._bind_ipc(runtime_dir)
            if config.control_tcp:
                self._bind_tcp(config)
        except zmq.ZMQError as e:
            self.close()
            raise ConfigError(f"control endpoint: {e}") from None
        except ConfigError:
            self.close()
            raise

    def _socket(self, kind: int) -> zmq.Socket:
        sock = self.ctx.socket(kind)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.SNDHWM, QUEUE_LIMIT)
        sock.setsockopt(zmq.RCVHWM, QUEUE_LIMIT)
        if kind == zmq.ROUTER:
            sock.setsockopt(zmq.MAXMSGSIZE, self.max_bytes)  # larger: peer dropped
        return sock

    def _bind_ipc(self, runtime_dir: Path) -> None:
        old = os.umask(0o177)  # sockets are born 0600: no window for others
        try:
            for kind, name, key in ((zmq.ROUTER, CONTROL_SOCKET, "control"),
                                    (zmq.PUB, STATS_SOCKET, "stats")):
                sock = self._socket(kind)
                endpoint = f"ipc://{runtime_dir / name}"
                sock.bind(endpoint)
                (self.routers if kind == zmq.ROUTER else self.pubs).append(sock)
                self._endpoints[key] = endpoint
        finally:
            os.umask(old)

    def _bind_tcp(self, config: Config) -> None:
        host, port = parse_listen(config.control_tcp, "control tcp")
        public, secret, authorized = load_keys(config.curve_keys)
        self.auth = ThreadAuthenticator(self.ctx, log=logging.getLogger("onvm.manager.auth"))
        self.auth.start()
        self.auth.configure_curve(domain=ZAP_DOMAIN, location=str(authorized))
        for kind, port_no, key in ((zmq.ROUTER, port, "control_tcp"),
                                   (zmq.PUB, port + 1, "stats_tcp")):
            sock = self._socket(kind)
            sock.curve_server = True
            sock.curve_publickey = public
            sock.curve_secretkey = secret
            sock.zap_domain = ZAP_DOMAIN.encode()
            endpoint = f"tcp://{host}:{port_no}"
            sock.bind(endpoint)
            (self.routers if kind == zmq.ROUTER else self.pubs).append(sock)
            if kind == zmq.ROUTER:
                self.remote_routers.append(sock)
            self._endpoints[key] = endpoint

    def endpoints(self) -> dict[str, str]:
        return dict(self._endpoints)

    def register(self, poller: zmq.Poller) -> None:
        for sock in self.routers:
            poller.register(sock, zmq.POLLIN)

    def serve(self, ready: dict) -> None:
        """Answer what the poll found waiting, a bounded number per socket."""
        for sock in self.routers:
            if sock not in ready:
                continue
            for _ in range(MAX_REQUESTS_PER_POLL):
                try:
                    frames = sock.recv_multipart(zmq.NOBLOCK, copy=True)
                except zmq.Again:
                    break
                self._answer(sock, frames)

    def _answer(self, sock: zmq.Socket, frames: list[bytes]) -> None:
        # REQ clients put an empty delimiter before the body; DEALERs may not.
        if len(frames) == 3 and frames[1] == b"":
            head, body = frames[:2], frames[2]
        elif len(frames) == 2:
            head, body = frames[:1], frames[1]
        else:
            head, body = frames[:1], None
        reply = self.handle(body, remote=sock in self.remote_routers)
        try:
            sock.send_multipart([*head, protocol.pack(reply)], zmq.NOBLOCK)
        except (zmq.Again, zmq.ZMQError):
            pass  # the client is gone or not reading: its reply is dropped

    def handle(self, body: bytes | None, remote: bool = False) -> dict:
        """One request in, one reply out; never raises. `remote`: it came
        over TCP, so files it names are kept inside the capture directory."""
        req_id = None
        try:
            if body is None:
                raise ControlError(BAD_REQUEST, "a request is one frame (after an empty "
                                   "delimiter for REQ sockets)")
            msg = protocol.unpack(body, self.max_bytes)
            req_id = protocol.request_id(msg)  # so that even an envelope error finds its caller
            cmd, args, req_id = protocol.parse_request(msg)
            return protocol.ok(commands.execute(self.manager, cmd, args, remote), req_id)
        except ControlError as e:
            return protocol.error(e.code, e.message, req_id)
        except Exception as e:  # a bug must not take the manager down
            log.warning("control: internal error: %s: %s", type(e).__name__, e)
            if os.environ.get("ONVM_DEBUG"):
                traceback.print_exc()
            return protocol.error(INTERNAL, f"{type(e).__name__}: {e}", req_id)

    def publish(self, snapshot: dict) -> None:
        self._publish(protocol.STATS_TOPIC, snapshot)

    def publish_event(self, event: dict) -> None:
        """One event, on the stats sockets under its own topic."""
        self._publish(protocol.EVENTS_TOPIC, event)

    def _publish(self, topic: bytes, message: dict) -> None:
        data = protocol.pack(message)
        for sock in self.pubs:
            try:
                sock.send_multipart([topic, data], zmq.NOBLOCK)
            except zmq.Again:  # a slow subscriber misses it; the loop never waits
                pass

    def close(self) -> None:
        for sock in self.routers + self.pubs:
            sock.close(linger=200)  # lets the reply to `shutdown` leave
        self.routers, self.pubs, self.remote_routers = [], [], []
        if self.auth is not None:
            self.auth.stop()
            self.auth = None
        self.ctx.term()
