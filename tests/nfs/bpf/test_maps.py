# SPDX-License-Identifier: BSD-3-Clause
"""Maps written by the program and by userspace at once, while traffic
flows: no read is torn, no update is lost, counters add up."""

from __future__ import annotations

import struct
import threading

import pytest
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether

from tests.support.bpf_programs import nf_id, program
from tests.support.control_helpers import client, start_slow_forward
from tests.support.nf_helpers import chain_manager
from tests.support.pcaps import read_pcap

pytestmark = pytest.mark.timeout(120)

PAYLOAD_AT, PATTERN = 42, 64  # the UDP payload, and how much of it the program stamps

# Stamps the UDP payload with the 64-byte value of array entry 0, and counts
# packets per payload byte 0 (the key) in a per-CPU hash.
STAMP = """
#include <onvm/bpf.h>

struct pattern { unsigned char b[64]; };
struct counts { unsigned long long packets; unsigned long long bytes; };

ONVM_BPF_MAP(pattern, ONVM_BPF_MAP_ARRAY, unsigned int, struct pattern, 1);
ONVM_BPF_MAP(seen, ONVM_BPF_MAP_PERCPU_HASH, unsigned int, struct counts, 256);

ONVM_BPF_PROGRAM("onvm") int stamp(unsigned char *frame)
{
	unsigned int zero = 0, key = frame[42];
	struct pattern p;
	struct counts one = {1, onvm_md.len};

	seen__add(&key, &one);
	if (pattern__lookup(&zero, &p) != 0)
		return ONVM_BPF_ABORTED;
	__builtin_memcpy(frame + 42, p.b, 64);
	return ONVM_BPF_PASS;
}
"""


def frames(count: int) -> list[bytes]:
    return [bytes(Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / IP(dst="10.0.0.9")
                  / UDP(sport=7, dport=9) / bytes([i % 200]) / bytes(PATTERN + i % 50))
            for i in range(count)]


def test_no_torn_read_and_no_lost_count(tmp_path, start_manager):
    obj = program(STAMP, tmp_path, "stamp")
    packets = frames(4000)
    mgr = chain_manager(start_manager, tmp_path, packets, "2,1,out:1")
    nf = mgr.start_nf("bpf", 1, "--", "--program", str(obj))
    bpf = client(mgr, timeout=30).bpf(nf_id(mgr, nf))
    pattern = bpf.map("pattern")
    pattern[0] = bytes([1]) * PATTERN
    writes = []
    done = threading.Event()

    def rewrite() -> None:
        """Userspace rewrites the whole 64-byte value, over and over."""
        k = 1
        while not done.is_set():
            k = k % 250 + 1
            pattern[0] = bytes([k]) * PATTERN
            writes.append(k)

    start_slow_forward(mgr, 2, 0.001)
    writer = threading.Thread(target=rewrite)
    writer.start()
    try:
        mgr.wait_stats(lambda s: s["ports"]["1"]["tx"] == len(packets), 60, "every packet out")
    finally:
        done.set()
        writer.join(30)
    seen = {struct.unpack("<I", k)[0]: struct.unpack("<QQ", v)
            for k, v in bpf.map("seen").items()}
    info = bpf.info()
    assert mgr.stop() == 0
    out = read_pcap(tmp_path / "out1.pcap")
    assert len(out) == len(packets) and len(writes) > 5
    stamps = [frame[PAYLOAD_AT:PAYLOAD_AT + PATTERN] for frame in out]
    torn = [s for s in stamps if len(set(s)) != 1]
    assert not torn, f"{len(torn)} packets carry a value half written: {torn[0].hex()}"
    assert len({s[0] for s in stamps}) > 1  # the rewrites reached the data path
    for frame, original in zip(out, packets, strict=True):
        assert frame[:PAYLOAD_AT] == original[:PAYLOAD_AT]
        assert frame[PAYLOAD_AT + PATTERN:] == original[PAYLOAD_AT + PATTERN:]
    expected: dict[int, list[int]] = {}
    for p in packets:
        entry = expected.setdefault(p[PAYLOAD_AT], [0, 0])
        entry[0] += 1
        entry[1] += len(p)
    assert seen == {k: tuple(v) for k, v in expected.items()}
    assert info["verdicts"]["pass"] == len(packets) and info["verdicts"]["aborted"] == 0


def test_userspace_and_program_insert_at_once(tmp_path, start_manager):
    """The program inserts a key per payload byte while userspace inserts 300
    keys of its own into the same hash map: every key of both is there."""
    obj = program(STAMP, tmp_path, "stamp")
    packets = frames(3000)
    mgr = chain_manager(start_manager, tmp_path, packets, "2,1,out:1")
    nf = mgr.start_nf("bpf", 1, "--", "--program", str(obj))
    bpf = client(mgr, timeout=30).bpf(nf_id(mgr, nf))
    bpf.map("pattern")[0] = bytes(PATTERN)
    seen = bpf.map("seen")
    start_slow_forward(mgr, 2, 0.0005)
    mine = list(range(1000, 1056))
    for key in mine:
        seen[key] = struct.pack("<QQ", key, 2 * key)
    mgr.wait_stats(lambda s: s["ports"]["1"]["tx"] == len(packets), 60, "every packet out")
    got = {struct.unpack("<I", k)[0]: struct.unpack("<QQ", v) for k, v in seen.items()}
    assert mgr.stop() == 0
    for key in mine:
        assert got[key] == (key, 2 * key)
    assert {k for k in got if k < 1000} == {p[PAYLOAD_AT] for p in packets}
    assert sum(v[0] for k, v in got.items() if k < 1000) == len(packets)
