/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Prefetch for a store. A metadata line the other side's core has just
 * written would otherwise cross between the cores twice: once for the
 * read, once more for the write that follows it.
 */
#ifndef ONVM_PREFETCH_H
#define ONVM_PREFETCH_H

#include <rte_prefetch.h>

static inline void
__onvm_prefetch_for_write(const void *p)
{
#ifdef RTE_ARCH_X86
	/* A no-op hint on x86 CPUs that predate it. */
	asm volatile("prefetchw %0" : : "m"(*(const volatile char *)p));
#else
	rte_prefetch0(p);
#endif
}

#endif /* ONVM_PREFETCH_H */
