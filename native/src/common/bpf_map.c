/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * bpf NF maps in shared memory: hash maps (open addressing, linear probes,
 * at most half full) and arrays, each slot guarded by a sequence word, so
 * that the program and the control plane, in two processes, can both read
 * and write while traffic flows (see onvm/bpf_shared.h).
 */
#include <errno.h>
#include <string.h>

#include <rte_common.h>
#include <rte_hash_crc.h>
#include <rte_pause.h>

#include <onvm/bpf_shared.h>

#define BPF_MAP_BYTES_MAX (256ull << 20)
#define BPF_SLOT_SEQ 0   /* uint32_t */
#define BPF_SLOT_STATE 4 /* uint32_t, hash maps */
#define BPF_SLOT_HASH 8  /* uint32_t, hash maps */

static int
__bpf_is_hash(uint32_t type)
{
	return type == ONVM_BPF_MAP_HASH || type == ONVM_BPF_MAP_PERCPU_HASH;
}

static int
__bpf_is_percpu(uint32_t type)
{
	return type == ONVM_BPF_MAP_PERCPU_HASH ||
	       type == ONVM_BPF_MAP_PERCPU_ARRAY;
}

static uint32_t
__bpf_nslots(uint32_t type, uint32_t max_entries)
{
	return __bpf_is_hash(type) ? rte_align32pow2(max_entries * 2)
	                           : max_entries;
}

static uint32_t
__bpf_slot_size(uint32_t type, uint32_t key_size, uint32_t value_size)
{
	uint32_t lanes = __bpf_is_percpu(type) ? ONVM_BPF_LANES : 1;
	uint32_t head =
	    __bpf_is_hash(type) ? 16 + RTE_ALIGN_CEIL(key_size, 8) : 8;

	return head + RTE_ALIGN_CEIL(value_size, 8) * lanes;
}

const char *
onvm_bpf_map_shape_error(uint32_t type, uint32_t key_size, uint32_t value_size,
                         uint32_t max_entries)
{
	if (type < ONVM_BPF_MAP_HASH || type > ONVM_BPF_MAP_PERCPU_ARRAY)
		return "its type is none of hash, array, percpu_hash, "
		       "percpu_array";
	if (max_entries < 1 || max_entries > ONVM_BPF_ENTRIES_MAX)
		return "max_entries must be 1 to 1048576";
	if (value_size < 1 || value_size > ONVM_BPF_VALUE_MAX)
		return "values must be 1 to 1024 bytes";
	if (__bpf_is_hash(type) &&
	    (key_size < 1 || key_size > ONVM_BPF_KEY_MAX))
		return "hash keys must be 1 to 64 bytes";
	if (!__bpf_is_hash(type) && key_size != 4)
		return "array keys are 4-byte indexes";
	if (__bpf_is_percpu(type) && value_size % 8 != 0)
		return "per-CPU values are 8-byte counters: a multiple of 8 "
		       "bytes";
	if (onvm_bpf_map_bytes(type, key_size, value_size, max_entries) == 0)
		return "the map would take more than 256 MiB";
	return NULL;
}

uint64_t
onvm_bpf_map_bytes(uint32_t type, uint32_t key_size, uint32_t value_size,
                   uint32_t max_entries)
{
	uint64_t bytes;

	if (max_entries < 1 || max_entries > ONVM_BPF_ENTRIES_MAX ||
	    key_size > ONVM_BPF_KEY_MAX || value_size > ONVM_BPF_VALUE_MAX)
		return 0;
	bytes = sizeof(struct onvm_bpf_map) +
	        (uint64_t)__bpf_nslots(type, max_entries) *
	            __bpf_slot_size(type, key_size, value_size);
	return bytes > BPF_MAP_BYTES_MAX ? 0 : bytes;
}

void
onvm_bpf_map_init(struct onvm_bpf_map *m, const char *name, const char *memzone,
                  uint32_t type, uint32_t key_size, uint32_t value_size,
                  uint32_t max_entries)
{
	m->type = type;
	m->key_size = key_size;
	m->value_size = value_size;
	m->max_entries = max_entries;
	m->nslots = __bpf_nslots(type, max_entries);
	m->slot_size = __bpf_slot_size(type, key_size, value_size);
	m->key_offset = 16;
	m->value_offset =
	    __bpf_is_hash(type) ? 16 + RTE_ALIGN_CEIL(key_size, 8) : 8;
	m->lanes = __bpf_is_percpu(type) ? ONVM_BPF_LANES : 1;
	snprintf(m->name, sizeof(m->name), "%s", name);
	snprintf(m->memzone, sizeof(m->memzone), "%s", memzone);
	__atomic_store_n(&m->magic, ONVM_BPF_MAP_MAGIC, __ATOMIC_RELEASE);
}

static inline char *
__bpf_slot(const struct onvm_bpf_map *m, uint32_t i)
{
	return (char *)(m + 1) + (size_t)i * m->slot_size;
}

static inline volatile uint32_t *
__bpf_seq(char *slot)
{
	return (volatile uint32_t *)(slot + BPF_SLOT_SEQ);
}

static inline volatile uint32_t *
__bpf_state(char *slot)
{
	return (volatile uint32_t *)(slot + BPF_SLOT_STATE);
}

static inline uint32_t
__bpf_limit(int program)
{
	/* The control plane waits longer, but not for ever: an NF that died
	 * halfway through a write leaves its slot odd. */
	return program ? ONVM_BPF_SPIN_LIMIT : ONVM_BPF_SPIN_LIMIT * 4096;
}

/* Make a slot's sequence odd: this writer's alone until __bpf_write_end. */
static int
__bpf_write_begin(char *slot, int program)
{
	uint32_t limit = __bpf_limit(program), tries = 0;

	for (;;) {
		uint32_t s = __atomic_load_n(__bpf_seq(slot), __ATOMIC_RELAXED);

		if (!(s & 1) && __atomic_compare_exchange_n(
		                    __bpf_seq(slot), &s, s + 1, 0,
		                    __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
			return 0;
		if (++tries >= limit)
			return -EBUSY;
		rte_pause();
	}
}

static void
__bpf_write_end(char *slot)
{
	__atomic_fetch_add(__bpf_seq(slot), 1, __ATOMIC_RELEASE);
}

static int
__bpf_lock(struct onvm_bpf_map *m, int program)
{
	uint32_t limit = __bpf_limit(program), tries = 0;

	for (;;) {
		uint32_t unlocked = 0;

		if (__atomic_compare_exchange_n(&m->lock, &unlocked, 1, 0,
		                                __ATOMIC_ACQUIRE,
		                                __ATOMIC_RELAXED))
			return 0;
		if (++tries >= limit)
			return -EBUSY;
		rte_pause();
	}
}

static void
__bpf_unlock(struct onvm_bpf_map *m)
{
	__atomic_store_n(&m->lock, 0, __ATOMIC_RELEASE);
}

static inline uint32_t
__bpf_hash(const struct onvm_bpf_map *m, const void *key)
{
	return rte_hash_crc(key, m->key_size, 0x6f6e766d);
}

/*
 * Keys and values are a few bytes, of a size known only at run time:
 * compared and copied a word at a time, inline, they cost a fraction of a
 * call to memcmp or memcpy, and a program looks one up per packet.
 */
#define BPF_SMALL_COPY 16

static inline int
__bpf_key_equal(const char *a, const char *b, uint32_t n)
{
	uint64_t x8, y8;
	uint32_t x4, y4;
	uint16_t x2, y2;

	for (; n >= 8; n -= 8, a += 8, b += 8) {
		memcpy(&x8, a, 8);
		memcpy(&y8, b, 8);
		if (x8 != y8)
			return 0;
	}
	if (n & 4) {
		memcpy(&x4, a, 4);
		memcpy(&y4, b, 4);
		if (x4 != y4)
			return 0;
		a += 4;
		b += 4;
	}
	if (n & 2) {
		memcpy(&x2, a, 2);
		memcpy(&y2, b, 2);
		if (x2 != y2)
			return 0;
		a += 2;
		b += 2;
	}
	return !(n & 1) || *a == *b;
}

static inline void
__bpf_copy(char *dst, const char *src, uint32_t n)
{
	if (n > BPF_SMALL_COPY) {
		memcpy(dst, src, n);
		return;
	}
	if (n & 16) {
		memcpy(dst, src, 16);
		dst += 16;
		src += 16;
	}
	if (n & 8) {
		memcpy(dst, src, 8);
		dst += 8;
		src += 8;
	}
	if (n & 4) {
		memcpy(dst, src, 4);
		dst += 4;
		src += 4;
	}
	if (n & 2) {
		memcpy(dst, src, 2);
		dst += 2;
		src += 2;
	}
	if (n & 1)
		*dst = *src;
}

/* Copy a value out of a slot: per-CPU lanes summed. */
static inline void
__bpf_value_out(const struct onvm_bpf_map *m, const char *slot, void *value)
{
	const char *v = slot + m->value_offset;
	uint32_t lane, i, n = m->value_size / 8;
	uint64_t *out = value;

	if (m->lanes == 1) {
		__bpf_copy(value, v, m->value_size);
		return;
	}
	for (i = 0; i < n; i++) {
		uint64_t sum = 0;

		for (lane = 0; lane < m->lanes; lane++) {
			const uint64_t *c =
			    (const uint64_t *)(v +
			                       (size_t)lane * m->value_size);

			sum += __atomic_load_n(&c[i], __ATOMIC_RELAXED);
		}
		out[i] = sum;
	}
}

/* Write a value into a slot being written: per-CPU maps set the writer's
 * lane so that the lanes add up to @p value. */
static void
__bpf_value_in(const struct onvm_bpf_map *m, char *slot, const void *value,
               int program)
{
	char *v = slot + m->value_offset;
	uint32_t mine = program ? 0 : 1, lane, i, n = m->value_size / 8;
	const uint64_t *in = value;

	if (m->lanes == 1) {
		memcpy(v, value, m->value_size);
		return;
	}
	for (i = 0; i < n; i++) {
		uint64_t others = 0;

		for (lane = 0; lane < m->lanes; lane++)
			if (lane != mine)
				others +=
				    ((uint64_t *)(v + (size_t)lane *
				                          m->value_size))[i];
		__atomic_store_n(
		    &((uint64_t *)(v + (size_t)mine * m->value_size))[i],
		    in[i] - others, __ATOMIC_RELAXED);
	}
}

/* Read a slot consistently. Returns 1 if it holds @p key (value copied
 * when @p value), 0 if not, -1 if it is empty (the probe ends), -EBUSY. */
static __rte_always_inline int
__bpf_read_slot(const struct onvm_bpf_map *m, char *slot, uint32_t hash,
                const void *key, void *value, int program)
{
	uint32_t limit = __bpf_limit(program), tries = 0;

	for (;;) {
		uint32_t s1 =
		    __atomic_load_n(__bpf_seq(slot), __ATOMIC_ACQUIRE);
		int found = 0;
		uint32_t state;

		if (!(s1 & 1)) {
			state = *__bpf_state(slot);
			if (state == ONVM_BPF_SLOT_EMPTY)
				found = -1;
			else if (state == ONVM_BPF_SLOT_FULL &&
			         *(volatile uint32_t *)(slot + BPF_SLOT_HASH) ==
			             hash &&
			         __bpf_key_equal(slot + m->key_offset, key,
			                         m->key_size)) {
				found = 1;
				if (value != NULL)
					__bpf_value_out(m, slot, value);
			}
			__atomic_thread_fence(__ATOMIC_ACQUIRE);
			if (__atomic_load_n(__bpf_seq(slot),
			                    __ATOMIC_RELAXED) == s1)
				return found;
		}
		if (++tries >= limit)
			return -EBUSY;
		rte_pause();
	}
}

/* The slot holding @p key, or NULL; -EBUSY in *err when a read gave up.
 * Inlined, with __bpf_read_slot: a program's lookup is then one call. */
static __rte_always_inline char *
__bpf_hash_find(const struct onvm_bpf_map *m, const void *key, uint32_t hash,
                void *value, int program, int *err)
{
	uint32_t mask = m->nslots - 1, i;

	*err = -ENOENT;
	for (i = 0; i < m->nslots; i++) {
		char *slot = __bpf_slot(m, (hash + i) & mask);
		int r = __bpf_read_slot(m, slot, hash, key, value, program);

		if (r == 1) {
			*err = 0;
			return slot;
		}
		if (r == -1)
			return NULL;
		if (r == -EBUSY) {
			*err = -EBUSY;
			return NULL;
		}
	}
	return NULL;
}

static char *
__bpf_array_slot(const struct onvm_bpf_map *m, const void *key)
{
	uint32_t index;

	memcpy(&index, key, sizeof(index));
	return index < m->max_entries ? __bpf_slot(m, index) : NULL;
}

int
onvm_bpf_map_lookup(struct onvm_bpf_map *m, const void *key, void *value,
                    int program)
{
	uint32_t limit, tries = 0;
	char *slot;
	int err;

	if (__bpf_is_hash(m->type)) {
		__bpf_hash_find(m, key, __bpf_hash(m, key), value, program,
		                &err);
		if (err == -EBUSY)
			m->busy += program;
		return err;
	}
	slot = __bpf_array_slot(m, key);
	if (slot == NULL)
		return -ENOENT;
	limit = __bpf_limit(program);
	for (;;) {
		uint32_t s1 =
		    __atomic_load_n(__bpf_seq(slot), __ATOMIC_ACQUIRE);

		if (!(s1 & 1)) {
			__bpf_value_out(m, slot, value);
			__atomic_thread_fence(__ATOMIC_ACQUIRE);
			if (__atomic_load_n(__bpf_seq(slot),
			                    __ATOMIC_RELAXED) == s1)
				return 0;
		}
		if (++tries >= limit) {
			m->busy += program;
			return -EBUSY;
		}
		rte_pause();
	}
}

/* Write @p value (NULL: zeroes) into an existing slot. */
static int
__bpf_slot_write(struct onvm_bpf_map *m, char *slot, const void *value,
                 int program)
{
	if (__bpf_write_begin(slot, program) < 0)
		return -EBUSY;
	if (value == NULL)
		memset(slot + m->value_offset, 0,
		       (size_t)RTE_ALIGN_CEIL(m->value_size, 8) * m->lanes);
	else
		__bpf_value_in(m, slot, value, program);
	__bpf_write_end(slot);
	return 0;
}

/* Insert or update under the map lock. */
static int
__bpf_hash_put(struct onvm_bpf_map *m, const void *key, const void *value,
               int program)
{
	uint32_t hash = __bpf_hash(m, key), mask = m->nslots - 1, i;
	char *slot, *free_slot = NULL;
	int err;

	if (__bpf_lock(m, program) < 0)
		return -EBUSY;
	for (i = 0; i < m->nslots; i++) {
		uint32_t state;

		slot = __bpf_slot(m, (hash + i) & mask);
		state = *__bpf_state(slot);
		if (state == ONVM_BPF_SLOT_FULL &&
		    *(uint32_t *)(slot + BPF_SLOT_HASH) == hash &&
		    __bpf_key_equal(slot + m->key_offset, key, m->key_size)) {
			err = __bpf_slot_write(m, slot, value, program);
			__bpf_unlock(m);
			return err;
		}
		if (state == ONVM_BPF_SLOT_DELETED && free_slot == NULL)
			free_slot = slot;
		if (state == ONVM_BPF_SLOT_EMPTY) {
			if (free_slot == NULL)
				free_slot = slot;
			break;
		}
	}
	if (free_slot == NULL || m->count >= m->max_entries) {
		m->full++;
		__bpf_unlock(m);
		return -ENOSPC;
	}
	if (__bpf_write_begin(free_slot, program) < 0) {
		__bpf_unlock(m);
		return -EBUSY;
	}
	*(uint32_t *)(free_slot + BPF_SLOT_HASH) = hash;
	memcpy(free_slot + m->key_offset, key, m->key_size);
	memset(free_slot + m->value_offset, 0,
	       (size_t)RTE_ALIGN_CEIL(m->value_size, 8) * m->lanes);
	if (value != NULL)
		__bpf_value_in(m, free_slot, value, program);
	*__bpf_state(free_slot) = ONVM_BPF_SLOT_FULL;
	__bpf_write_end(free_slot);
	m->count++;
	__bpf_unlock(m);
	return 0;
}

int
onvm_bpf_map_update(struct onvm_bpf_map *m, const void *key, const void *value,
                    int program)
{
	char *slot;
	int err;

	if (__bpf_is_hash(m->type))
		err = __bpf_hash_put(m, key, value, program);
	else if ((slot = __bpf_array_slot(m, key)) == NULL)
		return -ENOENT;
	else
		err = __bpf_slot_write(m, slot, value, program);
	if (err == -EBUSY)
		m->busy += program;
	return err;
}

int
onvm_bpf_map_delete(struct onvm_bpf_map *m, const void *key, int program)
{
	uint32_t hash, mask = m->nslots - 1, i;
	char *slot;
	int err;

	if (!__bpf_is_hash(m->type)) {
		slot = __bpf_array_slot(m, key);
		if (slot == NULL)
			return -ENOENT;
		err = __bpf_slot_write(m, slot, NULL, program);
		if (err == -EBUSY)
			m->busy += program;
		return err;
	}
	if (__bpf_lock(m, program) < 0) {
		m->busy += program;
		return -EBUSY;
	}
	hash = __bpf_hash(m, key);
	for (i = 0; i < m->nslots; i++) {
		uint32_t state;

		slot = __bpf_slot(m, (hash + i) & mask);
		state = *__bpf_state(slot);
		if (state == ONVM_BPF_SLOT_EMPTY)
			break;
		if (state != ONVM_BPF_SLOT_FULL ||
		    *(uint32_t *)(slot + BPF_SLOT_HASH) != hash ||
		    !__bpf_key_equal(slot + m->key_offset, key, m->key_size))
			continue;
		if (__bpf_write_begin(slot, program) < 0) {
			__bpf_unlock(m);
			m->busy += program;
			return -EBUSY;
		}
		/* A tombstone only where a probe must go on past it. */
		*__bpf_state(slot) =
		    *__bpf_state(__bpf_slot(m, (hash + i + 1) & mask)) ==
		            ONVM_BPF_SLOT_EMPTY
		        ? ONVM_BPF_SLOT_EMPTY
		        : ONVM_BPF_SLOT_DELETED;
		__bpf_write_end(slot);
		m->count--;
		__bpf_unlock(m);
		return 0;
	}
	__bpf_unlock(m);
	return -ENOENT;
}

int
onvm_bpf_map_add(struct onvm_bpf_map *m, const void *key, const void *delta,
                 int program)
{
	const uint64_t *d = delta;
	uint32_t i, n = m->value_size / 8, mine = program ? 0 : 1;
	uint64_t *lane;
	char *slot;
	int err;

	if (m->value_size % 8 != 0)
		return -EINVAL;
	if (__bpf_is_hash(m->type)) {
		uint32_t hash = __bpf_hash(m, key);

		slot = __bpf_hash_find(m, key, hash, NULL, program, &err);
		if (slot == NULL && err == -ENOENT) {
			err = __bpf_hash_put(m, key, NULL, program);
			if (err == 0)
				slot = __bpf_hash_find(m, key, hash, NULL,
				                       program, &err);
		}
		if (slot == NULL) {
			if (err == -EBUSY)
				m->busy += program;
			return err;
		}
	} else if ((slot = __bpf_array_slot(m, key)) == NULL) {
		return -ENOENT;
	}
	if (m->lanes > 1) {
		/* This lane has one writer: no atomic read-modify-write. */
		lane = (uint64_t *)(slot + m->value_offset +
		                    (size_t)mine * m->value_size);
		for (i = 0; i < n; i++)
			__atomic_store_n(&lane[i], lane[i] + d[i],
			                 __ATOMIC_RELAXED);
		return 0;
	}
	lane = (uint64_t *)(slot + m->value_offset);
	for (i = 0; i < n; i++)
		__atomic_fetch_add(&lane[i], d[i], __ATOMIC_RELAXED);
	return 0;
}

int
onvm_bpf_map_next(struct onvm_bpf_map *m, uint32_t *cursor, void *key,
                  void *value)
{
	uint32_t i, tries = 0;

	for (i = *cursor; i < m->nslots; i++) {
		char *slot = __bpf_slot(m, i);

		if (!__bpf_is_hash(m->type)) {
			memcpy(key, &i, sizeof(i));
			if (onvm_bpf_map_lookup(m, key, value, 0) != 0)
				continue;
			*cursor = i + 1;
			return 1;
		}
		for (;;) {
			uint32_t s1 =
			    __atomic_load_n(__bpf_seq(slot), __ATOMIC_ACQUIRE);
			int full;

			if (s1 & 1) {
				/* A writer that died halfway: skip it. */
				if (++tries >= __bpf_limit(0))
					break;
				rte_pause();
				continue;
			}
			full = *__bpf_state(slot) == ONVM_BPF_SLOT_FULL;
			if (full) {
				memcpy(key, slot + m->key_offset, m->key_size);
				__bpf_value_out(m, slot, value);
			}
			__atomic_thread_fence(__ATOMIC_ACQUIRE);
			if (__atomic_load_n(__bpf_seq(slot),
			                    __ATOMIC_RELAXED) != s1)
				continue;
			if (!full)
				break;
			*cursor = i + 1;
			return 1;
		}
	}
	*cursor = m->nslots;
	return 0;
}

uint32_t
onvm_bpf_map_entries(const struct onvm_bpf_map *m)
{
	return __bpf_is_hash(m->type) ? m->count : m->max_entries;
}

void
onvm_bpf_map_clear(struct onvm_bpf_map *m)
{
	uint8_t key[ONVM_BPF_KEY_MAX];
	uint8_t value[ONVM_BPF_VALUE_MAX];
	uint32_t cursor = 0, index;

	if (!__bpf_is_hash(m->type)) {
		for (index = 0; index < m->max_entries; index++)
			onvm_bpf_map_delete(m, &index, 0);
		return;
	}
	while (onvm_bpf_map_next(m, &cursor, key, value) == 1)
		onvm_bpf_map_delete(m, key, 0);
}
