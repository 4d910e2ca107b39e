/* SPDX-License-Identifier: MIT */
/*
 * xenbus: state names, the table of allowed transitions, and helpers to read
 * and write feature nodes. Used by both ends. All helpers take a directory
 * ("backend/vbd/1/51712") and a node name; t may be XBT_NULL.
 * Return 0 or -errno; never log.
 */
#ifndef VHA_XENBUS_H
#define VHA_XENBUS_H

#include <stdbool.h>
#include <stdint.h>
#include <xenstore.h>
#include <xen/io/xenbus.h>

/* "Initialising", "InitWait", ...; "Unknown(<n>)" style names are not returned: "invalid". */
const char *vha_xenbus_state_name(int state);

/* Which side a transition is checked for. */
enum vha_xenbus_side { VHA_XENBUS_FRONTEND, VHA_XENBUS_BACKEND };

/*
 * The transition table: may `side` move its own state from `from` to `to`?
 * (e.g. backend InitWait -> Connected is allowed only via the handshake the
 * table encodes; anything -> Closing/Closed is always allowed.)
 */
bool vha_xenbus_transition_allowed(enum vha_xenbus_side side, int from, int to);

/* Read "<dir>/state": the state, -ENOENT if missing, -EINVAL if not a state. */
int vha_xenbus_read_state(struct xs_handle *xs, xs_transaction_t t, const char *dir);
int vha_xenbus_write_state(struct xs_handle *xs, xs_transaction_t t, const char *dir, int state);

/*
 * Read an unsigned integer node. Missing node: *out = def and return 0.
 * Present but not a number (or overflowing): -EINVAL.
 */
int vha_xs_read_uint(struct xs_handle *xs, xs_transaction_t t, const char *dir, const char *node,
		     uint64_t def, uint64_t *out);
/* Read a string node into a malloc'd copy (caller frees). Missing: -ENOENT. */
int vha_xs_read_str(struct xs_handle *xs, xs_transaction_t t, const char *dir, const char *node, char **out);
/* Write a formatted value to <dir>/<node> (node may be NULL: write dir itself). */
int vha_xs_printf(struct xs_handle *xs, xs_transaction_t t, const char *dir, const char *node, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
int vha_xs_write_uint(struct xs_handle *xs, xs_transaction_t t, const char *dir, const char *node, uint64_t v);
/* Remove <dir>/<node>; a missing node is not an error. */
int vha_xs_rm(struct xs_handle *xs, xs_transaction_t t, const char *dir, const char *node);

#endif
