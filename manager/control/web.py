# SPDX-License-Identifier: BSD-3-Clause
"""The live web console, opt-in (`--web [HOST:]PORT`): a page of the ports, NFs,
chains, latency and events, fed by JSON that the control loop publishes.

The control loop owns the manager. At each stats snapshot (every 0.1 s) it
builds the view (`view()`: the snapshot plus what status, nf.list, port.list,
chain.list and events reply) and hands it over as JSON bytes; the HTTP
threads only ever serve the latest bytes, so they touch neither the manager
nor DPDK.

    GET /             the page (index.html, app.js, style.css beside this module)
    GET /api/snapshot the latest view, application/json
    GET /api/stream   server-sent events: the latest view every STREAM_SECONDS
                      as one `data:` message, a keep-alive comment when none came
"""

from __future__ import annotations

import ipaddress
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from onvm.errors import ConfigError, OnvmError
from onvm.manager.control.commands import execute

if TYPE_CHECKING:
    from onvm.manager.manager import Manager

STREAM_SECONDS = 0.5  # the page updates twice a second
KEEPALIVE_SECONDS = 1.0  # longest wait for a new view before a keep-alive
# A client that reads nothing for this long is dropped, its thread freed:
# a stalled stream blocks in a send, an idle connection in a read.
SOCKET_TIMEOUT_SECONDS = 10.0
MAX_STREAMS = 32  # open /api/stream connections; more get 503
EVENTS_SHOWN = 100
RETRY_MS = 2000  # how soon a browser reconnects to a stream that ended

# Path -> (file beside this module, content type).
PAGES = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/index.html": ("index.html", "text/html; charset=utf-8"),
    "/app.js": ("app.js", "text/javascript; charset=utf-8"),
    "/style.css": ("style.css", "text/css; charset=utf-8"),
}
# Everything the page needs comes from here: no other origin, no inline code.
SECURITY_HEADERS = (
    ("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; "
     "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("Cache-Control", "no-store"),
)


def view(manager: Manager, snap: dict) -> dict:
    """What the console shows: `snap` (what `onvm-ctl stats --json` prints,
    latency included) and the replies of the commands that describe the rest."""
    status = execute(manager, "status", {})
    status.pop("endpoints", None)  # the control sockets are no business of a web page
    return {
        **snap,
        "status": status,
        "nfs_table": execute(manager, "nf.list", {}),
        "ports_table": execute(manager, "port.list", {}),
        "chains": execute(manager, "chain.list", {}),
        "events": execute(manager, "events", {"count": EVENTS_SHOWN})["events"],
    }


def encode(view_dict: dict) -> bytes:
    """One line of JSON (a server-sent event's data must hold no newline)."""
    return json.dumps(view_dict, separators=(",", ":"), default=str).encode()


def _page_files() -> dict[str, bytes]:
    """The page's files, read once: from the package, or through an editable
    install's loader from the source tree."""
    folder = resources.files("onvm.manager.control").joinpath("web")
    out = {}
    for name in {name for name, _ in PAGES.values()}:
        try:
            out[name] = folder.joinpath(name).read_bytes()
        except OSError:
            raise OnvmError(f"web console: its file {name} is missing: reinstall onvm "
                            "(scripts/setup.sh)") from None
    return out


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class WebConsole:
    """The console's HTTP server and the latest view it serves."""

    def __init__(self) -> None:
        self.files = _page_files()
        self._changed = threading.Condition()
        self._body: bytes | None = None
        self._seq = 0
        self._streams = 0
        self.stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # ---- the control loop's side ----

    def publish(self, view_dict: dict) -> None:
        """Replace the view served; wakes every stream."""
        body = encode(view_dict)
        with self._changed:
            self._body = body
            self._seq += 1
            self._changed.notify_all()

    # ---- the HTTP threads' side ----

    def latest(self) -> bytes | None:
        return self._body

    def wait_newer(self, seq: int, timeout: float) -> tuple[int, bytes | None]:
        """(seq, body) of a view newer than `seq`, or the same seq after
        `timeout`; seq -1 once the console stops."""
        with self._changed:
            self._changed.wait_for(lambda: self._seq != seq or self.stopping.is_set(), timeout)
            return (-1, None) if self.stopping.is_set() else (self._seq, self._body)

    def open_stream(self) -> bool:
        with self._changed:
            if self._streams >= MAX_STREAMS or self.stopping.is_set():
                return False
            self._streams += 1
            return True

    def close_stream(self) -> None:
        with self._changed:
            self._streams -= 1

    @property
    def open_streams(self) -> int:
        return self._streams

    # ---- start and stop ----

    def start(self, host: str, port: int) -> None:
        """Serve in a daemon thread; ConfigError if the address cannot be listened on."""
        where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        try:
            self._server = _Server((host, port), self)
        except OSError as exc:
            raise ConfigError(f"web: cannot listen on {where}: {exc.strerror or exc}") from None
        self._thread = threading.Thread(target=self._server.serve_forever, name="onvm-web",
                                        kwargs={"poll_interval": 0.2}, daemon=True)
        self._thread.start()

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    def stop(self) -> None:
        """End the streams, shut the server down and free its port; does
        nothing if not started."""
        with self._changed:
            self.stopping.set()
            self._changed.notify_all()
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
        self._server = self._thread = None


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # Threads end by themselves (a stream at the next wake-up, a stalled
    # client at its socket timeout): stop() does not wait for them.
    block_on_close = False

    def __init__(self, address: tuple[str, int], console: WebConsole) -> None:
        self.console = console
        host = address[0]
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        # Bound to loopback, requests must name a loopback host: a page of
        # another site whose name was made to resolve to 127.0.0.1 (DNS
        # rebinding) then gets 403, not the counters.
        self.loopback_only = _is_loopback(host)
        super().__init__(address, _Handler)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    server_version = "onvm-web"
    timeout = SOCKET_TIMEOUT_SECONDS

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - the base's name
        pass  # the manager's output is its stats table, not an access log

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        if self.server.loopback_only and not self._host_is_loopback():
            self._reply(403, "text/plain; charset=utf-8",
                        b"the console is bound to loopback: open it as 127.0.0.1 or localhost\n")
            return
        path = urlsplit(self.path).path
        console = self.server.console
        if path in PAGES:
            name, content_type = PAGES[path]
            self._reply(200, content_type, console.files[name])
        elif path == "/api/snapshot":
            body = console.latest()
            if body is None:
                self._reply(503, "application/json", b'{"error":"no snapshot yet"}')
            else:
                self._reply(200, "application/json", body)
        elif path == "/api/stream":
            self._stream(console)
        else:
            self._reply(404, "text/plain; charset=utf-8", b"not found\n")

    def _host_is_loopback(self) -> bool:
        host = (self.headers.get("Host") or "").strip()
        if host.startswith("["):
            host = host[1:].partition("]")[0]
        else:
            host = host.rpartition(":")[0] if ":" in host else host
        return _is_loopback(host)

    def _reply(self, code: int, content_type: str, body: bytes) -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in SECURITY_HEADERS:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _stream(self, console: WebConsole) -> None:
        if not console.open_stream():
            self._reply(503, "text/plain; charset=utf-8", b"too many streams open\n")
            return
        try:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            for name, value in SECURITY_HEADERS:
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(f"retry: {RETRY_MS}\n\n".encode())
            seq, last_sent = 0, 0.0
            while True:
                pause = last_sent + STREAM_SECONDS - time.monotonic()
                if pause > 0 and console.stopping.wait(pause):
                    return
                newer, body = console.wait_newer(seq, KEEPALIVE_SECONDS)
                if newer < 0:
                    return
                if newer != seq and body is not None:
                    self.wfile.write(b"data: " + body + b"\n\n")
                    seq = newer
                else:
                    self.wfile.write(b": keep-alive\n\n")
                last_sent = time.monotonic()
        except OSError:  # the client went away, or stalled past the socket timeout
            pass
        finally:
            self.close_connection = True
            console.close_stream()
