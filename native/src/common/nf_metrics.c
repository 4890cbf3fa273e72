/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * An NF's metrics zone: made by the NF, read by the manager, freed by the
 * manager once the NF is gone (see onvm/nf_metrics.h).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <rte_errno.h>
#include <rte_memzone.h>
#include <rte_pause.h>

#include <onvm/nf_metrics.h>

#include "nf_zone.h"

/* A reader gives up on a series after this many tries (its NF died while
 * writing it, or writes it without pause). */
#define METRICS_READ_TRIES 100000

/* Labels the manager adds to every series it exports. */
static const char *const metrics_reserved_labels[] = {"manager", "nf_id",
                                                      "nf_name", "le"};

static int
metrics_name_ok(const char *name)
{
	size_t i, len;

	if (name == NULL || (len = strlen(name)) == 0 ||
	    len >= ONVM_METRICS_NAME_MAX)
		return 0;
	for (i = 0; i < len; i++) {
		char c = name[i];
		int alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		            c == '_';

		if (!alpha && (i == 0 || c < '0' || c > '9'))
			return 0;
	}
	return 1;
}

static int
metrics_spec_ok(const struct onvm_metric_spec *s)
{
	uint32_t i;

	if (!metrics_name_ok(s->name) || !metrics_name_ok(s->label) ||
	    s->max_series == 0 || s->max_series > ONVM_METRICS_SERIES_MAX)
		return 0;
	for (i = 0; i < RTE_DIM(metrics_reserved_labels); i++)
		if (strcmp(s->label, metrics_reserved_labels[i]) == 0)
			return 0;
	if (s->kind == ONVM_METRIC_COUNTER)
		return 1;
	if (s->kind != ONVM_METRIC_HISTOGRAM || s->bounds == NULL ||
	    s->nbounds == 0 || s->nbounds > ONVM_METRICS_BOUNDS_MAX)
		return 0;
	for (i = 0; i < s->nbounds; i++)
		if (!isfinite(s->bounds[i]) ||
		    (i > 0 && s->bounds[i] <= s->bounds[i - 1]))
			return 0;
	return 1;
}

/* Where the series start: past the header, on a cache line. */
static inline struct onvm_metric_series *
metrics_series_base(struct onvm_nf_metrics *m)
{
	return (struct onvm_metric_series *)(uintptr_t)RTE_ALIGN_CEIL(
	    (uintptr_t)m + sizeof(*m), RTE_CACHE_LINE_SIZE);
}

struct onvm_nf_metrics *
onvm_nf_metrics_create(uint16_t nf_id, uint32_t generation,
                       const struct onvm_metric_spec *specs, unsigned int n)
{
	char name[RTE_MEMZONE_NAMESIZE];
	const struct rte_memzone *mz;
	struct onvm_nf_metrics *m;
	uint64_t total = 0;
	unsigned int f;

	if (specs == NULL || n == 0 || n > ONVM_METRICS_FAMILIES_MAX) {
		rte_errno = EINVAL;
		return NULL;
	}
	for (f = 0; f < n; f++) {
		if (!metrics_spec_ok(&specs[f])) {
			rte_errno = EINVAL;
			return NULL;
		}
		total += specs[f].max_series;
	}
	if (total > ONVM_METRICS_SERIES_MAX) {
		rte_errno = EINVAL;
		return NULL;
	}
	onvm_nf_metrics_release(nf_id, ONVM_NF_METRICS_ANY_GENERATION);
	snprintf(name, sizeof(name), ONVM_NF_METRICS_FMT, nf_id);
	mz = rte_memzone_reserve_aligned(
	    name,
	    RTE_ALIGN_CEIL(sizeof(*m), RTE_CACHE_LINE_SIZE) +
	        total * sizeof(struct onvm_metric_series),
	    SOCKET_ID_ANY, 0, RTE_CACHE_LINE_SIZE);
	if (mz == NULL) {
		rte_errno = ENOMEM;
		return NULL;
	}
	m = mz->addr;
	memset(m, 0, mz->len);
	m->nf_id = nf_id;
	m->generation = generation;
	m->nfamilies = (uint16_t)n;
	m->total_series = (uint32_t)total;
	for (f = 0, total = 0; f < n; f++) {
		const struct onvm_metric_spec *s = &specs[f];
		struct onvm_metric_family *fam = &m->families[f];

		snprintf(fam->name, sizeof(fam->name), "%s", s->name);
		snprintf(fam->help, sizeof(fam->help), "%s",
		         s->help ? s->help : "");
		snprintf(fam->label, sizeof(fam->label), "%s", s->label);
		fam->kind = s->kind;
		fam->max_series = s->max_series;
		fam->first = (uint32_t)total;
		if (s->kind == ONVM_METRIC_HISTOGRAM) {
			fam->nbounds = s->nbounds;
			memcpy(fam->bounds, s->bounds,
			       s->nbounds * sizeof(s->bounds[0]));
		}
		total += s->max_series;
	}
	/* Readers look at nothing else until the magic is there. */
	__atomic_store_n(&m->magic, ONVM_NF_METRICS_MAGIC, __ATOMIC_RELEASE);
	return m;
}

struct onvm_metric_series *
onvm_nf_metrics_series(struct onvm_nf_metrics *m, unsigned int family,
                       unsigned int index)
{
	const struct onvm_metric_family *fam;

	if (family >= m->nfamilies)
		return NULL;
	fam = &m->families[family];
	if (index >= fam->max_series)
		return NULL;
	return metrics_series_base(m) + fam->first + index;
}

struct onvm_metric_series *
onvm_nf_metrics_add_series(struct onvm_nf_metrics *m, unsigned int family,
                           const char *value)
{
	struct onvm_metric_family *fam;
	struct onvm_metric_series *s;

	if (family >= m->nfamilies)
		return NULL;
	fam = &m->families[family];
	s = onvm_nf_metrics_series(m, family, fam->nseries);
	if (s == NULL)
		return NULL;
	snprintf(s->value, sizeof(s->value), "%s", value);
	/* Published once its label is written. */
	__atomic_store_n(&fam->nseries, fam->nseries + 1, __ATOMIC_RELEASE);
	return s;
}

int
onvm_nf_metrics_read_series(const struct onvm_metric_series *s,
                            struct onvm_metric_series *copy)
{
	unsigned int tries;

	for (tries = 0; tries < METRICS_READ_TRIES; tries++) {
		uint32_t seq = __atomic_load_n(&s->seq, __ATOMIC_ACQUIRE);

		if ((seq & 1) == 0) {
			memcpy(copy, (const void *)s, sizeof(*copy));
			__atomic_thread_fence(__ATOMIC_ACQUIRE);
			if (__atomic_load_n(&s->seq, __ATOMIC_RELAXED) == seq)
				return 0;
		}
		rte_pause();
	}
	return -EBUSY;
}

struct onvm_nf_metrics *
onvm_nf_metrics_lookup(uint16_t nf_id)
{
	return __onvm_nf_zone_lookup(ONVM_NF_METRICS_FMT, nf_id,
	                             ONVM_NF_METRICS_MAGIC);
}

int
onvm_nf_metrics_release(uint16_t nf_id, uint32_t generation)
{
	char name[RTE_MEMZONE_NAMESIZE];
	const struct rte_memzone *mz;
	const struct onvm_nf_metrics *m;

	snprintf(name, sizeof(name), ONVM_NF_METRICS_FMT, nf_id);
	mz = rte_memzone_lookup(name);
	if (mz == NULL)
		return 0;
	m = mz->addr;
	/* A zone still being made has no generation yet: another NF's. */
	if (generation != ONVM_NF_METRICS_ANY_GENERATION &&
	    (__atomic_load_n(&m->magic, __ATOMIC_ACQUIRE) !=
	         ONVM_NF_METRICS_MAGIC ||
	     m->generation != generation))
		return 0;
	return rte_memzone_free(mz) == 0;
}
