/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Cross-process sleep and wake on a 32-bit word in hugepage memory (a
 * shared futex). Used for the NF registration handshake and for
 * shared-core NFs that sleep while idle.
 */
#ifndef ONVM_WAKE_H
#define ONVM_WAKE_H

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#include <linux/futex.h>
#include <sys/syscall.h>

#include <rte_atomic.h>
#include <rte_cycles.h>

#include <onvm/common.h>

/* Sleep while *word == expected, at most timeout_ns. Returns 0 when woken
 * or the word changed, -ETIMEDOUT, or -EINTR. */
static inline int
__onvm_wait_word(volatile uint32_t *word, uint32_t expected,
                 uint64_t timeout_ns)
{
	struct timespec ts = {
	    .tv_sec = (time_t)(timeout_ns / 1000000000ULL),
	    .tv_nsec = (long)(timeout_ns % 1000000000ULL),
	};
	long rc = syscall(SYS_futex, (uint32_t *)word, FUTEX_WAIT, expected,
	                  &ts, NULL, 0);

	if (rc == 0 || errno == EAGAIN)
		return 0;
	return -errno;
}

/* Wake every process sleeping on word. */
static inline void
__onvm_wake_word(volatile uint32_t *word)
{
	syscall(SYS_futex, (uint32_t *)word, FUTEX_WAKE, INT_MAX, NULL, NULL,
	        0);
}

/* Sleeping shared-core NFs fed but not woken yet, and since when each has
 * waited; one per waker (a manager worker, an NF handing packets over). */
struct __onvm_wake_pending {
	uint64_t mask;
	uint64_t since[ONVM_MAX_NFS];
};

/* Packets this waker has left NF @p id, for the wake_batch threshold. */
typedef unsigned int (*__onvm_waiting_t)(const struct onvm_shared *sh,
                                         unsigned int id, const void *arg);

/* Wake the NFs of @p fed, and those fed before, that sleep and have a
 * batch waiting or have waited wake_delay: a context switch should carry
 * more than one burst. One fence for them all: it pairs with each NF's
 * store of `sleeping` then check of its rings, so either the NF sees its
 * packets or this sees it asleep. */
static inline void
__onvm_wake_batched(struct onvm_shared *sh, struct __onvm_wake_pending *p,
                    uint64_t fed, __onvm_waiting_t waiting, const void *arg)
{
	uint64_t now = 0;

	rte_smp_mb();
	fed |= p->mask;
	while (fed) {
		unsigned int id = __builtin_ctzll(fed);
		struct onvm_nf *nf = &sh->nfs[id];
		uint64_t bit = UINT64_C(1) << id;

		fed &= fed - 1;
		if (!nf->sleeping) {
			p->mask &= ~bit;
			continue;
		}
		if (now == 0)
			now = rte_rdtsc();
		if (!(p->mask & bit)) {
			p->mask |= bit;
			p->since[id] = now;
		}
		if (waiting(sh, id, arg) < sh->wake_batch &&
		    now - p->since[id] < sh->wake_delay_tsc)
			continue;
		p->mask &= ~bit;
		nf->sleeping = 0;
		__onvm_wake_word(&nf->sleeping);
	}
}

#endif /* ONVM_WAKE_H */
