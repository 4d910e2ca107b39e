/* SPDX-License-Identifier: MIT */
/*
 * xenbus: state names, the table of allowed transitions, and helpers to read
 * and write feature nodes. Used by both ends. All helpers take a directory
 * ("backend/vbd/1/51712") and a node name; t may be XBT_NULL.
 * Return 0 or -errno; never log. Pure table queries take no handle.
 */
#ifndef VHA_XENBUS_H
#define VHA_XENBUS_H

#include <stdbool.h>
#include <stddef.h>
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
 * table encodes; anything -> Closing/Closed is always allowed; Connected ->
 * Reconfiguring -> Reconfigured -> Connected is the PV SCSI LUN hotplug
 * cycle for both sides, and a frontend may also go Reconfiguring ->
 * Connected directly, as Linux scsifront does.) Pure: never logs.
 * docs/protocol.md section 5 gives the reason for every cell.
 */
bool vha_xenbus_transition_allowed(enum vha_xenbus_side side, int from, int to);

/* Read "<dir>/state": the state, -ENOENT if missing, -EINVAL if not a state. */
int vha_xenbus_read_state(struct xs_handle *xs, xs_transaction_t t, const char *dir);
int vha_xenbus_write_state(struct xs_handle *xs, xs_transaction_t t, const char *dir, int state);

/*
 * Drive a transition with the table: write `to` into "<dir>/state" only when
 * vha_xenbus_transition_allowed(side, from, to) says so. `from` is the state
 * the caller believes it is in, or VHA_XENBUS_STATE_FROM_NODE to read it from
 * "<dir>/state" in t first (then a missing node is -ENOENT and one that holds
 * no state -EINVAL, as vha_xenbus_read_state returns).
 * Returns 0; -EPERM when the table refuses (nothing written); -errno from
 * xenstore. Never logs: the caller decides whether a refusal is worth a line.
 */
#define VHA_XENBUS_STATE_FROM_NODE (-1)
int vha_xenbus_switch_state(struct xs_handle *xs, xs_transaction_t t, const char *dir, enum vha_xenbus_side side,
			    int from, int to);

/* Longest text vha_xenbus_fail writes into an error node (bytes, without NUL). */
#define VHA_XENBUS_ERROR_MAX 255

/*
 * Copy src into dst (size bytes, always NUL-terminated when size > 0) with
 * every byte outside printable ASCII (0x20..0x7e) replaced by '?', cut at
 * size - 1 bytes. src NULL is the empty string. Returns the length written.
 */
size_t vha_xenbus_sanitise(char *dst, size_t size, const char *src);

/*
 * The answer to an unexpected state (STYLE.md rule 7): write msg, sanitised
 * and cut to VHA_XENBUS_ERROR_MAX bytes (it may quote guest-written text),
 * into "<dir>/error", then move "<dir>/state" to Closing through the table
 * (allowed from any state, and from a state node that holds garbage). Both
 * writes happen in t (XBT_NULL: one after the other, error first, so a peer
 * that sees Closing can read why).
 * Returns 0 or -errno (-EINVAL for a bad side). Never logs.
 */
int vha_xenbus_fail(struct xs_handle *xs, xs_transaction_t t, const char *dir, enum vha_xenbus_side side,
		    const char *msg);

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
