// SPDX-License-Identifier: MIT
/*
 * The operations: a table indexed by message type, each entry a small
 * handler and flags for what the dispatcher checks before calling it (the
 * caller's privilege, whether a transaction is needed or refused, whether the
 * body starts with a path to canonicalize). Xen's xenstored is organised the
 * same way. The order of the checks is part of the protocol a client sees:
 *   1. a nonzero tx_id must name an open transaction of this connection (ENOENT),
 *      whatever the type;
 *   2. a type with no handler gets ENOSYS;
 *   3. then the flags, in the order of enum op_flags; then the handler.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vha/cli.h"
#include "vha/platform.h"
#include "xsd_internal.h"

/* One request on its way through the dispatcher. */
struct request {
	struct xsd *x;
	struct xsd_conn *c;
	const struct xsd_sockmsg *m;
	char *body;                     /* m->len bytes, then a NUL */
	struct tx *t;                   /* the transaction m->tx_id names, or NULL */
	struct node *root;              /* the tree the request sees: the live one or t's copy */
	bool live;                      /* root is the live tree: count nodes, fire watches */
	/* Set by the dispatcher for OP_PATH operations (and by the watch handlers). */
	char path[PATH_BUF_LEN];        /* canonical, absolute */
	bool relative;                  /* the client gave it relative to its home */
	const char *data;               /* OP_PATH: what follows the path's NUL */
	size_t dlen;
};

enum op_flags {
	/* Domain 0 only: EACCES for anyone else. */
	OP_PRIVILEGED = 1u << 0,
	/* Needs a transaction (tx_id nonzero): ENOENT without one. */
	OP_IN_TX = 1u << 1,
	/* Refused inside a transaction: EBUSY. */
	OP_NO_TX = 1u << 2,
	/*
	 * The body starts with a path: canonicalized into rq->path (EINVAL when it
	 * is not a valid path) and, inside a transaction, recorded as looked at.
	 * Without OP_DATA the NUL after it may be left out.
	 */
	OP_PATH = 1u << 3,
	/* The path is followed by data (rq->data): the path's NUL is required (EINVAL). */
	OP_DATA = 1u << 4,
};

struct op {
	/*
	 * Returns 0 once it has queued its reply, or -errno for the dispatcher to
	 * send as XS_ERROR (then it must have queued nothing for this request).
	 */
	int (*handle)(struct request *rq);
	unsigned int flags;
};

/* Reply with a body of len bytes, echoing the request's ids. */
static void reply(struct request *rq, const void *body, size_t len)
{
	xsd_conn_queue(rq->c, rq->m->type, rq->m->req_id, rq->m->tx_id, body, len);
}

/* The end of every operation that changes the tree: log it in the transaction, then reply OK. */
static int changed(struct request *rq, int rc, const char *data, size_t len)
{
	if (rc == 0 && rq->t)
		rc = xsd_tx_log(rq->t, (int)rq->m->type, rq->path, data, len);
	if (rc == 0)
		xsd_reply_ok(rq->c, rq->m);
	return rc;
}

/*
 * The domain id that starts the body, as toolstacks send it ("5", up to the
 * next NUL): a domid_t in decimal, or -EINVAL (no sign, spaces or junk; it
 * was strtoul, which read "x" as domain 0).
 */
static int body_domid(const struct request *rq, unsigned int *domid)
{
	uint64_t v;

	if (vha_parse_u64(rq->body, 0, UINT16_MAX, 0, &v) < 0)
		return -EINVAL;
	*domid = (unsigned int)v;
	return 0;
}

/* ---------------- reading ---------------- */

static int op_read(struct request *rq)
{
	int rc = 0;
	struct node *n = xsd_node_readable(rq->root, rq->path, rq->c->domid, &rc);

	if (!n)
		return rc;
	reply(rq, n->value, n->vlen);
	return 0;
}

static int op_directory(struct request *rq)
{
	char buf[XENSTORE_PAYLOAD_MAX];
	size_t off = 0;
	int rc = 0;
	struct node *n = xsd_node_readable(rq->root, rq->path, rq->c->domid, &rc);

	if (!n)
		return rc;
	for (unsigned int i = 0; i < n->nkids; i++) {
		size_t l = strlen(n->kids[i]->name) + 1;

		if (off + l > sizeof(buf))
			return -E2BIG;
		memcpy(buf + off, n->kids[i]->name, l);
		off += l;
	}
	reply(rq, buf, off);
	return 0;
}

static int op_get_perms(struct request *rq)
{
	char buf[MAX_PERMS * 8];
	size_t off = 0;
	int rc = 0;
	struct node *n = xsd_node_readable(rq->root, rq->path, rq->c->domid, &rc);

	if (!n)
		return rc;
	for (unsigned int i = 0; i < n->nperms; i++)
		off += (size_t)snprintf(buf + off, sizeof(buf) - off, "%c%u", n->perms[i].p, n->perms[i].id) + 1;
	reply(rq, buf, off);
	return 0;
}

/* ---------------- changing the tree ---------------- */

static int op_write(struct request *rq)
{
	if (rq->dlen > XENSTORE_PAYLOAD_MAX)
		return -E2BIG;
	return changed(rq, xsd_tree_write(rq->x, rq->root, rq->c->domid, rq->path, rq->data, rq->dlen, rq->live),
		       rq->data, rq->dlen);
}

static int op_mkdir(struct request *rq)
{
	return changed(rq, xsd_tree_mkdir(rq->x, rq->root, rq->c->domid, rq->path, rq->live), "", 0);
}

static int op_rm(struct request *rq)
{
	return changed(rq, xsd_tree_rm(rq->x, rq->root, rq->c->domid, rq->path, rq->live), "", 0);
}

static int op_set_perms(struct request *rq)
{
	return changed(rq,
		       xsd_tree_set_perms(rq->x, rq->root, rq->c->domid, rq->path, rq->data, rq->dlen, rq->live),
		       rq->data, rq->dlen);
}

/* ---------------- watches ---------------- */

/* "path\0token\0": the path ("@..." taken as is) into rq->path, the token into *token. */
static int parse_watch(struct request *rq, char **token)
{
	char *parts[2];

	if (xsd_body_split(rq->body, rq->m->len, parts, 2) != 2)
		return -EINVAL;
	rq->relative = false;
	if (parts[0][0] == '@')
		snprintf(rq->path, sizeof(rq->path), "%s", parts[0]);
	else if (xsd_path_canon(rq->c->domid, parts[0], rq->path, sizeof(rq->path), &rq->relative) < 0)
		return -EINVAL;
	*token = parts[1];
	return 0;
}

static int op_watch(struct request *rq)
{
	struct watch *w;
	char *token;
	int rc = parse_watch(rq, &token);

	if (rc == 0)
		rc = xsd_watch_add(rq->c, rq->path, token, rq->relative, &w);
	if (rc < 0)
		return rc;
	xsd_reply_ok(rq->c, rq->m);
	/* The initial event, as xenstored sends on every new watch. */
	xsd_watch_send_event(rq->c, w, rq->path);
	return 0;
}

static int op_unwatch(struct request *rq)
{
	char *token;
	int rc = parse_watch(rq, &token);

	if (rc == 0)
		rc = xsd_watch_remove(rq->c, rq->path, token);
	if (rc < 0)
		return rc;
	xsd_reply_ok(rq->c, rq->m);
	return 0;
}

static int op_reset_watches(struct request *rq)
{
	xsd_watches_free(rq->c);
	xsd_reply_ok(rq->c, rq->m);
	return 0;
}

/* ---------------- transactions ---------------- */

static int op_transaction_start(struct request *rq)
{
	struct tx *t;
	char id[TX_ID_MAX];
	int rc = xsd_tx_start(rq->x, rq->c, &t);

	if (rc < 0)
		return rc;
	snprintf(id, sizeof(id), "%u", t->id);
	xsd_conn_queue(rq->c, rq->m->type, rq->m->req_id, 0, id, strlen(id) + 1);
	return 0;
}

static int op_transaction_end(struct request *rq)
{
	bool commit = rq->m->len >= 1 && rq->body[0] == 'T';
	int rc = xsd_tx_end(rq->x, rq->c, rq->t, commit);

	if (rc < 0)
		return rc;
	xsd_reply_ok(rq->c, rq->m);
	return 0;
}

/* ---------------- domains ---------------- */

static int op_get_domain_path(struct request *rq)
{
	char out[DOMAIN_PATH_MAX];
	unsigned int d;

	if (body_domid(rq, &d) < 0)
		return -EINVAL;
	snprintf(out, sizeof(out), "/local/domain/%u", d);
	reply(rq, out, strlen(out) + 1);
	return 0;
}

static int op_is_domain_introduced(struct request *rq)
{
	unsigned int d;
	bool yes;

	if (body_domid(rq, &d) < 0)
		return -EINVAL;
	yes = d == 0 || xsd_domain_is_introduced(rq->x, d);
	reply(rq, yes ? "T" : "F", 2);
	return 0;
}

/* The domain id of an introduce or release: 1..VHA_DOMID_MAX (DOMID_FIRST_RESERVED and up are Xen's special ids). */
static int guest_domid(const struct request *rq, unsigned int *domid)
{
	unsigned int d;

	if (body_domid(rq, &d) < 0 || d == 0 || d > (unsigned int)VHA_DOMID_MAX)
		return -EINVAL;
	*domid = d;
	return 0;
}

static int op_introduce(struct request *rq)
{
	unsigned int d;
	int rc = guest_domid(rq, &d);

	if (rc == 0)
		rc = xsd_domain_introduce(rq->x, d);
	if (rc < 0)
		return rc;
	xsd_reply_ok(rq->c, rq->m);
	xsd_watch_fire(rq->x, "@introduceDomain", false);
	return 0;
}

static int op_release(struct request *rq)
{
	unsigned int d;
	int rc = guest_domid(rq, &d);

	if (rc == 0)
		rc = xsd_domain_release(rq->x, d);
	if (rc < 0)
		return rc;
	xsd_reply_ok(rq->c, rq->m);
	xsd_watch_fire(rq->x, "@releaseDomain", false);
	return 0;
}

/* XS_CONTROL (XS_DEBUG) carries commands for the daemon; none is implemented, each is acknowledged. */
static int op_control(struct request *rq)
{
	xsd_reply_ok(rq->c, rq->m);
	return 0;
}

/*
 * Types without an entry (XS_RESUME, XS_SET_TARGET, XS_DIRECTORY_PART, and
 * XS_WATCH_EVENT / XS_ERROR, which only the daemon sends) get ENOSYS.
 */
static const struct op ops[] = {
	[XS_CONTROL] = { op_control, 0 },
	[XS_DIRECTORY] = { op_directory, OP_PATH },
	[XS_READ] = { op_read, OP_PATH },
	[XS_GET_PERMS] = { op_get_perms, OP_PATH },
	[XS_WATCH] = { op_watch, 0 },
	[XS_UNWATCH] = { op_unwatch, 0 },
	[XS_TRANSACTION_START] = { op_transaction_start, OP_NO_TX },
	[XS_TRANSACTION_END] = { op_transaction_end, OP_IN_TX },
	[XS_INTRODUCE] = { op_introduce, OP_PRIVILEGED },
	[XS_RELEASE] = { op_release, OP_PRIVILEGED },
	[XS_GET_DOMAIN_PATH] = { op_get_domain_path, 0 },
	[XS_WRITE] = { op_write, OP_PATH | OP_DATA },
	[XS_MKDIR] = { op_mkdir, OP_PATH },
	[XS_RM] = { op_rm, OP_PATH },
	[XS_SET_PERMS] = { op_set_perms, OP_PATH | OP_DATA },
	/* Privileged in Xen's xenstored too: a driver domain gets EACCES. */
	[XS_IS_DOMAIN_INTRODUCED] = { op_is_domain_introduced, OP_PRIVILEGED },
	[XS_RESET_WATCHES] = { op_reset_watches, 0 },
};

/* OP_PATH: the leading path into rq->path, what follows into rq->data. */
static int parse_path(struct request *rq, unsigned int flags)
{
	size_t len = rq->m->len, plen = strnlen(rq->body, len);

	if (plen == len && (flags & OP_DATA))
		return -EINVAL;
	if (xsd_path_canon(rq->c->domid, rq->body, rq->path, sizeof(rq->path), &rq->relative) < 0)
		return -EINVAL;
	/* Recorded even if the operation then fails: what it saw is part of the transaction. */
	if (rq->t)
		xsd_tx_access(rq->t, rq->path);
	rq->data = rq->body + plen + 1;
	rq->dlen = len > plen ? len - plen - 1 : 0;
	return 0;
}

static int dispatch(struct request *rq)
{
	const struct xsd_sockmsg *m = rq->m;
	const struct op *op = m->type < sizeof(ops) / sizeof(ops[0]) ? &ops[m->type] : NULL;
	int rc;

	if (m->tx_id) {
		rq->t = xsd_tx_find(rq->c, m->tx_id);
		if (!rq->t)
			return -ENOENT;
		rq->root = rq->t->root;
		rq->live = false;
	}
	if (!op || !op->handle)
		return -ENOSYS;
	if ((op->flags & OP_PRIVILEGED) && rq->c->domid != 0)
		return -EACCES;
	if ((op->flags & OP_IN_TX) && !rq->t)
		return -ENOENT;
	if ((op->flags & OP_NO_TX) && rq->t)
		return -EBUSY;
	if (op->flags & OP_PATH) {
		rc = parse_path(rq, op->flags);
		if (rc < 0)
			return rc;
	}
	return op->handle(rq);
}

void xsd_dispatch(struct xsd *x, struct xsd_conn *c, const struct xsd_sockmsg *m, char *body)
{
	struct request rq = { .x = x, .c = c, .m = m, .body = body, .root = x->root, .live = true };
	int rc;

	body[m->len] = '\0';    /* the caller's buffer has room: a payload is at most XENSTORE_PAYLOAD_MAX */
	rc = dispatch(&rq);
	if (rc < 0)
		xsd_reply_error(c, m, -rc);
}
