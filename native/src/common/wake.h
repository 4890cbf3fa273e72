/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Cross-process sleep and wake on a 32-bit word in hugepage memory (a
 * shared futex). Used for the NF registration handshake and for
 * shared-core NFs that sleep while idle.
 */
#ifndef ONVM_WAKE_H
#define ONVM_WAKE_H

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#include <linux/futex.h>
#include <sys/syscall.h>

/* Sleep while *word == expected, at most timeout_ns. Returns 0 when woken
 * or the word changed, -ETIMEDOUT, or -EINTR. */
static inline int
__onvm_wait_word(volatile uint32_t *word, uint32_t expected,
                 uint64_t timeout_ns)
{
	struct timespec ts = {
	    .tv_sec = (time_t)(timeout_ns / 1000000000ULL),
	    .tv_nsec = (long)(timeout_ns % 1000000000ULL),
	};
	long rc = syscall(SYS_futex, (uint32_t *)word, FUTEX_WAIT, expected,
	                  &ts, NULL, 0);

	if (rc == 0 || errno == EAGAIN)
		return 0;
	return -errno;
}

/* Wake every process sleeping on word. */
static inline void
__onvm_wake_word(volatile uint32_t *word)
{
	syscall(SYS_futex, (uint32_t *)word, FUTEX_WAKE, INT_MAX, NULL, NULL,
	        0);
}

#endif /* ONVM_WAKE_H */
