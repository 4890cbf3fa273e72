# SPDX-License-Identifier: BSD-3-Clause
"""Headless Chromium for the web console's tests: Debian's /usr/bin/chromium,
driven over the DevTools protocol on a pipe (--remote-debugging-pipe: JSON
messages, each ending in a NUL byte, read from fd 3 and written to fd 4), so
that no websocket client is needed. The browser runs in its own session and
is killed with its group on close."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import time
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
WINDOW = (1400, 900)
# No network but the page's, no first-run work, nothing from Google's servers.
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--no-default-browser-check", "--hide-scrollbars", "--mute-audio",
         f"--window-size={WINDOW[0]},{WINDOW[1]}"]


class BrowserError(Exception):
    pass


def screenshot(url: str, path: Path, profile: Path, timeout: float = 60.0) -> None:
    """`chromium --headless --screenshot`: the page as it is once loaded."""
    done = subprocess.run([str(CHROMIUM), *FLAGS, f"--user-data-dir={profile}",
                           f"--screenshot={path}", url], stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=timeout,
                          start_new_session=True)
    if done.returncode != 0 or not path.exists():
        raise BrowserError(f"chromium --screenshot exited {done.returncode}:\n{done.stderr}")


def png_size(path: Path) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk."""
    data = path.read_bytes()[:24]
    if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        raise ValueError(f"{path} is not a PNG file")
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


class Chromium:
    """One headless browser; `open(url)` gives a Page to evaluate JavaScript in."""

    def __init__(self, tmp: Path) -> None:
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()
        self.log = tmp / "chromium.log"
        # bash (dash takes single-digit descriptors only) puts the two pipe ends
        # where Chromium looks for them.
        wrapper = (f'exec "$0" "$@" 3<&{to_browser_r} 4>&{from_browser_w} '
                   f'{to_browser_r}<&- {from_browser_w}>&-')
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(
                ["/bin/bash", "-c", wrapper, str(CHROMIUM), *FLAGS, "--remote-debugging-pipe",
                 f"--user-data-dir={tmp / 'chromium-profile'}", "about:blank"],
                pass_fds=(to_browser_r, from_browser_w), stdin=subprocess.DEVNULL,
                stdout=log, stderr=log, start_new_session=True)
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._buffer = b""
        self._next_id = 0

    def __enter__(self) -> Chromium:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def call(self, method: str, params: dict | None = None, session: str | None = None,
             timeout: float = 15.0) -> dict:
        """Send one command and return its result (events in between are skipped)."""
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        try:
            os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        except BrokenPipeError:
            raise BrowserError(f"{method}: chromium went away\n{self.output()}") from None
        deadline = time.monotonic() + timeout
        while True:
            while b"\0" in self._buffer:
                raw, self._buffer = self._buffer.split(b"\0", 1)
                reply = json.loads(raw)
                if reply.get("id") != self._next_id:
                    continue
                if "error" in reply:
                    raise BrowserError(f"{method}: {reply['error']}")
                return reply["result"]
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._from_browser], [], [], left)[0]:
                raise BrowserError(f"{method}: no reply in {timeout} s\n{self.output()}")
            chunk = os.read(self._from_browser, 1 << 16)
            if not chunk:
                raise BrowserError(f"chromium went away\n{self.output()}")
            self._buffer += chunk

    def open(self, url: str) -> Page:
        """A new tab on `url`, once loaded."""
        target = self.call("Target.createTarget", {"url": url})
        session = self.call("Target.attachToTarget", {"targetId": target["targetId"],
                                                      "flatten": True})["sessionId"]
        page = Page(self, session)
        page.wait_for(f"document.readyState === 'complete' && location.href === {json.dumps(url)}",
                      30, f"{url} to load")
        return page

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.call("Browser.close", timeout=5)
                self.proc.wait(10)
            except (BrowserError, OSError, subprocess.TimeoutExpired):
                pass
        try:  # the browser, or the helpers it left behind (zygote, renderers)
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(10)
        for fd in (self._to_browser, self._from_browser):
            try:
                os.close(fd)
            except OSError:
                pass


class Page:
    def __init__(self, browser: Chromium, session: str) -> None:
        self.browser = browser
        self.session = session

    def evaluate(self, expression: str):
        """The JSON value of a JavaScript expression in the page."""
        result = self.browser.call("Runtime.evaluate", {"expression": expression,
                                                        "returnByValue": True}, self.session)
        if "exceptionDetails" in result:
            raise BrowserError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float, what: str):
        """The expression's first truthy value, polled every 0.2 s."""
        deadline = time.monotonic() + timeout
        while True:
            value = self.evaluate(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                raise BrowserError(f"timed out after {timeout} s waiting for {what}; "
                                   f"last value {value!r}")
            time.sleep(0.2)
