// SPDX-License-Identifier: MIT
/*
 * xenbus: state names, the tables of allowed state changes for each side
 * (docs/protocol.md explains every cell), and small helpers over
 * libxenstore that convert its -1/errno convention to -errno once.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vha/xenbus.h"

#include <xen/io/xs_wire.h>

#define STATE_MAX XenbusStateReconfigured

static const char *const state_names[] = {
	[XenbusStateUnknown] = "Unknown",
	[XenbusStateInitialising] = "Initialising",
	[XenbusStateInitWait] = "InitWait",
	[XenbusStateInitialised] = "Initialised",
	[XenbusStateConnected] = "Connected",
	[XenbusStateClosing] = "Closing",
	[XenbusStateClosed] = "Closed",
	[XenbusStateReconfiguring] = "Reconfiguring",
	[XenbusStateReconfigured] = "Reconfigured",
};

const char *vha_xenbus_state_name(int state)
{
	if (state < 0 || state > STATE_MAX)
		return "invalid";
	return state_names[state];
}

#define S(x) (1u << XenbusState##x)

/*
 * handshake[side][from]: the states `side` may move to from `from`, besides
 * the rules every state shares (see vha_xenbus_transition_allowed).
 */
static const unsigned int handshake[2][STATE_MAX + 1] = {
	[VHA_XENBUS_FRONTEND] = {
		/* Rings set up and ring-ref/event-channel published. */
		[XenbusStateInitialising] = S(Initialised),
		/* Backend Connected: read the disk geometry and go live. */
		[XenbusStateInitialised] = S(Connected),
		/*
		 * Reconnect after a close: back to Initialising, or straight to
		 * Initialised when the backend already waits in InitWait (what
		 * Linux blkfront does).
		 */
		[XenbusStateClosed] = S(Initialising) | S(Initialised),
		/*
		 * Reconfiguration (PV SCSI LUN hotplug): the backend went
		 * Reconfiguring, the frontend follows; when the backend is
		 * Reconfigured the frontend returns to Connected (Linux
		 * scsifront goes straight back; passing Reconfigured is allowed).
		 */
		[XenbusStateConnected] = S(Reconfiguring),
		[XenbusStateReconfiguring] = S(Reconfigured) | S(Connected),
		[XenbusStateReconfigured] = S(Connected),
	},
	[VHA_XENBUS_BACKEND] = {
		/*
		 * Features published, waiting for the frontend. The spec also lets
		 * a backend without negotiation skip InitWait (Initialised).
		 */
		[XenbusStateInitialising] = S(InitWait) | S(Initialised),
		/* Frontend Initialised (or Connected): rings mapped, geometry written. */
		[XenbusStateInitWait] = S(Connected),
		[XenbusStateInitialised] = S(Connected),
		/* The frontend returned to Initialising: offer the features again. */
		[XenbusStateClosed] = S(InitWait),
		/*
		 * Reconfiguration (PV SCSI LUN hotplug): the toolstack moves a
		 * Connected backend to Reconfiguring, the backend applies the
		 * change and reports Reconfigured, then Connected again once the
		 * frontend is back to Connected.
		 */
		[XenbusStateConnected] = S(Reconfiguring),
		[XenbusStateReconfiguring] = S(Reconfigured),
		[XenbusStateReconfigured] = S(Connected),
	},
};

bool vha_xenbus_transition_allowed(enum vha_xenbus_side side, int from, int to)
{
	if (side != VHA_XENBUS_FRONTEND && side != VHA_XENBUS_BACKEND)
		return false;
	if (from < 0 || from > STATE_MAX || to < 0 || to > STATE_MAX)
		return false;
	/* Tearing down is always possible, whatever went wrong before. */
	if (to == XenbusStateClosing || to == XenbusStateClosed)
		return true;
	/* Nobody writes Unknown. */
	if (to == XenbusStateUnknown)
		return false;
	/*
	 * Writing the current state again is a no-op for the handshake; a
	 * backend rewrites Connected to announce a resized disk.
	 */
	if (from == to)
		return true;
	return (handshake[side][from] & (1u << to)) != 0;
}

/* ------------------------- xenstore helpers ------------------------- */

/* The one place libxenstore's errno becomes our return value. */
static int xs_error(void)
{
	int e = errno;

	return e > 0 ? -e : -EIO;
}

/* "<dir>/<node>" (or dir alone) into buf; -ENAMETOOLONG if it cannot be a path. */
static int make_path(char *buf, size_t size, const char *dir, const char *node)
{
	int n;

	if (dir == NULL)
		return -EINVAL;
	if (node != NULL)
		n = snprintf(buf, size, "%s/%s", dir, node);
	else
		n = snprintf(buf, size, "%s", dir);
	if (n < 0 || (size_t)n >= size)
		return -ENAMETOOLONG;
	return 0;
}

/* Decimal digits only: no sign, no spaces, no empty string, no wrap. */
static int parse_u64(const char *s, unsigned int len, uint64_t *out)
{
	unsigned long long v;
	char *end;
	unsigned int i;

	if (len == 0)
		return -EINVAL;
	for (i = 0; i < len; i++)
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno == ERANGE || end != s + len)
		return -EINVAL;
	*out = v;
	return 0;
}

/* Read a node; -ENOENT when missing. *len excludes the terminating NUL. */
static int read_node(struct xs_handle *xs, xs_transaction_t t, const char *dir, const char *node, char **val,
		     unsigned int *len)
{
	char path[XENSTORE_ABS_PATH_MAX + 1];
	int rc;

	rc = make_path(path, sizeof(path), dir, node);
	if (rc < 0)
		return rc;
	*val = xs_read(xs, t, path, len);
	if (*val == NULL)
		return xs_error();
	return 0;
}

int vha_xs_read_uint(struct xs_handle *xs, xs_transaction_t t, const char *dir, const char *node,
		     uint64_t def, uint64_t *out)
{
	char *val = NULL;
	unsigned int len;
	uint64_t v;
	int rc;

	rc = read_node(xs, t, dir, node, &val, &len);
	if (rc == -ENOENT) {
		*out = def;
		rc = 0;
		goto out;
	}
	if (rc < 0)
		goto out;
	rc = parse_u64(val, len, &v);
	if (rc == 0)
		*out = v;
out:
	free(val);
	return rc;
}

int vha_xs_read_str(struct xs_handle *xs, xs_transaction_t t, const char *dir, const char *node, char **out)
{
	char *val = NULL;
	unsigned int len;
	int rc;

	rc = read_node(xs, t, dir, node, &val, &len);
	if (rc < 0)
		return rc;
	/* libxenstore NUL-terminates what it returns; the caller frees it. */
	*out = val;
	return 0;
}

int vha_xenbus_read_state(struct xs_handle *xs, xs_transaction_t t, const char *dir)
{
	char *val = NULL;
	unsigned int len;
	uint64_t v;
	int rc;

	rc = read_node(xs, t, dir, "state", &val, &len);
	if (rc < 0)
		goto out;
	rc = parse_u64(val, len, &v);
	if (rc < 0)
		goto out;
	rc = v <= STATE_MAX ? (int)v : -EINVAL;
out:
	free(val);
	return rc;
}

static int vxs_printf(struct xs_handle *xs, xs_transaction_t t, const char *dir, const char *node,
		      const char *fmt, va_list ap)
{
	char path[XENSTORE_ABS_PATH_MAX + 1];
	char *val = NULL;
	int rc, n;

	rc = make_path(path, sizeof(path), dir, node);
	if (rc < 0)
		return rc;
	n = vasprintf(&val, fmt, ap);
	if (n < 0)
		return -ENOMEM;
	if (!xs_write(xs, t, path, val, (unsigned int)n))
		rc = xs_error();
	free(val);
	return rc;
}

int vha_xs_printf(struct xs_handle *xs, xs_transaction_t t, const char *dir, const char *node, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = vxs_printf(xs, t, dir, node, fmt, ap);
	va_end(ap);
	return rc;
}

int vha_xs_write_uint(struct xs_handle *xs, xs_transaction_t t, const char *dir, const char *node, uint64_t v)
{
	return vha_xs_printf(xs, t, dir, node, "%llu", (unsigned long long)v);
}

int vha_xenbus_write_state(struct xs_handle *xs, xs_transaction_t t, const char *dir, int state)
{
	if (state < 0 || state > STATE_MAX)
		return -EINVAL;
	return vha_xs_printf(xs, t, dir, "state", "%d", state);
}

int vha_xs_rm(struct xs_handle *xs, xs_transaction_t t, const char *dir, const char *node)
{
	char path[XENSTORE_ABS_PATH_MAX + 1];
	int rc;

	rc = make_path(path, sizeof(path), dir, node);
	if (rc < 0)
		return rc;
	if (!xs_rm(xs, t, path)) {
		rc = xs_error();
		if (rc == -ENOENT)
			rc = 0;
	}
	return rc;
}

/* ----------------------- driving the state machine ----------------------- */

int vha_xenbus_switch_state(struct xs_handle *xs, xs_transaction_t t, const char *dir, enum vha_xenbus_side side,
			    int from, int to)
{
	if (from == VHA_XENBUS_STATE_FROM_NODE) {
		from = vha_xenbus_read_state(xs, t, dir);
		if (from < 0)
			return from;
	}
	if (!vha_xenbus_transition_allowed(side, from, to))
		return -EPERM;
	return vha_xenbus_write_state(xs, t, dir, to);
}

size_t vha_xenbus_sanitise(char *dst, size_t size, const char *src)
{
	size_t n = 0;

	if (size == 0)
		return 0;
	/*
	 * The text may quote guest-written nodes: keep printable ASCII only so
	 * nothing that reads the error node (logs, terminals, xenstore-ls) is
	 * handed control characters, newlines or a broken multibyte sequence.
	 */
	for (; src != NULL && src[n] != '\0' && n + 1 < size; n++) {
		unsigned char c = (unsigned char)src[n];

		dst[n] = c >= 0x20 && c < 0x7f ? (char)c : '?';
	}
	dst[n] = '\0';
	return n;
}

int vha_xenbus_fail(struct xs_handle *xs, xs_transaction_t t, const char *dir, enum vha_xenbus_side side,
		    const char *msg)
{
	char clean[VHA_XENBUS_ERROR_MAX + 1];
	size_t len;
	int from, rc;

	if (side != VHA_XENBUS_FRONTEND && side != VHA_XENBUS_BACKEND)
		return -EINVAL;
	len = vha_xenbus_sanitise(clean, sizeof(clean), msg);
	/* The error first: a peer that sees Closing can already read why. */
	rc = vha_xs_printf(xs, t, dir, "error", "%.*s", (int)len, clean);
	if (rc < 0)
		return rc;
	/*
	 * Closing is allowed from every state, including one the node holds
	 * but that is no state at all (which may be why we are failing).
	 */
	from = vha_xenbus_read_state(xs, t, dir);
	if (from < 0)
		from = XenbusStateUnknown;
	return vha_xenbus_switch_state(xs, t, dir, side, from, XenbusStateClosing);
}
