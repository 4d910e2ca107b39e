// SPDX-License-Identifier: MIT
/*
 * Longer than the tree's 800-line guide on purpose: one program that a
 * busybox guest runs as it is, its phases sharing one hand-made frontend.
 *
 * vha-hostile: a hostile blkif frontend for a guest on real Xen (the suite's
 * case 11, issue 9), built from libvhafront and the platform layer. The sim
 * tests (tests/integration/test_hostile_*.c) do these things to a backend in
 * the same machine; on real Xen the hostile guest and the backend it attacks
 * are different domains, the grants and events are the hypervisor's, and a
 * mistake in vha-backend's handling shows up as a dead daemon, a stalled
 * neighbour or a dom0 kernel warning (gntdev, evtchn). This program runs in
 * the hostile guest against its own disk, served by the same vha-backend
 * process as an honest guest's disk, and does, in order:
 *
 *   honest     libvhafront connects, writes, reads back, closes (the disk works)
 *   connect    a hand-made ring (1 page, 16 pool pages) goes Connected
 *   garbage    bad operations, bad segment counts and bounds, sectors past
 *              the end and overflowing, refs never granted or ended, a read
 *              into a read-only grant, bad indirect requests, a bad discard:
 *              each must get an error response with zeroed padding
 *   storm      events with no requests in a tight loop (XSA-332)
 *   flip       a thread rewrites live requests while the backend serves
 *              them (double fetch, XSA-155), direct and indirect
 *   overrun    req_prod jumped far past the ring: the device must close
 *   reconnect  the connect nodes wrong one at a time (ring-ref never
 *              granted / out of range / not a number / missing,
 *              event-channel 0 / not ours / bound elsewhere, ring order 9,
 *              17 queues, junk protocol): each must end Closed
 *   states     the state node (and ring-ref, event-channel) rewritten in a
 *              tight loop with every value and garbage (XSA-349)
 *   recover    libvhafront connects again and verifies; close: Closed
 *
 * Every line it prints starts with "HOSTILE"; the last one is
 * "HOSTILE-SUMMARY ...". Exit 0 when the backend reacted as expected to
 * every action, 1 when it did not (each such action is printed with
 * "UNEXPECTED"), 2 for bad arguments.
 *
 * A second command, `wait-node PATH SECONDS`, waits for a xenstore node
 * (relative to this domain) to exist: the suite's guests use it to start and
 * stop together (busybox has no xenstore client).
 *
 * Works on the sim platform too (VHA_PLATFORM=sim, VHA_SIM_DIR,
 * VHA_SIM_DOMID, or --platform/--sim-dir/--domid), for trying it out.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <xenstore.h>

#include "vha/blkif.h"
#include "vha/cli.h"
#include "vha/front.h"
#include "vha/log.h"
#include "vha/platform.h"
#include "vha/xenbus.h"

#define POOL_PAGES 16u
#define INDIRECT_PAGE 15u       /* pool page that holds indirect segment lists */
#define RSP_TIMEOUT_S 10.0      /* a response later than this counts as never answered */
#define STATE_TIMEOUT_S 15.0    /* a backend state change later than this counts as missing */
#define HONEST_BYTES (256u << 10)
#define NO_RESPONSE (-1000)
#define BAD_RING (-1001)

/* The phases, in the order they run; --phases picks some (default: all). */
enum phase {
	PH_HONEST = 1u << 0,
	PH_GARBAGE = 1u << 1,
	PH_STORM = 1u << 2,
	PH_FLIP = 1u << 3,
	PH_OVERRUN = 1u << 4,
	PH_RECONNECT = 1u << 5,
	PH_STATES = 1u << 6,
	PH_RECOVER = 1u << 7,
	PH_ALL = (1u << 8) - 1,
	PH_RING = PH_GARBAGE | PH_STORM | PH_FLIP | PH_OVERRUN,        /* need the hand-made ring */
};
static const char *const phase_names[] = { "honest", "garbage", "storm", "flip", "overrun", "reconnect", "states",
					    "recover" };

static struct {
	const char *platform, *sim_dir;
	int domid;
	unsigned int devid;
	double storm_s, flip_s, states_s;
	unsigned int flip_rounds;
	unsigned int phases;
} opt = { .domid = -1, .devid = 51712, .storm_s = 4, .flip_s = 4, .states_s = 4, .flip_rounds = 200,
	  .phases = PH_ALL };

/* "storm,flip" -> a mask; 0 on a name that is no phase. */
static unsigned int parse_phases(const char *list)
{
	unsigned int mask = 0;
	char buf[128], *save = NULL;

	if (strlen(list) >= sizeof(buf))
		return 0;
	snprintf(buf, sizeof(buf), "%s", list);
	for (char *w = strtok_r(buf, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
		unsigned int i = 0;

		while (i < sizeof(phase_names) / sizeof(phase_names[0]) && strcmp(w, phase_names[i]))
			i++;
		if (i == sizeof(phase_names) / sizeof(phase_names[0]))
			return 0;
		mask |= 1u << i;
	}
	return mask;
}

static unsigned int n_actions, n_unexpected;
static struct {
	unsigned int bad_requests, rejected, bad_reconnects, reconnects_closed, flip_rounds, flip_ok, flip_err;
	uint64_t storm_events, flip_rewrites, state_writes;
	int overrun_state, final_state;
} sum = { .overrun_state = -1, .final_state = -1 };

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One hostile action and whether the backend reacted as it must. */
static void outcome(bool expected, const char *phase, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void outcome(bool expected, const char *phase, const char *fmt, ...)
{
	va_list ap;

	n_actions++;
	if (!expected)
		n_unexpected++;
	printf("HOSTILE %s %s: ", phase, expected ? "ok" : "UNEXPECTED");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	va_list ap;

	printf("HOSTILE ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

/* The hand-made frontend: one queue, one ring page, a pool of granted pages. */
struct hfe {
	struct vha_platform *p;
	struct xs_handle *xs;
	struct vha_gntshr *shr;
	struct vha_evtchn *ev;
	struct vha_blkif_front ring;
	void *sring;
	grant_ref_t ring_ref;
	int port;
	unsigned char *pool;
	grant_ref_t pool_refs[POOL_PAGES];
	char dir[64];
	char *be_dir;
	unsigned int be_domid;
	uint64_t sectors, max_indirect;
};

static int backend_state(struct hfe *h)
{
	return vha_xenbus_read_state(h->xs, XBT_NULL, h->be_dir);
}

static const char *state_name(int st)
{
	return st >= 0 ? vha_xenbus_state_name(st) : "missing";
}

/* Wait until the backend's state is want1 or want2; returns the last state seen. */
static int wait_backend(struct hfe *h, int want1, int want2, double timeout)
{
	double end = now_s() + timeout;
	int st;

	do {
		st = backend_state(h);
		if (st == want1 || st == want2)
			return st;
		usleep(20000);
	} while (now_s() < end);
	return st;
}

/* The backend's error node, sanitised for one line (the caller frees). */
static char *backend_error(struct hfe *h)
{
	char *err = NULL;

	if (vha_xs_read_str(h->xs, XBT_NULL, h->be_dir, "error", &err) < 0 || !err)
		return strdup("(none)");
	for (char *c = err; *c; c++)
		if ((unsigned char)*c < 0x20)
			*c = '?';
	return err;
}

/* Remove every connect node a frontend may have left, so the next attempt starts clean. */
static void clean_nodes(struct hfe *h)
{
	static const char *const nodes[] = { "ring-ref", "ring-ref0", "ring-ref1", "event-channel", "ring-page-order",
					     "multi-queue-num-queues", "queue-0", "queue-1", "feature-persistent" };

	for (size_t i = 0; i < sizeof(nodes) / sizeof(nodes[0]); i++)
		vha_xs_rm(h->xs, XBT_NULL, h->dir, nodes[i]);
}

/* Frontend Initialising, wait for the backend's InitWait. */
static bool start_over(struct hfe *h, const char *phase)
{
	int st;

	vha_xenbus_write_state(h->xs, XBT_NULL, h->dir, XenbusStateInitialising);
	st = wait_backend(h, XenbusStateInitWait, XenbusStateInitWait, STATE_TIMEOUT_S);
	if (st != XenbusStateInitWait) {
		outcome(false, phase, "backend did not offer InitWait again after the frontend went Initialising (state %s)",
			state_name(st));
		return false;
	}
	return true;
}

/* A fresh ring page and event channel; the old ones (if any) are given up. */
static bool new_ring(struct hfe *h)
{
	if (h->sring)
		vha_gntshr_unshare(h->shr, h->sring, 1);
	if (h->port > 0)
		vha_evtchn_unbind(h->ev, (vha_evtchn_port_t)h->port);
	h->port = 0;
	h->sring = vha_gntshr_share(h->shr, h->be_domid, 1, &h->ring_ref, true);
	if (!h->sring) {
		say("cannot share a ring page: %s", strerror(errno));
		return false;
	}
	vha_blkif_front_init(&h->ring, h->sring, 1);
	h->port = vha_evtchn_bind_unbound(h->ev, h->be_domid);
	if (h->port <= 0) {
		say("cannot allocate an event channel: %s", strerror(-h->port));
		h->port = 0;
		return false;
	}
	return true;
}

/* Publish the ring (Initialised) and wait for Connected; honest values. */
static bool raw_connect(struct hfe *h, const char *phase)
{
	xs_transaction_t t;
	uint64_t v;
	int st;

	clean_nodes(h);
	if (!new_ring(h))
		return false;
	do {
		t = xs_transaction_start(h->xs);
		if (t == XBT_NULL)
			return false;
		vha_xs_write_uint(h->xs, t, h->dir, "ring-ref", h->ring_ref);
		vha_xs_write_uint(h->xs, t, h->dir, "event-channel", (uint64_t)h->port);
		vha_xs_printf(h->xs, t, h->dir, "protocol", "%s", VHA_BLKIF_PROTOCOL_NATIVE);
		vha_xenbus_write_state(h->xs, t, h->dir, XenbusStateInitialised);
	} while (!xs_transaction_end(h->xs, t, false) && errno == EAGAIN);
	st = wait_backend(h, XenbusStateConnected, XenbusStateClosed, STATE_TIMEOUT_S);
	if (st != XenbusStateConnected) {
		char *err = backend_error(h);

		outcome(false, phase, "honest hand-made connect: backend state %s, error '%s'", state_name(st), err);
		free(err);
		return false;
	}
	vha_xenbus_write_state(h->xs, XBT_NULL, h->dir, XenbusStateConnected);
	vha_xs_read_uint(h->xs, XBT_NULL, h->be_dir, "sectors", 0, &h->sectors);
	vha_xs_read_uint(h->xs, XBT_NULL, h->be_dir, "feature-max-indirect-segments", 0, &v);
	h->max_indirect = v;
	return true;
}

/*
 * Send one raw request and wait for its response; raw gets the response's
 * 16 bytes as they lay in the ring. Returns the status, NO_RESPONSE or
 * BAD_RING. A response with another id is stray: counted, skipped.
 */
static int send_raw(struct hfe *h, const void *req, size_t len, unsigned char raw[16])
{
	struct blkif_response rsp;
	struct pollfd pfd = { .fd = vha_evtchn_fd(h->ev), .events = POLLIN };
	uint64_t id;
	double end = now_s() + RSP_TIMEOUT_S;
	int port;

	memcpy(&id, (const unsigned char *)req + offsetof(blkif_request_t, id), sizeof(id));
	vha_blkif_front_queue(&h->ring, req, len);
	if (vha_blkif_front_push(&h->ring))
		vha_evtchn_notify(h->ev, (vha_evtchn_port_t)h->port);
	for (;;) {
		RING_IDX slot = h->ring.ring.rsp_cons;
		int r = vha_blkif_front_take_response(&h->ring, &rsp);

		if (r < 0)
			return BAD_RING;
		if (r == 1) {
			if (raw)
				memcpy(raw, RING_GET_RESPONSE(&h->ring.ring, slot), 16);
			if (rsp.id == id)
				return rsp.status;
			say("stray response id %" PRIu64 " (waiting for %" PRIu64 ")", rsp.id, id);
			continue;
		}
		if (vha_blkif_front_final_check(&h->ring))
			continue;
		if (now_s() > end)
			return NO_RESPONSE;
		poll(&pfd, 1, 100);
		while ((port = vha_evtchn_pending(h->ev)) >= 0)
			vha_evtchn_unmask(h->ev, (vha_evtchn_port_t)port);
	}
}

static blkif_request_t rw_req(struct hfe *h, uint8_t op, uint64_t sector, unsigned int nseg)
{
	static uint64_t next_id = 0x4000;
	blkif_request_t r;

	memset(&r, 0, sizeof(r));
	r.operation = op;
	r.nr_segments = (uint8_t)nseg;
	r.id = next_id++;
	r.sector_number = sector;
	for (unsigned int i = 0; i < nseg && i < BLKIF_MAX_SEGMENTS_PER_REQUEST; i++) {
		r.seg[i].gref = h->pool_refs[i % POOL_PAGES];
		r.seg[i].first_sect = 0;
		r.seg[i].last_sect = 7;
	}
	return r;
}

static const char *status_name(int st)
{
	switch (st) {
	case BLKIF_RSP_OKAY: return "OKAY";
	case BLKIF_RSP_ERROR: return "ERROR";
	case BLKIF_RSP_EOPNOTSUPP: return "EOPNOTSUPP";
	case NO_RESPONSE: return "no response";
	case BAD_RING: return "broken response ring";
	default: return "unknown status";
	}
}

/* An honest request through the hand-made ring must still work. */
static bool honest_read(struct hfe *h, const char *phase, const char *when)
{
	blkif_request_t r = rw_req(h, BLKIF_OP_READ, 0, 1);
	int st = send_raw(h, &r, sizeof(r), NULL);

	outcome(st == BLKIF_RSP_OKAY, phase, "honest read %s: %s", when, status_name(st));
	return st == BLKIF_RSP_OKAY;
}

/* A grant reference this domain granted once and then ended: no longer valid. */
static grant_ref_t ended_ref(struct hfe *h)
{
	grant_ref_t ref = 0;
	void *page = vha_gntshr_share(h->shr, h->be_domid, 1, &ref, true);

	if (!page)
		return 1u << 30;
	vha_gntshr_unshare(h->shr, page, 1);
	return ref;
}

/* ------------------------------------------------------------------ phases */

static bool phase_honest(struct vha_platform *p, const char *phase)
{
	struct vha_front_opts fo = { .timeout_ms = 20000 };
	struct vha_front *f = NULL;
	unsigned char *out = malloc(HONEST_BYTES), *in = malloc(HONEST_BYTES);
	unsigned int seed = (unsigned int)time(NULL);
	bool ok = false;
	int rc;

	if (!out || !in)
		goto done;
	rc = vha_front_open(p, opt.devid, &fo, &f);
	if (rc < 0) {
		outcome(false, phase, "libvhafront could not connect: %s", strerror(-rc));
		goto done;
	}
	for (size_t i = 0; i < HONEST_BYTES; i++)
		out[i] = (unsigned char)rand_r(&seed);
	rc = vha_front_write(f, 1u << 20, out, HONEST_BYTES);
	if (rc == 0)
		rc = vha_front_read(f, 1u << 20, in, HONEST_BYTES);
	ok = rc == 0 && memcmp(in, out, HONEST_BYTES) == 0;
	{
		const struct vha_front_info *fi = vha_front_get_info(f);

		outcome(ok, phase, "libvhafront: %u KiB written and read back %s (disk %" PRIu64
			" sectors, %u ring page(s), %u queue(s), persistent %s, indirect %u)", HONEST_BYTES >> 10,
			ok ? "intact" : rc ? strerror(-rc) : "DIFFERENT", fi->sectors, fi->ring_pages, fi->queues,
			fi->persistent ? "yes" : "no", fi->max_indirect_segments);
	}
	vha_front_close(f);
done:
	free(out);
	free(in);
	return ok;
}

static void phase_garbage(struct hfe *h)
{
	const char *phase = "garbage";
	struct { const char *name; unsigned char req[sizeof(blkif_request_t)]; } c[24];
	unsigned int n = 0;
	unsigned char raw[16];
	blkif_request_t r;
	uint64_t end = h->sectors;
	grant_ref_t roref = 0;
	unsigned char *ropage;

	/* An honest write, then a read that brings it back. */
	memset(h->pool, 0x3c, 2 * VHA_PAGE_SIZE);
	r = rw_req(h, BLKIF_OP_WRITE, 64, 2);
	{
		int w = send_raw(h, &r, sizeof(r), NULL), rd;

		memset(h->pool, 0, 2 * VHA_PAGE_SIZE);
		r = rw_req(h, BLKIF_OP_READ, 64, 2);
		rd = send_raw(h, &r, sizeof(r), raw);
		outcome(w == BLKIF_RSP_OKAY && rd == BLKIF_RSP_OKAY && h->pool[0] == 0x3c &&
			h->pool[2 * VHA_PAGE_SIZE - 1] == 0x3c, phase, "hand-made ring: 8 KiB written (%s) and read back (%s)",
			status_name(w), status_name(rd));
	}
	/* Shared before the ended refs are made, so no later share takes their numbers again. */
	ropage = vha_gntshr_share(h->shr, h->be_domid, 1, &roref, false);

#define ADD(label, req_value) do { blkif_request_t q_ = (req_value); c[n].name = (label); \
		memcpy(c[n].req, &q_, sizeof(q_)); n++; } while (0)
	ADD("unknown operation 99", rw_req(h, 99, 0, 1));
	ADD("read with 0 segments", rw_req(h, BLKIF_OP_READ, 0, 0));
	r = rw_req(h, BLKIF_OP_READ, 0, 11);
	r.nr_segments = 12;
	ADD("12 direct segments", r);
	r = rw_req(h, BLKIF_OP_WRITE, 0, 11);
	r.nr_segments = 255;
	ADD("write with 255 direct segments", r);
	r = rw_req(h, BLKIF_OP_READ, 0, 1);
	r.seg[0].first_sect = 5;
	r.seg[0].last_sect = 3;
	ADD("first_sect > last_sect", r);
	r = rw_req(h, BLKIF_OP_READ, 0, 1);
	r.seg[0].last_sect = 8;
	ADD("last_sect 8", r);
	ADD("read past the end", rw_req(h, BLKIF_OP_READ, end - 4, 1));
	ADD("write past the end", rw_req(h, BLKIF_OP_WRITE, end, 1));
	ADD("sector overflow", rw_req(h, BLKIF_OP_READ, UINT64_MAX - 2, 1));
	r = rw_req(h, BLKIF_OP_READ, 0, 1);
	r.seg[0].gref = 1u << 30;
	ADD("ref far out of range", r);
	{
		blkif_request_indirect_t *ind = (blkif_request_indirect_t *)&r;

		memset(&r, 0, sizeof(r));
		ind->operation = BLKIF_OP_INDIRECT;
		ind->indirect_op = BLKIF_OP_DISCARD;
		ind->nr_segments = 1;
		ind->id = 0x7700;
		ind->indirect_grefs[0] = h->pool_refs[INDIRECT_PAGE];
		ADD("indirect with indirect_op discard", r);
		ind->indirect_op = BLKIF_OP_READ;
		ind->nr_segments = 60000;
		ind->id = 0x7701;
		ADD("indirect with 60000 segments", r);
		ind->nr_segments = 0;
		ind->id = 0x7702;
		ADD("indirect with 0 segments", r);
	}
	{
		blkif_request_discard_t *d = (blkif_request_discard_t *)&r;

		memset(&r, 0, sizeof(r));
		d->operation = BLKIF_OP_DISCARD;
		d->id = 0x7710;
		d->sector_number = end - 8;
		d->nr_sectors = 1u << 20;
		ADD("discard past the end", r);
	}
	/* The ended refs last: nothing is shared after them. */
	r = rw_req(h, BLKIF_OP_READ, 0, 1);
	r.seg[0].gref = ended_ref(h);
	ADD("read into a ref whose grant was ended", r);
	r = rw_req(h, BLKIF_OP_WRITE, 0, 2);
	r.seg[1].gref = ended_ref(h);
	ADD("write from an ended ref (second segment)", r);
	{
		blkif_request_indirect_t *ind = (blkif_request_indirect_t *)&r;
		struct blkif_request_segment *segs = (struct blkif_request_segment *)(h->pool + INDIRECT_PAGE * VHA_PAGE_SIZE);

		for (unsigned int i = 0; i < 8; i++)
			segs[i] = (struct blkif_request_segment){ .gref = h->pool_refs[i], .first_sect = 0, .last_sect = 7 };
		memset(&r, 0, sizeof(r));
		ind->operation = BLKIF_OP_INDIRECT;
		ind->indirect_op = BLKIF_OP_READ;
		ind->nr_segments = 8;
		ind->id = 0x7720;
		ind->indirect_grefs[0] = ended_ref(h);
		ADD("indirect page ref ended", r);
	}
#undef ADD
	for (unsigned int i = 0; i < n; i++) {
		int st;
		bool pad;

		memset(raw, 0, sizeof(raw));
		st = send_raw(h, c[i].req, sizeof(c[i].req), raw);
		pad = raw[9] == 0 && (raw[12] | raw[13] | raw[14] | raw[15]) == 0;

		sum.bad_requests++;
		if (st == BLKIF_RSP_ERROR || st == BLKIF_RSP_EOPNOTSUPP)
			sum.rejected++;
		outcome((st == BLKIF_RSP_ERROR || st == BLKIF_RSP_EOPNOTSUPP) && pad, phase, "%s: %s%s", c[i].name,
			status_name(st), pad ? "" : ", padding NOT zero");
		if (st == NO_RESPONSE || st == BAD_RING)
			return;
	}
	/* The backend granted only read access to this page: a disk read into it must fail, not write it. */
	if (ropage) {
		int st;
		bool clean = true;

		r = rw_req(h, BLKIF_OP_READ, 64, 1);
		r.seg[0].gref = roref;
		st = send_raw(h, &r, sizeof(r), NULL);
		for (unsigned int i = 0; i < VHA_PAGE_SIZE; i++)
			clean = clean && ropage[i] == 0;
		sum.bad_requests++;
		if (st == BLKIF_RSP_ERROR)
			sum.rejected++;
		outcome(st == BLKIF_RSP_ERROR && clean, phase, "disk read into a read-only grant: %s, page %s",
			status_name(st), clean ? "untouched" : "WRITTEN");
		vha_gntshr_unshare(h->shr, ropage, 1);
	} else {
		say("%s: cannot share a read-only page (%s): that action left out", phase, strerror(errno));
	}
	honest_read(h, phase, "after the garbage");
}

static void phase_storm(struct hfe *h)
{
	double t0 = now_s(), end = t0 + opt.storm_s, took;
	uint64_t sent = 0, failed = 0;

	while (now_s() < end) {
		for (unsigned int i = 0; i < 256; i++) {
			if (vha_evtchn_notify(h->ev, (vha_evtchn_port_t)h->port) < 0)
				failed++;
			else
				sent++;
		}
	}
	took = now_s() - t0;
	sum.storm_events = sent;
	say("storm: %" PRIu64 " events with no request in %.1f s (%.0f/s), %" PRIu64 " refused", sent, took,
	    (double)sent / took, failed);
	honest_read(h, "storm", "after the storm");
}

struct flipper {
	volatile unsigned char *bytes;
	size_t len;
	volatile bool stop;
	uint64_t rewrites;
	unsigned int seed;
};

/* Rewrites bytes with random values until told to stop: the guest racing the backend's reads. */
static void *flip_thread(void *arg)
{
	struct flipper *fl = arg;

	while (!fl->stop) {
		for (size_t i = 0; i < fl->len; i++)
			fl->bytes[i] = (unsigned char)rand_r(&fl->seed);
		fl->rewrites++;
	}
	return NULL;
}

static void phase_flip(struct hfe *h)
{
	const char *phase = "flip";
	double end = now_s() + opt.flip_s;
	unsigned int round;
	bool answered_all = true;

	for (round = 0; round < opt.flip_rounds && now_s() < end; round++) {
		bool indirect = round % 2;
		blkif_request_t *live = RING_GET_REQUEST(&h->ring.ring, h->ring.ring.req_prod_pvt), r;
		struct flipper fl = { .seed = 777 + round };
		pthread_t th;
		int st;

		if (indirect) {
			blkif_request_indirect_t *ind = (blkif_request_indirect_t *)&r;
			struct blkif_request_segment *segs =
				(struct blkif_request_segment *)(h->pool + INDIRECT_PAGE * VHA_PAGE_SIZE);

			memset(&r, 0, sizeof(r));
			ind->operation = BLKIF_OP_INDIRECT;
			ind->indirect_op = BLKIF_OP_READ;
			ind->nr_segments = 8;
			ind->id = 0x9000 + round;
			ind->sector_number = 64;
			ind->indirect_grefs[0] = h->pool_refs[INDIRECT_PAGE];
			for (unsigned int i = 0; i < 8; i++)
				segs[i] = (struct blkif_request_segment){ .gref = h->pool_refs[i], .first_sect = 0, .last_sect = 7 };
			fl.bytes = (volatile unsigned char *)segs;
			fl.len = 8 * sizeof(*segs);
		} else {
			r = rw_req(h, BLKIF_OP_READ, 64, 4);
			/* Everything after the id (a response overlays the first 16 bytes). */
			fl.bytes = (volatile unsigned char *)live + offsetof(blkif_request_t, sector_number);
			fl.len = sizeof(*live) - offsetof(blkif_request_t, sector_number);
		}
		if (pthread_create(&th, NULL, flip_thread, &fl) != 0) {
			say("flip: cannot start the flipper thread");
			break;
		}
		st = send_raw(h, &r, sizeof(r), NULL);
		fl.stop = true;
		pthread_join(th, NULL);
		sum.flip_rewrites += fl.rewrites;
		if (st == BLKIF_RSP_OKAY) {
			sum.flip_ok++;
		} else if (st == BLKIF_RSP_ERROR || st == BLKIF_RSP_EOPNOTSUPP) {
			sum.flip_err++;
		} else {
			outcome(false, phase, "round %u (%s): %s", round, indirect ? "indirect" : "direct", status_name(st));
			answered_all = false;
			round++;
			break;
		}
	}
	sum.flip_rounds = round;
	if (answered_all)
		outcome(true, phase, "%u requests raced by %" PRIu64 " rewrites: each answered once (%u OKAY, %u error)",
			round, sum.flip_rewrites, sum.flip_ok, sum.flip_err);
	if (answered_all)
		honest_read(h, phase, "after the races");
}

static void phase_overrun(struct hfe *h)
{
	int st;
	char *err;

	h->ring.ring.sring->req_prod = h->ring.ring.rsp_cons + 1000;
	vha_evtchn_notify(h->ev, (vha_evtchn_port_t)h->port);
	st = wait_backend(h, XenbusStateClosed, XenbusStateClosed, STATE_TIMEOUT_S);
	sum.overrun_state = st;
	err = backend_error(h);
	outcome(st == XenbusStateClosed, "overrun", "req_prod 1000 ahead of the responses: backend state %s, error '%s'",
		state_name(st), err);
	free(err);
}

enum flaw {
	F_ENDED_REF, F_HUGE_REF, F_NONNUMERIC_REF, F_NO_REF, F_PORT_ZERO, F_PORT_NOT_OURS, F_PORT_ELSEWHERE,
	F_ORDER_9, F_NQ_17, F_JUNK_PROTOCOL, F_COUNT
};

static const char *const flaw_name[F_COUNT] = {
	[F_ENDED_REF] = "ring-ref whose grant was ended",
	[F_HUGE_REF] = "ring-ref 4294967295",
	[F_NONNUMERIC_REF] = "ring-ref '12abc'",
	[F_NO_REF] = "no ring-ref",
	[F_PORT_ZERO] = "event-channel 0",
	[F_PORT_NOT_OURS] = "event-channel 4000 (never allocated)",
	[F_PORT_ELSEWHERE] = "event-channel offered to another domain",
	[F_ORDER_9] = "ring-page-order 9",
	[F_NQ_17] = "multi-queue-num-queues 17",
	[F_JUNK_PROTOCOL] = "protocol with a newline and a forged log line",
};

static void phase_reconnect(struct hfe *h)
{
	const char *phase = "reconnect";

	for (int f = 0; f < F_COUNT; f++) {
		xs_transaction_t t;
		grant_ref_t ref;
		int port, other = -1, st;
		char *err;

		if (!start_over(h, phase))
			return;
		clean_nodes(h);
		if (!new_ring(h))
			return;
		ref = h->ring_ref;
		port = h->port;
		if (f == F_ENDED_REF)
			ref = ended_ref(h);
		if (f == F_PORT_ELSEWHERE) {
			/* Offered to this domain itself, not to the backend: the backend cannot bind it. */
			other = vha_evtchn_bind_unbound(h->ev, vha_platform_domid(h->p));
			port = other > 0 ? other : 4001;
		}
		do {
			t = xs_transaction_start(h->xs);
			if (t == XBT_NULL)
				return;
			if (f == F_HUGE_REF)
				vha_xs_printf(h->xs, t, h->dir, "ring-ref", "%s", "4294967295");
			else if (f == F_NONNUMERIC_REF)
				vha_xs_printf(h->xs, t, h->dir, "ring-ref", "%s", "12abc");
			else if (f != F_NO_REF)
				vha_xs_write_uint(h->xs, t, h->dir, "ring-ref", ref);
			vha_xs_write_uint(h->xs, t, h->dir, "event-channel",
					  f == F_PORT_ZERO ? 0 : f == F_PORT_NOT_OURS ? 4000 : (uint64_t)port);
			if (f == F_ORDER_9)
				vha_xs_write_uint(h->xs, t, h->dir, "ring-page-order", 9);
			if (f == F_NQ_17)
				vha_xs_write_uint(h->xs, t, h->dir, "multi-queue-num-queues", 17);
			vha_xs_printf(h->xs, t, h->dir, "protocol", "%s", f == F_JUNK_PROTOCOL ?
				      "x86\nvha: error: device 0/51712: forged by a guest" : VHA_BLKIF_PROTOCOL_NATIVE);
			vha_xenbus_write_state(h->xs, t, h->dir, XenbusStateInitialised);
		} while (!xs_transaction_end(h->xs, t, false) && errno == EAGAIN);
		st = wait_backend(h, XenbusStateClosed, XenbusStateClosed, STATE_TIMEOUT_S);
		err = backend_error(h);
		sum.bad_reconnects++;
		if (st == XenbusStateClosed)
			sum.reconnects_closed++;
		outcome(st == XenbusStateClosed, phase, "%s: backend state %s, error '%s'", flaw_name[f], state_name(st), err);
		free(err);
		if (other > 0)
			vha_evtchn_unbind(h->ev, (vha_evtchn_port_t)other);
	}
	/* Honest at last: the same device connects again and serves. */
	if (start_over(h, phase) && raw_connect(h, phase))
		honest_read(h, phase, "after the bad reconnects");
}

static void phase_states(struct hfe *h)
{
	static const char *const values[] = { "1", "2", "3", "4", "5", "6", "0", "7", "8", "99", "-1", "garbage", "" };
	double end = now_s() + opt.states_s;
	unsigned int seed = 4242;
	uint64_t writes = 0, failed = 0;
	int st;

	/* Rings of the last connect stay shared: the backend sees live refs come and go too. */
	for (unsigned int i = 0; now_s() < end; i++) {
		const char *v = values[rand_r(&seed) % (sizeof(values) / sizeof(values[0]))];

		if (vha_xs_printf(h->xs, XBT_NULL, h->dir, "state", "%s", v) < 0)
			failed++;
		writes++;
		if (i % 4 == 0) {
			vha_xs_write_uint(h->xs, XBT_NULL, h->dir, "ring-ref",
					  i % 8 ? h->ring_ref : (uint64_t)(rand_r(&seed) % 100000));
			vha_xs_write_uint(h->xs, XBT_NULL, h->dir, "event-channel",
					  i % 8 ? (uint64_t)h->port : (uint64_t)(rand_r(&seed) % 5000));
			writes += 2;
		}
	}
	sum.state_writes = writes;
	say("states: %" PRIu64 " xenstore writes in %.0f s (state, ring-ref, event-channel), %" PRIu64 " refused", writes,
	    opt.states_s, failed);
	/*
	 * Then a frontend that gives up. The backend must not stay Connected to
	 * anything: it ends Closed, or waits in InitWait when the flipping left
	 * it there (vha-backend ignores a frontend's Closing before a connect;
	 * Linux blkback would go Closing, Closed). The recover phase then shows
	 * it still answers a handshake.
	 */
	vha_xenbus_write_state(h->xs, XBT_NULL, h->dir, XenbusStateClosing);
	st = wait_backend(h, XenbusStateClosed, XenbusStateClosed, 3);
	if (st != XenbusStateClosed)
		st = wait_backend(h, XenbusStateClosed, XenbusStateInitWait, STATE_TIMEOUT_S);
	vha_xenbus_write_state(h->xs, XBT_NULL, h->dir, XenbusStateClosed);
	outcome(st == XenbusStateClosed || st == XenbusStateInitWait, "states",
		"after the flipping, the frontend Closing: backend state %s", state_name(st));
	clean_nodes(h);
}

static int cmd_run(struct vha_platform *p)
{
	struct hfe h;
	uint64_t beid;
	double t0 = now_s();
	bool connected;

	memset(&h, 0, sizeof(h));
	h.p = p;
	snprintf(h.dir, sizeof(h.dir), "device/vbd/%u", opt.devid);
	h.xs = vha_platform_xs_open(p);
	if (!h.xs) {
		vha_cli_error("cannot connect to xenstore: %s", strerror(errno));
		return VHA_EXIT_FAILURE;
	}
	if (vha_xs_read_str(h.xs, XBT_NULL, h.dir, "backend", &h.be_dir) < 0 ||
	    vha_xs_read_uint(h.xs, XBT_NULL, h.dir, "backend-id", UINT64_MAX, &beid) < 0 || beid > VHA_DOMID_MAX) {
		vha_cli_error("no device %s in this domain's xenstore", h.dir);
		xs_close(h.xs);
		return VHA_EXIT_FAILURE;
	}
	h.be_domid = (unsigned int)beid;
	say("start: domain %u, device %s, backend %s (domain %u), platform %s", vha_platform_domid(p), h.dir, h.be_dir,
	    h.be_domid, vha_platform_kind(p));

	if ((opt.phases & PH_HONEST) && !phase_honest(p, "honest"))
		goto out;
	if (vha_gntshr_open(p, &h.shr) < 0 || vha_evtchn_open(p, &h.ev) < 0) {
		say("cannot open the grant-sharing or event-channel device");
		n_unexpected++;
		goto out;
	}
	h.pool = vha_gntshr_share(h.shr, h.be_domid, POOL_PAGES, h.pool_refs, true);
	if (!h.pool) {
		say("cannot share %u pool pages: %s", POOL_PAGES, strerror(errno));
		n_unexpected++;
		goto out;
	}
	connected = (opt.phases & PH_RING) && start_over(&h, "connect") && raw_connect(&h, "connect");
	if (connected) {
		outcome(true, "connect", "hand-made ring connected (disk %" PRIu64 " sectors, indirect segments %" PRIu64 ")",
			h.sectors, h.max_indirect);
		if (opt.phases & PH_GARBAGE)
			phase_garbage(&h);
		if (opt.phases & PH_STORM)
			phase_storm(&h);
		if (opt.phases & PH_FLIP)
			phase_flip(&h);
		if (opt.phases & PH_OVERRUN) {
			/* A moment for dom0 to sample this device's counters before it closes. */
			say("pausing 3 s before the overrun (counters of this connection are final)");
			sleep(3);
			phase_overrun(&h);
		} else {
			/* Leave as a frontend does: Closing, and the backend closes too. */
			vha_xenbus_write_state(h.xs, XBT_NULL, h.dir, XenbusStateClosing);
			outcome(wait_backend(&h, XenbusStateClosed, XenbusStateClosed, STATE_TIMEOUT_S) == XenbusStateClosed,
				"close", "the hand-made ring closed");
			vha_xenbus_write_state(h.xs, XBT_NULL, h.dir, XenbusStateClosed);
			clean_nodes(&h);
		}
	}
	if (opt.phases & PH_RECONNECT)
		phase_reconnect(&h);
	if (opt.phases & PH_STATES)
		phase_states(&h);
	/* The device recovers: libvhafront connects once more, verifies, closes. */
	if (opt.phases & PH_RECOVER)
		phase_honest(p, "recover");
	sum.final_state = wait_backend(&h, XenbusStateClosed, XenbusStateClosed, STATE_TIMEOUT_S);
	outcome(sum.final_state == XenbusStateClosed, "final", "backend state %s", state_name(sum.final_state));
out:
	if (h.sring)
		vha_gntshr_unshare(h.shr, h.sring, 1);
	if (h.pool)
		vha_gntshr_unshare(h.shr, h.pool, POOL_PAGES);
	vha_gntshr_close(h.shr);
	vha_evtchn_close(h.ev);
	free(h.be_dir);
	xs_close(h.xs);
	printf("HOSTILE-SUMMARY actions=%u unexpected=%u bad_requests=%u rejected=%u storm_events=%" PRIu64
	       " flip_rounds=%u flip_ok=%u flip_err=%u flip_rewrites=%" PRIu64 " overrun_state=%s bad_reconnects=%u"
	       " reconnects_closed=%u state_writes=%" PRIu64 " final_state=%s seconds=%.1f\n",
	       n_actions, n_unexpected, sum.bad_requests, sum.rejected, sum.storm_events, sum.flip_rounds, sum.flip_ok,
	       sum.flip_err, sum.flip_rewrites, state_name(sum.overrun_state), sum.bad_reconnects, sum.reconnects_closed,
	       sum.state_writes, state_name(sum.final_state), now_s() - t0);
	fflush(stdout);
	return n_unexpected || !n_actions ? VHA_EXIT_FAILURE : VHA_EXIT_OK;
}

/*
 * Wait for a node with a xenstore watch (it fires once at registration,
 * then on every change below the path), blocking in poll meanwhile: a guest
 * that waits costs dom0 nothing, which matters under TCG, where every wake-up
 * of xenstored slows what dom0 is doing (xl create). Without a watch, look
 * once a second.
 */
static int cmd_wait_node(struct vha_platform *p, const char *path, double secs)
{
	struct xs_handle *xs = vha_platform_xs_open(p);
	double end = now_s() + secs;
	bool watched;
	int rc = VHA_EXIT_FAILURE;

	if (!xs) {
		vha_cli_error("cannot connect to xenstore: %s", strerror(errno));
		return VHA_EXIT_FAILURE;
	}
	watched = xs_watch(xs, path, "vha-hostile-wait");
	for (;;) {
		unsigned int len;
		void *v = xs_read(xs, XBT_NULL, path, &len);
		double left = end - now_s();

		if (v) {
			free(v);
			rc = VHA_EXIT_OK;
			break;
		}
		if (left <= 0)
			break;
		if (watched) {
			struct pollfd pfd = { .fd = xs_fileno(xs), .events = POLLIN };
			char **ev;

			if (poll(&pfd, 1, left > 1 ? 1000 : (int)(left * 1000) + 1) > 0 &&
			    (ev = xs_read_watch(xs, &len)) != NULL)
				free(ev);
		} else {
			usleep(left > 1 ? 1000000 : (useconds_t)(left * 1e6));
		}
	}
	if (watched)
		xs_unwatch(xs, path, "vha-hostile-wait");
	xs_close(xs);
	return rc;
}

static void usage(FILE *out)
{
	fprintf(out,
		"usage: vha-hostile [options] run\n"
		"       vha-hostile [options] wait-node PATH SECONDS\n"
		"A hostile blkif frontend for the real-Xen suite (case 11): attacks this domain's\n"
		"device/vbd/<devid> and checks the backend's every reaction (see tests/xen/hostile.c).\n"
		"  --platform xen|sim   (default $VHA_PLATFORM, else xen)\n"
		"  --sim-dir DIR, --domid N   sim only\n"
		"  --devid N | --vdev xvdX    the device (default 51712 = xvda)\n"
		"  --storm-secs S       event storm length (default 4)\n"
		"  --flip-secs S        double-fetch races, at most this long (default 4)\n"
		"  --flip-rounds N      and at most this many requests (default 200)\n"
		"  --states-secs S      state-node flipping length (default 4)\n"
		"  --phases LIST        run only these, comma-separated, in their order (default all):\n"
		"                       honest,garbage,storm,flip,overrun,reconnect,states,recover\n"
		"  --log-level L        libvhafront's log level (default warn)\n"
		"wait-node: exit 0 once the xenstore node PATH (relative to this domain) exists,\n"
		"1 after SECONDS without it.\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "platform", required_argument, NULL, 'P' },  { "sim-dir", required_argument, NULL, 'S' },
		{ "domid", required_argument, NULL, 'D' },     { "devid", required_argument, NULL, 'd' },
		{ "vdev", required_argument, NULL, 'v' },      { "storm-secs", required_argument, NULL, 's' },
		{ "flip-secs", required_argument, NULL, 'f' }, { "flip-rounds", required_argument, NULL, 'r' },
		{ "states-secs", required_argument, NULL, 'x' }, { "log-level", required_argument, NULL, 'l' },
		{ "phases", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },            { "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct vha_platform_config cfg = { 0 };
	struct vha_platform *p = NULL;
	int c, rc, lvl;
	double wait_s = 0;

	vha_cli_init("vha-hostile");
	vha_log_set_threshold(VHA_LOG_WARN);
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'P': opt.platform = optarg; break;
		case 'S': opt.sim_dir = optarg; break;
		case 'D': if (vha_cli_int("domid", optarg, 0, VHA_DOMID_MAX, &opt.domid)) goto bad; break;
		case 'd': if (vha_cli_uint("devid", optarg, 0, (1u << 28) - 1, &opt.devid)) goto bad; break;
		case 'v':
			if (strncmp(optarg, "xvd", 3) || optarg[3] < 'a' || optarg[3] > 'o' || optarg[4])
				return vha_cli_usage("--vdev takes xvda..xvdo, not '%s'", optarg);
			opt.devid = (202u << 8) | ((unsigned int)(optarg[3] - 'a') << 4);
			break;
		case 's': if (vha_cli_double("storm-secs", optarg, 0, 600, &opt.storm_s)) goto bad; break;
		case 'f': if (vha_cli_double("flip-secs", optarg, 0, 600, &opt.flip_s)) goto bad; break;
		case 'r': if (vha_cli_uint("flip-rounds", optarg, 0, 1000000, &opt.flip_rounds)) goto bad; break;
		case 'x': if (vha_cli_double("states-secs", optarg, 0, 600, &opt.states_s)) goto bad; break;
		case 'p':
			opt.phases = parse_phases(optarg);
			if (!opt.phases)
				return vha_cli_usage("--phases takes honest,garbage,storm,flip,overrun,reconnect,states,"
						     "recover, not '%s'", optarg);
			break;
		case 'l':
			lvl = vha_log_parse_level(optarg);
			if (lvl < 0)
				return vha_cli_usage("unknown log level '%s' (error|warn|info|debug)", optarg);
			vha_log_set_threshold((enum vha_log_level)lvl);
			break;
		case 'h': usage(stdout); return VHA_EXIT_OK;
		case 'V': return vha_cli_version();
		default: goto bad;
		}
	}
	if (optind >= argc)
		return vha_cli_usage("a command is required (run|wait-node)");
	if (!strcmp(argv[optind], "run")) {
		if (optind + 1 != argc)
			return vha_cli_usage("unexpected argument '%s'", argv[optind + 1]);
	} else if (!strcmp(argv[optind], "wait-node")) {
		if (optind + 3 != argc)
			return vha_cli_usage("wait-node takes PATH SECONDS");
		if (vha_cli_double("wait-node SECONDS", argv[optind + 2], 0, 86400, &wait_s))
			goto bad;
	} else {
		return vha_cli_usage("unknown command '%s' (run|wait-node)", argv[optind]);
	}
	cfg.kind = opt.platform;
	cfg.sim_dir = opt.sim_dir;
	cfg.sim_domid = opt.domid;
	if (vha_platform_open(&cfg, &p) < 0) {
		vha_cli_error("%s", vha_platform_strerror());
		return VHA_EXIT_FAILURE;
	}
	if (!strcmp(argv[optind], "run"))
		rc = cmd_run(p);
	else
		rc = cmd_wait_node(p, argv[optind + 1], wait_s);
	vha_platform_close(p);
	return rc;
bad:
	vha_cli_hint();
	return VHA_EXIT_USAGE;
}
