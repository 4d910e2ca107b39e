// SPDX-License-Identifier: MIT
/* Platform selection and its error messages. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "simdir.h"
#include "vha/platform.h"

static void test_xen_unavailable_here(void **state)
{
	struct vha_platform_config cfg = { .kind = "xen" };
	struct vha_platform *p = NULL;
	int rc;

	(void)state;
	if (access("/dev/xen/gntdev", F_OK) == 0)
		skip();         /* really on Xen: nothing to check here */
	rc = vha_platform_open(&cfg, &p);
	assert_int_equal(rc, -ENOENT);
	assert_null(p);
	assert_non_null(strstr(vha_platform_strerror(), "not running on Xen; use the sim platform"));
}

static void test_unknown_kind(void **state)
{
	struct vha_platform_config cfg = { .kind = "kvm" };
	struct vha_platform *p = NULL;

	(void)state;
	assert_int_equal(vha_platform_open(&cfg, &p), -EINVAL);
	assert_non_null(strstr(vha_platform_strerror(), "valid: xen, sim"));
}

static void test_sim_needs_dir_and_domain(void **state)
{
	struct vha_platform_config cfg = { .kind = "sim", .sim_domid = -1 };
	struct vha_platform *p = NULL;
	static const vha_domid_t doms[] = { 0 };
	const char *dir;

	(void)state;
	unsetenv("VHA_SIM_DIR");
	assert_int_equal(vha_platform_open(&cfg, &p), -EINVAL);
	assert_non_null(strstr(vha_platform_strerror(), "--sim-dir"));
	cfg.sim_dir = "/nonexistent/vha";
	assert_int_equal(vha_platform_open(&cfg, &p), -ENOENT);
	dir = test_simdir_create(doms, 1);
	cfg.sim_dir = dir;
	cfg.sim_domid = 5;
	assert_int_equal(vha_platform_open(&cfg, &p), -ESRCH);
	assert_non_null(strstr(vha_platform_strerror(), "vhactl sim create-domain 5"));
	/* Environment variables fill in what the config leaves out. */
	setenv("VHA_PLATFORM", "sim", 1);
	setenv("VHA_SIM_DIR", dir, 1);
	setenv("VHA_SIM_DOMID", "0", 1);
	struct vha_platform_config empty = { .sim_domid = -1 };
	assert_int_equal(vha_platform_open(&empty, &p), 0);
	assert_string_equal(vha_platform_kind(p), "sim");
	assert_int_equal(vha_platform_domid(p), 0);
	vha_platform_close(p);
	setenv("VHA_SIM_DOMID", "junk", 1);
	assert_int_equal(vha_platform_open(&empty, &p), -EINVAL);
	unsetenv("VHA_PLATFORM");
	unsetenv("VHA_SIM_DIR");
	unsetenv("VHA_SIM_DOMID");
	test_simdir_remove(dir);
}

static void test_several_domains_in_one_process(void **state)
{
	static const vha_domid_t doms[] = { 0, 1, 2 };
	const char *dir = test_simdir_create(doms, 3);
	struct vha_platform *p[3];

	(void)state;
	for (int i = 0; i < 3; i++) {
		p[i] = test_sim_platform(dir, doms[i]);
		assert_int_equal(vha_platform_domid(p[i]), doms[i]);
	}
	for (int i = 0; i < 3; i++)
		vha_platform_close(p[i]);
	vha_platform_close(NULL);
	test_simdir_remove(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_xen_unavailable_here),
		cmocka_unit_test(test_unknown_kind),
		cmocka_unit_test(test_sim_needs_dir_and_domain),
		cmocka_unit_test(test_several_domains_in_one_process),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
