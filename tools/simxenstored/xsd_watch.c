// SPDX-License-Identifier: MIT
/* Watches: what each connection watches, and the events a change fires. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xsd_internal.h"

static bool is_under(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	if (strcmp(dir, "/") == 0)
		return path[0] == '/';
	return strncmp(path, dir, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

static void watch_free(struct watch *w)
{
	free(w->path);
	free(w->token);
	free(w);
}

void xsd_watches_free(struct xsd_conn *c)
{
	while (c->watches) {
		struct watch *w = c->watches;

		c->watches = w->next;
		watch_free(w);
	}
	c->nwatches = 0;
}

void xsd_watch_send_event(struct xsd_conn *c, struct watch *w, const char *path)
{
	char buf[MAX_PATH_LEN + 1100];
	const char *shown = path;
	char prefix[DOMAIN_PATH_MAX];
	size_t pl, tl;

	if (w->relative) {
		snprintf(prefix, sizeof(prefix), "/local/domain/%u/", c->domid);
		if (strncmp(path, prefix, strlen(prefix)) == 0)
			shown = path + strlen(prefix);
	}
	pl = strlen(shown) + 1;
	tl = strlen(w->token) + 1;
	if (pl + tl > sizeof(buf))
		return;
	memcpy(buf, shown, pl);
	memcpy(buf + pl, w->token, tl);
	xsd_conn_queue(c, XS_WATCH_EVENT, 0, 0, buf, pl + tl);
}

/* A node changed (or was removed, with `removed`): tell every watcher allowed to see it. */
void xsd_watch_fire(struct xsd *x, const char *path, bool removed)
{
	for (struct xsd_conn *c = x->conns; c; c = c->next) {
		struct node *n = NULL;

		if (path[0] != '@') {
			n = xsd_node_lookup(x->root, path);
			if (!removed && n && !xsd_can_read(n, c->domid))
				continue;
		}
		for (struct watch *w = c->watches; w; w = w->next) {
			if (path[0] == '@' ? strcmp(w->path, path) == 0
					   : is_under(path, w->path) || (removed && is_under(w->path, path)))
				xsd_watch_send_event(c, w, path[0] != '@' && removed && is_under(w->path, path) ? w->path : path);
		}
	}
}

int xsd_watch_add(struct xsd_conn *c, const char *path, const char *token, bool relative, struct watch **out)
{
	struct watch *w;

	for (w = c->watches; w; w = w->next)
		if (strcmp(w->path, path) == 0 && strcmp(w->token, token) == 0)
			return -EEXIST;
	if (c->nwatches >= MAX_WATCHES_PER_CONN)
		return -E2BIG;
	w = calloc(1, sizeof(*w));
	if (!w || !(w->path = strdup(path)) || !(w->token = strdup(token))) {
		if (w)
			free(w->path);
		free(w);
		return -ENOMEM;
	}
	w->relative = relative;
	w->next = c->watches;
	c->watches = w;
	c->nwatches++;
	*out = w;
	return 0;
}

int xsd_watch_remove(struct xsd_conn *c, const char *path, const char *token)
{
	for (struct watch **pw = &c->watches; *pw; pw = &(*pw)->next) {
		struct watch *w = *pw;

		if (strcmp(w->path, path) == 0 && strcmp(w->token, token) == 0) {
			*pw = w->next;
			watch_free(w);
			c->nwatches--;
			return 0;
		}
	}
	return -ENOENT;
}
