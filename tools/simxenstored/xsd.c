// SPDX-License-Identifier: MIT
/*
 * The simulated xenstored. Everything a client sends is untrusted: messages
 * are bounded (XENSTORE_PAYLOAD_MAX), paths checked, and every per-connection
 * resource (queued output, watches, transactions) and per-domain node count
 * has a quota. A connection that sends garbage is dropped.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <xen/io/xs_wire.h>

#include "vha/log.h"
#include "xsd.h"

#define MAX_DOMAINS 256
#define MAX_WATCHES_PER_CONN 256
#define MAX_TX_PER_CONN 16
#define MAX_NODES_PER_DOMAIN 4096
#define MAX_OUTPUT (1u << 20)
#define MAX_PATH_LEN 3072
#define MAX_PERMS 64

struct perm {
	unsigned int id;
	char p;                         /* 'n', 'r', 'w', 'b' */
};

struct node {
	char *name;
	char *value;
	size_t vlen;
	struct perm *perms;
	unsigned int nperms;
	uint64_t gen;                   /* last change to this node or its child list */
	struct node *parent;
	struct node **kids;
	unsigned int nkids;
};

struct access {
	char *path;
	uint64_t gen;                   /* 0: did not exist */
};

struct txop {
	int type;                       /* XS_WRITE, XS_MKDIR, XS_RM, XS_SET_PERMS */
	char *path;
	char *data;
	size_t len;
};

struct tx {
	uint32_t id;
	struct node *root;              /* private copy of the whole tree */
	struct access *acc;
	unsigned int nacc;
	struct txop *ops;
	unsigned int nops;
	struct tx *next;
};

struct watch {
	char *path;                     /* absolute, or "@..." */
	char *token;
	bool relative;
	struct watch *next;
};

struct xsd_conn {
	int fd;
	unsigned int domid;
	unsigned char in[sizeof(struct xsd_sockmsg) + XENSTORE_PAYLOAD_MAX];
	size_t in_len;
	unsigned char *out;
	size_t out_len, out_cap;
	struct watch *watches;
	unsigned int nwatches;
	struct tx *txs;
	unsigned int ntx;
	bool dead;
	struct xsd_conn *next;
};

struct listener {
	int fd;
	unsigned int domid;
	char path[256];
};

struct xsd {
	char *dir;
	int epfd;
	struct node *root;
	uint64_t gen;
	uint32_t next_tx;
	struct listener dom0;
	struct listener doms[MAX_DOMAINS];
	unsigned int ndoms;
	struct xsd_conn *conns;
	unsigned int nodes_per_dom[0x8000];
};

/* ---------------- nodes ---------------- */

static struct node *node_new(const char *name, struct node *parent)
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

static void node_free(struct node *n)
{
	if (!n)
		return;
	for (unsigned int i = 0; i < n->nkids; i++)
		node_free(n->kids[i]);
	free(n->kids);
	free(n->name);
	free(n->value);
	free(n->perms);
	free(n);
}

static struct node *node_clone(const struct node *n, struct node *parent)
{
	struct node *c = node_new(n->name, parent);

	if (!c)
		return NULL;
	free(c->value);
	c->value = malloc(n->vlen + 1);
	c->perms = malloc(sizeof(*c->perms) * (n->nperms ? n->nperms : 1));
	c->kids = calloc(n->nkids ? n->nkids : 1, sizeof(*c->kids));
	if (!c->value || !c->perms || !c->kids) {
		node_free(c);
		return NULL;
	}
	memcpy(c->value, n->value, n->vlen + 1);
	c->vlen = n->vlen;
	memcpy(c->perms, n->perms, sizeof(*c->perms) * n->nperms);
	c->nperms = n->nperms;
	c->gen = n->gen;
	for (unsigned int i = 0; i < n->nkids; i++) {
		c->kids[i] = node_clone(n->kids[i], c);
		if (!c->kids[i]) {
			node_free(c);
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
static struct node *lookup(struct node *root, const char *path)
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

static bool can_read(const struct node *n, unsigned int domid)
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
static struct node *readable(struct node *root, const char *path, unsigned int domid, int *rc)
{
	struct node *n = lookup(root, path);

	if (!n)
		*rc = -ENOENT;
	else if (!can_read(n, domid))
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
static int canon(unsigned int domid, const char *in, char *out, size_t outlen, bool *relative)
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

/* ---------------- output ---------------- */

static void conn_queue(struct xsd_conn *c, uint32_t type, uint32_t req_id, uint32_t tx_id, const void *body,
		       size_t len)
{
	struct xsd_sockmsg h = { .type = type, .req_id = req_id, .tx_id = tx_id, .len = (uint32_t)len };
	size_t need = c->out_len + sizeof(h) + len;

	if (c->dead)
		return;
	if (need > MAX_OUTPUT) {
		/* A client that does not read its replies and events is dropped, not buffered forever. */
		c->dead = true;
		return;
	}
	if (need > c->out_cap) {
		size_t cap = c->out_cap ? c->out_cap : 4096;
		unsigned char *p;

		while (cap < need)
			cap *= 2;
		p = realloc(c->out, cap);
		if (!p) {
			c->dead = true;
			return;
		}
		c->out = p;
		c->out_cap = cap;
	}
	memcpy(c->out + c->out_len, &h, sizeof(h));
	memcpy(c->out + c->out_len + sizeof(h), body, len);
	c->out_len = need;
}

static void reply_err(struct xsd_conn *c, const struct xsd_sockmsg *m, int err)
{
	const char *name = "EINVAL";

	for (size_t i = 0; i < sizeof(xsd_errors) / sizeof(xsd_errors[0]); i++)
		if (xsd_errors[i].errnum == err)
			name = xsd_errors[i].errstring;
	conn_queue(c, XS_ERROR, m->req_id, m->tx_id, name, strlen(name) + 1);
}

static void reply_ok(struct xsd_conn *c, const struct xsd_sockmsg *m)
{
	conn_queue(c, m->type, m->req_id, m->tx_id, "OK", 3);
}

/* ---------------- watches ---------------- */

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

static void watches_free(struct xsd_conn *c)
{
	while (c->watches) {
		struct watch *w = c->watches;

		c->watches = w->next;
		watch_free(w);
	}
	c->nwatches = 0;
}

static void send_event(struct xsd_conn *c, struct watch *w, const char *path)
{
	char buf[MAX_PATH_LEN + 1100];
	const char *shown = path;
	char prefix[48];
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
	conn_queue(c, XS_WATCH_EVENT, 0, 0, buf, pl + tl);
}

/* A node changed (or was removed, with `removed`): tell every watcher allowed to see it. */
static void fire(struct xsd *x, const char *path, bool removed)
{
	for (struct xsd_conn *c = x->conns; c; c = c->next) {
		struct node *n = NULL;

		if (path[0] != '@') {
			n = lookup(x->root, path);
			if (!removed && n && !can_read(n, c->domid))
				continue;
		}
		for (struct watch *w = c->watches; w; w = w->next) {
			if (path[0] == '@' ? strcmp(w->path, path) == 0
					   : is_under(path, w->path) || (removed && is_under(w->path, path)))
				send_event(c, w, path[0] != '@' && removed && is_under(w->path, path) ? w->path : path);
		}
	}
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
			k = node_new(name, n);
			kids = k ? realloc(n->kids, sizeof(*kids) * (n->nkids + 1)) : NULL;
			if (!kids) {
				node_free(k);
				errno = ENOMEM;
				return NULL;
			}
			/* Inherit the parent's permissions; a domain owns what it creates. */
			k->perms = malloc(sizeof(*k->perms) * (n->nperms ? n->nperms : 1));
			if (!k->perms) {
				node_free(k);
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

static int op_write(struct xsd *x, struct node *root, unsigned int domid, const char *path, const char *val,
		    size_t len, bool live)
{
	struct node *n = lookup(root, path);
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
		fire(x, path, false);
	return 0;
}

static int op_mkdir(struct xsd *x, struct node *root, unsigned int domid, const char *path, bool live)
{
	if (lookup(root, path))
		return 0;
	if (!create(x, root, domid, path, live))
		return -errno;
	if (live)
		fire(x, path, false);
	return 0;
}

static int op_rm(struct xsd *x, struct node *root, unsigned int domid, const char *path, bool live)
{
	struct node *n = lookup(root, path), *parent;
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
		return lookup(root, ppath) ? 0 : -ENOENT;
	}
	if (n == root)
		return -EINVAL;
	if (!can_write(n, domid))
		return -EACCES;
	parent = n->parent;
	if (live) {
		fire(x, path, true);
		count_nodes(x, n, -1);
	}
	for (unsigned int i = 0; i < parent->nkids; i++) {
		if (parent->kids[i] == n) {
			parent->kids[i] = parent->kids[--parent->nkids];
			break;
		}
	}
	parent->gen = ++x->gen;
	node_free(n);
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
		char *end;
		unsigned long id;

		if (sl == len - off || sl < 2 || !strchr("nrwb", s[0]) || *n == MAX_PERMS)
			return -EINVAL;
		id = strtoul(s + 1, &end, 10);
		if (*end || id > 0xffff)
			return -EINVAL;
		perms[*n].p = s[0];
		perms[*n].id = (unsigned int)id;
		(*n)++;
		off += sl + 1;
	}
	return *n ? 0 : -EINVAL;
}

static int op_set_perms(struct xsd *x, struct node *root, unsigned int domid, const char *path, const char *data,
			size_t len, bool live)
{
	struct node *n = lookup(root, path);
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
		fire(x, path, false);
	}
	return 0;
}

/* ---------------- transactions ---------------- */

static struct tx *find_tx(struct xsd_conn *c, uint32_t id)
{
	for (struct tx *t = c->txs; t; t = t->next)
		if (t->id == id)
			return t;
	return NULL;
}

static void tx_free(struct tx *t)
{
	node_free(t->root);
	for (unsigned int i = 0; i < t->nacc; i++)
		free(t->acc[i].path);
	free(t->acc);
	for (unsigned int i = 0; i < t->nops; i++) {
		free(t->ops[i].path);
		free(t->ops[i].data);
	}
	free(t->ops);
	free(t);
}

/* Remember the state (as of the transaction's start) of every path it touches. */
static void tx_access(struct tx *t, const char *path)
{
	struct node *n;
	struct access *a;

	for (unsigned int i = 0; i < t->nacc; i++)
		if (strcmp(t->acc[i].path, path) == 0)
			return;
	a = realloc(t->acc, sizeof(*a) * (t->nacc + 1));
	if (!a)
		return;
	t->acc = a;
	n = lookup(t->root, path);
	a[t->nacc].path = strdup(path);
	a[t->nacc].gen = n ? n->gen : 0;
	if (a[t->nacc].path)
		t->nacc++;
}

static int tx_log(struct tx *t, int type, const char *path, const char *data, size_t len)
{
	struct txop *ops = realloc(t->ops, sizeof(*ops) * (t->nops + 1));

	if (!ops)
		return -ENOMEM;
	t->ops = ops;
	ops[t->nops].type = type;
	ops[t->nops].path = strdup(path);
	ops[t->nops].data = malloc(len + 1);
	ops[t->nops].len = len;
	if (!ops[t->nops].path || !ops[t->nops].data) {
		free(ops[t->nops].path);
		free(ops[t->nops].data);
		return -ENOMEM;
	}
	memcpy(ops[t->nops].data, data, len);
	ops[t->nops].data[len] = '\0';
	t->nops++;
	return 0;
}

static int tx_commit(struct xsd *x, struct xsd_conn *c, struct tx *t)
{
	/* Conflict: something the transaction looked at changed since it began. */
	for (unsigned int i = 0; i < t->nacc; i++) {
		struct node *n = lookup(x->root, t->acc[i].path);

		if ((n ? n->gen : 0) != t->acc[i].gen)
			return -EAGAIN;
	}
	for (unsigned int i = 0; i < t->nops; i++) {
		struct txop *o = &t->ops[i];

		switch (o->type) {
		case XS_WRITE: op_write(x, x->root, c->domid, o->path, o->data, o->len, true); break;
		case XS_MKDIR: op_mkdir(x, x->root, c->domid, o->path, true); break;
		case XS_RM: op_rm(x, x->root, c->domid, o->path, true); break;
		case XS_SET_PERMS: op_set_perms(x, x->root, c->domid, o->path, o->data, o->len, true); break;
		}
	}
	return 0;
}

/* ---------------- domains ---------------- */

static struct listener *find_domain(struct xsd *x, unsigned int domid)
{
	for (unsigned int i = 0; i < x->ndoms; i++)
		if (x->doms[i].domid == domid)
			return &x->doms[i];
	return NULL;
}

static int listen_on(struct xsd *x, struct listener *l, unsigned int domid)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct epoll_event ev = { .events = EPOLLIN };
	int fd;

	l->domid = domid;
	l->fd = -1;
	if (!x->dir)
		return 0;
	if (domid == 0)
		snprintf(l->path, sizeof(l->path), "%s/socket", x->dir);
	else
		snprintf(l->path, sizeof(l->path), "%s/domain-%u.sock", x->dir, domid);
	if (strlen(l->path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", l->path);
	unlink(l->path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(fd, 64) != 0) {
		int rc = -errno;

		close(fd);
		return rc;
	}
	ev.data.ptr = l;
	epoll_ctl(x->epfd, EPOLL_CTL_ADD, fd, &ev);
	l->fd = fd;
	return 0;
}

static void unlisten(struct xsd *x, struct listener *l)
{
	if (l->fd >= 0) {
		epoll_ctl(x->epfd, EPOLL_CTL_DEL, l->fd, NULL);
		close(l->fd);
		unlink(l->path);
	}
	l->fd = -1;
}

/* ---------------- requests ---------------- */

/* Split the payload into NUL-terminated strings; returns how many (up to max). */
static unsigned int split(char *body, size_t len, char **parts, unsigned int max)
{
	unsigned int n = 0;
	size_t off = 0;

	while (off < len && n < max) {
		size_t sl = strnlen(body + off, len - off);

		parts[n++] = body + off;
		off += sl + 1;
	}
	return n;
}

static void handle(struct xsd *x, struct xsd_conn *c, struct xsd_sockmsg *m, char *body)
{
	char path[MAX_PATH_LEN + 64], *parts[4];
	struct tx *t = NULL;
	struct node *root = x->root, *n;
	bool rel = false, live = true;
	unsigned int np;
	int rc = 0;

	body[m->len] = '\0';    /* the buffer has room: a payload is at most XENSTORE_PAYLOAD_MAX */
	if (m->tx_id) {
		t = find_tx(c, m->tx_id);
		if (!t) {
			reply_err(c, m, ENOENT);
			return;
		}
		root = t->root;
		live = false;
	}
	switch (m->type) {
	case XS_READ:
	case XS_WRITE:
	case XS_MKDIR:
	case XS_RM:
	case XS_DIRECTORY:
	case XS_GET_PERMS:
	case XS_SET_PERMS: {
		size_t plen = strnlen(body, m->len);

		if (plen == m->len && m->type != XS_READ && m->type != XS_MKDIR && m->type != XS_RM &&
		    m->type != XS_DIRECTORY && m->type != XS_GET_PERMS) {
			reply_err(c, m, EINVAL);
			return;
		}
		if (canon(c->domid, body, path, sizeof(path), &rel) < 0) {
			reply_err(c, m, EINVAL);
			return;
		}
		if (t)
			tx_access(t, path);
		const char *data = body + plen + 1;
		size_t dlen = m->len > plen ? m->len - plen - 1 : 0;

		switch (m->type) {
		case XS_READ:
			n = readable(root, path, c->domid, &rc);
			if (n)
				conn_queue(c, m->type, m->req_id, m->tx_id, n->value, n->vlen);
			break;
		case XS_DIRECTORY: {
			char buf[XENSTORE_PAYLOAD_MAX];
			size_t off = 0;

			n = readable(root, path, c->domid, &rc);
			if (!n)
				break;
			for (unsigned int i = 0; i < n->nkids; i++) {
				size_t l = strlen(n->kids[i]->name) + 1;

				if (off + l > sizeof(buf)) {
					rc = -E2BIG;
					break;
				}
				memcpy(buf + off, n->kids[i]->name, l);
				off += l;
			}
			if (rc == 0)
				conn_queue(c, m->type, m->req_id, m->tx_id, buf, off);
			break;
		}
		case XS_GET_PERMS: {
			char buf[MAX_PERMS * 8];
			size_t off = 0;

			n = readable(root, path, c->domid, &rc);
			if (!n)
				break;
			for (unsigned int i = 0; i < n->nperms; i++)
				off += (size_t)snprintf(buf + off, sizeof(buf) - off, "%c%u", n->perms[i].p,
							n->perms[i].id) + 1;
			conn_queue(c, m->type, m->req_id, m->tx_id, buf, off);
			break;
		}
		case XS_WRITE:
			if (dlen > XENSTORE_PAYLOAD_MAX) {
				rc = -E2BIG;
				break;
			}
			rc = op_write(x, root, c->domid, path, data, dlen, live);
			if (rc == 0 && t)
				rc = tx_log(t, XS_WRITE, path, data, dlen);
			break;
		case XS_MKDIR:
			rc = op_mkdir(x, root, c->domid, path, live);
			if (rc == 0 && t)
				rc = tx_log(t, XS_MKDIR, path, "", 0);
			break;
		case XS_RM:
			rc = op_rm(x, root, c->domid, path, live);
			if (rc == 0 && t)
				rc = tx_log(t, XS_RM, path, "", 0);
			break;
		case XS_SET_PERMS:
			rc = op_set_perms(x, root, c->domid, path, data, dlen, live);
			if (rc == 0 && t)
				rc = tx_log(t, XS_SET_PERMS, path, data, dlen);
			break;
		}
		if (rc < 0)
			reply_err(c, m, -rc);
		else if (m->type != XS_READ && m->type != XS_DIRECTORY && m->type != XS_GET_PERMS)
			reply_ok(c, m);
		return;
	}
	case XS_WATCH:
	case XS_UNWATCH: {
		struct watch *w, **pw;

		np = split(body, m->len, parts, 2);
		if (np != 2) {
			reply_err(c, m, EINVAL);
			return;
		}
		if (parts[0][0] == '@')
			snprintf(path, sizeof(path), "%s", parts[0]);
		else if (canon(c->domid, parts[0], path, sizeof(path), &rel) < 0) {
			reply_err(c, m, EINVAL);
			return;
		}
		if (m->type == XS_UNWATCH) {
			for (pw = &c->watches; *pw; pw = &(*pw)->next) {
				if (strcmp((*pw)->path, path) == 0 && strcmp((*pw)->token, parts[1]) == 0) {
					w = *pw;
					*pw = w->next;
					watch_free(w);
					c->nwatches--;
					reply_ok(c, m);
					return;
				}
			}
			reply_err(c, m, ENOENT);
			return;
		}
		for (w = c->watches; w; w = w->next)
			if (strcmp(w->path, path) == 0 && strcmp(w->token, parts[1]) == 0) {
				reply_err(c, m, EEXIST);
				return;
			}
		if (c->nwatches >= MAX_WATCHES_PER_CONN) {
			reply_err(c, m, E2BIG);
			return;
		}
		w = calloc(1, sizeof(*w));
		if (!w || !(w->path = strdup(path)) || !(w->token = strdup(parts[1]))) {
			if (w)
				free(w->path);
			free(w);
			reply_err(c, m, ENOMEM);
			return;
		}
		w->relative = rel;
		w->next = c->watches;
		c->watches = w;
		c->nwatches++;
		reply_ok(c, m);
		/* The initial event, as xenstored sends on every new watch. */
		send_event(c, w, path);
		return;
	}
	case XS_TRANSACTION_START: {
		char id[16];

		if (m->tx_id || c->ntx >= MAX_TX_PER_CONN) {
			reply_err(c, m, m->tx_id ? EBUSY : EDQUOT);
			return;
		}
		t = calloc(1, sizeof(*t));
		if (!t || !(t->root = node_clone(x->root, NULL))) {
			free(t);
			reply_err(c, m, ENOMEM);
			return;
		}
		if (++x->next_tx == 0)
			x->next_tx = 1;
		t->id = x->next_tx;
		t->next = c->txs;
		c->txs = t;
		c->ntx++;
		snprintf(id, sizeof(id), "%u", t->id);
		conn_queue(c, m->type, m->req_id, 0, id, strlen(id) + 1);
		return;
	}
	case XS_TRANSACTION_END: {
		struct tx **pt;

		if (!t) {
			reply_err(c, m, ENOENT);
			return;
		}
		for (pt = &c->txs; *pt != t; pt = &(*pt)->next)
			;
		*pt = t->next;
		c->ntx--;
		rc = (m->len >= 1 && body[0] == 'T') ? tx_commit(x, c, t) : 0;
		tx_free(t);
		if (rc < 0)
			reply_err(c, m, -rc);
		else
			reply_ok(c, m);
		return;
	}
	case XS_GET_DOMAIN_PATH: {
		char out[48];
		unsigned long d = strtoul(body, NULL, 10);

		snprintf(out, sizeof(out), "/local/domain/%lu", d);
		conn_queue(c, m->type, m->req_id, m->tx_id, out, strlen(out) + 1);
		return;
	}
	case XS_IS_DOMAIN_INTRODUCED: {
		unsigned long d = strtoul(body, NULL, 10);
		bool yes = d == 0 || find_domain(x, (unsigned int)d);

		conn_queue(c, m->type, m->req_id, m->tx_id, yes ? "T" : "F", 2);
		return;
	}
	case XS_INTRODUCE:
	case XS_RELEASE: {
		unsigned long d = strtoul(body, NULL, 10);
		struct listener *l;

		if (c->domid != 0) {
			reply_err(c, m, EACCES);
			return;
		}
		if (d == 0 || d >= 0x7ff0) {
			reply_err(c, m, EINVAL);
			return;
		}
		l = find_domain(x, (unsigned int)d);
		if (m->type == XS_INTRODUCE) {
			if (!l) {
				if (x->ndoms == MAX_DOMAINS) {
					reply_err(c, m, ENOSPC);
					return;
				}
				l = &x->doms[x->ndoms];
				rc = listen_on(x, l, (unsigned int)d);
				if (rc < 0) {
					reply_err(c, m, -rc);
					return;
				}
				x->ndoms++;
			}
			reply_ok(c, m);
			fire(x, "@introduceDomain", false);
			return;
		}
		if (!l) {
			reply_err(c, m, ENOENT);
			return;
		}
		unlisten(x, l);
		for (struct xsd_conn *o = x->conns; o; o = o->next)
			if (o->domid == d)
				o->dead = true;
		*l = x->doms[--x->ndoms];
		x->doms[x->ndoms].fd = -1;
		/* epoll names a listener by its slot's address: point the moved one's socket at its new slot. */
		if (l != &x->doms[x->ndoms] && l->fd >= 0) {
			struct epoll_event ev = { .events = EPOLLIN, .data.ptr = l };

			epoll_ctl(x->epfd, EPOLL_CTL_MOD, l->fd, &ev);
		}
		reply_ok(c, m);
		fire(x, "@releaseDomain", false);
		return;
	}
	case XS_RESET_WATCHES:
		watches_free(c);
		reply_ok(c, m);
		return;
	case XS_CONTROL:
		reply_ok(c, m);
		return;
	default:
		reply_err(c, m, ENOSYS);
		return;
	}
}

int xsd_conn_input(struct xsd *x, struct xsd_conn *c, const void *buf, size_t len)
{
	const unsigned char *p = buf;

	while (len > 0 && !c->dead) {
		size_t want = sizeof(struct xsd_sockmsg), take;
		struct xsd_sockmsg m;

		if (c->in_len >= want) {
			memcpy(&m, c->in, sizeof(m));
			want += m.len;
		}
		take = want - c->in_len;
		if (take > len)
			take = len;
		memcpy(c->in + c->in_len, p, take);
		c->in_len += take;
		p += take;
		len -= take;
		if (c->in_len == sizeof(struct xsd_sockmsg)) {
			memcpy(&m, c->in, sizeof(m));
			if (m.len > XENSTORE_PAYLOAD_MAX) {
				/* Garbage or an oversized message: drop the client. */
				c->dead = true;
				return -EINVAL;
			}
		}
		if (c->in_len >= sizeof(struct xsd_sockmsg)) {
			memcpy(&m, c->in, sizeof(m));
			if (c->in_len == sizeof(m) + m.len) {
				char body[XENSTORE_PAYLOAD_MAX + 1];

				memcpy(body, c->in + sizeof(m), m.len);
				handle(x, c, &m, body);
				c->in_len = 0;
			}
		}
	}
	return c->dead ? -EPIPE : 0;
}

/* ---------------- connections and the loop ---------------- */

static void conn_free(struct xsd *x, struct xsd_conn *c)
{
	struct xsd_conn **pc;

	for (pc = &x->conns; *pc; pc = &(*pc)->next)
		if (*pc == c) {
			*pc = c->next;
			break;
		}
	if (c->fd >= 0) {
		epoll_ctl(x->epfd, EPOLL_CTL_DEL, c->fd, NULL);
		close(c->fd);
	}
	watches_free(c);
	while (c->txs) {
		struct tx *t = c->txs;

		c->txs = t->next;
		tx_free(t);
	}
	free(c->out);
	free(c);
}

struct xsd_conn *xsd_conn_new_detached(struct xsd *x, unsigned int domid)
{
	struct xsd_conn *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->fd = -1;
	c->domid = domid;
	c->next = x->conns;
	x->conns = c;
	return c;
}

void xsd_conn_free_detached(struct xsd *x, struct xsd_conn *c)
{
	conn_free(x, c);
}

static void conn_flush(struct xsd_conn *c)
{
	while (c->out_len && !c->dead) {
		ssize_t n = send(c->fd, c->out, c->out_len, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR)
				c->dead = true;
			return;
		}
		memmove(c->out, c->out + n, c->out_len - (size_t)n);
		c->out_len -= (size_t)n;
	}
}

static void accept_conn(struct xsd *x, struct listener *l)
{
	int fd = accept4(l->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	struct epoll_event ev = { .events = EPOLLIN };
	struct xsd_conn *c;

	if (fd < 0)
		return;
	c = xsd_conn_new_detached(x, l->domid);
	if (!c) {
		close(fd);
		return;
	}
	c->fd = fd;
	ev.data.ptr = c;
	epoll_ctl(x->epfd, EPOLL_CTL_ADD, fd, &ev);
}

static bool is_listener(struct xsd *x, void *ptr)
{
	if (ptr == &x->dom0)
		return true;
	return ptr >= (void *)&x->doms[0] && ptr < (void *)&x->doms[MAX_DOMAINS];
}

int xsd_run_once(struct xsd *x, int timeout_ms)
{
	struct epoll_event evs[32];
	int n = epoll_wait(x->epfd, evs, 32, timeout_ms);

	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	for (int i = 0; i < n; i++) {
		void *ptr = evs[i].data.ptr;
		struct xsd_conn *c;
		unsigned char buf[8192];
		ssize_t r;

		if (is_listener(x, ptr)) {
			struct listener *l = ptr;

			if (l->fd >= 0)
				accept_conn(x, l);
			continue;
		}
		c = ptr;
		/* The connection may have been freed by an earlier event in this batch. */
		bool found = false;
		for (struct xsd_conn *o = x->conns; o; o = o->next)
			if (o == c)
				found = true;
		if (!found)
			continue;
		r = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR))
			c->dead = true;
		else if (r > 0 && xsd_conn_input(x, c, buf, (size_t)r) < 0)
			vha_warn("domain %u: malformed message; connection dropped", c->domid);
	}
	/* Flush every connection (events fan out), then drop the dead. */
	for (struct xsd_conn *c = x->conns, *next; c; c = next) {
		next = c->next;
		if (c->fd >= 0)
			conn_flush(c);
		if (c->dead && c->fd >= 0)
			conn_free(x, c);
	}
	return 0;
}

int xsd_fd(struct xsd *x)
{
	return x->epfd;
}

int xsd_create_detached(struct xsd **out)
{
	struct xsd *x = calloc(1, sizeof(*x));

	if (!x)
		return -ENOMEM;
	x->epfd = epoll_create1(EPOLL_CLOEXEC);
	x->root = node_new("", NULL);
	if (x->epfd < 0 || !x->root) {
		xsd_destroy(x);
		return -ENOMEM;
	}
	x->root->perms = malloc(sizeof(*x->root->perms));
	x->root->perms[0] = (struct perm){ 0, 'n' };
	x->root->nperms = 1;
	x->dom0.fd = -1;
	/* The skeleton a toolstack expects. */
	op_mkdir(x, x->root, 0, "/local/domain", false);
	op_mkdir(x, x->root, 0, "/tool", false);
	*out = x;
	return 0;
}

int xsd_create(const char *dir, struct xsd **out)
{
	struct xsd *x;
	int rc;

	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		vha_err("cannot create %s: %s", dir, strerror(errno));
		return -errno;
	}
	rc = xsd_create_detached(&x);
	if (rc < 0)
		return rc;
	x->dir = strdup(dir);
	rc = x->dir ? listen_on(x, &x->dom0, 0) : -ENOMEM;
	if (rc < 0) {
		vha_err("cannot listen in %s: %s", dir, strerror(-rc));
		xsd_destroy(x);
		return rc;
	}
	*out = x;
	return 0;
}

void xsd_destroy(struct xsd *x)
{
	if (!x)
		return;
	while (x->conns)
		conn_free(x, x->conns);
	unlisten(x, &x->dom0);
	for (unsigned int i = 0; i < x->ndoms; i++)
		unlisten(x, &x->doms[i]);
	node_free(x->root);
	if (x->epfd >= 0)
		close(x->epfd);
	free(x->dir);
	free(x);
}
