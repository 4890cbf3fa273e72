# SPDX-License-Identifier: BSD-3-Clause
"""What a running manager writes is root's alone: its runtime files and
sockets are 0600, and a capture is always a new file (it never truncates an
existing one, never follows a symbolic link)."""

from __future__ import annotations

import os
import stat
import time

import pytest

from onvm.errors import ControlError
from tests.support.control_helpers import client
from tests.support.harness import wait_until

pytestmark = pytest.mark.timeout(60)


def mode(path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def test_runtime_files_and_sockets_are_for_root_only(start_manager):
    mgr = start_manager("--port", "net_null0")
    run = f"/run/onvm/{mgr.name}"
    wait_until(lambda: os.path.exists(f"{run}/stats.json"), 10, "a stats snapshot")
    time.sleep(0.3)  # several snapshots replaced it since
    for name in ("ready", "stats.json", "dpdk.log", "control.sock", "stats.sock",
                 "manager.lock"):
        assert mode(f"{run}/{name}") == 0o600, name
    assert mode(run) == 0o700
    assert mgr.stop() == 0


def test_a_capture_never_overwrites_or_follows_a_link(tmp_path, start_manager):
    mgr = start_manager("--port", "net_null0")
    c = client(mgr)
    precious = tmp_path / "precious"
    precious.write_bytes(b"keep me")
    link = tmp_path / "link.pcapng"
    link.symlink_to(precious)
    for path, why in ((precious, "exists: a capture never overwrites a file"),
                      (link, "is a symbolic link"),
                      (tmp_path / "dangling.pcapng", "is a symbolic link")):
        if path.name == "dangling.pcapng":
            path.symlink_to(tmp_path / "nowhere" / "target")
        with pytest.raises(ControlError) as err:
            c.call("capture.start", path=str(path), port=0, count=10)
        assert err.value.code == "bad_args" and why in err.value.message, err.value.message
    assert precious.read_bytes() == b"keep me"
    assert not (tmp_path / "nowhere").exists()
    fresh = tmp_path / "fresh.pcapng"
    started = c.call("capture.start", path=str(fresh), port=0, count=10)
    wait_until(lambda: c.call("capture.status", id=started["id"])["state"] == "done", 10,
               "the capture to finish")
    assert mode(fresh) == 0o600
    assert mgr.stop() == 0


def test_a_capture_of_a_port_at_line_rate_leaves_the_manager_answering(tmp_path,
                                                                      start_manager):
    """net_null receives as fast as the worker polls: the capture writes what
    it can, counts the rest as missed, and the control loop goes on."""
    mgr = start_manager("--port", "net_null0")
    c = client(mgr, timeout=5.0)
    started = c.call("capture.start", path=str(tmp_path / "flood.pcapng"), port=0, seconds=2)
    answered = 0
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline:
        assert c.call("status")["name"] == mgr.name
        answered += 1
        time.sleep(0.1)
    assert answered >= 10
    status = wait_until(lambda: (s := c.call("capture.status", id=started["id"]))["state"]
                        == "done" and s, 10, "the capture to end")
    assert status["packets"] > 0
    assert mgr.stop() == 0


def test_over_tcp_a_capture_stays_in_the_capture_directory(tmp_path, start_manager):
    from onvm.manager.client import Client
    from tests.integration.test_control_robust import free_tcp_port, make_keys
    from tests.support.control_helpers import OPEN_CLIENTS

    keys = make_keys(tmp_path / "keys")
    captures = tmp_path / "captures"
    config = tmp_path / "manager.toml"
    config.write_text(f'[control]\ncapture_dir = "{captures}"\n')
    port = free_tcp_port()
    mgr = start_manager("--config", str(config), "--port", "net_null0,no-rx=1",
                        "--control-tcp", f"127.0.0.1:{port}", "--curve-keys", str(keys))
    remote = Client(mgr.name, f"tcp://127.0.0.1:{port}", timeout=10,
                    server_key=keys / "server.key", client_key=keys / "client.key_secret")
    OPEN_CLIENTS.append(remote)
    (tmp_path / "outside").mkdir()
    (captures / "sub").mkdir(parents=True)
    (captures / "escape").symlink_to(tmp_path / "outside")
    for path in (str(tmp_path / "outside" / "x.pcapng"), "../outside/x.pcapng",
                 "escape/x.pcapng", "/etc/passwd", str(captures)):
        with pytest.raises(ControlError) as err:
            remote.call("capture.start", path=path, port=0, seconds=0.2)
        assert err.value.code == "bad_args"
        assert "outside the capture directory" in err.value.message, (path, err.value.message)
    assert list((tmp_path / "outside").iterdir()) == []
    for path, where in (("first.pcapng", captures / "first.pcapng"),
                        (str(captures / "sub" / "second.pcapng"),
                         captures / "sub" / "second.pcapng")):
        started = remote.call("capture.start", path=path, port=0, seconds=0.2)
        assert started["path"] == str(where)
        wait_until(lambda s=started: remote.call("capture.status", id=s["id"])["state"]
                   == "done", 10, "the capture to finish")
        assert where.exists() and mode(where) == 0o600
    # Root on this host, over ipc, may still write where it likes (a new file).
    local = client(mgr)
    elsewhere = tmp_path / "outside" / "local.pcapng"
    started = local.call("capture.start", path=str(elsewhere), port=0, seconds=0.2)
    wait_until(lambda: local.call("capture.status", id=started["id"])["state"] == "done",
               10, "the ipc capture to finish")
    assert elsewhere.exists()
    assert mgr.stop() == 0
