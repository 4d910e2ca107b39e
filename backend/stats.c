// SPDX-License-Identifier: MIT
/*
 * stats.json: what every device and queue has done, for vhactl stats and
 * the tests. Written by the main thread at most once a second (and on
 * SIGUSR1) to a temporary file renamed into place, so readers never see half
 * a file. Queue counters are written by workers and read here without a
 * lock: each value is recent, not a snapshot of all at one instant.
 *
 * The document is built as json-c objects; its schema is docs/stats-schema.md
 * ("schema": "vha-stats", "version": 1). Its layout is line-oriented on
 * purpose and part of the interface too: one device per line opening with
 * {"frontend": , one queue per line opening with {"queue": , "key": value
 * pairs. Shell readers without a JSON parser (the Xen suite's busybox dom0,
 * tools/bench-fairness.sh) read it line by line. json-c's own styles put a
 * whole document on one line or every key on its own, so the objects and
 * arrays here carry serializers (json_object_set_serializer) that give that
 * layout; json-c still writes every value and escapes every string.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "backend.h"
#include "metrics.h"

#define STATS_SCHEMA "vha-stats"
#define STATS_VERSION 1
#define STATS_FLAGS (JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE)

void queue_stats_add(struct queue_stats *sum, const struct queue_stats *s)
{
	sum->requests += STAT_GET(s->requests);
	sum->reads += STAT_GET(s->reads);
	sum->writes += STAT_GET(s->writes);
	sum->flushes += STAT_GET(s->flushes);
	sum->barriers += STAT_GET(s->barriers);
	sum->discards += STAT_GET(s->discards);
	sum->indirect += STAT_GET(s->indirect);
	sum->buffered += STAT_GET(s->buffered);
	sum->bytes_read += STAT_GET(s->bytes_read);
	sum->bytes_written += STAT_GET(s->bytes_written);
	sum->errors += STAT_GET(s->errors);
	sum->rejected += STAT_GET(s->rejected);
	sum->notifies_sent += STAT_GET(s->notifies_sent);
	sum->events_received += STAT_GET(s->events_received);
	sum->events_spurious += STAT_GET(s->events_spurious);
	sum->events_delayed += STAT_GET(s->events_delayed);
	sum->polls_hit += STAT_GET(s->polls_hit);
	for (unsigned int i = 0; i < GS_COUNT; i++)
		sum->strategy[i] += STAT_GET(s->strategy[i]);
	sum->resumed += STAT_GET(s->resumed);
	sum->backlogged += STAT_GET(s->backlogged);
	for (unsigned int i = 0; i <= LATENCY_BUCKETS; i++)
		sum->latency[i] += STAT_GET(s->latency[i]);
	sum->latency_sum_us += STAT_GET(s->latency_sum_us);
	/* Peaks are the highest of any connection, not a sum. */
	if (STAT_GET(s->grants_peak) > sum->grants_peak)
		sum->grants_peak = STAT_GET(s->grants_peak);
	if (STAT_GET(s->bytes_peak) > sum->bytes_peak)
		sum->bytes_peak = STAT_GET(s->bytes_peak);
}

const uint32_t request_latency_le_us[LATENCY_BUCKETS] = {
	50, 100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000,
	1000000, 2500000, 5000000, 10000000,
};

unsigned int latency_bucket(uint64_t us)
{
	unsigned int i = 0;

	while (i < LATENCY_BUCKETS && us > request_latency_le_us[i])
		i++;
	return i;
}

/* {"key": value, "key": value}: json-c's spaced style without its spaces inside the braces. */
static int object_on_one_line(struct json_object *jso, struct printbuf *pb, int level, int flags)
{
	const char *sep = "";

	printbuf_strappend(pb, "{");
	json_object_object_foreach(jso, key, val) {
		const char *text = json_object_to_json_string_ext(val, flags);

		/* The keys are this file's own literals: nothing to escape. */
		sprintbuf(pb, "%s\"%s\": ", sep, key);
		printbuf_memappend(pb, text, (int)strlen(text));
		sep = ", ";
	}
	return printbuf_strappend(pb, "}");
}

/* An array whose every element opens a line of its own, indented. */
struct array_layout {
	const char *before_each;        /* newline and indent */
	const char *before_close;
};
static const struct array_layout device_lines = { "\n ", "\n" };
static const struct array_layout queue_lines = { "\n  ", "" };

static int array_one_per_line(struct json_object *jso, struct printbuf *pb, int level, int flags)
{
	const struct array_layout *l = json_object_get_userdata(jso);
	size_t n = json_object_array_length(jso);

	printbuf_strappend(pb, "[");
	for (size_t i = 0; i < n; i++) {
		const char *text = json_object_to_json_string_ext(json_object_array_get_idx(jso, i), flags);

		sprintbuf(pb, "%s%s", i ? "," : "", l->before_each);
		printbuf_memappend(pb, text, (int)strlen(text));
	}
	sprintbuf(pb, "%s]", l->before_close);
	return 0;
}

static struct json_object *new_object(void)
{
	struct json_object *o = json_object_new_object();

	if (o)
		json_object_set_serializer(o, object_on_one_line, NULL, NULL);
	return o;
}

static struct json_object *new_array(const struct array_layout *layout)
{
	struct json_object *a = json_object_new_array();

	if (a)
		json_object_set_serializer(a, array_one_per_line, (void *)layout, NULL);
	return a;
}

/* Add v (which may be NULL: out of memory) as o's key; false if it is not there. Takes v either way. */
static bool put(struct json_object *o, const char *key, struct json_object *v)
{
	if (!v)
		return false;
	if (json_object_object_add(o, key, v) < 0) {
		json_object_put(v);
		return false;
	}
	return true;
}

static bool put_u64(struct json_object *o, const char *key, uint64_t v)
{
	return put(o, key, json_object_new_uint64(v));
}

static bool put_bool(struct json_object *o, const char *key, bool v)
{
	return put(o, key, json_object_new_boolean(v));
}

static bool append(struct json_object *array, struct json_object *v)
{
	if (!v)
		return false;
	if (json_object_array_add(array, v) < 0) {
		json_object_put(v);
		return false;
	}
	return true;
}

/* {"le_us": [bounds], "counts": [per bucket, one more: above them all], "sum_us": N} */
static struct json_object *latency_json(const struct queue_stats *s)
{
	struct json_object *o = new_object(), *le = json_object_new_array(), *counts = json_object_new_array();
	bool ok = o && le && counts;

	for (unsigned int i = 0; ok && i < LATENCY_BUCKETS; i++)
		ok = append(le, json_object_new_uint64(request_latency_le_us[i]));
	for (unsigned int i = 0; ok && i <= LATENCY_BUCKETS; i++)
		ok = append(counts, json_object_new_uint64(STAT_GET(s->latency[i])));
	/* put takes its value either way: o has it, or it is freed. */
	if (ok) {
		ok = put(o, "le_us", le);
		le = NULL;
	}
	if (ok) {
		ok = put(o, "counts", counts);
		counts = NULL;
	}
	ok = ok && put_u64(o, "sum_us", STAT_GET(s->latency_sum_us));
	if (!ok) {
		json_object_put(le);
		json_object_put(counts);
		json_object_put(o);
		return NULL;
	}
	return o;
}

/* The counters kept for the life of a device (docs/stats-schema.md, "totals"). */
static struct json_object *totals_json(const struct device *dev)
{
	struct json_object *o = new_object();
	struct queue_stats t = dev->totals;
	bool ok = o != NULL;

	for (unsigned int j = 0; j < dev->nr_queues; j++)
		queue_stats_add(&t, &dev->queues[j].stats);
	ok = ok && put_u64(o, "requests", t.requests) && put_u64(o, "reads", t.reads) &&
	     put_u64(o, "writes", t.writes) && put_u64(o, "flushes", t.flushes) &&
	     put_u64(o, "barriers", t.barriers) && put_u64(o, "discards", t.discards) &&
	     put_u64(o, "indirect", t.indirect) && put_u64(o, "bytes_read", t.bytes_read) &&
	     put_u64(o, "bytes_written", t.bytes_written) && put_u64(o, "errors", t.errors) &&
	     put_u64(o, "rejected", t.rejected) && put_u64(o, "resumed", t.resumed) &&
	     put(o, "latency", latency_json(&t));
	if (!ok) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

static struct json_object *grant_cache_json(const struct grant_cache *c)
{
	struct json_object *o = new_object();
	uint64_t hits = STAT_GET(c->hits), misses = STAT_GET(c->misses);
	double hit_rate = hits + misses ? (double)hits / (double)(hits + misses) : 0.0;
	char rate[32];
	bool ok;

	/* Four decimals, as ever, rather than json-c's 17 significant digits. */
	snprintf(rate, sizeof(rate), "%.4f", hit_rate);
	ok = o && put_u64(o, "size", STAT_GET(c->used)) && put_u64(o, "capacity", c->capacity) &&
	     put_u64(o, "hits", hits) && put_u64(o, "misses", misses) &&
	     put_u64(o, "evictions", STAT_GET(c->evictions)) &&
	     put(o, "hit_rate", json_object_new_double_s(hit_rate, rate));
	if (!ok) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

static struct json_object *queue_json(const struct queue *q)
{
	struct json_object *o = new_object();
	const struct queue_stats *s = &q->stats;
	bool ok;

	ok = o && put_u64(o, "queue", q->index) && put_u64(o, "ring_pages", q->nr_ring_pages) &&
	     put_u64(o, "requests", STAT_GET(s->requests)) && put_u64(o, "reads", STAT_GET(s->reads)) &&
	     put_u64(o, "writes", STAT_GET(s->writes)) && put_u64(o, "flushes", STAT_GET(s->flushes)) &&
	     put_u64(o, "barriers", STAT_GET(s->barriers)) && put_u64(o, "discards", STAT_GET(s->discards)) &&
	     put_u64(o, "indirect", STAT_GET(s->indirect)) && put_u64(o, "bytes_read", STAT_GET(s->bytes_read)) &&
	     put_u64(o, "bytes_written", STAT_GET(s->bytes_written)) && put_u64(o, "errors", STAT_GET(s->errors)) &&
	     put_u64(o, "rejected", STAT_GET(s->rejected)) &&
	     put_u64(o, "notifies_sent", STAT_GET(s->notifies_sent)) &&
	     put_u64(o, "events_received", STAT_GET(s->events_received)) &&
	     put_u64(o, "events_spurious", STAT_GET(s->events_spurious)) &&
	     put_u64(o, "events_delayed", STAT_GET(s->events_delayed)) &&
	     put_u64(o, "polls_hit", STAT_GET(s->polls_hit)) &&
	     put_u64(o, "strategy_map", STAT_GET(s->strategy[GS_MAP])) &&
	     put_u64(o, "strategy_persistent", STAT_GET(s->strategy[GS_PERSISTENT])) &&
	     put_u64(o, "strategy_copy", STAT_GET(s->strategy[GS_COPY])) &&
	     put_u64(o, "resumed", STAT_GET(s->resumed)) && put_u64(o, "buffered", STAT_GET(s->buffered)) &&
	     put_u64(o, "slots", q->nr_slots) && put_u64(o, "map_budget", q->map_budget) &&
	     put_u64(o, "grants_mapped", STAT_GET(q->grants_mapped)) &&
	     put_u64(o, "grants_peak", STAT_GET(s->grants_peak)) &&
	     put_u64(o, "backlogged", STAT_GET(s->backlogged)) && put_u64(o, "copy_budget", q->copy_budget) &&
	     put_u64(o, "copy_bytes", STAT_GET(q->cbuf_total)) && put_u64(o, "bytes_budget", q->bytes_budget) &&
	     put_u64(o, "bytes_inflight", STAT_GET(q->bytes_inflight)) &&
	     put_u64(o, "bytes_peak", STAT_GET(s->bytes_peak)) && put(o, "grant_cache", grant_cache_json(&q->cache)) &&
	     put(o, "latency", latency_json(s));
	if (!ok) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

static struct json_object *device_json(const struct backend *be, const struct device *dev)
{
	struct json_object *o = new_object(), *queues = new_array(&queue_lines);
	bool ok;

	/* "totals" and "connections" stay on the device's line, before the queues' lines. */
	ok = o && queues && put_u64(o, "frontend", dev->fe_domid) && put_u64(o, "devid", dev->devid) &&
	     put_bool(o, "connected", dev->phase == DEV_CONNECTED) &&
	     put(o, "grant_strategy", json_object_new_string(grant_strategy_name(dev->strategy))) &&
	     put_bool(o, "persistent", dev->persistent) &&
	     put_bool(o, "o_direct", dev->target_state == TARGET_OPEN && dev->target.direct) &&
	     put_u64(o, "sectors", dev->last_size >> 9) && put_bool(o, "closing", dev->stopping) &&
	     put(o, "protocol", json_object_new_string(be->ops->name)) &&
	     put(o, "vdev", json_object_new_string(dev->vdev)) &&
	     put(o, "target", json_object_new_string(dev->target_label)) &&
	     put_u64(o, "grant_budget", dev->budget.amount[BUDGET_GRANTS]) &&
	     put_u64(o, "inflight_budget", dev->budget.amount[BUDGET_INFLIGHT]) &&
	     put_u64(o, "copy_budget", dev->budget.amount[BUDGET_COPY]) &&
	     put_u64(o, "memory_budget", dev->budget.amount[BUDGET_MEMORY]) &&
	     put_u64(o, "connections", dev->connections) && put(o, "totals", totals_json(dev));
	for (unsigned int j = 0; ok && j < dev->nr_queues; j++)
		ok = append(queues, queue_json(&dev->queues[j]));
	if (ok) {
		ok = put(o, "queues", queues);
		queues = NULL;
	}
	if (!ok) {
		json_object_put(queues);
		json_object_put(o);
		return NULL;
	}
	return o;
}

/* The totals and what connected devices hold of them, one line. */
static struct json_object *budgets_json(const struct backend *be)
{
	struct json_object *o = new_object();
	bool ok = o != NULL;

	for (enum budget_kind k = 0; ok && k < BUDGET_KINDS; k++) {
		struct json_object *b = new_object();

		ok = b && put_u64(b, "total", be->pool.total[k]) && put_u64(b, "reserved", be->pool.reserved[k]);
		ok = ok ? put(o, budget_name(k), b) : (json_object_put(b), false);
	}
	if (!ok) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

/* The whole document, or NULL (out of memory). */
static struct json_object *stats_json(const struct backend *be)
{
	struct json_object *root = new_object(), *devices = new_array(&device_lines);
	bool ok;

	ok = root && devices && put(root, "schema", json_object_new_string(STATS_SCHEMA)) &&
	     put_u64(root, "version", STATS_VERSION);
	for (unsigned int i = 0; ok && i < be->nr_devices; i++)
		ok = append(devices, device_json(be, be->devices[i]));
	if (ok) {
		ok = put(root, "devices", devices);
		devices = NULL;
	}
	ok = ok && put(root, "budgets", budgets_json(be));
	if (!ok) {
		json_object_put(devices);
		json_object_put(root);
		return NULL;
	}
	return root;
}

int backend_write_stats(struct backend *be)
{
	char path[4096], tmp[4200];
	struct json_object *doc;
	const char *text;
	FILE *f;
	int rc = 0;

	if (!be->cfg.state_dir)
		return 0;
	snprintf(path, sizeof(path), "%s/stats.json", be->cfg.state_dir);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	doc = stats_json(be);
	text = doc ? json_object_to_json_string_ext(doc, STATS_FLAGS) : NULL;
	if (!text) {
		json_object_put(doc);
		return -ENOMEM;
	}
	f = fopen(tmp, "w");
	if (!f) {
		rc = -errno;
		goto out;
	}
	if (fputs(text, f) == EOF || fputc('\n', f) == EOF)
		rc = -EIO;
	if (fclose(f) != 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && rename(tmp, path) != 0)
		rc = -errno;
	/* The metrics from the same document: the two files always agree. */
	if (be->cfg.metrics_path) {
		int mrc = metrics_write(be->cfg.metrics_path, doc);

		if (mrc < 0)
			vha_log_ratelimited(&be->metrics_rl, VHA_LOG_WARN, "cannot write metrics to %s: %s",
					    be->cfg.metrics_path, strerror(-mrc));
	}
out:
	json_object_put(doc);
	return rc;
}
