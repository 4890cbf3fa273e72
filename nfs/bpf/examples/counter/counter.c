/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * counter: packets and bytes per IPv4 flow (5-tuple) in map `flows`, and
 * of everything else in map `other`. Every packet goes on along its chain
 * unchanged. One VLAN tag is looked through.
 */
#include <onvm/bpf.h>

#define ETHERTYPE_IPV4 0x0800
#define ETHERTYPE_VLAN 0x8100
#define ETHERTYPE_QINQ 0x88a8
#define PROTO_TCP 6
#define PROTO_UDP 17
#define PROTO_SCTP 132

/* A key of `flows`: the IPv4 5-tuple, in network byte order as in the
 * frame. Ports are 0 for protocols other than TCP, UDP and SCTP, and in a
 * datagram's fragments after its first. */
struct flow {
	unsigned int src;
	unsigned int dst;
	unsigned short sport;
	unsigned short dport;
	unsigned char proto;
	unsigned char pad[3]; /* always 0 */
};

struct counts {
	unsigned long long packets;
	unsigned long long bytes; /* frame bytes, Ethernet header included */
};

/* Indexes of `other`. */
#define COUNTER_NOT_IPV4 0 /* not IPv4 behind at most one VLAN tag, or cut */
#define COUNTER_NO_ROOM 1  /* IPv4, but `flows` was full */

#ifndef COUNTER_FLOWS_MAX
#define COUNTER_FLOWS_MAX 16384 /* flows counted (-DCOUNTER_FLOWS_MAX=N) */
#endif

ONVM_BPF_MAP(flows, ONVM_BPF_MAP_PERCPU_HASH, struct flow, struct counts,
             COUNTER_FLOWS_MAX);
ONVM_BPF_MAP(other, ONVM_BPF_MAP_PERCPU_ARRAY, unsigned int, struct counts, 2);

/* The offset of the IPv4 header behind the Ethernet header and at most one
 * VLAN tag, or 0 if the frame carries something else. */
static inline __attribute__((always_inline)) unsigned int
counter_ipv4_offset(const unsigned char *frame)
{
	unsigned int type = frame[12] << 8 | frame[13];

	if (type == ETHERTYPE_VLAN || type == ETHERTYPE_QINQ)
		return (frame[16] << 8 | frame[17]) == ETHERTYPE_IPV4 ? 18 : 0;
	return type == ETHERTYPE_IPV4 ? 14 : 0;
}

ONVM_BPF_PROGRAM("onvm") int counter(unsigned char *frame)
{
	unsigned int l3, ihl, index, len = onvm_md.len;
	struct counts delta = {1, len};
	struct flow key = {0};
	unsigned char *ip;

	index = COUNTER_NOT_IPV4;
	l3 = counter_ipv4_offset(frame);
	if (l3 == 0 || len < l3 + 20)
		goto other;
	ip = frame + l3;
	ihl = (ip[0] & 0xf) * 4;
	if ((ip[0] >> 4) != 4 || ihl < 20)
		goto other;
	__builtin_memcpy(&key.src, ip + 12, 4);
	__builtin_memcpy(&key.dst, ip + 16, 4);
	key.proto = ip[9];
	if ((key.proto == PROTO_TCP || key.proto == PROTO_UDP ||
	     key.proto == PROTO_SCTP) &&
	    (ip[6] & 0x1f) == 0 && ip[7] == 0 && len >= l3 + ihl + 4) {
		__builtin_memcpy(&key.sport, ip + ihl, 2);
		__builtin_memcpy(&key.dport, ip + ihl + 2, 2);
	}
	if (flows__add(&key, &delta) == 0)
		return ONVM_BPF_PASS;
	index = COUNTER_NO_ROOM;
other:
	other__add(&index, &delta);
	return ONVM_BPF_PASS;
}
