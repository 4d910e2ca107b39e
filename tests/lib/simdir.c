// SPDX-License-Identifier: MIT
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "simdir.h"
#include "vha/sim.h"

const char *test_simdir_create(const vha_domid_t *domids, unsigned int n)
{
	static char dir[256];

	snprintf(dir, sizeof(dir), "/tmp/vha-test-XXXXXX");
	assert_non_null(mkdtemp(dir));
	for (unsigned int i = 0; i < n; i++)
		assert_int_equal(vha_sim_domain_create(dir, domids[i]), 0);
	return dir;
}

void test_simdir_remove(const char *dir)
{
	char cmd[512];

	if (!dir || strncmp(dir, "/tmp/vha-test-", 14) != 0)
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
}

struct vha_platform *test_sim_platform(const char *dir, vha_domid_t domid)
{
	struct vha_platform_config cfg = { .kind = "sim", .sim_dir = dir, .sim_domid = (int)domid };
	struct vha_platform *p = NULL;

	assert_int_equal(vha_platform_open(&cfg, &p), 0);
	assert_non_null(p);
	return p;
}

const char *test_build_dir(void)
{
	const char *b = getenv("VHA_BUILD");

	return b && *b ? b : "build";
}

bool test_have_binary(const char *binary)
{
	char path[4200];

	snprintf(path, sizeof(path), "%s/%s", test_build_dir(), binary);
	if (access(path, X_OK) == 0)
		return true;
	printf("skip: %s is not built\n", path);
	return false;
}
