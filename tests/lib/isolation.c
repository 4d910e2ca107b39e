// SPDX-License-Identifier: MIT
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

#include "isolation.h"
#include "simdir.h"

long test_rss_kb(pid_t pid)
{
	char path[64], line[256];
	long kb = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

bool test_under_asan(void)
{
	const char *san = getenv("SANITIZE");

#if defined(__SANITIZE_ADDRESS__)
	return true;
#endif
	if (san && strcmp(san, "1") == 0)
		return true;
	return strstr(test_build_dir(), "asan") != NULL;
}

bool test_pid_alive(pid_t pid)
{
	return pid > 0 && waitpid(pid, NULL, WNOHANG) == 0 && kill(pid, 0) == 0;
}

/* One verify of the witness disk: the shadow first, then 100 random writes and reads; 0 on success. */
static int witness_verify(struct test_isolation *iso)
{
	iso->runs++;
	return test_run("%s/vha-frontend --platform sim --sim-dir %s --domid %u verify --random 100 --seed %u "
			"--max-size 65536 --shadow %s >%s/witness.log 2>&1",
			test_build_dir(), iso->simdir, iso->witness_domid, 1000 + iso->runs, iso->shadow, iso->simdir);
}

void test_isolation_init(struct test_isolation *iso, const char *simdir, pid_t backend_pid,
			 unsigned int witness_domid)
{
	memset(iso, 0, sizeof(*iso));
	snprintf(iso->simdir, sizeof(iso->simdir), "%s", simdir);
	snprintf(iso->shadow, sizeof(iso->shadow), "%s/witness.shadow", simdir);
	iso->backend_pid = backend_pid;
	iso->witness_domid = witness_domid;
	iso->judge_rss = !test_under_asan();
	for (int i = 0; i < 2; i++)
		if (witness_verify(iso) != 0) {
			test_run("cat %s/witness.log", iso->simdir);
			fail_msg("warm-up: the witness guest %u does not verify", witness_domid);
		}
	iso->rss_base_kb = iso->rss_max_kb = test_rss_kb(backend_pid);
	assert_true(iso->rss_base_kb > 0);
	printf("isolation: baseline after warm-up: backend RSS %ld KiB (bound +%u KiB%s)\n", iso->rss_base_kb,
	       TEST_ISOLATION_RSS_SLACK_KB, iso->judge_rss ? "" : ", not judged under ASan");
}

void test_isolation_check(struct test_isolation *iso, const char *after)
{
	long rss;

	if (!test_pid_alive(iso->backend_pid))
		fail_msg("after %s: vha-backend (pid %d) is not alive", after, (int)iso->backend_pid);
	if (witness_verify(iso) != 0) {
		test_run("cat %s/witness.log", iso->simdir);
		fail_msg("after %s: the other guest (domain %u) no longer verifies", after, iso->witness_domid);
	}
	if (!test_pid_alive(iso->backend_pid))
		fail_msg("after %s: vha-backend died during the other guest's verify", after);
	rss = test_rss_kb(iso->backend_pid);
	assert_true(rss > 0);
	if (rss > iso->rss_max_kb)
		iso->rss_max_kb = rss;
	printf("isolation: after %s: daemon alive, guest %u verified, backend RSS %ld KiB (%+ld over baseline)%s\n",
	       after, iso->witness_domid, rss, rss - iso->rss_base_kb, iso->judge_rss ? "" : " [ASan: not judged]");
	if (iso->judge_rss && rss - iso->rss_base_kb > (long)TEST_ISOLATION_RSS_SLACK_KB)
		fail_msg("after %s: backend RSS grew by %ld KiB (bound %u KiB)", after, rss - iso->rss_base_kb,
			 TEST_ISOLATION_RSS_SLACK_KB);
}
