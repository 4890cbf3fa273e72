/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What Python needs of DPDK that is a macro or a thread-local in C, as
 * functions its bindings can call. Compiled into both extensions; each
 * binds only the ones its side uses.
 */
#ifndef ONVM_PYDPDK_HELPERS_H
#define ONVM_PYDPDK_HELPERS_H

#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include <rte_errno.h>
#include <rte_log.h>
#include <rte_mbuf.h>

/** rte_errno of the calling thread. */
static inline int
pydpdk_errno(void)
{
	return rte_errno;
}

/** The first byte of packet @p m's data. */
static inline void *
pydpdk_mbuf_data(struct rte_mbuf *m)
{
	return rte_pktmbuf_mtod(m, void *);
}

/**
 * Send DPDK's log to the file @p path, line-buffered and readable by its
 * owner only (NULL: back to stderr).
 *
 * @return
 *   0, or -1 if the file cannot be opened or DPDK refuses the stream.
 */
static inline int
pydpdk_log_to_file(const char *path)
{
	FILE *f = NULL;

	if (path != NULL) {
		int fd =
		    open(path,
		         O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC,
		         0600);

		if (fd < 0)
			return -1;
		f = fdopen(fd, "a");
		if (f == NULL) {
			close(fd);
			return -1;
		}
		setvbuf(f, NULL, _IOLBF, 0);
	}
	return rte_openlog_stream(f);
}

#endif /* ONVM_PYDPDK_HELPERS_H */
