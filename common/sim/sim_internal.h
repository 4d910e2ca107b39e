/* SPDX-License-Identifier: MIT */
/*
 * The sim platform's shared-memory layout. One file per domain:
 *
 *   [ struct sim_domain_hdr (padded to SIM_HDR_SIZE) ][ page pool ]
 *
 * Every process that maps the file sees the same grant table, port table
 * and pages, so a grant mapped by another process is the very same page.
 * Cross-process updates use atomics on single words (grants, bitmaps) or
 * flock() on the file (port table).
 */
#ifndef VHA_SIM_INTERNAL_H
#define VHA_SIM_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include <limits.h>

#include "../platform_impl.h"
#include "vha/sim.h"

#define SIM_MAGIC 0x31304d4953414856ull /* "VHASIM01" */
#define SIM_VERSION 1u
#define SIM_GRANT_ENTRIES 16384u
#define SIM_POOL_PAGES 65536u           /* 256 MiB, sparse until touched */
#define SIM_PORTS 1024u
#define SIM_HDR_SIZE (1u << 20)

/*
 * Grant word: bit 31 permit access, bit 30 read-only, bit 29 released by the
 * granter while still mapped (the last unmapper frees the frame), bits 16-28
 * a generation (guards against ABA when an entry is reused), bits 0-15 the
 * number of current mappings by the grantee.
 */
#define SIM_GNT_PERMIT (1u << 31)
#define SIM_GNT_READONLY (1u << 30)
#define SIM_GNT_RELEASED (1u << 29)
#define SIM_GNT_GEN_SHIFT 16
#define SIM_GNT_GEN_MASK (0x1fffu << SIM_GNT_GEN_SHIFT)
#define SIM_GNT_COUNT_MASK 0xffffu

struct sim_grant {
	uint32_t word;
	uint32_t grantee;
	uint32_t frame;
	uint32_t pad;
};

enum sim_port_state { SIM_PORT_FREE = 0, SIM_PORT_UNBOUND = 1, SIM_PORT_INTERDOMAIN = 2 };

struct sim_port {
	uint32_t state;
	uint32_t remote_domid;          /* unbound: who may bind; interdomain: the peer */
	uint32_t remote_port;
	uint32_t owner_pid;             /* the process that bound it (its death closes the port, as the
					 * kernel closes a dead process's event channels) */
};

struct sim_domain_hdr {
	uint64_t magic;
	uint32_t version;
	uint32_t domid;
	uint32_t alive;
	uint32_t pad;
	uint64_t grant_bitmap[SIM_GRANT_ENTRIES / 64];
	uint64_t frame_bitmap[SIM_POOL_PAGES / 64];
	struct sim_port ports[SIM_PORTS];
	struct sim_grant grants[SIM_GRANT_ENTRIES];
};

_Static_assert(sizeof(struct sim_domain_hdr) <= SIM_HDR_SIZE, "header fits its reserved space");

/* One mapped domain file. */
struct sim_domain {
	int fd;
	vha_domid_t domid;
	struct sim_domain_hdr *hdr;
};

/* Room for a file path inside the simulation directory, NUL included. */
#define SIM_PATH_MAX PATH_MAX
/* A path and a temporary suffix (".<pid>.tmp") fit in this. */
#define SIM_TMP_PATH_MAX (SIM_PATH_MAX + 32)

/* Paths inside the simulation directory. */
int sim_domain_path(char *buf, size_t len, const char *simdir, vha_domid_t domid);
int sim_fifo_path(char *buf, size_t len, const char *simdir, vha_domid_t domid, uint32_t port);

/* Map an existing domain file (header only). -ESRCH if missing. */
int sim_domain_attach(const char *simdir, vha_domid_t domid, struct sim_domain *d);
void sim_domain_detach(struct sim_domain *d);
/* File offset of pool page `frame`. */
static inline uint64_t sim_frame_offset(uint32_t frame)
{
	return SIM_HDR_SIZE + (uint64_t)frame * VHA_PAGE_SIZE;
}
bool sim_domain_alive(const struct sim_domain *d);

/* Allocation bitmaps shared between processes: returns the index or -ENOSPC. */
int sim_bitmap_alloc(uint64_t *bitmap, uint32_t nbits, uint32_t hint);
void sim_bitmap_free(uint64_t *bitmap, uint32_t bit);

/* Release a grant entry and its frame (the entry is no longer referenced). */
void sim_grant_free_entry(struct sim_domain_hdr *h, uint32_t ref);

/* Lock the port tables of one or two domains (fixed order; b may equal a or be NULL). */
void sim_ports_lock(struct sim_domain *a, struct sim_domain *b);
void sim_ports_unlock(struct sim_domain *a, struct sim_domain *b);

/* The sim platform's private state. */
struct sim_platform {
	char *simdir;
	vha_domid_t domid;
};

extern const struct vha_platform_ops vha_platform_sim_ops;

int sim_gnttab_open(struct vha_platform *p, void **priv);
void sim_gnttab_close(void *priv);
int sim_gnttab_map(void *priv, vha_domid_t domid, uint32_t count, const vha_grant_ref_t *refs, bool writable,
		   void **addr_out);
int sim_gnttab_unmap(void *priv, void *addr, uint32_t count);
int sim_gnttab_copy(void *priv, struct vha_grant_copy_seg *segs, uint32_t count);
int sim_gntshr_open(struct vha_platform *p, void **priv);
void sim_gntshr_close(void *priv);
void *sim_gntshr_share(void *priv, vha_domid_t domid, uint32_t count, vha_grant_ref_t *refs, bool writable);
int sim_gntshr_unshare(void *priv, void *addr, uint32_t count);

int sim_evtchn_open(struct vha_platform *p, void **priv);
void sim_evtchn_close(void *priv);
int sim_evtchn_fd(void *priv);
int sim_evtchn_bind_unbound(void *priv, vha_domid_t remote);
int sim_evtchn_bind_interdomain(void *priv, vha_domid_t remote, vha_evtchn_port_t remote_port);
int sim_evtchn_unbind(void *priv, vha_evtchn_port_t port);
int sim_evtchn_notify(void *priv, vha_evtchn_port_t port);
int sim_evtchn_pending(void *priv);
int sim_evtchn_unmask(void *priv, vha_evtchn_port_t port);

#endif
