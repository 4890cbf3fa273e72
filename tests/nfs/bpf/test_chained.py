# SPDX-License-Identifier: BSD-3-Clause
"""bpf NFs chain like any other NF, and a program may use a map that only
the command line declares."""

from __future__ import annotations

import struct

import pytest
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.l2 import Ether

from tests.support.bpf_programs import nf_id, program
from tests.support.control_helpers import client
from tests.support.nf_helpers import chain_manager
from tests.support.pcaps import read_pcap

pytestmark = pytest.mark.timeout(60)

# Declares no map: `hits` comes from --map hits:array:4:8:4.
MARK_TTL = """
#include <onvm/bpf.h>
extern int hits__add(const unsigned int *key, const unsigned long long *delta);

ONVM_BPF_PROGRAM("mark") int mark_ttl(unsigned char *frame)
{
	unsigned int key = onvm_md.chain_index;
	unsigned long long one = 1;
	unsigned short csum, old, new;

	if (onvm_md.len < 34 || frame[12] != 0x08 || frame[13] != 0)
		return ONVM_BPF_PASS;
	hits__add(&key, &one);
	/* TTL 64 -> 7, the header checksum updated incrementally. */
	__builtin_memcpy(&csum, frame + 24, 2);
	__builtin_memcpy(&old, frame + 22, 2);
	new = onvm_bpf_htons((unsigned short)((onvm_bpf_ntohs(old) & 0x00ff) | (7 << 8)));
	csum = onvm_csum_replace2(csum, old, new);
	__builtin_memcpy(frame + 22, &new, 2);
	__builtin_memcpy(frame + 24, &csum, 2);
	return ONVM_BPF_PASS;
}
"""


def test_a_filter_then_a_program_in_one_chain(tmp_path, start_manager):
    obj = program(MARK_TTL, tmp_path, "mark")
    packets = [bytes(Ether(dst="02:00:00:00:00:02") / IP(src=f"10.0.0.{i % 9 + 1}", ttl=64)
                     / (UDP(dport=53) if i % 2 else TCP(dport=80)) / b"data") for i in range(300)]
    mgr = chain_manager(start_manager, tmp_path, packets, "1,2,out:1")
    mgr.start_nf("bpf", 1, "--", "--filter", "udp")
    marker = mgr.start_nf("bpf", 2, "--", "--program", str(obj), "--map", "hits:array:4:8:4")
    mgr.wait_stats(lambda s: s["ports"]["1"]["tx"] == len(packets) // 2, 30, "UDP out")
    hits = client(mgr).bpf(nf_id(mgr, marker)).map("hits")
    counts = {struct.unpack("<I", k)[0]: struct.unpack("<Q", v)[0] for k, v in hits.items()}
    assert mgr.stop() == 0
    expected = []
    for p in packets:
        pkt = Ether(p)
        if UDP in pkt:
            pkt[IP].ttl = 7
            del pkt[IP].chksum
            expected.append(bytes(pkt))
    assert read_pcap(tmp_path / "out1.pcap") == expected
    assert counts == {0: 0, 1: len(expected), 2: 0, 3: 0}  # the second hop (index 1)
