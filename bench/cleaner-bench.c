/*
 * cleaner-bench: throughput of log compaction next to the log's read
 * throughput, measured in the same run on the same data. Builds one
 * partition log (default 512 MiB) of 1 KiB records in 16 KiB batches whose
 * keys are drawn at random from a set of 10% as many keys as records
 * (segment.bytes 64 MiB, cleanup.policy=compact), reads it all back with
 * log-bench's read loop (sl_log_read, 1 MiB at a time), then runs the
 * cleaner once over every closed segment (prepare + run + commit on this
 * thread). Prints read MB/s, cleaner MB/s (bytes of log cleaned per
 * second, and bytes read by both cleaner passes per second) and the
 * ratio cleaner/read. MB = 10^6 bytes.
 *
 * usage: cleaner-bench [dir [total-MiB]]  (defaults: ./cleaner-bench.XXXXXX, 512)
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/st_batch.h"
#include "storage/sl_cleaner.h"
#include "storage/sl_file.h"
#include "storage/sl_log.h"

static double cb_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* xorshift64*: reproducible keys without libc's rand() state. */
static uint64_t cb_rand(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ULL;
}

/* The read loop of log-bench: everything from offset 0, 1 MiB a time. */
static int cb_read_all(sl_log_t *log, uint64_t *bytes)
{
    st_buf_t out;
    st_buf_init(&out);
    int64_t off = sl_log_start_offset(log), end = sl_log_end_offset(log);
    *bytes = 0;
    while (off < end) {
        out.len = 0;
        if (sl_log_read(log, off, 1 << 20, -1, &out) != ST_OK || out.len == 0) {
            fprintf(stderr, "read failed at %" PRId64 "\n", off);
            st_buf_free(&out);
            return -1;
        }
        size_t p = 0;
        st_batch_hdr_t h;
        while (p < out.len && st_batch_hdr_decode(out.data + p, out.len - p, &h) == ST_OK) {
            off = h.base_offset + h.last_offset_delta + 1;
            p += st_batch_frame_size(&h);
        }
        *bytes += out.len;
    }
    st_buf_free(&out);
    return 0;
}

int main(int argc, char **argv)
{
    char tmpl[] = "./cleaner-bench.XXXXXX";
    const char *dir = argc > 1 ? argv[1] : NULL;
    long mib = argc > 2 ? atol(argv[2]) : 512;
    if (mib <= 0)
        mib = 512;
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (!dir && !(dir = mkdtemp(tmpl))) {
        perror("mkdtemp");
        return 1;
    }
    char logdir[4096];
    snprintf(logdir, sizeof logdir, "%s/bench-0", dir);
    sl_log_config_t c;
    sl_log_config_default(&c);
    c.segment_bytes = 64 << 20;
    c.cleanup_policy = SL_CLEANUP_COMPACT;
    c.retention_ms = -1;
    sl_log_t *log;
    if (sl_log_open(logdir, &c, -1, false, &log, NULL) != ST_OK) {
        fprintf(stderr, "cannot open %s\n", logdir);
        return 1;
    }

    const int per_batch = 16;
    int64_t records = (int64_t)mib * 1024; /* 1 KiB each */
    int64_t nkeys = records / 10;
    uint8_t val[1000];
    for (size_t i = 0; i < sizeof val; i++)
        val[i] = (uint8_t)(i * 131 + 7);
    uint64_t seed = 88172645463325252ULL;
    st_buf_t f;
    st_buf_init(&f);
    st_batch_builder_t b;
    st_batch_builder_init(&b, ST_CODEC_NONE);
    double t0 = cb_now();
    for (int64_t r = 0; r < records; r += per_batch) {
        st_batch_builder_reset(&b);
        for (int i = 0; i < per_batch; i++) {
            char key[24];
            int kl = snprintf(key, sizeof key, "key-%012" PRIu64, cb_rand(&seed) % (uint64_t)nkeys);
            st_batch_builder_add(&b, 1700000000000LL + r + i, key, (size_t)kl, val, sizeof val, NULL, 0);
        }
        f.len = 0;
        int64_t base;
        if (st_batch_builder_finish(&b, &f) != ST_OK ||
            sl_log_append(log, f.data, f.len, 0, 1700000000000LL, &base) != ST_OK) {
            fprintf(stderr, "append failed\n");
            return 1;
        }
    }
    st_batch_builder_fini(&b);
    st_buf_free(&f);
    if (sl_log_flush(log) != ST_OK)
        return 1;
    double t1 = cb_now();
    int64_t size = sl_log_size_bytes(log);
    printf("log: %.0f MB, %" PRId64 " records, %" PRId64 " keys, %d segments, built in %.1f s\n",
           (double)size / 1e6, records, nkeys, sl_log_segment_count(log), t1 - t0);

    uint64_t rbytes;
    t0 = cb_now();
    if (cb_read_all(log, &rbytes) != 0)
        return 1;
    t1 = cb_now();
    double read_mbs = (double)rbytes / (t1 - t0) / 1e6;

    sl_cleaner_opts_t o = {
        .now_ms = 1700000000000LL + records, .max_offset = -1, .force = true, .map_bytes = (size_t)256 << 20};
    sl_cleaner_stats_t st;
    t0 = cb_now();
    st_err_t err = sl_cleaner_clean(log, &o, &st);
    t1 = cb_now();
    if (err != ST_OK) {
        fprintf(stderr, "cleaner: %s\n", st_err_name(err));
        return 1;
    }
    double clean_mbs = (double)st.bytes_in / (t1 - t0) / 1e6;
    double scan_mbs = (double)st.bytes_read / (t1 - t0) / 1e6;
    printf("read:    %.0f MB in %.2f s: %.1f MB/s\n", (double)rbytes / 1e6, (double)rbytes / 1e6 / read_mbs,
           read_mbs);
    printf("cleaner: %d segments, %.0f MB -> %.0f MB, %" PRId64 " -> %" PRId64 " records, %" PRId64
           " keys, %.2f s: %.1f MB/s of log cleaned (%.1f MB/s read by both passes)\n",
           st.segments, (double)st.bytes_in / 1e6, (double)st.bytes_out / 1e6, st.records_in, st.records_out,
           st.keys, t1 - t0, clean_mbs, scan_mbs);
    printf("cleaner/read: %.2f\n", clean_mbs / read_mbs);
    uint64_t after;
    if (cb_read_all(log, &after) != 0)
        return 1;
    sl_log_close(log);
    if (argc <= 1)
        sl_file_rmrf(dir);
    else
        sl_file_rmrf(logdir);
    return 0;
}
