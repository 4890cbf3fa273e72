/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Metrics an NF publishes for its manager to read (onvm-ctl nf metrics,
 * the nf.metrics command, Prometheus): counters and histograms, each
 * family with one label that tells its series apart ("subnet",
 * "event", ...), in a hugepage memzone of the NF's own, ONVM_NF_METRICS_FMT.
 *
 * The layout describes itself: each family has a name, a help text, its
 * label's name, its kind and, for a histogram, its buckets' upper bounds;
 * its series follow the header, each with its label's value, a count, a
 * sum and the bucket counts. The NF is the only writer of a series: it
 * makes the series' sequence word odd while it writes and even again
 * after; readers copy a series and retry while the word was odd or changed
 * (onvm_nf_metrics_read_series()). A family's series are added, never
 * removed, and published by raising its `nseries` once they are written.
 *
 * The NF creates the memzone when it starts; the manager frees it once the
 * NF's slot is free again (the NF left or crashed), so that nothing frees
 * it under a reader of the manager's.
 */
#ifndef ONVM_NF_METRICS_H
#define ONVM_NF_METRICS_H

#include <stdint.h>

#include <rte_common.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ONVM_NF_METRICS_FMT "onvm_metrics_nf%u" /* NF id */
#define ONVM_NF_METRICS_MAGIC 0x6f6d7472U       /* "omtr" */
#define ONVM_METRICS_FAMILIES_MAX 8
#define ONVM_METRICS_NAME_MAX 64 /* names of families and labels, NUL too */
#define ONVM_METRICS_HELP_MAX 128
#define ONVM_METRICS_VALUE_MAX 48     /* a label's value, NUL included */
#define ONVM_METRICS_BOUNDS_MAX 64    /* a histogram's buckets, +Inf apart */
#define ONVM_METRICS_SERIES_MAX 65536 /* series of one NF, all families */
/* onvm_nf_metrics_release(): whatever the NF slot's generation */
#define ONVM_NF_METRICS_ANY_GENERATION 0xffffffffU

enum onvm_metric_kind {
	ONVM_METRIC_COUNTER = 1,   /* a count that only grows */
	ONVM_METRIC_HISTOGRAM = 2, /* observations in buckets, their sum */
};

/* A family as the NF asks for it (onvm_nf_metrics_create()). */
struct onvm_metric_spec {
	const char *name;  /* [a-zA-Z_][a-zA-Z0-9_]*, < ONVM_METRICS_NAME_MAX */
	const char *help;  /* one line, shortened to ONVM_METRICS_HELP_MAX */
	const char *label; /* as name; not manager, nf_id, nf_name or le */
	uint32_t kind;     /* enum onvm_metric_kind */
	uint32_t max_series;
	uint32_t nbounds;     /* histogram: 1 to ONVM_METRICS_BOUNDS_MAX */
	const double *bounds; /* histogram: upper bounds, strictly rising */
};

/* One series: a label value and its numbers. */
struct onvm_metric_series {
	volatile uint32_t seq; /* odd while the NF writes */
	uint32_t reserved;
	char value[ONVM_METRICS_VALUE_MAX]; /* the label's value */
	uint64_t count; /* counter: its value; histogram: observations */
	double sum;     /* histogram: of the observations */
	/* histogram: observations up to each bound (not cumulative), then
	 * those above the last */
	uint64_t buckets[ONVM_METRICS_BOUNDS_MAX + 1];
} __rte_cache_aligned;

struct onvm_metric_family {
	char name[ONVM_METRICS_NAME_MAX];
	char help[ONVM_METRICS_HELP_MAX];
	char label[ONVM_METRICS_NAME_MAX];
	uint32_t kind;
	uint32_t nbounds;
	double bounds[ONVM_METRICS_BOUNDS_MAX];
	uint32_t max_series;
	volatile uint32_t nseries; /* series [0, nseries) are published */
	uint32_t first;            /* its first series in the zone */
	uint32_t reserved;
};

/* The header of memzone ONVM_NF_METRICS_FMT; the series follow it. */
struct onvm_nf_metrics {
	uint32_t magic; /* ONVM_NF_METRICS_MAGIC once the families are set */
	uint16_t nf_id;
	uint16_t nfamilies;
	uint32_t generation; /* the NF slot's, when the NF made the zone */
	uint32_t total_series;
	struct onvm_metric_family families[ONVM_METRICS_FAMILIES_MAX];
} __rte_cache_aligned;

/**
 * Create the metrics memzone of NF @p nf_id (freeing one that an earlier
 * NF of that id left), with @p n families described by @p specs, no
 * series yet.
 *
 * @param generation
 *   The NF slot's generation (onvm_nflib_nf(ctx)->generation): the
 *   manager frees the zone once that NF is gone.
 * @return
 *   The zone, or NULL with rte_errno EINVAL (a spec is wrong: a name, a
 *   label, no series, bounds not rising, too many families or series) or
 *   ENOMEM.
 */
struct onvm_nf_metrics *
onvm_nf_metrics_create(uint16_t nf_id, uint32_t generation,
                       const struct onvm_metric_spec *specs, unsigned int n);

/**
 * Add a series to family @p family of @p m, with label value @p value
 * (shortened to ONVM_METRICS_VALUE_MAX - 1 bytes), all zero. NF only.
 *
 * @return
 *   The series, or NULL when the family has max_series already (or no
 *   such family).
 */
struct onvm_metric_series *onvm_nf_metrics_add_series(struct onvm_nf_metrics *m,
                                                      unsigned int family,
                                                      const char *value);

/**
 * Series @p index of family @p family of @p m (published or not).
 *
 * @return
 *   The series, or NULL out of range.
 */
struct onvm_metric_series *onvm_nf_metrics_series(struct onvm_nf_metrics *m,
                                                  unsigned int family,
                                                  unsigned int index);

/**
 * Copy @p s into @p copy, consistent against the NF's writes.
 *
 * @return
 *   0, or -EBUSY if the NF kept writing it (or died halfway) for as long
 *   as a reader waits.
 */
int onvm_nf_metrics_read_series(const struct onvm_metric_series *s,
                                struct onvm_metric_series *copy);

/**
 * The metrics zone of NF @p nf_id.
 *
 * @return
 *   The zone, or NULL (the NF publishes none, or has not finished making
 *   it).
 */
struct onvm_nf_metrics *onvm_nf_metrics_lookup(uint16_t nf_id);

/**
 * Free the metrics zone of NF @p nf_id if it was made by the NF of slot
 * generation @p generation (ONVM_NF_METRICS_ANY_GENERATION: whoever made
 * it).
 *
 * @return
 *   1 if freed, 0 if there was none to free.
 */
int onvm_nf_metrics_release(uint16_t nf_id, uint32_t generation);

/** Begin a write of series @p s (NF only). */
static inline void
onvm_metric_write_begin(struct onvm_metric_series *s)
{
	__atomic_store_n(&s->seq, s->seq + 1, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
}

/** End a write of series @p s. */
static inline void
onvm_metric_write_end(struct onvm_metric_series *s)
{
	__atomic_store_n(&s->seq, s->seq + 1, __ATOMIC_RELEASE);
}

/**
 * Observe @p value in histogram series @p s of family @p f: the first
 * bucket whose bound is at least @p value (a binary search), the count
 * and the sum. NF only.
 */
static inline void
onvm_metric_observe(const struct onvm_metric_family *f,
                    struct onvm_metric_series *s, double value)
{
	uint32_t lo = 0, hi = f->nbounds;

	while (lo < hi) {
		uint32_t mid = (lo + hi) / 2;

		if (value <= f->bounds[mid])
			hi = mid;
		else
			lo = mid + 1;
	}
	onvm_metric_write_begin(s);
	s->buckets[lo]++;
	s->count++;
	s->sum += value;
	onvm_metric_write_end(s);
}

/** Set counter series @p s to @p value (NF only). */
static inline void
onvm_metric_set_count(struct onvm_metric_series *s, uint64_t value)
{
	onvm_metric_write_begin(s);
	s->count = value;
	onvm_metric_write_end(s);
}

#ifdef __cplusplus
}
#endif

#endif /* ONVM_NF_METRICS_H */
