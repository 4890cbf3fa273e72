/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * When a packet arrived by its port's own clock: the RX timestamp a port
 * writes into the mbuf (DPDK's dynamic field "rte_dynfield_timestamp", with
 * the flag "rte_dynflag_rx_timestamp" set), on the ports the manager runs
 * with [ports] rx_timestamps. The manager gives each such port a rate that
 * turns its timestamps into ns; a port without one has no timestamps here.
 *
 * DPDK 22.11's net_pcap stamps every packet it reads from a file (or an
 * interface) with its capture time, in microseconds since the epoch: a
 * replayed pcap's packets carry the times they were captured at, and
 * differences between them are the capture's. A NIC with the
 * RTE_ETH_RX_OFFLOAD_TIMESTAMP offload stamps with its own clock, whose
 * rate the manager measures when the port starts. Times of two ports are
 * comparable only when their clocks are (one NIC, or files of one capture).
 *
 * Inline: read once per packet.
 */
#ifndef ONVM_PKT_TIME_H
#define ONVM_PKT_TIME_H

#include <stdint.h>

#include <rte_mbuf.h>
#include <rte_mbuf_dyn.h>

#include <onvm/common.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The timestamp field's offset and flag in this process, and each port's
 * ns per timestamp unit (32.32 fixed point, 0: the port has none); set by
 * onvm_pkt_time_lookup(), which nflib calls when an NF joins. Until then
 * (and when no port has timestamps) the flag is 0: no packet has one. */
extern int onvm_rx_timestamp_offset;
extern uint64_t onvm_rx_timestamp_flag;
extern uint64_t onvm_rx_timestamp_ns_mul[ONVM_MAX_PORTS];

/**
 * The raw RX timestamp of packet @p m, in its port's units.
 *
 * @param ts
 *   Set to the timestamp when there is one.
 * @return
 *   1 with a timestamp, 0 when the packet has none (its port does not
 *   stamp, or runs without rx_timestamps; an NF made it).
 */
static inline int
onvm_pkt_hw_timestamp(const struct rte_mbuf *m, uint64_t *ts)
{
	if ((m->ol_flags & onvm_rx_timestamp_flag) == 0)
		return 0;
	*ts = *RTE_MBUF_DYNFIELD(m, onvm_rx_timestamp_offset,
	                         const rte_mbuf_timestamp_t *);
	return 1;
}

/**
 * The RX timestamp of packet @p m in ns on its port's clock (for a
 * replayed pcap: ns since the epoch, at the capture's resolution; a
 * capture may well start at 0).
 *
 * @param ns
 *   Set to the time when there is one.
 * @return
 *   1 with a timestamp, 0 when the packet has none.
 */
static inline int
onvm_pkt_hw_timestamp_ns(const struct rte_mbuf *m, uint64_t *ns)
{
	uint64_t ts, mul;

	if (!onvm_pkt_hw_timestamp(m, &ts) || m->port >= ONVM_MAX_PORTS)
		return 0;
	mul = onvm_rx_timestamp_ns_mul[m->port];
	if (mul == 0)
		return 0; /* a port whose stamps the manager does not use */
	*ns = (uint64_t)(((unsigned __int128)ts * mul) >> 32);
	return 1;
}

/**
 * Look up the RX timestamp field and flag (registered by the ports in the
 * manager) and take each port's rate from @p sh. Safe to call again.
 *
 * @return
 *   The number of ports with timestamps (0: none, and no packet will
 *   have one).
 */
int onvm_pkt_time_lookup(const struct onvm_shared *sh);

#ifdef __cplusplus
}
#endif

#endif /* ONVM_PKT_TIME_H */
