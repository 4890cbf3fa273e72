# SPDX-License-Identifier: BSD-3-Clause
"""The real `onvm-ctl` binary against a running manager: what an operator
types, what it prints, and its exit codes."""

from __future__ import annotations

import json
import socket
import subprocess

import pytest
import zmq.auth

from tests.support.harness import Manager, tool, wait_until
from tests.support.nf_helpers import pcap_ports

CTL = tool("onvm-ctl")


def ctl(*args: str, cwd=None, timeout: float = 30) -> subprocess.CompletedProcess:
    return subprocess.run([CTL, *args], capture_output=True, text=True, timeout=timeout,
                          cwd=cwd, stdin=subprocess.DEVNULL)


def ok(mgr: Manager, *args: str) -> str:
    """stdout of a command that must succeed."""
    done = ctl("--name", mgr.name, *args)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    return done.stdout


def as_json(mgr: Manager, *args: str):
    return json.loads(ok(mgr, "--json", *args))


def failed(done: subprocess.CompletedProcess, exit_code: int, error_code: str) -> str:
    """The one stderr line of a command that must fail."""
    assert done.returncode == exit_code, (done.stdout, done.stderr)
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr, done.stderr
    assert done.stderr.startswith("onvm-ctl: error: ")
    assert done.stderr.rstrip().endswith(f"({error_code})"), done.stderr
    return done.stderr


@pytest.fixture
def mgr(tmp_path, start_manager) -> Manager:
    port0, port1, _, _ = pcap_ports(tmp_path, [])
    return start_manager("--port", port0, "--port", port1)


def test_status_and_ports(mgr):
    status = as_json(mgr, "status")
    assert status["name"] == mgr.name and status["ports"] == 2 and status["nfs"] == 0
    assert status["endpoints"]["control"] == f"ipc:///run/onvm/{mgr.name}/control.sock"
    text = ok(mgr, "status")
    assert f"{mgr.name} (pid {status['pid']}" in text

    ports = as_json(mgr, "port", "list")
    assert [(p["id"], p["driver"]) for p in ports] == [(0, "net_pcap"), (1, "net_pcap")]
    header, *rows = ok(mgr, "port", "list").splitlines()
    assert header.split()[:4] == ["port", "driver", "mac", "rx"]
    assert [r.split()[0] for r in rows] == ["0", "1"]
    assert as_json(mgr, "version")["protocol"] == 1
    assert "chain.set" in {c["cmd"] for c in as_json(mgr, "help")}


def test_chains_and_flow_rules(mgr):
    assert as_json(mgr, "chain", "set", "web", "1,out:1")["hops"] == "1,out:1"
    ok(mgr, "chain", "set", "default", "2,out:0")
    chains = {c["name"]: c for c in as_json(mgr, "chain", "list")}
    assert chains["web"]["hops"] == "1,out:1" and chains["default"]["hops"] == "2,out:0"

    rule = as_json(mgr, "flow", "add", "--dst", "10.0.0.0/8", "--proto", "tcp", "--dport",
                   "80", "--chain", "web")
    assert (rule["dst"], rule["proto"], rule["dport"], rule["chain"]) == (
        "10.0.0.0/8", "tcp", "80", "web")
    ranged = as_json(mgr, "flow", "add", "--sport", "1000-2000", "--proto", "17",
                     "--chain", "web", "--idle-timeout", "60")
    assert (ranged["sport"], ranged["proto"], ranged["idle_timeout"]) == ("1000-2000", 17, 60)
    assert [r["id"] for r in as_json(mgr, "flow", "list")] == [rule["id"], ranged["id"]]
    assert "10.0.0.0/8" in ok(mgr, "flow", "list")

    in_use = ctl("--name", mgr.name, "chain", "delete", "web")
    assert "delete them first" in failed(in_use, 1, "conflict")
    for r in (rule, ranged):
        ok(mgr, "flow", "delete", str(r["id"]))
    assert as_json(mgr, "flow", "list") == []
    assert ok(mgr, "chain", "delete", "web") == "deleted chain 'web'\n"
    assert [c["name"] for c in as_json(mgr, "chain", "list")] == ["default"]


def test_unknown_chain_and_bad_input_are_errors(mgr):
    unknown = ctl("--name", mgr.name, "flow", "add", "--dst", "10.0.0.0/8", "--chain", "nope")
    assert "no chain 'nope'" in failed(unknown, 1, "not_found")
    failed(ctl("--name", mgr.name, "chain", "delete", "nope"), 1, "not_found")
    failed(ctl("--name", mgr.name, "chain", "set", "web", "1,banana"), 1, "bad_args")
    failed(ctl("--name", mgr.name, "nf", "stop", "9"), 1, "not_found")
    usage = ctl("--name", mgr.name, "flow", "add", "--dst", "10.0.0.0/8")  # no --chain
    assert usage.returncode == 2 and "--chain" in usage.stderr


def test_nf_list_shows_a_running_nf_and_nf_stop_ends_it(mgr):
    nf = mgr.start_nf("simple_forward", 1)
    [row] = as_json(mgr, "nf", "list")
    assert (row["name"], row["service"], row["state"], row["pid"]) == (
        "simple_forward", 1, "running", nf.pid)
    assert "simple_forward" in ok(mgr, "nf", "list").splitlines()[1]
    services = as_json(mgr, "service", "list")
    assert [(s["id"], s["nfs"]) for s in services] == [(1, [row["id"]])]

    assert ok(mgr, "nf", "stop", str(row["id"])) == f"NF {row['id']} is stopping\n"
    assert nf.wait(15) == 0
    wait_until(lambda: as_json(mgr, "nf", "list") == [], 10, "the NF to leave the table")


def test_stats_watch_and_capture(mgr, tmp_path):
    assert ok(mgr, "stats").startswith(f"[{mgr.name} ")
    snaps = [json.loads(line) for line in
             ok(mgr, "stats", "--watch", "--count", "2", "--json").splitlines()]
    assert len(snaps) == 2 and all(set(s["ports"]) == {"0", "1"} for s in snaps)
    assert ok(mgr, "stats", "reset") == "counters reset\n"

    # A relative path is the operator's, not the manager's working directory.
    done = ctl("--name", mgr.name, "capture", "--port", "1", "--direction", "tx",
               "--seconds", "0.3", "-w", "cap.pcapng", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    target = tmp_path / "cap.pcapng"
    assert done.stdout == f"captured 0 packets of port 1 tx to {target} (0 missed)\n"
    assert target.read_bytes()[:4] == b"\x0a\x0d\x0d\x0a"  # a pcapng section header


def test_shutdown_stops_the_manager(mgr):
    assert ok(mgr, "shutdown") == f"manager '{mgr.name}' is shutting down\n"
    assert mgr.wait(30) == 0


def test_a_manager_that_is_not_running_exits_3(tmp_path):
    done = ctl("--name", "it-not-running", "status", timeout=15)
    assert "no manager 'it-not-running'" in failed(done, 3, "unreachable")


def _free_port_pair() -> int:
    """A loopback TCP port whose successor (the stats PUB) is free too."""
    for _ in range(100):
        with socket.socket() as first, socket.socket() as second:
            first.bind(("127.0.0.1", 0))
            port = first.getsockname()[1]
            try:
                second.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
            return port
    raise RuntimeError("no two consecutive free TCP ports")


def test_tcp_with_curve_keys(tmp_path, start_manager):
    keys = tmp_path / "keys"
    made = ctl("keys", str(keys))
    assert made.returncode == 0, made.stderr
    port = _free_port_pair()
    mgr = start_manager("--port", "net_null0", "--control-tcp", f"127.0.0.1:{port}",
                        "--curve-keys", str(keys))
    endpoint = f"tcp://127.0.0.1:{port}"
    done = ctl("--connect", endpoint, "--keys", str(keys), "--json", "status")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["endpoints"]["control_tcp"] == endpoint
    done = ctl("--connect", endpoint, "--keys", str(keys), "--json", "stats", "--watch",
               "--count", "1")
    assert done.returncode == 0, done.stderr
    assert set(json.loads(done.stdout)["ports"]) == {"0"}

    # A key pair the manager was not told to trust gets no answer.
    stranger = tmp_path / "stranger"
    stranger.mkdir()
    zmq.auth.create_certificates(stranger, "client")
    done = ctl("--connect", endpoint, "--server-key", str(keys / "server.key"),
               "--client-key", str(stranger / "client.key_secret"), "--timeout", "1", "status")
    failed(done, 3, "timeout")
    assert mgr.alive()

