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
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_udp.h>

#include <onvm/nflib.h>

struct speed_tester {
	uint16_t dest;
	uint32_t batch;        /* packets to inject */
	uint32_t size;         /* frame size in bytes */
	double duration;       /* seconds, 0: until stopped */
	int follow_chain;      /* packets carry the default chain */
	int injected;
	uint64_t packets;
	uint64_t last_packets;
	uint64_t start_tsc;
	uint64_t last_tsc;
	uint64_t steady_tsc;     /* end of the first, ramp-up, second */
	uint64_t steady_packets;
	double best_mpps;
	double worst_mpps;
	unsigned int reports;
};

static void
speed_tester_burst(struct rte_mbuf **pkts, uint16_t n, void *user)
{
	struct speed_tester *st = user;
	uint16_t i;

	for (i = 0; i < n; i++) {
		struct onvm_pkt_meta *meta = onvm_pkt_meta(pkts[i]);

		meta->action = ONVM_ACTION_TONF;
		meta->destination = st->dest;
		meta->chain_index = 0; /* back to the start of the chain */
	}
	st->packets += n;
}

static void
speed_tester_fill(struct rte_mbuf *m, uint32_t size, uint32_t seq)
{
	struct rte_ether_hdr *eth;
	struct rte_ipv4_hdr *ip;
	struct rte_udp_hdr *udp;

	eth = (struct rte_ether_hdr *)rte_pktmbuf_append(m, (uint16_t)size);
	memset(eth, 0, size);
	eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
	eth->src_addr.addr_bytes[0] = 0x02;
	eth->dst_addr.addr_bytes[0] = 0x02;
	eth->dst_addr.addr_bytes[5] = 0x01;
	ip = (struct rte_ipv4_hdr *)(eth + 1);
	ip->version_ihl = RTE_IPV4_VHL_DEF;
	ip->time_to_live = 64;
	ip->next_proto_id = IPPROTO_UDP;
	ip->total_length = rte_cpu_to_be_16((uint16_t)(size - sizeof(*eth)));
	ip->src_addr = rte_cpu_to_be_32(RTE_IPV4(10, 0, 0, 1));
	ip->dst_addr = rte_cpu_to_be_32(RTE_IPV4(10, 0, 1, 1));
	ip->hdr_checksum = rte_ipv4_cksum(ip);
	udp = (struct rte_udp_hdr *)(ip + 1);
	/* Distinct flows, so several instances of a service share the load. */
	udp->src_port = rte_cpu_to_be_16((uint16_t)(1024 + seq));
	udp->dst_port = rte_cpu_to_be_16(9);
	udp->dgram_len = rte_cpu_to_be_16(
		(uint16_t)(size - sizeof(*eth) - sizeof(*ip)));
	/* The flow hash the manager would have computed at RX. */
	m->hash.rss = seq * 2654435761U;
}

/* Inject the batch once, from the loop, in bursts. */
static int
speed_tester_inject(struct onvm_nf_ctx *ctx, void *user)
{
	struct speed_tester *st = user;
	struct rte_mbuf *pkts[ONVM_BURST_MAX];
	uint32_t done = 0, i;

	if (st->injected)
		return 0;
	/* Packets sent before the loop is complete would just be dropped. */
	if (onvm_nflib_shared(ctx)->services[st->dest].count == 0)
		return 0;
	st->injected = 1;
	while (done < st->batch) {
		uint32_t n = RTE_MIN(st->batch - done, (uint32_t)ONVM_BURST_MAX);

		if (onvm_nflib_alloc_pkts(ctx, pkts, n) < 0) {
			fprintf(stderr,
				"speed_tester: packet pool exhausted after %u packets\n",
				done);
			break;
		}
		for (i = 0; i < n; i++) {
			struct onvm_pkt_meta *meta = onvm_pkt_meta(pkts[i]);

			speed_tester_fill(pkts[i], st->size, done + i);
			meta->action = ONVM_ACTION_TONF;
			meta->destination = st->dest;
			if (st->follow_chain)
				meta->chain = onvm_nflib_shared(ctx)
					->chains.head[ONVM_DEFAULT_CHAIN];
		}
		if (onvm_nflib_send(ctx, pkts, n) < n) {
			onvm_nflib_free_pkts(ctx, pkts, n);
			break;
		}
		done += n;
	}
	st->start_tsc = st->last_tsc = rte_rdtsc();
	printf("speed_tester: injected %u packets of %u bytes to service %u\n",
	       done, st->size, st->dest);
	fflush(stdout);
	return (int)done;
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

static int
speed_tester_parse(int argc, char **argv, struct speed_tester *st)
{
	static const struct option opts[] = {
		{ "dest", required_argument, NULL, 'd' },
		{ "packets", required_argument, NULL, 'p' },
		{ "size", required_argument, NULL, 's' },
		{ "duration", required_argument, NULL, 't' },
		{ "chain", no_argument, NULL, 'c' },
		{ NULL, 0, NULL, 0 },
	};
	char *end;
	long v;
	int c;

	while ((c = getopt_long(argc, argv, "d:p:s:t:c", opts, NULL)) != -1) {
		if (c == 'c') {
			st->follow_chain = 1;
			continue;
		}
		if (c == 't') {
			st->duration = strtod(optarg, &end);
			if (*end == '\0' && st->duration >= 0)
				continue;
			fprintf(stderr, "speed_tester: --duration takes seconds\n");
			return -EINVAL;
		}
		if (c == '?')
			goto usage;
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
	fprintf(stderr,
		"usage: speed_tester --service ID [--dest SERVICE] [--packets N] [--size 60..1514] [--duration SECONDS] [--chain]\n");
	return -EINVAL;
}

int
main(int argc, char **argv)
{
	struct onvm_nf_handlers handlers = {
		.burst = speed_tester_burst,
		.idle = speed_tester_inject,
		.periodic = speed_tester_report,
		.periodic_ms = 1000,
	};
	struct speed_tester st = { .batch = 1024, .size = 64 };
	struct onvm_nf_ctx *ctx;
	double secs;
	int nf_argc;

	nf_argc = onvm_nflib_init(argc, argv, "speed_tester", &ctx);
	if (nf_argc < 0) {
		fprintf(stderr, "speed_tester: %s\n", onvm_nflib_strerror());
		return 1;
	}
	if (speed_tester_parse(nf_argc, argv, &st) < 0) {
		onvm_nflib_fini(ctx);
		return 2;
	}
	if (st.dest == 0)
		st.dest = onvm_nflib_service_id(ctx);
	onvm_nflib_run(ctx, &handlers, &st);
	if (st.reports < 2) {
		/* Too short for a steady window: use the whole run. */
		st.steady_tsc = st.start_tsc;
		st.steady_packets = 0;
	}
	secs = (double)(rte_rdtsc() - st.steady_tsc) / (double)rte_get_tsc_hz();
	printf("speed_tester: summary: %.3f Mpps average over %.1f s (min %.3f, max %.3f), %" PRIu64 " packets\n",
	       st.injected && secs > 0 ?
		       (double)(st.packets - st.steady_packets) / secs / 1e6 :
		       0.0,
	       secs, st.worst_mpps, st.best_mpps, st.packets);
	fflush(stdout);
	onvm_nflib_fini(ctx);
	return 0;
}
