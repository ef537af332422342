/*
 * Unit tests of log compaction (src/storage/sl_cleaner): latest value per
 * key survives with its offset, superseded records and expired tombstones
 * go, recent tombstones stay, reads and time lookups work on sparse
 * batches, retention per cleanup.policy, stale plans, the worker-pool
 * split, and crashes at every step of the swap protocol and at random
 * moments (SIGKILL) followed by reopen.
 */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/st_batch.h"
#include "partition/br_pool.h"
#include "storage/sl_cleaner.h"
#include "storage/sl_log.h"
#include "tu.h"

#define TC_DAY (24LL * 3600 * 1000)
#define TC_NOW (1700000000000LL)
#define TC_MAXREC 4096

/* One record as appended (the model) or as read back. */
typedef struct tc_rec {
    int64_t off, ts;
    int key; /* -1: no key */
    bool tomb;
    char val[24];
} tc_rec_t;

typedef struct tc_model {
    tc_rec_t r[TC_MAXREC];
    int n;
} tc_model_t;

static void tc_cfg(sl_log_config_t *c)
{
    sl_log_config_default(c);
    c->segment_bytes = 2048;
    c->index_interval_bytes = 256;
    c->segment_index_bytes = 4096;
    c->retention_ms = -1;
    c->cleanup_policy = SL_CLEANUP_COMPACT;
}

/* Append one batch of n records: keys[i] (-1 = keyless), tomb[i]. */
static st_err_t tc_append(sl_log_t *log, tc_model_t *m, int n, const int *keys, const bool *tomb, int64_t ts)
{
    st_batch_builder_t b;
    st_batch_builder_init(&b, m->n % 3 == 1 ? ST_CODEC_ZSTD : ST_CODEC_NONE);
    tc_rec_t rs[64];
    for (int i = 0; i < n; i++) {
        char k[16];
        int kl = snprintf(k, sizeof k, "key%d", keys[i]);
        rs[i] = (tc_rec_t){.ts = ts + i, .key = keys[i], .tomb = tomb && tomb[i]};
        int vl = snprintf(rs[i].val, sizeof rs[i].val, "v%d", m->n + i);
        st_batch_builder_add(&b, ts + i, keys[i] < 0 ? NULL : k, keys[i] < 0 ? 0 : (size_t)kl,
                             rs[i].tomb ? NULL : rs[i].val, rs[i].tomb ? 0 : (size_t)vl, NULL, 0);
        if (rs[i].tomb)
            rs[i].val[0] = '\0';
    }
    st_buf_t f;
    st_buf_init(&f);
    st_batch_builder_finish(&b, &f);
    st_batch_builder_fini(&b);
    int64_t base;
    st_err_t err = sl_log_append(log, f.data, f.len, 0, TC_NOW, &base);
    st_buf_free(&f);
    if (err != ST_OK)
        return err;
    for (int i = 0; i < n && m->n < TC_MAXREC; i++) {
        rs[i].off = base + i;
        m->r[m->n++] = rs[i];
    }
    return ST_OK;
}

/* Read the whole log record by record; checks every frame and that
 * offsets strictly increase. Returns the count, -1 on any failure. */
static int tc_read_all(sl_log_t *log, tc_rec_t *out, int max)
{
    int64_t off = sl_log_start_offset(log), end = sl_log_end_offset(log), prev = -1;
    int n = 0;
    st_buf_t b;
    st_buf_init(&b);
    while (off < end) {
        b.len = 0;
        if (sl_log_read(log, off, 1000, -1, &b) != ST_OK || b.len == 0)
            goto bad;
        size_t p = 0;
        while (p < b.len) {
            st_batch_hdr_t h;
            if (st_batch_hdr_decode(b.data + p, b.len - p, &h) != ST_OK)
                goto bad;
            size_t fs = st_batch_frame_size(&h);
            if (st_batch_validate(b.data + p, fs) != ST_OK)
                goto bad;
            {
                /* a sparse batch survives the wire form (fetch by
                 * followers and consumers) byte for byte */
                st_buf_t w, back;
                st_buf_init(&w);
                st_buf_init(&back);
                const char *why;
                bool ok = st_batch_to_wire(b.data + p, fs, &w) == ST_OK &&
                          st_batch_from_wire(w.data, w.len, &back, &why) == ST_OK && back.len == fs &&
                          memcmp(back.data, b.data + p, fs) == 0;
                st_buf_free(&w);
                st_buf_free(&back);
                if (!ok)
                    goto bad;
            }
            st_batch_iter_t it;
            st_record_t r;
            st_err_t e = st_batch_iter_init(&it, b.data + p, fs);
            while (e == ST_OK && (e = st_batch_iter_next(&it, &r)) == ST_OK) {
                if (r.offset <= prev || n >= max || r.offset > h.base_offset + h.last_offset_delta) {
                    e = ST_ERR_CORRUPT;
                    break;
                }
                tc_rec_t *o = &out[n++];
                memset(o, 0, sizeof *o);
                o->off = prev = r.offset;
                o->ts = r.timestamp;
                char kb[16];
                snprintf(kb, sizeof kb, "%.*s", (int)r.key_len, r.key ? (const char *)r.key : "");
                o->key = r.key ? atoi(kb + 3) : -1;
                o->tomb = r.value == NULL;
                if (r.value)
                    snprintf(o->val, sizeof o->val, "%.*s", (int)r.value_len, (const char *)r.value);
            }
            st_batch_iter_fini(&it);
            if (e != ST_ERR_NOT_FOUND)
                goto bad;
            off = h.base_offset + h.last_offset_delta + 1;
            p += fs;
        }
    }
    st_buf_free(&b);
    return n;
bad:
    st_buf_free(&b);
    return -1;
}

static const tc_rec_t *tc_find(const tc_rec_t *v, int n, int64_t off)
{
    for (int i = 0; i < n; i++)
        if (v[i].off == off)
            return &v[i];
    return NULL;
}

static bool tc_same(const tc_rec_t *a, const tc_rec_t *b)
{
    return a->off == b->off && a->key == b->key && a->tomb == b->tomb && strcmp(a->val, b->val) == 0 &&
           a->ts == b->ts;
}

/* Should model record i survive a complete clean up to dirty_end? */
static bool tc_expect(const tc_model_t *m, int i, int64_t dirty_end, bool drop_tombs)
{
    const tc_rec_t *r = &m->r[i];
    if (r->off >= dirty_end)
        return true;
    if (r->key < 0)
        return false;
    for (int j = i + 1; j < m->n && m->r[j].off < dirty_end; j++)
        if (m->r[j].key == r->key)
            return false;
    return !(r->tomb && drop_tombs);
}

/* The log holds exactly the expected survivors, unchanged. */
static void tc_check_exact(sl_log_t *log, const tc_model_t *m, int64_t dirty_end, bool drop_tombs)
{
    static tc_rec_t got[TC_MAXREC];
    int n = tc_read_all(log, got, TC_MAXREC);
    CU_ASSERT_FATAL(n >= 0);
    int want = 0;
    for (int i = 0; i < m->n; i++) {
        const tc_rec_t *g = tc_find(got, n, m->r[i].off);
        bool exp = tc_expect(m, i, dirty_end, drop_tombs);
        want += exp;
        CU_ASSERT_EQUAL(g != NULL, exp);
        if (g)
            CU_ASSERT_TRUE(tc_same(g, &m->r[i]));
    }
    CU_ASSERT_EQUAL(n, want);
}

/* After a crash mid-clean: only original records, every expected
 * survivor present, and per key the latest visible record is the
 * original latest one (or, for an expired tombstone, nothing at all). */
static void tc_check_partial(sl_log_t *log, const tc_model_t *m, int64_t dirty_end, bool drop_tombs)
{
    static tc_rec_t got[TC_MAXREC];
    int n = tc_read_all(log, got, TC_MAXREC);
    CU_ASSERT_FATAL(n >= 0);
    for (int i = 0; i < n; i++) {
        const tc_rec_t *o = tc_find(m->r, m->n, got[i].off);
        CU_ASSERT_FATAL(o != NULL);
        CU_ASSERT_TRUE(tc_same(o, &got[i]));
    }
    for (int i = 0; i < m->n; i++)
        if (tc_expect(m, i, dirty_end, drop_tombs))
            CU_ASSERT_PTR_NOT_NULL(tc_find(got, n, m->r[i].off));
    for (int k = 0; k < 64; k++) {
        int64_t want = -1, have = -1;
        for (int i = 0; i < m->n; i++)
            if (m->r[i].key == k)
                want = m->r[i].off;
        for (int i = 0; i < n; i++)
            if (got[i].key == k)
                have = got[i].off;
        if (want >= 0 && have != want) {
            const tc_rec_t *o = tc_find(m->r, m->n, want);
            CU_ASSERT_TRUE(have == -1 && o->tomb && drop_tombs && want < dirty_end);
        }
    }
}

static int64_t tc_active_base(sl_log_t *log)
{
    sl_seg_info_t *s;
    int n;
    sl_log_closed_segments(log, &s, &n);
    int64_t v = n > 0 ? s[n - 1].si_next : sl_log_start_offset(log);
    free(s);
    return v;
}

/* Random overwrites of nkeys keys; some tombstones when tombs. */
static void tc_fill(sl_log_t *log, tc_model_t *m, int batches, int nkeys, bool tombs, int64_t ts,
                    unsigned seed)
{
    srand(seed);
    for (int b = 0; b < batches; b++) {
        int keys[8];
        bool tomb[8];
        int n = 1 + rand() % 6;
        for (int i = 0; i < n; i++) {
            keys[i] = rand() % nkeys;
            tomb[i] = tombs && rand() % 7 == 0;
        }
        CU_ASSERT_EQUAL_FATAL(tc_append(log, m, n, keys, tomb, ts + m->n), ST_OK);
    }
}

static sl_cleaner_opts_t tc_opts(bool force)
{
    return (sl_cleaner_opts_t){.now_ms = TC_NOW, .max_offset = -1, .force = force, .map_bytes = 0};
}

/* ---- tests ------------------------------------------------------------ */

static void test_clean_latest_per_key(void)
{
    char *dir = tu_tmpdir("tc-latest");
    sl_log_config_t c;
    tc_cfg(&c);
    sl_log_t *log;
    CU_ASSERT_EQUAL_FATAL(sl_log_open(dir, &c, -1, false, &log, NULL), ST_OK);
    static tc_model_t m;
    m.n = 0;
    tc_fill(log, &m, 300, 20, false, TC_NOW - 3 * TC_DAY, 7);
    CU_ASSERT_TRUE_FATAL(sl_log_segment_count(log) > 5);
    int64_t end = sl_log_end_offset(log), size = sl_log_size_bytes(log);
    int64_t dirty_end = tc_active_base(log);
    sl_cleaner_opts_t o = tc_opts(false);
    double ratio = 0;
    CU_ASSERT_EQUAL(sl_cleaner_dirty_ratio(log, &o, &ratio), ST_OK);
    CU_ASSERT_DOUBLE_EQUAL(ratio, 1.0, 1e-9); /* never cleaned: all dirty */
    sl_cleaner_stats_t st;
    CU_ASSERT_EQUAL_FATAL(sl_cleaner_clean(log, &o, &st), ST_OK);
    CU_ASSERT_EQUAL(st.dirty_end, dirty_end);
    CU_ASSERT_TRUE(st.segments_swapped > 0);
    CU_ASSERT_TRUE(st.records_out < st.records_in);
    CU_ASSERT_EQUAL(sl_log_end_offset(log), end);
    CU_ASSERT_TRUE(sl_log_size_bytes(log) < size);
    tc_check_exact(log, &m, dirty_end, true);
    /* nothing dirty now: the next run has nothing to do */
    CU_ASSERT_EQUAL(sl_cleaner_clean(log, &o, NULL), ST_ERR_NOT_FOUND);
    CU_ASSERT_EQUAL(sl_cleaner_dirty_ratio(log, &o, &ratio), ST_OK);
    CU_ASSERT_DOUBLE_EQUAL(ratio, 0.0, 1e-9);

    /* time lookup on sparse batches: the first surviving record with
     * ts >= T */
    static tc_rec_t got[TC_MAXREC];
    int n = tc_read_all(log, got, TC_MAXREC);
    CU_ASSERT_FATAL(n > 0);
    for (int i = 0; i < n; i += 7) {
        int64_t off, fts;
        /* a timestamp just after the previous survivor */
        int64_t t = i > 0 ? got[i - 1].ts + 1 : got[0].ts;
        CU_ASSERT_EQUAL(sl_log_offset_for_timestamp(log, t, &off, &fts), ST_OK);
        CU_ASSERT_EQUAL(off, got[i].off);
        CU_ASSERT_EQUAL(fts, got[i].ts);
    }
    /* reads starting inside a gap give the batches from there on; the
     * first record at or after the gap is the next survivor (a sparse
     * batch may end in a gap: then the next batch holds it) */
    int gaps = 0;
    for (int i = 1; i < n && gaps < 20; i++) {
        if (got[i].off == got[i - 1].off + 1)
            continue;
        gaps++;
        int64_t from = got[i - 1].off + 1, first = -1;
        st_buf_t b;
        st_buf_init(&b);
        for (int guard = 0; guard < 100 && first < 0; guard++) {
            b.len = 0;
            if (sl_log_read(log, from, 1, -1, &b) != ST_OK || b.len == 0)
                break;
            st_batch_hdr_t h;
            st_batch_hdr_decode(b.data, b.len, &h);
            st_batch_iter_t it;
            st_record_t r;
            if (st_batch_iter_init(&it, b.data, st_batch_frame_size(&h)) == ST_OK) {
                while (st_batch_iter_next(&it, &r) == ST_OK)
                    if (r.offset >= from) {
                        first = r.offset;
                        break;
                    }
            }
            st_batch_iter_fini(&it);
            from = h.base_offset + h.last_offset_delta + 1;
        }
        CU_ASSERT_EQUAL(first, got[i].off);
        st_buf_free(&b);
    }
    CU_ASSERT_TRUE(gaps > 0);
    /* new data, a second run cleans only against the new dirty part and
     * keeps everything right; then it all survives a reopen */
    tc_fill(log, &m, 100, 20, false, TC_NOW - 2 * TC_DAY, 8);
    dirty_end = tc_active_base(log);
    CU_ASSERT_EQUAL(sl_cleaner_clean(log, &o, &st), ST_OK);
    CU_ASSERT_EQUAL(st.dirty_end, dirty_end);
    tc_check_exact(log, &m, dirty_end, true);
    sl_log_close(log);
    CU_ASSERT_EQUAL_FATAL(sl_log_open(dir, &c, -1, false, &log, NULL), ST_OK);
    CU_ASSERT_EQUAL(sl_log_end_offset(log), m.r[m.n - 1].off + 1);
    tc_check_exact(log, &m, dirty_end, true);
    sl_log_close(log);
    tu_rmrf(dir);
    free(dir);
}

static void test_clean_tombstones(void)
{
    char *dir = tu_tmpdir("tc-tomb");
    sl_log_config_t c;
    tc_cfg(&c);
    sl_log_t *log;
    CU_ASSERT_EQUAL_FATAL(sl_log_open(dir, &c, -1, false, &log, NULL), ST_OK);
    static tc_model_t m;
    m.n = 0;
    int k0[4] = {0, 1, 2, 3};
    bool no[4] = {false, false, false, false};
    int64_t old = TC_NOW - 5 * TC_DAY, recent = TC_NOW - 3600 * 1000;
    /* old segments: values of 0..3, then a tombstone for key 0 */
    for (int i = 0; i < 30; i++)
        CU_ASSERT_EQUAL_FATAL(tc_append(log, &m, 4, k0, no, old), ST_OK);
    int kt[1] = {0};
    bool yes[1] = {true};
    CU_ASSERT_EQUAL_FATAL(tc_append(log, &m, 1, kt, yes, old), ST_OK);
    int64_t tomb0 = m.r[m.n - 1].off;
    /* filler of keys 10..13 in old segments so the tombstone's segment closes */
    int kf[4] = {10, 11, 12, 13};
    for (int i = 0; i < 30; i++)
        CU_ASSERT_EQUAL_FATAL(tc_append(log, &m, 4, kf, no, old), ST_OK);
    /* a recent segment: tombstone for key 1 */
    kt[0] = 1;
    CU_ASSERT_EQUAL_FATAL(tc_append(log, &m, 1, kt, yes, recent), ST_OK);
    int64_t tomb1 = m.r[m.n - 1].off;
    int kr[4] = {20, 21, 22, 23};
    for (int i = 0; i < 30; i++)
        CU_ASSERT_EQUAL_FATAL(tc_append(log, &m, 4, kr, no, recent), ST_OK);
    int64_t dirty_end = tc_active_base(log);
    CU_ASSERT_FATAL(tomb1 < dirty_end);
    sl_cleaner_opts_t o = tc_opts(true);
    sl_cleaner_stats_t st;
    CU_ASSERT_EQUAL_FATAL(sl_cleaner_clean(log, &o, &st), ST_OK);
    CU_ASSERT_EQUAL(st.tombstones_dropped, 1);
    static tc_rec_t got[TC_MAXREC];
    int n = tc_read_all(log, got, TC_MAXREC);
    CU_ASSERT_FATAL(n > 0);
    bool saw0 = false, saw1 = false, tomb1_kept = false;
    for (int i = 0; i < n; i++) {
        saw0 |= got[i].key == 0;
        saw1 |= got[i].key == 1 && !got[i].tomb;
        tomb1_kept |= got[i].off == tomb1 && got[i].tomb;
    }
    CU_ASSERT_FALSE(saw0);      /* expired tombstone and all older values gone */
    CU_ASSERT_FALSE(saw1);      /* values of key 1 gone ... */
    CU_ASSERT_TRUE(tomb1_kept); /* ... its recent tombstone stays */
    CU_ASSERT_PTR_NULL(tc_find(got, n, tomb0));
    /* latest values of keys 2, 3, 10 stay at their offsets, alone */
    int ks[3] = {2, 3, 10};
    for (int q = 0; q < 3; q++) {
        int64_t want = -1;
        int cnt = 0;
        for (int i = 0; i < m.n; i++)
            if (m.r[i].key == ks[q])
                want = m.r[i].off;
        for (int i = 0; i < n; i++)
            cnt += got[i].key == ks[q];
        CU_ASSERT_EQUAL(cnt, 1);
        CU_ASSERT_PTR_NOT_NULL(tc_find(got, n, want));
    }
    sl_log_close(log);
    tu_rmrf(dir);
    free(dir);
}

static void test_policy_and_keys(void)
{
    char *dir = tu_tmpdir("tc-policy");
    sl_log_config_t c;
    tc_cfg(&c);
    c.retention_ms = TC_DAY;
    sl_log_t *log;
    CU_ASSERT_EQUAL_FATAL(sl_log_open(dir, &c, -1, false, &log, NULL), ST_OK);
    static tc_model_t m;
    m.n = 0;
    /* compacted topics refuse keyless records */
    int kl[2] = {1, -1};
    CU_ASSERT_EQUAL(tc_append(log, &m, 2, kl, NULL, TC_NOW), ST_ERR_CORRUPT_MESSAGE);
    CU_ASSERT_EQUAL(sl_log_end_offset(log), 0);
    tc_fill(log, &m, 200, 10, false, TC_NOW - 3 * TC_DAY, 9);
    int segs = sl_log_segment_count(log);
    CU_ASSERT_FATAL(segs > 3);
    int del = -1;
    /* compact only: retention.ms does not delete */
    CU_ASSERT_EQUAL(sl_log_enforce_retention(log, TC_NOW, -1, &del), ST_OK);
    CU_ASSERT_EQUAL(del, 0);
    CU_ASSERT_EQUAL(sl_log_segment_count(log), segs);
    /* compact,delete: compaction and retention both apply */
    CU_ASSERT_EQUAL(sl_cleaner_clean(log, &(sl_cleaner_opts_t){TC_NOW, -1, true, 0}, NULL), ST_OK);
    c.cleanup_policy = SL_CLEANUP_COMPACT | SL_CLEANUP_DELETE;
    sl_log_set_config(log, &c);
    CU_ASSERT_EQUAL(sl_log_enforce_retention(log, TC_NOW, -1, &del), ST_OK);
    CU_ASSERT_TRUE(del > 0);
    CU_ASSERT_EQUAL(sl_log_segment_count(log), 1);
    /* delete only: the cleaner refuses */
    c.cleanup_policy = SL_CLEANUP_DELETE;
    sl_log_set_config(log, &c);
    sl_cleaner_plan_t *p;
    sl_cleaner_opts_t o = tc_opts(true);
    CU_ASSERT_EQUAL(sl_cleaner_prepare(log, &o, &p), ST_ERR_STATE);
    sl_log_close(log);
    tu_rmrf(dir);
    free(dir);
}

static void test_dirty_ratio_and_lag(void)
{
    char *dir = tu_tmpdir("tc-ratio");
    sl_log_config_t c;
    tc_cfg(&c);
    c.min_compaction_lag_ms = TC_DAY;
    sl_log_t *log;
    CU_ASSERT_EQUAL_FATAL(sl_log_open(dir, &c, -1, false, &log, NULL), ST_OK);
    static tc_model_t m;
    m.n = 0;
    tc_fill(log, &m, 150, 1000, false, TC_NOW - 3600 * 1000, 10); /* too recent for the lag */
    sl_cleaner_opts_t o = tc_opts(true);
    sl_cleaner_plan_t *p;
    CU_ASSERT_EQUAL(sl_cleaner_prepare(log, &o, &p), ST_ERR_NOT_FOUND);
    o.now_ms = TC_NOW + 2 * TC_DAY;
    CU_ASSERT_EQUAL_FATAL(sl_cleaner_prepare(log, &o, &p), ST_OK);
    sl_cleaner_plan_free(p);
    /* after a clean, a little new data is below the 0.5 ratio */
    CU_ASSERT_EQUAL(sl_cleaner_clean(log, &o, NULL), ST_OK);
    tc_fill(log, &m, 20, 10, false, TC_NOW - 3600 * 1000, 11);
    o.force = false;
    double ratio;
    CU_ASSERT_EQUAL(sl_cleaner_dirty_ratio(log, &o, &ratio), ST_OK);
    CU_ASSERT_TRUE(ratio > 0 && ratio < 0.5);
    CU_ASSERT_EQUAL(sl_cleaner_prepare(log, &o, &p), ST_ERR_NOT_FOUND);
    /* max_offset (high watermark) below everything: nothing cleanable */
    o.force = true;
    o.max_offset = 0;
    CU_ASSERT_EQUAL(sl_cleaner_prepare(log, &o, &p), ST_ERR_NOT_FOUND);
    sl_log_close(log);
    tu_rmrf(dir);
    free(dir);
}

static int tc_count_suffix(const char *dir, const char *sfx)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "ls %s | grep -c '%s$'", dir, sfx);
    FILE *f = popen(cmd, "r");
    int n = -1;
    if (f) {
        if (fscanf(f, "%d", &n) != 1)
            n = -1;
        pclose(f);
    }
    return n;
}

static void test_stale_plan(void)
{
    char *dir = tu_tmpdir("tc-stale");
    sl_log_config_t c;
    tc_cfg(&c);
    sl_log_t *log;
    CU_ASSERT_EQUAL_FATAL(sl_log_open(dir, &c, -1, false, &log, NULL), ST_OK);
    static tc_model_t m;
    m.n = 0;
    tc_fill(log, &m, 200, 10, false, TC_NOW, 12);
    sl_cleaner_opts_t o = tc_opts(true);
    sl_cleaner_plan_t *p;
    CU_ASSERT_EQUAL_FATAL(sl_cleaner_prepare(log, &o, &p), ST_OK);
    CU_ASSERT_EQUAL(sl_cleaner_run(p), ST_OK);
    CU_ASSERT_TRUE(tc_count_suffix(dir, ".log.cleaned") > 0);
    /* a follower truncation meanwhile makes the plan stale */
    CU_ASSERT_EQUAL(sl_log_truncate_to(log, m.r[m.n / 2].off), ST_OK);
    CU_ASSERT_EQUAL(sl_cleaner_commit(log, p), ST_ERR_STATE);
    sl_cleaner_plan_free(p);
    CU_ASSERT_EQUAL(tc_count_suffix(dir, ".cleaned"), 0);
    while (m.n > 0 && m.r[m.n - 1].off >= sl_log_end_offset(log))
        m.n--;
    CU_ASSERT_TRUE(m.n > 0);
    tc_check_exact(log, &m, 0, false); /* untouched */
    sl_log_close(log);
    tu_rmrf(dir);
    free(dir);
}

/* prepare on the loop thread, run on the pool, commit in the done
 * callback on the loop thread. */
typedef struct tc_job {
    sl_log_t *log;
    sl_cleaner_plan_t *plan;
    st_err_t run_err, commit_err;
} tc_job_t;

static void tc_job_work(void *arg)
{
    tc_job_t *j = arg;
    j->run_err = sl_cleaner_run(j->plan);
}

static void tc_job_done(void *arg, bool cancelled)
{
    tc_job_t *j = arg;
    j->commit_err = cancelled || j->run_err != ST_OK ? ST_ERR_CLOSED : sl_cleaner_commit(j->log, j->plan);
    sl_cleaner_plan_free(j->plan);
    j->plan = NULL;
}

static void test_clean_on_pool(void)
{
    char *dir = tu_tmpdir("tc-pool");
    sl_log_config_t c;
    tc_cfg(&c);
    sl_log_t *log;
    CU_ASSERT_EQUAL_FATAL(sl_log_open(dir, &c, -1, false, &log, NULL), ST_OK);
    static tc_model_t m;
    m.n = 0;
    tc_fill(log, &m, 200, 15, true, TC_NOW, 13);
    int64_t dirty_end = tc_active_base(log);
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    br_pool_t *pool;
    CU_ASSERT_EQUAL_FATAL(br_pool_new(loop, 2, &pool), ST_OK);
    tc_job_t j = {log, NULL, ST_OK, ST_ERR_STATE};
    sl_cleaner_opts_t o = tc_opts(true);
    CU_ASSERT_EQUAL_FATAL(sl_cleaner_prepare(log, &o, &j.plan), ST_OK);
    CU_ASSERT_EQUAL_FATAL(br_pool_submit(pool, tc_job_work, tc_job_done, &j), ST_OK);
    /* the log keeps serving appends while the worker cleans */
    int k[1] = {1};
    CU_ASSERT_EQUAL(tc_append(log, &m, 1, k, NULL, TC_NOW + 5), ST_OK);
    ev_run(loop, 0);
    CU_ASSERT_EQUAL(j.run_err, ST_OK);
    CU_ASSERT_EQUAL(j.commit_err, ST_OK);
    tc_check_exact(log, &m, dirty_end, false); /* tombstones recent: kept */
    br_pool_free(pool);
    ev_loop_destroy(loop);
    sl_log_close(log);
    tu_rmrf(dir);
    free(dir);
}

/* ---- crashes ----------------------------------------------------------- */

static int tc_hook_left;

static void tc_hook_exit(const char *step)
{
    (void)step;
    if (--tc_hook_left == 0)
        _exit(42);
}

/* Build the crash-test log: old data, so tombstones in cleaned segments
 * expire. Returns dirty_end. */
static int64_t tc_crash_build(const char *dir, tc_model_t *m)
{
    sl_log_config_t c;
    tc_cfg(&c);
    sl_log_t *log;
    CU_ASSERT_EQUAL_FATAL(sl_log_open(dir, &c, -1, false, &log, NULL), ST_OK);
    m->n = 0;
    tc_fill(log, m, 250, 30, true, TC_NOW - 10 * TC_DAY, 21);
    int64_t de = tc_active_base(log);
    sl_log_close(log);
    return de;
}

/* Child: open, clean, exit 0 when the clean completed. */
static void tc_child_clean(const char *dir, int hook_at)
{
    sl_log_config_t c;
    tc_cfg(&c);
    sl_log_t *log;
    tc_hook_left = hook_at;
    sl_cleaner_test_hook = hook_at > 0 ? tc_hook_exit : NULL;
    if (sl_log_open(dir, &c, -1, false, &log, NULL) != ST_OK)
        _exit(3);
    sl_cleaner_opts_t o = tc_opts(true);
    st_err_t err = sl_cleaner_clean(log, &o, NULL);
    _exit(err == ST_OK ? 0 : 4);
}

/* Reopen after the crash, check, then finish cleaning and check exactly. */
static void tc_after_crash(const char *dir, const tc_model_t *m, int64_t dirty_end)
{
    sl_log_config_t c;
    tc_cfg(&c);
    sl_log_t *log;
    CU_ASSERT_EQUAL_FATAL(sl_log_open(dir, &c, -1, false, &log, NULL), ST_OK);
    CU_ASSERT_EQUAL(tc_count_suffix(dir, ".cleaned"), 0);
    CU_ASSERT_EQUAL(tc_count_suffix(dir, ".swap"), 0);
    CU_ASSERT_EQUAL(sl_log_end_offset(log), m->r[m->n - 1].off + 1);
    tc_check_partial(log, m, dirty_end, true);
    sl_cleaner_opts_t o = tc_opts(true);
    st_err_t err = sl_cleaner_clean(log, &o, NULL);
    CU_ASSERT_TRUE(err == ST_OK || err == ST_ERR_NOT_FOUND);
    tc_check_exact(log, m, dirty_end, true);
    sl_log_close(log);
}

static void test_crash_each_step(void)
{
    static tc_model_t m;
    int finished = 0, steps = 0;
    for (int at = 1; at < 400 && !finished; at++) {
        char *dir = tu_tmpdir("tc-crash");
        int64_t de = tc_crash_build(dir, &m);
        fflush(NULL);
        pid_t pid = fork();
        CU_ASSERT_FATAL(pid >= 0);
        if (pid == 0)
            tc_child_clean(dir, at);
        int status;
        waitpid(pid, &status, 0);
        CU_ASSERT_TRUE(WIFEXITED(status));
        int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        CU_ASSERT_TRUE(code == 0 || code == 42);
        if (code == 0)
            finished = 1;
        else
            steps++;
        tc_after_crash(dir, &m, de);
        tu_rmrf(dir);
        free(dir);
    }
    CU_ASSERT_TRUE(finished);
    CU_ASSERT_TRUE(steps > 7); /* several segments swapped, each in steps */
}

static void test_crash_sigkill(void)
{
    static tc_model_t m;
    srand(99);
    for (int round = 0; round < 12; round++) {
        char *dir = tu_tmpdir("tc-kill");
        int64_t de = tc_crash_build(dir, &m);
        fflush(NULL);
        pid_t pid = fork();
        CU_ASSERT_FATAL(pid >= 0);
        if (pid == 0)
            tc_child_clean(dir, 0);
        struct timespec ts = {0, (long)(rand() % 4000) * 1000};
        nanosleep(&ts, NULL);
        kill(pid, SIGKILL);
        int status;
        waitpid(pid, &status, 0);
        tc_after_crash(dir, &m, de);
        tu_rmrf(dir);
        free(dir);
    }
}

static CU_TestInfo cleaner_tests[] = {
    {"latest value per key, offsets, reads, time lookup", test_clean_latest_per_key},
    {"tombstones expire, recent ones stay", test_clean_tombstones},
    {"cleanup.policy, retention, keyless refused", test_policy_and_keys},
    {"dirty ratio, lag, max offset", test_dirty_ratio_and_lag},
    {"stale plan refused", test_stale_plan},
    {"run on the worker pool", test_clean_on_pool},
    {"crash at each swap step", test_crash_each_step},
    {"SIGKILL at random moments", test_crash_sigkill},
    CU_TEST_INFO_NULL,
};
static CU_SuiteInfo suites[] = {
    {"cleaner", NULL, NULL, NULL, NULL, cleaner_tests},
    CU_SUITE_INFO_NULL,
};

int main(void)
{
    return tu_main(suites);
}
