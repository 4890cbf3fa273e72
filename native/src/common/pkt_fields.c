/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include <rte_ip.h>
#include <rte_prefetch.h>
#include <rte_tcp.h>

#include <onvm/pkt_fields.h>
#include <onvm/pkt_meta.h>

/* Every group from one walk of the headers. */
static inline void
__onvm_parse_layout(const struct rte_mbuf *m, struct onvm_pkt_fields *f,
                    uint32_t i, uint32_t groups)
{
	const uint8_t *p = rte_pktmbuf_mtod(m, const uint8_t *);
	struct onvm_flow_key *key = &f->keys[i];
	struct onvm_pkt_layout lay;

	onvm_pkt_layout_parse(m, &lay);
	onvm_flow_key_from_layout(m, &lay, key);
	if (groups & ONVM_FIELDS_L2) {
		f->ether_type[i] = rte_be_to_cpu_16(lay.ether_type);
		f->vlan[i] = lay.vlan_tci & 0xfff;
	}
	if (groups & ONVM_FIELDS_L3) {
		f->l3_offset[i] = lay.l3;
		memcpy(f->src6[i], key->src, 16);
		memcpy(f->dst6[i], key->dst, 16);
		f->src4[i] =
		    lay.ip_version == 4
		        ? rte_be_to_cpu_32(
		              *(const unaligned_uint32_t *)&key->src[12])
		        : 0;
		f->dst4[i] =
		    lay.ip_version == 4
		        ? rte_be_to_cpu_32(
		              *(const unaligned_uint32_t *)&key->dst[12])
		        : 0;
	}
	if (groups & ONVM_FIELDS_L4) {
		f->l4_offset[i] = lay.l4;
		f->src_port[i] =
		    lay.ip_version ? rte_be_to_cpu_16(key->src_port) : 0;
		f->dst_port[i] =
		    lay.ip_version ? rte_be_to_cpu_16(key->dst_port) : 0;
		f->tcp_flags[i] = 0;
		if (lay.proto == IPPROTO_TCP && lay.l4 != 0 &&
		    rte_pktmbuf_data_len(m) >=
		        lay.l4 + sizeof(struct rte_tcp_hdr))
			f->tcp_flags[i] =
			    ((const struct rte_tcp_hdr *)(p + lay.l4))
			        ->tcp_flags;
	}
	if (groups & ONVM_FIELDS_TCPOPT) {
		struct onvm_tcp_options o;

		onvm_tcp_options_parse(m, lay.proto == IPPROTO_TCP ? lay.l4 : 0,
		                       &o);
		f->tcp_options[i] = o.present;
		f->tcp_mss[i] = o.mss;
		f->tcp_wscale[i] = o.wscale;
		f->tcp_tsval[i] = o.tsval;
		f->tcp_tsecr[i] = o.tsecr;
	}
}

void
onvm_tcp_options_parse(const struct rte_mbuf *m, uint32_t l4,
                       struct onvm_tcp_options *o)
{
	const uint8_t *p = rte_pktmbuf_mtod(m, const uint8_t *);
	uint32_t len = rte_pktmbuf_data_len(m), at, end;

	memset(o, 0, sizeof(*o));
	if (l4 == 0 || len < l4 + sizeof(struct rte_tcp_hdr))
		return;
	end = RTE_MIN(len, l4 + ((uint32_t)(p[l4 + 12] >> 4) * 4));
	/* Each option: kind, length, value; NOP and END are one byte. */
	for (at = l4 + sizeof(struct rte_tcp_hdr); at < end;) {
		uint8_t kind = p[at], olen;

		if (kind == 0)
			break;
		if (kind == 1) {
			at++;
			continue;
		}
		if (at + 1 >= end || (olen = p[at + 1]) < 2 || at + olen > end)
			break;
		if (kind == 2 && olen == 4) {
			o->present |= ONVM_TCPOPT_MSS;
			o->mss = (uint16_t)(p[at + 2] << 8 | p[at + 3]);
		} else if (kind == 3 && olen == 3) {
			o->present |= ONVM_TCPOPT_WSCALE;
			o->wscale = p[at + 2];
		} else if (kind == 4 && olen == 2) {
			o->present |= ONVM_TCPOPT_SACK_OK;
		} else if (kind == 5 && olen >= 10) {
			o->present |= ONVM_TCPOPT_SACK;
		} else if (kind == 8 && olen == 10) {
			uint32_t tsval, tsecr; /* at any alignment */

			memcpy(&tsval, p + at + 2, 4);
			memcpy(&tsecr, p + at + 6, 4);
			o->present |= ONVM_TCPOPT_TIMESTAMP;
			o->tsval = rte_be_to_cpu_32(tsval);
			o->tsecr = rte_be_to_cpu_32(tsecr);
		}
		at += olen;
	}
}

uint64_t
onvm_tsc_ns(uint64_t tsc)
{
	static uint64_t ns_mul; /* ns per TSC cycle, 32.32 fixed point */

	if (unlikely(ns_mul == 0)) {
		if (rte_get_tsc_hz() == 0)
			return 0; /* no EAL in this process: no TSC rate */
		ns_mul = (uint64_t)(1e9 * 4294967296.0 / rte_get_tsc_hz());
	}
	return (uint64_t)(((unsigned __int128)tsc * ns_mul) >> 32);
}

uint64_t
onvm_pkt_rx_ns(struct rte_mbuf *m)
{
	if (unlikely(onvm_pkt_meta_offset < 0))
		return 0; /* no metadata field in this process */
	return onvm_tsc_ns(onvm_pkt_meta(m)->timestamp);
}

/* TCP, UDP and SCTP all start with the two ports. */
static inline int
__onvm_has_ports(uint8_t proto)
{
	return proto == IPPROTO_UDP || proto == IPPROTO_TCP ||
	       proto == IPPROTO_SCTP;
}

/*
 * The flow key of an untagged frame of IPv4 without options (not a later
 * fragment) or of IPv6, long enough to hold the ports: what
 * onvm_flow_key_parse() finds, in a few stores and no walk. Returns 0, and
 * writes nothing, for any other frame.
 */
static inline int
__onvm_key_fast(const struct rte_mbuf *m, struct onvm_flow_key *key)
{
	static const uint8_t v4_mapped[12] = {[10] = 0xff, [11] = 0xff};
	const uint8_t *p = rte_pktmbuf_mtod(m, const uint8_t *);
	const uint8_t *l3 = p + sizeof(struct rte_ether_hdr);
	uint32_t len = rte_pktmbuf_data_len(m);
	uint32_t ports = 0;
	uint16_t ether_type;
	const uint8_t *l4;
	uint8_t proto;

	/* Shorter than the shortest frame taken here: nothing is read. */
	if (len <
	    sizeof(struct rte_ether_hdr) + sizeof(struct rte_ipv4_hdr) + 4)
		return 0;
	/* A frame may start at any address: read the field, not the struct. */
	memcpy(&ether_type, p + offsetof(struct rte_ether_hdr, ether_type),
	       sizeof(ether_type));
	if (ether_type == rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4)) {
		const struct rte_ipv4_hdr *ip = (const struct rte_ipv4_hdr *)l3;

		l4 = l3 + sizeof(*ip);
		if (ip->version_ihl != 0x45 ||
		    (ip->fragment_offset &
		     rte_cpu_to_be_16(RTE_IPV4_HDR_OFFSET_MASK)) != 0)
			return 0;
		proto = ip->next_proto_id;
		memcpy(key->src, v4_mapped, sizeof(v4_mapped));
		memcpy(&key->src[12], &ip->src_addr, 4);
		memcpy(key->dst, v4_mapped, sizeof(v4_mapped));
		memcpy(&key->dst[12], &ip->dst_addr, 4);
		key->ip_version = 4;
	} else if (ether_type == rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV6)) {
		const struct rte_ipv6_hdr *ip6 =
		    (const struct rte_ipv6_hdr *)l3;

		l4 = l3 + sizeof(*ip6);
		if (len < (uint32_t)(l4 - p) + 4)
			return 0;
		proto = ip6->proto;
		memcpy(key->src, ip6->src_addr, 16);
		memcpy(key->dst, ip6->dst_addr, 16);
		key->ip_version = 6;
	} else {
		return 0;
	}
	if (__onvm_has_ports(proto))
		memcpy(&ports, l4, 4);
	memcpy(&key->src_port, &ports, 4); /* and dst_port, next to it */
	key->proto = proto;
	key->reserved = 0;
	return 1;
}

/* The rest take the full walk, out of line to keep the loops small. */
static __rte_noinline void
__onvm_key_slow(const struct rte_mbuf *m, struct onvm_flow_key *key)
{
	onvm_flow_key_parse(m, key);
}

static __rte_always_inline void
__onvm_parse_one(const struct rte_mbuf *m, struct onvm_pkt_fields *f,
                 uint32_t i, uint32_t groups)
{
	struct onvm_flow_key *key = &f->keys[i];

	if (groups & (ONVM_FIELDS_L2 | ONVM_FIELDS_L3 | ONVM_FIELDS_L4 |
	              ONVM_FIELDS_TCPOPT))
		__onvm_parse_layout(m, f, i, groups);
	else if (!__onvm_key_fast(m, key))
		__onvm_key_slow(m, key);
	f->ip_version[i] = key->ip_version;
	f->proto[i] = key->proto;
	if (groups & ONVM_FIELDS_META) {
		f->length[i] = (uint16_t)rte_pktmbuf_pkt_len(m);
		f->in_port[i] = m->port;
		/* The manager's flow hash travels in the mbuf, when a route
		 * needed one; else it is the key's, as it would have been. */
		f->flow_hash[i] = m->ol_flags & RTE_MBUF_F_RX_RSS_HASH
		                      ? m->hash.rss
		                      : onvm_flow_key_hash(key);
	}
	if (groups & ONVM_FIELDS_TIME)
		f->rx_ns[i] = onvm_pkt_rx_ns((struct rte_mbuf *)(uintptr_t)m);
	f->verdicts[i] = ONVM_VERDICT(ONVM_ACTION_NEXT, 0);
}

/* How far ahead the parse loop prefetches: an mbuf's header first, its
 * data (whose address is in the header) once the header has arrived. A
 * packet takes a few ns to parse and a miss in L2 costs tens. */
#define PREFETCH_MBUF 32
#define PREFETCH_DATA 16

static __rte_always_inline void
__onvm_parse_batch(struct rte_mbuf **pkts, uint32_t n,
                   struct onvm_pkt_fields *f, uint32_t groups)
{
	uint32_t i;

	f->count = n;
	for (i = 0; i < n && i < PREFETCH_MBUF; i++)
		rte_prefetch0(pkts[i]);
	for (i = 0; i < n && i < PREFETCH_DATA; i++)
		rte_prefetch0(rte_pktmbuf_mtod(pkts[i], void *));
	/* Near the end the last packet is prefetched again: no branches. */
	for (i = 0; i < n; i++) {
		rte_prefetch0(pkts[RTE_MIN(i + PREFETCH_MBUF, n - 1)]);
		rte_prefetch0(rte_pktmbuf_mtod(
		    pkts[RTE_MIN(i + PREFETCH_DATA, n - 1)], void *));
		__onvm_parse_one(pkts[i], f, i, groups);
	}
}

void
onvm_pkt_fields_parse(struct rte_mbuf **pkts, uint32_t n,
                      struct onvm_pkt_fields *f, uint32_t groups)
{
	/* The usual asks get a loop compiled for them. */
	switch (groups & ~ONVM_FIELDS_KEYS) {
	case 0:
		__onvm_parse_batch(pkts, n, f, ONVM_FIELDS_KEYS);
		break;
	case ONVM_FIELDS_META:
		__onvm_parse_batch(pkts, n, f,
		                   ONVM_FIELDS_KEYS | ONVM_FIELDS_META);
		break;
	default:
		__onvm_parse_batch(pkts, n, f, groups);
		break;
	}
}

void
onvm_pkt_apply_verdicts(struct rte_mbuf **pkts, uint32_t n,
                        const uint32_t *verdicts)
{
	uint32_t i;

	for (i = 0; i < n; i++) {
		struct onvm_pkt_meta *meta = onvm_pkt_meta(pkts[i]);
		uint32_t action = verdicts[i] & ONVM_VERDICT_ACTION_MASK;

		meta->action = action <= ONVM_ACTION_OUT ? (uint8_t)action
		                                         : ONVM_ACTION_DROP;
		meta->destination =
		    (uint16_t)(verdicts[i] >> ONVM_VERDICT_DEST_SHIFT);
	}
}

void
onvm_pkt_apply_verdicts_counted(struct rte_mbuf **pkts, uint32_t n,
                                const uint32_t *verdicts, uint64_t *counts)
{
	uint64_t other[ONVM_ACTION_COUNT] = {0};
	uint32_t i;

	/* NEXT, the common verdict, costs neither a store nor a look at the
	 * packet. */
	for (i = 0; i < n; i++) {
		uint32_t action = verdicts[i] & ONVM_VERDICT_ACTION_MASK;
		struct onvm_pkt_meta *meta;

		if (likely(action == ONVM_ACTION_NEXT))
			continue;
		if (action >= ONVM_ACTION_COUNT)
			action = ONVM_ACTION_DROP;
		other[action]++;
		meta = onvm_pkt_meta(pkts[i]);
		meta->action = (uint8_t)action;
		meta->destination =
		    (uint16_t)(verdicts[i] >> ONVM_VERDICT_DEST_SHIFT);
	}
	for (i = 0; i < ONVM_ACTION_COUNT; i++)
		if (i != ONVM_ACTION_NEXT) {
			counts[i] += other[i];
			n -= (uint32_t)other[i];
		}
	counts[ONVM_ACTION_NEXT] += n;
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
