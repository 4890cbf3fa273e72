/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Messages to NFs (see onvm/common.h): taking one from the shared pool,
 * giving it back, and putting it on an NF's inbox. Inline: the manager's
 * control worker and thread and the NFs all do these.
 */
#ifndef ONVM_MSG_H
#define ONVM_MSG_H

#include <errno.h>
#include <string.h>

#include <rte_mempool.h>
#include <rte_ring.h>

#include <onvm/common.h>

#include "wake.h"

static inline struct onvm_nf_msg *
__onvm_msg_alloc(const struct onvm_shared *sh, uint16_t owner)
{
	void *obj;

	/* No cache: lcore ids are not unique across processes. */
	if (rte_mempool_generic_get(sh->msg_pool, &obj, 1, NULL) < 0)
		return NULL;
	((struct onvm_nf_msg *)obj)->owner = owner;
	return obj;
}

/* A message from the pool, filled in (@p len at most ONVM_MSG_DATA_MAX),
 * or NULL when the pool is empty. */
static inline struct onvm_nf_msg *
__onvm_msg_new(const struct onvm_shared *sh, uint16_t owner, uint16_t from,
               uint16_t to_nf, uint16_t to_service, uint8_t kind, uint32_t id,
               const void *data, uint32_t len)
{
	struct onvm_nf_msg *m = __onvm_msg_alloc(sh, owner);

	if (m == NULL)
		return NULL;
	m->from = from;
	m->to_nf = to_nf;
	m->to_service = to_service;
	m->kind = kind;
	m->id = id;
	m->len = len;
	memcpy(m->data, data, len);
	return m;
}

static inline void
__onvm_msg_free(const struct onvm_shared *sh, struct onvm_nf_msg *m)
{
	m->owner = ONVM_OWNER_NONE;
	rte_mempool_generic_put(sh->msg_pool, (void **)&m, 1, NULL);
}

/* Put @p m on NF @p nf_id's inbox and wake the NF if it sleeps; a manager
 * thread's to call. Returns 0, or -ENOSPC (inbox full: @p m freed). */
static inline int
__onvm_msg_deliver(struct onvm_shared *sh, struct onvm_nf_msg *m,
                   uint16_t nf_id)
{
	struct onvm_nf *nf = &sh->nfs[nf_id];

	m->owner = nf_id;
	if (rte_ring_enqueue(nf->inbox, m) < 0) {
		__onvm_msg_free(sh, m);
		return -ENOSPC;
	}
	/* Pairs with the NF's store of `sleeping` then check of its rings. */
	rte_smp_mb();
	if (__atomic_load_n(&nf->sleeping, __ATOMIC_RELAXED)) {
		__atomic_store_n(&nf->sleeping, 0, __ATOMIC_RELAXED);
		__onvm_wake_word(&nf->sleeping);
	}
	return 0;
}

#endif /* ONVM_MSG_H */
