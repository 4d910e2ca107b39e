// SPDX-License-Identifier: MIT
/* Sim domains: their shared-memory files, creation, teardown and statistics. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sim_internal.h"

int sim_domain_path(char *buf, size_t len, const char *simdir, vha_domid_t domid)
{
	int n = snprintf(buf, len, "%s/domains/%u.mem", simdir, domid);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int sim_fifo_path(char *buf, size_t len, const char *simdir, vha_domid_t domid, uint32_t port)
{
	int n = snprintf(buf, len, "%s/evtchn/%u-%u", simdir, domid, port);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int sim_domain_attach(const char *simdir, vha_domid_t domid, struct sim_domain *d)
{
	char path[SIM_PATH_MAX];
	struct sim_domain_hdr *h;
	int fd, rc;

	d->fd = -1;
	d->hdr = NULL;
	d->domid = domid;
	rc = sim_domain_path(path, sizeof(path), simdir, domid);
	if (rc < 0)
		return rc;
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? -ESRCH : -errno;
	h = mmap(NULL, SIM_HDR_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (h == MAP_FAILED) {
		rc = -errno;
		close(fd);
		return rc;
	}
	if (h->magic != SIM_MAGIC || h->version != SIM_VERSION || h->domid != domid) {
		munmap(h, SIM_HDR_SIZE);
		close(fd);
		return -ESRCH;
	}
	d->fd = fd;
	d->hdr = h;
	return 0;
}

void sim_domain_detach(struct sim_domain *d)
{
	if (d->hdr)
		munmap(d->hdr, SIM_HDR_SIZE);
	if (d->fd >= 0)
		close(d->fd);
	d->hdr = NULL;
	d->fd = -1;
}

bool sim_domain_alive(const struct sim_domain *d)
{
	return __atomic_load_n(&d->hdr->alive, __ATOMIC_ACQUIRE) != 0;
}

int sim_bitmap_alloc(uint64_t *bitmap, uint32_t nbits, uint32_t hint)
{
	uint32_t words = nbits / 64;

	for (uint32_t n = 0; n < words; n++) {
		uint32_t w = (hint / 64 + n) % words;
		uint64_t old = __atomic_load_n(&bitmap[w], __ATOMIC_RELAXED);

		while (old != UINT64_MAX) {
			int bit = __builtin_ctzll(~old);

			/* Claiming the bit is the allocation; acquire pairs with the free's release. */
			if (__atomic_compare_exchange_n(&bitmap[w], &old, old | (1ull << bit), false,
							__ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
				return (int)(w * 64 + (uint32_t)bit);
		}
	}
	return -ENOSPC;
}

void sim_bitmap_free(uint64_t *bitmap, uint32_t bit)
{
	/* Release: everything done with the object happens before it can be reallocated. */
	__atomic_fetch_and(&bitmap[bit / 64], ~(1ull << (bit % 64)), __ATOMIC_RELEASE);
}

void sim_grant_free_entry(struct sim_domain_hdr *h, uint32_t ref)
{
	uint32_t frame = h->grants[ref].frame;

	if (frame < SIM_POOL_PAGES)
		sim_bitmap_free(h->frame_bitmap, frame);
	sim_bitmap_free(h->grant_bitmap, ref);
}

void sim_ports_lock(struct sim_domain *a, struct sim_domain *b)
{
	if (b && b != a && b->domid < a->domid) {
		flock(b->fd, LOCK_EX);
		flock(a->fd, LOCK_EX);
		return;
	}
	flock(a->fd, LOCK_EX);
	if (b && b != a && b->domid != a->domid)
		flock(b->fd, LOCK_EX);
}

void sim_ports_unlock(struct sim_domain *a, struct sim_domain *b)
{
	if (b && b != a && b->domid != a->domid)
		flock(b->fd, LOCK_UN);
	flock(a->fd, LOCK_UN);
}

static int ensure_dir(const char *simdir, const char *sub)
{
	char path[SIM_PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", simdir, sub);
	if (mkdir(path, 0700) != 0 && errno != EEXIST)
		return -errno;
	return 0;
}

int vha_sim_domain_create(const char *simdir, vha_domid_t domid)
{
	char path[SIM_PATH_MAX], tmp[SIM_TMP_PATH_MAX];
	struct sim_domain_hdr *h;
	struct sim_domain d;
	int fd, rc;

	if (!simdir || domid > VHA_DOMID_MAX)
		return -EINVAL;
	if ((rc = ensure_dir(simdir, "domains")) < 0 || (rc = ensure_dir(simdir, "evtchn")) < 0)
		return rc;
	if (sim_domain_attach(simdir, domid, &d) == 0) {
		bool alive = sim_domain_alive(&d);

		sim_domain_detach(&d);
		if (alive)
			return -EEXIST;
	}
	rc = sim_domain_path(path, sizeof(path), simdir, domid);
	if (rc < 0)
		return rc;
	/* Build the file under a temporary name and rename it into place, so nobody sees it half-made. */
	snprintf(tmp, sizeof(tmp), "%s.%d.tmp", path, (int)getpid());
	fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)SIM_HDR_SIZE + (off_t)SIM_POOL_PAGES * VHA_PAGE_SIZE) != 0) {
		rc = -errno;
		goto fail;
	}
	h = mmap(NULL, SIM_HDR_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (h == MAP_FAILED) {
		rc = -errno;
		goto fail;
	}
	h->version = SIM_VERSION;
	h->domid = domid;
	h->alive = 1;
	/* Port 0 is never handed out, as on Xen. */
	h->ports[0].state = SIM_PORT_UNBOUND;
	h->ports[0].remote_domid = UINT32_MAX;
	__atomic_store_n(&h->magic, SIM_MAGIC, __ATOMIC_RELEASE);
	munmap(h, SIM_HDR_SIZE);
	close(fd);
	if (rename(tmp, path) != 0) {
		rc = -errno;
		unlink(tmp);
		return rc;
	}
	return 0;
fail:
	close(fd);
	unlink(tmp);
	return rc;
}

bool vha_sim_domain_exists(const char *simdir, vha_domid_t domid)
{
	struct sim_domain d;
	bool alive;

	if (sim_domain_attach(simdir, domid, &d) != 0)
		return false;
	alive = sim_domain_alive(&d);
	sim_domain_detach(&d);
	return alive;
}

/* Close one interdomain port's far end: the peer's port becomes unbound, as on Xen. */
static void close_peer_port(const char *simdir, struct sim_domain *self, struct sim_port *port)
{
	struct sim_domain peer;

	if (port->remote_domid == self->domid) {
		struct sim_port *pp = &self->hdr->ports[port->remote_port % SIM_PORTS];

		if (pp->state == SIM_PORT_INTERDOMAIN)
			pp->state = SIM_PORT_UNBOUND;
		return;
	}
	if (sim_domain_attach(simdir, port->remote_domid, &peer) != 0)
		return;
	flock(peer.fd, LOCK_EX);
	if (port->remote_port < SIM_PORTS) {
		struct sim_port *pp = &peer.hdr->ports[port->remote_port];

		if (pp->state == SIM_PORT_INTERDOMAIN && pp->remote_domid == self->domid)
			pp->state = SIM_PORT_UNBOUND;
	}
	flock(peer.fd, LOCK_UN);
	sim_domain_detach(&peer);
}

int vha_sim_domain_destroy(const char *simdir, vha_domid_t domid)
{
	struct sim_domain d;
	struct sim_domain_hdr *h;
	char fifo[SIM_PATH_MAX];
	int rc;

	rc = sim_domain_attach(simdir, domid, &d);
	if (rc < 0)
		return rc;
	h = d.hdr;
	/* Dead first: from here on no new map of its grants succeeds. */
	__atomic_store_n(&h->alive, 0, __ATOMIC_RELEASE);
	for (uint32_t ref = 0; ref < SIM_GRANT_ENTRIES; ref++) {
		uint32_t old = __atomic_load_n(&h->grants[ref].word, __ATOMIC_ACQUIRE), next;
		bool freed = false;

		do {
			if (!(old & SIM_GNT_PERMIT))
				break;
			freed = (old & SIM_GNT_COUNT_MASK) == 0;
			next = freed ? old & SIM_GNT_GEN_MASK : (old & ~SIM_GNT_PERMIT) | SIM_GNT_RELEASED;
		} while (!__atomic_compare_exchange_n(&h->grants[ref].word, &old, next, false, __ATOMIC_ACQ_REL,
						      __ATOMIC_ACQUIRE));
		if (freed && (old & SIM_GNT_PERMIT))
			sim_grant_free_entry(h, ref);
	}
	flock(d.fd, LOCK_EX);
	for (uint32_t port = 1; port < SIM_PORTS; port++) {
		struct sim_port *p = &h->ports[port];

		if (p->state == SIM_PORT_FREE)
			continue;
		if (p->state == SIM_PORT_INTERDOMAIN) {
			/* Never hold two domain locks out of order: drop ours for the peer. */
			struct sim_port copy = *p;

			flock(d.fd, LOCK_UN);
			close_peer_port(simdir, &d, &copy);
			flock(d.fd, LOCK_EX);
		}
		p->state = SIM_PORT_FREE;
		if (sim_fifo_path(fifo, sizeof(fifo), simdir, domid, port) == 0)
			unlink(fifo);
	}
	flock(d.fd, LOCK_UN);
	sim_domain_detach(&d);
	return 0;
}

int vha_sim_domain_stats(const char *simdir, vha_domid_t domid, struct vha_sim_domain_stats *st)
{
	struct sim_domain d;
	int rc;

	memset(st, 0, sizeof(*st));
	rc = sim_domain_attach(simdir, domid, &d);
	if (rc < 0)
		return rc;
	st->alive = sim_domain_alive(&d);
	for (uint32_t ref = 0; ref < SIM_GRANT_ENTRIES; ref++) {
		uint32_t w = __atomic_load_n(&d.hdr->grants[ref].word, __ATOMIC_ACQUIRE);

		if (w & (SIM_GNT_PERMIT | SIM_GNT_RELEASED))
			st->grants_active++;
		st->pages_mapped += w & SIM_GNT_COUNT_MASK;
	}
	for (uint32_t i = 0; i < SIM_POOL_PAGES / 64; i++)
		st->pages_allocated += (uint32_t)__builtin_popcountll(
			__atomic_load_n(&d.hdr->frame_bitmap[i], __ATOMIC_RELAXED));
	for (uint32_t port = 1; port < SIM_PORTS; port++)
		if (d.hdr->ports[port].state != SIM_PORT_FREE)
			st->ports_in_use++;
	sim_domain_detach(&d);
	return 0;
}
