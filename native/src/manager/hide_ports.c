/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Keep NF processes away from the manager's virtual ports.
 *
 * A DPDK secondary asks the primary for its vdevs at start-up and probes
 * each again; for net_pcap that re-opens the tx pcap for writing, which
 * truncates the file the manager is writing. NFs never use ports, so the
 * manager answers that question with an empty list.
 */
#include <string.h>

#include <rte_dev.h>
#include <rte_eal.h>
#include <rte_string_fns.h>

#include "mgr_internal.h"

/* The vdev bus's multi-process request and reply, as DPDK 22.11 defines
 * them privately in drivers/bus/vdev/vdev.c. */
#define __ONVM_VDEV_MP_KEY "bus_vdev_mp"
#define __ONVM_VDEV_SCAN_REP 3

struct __onvm_vdev_param {
	int type;
	int num;
	char name[RTE_DEV_NAME_MAX_LEN];
};

static int
__onvm_vdev_list_empty(const struct rte_mp_msg *request, const void *peer)
{
	struct rte_mp_msg reply;
	struct __onvm_vdev_param *param =
	    (struct __onvm_vdev_param *)reply.param;

	memset(&reply, 0, sizeof(reply));
	rte_strscpy(reply.name, request->name, sizeof(reply.name));
	reply.len_param = sizeof(*param);
	param->type = __ONVM_VDEV_SCAN_REP;
	param->num = 0;
	return rte_mp_reply(&reply, peer);
}

int
onvm_mgr_hide_ports_from_secondaries(void)
{
	rte_mp_action_unregister(__ONVM_VDEV_MP_KEY);
	return rte_mp_action_register(__ONVM_VDEV_MP_KEY,
	                              __onvm_vdev_list_empty);
}
