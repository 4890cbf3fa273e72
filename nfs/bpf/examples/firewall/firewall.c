/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * firewall: the seed's fast-path drop filter. An IPv4 packet is dropped
 * when its source address is in map `blocked`, or its protocol and
 * destination port are in map `blocked_ports`; map `drops` counts the
 * packets dropped per source address. Everything else goes on along its
 * chain. Userspace edits the block lists while traffic flows (onvm-ctl,
 * Python). One VLAN tag is looked through.
 */
#include <onvm/bpf.h>

#define ETHERTYPE_IPV4 0x0800
#define ETHERTYPE_VLAN 0x8100
#define ETHERTYPE_QINQ 0x88a8
#define PROTO_TCP 6
#define PROTO_UDP 17
#define PROTO_SCTP 132

/* A key of `blocked_ports`: an IP protocol and a destination port. */
struct port_key {
	unsigned char proto; /* 6 TCP, 17 UDP, 132 SCTP */
	unsigned char pad;   /* always 0 */
	unsigned short port; /* network byte order */
};

/* Keys: IPv4 addresses in network byte order. Values of the block lists:
 * one byte that says nothing (an entry blocks). */
ONVM_BPF_MAP(blocked, ONVM_BPF_MAP_HASH, unsigned int, unsigned char, 4096);
ONVM_BPF_MAP(blocked_ports, ONVM_BPF_MAP_HASH, struct port_key, unsigned char,
             1024);
ONVM_BPF_MAP(drops, ONVM_BPF_MAP_PERCPU_HASH, unsigned int, unsigned long long,
             4096);

/* The offset of the IPv4 header behind the Ethernet header and at most one
 * VLAN tag, or 0 if the frame carries something else. */
static inline __attribute__((always_inline)) unsigned int
firewall_ipv4_offset(const unsigned char *frame)
{
	unsigned int type = frame[12] << 8 | frame[13];

	if (type == ETHERTYPE_VLAN || type == ETHERTYPE_QINQ)
		return (frame[16] << 8 | frame[17]) == ETHERTYPE_IPV4 ? 18 : 0;
	return type == ETHERTYPE_IPV4 ? 14 : 0;
}

ONVM_BPF_PROGRAM("onvm") int firewall(unsigned char *frame)
{
	unsigned int l3, ihl, src, len = onvm_md.len;
	struct port_key key = {0};
	unsigned long long one = 1;
	unsigned char *ip, flag;

	l3 = firewall_ipv4_offset(frame);
	if (l3 == 0 || len < l3 + 20)
		return ONVM_BPF_PASS;
	ip = frame + l3;
	ihl = (ip[0] & 0xf) * 4;
	if ((ip[0] >> 4) != 4 || ihl < 20)
		return ONVM_BPF_PASS;
	__builtin_memcpy(&src, ip + 12, 4);
	if (blocked__lookup(&src, &flag) == 0)
		goto drop;
	/* Ports: TCP, UDP and SCTP, in a datagram's first fragment only. */
	key.proto = ip[9];
	if ((key.proto != PROTO_TCP && key.proto != PROTO_UDP &&
	     key.proto != PROTO_SCTP) ||
	    (ip[6] & 0x1f) != 0 || ip[7] != 0 || len < l3 + ihl + 4)
		return ONVM_BPF_PASS;
	__builtin_memcpy(&key.port, ip + ihl + 2, 2);
	if (blocked_ports__lookup(&key, &flag) == 0)
		goto drop;
	return ONVM_BPF_PASS;
drop:
	drops__add(&src, &one);
	return ONVM_BPF_DROP;
}
