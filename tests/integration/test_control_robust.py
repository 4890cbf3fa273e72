# SPDX-License-Identifier: BSD-3-Clause
"""The control server under attack and misuse: CURVE keeps out clients
without a trusted key, and thousands of malformed frames, oversized ones
and vanishing clients leave the manager answering and forwarding."""

from __future__ import annotations

import random
import socket
import time

import msgpack
import pytest
import zmq
import zmq.auth

from onvm.manager.client import Client
from onvm.manager.protocol import ControlError, pack
from tests.support.control_helpers import OPEN_CLIENTS, client
from tests.support.harness import wait_until


def free_tcp_port(pairs: int = 2) -> int:
    """A port P with P and P + 1 free on loopback (control and stats)."""
    for _ in range(50):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        try:
            with socket.socket() as s:
                s.bind(("127.0.0.1", port + 1))
            return port
        except OSError:
            continue
    raise RuntimeError("no free pair of TCP ports")


def make_keys(base):
    base.mkdir()
    (base / "authorized").mkdir()
    zmq.auth.create_certificates(base, "server")
    zmq.auth.create_certificates(base, "client")
    zmq.auth.create_certificates(base, "intruder")
    (base / "authorized" / "client.key").write_bytes((base / "client.key").read_bytes())
    return base


def test_curve_admits_trusted_keys_only(tmp_path, start_manager):
    keys = make_keys(tmp_path / "keys")
    port = free_tcp_port()
    mgr = start_manager("--control-tcp", f"127.0.0.1:{port}", "--curve-keys", str(keys))
    endpoint = f"tcp://127.0.0.1:{port}"
    trusted = Client(mgr.name, endpoint, timeout=10, server_key=keys / "server.key",
                     client_key=keys / "client.key_secret")
    OPEN_CLIENTS.append(trusted)
    assert trusted.call("status")["name"] == mgr.name
    snap = next(trusted.stats_stream(timeout=10))
    assert "ports" in snap and "nfs" in snap

    intruder = Client(mgr.name, endpoint, timeout=1.5, server_key=keys / "server.key",
                      client_key=keys / "intruder.key_secret")
    plain = Client(mgr.name, endpoint, timeout=1.5)
    OPEN_CLIENTS.extend([intruder, plain])
    for refused in (intruder, plain):
        with pytest.raises(ControlError) as err:
            refused.call("status")
        assert err.value.code == "timeout"
    assert trusted.call("version")["protocol"] == 1


def test_tcp_without_keys_is_refused_at_start(tmp_path, start_manager):
    mgr = start_manager("--control-tcp", "5999", wait=False)
    code = mgr.wait(30)
    assert code == 2, mgr.output()
    assert "needs CURVE keys" in mgr.output()
    assert "Traceback" not in mgr.output()


def junk_frames(rng: random.Random, count: int) -> list[list[bytes]]:
    """Malformed requests of every kind, some of them near-valid."""
    valid = pack({"v": 1, "cmd": "status", "args": {}, "id": 1})
    kinds = [
        lambda: [rng.randbytes(rng.randint(0, 300))],
        lambda: [valid[: rng.randint(0, len(valid) - 1)]],  # truncated
        lambda: [bytes(b ^ (1 << rng.randint(0, 7)) if rng.random() < 0.2 else b
                       for b in valid)],  # bit flips
        lambda: [pack(rng.choice([1, "status", [1, 2], None, True, 3.5, b"x"]))],
        lambda: [pack({"v": 1, "cmd": rng.choice([None, 7, "", "nope", [1]]), "id": 2})],
        lambda: [pack({"v": rng.choice([0, 2, "1", None]), "cmd": "status", "id": 3})],
        lambda: [pack({"v": 1, "cmd": "chain.set", "args": {"name": 5, "hops": {}}, "id": 4})],
        lambda: [pack({"v": 1, "cmd": "flow.add", "args": rng.choice(
            [{"chain": "x", "dport": "99999"}, {"chain": 1}, [], {"src": "1.2.3.4/99"}])})],
        lambda: [pack({"v": 1, "cmd": "capture.start", "args": {"path": "x", "port": -1}})],
        lambda: [pack({1: 2, "v": 1})],  # non-string key
        lambda: [b"", b"", b"more", b"frames"],
        lambda: [msgpack.packb([0] * 10) + b"trailing"],
    ]
    return [rng.choice(kinds)() for _ in range(count)]


def test_malformed_frame_flood_while_traffic_flows(tmp_path, start_manager):
    mgr = start_manager()
    mgr.start_nf("simple_forward", 2, "--dest", "1")
    tester = mgr.start_nf("speed_tester", 1, "--", "--dest", "2", "--packets", "512")
    c = client(mgr)
    endpoint = f"ipc:///run/onvm/{mgr.name}/control.sock"
    ctx = zmq.Context()
    try:
        rng = random.Random(7)
        dealers = [ctx.socket(zmq.DEALER) for _ in range(4)]
        for d in dealers:
            d.setsockopt(zmq.LINGER, 0)
            d.connect(endpoint)
        sent = 0
        for frames in junk_frames(rng, 6000):
            rng.choice(dealers).send_multipart(frames)
            sent += 1
            if sent % 1000 == 0:  # answers correctly in the middle of the flood
                assert c.call("status")["name"] == mgr.name
        # Oversized frames: the server drops the connection, nothing else.
        big = ctx.socket(zmq.DEALER)
        big.setsockopt(zmq.LINGER, 0)
        big.connect(endpoint)
        for _ in range(5):
            big.send(b"\x92" + b"\xa1x" * 200_000)
        # Clients that vanish without reading, and one that never reads.
        for _ in range(50):
            gone = ctx.socket(zmq.DEALER)
            gone.setsockopt(zmq.LINGER, 0)
            gone.connect(endpoint)
            for _ in range(20):
                gone.send(pack({"v": 1, "cmd": "stats", "id": 1}))
            gone.close()
        deaf = ctx.socket(zmq.DEALER)
        deaf.setsockopt(zmq.LINGER, 0)
        deaf.connect(endpoint)
        for _ in range(3000):
            try:
                deaf.send(pack({"v": 1, "cmd": "stats"}), zmq.NOBLOCK)
            except zmq.Again:  # its queues are full: the server stopped reading it
                break
        # Replies to junk carry error codes, never results.
        replies = []
        while dealers[0].poll(500):
            replies.append(msgpack.unpackb(dealers[0].recv_multipart()[-1]))
        assert replies and all(r["ok"] is False or r["id"] == 1 for r in replies)
        codes = {r["error"]["code"] for r in replies if not r["ok"]}
        assert codes <= {"bad_request", "unsupported_version", "unknown_command", "bad_args",
                         "not_found"}, codes
        assert "bad_request" in codes
    finally:
        ctx.destroy(linger=0)
    assert c.call("status")["name"] == mgr.name
    assert mgr.alive()
    before = mgr.nf_stats(mgr.stats(), tester)["rx"]
    wait_until(lambda: mgr.nf_stats(mgr.stats(), tester)["rx"] > before + 100_000, 20,
               "packets to keep looping after the flood")
    assert "Traceback" not in mgr.output()


def test_prometheus_serves_the_counters(tmp_path, start_manager):
    port = free_tcp_port()
    mgr = start_manager("--prometheus", f"127.0.0.1:{port}")
    mgr.start_nf("simple_forward", 2, "--dest", "1")
    mgr.start_nf("speed_tester", 1, "--", "--dest", "2", "--packets", "256")
    from urllib.request import urlopen

    from prometheus_client.parser import text_string_to_metric_families

    def scrape() -> dict:
        text = urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
        return {(s.name, s.labels.get("nf_name", "")): s.value
                for fam in text_string_to_metric_families(text) for s in fam.samples}

    key = ("onvm_nf_rx_packets_total", "speed_tester")
    first = wait_until(lambda: (found := scrape()).get(key) and found, 20,
                       "speed_tester's counters in the metrics")
    assert first[("onvm_up", "")] == 1
    time.sleep(0.5)
    second = scrape()
    assert second[key] > first[key] > 0
    assert second[("onvm_pool_mbufs", "")] > 0
