/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The NF packet loop: dequeue a burst, run the handler once for it, count
 * actions, return the burst to the manager. Idle NFs in shared-core mode
 * sleep on their wake word until the manager has packets for them.
 */
#define _GNU_SOURCE /* SCHED_BATCH */
#include <errno.h>
#include <sched.h>
#include <signal.h>

#include <rte_cycles.h>
#include <rte_mempool.h>
#include <rte_prefetch.h>
#include <rte_ring.h>

#include <onvm/latency.h>

#include "../common/clone.h"
#include "../common/prefetch.h"
#include "../common/wake.h"
#include "nflib_internal.h"

uint16_t
onvm_nflib_nf_id(const struct onvm_nf_ctx *ctx)
{
	return ctx->nf_id;
}

uint16_t
onvm_nflib_service_id(const struct onvm_nf_ctx *ctx)
{
	return ctx->nf->service_id;
}

struct onvm_nf *
onvm_nflib_nf(const struct onvm_nf_ctx *ctx)
{
	return ctx->nf;
}

struct onvm_shared *
onvm_nflib_shared(const struct onvm_nf_ctx *ctx)
{
	return ctx->sh;
}

void
onvm_nflib_stop(struct onvm_nf_ctx *ctx)
{
	ctx->stop = 1;
}

int
onvm_nflib_stopping(const struct onvm_nf_ctx *ctx)
{
	return ctx->stop ||
	       __atomic_load_n(&ctx->nf->state, __ATOMIC_ACQUIRE) !=
	           ONVM_NF_RUNNING;
}

/* The manager is gone if it cleared `running` or its pid no longer exists. */
static int
__onvm_manager_alive(const struct onvm_nf_ctx *ctx)
{
	if (!__atomic_load_n(&ctx->sh->running, __ATOMIC_ACQUIRE))
		return 0;
	return kill(ctx->sh->manager_pid, 0) == 0 || errno == EPERM;
}

/* A manager that stops clears `running` after asking its NFs to leave; one
 * whose process is gone without that crashed or was killed. */
static int
__onvm_manager_lost(const struct onvm_nf_ctx *ctx)
{
	if (!__atomic_load_n(&ctx->sh->running, __ATOMIC_ACQUIRE))
		return 0;
	return __onvm_nflib_error(ESRCH,
	                          "manager '%s' (pid %d) went away without "
	                          "stopping: this NF stopped too",
	                          ctx->opts.manager, ctx->sh->manager_pid);
}

int
onvm_nflib_alloc_pkts(struct onvm_nf_ctx *ctx, struct rte_mbuf **pkts,
                      unsigned int n)
{
	unsigned int i;

	/* No cache: NF lcore ids are not unique across processes. */
	if (rte_mempool_generic_get(ctx->pool, (void **)pkts, n, NULL) < 0)
		return -ENOBUFS;
	/* The manager's core freed them last: fetch both header lines of
	 * every packet at once, so that their transfers overlap. */
	for (i = 0; i < n; i++) {
		__onvm_prefetch_for_write(pkts[i]);
		__onvm_prefetch_for_write(
		    RTE_PTR_ADD(pkts[i], RTE_CACHE_LINE_SIZE));
	}
	for (i = 0; i < n; i++) {
		struct onvm_pkt_meta *meta = onvm_pkt_meta(pkts[i]);

		rte_pktmbuf_reset(pkts[i]);
		meta->owner = ctx->nf_id;
		meta->action = ONVM_ACTION_DROP;
		meta->chain = 0; /* the empty chain, which is never rewritten */
		meta->chain_gen = 0;
		meta->chain_index = 0;
		meta->destination = 0;
		meta->flags = 0;
		meta->timestamp = 0;
	}
	ctx->nf->stats.created += n;
	return 0;
}

void
onvm_nflib_free_pkts(struct onvm_nf_ctx *ctx, struct rte_mbuf **pkts,
                     unsigned int n)
{
	struct rte_mbuf *put[2 * ONVM_BURST_MAX];
	unsigned int i, k = 0;

	for (i = 0; i < n; i++) {
		struct rte_mbuf *seg = pkts[i], *next, *parent;

		onvm_pkt_meta(seg)->owner = ONVM_OWNER_NONE;
		/* Every segment; only last references go back to the pool,
		 * a clone's with the buffer it shared. */
		for (; seg != NULL; seg = next) {
			next = seg->next;
			if (__onvm_prefree_seg(seg, &parent) != NULL)
				put[k++] = seg;
			if (parent != NULL)
				put[k++] = parent;
			if (k >= RTE_DIM(put) - 1) {
				rte_mempool_generic_put(ctx->pool, (void **)put,
				                        k, NULL);
				k = 0;
			}
		}
	}
	if (k)
		rte_mempool_generic_put(ctx->pool, (void **)put, k, NULL);
}

struct rte_mbuf *
onvm_nflib_clone(struct onvm_nf_ctx *ctx, struct rte_mbuf *pkt)
{
	struct rte_mbuf *c;
	struct onvm_pkt_meta *meta;

	/* A writer may still change pkt: its copy gets bytes of its own. */
	if (ctx->read_only) {
		c = __onvm_pkt_clone(ctx->pool, NULL, pkt);
		if (c != NULL && !ctx->sh->clones_made)
			__atomic_store_n(&ctx->sh->clones_made, 1,
			                 __ATOMIC_RELEASE);
	} else {
		c = __onvm_pkt_copy(ctx->pool, NULL, pkt);
	}
	if (unlikely(c == NULL)) {
		ctx->nf->stats.clone_fail++;
		return NULL;
	}
	meta = onvm_pkt_meta(c);
	meta->owner = ctx->nf_id;
	meta->flags = 0; /* not held, whatever pkt is */
	ctx->nf->stats.clones++;
	return c;
}

/* Before a writer's handler: a private copy of every shared packet (a
 * tee's, another NF's clone), so that what it writes is its own. One that
 * cannot be copied is dropped rather than written in place. */
static unsigned int
__onvm_unshare(struct onvm_nf_ctx *ctx, struct rte_mbuf **pkts, unsigned int n)
{
	unsigned int i, kept = 0;

	for (i = 0; i < n; i++) {
		struct rte_mbuf *m = pkts[i], *c;

		if (likely(!__onvm_pkt_shared(m))) {
			pkts[kept++] = m;
			continue;
		}
		c = __onvm_pkt_copy(ctx->pool, NULL, m);
		onvm_nflib_free_pkts(ctx, &m, 1);
		if (unlikely(c == NULL)) {
			ctx->nf->stats.unshare_drop++;
			continue;
		}
		ctx->nf->stats.unshared++;
		pkts[kept++] = c;
	}
	return kept;
}

unsigned int
onvm_nflib_send(struct onvm_nf_ctx *ctx, struct rte_mbuf **pkts, unsigned int n)
{
	uint64_t deadline = 0;
	unsigned int sent = 0;

	while (sent < n) {
		sent += rte_ring_enqueue_burst(
		    ctx->nf->tx_ring, (void **)pkts + sent, n - sent, NULL);
		if (sent == n)
			break;
		/* The manager drains the ring unless it is gone; a stopping
		 * NF still hands its packets back, but does not wait forever.
		 */
		if (!__onvm_manager_alive(ctx))
			break;
		if (onvm_nflib_stopping(ctx)) {
			uint64_t now = rte_rdtsc();

			if (deadline == 0)
				deadline = now + rte_get_tsc_hz() / 1000 *
				                     ONVM_SEND_STOP_WAIT_MS;
			else if (now > deadline)
				break;
		}
		/* The manager holds this NF's output while the NF it feeds
		 * is short of room: on a shared core, let that NF run. */
		if (ctx->nf->flags & ONVM_NF_FLAG_SHARED_CORE)
			sched_yield();
		else
			rte_pause();
	}
	ctx->nf->stats.tx += sent;
	return sent;
}

/* Hand on what the NF released: after its handler's held packets left
 * the burst, before the rest of the burst goes. */
/* The hop's latency of one packet in latency_sample: from when it was
 * queued for this NF (its hop stamp) to now, as the NF hands it on. */
static inline void
__onvm_hop_latency(struct onvm_nf_ctx *ctx, struct rte_mbuf **pkts,
                   unsigned int n)
{
	const uint32_t every = ctx->sh->latency_sample;
	uint32_t next = ctx->latency_countdown ? ctx->latency_countdown : 1;
	uint32_t now;
	unsigned int i;

	if (every == 0)
		return;
	if (next > n) {
		ctx->latency_countdown = next - n;
		return;
	}
	now = onvm_hop_stamp_of(rte_rdtsc());
	for (i = next - 1; i < n; i += every) {
		uint32_t waited = now - *onvm_pkt_hop_stamp(pkts[i]);

		onvm_hist_record(&ctx->nf->latency,
		                 (uint64_t)waited << ONVM_HOP_STAMP_SHIFT);
	}
	ctx->latency_countdown = i - n + 1;
}

static void
__onvm_flush_released(struct onvm_nf_ctx *ctx)
{
	struct rte_mbuf **pkts = ctx->release_pkts;
	unsigned int i, n = ctx->nrelease, sent;

	if (n == 0)
		return;
	ctx->nrelease = 0;
	onvm_pkt_apply_verdicts(pkts, n, ctx->release_verdicts);
	for (i = 0; i < n; i++)
		onvm_pkt_meta(pkts[i])->flags &= (uint8_t)~ONVM_PKT_HELD;
	ctx->nf->stats.released += n;
	__onvm_hop_latency(ctx, pkts, n);
	sent = onvm_nflib_send(ctx, pkts, n);
	if (unlikely(sent < n)) {
		onvm_nflib_free_pkts(ctx, pkts + sent, n - sent);
		ctx->nf->stats.unsent += n - sent;
	}
}

unsigned int
onvm_nflib_release(struct onvm_nf_ctx *ctx, struct rte_mbuf **pkts,
                   const uint32_t *verdicts, unsigned int n)
{
	unsigned int room = ONVM_NF_RELEASE_MAX - ctx->nrelease;
	unsigned int k = RTE_MIN(n, room), i;

	/* Queued, with their verdicts: a packet held in this very handler
	 * call gets its HOLD applied after the handler returns. */
	for (i = 0; i < k; i++) {
		ctx->release_pkts[ctx->nrelease] = pkts[i];
		ctx->release_verdicts[ctx->nrelease++] = verdicts[i];
	}
	if (!ctx->in_handler)
		__onvm_flush_released(ctx);
	return k;
}

void
onvm_nflib_free_held(struct onvm_nf_ctx *ctx, struct rte_mbuf **pkts,
                     unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		onvm_pkt_meta(pkts[i])->flags &= (uint8_t)~ONVM_PKT_HELD;
	onvm_nflib_free_pkts(ctx, pkts, n);
	ctx->nf->stats.released += n;
}

uint64_t
onvm_nflib_holding(const struct onvm_nf_ctx *ctx)
{
	return ctx->nf->stats.held - ctx->nf->stats.released;
}

struct __onvm_held_walk {
	struct onvm_nf_ctx *ctx;
	unsigned int freed;
};

static void
__onvm_free_held_one(struct rte_mempool *mp, void *arg, void *obj,
                     unsigned int idx)
{
	struct __onvm_held_walk *w = arg;
	struct rte_mbuf *m = obj;
	struct onvm_pkt_meta *meta = onvm_pkt_meta(m);

	RTE_SET_USED(mp);
	RTE_SET_USED(idx);
	if (meta->owner != w->ctx->nf_id || !(meta->flags & ONVM_PKT_HELD))
		return;
	onvm_nflib_free_held(w->ctx, &m, 1);
	w->freed++;
}

unsigned int
__onvm_nflib_free_all_held(struct onvm_nf_ctx *ctx)
{
	struct __onvm_held_walk w = {.ctx = ctx, .freed = 0};

	/* Only packets it marked held: those still on its rx ring are the
	 * manager's to hand to another instance. */
	if (onvm_nflib_holding(ctx) != 0)
		rte_mempool_obj_iter(ctx->pool, __onvm_free_held_one, &w);
	return w.freed;
}

static void
__onvm_add_counts(struct onvm_nf_ctx *ctx,
                  const uint64_t count[ONVM_ACTION_COUNT])
{
	ctx->nf->stats.act_drop += count[ONVM_ACTION_DROP];
	ctx->nf->stats.act_next += count[ONVM_ACTION_NEXT];
	ctx->nf->stats.act_tonf += count[ONVM_ACTION_TONF];
	ctx->nf->stats.act_out += count[ONVM_ACTION_OUT];
	ctx->nf->stats.held += count[ONVM_ACTION_HOLD];
}

/* Take the packets a handler kept out of the burst, marked as held;
 * returns how many are left to hand on. */
static unsigned int
__onvm_keep_held(struct rte_mbuf **pkts, unsigned int n)
{
	unsigned int i, left = 0;

	for (i = 0; i < n; i++) {
		struct onvm_pkt_meta *meta = onvm_pkt_meta(pkts[i]);

		if (meta->action == ONVM_ACTION_HOLD)
			meta->flags |= ONVM_PKT_HELD;
		else
			pkts[left++] = pkts[i];
	}
	return left;
}

/* Packet and burst handlers leave their actions in the packets. Both
 * runners return how many packets the handler held. */
static unsigned int
__onvm_run_burst(struct onvm_nf_ctx *ctx, const struct onvm_nf_handlers *h,
                 struct rte_mbuf **pkts, unsigned int n, void *user)
{
	uint64_t count[ONVM_ACTION_COUNT] = {0};
	unsigned int i;

	if (h->burst) {
		h->burst(pkts, (uint16_t)n, user);
	} else {
		for (i = 0; i < n; i++)
			h->pkt(pkts[i], onvm_pkt_meta(pkts[i]), user);
	}
	for (i = 0; i < n; i++) {
		struct onvm_pkt_meta *meta = onvm_pkt_meta(pkts[i]);

		if (meta->action >= ONVM_ACTION_COUNT)
			meta->action = ONVM_ACTION_DROP;
		count[meta->action]++;
	}
	__onvm_add_counts(ctx, count);
	return (unsigned int)count[ONVM_ACTION_HOLD];
}

/* A verdict handler's verdicts are counted where they are, and only those
 * other than NEXT reach the packets. */
static unsigned int
__onvm_run_verdicts(struct onvm_nf_ctx *ctx, const struct onvm_nf_handlers *h,
                    struct rte_mbuf **pkts, unsigned int n, uint32_t *verdicts,
                    void *user)
{
	uint64_t count[ONVM_ACTION_COUNT] = {0};
	unsigned int i;

	for (i = 0; i < n; i++)
		verdicts[i] = ONVM_VERDICT(ONVM_ACTION_NEXT, 0);
	h->verdict(pkts, (uint16_t)n, verdicts, user);
	onvm_pkt_apply_verdicts_counted(pkts, n, verdicts, count);
	__onvm_add_counts(ctx, count);
	return (unsigned int)count[ONVM_ACTION_HOLD];
}

/* Hand a handled burst back; what the manager cannot take any more is
 * freed and counted, never left out of the pool. */
void
__onvm_nflib_return(struct onvm_nf_ctx *ctx, struct rte_mbuf **pkts,
                    unsigned int n)
{
	unsigned int sent = onvm_nflib_send(ctx, pkts, n);

	if (unlikely(sent < n)) {
		onvm_nflib_free_pkts(ctx, pkts + sent, n - sent);
		ctx->nf->stats.unsent += n - sent;
	}
}

/* NFs sharing a core hand it over when idle, so a context switch should
 * carry a whole batch: a woken NF of the batch policy waits for the running
 * one to sleep instead of preempting it after its first burst. Fairness
 * between them is unchanged. */
static void
__onvm_batch_policy(void)
{
	struct sched_param param = {.sched_priority = 0};

	/* A real-time NF keeps its policy; failing leaves the default. */
	if (sched_getscheduler(0) == SCHED_OTHER)
		sched_setscheduler(0, SCHED_BATCH, &param);
}

/* Shared-core idle: sleep until woken by the manager or the timeout. */
static void
__onvm_sleep(struct onvm_nf_ctx *ctx, uint64_t timeout_ns)
{
	struct onvm_nf *nf = ctx->nf;

	__atomic_store_n(&nf->sleeping, 1, __ATOMIC_RELAXED);
	/* Pairs with the manager's enqueue then check of `sleeping`. */
	rte_smp_mb();
	if (__onvm_nflib_rings_empty(ctx) && !onvm_nflib_stopping(ctx)) {
		nf->stats.sleeps++;
		__onvm_wait_word(&nf->sleeping, 1, timeout_ns);
	}
	__atomic_store_n(&nf->sleeping, 0, __ATOMIC_RELAXED);
}

int
onvm_nflib_run(struct onvm_nf_ctx *ctx, const struct onvm_nf_handlers *h,
               void *user)
{
	const uint64_t hz = rte_get_tsc_hz();
	const uint64_t liveness = hz / 1000 * ONVM_LIVENESS_PERIOD_MS;
	const uint64_t period =
	    hz / 1000 * (h->periodic_ms ? h->periodic_ms : 1000);
	const unsigned int burst =
	    h->batch_max ? RTE_MIN(h->batch_max, (uint32_t)ONVM_BATCH_MAX)
	                 : ctx->sh->burst_size;
	const unsigned int take = RTE_MAX(
	    burst, (unsigned int)RTE_MIN(ONVM_NF_RING_BATCH, ONVM_BATCH_MAX));
	uint32_t own_verdicts[ONVM_BATCH_MAX];
	uint32_t *verdicts = h->verdicts ? h->verdicts : own_verdicts;
	/* One TSC read per loop: the end of one starts the next. */
	uint64_t now = rte_rdtsc();
	uint64_t next_periodic = now + period;
	uint64_t next_liveness = now + liveness;
	struct rte_mbuf *pkts[ONVM_BATCH_MAX];
	uint64_t idle_since = 0;
	unsigned int idle = 0;
	int rc = 0;

	if (h->pkt == NULL && h->burst == NULL && h->verdict == NULL)
		return -EINVAL;
	if (ctx->nf->flags & ONVM_NF_FLAG_SHARED_CORE)
		__onvm_batch_policy();
	if (__onvm_nflib_direct_start(ctx) < 0)
		return -ENOMEM;
	ctx->read_only = h->read_only != 0;
	while (!onvm_nflib_stopping(ctx)) {
		unsigned int n = __onvm_nflib_take(ctx, pkts, take);

		if (unlikely(ctx->sh->clones_made) && !ctx->read_only && n != 0)
			n = __onvm_unshare(ctx, pkts, n);
		if (n != 0) {
			uint64_t start = now;
			unsigned int done, k, held = 0;

			idle = 0;
			ctx->in_handler = 1;
			/* Handlers see at most `burst` packets a call. */
			for (done = 0; done < n; done += k) {
				k = RTE_MIN(n - done, burst);
				if (h->verdict)
					held += __onvm_run_verdicts(
					    ctx, h, pkts + done, k, verdicts,
					    user);
				else
					held += __onvm_run_burst(
					    ctx, h, pkts + done, k, user);
				ctx->nf->stats.batches++;
			}
			ctx->in_handler = 0;
			ctx->nf->stats.rx += n;
			if (unlikely(held != 0))
				n = __onvm_keep_held(pkts, n);
			__onvm_hop_latency(ctx, pkts, n);
			if (unlikely(ctx->nrelease != 0))
				__onvm_flush_released(ctx);
			if (ctx->direct)
				__onvm_nflib_hand_over(ctx, pkts, n);
			else
				__onvm_nflib_return(ctx, pkts, n);
			now = rte_rdtsc();
			ctx->nf->stats.busy_cycles += now - start;
		} else {
			if (h->idle && h->idle(ctx, user) > 0)
				idle = 0;
			else
				idle++;
			now = rte_rdtsc();
		}
		if (unlikely(now >= next_periodic)) {
			next_periodic = now + period;
			if (h->periodic && h->periodic(ctx, user) != 0)
				break;
			now = rte_rdtsc();
		}
		if (unlikely(now >= next_liveness)) {
			next_liveness = now + liveness;
			if (!__onvm_manager_alive(ctx)) {
				rc = __onvm_manager_lost(ctx);
				break;
			}
			now = rte_rdtsc();
		}
		if (unlikely(!rte_ring_empty(ctx->nf->inbox)))
			__onvm_nflib_take_msgs(ctx, h, user);
		/* Any hand-over begun in this loop is done. */
		__atomic_store_n(&ctx->nf->epoch, ctx->nf->epoch + 1,
		                 __ATOMIC_RELEASE);
		if (ctx->direct)
			__onvm_nflib_direct_wake_pending(ctx, 0);
		if (idle == 0)
			continue;
		if (ctx->nf->flags & ONVM_NF_FLAG_SHARED_CORE &&
		    idle >= ONVM_IDLE_SPINS) {
			uint64_t until = RTE_MIN(next_periodic, next_liveness);

			if (idle == ONVM_IDLE_SPINS)
				idle_since = now;
			/* Idle: hand the core to any other NF of it. While none
			 * takes it, keep polling for idle_sleep: a core with
			 * nothing to run may be slow to wake. Once another ran,
			 * the core is busy anyway and sleeping costs little. */
			if (now - idle_since < ctx->sh->idle_sleep_tsc) {
				sched_yield();
				if (rte_rdtsc() - now <
				    hz / 1000000 * ONVM_YIELD_SWITCH_US) {
					now = rte_rdtsc();
					continue;
				}
				now = rte_rdtsc();
			}
			if (ctx->direct)
				__onvm_nflib_direct_wake_pending(ctx, 1);
			__onvm_sleep(ctx, (until > now ? until - now : 0) *
			                          1000000000ULL / hz +
			                      1000);
			idle = 0;
			now = rte_rdtsc();
		} else {
			/* A pause is short: no second TSC read for it. */
			rte_pause();
		}
	}
	__onvm_nflib_direct_end(ctx);
	return rc;
}
