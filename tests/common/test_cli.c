// SPDX-License-Identifier: MIT
/* The shared command-line number parser: every accepted and rejected form. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "vha/cli.h"

static void test_u64(void **state)
{
	static const struct {
		const char *text;
		uint64_t min, max;
		unsigned int flags;
		int rc;
		uint64_t v;
	} cases[] = {
		{ "0", 0, 10, 0, 0, 0 },
		{ "10", 0, 10, 0, 0, 10 },
		{ "007", 0, 10, 0, 0, 7 },
		{ "11", 0, 10, 0, -ERANGE, 0 },
		{ "0", 1, 10, 0, -ERANGE, 0 },
		{ "18446744073709551615", 0, UINT64_MAX, 0, 0, UINT64_MAX },
		{ "18446744073709551616", 0, UINT64_MAX, 0, -ERANGE, 0 },
		{ "99999999999999999999999", 0, UINT64_MAX, 0, -ERANGE, 0 },
		/* What strtoul would have taken silently. */
		{ "", 0, 10, 0, -EINVAL, 0 },
		{ "-1", 0, UINT64_MAX, 0, -EINVAL, 0 },
		{ "+1", 0, 10, 0, -EINVAL, 0 },
		{ " 1", 0, 10, 0, -EINVAL, 0 },
		{ "1 ", 0, 10, 0, -EINVAL, 0 },
		{ "0x10", 0, 100, 0, -EINVAL, 0 },
		{ "abc", 0, 10, 0, -EINVAL, 0 },
		{ "4k", 0, UINT64_MAX, 0, -EINVAL, 0 },
		/* Sizes. */
		{ "4k", 0, UINT64_MAX, VHA_PARSE_SIZE, 0, 4096 },
		{ "4K", 0, UINT64_MAX, VHA_PARSE_SIZE, 0, 4096 },
		{ "3m", 0, UINT64_MAX, VHA_PARSE_SIZE, 0, 3ull << 20 },
		{ "2G", 0, UINT64_MAX, VHA_PARSE_SIZE, 0, 2ull << 30 },
		{ "5t", 0, UINT64_MAX, VHA_PARSE_SIZE, 0, 5ull << 40 },
		{ "512", 0, UINT64_MAX, VHA_PARSE_SIZE, 0, 512 },
		{ "k", 0, UINT64_MAX, VHA_PARSE_SIZE, -EINVAL, 0 },
		{ "4kb", 0, UINT64_MAX, VHA_PARSE_SIZE, -EINVAL, 0 },
		{ "4x", 0, UINT64_MAX, VHA_PARSE_SIZE, -EINVAL, 0 },
		{ "16777215t", 0, UINT64_MAX, VHA_PARSE_SIZE, 0, 16777215ull << 40 },
		{ "16777216t", 0, UINT64_MAX, VHA_PARSE_SIZE, -ERANGE, 0 },
		{ "2k", 0, 2047, VHA_PARSE_SIZE, -ERANGE, 0 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint64_t v = 0xdead;
		int rc = vha_parse_u64(cases[i].text, cases[i].min, cases[i].max, cases[i].flags, &v);

		if (rc != cases[i].rc)
			fail_msg("\"%s\": rc %d, want %d", cases[i].text, rc, cases[i].rc);
		assert_int_equal(v, cases[i].rc == 0 ? cases[i].v : 0xdead);
	}
	assert_int_equal(vha_parse_u64(NULL, 0, 1, 0, NULL), -EINVAL);
}

static void test_double(void **state)
{
	static const struct {
		const char *text;
		int rc;
		double v;
	} cases[] = {
		{ "10", 0, 10 },     { "0.5", 0, 0.5 },   { ".25", 0, 0.25 }, { "1e2", 0, 100 },
		{ "0", 0, 0 },       { "1001", -ERANGE, 0 }, { "-1", -ERANGE, 0 }, { "", -EINVAL, 0 },
		{ " 1", -EINVAL, 0 }, { "1s", -EINVAL, 0 }, { "inf", -EINVAL, 0 }, { "nan", -EINVAL, 0 },
		{ "0x10", -EINVAL, 0 }, { "abc", -EINVAL, 0 }, { "1e999", -ERANGE, 0 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		double v = -7;
		int rc = vha_parse_double(cases[i].text, 0, 1000, &v);

		if (rc != cases[i].rc)
			fail_msg("\"%s\": rc %d, want %d", cases[i].text, rc, cases[i].rc);
		assert_true(v == (cases[i].rc == 0 ? cases[i].v : -7));
	}
}

static void test_typed_wrappers(void **state)
{
	unsigned int u = 9;
	int i = 9;
	long l = 9;
	double d = 9;

	/* Messages go to stderr; only the results matter here. */
	assert_int_equal(vha_cli_uint("queues", "4", 1, 16, &u), 0);
	assert_int_equal(u, 4);
	assert_int_equal(vha_cli_uint("queues", "17", 1, 16, &u), -ERANGE);
	assert_int_equal(vha_cli_uint("queues", "4294967296", 0, UINT32_MAX, &u), -ERANGE);
	assert_int_equal(u, 4);
	assert_int_equal(vha_cli_int("domid", "32751", 0, 32751, &i), 0);
	assert_int_equal(i, 32751);
	assert_int_equal(vha_cli_int("domid", "-3", -1, 32751, &i), -EINVAL);
	assert_int_equal(vha_cli_int("domid", "x", 0, 32751, &i), -EINVAL);
	assert_int_equal(i, 32751);
	assert_int_equal(vha_cli_long("devid", "51712", 0, 1L << 30, &l), 0);
	assert_int_equal(l, 51712);
	assert_int_equal(vha_cli_long("devid", "", 0, 1L << 30, &l), -EINVAL);
	assert_int_equal(vha_cli_double("timeout", "2.5", 0, 3600, &d), 0);
	assert_true(d == 2.5);
	assert_int_equal(vha_cli_double("timeout", "soon", 0, 3600, &d), -EINVAL);
	assert_true(d == 2.5);
}

static void test_version_and_prog(void **state)
{
	assert_non_null(vha_version());
	assert_true(strlen(vha_version()) > 0);
	vha_cli_init("vha-test");
	assert_string_equal(vha_cli_prog(), "vha-test");
	vha_cli_init("");
	assert_string_equal(vha_cli_prog(), "vha-test");
	assert_int_equal(vha_cli_usage("%s", "a usage error"), VHA_EXIT_USAGE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_u64),
		cmocka_unit_test(test_double),
		cmocka_unit_test(test_typed_wrappers),
		cmocka_unit_test(test_version_and_prog),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
