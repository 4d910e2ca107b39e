// SPDX-License-Identifier: MIT
/*
 * Grant strategies: how a request's data pages reach the backend (map per
 * request, the persistent cache, or grant copy into backend buffers), and
 * its indirect pages (always grant-copied into a private buffer, never
 * mapped, so never read twice). Worker thread only. docs/backend.md,
 * "Grant strategies", says when each is used.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"

#define SECTOR_SHIFT 9

/*
 * Indirect requests: grant-copy the part of the segment pages in use into a
 * private buffer (never mapped, so never read twice), then decode it.
 */
int strategy_load_indirect(struct queue *q, struct vha_blkif_req *req)
{
	struct device *dev = q->dev;
	struct vha_grant_copy_seg segs[BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST];
	const void *pages[BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST];
	size_t left = (size_t)req->nr_segments * sizeof(struct blkif_request_segment);
	int rc;

	memset(segs, 0, sizeof(segs));
	for (uint32_t i = 0; i < req->nr_indirect_pages; i++) {
		size_t n = left < VHA_PAGE_SIZE ? left : VHA_PAGE_SIZE;

		segs[i].src.foreign = true;
		segs[i].src.domid = dev->fe_domid;
		segs[i].src.ref = req->indirect_grefs[i];
		segs[i].dst.virt = q->indirect_buf + (size_t)i * VHA_PAGE_SIZE;
		segs[i].len = (uint16_t)n;
		pages[i] = segs[i].dst.virt;
		left -= n;
	}
	rc = vha_gnttab_copy(dev->be->gnttab, segs, req->nr_indirect_pages);
	for (uint32_t i = 0; rc == 0 && i < req->nr_indirect_pages; i++)
		rc = segs[i].status;
	if (rc < 0)
		return rc;
	vha_blkif_load_indirect(req, pages);
	STAT_ADD(q->stats.indirect, 1);
	return 0;
}

static uint64_t seg_len(const struct vha_blkif_seg *seg)
{
	return (uint64_t)(seg->last_sect - seg->first_sect + 1) << SECTOR_SHIFT;
}

/* Append a segment's bytes at base to the iovecs, merging with the previous one where contiguous. */
static void add_iov(struct inflight *s, char *base, size_t len)
{
	struct iovec *prev = s->nr_iov ? &s->iov[s->nr_iov - 1] : NULL;

	if (prev && (char *)prev->iov_base + prev->iov_len == base) {
		prev->iov_len += len;
	} else {
		s->iov[s->nr_iov].iov_base = base;
		s->iov[s->nr_iov].iov_len = len;
		s->nr_iov++;
	}
	s->expect += len;
}

static enum grant_strategy choose_strategy(struct queue *q, const struct vha_blkif_req *req)
{
	const struct device *dev = q->dev;

	switch (dev->strategy) {
	case GS_PERSISTENT:
		return dev->persistent ? GS_PERSISTENT : GS_MAP;
	case GS_COPY:
		return GS_COPY;
	case GS_ADAPTIVE:
		if (dev->persistent)
			return GS_PERSISTENT;
		return (req->nr_sectors << SECTOR_SHIFT) <= dev->be->cfg.copy_max ? GS_COPY : GS_MAP;
	default:
		return GS_MAP;
	}
}

/* Grant-copy between the slot's buffer and the request's segments (to_guest: after a disk read). */
static int copy_segments(struct queue *q, struct inflight *s, bool to_guest)
{
	struct vha_grant_copy_seg segs[VHA_BLKIF_MAX_SEGMENTS];
	const struct vha_blkif_req *req = &s->req;
	size_t off = 0;
	int rc;

	memset(segs, 0, req->nr_segments * sizeof(segs[0]));
	for (uint32_t i = 0; i < req->nr_segments; i++) {
		struct vha_grant_copy_seg *g = &segs[i];
		typeof(g->src) *guest = to_guest ? &g->dst : &g->src, *local = to_guest ? &g->src : &g->dst;

		guest->foreign = true;
		guest->domid = q->dev->fe_domid;
		guest->ref = req->seg[i].gref;
		guest->offset = (uint16_t)(req->seg[i].first_sect << SECTOR_SHIFT);
		local->virt = (char *)s->cbuf + off;
		g->len = (uint16_t)seg_len(&req->seg[i]);
		off += g->len;
	}
	rc = vha_gnttab_copy(q->dev->be->gnttab, segs, req->nr_segments);
	for (uint32_t i = 0; rc == 0 && i < req->nr_segments; i++)
		rc = segs[i].status;
	return rc;
}

/* Copy strategy: a page-aligned backend buffer per slot, within the queue's budget. */
static int prepare_copy(struct queue *q, struct inflight *s)
{
	size_t need = (size_t)((s->req.nr_sectors << SECTOR_SHIFT) + VHA_PAGE_SIZE - 1) & ~(size_t)(VHA_PAGE_SIZE - 1);
	int rc;

	if (s->cbuf_size < need) {
		void *buf;

		if (q->cbuf_total - s->cbuf_size + need > q->copy_budget)
			return -ENOBUFS;        /* over budget: the caller maps instead */
		if (posix_memalign(&buf, VHA_PAGE_SIZE, need) != 0)
			return -ENOBUFS;
		STAT_SET(q->cbuf_total, q->cbuf_total - s->cbuf_size + need);
		free(s->cbuf);
		s->cbuf = buf;
		s->cbuf_size = need;
	}
	if (s->req.op != VHA_BLKIF_READ) {
		rc = copy_segments(q, s, false);
		if (rc < 0)
			return rc;
	}
	add_iov(s, s->cbuf, (size_t)(s->req.nr_sectors << SECTOR_SHIFT));
	return 0;
}

/*
 * Map or look up the request's data pages and build the iovecs. Persistent:
 * each segment from the cache; the ones it cannot hold are mapped per request
 * in one batch. Map: every segment in one batch.
 */
static int prepare_map(struct queue *q, struct inflight *s, bool persistent)
{
	struct vha_blkif_req *req = &s->req;
	grant_ref_t refs[VHA_BLKIF_MAX_SEGMENTS];
	char *page[VHA_BLKIF_MAX_SEGMENTS];
	uint32_t miss[VHA_BLKIF_MAX_SEGMENTS], nmiss = 0;
	/* A disk read writes into guest memory; a disk write only reads it. Never more rights. */
	bool writable = req->op == VHA_BLKIF_READ;
	int rc;

	for (uint32_t i = 0; i < req->nr_segments; i++) {
		struct pgrant *e = NULL;

		page[i] = persistent ? gcache_get(&q->cache, q->dev->be->gnttab, q->dev->fe_domid, req->seg[i].gref, &e)
				     : NULL;
		if (e)
			s->pg[s->nr_pg++] = e;
		if (!page[i]) {
			refs[nmiss] = req->seg[i].gref;
			miss[nmiss++] = i;
		}
	}
	if (nmiss) {
		rc = vha_gnttab_map(q->dev->be->gnttab, q->dev->fe_domid, nmiss, refs, writable, &s->map);
		if (rc < 0)
			return rc;
		s->nr_map = nmiss;
		STAT_ADD(q->grants_mapped, nmiss);
		if (q->grants_mapped > q->stats.grants_peak)
			STAT_SET(q->stats.grants_peak, q->grants_mapped);
		for (uint32_t j = 0; j < nmiss; j++)
			page[miss[j]] = (char *)s->map + (size_t)j * VHA_PAGE_SIZE;
	}
	for (uint32_t i = 0; i < req->nr_segments; i++)
		add_iov(s, page[i] + ((size_t)req->seg[i].first_sect << SECTOR_SHIFT), (size_t)seg_len(&req->seg[i]));
	return 0;
}

/* Make the request's data reachable through s->iov with the device's strategy. */
int strategy_prepare(struct queue *q, struct inflight *s)
{
	int rc;

	s->strategy = choose_strategy(q, &s->req);
	if (s->strategy == GS_COPY) {
		rc = prepare_copy(q, s);
		if (rc != -ENOBUFS)
			return rc;
		s->strategy = GS_MAP;
	}
	return prepare_map(q, s, s->strategy == GS_PERSISTENT);
}

/* Returns 0, or -errno if the platform could not unmap (the request then fails). */
int strategy_release(struct queue *q, struct inflight *s)
{
	int rc = 0;

	for (uint32_t i = 0; i < s->nr_pg; i++)
		gcache_put(&q->cache, s->pg[i]);
	s->nr_pg = 0;
	if (s->map) {
		rc = vha_gnttab_unmap(q->dev->be->gnttab, s->map, s->nr_map);
		if (rc < 0)
			vha_log_ratelimited(&q->rl, VHA_LOG_ERROR, "device %u/%u: cannot unmap %u grants: %s",
					    q->dev->fe_domid, q->dev->devid, s->nr_map, strerror(-rc));
	}
	STAT_ADD(q->grants_mapped, -s->nr_map);
	s->map = NULL;
	s->nr_map = 0;
	return rc;
}

int strategy_copy_to_guest(struct queue *q, struct inflight *s)
{
	return copy_segments(q, s, true);
}
