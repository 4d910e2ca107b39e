/* SPDX-License-Identifier: MIT */
/* Test support: a throwaway simulation directory with sim domains. */
#ifndef VHA_TEST_SIMDIR_H
#define VHA_TEST_SIMDIR_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "vha/platform.h"

/* mkdtemp a sim dir under /tmp and create the listed domains; returns the path (static buffer). */
const char *test_simdir_create(const vha_domid_t *domids, unsigned int n);
/* Remove the directory tree made by test_simdir_create. */
void test_simdir_remove(const char *dir);
/* Open the sim platform of `dir` as `domid` (asserts success). */
struct vha_platform *test_sim_platform(const char *dir, vha_domid_t domid);

/*
 * The build directory ($VHA_BUILD, default "build"). If `binary` is not built
 * there, print why and return false: the test should exit 77 (skipped).
 */
const char *test_build_dir(void);
bool test_have_binary(const char *binary);

/* system() of a printf-formatted command. */
int test_run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* CLOCK_MONOTONIC in seconds. */
double test_now(void);

/*
 * A sim directory /tmp/vha-<name>-XXXXXX (into dir) with the sim xenstored
 * running (vhactl sim start) and vha-backend --foreground with the extra
 * args (NULL-terminated, may be NULL) as *pid, logging to <dir>/backend.log.
 * Returns 0 or -1.
 */
int test_sim_backend_start(char *dir, size_t dirlen, const char *name, const char *const *args, pid_t *pid);
/* SIGTERM the backend, stop the sim, remove the directory ($VHA_KEEP_LOGS: print the backend log first). */
void test_sim_backend_stop(const char *dir, pid_t pid);

#endif
