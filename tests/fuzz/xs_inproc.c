// SPDX-License-Identifier: MIT
/*
 * libxenstore over an in-process sim xenstored (see xs_inproc.h). Each call
 * builds the message libxenstore would send, feeds it to the server's wire
 * layer and takes everything the server queued on the connection: watch
 * events go to the handle's queue (for xs_check_watch), the reply with our
 * request id is the answer. Errors follow libxenstore: NULL or false with
 * errno set from the reply's error name.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../tools/simxenstored/xsd_internal.h"
#include "xs_inproc.h"

struct xsi_event {
	char **vec;                     /* what xs_check_watch returns: path, token, in one block */
	struct xsi_event *next;
};

struct xs_handle {
	struct xsd *x;
	struct xsd_conn *c;
	uint32_t next_req;
	struct xsi_event *events, **events_tail;
	unsigned int nevents;
};

static struct xsd *server;
static xsi_write_hook *write_hook;

void xsi_set_server(struct xsd *x)
{
	server = x;
}

void xsi_set_write_hook(xsi_write_hook *fn)
{
	write_hook = fn;
}

struct xs_handle *xsi_open(unsigned int domid)
{
	struct xs_handle *h;

	if (!server) {
		errno = ENOENT;
		return NULL;
	}
	h = calloc(1, sizeof(*h));
	if (!h) {
		errno = ENOMEM;
		return NULL;
	}
	h->x = server;
	h->c = xsd_conn_new_detached(server, domid);
	if (!h->c) {
		free(h);
		errno = ENOMEM;
		return NULL;
	}
	h->events_tail = &h->events;
	return h;
}

struct xs_handle *xs_open(unsigned long flags)
{
	(void)flags;
	return xsi_open(0);
}

void xs_close(struct xs_handle *h)
{
	if (!h)
		return;
	while (h->events) {
		struct xsi_event *e = h->events;

		h->events = e->next;
		free(e->vec);
		free(e);
	}
	xsd_conn_free_detached(h->x, h->c);
	free(h);
}

/* A watch event's payload ("path\0token\0") as libxenstore hands it out. */
static void queue_event(struct xs_handle *h, const char *body, size_t len)
{
	size_t plen = strnlen(body, len), tlen;
	const char *token = body + plen + 1;
	struct xsi_event *e;

	if (plen >= len)
		return;         /* no token: libxenstore drops it too */
	tlen = strnlen(token, len - plen - 1);
	e = calloc(1, sizeof(*e));
	if (!e)
		return;
	e->vec = malloc(2 * sizeof(char *) + plen + 1 + tlen + 1);
	if (!e->vec) {
		free(e);
		return;
	}
	e->vec[XS_WATCH_PATH] = (char *)(e->vec + 2);
	memcpy(e->vec[XS_WATCH_PATH], body, plen);
	e->vec[XS_WATCH_PATH][plen] = '\0';
	e->vec[XS_WATCH_TOKEN] = e->vec[XS_WATCH_PATH] + plen + 1;
	memcpy(e->vec[XS_WATCH_TOKEN], token, tlen);
	e->vec[XS_WATCH_TOKEN][tlen] = '\0';
	*h->events_tail = e;
	h->events_tail = &e->next;
	h->nevents++;
}

/*
 * Take everything the server queued for h: events to the queue, and the
 * reply to req_id (if any) into *reply. Returns its type, or -1 if none.
 */
static int drain(struct xs_handle *h, uint32_t req_id, char **reply, size_t *rlen)
{
	struct xsd_conn *c = h->c;
	size_t off = 0;
	int type = -1;

	while (c->out_len - off >= sizeof(struct xsd_sockmsg)) {
		struct xsd_sockmsg m;
		const char *body = (const char *)c->out + off + sizeof(m);

		memcpy(&m, c->out + off, sizeof(m));
		if (m.len > c->out_len - off - sizeof(m))
			break;
		if (m.type == XS_WATCH_EVENT) {
			queue_event(h, body, m.len);
		} else if (reply && type < 0 && m.req_id == req_id) {
			*reply = malloc(m.len + 1);
			if (*reply) {
				memcpy(*reply, body, m.len);
				(*reply)[m.len] = '\0';
				*rlen = m.len;
				type = (int)m.type;
			}
		}
		off += sizeof(m) + m.len;
	}
	c->out_len = 0;
	return type;
}

static int error_from_name(const char *name)
{
	for (size_t i = 0; i < sizeof(xsd_errors) / sizeof(xsd_errors[0]); i++)
		if (strcmp(xsd_errors[i].errstring, name) == 0)
			return xsd_errors[i].errnum;
	return EINVAL;
}

char *xsi_request(struct xs_handle *h, xs_transaction_t t, uint32_t type, const void *payload, size_t len,
		  size_t *rlen)
{
	unsigned char msg[sizeof(struct xsd_sockmsg) + XENSTORE_PAYLOAD_MAX];
	struct xsd_sockmsg m = { .type = type, .req_id = ++h->next_req, .tx_id = t, .len = (uint32_t)len };
	char *reply = NULL;
	size_t n = 0;
	int rtype;

	if (len > XENSTORE_PAYLOAD_MAX) {
		errno = E2BIG;
		return NULL;
	}
	memcpy(msg, &m, sizeof(m));
	if (len)
		memcpy(msg + sizeof(m), payload, len);
	if (h->c->dead || xsd_conn_input(h->x, h->c, msg, sizeof(m) + len) < 0) {
		drain(h, 0, NULL, NULL);
		errno = EIO;
		return NULL;
	}
	rtype = drain(h, m.req_id, &reply, &n);
	if (rtype < 0) {
		errno = EIO;
		return NULL;
	}
	if (rtype == XS_ERROR) {
		errno = error_from_name(reply);
		free(reply);
		return NULL;
	}
	if ((uint32_t)rtype != type) {
		free(reply);
		errno = EINVAL;
		return NULL;
	}
	if (rlen)
		*rlen = n;
	return reply;
}

/* "path\0" + data, as XS_WRITE wants it; the others take "path\0". */
static char *path_request(struct xs_handle *h, xs_transaction_t t, uint32_t type, const char *path,
			  const void *data, size_t dlen, size_t *rlen)
{
	char buf[XENSTORE_PAYLOAD_MAX + 1];
	size_t plen = strlen(path) + 1;

	if (plen + dlen > XENSTORE_PAYLOAD_MAX) {
		errno = E2BIG;
		return NULL;
	}
	if (write_hook && (type == XS_WRITE || type == XS_MKDIR || type == XS_RM))
		write_hook(h, t, type, path, data, dlen);
	memcpy(buf, path, plen);
	if (dlen)
		memcpy(buf + plen, data, dlen);
	return xsi_request(h, t, type, buf, plen + dlen, rlen);
}

static bool ok(char *reply)
{
	free(reply);
	return reply != NULL;
}

void *xs_read(struct xs_handle *h, xs_transaction_t t, const char *path, unsigned int *len)
{
	size_t n = 0;
	char *v = path_request(h, t, XS_READ, path, NULL, 0, &n);

	if (v && len)
		*len = (unsigned int)n;
	return v;
}

bool xs_write(struct xs_handle *h, xs_transaction_t t, const char *path, const void *data, unsigned int len)
{
	return ok(path_request(h, t, XS_WRITE, path, data, len, NULL));
}

bool xs_mkdir(struct xs_handle *h, xs_transaction_t t, const char *path)
{
	return ok(path_request(h, t, XS_MKDIR, path, NULL, 0, NULL));
}

bool xs_rm(struct xs_handle *h, xs_transaction_t t, const char *path)
{
	return ok(path_request(h, t, XS_RM, path, NULL, 0, NULL));
}

char **xs_directory(struct xs_handle *h, xs_transaction_t t, const char *path, unsigned int *num)
{
	size_t n = 0, off;
	char *body = path_request(h, t, XS_DIRECTORY, path, NULL, 0, &n), **vec, *strings;
	unsigned int count = 0, i = 0;

	if (!body)
		return NULL;
	for (off = 0; off < n; off += strnlen(body + off, n - off) + 1)
		count++;
	/* One block, the strings after the pointers: the caller frees the array alone. */
	vec = malloc(count * sizeof(char *) + n + 1);
	if (!vec) {
		free(body);
		errno = ENOMEM;
		return NULL;
	}
	strings = (char *)(vec + count);
	memcpy(strings, body, n + 1);
	for (off = 0; off < n; off += strlen(strings + off) + 1)
		vec[i++] = strings + off;
	free(body);
	*num = count;
	return vec;
}

static bool watch_request(struct xs_handle *h, uint32_t type, const char *path, const char *token)
{
	char buf[XENSTORE_PAYLOAD_MAX];
	size_t plen = strlen(path) + 1, tlen = strlen(token) + 1;

	if (plen + tlen > sizeof(buf)) {
		errno = E2BIG;
		return false;
	}
	memcpy(buf, path, plen);
	memcpy(buf + plen, token, tlen);
	return ok(xsi_request(h, XBT_NULL, type, buf, plen + tlen, NULL));
}

bool xs_watch(struct xs_handle *h, const char *path, const char *token)
{
	return watch_request(h, XS_WATCH, path, token);
}

bool xs_unwatch(struct xs_handle *h, const char *path, const char *token)
{
	struct xsi_event **pe = &h->events;

	if (!watch_request(h, XS_UNWATCH, path, token))
		return false;
	/* As libxenstore: events of the removed watch still queued are dropped. */
	while (*pe) {
		struct xsi_event *e = *pe;

		if (strcmp(e->vec[XS_WATCH_TOKEN], token) == 0) {
			*pe = e->next;
			free(e->vec);
			free(e);
			h->nevents--;
		} else {
			pe = &e->next;
		}
	}
	h->events_tail = pe;
	return true;
}

int xs_fileno(struct xs_handle *h)
{
	(void)h;
	errno = ENOSYS;
	return -1;
}

char **xs_check_watch(struct xs_handle *h)
{
	struct xsi_event *e;
	char **vec;

	drain(h, 0, NULL, NULL);
	e = h->events;
	if (!e) {
		errno = EAGAIN;
		return NULL;
	}
	h->events = e->next;
	if (!h->events)
		h->events_tail = &h->events;
	h->nevents--;
	vec = e->vec;
	free(e);
	return vec;
}

unsigned int xsi_pending_events(struct xs_handle *h)
{
	drain(h, 0, NULL, NULL);
	return h->nevents;
}

xs_transaction_t xs_transaction_start(struct xs_handle *h)
{
	char *id = xsi_request(h, XBT_NULL, XS_TRANSACTION_START, "", 1, NULL);
	unsigned long t;

	if (!id)
		return XBT_NULL;
	t = strtoul(id, NULL, 10);
	free(id);
	if (t == 0)
		errno = EINVAL;
	return (xs_transaction_t)t;
}

bool xs_transaction_end(struct xs_handle *h, xs_transaction_t t, bool abort)
{
	return ok(xsi_request(h, t, XS_TRANSACTION_END, abort ? "F" : "T", 2, NULL));
}

bool xs_is_domain_introduced(struct xs_handle *h, unsigned int domid)
{
	char buf[16], *rep;
	bool yes;

	snprintf(buf, sizeof(buf), "%u", domid);
	rep = xsi_request(h, XBT_NULL, XS_IS_DOMAIN_INTRODUCED, buf, strlen(buf) + 1, NULL);
	if (!rep)
		return false;
	yes = strcmp(rep, "F") != 0;
	free(rep);
	return yes;
}

const char *xsi_peek(struct xs_handle *h, xs_transaction_t t, const char *path, size_t *len)
{
	struct node *root = h->x->root, *n;

	if (t != XBT_NULL) {
		struct tx *tx = xsd_tx_find(h->c, t);

		if (!tx)
			return NULL;
		root = tx->root;
	}
	n = xsd_node_lookup(root, path);
	if (!n)
		return NULL;
	*len = n->vlen;
	return n->value ? n->value : "";
}
