/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Flow rules: exact 5-tuple -> chain, in a DPDK hash that worker lcores read
 * lock-free while the control thread writes. A deleted key's slot is kept
 * for a grace period before reuse, as lock-free readers require.
 */
#include <errno.h>

#include <rte_cycles.h>
#include <rte_hash.h>

#include "mgr_internal.h"

#define ONVM_FLOW_GRACE_MS 100

int
onvm_mgr_flow_add(struct onvm_shared *sh, const struct onvm_flow_key *key,
		  uint16_t chain_id)
{
	struct rte_hash *h = sh->flow_table;
	int rc;

	if (chain_id >= ONVM_MAX_CHAINS)
		return -EINVAL;
	onvm_mgr_flow_gc(sh);
	rc = rte_hash_add_key_with_hash_data(h, key, onvm_flow_key_hash(key),
					     (void *)(uintptr_t)chain_id);
	if (rc < 0)
		return rc;
	__atomic_store_n(&sh->flow_count, rte_hash_count(h), __ATOMIC_RELEASE);
	return 0;
}

int
onvm_mgr_flow_del(struct onvm_shared *sh, const struct onvm_flow_key *key)
{
	struct rte_hash *h = sh->flow_table;
	int32_t pos;

	if (__onvm_mgr.n_flow_gc == ONVM_FLOW_GC_MAX)
		return -EBUSY;
	pos = rte_hash_del_key_with_hash(h, key, onvm_flow_key_hash(key));
	if (pos < 0)
		return pos;
	__onvm_mgr.flow_gc_pos[__onvm_mgr.n_flow_gc] = pos;
	__onvm_mgr.flow_gc_tsc[__onvm_mgr.n_flow_gc] = rte_get_tsc_cycles();
	__onvm_mgr.n_flow_gc++;
	__atomic_store_n(&sh->flow_count, rte_hash_count(h), __ATOMIC_RELEASE);
	return 0;
}

void
onvm_mgr_flow_gc(struct onvm_shared *sh)
{
	const uint64_t grace = sh->tsc_hz / 1000 * ONVM_FLOW_GRACE_MS;
	const uint64_t now = rte_get_tsc_cycles();
	unsigned int i = 0;

	while (i < __onvm_mgr.n_flow_gc) {
		if (now - __onvm_mgr.flow_gc_tsc[i] <= grace) {
			i++;
			continue;
		}
		rte_hash_free_key_with_position(sh->flow_table,
						__onvm_mgr.flow_gc_pos[i]);
		__onvm_mgr.n_flow_gc--;
		__onvm_mgr.flow_gc_pos[i] = __onvm_mgr.flow_gc_pos[__onvm_mgr.n_flow_gc];
		__onvm_mgr.flow_gc_tsc[i] = __onvm_mgr.flow_gc_tsc[__onvm_mgr.n_flow_gc];
	}
}
