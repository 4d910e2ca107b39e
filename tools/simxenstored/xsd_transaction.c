// SPDX-License-Identifier: MIT
/*
 * Transactions: each works on a private copy of the whole tree, records what
 * it looked at and logs what it did; commit replays the log on the live tree
 * unless something it looked at changed meanwhile (then EAGAIN, as xenstored).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xsd_internal.h"

struct tx *xsd_tx_find(struct xsd_conn *c, uint32_t id)
{
	for (struct tx *t = c->txs; t; t = t->next)
		if (t->id == id)
			return t;
	return NULL;
}

void xsd_tx_free(struct tx *t)
{
	xsd_node_free(t->root);
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
void xsd_tx_access(struct tx *t, const char *path)
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
	n = xsd_node_lookup(t->root, path);
	a[t->nacc].path = strdup(path);
	a[t->nacc].gen = n ? n->gen : 0;
	if (a[t->nacc].path)
		t->nacc++;
}

int xsd_tx_log(struct tx *t, int type, const char *path, const char *data, size_t len)
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
		struct node *n = xsd_node_lookup(x->root, t->acc[i].path);

		if ((n ? n->gen : 0) != t->acc[i].gen)
			return -EAGAIN;
	}
	for (unsigned int i = 0; i < t->nops; i++) {
		struct txop *o = &t->ops[i];

		switch (o->type) {
		case XS_WRITE: xsd_tree_write(x, x->root, c->domid, o->path, o->data, o->len, true); break;
		case XS_MKDIR: xsd_tree_mkdir(x, x->root, c->domid, o->path, true); break;
		case XS_RM: xsd_tree_rm(x, x->root, c->domid, o->path, true); break;
		case XS_SET_PERMS: xsd_tree_set_perms(x, x->root, c->domid, o->path, o->data, o->len, true); break;
		}
	}
	return 0;
}

int xsd_tx_start(struct xsd *x, struct xsd_conn *c, struct tx **out)
{
	struct tx *t;

	if (c->ntx >= MAX_TX_PER_CONN)
		return -EDQUOT;
	t = calloc(1, sizeof(*t));
	if (!t || !(t->root = xsd_node_clone(x->root, NULL))) {
		free(t);
		return -ENOMEM;
	}
	if (++x->next_tx == 0)
		x->next_tx = 1;
	t->id = x->next_tx;
	t->next = c->txs;
	c->txs = t;
	c->ntx++;
	*out = t;
	return 0;
}

int xsd_tx_end(struct xsd *x, struct xsd_conn *c, struct tx *t, bool commit)
{
	struct tx **pt;
	int rc;

	for (pt = &c->txs; *pt != t; pt = &(*pt)->next)
		;
	*pt = t->next;
	c->ntx--;
	rc = commit ? tx_commit(x, c, t) : 0;
	xsd_tx_free(t);
	return rc;
}
