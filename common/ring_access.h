/* SPDX-License-Identifier: MIT */
/*
 * Private to common/: the barriers <xen/io/ring.h> expects its includer to
 * supply, and single loads/stores of the peer-visible ring indexes. Shared
 * by the ring code of each protocol (common/blkif.c, common/vscsiif.c).
 */
#ifndef VHA_RING_ACCESS_H
#define VHA_RING_ACCESS_H

#include <errno.h>
#include <stdbool.h>

/*
 * The ring macros of <xen/io/ring.h> expect the includer to supply the
 * barriers (the kernel's, or xenctrl.h's). These are the same orderings
 * expressed with compiler builtins, so no Xen library is needed for them.
 */
#ifndef xen_mb
/* Full barrier: orders earlier stores against later loads (store-load). */
#define xen_mb() __atomic_thread_fence(__ATOMIC_SEQ_CST)
/* Read barrier: later loads stay after earlier loads. */
#define xen_rmb() __atomic_thread_fence(__ATOMIC_ACQUIRE)
/* Write barrier: earlier stores become visible before later stores. */
#define xen_wmb() __atomic_thread_fence(__ATOMIC_RELEASE)
#endif

#include <stddef.h>
#include <stdint.h>
#include <xen/io/ring.h>

/*
 * Single loads and stores of the peer-visible indexes. The peer changes
 * them at any moment; a plain access would let the compiler tear, repeat or
 * cache the access, and every value we act on must be read exactly once.
 */
#define ring_read_once(p) __atomic_load_n((p), __ATOMIC_RELAXED)
#define ring_write_once(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)

/*
 * Keeps the compiler from re-reading a field from shared memory instead of
 * from the private copy just made: after this point the copy is the only
 * source. (Without it, the optimiser may legally forward loads from the
 * shared memory, recreating the XSA-155 double fetch.)
 */
#define ring_compiler_barrier() __asm__ __volatile__("" ::: "memory")

/*
 * The index protocol every ring DEFINE_RING_TYPES makes shares (req_prod,
 * req_event, rsp_prod, rsp_event at the head of the shared page), once for
 * all protocols: each takes the shared indexes by address and its own
 * private ones by value. The RING_* wrappers below take any back or front
 * ring of <xen/io/ring.h>.
 */

/*
 * Back: the frontend's req_prod, read once, into *prod; returns how many
 * requests it adds, or -EPROTO when it is more than a ring ahead of our
 * responses or moved backwards.
 */
static inline int ring_back_snapshot(const RING_IDX *req_prod, RING_IDX req_cons, RING_IDX rsp_prod_pvt,
				     RING_IDX size, RING_IDX *prod)
{
	RING_IDX p = ring_read_once(req_prod);
	RING_IDX unconsumed = p - req_cons;

	/*
	 * Read barrier: the loads of request slots up to p must not be
	 * performed before the load of req_prod above. Pairs with the
	 * frontend's write barrier between filling slots and publishing
	 * req_prod (RING_PUSH_REQUESTS*).
	 */
	xen_rmb();
	/*
	 * A frontend can have at most a ring of requests without responses
	 * (RING_REQUEST_PROD_OVERFLOW, what Linux calls "bogus ring requests");
	 * req_prod moving backwards shows up as a huge unsigned distance in the
	 * second test.
	 */
	if (p - rsp_prod_pvt > size || unconsumed > size)
		return -EPROTO;
	*prod = p;
	return (int)unconsumed;
}
#define RING_BACK_SNAPSHOT(r, prod) \
	ring_back_snapshot(&(r)->sring->req_prod, (r)->req_cons, (r)->rsp_prod_pvt, RING_SIZE(r), (prod))

/* XEN_RING_NR_UNCONSUMED_REQUESTS, reading req_prod once. */
static inline RING_IDX ring_back_unconsumed(const RING_IDX *req_prod, RING_IDX req_cons, RING_IDX rsp_prod_pvt,
					    RING_IDX size)
{
	RING_IDX req = ring_read_once(req_prod) - req_cons;
	RING_IDX rsp = size - (req_cons - rsp_prod_pvt);

	return req < rsp ? req : rsp;
}

/* Back: more requests to take? If none, asks for an event at the next one first. */
static inline bool ring_back_final_check(const RING_IDX *req_prod, RING_IDX *req_event, RING_IDX req_cons,
					 RING_IDX rsp_prod_pvt, RING_IDX size)
{
	if (ring_back_unconsumed(req_prod, req_cons, rsp_prod_pvt, size))
		return true;
	ring_write_once(req_event, req_cons + 1);
	/*
	 * Full barrier: the req_event store must be visible before req_prod
	 * is read again. Otherwise a frontend pushing now could read the old
	 * req_event (no notify) while we read the old req_prod (no work) and
	 * both sides sleep. Pairs with the full barrier in
	 * RING_PUSH_REQUESTS_AND_CHECK_NOTIFY.
	 */
	xen_mb();
	return ring_back_unconsumed(req_prod, req_cons, rsp_prod_pvt, size) != 0;
}
#define RING_BACK_FINAL_CHECK(r) \
	ring_back_final_check(&(r)->sring->req_prod, &(r)->sring->req_event, (r)->req_cons, (r)->rsp_prod_pvt, \
			      RING_SIZE(r))

/*
 * Front: is the response at rsp_cons there to read? 1 yes, 0 not yet,
 * -EPROTO when the backend claims more responses than we made requests.
 */
static inline int ring_front_response_ready(const RING_IDX *rsp_prod, RING_IDX rsp_cons, RING_IDX req_prod_pvt)
{
	RING_IDX prod = ring_read_once(rsp_prod);

	/*
	 * Read barrier: the response slot is loaded only after rsp_prod says
	 * it is there. Pairs with the backend's write barrier in
	 * RING_PUSH_RESPONSES*.
	 */
	xen_rmb();
	if (prod - rsp_cons > req_prod_pvt - rsp_cons)
		return -EPROTO;
	return prod != rsp_cons;
}
#define RING_FRONT_RESPONSE_READY(r) \
	ring_front_response_ready(&(r)->sring->rsp_prod, (r)->rsp_cons, (r)->req_prod_pvt)

/* Front: more responses to take? If none, asks for an event at the next one first. */
static inline bool ring_front_final_check(const RING_IDX *rsp_prod, RING_IDX *rsp_event, RING_IDX rsp_cons)
{
	if (ring_read_once(rsp_prod) != rsp_cons)
		return true;
	ring_write_once(rsp_event, rsp_cons + 1);
	/*
	 * Full barrier: rsp_event must be visible before rsp_prod is read
	 * again, or a backend pushing now and this check could both miss
	 * each other. Pairs with RING_PUSH_RESPONSES_AND_CHECK_NOTIFY.
	 */
	xen_mb();
	return ring_read_once(rsp_prod) != rsp_cons;
}
#define RING_FRONT_FINAL_CHECK(r) ring_front_final_check(&(r)->sring->rsp_prod, &(r)->sring->rsp_event, (r)->rsp_cons)

#endif
