/* SPDX-License-Identifier: BSD-3-Clause */
/* Manager-private state and helpers shared by the manager's sources. */
#ifndef ONVM_MGR_INTERNAL_H
#define ONVM_MGR_INTERNAL_H

#include <stdint.h>

#include <rte_mbuf.h>

#include <onvm/classifier.h>
#include <onvm/common.h>
#include <onvm/manager.h>
#include <onvm/pkt_meta.h>

#include "../common/route.h"
#include "../common/wake.h"

/* How long an NF may hold port RX back. Long enough for a shared-core NF
 * that the scheduler put aside, short enough to notice a hung one. */
#define ONVM_CONGESTION_MAX_US 500000

struct __onvm_pkt_buffer {
	uint16_t count;
	struct rte_mbuf *pkts[ONVM_BURST_MAX];
};

/* One RX queue of one port; exactly one worker polls it, so the packets
 * of a flow, which the port keeps on one queue, stay in order. */
struct __onvm_rx_queue {
	uint16_t port_id;
	uint16_t queue_id;
};

/* One data-plane lcore: private buffers and its share of the work. */
struct __onvm_worker {
	struct onvm_shared *sh;
	struct onvm_worker_stats *stats;
	unsigned int index;
	unsigned int lcore;
	uint16_t n_rx_ports;
	struct __onvm_rx_queue
	    rx_ports[ONVM_MAX_PORTS * ONVM_MAX_PORT_RX_QUEUES];
	/* NFs whose tx ring this worker drains; written by the control
	 * worker, read here each loop. */
	volatile uint64_t tx_nf_mask;
	uint64_t dirty_nf_mask;
	/* NFs whose rx ring ran low on room: port RX waits for them, so a
	 * burst arriving faster than a chain can take it stays in the port
	 * (or its pcap file) instead of being dropped at the NF. */
	uint64_t congested_nf_mask;
	uint64_t congested_tsc; /* when the current congestion began */
	/* NFs congested for longer than ONVM_CONGESTION_MAX_US: stuck, so no
	 * longer allowed to hold port RX for everyone else. */
	uint64_t stalled_nf_mask;
	uint32_t dirty_port_mask;
	uint64_t now; /* TSC of the burst in hand: hop stamps, chain latency */
	uint32_t latency_countdown; /* packets to the next one sampled */
	/* This worker's lcore cache of the packet pool (tee copies). */
	struct rte_mempool_cache *pool_cache;
	/* Sleeping shared-core NFs fed but not woken yet (see wake_batch). */
	struct __onvm_wake_pending wake_pending;
	struct __onvm_pkt_buffer to_nf[ONVM_MAX_NFS];
	struct __onvm_pkt_buffer to_port[ONVM_MAX_PORTS];
} __rte_cache_aligned;

/* NF retirement in progress, owned by the control worker. */
struct __onvm_retirement {
	uint16_t nf_id;
	uint64_t epochs[ONVM_MAX_WORKERS];
	/* nf_to_nf direct: the NFs that may have been handing packets to it,
	 * and their epochs then. */
	uint64_t nf_mask;
	uint64_t nf_epochs[ONVM_MAX_NFS];
};

/* What one result of a tier's classifier stands for. */
struct __onvm_flow_entry {
	uint64_t rank;   /* priority, then the rule added first: higher wins */
	uint32_t slot;   /* its counters */
	uint16_t chain;  /* chain id */
	uint16_t mirror; /* service a copy goes to, 0 none */
	uint8_t action;  /* enum onvm_flow_action */
	/* Deleted: still compiled in, it matches but stands for no rule; only
	 * a rule shadowing no other of its tier is deleted this way. */
	volatile uint8_t dead;
};

/* A rule of the newest tier, which the workers test one by one: the few
 * rules added since the last compile, which would cost more to compile
 * than to test. Addresses and the match word are as the key holds them
 * (IPv4-mapped for IPv4, network order), masked; ports in host order. */
struct __onvm_flow_scan_rule {
	uint64_t src[2];
	uint64_t src_mask[2];
	uint64_t dst[2];
	uint64_t dst_mask[2];
	uint32_t word; /* onvm_match_key's VLAN, input port, DSCP */
	uint32_t word_mask;
	uint16_t sport_lo;
	uint16_t sport_hi;
	uint16_t dport_lo;
	uint16_t dport_hi;
	uint8_t family; /* 4, 6, or 0: either */
	uint8_t proto;  /* 0: any */
};

/* One tier: compiled (classifier), its entries[result - 1] for each
 * result, or tested rule by rule (scan[i] for entries[i]). Entries are
 * sorted by rank. Immutable but for the entries' dead marks; shared by the
 * published rule set and those retired that were made with it. */
struct __onvm_flow_tier {
	struct onvm_classifier *classifier; /* NULL: scan */
	struct __onvm_flow_scan_rule *scan;
	struct __onvm_flow_entry *entries; /* right after the tier */
	uint32_t n;
	uint32_t n_dead; /* control thread only, as refs */
	uint32_t refs;   /* rule sets holding it */
};

/* A published flow rule set: its tiers, classified together, the best
 * rank of their matches wins. Immutable until retired. */
struct __onvm_flow_rules {
	struct __onvm_flow_tier *tiers[ONVM_FLOW_TIERS]; /* NULL: empty */
	uint64_t retired_epochs[ONVM_MAX_WORKERS];
	struct __onvm_flow_rules *next_retired;
};

struct __onvm_mgr {
	struct onvm_shared *sh;
	struct onvm_mgr_config cfg;
	uint32_t n_ports;
	struct __onvm_worker *workers[ONVM_MAX_WORKERS];
	uint32_t n_retiring;
	struct __onvm_retirement retiring[ONVM_MAX_NFS];
	/* replaced flow rule sets awaiting their grace period */
	struct __onvm_flow_rules *retired_flow_rules;
};

extern struct __onvm_mgr __onvm_mgr;

/* Data plane (dataplane.c). */
void __onvm_dispatch_to_service(struct __onvm_worker *w, struct rte_mbuf *m,
                                uint16_t service_id);
void __onvm_route_from_nf(struct __onvm_worker *w, struct rte_mbuf **pkts,
                          unsigned int n);
void __onvm_flush(struct __onvm_worker *w);
void __onvm_free_pkts(struct rte_mbuf **pkts, unsigned int n);

/* Capture (capture.c): copy the packets of a capture point, if it is the
 * one being captured. `skip_dropped`: leave out packets an NF dropped. */
void __onvm_capture_copy(struct __onvm_worker *w, struct rte_mbuf **pkts,
                         unsigned int n, int skip_dropped);

/* Control worker (nf_registry.c). */
void __onvm_control_poll(struct __onvm_worker *w);

/* messages.c: deliver what NFs put on their outboxes (control worker);
 * free a dead NF's messages (control thread, at reclaim). */
void __onvm_msg_forward(struct __onvm_worker *w);
unsigned int __onvm_msg_reclaim(struct onvm_shared *sh, uint16_t nf_id);

/* The CPU for dedicated NF @p nf_id: the first of @p cfg's nf_cpus that no
 * other NF of @p sh runs on (dedicated, or pinned with --core); -1 if every
 * one is taken. */
int __onvm_dedicated_cpu(const struct onvm_shared *sh,
                         const struct onvm_mgr_config *cfg, uint16_t nf_id);

/* Service table writer (services.c), control worker only. */
int __onvm_service_add(struct onvm_shared *sh, uint16_t service_id,
                       uint16_t nf_id);
void __onvm_service_remove(struct onvm_shared *sh, uint16_t service_id,
                           uint16_t nf_id);

#endif /* ONVM_MGR_INTERNAL_H */
