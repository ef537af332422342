/*
 * st_hmap: chained buckets indexed by the low bits of the hash (see
 * st_hmap.h).
 */
#include "common/st_hmap.h"

#include <stdlib.h>

st_err_t st_hmap_init(st_hmap_t *m, size_t initial)
{
    size_t n = 8;
    while (n < initial)
        n *= 2;
    m->buckets = calloc(n, sizeof *m->buckets);
    m->n_buckets = m->buckets ? n : 0;
    m->n = 0;
    return m->buckets ? ST_OK : ST_ERR_NOMEM;
}

void st_hmap_fini(st_hmap_t *m)
{
    free(m->buckets);
    m->buckets = NULL;
    m->n_buckets = m->n = 0;
}

static void st_hmap_grow(st_hmap_t *m)
{
    size_t n = m->n_buckets * 2;
    st_hnode_t **nb = calloc(n, sizeof *nb);
    if (!nb)
        return;
    for (size_t i = 0; i < m->n_buckets; i++) {
        st_hnode_t *p = m->buckets[i];
        while (p) {
            st_hnode_t *next = p->next;
            size_t b = p->hash & (n - 1);
            p->next = nb[b];
            nb[b] = p;
            p = next;
        }
    }
    free(m->buckets);
    m->buckets = nb;
    m->n_buckets = n;
}

void st_hmap_insert(st_hmap_t *m, st_hnode_t *node, uint64_t hash)
{
    if (m->n + 1 > m->n_buckets)
        st_hmap_grow(m);
    size_t b = hash & (m->n_buckets - 1);
    node->hash = hash;
    node->next = m->buckets[b];
    m->buckets[b] = node;
    m->n++;
}

void st_hmap_remove(st_hmap_t *m, st_hnode_t *node)
{
    for (st_hnode_t **pp = &m->buckets[node->hash & (m->n_buckets - 1)]; *pp; pp = &(*pp)->next) {
        if (*pp == node) {
            *pp = node->next;
            node->next = NULL;
            m->n--;
            return;
        }
    }
}

st_hnode_t *st_hmap_first(const st_hmap_t *m, uint64_t hash)
{
    if (!m->n_buckets)
        return NULL;
    st_hnode_t *p = m->buckets[hash & (m->n_buckets - 1)];
    while (p && p->hash != hash)
        p = p->next;
    return p;
}

st_hnode_t *st_hmap_next(const st_hnode_t *node, uint64_t hash)
{
    st_hnode_t *p = node->next;
    while (p && p->hash != hash)
        p = p->next;
    return p;
}

st_hnode_t *st_hmap_iter_next(st_hmap_iter_t *it)
{
    while (!it->next && it->bucket < it->m->n_buckets)
        it->next = it->m->buckets[it->bucket++];
    st_hnode_t *n = it->next;
    if (n)
        it->next = n->next;
    return n;
}

uint64_t st_hash_bytes(uint64_t h, const void *p, size_t n)
{
    const unsigned char *c = p;
    for (size_t i = 0; i < n; i++) {
        h ^= c[i];
        h *= 1099511628211ull;
    }
    return h;
}

uint64_t st_hash_str(uint64_t h, const char *s)
{
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        h ^= *c;
        h *= 1099511628211ull;
    }
    return h;
}
