/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Packet capture inside the manager (DPDK secondaries cannot see its
 * ports). While a capture runs, the worker that handles its point copies
 * each packet into the capture pool and queues the copy for the control
 * thread, which writes the file. The copy is taken before the packet moves
 * on, so what an NF does to it later does not show; a copy that finds the
 * pool or ring full is counted as missed, never waited for.
 */
#include <errno.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include "mgr_internal.h"

#define ONVM_CAPTURE_POOL "onvm_capture_pool"
#define ONVM_CAPTURE_RING "onvm_capture_ring"
#define ONVM_CAPTURE_MBUFS 16383
#define ONVM_CAPTURE_RING_SIZE 16384

void
__onvm_capture_copy(struct __onvm_worker *w, struct rte_mbuf **pkts,
                    unsigned int n, int skip_dropped)
{
	struct onvm_capture *cap = &w->sh->capture;
	struct rte_mbuf *copies[ONVM_BURST_MAX];
	const uint64_t now = rte_rdtsc();
	unsigned int i, k = 0, queued;

	for (i = 0; i < n; i++) {
		struct rte_mbuf *c;

		if (skip_dropped &&
		    onvm_pkt_meta(pkts[i])->action == ONVM_ACTION_DROP)
			continue;
		c = rte_pktmbuf_copy(pkts[i], cap->pool, 0, cap->snaplen);
		if (unlikely(c == NULL)) {
			w->stats->capture_missed++;
			continue;
		}
		onvm_pkt_meta(c)->timestamp = now;
		c->hash.usr =
		    pkts[i]->pkt_len; /* the copy's own field: wire length */
		copies[k++] = c;
	}
	queued = rte_ring_enqueue_burst(cap->ring, (void **)copies, k, NULL);
	w->stats->capture_copied += queued;
	if (unlikely(queued < k)) {
		w->stats->capture_missed += k - queued;
		rte_pktmbuf_free_bulk(&copies[queued], k - queued);
	}
}

static int
__onvm_capture_objects(struct onvm_capture *cap)
{
	if (cap->ring == NULL)
		cap->ring =
		    rte_ring_create(ONVM_CAPTURE_RING, ONVM_CAPTURE_RING_SIZE,
		                    rte_socket_id(), RING_F_SC_DEQ);
	if (cap->ring != NULL && cap->pool == NULL)
		cap->pool = rte_pktmbuf_pool_create(
		    ONVM_CAPTURE_POOL, ONVM_CAPTURE_MBUFS, 256, 0,
		    RTE_MBUF_DEFAULT_BUF_SIZE, (int)rte_socket_id());
	return cap->ring && cap->pool ? 0 : -ENOMEM;
}

int
onvm_mgr_capture_start(struct onvm_shared *sh, uint32_t point, uint16_t id,
                       uint32_t snaplen)
{
	struct onvm_capture *cap = &sh->capture;
	int rc;

	if (point < ONVM_CAPTURE_PORT_RX || point > ONVM_CAPTURE_NF_OUT ||
	    snaplen == 0)
		return -EINVAL;
	if (cap->point != ONVM_CAPTURE_OFF ||
	    (cap->ring && rte_ring_count(cap->ring) > 0))
		return -EBUSY;
	rc = __onvm_capture_objects(cap);
	if (rc < 0)
		return rc;
	cap->id = id;
	cap->snaplen = snaplen;
	/* Workers read id and snaplen only after seeing the point set. */
	__atomic_store_n(&cap->point, point, __ATOMIC_RELEASE);
	return 0;
}

void
onvm_mgr_capture_stop(struct onvm_shared *sh)
{
	__atomic_store_n(&sh->capture.point, ONVM_CAPTURE_OFF,
	                 __ATOMIC_RELEASE);
}

unsigned int
onvm_mgr_capture_take(struct onvm_shared *sh, struct onvm_capture_record *recs,
                      unsigned int max, uint8_t *buf, uint32_t bufsize)
{
	struct onvm_capture *cap = &sh->capture;
	uint32_t used = 0;
	unsigned int n = 0;
	struct rte_mbuf *m;

	if (cap->ring == NULL)
		return 0;
	while (n < max) {
		const void *data;
		uint32_t len;

		/* Peek at the room first: a copy is never taken off the ring
		 * and then lost for want of buffer space. */
		if (rte_ring_count(cap->ring) == 0 ||
		    bufsize - used < cap->snaplen)
			break;
		if (rte_ring_sc_dequeue(cap->ring, (void **)&m) != 0)
			break;
		len = RTE_MIN(m->pkt_len, bufsize - used);
		/* Reads a chained copy into buf; a contiguous one stays put. */
		data = rte_pktmbuf_read(m, 0, len, buf + used);
		if (data != buf + used)
			memcpy(buf + used, data, len);
		recs[n].tsc = onvm_pkt_meta(m)->timestamp;
		recs[n].offset = used;
		recs[n].caplen = len;
		recs[n].origlen = m->hash.usr;
		recs[n].reserved = 0;
		used += len;
		n++;
		rte_pktmbuf_free(m);
	}
	return n;
}

uint64_t
onvm_mgr_tsc(void)
{
	return rte_rdtsc();
}
