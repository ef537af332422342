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
#include "storage/sl_log_int.h"

#include <stdatomic.h>

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

/* ==== segments ======================================================= */

/* Remove segments [from, nseg) or [0, n) from the array, destroying them. */
void sl_log_drop_tail(sl_log_t *log, int from)
{
    if (from < log->lg_nseg)
        log->lg_gen++;
    for (int i = from; i < log->lg_nseg; i++)
        sl_seg_destroy(log, log->lg_segs[i]);
    log->lg_nseg = from;
}

void sl_log_drop_head(sl_log_t *log, int n)
{
    log->lg_gen++;
    for (int i = 0; i < n; i++)
        sl_seg_destroy(log, log->lg_segs[i]);
    memmove(log->lg_segs, log->lg_segs + n, (size_t)(log->lg_nseg - n) * sizeof *log->lg_segs);
    log->lg_nseg -= n;
}

st_err_t sl_log_push(sl_log_t *log, sl_seg_t *sg)
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

/* ==== scanning ======================================================= */

/* ==== start offset file ============================================== */

st_err_t sl_log_save_start(sl_log_t *log)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", log->lg_dir, SL_START_FILE);
    if (log->lg_start <= log->lg_segs[0]->sg_base) {
        if (unlink(path) == 0)
            log->lg_dir_dirty = true;
        return ST_OK;
    }
    return sl_file_write_i64(log->lg_dir, SL_START_FILE, log->lg_start);
}

static int64_t sl_log_load_start(const char *dir)
{
    return sl_file_read_i64(dir, SL_START_FILE);
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

st_err_t sl_log_open(const char *dir, const sl_log_config_t *cfg, int64_t recovery_point, bool clean_shutdown,
                     sl_log_t **out, sl_recovery_info_t *info)
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
            ST_WARN(SL_TAG, "%s: segment %020" PRId64 ": index missing or inconsistent, rebuilding", dir,
                    sg->sg_base);
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
        ST_WARN(SL_TAG,
                "%s: corrupt or torn data in %s at byte %" PRId64 " (%s): truncating %" PRId64
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
        ST_INFO(SL_TAG, "%s: leader epoch %" PRId32 " at %" PRId64 " rebuilt from the log", dir, se->epoch,
                se->start);
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

/* Process-wide, for metrics (sl_log_totals); any thread. */
static _Atomic uint64_t sl_log_flushes_total, sl_log_rolls_total;

void sl_log_totals(uint64_t *flushes, uint64_t *rolls)
{
    *flushes = atomic_load_explicit(&sl_log_flushes_total, memory_order_relaxed);
    *rolls = atomic_load_explicit(&sl_log_rolls_total, memory_order_relaxed);
}

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
    atomic_fetch_add_explicit(&sl_log_flushes_total, 1, memory_order_relaxed);
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
st_err_t sl_log_roll(sl_log_t *log, int64_t now_ms)
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
    atomic_fetch_add_explicit(&sl_log_rolls_total, 1, memory_order_relaxed);
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
    /* any change of epoch, also a lower one a follower copies after
     * truncation: the cache drops entries it contradicts (Kafka's assign) */
    if (epoch >= 0 && epoch != sl_epoch_latest(&log->lg_epochs)) {
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

st_err_t sl_log_append(sl_log_t *log, uint8_t *frame, size_t len, int32_t leader_epoch, int64_t now_ms,
                       int64_t *base_offset)
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
        if (st_batch_hdr_decode(frames + pos, len - pos, &h) != ST_OK || st_batch_frame_size(&h) > len - pos)
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

st_err_t sl_log_append_replica_checked(sl_log_t *log, const uint8_t *frames, size_t len, int64_t now_ms)
{
    return sl_log_append_copies(log, frames, len, now_ms, false);
}

/* ==== read =========================================================== */

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
        if ((err = sl_seg_pread_full(sg->sg_fd, dst, want, pos, &got)) != ST_OK)
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
                    (e = sl_seg_pread_full(sg->sg_fd, fb.data, fs, pos, &got)) != ST_OK) {
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
            if ((e = sl_seg_pread_full(sg->sg_fd, hb, sizeof hb, pos, &got)) != ST_OK) {
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
            ST_ERROR(SL_TAG, "%s: cleaned segment %020" PRId64 " is corrupt at %" PRId64 ": %s", log->lg_dir,
                     base, bad, why);
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
