/* SPDX-License-Identifier: MIT */
/* Test support: a throwaway simulation directory with sim domains. */
#ifndef VHA_TEST_SIMDIR_H
#define VHA_TEST_SIMDIR_H

#include <stdbool.h>

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

#endif
