# SPDX-License-Identifier: BSD-3-Clause
"""onvm.manager.control.web without a manager: the page's files, the latest
view as JSON, the server-sent event stream (a message per view, keep-alives,
its end), and clients that go away, stall or come too many."""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

from onvm.errors import ConfigError
from onvm.manager.control import web

pytestmark = pytest.mark.timeout(60)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def console() -> Iterator[web.WebConsole]:
    c = web.WebConsole()
    c.start("127.0.0.1", free_port())
    try:
        yield c
    finally:
        c.stop()


def get(console: web.WebConsole, path: str, host: str | None = None):
    """(status, headers, body) of one GET."""
    conn = http.client.HTTPConnection("127.0.0.1", console.port, timeout=10)
    try:
        conn.request("GET", path, headers={"Host": host} if host is not None else {})
        reply = conn.getresponse()
        return reply.status, reply.headers, reply.read()
    finally:
        conn.close()


def read_stream(console: web.WebConsole, seconds: float) -> tuple[http.client.HTTPResponse,
                                                                   list[str]]:
    """The stream's lines for `seconds`."""
    conn = http.client.HTTPConnection("127.0.0.1", console.port, timeout=10)
    conn.request("GET", "/api/stream")
    reply = conn.getresponse()
    lines = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        line = reply.fp.readline()
        if not line:
            break
        lines.append(line.decode().rstrip("\n"))
    conn.close()
    return reply, lines


def messages(lines: list[str]) -> list[dict]:
    return [json.loads(line.removeprefix("data: ")) for line in lines if line.startswith("data: ")]


class Publisher:
    """Publishes {"n": 1}, {"n": 2}, ... every `period` s, as the control loop does
    at each stats snapshot."""

    def __init__(self, console: web.WebConsole, period: float = 0.1) -> None:
        self.console, self.period = console, period
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        n = 0
        while not self.stopped.is_set():
            n += 1
            self.console.publish({"n": n, "time": time.time()})
            self.stopped.wait(self.period)

    def __enter__(self) -> Publisher:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stopped.set()
        self.thread.join(5)


def wait_until(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)


@pytest.mark.parametrize("path, content_type, holds", [
    ("/", "text/html", b'<script src="/app.js"'),
    ("/index.html", "text/html", b'<link rel="stylesheet" href="/style.css">'),
    ("/app.js", "text/javascript", b'new EventSource("/api/stream")'),
    ("/style.css", "text/css", b".chain-graph"),
])
def test_the_pages_files_with_their_types(console, path, content_type, holds):
    status, headers, body = get(console, path)
    assert status == 200
    assert headers["Content-Type"].startswith(content_type)
    assert int(headers["Content-Length"]) == len(body)
    assert holds in body
    # Nothing from another origin, nothing inline.
    assert headers["Content-Security-Policy"].startswith("default-src 'self'")
    assert headers["X-Content-Type-Options"] == "nosniff"


def test_the_page_loads_nothing_from_elsewhere(console):
    for path in ("/", "/app.js", "/style.css"):
        body = get(console, path)[2]
        assert b"http://" not in body.replace(b"http://www.w3.org/2000/svg", b"")
        assert b"https://" not in body and b"//cdn" not in body


def test_snapshot_is_503_until_a_view_then_the_latest_view(console):
    status, headers, body = get(console, "/api/snapshot")
    assert status == 503 and json.loads(body) == {"error": "no snapshot yet"}
    view = {"nfs_table": [{"id": 1, "name": "fw\nall"}], "uptime": 1.5, "time": 7.0}
    console.publish(view)
    console.publish({**view, "uptime": 2.5})
    status, headers, body = get(console, "/api/snapshot")
    assert status == 200
    assert headers["Content-Type"] == "application/json"
    assert headers["Cache-Control"] == "no-store"
    assert json.loads(body) == {**view, "uptime": 2.5}
    assert b"\n" not in body  # one line: a stream's data line is the same bytes


def test_the_stream_sends_the_latest_view_twice_a_second(console):
    with Publisher(console):
        reply, lines = read_stream(console, 2.5)
    assert reply.status == 200
    assert reply.headers["Content-Type"] == "text/event-stream"
    assert lines[0] == f"retry: {web.RETRY_MS}"
    got = messages(lines)
    assert 4 <= len(got) <= 2.5 / web.STREAM_SECONDS + 1, lines
    numbers = [m["n"] for m in got]
    assert numbers == sorted(set(numbers)), "each view once, in order"
    assert numbers[-1] - numbers[0] >= 15, "views in between are skipped, not queued"


def test_the_stream_keeps_alive_when_no_view_comes(console):
    console.publish({"n": 1})
    _, lines = read_stream(console, 2.6)
    assert [m["n"] for m in messages(lines)] == [1]
    assert lines.count(": keep-alive") >= 1


def test_unknown_paths_and_other_methods(console):
    assert get(console, "/api/nope")[0] == 404
    assert get(console, "/../../etc/passwd")[0] == 404
    conn = http.client.HTTPConnection("127.0.0.1", console.port, timeout=10)
    conn.request("POST", "/api/snapshot", body=b"{}")
    assert conn.getresponse().status == 501
    conn.close()


@pytest.mark.parametrize("host, status", [
    ("127.0.0.1:8080", 200), ("localhost:8080", 200), ("localhost", 200), ("[::1]:8080", 200),
    ("127.1.2.3", 200), ("attacker.example:8080", 403), ("10.0.0.1:8080", 403), ("", 403),
])
def test_bound_to_loopback_only_loopback_hosts_are_served(console, host, status):
    """A page of another site that got its name to resolve to 127.0.0.1
    (DNS rebinding) sends its own name as Host: refused."""
    got, _, body = get(console, "/", host=host)
    assert got == status, body


def test_a_client_that_goes_away_frees_its_stream(console):
    with Publisher(console, 0.1):
        for _ in range(3):
            conn = http.client.HTTPConnection("127.0.0.1", console.port, timeout=10)
            conn.request("GET", "/api/stream")
            reply = conn.getresponse()
            assert reply.fp.readline().startswith(b"retry:")
            wait_until(lambda: console.open_streams >= 1, 5, "the stream to open")
            reply.close()  # the socket closes with the last of the two
            conn.close()
        wait_until(lambda: console.open_streams == 0, 5, "the streams to end")


def test_a_reader_that_stalls_is_dropped_at_the_socket_timeout(console, monkeypatch):
    monkeypatch.setattr(web._Handler, "timeout", 0.5)
    stalled = socket.create_connection(("127.0.0.1", console.port))
    stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    try:
        stalled.sendall(b"GET /api/stream HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        wait_until(lambda: console.open_streams == 1, 5, "the stream to open")
        big = {"pad": "x" * (1 << 20)}  # fills the socket's buffers in a few views
        deadline = time.monotonic() + 20
        while console.open_streams and time.monotonic() < deadline:
            console.publish(big)
            time.sleep(0.05)
        assert console.open_streams == 0, "a stalled reader kept its thread"
    finally:
        stalled.close()


def test_streams_beyond_the_limit_get_503(console, monkeypatch):
    monkeypatch.setattr(web, "MAX_STREAMS", 2)
    console.publish({"n": 1})
    held = []
    try:
        for _ in range(2):
            conn = http.client.HTTPConnection("127.0.0.1", console.port, timeout=10)
            conn.request("GET", "/api/stream")
            held.append(conn.getresponse())  # it holds the socket open
            assert held[-1].status == 200
        assert get(console, "/api/stream")[0] == 503
        assert get(console, "/api/snapshot")[0] == 200  # the rest still served
    finally:
        for reply in held:
            reply.close()


def test_stop_ends_the_streams_and_frees_the_port(console):
    console.publish({"n": 1})
    conn = http.client.HTTPConnection("127.0.0.1", console.port, timeout=10)
    conn.request("GET", "/api/stream")
    reply = conn.getresponse()
    while not reply.fp.readline().startswith(b"data: "):
        pass
    port = console.port
    started = time.monotonic()
    console.stop()
    assert reply.read() == b"\n"  # the end of the stream, not the socket timeout
    assert time.monotonic() - started < 3
    reply.close()
    with socket.socket() as again:  # no listener left (the stream's TIME_WAIT may be)
        again.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        again.bind(("127.0.0.1", port))
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5)


def test_a_busy_port_is_one_config_error_line():
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        with pytest.raises(ConfigError) as error:
            web.WebConsole().start("127.0.0.1", port)
    assert str(error.value) == f"web: cannot listen on 127.0.0.1:{port}: Address already in use"


def test_ipv6_loopback():
    c = web.WebConsole()
    try:
        c.start("::1", free_port())
    except ConfigError as e:
        pytest.skip(f"no IPv6 loopback here: {e}")
    try:
        c.publish({"n": 1})
        conn = http.client.HTTPConnection("::1", c.port, timeout=10)
        conn.request("GET", "/api/snapshot")
        assert json.loads(conn.getresponse().read()) == {"n": 1}
        conn.close()
    finally:
        c.stop()

