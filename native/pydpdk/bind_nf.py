# SPDX-License-Identifier: BSD-3-Clause
"""The NF binding, onvm.pydpdk._nf: what Python NFs call, and nothing of the
manager. The declarations come from the headers named here (read by
native/codegen/gen_binding.py); this file only names them.
"""

MODULE = "onvm.pydpdk._nf"

INCLUDES = [
    "onvm/latency.h",
    "onvm/common.h",
    "onvm/flow.h",
    "onvm/pkt_meta.h",
    "onvm/pkt_fields.h",
    "onvm/classifier.h",
    "onvm/nflib.h",
    "pydpdk_helpers.h",
]
DPDK = ["rte_eal.h", "rte_mbuf.h"]

BIND = [
    "rte_strerror", "pydpdk_errno",
    # joining a manager and running
    "onvm_nflib_parse_args", "onvm_nflib_init", "onvm_nflib_run", "onvm_nflib_stop",
    "onvm_nflib_fini", "onvm_nflib_strerror", "struct onvm_nf_handlers",
    "onvm_nflib_nf_id", "onvm_nflib_service_id", "onvm_nflib_nf", "onvm_nflib_shared",
    "struct onvm_shared",
    # packets: views, batches, verdicts, packets the NF makes
    "struct rte_mbuf", "pydpdk_mbuf_data", "struct onvm_pkt_meta", "onvm_pkt_meta",
    "rte_pktmbuf_append",
    "struct onvm_pkt_layout", "onvm_pkt_layout_parse", "onvm_pkt_fix_checksums",
    "struct onvm_flow_key", "onvm_flow_key_parse", "onvm_flow_key_hash",
    "struct onvm_pkt_fields", "onvm_pkt_fields_parse", "onvm_pkt_apply_verdicts",
    "onvm_pkt_apply_verdicts_counted", "onvm_pkt_rx_ns",
    # messages
    "struct onvm_nf_msg", "onvm_nflib_send_msg", "onvm_nflib_reply",
    # packets the NF holds across batches
    "onvm_nflib_release", "onvm_nflib_free_held", "onvm_nflib_holding",
    "onvm_nflib_alloc_pkts", "onvm_nflib_send", "onvm_nflib_free_pkts", "onvm_nflib_clone",
    # the classifier
    "struct onvm_rule", "onvm_classifier_create", "onvm_classifier_add",
    "onvm_classifier_build", "onvm_classifier_classify", "onvm_classifier_classify_map",
    "onvm_classifier_free",
]

# Python functions that C calls back: name -> the C function type they are.
CALLBACKS = {
    "onvm_py_verdict": "onvm_nf_verdict_handler_t",
    "onvm_py_periodic": "onvm_nf_periodic_t",
    "onvm_py_msg": "onvm_nf_msg_handler_t",
}
