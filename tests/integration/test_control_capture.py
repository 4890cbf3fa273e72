# SPDX-License-Identifier: BSD-3-Clause
"""Capture over the control protocol: pcapng files of a port's RX and TX
and of an NF's input and output, read back with tshark and scapy."""

from __future__ import annotations

import shutil
import subprocess
import time

import pytest
from scapy.utils import rdpcap

from tests.support.control_helpers import (
    client,
    numbered_packets,
    pcap_manager,
    seq_of,
    start_slow_forward,
)
from tests.support.harness import wait_until

PACKETS = 80_000  # at the slow NF's pace, traffic outlasts the captures


def capture(c, path, **target) -> dict:
    c.call("capture.start", path=str(path), **target)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        status = c.call("capture.status")
        if status["state"] in ("done", "failed"):
            return status
        time.sleep(0.05)
    raise TimeoutError(f"capture of {target} did not finish: {status}")


def tshark_lengths(path) -> list[int]:
    out = subprocess.run(["tshark", "-r", str(path), "-T", "fields", "-e", "frame.len"],
                         capture_output=True, text=True, timeout=60, check=True).stdout
    return [int(x) for x in out.split()]


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")
def test_capture_at_ports_and_nf_in_and_out(tmp_path, start_manager):
    packets = numbered_packets(PACKETS)
    mgr = pcap_manager(start_manager, tmp_path, packets)
    c = client(mgr)
    start_slow_forward(mgr, 1, 0.002)
    nf_id = c.call("nf.list")[0]["id"]
    targets = {
        "port0_rx": {"port": 0, "direction": "rx"},
        "nf_in": {"nf": nf_id, "direction": "in"},
        "nf_out": {"nf": nf_id, "direction": "out"},
        "port1_tx": {"port": 1, "direction": "tx"},
    }
    wait_until(lambda: c.call("stats")["ports"]["1"]["tx"] > 0, 30, "traffic out of port 1")
    timed = capture(c, tmp_path / "timed.pcapng", port=1, direction="tx", seconds=1.0)
    assert timed["state"] == "done" and timed["packets"] > 0
    assert len(tshark_lengths(tmp_path / "timed.pcapng")) == timed["packets"]
    results = {}
    for label, target in targets.items():
        path = tmp_path / f"{label}.pcapng"
        status = capture(c, path, count=300, **target)
        assert status["state"] == "done", status
        assert status["packets"] == 300 and status["missed"] == 0, status
        results[label] = path
    by_seq = {seq_of(p): p for p in packets}
    for label, path in results.items():
        frames = [bytes(p) for p in rdpcap(str(path))]
        assert len(frames) == 300
        seqs = [seq_of(f) for f in frames]
        # 300 consecutive packets of the stream, unchanged and in order.
        assert seqs == list(range(seqs[0], seqs[0] + 300)), label
        assert all(f == by_seq[s] for f, s in zip(frames, seqs, strict=True)), label
        assert tshark_lengths(path) == [len(f) for f in frames]



def test_capture_errors(tmp_path, start_manager):
    packets = numbered_packets(100)
    mgr = pcap_manager(start_manager, tmp_path, packets)
    c = client(mgr)
    cases = [
        ({"path": str(tmp_path / "x.pcapng"), "port": 7, "count": 1}, "not_found"),
        ({"path": str(tmp_path / "x.pcapng"), "nf": 9, "count": 1}, "not_found"),
        ({"path": str(tmp_path / "x.pcapng"), "port": 0, "nf": 1, "count": 1}, "bad_args"),
        ({"path": "relative.pcapng", "port": 0, "count": 1}, "bad_args"),
        ({"path": str(tmp_path / "x.pcapng"), "port": 0}, "bad_args"),  # no limit
        ({"path": str(tmp_path / "x.pcapng"), "port": 0, "direction": "in", "count": 1},
         "bad_args"),
        ({"path": "/proc/nope/x.pcapng", "port": 0, "count": 1}, "bad_args"),
    ]
    for args, code in cases:
        with pytest.raises(Exception) as err:
            c.call("capture.start", **args)
        assert getattr(err.value, "code", None) == code, (args, err.value)
    c.call("capture.start", path=str(tmp_path / "long.pcapng"), port=0, seconds=60)
    with pytest.raises(Exception) as err:
        c.call("capture.start", path=str(tmp_path / "y.pcapng"), port=1, count=5)
    assert err.value.code == "busy"
    stopped = c.call("capture.stop")
    assert stopped["state"] in ("draining", "done")
