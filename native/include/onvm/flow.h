/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Flow keys: the 5-tuple of a packet, parsed without reading past its end,
 * and the flow hash that keeps one flow on one service instance.
 */
#ifndef ONVM_FLOW_H
#define ONVM_FLOW_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <rte_byteorder.h>
#include <rte_ether.h>
#include <rte_hash_crc.h>
#include <rte_ip.h>
#include <rte_mbuf.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Addresses are IPv4-mapped or IPv6, in network order; ports are in network
 * order; zero where the packet has no such field. */
struct onvm_flow_key {
	uint8_t src[16];
	uint8_t dst[16];
	uint16_t src_port;
	uint16_t dst_port;
	uint8_t proto;
	uint8_t ip_version; /* 4, 6, or 0 for non-IP (ethertype in src_port) */
	uint16_t reserved;
};

#define ONVM_FLOW_HASH_SEED 0x9e3779b9U

/* Where a packet's headers are, as found by onvm_pkt_layout_parse(). */
struct onvm_pkt_layout {
	uint16_t ether_type; /* after VLAN tags, network order */
	uint16_t vlan_tci;   /* outer tag, host order; 0 when untagged */
	uint16_t l2_len;     /* Ethernet header and VLAN tags */
	uint16_t l3;         /* offset of the IP header, 0 if none */
	uint16_t l4;         /* offset of TCP/UDP/SCTP/ICMP, 0 if none */
	uint8_t ip_version;  /* 4, 6, 0 */
	uint8_t proto;       /* IP protocol or IPv6 next header */
};

/**
 * Find the headers of packet @p m (first segment only), reading nothing
 * outside it. VLAN and QinQ tags are skipped; an IPv4 fragment other than
 * the first, or a truncated header, has no l4.
 */
static inline void
onvm_pkt_layout_parse(const struct rte_mbuf *m, struct onvm_pkt_layout *lay)
{
	const uint8_t *p = rte_pktmbuf_mtod(m, const uint8_t *);
	uint32_t len = rte_pktmbuf_data_len(m);
	uint32_t off = sizeof(struct rte_ether_hdr);
	uint16_t ether_type;

	memset(lay, 0, sizeof(*lay));
	if (len < off)
		return;
	/* A frame may start at any address: read the field, not the struct
	 * (rte_ether_hdr is 2-byte aligned). */
	memcpy(&ether_type, p + offsetof(struct rte_ether_hdr, ether_type),
	       sizeof(ether_type));
	while ((ether_type == rte_cpu_to_be_16(RTE_ETHER_TYPE_VLAN) ||
	        ether_type == rte_cpu_to_be_16(RTE_ETHER_TYPE_QINQ)) &&
	       len >= off + sizeof(struct rte_vlan_hdr)) {
		const struct rte_vlan_hdr *vh =
		    (const struct rte_vlan_hdr *)(p + off);

		if (lay->vlan_tci == 0)
			lay->vlan_tci = rte_be_to_cpu_16(vh->vlan_tci);
		ether_type = vh->eth_proto;
		off += sizeof(struct rte_vlan_hdr);
	}
	lay->ether_type = ether_type;
	lay->l2_len = (uint16_t)off;
	if (ether_type == rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4)) {
		const struct rte_ipv4_hdr *ip;
		uint32_t ihl;

		if (len < off + sizeof(*ip))
			return;
		ip = (const struct rte_ipv4_hdr *)(p + off);
		ihl = (ip->version_ihl & 0xf) * 4u;
		lay->ip_version = 4;
		lay->proto = ip->next_proto_id;
		lay->l3 = (uint16_t)off;
		/* Only the first fragment carries the L4 header. */
		if (ihl >= sizeof(*ip) && len >= off + ihl &&
		    (ip->fragment_offset &
		     rte_cpu_to_be_16(RTE_IPV4_HDR_OFFSET_MASK)) == 0)
			lay->l4 = (uint16_t)(off + ihl);
	} else if (ether_type == rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV6)) {
		if (len < off + sizeof(struct rte_ipv6_hdr))
			return;
		lay->ip_version = 6;
		lay->proto = ((const struct rte_ipv6_hdr *)(p + off))->proto;
		lay->l3 = (uint16_t)off;
		lay->l4 = (uint16_t)(off + sizeof(struct rte_ipv6_hdr));
	}
}

/**
 * The flow key of packet @p m, from its layout @p lay (see
 * onvm_pkt_layout_parse()). Fields the packet lacks are zero; a non-IP
 * packet's key holds its ethertype in src_port.
 */
static inline void
onvm_flow_key_from_layout(const struct rte_mbuf *m,
                          const struct onvm_pkt_layout *lay,
                          struct onvm_flow_key *key)
{
	const uint8_t *p = rte_pktmbuf_mtod(m, const uint8_t *);
	uint32_t len = rte_pktmbuf_data_len(m);

	memset(key, 0, sizeof(*key));
	key->ip_version = lay->ip_version;
	key->proto = lay->proto;
	if (lay->ip_version == 4) {
		const struct rte_ipv4_hdr *ip =
		    (const struct rte_ipv4_hdr *)(p + lay->l3);

		/* IPv4-mapped IPv6 form: ::ffff:a.b.c.d */
		key->src[10] = key->src[11] = 0xff;
		key->dst[10] = key->dst[11] = 0xff;
		memcpy(&key->src[12], &ip->src_addr, 4);
		memcpy(&key->dst[12], &ip->dst_addr, 4);
	} else if (lay->ip_version == 6) {
		const struct rte_ipv6_hdr *ip6 =
		    (const struct rte_ipv6_hdr *)(p + lay->l3);

		memcpy(key->src, ip6->src_addr, 16);
		memcpy(key->dst, ip6->dst_addr, 16);
	} else {
		/* Non-IP: the ethertype; a truncated IP packet: nothing. */
		if (lay->ether_type != rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4) &&
		    lay->ether_type != rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV6))
			key->src_port = lay->ether_type;
		return;
	}
	/* TCP, UDP and SCTP all start with the two ports. */
	if (lay->l4 != 0 &&
	    (lay->proto == IPPROTO_TCP || lay->proto == IPPROTO_UDP ||
	     lay->proto == IPPROTO_SCTP) &&
	    len >= (uint32_t)lay->l4 + 4) {
		memcpy(&key->src_port, p + lay->l4, 2);
		memcpy(&key->dst_port, p + lay->l4 + 2, 2);
	}
}

/**
 * Parse the flow key of packet @p m (first segment only).
 *
 * A truncated or non-IP packet yields a key with the fields it has; nothing
 * outside the packet is read. VLAN and QinQ tags are skipped.
 *
 * @param m
 *   The packet.
 * @param key
 *   Filled with the key; zeroed first.
 */
static inline void
onvm_flow_key_parse(const struct rte_mbuf *m, struct onvm_flow_key *key)
{
	struct onvm_pkt_layout lay;

	onvm_pkt_layout_parse(m, &lay);
	onvm_flow_key_from_layout(m, &lay, key);
}

/* What flow rules match: a packet's flow key, then what the 5-tuple does
 * not hold, laid out as DPDK's ACL reads it (one group of four bytes,
 * network order). The flow hash stays the key's alone. */
struct onvm_match_key {
	struct onvm_flow_key flow;
	uint16_t vlan; /* ONVM_MATCH_VLAN_TAGGED | outer VLAN id; 0 untagged */
	uint8_t in_port; /* the port the packet came in on */
	uint8_t dscp;    /* IPv4 TOS or IPv6 traffic class >> 2; 0 non-IP */
};

/* Set in onvm_match_key.vlan (host order) for a tagged frame, so that a
 * rule for VLAN 0 matches priority-tagged frames and no untagged one. */
#define ONVM_MATCH_VLAN_TAGGED 0x1000

/**
 * Parse the match key of packet @p m, which came in on port @p in_port
 * (first segment only, nothing outside the packet read).
 *
 * @param m
 *   The packet.
 * @param in_port
 *   Its input port.
 * @param key
 *   Filled with the key.
 */
static inline void
onvm_match_key_parse(const struct rte_mbuf *m, uint8_t in_port,
                     struct onvm_match_key *key)
{
	const uint8_t *p = rte_pktmbuf_mtod(m, const uint8_t *);
	struct onvm_pkt_layout lay;
	uint16_t vlan = 0;
	uint8_t tos = 0;

	onvm_pkt_layout_parse(m, &lay);
	onvm_flow_key_from_layout(m, &lay, &key->flow);
	/* A tag is there when the L2 header is longer than Ethernet's. */
	if (lay.l2_len > sizeof(struct rte_ether_hdr))
		vlan = ONVM_MATCH_VLAN_TAGGED | (lay.vlan_tci & 0xfff);
	if (lay.ip_version == 4) {
		tos = ((const struct rte_ipv4_hdr *)(p + lay.l3))
		          ->type_of_service;
	} else if (lay.ip_version == 6) {
		uint32_t vtc_flow;

		memcpy(&vtc_flow,
		       p + lay.l3 + offsetof(struct rte_ipv6_hdr, vtc_flow),
		       sizeof(vtc_flow));
		tos = (uint8_t)(rte_be_to_cpu_32(vtc_flow) >> 20);
	}
	key->vlan = rte_cpu_to_be_16(vlan);
	key->in_port = in_port;
	key->dscp = tos >> 2;
}

/**
 * Hash of a flow key, symmetric: both directions of a connection (source
 * and destination address and port swapped) hash alike, so a stateful NF
 * with several instances sees both on one instance. It is CRC32C (seed
 * ONVM_FLOW_HASH_SEED) of the key's five 8-byte words with its endpoints in
 * canonical order: the lower first, comparing the addresses as two 64-bit
 * words each (in memory order, as this CPU loads them), then the ports.
 * Equal keys hash equal in every process.
 */
static inline uint32_t
onvm_flow_key_hash(const struct onvm_flow_key *key)
{
	const uint8_t *k = (const uint8_t *)key;
	uint64_t s0, s1, d0, d1, tail, swapped_tail;
	uint32_t sport, dport, h;
	int swap;

	RTE_BUILD_BUG_ON(sizeof(*key) != 5 * sizeof(uint64_t));
	/* Loads by memcpy: a key may sit anywhere, and no aliasing rule is
	 * broken however the caller wrote it. */
	memcpy(&s0, k + offsetof(struct onvm_flow_key, src), 8);
	memcpy(&s1, k + offsetof(struct onvm_flow_key, src) + 8, 8);
	memcpy(&d0, k + offsetof(struct onvm_flow_key, dst), 8);
	memcpy(&d1, k + offsetof(struct onvm_flow_key, dst) + 8, 8);
	/* The last word from its fields, as a little-endian load would read
	 * it: the parser has just stored them at their own widths, and a wider
	 * load would wait for those stores to drain. */
	sport = key->src_port;
	dport = key->dst_port;
	tail = sport | (uint64_t)dport << 16 | (uint64_t)key->proto << 32 |
	       (uint64_t)key->ip_version << 40 | (uint64_t)key->reserved << 48;
	swap =
	    s0 > d0 || (s0 == d0 && (s1 > d1 || (s1 == d1 && sport > dport)));
	swapped_tail = (tail & ~(uint64_t)0xffffffff) | dport | (sport << 16);
	/* Selects, not branches: the direction of a packet is a coin toss. */
	h = rte_hash_crc_8byte(swap ? d0 : s0, ONVM_FLOW_HASH_SEED);
	h = rte_hash_crc_8byte(swap ? d1 : s1, h);
	h = rte_hash_crc_8byte(swap ? s0 : d0, h);
	h = rte_hash_crc_8byte(swap ? s1 : d1, h);
	return rte_hash_crc_8byte(swap ? swapped_tail : tail, h);
}

/** Set the flow hash of packet @p m from its parsed key @p key. */
static inline uint32_t
onvm_pkt_set_flow_hash(struct rte_mbuf *m, const struct onvm_flow_key *key)
{
	m->hash.rss = onvm_flow_key_hash(key);
	m->ol_flags |= RTE_MBUF_F_RX_RSS_HASH;
	return m->hash.rss;
}

/**
 * The flow hash of packet @p m. Port RX computes it only when a route may
 * need it (a service with several instances, or flow rules in force), so
 * whoever needs it asks here: m->hash.rss when RTE_MBUF_F_RX_RSS_HASH says
 * it holds the flow hash (the manager's, or a port's symmetric RSS hash),
 * else onvm_flow_key_hash() of the packet's key, kept for later hops.
 */
static inline uint32_t
onvm_pkt_flow_hash(struct rte_mbuf *m)
{
	struct onvm_flow_key key;

	if (m->ol_flags & RTE_MBUF_F_RX_RSS_HASH)
		return m->hash.rss;
	onvm_flow_key_parse(m, &key);
	return onvm_pkt_set_flow_hash(m, &key);
}

#ifdef __cplusplus
}
#endif

#endif /* ONVM_FLOW_H */
