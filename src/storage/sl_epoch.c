/*
 * sl_epoch: leader-epoch cache and its checkpoint file.
 */
#include "storage/sl_epoch.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/st_batch.h"
#include "storage/sl_file.h"

#define SL_EPOCH_MAX_FILE (1 << 20)

static st_err_t sl_epoch_push(sl_epoch_cache_t *c, int32_t epoch, int64_t start)
{
    if (c->n == c->cap) {
        size_t ncap = c->cap ? c->cap * 2 : 8;
        sl_epoch_entry_t *ne = realloc(c->ents, ncap * sizeof *ne);
        if (!ne)
            return ST_ERR_NOMEM;
        c->ents = ne;
        c->cap = ncap;
    }
    c->ents[c->n].epoch = epoch;
    c->ents[c->n].start = start;
    c->n++;
    return ST_OK;
}

st_err_t sl_epoch_load(sl_epoch_cache_t *c, const char *path)
{
    memset(c, 0, sizeof *c);
    c->path = strdup(path);
    if (!c->path)
        return ST_ERR_NOMEM;
    st_buf_t b;
    st_buf_init(&b);
    st_err_t err = sl_file_read_all(path, SL_EPOCH_MAX_FILE, &b);
    if (err == ST_ERR_NOT_FOUND) {
        err = ST_OK;
        goto done;
    }
    if (err != ST_OK)
        goto done;
    if ((err = st_buf_append(&b, "", 1)) != ST_OK)
        goto done;
    char *p = (char *)b.data, *end;
    long version = strtol(p, &end, 10);
    if (end == p || version != 0) {
        err = ST_ERR_CORRUPT;
        goto done;
    }
    p = end;
    long n = strtol(p, &end, 10);
    if (end == p || n < 0 || n > 1000000) {
        err = ST_ERR_CORRUPT;
        goto done;
    }
    p = end;
    for (long i = 0; i < n; i++) {
        long long e = strtoll(p, &end, 10);
        if (end == p || e < 0 || e > INT32_MAX) {
            err = ST_ERR_CORRUPT;
            goto done;
        }
        p = end;
        long long s = strtoll(p, &end, 10);
        if (end == p || s < 0) {
            err = ST_ERR_CORRUPT;
            goto done;
        }
        p = end;
        if (c->n > 0 && (e <= c->ents[c->n - 1].epoch || s < c->ents[c->n - 1].start)) {
            err = ST_ERR_CORRUPT;
            goto done;
        }
        if ((err = sl_epoch_push(c, (int32_t)e, (int64_t)s)) != ST_OK)
            goto done;
    }
done:
    if (err != ST_OK)
        c->n = 0;
    st_buf_free(&b);
    return err;
}

void sl_epoch_free(sl_epoch_cache_t *c)
{
    free(c->ents);
    free(c->path);
    memset(c, 0, sizeof *c);
}

st_err_t sl_epoch_save(sl_epoch_cache_t *c)
{
    st_buf_t b;
    st_buf_init(&b);
    char line[64];
    int len = snprintf(line, sizeof line, "0\n%zu\n", c->n);
    st_err_t err = st_buf_append(&b, line, (size_t)len);
    for (size_t i = 0; err == ST_OK && i < c->n; i++) {
        len = snprintf(line, sizeof line, "%" PRId32 " %" PRId64 "\n", c->ents[i].epoch, c->ents[i].start);
        err = st_buf_append(&b, line, (size_t)len);
    }
    if (err == ST_OK)
        err = sl_file_write_atomic(c->path, b.data, b.len);
    if (err == ST_OK)
        c->dirty = false;
    st_buf_free(&b);
    return err;
}

st_err_t sl_epoch_checkpoint(sl_epoch_cache_t *c)
{
    return c->dirty ? sl_epoch_save(c) : ST_OK;
}

st_err_t sl_epoch_assign(sl_epoch_cache_t *c, int32_t epoch, int64_t start)
{
    if (epoch < 0 || start < 0)
        return ST_ERR_INVALID_ARG;
    if (c->n > 0 && c->ents[c->n - 1].epoch == epoch && c->ents[c->n - 1].start <= start)
        return ST_OK;
    while (c->n > 0 && (c->ents[c->n - 1].epoch >= epoch || c->ents[c->n - 1].start >= start))
        c->n--;
    st_err_t err = sl_epoch_push(c, epoch, start);
    if (err == ST_OK)
        c->dirty = true;
    return err;
}

int32_t sl_epoch_at(const sl_epoch_cache_t *c, int64_t offset)
{
    size_t i = c->n;
    while (i > 0 && c->ents[i - 1].start > offset)
        i--;
    return i ? c->ents[i - 1].epoch : -1;
}

int32_t sl_epoch_latest(const sl_epoch_cache_t *c)
{
    return c->n ? c->ents[c->n - 1].epoch : -1;
}

void sl_epoch_end_offset(const sl_epoch_cache_t *c, int32_t epoch, int64_t log_end, int32_t *epoch_out,
                         int64_t *end_offset)
{
    *epoch_out = -1;
    *end_offset = -1;
    size_t i = c->n;
    while (i > 0 && c->ents[i - 1].epoch > epoch)
        i--;
    if (i == 0)
        return;
    *epoch_out = c->ents[i - 1].epoch;
    *end_offset = i == c->n ? log_end : c->ents[i].start;
}

st_err_t sl_epoch_truncate_end(sl_epoch_cache_t *c, int64_t offset)
{
    size_t n = c->n;
    while (c->n > 0 && c->ents[c->n - 1].start >= offset)
        c->n--;
    return n == c->n ? ST_OK : sl_epoch_save(c);
}

st_err_t sl_epoch_truncate_start(sl_epoch_cache_t *c, int64_t offset)
{
    size_t below = 0;
    while (below < c->n && c->ents[below].start < offset)
        below++;
    if (below == 0)
        return ST_OK;
    /* entries [0, below) start before offset: the last of them is still
     * the epoch of the new first offset, unless an entry starts there */
    size_t keep_from = below < c->n && c->ents[below].start == offset ? below : below - 1;
    memmove(c->ents, c->ents + keep_from, (c->n - keep_from) * sizeof *c->ents);
    c->n -= keep_from;
    c->ents[0].start = offset;
    return sl_epoch_save(c);
}

st_err_t sl_epoch_clear(sl_epoch_cache_t *c)
{
    c->n = 0;
    return sl_epoch_save(c);
}
