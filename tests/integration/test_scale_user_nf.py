# SPDX-License-Identifier: BSD-3-Clause
"""Scaling a user's own NF: a Python file and a C binary named by their
paths, with their arguments; packets through every instance, then none
left. With --respawn, a crashed instance comes back after its backoff, up
to its limit; one that exits 0 or is scaled down does not. A path that
cannot run is one line and starts nothing."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections import defaultdict

import pytest
from scapy.layers.inet import IP
from scapy.layers.l2 import Ether

from onvm import bundled
from onvm.manager.bringup.runtime import runtime_dir
from onvm.manager.client import Client
from onvm.manager.protocol import ControlError
from tests.support.bad_input import one_line, run
from tests.support.control_helpers import client
from tests.support.harness import Manager, tool, wait_until
from tests.support.nf_helpers import chain_manager
from tests.support.pcaps import flow_id, flow_packets, read_pcap

pytestmark = pytest.mark.timeout(60)

# Lowers the IPv4 TTL by its one argument: what comes out shows that every
# packet went through it and that its arguments reached it.
TTL_NF = '''\
from onvm.nflib import NEXT, NF, main


def run():
    nf = NF(name="ttl_by")
    by = int(nf.args[0])

    @nf.packet_handler
    def lower_ttl(pkt):
        ip = pkt.ipv4
        if ip is not None:
            ip.ttl -= by
            pkt.fix_checksums()
        return NEXT

    nf.run()


if __name__ == "__main__":
    raise SystemExit(main(run))
'''

# Forwards, and leaves (exit code 0) when told "quit".
QUITTER_NF = '''\
from onvm.nflib import NEXT, NF, main


def run():
    nf = NF(name="quitter")

    @nf.packet_handler
    def forward(pkt):
        return NEXT

    @nf.message_handler
    def on_message(msg):
        if msg.data == b"quit":
            nf.stop()
        return b"ok"

    nf.run()


if __name__ == "__main__":
    raise SystemExit(main(run))
'''


def service(c, service_id: int) -> dict:
    found = [s for s in c.call("service.list") if s["id"] == service_id]
    return found[0] if found else {"id": service_id, "instances": 0, "nfs": [], "restarts": 0,
                                   "respawn": None, "exited": []}


def wait_service(c, service_id: int, what: str, check) -> dict:
    def ready():
        s = service(c, service_id)
        return s if check(s) else None

    return wait_until(ready, 30, f"service {service_id} {what}")


def pids(c, service_id: int) -> set[int]:
    return {n["pid"] for n in c.call("nf.list") if n["service"] == service_id}


def ttl_lowered(raw: bytes, by: int) -> bytes:
    pkt = Ether(raw)
    if IP in pkt:
        pkt[IP].ttl -= by
        del pkt[IP].chksum
    return bytes(pkt)


def by_flow(frames: list[bytes]) -> dict[int, list[bytes]]:
    """Frames per flow, in order: one flow stays on one instance."""
    flows = defaultdict(list)
    for raw in frames:
        flows[flow_id(raw)].append(raw)
    return dict(flows)


def through_both_instances(c, mgr: Manager, packets: list[bytes]) -> list[dict]:
    """With the scaled service 1 at two instances, start the chain's other
    hop (service 2) so the ports open; returns the two instances' rows once
    every packet went out of port 1."""
    wait_service(c, 1, "to have 2 instances", lambda s: s["instances"] == 2)
    mgr.start_nf("simple_forward", 2)  # the ports wait for it
    mgr.wait_stats(lambda s: s["ports"]["1"]["tx"] == len(packets), 30, "every packet out")
    rows = [n for n in c.call("nf.list") if n["service"] == 1]
    assert len(rows) == 2 and all(n["managed"] for n in rows)
    assert all(n["rx"] > 0 for n in rows), rows  # the flows spread over both
    assert sum(n["rx"] for n in rows) == len(packets)
    return rows


def scale_to_zero(c, mgr: Manager, service_id: int) -> None:
    before = pids(c, service_id)
    assert len(c.call("service.scale", service=service_id, instances=0)["stopping"]) == len(
        before)
    wait_service(c, service_id, "to have no instances",
                 lambda s: s["instances"] == 0 and not s.get("starting"))
    wait_until(lambda: not any(os.path.exists(f"/proc/{p}") for p in before), 10,
               "the instances' processes to end")
    mgr.wait_stats(lambda s: s["pool"]["available"] == s["pool"]["size"], 10,
                   "the pool to be full again")


def test_scale_a_users_python_nf_file(tmp_path, start_manager):
    """`onvm-ctl scale 1 --nf ./ttl_by.py --instances 2 -- 3`, run in the
    file's directory: the manager gets its absolute path."""
    packets = flow_packets(2000, flows=64)
    (tmp_path / "ttl_by.py").write_text(TTL_NF)
    mgr = chain_manager(start_manager, tmp_path, packets, "1,2,out:1")
    c = client(mgr)
    done = subprocess.run([tool("onvm-ctl"), "--name", mgr.name, "scale", "1", "--nf",
                           "./ttl_by.py", "--instances", "2", "--wait", "--", "3"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=40,
                          stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr
    assert f"started {tmp_path}/ttl_by.py pid " in done.stdout
    rows = through_both_instances(c, mgr, packets)
    assert {n["name"] for n in rows} == {"ttl_by"}
    out = read_pcap(tmp_path / "out1.pcap")
    assert by_flow(out) == by_flow([ttl_lowered(p, 3) for p in packets])
    scale_to_zero(c, mgr, 1)
    assert mgr.stop() == 0


def test_scale_a_users_c_nf_binary(tmp_path, start_manager):
    """A built C NF copied under the user's own name, given `--out 1`: the
    chain 2,1 ends at it, so a packet out of port 1 went where it sent it."""
    binary = tmp_path / "my_forward"
    shutil.copy2(bundled.c_nf_binary("simple_forward"), binary)
    packets = flow_packets(2000, flows=64)
    mgr = chain_manager(start_manager, tmp_path, packets, "2,1")
    c = client(mgr)
    up = c.call("service.scale", service=1, instances=2, nf=str(binary),
                nf_args=["--nf-name", "my_forward", "--", "--out", "1"])
    assert [s["nf"] for s in up["started"]] == [str(binary)] * 2
    rows = through_both_instances(c, mgr, packets)
    assert {n["name"] for n in rows} == {"my_forward"}
    assert by_flow(read_pcap(tmp_path / "out1.pcap")) == by_flow(packets)
    scale_to_zero(c, mgr, 1)
    assert mgr.stop() == 0


def test_respawn_restarts_a_killed_instance_up_to_its_limit(tmp_path, start_manager):
    nf_file = tmp_path / "quitter.py"
    nf_file.write_text(QUITTER_NF)
    mgr = start_manager()
    c = client(mgr)
    up = c.call("service.scale", service=3, instances=1, nf=str(nf_file), respawn=True,
                respawn_limit=1)
    assert up["respawn"]["limit"] == 1 and up["restarts"] == 0
    wait_service(c, 3, "to run", lambda s: s["instances"] == 1)
    (victim,) = pids(c, 3)
    os.kill(victim, signal.SIGKILL)
    again = wait_service(c, 3, "to run a restarted instance",
                         lambda s: s["instances"] == 1 and s["restarts"] == 1)
    (second,) = pids(c, 3)
    assert second != victim
    assert any(e["pid"] == victim and e["code"] == -signal.SIGKILL for e in again["exited"])
    assert again["respawn"]["gave_up"] == ""
    snap = mgr.stats()
    assert snap["crashed_nfs"] == 1

    os.kill(second, signal.SIGKILL)  # past the limit of 1 restart a minute
    gave_up = wait_service(c, 3, "to give up", lambda s: s["respawn"]["gave_up"])
    assert f"(pid {second}) was killed by SIGKILL after 1 restart(s) in 60 s" in \
        gave_up["respawn"]["gave_up"]
    time.sleep(2.0)  # twice the backoff a second restart would have waited
    after = service(c, 3)
    assert (after["instances"], after["starting"], after["restarts"]) == (0, 0, 1)
    assert pids(c, 3) == set()
    lines = [ln for ln in mgr.output().splitlines() if "not restarting it again" in ln]
    assert len(lines) == 1, lines
    out = run([tool("onvm-ctl"), "--name", mgr.name, "service", "list"]).stdout
    assert out.splitlines()[1].split()[-3:] == ["1", "gave", "up"], out
    mgr.wait_stats(lambda s: s["pool"]["available"] == s["pool"]["size"], 10,
                   "the pool to be full again")
    assert mgr.stop() == 0


def test_respawn_leaves_instances_that_exit_0_or_are_scaled_down(tmp_path, start_manager):
    nf_file = tmp_path / "quitter.py"
    nf_file.write_text(QUITTER_NF)
    mgr = start_manager()
    c = client(mgr)
    c.call("service.scale", service=4, instances=3, nf=str(nf_file), respawn=True)
    running = wait_service(c, 4, "to run 3", lambda s: s["instances"] == 3)
    leaving = running["nfs"][0]
    (leaving_pid,) = [n["pid"] for n in c.call("nf.list") if n["id"] == leaving]
    c.message("quit", nf=leaving)
    wait_service(c, 4, "to lose the one that quit",
                 lambda s: any(e["pid"] == leaving_pid and e["code"] == 0 for e in s["exited"]))
    # Scaled down with the policy still on: the one stopped is not a crash.
    down = c.call("service.scale", service=4, instances=1, respawn=True)
    assert len(down["stopping"]) == 1
    time.sleep(1.5)  # longer than the first backoff
    after = service(c, 4)
    assert (after["instances"], after["starting"], after["restarts"]) == (1, 0, 0)
    assert after["respawn"]["recent"] == 0
    assert [e["code"] for e in after["exited"]] == [0]  # the scaled-down one, since that scale
    assert "scale: restart" not in mgr.output()
    assert mgr.stop() == 0  # nor at shutdown
    assert "scale: restart" not in mgr.output()


# ---- a path that cannot run ----

@pytest.fixture(scope="module")
def manager(tmp_path_factory):
    mgr = Manager(tmp_path_factory.mktemp("scale-paths"), ["--port", "net_null0,no-rx=1"])
    try:
        yield mgr.wait_ready()
        assert mgr.stop() == 0
    finally:
        mgr.cleanup()


def _not_executable(tmp):
    (tmp / "my_nf").write_text("#!/bin/sh\n")
    return "./my_nf"


def _py_directory(tmp):
    (tmp / "my_nf.py").mkdir()
    return "./my_nf.py"


def _py_fifo(tmp):
    os.mkfifo(tmp / "my_nf.py")
    return "./my_nf.py"


def _py_without_slash(tmp):
    """A name without a '/' is a bundled NF's: the line says how to name a path."""
    (tmp / "my_nf.py").write_text(QUITTER_NF)
    return "my_nf.py"


@pytest.mark.parametrize("make, code, says", [
    (lambda tmp: "./nope.py", "not_found", "no NF file '{tmp}/nope.py'"),
    (lambda tmp: "./nope", "not_found", "no NF file '{tmp}/nope'"),
    (lambda tmp: ".", "bad_args", "'{tmp}' is a directory: give the NF's .py file"),
    (lambda tmp: "..", "bad_args", "'{parent}' is a directory"),
    (_not_executable, "bad_args", "'{tmp}/my_nf' is not executable: chmod +x it"),
    (_py_directory, "bad_args", "'{tmp}/my_nf.py' is a directory"),
    (_py_fifo, "bad_args", "'{tmp}/my_nf.py' is not a regular file"),
    (_py_without_slash, "not_found", "no bundled NF 'my_nf.py' (bundled: "),
], ids=["missing-py", "missing-binary", "directory", "parent-directory", "not-executable",
        "py-directory", "py-fifo", "py-without-slash"])
def test_a_path_that_cannot_run_is_one_line_and_starts_nothing(manager, tmp_path, make, code,
                                                               says):
    name = make(tmp_path)
    logs = set(runtime_dir(manager.name).glob("nf-*.log"))
    result = run([tool("onvm-ctl"), "--name", manager.name, "scale", "5", "--nf", name,
                  "--instances", "2", "--respawn"], cwd=tmp_path)
    line = one_line(result, 1, f"({code})")
    assert says.format(tmp=tmp_path, parent=tmp_path.parent) in line, line
    with Client(manager.name, timeout=10) as c:
        assert [s for s in c.call("service.list") if s["id"] == 5] == []
    assert set(runtime_dir(manager.name).glob("nf-*.log")) == logs
    assert manager.alive()


def test_a_relative_path_over_the_protocol_is_refused(manager):
    with Client(manager.name, timeout=10) as c:
        with pytest.raises(ControlError) as err:
            c.call("service.scale", service=5, instances=1, nf="nfs/my_nf.py")
    assert err.value.code == "bad_args"
    assert "'nfs/my_nf.py' is a relative path: give the NF's absolute path" in err.value.message


def test_over_tcp_scale_starts_only_bundled_nfs(tmp_path, start_manager):
    """An authenticated remote client names a bundled NF; a file of the
    manager's host it may not (a capture over TCP likewise stays in the
    capture directory)."""
    from tests.integration.test_control_robust import free_tcp_port, make_keys
    from tests.support.control_helpers import OPEN_CLIENTS

    keys = make_keys(tmp_path / "keys")
    port = free_tcp_port()
    mgr = start_manager("--control-tcp", f"127.0.0.1:{port}", "--curve-keys", str(keys))
    remote = Client(mgr.name, f"tcp://127.0.0.1:{port}", timeout=10,
                    server_key=keys / "server.key", client_key=keys / "client.key_secret")
    OPEN_CLIENTS.append(remote)
    nf_file = tmp_path / "quitter.py"
    nf_file.write_text(QUITTER_NF)
    for nf in (str(nf_file), str(bundled.c_nf_binary("simple_forward"))):
        with pytest.raises(ControlError) as err:
            remote.call("service.scale", service=6, instances=1, nf=nf)
        assert err.value.code == "bad_args"
        assert "over TCP 'nf' names a bundled NF, not a path" in err.value.message
    assert service(remote, 6)["instances"] == 0 and pids(remote, 6) == set()
    remote.call("service.scale", service=6, instances=1, nf="simple_forward")
    wait_service(remote, 6, "to run", lambda s: s["instances"] == 1)
    assert mgr.stop() == 0
