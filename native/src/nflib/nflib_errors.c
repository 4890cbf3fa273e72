/* SPDX-License-Identifier: BSD-3-Clause */
/* nflib's one-line errors: each failing call records what went wrong and
 * what to do, and onvm_nflib_strerror() hands it to the NF. */
#include <stdarg.h>
#include <stdio.h>

#include "nflib_internal.h"

static char __onvm_nflib_errbuf[512];

int
__onvm_nflib_error(int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(__onvm_nflib_errbuf, sizeof(__onvm_nflib_errbuf), fmt, ap);
	va_end(ap);
	return -err;
}

const char *
onvm_nflib_strerror(void)
{
	return __onvm_nflib_errbuf;
}
