/* SPDX-License-Identifier: MIT */
/*
 * The command-line layer every vha program shares: number parsing with range
 * checks (and unit suffixes where a size is meant), messages in one voice
 * ("prog: message" on stderr, then "Try 'prog --help'." for usage errors),
 * the project's one version string, and named exit codes.
 *
 * Unlike the rest of common/, the vha_cli_* reporting functions write to
 * stderr/stdout: only programs use them, never library code. The vha_parse_*
 * functions are pure and never print. Not thread-safe (call from main).
 */
#ifndef VHA_CLI_H
#define VHA_CLI_H

#include <stdint.h>

/* Exit codes, as vha-backend has always used them. */
enum vha_exit {
	VHA_EXIT_OK = 0,
	VHA_EXIT_FAILURE = 1,   /* the command ran and failed */
	VHA_EXIT_USAGE = 2,     /* bad arguments: nothing was done */
};

/* Flags for vha_parse_u64. */
#define VHA_PARSE_SIZE 0x1u     /* accept a binary unit suffix: k/K, m/M, g/G, t/T (x1024^n) */

/*
 * Parse an unsigned decimal number: digits only (no sign, no spaces, no
 * hex), optionally one suffix with VHA_PARSE_SIZE. Returns 0 with *out set;
 * -EINVAL when s is not such a number (empty, trailing junk, unknown suffix);
 * -ERANGE when it overflows 64 bits or lies outside [min, max]. *out is left
 * alone on error. Never prints.
 */
int vha_parse_u64(const char *s, uint64_t min, uint64_t max, unsigned int flags, uint64_t *out);

/*
 * Parse a finite decimal number (strtod syntax, no hex, inf or nan) within
 * [min, max]. Returns 0, -EINVAL or -ERANGE as vha_parse_u64. Never prints.
 */
int vha_parse_double(const char *s, double min, double max, double *out);

/* The program name messages start with (default "vha"); call first in main. */
void vha_cli_init(const char *prog);
const char *vha_cli_prog(void);

/* The project's version (the Makefile's VERSION). */
const char *vha_version(void);

/* "prog VERSION" on stdout. Returns VHA_EXIT_OK, for `return vha_cli_version();`. */
int vha_cli_version(void);

/* "prog: message" on stderr (a newline is added). */
void vha_cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* "Try 'prog --help'." on stderr. */
void vha_cli_hint(void);

/* vha_cli_error, then vha_cli_hint. Returns VHA_EXIT_USAGE, for `return vha_cli_usage(...)`. */
int vha_cli_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * getopt_long's refusals in the same voice. Set opterr = 0 and start the
 * optstring with ':' (after any '+'), then call this when getopt_long
 * returns '?' (unknown option) or ':' (missing argument): prints "prog:
 * unknown option '--x'" or "prog: option '--x' needs an argument" and the
 * hint. Reads optind and optopt. Returns VHA_EXIT_USAGE.
 */
int vha_cli_bad_option(int c, char *const argv[]);

/*
 * The program's global options (a getopt_long table, kept by the caller),
 * for a program whose commands parse options of their own: an option of
 * this table refused by a command is then named as a global option that
 * goes before the command. NULL: none.
 */
struct option;
void vha_cli_set_global_options(const struct option *globals);

/*
 * Parse the argument of option `name` (printed as "--name"; a name with a
 * space or starting with '-' is printed as given) with vha_parse_u64. On
 * error prints "prog: --name wants a number from MIN to MAX, not 'ARG'"
 * (sizes say so and name the suffixes) and returns -EINVAL or -ERANGE; the
 * caller then hints and exits VHA_EXIT_USAGE.
 */
int vha_cli_u64(const char *name, const char *arg, uint64_t min, uint64_t max, unsigned int flags, uint64_t *out);
/* The same into an unsigned int / int / long; max must fit the type. */
int vha_cli_uint(const char *name, const char *arg, unsigned int min, unsigned int max, unsigned int *out);
int vha_cli_int(const char *name, const char *arg, int min, int max, int *out);
int vha_cli_long(const char *name, const char *arg, long min, long max, long *out);
/* vha_parse_double with the same reporting. */
int vha_cli_double(const char *name, const char *arg, double min, double max, double *out);

#endif
