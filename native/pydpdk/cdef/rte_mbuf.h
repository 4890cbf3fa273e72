/* SPDX-License-Identifier: BSD-3-Clause */
/* From rte_mempool.h and rte_mbuf.h (cffi dialect). */
struct rte_mempool {
	uint32_t size;
	...;
};
struct rte_mbuf {
	void *buf_addr;
	uint16_t buf_len;
	uint16_t refcnt;
	uint16_t data_off;
	uint16_t port;
	uint32_t pkt_len;
	uint16_t data_len;
	uint16_t nb_segs;
	uint64_t ol_flags;
	...;
};
char *rte_pktmbuf_append(struct rte_mbuf *m, uint16_t len);
