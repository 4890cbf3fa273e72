/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Access to the onvm per-packet metadata, an mbuf dynamic field registered
 * by the manager and looked up by NFs. Inline: used once per packet.
 */
#ifndef ONVM_PKT_META_H
#define ONVM_PKT_META_H

#include <rte_mbuf.h>
#include <rte_mbuf_dyn.h>

#include <onvm/common.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Offset of the field in this process; set by onvm_pkt_meta_register()
 * in the manager or onvm_pkt_meta_lookup() in an NF. */
extern int onvm_pkt_meta_offset;

/**
 * The metadata of packet @p m. Valid once the offset is known.
 */
static inline struct onvm_pkt_meta *
onvm_pkt_meta(struct rte_mbuf *m)
{
	return RTE_MBUF_DYNFIELD(m, onvm_pkt_meta_offset,
	                         struct onvm_pkt_meta *);
}

/**
 * Register the metadata field (manager, DPDK primary).
 *
 * @return
 *   The field offset, or -1 with rte_errno set.
 */
int onvm_pkt_meta_register(void);

/**
 * Look up the metadata field registered by the manager (NF, secondary).
 *
 * @return
 *   The field offset, or -1 with rte_errno set (ENOENT: not registered).
 */
int onvm_pkt_meta_lookup(void);

#ifdef __cplusplus
}
#endif

#endif /* ONVM_PKT_META_H */
