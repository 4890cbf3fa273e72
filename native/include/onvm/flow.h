/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Flow keys: the 5-tuple of a packet, parsed without reading past its end,
 * and the flow hash that keeps one flow on one service instance.
 */
#ifndef ONVM_FLOW_H
#define ONVM_FLOW_H

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
	const uint8_t *p = rte_pktmbuf_mtod(m, const uint8_t *);
	uint32_t len = rte_pktmbuf_data_len(m);
	uint32_t off = sizeof(struct rte_ether_hdr);
	uint16_t ether_type;
	uint32_t l4 = 0;

	memset(key, 0, sizeof(*key));
	if (len < off)
		return;
	ether_type = ((const struct rte_ether_hdr *)p)->ether_type;
	while ((ether_type == rte_cpu_to_be_16(RTE_ETHER_TYPE_VLAN) ||
		ether_type == rte_cpu_to_be_16(RTE_ETHER_TYPE_QINQ)) &&
	       len >= off + sizeof(struct rte_vlan_hdr)) {
		ether_type = ((const struct rte_vlan_hdr *)(p + off))->eth_proto;
		off += sizeof(struct rte_vlan_hdr);
	}
	if (ether_type == rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4)) {
		const struct rte_ipv4_hdr *ip;
		uint32_t ihl;

		if (len < off + sizeof(*ip))
			return;
		ip = (const struct rte_ipv4_hdr *)(p + off);
		ihl = (ip->version_ihl & 0xf) * 4u;
		key->ip_version = 4;
		key->proto = ip->next_proto_id;
		/* IPv4-mapped IPv6 form: ::ffff:a.b.c.d */
		key->src[10] = key->src[11] = 0xff;
		key->dst[10] = key->dst[11] = 0xff;
		memcpy(&key->src[12], &ip->src_addr, 4);
		memcpy(&key->dst[12], &ip->dst_addr, 4);
		/* Only the first fragment carries ports. */
		if (ihl >= sizeof(*ip) &&
		    (ip->fragment_offset &
		     rte_cpu_to_be_16(RTE_IPV4_HDR_OFFSET_MASK)) == 0)
			l4 = off + ihl;
	} else if (ether_type == rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV6)) {
		const struct rte_ipv6_hdr *ip6;

		if (len < off + sizeof(*ip6))
			return;
		ip6 = (const struct rte_ipv6_hdr *)(p + off);
		key->ip_version = 6;
		key->proto = ip6->proto;
		memcpy(key->src, ip6->src_addr, 16);
		memcpy(key->dst, ip6->dst_addr, 16);
		l4 = off + sizeof(*ip6);
	} else {
		key->src_port = ether_type;
		return;
	}
	/* TCP, UDP and SCTP all start with the two ports. */
	if (l4 != 0 && (key->proto == IPPROTO_TCP || key->proto == IPPROTO_UDP ||
			key->proto == IPPROTO_SCTP) &&
	    len >= l4 + 4) {
		memcpy(&key->src_port, p + l4, 2);
		memcpy(&key->dst_port, p + l4 + 2, 2);
	}
}

/**
 * Hash of a flow key; equal keys hash equal in every process.
 */
static inline uint32_t
onvm_flow_key_hash(const struct onvm_flow_key *key)
{
	return rte_hash_crc(key, sizeof(*key), ONVM_FLOW_HASH_SEED);
}

#ifdef __cplusplus
}
#endif

#endif /* ONVM_FLOW_H */
