/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The classifier keeps one ACL context per address family. Both read keys
 * in place: IPv4 addresses in their IPv4-mapped slot, IPv6 in full. A
 * classifier of match keys has one input group more, the four bytes after
 * the flow key (VLAN, input port, DSCP); one of flow keys reads no further
 * than the flow key, which is all an NF's batch holds.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_acl.h>
#include <rte_byteorder.h>
#include <rte_common.h>
#include <rte_errno.h>

#include <onvm/classifier.h>

#define CLASSIFY_CHUNK 64

/* The fields of the match group come last, so that a classifier of flow
 * keys uses the first F4_FLOW (F6_FLOW) of the same rule layout. */
enum {
	F4_PROTO,
	F4_SRC,
	F4_DST,
	F4_SPORT,
	F4_DPORT,
	F4_FLOW,
	F4_VLAN = F4_FLOW,
	F4_IN_PORT,
	F4_DSCP,
	F4_NUM
};
enum {
	F6_PROTO,
	F6_SRC,
	F6_DST = F6_SRC + 4,
	F6_SPORT = F6_DST + 4,
	F6_DPORT,
	F6_FLOW,
	F6_VLAN = F6_FLOW,
	F6_IN_PORT,
	F6_DSCP,
	F6_NUM
};

RTE_ACL_RULE_DEF(__onvm_rule4, F4_NUM);
RTE_ACL_RULE_DEF(__onvm_rule6, F6_NUM);

#define KEY_OFF(field) ((uint32_t)offsetof(struct onvm_flow_key, field))
#define MATCH_OFF(field) ((uint32_t)offsetof(struct onvm_match_key, field))

/* ACL's layout rules: the first field is one byte, the others come in
 * groups of four consecutive bytes, one input index each. */
static const struct rte_acl_field_def __onvm_defs4[F4_NUM] = {
    {RTE_ACL_FIELD_TYPE_BITMASK, 1, F4_PROTO, 0, KEY_OFF(proto)},
    {RTE_ACL_FIELD_TYPE_MASK, 4, F4_SRC, 1, KEY_OFF(src) + 12},
    {RTE_ACL_FIELD_TYPE_MASK, 4, F4_DST, 2, KEY_OFF(dst) + 12},
    {RTE_ACL_FIELD_TYPE_RANGE, 2, F4_SPORT, 3, KEY_OFF(src_port)},
    {RTE_ACL_FIELD_TYPE_RANGE, 2, F4_DPORT, 3, KEY_OFF(dst_port)},
    {RTE_ACL_FIELD_TYPE_BITMASK, 2, F4_VLAN, 4, MATCH_OFF(vlan)},
    {RTE_ACL_FIELD_TYPE_BITMASK, 1, F4_IN_PORT, 4, MATCH_OFF(in_port)},
    {RTE_ACL_FIELD_TYPE_BITMASK, 1, F4_DSCP, 4, MATCH_OFF(dscp)},
};

static const struct rte_acl_field_def __onvm_defs6[F6_NUM] = {
    {RTE_ACL_FIELD_TYPE_BITMASK, 1, F6_PROTO, 0, KEY_OFF(proto)},
    {RTE_ACL_FIELD_TYPE_MASK, 4, F6_SRC + 0, 1, KEY_OFF(src) + 0},
    {RTE_ACL_FIELD_TYPE_MASK, 4, F6_SRC + 1, 2, KEY_OFF(src) + 4},
    {RTE_ACL_FIELD_TYPE_MASK, 4, F6_SRC + 2, 3, KEY_OFF(src) + 8},
    {RTE_ACL_FIELD_TYPE_MASK, 4, F6_SRC + 3, 4, KEY_OFF(src) + 12},
    {RTE_ACL_FIELD_TYPE_MASK, 4, F6_DST + 0, 5, KEY_OFF(dst) + 0},
    {RTE_ACL_FIELD_TYPE_MASK, 4, F6_DST + 1, 6, KEY_OFF(dst) + 4},
    {RTE_ACL_FIELD_TYPE_MASK, 4, F6_DST + 2, 7, KEY_OFF(dst) + 8},
    {RTE_ACL_FIELD_TYPE_MASK, 4, F6_DST + 3, 8, KEY_OFF(dst) + 12},
    {RTE_ACL_FIELD_TYPE_RANGE, 2, F6_SPORT, 9, KEY_OFF(src_port)},
    {RTE_ACL_FIELD_TYPE_RANGE, 2, F6_DPORT, 9, KEY_OFF(dst_port)},
    {RTE_ACL_FIELD_TYPE_BITMASK, 2, F6_VLAN, 10, MATCH_OFF(vlan)},
    {RTE_ACL_FIELD_TYPE_BITMASK, 1, F6_IN_PORT, 10, MATCH_OFF(in_port)},
    {RTE_ACL_FIELD_TYPE_BITMASK, 1, F6_DSCP, 10, MATCH_OFF(dscp)},
};

struct onvm_classifier {
	struct rte_acl_ctx *v4;
	struct rte_acl_ctx *v6;
	uint32_t max_rules;
	uint32_t n_rules;
	uint32_t key_size; /* of the keys it reads, the stride of its arrays */
	uint32_t fields4;  /* ACL fields per context: F4_FLOW or F4_NUM */
	uint32_t fields6;
	int built4; /* a context with no rule cannot be built */
	int built6;
};

static struct rte_acl_ctx *
__onvm_acl_create(const char *name, char family, uint32_t fields,
                  uint32_t max_rules)
{
	char acl_name[RTE_ACL_NAMESIZE];
	struct rte_acl_param param = {
	    .name = acl_name,
	    .socket_id = SOCKET_ID_ANY,
	    .rule_size = RTE_ACL_RULE_SZ(fields),
	    .max_rule_num = max_rules,
	};

	if (snprintf(acl_name, sizeof(acl_name), "%s.%c", name, family) >=
	    (int)sizeof(acl_name)) {
		rte_errno = EINVAL;
		return NULL;
	}
	return rte_acl_create(&param);
}

static struct onvm_classifier *
__onvm_classifier_create(const char *name, uint32_t max_rules, int match)
{
	struct onvm_classifier *c;

	if (max_rules == 0 || max_rules > RTE_ACL_MAX_PRIORITY) {
		rte_errno = EINVAL;
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		rte_errno = ENOMEM;
		return NULL;
	}
	c->max_rules = max_rules;
	c->key_size = match ? sizeof(struct onvm_match_key)
	                    : sizeof(struct onvm_flow_key);
	c->fields4 = match ? F4_NUM : F4_FLOW;
	c->fields6 = match ? F6_NUM : F6_FLOW;
	c->v4 = __onvm_acl_create(name, '4', c->fields4, max_rules);
	c->v6 =
	    c->v4 ? __onvm_acl_create(name, '6', c->fields6, max_rules) : NULL;
	if (c->v6 == NULL) {
		int err = rte_errno;

		onvm_classifier_free(c);
		rte_errno = err;
		return NULL;
	}
	return c;
}

struct onvm_classifier *
onvm_classifier_create(const char *name, uint32_t max_rules)
{
	return __onvm_classifier_create(name, max_rules, 0);
}

struct onvm_classifier *
onvm_classifier_create_match(const char *name, uint32_t max_rules)
{
	return __onvm_classifier_create(name, max_rules, 1);
}

/* A prefix of `bits` over 4-byte chunk `chunk` of an address. */
static uint32_t
__onvm_chunk_bits(uint8_t bits, unsigned int chunk)
{
	int left = (int)bits - (int)chunk * 32;

	return (uint32_t)RTE_MAX(0, RTE_MIN(32, left));
}

static uint32_t
__onvm_chunk(const uint8_t *addr, unsigned int chunk)
{
	return rte_be_to_cpu_32(
	    *(const unaligned_uint32_t *)(addr + chunk * 4));
}

/* The fields both families have; `f` is the rule's field array, `proto`
 * and `match` the indexes of the protocol and of the match group. */
static void
__onvm_set_common(struct rte_acl_rule_data *data, struct rte_acl_field *f,
                  unsigned int proto, unsigned int sport, unsigned int match,
                  const struct onvm_rule *r, int32_t priority)
{
	struct rte_acl_field *vlan = &f[match], *in_port = &f[match + 1],
	                     *dscp = &f[match + 2];

	data->category_mask = 1;
	data->priority = priority;
	data->userdata = r->result;
	f[proto].value.u8 = r->proto;
	f[proto].mask_range.u8 = r->proto ? 0xff : 0;
	f[sport].value.u16 = r->src_port_lo;
	f[sport].mask_range.u16 = r->src_port_hi;
	f[sport + 1].value.u16 = r->dst_port_lo;
	f[sport + 1].mask_range.u16 = r->dst_port_hi;
	if (r->fields & ONVM_RULE_VLAN) {
		vlan->value.u16 = ONVM_MATCH_VLAN_TAGGED | r->vlan;
		vlan->mask_range.u16 = ONVM_MATCH_VLAN_TAGGED | 0xfff;
	}
	if (r->fields & ONVM_RULE_IN_PORT) {
		in_port->value.u8 = r->in_port;
		in_port->mask_range.u8 = 0xff;
	}
	if (r->fields & ONVM_RULE_DSCP) {
		dscp->value.u8 = r->dscp;
		dscp->mask_range.u8 = 0xff;
	}
}

static int
__onvm_add4(struct onvm_classifier *c, const struct onvm_rule *r,
            int32_t priority)
{
	struct __onvm_rule4 rule;
	int any = r->family == 0;

	memset(&rule, 0, sizeof(rule));
	__onvm_set_common(&rule.data, rule.field, F4_PROTO, F4_SPORT, F4_VLAN,
	                  r, priority);
	rule.field[F4_SRC].value.u32 = any ? 0 : __onvm_chunk(r->src, 0);
	rule.field[F4_SRC].mask_range.u32 = any ? 0 : r->src_prefix;
	rule.field[F4_DST].value.u32 = any ? 0 : __onvm_chunk(r->dst, 0);
	rule.field[F4_DST].mask_range.u32 = any ? 0 : r->dst_prefix;
	return rte_acl_add_rules(c->v4, (const struct rte_acl_rule *)&rule, 1);
}

static int
__onvm_add6(struct onvm_classifier *c, const struct onvm_rule *r,
            int32_t priority)
{
	struct __onvm_rule6 rule;
	int any = r->family == 0;
	unsigned int k;

	memset(&rule, 0, sizeof(rule));
	__onvm_set_common(&rule.data, rule.field, F6_PROTO, F6_SPORT, F6_VLAN,
	                  r, priority);
	for (k = 0; k < 4 && !any; k++) {
		rule.field[F6_SRC + k].value.u32 = __onvm_chunk(r->src, k);
		rule.field[F6_SRC + k].mask_range.u32 =
		    __onvm_chunk_bits(r->src_prefix, k);
		rule.field[F6_DST + k].value.u32 = __onvm_chunk(r->dst, k);
		rule.field[F6_DST + k].mask_range.u32 =
		    __onvm_chunk_bits(r->dst_prefix, k);
	}
	return rte_acl_add_rules(c->v6, (const struct rte_acl_rule *)&rule, 1);
}

static int
__onvm_rule_valid(const struct onvm_classifier *c, const struct onvm_rule *r)
{
	const uint8_t all = ONVM_RULE_IN_PORT | ONVM_RULE_VLAN | ONVM_RULE_DSCP;
	uint8_t max_prefix = r->family == 4 ? 32 : 128;

	if (r->fields & ~all ||
	    (r->fields && c->key_size != sizeof(struct onvm_match_key)))
		return 0;
	return (r->family == 0 || r->family == 4 || r->family == 6) &&
	       r->result != 0 && r->src_prefix <= max_prefix &&
	       r->dst_prefix <= max_prefix &&
	       r->src_port_lo <= r->src_port_hi &&
	       r->dst_port_lo <= r->dst_port_hi && r->dscp < 64 &&
	       r->vlan < 4096;
}

int
onvm_classifier_add(struct onvm_classifier *c, const struct onvm_rule *rules,
                    uint32_t n)
{
	uint32_t i;
	int rc;

	for (i = 0; i < n; i++)
		if (!__onvm_rule_valid(c, &rules[i]))
			return -EINVAL;
	if (c->n_rules + n > c->max_rules)
		return -ENOSPC;
	for (i = 0; i < n; i++) {
		const struct onvm_rule *r = &rules[i];
		/* Earlier rules win: highest priority first. */
		int32_t priority = (int32_t)(c->max_rules - c->n_rules);

		if (r->family != 6) {
			rc = __onvm_add4(c, r, priority);
			if (rc < 0)
				return rc;
			c->built4 = 1;
		}
		if (r->family != 4) {
			rc = __onvm_add6(c, r, priority);
			if (rc < 0)
				return rc;
			c->built6 = 1;
		}
		c->n_rules++;
	}
	return 0;
}

static int
__onvm_build(struct rte_acl_ctx *ctx, const struct rte_acl_field_def *defs,
             uint32_t n_defs)
{
	struct rte_acl_config cfg;

	memset(&cfg, 0, sizeof(cfg));
	cfg.num_categories = 1;
	cfg.num_fields = n_defs;
	memcpy(cfg.defs, defs, n_defs * sizeof(*defs));
	return rte_acl_build(ctx, &cfg);
}

int
onvm_classifier_build(struct onvm_classifier *c)
{
	int rc = 0;

	if (c->built4)
		rc = __onvm_build(c->v4, __onvm_defs4, c->fields4);
	if (rc == 0 && c->built6)
		rc = __onvm_build(c->v6, __onvm_defs6, c->fields6);
	return rc;
}

/* Keys of c->key_size bytes each, from `keys`; a match key starts with
 * its flow key. */
static void
__onvm_classify(const struct onvm_classifier *c, const uint8_t *keys,
                uint32_t n, uint32_t *results)
{
	const uint8_t *data4[CLASSIFY_CHUNK], *data6[CLASSIFY_CHUNK];
	uint32_t idx4[CLASSIFY_CHUNK], idx6[CLASSIFY_CHUNK];
	uint32_t res[CLASSIFY_CHUNK];
	uint32_t base, i;

	for (base = 0; base < n; base += CLASSIFY_CHUNK) {
		uint32_t end = RTE_MIN(n, base + CLASSIFY_CHUNK);
		uint32_t n4 = 0, n6 = 0;

		/* Split the chunk by family; others match nothing. */
		for (i = base; i < end; i++) {
			const uint8_t *key = keys + (size_t)i * c->key_size;
			uint8_t version =
			    ((const struct onvm_flow_key *)key)->ip_version;

			results[i] = 0;
			if (version == 4 && c->built4) {
				data4[n4] = key;
				idx4[n4++] = i;
			} else if (version == 6 && c->built6) {
				data6[n6] = key;
				idx6[n6++] = i;
			}
		}
		/* A chunk of one family, the usual case, needs no scatter. */
		if (n4 == end - base) {
			rte_acl_classify(c->v4, data4, &results[base], n4, 1);
			continue;
		}
		if (n6 == end - base) {
			rte_acl_classify(c->v6, data6, &results[base], n6, 1);
			continue;
		}
		if (n4 && rte_acl_classify(c->v4, data4, res, n4, 1) == 0)
			for (i = 0; i < n4; i++)
				results[idx4[i]] = res[i];
		if (n6 && rte_acl_classify(c->v6, data6, res, n6, 1) == 0)
			for (i = 0; i < n6; i++)
				results[idx6[i]] = res[i];
	}
}

void
onvm_classifier_classify(const struct onvm_classifier *c,
                         const struct onvm_flow_key *keys, uint32_t n,
                         uint32_t *results)
{
	__onvm_classify(c, (const uint8_t *)keys, n, results);
}

void
onvm_classifier_classify_match(const struct onvm_classifier *c,
                               const struct onvm_match_key *keys, uint32_t n,
                               uint32_t *results)
{
	__onvm_classify(c, (const uint8_t *)keys, n, results);
}

void
onvm_classifier_classify_map(const struct onvm_classifier *c,
                             const struct onvm_flow_key *keys, uint32_t n,
                             const uint32_t *table, uint32_t *out)
{
	uint32_t i;

	onvm_classifier_classify(c, keys, n, out);
	for (i = 0; i < n; i++)
		out[i] = table[out[i]];
}

void
onvm_classifier_free(struct onvm_classifier *c)
{
	if (c == NULL)
		return;
	rte_acl_free(c->v4);
	rte_acl_free(c->v6);
	free(c);
}
