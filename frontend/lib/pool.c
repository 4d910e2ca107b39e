// SPDX-License-Identifier: MIT
/*
 * libvhafront: the data pool, granted once at open. Pages [0, nbounce) are
 * bounce pages (a free stack); [nbounce, npool) is the buffer area that
 * vha_front_buf_alloc hands out for zero-copy I/O.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "front_internal.h"

int front_pool_share(struct vha_front *f, const struct vha_front_opts *opts)
{
	/*
	 * 512 pages: a full 16-page ring of 4 KiB requests, or two 1 MiB ones,
	 * while the whole pool stays within one share (gntalloc's default limit
	 * is 1024 pages).
	 */
	f->nbounce = opts->pool_pages ? opts->pool_pages : 512;
	if (f->untrusted) {
		/*
		 * Nothing is shared up front: nbounce is only a budget of pages
		 * the per-request shares may hold at once (nfree counts it down).
		 * vha_front_open refused buffer pages before the handshake.
		 */
		f->npool = 0;
		f->nfree = f->nbounce;
		return 0;
	}
	f->npool = f->nbounce + opts->buffer_pages;
	if (f->npool > POOL_MAX) {
		vha_err("a pool of %u pages (%u bounce + %u buffer) is over the %u one device can share", f->npool,
			f->nbounce, opts->buffer_pages, POOL_MAX);
		return -EINVAL;
	}
	f->pool_refs = calloc(f->npool, sizeof(*f->pool_refs));
	f->free_pages = calloc(f->nbounce, sizeof(*f->free_pages));
	f->buf_run = calloc(opts->buffer_pages + 1, sizeof(*f->buf_run));
	f->buf_used = calloc(opts->buffer_pages + 1, sizeof(*f->buf_used));
	if (!f->pool_refs || !f->free_pages || !f->buf_run || !f->buf_used)
		return -ENOMEM;
	/* Fresh zeroed pages that hold nothing but request data (XSA-403). */
	f->pool = vha_gntshr_share(f->shr, f->info.backend_domid, f->npool, f->pool_refs, true);
	if (!f->pool) {
		int rc = -errno;

		vha_err("cannot share %u data pages: %s", f->npool, strerror(errno));
		return rc;
	}
	for (unsigned int i = 0; i < f->nbounce; i++)
		f->free_pages[f->nfree++] = f->nbounce - 1 - i;
	return 0;
}

void *vha_front_buf_alloc(struct vha_front *f, size_t len)
{
	unsigned int nbuf = f->npool - f->nbounce;
	unsigned int need = (unsigned int)((len + VHA_PAGE_SIZE - 1) / VHA_PAGE_SIZE), run = 0;

	if (need == 0 || need > nbuf)
		return NULL;
	for (unsigned int i = 0; i < nbuf; i++) {
		run = f->buf_used[i] ? 0 : run + 1;
		if (run == need) {
			unsigned int first = i + 1 - need;

			for (unsigned int j = first; j <= i; j++)
				f->buf_used[j] = true;
			f->buf_run[first] = need;
			return f->pool + (size_t)(f->nbounce + first) * VHA_PAGE_SIZE;
		}
	}
	return NULL;
}

int front_dedicated_share(struct vha_front *f, struct req_slot *s, unsigned int nsegs, bool indirect)
{
	int rc;

	/* The backend writes into a read's pages and only reads a write's: grant no more than that. */
	s->dedicated = vha_gntshr_share(f->shr, f->info.backend_domid, nsegs, s->pages, s->op == VHA_FRONT_READ);
	if (!s->dedicated)
		return -errno;
	s->npages = nsegs;
	f->nfree -= nsegs;
	if (indirect) {
		s->dedicated_indirect = vha_gntshr_share(f->shr, f->info.backend_domid, 1, &s->indirect_ref, false);
		if (!s->dedicated_indirect) {
			rc = -errno;
			front_dedicated_end(f, s);
			return rc;
		}
		f->nfree--;
	}
	return 0;
}

void front_dedicated_end(struct vha_front *f, struct req_slot *s)
{
	/*
	 * The platform ends the grants and keeps a page the backend still maps
	 * from being reused until it unmaps. If it cannot confirm the end, the
	 * pages stay mapped here, never touched again, and their budget is not
	 * given back: a leak on purpose rather than a page the backend can
	 * still reach going back into use (XSA-396).
	 */
	if (s->dedicated) {
		if (vha_gntshr_unshare(f->shr, s->dedicated, s->npages) == 0)
			f->nfree += s->npages;
		else
			vha_warn("device %s: cannot end the grants of %u request pages; leaking them", f->dir,
				 s->npages);
	}
	if (s->dedicated_indirect) {
		if (vha_gntshr_unshare(f->shr, s->dedicated_indirect, 1) == 0)
			f->nfree++;
		else
			vha_warn("device %s: cannot end the grant of an indirect page; leaking it", f->dir);
	}
	s->dedicated = NULL;
	s->dedicated_indirect = NULL;
	s->npages = 0;
}

bool front_in_buffer_area(const struct vha_front *f, const void *p, size_t len)
{
	const unsigned char *lo = f->pool + (size_t)f->nbounce * VHA_PAGE_SIZE;
	const unsigned char *hi = f->pool + (size_t)f->npool * VHA_PAGE_SIZE;

	return f->pool && (const unsigned char *)p >= lo && (const unsigned char *)p < hi &&
	       len <= (size_t)(hi - (const unsigned char *)p);
}

void vha_front_buf_free(struct vha_front *f, void *buf)
{
	unsigned int first;

	if (!buf || !front_in_buffer_area(f, buf, 1))
		return;
	first = (unsigned int)(((unsigned char *)buf - f->pool) / VHA_PAGE_SIZE) - f->nbounce;
	for (unsigned int j = 0; j < f->buf_run[first]; j++)
		f->buf_used[first + j] = false;
	f->buf_run[first] = 0;
}
