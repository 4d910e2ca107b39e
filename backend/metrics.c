// SPDX-License-Identifier: MIT
/*
 * Prometheus metrics: the stats.json document (stats.c) in the text
 * exposition format, for node_exporter's textfile collector
 * (vha-backend --metrics FILE.prom).
 *
 * A file, not an HTTP endpoint: the backend is a security boundary and
 * stays without a listening socket, an HTTP parser or another thread; the
 * node_exporter that already runs on the host (or in the driver domain)
 * serves the file; and the file is written with the same atomic rename as
 * stats.json, from the same document, so the two always agree.
 *
 * Metric names and labels are in docs/stats-schema.md ("Prometheus").
 * Device metrics count for the life of the device (its "totals"); queue
 * metrics are the current connection's (they reset when the frontend
 * reconnects, which Prometheus' rate() treats as a counter reset).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>

#include "metrics.h"

/* A value of obj at key (0 if it is missing or not a number). */
static uint64_t u64_at(struct json_object *obj, const char *key)
{
	struct json_object *v;

	if (!obj || !json_object_object_get_ex(obj, key, &v))
		return 0;
	return json_object_get_uint64(v);
}

static const char *str_at(struct json_object *obj, const char *key)
{
	struct json_object *v;

	if (!obj || !json_object_object_get_ex(obj, key, &v) || !json_object_is_type(v, json_type_string))
		return "";
	return json_object_get_string(v);
}

/* A label value as the exposition format wants it: \, " and newline escaped. */
static void put_label_value(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\')
			fputs("\\\\", f);
		else if (*s == '"')
			fputs("\\\"", f);
		else if (*s == '\n')
			fputs("\\n", f);
		else
			fputc(*s, f);
	}
}

/* {domid="1",devid="51712",vdev="xvda",target="/srv/a.img"[,extra]} */
static void put_device_labels(FILE *f, struct json_object *dev, const char *extra)
{
	fprintf(f, "{domid=\"%" PRIu64 "\",devid=\"%" PRIu64 "\",vdev=\"", u64_at(dev, "frontend"), u64_at(dev, "devid"));
	put_label_value(f, str_at(dev, "vdev"));
	fputs("\",target=\"", f);
	put_label_value(f, str_at(dev, "target"));
	fprintf(f, "\"%s%s}", extra && *extra ? "," : "", extra ? extra : "");
}

static void family(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* One metric family with a sample per device, from the device object or one of its members. */
struct device_metric {
	const char *name, *type, *help;
	const char *member;             /* NULL: the device object itself */
	const char *key;
	uint64_t scale;                 /* the value is multiplied by this (sectors → bytes) */
};

static const struct device_metric device_metrics[] = {
	{ "vha_device_requests_total", "counter", "Requests the guest sent on this device, all connections.", "totals", "requests", 1 },
	{ "vha_device_reads_total", "counter", "Read requests, all connections.", "totals", "reads", 1 },
	{ "vha_device_writes_total", "counter", "Write requests, all connections.", "totals", "writes", 1 },
	{ "vha_device_flushes_total", "counter", "Flush requests, all connections.", "totals", "flushes", 1 },
	{ "vha_device_barriers_total", "counter", "Write-barrier requests, all connections.", "totals", "barriers", 1 },
	{ "vha_device_discards_total", "counter", "Discard requests, all connections.", "totals", "discards", 1 },
	{ "vha_device_read_bytes_total", "counter", "Bytes read for the guest, all connections.", "totals", "bytes_read", 1 },
	{ "vha_device_written_bytes_total", "counter", "Bytes written for the guest, all connections.", "totals", "bytes_written", 1 },
	{ "vha_device_errors_total", "counter", "Requests answered with an I/O error, all connections.", "totals", "errors", 1 },
	{ "vha_device_rejected_total", "counter", "Malformed requests answered with an error, all connections.", "totals", "rejected", 1 },
	{ "vha_device_resumed_total", "counter", "Requests re-run from an earlier process's journal.", "totals", "resumed", 1 },
	{ "vha_device_connections_total", "counter", "Times the frontend connected (a takeover counts).", NULL, "connections", 1 },
	{ "vha_device_size_bytes", "gauge", "Size of the device the guest sees.", NULL, "sectors", 512 },
};

struct queue_metric {
	const char *name, *type, *help;
	const char *member;             /* NULL: the queue object itself */
	const char *key;
};

static const struct queue_metric queue_metrics[] = {
	{ "vha_queue_requests_total", "counter", "Requests on this queue, this connection.", NULL, "requests" },
	{ "vha_queue_read_bytes_total", "counter", "Bytes read on this queue, this connection.", NULL, "bytes_read" },
	{ "vha_queue_written_bytes_total", "counter", "Bytes written on this queue, this connection.", NULL, "bytes_written" },
	{ "vha_queue_errors_total", "counter", "I/O errors on this queue, this connection.", NULL, "errors" },
	{ "vha_queue_rejected_total", "counter", "Malformed requests on this queue, this connection.", NULL, "rejected" },
	{ "vha_queue_resumed_total", "counter", "Requests re-run from the journal on this queue.", NULL, "resumed" },
	{ "vha_queue_backlogged_total", "counter", "Times requests waited in the ring for a slot or grant budget.", NULL, "backlogged" },
	{ "vha_queue_grants_mapped", "gauge", "Grants mapped for requests in flight now.", NULL, "grants_mapped" },
	{ "vha_queue_grants_mapped_peak", "gauge", "Most grants mapped at once, this connection.", NULL, "grants_peak" },
	{ "vha_queue_inflight_bytes", "gauge", "Bytes of data in flight now.", NULL, "bytes_inflight" },
	{ "vha_queue_inflight_bytes_budget", "gauge", "Most bytes of data this queue may have in flight.", NULL, "bytes_budget" },
	{ "vha_queue_grant_cache_entries", "gauge", "Persistent grants cached now.", "grant_cache", "size" },
	{ "vha_queue_grant_cache_capacity", "gauge", "Most persistent grants the cache holds.", "grant_cache", "capacity" },
	{ "vha_queue_grant_cache_hits_total", "counter", "Persistent-grant cache hits, this connection.", "grant_cache", "hits" },
	{ "vha_queue_grant_cache_misses_total", "counter", "Persistent-grant cache misses, this connection.", "grant_cache", "misses" },
	{ "vha_queue_grant_cache_evictions_total", "counter", "Persistent grants evicted, this connection.", "grant_cache", "evictions" },
};

/* The budget kinds as stats.json names them: in "budgets", and as a device's key. */
static const struct {
	const char *kind, *device_key;
} budget_kinds[] = {
	{ "grants", "grant_budget" },
	{ "inflight", "inflight_budget" },
	{ "copy_bytes", "copy_budget" },
	{ "memory_bytes", "memory_budget" },
};

static struct json_object *member(struct json_object *obj, const char *name)
{
	struct json_object *v = NULL;

	if (!name)
		return obj;
	return json_object_object_get_ex(obj, name, &v) ? v : NULL;
}

/*
 * A latency histogram from a {"le_us": [...], "counts": [...], "sum_us": N}
 * object: counts are per bucket in the document, cumulative here as the
 * format wants, and the last bucket is +Inf.
 */
static void put_histogram(FILE *f, const char *name, struct json_object *dev, const char *queue_label,
			  struct json_object *lat)
{
	struct json_object *le, *counts;
	char extra[64];
	uint64_t cum = 0;
	size_t n;

	if (!lat || !json_object_object_get_ex(lat, "le_us", &le) || !json_object_object_get_ex(lat, "counts", &counts))
		return;
	n = json_object_array_length(counts);
	if (json_object_array_length(le) + 1 != n)
		return;
	for (size_t i = 0; i < n; i++) {
		cum += json_object_get_uint64(json_object_array_get_idx(counts, i));
		if (i + 1 < n)
			snprintf(extra, sizeof(extra), "%s%sle=\"%g\"", queue_label, *queue_label ? "," : "",
				 (double)json_object_get_uint64(json_object_array_get_idx(le, i)) / 1e6);
		else
			snprintf(extra, sizeof(extra), "%s%sle=\"+Inf\"", queue_label, *queue_label ? "," : "");
		fprintf(f, "%s_bucket", name);
		put_device_labels(f, dev, extra);
		fprintf(f, " %" PRIu64 "\n", cum);
	}
	fprintf(f, "%s_sum", name);
	put_device_labels(f, dev, queue_label);
	fprintf(f, " %.6f\n", (double)u64_at(lat, "sum_us") / 1e6);
	fprintf(f, "%s_count", name);
	put_device_labels(f, dev, queue_label);
	fprintf(f, " %" PRIu64 "\n", cum);
}

static void write_metrics(FILE *f, struct json_object *doc)
{
	struct json_object *devices = member(doc, "devices"), *budgets = member(doc, "budgets");
	size_t nd = devices ? json_object_array_length(devices) : 0;
	char label[48];

	for (size_t m = 0; m < sizeof(device_metrics) / sizeof(device_metrics[0]); m++) {
		const struct device_metric *dm = &device_metrics[m];

		family(f, dm->name, dm->type, dm->help);
		for (size_t i = 0; i < nd; i++) {
			struct json_object *dev = json_object_array_get_idx(devices, i);

			fputs(dm->name, f);
			put_device_labels(f, dev, NULL);
			fprintf(f, " %" PRIu64 "\n", u64_at(member(dev, dm->member), dm->key) * dm->scale);
		}
	}
	family(f, "vha_device_connected", "gauge", "1 while the frontend is connected, else 0.");
	for (size_t i = 0; i < nd; i++) {
		struct json_object *dev = json_object_array_get_idx(devices, i), *v;

		fputs("vha_device_connected", f);
		put_device_labels(f, dev, NULL);
		fprintf(f, " %d\n", json_object_object_get_ex(dev, "connected", &v) && json_object_get_boolean(v));
	}
	family(f, "vha_device_budget", "gauge",
	       "What the device holds of each global budget while connected (grants, requests in flight, bytes).");
	for (size_t i = 0; i < nd; i++) {
		struct json_object *dev = json_object_array_get_idx(devices, i);

		for (size_t k = 0; k < sizeof(budget_kinds) / sizeof(budget_kinds[0]); k++) {
			snprintf(label, sizeof(label), "kind=\"%s\"", budget_kinds[k].kind);
			fputs("vha_device_budget", f);
			put_device_labels(f, dev, label);
			fprintf(f, " %" PRIu64 "\n", u64_at(dev, budget_kinds[k].device_key));
		}
	}
	family(f, "vha_device_request_latency_seconds", "histogram",
	       "Time from a request read off the ring to its response, all connections.");
	for (size_t i = 0; i < nd; i++) {
		struct json_object *dev = json_object_array_get_idx(devices, i);

		put_histogram(f, "vha_device_request_latency_seconds", dev, "", member(member(dev, "totals"), "latency"));
	}

	for (size_t m = 0; m < sizeof(queue_metrics) / sizeof(queue_metrics[0]); m++) {
		const struct queue_metric *qm = &queue_metrics[m];

		family(f, qm->name, qm->type, qm->help);
		for (size_t i = 0; i < nd; i++) {
			struct json_object *dev = json_object_array_get_idx(devices, i), *queues = member(dev, "queues");
			size_t nq = queues ? json_object_array_length(queues) : 0;

			for (size_t j = 0; j < nq; j++) {
				struct json_object *q = json_object_array_get_idx(queues, j);

				snprintf(label, sizeof(label), "queue=\"%" PRIu64 "\"", u64_at(q, "queue"));
				fputs(qm->name, f);
				put_device_labels(f, dev, label);
				fprintf(f, " %" PRIu64 "\n", u64_at(member(q, qm->member), qm->key));
			}
		}
	}
	family(f, "vha_queue_request_latency_seconds", "histogram",
	       "Time from a request read off the ring to its response, this connection.");
	for (size_t i = 0; i < nd; i++) {
		struct json_object *dev = json_object_array_get_idx(devices, i), *queues = member(dev, "queues");
		size_t nq = queues ? json_object_array_length(queues) : 0;

		for (size_t j = 0; j < nq; j++) {
			struct json_object *q = json_object_array_get_idx(queues, j);

			snprintf(label, sizeof(label), "queue=\"%" PRIu64 "\"", u64_at(q, "queue"));
			put_histogram(f, "vha_queue_request_latency_seconds", dev, label, member(q, "latency"));
		}
	}

	family(f, "vha_budget_total", "gauge", "Each global budget's size (--total-* options).");
	for (size_t k = 0; k < sizeof(budget_kinds) / sizeof(budget_kinds[0]); k++)
		fprintf(f, "vha_budget_total{kind=\"%s\"} %" PRIu64 "\n", budget_kinds[k].kind,
			u64_at(member(budgets, budget_kinds[k].kind), "total"));
	family(f, "vha_budget_reserved", "gauge", "What connected devices hold of each global budget.");
	for (size_t k = 0; k < sizeof(budget_kinds) / sizeof(budget_kinds[0]); k++)
		fprintf(f, "vha_budget_reserved{kind=\"%s\"} %" PRIu64 "\n", budget_kinds[k].kind,
			u64_at(member(budgets, budget_kinds[k].kind), "reserved"));
	family(f, "vha_devices", "gauge", "Devices the backend serves (connected or not).");
	fprintf(f, "vha_devices %zu\n", nd);
}

int metrics_write(const char *path, struct json_object *doc)
{
	char tmp[4200];
	FILE *f;
	int fd, rc = 0;

	/*
	 * The textfile collector reads *.prom: a temporary name it ignores,
	 * renamed over. The directory is shared (node_exporter's user and
	 * other collectors write there): the name is new and created here
	 * (O_EXCL, so never a symlink or fifo someone planted), not a fixed
	 * one that could lead a root daemon's write anywhere.
	 */
	if (snprintf(tmp, sizeof(tmp), "%s.tmp.XXXXXX", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return -errno;
	/* node_exporter runs as its own user: others may read it, as stats.json. */
	if (fchmod(fd, 0644) != 0 || !(f = fdopen(fd, "w"))) {
		rc = -errno;
		close(fd);
		unlink(tmp);
		return rc;
	}
	write_metrics(f, doc);
	if (ferror(f))
		rc = -EIO;
	if (fclose(f) != 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && rename(tmp, path) != 0)
		rc = -errno;
	if (rc < 0)
		unlink(tmp);
	return rc;
}
