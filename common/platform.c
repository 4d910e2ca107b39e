// SPDX-License-Identifier: MIT
/*
 * Platform dispatcher: picks the implementation (xen or sim), checks the
 * arguments both share, and forwards to the ops table.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "platform_impl.h"
#include "vha/log.h"

/* The last error of vha_platform_open in this thread, as vha_platform_strerror returns it. */
#define PLATFORM_ERROR_MAX 512
static __thread char platform_error[PLATFORM_ERROR_MAX];

void vha_platform_set_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(platform_error, sizeof(platform_error), fmt, ap);
	va_end(ap);
}

const char *vha_platform_strerror(void)
{
	return platform_error[0] ? platform_error : "no error";
}

static const struct vha_platform_ops *find_ops(const char *kind)
{
	if (strcmp(kind, "xen") == 0)
		return &vha_platform_xen_ops;
	if (strcmp(kind, "sim") == 0)
		return &vha_platform_sim_ops;
	return NULL;
}

int vha_platform_open(const struct vha_platform_config *cfg, struct vha_platform **out)
{
	struct vha_platform_config dflt = { .sim_domid = -1 };
	struct vha_platform *p = NULL;
	const char *kind;
	int rc;

	*out = NULL;
	platform_error[0] = '\0';
	if (!cfg)
		cfg = &dflt;
	kind = cfg->kind;
	if (!kind || !*kind)
		kind = getenv("VHA_PLATFORM");
	if (!kind || !*kind)
		kind = "xen";

	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->ops = find_ops(kind);
	if (!p->ops) {
		vha_platform_set_error("unknown platform '%s' (valid: xen, sim)", kind);
		rc = -EINVAL;
		goto out;
	}
	rc = p->ops->open(p, cfg);
	if (rc < 0)
		goto out;
	*out = p;
	return 0;
out:
	vha_err("cannot open platform %s: %s", kind, vha_platform_strerror());
	free(p);
	return rc;
}

void vha_platform_close(struct vha_platform *p)
{
	if (!p)
		return;
	p->ops->close(p);
	free(p);
}

const char *vha_platform_kind(const struct vha_platform *p)
{
	return p->ops->name;
}

vha_domid_t vha_platform_domid(const struct vha_platform *p)
{
	return p->domid;
}

struct xs_handle *vha_platform_xs_open(struct vha_platform *p)
{
	return p->ops->xs_open(p);
}

/* ---- grant mapping ---- */

int vha_gnttab_open(struct vha_platform *p, struct vha_gnttab **out)
{
	struct vha_gnttab *g = calloc(1, sizeof(*g));
	int rc;

	*out = NULL;
	if (!g)
		return -ENOMEM;
	g->p = p;
	rc = p->ops->gnttab_open(p, &g->priv);
	if (rc < 0) {
		free(g);
		return rc;
	}
	*out = g;
	return 0;
}

void vha_gnttab_close(struct vha_gnttab *g)
{
	if (!g)
		return;
	g->p->ops->gnttab_close(g->priv);
	free(g);
}

int vha_gnttab_map(struct vha_gnttab *g, vha_domid_t domid, uint32_t count, const vha_grant_ref_t *refs,
		   bool writable, void **addr_out)
{
	*addr_out = NULL;
	if (count == 0 || count > VHA_GNTTAB_MAX_BATCH || !refs)
		return -EINVAL;
	return g->p->ops->gnttab_map(g->priv, domid, count, refs, writable, addr_out);
}

int vha_gnttab_unmap(struct vha_gnttab *g, void *addr, uint32_t count)
{
	if (!addr || count == 0)
		return -EINVAL;
	return g->p->ops->gnttab_unmap(g->priv, addr, count);
}

int vha_gnttab_copy(struct vha_gnttab *g, struct vha_grant_copy_seg *segs, uint32_t count)
{
	for (uint32_t i = 0; i < count; i++) {
		const struct vha_grant_copy_seg *s = &segs[i];

		if ((s->src.foreign && (uint32_t)s->src.offset + s->len > VHA_PAGE_SIZE) ||
		    (s->dst.foreign && (uint32_t)s->dst.offset + s->len > VHA_PAGE_SIZE))
			return -EINVAL;
	}
	return g->p->ops->gnttab_copy(g->priv, segs, count);
}

/* ---- grant sharing ---- */

int vha_gntshr_open(struct vha_platform *p, struct vha_gntshr **out)
{
	struct vha_gntshr *s = calloc(1, sizeof(*s));
	int rc;

	*out = NULL;
	if (!s)
		return -ENOMEM;
	s->p = p;
	rc = p->ops->gntshr_open(p, &s->priv);
	if (rc < 0) {
		free(s);
		return rc;
	}
	*out = s;
	return 0;
}

void vha_gntshr_close(struct vha_gntshr *s)
{
	if (!s)
		return;
	s->p->ops->gntshr_close(s->priv);
	free(s);
}

void *vha_gntshr_share(struct vha_gntshr *s, vha_domid_t domid, uint32_t count, vha_grant_ref_t *refs,
		       bool writable)
{
	if (count == 0 || count > VHA_GNTTAB_MAX_BATCH || !refs) {
		errno = EINVAL;
		return NULL;
	}
	return s->p->ops->gntshr_share(s->priv, domid, count, refs, writable);
}

int vha_gntshr_unshare(struct vha_gntshr *s, void *addr, uint32_t count)
{
	if (!addr || count == 0)
		return -EINVAL;
	return s->p->ops->gntshr_unshare(s->priv, addr, count);
}

/* ---- event channels ---- */

int vha_evtchn_open(struct vha_platform *p, struct vha_evtchn **out)
{
	struct vha_evtchn *e = calloc(1, sizeof(*e));
	int rc;

	*out = NULL;
	if (!e)
		return -ENOMEM;
	e->p = p;
	rc = p->ops->evtchn_open(p, &e->priv);
	if (rc < 0) {
		free(e);
		return rc;
	}
	*out = e;
	return 0;
}

void vha_evtchn_close(struct vha_evtchn *e)
{
	if (!e)
		return;
	e->p->ops->evtchn_close(e->priv);
	free(e);
}

int vha_evtchn_fd(struct vha_evtchn *e)
{
	return e->p->ops->evtchn_fd(e->priv);
}

int vha_evtchn_bind_unbound(struct vha_evtchn *e, vha_domid_t remote)
{
	return e->p->ops->evtchn_bind_unbound(e->priv, remote);
}

int vha_evtchn_bind_interdomain(struct vha_evtchn *e, vha_domid_t remote, vha_evtchn_port_t remote_port)
{
	return e->p->ops->evtchn_bind_interdomain(e->priv, remote, remote_port);
}

int vha_evtchn_unbind(struct vha_evtchn *e, vha_evtchn_port_t port)
{
	return e->p->ops->evtchn_unbind(e->priv, port);
}

int vha_evtchn_notify(struct vha_evtchn *e, vha_evtchn_port_t port)
{
	return e->p->ops->evtchn_notify(e->priv, port);
}

int vha_evtchn_pending(struct vha_evtchn *e)
{
	return e->p->ops->evtchn_pending(e->priv);
}

int vha_evtchn_unmask(struct vha_evtchn *e, vha_evtchn_port_t port)
{
	return e->p->ops->evtchn_unmask(e->priv, port);
}
