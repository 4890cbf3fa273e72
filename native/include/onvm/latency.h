/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Latency histograms, in shared memory: log-linear buckets of TSC cycles
 * (exact below 2^ONVM_HIST_SUB_BITS, then 2^ONVM_HIST_SUB_BITS buckets per
 * power of two, so a bucket is under 0.8% of its values wide), fixed size,
 * one writer each. Readers (the manager's control thread) copy the buckets
 * and compute percentiles; a copy taken while the writer runs may miss its
 * last few samples, never mix up buckets.
 *
 * Written per packet sampled: an NF's histogram by the NF (from the time a
 * packet was queued for it to the time it hands it on), a chain's by each
 * worker (port RX to port TX), one per worker.
 */
#ifndef ONVM_LATENCY_H
#define ONVM_LATENCY_H

#include <stdint.h>

#define ONVM_HIST_SUB_BITS 7
#define ONVM_HIST_MAX_BITS 38 /* values up to 2^38 cycles: over 100 s */
/* (ONVM_HIST_MAX_BITS - ONVM_HIST_SUB_BITS + 1) << ONVM_HIST_SUB_BITS, as
 * a literal for the Python contract; pkt_meta.c checks it. */
#define ONVM_HIST_BUCKETS 4096

struct onvm_hist {
	uint64_t count;
	uint64_t sum; /* cycles */
	uint64_t max; /* cycles */
	uint64_t buckets[ONVM_HIST_BUCKETS];
};

/* The bucket of @p v cycles. Bucket b >= 2^SUB_BITS holds
 * [(2^SUB_BITS + m) << s, (2^SUB_BITS + m + 1) << s) with
 * s = b / 2^SUB_BITS - 1 and m = b % 2^SUB_BITS. */
static inline unsigned int
onvm_hist_bucket(uint64_t v)
{
	unsigned int msb, shift;

	if (v < (UINT64_C(1) << ONVM_HIST_SUB_BITS))
		return (unsigned int)v;
	msb = 63u - (unsigned int)__builtin_clzll(v);
	if (msb >= ONVM_HIST_MAX_BITS)
		return ONVM_HIST_BUCKETS - 1;
	shift = msb - ONVM_HIST_SUB_BITS;
	return ((shift + 1) << ONVM_HIST_SUB_BITS) +
	       (unsigned int)((v >> shift) &
	                      ((UINT64_C(1) << ONVM_HIST_SUB_BITS) - 1));
}

static inline void
onvm_hist_record(struct onvm_hist *h, uint64_t v)
{
	h->buckets[onvm_hist_bucket(v)]++;
	h->count++;
	h->sum += v;
	if (v > h->max)
		h->max = v;
}

#endif /* ONVM_LATENCY_H */
