/*
 * Unit tests of the broker's log cleaner scheduler (br_cleaner) and of
 * log-directory failure in the partition manager. Real logs in temp dirs,
 * a real partition manager (two log dirs), a real worker pool, a private
 * libev loop driven by the test; the br_call double of tu_call.c captures
 * Produce/Fetch replies. The log-dir failure is a real failing write:
 * RLIMIT_FSIZE in a forked child makes the segment append fail with EFBIG.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "partition/br_cleaner.h"
#include "partition/br_pm.h"
#include "partition/br_pm_local.h"
#include "common/st_batch.h"
#include "raw.pb-c.h"
#include "strata.pb-c.h"
#include "tu.h"
#include "tu_call.h"

/* --------------------------------------------------------------- fixture */

#define TS_DEADLINE_S 20

static char *g_root;
static char g_dirs[2][512];
static sl_logdir_t *g_ld[2];
static struct ev_loop *g_loop;
static br_pm_t *g_pm;
static br_pm_limits_t g_limits;

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Open the two log dirs and a manager over them (broker 1). 0 on success. */
static int fixture_open(void)
{
    g_loop = ev_loop_new(EVFLAG_AUTO);
    if (!g_loop)
        return -1;
    for (int i = 0; i < 2; i++) {
        snprintf(g_dirs[i], sizeof g_dirs[i], "%s/d%d", g_root, i);
        if (mkdir(g_dirs[i], 0755) != 0 || sl_logdir_open(g_dirs[i], &g_ld[i]) != ST_OK)
            return -1;
    }
    g_limits.message_max_bytes = 1048588;
    g_limits.fetch_max_bytes = 57671680;
    g_limits.max_wait_ms_cap = 30000;
    g_limits.log_message_timestamp_difference_max_ms = INT64_MAX;
    g_pm = br_pm_new(g_loop, 1, g_ld, 2, &g_limits);
    return g_pm ? 0 : -1;
}

static void fixture_close(void)
{
    br_pm_free(g_pm, true);
    g_pm = NULL;
    for (int i = 0; i < 2; i++) {
        sl_logdir_close(g_ld[i], true);
        g_ld[i] = NULL;
    }
    ev_loop_destroy(g_loop);
    g_loop = NULL;
}

static void setup(const char *name)
{
    g_root = tu_tmpdir(name);
    CU_ASSERT_FATAL(fixture_open() == 0);
}

static void teardown(void)
{
    if (g_pm)
        fixture_close();
    tu_rmrf(g_root);
    free(g_root);
    g_root = NULL;
}

static void compact_cfg(sl_log_config_t *c, bool compact)
{
    memset(c, 0, sizeof *c); /* padding too: br_pm_apply_state memcmp()s configs */
    sl_log_config_default(c);
    c->segment_bytes = 2048;
    c->index_interval_bytes = 256;
    c->segment_index_bytes = 4096;
    c->retention_ms = -1;
    CU_ASSERT_FATAL(
        br_cleaner_log_config(c, compact ? "compact" : "delete", "86400000", "0.5", "0", NULL, 0) == ST_OK);
}

/* Host topic/partition here; leader with the given ISR (this broker
 * first). Returns apply_state's result. */
static st_err_t host(const char *topic, int32_t partition, const sl_log_config_t *cfg, const int32_t *isr,
                     size_t n_isr)
{
    int32_t replicas[] = {1, 2};
    br_part_state_t st = {.leader = 1,
                          .leader_epoch = 1,
                          .controller_epoch = 1,
                          .replicas = replicas,
                          .n_replicas = 2,
                          .isr = isr,
                          .n_isr = n_isr};
    return br_pm_apply_state(g_pm, topic, partition, &st, cfg);
}

static void append_cb(void *arg, st_err_t err, int64_t base)
{
    (void)base;
    *(st_err_t *)arg = err;
}

/* Append one batch of n keyed records (keys k0..k<nkeys-1>, rotating from
 * first) through the manager, acks=all. Returns the outcome (ST_OK once
 * the HW passed it; ST_ERR_REQUEST_TIMED_OUT when it waits). */
static st_err_t append_keys(const char *topic, int32_t partition, int n, int first, int nkeys, int tag)
{
    st_batch_builder_t b;
    st_batch_builder_init(&b, ST_CODEC_NONE);
    int64_t ts = now_ms();
    for (int i = 0; i < n; i++) {
        char k[16], v[64];
        int kl = snprintf(k, sizeof k, "k%d", (first + i) % nkeys);
        int vl = snprintf(v, sizeof v, "value-%d-%d-padding-padding", tag, i);
        st_batch_builder_add(&b, ts, k, (size_t)kl, v, (size_t)vl, NULL, 0);
    }
    st_buf_t f;
    st_buf_init(&f);
    st_batch_builder_finish(&b, &f);
    st_batch_builder_fini(&b);
    /* a static outcome: a waiting append is answered when the manager closes */
    static st_err_t res;
    res = ST_ERR_REQUEST_TIMED_OUT;
    st_err_t err = br_pm_local_append(g_pm, topic, partition, f.data, f.len, 60000, append_cb, &res);
    st_buf_free(&f);
    return err != ST_OK ? err : res;
}

/* Records and distinct keys readable from the log start to the HW. */
static void count_records(const char *topic, int32_t partition, int64_t *records, int64_t *bytes)
{
    br_pm_log_ref_t ref;
    CU_ASSERT_FATAL(br_pm_get_log(g_pm, topic, partition, &ref) == ST_OK);
    int64_t off = sl_log_start_offset(ref.log), end = sl_log_end_offset(ref.log);
    *records = 0;
    *bytes = 0;
    st_buf_t b;
    st_buf_init(&b);
    int guard = 0;
    while (off < end && guard++ < 100000) {
        b.len = 0;
        CU_ASSERT_FATAL(br_pm_local_read(g_pm, topic, partition, off, 1 << 20, -1, &b) == ST_OK);
        if (b.len == 0)
            break;
        size_t p = 0;
        while (p < b.len) {
            st_batch_hdr_t h;
            CU_ASSERT_FATAL(st_batch_hdr_decode(b.data + p, b.len - p, &h) == ST_OK);
            size_t fs = st_batch_frame_size(&h);
            *records += h.record_count;
            *bytes += (int64_t)fs;
            off = h.base_offset + h.last_offset_delta + 1;
            p += fs;
        }
    }
    st_buf_free(&b);
}

/* Run the loop until the cleaner has nothing in flight (bounded). */
static void drain(br_cleaner_t *c)
{
    time_t t0 = time(NULL);
    while (br_cleaner_active(c) > 0 && time(NULL) - t0 < TS_DEADLINE_S)
        ev_run(g_loop, EVRUN_ONCE);
    CU_ASSERT_EQUAL(br_cleaner_active(c), 0);
}

static br_cleaner_t *cleaner(int threads, bool enable)
{
    br_cleaner_config_t cc;
    br_cleaner_config_default(&cc);
    cc.threads = threads;
    cc.enable = enable;
    cc.backoff_ms = 600000; /* the test drives the passes */
    br_cleaner_t *c = NULL;
    CU_ASSERT_FATAL(br_cleaner_new(g_loop, g_pm, &cc, &c) == ST_OK);
    return c;
}

/* ----------------------------------------------------- cleaner scheduler */

/* A compacted topic is cleaned on the pool and committed; a delete topic
 * with the same data is left alone; a compacted partition whose HW is
 * still 0 (ISR waits for a follower) is not cleaned past its HW. */
static void test_sched_compacts_only_compact(void)
{
    setup("cleaner_sched");
    sl_log_config_t cc, dc;
    compact_cfg(&cc, true);
    compact_cfg(&dc, false);
    int32_t isr1[] = {1}, isr2[] = {1, 2};
    CU_ASSERT_FATAL(host("comp", 0, &cc, isr1, 1) == ST_OK);
    CU_ASSERT_FATAL(host("del", 0, &dc, isr1, 1) == ST_OK);
    CU_ASSERT_FATAL(host("held", 0, &cc, isr2, 2) == ST_OK);
    for (int i = 0; i < 60; i++) {
        CU_ASSERT_EQUAL(append_keys("comp", 0, 4, i, 5, i), ST_OK);
        CU_ASSERT_EQUAL(append_keys("del", 0, 4, i, 5, i), ST_OK);
        CU_ASSERT_EQUAL(append_keys("held", 0, 4, i, 5, i), ST_ERR_REQUEST_TIMED_OUT); /* waits */
    }
    int64_t rec_c0, bytes_c0, rec_d0, bytes_d0, rec_h0, bytes_h0;
    count_records("comp", 0, &rec_c0, &bytes_c0);
    count_records("del", 0, &rec_d0, &bytes_d0);
    count_records("held", 0, &rec_h0, &bytes_h0);
    CU_ASSERT_EQUAL(rec_c0, 240);
    CU_ASSERT_EQUAL(rec_d0, 240);
    CU_ASSERT_EQUAL(rec_h0, 240);

    br_cleaner_t *c = cleaner(2, true);
    CU_ASSERT_EQUAL(br_cleaner_schedule(c, now_ms()), 1); /* only "comp" */
    CU_ASSERT_EQUAL(br_cleaner_active(c), 1);
    drain(c);
    br_cleaner_totals_t t;
    br_cleaner_get_totals(c, &t);
    CU_ASSERT_EQUAL(t.runs, 1);
    CU_ASSERT_EQUAL(t.runs_failed, 0);
    CU_ASSERT(t.records_out < t.records_in);
    CU_ASSERT(t.bytes_out < t.bytes_in);

    int64_t rec_c1, bytes_c1, rec_d1, bytes_d1, rec_h1, bytes_h1;
    count_records("comp", 0, &rec_c1, &bytes_c1);
    count_records("del", 0, &rec_d1, &bytes_d1);
    count_records("held", 0, &rec_h1, &bytes_h1);
    CU_ASSERT(rec_c1 < rec_c0);
    CU_ASSERT(rec_c1 >= 5); /* at least the latest of each key */
    CU_ASSERT_EQUAL(rec_c0 - rec_c1, t.records_in - t.records_out);
    CU_ASSERT_EQUAL(rec_d1, rec_d0);
    CU_ASSERT_EQUAL(bytes_d1, bytes_d0);
    CU_ASSERT_EQUAL(rec_h1, rec_h0);
    CU_ASSERT_EQUAL(bytes_h1, bytes_h0);

    /* nothing dirty any more: the next pass starts nothing */
    CU_ASSERT_EQUAL(br_cleaner_schedule(c, now_ms()), 0);
    br_cleaner_free(c);
    teardown();
}

/* Two threads, three dirty logs: passes keep going until all are clean. */
static void test_sched_threads(void)
{
    setup("cleaner_threads");
    sl_log_config_t cc;
    compact_cfg(&cc, true);
    int32_t isr1[] = {1};
    for (int p = 0; p < 3; p++)
        CU_ASSERT_FATAL(host("t", p, &cc, isr1, 1) == ST_OK);
    for (int i = 0; i < 50; i++)
        for (int p = 0; p < 3; p++)
            CU_ASSERT_EQUAL(append_keys("t", p, 3, i, 4 + p, i), ST_OK);
    br_cleaner_t *c = cleaner(2, true);
    CU_ASSERT_EQUAL(br_cleaner_schedule(c, now_ms()), 2); /* log.cleaner.threads */
    CU_ASSERT_EQUAL(br_cleaner_schedule(c, now_ms()), 0); /* no free slot */
    drain(c);
    br_cleaner_totals_t t;
    br_cleaner_get_totals(c, &t);
    CU_ASSERT_EQUAL(t.runs, 3); /* the third started as soon as a slot freed */
    CU_ASSERT_EQUAL(t.runs_failed, 0);
    br_cleaner_free(c);
    teardown();
}

/* Stopping (deleting) a replica with a plan out: the hook abandons the
 * plan before the log goes; nothing is committed, nothing is left. */
static void test_sched_stop_abandons(void)
{
    setup("cleaner_stop");
    sl_log_config_t cc;
    compact_cfg(&cc, true);
    int32_t isr1[] = {1};
    CU_ASSERT_FATAL(host("s", 0, &cc, isr1, 1) == ST_OK);
    CU_ASSERT_FATAL(host("s", 1, &cc, isr1, 1) == ST_OK);
    for (int i = 0; i < 60; i++) {
        CU_ASSERT_EQUAL(append_keys("s", 0, 4, i, 3, i), ST_OK);
        CU_ASSERT_EQUAL(append_keys("s", 1, 4, i, 3, i), ST_OK);
    }
    br_pm_log_ref_t ref;
    CU_ASSERT_FATAL(br_pm_get_log(g_pm, "s", 0, &ref) == ST_OK);
    char path[1024];
    snprintf(path, sizeof path, "%s", sl_log_dir(ref.log));
    br_cleaner_t *c = cleaner(2, true);
    CU_ASSERT_EQUAL(br_cleaner_schedule(c, now_ms()), 2);
    br_pm_stop(g_pm, "s", 0, true);
    br_pm_stop(g_pm, "s", 1, false);
    CU_ASSERT_EQUAL(br_pm_get_log(g_pm, "s", 0, &ref), ST_ERR_NOT_FOUND);
    drain(c);
    br_cleaner_totals_t t;
    br_cleaner_get_totals(c, &t);
    CU_ASSERT_EQUAL(t.runs, 0);
    CU_ASSERT_EQUAL(t.runs_abandoned, 2);
    struct stat sb;
    CU_ASSERT_NOT_EQUAL(stat(path, &sb), 0); /* deleted, .cleaned files and all */
    br_cleaner_free(c);
    teardown();
}

/* The manager is freed before the cleaner's plans came back: the hook
 * frees them; then the cleaner goes without committing anything. Also:
 * a disabled cleaner starts nothing. */
static void test_sched_free_order_and_disabled(void)
{
    setup("cleaner_free");
    sl_log_config_t cc;
    compact_cfg(&cc, true);
    int32_t isr1[] = {1};
    CU_ASSERT_FATAL(host("f", 0, &cc, isr1, 1) == ST_OK);
    for (int i = 0; i < 60; i++)
        CU_ASSERT_EQUAL(append_keys("f", 0, 4, i, 3, i), ST_OK);
    br_cleaner_t *off = cleaner(1, false);
    CU_ASSERT_EQUAL(br_cleaner_schedule(off, now_ms()), 0);
    br_cleaner_free(off);

    br_cleaner_t *c = cleaner(1, true);
    CU_ASSERT_EQUAL(br_cleaner_schedule(c, now_ms()), 1);
    br_cleaner_free(c); /* with the plan in flight */
    c = cleaner(1, true);
    CU_ASSERT_EQUAL(br_cleaner_schedule(c, now_ms()), 1);
    br_pm_free(g_pm, true); /* hook: the plan is released first */
    g_pm = NULL;
    br_cleaner_totals_t t;
    br_cleaner_get_totals(c, &t);
    CU_ASSERT_EQUAL(t.runs, 0);
    br_cleaner_free(c);
    for (int i = 0; i < 2; i++) {
        sl_logdir_close(g_ld[i], true);
        g_ld[i] = NULL;
    }
    ev_loop_destroy(g_loop);
    g_loop = NULL;
    teardown();
}

static void test_topic_config(void)
{
    sl_log_config_t c;
    memset(&c, 0, sizeof c);
    sl_log_config_default(&c);
    char err[128];
    CU_ASSERT_EQUAL(br_cleaner_log_config(&c, "compact,delete", "1000", "0.25", "5000", err, sizeof err),
                    ST_OK);
    CU_ASSERT_EQUAL(c.cleanup_policy, SL_CLEANUP_COMPACT | SL_CLEANUP_DELETE);
    CU_ASSERT_EQUAL(c.delete_retention_ms, 1000);
    CU_ASSERT_DOUBLE_EQUAL(c.min_cleanable_dirty_ratio, 0.25, 1e-9);
    CU_ASSERT_EQUAL(c.min_compaction_lag_ms, 5000);
    CU_ASSERT_EQUAL(br_cleaner_log_config(&c, "delete", NULL, NULL, NULL, err, sizeof err), ST_OK);
    CU_ASSERT_EQUAL(c.cleanup_policy, SL_CLEANUP_DELETE);
    CU_ASSERT_EQUAL(c.delete_retention_ms, 1000); /* NULL keeps */
    CU_ASSERT_EQUAL(br_cleaner_log_config(&c, " compact ", NULL, NULL, NULL, err, sizeof err), ST_OK);
    CU_ASSERT_EQUAL(c.cleanup_policy, SL_CLEANUP_COMPACT);
    sl_log_config_t before;
    memcpy(&before, &c, sizeof before);
    const char *bad_policy[] = {"", "compact,", "remove", "compact,,delete"};
    for (size_t i = 0; i < sizeof bad_policy / sizeof *bad_policy; i++) {
        err[0] = '\0';
        CU_ASSERT_EQUAL(br_cleaner_log_config(&c, bad_policy[i], NULL, NULL, NULL, err, sizeof err),
                        ST_ERR_INVALID_CONFIG);
        CU_ASSERT(strstr(err, "cleanup.policy") != NULL);
    }
    CU_ASSERT_EQUAL(br_cleaner_log_config(&c, NULL, "-1", NULL, NULL, err, sizeof err),
                    ST_ERR_INVALID_CONFIG);
    CU_ASSERT(strstr(err, "delete.retention.ms") != NULL);
    CU_ASSERT_EQUAL(br_cleaner_log_config(&c, "delete", NULL, "1.5", NULL, err, sizeof err),
                    ST_ERR_INVALID_CONFIG);
    CU_ASSERT(strstr(err, "min.cleanable.dirty.ratio") != NULL);
    CU_ASSERT_EQUAL(br_cleaner_log_config(&c, NULL, NULL, "nan", NULL, err, sizeof err),
                    ST_ERR_INVALID_CONFIG);
    CU_ASSERT_EQUAL(br_cleaner_log_config(&c, NULL, NULL, NULL, "12x", err, sizeof err),
                    ST_ERR_INVALID_CONFIG);
    CU_ASSERT(strstr(err, "min.compaction.lag.ms") != NULL);
    CU_ASSERT(memcmp(&c, &before, sizeof c) == 0); /* unchanged on error */
}

/* ---------------------------------------------------------- log-dir failure */

static int g_fails;
#define CHECK(cond)                                                                                          \
    do {                                                                                                     \
        if (!(cond)) {                                                                                       \
            fprintf(stderr, "child check failed line %d: %s\n", __LINE__, #cond);                            \
            g_fails++;                                                                                       \
        }                                                                                                    \
    } while (0)

typedef struct dirfail_rec {
    int calls;
    char dir[512];
    st_err_t err;
    size_t n_parts;
    int has_p0, has_p2;
} dirfail_rec_t;

static void dirfail_cb(void *arg, const char *log_dir, st_err_t err, const br_pm_tp_t *parts, size_t n_parts)
{
    dirfail_rec_t *r = arg;
    r->calls++;
    snprintf(r->dir, sizeof r->dir, "%s", log_dir);
    r->err = err;
    r->n_parts = n_parts;
    for (size_t i = 0; i < n_parts; i++) {
        if (strcmp(parts[i].topic, "a") == 0 && parts[i].partition == 0)
            r->has_p0 = 1;
        if (strcmp(parts[i].topic, "a") == 0 && parts[i].partition == 2)
            r->has_p2 = 1;
    }
}

static void wire_batch(size_t value_len, st_buf_t *wire)
{
    st_batch_builder_t b;
    st_batch_builder_init(&b, ST_CODEC_NONE);
    char *v = malloc(value_len);
    memset(v, 'x', value_len);
    st_batch_builder_add(&b, now_ms(), "k", 1, v, value_len, NULL, 0);
    free(v);
    st_buf_t frame;
    st_buf_init(&frame);
    st_buf_init(wire);
    st_batch_builder_finish(&b, &frame);
    st_batch_to_wire(frame.data, frame.len, wire);
    st_buf_free(&frame);
    st_batch_builder_fini(&b);
}

/* Produce one batch of value_len bytes (acks=1); the partition's error. */
static int produce_err(const char *topic, int32_t partition, size_t value_len)
{
    st_buf_t wire;
    wire_batch(value_len, &wire);
    ProtobufCBinaryData bd = {.len = wire.len, .data = wire.data};
    Strata__Raw__RawProducePartition pp = STRATA__RAW__RAW_PRODUCE_PARTITION__INIT;
    pp.partition = partition;
    pp.n_batches = 1;
    pp.batches = &bd;
    Strata__Raw__RawProducePartition *ppp = &pp;
    Strata__Raw__RawProduceTopic pt = STRATA__RAW__RAW_PRODUCE_TOPIC__INIT;
    pt.name = (char *)topic;
    pt.n_partitions = 1;
    pt.partitions = &ppp;
    Strata__Raw__RawProduceTopic *ptp = &pt;
    Strata__Raw__RawProduceRequest req = STRATA__RAW__RAW_PRODUCE_REQUEST__INIT;
    req.acks = 1;
    req.timeout_ms = 1000;
    req.n_topics = 1;
    req.topics = &ptp;
    br_call_t c = {.corr = 5, .replica_id = -1};
    br_pm_handle_produce(g_pm, &c, &req);
    st_buf_free(&wire);
    int err = -1;
    Strata__Response *r = c.replies == 1 ? strata__response__unpack(NULL, c.len, c.buf) : NULL;
    if (r && r->body_case == STRATA__RESPONSE__BODY_PRODUCE && r->produce->n_topics == 1 &&
        r->produce->topics[0]->n_partitions == 1)
        err = r->produce->topics[0]->partitions[0]->error;
    if (r)
        strata__response__free_unpacked(r, NULL);
    free(c.buf);
    return err;
}

/* Start a fetch (min_bytes, max_wait) into *c; no decoding. */
static void fetch_start(br_call_t *c, const char *topic, int32_t partition, int64_t offset, int32_t min_bytes,
                        int32_t max_wait)
{
    Strata__FetchPartitionRequest fp = STRATA__FETCH_PARTITION_REQUEST__INIT;
    fp.partition = partition;
    fp.fetch_offset = offset;
    fp.current_leader_epoch = -1;
    Strata__FetchPartitionRequest *fpp = &fp;
    Strata__FetchTopicRequest ft = STRATA__FETCH_TOPIC_REQUEST__INIT;
    ft.name = (char *)topic;
    ft.n_partitions = 1;
    ft.partitions = &fpp;
    Strata__FetchTopicRequest *ftp = &ft;
    Strata__FetchRequest req = STRATA__FETCH_REQUEST__INIT;
    req.max_wait_ms = max_wait;
    req.min_bytes = min_bytes;
    req.n_topics = 1;
    req.topics = &ftp;
    br_pm_handle_fetch(g_pm, c, &req);
}

/* The single partition's error of a captured fetch reply, -1 if none. */
static int fetch_reply_err(const br_call_t *c)
{
    if (c->replies != 1)
        return -1;
    Strata__Raw__RawResponse *r = strata__raw__raw_response__unpack(NULL, c->len, c->buf);
    int err = -1;
    if (r && r->body_case == STRATA__RAW__RAW_RESPONSE__BODY_FETCH && r->fetch->n_topics == 1 &&
        r->fetch->topics[0]->n_partitions == 1)
        err = r->fetch->topics[0]->partitions[0]->error;
    if (r)
        strata__raw__raw_response__free_unpacked(r, NULL);
    return err;
}

static int fetch_err(const char *topic, int32_t partition, int64_t offset)
{
    br_call_t c = {.corr = 6, .replica_id = -1};
    fetch_start(&c, topic, partition, offset, 0, 0);
    int err = fetch_reply_err(&c);
    free(c.buf);
    return err;
}

static int64_t file_size(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 ? (int64_t)sb.st_size : -1;
}

/* The child: everything runs here so RLIMIT_FSIZE stays in it. Returns
 * the number of failed checks. */
static int dirfail_child(void)
{
    signal(SIGXFSZ, SIG_IGN); /* writes past the limit fail with EFBIG */
    if (fixture_open() != 0)
        return 100;
    dirfail_rec_t rec = {0};
    br_pm_set_logdir_failure_fn(g_pm, dirfail_cb, &rec);
    sl_log_config_t cfg;
    memset(&cfg, 0, sizeof cfg); /* padding too: br_pm_apply_state memcmp()s configs */
    sl_log_config_default(&cfg);
    int32_t isr1[] = {1};
    /* placement: least-loaded dir, so a-0 -> d0, a-1 -> d1, a-2 -> d0 */
    for (int p = 0; p < 3; p++)
        CHECK(host("a", p, &cfg, isr1, 1) == ST_OK);
    br_pm_log_ref_t r0, r1, r2;
    CHECK(br_pm_get_log(g_pm, "a", 0, &r0) == ST_OK && strcmp(r0.log_dir, g_dirs[0]) == 0);
    CHECK(br_pm_get_log(g_pm, "a", 1, &r1) == ST_OK && strcmp(r1.log_dir, g_dirs[1]) == 0);
    CHECK(br_pm_get_log(g_pm, "a", 2, &r2) == ST_OK && strcmp(r2.log_dir, g_dirs[0]) == 0);
    for (int i = 0; i < 4; i++)
        CHECK(produce_err("a", 0, 1000) == 0);
    CHECK(produce_err("a", 2, 100) == 0);
    CHECK(fetch_err("a", 2, 0) == 0);
    /* a long-poll fetch waiting on a-2 at its log end */
    br_call_t waiting = {.corr = 8, .replica_id = -1};
    fetch_start(&waiting, "a", 2, sl_log_end_offset(r2.log), 1, 30000);
    CHECK(waiting.replies == 0);

    char seg[1024];
    snprintf(seg, sizeof seg, "%s/00000000000000000000.log", sl_log_dir(r0.log));
    int64_t size = file_size(seg);
    CHECK(size > 4000);
    struct rlimit old, lim;
    CHECK(getrlimit(RLIMIT_FSIZE, &old) == 0);
    lim = old;
    lim.rlim_cur = (rlim_t)size + 100;
    CHECK(setrlimit(RLIMIT_FSIZE, &lim) == 0);
    /* the real failing write: the append hits the file size limit */
    CHECK(produce_err("a", 0, 2000) == ST_ERR_KAFKA_STORAGE_ERROR);
    CHECK(setrlimit(RLIMIT_FSIZE, &old) == 0); /* the disk is "fine" again */

    CHECK(rec.calls == 1);
    CHECK(strcmp(rec.dir, g_dirs[0]) == 0);
    CHECK(rec.err == ST_ERR_IO || rec.err == ST_ERR_NO_SPACE);
    CHECK(rec.n_parts == 2 && rec.has_p0 && rec.has_p2);
    CHECK(br_pm_logdir_offline(g_pm, 0));
    CHECK(!br_pm_logdir_offline(g_pm, 1));
    /* every partition of d0 is offline, even one that never failed */
    CHECK(br_pm_get_log(g_pm, "a", 2, &r2) == ST_OK && r2.role == BR_ROLE_OFFLINE);
    CHECK(waiting.replies == 1 && fetch_reply_err(&waiting) == ST_ERR_KAFKA_STORAGE_ERROR);
    CHECK(produce_err("a", 0, 10) == ST_ERR_KAFKA_STORAGE_ERROR);
    CHECK(produce_err("a", 2, 10) == ST_ERR_KAFKA_STORAGE_ERROR);
    CHECK(fetch_err("a", 0, 0) == ST_ERR_KAFKA_STORAGE_ERROR);
    CHECK(fetch_err("a", 2, 0) == ST_ERR_KAFKA_STORAGE_ERROR);
    /* d1 keeps working */
    CHECK(produce_err("a", 1, 100) == 0);
    CHECK(fetch_err("a", 1, 0) == 0);
    /* a new leader state does not bring a-2 back; the callback does not fire again */
    CHECK(host("a", 2, &cfg, isr1, 1) == ST_OK);
    CHECK(br_pm_get_log(g_pm, "a", 2, &r2) == ST_OK && r2.role == BR_ROLE_OFFLINE);
    CHECK(rec.calls == 1);
    /* new replicas go to the healthy dir only */
    CHECK(host("b", 0, &cfg, isr1, 1) == ST_OK);
    CHECK(host("b", 1, &cfg, isr1, 1) == ST_OK);
    br_pm_log_ref_t rb;
    CHECK(br_pm_get_log(g_pm, "b", 0, &rb) == ST_OK && strcmp(rb.log_dir, g_dirs[1]) == 0);
    CHECK(br_pm_get_log(g_pm, "b", 1, &rb) == ST_OK && strcmp(rb.log_dir, g_dirs[1]) == 0);
    /* periodic work skips the offline dir */
    br_pm_tick(g_pm, now_ms() + 10000);
    CHECK(rec.calls == 1);
    free(waiting.buf);
    fixture_close();
    return g_fails;
}

static void test_logdir_failure(void)
{
    g_root = tu_tmpdir("logdir_fail");
    fflush(NULL);
    pid_t pid = fork();
    CU_ASSERT_FATAL(pid >= 0);
    if (pid == 0) {
        int n = dirfail_child();
        _exit(n > 100 ? 100 : n);
    }
    int status = 0;
    CU_ASSERT_EQUAL(waitpid(pid, &status, 0), pid);
    CU_ASSERT(WIFEXITED(status));
    CU_ASSERT_EQUAL(WEXITSTATUS(status), 0);
    tu_rmrf(g_root);
    free(g_root);
    g_root = NULL;
}

static CU_TestInfo sched_tests[] = {
    {"compacted topics only, below the HW", test_sched_compacts_only_compact},
    {"log.cleaner.threads and re-scheduling", test_sched_threads},
    {"stop/delete abandons a plan in flight", test_sched_stop_abandons},
    {"free order and disabled cleaner", test_sched_free_order_and_disabled},
    {"compaction topic configs", test_topic_config},
    CU_TEST_INFO_NULL,
};
static CU_TestInfo dirfail_tests[] = {
    {"RLIMIT_FSIZE write error takes the dir offline", test_logdir_failure},
    CU_TEST_INFO_NULL,
};
static CU_SuiteInfo suites[] = {
    {"cleaner scheduler", NULL, NULL, NULL, NULL, sched_tests},
    {"log dir failure", NULL, NULL, NULL, NULL, dirfail_tests},
    CU_SUITE_INFO_NULL,
};

int main(void)
{
    return tu_main(suites);
}
