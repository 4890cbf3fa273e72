/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Reading the routing tables: the NF of a service for a flow, and the hop
 * a packet's chain sends it to next. The manager's workers route with
 * these, and so do NFs that hand packets straight to the next NF.
 */
#ifndef ONVM_ROUTE_H
#define ONVM_ROUTE_H

#include <stdint.h>

#include <rte_branch_prediction.h>

#include <onvm/common.h>

/* Service table reader: the NF for a flow hash, 0 when none runs. */
static inline uint16_t
__onvm_service_pick(const struct onvm_service *s, uint32_t hash)
{
	uint32_t seq;
	uint16_t nf_id;

	do {
		seq = __atomic_load_n(&s->seq, __ATOMIC_ACQUIRE);
		nf_id = s->bucket_nf[hash % ONVM_SERVICE_BUCKETS];
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
	} while (unlikely((seq & 1) ||
	                  seq != __atomic_load_n(&s->seq, __ATOMIC_RELAXED)));
	return nf_id;
}

/* Whether the one capture is at @p point of port or NF @p id: the
 * workers take captures, so a packet it would see goes their way. */
static inline int
__onvm_capturing(const struct onvm_shared *sh, uint32_t point, uint16_t id)
{
	return unlikely(sh->capture.point == point) && sh->capture.id == id;
}

enum __onvm_hop_result {
	__ONVM_HOP_OK = 0,
	__ONVM_HOP_GONE = 1, /* the chain version was replaced and reused */
	__ONVM_HOP_END = 2,  /* past the chain's last hop */
};

/* Hop @p index of chain body @p body_id, if that body is still generation
 * @p gen: the generation is read after the hop (the writer bumps it before
 * rewriting), so a body reused since the packet began is not its chain. */
static inline enum __onvm_hop_result
__onvm_chain_hop(const struct onvm_shared *sh, uint16_t body_id, uint32_t gen,
                 unsigned int index, struct onvm_chain_hop *hop)
{
	const struct onvm_chain_body *body = &sh->chains.bodies[body_id];
	uint8_t length = body->length;

	RTE_BUILD_BUG_ON((ONVM_MAX_CHAIN_HOPS & (ONVM_MAX_CHAIN_HOPS - 1)) !=
	                 0);
	*hop = body->hops[index & (ONVM_MAX_CHAIN_HOPS - 1)];
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	if (unlikely(__atomic_load_n(&body->generation, __ATOMIC_RELAXED) !=
	             gen))
		return __ONVM_HOP_GONE;
	if (unlikely(index >= length))
		return __ONVM_HOP_END;
	return __ONVM_HOP_OK;
}

#endif /* ONVM_ROUTE_H */
