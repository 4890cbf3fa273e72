/* SPDX-License-Identifier: BSD-3-Clause */
/* nflib-private state shared by its sources. */
#ifndef ONVM_NFLIB_INTERNAL_H
#define ONVM_NFLIB_INTERNAL_H

#include <signal.h>
#include <stdint.h>

#include <rte_mbuf.h>

#include <onvm/nflib.h>

/* NFs never use a mempool cache (see onvm_nflib_alloc_pkts), so the lcore
 * id only needs to differ from the manager's. */
#define ONVM_NF_LCORE_ID 127
#define ONVM_REGISTER_TIMEOUT_MS 5000
#define ONVM_LIVENESS_PERIOD_MS 100
#define ONVM_IDLE_SPINS 64
/* A sched_yield() that took this long ran another task of the core. */
#define ONVM_YIELD_SWITCH_US 5
/* Most packets taken from the rx ring, and handed back, at once. Each ring
 * operation moves cache lines between the manager's core and the NF's, at a
 * fixed cost per operation: a backlog goes in a few large ones. */
#define ONVM_NF_RING_BATCH 512
/* How long a stopping NF waits for room to hand its last packets back. */
#define ONVM_SEND_STOP_WAIT_MS 1000
/* How long a direct hand-over waits for room before it goes through the
 * manager instead (which drops at a stuck NF's ring). */
#define ONVM_DIRECT_STALL_MS 500

struct __onvm_direct;

struct __onvm_nf_options {
	char manager[ONVM_NAME_MAX + 1];
	char nf_name[ONVM_NF_NAME_LEN];
	long service_id;
	int core; /* -1: float */
	int busy_poll;
	int dedicated; /* a CPU of its own, from the manager */
};

struct onvm_nf_ctx {
	struct onvm_shared *sh;
	struct onvm_nf *nf;
	struct rte_mempool *pool;
	uint16_t nf_id;
	struct __onvm_nf_options opts;
	volatile sig_atomic_t stop;
	int registered;
	struct __onvm_direct *direct; /* nf_to_nf direct; NULL otherwise */
	unsigned int
	    direct_first; /* which rings __onvm_nflib_take polls first */
	/* Held packets released by a running handler, handed on once its
	 * burst's own HOLD verdicts are applied. */
	int in_handler;
	/* Its handlers only read packets (onvm_nf_handlers.read_only): shared
	 * packets reach them as they are, and its clones share data. */
	int read_only;
	uint32_t latency_countdown; /* packets to the next one sampled */
	uint32_t msg_ids;           /* of the messages it sent */
	unsigned int nrelease;
	struct rte_mbuf *release_pkts[ONVM_NF_RELEASE_MAX];
	uint32_t release_verdicts[ONVM_NF_RELEASE_MAX];
};

/* nflib_msg.c: hand what is on the inbox to the msg handler (none: the
 * messages are dropped, counted as taken), freeing each after. */
void __onvm_nflib_take_msgs(struct onvm_nf_ctx *ctx,
                            const struct onvm_nf_handlers *h, void *user);

/* nflib_run.c: return every packet the NF still holds to the pool (its
 * exit); returns how many. */
unsigned int __onvm_nflib_free_all_held(struct onvm_nf_ctx *ctx);

/* Record the one-line error onvm_nflib_strerror() returns; returns -err. */
int __onvm_nflib_error(int err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* nflib_args.c: take nflib options out of argv; returns new argc or -errno. */
int __onvm_nflib_parse_args(int argc, char **argv,
                            struct __onvm_nf_options *opts);

/* nflib_run.c: hand packets back to the manager; what it cannot take any
 * more is freed and counted. */
void __onvm_nflib_return(struct onvm_nf_ctx *ctx, struct rte_mbuf **pkts,
                         unsigned int n);

/* nflib_direct.c: direct hand-over between NFs (nf_to_nf direct). */
int __onvm_nflib_direct_start(struct onvm_nf_ctx *ctx);
void __onvm_nflib_direct_end(struct onvm_nf_ctx *ctx);
/* Handled packets: those for another NF straight to it, the rest back. */
void __onvm_nflib_hand_over(struct onvm_nf_ctx *ctx, struct rte_mbuf **pkts,
                            unsigned int n);
/* Wake the NFs this one fed that are due (@p all: every one still asleep). */
void __onvm_nflib_direct_wake_pending(struct onvm_nf_ctx *ctx, int all);
/* Up to @p take packets from the rx ring and the other NFs' rings. */
unsigned int __onvm_nflib_take(struct onvm_nf_ctx *ctx, struct rte_mbuf **pkts,
                               unsigned int take);
int __onvm_nflib_rings_empty(const struct onvm_nf_ctx *ctx);

#endif /* ONVM_NFLIB_INTERNAL_H */
