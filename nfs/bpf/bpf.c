/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * bpf: runs an eBPF program (or a tcpdump filter) on every packet, with
 * maps shared with onvm-ctl and Python, and takes a new program while
 * traffic flows. A loader thread of its own loads programs, so the data
 * path never waits for the validator or the JIT; it switches programs
 * between two bursts.
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <rte_errno.h>
#include <rte_memzone.h>

#include "bpf_nf.h"

#define BPF_OPTIONS "p:s:if:vm:h"
#define BPF_USAGE                                                              \
	"usage: bpf --service ID -- (--program PROG.o [--section NAME] | "     \
	"--filter 'EXPR' [--invert]) [--interp] "                              \
	"[--map NAME:TYPE:KEY_BYTES:VALUE_BYTES:ENTRIES]..."

static int
bpf_usage_error(const char *fmt, const char *arg)
{
	fprintf(stderr, "bpf: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, " (%s)\n", BPF_USAGE);
	return -EINVAL;
}

/* A decimal number in [lo, hi], or -1. */
static long
bpf_number(const char *text, long lo, long hi)
{
	char *end;
	long v;

	if (text[0] < '0' || text[0] > '9')
		return -1;
	errno = 0;
	v = strtol(text, &end, 10);
	if (errno != 0 || *end != '\0' || v < lo || v > hi)
		return -1;
	return v;
}

/* NAME:TYPE:KEY_BYTES:VALUE_BYTES:ENTRIES */
static int
bpf_parse_map(struct bpf_nf *b, const char *text)
{
	char copy[160], *field[5], *save = NULL, *tok;
	struct bpf_map_spec *spec;
	const char *why;
	long key, value, entries;
	unsigned int n = 0, t;

	if (strlen(text) >= sizeof(copy))
		return bpf_usage_error("--map '%.40s...' is too long", text);
	snprintf(copy, sizeof(copy), "%s", text);
	for (tok = strtok_r(copy, ":", &save); tok != NULL && n < 5;
	     tok = strtok_r(NULL, ":", &save))
		field[n++] = tok;
	if (n != 5 || tok != NULL)
		return bpf_usage_error(
		    "--map '%s' needs five fields, "
		    "NAME:TYPE:KEY_BYTES:VALUE_BYTES:ENTRIES",
		    text);
	if (b->nspecs == ONVM_BPF_MAX_MAPS)
		return bpf_usage_error("more than 16 maps (--map %s)", text);
	for (t = ONVM_BPF_MAP_HASH; t <= ONVM_BPF_MAP_PERCPU_ARRAY; t++)
		if (strcmp(field[1], bpf_map_type_names[t]) == 0)
			break;
	if (t > ONVM_BPF_MAP_PERCPU_ARRAY)
		return bpf_usage_error("--map %s: the type is hash, array, "
		                       "percpu_hash or percpu_array",
		                       text);
	key = bpf_number(field[2], 1, ONVM_BPF_KEY_MAX);
	value = bpf_number(field[3], 1, ONVM_BPF_VALUE_MAX);
	entries = bpf_number(field[4], 1, ONVM_BPF_ENTRIES_MAX);
	if (key < 0 || value < 0 || entries < 0)
		return bpf_usage_error("--map %s: key bytes 1-64, value bytes "
		                       "1-1024, entries 1-1048576",
		                       text);
	why = onvm_bpf_map_shape_error(t, (uint32_t)key, (uint32_t)value,
	                               (uint32_t)entries);
	if (why != NULL) {
		fprintf(stderr, "bpf: --map %s: %s\n", text, why);
		return -EINVAL;
	}
	if (strlen(field[0]) > ONVM_BPF_MAP_NAME_MAX)
		return bpf_usage_error("--map %s: names are 1-31 characters",
		                       text);
	if (!bpf_name_ok(field[0]))
		return bpf_usage_error("--map %s: a name is a C name", text);
	for (n = 0; n < b->nspecs; n++)
		if (strcmp(b->specs[n].name, field[0]) == 0)
			return bpf_usage_error("--map %s: that name twice",
			                       text);
	spec = &b->specs[b->nspecs++];
	snprintf(spec->name, sizeof(spec->name), "%s", field[0]);
	spec->def.type = t;
	spec->def.key_size = (uint32_t)key;
	spec->def.value_size = (uint32_t)value;
	spec->def.max_entries = (uint32_t)entries;
	return 0;
}

static int
bpf_copy_arg(char *dst, size_t size, const char *opt, const char *arg)
{
	if (arg[0] == '\0')
		return bpf_usage_error("%s takes a value", opt);
	if (strlen(arg) >= size) {
		fprintf(stderr, "bpf: %s is longer than %zu characters\n", opt,
		        size - 1);
		return -EINVAL;
	}
	snprintf(dst, size, "%s", arg);
	return 0;
}

static int
bpf_parse(int argc, char **argv, struct bpf_nf *b, struct bpf_source *src)
{
	static const struct option opts[] = {
	    {"program", required_argument, NULL, 'p'},
	    {"section", required_argument, NULL, 's'},
	    {"interp", no_argument, NULL, 'i'},
	    {"filter", required_argument, NULL, 'f'},
	    {"invert", no_argument, NULL, 'v'},
	    {"map", required_argument, NULL, 'm'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	int c, rc = 0, have_program = 0, have_filter = 0, have_section = 0;

	opterr = 0;
	while (rc == 0 &&
	       (c = getopt_long(argc, argv, BPF_OPTIONS, opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			have_program = 1;
			rc = bpf_copy_arg(src->path, sizeof(src->path),
			                  "--program", optarg);
			break;
		case 's':
			have_section = 1;
			rc = bpf_copy_arg(src->section, sizeof(src->section),
			                  "--section", optarg);
			break;
		case 'i':
			src->interp = 1;
			break;
		case 'f':
			have_filter = 1;
			rc = bpf_copy_arg(src->filter, sizeof(src->filter),
			                  "--filter", optarg);
			break;
		case 'v':
			src->invert = 1;
			break;
		case 'm':
			rc = bpf_parse_map(b, optarg);
			break;
		case 'h':
			printf("%s\n", BPF_USAGE);
			return 1;
		default:
			onvm_nflib_option_error(BPF_NF, BPF_USAGE, BPF_OPTIONS,
			                        argv);
			return -EINVAL;
		}
	}
	if (rc < 0)
		return rc;
	if (optind < argc)
		return bpf_usage_error("unexpected argument '%s'",
		                       argv[optind]);
	if (have_program == have_filter)
		return bpf_usage_error(
		    "%s", have_program ? "give --program or --filter, "
		                         "not both"
		                       : "give --program PROG.o or "
		                         "--filter 'EXPR'");
	if (have_filter && have_section)
		return bpf_usage_error("%s", "--section is for --program");
	if (have_program && src->invert)
		return bpf_usage_error("%s", "--invert is for --filter");
	src->kind = have_program ? ONVM_BPF_KIND_PROGRAM : ONVM_BPF_KIND_FILTER;
	if (have_program) {
		struct stat st;

		if (stat(src->path, &st) != 0) {
			fprintf(stderr, "bpf: cannot read program %s: %s\n",
			        src->path, strerror(errno));
			return -EINVAL;
		}
		if (!S_ISREG(st.st_mode)) {
			fprintf(
			    stderr,
			    "bpf: program %s is not a file: give the .o that "
			    "onvm-bpf build wrote\n",
			    src->path);
			return -EINVAL;
		}
	}
	return 0;
}

/* The NF's directory; a stale one (a crashed NF of this slot) goes. */
static int
bpf_dir_create(struct bpf_nf *b)
{
	char name[RTE_MEMZONE_NAMESIZE];
	const struct rte_memzone *mz;
	uint16_t id = onvm_nflib_nf_id(b->ctx);

	snprintf(name, sizeof(name), ONVM_BPF_DIR_FMT, id);
	onvm_bpf_dir_release(id);
	mz = rte_memzone_reserve_aligned(name, sizeof(struct onvm_bpf_dir),
	                                 SOCKET_ID_ANY, 0, RTE_CACHE_LINE_SIZE);
	if (mz == NULL) {
		fprintf(stderr,
		        "bpf: cannot make its directory in hugepage memory: "
		        "%s\n",
		        rte_strerror(rte_errno));
		return -ENOMEM;
	}
	memset(mz->addr, 0, sizeof(struct onvm_bpf_dir));
	b->dir = mz->addr;
	b->dir_mz = mz;
	b->dir->nf_id = id;
	b->dir->generation = onvm_nflib_nf(b->ctx)->generation;
	__atomic_store_n(&b->dir->magic, ONVM_BPF_DIR_MAGIC, __ATOMIC_RELEASE);
	return 0;
}

/* Programs replaced but perhaps still running their last burst. */
struct bpf_retired {
	struct bpf_prog *prog;
	uint64_t epoch; /* the NF loop's when it was replaced */
};

static void
bpf_reap(struct bpf_nf *b, struct bpf_retired *r, unsigned int *n)
{
	const struct onvm_nf *nf = onvm_nflib_nf(b->ctx);
	unsigned int i = 0;

	while (i < *n) {
		/* Once the loop has gone round, a burst that began before the
		 * switch has ended, and later ones run the new program. */
		if (__atomic_load_n(&b->in_use, __ATOMIC_ACQUIRE) !=
		        r[i].prog ||
		    nf->epoch >= r[i].epoch + 2 || b->loader_stop) {
			bpf_nf_destroy(b, r[i].prog);
			r[i] = r[--*n];
		} else {
			i++;
		}
	}
}

static void
bpf_answer(struct onvm_bpf_request *req, uint32_t seq, int result,
           const char *msg)
{
	req->result = result;
	snprintf(req->message, sizeof(req->message), "%.*s",
	         (int)sizeof(req->message) - 1, msg);
	__atomic_store_n(&req->done_seq, seq, __ATOMIC_RELEASE);
}

static void *
bpf_loader_main(void *arg)
{
	struct bpf_nf *b = arg;
	struct onvm_bpf_request *req = &b->dir->request;
	struct bpf_retired retired[8];
	unsigned int nretired = 0;

	while (!b->loader_stop) {
		uint32_t seq = __atomic_load_n(&req->req_seq, __ATOMIC_ACQUIRE);
		struct bpf_source src = {.kind = ONVM_BPF_KIND_PROGRAM};
		char msg[BPF_LINE_MAX];
		struct bpf_prog *p, *old;

		bpf_reap(b, retired, &nretired);
		if (seq == req->done_seq) {
			usleep(BPF_LOADER_POLL_US);
			continue;
		}
		if (nretired == RTE_DIM(retired)) {
			bpf_answer(req, seq, -EBUSY,
			           "the NF has not yet finished with the "
			           "programs it ran before: try again");
			continue;
		}
		src.interp = req->interp != 0;
		snprintf(src.path, sizeof(src.path), "%s", req->path);
		snprintf(src.section, sizeof(src.section), "%s", req->section);
		p = bpf_nf_load(b, &src, msg, sizeof(msg));
		if (p == NULL) {
			bpf_answer(req, seq, -EINVAL, msg);
			continue;
		}
		old = b->next;
		bpf_nf_publish(b, p, &src);
		if (old != NULL) {
			retired[nretired].prog = old;
			retired[nretired].epoch = onvm_nflib_nf(b->ctx)->epoch;
			nretired++;
		}
		bpf_answer(req, seq, 0, msg);
	}
	b->loader_stop = 1;
	bpf_reap(b, retired, &nretired);
	return NULL;
}

int
main(int argc, char **argv)
{
	struct onvm_nf_handlers handlers = {.verdict = bpf_nf_verdicts};
	struct bpf_source src = {0};
	static struct bpf_nf b;
	char msg[BPF_LINE_MAX];
	struct onvm_nf_ctx *ctx;
	struct bpf_prog *p;
	pthread_t loader;
	int nf_argc, rc;

	/* Arguments first, on a copy: a bad one costs no registration. */
	{
		char **copy = calloc((size_t)argc + 1, sizeof(*copy));

		if (copy == NULL)
			return 1;
		memcpy(copy, argv, (size_t)argc * sizeof(*copy));
		nf_argc = onvm_nflib_parse_args(argc, copy);
		if (nf_argc < 0) {
			/* As any C NF whose nflib options are wrong. */
			fprintf(stderr, "bpf: %s\n", onvm_nflib_strerror());
			free(copy);
			return 1;
		}
		rc = bpf_parse(nf_argc, copy, &b, &src);
		free(copy);
		if (rc != 0)
			return rc > 0 ? 0 : 2; /* --help: done */
		memset(&b, 0, sizeof(b));
		memset(&src, 0, sizeof(src));
		optind = 1;
	}
	nf_argc = onvm_nflib_init(argc, argv, BPF_NF, &ctx);
	if (nf_argc < 0) {
		fprintf(stderr, "bpf: %s\n", onvm_nflib_strerror());
		return 1;
	}
	b.ctx = ctx;
	if (bpf_parse(nf_argc, argv, &b, &src) < 0) {
		onvm_nflib_fini(ctx);
		return 2;
	}
	b.window_max = RTE_MIN((uint32_t)rte_pktmbuf_data_room_size(
	                           onvm_nflib_shared(ctx)->pktmbuf_pool) -
	                           RTE_PKTMBUF_HEADROOM,
	                       (uint32_t)RTE_MBUF_DEFAULT_DATAROOM * 4);
	if (bpf_dir_create(&b) < 0) {
		onvm_nflib_fini(ctx);
		return 1;
	}
	p = bpf_nf_load(&b, &src, msg, sizeof(msg));
	if (p == NULL) {
		fprintf(stderr, "bpf: %s\n", msg);
		bpf_nf_dir_free(&b);
		onvm_nflib_fini(ctx);
		return 2;
	}
	bpf_nf_publish(&b, p, &src);
	if (src.kind == ONVM_BPF_KIND_FILTER)
		printf("bpf: NF %u serving service %u, keeping packets that %s "
		       "'%s', %s\n",
		       onvm_nflib_nf_id(ctx), onvm_nflib_service_id(ctx),
		       src.invert ? "do not match" : "match", src.filter, msg);
	else
		printf("bpf: NF %u serving service %u, %s\n",
		       onvm_nflib_nf_id(ctx), onvm_nflib_service_id(ctx), msg);
	fflush(stdout);
	rc = pthread_create(&loader, NULL, bpf_loader_main, &b);
	if (rc != 0) {
		fprintf(stderr, "bpf: cannot start its loader thread: %s\n",
		        strerror(rc));
		bpf_nf_dir_free(&b);
		onvm_nflib_fini(ctx);
		return 1;
	}
	rc = onvm_nflib_run(ctx, &handlers, &b);
	if (rc < 0)
		fprintf(stderr, "bpf: %s\n", onvm_nflib_strerror());
	b.loader_stop = 1;
	pthread_join(loader, NULL);
	/* The loop has ended: nothing runs a program any more. */
	if (b.next != NULL) {
		rte_bpf_destroy(b.next->bpf);
		free(b.next);
	}
	bpf_nf_dir_free(&b);
	onvm_nflib_fini(ctx);
	return rc < 0 ? ONVM_NF_EXIT_MANAGER_GONE : 0;
}
