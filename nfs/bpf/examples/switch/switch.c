/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * switch: the seed's eBPF switch. The destination MAC picks the output
 * port from map `ports`, which userspace fills (fill.py, onvm-ctl); a
 * frame to a MAC the map does not hold, or to a group address, goes on
 * along its chain.
 */
#include <onvm/bpf.h>

struct mac {
	unsigned char addr[6];
};

ONVM_BPF_MAP(ports, ONVM_BPF_MAP_HASH, struct mac, unsigned short, 4096);

ONVM_BPF_PROGRAM("onvm") int eth_switch(unsigned char *frame)
{
	struct mac dst;
	unsigned short port;

	if (onvm_md.len < 14 || (frame[0] & 1))
		return ONVM_BPF_PASS;
	__builtin_memcpy(dst.addr, frame, 6);
	if (ports__lookup(&dst, &port) != 0)
		return ONVM_BPF_PASS;
	onvm_md.redirect_port = port;
	return ONVM_BPF_REDIRECT;
}
