/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Chain writer (control thread only). A chain version is written into a
 * free body and published by one atomic store of the chain's head; the old
 * body is reused only after a grace period, so packets still following it
 * finish their walk.
 */
#include <errno.h>
#include <string.h>

#include <rte_cycles.h>

#include "mgr_internal.h"

static int
__onvm_chain_body_alloc(struct onvm_shared *sh)
{
	const uint64_t now = rte_get_tsc_cycles();
	const uint64_t grace =
	    sh->tsc_hz / 1000 * __onvm_mgr.cfg.chain_grace_ms;
	unsigned int i;

	/* Body 0 is the empty chain every unset head points at. */
	for (i = 1; i < ONVM_MAX_CHAIN_BODIES; i++) {
		struct onvm_chain_body *body = &sh->chains.bodies[i];

		if (body->state == ONVM_CHAIN_BODY_FREE ||
		    (body->state == ONVM_CHAIN_BODY_RETIRED &&
		     now - body->retired_tsc > grace))
			return (int)i;
	}
	return -ENOSPC;
}

static int
__onvm_chain_hop_valid(const struct onvm_shared *sh,
                       const struct onvm_chain_hop *hop)
{
	if (hop->kind == ONVM_HOP_NF || hop->kind == ONVM_HOP_TEE)
		return hop->dest > 0 && hop->dest < ONVM_MAX_SERVICES;
	if (hop->kind == ONVM_HOP_PORT)
		return hop->dest < ONVM_MAX_PORTS &&
		       sh->ports[hop->dest].enabled;
	return 0;
}

int
onvm_mgr_chain_set(struct onvm_shared *sh, uint16_t chain_id,
                   const struct onvm_chain_hop *hops, unsigned int n)
{
	struct onvm_chain_body *body;
	uint16_t old;
	unsigned int i;
	int id = 0;

	if (chain_id >= ONVM_MAX_CHAINS || n > ONVM_MAX_CHAIN_HOPS)
		return -EINVAL;
	for (i = 0; i < n; i++)
		if (!__onvm_chain_hop_valid(sh, &hops[i]))
			return -EINVAL;
	if (n > 0) {
		id = __onvm_chain_body_alloc(sh);
		if (id < 0)
			return id;
		body = &sh->chains.bodies[id];
		/* First the generation: a worker that reads the hops below
		 * (seqlock style) sees it changed and drops the packet. */
		__atomic_store_n(&body->generation, body->generation + 1,
		                 __ATOMIC_RELAXED);
		__atomic_thread_fence(__ATOMIC_RELEASE);
		memset(body->hops, 0, sizeof(body->hops));
		memcpy(body->hops, hops, n * sizeof(*hops));
		body->length = (uint8_t)n;
		body->chain_id = chain_id;
		body->retired_tsc = 0;
		body->state = ONVM_CHAIN_BODY_LIVE;
	}
	old = sh->chains.head[chain_id];
	__atomic_store_n(&sh->chains.head[chain_id], (uint16_t)id,
	                 __ATOMIC_RELEASE);
	if (old != 0) {
		sh->chains.bodies[old].retired_tsc = rte_get_tsc_cycles();
		sh->chains.bodies[old].state = ONVM_CHAIN_BODY_RETIRED;
	}
	return 0;
}
