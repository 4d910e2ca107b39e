/* SPDX-License-Identifier: MIT */
/*
 * The simulated xenstored: a tree of nodes with Xen's permissions, watches,
 * and transactions, served over the real xenstore wire protocol on one unix
 * socket per domain (DIR/socket for dom0, DIR/domain-<N>.sock for an
 * introduced domain N). See docs/sim-xenstored.md.
 */
#ifndef VHA_XSD_H
#define VHA_XSD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct xsd;

/* Create the server listening in `dir` (created if missing). Logs errors. */
int xsd_create(const char *dir, struct xsd **out);
/* The epoll fd to wait on; call xsd_run_once when it is readable. */
int xsd_fd(struct xsd *x);
/* Serve whatever is ready, waiting at most timeout_ms. */
int xsd_run_once(struct xsd *x, int timeout_ms);
/* Close every connection, remove the sockets, free everything. */
void xsd_destroy(struct xsd *x);

/*
 * Handle one complete message from a connection of domain `domid` (pure
 * request/response part, exposed for the fuzzer): `msg` is header+payload.
 * Replies and watch events are queued on the connection.
 */
struct xsd_conn;
struct xsd_conn *xsd_conn_new_detached(struct xsd *x, unsigned int domid);
int xsd_conn_input(struct xsd *x, struct xsd_conn *c, const void *buf, size_t len);
void xsd_conn_free_detached(struct xsd *x, struct xsd_conn *c);
/* Create a server with no sockets (fuzzing, tests). */
int xsd_create_detached(struct xsd **out);

#endif
