// SPDX-License-Identifier: MIT
/*
 * The in-flight journal of one queue (the protocol is in journal.h).
 *
 * Why the stores are in this order:
 * - take starts by marking the entry FREE. The slot may still hold an
 *   earlier, RESPONDED request; if its raw copy and idx were overwritten
 *   first, a kill right then would leave "RESPONDED, idx = the new request",
 *   and recovery would count the new request as consumed and answered,
 *   though nothing ever answers it. FREE entries say nothing, and the
 *   earlier response is already covered by hdr.rsp_prod_pvt (respond stores
 *   it before the slot can be taken again).
 * - raw and idx are written while the entry is FREE, then the state
 *   (release) publishes them; then the header. A kill before the state
 *   store leaves the request unconsumed: recovery's req_cons is below it,
 *   and the next process reads it from the ring again (the frontend cannot
 *   reuse a ring slot before its response, so it is still there).
 * - respond runs after the response is in the ring at rsp_idx. A kill before
 *   state = RESPONDED leaves the entry INFLIGHT and rsp_prod_pvt at rsp_idx:
 *   the request runs again and its new response overwrites the old one,
 *   which was never pushed. After it, the entry carries rsp_idx, and
 *   recovery moves rsp_prod_pvt past it even if the header store was lost.
 * Running a read, write, flush or discard again has the effect of running
 * it once; the frontend's pages still hold the data, as it has no response.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "journal.h"

#define JOURNAL_MAGIC 0x314c4e524a414856ull     /* "VHAJRNL1" */

static size_t journal_bytes(unsigned int nr_slots)
{
	return sizeof(struct journal_hdr) + (size_t)nr_slots * sizeof(struct journal_entry);
}

/* Wrap-aware: is ring index a after b? */
static bool idx_after(RING_IDX a, RING_IDX b)
{
	return (int32_t)(a - b) > 0;
}

void journal_init(struct journal *j)
{
	j->hdr = NULL;
	j->nr_slots = 0;
	j->path[0] = '\0';
}

static int journal_map(struct journal *j, int fd, unsigned int nr_slots)
{
	void *m = mmap(NULL, journal_bytes(nr_slots), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

	if (m == MAP_FAILED)
		return -errno;
	j->hdr = m;
	j->nr_slots = nr_slots;
	return 0;
}

static bool rings_valid(const struct journal_rings *r)
{
	return r->nr_slots >= 1 && r->nr_slots <= JOURNAL_MAX_SLOTS && r->nr_ring_pages >= 1 &&
	       r->nr_ring_pages <= VHA_BLKIF_MAX_RING_PAGES;
}

int journal_create(struct journal *j, const char *path, const struct journal_rings *rings, RING_IDX req_cons,
		   RING_IDX rsp_prod_pvt)
{
	char dir[sizeof(j->path)];
	char *slash;
	int fd = -1, rc;

	journal_init(j);
	if (!rings_valid(rings) || strlen(path) >= sizeof(j->path))
		return -EINVAL;
	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		if (mkdir(dir, 0700) != 0 && errno != EEXIST)
			return -errno;
	}
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)journal_bytes(rings->nr_slots)) != 0) {
		rc = -errno;
		goto fail;
	}
	rc = journal_map(j, fd, rings->nr_slots);
	if (rc < 0)
		goto fail;
	close(fd);
	snprintf(j->path, sizeof(j->path), "%s", path);
	j->hdr->version = JOURNAL_VERSION;
	j->hdr->hdr_size = sizeof(struct journal_hdr);
	j->hdr->entry_size = sizeof(struct journal_entry);
	j->hdr->nr_slots = rings->nr_slots;
	j->hdr->nr_ring_pages = rings->nr_ring_pages;
	j->hdr->remote_port = rings->remote_port;
	memcpy(j->hdr->ring_refs, rings->ring_refs, sizeof(j->hdr->ring_refs));
	j->hdr->grants = rings->grants;
	j->hdr->copy_bytes = rings->copy_bytes;
	j->hdr->req_cons = req_cons;
	j->hdr->rsp_prod_pvt = rsp_prod_pvt;
	/* Last: a journal without its magic is never taken over. */
	__atomic_store_n(&j->hdr->magic, JOURNAL_MAGIC, __ATOMIC_RELEASE);
	return 0;
fail:
	close(fd);
	unlink(path);
	return rc;
}

const char *journal_strerror(int rc)
{
	switch (rc) {
	case -ENOENT: return "no journal";
	case -EPROTONOSUPPORT: return "journal written by a vha-backend of another journal format";
	case -ESTALE: return "journal of other rings";
	case -EPROTO: return "journal inconsistent with itself or with the ring";
	default: return strerror(-rc);
	}
}

struct order_ctx {
	const struct journal_hdr *h;
	RING_IDX req_cons;
};

/* Older first: how far before req_cons a request was taken (all are before it, within 2^31). */
static int cmp_ring_order(const void *a, const void *b, void *arg)
{
	const struct order_ctx *o = arg;
	uint32_t age_a = o->req_cons - o->h->e[*(const uint16_t *)a].idx;
	uint32_t age_b = o->req_cons - o->h->e[*(const uint16_t *)b].idx;

	return age_a < age_b ? 1 : age_a > age_b ? -1 : 0;
}

/* Recover rec from the mapped journal; the journal is trusted no further than its own bounds. */
static int recover(struct journal *j, RING_IDX req_prod, RING_IDX rsp_prod, struct journal_recovery *rec)
{
	struct journal_hdr *h = j->hdr;
	RING_IDX req_cons = h->req_cons, rsp_prod_pvt = h->rsp_prod_pvt;
	unsigned int n = 0;

	/* An entry can be a step ahead of the header. */
	for (unsigned int i = 0; i < j->nr_slots; i++) {
		const struct journal_entry *e = &h->e[i];

		if ((e->state == JOURNAL_INFLIGHT || e->state == JOURNAL_RESPONDED) && idx_after(e->idx + 1, req_cons))
			req_cons = e->idx + 1;
	}
	for (unsigned int i = 0; i < j->nr_slots; i++) {
		const struct journal_entry *e = &h->e[i];

		/* Answered in the ring, but the header was not updated yet. */
		if (e->state == JOURNAL_RESPONDED && idx_after(e->rsp_idx + 1, rsp_prod_pvt) &&
		    !idx_after(e->rsp_idx + 1, req_cons))
			rsp_prod_pvt = e->rsp_idx + 1;
	}
	/* Responses never outnumber requests, and at most a ring of requests is unanswered. */
	if (idx_after(rsp_prod_pvt, req_cons) || req_cons - rsp_prod_pvt > j->nr_slots)
		return -EPROTO;
	/* The frontend cannot have produced less than we took, nor have seen more responses. */
	if (idx_after(req_cons, req_prod) || idx_after(rsp_prod, rsp_prod_pvt))
		return -EPROTO;
	/*
	 * Every unanswered request has exactly one INFLIGHT entry, taken before
	 * req_cons. (Not necessarily within the last ring of requests: answers
	 * come out of order, so one request can stay in flight while many later
	 * ones complete.)
	 */
	for (unsigned int i = 0; i < j->nr_slots; i++) {
		const struct journal_entry *e = &h->e[i];

		if (e->state == JOURNAL_FREE || e->state == JOURNAL_RESPONDED)
			continue;
		if (e->state != JOURNAL_INFLIGHT || !idx_after(req_cons, e->idx) || n == req_cons - rsp_prod_pvt)
			return -EPROTO;
		rec->replay[n++] = (uint16_t)i;
	}
	if (n != req_cons - rsp_prod_pvt)
		return -EPROTO;
	qsort_r(rec->replay, n, sizeof(rec->replay[0]), cmp_ring_order, &(struct order_ctx){ h, req_cons });
	for (unsigned int i = 1; i < n; i++)
		if (h->e[rec->replay[i]].idx == h->e[rec->replay[i - 1]].idx)
			return -EPROTO;         /* one request twice */
	rec->req_cons = req_cons;
	rec->rsp_prod_pvt = rsp_prod_pvt;
	rec->nr_replay = n;
	return 0;
}

/* Read and check path's header (layout and slot count); 0 or a journal_open_existing error. */
static int read_header(int fd, struct journal_hdr *head)
{
	struct stat st;

	if (fstat(fd, &st) != 0)
		return -errno;
	if ((size_t)st.st_size < sizeof(*head) || pread(fd, head, sizeof(*head), 0) != (ssize_t)sizeof(*head) ||
	    head->magic != JOURNAL_MAGIC)
		return -EPROTO;
	if (head->version != JOURNAL_VERSION || head->hdr_size != sizeof(struct journal_hdr) ||
	    head->entry_size != sizeof(struct journal_entry))
		return -EPROTONOSUPPORT;
	if (head->nr_slots < 1 || head->nr_slots > JOURNAL_MAX_SLOTS ||
	    (size_t)st.st_size != journal_bytes(head->nr_slots))
		return -EPROTO;
	return 0;
}

int journal_peek(const char *path, struct journal_rings *out)
{
	struct journal_hdr head;
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc;

	memset(out, 0, sizeof(*out));
	if (fd < 0)
		return -errno;
	rc = read_header(fd, &head);
	close(fd);
	if (rc < 0)
		return rc;
	out->nr_slots = head.nr_slots;
	out->nr_ring_pages = head.nr_ring_pages <= VHA_BLKIF_MAX_RING_PAGES ? head.nr_ring_pages : 0;
	memcpy(out->ring_refs, head.ring_refs, sizeof(out->ring_refs));
	out->remote_port = head.remote_port;
	out->grants = head.grants;
	out->copy_bytes = head.copy_bytes;
	return 0;
}

int journal_open_existing(struct journal *j, const char *path, const struct journal_rings *rings,
			  RING_IDX req_prod, RING_IDX rsp_prod, struct journal_recovery *rec)
{
	struct journal_hdr head;
	int fd, rc;

	journal_init(j);
	memset(rec, 0, sizeof(*rec));
	if (!rings_valid(rings) || strlen(path) >= sizeof(j->path))
		return -EINVAL;
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	rc = read_header(fd, &head);
	if (rc < 0)
		goto out;
	if (head.nr_slots != rings->nr_slots || head.nr_ring_pages != rings->nr_ring_pages ||
	    head.remote_port != rings->remote_port ||
	    memcmp(head.ring_refs, rings->ring_refs, rings->nr_ring_pages * sizeof(rings->ring_refs[0])) != 0) {
		rc = -ESTALE;           /* not the rings the frontend has now */
		goto out;
	}
	rc = journal_map(j, fd, head.nr_slots);
	if (rc < 0)
		goto out;
	snprintf(j->path, sizeof(j->path), "%s", path);
	rc = recover(j, req_prod, rsp_prod, rec);
	if (rc < 0) {
		journal_close(j, false);
		memset(rec, 0, sizeof(*rec));
		goto out;
	}
	j->hdr->req_cons = rec->req_cons;
	j->hdr->rsp_prod_pvt = rec->rsp_prod_pvt;
out:
	close(fd);
	return rc;
}

void journal_take_stores(struct journal *j, unsigned int slot, RING_IDX idx, const void *ring_slot,
			 unsigned int stores)
{
	struct journal_entry *e;

	if (!j->hdr || slot >= j->nr_slots)
		return;
	e = &j->hdr->e[slot];
	if (stores-- == 0)
		return;
	__atomic_store_n(&e->state, JOURNAL_FREE, __ATOMIC_RELEASE);
	if (stores-- == 0)
		return;
	/* The one read of this guest slot; everything parses the copy. */
	memcpy(e->raw, ring_slot, sizeof(e->raw));
	__asm__ __volatile__("" ::: "memory");
	if (stores-- == 0)
		return;
	e->idx = idx;
	if (stores-- == 0)
		return;
	__atomic_store_n(&e->state, JOURNAL_INFLIGHT, __ATOMIC_RELEASE);
	if (stores-- == 0)
		return;
	__atomic_store_n(&j->hdr->req_cons, idx + 1, __ATOMIC_RELEASE);
}

void journal_respond_stores(struct journal *j, unsigned int slot, RING_IDX rsp_idx, unsigned int stores)
{
	struct journal_entry *e;

	if (!j->hdr || slot >= j->nr_slots)
		return;
	e = &j->hdr->e[slot];
	if (stores-- == 0)
		return;
	e->rsp_idx = rsp_idx;
	if (stores-- == 0)
		return;
	__atomic_store_n(&e->state, JOURNAL_RESPONDED, __ATOMIC_RELEASE);
	if (stores-- == 0)
		return;
	__atomic_store_n(&j->hdr->rsp_prod_pvt, rsp_idx + 1, __ATOMIC_RELEASE);
}

void journal_take(struct journal *j, unsigned int slot, RING_IDX idx, const void *ring_slot)
{
	journal_take_stores(j, slot, idx, ring_slot, JOURNAL_TAKE_STORES);
}

void journal_respond(struct journal *j, unsigned int slot, RING_IDX rsp_idx)
{
	journal_respond_stores(j, slot, rsp_idx, JOURNAL_RESPOND_STORES);
}

const void *journal_raw(const struct journal *j, unsigned int slot)
{
	return j->hdr && slot < j->nr_slots ? j->hdr->e[slot].raw : NULL;
}

void journal_close(struct journal *j, bool remove)
{
	if (j->hdr)
		munmap(j->hdr, journal_bytes(j->nr_slots));
	if (remove && j->path[0])
		unlink(j->path);
	journal_init(j);
}
