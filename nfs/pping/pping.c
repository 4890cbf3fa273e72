/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * pping: passive RTT of the TCP (timestamps), ICMP echo and DNS traffic
 * passing through it, both directions; every packet goes on unchanged.
 * Prints one line per RTT sample (JSON with --json) and publishes RTT
 * histograms per subnet for onvm-ctl and Prometheus. See README.md.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <arpa/inet.h>

#include <rte_cycles.h>
#include <rte_errno.h>

#include <onvm/nflib.h>
#include <onvm/pkt_time.h>

#include "pping.h"

static const char *const pping_proto_names[PPING_PROTOS] = {"tcp", "icmp",
                                                            "dns"};

static const char *const pping_event_names[PPING_EV_COUNT] = {
    [PPING_EV_RTT_TCP] = "rtt_tcp",
    [PPING_EV_RTT_ICMP] = "rtt_icmp",
    [PPING_EV_RTT_DNS] = "rtt_dns",
    [PPING_EV_TIMESTAMPED] = "timestamped",
    [PPING_EV_RATE_LIMITED] = "rate_limited",
    [PPING_EV_STAMPS_FULL] = "stamps_full",
    [PPING_EV_STAMPS_EVICTED] = "stamps_evicted",
    [PPING_EV_FLOWS_FULL] = "flows_full",
    [PPING_EV_CLOCK_MISMATCH] = "clock_mismatch",
    [PPING_EV_NO_TIME] = "no_time",
    [PPING_EV_OUTPUT_DROPPED] = "output_dropped",
    [PPING_EV_SUBNETS_FULL] = "subnets_full",
};

/* ---- output ---- */

/* "10.0.0.1:40000" or "[2001:db8::1]:40000" */
static void
pping_endpoint(const uint8_t addr[16], uint16_t port_be, uint8_t ip_version,
               char *buf, size_t len)
{
	char text[INET6_ADDRSTRLEN];

	if (ip_version == 4) {
		inet_ntop(AF_INET, addr + 12, text, sizeof(text));
		snprintf(buf, len, "%s:%u", text, rte_be_to_cpu_16(port_be));
	} else {
		inet_ntop(AF_INET6, addr, text, sizeof(text));
		snprintf(buf, len, "[%s]:%u", text, rte_be_to_cpu_16(port_be));
	}
}

/* The wall-clock time of a sample: a port's timestamps are the capture's
 * own (a pcap's: since the epoch); the manager's RX times are moved onto
 * the wall clock as it was when pping started. */
static uint64_t
pping_wall_ns(const struct pping *pp, const struct pping_sample *s)
{
	if (s->clock == PPING_CLOCK_PORT)
		return s->time;
	return pp->wall0_ns + (s->time - pp->tsc0_ns);
}

static void
pping_print_sample(const struct pping *pp, const struct pping_sample *s)
{
	char src[INET6_ADDRSTRLEN + 8], dst[INET6_ADDRSTRLEN + 8];
	uint64_t wall = pping_wall_ns(pp, s);

	pping_endpoint(s->flow.src, s->flow.src_port, s->flow.ip_version, src,
	               sizeof(src));
	pping_endpoint(s->flow.dst, s->flow.dst_port, s->flow.ip_version, dst,
	               sizeof(dst));
	if (pp->json) {
		printf("{\"time\": %" PRIu64 ".%06" PRIu64
		       ", \"proto\": \"%s\", \"flow\": \"%s+%s\", "
		       "\"rtt_ms\": %.6f, \"min_rtt_ms\": %.6f, "
		       "\"srtt_ms\": %.6f, \"samples\": %" PRIu64
		       ", \"subnet\": \"%s\"}\n",
		       wall / 1000000000, wall % 1000000000 / 1000,
		       pping_proto_names[s->proto], src, dst, s->rtt / 1e6,
		       s->min_rtt / 1e6, s->srtt / 1e6, s->samples, s->subnet);
	} else {
		time_t secs = (time_t)(wall / 1000000000);
		struct tm tm;
		char clock[16];

		localtime_r(&secs, &tm);
		strftime(clock, sizeof(clock), "%H:%M:%S", &tm);
		printf("%s.%06" PRIu64 " %.3f ms %.3f ms %s %s+%s\n", clock,
		       wall % 1000000000 / 1000, s->rtt / 1e6, s->min_rtt / 1e6,
		       pping_proto_names[s->proto], src, dst);
	}
}

/* Print the samples taken since the last print, and publish the counts. */
static void
pping_flush(struct pping *pp)
{
	uint32_t i;

	for (i = 0; i < pp->nout; i++)
		pping_print_sample(pp, &pp->out[i]);
	if (pp->nout != 0)
		fflush(stdout);
	pp->nout = 0;
	for (i = 0; i < PPING_EV_COUNT; i++)
		onvm_metric_set_count(pp->event_series[i], pp->events[i]);
}

static void
pping_summary(const struct pping *pp)
{
	const uint64_t *ev = pp->events;

	fprintf(
	    stderr,
	    "pping: summary: %" PRIu64 " RTT samples (tcp %" PRIu64
	    ", icmp %" PRIu64 ", dns %" PRIu64 "); %" PRIu64
	    " identifiers timestamped, %" PRIu64 " rate-limited, %" PRIu64
	    " refused for room; %" PRIu64 " flows untracked for room\n",
	    ev[PPING_EV_RTT_TCP] + ev[PPING_EV_RTT_ICMP] + ev[PPING_EV_RTT_DNS],
	    ev[PPING_EV_RTT_TCP], ev[PPING_EV_RTT_ICMP], ev[PPING_EV_RTT_DNS],
	    ev[PPING_EV_TIMESTAMPED], ev[PPING_EV_RATE_LIMITED],
	    ev[PPING_EV_STAMPS_FULL], ev[PPING_EV_FLOWS_FULL]);
}

/* ---- handlers ---- */

/* Every verdict stays NEXT: pping only looks. */
static void
pping_verdicts(struct rte_mbuf **pkts, uint16_t n, uint32_t *verdicts,
               void *user)
{
	RTE_SET_USED(verdicts);
	pping_burst(user, pkts, n);
}

static int
pping_periodic(struct onvm_nf_ctx *ctx, void *user)
{
	RTE_SET_USED(ctx);
	pping_flush(user);
	return 0;
}

/* ---- metrics ---- */

static int
pping_publish(struct pping *pp, struct onvm_nf_ctx *ctx)
{
	double bounds[PPING_HIST_BOUNDS];
	const struct onvm_metric_spec specs[] = {
	    [PPING_FAMILY_RTT] = {.name = "pping_rtt_seconds",
	                          .help = "Passive RTT samples, by the subnet "
	                                  "of the host that answered.",
	                          .label = "subnet",
	                          .kind = ONVM_METRIC_HISTOGRAM,
	                          .max_series = pp->subnets + 1, /* other */
	                          .nbounds = PPING_HIST_BOUNDS,
	                          .bounds = bounds},
	    [PPING_FAMILY_EVENTS] = {.name = "pping_events",
	                             .help = "What passive ping did with the "
	                                     "packets it saw.",
	                             .label = "event",
	                             .kind = ONVM_METRIC_COUNTER,
	                             .max_series = PPING_EV_COUNT},
	};
	double per_second = 1e5; /* the first decade's unit: 10 us */
	unsigned int d, i, k = 0;

	/* Log-linear: 1 to 9 of each power of ten, then 10 s. Divided, not
	 * multiplied, so that each bound is the double nearest its decimal. */
	for (d = 0; d < PPING_HIST_DECADES; d++, per_second /= 10)
		for (i = 1; i <= 9; i++)
			bounds[k++] = i / per_second;
	bounds[k] = 10.0;
	pp->metrics = onvm_nf_metrics_create(onvm_nflib_nf_id(ctx),
	                                     onvm_nflib_nf(ctx)->generation,
	                                     specs, RTE_DIM(specs));
	if (pp->metrics == NULL)
		return -rte_errno;
	for (i = 0; i < PPING_EV_COUNT; i++)
		pp->event_series[i] = onvm_nf_metrics_add_series(
		    pp->metrics, PPING_FAMILY_EVENTS, pping_event_names[i]);
	return 0;
}

/* ---- options ---- */

#define PPING_FLOWS_MIN 16
#define PPING_FLOWS_MAX 262144
#define PPING_FLOWS_DEFAULT 16384
#define PPING_SUBNETS_MAX 4096
#define PPING_SUBNETS_DEFAULT 256
#define PPING_SAMPLE_LIMIT_MAX_MS 60000

#define PPING_OPTIONS "jf:l:p:s:h"
#define PPING_USAGE                                                            \
	"usage: pping --service ID [--json] [--flows N] [--sample-limit MS] "  \
	"[--subnet-prefix V4[,V6]] [--subnets N]"

/* A whole number in [lo, hi], or -1 with a message. */
static long
pping_number(const char *name, const char *text, long lo, long hi)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(text, &end, 10);
	if (*text == '\0' || *end != '\0' || errno != 0 || v < lo || v > hi) {
		fprintf(stderr, "pping: --%s takes a number from %ld to %ld\n",
		        name, lo, hi);
		return -1;
	}
	return v;
}

static int
pping_sample_limit(const char *text, struct pping *pp)
{
	char *end;
	double ms;

	errno = 0;
	ms = strtod(text, &end);
	if (*text == '\0' || *end != '\0' || errno != 0 || !isfinite(ms) ||
	    ms < 0 || ms > PPING_SAMPLE_LIMIT_MAX_MS) {
		fprintf(stderr,
		        "pping: --sample-limit takes milliseconds from 0 to "
		        "%d (0: every sample)\n",
		        PPING_SAMPLE_LIMIT_MAX_MS);
		return -1;
	}
	pp->sample_limit_ns = (uint64_t)(ms * 1e6);
	return 0;
}

/* "24" (IPv4 only) or "24,48" (IPv4, IPv6). */
static int
pping_subnet_prefix(const char *text, struct pping *pp)
{
	const char *comma = strchr(text, ',');
	char v4[16];
	char *end;
	long p4, p6 = pp->prefix6;

	if (comma != NULL) {
		if ((size_t)(comma - text) >= sizeof(v4))
			goto bad;
		memcpy(v4, text, (size_t)(comma - text));
		v4[comma - text] = '\0';
		errno = 0;
		p6 = strtol(comma + 1, &end, 10);
		if (comma[1] == '\0' || *end != '\0' || errno != 0 || p6 < 0 ||
		    p6 > 128)
			goto bad;
	} else {
		snprintf(v4, sizeof(v4), "%s", text);
		if (strlen(text) >= sizeof(v4))
			goto bad;
	}
	errno = 0;
	p4 = strtol(v4, &end, 10);
	if (v4[0] == '\0' || *end != '\0' || errno != 0 || p4 < 0 || p4 > 32)
		goto bad;
	pp->prefix4 = (uint8_t)p4;
	pp->prefix6 = (uint8_t)p6;
	return 0;
bad:
	fprintf(stderr,
	        "pping: --subnet-prefix takes an IPv4 prefix length (0 to 32), "
	        "or that and an IPv6 one (0 to 128) after a comma: 24,48\n");
	return -1;
}

static int
pping_parse_args(int argc, char **argv, struct pping *pp)
{
	static const struct option opts[] = {
	    {"json", no_argument, NULL, 'j'},
	    {"flows", required_argument, NULL, 'f'},
	    {"sample-limit", required_argument, NULL, 'l'},
	    {"subnet-prefix", required_argument, NULL, 'p'},
	    {"subnets", required_argument, NULL, 's'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	long v;
	int c, rc;

	opterr = 0;
	while ((c = getopt_long(argc, argv, PPING_OPTIONS, opts, NULL)) != -1) {
		rc = 0;
		switch (c) {
		case 'j':
			pp->json = 1;
			break;
		case 'f':
			v = pping_number("flows", optarg, PPING_FLOWS_MIN,
			                 PPING_FLOWS_MAX);
			rc = v < 0 ? -1 : 0;
			pp->flows = (uint32_t)v;
			break;
		case 'l':
			rc = pping_sample_limit(optarg, pp);
			break;
		case 'p':
			rc = pping_subnet_prefix(optarg, pp);
			break;
		case 's':
			v = pping_number("subnets", optarg, 1,
			                 PPING_SUBNETS_MAX);
			rc = v < 0 ? -1 : 0;
			pp->subnets = (uint32_t)v;
			break;
		case 'h':
			fprintf(stderr, "%s\n", PPING_USAGE);
			rc = -1;
			break;
		default:
			onvm_nflib_option_error("pping", PPING_USAGE,
			                        PPING_OPTIONS, argv);
			rc = -1;
			break;
		}
		if (rc < 0)
			return -EINVAL;
	}
	if (optind < argc) {
		fprintf(stderr, "pping: unexpected argument '%s' (%s)\n",
		        argv[optind], PPING_USAGE);
		return -EINVAL;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	/* It never writes a packet: tee copies reach it uncopied. */
	const struct onvm_nf_handlers handlers = {
	    .verdict = pping_verdicts,
	    .periodic = pping_periodic,
	    .periodic_ms = PPING_PRINT_MS,
	    .read_only = 1,
	};
	/* Static: the parse array is too large for a comfortable stack. */
	static struct pping pp = {
	    .flows = PPING_FLOWS_DEFAULT,
	    .subnets = PPING_SUBNETS_DEFAULT,
	    .prefix4 = 24,
	    .prefix6 = 48,
	};
	struct onvm_nf_ctx *ctx;
	struct timespec wall;
	int nf_argc, rc;

	nf_argc = onvm_nflib_init(argc, argv, "pping", &ctx);
	if (nf_argc < 0) {
		fprintf(stderr, "pping: %s\n", onvm_nflib_strerror());
		return 1;
	}
	if (pping_parse_args(nf_argc, argv, &pp) < 0) {
		onvm_nflib_fini(ctx);
		return 2;
	}
	if (pping_tables_alloc(&pp) < 0) {
		fprintf(stderr,
		        "pping: not enough memory for the tables of --flows "
		        "%u: give fewer\n",
		        pp.flows);
		onvm_nflib_fini(ctx);
		return 1;
	}
	rc = pping_publish(&pp, ctx);
	if (rc < 0) {
		fprintf(stderr,
		        "pping: cannot publish its metrics (%s): give fewer "
		        "--subnets, or the manager more hugepages\n",
		        strerror(-rc));
		pping_tables_free(&pp);
		onvm_nflib_fini(ctx);
		return 1;
	}
	clock_gettime(CLOCK_REALTIME, &wall);
	pp.tsc0_ns = onvm_tsc_ns(rte_rdtsc());
	pp.wall0_ns =
	    (uint64_t)wall.tv_sec * 1000000000 + (uint64_t)wall.tv_nsec;
	fprintf(stderr,
	        "pping: NF %u serving service %u: RTTs of TCP timestamps, ICMP "
	        "echo and DNS; %u flows, sample limit %.3f ms, subnets /%u "
	        "and /%u, by %s\n",
	        onvm_nflib_nf_id(ctx), onvm_nflib_service_id(ctx), pp.flows,
	        pp.sample_limit_ns / 1e6, pp.prefix4, pp.prefix6,
	        onvm_rx_timestamp_flag
	            ? "port timestamps where packets have them"
	            : "the manager's RX time");
	rc = onvm_nflib_run(ctx, &handlers, &pp);
	pping_flush(&pp);
	pping_summary(&pp);
	if (rc < 0)
		fprintf(stderr, "pping: %s\n", onvm_nflib_strerror());
	/* The manager frees the metrics zone once this NF's slot is free. */
	onvm_nflib_fini(ctx);
	pping_tables_free(&pp);
	return rc < 0 ? ONVM_NF_EXIT_MANAGER_GONE : 0;
}
