// SPDX-License-Identifier: MIT
/*
 * The command-line layer (vha/cli.h): one number parser for every program
 * and one voice for their messages. The only file in common/ that prints,
 * because printing is what it is for.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vha/cli.h"

#ifndef VHA_VERSION
#error "VHA_VERSION comes from the Makefile's VERSION"
#endif

static const char *prog_name = "vha";

int vha_parse_u64(const char *s, uint64_t min, uint64_t max, unsigned int flags, uint64_t *out)
{
	uint64_t v = 0;
	unsigned int shift = 0;
	const char *p = s;

	if (s == NULL || *s < '0' || *s > '9')
		return -EINVAL;
	for (; *p >= '0' && *p <= '9'; p++) {
		unsigned int d = (unsigned int)(*p - '0');

		if (v > (UINT64_MAX - d) / 10)
			return -ERANGE;
		v = v * 10 + d;
	}
	if (*p != '\0' && (flags & VHA_PARSE_SIZE)) {
		switch (*p) {
		case 'k': case 'K': shift = 10; break;
		case 'm': case 'M': shift = 20; break;
		case 'g': case 'G': shift = 30; break;
		case 't': case 'T': shift = 40; break;
		default: return -EINVAL;
		}
		p++;
	}
	if (*p != '\0')
		return -EINVAL;
	if (shift && v > (UINT64_MAX >> shift))
		return -ERANGE;
	v <<= shift;
	if (v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

int vha_parse_double(const char *s, double min, double max, double *out)
{
	char *end;
	double v;

	/* strtod would take leading spaces, hex, "inf" and "nan": none is a number a user means here. */
	if (s == NULL || !(*s == '-' || *s == '.' || (*s >= '0' && *s <= '9')) || strpbrk(s, "xXnN") != NULL)
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (end == s || *end != '\0')
		return -EINVAL;
	if (errno == ERANGE || !isfinite(v) || v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

void vha_cli_init(const char *prog)
{
	if (prog != NULL && *prog != '\0')
		prog_name = prog;
}

const char *vha_cli_prog(void)
{
	return prog_name;
}

const char *vha_version(void)
{
	return VHA_VERSION;
}

int vha_cli_version(void)
{
	printf("%s %s\n", prog_name, VHA_VERSION);
	return VHA_EXIT_OK;
}

static void verror(const char *fmt, va_list ap)
{
	fprintf(stderr, "%s: ", prog_name);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void vha_cli_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	verror(fmt, ap);
	va_end(ap);
}

void vha_cli_hint(void)
{
	fprintf(stderr, "Try '%s --help'.\n", prog_name);
}

int vha_cli_usage(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	verror(fmt, ap);
	va_end(ap);
	vha_cli_hint();
	return VHA_EXIT_USAGE;
}

static const struct option *global_options;

void vha_cli_set_global_options(const struct option *globals)
{
	global_options = globals;
}

/* Whether "--name" or "--name=value" is one of the global options. */
static bool is_global_option(const char *arg)
{
	size_t len;

	if (!global_options || strncmp(arg, "--", 2) != 0)
		return false;
	arg += 2;
	len = strcspn(arg, "=");
	for (const struct option *o = global_options; o->name; o++)
		if (strlen(o->name) == len && strncmp(o->name, arg, len) == 0)
			return true;
	return false;
}

int vha_cli_bad_option(int c, char *const argv[])
{
	const char *arg = optind > 0 && argv[optind - 1] != NULL ? argv[optind - 1] : "";
	char letter[3] = { '-', (char)optopt, '\0' };
	/* A long option is named as typed; a short one (maybe in a cluster) by its letter. */
	const char *name = strncmp(arg, "--", 2) == 0 || optopt == 0 ? arg : letter;

	if (c == ':')
		return vha_cli_usage("option '%s' needs an argument", name);
	if (is_global_option(name))
		return vha_cli_usage("%s is a global option: it goes before the command (%s %s ... COMMAND ...)",
				     name, prog_name, name);
	return vha_cli_usage("unknown option '%s'", name);
}

/* "--name", or the name as given when it is a phrase ("sim create-domain N"). */
static const char *dashes(const char *name)
{
	return name[0] == '-' || strchr(name, ' ') != NULL ? "" : "--";
}

int vha_cli_u64(const char *name, const char *arg, uint64_t min, uint64_t max, unsigned int flags, uint64_t *out)
{
	int rc = vha_parse_u64(arg, min, max, flags, out);

	if (rc < 0)
		vha_cli_error("%s%s wants a %s from %llu to %llu%s, not '%s'", dashes(name), name,
			      flags & VHA_PARSE_SIZE ? "size" : "number", (unsigned long long)min,
			      (unsigned long long)max, flags & VHA_PARSE_SIZE ? " (suffix k, m, g or t allowed)" : "",
			      arg ? arg : "");
	return rc;
}

int vha_cli_uint(const char *name, const char *arg, unsigned int min, unsigned int max, unsigned int *out)
{
	uint64_t v;
	int rc = vha_cli_u64(name, arg, min, max, 0, &v);

	if (rc == 0)
		*out = (unsigned int)v;
	return rc;
}

int vha_cli_long(const char *name, const char *arg, long min, long max, long *out)
{
	uint64_t v;
	int rc;

	/* The programs' signed options only take values from 0 up; a sign is never needed. */
	if (min < 0)
		min = 0;
	rc = vha_cli_u64(name, arg, (uint64_t)min, (uint64_t)max, 0, &v);
	if (rc == 0)
		*out = (long)v;
	return rc;
}

int vha_cli_int(const char *name, const char *arg, int min, int max, int *out)
{
	long v;
	int rc = vha_cli_long(name, arg, min, max, &v);

	if (rc == 0)
		*out = (int)v;
	return rc;
}

int vha_cli_double(const char *name, const char *arg, double min, double max, double *out)
{
	int rc = vha_parse_double(arg, min, max, out);

	if (rc < 0)
		vha_cli_error("%s%s wants a number from %g to %g, not '%s'", dashes(name), name, min, max,
			      arg ? arg : "");
	return rc;
}
