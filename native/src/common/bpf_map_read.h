/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The read side of bpf maps (see onvm/bpf_shared.h), inline: a program's
 * lookup helper runs it once per packet, so the NF compiles it into its
 * helpers; bpf_map.c builds the rest on it. Keys and values of the usual
 * small sizes are compared and copied as words, not through memcmp and
 * memcpy calls.
 */
#ifndef ONVM_BPF_MAP_READ_H
#define ONVM_BPF_MAP_READ_H

#include <errno.h>
#include <string.h>

#include <rte_common.h>
#include <rte_hash_crc.h>
#include <rte_pause.h>

#include <onvm/bpf_shared.h>

#define BPF_SLOT_SEQ 0   /* uint32_t */
#define BPF_SLOT_STATE 4 /* uint32_t, hash maps */
#define BPF_SLOT_HASH 8  /* uint32_t, hash maps */

static inline int
__bpf_is_hash(uint32_t type)
{
	return type == ONVM_BPF_MAP_HASH || type == ONVM_BPF_MAP_PERCPU_HASH;
}

static inline int
__bpf_is_percpu(uint32_t type)
{
	return type == ONVM_BPF_MAP_PERCPU_HASH ||
	       type == ONVM_BPF_MAP_PERCPU_ARRAY;
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

/* CRC32-C of the key: both sides run this very code, so a key hashes
 * alike in the NF and in the manager. */
static inline uint32_t
__bpf_hash(const struct onvm_bpf_map *m, const void *key)
{
	return rte_hash_crc(key, m->key_size, 0x6f6e766d);
}

/* Whole words for the usual key sizes: a copy of a size known only at run
 * time is a call to memcpy, and a load just after that call's stores
 * stalls. */
static inline int
__bpf_key_eq(const void *a, const void *b, uint32_t size)
{
	const char *x = a, *y = b;
	uint64_t x8, y8, x8b, y8b;
	uint32_t x4, y4;
	uint16_t x2, y2;

	switch (size) {
	case 4:
		memcpy(&x4, x, 4);
		memcpy(&y4, y, 4);
		return x4 == y4;
	case 6:
		memcpy(&x4, x, 4);
		memcpy(&y4, y, 4);
		memcpy(&x2, x + 4, 2);
		memcpy(&y2, y + 4, 2);
		return x4 == y4 && x2 == y2;
	case 8:
		memcpy(&x8, x, 8);
		memcpy(&y8, y, 8);
		return x8 == y8;
	case 16:
		memcpy(&x8, x, 8);
		memcpy(&y8, y, 8);
		memcpy(&x8b, x + 8, 8);
		memcpy(&y8b, y + 8, 8);
		return x8 == y8 && x8b == y8b;
	default:
		return memcmp(a, b, size) == 0;
	}
}

/* Copy a value out of a slot: per-CPU lanes summed. */
static inline void
__bpf_value_out(const struct onvm_bpf_map *m, const char *slot, void *value)
{
	const char *v = slot + m->value_offset;
	uint32_t lane, i, n = m->value_size / 8;
	uint64_t *out = value;

	if (m->lanes == 1) {
		/* Fixed sizes compile to single moves. */
		switch (m->value_size) {
		case 2:
			memcpy(value, v, 2);
			return;
		case 4:
			memcpy(value, v, 4);
			return;
		case 8:
			memcpy(value, v, 8);
			return;
		case 16:
			memcpy(value, v, 16);
			return;
		default:
			memcpy(value, v, m->value_size);
			return;
		}
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

/* Read a slot consistently. Returns 1 if it holds @p key (value copied
 * when @p value), 0 if not, -1 if it is empty (the probe ends), -EBUSY. */
static inline int
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
			         __bpf_key_eq(slot + m->key_offset, key,
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

/* The slot holding @p key, or NULL; -EBUSY in *err when a read gave up. */
static inline char *
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

static inline char *
__bpf_array_slot(const struct onvm_bpf_map *m, const void *key)
{
	uint32_t index;

	memcpy(&index, key, sizeof(index));
	return index < m->max_entries ? __bpf_slot(m, index) : NULL;
}

static inline int
__onvm_bpf_map_lookup(struct onvm_bpf_map *m, const void *key, void *value,
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

#endif /* ONVM_BPF_MAP_READ_H */
