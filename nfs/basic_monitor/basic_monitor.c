/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * basic_monitor: prints packet and byte rates every second and passes every
 * packet to the next hop.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <rte_cycles.h>

#include <onvm/nflib.h>

struct basic_monitor {
	uint64_t packets;
	uint64_t bytes;
	uint64_t last_packets;
	uint64_t last_bytes;
	uint64_t last_tsc;
};

/* Every verdict stays NEXT: the packets' metadata is never touched. */
static void
basic_monitor_verdicts(struct rte_mbuf **pkts, uint16_t n, uint32_t *verdicts,
                       void *user)
{
	struct basic_monitor *bm = user;
	uint64_t bytes = 0;
	uint16_t i;

	RTE_SET_USED(verdicts);
	for (i = 0; i < n; i++)
		bytes += rte_pktmbuf_pkt_len(pkts[i]);
	bm->packets += n;
	bm->bytes += bytes;
}

static int
basic_monitor_report(struct onvm_nf_ctx *ctx, void *user)
{
	struct basic_monitor *bm = user;
	uint64_t now = rte_rdtsc();
	double secs = (double)(now - bm->last_tsc) / (double)rte_get_tsc_hz();
	double pps = (double)(bm->packets - bm->last_packets) / secs;
	double bps = (double)(bm->bytes - bm->last_bytes) * 8.0 / secs;

	printf("basic_monitor[nf %u]: %.3f Mpps %.3f Mbit/s  total %" PRIu64
	       " packets %" PRIu64 " bytes\n",
	       onvm_nflib_nf_id(ctx), pps / 1e6, bps / 1e6, bm->packets,
	       bm->bytes);
	fflush(stdout);
	bm->last_packets = bm->packets;
	bm->last_bytes = bm->bytes;
	bm->last_tsc = now;
	return 0;
}

/* Messages: "stats" is answered with the totals; anything else with what
 * it takes. */
static void
basic_monitor_message(struct onvm_nf_ctx *ctx, const struct onvm_nf_msg *msg,
                      void *user)
{
	const struct basic_monitor *bm = user;
	char answer[128];
	int n;

	if (msg->kind != ONVM_MSG_REQUEST)
		return;
	if (msg->len == 5 && memcmp(msg->data, "stats", 5) == 0)
		n = snprintf(answer, sizeof(answer),
		             "packets %" PRIu64 " bytes %" PRIu64, bm->packets,
		             bm->bytes);
	else
		n = snprintf(answer, sizeof(answer),
		             "basic_monitor answers 'stats' only");
	onvm_nflib_reply(ctx, msg, answer, (uint32_t)n);
}

int
main(int argc, char **argv)
{
	struct onvm_nf_handlers handlers = {
	    .verdict = basic_monitor_verdicts,
	    .msg = basic_monitor_message,
	    .periodic = basic_monitor_report,
	    .periodic_ms = 1000,
	    .read_only = 1, /* it only reads: tee copies reach it uncopied */
	};
	struct basic_monitor bm = {0};
	struct onvm_nf_ctx *ctx;
	int nf_argc, rc;

	nf_argc = onvm_nflib_init(argc, argv, "basic_monitor", &ctx);
	if (nf_argc < 0) {
		fprintf(stderr, "basic_monitor: %s\n", onvm_nflib_strerror());
		return 1;
	}
	/* It has no options of its own: what nflib left is a mistake. */
	if (nf_argc > 1) {
		fprintf(stderr,
		        "basic_monitor: unknown argument '%s': basic_monitor "
		        "takes only nflib's options (--service, --name, ...)\n",
		        argv[1]);
		onvm_nflib_fini(ctx);
		return 2;
	}
	printf("basic_monitor: NF %u serving service %u\n",
	       onvm_nflib_nf_id(ctx), onvm_nflib_service_id(ctx));
	fflush(stdout);
	bm.last_tsc = rte_rdtsc();
	rc = onvm_nflib_run(ctx, &handlers, &bm);
	basic_monitor_report(ctx, &bm);
	if (rc < 0)
		fprintf(stderr, "basic_monitor: %s\n", onvm_nflib_strerror());
	onvm_nflib_fini(ctx);
	return rc < 0 ? ONVM_NF_EXIT_MANAGER_GONE : 0;
}
