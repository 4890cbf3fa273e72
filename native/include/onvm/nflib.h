/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The NF library: an NF process attaches to a running manager as a DPDK
 * secondary, registers for a service, and runs a loop that receives bursts
 * from its rx ring, calls the NF's handler, and returns every packet to the
 * manager with an action. One NF per process.
 *
 * Options nflib takes from the command line (anywhere before "--"; the rest
 * is left for the NF):
 *   --service ID      service to register for (required, 1..63)
 *   --name NAME       manager to join (default "onvm")
 *   --nf-name NAME    name shown in stats (default: the NF's own)
 *   --core N          pin to CPU N (default: float over all CPUs)
 *   --busy-poll       never sleep when idle (default: shared-core mode,
 *                     sleep when idle and be woken by the manager)
 *   --dedicated       run busy-polling on a CPU of its own, which the
 *                     manager picks among those that run neither its
 *                     control thread, a worker nor another NF; refused in
 *                     one line when none is free (not with --core)
 */
#ifndef ONVM_NFLIB_H
#define ONVM_NFLIB_H

#include <stdint.h>

#include <rte_mbuf.h>

#include <onvm/common.h>
#include <onvm/pkt_fields.h>
#include <onvm/pkt_meta.h>

#ifdef __cplusplus
extern "C" {
#endif

struct onvm_nf_ctx;

/* Exit code of an NF whose manager went away without stopping (crashed or
 * killed): onvm_nflib_run() returned -ESRCH. The bundled NFs, C and
 * Python, exit with it after saying so in one line. */
#define ONVM_NF_EXIT_MANAGER_GONE 3

/* Held packets an NF may release while one burst is handled (they go
 * after it). */
#define ONVM_NF_RELEASE_MAX 4096

/**
 * Per-packet handler: look at @p pkt and set meta->action (and
 * meta->destination for TONF and OUT). The action on entry is NEXT.
 * ONVM_ACTION_HOLD keeps the packet: the NF hands it on later with
 * onvm_nflib_release(), or frees it with onvm_nflib_free_held(); what it
 * still holds when it leaves goes back to the pool.
 */
typedef void (*onvm_nf_pkt_handler_t)(struct rte_mbuf *pkt,
                                      struct onvm_pkt_meta *meta, void *user);

/**
 * Burst handler: set the action of each of the @p n packets. Takes
 * precedence over the per-packet handler when both are given.
 */
typedef void (*onvm_nf_burst_handler_t)(struct rte_mbuf **pkts, uint16_t n,
                                        void *user);

/**
 * Verdict handler: write the verdict (ONVM_VERDICT()) of each of the @p n
 * packets into @p verdicts, where each is NEXT on entry. nflib applies and
 * counts them without touching a packet whose verdict stays NEXT (the
 * action it arrived with): a handler that reads no metadata then never
 * pulls in the metadata's cache line, which the manager's core has just
 * written. Python NFs run on this one.
 */
typedef void (*onvm_nf_verdict_handler_t)(struct rte_mbuf **pkts, uint16_t n,
                                          uint32_t *verdicts, void *user);

/** Message handler: @p msg (valid until it returns) is a request from the
 * control plane or another NF, or a reply to one this NF sent
 * (msg->kind); it may answer with onvm_nflib_reply(). */
typedef void (*onvm_nf_msg_handler_t)(struct onvm_nf_ctx *ctx,
                                      const struct onvm_nf_msg *msg,
                                      void *user);

/** Periodic callback; return non-zero to stop the NF. */
typedef int (*onvm_nf_periodic_t)(struct onvm_nf_ctx *ctx, void *user);

/** The NF contract: every field but one packet or verdict handler is
 * optional. */
struct onvm_nf_handlers {
	onvm_nf_pkt_handler_t pkt;
	onvm_nf_burst_handler_t burst;
	onvm_nf_periodic_t periodic;
	uint32_t periodic_ms; /* default 1000 */
	/* Called when nothing arrived, before the NF would sleep; return the
	 * number of packets it sent (speed_tester uses it to inject). */
	int (*idle)(struct onvm_nf_ctx *ctx, void *user);
	/* Most packets per handler call (default: the manager's burst size,
	 * at most ONVM_BATCH_MAX). Large batches amortise a handler's fixed
	 * cost, as a vectorised Python handler needs. */
	uint32_t batch_max;
	/* Takes precedence over both packet handlers above when given. */
	onvm_nf_verdict_handler_t verdict;
	/* Where the verdict handler's verdicts live (ONVM_BATCH_MAX entries),
	 * so that it can parse a batch next to them; NULL: nflib's own. */
	uint32_t *verdicts;
	/* Messages, checked once a loop (a sleeping NF is woken for one);
	 * without a handler they are taken and dropped. */
	onvm_nf_msg_handler_t msg;
	/* Non-zero: the handlers never write a packet's bytes. Shared packets
	 * (tee copies, clones) then reach them as they are, with no copy, and
	 * onvm_nflib_clone() shares data. Otherwise nflib gives the handlers a
	 * private copy of each shared packet first. */
	uint32_t read_only;
};

/**
 * Attach to the manager and register. Consumes the nflib options from
 * @p argv (see above), leaving argv[0] and the NF's own arguments, in order,
 * in argv[0..return value).
 *
 * @param nf_name
 *   Default name shown in stats.
 * @param ctx
 *   Set to the NF's context on success.
 * @return
 *   The new argc (>= 1), or a negative errno; onvm_nflib_strerror() then
 *   says what went wrong and what to do, in one line.
 */
int onvm_nflib_init(int argc, char **argv, const char *nf_name,
                    struct onvm_nf_ctx **ctx);

/**
 * Check the nflib options in @p argv and take them out, as
 * onvm_nflib_init() does, without joining any manager: an NF can then
 * validate its own arguments before it takes traffic.
 *
 * @return
 *   The new argc (>= 1), or -EINVAL; onvm_nflib_strerror() says why.
 */
int onvm_nflib_parse_args(int argc, char **argv);

/**
 * For an NF's own option parsing with getopt() or getopt_long() and
 * opterr = 0 (so getopt prints nothing itself): when it returned '?', say in
 * one line on stderr what it refused, an option that needs a value or an
 * unknown one, followed by the NF's usage.
 *
 * @param nf_name
 *   What the line starts with ("simple_forward").
 * @param usage
 *   The NF's usage text, one line.
 * @param optstring
 *   The short options given to getopt: a known option it refused lacks
 *   its value.
 * @param argv
 *   The argv getopt parsed.
 */
void onvm_nflib_option_error(const char *nf_name, const char *usage,
                             const char *optstring, char *const argv[]);

/**
 * Run the packet loop until the NF is stopped (signal, manager request,
 * periodic callback, or the manager going away).
 *
 * @return
 *   0 once stopped by a signal, onvm_nflib_stop(), the periodic callback or
 *   the manager (asked to stop, or stopping itself); -ESRCH if the manager
 *   went away without stopping (it crashed or was killed): the NF should
 *   say so (onvm_nflib_strerror()) and exit non-zero; -EINVAL (no packet
 *   or verdict handler).
 */
int onvm_nflib_run(struct onvm_nf_ctx *ctx, const struct onvm_nf_handlers *h,
                   void *user);

/**
 * Ask the loop to stop after the current burst. Async-signal-safe.
 */
void onvm_nflib_stop(struct onvm_nf_ctx *ctx);

/**
 * Unregister from the manager (packets still queued for this NF go to
 * another instance of its service), detach and free the context.
 */
void onvm_nflib_fini(struct onvm_nf_ctx *ctx);

/**
 * Allocate @p n packets from the shared pool, reset and owned by this NF,
 * with action DROP and no chain.
 *
 * @return
 *   0, or -ENOBUFS (pool empty; nothing allocated).
 */
int onvm_nflib_alloc_pkts(struct onvm_nf_ctx *ctx, struct rte_mbuf **pkts,
                          unsigned int n);

/**
 * Hand @p n packets, actions set, to the manager (as if returned by the
 * handler). Waits for room on the tx ring while the manager runs; once the
 * NF is stopping, for ONVM_SEND_STOP_WAIT_MS at most.
 *
 * @return
 *   The number handed over; the caller keeps the others (and must free
 *   them: the manager is gone, or did not drain the ring in time).
 */
unsigned int onvm_nflib_send(struct onvm_nf_ctx *ctx, struct rte_mbuf **pkts,
                             unsigned int n);

/**
 * Return @p n packets this NF holds to the pool.
 */
void onvm_nflib_free_pkts(struct onvm_nf_ctx *ctx, struct rte_mbuf **pkts,
                          unsigned int n);

/**
 * A copy of @p pkt for the NF to send elsewhere (onvm_nflib_send, after
 * setting its action). Its metadata is pkt's: with ONVM_ACTION_NEXT it
 * follows pkt's chain too. A read-only NF (onvm_nf_handlers.read_only) gets
 * a zero-copy clone sharing pkt's data; any other a private copy, since it
 * may still write pkt. Counted in the NF's clones.
 *
 * @return
 *   The copy, owned by the NF; NULL when the pool is empty (clone_fail).
 */
struct rte_mbuf *onvm_nflib_clone(struct onvm_nf_ctx *ctx,
                                  struct rte_mbuf *pkt);

/**
 * Hand on @p n packets this NF held (a handler's ONVM_ACTION_HOLD) with
 * @p verdicts (ONVM_VERDICT values). Called from a handler, they go once
 * the handler's burst is handled (a packet it held in the same call
 * included), ahead of that burst's other packets; called elsewhere
 * (periodic, idle), at once. In both, in the order released.
 *
 * @return
 *   The number taken (at most ONVM_NF_RELEASE_MAX a burst); the others
 *   stay held.
 */
unsigned int onvm_nflib_release(struct onvm_nf_ctx *ctx, struct rte_mbuf **pkts,
                                const uint32_t *verdicts, unsigned int n);

/**
 * Return @p n packets this NF held to the pool.
 */
void onvm_nflib_free_held(struct onvm_nf_ctx *ctx, struct rte_mbuf **pkts,
                          unsigned int n);

/** Packets the NF holds now. onvm_nflib_fini() frees them. */
uint64_t onvm_nflib_holding(const struct onvm_nf_ctx *ctx);

/**
 * Send @p len bytes (at most ONVM_MSG_DATA_MAX) to every running instance
 * of @p service, or to NF @p nf_id (one of the two 0). Never waits: the
 * manager's control worker delivers it within its next loop.
 *
 * @return
 *   0, -EINVAL, -EMSGSIZE, or -ENOBUFS (message pool or this NF's outbox
 *   full; counted in msg_drop).
 */
int onvm_nflib_send_msg(struct onvm_nf_ctx *ctx, uint16_t service,
                        uint16_t nf_id, const void *data, uint32_t len);

/**
 * Answer @p request (from the control plane or an NF) with @p len bytes.
 *
 * @return As onvm_nflib_send_msg().
 */
int onvm_nflib_reply(struct onvm_nf_ctx *ctx, const struct onvm_nf_msg *request,
                     const void *data, uint32_t len);

/** The NF's id (NF table slot). */
uint16_t onvm_nflib_nf_id(const struct onvm_nf_ctx *ctx);

/** The service the NF serves. */
uint16_t onvm_nflib_service_id(const struct onvm_nf_ctx *ctx);

/** The NF's table slot, with its counters. */
struct onvm_nf *onvm_nflib_nf(const struct onvm_nf_ctx *ctx);

/** The manager's shared region. */
struct onvm_shared *onvm_nflib_shared(const struct onvm_nf_ctx *ctx);

/** Non-zero once the NF has been asked to stop. */
int onvm_nflib_stopping(const struct onvm_nf_ctx *ctx);

/**
 * What the last failed nflib call ran into, as one line for the user.
 */
const char *onvm_nflib_strerror(void);

#ifdef __cplusplus
}
#endif

#endif /* ONVM_NFLIB_H */
