/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * simple_forward: passes every packet to the next hop of its chain, to
 * service --dest, or out of port --out.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include <onvm/nflib.h>

struct simple_forward {
	uint8_t action; /* NEXT, TONF or OUT */
	uint16_t dest;  /* service (TONF) or port (OUT) */
};

/* Verdicts are NEXT on entry: only another one needs writing. */
static void
simple_forward_verdicts(struct rte_mbuf **pkts, uint16_t n, uint32_t *verdicts,
                        void *user)
{
	const struct simple_forward *sf = user;
	const uint32_t verdict = ONVM_VERDICT(sf->action, sf->dest);
	uint16_t i;

	RTE_SET_USED(pkts);
	if (sf->action == ONVM_ACTION_NEXT)
		return;
	for (i = 0; i < n; i++)
		verdicts[i] = verdict;
}

/* A number in [lo, hi] for option --name, or -1 with a message. */
static long
simple_forward_number(const char *name, const char *text, long lo, long hi)
{
	char *end;
	long v = strtol(text, &end, 10);

	if (*text == '\0' || *end != '\0' || v < lo || v > hi) {
		fprintf(stderr,
		        "simple_forward: --%s takes a number from %ld to %ld\n",
		        name, lo, hi);
		return -1;
	}
	return v;
}

#define SIMPLE_FORWARD_OPTIONS "d:o:h"
#define SIMPLE_FORWARD_USAGE                                                   \
	"usage: simple_forward --service ID [--dest SERVICE | --out PORT]"

static int
simple_forward_parse(int argc, char **argv, struct simple_forward *sf)
{
	static const struct option opts[] = {
	    {"dest", required_argument, NULL, 'd'},
	    {"out", required_argument, NULL, 'o'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	long v;
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, SIMPLE_FORWARD_OPTIONS, opts,
	                        NULL)) != -1) {
		if (c == 'd') {
			v = simple_forward_number("dest", optarg, 1,
			                          ONVM_MAX_SERVICES - 1);
			sf->action = ONVM_ACTION_TONF;
		} else if (c == 'o') {
			v = simple_forward_number("out", optarg, 0,
			                          ONVM_MAX_PORTS - 1);
			sf->action = ONVM_ACTION_OUT;
		} else if (c == 'h') {
			v = -1;
			fprintf(stderr, "%s\n", SIMPLE_FORWARD_USAGE);
		} else {
			v = -1;
			onvm_nflib_option_error("simple_forward",
			                        SIMPLE_FORWARD_USAGE,
			                        SIMPLE_FORWARD_OPTIONS, argv);
		}
		if (v < 0)
			return -EINVAL;
		sf->dest = (uint16_t)v;
	}
	if (optind < argc) {
		fprintf(stderr,
		        "simple_forward: unexpected argument '%s' (%s)\n",
		        argv[optind], SIMPLE_FORWARD_USAGE);
		return -EINVAL;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	/* It never writes a packet: tee copies pass through it uncopied. */
	struct onvm_nf_handlers handlers = {.verdict = simple_forward_verdicts,
	                                    .read_only = 1};
	struct simple_forward sf = {.action = ONVM_ACTION_NEXT};
	struct onvm_nf_ctx *ctx;
	int nf_argc, rc;

	nf_argc = onvm_nflib_init(argc, argv, "simple_forward", &ctx);
	if (nf_argc < 0) {
		fprintf(stderr, "simple_forward: %s\n", onvm_nflib_strerror());
		return 1;
	}
	if (simple_forward_parse(nf_argc, argv, &sf) < 0) {
		onvm_nflib_fini(ctx);
		return 2;
	}
	if (sf.action == ONVM_ACTION_NEXT)
		printf("simple_forward: NF %u serving service %u, to the next "
		       "hop\n",
		       onvm_nflib_nf_id(ctx), onvm_nflib_service_id(ctx));
	else
		printf("simple_forward: NF %u serving service %u, to %s %u\n",
		       onvm_nflib_nf_id(ctx), onvm_nflib_service_id(ctx),
		       sf.action == ONVM_ACTION_TONF ? "service" : "port",
		       sf.dest);
	fflush(stdout);
	rc = onvm_nflib_run(ctx, &handlers, &sf);
	if (rc < 0)
		fprintf(stderr, "simple_forward: %s\n", onvm_nflib_strerror());
	onvm_nflib_fini(ctx);
	return rc < 0 ? ONVM_NF_EXIT_MANAGER_GONE : 0;
}
