# SPDX-License-Identifier: BSD-3-Clause
"""onvm-ctl against a fake client: the request each subcommand sends, what
it prints, and its exit codes. No manager runs here."""

from __future__ import annotations

import json
import os
import stat

import pytest
import zmq.auth

from onvm.manager.client import Client, ctl
from onvm.manager.client import text as ctl_tables
from onvm.manager.protocol import ControlError

SNAPSHOT = {
    "time": 0.0, "tsc_hz": 1, "uptime": 1.0, "ports_enabled": True,
    "pool": {"size": 16383, "available": 16000},
    "ports": {"0": {"name": "net_null0", "rx": 10, "tx": 9, "drop": 1, "rx_pps": 1500.0,
                    "tx_pps": 0.0, "rx_bytes": 0, "tx_bytes": 0}},
    "nfs": {}, "dataplane": {},
}
RULE = {"id": 7, "src": "any", "dst": "10.0.0.0/8", "proto": "tcp", "sport": "any",
        "dport": "80", "chain": "web", "idle_timeout": 0.0, "hits": 3, "idle_for": 1.25}
CANNED = {
    "status": {"name": "onvm", "pid": 42, "onvm": "0.1.0", "protocol": 1, "uptime": 75.0,
               "control_core": 0, "worker_cores": [1, 2], "ports": 1, "nfs": 0, "chains": 1,
               "flow_rules": 0, "pool": {"size": 16383, "available": 16383},
               "ports_enabled": False, "capture": None,
               "endpoints": {"control": "ipc:///run/onvm/onvm/control.sock"},
               "limits": {"max_request_bytes": 65536, "max_flow_rules": 1024}},
    "version": {"onvm": "0.1.0", "protocol": 1, "dpdk": "22.11", "python": "3.11.2"},
    "help": [{"cmd": "chain.set", "summary": "set a chain",
              "args": {"name": {"type": "str", "required": True},
                       "hops": {"type": "str or list", "required": False}}}],
    "shutdown": {"stopping": True},
    "port.list": [{"id": 0, "devargs": "net_null0", "driver": "net_null",
                   "mac": "02:00:00:00:00:01", "rx": 123456, "tx": 5, "drop": 0,
                   "rx_pps": 2_500_000.0, "tx_pps": 12.0, "rx_bytes": 0, "tx_bytes": 0}],
    "nf.list": [{"id": 3, "name": "simple_forward", "service": 1, "instance": 0,
                 "state": "running", "pid": 999, "core": -1, "shared_core": True,
                 "managed": False, "rx": 1, "tx": 1, "drop": 0, "act_drop": 0,
                 "ring_full_drop": 0, "rx_pps": 1_500_000.0, "tx_pps": 0.0, "rx_ring": 0,
                 "tx_ring": 0}],
    "nf.stop": {"id": 3, "stopping": True},
    "nf.metrics": {"nf": 3, "name": "pping", "service": 1, "families": [
        {"name": "pping_events", "help": "Events.", "label": "event", "kind": "counter",
         "series": [{"value": "rtt_tcp", "count": 2}]}]},
    "service.list": [{"id": 2, "instances": 3, "starting": 0, "nfs": [4, 5, 6],
                      "names": ["simple_forward"], "buckets": [4, 5, 6] * 85 + [4],
                      "exited": [], "restarts": 0, "respawn": None}],
    "service.scale": {"service": 2, "instances": 3, "had": 1, "stopping": [],
                      "started": [{"pid": 11, "nf": "simple_forward", "log": "/run/x.log"}],
                      "respawn": None, "restarts": 0},
    "chain.list": [{"name": "default", "id": 0, "hops": "", "length": 0, "flow_rules": 0},
                   {"name": "web", "id": 1, "hops": "1,out:1", "length": 2, "flow_rules": 1}],
    "chain.set": {"name": "default", "id": 0, "hops": "1,2,out:1", "length": 3},
    "chain.delete": {"name": "web", "id": 1, "hops": "1,out:1", "length": 2},
    "flow.list": [RULE],
    "flow.add": RULE,
    "flow.delete": RULE,
    "flow.add_bulk": {"added": 3, "first_id": 8, "last_id": 10, "flow_rules": 4,
                      "seconds": 0.0123},
    "stats": SNAPSHOT,
    "stats.reset": {"reset": True},
    "capture.start": {"id": 5, "state": "running"},
    "capture.stop": {"id": 5, "state": "draining"},
}


def _capture_status(state: str, packets: int = 0) -> dict:
    return {"id": 5, "target": "nf 3 in", "path": "/abs/out.pcapng", "state": state,
            "packets": packets, "missed": 0, "error": "disk full" if state == "failed" else ""}


class FakeClient:
    """Stands in for onvm.manager.client.Client: records what it is asked."""

    def __init__(self) -> None:
        self.replies: dict = dict(CANNED)
        self.calls: list[tuple[str, dict]] = []
        self.connected: dict = {}
        self.snapshots: list[dict] = []
        self.stream_closed = False
        self.closed = False

    def connect(self, **kwargs) -> FakeClient:
        self.connected = kwargs
        return self

    def call(self, cmd: str, **args):
        args = {k: v for k, v in args.items() if v is not None}  # as Client.call does
        self.calls.append((cmd, args))
        reply = self.replies[cmd]
        if callable(reply):
            reply = reply()
        if isinstance(reply, BaseException):
            raise reply
        return reply

    # The real client's bulk adds, over this fake's call().
    flow_add_bulk = Client.flow_add_bulk
    flow_add_file = Client.flow_add_file

    def stats_stream(self, timeout=None):
        try:
            yield from self.snapshots
        finally:
            self.stream_closed = True

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def fake(monkeypatch):
    client = FakeClient()
    monkeypatch.setattr(ctl, "Client", client.connect)
    monkeypatch.setattr(ctl, "POLL_SECONDS", 0.001)
    return client


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = ctl.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("argv, cmd, args", [
    (["status"], "status", {}),
    (["version"], "version", {}),
    (["help"], "help", {}),
    (["shutdown"], "shutdown", {}),
    (["port", "list"], "port.list", {}),
    (["nf", "list"], "nf.list", {}),
    (["nf", "stop", "3"], "nf.stop", {"id": 3}),
    (["nf", "metrics", "3"], "nf.metrics", {"nf": 3}),
    (["service", "list"], "service.list", {}),
    (["chain", "list"], "chain.list", {}),
    (["chain", "set", "default", "1,2,out:1"], "chain.set",
     {"name": "default", "hops": "1,2,out:1"}),
    (["chain", "delete", "web"], "chain.delete", {"name": "web"}),
    (["flow", "list"], "flow.list", {}),
    (["flow", "add", "--dst", "10.0.0.0/8", "--proto", "tcp", "--dport", "80", "--chain", "web"],
     "flow.add", {"chain": "web", "dst": "10.0.0.0/8", "proto": "tcp", "dport": 80}),
    (["flow", "add", "--src", "192.168.0.0/16", "--proto", "17", "--sport", "1000-2000",
      "--chain", "c", "--idle-timeout", "30"],
     "flow.add", {"chain": "c", "src": "192.168.0.0/16", "proto": 17, "sport": "1000-2000",
                  "idle_timeout": 30.0}),
    (["flow", "delete", "7"], "flow.delete", {"id": 7}),
    (["stats"], "stats", {}),
    (["stats", "reset"], "stats.reset", {}),
    (["scale", "2", "--nf", "simple_forward", "--instances", "3"], "service.scale",
     {"service": 2, "instances": 3, "nf": "simple_forward"}),
    (["scale", "2", "--instances", "0"], "service.scale", {"service": 2, "instances": 0}),
    (["scale", "2", "--nf", "simple_forward", "--instances", "3", "--", "--verbose", "-x"],
     "service.scale", {"service": 2, "instances": 3, "nf": "simple_forward",
                       "nf_args": ["--verbose", "-x"]}),
    (["scale", "2", "--nf", "/opt/nfs/my_nf.py", "--instances", "1", "--respawn"],
     "service.scale", {"service": 2, "instances": 1, "nf": "/opt/nfs/my_nf.py",
                       "respawn": True}),
    (["scale", "2", "--nf", "simple_forward", "--instances", "1", "--respawn",
      "--respawn-limit", "3"],
     "service.scale", {"service": 2, "instances": 1, "nf": "simple_forward", "respawn": True,
                       "respawn_limit": 3}),
])
def test_each_subcommand_sends_its_request(fake, capsys, argv, cmd, args):
    code, out, err = run(capsys, *argv)
    assert (code, err) == (0, "")
    assert fake.calls == [(cmd, args)]
    assert out.strip()
    assert fake.closed


def test_global_options_go_before_or_after_the_subcommand(fake, capsys):
    run(capsys, "--name", "edge", "--timeout", "2", "status")
    assert fake.connected["name"] == "edge" and fake.connected["timeout"] == 2.0
    run(capsys, "status", "--name", "core", "--connect", "tcp://10.0.0.1:5555")
    assert fake.connected["name"] == "core"
    assert fake.connected["endpoint"] == "tcp://10.0.0.1:5555"
    assert fake.connected["timeout"] == 5.0  # the default, not lost to the subparser


def test_defaults_reach_the_local_manager_without_curve(fake, capsys):
    run(capsys, "status")
    assert fake.connected == {"name": "onvm", "endpoint": None, "timeout": 5.0,
                              "server_key": None, "client_key": None}


def test_keys_dir_names_the_server_public_and_client_secret_keys(fake, capsys, tmp_path):
    run(capsys, "--connect", "tcp://127.0.0.1:5555", "--keys", str(tmp_path), "version")
    assert str(fake.connected["server_key"]) == str(tmp_path / "server.key")
    assert str(fake.connected["client_key"]) == str(tmp_path / "client.key_secret")


def test_json_prints_the_raw_result(fake, capsys):
    code, out, _ = run(capsys, "--json", "flow", "list")
    assert code == 0
    assert json.loads(out) == [RULE]
    code, out, _ = run(capsys, "status", "--json")
    assert json.loads(out) == CANNED["status"]


def test_port_table_aligns_columns_and_humanises_rates(fake, capsys):
    _, out, _ = run(capsys, "port", "list")
    header, row = out.splitlines()
    assert header.split() == ["port", "driver", "mac", "rx", "rx/s", "tx", "tx/s", "drop",
                              "devargs"]
    assert row.split() == ["0", "net_null", "02:00:00:00:00:01", "123456", "2.50M", "5", "12",
                           "0", "net_null0"]
    # Numbers are right-aligned under their header: they end where it ends.
    assert row.index("123456") + len("123456") == header.index(" rx ") + len(" rx")
    assert row.index("2.50M") + len("2.50M") == header.index("rx/s") + len("rx/s")


def test_nf_table_shows_state_core_and_rates(fake, capsys):
    _, out, _ = run(capsys, "nf", "list")
    row = out.splitlines()[1]
    assert "simple_forward" in row and "running" in row and "1.50M" in row
    assert "- shared" in row  # core -1: floating on a shared core


def test_service_table(fake, capsys):
    _, out, _ = run(capsys, "service", "list")
    assert out.splitlines() == [
        "service  instances  starting  nfs    names           restarts  respawn",
        "      2          3         0  4,5,6  simple_forward         0  off"]


def test_service_table_shows_restarts_and_a_respawn_that_gave_up(fake, capsys):
    row = dict(CANNED["service.list"][0], restarts=5)
    fake.replies["service.list"] = [
        dict(row, respawn={"limit": 5, "window": 60.0, "recent": 5, "waiting": 0,
                           "gave_up": "scale: service 2: ... not restarting it again"}),
        dict(row, id=3, restarts=1, respawn={"limit": 2, "window": 60.0, "recent": 1,
                                             "waiting": 0, "gave_up": ""})]
    _, out, _ = run(capsys, "service", "list")
    assert [line.split()[-3:] for line in out.splitlines()[1:]] == [
        ["5", "gave", "up"], ["1", "limit", "2"]]


def test_scale_names_a_relative_path_in_full(fake, capsys, tmp_path, monkeypatch):
    """The manager runs elsewhere: ./my_nf.py becomes the absolute path."""
    monkeypatch.chdir(tmp_path)
    run(capsys, "scale", "2", "--nf", "./my_nf.py", "--instances", "1")
    run(capsys, "scale", "2", "--nf", "nfs/my_c_nf", "--instances", "1")
    run(capsys, "scale", "2", "--nf", ".", "--instances", "1")
    run(capsys, "scale", "2", "--nf", "simple_forward.py", "--instances", "1")
    assert [args["nf"] for _, args in fake.calls] == [
        str(tmp_path / "my_nf.py"), str(tmp_path / "nfs" / "my_c_nf"), str(tmp_path),
        "simple_forward.py"]


def test_scale_prints_its_respawn_policy(fake, capsys):
    fake.replies["service.scale"] = dict(
        CANNED["service.scale"],
        respawn={"limit": 3, "window": 60.0, "recent": 0, "waiting": 0, "gave_up": ""},
        restarts=2)
    _, out, _ = run(capsys, "scale", "2", "--nf", "simple_forward", "--instances", "3",
                    "--respawn", "--respawn-limit", "3")
    assert out.splitlines()[-1] == "  respawn: on, at most 3 restart(s) in 60 s (2 so far)"


def test_empty_lists_say_so(fake, capsys):
    fake.replies["nf.list"] = []
    fake.replies["flow.list"] = []
    assert run(capsys, "nf", "list")[1] == "no NFs\n"
    assert run(capsys, "flow", "list")[1] == "no flow rules\n"


def test_status_and_help_tables(fake, capsys):
    _, out, _ = run(capsys, "status")
    assert "onvm (pid 42, up 1m15s)" in out
    assert "held: waiting for the chain's NFs" in out
    assert "ipc:///run/onvm/onvm/control.sock" in out
    _, out, _ = run(capsys, "help")
    assert "name:str [hops:str or list]" in out


def test_stats_prints_the_manager_stats_table(fake, capsys):
    _, out, _ = run(capsys, "--name", "edge", "stats")
    assert out.startswith("[edge ")
    assert "pool 16000/16383 free" in out and "1.50k" in out


def test_error_reply_is_one_line_and_exit_1(fake, capsys):
    fake.replies["flow.add"] = ControlError("not_found", "no chain 'nosuch'")
    code, out, err = run(capsys, "flow", "add", "--chain", "nosuch")
    assert code == 1
    assert out == ""
    assert err == "onvm-ctl: error: no chain 'nosuch' (not_found)\n"


@pytest.mark.parametrize("code_name", ["timeout", "unreachable"])
def test_no_answer_exits_3(fake, capsys, code_name):
    fake.replies["status"] = ControlError(code_name, "no reply")
    code, _, err = run(capsys, "status")
    assert code == 3
    assert err == f"onvm-ctl: error: no reply ({code_name})\n"


def test_no_manager_exits_3(monkeypatch, capsys):
    def unreachable(**kwargs):
        raise ControlError("unreachable", "no manager 'x' is running here")

    monkeypatch.setattr(ctl, "Client", unreachable)
    code, _, err = run(capsys, "--name", "x", "status")
    assert code == 3
    assert err.count("\n") == 1 and "(unreachable)" in err


@pytest.mark.parametrize("argv", [
    [],
    ["bogus"],
    ["nf", "stop", "three"],
    ["flow", "add", "--dst", "10.0.0.0/8"],  # no --chain
    ["scale", "2"],  # no --instances
    ["capture", "-w", "x.pcapng"],  # no --port or --nf
    ["capture", "--port", "0", "--nf", "1", "-w", "x.pcapng"],
    ["capture", "--port", "0", "--direction", "in", "-w", "x.pcapng"],
    ["capture", "--nf", "1", "--direction", "rx", "-w", "x.pcapng"],
    ["stats", "--count", "3"],  # --count needs --watch
    ["scale", "2", "--instances", "1", "--respawn-limit", "3"],  # needs --respawn
    ["scale", "2", "--instances", "1", "--respawn", "--respawn-limit", "0"],
    ["status", "--", "extra"],  # only scale takes NF arguments
    ["--connect", "example.com", "status"],
    ["--keys", "/k", "--server-key", "/k/s.key", "status"],
    ["--timeout", "0", "status"],
])
def test_usage_errors_exit_2_without_a_request(fake, capsys, argv):
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert fake.calls == []
    assert "error:" in err and "Traceback" not in err


def test_help_flag_exits_0(fake, capsys):
    code, out, _ = run(capsys, "flow", "add", "--help")
    assert code == 0 and "--idle-timeout" in out


# ---- capture ----

def test_capture_polls_until_done_and_prints_one_line(fake, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    statuses = iter([_capture_status("running"), _capture_status("draining"),
                     _capture_status("done", 1000)])
    fake.replies["capture.status"] = lambda: next(statuses)
    code, out, err = run(capsys, "capture", "--nf", "3", "--count", "1000", "-w", "out.pcapng")
    assert (code, err) == (0, "")
    cmd, args = fake.calls[0]
    assert (cmd, args) == ("capture.start", {"path": str(tmp_path / "out.pcapng"), "nf": 3,
                                             "count": 1000})
    assert [c for c, _ in fake.calls[1:]] == ["capture.status"] * 3
    assert fake.calls[1][1] == {"id": 5}
    assert out == "captured 1000 packets of nf 3 in to /abs/out.pcapng (0 missed)\n"


def test_capture_defaults_to_100_packets(fake, capsys):
    fake.replies["capture.status"] = _capture_status("done")
    run(capsys, "capture", "--port", "0", "--direction", "tx", "--snaplen", "128",
        "-w", "/tmp/x.pcapng")
    assert fake.calls[0] == ("capture.start", {"path": "/tmp/x.pcapng", "port": 0,
                                               "direction": "tx", "count": 100,
                                               "snaplen": 128})
    run(capsys, "capture", "--port", "0", "--seconds", "2.5", "-w", "/tmp/x.pcapng")
    assert "count" not in fake.calls[-2][1] and fake.calls[-2][1]["seconds"] == 2.5


def test_capture_ctrl_c_stops_it_and_waits_for_done(fake, capsys):
    statuses = iter([KeyboardInterrupt(), _capture_status("draining"),
                     _capture_status("done", 12)])
    fake.replies["capture.status"] = lambda: next(statuses)
    code, out, _ = run(capsys, "capture", "--nf", "3", "-w", "/tmp/x.pcapng")
    assert code == 0
    assert ("capture.stop", {"id": 5}) in fake.calls
    assert fake.calls[-1][0] == "capture.status"
    assert out.startswith("captured 12 packets")


def test_failed_capture_exits_1(fake, capsys):
    fake.replies["capture.status"] = _capture_status("failed")
    code, _, err = run(capsys, "capture", "--nf", "3", "-w", "/tmp/x.pcapng")
    assert code == 1
    assert "disk full" in err


# ---- scale --wait ----

def test_scale_wait_polls_service_list(fake, capsys):
    fake.replies["service.list"] = iter([[], [{"id": 2, "instances": 1, "nfs": [4], "names": []}],
                                         CANNED["service.list"]]).__next__
    code, out, _ = run(capsys, "scale", "2", "--nf", "simple_forward", "--instances", "3",
                       "--wait")
    assert code == 0
    assert [c for c, _ in fake.calls] == ["service.scale"] + ["service.list"] * 3
    assert out.splitlines()[-1] == "service 2: 3 instances (NFs 4,5,6)"


def test_scale_wait_with_respawn_waits_out_an_exit_it_restarts(fake, capsys):
    """An instance that crashed is restarted: the wait goes on, and ends on
    the exit only once the respawn has given up."""
    crash = {"pid": 11, "nf": "simple_forward", "code": -9, "log": "/run/x.log", "said": ""}
    policy = {"limit": 1, "window": 60.0, "recent": 1, "waiting": 1, "gave_up": ""}
    row = {"id": 2, "instances": 2, "nfs": [4, 5], "names": [], "exited": [crash],
           "restarts": 0, "respawn": policy}
    fake.replies["service.list"] = iter([[row], CANNED["service.list"]]).__next__
    code, out, _ = run(capsys, "scale", "2", "--nf", "simple_forward", "--instances", "3",
                       "--wait", "--respawn")
    assert code == 0 and out.splitlines()[-1] == "service 2: 3 instances (NFs 4,5,6)"
    fake.replies["service.list"] = [dict(row, respawn=dict(policy, gave_up="no more"))]
    code, _, err = run(capsys, "scale", "2", "--nf", "simple_forward", "--instances", "3",
                       "--wait", "--respawn")
    assert code == 1
    assert "simple_forward (pid 11) was killed by SIGKILL (log /run/x.log)" in err


def test_scale_wait_gives_up_with_exit_1(fake, capsys, monkeypatch):
    monkeypatch.setattr(ctl, "SCALE_WAIT_SECONDS", 0.05)
    fake.replies["service.list"] = [{"id": 2, "instances": 1, "nfs": [4], "names": []}]
    code, _, err = run(capsys, "scale", "2", "--nf", "simple_forward", "--instances", "3",
                       "--wait")
    assert code == 1
    assert "service 2 has 1 of 3 instances" in err and "/run/x.log" in err


# ---- stats --watch ----

def test_watch_prints_count_snapshots_and_closes_the_stream(fake, capsys):
    fake.snapshots = [SNAPSHOT] * 5
    code, out, _ = run(capsys, "stats", "--watch", "--count", "2")
    assert code == 0
    assert out.count("pool 16000/16383 free") == 2
    assert fake.stream_closed
    code, out, _ = run(capsys, "--json", "stats", "--watch", "--count", "3")
    assert [json.loads(line) for line in out.splitlines()] == [SNAPSHOT] * 3


def test_watch_without_snapshots_exits_3(fake, capsys):
    code, _, err = run(capsys, "stats", "--watch", "--timeout", "0.5")
    assert code == 3
    assert "no stats snapshot within 0.5 s (timeout)" in err


# ---- keys ----

def test_keys_are_loadable_and_the_client_is_authorized(capsys, tmp_path):
    keys = tmp_path / "keys"
    code, out, _ = run(capsys, "keys", str(keys))
    assert code == 0
    server_public, server_secret = zmq.auth.load_certificate(keys / "server.key_secret")
    assert zmq.auth.load_certificate(keys / "server.key") == (server_public, None)
    client_public, client_secret = zmq.auth.load_certificate(keys / "client.key_secret")
    assert server_secret and client_secret
    assert zmq.auth.load_certificate(keys / "authorized" / "client.key")[0] == client_public
    for d in (keys, keys / "authorized"):
        assert stat.S_IMODE(os.stat(d).st_mode) == 0o700
    for secret in ("server.key_secret", "client.key_secret"):
        assert stat.S_IMODE(os.stat(keys / secret).st_mode) == 0o600
    assert str(keys) in out


def test_keys_refuse_to_overwrite(capsys, tmp_path):
    assert run(capsys, "keys", str(tmp_path))[0] == 0
    before = (tmp_path / "server.key_secret").read_bytes()
    code, _, err = run(capsys, "keys", str(tmp_path))
    assert code == 1
    assert "refusing to overwrite" in err
    assert (tmp_path / "server.key_secret").read_bytes() == before


def test_table_pads_to_the_widest_cell():
    text = ctl_tables.table([{"a": "x", "n": 5}, {"a": "longer", "n": 12345}],
                            [("name", "a"), ("n", "n")])
    assert text.splitlines() == ["name        n", "x           5", "longer  12345"]


# ---- flow add --file ----

RULES_FILE = """\
# three rules
--dst 10.0.0.0/8 --proto tcp --dport 80 --chain web

--src 2001:db8::/32 --idle-timeout 60
--dport=1000-2000 --chain other   # the last
"""


def test_flow_add_file_sends_one_bulk_request(fake, capsys, tmp_path):
    path = tmp_path / "rules.txt"
    path.write_text(RULES_FILE)
    code, out, err = run(capsys, "flow", "add", "--file", str(path), "--chain", "dflt")
    assert (code, err) == (0, "")
    assert fake.calls == [("flow.add_bulk", {"rules": [
        {"dst": "10.0.0.0/8", "proto": "tcp", "dport": 80, "chain": "web"},
        {"src": "2001:db8::/32", "idle_timeout": 60.0, "chain": "dflt"},
        {"dport": "1000-2000", "chain": "other"}]})]
    assert out == f"added 3 flow rules (ids 8-10) from {path} in 0.012 s; 4 in force\n"


def test_flow_add_file_json_prints_the_result(fake, capsys, tmp_path):
    (tmp_path / "r").write_text("--chain web\n")
    code, out, _ = run(capsys, "--json", "flow", "add", "--file", str(tmp_path / "r"))
    assert code == 0 and json.loads(out) == CANNED["flow.add_bulk"]


def test_an_error_about_a_rule_names_its_line(fake, capsys, tmp_path):
    path = tmp_path / "rules.txt"
    path.write_text(RULES_FILE)
    fake.replies["flow.add_bulk"] = ControlError("not_found", "rule 3: no chain 'other' "
                                                 "(chain list shows them)")
    code, out, err = run(capsys, "flow", "add", "--file", str(path), "--chain", "web")
    assert (code, out) == (1, "")
    assert err == (f"onvm-ctl: error: {path} line 5: no chain 'other' (chain list shows "
                   "them) (not_found)\n")


def test_a_request_over_the_managers_limit_is_not_sent(fake, capsys, tmp_path):
    path = tmp_path / "rules.txt"
    path.write_text("".join(f"--dst 10.{i >> 8}.{i & 255}.0/24 --chain web\n"
                            for i in range(3000)))
    code, _, err = run(capsys, "flow", "add", "--file", str(path))
    assert code == 1
    assert [c for c, _ in fake.calls] == ["status"]  # asked for the limit, sent nothing
    assert "3000 flow rules make a" in err and "max_request_bytes (65536)" in err
    assert err.count("\n") == 1 and err.endswith("(bad_args)\n")


def test_a_small_bulk_request_does_not_ask_for_the_limit(fake, capsys, tmp_path):
    (tmp_path / "r").write_text("--chain web\n")
    run(capsys, "flow", "add", "--file", str(tmp_path / "r"))
    assert [c for c, _ in fake.calls] == ["flow.add_bulk"]


@pytest.mark.parametrize("make, message", [
    (lambda d: str(d), "is a directory"),
    (lambda d: str(d / "missing.txt"), "does not exist"),
    (lambda d: _file(d / "empty.txt", ""), "holds no rule"),
    (lambda d: _file(d / "comments.txt", "# nothing\n\n"), "holds no rule"),
    (lambda d: _file(d / "bad.txt", "--chain a\n--dst 10.0.0.0/8 --chain a\n--sport 9-1\n"),
     "bad.txt line 3: source port range 9-1 runs backwards"),
    (lambda d: "", "no rules file named"),
])
def test_a_bad_rules_file_is_one_line_and_sends_nothing(fake, capsys, tmp_path, make, message):
    code, out, err = run(capsys, "flow", "add", "--chain", "web", "--file", make(tmp_path))
    assert (code, out) == (2, "")
    assert fake.calls == []
    assert err.startswith("onvm-ctl: error: ") and err.endswith("(bad_args)\n")
    assert err.count("\n") == 1 and message in err


@pytest.mark.parametrize("argv, message", [
    (["flow", "add", "--file", "r.txt", "--dst", "10.0.0.0/8"], "--dst with --file"),
    (["flow", "add", "--file", "r.txt", "--proto", "tcp", "--sport", "1"],
     "--proto, --sport with --file"),
    (["flow", "add", "--proto", "tcp"],
         "flow add needs --chain NAME or --action drop (or --file RULES)"),
    (["flow", "add", "--file"], "argument --file: expected one argument"),
])
def test_flow_add_usage_errors(fake, capsys, argv, message):
    code, out, err = run(capsys, *argv)
    assert (code, out) == (2, "")
    assert fake.calls == []
    assert message in err and err.count("\n") == 1


def _file(path, text: str) -> str:
    path.write_text(text)
    return str(path)
