/* SPDX-License-Identifier: MIT */
/*
 * Private to common/: the barriers <xen/io/ring.h> expects its includer to
 * supply, and single loads/stores of the peer-visible ring indexes. Shared
 * by the ring code of each protocol (common/blkif.c, common/vscsiif.c).
 */
#ifndef VHA_RING_ACCESS_H
#define VHA_RING_ACCESS_H

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

#endif
