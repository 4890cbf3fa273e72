/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The bpf NF's data path: run the program in force on every packet of a
 * burst and turn its verdicts into onvm actions; and the helpers programs
 * call, one set of map helpers per map slot (the validator checks each
 * call's key and value sizes against its map).
 */
#include <string.h>

#include <rte_cycles.h>
#include <rte_mbuf.h>
#include <rte_prefetch.h>

#include <onvm/flow.h>

#include "bpf_map_read.h"
#include "bpf_nf.h"

struct onvm_bpf_map *bpf_slot_maps[ONVM_BPF_MAP_SLOTS];

/* The packet being run, for the helpers; one data path thread. */
static struct onvm_bpf_md bpf_md;
static struct rte_mbuf *bpf_pkt;
/* Frames that cannot be run in place are copied here. */
static uint8_t bpf_scratch[RTE_MBUF_DEFAULT_DATAROOM * 4] __rte_cache_aligned;

static uint64_t
bpf_helper_flow_hash(uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4,
                     uint64_t a5)
{
	return onvm_pkt_flow_hash(bpf_pkt);
}

static uint64_t
bpf_helper_time_ns(uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4,
                   uint64_t a5)
{
	return onvm_tsc_ns(rte_rdtsc());
}

static uint64_t
bpf_helper_ipv4_csum(uint64_t ip, uint64_t a2, uint64_t a3, uint64_t a4,
                     uint64_t a5)
{
	uint8_t *h = (uint8_t *)(uintptr_t)ip;
	uint32_t sum = 0;
	unsigned int i;

	h[10] = h[11] = 0;
	for (i = 0; i < 20; i += 2)
		sum += (uint32_t)(h[i] << 8 | h[i + 1]);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = ~sum & 0xffff;
	h[10] = (uint8_t)(sum >> 8);
	h[11] = (uint8_t)sum;
	return 0;
}

/* Map helpers: 0, or -1 (absent, full, busy). */
#define BPF_MAP_HELPERS(i)                                                     \
	static uint64_t bpf_lookup_##i(uint64_t k, uint64_t v, uint64_t a3,    \
	                               uint64_t a4, uint64_t a5)               \
	{                                                                      \
		return __onvm_bpf_map_lookup(bpf_slot_maps[i], (void *)k,      \
		                             (void *)v, 1) == 0                \
		           ? 0                                                 \
		           : UINT64_MAX;                                       \
	}                                                                      \
	static uint64_t bpf_update_##i(uint64_t k, uint64_t v, uint64_t a3,    \
	                               uint64_t a4, uint64_t a5)               \
	{                                                                      \
		return onvm_bpf_map_update(bpf_slot_maps[i], (void *)k,        \
		                           (void *)v, 1) == 0                  \
		           ? 0                                                 \
		           : UINT64_MAX;                                       \
	}                                                                      \
	static uint64_t bpf_delete_##i(uint64_t k, uint64_t a2, uint64_t a3,   \
	                               uint64_t a4, uint64_t a5)               \
	{                                                                      \
		return onvm_bpf_map_delete(bpf_slot_maps[i], (void *)k, 1) ==  \
		               0                                               \
		           ? 0                                                 \
		           : UINT64_MAX;                                       \
	}                                                                      \
	static uint64_t bpf_add_##i(uint64_t k, uint64_t v, uint64_t a3,       \
	                            uint64_t a4, uint64_t a5)                  \
	{                                                                      \
		return onvm_bpf_map_add(bpf_slot_maps[i], (void *)k,           \
		                        (void *)v, 1) == 0                     \
		           ? 0                                                 \
		           : UINT64_MAX;                                       \
	}

#define BPF_MAP_HELPERS_4(a, b, c, d)                                          \
	BPF_MAP_HELPERS(a)                                                     \
	BPF_MAP_HELPERS(b) BPF_MAP_HELPERS(c) BPF_MAP_HELPERS(d)
BPF_MAP_HELPERS_4(0, 1, 2, 3)
BPF_MAP_HELPERS_4(4, 5, 6, 7)
BPF_MAP_HELPERS_4(8, 9, 10, 11)
BPF_MAP_HELPERS_4(12, 13, 14, 15)
BPF_MAP_HELPERS_4(16, 17, 18, 19)
BPF_MAP_HELPERS_4(20, 21, 22, 23)
BPF_MAP_HELPERS_4(24, 25, 26, 27)
BPF_MAP_HELPERS_4(28, 29, 30, 31)

typedef uint64_t (*bpf_helper_t)(uint64_t, uint64_t, uint64_t, uint64_t,
                                 uint64_t);
#define BPF_SLOT_OPS(i)                                                        \
	{                                                                      \
		bpf_lookup_##i, bpf_update_##i, bpf_delete_##i, bpf_add_##i    \
	}
#define BPF_SLOT_OPS_4(a, b, c, d)                                             \
	BPF_SLOT_OPS(a), BPF_SLOT_OPS(b), BPF_SLOT_OPS(c), BPF_SLOT_OPS(d)
static const bpf_helper_t bpf_slot_ops[ONVM_BPF_MAP_SLOTS][4] = {
    BPF_SLOT_OPS_4(0, 1, 2, 3),     BPF_SLOT_OPS_4(4, 5, 6, 7),
    BPF_SLOT_OPS_4(8, 9, 10, 11),   BPF_SLOT_OPS_4(12, 13, 14, 15),
    BPF_SLOT_OPS_4(16, 17, 18, 19), BPF_SLOT_OPS_4(20, 21, 22, 23),
    BPF_SLOT_OPS_4(24, 25, 26, 27), BPF_SLOT_OPS_4(28, 29, 30, 31),
};
/* Each op by two names: NAME__op, and NAME__op_elem (what onvm/bpf.h's
 * inline wrappers call). */
static const char *const bpf_op_names[8] = {
    "lookup",      "update",      "delete",      "add",
    "lookup_elem", "update_elem", "delete_elem", "add_elem"};

static char bpf_sym_names[ONVM_BPF_MAP_SLOTS][8][ONVM_BPF_MAP_NAME_MAX + 14];

static void
bpf_func(struct rte_bpf_xsym *x, const char *name, bpf_helper_t f,
         uint32_t nb_args)
{
	memset(x, 0, sizeof(*x));
	x->name = name;
	x->type = RTE_BPF_XTYPE_FUNC;
	x->func.val = f;
	x->func.nb_args = nb_args;
	x->func.ret.type = RTE_BPF_ARG_RAW;
	x->func.ret.size = sizeof(uint64_t);
}

unsigned int
bpf_nf_xsyms(struct rte_bpf_xsym *xsym, uint32_t slots)
{
	unsigned int n = 0, i, op;

	memset(&xsym[n], 0, sizeof(xsym[n]));
	xsym[n].name = "onvm_md";
	xsym[n].type = RTE_BPF_XTYPE_VAR;
	xsym[n].var.val = &bpf_md;
	xsym[n].var.desc.type = RTE_BPF_ARG_PTR;
	xsym[n].var.desc.size = sizeof(bpf_md);
	n++;
	bpf_func(&xsym[n++], "onvm_bpf_flow_hash", bpf_helper_flow_hash, 0);
	bpf_func(&xsym[n++], "onvm_bpf_time_ns", bpf_helper_time_ns, 0);
	bpf_func(&xsym[n], "onvm_bpf_ipv4_csum", bpf_helper_ipv4_csum, 1);
	xsym[n].func.args[0].type = RTE_BPF_ARG_PTR;
	xsym[n].func.args[0].size = 20;
	n++;
	for (i = 0; i < ONVM_BPF_MAP_SLOTS; i++) {
		const struct onvm_bpf_map *m = bpf_slot_maps[i];

		if (!(slots & (1u << i)) || m == NULL)
			continue;
		for (op = 0; op < 8; op++) {
			struct rte_bpf_xsym *x = &xsym[n++];

			snprintf(bpf_sym_names[i][op],
			         sizeof(bpf_sym_names[i][op]), "%s__%s",
			         m->name, bpf_op_names[op]);
			bpf_func(x, bpf_sym_names[i][op],
			         bpf_slot_ops[i][op % 4], op % 4 == 2 ? 1 : 2);
			x->func.args[0].type = RTE_BPF_ARG_PTR;
			x->func.args[0].size = m->key_size;
			if (op % 4 != 2) {
				x->func.args[1].type = RTE_BPF_ARG_PTR;
				x->func.args[1].size = m->value_size;
			}
		}
	}
	return n;
}

/* The frame the program sees: the packet itself when its first segment
 * has room for the whole window (zeroed past the frame), else a copy. */
static uint8_t *
bpf_frame(struct onvm_bpf_dir *dir, struct rte_mbuf *m, uint32_t window,
          int *copied)
{
	uint32_t len = rte_pktmbuf_data_len(m);
	uint8_t *frame;

	if (likely(m->nb_segs == 1 && RTE_MBUF_DIRECT(m) &&
	           rte_mbuf_refcnt_read(m) == 1 &&
	           (uint32_t)m->data_off + window <= m->buf_len)) {
		*copied = 0;
		frame = rte_pktmbuf_mtod(m, uint8_t *);
		if (len < window)
			memset(frame + len, 0, window - len);
		return frame;
	}
	*copied = 1;
	dir->copied++;
	len = RTE_MIN(rte_pktmbuf_pkt_len(m), window);
	rte_pktmbuf_read(m, 0, len, bpf_scratch);
	memset(bpf_scratch + len, 0, window - len);
	return bpf_scratch;
}

/* Write a copy's changes back, where the packet is this NF's to write. */
static void
bpf_frame_back(struct rte_mbuf *m, uint32_t window)
{
	uint32_t left = RTE_MIN(rte_pktmbuf_pkt_len(m), window), off = 0;
	struct rte_mbuf *seg;

	if (!RTE_MBUF_DIRECT(m) || rte_mbuf_refcnt_read(m) != 1)
		return;
	for (seg = m; seg != NULL && left > 0; seg = seg->next) {
		uint32_t n = RTE_MIN(left, (uint32_t)seg->data_len);

		memcpy(rte_pktmbuf_mtod(seg, uint8_t *), bpf_scratch + off, n);
		off += n;
		left -= n;
	}
}

static inline uint64_t
bpf_exec(const struct bpf_prog *p, void *arg)
{
	return p->jit != NULL ? p->jit(arg) : rte_bpf_exec(p->bpf, arg);
}

/* A burst's verdicts, counted on the stack, into the directory at once. */
static inline void
bpf_count(struct onvm_bpf_dir *dir, const uint64_t v[ONVM_BPF_V_COUNT])
{
	unsigned int i;

	for (i = 0; i < ONVM_BPF_V_COUNT; i++)
		dir->verdicts[i] += v[i];
}

static void
bpf_run_filter(struct bpf_nf *b, const struct bpf_prog *p,
               struct rte_mbuf **pkts, uint16_t n, uint32_t *verdicts)
{
	uint64_t v[ONVM_BPF_V_COUNT] = {0};
	uint16_t i;

	for (i = 0; i < n; i++) {
		int match = bpf_exec(p, pkts[i]) != 0;

		if (match != p->invert) {
			v[ONVM_BPF_V_PASS]++;
		} else {
			v[ONVM_BPF_V_DROP]++;
			verdicts[i] = ONVM_VERDICT(ONVM_ACTION_DROP, 0);
		}
	}
	bpf_count(b->dir, v);
}

void
bpf_nf_verdicts(struct rte_mbuf **pkts, uint16_t n, uint32_t *verdicts,
                void *user)
{
	struct bpf_nf *b = user;
	struct bpf_prog *p = __atomic_load_n(&b->next, __ATOMIC_ACQUIRE);
	struct onvm_bpf_dir *dir = b->dir;
	const struct onvm_shared *sh = onvm_nflib_shared(b->ctx);
	uint64_t v[ONVM_BPF_V_COUNT] = {0};
	uint16_t i;

	/* A new program is taken between bursts, never within one. */
	if (unlikely(p != b->cur)) {
		b->cur = p;
		__atomic_store_n(&b->in_use, p, __ATOMIC_RELEASE);
	}
	if (unlikely(p == NULL)) {
		for (i = 0; i < n; i++)
			verdicts[i] = ONVM_VERDICT(ONVM_ACTION_DROP, 0);
		return;
	}
	for (i = 0; i < n; i++)
		rte_prefetch0(rte_pktmbuf_mtod(pkts[i], void *));
	if (p->kind == ONVM_BPF_KIND_FILTER) {
		bpf_run_filter(b, p, pkts, n, verdicts);
		return;
	}
	bpf_md.service = onvm_nflib_service_id(b->ctx);
	bpf_md.window = p->window;
	for (i = 0; i < n; i++) {
		struct rte_mbuf *m = pkts[i];
		uint64_t rc;
		uint8_t *frame;
		int copied;

		bpf_pkt = m;
		bpf_md.len = rte_pktmbuf_pkt_len(m);
		bpf_md.port =
		    m->port < ONVM_MAX_PORTS ? m->port : ONVM_BPF_NONE;
		bpf_md.redirect_service = ONVM_BPF_NONE;
		bpf_md.redirect_port = ONVM_BPF_NONE;
		if (p->uses_md) {
			/* Only then is the metadata's cache line pulled in. */
			const struct onvm_pkt_meta *meta = onvm_pkt_meta(m);

			bpf_md.chain_index = meta->chain_index;
			bpf_md.chain =
			    sh->chains
			        .bodies[meta->chain % ONVM_MAX_CHAIN_BODIES]
			        .chain_id;
		}
		frame = bpf_frame(dir, m, p->window, &copied);
		rc = bpf_exec(p, frame);
		if (unlikely(copied))
			bpf_frame_back(m, p->window);
		switch (rc) {
		case ONVM_BPF_PASS:
			v[ONVM_BPF_V_PASS]++;
			continue;
		case ONVM_BPF_DROP:
			v[ONVM_BPF_V_DROP]++;
			verdicts[i] = ONVM_VERDICT(ONVM_ACTION_DROP, 0);
			continue;
		case ONVM_BPF_TX:
			if (bpf_md.port == ONVM_BPF_NONE)
				break;
			v[ONVM_BPF_V_TX]++;
			verdicts[i] = ONVM_VERDICT(ONVM_ACTION_OUT, m->port);
			continue;
		case ONVM_BPF_REDIRECT:
			if (bpf_md.redirect_service != ONVM_BPF_NONE) {
				v[ONVM_BPF_V_REDIRECT]++;
				verdicts[i] = ONVM_VERDICT(
				    ONVM_ACTION_TONF, bpf_md.redirect_service);
				continue;
			}
			if (bpf_md.redirect_port == ONVM_BPF_NONE)
				break;
			v[ONVM_BPF_V_REDIRECT]++;
			verdicts[i] =
			    ONVM_VERDICT(ONVM_ACTION_OUT, bpf_md.redirect_port);
			continue;
		case ONVM_BPF_ABORTED:
			v[ONVM_BPF_V_ABORTED]++;
			verdicts[i] = ONVM_VERDICT(ONVM_ACTION_DROP, 0);
			continue;
		default:
			break;
		}
		/* An unknown verdict, or one without its destination. */
		v[ONVM_BPF_V_ABORTED]++;
		dir->bad_verdicts++;
		verdicts[i] = ONVM_VERDICT(ONVM_ACTION_DROP, 0);
	}
	bpf_pkt = NULL;
	bpf_count(dir, v);
}
