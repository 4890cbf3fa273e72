# SPDX-License-Identifier: BSD-3-Clause
"""bpf --program on real traffic: a program that computes over the frame,
rewrites header bytes, calls a helper, reads the metadata and returns every
verdict gives, in the JIT and in the interpreter, what a Python model of it
says, frame for frame and counter for counter; bytes past a frame's end
read as zeroes even in buffers that held longer frames before."""

from __future__ import annotations

from pathlib import Path

import pytest
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether
from scapy.packet import Raw

from tests.support.bpf_helpers import BpfRun, build_program, first_difference
from tests.support.pcaps import mixed_packets, odd_packets, read_pcap

pytestmark = pytest.mark.timeout(60)

M64 = (1 << 64) - 1
FNV_OFFSET, FNV_PRIME = 0xCBF29CE484222325, 0x100000001B3

# Each frame's verdict comes from a byte the program computes: 0 PASS (on
# to port 1), 1 TX (back out of port 0), 2 REDIRECT to port 1, 3 DROP or an
# unknown verdict; IPv4 frames at TTL 0 or 1 are ABORTED.
MANGLE = r"""
#include <onvm/bpf.h>

ONVM_BPF_PROGRAM("onvm") int
mangle(unsigned char *frame)
{
	unsigned int len = onvm_md.len, i;
	unsigned long long h = 0xcbf29ce484222325ULL;

	if (len < 14)
		return ONVM_BPF_DROP;
	/* FNV-1a over both MACs: 64-bit multiplies, xors, shifts. */
#pragma unroll
	for (i = 0; i < 12; i++)
		h = (h ^ frame[i]) * 0x100000001b3ULL;
	h ^= h >> 29;
	frame[6] = 0x02;
	frame[7] = (unsigned char)(h % 251);
	frame[8] = (unsigned char)(len / (frame[13] | 1));
	frame[9] = (unsigned char)(h >> 56);
	frame[10] = (unsigned char)(onvm_md.port + onvm_md.service);
	frame[11] = (unsigned char)(len ^ (len >> 8));
	if (frame[12] == 0x08 && frame[13] == 0x00 && len >= 34) {
		if (frame[22] <= 1)
			return ONVM_BPF_ABORTED;
		frame[22]--;
		onvm_bpf_ipv4_csum(frame + 14);
	}
	switch (frame[7] & 3) {
	case 0:
		return ONVM_BPF_PASS;
	case 1:
		return ONVM_BPF_TX;
	case 2:
		onvm_md.redirect_port = onvm_md.port ^ 1;
		return ONVM_BPF_REDIRECT;
	default:
		return frame[11] & 1 ? ONVM_BPF_DROP : 7;
	}
}
"""


def _ipv4_csum(header: bytearray) -> None:
    header[10:12] = b"\0\0"
    total = sum(header[i] << 8 | header[i + 1] for i in range(0, 20, 2))
    total = (total & 0xFFFF) + (total >> 16)
    total = (total & 0xFFFF) + (total >> 16)
    header[10:12] = (~total & 0xFFFF).to_bytes(2, "big")


def mangle_model(frame: bytes, port: int = 0, service: int = 1) -> tuple[str, bytes]:
    """What MANGLE does to `frame`: its verdict and the frame it leaves."""
    f, n = bytearray(frame), len(frame)
    if n < 14:
        return "drop", frame
    h = FNV_OFFSET
    for b in f[:12]:
        h = ((h ^ b) * FNV_PRIME) & M64
    h ^= h >> 29
    f[6] = 0x02
    f[7] = h % 251
    f[8] = (n // (f[13] | 1)) & 0xFF
    f[9] = h >> 56
    f[10] = (port + service) & 0xFF
    f[11] = (n ^ (n >> 8)) & 0xFF
    if f[12] == 0x08 and f[13] == 0x00 and n >= 34:
        if f[22] <= 1:
            return "aborted", bytes(f)
        f[22] -= 1
        header = f[14:34]
        _ipv4_csum(header)
        f[14:34] = header
    verdict = ("pass", "tx", "redirect", "drop" if f[11] & 1 else "unknown")[f[7] & 3]
    return verdict, bytes(f)


def _traffic() -> list[bytes]:
    # IPv4 at TTL 0 (aborted) and 9, 10 (decremented) once more at the end
    low_ttl = [p for p in odd_packets()
               if len(p) >= 34 and p[12:14] == b"\x08\x00" and p[22] <= 10]
    return odd_packets() + mixed_packets(800, seed=71) + low_ttl


@pytest.mark.parametrize("engine", ["jit", "interp"])
def test_program_does_what_its_model_says(tmp_path, start_manager, engine):
    packets = _traffic()
    results = [mangle_model(p) for p in packets]
    verdicts = [v for v, _ in results]
    assert {"pass", "tx", "redirect", "drop", "unknown", "aborted"} <= set(verdicts)

    prog = build_program(tmp_path, "mangle", MANGLE)
    args = ["--program", str(prog)] + (["--interp"] if engine == "interp" else [])
    run = BpfRun(start_manager, tmp_path, packets, *args)
    out1, counters = run.finish()
    out0 = read_pcap(tmp_path / "out0.pcap")

    want1 = [f for v, f in results if v in ("pass", "redirect")]
    want0 = [f for v, f in results if v == "tx"]
    assert out1 == want1, first_difference(out1, want1)
    assert out0 == want0, first_difference(out0, want0)
    assert counters["act_next"] == verdicts.count("pass")
    assert counters["act_out"] == verdicts.count("tx") + verdicts.count("redirect")
    assert counters["act_drop"] == sum(verdicts.count(v) for v in ("drop", "unknown", "aborted"))
    engine_said = "interpreter" if engine == "interp" else "JIT"
    assert f"section onvm, {engine_said}, window 64 bytes, 0 map(s)" in run.nf.output()


# Every byte from 60 to 255 must read as zero; the window is 256 bytes.
TAIL = r"""
#include <onvm/bpf.h>

ONVM_BPF_PROGRAM("onvm") int
tail(unsigned char *frame)
{
	unsigned long long seen = 0;
	unsigned int i;

#pragma unroll
	for (i = 60; i < 256; i += 4)
		seen |= *(unsigned int *)(frame + i);
	return seen == 0 ? ONVM_BPF_PASS : ONVM_BPF_DROP;
}
"""


@pytest.mark.parametrize("engine", ["jit", "interp"])
def test_bytes_past_the_frame_read_as_zero(tmp_path, start_manager, engine):
    """1500-byte frames with no zero byte go first (dropped: the program
    sees their bytes), twice as many as the pool's 1024 mbufs, then 60-byte
    frames: port 0 waits for mbufs to come back, so these land in buffers
    that held the long ones. The program must see zeroes past their end,
    and they leave unchanged."""
    base = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / IP() / UDP()
    long_frames = [bytes(base / Raw(bytes([0xA5]) * (1500 - 42))) for _ in range(2048)]
    short_frames = [bytes(base / Raw(i.to_bytes(2, "big"))).ljust(60, b"\0") for i in range(600)]
    packets = long_frames + short_frames
    prog = build_program(tmp_path, "tail", TAIL)
    args = ["--program", str(prog)] + (["--interp"] if engine == "interp" else [])
    run = BpfRun(start_manager, tmp_path, packets, *args, manager_args=("--num-mbufs", "1024"))
    out1, counters = run.finish()
    assert out1 == short_frames, first_difference(out1, short_frames)
    assert counters["act_drop"] == len(long_frames)
    assert counters["act_next"] == len(short_frames)
    assert "window 256 bytes" in run.nf.output()


REFLECTOR = Path(__file__).resolve().parents[3] / "nfs/bpf/examples/reflector/reflector.c"


def test_reflector_sends_each_frame_back_with_its_addresses_swapped(tmp_path, start_manager):
    source = REFLECTOR
    prog = build_program(tmp_path, "reflector", source.read_text())
    packets = mixed_packets(500, seed=72)
    run = BpfRun(start_manager, tmp_path, packets, "--program", str(prog))
    _, counters = run.finish()
    want = [p[6:12] + p[0:6] + p[12:] for p in packets]
    got = read_pcap(tmp_path / "out0.pcap")
    assert got == want, first_difference(got, want)
    assert counters["act_out"] == len(packets)


# Divides by a byte of the frame: by zero, DPDK's JIT and interpreter both
# end the program with 0 (DROP).
DIVIDE = r"""
#include <onvm/bpf.h>

ONVM_BPF_PROGRAM("onvm") int
divide(unsigned char *frame)
{
	unsigned int divisor = frame[20];

	return 1 + ((200 / divisor) & 1);
}
"""


@pytest.mark.parametrize("engine", ["jit", "interp"])
def test_division_by_zero_drops_without_a_word(tmp_path, start_manager, engine):
    """Frames whose divisor byte is 0 are dropped, the others PASS (odd
    quotient: TX); the NF prints its start line and nothing per packet."""
    packets = [bytes(20) + bytes([i % 7]) + bytes(39) for i in range(700)]
    want_tx = [p for p in packets if p[20] and (200 // p[20]) & 1]
    want_pass = [p for p in packets if p[20] and not (200 // p[20]) & 1]
    prog = build_program(tmp_path, "divide", DIVIDE)
    args = ["--program", str(prog)] + (["--interp"] if engine == "interp" else [])
    run = BpfRun(start_manager, tmp_path, packets, *args)
    out1, counters = run.finish()
    assert out1 == want_pass
    assert read_pcap(tmp_path / "out0.pcap") == want_tx
    assert counters["act_drop"] == sum(1 for p in packets if p[20] == 0) == 100
    assert len(run.nf.output().splitlines()) == 1, run.nf.output()
