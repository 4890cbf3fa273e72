# SPDX-License-Identifier: BSD-3-Clause
"""`python -m onvm.bench.traffic`, the README's pcap generator: the pcap it
writes, and one line for each bad argument."""

from __future__ import annotations

import subprocess
import sys

import pytest

from onvm.bench.traffic import read_pcap


def run(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "onvm.bench.traffic", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=120)


def test_it_writes_unique_frames_of_mixed_traffic(tmp_path):
    result = run(str(tmp_path / "in.pcap"), "--packets", "500", "--seed", "3")
    assert result.returncode == 0, result.stderr
    frames = read_pcap(tmp_path / "in.pcap")
    assert len(frames) == 500 == len(set(frames))
    assert all(60 <= len(f) <= 1514 for f in frames)
    assert run(str(tmp_path / "again.pcap"), "--packets", "500", "--seed", "3").returncode == 0
    assert read_pcap(tmp_path / "again.pcap") == frames  # the seed makes it repeatable


@pytest.mark.parametrize("args, message", [
    (("--packets", "0"), "--packets takes 1 to 10000000, not 0"),
    (("--packets", "-5"), "--packets takes 1 to 10000000, not -5"),
    (("--packets", "9" * 60), "--packets takes 1 to 10000000"),
    (("--packets", "nan"), "invalid int value: 'nan'"),
    (("--seed", "x"), "invalid int value: 'x'"),
    (("--bogus",), "unrecognized arguments: --bogus"),
    (("--ip", "5"), "argument --ip: invalid choice: 5 (choose from 4, 6)"),
    (("--ip", "ipv6"), "argument --ip: invalid int value: 'ipv6'"),
    (("--ip", "4", "--size", "59"), "argument --size: must be a whole number from 60 to 1514"),
    (("--ip", "4", "--size", "1515"), "argument --size: must be a whole number from 60 to"),
    (("--ip", "6", "--size", "nan"), "argument --size: must be a whole number from 60 to"),
    (("--ip", "6", "--size", "9" * 5000), "argument --size: must be a whole number from 60"),
    (("--size", "64"), "--size goes with --ip"),
])
def test_bad_arguments_get_one_line(tmp_path, args, message):
    result = run(str(tmp_path / "x.pcap"), *args)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr
    assert not (tmp_path / "x.pcap").exists()


@pytest.mark.parametrize("version", [4, 6])
def test_ip_traffic_is_tcp_and_udp_over_one_ip_version(tmp_path, version):
    from scapy.layers.inet import IP, TCP, UDP
    from scapy.layers.inet6 import IPv6
    from scapy.layers.l2 import Ether

    result = run(str(tmp_path / "ip.pcap"), "--packets", "300", "--ip", str(version),
                 "--size", "128")
    assert result.returncode == 0, result.stderr
    frames = read_pcap(tmp_path / "ip.pcap")
    assert len(frames) == 300 == len(set(frames))
    layer = IP if version == 4 else IPv6
    kinds = set()
    for raw in frames:
        pkt = Ether(raw)
        assert len(raw) == 128 and layer in pkt
        assert pkt[layer].dst.startswith("192.168." if version == 4 else "fd01:")
        kinds.add(TCP if TCP in pkt else UDP if UDP in pkt else None)
        assert pkt[layer].payload.dport in (22, 53, 80, 443, 8080)
    assert kinds == {TCP, UDP}


def test_ipv6_frames_hold_their_headers_at_least(tmp_path):
    assert run(str(tmp_path / "v6.pcap"), "--packets", "200", "--ip", "6").returncode == 0
    sizes = {len(f) for f in read_pcap(tmp_path / "v6.pcap")}
    assert sizes == {64, 74}  # UDP padded to 64; TCP's headers alone are 74


def test_no_output_file_is_one_line():
    result = run("--packets", "10")
    assert result.returncode == 2
    assert result.stderr.strip().endswith("the following arguments are required: OUT.pcap "
                                          "(see --help)")


def test_a_directory_as_the_output_is_one_line(tmp_path):
    result = run(str(tmp_path), "--packets", "10")
    assert result.returncode == 1
    assert result.stderr.strip() == (f"python -m onvm.bench.traffic: error: cannot write "
                                     f"{tmp_path}: Is a directory")
