/*
 * Recovery tests of sl_log with real damaged files: a corrupt batch in the
 * middle of a segment, torn and garbled tails of a .log, damaged or
 * missing index files, and a real write failure (RLIMIT_FSIZE in a forked
 * child, so the kernel refuses the write with EFBIG).
 */
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "storage/sl_logdir.h"
#include "tsl.h"

static char *tr_dir;
static char tr_path[512];

static int tr_setup(void)
{
    tr_dir = tu_tmpdir("strata-recovery");
    return tr_dir ? 0 : 1;
}

static int tr_teardown(void)
{
    tu_rmrf(tr_dir);
    free(tr_dir);
    return 0;
}

static const char *tr_fresh(const char *name)
{
    snprintf(tr_path, sizeof tr_path, "%s/%s", tr_dir, name);
    tu_rmrf(tr_path);
    return tr_path;
}

static void tr_seg_file(const char *dir, int64_t base, const char *ext, char *out, size_t n)
{
    snprintf(out, n, "%s/%020" PRId64 ".%s", dir, base, ext);
}

/* Frame start positions in a .log file (parsed directly). */
static int tr_positions(const char *path, int64_t *pos, int max)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return -1;
    int n = 0;
    int64_t at = 0;
    uint8_t hb[ST_BATCH_HEADER_SIZE];
    st_batch_hdr_t h;
    while (n < max && fseek(fp, (long)at, SEEK_SET) == 0 && fread(hb, 1, sizeof hb, fp) == sizeof hb &&
           st_batch_hdr_decode(hb, sizeof hb, &h) == ST_OK) {
        pos[n++] = at;
        at += (int64_t)st_batch_frame_size(&h);
    }
    fclose(fp);
    return n;
}

static void tr_patch(const char *path, int64_t at, const void *bytes, size_t n)
{
    int fd = open(path, O_WRONLY);
    CU_ASSERT_TRUE_FATAL(fd >= 0);
    CU_ASSERT_EQUAL(pwrite(fd, bytes, n, at), (ssize_t)n);
    close(fd);
}

static uint8_t *tr_slurp(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return NULL;
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    uint8_t *b = malloc((size_t)n + 1);
    *len = fread(b, 1, (size_t)n, fp);
    fclose(fp);
    return b;
}

/* Build a log of nb batches (2 records each, tag = batch number). */
static void tr_build(const char *dir, const sl_log_config_t *c, int nb)
{
    sl_log_t *log;
    CU_ASSERT_EQUAL_FATAL(sl_log_open(dir, c, -1, false, &log, NULL), ST_OK);
    for (int i = 0; i < nb; i++)
        CU_ASSERT_EQUAL(tsl_append(log, 2, 1000 + i, i, 200, 0), 2 * i);
    sl_log_close(log);
}

static void test_corrupt_middle(void)
{
    sl_log_config_t c;
    tsl_cfg(&c);
    const char *dir = tr_fresh("mid");
    tr_build(dir, &c, 150);
    char seg0[1024];
    tr_seg_file(dir, 0, "log", seg0, sizeof seg0);
    int64_t pos[200];
    int n = tr_positions(seg0, pos, 200);
    CU_ASSERT_TRUE_FATAL(n > 30);
    int64_t total = 0;
    {
        sl_log_t *log;
        CU_ASSERT_EQUAL_FATAL(sl_log_open(dir, &c, -1, true, &log, NULL), ST_OK);
        total = sl_log_size_bytes(log);
        CU_ASSERT_TRUE(sl_log_segment_count(log) >= 3);
        sl_log_close(log);
    }
    /* flip one byte inside the body of batch 20 */
    uint8_t x = 0x5a;
    tr_patch(seg0, pos[20] + 80, &x, 1);

    sl_log_t *log;
    sl_recovery_info_t info;
    CU_ASSERT_EQUAL_FATAL(sl_log_open(dir, &c, -1, false, &log, &info), ST_OK);
    CU_ASSERT_TRUE(info.ran);
    CU_ASSERT_STRING_EQUAL(info.corrupt_file, seg0);
    CU_ASSERT_EQUAL(info.corrupt_position, pos[20]);
    CU_ASSERT_PTR_NOT_NULL_FATAL(info.corrupt_reason);
    CU_ASSERT_STRING_EQUAL(info.corrupt_reason, "crc mismatch");
    CU_ASSERT_EQUAL(info.bytes_truncated, total - pos[20]);
    /* the prefix is served, nothing after the bad frame is */
    CU_ASSERT_EQUAL(sl_log_end_offset(log), 40);
    CU_ASSERT_EQUAL(sl_log_segment_count(log), 1);
    CU_ASSERT_EQUAL(tsl_walk(log), 20);
    st_buf_t out;
    st_buf_init(&out);
    CU_ASSERT_EQUAL(sl_log_read(log, 39, 1, -1, &out), ST_OK);
    CU_ASSERT_EQUAL(tsl_frame_tag(out.data, out.len), 19);
    out.len = 0;
    CU_ASSERT_EQUAL(sl_log_read(log, 40, 1 << 20, -1, &out), ST_OK);
    CU_ASSERT_EQUAL(out.len, 0);
    CU_ASSERT_EQUAL(sl_log_read(log, 41, 1 << 20, -1, &out), ST_ERR_OFFSET_OUT_OF_RANGE);
    CU_ASSERT_EQUAL(tsl_file_size(seg0), pos[20]);
    /* the log goes on from there */
    CU_ASSERT_EQUAL(tsl_append(log, 1, 5, 777, 10, 0), 40);
    sl_log_close(log);

    /* a header whose length is garbage is caught too */
    int32_t huge = 0x7ffffff0;
    tr_patch(seg0, pos[5] + ST_BATCH_LENGTH_OFFSET, &huge, 4);
    CU_ASSERT_EQUAL_FATAL(sl_log_open(dir, &c, -1, false, &log, &info), ST_OK);
    CU_ASSERT_EQUAL(info.corrupt_position, pos[5]);
    CU_ASSERT_STRING_EQUAL(info.corrupt_reason, "frame extends past end of file");
    CU_ASSERT_EQUAL(sl_log_end_offset(log), 10);
    CU_ASSERT_EQUAL(tsl_walk(log), 5);
    st_buf_free(&out);
    sl_log_close(log);
}

static void test_torn_log_tail(void)
{
    sl_log_config_t c;
    tsl_cfg(&c);
    c.segment_bytes = 1 << 20;
    const char *dir = tr_fresh("torn");
    tr_build(dir, &c, 30);
    char seg0[1024];
    tr_seg_file(dir, 0, "log", seg0, sizeof seg0);
    int64_t pos[64];
    CU_ASSERT_EQUAL_FATAL(tr_positions(seg0, pos, 64), 30);
    int64_t size = tsl_file_size(seg0);

    /* cut the last 10 bytes: exactly the last batch goes (unclean open) */
    CU_ASSERT_EQUAL(truncate(seg0, size - 10), 0);
    sl_log_t *log;
    sl_recovery_info_t info;
    CU_ASSERT_EQUAL_FATAL(sl_log_open(dir, &c, 58, false, &log, &info), ST_OK);
    CU_ASSERT_EQUAL(info.corrupt_position, pos[29]);
    CU_ASSERT_EQUAL(info.bytes_truncated, size - 10 - pos[29]);
    CU_ASSERT_STRING_EQUAL(info.corrupt_reason, "frame extends past end of file");
    CU_ASSERT_EQUAL(sl_log_end_offset(log), 58);
    CU_ASSERT_EQUAL(tsl_file_size(seg0), pos[29]);
    CU_ASSERT_EQUAL(tsl_walk(log), 29);
    sl_log_close(log);

    /* garbage after the last frame: cut exactly there */
    int64_t good = tsl_file_size(seg0);
    uint8_t junk[100];
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (uint8_t)(i * 37 + 1);
    tr_patch(seg0, good, junk, sizeof junk);
    CU_ASSERT_EQUAL_FATAL(sl_log_open(dir, &c, -1, false, &log, &info), ST_OK);
    CU_ASSERT_EQUAL(info.corrupt_position, good);
    CU_ASSERT_EQUAL(info.bytes_truncated, 100);
    CU_ASSERT_EQUAL(sl_log_end_offset(log), 58);
    CU_ASSERT_EQUAL(tsl_file_size(seg0), good);
    sl_log_close(log);

    /* a garbled last frame (bytes changed, length intact) */
    tr_patch(seg0, pos[28] + 70, junk, 20);
    CU_ASSERT_EQUAL_FATAL(sl_log_open(dir, &c, -1, false, &log, &info), ST_OK);
    CU_ASSERT_EQUAL(info.corrupt_position, pos[28]);
    CU_ASSERT_STRING_EQUAL(info.corrupt_reason, "crc mismatch");
    CU_ASSERT_EQUAL(sl_log_end_offset(log), 56);
    sl_log_close(log);

    /* even a "clean shutdown" open checks the tail */
    int64_t s2 = tsl_file_size(seg0);
    CU_ASSERT_EQUAL(truncate(seg0, s2 - 5), 0);
    CU_ASSERT_EQUAL_FATAL(sl_log_open(dir, &c, 56, true, &log, &info), ST_OK);
    CU_ASSERT_EQUAL(info.corrupt_position, pos[27]);
    CU_ASSERT_EQUAL(sl_log_end_offset(log), 54);
    CU_ASSERT_EQUAL(tsl_walk(log), 27);
    sl_log_close(log);
}

static void test_index_damage(void)
{
    sl_log_config_t c;
    tsl_cfg(&c);
    const char *dir = tr_fresh("idx");
    tr_build(dir, &c, 150);
    char ix0[1024], tix0[1024];
    tr_seg_file(dir, 0, "index", ix0, sizeof ix0);
    tr_seg_file(dir, 0, "timeindex", tix0, sizeof tix0);
    size_t olen, tlen;
    uint8_t *orig = tr_slurp(ix0, &olen);
    uint8_t *torig = tr_slurp(tix0, &tlen);
    CU_ASSERT_TRUE_FATAL(orig && olen >= 16 && olen % 8 == 0);
    CU_ASSERT_TRUE_FATAL(torig && tlen >= 24 && tlen % 12 == 0);

    sl_log_t *log;
    sl_recovery_info_t info;
    for (int round = 0; round < 4; round++) {
        if (round == 0) {
            CU_ASSERT_EQUAL(truncate(ix0, (off_t)olen - 3), 0); /* torn */
        } else if (round == 1) {
            uint32_t badpos;
            memcpy(&badpos, orig + olen - 4, 4);
            badpos += 7; /* last entry points into the middle of a batch */
            tr_patch(ix0, (int64_t)olen - 4, &badpos, 4);
        } else if (round == 2) {
            CU_ASSERT_EQUAL(unlink(tix0), 0); /* missing */
        } else {
            uint8_t z[12] = {0};
            z[0] = 1;
            tr_patch(tix0, (int64_t)tlen, z, sizeof z); /* extra garbage entry */
        }
        CU_ASSERT_EQUAL_FATAL(sl_log_open(dir, &c, -1, true, &log, &info), ST_OK);
        CU_ASSERT_TRUE(info.indexes_rebuilt >= 1);
        CU_ASSERT_EQUAL(info.corrupt_position, -1);
        CU_ASSERT_EQUAL(sl_log_end_offset(log), 300);
        CU_ASSERT_EQUAL(tsl_walk(log), 150);
        int64_t off, ts;
        CU_ASSERT_EQUAL(sl_log_offset_for_timestamp(log, 1010, &off, &ts), ST_OK);
        CU_ASSERT_EQUAL(off, 19); /* batch 9 holds 1009 and 1010 */
        sl_log_close(log);
        /* rebuilt byte for byte */
        size_t l2, t2;
        uint8_t *now = tr_slurp(ix0, &l2);
        uint8_t *tnow = tr_slurp(tix0, &t2);
        CU_ASSERT_EQUAL(l2, olen);
        CU_ASSERT_TRUE(now && l2 == olen && !memcmp(now, orig, olen));
        CU_ASSERT_EQUAL(t2, tlen);
        CU_ASSERT_TRUE(tnow && t2 == tlen && !memcmp(tnow, torig, tlen));
        free(now);
        free(tnow);
    }
    /* an unclean open rebuilds from the recovery point: same bytes */
    CU_ASSERT_EQUAL_FATAL(sl_log_open(dir, &c, -1, false, &log, &info), ST_OK);
    CU_ASSERT_TRUE(info.indexes_rebuilt >= 3);
    sl_log_close(log);
    size_t l3;
    uint8_t *again = tr_slurp(ix0, &l3);
    CU_ASSERT_TRUE(again && l3 == olen && !memcmp(again, orig, olen));
    free(again);
    free(orig);
    free(torig);
}

/* Child of the disk-full test: returns the exit status (0 = all good). */
static int tr_full_child(const char *dir, int wfd)
{
    sl_log_config_t c;
    tsl_cfg(&c);
    c.segment_bytes = 1 << 20;
    sl_log_t *log;
    signal(SIGXFSZ, SIG_IGN);
    if (sl_log_open(dir, &c, -1, false, &log, NULL) != ST_OK)
        return 10;
    for (int i = 0; i < 20; i++)
        if (tsl_append(log, 2, 1000 + i, i, 200, 0) != 2 * i)
            return 11;
    if (sl_log_flush(log) != ST_OK)
        return 12;
    char seg0[1024];
    tr_seg_file(dir, 0, "log", seg0, sizeof seg0);
    int64_t size = tsl_file_size(seg0);
    struct rlimit rl = {(rlim_t)(size + 1500), RLIM_INFINITY};
    if (setrlimit(RLIMIT_FSIZE, &rl) != 0)
        return 13;
    int64_t end = sl_log_end_offset(log);
    st_err_t err = ST_OK;
    int i;
    for (i = 20; i < 100; i++) {
        int64_t before = tsl_file_size(seg0);
        st_buf_t f;
        st_buf_init(&f);
        tsl_frame(&f, 2, 1000 + i, i, 200);
        int64_t base;
        err = sl_log_append(log, f.data, f.len, 0, 0, &base);
        st_buf_free(&f);
        if (err != ST_OK) {
            /* nothing partial: file and state as before the call */
            if (tsl_file_size(seg0) != before)
                return 20;
            if (sl_log_end_offset(log) != end)
                return 21;
            break;
        }
        end = sl_log_end_offset(log);
    }
    if (err != ST_ERR_IO && err != ST_ERR_NO_SPACE)
        return 22;
    if (i < 21)
        return 23; /* at least one append fit before the limit */
    if (tsl_walk(log) != i)
        return 24;
    st_buf_t out;
    st_buf_init(&out);
    if (sl_log_read(log, end, 1 << 20, -1, &out) != ST_OK || out.len != 0)
        return 25;
    st_buf_free(&out);
    if (write(wfd, &end, sizeof end) != (ssize_t)sizeof end)
        return 26;
    return 0; /* exit without closing: a crash right after the failure */
}

static void test_disk_full(void)
{
    const char *dir = tr_fresh("full");
    int fds[2];
    CU_ASSERT_EQUAL_FATAL(pipe(fds), 0);
    pid_t pid = fork();
    CU_ASSERT_TRUE_FATAL(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        _exit(tr_full_child(dir, fds[1]));
    }
    close(fds[1]);
    int status = 0;
    CU_ASSERT_EQUAL(waitpid(pid, &status, 0), pid);
    CU_ASSERT_TRUE(WIFEXITED(status));
    CU_ASSERT_EQUAL(WEXITSTATUS(status), 0);
    int64_t end = -1;
    CU_ASSERT_EQUAL(read(fds[0], &end, sizeof end), (ssize_t)sizeof end);
    close(fds[0]);
    CU_ASSERT_TRUE_FATAL(end > 40);
    /* reopen after the "crash": consistent, nothing partial found */
    sl_log_config_t c;
    tsl_cfg(&c);
    c.segment_bytes = 1 << 20;
    sl_log_t *log;
    sl_recovery_info_t info;
    CU_ASSERT_EQUAL_FATAL(sl_log_open(dir, &c, -1, false, &log, &info), ST_OK);
    CU_ASSERT_EQUAL(info.corrupt_position, -1);
    CU_ASSERT_EQUAL(sl_log_end_offset(log), end);
    CU_ASSERT_EQUAL(tsl_walk(log), (int)(end / 2));
    CU_ASSERT_EQUAL(tsl_append(log, 2, 1, 999, 10, 0), end);
    sl_log_close(log);
}

/* Append n frames of leader epoch `epoch`; the end offset after them. */
static int64_t tr_append_epoch(sl_log_t *log, int n, int32_t epoch)
{
    for (int i = 0; i < n; i++) {
        st_buf_t f;
        st_buf_init(&f);
        tsl_frame(&f, 2, 1000 + i, i, 200);
        int64_t base;
        st_err_t err = sl_log_append(log, f.data, f.len, epoch, 0, &base);
        st_buf_free(&f);
        if (err != ST_OK)
            return -1;
    }
    return sl_log_end_offset(log);
}

/* The child of test_truncate_crash: epoch 1 up to offset 200 made
 * durable and checkpointed, truncated to 20, epoch 2 written past the old
 * recovery point across new segments, then a crash (no close, no
 * checkpoint). */
static int tr_truncate_child(const char *dir)
{
    sl_log_config_t c;
    tsl_cfg(&c);
    sl_logdir_t *ld;
    sl_log_t *log;
    if (sl_logdir_open(dir, &ld) != ST_OK || sl_logdir_open_log(ld, "t", 0, &c, &log) != ST_OK)
        return 10;
    if (tr_append_epoch(log, 100, 1) != 200 || sl_log_flush(log) != ST_OK ||
        sl_logdir_checkpoint_recovery(ld) != ST_OK)
        return 11;
    if (sl_logdir_truncate_to(ld, "t", 0, 20) != ST_OK || sl_log_end_offset(log) != 20)
        return 12;
    if (tr_append_epoch(log, 150, 2) != 320)
        return 13;
    return 0;
}

/* A crash after a truncation and new appends must not trust the recovery
 * point from before the truncation: the new epoch starts where the cut
 * was, every byte after it is checked. */
static void test_truncate_crash(void)
{
    const char *dir = tr_fresh("trunc");
    pid_t pid = fork();
    CU_ASSERT_TRUE_FATAL(pid >= 0);
    if (pid == 0)
        _exit(tr_truncate_child(dir));
    int status = 0;
    CU_ASSERT_EQUAL(waitpid(pid, &status, 0), pid);
    CU_ASSERT_TRUE(WIFEXITED(status));
    CU_ASSERT_EQUAL_FATAL(WEXITSTATUS(status), 0);
    sl_log_config_t c;
    tsl_cfg(&c);
    sl_logdir_t *ld;
    sl_log_t *log;
    CU_ASSERT_EQUAL_FATAL(sl_logdir_open(dir, &ld), ST_OK);
    CU_ASSERT_EQUAL_FATAL(sl_logdir_open_log(ld, "t", 0, &c, &log), ST_OK);
    CU_ASSERT_EQUAL(sl_log_end_offset(log), 320);
    CU_ASSERT_TRUE(sl_log_recovery_point(log) <= 20 || sl_log_recovery_point(log) == 320);
    int32_t e;
    int64_t end;
    sl_log_end_offset_for_epoch(log, 1, &e, &end);
    CU_ASSERT_EQUAL(e, 1);
    CU_ASSERT_EQUAL(end, 20);
    sl_log_end_offset_for_epoch(log, 2, &e, &end);
    CU_ASSERT_EQUAL(e, 2);
    CU_ASSERT_EQUAL(end, 320);
    sl_logdir_close(ld, true);
}

static CU_TestInfo rec_tests[] = {
    {"corrupt batch in the middle of a segment", test_corrupt_middle},
    {"torn and garbled .log tail", test_torn_log_tail},
    {"torn, wrong, missing index files", test_index_damage},
    {"disk full (RLIMIT_FSIZE) in a child", test_disk_full},
    {"crash after truncation and new appends", test_truncate_crash},
    CU_TEST_INFO_NULL,
};
static CU_SuiteInfo suites[] = {
    {"sl_log recovery", tr_setup, tr_teardown, NULL, NULL, rec_tests},
    CU_SUITE_INFO_NULL,
};

int main(void)
{
    return tu_main(suites);
}
