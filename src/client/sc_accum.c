/*
 * sc_accum: per-partition open batches and ready queues (see sc_accum.h).
 * Batches come from a free pool so their builder, frame and ref arrays
 * keep their allocations from one use to the next.
 */
#include "client/sc_accum.h"

#include <stdlib.h>
#include <string.h>

#define SC_POOL_MAX 256

void sc_accum_init(sc_accum_t *a, st_codec_t codec, size_t batch_size, int64_t linger_ms,
                   int64_t delivery_timeout_ms)
{
    memset(a, 0, sizeof *a);
    a->codec = codec;
    a->batch_size = batch_size;
    a->linger_ms = linger_ms;
    a->delivery_timeout_ms = delivery_timeout_ms;
}

static void sc_batch_destroy(sc_batch_t *b)
{
    st_batch_builder_fini(&b->bld);
    st_buf_free(&b->frame);
    free(b->refs);
    free(b);
}

static void sc_queue_destroy(sc_batch_t *b)
{
    while (b != NULL) {
        sc_batch_t *n = b->next;
        sc_batch_destroy(b);
        b = n;
    }
}

void sc_accum_fini(sc_accum_t *a)
{
    sc_atopic_t *t = a->topics;
    while (t != NULL) {
        sc_atopic_t *n = t->next;
        for (int32_t i = 0; i < t->n_parts; i++) {
            if (t->parts[i].open)
                sc_batch_destroy(t->parts[i].open);
            sc_queue_destroy(t->parts[i].head);
        }
        free(t->parts);
        free(t->name);
        free(t);
        t = n;
    }
    sc_queue_destroy(a->pool);
    memset(a, 0, sizeof *a);
}

sc_atopic_t *sc_accum_topic(sc_accum_t *a, const char *name, bool create)
{
    if (a->last != NULL && strcmp(a->last->name, name) == 0)
        return a->last;
    for (sc_atopic_t *t = a->topics; t != NULL; t = t->next)
        if (strcmp(t->name, name) == 0)
            return a->last = t;
    if (!create)
        return NULL;
    sc_atopic_t *t = calloc(1, sizeof *t);
    if (t == NULL || (t->name = strdup(name)) == NULL) {
        free(t);
        return NULL;
    }
    sc_sticky_init(&t->sticky, (uint64_t)(uintptr_t)t ^ (uint64_t)strlen(name) * 0x9e3779b97f4a7c15ull);
    t->md_err = ST_OK;
    t->next = a->topics;
    a->topics = t;
    return a->last = t;
}

st_err_t sc_accum_set_partitions(sc_atopic_t *t, int32_t n, const int32_t *leaders)
{
    if (n > t->n_parts) {
        sc_apart_t *v = realloc(t->parts, (size_t)n * sizeof *v);
        if (v == NULL)
            return ST_ERR_NOMEM;
        memset(v + t->n_parts, 0, (size_t)(n - t->n_parts) * sizeof *v);
        for (int32_t i = t->n_parts; i < n; i++) {
            v[i].leader = -1;
            v[i].seq_pid = -1;
            v[i].seq_epoch = -1;
        }
        t->parts = v;
        t->n_parts = n;
    }
    for (int32_t i = 0; i < n && leaders != NULL; i++)
        t->parts[i].leader = leaders[i];
    return ST_OK;
}

size_t sc_accum_record_size(size_t key_len, size_t value_len, const strata_header_t *h, size_t nh)
{
    size_t n = key_len + value_len + 24;
    for (size_t i = 0; i < nh; i++)
        n += h[i].key_len + h[i].value_len + 8;
    return n;
}

static sc_batch_t *sc_batch_get(sc_accum_t *a)
{
    sc_batch_t *b = a->pool;
    if (b != NULL) {
        a->pool = b->next;
        a->pool_n--;
        st_batch_builder_reset(&b->bld);
        b->bld.codec = a->codec;
    } else {
        b = calloc(1, sizeof *b);
        if (b == NULL)
            return NULL;
        st_batch_builder_init(&b->bld, a->codec);
        st_buf_init(&b->frame);
    }
    b->next = NULL;
    b->frame.len = 0;
    b->finished = false;
    b->n_refs = 0;
    b->bytes = 0;
    b->attempts = 0;
    b->retry_at_ms = 0;
    b->seq_set = false;
    return b;
}

void sc_accum_release(sc_accum_t *a, sc_batch_t *b)
{
    a->bytes -= b->bytes;
    a->records -= b->n_refs;
    if (a->pool_n >= SC_POOL_MAX) {
        sc_batch_destroy(b);
        return;
    }
    b->next = a->pool;
    a->pool = b;
    a->pool_n++;
}

static void sc_queue_push(sc_apart_t *ap, sc_batch_t *b)
{
    b->next = NULL;
    if (ap->tail)
        ap->tail->next = b;
    else
        ap->head = b;
    ap->tail = b;
}

void sc_accum_close(sc_accum_t *a, sc_atopic_t *t, int32_t p)
{
    sc_apart_t *ap = &t->parts[p];
    sc_batch_t *b = ap->open;
    if (b == NULL)
        return;
    ap->open = NULL;
    if (b->n_refs == 0) {
        sc_accum_release(a, b);
        return;
    }
    sc_queue_push(ap, b);
    a->n_ready++;
}

st_err_t sc_accum_append(sc_accum_t *a, sc_atopic_t *t, int32_t p, int64_t now_ms, int64_t timestamp,
                         const void *key, size_t key_len, const void *value, size_t value_len,
                         const strata_header_t *headers, size_t n_headers, strata_delivery_cb cb,
                         void *opaque, bool *closed)
{
    *closed = false;
    if (p < 0 || p >= t->n_parts)
        return ST_ERR_INVALID_ARG;
    sc_apart_t *ap = &t->parts[p];
    size_t sz = sc_accum_record_size(key_len, value_len, headers, n_headers);
    if (ap->open != NULL && ap->open->n_refs > 0 &&
        st_batch_builder_size(&ap->open->bld) + sz > a->batch_size) {
        sc_accum_close(a, t, p);
        *closed = true;
    }
    sc_batch_t *b = ap->open;
    if (b == NULL) {
        if ((b = sc_batch_get(a)) == NULL)
            return ST_ERR_NOMEM;
        b->topic = t;
        b->partition = p;
        b->order = ap->next_order++;
        b->created_ms = now_ms;
        b->deadline_ms = now_ms + a->delivery_timeout_ms;
        ap->open = b;
    }
    if (b->n_refs == b->refs_cap) {
        size_t cap = b->refs_cap ? b->refs_cap * 2 : 64;
        sc_ref_t *v = realloc(b->refs, cap * sizeof *v);
        if (v == NULL)
            return ST_ERR_NOMEM;
        b->refs = v;
        b->refs_cap = cap;
    }
    /* strata_header_t and st_record_header_t have the same members */
    st_record_header_t hb[16];
    st_record_header_t *hv = hb;
    if (n_headers > 16 && (hv = malloc(n_headers * sizeof *hv)) == NULL)
        return ST_ERR_NOMEM;
    for (size_t i = 0; i < n_headers; i++) {
        hv[i].key = headers[i].key;
        hv[i].key_len = headers[i].key_len;
        hv[i].value = headers[i].value;
        hv[i].value_len = headers[i].value_len;
    }
    st_err_t e = st_batch_builder_add(&b->bld, timestamp, key, key_len, value, value_len, hv, n_headers);
    if (hv != hb)
        free(hv);
    if (e != ST_OK)
        return e;
    b->refs[b->n_refs].cb = cb;
    b->refs[b->n_refs].opaque = opaque;
    b->refs[b->n_refs].timestamp = timestamp;
    b->n_refs++;
    b->bytes += sz;
    a->bytes += sz;
    a->records++;
    if (st_batch_builder_size(&b->bld) >= a->batch_size) {
        sc_accum_close(a, t, p);
        *closed = true;
    }
    return ST_OK;
}

int64_t sc_accum_linger(sc_accum_t *a, int64_t now_ms, bool force)
{
    int64_t next = INT64_MAX;
    for (sc_atopic_t *t = a->topics; t != NULL; t = t->next) {
        for (int32_t i = 0; i < t->n_parts; i++) {
            sc_batch_t *b = t->parts[i].open;
            if (b == NULL)
                continue;
            int64_t due = b->created_ms + a->linger_ms;
            if (force || now_ms >= due) {
                sc_accum_close(a, t, i);
                sc_sticky_batch_closed(&t->sticky, i, t->n_parts);
            } else if (due < next) {
                next = due;
            }
        }
    }
    return next;
}

sc_batch_t *sc_accum_pop(sc_accum_t *a, sc_apart_t *ap)
{
    sc_batch_t *b = ap->head;
    if (b == NULL)
        return NULL;
    ap->head = b->next;
    if (ap->head == NULL)
        ap->tail = NULL;
    b->next = NULL;
    a->n_ready--;
    return b;
}

void sc_accum_requeue(sc_accum_t *a, sc_apart_t *ap, sc_batch_t *b)
{
    /* only earlier retries can sit before b: the walk is short */
    sc_batch_t **pp = &ap->head;
    while (*pp != NULL && (*pp)->order < b->order)
        pp = &(*pp)->next;
    b->next = *pp;
    *pp = b;
    if (b->next == NULL)
        ap->tail = b;
    a->n_ready++;
}

int32_t sc_seq_add(int32_t seq, int32_t count)
{
    if (seq > INT32_MAX - count)
        return count - (INT32_MAX - seq) - 1;
    return seq + count;
}

void sc_accum_assign_seq(sc_apart_t *ap, sc_batch_t *b, int64_t pid, int16_t epoch)
{
    if (b->seq_set)
        return;
    if (ap->seq_pid != pid || ap->seq_epoch != epoch) {
        ap->seq_pid = pid;
        ap->seq_epoch = epoch;
        ap->next_seq = 0;
    }
    b->bld.producer_id = pid;
    b->bld.producer_epoch = epoch;
    b->bld.base_sequence = ap->next_seq;
    b->finished = false;
    b->seq_set = true;
    ap->next_seq = sc_seq_add(ap->next_seq, (int32_t)b->n_refs);
}

size_t sc_accum_reset_seq(sc_apart_t *ap, int64_t pid, int16_t epoch)
{
    size_t n = 0;
    for (sc_batch_t *b = ap->head; b != NULL; b = b->next) {
        if (!b->seq_set || (b->bld.producer_id == pid && b->bld.producer_epoch == epoch))
            continue;
        b->seq_set = false;
        b->finished = false;
        b->bld.producer_id = -1;
        b->bld.producer_epoch = -1;
        b->bld.base_sequence = -1;
        n++;
    }
    return n;
}

bool sc_accum_bump_ready(const sc_accum_t *a, int64_t pid, int16_t epoch)
{
    for (const sc_atopic_t *t = a->topics; t != NULL; t = t->next) {
        for (int32_t i = 0; i < t->n_parts; i++) {
            const sc_apart_t *ap = &t->parts[i];
            if (ap->reseq)
                continue;
            if (ap->inflight > 0)
                return false;
            for (const sc_batch_t *b = ap->head; b != NULL; b = b->next)
                if (b->seq_set && b->bld.producer_id == pid && b->bld.producer_epoch == epoch)
                    return false;
        }
    }
    return true;
}

bool sc_accum_sendable_in_bump(const sc_apart_t *ap, const sc_batch_t *b)
{
    return !ap->reseq && b->seq_set;
}

st_err_t sc_batch_finish(sc_batch_t *b)
{
    if (b->finished)
        return ST_OK;
    b->frame.len = 0;
    st_err_t e = st_batch_builder_finish(&b->bld, &b->frame);
    if (e == ST_OK)
        b->finished = true;
    return e;
}
