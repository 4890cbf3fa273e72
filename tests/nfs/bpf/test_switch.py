# SPDX-License-Identifier: BSD-3-Clause
"""The eBPF switch example through a real manager: the destination MAC picks
the port from a map that Python, onvm-ctl and fill.py fill."""

from __future__ import annotations

import secrets
import subprocess
import sys
import time

import pytest
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether

from tests.support.bad_input import BIG, Bad, params, run_case
from tests.support.bpf_programs import EXAMPLES, ctl, example, nf_id
from tests.support.control_helpers import client
from tests.support.pcaps import read_pcap, write_pcap

pytestmark = pytest.mark.timeout(90)

HOST_A, HOST_B, HOST_C = "02:00:00:00:00:0a", "02:00:00:00:00:0b", "02:00:00:00:00:0c"


def frames(count: int, hosts=(HOST_A, HOST_B, HOST_C)) -> list[bytes]:
    out = []
    for i in range(count):
        dst = hosts[i % len(hosts)] if i % 10 else "ff:ff:ff:ff:ff:ff"
        out.append(bytes(Ether(src="02:00:00:00:00:01", dst=dst) / IP(dst="10.0.0.1")
                         / UDP(sport=1000 + i, dport=53) / (b"x" * (i % 40))))
    return out


def three_ports(tmp_path, rx: str, infinite: bool = False) -> list[str]:
    """Port 0 replays `rx`; ports 1 and 2 only send (out1.pcap, out2.pcap)."""
    write_pcap(tmp_path / "empty.pcap", [])
    more = ",infinite_rx=1" if infinite else ""
    return ["--port", f"net_pcap0,rx_pcap={rx}{more},tx_pcap={tmp_path}/out0.pcap",
            "--port", f"net_pcap1,rx_pcap={tmp_path}/empty.pcap,tx_pcap={tmp_path}/out1.pcap",
            "--port", f"net_pcap2,rx_pcap={tmp_path}/empty.pcap,tx_pcap={tmp_path}/out2.pcap"]


def test_switch_sends_each_frame_where_its_mac_is(tmp_path, start_manager):
    """A -> port 2, B -> port 0 (back out of its input), C and broadcasts
    are in no map entry and go on along the chain, out of port 1. The chain
    2,1 runs only once simple_forward joins service 2: the map is filled
    before the first frame."""
    obj = example("switch", tmp_path)
    packets = frames(900)
    write_pcap(tmp_path / "in.pcap", packets)
    mgr = start_manager(*three_ports(tmp_path, f"{tmp_path}/in.pcap"), "--chain", "2,1,out:1",
                        "--wait-for-chain")
    nf = mgr.start_nf("bpf", 1, "--", "--program", str(obj))
    ports = client(mgr).bpf(nf_id(mgr, nf)).map("ports")
    ports[f"mac:{HOST_A}"] = "u16:2"
    ports[f"mac:{HOST_B}"] = 0
    mgr.start_nf("simple_forward", 2)
    mgr.wait_stats(lambda s: sum(s["ports"][p]["tx"] for p in "012") == len(packets), 30,
                   "every frame out")
    assert mgr.stop() == 0
    def to(*macs: str, inverse: bool = False) -> list[bytes]:
        return [p for p in packets if (Ether(p).dst in macs) != inverse]

    assert read_pcap(tmp_path / "out2.pcap") == to(HOST_A)
    assert read_pcap(tmp_path / "out0.pcap") == to(HOST_B)
    assert read_pcap(tmp_path / "out1.pcap") == to(HOST_A, HOST_B, inverse=True)


def test_a_map_filled_while_traffic_flows_changes_forwarding(tmp_path, start_manager):
    """Frames to A flow without end; each change of A's entry (Python, then
    onvm-ctl, then fill.py, then a delete) moves them from the next burst."""
    obj = example("switch", tmp_path)
    write_pcap(tmp_path / "in.pcap", frames(64, hosts=(HOST_A,))[1:10])
    mgr = start_manager(*three_ports(tmp_path, f"{tmp_path}/in.pcap", infinite=True),
                        "--chain", "1,out:1", "--wait-for-chain")
    nf = mgr.start_nf("bpf", 1, "--", "--program", str(obj))
    ident = nf_id(mgr, nf)
    ports = client(mgr).bpf(ident).map("ports")

    def moved_to(port: str) -> None:
        """Once the entry is set, every frame goes to `port` alone."""
        time.sleep(0.2)  # bursts in flight when it changed
        before = mgr.stats()["ports"]
        mgr.wait_stats(lambda s: s["ports"][port]["tx"] > before[port]["tx"] + 1000, 30,
                       f"frames out of port {port}")
        after = mgr.stats()["ports"]
        for other in {"0", "1", "2"} - {port}:
            assert after[other]["tx"] == before[other]["tx"], (port, before, after)

    moved_to("1")  # empty map: along the chain
    ports[f"mac:{HOST_A}"] = "u16:2"
    moved_to("2")
    result = ctl(mgr, "bpf", "map", "set", str(ident), "ports", HOST_A, "u16:0")
    assert result.returncode == 0, result.stderr
    moved_to("0")
    script = subprocess.run([sys.executable, str(EXAMPLES / "switch" / "fill.py"), "--name",
                             mgr.name, str(ident), f"{HOST_A}=2", f"{HOST_B}=1"],
                            capture_output=True, text=True, timeout=30)
    assert script.returncode == 0, script.stderr
    assert f"{HOST_A}  2" in script.stdout and f"{HOST_B}  1" in script.stdout
    moved_to("2")
    result = ctl(mgr, "bpf", "map", "delete", str(ident), "ports", f"mac:{HOST_A}")
    assert result.returncode == 0, result.stderr
    moved_to("1")
    dump = ctl(mgr, "bpf", "map", "dump", str(ident), "ports", "--key-type", "mac",
               "--value-type", "u16")
    assert dump.stdout.splitlines()[1:] == [f"mac:{HOST_B}  u16:1"], dump.stdout
    assert mgr.stop() == 0


FILL = ("python", str(EXAMPLES / "switch" / "fill.py"), "--name", "{mgr}")
BAD_ARGS = [
    Bad("entry-without-equals", (*FILL, "1", HOST_A), 2, "is not MAC=PORT"),
    Bad("entry-bad-mac", (*FILL, "1", "02:00:00:00:0a=1"), 2, "is not MAC=PORT"),
    Bad("entry-port-5000-digit", (*FILL, "1", f"{HOST_A}={BIG}"), 2,
        f"the port of {HOST_A}: must be a whole number from 0 to"),
    Bad("entry-port-negative", (*FILL, "1", f"{HOST_A}=-1"), 2, "must be a whole number"),
    Bad("entry-port-nan", (*FILL, "1", f"{HOST_A}=nan"), 2, "must be a whole number"),
    Bad("nf-0", (*FILL, "0", f"{HOST_A}=1"), 2, "NF_ID: must be a whole number from 1 to"),
    Bad("nf-5000-digit", (*FILL, BIG, f"{HOST_A}=1"), 2, "NF_ID: must be a whole number"),
    Bad("no-manager", (*FILL, "1", f"{HOST_A}=1"), 1, "no manager"),
]


@pytest.mark.parametrize("case", params(BAD_ARGS))
def test_fill_py_refuses_bad_arguments(tmp_path, case):
    """One line and a non-zero exit, before anything is set."""
    run_case(case, tmp_path, f"it-none-{secrets.token_hex(4)}")
