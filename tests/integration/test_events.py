# SPDX-License-Identifier: BSD-3-Clause
"""Events: each kind happens once for real (NFs joining, leaving, crashing,
scaled and restarted; chains and flow rules changed and expiring; a link
going down; a capture starting and ending) and shows up in `events`, in
order, and on the stream that `onvm-ctl events --follow` reads."""

from __future__ import annotations

import json
import signal
import subprocess
import time

import pytest

from tests.support.bpf_programs import VENV_BIN, ctl
from tests.support.harness import wait_until
from tests.support.nf_helpers import pcap_ports
from tests.support.pcaps import mixed_packets

pytestmark = pytest.mark.timeout(120)


def kinds(mgr, since: int = 0) -> list[dict]:
    done = ctl(mgr, "events", "--json")
    assert done.returncode == 0, done.stderr
    return [e for e in json.loads(done.stdout)["events"] if e["seq"] > since]


def wait_event(mgr, kind: str, since: int = 0, **fields) -> dict:
    def found():
        return next((e for e in kinds(mgr, since) if e["kind"] == kind
                     and all(e.get(k) == v for k, v in fields.items())), None)
    return wait_until(found, 20, f"event {kind} {fields}")


def test_each_kind_of_event_once_in_order(tmp_path, start_manager):
    packets = mixed_packets(200, seed=31)
    port0, port1, _, _ = pcap_ports(tmp_path, packets)
    mgr = start_manager("--port", port0, "--port", port1, "--chain", "1,out:1")
    nf = mgr.start_nf("simple_forward", 1)
    joined = wait_event(mgr, "nf.joined", service=1, pid=nf.pid)
    assert joined["name"] == "simple_forward" and joined["time"] <= time.time()

    assert ctl(mgr, "chain", "set", "web", "1,out:0").returncode == 0
    assert wait_event(mgr, "chain.set", name="web")["hops"] == "1,out:0"
    added = ctl(mgr, "--json", "flow", "add", "--dst", "10.0.0.0/8", "--chain", "web")
    rule = json.loads(added.stdout)["id"]
    wait_event(mgr, "flow.added", id=rule)
    assert ctl(mgr, "flow", "delete", str(rule)).returncode == 0
    wait_event(mgr, "flow.deleted", id=rule)
    ctl(mgr, "flow", "add", "--dst", "10.9.0.0/16", "--chain", "web", "--idle-timeout", "0.3")
    wait_event(mgr, "flow.expired", chain="web")
    assert ctl(mgr, "chain", "delete", "web").returncode == 0
    wait_event(mgr, "chain.deleted", name="web")

    assert ctl(mgr, "scale", "2", "--nf", "simple_forward", "--instances", "1",
               "--respawn", "--wait").returncode == 0
    scaled = wait_event(mgr, "service.scaled", service=2)
    assert scaled["instances"] == 1 and len(scaled["started"]) == 1
    child = scaled["started"][0]
    wait_event(mgr, "nf.joined", service=2, pid=child)
    mark = kinds(mgr)[-1]["seq"]
    subprocess.run(["kill", "-9", str(child)], check=True)
    wait_event(mgr, "nf.crashed", mark, pid=child)
    assert wait_event(mgr, "nf.reclaimed", mark, pid=child)["mbufs"] >= 0
    restarted = wait_event(mgr, "nf.restarted", mark, replaces=child)
    wait_event(mgr, "nf.joined", mark, pid=restarted["pid"])
    assert ctl(mgr, "scale", "2", "--instances", "0").returncode == 0
    wait_event(mgr, "nf.left", mark, pid=restarted["pid"])

    out = tmp_path / "cap.pcapng"
    assert ctl(mgr, "capture", "--nf", str(joined["nf"]), "--count", "1", "--seconds", "1",
               "-w", str(out)).returncode == 0
    started = wait_event(mgr, "capture.started")
    ended = wait_event(mgr, "capture.ended", id=started["id"])
    assert ended["state"] == "done"

    nf.signal(signal.SIGTERM)
    assert nf.wait(10) == 0
    wait_event(mgr, "nf.left", pid=nf.pid)
    seqs = [e["seq"] for e in kinds(mgr)]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    last = ctl(mgr, "events", "--count", "2")
    assert last.returncode == 0 and len(last.stdout.strip().splitlines()) == 2
    assert "nf.left" in last.stdout.splitlines()[-1]
    assert mgr.stop() == 0


def test_follow_prints_new_events_as_they_come(tmp_path, start_manager):
    mgr = start_manager()
    follower = subprocess.Popen(
        [str(VENV_BIN / "onvm-ctl"), "--name", mgr.name, "events", "--follow", "--json",
         "--count", "2"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(1.0)  # subscribed
        assert ctl(mgr, "chain", "set", "a", "1").returncode == 0
        assert ctl(mgr, "chain", "set", "b", "2").returncode == 0
        out, err = follower.communicate(timeout=20)
    finally:
        follower.kill()
    assert follower.returncode == 0, err
    names = [json.loads(line)["name"] for line in out.splitlines()
             if json.loads(line)["kind"] == "chain.set"]
    assert names[-2:] == ["a", "b"]
    assert mgr.stop() == 0


def test_a_link_going_down_and_up(tmp_path, start_manager):
    if subprocess.run(["ip", "link", "show"], capture_output=True).returncode != 0:
        pytest.skip("no ip command")
    iface = f"dtap{mgr_suffix(tmp_path)}"
    mgr = start_manager("--port", f"net_tap0,iface={iface}")
    wait_until(lambda: subprocess.run(["ip", "link", "show", iface],
                                      capture_output=True).returncode == 0, 10, "the tap")
    subprocess.run(["ip", "link", "set", "dev", iface, "up"], check=True)
    subprocess.run(["ip", "link", "set", "dev", iface, "down"], check=True)
    down = wait_event(mgr, "port.link", port=0, up=False)
    subprocess.run(["ip", "link", "set", "dev", iface, "up"], check=True)
    wait_event(mgr, "port.link", down["seq"], port=0, up=True)
    assert mgr.stop() == 0


def mgr_suffix(tmp_path) -> str:
    """A short unique part of an interface name (15 characters at most)."""
    return str(abs(hash(str(tmp_path))) % 100000)
