/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Service table writer (control worker only). Each service maps flow-hash
 * buckets to instances; adding or removing an instance moves only the
 * buckets it gains or loses, so other flows stay where they are.
 */
#include <errno.h>

#include "mgr_internal.h"

static void
__onvm_service_write_begin(struct onvm_service *s)
{
	__atomic_store_n(&s->seq, s->seq + 1, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
}

static void
__onvm_service_write_end(struct onvm_service *s)
{
	__atomic_store_n(&s->seq, s->seq + 1, __ATOMIC_RELEASE);
}

static unsigned int
__onvm_service_buckets_of(const struct onvm_service *s, uint16_t nf_id)
{
	unsigned int b, n = 0;

	for (b = 0; b < ONVM_SERVICE_BUCKETS; b++)
		n += s->bucket_nf[b] == nf_id;
	return n;
}

int
__onvm_service_add(struct onvm_shared *sh, uint16_t service_id, uint16_t nf_id)
{
	struct onvm_service *s = &sh->services[service_id];
	unsigned int share, b, i;

	if (s->count >= ONVM_MAX_INSTANCES)
		return -ENOSPC;
	/* Before the buckets move: from here on port RX hashes every packet
	 * (one already past it is hashed when picked). */
	if (s->count == 1)
		__atomic_fetch_add(&sh->scaled_services, 1, __ATOMIC_RELEASE);
	__onvm_service_write_begin(s);
	s->instances[s->count++] = nf_id;
	sh->nfs[nf_id].instance = (uint16_t)(s->count - 1);
	if (s->count == 1) {
		for (b = 0; b < ONVM_SERVICE_BUCKETS; b++)
			s->bucket_nf[b] = nf_id;
	} else {
		/* Take an equal share, from instances above their share. */
		unsigned int got = 0;

		share = ONVM_SERVICE_BUCKETS / s->count;
		for (i = 0; i + 1 < s->count && got < share; i++) {
			uint16_t donor = s->instances[i];
			unsigned int have = __onvm_service_buckets_of(s, donor);

			for (b = 0; b < ONVM_SERVICE_BUCKETS && have > share &&
			            got < share;
			     b++) {
				if (s->bucket_nf[b] == donor) {
					s->bucket_nf[b] = nf_id;
					have--;
					got++;
				}
			}
		}
	}
	__onvm_service_write_end(s);
	return 0;
}

void
__onvm_service_remove(struct onvm_shared *sh, uint16_t service_id,
                      uint16_t nf_id)
{
	struct onvm_service *s = &sh->services[service_id];
	unsigned int b, i, next = 0;

	for (i = 0; i < s->count && s->instances[i] != nf_id; i++)
		;
	if (i == s->count)
		return;
	__onvm_service_write_begin(s);
	s->instances[i] = s->instances[--s->count];
	s->instances[s->count] = 0;
	if (i < s->count)
		sh->nfs[s->instances[i]].instance = (uint16_t)i;
	/* Hand its buckets round-robin to those left (0 if none). */
	for (b = 0; b < ONVM_SERVICE_BUCKETS; b++) {
		if (s->bucket_nf[b] != nf_id)
			continue;
		s->bucket_nf[b] =
		    s->count ? s->instances[next++ % s->count] : 0;
	}
	__onvm_service_write_end(s);
	if (s->count == 1)
		__atomic_fetch_sub(&sh->scaled_services, 1, __ATOMIC_RELEASE);
}
