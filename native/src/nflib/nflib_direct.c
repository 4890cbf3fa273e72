/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Direct hand-over (nf_to_nf = direct): an NF passes the packets whose next
 * hop is another NF straight to that NF, on the ring of the pair (one
 * producer, one consumer), and only the rest back to the manager. Each
 * hand-over is staged in the NF's slot first, so that the manager can tell
 * a published one from a half-done one if the NF dies in between (see
 * struct onvm_handoff).
 */
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include <onvm/flow.h>
#include <onvm/pkt_meta.h>

#include "../common/route.h"
#include "../common/wake.h"
#include "nflib_internal.h"

/* Packets on their way to each NF, owned by this NF until handed over. */
struct __onvm_direct {
	struct __onvm_wake_pending wake;
	uint64_t dirty; /* NFs with packets in out[] */
	uint16_t count[ONVM_MAX_NFS];
	struct rte_mbuf *out[ONVM_MAX_NFS][ONVM_HANDOFF_MAX];
};

int
__onvm_nflib_direct_start(struct onvm_nf_ctx *ctx)
{
	if (ctx->sh->nf_to_nf != ONVM_NF_TO_NF_DIRECT)
		return 0;
	ctx->direct = calloc(1, sizeof(*ctx->direct));
	return ctx->direct == NULL ? -ENOMEM : 0;
}

void
__onvm_nflib_direct_end(struct onvm_nf_ctx *ctx)
{
	free(ctx->direct);
	ctx->direct = NULL;
}

/* The NF to hand @p m to, or 0 when it goes through the manager: to a
 * port, dropped, past its chain, or anything the manager has to see. */
static inline uint16_t
__onvm_direct_dest(const struct onvm_nf_ctx *ctx, struct rte_mbuf *m)
{
	const struct onvm_shared *sh = ctx->sh;
	const struct onvm_pkt_meta *meta = onvm_pkt_meta(m);
	const struct onvm_service *s;
	struct onvm_chain_hop hop;
	uint16_t service, nf_id;

	if (meta->action == ONVM_ACTION_NEXT) {
		if (__onvm_chain_hop(sh, meta->chain, meta->chain_gen,
		                     (uint8_t)(meta->chain_index + 1),
		                     &hop) != __ONVM_HOP_OK ||
		    hop.kind != ONVM_HOP_NF)
			return 0;
		service = hop.dest;
	} else if (meta->action == ONVM_ACTION_TONF) {
		service = meta->destination;
	} else {
		return 0;
	}
	if (unlikely(service >= ONVM_MAX_SERVICES))
		return 0;
	s = &sh->services[service];
	nf_id =
	    __onvm_service_pick(s, s->count > 1 ? onvm_pkt_flow_hash(m) : 0);
	/* To itself through the manager: waiting for room on a ring it
	 * drains itself would never end. */
	if (nf_id == 0 || nf_id == ctx->nf_id ||
	    __atomic_load_n(&sh->nfs[nf_id].state, __ATOMIC_ACQUIRE) !=
	        ONVM_NF_RUNNING ||
	    __onvm_capturing(sh, ONVM_CAPTURE_NF_IN, nf_id))
		return 0;
	return nf_id;
}

/* True when NF @p to waits for room, on a ring whose NF waits ... back to
 * NF @p self: a loop of NFs each waiting on the next would wait for ever. */
static int
__onvm_wait_loop(const struct onvm_shared *sh, uint16_t self, uint16_t to)
{
	unsigned int steps;

	for (steps = 0; steps < ONVM_MAX_NFS; steps++) {
		const struct onvm_handoff *h = &sh->nfs[to].handoff;

		if (!h->waiting)
			return 0;
		to = h->dest;
		if (to == self)
			return 1;
		if (to == 0 || to >= ONVM_MAX_NFS)
			return 0;
	}
	return 1;
}

static unsigned int
__onvm_direct_waiting(const struct onvm_shared *sh, unsigned int id,
                      const void *arg)
{
	const struct onvm_nf_ctx *ctx = arg;

	return rte_ring_count(onvm_direct_ring(sh, ctx->nf_id, id));
}

/* As if a whole batch waited: every sleeper is due. */
static unsigned int
__onvm_all_waiting(const struct onvm_shared *sh, unsigned int id,
                   const void *arg)
{
	RTE_SET_USED(id);
	RTE_SET_USED(arg);
	return sh->wake_batch;
}

/* Hand the packets gathered for NF @p to over. 1 when handed; 0 when it
 * stopped or stayed full for ONVM_DIRECT_STALL_MS, and they go through the
 * manager instead. */
static int
__onvm_hand_to(struct onvm_nf_ctx *ctx, uint16_t to)
{
	struct onvm_shared *sh = ctx->sh;
	struct onvm_nf *self = ctx->nf, *dest = &sh->nfs[to];
	struct onvm_handoff *h = &self->handoff;
	struct rte_ring *r = onvm_direct_ring(sh, ctx->nf_id, to);
	unsigned int n = ctx->direct->count[to], i;
	uint64_t bit = UINT64_C(1) << ctx->nf_id, deadline = 0;
	uint32_t stamp;

	/* The only producer: room only grows while this waits. Waiting is
	 * the backpressure of a slower next NF; but not in a loop of NFs
	 * that all wait, which would never end. */
	if (rte_ring_free_count(r) < n) {
		h->dest = to;
		h->waiting = 1;
		rte_smp_mb();
		while (rte_ring_free_count(r) < n) {
			uint64_t now = rte_rdtsc();

			if (deadline == 0)
				deadline = now + rte_get_tsc_hz() / 1000 *
				                     ONVM_DIRECT_STALL_MS;
			if (__atomic_load_n(&dest->state, __ATOMIC_ACQUIRE) !=
			        ONVM_NF_RUNNING ||
			    __onvm_wait_loop(sh, ctx->nf_id, to) ||
			    now > deadline) {
				h->waiting = 0;
				return 0;
			}
			if (self->flags & ONVM_NF_FLAG_SHARED_CORE)
				sched_yield(); /* maybe the next NF's core too
				                */
			else
				rte_pause();
		}
		h->waiting = 0;
	}
	if (!(dest->direct_in_mask & bit))
		__atomic_fetch_or(&dest->direct_in_mask, bit, __ATOMIC_RELEASE);
	memcpy(h->pkts, ctx->direct->out[to], n * sizeof(h->pkts[0]));
	h->dest = to;
	h->tail_before = r->prod.tail;
	__atomic_store_n(&h->n, n, __ATOMIC_RELEASE);
	/* The record before the packets change hands. */
	rte_smp_wmb();
	stamp = onvm_hop_stamp_of(rte_rdtsc()); /* queued for `to` now */
	for (i = 0; i < n; i++) {
		struct onvm_pkt_meta *meta = onvm_pkt_meta(h->pkts[i]);

		*onvm_pkt_hop_stamp(h->pkts[i]) = stamp;
		if (meta->action == ONVM_ACTION_NEXT)
			meta->chain_index++;
		meta->action = ONVM_ACTION_NEXT; /* the next NF's default */
		meta->owner = to;
	}
	rte_ring_sp_enqueue_bulk(r, (void **)h->pkts, n, NULL);
	__atomic_store_n(&h->n, 0, __ATOMIC_RELEASE);
	self->stats.direct += n;
	return 1;
}

/* Hand every gathered batch over; what cannot be goes to @p back. */
static unsigned int
__onvm_hand_all(struct onvm_nf_ctx *ctx, struct rte_mbuf **back,
                unsigned int nback)
{
	struct __onvm_direct *d = ctx->direct;
	uint64_t shared_fed = 0;

	while (d->dirty) {
		uint16_t to = (uint16_t)__builtin_ctzll(d->dirty);

		d->dirty &= d->dirty - 1;
		if (__onvm_hand_to(ctx, to)) {
			if (ctx->sh->nfs[to].flags & ONVM_NF_FLAG_SHARED_CORE)
				shared_fed |= UINT64_C(1) << to;
		} else {
			memcpy(back + nback, d->out[to],
			       d->count[to] * sizeof(back[0]));
			nback += d->count[to];
			ctx->nf->stats.direct_fallback += d->count[to];
		}
		d->count[to] = 0;
	}
	if (shared_fed | d->wake.mask)
		__onvm_wake_batched(ctx->sh, &d->wake, shared_fed,
		                    __onvm_direct_waiting, ctx);
	return nback;
}

void
__onvm_nflib_hand_over(struct onvm_nf_ctx *ctx, struct rte_mbuf **pkts,
                       unsigned int n)
{
	struct __onvm_direct *d = ctx->direct;
	struct rte_mbuf *back[ONVM_BATCH_MAX];
	unsigned int i, nback = 0;

	/* A capture of this NF's output is taken by the manager. */
	if (__onvm_capturing(ctx->sh, ONVM_CAPTURE_NF_OUT, ctx->nf_id)) {
		__onvm_nflib_return(ctx, pkts, n);
		return;
	}
	for (i = 0; i < n; i++) {
		uint16_t to = __onvm_direct_dest(ctx, pkts[i]);

		if (to == 0) {
			back[nback++] = pkts[i];
			continue;
		}
		d->out[to][d->count[to]++] = pkts[i];
		d->dirty |= UINT64_C(1) << to;
		if (d->count[to] == ONVM_HANDOFF_MAX)
			nback = __onvm_hand_all(ctx, back, nback);
	}
	nback = __onvm_hand_all(ctx, back, nback);
	if (nback)
		__onvm_nflib_return(ctx, back, nback);
}

void
__onvm_nflib_direct_wake_pending(struct onvm_nf_ctx *ctx, int all)
{
	struct __onvm_direct *d = ctx->direct;

	if (d == NULL || d->wake.mask == 0)
		return;
	/* About to sleep (all): nobody would wake them later. */
	__onvm_wake_batched(ctx->sh, &d->wake, 0,
	                    all ? __onvm_all_waiting : __onvm_direct_waiting,
	                    ctx);
}

unsigned int
__onvm_nflib_take(struct onvm_nf_ctx *ctx, struct rte_mbuf **pkts,
                  unsigned int take)
{
	struct onvm_nf *nf = ctx->nf;
	const uint64_t mask = nf->direct_in_mask;
	uint64_t in = mask;
	unsigned int n = 0, direct = 0;

	/* Every other call the other NFs' rings first: a full rx ring must
	 * not starve them, nor they it. */
	ctx->direct_first ^= 1;
	if (!ctx->direct_first || in == 0)
		n = rte_ring_dequeue_burst(nf->rx_ring, (void **)pkts, take,
		                           NULL);
	while (in && n + direct < take) {
		struct rte_ring *r = onvm_direct_ring(
		    ctx->sh, (unsigned int)__builtin_ctzll(in), ctx->nf_id);

		in &= in - 1;
		direct += rte_ring_dequeue_burst(r, (void **)pkts + n + direct,
		                                 take - n - direct, NULL);
	}
	n += direct;
	nf->stats.direct_in += direct;
	if (ctx->direct_first && mask != 0 && n < take)
		n += rte_ring_dequeue_burst(nf->rx_ring, (void **)pkts + n,
		                            take - n, NULL);
	return n;
}

int
__onvm_nflib_rings_empty(const struct onvm_nf_ctx *ctx)
{
	uint64_t in = ctx->nf->direct_in_mask;

	if (!rte_ring_empty(ctx->nf->rx_ring) ||
	    !rte_ring_empty(ctx->nf->inbox))
		return 0;
	while (in) {
		if (!rte_ring_empty(onvm_direct_ring(
		        ctx->sh, (unsigned int)__builtin_ctzll(in),
		        ctx->nf_id)))
			return 0;
		in &= in - 1;
	}
	return 1;
}
