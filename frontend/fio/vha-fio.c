// SPDX-License-Identifier: MIT
/*
 * libvha-fio.so: an fio external I/O engine over libvhafront, so that fio
 * benchmarks any blkif backend (vha-backend, the kernel's xen-blkback)
 * from a userspace frontend:
 *
 *     fio --ioengine=external:build/libvha-fio.so --devid=51712 ...
 *
 * One job drives one device (device/vbd/<devid> of this domain). The device
 * is attached twice: briefly in ->setup, which fio runs in its main process
 * before it forks the job (for the size), and for the run in ->init, in the
 * job's own process or thread: a struct vha_front belongs to one thread.
 *
 * Queueing is asynchronous: ->queue only stages an io_u, ->commit submits
 * what is staged (an io_u larger than one request goes out as several, as
 * a block layer would split it), ->getevents polls the device until enough
 * have completed. A submit the rings or the pool cannot take now (-EAGAIN)
 * stays staged and goes out once completions made room.
 *
 * Built against fio's own headers of exactly the installed fio (make
 * fio-engine, docs/frontend.md): fio has no stable ABI, and struct
 * thread_data, thread_options and io_u change with its version and its
 * configure results. The engine checks what it can at run time (fio's
 * version string; the size of struct thread_data, from where fio's job
 * table ends; where this job sits in it; that fio hands back our own ops
 * and io_us) and refuses to run on a mismatch rather than scribble over
 * fio's memory.
 *
 * Messages of libvhafront go to fio's log (stderr) prefixed "vha-fio:".
 *
 * Longer than the tree's 800-line guide on purpose: one plugin with one
 * export, built by its own rule against fio's headers; its option table,
 * layout checks and I/O path share fio's structures, which no other file
 * of the tree may include.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fio.h"
#include "optgroup.h"

#include "vha/front.h"
#include "vha/log.h"

#ifndef VHA_FIO_HEADERS_VERSION
#error "VHA_FIO_HEADERS_VERSION (fio's version string of the headers) comes from the Makefile"
#endif

#define DEVID_XVDA 51712u               /* 202 << 8: xvda */
#define DEVID_MAX 0x7fffffff            /* xenstore device ids are positive ints */
#define QUEUES_MAX 1024
#define RING_ORDER_MAX 31
#define POOL_PAGES_MAX 1024             /* bounce + buffer pages one device can share */
#define ZERO_COPY_BOUNCE_PAGES 64       /* zero copy: bounce pages hold indirect segment lists only */
#define PAGE 4096u
#define POLL_SLICE_MS 1000              /* a getevents without a deadline polls in slices of this */

/* Engine options, as fio parses them into td->eo. fio writes a pointer at offset 0: keep pad first. */
struct vha_fio_options {
	void *pad;
	unsigned int devid;
	char *vdev;
	unsigned int queues;
	unsigned int ring_order;
	unsigned int zero_copy;
	unsigned int no_persistent;
	unsigned int no_indirect;
	unsigned int untrusted_backend;
	char *platform;
	char *sim_dir;
	char *sim_domid;
	unsigned int handshake_timeout;
	char *log_level;
};

/* One io_u's progress through the device (io_u->engine_data). */
struct vha_fio_req {
	struct vha_fio *vd;
	struct io_u *io_u;
	unsigned long long submitted;   /* bytes handed to vha_front_submit so far */
	unsigned int parts_out;         /* submitted requests not answered yet */
	int error;                      /* first errno of any part: nothing more of it goes out */
	bool staged;                    /* in the staged FIFO: completes when it leaves it, not before */
};

/* A job's device (td->io_ops_data). */
struct vha_fio {
	struct vha_platform *platform;
	struct vha_front *front;
	const struct vha_front_info *info;
	size_t max_io;                  /* largest request */
	bool zero_copy;
	bool closing;                   /* fio's io_us may be gone: completions touch nothing */
	size_t buffer_bytes;            /* zero copy: the pool's buffer area */
	void *iomem;                    /* what ->iomem_alloc handed to fio */
	struct vha_fio_req *reqs;       /* one per io_u, by io_u->index */
	unsigned int nreqs;
	/* Staged: queued by fio, not yet (wholly) submitted; a FIFO of nreqs slots. */
	struct vha_fio_req **staged;
	unsigned int staged_head, nstaged;
	/*
	 * Completed, in order; the first `returned` went back to fio by the last
	 * ->getevents. Room for 2 x iodepth: fio may queue those again, and one
	 * that fails at once completes again, before the next ->getevents drops them.
	 */
	struct io_u **done;
	unsigned int ndone, returned;
};

static struct fio_option options[] = {
	{
		.name = "devid",
		.lname = "vha device id",
		.type = FIO_OPT_INT,
		.off1 = offsetof(struct vha_fio_options, devid),
		.def = "51712",
		.maxval = DEVID_MAX,
		.help = "blkif device: device/vbd/<devid> of this domain (51712 = xvda)",
		.category = FIO_OPT_C_ENGINE,
		.group = FIO_OPT_G_INVALID,
	},
	{
		.name = "vdev",
		.lname = "vha virtual device",
		.type = FIO_OPT_STR_STORE,
		.off1 = offsetof(struct vha_fio_options, vdev),
		.help = "blkif device by name, xvda..xvdo (instead of devid)",
		.category = FIO_OPT_C_ENGINE,
		.group = FIO_OPT_G_INVALID,
	},
	{
		.name = "queues",
		.lname = "vha queues",
		.type = FIO_OPT_INT,
		.off1 = offsetof(struct vha_fio_options, queues),
		.def = "1",
		.minval = 1,
		.maxval = QUEUES_MAX,
		.help = "queues to ask the backend for (it may offer fewer)",
		.category = FIO_OPT_C_ENGINE,
		.group = FIO_OPT_G_INVALID,
	},
	{
		.name = "ring_order",
		.lname = "vha ring page order",
		.type = FIO_OPT_INT,
		.off1 = offsetof(struct vha_fio_options, ring_order),
		.def = "0",
		.maxval = RING_ORDER_MAX,
		.help = "ring page order to ask for (2^order pages per ring, capped by the backend)",
		.category = FIO_OPT_C_ENGINE,
		.group = FIO_OPT_G_INVALID,
	},
	{
		.name = "zero_copy",
		.lname = "vha zero copy",
		.type = FIO_OPT_BOOL,
		.off1 = offsetof(struct vha_fio_options, zero_copy),
		.def = "0",
		.help = "fio's I/O buffers come from the granted pool: no bounce copy",
		.category = FIO_OPT_C_ENGINE,
		.group = FIO_OPT_G_INVALID,
	},
	{
		.name = "no_persistent",
		.lname = "vha no persistent grants",
		.type = FIO_OPT_BOOL,
		.off1 = offsetof(struct vha_fio_options, no_persistent),
		.def = "0",
		.help = "do not offer persistent grants to the backend",
		.category = FIO_OPT_C_ENGINE,
		.group = FIO_OPT_G_INVALID,
	},
	{
		.name = "no_indirect",
		.lname = "vha no indirect",
		.type = FIO_OPT_BOOL,
		.off1 = offsetof(struct vha_fio_options, no_indirect),
		.def = "0",
		.help = "never send indirect requests (11 pages at most per request)",
		.category = FIO_OPT_C_ENGINE,
		.group = FIO_OPT_G_INVALID,
	},
	{
		.name = "untrusted_backend",
		.lname = "vha untrusted backend",
		.type = FIO_OPT_BOOL,
		.off1 = offsetof(struct vha_fio_options, untrusted_backend),
		.def = "0",
		.help = "share only pages dedicated to one request, ended when it completes",
		.category = FIO_OPT_C_ENGINE,
		.group = FIO_OPT_G_INVALID,
	},
	{
		.name = "platform",
		.lname = "vha platform",
		.type = FIO_OPT_STR_STORE,
		.off1 = offsetof(struct vha_fio_options, platform),
		.help = "xen or sim (default $VHA_PLATFORM, else xen)",
		.category = FIO_OPT_C_ENGINE,
		.group = FIO_OPT_G_INVALID,
	},
	{
		.name = "sim_dir",
		.lname = "vha sim directory",
		.type = FIO_OPT_STR_STORE,
		.off1 = offsetof(struct vha_fio_options, sim_dir),
		.help = "sim: the simulation directory (default $VHA_SIM_DIR, else /tmp/vha-sim)",
		.category = FIO_OPT_C_ENGINE,
		.group = FIO_OPT_G_INVALID,
	},
	{
		.name = "sim_domid",
		.lname = "vha sim domain",
		.type = FIO_OPT_STR_STORE,
		.off1 = offsetof(struct vha_fio_options, sim_domid),
		.help = "sim: this domain (default $VHA_SIM_DOMID, else 1)",
		.category = FIO_OPT_C_ENGINE,
		.group = FIO_OPT_G_INVALID,
	},
	{
		.name = "handshake_timeout",
		.lname = "vha handshake timeout",
		.type = FIO_OPT_INT,
		.off1 = offsetof(struct vha_fio_options, handshake_timeout),
		.def = "0",
		.maxval = 3600,
		.help = "seconds to wait for each handshake step of the backend (0: 10)",
		.category = FIO_OPT_C_ENGINE,
		.group = FIO_OPT_G_INVALID,
	},
	{
		.name = "vha_log_level",
		.lname = "vha log level",
		.type = FIO_OPT_STR_STORE,
		.off1 = offsetof(struct vha_fio_options, log_level),
		.help = "libvhafront's messages: error|warn|info|debug (default warn)",
		.category = FIO_OPT_C_ENGINE,
		.group = FIO_OPT_G_INVALID,
	},
	{
		.name = NULL,
	},
};

struct ioengine_ops ioengine;

/* ---------------- logging and the layout check ---------------- */

static void vha_fio_log_sink(void *opaque, enum vha_log_level level, const char *fmt, va_list ap)
{
	static const char *const names[] = { "error", "warn", "info", "debug" };
	char line[512];

	vsnprintf(line, sizeof(line), fmt, ap);
	/* stderr: fio's stdout may be its JSON report. */
	log_err("vha-fio: %s: %s\n", names[level <= VHA_LOG_DEBUG ? level : VHA_LOG_DEBUG], line);
}

/* libvhafront's messages into fio's log, warnings and errors only unless vha_log_level says more. */
static void vha_fio_log_init(void)
{
	static bool done;

	if (done)
		return;
	done = true;
	vha_log_set_sink(vha_fio_log_sink, NULL);
	vha_log_set_threshold(VHA_LOG_WARN);
}

/*
 * Whether the fio running us is the one whose headers we were built
 * against. A mismatch is reported once, loudly, and the job refused: every
 * field offset this file uses would be a guess.
 */
static bool vha_fio_layout_ok(struct thread_data *td, const char *hook)
{
	const char *why = NULL;

	if (strcmp(fio_version_string, VHA_FIO_HEADERS_VERSION))
		why = "fio's version differs";
	else if (td->io_ops != &ioengine)
		why = "td->io_ops is not this engine (struct thread_data differs)";
	/* fio keeps a word of its own right after its first JOBS_PER_SEG jobs. */
	else if (!segments[0].threads || fio_debug_jobp != (unsigned int *)(segments[0].threads + JOBS_PER_SEG))
		why = "fio's job table is not JOBS_PER_SEG of our struct thread_data (its size differs)";
	else if (td->thread_number < 1 || tnumber_to_td(td->thread_number - 1) != td)
		why = "this job is not where fio's job table puts it (struct thread_data differs)";
	else if (td->o.iodepth < 1 || td->o.iodepth > (1u << 20) || !td->o.name)
		why = "td->o holds nonsense (struct thread_options differs)";
	else if (!td->eo)
		why = "no engine options (struct thread_data differs)";
	if (!why)
		return true;
	log_err("vha-fio: %s: %s.\nvha-fio: this engine was built against the headers of %s; this fio is %s. "
		"Rebuild it against the installed fio (make fio-engine). Refusing to run.\n",
		hook, why, VHA_FIO_HEADERS_VERSION, fio_version_string);
	return false;
}

/*
 * At load, before fio parses a single engine option through our table: on
 * another fio version, withdraw the table (fio then refuses our options as
 * unknown instead of storing them with another struct fio_option's idea of
 * offsets), and ->setup refuses the job.
 */
__attribute__((constructor)) static void vha_fio_loaded(void)
{
	if (!strcmp(fio_version_string, VHA_FIO_HEADERS_VERSION))
		return;
	log_err("vha-fio: built against the headers of %s, loaded by %s: rebuild it (make fio-engine)\n",
		VHA_FIO_HEADERS_VERSION, fio_version_string);
	ioengine.options = NULL;
	ioengine.option_struct_size = 0;
}

/* ---------------- attaching ---------------- */

static int vha_fio_devid(const struct vha_fio_options *o, unsigned int *devid)
{
	const char *v = o->vdev;

	if (!v || !*v) {
		*devid = o->devid;
		return 0;
	}
	if (strncmp(v, "xvd", 3) || v[3] < 'a' || v[3] > 'o' || v[4]) {
		log_err("vha-fio: vdev takes xvda..xvdo, not '%s'\n", v);
		return -EINVAL;
	}
	*devid = (202u << 8) | (unsigned int)(v[3] - 'a') << 4;
	return 0;
}

/* The platform as vha-frontend picks it: options, else the VHA_* environment, else xen (sim: /tmp/vha-sim, domain 1). */
static int vha_fio_platform_open(const struct vha_fio_options *o, struct vha_platform **out)
{
	struct vha_platform_config cfg = { 0 };
	int rc;

	cfg.kind = o->platform && *o->platform ? o->platform : NULL;
	if (cfg.kind && strcmp(cfg.kind, "xen") && strcmp(cfg.kind, "sim")) {
		log_err("vha-fio: platform takes xen or sim, not '%s'\n", cfg.kind);
		return -EINVAL;
	}
	cfg.sim_dir = o->sim_dir && *o->sim_dir ? o->sim_dir : getenv("VHA_SIM_DIR") ? NULL : "/tmp/vha-sim";
	if (o->sim_domid && *o->sim_domid) {
		char *end;
		long d;

		errno = 0;
		d = strtol(o->sim_domid, &end, 10);
		if (errno || *end || d < 0 || d > 0x7fef) {
			log_err("vha-fio: sim_domid takes a domain id, not '%s'\n", o->sim_domid);
			return -EINVAL;
		}
		cfg.sim_domid = (int)d;
	} else {
		cfg.sim_domid = getenv("VHA_SIM_DOMID") ? -1 : 1;
	}
	rc = vha_platform_open(&cfg, out);
	if (rc < 0)
		log_err("vha-fio: %s\n", vha_platform_strerror());
	return rc;
}

/*
 * Attach the device. buffer_bytes: the pool's buffer area for zero-copy
 * buffers (0: none).
 */
static int vha_fio_attach(struct thread_data *td, size_t buffer_bytes, struct vha_platform **platform,
			  struct vha_front **front)
{
	const struct vha_fio_options *o = td->eo;
	struct vha_front_opts fo = { 0 };
	unsigned int devid;
	int rc;

	*platform = NULL;
	*front = NULL;
	if (o->log_level && *o->log_level) {
		rc = vha_log_parse_level(o->log_level);
		if (rc < 0) {
			log_err("vha-fio: vha_log_level takes error|warn|info|debug, not '%s'\n", o->log_level);
			return rc;
		}
		vha_log_set_threshold((enum vha_log_level)rc);
	}
	rc = vha_fio_devid(o, &devid);
	if (rc < 0)
		return rc;
	rc = vha_fio_platform_open(o, platform);
	if (rc < 0)
		return rc;
	fo.queues = o->queues;
	fo.ring_order = o->ring_order;
	fo.no_persistent = o->no_persistent;
	fo.no_indirect = o->no_indirect;
	fo.untrusted_backend = o->untrusted_backend;
	fo.timeout_ms = o->handshake_timeout * 1000u;
	if (buffer_bytes) {
		fo.buffer_pages = (unsigned int)(buffer_bytes / PAGE);
		fo.pool_pages = ZERO_COPY_BOUNCE_PAGES;
	}
	rc = vha_front_open(*platform, devid, &fo, front);
	if (rc < 0) {
		log_err("vha-fio: %s: cannot attach device %u: %s\n", td->o.name, devid, strerror(-rc));
		vha_platform_close(*platform);
		*platform = NULL;
	}
	return rc;
}

/* ---------------- fio hooks ---------------- */

/*
 * fio's main process, before the job starts (or, with create_serialize=0,
 * the job itself after ->init): the size of the device for fio's one file.
 */
static int vha_fio_setup(struct thread_data *td)
{
	struct vha_fio *vd = td->io_ops_data;
	struct vha_platform *platform = NULL;
	struct vha_front *front = NULL;
	struct fio_file *f;
	uint64_t bytes;

	vha_fio_log_init();
	if (!vha_fio_layout_ok(td, "setup"))
		return 1;
	if (td->files_index > 1) {
		log_err("vha-fio: %s: one device per job: nr_files must be 1 (use a job per devid)\n", td->o.name);
		return 1;
	}
	if (!td->files_index) {
		add_file(td, td->o.filename ? td->o.filename : "vha", 0, 0);
		td->o.nr_files = td->o.nr_files ? td->o.nr_files : 1;
		td->o.open_files++;
	}
	if (vd && vd->front) {
		bytes = vd->info->sectors * 512;
	} else {
		if (vha_fio_attach(td, 0, &platform, &front) < 0)
			return 1;
		bytes = vha_front_get_info(front)->sectors * 512;
		vha_front_close(front);
		vha_platform_close(platform);
	}
	f = td->files[0];
	f->real_file_size = bytes;
	return 0;
}

/* The bytes fio will ask ->iomem_alloc for (fio's init_io_u_buffers and allocate_io_mem), rounded up to pages. */
static size_t vha_fio_iomem_bytes(struct thread_data *td)
{
	unsigned long long bytes = td_max_bs(td) * td->o.iodepth;

	/* Alignment slack, counted twice as fio may add it twice; a page of our own on top. */
	bytes += 2 * ((unsigned long long)page_size + td->o.mem_align) + PAGE;
	return (size_t)((bytes + PAGE - 1) / PAGE * PAGE);
}

static void vha_fio_free(struct vha_fio *vd)
{
	if (!vd)
		return;
	vd->closing = true;
	vha_front_close(vd->front);
	vha_platform_close(vd->platform);
	free(vd->reqs);
	free(vd->staged);
	free(vd->done);
	free(vd);
}

/* The job's process or thread: attach for the run. */
static int vha_fio_init(struct thread_data *td)
{
	const struct vha_fio_options *o = td->eo;
	struct vha_fio *vd = NULL;
	unsigned int depth = td->o.iodepth;

	vha_fio_log_init();
	if (!vha_fio_layout_ok(td, "init"))
		return 1;
	vd = calloc(1, sizeof(*vd));
	if (!vd)
		goto nomem;
	vd->nreqs = depth;
	vd->reqs = calloc(depth, sizeof(*vd->reqs));
	vd->staged = calloc(depth, sizeof(*vd->staged));
	vd->done = calloc(2 * (size_t)depth, sizeof(*vd->done));
	if (!vd->reqs || !vd->staged || !vd->done)
		goto nomem;
	vd->zero_copy = o->zero_copy;
	if (vd->zero_copy) {
		size_t max = (size_t)(POOL_PAGES_MAX - ZERO_COPY_BOUNCE_PAGES) * PAGE;

		vd->buffer_bytes = vha_fio_iomem_bytes(td);
		if (o->untrusted_backend) {
			log_err("vha-fio: %s: zero_copy needs a shared pool, which untrusted_backend rules out\n",
				td->o.name);
			goto fail;
		}
		if (vd->buffer_bytes > max) {
			log_err("vha-fio: %s: zero_copy: bs %llu x iodepth %u needs %zu KiB of I/O buffers; a device's "
				"granted pool holds %zu KiB: lower bs or iodepth, or drop zero_copy\n",
				td->o.name, td_max_bs(td), depth, vd->buffer_bytes / 1024, max / 1024);
			goto fail;
		}
	}
	if (vha_fio_attach(td, vd->buffer_bytes, &vd->platform, &vd->front) < 0)
		goto fail;
	vd->info = vha_front_get_info(vd->front);
	vd->max_io = vha_front_max_io(vd->front);
	td->io_ops_data = vd;
	return 0;
nomem:
	log_err("vha-fio: %s: out of memory\n", td->o.name);
fail:
	vha_fio_free(vd);
	return 1;
}

static void vha_fio_cleanup(struct thread_data *td)
{
	/*
	 * Closing fails what never got an answer with -EIO through the
	 * callbacks: they find vd closing (fio freed its io_us already).
	 */
	vha_fio_free(td->io_ops_data);
	td->io_ops_data = NULL;
}

static int vha_fio_io_u_init(struct thread_data *td, struct io_u *io_u)
{
	struct vha_fio *vd = td->io_ops_data;
	unsigned int index = io_u->index;     /* a union with engine_data: read it first */

	if (index >= vd->nreqs || !(io_u->flags & IO_U_F_FREE)) {
		log_err("vha-fio: io_u %u of %u, flags %#x: struct io_u differs from the headers of %s; "
			"rebuild the engine (make fio-engine)\n", index, vd->nreqs, io_u->flags,
			VHA_FIO_HEADERS_VERSION);
		return 1;
	}
	vd->reqs[index].vd = vd;
	vd->reqs[index].io_u = io_u;
	io_u->engine_data = &vd->reqs[index];
	return 0;
}

static void vha_fio_io_u_free(struct thread_data *td, struct io_u *io_u)
{
	io_u->engine_data = NULL;
}

/* fio's I/O buffers: from the granted pool (zero copy), else page-aligned memory of our own. */
static int vha_fio_iomem_alloc(struct thread_data *td, size_t total)
{
	struct vha_fio *vd = td->io_ops_data;

	if (vd->zero_copy) {
		if (total > vd->buffer_bytes) {
			log_err("vha-fio: %s: fio wants %zu bytes of buffers, %zu were granted\n", td->o.name, total,
				vd->buffer_bytes);
			return 1;
		}
		vd->iomem = vha_front_buf_alloc(vd->front, total);
	} else if (posix_memalign(&vd->iomem, PAGE, total)) {
		vd->iomem = NULL;
	}
	if (!vd->iomem)
		return 1;
	td->orig_buffer = vd->iomem;
	return 0;
}

static void vha_fio_iomem_free(struct thread_data *td)
{
	struct vha_fio *vd = td->io_ops_data;

	if (vd && vd->iomem) {
		if (vd->zero_copy)
			vha_front_buf_free(vd->front, vd->iomem);
		else
			free(vd->iomem);
		vd->iomem = NULL;
	}
	td->orig_buffer = NULL;
}

static void vha_fio_complete(struct vha_fio *vd, struct vha_fio_req *r)
{
	r->io_u->error = (unsigned int)r->error;
	r->io_u->resid = r->error ? r->io_u->xfer_buflen : 0;
	vd->done[vd->ndone++] = r->io_u;
}

/* libvhafront's completion of one request of an io_u (called from vha_front_poll or close). */
static void vha_fio_cb(void *opaque, int status)
{
	struct vha_fio_req *r = opaque;

	if (r->vd->closing)
		return;
	if (status && !r->error)
		r->error = -status;
	if (--r->parts_out == 0 && !r->staged)
		vha_fio_complete(r->vd, r);
}

static int vha_fio_op(enum fio_ddir ddir, enum vha_front_op *op)
{
	switch (ddir) {
	case DDIR_READ: *op = VHA_FRONT_READ; return 0;
	case DDIR_WRITE: *op = VHA_FRONT_WRITE; return 0;
	case DDIR_TRIM: *op = VHA_FRONT_DISCARD; return 0;
	case DDIR_SYNC:
	case DDIR_DATASYNC:
	case DDIR_SYNC_FILE_RANGE: *op = VHA_FRONT_FLUSH; return 0;
	default: return -EINVAL;
	}
}

/*
 * Submit what is left of r. Returns 0 once all of it is out or it failed
 * (r->error), -EAGAIN when the device has no room now.
 */
static int vha_fio_submit(struct vha_fio *vd, struct vha_fio_req *r)
{
	struct io_u *io_u = r->io_u;
	enum vha_front_op op;
	int rc;

	if (vha_fio_op(io_u->ddir, &op) < 0) {
		rc = -EINVAL;
		goto failed;
	}
	if (op != VHA_FRONT_READ && op != VHA_FRONT_WRITE) {
		/* One request whatever its length: a flush has none, a discard's is not limited by pages. */
		rc = vha_front_submit(vd->front, op, op == VHA_FRONT_FLUSH ? 0 : io_u->offset, NULL,
				      op == VHA_FRONT_FLUSH ? 0 : (size_t)io_u->xfer_buflen, vha_fio_cb, r);
		if (rc < 0)
			goto failed;
		r->submitted = io_u->xfer_buflen;
		r->parts_out++;
		return 0;
	}
	/* A part already failed (while the rest waited for room): send no more. */
	while (r->submitted < io_u->xfer_buflen && !r->error) {
		unsigned char *buf = (unsigned char *)io_u->xfer_buf + r->submitted;
		size_t left = (size_t)(io_u->xfer_buflen - r->submitted), n = vd->max_io;

		/* A pool buffer is used in place: its first page may start mid-page, which costs a segment. */
		if (vd->zero_copy)
			n -= (size_t)((uintptr_t)buf % PAGE);
		if (n > left)
			n = left;
		rc = vha_front_submit(vd->front, op, io_u->offset + r->submitted, buf, n, vha_fio_cb, r);
		if (rc < 0)
			goto failed;
		r->submitted += n;
		r->parts_out++;
	}
	return 0;
failed:
	if (rc == -EAGAIN)
		return rc;
	/* Nothing more of it goes out; it completes when the parts already out have. */
	if (!r->error)
		r->error = -rc;
	return 0;
}

/*
 * An io_u went out whole: its issue time and submission latency, as fio
 * wants from an engine that sets issue times itself.
 */
static void vha_fio_issued(struct thread_data *td, struct io_u *io_u)
{
	if (!fio_fill_issue_time(td))
		return;
	fio_gettime(&io_u->issue_time, NULL);
	io_u_queued(td, io_u);
}

/* Submit staged io_us in order until the device has no room. */
static void vha_fio_submit_staged(struct thread_data *td, struct vha_fio *vd)
{
	unsigned int issued = 0;

	while (vd->nstaged) {
		struct vha_fio_req *r = vd->staged[vd->staged_head];

		if (vha_fio_submit(vd, r) == -EAGAIN) {
			if (vha_front_inflight(vd->front))
				break;          /* completions will make room */
			/* Nothing in flight will ever make room: this one can never go out. */
			if (!r->error)
				r->error = ENOMEM;
		}
		vd->staged_head = (vd->staged_head + 1) % vd->nreqs;
		vd->nstaged--;
		r->staged = false;
		vha_fio_issued(td, r->io_u);
		issued++;
		if (r->parts_out == 0)
			vha_fio_complete(vd, r);
	}
	if (issued)
		io_u_mark_submit(td, issued);
}

static enum fio_q_status vha_fio_queue(struct thread_data *td, struct io_u *io_u)
{
	struct vha_fio *vd = td->io_ops_data;
	struct vha_fio_req *r = io_u->engine_data;
	enum vha_front_op op;

	fio_ro_check(td, io_u);
	if (!r || r->io_u != io_u || io_u->file != td->files[0]) {
		log_err("vha-fio: an io_u that is not one of this job's: struct io_u differs from the headers of %s\n",
			VHA_FIO_HEADERS_VERSION);
		io_u->error = EINVAL;
		return FIO_Q_COMPLETED;
	}
	io_u->error = 0;
	if (vha_fio_op(io_u->ddir, &op) < 0) {
		io_u->error = EINVAL;
		return FIO_Q_COMPLETED;
	}
	/* What Linux blkfront does too: nothing volatile to flush; a discard the backend cannot do fails. */
	if (op == VHA_FRONT_FLUSH && !vd->info->flush) {
		vha_fio_issued(td, io_u);
		return FIO_Q_COMPLETED;
	}
	if (op == VHA_FRONT_DISCARD && !vd->info->discard) {
		io_u->error = EOPNOTSUPP;
		return FIO_Q_COMPLETED;
	}
	r->submitted = 0;
	r->parts_out = 0;
	r->error = 0;
	r->staged = true;
	/* fio never has more than iodepth io_us out, so the FIFO cannot overflow. */
	vd->staged[(vd->staged_head + vd->nstaged) % vd->nreqs] = r;
	vd->nstaged++;
	return FIO_Q_QUEUED;
}

static int vha_fio_commit(struct thread_data *td)
{
	vha_fio_submit_staged(td, td->io_ops_data);
	return 0;
}

static double vha_fio_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int vha_fio_getevents(struct thread_data *td, unsigned int min, unsigned int max, const struct timespec *t)
{
	struct vha_fio *vd = td->io_ops_data;
	double deadline = t ? vha_fio_now() + (double)t->tv_sec + (double)t->tv_nsec / 1e9 : 0;
	bool polled = false;
	int rc, wait_ms;
	unsigned int n;

	/* Forget what the last call handed back through ->event. */
	memmove(vd->done, vd->done + vd->returned, (vd->ndone - vd->returned) * sizeof(*vd->done));
	vd->ndone -= vd->returned;
	vd->returned = 0;
	vha_fio_submit_staged(td, vd);
	/* Poll until min have completed; min 0: one look without waiting. */
	while (vd->ndone < min || (min == 0 && !polled)) {
		if (vha_front_inflight(vd->front) == 0 && vd->nstaged == 0)
			break;  /* nothing left that could complete */
		wait_ms = min == 0 ? 0 : POLL_SLICE_MS;
		if (t && wait_ms) {
			double left = deadline - vha_fio_now();

			if (left <= 0)
				break;
			if (left * 1000.0 < wait_ms)
				wait_ms = (int)(left * 1000.0) + 1;
		}
		rc = vha_front_poll(vd->front, wait_ms);
		polled = true;
		/* Completions made room: what waited for it goes out now. */
		vha_fio_submit_staged(td, vd);
		if (rc < 0) {
			/* A broken device failed what was out through the callbacks, and what was staged above. */
			if (vd->ndone == 0) {
				log_err("vha-fio: %s: the device failed: %s\n", td->o.name, strerror(-rc));
				return rc;
			}
			break;
		}
	}
	n = vd->ndone < max ? vd->ndone : max;
	vd->returned = n;
	return (int)n;
}

static struct io_u *vha_fio_event(struct thread_data *td, int event)
{
	struct vha_fio *vd = td->io_ops_data;

	return event >= 0 && (unsigned int)event < vd->returned ? vd->done[event] : NULL;
}

/* The device is attached in ->init; fio's file is only a name for it. */
static int vha_fio_open_file(struct thread_data *td, struct fio_file *f)
{
	return 0;
}

static int vha_fio_close_file(struct thread_data *td, struct fio_file *f)
{
	return 0;
}

static int vha_fio_invalidate(struct thread_data *td, struct fio_file *f)
{
	return 0;
}

/* fio finds this by name (dlsym "ioengine"): the one symbol the library exports (vha-fio.map). */
struct ioengine_ops ioengine = {
	.name = "vha",
	.version = FIO_IOOPS_VERSION,
	.flags = FIO_DISKLESSIO | FIO_NOEXTEND | FIO_NODISKUTIL | FIO_ASYNCIO_SETS_ISSUE_TIME,
	.setup = vha_fio_setup,
	.init = vha_fio_init,
	.queue = vha_fio_queue,
	.commit = vha_fio_commit,
	.getevents = vha_fio_getevents,
	.event = vha_fio_event,
	.cleanup = vha_fio_cleanup,
	.open_file = vha_fio_open_file,
	.close_file = vha_fio_close_file,
	.invalidate = vha_fio_invalidate,
	.iomem_alloc = vha_fio_iomem_alloc,
	.iomem_free = vha_fio_iomem_free,
	.io_u_init = vha_fio_io_u_init,
	.io_u_free = vha_fio_io_u_free,
	.options = options,
	.option_struct_size = sizeof(struct vha_fio_options),
};
