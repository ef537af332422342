/*
 * Unit tests of the read-only walkers (sl_walk, sl_index_open_readonly,
 * sl_logdir_peek_checkpoints): every frame of a log is seen with its
 * position; a flipped body byte is reported as a CRC mismatch and the
 * walk goes on; a truncated tail and a garbled header end the walk; the
 * indexes read back as written; and nothing touches the files (sizes and
 * bytes unchanged, no file created).
 */
#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include "storage/sl_file.h"
#include "storage/sl_index.h"
#include "storage/sl_logdir.h"
#include "storage/sl_walk.h"
#include "tsl.h"

static char *tw_dir;
static char tw_path[512];

static int tw_setup(void)
{
    tw_dir = tu_tmpdir("strata-walk");
    return tw_dir ? 0 : 1;
}

static int tw_teardown(void)
{
    tu_rmrf(tw_dir);
    free(tw_dir);
    return 0;
}

static const char *tw_fresh(const char *name)
{
    snprintf(tw_path, sizeof tw_path, "%s/%s", tw_dir, name);
    tu_rmrf(tw_path);
    return tw_path;
}

/* A closed log of n frames of 3 records each, segments of 16 KiB. */
static void tw_make(const char *dir, int n)
{
    sl_log_config_t c;
    sl_log_t *log;
    tsl_cfg(&c);
    CU_ASSERT_EQUAL_FATAL(sl_log_open(dir, &c, -1, false, &log, NULL), ST_OK);
    for (int i = 0; i < n; i++)
        CU_ASSERT_EQUAL(tsl_append(log, 3, 1000 + i * 10, i, 100, 0), i * 3);
    sl_log_close(log);
}

static int tw_count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *de;
    while (d && (de = readdir(d)))
        n++;
    if (d)
        closedir(d);
    return n;
}

static void test_walk_all(void)
{
    const char *dir = tw_fresh("all");
    tw_make(dir, 200);
    int64_t *bases;
    int n;
    CU_ASSERT_EQUAL_FATAL(sl_walk_list_files(dir, ".log", &bases, &n), ST_OK);
    CU_ASSERT_FATAL(n > 1);
    CU_ASSERT_EQUAL(bases[0], 0);
    int frames = 0;
    int64_t next = 0;
    int entries_before = tw_count_entries(dir);
    for (int i = 0; i < n; i++) {
        char p[600];
        snprintf(p, sizeof p, "%s/%020" PRId64 ".log", dir, bases[i]);
        int64_t b;
        CU_ASSERT(sl_walk_name_offset(p, ".log", &b) && b == bases[i]);
        sl_walk_t w;
        sl_walk_frame_t f;
        CU_ASSERT_EQUAL_FATAL(sl_walk_open(&w, p), ST_OK);
        int64_t pos = 0;
        while (sl_walk_next(&w, &f) == ST_OK) {
            CU_ASSERT_EQUAL(f.status, SL_WALK_OK);
            CU_ASSERT_EQUAL(f.position, pos);
            CU_ASSERT_EQUAL(f.hdr.base_offset, next);
            CU_ASSERT_EQUAL(f.hdr.record_count, 3);
            CU_ASSERT_EQUAL(f.computed_crc, f.hdr.crc);
            CU_ASSERT_EQUAL(tsl_frame_tag(f.frame, f.len), frames);
            pos += (int64_t)f.len;
            next += 3;
            frames++;
        }
        CU_ASSERT_EQUAL(pos, sl_walk_file_size(&w));
        sl_walk_close(&w);

        /* the offset index of a closed segment: exact, every entry a boundary */
        snprintf(p, sizeof p, "%s/%020" PRId64 ".index", dir, bases[i]);
        sl_index_t ix;
        size_t slots, trailing;
        CU_ASSERT_EQUAL_FATAL(sl_index_open_readonly(&ix, p, SL_INDEX_OFFSET, &slots, &trailing), ST_OK);
        CU_ASSERT(ix.ix_n > 0);
        CU_ASSERT_EQUAL(slots, ix.ix_n);
        CU_ASSERT_EQUAL(trailing, 0);
        uint32_t rel, ipos;
        sl_index_offset_at(&ix, 0, &rel, &ipos);
        CU_ASSERT(ipos > 0 && rel % 3 == 0);
        sl_index_close(&ix);
    }
    free(bases);
    CU_ASSERT_EQUAL(frames, 200);
    CU_ASSERT_EQUAL(tw_count_entries(dir), entries_before);
    /* names that are not segments */
    int64_t b;
    CU_ASSERT(!sl_walk_name_offset("x/0000000000000000000a.log", ".log", &b));
    CU_ASSERT(!sl_walk_name_offset("00000000000000000000.index", ".log", &b));
    CU_ASSERT(sl_walk_name_offset("00000000000000000042.snapshot", ".snapshot", &b) && b == 42);
    sl_index_t ix;
    size_t slots, trailing;
    CU_ASSERT_EQUAL(sl_index_open_readonly(&ix, "/nonexistent/x.index", SL_INDEX_OFFSET, &slots, &trailing),
                    ST_ERR_NOT_FOUND);
    sl_walk_t w;
    CU_ASSERT_EQUAL(sl_walk_open(&w, "/nonexistent/00000000000000000000.log"), ST_ERR_NOT_FOUND);
    sl_walk_close(&w);
}

/* Flip one byte in the body of the third frame, cut the file inside the
 * tenth: the walk reports CRC invalid at frame 3, goes on, ends with
 * "truncated" at the tenth frame's position; the file is not changed. */
static void test_walk_damage(void)
{
    const char *dir = tw_fresh("damage");
    tw_make(dir, 20);
    char p[600];
    snprintf(p, sizeof p, "%s/%020d.log", dir, 0);
    sl_walk_t w;
    sl_walk_frame_t f;
    int64_t pos[20];
    int n = 0;
    CU_ASSERT_EQUAL_FATAL(sl_walk_open(&w, p), ST_OK);
    while (n < 20 && sl_walk_next(&w, &f) == ST_OK)
        pos[n++] = f.position;
    sl_walk_close(&w);
    CU_ASSERT_EQUAL_FATAL(n, 20);
    int fd = open(p, O_RDWR);
    CU_ASSERT_FATAL(fd >= 0);
    uint8_t byte;
    CU_ASSERT_EQUAL(pread(fd, &byte, 1, pos[2] + 70), 1);
    byte ^= 0x40;
    CU_ASSERT_EQUAL(pwrite(fd, &byte, 1, pos[2] + 70), 1);
    CU_ASSERT_EQUAL(ftruncate(fd, pos[9] + 30), 0);
    close(fd);
    int64_t size = tsl_file_size(p);

    CU_ASSERT_EQUAL_FATAL(sl_walk_open(&w, p), ST_OK);
    int i = 0, bad = 0;
    sl_walk_status_t last = SL_WALK_OK;
    while (sl_walk_next(&w, &f) == ST_OK) {
        CU_ASSERT_EQUAL(f.position, pos[i]);
        if (i == 2) {
            CU_ASSERT_EQUAL(f.status, SL_WALK_CRC_INVALID);
            CU_ASSERT(f.have_hdr && f.hdr.base_offset == 6);
            CU_ASSERT_NOT_EQUAL(f.computed_crc, f.hdr.crc);
        } else if (i < 9) {
            CU_ASSERT_EQUAL(f.status, SL_WALK_OK);
        }
        if (f.status != SL_WALK_OK)
            bad++;
        last = f.status;
        i++;
    }
    CU_ASSERT_EQUAL(i, 10);
    CU_ASSERT_EQUAL(bad, 2);
    CU_ASSERT_EQUAL(last, SL_WALK_TRUNCATED);
    CU_ASSERT_EQUAL(sl_walk_next(&w, &f), ST_ERR_NOT_FOUND);
    sl_walk_close(&w);
    CU_ASSERT_EQUAL(tsl_file_size(p), size);

    /* a garbled header (magic) ends the walk at that frame */
    fd = open(p, O_RDWR);
    byte = 0x7f;
    CU_ASSERT_EQUAL(pwrite(fd, &byte, 1, pos[5] + 16), 1);
    close(fd);
    CU_ASSERT_EQUAL_FATAL(sl_walk_open(&w, p), ST_OK);
    i = 0;
    while (sl_walk_next(&w, &f) == ST_OK) {
        last = f.status;
        i++;
    }
    CU_ASSERT_EQUAL(i, 6);
    CU_ASSERT_EQUAL(last, SL_WALK_BAD_HEADER);
    sl_walk_close(&w);
}

/* An active index (preallocated, zero slots after the entries) reads as
 * its entries plus unused slots; a non-increasing entry ends the valid
 * prefix. */
static void test_index_readonly(void)
{
    const char *dir = tw_fresh("index");
    CU_ASSERT_EQUAL_FATAL(sl_file_mkdirs(dir), ST_OK);
    char p[600];
    snprintf(p, sizeof p, "%s/x.index", dir);
    sl_index_t ix;
    CU_ASSERT_EQUAL_FATAL(sl_index_open(&ix, p, SL_INDEX_OFFSET, 80, true), ST_OK);
    CU_ASSERT_EQUAL(sl_index_append_offset(&ix, 3, 100), ST_OK);
    CU_ASSERT_EQUAL(sl_index_append_offset(&ix, 9, 250), ST_OK);
    sl_index_close(&ix);
    size_t slots, trailing;
    CU_ASSERT_EQUAL_FATAL(sl_index_open_readonly(&ix, p, SL_INDEX_OFFSET, &slots, &trailing), ST_OK);
    CU_ASSERT_EQUAL(ix.ix_n, 2);
    CU_ASSERT_EQUAL(slots, 10);
    CU_ASSERT_EQUAL(trailing, 0);
    uint32_t rel, pos;
    sl_index_offset_at(&ix, 1, &rel, &pos);
    CU_ASSERT(rel == 9 && pos == 250);
    sl_index_close(&ix);
    CU_ASSERT_EQUAL(tsl_file_size(p), 80);
    /* a third entry that goes back, and 3 stray bytes */
    int fd = open(p, O_RDWR);
    uint8_t e[8] = {5, 0, 0, 0, 44, 1, 0, 0};
    CU_ASSERT_EQUAL(pwrite(fd, e, 8, 16), 8);
    CU_ASSERT_EQUAL(pwrite(fd, e, 3, 80), 3);
    close(fd);
    CU_ASSERT_EQUAL_FATAL(sl_index_open_readonly(&ix, p, SL_INDEX_OFFSET, &slots, &trailing), ST_OK);
    CU_ASSERT_EQUAL(ix.ix_n, 2);
    CU_ASSERT_EQUAL(trailing, 3);
    sl_index_offset_at(&ix, 2, &rel, &pos);
    CU_ASSERT(rel == 5 && pos == 300);
    sl_index_close(&ix);
    CU_ASSERT_EQUAL(tsl_file_size(p), 83);
}

/* The log directory's checkpoints, read without opening the directory:
 * the clean-shutdown marker stays. */
static void test_peek_checkpoints(void)
{
    const char *dir = tw_fresh("ld");
    sl_logdir_t *ld;
    sl_log_config_t c;
    sl_log_t *log;
    tsl_cfg(&c);
    CU_ASSERT_EQUAL_FATAL(sl_logdir_open(dir, &ld), ST_OK);
    CU_ASSERT_EQUAL_FATAL(sl_logdir_open_log(ld, "t", 2, &c, &log), ST_OK);
    CU_ASSERT_EQUAL(tsl_append(log, 4, 1, 1, 10, 0), 0);
    CU_ASSERT_EQUAL(sl_logdir_set_hw(ld, "t", 2, 3), ST_OK);
    sl_logdir_close(ld, true);
    char marker[600];
    snprintf(marker, sizeof marker, "%s/.strata_cleanshutdown", dir);
    CU_ASSERT_EQUAL_FATAL(access(marker, F_OK), 0);
    int64_t rp, hw;
    CU_ASSERT_EQUAL(sl_logdir_peek_checkpoints(dir, "t", 2, &rp, &hw), ST_OK);
    CU_ASSERT_EQUAL(hw, 3);
    CU_ASSERT_EQUAL(rp, 4);
    CU_ASSERT_EQUAL(sl_logdir_peek_checkpoints(dir, "t", 7, &rp, &hw), ST_OK);
    CU_ASSERT(rp == -1 && hw == -1);
    CU_ASSERT_EQUAL(access(marker, F_OK), 0);
}

static CU_TestInfo walk_tests[] = {
    {"every frame of every segment, read only", test_walk_all},
    {"CRC mismatch, truncated tail, garbled header", test_walk_damage},
    {"index read only: unused slots, broken entries", test_index_readonly},
    {"log directory checkpoints without opening it", test_peek_checkpoints},
    CU_TEST_INFO_NULL,
};
static CU_SuiteInfo suites[] = {
    {"sl_walk", tw_setup, tw_teardown, NULL, NULL, walk_tests},
    CU_SUITE_INFO_NULL,
};

int main(void)
{
    return tu_main(suites);
}
