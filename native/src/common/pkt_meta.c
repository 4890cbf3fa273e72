/* SPDX-License-Identifier: BSD-3-Clause */
#include <rte_errno.h>
#include <rte_mbuf_dyn.h>

#include <onvm/latency.h>
#include <onvm/pkt_meta.h>

_Static_assert(ONVM_HIST_BUCKETS == (ONVM_HIST_MAX_BITS - ONVM_HIST_SUB_BITS +
                                     1) << ONVM_HIST_SUB_BITS,
               "ONVM_HIST_BUCKETS is the number of buckets");

int onvm_pkt_meta_offset = -1;
int onvm_pkt_hop_offset = -1;

static const struct rte_mbuf_dynfield onvm_pkt_meta_desc = {
    .name = ONVM_PKT_META_DYNFIELD,
    .size = sizeof(struct onvm_pkt_meta),
    .align = __alignof__(struct onvm_pkt_meta),
};

static const struct rte_mbuf_dynfield onvm_pkt_hop_desc = {
    .name = ONVM_PKT_HOP_DYNFIELD,
    .size = sizeof(uint32_t),
    .align = __alignof__(uint32_t),
};

int
onvm_pkt_meta_register(void)
{
	onvm_pkt_meta_offset = rte_mbuf_dynfield_register(&onvm_pkt_meta_desc);
	if (onvm_pkt_meta_offset < 0)
		return -1;
	onvm_pkt_hop_offset = rte_mbuf_dynfield_register(&onvm_pkt_hop_desc);
	return onvm_pkt_hop_offset < 0 ? -1 : onvm_pkt_meta_offset;
}

int
onvm_pkt_meta_lookup(void)
{
	onvm_pkt_meta_offset =
	    rte_mbuf_dynfield_lookup(ONVM_PKT_META_DYNFIELD, NULL);
	if (onvm_pkt_meta_offset < 0)
		return -1;
	onvm_pkt_hop_offset =
	    rte_mbuf_dynfield_lookup(ONVM_PKT_HOP_DYNFIELD, NULL);
	return onvm_pkt_hop_offset < 0 ? -1 : onvm_pkt_meta_offset;
}
