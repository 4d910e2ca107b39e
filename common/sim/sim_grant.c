// SPDX-License-Identifier: MIT
/*
 * Sim grant tables. The granting domain's grant table and pages live in its
 * shared-memory file; mapping a grant checks the entry as Xen does (permit,
 * grantee, read-only), takes a reference on it atomically, and maps the very
 * page of the file, so two processes share it.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "sim_internal.h"

#define SIM_MAX_PEERS 64u

/* One mapping made by vha_gnttab_map, remembered for the unmap. */
struct sim_mapping {
	struct sim_mapping *next;
	void *addr;
	uint32_t count;
	vha_domid_t domid;
	struct sim_domain *dom;
	vha_grant_ref_t refs[];
};

struct sim_gnttab {
	struct sim_platform *sp;
	pthread_mutex_t lock;
	struct sim_domain peers[SIM_MAX_PEERS];
	uint32_t npeers;
	struct sim_mapping *maps;
};

struct sim_share {
	struct sim_share *next;
	void *addr;
	uint32_t count;
	vha_grant_ref_t refs[];
};

struct sim_gntshr {
	struct sim_platform *sp;
	pthread_mutex_t lock;
	struct sim_domain self;
	struct sim_share *shares;
};

/* The mapped file of domain `domid`, attached on first use. Caller holds g->lock. */
static int peer_domain(struct sim_gnttab *g, vha_domid_t domid, struct sim_domain **out)
{
	struct sim_domain *dead = NULL;
	int rc;

	/* Newest first: a domain destroyed and created again has a newer entry. */
	for (uint32_t i = g->npeers; i-- > 0;) {
		if (g->peers[i].domid != domid)
			continue;
		if (sim_domain_alive(&g->peers[i])) {
			*out = &g->peers[i];
			return 0;
		}
		dead = &g->peers[i];
		break;
	}
	/*
	 * Not attached yet, or only its dead incarnation (which existing
	 * mappings still reference, so it stays): attach the current file.
	 */
	if (g->npeers == SIM_MAX_PEERS)
		return dead ? (*out = dead, 0) : -ENOMEM;
	rc = sim_domain_attach(g->sp->simdir, domid, &g->peers[g->npeers]);
	if (rc < 0 || (dead && !sim_domain_alive(&g->peers[g->npeers]))) {
		if (rc == 0)
			sim_domain_detach(&g->peers[g->npeers]);
		if (!dead)
			return rc;
		*out = dead;    /* still dead: the map reports -ESRCH */
		return 0;
	}
	*out = &g->peers[g->npeers++];
	return 0;
}

int sim_gnttab_open(struct vha_platform *p, void **priv)
{
	struct sim_gnttab *g = calloc(1, sizeof(*g));

	if (!g)
		return -ENOMEM;
	g->sp = p->priv;
	pthread_mutex_init(&g->lock, NULL);
	*priv = g;
	return 0;
}

void sim_gnttab_close(void *priv)
{
	struct sim_gnttab *g = priv;

	if (!g)
		return;
	while (g->maps)
		sim_gnttab_unmap(g, g->maps->addr, g->maps->count);
	for (uint32_t i = 0; i < g->npeers; i++)
		sim_domain_detach(&g->peers[i]);
	pthread_mutex_destroy(&g->lock);
	free(g);
}

/* Drop one mapping reference; the last one after a release frees the entry. */
static void grant_put(struct sim_domain_hdr *h, vha_grant_ref_t ref)
{
	uint32_t now = __atomic_sub_fetch(&h->grants[ref].word, 1, __ATOMIC_ACQ_REL);

	if ((now & SIM_GNT_RELEASED) && (now & SIM_GNT_COUNT_MASK) == 0) {
		/* Only one of us can turn a released, unmapped entry into a free one. */
		if (__atomic_compare_exchange_n(&h->grants[ref].word, &now, now & SIM_GNT_GEN_MASK, false,
						__ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
			sim_grant_free_entry(h, ref);
	}
}

/*
 * Take a mapping reference on one grant after checking it as Xen would.
 * Returns the frame, or -errno.
 */
static int64_t grant_get(struct sim_domain *d, vha_domid_t mapper, vha_grant_ref_t ref, bool writable)
{
	struct sim_grant *e;
	uint32_t old, frame, grantee;

	if (ref >= SIM_GRANT_ENTRIES)
		return -EINVAL;
	e = &d->hdr->grants[ref];
	old = __atomic_load_n(&e->word, __ATOMIC_ACQUIRE);
	for (;;) {
		if (!sim_domain_alive(d))
			return -ESRCH;
		if (!(old & SIM_GNT_PERMIT))
			return -EACCES;
		/* Acquire on the word orders these after the granter's publication of them. */
		grantee = __atomic_load_n(&e->grantee, __ATOMIC_RELAXED);
		frame = __atomic_load_n(&e->frame, __ATOMIC_RELAXED);
		if (grantee != mapper)
			return -EACCES;
		if (writable && (old & SIM_GNT_READONLY))
			return -EACCES;
		if (frame >= SIM_POOL_PAGES)
			return -EINVAL;
		if ((old & SIM_GNT_COUNT_MASK) == SIM_GNT_COUNT_MASK)
			return -EBUSY;
		/* The CAS fails if the entry was revoked or reused meanwhile (generation bits). */
		if (__atomic_compare_exchange_n(&e->word, &old, old + 1, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
			return frame;
	}
}

int sim_gnttab_map(void *priv, vha_domid_t domid, uint32_t count, const vha_grant_ref_t *refs, bool writable,
		   void **addr_out)
{
	struct sim_gnttab *g = priv;
	struct sim_mapping *m = NULL;
	struct sim_domain *d;
	uint32_t *frames = NULL, taken = 0;
	void *base = MAP_FAILED;
	int prot = writable ? PROT_READ | PROT_WRITE : PROT_READ;
	int rc;

	pthread_mutex_lock(&g->lock);
	rc = peer_domain(g, domid, &d);
	pthread_mutex_unlock(&g->lock);
	if (rc < 0)
		return rc;

	m = malloc(sizeof(*m) + count * sizeof(m->refs[0]));
	frames = malloc(count * sizeof(*frames));
	if (!m || !frames) {
		rc = -ENOMEM;
		goto fail;
	}
	for (taken = 0; taken < count; taken++) {
		int64_t f = grant_get(d, g->sp->domid, refs[taken], writable);

		if (f < 0) {
			rc = (int)f;
			goto fail;
		}
		frames[taken] = (uint32_t)f;
		m->refs[taken] = refs[taken];
	}
	/* One contiguous range, then each run of consecutive frames mapped over it. */
	base = mmap(NULL, (size_t)count * VHA_PAGE_SIZE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (base == MAP_FAILED) {
		rc = -errno;
		goto fail;
	}
	for (uint32_t i = 0; i < count;) {
		uint32_t run = 1;

		while (i + run < count && frames[i + run] == frames[i] + run)
			run++;
		if (mmap((char *)base + (size_t)i * VHA_PAGE_SIZE, (size_t)run * VHA_PAGE_SIZE, prot,
			 MAP_SHARED | MAP_FIXED, d->fd, (off_t)sim_frame_offset(frames[i])) == MAP_FAILED) {
			rc = -errno;
			goto fail;
		}
		i += run;
	}
	m->addr = base;
	m->count = count;
	m->domid = domid;
	m->dom = d;
	pthread_mutex_lock(&g->lock);
	m->next = g->maps;
	g->maps = m;
	pthread_mutex_unlock(&g->lock);
	free(frames);
	*addr_out = base;
	return 0;
fail:
	if (base != MAP_FAILED)
		munmap(base, (size_t)count * VHA_PAGE_SIZE);
	for (uint32_t i = 0; i < taken; i++)
		grant_put(d->hdr, refs[i]);
	free(frames);
	free(m);
	return rc;
}

int sim_gnttab_unmap(void *priv, void *addr, uint32_t count)
{
	struct sim_gnttab *g = priv;
	struct sim_mapping **pp, *m = NULL;

	pthread_mutex_lock(&g->lock);
	for (pp = &g->maps; *pp; pp = &(*pp)->next) {
		if ((*pp)->addr == addr && (*pp)->count == count) {
			m = *pp;
			*pp = m->next;
			break;
		}
	}
	pthread_mutex_unlock(&g->lock);
	if (!m)
		return -EINVAL;
	munmap(addr, (size_t)count * VHA_PAGE_SIZE);
	for (uint32_t i = 0; i < count; i++)
		grant_put(m->dom->hdr, m->refs[i]);
	free(m);
	return 0;
}

/*
 * One side of a copy: check the grant as Xen does, pin it for the copy's
 * duration, and move the bytes through the domain's memory file (no mapping,
 * like the hypervisor's copy). Returns 0 or -errno.
 */
static int copy_side(struct sim_gnttab *g, vha_domid_t domid, vha_grant_ref_t ref, uint16_t offset, void *buf,
		     uint16_t len, bool to_guest)
{
	struct sim_domain *d;
	int64_t frame;
	ssize_t n;
	int rc;

	if ((uint32_t)offset + len > VHA_PAGE_SIZE)
		return -EINVAL;
	pthread_mutex_lock(&g->lock);
	rc = peer_domain(g, domid, &d);
	pthread_mutex_unlock(&g->lock);
	if (rc < 0)
		return rc;
	frame = grant_get(d, g->sp->domid, ref, to_guest);
	if (frame < 0)
		return (int)frame;
	if (to_guest)
		n = pwrite(d->fd, buf, len, (off_t)(sim_frame_offset((uint32_t)frame) + offset));
	else
		n = pread(d->fd, buf, len, (off_t)(sim_frame_offset((uint32_t)frame) + offset));
	rc = n == (ssize_t)len ? 0 : n < 0 ? -errno : -EIO;
	grant_put(d->hdr, ref);
	return rc;
}

int sim_gnttab_copy(void *priv, struct vha_grant_copy_seg *segs, uint32_t count)
{
	struct sim_gnttab *g = priv;
	unsigned char bounce[VHA_PAGE_SIZE];

	for (uint32_t i = 0; i < count; i++) {
		struct vha_grant_copy_seg *s = &segs[i];
		int rc = 0;

		if (s->len > VHA_PAGE_SIZE) {
			rc = -EINVAL;
		} else if (s->src.foreign && s->dst.foreign) {
			rc = copy_side(g, s->src.domid, s->src.ref, s->src.offset, bounce, s->len, false);
			if (rc == 0)
				rc = copy_side(g, s->dst.domid, s->dst.ref, s->dst.offset, bounce, s->len, true);
		} else if (s->src.foreign) {
			rc = s->dst.virt ? copy_side(g, s->src.domid, s->src.ref, s->src.offset, s->dst.virt, s->len, false)
					 : -EINVAL;
		} else if (s->dst.foreign) {
			rc = s->src.virt ? copy_side(g, s->dst.domid, s->dst.ref, s->dst.offset, s->src.virt, s->len, true)
					 : -EINVAL;
		} else {
			rc = -EINVAL;   /* neither side foreign: not a grant copy */
		}
		s->status = (int16_t)rc;
	}
	return 0;
}

/* ---------------- sharing ---------------- */

int sim_gntshr_open(struct vha_platform *p, void **priv)
{
	struct sim_gntshr *s = calloc(1, sizeof(*s));
	int rc;

	if (!s)
		return -ENOMEM;
	s->sp = p->priv;
	rc = sim_domain_attach(s->sp->simdir, s->sp->domid, &s->self);
	if (rc < 0) {
		free(s);
		return rc;
	}
	pthread_mutex_init(&s->lock, NULL);
	*priv = s;
	return 0;
}

void sim_gntshr_close(void *priv)
{
	struct sim_gntshr *s = priv;

	if (!s)
		return;
	while (s->shares)
		sim_gntshr_unshare(s, s->shares->addr, s->shares->count);
	sim_domain_detach(&s->self);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

/* End one grant: revoke access; free now if unmapped, else leave it to the last unmapper. */
static void grant_end(struct sim_domain_hdr *h, vha_grant_ref_t ref)
{
	struct sim_grant *e = &h->grants[ref];
	uint32_t old = __atomic_load_n(&e->word, __ATOMIC_ACQUIRE), next;

	do {
		/* The generation bits survive a free, so a stale CAS in grant_get() can never succeed. */
		if ((old & SIM_GNT_COUNT_MASK) == 0)
			next = old & SIM_GNT_GEN_MASK;
		else
			next = (old & ~SIM_GNT_PERMIT) | SIM_GNT_RELEASED;
	} while (!__atomic_compare_exchange_n(&e->word, &old, next, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE));
	if ((next & ~SIM_GNT_GEN_MASK) == 0)
		sim_grant_free_entry(h, ref);
}

void *sim_gntshr_share(void *priv, vha_domid_t domid, uint32_t count, vha_grant_ref_t *refs, bool writable)
{
	struct sim_gntshr *s = priv;
	struct sim_domain_hdr *h = s->self.hdr;
	struct sim_share *sh;
	uint32_t *frames, done = 0;
	void *base = MAP_FAILED;
	int rc = 0;

	if (!sim_domain_alive(&s->self)) {
		errno = ESRCH;
		return NULL;
	}
	sh = malloc(sizeof(*sh) + count * sizeof(sh->refs[0]));
	frames = malloc(count * sizeof(*frames));
	if (!sh || !frames) {
		rc = -ENOMEM;
		goto fail;
	}
	base = mmap(NULL, (size_t)count * VHA_PAGE_SIZE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (base == MAP_FAILED) {
		rc = -errno;
		goto fail;
	}
	for (done = 0; done < count; done++) {
		int frame = sim_bitmap_alloc(h->frame_bitmap, SIM_POOL_PAGES, (uint32_t)getpid() * 64u);
		int ref;
		void *page;

		if (frame < 0) {
			rc = frame;
			goto fail;
		}
		ref = sim_bitmap_alloc(h->grant_bitmap, SIM_GRANT_ENTRIES, (uint32_t)getpid() * 16u);
		if (ref < 0) {
			sim_bitmap_free(h->frame_bitmap, (uint32_t)frame);
			rc = ref;
			goto fail;
		}
		page = mmap((char *)base + (size_t)done * VHA_PAGE_SIZE, VHA_PAGE_SIZE, PROT_READ | PROT_WRITE,
			    MAP_SHARED | MAP_FIXED, s->self.fd, (off_t)sim_frame_offset((uint32_t)frame));
		if (page == MAP_FAILED) {
			rc = -errno;
			sim_bitmap_free(h->frame_bitmap, (uint32_t)frame);
			sim_bitmap_free(h->grant_bitmap, (uint32_t)ref);
			goto fail;
		}
		/* A recycled page must not carry old data to the peer (XSA-403). */
		memset(page, 0, VHA_PAGE_SIZE);
		{
			struct sim_grant *e = &h->grants[ref];
			uint32_t gen = ((e->word & SIM_GNT_GEN_MASK) + (1u << SIM_GNT_GEN_SHIFT)) & SIM_GNT_GEN_MASK;

			e->grantee = domid;
			e->frame = (uint32_t)frame;
			/* Release: grantee and frame are visible before the permit bit is. */
			__atomic_store_n(&e->word, SIM_GNT_PERMIT | gen | (writable ? 0 : SIM_GNT_READONLY),
					 __ATOMIC_RELEASE);
		}
		refs[done] = (vha_grant_ref_t)ref;
		sh->refs[done] = (vha_grant_ref_t)ref;
		frames[done] = (uint32_t)frame;
	}
	sh->addr = base;
	sh->count = count;
	pthread_mutex_lock(&s->lock);
	sh->next = s->shares;
	s->shares = sh;
	pthread_mutex_unlock(&s->lock);
	free(frames);
	return base;
fail:
	for (uint32_t i = 0; i < done; i++)
		grant_end(h, sh->refs[i]);
	if (base != MAP_FAILED)
		munmap(base, (size_t)count * VHA_PAGE_SIZE);
	free(frames);
	free(sh);
	errno = -rc;
	return NULL;
}

int sim_gntshr_unshare(void *priv, void *addr, uint32_t count)
{
	struct sim_gntshr *s = priv;
	struct sim_share **pp, *sh = NULL;

	pthread_mutex_lock(&s->lock);
	for (pp = &s->shares; *pp; pp = &(*pp)->next) {
		if ((*pp)->addr == addr && (*pp)->count == count) {
			sh = *pp;
			*pp = sh->next;
			break;
		}
	}
	pthread_mutex_unlock(&s->lock);
	if (!sh)
		return -EINVAL;
	munmap(addr, (size_t)count * VHA_PAGE_SIZE);
	for (uint32_t i = 0; i < count; i++)
		grant_end(s->self.hdr, sh->refs[i]);
	free(sh);
	return 0;
}
