// SPDX-License-Identifier: MIT
/*
 * The blkif features end to end on the sim platform: libvhafront against a
 * real vha-backend process. Each test fails when its feature is broken, not
 * merely when a node is missing: data is checked through the frontend and in
 * the image file, and the backend's counters (stats.json) must show that the
 * feature was really used.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <json-c/json.h>
#include <xenstore.h>

#include "simdir.h"
#include "statsjson.h"
#include "vha/front.h"
#include "vha/platform.h"
#include "vha/xenbus.h"

#define DISK_BYTES (4u << 20)
#define CACHE_GRANTS 64u        /* the backend's --persistent-grants: small, so eviction is exercised */

static char simdir[64], build[4096];
static pid_t backend_pid;
static unsigned int next_domid = 1;

static void fill(unsigned char *p, size_t n, unsigned int seed)
{
	uint64_t x = 0x9e3779b97f4a7c15ull * (seed + 1);

	for (size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		p[i] = (unsigned char)x;
	}
}

/* A fresh sim domain with one disk of `bytes` random bytes attached; returns its domid. */
static unsigned int new_disk(char *img, size_t imglen, unsigned int bytes, const char *attach_args)
{
	unsigned int dom = next_domid++;

	snprintf(img, imglen, "%s/disk%u.img", simdir, dom);
	assert_int_equal(test_run("head -c %u /dev/urandom > %s", bytes, img), 0);
	assert_int_equal(test_run("%s/vhactl --sim-dir %s sim create-domain %u >/dev/null", build, simdir, dom), 0);
	assert_int_equal(test_run("%s/vhactl --platform sim --sim-dir %s attach --frontend-domid %u --target %s %s >/dev/null",
			     build, simdir, dom, img, attach_args ? attach_args : ""),
			 0);
	return dom;
}

struct fe {
	struct vha_platform *p;
	struct vha_front *f;
	unsigned int dom;
};

static void fe_open(struct fe *fe, unsigned int dom, const struct vha_front_opts *opts)
{
	struct vha_platform_config cfg = { .kind = "sim", .sim_dir = simdir, .sim_domid = (int)dom };
	struct vha_front_opts o = opts ? *opts : (struct vha_front_opts){ 0 };

	o.timeout_ms = 5000;
	fe->dom = dom;
	assert_int_equal(vha_platform_open(&cfg, &fe->p), 0);
	assert_int_equal(vha_front_open(fe->p, 51712, &o, &fe->f), 0);
}

static void fe_close(struct fe *fe)
{
	vha_front_close(fe->f);
	vha_platform_close(fe->p);
}

/* The bytes at offset in the image file, as dom0 sees them. */
static void image_read(const char *img, uint64_t off, void *buf, size_t len)
{
	int fd = open(img, O_RDONLY);

	assert_true(fd >= 0);
	assert_int_equal(pread(fd, buf, len, (off_t)off), (ssize_t)len);
	close(fd);
}

/* Sum of the number at `pointer` ("/requests", "/grant_cache/hits") over the queues of device dom/51712. queue >= 0: only that queue. */
static uint64_t stat_of(unsigned int dom, const char *pointer, int queue)
{
	struct json_object *doc = test_stats_read(simdir, backend_pid);
	uint64_t sum = test_stats_queue_sum(test_stats_device(doc, dom, 51712), pointer, queue);

	json_object_put(doc);
	return sum;
}

static char *device_node(unsigned int dom, const char *node)
{
	struct vha_platform_config cfg = { .kind = "sim", .sim_dir = simdir, .sim_domid = 0 };
	struct vha_platform *p;
	struct xs_handle *xs;
	char dir[128], *val = NULL;

	assert_int_equal(vha_platform_open(&cfg, &p), 0);
	xs = vha_platform_xs_open(p);
	assert_non_null(xs);
	snprintf(dir, sizeof(dir), "/local/domain/0/backend/vbd/%u/51712", dom);
	if (vha_xs_read_str(xs, XBT_NULL, dir, node, &val) < 0)
		val = NULL;
	xs_close(xs);
	vha_platform_close(p);
	return val;
}

/* Writes and reads of 4 KiB, 12 KiB, 64 KiB and 1 MiB (indirect), checked through the frontend and in the image. */
static void exercise(struct fe *fe, const char *img, unsigned int seed)
{
	static const size_t sizes[] = { 4096, 12288, 65536, 1u << 20 };
	unsigned char *w = malloc(1u << 20), *r = malloc(1u << 20);
	uint64_t off = 0;

	assert_non_null(w);
	assert_non_null(r);
	for (int rep = 0; rep < 3; rep++) {
		for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
			size_t len = sizes[i];

			off = (off + 1048576 + 8192) % (DISK_BYTES - (1u << 20));
			off &= ~(uint64_t)4095;
			fill(w, len, seed + (unsigned int)(rep * 10 + i));
			assert_int_equal(vha_front_write(fe->f, off, w, len), 0);
			memset(r, 0, len);
			assert_int_equal(vha_front_read(fe->f, off, r, len), 0);
			assert_memory_equal(r, w, len);
			image_read(img, off, r, len);
			assert_memory_equal(r, w, len);
		}
	}
	free(w);
	free(r);
}

static int setup(void **state)
{
	static char cache[16];
	const char *args[] = { "--max-queues", "2", "--persistent-grants", cache, NULL };

	(void)state;
	snprintf(cache, sizeof(cache), "%u", CACHE_GRANTS);
	snprintf(build, sizeof(build), "%s", test_build_dir());
	return test_sim_backend_start(simdir, sizeof(simdir), "features", args, &backend_pid);
}

/* The same backend as on a Linux dom0: O_DIRECT only into memory that stays mapped. */
static int setup_no_direct_maps(void **state)
{
	static char cache[16];
	const char *args[] = { "--max-queues", "2", "--persistent-grants", cache, "--no-direct-maps", NULL };

	(void)state;
	snprintf(cache, sizeof(cache), "%u", CACHE_GRANTS);
	snprintf(build, sizeof(build), "%s", test_build_dir());
	return test_sim_backend_start(simdir, sizeof(simdir), "features-ndm", args, &backend_pid);
}

static int teardown(void **state)
{
	(void)state;
	test_sim_backend_stop(simdir, backend_pid);
	return 0;
}

/* ---------------- grant strategies ---------------- */

static void test_strategy_map(void **state)
{
	char img[128];
	struct fe fe;

	(void)state;
	fe_open(&fe, new_disk(img, sizeof(img), DISK_BYTES, "--grant-strategy map"), NULL);
	assert_false(vha_front_get_info(fe.f)->persistent);     /* not offered with map */
	exercise(&fe, img, 1);
	assert_true(stat_of(fe.dom, "/strategy_map", -1) >= 24);
	assert_int_equal(stat_of(fe.dom, "/strategy_persistent", -1), 0);
	assert_int_equal(stat_of(fe.dom, "/strategy_copy", -1), 0);
	assert_int_equal(stat_of(fe.dom, "/grant_cache/size", -1), 0);
	fe_close(&fe);
}

static void test_strategy_persistent(void **state)
{
	char img[128];
	struct fe fe;

	(void)state;
	fe_open(&fe, new_disk(img, sizeof(img), DISK_BYTES, "--grant-strategy persistent"), NULL);
	assert_true(vha_front_get_info(fe.f)->persistent);
	exercise(&fe, img, 2);
	assert_true(stat_of(fe.dom, "/strategy_persistent", -1) >= 24);
	assert_int_equal(stat_of(fe.dom, "/strategy_copy", -1), 0);
	/* Pool pages come back to the same requests: the cache hits. */
	assert_true(stat_of(fe.dom, "/grant_cache/hits", -1) > 0);
	/* 1 MiB requests need 256 grants: the 64-entry cache evicts and stays bounded. */
	assert_true(stat_of(fe.dom, "/grant_cache/evictions", -1) > 0);
	assert_true(stat_of(fe.dom, "/grant_cache/size", -1) <= CACHE_GRANTS);
	assert_int_equal(stat_of(fe.dom, "/errors", -1), 0);
	fe_close(&fe);
}

static void test_strategy_copy(void **state)
{
	char img[128];
	struct fe fe;

	(void)state;
	fe_open(&fe, new_disk(img, sizeof(img), DISK_BYTES, "--grant-strategy copy"), NULL);
	assert_false(vha_front_get_info(fe.f)->persistent);
	exercise(&fe, img, 3);
	assert_true(stat_of(fe.dom, "/strategy_copy", -1) >= 24);
	assert_int_equal(stat_of(fe.dom, "/strategy_map", -1), 0);
	assert_int_equal(stat_of(fe.dom, "/strategy_persistent", -1), 0);
	fe_close(&fe);
}

static void test_strategy_adaptive(void **state)
{
	struct vha_front_opts o = { .no_persistent = true };
	char img[128];
	struct fe fe;

	(void)state;
	/* Without persistent grants: small requests copied, large ones mapped. */
	fe_open(&fe, new_disk(img, sizeof(img), DISK_BYTES, NULL), &o);
	assert_false(vha_front_get_info(fe.f)->persistent);
	exercise(&fe, img, 4);
	assert_true(stat_of(fe.dom, "/strategy_copy", -1) > 0);
	assert_true(stat_of(fe.dom, "/strategy_map", -1) > 0);
	assert_int_equal(stat_of(fe.dom, "/strategy_persistent", -1), 0);
	fe_close(&fe);
	/* The frontend takes persistent grants: adaptive uses them. */
	fe_open(&fe, new_disk(img, sizeof(img), DISK_BYTES, NULL), NULL);
	assert_true(vha_front_get_info(fe.f)->persistent);
	exercise(&fe, img, 5);
	assert_true(stat_of(fe.dom, "/strategy_persistent", -1) > 0);
	fe_close(&fe);
}

/* ---------------- O_DIRECT without direct I/O into transient maps ---------------- */

/* Skips unless the device's target really is O_DIRECT (some filesystems refuse it). */
static void need_o_direct(unsigned int dom)
{
	struct json_object *doc = test_stats_read(simdir, backend_pid);
	bool direct = test_stats_bool(test_stats_device(doc, dom, 51712), "/o_direct");

	json_object_put(doc);
	if (!direct) {
		print_message("the image's filesystem refuses O_DIRECT: nothing to route around\n");
		skip();
	}
}

static void test_transient_maps_buffered(void **state)
{
	char img[128];
	struct fe fe;

	(void)state;
	/* Map strategy: every request's pages are unmapped after it, so every one goes buffered. */
	fe_open(&fe, new_disk(img, sizeof(img), DISK_BYTES, "--grant-strategy map"), NULL);
	need_o_direct(fe.dom);
	exercise(&fe, img, 11);
	assert_true(stat_of(fe.dom, "/strategy_map", -1) >= 24);
	assert_int_equal(stat_of(fe.dom, "/buffered", -1), stat_of(fe.dom, "/strategy_map", -1));
	fe_close(&fe);
	/* Copy: the backend's own buffers, O_DIRECT. */
	fe_open(&fe, new_disk(img, sizeof(img), DISK_BYTES, "--grant-strategy copy"), NULL);
	exercise(&fe, img, 12);
	assert_true(stat_of(fe.dom, "/strategy_copy", -1) >= 24);
	assert_int_equal(stat_of(fe.dom, "/buffered", -1), 0);
	fe_close(&fe);
}

static void test_persistent_never_evicts(void **state)
{
	char img[128];
	struct fe fe;

	(void)state;
	fe_open(&fe, new_disk(img, sizeof(img), DISK_BYTES, "--grant-strategy persistent"), NULL);
	need_o_direct(fe.dom);
	exercise(&fe, img, 13);
	/*
	 * 1 MiB requests need 256 grants of a 64-entry cache: nothing is
	 * evicted (an evicted page may still be held by the kernel), the
	 * misses are mapped per request and go buffered, the hits direct.
	 */
	assert_int_equal(stat_of(fe.dom, "/grant_cache/evictions", -1), 0);
	assert_true(stat_of(fe.dom, "/grant_cache/size", -1) <= CACHE_GRANTS);
	assert_true(stat_of(fe.dom, "/buffered", -1) > 0);
	assert_true(stat_of(fe.dom, "/buffered", -1) < stat_of(fe.dom, "/strategy_persistent", -1));
	assert_int_equal(stat_of(fe.dom, "/errors", -1), 0);
	fe_close(&fe);
}

/* ---------------- transport ---------------- */

struct order {
	unsigned int done[64];
	unsigned int n;
};

struct tag {
	struct order *o;
	unsigned int id;
};

static void order_cb(void *opaque, int status)
{
	struct tag *t = opaque;

	assert_int_equal(status, 0);
	t->o->done[t->o->n++] = t->id;
}

static void drain(struct vha_front *f)
{
	for (double end = test_now() + 10; vha_front_inflight(f) && test_now() < end;)
		assert_true(vha_front_poll(f, 100) >= 0);
	assert_int_equal(vha_front_inflight(f), 0);
}

static void test_multiqueue(void **state)
{
	struct vha_front_opts o = { .queues = 2 };
	static unsigned char bufs[64][4096];
	struct order ord = { 0 };
	struct tag tags[64];
	char img[128];
	struct fe fe;

	(void)state;
	fe_open(&fe, new_disk(img, sizeof(img), DISK_BYTES, NULL), &o);
	assert_int_equal(vha_front_get_info(fe.f)->queues, 2);
	for (unsigned int i = 0; i < 64; i++) {
		tags[i] = (struct tag){ &ord, i };
		assert_int_equal(vha_front_submit(fe.f, VHA_FRONT_READ, (uint64_t)i * 4096, bufs[i], 4096, order_cb,
						  &tags[i]),
				 0);
	}
	drain(fe.f);
	assert_int_equal(ord.n, 64);
	for (unsigned int i = 0; i < 64; i++) {
		unsigned char want[4096];

		image_read(img, (uint64_t)i * 4096, want, sizeof(want));
		assert_memory_equal(bufs[i], want, sizeof(want));
	}
	/* Both queues (two worker threads, two rings) carried requests. */
	assert_true(stat_of(fe.dom, "/requests", 0) > 0);
	assert_true(stat_of(fe.dom, "/requests", 1) > 0);
	exercise(&fe, img, 6);
	fe_close(&fe);
}

static void test_ring_order(void **state)
{
	struct vha_front_opts o = { .ring_order = 4 };
	static unsigned char bufs[300][4096];
	char img[128];
	struct fe fe;

	(void)state;
	fe_open(&fe, new_disk(img, sizeof(img), DISK_BYTES, NULL), &o);
	assert_int_equal(vha_front_get_info(fe.f)->ring_pages, 16);
	/* 300 requests in flight at once: far more than a one-page ring (32) holds. */
	for (unsigned int i = 0; i < 300; i++)
		assert_int_equal(vha_front_submit(fe.f, VHA_FRONT_READ, (uint64_t)i * 4096, bufs[i], 4096, NULL, NULL),
				 0);
	assert_int_equal(vha_front_inflight(fe.f), 300);
	drain(fe.f);
	assert_int_equal(stat_of(fe.dom, "/ring_pages", 0), 16);
	assert_true(stat_of(fe.dom, "/reads", -1) >= 300);
	fe_close(&fe);
}

static void test_indirect(void **state)
{
	struct vha_front_opts o = { .no_indirect = true };
	char img[128];
	struct fe fe;

	(void)state;
	fe_open(&fe, new_disk(img, sizeof(img), DISK_BYTES, NULL), NULL);
	assert_true(vha_front_max_io(fe.f) >= (1u << 20));
	exercise(&fe, img, 7);
	assert_true(stat_of(fe.dom, "/indirect", -1) >= 3);
	fe_close(&fe);
	/* Without indirect: 11 segments at most, and large I/O is split. */
	fe_open(&fe, new_disk(img, sizeof(img), DISK_BYTES, NULL), &o);
	assert_int_equal(vha_front_max_io(fe.f), 11 * 4096);
	exercise(&fe, img, 8);
	assert_int_equal(stat_of(fe.dom, "/indirect", -1), 0);
	fe_close(&fe);
}

static void test_zero_copy(void **state)
{
	struct vha_front_opts o = { .buffer_pages = 32 };
	unsigned char want[65536];
	unsigned char *buf, *buf2;
	char img[128];
	struct fe fe;

	(void)state;
	fe_open(&fe, new_disk(img, sizeof(img), DISK_BYTES, NULL), &o);
	buf = vha_front_buf_alloc(fe.f, sizeof(want));
	assert_non_null(buf);
	assert_int_equal((uintptr_t)buf % 4096, 0);
	assert_null(vha_front_buf_alloc(fe.f, 17 * 4096));      /* 16 of 32 pages left */
	buf2 = vha_front_buf_alloc(fe.f, 16 * 4096);
	assert_non_null(buf2);
	/* Written from the pool buffer in place, read back into it. */
	fill(buf, sizeof(want), 9);
	memcpy(want, buf, sizeof(want));
	assert_int_equal(vha_front_write(fe.f, 8192, buf, sizeof(want)), 0);
	memset(buf, 0, sizeof(want));
	assert_int_equal(vha_front_read(fe.f, 8192, buf, sizeof(want)), 0);
	assert_memory_equal(buf, want, sizeof(want));
	image_read(img, 8192, buf2, sizeof(want));
	assert_memory_equal(buf2, want, sizeof(want));
	/* 512-byte aligned inside a buffer, crossing pages: the segments start mid-page. */
	fill(buf + 512, 8192, 10);
	memcpy(want, buf + 512, 8192);
	assert_int_equal(vha_front_write(fe.f, 40960, buf + 512, 8192), 0);
	image_read(img, 40960, buf2, 8192);
	assert_memory_equal(buf2, want, 8192);
	assert_int_equal(vha_front_submit(fe.f, VHA_FRONT_READ, 0, buf + 100, 512, NULL, NULL), -EINVAL);
	vha_front_buf_free(fe.f, buf2);
	vha_front_buf_free(fe.f, buf);
	assert_non_null(buf = vha_front_buf_alloc(fe.f, 32 * 4096));
	vha_front_buf_free(fe.f, buf);
	fe_close(&fe);
}

/* ---------------- semantics ---------------- */

static void test_barrier(void **state)
{
	static unsigned char bufs[18][4096];
	struct order ord = { 0 };
	struct tag tags[18];
	unsigned char got[4096];
	char img[128];
	struct fe fe;

	(void)state;
	fe_open(&fe, new_disk(img, sizeof(img), DISK_BYTES, NULL), NULL);
	assert_true(vha_front_get_info(fe.f)->barrier);
	/* 16 writes, a barrier write, one more write: the barrier completes after all 16, before the last. */
	for (unsigned int i = 0; i < 18; i++) {
		enum vha_front_op op = i == 16 ? VHA_FRONT_BARRIER : VHA_FRONT_WRITE;

		fill(bufs[i], 4096, 100 + i);
		tags[i] = (struct tag){ &ord, i };
		assert_int_equal(vha_front_submit(fe.f, op, (uint64_t)i * 65536, bufs[i], 4096, order_cb, &tags[i]), 0);
	}
	drain(fe.f);
	assert_int_equal(ord.n, 18);
	for (unsigned int i = 0; i < 18; i++) {
		if (ord.done[i] == 16) {
			assert_int_equal(i, 16);
			assert_int_equal(ord.done[17], 17);
		}
		image_read(img, (uint64_t)i * 65536, got, sizeof(got));
		assert_memory_equal(got, bufs[i], sizeof(got));
	}
	assert_int_equal(stat_of(fe.dom, "/barriers", -1), 1);
	assert_int_equal(vha_front_barrier_write(fe.f, 0, bufs[0], 4096), 0);
	assert_int_equal(stat_of(fe.dom, "/barriers", -1), 2);
	fe_close(&fe);
}

static void test_flush(void **state)
{
	unsigned char w[8192];
	char img[128];
	struct fe fe;

	(void)state;
	fe_open(&fe, new_disk(img, sizeof(img), DISK_BYTES, NULL), NULL);
	assert_true(vha_front_get_info(fe.f)->flush);
	fill(w, sizeof(w), 11);
	assert_int_equal(vha_front_write(fe.f, 4096, w, sizeof(w)), 0);
	assert_int_equal(vha_front_flush(fe.f), 0);
	assert_int_equal(stat_of(fe.dom, "/flushes", -1), 1);
	fe_close(&fe);
}

static void test_discard(void **state)
{
	unsigned char *w = malloc(1u << 20), *zero = calloc(1, 1u << 20);
	struct stat before, after;
	char img[128], *gran;
	struct fe fe;

	(void)state;
	fe_open(&fe, new_disk(img, sizeof(img), DISK_BYTES, NULL), NULL);
	assert_true(vha_front_get_info(fe.f)->discard);
	gran = device_node(fe.dom, "discard-granularity");
	assert_non_null(gran);
	assert_string_equal(gran, "4096");
	free(gran);
	assert_int_equal(stat(img, &before), 0);
	assert_int_equal(vha_front_discard(fe.f, 1u << 20, 1u << 20), 0);
	assert_int_equal(vha_front_read(fe.f, 1u << 20, w, 1u << 20), 0);
	assert_memory_equal(w, zero, 1u << 20);
	assert_int_equal(stat(img, &after), 0);
	assert_true(after.st_blocks < before.st_blocks);        /* a hole, not written zeroes */
	assert_int_equal(after.st_size, before.st_size);
	assert_int_equal(stat_of(fe.dom, "/discards", -1), 1);
	fe_close(&fe);
	free(w);
	free(zero);
}

/* A target whose filesystem cannot punch holes (ramfs): the first discard fails, the feature is withdrawn. */
static void test_discard_withdrawn(void **state)
{
	char dir[128], img[160], *val;
	struct fe fe;
	unsigned int dom;

	(void)state;
	snprintf(dir, sizeof(dir), "%s/ramfs", simdir);
	mkdir(dir, 0755);
	if (geteuid() != 0 || mount("ramfs", dir, "ramfs", 0, NULL) != 0) {
		skip();         /* needs root to mount ramfs */
		return;
	}
	dom = next_domid++;
	snprintf(img, sizeof(img), "%s/disk.img", dir);
	assert_int_equal(test_run("head -c %u /dev/urandom > %s", DISK_BYTES, img), 0);
	assert_int_equal(test_run("%s/vhactl --sim-dir %s sim create-domain %u >/dev/null", build, simdir, dom), 0);
	assert_int_equal(test_run("%s/vhactl --platform sim --sim-dir %s attach --frontend-domid %u --target %s >/dev/null",
			     build, simdir, dom, img),
			 0);
	fe_open(&fe, dom, NULL);
	assert_true(vha_front_get_info(fe.f)->discard);
	assert_int_equal(vha_front_discard(fe.f, 0, 1u << 20), -EOPNOTSUPP);
	/* The backend withdraws feature-discard and refuses later discards up front. */
	for (double end = test_now() + 5; test_now() < end; usleep(20000)) {
		val = device_node(dom, "feature-discard");
		if (val && strcmp(val, "0") == 0) {
			free(val);
			break;
		}
		free(val);
	}
	val = device_node(dom, "feature-discard");
	assert_non_null(val);
	assert_string_equal(val, "0");
	free(val);
	assert_int_equal(vha_front_discard(fe.f, 0, 4096), -EOPNOTSUPP);
	fe_close(&fe);
	test_run("%s/vhactl --platform sim --sim-dir %s detach --frontend-domid %u --devid 51712 >/dev/null", build, simdir,
	    dom);
	umount2(dir, MNT_DETACH);
}

static void test_resize(void **state)
{
	unsigned char w[8192], r[8192];
	char img[128];
	struct fe fe;

	(void)state;
	fe_open(&fe, new_disk(img, sizeof(img), DISK_BYTES, NULL), NULL);
	assert_int_equal(vha_front_get_info(fe.f)->sectors, DISK_BYTES / 512);
	fill(w, sizeof(w), 12);
	assert_int_equal(vha_front_write(fe.f, DISK_BYTES + 4096, w, sizeof(w)), -EINVAL);
	/* Grow the target while connected: the frontend picks the new size up. */
	assert_int_equal(test_run("%s/vhactl --platform sim --sim-dir %s resize --frontend-domid %u --devid 51712 "
			     "--size %u >/dev/null",
			     build, simdir, fe.dom, 2 * DISK_BYTES),
			 0);
	for (double end = test_now() + 5; vha_front_get_info(fe.f)->sectors != 2 * DISK_BYTES / 512 && test_now() < end;)
		vha_front_poll(fe.f, 50);
	assert_int_equal(vha_front_get_info(fe.f)->sectors, 2 * DISK_BYTES / 512);
	assert_int_equal(vha_front_get_info(fe.f)->resizes, 1);
	assert_int_equal(vha_front_write(fe.f, DISK_BYTES + 4096, w, sizeof(w)), 0);
	assert_int_equal(vha_front_read(fe.f, DISK_BYTES + 4096, r, sizeof(r)), 0);
	assert_memory_equal(r, w, sizeof(w));
	/* Shrinking needs --shrink. */
	assert_true(test_run("%s/vhactl --platform sim --sim-dir %s resize --frontend-domid %u --devid 51712 --size %u "
			"2>/dev/null",
			build, simdir, fe.dom, DISK_BYTES) != 0);
	fe_close(&fe);
}

static void test_readonly_cdrom(void **state)
{
	unsigned char b[4096], want[4096];
	char img[128];
	struct fe fe;

	(void)state;
	fe_open(&fe, new_disk(img, sizeof(img), DISK_BYTES, "--mode r --device-type cdrom"), NULL);
	assert_true(vha_front_get_info(fe.f)->readonly);
	assert_true(vha_front_get_info(fe.f)->cdrom);
	assert_false(vha_front_get_info(fe.f)->discard);
	assert_int_equal(vha_front_write(fe.f, 0, b, sizeof(b)), -EROFS);
	assert_int_equal(vha_front_read(fe.f, 4096, b, sizeof(b)), 0);
	image_read(img, 4096, want, sizeof(want));
	assert_memory_equal(b, want, sizeof(b));
	fe_close(&fe);
}

/* 4096-byte logical sectors (a loop device made with --sector-size 4096); sectors still count 512 bytes. */
static void test_sector_4k(void **state)
{
	char img[128], loopdev[64] = "", cmd[512];
	unsigned char w[8192], r[8192];
	unsigned int dom;
	struct fe fe;
	FILE *p;

	(void)state;
	dom = next_domid++;
	snprintf(img, sizeof(img), "%s/disk4k.img", simdir);
	assert_int_equal(test_run("head -c %u /dev/urandom > %s", DISK_BYTES, img), 0);
	snprintf(cmd, sizeof(cmd), "losetup --sector-size 4096 -f --show %s 2>/dev/null", img);
	p = geteuid() == 0 ? popen(cmd, "r") : NULL;
	if (!p || !fgets(loopdev, sizeof(loopdev), p) || strncmp(loopdev, "/dev/loop", 9) != 0) {
		if (p)
			pclose(p);
		skip();         /* needs root and loop devices */
		return;
	}
	pclose(p);
	loopdev[strcspn(loopdev, "\n")] = '\0';
	assert_int_equal(test_run("%s/vhactl --sim-dir %s sim create-domain %u >/dev/null", build, simdir, dom), 0);
	assert_int_equal(test_run("%s/vhactl --platform sim --sim-dir %s attach --frontend-domid %u --target %s >/dev/null",
			     build, simdir, dom, loopdev),
			 0);
	fe_open(&fe, dom, NULL);
	assert_int_equal(vha_front_get_info(fe.f)->sector_size, 4096);
	assert_true(vha_front_get_info(fe.f)->physical_sector_size >= 4096);
	assert_int_equal(vha_front_get_info(fe.f)->sectors, DISK_BYTES / 512);
	assert_int_equal(vha_front_write(fe.f, 512, w, 512), -EINVAL);
	fill(w, sizeof(w), 13);
	assert_int_equal(vha_front_write(fe.f, 8192, w, sizeof(w)), 0);
	assert_int_equal(vha_front_read(fe.f, 8192, r, sizeof(r)), 0);
	assert_memory_equal(r, w, sizeof(w));
	/* Online resize of a block device: grow what is under it, then vhactl resize without --size. */
	assert_int_equal(test_run("truncate -s %u %s && losetup -c %s", 2 * DISK_BYTES, img, loopdev), 0);
	assert_int_equal(test_run("%s/vhactl --platform sim --sim-dir %s resize --frontend-domid %u --devid 51712 "
				  ">/dev/null",
				  build, simdir, dom),
			 0);
	for (double end = test_now() + 5; vha_front_get_info(fe.f)->sectors != 2 * DISK_BYTES / 512 && test_now() < end;)
		vha_front_poll(fe.f, 50);
	assert_int_equal(vha_front_get_info(fe.f)->sectors, 2 * DISK_BYTES / 512);
	fe_close(&fe);
	test_run("%s/vhactl --platform sim --sim-dir %s detach --frontend-domid %u --devid 51712 >/dev/null", build, simdir,
		 dom);
	test_run("losetup -d %s", loopdev);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_strategy_map),
		cmocka_unit_test(test_strategy_persistent),
		cmocka_unit_test(test_strategy_copy),
		cmocka_unit_test(test_strategy_adaptive),
		cmocka_unit_test(test_multiqueue),
		cmocka_unit_test(test_ring_order),
		cmocka_unit_test(test_indirect),
		cmocka_unit_test(test_zero_copy),
		cmocka_unit_test(test_barrier),
		cmocka_unit_test(test_flush),
		cmocka_unit_test(test_discard),
		cmocka_unit_test(test_discard_withdrawn),
		cmocka_unit_test(test_resize),
		cmocka_unit_test(test_readonly_cdrom),
		cmocka_unit_test(test_sector_4k),
	};

	const struct CMUnitTest no_direct_maps[] = {
		cmocka_unit_test(test_transient_maps_buffered),
		cmocka_unit_test(test_persistent_never_evicts),
	};
	int failed;

	if (!test_have_binary("vha-simxenstored") || !test_have_binary("vha-backend") || !test_have_binary("vhactl"))
		return 77;
	failed = cmocka_run_group_tests(tests, setup, teardown);
	return failed + cmocka_run_group_tests_name("no_direct_maps", no_direct_maps, setup_no_direct_maps, teardown);
}
