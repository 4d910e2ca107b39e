// SPDX-License-Identifier: MIT
/*
 * The persistent-grant cache (backend/grants.c) on the sim platform: hits
 * return the same mapping of the guest's page, the cache never holds more
 * than its capacity, the least recently used idle entry is the one evicted,
 * busy entries are never evicted, and a grant that cannot be mapped
 * read-write (read-only, or not granted) stays uncached and evicts nothing.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../backend/backend.h"
#include "simdir.h"

#define NPAGES 6u

static const char *simdir;
static struct vha_platform *guest, *dom0;
static struct vha_gntshr *shr;
static struct vha_gnttab *tab;
static unsigned char *pages, *ro_page;
static vha_grant_ref_t refs[NPAGES], ro_ref;

static int setup(void **state)
{
	static const vha_domid_t doms[] = { 0, 1 };

	(void)state;
	simdir = test_simdir_create(doms, 2);
	guest = test_sim_platform(simdir, 1);
	dom0 = test_sim_platform(simdir, 0);
	if (vha_gntshr_open(guest, &shr) < 0 || vha_gnttab_open(dom0, &tab) < 0)
		return -1;
	pages = vha_gntshr_share(shr, 0, NPAGES, refs, true);
	ro_page = vha_gntshr_share(shr, 0, 1, &ro_ref, false);
	if (!pages || !ro_page)
		return -1;
	for (unsigned int i = 0; i < NPAGES; i++)
		memset(pages + (size_t)i * VHA_PAGE_SIZE, 'a' + (int)i, VHA_PAGE_SIZE);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	vha_gnttab_close(tab);
	vha_gntshr_unshare(shr, pages, NPAGES);
	vha_gntshr_unshare(shr, ro_page, 1);
	vha_gntshr_close(shr);
	vha_platform_close(dom0);
	vha_platform_close(guest);
	test_simdir_remove(simdir);
	return 0;
}

static void *get(struct grant_cache *c, vha_grant_ref_t ref, struct pgrant **e)
{
	return gcache_get(c, tab, 1, ref, e);
}

static void test_hits_and_lru_eviction(void **state)
{
	struct grant_cache c;
	struct pgrant *e[NPAGES], *x;
	unsigned char *a, *b;

	(void)state;
	assert_int_equal(gcache_init(&c, 3), 0);
	/* A miss maps the guest's page read-write; a hit returns the same mapping. */
	a = get(&c, refs[0], &e[0]);
	assert_non_null(a);
	assert_int_equal(a[0], 'a');
	a[1] = 'Z';
	assert_int_equal(pages[1], 'Z');
	gcache_put(&c, e[0]);
	b = get(&c, refs[0], &x);
	assert_ptr_equal(a, b);
	assert_int_equal(c.hits, 1);
	gcache_put(&c, x);
	/* Fill: refs 0, 1, 2 idle, 0 least recently used. */
	for (unsigned int i = 1; i < 3; i++) {
		assert_non_null(get(&c, refs[i], &e[i]));
		gcache_put(&c, e[i]);
	}
	assert_int_equal(c.used, 3);
	/* Touch 0: now 1 is the least recently used and is the one a new grant evicts. */
	assert_non_null(get(&c, refs[0], &x));
	gcache_put(&c, x);
	assert_non_null(get(&c, refs[3], &e[3]));
	gcache_put(&c, e[3]);
	assert_int_equal(c.evictions, 1);
	assert_int_equal(c.used, 3);
	uint64_t misses = c.misses;
	assert_non_null(get(&c, refs[0], &x));       /* still cached */
	gcache_put(&c, x);
	assert_int_equal(c.misses, misses);
	assert_non_null(get(&c, refs[1], &x));       /* was evicted: a miss */
	gcache_put(&c, x);
	assert_int_equal(c.misses, misses + 1);
	assert_true(c.used <= 3);
	gcache_destroy(&c, tab);
}

static void test_busy_entries_stay(void **state)
{
	struct grant_cache c;
	struct pgrant *e[NPAGES], *x;

	(void)state;
	assert_int_equal(gcache_init(&c, 2), 0);
	assert_non_null(get(&c, refs[0], &e[0]));
	assert_non_null(get(&c, refs[1], &e[1]));
	/* Both in flight: a third grant is not cached (the caller maps it per request). */
	assert_null(get(&c, refs[2], &x));
	assert_null(x);
	assert_int_equal(c.evictions, 0);
	/* The same grant twice in one request: one entry, two users. */
	assert_non_null(get(&c, refs[0], &x));
	assert_ptr_equal(x, e[0]);
	gcache_put(&c, x);
	gcache_put(&c, e[0]);
	/* Now ref 0 is idle and can make room. */
	assert_non_null(get(&c, refs[2], &x));
	assert_int_equal(c.evictions, 1);
	gcache_put(&c, x);
	gcache_put(&c, e[1]);
	gcache_destroy(&c, tab);
}

static void test_unmappable_grants_evict_nothing(void **state)
{
	struct grant_cache c;
	struct pgrant *e, *x;

	(void)state;
	assert_int_equal(gcache_init(&c, 1), 0);
	assert_non_null(get(&c, refs[0], &e));
	gcache_put(&c, e);
	/* Read-only and never-granted refs: not cached, and the idle entry survives. */
	assert_null(get(&c, ro_ref, &x));
	assert_null(get(&c, 9999, &x));
	assert_int_equal(c.uncacheable, 2);
	assert_int_equal(c.evictions, 0);
	uint64_t hits = c.hits;
	assert_non_null(get(&c, refs[0], &x));
	assert_int_equal(c.hits, hits + 1);
	gcache_put(&c, x);
	gcache_destroy(&c, tab);
}

static void test_no_evict_keeps_every_mapping(void **state)
{
	struct grant_cache c;
	struct pgrant *e, *x;
	unsigned char *a;

	(void)state;
	assert_int_equal(gcache_init(&c, 2), 0);
	c.no_evict = true;
	for (unsigned int i = 0; i < 2; i++) {
		assert_non_null(get(&c, refs[i], &e));
		gcache_put(&c, e);
	}
	/* Full of idle entries: a new grant is left to a per-request map, nothing is unmapped. */
	assert_null(get(&c, refs[2], &x));
	assert_null(x);
	assert_int_equal(c.evictions, 0);
	assert_int_equal(c.used, 2);
	/* The cached pages are still the guest's, still mapped. */
	a = get(&c, refs[1], &x);
	assert_non_null(a);
	assert_int_equal(a[0], 'b');
	gcache_put(&c, x);
	gcache_destroy(&c, tab);
}

static void test_capacity_zero(void **state)
{
	struct grant_cache c;
	struct pgrant *x;

	(void)state;
	assert_int_equal(gcache_init(&c, 0), 0);
	assert_null(get(&c, refs[0], &x));
	assert_int_equal(c.misses, 0);
	gcache_destroy(&c, tab);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hits_and_lru_eviction),
		cmocka_unit_test(test_busy_entries_stay),
		cmocka_unit_test(test_unmappable_grants_evict_nothing),
		cmocka_unit_test(test_no_evict_keeps_every_mapping),
		cmocka_unit_test(test_capacity_zero),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
