// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: the backend's xenbus handshake and device lifecycle
 * (backend/device.c, backend/vbd.c, queue setup and teardown) driven by a
 * hostile frontend and a toolstack, with arbitrary node values in any
 * order. The real backend code runs against an in-process sim xenstored
 * (xs_inproc.c speaks the wire protocol to it) and a fake platform whose
 * grants and event channels only count what is held, so one input is a
 * whole lifetime: set up, operations, shutdown, with no socket and no
 * process (a few milliseconds, most of it the queues' threads and rings).
 *
 * The input is a sequence of operations, each one byte of opcode and its
 * arguments (see the OP_ enum): the frontend writes or removes one of its
 * nodes (raw bytes, a small number, or a word from a list), the toolstack
 * does the same in the backend directory, a backend pass runs, the
 * frontend domain dies or comes back, a second device appears, or the
 * frontend writes a whole valid handshake at once (so that mutations start
 * from connected devices). Invariants, beyond ASan/UBSan and leaks:
 *   - the backend writes only inside its own backend directories, never
 *     into one whose state node is gone (a removed device is not
 *     resurrected), and its state node moves only as the xenbus table
 *     allows (STYLE.md rule 7);
 *   - after every pass, what the platform says is held (ring pages mapped,
 *     event channels bound) is exactly what the devices account for, a
 *     device holds queues only while Connected or being torn down, a
 *     Connected device has every queue running, and the budget pool's
 *     reservations are what the devices hold;
 *   - after shutdown nothing is held: no mapping, no binding, no budget, no
 *     journal file and no file descriptor.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../backend/backend.h"
#include "../../common/platform_impl.h"
#include "../../tools/simxenstored/xsd.h"
#include "vha/xenbus.h"
#include "xs_inproc.h"

#define FE_DOMID 1u
/* The frontend has granted refs FE_FIRST_REF.. to us, and has unbound ports 1..FE_NR_PORTS for us. */
#define FE_FIRST_REF 8u
#define FE_NR_REFS 24u
#define FE_NR_PORTS 24u
#define LOCAL_PORT_BASE 1000
#define DEVID_BASE 51712u
#define MAX_OPS 64u
#define MAX_VALUE 24u

static void check(bool ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz_xenbus_handshake: invariant violated: %s\n", what);
		abort();
	}
}

/* ---------------- the platform: grants and event channels that only count ---------------- */

static struct {
	bool fe_alive;
	long pages_mapped;              /* atomic: workers could unmap */
	bool port_bound[FE_NR_PORTS + 1];
	int ports_bound;
} plat;

static int fz_open(struct vha_platform *p, const struct vha_platform_config *cfg)
{
	return -ENOSYS;
}

static void fz_close(struct vha_platform *p)
{
}

static struct xs_handle *fz_xs_open(struct vha_platform *p)
{
	return xs_open(0);
}

static int fz_gnttab_open(struct vha_platform *p, void **priv)
{
	*priv = NULL;
	return 0;
}

static void fz_gnttab_close(void *priv)
{
}

/* As the sim: all or nothing, the frontend's refs only, and not once it is gone. */
static int fz_gnttab_map(void *priv, vha_domid_t domid, uint32_t count, const vha_grant_ref_t *refs, bool writable,
			 void **addr_out)
{
	void *pages;

	if (count == 0 || count > VHA_GNTTAB_MAX_BATCH)
		return -EINVAL;
	if (domid != FE_DOMID)
		return -EACCES;
	if (!__atomic_load_n(&plat.fe_alive, __ATOMIC_ACQUIRE))
		return -ESRCH;
	for (uint32_t i = 0; i < count; i++)
		if (refs[i] < FE_FIRST_REF || refs[i] >= FE_FIRST_REF + FE_NR_REFS)
			return -EINVAL;
	/* A fresh zeroed ring: the frontend never produces a request here (fuzz_blkif_request covers those). */
	pages = aligned_alloc(VHA_PAGE_SIZE, (size_t)count * VHA_PAGE_SIZE);
	if (!pages)
		return -ENOMEM;
	memset(pages, 0, (size_t)count * VHA_PAGE_SIZE);
	__atomic_add_fetch(&plat.pages_mapped, count, __ATOMIC_RELAXED);
	*addr_out = pages;
	return 0;
}

static int fz_gnttab_unmap(void *priv, void *addr, uint32_t count)
{
	free(addr);
	__atomic_sub_fetch(&plat.pages_mapped, count, __ATOMIC_RELAXED);
	return 0;
}

static int fz_gnttab_copy(void *priv, struct vha_grant_copy_seg *segs, uint32_t count)
{
	for (uint32_t i = 0; i < count; i++)
		segs[i].status = -EINVAL;
	return 0;
}

static int fz_gntshr_open(struct vha_platform *p, void **priv)
{
	return -ENOSYS;
}

static void fz_gntshr_close(void *priv)
{
}

static void *fz_gntshr_share(void *priv, vha_domid_t domid, uint32_t count, vha_grant_ref_t *refs, bool writable)
{
	errno = ENOSYS;
	return NULL;
}

static int fz_gntshr_unshare(void *priv, void *addr, uint32_t count)
{
	return -ENOSYS;
}

/* One per queue; the worker polls efd, which never fires. */
struct fz_evtchn {
	int efd;
};

static int fz_evtchn_open(struct vha_platform *p, void **priv)
{
	struct fz_evtchn *e = malloc(sizeof(*e));

	if (!e)
		return -ENOMEM;
	e->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (e->efd < 0) {
		free(e);
		return -EMFILE;
	}
	*priv = e;
	return 0;
}

static void fz_evtchn_close(void *priv)
{
	struct fz_evtchn *e = priv;

	close(e->efd);
	free(e);
}

static int fz_evtchn_fd(void *priv)
{
	return ((struct fz_evtchn *)priv)->efd;
}

static int fz_evtchn_bind_unbound(void *priv, vha_domid_t remote)
{
	return -ENOSYS;
}

/* Main thread only (connect and queue_stop): the port table needs no lock. */
static int fz_evtchn_bind_interdomain(void *priv, vha_domid_t remote, vha_evtchn_port_t remote_port)
{
	if (remote != FE_DOMID)
		return -EINVAL;
	if (!__atomic_load_n(&plat.fe_alive, __ATOMIC_ACQUIRE))
		return -ESRCH;
	if (remote_port == 0 || remote_port > FE_NR_PORTS || plat.port_bound[remote_port])
		return -EINVAL;
	plat.port_bound[remote_port] = true;
	plat.ports_bound++;
	return LOCAL_PORT_BASE + (int)remote_port;
}

static int fz_evtchn_unbind(void *priv, vha_evtchn_port_t port)
{
	unsigned int remote = port - LOCAL_PORT_BASE;

	check(port > LOCAL_PORT_BASE && remote <= FE_NR_PORTS && plat.port_bound[remote],
	      "unbind of a port that is not bound");
	plat.port_bound[remote] = false;
	plat.ports_bound--;
	return 0;
}

static int fz_evtchn_notify(void *priv, vha_evtchn_port_t port)
{
	return 0;
}

static int fz_evtchn_pending(void *priv)
{
	return -EAGAIN;
}

static int fz_evtchn_unmask(void *priv, vha_evtchn_port_t port)
{
	return 0;
}

static const struct vha_platform_ops fz_ops = {
	.name = "fuzz",
	.open = fz_open,
	.close = fz_close,
	.xs_open = fz_xs_open,
	.gnttab_open = fz_gnttab_open,
	.gnttab_close = fz_gnttab_close,
	.gnttab_map = fz_gnttab_map,
	.gnttab_unmap = fz_gnttab_unmap,
	.gnttab_copy = fz_gnttab_copy,
	.gntshr_open = fz_gntshr_open,
	.gntshr_close = fz_gntshr_close,
	.gntshr_share = fz_gntshr_share,
	.gntshr_unshare = fz_gntshr_unshare,
	.evtchn_open = fz_evtchn_open,
	.evtchn_close = fz_evtchn_close,
	.evtchn_fd = fz_evtchn_fd,
	.evtchn_bind_unbound = fz_evtchn_bind_unbound,
	.evtchn_bind_interdomain = fz_evtchn_bind_interdomain,
	.evtchn_unbind = fz_evtchn_unbind,
	.evtchn_notify = fz_evtchn_notify,
	.evtchn_pending = fz_evtchn_pending,
	.evtchn_unmask = fz_evtchn_unmask,
};

static struct vha_platform platform = { .ops = &fz_ops, .domid = 0 };

/* ---------------- the world: one server, a toolstack, a frontend, the backend ---------------- */

static char work_dir[64], disk_path[96], journal_dir[96];

static struct xsd *server;      /* one for the whole run; each input leaves it empty */
static struct {
	struct xs_handle *toolstack, *frontend;
	struct backend be;
} w;

/*
 * An input allocates a device (80 KiB) and request slots (16 KiB each) per
 * connect: with ASan's default 256 MiB quarantine every one of them is fresh
 * memory to fault in, which made page faults a third of the run. 16 MiB
 * still holds several inputs' worth of freed memory for use-after-free.
 */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
	return "quarantine_size_mb=16";
}

/* Every log line is formatted (format bugs show up under ASan), none is printed. */
static void quiet_sink(void *opaque, enum vha_log_level level, const char *fmt, va_list ap)
{
	char line[512];

	vsnprintf(line, sizeof(line), fmt, ap);
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)) != NULL)
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

static int count_files(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	if (!d)
		return 0;
	while ((e = readdir(d)) != NULL)
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

static void remove_work_dir(void)
{
	unlink(disk_path);
	rmdir(journal_dir);
	rmdir(work_dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	int fd;

	/* VHA_FUZZ_LOG=1 prints the backend's lines (to see what a seed or a crash does). */
	if (!getenv("VHA_FUZZ_LOG"))
		vha_log_set_sink(quiet_sink, NULL);
	vha_log_set_threshold(VHA_LOG_DEBUG);
	snprintf(work_dir, sizeof(work_dir), "/dev/shm/vha-fuzz-handshake-%d", (int)getpid());
	snprintf(disk_path, sizeof(disk_path), "%s/disk", work_dir);
	snprintf(journal_dir, sizeof(journal_dir), "%s/journal", work_dir);
	if (mkdir(work_dir, 0700) != 0 || mkdir(journal_dir, 0700) != 0) {
		perror("fuzz_xenbus_handshake: mkdir");
		exit(1);
	}
	atexit(remove_work_dir);
	fd = open(disk_path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || ftruncate(fd, 1 << 20) != 0) {
		perror("fuzz_xenbus_handshake: disk");
		exit(1);
	}
	close(fd);
	if (xsd_create_detached(&server) < 0) {
		fprintf(stderr, "fuzz_xenbus_handshake: cannot create the xenstore server\n");
		exit(1);
	}
	xsi_set_server(server);
	return 0;
}

static void fe_dir(unsigned int d, char *buf, size_t len)
{
	snprintf(buf, len, "/local/domain/%u/device/vbd/%u", FE_DOMID, DEVID_BASE + 16 * d);
}

static void be_dir(unsigned int d, char *buf, size_t len)
{
	snprintf(buf, len, "/local/domain/0/backend/vbd/%u/%u", FE_DOMID, DEVID_BASE + 16 * d);
}

static void write_node(struct xs_handle *h, const char *dir, const char *node, const char *val, size_t len)
{
	char path[256];

	if (node[0])
		snprintf(path, sizeof(path), "%s/%s", dir, node);
	else
		snprintf(path, sizeof(path), "%s", dir);
	if (!xs_write(h, XBT_NULL, path, val, (unsigned int)len) && getenv("VHA_FUZZ_LOG"))
		fprintf(stderr, "write %s: %s\n", path, strerror(errno));
}

static void write_str(struct xs_handle *h, const char *dir, const char *node, const char *val)
{
	write_node(h, dir, node, val, strlen(val));
}

static void set_perms(struct xs_handle *h, const char *path, const char *perms, size_t len)
{
	char buf[256];
	size_t plen = strlen(path) + 1;

	memcpy(buf, path, plen);
	memcpy(buf + plen, perms, len);
	free(xsi_request(h, XBT_NULL, XS_SET_PERMS, buf, plen + len, NULL));
}

static void domain_request(uint32_t type)
{
	char id[16];

	snprintf(id, sizeof(id), "%u", FE_DOMID);
	free(xsi_request(w.toolstack, XBT_NULL, type, id, strlen(id) + 1, NULL));
}

/* What xl writes for a disk: the frontend's directory (the guest owns it), then the backend's. */
static void add_device(unsigned int d)
{
	char fe[128], be[128], devid[16];

	fe_dir(d, fe, sizeof(fe));
	be_dir(d, be, sizeof(be));
	snprintf(devid, sizeof(devid), "%u", DEVID_BASE + 16 * d);
	/* Directories first: a new node takes its parent's permissions. */
	xs_mkdir(w.toolstack, XBT_NULL, fe);
	set_perms(w.toolstack, fe, "n1\0r0", 6);
	xs_mkdir(w.toolstack, XBT_NULL, be);
	set_perms(w.toolstack, be, "n0\0r1", 6);
	write_str(w.toolstack, fe, "backend", be);
	write_str(w.toolstack, fe, "backend-id", "0");
	write_str(w.toolstack, fe, "virtual-device", devid);
	write_str(w.toolstack, fe, "state", "1");
	write_str(w.toolstack, be, "frontend", fe);
	write_str(w.toolstack, be, "frontend-id", "1");
	write_str(w.toolstack, be, "params", disk_path);
	write_str(w.toolstack, be, "mode", "w");
	write_str(w.toolstack, be, "device-type", "disk");
	write_str(w.toolstack, be, "online", "1");
	write_str(w.toolstack, be, "hotplug-status", "connected");
	write_str(w.toolstack, be, "state", "1");
}

/* ---------------- invariants ---------------- */

/* A state node's value as vha_xenbus_read_state takes it: decimal digits only, at most Reconfigured. */
static int parse_state(const char *v, size_t len)
{
	unsigned int s = 0;

	if (len == 0)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (v[i] < '0' || v[i] > '9')
			return -1;
		s = s * 10 + (unsigned int)(v[i] - '0');
		if (s > XenbusStateReconfigured)
			return -1;
	}
	return (int)s;
}

/* Everything the backend writes goes through here before it reaches the server. */
static void backend_write_hook(struct xs_handle *h, xs_transaction_t t, uint32_t type, const char *path,
			       const void *data, size_t len)
{
	const char *base = w.be.base_path, *rest, *slash;
	char dev_dir[256], state_path[280];
	const char *old;
	size_t base_len = strlen(base), old_len = 0;

	if (h != w.be.xs)
		return;
	/* base/<fe>/<devid>/<node...>: nothing outside a device's directory, never the directory itself. */
	check(strncmp(path, base, base_len) == 0 && path[base_len] == '/', "backend writes outside its directory");
	rest = path + base_len + 1;
	slash = strchr(rest, '/');
	check(slash && (slash = strchr(slash + 1, '/')) != NULL, "backend writes a device directory itself");
	snprintf(dev_dir, sizeof(dev_dir), "%.*s", (int)(slash - path), path);
	if (type == XS_RM)
		return;
	snprintf(state_path, sizeof(state_path), "%s/state", dev_dir);
	check(xsi_peek(h, t, state_path, &old_len) != NULL, "backend writes into a removed device directory");
	if (strcmp(path, state_path) != 0)
		return;
	check(type == XS_WRITE && parse_state(data, len) > 0, "backend state node written with a non-state");
	old = xsi_peek(h, t, path, &old_len);
	if (parse_state(old, old_len) >= 0)
		check(vha_xenbus_transition_allowed(VHA_XENBUS_BACKEND, parse_state(old, old_len),
						    parse_state(data, len)),
		      "backend state moved off the xenbus table");
}

/* The budget pool's reservations are what the devices hold. */
static void check_budgets(void)
{
	for (unsigned int k = 0; k < BUDGET_KINDS; k++) {
		uint64_t sum = 0;

		for (unsigned int i = 0; i < w.be.nr_devices; i++)
			sum += w.be.devices[i]->budget.amount[k];
		check(sum == w.be.pool.reserved[k] && sum <= w.be.pool.total[k], "budgets do not add up");
	}
}

/* What the platform holds is what the devices account for. */
static void check_accounts(void)
{
	long pages = 0;
	int ports = 0;

	for (unsigned int i = 0; i < w.be.nr_devices; i++) {
		struct device *dev = w.be.devices[i];

		check(dev->nr_queues <= BACKEND_MAX_QUEUES, "nr_queues out of range");
		check(dev->nr_queues == 0 || dev->phase == DEV_CONNECTED || dev->stopping || dev->removed,
		      "a closed device still holds queues");
		check(dev->phase != DEV_CONNECTED || dev->nr_queues > 0 || dev->removed,
		      "a connected device has no queue");
		for (unsigned int q = 0; q < dev->nr_queues; q++) {
			const struct queue *qu = &dev->queues[q];

			if (qu->ring_map)
				pages += qu->nr_ring_pages;
			ports += qu->local_port > 0;
			if (dev->phase == DEV_CONNECTED && !dev->stopping && !dev->removed)
				check(qu->ring_map && qu->local_port > 0 && qu->thread_started,
				      "a connected device has a queue that is not running");
		}
	}
	check(__atomic_load_n(&plat.pages_mapped, __ATOMIC_RELAXED) == pages,
	      "ring pages mapped differ from what the devices hold");
	check(plat.ports_bound == ports, "event channels bound differ from what the devices hold");
	check_budgets();
}

/* Let every device job (a target opening or closing on its own thread) finish. */
static void wait_for_jobs(void)
{
	for (unsigned int i = 0; i < w.be.nr_devices; i++)
		for (int spins = 0;
		     __atomic_load_n(&w.be.devices[i]->job.state, __ATOMIC_ACQUIRE) == JOB_RUNNING && spins < 20000;
		     spins++)
			usleep(50);
}

/* Let every device job and every worker that was asked to stop finish (the pass then sees them done). */
static void wait_for_workers(void)
{
	wait_for_jobs();
	for (unsigned int i = 0; i < w.be.nr_devices; i++) {
		struct device *dev = w.be.devices[i];

		for (unsigned int q = 0; q < dev->nr_queues; q++)
			for (int spins = 0; dev->queues[q].stop_sent && !queue_stopped(&dev->queues[q]) && spins < 20000;
			     spins++)
				usleep(50);
	}
}

/* ---------------- the operations ---------------- */

enum {
	OP_FE_BYTES,            /* node, len, bytes: the frontend writes raw bytes */
	OP_FE_NUM,              /* node, n: ... a number 0..255 */
	OP_FE_WORD,             /* node, word: ... a word from words[] */
	OP_FE_RM,               /* node: the frontend removes a node (or its whole directory) */
	OP_BE_BYTES,            /* the same four for the toolstack in the backend directory */
	OP_BE_NUM,
	OP_BE_WORD,
	OP_BE_RM,
	OP_PROCESS,             /* flags: one backend pass; bit 0: let stopping workers finish first */
	OP_FE_DIE,              /* the frontend domain is destroyed (XS_RELEASE, @releaseDomain) */
	OP_FE_REVIVE,           /* ... and introduced again */
	OP_ADD_DEVICE,          /* the toolstack adds the second device (again) */
	OP_FE_HANDSHAKE,        /* spec: the frontend writes a whole valid handshake */
	OP_COUNT
};

/* Node names; the top bit of a node byte picks the device. "" is the directory itself. */
static const char *const fe_nodes[] = {
	"state", "ring-ref", "ring-ref0", "ring-ref1", "ring-ref2", "ring-ref3", "event-channel", "protocol",
	"multi-queue-num-queues", "ring-page-order", "feature-persistent", "queue-0/ring-ref",
	"queue-0/event-channel", "queue-1/ring-ref", "queue-1/event-channel", "queue-0/ring-ref0",
	"queue-0/ring-ref1", "queue-1/ring-ref0", "queue-1/ring-ref1", "queue-2/ring-ref", "queue-2/event-channel",
	"queue-3/ring-ref", "queue-3/event-channel", "queue-4/ring-ref", "",
};
static const char *const be_nodes[] = {
	"state", "online", "hotplug-status", "mode", "device-type", "grant-strategy", "frontend", "params", "",
};
static const char *const words[] = {
	"connected", "error", "x86_64-abi", "x86_32-abi", "arm-abi", "map", "copy", "persistent", "adaptive",
	"r", "w", "cdrom", "disk", "", "-1", "0x10", "4294967296", "18446744073709551616", " 1", "1\n",
};

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

struct input {
	const uint8_t *p;
	size_t left;
};

static uint8_t next(struct input *in)
{
	if (!in->left)
		return 0;
	in->left--;
	return *in->p++;
}

/* A node byte: which device, which directory and node. */
static void pick(uint8_t b, bool frontend, char *dir, size_t len, const char **node)
{
	unsigned int d = b >> 7;

	if (frontend) {
		fe_dir(d, dir, len);
		*node = fe_nodes[(b & 0x7f) % ARRAY_SIZE(fe_nodes)];
	} else {
		be_dir(d, dir, len);
		*node = be_nodes[(b & 0x7f) % ARRAY_SIZE(be_nodes)];
	}
}

/*
 * The toolstack's "params" and "frontend" come from a short list, not raw
 * bytes: the backend opens params (a fuzzer must not make it open /dev/sda
 * or block on a FIFO), and a frontend path elsewhere is already covered by
 * the missing one.
 */
static bool toolstack_choice(const char *node, uint8_t b, char *val, size_t len)
{
	if (strcmp(node, "params") == 0) {
		const char *const choices[] = { disk_path, "/nonexistent/vha-disk", "", work_dir };

		snprintf(val, len, "%s", choices[b % ARRAY_SIZE(choices)]);
		return true;
	}
	if (strcmp(node, "frontend") == 0) {
		switch (b % 4) {
		case 0: fe_dir(0, val, len); return true;
		case 1: fe_dir(1, val, len); return true;
		case 2: snprintf(val, len, "/local/domain/%u/device/vbd/9", FE_DOMID); return true;
		default: return false;
		}
	}
	return false;
}

static void write_op(struct input *in, int op)
{
	bool frontend = op <= OP_FE_RM;
	struct xs_handle *h = frontend ? w.frontend : w.toolstack;
	char dir[128], val[256], path[256];
	const char *node;
	size_t len = 0;

	pick(next(in), frontend, dir, sizeof(dir), &node);
	/* The same four kinds for both sides, in the same order. */
	switch (frontend ? op : op - OP_BE_BYTES + OP_FE_BYTES) {
	case OP_FE_BYTES:
		len = next(in) % (MAX_VALUE + 1);
		for (size_t i = 0; i < len; i++)
			val[i] = (char)next(in);
		break;
	case OP_FE_NUM:
		len = (size_t)snprintf(val, sizeof(val), "%u", next(in));
		break;
	case OP_FE_WORD:
		len = (size_t)snprintf(val, sizeof(val), "%s", words[next(in) % ARRAY_SIZE(words)]);
		break;
	case OP_FE_RM:
		if (node[0])
			snprintf(path, sizeof(path), "%s/%s", dir, node);
		else
			snprintf(path, sizeof(path), "%s", dir);
		xs_rm(h, XBT_NULL, path);
		return;
	}
	if (!frontend && toolstack_choice(node, len ? (uint8_t)val[0] : 0, val, sizeof(val)))
		len = strlen(val);
	write_node(h, dir, node, val, len);
}

/* A frontend that does everything right: nq queues (1..3), ring order 0..2, Initialised. */
static void handshake(struct input *in)
{
	uint8_t spec = next(in), port = (uint8_t)(1 + next(in) % FE_NR_PORTS);
	unsigned int d = spec >> 7, nq = 1 + (spec & 3) % 3, order = (spec >> 2) % 3, ref = FE_FIRST_REF;
	char fe[128], qdir[160], node[32], num[16];

	fe_dir(d, fe, sizeof(fe));
	snprintf(num, sizeof(num), "%u", nq);
	write_str(w.frontend, fe, "multi-queue-num-queues", num);
	snprintf(num, sizeof(num), "%u", order);
	write_str(w.frontend, fe, "ring-page-order", num);
	write_str(w.frontend, fe, "protocol", VHA_BLKIF_PROTOCOL_NATIVE);
	write_str(w.frontend, fe, "feature-persistent", (spec & 0x20) ? "1" : "0");
	for (unsigned int q = 0; q < nq; q++) {
		if (nq == 1)
			snprintf(qdir, sizeof(qdir), "%s", fe);
		else
			snprintf(qdir, sizeof(qdir), "%s/queue-%u", fe, q);
		for (unsigned int i = 0; i < (1u << order); i++) {
			if (order == 0)
				snprintf(node, sizeof(node), "ring-ref");
			else
				snprintf(node, sizeof(node), "ring-ref%u", i);
			snprintf(num, sizeof(num), "%u", FE_FIRST_REF + (ref++ - FE_FIRST_REF) % FE_NR_REFS);
			write_str(w.frontend, qdir, node, num);
		}
		snprintf(num, sizeof(num), "%u", 1 + (port + q - 1) % FE_NR_PORTS);
		write_str(w.frontend, qdir, "event-channel", num);
	}
	write_str(w.frontend, fe, "state", "3");
}

static void run(struct input *in)
{
	for (unsigned int n = 0; n < MAX_OPS && in->left; n++) {
		int op = next(in) % OP_COUNT;

		switch (op) {
		case OP_FE_BYTES: case OP_FE_NUM: case OP_FE_WORD: case OP_FE_RM:
		case OP_BE_BYTES: case OP_BE_NUM: case OP_BE_WORD: case OP_BE_RM:
			write_op(in, op);
			break;
		case OP_PROCESS:
			/* Device jobs (opening a target) always end first, so an input replays the same. */
			wait_for_jobs();
			if (next(in) & 1)
				wait_for_workers();
			backend_process(&w.be);
			check_accounts();
			break;
		case OP_FE_DIE:
			__atomic_store_n(&plat.fe_alive, false, __ATOMIC_RELEASE);
			domain_request(XS_RELEASE);
			break;
		case OP_FE_REVIVE:
			__atomic_store_n(&plat.fe_alive, true, __ATOMIC_RELEASE);
			domain_request(XS_INTRODUCE);
			/* The old domain's connection died with it. */
			xs_close(w.frontend);
			w.frontend = xsi_open(FE_DOMID);
			check(w.frontend != NULL, "cannot reopen the frontend's connection");
			break;
		case OP_ADD_DEVICE:
			add_device(1);
			break;
		case OP_FE_HANDSHAKE:
			handshake(in);
			break;
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct backend_config cfg = {
		.type = "vbd", .max_queues = 4, .max_ring_order = 2, .max_indirect_segments = 32,
		.direct = false, .direct_maps = true, .state_dir = work_dir, .strategy = GS_ADAPTIVE,
		.persistent_max = 64, .copy_max = 65536, .copy_buffer_max = 1u << 20,
		/* Small totals: a second device is offered less, and one with many queues can be refused. */
		.device_max_inflight = 8, .device_max_grants = 1024, .total_max_grants = 1100,
		.total_max_inflight = 12, .total_copy_buffers = 2u << 20, .total_memory = 64u << 20,
		.resume = true,
	};
	struct input in = { data, size };
	int fds_before;

	/* Per input: the fuzzer's own tools (the symbolizer's pipes) come and go between inputs. */
	fds_before = count_fds();
	memset(&w, 0, sizeof(w));
	memset(&plat, 0, sizeof(plat));
	plat.fe_alive = true;
	xsi_set_write_hook(backend_write_hook);
	w.toolstack = xsi_open(0);
	w.frontend = xsi_open(FE_DOMID);
	check(w.toolstack && w.frontend, "cannot open the toolstack's and frontend's connections");
	domain_request(XS_INTRODUCE);
	add_device(0);

	w.be.wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	check(w.be.wake_fd >= 0 && backend_init(&w.be, &cfg, &platform) == 0, "backend_init failed");
	run(&in);
	/* The last operations get a pass too, with the workers settled. */
	wait_for_workers();
	backend_process(&w.be);
	check_accounts();

	backend_shutdown(&w.be);
	check(w.be.nr_devices == 0, "devices left after shutdown");
	check(__atomic_load_n(&plat.pages_mapped, __ATOMIC_RELAXED) == 0, "ring pages still mapped after shutdown");
	check(plat.ports_bound == 0, "event channels still bound after shutdown");
	check_budgets();        /* no device left: nothing reserved */
	check(count_files(journal_dir) == 0, "journal files left after an orderly shutdown");
	xs_close(w.be.xs);
	vha_gnttab_close(w.be.gnttab);
	close(w.be.wake_fd);
	xs_close(w.frontend);
	/* Back to the empty tree for the next input (the server is kept: creating one costs more than an input). */
	xs_rm(w.toolstack, XBT_NULL, "/local/domain/1");
	xs_rm(w.toolstack, XBT_NULL, "/local/domain/0");
	domain_request(XS_RELEASE);
	xs_close(w.toolstack);
	xsi_set_write_hook(NULL);
	check(count_fds() == fds_before, "file descriptors leaked");
	return 0;
}
