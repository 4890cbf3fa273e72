# SPDX-License-Identifier: BSD-3-Clause
"""Emit the C source of the cffi extension onvm.pydpdk._pydpdk.

Out-of-line API mode: cffi checks every declaration in pydpdk_cdef.h
against the real DPDK and onvm headers when meson compiles the output.
Usage: build_pydpdk.py OUTPUT.c
"""

import pathlib
import sys

import cffi

HERE = pathlib.Path(__file__).resolve().parent

# Small helpers for what is a macro or thread-local in C.
SOURCE = r"""
#include <stdio.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_hash.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_log.h>
#include <rte_mbuf.h>
#include <rte_memzone.h>
#include <rte_mempool.h>
#include <rte_ring.h>
#include <rte_version.h>

#include <onvm/classifier.h>
#include <onvm/common.h>
#include <onvm/flow.h>
#include <onvm/manager.h>
#include <onvm/nflib.h>
#include <onvm/pkt_fields.h>
#include <onvm/pkt_meta.h>

static int pydpdk_errno(void) { return rte_errno; }

static void *pydpdk_mbuf_data(struct rte_mbuf *m)
{
	return rte_pktmbuf_mtod(m, void *);
}

/* Send DPDK's log to a file (NULL path: back to stderr). */
static int pydpdk_log_to_file(const char *path)
{
	FILE *f = NULL;

	if (path != NULL) {
		f = fopen(path, "a");
		if (f == NULL)
			return -1;
		setvbuf(f, NULL, _IOLBF, 0);
	}
	return rte_openlog_stream(f);
}
"""


def main() -> None:
    out = pathlib.Path(sys.argv[1])
    ffi = cffi.FFI()
    ffi.cdef((HERE / "pydpdk_cdef.h").read_text())
    ffi.set_source("onvm.pydpdk._pydpdk", SOURCE)
    ffi.emit_c_code(str(out))


if __name__ == "__main__":
    main()
