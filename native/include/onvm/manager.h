/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The manager's native side: creates the shared objects, runs the data-plane
 * worker lcores, and offers the control plane (Python, through cffi) the
 * writes it needs: chains, flow rules, NF retirement and mbuf reclaim.
 *
 * Threads: worker lcores run onvm_mgr_worker_main(); the control thread
 * (the EAL main lcore, in Python) calls everything else. Worker 0 is the
 * control worker: it alone writes the service table and NF states past
 * CLAIMED, so those need no lock.
 */
#ifndef ONVM_MANAGER_H
#define ONVM_MANAGER_H

#include <stdint.h>

#include <onvm/common.h>
#include <onvm/flow.h>

#ifdef __cplusplus
extern "C" {
#endif

struct onvm_mgr_config {
	uint32_t num_mbufs;      /* packet pool size */
	uint32_t mbuf_cache;     /* per-lcore pool cache */
	uint32_t burst_size;     /* <= ONVM_BURST_MAX */
	uint32_t nf_ring_size;   /* power of two */
	uint32_t num_workers;    /* data-plane lcores, 1..ONVM_MAX_WORKERS */
	uint32_t wait_for_chain; /* hold port RX until the default chain runs */
	uint32_t flow_table_size;
	uint32_t chain_grace_ms; /* before a replaced chain body is reused */
	uint64_t worker_cpu_mask; /* CPUs of the workers: floating NFs avoid them */
};

/**
 * Create every shared object: packet pool, metadata field, shared region,
 * message ring and the rings of every NF slot. Call once, after EAL init.
 *
 * @return
 *   The shared region, or NULL with rte_errno set (EINVAL: bad config;
 *   ENOMEM: not enough hugepage memory; EEXIST: already created).
 */
struct onvm_shared *onvm_mgr_create(const struct onvm_mgr_config *cfg);

/**
 * Let the data plane use port @p port_id, already configured and started
 * with one tx queue per worker. Its RX goes to worker port_index % workers.
 *
 * @return
 *   0, or -EINVAL (bad id), -ENOSPC (too many ports).
 */
int onvm_mgr_port_enable(struct onvm_shared *sh, uint16_t port_id);

/**
 * Answer DPDK secondaries (NFs) that ask for the manager's virtual devices
 * with an empty list, so that they do not probe the ports again (which
 * would, for net_pcap, truncate the tx pcap files). Call after EAL init,
 * before NFs may join.
 *
 * @return
 *   0, or -1 with rte_errno set.
 */
int onvm_mgr_hide_ports_from_secondaries(void);

/**
 * Start the data-plane workers on @p lcores (num_workers of them).
 *
 * @return
 *   0, or a negative errno from rte_eal_remote_launch.
 */
int onvm_mgr_launch(struct onvm_shared *sh, const unsigned int *lcores);

/**
 * Stop the workers and wait for them to return; their buffers are flushed.
 */
void onvm_mgr_halt(struct onvm_shared *sh);

/**
 * Publish chain @p chain_id as @p hops (length @p n, 0 removes it). Packets
 * in flight finish the version they started on.
 *
 * @return
 *   0, or -EINVAL (bad id, length or hop), -ENOSPC (no free chain body:
 *   too many changes within the grace period).
 */
int onvm_mgr_chain_set(struct onvm_shared *sh, uint16_t chain_id,
		       const struct onvm_chain_hop *hops, unsigned int n);

/**
 * Steer packets whose 5-tuple equals @p key to chain @p chain_id.
 *
 * @return
 *   0, or -EINVAL, -ENOSPC (table full).
 */
int onvm_mgr_flow_add(struct onvm_shared *sh, const struct onvm_flow_key *key,
		      uint16_t chain_id);

/**
 * Remove the rule for @p key. Its slot is kept until the next
 * onvm_mgr_flow_gc() after the grace period, as lock-free readers need.
 *
 * @return
 *   0, or -ENOENT.
 */
int onvm_mgr_flow_del(struct onvm_shared *sh, const struct onvm_flow_key *key);

/**
 * Free flow-table slots deleted more than the grace period ago.
 */
void onvm_mgr_flow_gc(struct onvm_shared *sh);

/**
 * Tell the control worker that NF @p nf_id has died (its pid is gone).
 * @p generation is the slot's generation of that NF: a later occupant of
 * the slot is left alone.
 *
 * @return
 *   0, or -EINVAL, -ENOBUFS (message ring full: try again).
 */
int onvm_mgr_nf_dead(struct onvm_shared *sh, uint16_t nf_id,
		     uint32_t generation);

/**
 * Ask running NF @p nf_id to stop; it leaves after its current burst.
 *
 * @return
 *   0, or -EINVAL (no such NF), -EALREADY (not running).
 */
int onvm_mgr_nf_stop(struct onvm_shared *sh, uint16_t nf_id);

/**
 * Return to the pool every mbuf a crashed NF held, and free its slot. The
 * NF must be in state ONVM_NF_RECLAIM (retired by the control worker).
 *
 * @return
 *   The number of mbufs returned, or -EINVAL, -EBUSY (not yet retired).
 */
int onvm_mgr_nf_reclaim(struct onvm_shared *sh, uint16_t nf_id);

/**
 * Free a slot left REJECTED by an NF that died before releasing it.
 *
 * @return
 *   0, or -EBUSY.
 */
int onvm_mgr_nf_release_rejected(struct onvm_shared *sh, uint16_t nf_id);

/**
 * Worker lcore entry point, for rte_eal_remote_launch (arg: the worker
 * context onvm_mgr_launch() made). Returns when sh->running is cleared.
 */
int onvm_mgr_worker_main(void *arg);

/**
 * Packets currently free in the pool, for leak checks.
 */
unsigned int onvm_mgr_pool_available(const struct onvm_shared *sh);

#ifdef __cplusplus
}
#endif

#endif /* ONVM_MANAGER_H */
