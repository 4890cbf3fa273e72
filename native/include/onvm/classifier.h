/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * 5-tuple classifier: ordered rules with CIDR prefixes, port ranges and a
 * protocol, for IPv4 and IPv6, the first matching rule wins. Built on DPDK's
 * ACL library (tries compiled at build time, SIMD lookups), it classifies a
 * batch of flow keys in one call. A classifier of match keys
 * (onvm_classifier_create_match()) also matches a packet's input port,
 * outer VLAN id and DSCP.
 */
#ifndef ONVM_CLASSIFIER_H
#define ONVM_CLASSIFIER_H

#include <stdint.h>

#include <onvm/flow.h>

#ifdef __cplusplus
extern "C" {
#endif

struct onvm_classifier;

/* What a rule matches beyond the 5-tuple: the bits of onvm_rule.fields.
 * Only a classifier of match keys takes them. */
enum onvm_rule_field {
	ONVM_RULE_IN_PORT = 1, /* the input port is in_port */
	ONVM_RULE_VLAN = 2,    /* tagged, outer VLAN id vlan */
	ONVM_RULE_DSCP = 4,    /* IP, DSCP dscp */
};

/* One rule. Addresses are network-order bytes: an IPv4 address in src[0..3]
 * with a prefix of 0..32, IPv6 in src[0..15] with 0..128. Ports are host
 * order, inclusive ranges. */
struct onvm_rule {
	uint8_t family; /* 4, 6, or 0 for both (addresses then ignored) */
	uint8_t proto;  /* IP protocol, 0 for any */
	uint8_t src_prefix;
	uint8_t dst_prefix;
	uint8_t src[16];
	uint8_t dst[16];
	uint16_t src_port_lo;
	uint16_t src_port_hi;
	uint16_t dst_port_lo;
	uint16_t dst_port_hi;
	uint32_t result; /* what classify returns for a match; not 0 */
	uint8_t fields;  /* enum onvm_rule_field bits; 0: the 5-tuple only */
	uint8_t in_port;
	uint8_t dscp;  /* 0..63 */
	uint16_t vlan; /* 0..4095 */
};

/**
 * Create an empty classifier for up to @p max_rules rules. @p name must be
 * unique among the classifiers of one manager and its NFs.
 *
 * @return
 *   The classifier, or NULL with rte_errno set (EINVAL, ENOMEM, EEXIST).
 */
struct onvm_classifier *onvm_classifier_create(const char *name,
                                               uint32_t max_rules);

/**
 * Create an empty classifier of match keys (struct onvm_match_key, see
 * onvm_classifier_classify_match()) for up to @p max_rules rules, which
 * may match on the fields of enum onvm_rule_field. @p name as for
 * onvm_classifier_create().
 *
 * @return
 *   The classifier, or NULL with rte_errno set (EINVAL, ENOMEM, EEXIST).
 */
struct onvm_classifier *onvm_classifier_create_match(const char *name,
                                                     uint32_t max_rules);

/**
 * Append @p n rules; earlier rules take precedence. Takes effect at the next
 * onvm_classifier_build().
 *
 * @return
 *   0, or -EINVAL (a bad prefix, range, family, field, DSCP or VLAN id, a
 *   zero result, or fields beyond the 5-tuple in a classifier of flow
 *   keys), -ENOSPC (more than max_rules).
 */
int onvm_classifier_add(struct onvm_classifier *c,
                        const struct onvm_rule *rules, uint32_t n);

/**
 * Compile the rules added so far.
 *
 * @return
 *   0, or a negative errno from rte_acl_build.
 */
int onvm_classifier_build(struct onvm_classifier *c);

/**
 * Classify @p n flow keys: results[i] is the result of the first rule that
 * matches keys[i], or 0. Non-IP keys get 0. @p c must be a classifier of
 * flow keys (onvm_classifier_create()).
 */
void onvm_classifier_classify(const struct onvm_classifier *c,
                              const struct onvm_flow_key *keys, uint32_t n,
                              uint32_t *results);

/**
 * Classify @p n match keys, as onvm_classifier_classify() does flow keys,
 * in a classifier made by onvm_classifier_create_match().
 */
void onvm_classifier_classify_match(const struct onvm_classifier *c,
                                    const struct onvm_match_key *keys,
                                    uint32_t n, uint32_t *results);

/**
 * Classify @p n flow keys and translate: out[i] = table[result], where
 * result is as for onvm_classifier_classify() (0: no match). @p table has
 * one entry more than the rules: a firewall's verdicts in one call.
 */
void onvm_classifier_classify_map(const struct onvm_classifier *c,
                                  const struct onvm_flow_key *keys, uint32_t n,
                                  const uint32_t *table, uint32_t *out);

/**
 * Free the classifier and its rules.
 */
void onvm_classifier_free(struct onvm_classifier *c);

#ifdef __cplusplus
}
#endif

#endif /* ONVM_CLASSIFIER_H */
