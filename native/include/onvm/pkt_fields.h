/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A batch of packets parsed once, in C, into one array per field: what a
 * vectorised NF (Python with NumPy) reads, and the verdict it writes back
 * for each packet.
 */
#ifndef ONVM_PKT_FIELDS_H
#define ONVM_PKT_FIELDS_H

#include <stdint.h>

#include <rte_mbuf.h>

#include <onvm/flow.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Most packets one NF handler call sees. */
#define ONVM_BATCH_MAX 1024

/* A verdict packs an action and its destination: action | dest << 8. */
#define ONVM_VERDICT_ACTION_MASK 0xff
#define ONVM_VERDICT_DEST_SHIFT 8
#define ONVM_VERDICT(action, dest)                                             \
	((uint32_t)(action) | ((uint32_t)(dest) << ONVM_VERDICT_DEST_SHIFT))

/* TCP flags, absent: 0. Addresses and ports are in host order; IPv4
 * addresses as 32-bit numbers, IPv6 as 16 network-order bytes. */
struct onvm_pkt_fields {
	uint32_t count;
	uint16_t ether_type[ONVM_BATCH_MAX];
	uint16_t vlan[ONVM_BATCH_MAX];      /* outer VLAN id, 0 if none */
	uint8_t ip_version[ONVM_BATCH_MAX]; /* 4, 6, or 0 */
	uint8_t proto[ONVM_BATCH_MAX];
	uint8_t tcp_flags[ONVM_BATCH_MAX];
	uint32_t src4[ONVM_BATCH_MAX];
	uint32_t dst4[ONVM_BATCH_MAX];
	uint8_t src6[ONVM_BATCH_MAX][16];
	uint8_t dst6[ONVM_BATCH_MAX][16];
	uint16_t src_port[ONVM_BATCH_MAX];
	uint16_t dst_port[ONVM_BATCH_MAX];
	uint16_t length[ONVM_BATCH_MAX];    /* whole frame */
	uint16_t l3_offset[ONVM_BATCH_MAX]; /* 0 if absent */
	uint16_t l4_offset[ONVM_BATCH_MAX]; /* 0 if absent */
	uint16_t in_port[ONVM_BATCH_MAX];
	uint32_t flow_hash[ONVM_BATCH_MAX];
	/* ns on the TSC clock when the manager took it from its port (0: an
	 * NF made it), as onvm_pkt_rx_ns() */
	uint64_t rx_ns[ONVM_BATCH_MAX];
	/* TCP options: which are there (ONVM_TCPOPT_*), and their values (0
	 * when absent) */
	uint8_t tcp_options[ONVM_BATCH_MAX];
	uint16_t tcp_mss[ONVM_BATCH_MAX];
	uint8_t tcp_wscale[ONVM_BATCH_MAX];
	uint32_t tcp_tsval[ONVM_BATCH_MAX];
	uint32_t tcp_tsecr[ONVM_BATCH_MAX];
	struct onvm_flow_key keys[ONVM_BATCH_MAX];
	uint32_t verdicts[ONVM_BATCH_MAX]; /* written by the handler */
};

/* Groups of fields onvm_pkt_fields_parse() fills; each costs a little per
 * packet, so a handler asks only for what it reads. Each comment lists the
 * group's fields: the Python batch arrays are generated from these lists. */
#define ONVM_FIELDS_KEYS 0x1  /* keys, ip_version, proto */
#define ONVM_FIELDS_L2 0x2    /* ether_type, vlan */
#define ONVM_FIELDS_L3 0x4    /* src4, dst4, src6, dst6, l3_offset */
#define ONVM_FIELDS_L4 0x8    /* src_port, dst_port, tcp_flags, l4_offset */
#define ONVM_FIELDS_META 0x10 /* length, in_port, flow_hash */
#define ONVM_FIELDS_TIME 0x20 /* rx_ns */
/* The generator reads a group's fields on its #define line. */
/* clang-format off */
#define ONVM_FIELDS_TCPOPT 0x40 /* tcp_options, tcp_mss, tcp_wscale, tcp_tsval, tcp_tsecr */
/* clang-format on */
#define ONVM_FIELDS_ALL 0x7f

/* TCP options found (onvm_pkt_fields.tcp_options, onvm_tcp_options). */
#define ONVM_TCPOPT_MSS 0x1
#define ONVM_TCPOPT_WSCALE 0x2
#define ONVM_TCPOPT_SACK_OK 0x4 /* SACK permitted */
#define ONVM_TCPOPT_TIMESTAMP 0x8
#define ONVM_TCPOPT_SACK 0x10 /* SACK blocks */

/* The TCP options of one segment. */
struct onvm_tcp_options {
	uint8_t present; /* ONVM_TCPOPT_* */
	uint8_t wscale;
	uint16_t mss;
	uint32_t tsval;
	uint32_t tsecr;
};

/**
 * Read the TCP options of the segment whose TCP header starts @p l4 bytes
 * into @p m (its first segment), within the header's data offset and the
 * data there is. Malformed options end the walk; what was read stays.
 */
void onvm_tcp_options_parse(const struct rte_mbuf *m, uint32_t l4,
                            struct onvm_tcp_options *opts);

/** TSC cycles @p tsc in ns (0 in a process without EAL's TSC rate). */
uint64_t onvm_tsc_ns(uint64_t tsc);

/**
 * When the manager took packet @p m from its port, in ns on the TSC clock
 * (the same in every process of the machine); 0 for a packet an NF made.
 */
uint64_t onvm_pkt_rx_ns(struct rte_mbuf *m);

/**
 * Parse @p n (<= ONVM_BATCH_MAX) packets into the groups @p groups
 * (ONVM_FIELDS_*) of @p fields, and set every verdict to NEXT. Fields of
 * other groups are left as they were.
 */
void onvm_pkt_fields_parse(struct rte_mbuf **pkts, uint32_t n,
                           struct onvm_pkt_fields *fields, uint32_t groups);

/**
 * Set each packet's action and destination from @p verdicts
 * (ONVM_VERDICT values). An unknown action becomes DROP.
 */
void onvm_pkt_apply_verdicts(struct rte_mbuf **pkts, uint32_t n,
                             const uint32_t *verdicts);

/**
 * Apply @p verdicts to packets that arrived with action NEXT, and count
 * them: as onvm_pkt_apply_verdicts(), except that a packet whose verdict is
 * NEXT is left untouched (its destination too), and that counts[action]
 * (ONVM_ACTION_* index, ONVM_ACTION_COUNT entries) grows by one for each
 * packet.
 */
void onvm_pkt_apply_verdicts_counted(struct rte_mbuf **pkts, uint32_t n,
                                     const uint32_t *verdicts,
                                     uint64_t *counts);

/**
 * Recompute the IPv4 header checksum and the TCP, UDP, ICMP or ICMPv6
 * checksum of packet @p m after it was rewritten.
 *
 * @return
 *   0, or -EINVAL when a length field points past the packet (nothing
 *   past it is read or written).
 */
int onvm_pkt_fix_checksums(struct rte_mbuf *m);

#ifdef __cplusplus
}
#endif

#endif /* ONVM_PKT_FIELDS_H */
