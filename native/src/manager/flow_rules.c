/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Flow rules: ordered 5-tuple rules with wildcards, CIDRs and port ranges,
 * each steering matching packets to a chain. The control thread compiles
 * the whole rule list into a new classifier and publishes it with one
 * pointer store; workers classify each port burst against the set they
 * loaded. A replaced set is freed once every worker has finished the loop
 * that might still use it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include <rte_errno.h>

#include "mgr_internal.h"

static struct __onvm_flow_rules *
__onvm_flow_rules_build(const struct onvm_rule *rules, const uint16_t *chains,
                        uint32_t n, int *err)
{
	static uint32_t generation; /* ACL context names must be unique */
	struct __onvm_flow_rules *set;
	char name[32];
	uint32_t i;

	set = calloc(1, sizeof(*set));
	if (set == NULL) {
		*err = -ENOMEM;
		return NULL;
	}
	for (i = 0; i < n; i++) {
		uint32_t slot = rules[i].result - 1;

		if (rules[i].result == 0 || slot >= ONVM_MAX_FLOW_RULES ||
		    chains[i] >= ONVM_MAX_CHAINS) {
			*err = -EINVAL;
			goto fail;
		}
		set->chain_of_slot[slot] = chains[i];
	}
	snprintf(name, sizeof(name), "onvm_flows%u", generation++);
	set->classifier = onvm_classifier_create(name, n);
	if (set->classifier == NULL) {
		*err = -rte_errno;
		goto fail;
	}
	*err = onvm_classifier_add(set->classifier, rules, n);
	if (*err == 0)
		*err = onvm_classifier_build(set->classifier);
	if (*err == 0)
		return set;
fail:
	if (set->classifier)
		onvm_classifier_free(set->classifier);
	free(set);
	return NULL;
}

static void
__onvm_flow_rules_free(struct __onvm_flow_rules *set)
{
	onvm_classifier_free(set->classifier);
	free(set);
}

/* True once every worker has bumped its epoch twice since the set was
 * retired: the loop that may have loaded it has ended. */
static int
__onvm_flow_rules_unused(const struct onvm_shared *sh,
                         const struct __onvm_flow_rules *set)
{
	unsigned int i;

	if (!__atomic_load_n(&sh->running, __ATOMIC_ACQUIRE))
		return 1;
	for (i = 0; i < sh->num_workers; i++)
		if (__atomic_load_n(&sh->workers[i].epoch, __ATOMIC_ACQUIRE) <
		    set->retired_epochs[i] + 2)
			return 0;
	return 1;
}

void
onvm_mgr_flow_rules_gc(struct onvm_shared *sh)
{
	struct __onvm_flow_rules **link = &__onvm_mgr.retired_flow_rules;

	while (*link) {
		struct __onvm_flow_rules *set = *link;

		if (__onvm_flow_rules_unused(sh, set)) {
			*link = set->next_retired;
			__onvm_flow_rules_free(set);
		} else {
			link = &set->next_retired;
		}
	}
}

int
onvm_mgr_flow_rules_set(struct onvm_shared *sh, const struct onvm_rule *rules,
                        const uint16_t *chains, uint32_t n)
{
	struct __onvm_flow_rules *set = NULL, *old;
	unsigned int i;
	int err = 0;

	if (n > ONVM_MAX_FLOW_RULES)
		return -ENOSPC;
	onvm_mgr_flow_rules_gc(sh);
	if (n > 0) {
		set = __onvm_flow_rules_build(rules, chains, n, &err);
		if (set == NULL)
			return err;
	}
	old = __atomic_exchange_n((struct __onvm_flow_rules **)&sh->flow_rules,
	                          set, __ATOMIC_SEQ_CST);
	if (old != NULL) {
		for (i = 0; i < sh->num_workers; i++)
			old->retired_epochs[i] = __atomic_load_n(
			    &sh->workers[i].epoch, __ATOMIC_ACQUIRE);
		old->next_retired = __onvm_mgr.retired_flow_rules;
		__onvm_mgr.retired_flow_rules = old;
	}
	return 0;
}

uint64_t
onvm_mgr_flow_hits(const struct onvm_shared *sh, uint32_t slot)
{
	uint64_t hits = 0;
	unsigned int i;

	if (slot >= ONVM_MAX_FLOW_RULES)
		return 0;
	for (i = 0; i < sh->num_workers; i++)
		hits += sh->workers[i].flow_hits[slot];
	return hits;
}
