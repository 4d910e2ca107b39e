/* SPDX-License-Identifier: MIT */
/*
 * The sim xenstored's insides, shared by its files and by nothing else:
 *   xsd_tree.c         the node tree, permissions, paths, and the tree operations
 *   xsd_watch.c        watches and the events they fire
 *   xsd_transaction.c  transactions: a private copy of the tree, replayed on commit
 *   xsd_wire.c         message framing in, the reply queue out
 *   xsd_ops.c          the operation table: one small handler per message type
 *   xsd.c              the server: sockets, domains, connections, the event loop
 * Everything runs on the one thread that calls xsd_run_once (or the fuzzer's);
 * nothing here locks. Functions return 0 (or a count) or -errno and never log.
 */
#ifndef VHA_XSD_INTERNAL_H
#define VHA_XSD_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <xen/io/xs_wire.h>

#include "xsd.h"

#define MAX_DOMAINS 256
#define MAX_WATCHES_PER_CONN 256
#define MAX_TX_PER_CONN 16
#define MAX_NODES_PER_DOMAIN 4096
#define MAX_OUTPUT (1u << 20)
#define MAX_PATH_LEN 3072
#define MAX_PERMS 64
/* Room for a canonical path and its NUL, with slack for a "@..." watch name (copied, truncated). */
#define PATH_BUF_LEN (MAX_PATH_LEN + 64)
/* "/local/domain/<domid>/" with its NUL. */
#define DOMAIN_PATH_MAX 48
/* A transaction id in decimal with its NUL. */
#define TX_ID_MAX 16

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

/* ---- xsd_tree.c ---- */

/* A childless node with an empty value and no permissions, or NULL (out of memory). */
struct node *xsd_node_new(const char *name, struct node *parent);
/* Free n and everything below it; NULL is fine. */
void xsd_node_free(struct node *n);
/* A deep copy of n and everything below it, or NULL (out of memory). */
struct node *xsd_node_clone(const struct node *n, struct node *parent);
/* The node at an absolute, canonical path ("/" is the root), or NULL. */
struct node *xsd_node_lookup(struct node *root, const char *path);
bool xsd_can_read(const struct node *n, unsigned int domid);
/* The node at path if `domid` may read it; else NULL with *rc = -ENOENT or -EACCES (*rc must be 0 on entry). */
struct node *xsd_node_readable(struct node *root, const char *path, unsigned int domid, int *rc);
/*
 * Canonicalize a client's path into out (absolute; a relative path is taken
 * from the domain's home /local/domain/<domid>) and say in *relative which it
 * was. Returns 0 or -EINVAL (bad characters, empty component, too long).
 */
int xsd_path_canon(unsigned int domid, const char *in, char *out, size_t outlen, bool *relative);

/*
 * The tree operations, on the live tree (`live`: counts nodes per domain and
 * fires watches) or on a transaction's copy (neither). `domid` is the caller,
 * checked against each node's permissions. Return 0 or -errno.
 */
int xsd_tree_write(struct xsd *x, struct node *root, unsigned int domid, const char *path, const char *val,
		   size_t len, bool live);
int xsd_tree_mkdir(struct xsd *x, struct node *root, unsigned int domid, const char *path, bool live);
int xsd_tree_rm(struct xsd *x, struct node *root, unsigned int domid, const char *path, bool live);
/* data: the permissions as on the wire, "w0\0r1\0..." (owner first), len bytes. */
int xsd_tree_set_perms(struct xsd *x, struct node *root, unsigned int domid, const char *path, const char *data,
		       size_t len, bool live);

/* ---- xsd_watch.c ---- */

/*
 * Add a watch on path (canonical, or "@...") with token to c: 0 with *out, or
 * -EEXIST (same path and token), -E2BIG (quota), -ENOMEM. The caller replies,
 * then queues the initial event (xsd_watch_send_event), in that order.
 */
int xsd_watch_add(struct xsd_conn *c, const char *path, const char *token, bool relative, struct watch **out);
/* Remove c's watch on path with token: 0 or -ENOENT. */
int xsd_watch_remove(struct xsd_conn *c, const char *path, const char *token);
/* Queue w's event for path on c (shown relative if the watch was set relative). */
void xsd_watch_send_event(struct xsd_conn *c, struct watch *w, const char *path);
/* A node changed (or was removed, with `removed`): tell every watcher allowed to see it. */
void xsd_watch_fire(struct xsd *x, const char *path, bool removed);
/* Drop all of c's watches. */
void xsd_watches_free(struct xsd_conn *c);

/* ---- xsd_transaction.c ---- */

/* c's open transaction with this id, or NULL. */
struct tx *xsd_tx_find(struct xsd_conn *c, uint32_t id);
/* Open a transaction on c: 0 with *out, or -EDQUOT (too many open), -ENOMEM. */
int xsd_tx_start(struct xsd *x, struct xsd_conn *c, struct tx **out);
/*
 * Close t (one of c's) and free it; with `commit`, first apply what it did to
 * the live tree unless something it looked at changed since it began (-EAGAIN).
 */
int xsd_tx_end(struct xsd *x, struct xsd_conn *c, struct tx *t, bool commit);
/* Remember the state (as of the transaction's start) of a path t touches. Best effort. */
void xsd_tx_access(struct tx *t, const char *path);
/* Log an operation done in t's copy, to replay on commit: 0 or -ENOMEM. */
int xsd_tx_log(struct tx *t, int type, const char *path, const char *data, size_t len);
/* Free t and what it owns (it must be unlinked from its connection already). */
void xsd_tx_free(struct tx *t);

/* ---- xsd_wire.c ---- */

/*
 * Queue one message for c. A connection whose queue would pass MAX_OUTPUT (a
 * client that does not read) or that cannot grow it is marked dead instead.
 */
void xsd_conn_queue(struct xsd_conn *c, uint32_t type, uint32_t req_id, uint32_t tx_id, const void *body,
		    size_t len);
/* Reply to m with XS_ERROR naming err (a positive errno; "EINVAL" for one the wire has no name for). */
void xsd_reply_error(struct xsd_conn *c, const struct xsd_sockmsg *m, int err);
/* Reply to m with "OK". */
void xsd_reply_ok(struct xsd_conn *c, const struct xsd_sockmsg *m);
/* Split a payload into NUL-terminated strings; returns how many (up to max). body[len] must be NUL. */
unsigned int xsd_body_split(char *body, size_t len, char **parts, unsigned int max);

/* ---- xsd_ops.c ---- */

/*
 * Handle one complete message m from c. body holds m->len bytes and has room
 * for one more (a NUL is put there). Every request gets exactly one reply
 * queued on c, and may queue watch events on any connection.
 */
void xsd_dispatch(struct xsd *x, struct xsd_conn *c, const struct xsd_sockmsg *m, char *body);

/* ---- xsd.c ---- */

/* Whether dom0 has introduced domid (dom0 itself is never on that list). */
bool xsd_domain_is_introduced(struct xsd *x, unsigned int domid);
/* Listen for domain domid (1..0x7fef) if not already: 0, -ENOSPC (too many domains), or the socket's -errno. */
int xsd_domain_introduce(struct xsd *x, unsigned int domid);
/* Stop listening for domid and drop its connections: 0 or -ENOENT (not introduced). */
int xsd_domain_release(struct xsd *x, unsigned int domid);

#endif
