/* SPDX-License-Identifier: BSD-3-Clause */
/* From rte_ethdev.h and rte_ether.h (cffi dialect). */
struct rte_ether_addr {
	uint8_t addr_bytes[6];
	...;
};
struct rte_eth_conf {
	...;
};
struct rte_eth_dev_info {
	const char *driver_name;
	uint16_t max_rx_queues;
	uint16_t max_tx_queues;
	uint64_t rx_offload_capa;
	uint16_t reta_size;
	uint8_t hash_key_size;
	uint64_t flow_type_rss_offloads;
	uint16_t nb_rx_queues;
	uint16_t nb_tx_queues;
	...;
};
struct rte_eth_stats {
	uint64_t ipackets;
	uint64_t opackets;
	uint64_t ibytes;
	uint64_t obytes;
	uint64_t imissed;
	uint64_t ierrors;
	uint64_t oerrors;
	uint64_t rx_nombuf;
	...;
};
struct rte_eth_rxconf;
struct rte_eth_txconf;
int rte_eth_dev_get_port_by_name(const char *name, uint16_t *port_id);
int rte_eth_dev_socket_id(uint16_t port_id);
int rte_eth_dev_info_get(uint16_t port_id, struct rte_eth_dev_info *dev_info);
int rte_eth_dev_configure(uint16_t port_id, uint16_t nb_rx_queue, uint16_t nb_tx_queue,
	const struct rte_eth_conf *eth_conf);
int rte_eth_rx_queue_setup(uint16_t port_id, uint16_t rx_queue_id, uint16_t nb_rx_desc,
	unsigned int socket_id, const struct rte_eth_rxconf *rx_conf,
	struct rte_mempool *mb_pool);
int rte_eth_tx_queue_setup(uint16_t port_id, uint16_t tx_queue_id, uint16_t nb_tx_desc,
	unsigned int socket_id, const struct rte_eth_txconf *tx_conf);
int rte_eth_dev_start(uint16_t port_id);
int rte_eth_dev_stop(uint16_t port_id);
int rte_eth_dev_close(uint16_t port_id);
int rte_eth_promiscuous_enable(uint16_t port_id);
int rte_eth_macaddr_get(uint16_t port_id, struct rte_ether_addr *mac_addr);
int rte_eth_stats_get(uint16_t port_id, struct rte_eth_stats *stats);
int rte_eth_read_clock(uint16_t port_id, uint64_t *clock);
