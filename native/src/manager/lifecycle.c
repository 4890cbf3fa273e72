/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Creation of the manager's shared objects and life cycle of its workers.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_memzone.h>
#include <rte_ring.h>
#include <rte_string_fns.h>

#include "mgr_internal.h"

struct __onvm_mgr __onvm_mgr;

static int
__onvm_config_valid(const struct onvm_mgr_config *cfg)
{
	return cfg->num_mbufs >= 1024 && cfg->burst_size >= 1 &&
	       cfg->burst_size <= ONVM_BURST_MAX &&
	       rte_is_power_of_2(cfg->nf_ring_size) &&
	       cfg->nf_ring_size >= 64 && cfg->num_workers >= 1 &&
	       cfg->num_workers <= ONVM_MAX_WORKERS &&
	       cfg->mbuf_cache <= RTE_MEMPOOL_CACHE_MAX_SIZE &&
	       cfg->nf_to_nf <= ONVM_NF_TO_NF_DIRECT;
}

static struct rte_ring *
__onvm_nf_ring(const char *fmt, unsigned int nf_id, unsigned int size,
               unsigned int flags)
{
	char name[RTE_RING_NAMESIZE];

	snprintf(name, sizeof(name), fmt, nf_id);
	return rte_ring_create(name, size, rte_socket_id(), flags);
}

static int
__onvm_create_nf_slots(struct onvm_shared *sh, unsigned int ring_size)
{
	unsigned int id;

	for (id = 1; id < ONVM_MAX_NFS; id++) {
		struct onvm_nf *nf = &sh->nfs[id];

		nf->id = (uint16_t)id;
		/* Several workers feed an NF; only the NF consumes. */
		nf->rx_ring = __onvm_nf_ring(ONVM_NF_RX_RING_FMT, id, ring_size,
		                             RING_F_SC_DEQ);
		nf->tx_ring = __onvm_nf_ring(ONVM_NF_TX_RING_FMT, id, ring_size,
		                             RING_F_SP_ENQ | RING_F_SC_DEQ);
		/* The control worker and thread deliver; the NF sends alone. */
		nf->inbox =
		    __onvm_nf_ring(ONVM_NF_INBOX_FMT, id, ONVM_NF_MSG_RING_SIZE,
		                   RING_F_SC_DEQ);
		nf->outbox = __onvm_nf_ring(ONVM_NF_OUTBOX_FMT, id,
		                            ONVM_NF_MSG_RING_SIZE,
		                            RING_F_SP_ENQ | RING_F_SC_DEQ);
		if (!nf->rx_ring || !nf->tx_ring || !nf->inbox || !nf->outbox)
			return -rte_errno;
	}
	return 0;
}

/* nf_to_nf direct: a ring per ordered pair of NF slots, each with one
 * producer and one consumer, in one memzone (one per ring would exceed
 * DPDK's memzone limit). A dead producer can leave only its own ring half
 * written, which the manager then repairs. */
static int
__onvm_create_direct_rings(struct onvm_shared *sh)
{
	const struct rte_memzone *mz;
	ssize_t bytes = rte_ring_get_memsize(ONVM_DIRECT_RING_SIZE);
	unsigned int from, to;

	if (bytes < 0)
		return (int)bytes;
	sh->direct_ring_bytes =
	    (uint32_t)RTE_ALIGN_CEIL(bytes, RTE_CACHE_LINE_SIZE);
	mz = rte_memzone_reserve_aligned(
	    ONVM_MZ_DIRECT_RINGS,
	    (size_t)sh->direct_ring_bytes * ONVM_MAX_NFS * ONVM_MAX_NFS,
	    rte_socket_id(), 0, RTE_CACHE_LINE_SIZE);
	if (mz == NULL)
		return -rte_errno;
	sh->direct_rings = mz->addr;
	for (from = 1; from < ONVM_MAX_NFS; from++)
		for (to = 1; to < ONVM_MAX_NFS; to++) {
			char name[RTE_RING_NAMESIZE];
			int rc;

			snprintf(name, sizeof(name), "onvm_d%u_%u", from, to);
			rc = rte_ring_init(onvm_direct_ring(sh, from, to), name,
			                   ONVM_DIRECT_RING_SIZE,
			                   RING_F_SP_ENQ | RING_F_SC_DEQ);
			if (rc < 0)
				return rc;
		}
	return 0;
}

/* One histogram per chain for each worker, each its only writer. */
static int
__onvm_create_chain_latency(struct onvm_shared *sh)
{
	const struct rte_memzone *mz = rte_memzone_reserve_aligned(
	    ONVM_MZ_CHAIN_LATENCY,
	    sizeof(struct onvm_hist) * ONVM_MAX_CHAINS * sh->num_workers,
	    rte_socket_id(), 0, RTE_CACHE_LINE_SIZE);

	if (mz == NULL)
		return -rte_errno;
	memset(mz->addr, 0, mz->len);
	sh->chain_latency = mz->addr;
	return 0;
}

static int
__onvm_create_workers(struct onvm_shared *sh, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		struct __onvm_worker *w =
		    rte_zmalloc("onvm_worker", sizeof(*w), RTE_CACHE_LINE_SIZE);

		if (w == NULL)
			return -ENOMEM;
		w->sh = sh;
		w->index = i;
		w->stats = &sh->workers[i];
		__onvm_mgr.workers[i] = w;
	}
	return 0;
}

struct onvm_shared *
onvm_mgr_create(const struct onvm_mgr_config *cfg)
{
	const struct rte_memzone *mz;
	struct onvm_shared *sh;
	int rc;

	if (__onvm_mgr.sh != NULL) {
		rte_errno = EEXIST;
		return NULL;
	}
	if (!__onvm_config_valid(cfg)) {
		rte_errno = EINVAL;
		return NULL;
	}
	if (onvm_pkt_meta_register() < 0)
		return NULL;
	mz = rte_memzone_reserve(ONVM_MZ_SHARED, sizeof(*sh), rte_socket_id(),
	                         0);
	if (mz == NULL)
		return NULL;
	sh = mz->addr;
	memset(sh, 0, sizeof(*sh));
	sh->magic = ONVM_SHARED_MAGIC;
	sh->abi_version = ONVM_ABI_VERSION;
	sh->manager_pid = getpid();
	sh->burst_size = cfg->burst_size;
	sh->nf_ring_size = cfg->nf_ring_size;
	sh->num_workers = cfg->num_workers;
	sh->pkt_meta_offset = onvm_pkt_meta_offset;
	sh->wait_for_chain = cfg->wait_for_chain;
	sh->ports_enabled = !cfg->wait_for_chain;
	sh->tsc_hz = rte_get_tsc_hz();
	sh->worker_cpu_mask = cfg->worker_cpu_mask;
	sh->wake_batch = RTE_MAX(cfg->wake_batch, 1u);
	sh->nf_to_nf = cfg->nf_to_nf;
	sh->latency_sample = cfg->latency_sample;
	sh->idle_sleep_tsc = sh->tsc_hz / 1000000 * cfg->idle_sleep_us;
	sh->wake_delay_tsc = sh->tsc_hz / 1000000 * cfg->wake_delay_us;
	__onvm_mgr.cfg = *cfg;

	sh->pktmbuf_pool = rte_pktmbuf_pool_create(
	    ONVM_PKTMBUF_POOL, cfg->num_mbufs, cfg->mbuf_cache, 0,
	    RTE_MBUF_DEFAULT_BUF_SIZE, (int)rte_socket_id());
	if (sh->pktmbuf_pool == NULL)
		return NULL;
	rte_strscpy(sh->pktmbuf_pool_ops,
	            rte_mempool_get_ops(sh->pktmbuf_pool->ops_index)->name,
	            sizeof(sh->pktmbuf_pool_ops));
	sh->mgr_msg_ring = rte_ring_create(ONVM_MGR_MSG_RING, 1024,
	                                   rte_socket_id(), RING_F_SC_DEQ);
	if (sh->mgr_msg_ring == NULL)
		return NULL;
	sh->msg_pool = rte_mempool_create(
	    ONVM_MSG_POOL, ONVM_MSG_POOL_SIZE, sizeof(struct onvm_nf_msg), 0, 0,
	    NULL, NULL, NULL, NULL, (int)rte_socket_id(), 0);
	sh->ctl_reply_ring =
	    rte_ring_create(ONVM_CTL_REPLY_RING, 1024, rte_socket_id(),
	                    RING_F_SP_ENQ | RING_F_SC_DEQ);
	if (sh->msg_pool == NULL || sh->ctl_reply_ring == NULL)
		return NULL;
	rc = __onvm_create_nf_slots(sh, cfg->nf_ring_size);
	if (rc == 0)
		rc = __onvm_create_chain_latency(sh);
	if (rc == 0 && sh->nf_to_nf == ONVM_NF_TO_NF_DIRECT)
		rc = __onvm_create_direct_rings(sh);
	if (rc == 0)
		rc = __onvm_create_workers(sh, cfg->num_workers);
	if (rc < 0) {
		rte_errno = -rc;
		return NULL;
	}
	__onvm_mgr.sh = sh;
	return sh;
}

int
onvm_mgr_port_enable(struct onvm_shared *sh, uint16_t port_id,
                     uint16_t n_rx_queues, uint8_t rss_flow_hash)
{
	uint16_t q;

	if (port_id >= ONVM_MAX_PORTS || sh->ports[port_id].enabled ||
	    n_rx_queues == 0 || n_rx_queues > ONVM_MAX_PORT_RX_QUEUES)
		return -EINVAL;
	if (__onvm_mgr.n_ports >= ONVM_MAX_PORTS)
		return -ENOSPC;
	for (q = 0; q < n_rx_queues; q++) {
		/* One queue: ports take turns, as they always did. */
		unsigned int index = n_rx_queues == 1 ? __onvm_mgr.n_ports : q;
		struct __onvm_worker *w =
		    __onvm_mgr.workers[index % sh->num_workers];

		w->rx_ports[w->n_rx_ports].port_id = port_id;
		w->rx_ports[w->n_rx_ports].queue_id = q;
		w->n_rx_ports++;
	}
	__onvm_mgr.n_ports++;
	sh->ports[port_id].port_id = port_id;
	sh->ports[port_id].rss_flow_hash = rss_flow_hash ? 1 : 0;
	rte_eth_macaddr_get(port_id,
	                    (struct rte_ether_addr *)sh->ports[port_id].mac);
	sh->ports[port_id].enabled = 1;
	return 0;
}

int
onvm_mgr_launch(struct onvm_shared *sh, const unsigned int *lcores)
{
	unsigned int i;
	int rc;

	__atomic_store_n(&sh->running, 1, __ATOMIC_RELEASE);
	for (i = 0; i < sh->num_workers; i++) {
		__onvm_mgr.workers[i]->lcore = lcores[i];
		rc = rte_eal_remote_launch(onvm_mgr_worker_main,
		                           __onvm_mgr.workers[i], lcores[i]);
		if (rc < 0) {
			onvm_mgr_halt(sh);
			return rc;
		}
	}
	return 0;
}

void
onvm_mgr_halt(struct onvm_shared *sh)
{
	unsigned int i;

	__atomic_store_n(&sh->running, 0, __ATOMIC_RELEASE);
	for (i = 0; i < sh->num_workers; i++)
		if (__onvm_mgr.workers[i] && __onvm_mgr.workers[i]->lcore)
			rte_eal_wait_lcore(__onvm_mgr.workers[i]->lcore);
}

unsigned int
onvm_mgr_pool_available(const struct onvm_shared *sh)
{
	return rte_mempool_avail_count(sh->pktmbuf_pool);
}
