# SPDX-License-Identifier: BSD-3-Clause
"""Bad input that needs a running manager or root: the C NFs' options (they
check them once joined), onvm-ctl requests the manager refuses, a scale
whose NF exits at once, EAL values only DPDK can judge, a non-root
onvm-ctl, a closed output pipe, and control requests no CLI can send.

Each invocation is a real command that must exit with its code after one
line naming the problem, never a traceback. tests/unit/test_bad_input_unit.py
has the cases that need neither."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import time
import uuid

import msgpack
import pytest
import zmq

from onvm.manager import protocol
from onvm.manager.bringup.runtime import remove_dpdk_files, runtime_dir
from onvm.manager.client import Client
from onvm.manager.protocol import ControlError
from tests.support.bad_input import BIG, Bad, one_line, params, run, run_case
from tests.support.harness import Manager, tool

pytestmark = pytest.mark.timeout(120)

USAGE, ERROR_REPLY, ENVIRONMENT, UNREACHABLE = 2, 1, 3, 3
OUTPUT_CLOSED = 141  # 128 + SIGPIPE


def c_nf(id: str, name: str, *args: str, says: str) -> Bad:  # noqa: A002
    """Bundled C NF `name` given its own options `args`; they exit 2."""
    return Bad(id, ("onvm-nf", name, "--service", "5", "--name", "{mgr}", "--", *args), USAGE,
               says)


def ctl(id: str, *args: str, says: str, code: int = ERROR_REPLY) -> Bad:  # noqa: A002
    return Bad(id, ("onvm-ctl", "--name", "{mgr}", *args), code, says)


C_NFS = [
    c_nf("sf-unknown-option", "simple_forward", "--bogus",
         says="simple_forward: unknown option '--bogus' (usage: simple_forward"),
    c_nf("sf-missing-value", "simple_forward", "--dest", says="--dest needs a value"),
    c_nf("sf-stray-argument", "simple_forward", "stray", says="unexpected argument 'stray'"),
    c_nf("sf-dest-70000", "simple_forward", "--dest", "70000",
         says="--dest takes a number from 1 to 63"),
    c_nf("sf-out-5000-digit", "simple_forward", "--out", BIG,
         says="--out takes a number from 0 to 15"),
    c_nf("bm-unknown-option", "basic_monitor", "--bogus",
         says="basic_monitor: unknown argument '--bogus'"),
    c_nf("bm-stray-argument", "basic_monitor", "stray", says="unknown argument 'stray'"),
    c_nf("st-unknown-option", "speed_tester", "--bogus",
         says="speed_tester: unknown option '--bogus' (usage: speed_tester"),
    c_nf("st-missing-value", "speed_tester", "--packets", says="--packets needs a value"),
    c_nf("st-packets-beyond-pool", "speed_tester", "--packets", "100000",
         says="--packets 100000 is more than the manager's pool of"),
    c_nf("st-packets-5000-digit", "speed_tester", "--packets", BIG,
         says="usage: speed_tester"),
    c_nf("st-size-5000-digit", "speed_tester", "--size", BIG, says="usage: speed_tester"),
    c_nf("st-duration-inf", "speed_tester", "--duration", "inf", says="--duration takes"),
    c_nf("st-duration-nan", "speed_tester", "--duration", "nan", says="--duration takes"),
    c_nf("st-rate-nan", "speed_tester", "--rate", "nan", says="--rate takes packets"),
]

CTL = [
    ctl("flow-idle-a-year", "flow", "add", "--chain", "default", "--idle-timeout", "31536000",
        says="'idle_timeout' must be a number from 0 to 2592000"),
    ctl("flow-dport-70000", "flow", "add", "--chain", "default", "--dport", "70000",
        says="'dport' must be a whole number from 0 to 65535"),
    ctl("flow-sport-5000-digit", "flow", "add", "--chain", "default", "--sport", BIG,
        says="port '999"),
    ctl("flow-proto-300", "flow", "add", "--chain", "default", "--proto", "300",
        says="'proto' must be a whole number from 0 to 255"),
    ctl("flow-src-number", "flow", "add", "--chain", "default", "--src", "10",
        says="source '10' is not an IPv4 or IPv6 address or CIDR"),
    ctl("flow-delete-largest-id", "flow", "delete", str((1 << 63) - 1), says="no flow rule"),
    ctl("capture-count-5e9", "capture", "--port", "0", "--count", "5000000000", "-w",
        "{tmp}/x.pcapng", says="'count' must be a whole number from 0 to 4294967295"),
    ctl("capture-seconds-1e6", "capture", "--port", "0", "--seconds", "1e6", "-w",
        "{tmp}/x.pcapng", says="'seconds' must be a number from 0 to 86400"),
    ctl("capture-snaplen-70000", "capture", "--port", "0", "--snaplen", "70000", "-w",
        "{tmp}/x.pcapng", says="'snaplen' must be a whole number from 1 to 65535"),
    ctl("capture-to-a-directory", "capture", "--port", "0", "--count", "1", "-w", "{tmp}",
        says="exists: a capture never overwrites"),
    ctl("capture-unwritable", "capture", "--port", "0", "--count", "1", "-w",
        "/proc/onvm-nope/x.pcapng", says="cannot write /proc/onvm-nope/x.pcapng"),
    ctl("chain-5000-digit", "chain", "set", "web", BIG, says="chain hop '999"),
    ctl("chain-tee-service-0", "chain", "set", "web", "tee:0,out:0",
        says="chain hop 'tee:0': tee: takes a service id from 1 to 63"),
    ctl("chain-tee-5000-digit", "chain", "set", "web", "tee:" + BIG,
        says="tee: takes a service id from 1 to 63"),
    ctl("nf-stop-not-there", "nf", "stop", "63", says="no NF 63"),
]

CASES = C_NFS + CTL


@pytest.fixture(scope="module")
def manager(tmp_path_factory):
    """One manager for the table (a port that receives nothing), stopped
    and cleaned up after it."""
    mgr = Manager(tmp_path_factory.mktemp("bad-input"), ["--port", "net_null0,no-rx=1"])
    try:
        yield mgr.wait_ready()
        assert mgr.stop() == 0
    finally:
        mgr.cleanup()


@pytest.mark.parametrize("case", params(CASES))
def test_bad_input_is_one_line_and_an_exit_code(case, manager, tmp_path):
    run_case(case, tmp_path, manager.name)
    assert manager.alive()


def _scale_and_wait(mgr: Manager, service: int, nf: str, *nf_args: str) -> str:
    """`onvm-ctl scale --wait`: it prints what it started, then waits; the
    one error line is on stderr. Returns it."""
    result = run([tool("onvm-ctl"), "--name", mgr.name, "scale", str(service), "--instances",
                  "1", "--nf", nf, "--wait", "--", *nf_args])
    assert result.stdout.startswith(f"service {service}: 0 -> 1 instances"), result.stdout
    return one_line(subprocess.CompletedProcess(result.args, result.returncode, "",
                                                result.stderr), ERROR_REPLY, "(not_ready)")


def test_scale_wait_stops_when_the_nf_exits_at_once(manager):
    """An instance that exits is reported as soon as the manager sees it,
    with what it said, not after the 30 s wait."""
    started = time.monotonic()
    line = _scale_and_wait(manager, 7, "simple_forward.py", "--dest", "70000")
    assert time.monotonic() - started < 15
    assert "service 7: simple_forward.py (pid " in line
    assert "exited with 2: simple_forward.py: error: argument --dest" in line


def test_scale_wait_sees_a_c_nf_that_joined_and_left(manager):
    """A C NF joins before it reads its options: its exit ends the wait too."""
    line = _scale_and_wait(manager, 8, "speed_tester", "--bogus")
    assert "exited with 2: speed_tester: unknown option '--bogus'" in line


@pytest.mark.parametrize("args", [("nf", "list"), ("--json", "stats")])
def test_a_closed_output_pipe_ends_quietly(manager, args):
    """`onvm-ctl ... | head`: the reader is gone before the reply is printed."""
    env = {k: v for k, v in os.environ.items() if k != "ONVM_DEBUG"}
    read_end, write_end = os.pipe()
    os.close(read_end)  # what head does once it has its lines
    try:
        proc = subprocess.run([tool("onvm-ctl"), "--name", manager.name, *args],
                              stdout=write_end, stderr=subprocess.PIPE, text=True,
                              stdin=subprocess.DEVNULL, timeout=30, env=env)
    finally:
        os.close(write_end)
    assert proc.returncode == OUTPUT_CLOSED, proc.stderr
    assert proc.stderr == ""


def test_non_root_onvm_ctl_is_told_how_to_reach_the_manager(manager):
    result = run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                  tool("onvm-ctl"), "--name", manager.name, "status"])
    if "Permission denied" in result.stderr and "python" in result.stderr:
        pytest.skip("the virtual environment is not readable by nobody")
    line = one_line(result, UNREACHABLE, "is for root, who runs the manager")
    assert "sudo" in line and "--connect tcp://HOST:PORT --keys DIR" in line


# ---- EAL values only DPDK judges: its complaint, in one line ----

@pytest.mark.parametrize("eal, says", [
    (("-n", "abc"), "invalid channel number"),
    (("--iova-mode=zz",), "invalid parameters for --iova-mode"),
    (("--huge-dir=/onvm-no-such-dir",), "hugepage"),
])
def test_eal_values_dpdk_refuses_are_one_line(eal, says):
    name = f"bi-{uuid.uuid4().hex[:8]}"
    try:
        result = run([tool("onvm-manager"), "start", "--name", name, "--stats-interval", "0",
                      "--", *eal], timeout=60)
    finally:  # even a manager that came up by mistake leaves nothing behind
        left = glob.glob(f"/dev/hugepages/onvm-{name}map_*")
        left += [str(runtime_dir(name))] if runtime_dir(name).exists() else []
        remove_dpdk_files(name)
        shutil.rmtree(runtime_dir(name), ignore_errors=True)
    line = one_line(result, ENVIRONMENT, "onvm-manager: error: DPDK could not start")
    assert says in line and "Usage" not in result.stdout + result.stderr
    assert left == [], "left behind"


# ---- control requests no CLI sends: an error reply, the manager unharmed ----

def _raw_request(mgr: Manager, body: bytes) -> dict:
    ctx = zmq.Context()
    try:
        sock = ctx.socket(zmq.DEALER)
        sock.setsockopt(zmq.LINGER, 0)
        sock.connect(protocol.control_endpoint(mgr.name))
        sock.send(body)
        assert sock.poll(10_000), "no reply"
        return msgpack.unpackb(sock.recv(), raw=False)
    finally:
        ctx.destroy(linger=0)


def _nested(depth: int) -> bytes:
    """A request whose hops are a list nested `depth` deep, as raw msgpack
    (msgpack-python itself refuses to pack that deep)."""
    pack = msgpack.packb
    return (b"\x83" + pack("v") + pack(1) + pack("cmd") + pack("chain.set") + pack("args")
            + b"\x82" + pack("name") + pack("x") + pack("hops") + b"\x91" * depth + b"\x01")


@pytest.mark.parametrize("depth", [40, 1000, 3000, 20000])
def test_a_deeply_nested_request_is_a_bad_request(manager, depth):
    reply = _raw_request(manager, _nested(depth))
    assert reply["ok"] is False
    assert reply["error"]["code"] == "bad_request", reply
    assert "32 levels" in reply["error"]["message"]


@pytest.mark.parametrize("cmd, args, says", [
    ("flow.add", {"chain": "default", "idle_timeout": float("nan")}, "not 'nan'"),
    ("flow.add", {"chain": "default", "idle_timeout": float("inf")}, "not 'inf'"),
    ("flow.add", {"chain": "default", "sport": (1 << 64) - 1}, "'sport' must be"),
    ("nf.stop", {"id": (1 << 63) - 1}, "'id' must be a whole number from 1 to 63"),
    ("nf.stop", {"id": -(1 << 63)}, "'id' must be"),
    ("capture.start", {"path": "/tmp/x.pcapng", "port": 0, "count": 1 << 63},
     "'count' must be"),
    ("capture.start", {"path": "/tmp/x.pcapng", "port": 0, "seconds": float("nan")},
     "'seconds' must be"),
    ("capture.status", {"id": 0}, "'id' must be"),
    ("service.scale", {"service": 1 << 40, "instances": 1}, "'service' must be"),
    *[("service.scale", {"service": 2, "instances": 1, "nf": "simple_forward", "respawn": True,
                         "respawn_limit": limit},
       "'respawn_limit' must be a whole number from 1 to 1000")
      for limit in (0, -1, 1001, (1 << 63) - 1, -(1 << 63))],
    ("service.scale", {"service": 2, "instances": 1, "nf": "simple_forward", "respawn": True,
                       "respawn_limit": 2.5}, "'respawn_limit' must be int, not float"),
    ("service.scale", {"service": 2, "instances": 1, "nf": "simple_forward", "respawn": "yes"},
     "'respawn' must be bool, not str"),
    ("service.scale", {"service": 2, "instances": 1, "nf": "simple_forward",
                       "respawn_limit": 3}, "respawn_limit goes with respawn: true"),
    ("chain.set", {"name": "x", "hops": [1 << 63]}, "chain hop '9223372036854775808'"),
    ("chain.set", {"name": "x", "hops": "9" * 5000}, "chain hop '999"),
    ("chain.set", {"name": "x", "hops": [1.5]}, "hops:"),
])
def test_out_of_range_arguments_are_bad_args(manager, cmd, args, says):
    with Client(manager.name, timeout=10) as c:
        with pytest.raises(ControlError) as err:
            c.call(cmd, **args)
        assert err.value.code == "bad_args", err.value
        assert says in err.value.message
        assert c.call("status")["name"] == manager.name  # still serving


def test_flow_list_json_stays_valid_json(manager):
    """NaN never gets in, so `flow list --json` is always JSON."""
    import json

    result = run([tool("onvm-ctl"), "--name", manager.name, "--json", "flow", "list"])
    assert result.returncode == 0, result.stderr
    json.loads(result.stdout, parse_constant=lambda c: pytest.fail(f"{c} in the JSON"))


def test_a_client_refuses_to_send_what_msgpack_cannot_carry(manager):
    with Client(manager.name, timeout=10) as c:
        with pytest.raises(ControlError) as err:
            c.call("nf.stop", id=1 << 70)
        assert err.value.code == "bad_args" and "cannot be sent" in err.value.message
