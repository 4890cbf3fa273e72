/* SPDX-License-Identifier: BSD-3-Clause */
#include <rte_errno.h>
#include <rte_mbuf_dyn.h>

#include <onvm/pkt_meta.h>

int onvm_pkt_meta_offset = -1;

static const struct rte_mbuf_dynfield onvm_pkt_meta_desc = {
    .name = ONVM_PKT_META_DYNFIELD,
    .size = sizeof(struct onvm_pkt_meta),
    .align = __alignof__(struct onvm_pkt_meta),
};

int
onvm_pkt_meta_register(void)
{
	onvm_pkt_meta_offset = rte_mbuf_dynfield_register(&onvm_pkt_meta_desc);
	return onvm_pkt_meta_offset;
}

int
onvm_pkt_meta_lookup(void)
{
	onvm_pkt_meta_offset =
	    rte_mbuf_dynfield_lookup(ONVM_PKT_META_DYNFIELD, NULL);
	return onvm_pkt_meta_offset;
}
