/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * NF registry, run by the control worker (worker 0) between bursts: NF
 * registration and exit, retirement of dead NFs with a grace period over
 * every worker's epoch, and, for the control thread, the reclaim of mbufs
 * a crashed NF held.
 */
#include <errno.h>

#include <rte_cycles.h>
#include <rte_mempool.h>
#include <rte_ring.h>

#include "../common/wake.h"
#include "mgr_internal.h"

#define ONVM_CONTROL_MSGS_PER_LOOP 8

static void
__onvm_set_state(struct onvm_nf *nf, uint32_t state)
{
	__atomic_store_n(&nf->state, state, __ATOMIC_RELEASE);
	__onvm_wake_word(&nf->state);
}

/* Ports receive once every service of the default chain has an NF. */
static void
__onvm_update_ports_enabled(struct onvm_shared *sh)
{
	const struct onvm_chain_body *body;
	unsigned int i;

	if (sh->ports_enabled)
		return;
	body = &sh->chains.bodies[sh->chains.head[ONVM_DEFAULT_CHAIN]];
	for (i = 0; i < body->length; i++)
		if (body->hops[i].kind != ONVM_HOP_PORT &&
		    sh->services[body->hops[i].dest].count == 0)
			return;
	__atomic_store_n(&sh->ports_enabled, 1, __ATOMIC_RELEASE);
}

/* No worker sends to a FREE slot, so these sums are exact. */
static void
__onvm_snapshot_counters(const struct onvm_shared *sh, struct onvm_nf *nf)
{
	unsigned int i;

	nf->enq_base = nf->enq_drop_base = 0;
	for (i = 0; i < sh->num_workers; i++) {
		nf->enq_base += sh->workers[i].nf_enq[nf->id];
		nf->enq_drop_base += sh->workers[i].nf_enq_drop[nf->id];
	}
}

int
__onvm_dedicated_cpu(const struct onvm_shared *sh,
                     const struct onvm_mgr_config *cfg, uint16_t nf_id)
{
	uint32_t i;
	unsigned int id;

	for (i = 0; i < cfg->n_nf_cpus && i < ONVM_MAX_NFS; i++) {
		int cpu = cfg->nf_cpus[i], taken = 0;

		/* Any NF on that CPU holds it: a dedicated one this worker
		 * placed, or one pinned there with --core. */
		for (id = 1; id < ONVM_MAX_NFS && !taken; id++) {
			const struct onvm_nf *nf = &sh->nfs[id];
			uint32_t state =
			    __atomic_load_n(&nf->state, __ATOMIC_ACQUIRE);

			taken = id != nf_id && state != ONVM_NF_FREE &&
			        state != ONVM_NF_REJECTED && nf->core == cpu;
		}
		if (!taken)
			return cpu;
	}
	return -1;
}

static void
__onvm_register(struct onvm_shared *sh, uint16_t nf_id, uint32_t generation)
{
	struct onvm_nf *nf = &sh->nfs[nf_id];
	struct __onvm_worker *tx_worker;
	int rc;

	if (nf->state != ONVM_NF_STARTING || nf->generation != generation)
		return; /* stale: the NF died and its slot moved on */
	if (nf->service_id == 0 || nf->service_id >= ONVM_MAX_SERVICES) {
		nf->reject_errno = EINVAL;
		__onvm_set_state(nf, ONVM_NF_REJECTED);
		return;
	}
	if (nf->flags & ONVM_NF_FLAG_DEDICATED) {
		int cpu = __onvm_dedicated_cpu(sh, &__onvm_mgr.cfg, nf_id);

		if (cpu < 0) {
			nf->reject_errno = EBUSY;
			__onvm_set_state(nf, ONVM_NF_REJECTED);
			return;
		}
		nf->core = cpu;
	}
	rte_ring_reset(nf->rx_ring);
	rte_ring_reset(nf->tx_ring);
	/* Its rings from other NFs were drained when the slot was retired. */
	nf->direct_in_mask = 0;
	nf->handoff.n = 0;
	nf->handoff.waiting = 0;
	memset(&nf->stats, 0, sizeof(nf->stats));
	memset(&nf->latency, 0, sizeof(nf->latency));
	nf->sleeping = 0;
	nf->crashed = 0;
	rc = __onvm_service_add(sh, nf->service_id, nf_id);
	if (rc < 0) {
		nf->reject_errno = -rc;
		__onvm_set_state(nf, ONVM_NF_REJECTED);
		return;
	}
	nf->tx_worker = (uint8_t)(nf_id % sh->num_workers);
	nf->register_tsc = rte_rdtsc();
	__onvm_snapshot_counters(sh, nf);
	tx_worker = __onvm_mgr.workers[nf->tx_worker];
	__atomic_or_fetch(&tx_worker->tx_nf_mask, UINT64_C(1) << nf_id,
	                  __ATOMIC_RELEASE);
	__onvm_set_state(nf, ONVM_NF_RUNNING);
	if (sh->wait_for_chain)
		__onvm_update_ports_enabled(sh);
}

/* Take the NF out of service; its rings are drained after the grace. */
static void
__onvm_retire(struct onvm_shared *sh, uint16_t nf_id, int crashed)
{
	struct onvm_nf *nf = &sh->nfs[nf_id];
	struct __onvm_retirement *r;
	uint32_t state = nf->state;
	unsigned int i;

	if (state == ONVM_NF_FREE || state == ONVM_NF_RETIRING ||
	    state == ONVM_NF_RECLAIMING || state == ONVM_NF_REJECTED)
		return;
	nf->crashed = (uint8_t)crashed;
	if (state == ONVM_NF_RUNNING || state == ONVM_NF_STOPPING) {
		__onvm_service_remove(sh, nf->service_id, nf_id);
		__atomic_and_fetch(
		    &__onvm_mgr.workers[nf->tx_worker]->tx_nf_mask,
		    ~(UINT64_C(1) << nf_id), __ATOMIC_RELEASE);
	}
	__onvm_set_state(nf, ONVM_NF_RETIRING);
	r = &__onvm_mgr.retiring[__onvm_mgr.n_retiring++];
	r->nf_id = nf_id;
	for (i = 0; i < sh->num_workers; i++)
		r->epochs[i] =
		    __atomic_load_n(&sh->workers[i].epoch, __ATOMIC_ACQUIRE);
	r->nf_mask = 0;
	if (sh->nf_to_nf != ONVM_NF_TO_NF_DIRECT)
		return;
	for (i = 1; i < ONVM_MAX_NFS; i++) {
		uint32_t s =
		    __atomic_load_n(&sh->nfs[i].state, __ATOMIC_ACQUIRE);

		if (i == nf_id ||
		    (s != ONVM_NF_RUNNING && s != ONVM_NF_STOPPING))
			continue;
		r->nf_mask |= UINT64_C(1) << i;
		r->nf_epochs[i] =
		    __atomic_load_n(&sh->nfs[i].epoch, __ATOMIC_ACQUIRE);
	}
}

/* An NF is past any hand-over it began before its epoch was recorded once
 * the epoch moved, or while it sleeps, or once it no longer runs. */
static int
__onvm_nf_quiet(const struct onvm_nf *nf, uint64_t epoch)
{
	uint32_t s = __atomic_load_n(&nf->state, __ATOMIC_ACQUIRE);

	return (s != ONVM_NF_RUNNING && s != ONVM_NF_STOPPING) ||
	       nf->sleeping ||
	       __atomic_load_n(&nf->epoch, __ATOMIC_ACQUIRE) != epoch;
}

static int
__onvm_grace_over(const struct onvm_shared *sh,
                  const struct __onvm_retirement *r)
{
	unsigned int i;

	uint64_t mask = r->nf_mask;

	/* Worker 0 is the caller: its own loop is between epochs. */
	for (i = 1; i < sh->num_workers; i++)
		if (__atomic_load_n(&sh->workers[i].epoch, __ATOMIC_ACQUIRE) <=
		    r->epochs[i])
			return 0;
	while (mask) {
		i = (unsigned int)__builtin_ctzll(mask);
		mask &= mask - 1;
		if (!__onvm_nf_quiet(&sh->nfs[i], r->nf_epochs[i]))
			return 0;
	}
	return 1;
}

/* A crashed NF may have died inside a ring operation; abandon the half
 * done part (those mbufs are still marked as the NF's, reclaim frees them). */
static void
__onvm_repair_rings(struct onvm_shared *sh, struct onvm_nf *nf)
{
	struct onvm_handoff *h = &nf->handoff;
	uint64_t in = nf->direct_in_mask;
	unsigned int i;

	nf->rx_ring->cons.tail = nf->rx_ring->cons.head;
	nf->tx_ring->prod.head = nf->tx_ring->prod.tail;
	if (sh->nf_to_nf != ONVM_NF_TO_NF_DIRECT)
		return;
	while (in) {
		struct rte_ring *r = onvm_direct_ring(
		    sh, (unsigned int)__builtin_ctzll(in), nf->id);

		in &= in - 1;
		r->cons.tail = r->cons.head;
	}
	for (i = 1; i < ONVM_MAX_NFS; i++) {
		struct rte_ring *r = onvm_direct_ring(sh, nf->id, i);

		r->prod.head = r->prod.tail;
	}
	/* A hand-over it never published: the packets are its own again,
	 * for the reclaim to free. One it published belongs to the receiver,
	 * which may have freed them already: not touched. */
	if (h->n != 0 && h->n <= ONVM_HANDOFF_MAX && h->dest < ONVM_MAX_NFS &&
	    onvm_direct_ring(sh, nf->id, h->dest)->prod.tail == h->tail_before)
		for (i = 0; i < h->n; i++)
			onvm_pkt_meta(h->pkts[i])->owner = nf->id;
	h->n = 0;
}

/* Packets other NFs handed this one and it never took: to another
 * instance of its service, as its rx ring's. */
static void
__onvm_drain_direct_in(struct __onvm_worker *w, struct onvm_nf *nf)
{
	struct rte_mbuf *pkts[ONVM_BURST_MAX];
	uint64_t in = nf->direct_in_mask;
	unsigned int n, i;

	while (in) {
		struct rte_ring *r = onvm_direct_ring(
		    w->sh, (unsigned int)__builtin_ctzll(in), nf->id);

		in &= in - 1;
		while ((n = rte_ring_dequeue_burst(r, (void **)pkts,
		                                   ONVM_BURST_MAX, NULL)) != 0)
			for (i = 0; i < n; i++) {
				onvm_pkt_meta(pkts[i])->owner =
				    ONVM_OWNER_MANAGER;
				__onvm_dispatch_to_service(w, pkts[i],
				                           nf->service_id);
			}
	}
}

static void
__onvm_finish_retirement(struct __onvm_worker *w, uint16_t nf_id)
{
	struct onvm_shared *sh = w->sh;
	struct onvm_nf *nf = &sh->nfs[nf_id];
	struct rte_mbuf *pkts[ONVM_BURST_MAX];
	unsigned int n, i;

	if (nf->crashed)
		__onvm_repair_rings(sh, nf);
	/* What the NF finished goes on its way... */
	while ((n = rte_ring_dequeue_burst(nf->tx_ring, (void **)pkts,
	                                   ONVM_BURST_MAX, NULL)) != 0) {
		w->stats->nf_deq[nf_id] += n;
		__onvm_route_from_nf(w, pkts, n);
	}
	/* ...and what it never saw goes to another instance of its service. */
	while ((n = rte_ring_dequeue_burst(nf->rx_ring, (void **)pkts,
	                                   ONVM_BURST_MAX, NULL)) != 0) {
		for (i = 0; i < n; i++) {
			onvm_pkt_meta(pkts[i])->owner = ONVM_OWNER_MANAGER;
			__onvm_dispatch_to_service(w, pkts[i], nf->service_id);
		}
	}
	if (sh->nf_to_nf == ONVM_NF_TO_NF_DIRECT)
		__onvm_drain_direct_in(w, nf);
	__onvm_flush(w);
	__onvm_set_state(nf, nf->crashed ? ONVM_NF_RECLAIMING : ONVM_NF_FREE);
}

static void
__onvm_poll_retirements(struct __onvm_worker *w)
{
	unsigned int i = 0;

	while (i < __onvm_mgr.n_retiring) {
		struct __onvm_retirement *r = &__onvm_mgr.retiring[i];

		if (!__onvm_grace_over(w->sh, r)) {
			i++;
			continue;
		}
		__onvm_finish_retirement(w, r->nf_id);
		*r = __onvm_mgr.retiring[--__onvm_mgr.n_retiring];
	}
}

void
__onvm_control_poll(struct __onvm_worker *w)
{
	struct onvm_shared *sh = w->sh;
	void *msgs[ONVM_CONTROL_MSGS_PER_LOOP];
	unsigned int n, i;

	if (unlikely(__onvm_mgr.n_retiring != 0))
		__onvm_poll_retirements(w);
	if (likely(rte_ring_empty(sh->mgr_msg_ring)))
		return;
	n = rte_ring_dequeue_burst(sh->mgr_msg_ring, msgs,
	                           ONVM_CONTROL_MSGS_PER_LOOP, NULL);
	for (i = 0; i < n; i++) {
		uint16_t type, nf_id;
		uint32_t arg;

		onvm_msg_decode(msgs[i], &type, &nf_id, &arg);
		if (nf_id == 0 || nf_id >= ONVM_MAX_NFS)
			continue;
		switch (type) {
		case ONVM_MSG_NF_REGISTER:
			__onvm_register(sh, nf_id, arg);
			break;
		case ONVM_MSG_NF_UNREGISTER:
		case ONVM_MSG_NF_DEAD:
			/* A message about an earlier occupant of the slot is
			 * stale. */
			if (sh->nfs[nf_id].generation == arg)
				__onvm_retire(sh, nf_id,
				              type == ONVM_MSG_NF_DEAD);
			break;
		default:
			break;
		}
	}
}

int
onvm_mgr_nf_dead(struct onvm_shared *sh, uint16_t nf_id, uint32_t generation)
{
	if (nf_id == 0 || nf_id >= ONVM_MAX_NFS)
		return -EINVAL;
	if (rte_ring_enqueue(
	        sh->mgr_msg_ring,
	        onvm_msg_encode(ONVM_MSG_NF_DEAD, nf_id, generation)) < 0)
		return -ENOBUFS;
	return 0;
}

int
onvm_mgr_nf_stop(struct onvm_shared *sh, uint16_t nf_id)
{
	struct onvm_nf *nf;
	uint32_t expected = ONVM_NF_RUNNING;

	if (nf_id == 0 || nf_id >= ONVM_MAX_NFS)
		return -EINVAL;
	nf = &sh->nfs[nf_id];
	if (!__atomic_compare_exchange_n(&nf->state, &expected,
	                                 ONVM_NF_STOPPING, 0, __ATOMIC_ACQ_REL,
	                                 __ATOMIC_ACQUIRE))
		return -EALREADY;
	__onvm_wake_word(&nf->state);
	nf->sleeping = 0;
	__onvm_wake_word(&nf->sleeping);
	return 0;
}

struct __onvm_reclaim {
	uint16_t nf_id;
	unsigned int count;
};

static void
__onvm_reclaim_one(struct rte_mempool *mp, void *arg, void *obj,
                   unsigned int idx)
{
	struct __onvm_reclaim *rc = arg;
	struct rte_mbuf *m = obj;

	RTE_SET_USED(mp);
	RTE_SET_USED(idx);
	if (onvm_pkt_meta(m)->owner != rc->nf_id)
		return;
	onvm_pkt_meta(m)->owner = ONVM_OWNER_NONE;
	rte_pktmbuf_free(m);
	rc->count++;
}

int
onvm_mgr_nf_reclaim(struct onvm_shared *sh, uint16_t nf_id)
{
	struct __onvm_reclaim rc = {.nf_id = nf_id, .count = 0};
	struct onvm_nf *nf;

	if (nf_id == 0 || nf_id >= ONVM_MAX_NFS)
		return -EINVAL;
	nf = &sh->nfs[nf_id];
	if (nf->state != ONVM_NF_RECLAIMING)
		return -EBUSY;
	rte_mempool_obj_iter(sh->pktmbuf_pool, __onvm_reclaim_one, &rc);
	__onvm_msg_reclaim(sh, nf_id);
	__atomic_fetch_add(&sh->workers[0].reclaimed, rc.count,
	                   __ATOMIC_RELAXED);
	__onvm_set_state(nf, ONVM_NF_FREE);
	return (int)rc.count;
}

int
onvm_mgr_nf_release_rejected(struct onvm_shared *sh, uint16_t nf_id)
{
	uint32_t expected = ONVM_NF_REJECTED;

	if (nf_id == 0 || nf_id >= ONVM_MAX_NFS)
		return -EINVAL;
	if (!__atomic_compare_exchange_n(&sh->nfs[nf_id].state, &expected,
	                                 ONVM_NF_FREE, 0, __ATOMIC_ACQ_REL,
	                                 __ATOMIC_ACQUIRE))
		return -EBUSY;
	return 0;
}
