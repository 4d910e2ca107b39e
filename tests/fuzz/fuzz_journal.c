// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: the in-flight journal as a restarted vha-backend loads
 * it. The file is written by the backend, not by guests, but a crash, a
 * full disk or another version can leave anything there, and the backend
 * must refuse it rather than replay garbage. The input is the file; the
 * rings and the live ring positions are taken from its own header (or its
 * first bytes) so that most inputs get past the identity checks to
 * recovery. Whatever recovery accepts must be consistent: responses never
 * ahead of requests, at most a ring unanswered, one replay per unanswered
 * request, each a distinct INFLIGHT slot, in ring order.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../backend/journal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char path[64];
	struct journal_rings rings = { .nr_slots = 32, .nr_ring_pages = 1 };
	struct journal j;
	struct journal_recovery rec;
	struct journal_hdr head;
	RING_IDX req_prod = 0, rsp_prod = 0;
	int fd;

	if (!path[0])
		snprintf(path, sizeof(path), "/dev/shm/vha-fuzz-journal-%d", (int)getpid());
	if (size >= sizeof(head)) {
		memcpy(&head, data, sizeof(head));
		if (head.nr_slots >= 1 && head.nr_slots <= JOURNAL_MAX_SLOTS)
			rings.nr_slots = head.nr_slots;
		if (head.nr_ring_pages >= 1 && head.nr_ring_pages <= VHA_BLKIF_MAX_RING_PAGES)
			rings.nr_ring_pages = head.nr_ring_pages;
		rings.remote_port = head.remote_port;
		memcpy(rings.ring_refs, head.ring_refs, sizeof(rings.ring_refs));
		/* A live ring near what the header says; the low bits of magic pick how near. */
		req_prod = head.req_cons + (RING_IDX)(head.magic & 0xff);
		rsp_prod = head.rsp_prod_pvt - (RING_IDX)((head.magic >> 8) & 0xff);
	}
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		return 0;
	if (write(fd, data, size) != (ssize_t)size) {
		close(fd);
		return 0;
	}
	close(fd);
	{
		/* What a takeover reserves comes from the same header: peek must agree with the full open. */
		struct journal_rings peeked;
		int peek = journal_peek(path, &peeked);

		if (peek == 0 && (peeked.nr_slots < 1 || peeked.nr_slots > JOURNAL_MAX_SLOTS ||
				  peeked.nr_ring_pages > VHA_BLKIF_MAX_RING_PAGES))
			abort();
	}
	if (journal_open_existing(&j, path, &rings, req_prod, rsp_prod, &rec) == 0) {
		RING_IDX unanswered = rec.req_cons - rec.rsp_prod_pvt;

		if ((int32_t)unanswered < 0 || unanswered > j.nr_slots || rec.nr_replay != unanswered)
			abort();
		for (unsigned int i = 0; i < rec.nr_replay; i++) {
			if (rec.replay[i] >= j.nr_slots || j.hdr->e[rec.replay[i]].state != JOURNAL_INFLIGHT)
				abort();
			if (i > 0 && (uint32_t)(rec.req_cons - j.hdr->e[rec.replay[i]].idx) >=
				     (uint32_t)(rec.req_cons - j.hdr->e[rec.replay[i - 1]].idx))
				abort();
			if (!journal_raw(&j, rec.replay[i]))
				abort();
		}
		journal_close(&j, false);
	}
	unlink(path);
	return 0;
}
