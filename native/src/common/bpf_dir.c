/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A bpf NF's directory in shared memory: found by NF id, freed with its
 * maps by the NF on exit or by the manager after a crash, and the request
 * box through which the control plane has the NF load another program.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <rte_memzone.h>

#include <onvm/bpf_shared.h>

#include "nf_zone.h"

struct onvm_bpf_dir *
onvm_bpf_dir_lookup(uint16_t nf_id)
{
	return __onvm_nf_zone_lookup(ONVM_BPF_DIR_FMT, nf_id,
	                             ONVM_BPF_DIR_MAGIC);
}

/* Names of the memzones of NF `nf_id`'s maps, collected by a walk (which
 * holds the memzone list: nothing may be freed during it). */
struct bpf_dir_walk {
	char prefix[RTE_MEMZONE_NAMESIZE];
	char names[ONVM_BPF_MAP_SLOTS * 2][RTE_MEMZONE_NAMESIZE];
	unsigned int n;
};

static void
bpf_dir_collect(const struct rte_memzone *mz, void *arg)
{
	struct bpf_dir_walk *w = arg;

	if (strncmp(mz->name, w->prefix, strlen(w->prefix)) == 0 &&
	    w->n < RTE_DIM(w->names))
		snprintf(w->names[w->n++], RTE_MEMZONE_NAMESIZE, "%s",
		         mz->name);
}

int
onvm_bpf_dir_release(uint16_t nf_id)
{
	static struct bpf_dir_walk w; /* the control thread's alone */
	char name[RTE_MEMZONE_NAMESIZE];
	const struct rte_memzone *mz;
	unsigned int i;
	int freed = 0;

	memset(&w, 0, sizeof(w));
	snprintf(w.prefix, sizeof(w.prefix), ONVM_BPF_MAP_MZ_FMT, nf_id, 0u);
	/* "onvm_bpfm7_0" -> "onvm_bpfm7_" */
	w.prefix[strlen(w.prefix) - 1] = '\0';
	rte_memzone_walk(bpf_dir_collect, &w);
	for (i = 0; i < w.n; i++) {
		mz = rte_memzone_lookup(w.names[i]);
		if (mz != NULL && rte_memzone_free(mz) == 0)
			freed++;
	}
	snprintf(name, sizeof(name), ONVM_BPF_DIR_FMT, nf_id);
	mz = rte_memzone_lookup(name);
	if (mz != NULL && rte_memzone_free(mz) == 0)
		freed++;
	return freed;
}

int64_t
onvm_bpf_request_load(struct onvm_bpf_dir *d, const char *path,
                      const char *section, uint32_t interp)
{
	struct onvm_bpf_request *r = &d->request;
	uint32_t seq = __atomic_load_n(&r->req_seq, __ATOMIC_ACQUIRE);

	if (seq != __atomic_load_n(&r->done_seq, __ATOMIC_ACQUIRE))
		return -EBUSY;
	snprintf(r->path, sizeof(r->path), "%s", path);
	snprintf(r->section, sizeof(r->section), "%s", section);
	r->interp = interp;
	r->message[0] = '\0';
	__atomic_store_n(&r->req_seq, seq + 1, __ATOMIC_RELEASE);
	return (int64_t)(seq + 1);
}

int
onvm_bpf_request_done(const struct onvm_bpf_dir *d, uint32_t seq)
{
	return __atomic_load_n(&d->request.done_seq, __ATOMIC_ACQUIRE) == seq;
}

struct onvm_bpf_map *
onvm_bpf_dir_map(struct onvm_bpf_dir *d, const char *name)
{
	unsigned int i;

	for (i = 0; i < ONVM_BPF_MAP_SLOTS; i++) {
		struct onvm_bpf_map *m = d->maps[i];

		if (m != NULL && strcmp(m->name, name) == 0)
			return m;
	}
	return NULL;
}
