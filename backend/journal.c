// SPDX-License-Identifier: MIT
/*
 * The in-flight journal of one queue: what a restarted vha-backend needs to
 * take over live rings without the frontend noticing. It lives in a file in
 * the state directory (tmpfs on a driver domain: it survives the process,
 * not a reboot), mapped shared, one entry per ring slot:
 *
 *   taking a request:  copy the ring slot into entry.raw (the one read of
 *                      guest memory), entry.idx = ring index, state =
 *                      INFLIGHT, then hdr.req_cons = idx + 1;
 *   answering it:      write the response into the ring at r, then
 *                      entry.rsp_idx = r, state = RESPONDED, then
 *                      hdr.rsp_prod_pvt = r + 1; push later.
 *
 * A process killed at any point leaves a journal from which the next one
 * recovers exactly: req_cons and rsp_prod_pvt are the newest of the header
 * and the entries (an entry can be a step ahead of the header), responses
 * written but not pushed are pushed, and INFLIGHT requests are executed
 * again (they had no response, so the frontend still waits and its pages
 * still hold the data; doing a read, write, flush or discard twice has the
 * effect of doing it once). The journal is written only by the backend;
 * guests never see it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backend.h"

#define JOURNAL_MAGIC 0x314c4e524a414856ull     /* "VHAJRNL1" */

static size_t journal_bytes(unsigned int nr_slots)
{
	return sizeof(struct journal_hdr) + (size_t)nr_slots * sizeof(struct journal_entry);
}

void journal_path(const struct queue *q, char *buf, size_t len)
{
	snprintf(buf, len, "%s/journal/%u-%u-%u", q->dev->be->cfg.state_dir, q->dev->fe_domid, q->dev->devid,
		 q->index);
}

static int journal_map(struct queue *q, int fd)
{
	void *m = mmap(NULL, journal_bytes(q->nr_slots), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

	if (m == MAP_FAILED)
		return -errno;
	q->journal = m;
	return 0;
}

int journal_create(struct queue *q)
{
	char path[4200], dir[4200];
	int fd, rc;

	q->journal = NULL;
	if (!q->dev->be->cfg.state_dir || !q->dev->be->cfg.resume)
		return 0;
	snprintf(dir, sizeof(dir), "%s/journal", q->dev->be->cfg.state_dir);
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return -errno;
	journal_path(q, path, sizeof(path));
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)journal_bytes(q->nr_slots)) != 0) {
		rc = -errno;
		close(fd);
		unlink(path);
		return rc;
	}
	rc = journal_map(q, fd);
	close(fd);
	if (rc < 0) {
		unlink(path);
		return rc;
	}
	q->journal->nr_slots = q->nr_slots;
	q->journal->nr_ring_pages = q->nr_ring_pages;
	q->journal->remote_port = q->remote_port;
	memcpy(q->journal->ring_refs, q->ring_refs, sizeof(q->journal->ring_refs));
	q->journal->req_cons = q->back.ring.req_cons;
	q->journal->rsp_prod_pvt = q->back.ring.rsp_prod_pvt;
	__atomic_store_n(&q->journal->magic, JOURNAL_MAGIC, __ATOMIC_RELEASE);
	return 0;
}

/* Wrap-aware: is a after b? */
static bool idx_after(RING_IDX a, RING_IDX b)
{
	return (int32_t)(a - b) > 0;
}

int journal_open_existing(struct queue *q, struct journal_recovery *rec)
{
	char path[4200];
	struct stat st;
	int fd, rc;

	q->journal = NULL;
	if (!q->dev->be->cfg.state_dir || !q->dev->be->cfg.resume)
		return -ENOENT;
	journal_path(q, path, sizeof(path));
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) != 0 || (size_t)st.st_size != journal_bytes(q->nr_slots)) {
		close(fd);
		return -EINVAL;
	}
	rc = journal_map(q, fd);
	close(fd);
	if (rc < 0)
		return rc;
	if (q->journal->magic != JOURNAL_MAGIC || q->journal->nr_slots != q->nr_slots ||
	    q->journal->nr_ring_pages != q->nr_ring_pages || q->journal->remote_port != q->remote_port ||
	    memcmp(q->journal->ring_refs, q->ring_refs, q->nr_ring_pages * sizeof(q->ring_refs[0])) != 0) {
		journal_close(q, false);
		return -ESTALE;         /* not the rings the frontend has now */
	}
	rec->req_cons = q->journal->req_cons;
	rec->rsp_prod_pvt = q->journal->rsp_prod_pvt;
	rec->inflight = 0;
	/* An entry can be one step ahead of the header: take the newest of both. */
	for (unsigned int i = 0; i < q->nr_slots; i++) {
		struct journal_entry *e = &q->journal->e[i];

		if (e->state == JOURNAL_INFLIGHT)
			rec->inflight++;
		if ((e->state == JOURNAL_INFLIGHT || e->state == JOURNAL_RESPONDED) && idx_after(e->idx + 1, rec->req_cons))
			rec->req_cons = e->idx + 1;
	}
	for (unsigned int i = 0; i < q->nr_slots; i++) {
		struct journal_entry *e = &q->journal->e[i];

		/* Answered in the ring, but the header was not updated yet. */
		if (e->state == JOURNAL_RESPONDED && idx_after(e->rsp_idx + 1, rec->rsp_prod_pvt) &&
		    !idx_after(e->rsp_idx + 1, rec->req_cons))
			rec->rsp_prod_pvt = e->rsp_idx + 1;
	}
	/* Responses never outnumber requests, and at most a ring of requests is unanswered. */
	if (idx_after(rec->rsp_prod_pvt, rec->req_cons) || rec->req_cons - rec->rsp_prod_pvt > q->nr_slots) {
		journal_close(q, false);
		return -EPROTO;
	}
	q->journal->req_cons = rec->req_cons;
	q->journal->rsp_prod_pvt = rec->rsp_prod_pvt;
	return 0;
}

void journal_close(struct queue *q, bool remove)
{
	char path[4200];

	if (q->journal)
		munmap(q->journal, journal_bytes(q->nr_slots));
	q->journal = NULL;
	if (remove && q->dev->be->cfg.state_dir) {
		journal_path(q, path, sizeof(path));
		unlink(path);
	}
}
