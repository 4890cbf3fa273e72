/* SPDX-License-Identifier: BSD-3-Clause */
#include <rte_mbuf_dyn.h>

#include <onvm/pkt_time.h>

int onvm_rx_timestamp_offset = -1;
uint64_t onvm_rx_timestamp_flag;
uint64_t onvm_rx_timestamp_ns_mul[ONVM_MAX_PORTS];

int
onvm_pkt_time_lookup(const struct onvm_shared *sh)
{
	int offset =
	    rte_mbuf_dynfield_lookup(RTE_MBUF_DYNFIELD_TIMESTAMP_NAME, NULL);
	int bit =
	    rte_mbuf_dynflag_lookup(RTE_MBUF_DYNFLAG_RX_TIMESTAMP_NAME, NULL);
	unsigned int p;
	int ports = 0;

	onvm_rx_timestamp_flag = 0;
	for (p = 0; p < ONVM_MAX_PORTS; p++) {
		onvm_rx_timestamp_ns_mul[p] =
		    sh->ports[p].enabled ? sh->ports[p].rx_ts_ns_mul : 0;
		ports += onvm_rx_timestamp_ns_mul[p] != 0;
	}
	/* No port registered them, or none is used: no packet has one. */
	if (offset < 0 || bit < 0 || ports == 0)
		return 0;
	onvm_rx_timestamp_offset = offset;
	onvm_rx_timestamp_flag = UINT64_C(1) << bit;
	return ports;
}
