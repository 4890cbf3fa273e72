/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What a bpf NF shares with its manager: its directory (the program it
 * runs, its counters, its maps, and the request box through which the
 * control plane loads another program) and the maps themselves, each in a
 * hugepage memzone of its own. The NF creates and frees them; the manager
 * reads and writes maps for onvm-ctl and Python, and frees what a crashed
 * NF left.
 *
 * Maps take writers from two processes at once, the program and the
 * control plane: every slot has a sequence word that a writer makes odd
 * (compare-and-swap, so writers exclude each other) while it writes and
 * even again after; readers copy a slot and retry while the word was odd
 * or changed. Inserts and deletes of a hash map also hold the map's lock.
 * The program side never waits long: past ONVM_BPF_SPIN_LIMIT tries an
 * update fails (counted in `busy`) and a lookup misses.
 */
#ifndef ONVM_BPF_SHARED_H
#define ONVM_BPF_SHARED_H

#include <stdint.h>

#include <onvm/bpf.h>
#include <onvm/common.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ONVM_BPF_DIR_FMT "onvm_bpf_nf%u"     /* an NF's directory */
#define ONVM_BPF_MAP_MZ_FMT "onvm_bpfm%u_%u" /* NF id, map serial */
#define ONVM_BPF_MAP_SLOTS 32 /* a program's maps and a replacement's */
#define ONVM_BPF_PATH_MAX 256
#define ONVM_BPF_SECTION_MAX 64
#define ONVM_BPF_MSG_MAX 256
#define ONVM_BPF_LANES 2 /* per-CPU maps: the program's, userspace's */
#define ONVM_BPF_SPIN_LIMIT 4096
#define ONVM_BPF_DIR_MAGIC 0x6f627066U /* "obpf" */
#define ONVM_BPF_MAP_MAGIC 0x6f626d70U /* "obmp" */

/* One map, at the start of its memzone; slots follow, each
 * `slot_size` bytes: a sequence word, a state word (hash), the hash (hash),
 * the key (hash), then the value (times `lanes` for per-CPU maps). */
struct onvm_bpf_map {
	uint32_t magic;
	uint32_t type; /* ONVM_BPF_MAP_* */
	uint32_t key_size;
	uint32_t value_size;
	uint32_t max_entries;
	uint32_t nslots; /* a power of two for hash maps */
	uint32_t slot_size;
	uint32_t key_offset; /* within a slot */
	uint32_t value_offset;
	uint32_t lanes;
	volatile uint32_t lock;  /* hash inserts and deletes */
	volatile uint32_t count; /* hash entries in use */
	uint64_t full;           /* inserts refused: max_entries reached */
	uint64_t busy;           /* program-side operations that gave up */
	char name[ONVM_BPF_MAP_NAME_MAX + 1];
	char memzone[32];
} __rte_cache_aligned;

enum onvm_bpf_slot_state {
	ONVM_BPF_SLOT_EMPTY = 0,
	ONVM_BPF_SLOT_FULL = 1,
	ONVM_BPF_SLOT_DELETED = 2, /* a tombstone: probes go on past it */
};

/* What the NF runs: a program (eBPF object) or a compiled filter. */
enum onvm_bpf_kind {
	ONVM_BPF_KIND_NONE = 0,
	ONVM_BPF_KIND_PROGRAM = 1,
	ONVM_BPF_KIND_FILTER = 2,
};

/* Counters of the running NF: packets by the program's verdict (the
 * ONVM_BPF_* values of onvm/bpf.h). */
enum onvm_bpf_verdict_index {
	ONVM_BPF_V_DROP = 0,
	ONVM_BPF_V_PASS = 1,
	ONVM_BPF_V_TX = 2,
	ONVM_BPF_V_REDIRECT = 3,
	ONVM_BPF_V_ABORTED = 4, /* incl. unknown verdicts */
	ONVM_BPF_V_COUNT = 5,
};

/* A load request from the control plane. The control plane fills the
 * request and bumps `req_seq`; the NF's loader thread loads the program
 * (with the NF's traffic still running the old one), switches the data
 * path to it between two bursts, then writes the result and sets
 * `done_seq` to `req_seq`. */
struct onvm_bpf_request {
	volatile uint32_t req_seq;
	volatile uint32_t done_seq;
	uint32_t interp; /* 1: the interpreter, 0: the JIT */
	int32_t result;  /* 0, or a negative errno */
	char path[ONVM_BPF_PATH_MAX];
	char section[ONVM_BPF_SECTION_MAX]; /* "" : the only code section */
	char message[ONVM_BPF_MSG_MAX];     /* the result in one line */
};

/* The directory of one bpf NF, memzone ONVM_BPF_DIR_FMT. `seq` is odd
 * while the NF changes the program or the map list. */
struct onvm_bpf_dir {
	uint32_t magic;
	uint16_t nf_id;
	uint16_t reserved;
	uint32_t generation; /* the NF slot's, when the directory was made */
	volatile uint32_t seq;
	/* The program in force. */
	uint32_t kind; /* enum onvm_bpf_kind */
	uint32_t jit;  /* 1: JIT, 0: interpreter */
	uint32_t window;
	uint32_t loads; /* programs put in force, the first included */
	char path[ONVM_BPF_PATH_MAX];
	char section[ONVM_BPF_SECTION_MAX];
	char filter[ONVM_BPF_PATH_MAX]; /* the expression, for a filter */
	uint32_t invert;
	uint32_t nmaps;
	struct onvm_bpf_map *maps[ONVM_BPF_MAP_SLOTS]; /* NULL: free slot */
	struct onvm_bpf_request request;
	/* Written by the NF's data path only. */
	uint64_t verdicts[ONVM_BPF_V_COUNT] __rte_cache_aligned;
	uint64_t bad_verdicts; /* aborted: unknown value, TX or REDIRECT
	                          without a destination */
	uint64_t copied;       /* frames run from a copy (segmented, shared) */
};

/* Size of the memzone of a map, 0 when the shape is out of bounds. */
uint64_t onvm_bpf_map_bytes(uint32_t type, uint32_t key_size,
                            uint32_t value_size, uint32_t max_entries);

/* Check a map's shape: NULL, or what is wrong in words. */
const char *onvm_bpf_map_shape_error(uint32_t type, uint32_t key_size,
                                     uint32_t value_size, uint32_t max_entries);

/* Lay out an empty map in @p mem (onvm_bpf_map_bytes() long, zeroed). */
void onvm_bpf_map_init(struct onvm_bpf_map *m, const char *name,
                       const char *memzone, uint32_t type, uint32_t key_size,
                       uint32_t value_size, uint32_t max_entries);

/*
 * The map operations, for the program's helpers (@p program non-zero: give
 * up after ONVM_BPF_SPIN_LIMIT tries) and for the control plane (0: wait).
 * Values are value_size bytes; per-CPU maps read as the sum of the lanes.
 * Return 0, or -ENOENT (no such key; out of range for an array), -ENOSPC
 * (hash full), -EBUSY (program side gave up).
 */
int onvm_bpf_map_lookup(struct onvm_bpf_map *m, const void *key, void *value,
                        int program);
int onvm_bpf_map_update(struct onvm_bpf_map *m, const void *key,
                        const void *value, int program);
int onvm_bpf_map_delete(struct onvm_bpf_map *m, const void *key, int program);
/* Add each 8-byte counter of @p delta (the program's lane of a per-CPU
 * map, else atomically), creating a hash entry at zero first. */
int onvm_bpf_map_add(struct onvm_bpf_map *m, const void *key, const void *delta,
                     int program);

/*
 * Walk a map: copies the key and value of the first entry in use at slot
 * @p *cursor or later and sets *cursor past it.
 *
 * @return 1 with an entry, 0 at the end.
 */
int onvm_bpf_map_next(struct onvm_bpf_map *m, uint32_t *cursor, void *key,
                      void *value);

/* Entries in use (hash: count; array: max_entries). */
uint32_t onvm_bpf_map_entries(const struct onvm_bpf_map *m);

/* Empty a map (hash: every entry deleted; array: every value zeroed). */
void onvm_bpf_map_clear(struct onvm_bpf_map *m);

/* The directory of bpf NF @p nf_id, or NULL (none, or not yet made). */
struct onvm_bpf_dir *onvm_bpf_dir_lookup(uint16_t nf_id);

/* Free the directory and every map of NF @p nf_id: its own exit, or the
 * manager's reclaim once it has died. Returns the memzones freed. */
int onvm_bpf_dir_release(uint16_t nf_id);

/* Ask NF @p d to load a program; returns the request's sequence number
 * for onvm_bpf_request_done(), or -EBUSY while one is in progress. */
int64_t onvm_bpf_request_load(struct onvm_bpf_dir *d, const char *path,
                              const char *section, uint32_t interp);

/* 1 once request @p seq is answered (result and message in d->request),
 * else 0. */
int onvm_bpf_request_done(const struct onvm_bpf_dir *d, uint32_t seq);

/* Map @p name of NF @p d, or NULL. */
struct onvm_bpf_map *onvm_bpf_dir_map(struct onvm_bpf_dir *d, const char *name);

#ifdef __cplusplus
}
#endif

#endif /* ONVM_BPF_SHARED_H */
