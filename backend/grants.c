// SPDX-License-Identifier: MIT
/*
 * The persistent-grant cache of one queue (feature-persistent). A frontend
 * that negotiated it reuses a fixed set of granted pages; the backend maps
 * each once, read-write, and keeps it until the queue stops. The cache is
 * bounded: a guest that cycles through fresh refs evicts idle entries (least
 * recently used first) and, when every entry is busy, gets the ordinary
 * per-request mapping. With no_evict (O_DIRECT targets on a Linux dom0, where
 * a page can still be held by the kernel after its I/O completed) a full
 * cache evicts nothing and the rest are mapped per request. Only the queue's
 * worker thread touches it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"

static unsigned int bucket_of(const struct grant_cache *c, grant_ref_t ref)
{
	return (ref * 2654435761u) & (c->nbuckets - 1);
}

int gcache_init(struct grant_cache *c, unsigned int capacity)
{
	memset(c, 0, sizeof(*c));
	if (capacity == 0)
		return 0;
	c->nbuckets = 1;
	while (c->nbuckets < capacity)
		c->nbuckets <<= 1;
	c->entries = calloc(capacity, sizeof(*c->entries));
	c->buckets = calloc(c->nbuckets, sizeof(*c->buckets));
	if (!c->entries || !c->buckets) {
		free(c->entries);
		free(c->buckets);
		memset(c, 0, sizeof(*c));
		return -ENOMEM;
	}
	c->capacity = capacity;
	c->idle.lru_prev = c->idle.lru_next = &c->idle;
	for (unsigned int i = capacity; i-- > 0;) {
		c->entries[i].hnext = c->free;
		c->free = &c->entries[i];
	}
	return 0;
}

static void lru_unlink(struct pgrant *e)
{
	e->lru_prev->lru_next = e->lru_next;
	e->lru_next->lru_prev = e->lru_prev;
	e->lru_prev = e->lru_next = NULL;
}

/* Idle entries sit on the list, most recently used at the tail. */
static void lru_append(struct grant_cache *c, struct pgrant *e)
{
	e->lru_prev = c->idle.lru_prev;
	e->lru_next = &c->idle;
	c->idle.lru_prev->lru_next = e;
	c->idle.lru_prev = e;
}

static void hash_remove(struct grant_cache *c, struct pgrant *e)
{
	struct pgrant **pp = &c->buckets[bucket_of(c, e->ref)];

	while (*pp && *pp != e)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = e->hnext;
	e->hnext = NULL;
}

void *gcache_get(struct grant_cache *c, struct vha_gnttab *g, vha_domid_t domid, grant_ref_t ref,
		 struct pgrant **out)
{
	struct pgrant *e;
	void *addr = NULL;

	*out = NULL;
	if (!c->capacity)
		return NULL;
	for (e = c->buckets[bucket_of(c, ref)]; e; e = e->hnext)
		if (e->ref == ref)
			break;
	if (e) {
		if (e->users++ == 0)
			lru_unlink(e);
		STAT_ADD(c->hits, 1);
		*out = e;
		return e->addr;
	}
	STAT_ADD(c->misses, 1);
	if (!c->free && (c->no_evict || c->idle.lru_next == &c->idle))
		return NULL;    /* full and nothing may go: map this one per request */
	/*
	 * Persistent grants are read-write by protocol; a grant that cannot be
	 * mapped so (read-only, or not granted at all) stays uncached and
	 * evicts nothing.
	 */
	if (vha_gnttab_map(g, domid, 1, &ref, true, &addr) < 0) {
		STAT_ADD(c->uncacheable, 1);
		return NULL;
	}
	if (c->free) {
		e = c->free;
		c->free = e->hnext;
	} else {
		/* Full: evict the least recently used idle entry. */
		e = c->idle.lru_next;
		lru_unlink(e);
		hash_remove(c, e);
		vha_gnttab_unmap(g, e->addr, 1);
		STAT_ADD(c->used, -1);
		STAT_ADD(c->evictions, 1);
	}
	e->ref = ref;
	e->addr = addr;
	e->users = 1;
	e->hnext = c->buckets[bucket_of(c, ref)];
	c->buckets[bucket_of(c, ref)] = e;
	STAT_ADD(c->used, 1);
	*out = e;
	return addr;
}

void gcache_put(struct grant_cache *c, struct pgrant *e)
{
	if (e && --e->users == 0)
		lru_append(c, e);
}

void gcache_destroy(struct grant_cache *c, struct vha_gnttab *g)
{
	for (unsigned int i = 0; i < c->capacity; i++)
		if (c->entries && c->entries[i].addr)
			vha_gnttab_unmap(g, c->entries[i].addr, 1);
	free(c->entries);
	free(c->buckets);
	memset(c, 0, sizeof(*c));
}

static const char *const strategy_names[GS_COUNT] = {
	[GS_MAP] = "map", [GS_PERSISTENT] = "persistent", [GS_COPY] = "copy", [GS_ADAPTIVE] = "adaptive",
};

const char *grant_strategy_name(enum grant_strategy s)
{
	return (unsigned int)s < GS_COUNT ? strategy_names[s] : "?";
}

int grant_strategy_parse(const char *name)
{
	for (int i = 0; i < GS_COUNT; i++)
		if (name && strcmp(name, strategy_names[i]) == 0)
			return i;
	return -1;
}
