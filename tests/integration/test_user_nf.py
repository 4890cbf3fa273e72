# SPDX-License-Identifier: BSD-3-Clause
"""A user's own NF files, run the two ways a user runs them: through
onvm-nf and with a plain interpreter; and a handler that raises."""

from __future__ import annotations

import re
import subprocess

import pytest
from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import ARP, Dot1Q, Ether
from scapy.packet import Raw

from tests.support.harness import tool
from tests.support.nf_helpers import (
    PYTHON,
    assert_one_error_line,
    chain_manager,
    start_nf_argv,
    start_nf_file,
)
from tests.support.pcaps import mixed_packets, read_pcap

pytestmark = pytest.mark.timeout(60)

TTL_NF = '''\
from onvm.nflib import DROP, NEXT, NF

nf = NF(name="ttl")


@nf.packet_handler
def decrement_ttl(pkt):
    ip = pkt.ipv4
    if ip is None:
        return NEXT
    if ip.ttl <= 1:
        return DROP
    ip.ttl -= 1
    pkt.fix_checksums()
    return NEXT


nf.run()
'''

NO_UDP_NF = '''\
import numpy as np

from onvm.nflib import DROP, NEXT, NF

nf = NF(name="no_udp")


@nf.vector_handler
def drop_udp(batch):
    return np.where(batch.proto == 17, DROP, NEXT)


nf.run()
'''

RAISING_NF = '''\
from onvm.nflib import NEXT, NF, main


def run():
    nf = NF(name="raiser")
    seen = [0]

    @nf.packet_handler
    def fail_on_the_100th(pkt):
        seen[0] += 1
        if seen[0] == 100:
            raise ValueError("no packet 100 for me")
        return NEXT

    nf.run()


if __name__ == "__main__":
    raise SystemExit(main(run))
'''


def ttl_traffic() -> list[bytes]:
    """IPv4 with every interesting TTL (tagged too), and packets without one."""
    eth = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
    out = []
    for i in range(400):
        ttl = [0, 1, 2, 3, 64, 128, 255][i % 7]
        ip = IP(src=f"10.0.{i % 5}.1", dst="10.9.0.1", ttl=ttl, id=i)
        l4 = [TCP(sport=1000 + i, dport=80, flags="A"), UDP(sport=1000 + i, dport=53),
              ICMP(id=i, seq=i)][i % 3]
        pkt = eth / Dot1Q(vlan=12) / ip / l4 if i % 11 == 0 else eth / ip / l4
        out.append(bytes(pkt / Raw(bytes(range(i % 200)))))
        if i % 10 == 0:
            out.append(bytes(eth / IPv6(src="2001:db8::1", dst="2001:db8::2", hlim=1)
                             / UDP(sport=1, dport=2)))
            out.append(bytes(eth / ARP(pdst="10.9.0.1")))
    return [p + b"\x00" * (60 - len(p)) for p in out]


def after_ttl_nf(raw: bytes) -> bytes | None:
    """What a router hop makes of a frame, by scapy: None if dropped."""
    pkt = Ether(raw)
    ip = pkt.getlayer(IP)
    if ip is None:
        return raw
    if ip.ttl <= 1:
        return None
    ip.ttl -= 1
    del ip.chksum
    return bytes(pkt)


def checksums_valid(raw: bytes) -> bool:
    """Every checksum scapy knows equals what scapy computes afresh."""
    pkt = Ether(raw)
    again = Ether(raw)
    for layer in (IP, TCP, UDP, ICMP):
        if layer in again:
            del again[layer].chksum
    return bytes(Ether(bytes(again))) == bytes(pkt)


def run_ttl_nf(tmp_path, start_manager, how: str) -> None:
    packets = ttl_traffic()
    expected = [e for e in map(after_ttl_nf, packets) if e is not None]
    assert 0 < len(expected) < len(packets)
    nf_file = tmp_path / "my_nf.py"
    nf_file.write_text(TTL_NF)
    mgr = chain_manager(start_manager, tmp_path, packets, "1,out:1")
    if how == "onvm-nf":
        nf = start_nf_file(mgr, nf_file, 1)
    else:
        nf = start_nf_argv(mgr, [PYTHON, str(nf_file), "--service", "1", "--name", mgr.name],
                           "python-my_nf")
    snap = mgr.wait_stats(
        lambda s: s["ports"]["0"]["rx"] == len(packets)
        and mgr.nf_stats(s, nf)["act_next"] + mgr.nf_stats(s, nf)["act_drop"] == len(packets),
        30, "every packet through my_nf.py")
    assert mgr.nf_stats(snap, nf)["act_drop"] == len(packets) - len(expected)
    mgr.wait_stats(lambda s: s["ports"]["1"]["tx"] == len(expected), 10, "the packets out")
    assert mgr.stop() == 0
    assert nf.wait(10) == 0
    out = read_pcap(tmp_path / "out1.pcap")
    assert out == expected
    assert all(checksums_valid(p) for p in out)


def test_own_nf_file_through_onvm_nf(tmp_path, start_manager):
    run_ttl_nf(tmp_path, start_manager, "onvm-nf")


def test_own_nf_file_with_plain_python(tmp_path, start_manager):
    run_ttl_nf(tmp_path, start_manager, "python")


def test_own_vector_nf_drops_all_udp(tmp_path, start_manager):
    packets = mixed_packets(1200, seed=31)
    expected = [p for p in packets if UDP not in Ether(p)]
    assert 0 < len(expected) < len(packets)
    nf_file = tmp_path / "no_udp.py"
    nf_file.write_text(NO_UDP_NF)
    mgr = chain_manager(start_manager, tmp_path, packets, "1,out:1")
    nf = start_nf_file(mgr, nf_file, 1)
    snap = mgr.wait_stats(
        lambda s: s["ports"]["0"]["rx"] == len(packets)
        and mgr.nf_stats(s, nf)["act_drop"] == len(packets) - len(expected)
        and s["ports"]["1"]["tx"] == len(expected),
        30, "every packet through no_udp.py")
    assert mgr.nf_stats(snap, nf)["act_next"] == len(expected)
    assert mgr.stop() == 0
    assert read_pcap(tmp_path / "out1.pcap") == expected


def start_raising_nf(tmp_path, start_manager):
    packets = mixed_packets(1000, seed=32)
    nf_file = tmp_path / "raiser.py"
    nf_file.write_text(RAISING_NF)
    mgr = chain_manager(start_manager, tmp_path, packets, "1,out:1")
    nf = start_nf_file(mgr, nf_file, 1, wait=False)
    return mgr, nf, nf.wait(30)


def test_handler_that_raises_stops_only_its_nf(tmp_path, start_manager):
    mgr, nf, code = start_raising_nf(tmp_path, start_manager)
    assert code != 0
    out = nf.output()
    assert re.search(r"raiser\.py: error: .*handler failed", out), out
    assert "ValueError: no packet 100 for me" in out
    # The manager is still up, the slot is free, every mbuf is back.
    snap = mgr.wait_stats(lambda s: not s["nfs"], 10, "the NF's slot to be freed")
    snap = mgr.wait_stats(lambda s: s["pool"]["available"] == s["pool"]["size"], 10,
                          "the pool to be full again")
    assert snap["crashed_nfs"] == 0  # it left; it did not crash
    assert mgr.popen.poll() is None
    # The slot serves again.
    forward = mgr.start_nf("simple_forward.py", 1)
    assert mgr.nf_stats(mgr.stats(), forward)["state"] == "running"
    assert mgr.stop() == 0
    assert re.search(r"pool (\d+)/\1 free", mgr.output())


def test_handler_that_raises_says_so_in_one_line(tmp_path, start_manager):
    mgr, nf, code = start_raising_nf(tmp_path, start_manager)
    line = assert_one_error_line(nf, code)
    assert "ValueError" in line and "no packet 100 for me" in line
    assert mgr.stop() == 0


def test_own_nf_file_without_a_manager_says_so_in_one_line(tmp_path):
    nf_file = tmp_path / "my_nf.py"
    nf_file.write_text(TTL_NF)
    result = subprocess.run(
        [tool("onvm-nf"), str(nf_file), "--service", "1", "--name", "nobody-here"],
        capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL,
    )
    assert result.returncode != 0
    assert "Traceback" not in result.stderr, result.stderr
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "no manager named 'nobody-here' is running" in lines[0], lines
