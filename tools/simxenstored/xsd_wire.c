// SPDX-License-Identifier: MIT
/*
 * The wire: reassembling messages from a connection's byte stream (bounded by
 * XENSTORE_PAYLOAD_MAX; a bigger one drops the client) and queueing replies
 * and events (bounded by MAX_OUTPUT).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "xsd_internal.h"

void xsd_conn_queue(struct xsd_conn *c, uint32_t type, uint32_t req_id, uint32_t tx_id, const void *body,
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

void xsd_reply_error(struct xsd_conn *c, const struct xsd_sockmsg *m, int err)
{
	const char *name = "EINVAL";

	for (size_t i = 0; i < sizeof(xsd_errors) / sizeof(xsd_errors[0]); i++)
		if (xsd_errors[i].errnum == err)
			name = xsd_errors[i].errstring;
	xsd_conn_queue(c, XS_ERROR, m->req_id, m->tx_id, name, strlen(name) + 1);
}

void xsd_reply_ok(struct xsd_conn *c, const struct xsd_sockmsg *m)
{
	xsd_conn_queue(c, m->type, m->req_id, m->tx_id, "OK", 3);
}

/* Split the payload into NUL-terminated strings; returns how many (up to max). */
unsigned int xsd_body_split(char *body, size_t len, char **parts, unsigned int max)
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
				xsd_dispatch(x, c, &m, body);
				c->in_len = 0;
			}
		}
	}
	return c->dead ? -EPIPE : 0;
}
