/*
 * Unit tests of sl_log and sl_logdir: append/read/offsets, rolling by
 * bytes, time and index size, retention, time lookups, truncation, the
 * leader-epoch cache (and its lazy checkpoint across a crash), flush policy and the recovery point, clean reopen,
 * follower appends, and the log directory's checkpoints and marker.
 */
#include <dirent.h>
#include <unistd.h>

#include "storage/sl_logdir.h"
#include "tsl.h"

static char *tl_dir;
static char tl_path[512];

static int tl_setup(void)
{
    tl_dir = tu_tmpdir("strata-log");
    return tl_dir ? 0 : 1;
}

static int tl_teardown(void)
{
    tu_rmrf(tl_dir);
    free(tl_dir);
    return 0;
}

/* A fresh partition directory per test. */
static const char *tl_fresh(const char *name)
{
    snprintf(tl_path, sizeof tl_path, "%s/%s", tl_dir, name);
    tu_rmrf(tl_path);
    return tl_path;
}

static int tl_count_files(const char *dir, const char *ext)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *de;
    size_t el = strlen(ext);
    while (d && (de = readdir(d))) {
        size_t l = strlen(de->d_name);
        if (l == 20 + el && !strcmp(de->d_name + 20, ext))
            n++;
    }
    if (d)
        closedir(d);
    return n;
}

static void test_append_read(void)
{
    sl_log_config_t c;
    sl_log_t *log;
    tsl_cfg(&c);
    c.segment_bytes = 1 << 20;
    CU_ASSERT_EQUAL_FATAL(sl_log_open(tl_fresh("ar"), &c, -1, false, &log, NULL), ST_OK);
    CU_ASSERT_EQUAL(sl_log_start_offset(log), 0);
    CU_ASSERT_EQUAL(sl_log_end_offset(log), 0);
    for (int i = 0; i < 50; i++)
        CU_ASSERT_EQUAL(tsl_append(log, 3, 1000 + i * 10, i, 20, 0), i * 3);
    CU_ASSERT_EQUAL(sl_log_end_offset(log), 150);
    CU_ASSERT_EQUAL(tsl_walk(log), 50);

    st_buf_t out;
    st_buf_init(&out);
    /* any offset inside a batch returns that whole batch first */
    CU_ASSERT_EQUAL(sl_log_read(log, 31, 1, -1, &out), ST_OK);
    st_batch_hdr_t h;
    CU_ASSERT_EQUAL_FATAL(st_batch_hdr_decode(out.data, out.len, &h), ST_OK);
    CU_ASSERT_EQUAL(h.base_offset, 30);
    CU_ASSERT_EQUAL(out.len, st_batch_frame_size(&h));
    CU_ASSERT_EQUAL(tsl_frame_tag(out.data, out.len), 10);
    /* max_bytes: only whole frames, several of them */
    out.len = 0;
    CU_ASSERT_EQUAL(sl_log_read(log, 0, 3 * st_batch_frame_size(&h) + 10, -1, &out), ST_OK);
    CU_ASSERT_EQUAL(out.len, 3 * st_batch_frame_size(&h));
    /* max_offset (high watermark) bounds the read */
    out.len = 0;
    CU_ASSERT_EQUAL(sl_log_read(log, 0, 1 << 20, 9, &out), ST_OK);
    CU_ASSERT_EQUAL(out.len, 3 * st_batch_frame_size(&h));
    out.len = 0;
    CU_ASSERT_EQUAL(sl_log_read(log, 9, 1 << 20, 9, &out), ST_OK);
    CU_ASSERT_EQUAL(out.len, 0);
    /* the end gives nothing; past it or below start is out of range */
    CU_ASSERT_EQUAL(sl_log_read(log, 150, 1000, -1, &out), ST_OK);
    CU_ASSERT_EQUAL(out.len, 0);
    CU_ASSERT_EQUAL(sl_log_read(log, 151, 1000, -1, &out), ST_ERR_OFFSET_OUT_OF_RANGE);
    CU_ASSERT_EQUAL(sl_log_read(log, -1, 1000, -1, &out), ST_ERR_OFFSET_OUT_OF_RANGE);

    /* refused frames leave the log unchanged */
    st_buf_t f;
    st_buf_init(&f);
    tsl_frame(&f, 2, 5000, 99, 10);
    int64_t base;
    f.data[f.len - 1] ^= 1;
    CU_ASSERT_EQUAL(sl_log_append(log, f.data, f.len, 0, 0, &base), ST_ERR_CORRUPT_MESSAGE);
    f.data[f.len - 1] ^= 1;
    CU_ASSERT_EQUAL(sl_log_append(log, f.data, 0, 0, 0, &base), ST_ERR_CORRUPT_MESSAGE);
    CU_ASSERT_EQUAL(sl_log_append(log, f.data, f.len - 1, 0, 0, &base), ST_ERR_CORRUPT_MESSAGE);
    f.len = 0;
    tsl_frame(&f, 1, 5000, 99, 3000);
    c.max_message_bytes = 1000;
    sl_log_set_config(log, &c);
    CU_ASSERT_EQUAL(sl_log_append(log, f.data, f.len, 0, 0, &base), ST_ERR_MESSAGE_TOO_LARGE);
    CU_ASSERT_EQUAL(sl_log_end_offset(log), 150);
    /* a frame larger than max_bytes is still returned whole */
    c.max_message_bytes = 1 << 20;
    sl_log_set_config(log, &c);
    CU_ASSERT_EQUAL(sl_log_append(log, f.data, f.len, 0, 0, &base), ST_OK);
    CU_ASSERT_EQUAL(base, 150);
    out.len = 0;
    CU_ASSERT_EQUAL(sl_log_read(log, 150, 100, -1, &out), ST_OK);
    CU_ASSERT_EQUAL(out.len, f.len);
    CU_ASSERT_EQUAL(tsl_frame_tag(out.data, out.len), 99);
    st_buf_free(&f);
    st_buf_free(&out);
    sl_log_close(log);
}

static void test_roll_bytes(void)
{
    sl_log_config_t c;
    sl_log_t *log;
    tsl_cfg(&c);
    const char *dir = tl_fresh("rollb");
    CU_ASSERT_EQUAL_FATAL(sl_log_open(dir, &c, -1, false, &log, NULL), ST_OK);
    for (int i = 0; i < 200; i++)
        CU_ASSERT_EQUAL(tsl_append(log, 2, 1000 + i, i, 200, 0), i * 2);
    int segs = sl_log_segment_count(log);
    CU_ASSERT_TRUE(segs >= 4);
    CU_ASSERT_EQUAL(tl_count_files(dir, ".log"), segs);
    CU_ASSERT_EQUAL(tl_count_files(dir, ".index"), segs);
    CU_ASSERT_EQUAL(tl_count_files(dir, ".timeindex"), segs);
    /* no segment exceeds segment.bytes */
    DIR *d = opendir(dir);
    struct dirent *de;
    while ((de = readdir(d))) {
        if (strstr(de->d_name, ".log")) {
            char p[1024];
            snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
            CU_ASSERT_TRUE(tsl_file_size(p) <= c.segment_bytes);
        }
    }
    closedir(d);
    CU_ASSERT_EQUAL(tsl_walk(log), 200);
    /* every batch is found again by offset, whatever segment it is in */
    st_buf_t out;
    st_buf_init(&out);
    for (int i = 0; i < 200; i += 7) {
        out.len = 0;
        CU_ASSERT_EQUAL(sl_log_read(log, i * 2 + 1, 1, -1, &out), ST_OK);
        CU_ASSERT_EQUAL(tsl_frame_tag(out.data, out.len), i);
    }
    st_buf_free(&out);
    sl_log_close(log);
    /* the first segment file carries the 20-digit base offset name */
    char p[1024];
    snprintf(p, sizeof p, "%s/00000000000000000000.log", dir);
    CU_ASSERT_TRUE(tsl_file_size(p) > 0);
}

static void test_roll_time_and_index(void)
{
    sl_log_config_t c;
    sl_log_t *log;
    tsl_cfg(&c);
    c.segment_bytes = 1 << 20;
    c.segment_ms = 1000;
    CU_ASSERT_EQUAL_FATAL(sl_log_open(tl_fresh("rollt"), &c, -1, false, &log, NULL), ST_OK);
    tsl_append(log, 1, 0, 0, 10, 10000);
    tsl_append(log, 1, 0, 1, 10, 10500);
    CU_ASSERT_EQUAL(sl_log_segment_count(log), 1);
    tsl_append(log, 1, 0, 2, 10, 11000); /* segment.ms reached */
    CU_ASSERT_EQUAL(sl_log_segment_count(log), 2);
    tsl_append(log, 1, 0, 3, 10, 11500);
    CU_ASSERT_EQUAL(sl_log_segment_count(log), 2);
    /* retention's timer rolls an idle active segment */
    int deleted = -1;
    CU_ASSERT_EQUAL(sl_log_enforce_retention(log, 12100, -1, &deleted), ST_OK);
    CU_ASSERT_EQUAL(deleted, 0);
    CU_ASSERT_EQUAL(sl_log_segment_count(log), 3);
    CU_ASSERT_EQUAL(tsl_walk(log), 4);
    sl_log_close(log);

    /* a full offset index rolls too: 64 bytes = 8 entries, one per batch */
    tsl_cfg(&c);
    c.segment_bytes = 1 << 20;
    c.segment_index_bytes = 64;
    c.index_interval_bytes = 1;
    CU_ASSERT_EQUAL_FATAL(sl_log_open(tl_fresh("rolli"), &c, -1, false, &log, NULL), ST_OK);
    for (int i = 0; i < 40; i++)
        tsl_append(log, 1, 100 + i, i, 10, 0);
    CU_ASSERT_TRUE(sl_log_segment_count(log) >= 5);
    CU_ASSERT_EQUAL(tsl_walk(log), 40);
    sl_log_close(log);
}

static void test_retention(void)
{
    sl_log_config_t c;
    sl_log_t *log;
    tsl_cfg(&c);
    c.segment_bytes = 2048;
    CU_ASSERT_EQUAL_FATAL(sl_log_open(tl_fresh("ret"), &c, -1, false, &log, NULL), ST_OK);
    /* timestamps 1000, 2000, ... one batch ~ 680 bytes: 3 per segment */
    for (int i = 0; i < 20; i++)
        tsl_append(log, 1, 1000 * (i + 1), i, 600, 0);
    int segs = sl_log_segment_count(log);
    CU_ASSERT_TRUE_FATAL(segs >= 6);
    int deleted = 0;
    /* nothing expires with retention.ms = -1 */
    CU_ASSERT_EQUAL(sl_log_enforce_retention(log, 100000, -1, &deleted), ST_OK);
    CU_ASSERT_EQUAL(deleted, 0);
    /* retention.ms 10000 at now 15500: segments whose newest record is
     * older than 5500 go */
    c.retention_ms = 10000;
    sl_log_set_config(log, &c);
    CU_ASSERT_EQUAL(sl_log_enforce_retention(log, 15500, -1, &deleted), ST_OK);
    CU_ASSERT_TRUE(deleted >= 1);
    int64_t start = sl_log_start_offset(log);
    CU_ASSERT_TRUE(start > 0 && start <= 5);
    st_buf_t out;
    st_buf_init(&out);
    CU_ASSERT_EQUAL(sl_log_read(log, start - 1, 100, -1, &out), ST_ERR_OFFSET_OUT_OF_RANGE);
    CU_ASSERT_EQUAL(sl_log_read(log, start, 100, -1, &out), ST_OK);
    CU_ASSERT_TRUE(out.len > 0);
    /* the batch at 4 (ts 5000) is gone, the one at 5 (ts 6000) stays */
    CU_ASSERT_EQUAL(sl_log_read(log, 5, 100, -1, &out), ST_OK);
    /* everything expired: only the active segment remains */
    CU_ASSERT_EQUAL(sl_log_enforce_retention(log, 1000000, -1, &deleted), ST_OK);
    CU_ASSERT_EQUAL(sl_log_segment_count(log), 1);
    CU_ASSERT_EQUAL(sl_log_end_offset(log), 20);
    CU_ASSERT_TRUE(sl_log_start_offset(log) > 15);
    CU_ASSERT_EQUAL(tsl_walk(log) >= 1, 1);
    sl_log_close(log);

    /* by size */
    tsl_cfg(&c);
    c.segment_bytes = 2048;
    CU_ASSERT_EQUAL_FATAL(sl_log_open(tl_fresh("rets"), &c, -1, false, &log, NULL), ST_OK);
    for (int i = 0; i < 20; i++)
        tsl_append(log, 1, 1000 * (i + 1), i, 600, 0);
    int64_t size = sl_log_size_bytes(log);
    c.retention_bytes = 5000;
    sl_log_set_config(log, &c);
    CU_ASSERT_EQUAL(sl_log_enforce_retention(log, 0, -1, &deleted), ST_OK);
    CU_ASSERT_TRUE(deleted > 0);
    CU_ASSERT_TRUE(sl_log_size_bytes(log) < size);
    CU_ASSERT_TRUE(sl_log_size_bytes(log) <= 5000 + 2048);
    CU_ASSERT_TRUE(sl_log_size_bytes(log) > 5000 - 2048);
    CU_ASSERT_EQUAL(sl_log_end_offset(log), 20);
    CU_ASSERT_TRUE(tsl_walk(log) > 0);
    c.retention_bytes = 0;
    sl_log_set_config(log, &c);
    CU_ASSERT_EQUAL(sl_log_enforce_retention(log, 0, -1, &deleted), ST_OK);
    CU_ASSERT_EQUAL(sl_log_segment_count(log), 1); /* never the active one */
    st_buf_free(&out);
    sl_log_close(log);
}

static void test_time_lookup(void)
{
    sl_log_config_t c;
    sl_log_t *log;
    tsl_cfg(&c);
    c.segment_bytes = 4096;
    c.index_interval_bytes = 256;
    const char *dir = tl_fresh("time");
    CU_ASSERT_EQUAL_FATAL(sl_log_open(dir, &c, -1, false, &log, NULL), ST_OK);
    /* batch i: 4 records, timestamps 100*i + {0,1,2,3} */
    for (int i = 0; i < 100; i++)
        tsl_append(log, 4, 100 * i, i, 50, 0);
    CU_ASSERT_TRUE(sl_log_segment_count(log) > 3);
    for (int pass = 0; pass < 2; pass++) {
        int64_t off, ts;
        CU_ASSERT_EQUAL(sl_log_offset_for_timestamp(log, -5, &off, &ts), ST_OK);
        CU_ASSERT_EQUAL(off, 0);
        for (int i = 0; i < 100; i += 3) {
            CU_ASSERT_EQUAL(sl_log_offset_for_timestamp(log, 100 * i + 2, &off, &ts), ST_OK);
            CU_ASSERT_EQUAL(off, 4 * i + 2);
            CU_ASSERT_EQUAL(ts, 100 * i + 2);
            /* between batches: the first record of the next batch */
            if (i < 99) {
                CU_ASSERT_EQUAL(sl_log_offset_for_timestamp(log, 100 * i + 50, &off, &ts), ST_OK);
                CU_ASSERT_EQUAL(off, 4 * (i + 1));
            }
        }
        CU_ASSERT_EQUAL(sl_log_offset_for_timestamp(log, 9903, &off, &ts), ST_OK);
        CU_ASSERT_EQUAL(off, 399);
        CU_ASSERT_EQUAL(sl_log_offset_for_timestamp(log, 9904, &off, &ts), ST_ERR_NOT_FOUND);
        /* again after a clean reopen (indexes from disk) */
        sl_log_close(log);
        sl_recovery_info_t info;
        CU_ASSERT_EQUAL_FATAL(sl_log_open(dir, &c, 400, true, &log, &info), ST_OK);
        CU_ASSERT_FALSE(info.ran);
        CU_ASSERT_EQUAL(sl_log_end_offset(log), 400);
    }
    sl_log_close(log);
}

static void test_truncate(void)
{
    sl_log_config_t c;
    sl_log_t *log;
    tsl_cfg(&c);
    c.segment_bytes = 2048;
    const char *dir = tl_fresh("trunc");
    CU_ASSERT_EQUAL_FATAL(sl_log_open(dir, &c, -1, false, &log, NULL), ST_OK);
    for (int i = 0; i < 60; i++)
        tsl_append(log, 2, 1000 + i, i, 100, 0);
    int segs = sl_log_segment_count(log);
    /* truncate in the middle of a batch: the whole batch goes */
    CU_ASSERT_EQUAL(sl_log_truncate_to(log, 41), ST_OK);
    CU_ASSERT_EQUAL(sl_log_end_offset(log), 40);
    CU_ASSERT_TRUE(sl_log_segment_count(log) < segs);
    CU_ASSERT_EQUAL(tsl_walk(log), 20);
    st_buf_t out;
    st_buf_init(&out);
    CU_ASSERT_EQUAL(sl_log_read(log, 41, 100, -1, &out), ST_ERR_OFFSET_OUT_OF_RANGE);
    /* appends continue at the new end, with new content */
    CU_ASSERT_EQUAL(tsl_append(log, 2, 5000, 500, 100, 0), 40);
    CU_ASSERT_EQUAL(sl_log_read(log, 40, 1, -1, &out), ST_OK);
    CU_ASSERT_EQUAL(tsl_frame_tag(out.data, out.len), 500);
    int64_t off, ts;
    CU_ASSERT_EQUAL(sl_log_offset_for_timestamp(log, 1021, &off, &ts), ST_OK);
    CU_ASSERT_EQUAL(off, 40); /* the record at ts 1021 was cut: next is 5000 */
    /* truncating at or past the end is a no-op */
    CU_ASSERT_EQUAL(sl_log_truncate_to(log, 100), ST_OK);
    CU_ASSERT_EQUAL(sl_log_end_offset(log), 42);
    /* reopen: same state */
    sl_log_close(log);
    CU_ASSERT_EQUAL_FATAL(sl_log_open(dir, &c, -1, false, &log, NULL), ST_OK);
    CU_ASSERT_EQUAL(sl_log_end_offset(log), 42);
    CU_ASSERT_EQUAL(tsl_walk(log), 21);
    /* truncate to a segment boundary and to the very start */
    CU_ASSERT_EQUAL(sl_log_truncate_to(log, 0), ST_OK);
    CU_ASSERT_EQUAL(sl_log_end_offset(log), 0);
    CU_ASSERT_EQUAL(sl_log_segment_count(log), 1);
    CU_ASSERT_EQUAL(tsl_append(log, 1, 1, 7, 10, 0), 0);

    /* truncate fully and restart far ahead */
    CU_ASSERT_EQUAL(sl_log_truncate_fully_and_start_at(log, 1000), ST_OK);
    CU_ASSERT_EQUAL(sl_log_start_offset(log), 1000);
    CU_ASSERT_EQUAL(sl_log_end_offset(log), 1000);
    CU_ASSERT_EQUAL(sl_log_segment_count(log), 1);
    CU_ASSERT_EQUAL(tl_count_files(dir, ".log"), 1);
    CU_ASSERT_EQUAL(sl_log_read(log, 0, 100, -1, &out), ST_ERR_OFFSET_OUT_OF_RANGE);
    CU_ASSERT_EQUAL(tsl_append(log, 3, 1, 8, 10, 0), 1000);
    sl_log_close(log);
    CU_ASSERT_EQUAL_FATAL(sl_log_open(dir, &c, -1, false, &log, NULL), ST_OK);
    CU_ASSERT_EQUAL(sl_log_start_offset(log), 1000);
    CU_ASSERT_EQUAL(sl_log_end_offset(log), 1003);

    /* DeleteRecords: start moves, whole segments below it go */
    for (int i = 0; i < 40; i++)
        tsl_append(log, 1, 1, i, 100, 0);
    int before = sl_log_segment_count(log);
    CU_ASSERT_EQUAL(sl_log_set_start_offset(log, 1030), ST_OK);
    CU_ASSERT_EQUAL(sl_log_start_offset(log), 1030);
    CU_ASSERT_TRUE(sl_log_segment_count(log) < before);
    CU_ASSERT_EQUAL(sl_log_read(log, 1029, 100, -1, &out), ST_ERR_OFFSET_OUT_OF_RANGE);
    CU_ASSERT_EQUAL(sl_log_set_start_offset(log, 5000), ST_ERR_OFFSET_OUT_OF_RANGE);
    sl_log_close(log);
    CU_ASSERT_EQUAL_FATAL(sl_log_open(dir, &c, -1, false, &log, NULL), ST_OK);
    CU_ASSERT_EQUAL(sl_log_start_offset(log), 1030); /* persisted */
    CU_ASSERT_EQUAL(tsl_walk(log), 13);
    st_buf_free(&out);
    sl_log_close(log);
}

static void test_epochs(void)
{
    sl_log_config_t c;
    sl_log_t *log;
    tsl_cfg(&c);
    const char *dir = tl_fresh("epoch");
    CU_ASSERT_EQUAL_FATAL(sl_log_open(dir, &c, -1, false, &log, NULL), ST_OK);
    int32_t e;
    int64_t o;
    CU_ASSERT_EQUAL(sl_log_latest_epoch(log), -1);
    sl_log_end_offset_for_epoch(log, 0, &e, &o);
    CU_ASSERT_EQUAL(e, -1);
    CU_ASSERT_EQUAL(o, -1);
    /* appends as leader of epochs 1, 1, 3, 3, 5 (2 records each) */
    st_buf_t f;
    st_buf_init(&f);
    int32_t epochs[] = {1, 1, 3, 3, 5};
    for (int i = 0; i < 5; i++) {
        f.len = 0;
        tsl_frame(&f, 2, 100, i, 10);
        int64_t base;
        CU_ASSERT_EQUAL(sl_log_append(log, f.data, f.len, epochs[i], 0, &base), ST_OK);
        CU_ASSERT_EQUAL(base, 2 * i);
    }
    CU_ASSERT_EQUAL(sl_log_latest_epoch(log), 5);
    sl_log_end_offset_for_epoch(log, 1, &e, &o);
    CU_ASSERT_EQUAL(e, 1);
    CU_ASSERT_EQUAL(o, 4);
    sl_log_end_offset_for_epoch(log, 2, &e, &o); /* unknown: the largest below */
    CU_ASSERT_EQUAL(e, 1);
    CU_ASSERT_EQUAL(o, 4);
    sl_log_end_offset_for_epoch(log, 3, &e, &o);
    CU_ASSERT_EQUAL(e, 3);
    CU_ASSERT_EQUAL(o, 8);
    sl_log_end_offset_for_epoch(log, 5, &e, &o);
    CU_ASSERT_EQUAL(e, 5);
    CU_ASSERT_EQUAL(o, 10); /* latest: the log end */
    sl_log_end_offset_for_epoch(log, 9, &e, &o);
    CU_ASSERT_EQUAL(e, 5);
    CU_ASSERT_EQUAL(o, 10);
    sl_log_end_offset_for_epoch(log, 0, &e, &o);
    CU_ASSERT_EQUAL(e, -1);
    CU_ASSERT_EQUAL(o, -1);
    /* the stamped epoch is in the frame */
    st_buf_t out;
    st_buf_init(&out);
    st_batch_hdr_t h;
    CU_ASSERT_EQUAL(sl_log_read(log, 5, 1, -1, &out), ST_OK);
    CU_ASSERT_EQUAL(st_batch_hdr_decode(out.data, out.len, &h), ST_OK);
    CU_ASSERT_EQUAL(h.leader_epoch, 3);
    /* truncation drops epochs starting at/after the new end */
    CU_ASSERT_EQUAL(sl_log_truncate_to(log, 6), ST_OK);
    CU_ASSERT_EQUAL(sl_log_latest_epoch(log), 3);
    sl_log_end_offset_for_epoch(log, 3, &e, &o);
    CU_ASSERT_EQUAL(o, 6);
    /* an explicit assignment (a new leader) then its first append;
     * persisted on reopen (an entry past the log end would be dropped) */
    CU_ASSERT_EQUAL(sl_log_assign_epoch(log, 7, 6), ST_OK);
    CU_ASSERT_EQUAL(sl_log_latest_epoch(log), 7);
    f.len = 0;
    tsl_frame(&f, 2, 100, 9, 10);
    int64_t b7;
    CU_ASSERT_EQUAL(sl_log_append(log, f.data, f.len, 7, 0, &b7), ST_OK);
    CU_ASSERT_EQUAL(b7, 6);
    sl_log_close(log);
    CU_ASSERT_EQUAL_FATAL(sl_log_open(dir, &c, -1, false, &log, NULL), ST_OK);
    CU_ASSERT_EQUAL(sl_log_latest_epoch(log), 7);
    sl_log_end_offset_for_epoch(log, 5, &e, &o);
    CU_ASSERT_EQUAL(e, 3);
    CU_ASSERT_EQUAL(o, 6);
    char p[1024];
    snprintf(p, sizeof p, "%s/leader-epoch-checkpoint", dir);
    CU_ASSERT_TRUE(tsl_file_size(p) > 0);
    /* start offset moved past epoch 1's range: epoch 3 now starts there */
    CU_ASSERT_EQUAL(sl_log_set_start_offset(log, 5), ST_OK);
    sl_log_end_offset_for_epoch(log, 1, &e, &o);
    CU_ASSERT_EQUAL(e, -1);
    sl_log_end_offset_for_epoch(log, 3, &e, &o);
    CU_ASSERT_EQUAL(e, 3);
    CU_ASSERT_EQUAL(o, 6);
    st_buf_free(&f);
    st_buf_free(&out);
    sl_log_close(log);
}

/* Copy the regular files of dir src into a fresh dir dst: what a crash
 * (SIGKILL) at this moment would leave, since written data is in the page
 * cache and the copy reads it. Returns 0 on success. */
static int tl_copy_dir(const char *src, const char *dst)
{
    tu_rmrf(dst);
    if (mkdir(dst, 0755) != 0)
        return -1;
    DIR *d = opendir(src);
    if (!d)
        return -1;
    int rc = 0;
    struct dirent *de;
    while (rc == 0 && (de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        char a[1024], b[1024];
        snprintf(a, sizeof a, "%s/%s", src, de->d_name);
        snprintf(b, sizeof b, "%s/%s", dst, de->d_name);
        FILE *in = fopen(a, "rb"), *out = fopen(b, "wb");
        char buf[8192];
        size_t n;
        if (!in || !out)
            rc = -1;
        while (rc == 0 && (n = fread(buf, 1, sizeof buf, in)) > 0)
            if (fwrite(buf, 1, n, out) != n)
                rc = -1;
        if (in)
            fclose(in);
        if (out && fclose(out) != 0)
            rc = -1;
    }
    closedir(d);
    return rc;
}

static void tl_read_text(const char *path, char *out, size_t n)
{
    out[0] = '\0';
    FILE *f = fopen(path, "rb");
    if (!f)
        return;
    size_t got = fread(out, 1, n - 1, f);
    out[got] = '\0';
    fclose(f);
}

static int64_t tl_append_epoch(sl_log_t *log, int nrec, int tag, int32_t epoch)
{
    st_buf_t f;
    st_buf_init(&f);
    tsl_frame(&f, nrec, 1000, tag, 900);
    int64_t base = -1;
    st_err_t err = sl_log_append(log, f.data, f.len, epoch, 0, &base);
    st_buf_free(&f);
    return err == ST_OK ? base : -1;
}

/* A frame of a lower epoch than the cache's latest (a follower copying
 * its leader after a cut back to the HW) is recorded too, and the entry it
 * contradicts goes. */
static void test_epochs_lower_epoch_recorded(void)
{
    sl_log_config_t c;
    tsl_cfg(&c);
    sl_log_t *log;
    CU_ASSERT_EQUAL_FATAL(sl_log_open(tl_fresh("lower"), &c, -1, false, &log, NULL), ST_OK);
    CU_ASSERT_EQUAL(tl_append_epoch(log, 2, 0, 1), 0);
    CU_ASSERT_EQUAL(tl_append_epoch(log, 2, 1, 3), 2);
    CU_ASSERT_EQUAL(tl_append_epoch(log, 2, 2, 2), 4);
    CU_ASSERT_EQUAL(sl_log_latest_epoch(log), 2);
    int32_t e;
    int64_t o;
    sl_log_end_offset_for_epoch(log, 1, &e, &o);
    CU_ASSERT_EQUAL(e, 1);
    CU_ASSERT_EQUAL(o, 4);
    sl_log_end_offset_for_epoch(log, 2, &e, &o);
    CU_ASSERT_EQUAL(e, 2);
    CU_ASSERT_EQUAL(o, 6);
    sl_log_close(log);
}

/* Assignments are lazy: no file write until a flush/close/checkpoint; a
 * crash before it loses nothing that has data, because recovery rebuilds
 * epochs from the frames above the recovery point. */
static void test_epochs_lazy_crash(void)
{
    sl_log_config_t c;
    tsl_cfg(&c);
    char dir[600], crash[600], ckpt[700], text[512];
    snprintf(dir, sizeof dir, "%s", tl_fresh("lazy"));
    snprintf(crash, sizeof crash, "%s/lazy-crash", tl_dir);
    sl_log_t *log;
    CU_ASSERT_EQUAL_FATAL(sl_log_open(dir, &c, -1, false, &log, NULL), ST_OK);
    /* epoch 1: offsets 0..39 over several 16 KiB segments, flushed */
    CU_ASSERT_EQUAL(sl_log_assign_epoch(log, 1, 0), ST_OK);
    for (int i = 0; i < 20; i++)
        CU_ASSERT_EQUAL(tl_append_epoch(log, 2, i, 1), 2 * i);
    CU_ASSERT_TRUE(sl_log_segment_count(log) > 1);
    CU_ASSERT_EQUAL(sl_log_flush(log), ST_OK);
    int64_t rp = sl_log_recovery_point(log);
    CU_ASSERT_EQUAL(rp, 40);
    snprintf(ckpt, sizeof ckpt, "%s/leader-epoch-checkpoint", dir);
    tl_read_text(ckpt, text, sizeof text);
    CU_ASSERT_STRING_EQUAL(text, "0\n1\n1 0\n");
    /* epochs 3 and 4 with data, 6 without: nothing written yet */
    CU_ASSERT_EQUAL(sl_log_assign_epoch(log, 3, 40), ST_OK);
    for (int i = 0; i < 5; i++)
        CU_ASSERT_EQUAL(tl_append_epoch(log, 2, 100 + i, 3), 40 + 2 * i);
    CU_ASSERT_EQUAL(sl_log_assign_epoch(log, 4, 50), ST_OK);
    for (int i = 0; i < 5; i++)
        CU_ASSERT_EQUAL(tl_append_epoch(log, 2, 200 + i, 4), 50 + 2 * i);
    CU_ASSERT_EQUAL(sl_log_assign_epoch(log, 6, 60), ST_OK);
    CU_ASSERT_EQUAL(sl_log_latest_epoch(log), 6);
    tl_read_text(ckpt, text, sizeof text);
    CU_ASSERT_STRING_EQUAL(text, "0\n1\n1 0\n");

    /* "SIGKILL" now: reopen a copy, unclean, from the recovery point */
    CU_ASSERT_EQUAL_FATAL(tl_copy_dir(dir, crash), 0);
    for (int round = 0; round < 2; round++) {
        sl_log_t *rec;
        /* round 0 from the saved recovery point, round 1 scans it all */
        CU_ASSERT_EQUAL_FATAL(tl_copy_dir(dir, crash), 0);
        CU_ASSERT_EQUAL_FATAL(sl_log_open(crash, &c, round == 0 ? rp : -1, false, &rec, NULL), ST_OK);
        CU_ASSERT_EQUAL(sl_log_end_offset(rec), 60);
        /* epoch 6 had no data: lost, safe (docs/storage.md) */
        CU_ASSERT_EQUAL(sl_log_latest_epoch(rec), 4);
        int32_t e;
        int64_t o;
        sl_log_end_offset_for_epoch(rec, 0, &e, &o);
        CU_ASSERT_EQUAL(e, -1);
        CU_ASSERT_EQUAL(o, -1);
        sl_log_end_offset_for_epoch(rec, 1, &e, &o);
        CU_ASSERT_EQUAL(e, 1);
        CU_ASSERT_EQUAL(o, 40);
        sl_log_end_offset_for_epoch(rec, 2, &e, &o);
        CU_ASSERT_EQUAL(e, 1);
        CU_ASSERT_EQUAL(o, 40);
        sl_log_end_offset_for_epoch(rec, 3, &e, &o);
        CU_ASSERT_EQUAL(e, 3);
        CU_ASSERT_EQUAL(o, 50);
        sl_log_end_offset_for_epoch(rec, 6, &e, &o);
        CU_ASSERT_EQUAL(e, 4);
        CU_ASSERT_EQUAL(o, 60);
        /* the open made the rebuilt cache durable */
        char cp[700];
        snprintf(cp, sizeof cp, "%s/leader-epoch-checkpoint", crash);
        tl_read_text(cp, text, sizeof text);
        CU_ASSERT_STRING_EQUAL(text, "0\n3\n1 0\n3 40\n4 50\n");
        sl_log_close(rec);
    }

    /* a stale checkpoint that disagrees with the data above the recovery
     * point (epoch 5 at 40 never got data): the frames win */
    CU_ASSERT_EQUAL_FATAL(tl_copy_dir(dir, crash), 0);
    char cp[700];
    snprintf(cp, sizeof cp, "%s/leader-epoch-checkpoint", crash);
    FILE *f = fopen(cp, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs("0\n2\n1 0\n5 40\n", f);
    fclose(f);
    sl_log_t *rec;
    CU_ASSERT_EQUAL_FATAL(sl_log_open(crash, &c, rp, false, &rec, NULL), ST_OK);
    CU_ASSERT_EQUAL(sl_log_latest_epoch(rec), 4);
    int32_t e;
    int64_t o;
    sl_log_end_offset_for_epoch(rec, 3, &e, &o);
    CU_ASSERT_EQUAL(e, 3);
    CU_ASSERT_EQUAL(o, 50);
    sl_log_close(rec);

    /* the explicit checkpoint writes everything; a reopen (even clean)
     * drops entries at the log end, as Kafka's truncateFromEnd does */
    CU_ASSERT_EQUAL(sl_log_checkpoint_epochs(log), ST_OK);
    tl_read_text(ckpt, text, sizeof text);
    CU_ASSERT_STRING_EQUAL(text, "0\n4\n1 0\n3 40\n4 50\n6 60\n");
    sl_log_close(log);
    CU_ASSERT_EQUAL_FATAL(sl_log_open(dir, &c, 60, true, &log, NULL), ST_OK);
    CU_ASSERT_EQUAL(sl_log_latest_epoch(log), 4);
    sl_log_end_offset_for_epoch(log, 3, &e, &o);
    CU_ASSERT_EQUAL(e, 3);
    CU_ASSERT_EQUAL(o, 50);
    sl_log_close(log);
    tu_rmrf(crash);
}

static void test_flush_policy(void)
{
    sl_log_config_t c;
    sl_log_t *log;
    tsl_cfg(&c);
    c.flush_messages = 5;
    CU_ASSERT_EQUAL_FATAL(sl_log_open(tl_fresh("flush"), &c, -1, false, &log, NULL), ST_OK);
    CU_ASSERT_EQUAL(sl_log_recovery_point(log), 0);
    tsl_append(log, 2, 1, 0, 10, 0);
    tsl_append(log, 2, 1, 1, 10, 0);
    CU_ASSERT_EQUAL(sl_log_recovery_point(log), 0);
    tsl_append(log, 2, 1, 2, 10, 0); /* 6 >= 5 unflushed records */
    CU_ASSERT_EQUAL(sl_log_recovery_point(log), 6);
    tsl_append(log, 1, 1, 3, 10, 0);
    CU_ASSERT_EQUAL(sl_log_recovery_point(log), 6);
    CU_ASSERT_EQUAL(sl_log_flush(log), ST_OK);
    CU_ASSERT_EQUAL(sl_log_recovery_point(log), 7);
    /* flush.ms */
    c.flush_messages = -1;
    c.flush_ms = 1000;
    sl_log_set_config(log, &c);
    CU_ASSERT_EQUAL(sl_log_maybe_flush(log, 50000), ST_OK);
    tsl_append(log, 1, 1, 4, 10, 50100);
    CU_ASSERT_EQUAL(sl_log_maybe_flush(log, 50900), ST_OK);
    CU_ASSERT_EQUAL(sl_log_recovery_point(log), 7);
    CU_ASSERT_EQUAL(sl_log_maybe_flush(log, 51000), ST_OK);
    CU_ASSERT_EQUAL(sl_log_recovery_point(log), 8);
    sl_log_close(log);
}

static void test_reopen_clean(void)
{
    sl_log_config_t c;
    sl_log_t *log;
    tsl_cfg(&c);
    const char *dir = tl_fresh("reopen");
    CU_ASSERT_EQUAL_FATAL(sl_log_open(dir, &c, -1, false, &log, NULL), ST_OK);
    for (int i = 0; i < 100; i++)
        tsl_append(log, 3, 10 * i, i, 150, 0);
    int segs = sl_log_segment_count(log);
    int64_t size = sl_log_size_bytes(log);
    sl_log_close(log);
    sl_recovery_info_t info;
    CU_ASSERT_EQUAL_FATAL(sl_log_open(dir, &c, 300, true, &log, &info), ST_OK);
    CU_ASSERT_FALSE(info.ran);
    CU_ASSERT_EQUAL(info.indexes_rebuilt, 0);
    CU_ASSERT_EQUAL(info.corrupt_position, -1);
    CU_ASSERT_EQUAL(sl_log_end_offset(log), 300);
    CU_ASSERT_EQUAL(sl_log_segment_count(log), segs);
    CU_ASSERT_EQUAL(sl_log_size_bytes(log), size);
    CU_ASSERT_EQUAL(sl_log_recovery_point(log), 300);
    CU_ASSERT_EQUAL(tsl_walk(log), 100);
    CU_ASSERT_EQUAL(tsl_append(log, 1, 5000, 100, 10, 0), 300);
    sl_log_close(log);
    /* unclean open with a known recovery point checks only the tail */
    CU_ASSERT_EQUAL_FATAL(sl_log_open(dir, &c, 290, false, &log, &info), ST_OK);
    CU_ASSERT_TRUE(info.ran);
    CU_ASSERT_TRUE(info.batches_checked > 0 && info.batches_checked < 101);
    CU_ASSERT_EQUAL(sl_log_end_offset(log), 301);
    sl_log_close(log);
}

static void test_replica_append(void)
{
    sl_log_config_t c;
    sl_log_t *leader, *follower;
    tsl_cfg(&c);
    CU_ASSERT_EQUAL_FATAL(sl_log_open(tl_fresh("leader"), &c, -1, false, &leader, NULL), ST_OK);
    sl_log_config_t fc = c;
    fc.max_message_bytes = 50; /* applies to leader appends only */
    CU_ASSERT_EQUAL_FATAL(sl_log_open(tl_fresh("follower"), &fc, -1, false, &follower, NULL), ST_OK);
    for (int i = 0; i < 30; i++) {
        st_buf_t f;
        st_buf_init(&f);
        tsl_frame(&f, 2, 100 + i, i, 50);
        int64_t base;
        sl_log_append(leader, f.data, f.len, i < 10 ? 2 : 4, 0, &base);
        st_buf_free(&f);
    }
    st_buf_t out;
    st_buf_init(&out);
    /* copy in chunks, like a fetcher */
    while (sl_log_end_offset(follower) < sl_log_end_offset(leader)) {
        out.len = 0;
        CU_ASSERT_EQUAL_FATAL(sl_log_read(leader, sl_log_end_offset(follower), 700, -1, &out), ST_OK);
        CU_ASSERT_EQUAL_FATAL(sl_log_append_replica(follower, out.data, out.len, 0), ST_OK);
    }
    CU_ASSERT_EQUAL(sl_log_end_offset(follower), 60);
    CU_ASSERT_EQUAL(sl_log_latest_epoch(follower), 4);
    int32_t e;
    int64_t o;
    sl_log_end_offset_for_epoch(follower, 2, &e, &o);
    CU_ASSERT_EQUAL(o, 20);
    /* frames that do not start at the end are refused */
    out.len = 0;
    sl_log_read(leader, 0, 1, -1, &out);
    CU_ASSERT_EQUAL(sl_log_append_replica(follower, out.data, out.len, 0), ST_ERR_OFFSET_OUT_OF_RANGE);
    out.data[out.len - 1] ^= 1;
    CU_ASSERT_EQUAL(sl_log_append_replica(follower, out.data, out.len, 0), ST_ERR_CORRUPT_MESSAGE);
    CU_ASSERT_EQUAL(sl_log_end_offset(follower), 60);
    CU_ASSERT_EQUAL(tsl_walk(follower), 30);
    st_buf_free(&out);
    sl_log_close(leader);
    sl_log_close(follower);
}

/* The _checked appends (frames the caller just CRC-checked) skip only the
 * CRC: every other check still refuses, the checking appends keep it. */
static void test_checked_appends(void)
{
    sl_log_config_t c;
    sl_log_t *leader, *follower;
    tsl_cfg(&c);
    CU_ASSERT_EQUAL_FATAL(sl_log_open(tl_fresh("cleader"), &c, -1, false, &leader, NULL), ST_OK);
    CU_ASSERT_EQUAL_FATAL(sl_log_open(tl_fresh("cfollower"), &c, -1, false, &follower, NULL), ST_OK);
    st_buf_t f, out;
    st_buf_init(&f);
    st_buf_init(&out);
    int64_t base = -1;
    for (int i = 0; i < 10; i++) {
        f.len = 0;
        tsl_frame(&f, 2, 100 + i, i, 30);
        CU_ASSERT_EQUAL(sl_log_append_checked(leader, f.data, f.len, 3, 0, &base), ST_OK);
        CU_ASSERT_EQUAL(base, 2 * i);
    }
    CU_ASSERT_EQUAL(tsl_walk(leader), 10);
    CU_ASSERT_EQUAL(sl_log_latest_epoch(leader), 3);
    /* still refused: wrong length, too large, sparse */
    CU_ASSERT_EQUAL(sl_log_append_checked(leader, f.data, f.len - 1, 3, 0, &base), ST_ERR_CORRUPT_MESSAGE);
    CU_ASSERT_EQUAL(sl_log_append_checked(leader, f.data, 0, 3, 0, &base), ST_ERR_CORRUPT_MESSAGE);
    c.max_message_bytes = (int32_t)f.len - 1;
    sl_log_set_config(leader, &c);
    CU_ASSERT_EQUAL(sl_log_append_checked(leader, f.data, f.len, 3, 0, &base), ST_ERR_MESSAGE_TOO_LARGE);
    c.max_message_bytes = 1 << 20;
    sl_log_set_config(leader, &c);
    CU_ASSERT_EQUAL(sl_log_end_offset(leader), 20);
    /* the checking append still computes the CRC */
    f.data[f.len - 1] ^= 1;
    CU_ASSERT_EQUAL(sl_log_append(leader, f.data, f.len, 3, 0, &base), ST_ERR_CORRUPT_MESSAGE);
    f.data[f.len - 1] ^= 1;

    /* follower copy with the CRC already checked */
    CU_ASSERT_EQUAL_FATAL(sl_log_read(leader, 0, 1 << 20, -1, &out), ST_OK);
    CU_ASSERT_EQUAL(sl_log_append_replica_checked(follower, out.data, out.len - 1, 0),
                    ST_ERR_CORRUPT_MESSAGE); /* torn last frame */
    CU_ASSERT_EQUAL(sl_log_end_offset(follower), 0);
    out.data[out.len - 1] ^= 1; /* body damage: only a CRC would see it */
    CU_ASSERT_EQUAL(sl_log_append_replica(follower, out.data, out.len, 0), ST_ERR_CORRUPT_MESSAGE);
    out.data[out.len - 1] ^= 1;
    CU_ASSERT_EQUAL(sl_log_append_replica_checked(follower, out.data, out.len, 0), ST_OK);
    CU_ASSERT_EQUAL(sl_log_end_offset(follower), 20);
    CU_ASSERT_EQUAL(sl_log_latest_epoch(follower), 3);
    CU_ASSERT_EQUAL(tsl_walk(follower), 10);
    /* not at the log end: refused */
    CU_ASSERT_EQUAL(sl_log_append_replica_checked(follower, out.data, out.len, 0),
                    ST_ERR_OFFSET_OUT_OF_RANGE);
    st_buf_free(&f);
    st_buf_free(&out);
    sl_log_close(leader);
    sl_log_close(follower);
}

static int tl_scan_n;
static void tl_scan_cb(void *arg, const char *topic, int32_t partition)
{
    (void)arg;
    if ((!strcmp(topic, "orders") && partition == 3) || (!strcmp(topic, "a-b") && partition == 0))
        tl_scan_n++;
}

static void test_logdir(void)
{
    const char *dir = tl_fresh("logdir");
    sl_log_config_t c;
    tsl_cfg(&c);
    sl_logdir_t *ld;
    sl_log_t *log, *log2;
    CU_ASSERT_EQUAL_FATAL(sl_logdir_open(dir, &ld), ST_OK);
    CU_ASSERT_STRING_EQUAL(sl_logdir_path(ld), dir);
    CU_ASSERT_EQUAL_FATAL(sl_logdir_open_log(ld, "orders", 3, &c, &log), ST_OK);
    CU_ASSERT_EQUAL_FATAL(sl_logdir_open_log(ld, "a-b", 0, &c, &log2), ST_OK);
    CU_ASSERT_EQUAL(sl_logdir_open_log(ld, "../x", 0, &c, &log2), ST_ERR_INVALID_ARG);
    CU_ASSERT_PTR_EQUAL(sl_logdir_get(ld, "orders", 3), log);
    CU_ASSERT_PTR_NULL(sl_logdir_get(ld, "orders", 4));
    for (int i = 0; i < 10; i++)
        tsl_append(log, 1, 1, i, 10, 0);
    CU_ASSERT_EQUAL(sl_logdir_set_hw(ld, "orders", 3, 7), ST_OK);
    CU_ASSERT_EQUAL(sl_logdir_checkpoint_hw(ld), ST_OK);
    CU_ASSERT_EQUAL(sl_logdir_checkpoint_recovery(ld), ST_OK);
    tl_scan_n = 0;
    CU_ASSERT_EQUAL(sl_logdir_scan(ld, tl_scan_cb, NULL), ST_OK);
    CU_ASSERT_EQUAL(tl_scan_n, 2);
    sl_logdir_close(ld, true);

    char p[1024];
    snprintf(p, sizeof p, "%s/.strata_cleanshutdown", dir);
    CU_ASSERT_EQUAL(tsl_file_size(p), 0);
    snprintf(p, sizeof p, "%s/orders-3/partition.meta", dir);
    CU_ASSERT_TRUE(tsl_file_size(p) > 0);
    st_buf_t b;
    st_buf_init(&b);
    snprintf(p, sizeof p, "%s/recovery-point-offset-checkpoint", dir);
    FILE *fp = fopen(p, "r");
    CU_ASSERT_PTR_NOT_NULL_FATAL(fp);
    char txt[256] = {0};
    CU_ASSERT_TRUE(fread(txt, 1, sizeof txt - 1, fp) > 0);
    fclose(fp);
    CU_ASSERT_PTR_NOT_NULL(strstr(txt, "orders 3 10\n"));
    st_buf_free(&b);

    /* reopen after the clean close: marker consumed, no recovery, hw back */
    CU_ASSERT_EQUAL_FATAL(sl_logdir_open(dir, &ld), ST_OK);
    snprintf(p, sizeof p, "%s/.strata_cleanshutdown", dir);
    CU_ASSERT_EQUAL(tsl_file_size(p), -1);
    CU_ASSERT_EQUAL(sl_logdir_get_hw(ld, "orders", 3), 7);
    CU_ASSERT_EQUAL(sl_logdir_get_hw(ld, "orders", 9), -1);
    CU_ASSERT_EQUAL_FATAL(sl_logdir_open_log(ld, "orders", 3, &c, &log), ST_OK);
    CU_ASSERT_EQUAL(sl_log_end_offset(log), 10);
    CU_ASSERT_EQUAL(tsl_walk(log), 10);
    sl_logdir_close_log(ld, "orders", 3);
    CU_ASSERT_PTR_NULL(sl_logdir_get(ld, "orders", 3));
    CU_ASSERT_EQUAL(sl_logdir_delete_log(ld, "a-b", 0), ST_OK);
    snprintf(p, sizeof p, "%s/a-b-0", dir);
    CU_ASSERT_EQUAL(tsl_file_size(p), -1);
    sl_logdir_close(ld, false); /* unclean: no marker */
    snprintf(p, sizeof p, "%s/.strata_cleanshutdown", dir);
    CU_ASSERT_EQUAL(tsl_file_size(p), -1);
}

static CU_TestInfo log_tests[] = {
    {"append, read, offsets, refusals", test_append_read},
    {"roll by segment.bytes", test_roll_bytes},
    {"roll by segment.ms and full index", test_roll_time_and_index},
    {"retention by time and size", test_retention},
    {"time index lookups", test_time_lookup},
    {"truncate_to, truncate fully, start offset", test_truncate},
    {"leader epoch cache", test_epochs},
    {"leader epochs: lazy checkpoint, rebuilt after a crash", test_epochs_lazy_crash},
    {"leader epochs: a lower epoch is recorded", test_epochs_lower_epoch_recorded},
    {"flush policy and recovery point", test_flush_policy},
    {"reopen after clean close", test_reopen_clean},
    {"follower appends", test_replica_append},
    {"appends of pre-checked frames", test_checked_appends},
    CU_TEST_INFO_NULL,
};
static CU_TestInfo logdir_tests[] = {
    {"checkpoints, marker, scan, delete", test_logdir},
    CU_TEST_INFO_NULL,
};
static CU_SuiteInfo suites[] = {
    {"sl_log", tl_setup, tl_teardown, NULL, NULL, log_tests},
    {"sl_logdir", tl_setup, tl_teardown, NULL, NULL, logdir_tests},
    CU_SUITE_INFO_NULL,
};

int main(void)
{
    return tu_main(suites);
}
