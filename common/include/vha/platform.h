/* SPDX-License-Identifier: MIT */
/*
 * The platform layer: grant tables, event channels and xenstore behind one
 * ops table, with two implementations chosen at run time:
 *
 *   "xen"  libxengnttab, libxengntshr, libxenevtchn, libxenstore on a real
 *          hypervisor (/dev/xen/{gntdev,gntalloc,evtchn}).
 *   "sim"  the simulated platform (common/sim/): shared-memory grant tables,
 *          FIFO-based event channels, and the project's xenstored on a unix
 *          socket. Same semantics, no hypervisor.
 *
 * Both implementations talk to xenstore through the real libxenstore.
 *
 * Conventions: every function returns 0 (or a count / port / pointer) on
 * success and a negative errno on failure; none of them logs unless its
 * comment says "Logs errors.". Handles are not thread-safe unless stated;
 * use one vha_evtchn per thread that polls.
 */
#ifndef VHA_PLATFORM_H
#define VHA_PLATFORM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <xen/xen.h>

/*
 * The highest id an ordinary domain can have: ids from Xen's
 * DOMID_FIRST_RESERVED (DOMID_SELF, DOMID_IO, ...) up name no guest.
 * Signed, so `domid > VHA_DOMID_MAX` compares without sign surprises.
 */
#define VHA_DOMID_MAX ((int)DOMID_FIRST_RESERVED - 1)

#define VHA_PAGE_SIZE 4096u
#define VHA_PAGE_SHIFT 12

struct xs_handle;
struct vha_platform;
struct vha_gnttab;
struct vha_gntshr;
struct vha_evtchn;

typedef uint32_t vha_domid_t;
typedef uint32_t vha_grant_ref_t;
typedef uint32_t vha_evtchn_port_t;

/* How to pick and set up a platform. Zero-initialise, then fill in. */
struct vha_platform_config {
	/* "xen", "sim", or NULL: take $VHA_PLATFORM, default "xen". */
	const char *kind;
	/* sim only: the simulation directory (NULL: $VHA_SIM_DIR). */
	const char *sim_dir;
	/* sim only: this process's domain id (-1: $VHA_SIM_DOMID, default 0). */
	int sim_domid;
};

/*
 * Open the platform. On failure *out is NULL and the return value is
 * -errno; vha_platform_strerror() explains it for a human (e.g. "no
 * /dev/xen/gntdev: not running on Xen; use the sim platform
 * (--platform=sim)"). Logs errors.
 */
int vha_platform_open(const struct vha_platform_config *cfg, struct vha_platform **out);
/* Idempotent; NULL is fine. Closes nothing the caller opened itself. */
void vha_platform_close(struct vha_platform *p);
/* Human explanation of the last vha_platform_open failure in this thread. */
const char *vha_platform_strerror(void);
/* "xen" or "sim". */
const char *vha_platform_kind(const struct vha_platform *p);
/* This domain's id (sim: configured; xen: read from xenstore "domid"). */
vha_domid_t vha_platform_domid(const struct vha_platform *p);

/*
 * xenstore through the real libxenstore. On sim, the connection goes to this
 * domain's socket in the simulation directory, whatever $XENSTORED_PATH says
 * (it is set only around xs_open and then restored, and the connection is
 * socket-only, never /dev/xen/xenbus). Returns NULL with errno set. The
 * caller closes it with xs_close().
 * Any number of handles may be opened.
 */
struct xs_handle *vha_platform_xs_open(struct vha_platform *p);

/* ---------------- Grant tables: the mapping (backend) side ---------------- */

int vha_gnttab_open(struct vha_platform *p, struct vha_gnttab **out);
void vha_gnttab_close(struct vha_gnttab *g);

/*
 * Map `count` grants of domain `domid` into one contiguous range of `count`
 * pages. `writable` asks for write access (a disk read into guest memory);
 * a read-only grant mapped writable fails (as Xen does: never map with more
 * rights than needed). All or nothing: on any failure nothing stays mapped.
 * Errors on sim: -EINVAL bad ref / count, -EACCES wrong domid, no permit or
 * read-only grant mapped writable, -ESRCH no such domain, -ENOMEM. On xen,
 * gntdev reports most refusals as -EINVAL: treat any error as "refused".
 * Thread-safe.
 */
int vha_gnttab_map(struct vha_gnttab *g, vha_domid_t domid, uint32_t count,
		   const vha_grant_ref_t *refs, bool writable, void **addr_out);
/* Unmap a range returned by vha_gnttab_map (same count). Thread-safe. */
int vha_gnttab_unmap(struct vha_gnttab *g, void *addr, uint32_t count);

/* One grant-copy segment: either side is a foreign grant or a local buffer. */
struct vha_grant_copy_seg {
	struct {
		bool foreign;           /* true: ref/domid/offset; false: virt */
		vha_grant_ref_t ref;
		vha_domid_t domid;
		uint16_t offset;
		void *virt;
	} src, dst;
	uint16_t len;                   /* offset + len must stay within one page */
	int16_t status;                 /* out: 0 or -errno for this segment */
};

/*
 * Copy data between granted pages and local buffers in one call (Xen's
 * GNTTABOP_copy). Returns 0 when the call itself worked; each segment's
 * `status` says whether that segment was copied. A foreign source needs a
 * grant readable by us, a foreign destination a writable grant. Thread-safe.
 */
int vha_gnttab_copy(struct vha_gnttab *g, struct vha_grant_copy_seg *segs, uint32_t count);

/* ---------------- Grant tables: the sharing (frontend) side ---------------- */

int vha_gntshr_open(struct vha_platform *p, struct vha_gntshr **out);
void vha_gntshr_close(struct vha_gntshr *s);

/*
 * Allocate `count` new zeroed pages, grant each to `domid` (read-only unless
 * `writable`), and map them contiguously here. refs[i] receives the grant of
 * page i. As on real Xen (gntalloc), only pages obtained this way can be
 * granted. Returns the address or NULL with errno set. Thread-safe.
 */
void *vha_gntshr_share(struct vha_gntshr *s, vha_domid_t domid, uint32_t count,
		       vha_grant_ref_t *refs, bool writable);
/*
 * End the grants and unmap the pages. A page the peer still has mapped is
 * not reused until the peer unmaps it (the platform defers the free), so
 * this never hands a still-mapped page back out. Thread-safe.
 */
int vha_gntshr_unshare(struct vha_gntshr *s, void *addr, uint32_t count);

/* ---------------- Event channels ---------------- */

int vha_evtchn_open(struct vha_platform *p, struct vha_evtchn **out);
void vha_evtchn_close(struct vha_evtchn *e);
/* A file descriptor that polls readable when a port is pending. */
int vha_evtchn_fd(struct vha_evtchn *e);
/* Allocate an unbound port that `remote` may bind to. Returns the port. */
int vha_evtchn_bind_unbound(struct vha_evtchn *e, vha_domid_t remote);
/* Bind to `remote_port` of `remote` (which must be unbound for us). Returns the local port. */
int vha_evtchn_bind_interdomain(struct vha_evtchn *e, vha_domid_t remote, vha_evtchn_port_t remote_port);
int vha_evtchn_unbind(struct vha_evtchn *e, vha_evtchn_port_t port);
/* Signal the peer of a bound local port. */
int vha_evtchn_notify(struct vha_evtchn *e, vha_evtchn_port_t port);
/*
 * Next pending port, or -EAGAIN if none (never blocks). As with
 * libxenevtchn, a delivered port stays masked until vha_evtchn_unmask();
 * events arriving meanwhile are remembered and delivered on unmask.
 */
int vha_evtchn_pending(struct vha_evtchn *e);
int vha_evtchn_unmask(struct vha_evtchn *e, vha_evtchn_port_t port);

/* ---------------- The ops table each implementation provides ---------------- */

/*
 * Member by member: every member is required. `priv` pointers are the
 * implementation's own state. The public functions above check arguments
 * common to both implementations and then call these.
 */
struct vha_platform_ops {
	const char *name;
	/* Probe and open; fill p->priv. Set a human message with vha_platform_set_error(). */
	int (*open)(struct vha_platform *p, const struct vha_platform_config *cfg);
	void (*close)(struct vha_platform *p);
	struct xs_handle *(*xs_open)(struct vha_platform *p);

	int (*gnttab_open)(struct vha_platform *p, void **priv);
	void (*gnttab_close)(void *priv);
	int (*gnttab_map)(void *priv, vha_domid_t domid, uint32_t count, const vha_grant_ref_t *refs,
			  bool writable, void **addr_out);
	int (*gnttab_unmap)(void *priv, void *addr, uint32_t count);
	int (*gnttab_copy)(void *priv, struct vha_grant_copy_seg *segs, uint32_t count);

	int (*gntshr_open)(struct vha_platform *p, void **priv);
	void (*gntshr_close)(void *priv);
	void *(*gntshr_share)(void *priv, vha_domid_t domid, uint32_t count, vha_grant_ref_t *refs, bool writable);
	int (*gntshr_unshare)(void *priv, void *addr, uint32_t count);

	int (*evtchn_open)(struct vha_platform *p, void **priv);
	void (*evtchn_close)(void *priv);
	int (*evtchn_fd)(void *priv);
	int (*evtchn_bind_unbound)(void *priv, vha_domid_t remote);
	int (*evtchn_bind_interdomain)(void *priv, vha_domid_t remote, vha_evtchn_port_t remote_port);
	int (*evtchn_unbind)(void *priv, vha_evtchn_port_t port);
	int (*evtchn_notify)(void *priv, vha_evtchn_port_t port);
	int (*evtchn_pending)(void *priv);
	int (*evtchn_unmask)(void *priv, vha_evtchn_port_t port);
};

#endif
