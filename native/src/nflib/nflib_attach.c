/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Joining a manager: check that it runs, start EAL as its secondary, find
 * the shared objects, claim an NF slot and register. Registration is a
 * handshake on the slot's state word: the manager's control worker answers
 * within microseconds and wakes the NF, no polling with sleeps.
 */
#define _GNU_SOURCE /* sched_getaffinity */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_log.h>
#include <rte_memzone.h>
#include <rte_mempool.h>
#include <rte_ring.h>

#include <onvm/pkt_time.h>

#include "../common/wake.h"
#include "nflib_internal.h"

static struct onvm_nf_ctx *__onvm_nflib_signal_ctx;

/* The manager holds an exclusive lock on its lock file while it runs. */
static int
__onvm_manager_running(const char *manager)
{
	char path[256];
	int fd, locked;

	snprintf(path, sizeof(path), ONVM_RUNTIME_DIR_FMT "/%s", manager,
	         ONVM_MANAGER_LOCK_FILE);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	locked = flock(fd, LOCK_SH | LOCK_NB) < 0 && errno == EWOULDBLOCK;
	close(fd);
	return locked;
}

/* "(0,1,...)": every CPU this process may run on. */
static void
__onvm_allowed_cpus(char *buf, size_t size)
{
	cpu_set_t set;
	size_t used;
	int cpu;

	used = (size_t)snprintf(buf, size, "(");
	if (sched_getaffinity(0, sizeof(set), &set) == 0) {
		for (cpu = 0; cpu < CPU_SETSIZE && used + 8 < size; cpu++)
			if (CPU_ISSET(cpu, &set))
				used += (size_t)snprintf(
				    buf + used, size - used, "%s%d",
				    used > 1 ? "," : "", cpu);
	}
	if (used == 1)
		used += (size_t)snprintf(buf + used, size - used, "0");
	snprintf(buf + used, size - used, ")");
}

/* Last line DPDK logged, for an error message. */
static void
__onvm_last_log_line(const char *log, char *line, size_t size)
{
	const char *end = log + strlen(log);
	const char *start;

	while (end > log && (end[-1] == '\n' || end[-1] == ' '))
		end--;
	start = end;
	while (start > log && start[-1] != '\n')
		start--;
	snprintf(line, size, "%.*s", (int)(end - start), start);
}

static int
__onvm_eal_init(const struct __onvm_nf_options *o, const char *prog)
{
	char prefix[64], lcores[300], cpus[256], detail[200];
	/* DPDK stops at 256-bit SIMD unless told otherwise; NFs do their
	 * per-packet work in libraries such as rte_acl, which classifies 32
	 * flows at once with AVX-512 where the CPU has it (a quarter less time
	 * per packet than with 16) and falls back where it has not. */
	char *eal_argv[] = {
	    (char *)prog,
	    "--proc-type=secondary",
	    prefix,
	    lcores,
	    "--no-pci",
	    "--no-telemetry",
	    "--log-level=lib.eal:error",
	    "--force-max-simd-bitwidth=512",
	    NULL,
	};
	char *log = NULL;
	size_t log_size = 0;
	FILE *log_stream;
	int rc, err, saved_stderr, quiet;

	snprintf(prefix, sizeof(prefix), "--file-prefix=" ONVM_FILE_PREFIX_FMT,
	         o->manager);
	if (o->core >= 0)
		snprintf(cpus, sizeof(cpus), "%d", o->core);
	else
		__onvm_allowed_cpus(cpus, sizeof(cpus));
	snprintf(lcores, sizeof(lcores), "--lcores=%d@%s", ONVM_NF_LCORE_ID,
	         cpus);

	/* Keep DPDK's own lines for the error message, off the terminal: its
	 * log, and what it prints straight to stderr when it gives up (the
	 * same words reach the log too). */
	log_stream = open_memstream(&log, &log_size);
	if (log_stream)
		rte_openlog_stream(log_stream);
	fflush(stderr);
	saved_stderr = dup(STDERR_FILENO);
	quiet = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (saved_stderr >= 0 && quiet >= 0)
		dup2(quiet, STDERR_FILENO);
	rc = rte_eal_init((int)RTE_DIM(eal_argv) - 1, eal_argv);
	err = rte_errno;
	if (saved_stderr >= 0) {
		fflush(stderr);
		dup2(saved_stderr, STDERR_FILENO);
		close(saved_stderr);
	}
	if (quiet >= 0)
		close(quiet);
	if (log_stream) {
		fflush(log_stream);
		rte_openlog_stream(NULL);
		__onvm_last_log_line(log ? log : "", detail, sizeof(detail));
		fclose(log_stream);
		free(log);
	}
	if (rc < 0 && err != 0)
		return __onvm_nflib_error(
		    err,
		    "cannot join manager '%s' as a DPDK secondary: %s (%s)",
		    o->manager, rte_strerror(err), detail);
	if (rc < 0) /* an errno of 0 would read "Success" */
		return __onvm_nflib_error(
		    EIO, "cannot join manager '%s' as a DPDK secondary: %s",
		    o->manager,
		    detail[0] ? detail : "EAL initialisation failed");
	return 0;
}

/* A floating NF should not compete with the manager's busy-polling workers
 * when other CPUs exist. */
static void
__onvm_avoid_worker_cpus(uint64_t worker_mask)
{
	cpu_set_t set;
	int cpu, left = 0;

	if (sched_getaffinity(0, sizeof(set), &set) != 0)
		return;
	for (cpu = 0; cpu < 64; cpu++)
		if (worker_mask & (UINT64_C(1) << cpu))
			CPU_CLR(cpu, &set);
	for (cpu = 0; cpu < CPU_SETSIZE; cpu++)
		left += CPU_ISSET(cpu, &set);
	if (left > 0)
		pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

/* Tell the manager this NF leaves; if its ring is full the manager sees
 * the pid go instead. */
static void
__onvm_unregister(struct onvm_nf_ctx *ctx)
{
	if (!ctx->registered)
		return;
	rte_ring_enqueue(ctx->sh->mgr_msg_ring,
	                 onvm_msg_encode(ONVM_MSG_NF_UNREGISTER, ctx->nf_id,
	                                 ctx->nf->generation));
	ctx->registered = 0;
}

/* Move to the CPU the manager gave this dedicated NF at registration. */
static int
__onvm_take_dedicated_cpu(struct onvm_nf_ctx *ctx)
{
	int cpu = ctx->nf->core, rc;
	cpu_set_t set;

	CPU_ZERO(&set);
	if (cpu >= 0 && cpu < CPU_SETSIZE)
		CPU_SET(cpu, &set);
	rc = cpu < 0
	         ? EPROTO
	         : pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	if (rc == 0)
		return 0;
	/* Registered already: leave, or the manager counts it as running. */
	__onvm_unregister(ctx);
	if (cpu < 0)
		return __onvm_nflib_error(
		    EPROTO,
		    "manager '%s' gave this dedicated NF no CPU: "
		    "rebuild the NF and the manager from one source",
		    ctx->opts.manager);
	return __onvm_nflib_error(rc,
	                          "cannot run on CPU %d, which manager '%s' "
	                          "gave this dedicated NF: %s (is the CPU in "
	                          "this process's cpuset?)",
	                          cpu, ctx->opts.manager, strerror(rc));
}

/* Name of this process's mempool handler number @p index, or NULL. */
static const char *
__onvm_pool_ops_name(int32_t index)
{
	if (index < 0 || (uint32_t)index >= rte_mempool_ops_table.num_ops)
		return NULL;
	return rte_mempool_get_ops(index)->name;
}

static int
__onvm_attach_shared(struct onvm_nf_ctx *ctx)
{
	const struct rte_memzone *mz = rte_memzone_lookup(ONVM_MZ_SHARED);
	const char *mine;

	if (mz == NULL)
		return __onvm_nflib_error(
		    ENOENT,
		    "manager '%s' has no onvm shared memory: is it an onvm "
		    "manager that finished starting?",
		    ctx->opts.manager);
	ctx->sh = mz->addr;
	if (ctx->sh->magic != ONVM_SHARED_MAGIC ||
	    ctx->sh->abi_version != ONVM_ABI_VERSION)
		return __onvm_nflib_error(
		    EPROTO,
		    "manager '%s' speaks onvm ABI %u, this NF %u: rebuild the "
		    "NF against the running onvm",
		    ctx->opts.manager, ctx->sh->abi_version, ONVM_ABI_VERSION);
	ctx->pool = ctx->sh->pktmbuf_pool;
	/* Getting and putting packets go through the handler of the pool's
	 * number in this process: another one would corrupt the pool. */
	mine = __onvm_pool_ops_name(ctx->pool->ops_index);
	if (mine == NULL || strncmp(mine, ctx->sh->pktmbuf_pool_ops,
	                            sizeof(ctx->sh->pktmbuf_pool_ops)) != 0)
		return __onvm_nflib_error(
		    EPROTO,
		    "manager '%s' keeps packets with mempool handler %d "
		    "('%.*s'), which this NF has as '%s': link the NF with "
		    "librte_mempool_ring first (README, Writing a C NF) and "
		    "leave --mbuf-pool-ops-name out of the manager's EAL "
		    "arguments",
		    ctx->opts.manager, (int)ctx->pool->ops_index,
		    (int)sizeof(ctx->sh->pktmbuf_pool_ops),
		    ctx->sh->pktmbuf_pool_ops, mine ? mine : "none");
	if (ctx->opts.core < 0 && !ctx->opts.dedicated)
		__onvm_avoid_worker_cpus(ctx->sh->worker_cpu_mask);
	if (onvm_pkt_meta_lookup() < 0 ||
	    onvm_pkt_meta_offset != ctx->sh->pkt_meta_offset)
		return __onvm_nflib_error(
		    EPROTO, "packet metadata field of manager '%s' not found",
		    ctx->opts.manager);
	onvm_pkt_time_lookup(ctx->sh); /* ports' RX timestamps, if any */
	return 0;
}

static int
__onvm_claim_slot(struct onvm_nf_ctx *ctx)
{
	unsigned int id;

	for (id = 1; id < ONVM_MAX_NFS; id++) {
		struct onvm_nf *nf = &ctx->sh->nfs[id];
		uint32_t expected = ONVM_NF_FREE;

		if (!__atomic_compare_exchange_n(
		        &nf->state, &expected, ONVM_NF_STARTING, 0,
		        __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
			continue;
		nf->generation++;
		nf->service_id = (uint16_t)ctx->opts.service_id;
		nf->pid = getpid();
		nf->core = ctx->opts.core;
		if (ctx->opts.dedicated)
			nf->flags = ONVM_NF_FLAG_DEDICATED; /* and busy-polls */
		else
			nf->flags =
			    ctx->opts.busy_poll ? 0 : ONVM_NF_FLAG_SHARED_CORE;
		nf->reject_errno = 0;
		snprintf(nf->name, sizeof(nf->name), "%s", ctx->opts.nf_name);
		ctx->nf = nf;
		ctx->nf_id = (uint16_t)id;
		return 0;
	}
	return __onvm_nflib_error(
	    ENOSPC, "manager '%s' already runs %d NFs: stop one first",
	    ctx->opts.manager, ONVM_MAX_NFS - 1);
}

static int
__onvm_register(struct onvm_nf_ctx *ctx)
{
	struct onvm_nf *nf = ctx->nf;
	void *msg =
	    onvm_msg_encode(ONVM_MSG_NF_REGISTER, ctx->nf_id, nf->generation);
	unsigned int waited_ms = 0;
	uint32_t state;

	__atomic_thread_fence(__ATOMIC_RELEASE);
	if (rte_ring_enqueue(ctx->sh->mgr_msg_ring, msg) < 0)
		return __onvm_nflib_error(EBUSY,
		                          "manager '%s' is not taking "
		                          "registrations (message ring full)",
		                          ctx->opts.manager);
	while ((state = __atomic_load_n(&nf->state, __ATOMIC_ACQUIRE)) ==
	       ONVM_NF_STARTING) {
		if (waited_ms >= ONVM_REGISTER_TIMEOUT_MS ||
		    !__onvm_manager_running(ctx->opts.manager))
			return __onvm_nflib_error(
			    ETIMEDOUT,
			    "manager '%s' did not answer the registration: is "
			    "its data plane running?",
			    ctx->opts.manager);
		__onvm_wait_word(&nf->state, ONVM_NF_STARTING, 100000000ULL);
		waited_ms += 100;
	}
	if (state == ONVM_NF_REJECTED) {
		int err = nf->reject_errno;

		__atomic_store_n(&nf->state, ONVM_NF_FREE, __ATOMIC_RELEASE);
		if (err == ENOSPC)
			return __onvm_nflib_error(
			    ENOSPC, "service %ld already has %d instances",
			    ctx->opts.service_id, ONVM_MAX_INSTANCES);
		if (err == EBUSY)
			return __onvm_nflib_error(
			    EBUSY,
			    "manager '%s' has no free CPU for a dedicated NF "
			    "(each runs its control thread, a worker or "
			    "another "
			    "NF): start this one without --dedicated, or with "
			    "--core N",
			    ctx->opts.manager);
		return __onvm_nflib_error(err,
		                          "manager refused service %ld: %s",
		                          ctx->opts.service_id, strerror(err));
	}
	ctx->registered = 1;
	return 0;
}

static void
__onvm_on_signal(int sig)
{
	RTE_SET_USED(sig);
	if (__onvm_nflib_signal_ctx)
		onvm_nflib_stop(__onvm_nflib_signal_ctx);
}

int
onvm_nflib_init(int argc, char **argv, const char *nf_name,
                struct onvm_nf_ctx **ctx_out)
{
	struct onvm_nf_ctx *ctx;
	int new_argc, rc;

	ctx = calloc(1, sizeof(*ctx));
	if (ctx == NULL)
		return __onvm_nflib_error(ENOMEM, "out of memory");
	strcpy(ctx->opts.manager, ONVM_DEFAULT_MANAGER);
	strncpy(ctx->opts.nf_name, nf_name ? nf_name : "nf",
	        sizeof(ctx->opts.nf_name) - 1);
	ctx->opts.core = -1;
	new_argc = __onvm_nflib_parse_args(argc, argv, &ctx->opts);
	if (new_argc < 0) {
		free(ctx);
		return new_argc;
	}
	if (geteuid() != 0)
		rc = __onvm_nflib_error(
		    EPERM,
		    "NFs need root for hugepage memory: run as root (sudo)");
	else if (!__onvm_manager_running(ctx->opts.manager))
		rc = __onvm_nflib_error(
		    ENOENT,
		    "no manager named '%s' is running: start one with "
		    "`onvm-manager start --name %s`",
		    ctx->opts.manager, ctx->opts.manager);
	else
		rc = __onvm_eal_init(&ctx->opts, argv[0]);
	if (rc == 0)
		rc = __onvm_attach_shared(ctx);
	if (rc == 0)
		rc = __onvm_claim_slot(ctx);
	if (rc == 0)
		rc = __onvm_register(ctx);
	if (rc == 0 && ctx->opts.dedicated)
		rc = __onvm_take_dedicated_cpu(ctx);
	if (rc < 0) {
		free(ctx);
		return rc;
	}
	__onvm_nflib_signal_ctx = ctx;
	signal(SIGINT, __onvm_on_signal);
	signal(SIGTERM, __onvm_on_signal);
	*ctx_out = ctx;
	return new_argc;
}

void
onvm_nflib_fini(struct onvm_nf_ctx *ctx)
{
	if (ctx == NULL)
		return;
	if (ctx->registered) {
		__onvm_nflib_free_all_held(ctx);
		/* Messages nobody will read go back to the pool. */
		__onvm_nflib_take_msgs(ctx, NULL, NULL);
	}
	__onvm_unregister(ctx);
	__onvm_nflib_signal_ctx = NULL;
	rte_eal_cleanup();
	free(ctx);
}
