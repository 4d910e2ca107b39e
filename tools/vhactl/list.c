// SPDX-License-Identifier: MIT
/* vhactl list: the devices in xenstore, as a table or as JSON (schema vha-list, docs/stats-schema.md). */
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

#include <json-c/json.h>
#include <xenstore.h>

#include "vha/cli.h"
#include "vha/sim.h"
#include "vha/log.h"
#include "vha/xenbus.h"
#include "vhactl.h"

#define LIST_SCHEMA "vha-list"
#define LIST_VERSION 1

/* One device as xenstore has it; the names are xenstore's directory names. */
struct list_entry {
	const char *backend_domid, *frontend_domid, *type, *devid;
	int backend_state, frontend_state;      /* -errno when unreadable */
	const char *target;                     /* NULL: no params node */
};

/*
 * Xenstore's text goes to a terminal: control characters (escape
 * sequences a driver domain or a hand-written node could carry) become '?'.
 */
static void print_entry(const struct list_entry *e)
{
	char bd[16], fd[16], type[16], devid[16], target[512];

	vha_sanitize(bd, e->backend_domid, sizeof(bd));
	vha_sanitize(fd, e->frontend_domid, sizeof(fd));
	vha_sanitize(type, e->type, sizeof(type));
	vha_sanitize(devid, e->devid, sizeof(devid));
	vha_sanitize(target, e->target ? e->target : "-", sizeof(target));
	printf("%-8s %-8s %-6s %-8s %-14s %-14s %s\n", bd, fd, type, devid,
	       e->backend_state >= 0 ? vha_xenbus_state_name(e->backend_state) : "-",
	       e->frontend_state >= 0 ? vha_xenbus_state_name(e->frontend_state) : "-", target);
}

/* Add v as o's key; false (v released) if it could not be. */
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

/* A xenbus state as a number and its name, or null for both (no state node). */
static bool put_state(struct json_object *o, const char *key, const char *name_key, int state)
{
	if (state < 0)
		return json_object_object_add(o, key, NULL) == 0 && json_object_object_add(o, name_key, NULL) == 0;
	return put(o, key, json_object_new_int(state)) &&
	       put(o, name_key, json_object_new_string(vha_xenbus_state_name(state)));
}

/*
 * Append e to the array devices. Entries whose domains or devid are not
 * numbers (no toolstack writes such) are left out: the schema's are numbers.
 * Returns false only when out of memory.
 */
static bool append_entry(struct json_object *devices, const struct list_entry *e)
{
	uint64_t be, fe, devid;
	struct json_object *o;
	bool ok;

	if (vha_parse_u64(e->backend_domid, 0, UINT16_MAX, 0, &be) < 0 ||
	    vha_parse_u64(e->frontend_domid, 0, UINT16_MAX, 0, &fe) < 0 ||
	    vha_parse_u64(e->devid, 0, UINT32_MAX, 0, &devid) < 0)
		return true;
	o = json_object_new_object();
	ok = o && put(o, "backend_domid", json_object_new_uint64(be)) &&
	     put(o, "frontend_domid", json_object_new_uint64(fe)) && put(o, "type", json_object_new_string(e->type)) &&
	     put(o, "devid", json_object_new_uint64(devid)) &&
	     put_state(o, "backend_state", "backend_state_name", e->backend_state) &&
	     put_state(o, "frontend_state", "frontend_state_name", e->frontend_state) &&
	     (e->target ? put(o, "target", json_object_new_string(e->target)) :
			  json_object_object_add(o, "target", NULL) == 0);
	if (ok && json_object_array_add(devices, o) == 0)
		return true;
	json_object_put(o);
	return false;
}

int ctl_list(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' }, { "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 },
	};
	struct json_object *doc = NULL, *devices = NULL;
	struct vha_platform *p;
	struct xs_handle *xs;
	unsigned int ndom = 0;
	bool json = false, ok = true;
	char **doms;
	int opt, rc = VHA_EXIT_OK;

	while ((opt = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (opt) {
		case 'j': json = true; break;
		case 'h':
			printf("vhactl list [--json]\n"
			       "Every device in xenstore: domains, type, devid, both states, target; --json:\n"
			       "as a JSON document (schema vha-list, docs/stats-schema.md).\n");
			return VHA_EXIT_OK;
		default: return vha_cli_bad_option(opt, argv);
		}
	}
	if (optind < argc)
		return vha_cli_usage("list: unexpected argument '%s' (list takes only --json)", argv[optind]);
	if (json) {
		doc = json_object_new_object();
		devices = json_object_new_array();
		ok = doc && devices && put(doc, "schema", json_object_new_string(LIST_SCHEMA)) &&
		     put(doc, "version", json_object_new_int(LIST_VERSION));
		if (ok) {
			ok = put(doc, "devices", devices);
			devices = ok ? json_object_object_get(doc, "devices") : NULL;
		}
		if (!ok) {
			vha_cli_error("list: out of memory");
			json_object_put(doc);
			return VHA_EXIT_FAILURE;
		}
	}
	if (ctl_open_xs(c, NULL, &p, &xs) < 0) {
		json_object_put(doc);
		return VHA_EXIT_FAILURE;
	}
	if (!json)
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
					struct list_entry e = { doms[i], fes[k], types[j], devs[l], -ENOENT, -ENOENT, NULL };
					char *params = NULL, *fe_path = NULL;

					snprintf(dir, sizeof(dir), "%s/%s", path, devs[l]);
					e.backend_state = vha_xenbus_read_state(xs, XBT_NULL, dir);
					vha_xs_read_str(xs, XBT_NULL, dir, "params", &params);
					if (vha_xs_read_str(xs, XBT_NULL, dir, "frontend", &fe_path) == 0)
						e.frontend_state = vha_xenbus_read_state(xs, XBT_NULL, fe_path);
					e.target = params;
					if (!json)
						print_entry(&e);
					else if (ok)
						ok = append_entry(devices, &e);
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
	if (json) {
		const char *text = ok ? json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
									   JSON_C_TO_STRING_NOSLASHESCAPE) : NULL;

		if (text) {
			puts(text);
		} else {
			vha_cli_error("list: out of memory");
			rc = VHA_EXIT_FAILURE;
		}
		json_object_put(doc);
	}
	return rc;
}
