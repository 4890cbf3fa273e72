/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Flow rules: 5-tuple rules with wildcards, CIDRs and port ranges, input
 * port, VLAN and DSCP, each steering the packets it matches to a chain or
 * dropping them, and perhaps copying them to a service.
 *
 * Compiling DPDK ACL tries costs 15-50 us a rule, and 0.2 ms however few
 * (8 MiB of scratch cleared, the CPU's features asked 16 times), so
 * compiling every rule again at each add (10,000 rules: 0.5 s) made n
 * single adds cost O(n^2). The rules are spread over three tiers instead,
 * classified together, where the best rank (priority, then the rule added
 * first) of their matches wins:
 *
 *   newest  up to NEWEST_MAX rules, not compiled: the workers test them
 *           one by one. An add makes this tier again, in microseconds;
 *   middle  up to max(MIDDLE_MIN, sqrt(32 * main)) rules, compiled: when
 *           the newest would overflow, they are compiled into the middle;
 *   main    the rest, compiled: when the middle would overflow, every
 *           rule is compiled into the main set.
 *
 * A rule is compiled a few times in the middle and, as the main set grows
 * geometrically, a constant number of times in it: an add costs a small,
 * bounded build on average. The middle's bound balances its own builds
 * (its rules, once every NEWEST_MAX adds) against the main set's (all the
 * rules, once every middle's worth of adds). A bulk add goes straight to
 * the smallest tier that takes it with the tiers after it. Once adds pause,
 * the control plane settles the newest rules into the middle
 * (onvm_mgr_flow_rules_settle()), so that no packet is tested rule by rule
 * for long.
 *
 * The control thread publishes a new rule set (the tiers' pointers) with
 * one pointer store; workers classify each port burst against the set they
 * loaded. A tier is shared by the sets made with it and freed with the
 * last; a replaced set is freed once every worker has finished the loop
 * that might still use it.
 *
 * A delete marks a compiled rule dead where it stands (it still matches,
 * and stands for no rule) if no live rule of lower rank in its tier
 * overlaps it: then no packet it matches could have matched another rule
 * of that tier. Else its tier is compiled again without it, as it is once
 * half its rules are dead. The newest tier is simply made again.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <rte_byteorder.h>
#include <rte_errno.h>

#include "mgr_internal.h"

enum { TIER_MAIN, TIER_MIDDLE, TIER_NEWEST };

#define NEWEST_MAX 16
#define MIDDLE_MIN 256
/* Deletes looked at rule by rule for overlaps, at most: rule pairs. */
#define OVERLAP_CHECKS_MAX (1u << 22)
#define SEQ_BITS 48

/* Where a slot is in its life; ADDING and GOING only within a call. */
enum { SLOT_FREE, SLOT_LIVE, SLOT_ADDING, SLOT_GOING };

/* The control thread's copy of each rule in force, by slot. */
struct __onvm_flow_slot {
	struct onvm_flow_rule rule;
	uint64_t rank;
	uint32_t entry; /* its index in its tier */
	uint8_t tier;
	uint8_t state;
};

static struct {
	struct __onvm_flow_slot
	    *slots;          /* ONVM_MAX_FLOW_RULES, made at first use */
	uint32_t *scratch;   /* slots of a tier being made */
	uint64_t next_seq;   /* rules added so far */
	uint32_t generation; /* ACL context names must be unique */
	struct onvm_flow_tier_info info[ONVM_FLOW_TIERS];
} __onvm_flows;

static const struct __onvm_flow_rules *
__onvm_flow_rules_published(const struct onvm_shared *sh)
{
	return __atomic_load_n(
	    (struct __onvm_flow_rules *const *)&sh->flow_rules,
	    __ATOMIC_ACQUIRE);
}

static uint64_t
__onvm_now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static int
__onvm_flow_slots_init(void)
{
	if (__onvm_flows.slots != NULL)
		return 0;
	__onvm_flows.slots =
	    calloc(ONVM_MAX_FLOW_RULES, sizeof(*__onvm_flows.slots));
	__onvm_flows.scratch =
	    calloc(ONVM_MAX_FLOW_RULES, sizeof(*__onvm_flows.scratch));
	if (__onvm_flows.slots == NULL || __onvm_flows.scratch == NULL) {
		free(__onvm_flows.slots);
		free(__onvm_flows.scratch);
		__onvm_flows.slots = NULL;
		__onvm_flows.scratch = NULL;
		return -ENOMEM;
	}
	return 0;
}

/* ---- tiers ---- */

static void
__onvm_flow_tier_put(struct __onvm_flow_tier *t)
{
	if (t == NULL || --t->refs > 0)
		return;
	onvm_classifier_free(t->classifier);
	free(t);
}

static int
__onvm_rank_order(const void *a, const void *b)
{
	uint64_t ra = __onvm_flows.slots[*(const uint32_t *)a].rank;
	uint64_t rb = __onvm_flows.slots[*(const uint32_t *)b].rank;

	return ra < rb ? 1 : ra > rb ? -1 : 0; /* highest rank first */
}

/* The mask of the first @p bits bits of 16 bytes, at @p off bits in. */
static void
__onvm_prefix_mask(uint8_t *mask, unsigned int off, unsigned int bits)
{
	unsigned int b;

	memset(mask, 0, 16);
	for (b = off; b < off + bits; b++)
		mask[b / 8] |= (uint8_t)(0x80 >> (b % 8));
}

/* Address @p addr / @p prefix of a rule of family @p family, as a key
 * holds it (IPv4-mapped for IPv4), and its mask. */
static void
__onvm_scan_address(const uint8_t *addr, uint8_t prefix, uint8_t family,
                    uint64_t *value, uint64_t *mask)
{
	uint8_t v[16] = {0}, m[16];
	unsigned int k;

	if (family == 4) {
		memcpy(&v[12], addr, 4);
		__onvm_prefix_mask(m, 96, prefix);
	} else if (family == 6) {
		memcpy(v, addr, 16);
		__onvm_prefix_mask(m, 0, prefix);
	} else {
		memset(m, 0, sizeof(m)); /* both families: no address */
	}
	for (k = 0; k < 16; k++)
		v[k] &= m[k];
	memcpy(value, v, 16);
	memcpy(mask, m, 16);
}

static void
__onvm_scan_rule(const struct onvm_rule *r, struct __onvm_flow_scan_rule *s)
{
	struct onvm_match_key value, mask;

	memset(s, 0, sizeof(*s));
	__onvm_scan_address(r->src, r->src_prefix, r->family, s->src,
	                    s->src_mask);
	__onvm_scan_address(r->dst, r->dst_prefix, r->family, s->dst,
	                    s->dst_mask);
	memset(&value, 0, sizeof(value));
	memset(&mask, 0, sizeof(mask));
	if (r->fields & ONVM_RULE_VLAN) {
		value.vlan = rte_cpu_to_be_16(ONVM_MATCH_VLAN_TAGGED | r->vlan);
		mask.vlan = rte_cpu_to_be_16(ONVM_MATCH_VLAN_TAGGED | 0xfff);
	}
	if (r->fields & ONVM_RULE_IN_PORT) {
		value.in_port = r->in_port;
		mask.in_port = 0xff;
	}
	if (r->fields & ONVM_RULE_DSCP) {
		value.dscp = r->dscp;
		mask.dscp = 0xff;
	}
	memcpy(&s->word, &value.vlan, sizeof(s->word));
	memcpy(&s->word_mask, &mask.vlan, sizeof(s->word_mask));
	s->sport_lo = r->src_port_lo;
	s->sport_hi = r->src_port_hi;
	s->dport_lo = r->dst_port_lo;
	s->dport_hi = r->dst_port_hi;
	s->family = r->family;
	s->proto = r->proto;
}

/* Compile @p rules into a classifier for tier @p t; 0 or a negative errno. */
static int
__onvm_flow_tier_compile(struct __onvm_flow_tier *t,
                         const struct onvm_rule *rules)
{
	char name[32];
	int err;

	snprintf(name, sizeof(name), "onvm_flows%u", __onvm_flows.generation++);
	t->classifier = onvm_classifier_create_match(name, t->n);
	if (t->classifier == NULL)
		return -rte_errno;
	err = onvm_classifier_add(t->classifier, rules, t->n);
	return err < 0 ? err : onvm_classifier_build(t->classifier);
}

/* Tier @p which of the rules in @p slots (reordered: by rank), or NULL
 * with *err set. Nothing of the slot table changes. */
static struct __onvm_flow_tier *
__onvm_flow_tier_make(unsigned int which, uint32_t *slots, uint32_t n, int *err)
{
	int scan = which == TIER_NEWEST;
	struct onvm_rule *rules = NULL;
	struct __onvm_flow_tier *t;
	uint32_t i;

	qsort(slots, n, sizeof(*slots), __onvm_rank_order);
	t = calloc(1, sizeof(*t) + n * sizeof(t->entries[0]) +
	                  (scan ? n * sizeof(t->scan[0]) : 0));
	if (!scan)
		rules = malloc(n * sizeof(*rules));
	if (t == NULL || (!scan && rules == NULL)) {
		free(t);
		free(rules);
		*err = -ENOMEM;
		return NULL;
	}
	t->entries = (struct __onvm_flow_entry *)(t + 1);
	t->scan =
	    scan ? (struct __onvm_flow_scan_rule *)(t->entries + n) : NULL;
	t->n = n;
	t->refs = 1; /* the caller's, until published */
	for (i = 0; i < n; i++) {
		const struct __onvm_flow_slot *s =
		    &__onvm_flows.slots[slots[i]];
		struct __onvm_flow_entry *e = &t->entries[i];

		e->rank = s->rank;
		e->slot = slots[i];
		e->chain = s->rule.chain;
		e->mirror = s->rule.mirror;
		e->action = s->rule.action;
		if (scan) {
			__onvm_scan_rule(&s->rule.match, &t->scan[i]);
		} else {
			rules[i] = s->rule.match;
			rules[i].result =
			    i + 1; /* the classifier's: entry + 1 */
		}
	}
	*err = scan ? 0 : __onvm_flow_tier_compile(t, rules);
	free(rules);
	if (*err < 0) {
		__onvm_flow_tier_put(t);
		return NULL;
	}
	return t;
}

/* Append the live rules of tier @p t to @p out at *n. */
static void
__onvm_flow_tier_live(const struct __onvm_flow_tier *t, uint32_t *out,
                      uint32_t *n)
{
	uint32_t i;

	if (t == NULL)
		return;
	for (i = 0; i < t->n; i++)
		if (!t->entries[i].dead &&
		    __onvm_flows.slots[t->entries[i].slot].state == SLOT_LIVE)
			out[(*n)++] = t->entries[i].slot;
}

static uint32_t
__onvm_flow_tier_size(const struct __onvm_flow_tier *t)
{
	return t ? t->n - t->n_dead : 0;
}

static uint32_t
__onvm_middle_max(uint32_t main_rules)
{
	uint32_t root = 0, square = 32 * main_rules;

	while ((root + 1) * (root + 1) <= square)
		root++;
	return RTE_MAX((uint32_t)MIDDLE_MIN, root);
}

/* ---- publication ---- */

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

static void
__onvm_flow_rules_free(struct __onvm_flow_rules *set)
{
	unsigned int t;

	for (t = 0; t < ONVM_FLOW_TIERS; t++)
		__onvm_flow_tier_put(set->tiers[t]);
	free(set);
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

static void
__onvm_flow_current(const struct onvm_shared *sh,
                    struct __onvm_flow_tier **tiers)
{
	const struct __onvm_flow_rules *set = __onvm_flow_rules_published(sh);
	unsigned int t;

	for (t = 0; t < ONVM_FLOW_TIERS; t++)
		tiers[t] = set ? set->tiers[t] : NULL;
}

/* Drop the caller's references on the tiers marked in @p made. */
static void
__onvm_flow_drop_made(struct __onvm_flow_tier **next, const int *made)
{
	unsigned int t;

	for (t = 0; t < ONVM_FLOW_TIERS; t++)
		if (made[t])
			__onvm_flow_tier_put(next[t]);
}

/* Publish the set of tiers @p next, where those marked in @p made are new
 * (holding the caller's reference, which passes to the set) and the others
 * the current set's; retire the set it replaces and note where each slot
 * of the new tiers is. On failure the new tiers are freed and nothing
 * changed. */
static int
__onvm_flow_publish(struct onvm_shared *sh, struct __onvm_flow_tier **next,
                    const int *made)
{
	struct __onvm_flow_rules *set = NULL, *old;
	unsigned int i, t, any = 0;

	for (t = 0; t < ONVM_FLOW_TIERS; t++)
		any |= next[t] != NULL;
	if (any) {
		set = calloc(1, sizeof(*set));
		if (set == NULL) {
			__onvm_flow_drop_made(next, made);
			return -ENOMEM;
		}
		for (t = 0; t < ONVM_FLOW_TIERS; t++) {
			set->tiers[t] = next[t];
			if (next[t] != NULL && !made[t])
				next[t]->refs++;
		}
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
	for (t = 0; t < ONVM_FLOW_TIERS; t++) {
		if (!made[t] || next[t] == NULL)
			continue;
		for (i = 0; i < next[t]->n; i++) {
			struct __onvm_flow_slot *s =
			    &__onvm_flows.slots[next[t]->entries[i].slot];

			s->tier = (uint8_t)t;
			s->entry = i;
		}
	}
	return 0;
}

/* Make tier @p which of @p slots (none: empty) into next[which], marking
 * it made and counting the time. */
static int
__onvm_flow_remake(unsigned int which, uint32_t *slots, uint32_t n,
                   struct __onvm_flow_tier **next, int *made)
{
	uint64_t started = __onvm_now_ns();
	int err = 0;

	next[which] = NULL;
	made[which] = 1;
	if (n == 0)
		return 0;
	next[which] = __onvm_flow_tier_make(which, slots, n, &err);
	if (next[which] == NULL) {
		made[which] = 0;
		return err;
	}
	__onvm_flows.info[which].builds++;
	__onvm_flows.info[which].build_ns += __onvm_now_ns() - started;
	return 0;
}

/* Make tier @p which of its live rules, those of the tiers after it and
 * the @p n slots @p extra; empty the tiers after it; publish. */
static int
__onvm_flow_place(struct onvm_shared *sh, struct __onvm_flow_tier **cur,
                  unsigned int which, const uint32_t *extra, uint32_t n)
{
	struct __onvm_flow_tier *next[ONVM_FLOW_TIERS];
	int made[ONVM_FLOW_TIERS] = {0};
	uint32_t *slots = __onvm_flows.scratch, count = 0, i;
	unsigned int t;
	int rc;

	for (t = which; t < ONVM_FLOW_TIERS; t++)
		__onvm_flow_tier_live(cur[t], slots, &count);
	for (i = 0; i < n; i++)
		slots[count++] = extra[i];
	for (t = 0; t < ONVM_FLOW_TIERS; t++) {
		next[t] = t <= which ? cur[t] : NULL;
		made[t] = t > which;
	}
	rc = __onvm_flow_remake(which, slots, count, next, made);
	if (rc < 0)
		return rc;
	return __onvm_flow_publish(sh, next, made);
}

/* Which tier takes @p n rules more: the newest if it has room, else the
 * middle with the newest, else the main set with everything. */
static unsigned int
__onvm_flow_tier_for(struct __onvm_flow_tier *const *cur, uint32_t n)
{
	uint32_t newest = __onvm_flow_tier_size(cur[TIER_NEWEST]);
	uint32_t middle = __onvm_flow_tier_size(cur[TIER_MIDDLE]);

	if (newest + n <= NEWEST_MAX)
		return TIER_NEWEST;
	if (middle + newest + n <=
	    __onvm_middle_max(__onvm_flow_tier_size(cur[TIER_MAIN])))
		return TIER_MIDDLE;
	return TIER_MAIN;
}

/* ---- adding ---- */

static int
__onvm_flow_rule_valid(const struct onvm_flow_rule *r)
{
	uint32_t slot = r->match.result - 1;

	return r->match.result != 0 && slot < ONVM_MAX_FLOW_RULES &&
	       __onvm_flows.slots[slot].state == SLOT_FREE &&
	       (r->action == ONVM_FLOW_ACTION_CHAIN ||
	        r->action == ONVM_FLOW_ACTION_DROP) &&
	       r->chain < ONVM_MAX_CHAINS && r->mirror < ONVM_MAX_SERVICES;
}

int
onvm_mgr_flow_rules_add(struct onvm_shared *sh,
                        const struct onvm_flow_rule *rules, uint32_t n)
{
	struct __onvm_flow_tier *cur[ONVM_FLOW_TIERS];
	uint32_t *slots, i;
	int rc;

	rc = __onvm_flow_slots_init();
	if (rc < 0)
		return rc;
	if (n == 0 || n > ONVM_MAX_FLOW_RULES)
		return -EINVAL;
	for (i = 0; i < n; i++) {
		if (!__onvm_flow_rule_valid(&rules[i]))
			goto invalid;
		/* Marked now to catch a slot named twice. */
		__onvm_flows.slots[rules[i].match.result - 1].state =
		    SLOT_ADDING;
	}
	slots = malloc(n * sizeof(*slots));
	if (slots == NULL) {
		rc = -ENOMEM;
		goto undo;
	}
	for (i = 0; i < n; i++) {
		uint32_t slot = rules[i].match.result - 1;
		struct __onvm_flow_slot *s = &__onvm_flows.slots[slot];
		uint64_t seq = __onvm_flows.next_seq + i;

		s->rule = rules[i];
		s->rank = (uint64_t)rules[i].priority << SEQ_BITS |
		          (((UINT64_C(1) << SEQ_BITS) - 1) - seq);
		slots[i] = slot;
	}
	onvm_mgr_flow_rules_gc(sh);
	__onvm_flow_current(sh, cur);
	rc = __onvm_flow_place(sh, cur, __onvm_flow_tier_for(cur, n), slots, n);
	free(slots);
	if (rc == 0) {
		for (i = 0; i < n; i++)
			__onvm_flows.slots[rules[i].match.result - 1].state =
			    SLOT_LIVE;
		__onvm_flows.next_seq += n;
		return 0;
	}
undo:
	i = n;
invalid:
	while (i-- > 0)
		__onvm_flows.slots[rules[i].match.result - 1].state = SLOT_FREE;
	return rc < 0 ? rc : -EINVAL;
}

int
onvm_mgr_flow_rules_settle(struct onvm_shared *sh)
{
	struct __onvm_flow_tier *cur[ONVM_FLOW_TIERS];
	uint32_t newest, middle;
	unsigned int which;

	__onvm_flow_current(sh, cur);
	newest = __onvm_flow_tier_size(cur[TIER_NEWEST]);
	middle = __onvm_flow_tier_size(cur[TIER_MIDDLE]);
	if (newest == 0)
		return 0;
	onvm_mgr_flow_rules_gc(sh);
	which = middle + newest <=
	                __onvm_middle_max(__onvm_flow_tier_size(cur[TIER_MAIN]))
	            ? TIER_MIDDLE
	            : TIER_MAIN;
	return __onvm_flow_place(sh, cur, which, NULL, 0);
}

/* ---- deleting ---- */

/* True if addresses a/la and b/lb (prefix lengths) have one in common. */
static int
__onvm_prefixes_meet(const uint8_t *a, uint8_t la, const uint8_t *b, uint8_t lb)
{
	unsigned int bits = RTE_MIN(la, lb), k;

	for (k = 0; k < bits / 8; k++)
		if (a[k] != b[k])
			return 0;
	if (bits % 8) {
		uint8_t mask = (uint8_t)(0xff << (8 - bits % 8));

		return ((a[k] ^ b[k]) & mask) == 0;
	}
	return 1;
}

/* True if some packet could match both rules. */
static int
__onvm_rules_overlap(const struct onvm_rule *a, const struct onvm_rule *b)
{
	uint8_t both = a->fields & b->fields;

	if (a->family && b->family && a->family != b->family)
		return 0;
	if (a->proto && b->proto && a->proto != b->proto)
		return 0;
	if (a->src_port_hi < b->src_port_lo ||
	    b->src_port_hi < a->src_port_lo ||
	    a->dst_port_hi < b->dst_port_lo || b->dst_port_hi < a->dst_port_lo)
		return 0;
	if (((both & ONVM_RULE_IN_PORT) && a->in_port != b->in_port) ||
	    ((both & ONVM_RULE_VLAN) && a->vlan != b->vlan) ||
	    ((both & ONVM_RULE_DSCP) && a->dscp != b->dscp))
		return 0;
	/* A rule of both families ignores its addresses. */
	if (a->family == 0 || b->family == 0)
		return 1;
	return __onvm_prefixes_meet(a->src, a->src_prefix, b->src,
	                            b->src_prefix) &&
	       __onvm_prefixes_meet(a->dst, a->dst_prefix, b->dst,
	                            b->dst_prefix);
}

/* True if rule @p slot overlaps a live rule of lower rank in its tier @p t:
 * one it hides from the packets they both match. */
static int
__onvm_flow_shadows(const struct __onvm_flow_tier *t, uint32_t slot)
{
	const struct __onvm_flow_slot *s = &__onvm_flows.slots[slot];
	uint32_t i;

	for (i = s->entry + 1; i < t->n; i++) {
		const struct __onvm_flow_entry *e = &t->entries[i];
		const struct __onvm_flow_slot *other =
		    &__onvm_flows.slots[e->slot];

		if (!e->dead && other->state == SLOT_LIVE &&
		    __onvm_rules_overlap(&s->rule.match, &other->rule.match))
			return 1;
	}
	return 0;
}

/* Which tiers the deletes of @p slots (marked GOING) make again: the
 * newest always, a compiled one half dead, with too many deletes to look
 * at one by one, or holding a deleted rule that shadows another. */
static void
__onvm_flow_to_remake(struct __onvm_flow_tier *const *cur,
                      const uint32_t *slots, uint32_t n, int *remake)
{
	uint32_t gone[ONVM_FLOW_TIERS] = {0}, i;
	unsigned int t;

	for (i = 0; i < n; i++)
		gone[__onvm_flows.slots[slots[i]].tier]++;
	for (t = 0; t < ONVM_FLOW_TIERS; t++)
		remake[t] =
		    gone[t] > 0 &&
		    (t == TIER_NEWEST ||
		     2 * (cur[t]->n_dead + gone[t]) > cur[t]->n ||
		     (uint64_t)gone[t] * cur[t]->n > OVERLAP_CHECKS_MAX);
	for (i = 0; i < n; i++) {
		t = __onvm_flows.slots[slots[i]].tier;
		if (!remake[t] && __onvm_flow_shadows(cur[t], slots[i]))
			remake[t] = 1;
	}
}

int
onvm_mgr_flow_rules_delete(struct onvm_shared *sh, const uint32_t *slots,
                           uint32_t n)
{
	struct __onvm_flow_tier *cur[ONVM_FLOW_TIERS], *next[ONVM_FLOW_TIERS];
	int remake[ONVM_FLOW_TIERS], made[ONVM_FLOW_TIERS] = {0}, any = 0;
	unsigned int t;
	uint32_t i;
	int rc = 0;

	if (__onvm_flows.slots == NULL || n == 0)
		return -EINVAL;
	for (i = 0; i < n; i++) {
		if (slots[i] >= ONVM_MAX_FLOW_RULES ||
		    __onvm_flows.slots[slots[i]].state != SLOT_LIVE)
			goto invalid;
		__onvm_flows.slots[slots[i]].state = SLOT_GOING;
	}
	onvm_mgr_flow_rules_gc(sh);
	__onvm_flow_current(sh, cur);
	__onvm_flow_to_remake(cur, slots, n, remake);
	for (t = 0; t < ONVM_FLOW_TIERS && rc == 0; t++) {
		uint32_t count = 0;

		next[t] = cur[t];
		if (!remake[t])
			continue;
		any = 1;
		__onvm_flow_tier_live(cur[t], __onvm_flows.scratch, &count);
		rc = __onvm_flow_remake(t, __onvm_flows.scratch, count, next,
		                        made);
	}
	if (rc == 0 && any)
		rc = __onvm_flow_publish(sh, next, made);
	else if (rc < 0)
		__onvm_flow_drop_made(next, made);
	if (rc < 0) {
		i = n;
		goto invalid;
	}
	for (i = 0; i < n; i++) {
		struct __onvm_flow_slot *s = &__onvm_flows.slots[slots[i]];

		if (!remake[s->tier]) {
			__atomic_store_n(&cur[s->tier]->entries[s->entry].dead,
			                 1, __ATOMIC_RELEASE);
			cur[s->tier]->n_dead++;
		}
		s->state = SLOT_FREE;
	}
	return 0;
invalid:
	while (i-- > 0)
		__onvm_flows.slots[slots[i]].state = SLOT_LIVE;
	return rc < 0 ? rc : -EINVAL;
}

/* ---- reading ---- */

void
onvm_mgr_flow_tiers(const struct onvm_shared *sh,
                    struct onvm_flow_tier_info *info)
{
	const struct __onvm_flow_rules *set = __onvm_flow_rules_published(sh);
	unsigned int t;

	for (t = 0; t < ONVM_FLOW_TIERS; t++) {
		const struct __onvm_flow_tier *tier =
		    set ? set->tiers[t] : NULL;

		info[t] = __onvm_flows.info[t];
		info[t].rules = tier ? tier->n : 0;
		info[t].dead = tier ? tier->n_dead : 0;
	}
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

uint64_t
onvm_mgr_flow_bytes(const struct onvm_shared *sh, uint32_t slot)
{
	uint64_t bytes = 0;
	unsigned int i;

	if (slot >= ONVM_MAX_FLOW_RULES)
		return 0;
	for (i = 0; i < sh->num_workers; i++)
		bytes += sh->workers[i].flow_bytes[slot];
	return bytes;
}
