/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * speed_tester: injects a batch of packets that loop through NFs without
 * any port (to service --dest, by default its own) and reports the loop
 * rate in Mpps each second and as a summary at the end.
 *
 * With --chain the packets also follow the default chain: they are sent to
 * --dest at hop 0, so an NF there that answers NEXT passes them down the
 * chain, which must lead back to speed_tester. This drives NFs that use
 * NEXT (a firewall, a monitor) at full speed.
 *
 * With --latency every packet carries the TSC of its sending in its
 * metadata timestamp, and each round trip goes into a histogram whose
 * percentiles end the run as one `speed_tester: latency:` line. With --rate
 * PPS the packets no longer loop freely: they leave at PPS on average (open
 * loop), a burst at a time; a packet that comes back is sent again if a
 * burst is due, else returned to the pool, and new packets make up what
 * is due.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_memcpy.h>
#include <rte_mempool.h>
#include <rte_pause.h>
#include <rte_prefetch.h>
#include <rte_ring.h>
#include <rte_udp.h>

#include <onvm/nflib.h>

/*
 * Round-trip times in TSC cycles, in log-linear buckets: exact below
 * ST_HIST_SUB, then ST_HIST_SUB buckets per power of two, so a percentile
 * is off by under 1% and recording is an index computation, no allocation.
 */
#define ST_HIST_SUB_BITS 6
#define ST_HIST_SUB (1U << ST_HIST_SUB_BITS)
/* Hours of TSC; longer waits share the top bucket. */
#define ST_HIST_MAX_BITS 44
#define ST_HIST_BUCKETS                                                        \
	((ST_HIST_MAX_BITS - ST_HIST_SUB_BITS + 1) * ST_HIST_SUB)

struct st_hist {
	uint64_t samples;
	uint64_t sum;
	uint64_t max;
	uint64_t buckets[ST_HIST_BUCKETS];
};

/* --rate sends packets a burst at a time (the manager's default burst),
 * once a burst is due: on a shared core each hand-over to the NFs then
 * carries a burst, not the one packet a smooth pacer would have due. */
#define ST_BURST 32
/* A pacer that fell behind (the NFs sharing its core ran) catches up in
 * bursts, up to this many packets; what it missed beyond is skipped and
 * counted, not sent as a flood. */
#define ST_MAX_BACKLOG (8 * ST_BURST)

struct speed_tester {
	struct onvm_nf_ctx *ctx;
	uint16_t dest;
	uint32_t batch;   /* packets to inject; flows with --rate */
	uint32_t size;    /* frame size in bytes */
	double duration;  /* seconds, 0: until stopped */
	int follow_chain; /* packets carry the default chain */
	int latency;      /* stamp packets, record round trips */
	double rate;      /* packets/s sent, open loop; 0: loop a batch */
	int injected;
	uint64_t packets;
	uint64_t last_packets;
	uint64_t start_tsc;
	uint64_t last_tsc;
	uint64_t steady_tsc; /* end of the first, ramp-up, second */
	uint64_t steady_packets;
	double best_mpps;
	double worst_mpps;
	unsigned int reports;
	/* --rate */
	double cycles_per_pkt;
	uint64_t sent;     /* packets sent by the pacer */
	uint64_t skipped;  /* due while behind, never sent */
	uint64_t no_mbufs; /* due but the pool was empty */
	uint64_t steady_sent;
	uint32_t next_flow;
	uint8_t frame[RTE_ETHER_MAX_LEN]; /* what new packets start as */
	/* --latency: the whole run, and its ramp-up second to take out */
	struct st_hist hist;
	struct st_hist ramp_hist;
};

static inline unsigned int
st_hist_index(uint64_t cycles)
{
	unsigned int msb, shift;

	if (cycles < ST_HIST_SUB)
		return (unsigned int)cycles;
	msb = 63 - (unsigned int)__builtin_clzll(cycles);
	if (msb >= ST_HIST_MAX_BITS)
		return ST_HIST_BUCKETS - 1;
	shift = msb - ST_HIST_SUB_BITS;
	return (shift + 1) * ST_HIST_SUB +
	       (unsigned int)((cycles >> shift) - ST_HIST_SUB);
}

/* The middle of bucket `index`, in cycles. */
static uint64_t
st_hist_value(unsigned int index)
{
	unsigned int group = index / ST_HIST_SUB, m = index % ST_HIST_SUB;
	unsigned int shift;

	if (group == 0)
		return m;
	shift = group - 1;
	return ((uint64_t)(ST_HIST_SUB + m) << shift) +
	       ((UINT64_C(1) << shift) >> 1);
}

static inline void
st_hist_record(struct st_hist *h, uint64_t cycles)
{
	h->buckets[st_hist_index(cycles)]++;
	h->samples++;
	h->sum += cycles;
	if (cycles > h->max)
		h->max = cycles;
}

/* The smallest recorded value with at least a fraction q of the samples
 * at or below it, in cycles. */
static uint64_t
st_hist_percentile(const struct st_hist *h, double q)
{
	uint64_t rank = (uint64_t)ceil(q * (double)h->samples);
	uint64_t seen = 0;
	unsigned int i;

	if (rank == 0)
		rank = 1;
	for (i = 0; i < ST_HIST_BUCKETS; i++) {
		seen += h->buckets[i];
		if (seen >= rank)
			return RTE_MIN(st_hist_value(i), h->max);
	}
	return h->max;
}

/* h -= ramp: the steady part of a run (h's maximum is already its own). */
static void
st_hist_subtract(struct st_hist *h, const struct st_hist *ramp)
{
	unsigned int i;

	for (i = 0; i < ST_HIST_BUCKETS; i++)
		h->buckets[i] -= ramp->buckets[i];
	h->samples -= ramp->samples;
	h->sum -= ramp->sum;
}

/* Take the metadata lines of a burst for writing, all at once: the
 * manager's core wrote them last, and one at a time each would stall the
 * loop for a transfer between cores. */
static inline void
speed_tester_prefetch_metas(struct rte_mbuf **pkts, uint16_t n)
{
	uint16_t i;

	for (i = 0; i < n; i++) {
#ifdef RTE_ARCH_X86
		asm volatile(
		    "prefetchw %0"
		    :
		    : "m"(*(const volatile char *)onvm_pkt_meta(pkts[i])));
#else
		rte_prefetch0(onvm_pkt_meta(pkts[i]));
#endif
	}
}

/* Back to service --dest, from the start of its chain. */
static inline void
speed_tester_aim(struct onvm_pkt_meta *meta, const struct speed_tester *st)
{
	meta->action = ONVM_ACTION_TONF;
	meta->destination = st->dest;
	meta->chain_index = 0;
}

/* Start the packet on the default chain's current version. */
static inline void
speed_tester_follow_chain(struct onvm_pkt_meta *meta,
                          const struct onvm_shared *sh)
{
	uint16_t body = sh->chains.head[ONVM_DEFAULT_CHAIN];

	meta->chain = body;
	meta->chain_gen = sh->chains.bodies[body].generation;
}

/* Closed loop: every packet that comes back goes round again. */
static void
speed_tester_burst(struct rte_mbuf **pkts, uint16_t n, void *user)
{
	struct speed_tester *st = user;
	uint64_t now;
	uint16_t i;

	st->packets += n;
	speed_tester_prefetch_metas(pkts, n);
	if (!st->latency) {
		for (i = 0; i < n; i++)
			speed_tester_aim(onvm_pkt_meta(pkts[i]), st);
		return;
	}
	/* One TSC read per burst: the burst leaves together. */
	now = rte_rdtsc();
	for (i = 0; i < n; i++) {
		struct onvm_pkt_meta *meta = onvm_pkt_meta(pkts[i]);

		st_hist_record(&st->hist, now - meta->timestamp);
		meta->timestamp = now;
		speed_tester_aim(meta, st);
	}
}

/* The frame every packet starts from: UDP over IPv4, zero payload. */
static void
speed_tester_frame(uint8_t *frame, uint32_t size)
{
	struct rte_ether_hdr *eth = (struct rte_ether_hdr *)frame;
	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(eth + 1);
	struct rte_udp_hdr *udp = (struct rte_udp_hdr *)(ip + 1);

	memset(frame, 0, size);
	eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
	eth->src_addr.addr_bytes[0] = 0x02;
	eth->dst_addr.addr_bytes[0] = 0x02;
	eth->dst_addr.addr_bytes[5] = 0x01;
	ip->version_ihl = RTE_IPV4_VHL_DEF;
	ip->time_to_live = 64;
	ip->next_proto_id = IPPROTO_UDP;
	ip->total_length = rte_cpu_to_be_16((uint16_t)(size - sizeof(*eth)));
	ip->src_addr = rte_cpu_to_be_32(RTE_IPV4(10, 0, 0, 1));
	ip->dst_addr = rte_cpu_to_be_32(RTE_IPV4(10, 0, 1, 1));
	ip->hdr_checksum = rte_ipv4_cksum(ip);
	udp->dst_port = rte_cpu_to_be_16(9);
	udp->dgram_len =
	    rte_cpu_to_be_16((uint16_t)(size - sizeof(*eth) - sizeof(*ip)));
}

/* A copy of the frame, as flow `seq` (its UDP source port). */
static void
speed_tester_fill(struct rte_mbuf *m, const struct speed_tester *st,
                  uint32_t seq)
{
	uint8_t *data = (uint8_t *)rte_pktmbuf_append(m, (uint16_t)st->size);
	struct rte_udp_hdr *udp =
	    (struct rte_udp_hdr *)(data + sizeof(struct rte_ether_hdr) +
	                           sizeof(struct rte_ipv4_hdr));

	rte_memcpy(data, st->frame, st->size);
	/* Distinct flows, so several instances of a service share the load. */
	udp->src_port = rte_cpu_to_be_16((uint16_t)(1024 + seq));
	/* A flow hash of its own, cheaper than the manager's. */
	m->hash.rss = seq * 2654435761U;
	m->ol_flags |= RTE_MBUF_F_RX_RSS_HASH;
}

/* Packets allocated, filled, stamped and sent; those the tx ring did not
 * take go back to the pool. Returns how many were sent. */
static uint32_t
speed_tester_send_new(struct speed_tester *st, uint32_t n, uint32_t seq)
{
	struct rte_mbuf *pkts[ONVM_BURST_MAX];
	struct onvm_nf_ctx *ctx = st->ctx;
	uint64_t now;
	uint32_t i, sent;

	if (onvm_nflib_alloc_pkts(ctx, pkts, n) < 0)
		return 0;
	for (i = 0; i < n; i++)
		rte_prefetch0(rte_pktmbuf_mtod(pkts[i], void *));
	for (i = 0; i < n; i++) {
		struct onvm_pkt_meta *meta = onvm_pkt_meta(pkts[i]);

		speed_tester_fill(pkts[i], st, (seq + i) % st->batch);
		speed_tester_aim(meta, st);
		if (st->follow_chain)
			speed_tester_follow_chain(meta, onvm_nflib_shared(ctx));
	}
	/* Stamped as they leave: making them is not part of the trip. */
	now = rte_rdtsc();
	for (i = 0; i < n; i++)
		onvm_pkt_meta(pkts[i])->timestamp = now;
	sent = onvm_nflib_send(ctx, pkts, n);
	if (sent < n)
		onvm_nflib_free_pkts(ctx, pkts + sent, n - sent);
	return sent;
}

/* The loop is complete once service --dest runs: packets sent before
 * would just be dropped. */
static int
speed_tester_ready(struct speed_tester *st)
{
	return onvm_nflib_shared(st->ctx)->services[st->dest].count > 0;
}

/* Packets the manager's workers dropped at full NF rx rings so far, over
 * every NF: a loop holds no more packets than its rings do, and the rest of
 * an injection ends there. */
static uint64_t
speed_tester_ring_drops(const struct onvm_shared *sh)
{
	uint64_t drops = 0;
	unsigned int w, nf;

	for (w = 0; w < sh->num_workers; w++)
		for (nf = 0; nf < ONVM_MAX_NFS; nf++)
			drops += sh->workers[w].nf_enq_drop[nf];
	return drops;
}

/* Until the manager has taken every injected packet off our tx ring and put
 * it on an rx ring or dropped it, at most ST_SETTLE_US: only then do the
 * drop counters say how many packets made it into the loop. */
#define ST_SETTLE_US 100000
#define ST_LAST_BURST_US 1000 /* the worker's burst in hand, once drained */

static void
speed_tester_settle(struct speed_tester *st)
{
	const struct rte_ring *tx = onvm_nflib_nf(st->ctx)->tx_ring;
	uint64_t deadline =
	    rte_rdtsc() + rte_get_tsc_hz() / 1000000 * ST_SETTLE_US;

	while (rte_ring_count(tx) > 0 && rte_rdtsc() < deadline)
		rte_pause();
	rte_delay_us_block(ST_LAST_BURST_US);
}

/* Inject the batch once, from the loop, in bursts, and say how many of the
 * packets are really in the loop. */
static int
speed_tester_inject(struct speed_tester *st)
{
	const struct onvm_shared *sh = onvm_nflib_shared(st->ctx);
	uint64_t drops_before, dropped;
	uint32_t done = 0, looping;

	if (st->injected || !speed_tester_ready(st))
		return 0;
	st->injected = 1;
	drops_before = speed_tester_ring_drops(sh);
	while (done < st->batch) {
		uint32_t n = RTE_MIN(st->batch - done, (uint32_t)ST_BURST);
		uint32_t sent = speed_tester_send_new(st, n, done);

		done += sent;
		if (sent < n)
			break; /* the packet pool or our tx ring is full */
	}
	speed_tester_settle(st);
	dropped = speed_tester_ring_drops(sh) - drops_before;
	looping = dropped < done ? done - (uint32_t)dropped : 0;
	st->start_tsc = st->last_tsc = rte_rdtsc();
	printf("speed_tester: injected %u packets of %u bytes to service %u",
	       looping, st->size, st->dest);
	if (looping < st->batch)
		printf(
		    " (%u asked: %" PRIu64 " dropped at full NF rings, %u not "
		    "sent as the packet pool or the tx ring was full; ask for "
		    "fewer --packets, or give the manager a larger "
		    "nf_ring_size)",
		    st->batch, dropped, st->batch - done);
	printf("\n");
	fflush(stdout);
	return (int)done;
}

/* Packets --rate has due by `now` (none if they all left early). Beyond
 * ST_MAX_BACKLOG they are counted as skipped instead. */
static uint32_t
speed_tester_due(struct speed_tester *st, uint64_t now)
{
	uint64_t target =
	    (uint64_t)((double)(now - st->start_tsc) / st->cycles_per_pkt);
	uint64_t paced = st->sent + st->skipped + st->no_mbufs;

	if (target <= paced)
		return 0;
	if (target - paced > ST_MAX_BACKLOG) {
		st->skipped += target - paced - ST_MAX_BACKLOG;
		return ST_MAX_BACKLOG;
	}
	return (uint32_t)(target - paced);
}

/* Send `due` new packets, in bursts. */
static void
speed_tester_send_due(struct speed_tester *st, uint32_t due)
{
	while (due > 0) {
		uint32_t n = RTE_MIN(due, (uint32_t)ST_BURST);
		uint32_t sent = speed_tester_send_new(st, n, st->next_flow);

		st->next_flow += sent;
		st->sent += sent;
		st->no_mbufs += n - sent;
		due -= n;
	}
}

/* Open loop: a packet that comes back is recorded, then sent again if a
 * burst is due (a loaded pacer makes few new packets) or returned to the
 * pool. */
static void
speed_tester_paced_burst(struct rte_mbuf **pkts, uint16_t n, void *user)
{
	struct speed_tester *st = user;
	uint64_t now = rte_rdtsc();
	uint32_t due = speed_tester_due(st, now);
	/* Like new packets, a burst at a time. */
	uint32_t again = due >= ST_BURST ? RTE_MIN(due, (uint32_t)n) : 0;
	uint16_t i;

	speed_tester_prefetch_metas(pkts, n);
	st->packets += n;
	for (i = 0; i < n; i++) {
		struct onvm_pkt_meta *meta = onvm_pkt_meta(pkts[i]);

		if (st->latency)
			st_hist_record(&st->hist, now - meta->timestamp);
		if (i < again) {
			meta->timestamp = now;
			speed_tester_aim(meta, st);
		} else {
			meta->action = ONVM_ACTION_DROP;
		}
	}
	st->sent += again;
}

/* Nothing came back: start the run, or send a burst if one is due. A pacer
 * always has work to come, so it reports some and never sleeps; it hands
 * its core to the NFs sharing it each time round (they do not preempt it),
 * as a source on a core of its own would not take theirs. */
static int
speed_tester_idle(struct onvm_nf_ctx *ctx, void *user)
{
	struct speed_tester *st = user;
	uint32_t due;

	RTE_SET_USED(ctx);
	if (st->rate <= 0)
		return speed_tester_inject(st);
	if (!st->injected) {
		if (!speed_tester_ready(st))
			return 0;
		st->injected = 1;
		st->start_tsc = st->last_tsc = rte_rdtsc();
	}
	due = speed_tester_due(st, rte_rdtsc());
	if (due >= ST_BURST)
		speed_tester_send_due(st, due);
	sched_yield();
	return 1;
}

static int
speed_tester_report(struct onvm_nf_ctx *ctx, void *user)
{
	struct speed_tester *st = user;
	uint64_t now = rte_rdtsc();
	double hz = (double)rte_get_tsc_hz();
	double mpps;

	RTE_SET_USED(ctx);
	if (!st->injected)
		return 0;
	mpps = (double)(st->packets - st->last_packets) /
	       ((double)(now - st->last_tsc) / hz) / 1e6;
	/* The first second includes the ramp-up; keep it out of the figures. */
	if (st->reports++ == 0) {
		st->steady_tsc = now;
		st->steady_packets = st->packets;
		st->steady_sent = st->sent;
		if (st->latency) {
			st->ramp_hist = st->hist;
			st->hist.max = 0;
		}
	} else {
		if (mpps > st->best_mpps)
			st->best_mpps = mpps;
		if (st->worst_mpps == 0 || mpps < st->worst_mpps)
			st->worst_mpps = mpps;
	}
	printf("speed_tester: %.3f Mpps\n", mpps);
	fflush(stdout);
	st->last_packets = st->packets;
	st->last_tsc = now;
	return st->duration > 0 &&
	       (double)(now - st->start_tsc) / hz >= st->duration;
}

#define ST_OPTIONS "d:p:s:t:r:cl"
#define ST_USAGE                                                               \
	"usage: speed_tester --service ID [--dest SERVICE] [--packets N] "     \
	"[--size 60..1514] [--duration SECONDS] [--chain] [--rate PPS] "       \
	"[--latency]"

static int
speed_tester_parse(int argc, char **argv, struct speed_tester *st)
{
	static const struct option opts[] = {
	    {"dest", required_argument, NULL, 'd'},
	    {"packets", required_argument, NULL, 'p'},
	    {"size", required_argument, NULL, 's'},
	    {"duration", required_argument, NULL, 't'},
	    {"chain", no_argument, NULL, 'c'},
	    {"rate", required_argument, NULL, 'r'},
	    {"latency", no_argument, NULL, 'l'},
	    {NULL, 0, NULL, 0},
	};
	char *end;
	long v;
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ST_OPTIONS, opts, NULL)) != -1) {
		if (c == 'c') {
			st->follow_chain = 1;
			continue;
		}
		if (c == 'l') {
			st->latency = 1;
			continue;
		}
		if (c == 't') {
			st->duration = strtod(optarg, &end);
			if (*end == '\0' && isfinite(st->duration) &&
			    st->duration >= 0)
				continue;
			fprintf(stderr,
			        "speed_tester: --duration takes seconds\n");
			return -EINVAL;
		}
		if (c == 'r') {
			st->rate = strtod(optarg, &end);
			if (*end == '\0' && st->rate >= 1000 && st->rate <= 1e9)
				continue;
			fprintf(stderr, "speed_tester: --rate takes packets "
			                "per second, 1000 to 1e9\n");
			return -EINVAL;
		}
		if (c == '?') {
			onvm_nflib_option_error("speed_tester", ST_USAGE,
			                        ST_OPTIONS, argv);
			return -EINVAL;
		}
		v = strtol(optarg, &end, 10);
		if (*end != '\0')
			goto usage;
		if (c == 'd' && v >= 1 && v < ONVM_MAX_SERVICES)
			st->dest = (uint16_t)v;
		else if (c == 'p' && v >= 1 && v <= 1 << 20)
			st->batch = (uint32_t)v;
		else if (c == 's' && v >= 60 && v <= 1514)
			st->size = (uint32_t)v;
		else
			goto usage;
	}
	return 0;
usage:
	fprintf(stderr, ST_USAGE "\n");
	return -EINVAL;
}

/* A closed loop of more packets than the manager's pool holds can never
 * be injected whole: refuse it, naming the pool's size. */
static int
speed_tester_beyond_pool(const struct speed_tester *st)
{
	unsigned int pool = onvm_nflib_shared(st->ctx)->pktmbuf_pool->size;

	if (st->rate > 0 || st->batch <= pool)
		return 0;
	fprintf(stderr,
	        "speed_tester: --packets %u is more than the manager's pool of "
	        "%u mbufs: give at most %u (or start the manager with more "
	        "--num-mbufs)\n",
	        st->batch, pool, pool);
	return 1;
}

/* The summary lines, over the steady part of the run. */
static void
speed_tester_summary(struct speed_tester *st)
{
	const struct st_hist *h = &st->hist;
	double hz = (double)rte_get_tsc_hz();
	double ns = 1e9 / hz;
	double secs;

	if (st->reports < 2) {
		/* Too short for a steady window: use the whole run. */
		st->steady_tsc = st->start_tsc;
		st->steady_packets = 0;
		st->steady_sent = 0;
		st->hist.max = RTE_MAX(st->hist.max, st->ramp_hist.max);
	} else if (st->latency) {
		st_hist_subtract(&st->hist, &st->ramp_hist);
	}
	secs = (double)(rte_rdtsc() - st->steady_tsc) / hz;
	if (secs <= 0 || !st->injected)
		secs = INFINITY; /* rates of 0 */
	printf("speed_tester: summary: %.3f Mpps average over %.1f s (min "
	       "%.3f, max %.3f), %" PRIu64 " packets\n",
	       (double)(st->packets - st->steady_packets) / secs / 1e6,
	       isinf(secs) ? 0.0 : secs, st->worst_mpps, st->best_mpps,
	       st->packets);
	if (st->rate > 0)
		printf("speed_tester: paced: rate_pps=%.0f sent_pps=%.0f "
		       "sent=%" PRIu64 " skipped=%" PRIu64 " no_mbufs=%" PRIu64
		       "\n",
		       st->rate, (double)(st->sent - st->steady_sent) / secs,
		       st->sent, st->skipped, st->no_mbufs);
	if (st->latency)
		printf("speed_tester: latency: samples=%" PRIu64
		       " mean_ns=%.0f p50_ns=%.0f p99_ns=%.0f p999_ns=%.0f "
		       "max_ns=%.0f\n",
		       h->samples,
		       (double)h->sum * ns /
		           (double)RTE_MAX(h->samples, UINT64_C(1)),
		       (double)st_hist_percentile(h, 0.50) * ns,
		       (double)st_hist_percentile(h, 0.99) * ns,
		       (double)st_hist_percentile(h, 0.999) * ns,
		       (double)h->max * ns);
	fflush(stdout);
}

int
main(int argc, char **argv)
{
	struct onvm_nf_handlers handlers = {
	    .burst = speed_tester_burst,
	    .idle = speed_tester_idle,
	    .periodic = speed_tester_report,
	    .periodic_ms = 1000,
	};
	/* Static: the histograms are too large for a comfortable stack. */
	static struct speed_tester st = {.batch = 1024, .size = 64};
	int nf_argc, rc;

	nf_argc = onvm_nflib_init(argc, argv, "speed_tester", &st.ctx);
	if (nf_argc < 0) {
		fprintf(stderr, "speed_tester: %s\n", onvm_nflib_strerror());
		return 1;
	}
	if (speed_tester_parse(nf_argc, argv, &st) < 0) {
		onvm_nflib_fini(st.ctx);
		return 2;
	}
	if (speed_tester_beyond_pool(&st)) {
		onvm_nflib_fini(st.ctx);
		return 2;
	}
	if (st.dest == 0)
		st.dest = onvm_nflib_service_id(st.ctx);
	speed_tester_frame(st.frame, st.size);
	if (st.rate > 0) {
		handlers.burst = speed_tester_paced_burst;
		st.cycles_per_pkt = (double)rte_get_tsc_hz() / st.rate;
	}
	rc = onvm_nflib_run(st.ctx, &handlers, &st);
	speed_tester_summary(&st);
	if (rc < 0)
		fprintf(stderr, "speed_tester: %s\n", onvm_nflib_strerror());
	onvm_nflib_fini(st.ctx);
	return rc < 0 ? ONVM_NF_EXIT_MANAGER_GONE : 0;
}
