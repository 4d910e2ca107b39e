/* SPDX-License-Identifier: MIT */
/*
 * The in-flight journal of one queue: what a restarted vha-backend needs to
 * take over live rings without the frontend noticing. A file in the state
 * directory (tmpfs on a driver domain: it survives the process, not a
 * reboot), mapped shared, one entry per request slot of the queue. Written
 * only by the queue's worker (and the main thread before the worker starts);
 * guests never see it. It knows nothing of queues or devices: a caller gives
 * it a path and the rings it describes, so it is tested (and fuzzed) alone.
 *
 * The protocol, store by store (journal.c says why each order is safe):
 *   take slot s for ring index i: state = FREE; raw = the ring slot (the one
 *       read of guest memory); idx = i; state = INFLIGHT; hdr.req_cons = i + 1
 *   respond from slot s at ring index r (the response is already in the
 *       ring): rsp_idx = r; state = RESPONDED; hdr.rsp_prod_pvt = r + 1
 * A process killed after any store leaves a journal from which the next one
 * recovers to: every request the frontend produced is answered exactly once,
 * either by a response already in the ring (pushed on recovery) or by
 * running it again, in ring order.
 *
 * All functions return 0 or -errno and never log.
 */
#ifndef VHA_BACKEND_JOURNAL_H
#define VHA_BACKEND_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vha/blkif.h"

/* Raised whenever the file layout changes; a journal of another version is refused. */
#define JOURNAL_VERSION 3u
/* Most slots a journal may have: one per request of the largest blkif ring. */
#define JOURNAL_MAX_SLOTS 512u

enum journal_state { JOURNAL_FREE = 0, JOURNAL_INFLIGHT = 1, JOURNAL_RESPONDED = 2 };

struct journal_entry {
	uint32_t state;                 /* enum journal_state */
	RING_IDX idx;                   /* ring index the request was taken from */
	RING_IDX rsp_idx;               /* RESPONDED: ring index of its response */
	uint32_t pad;
	unsigned char raw[sizeof(blkif_request_t)];
};

struct journal_hdr {
	uint64_t magic;
	uint32_t version;               /* JOURNAL_VERSION */
	uint32_t hdr_size;              /* sizeof(struct journal_hdr) */
	uint32_t entry_size;            /* sizeof(struct journal_entry) */
	uint32_t nr_slots, nr_ring_pages, remote_port;
	grant_ref_t ring_refs[VHA_BLKIF_MAX_RING_PAGES];
	RING_IDX req_cons, rsp_prod_pvt;
	uint32_t grants;                /* the queue's budget share: a takeover reserves it again */
	uint32_t pad;
	uint64_t copy_bytes;
	struct journal_entry e[];
};

/*
 * The rings a journal belongs to (a journal of other rings is stale), and
 * the budget share the queue served them with (grants, copy_bytes and
 * nr_slots), which a takeover must reserve again, whatever order devices
 * come back in: together they fitted the totals before, so they fit again.
 */
struct journal_rings {
	unsigned int nr_slots;          /* 1..JOURNAL_MAX_SLOTS */
	unsigned int nr_ring_pages;
	grant_ref_t ring_refs[VHA_BLKIF_MAX_RING_PAGES];
	uint32_t remote_port;
	uint32_t grants;                /* recorded, not compared */
	uint64_t copy_bytes;            /* recorded, not compared */
};

struct journal {
	struct journal_hdr *hdr;        /* NULL: no journal */
	unsigned int nr_slots;
	char path[4096];
};

/* What an earlier process left: where to go on, and what to run again. */
struct journal_recovery {
	RING_IDX req_cons, rsp_prod_pvt;
	unsigned int nr_replay;         /* unanswered requests */
	uint16_t replay[JOURNAL_MAX_SLOTS];     /* their slots, in ring order */
};

/* A journal that is not open (hdr NULL); journal_close on it is a no-op. */
void journal_init(struct journal *j);

/* Create (truncate) path, mkdir'ing its directory, for a new connection at ring positions req_cons/rsp_prod_pvt. */
int journal_create(struct journal *j, const char *path, const struct journal_rings *rings, RING_IDX req_cons,
		   RING_IDX rsp_prod_pvt);

/*
 * Open the journal an earlier process left at path and recover it into rec.
 * req_prod and rsp_prod are the live ring's (read once by the caller; the
 * frontend writes req_prod). Errors (the journal is closed again):
 *   -ENOENT           no journal
 *   -EPROTONOSUPPORT  another layout (version, header or entry size): a
 *                     different vha-backend wrote it
 *   -ESTALE           a journal of other rings (the frontend reconnected)
 *   -EPROTO           inconsistent with itself or with the live ring
 * rec->replay lists the INFLIGHT slots in ring order. On success the journal
 * stays open, its header brought up to date with rec.
 */
int journal_open_existing(struct journal *j, const char *path, const struct journal_rings *rings,
			  RING_IDX req_prod, RING_IDX rsp_prod, struct journal_recovery *rec);

/*
 * Read the header of the journal an earlier process left at path into
 * *out: its rings and the budget share they were served with (a takeover
 * serves them with exactly as many slots). 0, or the error
 * journal_open_existing would give for the header (-ENOENT,
 * -EPROTONOSUPPORT, -EPROTO). Reads nothing else.
 */
int journal_peek(const char *path, struct journal_rings *out);

/* A human-readable reason for a journal_open_existing error, for the log. */
const char *journal_strerror(int rc);

/* The protocol's two steps (no-ops without a journal). journal_take copies ring_slot into the entry. */
void journal_take(struct journal *j, unsigned int slot, RING_IDX idx, const void *ring_slot);
void journal_respond(struct journal *j, unsigned int slot, RING_IDX rsp_idx);
/* The private copy journal_take made of the ring slot (the one to parse). */
const void *journal_raw(const struct journal *j, unsigned int slot);

/*
 * For tests that walk the crash points: the same steps, stopping after
 * `stores` stores to the journal, as a process killed there would.
 */
void journal_take_stores(struct journal *j, unsigned int slot, RING_IDX idx, const void *ring_slot,
			 unsigned int stores);
void journal_respond_stores(struct journal *j, unsigned int slot, RING_IDX rsp_idx, unsigned int stores);
#define JOURNAL_TAKE_STORES 5u
#define JOURNAL_RESPOND_STORES 3u

/* Unmap; remove: also delete the file (an orderly stop: nothing to take over). Idempotent. */
void journal_close(struct journal *j, bool remove);

#endif
