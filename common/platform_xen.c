// SPDX-License-Identifier: MIT
/*
 * The xen platform: libxengnttab, libxengntshr, libxenevtchn and libxenstore
 * on a real hypervisor. libxen's "-1 and errno" is turned into -errno here
 * and nowhere else.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <xenctrl.h>
#include <xenevtchn.h>
#include <xengnttab.h>
#include <xenstore.h>
#include <xentoollog.h>

#include "platform_impl.h"
#include "vha/cli.h"
#include "vha/log.h"

/*
 * libxen's default logger prints to stderr, and a guest can make a map fail
 * at will: route its messages to our log at debug level instead.
 */
/* One libxentoollog message, as passed on to our log (longer ones are cut). */
#define XTL_MESSAGE_MAX 256

static void xtl_vmessage(struct xentoollog_logger *logger, xentoollog_level level, int errnoval,
			 const char *context, const char *format, va_list al)
{
	char msg[XTL_MESSAGE_MAX];

	(void)logger;
	(void)level;
	(void)errnoval;
	vsnprintf(msg, sizeof(msg), format, al);
	vha_debug("%s: %s", context ? context : "libxen", msg);
}

static void xtl_destroy(struct xentoollog_logger *logger)
{
	(void)logger;
}

static struct xentoollog_logger quiet_logger = { .vmessage = xtl_vmessage, .destroy = xtl_destroy };

static int neg_errno(void)
{
	return errno ? -errno : -EIO;
}

static int xen_open(struct vha_platform *p, const struct vha_platform_config *cfg)
{
	static const char *const needed[] = { "/dev/xen/gntdev", "/dev/xen/evtchn" };
	struct xs_handle *xs;
	char *val;
	unsigned int len;

	(void)cfg;
	for (size_t i = 0; i < sizeof(needed) / sizeof(needed[0]); i++) {
		if (access(needed[i], R_OK | W_OK) != 0) {
			int err = errno;

			if (err == ENOENT)
				vha_platform_set_error("no %s: not running on Xen; use the sim platform "
						       "(--platform=sim or VHA_PLATFORM=sim)", needed[i]);
			else
				vha_platform_set_error("%s: %s", needed[i], strerror(err));
			return -err;
		}
	}
	/* Our own domain id: "domid" relative to our xenstore home; dom0 if absent. */
	p->domid = 0;
	xs = xs_open(0);
	if (!xs) {
		int err = errno;

		vha_platform_set_error("cannot connect to xenstore: %s", strerror(err));
		return -err;
	}
	val = xs_read(xs, XBT_NULL, "domid", &len);
	if (val) {
		uint64_t domid;

		/* It was strtoul: a node holding garbage made us domain 0. */
		if (vha_parse_u64(val, 0, VHA_DOMID_MAX, 0, &domid) < 0) {
			vha_platform_set_error("xenstore's domid node holds '%.32s', not a domain id", val);
			free(val);
			xs_close(xs);
			return -EINVAL;
		}
		p->domid = (vha_domid_t)domid;
		free(val);
	}
	xs_close(xs);
	return 0;
}

static void xen_close(struct vha_platform *p)
{
	(void)p;
}

static struct xs_handle *xen_xs_open(struct vha_platform *p)
{
	(void)p;
	return xs_open(0);
}

static int xen_gnttab_open(struct vha_platform *p, void **priv)
{
	xengnttab_handle *h = xengnttab_open(&quiet_logger, 0);

	(void)p;
	if (!h)
		return neg_errno();
	/* Enough for many devices of 16-page rings with 256-segment requests in flight. */
	xengnttab_set_max_grants(h, 65536);
	*priv = h;
	return 0;
}

static void xen_gnttab_close(void *priv)
{
	xengnttab_close(priv);
}

static int xen_gnttab_map(void *priv, vha_domid_t domid, uint32_t count, const vha_grant_ref_t *refs,
			  bool writable, void **addr_out)
{
	void *addr = xengnttab_map_domain_grant_refs(priv, count, domid, (uint32_t *)refs,
						     writable ? PROT_READ | PROT_WRITE : PROT_READ);

	if (!addr)
		return neg_errno();
	*addr_out = addr;
	return 0;
}

static int xen_gnttab_unmap(void *priv, void *addr, uint32_t count)
{
	return xengnttab_unmap(priv, addr, count) == 0 ? 0 : neg_errno();
}

/* Xen's GNTST_* codes as errnos. */
static int16_t gntst_to_errno(int16_t st)
{
	switch (st) {
	case GNTST_okay:
		return 0;
	case GNTST_bad_domain:
		return -ESRCH;
	case GNTST_bad_gntref:
	case GNTST_bad_virt_addr:
	case GNTST_bad_copy_arg:
		return -EINVAL;
	case GNTST_permission_denied:
		return -EACCES;
	default:
		return -EIO;
	}
}

static int xen_gnttab_copy(void *priv, struct vha_grant_copy_seg *segs, uint32_t count)
{
	xengnttab_grant_copy_segment_t *xs = calloc(count ? count : 1, sizeof(*xs));
	int rc = 0;

	if (!xs)
		return -ENOMEM;
	for (uint32_t i = 0; i < count; i++) {
		const struct vha_grant_copy_seg *s = &segs[i];

		if (s->src.foreign) {
			xs[i].source.foreign.ref = s->src.ref;
			xs[i].source.foreign.offset = s->src.offset;
			xs[i].source.foreign.domid = (uint16_t)s->src.domid;
			xs[i].flags |= GNTCOPY_source_gref;
		} else {
			xs[i].source.virt = s->src.virt;
		}
		if (s->dst.foreign) {
			xs[i].dest.foreign.ref = s->dst.ref;
			xs[i].dest.foreign.offset = s->dst.offset;
			xs[i].dest.foreign.domid = (uint16_t)s->dst.domid;
			xs[i].flags |= GNTCOPY_dest_gref;
		} else {
			xs[i].dest.virt = s->dst.virt;
		}
		xs[i].len = s->len;
	}
	if (xengnttab_grant_copy(priv, count, xs) != 0) {
		rc = neg_errno();
		goto out;
	}
	for (uint32_t i = 0; i < count; i++)
		segs[i].status = gntst_to_errno(xs[i].status);
out:
	free(xs);
	return rc;
}

static int xen_gntshr_open(struct vha_platform *p, void **priv)
{
	xengntshr_handle *h = xengntshr_open(&quiet_logger, 0);

	(void)p;
	if (!h)
		return neg_errno();
	*priv = h;
	return 0;
}

static void xen_gntshr_close(void *priv)
{
	xengntshr_close(priv);
}

static void *xen_gntshr_share(void *priv, vha_domid_t domid, uint32_t count, vha_grant_ref_t *refs,
			      bool writable)
{
	/* gntalloc hands out fresh zeroed pages: nothing else of ours is on them (XSA-403). */
	return xengntshr_share_pages(priv, domid, (int)count, refs, writable);
}

static int xen_gntshr_unshare(void *priv, void *addr, uint32_t count)
{
	/* gntalloc defers freeing a page the peer still maps (XSA-396). */
	return xengntshr_unshare(priv, addr, count) == 0 ? 0 : neg_errno();
}

static int xen_evtchn_open(struct vha_platform *p, void **priv)
{
	xenevtchn_handle *h = xenevtchn_open(&quiet_logger, 0);
	int fd, fl;

	(void)p;
	if (!h)
		return neg_errno();
	/* pending() must never block: the callers poll the fd first. */
	fd = xenevtchn_fd(h);
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
		int rc = neg_errno();

		xenevtchn_close(h);
		return rc;
	}
	*priv = h;
	return 0;
}

static void xen_evtchn_close(void *priv)
{
	xenevtchn_close(priv);
}

static int xen_evtchn_fd(void *priv)
{
	return xenevtchn_fd(priv);
}

static int xen_evtchn_bind_unbound(void *priv, vha_domid_t remote)
{
	xenevtchn_port_or_error_t port = xenevtchn_bind_unbound_port(priv, remote);

	return port < 0 ? neg_errno() : port;
}

static int xen_evtchn_bind_interdomain(void *priv, vha_domid_t remote, vha_evtchn_port_t remote_port)
{
	xenevtchn_port_or_error_t port = xenevtchn_bind_interdomain(priv, remote, remote_port);

	return port < 0 ? neg_errno() : port;
}

static int xen_evtchn_unbind(void *priv, vha_evtchn_port_t port)
{
	return xenevtchn_unbind(priv, port) == 0 ? 0 : neg_errno();
}

static int xen_evtchn_notify(void *priv, vha_evtchn_port_t port)
{
	return xenevtchn_notify(priv, port) == 0 ? 0 : neg_errno();
}

static int xen_evtchn_pending(void *priv)
{
	xenevtchn_port_or_error_t port = xenevtchn_pending(priv);

	if (port < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK ? -EAGAIN : neg_errno();
	return port;
}

static int xen_evtchn_unmask(void *priv, vha_evtchn_port_t port)
{
	return xenevtchn_unmask(priv, port) == 0 ? 0 : neg_errno();
}

const struct vha_platform_ops vha_platform_xen_ops = {
	.name = "xen",
	.open = xen_open,
	.close = xen_close,
	.xs_open = xen_xs_open,
	.gnttab_open = xen_gnttab_open,
	.gnttab_close = xen_gnttab_close,
	.gnttab_map = xen_gnttab_map,
	.gnttab_unmap = xen_gnttab_unmap,
	.gnttab_copy = xen_gnttab_copy,
	.gntshr_open = xen_gntshr_open,
	.gntshr_close = xen_gntshr_close,
	.gntshr_share = xen_gntshr_share,
	.gntshr_unshare = xen_gntshr_unshare,
	.evtchn_open = xen_evtchn_open,
	.evtchn_close = xen_evtchn_close,
	.evtchn_fd = xen_evtchn_fd,
	.evtchn_bind_unbound = xen_evtchn_bind_unbound,
	.evtchn_bind_interdomain = xen_evtchn_bind_interdomain,
	.evtchn_unbind = xen_evtchn_unbind,
	.evtchn_notify = xen_evtchn_notify,
	.evtchn_pending = xen_evtchn_pending,
	.evtchn_unmask = xen_evtchn_unmask,
};
