/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <stddef.h>

#include <rte_ip.h>
#include <rte_prefetch.h>
#include <rte_tcp.h>

#include <onvm/pkt_fields.h>
#include <onvm/pkt_meta.h>

static inline void
__onvm_parse_one(const struct rte_mbuf *m, struct onvm_pkt_fields *f,
		 uint32_t i, uint32_t groups)
{
	const uint8_t *p = rte_pktmbuf_mtod(m, const uint8_t *);
	struct onvm_flow_key *key = &f->keys[i];
	struct onvm_pkt_layout lay;

	onvm_pkt_layout_parse(m, &lay);
	onvm_flow_key_from_layout(m, &lay, key);
	f->ip_version[i] = lay.ip_version;
	f->proto[i] = lay.proto;
	if (groups & ONVM_FIELDS_L2) {
		f->ether_type[i] = rte_be_to_cpu_16(lay.ether_type);
		f->vlan[i] = lay.vlan_tci & 0xfff;
	}
	if (groups & ONVM_FIELDS_L3) {
		f->l3_offset[i] = lay.l3;
		memcpy(f->src6[i], key->src, 16);
		memcpy(f->dst6[i], key->dst, 16);
		f->src4[i] = lay.ip_version == 4 ?
			rte_be_to_cpu_32(*(const unaligned_uint32_t *)&key->src[12]) : 0;
		f->dst4[i] = lay.ip_version == 4 ?
			rte_be_to_cpu_32(*(const unaligned_uint32_t *)&key->dst[12]) : 0;
	}
	if (groups & ONVM_FIELDS_L4) {
		f->l4_offset[i] = lay.l4;
		f->src_port[i] = lay.ip_version ? rte_be_to_cpu_16(key->src_port) : 0;
		f->dst_port[i] = lay.ip_version ? rte_be_to_cpu_16(key->dst_port) : 0;
		f->tcp_flags[i] = 0;
		if (lay.proto == IPPROTO_TCP && lay.l4 != 0 &&
		    rte_pktmbuf_data_len(m) >= lay.l4 + sizeof(struct rte_tcp_hdr))
			f->tcp_flags[i] =
				((const struct rte_tcp_hdr *)(p + lay.l4))->tcp_flags;
	}
	if (groups & ONVM_FIELDS_META) {
		f->length[i] = (uint16_t)rte_pktmbuf_pkt_len(m);
		f->in_port[i] = m->port;
		/* The manager's flow hash travels in the mbuf. */
		f->flow_hash[i] = m->hash.rss;
	}
	f->verdicts[i] = ONVM_VERDICT(ONVM_ACTION_NEXT, 0);
}

void
onvm_pkt_fields_parse(struct rte_mbuf **pkts, uint32_t n,
		      struct onvm_pkt_fields *f, uint32_t groups)
{
	uint32_t i;

	f->count = n;
	for (i = 0; i < n; i++) {
		if (i + 2 < n)
			rte_prefetch0(rte_pktmbuf_mtod(pkts[i + 2], void *));
		__onvm_parse_one(pkts[i], f, i, groups);
	}
}

void
onvm_pkt_apply_verdicts(struct rte_mbuf **pkts, uint32_t n,
			const uint32_t *verdicts)
{
	uint32_t i;

	for (i = 0; i < n; i++) {
		struct onvm_pkt_meta *meta = onvm_pkt_meta(pkts[i]);
		uint32_t action = verdicts[i] & 0xff;

		meta->action = action <= ONVM_ACTION_OUT ? (uint8_t)action :
							    ONVM_ACTION_DROP;
		meta->destination = (uint16_t)(verdicts[i] >> 8);
	}
}

void
onvm_pkt_apply_verdicts_counted(struct rte_mbuf **pkts, uint32_t n,
				const uint32_t *verdicts, uint64_t counts[4])
{
	uint64_t other[4] = { 0, 0, 0, 0 };
	uint32_t i;

	/* NEXT, the common verdict, costs neither a store nor a look at the
	 * packet. */
	for (i = 0; i < n; i++) {
		uint32_t action = verdicts[i] & 0xff;
		struct onvm_pkt_meta *meta;

		if (likely(action == ONVM_ACTION_NEXT))
			continue;
		if (action > ONVM_ACTION_OUT)
			action = ONVM_ACTION_DROP;
		other[action]++;
		meta = onvm_pkt_meta(pkts[i]);
		meta->action = (uint8_t)action;
		meta->destination = (uint16_t)(verdicts[i] >> 8);
	}
	counts[ONVM_ACTION_DROP] += other[ONVM_ACTION_DROP];
	counts[ONVM_ACTION_NEXT] +=
		n - other[ONVM_ACTION_DROP] - other[ONVM_ACTION_TONF] -
		other[ONVM_ACTION_OUT];
	counts[ONVM_ACTION_TONF] += other[ONVM_ACTION_TONF];
	counts[ONVM_ACTION_OUT] += other[ONVM_ACTION_OUT];
}

/* Set a checksum field at l4 + @p at to the checksum over the L4 data. */
static void
__onvm_fix_l4(uint8_t *l4, uint16_t at, uint16_t cksum)
{
	memcpy(l4 + at, &cksum, sizeof(cksum));
}

static int
__onvm_fix_ipv4(uint8_t *p, uint32_t len, const struct onvm_pkt_layout *lay)
{
	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(p + lay->l3);
	uint32_t ihl = (ip->version_ihl & 0xf) * 4u;
	uint32_t total = rte_be_to_cpu_16(ip->total_length);
	uint32_t l4_len = total - ihl;
	uint8_t *l4 = p + lay->l4;

	/* Trust no length field that points past the packet. */
	if (ihl < sizeof(*ip) || total < ihl || lay->l3 + total > len)
		return -EINVAL;
	ip->hdr_checksum = 0;
	ip->hdr_checksum = rte_ipv4_cksum(ip);
	/* A fragment's L4 checksum covers the whole datagram: leave it. */
	if (lay->l4 == 0 ||
	    (ip->fragment_offset & rte_cpu_to_be_16(RTE_IPV4_HDR_MF_FLAG)))
		return 0;
	if (lay->proto == IPPROTO_TCP && l4_len >= sizeof(struct rte_tcp_hdr)) {
		__onvm_fix_l4(l4, offsetof(struct rte_tcp_hdr, cksum), 0);
		__onvm_fix_l4(l4, offsetof(struct rte_tcp_hdr, cksum),
			      rte_ipv4_udptcp_cksum(ip, l4));
	} else if (lay->proto == IPPROTO_UDP && l4_len >= 8) {
		__onvm_fix_l4(l4, 6, 0);
		__onvm_fix_l4(l4, 6, rte_ipv4_udptcp_cksum(ip, l4));
	} else if (lay->proto == IPPROTO_ICMP && l4_len >= 4) {
		__onvm_fix_l4(l4, 2, 0);
		__onvm_fix_l4(l4, 2, (uint16_t)~rte_raw_cksum(l4, l4_len));
	}
	return 0;
}

static int
__onvm_fix_ipv6(uint8_t *p, uint32_t len, const struct onvm_pkt_layout *lay)
{
	struct rte_ipv6_hdr *ip6 = (struct rte_ipv6_hdr *)(p + lay->l3);
	uint32_t payload = rte_be_to_cpu_16(ip6->payload_len);
	uint8_t *l4 = p + lay->l4;
	uint16_t at;

	if (lay->l4 + payload > len)
		return -EINVAL;
	if (lay->proto == IPPROTO_TCP && payload >= sizeof(struct rte_tcp_hdr))
		at = offsetof(struct rte_tcp_hdr, cksum);
	else if (lay->proto == IPPROTO_UDP && payload >= 8)
		at = 6;
	else if (lay->proto == IPPROTO_ICMPV6 && payload >= 4)
		at = 2;
	else
		return 0;
	__onvm_fix_l4(l4, at, 0);
	__onvm_fix_l4(l4, at, rte_ipv6_udptcp_cksum(ip6, l4));
	return 0;
}

int
onvm_pkt_fix_checksums(struct rte_mbuf *m)
{
	uint8_t *p = rte_pktmbuf_mtod(m, uint8_t *);
	uint32_t len = rte_pktmbuf_data_len(m);
	struct onvm_pkt_layout lay;

	onvm_pkt_layout_parse(m, &lay);
	if (lay.ip_version == 4)
		return __onvm_fix_ipv4(p, len, &lay);
	if (lay.ip_version == 6)
		return __onvm_fix_ipv6(p, len, &lay);
	return 0;
}
