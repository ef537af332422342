/*
 * log-bench: throughput of the partition log against the raw disk.
 * Appends 1 KiB records in batches of 16 KiB and of 256 KiB to one
 * partition (a final fsync included, so it compares with dd's
 * conv=fdatasync), reads everything back with sl_log_read, and times
 * `dd if=/dev/zero of=<dir>/dd.tmp bs=1M count=2048 conv=fdatasync` on the
 * same directory. Prints MB/s (10^6 bytes) and the ratios append/dd
 * (target >= 0.5) and read/append (target >= 2).
 *
 * usage: log-bench [dir [total-MiB]]   (defaults: ./log-bench.XXXXXX, 1024)
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/st_batch.h"
#include "storage/sl_file.h"
#include "storage/sl_log.h"

static double lb_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One uncompressed frame of 1 KiB records, about batch_bytes large. */
static int lb_frame(size_t batch_bytes, st_buf_t *out)
{
    st_batch_builder_t b;
    st_batch_builder_init(&b, ST_CODEC_NONE);
    uint8_t val[1024];
    for (size_t i = 0; i < sizeof val; i++)
        val[i] = (uint8_t)(i * 131 + 7);
    int n = (int)(batch_bytes / 1024);
    for (int i = 0; i < n; i++) {
        char key[16];
        int kl = snprintf(key, sizeof key, "%d", i);
        if (st_batch_builder_add(&b, 1700000000000LL + i, key, (size_t)kl, val, sizeof val, NULL, 0) != ST_OK)
            return -1;
    }
    st_err_t err = st_batch_builder_finish(&b, out);
    st_batch_builder_fini(&b);
    return err == ST_OK ? 0 : -1;
}

typedef struct lb_result {
    double append_mbs, read_mbs;
} lb_result_t;

static int lb_run(const char *dir, size_t batch_bytes, uint64_t total, lb_result_t *res)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/bench-%zu", dir, batch_bytes);
    sl_file_rmrf(path);
    sl_log_config_t c;
    sl_log_config_default(&c);
    c.max_message_bytes = 4 << 20;
    sl_log_t *log;
    if (sl_log_open(path, &c, -1, false, &log, NULL) != ST_OK) {
        fprintf(stderr, "cannot open log in %s\n", path);
        return -1;
    }
    st_buf_t f;
    st_buf_init(&f);
    if (lb_frame(batch_bytes, &f) != 0)
        return -1;
    uint64_t n = total / f.len;
    double t0 = lb_now();
    for (uint64_t i = 0; i < n; i++) {
        int64_t base;
        st_err_t err = sl_log_append(log, f.data, f.len, 0, 0, &base);
        if (err != ST_OK) {
            fprintf(stderr, "append failed: %s\n", st_err_name(err));
            return -1;
        }
    }
    if (sl_log_flush(log) != ST_OK)
        return -1;
    double t1 = lb_now();
    uint64_t bytes = n * f.len;
    res->append_mbs = (double)bytes / (t1 - t0) / 1e6;

    st_buf_t out;
    st_buf_init(&out);
    int64_t off = 0, end = sl_log_end_offset(log);
    uint64_t rbytes = 0;
    t0 = lb_now();
    while (off < end) {
        out.len = 0;
        if (sl_log_read(log, off, 1 << 20, -1, &out) != ST_OK || out.len == 0) {
            fprintf(stderr, "read failed at %" PRId64 "\n", off);
            return -1;
        }
        /* the next offset: after the last frame returned */
        size_t p = 0;
        st_batch_hdr_t h;
        while (p < out.len && st_batch_hdr_decode(out.data + p, out.len - p, &h) == ST_OK) {
            off = h.base_offset + h.last_offset_delta + 1;
            p += st_batch_frame_size(&h);
        }
        rbytes += out.len;
    }
    t1 = lb_now();
    res->read_mbs = (double)rbytes / (t1 - t0) / 1e6;
    if (rbytes != bytes)
        fprintf(stderr, "warning: read %" PRIu64 " bytes, wrote %" PRIu64 "\n", rbytes, bytes);
    printf("batch %4zu KiB: %" PRIu64 " batches, %.0f MB: append+fsync %.1f MB/s, read %.1f MB/s\n",
           batch_bytes / 1024, n, (double)bytes / 1e6, res->append_mbs, res->read_mbs);
    fflush(stdout);
    st_buf_free(&out);
    st_buf_free(&f);
    sl_log_delete(log);
    return 0;
}

static double lb_dd(const char *dir)
{
    char cmd[8400], tmp[4200];
    snprintf(tmp, sizeof tmp, "%s/dd.tmp", dir);
    snprintf(cmd, sizeof cmd, "dd if=/dev/zero of='%s' bs=1M count=2048 conv=fdatasync 2>&1", tmp);
    double t0 = lb_now();
    FILE *p = popen(cmd, "r");
    if (!p)
        return -1;
    char line[512];
    while (fgets(line, sizeof line, p))
        ;
    int rc = pclose(p);
    double t1 = lb_now();
    unlink(tmp);
    if (rc != 0)
        return -1;
    return 2048.0 * 1048576.0 / (t1 - t0) / 1e6;
}

int main(int argc, char **argv)
{
    char dirbuf[4096];
    const char *dir = argc > 1 ? argv[1] : NULL;
    uint64_t mib = argc > 2 ? strtoull(argv[2], NULL, 10) : 1024;
    bool made = false;
    if (!dir) {
        snprintf(dirbuf, sizeof dirbuf, "./log-bench.XXXXXX");
        if (!mkdtemp(dirbuf)) {
            perror("mkdtemp");
            return 1;
        }
        dir = dirbuf;
        made = true;
    } else if (sl_file_mkdirs(dir) != ST_OK) {
        fprintf(stderr, "cannot create %s\n", dir);
        return 1;
    }
    if (mib == 0)
        mib = 1024;
    printf("log-bench: %s, %" PRIu64 " MiB per run, 1 KiB records\n", dir, mib);
    lb_result_t r16, r256;
    if (lb_run(dir, 16 * 1024, mib << 20, &r16) != 0 || lb_run(dir, 256 * 1024, mib << 20, &r256) != 0)
        return 1;
    double dd = lb_dd(dir);
    if (dd <= 0) {
        fprintf(stderr, "dd failed\n");
        return 1;
    }
    printf("dd bs=1M count=2048 conv=fdatasync: %.1f MB/s\n", dd);
    printf("append/dd:   16 KiB %.2f, 256 KiB %.2f (target >= 0.5)\n", r16.append_mbs / dd,
           r256.append_mbs / dd);
    printf("read/append: 16 KiB %.2f, 256 KiB %.2f (target >= 2)\n", r16.read_mbs / r16.append_mbs,
           r256.read_mbs / r256.append_mbs);
    if (made)
        sl_file_rmrf(dir);
    return 0;
}
