// SPDX-License-Identifier: MIT
/*
 * The sim xenstored through the REAL libxenstore: basic operations, watches
 * (with the initial event), transactions (conflict -> EAGAIN), per-domain
 * permissions over per-domain sockets, introduce/release, and a garbage client.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include <xenstore.h>
#include <xen/io/xs_wire.h>

static char dir[48], sock0[96];
static pid_t daemon_pid;

static struct xs_handle *xs_as(unsigned int domid)
{
	char path[160];
	struct xs_handle *xs;

	if (domid == 0)
		snprintf(path, sizeof(path), "%s", sock0);
	else
		snprintf(path, sizeof(path), "%s/xs/domain-%u.sock", dir, domid);
	setenv("XENSTORED_PATH", path, 1);
	xs = xs_open(XS_OPEN_SOCKETONLY);
	return xs;
}

static int setup(void **state)
{
	const char *b = getenv("VHA_BUILD");
	char cmd[4096], pidfile[128];
	FILE *f;
	int pid = 0;

	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/vha-xsd-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(sock0, sizeof(sock0), "%s/xs/socket", dir);
	snprintf(pidfile, sizeof(pidfile), "%s/pid", dir);
	snprintf(cmd, sizeof(cmd), "%s/vha-simxenstored --dir %s/xs --daemon --pid-file %s", b ? b : "build", dir,
		 pidfile);
	if (system(cmd) != 0)
		return -1;
	f = fopen(pidfile, "r");
	if (!f || fscanf(f, "%d", &pid) != 1)
		return -1;
	fclose(f);
	daemon_pid = pid;
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	if (daemon_pid > 0)
		kill(daemon_pid, SIGTERM);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static char *read_str(struct xs_handle *xs, xs_transaction_t t, const char *path)
{
	unsigned int len;

	return xs_read(xs, t, path, &len);
}

/* Wait for the next watch event; returns its path (malloc'd) or NULL on timeout. */
static char *next_event(struct xs_handle *xs, const char *token, int timeout_ms)
{
	struct pollfd pfd = { .fd = xs_fileno(xs), .events = POLLIN };

	for (;;) {
		char **ev = xs_check_watch(xs);

		if (ev) {
			char *p = strcmp(ev[XS_WATCH_TOKEN], token) == 0 ? strdup(ev[XS_WATCH_PATH]) : NULL;

			free(ev);
			if (p)
				return p;
			continue;
		}
		if (poll(&pfd, 1, timeout_ms) <= 0)
			return NULL;
	}
}

/* A raw connection to the socket of `domid` (no libxenstore in between); -1 if it cannot connect. */
static int raw_connect(unsigned int domid)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (domid == 0)
		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock0);
	else
		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/xs/domain-%u.sock", dir, domid);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		close(fd);
		fd = -1;
	}
	return fd;
}

/* Read exactly len bytes, waiting at most timeout_ms for each piece; 0, or -1 on EOF or timeout. */
static int read_full(int fd, void *buf, size_t len, int timeout_ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	size_t off = 0;

	while (off < len) {
		ssize_t n;

		if (poll(&pfd, 1, timeout_ms) <= 0)
			return -1;
		n = read(fd, (char *)buf + off, len - off);
		if (n <= 0)
			return -1;
		off += (size_t)n;
	}
	return 0;
}

/*
 * Send one message of `type` with a body of exactly `len` bytes (so a test can
 * leave out a NUL) and read the reply into *reply and rbody (NUL-terminated).
 * Returns 0, or -1 if no whole reply came within two seconds.
 */
static int raw_request(int fd, uint32_t type, uint32_t tx_id, const void *body, size_t len,
		       struct xsd_sockmsg *reply, char *rbody, size_t rcap)
{
	static uint32_t req_id = 100;
	struct xsd_sockmsg m = { .type = type, .req_id = ++req_id, .tx_id = tx_id, .len = (uint32_t)len };

	if (write(fd, &m, sizeof(m)) != (ssize_t)sizeof(m) || (len && write(fd, body, len) != (ssize_t)len))
		return -1;
	if (read_full(fd, reply, sizeof(*reply), 2000) < 0 || reply->len >= rcap ||
	    read_full(fd, rbody, reply->len, 2000) < 0)
		return -1;
	rbody[reply->len] = '\0';
	if (reply->req_id != m.req_id)
		fail_msg("reply to request %u carries req_id %u", m.req_id, reply->req_id);
	return 0;
}

/* A request whose body is the C string s with its NUL. */
static int raw_request_str(int fd, uint32_t type, uint32_t tx_id, const char *s, struct xsd_sockmsg *reply,
			   char *rbody, size_t rcap)
{
	return raw_request(fd, type, tx_id, s, strlen(s) + 1, reply, rbody, rcap);
}

static void assert_error_reply(const struct xsd_sockmsg *reply, const char *rbody, const char *err)
{
	assert_int_equal(reply->type, XS_ERROR);
	assert_string_equal(rbody, err);
}

/* Send s (with its NUL) and expect XS_ERROR naming err. */
static void expect_error(int fd, uint32_t type, uint32_t tx_id, const char *s, const char *err)
{
	struct xsd_sockmsg reply;
	char body[4200];

	if (raw_request_str(fd, type, tx_id, s, &reply, body, sizeof(body)) < 0)
		fail_msg("no reply to type %u \"%s\"", type, s);
	if (reply.type != XS_ERROR || strcmp(body, err) != 0)
		fail_msg("type %u \"%s\": reply type %u \"%s\", wanted %s", type, s, reply.type, body, err);
}

/* Same with a body of exactly len bytes. */
static void expect_error_len(int fd, uint32_t type, const void *b, size_t len, const char *err)
{
	struct xsd_sockmsg reply;
	char body[4200];

	if (raw_request(fd, type, 0, b, len, &reply, body, sizeof(body)) < 0)
		fail_msg("no reply to type %u", type);
	assert_error_reply(&reply, body, err);
}

static void test_basic(void **state)
{
	struct xs_handle *xs = xs_as(0);
	unsigned int n;
	char **kids, *v;

	(void)state;
	assert_non_null(xs);
	assert_true(xs_write(xs, XBT_NULL, "/test/a/b", "hello", 5));
	v = read_str(xs, XBT_NULL, "/test/a/b");
	assert_string_equal(v, "hello");
	free(v);
	assert_true(xs_mkdir(xs, XBT_NULL, "/test/a/c"));
	kids = xs_directory(xs, XBT_NULL, "/test/a", &n);
	assert_int_equal(n, 2);
	free(kids);
	assert_true(xs_rm(xs, XBT_NULL, "/test/a"));
	assert_null(read_str(xs, XBT_NULL, "/test/a/b"));
	assert_int_equal(errno, ENOENT);
	assert_false(xs_write(xs, XBT_NULL, "bad//path", "x", 1));
	xs_close(xs);
}

static void test_watches(void **state)
{
	struct xs_handle *xs = xs_as(0), *w = xs_as(0);
	char *p;

	(void)state;
	assert_true(xs_write(xs, XBT_NULL, "/w/node", "1", 1));
	assert_true(xs_watch(w, "/w", "tok"));
	/* The initial event. */
	p = next_event(w, "tok", 2000);
	assert_non_null(p);
	assert_string_equal(p, "/w");
	free(p);
	/* A change below the watched path. */
	assert_true(xs_write(xs, XBT_NULL, "/w/node/child", "2", 1));
	p = next_event(w, "tok", 2000);
	assert_non_null(p);
	assert_string_equal(p, "/w/node/child");
	free(p);
	/* Removing a parent of a watched path fires that watch. */
	assert_true(xs_watch(w, "/w/node/child", "deep"));
	free(next_event(w, "deep", 2000));
	assert_true(xs_rm(xs, XBT_NULL, "/w"));
	p = next_event(w, "deep", 2000);
	assert_non_null(p);
	assert_string_equal(p, "/w/node/child");
	free(p);
	/* ...and the watch on /w itself saw the removal (next_event skips other tokens, so ask again). */
	assert_true(xs_write(xs, XBT_NULL, "/w", "", 0));
	p = next_event(w, "tok", 2000);
	assert_non_null(p);
	assert_string_equal(p, "/w");
	free(p);
	free(next_event(w, "tok", 200));
	/* After unwatch, nothing more. */
	assert_true(xs_unwatch(w, "/w", "tok"));
	assert_true(xs_unwatch(w, "/w/node/child", "deep"));
	assert_true(xs_write(xs, XBT_NULL, "/w/again", "3", 1));
	p = next_event(w, "tok", 200);
	if (p)
		fail_msg("event after unwatch: %s", p);
	xs_close(w);
	xs_close(xs);
}

static void test_transactions(void **state)
{
	struct xs_handle *a = xs_as(0), *b = xs_as(0);
	xs_transaction_t t1, t2, t3;
	char *v;

	(void)state;
	assert_true(xs_write(a, XBT_NULL, "/tx/x", "0", 1));
	assert_true(xs_write(a, XBT_NULL, "/tx/y", "0", 1));
	t1 = xs_transaction_start(a);
	t2 = xs_transaction_start(b);
	assert_true(t1 != XBT_NULL && t2 != XBT_NULL);
	/* Both read and write x: the second commit conflicts. */
	free(read_str(a, t1, "/tx/x"));
	free(read_str(b, t2, "/tx/x"));
	assert_true(xs_write(a, t1, "/tx/x", "1", 1));
	assert_true(xs_write(b, t2, "/tx/x", "2", 1));
	/* Inside its transaction, b sees its own write; outside, nobody does yet. */
	v = read_str(b, t2, "/tx/x");
	assert_string_equal(v, "2");
	free(v);
	v = read_str(a, XBT_NULL, "/tx/x");
	assert_string_equal(v, "0");
	free(v);
	assert_true(xs_transaction_end(a, t1, false));
	assert_false(xs_transaction_end(b, t2, false));
	assert_int_equal(errno, EAGAIN);
	v = read_str(a, XBT_NULL, "/tx/x");
	assert_string_equal(v, "1");
	free(v);
	/* A transaction on another node is not disturbed by that write. */
	t3 = xs_transaction_start(b);
	assert_true(xs_write(b, t3, "/tx/y", "3", 1));
	assert_true(xs_write(a, XBT_NULL, "/tx/x", "4", 1));
	assert_true(xs_transaction_end(b, t3, false));
	v = read_str(a, XBT_NULL, "/tx/y");
	assert_string_equal(v, "3");
	free(v);
	/* Abort discards. */
	t3 = xs_transaction_start(b);
	assert_true(xs_write(b, t3, "/tx/y", "5", 1));
	assert_true(xs_transaction_end(b, t3, true));
	v = read_str(a, XBT_NULL, "/tx/y");
	assert_string_equal(v, "3");
	free(v);
	xs_close(a);
	xs_close(b);
}

static void test_domains_and_permissions(void **state)
{
	struct xs_handle *d0 = xs_as(0), *w = xs_as(0), *d1, *d2;
	struct xs_permissions own1 = { .id = 1, .perms = XS_PERM_NONE }, own2 = { .id = 2, .perms = XS_PERM_NONE };
	struct xs_permissions share[2] = { { .id = 2, .perms = XS_PERM_NONE }, { .id = 1, .perms = XS_PERM_READ } };
	char *v, *path;

	(void)state;
	assert_true(xs_watch(w, "@introduceDomain", "intro"));
	free(next_event(w, "intro", 2000));
	assert_true(xs_watch(w, "@releaseDomain", "rel"));
	free(next_event(w, "rel", 2000));
	for (unsigned int d = 1; d <= 2; d++) {
		char home[32];

		snprintf(home, sizeof(home), "/local/domain/%u", d);
		assert_true(xs_mkdir(d0, XBT_NULL, home));
		assert_true(xs_set_permissions(d0, XBT_NULL, home, d == 1 ? &own1 : &own2, 1));
		assert_true(xs_introduce_domain(d0, d, 0, 0));
		v = next_event(w, "intro", 2000);
		assert_non_null(v);
		free(v);
	}
	assert_true(xs_is_domain_introduced(d0, 1));
	path = xs_get_domain_path(d0, 2);
	assert_string_equal(path, "/local/domain/2");
	free(path);
	d1 = xs_as(1);
	d2 = xs_as(2);
	assert_non_null(d1);
	assert_non_null(d2);
	/* Relative paths resolve in the domain's home, which it owns. */
	assert_true(xs_write(d2, XBT_NULL, "data/secret", "s", 1));
	v = read_str(d0, XBT_NULL, "/local/domain/2/data/secret");
	assert_string_equal(v, "s");
	free(v);
	/* Domain 1 can neither read nor write domain 2's nodes. */
	assert_null(read_str(d1, XBT_NULL, "/local/domain/2/data/secret"));
	assert_int_equal(errno, EACCES);
	assert_false(xs_write(d1, XBT_NULL, "/local/domain/2/data/secret", "x", 1));
	assert_int_equal(errno, EACCES);
	/* A domain cannot hand its node to another owner; the owner can share it read-only. */
	assert_false(xs_set_permissions(d1, XBT_NULL, "/local/domain/2/data/secret", &own1, 1));
	assert_true(xs_set_permissions(d2, XBT_NULL, "/local/domain/2/data/secret", share, 2));
	v = read_str(d1, XBT_NULL, "/local/domain/2/data/secret");
	assert_string_equal(v, "s");
	free(v);
	assert_false(xs_write(d1, XBT_NULL, "/local/domain/2/data/secret", "x", 1));
	/* Only dom0 introduces domains. */
	assert_false(xs_introduce_domain(d1, 7, 0, 0));
	/* Release: @releaseDomain fires, the domain's socket goes away. */
	assert_true(xs_release_domain(d0, 2));
	v = next_event(w, "rel", 2000);
	assert_non_null(v);
	free(v);
	assert_false(xs_is_domain_introduced(d0, 2));
	assert_null(xs_as(2));
	xs_close(d2);
	xs_close(d1);
	xs_close(w);
	xs_close(d0);
}

static void test_garbage_client(void **state)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	uint32_t hdr[4] = { 2 /* XS_READ */, 1, 0, 1u << 30 };
	struct xs_handle *xs;
	int fd;
	char c, *v;

	(void)state;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock0);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(write(fd, hdr, sizeof(hdr)), sizeof(hdr));
	/* Dropped: the read sees EOF. */
	assert_int_equal(read(fd, &c, 1), 0);
	close(fd);
	xs = xs_as(0);
	assert_true(xs_write(xs, XBT_NULL, "/still", "up", 2));
	v = read_str(xs, XBT_NULL, "/still");
	assert_string_equal(v, "up");
	free(v);
	xs_close(xs);
}

/* Types the daemon has no handler for get ENOSYS; the connection stays usable. */
static void test_wire_unknown_types(void **state)
{
	static const uint32_t unknown[] = { XS_WATCH_EVENT, XS_ERROR,		 XS_RESUME, XS_SET_TARGET,
					    XS_SET_TARGET + 1, XS_DIRECTORY_PART, XS_TYPE_COUNT, 99,
					    XS_INVALID,	    0xffffffffu };
	struct xsd_sockmsg reply;
	char body[256];
	int fd = raw_connect(0);

	(void)state;
	assert_true(fd >= 0);
	for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++)
		expect_error(fd, unknown[i], 0, "/", "ENOSYS");
	/* A transaction id is checked first, whatever the type. */
	expect_error(fd, 99, 12345, "/", "ENOENT");
	expect_error(fd, XS_READ, 12345, "/", "ENOENT");
	assert_int_equal(raw_request_str(fd, XS_GET_DOMAIN_PATH, 0, "3", &reply, body, sizeof(body)), 0);
	assert_int_equal(reply.type, XS_GET_DOMAIN_PATH);
	assert_string_equal(body, "/local/domain/3");
	close(fd);
}

/* Introduce, release and is-introduced are dom0's alone; dom0's own are checked for a guest domain id. */
static void test_wire_privileged_ops(void **state)
{
	static const char introduce4[] = "4\0" "0\0" "0";
	struct xs_handle *d0 = xs_as(0);
	int fd, fd0;

	(void)state;
	assert_non_null(d0);
	assert_true(xs_introduce_domain(d0, 3, 0, 0));
	fd = raw_connect(3);
	assert_true(fd >= 0);
	expect_error_len(fd, XS_INTRODUCE, introduce4, sizeof(introduce4), "EACCES");
	expect_error(fd, XS_RELEASE, 0, "3", "EACCES");
	expect_error(fd, XS_RELEASE, 0, "0", "EACCES");
	assert_false(xs_is_domain_introduced(d0, 4));
	assert_true(xs_is_domain_introduced(d0, 3));
	/* Nor may they ask whether a domain exists (Xen's xenstored: XS_FLAG_PRIV). */
	expect_error(fd, XS_IS_DOMAIN_INTRODUCED, 0, "3", "EACCES");
	close(fd);
	fd0 = raw_connect(0);
	assert_true(fd0 >= 0);
	expect_error(fd0, XS_INTRODUCE, 0, "0", "EINVAL");
	expect_error(fd0, XS_INTRODUCE, 0, "32752", "EINVAL"); /* DOMID_FIRST_RESERVED */
	expect_error(fd0, XS_RELEASE, 0, "0", "EINVAL");
	expect_error(fd0, XS_RELEASE, 0, "77", "ENOENT");
	close(fd0);
	assert_true(xs_release_domain(d0, 3));
	xs_close(d0);
}

/* Bodies that do not parse get EINVAL and change nothing; a lone path may leave out its NUL. */
static void test_wire_malformed_bodies(void **state)
{
	struct xsd_sockmsg reply;
	char body[256];
	int fd = raw_connect(0);

	(void)state;
	assert_true(fd >= 0);
	/* Write and set-perms need the NUL that ends the path. */
	expect_error_len(fd, XS_WRITE, "/m/a", 4, "EINVAL");
	expect_error(fd, XS_READ, 0, "/m/a", "ENOENT");
	assert_int_equal(raw_request(fd, XS_WRITE, 0, "/m/b\0v", 6, &reply, body, sizeof(body)), 0);
	assert_int_equal(reply.type, XS_WRITE);
	assert_string_equal(body, "OK");
	expect_error_len(fd, XS_SET_PERMS, "/m/b", 4, "EINVAL");
	/* Set-perms needs at least one well-formed permission. */
	expect_error(fd, XS_SET_PERMS, 0, "/m/b", "EINVAL");
	expect_error_len(fd, XS_SET_PERMS, "/m/b\0z1", 8, "EINVAL");
	expect_error_len(fd, XS_SET_PERMS, "/m/b\0n1", 7, "EINVAL"); /* no NUL after the permission */
	/* A read's path may come without its NUL. */
	assert_int_equal(raw_request(fd, XS_READ, 0, "/m/b", 4, &reply, body, sizeof(body)), 0);
	assert_int_equal(reply.type, XS_READ);
	assert_string_equal(body, "v");
	/* Paths that are not paths. */
	expect_error(fd, XS_READ, 0, "", "EINVAL");
	expect_error(fd, XS_READ, 0, "/m//b", "EINVAL");
	expect_error(fd, XS_READ, 0, "/m/b/", "EINVAL");
	expect_error(fd, XS_MKDIR, 0, "/m/a b", "EINVAL");
	expect_error_len(fd, XS_WRITE, "/m/\0x", 5, "EINVAL");
	/* Watch and unwatch take exactly a path and a token. */
	expect_error_len(fd, XS_WATCH, "", 0, "EINVAL");
	expect_error(fd, XS_WATCH, 0, "/m", "EINVAL");
	expect_error(fd, XS_UNWATCH, 0, "/m", "EINVAL");
	expect_error_len(fd, XS_WATCH, "/m//x\0tok", 9, "EINVAL");
	expect_error_len(fd, XS_UNWATCH, "/m\0nosuch", 9, "ENOENT");
	/* Nothing above created a node. */
	assert_int_equal(raw_request_str(fd, XS_DIRECTORY, 0, "/m", &reply, body, sizeof(body)), 0);
	assert_int_equal(reply.type, XS_DIRECTORY);
	assert_int_equal(reply.len, 2);
	assert_string_equal(body, "b");
	close(fd);
}

/* Transaction ends need a transaction; starts refuse one; an ended one is gone. */
static void test_wire_transaction_ids(void **state)
{
	struct xsd_sockmsg reply;
	char body[256];
	uint32_t id;
	int fd = raw_connect(0);

	(void)state;
	assert_true(fd >= 0);
	expect_error(fd, XS_TRANSACTION_END, 0, "T", "ENOENT");
	assert_int_equal(raw_request_str(fd, XS_TRANSACTION_START, 0, "", &reply, body, sizeof(body)), 0);
	assert_int_equal(reply.type, XS_TRANSACTION_START);
	id = (uint32_t)strtoul(body, NULL, 10);
	assert_true(id != 0);
	expect_error(fd, XS_TRANSACTION_START, id, "", "EBUSY");
	assert_int_equal(raw_request_str(fd, XS_TRANSACTION_END, id, "F", &reply, body, sizeof(body)), 0);
	assert_int_equal(reply.type, XS_TRANSACTION_END);
	assert_int_equal(reply.tx_id, id);
	assert_string_equal(body, "OK");
	expect_error(fd, XS_READ, id, "/", "ENOENT");
	expect_error(fd, XS_TRANSACTION_END, id, "T", "ENOENT");
	close(fd);
}

/*
 * Releasing a domain moves the last listener into the freed slot; the moved
 * socket must still accept, also after another domain takes the last slot.
 */
static void test_release_keeps_other_listeners(void **state)
{
	struct xs_handle *d0 = xs_as(0);
	struct xsd_sockmsg reply;
	char body[256];
	int fd;

	(void)state;
	assert_non_null(d0);
	assert_true(xs_introduce_domain(d0, 11, 0, 0));
	assert_true(xs_introduce_domain(d0, 12, 0, 0));
	assert_true(xs_release_domain(d0, 11));
	assert_true(xs_introduce_domain(d0, 13, 0, 0));
	for (unsigned int d = 12; d <= 13; d++) {
		fd = raw_connect(d);
		assert_true(fd >= 0);
		if (raw_request_str(fd, XS_GET_DOMAIN_PATH, 0, "5", &reply, body, sizeof(body)) < 0)
			fail_msg("no reply on domain %u's socket", d);
		assert_int_equal(reply.type, XS_GET_DOMAIN_PATH);
		assert_string_equal(body, "/local/domain/5");
		close(fd);
	}
	assert_true(xs_release_domain(d0, 12));
	assert_true(xs_release_domain(d0, 13));
	xs_close(d0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_basic),
		cmocka_unit_test(test_watches),
		cmocka_unit_test(test_transactions),
		cmocka_unit_test(test_domains_and_permissions),
		cmocka_unit_test(test_garbage_client),
		cmocka_unit_test(test_release_keeps_other_listeners),
		cmocka_unit_test(test_wire_unknown_types),
		cmocka_unit_test(test_wire_privileged_ops),
		cmocka_unit_test(test_wire_malformed_bodies),
		cmocka_unit_test(test_wire_transaction_ids),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
