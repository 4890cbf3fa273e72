/* SPDX-License-Identifier: BSD-3-Clause */
/* The bpf NF's own state, shared by its sources. */
#ifndef BPF_NF_H
#define BPF_NF_H

#include <stdint.h>

#include <rte_bpf.h>

#include <onvm/bpf_shared.h>
#include <onvm/nflib.h>

#define BPF_NF "bpf"
/* The frame windows the loader tries, smallest first; the largest is the
 * pool's data room. */
#define BPF_WINDOW_MIN 64
#define BPF_LOADER_POLL_US 2000
/* A load's result in one line: a path, DPDK's reason and what to do. A
 * request's answer keeps the first ONVM_BPF_MSG_MAX bytes of it. */
#define BPF_LINE_MAX 1024

/* A map the command line declares (--map NAME:TYPE:KEY:VALUE:ENTRIES). */
struct bpf_map_spec {
	char name[ONVM_BPF_MAP_NAME_MAX + 1];
	struct onvm_bpf_map_def def;
};

/* What to load: a program or a filter. */
struct bpf_source {
	uint32_t kind; /* ONVM_BPF_KIND_PROGRAM or _FILTER */
	int interp;
	int invert; /* filter: keep what does not match */
	char path[ONVM_BPF_PATH_MAX];
	char section[ONVM_BPF_SECTION_MAX];
	char filter[ONVM_BPF_PATH_MAX];
};

/* A loaded program, immutable once the data path may run it. */
struct bpf_prog {
	struct rte_bpf *bpf;
	uint64_t (*jit)(void *); /* NULL: the interpreter */
	uint32_t kind;
	uint32_t window; /* bytes of frame the program may address */
	int invert;      /* filters */
	int uses_md;     /* the program reads or writes onvm_md */
	uint32_t maps;   /* map slots it uses, a bit each */
	char section[ONVM_BPF_SECTION_MAX]; /* the code section it runs */
	struct bpf_prog *retired_next;      /* the loader's list to destroy */
};

struct bpf_nf {
	struct onvm_nf_ctx *ctx;
	struct onvm_bpf_dir *dir;
	const struct rte_memzone *dir_mz;
	struct bpf_map_spec specs[ONVM_BPF_MAX_MAPS]; /* from --map */
	unsigned int nspecs;
	uint32_t window_max; /* the pool's data room */
	uint32_t map_serial;
	/* The program in force: the loader publishes `next`, the data path
	 * takes it between bursts and says so in `in_use`. */
	struct bpf_prog *volatile next;
	struct bpf_prog *volatile in_use;
	struct bpf_prog *cur; /* the data path's own copy */
	volatile int loader_stop;
};

/* The map slots the helpers reach (bpf_run.c). */
extern struct onvm_bpf_map *bpf_slot_maps[ONVM_BPF_MAP_SLOTS];

/* bpf_run.c: the data path and the helpers the programs call. */
void bpf_nf_verdicts(struct rte_mbuf **pkts, uint16_t n, uint32_t *verdicts,
                     void *user);
/* The helper symbols of a program using the maps in @p slots; returns how
 * many were written into @p xsym (room for all). */
unsigned int bpf_nf_xsyms(struct rte_bpf_xsym *xsym, uint32_t slots);
#define BPF_NF_XSYMS_MAX (4 + 8 * ONVM_BPF_MAP_SLOTS)

/* bpf_load.c: map types as --map spells them, by ONVM_BPF_MAP_*; whether
 * @p name can name a map (a C name of 1 to ONVM_BPF_MAP_NAME_MAX). */
extern const char *const bpf_map_type_names[ONVM_BPF_MAP_PERCPU_ARRAY + 1];
int bpf_name_ok(const char *name);

/* bpf_load.c: load a program or filter; on failure NULL and one line in
 * @p err. */
struct bpf_prog *bpf_nf_load(struct bpf_nf *b, const struct bpf_source *src,
                             char *err, size_t errlen);
/* Put a program in force (the data path takes it at its next burst) and
 * record it in the directory. */
void bpf_nf_publish(struct bpf_nf *b, struct bpf_prog *p,
                    const struct bpf_source *src);
/* Destroy a program no burst runs any more, with the maps only it used. */
void bpf_nf_destroy(struct bpf_nf *b, struct bpf_prog *p);
/* Free every map and the directory. */
void bpf_nf_dir_free(struct bpf_nf *b);

#endif /* BPF_NF_H */
