/*
 * sl_segment: one segment of a partition log (see sl_log_int.h): its .log
 * file and its offset and time indexes, opened, sealed when the log rolls,
 * destroyed; the sequential scans that check frames (CRC) and rebuild the
 * indexes during recovery, the check of an active segment's tail, and
 * the lookup of the batch holding an offset.
 */
#include "storage/sl_log_int.h"

void sl_seg_path(const sl_log_t *log, int64_t base, const char *ext, char *out, size_t n)
{
    snprintf(out, n, "%s/%020" PRId64 ".%s", log->lg_dir, base, ext);
}

st_err_t sl_seg_pread_full(int fd, void *buf, size_t n, int64_t pos, size_t *got)
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

void sl_seg_free(sl_seg_t *sg)
{
    if (!sg)
        return;
    sl_index_close(&sg->sg_oix);
    sl_index_close(&sg->sg_tix);
    if (sg->sg_fd >= 0)
        close(sg->sg_fd);
    free(sg);
}

/* Open (create) the three files of a segment. Indexes are opened inactive
 * (trimmed to their valid prefix) unless active. */
st_err_t sl_seg_open(sl_log_t *log, int64_t base, bool create, bool active, sl_seg_t **out)
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
void sl_seg_destroy(sl_log_t *log, sl_seg_t *sg)
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

/* Index entries for a batch of header h about to occupy [pos, pos+len)
 * of sg (called before the batch is accounted in sg). On error no entry
 * of this batch stays (the caller cuts the .log back). */
st_err_t sl_seg_index_batch(sl_log_t *log, sl_seg_t *sg, int64_t pos, const st_batch_hdr_t *h)
{
    if (pos == 0 || sg->sg_idx_bytes < log->lg_cfg.index_interval_bytes)
        return ST_OK;
    size_t on = sg->sg_oix.ix_n;
    st_err_t err =
        sl_index_append_offset(&sg->sg_oix, (uint32_t)(h->base_offset - sg->sg_base), (uint32_t)pos);
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
void sl_seg_account(sl_seg_t *sg, const st_batch_hdr_t *h, size_t len)
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
void sl_seg_seal(sl_log_t *log, sl_seg_t *sg)
{
    sl_seg_final_time_entry(sg);
    if (sl_index_set_active(&sg->sg_oix, false, 0) != ST_OK ||
        sl_index_set_active(&sg->sg_tix, false, 0) != ST_OK)
        ST_WARN(SL_TAG, "%s: segment %" PRId64 ": cannot trim indexes (rebuilt on next open)", log->lg_dir,
                sg->sg_base);
}

/* Make [pos, pos+n) available; *p points at it. ST_ERR_NOT_FOUND when the
 * file ends before. */
static st_err_t sl_seg_reader_get(sl_reader_t *r, int64_t pos, size_t n, const uint8_t **p)
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
    if ((err = sl_seg_pread_full(r->fd, r->buf->data, want, pos, &got)) != ST_OK)
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
st_err_t sl_seg_scan(sl_log_t *log, sl_seg_t *sg, int64_t pos, int64_t next, bool rebuild, int64_t *checked,
                     int64_t *bad_pos, const char **why)
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
        st_err_t err = sl_seg_reader_get(&r, pos, ST_BATCH_HEADER_SIZE, &p);
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
        if ((err = sl_seg_reader_get(&r, pos, fs, &p)) != ST_OK)
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
st_err_t sl_seg_rebuild(sl_log_t *log, sl_seg_t *sg, int64_t *checked, int64_t *bad_pos, const char **why)
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
bool sl_seg_check_tail(sl_log_t *log, sl_seg_t *sg)
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
        if (sl_seg_pread_full(sg->sg_fd, hb, sizeof hb, p, &got) != ST_OK || got != sizeof hb ||
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
    if (sg->sg_size > 0 && sl_seg_pread_full(sg->sg_fd, hb, sizeof hb, 0, &got) == ST_OK &&
        got == sizeof hb && st_batch_hdr_decode(hb, got, &h) == ST_OK)
        sg->sg_roll_base = h.max_timestamp;
    return true;
}

/* Position of the first batch of sg whose last offset >= offset, and its
 * header; *pos = sg_size when there is none. */
st_err_t sl_seg_locate(sl_seg_t *sg, int64_t offset, int64_t *pos_out, st_batch_hdr_t *h)
{
    int64_t pos = 0;
    uint32_t rel, p;
    if (offset > sg->sg_base &&
        sl_index_lookup_offset(&sg->sg_oix, (uint32_t)(offset - sg->sg_base), &rel, &p))
        pos = p;
    while (pos < sg->sg_size) {
        uint8_t hb[ST_BATCH_HEADER_SIZE];
        size_t got;
        st_err_t err = sl_seg_pread_full(sg->sg_fd, hb, sizeof hb, pos, &got);
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
