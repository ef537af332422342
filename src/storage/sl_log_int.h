/*
 * sl_log_int: what the pieces of one partition log share: sl_log.c (open,
 * recovery, append, read, flush, epochs, the cleaner's hooks),
 * sl_segment.c (one segment: files, indexes, scans, tail checks) and
 * sl_log_trim.c (truncation, start offset, retention). Not for use
 * outside src/storage/sl_log*.c and sl_segment.c: everything else talks
 * to sl_log.h. The invariants are listed at the top of sl_log.c.
 */
#ifndef SL_LOG_INT_H
#define SL_LOG_INT_H

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
    int64_t lg_unflushed; /* records appended since the last flush */
    int64_t lg_last_flush_ms;
    bool lg_dir_dirty; /* directory entries changed since the last fsync */
    uint64_t lg_gen;   /* bumped when a closed segment is removed/changed */
    sl_epoch_cache_t lg_epochs;
    bool lg_seen_on;          /* sl_log_open: frame scans fill lg_seen */
    sl_epoch_cache_t lg_seen; /* (epoch, first offset) runs of scanned frames */
    st_buf_t lg_scratch;
};

/* A sequential reader over one segment file through lg_scratch. */
typedef struct sl_reader {
    int fd;
    int64_t file_size;
    int64_t buf_pos; /* file position of scratch.data[0] */
    st_buf_t *buf;
} sl_reader_t;

/* ---- small helpers -------------------------------------------------- */

static inline int64_t sl_log_seg_limit(const sl_log_t *log)
{
    int64_t lim = log->lg_cfg.segment_bytes;
    return lim <= 0 || lim > INT32_MAX ? INT32_MAX : lim;
}

static inline size_t sl_log_index_max(const sl_log_t *log)
{
    int32_t b = log->lg_cfg.segment_index_bytes;
    return b < 4 * SL_INDEX_TIME_ENTRY ? 4 * SL_INDEX_TIME_ENTRY : (size_t)b;
}

static inline sl_seg_t *sl_log_active(const sl_log_t *log)
{
    return log->lg_segs[log->lg_nseg - 1];
}

/* Index of the last segment with base <= offset, or -1. */
static inline int sl_log_floor(const sl_log_t *log, int64_t offset)
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

/* ---- sl_segment.c -------------------------------------------------- */

void sl_seg_path(const sl_log_t *log, int64_t base, const char *ext, char *out, size_t n);
st_err_t sl_seg_pread_full(int fd, void *buf, size_t n, int64_t pos, size_t *got);
void sl_seg_free(sl_seg_t *sg);
st_err_t sl_seg_open(sl_log_t *log, int64_t base, bool create, bool active, sl_seg_t **out);
void sl_seg_destroy(sl_log_t *log, sl_seg_t *sg);
st_err_t sl_seg_index_batch(sl_log_t *log, sl_seg_t *sg, int64_t pos, const st_batch_hdr_t *h);
void sl_seg_account(sl_seg_t *sg, const st_batch_hdr_t *h, size_t len);
void sl_seg_seal(sl_log_t *log, sl_seg_t *sg);
st_err_t sl_seg_scan(sl_log_t *log, sl_seg_t *sg, int64_t pos, int64_t next, bool rebuild, int64_t *checked,
                     int64_t *bad_pos, const char **why);
st_err_t sl_seg_rebuild(sl_log_t *log, sl_seg_t *sg, int64_t *checked, int64_t *bad_pos, const char **why);
bool sl_seg_check_tail(sl_log_t *log, sl_seg_t *sg);
st_err_t sl_seg_locate(sl_seg_t *sg, int64_t offset, int64_t *pos_out, st_batch_hdr_t *h);

/* ---- sl_log.c ------------------------------------------------------ */

void sl_log_drop_tail(sl_log_t *log, int from);
void sl_log_drop_head(sl_log_t *log, int n);
st_err_t sl_log_push(sl_log_t *log, sl_seg_t *sg);
st_err_t sl_log_save_start(sl_log_t *log);
st_err_t sl_log_roll(sl_log_t *log, int64_t now_ms);

#endif
