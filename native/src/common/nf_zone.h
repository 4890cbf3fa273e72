/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Memzones an NF publishes for the manager to read (its bpf directory, its
 * metrics): named after the NF id, each starting with a 32-bit magic that
 * the NF stores last, once the rest is set.
 */
#ifndef ONVM_NF_ZONE_H
#define ONVM_NF_ZONE_H

#include <stdint.h>
#include <stdio.h>

#include <rte_memzone.h>

/* NF @p nf_id's zone named by @p fmt, or NULL while absent or not ready. */
static inline void *
__onvm_nf_zone_lookup(const char *fmt, uint16_t nf_id, uint32_t magic)
{
	char name[RTE_MEMZONE_NAMESIZE];
	const struct rte_memzone *mz;

	snprintf(name, sizeof(name), fmt, nf_id);
	mz = rte_memzone_lookup(name);
	if (mz == NULL || __atomic_load_n((const uint32_t *)mz->addr,
	                                  __ATOMIC_ACQUIRE) != magic)
		return NULL;
	return mz->addr;
}

#endif /* ONVM_NF_ZONE_H */
