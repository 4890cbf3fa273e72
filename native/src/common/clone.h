/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Copies of a packet, for tee hops (the workers) and onvm_nflib_clone (NFs).
 *
 * A clone shares the packet's data: one indirect mbuf per segment, each
 * holding a reference on that segment's buffer, with metadata of its own.
 * A private copy has data of its own too. The rule that keeps copies apart:
 * an NF that may write gets a private copy of any shared packet before its
 * handler sees it (onvm_nflib_run), so only NFs that declared they only read
 * ever see shared data, and none can change another's copy.
 *
 * @p cache is NULL in NF processes: their lcore ids are not unique across
 * processes, so they must never touch a per-lcore cache, neither to take
 * mbufs nor, through rte_pktmbuf_free(), to give the last reference back.
 */
#ifndef ONVM_CLONE_H
#define ONVM_CLONE_H

#include <string.h>

#include <rte_mbuf.h>
#include <rte_mempool.h>

/* Segments a packet may have to be copied; more is refused. */
#define ONVM_CLONE_MAX_SEGS 16

/* Whether another mbuf refers to @p m's data: writing it would change that
 * one's bytes too. Every segment of a clone is shared, so the first tells. */
static inline int
__onvm_pkt_shared(const struct rte_mbuf *m)
{
	return RTE_MBUF_CLONED(m) || rte_mbuf_refcnt_read(m) > 1;
}

/* A clone of @p m, its metadata copied, or NULL if the pool is short. */
static inline struct rte_mbuf *
__onvm_pkt_clone(struct rte_mempool *pool, struct rte_mempool_cache *cache,
                 struct rte_mbuf *m)
{
	struct rte_mbuf *segs[ONVM_CLONE_MAX_SEGS];
	unsigned int n = m->nb_segs, i;
	struct rte_mbuf *s = m;

	if (unlikely(n > ONVM_CLONE_MAX_SEGS || RTE_MBUF_HAS_EXTBUF(m)) ||
	    rte_mempool_generic_get(pool, (void **)segs, n, cache) < 0)
		return NULL;
	for (i = 0; i < n; i++, s = s->next) {
		rte_pktmbuf_reset(segs[i]);
		rte_pktmbuf_attach(segs[i], s); /* header, dynfields: meta */
		if (i > 0)
			segs[i - 1]->next = segs[i];
	}
	segs[0]->nb_segs = (uint16_t)n;
	segs[0]->pkt_len = m->pkt_len;
	return segs[0];
}

/* A private copy of @p m (same segments, same headroom), or NULL. */
static inline struct rte_mbuf *
__onvm_pkt_copy(struct rte_mempool *pool, struct rte_mempool_cache *cache,
                struct rte_mbuf *m)
{
	struct rte_mbuf *segs[ONVM_CLONE_MAX_SEGS];
	unsigned int n = m->nb_segs, i;
	const struct rte_mbuf *s = m;

	if (unlikely(n > ONVM_CLONE_MAX_SEGS) ||
	    rte_mempool_generic_get(pool, (void **)segs, n, cache) < 0)
		return NULL;
	for (i = 0; i < n; i++, s = s->next) {
		struct rte_mbuf *d = segs[i];

		rte_pktmbuf_reset(d);
		if (s->data_off + s->data_len <= d->buf_len)
			d->data_off = s->data_off;
		else if (s->data_len > d->buf_len)
			goto too_big; /* from a pool of larger buffers */
		else
			d->data_off = 0;
		memcpy(rte_pktmbuf_mtod(d, void *),
		       rte_pktmbuf_mtod(s, const void *), s->data_len);
		d->data_len = s->data_len;
		if (i > 0)
			segs[i - 1]->next = d;
	}
	__rte_pktmbuf_copy_hdr(segs[0], m);
	segs[0]->ol_flags =
	    m->ol_flags & ~(RTE_MBUF_F_INDIRECT | RTE_MBUF_F_EXTERNAL);
	segs[0]->nb_segs = (uint16_t)n;
	segs[0]->pkt_len = m->pkt_len;
	return segs[0];
too_big:
	rte_mempool_generic_put(pool, (void **)segs, n, cache);
	return NULL;
}

/* rte_pktmbuf_prefree_seg() without a cache: NULL while other references
 * remain, else @p m ready to go back to the pool. The last reference to a
 * clone's buffer sets @p parent to the mbuf that holds it, which goes back
 * too. */
static inline struct rte_mbuf *
__onvm_prefree_seg(struct rte_mbuf *m, struct rte_mbuf **parent)
{
	*parent = NULL;
	if (rte_mbuf_refcnt_read(m) != 1) {
		if (rte_mbuf_refcnt_update(m, -1) != 0)
			return NULL;
		rte_mbuf_refcnt_set(m, 1);
	}
	if (RTE_MBUF_CLONED(m)) {
		struct rte_mbuf *md = rte_mbuf_from_indirect(m);
		struct rte_mempool *mp = m->pool;
		uint32_t head = (uint32_t)sizeof(struct rte_mbuf) +
		                rte_pktmbuf_priv_size(mp);

		if (rte_mbuf_refcnt_update(md, -1) == 0) {
			md->next = NULL;
			md->nb_segs = 1;
			rte_mbuf_refcnt_set(md, 1);
			*parent = md;
		}
		/* Its own buffer back, as rte_pktmbuf_detach() does. */
		m->priv_size = (uint16_t)rte_pktmbuf_priv_size(mp);
		m->buf_addr = (char *)m + head;
		rte_mbuf_iova_set(m, rte_mempool_virt2iova(m) + head);
		m->buf_len = (uint16_t)rte_pktmbuf_data_room_size(mp);
		rte_pktmbuf_reset_headroom(m);
		m->data_len = 0;
		m->ol_flags = 0;
	} else if (unlikely(RTE_MBUF_HAS_EXTBUF(m))) {
		rte_pktmbuf_detach(m); /* its owner's callback frees it */
	}
	m->next = NULL;
	m->nb_segs = 1;
	return m;
}

#endif /* ONVM_CLONE_H */
