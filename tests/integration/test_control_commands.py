# SPDX-License-Identifier: BSD-3-Clause
"""Every control command against a real manager, through the Python
client: replies that match the manager's state, and an error with the
right code for each kind of wrong request."""

from __future__ import annotations

import pytest

from onvm.manager.client import Client
from onvm.manager.protocol import ControlError
from tests.support.control_helpers import client, numbered_packets, pcap_manager
from tests.support.harness import wait_until


def error_code(c, cmd, **args) -> str:
    with pytest.raises(ControlError) as err:
        c.call(cmd, **args)
    assert err.value.message
    return err.value.code


def test_every_command(tmp_path, start_manager):
    mgr = pcap_manager(start_manager, tmp_path, numbered_packets(500))
    nf = mgr.start_nf("simple_forward", 1)
    c = client(mgr)
    wait_until(lambda: c.call("stats")["ports"]["1"]["tx"] == 500, 30, "the pcap to pass")

    assert c.call("version")["protocol"] == 1 and c.call("version")["dpdk"]
    status = c.call("status")
    assert status["name"] == mgr.name and status["ports"] == 3 and status["nfs"] == 1
    assert status["endpoints"]["control"].endswith("control.sock")
    assert {h["cmd"] for h in c.call("help")} >= {
        "version", "status", "port.list", "nf.list", "nf.stop", "service.list",
        "service.scale", "chain.list", "chain.set", "chain.delete", "flow.add",
        "flow.delete", "flow.list", "stats", "stats.reset", "capture.start",
        "capture.status", "capture.stop", "shutdown"}

    ports_ = {p["id"]: p for p in c.call("port.list")}
    assert ports_[0]["rx"] == 500 and ports_[1]["tx"] == 500 and ports_[0]["driver"] == "net_pcap"
    nfs = c.call("nf.list")
    assert len(nfs) == 1 and nfs[0]["pid"] == nf.pid and nfs[0]["rx"] == 500
    assert nfs[0]["state"] == "running" and nfs[0]["service"] == 1 and not nfs[0]["managed"]
    services = c.call("service.list")
    assert services[0]["id"] == 1 and services[0]["nfs"] == [nfs[0]["id"]]
    assert set(services[0]["buckets"]) == {nfs[0]["id"]}

    assert c.call("chain.set", name="web", hops=[1, "out:2"])["hops"] == "1,out:2"
    assert c.call("chain.set", name="default", hops="out:2")["id"] == 0
    rule = c.call("flow.add", src="10.0.0.0/8", proto=6, sport="1000-2000", chain="web",
                  idle_timeout=30)
    v6 = c.call("flow.add", dst="2001:db8::/32", proto="udp", chain="web")
    assert [r["id"] for r in c.call("flow.list")] == [rule["id"], v6["id"]]
    assert rule["sport"] == "1000-2000" and rule["proto"] == 6
    chains = {ch["name"]: ch for ch in c.call("chain.list")}
    assert chains["web"]["flow_rules"] == 2 and chains["default"]["hops"] == "out:2"
    assert error_code(c, "chain.delete", name="web") == "conflict"
    assert error_code(c, "chain.delete", name="default") == "conflict"
    c.call("flow.delete", id=rule["id"])
    c.call("flow.delete", id=v6["id"])
    assert c.call("chain.delete", name="web")["name"] == "web"
    assert c.call("flow.list") == []

    snap = c.call("stats")
    assert snap["ports"]["0"]["rx"] == 500
    c.call("stats.reset")
    assert c.call("stats")["ports"]["0"]["rx"] == 0
    stream = Client(mgr.name, timeout=5)
    try:
        assert "pool" in next(stream.stats_stream(timeout=5))
    finally:
        stream.close()

    assert c.call("nf.stop", id=nfs[0]["id"])["stopping"]
    assert nf.wait(20) == 0
    wait_until(lambda: c.call("nf.list") == [], 20, "the NF to leave")
    assert c.call("shutdown")["stopping"]
    assert mgr.wait(30) == 0


def test_wrong_requests_get_the_right_error(tmp_path, start_manager):
    mgr = start_manager()
    c = client(mgr)
    assert error_code(c, "no.such.command") == "unknown_command"
    assert error_code(c, "status", extra=1) == "bad_args"
    assert error_code(c, "nf.stop") == "bad_args"
    assert error_code(c, "nf.stop", id="1") == "bad_args"
    assert error_code(c, "nf.stop", id=True) == "bad_args"
    assert error_code(c, "nf.stop", id=5) == "not_found"
    assert error_code(c, "chain.set", name="bad name", hops="1") == "bad_args"
    assert error_code(c, "chain.set", name="x", hops="1,out:9") == "bad_args"
    assert error_code(c, "chain.set", name="x", hops="") == "bad_args"
    assert error_code(c, "chain.delete", name="nope") == "not_found"
    assert error_code(c, "flow.add", chain="nope") == "not_found"
    assert error_code(c, "flow.add", chain="default", src="10.0.0.0/40") == "bad_args"
    assert error_code(c, "flow.add", chain="default", src="10.0.0.1", dst="::1") == "bad_args"
    assert error_code(c, "flow.add", chain="default", dport="80-20") == "bad_args"
    assert error_code(c, "flow.add", chain="default", proto="gre") == "bad_args"
    assert error_code(c, "flow.add", chain="default", idle_timeout=-1) == "bad_args"
    assert error_code(c, "flow.delete", id=99) == "not_found"
    assert error_code(c, "capture.status") == "not_found"
    assert error_code(c, "capture.stop") == "not_found"
    # Still answering, and a unreachable manager is told apart from errors.
    assert c.call("status")["name"] == mgr.name
    with pytest.raises(ControlError) as err:
        Client("no-such-manager")
    assert err.value.code == "unreachable"
