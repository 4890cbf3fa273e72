/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What Python needs of DPDK that is a macro, a thread-local or a nested
 * anonymous struct in C, as functions its bindings can call. Compiled into both
 * extensions; each binds only the ones its side uses.
 */
#ifndef ONVM_PYDPDK_HELPERS_H
#define ONVM_PYDPDK_HELPERS_H

#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_log.h>
#include <rte_mbuf.h>

/** rte_errno of the calling thread. */
static inline int
pydpdk_errno(void)
{
	return rte_errno;
}

/**
 * Port @p port_id's link, without waiting: 1 up, 0 down, or a negative
 * errno; its speed in Mb/s in @p speed (a bit field in DPDK's struct).
 */
static inline int
pydpdk_link_state(uint16_t port_id, uint32_t *speed)
{
	struct rte_eth_link link;
	int rc = rte_eth_link_get_nowait(port_id, &link);

	if (rc < 0)
		return rc;
	*speed = link.link_speed;
	return link.link_status == RTE_ETH_LINK_UP;
}

/** The first byte of packet @p m's data. */
static inline void *
pydpdk_mbuf_data(struct rte_mbuf *m)
{
	return rte_pktmbuf_mtod(m, void *);
}

/**
 * Send DPDK's log to the file @p path, line-buffered and readable by its
 * owner only (NULL: back to stderr).
 *
 * @return
 *   0, or -1 if the file cannot be opened or DPDK refuses the stream.
 */
static inline int
pydpdk_log_to_file(const char *path)
{
	FILE *f = NULL;

	if (path != NULL) {
		int fd =
		    open(path,
		         O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC,
		         0600);

		if (fd < 0)
			return -1;
		f = fdopen(fd, "a");
		if (f == NULL) {
			close(fd);
			return -1;
		}
		setvbuf(f, NULL, _IOLBF, 0);
	}
	return rte_openlog_stream(f);
}

/**
 * Ask receive-side scaling of @p conf: RSS over IP, TCP and UDP, as far as
 * the port of @p info hashes them, keyed with @p key (@p key_len bytes,
 * the port's hash_key_size; NULL: the port's own key), and the hash in
 * each mbuf where the port can put it there. The key must outlive the
 * port: drivers read it when the port starts.
 *
 * @return
 *   The RSS hash types asked, 0 if the port hashes none of them (@p conf
 *   is then left alone).
 */
static inline uint64_t
pydpdk_eth_conf_rss(struct rte_eth_conf *conf,
                    const struct rte_eth_dev_info *info, uint8_t *key,
                    uint8_t key_len)
{
	uint64_t types = info->flow_type_rss_offloads &
	                 (RTE_ETH_RSS_IP | RTE_ETH_RSS_TCP | RTE_ETH_RSS_UDP);

	if (types == 0)
		return 0;
	conf->rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
	conf->rx_adv_conf.rss_conf.rss_key = key;
	conf->rx_adv_conf.rss_conf.rss_key_len = key_len;
	conf->rx_adv_conf.rss_conf.rss_hf = types;
	if (info->rx_offload_capa & RTE_ETH_RX_OFFLOAD_RSS_HASH)
		conf->rxmode.offloads |= RTE_ETH_RX_OFFLOAD_RSS_HASH;
	return types;
}

/**
 * Ask RX timestamps of @p conf (RTE_ETH_RX_OFFLOAD_TIMESTAMP) where the
 * port of @p info offers them.
 *
 * @return
 *   1 if asked, 0 if the port has no such offload (@p conf left alone).
 */
static inline int
pydpdk_eth_conf_rx_timestamp(struct rte_eth_conf *conf,
                             const struct rte_eth_dev_info *info)
{
	if (!(info->rx_offload_capa & RTE_ETH_RX_OFFLOAD_TIMESTAMP))
		return 0;
	conf->rxmode.offloads |= RTE_ETH_RX_OFFLOAD_TIMESTAMP;
	return 1;
}

#endif /* ONVM_PYDPDK_HELPERS_H */
