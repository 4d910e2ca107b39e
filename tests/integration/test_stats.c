// SPDX-License-Identifier: MIT
/*
 * stats.json against a real vha-backend on the sim platform: the device's
 * "totals" count for its whole life while the queues' counters start again
 * at each connection, and the line layout that shell readers rely on
 * (docs/stats-schema.md).
 */
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "simdir.h"
#include "statsjson.h"
#include "vha/front.h"
#include "vha/platform.h"

#define DISK_BYTES (4u << 20)
#define IO_BYTES 4096u

static char simdir[64];
static pid_t backend_pid;
static unsigned int next_domid = 1;

/* A fresh sim domain with a disk attached; returns its domid. */
static unsigned int new_disk(void)
{
	const char *build = test_build_dir();
	unsigned int dom = next_domid++;

	assert_int_equal(test_run("head -c %u /dev/urandom > %s/disk%u.img", DISK_BYTES, simdir, dom), 0);
	assert_int_equal(test_run("%s/vhactl --sim-dir %s sim create-domain %u >/dev/null", build, simdir, dom), 0);
	assert_int_equal(test_run("%s/vhactl --platform sim --sim-dir %s attach --frontend-domid %u --target "
				  "%s/disk%u.img >/dev/null", build, simdir, dom, simdir, dom), 0);
	return dom;
}

/* Connect as dom's frontend, write `writes` and read `reads` blocks of IO_BYTES, disconnect. */
static void connection(unsigned int dom, unsigned int writes, unsigned int reads)
{
	struct vha_platform_config cfg = { .kind = "sim", .sim_dir = simdir, .sim_domid = (int)dom };
	struct vha_front_opts opts = { .timeout_ms = 5000 };
	static unsigned char buf[IO_BYTES];
	struct vha_platform *p;
	struct vha_front *f;

	assert_int_equal(vha_platform_open(&cfg, &p), 0);
	assert_int_equal(vha_front_open(p, 51712, &opts, &f), 0);
	for (unsigned int i = 0; i < writes; i++) {
		memset(buf, (int)i, sizeof(buf));
		assert_int_equal(vha_front_write(f, (uint64_t)i * IO_BYTES, buf, sizeof(buf)), 0);
	}
	for (unsigned int i = 0; i < reads; i++)
		assert_int_equal(vha_front_read(f, (uint64_t)i * IO_BYTES, buf, sizeof(buf)), 0);
	vha_front_close(f);
	vha_platform_close(p);
}

struct counts {
	uint64_t connections, total_requests, total_writes, total_reads, total_written;
	uint64_t queue_requests, queue_writes;
};

static struct counts counts_of(unsigned int dom)
{
	struct json_object *doc = test_stats_read(simdir, backend_pid);
	struct json_object *dev = test_stats_device(doc, dom, 51712);
	struct counts c = {
		.connections = test_stats_u64(dev, "/connections"),
		.total_requests = test_stats_u64(dev, "/totals/requests"),
		.total_writes = test_stats_u64(dev, "/totals/writes"),
		.total_reads = test_stats_u64(dev, "/totals/reads"),
		.total_written = test_stats_u64(dev, "/totals/bytes_written"),
		.queue_requests = test_stats_queue_sum(dev, "/requests", -1),
		.queue_writes = test_stats_queue_sum(dev, "/writes", -1),
	};

	json_object_put(doc);
	return c;
}

/* Totals keep growing across reconnects; the queues' counters are the current connection's. */
static void test_totals_survive_reconnect(void **state)
{
	unsigned int dom = new_disk();
	struct counts first, second, third;

	(void)state;
	connection(dom, 40, 8);
	first = counts_of(dom);
	print_message("after connection 1: %" PRIu64 " requests in totals, %" PRIu64 " in the queues (closed)\n",
		      first.total_requests, first.queue_requests);
	assert_int_equal(first.connections, 1);
	assert_true(first.total_writes >= 40);
	assert_true(first.total_reads >= 8);
	assert_true(first.total_written >= 40 * IO_BYTES);
	/* Closed: no queues, and nothing lost with them. */
	assert_int_equal(first.queue_requests, 0);

	connection(dom, 4, 0);
	second = counts_of(dom);
	print_message("after connection 2: %" PRIu64 " requests in totals\n", second.total_requests);
	assert_int_equal(second.connections, 2);
	assert_true(second.total_writes >= first.total_writes + 4);
	assert_true(second.total_written >= first.total_written + 4 * IO_BYTES);
	assert_true(second.total_reads >= first.total_reads);

	/* While connected: totals are the earlier connections' plus the live queues', which started at 0. */
	{
		struct vha_platform_config cfg = { .kind = "sim", .sim_dir = simdir, .sim_domid = (int)dom };
		struct vha_front_opts opts = { .timeout_ms = 5000 };
		static unsigned char buf[IO_BYTES];
		struct vha_platform *p;
		struct vha_front *f;

		assert_int_equal(vha_platform_open(&cfg, &p), 0);
		assert_int_equal(vha_front_open(p, 51712, &opts, &f), 0);
		for (unsigned int i = 0; i < 3; i++)
			assert_int_equal(vha_front_write(f, (uint64_t)i * IO_BYTES, buf, sizeof(buf)), 0);
		third = counts_of(dom);
		vha_front_close(f);
		vha_platform_close(p);
	}
	print_message("connection 3, live: %" PRIu64 " writes in its queues, %" PRIu64 " in totals\n",
		      third.queue_writes, third.total_writes);
	assert_int_equal(third.connections, 3);
	assert_true(third.queue_writes >= 3);
	assert_true(third.queue_writes < first.total_writes);
	assert_int_equal(third.total_writes, second.total_writes + third.queue_writes);
	assert_int_equal(third.total_requests, second.total_requests + third.queue_requests);
}

/*
 * The layout shell readers use: the first line opens the document, one
 * device per line opening with {"frontend": , one queue per line opening
 * with {"queue": , the device's totals on its own line (before its queues).
 */
static void test_line_layout(void **state)
{
	unsigned int dom = new_disk(), devices = 0, queues = 0, lines = 0;
	struct vha_platform_config cfg = { .kind = "sim", .sim_dir = simdir, .sim_domid = (int)dom };
	struct vha_front_opts opts = { .timeout_ms = 5000, .queues = 2 };
	char path[256], line[16384];
	struct vha_platform *p;
	struct vha_front *f;
	FILE *file;

	(void)state;
	assert_int_equal(vha_platform_open(&cfg, &p), 0);
	assert_int_equal(vha_front_open(p, 51712, &opts, &f), 0);
	json_object_put(test_stats_read(simdir, backend_pid));  /* rewritten now, and valid JSON */
	snprintf(path, sizeof(path), "%s/run/backend-0/stats.json", simdir);
	file = fopen(path, "r");
	assert_non_null(file);
	while (fgets(line, sizeof(line), file)) {
		if (lines++ == 0) {
			static const char open[] = "{\"schema\": \"vha-stats\", \"version\": 1, \"devices\": [\n";

			assert_string_equal(line, open);
			continue;
		}
		if (strncmp(line, " {\"frontend\": ", 14) == 0) {
			const char *totals = strstr(line, "\"totals\": {\"requests\": ");

			devices++;
			assert_non_null(totals);
			assert_true(totals < strstr(line, "\"queues\": ["));
			assert_null(strstr(line, "\"queue\": "));
		} else if (strncmp(line, "  {\"queue\": ", 12) == 0) {
			queues++;
			assert_null(strstr(line, "\"frontend\": "));
			assert_null(strstr(line, "\"totals\": "));
		} else {
			assert_true(strncmp(line, "], \"budgets\": {", 15) == 0);
		}
	}
	fclose(file);
	vha_front_close(f);
	vha_platform_close(p);
	print_message("%u lines: %u devices, %u queues\n", lines, devices, queues);
	assert_int_equal(devices, next_domid - 1);
	assert_int_equal(queues, 2);
}

static int setup(void **state)
{
	const char *args[] = { "--max-queues", "2", NULL };

	(void)state;
	return test_sim_backend_start(simdir, sizeof(simdir), "stats", args, &backend_pid);
}

static int teardown(void **state)
{
	(void)state;
	test_sim_backend_stop(simdir, backend_pid);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_totals_survive_reconnect),
		cmocka_unit_test(test_line_layout),
	};

	if (!test_have_binary("vha-simxenstored") || !test_have_binary("vha-backend") || !test_have_binary("vhactl"))
		return 77;
	return cmocka_run_group_tests(tests, setup, teardown);
}
