/* SPDX-License-Identifier: MIT */
/* Test support: the sim backend's stats.json, read with json-c (docs/stats-schema.md). */
#ifndef VHA_TEST_STATSJSON_H
#define VHA_TEST_STATSJSON_H

#include <stdint.h>
#include <sys/types.h>

struct json_object;

/*
 * <simdir>/run/backend-0/stats.json, rewritten first (SIGUSR1 to
 * backend_pid, then a pause). Asserts that it parses and is "vha-stats"
 * version 1. The caller json_object_put()s it.
 */
struct json_object *test_stats_read(const char *simdir, pid_t backend_pid);
/* Device frontend/devid of a stats document (borrowed from it); asserts that it is there. */
struct json_object *test_stats_device(struct json_object *doc, unsigned int frontend, unsigned int devid);
/* The unsigned number at JSON pointer `pointer` ("/grant_budget", "/totals/requests") in obj; asserts it is there. */
uint64_t test_stats_u64(struct json_object *obj, const char *pointer);
/* Whether the boolean at `pointer` is true; asserts it is a boolean. */
int test_stats_bool(struct json_object *obj, const char *pointer);
/*
 * The sum over a device's queues of the number at `pointer` within each
 * queue ("/requests", "/grant_cache/hits"). queue >= 0: that queue only (0
 * if the device has no such queue).
 */
uint64_t test_stats_queue_sum(struct json_object *dev, const char *pointer, int queue);

#endif
