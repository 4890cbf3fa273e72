/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What onvm.pydpdk binds, in cffi's cdef dialect ("..." lets the compiler
 * fill in layouts and values). Read by build_pydpdk.py, never compiled.
 */

/* ---- EAL ---- */
int rte_eal_init(int argc, char **argv);
int rte_eal_cleanup(void);
unsigned int rte_lcore_count(void);
unsigned int rte_get_main_lcore(void);
unsigned int rte_lcore_id(void);
int rte_lcore_is_enabled(unsigned int lcore_id);
unsigned int rte_socket_id(void);
typedef int (lcore_function_t)(void *);
int rte_eal_remote_launch(lcore_function_t *f, void *arg, unsigned int worker_id);
int rte_eal_wait_lcore(unsigned int worker_id);
uint64_t rte_get_tsc_hz(void);
uint64_t rte_rdtsc(void);
const char *rte_strerror(int errnum);
const char *rte_version(void);

/* ---- memzones ---- */
struct rte_memzone {
	void *addr;
	size_t len;
	int32_t socket_id;
	...;
};
const struct rte_memzone *rte_memzone_lookup(const char *name);

/* ---- mempools and mbufs ---- */
struct rte_mempool {
	uint32_t size;
	uint32_t cache_size;
	...;
};
struct rte_mbuf {
	void *buf_addr;
	uint16_t buf_len;
	uint16_t refcnt;
	uint16_t data_off;
	uint16_t port;
	uint32_t pkt_len;
	uint16_t data_len;
	uint16_t nb_segs;
	...;
};
#define RTE_MBUF_DEFAULT_BUF_SIZE ...
struct rte_mempool *rte_mempool_lookup(const char *name);
unsigned int rte_mempool_avail_count(const struct rte_mempool *mp);
unsigned int rte_mempool_in_use_count(const struct rte_mempool *mp);
struct rte_mempool *rte_pktmbuf_pool_create(const char *name, unsigned int n,
	unsigned int cache_size, uint16_t priv_size, uint16_t data_room_size,
	int socket_id);
struct rte_mbuf *rte_pktmbuf_alloc(struct rte_mempool *mp);
void rte_pktmbuf_free(struct rte_mbuf *m);
char *rte_pktmbuf_append(struct rte_mbuf *m, uint16_t len);

/* ---- rings ---- */
struct rte_ring;
#define RING_F_SP_ENQ ...
#define RING_F_SC_DEQ ...
struct rte_ring *rte_ring_create(const char *name, unsigned int count,
	int socket_id, unsigned int flags);
struct rte_ring *rte_ring_lookup(const char *name);
void rte_ring_free(struct rte_ring *r);
unsigned int rte_ring_enqueue_burst(struct rte_ring *r, void * const *obj_table,
	unsigned int n, unsigned int *free_space);
unsigned int rte_ring_dequeue_burst(struct rte_ring *r, void **obj_table,
	unsigned int n, unsigned int *available);
unsigned int rte_ring_count(const struct rte_ring *r);
unsigned int rte_ring_free_count(const struct rte_ring *r);

/* ---- ethdev ---- */
struct rte_ether_addr { uint8_t addr_bytes[6]; ...; };
struct rte_eth_conf { ...; };
struct rte_eth_dev_info {
	const char *driver_name;
	uint16_t max_rx_queues;
	uint16_t max_tx_queues;
	...;
};
struct rte_eth_stats {
	uint64_t ipackets;
	uint64_t opackets;
	uint64_t ibytes;
	uint64_t obytes;
	uint64_t imissed;
	uint64_t ierrors;
	uint64_t oerrors;
	uint64_t rx_nombuf;
	...;
};
struct rte_eth_rxconf { ...; };
struct rte_eth_txconf { ...; };
int rte_dev_probe(const char *devargs);

int rte_eth_dev_get_port_by_name(const char *name, uint16_t *port_id);
int rte_eth_dev_get_name_by_port(uint16_t port_id, char *name);
int rte_eth_dev_is_valid_port(uint16_t port_id);
uint16_t rte_eth_dev_count_avail(void);
int rte_eth_dev_socket_id(uint16_t port_id);
int rte_eth_dev_info_get(uint16_t port_id, struct rte_eth_dev_info *dev_info);
int rte_eth_dev_configure(uint16_t port_id, uint16_t nb_rx_queue,
	uint16_t nb_tx_queue, const struct rte_eth_conf *eth_conf);
int rte_eth_rx_queue_setup(uint16_t port_id, uint16_t rx_queue_id,
	uint16_t nb_rx_desc, unsigned int socket_id,
	const struct rte_eth_rxconf *rx_conf, struct rte_mempool *mb_pool);
int rte_eth_tx_queue_setup(uint16_t port_id, uint16_t tx_queue_id,
	uint16_t nb_tx_desc, unsigned int socket_id,
	const struct rte_eth_txconf *tx_conf);
int rte_eth_dev_start(uint16_t port_id);
int rte_eth_dev_stop(uint16_t port_id);
int rte_eth_dev_close(uint16_t port_id);
int rte_eth_promiscuous_enable(uint16_t port_id);
int rte_eth_macaddr_get(uint16_t port_id, struct rte_ether_addr *mac_addr);
int rte_eth_stats_get(uint16_t port_id, struct rte_eth_stats *stats);
int rte_eth_stats_reset(uint16_t port_id);
uint16_t rte_eth_rx_burst(uint16_t port_id, uint16_t queue_id,
	struct rte_mbuf **rx_pkts, const uint16_t nb_pkts);
uint16_t rte_eth_tx_burst(uint16_t port_id, uint16_t queue_id,
	struct rte_mbuf **tx_pkts, uint16_t nb_pkts);

/* ---- hash ---- */
struct rte_hash;
int32_t rte_hash_count(const struct rte_hash *h);
int rte_hash_lookup_data(const struct rte_hash *h, const void *key, void **data);
int32_t rte_hash_iterate(const struct rte_hash *h, const void **key,
	void **data, uint32_t *next);

/* ---- pydpdk helpers (build_pydpdk.py) ---- */
int pydpdk_errno(void);
int pydpdk_log_to_file(const char *path);
void *pydpdk_mbuf_data(struct rte_mbuf *m);

/* ---- onvm: shared-memory contract (onvm/common.h) ---- */
#define ONVM_ABI_VERSION ...
#define ONVM_SHARED_MAGIC ...
#define ONVM_MAX_NFS ...
#define ONVM_MAX_SERVICES ...
#define ONVM_MAX_INSTANCES ...
#define ONVM_MAX_CHAINS ...
#define ONVM_MAX_CHAIN_HOPS ...
#define ONVM_MAX_PORTS ...
#define ONVM_MAX_WORKERS ...
#define ONVM_BURST_MAX ...
#define ONVM_DEFAULT_CHAIN ...
#define ONVM_MAX_FLOW_RULES ...
#define ONVM_OWNER_NONE ...
#define ONVM_OWNER_MANAGER ...
#define ONVM_NF_FLAG_SHARED_CORE ...

enum onvm_action {
	ONVM_ACTION_DROP, ONVM_ACTION_NEXT, ONVM_ACTION_TONF, ONVM_ACTION_OUT, ...
};
enum onvm_nf_state {
	ONVM_NF_FREE, ONVM_NF_CLAIMED, ONVM_NF_RUNNING, ONVM_NF_STOPPING,
	ONVM_NF_RETIRING, ONVM_NF_RECLAIM, ONVM_NF_REJECTED, ...
};
enum onvm_hop_kind { ONVM_HOP_NF, ONVM_HOP_PORT, ... };

struct onvm_pkt_meta {
	uint8_t action;
	uint8_t chain_index;
	uint16_t destination;
	uint16_t owner;
	uint16_t chain;
	uint64_t timestamp;
};
struct onvm_nf_stats {
	uint64_t rx;
	uint64_t tx;
	uint64_t act_drop;
	uint64_t act_next;
	uint64_t act_tonf;
	uint64_t act_out;
	uint64_t batches;
	uint64_t sleeps;
	uint64_t created;
	uint64_t busy_cycles;
	...;
};
struct onvm_nf {
	uint32_t state;
	int32_t reject_errno;
	uint16_t id;
	uint16_t service_id;
	uint16_t instance;
	uint16_t flags;
	int32_t pid;
	int32_t core;
	uint32_t generation;
	uint8_t tx_worker;
	uint8_t crashed;
	char name[...];
	uint64_t register_tsc;
	uint64_t enq_base;
	uint64_t enq_drop_base;
	struct rte_ring *rx_ring;
	struct rte_ring *tx_ring;
	struct rte_ring *msg_ring;
	uint32_t sleeping;
	struct onvm_nf_stats stats;
	...;
};
struct onvm_service {
	uint32_t seq;
	uint16_t count;
	uint16_t instances[...];
	uint16_t bucket_nf[...];
	...;
};
struct onvm_chain_hop {
	uint8_t kind;
	uint16_t dest;
	...;
};
struct onvm_chain_body {
	uint8_t length;
	uint8_t state;
	uint16_t chain_id;
	struct onvm_chain_hop hops[...];
	...;
};
struct onvm_chain_table {
	uint16_t head[...];
	struct onvm_chain_body bodies[...];
	...;
};
struct onvm_worker_stats {
	uint64_t port_rx[...];
	uint64_t port_tx[...];
	uint64_t port_tx_drop[...];
	uint64_t nf_enq[...];
	uint64_t nf_enq_drop[...];
	uint64_t nf_deq[...];
	uint64_t act_drop;
	uint64_t chain_end;
	uint64_t no_dest;
	uint64_t reclaimed;
	uint64_t loops;
	uint64_t epoch;
	uint64_t capture_copied;
	uint64_t capture_missed;
	uint64_t flow_hits[...];
	...;
};
enum onvm_capture_point {
	ONVM_CAPTURE_OFF, ONVM_CAPTURE_PORT_RX, ONVM_CAPTURE_PORT_TX,
	ONVM_CAPTURE_NF_IN, ONVM_CAPTURE_NF_OUT, ...
};
struct onvm_capture {
	uint32_t point;
	uint16_t id;
	uint32_t snaplen;
	struct rte_ring *ring;
	struct rte_mempool *pool;
	...;
};
struct onvm_port_info {
	uint8_t enabled;
	uint16_t port_id;
	uint8_t mac[6];
	...;
};
struct onvm_shared {
	uint32_t magic;
	uint32_t abi_version;
	int32_t manager_pid;
	uint32_t burst_size;
	uint32_t nf_ring_size;
	uint32_t num_workers;
	int32_t pkt_meta_offset;
	uint32_t wait_for_chain;
	uint32_t running;
	uint32_t ports_enabled;
	uint64_t tsc_hz;
	uint64_t worker_cpu_mask;
	struct rte_mempool *pktmbuf_pool;
	struct rte_ring *mgr_msg_ring;
	void *flow_rules;
	struct onvm_capture capture;
	struct onvm_port_info ports[...];
	struct onvm_nf nfs[...];
	struct onvm_service services[...];
	struct onvm_chain_table chains;
	struct onvm_worker_stats workers[...];
	...;
};

/* onvm/flow.h */
struct onvm_flow_key {
	uint8_t src[16];
	uint8_t dst[16];
	uint16_t src_port;
	uint16_t dst_port;
	uint8_t proto;
	uint8_t ip_version;
	uint16_t reserved;
};
void onvm_flow_key_parse(const struct rte_mbuf *m, struct onvm_flow_key *key);
struct onvm_pkt_layout {
	uint16_t ether_type;
	uint16_t vlan_tci;
	uint16_t l2_len;
	uint16_t l3;
	uint16_t l4;
	uint8_t ip_version;
	uint8_t proto;
};
void onvm_pkt_layout_parse(const struct rte_mbuf *m, struct onvm_pkt_layout *lay);
uint32_t onvm_flow_key_hash(const struct onvm_flow_key *key);

/* onvm/pkt_meta.h */
struct onvm_pkt_meta *onvm_pkt_meta(struct rte_mbuf *m);

/* ---- onvm: manager (onvm/manager.h) ---- */
struct onvm_mgr_config {
	uint32_t num_mbufs;
	uint32_t mbuf_cache;
	uint32_t burst_size;
	uint32_t nf_ring_size;
	uint32_t num_workers;
	uint32_t wait_for_chain;
	uint32_t chain_grace_ms;
	uint64_t worker_cpu_mask;
};
struct onvm_shared *onvm_mgr_create(const struct onvm_mgr_config *cfg);
int onvm_mgr_port_enable(struct onvm_shared *sh, uint16_t port_id);
int onvm_mgr_hide_ports_from_secondaries(void);
int onvm_mgr_launch(struct onvm_shared *sh, const unsigned int *lcores);
void onvm_mgr_halt(struct onvm_shared *sh);
int onvm_mgr_chain_set(struct onvm_shared *sh, uint16_t chain_id,
	const struct onvm_chain_hop *hops, unsigned int n);
int onvm_mgr_nf_dead(struct onvm_shared *sh, uint16_t nf_id, uint32_t generation);
int onvm_mgr_nf_stop(struct onvm_shared *sh, uint16_t nf_id);
int onvm_mgr_nf_reclaim(struct onvm_shared *sh, uint16_t nf_id);
int onvm_mgr_nf_release_rejected(struct onvm_shared *sh, uint16_t nf_id);
unsigned int onvm_mgr_pool_available(const struct onvm_shared *sh);
int onvm_mgr_worker_main(void *arg);

/* ---- onvm: packet fields and verdicts (onvm/pkt_fields.h) ---- */
#define ONVM_BATCH_MAX ...
struct onvm_pkt_fields {
	uint32_t count;
	uint16_t ether_type[...];
	uint16_t vlan[...];
	uint8_t ip_version[...];
	uint8_t proto[...];
	uint8_t tcp_flags[...];
	uint32_t src4[...];
	uint32_t dst4[...];
	uint8_t src6[...][16];
	uint8_t dst6[...][16];
	uint16_t src_port[...];
	uint16_t dst_port[...];
	uint16_t length[...];
	uint16_t l3_offset[...];
	uint16_t l4_offset[...];
	uint16_t in_port[...];
	uint32_t flow_hash[...];
	struct onvm_flow_key keys[...];
	uint32_t verdicts[...];
	...;
};
#define ONVM_FIELDS_KEYS ...
#define ONVM_FIELDS_L2 ...
#define ONVM_FIELDS_L3 ...
#define ONVM_FIELDS_L4 ...
#define ONVM_FIELDS_META ...
#define ONVM_FIELDS_ALL ...
void onvm_pkt_fields_parse(struct rte_mbuf **pkts, uint32_t n,
	struct onvm_pkt_fields *fields, uint32_t groups);
void onvm_pkt_apply_verdicts(struct rte_mbuf **pkts, uint32_t n,
	const uint32_t *verdicts);
int onvm_pkt_fix_checksums(struct rte_mbuf *m);

/* ---- onvm: classifier (onvm/classifier.h) ---- */
struct onvm_classifier;
struct onvm_rule {
	uint8_t family;
	uint8_t proto;
	uint8_t src_prefix;
	uint8_t dst_prefix;
	uint8_t src[16];
	uint8_t dst[16];
	uint16_t src_port_lo;
	uint16_t src_port_hi;
	uint16_t dst_port_lo;
	uint16_t dst_port_hi;
	uint32_t result;
};
struct onvm_classifier *onvm_classifier_create(const char *name, uint32_t max_rules);
int onvm_classifier_add(struct onvm_classifier *c, const struct onvm_rule *rules,
	uint32_t n);
int onvm_classifier_build(struct onvm_classifier *c);
void onvm_classifier_classify(const struct onvm_classifier *c,
	const struct onvm_flow_key *keys, uint32_t n, uint32_t *results);
void onvm_classifier_classify_map(const struct onvm_classifier *c,
	const struct onvm_flow_key *keys, uint32_t n, const uint32_t *table, uint32_t *out);
void onvm_classifier_free(struct onvm_classifier *c);

/* ---- onvm: manager flow rules and capture (onvm/manager.h) ---- */
int onvm_mgr_flow_rules_set(struct onvm_shared *sh, const struct onvm_rule *rules,
	const uint16_t *chains, uint32_t n);
void onvm_mgr_flow_rules_gc(struct onvm_shared *sh);
uint64_t onvm_mgr_flow_hits(const struct onvm_shared *sh, uint32_t slot);
int onvm_mgr_capture_start(struct onvm_shared *sh, uint32_t point, uint16_t id,
	uint32_t snaplen);
void onvm_mgr_capture_stop(struct onvm_shared *sh);
struct onvm_capture_record {
	uint64_t tsc;
	uint32_t offset;
	uint32_t caplen;
	uint32_t origlen;
	...;
};
unsigned int onvm_mgr_capture_take(struct onvm_shared *sh,
	struct onvm_capture_record *recs, unsigned int max, uint8_t *buf, uint32_t bufsize);
uint64_t onvm_mgr_tsc(void);

/* ---- onvm: NF library (onvm/nflib.h) ---- */
struct onvm_nf_ctx;
typedef void (*onvm_nf_pkt_handler_t)(struct rte_mbuf *pkt,
	struct onvm_pkt_meta *meta, void *user);
typedef void (*onvm_nf_burst_handler_t)(struct rte_mbuf **pkts, uint16_t n,
	void *user);
typedef int (*onvm_nf_periodic_t)(struct onvm_nf_ctx *ctx, void *user);
typedef void (*onvm_nf_msg_handler_t)(struct onvm_nf_ctx *ctx, void *msg,
	void *user);
struct onvm_nf_handlers {
	onvm_nf_pkt_handler_t pkt;
	onvm_nf_burst_handler_t burst;
	onvm_nf_periodic_t periodic;
	uint32_t periodic_ms;
	onvm_nf_msg_handler_t msg;
	int (*idle)(struct onvm_nf_ctx *ctx, void *user);
	uint32_t batch_max;
	void (*verdict)(struct rte_mbuf **, uint16_t, uint32_t *, void *);
	uint32_t *verdicts;
};
int onvm_nflib_init(int argc, char **argv, const char *nf_name,
	struct onvm_nf_ctx **ctx);
int onvm_nflib_parse_args(int argc, char **argv);
int onvm_nflib_run(struct onvm_nf_ctx *ctx, const struct onvm_nf_handlers *h,
	void *user);
void onvm_nflib_stop(struct onvm_nf_ctx *ctx);
void onvm_nflib_fini(struct onvm_nf_ctx *ctx);
int onvm_nflib_alloc_pkts(struct onvm_nf_ctx *ctx, struct rte_mbuf **pkts,
	unsigned int n);
unsigned int onvm_nflib_send(struct onvm_nf_ctx *ctx, struct rte_mbuf **pkts,
	unsigned int n);
void onvm_nflib_free_pkts(struct onvm_nf_ctx *ctx, struct rte_mbuf **pkts,
	unsigned int n);
uint16_t onvm_nflib_nf_id(const struct onvm_nf_ctx *ctx);
uint16_t onvm_nflib_service_id(const struct onvm_nf_ctx *ctx);
struct onvm_nf *onvm_nflib_nf(const struct onvm_nf_ctx *ctx);
struct onvm_shared *onvm_nflib_shared(const struct onvm_nf_ctx *ctx);
int onvm_nflib_stopping(const struct onvm_nf_ctx *ctx);
const char *onvm_nflib_strerror(void);

/* Python NFs: the run loop calls back into Python once per batch. */
extern "Python" int onvm_py_periodic(struct onvm_nf_ctx *ctx, void *user);
extern "Python" void onvm_py_message(struct onvm_nf_ctx *ctx, void *msg, void *user);

/* ---- nflib fast path ---- */
void onvm_pkt_apply_verdicts_counted(struct rte_mbuf **pkts, uint32_t n,
	const uint32_t *verdicts, uint64_t counts[4]);
extern "Python" void onvm_py_verdict(struct rte_mbuf **pkts, uint16_t n,
	uint32_t *verdicts, void *user);
