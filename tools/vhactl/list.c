// SPDX-License-Identifier: MIT
/* vhactl list and stats: devices in xenstore, and the backend's counters. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/fs.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <xenstore.h>

#include "vha/cli.h"
#include "vha/sim.h"
#include "vha/xenbus.h"
#include "vhactl.h"

/* ---------------- list / stats ---------------- */

/* A stats.json key we look up, quoted, with ": " and the NUL. */
#define JSON_KEY_MAX 64
/* A grant strategy's name plus "+p"; the sscanf below reads at most 31 letters. */
#define STRATEGY_MAX 32

int ctl_list(struct ctl *c, int argc, char **argv)
{
	struct vha_platform *p;
	struct xs_handle *xs;
	unsigned int ndom = 0;
	char **doms;

	if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		printf("vhactl list\nEvery device in xenstore: domains, type, devid, both states, target.\n");
		return VHA_EXIT_OK;
	}
	if (argc > 1)
		return vha_cli_usage("list: unexpected argument '%s' (list takes none)", argv[1]);
	if (ctl_open_xs(c, NULL, &p, &xs) < 0)
		return VHA_EXIT_FAILURE;
	printf("%-8s %-8s %-6s %-8s %-14s %-14s %s\n", "backend", "frontend", "type", "devid", "backend-state",
	       "frontend-state", "target");
	doms = xs_directory(xs, XBT_NULL, "/local/domain", &ndom);
	for (unsigned int i = 0; doms && i < ndom; i++) {
		char path[CTL_XS_PATH_MAX];
		unsigned int ntype = 0;
		char **types;

		snprintf(path, sizeof(path), "/local/domain/%s/backend", doms[i]);
		types = xs_directory(xs, XBT_NULL, path, &ntype);
		for (unsigned int j = 0; types && j < ntype; j++) {
			unsigned int nfe = 0;
			char **fes;

			snprintf(path, sizeof(path), "/local/domain/%s/backend/%s", doms[i], types[j]);
			fes = xs_directory(xs, XBT_NULL, path, &nfe);
			for (unsigned int k = 0; fes && k < nfe; k++) {
				unsigned int ndev = 0;
				char **devs, dir[CTL_XS_CHILD_MAX];

				snprintf(path, sizeof(path), "/local/domain/%s/backend/%s/%s", doms[i], types[j], fes[k]);
				devs = xs_directory(xs, XBT_NULL, path, &ndev);
				for (unsigned int l = 0; devs && l < ndev; l++) {
					char *params = NULL, *fe_path = NULL;
					int bst, fst = -ENOENT;

					snprintf(dir, sizeof(dir), "%s/%s", path, devs[l]);
					bst = vha_xenbus_read_state(xs, XBT_NULL, dir);
					vha_xs_read_str(xs, XBT_NULL, dir, "params", &params);
					if (vha_xs_read_str(xs, XBT_NULL, dir, "frontend", &fe_path) == 0)
						fst = vha_xenbus_read_state(xs, XBT_NULL, fe_path);
					printf("%-8s %-8s %-6s %-8s %-14s %-14s %s\n", doms[i], fes[k], types[j], devs[l],
					       bst >= 0 ? vha_xenbus_state_name(bst) : "-",
					       fst >= 0 ? vha_xenbus_state_name(fst) : "-", params ? params : "-");
					free(params);
					free(fe_path);
				}
				free(devs);
			}
			free(fes);
		}
		free(types);
	}
	free(doms);
	ctl_close_xs(p, xs);
	return VHA_EXIT_OK;
}

/* The digits of a 64-bit counter, NUL included. */
#define JSON_NUM_MAX 24

/*
 * The number after "key": in a stats.json line: 0 if absent or not an
 * unsigned decimal that fits 64 bits (it was strtoull, which took "-1" as
 * 2^64 - 1 and an overflow as the largest value).
 */
static unsigned long long jnum(const char *obj, const char *key)
{
	char pat[JSON_KEY_MAX], digits[JSON_NUM_MAX];
	const char *p;
	uint64_t v;
	size_t n;

	snprintf(pat, sizeof(pat), "\"%s\": ", key);
	p = strstr(obj, pat);
	if (!p)
		return 0;
	p += strlen(pat);
	n = strspn(p, "0123456789");
	if (n == 0 || n >= sizeof(digits))
		return 0;
	memcpy(digits, p, n);
	digits[n] = '\0';
	return vha_parse_u64(digits, 0, UINT64_MAX, 0, &v) == 0 ? (unsigned long long)v : 0;
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

int ctl_stats(struct ctl *c, int argc, char **argv)
{
	static const char *const cols[] = { "requests", "reads", "writes", "flushes", "barriers", "discards",
					    "indirect", "bytes_read", "bytes_written", "errors", "rejected",
					    "notifies_sent", "events_received", "strategy_map", "strategy_persistent",
					    "strategy_copy", "buffered" };
	static const char *const heads[] = { "requests", "reads", "writes", "flushes", "barriers", "discards",
					     "indirect", "bytes-read", "bytes-written", "errors", "rejected",
					     "notified", "events", "map", "persistent", "copy", "buffered" };
	char path[PATH_MAX], line[PATH_MAX], strategy[STRATEGY_MAX] = "-";
	static const struct option opts[] = {
		{ "state-dir", required_argument, NULL, 'D' }, { "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 },
	};
	const char *dir = NULL;
	FILE *f;
	unsigned int fe = 0, devid = 0;
	int opt;

	while ((opt = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (opt) {
		case 'D': dir = optarg; break;
		case 'h':
			printf("vhactl stats [--state-dir DIR]\n"
			       "The backend's per-device, per-queue counters from DIR/stats.json.\n");
			return VHA_EXIT_OK;
		default: return vha_cli_bad_option(opt, argv);
		}
	}
	if (optind < argc)
		return vha_cli_usage("stats: unexpected argument '%s'", argv[optind]);
	f = fopen(stats_path(c, dir, path, sizeof(path)), "r");
	if (!f) {
		vha_cli_error("stats: cannot read %s: %s (is vha-backend running?)", path, strerror(errno));
		return VHA_EXIT_FAILURE;
	}
	printf("%-5s %-6s %-10s %-5s %5s", "fe", "devid", "strategy", "queue", "pages");
	for (size_t i = 0; i < sizeof(heads) / sizeof(heads[0]); i++)
		printf(" %*s", i == 7 || i == 8 ? 13 : 10, heads[i]);
	printf(" %11s %7s\n", "cache", "hit%");
	while (fgets(line, sizeof(line), f)) {
		const char *q = strstr(line, "{\"queue\": "), *g;
		char *s = strstr(line, "\"frontend\": ");

		if (s) {
			if (sscanf(s, "\"frontend\": %u, \"devid\": %u", &fe, &devid) != 2)
				continue;
			g = strstr(line, "\"grant_strategy\": \"");
			if (g && sscanf(g, "\"grant_strategy\": \"%31[a-z]\"", strategy) != 1)
				snprintf(strategy, sizeof(strategy), "-");
			if (strstr(line, "\"persistent\": true") && strlen(strategy) < 20)
				strcat(strategy, "+p");
		}
		if (!q)
			continue;
		g = strstr(q, "\"grant_cache\": ");
		printf("%-5u %-6u %-10s %-5llu %5llu", fe, devid, strategy, jnum(q, "queue"), jnum(q, "ring_pages"));
		for (size_t i = 0; i < sizeof(cols) / sizeof(cols[0]); i++)
			printf(" %*llu", i == 7 || i == 8 ? 13 : 10, jnum(q, cols[i]));
		if (g) {
			unsigned long long hits = jnum(g, "hits"), misses = jnum(g, "misses");
			char cache[CTL_NAME_MAX];

			snprintf(cache, sizeof(cache), "%llu/%llu", jnum(g, "size"), jnum(g, "capacity"));
			printf(" %11s %7.1f\n", cache, hits + misses ? 100.0 * (double)hits / (double)(hits + misses) : 0.0);
		} else {
			printf(" %11s %7s\n", "-", "-");
		}
	}
	fclose(f);
	return VHA_EXIT_OK;
}
