/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The manager's native side: creates the shared objects, runs the data-plane
 * worker lcores, and offers the control plane (Python, through cffi) the
 * writes it needs: chains, flow rules, NF retirement and mbuf reclaim.
 *
 * Threads: worker lcores run onvm_mgr_worker_main(); the control thread
 * (the EAL main lcore, in Python) calls everything else. Worker 0 is the
 * control worker: it alone writes the service table and NF states past
 * STARTING, so those need no lock.
 */
#ifndef ONVM_MANAGER_H
#define ONVM_MANAGER_H

#include <stdint.h>

#include <onvm/classifier.h>
#include <onvm/common.h>
#include <onvm/flow.h>

#ifdef __cplusplus
extern "C" {
#endif

/* RX queues of one port the data plane polls: net_pcap and net_ring make
 * at most 16, and a port spread by RSS has one per worker. */
#define ONVM_MAX_PORT_RX_QUEUES 16

struct onvm_mgr_config {
	uint32_t num_mbufs;      /* packet pool size */
	uint32_t mbuf_cache;     /* per-lcore pool cache */
	uint32_t burst_size;     /* <= ONVM_BURST_MAX */
	uint32_t nf_ring_size;   /* power of two */
	uint32_t num_workers;    /* data-plane lcores, 1..ONVM_MAX_WORKERS */
	uint32_t wait_for_chain; /* hold port RX until the default chain runs */
	uint32_t chain_grace_ms; /* before a replaced chain body is reused */
	uint32_t idle_sleep_us;  /* a shared-core NF idle this long sleeps */
	uint32_t wake_batch;     /* wake a sleeping NF for this many packets */
	uint32_t wake_delay_us;  /* ...or once its first has waited this long */
	uint32_t nf_to_nf;       /* enum onvm_nf_to_nf */
	uint32_t latency_sample; /* record 1 packet in N; 0: no latency */
	uint64_t
	    worker_cpu_mask; /* CPUs of the workers: floating NFs avoid them */
	/* CPUs a dedicated NF may be given, in the order they are handed out:
	 * those of the machine that run neither the control thread nor a
	 * worker. */
	uint32_t n_nf_cpus;
	uint16_t nf_cpus[ONVM_MAX_NFS];
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
 * with @p n_rx_queues rx queues and one tx queue per worker. Each rx queue
 * is polled by one worker: a port of one queue by worker
 * port_index % workers, as it comes; queue q of a port of several by
 * worker q % workers, so the queues of every port spread over all the
 * workers. A port keeps each flow on one queue (RSS, or a pcap file or a
 * ring of its own), so a flow's packets stay in order.
 *
 * @param rss_flow_hash
 *   1 if the port hashes with a symmetric RSS key: its hash in each mbuf
 *   stands for the flow hash, which the workers then need not compute.
 * @return
 *   0, or -EINVAL (bad id, or 0 or more than ONVM_MAX_PORT_RX_QUEUES
 *   queues), -ENOSPC (too many ports).
 */
int onvm_mgr_port_enable(struct onvm_shared *sh, uint16_t port_id,
                         uint16_t n_rx_queues, uint8_t rss_flow_hash);

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

/* What a flow rule does with the packets it matches. */
enum onvm_flow_action {
	ONVM_FLOW_ACTION_CHAIN = 0, /* start them on the rule's chain */
	ONVM_FLOW_ACTION_DROP = 1,  /* drop them at port RX */
};

/* Flow rules' priorities run from 0 to this; the higher wins, and of
 * equal ones the rule added first. */
#define ONVM_FLOW_MAX_PRIORITY 65535

/* The sets the rules are spread over (see flow_rules.c): the main set and
 * a middle one, compiled, and the newest rules, tested one by one. */
#define ONVM_FLOW_TIERS 3

/* One flow rule as the control plane adds it. */
struct onvm_flow_rule {
	struct onvm_rule match; /* match.result: the rule's slot + 1 */
	uint16_t chain;         /* ONVM_FLOW_ACTION_CHAIN: the chain id */
	uint16_t mirror;        /* a service each packet is copied to; 0 none */
	uint16_t priority;      /* 0..ONVM_FLOW_MAX_PRIORITY */
	uint8_t action;         /* enum onvm_flow_action */
};

/* One set of flow rules, as onvm_mgr_flow_tiers() reports it. */
struct onvm_flow_tier_info {
	uint32_t rules;    /* rules in it, deleted ones among them */
	uint32_t dead;     /* deleted rules still compiled in, matching none */
	uint64_t builds;   /* times it was made (compiled) */
	uint64_t build_ns; /* time spent making it, in all */
};

/**
 * Add @p n flow rules, all or none: packets from a port that match one
 * follow its action; of several, the highest priority wins, then the rule
 * added first (rules[0] before rules[1]). rules[i].match.result is the
 * rule's slot + 1 (1 to ONVM_MAX_FLOW_RULES, free): its counters. Only
 * the smallest set that can take the rules is made again.
 * Takes effect from the workers' next port burst.
 *
 * @return
 *   0, or -EINVAL (bad rule, slot in use or named twice, chain, mirror
 *   or action), -ENOMEM, or a negative errno from building the
 *   classifier.
 */
int onvm_mgr_flow_rules_add(struct onvm_shared *sh,
                            const struct onvm_flow_rule *rules, uint32_t n);

/**
 * Delete the rules in the @p n slots @p slots, all or none. A deleted rule
 * that shadows no other of its set stays compiled, marked dead; the others
 * make their set compile again. Takes effect from the next port burst.
 *
 * @return
 *   0, or -EINVAL (a slot without a rule, or named twice), -ENOMEM, or a
 *   negative errno from building the classifier.
 */
int onvm_mgr_flow_rules_delete(struct onvm_shared *sh, const uint32_t *slots,
                               uint32_t n);

/**
 * Compile the newest rules, which the workers test one by one, into the
 * middle set (or everything into the main set, if the middle is full).
 * The control plane calls it once adds pause.
 *
 * @return
 *   0, or -ENOMEM, or a negative errno from building the classifier
 *   (nothing changed then).
 */
int onvm_mgr_flow_rules_settle(struct onvm_shared *sh);

/**
 * Free replaced rule sets that no worker can still be using.
 */
void onvm_mgr_flow_rules_gc(struct onvm_shared *sh);

/**
 * The compiled sets of flow rules: @p info has ONVM_FLOW_TIERS entries,
 * the main set first, the newest rules last.
 */
void onvm_mgr_flow_tiers(const struct onvm_shared *sh,
                         struct onvm_flow_tier_info *info);

/**
 * Packets that matched the rule in @p slot, summed over workers.
 */
uint64_t onvm_mgr_flow_hits(const struct onvm_shared *sh, uint32_t slot);

/**
 * Bytes of the packets that matched the rule in @p slot (their frames'
 * lengths), summed over workers.
 */
uint64_t onvm_mgr_flow_bytes(const struct onvm_shared *sh, uint32_t slot);

/**
 * Start copying the packets of one capture point (enum
 * onvm_capture_point; @p id a port or NF id) to the capture ring, at most
 * @p snaplen bytes of each.
 *
 * @return
 *   0, or -EINVAL, -EBUSY (a capture runs or its copies are not all
 *   taken yet), -ENOMEM (no memory for the capture pool).
 */
int onvm_mgr_capture_start(struct onvm_shared *sh, uint32_t point, uint16_t id,
                           uint32_t snaplen);

/**
 * Stop copying. Copies already made stay on the ring for
 * onvm_mgr_capture_take().
 */
void onvm_mgr_capture_stop(struct onvm_shared *sh);

/* One captured packet, as onvm_mgr_capture_take() hands it over. */
struct onvm_capture_record {
	uint64_t tsc;     /* when it was copied */
	uint32_t offset;  /* of its bytes in the caller's buffer */
	uint32_t caplen;  /* bytes copied */
	uint32_t origlen; /* length on the wire */
	uint32_t reserved;
};

/**
 * Take up to @p max captured packets off the ring: their bytes are
 * copied one after another into @p buf (@p bufsize bytes, at least the
 * snaplen), their copies returned to the capture pool.
 *
 * @return
 *   The number of records filled.
 */
unsigned int onvm_mgr_capture_take(struct onvm_shared *sh,
                                   struct onvm_capture_record *recs,
                                   unsigned int max, uint8_t *buf,
                                   uint32_t bufsize);

/**
 * The TSC now, to put capture timestamps on the wall clock.
 */
uint64_t onvm_mgr_tsc(void);

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
 * NF must be in state ONVM_NF_RECLAIMING (retired by the control worker).
 *
 * @return
 *   The number of mbufs returned, or -EINVAL, -EBUSY (not yet retired).
 */
int onvm_mgr_nf_reclaim(struct onvm_shared *sh, uint16_t nf_id);

/**
 * Send @p len bytes (at most ONVM_MSG_DATA_MAX) to NF @p nf_id, or to every
 * running instance of @p service (one of the two is 0), as request @p id.
 *
 * @return
 *   The number of NFs it was delivered to, or -EINVAL, -ENOBUFS (no room
 *   in the message pool).
 */
int onvm_mgr_msg_send(struct onvm_shared *sh, uint16_t nf_id, uint16_t service,
                      const void *data, uint32_t len, uint32_t id);

/** Take the oldest reply sent to the control plane into @p out: 1, or 0
 * when there is none. */
int onvm_mgr_msg_take_reply(struct onvm_shared *sh, struct onvm_nf_msg *out);

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
