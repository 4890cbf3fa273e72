/* SPDX-License-Identifier: BSD-3-Clause */
/* nflib command-line options, taken out of argv wherever they appear. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nflib_internal.h"

static int
__onvm_valid_manager_name(const char *name)
{
	size_t len = strlen(name);

	return len > 0 && len <= ONVM_NAME_MAX &&
	       strspn(name, ONVM_NAME_CHARS) == len;
}

static int
__onvm_parse_long(const char *opt, const char *text, long lo, long hi,
                  long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(text, &end, 10);
	if (errno != 0 || *text == '\0' || *end != '\0' || v < lo || v > hi)
		return __onvm_nflib_error(
		    EINVAL, "%s takes a number from %ld to %ld, not '%s'", opt,
		    lo, hi, text);
	*out = v;
	return 0;
}

/* Options that take a value; `--opt=value` works too. */
static const char *const __onvm_valued[] = {
    "--service", "--name", "--nf-name", "--core", NULL,
};

static int
__onvm_apply(struct __onvm_nf_options *o, const char *opt, const char *val)
{
	long v = 0;
	int rc;

	if (strcmp(opt, "--service") == 0)
		return __onvm_parse_long(opt, val, 1, ONVM_MAX_SERVICES - 1,
		                         &o->service_id);
	if (strcmp(opt, "--core") == 0) {
		rc = __onvm_parse_long(opt, val, 0, ONVM_MAX_CPU, &v);
		o->core = (int)v;
		return rc;
	}
	if (strcmp(opt, "--name") == 0) {
		if (!__onvm_valid_manager_name(val))
			return __onvm_nflib_error(
			    EINVAL,
			    "--name takes a manager name of 1 to %d letters, "
			    "digits, '-' or '_', not '%s'",
			    ONVM_NAME_MAX, val);
		strcpy(o->manager, val);
		return 0;
	}
	/* --nf-name */
	strncpy(o->nf_name, val, sizeof(o->nf_name) - 1);
	return 0;
}

/* The valued option @p arg names, or NULL. */
static const char *
__onvm_valued_option(const char *arg)
{
	unsigned int i;

	for (i = 0; __onvm_valued[i]; i++) {
		size_t len = strlen(__onvm_valued[i]);

		if (strncmp(arg, __onvm_valued[i], len) == 0 &&
		    (arg[len] == '\0' || arg[len] == '='))
			return __onvm_valued[i];
	}
	return NULL;
}

int
onvm_nflib_parse_args(int argc, char **argv)
{
	struct __onvm_nf_options opts;

	memset(&opts, 0, sizeof(opts));
	opts.core = -1;
	return __onvm_nflib_parse_args(argc, argv, &opts);
}

int
__onvm_nflib_parse_args(int argc, char **argv, struct __onvm_nf_options *o)
{
	int in, out = 1, rc;

	for (in = 1; in < argc; in++) {
		char *arg = argv[in];
		const char *opt;
		size_t len;

		if (strcmp(arg, "--") == 0) {
			/* Everything after belongs to the NF. */
			for (in++; in < argc; in++)
				argv[out++] = argv[in];
			break;
		}
		if (strcmp(arg, "--busy-poll") == 0) {
			o->busy_poll = 1;
			continue;
		}
		if (strcmp(arg, "--dedicated") == 0) {
			o->dedicated = 1;
			continue;
		}
		opt = __onvm_valued_option(arg);
		if (opt == NULL) {
			argv[out++] = arg;
			continue;
		}
		len = strlen(opt);
		if (arg[len] == '=')
			rc = __onvm_apply(o, opt, arg + len + 1);
		else if (in + 1 < argc)
			rc = __onvm_apply(o, opt, argv[++in]);
		else
			return __onvm_nflib_error(EINVAL, "%s needs a value",
			                          opt);
		if (rc < 0)
			return rc;
	}
	if (o->service_id == 0)
		return __onvm_nflib_error(
		    EINVAL, "no service id: pass --service ID (1 to %d)",
		    ONVM_MAX_SERVICES - 1);
	if (o->dedicated && o->core >= 0)
		return __onvm_nflib_error(
		    EINVAL,
		    "--dedicated asks the manager for a free CPU and "
		    "--core %d names one: give one of them",
		    o->core);
	argv[out] = NULL;
	return out;
}

void
onvm_nflib_option_error(const char *nf_name, const char *usage,
                        const char *optstring, char *const argv[])
{
	const char *arg = argv[optind - 1];

	if (optopt != 0 && strchr(optstring, optopt) != NULL)
		fprintf(stderr, "%s: %s needs a value (%s)\n", nf_name, arg,
		        usage);
	else
		fprintf(stderr, "%s: unknown option '%s' (%s)\n", nf_name, arg,
		        usage);
}
