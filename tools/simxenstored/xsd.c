// SPDX-License-Identifier: MIT
/*
 * The server: one listening unix socket per domain (DIR/socket for dom0,
 * DIR/domain-<N>.sock once dom0 introduces N), the connections accepted on
 * them, and the epoll loop that feeds their bytes to the wire layer
 * (xsd_wire.c) and flushes what it queued. Everything a client sends is
 * untrusted: see xsd_wire.c and xsd_ops.c for the bounds and checks.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "vha/log.h"
#include "xsd_internal.h"

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

bool xsd_domain_is_introduced(struct xsd *x, unsigned int domid)
{
	return find_domain(x, domid) != NULL;
}

int xsd_domain_introduce(struct xsd *x, unsigned int domid)
{
	struct listener *l = find_domain(x, domid);
	int rc;

	if (l)
		return 0;
	if (x->ndoms == MAX_DOMAINS)
		return -ENOSPC;
	l = &x->doms[x->ndoms];
	rc = listen_on(x, l, domid);
	if (rc < 0)
		return rc;
	x->ndoms++;
	return 0;
}

int xsd_domain_release(struct xsd *x, unsigned int domid)
{
	struct listener *l = find_domain(x, domid);

	if (!l)
		return -ENOENT;
	unlisten(x, l);
	for (struct xsd_conn *o = x->conns; o; o = o->next)
		if (o->domid == domid)
			o->dead = true;
	*l = x->doms[--x->ndoms];
	x->doms[x->ndoms].fd = -1;
	/* epoll names a listener by its slot's address: point the moved one's socket at its new slot. */
	if (l != &x->doms[x->ndoms] && l->fd >= 0) {
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = l };

		epoll_ctl(x->epfd, EPOLL_CTL_MOD, l->fd, &ev);
	}
	return 0;
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
	xsd_watches_free(c);
	while (c->txs) {
		struct tx *t = c->txs;

		c->txs = t->next;
		xsd_tx_free(t);
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

/* Events taken per epoll_wait, and bytes read from a connection per call. */
#define XSD_EPOLL_BATCH 32
#define XSD_READ_CHUNK 8192

int xsd_run_once(struct xsd *x, int timeout_ms)
{
	struct epoll_event evs[XSD_EPOLL_BATCH];
	int n = epoll_wait(x->epfd, evs, XSD_EPOLL_BATCH, timeout_ms);

	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	for (int i = 0; i < n; i++) {
		void *ptr = evs[i].data.ptr;
		struct xsd_conn *c;
		unsigned char buf[XSD_READ_CHUNK];
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
	x->root = xsd_node_new("", NULL);
	if (x->epfd < 0 || !x->root) {
		xsd_destroy(x);
		return -ENOMEM;
	}
	x->root->perms = malloc(sizeof(*x->root->perms));
	x->root->perms[0] = (struct perm){ 0, 'n' };
	x->root->nperms = 1;
	x->dom0.fd = -1;
	/* The skeleton a toolstack expects. */
	xsd_tree_mkdir(x, x->root, 0, "/local/domain", false);
	xsd_tree_mkdir(x, x->root, 0, "/tool", false);
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
	xsd_node_free(x->root);
	if (x->epfd >= 0)
		close(x->epfd);
	free(x->dir);
	free(x);
}

