/*
 * br_admin_int: the admin handlers' internals, shared by their pieces and
 * by nothing else (everything outside talks to br_admin.h): br_admin.c
 * (topics: CreateTopics, DeleteTopics, CreatePartitions, the pending
 * calls that wait for the cluster, auto-creation, the request switch),
 * br_admin_config.c (DescribeConfigs, AlterConfigs) and
 * br_admin_metadata.c (Metadata). It describes br_admin and
 * the response arena; owns nothing by itself. Core loop only.
 */
#ifndef BR_ADMIN_INT_H
#define BR_ADMIN_INT_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "control/br_admin.h"
#include "control/br_ctl.h"
#include "control/br_md.h"
#include "coord/zknode.h"

#define AD_TAG "admin"

/* ------------------------------------------------------------- arena */

/* A per-call arena: every block ad_alloc returns (zeroed) is freed by one
 * ad_arena_free. Responses are built from protobuf-c structs allocated
 * here and the arena is freed right after the reply is packed.
 *   ad_arena_t a = {0};          an empty arena
 *   ad_alloc(&a, size)           zeroed block, NULL on out of memory
 *   ad_strdup(&a, s)             copy of s (NULL: ""); "" on out of memory
 *   AD_NEW(&a, type, init)       a block of type set to init, or NULL
 *   ad_arena_free(&a)            free every block, empty again */

typedef struct ad_arena {
    void **p;
    size_t n, cap;
} ad_arena_t;

static inline void *ad_alloc(ad_arena_t *a, size_t size)
{
    if (a->n == a->cap) {
        size_t nc = a->cap ? a->cap * 2 : 64;
        void **np = realloc(a->p, nc * sizeof *np);
        if (!np)
            return NULL;
        a->p = np;
        a->cap = nc;
    }
    void *m = calloc(1, size ? size : 1);
    if (m)
        a->p[a->n++] = m;
    return m;
}

static inline char *ad_strdup(ad_arena_t *a, const char *s)
{
    if (!s)
        s = "";
    size_t n = strlen(s) + 1;
    char *c = ad_alloc(a, n);
    if (c)
        memcpy(c, s, n);
    return c ? c : (char *)"";
}

static inline void ad_arena_free(ad_arena_t *a)
{
    for (size_t i = 0; i < a->n; i++)
        free(a->p[i]);
    free(a->p);
    memset(a, 0, sizeof *a);
}

#define AD_NEW(a, type, init)                                                                                           \
    ({                                                                                                                  \
        type *_m = ad_alloc((a), sizeof(type));                                                                         \
        if (_m) {                                                                                                       \
            type _i = init;                                                                                             \
            *_m = _i;                                                                                                   \
        }                                                                                                               \
        _m;                                                                                                             \
    })

/* ----------------------------------------------------------- admin */

typedef struct ad_wait ad_wait_t;

struct br_admin {
    const br_cp_t *cp;
    ad_wait_t *waits;
    int64_t offsets_create_ms; /* last __consumer_offsets creation attempt */
};

/* Create topic name as Metadata's auto-creation does (broker defaults
 * num.partitions and default.replication.factor), fire and forget
 * (br_admin.c). */
void br_admin_auto_create(br_admin_t *ad, const char *name);

#endif
