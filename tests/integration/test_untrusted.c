// SPDX-License-Identifier: MIT
/*
 * libvhafront's trusted=0 mode (opts.untrusted_backend, XSA-403) against a
 * real vha-backend on the sim platform: the data must verify (through the
 * frontend and in the image), the backend must report persistent grants
 * not negotiated, and whenever a request completes the frontend's grant
 * table must hold nothing but the rings and the pages of the requests still
 * in flight: no pool, and no grant left over from a finished request.
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
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "simdir.h"
#include "statsjson.h"
#include "vha/front.h"
#include "vha/platform.h"
#include "vha/sim.h"

#define DISK_BYTES (4u << 20)
#define PAGE 4096u

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

static unsigned int new_disk(char *img, size_t imglen)
{
	unsigned int dom = next_domid++;

	snprintf(img, imglen, "%s/disk%u.img", simdir, dom);
	assert_int_equal(test_run("head -c %u /dev/urandom > %s", DISK_BYTES, img), 0);
	assert_int_equal(test_run("%s/vhactl --sim-dir %s sim create-domain %u >/dev/null", build, simdir, dom), 0);
	assert_int_equal(test_run("%s/vhactl --platform sim --sim-dir %s attach --frontend-domid %u --target %s >/dev/null",
				  build, simdir, dom, img), 0);
	return dom;
}

static void image_read(const char *img, uint64_t off, void *buf, size_t len)
{
	int fd = open(img, O_RDONLY);

	assert_true(fd >= 0);
	assert_int_equal(pread(fd, buf, len, (off_t)off), (ssize_t)len);
	close(fd);
}

/* Grant entries of domain dom in use (granted, or ended but still mapped by the backend). */
static uint32_t grants_of(unsigned int dom)
{
	struct vha_sim_domain_stats st;

	assert_int_equal(vha_sim_domain_stats(simdir, dom, &st), 0);
	return st.grants_active;
}

/* Whether the backend's stats.json says device dom/51712 negotiated persistent grants. */
static bool backend_says_persistent(unsigned int dom)
{
	struct json_object *doc = test_stats_read(simdir, backend_pid);
	bool yes = test_stats_bool(test_stats_device(doc, dom, 51712), "/persistent");

	json_object_put(doc);
	return yes;
}

/* Requests in flight and the grants their dedicated pages hold. */
struct tracker {
	unsigned int dom;
	uint32_t rings;                 /* grants of the rings: always there */
	uint32_t outstanding_pages;     /* of requests submitted and not completed */
	unsigned int completed, failed, checked;
};

struct req {
	struct tracker *t;
	uint32_t pages;
	bool done;
	int status;
};

static void on_complete(void *opaque, int status)
{
	struct req *r = opaque;
	struct tracker *t = r->t;
	uint32_t now;

	r->done = true;
	r->status = status;
	t->outstanding_pages -= r->pages;
	t->completed++;
	/*
	 * Right at completion: this request's grants are already gone; only the
	 * rings and the others stay. Exact, because vha-backend unmaps a
	 * request's pages before it writes the response.
	 */
	now = grants_of(t->dom);
	if (now != t->rings + t->outstanding_pages) {
		fprintf(stderr, "after a completion: %u grants, expected %u rings + %u in flight\n", now, t->rings,
			t->outstanding_pages);
		t->failed++;
	}
	t->checked++;
}

static uint32_t pages_of(struct vha_front *f, size_t len)
{
	uint32_t n = (uint32_t)((len + PAGE - 1) / PAGE);

	(void)f;
	return n + (n > 11 ? 1 : 0);    /* + the indirect page */
}

static void run_one(struct vha_front *f, struct tracker *t, enum vha_front_op op, uint64_t off, void *buf, size_t len)
{
	struct req r = { .t = t, .pages = pages_of(f, len) };

	assert_int_equal(vha_front_submit(f, op, off, buf, len, on_complete, &r), 0);
	t->outstanding_pages += r.pages;
	/* While it is in flight its own pages are granted, and nothing else. */
	assert_int_equal(grants_of(t->dom), t->rings + t->outstanding_pages);
	while (!r.done)
		assert_true(vha_front_poll(f, 1000) >= 0);
	assert_int_equal(r.status, 0);
}

static void test_untrusted_backend(void **state)
{
	static const size_t sizes[] = { 512, 4096, 12288, 45056, 65536, 1u << 20 };
	struct vha_front_opts o = { .timeout_ms = 5000, .untrusted_backend = true };
	unsigned char *w = malloc(1u << 20), *r = malloc(1u << 20), *img_data = malloc(1u << 20);
	const struct vha_front_info *info;
	struct vha_platform *p;
	struct vha_front *f;
	struct tracker t = { 0 };
	char img[128];
	uint64_t off = 0;

	(void)state;
	assert_non_null(w);
	assert_non_null(r);
	assert_non_null(img_data);
	t.dom = new_disk(img, sizeof(img));
	p = test_sim_platform(simdir, t.dom);
	assert_int_equal(vha_front_open(p, 51712, &o, &f), 0);
	info = vha_front_get_info(f);
	assert_false(info->persistent);
	assert_true(vha_front_max_io(f) >= (1u << 20));         /* indirect requests go through too */
	t.rings = info->ring_pages * info->queues;
	/* No pool: the rings are all the backend can see while nothing is in flight. */
	assert_int_equal(grants_of(t.dom), t.rings);

	for (int rep = 0; rep < 2; rep++) {
		for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
			size_t len = sizes[i];

			off = ((off + 1048576 + 8192) % (DISK_BYTES - (1u << 20))) & ~(uint64_t)4095;
			fill(w, len, (unsigned int)(rep * 10 + i));
			run_one(f, &t, VHA_FRONT_WRITE, off, w, len);
			memset(r, 0, len);
			run_one(f, &t, VHA_FRONT_READ, off, r, len);
			assert_memory_equal(r, w, len);
			image_read(img, off, img_data, len);
			assert_memory_equal(img_data, w, len);
		}
	}
	/* Several in flight at once: every completion sees exactly the others' pages. */
	{
		struct req reqs[8];

		for (unsigned int i = 0; i < 8; i++) {
			reqs[i] = (struct req){ .t = &t, .pages = pages_of(f, 65536) };
			fill(w + i * 65536u, 65536, 100 + i);
			assert_int_equal(vha_front_submit(f, VHA_FRONT_WRITE, (uint64_t)i * 65536, w + i * 65536u, 65536,
							  on_complete, &reqs[i]), 0);
			t.outstanding_pages += reqs[i].pages;
		}
		assert_int_equal(grants_of(t.dom), t.rings + t.outstanding_pages);
		while (vha_front_inflight(f))
			assert_true(vha_front_poll(f, 1000) >= 0);
		for (unsigned int i = 0; i < 8; i++)
			assert_int_equal(reqs[i].status, 0);
		assert_int_equal(vha_front_read(f, 0, r, 8 * 65536), 0);
		assert_memory_equal(r, w, 8 * 65536);
	}
	assert_int_equal(t.failed, 0);
	assert_true(t.checked >= 2 * 2 * 6 + 8);
	assert_int_equal(grants_of(t.dom), t.rings);
	assert_false(backend_says_persistent(t.dom));
	/* Flush goes through too (no data pages). */
	assert_int_equal(vha_front_flush(f), 0);
	vha_front_close(f);
	/* The ring's grant ended at close; its entry goes once the backend's teardown has unmapped it. */
	for (double end = test_now() + 5; grants_of(t.dom) != 0 && test_now() < end;)
		usleep(10000);
	assert_int_equal(grants_of(t.dom), 0);
	vha_platform_close(p);
	free(w);
	free(r);
	free(img_data);
}

/* The same backend and disk setup trusted: the pool is shared and persistent grants taken (the contrast). */
static void test_trusted_contrast(void **state)
{
	struct vha_front_opts o = { .timeout_ms = 5000 };
	struct vha_platform *p;
	struct vha_front *f;
	unsigned char buf[4096];
	unsigned int dom;
	char img[128];

	(void)state;
	dom = new_disk(img, sizeof(img));
	p = test_sim_platform(simdir, dom);
	assert_int_equal(vha_front_open(p, 51712, &o, &f), 0);
	assert_true(vha_front_get_info(f)->persistent);
	assert_int_equal(vha_front_read(f, 0, buf, sizeof(buf)), 0);
	assert_true(grants_of(dom) >= 512);
	assert_true(backend_says_persistent(dom));
	vha_front_close(f);
	vha_platform_close(p);
}

/* Zero-copy buffers would be pool pages the backend keeps: refused in this mode. */
static void test_no_buffers(void **state)
{
	struct vha_front_opts o = { .timeout_ms = 5000, .untrusted_backend = true, .buffer_pages = 16 };
	struct vha_platform *p;
	struct vha_front *f = NULL;
	unsigned int dom;
	char img[128];

	(void)state;
	dom = new_disk(img, sizeof(img));
	p = test_sim_platform(simdir, dom);
	assert_int_equal(vha_front_open(p, 51712, &o, &f), -EINVAL);
	assert_null(f);
	assert_int_equal(grants_of(dom), 0);
	vha_platform_close(p);
}

/* vha-frontend --untrusted-backend moves data the same way. */
static void test_command(void **state)
{
	unsigned int dom;
	char img[128];

	(void)state;
	dom = new_disk(img, sizeof(img));
	assert_int_equal(test_run("%s/vha-frontend --platform sim --sim-dir %s --domid %u --untrusted-backend info "
				  "| grep -q 'persistent grants: *no'", build, simdir, dom), 0);
	assert_int_equal(test_run("%s/vha-frontend --platform sim --sim-dir %s --domid %u --untrusted-backend verify "
				  "--random 200 --seed 5 --max-size 256k >/dev/null", build, simdir, dom), 0);
	assert_false(backend_says_persistent(dom));
}

static int setup(void **state)
{
	(void)state;
	snprintf(build, sizeof(build), "%s", test_build_dir());
	return test_sim_backend_start(simdir, sizeof(simdir), "untrusted", NULL, &backend_pid);
}

static int teardown(void **state)
{
	(void)state;
	test_sim_backend_stop(simdir, backend_pid);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_untrusted_backend),
		cmocka_unit_test(test_trusted_contrast),
		cmocka_unit_test(test_no_buffers),
		cmocka_unit_test(test_command),
	};

	if (!test_have_binary("vha-backend") || !test_have_binary("vha-simxenstored"))
		return 77;
	return cmocka_run_group_tests(tests, setup, teardown);
}
