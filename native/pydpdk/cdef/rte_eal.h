/* SPDX-License-Identifier: BSD-3-Clause */
/* From rte_eal.h, rte_errno.h, rte_version.h and rte_dev.h (cffi dialect). */
int rte_eal_init(int argc, char **argv);
int rte_eal_cleanup(void);
const char *rte_strerror(int errnum);
const char *rte_version(void);
int rte_dev_probe(const char *devargs);
