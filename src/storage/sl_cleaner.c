/*
 * sl_cleaner: log compaction (see sl_cleaner.h for the contract, and
 * docs/storage.md "Log compaction" for the on-disk protocol).
 *
 * Design notes:
 *  1. The cleanable part of a log is the longest prefix of its closed
 *     segments that lies below max_offset and is older than
 *     min.compaction.lag.ms. The checkpoint C splits it into a clean head
 *     (segments ending at or before C) and a dirty tail.
 *  2. A run maps key -> latest offset over the dirty tail, segment by
 *     segment (stopping after the segment that passes map_bytes), then
 *     rewrites every segment from the first one to the last mapped one: a
 *     record survives when it has a key, no later offset of that key is in
 *     the map, and it is not an expired tombstone. Segments come out 1:1
 *     with the same base offset, so the swap replaces files by name.
 *  3. Every record that a cleaned segment drops is superseded by a record
 *     at a higher offset that all versions of the later segments keep.
 *     Segments are swapped oldest first; after a crash part way the log is
 *     a cleaned prefix followed by uncleaned segments, which is a correct
 *     log (it only holds extra, older records), and since the checkpoint
 *     moves only after the last swap, the next run cleans it all again.
 *     A dropped expired tombstone cannot resurrect an older value: that
 *     value lies in an earlier segment, swapped before.
 *  4. sl_cleaner_run only reads descriptors opened by prepare and writes
 *     .cleaned files: a concurrent retention unlinking a segment does not
 *     disturb it; commit refuses a plan whose generation is stale.
 */
#include "storage/sl_cleaner.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/st_batch.h"
#include "common/st_compress.h"
#include "common/st_log.h"
#include "storage/sl_file.h"
#include "storage/sl_index.h"

#define SL_CL_TAG "cleaner"
#define SL_CL_CHUNK ((size_t)1 << 20)
#define SL_CL_NO_TS INT64_MIN

void (*sl_cleaner_test_hook)(const char *step);

static void sl_cl_hook(const char *step)
{
    if (sl_cleaner_test_hook)
        sl_cleaner_test_hook(step);
}

/* Per planned segment. */
typedef struct sl_cl_seg {
    sl_seg_info_t ss_info;
    int ss_fd;       /* read-only, opened by prepare */
    bool ss_written; /* .cleaned files exist */
    bool ss_changed; /* the rewrite differs from the original */
    bool ss_swapped;
} sl_cl_seg_t;

struct sl_cleaner_plan {
    char *cp_dir;
    uint64_t cp_gen;
    sl_log_config_t cp_cfg;
    sl_cleaner_opts_t cp_opts;
    sl_cl_seg_t *cp_segs; /* the cleanable prefix [0, cp_nseg) */
    int cp_nseg;
    int cp_first_dirty; /* index of the first dirty segment */
    int cp_nclean;      /* set by run: segments [0, cp_nclean) rewritten */
    bool cp_ran;
    sl_cleaner_stats_t cp_stats;
};

/* ==== key map ======================================================== */

/* Open addressing, linear probing; keys copied into an arena. */
typedef struct sl_cl_ent {
    uint64_t ke_hash;
    int64_t ke_off; /* -1: empty slot */
    size_t ke_key;  /* position of the key in the arena */
    size_t ke_len;
} sl_cl_ent_t;

typedef struct sl_cl_map {
    sl_cl_ent_t *km_tab;
    size_t km_cap, km_n;
    st_buf_t km_arena;
} sl_cl_map_t;

static uint64_t sl_cl_hash(const uint8_t *p, size_t n)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 1099511628211ULL;
    }
    return h ^ (h >> 29);
}

static size_t sl_cl_map_bytes(const sl_cl_map_t *m)
{
    return m->km_cap * sizeof(sl_cl_ent_t) + m->km_arena.cap;
}

static st_err_t sl_cl_map_resize(sl_cl_map_t *m, size_t cap)
{
    sl_cl_ent_t *t = malloc(cap * sizeof *t);
    if (!t)
        return ST_ERR_NOMEM;
    for (size_t i = 0; i < cap; i++)
        t[i].ke_off = -1;
    for (size_t i = 0; i < m->km_cap; i++) {
        if (m->km_tab[i].ke_off < 0)
            continue;
        size_t j = m->km_tab[i].ke_hash & (cap - 1);
        while (t[j].ke_off >= 0)
            j = (j + 1) & (cap - 1);
        t[j] = m->km_tab[i];
    }
    free(m->km_tab);
    m->km_tab = t;
    m->km_cap = cap;
    return ST_OK;
}

/* The slot of key, or the empty slot where it would go. */
static sl_cl_ent_t *sl_cl_map_slot(const sl_cl_map_t *m, const uint8_t *k, size_t n, uint64_t h)
{
    size_t j = h & (m->km_cap - 1);
    for (;;) {
        sl_cl_ent_t *e = &m->km_tab[j];
        if (e->ke_off < 0)
            return e;
        if (e->ke_hash == h && e->ke_len == n && memcmp(m->km_arena.data + e->ke_key, k, n) == 0)
            return e;
        j = (j + 1) & (m->km_cap - 1);
    }
}

static st_err_t sl_cl_map_put(sl_cl_map_t *m, const uint8_t *k, size_t n, int64_t off)
{
    st_err_t err;
    if ((m->km_n + 1) * 10 > m->km_cap * 7 &&
        (err = sl_cl_map_resize(m, m->km_cap ? m->km_cap * 2 : 1024)) != ST_OK)
        return err;
    uint64_t h = sl_cl_hash(k, n);
    sl_cl_ent_t *e = sl_cl_map_slot(m, k, n, h);
    if (e->ke_off < 0) {
        size_t at = m->km_arena.len;
        if ((err = st_buf_append(&m->km_arena, k, n)) != ST_OK)
            return err;
        *e = (sl_cl_ent_t){h, off, at, n};
        m->km_n++;
    } else if (off > e->ke_off) {
        e->ke_off = off;
    }
    return ST_OK;
}

/* Latest mapped offset of key, -1 when not mapped. */
static int64_t sl_cl_map_get(const sl_cl_map_t *m, const uint8_t *k, size_t n)
{
    if (m->km_cap == 0)
        return -1;
    return sl_cl_map_slot(m, k, n, sl_cl_hash(k, n))->ke_off;
}

static void sl_cl_map_free(sl_cl_map_t *m)
{
    free(m->km_tab);
    st_buf_free(&m->km_arena);
    memset(m, 0, sizeof *m);
}

/* ==== sequential frame reader ======================================== */

typedef struct sl_cl_reader {
    int rd_fd;
    int64_t rd_size; /* bytes of the segment to read (snapshot) */
    int64_t rd_pos;  /* file position of the next frame */
    int64_t rd_bpos; /* file position of buf.data[0] */
    st_buf_t rd_buf;
} sl_cl_reader_t;

static st_err_t sl_cl_pread(int fd, uint8_t *p, size_t n, int64_t pos)
{
    size_t done = 0;
    while (done < n) {
        ssize_t r = pread(fd, p + done, n - done, (off_t)(pos + (int64_t)done));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return st_err_from_errno(errno);
        if (r == 0)
            return ST_ERR_CORRUPT; /* shorter than the snapshot said */
        done += (size_t)r;
    }
    return ST_OK;
}

/* Make [rd_pos, rd_pos + n) available in the buffer. */
static st_err_t sl_cl_reader_need(sl_cl_reader_t *r, size_t n, const uint8_t **p)
{
    if (r->rd_pos + (int64_t)n > r->rd_size)
        return ST_ERR_CORRUPT;
    int64_t have_end = r->rd_bpos + (int64_t)r->rd_buf.len;
    if (r->rd_pos >= r->rd_bpos && r->rd_pos + (int64_t)n <= have_end) {
        *p = r->rd_buf.data + (r->rd_pos - r->rd_bpos);
        return ST_OK;
    }
    size_t want = n > SL_CL_CHUNK ? n : SL_CL_CHUNK;
    if ((int64_t)want > r->rd_size - r->rd_pos)
        want = (size_t)(r->rd_size - r->rd_pos);
    r->rd_buf.len = 0;
    st_err_t err = st_buf_reserve(&r->rd_buf, want);
    if (err != ST_OK)
        return err;
    if ((err = sl_cl_pread(r->rd_fd, r->rd_buf.data, want, r->rd_pos)) != ST_OK)
        return err;
    r->rd_buf.len = want;
    r->rd_bpos = r->rd_pos;
    *p = r->rd_buf.data;
    return ST_OK;
}

/* Next whole, CRC-checked frame: ST_OK, ST_ERR_NOT_FOUND at the end,
 * ST_ERR_CORRUPT or an I/O error. */
static st_err_t sl_cl_reader_next(sl_cl_reader_t *r, const uint8_t **frame, size_t *len, st_batch_hdr_t *h)
{
    if (r->rd_pos >= r->rd_size)
        return ST_ERR_NOT_FOUND;
    const uint8_t *p;
    st_err_t err = sl_cl_reader_need(r, ST_BATCH_HEADER_SIZE, &p);
    if (err != ST_OK)
        return err;
    if (st_batch_hdr_decode(p, ST_BATCH_HEADER_SIZE, h) != ST_OK)
        return ST_ERR_CORRUPT;
    size_t fs = st_batch_frame_size(h);
    if ((err = sl_cl_reader_need(r, fs, &p)) != ST_OK)
        return err;
    if (st_batch_validate(p, fs) != ST_OK)
        return ST_ERR_CORRUPT;
    *frame = p;
    *len = fs;
    r->rd_pos += (int64_t)fs;
    return ST_OK;
}

/* ==== paths and files ================================================ */

static void sl_cl_path(const char *dir, int64_t base, const char *ext, const char *suffix, char *out,
                       size_t n)
{
    snprintf(out, n, "%s/%020" PRId64 ".%s%s", dir, base, ext, suffix);
}

static const char *const sl_cl_exts[3] = {"index", "timeindex", "log"}; /* log last: see the protocol */

static void sl_cl_unlink_cleaned(const char *dir, int64_t base)
{
    char p[PATH_MAX];
    for (int i = 0; i < 3; i++) {
        sl_cl_path(dir, base, sl_cl_exts[i], ".cleaned", p, sizeof p);
        unlink(p);
    }
}

static st_err_t sl_cl_rename(const char *dir, int64_t base, const char *ext, const char *from, const char *to)
{
    char a[PATH_MAX], b[PATH_MAX];
    sl_cl_path(dir, base, ext, from, a, sizeof a);
    sl_cl_path(dir, base, ext, to, b, sizeof b);
    if (rename(a, b) != 0) {
        ST_ERROR(SL_CL_TAG, "rename %s -> %s: %s", a, b, strerror(errno));
        return st_err_from_errno(errno);
    }
    return ST_OK;
}

static st_err_t sl_cl_write_all(int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return st_err_from_errno(errno);
        p += w;
        n -= (size_t)w;
    }
    return ST_OK;
}

/* ==== checkpoint ===================================================== */

/* ==== prepare ======================================================== */

/* The cleanable prefix of the closed segments (design note 1) and the
 * first dirty one. segs is malloc'd by the caller's snapshot. */
static void sl_cl_cleanable(sl_log_t *log, const sl_cleaner_opts_t *o, const sl_seg_info_t *segs, int n,
                            int *ncleanable, int *first_dirty, int64_t *ckpt, double *ratio)
{
    const sl_log_config_t *cfg = sl_log_config(log);
    int64_t max_off = o->max_offset < 0 ? sl_log_end_offset(log) : o->max_offset;
    int u = 0;
    while (u < n) {
        const sl_seg_info_t *s = &segs[u];
        if (s->si_next > max_off)
            break;
        if (cfg->min_compaction_lag_ms > 0 && s->si_max_ts != SL_CL_NO_TS &&
            s->si_max_ts > o->now_ms - cfg->min_compaction_lag_ms)
            break;
        u++;
    }
    int64_t c = sl_file_read_i64(sl_log_dir(log), SL_CLEANER_CHECKPOINT);
    if (c < sl_log_start_offset(log) || c > sl_log_end_offset(log))
        c = sl_log_start_offset(log);
    int d = 0;
    while (d < u && segs[d].si_next <= c)
        d++;
    int64_t clean = 0, dirty = 0;
    for (int i = 0; i < u; i++) {
        if (i < d)
            clean += segs[i].si_size;
        else
            dirty += segs[i].si_size;
    }
    *ncleanable = u;
    *first_dirty = d;
    *ckpt = c;
    *ratio = clean + dirty > 0 ? (double)dirty / (double)(clean + dirty) : 0.0;
}

st_err_t sl_cleaner_dirty_ratio(sl_log_t *log, const sl_cleaner_opts_t *opts, double *ratio)
{
    sl_seg_info_t *segs;
    int n, u, d;
    int64_t c;
    st_err_t err = sl_log_closed_segments(log, &segs, &n);
    if (err != ST_OK)
        return err;
    sl_cl_cleanable(log, opts, segs, n, &u, &d, &c, ratio);
    free(segs);
    return ST_OK;
}

st_err_t sl_cleaner_prepare(sl_log_t *log, const sl_cleaner_opts_t *opts, sl_cleaner_plan_t **out)
{
    const sl_log_config_t *cfg = sl_log_config(log);
    if (!(cfg->cleanup_policy & SL_CLEANUP_COMPACT))
        return ST_ERR_STATE;
    sl_seg_info_t *segs = NULL;
    int n, u, d;
    int64_t c;
    double ratio;
    st_err_t err = sl_log_closed_segments(log, &segs, &n);
    if (err != ST_OK)
        return err;
    sl_cl_cleanable(log, opts, segs, n, &u, &d, &c, &ratio);
    if (d >= u || (!opts->force && ratio < cfg->min_cleanable_dirty_ratio)) {
        free(segs);
        return ST_ERR_NOT_FOUND;
    }
    sl_cleaner_plan_t *p = calloc(1, sizeof *p);
    if (!p) {
        free(segs);
        return ST_ERR_NOMEM;
    }
    p->cp_dir = strdup(sl_log_dir(log));
    p->cp_segs = calloc((size_t)u, sizeof *p->cp_segs);
    if (!p->cp_dir || !p->cp_segs) {
        err = ST_ERR_NOMEM;
        goto fail;
    }
    p->cp_gen = sl_log_generation(log);
    p->cp_cfg = *cfg;
    p->cp_opts = *opts;
    if (p->cp_opts.map_bytes == 0)
        p->cp_opts.map_bytes = SL_CLEANER_MAP_BYTES;
    p->cp_first_dirty = d;
    p->cp_stats.dirty_ratio = ratio;
    p->cp_stats.first_dirty = c;
    p->cp_stats.dirty_end = c;
    for (int i = 0; i < u; i++) {
        char path[PATH_MAX];
        sl_cl_seg_t *s = &p->cp_segs[i];
        s->ss_info = segs[i];
        sl_cl_path(p->cp_dir, segs[i].si_base, "log", "", path, sizeof path);
        s->ss_fd = open(path, O_RDONLY | O_CLOEXEC);
        p->cp_nseg = i + 1;
        if (s->ss_fd < 0) {
            err = st_err_from_errno(errno);
            goto fail;
        }
    }
    free(segs);
    *out = p;
    return ST_OK;
fail:
    free(segs);
    sl_cleaner_plan_free(p);
    return err;
}

/* ==== run ============================================================ */

/* Map pass over one dirty segment. */
static st_err_t sl_cl_map_segment(sl_cleaner_plan_t *p, sl_cl_seg_t *s, sl_cl_map_t *m, sl_cl_reader_t *r)
{
    r->rd_fd = s->ss_fd;
    r->rd_size = s->ss_info.si_size;
    r->rd_pos = 0;
    r->rd_bpos = 0;
    r->rd_buf.len = 0;
    const uint8_t *f;
    size_t len;
    st_batch_hdr_t h;
    st_err_t err;
    while ((err = sl_cl_reader_next(r, &f, &len, &h)) == ST_OK) {
        st_batch_iter_t it;
        st_record_t rec;
        if ((err = st_batch_iter_init(&it, f, len)) == ST_OK) {
            while ((err = st_batch_iter_next(&it, &rec)) == ST_OK)
                if (rec.key && (err = sl_cl_map_put(m, rec.key, rec.key_len, rec.offset)) != ST_OK)
                    break;
        }
        st_batch_iter_fini(&it);
        if (err != ST_ERR_NOT_FOUND)
            return err == ST_ERR_CORRUPT_MESSAGE ? ST_ERR_CORRUPT : err;
    }
    if (err != ST_ERR_NOT_FOUND)
        return err;
    p->cp_stats.bytes_read += s->ss_info.si_size;
    return ST_OK;
}

/* Writer of one cleaned segment: .log through a buffer, both indexes. */
typedef struct sl_cl_writer {
    int wr_fd;
    st_buf_t wr_buf;
    int64_t wr_size;      /* bytes written or buffered */
    int64_t wr_idx_bytes; /* since the last offset index entry */
    int64_t wr_max_ts;
    int64_t wr_last; /* last offset of the last batch */
    sl_index_t wr_oix, wr_tix;
} sl_cl_writer_t;

static st_err_t sl_cl_writer_open(sl_cleaner_plan_t *p, int64_t base, sl_cl_writer_t *w)
{
    char path[PATH_MAX];
    memset(w, 0, sizeof *w);
    w->wr_fd = -1;
    w->wr_oix.ix_fd = -1;
    w->wr_tix.ix_fd = -1;
    w->wr_max_ts = SL_CL_NO_TS;
    w->wr_last = -1;
    st_buf_init(&w->wr_buf);
    sl_cl_unlink_cleaned(p->cp_dir, base);
    sl_cl_path(p->cp_dir, base, "log", ".cleaned", path, sizeof path);
    w->wr_fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (w->wr_fd < 0)
        return st_err_from_errno(errno);
    size_t max = p->cp_cfg.segment_index_bytes < 4 * SL_INDEX_TIME_ENTRY
                     ? 4 * SL_INDEX_TIME_ENTRY
                     : (size_t)p->cp_cfg.segment_index_bytes;
    st_err_t err;
    sl_cl_path(p->cp_dir, base, "index", ".cleaned", path, sizeof path);
    if ((err = sl_index_open(&w->wr_oix, path, SL_INDEX_OFFSET, max, true)) != ST_OK)
        return err;
    sl_cl_path(p->cp_dir, base, "timeindex", ".cleaned", path, sizeof path);
    return sl_index_open(&w->wr_tix, path, SL_INDEX_TIME, max, true);
}

static st_err_t sl_cl_writer_flush(sl_cl_writer_t *w)
{
    st_err_t err = sl_cl_write_all(w->wr_fd, w->wr_buf.data, w->wr_buf.len);
    w->wr_buf.len = 0;
    return err;
}

/* Append one frame; index entries as sl_log writes them (one offset entry
 * per index.interval.bytes; a full index just stops growing, which only
 * makes lookups scan a little more). */
static st_err_t sl_cl_writer_add(sl_cleaner_plan_t *p, int64_t base, sl_cl_writer_t *w, const uint8_t *f,
                                 size_t len, const st_batch_hdr_t *h)
{
    int64_t pos = w->wr_size;
    int64_t last = h->base_offset + h->last_offset_delta;
    if (h->max_timestamp > w->wr_max_ts)
        w->wr_max_ts = h->max_timestamp;
    if (pos > 0 && w->wr_idx_bytes >= p->cp_cfg.index_interval_bytes && !sl_index_full(&w->wr_oix) &&
        w->wr_tix.ix_n + 1 < w->wr_tix.ix_max_n) {
        st_err_t err = sl_index_append_offset(&w->wr_oix, (uint32_t)(h->base_offset - base), (uint32_t)pos);
        if (err != ST_OK)
            return err;
        int64_t lts = SL_CL_NO_TS;
        uint32_t lrel;
        if (w->wr_tix.ix_n > 0)
            sl_index_time_at(&w->wr_tix, w->wr_tix.ix_n - 1, &lts, &lrel);
        if (w->wr_max_ts > lts &&
            (err = sl_index_append_time(&w->wr_tix, w->wr_max_ts, (uint32_t)(last - base))) != ST_OK)
            return err;
        w->wr_idx_bytes = 0;
    }
    st_err_t err = st_buf_append(&w->wr_buf, f, len);
    if (err != ST_OK)
        return err;
    if (w->wr_buf.len >= SL_CL_CHUNK && (err = sl_cl_writer_flush(w)) != ST_OK)
        return err;
    w->wr_size += (int64_t)len;
    w->wr_idx_bytes += (int64_t)len;
    w->wr_last = last;
    return ST_OK;
}

/* Flush, final time entry, trim, fsync. */
static st_err_t sl_cl_writer_finish(int64_t base, sl_cl_writer_t *w)
{
    st_err_t err = sl_cl_writer_flush(w);
    if (err != ST_OK)
        return err;
    if (w->wr_last >= 0 && w->wr_max_ts != SL_CL_NO_TS) {
        int64_t lts = SL_CL_NO_TS;
        uint32_t lrel;
        if (w->wr_tix.ix_n > 0)
            sl_index_time_at(&w->wr_tix, w->wr_tix.ix_n - 1, &lts, &lrel);
        if (w->wr_max_ts > lts && w->wr_tix.ix_n < w->wr_tix.ix_max_n &&
            (err = sl_index_append_time(&w->wr_tix, w->wr_max_ts, (uint32_t)(w->wr_last - base))) != ST_OK)
            return err;
    }
    if ((err = sl_index_set_active(&w->wr_oix, false, 0)) != ST_OK ||
        (err = sl_index_set_active(&w->wr_tix, false, 0)) != ST_OK ||
        (err = sl_index_sync(&w->wr_oix)) != ST_OK || (err = sl_index_sync(&w->wr_tix)) != ST_OK)
        return err;
    if (fdatasync(w->wr_fd) != 0)
        return st_err_from_errno(errno);
    return ST_OK;
}

static void sl_cl_writer_close(sl_cl_writer_t *w)
{
    if (w->wr_fd >= 0)
        close(w->wr_fd);
    sl_index_close(&w->wr_oix);
    sl_index_close(&w->wr_tix);
    st_buf_free(&w->wr_buf);
}

/* Rewrite pass over one segment (design note 2). */
static st_err_t sl_cl_clean_segment(sl_cleaner_plan_t *p, sl_cl_seg_t *s, const sl_cl_map_t *m,
                                    sl_cl_reader_t *r, st_buf_t *body, st_buf_t *nf)
{
    int64_t base = s->ss_info.si_base;
    sl_cl_writer_t w;
    st_err_t err = sl_cl_writer_open(p, base, &w);
    s->ss_written = true;
    if (err != ST_OK)
        goto done;
    bool drop_tombstones = p->cp_cfg.delete_retention_ms >= 0 && s->ss_info.si_max_ts != SL_CL_NO_TS &&
                           s->ss_info.si_max_ts < p->cp_opts.now_ms - p->cp_cfg.delete_retention_ms;
    r->rd_fd = s->ss_fd;
    r->rd_size = s->ss_info.si_size;
    r->rd_pos = 0;
    r->rd_bpos = 0;
    r->rd_buf.len = 0;
    const uint8_t *f;
    size_t len;
    st_batch_hdr_t h;
    while ((err = sl_cl_reader_next(r, &f, &len, &h)) == ST_OK) {
        st_batch_iter_t it;
        st_record_t rec;
        int32_t kept = 0;
        int64_t max_ts = SL_CL_NO_TS;
        body->len = 0;
        if ((err = st_batch_iter_init(&it, f, len)) == ST_OK) {
            while ((err = st_batch_iter_next(&it, &rec)) == ST_OK) {
                p->cp_stats.records_in++;
                bool keep;
                if (!rec.key) {
                    keep = false;
                    p->cp_stats.keyless_dropped++;
                } else if (sl_cl_map_get(m, rec.key, rec.key_len) > rec.offset) {
                    keep = false;
                } else if (!rec.value && drop_tombstones) {
                    keep = false;
                    p->cp_stats.tombstones_dropped++;
                } else {
                    keep = true;
                }
                if (!keep)
                    continue;
                kept++;
                if (rec.timestamp > max_ts)
                    max_ts = rec.timestamp;
                if ((err = st_buf_append(body, rec.raw, rec.raw_len)) != ST_OK)
                    break;
            }
        }
        st_batch_iter_fini(&it);
        if (err != ST_ERR_NOT_FOUND) {
            err = err == ST_ERR_CORRUPT_MESSAGE ? ST_ERR_CORRUPT : err;
            goto done;
        }
        p->cp_stats.records_out += kept;
        if (kept == 0) {
            s->ss_changed = true; /* the whole batch goes */
            continue;
        }
        if (kept == h.record_count) {
            err = sl_cl_writer_add(p, base, &w, f, len, &h);
        } else {
            /* same base offset, last_offset_delta, first timestamp and
             * producer fields; fewer records; new CRC */
            s->ss_changed = true;
            st_batch_hdr_t nh = h;
            nf->len = 0;
            uint8_t zero[ST_BATCH_HEADER_SIZE] = {0};
            if ((err = st_buf_append(nf, zero, sizeof zero)) != ST_OK ||
                (err = st_compress((st_codec_t)(h.attributes & ST_BATCH_ATTR_CODEC_MASK), body->data,
                                   body->len, nf)) != ST_OK)
                goto done;
            nh.length = (int32_t)(nf->len - 12);
            nh.record_count = kept;
            if (!(h.attributes & ST_BATCH_ATTR_LOG_APPEND_TIME))
                nh.max_timestamp = max_ts;
            nh.crc = 0;
            st_batch_hdr_encode(&nh, nf->data);
            nh.crc = st_batch_compute_crc(nf->data, nf->len);
            st_batch_hdr_encode(&nh, nf->data);
            err = sl_cl_writer_add(p, base, &w, nf->data, nf->len, &nh);
        }
        if (err != ST_OK)
            goto done;
    }
    if (err != ST_ERR_NOT_FOUND)
        goto done;
    if ((err = sl_cl_writer_finish(base, &w)) != ST_OK)
        goto done;
    p->cp_stats.bytes_read += s->ss_info.si_size;
    p->cp_stats.bytes_in += s->ss_info.si_size;
    p->cp_stats.bytes_out += w.wr_size;
    p->cp_stats.segments++;
    if (w.wr_size != s->ss_info.si_size)
        s->ss_changed = true;
done:
    sl_cl_writer_close(&w);
    if (err != ST_OK || !s->ss_changed) {
        sl_cl_unlink_cleaned(p->cp_dir, base); /* nothing to swap */
        s->ss_written = false;
    }
    return err;
}

st_err_t sl_cleaner_run(sl_cleaner_plan_t *p)
{
    if (p->cp_ran)
        return ST_ERR_STATE;
    p->cp_ran = true;
    sl_cl_map_t m;
    memset(&m, 0, sizeof m);
    st_buf_init(&m.km_arena);
    sl_cl_reader_t r;
    memset(&r, 0, sizeof r);
    st_buf_init(&r.rd_buf);
    st_buf_t body, nf;
    st_buf_init(&body);
    st_buf_init(&nf);
    st_err_t err = ST_OK;
    /* map pass: dirty segments until the map passes its cap */
    int last = p->cp_first_dirty - 1;
    for (int i = p->cp_first_dirty; i < p->cp_nseg; i++) {
        if ((err = sl_cl_map_segment(p, &p->cp_segs[i], &m, &r)) != ST_OK)
            goto done;
        last = i;
        if (sl_cl_map_bytes(&m) >= p->cp_opts.map_bytes)
            break;
    }
    p->cp_stats.keys = (int64_t)m.km_n;
    p->cp_stats.dirty_end = p->cp_segs[last].ss_info.si_next;
    /* rewrite pass: the clean head and the mapped dirty segments */
    for (int i = 0; i <= last; i++) {
        if ((err = sl_cl_clean_segment(p, &p->cp_segs[i], &m, &r, &body, &nf)) != ST_OK)
            goto done;
        p->cp_nclean = i + 1;
    }
done:
    if (err != ST_OK)
        ST_ERROR(SL_CL_TAG, "%s: cleaning failed: %s", p->cp_dir, st_err_name(err));
    sl_cl_map_free(&m);
    st_buf_free(&r.rd_buf);
    st_buf_free(&body);
    st_buf_free(&nf);
    if (err != ST_OK)
        p->cp_nclean = -1;
    return err;
}

/* ==== commit ========================================================= */

/* The swap protocol for one segment (docs/storage.md). */
static st_err_t sl_cl_swap_segment(sl_log_t *log, sl_cleaner_plan_t *p, sl_cl_seg_t *s)
{
    int64_t base = s->ss_info.si_base;
    st_err_t err;
    /* 1. .cleaned -> .swap, indexes first, the .log last: the moment
     *    <base>.log.swap exists the new segment is committed */
    for (int i = 0; i < 3; i++) {
        if ((err = sl_cl_rename(p->cp_dir, base, sl_cl_exts[i], ".cleaned", ".swap")) != ST_OK)
            return err;
        if (i == 1)
            sl_cl_hook("swap-index");
    }
    if ((err = sl_file_fsync_dir(p->cp_dir)) != ST_OK)
        return err;
    s->ss_written = false;
    sl_cl_hook("swap-log");
    /* 2. .swap -> final names, replacing the old files; .log last, so a
     *    remaining <base>.log.swap still marks an unfinished swap */
    for (int i = 0; i < 3; i++) {
        if ((err = sl_cl_rename(p->cp_dir, base, sl_cl_exts[i], ".swap", "")) != ST_OK)
            return err;
        if (i == 1)
            sl_cl_hook("replace-index");
    }
    if ((err = sl_file_fsync_dir(p->cp_dir)) != ST_OK)
        return err;
    sl_cl_hook("replace-log");
    /* 3. serve the new files */
    if ((err = sl_log_reload_segment(log, base)) != ST_OK)
        return err;
    s->ss_swapped = true;
    p->cp_stats.segments_swapped++;
    sl_cl_hook("reloaded");
    return ST_OK;
}

st_err_t sl_cleaner_commit(sl_log_t *log, sl_cleaner_plan_t *p)
{
    if (!p->cp_ran || p->cp_nclean < 0)
        return ST_ERR_STATE;
    if (sl_log_generation(log) != p->cp_gen || strcmp(sl_log_dir(log), p->cp_dir) != 0) {
        ST_INFO(SL_CL_TAG, "%s: segments changed while cleaning; result discarded", p->cp_dir);
        return ST_ERR_STATE;
    }
    sl_cl_hook("commit");
    st_err_t err;
    for (int i = 0; i < p->cp_nclean; i++) {
        sl_cl_seg_t *s = &p->cp_segs[i];
        if (!s->ss_changed || !s->ss_written)
            continue;
        if ((err = sl_cl_swap_segment(log, p, s)) != ST_OK) {
            ST_ERROR(SL_CL_TAG, "%s: swap of segment %020" PRId64 " failed: %s", p->cp_dir,
                     s->ss_info.si_base, st_err_name(err));
            return err;
        }
        /* our own reload bumped the generation */
        p->cp_gen = sl_log_generation(log);
    }
    if ((err = sl_file_write_i64(p->cp_dir, SL_CLEANER_CHECKPOINT, p->cp_stats.dirty_end)) != ST_OK)
        return err;
    sl_cl_hook("checkpoint");
    const sl_cleaner_stats_t *st = &p->cp_stats;
    ST_INFO(SL_CL_TAG,
            "%s: cleaned %d segment(s) (%d changed): %" PRId64 " -> %" PRId64 " bytes, %" PRId64
            " -> %" PRId64 " records, %" PRId64 " keys, checkpoint %" PRId64,
            p->cp_dir, st->segments, st->segments_swapped, st->bytes_in, st->bytes_out, st->records_in,
            st->records_out, st->keys, st->dirty_end);
    return ST_OK;
}

const sl_cleaner_stats_t *sl_cleaner_plan_stats(const sl_cleaner_plan_t *p)
{
    return &p->cp_stats;
}

void sl_cleaner_plan_free(sl_cleaner_plan_t *p)
{
    if (!p)
        return;
    for (int i = 0; i < p->cp_nseg; i++) {
        sl_cl_seg_t *s = &p->cp_segs[i];
        if (s->ss_fd >= 0)
            close(s->ss_fd);
        if (s->ss_written)
            sl_cl_unlink_cleaned(p->cp_dir, s->ss_info.si_base);
    }
    free(p->cp_segs);
    free(p->cp_dir);
    free(p);
}

st_err_t sl_cleaner_clean(sl_log_t *log, const sl_cleaner_opts_t *opts, sl_cleaner_stats_t *stats)
{
    sl_cleaner_plan_t *p;
    st_err_t err = sl_cleaner_prepare(log, opts, &p);
    if (err != ST_OK)
        return err;
    if ((err = sl_cleaner_run(p)) == ST_OK)
        err = sl_cleaner_commit(log, p);
    if (stats)
        *stats = p->cp_stats;
    sl_cleaner_plan_free(p);
    return err;
}

/* ==== recovery ======================================================= */

/* "<20 digits>.<ext><suffix>" with ext one of sl_cl_exts: base and ext index,
 * else -1. */
static int64_t sl_cl_parse(const char *name, const char *suffix, int *ext)
{
    size_t n = strlen(name), sl = strlen(suffix);
    if (n < 21 + sl || name[20] != '.' || strcmp(name + n - sl, suffix) != 0)
        return -1;
    int64_t v = 0;
    for (int i = 0; i < 20; i++) {
        if (name[i] < '0' || name[i] > '9' || v > (INT64_MAX - 9) / 10)
            return -1;
        v = v * 10 + (name[i] - '0');
    }
    for (int i = 0; i < 3; i++) {
        size_t el = strlen(sl_cl_exts[i]);
        if (n - sl - 21 == el && strncmp(name + 21, sl_cl_exts[i], el) == 0) {
            *ext = i;
            return v;
        }
    }
    return -1;
}

typedef struct sl_cl_left {
    int64_t lf_base;
    int lf_ext;   /* index into sl_cl_exts */
    bool lf_swap; /* .swap (else .cleaned) */
} sl_cl_left_t;

st_err_t sl_cleaner_recover(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT ? ST_OK : st_err_from_errno(errno);
    /* collect first, act after: renaming while reading a directory may
     * show entries twice */
    sl_cl_left_t *v = NULL;
    size_t n = 0, cap = 0;
    st_err_t err = ST_OK;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        sl_cl_left_t l = {0, 0, true};
        if ((l.lf_base = sl_cl_parse(de->d_name, ".swap", &l.lf_ext)) < 0) {
            l.lf_swap = false;
            if ((l.lf_base = sl_cl_parse(de->d_name, ".cleaned", &l.lf_ext)) < 0)
                continue;
        }
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 16;
            sl_cl_left_t *nv = realloc(v, nc * sizeof *nv);
            if (!nv) {
                err = ST_ERR_NOMEM;
                break;
            }
            v = nv;
            cap = nc;
        }
        v[n++] = l;
    }
    closedir(d);
    if (err != ST_OK || n == 0)
        goto done;
    /* pass 0: .cleaned files (an unfinished run) go, and .swap index files
     * are completed or rolled back; pass 1: the .swap logs, last */
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < n; i++) {
            const sl_cl_left_t *l = &v[i];
            bool is_log = l->lf_ext == 2;
            if ((l->lf_swap && is_log) != (pass == 1))
                continue;
            char p[PATH_MAX];
            sl_cl_path(dir, l->lf_base, sl_cl_exts[l->lf_ext], l->lf_swap ? ".swap" : ".cleaned", p,
                       sizeof p);
            bool committed = false;
            for (size_t j = 0; j < n && l->lf_swap; j++)
                committed |= v[j].lf_swap && v[j].lf_base == l->lf_base && v[j].lf_ext == 2;
            if (committed) {
                ST_WARN(SL_CL_TAG, "completing interrupted cleaner swap: %s", p);
                if ((err = sl_cl_rename(dir, l->lf_base, sl_cl_exts[l->lf_ext], ".swap", "")) != ST_OK)
                    goto done;
            } else {
                ST_WARN(SL_CL_TAG, "rolling back unfinished cleaning: removing %s", p);
                if (unlink(p) != 0 && errno != ENOENT) {
                    err = st_err_from_errno(errno);
                    goto done;
                }
            }
        }
    }
    err = sl_file_fsync_dir(dir);
done:
    free(v);
    return err;
}
