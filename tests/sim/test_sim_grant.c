// SPDX-License-Identifier: MIT
/* Sim grant tables across two processes: really shared pages, Xen's checks, teardown. */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "simdir.h"
#include "vha/platform.h"
#include "vha/sim.h"

static const char *simdir;

static int setup(void **state)
{
	static const vha_domid_t doms[] = { 0, 1, 2 };

	(void)state;
	simdir = test_simdir_create(doms, 3);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	test_simdir_remove(simdir);
	return 0;
}

/* Child = domain 1: shares pages, reports refs, waits, checks what dom0 wrote. */
struct share_msg {
	vha_grant_ref_t rw[2];
	vha_grant_ref_t ro;
};

static int child_frontend(int to_parent, int from_parent)
{
	struct vha_platform *p = NULL;
	struct vha_platform_config cfg = { .kind = "sim", .sim_dir = simdir, .sim_domid = 1 };
	struct vha_gntshr *s = NULL;
	struct share_msg msg;
	unsigned char *rw, *ro;
	char go;

	if (vha_platform_open(&cfg, &p) < 0 || vha_gntshr_open(p, &s) < 0)
		return 10;
	rw = vha_gntshr_share(s, 0, 2, msg.rw, true);
	ro = vha_gntshr_share(s, 0, 1, &msg.ro, false);
	if (!rw || !ro)
		return 11;
	/* Fresh pages arrive zeroed. */
	for (size_t i = 0; i < 2 * VHA_PAGE_SIZE; i++)
		if (rw[i])
			return 12;
	memset(rw, 0xa5, VHA_PAGE_SIZE);
	memset(rw + VHA_PAGE_SIZE, 0x5a, VHA_PAGE_SIZE);
	memcpy(ro, "read-only page", 15);
	if (write(to_parent, &msg, sizeof(msg)) != sizeof(msg))
		return 13;
	if (read(from_parent, &go, 1) != 1)
		return 14;
	/* The parent wrote into the shared pages: we must see it here. */
	if (memcmp(rw, "written by dom0", 16) != 0 || rw[VHA_PAGE_SIZE] != 0x5a)
		return 15;
	/* End access while dom0 still maps the page: must not free it under dom0. */
	if (vha_gntshr_unshare(s, rw, 2) != 0)
		return 16;
	if (write(to_parent, &go, 1) != 1)
		return 17;
	if (read(from_parent, &go, 1) != 1)
		return 18;
	vha_gntshr_close(s);
	vha_platform_close(p);
	return 0;
}

static void test_two_processes(void **state)
{
	int up[2], down[2], status;
	struct share_msg msg;
	struct vha_platform *p0, *p2;
	struct vha_gnttab *g0, *g2;
	struct vha_sim_domain_stats st;
	unsigned char *map;
	void *addr;
	pid_t pid;
	char go = 1;

	(void)state;
	assert_int_equal(pipe(up), 0);
	assert_int_equal(pipe(down), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(child_frontend(up[1], down[0]));

	assert_int_equal(read(up[0], &msg, sizeof(msg)), sizeof(msg));
	p0 = test_sim_platform(simdir, 0);
	p2 = test_sim_platform(simdir, 2);
	assert_int_equal(vha_gnttab_open(p0, &g0), 0);
	assert_int_equal(vha_gnttab_open(p2, &g2), 0);

	/* Map both pages in one batch: the child's data is there. */
	assert_int_equal(vha_gnttab_map(g0, 1, 2, msg.rw, true, &addr), 0);
	map = addr;
	assert_int_equal(map[0], 0xa5);
	assert_int_equal(map[VHA_PAGE_SIZE - 1], 0xa5);
	assert_int_equal(map[VHA_PAGE_SIZE], 0x5a);
	memcpy(map, "written by dom0", 16);
	assert_int_equal(vha_sim_domain_stats(simdir, 1, &st), 0);
	assert_int_equal(st.pages_mapped, 2);

	/* Xen's checks. */
	void *bad = NULL;
	assert_int_equal(vha_gnttab_map(g2, 1, 1, msg.rw, false, &bad), -EACCES);  /* granted to dom0, not 2 */
	assert_null(bad);
	assert_int_equal(vha_gnttab_map(g0, 1, 1, &msg.ro, true, &bad), -EACCES);  /* read-only grant, writable map */
	assert_int_equal(vha_gnttab_map(g0, 1, 1, &msg.ro, false, &bad), 0);       /* read-only map is fine */
	assert_memory_equal(bad, "read-only page", 15);
	assert_int_equal(vha_gnttab_unmap(g0, bad, 1), 0);
	vha_grant_ref_t huge = 1u << 30;
	assert_int_equal(vha_gnttab_map(g0, 1, 1, &huge, false, &bad), -EINVAL);    /* out of range ref */
	vha_grant_ref_t unused = 16000;
	assert_int_equal(vha_gnttab_map(g0, 1, 1, &unused, false, &bad), -EACCES); /* never granted */
	/* All or nothing: one bad ref in a batch leaves nothing mapped. */
	vha_grant_ref_t mixed[2] = { msg.rw[0], unused };
	assert_int_equal(vha_gnttab_map(g0, 1, 2, mixed, true, &bad), -EACCES);
	assert_int_equal(vha_sim_domain_stats(simdir, 1, &st), 0);
	assert_int_equal(st.pages_mapped, 2);
	assert_int_equal(vha_gnttab_map(g0, 7, 1, msg.rw, true, &bad), -ESRCH);   /* no such domain */

	/* Let the child check our write and unshare while we still map. */
	assert_int_equal(write(down[1], &go, 1), 1);
	assert_int_equal(read(up[0], &go, 1), 1);
	assert_int_equal(vha_sim_domain_stats(simdir, 1, &st), 0);
	assert_int_equal(st.pages_mapped, 2);
	assert_int_equal(st.grants_active, 3);      /* 2 released-but-mapped + the read-only one */
	assert_int_equal(st.pages_allocated, 3);    /* not freed under us (XSA-396) */
	/* New maps of an ended grant fail; our mapping still works. */
	assert_int_equal(vha_gnttab_map(g0, 1, 1, msg.rw, true, &bad), -EACCES);
	assert_memory_equal(map, "written by dom0", 16);
	assert_int_equal(vha_gnttab_unmap(g0, map, 2), 0);
	assert_int_equal(vha_sim_domain_stats(simdir, 1, &st), 0);
	assert_int_equal(st.pages_mapped, 0);
	assert_int_equal(st.pages_allocated, 1);    /* the last unmap freed the two pages */

	assert_int_equal(write(down[1], &go, 1), 1);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);

	vha_gnttab_close(g0);
	vha_gnttab_close(g2);
	vha_platform_close(p0);
	vha_platform_close(p2);
}

static void test_destroy_revokes(void **state)
{
	struct vha_platform *p0 = test_sim_platform(simdir, 0), *p2 = test_sim_platform(simdir, 2);
	struct vha_gntshr *s;
	struct vha_gnttab *g;
	struct vha_sim_domain_stats st;
	vha_grant_ref_t refs[2];
	void *page, *mapped, *again = NULL;

	(void)state;
	assert_int_equal(vha_gntshr_open(p2, &s), 0);
	assert_int_equal(vha_gnttab_open(p0, &g), 0);
	page = vha_gntshr_share(s, 0, 2, refs, true);
	assert_non_null(page);
	assert_int_equal(vha_gnttab_map(g, 2, 1, refs, true, &mapped), 0);
	assert_int_equal(vha_sim_domain_destroy(simdir, 2), 0);
	assert_false(vha_sim_domain_exists(simdir, 2));
	/* As on Xen: new maps fail, the existing mapping stays usable until unmapped. */
	assert_int_equal(vha_gnttab_map(g, 2, 1, &refs[1], true, &again), -ESRCH);
	memset(mapped, 1, VHA_PAGE_SIZE);
	assert_int_equal(vha_sim_domain_stats(simdir, 2, &st), 0);
	assert_false(st.alive);
	assert_int_equal(st.pages_mapped, 1);
	assert_int_equal(vha_gnttab_unmap(g, mapped, 1), 0);
	assert_int_equal(vha_sim_domain_stats(simdir, 2, &st), 0);
	assert_int_equal(st.pages_mapped, 0);
	vha_gntshr_close(s);
	vha_platform_close(p2);
	/* A dead domain can be created again, and the same mapping handle maps its new grants. */
	assert_int_equal(vha_sim_domain_create(simdir, 2), 0);
	assert_int_equal(vha_sim_domain_create(simdir, 2), -EEXIST);
	p2 = test_sim_platform(simdir, 2);
	assert_int_equal(vha_gntshr_open(p2, &s), 0);
	page = vha_gntshr_share(s, 0, 1, refs, true);
	assert_non_null(page);
	memcpy(page, "second life", 12);
	assert_int_equal(vha_gnttab_map(g, 2, 1, refs, false, &mapped), 0);
	assert_memory_equal(mapped, "second life", 12);
	assert_int_equal(vha_gnttab_unmap(g, mapped, 1), 0);
	vha_gntshr_close(s);
	vha_platform_close(p2);
	vha_gnttab_close(g);
	vha_platform_close(p0);
}

static void test_grant_copy(void **state)
{
	struct vha_platform *p0 = test_sim_platform(simdir, 0), *p1 = test_sim_platform(simdir, 1);
	struct vha_gntshr *s;
	struct vha_gnttab *g;
	vha_grant_ref_t rw, ro;
	unsigned char *prw, *pro, local[64];

	(void)state;
	assert_int_equal(vha_gntshr_open(p1, &s), 0);
	assert_int_equal(vha_gnttab_open(p0, &g), 0);
	prw = vha_gntshr_share(s, 0, 1, &rw, true);
	pro = vha_gntshr_share(s, 0, 1, &ro, false);
	assert_non_null(prw);
	assert_non_null(pro);
	memcpy(pro + 100, "copy me", 8);

	struct vha_grant_copy_seg segs[3] = {
		/* foreign (read-only grant) -> local */
		{ .src = { .foreign = true, .ref = ro, .domid = 1, .offset = 100 }, .dst = { .virt = local }, .len = 8 },
		/* local -> foreign writable */
		{ .src = { .virt = "into guest" }, .dst = { .foreign = true, .ref = rw, .domid = 1, .offset = 10 },
		  .len = 11 },
		/* local -> foreign read-only: refused */
		{ .src = { .virt = "nope" }, .dst = { .foreign = true, .ref = ro, .domid = 1 }, .len = 4 },
	};
	assert_int_equal(vha_gnttab_copy(g, segs, 3), 0);
	assert_int_equal(segs[0].status, 0);
	assert_memory_equal(local, "copy me", 8);
	assert_int_equal(segs[1].status, 0);
	assert_memory_equal(prw + 10, "into guest", 11);
	assert_int_equal(segs[2].status, -EACCES);
	assert_int_equal(pro[0], 0);
	/* A copy that would cross the page end is refused before anything happens. */
	struct vha_grant_copy_seg cross = { .src = { .virt = local },
					    .dst = { .foreign = true, .ref = rw, .domid = 1, .offset = 4090 },
					    .len = 10 };
	assert_int_equal(vha_gnttab_copy(g, &cross, 1), -EINVAL);
	vha_gnttab_close(g);
	vha_gntshr_close(s);
	vha_platform_close(p0);
	vha_platform_close(p1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_two_processes),
		cmocka_unit_test(test_grant_copy),
		cmocka_unit_test(test_destroy_revokes),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
