// SPDX-License-Identifier: MIT
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "simdir.h"
#include "vha/sim.h"

const char *test_simdir_create(const vha_domid_t *domids, unsigned int n)
{
	static char dir[256];

	snprintf(dir, sizeof(dir), "/tmp/vha-test-XXXXXX");
	assert_non_null(mkdtemp(dir));
	for (unsigned int i = 0; i < n; i++)
		assert_int_equal(vha_sim_domain_create(dir, domids[i]), 0);
	return dir;
}

void test_simdir_remove(const char *dir)
{
	char cmd[512];

	if (!dir || strncmp(dir, "/tmp/vha-test-", 14) != 0)
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
}

struct vha_platform *test_sim_platform(const char *dir, vha_domid_t domid)
{
	struct vha_platform_config cfg = { .kind = "sim", .sim_dir = dir, .sim_domid = (int)domid };
	struct vha_platform *p = NULL;

	assert_int_equal(vha_platform_open(&cfg, &p), 0);
	assert_non_null(p);
	return p;
}

const char *test_build_dir(void)
{
	const char *b = getenv("VHA_BUILD");

	return b && *b ? b : "build";
}

bool test_have_binary(const char *binary)
{
	char path[4200];

	snprintf(path, sizeof(path), "%s/%s", test_build_dir(), binary);
	if (access(path, X_OK) == 0)
		return true;
	printf("skip: %s is not built\n", path);
	return false;
}

int test_run(const char *fmt, ...)
{
	char cmd[8192];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return system(cmd);
}

double test_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int test_sim_backend_start(char *dir, size_t dirlen, const char *name, const char *const *args, pid_t *pid)
{
	const char *build = test_build_dir();
	const char *argv[32];
	unsigned int n = 0;

	snprintf(dir, dirlen, "/tmp/vha-%s-XXXXXX", name);
	if (!mkdtemp(dir) || test_run("%s/vhactl --sim-dir %s sim start >/dev/null", build, dir))
		return -1;
	*pid = fork();
	if (*pid < 0)
		return -1;
	if (*pid == 0) {
		char bin[4200], log[4200];

		snprintf(bin, sizeof(bin), "%s/vha-backend", build);
		snprintf(log, sizeof(log), "%s/backend.log", dir);
		argv[n++] = bin;
		argv[n++] = "--platform";
		argv[n++] = "sim";
		argv[n++] = "--sim-dir";
		argv[n++] = dir;
		argv[n++] = "--foreground";
		for (unsigned int i = 0; args && args[i] && n < 31; i++)
			argv[n++] = args[i];
		argv[n] = NULL;
		if (!freopen(log, "w", stderr))
			_exit(126);
		execv(bin, (char *const *)argv);
		_exit(127);
	}
	return 0;
}

void test_sim_backend_stop(const char *dir, pid_t pid)
{
	if (pid > 0) {
		kill(pid, SIGTERM);
		waitpid(pid, NULL, 0);
	}
	if (getenv("VHA_KEEP_LOGS"))
		test_run("cat %s/backend.log >&2", dir);
	test_run("%s/vhactl --sim-dir %s sim stop >/dev/null 2>&1; rm -rf %s", test_build_dir(), dir, dir);
}
