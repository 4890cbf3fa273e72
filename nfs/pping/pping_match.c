/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * pping's data path: parse a burst, stamp identifiers, match echoes, and
 * record the samples. Tables are open-addressed in NF-private memory, made
 * once; a lookup walks at most PPING_PROBES slots. Slots are never emptied:
 * one whose entry has aged out is reused in place, so every walk stays as
 * it was and no deletion is needed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>

#include <rte_hash_crc.h>
#include <rte_prefetch.h>

#include <onvm/pkt_time.h>

#include "pping.h"

#define DNS_PORT 53
#define DNS_HEADER_LEN 12
#define UDP_HEADER_LEN 8
#define ICMP_ECHO_LEN 8 /* type, code, checksum, id, sequence */
#define TCP_ACK 0x10

static inline uint16_t
pping_be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* ---- parsing ---- */

/* This packet's time and clock: its port's timestamp where it has one,
 * else when the manager took it from its port. */
static inline int
pping_time(struct rte_mbuf *m, struct pping_pkt *p)
{
	if (onvm_pkt_hw_timestamp_ns(m, &p->time)) {
		p->clock = PPING_CLOCK_PORT;
		return 1;
	}
	p->time = onvm_pkt_rx_ns(m);
	p->clock = PPING_CLOCK_RX;
	return p->time != 0; /* 0: an NF made it, no port took it */
}

static inline void
pping_parse_tcp(const struct rte_mbuf *m, const struct onvm_pkt_layout *lay,
                const uint8_t *l4, uint32_t len, struct pping_pkt *p)
{
	struct onvm_tcp_options opts;

	if (len < 20u)
		return;
	onvm_tcp_options_parse(m, lay->l4, &opts);
	if (!(opts.present & ONVM_TCPOPT_TIMESTAMP))
		return;
	p->kind = PPING_PKT_TCP;
	p->proto = PPING_TCP;
	p->id = opts.tsval;
	p->tsecr = opts.tsecr;
	p->ack = (l4[13] & TCP_ACK) != 0;
}

/* An echo's id stands in for both ports, its sequence is the identifier. */
static inline void
pping_parse_echo(const uint8_t *l4, uint32_t len, uint8_t request,
                 uint8_t reply, struct pping_pkt *p)
{
	if (len < ICMP_ECHO_LEN || (l4[0] != request && l4[0] != reply))
		return;
	p->kind = l4[0] == request ? PPING_PKT_REQUEST : PPING_PKT_REPLY;
	p->proto = PPING_ICMP;
	memcpy(&p->key.src_port, l4 + 4, 2);
	memcpy(&p->key.dst_port, l4 + 4, 2);
	p->id = pping_be16(l4 + 6);
}

/* A query goes to port 53, a response (QR set) comes from it. */
static inline void
pping_parse_dns(const uint8_t *l4, uint32_t len, struct pping_pkt *p)
{
	const uint8_t *dns = l4 + UDP_HEADER_LEN;
	int response;

	if (len < UDP_HEADER_LEN + DNS_HEADER_LEN)
		return;
	response = (dns[2] & 0x80) != 0;
	if (!response && pping_be16(l4 + 2) == DNS_PORT)
		p->kind = PPING_PKT_REQUEST;
	else if (response && pping_be16(l4) == DNS_PORT)
		p->kind = PPING_PKT_REPLY;
	else
		return;
	p->proto = PPING_DNS;
	p->id = pping_be16(dns);
}

static inline void
pping_parse(struct rte_mbuf *m, struct pping_pkt *p)
{
	const uint8_t *data = rte_pktmbuf_mtod(m, const uint8_t *);
	uint32_t data_len = rte_pktmbuf_data_len(m);
	struct onvm_pkt_layout lay;
	const uint8_t *l4;
	uint32_t len;

	p->kind = PPING_PKT_NONE;
	onvm_pkt_layout_parse(m, &lay);
	if (lay.l4 == 0 || lay.l4 >= data_len)
		return;
	l4 = data + lay.l4;
	len = data_len - lay.l4;
	onvm_flow_key_from_layout(m, &lay, &p->key);
	if (lay.proto == IPPROTO_TCP)
		pping_parse_tcp(m, &lay, l4, len, p);
	else if (lay.proto == IPPROTO_UDP)
		pping_parse_dns(l4, len, p);
	else if (lay.proto == IPPROTO_ICMP && lay.ip_version == 4)
		pping_parse_echo(l4, len, 8, 0, p);
	else if (lay.proto == IPPROTO_ICMPV6 && lay.ip_version == 6)
		pping_parse_echo(l4, len, 128, 129, p);
	if (p->kind == PPING_PKT_NONE)
		return;
	p->hash = onvm_flow_key_hash(&p->key);
	if (unlikely(!pping_time(m, p)))
		p->kind = PPING_PKT_NO_TIME;
}

/* ---- the tables ---- */

/* A slot never used: every key pping keeps is of IPv4 or IPv6. Times
 * cannot tell, a capture may start at 0. */
static inline int
pping_slot_free(const struct onvm_flow_key *key)
{
	return key->ip_version == 0;
}

static inline int
pping_key_eq(const struct onvm_flow_key *a, const struct onvm_flow_key *b)
{
	return memcmp(a, b, sizeof(*a)) == 0;
}

static inline void
pping_reverse(const struct onvm_flow_key *key, struct onvm_flow_key *rev)
{
	*rev = *key;
	memcpy(rev->src, key->dst, sizeof(rev->src));
	memcpy(rev->dst, key->src, sizeof(rev->dst));
	rev->src_port = key->dst_port;
	rev->dst_port = key->src_port;
}

static inline int
pping_flow_expired(const struct pping *pp, const struct pping_flow *f)
{
	uint64_t idle = f->key.proto == IPPROTO_TCP ? PPING_TCP_FLOW_IDLE_NS
	                                            : PPING_FLOW_IDLE_NS;

	return pp->latest[f->clock] - f->last_seen > idle;
}

static inline int
pping_stamp_expired(const struct pping *pp, const struct pping_stamp *s)
{
	return pp->latest[s->clock] - s->time > PPING_STAMP_MAX_AGE_NS;
}

static inline void
pping_flow_init(struct pping_flow *f, const struct onvm_flow_key *key,
                const struct pping_pkt *p)
{
	memset(f, 0, sizeof(*f));
	f->key = *key;
	f->clock = p->clock;
	f->last_seen = p->time;
}

/*
 * The flow state of direction @p key on packet @p p's clock; with @p create,
 * made when missing (NULL when its neighbourhood is full of live flows).
 */
static struct pping_flow *
pping_flow_get(struct pping *pp, const struct onvm_flow_key *key,
               const struct pping_pkt *p, int create)
{
	struct pping_flow *free_slot = NULL;
	unsigned int i;

	for (i = 0; i < PPING_PROBES; i++) {
		struct pping_flow *f =
		    &pp->flow_tab[(p->hash + i) & pp->flow_mask];

		if (pping_slot_free(&f->key)) {
			if (free_slot == NULL)
				free_slot = f;
			break;
		}
		if (pping_key_eq(&f->key, key)) {
			if (f->clock == p->clock && !pping_flow_expired(pp, f))
				return f;
			if (!create)
				return NULL;
			pping_flow_init(f, key, p); /* a new flow of that key */
			return f;
		}
		if (free_slot == NULL && pping_flow_expired(pp, f))
			free_slot = f;
	}
	if (!create)
		return NULL;
	if (free_slot == NULL) {
		pp->events[PPING_EV_FLOWS_FULL]++;
		return NULL;
	}
	pping_flow_init(free_slot, key, p);
	return free_slot;
}

static inline uint32_t
pping_stamp_hash(uint32_t flow_hash, uint32_t id)
{
	return rte_hash_crc_4byte(id, flow_hash);
}

/*
 * Stamp identifier @p id of packet @p p, unless it is stamped already: the
 * first sighting stays. Room is an empty slot, one aged out, or else the
 * oldest used stamp of the neighbourhood.
 *
 * @return 1 if stamped now.
 */
static int
pping_stamp(struct pping *pp, const struct pping_pkt *p, uint32_t id)
{
	const uint32_t h = pping_stamp_hash(p->hash, id);
	struct pping_stamp *slot = NULL, *oldest_used = NULL;
	unsigned int i;

	for (i = 0; i < PPING_PROBES; i++) {
		struct pping_stamp *s =
		    &pp->stamp_tab[(h + i) & pp->stamp_mask];

		if (pping_slot_free(&s->key)) {
			if (slot == NULL)
				slot = s;
			break;
		}
		if (s->id == id && pping_key_eq(&s->key, &p->key)) {
			if (s->clock == p->clock && !pping_stamp_expired(pp, s))
				return 0;
			slot = s; /* aged out: this one is reused */
			break;
		}
		if (slot == NULL && pping_stamp_expired(pp, s))
			slot = s;
		else if (s->used &&
		         (oldest_used == NULL || s->time < oldest_used->time))
			oldest_used = s;
	}
	if (slot == NULL) {
		if (oldest_used == NULL) {
			pp->events[PPING_EV_STAMPS_FULL]++;
			return 0;
		}
		slot = oldest_used;
		pp->events[PPING_EV_STAMPS_EVICTED]++;
	}
	slot->key = p->key;
	slot->id = id;
	slot->clock = p->clock;
	slot->used = 0;
	slot->time = p->time;
	pp->events[PPING_EV_TIMESTAMPED]++;
	return 1;
}

/* The stamp of @p id sent in direction @p key, or NULL. */
static struct pping_stamp *
pping_stamp_find(struct pping *pp, const struct onvm_flow_key *key,
                 uint32_t flow_hash, uint32_t id)
{
	const uint32_t h = pping_stamp_hash(flow_hash, id);
	unsigned int i;

	for (i = 0; i < PPING_PROBES; i++) {
		struct pping_stamp *s =
		    &pp->stamp_tab[(h + i) & pp->stamp_mask];

		if (pping_slot_free(&s->key))
			return NULL;
		if (s->id == id && pping_key_eq(&s->key, key))
			return s;
	}
	return NULL;
}

/* Stamp a new identifier of flow @p f, at most once per --sample-limit. */
static inline void
pping_stamp_limited(struct pping *pp, struct pping_flow *f,
                    const struct pping_pkt *p)
{
	if ((f->seen & PPING_SEEN_STAMP) &&
	    p->time - f->last_stamp < pp->sample_limit_ns) {
		pp->events[PPING_EV_RATE_LIMITED]++;
		return;
	}
	if (pping_stamp(pp, p, p->id)) {
		f->seen |= PPING_SEEN_STAMP;
		f->last_stamp = p->time;
	}
}

/* ---- subnets ---- */

void
pping_subnet_label(const uint8_t addr[16], uint8_t ip_version, uint8_t prefix,
                   char *buf, size_t len)
{
	char text[INET6_ADDRSTRLEN];

	if (ip_version == 4)
		inet_ntop(AF_INET, addr + 12, text, sizeof(text));
	else
		inet_ntop(AF_INET6, addr, text, sizeof(text));
	snprintf(buf, len, "%s/%u", text, prefix);
}

/* The histogram of the subnet of @p addr, made at its first sample. */
static struct onvm_metric_series *
pping_subnet_series(struct pping *pp, const uint8_t addr[16],
                    uint8_t ip_version)
{
	const unsigned int prefix = ip_version == 4 ? pp->prefix4 : pp->prefix6;
	/* IPv4 addresses are IPv4-mapped: their prefix starts at bit 96. */
	const unsigned int bits = ip_version == 4 ? 96 + prefix : prefix;
	uint8_t masked[16] = {0};
	unsigned int i;
	uint32_t h;

	memcpy(masked, addr, bits / 8);
	if (bits % 8)
		masked[bits / 8] =
		    addr[bits / 8] & (uint8_t)(0xff << (8 - bits % 8));
	h = rte_hash_crc(masked, sizeof(masked), ip_version);
	for (i = 0; i <= pp->subnet_mask; i++) {
		struct pping_subnet *s =
		    &pp->subnet_tab[(h + i) & pp->subnet_mask];
		char label[ONVM_METRICS_VALUE_MAX];

		if (s->series != NULL) {
			if (s->ip_version == ip_version &&
			    memcmp(s->addr, masked, sizeof(masked)) == 0)
				return s->series;
			continue;
		}
		if (pp->nsubnets >= pp->subnets)
			break;
		pping_subnet_label(masked, ip_version, (uint8_t)prefix, label,
		                   sizeof(label));
		s->series = onvm_nf_metrics_add_series(pp->metrics,
		                                       PPING_FAMILY_RTT, label);
		if (s->series == NULL)
			break;
		memcpy(s->addr, masked, sizeof(masked));
		s->ip_version = ip_version;
		pp->nsubnets++;
		return s->series;
	}
	pp->events[PPING_EV_SUBNETS_FULL]++;
	if (pp->other == NULL)
		pp->other = onvm_nf_metrics_add_series(
		    pp->metrics, PPING_FAMILY_RTT, "other");
	return pp->other;
}

/* ---- samples ---- */

/* One RTT sample of identifiers sent in direction @p flow (state @p f,
 * NULL if it has none), echoed by packet @p p. */
static void
pping_sample(struct pping *pp, struct pping_flow *f,
             const struct onvm_flow_key *flow, uint64_t rtt,
             const struct pping_pkt *p)
{
	struct onvm_metric_series *series = f ? f->series : NULL;
	uint64_t min_rtt = rtt, srtt = rtt, samples = 1;

	if (f != NULL) {
		if (f->samples == 0 || rtt < f->min_rtt)
			f->min_rtt = rtt;
		f->srtt = f->samples == 0 ? rtt : (7 * f->srtt + rtt) / 8;
		f->samples++;
		min_rtt = f->min_rtt;
		srtt = f->srtt;
		samples = f->samples;
	}
	/* The subnet of the host that answered: where the identifier went. */
	if (series == NULL) {
		series = pping_subnet_series(pp, flow->dst, flow->ip_version);
		if (f != NULL)
			f->series = series;
	}
	if (series != NULL)
		onvm_metric_observe(&pp->metrics->families[PPING_FAMILY_RTT],
		                    series, (double)rtt / 1e9);
	pp->events[PPING_EV_RTT_TCP + p->proto]++;
	if (pp->nout >= PPING_OUT_MAX) {
		pp->events[PPING_EV_OUTPUT_DROPPED]++;
		return;
	}
	pp->out[pp->nout++] = (struct pping_sample){
	    .flow = *flow,
	    .time = p->time,
	    .rtt = rtt,
	    .min_rtt = min_rtt,
	    .srtt = srtt,
	    .samples = samples,
	    .subnet = series ? series->value : "",
	    .proto = p->proto,
	    .clock = p->clock,
	};
}

/* Packet @p p echoes identifier @p id: a sample if its stamp is unused. */
static void
pping_match(struct pping *pp, const struct pping_pkt *p, uint32_t id)
{
	struct onvm_flow_key sent;
	struct pping_stamp *s;

	pping_reverse(&p->key, &sent);
	/* The flow hash is symmetric: the reverse key hashes alike. */
	s = pping_stamp_find(pp, &sent, p->hash, id);
	if (s == NULL || s->used)
		return;
	if (s->clock != p->clock) {
		pp->events[PPING_EV_CLOCK_MISMATCH]++;
		return;
	}
	if (pping_stamp_expired(pp, s) || p->time < s->time)
		return;
	s->used = 1; /* kept until it ages out */
	pping_sample(pp, pping_flow_get(pp, &sent, p, 0), &sent,
	             p->time - s->time, p);
}

static void
pping_tcp(struct pping *pp, const struct pping_pkt *p)
{
	struct pping_flow *f = pping_flow_get(pp, &p->key, p, 1);

	if (f != NULL) {
		f->last_seen = p->time;
		/* TSvals repeat over many segments: only a new one is timed. */
		if (!(f->seen & PPING_SEEN_TSVAL) || p->id != f->last_tsval) {
			f->seen |= PPING_SEEN_TSVAL;
			f->last_tsval = p->id;
			pping_stamp_limited(pp, f, p);
		}
		if (!p->ack || p->tsecr == 0)
			return;
		/* An echo repeated by the next segments was matched already. */
		if ((f->seen & PPING_SEEN_TSECR) && p->tsecr == f->last_tsecr)
			return;
		f->seen |= PPING_SEEN_TSECR;
		f->last_tsecr = p->tsecr;
	} else if (!p->ack || p->tsecr == 0) {
		return;
	}
	pping_match(pp, p, p->tsecr);
}

static inline void
pping_one(struct pping *pp, const struct pping_pkt *p)
{
	struct pping_flow *f;

	if (p->kind == PPING_PKT_TCP) {
		pping_tcp(pp, p);
	} else if (p->kind == PPING_PKT_REQUEST) {
		f = pping_flow_get(pp, &p->key, p, 1);
		if (f != NULL) {
			f->last_seen = p->time;
			pping_stamp_limited(pp, f, p);
		}
	} else {
		pping_match(pp, p, p->id);
	}
}

/* How far ahead the parse loop prefetches packet data. */
#define PPING_PREFETCH 4

void
pping_burst(struct pping *pp, struct rte_mbuf **pkts, uint16_t n)
{
	struct pping_pkt *parsed = pp->parsed;
	uint16_t i;

	for (i = 0; i < n && i < PPING_PREFETCH; i++)
		rte_prefetch0(rte_pktmbuf_mtod(pkts[i], void *));
	/* Parse all first, prefetching each one's flow slot, so that the
	 * table misses of the burst overlap. */
	for (i = 0; i < n; i++) {
		struct pping_pkt *p = &parsed[i];

		if (i + PPING_PREFETCH < n)
			rte_prefetch0(
			    rte_pktmbuf_mtod(pkts[i + PPING_PREFETCH], void *));
		pping_parse(pkts[i], p);
		if (p->kind == PPING_PKT_NONE)
			continue;
		if (unlikely(p->kind == PPING_PKT_NO_TIME)) {
			p->kind = PPING_PKT_NONE;
			pp->events[PPING_EV_NO_TIME]++;
			continue;
		}
		rte_prefetch0(&pp->flow_tab[p->hash & pp->flow_mask]);
	}
	for (i = 0; i < n; i++) {
		const struct pping_pkt *p = &parsed[i];

		if (p->kind == PPING_PKT_NONE)
			continue;
		if (p->time > pp->latest[p->clock])
			pp->latest[p->clock] = p->time;
		pping_one(pp, p);
	}
}

static uint32_t
pping_pow2_at_least(uint64_t n)
{
	uint64_t size = 1;

	while (size < n)
		size <<= 1;
	return (uint32_t)size;
}

int
pping_tables_alloc(struct pping *pp)
{
	uint32_t flow_slots = pping_pow2_at_least(2ULL * pp->flows);
	uint32_t stamp_slots = pping_pow2_at_least(8ULL * pp->flows);
	uint32_t subnet_slots = pping_pow2_at_least(2ULL * pp->subnets);

	pp->flow_tab = calloc(flow_slots, sizeof(*pp->flow_tab));
	pp->stamp_tab = calloc(stamp_slots, sizeof(*pp->stamp_tab));
	pp->subnet_tab = calloc(subnet_slots, sizeof(*pp->subnet_tab));
	pp->out = calloc(PPING_OUT_MAX, sizeof(*pp->out));
	if (pp->flow_tab == NULL || pp->stamp_tab == NULL ||
	    pp->subnet_tab == NULL || pp->out == NULL) {
		pping_tables_free(pp);
		return -ENOMEM;
	}
	pp->flow_mask = flow_slots - 1;
	pp->stamp_mask = stamp_slots - 1;
	pp->subnet_mask = subnet_slots - 1;
	return 0;
}

void
pping_tables_free(struct pping *pp)
{
	free(pp->flow_tab);
	free(pp->stamp_tab);
	free(pp->subnet_tab);
	free(pp->out);
	pp->flow_tab = NULL;
	pp->stamp_tab = NULL;
	pp->subnet_tab = NULL;
	pp->out = NULL;
}
