/* SPDX-License-Identifier: MIT */
#ifndef VHA_BACKEND_METRICS_H
#define VHA_BACKEND_METRICS_H

struct json_object;

/*
 * Write the stats.json document doc (stats.c) to path in Prometheus' text
 * exposition format, through path.tmp renamed over path. 0 or -errno.
 */
int metrics_write(const char *path, struct json_object *doc);

#endif
