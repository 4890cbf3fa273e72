/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Messages to NFs, the manager's part: the control worker takes what NFs
 * put on their outboxes and delivers it (to one NF, to every instance of a
 * service, or replies to the control thread); the control thread sends
 * its own and takes the replies; a dead NF's messages go back to the pool.
 */
#include <errno.h>
#include <string.h>

#include "../common/msg.h"
#include "mgr_internal.h"

#define MSGS_PER_OUTBOX 32

static int
__onvm_msg_running(const struct onvm_shared *sh, uint16_t nf_id)
{
	return nf_id != 0 && nf_id < ONVM_MAX_NFS &&
	       __atomic_load_n(&sh->nfs[nf_id].state, __ATOMIC_ACQUIRE) ==
	           ONVM_NF_RUNNING;
}

/* The running instances of @p service, read consistently (the control
 * worker writes the table; the control thread reads it too). */
static unsigned int
__onvm_msg_instances(const struct onvm_shared *sh, uint16_t service,
                     uint16_t ids[ONVM_MAX_INSTANCES])
{
	const struct onvm_service *s = &sh->services[service];
	unsigned int n;
	uint32_t seq;

	do {
		seq = __atomic_load_n(&s->seq, __ATOMIC_ACQUIRE);
		n = RTE_MIN(s->count, (uint16_t)ONVM_MAX_INSTANCES);
		memcpy(ids, s->instances, n * sizeof(ids[0]));
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
	} while ((seq & 1) ||
	         seq != __atomic_load_n(&s->seq, __ATOMIC_RELAXED));
	return n;
}

/* Deliver @p m to NF @p to, or to every instance of service @p service
 * (copies for all but the last). Returns how many inboxes took it. */
static unsigned int
__onvm_msg_fan_out(struct onvm_shared *sh, struct onvm_nf_msg *m, uint16_t to,
                   uint16_t service, uint64_t *dropped)
{
	uint16_t ids[ONVM_MAX_INSTANCES];
	unsigned int n = 0, i, delivered = 0;

	if (to != 0) {
		ids[n++] = to;
	} else if (service != 0 && service < ONVM_MAX_SERVICES) {
		n = __onvm_msg_instances(sh, service, ids);
	}
	for (i = 0; i < n; i++) {
		struct onvm_nf_msg *copy = m;

		if (!__onvm_msg_running(sh, ids[i])) {
			(*dropped)++;
			continue;
		}
		if (i + 1 < n) {
			copy = __onvm_msg_alloc(sh, ONVM_OWNER_MANAGER);
			if (copy == NULL) {
				(*dropped)++;
				continue;
			}
			memcpy(copy, m,
			       offsetof(struct onvm_nf_msg, data) + m->len);
		}
		if (__onvm_msg_deliver(sh, copy, ids[i]) == 0)
			delivered++;
		else
			(*dropped)++;
		if (copy == m)
			return delivered;
	}
	/* The last instance was not running, or there were none. */
	__onvm_msg_free(sh, m);
	if (n == 0)
		(*dropped)++;
	return delivered;
}

static void
__onvm_msg_route(struct __onvm_worker *w, struct onvm_nf_msg *m)
{
	struct onvm_shared *sh = w->sh;

	m->owner = ONVM_OWNER_MANAGER;
	if (m->len > ONVM_MSG_DATA_MAX) {
		w->stats->msg_dropped++;
		__onvm_msg_free(sh, m);
		return;
	}
	if (m->kind == ONVM_MSG_REPLY && m->to_nf == ONVM_MSG_FROM_CONTROL) {
		if (rte_ring_enqueue(sh->ctl_reply_ring, m) < 0) {
			w->stats->msg_dropped++;
			__onvm_msg_free(sh, m);
		} else {
			w->stats->msg_delivered++;
		}
		return;
	}
	w->stats->msg_delivered += __onvm_msg_fan_out(
	    sh, m, m->to_nf, m->to_service, &w->stats->msg_dropped);
}

void
__onvm_msg_forward(struct __onvm_worker *w)
{
	struct onvm_shared *sh = w->sh;
	uint64_t pending =
	    __atomic_exchange_n(&sh->msg_pending, 0, __ATOMIC_ACQ_REL);

	while (pending) {
		unsigned int id = (unsigned int)__builtin_ctzll(pending);
		struct rte_ring *out = sh->nfs[id].outbox;
		void *msgs[MSGS_PER_OUTBOX];
		unsigned int n, i;

		pending &= pending - 1;
		n = rte_ring_dequeue_burst(out, msgs, MSGS_PER_OUTBOX, NULL);
		/* More than one loop's worth: come back to it. */
		if (!rte_ring_empty(out))
			__atomic_fetch_or(&sh->msg_pending, UINT64_C(1) << id,
			                  __ATOMIC_RELEASE);
		for (i = 0; i < n; i++)
			__onvm_msg_route(w, msgs[i]);
	}
}

int
onvm_mgr_msg_send(struct onvm_shared *sh, uint16_t nf_id, uint16_t service,
                  const void *data, uint32_t len, uint32_t id)
{
	struct onvm_nf_msg *m;
	uint64_t dropped = 0;

	if ((nf_id == 0) == (service == 0) || len > ONVM_MSG_DATA_MAX ||
	    nf_id >= ONVM_MAX_NFS || service >= ONVM_MAX_SERVICES)
		return -EINVAL;
	m = __onvm_msg_new(sh, ONVM_OWNER_MANAGER, ONVM_MSG_FROM_CONTROL, nf_id,
	                   service, ONVM_MSG_REQUEST, id, data, len);
	if (m == NULL)
		return -ENOBUFS;
	return (int)__onvm_msg_fan_out(sh, m, nf_id, service, &dropped);
}

int
onvm_mgr_msg_take_reply(struct onvm_shared *sh, struct onvm_nf_msg *out)
{
	void *obj;

	if (rte_ring_dequeue(sh->ctl_reply_ring, &obj) < 0)
		return 0;
	memcpy(out, obj, sizeof(*out));
	__onvm_msg_free(sh, obj);
	return 1;
}

struct __onvm_msg_walk {
	uint16_t nf_id;
	unsigned int count;
};

static void
__onvm_msg_reclaim_one(struct rte_mempool *mp, void *arg, void *obj,
                       unsigned int idx)
{
	struct __onvm_msg_walk *walk = arg;
	struct onvm_nf_msg *m = obj;

	RTE_SET_USED(idx);
	if (m->owner != walk->nf_id)
		return;
	m->owner = ONVM_OWNER_NONE;
	rte_mempool_generic_put(mp, &obj, 1, NULL);
	walk->count++;
}

unsigned int
__onvm_msg_reclaim(struct onvm_shared *sh, uint16_t nf_id)
{
	struct __onvm_msg_walk walk = {.nf_id = nf_id, .count = 0};
	void *obj;

	/* Its inbox's messages are its own (owner): the walk frees them, and
	 * the ring is emptied for the slot's next NF. */
	while (rte_ring_dequeue(sh->nfs[nf_id].inbox, &obj) == 0)
		;
	rte_mempool_obj_iter(sh->msg_pool, __onvm_msg_reclaim_one, &walk);
	/* What it put on its outbox before dying still goes out. */
	if (!rte_ring_empty(sh->nfs[nf_id].outbox))
		__atomic_fetch_or(&sh->msg_pending, UINT64_C(1) << nf_id,
		                  __ATOMIC_RELEASE);
	return walk.count;
}
