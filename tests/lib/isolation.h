/* SPDX-License-Identifier: MIT */
/*
 * Test support: what every hostile case must leave true (issue 9, "A
 * complete hostile-frontend suite"): the daemon is alive, a second guest's
 * I/O still verifies, and the backend's memory did not grow beyond a bound.
 *
 * The second guest (the witness) is a domain with a writable disk of its
 * own, attached by the caller at devid 51712. Each check runs
 * `vha-frontend verify --random` against it with a shadow file kept across
 * runs: the whole disk is first compared with what the previous run
 * acknowledged (a hostile guest must not have touched it), then random
 * writes are read back, then it is flushed.
 */
#ifndef VHA_TEST_ISOLATION_H
#define VHA_TEST_ISOLATION_H

#include <stdbool.h>
#include <sys/types.h>

/* RSS growth tolerated over the baseline taken after warm-up. */
#define TEST_ISOLATION_RSS_SLACK_KB (32u * 1024u)

struct test_isolation {
	char simdir[256];
	pid_t backend_pid;
	unsigned int witness_domid;
	char shadow[300];
	unsigned int runs;              /* verifies done (each a new seed) */
	long rss_base_kb;               /* VmRSS after warm-up */
	long rss_max_kb;                /* highest VmRSS seen by a check */
	bool judge_rss;                 /* false under ASan: printed, not judged */
};

/* VmRSS of pid in KiB from /proc/<pid>/status, or -1. */
long test_rss_kb(pid_t pid);
/* Is the backend an ASan build? ($SANITIZE=1, a build dir named *asan*, or this binary built with ASan.) */
bool test_under_asan(void);
/* Is pid alive (and not a zombie of ours)? Reaps it if it died. */
bool test_pid_alive(pid_t pid);

/*
 * Warm up (two verifies of the witness disk, which also writes the shadow)
 * and take the RSS baseline. Asserts (cmocka) that both verifies pass.
 */
void test_isolation_init(struct test_isolation *iso, const char *simdir, pid_t backend_pid,
			 unsigned int witness_domid);
/*
 * After a hostile case named `after`: assert the backend is alive, the
 * witness verifies (disk unchanged since the last check, then fresh
 * writes read back) and VmRSS - baseline <= TEST_ISOLATION_RSS_SLACK_KB
 * (not judged under ASan). Prints one line with the numbers.
 */
void test_isolation_check(struct test_isolation *iso, const char *after);

#endif
