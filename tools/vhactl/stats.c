// SPDX-License-Identifier: MIT
/*
 * vhactl stats: the backend's counters from its stats.json, read with json-c
 * (schema: docs/stats-schema.md). A table that fits 80 columns, every
 * counter with --wide, or the document itself with --json.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "vha/cli.h"
#include "vhactl.h"

#define STATS_SCHEMA "vha-stats"
#define STATS_VERSION 1
/* A cell: a 64-bit counter's digits, or a cache's "size/capacity". */
#define CELL_MAX 48

enum cell_kind {
	CELL_EXACT,                     /* the number as it is */
	CELL_COUNT,                     /* up to 7 digits exact, then k, M, G... (powers of 1000) */
	CELL_BYTES,                     /* B, K, M, G... (powers of 1024) */
	CELL_CACHE,                     /* grant_cache size/capacity */
	CELL_HIT_RATE,                  /* grant_cache hits over lookups, in % */
};

struct column {
	const char *head;
	const char *key;                /* in a queue object (and, where it has one, in "totals") */
	int width;
	enum cell_kind kind;
};

/* The default view: with the row's first four (29 columns), 80 columns. */
static const struct column narrow[] = {
	{ "requests", "requests", 8, CELL_COUNT }, { "reads", "reads", 6, CELL_COUNT },
	{ "writes", "writes", 6, CELL_COUNT },     { "read", "bytes_read", 6, CELL_BYTES },
	{ "written", "bytes_written", 7, CELL_BYTES }, { "errors", "errors", 6, CELL_COUNT },
	{ "hit%", NULL, 5, CELL_HIT_RATE },
};

/* --wide: every counter, exact. */
static const struct column wide[] = {
	{ "pages", "ring_pages", 5, CELL_EXACT },
	{ "requests", "requests", 10, CELL_EXACT },       { "reads", "reads", 10, CELL_EXACT },
	{ "writes", "writes", 10, CELL_EXACT },           { "flushes", "flushes", 10, CELL_EXACT },
	{ "barriers", "barriers", 10, CELL_EXACT },       { "discards", "discards", 10, CELL_EXACT },
	{ "indirect", "indirect", 10, CELL_EXACT },       { "bytes-read", "bytes_read", 13, CELL_EXACT },
	{ "bytes-written", "bytes_written", 13, CELL_EXACT }, { "errors", "errors", 10, CELL_EXACT },
	{ "rejected", "rejected", 10, CELL_EXACT },       { "resumed", "resumed", 10, CELL_EXACT },
	{ "notified", "notifies_sent", 10, CELL_EXACT },  { "events", "events_received", 10, CELL_EXACT },
	{ "map", "strategy_map", 10, CELL_EXACT },        { "persistent", "strategy_persistent", 10, CELL_EXACT },
	{ "copy", "strategy_copy", 10, CELL_EXACT },      { "buffered", "buffered", 10, CELL_EXACT },
	{ "cache", NULL, 11, CELL_CACHE },                { "hit%", NULL, 7, CELL_HIT_RATE },
};

/* An unsigned number member of obj: false if there is none. */
static bool get_u64(struct json_object *obj, const char *key, uint64_t *out)
{
	struct json_object *v = json_object_object_get(obj, key);

	if (!json_object_is_type(v, json_type_int))
		return false;
	*out = json_object_get_uint64(v);
	return true;
}

/* v in units of base, in 5 characters at most: "9.9M", "53.8M", "238M", "1023M". */
static void scaled(char *buf, size_t len, uint64_t v, double base, const char *units)
{
	double x = (double)v;
	unsigned int u = 0;

	while (x >= base && units[u + 1]) {
		x /= base;
		u++;
	}
	snprintf(buf, len, x < 99.95 ? "%.1f%c" : "%.0f%c", x, units[u]);
}

/* The cell of column c for row object obj (a queue, or a device's totals); "-" where it has no such counter. */
static const char *cell(const struct column *c, struct json_object *obj, char *buf, size_t len)
{
	struct json_object *cache = json_object_object_get(obj, "grant_cache");
	uint64_t v, hits, misses, size, capacity;

	switch (c->kind) {
	case CELL_CACHE:
		if (!get_u64(cache, "size", &size) || !get_u64(cache, "capacity", &capacity))
			return "-";
		snprintf(buf, len, "%" PRIu64 "/%" PRIu64, size, capacity);
		return buf;
	case CELL_HIT_RATE:
		if (!get_u64(cache, "hits", &hits) || !get_u64(cache, "misses", &misses))
			return "-";
		snprintf(buf, len, "%.1f", hits + misses ? 100.0 * (double)hits / (double)(hits + misses) : 0.0);
		return buf;
	default:
		break;
	}
	if (!get_u64(obj, c->key, &v))
		return "-";
	snprintf(buf, len, "%" PRIu64, v);
	/* A count exact while its digits fit the column. */
	if (c->kind == CELL_EXACT || (c->kind == CELL_COUNT && strlen(buf) <= (size_t)c->width))
		return buf;
	if (c->kind == CELL_COUNT)
		scaled(buf, len, v, 1000.0, " kMGTPE");
	else if (v < 1024u)
		snprintf(buf, len, "%" PRIu64 "B", v);
	else
		scaled(buf, len, v, 1024.0, "BKMGTPE");
	return buf;
}

static void print_row(const struct column *cols, size_t ncols, const char *fe, const char *devid,
		      const char *strategy, const char *queue, struct json_object *obj)
{
	char buf[CELL_MAX];

	printf("%-5s %-6s %-12s %-3s", fe, devid, strategy, queue);
	for (size_t i = 0; i < ncols; i++)
		printf(" %*s", cols[i].width, obj ? cell(&cols[i], obj, buf, sizeof(buf)) : cols[i].head);
	printf("\n");
}

/*
 * One row of the device's totals for its life (queue "all"), then one per
 * queue of the current connection.
 */
static void print_device(const struct column *cols, size_t ncols, struct json_object *dev)
{
	struct json_object *queues = json_object_object_get(dev, "queues"), *totals;
	const char *name = json_object_get_string(json_object_object_get(dev, "grant_strategy"));
	char fe[CELL_MAX] = "-", devid[CELL_MAX] = "-", strategy[CELL_MAX], queue[CELL_MAX];
	uint64_t v;

	if (get_u64(dev, "frontend", &v))
		snprintf(fe, sizeof(fe), "%" PRIu64, v);
	if (get_u64(dev, "devid", &v))
		snprintf(devid, sizeof(devid), "%" PRIu64, v);
	snprintf(strategy, sizeof(strategy), "%.20s%s", name ? name : "-",
		 json_object_get_boolean(json_object_object_get(dev, "persistent")) ? "+p" : "");
	totals = json_object_object_get(dev, "totals");
	if (json_object_is_type(totals, json_type_object))
		print_row(cols, ncols, fe, devid, strategy, "all", totals);
	for (size_t i = 0; i < json_object_array_length(queues); i++) {
		struct json_object *q = json_object_array_get_idx(queues, i);

		if (!get_u64(q, "queue", &v))
			continue;
		snprintf(queue, sizeof(queue), "%" PRIu64, v);
		print_row(cols, ncols, fe, devid, strategy, queue, q);
	}
}

static const char *stats_path(struct ctl *c, const char *dir, char *path, size_t len)
{
	if (dir)
		snprintf(path, len, "%s/stats.json", dir);
	else if ((c->platform && strcmp(c->platform, "sim") == 0) ||
		 (!c->platform && getenv("VHA_PLATFORM") && strcmp(getenv("VHA_PLATFORM"), "sim") == 0))
		snprintf(path, len, "%s/run/backend-%d/stats.json", c->sim_dir, c->domid);
	else
		snprintf(path, len, "/run/vha-backend/stats.json");
	return path;
}

/* The document at path if it is a vha-stats this vhactl reads; NULL after printing why. */
static struct json_object *read_stats(const char *path)
{
	enum json_tokener_error err = json_tokener_success;
	struct json_object *doc = NULL, *devices;
	size_t len = 0, size = 0;
	char *text = NULL, *more;
	const char *schema;
	uint64_t version;
	FILE *f;

	f = fopen(path, "r");
	if (!f) {
		vha_cli_error("stats: cannot read %s: %s (is vha-backend running?)", path, strerror(errno));
		return NULL;
	}
	do {
		if (size - len < 4096) {
			more = realloc(text, size + 65536);
			if (!more)
				break;
			text = more;
			size += 65536;
		}
		len += fread(text + len, 1, size - len - 1, f);
	} while (!feof(f) && !ferror(f));
	if (text && !ferror(f)) {
		text[len] = '\0';
		doc = json_tokener_parse_verbose(text, &err);
	}
	fclose(f);
	free(text);
	if (!doc) {
		vha_cli_error("stats: %s: %s", path, err != json_tokener_success ? json_tokener_error_desc(err) :
			      "cannot read it whole");
		return NULL;
	}
	schema = json_object_get_string(json_object_object_get(doc, "schema"));
	devices = json_object_object_get(doc, "devices");
	if (!schema || strcmp(schema, STATS_SCHEMA) != 0 || !get_u64(doc, "version", &version) ||
	    !json_object_is_type(devices, json_type_array)) {
		vha_cli_error("stats: %s is not a %s document (no \"schema\", \"version\" and \"devices\")", path,
			      STATS_SCHEMA);
		json_object_put(doc);
		return NULL;
	}
	/* New keys within a version are fine; another version may mean other things. */
	if (version != STATS_VERSION) {
		vha_cli_error("stats: %s is %s version %" PRIu64 "; this vhactl reads version %d", path, STATS_SCHEMA,
			      version, STATS_VERSION);
		json_object_put(doc);
		return NULL;
	}
	return doc;
}

int ctl_stats(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "state-dir", required_argument, NULL, 'D' }, { "json", no_argument, NULL, 'j' },
		{ "wide", no_argument, NULL, 'w' },            { "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const struct column *cols = narrow;
	size_t ncols = sizeof(narrow) / sizeof(narrow[0]);
	struct json_object *doc, *devices;
	const char *dir = NULL;
	bool json = false;
	char path[PATH_MAX];
	int opt;

	while ((opt = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (opt) {
		case 'D': dir = optarg; break;
		case 'j': json = true; break;
		case 'w':
			cols = wide;
			ncols = sizeof(wide) / sizeof(wide[0]);
			break;
		case 'h':
			printf("vhactl stats [--state-dir DIR] [--wide | --json]\n"
			       "The backend's per-device, per-queue counters from DIR/stats.json: a table that\n"
			       "fits 80 columns, --wide for every counter, --json for the document itself\n"
			       "(schema vha-stats, docs/stats-schema.md).\n");
			return VHA_EXIT_OK;
		default: return vha_cli_bad_option(opt, argv);
		}
	}
	if (optind < argc)
		return vha_cli_usage("stats: unexpected argument '%s'", argv[optind]);
	if (json && cols == wide)
		return vha_cli_usage("stats: --json and --wide exclude each other");
	doc = read_stats(stats_path(c, dir, path, sizeof(path)));
	if (!doc)
		return VHA_EXIT_FAILURE;
	if (json) {
		puts(json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
							  JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(doc);
		return VHA_EXIT_OK;
	}
	print_row(cols, ncols, "fe", "devid", "strategy", "q", NULL);
	devices = json_object_object_get(doc, "devices");
	for (size_t i = 0; i < json_object_array_length(devices); i++)
		print_device(cols, ncols, json_object_array_get_idx(devices, i));
	json_object_put(doc);
	return VHA_EXIT_OK;
}
