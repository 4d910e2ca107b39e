// SPDX-License-Identifier: MIT
/* vha-frontend: a userspace blkif frontend on the command line. See docs/frontend.md. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "vha/cli.h"
#include "vha/front.h"
#include "vha/log.h"

struct args {
	const char *platform, *sim_dir, *cmd;
	int domid;
	long devid;
	uint64_t offset, length;
	bool have_length;
	const char *in, *out, *shadow, *stop_file;
	bool pattern, json;
	long random_ops;
	unsigned long seed;
	uint64_t max_size;
	const char *rw;
	uint64_t bs;
	unsigned int iodepth, rwmixread, ring_order, queues;
	bool zero_copy, no_indirect, no_persistent, untrusted_backend;
	unsigned int poll_us;
	double runtime;
	double timeout;                 /* --timeout, seconds (0: the library's default) */
};

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: vha-frontend [OPTIONS] COMMAND [COMMAND OPTIONS]\n"
		"A userspace Xen blkif frontend: attaches to device/vbd/<devid> of this domain.\n\n"
		"Commands:\n"
		"  info                                  geometry and negotiated features\n"
		"  read [--offset B] [--length B] [--out FILE]   (default: whole disk to stdout)\n"
		"  write --in FILE [--offset B]\n"
		"  discard [--offset B] [--length B]   (default: to the end of the disk)\n"
		"  verify [--pattern] [--length B] [--random N --seed S --max-size B --shadow FILE\n"
		"         --stop-file F]   (random: stops early once file F exists)\n"
		"  bench [--rw randread|randwrite|read|write|randrw] [--bs 4k] [--iodepth 32]\n"
		"        [--runtime S] [--rwmixread P] [--json] [--zero-copy]\n"
		"        --zero-copy: I/O buffers come from the granted pool (no bounce copy)\n\n"
		"Options:\n"
		"  --platform xen|sim   (default $VHA_PLATFORM, else xen)\n"
		"  --sim-dir DIR        (default $VHA_SIM_DIR, else /tmp/vha-sim)\n"
		"  --domid N            sim: this domain (default $VHA_SIM_DOMID, else 1)\n"
		"  --devid N | --vdev xvdX   the device (default 51712 = xvda)\n"
		"  --ring-order N       ring page order to ask for (default 0)\n"
		"  --queues N           queues to ask for (default 1)\n"
		"  --no-indirect        never send indirect requests\n"
		"  --no-persistent      do not offer persistent grants to the backend\n"
		"  --untrusted-backend  share only dedicated per-request pages, ended after each request\n"
		"  --timeout S          wait up to S seconds for each handshake step of the backend\n"
		"                       (default 10; a target on a remote cluster can take longer to open)\n"
		"  --poll-us N          busy-poll the rings up to N microseconds before sleeping while\n"
		"                       waiting for responses (default 0: never; at most 1000)\n"
		"  --log-level LEVEL    error|warn|info|debug\n"
		"  --help, --version\n"
		"Sizes (B) take a k, m, g or t suffix.\n");
}

/* Bounds of the numeric options: what the code below can use, not policy. */
#define DEVID_MAX 0x7fffffffL           /* xenstore device ids are positive ints */
#define RING_ORDER_MAX 31u              /* a shift count; the backend decides what it offers */
#define QUEUES_MAX 1024u
#define IODEPTH_MAX 65536u
#define RUNTIME_MAX_S (7 * 24 * 3600.0)
#define HANDSHAKE_TIMEOUT_MAX_S 3600.0

static int parse_size(const char *name, const char *arg, uint64_t *out)
{
	return vha_cli_u64(name, arg, 0, UINT64_MAX, VHA_PARSE_SIZE, out);
}

/* ---------------- small helpers ---------------- */

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t rng_state;

static uint64_t rnd(void)
{
	/* xorshift64*: reproducible from --seed. */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 2685821657736338717ull;
}

static void fill_random(unsigned char *p, size_t len)
{
	for (size_t i = 0; i < len; i += 8) {
		uint64_t v = rnd();

		memcpy(p + i, &v, len - i < 8 ? len - i : 8);
	}
}

/* ---------------- commands ---------------- */

static int cmd_info(struct vha_front *f)
{
	const struct vha_front_info *i = vha_front_get_info(f);

	printf("sectors:              %" PRIu64 " (%.1f MiB)\n", i->sectors, (double)i->sectors / 2048);
	printf("sector-size:          %u\n", i->sector_size);
	printf("physical-sector-size: %u\n", i->physical_sector_size);
	printf("mode:                 %s%s\n", i->readonly ? "read-only" : "read-write", i->cdrom ? ", cdrom" : "");
	printf("backend domain:       %u\n", i->backend_domid);
	printf("ring pages:           %u per queue\n", i->ring_pages);
	printf("queues:               %u\n", i->queues);
	printf("barrier:              %s\n", i->barrier ? "yes" : "no");
	printf("flush:                %s\n", i->flush ? "yes" : "no");
	printf("discard:              %s\n", i->discard ? "yes" : "no");
	printf("indirect segments:    %u offered\n", i->max_indirect_segments);
	printf("persistent grants:    %s\n", i->persistent ? "yes" : "no");
	return VHA_EXIT_OK;
}

static int cmd_read(struct vha_front *f, struct args *a)
{
	const struct vha_front_info *i = vha_front_get_info(f);
	uint64_t size = i->sectors * 512, len = a->have_length ? a->length : size - a->offset;
	size_t chunk = 1 << 20;
	unsigned char *buf = malloc(chunk);
	FILE *out = a->out ? fopen(a->out, "w") : stdout;
	int rc = 0;

	if (!buf || !out) {
		vha_cli_error("read: %s: %s", a->out ? a->out : "buffer", strerror(errno));
		free(buf);
		if (out && a->out)
			fclose(out);
		return VHA_EXIT_FAILURE;
	}
	for (uint64_t done = 0; done < len && rc == 0; done += chunk) {
		size_t n = len - done < chunk ? (size_t)(len - done) : chunk;

		rc = vha_front_read(f, a->offset + done, buf, n);
		if (rc == 0 && fwrite(buf, 1, n, out) != n)
			rc = -EIO;
	}
	if (rc)
		vha_cli_error("read failed: %s", strerror(-rc));
	if (a->out)
		fclose(out);
	free(buf);
	return rc ? VHA_EXIT_FAILURE : VHA_EXIT_OK;
}

static int cmd_write(struct vha_front *f, struct args *a)
{
	size_t chunk = 1 << 20, n;
	unsigned char *buf = calloc(1, chunk);
	FILE *in = fopen(a->in, "r");   /* main made sure there is an --in */
	uint64_t off = a->offset;
	int rc = 0;

	if (!buf || !in) {
		vha_cli_error("write: %s: %s", buf ? a->in : "buffer", strerror(errno));
		free(buf);
		if (in)
			fclose(in);
		return VHA_EXIT_FAILURE;
	}
	while (rc == 0 && (n = fread(buf, 1, chunk, in)) > 0) {
		size_t padded = (n + 511) & ~(size_t)511;

		memset(buf + n, 0, padded - n);
		rc = vha_front_write(f, off, buf, padded);
		off += padded;
	}
	if (rc == 0)
		rc = vha_front_flush(f);
	if (rc)
		vha_cli_error("write failed: %s", strerror(-rc));
	fclose(in);
	free(buf);
	return rc ? VHA_EXIT_FAILURE : VHA_EXIT_OK;
}

static int cmd_discard(struct vha_front *f, struct args *a)
{
	const struct vha_front_info *i = vha_front_get_info(f);
	uint64_t size = i->sectors * 512;
	int rc;

	if (!i->discard) {
		vha_cli_error("discard: the backend does not offer it");
		return VHA_EXIT_FAILURE;
	}
	if (a->offset > size) {
		vha_cli_error("discard: --offset is past the end of the disk");
		return VHA_EXIT_FAILURE;
	}
	rc = vha_front_discard(f, a->offset, a->have_length ? a->length : size - a->offset);
	if (rc)
		vha_cli_error("discard failed: %s", strerror(-rc));
	return rc ? VHA_EXIT_FAILURE : VHA_EXIT_OK;
}

static int verify_pattern(struct vha_front *f, struct args *a)
{
	const struct vha_front_info *i = vha_front_get_info(f);
	uint64_t len = a->have_length ? a->length : i->sectors * 512;
	size_t chunk = 1 << 20;
	unsigned char *w = malloc(chunk), *r = malloc(chunk);
	int rc = 0;
	double t0 = now_s();

	if (!w || !r) {
		vha_cli_error("verify: out of memory");
		free(w);
		free(r);
		return VHA_EXIT_FAILURE;
	}
	/* Every 8 bytes hold their own offset: a misplaced block shows up as the wrong number. */
	for (uint64_t done = 0; done < len && rc == 0; done += chunk) {
		size_t n = len - done < chunk ? (size_t)(len - done) : chunk;

		for (size_t k = 0; k < n; k += 8) {
			uint64_t v = (done + k) ^ 0x5648415041545445ull;
			memcpy(w + k, &v, 8);
		}
		rc = vha_front_write(f, done, w, n);
	}
	if (rc == 0)
		rc = vha_front_flush(f);
	for (uint64_t done = 0; done < len && rc == 0; done += chunk) {
		size_t n = len - done < chunk ? (size_t)(len - done) : chunk;

		rc = vha_front_read(f, done, r, n);
		for (size_t k = 0; rc == 0 && k < n; k += 8) {
			uint64_t v = (done + k) ^ 0x5648415041545445ull, got;

			memcpy(&got, r + k, 8);
			if (got != v) {
				vha_cli_error("verify: mismatch at byte %" PRIu64, done + k);
				rc = -EILSEQ;
			}
		}
	}
	if (rc == 0)
		printf("pattern verify: %.1f MiB written and read back in %.2f s: OK\n", (double)len / 1048576,
		       now_s() - t0);
	else
		vha_cli_error("verify: FAILED: %s", strerror(-rc));
	free(w);
	free(r);
	return rc ? VHA_EXIT_FAILURE : VHA_EXIT_OK;
}

static int verify_random(struct vha_front *f, struct args *a)
{
	const struct vha_front_info *i = vha_front_get_info(f);
	uint64_t size = i->sectors * 512, ss = i->sector_size;
	uint64_t max = a->max_size ? a->max_size : 256 * 1024;
	unsigned char *shadow = malloc(size), *buf = malloc(max);
	long reads = 0, writes = 0;
	FILE *sf;
	int rc = 0;

	if (!shadow || !buf || max < ss || max % ss) {
		vha_cli_error("verify: cannot set up (size %" PRIu64 ", --max-size %" PRIu64 ")", size, max);
		free(shadow);
		free(buf);
		return VHA_EXIT_FAILURE;
	}
	sf = a->shadow ? fopen(a->shadow, "r") : NULL;
	if (sf) {
		if (fread(shadow, 1, size, sf) != size)
			rc = -EINVAL;
		fclose(sf);
		/* Re-verify first: the disk must hold exactly what the last run acknowledged. */
		if (rc == 0) {
			unsigned char *disk = malloc(size);

			rc = disk ? vha_front_read(f, 0, disk, size) : -ENOMEM;
			if (rc == 0 && memcmp(disk, shadow, size) != 0) {
				vha_cli_error("verify: the disk differs from the saved shadow %s", a->shadow);
				rc = -EILSEQ;
			}
			free(disk);
		}
	} else {
		rc = vha_front_read(f, 0, shadow, size);
	}
	rng_state = a->seed ? a->seed : 1;
	for (long n = 0; n < a->random_ops && rc == 0; n++) {
		uint64_t len = (1 + rnd() % (max / ss)) * ss;
		uint64_t off;

		if (a->stop_file && n % 64 == 0 && access(a->stop_file, F_OK) == 0)
			break;

		if (len > size)
			len = size;
		off = (rnd() % ((size - len) / ss + 1)) * ss;
		if (rnd() & 1) {
			fill_random(buf, len);
			rc = vha_front_write(f, off, buf, len);
			if (rc == 0)
				memcpy(shadow + off, buf, len);
			writes++;
		} else {
			rc = vha_front_read(f, off, buf, len);
			if (rc == 0 && memcmp(buf, shadow + off, len) != 0) {
				vha_cli_error("verify: data mismatch reading %" PRIu64 " bytes at %" PRIu64, len, off);
				rc = -EILSEQ;
			}
			reads++;
		}
	}
	if (rc == 0)
		rc = vha_front_flush(f);
	if (rc == 0 && a->shadow) {
		sf = fopen(a->shadow, "w");
		if (!sf || fwrite(shadow, 1, size, sf) != size)
			rc = -EIO;
		if (sf)
			fclose(sf);
	}
	if (rc == 0)
		printf("random verify: %ld writes and %ld reads checked against the shadow, flushed: OK\n", writes, reads);
	else
		vha_cli_error("verify: FAILED: %s", strerror(-rc));
	free(shadow);
	free(buf);
	return rc ? VHA_EXIT_FAILURE : VHA_EXIT_OK;
}

/* ---------------- bench ---------------- */

struct bench_io {
	struct bench *b;
	unsigned char *buf;
	double start;
	unsigned int parts;             /* requests of this I/O still out (bs > max I/O: split) */
	bool is_read;
};

struct bench {
	struct vha_front *f;
	double *lat;
	size_t nlat, cap;
	uint64_t ios, bytes, errors;
	uint64_t seq_off;
	bool stop;
};

static void bench_cb(void *opaque, int status)
{
	struct bench_io *io = opaque;
	struct bench *b = io->b;

	if (status)
		b->errors++;
	if (--io->parts)
		return;
	b->ios++;
	if (b->nlat < b->cap)
		b->lat[b->nlat++] = (now_s() - io->start) * 1e6;
	io->start = 0;
}

static int cmp_double(const void *x, const void *y)
{
	double a = *(const double *)x, b = *(const double *)y;

	return a < b ? -1 : a > b;
}

static int cmd_bench(struct vha_front *f, struct args *a)
{
	const struct vha_front_info *info = vha_front_get_info(f);
	uint64_t size = info->sectors * 512, bs = a->bs;
	bool rnd_off = strncmp(a->rw, "rand", 4) == 0;
	int mix = !strcmp(a->rw, "randread") || !strcmp(a->rw, "read") ? 100 :
		  !strcmp(a->rw, "randwrite") || !strcmp(a->rw, "write") ? 0 : (int)a->rwmixread;
	struct bench b = { .f = f, .cap = 4u << 20 };
	struct bench_io *ios;
	unsigned int nparts;
	size_t max;
	double t0, elapsed;
	int rc = 0;

	/* Usage errors, though only the disk's geometry tells. */
	if (bs == 0 || bs % info->sector_size || bs > size)
		return vha_cli_usage("bench: --bs wants a multiple of %u up to the disk size (%" PRIu64 "), not %" PRIu64,
				     info->sector_size, size, bs);
	/* An I/O larger than one request goes out as several, as a block layer splits it. */
	max = vha_front_max_io(f);
	nparts = (unsigned int)((bs + max - 1) / max);
	if (mix < 100 && info->readonly)
		return vha_cli_usage("bench: the disk is read-only: --rw takes randread|read, not '%s'", a->rw);
	b.lat = malloc(sizeof(double) * b.cap);
	ios = calloc(a->iodepth, sizeof(*ios));
	if (!b.lat || !ios) {
		vha_cli_error("bench: out of memory");
		return VHA_EXIT_FAILURE;
	}
	rng_state = 0x9e3779b97f4a7c15ull;
	for (unsigned int i = 0; i < a->iodepth; i++) {
		ios[i].b = &b;
		ios[i].buf = a->zero_copy ? vha_front_buf_alloc(f, bs) : aligned_alloc(4096, bs);
		if (!ios[i].buf) {
			vha_cli_error("bench: cannot allocate %" PRIu64 " bytes of I/O buffer", bs);
			return VHA_EXIT_FAILURE;
		}
		fill_random(ios[i].buf, bs);
	}
	t0 = now_s();
	while (!b.stop || vha_front_inflight(f)) {
		if (now_s() - t0 >= a->runtime)
			b.stop = true;
		for (unsigned int i = 0; i < a->iodepth && !b.stop; i++) {
			struct bench_io *io = &ios[i];
			uint64_t off;

			if (io->start != 0)
				continue;
			if (rnd_off) {
				off = (rnd() % (size / bs)) * bs;
			} else {
				off = b.seq_off;
				b.seq_off = b.seq_off + bs + bs > size ? 0 : b.seq_off + bs;
			}
			if (!vha_front_can_submit(f, nparts, io->buf, bs))
				break;
			io->is_read = (int)(rnd() % 100) < mix;
			io->start = now_s();
			io->parts = nparts;
			for (unsigned int p = 0; p < nparts; p++) {
				uint64_t o = (uint64_t)p * max, n = bs - o < max ? bs - o : max;

				rc = vha_front_submit(f, io->is_read ? VHA_FRONT_READ : VHA_FRONT_WRITE, off + o,
						      io->buf + o, (size_t)n, bench_cb, io);
				if (rc < 0) {
					vha_cli_error("bench: submit: %s", strerror(-rc));
					return VHA_EXIT_FAILURE;
				}
			}
		}
		rc = vha_front_poll(f, 100);
		if (rc < 0) {
			vha_cli_error("bench: device failed: %s", strerror(-rc));
			return VHA_EXIT_FAILURE;
		}
	}
	elapsed = now_s() - t0;
	qsort(b.lat, b.nlat, sizeof(double), cmp_double);
	double p50 = b.nlat ? b.lat[b.nlat / 2] : 0, p99 = b.nlat ? b.lat[(size_t)(b.nlat * 0.99)] : 0,
	       p999 = b.nlat ? b.lat[(size_t)(b.nlat * 0.999)] : 0;
	double iops = (double)b.ios / elapsed, mbps = iops * (double)bs / 1e6;

	if (a->json)
		printf("{\"rw\": \"%s\", \"bs\": %" PRIu64 ", \"iodepth\": %u, \"runtime\": %.2f, \"ios\": %" PRIu64
		       ", \"errors\": %" PRIu64 ", \"iops\": %.0f, \"mbps\": %.1f, \"lat_p50_us\": %.1f, "
		       "\"lat_p99_us\": %.1f, \"lat_p999_us\": %.1f}\n",
		       a->rw, bs, a->iodepth, elapsed, b.ios, b.errors, iops, mbps, p50, p99, p999);
	else
		printf("%-10s bs=%-7" PRIu64 " qd=%-3u %10.0f IOPS %9.1f MB/s   lat us p50 %8.1f p99 %8.1f p99.9 %8.1f"
		       "   errors %" PRIu64 "\n",
		       a->rw, bs, a->iodepth, iops, mbps, p50, p99, p999, b.errors);
	for (unsigned int i = 0; i < a->iodepth; i++) {
		if (a->zero_copy)
			vha_front_buf_free(f, ios[i].buf);
		else
			free(ios[i].buf);
	}
	free(ios);
	free(b.lat);
	return b.errors ? VHA_EXIT_FAILURE : VHA_EXIT_OK;
}

/* ---------------- main ---------------- */

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "platform", required_argument, NULL, 'P' },  { "sim-dir", required_argument, NULL, 'S' },
		{ "domid", required_argument, NULL, 'D' },     { "devid", required_argument, NULL, 'd' },
		{ "vdev", required_argument, NULL, 'v' },      { "log-level", required_argument, NULL, 'l' },
		{ "offset", required_argument, NULL, 'o' },    { "length", required_argument, NULL, 'L' },
		{ "in", required_argument, NULL, 'i' },        { "out", required_argument, NULL, 'O' },
		{ "pattern", no_argument, NULL, 'p' },         { "random", required_argument, NULL, 'R' },
		{ "seed", required_argument, NULL, 's' },      { "max-size", required_argument, NULL, 'm' },
		{ "shadow", required_argument, NULL, 'w' },    { "rw", required_argument, NULL, 'r' },
		{ "bs", required_argument, NULL, 'b' },        { "iodepth", required_argument, NULL, 'q' },
		{ "runtime", required_argument, NULL, 't' },   { "rwmixread", required_argument, NULL, 'x' },
		{ "json", no_argument, NULL, 'j' },            { "ring-order", required_argument, NULL, 'g' },
		{ "queues", required_argument, NULL, 'Q' },    { "zero-copy", no_argument, NULL, 'z' },
		{ "no-indirect", no_argument, NULL, 'I' },     { "no-persistent", no_argument, NULL, 'N' },
		{ "stop-file", required_argument, NULL, 'F' },  { "untrusted-backend", no_argument, NULL, 'U' },
		{ "timeout", required_argument, NULL, 'T' },    { "poll-us", required_argument, NULL, 'W' },
		{ "help", no_argument, NULL, 'h' },            { "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct args a = { .domid = -1, .devid = 51712, .rw = "randread", .bs = 4096, .iodepth = 32, .runtime = 10,
			  .rwmixread = 50 };
	struct vha_platform_config cfg = { 0 };
	struct vha_platform *p = NULL;
	struct vha_front_opts fo = { 0 };
	struct vha_front *f = NULL;
	uint64_t seed;
	int c, rc, lvl;

	vha_cli_init("vha-frontend");
	opterr = 0;     /* getopt's complaints go through vha_cli_bad_option */
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'P': a.platform = optarg; break;
		case 'S': a.sim_dir = optarg; break;
		case 'D': if (vha_cli_int("domid", optarg, 0, VHA_DOMID_MAX, &a.domid)) goto bad; break;
		case 'd': if (vha_cli_long("devid", optarg, 0, DEVID_MAX, &a.devid)) goto bad; break;
		case 'v':
			if (strncmp(optarg, "xvd", 3) || optarg[3] < 'a' || optarg[3] > 'o' || optarg[4])
				return vha_cli_usage("--vdev takes xvda..xvdo, not '%s'", optarg);
			a.devid = (202 << 8) | ((optarg[3] - 'a') << 4);
			break;
		case 'l':
			lvl = vha_log_parse_level(optarg);
			if (lvl < 0)
				return vha_cli_usage("unknown log level '%s' (error|warn|info|debug)", optarg);
			vha_log_set_threshold((enum vha_log_level)lvl);
			break;
		case 'o': if (parse_size("offset", optarg, &a.offset)) goto bad; break;
		case 'L': if (parse_size("length", optarg, &a.length)) goto bad; a.have_length = true; break;
		case 'i': a.in = optarg; break;
		case 'O': a.out = optarg; break;
		case 'p': a.pattern = true; break;
		case 'R': if (vha_cli_long("random", optarg, 0, LONG_MAX, &a.random_ops)) goto bad; break;
		case 's':
			if (vha_cli_u64("seed", optarg, 0, ULONG_MAX, 0, &seed))
				goto bad;
			a.seed = (unsigned long)seed;
			break;
		case 'm': if (parse_size("max-size", optarg, &a.max_size)) goto bad; break;
		case 'w': a.shadow = optarg; break;
		case 'r': a.rw = optarg; break;
		case 'b': if (parse_size("bs", optarg, &a.bs)) goto bad; break;
		case 'q': if (vha_cli_uint("iodepth", optarg, 1, IODEPTH_MAX, &a.iodepth)) goto bad; break;
		case 't': if (vha_cli_double("runtime", optarg, 0, RUNTIME_MAX_S, &a.runtime)) goto bad; break;
		case 'x': if (vha_cli_uint("rwmixread", optarg, 0, 100, &a.rwmixread)) goto bad; break;
		case 'j': a.json = true; break;
		case 'g': if (vha_cli_uint("ring-order", optarg, 0, RING_ORDER_MAX, &a.ring_order)) goto bad; break;
		case 'Q': if (vha_cli_uint("queues", optarg, 0, QUEUES_MAX, &a.queues)) goto bad; break;
		case 'z': a.zero_copy = true; break;
		case 'F': a.stop_file = optarg; break;
		case 'I': a.no_indirect = true; break;
		case 'N': a.no_persistent = true; break;
		case 'U': a.untrusted_backend = true; break;
		case 'W': if (vha_cli_uint("poll-us", optarg, 0, 1000, &a.poll_us)) goto bad; break;
		case 'T': if (vha_cli_double("timeout", optarg, 0.001, HANDSHAKE_TIMEOUT_MAX_S, &a.timeout)) goto bad; break;
		case 'h': usage(stdout); return VHA_EXIT_OK;
		case 'V': return vha_cli_version();
		default: return vha_cli_bad_option(c, argv);
		}
	}
	if (optind >= argc)
		return vha_cli_usage("a command is required (info|read|write|discard|verify|bench)");
	if (optind != argc - 1)
		return vha_cli_usage("unexpected argument '%s'", argv[optind + 1]);
	a.cmd = argv[optind];
	if (strcmp(a.cmd, "info") && strcmp(a.cmd, "read") && strcmp(a.cmd, "write") && strcmp(a.cmd, "discard") &&
	    strcmp(a.cmd, "verify") && strcmp(a.cmd, "bench"))
		return vha_cli_usage("unknown command '%s' (info|read|write|discard|verify|bench)", a.cmd);
	if (strcmp(a.rw, "randread") && strcmp(a.rw, "randwrite") && strcmp(a.rw, "read") && strcmp(a.rw, "write") &&
	    strcmp(a.rw, "randrw"))
		return vha_cli_usage("--rw takes randread|randwrite|read|write|randrw, not '%s'", a.rw);
	if (!strcmp(a.cmd, "write") && !a.in)
		return vha_cli_usage("write needs --in FILE");

	cfg.kind = a.platform;
	cfg.sim_dir = a.sim_dir ? a.sim_dir : getenv("VHA_SIM_DIR") ? NULL : "/tmp/vha-sim";
	cfg.sim_domid = a.domid >= 0 ? a.domid : getenv("VHA_SIM_DOMID") ? -1 : 1;
	if (vha_platform_open(&cfg, &p) < 0) {
		vha_cli_error("%s", vha_platform_strerror());
		return VHA_EXIT_FAILURE;
	}
	fo.ring_order = a.ring_order;
	fo.queues = a.queues;
	fo.no_indirect = a.no_indirect;
	fo.no_persistent = a.no_persistent;
	fo.untrusted_backend = a.untrusted_backend;
	fo.poll_us = a.poll_us;
	fo.timeout_ms = (unsigned int)(a.timeout * 1000.0 + 0.5);
	if (a.zero_copy && !strcmp(a.cmd, "bench")) {
		/* Buffers from the pool; bounce pages only for indirect segment lists. */
		fo.buffer_pages = a.iodepth * (unsigned int)((a.bs + 4095) / 4096);
		fo.pool_pages = 64;
	}
	rc = vha_front_open(p, (unsigned int)a.devid, &fo, &f);
	if (rc < 0) {
		vha_cli_error("cannot attach device %ld: %s", a.devid, strerror(-rc));
		vha_platform_close(p);
		return VHA_EXIT_FAILURE;
	}
	if (!strcmp(a.cmd, "info"))
		rc = cmd_info(f);
	else if (!strcmp(a.cmd, "read"))
		rc = cmd_read(f, &a);
	else if (!strcmp(a.cmd, "write"))
		rc = cmd_write(f, &a);
	else if (!strcmp(a.cmd, "discard"))
		rc = cmd_discard(f, &a);
	else if (!strcmp(a.cmd, "verify"))
		rc = a.random_ops > 0 ? verify_random(f, &a) : verify_pattern(f, &a);
	else
		rc = cmd_bench(f, &a);
	if (!strcmp(a.cmd, "verify") && a.random_ops > 0 && rc == 0 && a.pattern)
		rc = verify_pattern(f, &a);
	vha_front_close(f);
	vha_platform_close(p);
	return rc;
bad:
	vha_cli_hint();
	return VHA_EXIT_USAGE;
}
