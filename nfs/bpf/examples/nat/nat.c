/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * nat: static one-to-one IPv4 NAT, its translations in maps that userspace
 * fills (translations.py, onvm-ctl, Python). A packet whose source is an
 * internal address of `snat` leaves with its external address as source
 * (outbound); a packet whose destination is an external address of `dnat`
 * gets its internal address as destination (inbound). The IPv4 header
 * checksum and the TCP or UDP checksum, whose pseudo-header holds both
 * addresses, are updated incrementally. One VLAN tag is looked through.
 * Every packet goes on along its chain; what is not IPv4 goes untouched.
 */
#include <onvm/bpf.h>

#define ETHERTYPE_IPV4 0x0800
#define ETHERTYPE_VLAN 0x8100
#define ETHERTYPE_QINQ 0x88a8
#define PROTO_TCP 6
#define PROTO_UDP 17

/* Indexes of `stats`: packets translated in each direction. */
#define NAT_STAT_SNAT 0
#define NAT_STAT_DNAT 1

/* IPv4 addresses in network byte order, as in the frame. */
ONVM_BPF_MAP(snat, ONVM_BPF_MAP_HASH, unsigned int, unsigned int, 4096);
ONVM_BPF_MAP(dnat, ONVM_BPF_MAP_HASH, unsigned int, unsigned int, 4096);
ONVM_BPF_MAP(stats, ONVM_BPF_MAP_PERCPU_ARRAY, unsigned int, unsigned long long,
             2);

/* The offset of the IPv4 header behind the Ethernet header and at most one
 * VLAN tag, or 0 if the frame carries something else. */
static inline __attribute__((always_inline)) unsigned int
nat_ipv4_offset(const unsigned char *frame)
{
	unsigned int type = frame[12] << 8 | frame[13];

	if (type == ETHERTYPE_VLAN || type == ETHERTYPE_QINQ)
		return (frame[16] << 8 | frame[17]) == ETHERTYPE_IPV4 ? 18 : 0;
	return type == ETHERTYPE_IPV4 ? 14 : 0;
}

/* One's complement checksums do not depend on byte order: fields are
 * loaded and stored as they lie in the frame. */
static inline __attribute__((always_inline)) unsigned short
nat_load16(const unsigned char *at)
{
	unsigned short v;

	__builtin_memcpy(&v, at, 2);
	return v;
}

static inline __attribute__((always_inline)) void
nat_store16(unsigned char *at, unsigned short v)
{
	__builtin_memcpy(at, &v, 2);
}

/* Write address @p to over the 4 bytes at @p ip + @p at (it was @p from),
 * and update the IPv4 checksum and the TCP or UDP one at @p ip + @p l4_sum
 * (0 when the frame has none to update). Offsets, not pointers that may be
 * NULL: the validator would not see a NULL check make one a pointer. */
static inline __attribute__((always_inline)) void
nat_rewrite(unsigned char *ip, unsigned int at, unsigned int l4_sum, int udp,
            unsigned int from, unsigned int to)
{
	unsigned short sum;

	__builtin_memcpy(ip + at, &to, 4);
	nat_store16(ip + 10, onvm_csum_replace4(nat_load16(ip + 10), from, to));
	if (l4_sum == 0)
		return;
	sum = nat_load16(ip + l4_sum);
	/* A UDP checksum of 0 says there is none: it stays 0. */
	if (udp && sum == 0)
		return;
	sum = onvm_csum_replace4(sum, from, to);
	/* A computed UDP checksum of 0 is sent as 0xffff (RFC 768). */
	if (udp && sum == 0)
		sum = 0xffff;
	nat_store16(ip + l4_sum, sum);
}

ONVM_BPF_PROGRAM("onvm") int nat(unsigned char *frame)
{
	unsigned int l3, ihl, from, to, l4_sum = 0, len = onvm_md.len;
	unsigned char *ip;
	unsigned long long one = 1;
	unsigned int stat;
	int udp;

	l3 = nat_ipv4_offset(frame);
	if (l3 == 0 || len < l3 + 20)
		return ONVM_BPF_PASS;
	ip = frame + l3;
	ihl = (ip[0] & 0xf) * 4;
	if ((ip[0] >> 4) != 4 || ihl < 20 || len < l3 + ihl)
		return ONVM_BPF_PASS;
	/* Only a datagram's first fragment holds its TCP or UDP header (the
	 * checksum covers the whole datagram: the update holds for it). */
	udp = ip[9] == PROTO_UDP;
	if ((ip[6] & 0x1f) == 0 && ip[7] == 0) {
		if (ip[9] == PROTO_TCP && len >= l3 + ihl + 18)
			l4_sum = ihl + 16;
		else if (udp && len >= l3 + ihl + 8)
			l4_sum = ihl + 6;
	}

	__builtin_memcpy(&from, ip + 12, 4);
	if (snat__lookup(&from, &to) == 0) {
		nat_rewrite(ip, 12, l4_sum, udp, from, to);
		stat = NAT_STAT_SNAT;
		stats__add(&stat, &one);
	}
	__builtin_memcpy(&from, ip + 16, 4);
	if (dnat__lookup(&from, &to) == 0) {
		nat_rewrite(ip, 16, l4_sum, udp, from, to);
		stat = NAT_STAT_DNAT;
		stats__add(&stat, &one);
	}
	return ONVM_BPF_PASS;
}
