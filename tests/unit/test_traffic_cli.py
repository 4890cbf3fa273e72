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
])
def test_bad_arguments_get_one_line(tmp_path, args, message):
    result = run(str(tmp_path / "x.pcap"), *args)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr
    assert not (tmp_path / "x.pcap").exists()


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
