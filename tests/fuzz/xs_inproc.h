/* SPDX-License-Identifier: MIT */
/*
 * libxenstore's client calls (the xs_* functions of <xenstore.h> that vha
 * uses) served by a sim xenstored in the same process, for fuzz targets
 * that drive the backend's handshake: every call is encoded as a real wire
 * message, handed to the server with xsd_conn_input and answered before it
 * returns. No socket, no thread, no reader: thousands of handshakes a
 * second, deterministically.
 *
 * A binary that links this must not link libxenstore (these definitions
 * replace it). Single-threaded: only the thread that calls backend_process
 * may use a handle, which is also the backend's rule.
 */
#ifndef VHA_FUZZ_XS_INPROC_H
#define VHA_FUZZ_XS_INPROC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <xenstore.h>

struct xsd;

/*
 * The server xs_open() connects to, and the domain its connections are
 * (xs_open: dom0). Set before xs_open; handles must be closed before the
 * server is destroyed (it frees their connections).
 */
void xsi_set_server(struct xsd *x);
/* A handle connected as `domid` (xs_open is xsi_open(0)); NULL with errno. */
struct xs_handle *xsi_open(unsigned int domid);

/*
 * Send one request of `type` (XS_INTRODUCE, XS_SET_PERMS...) with `len`
 * bytes of payload in transaction t. Returns the reply's payload,
 * NUL-terminated, malloc'd (the caller frees), with its length in *rlen if
 * not NULL; NULL with errno set from an XS_ERROR reply (or EIO: the server
 * dropped the connection; E2BIG: payload too long).
 */
char *xsi_request(struct xs_handle *h, xs_transaction_t t, uint32_t type, const void *payload, size_t len,
		  size_t *rlen);

/*
 * Called with every write, mkdir or rm a handle sends, before it goes out
 * (the fuzzer checks what the backend writes against the xenbus table).
 * type is XS_WRITE, XS_MKDIR or XS_RM; data/len are the written value.
 */
typedef void xsi_write_hook(struct xs_handle *h, xs_transaction_t t, uint32_t type, const char *path,
			    const void *data, size_t len);
void xsi_set_write_hook(xsi_write_hook *fn);

/*
 * The value of the absolute path `path` as transaction t of h sees it (t 0:
 * the live tree), read straight from the server's tree: unlike xs_read it
 * neither checks permissions nor records the access in the transaction.
 * Returns a pointer into the tree (valid until the next request) with its
 * length in *len, or NULL if there is no such node.
 */
const char *xsi_peek(struct xs_handle *h, xs_transaction_t t, const char *path, size_t *len);

/* Watch events queued on h and not yet taken by xs_check_watch. */
unsigned int xsi_pending_events(struct xs_handle *h);

#endif
