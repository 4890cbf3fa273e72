# SPDX-License-Identifier: BSD-3-Clause
"""The manager's binding, onvm.pydpdk._manager: what the manager's Python
calls, and nothing of the NF library. The declarations come from the headers
named here (read by native/codegen/gen_binding.py); this file only names them.
"""

MODULE = "onvm.pydpdk._manager"

# What the extension compiles against, in include order.
INCLUDES = [
    "onvm/latency.h",
    "onvm/common.h",
    "onvm/bpf_shared.h",
    "onvm/nf_metrics.h",
    "onvm/classifier.h",
    "onvm/manager.h",
    "mgr_internal.h",  # the service table writer, driven by unit tests
    "pydpdk_helpers.h",
]
# cffi declaration files of the DPDK calls below (native/pydpdk/cdef/).
DPDK = ["rte_eal.h", "rte_mbuf.h", "rte_ring.h", "rte_ethdev.h"]

BIND = [
    # bring-up: EAL and ports
    "rte_eal_init", "rte_eal_cleanup", "rte_strerror", "rte_dev_probe",
    "pydpdk_errno", "pydpdk_log_to_file", "pydpdk_eth_conf_rss", "pydpdk_link_state",
    "rte_eth_dev_get_port_by_name", "rte_eth_dev_socket_id", "rte_eth_dev_info_get",
    "rte_eth_dev_configure", "rte_eth_rx_queue_setup", "rte_eth_tx_queue_setup",
    "rte_eth_dev_start", "rte_eth_dev_stop", "rte_eth_dev_close",
    "rte_eth_promiscuous_enable", "rte_eth_macaddr_get", "rte_eth_stats_get",
    "pydpdk_eth_conf_rx_timestamp", "rte_eth_read_clock",
    "struct rte_eth_conf", "struct rte_eth_dev_info", "struct rte_eth_stats",
    "struct rte_ether_addr",
    # the shared tables and the data plane
    "struct onvm_shared", "struct onvm_mgr_config", "struct rte_mempool",
    "onvm_mgr_create", "onvm_mgr_hide_ports_from_secondaries", "onvm_mgr_port_enable",
    "onvm_mgr_launch", "onvm_mgr_halt", "onvm_mgr_pool_available", "rte_ring_count",
    "onvm_mgr_chain_set",
    "onvm_mgr_nf_dead", "onvm_mgr_nf_stop", "onvm_mgr_nf_reclaim",
    "onvm_mgr_nf_release_rejected",
    "__onvm_service_add", "__onvm_service_remove", "__onvm_dedicated_cpu",
    "struct onvm_rule", "struct onvm_flow_rule", "struct onvm_flow_tier_info",
    "onvm_mgr_flow_rules_add", "onvm_mgr_flow_rules_delete", "onvm_mgr_flow_rules_settle",
    "onvm_mgr_flow_rules_gc",
    "onvm_mgr_flow_tiers", "onvm_mgr_flow_hits", "onvm_mgr_flow_bytes",
    "struct onvm_capture_record", "onvm_mgr_capture_start", "onvm_mgr_capture_stop",
    "onvm_mgr_capture_take", "onvm_mgr_tsc",
    # latency histograms (the two inline writers bound for the unit tests)
    "struct onvm_hist", "onvm_hist_bucket", "onvm_hist_record",
    # messages to NFs
    "struct onvm_nf_msg", "onvm_mgr_msg_send", "onvm_mgr_msg_take_reply",
    # bpf NFs: their directories, load requests and maps
    "struct onvm_bpf_dir", "struct onvm_bpf_map", "onvm_bpf_dir_lookup",
    "onvm_bpf_dir_release", "onvm_bpf_dir_map", "onvm_bpf_request_load",
    "onvm_bpf_request_done", "onvm_bpf_map_lookup", "onvm_bpf_map_update",
    "onvm_bpf_map_delete", "onvm_bpf_map_next", "onvm_bpf_map_entries", "onvm_bpf_map_clear",
    # metrics NFs publish
    "struct onvm_nf_metrics", "struct onvm_metric_family", "struct onvm_metric_series",
    "onvm_nf_metrics_lookup", "onvm_nf_metrics_release", "onvm_nf_metrics_series",
    "onvm_nf_metrics_read_series",
]

# Python functions that C calls back.
CALLBACKS: dict[str, str] = {}
