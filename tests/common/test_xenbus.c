// SPDX-License-Identifier: MIT
/*
 * xenbus: every cell of both transition tables, the state names, and the
 * xenstore helpers through the real libxenstore against the project's
 * simulated xenstored (skipped, saying so, when that is not built).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "vha/xenbus.h"

#define NSTATES 9

/*
 * Expected tables, written out cell by cell: row = from, column = to, in
 * the order Unknown, Initialising, InitWait, Initialised, Connected,
 * Closing, Closed, Reconfiguring, Reconfigured. docs/protocol.md has the
 * same tables with the reason for each 1.
 */
static const char *const frontend_table[NSTATES] = {
	/*            UIWiCgdRr */
	[0] = "000001100", /* Unknown */
	[1] = "010101100", /* Initialising: -> Initialised */
	[2] = "001001100", /* InitWait (a backend state) */
	[3] = "000111100", /* Initialised: -> Connected */
	[4] = "000011110", /* Connected: -> Reconfiguring (PV SCSI LUN hotplug) */
	[5] = "000001100", /* Closing */
	[6] = "010101100", /* Closed: reconnect via Initialising or Initialised */
	[7] = "000011111", /* Reconfiguring: -> Reconfigured, or Connected (Linux scsifront) */
	[8] = "000011101", /* Reconfigured: -> Connected */
};

static const char *const backend_table[NSTATES] = {
	[0] = "000001100", /* Unknown */
	[1] = "011101100", /* Initialising: -> InitWait (or Initialised, spec bypass) */
	[2] = "001011100", /* InitWait: -> Connected */
	[3] = "000111100", /* Initialised: -> Connected */
	[4] = "000011110", /* Connected (rewrite to announce a resize); -> Reconfiguring */
	[5] = "000001100", /* Closing */
	[6] = "001001100", /* Closed: -> InitWait for a reconnect */
	[7] = "000001111", /* Reconfiguring: -> Reconfigured */
	[8] = "000011101", /* Reconfigured: -> Connected */
};

static void check_table(enum vha_xenbus_side side, const char *const *table)
{
	for (int from = 0; from < NSTATES; from++)
		for (int to = 0; to < NSTATES; to++) {
			bool want = table[from][to] == '1';
			bool got = vha_xenbus_transition_allowed(side, from, to);

			if (got != want)
				fail_msg("%s %s -> %s: got %d, want %d", side == VHA_XENBUS_BACKEND ? "backend" : "frontend",
					 vha_xenbus_state_name(from), vha_xenbus_state_name(to), got, want);
		}
}

static void test_frontend_table(void **state)
{
	check_table(VHA_XENBUS_FRONTEND, frontend_table);
	/* The handshake the brief names, spelled out. */
	assert_true(vha_xenbus_transition_allowed(VHA_XENBUS_FRONTEND, XenbusStateInitialising, XenbusStateInitialised));
	assert_false(vha_xenbus_transition_allowed(VHA_XENBUS_FRONTEND, XenbusStateInitialising, XenbusStateConnected));
	assert_false(vha_xenbus_transition_allowed(VHA_XENBUS_FRONTEND, XenbusStateInitialising, XenbusStateInitWait));
}

static void test_backend_table(void **state)
{
	check_table(VHA_XENBUS_BACKEND, backend_table);
	assert_true(vha_xenbus_transition_allowed(VHA_XENBUS_BACKEND, XenbusStateInitWait, XenbusStateConnected));
	assert_false(vha_xenbus_transition_allowed(VHA_XENBUS_BACKEND, XenbusStateInitialising, XenbusStateConnected));
	assert_false(vha_xenbus_transition_allowed(VHA_XENBUS_BACKEND, XenbusStateClosing, XenbusStateConnected));
}

/* The PV SCSI LUN hotplug cycle, step by step, for both sides. */
static void test_reconfigure_cycle(void **state)
{
	static const int cycle[] = { XenbusStateConnected, XenbusStateReconfiguring, XenbusStateReconfigured,
				     XenbusStateConnected };

	for (int side = 0; side < 2; side++) {
		for (size_t i = 0; i + 1 < sizeof(cycle) / sizeof(cycle[0]); i++)
			assert_true(vha_xenbus_transition_allowed(side, cycle[i], cycle[i + 1]));
		/* Reconfiguration only happens on a live device. */
		assert_false(vha_xenbus_transition_allowed(side, XenbusStateInitWait, XenbusStateReconfiguring));
		assert_false(vha_xenbus_transition_allowed(side, XenbusStateInitialised, XenbusStateReconfiguring));
		assert_false(vha_xenbus_transition_allowed(side, XenbusStateClosed, XenbusStateReconfigured));
		assert_false(vha_xenbus_transition_allowed(side, XenbusStateConnected, XenbusStateReconfigured));
		assert_false(vha_xenbus_transition_allowed(side, XenbusStateReconfigured, XenbusStateReconfiguring));
	}
	/* Linux scsifront returns from Reconfiguring to Connected at once; the backend must pass Reconfigured. */
	assert_true(vha_xenbus_transition_allowed(VHA_XENBUS_FRONTEND, XenbusStateReconfiguring, XenbusStateConnected));
	assert_false(vha_xenbus_transition_allowed(VHA_XENBUS_BACKEND, XenbusStateReconfiguring, XenbusStateConnected));
}

static void test_sanitise(void **state)
{
	char buf[8];
	char big[VHA_XENBUS_ERROR_MAX + 50];

	assert_int_equal(vha_xenbus_sanitise(buf, sizeof(buf), "ab\ncd"), 5);
	assert_string_equal(buf, "ab?cd");
	assert_int_equal(vha_xenbus_sanitise(buf, sizeof(buf), "\t\r\x1b[0m\x7f\xc3\xa9"), 7);
	assert_string_equal(buf, "???[0m?");
	assert_int_equal(vha_xenbus_sanitise(buf, sizeof(buf), "0123456789"), 7);
	assert_string_equal(buf, "0123456");
	assert_int_equal(vha_xenbus_sanitise(buf, sizeof(buf), NULL), 0);
	assert_string_equal(buf, "");
	buf[0] = 'x';
	assert_int_equal(vha_xenbus_sanitise(buf, 0, "abc"), 0);
	assert_int_equal(buf[0], 'x');
	memset(big, 'e', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(vha_xenbus_sanitise(big, sizeof(big), big), sizeof(big) - 1);
}

static void test_bad_arguments(void **state)
{
	for (int side = 0; side < 2; side++) {
		assert_false(vha_xenbus_transition_allowed(side, -1, XenbusStateClosed));
		assert_false(vha_xenbus_transition_allowed(side, 9, XenbusStateClosed));
		assert_false(vha_xenbus_transition_allowed(side, XenbusStateConnected, 9));
		assert_false(vha_xenbus_transition_allowed(side, XenbusStateConnected, -1));
		assert_false(vha_xenbus_transition_allowed(side, 1000, 1000));
	}
	assert_false(vha_xenbus_transition_allowed((enum vha_xenbus_side)7, XenbusStateConnected, XenbusStateClosed));
}

static void test_state_names(void **state)
{
	static const char *const names[NSTATES] = { "Unknown", "Initialising", "InitWait", "Initialised", "Connected",
						    "Closing", "Closed", "Reconfiguring", "Reconfigured" };

	for (int s = 0; s < NSTATES; s++)
		assert_string_equal(vha_xenbus_state_name(s), names[s]);
	assert_string_equal(vha_xenbus_state_name(-1), "invalid");
	assert_string_equal(vha_xenbus_state_name(9), "invalid");
	assert_string_equal(vha_xenbus_state_name(1 << 30), "invalid");
}

/* ----------------------- against the sim xenstored ----------------------- */

struct xsd {
	char dir[64];
	char pidfile[96];
	struct xs_handle *xs;
	const char *why; /* set when the xenstore cases are skipped */
};

static struct xsd xsd;

#define BASE "/vha-test-xenbus"

static int start_xenstored(void **state)
{
	const char *build = getenv("VHA_BUILD");
	char bin[512], sock[128], cmd[1024];
	struct stat st;

	*state = &xsd;
	snprintf(bin, sizeof(bin), "%s/vha-simxenstored", build ? build : "build");
	if (stat(bin, &st) != 0 || !(st.st_mode & S_IXUSR)) {
		xsd.why = "vha-simxenstored is not built";
		return 0;
	}
	strcpy(xsd.dir, "/tmp/vha-test-xenbus-XXXXXX");
	if (mkdtemp(xsd.dir) == NULL) {
		xsd.why = "no temporary directory";
		return 0;
	}
	snprintf(xsd.pidfile, sizeof(xsd.pidfile), "%s/pid", xsd.dir);
	snprintf(sock, sizeof(sock), "%s/socket", xsd.dir);
	snprintf(cmd, sizeof(cmd), "'%s' --dir '%s' --daemon --pid-file '%s'", bin, xsd.dir, xsd.pidfile);
	if (system(cmd) != 0) {
		xsd.why = "vha-simxenstored did not start";
		return 0;
	}
	for (int i = 0; i < 500 && stat(sock, &st) != 0; i++)
		usleep(10000);
	setenv("XENSTORED_PATH", sock, 1);
	xsd.xs = xs_open(XS_OPEN_SOCKETONLY);
	if (xsd.xs == NULL) {
		xsd.why = "cannot connect to vha-simxenstored";
		return 0;
	}
	return 0;
}

static int stop_xenstored(void **state)
{
	FILE *f;
	long pid = 0;
	char cmd[160];

	if (xsd.xs)
		xs_close(xsd.xs);
	if (xsd.pidfile[0] && (f = fopen(xsd.pidfile, "r")) != NULL) {
		if (fscanf(f, "%ld", &pid) == 1 && pid > 1)
			kill((pid_t)pid, SIGTERM);
		fclose(f);
	}
	if (xsd.dir[0]) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", xsd.dir);
		if (system(cmd) != 0)
			return -1;
	}
	return 0;
}

static struct xs_handle *need_xs(void)
{
	if (xsd.xs == NULL) {
		print_message("skip: xenstore helper cases: %s\n", xsd.why ? xsd.why : "no xenstored");
		skip();
	}
	return xsd.xs;
}

static void raw_write(struct xs_handle *xs, const char *node, const char *val)
{
	char path[256];

	snprintf(path, sizeof(path), BASE "/%s", node);
	assert_true(xs_write(xs, XBT_NULL, path, val, strlen(val)));
}

static void test_xs_read_uint(void **state)
{
	struct xs_handle *xs = need_xs();
	static const struct {
		const char *text;
		int rc;
		uint64_t v;
	} cases[] = {
		{ "0", 0, 0 },
		{ "42", 0, 42 },
		{ "007", 0, 7 },
		{ "18446744073709551615", 0, UINT64_MAX },
		{ "18446744073709551616", -EINVAL, 0 },
		{ "99999999999999999999999", -EINVAL, 0 },
		{ "", -EINVAL, 0 },
		{ "-1", -EINVAL, 0 },
		{ "+1", -EINVAL, 0 },
		{ " 1", -EINVAL, 0 },
		{ "1 ", -EINVAL, 0 },
		{ "1\n", -EINVAL, 0 },
		{ "0x10", -EINVAL, 0 },
		{ "abc", -EINVAL, 0 },
	};
	uint64_t v;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		raw_write(xs, "num", cases[i].text);
		v = 0xdead;
		if (vha_xs_read_uint(xs, XBT_NULL, BASE, "num", 5, &v) != cases[i].rc)
			fail_msg("\"%s\": rc %d, want %d", cases[i].text, vha_xs_read_uint(xs, XBT_NULL, BASE, "num", 5, &v),
				 cases[i].rc);
		assert_int_equal(v, cases[i].rc == 0 ? cases[i].v : 0xdead);
	}
	/* Missing: the default, and success. */
	assert_int_equal(vha_xs_read_uint(xs, XBT_NULL, BASE, "no-such-node", 77, &v), 0);
	assert_int_equal(v, 77);
	assert_int_equal(vha_xs_write_uint(xs, XBT_NULL, BASE, "num", 1234567890123ull), 0);
	assert_int_equal(vha_xs_read_uint(xs, XBT_NULL, BASE, "num", 5, &v), 0);
	assert_int_equal(v, 1234567890123ull);
}

static void test_xs_str_printf_rm(void **state)
{
	struct xs_handle *xs = need_xs();
	char *s = NULL;
	uint64_t v;

	assert_int_equal(vha_xs_printf(xs, XBT_NULL, BASE, "protocol", "%s-%s", "x86_64", "abi"), 0);
	assert_int_equal(vha_xs_read_str(xs, XBT_NULL, BASE, "protocol", &s), 0);
	assert_string_equal(s, "x86_64-abi");
	free(s);
	s = NULL;
	assert_int_equal(vha_xs_read_str(xs, XBT_NULL, BASE, "absent", &s), -ENOENT);
	assert_null(s);

	/* node == NULL writes the directory itself. */
	assert_int_equal(vha_xs_printf(xs, XBT_NULL, BASE "/queue-0", NULL, "%s", ""), 0);
	assert_int_equal(vha_xs_read_str(xs, XBT_NULL, BASE "/queue-0", NULL, &s), 0);
	assert_string_equal(s, "");
	free(s);

	assert_int_equal(vha_xs_write_uint(xs, XBT_NULL, BASE, "gone", 3), 0);
	assert_int_equal(vha_xs_rm(xs, XBT_NULL, BASE, "gone"), 0);
	assert_int_equal(vha_xs_read_uint(xs, XBT_NULL, BASE, "gone", 9, &v), 0);
	assert_int_equal(v, 9);
	/* Removing what is not there is not an error. */
	assert_int_equal(vha_xs_rm(xs, XBT_NULL, BASE, "gone"), 0);
	assert_int_equal(vha_xs_rm(xs, XBT_NULL, BASE "/no/such/dir", "x"), 0);
}

static void test_xs_state(void **state)
{
	struct xs_handle *xs = need_xs();

	assert_int_equal(vha_xs_rm(xs, XBT_NULL, BASE, "state"), 0);
	assert_int_equal(vha_xenbus_read_state(xs, XBT_NULL, BASE), -ENOENT);
	assert_int_equal(vha_xenbus_write_state(xs, XBT_NULL, BASE, XenbusStateInitWait), 0);
	assert_int_equal(vha_xenbus_read_state(xs, XBT_NULL, BASE), XenbusStateInitWait);
	raw_write(xs, "state", "4");
	assert_int_equal(vha_xenbus_read_state(xs, XBT_NULL, BASE), XenbusStateConnected);
	raw_write(xs, "state", "9");
	assert_int_equal(vha_xenbus_read_state(xs, XBT_NULL, BASE), -EINVAL);
	raw_write(xs, "state", "Connected");
	assert_int_equal(vha_xenbus_read_state(xs, XBT_NULL, BASE), -EINVAL);
	assert_int_equal(vha_xenbus_write_state(xs, XBT_NULL, BASE, 9), -EINVAL);
	assert_int_equal(vha_xenbus_write_state(xs, XBT_NULL, BASE, -1), -EINVAL);
}

static void test_xs_transaction(void **state)
{
	struct xs_handle *xs = need_xs();
	xs_transaction_t t;
	uint64_t v;
	char *s;

	t = xs_transaction_start(xs);
	assert_true(t != XBT_NULL);
	assert_int_equal(vha_xs_write_uint(xs, t, BASE "/tx", "ring-ref", 8), 0);
	assert_int_equal(vha_xs_printf(xs, t, BASE "/tx", "protocol", "x86_64-abi"), 0);
	assert_int_equal(vha_xenbus_write_state(xs, t, BASE "/tx", XenbusStateInitialised), 0);
	assert_int_equal(vha_xs_read_uint(xs, t, BASE "/tx", "ring-ref", 0, &v), 0);
	assert_int_equal(v, 8);
	assert_true(xs_transaction_end(xs, t, false));

	assert_int_equal(vha_xenbus_read_state(xs, XBT_NULL, BASE "/tx"), XenbusStateInitialised);
	assert_int_equal(vha_xs_read_str(xs, XBT_NULL, BASE "/tx", "protocol", &s), 0);
	assert_string_equal(s, "x86_64-abi");
	free(s);

	/* An aborted transaction leaves nothing behind. */
	t = xs_transaction_start(xs);
	assert_true(t != XBT_NULL);
	assert_int_equal(vha_xs_write_uint(xs, t, BASE "/tx", "aborted", 1), 0);
	assert_true(xs_transaction_end(xs, t, true));
	assert_int_equal(vha_xs_read_uint(xs, XBT_NULL, BASE "/tx", "aborted", 0, &v), 0);
	assert_int_equal(v, 0);
}

/*
 * vha_xenbus_switch_state over every from/to pair of both sides: the node
 * changes exactly when the expected matrix has a 1, else -EPERM and the node
 * keeps its value.
 */
static void test_switch_state_table(void **state)
{
	struct xs_handle *xs = need_xs();
	const char *const *tables[2] = { frontend_table, backend_table };

	for (int side = 0; side < 2; side++)
		for (int from = 0; from < NSTATES; from++)
			for (int to = 0; to < NSTATES; to++) {
				bool want = tables[side][from][to] == '1';
				char val[4];
				int rc;

				snprintf(val, sizeof(val), "%d", from);
				raw_write(xs, "sw/state", val);
				rc = vha_xenbus_switch_state(xs, XBT_NULL, BASE "/sw", side, VHA_XENBUS_STATE_FROM_NODE, to);
				if (rc != (want ? 0 : -EPERM))
					fail_msg("side %d %s -> %s: rc %d", side, vha_xenbus_state_name(from),
						 vha_xenbus_state_name(to), rc);
				assert_int_equal(vha_xenbus_read_state(xs, XBT_NULL, BASE "/sw"), want ? to : from);
				/* The caller's own idea of `from` is checked the same way. */
				raw_write(xs, "sw/state", "0");
				rc = vha_xenbus_switch_state(xs, XBT_NULL, BASE "/sw", side, from, to);
				assert_int_equal(rc, want ? 0 : -EPERM);
				assert_int_equal(vha_xenbus_read_state(xs, XBT_NULL, BASE "/sw"), want ? to : 0);
			}
}

static void test_switch_state_errors(void **state)
{
	struct xs_handle *xs = need_xs();

	assert_int_equal(vha_xs_rm(xs, XBT_NULL, BASE "/sw2", "state"), 0);
	assert_int_equal(vha_xenbus_switch_state(xs, XBT_NULL, BASE "/sw2", VHA_XENBUS_BACKEND,
						 VHA_XENBUS_STATE_FROM_NODE, XenbusStateClosing), -ENOENT);
	raw_write(xs, "sw2/state", "garbage");
	assert_int_equal(vha_xenbus_switch_state(xs, XBT_NULL, BASE "/sw2", VHA_XENBUS_BACKEND,
						 VHA_XENBUS_STATE_FROM_NODE, XenbusStateClosing), -EINVAL);
	/* Out of range either way, or a bad side: refused, nothing written. */
	assert_int_equal(vha_xenbus_switch_state(xs, XBT_NULL, BASE "/sw2", VHA_XENBUS_BACKEND, 9, XenbusStateClosed),
			 -EPERM);
	assert_int_equal(vha_xenbus_switch_state(xs, XBT_NULL, BASE "/sw2", VHA_XENBUS_BACKEND, XenbusStateConnected, 9),
			 -EPERM);
	assert_int_equal(vha_xenbus_switch_state(xs, XBT_NULL, BASE "/sw2", (enum vha_xenbus_side)5,
						 XenbusStateConnected, XenbusStateClosed), -EPERM);
	assert_int_equal(vha_xenbus_read_state(xs, XBT_NULL, BASE "/sw2"), -EINVAL);
}

static void test_fail(void **state)
{
	struct xs_handle *xs = need_xs();
	char msg[VHA_XENBUS_ERROR_MAX * 2];
	char *s = NULL;

	/* From a live state: error written, state Closing. */
	raw_write(xs, "f/state", "4");
	assert_int_equal(vha_xenbus_fail(xs, XBT_NULL, BASE "/f", VHA_XENBUS_BACKEND,
					 "frontend wrote ring-ref 'x\ny'\x1b[2J"), 0);
	assert_int_equal(vha_xenbus_read_state(xs, XBT_NULL, BASE "/f"), XenbusStateClosing);
	assert_int_equal(vha_xs_read_str(xs, XBT_NULL, BASE "/f", "error", &s), 0);
	assert_string_equal(s, "frontend wrote ring-ref 'x?y'?[2J");
	free(s);

	/* A state node holding garbage, or none at all, still ends in Closing. */
	raw_write(xs, "f/state", "banana");
	assert_int_equal(vha_xenbus_fail(xs, XBT_NULL, BASE "/f", VHA_XENBUS_FRONTEND, "bad"), 0);
	assert_int_equal(vha_xenbus_read_state(xs, XBT_NULL, BASE "/f"), XenbusStateClosing);
	assert_int_equal(vha_xs_rm(xs, XBT_NULL, BASE "/f", "state"), 0);
	assert_int_equal(vha_xenbus_fail(xs, XBT_NULL, BASE "/f", VHA_XENBUS_FRONTEND, NULL), 0);
	assert_int_equal(vha_xenbus_read_state(xs, XBT_NULL, BASE "/f"), XenbusStateClosing);
	assert_int_equal(vha_xs_read_str(xs, XBT_NULL, BASE "/f", "error", &s), 0);
	assert_string_equal(s, "");
	free(s);

	/* Long messages are cut to VHA_XENBUS_ERROR_MAX bytes. */
	memset(msg, 'm', sizeof(msg) - 1);
	msg[sizeof(msg) - 1] = '\0';
	assert_int_equal(vha_xenbus_fail(xs, XBT_NULL, BASE "/f", VHA_XENBUS_BACKEND, msg), 0);
	assert_int_equal(vha_xs_read_str(xs, XBT_NULL, BASE "/f", "error", &s), 0);
	assert_int_equal(strlen(s), VHA_XENBUS_ERROR_MAX);
	assert_int_equal(strspn(s, "m"), VHA_XENBUS_ERROR_MAX);
	free(s);

	/* Inside a transaction: nothing visible until it commits. */
	raw_write(xs, "f/state", "4");
	assert_int_equal(vha_xs_rm(xs, XBT_NULL, BASE "/f", "error"), 0);
	{
		xs_transaction_t t = xs_transaction_start(xs);

		assert_true(t != XBT_NULL);
		assert_int_equal(vha_xenbus_fail(xs, t, BASE "/f", VHA_XENBUS_BACKEND, "in tx"), 0);
		assert_int_equal(vha_xenbus_read_state(xs, XBT_NULL, BASE "/f"), XenbusStateConnected);
		assert_true(xs_transaction_end(xs, t, false));
	}
	assert_int_equal(vha_xenbus_read_state(xs, XBT_NULL, BASE "/f"), XenbusStateClosing);
	assert_int_equal(vha_xs_read_str(xs, XBT_NULL, BASE "/f", "error", &s), 0);
	assert_string_equal(s, "in tx");
	free(s);

	assert_int_equal(vha_xenbus_fail(xs, XBT_NULL, BASE "/f", (enum vha_xenbus_side)3, "x"), -EINVAL);
}

static void test_path_too_long(void **state)
{
	char dir[4000];
	uint64_t v = 1;
	char *s = NULL;

	/* Rejected before any xenstore traffic: no daemon needed. */
	memset(dir, 'a', sizeof(dir) - 1);
	dir[0] = '/';
	dir[sizeof(dir) - 1] = '\0';
	assert_int_equal(vha_xs_read_uint(NULL, XBT_NULL, dir, "x", 0, &v), -ENAMETOOLONG);
	assert_int_equal(vha_xs_read_str(NULL, XBT_NULL, dir, "x", &s), -ENAMETOOLONG);
	assert_int_equal(vha_xs_printf(NULL, XBT_NULL, dir, "x", "%d", 1), -ENAMETOOLONG);
	assert_int_equal(vha_xs_rm(NULL, XBT_NULL, dir, "x"), -ENAMETOOLONG);
	assert_int_equal(vha_xenbus_read_state(NULL, XBT_NULL, dir), -ENAMETOOLONG);
	assert_int_equal(v, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_frontend_table),
		cmocka_unit_test(test_backend_table),
		cmocka_unit_test(test_reconfigure_cycle),
		cmocka_unit_test(test_sanitise),
		cmocka_unit_test(test_bad_arguments),
		cmocka_unit_test(test_state_names),
		cmocka_unit_test(test_path_too_long),
		cmocka_unit_test(test_xs_read_uint),
		cmocka_unit_test(test_xs_str_printf_rm),
		cmocka_unit_test(test_xs_state),
		cmocka_unit_test(test_xs_transaction),
		cmocka_unit_test(test_switch_state_table),
		cmocka_unit_test(test_switch_state_errors),
		cmocka_unit_test(test_fail),
	};

	return cmocka_run_group_tests(tests, start_xenstored, stop_xenstored);
}
