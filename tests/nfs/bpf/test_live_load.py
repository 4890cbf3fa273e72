# SPDX-License-Identifier: BSD-3-Clause
"""A program replaced while traffic flows: every packet is handled whole by
the old program or the new one, in order, and none is lost; a program the
validator refuses leaves the old one running."""

from __future__ import annotations

import subprocess
import time

import pytest

from tests.support.bpf_programs import nf_id, program
from tests.support.control_helpers import client, numbered_packets, start_slow_forward
from tests.support.harness import VENV_BIN
from tests.support.pcaps import read_pcap, write_pcap

pytestmark = pytest.mark.timeout(120)

# Version 1 passes packets on along the chain (out of port 1); version 2
# sends them out of port 2. Where the output splits is where it switched.
TO_PORT = """
#include <onvm/bpf.h>
ONVM_BPF_PROGRAM("onvm") int prog(unsigned char *frame)
{
	if (%d == 1)
		return ONVM_BPF_PASS;
	onvm_md.redirect_port = 2;
	return ONVM_BPF_REDIRECT;
}
"""
LOOPING = """
#include <onvm/bpf.h>
ONVM_BPF_PROGRAM("onvm") int prog(unsigned char *frame)
{
	volatile unsigned int n = onvm_md.len;
	while (n > 1)
		n = n & 1 ? 3 * n + 1 : n / 2;
	return ONVM_BPF_DROP;
}
"""


def ports(tmp_path) -> list[str]:
    write_pcap(tmp_path / "empty.pcap", [])
    return ["--port", f"net_pcap0,rx_pcap={tmp_path}/in.pcap,tx_pcap={tmp_path}/out0.pcap",
            "--port", f"net_pcap1,rx_pcap={tmp_path}/empty.pcap,tx_pcap={tmp_path}/out1.pcap",
            "--port", f"net_pcap2,rx_pcap={tmp_path}/empty.pcap,tx_pcap={tmp_path}/out2.pcap"]


@pytest.mark.parametrize("how", ["onvm-ctl", "python"])
def test_live_replacement_loses_nothing_and_splits_cleanly(tmp_path, start_manager, how):
    v1 = program(TO_PORT % 1, tmp_path, "v1")
    v2 = program(TO_PORT % 2, tmp_path, "v2")
    packets = numbered_packets(6000)
    write_pcap(tmp_path / "in.pcap", packets)
    # slow_forward (service 2) paces the replay: the manager holds port RX
    # while its ring is full, so the replay lasts seconds and loses nothing.
    mgr = start_manager(*ports(tmp_path), "--chain", "2,1,out:1", "--wait-for-chain")
    nf = mgr.start_nf("bpf", 1, "--", "--program", str(v1))
    ident = nf_id(mgr, nf)
    start_slow_forward(mgr, 2, 0.002)
    mgr.wait_stats(lambda s: s["ports"]["1"]["tx"] > 500, 30, "traffic under version 1")
    if how == "onvm-ctl":
        result = subprocess.run([str(VENV_BIN / "onvm-ctl"), "--name", mgr.name, "bpf", "load",
                                 str(ident), str(v2)], capture_output=True, text=True, timeout=30)
        assert result.returncode == 0, result.stderr
        assert f"NF {ident}: loaded {v2}" in result.stdout
    else:
        assert client(mgr).bpf(ident).load(v2).startswith(f"loaded {v2}")
    snap = mgr.wait_stats(lambda s: s["ports"]["1"]["tx"] + s["ports"]["2"]["tx"]
                          == len(packets), 60, "every packet out")
    assert snap["ports"]["2"]["tx"] > 500, "version 2 took over before the end"
    info = client(mgr).bpf(ident).info()
    assert info["path"] == str(v2) and info["loads"] == 2 and info["jit"]
    assert mgr.stop() == 0
    out1, out2 = read_pcap(tmp_path / "out1.pcap"), read_pcap(tmp_path / "out2.pcap")
    assert out1 + out2 == packets  # in order, none lost, none twice
    assert "pool 16383/16383 free" in mgr.output()


def test_a_refused_program_leaves_the_old_one_running(tmp_path, start_manager):
    v1 = program(TO_PORT % 1, tmp_path, "v1")
    bad = program(LOOPING, tmp_path, "looping")
    packets = numbered_packets(3000)
    write_pcap(tmp_path / "in.pcap", packets)
    mgr = start_manager(*ports(tmp_path), "--chain", "2,1,out:1", "--wait-for-chain")
    nf = mgr.start_nf("bpf", 1, "--", "--program", str(v1))
    ident = nf_id(mgr, nf)
    start_slow_forward(mgr, 2, 0.002)
    mgr.wait_stats(lambda s: s["ports"]["1"]["tx"] > 200, 30, "traffic")
    for target, why in ((str(bad), "was refused"), (str(tmp_path), "is not a file"),
                        (str(tmp_path / "none.o"), "cannot read program")):
        result = subprocess.run([str(VENV_BIN / "onvm-ctl"), "--name", mgr.name, "bpf", "load",
                                 str(ident), target], capture_output=True, text=True, timeout=30)
        assert result.returncode == 1
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and why in lines[0], result.stderr
    time.sleep(0.2)
    mgr.wait_stats(lambda s: s["ports"]["1"]["tx"] == len(packets), 60, "every packet out")
    assert client(mgr).bpf(ident).info()["loads"] == 1
    assert mgr.stop() == 0
    assert read_pcap(tmp_path / "out1.pcap") == packets
