/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * pping: passive RTT measurement, after Kathie Nichols' pping and ePPing.
 * An identifier a packet carries (a TCP timestamp's TSval, an ICMP echo
 * request's sequence, a DNS query's id) is timestamped the first time it
 * is seen in its direction of a flow; the first packet of the reverse
 * direction that echoes it (TSecr, the echo reply, the DNS response) gives
 * one RTT sample: its time less the stamp's. Every packet goes on as it
 * came.
 *
 * pping_match.c parses packets and keeps the tables (the data path);
 * pping.c has the options, the output and the metrics.
 */
#ifndef PPING_H
#define PPING_H

#include <stdint.h>

#include <rte_mbuf.h>

#include <onvm/flow.h>
#include <onvm/nf_metrics.h>
#include <onvm/pkt_fields.h>

/* What an RTT sample was taken from. */
enum pping_proto {
	PPING_TCP = 0,  /* TCP timestamps: TSval, echoed as TSecr */
	PPING_ICMP = 1, /* ICMP and ICMPv6 echo: id and sequence */
	PPING_DNS = 2,  /* DNS over UDP port 53: the query id */
	PPING_PROTOS = 3,
};

/* Whose clock a packet's time is on. Times of two clocks never meet. */
enum pping_clock {
	PPING_CLOCK_RX = 0,   /* the manager's RX time (TSC) */
	PPING_CLOCK_PORT = 1, /* the port's RX timestamp (a pcap's times) */
	PPING_CLOCKS = 2,
};

/* What pping counts: the series of its "pping_events" metric. */
enum pping_event {
	PPING_EV_RTT_TCP = 0, /* RTT samples, by enum pping_proto */
	PPING_EV_RTT_ICMP,
	PPING_EV_RTT_DNS,
	PPING_EV_TIMESTAMPED,    /* identifiers stamped */
	PPING_EV_RATE_LIMITED,   /* new identifiers left out: --sample-limit */
	PPING_EV_STAMPS_FULL,    /* new identifiers left out: no room */
	PPING_EV_STAMPS_EVICTED, /* matched stamps overwritten for room */
	PPING_EV_FLOWS_FULL,     /* flows left untracked: no room */
	PPING_EV_CLOCK_MISMATCH, /* an echo on another clock than its stamp */
	PPING_EV_NO_TIME,        /* packets without a time (an NF's own) */
	PPING_EV_OUTPUT_DROPPED, /* samples not printed: output buffer full */
	PPING_EV_SUBNETS_FULL,   /* samples of subnets past --subnets */
	PPING_EV_COUNT,
};

/* Slots a table lookup looks at, at most: lookups stay O(1) and a full
 * neighbourhood refuses an insert rather than walking the table. */
#define PPING_PROBES 16
/* A stamp lives this long (pping's tsvalMaxAge); idle flows are forgotten
 * after these. */
#define PPING_STAMP_MAX_AGE_NS (10ULL * 1000000000ULL)
#define PPING_TCP_FLOW_IDLE_NS (300ULL * 1000000000ULL)
#define PPING_FLOW_IDLE_NS (30ULL * 1000000000ULL)
/* Samples buffered between two prints (every PPING_PRINT_MS). */
#define PPING_OUT_MAX 16384
#define PPING_PRINT_MS 100
/* RTT histogram bounds: 1 to 9 times each power of ten from 10 us to
 * 1 s, then 10 s (seconds). */
#define PPING_HIST_DECADES 6
#define PPING_HIST_BOUNDS (PPING_HIST_DECADES * 9 + 1)

/* One direction of a flow. */
struct pping_flow {
	struct onvm_flow_key key; /* ip_version 0: a free slot */
	uint64_t last_seen;       /* its last packet's time */
	uint64_t last_stamp;      /* when it last stamped an identifier */
	uint64_t min_rtt; /* ns, of the samples of identifiers it sent */
	uint64_t srtt;    /* ns, smoothed: 7/8 old + 1/8 new */
	uint64_t samples;
	struct onvm_metric_series *series; /* its answering subnet's */
	uint32_t last_tsval;               /* TCP: the last TSval it sent */
	uint32_t last_tsecr;               /* TCP: the last TSecr it sent */
	uint8_t clock;                     /* enum pping_clock */
	uint8_t seen;                      /* PPING_SEEN_* */
};
#define PPING_SEEN_TSVAL 0x1
#define PPING_SEEN_TSECR 0x2
#define PPING_SEEN_STAMP 0x4 /* it has stamped one: last_stamp holds */

/* An identifier's first sighting. Matched ones are marked used and kept
 * until they age out, so that a later packet with the same identifier is
 * not stamped again (which would time its echo from too late). */
struct pping_stamp {
	struct onvm_flow_key key; /* the direction it went out in; ip_version
	                           * 0: a free slot */
	uint32_t id;
	uint8_t clock;
	uint8_t used;
	uint16_t reserved;
	uint64_t time;
};

/* A subnet's RTT histogram. */
struct pping_subnet {
	uint8_t addr[16]; /* masked to the prefix */
	uint8_t ip_version;
	struct onvm_metric_series *series; /* NULL: a free slot */
};

/* An RTT sample waiting to be printed. */
struct pping_sample {
	struct onvm_flow_key flow; /* the direction the identifier went */
	uint64_t time;             /* of the echo, on its clock */
	uint64_t rtt;              /* ns */
	uint64_t min_rtt;
	uint64_t srtt;
	uint64_t samples;
	const char *subnet;
	uint8_t proto; /* enum pping_proto */
	uint8_t clock;
};

/* A packet as parsed for matching. */
struct pping_pkt {
	struct onvm_flow_key key;
	uint64_t time;
	uint32_t hash; /* the flow hash: both directions alike */
	uint32_t id;   /* TSval, echo sequence, DNS id */
	uint32_t tsecr;
	uint8_t kind; /* PPING_PKT_* */
	uint8_t proto;
	uint8_t clock;
	uint8_t ack; /* TCP: ACK set, so TSecr is valid */
};
#define PPING_PKT_NONE 0
#define PPING_PKT_TCP 1     /* TCP with the timestamp option */
#define PPING_PKT_REQUEST 2 /* echo request, DNS query */
#define PPING_PKT_REPLY 3   /* echo reply, DNS response */
#define PPING_PKT_NO_TIME 4 /* one of those, but without a time */

/* Metric families pping publishes. */
#define PPING_FAMILY_RTT 0
#define PPING_FAMILY_EVENTS 1

struct pping {
	/* options */
	int json;
	uint64_t sample_limit_ns;
	uint32_t flows;
	uint32_t subnets;
	uint8_t prefix4;
	uint8_t prefix6;
	/* tables, in the NF's own memory */
	struct pping_flow *flow_tab;
	uint32_t flow_mask;
	struct pping_stamp *stamp_tab;
	uint32_t stamp_mask;
	struct pping_subnet *subnet_tab;
	uint32_t subnet_mask;
	uint32_t nsubnets;
	uint64_t latest[PPING_CLOCKS]; /* the newest time seen on each */
	/* samples to print */
	struct pping_sample *out;
	uint32_t nout;
	/* metrics */
	struct onvm_nf_metrics *metrics;
	struct onvm_metric_series *other; /* subnets past --subnets */
	struct onvm_metric_series *event_series[PPING_EV_COUNT];
	uint64_t events[PPING_EV_COUNT];
	/* the wall clock at a TSC time, for the manager's RX times */
	uint64_t wall0_ns;
	uint64_t tsc0_ns;
	struct pping_pkt parsed[ONVM_BATCH_MAX];
};

/**
 * Take RTT samples from @p n packets; their verdicts stay NEXT.
 */
void pping_burst(struct pping *pp, struct rte_mbuf **pkts, uint16_t n);

/**
 * Allocate the tables for pp->flows flows and pp->subnets subnets.
 *
 * @return 0, or -ENOMEM.
 */
int pping_tables_alloc(struct pping *pp);

/** Free what pping_tables_alloc() allocated. */
void pping_tables_free(struct pping *pp);

/** The label of a subnet: "10.0.2.0/24", "2001:db8:1::/48". */
void pping_subnet_label(const uint8_t addr[16], uint8_t ip_version,
                        uint8_t prefix, char *buf, size_t len);

#endif /* PPING_H */
