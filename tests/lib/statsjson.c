// SPDX-License-Identifier: MIT
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <json-c/json.h>

#include "statsjson.h"

struct json_object *test_stats_read(const char *simdir, pid_t backend_pid)
{
	struct json_object *doc;
	char path[4200];

	assert_int_equal(kill(backend_pid, SIGUSR1), 0);
	/* The backend rewrites it from its main loop, at once. */
	usleep(200000);
	snprintf(path, sizeof(path), "%s/run/backend-0/stats.json", simdir);
	doc = json_object_from_file(path);
	if (!doc)
		fail_msg("%s: %s", path, json_util_get_last_err());
	assert_string_equal(json_object_get_string(json_object_object_get(doc, "schema")), "vha-stats");
	assert_int_equal(test_stats_u64(doc, "/version"), 1);
	return doc;
}

struct json_object *test_stats_device(struct json_object *doc, unsigned int frontend, unsigned int devid)
{
	struct json_object *devices = json_object_object_get(doc, "devices");

	assert_true(json_object_is_type(devices, json_type_array));
	for (size_t i = 0; i < json_object_array_length(devices); i++) {
		struct json_object *dev = json_object_array_get_idx(devices, i);

		if (test_stats_u64(dev, "/frontend") == frontend && test_stats_u64(dev, "/devid") == devid)
			return dev;
	}
	fail_msg("stats.json has no device %u/%u", frontend, devid);
	return NULL;
}

uint64_t test_stats_u64(struct json_object *obj, const char *pointer)
{
	struct json_object *v = NULL;

	if (json_pointer_get(obj, pointer, &v) < 0 || !json_object_is_type(v, json_type_int))
		fail_msg("stats.json: no number at %s", pointer);
	return json_object_get_uint64(v);
}

int test_stats_bool(struct json_object *obj, const char *pointer)
{
	struct json_object *v = NULL;

	if (json_pointer_get(obj, pointer, &v) < 0 || !json_object_is_type(v, json_type_boolean))
		fail_msg("stats.json: no boolean at %s", pointer);
	return json_object_get_boolean(v);
}

uint64_t test_stats_queue_sum(struct json_object *dev, const char *pointer, int queue)
{
	struct json_object *queues = json_object_object_get(dev, "queues");
	uint64_t sum = 0;

	assert_true(json_object_is_type(queues, json_type_array));
	for (size_t i = 0; i < json_object_array_length(queues); i++)
		if (queue < 0 || (size_t)queue == i)
			sum += test_stats_u64(json_object_array_get_idx(queues, i), pointer);
	return sum;
}
