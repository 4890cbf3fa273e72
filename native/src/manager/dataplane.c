/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The manager's data plane: each worker lcore receives bursts from its
 * ports, takes what its NFs return, routes every packet by its action and
 * chain, and sends per-destination batches. No locks, no allocation, one
 * syscall only when waking a sleeping shared-core NF.
 */
#include <rte_branch_prediction.h>
#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_prefetch.h>
#include <rte_ring.h>

#include <onvm/flow.h>
#include <onvm/latency.h>

#include "../common/clone.h"
#include "../common/prefetch.h"
#include "../common/wake.h"
#include "mgr_internal.h"

void
__onvm_free_pkts(struct rte_mbuf **pkts, unsigned int n)
{
	unsigned int i;

	/* A free mbuf must never look owned by an NF: reclaim trusts it. */
	for (i = 0; i < n; i++)
		onvm_pkt_meta(pkts[i])->owner = ONVM_OWNER_NONE;
	rte_pktmbuf_free_bulk(pkts, n);
}

static inline void
__onvm_drop(struct rte_mbuf *m)
{
	__onvm_free_pkts(&m, 1);
}

/* Put an NF's buffered packets on its rx ring. Waking it, if it sleeps,
 * is left to __onvm_flush_all, once for every NF fed. */
static void
__onvm_flush_nf(struct __onvm_worker *w, uint16_t nf_id)
{
	struct __onvm_pkt_buffer *buf = &w->to_nf[nf_id];
	struct onvm_nf *nf = &w->sh->nfs[nf_id];
	unsigned int sent, room;

	if (__onvm_capturing(w->sh, ONVM_CAPTURE_NF_IN, nf_id))
		__onvm_capture_copy(w, buf->pkts, buf->count, 0);
	/* A lone worker is the only producer of every rx ring: no CAS, a
	 * locked instruction that would also wait for all the stores to the
	 * burst's metadata to drain. */
	if (likely(w->sh->num_workers == 1))
		sent = rte_ring_sp_enqueue_burst(
		    nf->rx_ring, (void **)buf->pkts, buf->count, &room);
	else
		sent = rte_ring_mp_enqueue_burst(
		    nf->rx_ring, (void **)buf->pkts, buf->count, &room);
	if (unlikely(room < w->sh->nf_ring_size / 4)) {
		uint64_t bit = UINT64_C(1) << nf_id;

		if (!(w->stalled_nf_mask & bit) &&
		    !(w->congested_nf_mask & bit)) {
			if (w->congested_nf_mask == 0)
				w->congested_tsc = rte_rdtsc();
			w->congested_nf_mask |= bit;
		}
	} else if (unlikely(w->stalled_nf_mask) &&
	           room >= w->sh->nf_ring_size / 2) {
		w->stalled_nf_mask &= ~(UINT64_C(1) << nf_id);
	}
	w->stats->nf_enq[nf_id] += sent;
	if (unlikely(sent < buf->count)) {
		w->stats->nf_enq_drop[nf_id] += buf->count - sent;
		__onvm_free_pkts(&buf->pkts[sent], buf->count - sent);
	}
	buf->count = 0;
}

static unsigned int
__onvm_rx_waiting(const struct onvm_shared *sh, unsigned int id,
                  const void *arg)
{
	RTE_SET_USED(arg);
	return rte_ring_count(sh->nfs[id].rx_ring);
}

static void
__onvm_flush_port(struct __onvm_worker *w, uint16_t port_id)
{
	struct __onvm_pkt_buffer *buf = &w->to_port[port_id];
	uint16_t sent;

	if (__onvm_capturing(w->sh, ONVM_CAPTURE_PORT_TX, port_id))
		__onvm_capture_copy(w, buf->pkts, buf->count, 0);
	sent = rte_eth_tx_burst(port_id, (uint16_t)w->index, buf->pkts,
	                        buf->count);
	w->stats->port_tx[port_id] += sent;
	if (unlikely(sent < buf->count)) {
		w->stats->port_tx_drop[port_id] += buf->count - sent;
		__onvm_free_pkts(&buf->pkts[sent], buf->count - sent);
	}
	buf->count = 0;
}

/* Send every buffer. An NF stays dirty until here even when a full buffer
 * was sent on the way, so that every NF fed is checked for a wake-up. */
static inline void
__onvm_flush_all(struct __onvm_worker *w)
{
	uint64_t shared_fed = 0;

	while (w->dirty_nf_mask) {
		unsigned int id = __builtin_ctzll(w->dirty_nf_mask);

		w->dirty_nf_mask &= w->dirty_nf_mask - 1;
		if (w->to_nf[id].count)
			__onvm_flush_nf(w, (uint16_t)id);
		if (w->sh->nfs[id].flags & ONVM_NF_FLAG_SHARED_CORE)
			shared_fed |= UINT64_C(1) << id;
	}
	if (shared_fed | w->wake_pending.mask)
		__onvm_wake_batched(w->sh, &w->wake_pending, shared_fed,
		                    __onvm_rx_waiting, NULL);
	while (w->dirty_port_mask) {
		unsigned int id = __builtin_ctz(w->dirty_port_mask);

		w->dirty_port_mask &= w->dirty_port_mask - 1;
		if (w->to_port[id].count)
			__onvm_flush_port(w, (uint16_t)id);
	}
}

/* For the control worker's code in other files; the loop below calls the
 * inlined version. */
void
__onvm_flush(struct __onvm_worker *w)
{
	__onvm_flush_all(w);
}

static inline void
__onvm_to_nf(struct __onvm_worker *w, struct rte_mbuf *m, uint16_t nf_id)
{
	struct __onvm_pkt_buffer *buf = &w->to_nf[nf_id];
	struct onvm_pkt_meta *meta = onvm_pkt_meta(m);

	meta->owner = nf_id;
	meta->action = ONVM_ACTION_NEXT; /* the NF's default */
	*onvm_pkt_hop_stamp(m) = onvm_hop_stamp_of(w->now);
	buf->pkts[buf->count++] = m;
	w->dirty_nf_mask |= UINT64_C(1) << nf_id;
	if (unlikely(buf->count == w->sh->burst_size))
		__onvm_flush_nf(w, nf_id);
}

/* Port RX to port TX of a packet of a chain (not one an NF made, nor a
 * copy), for one packet in latency_sample. */
static inline void
__onvm_chain_latency(struct __onvm_worker *w, const struct onvm_pkt_meta *meta)
{
	const struct onvm_shared *sh = w->sh;

	if (likely(w->latency_countdown > 1)) {
		w->latency_countdown--;
		return;
	}
	if (sh->latency_sample == 0 || meta->chain == 0 ||
	    meta->timestamp == 0 || meta->timestamp > w->now)
		return;
	w->latency_countdown = sh->latency_sample;
	onvm_hist_record(
	    &sh->chain_latency[w->index * ONVM_MAX_CHAINS +
	                       sh->chains.bodies[meta->chain].chain_id],
	    w->now - meta->timestamp);
}

static inline void
__onvm_to_port(struct __onvm_worker *w, struct rte_mbuf *m, uint16_t port_id)
{
	struct __onvm_pkt_buffer *buf;

	if (unlikely(port_id >= ONVM_MAX_PORTS ||
	             !w->sh->ports[port_id].enabled)) {
		w->stats->no_dest++;
		__onvm_drop(m);
		return;
	}
	buf = &w->to_port[port_id];
	__onvm_chain_latency(w, onvm_pkt_meta(m));
	onvm_pkt_meta(m)->owner = ONVM_OWNER_MANAGER;
	buf->pkts[buf->count++] = m;
	w->dirty_port_mask |= UINT32_C(1) << port_id;
	if (unlikely(buf->count == w->sh->burst_size))
		__onvm_flush_port(w, port_id);
}

/* The hot path's own copy: the exported one below is reached through
 * the PLT and never inlined. */
static inline void
__onvm_to_service(struct __onvm_worker *w, struct rte_mbuf *m,
                  uint16_t service_id)
{
	uint16_t nf_id = 0;

	if (likely(service_id < ONVM_MAX_SERVICES)) {
		const struct onvm_service *s = &w->sh->services[service_id];

		/* One instance needs no hash: any bucket names it. */
		nf_id = __onvm_service_pick(
		    s, s->count > 1 ? onvm_pkt_flow_hash(m) : 0);
	}
	if (unlikely(nf_id == 0)) {
		w->stats->no_dest++;
		__onvm_drop(m);
		return;
	}
	__onvm_to_nf(w, m, nf_id);
}

void
__onvm_dispatch_to_service(struct __onvm_worker *w, struct rte_mbuf *m,
                           uint16_t service_id)
{
	__onvm_to_service(w, m, service_id);
}

/* A copy of @p m to @p service (a tee hop, a mirroring flow rule), sharing
 * its data. The copy's chain is the empty one: it ends at that service. */
static void
__onvm_tee(struct __onvm_worker *w, struct rte_mbuf *m, uint16_t service)
{
	struct rte_mbuf *c =
	    __onvm_pkt_clone(w->sh->pktmbuf_pool, w->pool_cache, m);
	struct onvm_pkt_meta *meta;

	if (unlikely(c == NULL)) {
		w->stats->tee_fail++;
		return;
	}
	/* Before any NF can see a shared packet: writers look for them. */
	if (unlikely(!w->sh->clones_made))
		__atomic_store_n(&w->sh->clones_made, 1, __ATOMIC_RELEASE);
	meta = onvm_pkt_meta(c);
	meta->chain = 0;
	meta->chain_gen = 0;
	meta->chain_index = 0;
	meta->flags = 0;
	w->stats->tee_copies++;
	__onvm_to_service(w, c, service);
}

/* Send a packet to hop meta->chain_index of its chain, copying it at each
 * tee hop on the way. */
static inline void
__onvm_to_hop(struct __onvm_worker *w, struct rte_mbuf *m,
              struct onvm_pkt_meta *meta)
{
	struct onvm_chain_hop hop;

	for (;;) {
		switch (__onvm_chain_hop(w->sh, meta->chain, meta->chain_gen,
		                         meta->chain_index, &hop)) {
		case __ONVM_HOP_GONE:
			w->stats->chain_gone++;
			__onvm_drop(m);
			return;
		case __ONVM_HOP_END:
			w->stats->chain_end++;
			__onvm_drop(m);
			return;
		default:
			break;
		}
		if (likely(hop.kind != ONVM_HOP_TEE))
			break;
		__onvm_tee(w, m, hop.dest);
		meta->chain_index++;
	}
	if (hop.kind == ONVM_HOP_NF)
		__onvm_to_service(w, m, hop.dest);
	else
		__onvm_to_port(w, m, hop.dest);
}

void
__onvm_route_from_nf(struct __onvm_worker *w, struct rte_mbuf **pkts,
                     unsigned int n)
{
	unsigned int i;

	/* All the burst's lines at once: their transfers overlap. */
	for (i = 0; i < n; i++)
		__onvm_prefetch_for_write(onvm_pkt_meta(pkts[i]));
	for (i = 0; i < n; i++) {
		struct rte_mbuf *m = pkts[i];
		struct onvm_pkt_meta *meta = onvm_pkt_meta(m);

		meta->owner = ONVM_OWNER_MANAGER;
		switch (meta->action) {
		case ONVM_ACTION_NEXT:
			meta->chain_index++;
			__onvm_to_hop(w, m, meta);
			break;
		case ONVM_ACTION_TONF:
			__onvm_to_service(w, m, meta->destination);
			break;
		case ONVM_ACTION_OUT:
			__onvm_to_port(w, m, meta->destination);
			break;
		default:
			w->stats->act_drop++;
			__onvm_drop(m);
			break;
		}
	}
}

/* The metadata of a packet from a port, on hop 0 of chain body `body`. */
static inline struct onvm_pkt_meta *
__onvm_start_meta(struct rte_mbuf *m, uint16_t body, uint32_t gen, uint64_t now)
{
	struct onvm_pkt_meta *meta = onvm_pkt_meta(m);

	meta->action = ONVM_ACTION_NEXT;
	meta->chain_index = 0;
	meta->destination = 0;
	meta->owner = ONVM_OWNER_MANAGER;
	meta->chain = body;
	meta->chain_gen = gen;
	meta->flags = 0; /* a recycled mbuf's marks are not this packet's */
	meta->timestamp = now;
	return meta;
}

/* Start a packet from a port on hop 0 of chain body `body`. */
static inline void
__onvm_start(struct __onvm_worker *w, struct rte_mbuf *m, uint16_t body,
             uint32_t gen, uint64_t now)
{
	__onvm_to_hop(w, m, __onvm_start_meta(m, body, gen, now));
}

static inline uint32_t
__onvm_body_gen(const struct __onvm_worker *w, uint16_t body)
{
	return __atomic_load_n(&w->sh->chains.bodies[body].generation,
	                       __ATOMIC_RELAXED);
}

/* True if match key @p k, its addresses and match word loaded (a[0..3]:
 * src, dst) and its ports in host order, matches scan rule @p r. */
static inline int
__onvm_scan_match(const struct __onvm_flow_scan_rule *r,
                  const struct onvm_match_key *k, const uint64_t *a,
                  uint32_t word, uint16_t sport, uint16_t dport)
{
	uint64_t addr = ((a[0] ^ r->src[0]) & r->src_mask[0]) |
	                ((a[1] ^ r->src[1]) & r->src_mask[1]) |
	                ((a[2] ^ r->dst[0]) & r->dst_mask[0]) |
	                ((a[3] ^ r->dst[1]) & r->dst_mask[1]);

	return addr == 0 &&
	       (r->family == 0 || r->family == k->flow.ip_version) &&
	       (r->proto == 0 || r->proto == k->flow.proto) &&
	       ((word ^ r->word) & r->word_mask) == 0 && sport >= r->sport_lo &&
	       sport <= r->sport_hi && dport >= r->dport_lo &&
	       dport <= r->dport_hi;
}

/* Test each key against the newest rules, one by one (by rank: the first
 * that matches is the tier's). */
static inline void
__onvm_scan_tier(const struct __onvm_flow_tier *tier,
                 const struct onvm_match_key *keys, unsigned int n,
                 const struct __onvm_flow_entry **best)
{
	unsigned int i, j;

	for (i = 0; i < n; i++) {
		const struct onvm_match_key *k = &keys[i];
		uint16_t sport = rte_be_to_cpu_16(k->flow.src_port);
		uint16_t dport = rte_be_to_cpu_16(k->flow.dst_port);
		uint64_t a[4];
		uint32_t word;

		if (k->flow.ip_version == 0)
			continue; /* as in the ACL: no rule matches non-IP */
		memcpy(a, k->flow.src, 16);
		memcpy(a + 2, k->flow.dst, 16);
		memcpy(&word, &k->vlan, sizeof(word));
		for (j = 0; j < tier->n; j++) {
			const struct __onvm_flow_entry *e = &tier->entries[j];

			if (e->dead || !__onvm_scan_match(&tier->scan[j], k, a,
			                                  word, sport, dport))
				continue;
			if (best[i] == NULL || e->rank > best[i]->rank)
				best[i] = e;
			break;
		}
	}
}

/* The best rule of each packet of a burst over every tier of @p rules:
 * best[i] NULL for none. */
static inline void
__onvm_classify_by_rules(const struct __onvm_flow_rules *rules,
                         const struct onvm_match_key *keys, unsigned int n,
                         const struct __onvm_flow_entry **best)
{
	uint32_t results[ONVM_BURST_MAX];
	unsigned int i, t;

	for (i = 0; i < n; i++)
		best[i] = NULL;
	for (t = 0; t < ONVM_FLOW_TIERS; t++) {
		const struct __onvm_flow_tier *tier = rules->tiers[t];

		if (tier == NULL)
			continue;
		if (tier->classifier == NULL) {
			__onvm_scan_tier(tier, keys, n, best);
			continue;
		}
		onvm_classifier_classify_match(tier->classifier, keys, n,
		                               results);
		for (i = 0; i < n; i++) {
			const struct __onvm_flow_entry *e;

			if (results[i] == 0)
				continue;
			e = &tier->entries[results[i] - 1];
			if (!e->dead &&
			    (best[i] == NULL || e->rank > best[i]->rank))
				best[i] = e;
		}
	}
}

/* A burst from a port, with flow rules in force: keys for the whole
 * burst, one classifier call per tier, then each packet as its rule says:
 * to its chain (a copy to its mirror service first), or dropped. */
static void
__onvm_receive_by_rules(struct __onvm_worker *w, uint16_t port_id,
                        struct rte_mbuf **pkts, unsigned int n,
                        const struct __onvm_flow_rules *rules, uint64_t now)
{
	/* A port's symmetric RSS hash stays the flow hash, as without rules. */
	const uint64_t keep =
	    w->sh->ports[port_id].rss_flow_hash ? RTE_MBUF_F_RX_RSS_HASH : 0;
	const volatile uint16_t *head = w->sh->chains.head;
	struct onvm_match_key keys[ONVM_BURST_MAX];
	const struct __onvm_flow_entry *best[ONVM_BURST_MAX];
	struct onvm_worker_stats *stats = w->stats;
	unsigned int i;

	/* Every header at once: their misses overlap. */
	for (i = 0; i < n; i++)
		rte_prefetch0(rte_pktmbuf_mtod(pkts[i], void *));
	for (i = 0; i < n; i++) {
		onvm_match_key_parse(pkts[i], (uint8_t)port_id, &keys[i]);
		if (!(pkts[i]->ol_flags & keep))
			onvm_pkt_set_flow_hash(pkts[i], &keys[i].flow);
	}
	__onvm_classify_by_rules(rules, keys, n, best);
	for (i = 0; i < n; i++) {
		const struct __onvm_flow_entry *e = best[i];
		struct rte_mbuf *m = pkts[i];
		struct onvm_pkt_meta *meta;
		uint16_t body;

		if (e == NULL) {
			body = head[ONVM_DEFAULT_CHAIN];
			__onvm_start(w, m, body, __onvm_body_gen(w, body), now);
			continue;
		}
		stats->flow_hits[e->slot]++;
		stats->flow_bytes[e->slot] += rte_pktmbuf_pkt_len(m);
		if (unlikely(e->action == ONVM_FLOW_ACTION_DROP)) {
			stats->flow_drop++;
			__onvm_drop(m);
			continue;
		}
		body = head[e->chain];
		meta =
		    __onvm_start_meta(m, body, __onvm_body_gen(w, body), now);
		/* The copy takes the packet's metadata: set it first. */
		if (e->mirror)
			__onvm_tee(w, m, e->mirror);
		__onvm_to_hop(w, m, meta);
	}
}

/* A burst from a port onto the default chain. The flow hash only when a
 * service has several instances to choose from, and then a port's own
 * symmetric RSS hash where it has one; another hash a port gave is not a
 * flow hash and is marked so. */
static void
__onvm_receive(struct __onvm_worker *w, uint16_t port_id,
               struct rte_mbuf **pkts, unsigned int n)
{
	const struct __onvm_flow_rules *rules = __atomic_load_n(
	    (struct __onvm_flow_rules **)&w->sh->flow_rules, __ATOMIC_ACQUIRE);
	uint16_t body = w->sh->chains.head[ONVM_DEFAULT_CHAIN];
	uint32_t gen = __onvm_body_gen(w, body);
	uint64_t now = rte_rdtsc();

	w->now = now;
	unsigned int i;

	if (rules != NULL) {
		__onvm_receive_by_rules(w, port_id, pkts, n, rules, now);
		return;
	}
	if (w->sh->ports[port_id].rss_flow_hash) {
		for (i = 0; i < n; i++)
			__onvm_start(w, pkts[i], body, gen, now);
	} else if (w->sh->scaled_services) {
		for (i = 0; i < n; i++)
			rte_prefetch0(rte_pktmbuf_mtod(pkts[i], void *));
		for (i = 0; i < n; i++) {
			struct onvm_flow_key key;

			onvm_flow_key_parse(pkts[i], &key);
			onvm_pkt_set_flow_hash(pkts[i], &key);
			__onvm_start(w, pkts[i], body, gen, now);
		}
	} else {
		for (i = 0; i < n; i++) {
			pkts[i]->ol_flags &= ~RTE_MBUF_F_RX_RSS_HASH;
			__onvm_start(w, pkts[i], body, gen, now);
		}
	}
}

/* True while some NF this worker fed is still short of room. */
static int
__onvm_congested(struct __onvm_worker *w)
{
	uint64_t mask = w->congested_nf_mask;

	while (mask) {
		unsigned int id = __builtin_ctzll(mask);
		const struct onvm_nf *nf = &w->sh->nfs[id];

		mask &= mask - 1;
		if (nf->state != ONVM_NF_RUNNING ||
		    rte_ring_free_count(nf->rx_ring) >= w->sh->nf_ring_size / 2)
			w->congested_nf_mask &= ~(UINT64_C(1) << id);
	}
	if (w->congested_nf_mask != 0 &&
	    rte_rdtsc() - w->congested_tsc >
	        w->sh->tsc_hz / 1000000 * ONVM_CONGESTION_MAX_US) {
		/* Stuck, not slow: drop at its ring rather than starve others.
		 */
		w->stalled_nf_mask |= w->congested_nf_mask;
		w->congested_nf_mask = 0;
	}
	return w->congested_nf_mask != 0;
}

static void
__onvm_poll_ports(struct __onvm_worker *w)
{
	struct rte_mbuf *pkts[ONVM_BURST_MAX];
	unsigned int p;

	for (p = 0; p < w->n_rx_ports; p++) {
		uint16_t port_id = w->rx_ports[p].port_id;
		uint16_t n =
		    rte_eth_rx_burst(port_id, w->rx_ports[p].queue_id, pkts,
		                     (uint16_t)w->sh->burst_size);

		if (n == 0)
			continue;
		w->stats->port_rx[port_id] += n;
		if (__onvm_capturing(w->sh, ONVM_CAPTURE_PORT_RX, port_id))
			__onvm_capture_copy(w, pkts, n, 0);
		__onvm_receive(w, port_id, pkts, n);
	}
}

static void
__onvm_poll_nfs(struct __onvm_worker *w)
{
	struct rte_mbuf *pkts[ONVM_BURST_MAX];
	uint64_t mask = w->tx_nf_mask;

	/* While an NF is short of room, only congested NFs' output moves:
	 * the others (those feeding it among them) wait on their tx rings,
	 * as port RX does, instead of overflowing its ring; past the
	 * congestion limit it counts as stuck and nothing waits for it.
	 * Not with direct hand-over: there NFs wait on each other's rings
	 * already, and one waiting here could be the one a congested NF
	 * waits on, a cycle no NF can see. */
	if (unlikely(w->congested_nf_mask != 0) &&
	    w->sh->nf_to_nf != ONVM_NF_TO_NF_DIRECT && __onvm_congested(w))
		mask &= w->congested_nf_mask;
	while (mask) {
		unsigned int id = __builtin_ctzll(mask);
		unsigned int n;

		mask &= mask - 1;
		n = rte_ring_dequeue_burst(w->sh->nfs[id].tx_ring,
		                           (void **)pkts, w->sh->burst_size,
		                           NULL);
		if (n == 0)
			continue;
		w->now = rte_rdtsc();
		w->stats->nf_deq[id] += n;
		if (__onvm_capturing(w->sh, ONVM_CAPTURE_NF_OUT, (uint16_t)id))
			__onvm_capture_copy(w, pkts, n, 1);
		__onvm_route_from_nf(w, pkts, n);
	}
}

int
onvm_mgr_worker_main(void *arg)
{
	struct __onvm_worker *w = arg;
	struct onvm_shared *sh = w->sh;

	/* Read once here: rte_lcore_id() is a TLS lookup in this library. */
	w->pool_cache =
	    rte_mempool_default_cache(sh->pktmbuf_pool, rte_lcore_id());
	while (likely(__atomic_load_n(&sh->running, __ATOMIC_RELAXED))) {
		if (likely(sh->ports_enabled)) {
			if (likely(w->congested_nf_mask == 0 ||
			           !__onvm_congested(w)))
				__onvm_poll_ports(w);
			else
				w->stats->rx_held++;
		}
		__onvm_poll_nfs(w);
		__onvm_flush_all(w);
		if (w->index == 0) {
			__onvm_control_poll(w);
			if (unlikely(sh->msg_pending != 0))
				__onvm_msg_forward(w);
		}
		w->stats->loops++;
		/* Past this store the worker holds no NF reference read
		 * before it: retirement waits for it. */
		__atomic_store_n(&w->stats->epoch, w->stats->epoch + 1,
		                 __ATOMIC_RELEASE);
	}
	__onvm_poll_nfs(w);
	__onvm_flush_all(w);
	return 0;
}
