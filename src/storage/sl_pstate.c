/*
 * sl_pstate: per-partition idempotent-producer state, its checks, its
 * snapshots and its rebuild from the log. See sl_pstate.h for the rules
 * and the file format. The producers are a sorted array searched by
 * bisection: a partition sees few producers, and the snapshot comes out
 * sorted for free. Core loop only.
 */
#include "storage/sl_pstate.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/st_crc.h"
#include "common/st_log.h"
#include "storage/sl_file.h"

#define BR_PS_TAG "pstate"
#define BR_PS_MAGIC "STPS"
#define BR_PS_VERSION 2
#define BR_PS_HDR 16 /* magic, version, pad, crc, count */
#define BR_PS_ENTRY_HDR 12
#define BR_PS_BATCH 20
#define BR_PS_POINT 12
#define BR_PS_SCAN_BYTES (1u << 20)
#define BR_PS_MAX_SNAPSHOTS 64             /* listed per directory */
#define BR_PS_RETRY_SCAN_BYTES (64u << 20) /* read at most per retried batch looked for */

struct sl_pstate {
    sl_pstate_entry_t *ps_e; /* sorted by producer_id */
    size_t ps_n, ps_cap;
    int64_t ps_snap; /* newest snapshot written or loaded, -1 */
};

sl_pstate_t *sl_pstate_new(void)
{
    sl_pstate_t *ps = calloc(1, sizeof *ps);
    if (ps)
        ps->ps_snap = -1;
    return ps;
}

void sl_pstate_free(sl_pstate_t *ps)
{
    if (!ps)
        return;
    free(ps->ps_e);
    free(ps);
}

size_t sl_pstate_count(const sl_pstate_t *ps)
{
    return ps->ps_n;
}

void sl_pstate_clear(sl_pstate_t *ps)
{
    ps->ps_n = 0;
}

size_t sl_pstate_truncate_head(sl_pstate_t *ps, int64_t log_start)
{
    size_t kept = 0;
    for (size_t i = 0; i < ps->ps_n; i++) {
        const sl_pstate_entry_t *e = &ps->ps_e[i];
        const sl_pstate_batch_t *last = &e->batches[e->n_batches - 1];
        if (last->base_offset + last->last_offset_delta < log_start)
            continue;
        if (kept != i)
            ps->ps_e[kept] = *e;
        kept++;
    }
    size_t gone = ps->ps_n - kept;
    ps->ps_n = kept; /* order kept: still sorted by producer id */
    return gone;
}

int64_t sl_pstate_snapshot_offset(const sl_pstate_t *ps)
{
    return ps->ps_snap;
}

/* Index of producer_id, or where it would go (*found false). */
static size_t br_ps_find(const sl_pstate_t *ps, int64_t producer_id, bool *found)
{
    size_t lo = 0, hi = ps->ps_n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ps->ps_e[mid].producer_id < producer_id)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = lo < ps->ps_n && ps->ps_e[lo].producer_id == producer_id;
    return lo;
}

const sl_pstate_entry_t *sl_pstate_get(const sl_pstate_t *ps, int64_t producer_id)
{
    bool found;
    size_t i = br_ps_find(ps, producer_id, &found);
    return found ? &ps->ps_e[i] : NULL;
}

int32_t sl_pstate_seq_add(int32_t seq, int32_t count)
{
    if (seq > INT32_MAX - count)
        return count - (INT32_MAX - seq) - 1;
    return seq + count;
}

/* Does next directly follow last (with the wrap at INT32_MAX)? */
static bool br_ps_in_sequence(int32_t last, int32_t next)
{
    return next == sl_pstate_seq_add(last, 1);
}

st_err_t sl_pstate_check(const sl_pstate_t *ps, const st_batch_hdr_t *h, const st_batch_hdr_t *prev,
                         bool unknown_ok, int64_t *dup_offset)
{
    if (h->producer_epoch < 0 || h->base_sequence < 0 || h->last_offset_delta < 0)
        return ST_ERR_INVALID_REQUEST;
    int32_t last_seq = sl_pstate_seq_add(h->base_sequence, h->last_offset_delta);
    const sl_pstate_entry_t *e = sl_pstate_get(ps, h->producer_id);
    bool known = e != NULL || prev != NULL;
    int16_t cur_epoch = 0;
    int32_t cur_last = -1;
    if (prev) {
        cur_epoch = prev->producer_epoch;
        cur_last = sl_pstate_seq_add(prev->base_sequence, prev->last_offset_delta);
    } else if (e) {
        cur_epoch = e->epoch;
        cur_last = e->batches[e->n_batches - 1].last_seq;
        if (h->producer_epoch == e->epoch)
            for (size_t i = 0; i < e->n_batches; i++)
                if (e->batches[i].base_seq == h->base_sequence && e->batches[i].last_seq == last_seq) {
                    *dup_offset = e->batches[i].base_offset;
                    return ST_ERR_DUPLICATE_SEQUENCE_NUMBER;
                }
    }
    if (!known)
        return h->base_sequence == 0 || unknown_ok ? ST_OK : ST_ERR_UNKNOWN_PRODUCER_ID;
    if (h->producer_epoch < cur_epoch)
        return ST_ERR_INVALID_PRODUCER_EPOCH;
    if (h->producer_epoch > cur_epoch)
        return h->base_sequence == 0 ? ST_OK : ST_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER;
    return br_ps_in_sequence(cur_last, h->base_sequence) ? ST_OK : ST_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER;
}

/* The entry of producer_id, created empty when missing. */
static sl_pstate_entry_t *br_ps_entry(sl_pstate_t *ps, int64_t producer_id)
{
    bool found;
    size_t i = br_ps_find(ps, producer_id, &found);
    if (found)
        return &ps->ps_e[i];
    if (ps->ps_n == ps->ps_cap) {
        size_t cap = ps->ps_cap ? ps->ps_cap * 2 : 8;
        sl_pstate_entry_t *ne = realloc(ps->ps_e, cap * sizeof *ne);
        if (!ne)
            return NULL;
        ps->ps_e = ne;
        ps->ps_cap = cap;
    }
    memmove(&ps->ps_e[i + 1], &ps->ps_e[i], (ps->ps_n - i) * sizeof *ps->ps_e);
    ps->ps_n++;
    sl_pstate_entry_t *e = &ps->ps_e[i];
    memset(e, 0, sizeof *e);
    e->producer_id = producer_id;
    e->epoch = -1;
    return e;
}

/* Add the retry index point of a batch of e's epoch: a sequence below
 * the newest point (a wrap at INT32_MAX) restarts the index; when full,
 * every other point of the older half goes (the first one stays). */
static void br_ps_add_point(sl_pstate_entry_t *e, int32_t base_seq, int64_t base_offset)
{
    if (e->n_points > 0 && e->points[e->n_points - 1].base_seq >= base_seq)
        e->n_points = 0;
    if (e->n_points == SL_PSTATE_POINTS) {
        size_t half = SL_PSTATE_POINTS / 2, k = 1;
        for (size_t i = 2; i < half; i += 2)
            e->points[k++] = e->points[i];
        for (size_t i = half; i < SL_PSTATE_POINTS; i++)
            e->points[k++] = e->points[i];
        e->n_points = (uint8_t)k;
    }
    e->points[e->n_points].base_seq = base_seq;
    e->points[e->n_points].base_offset = base_offset;
    e->n_points++;
}

st_err_t sl_pstate_update(sl_pstate_t *ps, const st_batch_hdr_t *h)
{
    if (h->producer_id < 0)
        return ST_OK;
    sl_pstate_entry_t *e = br_ps_entry(ps, h->producer_id);
    if (!e)
        return ST_ERR_NOMEM;
    if (h->producer_epoch != e->epoch) {
        e->epoch = h->producer_epoch;
        e->n_batches = 0;
        e->n_points = 0;
    }
    br_ps_add_point(e, h->base_sequence, h->base_offset);
    if (e->n_batches == SL_PSTATE_BATCHES) {
        memmove(&e->batches[0], &e->batches[1], (SL_PSTATE_BATCHES - 1) * sizeof e->batches[0]);
        e->n_batches--;
    }
    sl_pstate_batch_t *b = &e->batches[e->n_batches++];
    b->base_seq = h->base_sequence;
    b->last_seq = sl_pstate_seq_add(h->base_sequence, h->last_offset_delta);
    b->base_offset = h->base_offset;
    b->last_offset_delta = h->last_offset_delta;
    return ST_OK;
}

st_err_t sl_pstate_update_frames(sl_pstate_t *ps, const uint8_t *frames, size_t len)
{
    size_t pos = 0;
    while (pos < len) {
        st_batch_hdr_t h;
        if (st_batch_hdr_decode(frames + pos, len - pos, &h) != ST_OK || st_batch_frame_size(&h) > len - pos)
            return ST_ERR_CORRUPT;
        st_err_t err = sl_pstate_update(ps, &h);
        if (err != ST_OK)
            return err;
        pos += st_batch_frame_size(&h);
    }
    return ST_OK;
}

/* ------------------------------------------------------------ encoding */

static void br_ps_put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void br_ps_put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void br_ps_put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint16_t br_ps_get16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}

static uint32_t br_ps_get32(const uint8_t *p)
{
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static uint64_t br_ps_get64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

st_err_t sl_pstate_encode(const sl_pstate_t *ps, st_buf_t *out)
{
    size_t size = BR_PS_HDR;
    for (size_t i = 0; i < ps->ps_n; i++)
        size += BR_PS_ENTRY_HDR + (size_t)ps->ps_e[i].n_batches * BR_PS_BATCH +
                (size_t)ps->ps_e[i].n_points * BR_PS_POINT;
    if (st_buf_reserve(out, size) != ST_OK)
        return ST_ERR_NOMEM;
    uint8_t *start = out->data + out->len, *p = start;
    memcpy(p, BR_PS_MAGIC, 4);
    br_ps_put16(p + 4, BR_PS_VERSION);
    br_ps_put16(p + 6, 0);
    br_ps_put32(p + 12, (uint32_t)ps->ps_n);
    p += BR_PS_HDR;
    for (size_t i = 0; i < ps->ps_n; i++) {
        const sl_pstate_entry_t *e = &ps->ps_e[i];
        br_ps_put64(p, (uint64_t)e->producer_id);
        br_ps_put16(p + 8, (uint16_t)e->epoch);
        p[10] = e->n_batches;
        p[11] = e->n_points;
        p += BR_PS_ENTRY_HDR;
        for (size_t j = 0; j < e->n_batches; j++) {
            const sl_pstate_batch_t *b = &e->batches[j];
            br_ps_put32(p, (uint32_t)b->base_seq);
            br_ps_put32(p + 4, (uint32_t)b->last_seq);
            br_ps_put64(p + 8, (uint64_t)b->base_offset);
            br_ps_put32(p + 16, (uint32_t)b->last_offset_delta);
            p += BR_PS_BATCH;
        }
        for (size_t j = 0; j < e->n_points; j++) {
            br_ps_put32(p, (uint32_t)e->points[j].base_seq);
            br_ps_put64(p + 4, (uint64_t)e->points[j].base_offset);
            p += BR_PS_POINT;
        }
    }
    br_ps_put32(start + 8, st_crc32c(start + 12, size - 12));
    out->len += size;
    return ST_OK;
}

st_err_t sl_pstate_decode(sl_pstate_t *ps, const uint8_t *p, size_t len)
{
    sl_pstate_clear(ps);
    if (len < BR_PS_HDR || memcmp(p, BR_PS_MAGIC, 4) != 0)
        return ST_ERR_CORRUPT;
    uint16_t version = br_ps_get16(p + 4);
    if ((version != 1 && version != BR_PS_VERSION) || br_ps_get16(p + 6) != 0 ||
        br_ps_get32(p + 8) != st_crc32c(p + 12, len - 12))
        return ST_ERR_CORRUPT;
    uint32_t count = br_ps_get32(p + 12);
    if (count > (len - BR_PS_HDR) / BR_PS_ENTRY_HDR)
        return ST_ERR_CORRUPT;
    size_t pos = BR_PS_HDR;
    int64_t prev_id = -1;
    for (uint32_t i = 0; i < count; i++) {
        if (len - pos < BR_PS_ENTRY_HDR)
            goto corrupt;
        int64_t id = (int64_t)br_ps_get64(p + pos);
        int16_t epoch = (int16_t)br_ps_get16(p + pos + 8);
        uint8_t n = p[pos + 10], m = p[pos + 11];
        pos += BR_PS_ENTRY_HDR;
        if (id <= prev_id || epoch < 0 || n == 0 || n > SL_PSTATE_BATCHES || (len - pos) / BR_PS_BATCH < n ||
            m > SL_PSTATE_POINTS || (version == 1 && m != 0))
            goto corrupt;
        prev_id = id;
        sl_pstate_entry_t *e = br_ps_entry(ps, id); /* appended: ids ascend */
        if (!e) {
            sl_pstate_clear(ps);
            return ST_ERR_NOMEM;
        }
        e->epoch = epoch;
        e->n_batches = n;
        for (size_t j = 0; j < n; j++, pos += BR_PS_BATCH) {
            sl_pstate_batch_t *b = &e->batches[j];
            b->base_seq = (int32_t)br_ps_get32(p + pos);
            b->last_seq = (int32_t)br_ps_get32(p + pos + 4);
            b->base_offset = (int64_t)br_ps_get64(p + pos + 8);
            b->last_offset_delta = (int32_t)br_ps_get32(p + pos + 16);
            if (b->base_seq < 0 || b->last_seq < 0 || b->base_offset < 0 || b->last_offset_delta < 0)
                goto corrupt;
        }
        if ((len - pos) / BR_PS_POINT < m)
            goto corrupt;
        e->n_points = 0;
        for (size_t j = 0; j < m; j++, pos += BR_PS_POINT) {
            sl_pstate_point_t *pt = &e->points[j];
            pt->base_seq = (int32_t)br_ps_get32(p + pos);
            pt->base_offset = (int64_t)br_ps_get64(p + pos + 4);
            if (pt->base_seq < 0 || pt->base_offset < 0 ||
                (j > 0 && (pt->base_seq <= pt[-1].base_seq || pt->base_offset <= pt[-1].base_offset)))
                goto corrupt;
            e->n_points++;
        }
        if (m == 0) /* version 1: the last batches are the points known */
            for (size_t j = 0; j < n; j++)
                br_ps_add_point(e, e->batches[j].base_seq, e->batches[j].base_offset);
    }
    if (pos != len)
        goto corrupt;
    return ST_OK;
corrupt:
    sl_pstate_clear(ps);
    return ST_ERR_CORRUPT;
}

/* ------------------------------------------------------------ files */

static void br_ps_path(const sl_log_t *log, int64_t offset, char *out, size_t n)
{
    snprintf(out, n, "%s/%020" PRId64 ".snapshot", sl_log_dir(log), offset);
}

/* Offset of a "<20 digits>.snapshot" name, or -1. */
static int64_t br_ps_parse_name(const char *nm)
{
    if (strlen(nm) != 29 || strcmp(nm + 20, ".snapshot") != 0)
        return -1;
    int64_t v = 0;
    for (int i = 0; i < 20; i++) {
        if (nm[i] < '0' || nm[i] > '9' || v > (INT64_MAX - 9) / 10)
            return -1;
        v = v * 10 + (nm[i] - '0');
    }
    return v;
}

static int br_ps_cmp(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* Snapshot offsets in the log's directory, ascending (at most
 * BR_PS_MAX_SNAPSHOTS; more means leftovers, the newest are kept). */
static size_t br_ps_list(const sl_log_t *log, int64_t *offs)
{
    DIR *d = opendir(sl_log_dir(log));
    if (!d)
        return 0;
    size_t n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        int64_t o = br_ps_parse_name(de->d_name);
        if (o < 0)
            continue;
        if (n < BR_PS_MAX_SNAPSHOTS) {
            offs[n++] = o;
        } else {
            qsort(offs, n, sizeof *offs, br_ps_cmp);
            if (o > offs[0])
                offs[0] = o;
        }
    }
    closedir(d);
    qsort(offs, n, sizeof *offs, br_ps_cmp);
    return n;
}

static void br_ps_unlink(const sl_log_t *log, int64_t offset)
{
    char path[PATH_MAX];
    br_ps_path(log, offset, path, sizeof path);
    if (unlink(path) != 0 && errno != ENOENT)
        st_log(ST_LOG_WARN, BR_PS_TAG, "removing %s: %s", path, strerror(errno));
}

/* Delete snapshots above `above` (-1: all) and, when keep > 0, all but
 * the newest `keep` of the rest. */
static void br_ps_prune(const sl_log_t *log, int64_t above, size_t keep)
{
    int64_t offs[BR_PS_MAX_SNAPSHOTS];
    size_t n = br_ps_list(log, offs);
    bool changed = false;
    size_t left = n;
    for (size_t i = n; i-- > 0;) {
        if (above < 0 || offs[i] > above) {
            br_ps_unlink(log, offs[i]);
            changed = true;
            left--;
        }
    }
    for (size_t i = 0; i < n && left > keep && keep > 0; i++) {
        if (above >= 0 && offs[i] > above)
            continue;
        br_ps_unlink(log, offs[i]);
        changed = true;
        left--;
    }
    if (changed)
        (void)sl_file_fsync_dir(sl_log_dir(log));
}

/* Apply every batch of the log from `from` to its end. */
static st_err_t br_ps_scan(sl_pstate_t *ps, sl_log_t *log, int64_t from)
{
    int64_t start = sl_log_start_offset(log), end = sl_log_end_offset(log);
    int64_t off = from > start ? from : start;
    st_buf_t buf;
    st_buf_init(&buf);
    st_err_t err = ST_OK;
    while (off < end) {
        buf.len = 0;
        err = sl_log_read(log, off, BR_PS_SCAN_BYTES, -1, &buf);
        if (err != ST_OK || buf.len == 0)
            break;
        size_t pos = 0;
        int64_t next = off;
        while (pos < buf.len) {
            st_batch_hdr_t h;
            if (st_batch_hdr_decode(buf.data + pos, buf.len - pos, &h) != ST_OK ||
                st_batch_frame_size(&h) > buf.len - pos) {
                err = ST_ERR_CORRUPT;
                goto out;
            }
            /* the first frame may begin before `from` (log start inside a
             * batch); the snapshot holds frames below `from` already */
            if (h.base_offset >= from && (err = sl_pstate_update(ps, &h)) != ST_OK)
                goto out;
            next = h.base_offset + h.last_offset_delta + 1;
            pos += st_batch_frame_size(&h);
        }
        if (next <= off)
            break;
        off = next;
    }
out:
    st_buf_free(&buf);
    return err;
}

bool sl_pstate_find_retry(const sl_pstate_t *ps, sl_log_t *log, const st_batch_hdr_t *h, int64_t *dup_offset)
{
    const sl_pstate_entry_t *e = sl_pstate_get(ps, h->producer_id);
    if (!e || e->n_batches == 0 || h->producer_epoch != e->epoch || h->base_sequence < 0 ||
        h->last_offset_delta < 0 || h->base_sequence > INT32_MAX - h->last_offset_delta)
        return false;
    const sl_pstate_batch_t *old = &e->batches[0];
    int32_t last_seq = h->base_sequence + h->last_offset_delta;
    /* only a batch wholly before the remembered ones (no wrap in between) */
    if (last_seq >= old->base_seq)
        return false;
    /* the batch lies between the points that bracket its sequence: the
     * producer's batches of one epoch are in the log in sequence order */
    int64_t start = sl_log_start_offset(log), off = start, end = old->base_offset;
    bool bracketed = false;
    for (size_t i = 0; i < e->n_points; i++) {
        const sl_pstate_point_t *pt = &e->points[i];
        if (pt->base_seq <= h->base_sequence) {
            off = pt->base_offset;
            bracketed = true;
        } else {
            if (pt->base_offset < end)
                end = pt->base_offset;
            break;
        }
    }
    if (off < start)
        off = start;
    st_buf_t buf;
    st_buf_init(&buf);
    bool found = false, passed = false;
    size_t scanned = 0;
    while (off < end && !found && !passed) {
        if (scanned >= BR_PS_RETRY_SCAN_BYTES)
            break;
        buf.len = 0;
        if (sl_log_read(log, off, BR_PS_SCAN_BYTES, end, &buf) != ST_OK || buf.len == 0)
            break;
        scanned += buf.len;
        size_t pos = 0;
        int64_t next = off;
        while (pos < buf.len) {
            st_batch_hdr_t b;
            if (st_batch_hdr_decode(buf.data + pos, buf.len - pos, &b) != ST_OK ||
                st_batch_frame_size(&b) > buf.len - pos) {
                passed = true; /* unreadable: do not claim it */
                break;
            }
            if (b.producer_id == h->producer_id && b.producer_epoch == h->producer_epoch &&
                b.base_sequence >= h->base_sequence) {
                if (b.base_sequence == h->base_sequence && b.last_offset_delta == h->last_offset_delta) {
                    *dup_offset = b.base_offset;
                    found = true;
                } else {
                    passed = true; /* where it would be, other boundaries */
                }
                break;
            }
            next = b.base_offset + b.last_offset_delta + 1;
            pos += st_batch_frame_size(&b);
        }
        if (next <= off)
            break;
        off = next;
    }
    st_buf_free(&buf);
    if (!found && !passed && bracketed && scanned >= BR_PS_RETRY_SCAN_BYTES && off < end) {
        /* accepted in order after the bracketing point: stored, offset
         * not reached within the bound */
        *dup_offset = -1;
        return true;
    }
    return found;
}

st_err_t sl_pstate_load(sl_pstate_t *ps, sl_log_t *log)
{
    int64_t end = sl_log_end_offset(log);
    sl_pstate_clear(ps);
    ps->ps_snap = -1;
    br_ps_prune(log, end, 0);
    int64_t offs[BR_PS_MAX_SNAPSHOTS];
    size_t n = br_ps_list(log, offs);
    int64_t from = -1;
    st_buf_t buf;
    st_buf_init(&buf);
    for (size_t i = n; i-- > 0 && from < 0;) {
        char path[PATH_MAX];
        br_ps_path(log, offs[i], path, sizeof path);
        buf.len = 0;
        st_err_t err = sl_file_read_all(path, 256u << 20, &buf);
        if (err == ST_OK)
            err = sl_pstate_decode(ps, buf.data, buf.len);
        if (err == ST_OK) {
            from = offs[i];
            ps->ps_snap = offs[i];
        } else {
            st_log(ST_LOG_WARN, BR_PS_TAG, "ignoring snapshot %s: %s", path, st_err_name(err));
        }
    }
    st_buf_free(&buf);
    if (from < 0)
        sl_pstate_clear(ps);
    st_err_t err = br_ps_scan(ps, log, from < 0 ? 0 : from);
    (void)sl_pstate_truncate_head(ps, sl_log_start_offset(log)); /* a snapshot from before retention */
    if (err != ST_OK)
        st_log(ST_LOG_ERROR, BR_PS_TAG, "%s: rebuilding producer state: %s", sl_log_dir(log),
               st_err_name(err));
    return err;
}

st_err_t sl_pstate_truncated(sl_pstate_t *ps, sl_log_t *log)
{
    return sl_pstate_load(ps, log); /* load prunes snapshots above the end */
}

void sl_pstate_reset(sl_pstate_t *ps, sl_log_t *log)
{
    br_ps_prune(log, -1, 0);
    sl_pstate_clear(ps);
    ps->ps_snap = -1;
}

st_err_t sl_pstate_snapshot(sl_pstate_t *ps, sl_log_t *log)
{
    int64_t end = sl_log_end_offset(log);
    st_buf_t buf;
    st_buf_init(&buf);
    st_err_t err = sl_pstate_encode(ps, &buf);
    if (err != ST_OK)
        goto out;
    char path[PATH_MAX];
    br_ps_path(log, end, path, sizeof path);
    err = sl_file_write_atomic(path, buf.data, buf.len);
    if (err != ST_OK) {
        st_log(ST_LOG_ERROR, BR_PS_TAG, "writing %s: %s", path, st_err_name(err));
        goto out;
    }
    ps->ps_snap = end;
    br_ps_prune(log, end, SL_PSTATE_KEEP);
out:
    st_buf_free(&buf);
    return err;
}
