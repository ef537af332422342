/*
 * st_hmap: the tree's one hash map, intrusive and chained. An object that
 * lives in a map embeds an st_hnode_t; the map stores nodes by a 64-bit
 * hash the caller computes (st_hash_*), keeps chains short by doubling
 * its bucket array as it fills, and leaves key comparison to the caller:
 *
 *   for (st_hnode_t *n = st_hmap_first(m, h); n; n = st_hmap_next(n, h))
 *       if (key matches ST_CONTAINER_OF(n, obj_t, node)) ...
 *
 * The map owns only its bucket array; objects are the caller's. Not
 * thread-safe: one owner at a time.
 */
#ifndef ST_HMAP_H
#define ST_HMAP_H

#include <stddef.h>
#include <stdint.h>

#include "common/st_err.h"

typedef struct st_hnode {
    struct st_hnode *next; /* chain */
    uint64_t hash;
} st_hnode_t;

typedef struct st_hmap {
    st_hnode_t **buckets;
    size_t n_buckets; /* a power of two */
    size_t n;         /* nodes stored */
} st_hmap_t;

#define ST_CONTAINER_OF(ptr, type, member) ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

/* An empty map with at least `initial` buckets. ST_ERR_NOMEM. */
st_err_t st_hmap_init(st_hmap_t *m, size_t initial);
/* Free the bucket array (not the objects). */
void st_hmap_fini(st_hmap_t *m);
/* Add node under hash (duplicates allowed: the caller checks first).
 * Grows the bucket array when nodes outnumber buckets; when that fails
 * the chains only get longer. */
void st_hmap_insert(st_hmap_t *m, st_hnode_t *node, uint64_t hash);
/* Remove a node that is in the map. */
void st_hmap_remove(st_hmap_t *m, st_hnode_t *node);
/* The first node stored under hash, then the next one with that hash. */
st_hnode_t *st_hmap_first(const st_hmap_t *m, uint64_t hash);
st_hnode_t *st_hmap_next(const st_hnode_t *node, uint64_t hash);

/* Every node, in no particular order; removing the node just returned is
 * safe, inserting during the walk is not:
 *   st_hmap_iter_t it = ST_HMAP_ITER(m);
 *   for (st_hnode_t *n; (n = st_hmap_iter_next(&it));) ... */
typedef struct st_hmap_iter {
    const st_hmap_t *m;
    size_t bucket;    /* next bucket to look at */
    st_hnode_t *next; /* next node of the current chain */
} st_hmap_iter_t;
#define ST_HMAP_ITER(map)                                                                                    \
    {                                                                                                        \
        (map), 0, NULL                                                                                       \
    }
st_hnode_t *st_hmap_iter_next(st_hmap_iter_t *it);

/* FNV-1a over bytes, continuing from h (start with ST_HASH_INIT). */
#define ST_HASH_INIT 14695981039346656037ull
uint64_t st_hash_bytes(uint64_t h, const void *p, size_t n);
/* Same over a NUL-terminated string. */
uint64_t st_hash_str(uint64_t h, const char *s);

#endif
