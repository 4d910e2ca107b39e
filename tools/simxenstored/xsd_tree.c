// SPDX-License-Identifier: MIT
/*
 * The node tree: nodes, Xen's permissions, paths, and the operations that
 * change the tree, shared by direct and transactional use. Paths come from
 * clients and are checked here (xsd_path_canon) before any lookup.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vha/cli.h"
#include "xsd_internal.h"

/* ---------------- nodes ---------------- */

struct node *xsd_node_new(const char *name, struct node *parent)
{
	struct node *n = calloc(1, sizeof(*n));

	if (!n)
		return NULL;
	n->name = strdup(name);
	n->value = strdup("");
	n->parent = parent;
	if (!n->name || !n->value) {
		free(n->name);
		free(n->value);
		free(n);
		return NULL;
	}
	return n;
}

void xsd_node_free(struct node *n)
{
	if (!n)
		return;
	for (unsigned int i = 0; i < n->nkids; i++)
		xsd_node_free(n->kids[i]);
	free(n->kids);
	free(n->name);
	free(n->value);
	free(n->perms);
	free(n);
}

struct node *xsd_node_clone(const struct node *n, struct node *parent)
{
	struct node *c = xsd_node_new(n->name, parent);

	if (!c)
		return NULL;
	free(c->value);
	c->value = malloc(n->vlen + 1);
	c->perms = malloc(sizeof(*c->perms) * (n->nperms ? n->nperms : 1));
	c->kids = calloc(n->nkids ? n->nkids : 1, sizeof(*c->kids));
	if (!c->value || !c->perms || !c->kids) {
		xsd_node_free(c);
		return NULL;
	}
	memcpy(c->value, n->value, n->vlen + 1);
	c->vlen = n->vlen;
	memcpy(c->perms, n->perms, sizeof(*c->perms) * n->nperms);
	c->nperms = n->nperms;
	c->gen = n->gen;
	for (unsigned int i = 0; i < n->nkids; i++) {
		c->kids[i] = xsd_node_clone(n->kids[i], c);
		if (!c->kids[i]) {
			xsd_node_free(c);
			return NULL;
		}
		c->nkids++;
	}
	return c;
}

static struct node *child(const struct node *n, const char *name, size_t len)
{
	for (unsigned int i = 0; i < n->nkids; i++)
		if (strlen(n->kids[i]->name) == len && memcmp(n->kids[i]->name, name, len) == 0)
			return n->kids[i];
	return NULL;
}

/* Lookup an absolute, canonical path ("/" is the root). */
struct node *xsd_node_lookup(struct node *root, const char *path)
{
	struct node *n = root;
	const char *p = path + 1;

	while (n && *p) {
		const char *slash = strchr(p, '/');
		size_t len = slash ? (size_t)(slash - p) : strlen(p);

		n = child(n, p, len);
		p += len;
		if (*p == '/')
			p++;
	}
	return n;
}

static unsigned int owner(const struct node *n)
{
	return n->nperms ? n->perms[0].id : 0;
}

static char perm_for(const struct node *n, unsigned int domid)
{
	if (domid == 0)
		return 'b';
	if (!n->nperms || n->perms[0].id == domid)
		return n->nperms || domid == 0 ? 'b' : 'n';
	for (unsigned int i = 1; i < n->nperms; i++)
		if (n->perms[i].id == domid)
			return n->perms[i].p;
	return n->perms[0].p;
}

bool xsd_can_read(const struct node *n, unsigned int domid)
{
	char p = perm_for(n, domid);

	return p == 'r' || p == 'b';
}

static bool can_write(const struct node *n, unsigned int domid)
{
	char p = perm_for(n, domid);

	return p == 'w' || p == 'b';
}

/* The node at path if `domid` may read it; else NULL with *rc = -ENOENT or -EACCES. */
struct node *xsd_node_readable(struct node *root, const char *path, unsigned int domid, int *rc)
{
	struct node *n = xsd_node_lookup(root, path);

	if (!n)
		*rc = -ENOENT;
	else if (!xsd_can_read(n, domid))
		*rc = -EACCES;
	return *rc ? NULL : n;
}

/* ---------------- paths ---------------- */

static bool valid_chars(const char *s)
{
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
		      strchr("/_@-.:", *s)))
			return false;
	return true;
}

/* Canonicalize a client path into out (absolute). Returns 0 or -EINVAL. */
int xsd_path_canon(unsigned int domid, const char *in, char *out, size_t outlen, bool *relative)
{
	size_t n;

	if (!*in || !valid_chars(in))
		return -EINVAL;
	*relative = in[0] != '/';
	if (*relative)
		n = (size_t)snprintf(out, outlen, "/local/domain/%u/%s", domid, in);
	else
		n = (size_t)snprintf(out, outlen, "%s", in);
	if (n >= outlen || n > MAX_PATH_LEN)
		return -EINVAL;
	/* No empty components, no trailing slash (but "/" itself). */
	if (strstr(out, "//") || (n > 1 && out[n - 1] == '/'))
		return -EINVAL;
	return 0;
}

/* ---------------- tree operations (shared by direct and transactional use) ---------------- */

static void count_nodes(struct xsd *x, struct node *n, int delta)
{
	unsigned int o = owner(n) & 0x7fff;

	if (delta < 0 && x->nodes_per_dom[o])
		x->nodes_per_dom[o]--;
	else if (delta > 0)
		x->nodes_per_dom[o]++;
	for (unsigned int i = 0; i < n->nkids; i++)
		count_nodes(x, n->kids[i], delta);
}

/* Create path (and missing parents) in tree `root`; returns the node or NULL with errno. */
static struct node *create(struct xsd *x, struct node *root, unsigned int domid, const char *path, bool count)
{
	struct node *n = root;
	const char *p = path + 1;

	while (*p) {
		const char *slash = strchr(p, '/');
		size_t len = slash ? (size_t)(slash - p) : strlen(p);
		struct node *k = child(n, p, len);

		if (!k) {
			char name[MAX_PATH_LEN + 1];
			struct node **kids;

			if (!can_write(n, domid)) {
				errno = EACCES;
				return NULL;
			}
			if (domid != 0 && x->nodes_per_dom[domid & 0x7fff] >= MAX_NODES_PER_DOMAIN) {
				errno = EDQUOT;
				return NULL;
			}
			memcpy(name, p, len);
			name[len] = '\0';
			k = xsd_node_new(name, n);
			kids = k ? realloc(n->kids, sizeof(*kids) * (n->nkids + 1)) : NULL;
			if (!kids) {
				xsd_node_free(k);
				errno = ENOMEM;
				return NULL;
			}
			/* Inherit the parent's permissions; a domain owns what it creates. */
			k->perms = malloc(sizeof(*k->perms) * (n->nperms ? n->nperms : 1));
			if (!k->perms) {
				xsd_node_free(k);
				errno = ENOMEM;
				return NULL;
			}
			memcpy(k->perms, n->perms, sizeof(*k->perms) * n->nperms);
			k->nperms = n->nperms;
			if (!k->nperms) {
				k->perms[0] = (struct perm){ 0, 'n' };
				k->nperms = 1;
			}
			if (domid != 0)
				k->perms[0].id = domid;
			n->kids = kids;
			n->kids[n->nkids++] = k;
			k->gen = n->gen = ++x->gen;
			if (count)
				x->nodes_per_dom[owner(k) & 0x7fff]++;
		}
		n = k;
		p += len;
		if (*p == '/')
			p++;
	}
	return n;
}

int xsd_tree_write(struct xsd *x, struct node *root, unsigned int domid, const char *path, const char *val,
		    size_t len, bool live)
{
	struct node *n = xsd_node_lookup(root, path);
	char *v;

	if (n && !can_write(n, domid))
		return -EACCES;
	if (!n && !(n = create(x, root, domid, path, live)))
		return -errno;
	v = malloc(len + 1);
	if (!v)
		return -ENOMEM;
	memcpy(v, val, len);
	v[len] = '\0';
	free(n->value);
	n->value = v;
	n->vlen = len;
	n->gen = ++x->gen;
	if (live)
		xsd_watch_fire(x, path, false);
	return 0;
}

int xsd_tree_mkdir(struct xsd *x, struct node *root, unsigned int domid, const char *path, bool live)
{
	if (xsd_node_lookup(root, path))
		return 0;
	if (!create(x, root, domid, path, live))
		return -errno;
	if (live)
		xsd_watch_fire(x, path, false);
	return 0;
}

int xsd_tree_rm(struct xsd *x, struct node *root, unsigned int domid, const char *path, bool live)
{
	struct node *n = xsd_node_lookup(root, path), *parent;
	char ppath[MAX_PATH_LEN + 1];
	char *slash;

	if (!n) {
		/* Removing what is not there is fine if the parent exists, as xenstored does. */
		snprintf(ppath, sizeof(ppath), "%s", path);
		slash = strrchr(ppath, '/');
		if (slash && slash != ppath)
			*slash = '\0';
		else if (slash)
			slash[1] = '\0';
		return xsd_node_lookup(root, ppath) ? 0 : -ENOENT;
	}
	if (n == root)
		return -EINVAL;
	if (!can_write(n, domid))
		return -EACCES;
	parent = n->parent;
	if (live) {
		xsd_watch_fire(x, path, true);
		count_nodes(x, n, -1);
	}
	for (unsigned int i = 0; i < parent->nkids; i++) {
		if (parent->kids[i] == n) {
			parent->kids[i] = parent->kids[--parent->nkids];
			break;
		}
	}
	parent->gen = ++x->gen;
	xsd_node_free(n);
	return 0;
}

/* Parse "w0\0r1\0..." into perms. */
static int parse_perms(const char *data, size_t len, struct perm *perms, unsigned int *n)
{
	size_t off = 0;

	*n = 0;
	while (off < len) {
		const char *s = data + off;
		size_t sl = strnlen(s, len - off);
		uint64_t id;

		if (sl == len - off || sl < 2 || !strchr("nrwb", s[0]) || *n == MAX_PERMS)
			return -EINVAL;
		/* A domid_t in decimal only: strtoul let a sign and leading spaces through ("w +5" was domain 5). */
		if (vha_parse_u64(s + 1, 0, UINT16_MAX, 0, &id) < 0)
			return -EINVAL;
		perms[*n].p = s[0];
		perms[*n].id = (unsigned int)id;
		(*n)++;
		off += sl + 1;
	}
	return *n ? 0 : -EINVAL;
}

int xsd_tree_set_perms(struct xsd *x, struct node *root, unsigned int domid, const char *path, const char *data,
			size_t len, bool live)
{
	struct node *n = xsd_node_lookup(root, path);
	struct perm perms[MAX_PERMS], *p;
	unsigned int np;
	int rc;

	if (!n)
		return -ENOENT;
	if (domid != 0 && owner(n) != domid)
		return -EACCES;
	rc = parse_perms(data, len, perms, &np);
	if (rc < 0)
		return rc;
	/* An unprivileged domain cannot give its node away. */
	if (domid != 0 && perms[0].id != domid)
		return -EPERM;
	p = malloc(sizeof(*p) * np);
	if (!p)
		return -ENOMEM;
	memcpy(p, perms, sizeof(*p) * np);
	if (live)
		count_nodes(x, n, -1);
	free(n->perms);
	n->perms = p;
	n->nperms = np;
	n->gen = ++x->gen;
	if (live) {
		/* Only the moved node changes owner in the count, children keep theirs. */
		count_nodes(x, n, +1);
		xsd_watch_fire(x, path, false);
	}
	return 0;
}
