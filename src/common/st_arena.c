/*
 * st_arena: chunks of ST_ARENA_CHUNK bytes, bump-allocated; a block larger
 * than a quarter chunk gets a chunk of its own (see st_arena.h).
 */
#include "common/st_arena.h"

#include <stdalign.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define ST_ARENA_CHUNK 8192u

struct st_arena_chunk {
    st_arena_chunk_t *next;
    size_t used, cap;
    alignas(max_align_t) unsigned char data[];
};

static size_t st_arena_round(size_t n)
{
    size_t al = alignof(max_align_t);
    return (n + al - 1) / al * al;
}

void *st_arena_alloc(st_arena_t *a, size_t size)
{
    size_t need = st_arena_round(size ? size : 1);
    if (need < size)
        return NULL; /* overflow */
    st_arena_chunk_t *c = a->head;
    if (!c || c->cap - c->used < need) {
        size_t cap = need > ST_ARENA_CHUNK / 4 ? need : ST_ARENA_CHUNK;
        if (cap > SIZE_MAX - sizeof *c)
            return NULL;
        c = malloc(sizeof *c + cap);
        if (!c)
            return NULL;
        c->used = 0;
        c->cap = cap;
        if (need > ST_ARENA_CHUNK / 4 && a->head) {
            /* a big block of its own: keep bump-allocating from the head */
            c->next = a->head->next;
            a->head->next = c;
        } else {
            c->next = a->head;
            a->head = c;
        }
    }
    void *m = c->data + c->used;
    c->used += need;
    memset(m, 0, need);
    return m;
}

void *st_arena_copy(st_arena_t *a, const void *src, size_t size)
{
    void *m = st_arena_alloc(a, size);
    if (m)
        memcpy(m, src, size);
    return m;
}

char *st_arena_strdup(st_arena_t *a, const char *s)
{
    if (!s)
        s = "";
    size_t n = strlen(s) + 1;
    char *m = st_arena_alloc(a, n);
    if (!m)
        return (char *)"";
    memcpy(m, s, n);
    return m;
}

void st_arena_free(st_arena_t *a)
{
    st_arena_chunk_t *c = a->head;
    while (c) {
        st_arena_chunk_t *next = c->next;
        free(c);
        c = next;
    }
    a->head = NULL;
}
