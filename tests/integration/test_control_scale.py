# SPDX-License-Identifier: BSD-3-Clause
"""Scaling a service over the control protocol while packets loop through
it: the manager starts and stops the instances, traffic goes on, and flows
move only as far as they must."""

from __future__ import annotations

from tests.support.control_helpers import client
from tests.support.harness import wait_until


def service(c, service_id: int) -> dict:
    found = [s for s in c.call("service.list") if s["id"] == service_id]
    return found[0] if found else {"instances": 0, "nfs": [], "buckets": []}


def wait_instances(c, service_id: int, n: int) -> dict:
    return wait_until(lambda: (s := service(c, service_id))["instances"] == n and s, 30,
                      f"service {service_id} to have {n} instances")


def loop_rx(c, pid: int) -> int:
    return next(n["rx"] for n in c.call("nf.list") if n["pid"] == pid)


def test_scale_up_and_down_under_traffic(tmp_path, start_manager):
    mgr = start_manager()
    c = client(mgr)
    first = c.call("service.scale", service=2, instances=1, nf="simple_forward",
                   nf_args=["--dest", "1"])
    assert len(first["started"]) == 1
    one = wait_instances(c, 2, 1)
    tester = mgr.start_nf("speed_tester", 1, "--", "--dest", "2", "--packets", "512")

    up = c.call("service.scale", service=2, instances=3, nf="simple_forward",
                nf_args=["--dest", "1"])
    assert up["had"] == 1 and len(up["started"]) == 2
    three = wait_instances(c, 2, 3)
    # The first instance gave up buckets only to the new ones; none moved
    # between the new ones and nothing else changed owner.
    moved = [b for b, (was, now) in enumerate(zip(one["buckets"], three["buckets"], strict=True))
             if was != now]
    assert all(three["buckets"][b] in three["nfs"][1:] for b in moved)
    assert len(moved) == len([n for n in three["buckets"] if n != one["nfs"][0]])
    assert set(three["buckets"]) == set(three["nfs"])
    nfs = {n["id"]: n for n in c.call("nf.list")}
    assert all(nfs[i]["managed"] for i in three["nfs"])
    wait_until(lambda: all(n["rx"] > 1000 for n in c.call("nf.list") if n["service"] == 2),
               30, "every instance to take packets")

    down = c.call("service.scale", service=2, instances=2)
    assert len(down["stopping"]) == 1
    two = wait_instances(c, 2, 2)
    gone = down["stopping"][0]["id"]
    assert gone not in two["nfs"]
    # Only the buckets of the instance that left changed owner.
    for b, (was, now) in enumerate(zip(three["buckets"], two["buckets"], strict=True)):
        assert was == now or was == gone, f"bucket {b} moved from {was} to {now}"
    before = loop_rx(c, tester.pid)
    wait_until(lambda: loop_rx(c, tester.pid) > before + 100_000, 30,
               "packets to keep looping after scaling down")
    snap = c.call("stats")
    assert snap["dataplane"]["no_dest"] == 0 and snap["dataplane"]["ring_full_drop"] == 0

    assert c.call("service.scale", service=2, instances=0)["stopping"]
    wait_instances(c, 2, 0)


def test_scale_errors(tmp_path, start_manager):
    mgr = start_manager()
    c = client(mgr)
    for args, code in [
        ({"service": 2, "instances": 1}, "bad_args"),  # up, but which NF?
        ({"service": 2, "instances": 1, "nf": "no_such_nf"}, "not_found"),
        ({"service": 0, "instances": 1, "nf": "simple_forward"}, "bad_args"),
        ({"service": 2, "instances": 99, "nf": "simple_forward"}, "bad_args"),
        ({"service": "2", "instances": 1}, "bad_args"),
    ]:
        try:
            c.call("service.scale", **args)
        except Exception as e:
            assert getattr(e, "code", None) == code, (args, e)
        else:
            raise AssertionError(f"{args} was accepted")
