/*
 * sl_log: one partition's log as a sorted array of segments.
 *
 * Design notes (the invariants every function keeps):
 *  1. segs[0..nseg) is sorted by base offset and never empty; the last
 *     segment is the *active* one: the only one written, the only one
 *     whose index files are sized to their maximum (sl_index active).
 *  2. sg_size is the number of valid bytes of a segment's .log file;
 *     nothing past it is ever served. An append that fails cuts the file
 *     back to sg_size, so a partial frame is never visible, and the
 *     in-memory state is only changed after the frame and its index
 *     entries are written.
 *  3. log_end == active segment's sg_next; start <= log_end;
 *     segs[0].sg_base <= start.
 *  4. Every byte below the recovery point `rp` has been fsync'd;
 *     recovery after a crash re-checks everything from the segment that
 *     holds rp (CRC of every frame) and rebuilds those indexes.
 *  5. Offset index entries point at batch starts (relative base offset,
 *     position), one per index.interval.bytes. A time index entry (T, r)
 *     promises that every record at offset <= base + r has timestamp <= T
 *     (T is the largest timestamp so far, r the last offset written);
 *     a final entry is added when the segment is closed, so the last time
 *     entry of a closed segment is its largest timestamp.
 *
 * State transitions: sl_log_open (recover) -> append / read / truncate /
 * retention / flush -> sl_log_close (flush, trim indexes, checkpoint).
 */
#include "storage/sl_log.h"

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

#include "common/st_log.h"
#include "storage/sl_cleaner.h"
#include "storage/sl_epoch.h"
#include "storage/sl_file.h"
#include "storage/sl_index.h"

#define SL_TAG "log"
#define SL_SCAN_CHUNK ((size_t)1 << 20)
#define SL_START_FILE "log-start-offset"
#define SL_EPOCH_FILE "leader-epoch-checkpoint"
#define SL_NO_TS INT64_MIN

typedef struct sl_seg {
    int64_t sg_base;
    int sg_fd;
    int64_t sg_size;      /* valid bytes of the .log */
    int64_t sg_next;      /* offset after the last batch (sg_base when empty) */
    int64_t sg_max_ts;    /* largest batch max_timestamp, SL_NO_TS when none */
    int64_t sg_roll_base; /* segment.ms counts from here; SL_NO_TS: first append sets it */
    int64_t sg_idx_bytes; /* bytes appended since the last offset index entry */
    bool sg_dirty;        /* written since the last fsync */
    sl_index_t sg_oix;
    sl_index_t sg_tix;
} sl_seg_t;

struct sl_log {
    char *lg_dir;
    sl_log_config_t lg_cfg;
    sl_seg_t **lg_segs;
    int lg_nseg, lg_capseg;
    int64_t lg_start;
    int64_t lg_end;
    int64_t lg_rp;
    int64_t lg_unflushed;    /* records appended since the last flush */
    int64_t lg_last_flush_ms;
    bool lg_dir_dirty;       /* directory entries changed since the last fsync */
    uint64_t lg_gen;         /* bumped when a closed segment is removed/changed */
    sl_epoch_cache_t lg_epochs;
    bool lg_seen_on;          /* sl_log_open: frame scans fill lg_seen */
    sl_epoch_cache_t lg_seen; /* (epoch, first offset) runs of scanned frames */
    st_buf_t lg_scratch;
};

void sl_log_config_default(sl_log_config_t *c)
{
    c->segment_bytes = (int64_t)1 << 30;
    c->segment_ms = 7LL * 24 * 3600 * 1000;
    c->retention_ms = 7LL * 24 * 3600 * 1000;
    c->retention_bytes = -1;
    c->index_interval_bytes = 4096;
    c->segment_index_bytes = 10 << 20;
    c->flush_messages = -1;
    c->flush_ms = -1;
    c->max_message_bytes = 1 << 20;
    c->file_delete_delay_ms = 60000;
    c->cleanup_policy = SL_CLEANUP_DELETE;
    c->delete_retention_ms = 24LL * 3600 * 1000;
    c->min_cleanable_dirty_ratio = 0.5;
    c->min_compaction_lag_ms = 0;
}

/* ==== small helpers ================================================== */

static void sl_seg_path(const sl_log_t *log, int64_t base, const char *ext, char *out, size_t n)
{
    snprintf(out, n, "%s/%020" PRId64 ".%s", log->lg_dir, base, ext);
}

static int64_t sl_log_seg_limit(const sl_log_t *log)
{
    int64_t lim = log->lg_cfg.segment_bytes;
    return lim <= 0 || lim > INT32_MAX ? INT32_MAX : lim;
}

static size_t sl_log_index_max(const sl_log_t *log)
{
    int32_t b = log->lg_cfg.segment_index_bytes;
    return b < 4 * SL_INDEX_TIME_ENTRY ? 4 * SL_INDEX_TIME_ENTRY : (size_t)b;
}

static sl_seg_t *sl_log_active(const sl_log_t *log)
{
    return log->lg_segs[log->lg_nseg - 1];
}

/* Index of the last segment with base <= offset, or -1. */
static int sl_log_floor(const sl_log_t *log, int64_t offset)
{
    int lo = 0, hi = log->lg_nseg;
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        if (log->lg_segs[mid]->sg_base <= offset)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo - 1;
}

static st_err_t sl_pread_full(int fd, void *buf, size_t n, int64_t pos, size_t *got)
{
    size_t done = 0;
    while (done < n) {
        ssize_t r = pread(fd, (uint8_t *)buf + done, n - done, (off_t)(pos + (int64_t)done));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return st_err_from_errno(errno);
        if (r == 0)
            break;
        done += (size_t)r;
    }
    *got = done;
    return ST_OK;
}

/* ==== segments ======================================================= */

static void sl_seg_free(sl_seg_t *sg)
{
    if (!sg)
        return;
    sl_index_close(&sg->sg_oix);
    sl_index_close(&sg->sg_tix);
    if (sg->sg_fd >= 0)
        close(sg->sg_fd);
    free(sg);
}

static void sl_seg_destroy(sl_log_t *log, sl_seg_t *sg);

/* Open (create) the three files of a segment. Indexes are opened inactive
 * (trimmed to their valid prefix) unless active. */
static st_err_t sl_seg_open(sl_log_t *log, int64_t base, bool create, bool active, sl_seg_t **out)
{
    char path[PATH_MAX];
    st_err_t err = ST_OK;
    sl_seg_t *sg = calloc(1, sizeof *sg);
    if (!sg)
        return ST_ERR_NOMEM;
    sg->sg_fd = -1;
    sg->sg_oix.ix_fd = -1;
    sg->sg_tix.ix_fd = -1;
    sg->sg_base = base;
    sg->sg_next = base;
    sg->sg_max_ts = SL_NO_TS;
    sg->sg_roll_base = SL_NO_TS;
    sl_seg_path(log, base, "log", path, sizeof path);
    sg->sg_fd = open(path, O_RDWR | O_CLOEXEC | (create ? O_CREAT | O_TRUNC : 0), 0644);
    if (sg->sg_fd < 0) {
        err = st_err_from_errno(errno);
        goto fail;
    }
    struct stat st;
    if (fstat(sg->sg_fd, &st) != 0) {
        err = st_err_from_errno(errno);
        goto fail;
    }
    sg->sg_size = st.st_size;
    if (create) {
        /* stale index files of an earlier segment with this base */
        sl_seg_path(log, base, "index", path, sizeof path);
        unlink(path);
        sl_seg_path(log, base, "timeindex", path, sizeof path);
        unlink(path);
    }
    sl_seg_path(log, base, "index", path, sizeof path);
    if ((err = sl_index_open(&sg->sg_oix, path, SL_INDEX_OFFSET, sl_log_index_max(log), active)) != ST_OK)
        goto fail;
    sl_seg_path(log, base, "timeindex", path, sizeof path);
    if ((err = sl_index_open(&sg->sg_tix, path, SL_INDEX_TIME, sl_log_index_max(log), active)) != ST_OK)
        goto fail;
    *out = sg;
    return ST_OK;
fail:
    ST_ERROR(SL_TAG, "%s: cannot open segment %" PRId64 ": %s", log->lg_dir, base, st_err_name(err));
    if (create && sg->sg_fd >= 0) {
        /* a half-created segment must not be found on the next open */
        sl_seg_destroy(log, sg);
        return err;
    }
    sl_seg_free(sg);
    return err;
}

/* Close and unlink a segment's files. */
static void sl_seg_destroy(sl_log_t *log, sl_seg_t *sg)
{
    char path[PATH_MAX];
    const char *exts[] = {"log", "index", "timeindex"};
    int64_t base = sg->sg_base;
    sl_seg_free(sg);
    for (size_t i = 0; i < 3; i++) {
        sl_seg_path(log, base, exts[i], path, sizeof path);
        if (unlink(path) != 0 && errno != ENOENT)
            ST_WARN(SL_TAG, "unlink %s: %s", path, strerror(errno));
    }
    log->lg_dir_dirty = true;
}

/* Remove segments [from, nseg) or [0, n) from the array, destroying them. */
static void sl_log_drop_tail(sl_log_t *log, int from)
{
    if (from < log->lg_nseg)
        log->lg_gen++;
    for (int i = from; i < log->lg_nseg; i++)
        sl_seg_destroy(log, log->lg_segs[i]);
    log->lg_nseg = from;
}

static void sl_log_drop_head(sl_log_t *log, int n)
{
    log->lg_gen++;
    for (int i = 0; i < n; i++)
        sl_seg_destroy(log, log->lg_segs[i]);
    memmove(log->lg_segs, log->lg_segs + n, (size_t)(log->lg_nseg - n) * sizeof *log->lg_segs);
    log->lg_nseg -= n;
}

static st_err_t sl_log_push(sl_log_t *log, sl_seg_t *sg)
{
    if (log->lg_nseg == log->lg_capseg) {
        int ncap = log->lg_capseg ? log->lg_capseg * 2 : 8;
        sl_seg_t **ns = realloc(log->lg_segs, (size_t)ncap * sizeof *ns);
        if (!ns)
            return ST_ERR_NOMEM;
        log->lg_segs = ns;
        log->lg_capseg = ncap;
    }
    log->lg_segs[log->lg_nseg++] = sg;
    return ST_OK;
}

/* Index entries for a batch of header h about to occupy [pos, pos+len)
 * of sg (called before the batch is accounted in sg). On error no entry
 * of this batch stays (the caller cuts the .log back). */
static st_err_t sl_seg_index_batch(sl_log_t *log, sl_seg_t *sg, int64_t pos, const st_batch_hdr_t *h)
{
    if (pos == 0 || sg->sg_idx_bytes < log->lg_cfg.index_interval_bytes)
        return ST_OK;
    size_t on = sg->sg_oix.ix_n;
    st_err_t err = sl_index_append_offset(&sg->sg_oix, (uint32_t)(h->base_offset - sg->sg_base),
                                          (uint32_t)pos);
    if (err != ST_OK)
        return err;
    int64_t maxts = sg->sg_max_ts > h->max_timestamp ? sg->sg_max_ts : h->max_timestamp;
    int64_t lastts;
    uint32_t lastrel;
    bool have = sg->sg_tix.ix_n > 0;
    if (have)
        sl_index_time_at(&sg->sg_tix, sg->sg_tix.ix_n - 1, &lastts, &lastrel);
    if (!have || maxts > lastts) {
        err = sl_index_append_time(&sg->sg_tix, maxts,
                                   (uint32_t)(h->base_offset + h->last_offset_delta - sg->sg_base));
        if (err != ST_OK) {
            sl_index_truncate(&sg->sg_oix, on);
            return err;
        }
    }
    sg->sg_idx_bytes = 0;
    return ST_OK;
}

/* Account an accepted batch in sg. */
static void sl_seg_account(sl_seg_t *sg, const st_batch_hdr_t *h, size_t len)
{
    sg->sg_size += (int64_t)len;
    sg->sg_idx_bytes += (int64_t)len;
    sg->sg_next = h->base_offset + h->last_offset_delta + 1;
    if (h->max_timestamp > sg->sg_max_ts)
        sg->sg_max_ts = h->max_timestamp;
}

/* The final time index entry of a segment being closed. */
static void sl_seg_final_time_entry(sl_seg_t *sg)
{
    if (sg->sg_max_ts == SL_NO_TS || sg->sg_next == sg->sg_base || !sg->sg_tix.ix_active)
        return;
    int64_t lastts;
    uint32_t lastrel;
    if (sg->sg_tix.ix_n > 0) {
        sl_index_time_at(&sg->sg_tix, sg->sg_tix.ix_n - 1, &lastts, &lastrel);
        if (lastts >= sg->sg_max_ts)
            return;
    }
    if (sl_index_append_time(&sg->sg_tix, sg->sg_max_ts, (uint32_t)(sg->sg_next - 1 - sg->sg_base)) != ST_OK)
        ST_WARN(SL_TAG, "segment %" PRId64 ": final time index entry not written", sg->sg_base);
}

/* Close a segment for writing: final time entry, indexes trimmed. */
static void sl_seg_seal(sl_log_t *log, sl_seg_t *sg)
{
    sl_seg_final_time_entry(sg);
    if (sl_index_set_active(&sg->sg_oix, false, 0) != ST_OK ||
        sl_index_set_active(&sg->sg_tix, false, 0) != ST_OK)
        ST_WARN(SL_TAG, "%s: segment %" PRId64 ": cannot trim indexes (rebuilt on next open)",
                log->lg_dir, sg->sg_base);
}

/* ==== scanning ======================================================= */

/* A sequential reader over one segment file through lg_scratch. */
typedef struct sl_reader {
    int fd;
    int64_t file_size;
    int64_t buf_pos; /* file position of scratch.data[0] */
    st_buf_t *buf;
} sl_reader_t;

/* Make [pos, pos+n) available; *p points at it. ST_ERR_NOT_FOUND when the
 * file ends before. */
static st_err_t sl_reader_get(sl_reader_t *r, int64_t pos, size_t n, const uint8_t **p)
{
    if (pos + (int64_t)n > r->file_size)
        return ST_ERR_NOT_FOUND;
    if (pos >= r->buf_pos && pos + (int64_t)n <= r->buf_pos + (int64_t)r->buf->len) {
        *p = r->buf->data + (pos - r->buf_pos);
        return ST_OK;
    }
    size_t want = n > SL_SCAN_CHUNK ? n : SL_SCAN_CHUNK;
    if ((int64_t)want > r->file_size - pos)
        want = (size_t)(r->file_size - pos);
    r->buf->len = 0;
    st_err_t err = st_buf_reserve(r->buf, want);
    if (err != ST_OK)
        return err;
    size_t got;
    if ((err = sl_pread_full(r->fd, r->buf->data, want, pos, &got)) != ST_OK)
        return err;
    r->buf->len = got;
    r->buf_pos = pos;
    if (got < n)
        return ST_ERR_NOT_FOUND;
    *p = r->buf->data;
    return ST_OK;
}

/* Check frames of sg from pos (the first expected at offset >= next) to
 * the end of the file. Every frame's header, length and CRC is checked
 * and offsets must increase. With rebuild, index entries are appended.
 * Stops at the first bad frame: *bad_pos and *why are set (else -1 and
 * NULL). sg_size/sg_next/sg_max_ts describe the good prefix afterwards.
 * Returns an error only for I/O failures. */
static st_err_t sl_seg_scan(sl_log_t *log, sl_seg_t *sg, int64_t pos, int64_t next, bool rebuild,
                            int64_t *checked, int64_t *bad_pos, const char **why)
{
    struct stat st;
    *bad_pos = -1;
    *why = NULL;
    if (fstat(sg->sg_fd, &st) != 0)
        return st_err_from_errno(errno);
    sl_reader_t r = {sg->sg_fd, st.st_size, 0, &log->lg_scratch};
    log->lg_scratch.len = 0;
    sg->sg_size = pos;
    sg->sg_next = next;
    while (pos < r.file_size) {
        const uint8_t *p;
        st_batch_hdr_t h;
        st_err_t err = sl_reader_get(&r, pos, ST_BATCH_HEADER_SIZE, &p);
        if (err == ST_ERR_NOT_FOUND) {
            *why = "incomplete frame header at end of file";
            break;
        }
        if (err != ST_OK)
            return err;
        if (st_batch_hdr_decode(p, ST_BATCH_HEADER_SIZE, &h) != ST_OK) {
            *why = "invalid frame header (magic or length)";
            break;
        }
        size_t fs = st_batch_frame_size(&h);
        if ((int64_t)fs > r.file_size - pos) {
            *why = "frame extends past end of file";
            break;
        }
        if (h.base_offset < next) {
            *why = "offsets not increasing";
            break;
        }
        if ((err = sl_reader_get(&r, pos, fs, &p)) != ST_OK)
            return err == ST_ERR_NOT_FOUND ? ST_ERR_IO : err;
        if (st_batch_compute_crc(p, fs) != h.crc) {
            *why = "crc mismatch";
            break;
        }
        if (st_batch_validate(p, fs) != ST_OK) {
            *why = "invalid batch header";
            break;
        }
        if (h.base_offset + h.last_offset_delta - sg->sg_base > UINT32_MAX) {
            *why = "offset out of segment range";
            break;
        }
        if (rebuild && (err = sl_seg_index_batch(log, sg, pos, &h)) != ST_OK)
            return err;
        if (log->lg_seen_on && h.leader_epoch >= 0 &&
            (err = sl_epoch_assign(&log->lg_seen, h.leader_epoch, h.base_offset)) != ST_OK)
            return err;
        sl_seg_account(sg, &h, fs);
        if (sg->sg_roll_base == SL_NO_TS)
            sg->sg_roll_base = h.max_timestamp;
        next = sg->sg_next;
        pos += (int64_t)fs;
        (*checked)++;
    }
    if (*why)
        *bad_pos = pos;
    return ST_OK;
}

/* Rebuild both indexes of sg from its data (full scan from 0). */
static st_err_t sl_seg_rebuild(sl_log_t *log, sl_seg_t *sg, int64_t *checked, int64_t *bad_pos,
                               const char **why)
{
    st_err_t err;
    if ((err = sl_index_truncate(&sg->sg_oix, 0)) != ST_OK ||
        (err = sl_index_truncate(&sg->sg_tix, 0)) != ST_OK ||
        (err = sl_index_set_active(&sg->sg_oix, true, sl_log_index_max(log))) != ST_OK ||
        (err = sl_index_set_active(&sg->sg_tix, true, sl_log_index_max(log))) != ST_OK)
        return err;
    sg->sg_max_ts = SL_NO_TS;
    sg->sg_idx_bytes = 0;
    sg->sg_roll_base = SL_NO_TS;
    return sl_seg_scan(log, sg, 0, sg->sg_base, true, checked, bad_pos, why);
}

/* Trust-but-verify check of a segment whose indexes exist: the last
 * offset index entry must point at a frame with that offset, and every
 * frame from there to the end of the file must be intact; the last time
 * entry must lie inside the segment. Sets sg_size/next/max_ts. Returns
 * false when the segment needs a full scan. */
static bool sl_seg_check_tail(sl_log_t *log, sl_seg_t *sg)
{
    int64_t pos = 0, next = sg->sg_base;
    if (!sg->sg_oix.ix_file_exact || !sg->sg_tix.ix_file_exact || sg->sg_oix.ix_was_missing ||
        sg->sg_tix.ix_was_missing)
        return false;
    if (sg->sg_oix.ix_n > 0) {
        uint32_t rel, p;
        sl_index_offset_at(&sg->sg_oix, sg->sg_oix.ix_n - 1, &rel, &p);
        uint8_t hb[ST_BATCH_HEADER_SIZE];
        st_batch_hdr_t h;
        size_t got;
        if (sl_pread_full(sg->sg_fd, hb, sizeof hb, p, &got) != ST_OK || got != sizeof hb ||
            st_batch_hdr_decode(hb, got, &h) != ST_OK || h.base_offset != sg->sg_base + rel)
            return false;
        pos = p;
        next = h.base_offset;
    }
    int64_t checked = 0, bad;
    const char *why;
    int64_t ts_before = SL_NO_TS;
    if (sg->sg_tix.ix_n > 0) {
        uint32_t trel;
        sl_index_time_at(&sg->sg_tix, sg->sg_tix.ix_n - 1, &ts_before, &trel);
    }
    sg->sg_max_ts = SL_NO_TS;
    if (sl_seg_scan(log, sg, pos, next, false, &checked, &bad, &why) != ST_OK || why)
        return false;
    if (ts_before > sg->sg_max_ts)
        sg->sg_max_ts = ts_before;
    if (sg->sg_tix.ix_n > 0) {
        int64_t ts;
        uint32_t trel;
        sl_index_time_at(&sg->sg_tix, sg->sg_tix.ix_n - 1, &ts, &trel);
        if (sg->sg_base + trel >= sg->sg_next)
            return false;
    }
    if (sg->sg_oix.ix_n > 0) {
        uint32_t rel, p;
        sl_index_offset_at(&sg->sg_oix, sg->sg_oix.ix_n - 1, &rel, &p);
        sg->sg_idx_bytes = sg->sg_size - p;
    } else {
        sg->sg_idx_bytes = sg->sg_size;
    }
    /* segment.ms base after a restart: the first batch's timestamp */
    uint8_t hb[ST_BATCH_HEADER_SIZE];
    st_batch_hdr_t h;
    size_t got;
    if (sg->sg_size > 0 && sl_pread_full(sg->sg_fd, hb, sizeof hb, 0, &got) == ST_OK &&
        got == sizeof hb && st_batch_hdr_decode(hb, got, &h) == ST_OK)
        sg->sg_roll_base = h.max_timestamp;
    return true;
}

/* ==== start offset file ============================================== */

static st_err_t sl_log_save_start(sl_log_t *log)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", log->lg_dir, SL_START_FILE);
    if (log->lg_start <= log->lg_segs[0]->sg_base) {
        if (unlink(path) == 0)
            log->lg_dir_dirty = true;
        return ST_OK;
    }
    char line[32];
    int n = snprintf(line, sizeof line, "%" PRId64 "\n", log->lg_start);
    return sl_file_write_atomic(path, line, (size_t)n);
}

static int64_t sl_log_load_start(const char *dir)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", dir, SL_START_FILE);
    st_buf_t b;
    st_buf_init(&b);
    int64_t v = -1;
    if (sl_file_read_all(path, 64, &b) == ST_OK && st_buf_append(&b, "", 1) == ST_OK) {
        char *end;
        long long x = strtoll((char *)b.data, &end, 10);
        if (end != (char *)b.data && x >= 0)
            v = x;
    }
    st_buf_free(&b);
    return v;
}

/* ==== open / close =================================================== */

static int sl_cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* Parse "<20 digits>.<ext>"; returns the base or -1. */
static int64_t sl_parse_seg_name(const char *name, const char *ext)
{
    size_t el = strlen(ext);
    if (strlen(name) != 21 + el || name[20] != '.' || strcmp(name + 21, ext) != 0)
        return -1;
    int64_t v = 0;
    for (int i = 0; i < 20; i++) {
        if (name[i] < '0' || name[i] > '9')
            return -1;
        if (v > (INT64_MAX - 9) / 10)
            return -1;
        v = v * 10 + (name[i] - '0');
    }
    return v;
}

/* List segment bases; remove leftovers (temp files, orphan indexes). */
static st_err_t sl_log_list(sl_log_t *log, int64_t **bases, int *n)
{
    DIR *d = opendir(log->lg_dir);
    if (!d)
        return st_err_from_errno(errno);
    int cap = 16, cnt = 0;
    int64_t *v = malloc((size_t)cap * sizeof *v);
    st_err_t err = v ? ST_OK : ST_ERR_NOMEM;
    struct dirent *de;
    while (err == ST_OK && (de = readdir(d)) != NULL) {
        const char *nm = de->d_name;
        size_t len = strlen(nm);
        int64_t b = sl_parse_seg_name(nm, "log");
        if (b >= 0) {
            if (cnt == cap) {
                cap *= 2;
                int64_t *nv = realloc(v, (size_t)cap * sizeof *nv);
                if (!nv) {
                    err = ST_ERR_NOMEM;
                    break;
                }
                v = nv;
            }
            v[cnt++] = b;
            continue;
        }
        int64_t ib = sl_parse_seg_name(nm, "index");
        if (ib < 0)
            ib = sl_parse_seg_name(nm, "timeindex");
        char path[PATH_MAX];
        bool junk = (len > 4 && strcmp(nm + len - 4, ".tmp") == 0) ||
                    (len > 8 && strcmp(nm + len - 8, ".deleted") == 0);
        if (ib >= 0) {
            char lp[PATH_MAX];
            sl_seg_path(log, ib, "log", lp, sizeof lp);
            junk = access(lp, F_OK) != 0;
        }
        if (junk) {
            snprintf(path, sizeof path, "%s/%s", log->lg_dir, nm);
            ST_INFO(SL_TAG, "removing leftover %s", path);
            unlink(path);
        }
    }
    closedir(d);
    if (err != ST_OK) {
        free(v);
        return err;
    }
    qsort(v, (size_t)cnt, sizeof *v, sl_cmp_i64);
    *bases = v;
    *n = cnt;
    return ST_OK;
}

static void sl_log_free(sl_log_t *log)
{
    if (!log)
        return;
    for (int i = 0; i < log->lg_nseg; i++)
        sl_seg_free(log->lg_segs[i]);
    free(log->lg_segs);
    sl_epoch_free(&log->lg_epochs);
    sl_epoch_free(&log->lg_seen);
    st_buf_free(&log->lg_scratch);
    free(log->lg_dir);
    free(log);
}

st_err_t sl_log_open(const char *dir, const sl_log_config_t *cfg, int64_t recovery_point,
                     bool clean_shutdown, sl_log_t **out, sl_recovery_info_t *info)
{
    sl_recovery_info_t dummy;
    if (!info)
        info = &dummy;
    memset(info, 0, sizeof *info);
    info->corrupt_position = -1;
    int64_t *bases = NULL;
    int nb = 0;
    st_err_t err;
    sl_log_t *log = calloc(1, sizeof *log);
    if (!log)
        return ST_ERR_NOMEM;
    st_buf_init(&log->lg_scratch);
    log->lg_cfg = *cfg;
    log->lg_last_flush_ms = SL_NO_TS;
    log->lg_dir = strdup(dir);
    if (!log->lg_dir) {
        err = ST_ERR_NOMEM;
        goto fail;
    }
    if ((err = sl_file_mkdirs(dir)) != ST_OK)
        goto fail;
    /* finish or roll back a log-cleaner swap cut short by a crash */
    if ((err = sl_cleaner_recover(dir)) != ST_OK)
        goto fail;
    if ((err = sl_log_list(log, &bases, &nb)) != ST_OK)
        goto fail;
    log->lg_seen_on = true;
    for (int i = 0; i < nb; i++) {
        sl_seg_t *sg;
        if ((err = sl_seg_open(log, bases[i], false, false, &sg)) != ST_OK)
            goto fail;
        if ((err = sl_log_push(log, sg)) != ST_OK) {
            sl_seg_free(sg);
            goto fail;
        }
    }

    /* recovery: segments from the one holding the recovery point on are
     * scanned in full; earlier ones (and all after a clean shutdown) get
     * the tail check, and a full scan when that fails */
    int scan_from = log->lg_nseg;
    if (!clean_shutdown) {
        int f = recovery_point < 0 ? 0 : sl_log_floor(log, recovery_point);
        scan_from = f < 0 ? 0 : f;
    }
    for (int i = 0; i < log->lg_nseg; i++) {
        sl_seg_t *sg = log->lg_segs[i];
        bool full = i >= scan_from;
        if (!full && !sl_seg_check_tail(log, sg)) {
            ST_WARN(SL_TAG, "%s: segment %020" PRId64 ": index missing or inconsistent, rebuilding",
                    dir, sg->sg_base);
            full = true;
        }
        if (!full)
            continue;
        int64_t bad;
        const char *why;
        info->ran = true;
        if ((err = sl_seg_rebuild(log, sg, &info->batches_checked, &bad, &why)) != ST_OK)
            goto fail;
        info->indexes_rebuilt++;
        if (!why)
            continue;
        /* the first bad frame: cut here, drop everything after */
        struct stat st;
        int64_t fsize = fstat(sg->sg_fd, &st) == 0 ? st.st_size : bad;
        info->bytes_truncated += fsize - bad;
        for (int j = i + 1; j < log->lg_nseg; j++)
            info->bytes_truncated += log->lg_segs[j]->sg_size;
        sl_seg_path(log, sg->sg_base, "log", info->corrupt_file, sizeof info->corrupt_file);
        info->corrupt_position = bad;
        info->corrupt_reason = why;
        ST_WARN(SL_TAG, "%s: corrupt or torn data in %s at byte %" PRId64 " (%s): truncating %" PRId64
                " bytes and %d later segment(s)",
                dir, info->corrupt_file, bad, why, info->bytes_truncated, log->lg_nseg - i - 1);
        if (ftruncate(sg->sg_fd, bad) != 0) {
            err = st_err_from_errno(errno);
            goto fail;
        }
        sg->sg_dirty = true;
        sl_log_drop_tail(log, i + 1);
        break;
    }
    if (log->lg_nseg == 0) {
        int64_t base = sl_log_load_start(dir);
        sl_seg_t *sg;
        if ((err = sl_seg_open(log, base < 0 ? 0 : base, true, true, &sg)) != ST_OK)
            goto fail;
        if ((err = sl_log_push(log, sg)) != ST_OK) {
            sl_seg_free(sg);
            goto fail;
        }
        log->lg_dir_dirty = true;
    }
    for (int i = 0; i < log->lg_nseg; i++) {
        sl_seg_t *sg = log->lg_segs[i];
        bool last = i == log->lg_nseg - 1;
        if (!last) {
            sl_seg_seal(log, sg);
            if (sg->sg_next > log->lg_segs[i + 1]->sg_base)
                ST_WARN(SL_TAG, "%s: segment %" PRId64 " overlaps the next one", dir, sg->sg_base);
        } else if ((err = sl_index_set_active(&sg->sg_oix, true, sl_log_index_max(log))) != ST_OK ||
                   (err = sl_index_set_active(&sg->sg_tix, true, sl_log_index_max(log))) != ST_OK) {
            goto fail;
        }
    }
    log->lg_end = sl_log_active(log)->sg_next;
    log->lg_start = log->lg_segs[0]->sg_base;
    int64_t saved_start = sl_log_load_start(dir);
    if (saved_start > log->lg_start)
        log->lg_start = saved_start > log->lg_end ? log->lg_end : saved_start;

    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", dir, SL_EPOCH_FILE);
    err = sl_epoch_load(&log->lg_epochs, path);
    if (err == ST_ERR_CORRUPT)
        ST_WARN(SL_TAG, "%s: malformed %s ignored", dir, SL_EPOCH_FILE);
    else if (err != ST_OK)
        goto fail;
    if ((err = sl_epoch_truncate_end(&log->lg_epochs, log->lg_end)) != ST_OK)
        goto fail;
    /* the checkpoint may lag the data (assignments are lazy): every epoch
     * seen in a scanned frame must be in the cache from that offset on */
    log->lg_seen_on = false;
    for (size_t i = 0; i < log->lg_seen.n; i++) {
        const sl_epoch_entry_t *se = &log->lg_seen.ents[i];
        if (sl_epoch_at(&log->lg_epochs, se->start) == se->epoch)
            continue;
        ST_INFO(SL_TAG, "%s: leader epoch %" PRId32 " at %" PRId64 " rebuilt from the log", dir,
                se->epoch, se->start);
        if ((err = sl_epoch_assign(&log->lg_epochs, se->epoch, se->start)) != ST_OK)
            goto fail;
    }
    sl_epoch_free(&log->lg_seen);

    /* everything is checked now; make it durable and start from here */
    log->lg_rp = recovery_point > log->lg_end ? log->lg_end : recovery_point;
    if ((err = sl_log_flush(log)) != ST_OK)
        goto fail;
    st_buf_free(&log->lg_scratch); /* 1 MiB per partition is too much to keep */
    free(bases);
    *out = log;
    return ST_OK;
fail:
    free(bases);
    sl_log_free(log);
    return err;
}

void sl_log_close(sl_log_t *log)
{
    if (!log)
        return;
    /* final time entry and trimmed indexes first, so the flush makes
     * them durable too */
    sl_seg_t *act = sl_log_active(log);
    sl_seg_seal(log, act);
    act->sg_dirty = true;
    st_err_t err = sl_log_flush(log);
    if (err != ST_OK)
        ST_ERROR(SL_TAG, "%s: flush on close failed: %s", log->lg_dir, st_err_name(err));
    sl_log_free(log);
}

st_err_t sl_log_delete(sl_log_t *log)
{
    char *dir = strdup(log->lg_dir);
    for (int i = 0; i < log->lg_nseg; i++)
        sl_seg_free(log->lg_segs[i]);
    log->lg_nseg = 0;
    sl_log_free(log);
    if (!dir)
        return ST_ERR_NOMEM;
    st_err_t err = sl_file_rmrf(dir);
    if (err == ST_OK) {
        char parent[PATH_MAX];
        sl_file_dirname(dir, parent, sizeof parent);
        sl_file_fsync_dir(parent);
    }
    free(dir);
    return err;
}

void sl_log_set_config(sl_log_t *log, const sl_log_config_t *cfg)
{
    log->lg_cfg = *cfg;
}

const char *sl_log_dir(const sl_log_t *log)
{
    return log->lg_dir;
}

int64_t sl_log_start_offset(const sl_log_t *log)
{
    return log->lg_start;
}

int64_t sl_log_end_offset(const sl_log_t *log)
{
    return log->lg_end;
}

int64_t sl_log_size_bytes(const sl_log_t *log)
{
    int64_t n = 0;
    for (int i = 0; i < log->lg_nseg; i++)
        n += log->lg_segs[i]->sg_size;
    return n;
}

int sl_log_segment_count(const sl_log_t *log)
{
    return log->lg_nseg;
}

int64_t sl_log_recovery_point(const sl_log_t *log)
{
    return log->lg_rp;
}

/* ==== flush ========================================================== */

st_err_t sl_log_flush(sl_log_t *log)
{
    for (int i = 0; i < log->lg_nseg; i++) {
        sl_seg_t *sg = log->lg_segs[i];
        if (!sg->sg_dirty)
            continue;
        if (fdatasync(sg->sg_fd) != 0)
            return st_err_from_errno(errno);
        st_err_t err;
        if ((err = sl_index_sync(&sg->sg_oix)) != ST_OK || (err = sl_index_sync(&sg->sg_tix)) != ST_OK)
            return err;
        sg->sg_dirty = false;
    }
    if (log->lg_dir_dirty) {
        st_err_t err = sl_file_fsync_dir(log->lg_dir);
        if (err != ST_OK)
            return err;
        log->lg_dir_dirty = false;
    }
    /* before the recovery point moves: recovery rebuilds epochs only from
     * frames at or above it */
    st_err_t err = sl_epoch_checkpoint(&log->lg_epochs);
    if (err != ST_OK) {
        ST_ERROR(SL_TAG, "%s: cannot write %s: %s", log->lg_dir, SL_EPOCH_FILE, st_err_name(err));
        return err;
    }
    log->lg_rp = log->lg_end;
    log->lg_unflushed = 0;
    return ST_OK;
}

st_err_t sl_log_maybe_flush(sl_log_t *log, int64_t now_ms)
{
    if (log->lg_last_flush_ms == SL_NO_TS) {
        log->lg_last_flush_ms = now_ms;
        return ST_OK;
    }
    if (log->lg_cfg.flush_ms < 0 || now_ms - log->lg_last_flush_ms < log->lg_cfg.flush_ms)
        return ST_OK;
    log->lg_last_flush_ms = now_ms;
    if (log->lg_rp == log->lg_end && !log->lg_dir_dirty && !log->lg_epochs.dirty)
        return ST_OK;
    return sl_log_flush(log);
}

/* ==== append ========================================================= */

/* Start a new active segment at the log end. */
static st_err_t sl_log_roll(sl_log_t *log, int64_t now_ms)
{
    sl_seg_t *old = sl_log_active(log);
    sl_seg_t *sg;
    st_err_t err = sl_seg_open(log, log->lg_end, true, true, &sg);
    if (err != ST_OK)
        return err;
    if ((err = sl_log_push(log, sg)) != ST_OK) {
        sl_seg_destroy(log, sg);
        return err;
    }
    (void)now_ms;
    sl_seg_seal(log, old);
    log->lg_dir_dirty = true;
    ST_DEBUG(SL_TAG, "%s: rolled new segment at %" PRId64, log->lg_dir, log->lg_end);
    return ST_OK;
}

static bool sl_log_needs_roll(const sl_log_t *log, const st_batch_hdr_t *h, size_t len, int64_t now_ms)
{
    const sl_seg_t *sg = sl_log_active(log);
    if (sg->sg_size == 0)
        return false;
    if (sg->sg_size + (int64_t)len > sl_log_seg_limit(log))
        return true;
    if (log->lg_cfg.segment_ms > 0 && sg->sg_roll_base != SL_NO_TS &&
        now_ms - sg->sg_roll_base >= log->lg_cfg.segment_ms)
        return true;
    if (sl_index_full(&sg->sg_oix) || sg->sg_tix.ix_n + 1 >= sg->sg_tix.ix_max_n)
        return true;
    if (h->base_offset + h->last_offset_delta - sg->sg_base > (int64_t)UINT32_MAX)
        return true;
    return false;
}

/* Write one validated frame (offsets already final) at the log end. */
static st_err_t sl_log_write(sl_log_t *log, const uint8_t *frame, size_t len, const st_batch_hdr_t *h,
                             int64_t now_ms)
{
    st_err_t err;
    if (sl_log_needs_roll(log, h, len, now_ms) && (err = sl_log_roll(log, now_ms)) != ST_OK)
        return err;
    sl_seg_t *sg = sl_log_active(log);
    int64_t pos = sg->sg_size;
    ssize_t w;
    do {
        w = pwrite(sg->sg_fd, frame, len, (off_t)pos);
    } while (w < 0 && errno == EINTR);
    if (w < 0 || (size_t)w != len) {
        err = w < 0 ? st_err_from_errno(errno) : ST_ERR_NO_SPACE;
        goto undo;
    }
    if ((err = sl_seg_index_batch(log, sg, pos, h)) != ST_OK)
        goto undo;
    sl_seg_account(sg, h, len);
    if (sg->sg_roll_base == SL_NO_TS)
        sg->sg_roll_base = now_ms;
    sg->sg_dirty = true;
    log->lg_end = sg->sg_next;
    log->lg_unflushed += h->record_count;
    return ST_OK;
undo:
    /* nothing partial may stay visible: cut the file back */
    if (ftruncate(sg->sg_fd, (off_t)pos) != 0)
        ST_ERROR(SL_TAG, "%s: cannot cut segment %" PRId64 " back to %" PRId64 ": %s", log->lg_dir,
                 sg->sg_base, pos, strerror(errno));
    ST_ERROR(SL_TAG, "%s: append at %" PRId64 " failed: %s", log->lg_dir, log->lg_end, st_err_name(err));
    return err;
}

static st_err_t sl_log_after_append(sl_log_t *log, int32_t epoch, int64_t base, int64_t now_ms)
{
    if (epoch >= 0 && epoch > sl_epoch_latest(&log->lg_epochs)) {
        st_err_t err = sl_epoch_assign(&log->lg_epochs, epoch, base);
        if (err != ST_OK)
            ST_WARN(SL_TAG, "%s: cannot record leader epoch %d: %s", log->lg_dir, epoch, st_err_name(err));
    }
    if (log->lg_cfg.flush_messages > 0 && log->lg_unflushed >= log->lg_cfg.flush_messages)
        return sl_log_flush(log);
    return sl_log_maybe_flush(log, now_ms);
}

/* Checks before a write. Followers copy what their leader accepted, so
 * max.message.bytes only applies to leader appends (as in Kafka). */
static st_err_t sl_log_check_frame(const sl_log_t *log, const uint8_t *frame, size_t len, bool leader,
                                   bool check_crc, st_batch_hdr_t *h)
{
    if (!frame || len == 0)
        return ST_ERR_CORRUPT_MESSAGE;
    if (leader && log->lg_cfg.max_message_bytes > 0 && len > (size_t)log->lg_cfg.max_message_bytes)
        return ST_ERR_MESSAGE_TOO_LARGE;
    if ((check_crc ? st_batch_validate(frame, len) : st_batch_validate_header(frame, len)) != ST_OK ||
        st_batch_hdr_decode(frame, len, h) != ST_OK)
        return ST_ERR_CORRUPT_MESSAGE;
    if (!leader)
        return ST_OK;
    /* only the cleaner makes sparse batches; a producer's are dense */
    if (h->last_offset_delta != h->record_count - 1)
        return ST_ERR_CORRUPT_MESSAGE;
    if (log->lg_cfg.cleanup_policy & SL_CLEANUP_COMPACT) {
        /* compaction is by key: refuse keyless records (Kafka does too) */
        st_batch_iter_t it;
        st_record_t r;
        st_err_t err = st_batch_iter_init(&it, frame, len);
        while (err == ST_OK && (err = st_batch_iter_next(&it, &r)) == ST_OK)
            if (!r.key)
                err = ST_ERR_CORRUPT_MESSAGE;
        st_batch_iter_fini(&it);
        if (err != ST_ERR_NOT_FOUND)
            return err == ST_ERR_NOMEM ? err : ST_ERR_CORRUPT_MESSAGE;
    }
    return ST_OK;
}

static st_err_t sl_log_append_leader(sl_log_t *log, uint8_t *frame, size_t len, int32_t leader_epoch,
                                     int64_t now_ms, bool check_crc, int64_t *base_offset)
{
    st_batch_hdr_t h;
    st_err_t err = sl_log_check_frame(log, frame, len, true, check_crc, &h);
    if (err != ST_OK)
        return err;
    st_batch_set_offset_epoch(frame, log->lg_end, leader_epoch);
    h.base_offset = log->lg_end;
    h.leader_epoch = leader_epoch;
    if ((err = sl_log_write(log, frame, len, &h, now_ms)) != ST_OK)
        return err;
    if (base_offset)
        *base_offset = h.base_offset;
    return sl_log_after_append(log, leader_epoch, h.base_offset, now_ms);
}

st_err_t sl_log_append(sl_log_t *log, uint8_t *frame, size_t len, int32_t leader_epoch,
                       int64_t now_ms, int64_t *base_offset)
{
    return sl_log_append_leader(log, frame, len, leader_epoch, now_ms, true, base_offset);
}

st_err_t sl_log_append_checked(sl_log_t *log, uint8_t *frame, size_t len, int32_t leader_epoch,
                               int64_t now_ms, int64_t *base_offset)
{
    return sl_log_append_leader(log, frame, len, leader_epoch, now_ms, false, base_offset);
}

static st_err_t sl_log_append_copies(sl_log_t *log, const uint8_t *frames, size_t len, int64_t now_ms,
                                     bool check_crc)
{
    /* check all first: a bad frame anywhere refuses the whole set */
    size_t pos = 0;
    int64_t next = log->lg_end;
    st_batch_hdr_t h;
    st_err_t err;
    if (len == 0)
        return ST_ERR_CORRUPT_MESSAGE;
    while (pos < len) {
        if (st_batch_hdr_decode(frames + pos, len - pos, &h) != ST_OK ||
            st_batch_frame_size(&h) > len - pos)
            return ST_ERR_CORRUPT_MESSAGE;
        size_t fs = st_batch_frame_size(&h);
        if ((err = sl_log_check_frame(log, frames + pos, fs, false, check_crc, &h)) != ST_OK)
            return err;
        if (h.base_offset != next)
            return ST_ERR_OFFSET_OUT_OF_RANGE;
        next = h.base_offset + h.last_offset_delta + 1;
        pos += fs;
    }
    for (pos = 0; pos < len;) {
        st_batch_hdr_decode(frames + pos, len - pos, &h);
        size_t fs = st_batch_frame_size(&h);
        if ((err = sl_log_write(log, frames + pos, fs, &h, now_ms)) != ST_OK)
            return err;
        if ((err = sl_log_after_append(log, h.leader_epoch, h.base_offset, now_ms)) != ST_OK)
            return err;
        pos += fs;
    }
    return ST_OK;
}

st_err_t sl_log_append_replica(sl_log_t *log, const uint8_t *frames, size_t len, int64_t now_ms)
{
    return sl_log_append_copies(log, frames, len, now_ms, true);
}

st_err_t sl_log_append_replica_checked(sl_log_t *log, const uint8_t *frames, size_t len,
                                       int64_t now_ms)
{
    return sl_log_append_copies(log, frames, len, now_ms, false);
}

/* ==== read =========================================================== */

/* Position of the first batch of sg whose last offset >= offset, and its
 * header; *pos = sg_size when there is none. */
static st_err_t sl_seg_locate(sl_seg_t *sg, int64_t offset, int64_t *pos_out, st_batch_hdr_t *h)
{
    int64_t pos = 0;
    uint32_t rel, p;
    if (offset > sg->sg_base &&
        sl_index_lookup_offset(&sg->sg_oix, (uint32_t)(offset - sg->sg_base), &rel, &p))
        pos = p;
    while (pos < sg->sg_size) {
        uint8_t hb[ST_BATCH_HEADER_SIZE];
        size_t got;
        st_err_t err = sl_pread_full(sg->sg_fd, hb, sizeof hb, pos, &got);
        if (err != ST_OK)
            return err;
        if (got != sizeof hb || st_batch_hdr_decode(hb, got, h) != ST_OK)
            return ST_ERR_CORRUPT;
        if (h->base_offset + h->last_offset_delta >= offset)
            break;
        pos += (int64_t)st_batch_frame_size(h);
    }
    *pos_out = pos < sg->sg_size ? pos : sg->sg_size;
    return ST_OK;
}

st_err_t sl_log_read(sl_log_t *log, int64_t offset, size_t max_bytes, int64_t max_offset, st_buf_t *out)
{
    if (offset < log->lg_start || offset > log->lg_end)
        return ST_ERR_OFFSET_OUT_OF_RANGE;
    if (max_offset < 0 || max_offset > log->lg_end)
        max_offset = log->lg_end;
    if (offset >= max_offset)
        return ST_OK;
    for (int i = sl_log_floor(log, offset); i >= 0 && i < log->lg_nseg; i++) {
        sl_seg_t *sg = log->lg_segs[i];
        if (offset >= sg->sg_next)
            continue;
        int64_t pos;
        st_batch_hdr_t h;
        st_err_t err = sl_seg_locate(sg, offset, &pos, &h);
        if (err != ST_OK)
            return err;
        if (pos >= sg->sg_size)
            continue;
        if (h.base_offset + h.last_offset_delta >= max_offset)
            return ST_OK; /* the batch reaches past the high watermark */
        size_t want = max_bytes < ST_BATCH_HEADER_SIZE ? ST_BATCH_HEADER_SIZE : max_bytes;
        if ((int64_t)want > sg->sg_size - pos)
            want = (size_t)(sg->sg_size - pos);
        size_t first = st_batch_frame_size(&h);
        if (want < first)
            want = first; /* at least one whole frame */
        if ((err = st_buf_reserve(out, want)) != ST_OK)
            return err;
        uint8_t *dst = out->data + out->len;
        size_t got;
        if ((err = sl_pread_full(sg->sg_fd, dst, want, pos, &got)) != ST_OK)
            return err;
        if (got < first)
            return ST_ERR_IO;
        size_t keep = 0;
        while (keep + ST_BATCH_HEADER_SIZE <= got) {
            st_batch_hdr_t fh;
            if (st_batch_hdr_decode(dst + keep, got - keep, &fh) != ST_OK)
                return ST_ERR_CORRUPT;
            size_t fs = st_batch_frame_size(&fh);
            if (keep + fs > got || fh.base_offset + fh.last_offset_delta >= max_offset)
                break;
            keep += fs;
        }
        out->len += keep;
        return ST_OK;
    }
    return ST_OK;
}

/* ==== time lookup ==================================================== */

st_err_t sl_log_offset_for_timestamp(sl_log_t *log, int64_t ts, int64_t *offset, int64_t *found_ts)
{
    st_buf_t fb;
    st_buf_init(&fb);
    st_err_t err = ST_ERR_NOT_FOUND;
    for (int i = 0; i < log->lg_nseg && err == ST_ERR_NOT_FOUND; i++) {
        sl_seg_t *sg = log->lg_segs[i];
        if (sg->sg_max_ts == SL_NO_TS || sg->sg_max_ts < ts || sg->sg_next <= log->lg_start)
            continue;
        /* records up to the last time entry below ts are all older */
        int64_t from = sg->sg_base, ets;
        uint32_t erel;
        if (sl_index_lookup_time(&sg->sg_tix, ts, &ets, &erel))
            from = sg->sg_base + erel + 1;
        if (from < log->lg_start)
            from = log->lg_start;
        int64_t pos;
        st_batch_hdr_t h;
        st_err_t e = sl_seg_locate(sg, from, &pos, &h);
        if (e != ST_OK) {
            err = e;
            break;
        }
        while (pos < sg->sg_size && err == ST_ERR_NOT_FOUND) {
            size_t fs = st_batch_frame_size(&h), got;
            if (h.max_timestamp >= ts) {
                fb.len = 0;
                if ((e = st_buf_reserve(&fb, fs)) != ST_OK ||
                    (e = sl_pread_full(sg->sg_fd, fb.data, fs, pos, &got)) != ST_OK) {
                    err = e;
                    break;
                }
                fb.len = got;
                st_batch_iter_t it;
                st_record_t r;
                if (got == fs && st_batch_iter_init(&it, fb.data, fs) == ST_OK) {
                    while (st_batch_iter_next(&it, &r) == ST_OK) {
                        if (r.offset >= from && r.timestamp >= ts) {
                            *offset = r.offset;
                            if (found_ts)
                                *found_ts = r.timestamp;
                            err = ST_OK;
                            break;
                        }
                    }
                }
                st_batch_iter_fini(&it);
            }
            pos += (int64_t)fs;
            if (err != ST_ERR_NOT_FOUND || pos >= sg->sg_size)
                break;
            uint8_t hb[ST_BATCH_HEADER_SIZE];
            if ((e = sl_pread_full(sg->sg_fd, hb, sizeof hb, pos, &got)) != ST_OK) {
                err = e;
                break;
            }
            if (got != sizeof hb || st_batch_hdr_decode(hb, got, &h) != ST_OK) {
                err = ST_ERR_CORRUPT;
                break;
            }
        }
    }
    st_buf_free(&fb);
    return err;
}

/* ==== truncation and retention ======================================= */

st_err_t sl_log_truncate_fully_and_start_at(sl_log_t *log, int64_t offset)
{
    if (offset < 0)
        return ST_ERR_INVALID_ARG;
    sl_seg_t *sg;
    /* the new segment may reuse a base: destroy the old ones first */
    sl_log_drop_tail(log, 0);
    st_err_t err = sl_seg_open(log, offset, true, true, &sg);
    if (err != ST_OK)
        return err;
    if ((err = sl_log_push(log, sg)) != ST_OK) {
        sl_seg_destroy(log, sg);
        return err;
    }
    log->lg_start = log->lg_end = log->lg_rp = offset;
    log->lg_unflushed = 0;
    log->lg_dir_dirty = true;
    if ((err = sl_epoch_clear(&log->lg_epochs)) != ST_OK)
        return err;
    if ((err = sl_log_save_start(log)) != ST_OK)
        return err;
    return sl_log_flush(log);
}

st_err_t sl_log_truncate_to(sl_log_t *log, int64_t offset)
{
    if (offset < 0)
        return ST_ERR_INVALID_ARG;
    if (offset >= log->lg_end)
        return ST_OK;
    if (offset < log->lg_start)
        return sl_log_truncate_fully_and_start_at(log, offset);
    log->lg_gen++;
    int i = sl_log_floor(log, offset);
    if (i < 0)
        i = 0;
    sl_seg_t *sg = log->lg_segs[i];
    int64_t pos;
    st_batch_hdr_t h;
    st_err_t err = sl_seg_locate(sg, offset, &pos, &h);
    if (err != ST_OK)
        return err;
    if (i + 1 < log->lg_nseg)
        sl_log_drop_tail(log, i + 1);
    int64_t new_end = pos < sg->sg_size ? h.base_offset : sg->sg_next;
    if (ftruncate(sg->sg_fd, (off_t)pos) != 0)
        return st_err_from_errno(errno);
    size_t on = sl_index_count_below_offset(&sg->sg_oix, UINT32_MAX, (uint32_t)pos);
    size_t tn = sl_index_count_below_time(&sg->sg_tix, (uint32_t)(new_end - sg->sg_base));
    if ((err = sl_index_truncate(&sg->sg_oix, on)) != ST_OK ||
        (err = sl_index_truncate(&sg->sg_tix, tn)) != ST_OK ||
        (err = sl_index_set_active(&sg->sg_oix, true, sl_log_index_max(log))) != ST_OK ||
        (err = sl_index_set_active(&sg->sg_tix, true, sl_log_index_max(log))) != ST_OK)
        return err;
    /* recompute the segment's end and largest timestamp from the tail */
    int64_t from = 0, next = sg->sg_base, checked = 0, bad;
    const char *why;
    sg->sg_max_ts = SL_NO_TS;
    if (tn > 0) {
        uint32_t trel;
        sl_index_time_at(&sg->sg_tix, tn - 1, &sg->sg_max_ts, &trel);
    }
    int64_t keep_ts = sg->sg_max_ts;
    if (on > 0) {
        uint32_t rel, p;
        sl_index_offset_at(&sg->sg_oix, on - 1, &rel, &p);
        from = p;
        next = sg->sg_base + rel;
    }
    err = sl_seg_scan(log, sg, from, next, false, &checked, &bad, &why);
    st_buf_free(&log->lg_scratch);
    if (err != ST_OK)
        return err;
    if (why) {
        ST_ERROR(SL_TAG, "%s: segment %" PRId64 " unreadable after truncation: %s", log->lg_dir,
                 sg->sg_base, why);
        return ST_ERR_CORRUPT;
    }
    if (keep_ts > sg->sg_max_ts)
        sg->sg_max_ts = keep_ts;
    sg->sg_idx_bytes = sg->sg_size - from;
    if (sg->sg_size == 0)
        sg->sg_roll_base = SL_NO_TS;
    sg->sg_dirty = true;
    log->lg_end = sg->sg_next;
    if (log->lg_rp > log->lg_end)
        log->lg_rp = log->lg_end;
    if ((err = sl_epoch_truncate_end(&log->lg_epochs, log->lg_end)) != ST_OK)
        return err;
    /* a divergent suffix must not come back after a crash */
    int64_t rp = log->lg_rp;
    err = sl_log_flush(log);
    log->lg_rp = rp;
    return err;
}

/* Delete closed segments wholly below the start offset. */
static int sl_log_drop_below_start(sl_log_t *log)
{
    int n = 0;
    while (n < log->lg_nseg - 1 && log->lg_segs[n]->sg_next <= log->lg_start)
        n++;
    if (n > 0)
        sl_log_drop_head(log, n);
    return n;
}

st_err_t sl_log_set_start_offset(sl_log_t *log, int64_t offset)
{
    if (offset < 0 || offset > log->lg_end)
        return ST_ERR_OFFSET_OUT_OF_RANGE;
    if (offset <= log->lg_start)
        return ST_OK;
    st_err_t err;
    sl_seg_t *act = sl_log_active(log);
    if (offset == log->lg_end && act->sg_size > 0 && (err = sl_log_roll(log, 0)) != ST_OK)
        return err;
    log->lg_start = offset;
    sl_log_drop_below_start(log);
    if ((err = sl_epoch_truncate_start(&log->lg_epochs, offset)) != ST_OK)
        return err;
    return sl_log_save_start(log);
}

st_err_t sl_log_enforce_retention(sl_log_t *log, int64_t now_ms, int *deleted)
{
    st_err_t err;
    int n = 0;
    sl_seg_t *act = sl_log_active(log);
    if (act->sg_size > 0 && log->lg_cfg.segment_ms > 0 && act->sg_roll_base != SL_NO_TS &&
        now_ms - act->sg_roll_base >= log->lg_cfg.segment_ms && (err = sl_log_roll(log, now_ms)) != ST_OK)
        return err;
    /* 0 (a zeroed config from before cleanup.policy existed) means delete */
    bool del = log->lg_cfg.cleanup_policy == 0 || (log->lg_cfg.cleanup_policy & SL_CLEANUP_DELETE) != 0;
    {
        /* empty closed segments at the head (left by the cleaner) hold
         * nothing: drop them whatever the policy */
        int k = 0;
        while (k < log->lg_nseg - 1 && log->lg_segs[k]->sg_size == 0)
            k++;
        if (k > 0)
            sl_log_drop_head(log, k);
        n += k;
    }
    if (del && log->lg_cfg.retention_ms >= 0) {
        int k = 0;
        while (k < log->lg_nseg - 1) {
            sl_seg_t *sg = log->lg_segs[k];
            int64_t ts = sg->sg_max_ts;
            if (ts == SL_NO_TS) {
                /* no timestamps: fall back to the file's modification time */
                struct stat st;
                ts = fstat(sg->sg_fd, &st) == 0 ? (int64_t)st.st_mtime * 1000 : now_ms;
            }
            if (now_ms - ts <= log->lg_cfg.retention_ms)
                break;
            k++;
        }
        if (k > 0)
            sl_log_drop_head(log, k);
        n += k;
    }
    if (del && log->lg_cfg.retention_bytes >= 0) {
        int64_t excess = sl_log_size_bytes(log) - log->lg_cfg.retention_bytes;
        int k = 0;
        while (k < log->lg_nseg - 1 && excess >= log->lg_segs[k]->sg_size && excess > 0) {
            excess -= log->lg_segs[k]->sg_size;
            k++;
        }
        if (k > 0)
            sl_log_drop_head(log, k);
        n += k;
    }
    n += sl_log_drop_below_start(log);
    if (log->lg_segs[0]->sg_base > log->lg_start) {
        log->lg_start = log->lg_segs[0]->sg_base;
        if ((err = sl_epoch_truncate_start(&log->lg_epochs, log->lg_start)) != ST_OK)
            return err;
        if ((err = sl_log_save_start(log)) != ST_OK)
            return err;
    }
    if (n > 0)
        ST_INFO(SL_TAG, "%s: retention deleted %d segment(s), start offset now %" PRId64, log->lg_dir, n,
                log->lg_start);
    if (deleted)
        *deleted = n;
    return ST_OK;
}

/* ==== leader epochs ================================================== */

st_err_t sl_log_assign_epoch(sl_log_t *log, int32_t epoch, int64_t start_offset)
{
    return sl_epoch_assign(&log->lg_epochs, epoch, start_offset);
}

st_err_t sl_log_checkpoint_epochs(sl_log_t *log)
{
    return sl_epoch_checkpoint(&log->lg_epochs);
}

int32_t sl_log_latest_epoch(const sl_log_t *log)
{
    return sl_epoch_latest(&log->lg_epochs);
}

void sl_log_end_offset_for_epoch(const sl_log_t *log, int32_t epoch, int32_t *epoch_out, int64_t *end_offset)
{
    sl_epoch_end_offset(&log->lg_epochs, epoch, log->lg_end, epoch_out, end_offset);
}

/* ==== for the log cleaner ============================================ */

const sl_log_config_t *sl_log_config(const sl_log_t *log)
{
    return &log->lg_cfg;
}

st_err_t sl_log_closed_segments(const sl_log_t *log, sl_seg_info_t **out, int *n)
{
    int cnt = log->lg_nseg - 1;
    *out = NULL;
    *n = 0;
    if (cnt <= 0)
        return ST_OK;
    sl_seg_info_t *v = calloc((size_t)cnt, sizeof *v);
    if (!v)
        return ST_ERR_NOMEM;
    for (int i = 0; i < cnt; i++) {
        const sl_seg_t *sg = log->lg_segs[i];
        v[i] = (sl_seg_info_t){sg->sg_base, sg->sg_next, sg->sg_size, sg->sg_max_ts};
    }
    *out = v;
    *n = cnt;
    return ST_OK;
}

uint64_t sl_log_generation(const sl_log_t *log)
{
    return log->lg_gen;
}

st_err_t sl_log_reload_segment(sl_log_t *log, int64_t base)
{
    int i = sl_log_floor(log, base);
    if (i < 0 || i >= log->lg_nseg - 1 || log->lg_segs[i]->sg_base != base)
        return ST_ERR_NOT_FOUND;
    sl_seg_t *sg;
    st_err_t err = sl_seg_open(log, base, false, false, &sg);
    if (err != ST_OK)
        return err;
    if (!sl_seg_check_tail(log, sg)) {
        int64_t checked = 0, bad;
        const char *why;
        ST_WARN(SL_TAG, "%s: cleaned segment %020" PRId64 ": index inconsistent, rebuilding", log->lg_dir,
                base);
        err = sl_seg_rebuild(log, sg, &checked, &bad, &why);
        if (err == ST_OK && why) {
            ST_ERROR(SL_TAG, "%s: cleaned segment %020" PRId64 " is corrupt at %" PRId64 ": %s",
                     log->lg_dir, base, bad, why);
            err = ST_ERR_CORRUPT;
        }
        if (err != ST_OK) {
            st_buf_free(&log->lg_scratch);
            sl_seg_free(sg);
            return err;
        }
        sl_seg_seal(log, sg);
    }
    st_buf_free(&log->lg_scratch);
    sl_seg_free(log->lg_segs[i]);
    log->lg_segs[i] = sg;
    log->lg_gen++;
    return ST_OK;
}
