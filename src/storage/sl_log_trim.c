/*
 * sl_log_trim: the ways a partition log gets shorter (see sl_log_int.h):
 * truncation to an offset (a follower after an epoch check), truncation of
 * everything to restart at an offset, moving the log start offset (delete
 * records), and retention by time and size. Segments are removed whole,
 * from the head for retention and from the tail for truncation.
 */
#include "storage/sl_log_int.h"

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
        ST_ERROR(SL_TAG, "%s: segment %" PRId64 " unreadable after truncation: %s", log->lg_dir, sg->sg_base,
                 why);
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

/* Closed segments at the head wholly below upper (-1: all closed ones). */
static int sl_log_deletable(const sl_log_t *log, int64_t upper)
{
    int k = 0;
    while (k < log->lg_nseg - 1 && (upper < 0 || log->lg_segs[k]->sg_next <= upper))
        k++;
    return k;
}

st_err_t sl_log_enforce_retention(sl_log_t *log, int64_t now_ms, int64_t upper, int *deleted)
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
        int k = 0, max = sl_log_deletable(log, upper);
        while (k < max) {
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
        int k = 0, max = sl_log_deletable(log, upper);
        while (k < max && excess >= log->lg_segs[k]->sg_size && excess > 0) {
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
