/* SPDX-License-Identifier: BSD-3-Clause */
/* From rte_ring.h (cffi dialect). */
struct rte_ring;
unsigned int rte_ring_count(const struct rte_ring *r);
