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
/* Offset of the hop stamp, a field of its own beside the metadata: the
 * metadata fills the 24 bytes after the first 8-byte boundary of the mbuf's
 * dynamic field area, and a PMD's 8-byte RX timestamp needs the rest. */
extern int onvm_pkt_hop_offset;

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
 * When the packet was last queued for an NF: the TSC >> ONVM_HOP_STAMP_SHIFT,
 * modulo 2^32 (about 26 s at 2.6 GHz). Written by whoever hands the packet
 * to an NF (a worker, or the previous NF with nf_to_nf direct), read by the
 * NF once it hands the packet on: its hop's latency.
 */
#define ONVM_HOP_STAMP_SHIFT 4

static inline uint32_t *
onvm_pkt_hop_stamp(struct rte_mbuf *m)
{
	return RTE_MBUF_DYNFIELD(m, onvm_pkt_hop_offset, uint32_t *);
}

static inline uint32_t
onvm_hop_stamp_of(uint64_t tsc)
{
	return (uint32_t)(tsc >> ONVM_HOP_STAMP_SHIFT);
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
