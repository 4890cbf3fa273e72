/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Messages, the NF's part: what it sends goes on its own outbox for the
 * manager's control worker to deliver; what it is sent arrives on its
 * inbox, which the loop checks once a round and hands to the msg handler.
 */
#include <errno.h>
#include <string.h>

#include "../common/msg.h"
#include "nflib_internal.h"

#define MSGS_PER_LOOP 16

static int
__onvm_nflib_msg_put(struct onvm_nf_ctx *ctx, uint16_t to_nf,
                     uint16_t to_service, uint8_t kind, uint32_t id,
                     const void *data, uint32_t len)
{
	struct onvm_nf_msg *m;

	if (len > ONVM_MSG_DATA_MAX)
		return __onvm_nflib_error(EMSGSIZE,
		                          "a message holds at most %d bytes, "
		                          "not %u",
		                          ONVM_MSG_DATA_MAX, len);
	m = __onvm_msg_new(ctx->sh, ctx->nf_id, ctx->nf_id, to_nf, to_service,
	                   kind, id, data, len);
	if (m == NULL) {
		ctx->nf->stats.msg_drop++;
		return -ENOBUFS;
	}
	/* Once on the outbox it is the manager's. */
	m->owner = ONVM_OWNER_MANAGER;
	if (rte_ring_enqueue(ctx->nf->outbox, m) < 0) {
		__onvm_msg_free(ctx->sh, m);
		ctx->nf->stats.msg_drop++;
		return -ENOBUFS;
	}
	__atomic_fetch_or(&ctx->sh->msg_pending, UINT64_C(1) << ctx->nf_id,
	                  __ATOMIC_RELEASE);
	ctx->nf->stats.msg_out++;
	return 0;
}

int
onvm_nflib_send_msg(struct onvm_nf_ctx *ctx, uint16_t service, uint16_t nf_id,
                    const void *data, uint32_t len)
{
	if ((service == 0) == (nf_id == 0) || service >= ONVM_MAX_SERVICES ||
	    nf_id >= ONVM_MAX_NFS)
		return __onvm_nflib_error(
		    EINVAL,
		    "a message goes to a service (1-%d) or "
		    "to an NF (1-%d), one of the two",
		    ONVM_MAX_SERVICES - 1, ONVM_MAX_NFS - 1);
	return __onvm_nflib_msg_put(ctx, nf_id, service, ONVM_MSG_REQUEST,
	                            ++ctx->msg_ids, data, len);
}

int
onvm_nflib_reply(struct onvm_nf_ctx *ctx, const struct onvm_nf_msg *request,
                 const void *data, uint32_t len)
{
	return __onvm_nflib_msg_put(ctx, request->from, 0, ONVM_MSG_REPLY,
	                            request->id, data, len);
}

void
__onvm_nflib_take_msgs(struct onvm_nf_ctx *ctx,
                       const struct onvm_nf_handlers *h, void *user)
{
	void *msgs[MSGS_PER_LOOP];
	unsigned int n, i;

	n = rte_ring_dequeue_burst(ctx->nf->inbox, msgs, MSGS_PER_LOOP, NULL);
	for (i = 0; i < n; i++) {
		struct onvm_nf_msg *m = msgs[i];

		ctx->nf->stats.msg_in++;
		if (h != NULL && h->msg != NULL)
			h->msg(ctx, m, user);
		__onvm_msg_free(ctx->sh, m);
	}
}
