/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * onvm shared-memory contract between the manager (DPDK primary) and NFs
 * (DPDK secondaries). Only layouts, object names and limits live here: the
 * manager creates every object named below, NFs only look them up.
 *
 * Hugepage memory is mapped at the same virtual address in every process of
 * one DPDK file prefix, so pointers stored in these tables are valid in all.
 */
#ifndef ONVM_COMMON_H
#define ONVM_COMMON_H

#include <stdint.h>

#include <rte_common.h>
#include <rte_memory.h>

#include <onvm/latency.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bumped whenever a layout below changes: an NF built against another
 * version refuses to attach instead of misreading the tables. */
#define ONVM_ABI_VERSION 8
#define ONVM_SHARED_MAGIC 0x6f6e766dU /* "onvm" */

/* Limits. NF id 0, service id 0 and chain body 0 mean "none". */
#define ONVM_MAX_NFS 64
#define ONVM_MAX_SERVICES 64
#define ONVM_MAX_INSTANCES 16
#define ONVM_SERVICE_BUCKETS 256
#define ONVM_MAX_CHAINS 64
#define ONVM_MAX_CHAIN_HOPS 16
#define ONVM_MAX_CHAIN_BODIES 256
#define ONVM_MAX_PORTS 16
#define ONVM_MAX_WORKERS 8
#define ONVM_BURST_MAX 64
#define ONVM_NF_NAME_LEN 32
#define ONVM_POOL_OPS_NAMESIZE 32 /* RTE_MEMPOOL_OPS_NAMESIZE */
#define ONVM_DEFAULT_CHAIN 0
#define ONVM_MAX_FLOW_RULES 16384 /* 256 KiB of rule counters per worker */
#define ONVM_MAX_CPU 1023 /* the largest CPU number a core option names */
/* Direct hand-over between NFs: each NF pair's ring, and the most packets
 * one hand-over moves. */
#define ONVM_DIRECT_RING_SIZE 512
#define ONVM_HANDOFF_MAX 128

/* Names of managers and chains: 1 to ONVM_NAME_MAX of these characters,
 * safe in a DPDK file prefix, a path and a ZeroMQ endpoint. */
#define ONVM_NAME_MAX 32
#define ONVM_NAME_CHARS                                                        \
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"

/* Where a manager named NAME lives: its DPDK file prefix, and a runtime
 * directory holding its lock (held while it runs), its control endpoints
 * and the files it writes for people and scripts. */
#define ONVM_DEFAULT_MANAGER "onvm"
#define ONVM_FILE_PREFIX_FMT "onvm-%s"
#define ONVM_RUNTIME_DIR_FMT "/run/onvm/%s"
#define ONVM_MANAGER_LOCK_FILE "manager.lock"
#define ONVM_READY_FILE "ready"      /* written once NFs may join */
#define ONVM_STATS_FILE "stats.json" /* a counters snapshot, 10 a second */
#define ONVM_DPDK_LOG_FILE "dpdk.log"
#define ONVM_CONTROL_SOCKET "control.sock" /* ZeroMQ ROUTER: requests */
#define ONVM_STATS_SOCKET "stats.sock"     /* ZeroMQ PUB: stats stream */

/* Object names, one set per manager (DPDK file prefix). */
#define ONVM_MZ_SHARED "onvm_shared"
#define ONVM_PKTMBUF_POOL "onvm_pktmbuf_pool"
#define ONVM_MGR_MSG_RING "onvm_mgr_msg"
#define ONVM_NF_RX_RING_FMT "onvm_nf%u_rx"
#define ONVM_NF_TX_RING_FMT "onvm_nf%u_tx"
#define ONVM_PKT_META_DYNFIELD "onvm_dynfield_pkt_meta"
#define ONVM_PKT_HOP_DYNFIELD "onvm_dynfield_hop_stamp"
#define ONVM_MZ_DIRECT_RINGS "onvm_direct_rings"
#define ONVM_MZ_CHAIN_LATENCY "onvm_chain_latency"
#define ONVM_MSG_POOL "onvm_msg_pool"
#define ONVM_NF_INBOX_FMT "onvm_nf%u_in"   /* messages to the NF */
#define ONVM_NF_OUTBOX_FMT "onvm_nf%u_out" /* messages from the NF */
#define ONVM_CTL_REPLY_RING "onvm_ctl_reply"

/* Messages to NFs: bytes, from the control plane or another NF, to one
 * NF or to every instance of a service. An NF puts what it sends on its
 * own outbox; the manager's control worker delivers it to the inboxes
 * (one producer per outbox: a sender that dies leaves no other ring
 * half-written). */
#define ONVM_MSG_DATA_MAX 1024
#define ONVM_MSG_POOL_SIZE 4095
#define ONVM_NF_MSG_RING_SIZE 128
#define ONVM_MSG_FROM_CONTROL 0 /* `from` of what the control plane sends */

enum onvm_msg_kind {
	ONVM_MSG_REQUEST = 1,
	ONVM_MSG_REPLY = 2,
};

struct onvm_nf_msg {
	uint16_t owner;      /* as an mbuf's (ONVM_OWNER_*, or an NF id) */
	uint16_t from;       /* sending NF, or ONVM_MSG_FROM_CONTROL */
	uint16_t to_nf;      /* one NF, or 0 */
	uint16_t to_service; /* every instance of a service, or 0 */
	uint8_t kind;        /* enum onvm_msg_kind */
	uint8_t reserved[3];
	uint32_t id; /* the sender's; a reply carries its request's */
	uint32_t len;
	uint8_t data[ONVM_MSG_DATA_MAX];
};

/* Where packets go next; an NF returns one per packet. */
enum onvm_action {
	ONVM_ACTION_DROP = 0, /* the manager frees the packet */
	ONVM_ACTION_NEXT = 1, /* next hop of the packet's chain */
	ONVM_ACTION_TONF = 2, /* to service `destination`, by flow hash */
	ONVM_ACTION_OUT = 3,  /* out of port `destination` */
	/* The NF keeps the packet across bursts and hands it on later
	 * (onvm_nflib_release) or frees it (onvm_nflib_free_held). */
	ONVM_ACTION_HOLD = 4,
};
#define ONVM_ACTION_COUNT 5

/* onvm_pkt_meta.flags */
#define ONVM_PKT_HELD 0x1 /* an NF holds it (ONVM_ACTION_HOLD) */

/* Who holds an mbuf. The manager sets ONVM_OWNER_MANAGER whenever a packet
 * is in its hands and the NF id while an NF holds it, so the mbufs of a
 * crashed NF can be found and returned to the pool. */
#define ONVM_OWNER_NONE 0
#define ONVM_OWNER_MANAGER 0xffff

/* Per-packet metadata, an mbuf dynamic field (see onvm/pkt_meta.h). */
struct onvm_pkt_meta {
	uint8_t action;       /* enum onvm_action, set by the NF */
	uint8_t chain_index;  /* hop of the chain the packet is at */
	uint16_t destination; /* service id (TONF) or port id (OUT) */
	uint16_t owner;       /* NF id, ONVM_OWNER_MANAGER or ONVM_OWNER_NONE */
	uint16_t chain;       /* chain body the packet follows */
	uint32_t chain_gen;   /* that body's generation when the packet began */
	uint8_t flags;        /* ONVM_PKT_* */
	uint8_t reserved[3];
	uint64_t timestamp; /* TSC at manager RX, for latency */
};

enum onvm_nf_state {
	ONVM_NF_FREE = 0,       /* slot unused */
	ONVM_NF_STARTING = 1,   /* an NF took the slot and is registering */
	ONVM_NF_RUNNING = 2,    /* receives packets */
	ONVM_NF_STOPPING = 3,   /* asked to stop by the manager */
	ONVM_NF_RETIRING = 4,   /* out of its service; rings being drained */
	ONVM_NF_RECLAIMING = 5, /* crashed: held mbufs go back to the pool */
	ONVM_NF_REJECTED = 6, /* registration refused; reason in reject_errno */
};

#define ONVM_NF_FLAG_SHARED_CORE 0x1 /* sleeps when idle; wake it */
/* Asks the manager for a CPU of its own (written into `core` at
 * registration), where it busy-polls. */
#define ONVM_NF_FLAG_DEDICATED 0x2

/* Counters written by the NF process only. */
struct onvm_nf_stats {
	uint64_t rx; /* packets handed to the handler */
	uint64_t tx; /* packets returned to the manager */
	uint64_t act_drop;
	uint64_t act_next;
	uint64_t act_tonf;
	uint64_t act_out;
	uint64_t batches;     /* handler calls */
	uint64_t sleeps;      /* times the NF slept idle (shared-core) */
	uint64_t created;     /* packets the NF allocated */
	uint64_t busy_cycles; /* TSC cycles spent on batches, not idling */
	uint64_t unsent; /* handled but not taken back (manager gone): freed */
	uint64_t direct; /* handed straight to another NF (nf_to_nf direct) */
	uint64_t direct_fallback; /* meant for an NF, sent via the manager */
	uint64_t direct_in;       /* taken from other NFs' rings */
	uint64_t held;     /* packets its handlers kept (ONVM_ACTION_HOLD) */
	uint64_t released; /* held packets handed on or freed since */
	uint64_t msg_in;   /* messages its handler got */
	uint64_t msg_out;  /* messages it sent (replies included) */
	uint64_t msg_drop; /* messages it could not send: pool or outbox full */
	uint64_t clones;   /* copies it made (onvm_nflib_clone) */
	uint64_t clone_fail; /* copies it could not make: the pool was empty */
	/* Shared packets (a tee's, a clone's) it got a private copy of before
	 * its handler, as an NF that may write; and those dropped for want of
	 * an mbuf to copy into. */
	uint64_t unshared;
	uint64_t unshare_drop;
} __rte_cache_aligned;

/* Who moves packets from one NF to the next. */
enum onvm_nf_to_nf {
	ONVM_NF_TO_NF_MANAGER = 0, /* every packet back through a worker */
	ONVM_NF_TO_NF_DIRECT = 1,  /* NF to NF on a ring of their own */
};

/* The hand-over an NF has in flight, in shared memory so that the manager
 * can finish it when the NF dies halfway: with `n` set and the ring's tail
 * still at `tail_before`, the packets were never published and are the
 * NF's again. */
struct onvm_handoff {
	volatile uint32_t n; /* packets being handed over, 0 when none */
	uint16_t dest;       /* the NF they go to */
	/* 1 while the NF waits for room on that ring: an NF whose next NF
	 * waits too does not wait (a loop of NFs would wait for ever). */
	volatile uint16_t waiting;
	uint32_t tail_before; /* that ring's prod.tail before publishing */
	struct rte_mbuf *pkts[ONVM_HANDOFF_MAX];
};

/* One NF table slot. Identity fields are written by the NF while STARTING
 * and read-only afterwards; `state` is the handshake futex word. */
struct onvm_nf {
	volatile uint32_t state;
	int32_t reject_errno; /* positive errno when REJECTED */
	uint16_t id;
	uint16_t service_id;
	uint16_t instance; /* index among the service's instances */
	uint16_t flags;    /* ONVM_NF_FLAG_* */
	int32_t pid;
	int32_t core;        /* CPU the NF runs on, -1 if floating */
	uint32_t generation; /* bumped at each claim */
	uint8_t tx_worker;   /* the manager worker that drains tx_ring */
	uint8_t crashed;
	char name[ONVM_NF_NAME_LEN];
	uint64_t register_tsc;
	/* Workers' per-slot counters when this NF registered: the stats of
	 * this NF are the counters minus these. */
	uint64_t enq_base;
	uint64_t enq_drop_base;
	struct rte_ring *rx_ring; /* manager -> NF packets (MP/SC) */
	struct rte_ring *tx_ring; /* NF -> manager packets (SP/SC) */
	struct rte_ring *inbox;   /* messages to it: manager threads -> NF */
	struct rte_ring *outbox;  /* messages it sends: NF -> control worker */

	/* Shared-core wake word: 1 while the NF sleeps on it. */
	volatile uint32_t sleeping __rte_cache_aligned;
	/* Bumped every loop of an NF: past a change, it has finished any
	 * hand-over it began before (the manager's retirement grace). */
	volatile uint64_t epoch;
	/* NFs that have handed this one packets directly: it polls their
	 * rings. Set by those NFs, cleared at registration. */
	volatile uint64_t direct_in_mask;

	struct onvm_handoff handoff __rte_cache_aligned;

	struct onvm_nf_stats stats;
	/* Its hop's latency, written by the NF (see onvm/latency.h). */
	struct onvm_hist latency __rte_cache_aligned;
} __rte_cache_aligned;

/* Instances of one service. The control worker is the only writer; readers
 * retry while `seq` is odd or changed (sequence counter). Flow hash bucket
 * -> NF id, so adding or removing an instance moves few flows. */
struct onvm_service {
	volatile uint32_t seq;
	uint16_t count;
	uint16_t instances[ONVM_MAX_INSTANCES];
	uint16_t bucket_nf[ONVM_SERVICE_BUCKETS];
} __rte_cache_aligned;

enum onvm_hop_kind {
	ONVM_HOP_NF = 1,   /* to a service */
	ONVM_HOP_PORT = 2, /* out of a port */
	/* A copy to a service, the packet itself on to the next hop. The
	 * copy's chain ends at that service. */
	ONVM_HOP_TEE = 3,
};

struct onvm_chain_hop {
	uint8_t kind; /* enum onvm_hop_kind */
	uint8_t reserved;
	uint16_t dest; /* service id (NF, TEE) or port id */
};

/* Chains are immutable once published: a new version is written into a
 * free body and the head switched atomically, so packets in flight finish
 * the version they started on and no reader sees a half-written chain.
 * A retired body is reused after a grace period; its generation, bumped
 * before it is rewritten, tells a packet still holding the old one (an NF
 * kept it longer) that its version is gone: the packet is dropped and
 * counted (chain_gone), never sent along another chain. */
enum onvm_chain_body_state {
	ONVM_CHAIN_BODY_FREE = 0,
	ONVM_CHAIN_BODY_LIVE = 1,
	ONVM_CHAIN_BODY_RETIRED = 2, /* reusable after the grace period */
};

struct onvm_chain_body {
	uint8_t length;
	uint8_t state; /* enum onvm_chain_body_state; control plane only */
	uint16_t chain_id;
	volatile uint32_t generation; /* bumped before each rewrite */
	struct onvm_chain_hop hops[ONVM_MAX_CHAIN_HOPS];
	uint64_t retired_tsc;
};

struct onvm_chain_table {
	volatile uint16_t head[ONVM_MAX_CHAINS]; /* chain id -> body, 0 none */
	struct onvm_chain_body bodies[ONVM_MAX_CHAIN_BODIES];
};

/* Counters of one manager worker lcore, written by that lcore only. */
struct onvm_worker_stats {
	uint64_t port_rx[ONVM_MAX_PORTS];
	uint64_t port_tx[ONVM_MAX_PORTS];
	uint64_t port_tx_drop[ONVM_MAX_PORTS];
	uint64_t nf_enq[ONVM_MAX_NFS]; /* packets put on the NF's rx ring */
	uint64_t nf_enq_drop[ONVM_MAX_NFS]; /* rx ring full */
	uint64_t nf_deq[ONVM_MAX_NFS];      /* packets taken from its tx ring */
	uint64_t act_drop;                  /* NF said DROP */
	uint64_t chain_end;                 /* NEXT past the last hop */
	uint64_t chain_gone; /* its chain version was replaced and reused */
	uint64_t no_dest;    /* unknown service, no instance, or bad port */
	uint64_t reclaimed;  /* mbufs returned from dead NFs */
	uint64_t loops;
	uint64_t
	    rx_held; /* loops without port RX: an NF ring was short of room */
	volatile uint64_t epoch; /* bumped every loop; retirement grace */
	uint64_t msg_delivered;  /* messages put on an inbox (control worker) */
	uint64_t msg_dropped;    /* inbox full, no such NF, or no pool room */
	uint64_t capture_copied; /* packets copied for a capture */
	uint64_t capture_missed; /* capture pool or ring full */
	uint64_t tee_copies;     /* copies made at tee hops */
	uint64_t tee_fail;       /* copies a tee could not make: pool empty */
	uint64_t flow_drop;      /* packets flow rules dropped at port RX */
	uint64_t flow_hits[ONVM_MAX_FLOW_RULES];  /* packets per rule slot */
	uint64_t flow_bytes[ONVM_MAX_FLOW_RULES]; /* their bytes */
} __rte_cache_aligned;

/* Where a capture copies packets: a port's RX or TX, an NF's input (what
 * the manager hands it) or output (what it passes on, drops excluded). */
enum onvm_capture_point {
	ONVM_CAPTURE_OFF = 0,
	ONVM_CAPTURE_PORT_RX = 1,
	ONVM_CAPTURE_PORT_TX = 2,
	ONVM_CAPTURE_NF_IN = 3,
	ONVM_CAPTURE_NF_OUT = 4,
};

/* The one capture of a manager. Workers copy matching packets into `pool`
 * and put the copies on `ring` for the control thread, which writes them. */
struct onvm_capture {
	volatile uint32_t point; /* enum onvm_capture_point */
	uint16_t id;             /* port id or NF id */
	uint16_t reserved;
	uint32_t snaplen;
	struct rte_ring *ring;    /* copies, workers -> control thread */
	struct rte_mempool *pool; /* created at the first capture */
};

struct onvm_port_info {
	uint8_t enabled;
	/* The port's RSS hash is symmetric and stands for the flow hash. */
	uint8_t rss_flow_hash;
	uint16_t port_id;
	uint8_t mac[6];
	/* ns per unit of the port's RX timestamps (the mbuf's timestamp
	 * field), 32.32 fixed point; 0: the manager uses none of this port
	 * (see onvm/pkt_time.h) */
	uint64_t rx_ts_ns_mul;
};

/* The one shared region, memzone ONVM_MZ_SHARED. */
struct onvm_shared {
	uint32_t magic;
	uint32_t abi_version;
	int32_t manager_pid;
	uint32_t burst_size;
	uint32_t nf_ring_size;
	uint32_t num_workers;
	int32_t pkt_meta_offset; /* dynfield offset, same in every process */
	uint32_t wait_for_chain;
	volatile uint32_t running;       /* 0 asks workers and NFs to stop */
	volatile uint32_t ports_enabled; /* RX starts once set */
	/* Services with more than one instance. While there are none, no
	 * route needs a flow hash and port RX computes none. */
	volatile uint32_t scaled_services;
	/* Set once any packet has been cloned (tee hops, onvm_nflib_clone):
	 * until then no NF needs to look for shared packets. Never cleared. */
	volatile uint32_t clones_made;
	/* Latency histograms: every latency_sample-th packet, 0 for none. */
	uint32_t latency_sample;
	/* Port RX to port TX per chain, one set per worker (its own writer):
	 * chain_latency[worker * ONVM_MAX_CHAINS + chain id]. */
	struct onvm_hist *chain_latency;
	/* Shared-core NFs: one idle this long sleeps; the manager wakes a
	 * sleeping one once wake_batch packets wait for it, or its first has
	 * waited wake_delay (see [dataplane] in configs/manager.toml). */
	uint32_t wake_batch;
	uint64_t idle_sleep_tsc;
	uint64_t wake_delay_tsc;
	uint32_t nf_to_nf; /* enum onvm_nf_to_nf */
	/* nf_to_nf direct: ONVM_MAX_NFS x ONVM_MAX_NFS rings of
	 * direct_ring_bytes each, from NF i to NF j at (i * ONVM_MAX_NFS + j).
	 */
	uint32_t direct_ring_bytes;
	void *direct_rings;
	uint64_t tsc_hz;
	uint64_t worker_cpu_mask; /* CPUs the manager's workers poll on */
	struct rte_mempool *pktmbuf_pool;
	/* The pool's mempool handler. Handlers are numbered per process, in
	 * registration order, and the pool holds the manager's number: an NF
	 * checks that its handler of that number has this name. */
	char pktmbuf_pool_ops[ONVM_POOL_OPS_NAMESIZE];
	struct rte_ring *mgr_msg_ring;   /* NF/control -> control worker */
	struct rte_mempool *msg_pool;    /* struct onvm_nf_msg, no cache */
	struct rte_ring *ctl_reply_ring; /* replies: control worker -> thread */
	/* NFs whose outbox holds messages, a bit each (set by the NF). */
	volatile uint64_t msg_pending;
	/* Flow rules in force, manager only: an immutable set swapped whole. */
	void *volatile flow_rules;
	struct onvm_capture capture;
	struct onvm_port_info ports[ONVM_MAX_PORTS];
	struct onvm_nf nfs[ONVM_MAX_NFS];
	struct onvm_service services[ONVM_MAX_SERVICES];
	struct onvm_chain_table chains;
	struct onvm_worker_stats workers[ONVM_MAX_WORKERS];
};

/* The ring NF @p from hands packets to NF @p to on (nf_to_nf direct). */
static inline struct rte_ring *
onvm_direct_ring(const struct onvm_shared *sh, unsigned int from,
                 unsigned int to)
{
	return (struct rte_ring *)((char *)sh->direct_rings +
	                           (size_t)(from * ONVM_MAX_NFS + to) *
	                               sh->direct_ring_bytes);
}

/* Messages on ONVM_MGR_MSG_RING, packed into the ring's pointer slot so
 * sending one allocates nothing. */
enum onvm_msg_type {
	ONVM_MSG_NF_REGISTER = 1,   /* NF slot `nf_id` is STARTING and filled */
	ONVM_MSG_NF_UNREGISTER = 2, /* NF `nf_id` is exiting cleanly */
	ONVM_MSG_NF_DEAD = 3,       /* control plane: NF `nf_id` has died */
	/* REGISTER, UNREGISTER and DEAD carry the slot generation as arg. */
};

static inline void *
onvm_msg_encode(uint16_t type, uint16_t nf_id, uint32_t arg)
{
	return (void *)(uintptr_t)(((uint64_t)type << 48) |
	                           ((uint64_t)nf_id << 32) | arg);
}

static inline void
onvm_msg_decode(const void *msg, uint16_t *type, uint16_t *nf_id, uint32_t *arg)
{
	uint64_t v = (uint64_t)(uintptr_t)msg;

	*type = (uint16_t)(v >> 48);
	*nf_id = (uint16_t)(v >> 32);
	*arg = (uint32_t)v;
}

#ifdef __cplusplus
}
#endif

#endif /* ONVM_COMMON_H */
