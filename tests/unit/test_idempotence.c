/*
 * Unit tests of the idempotent producer, broker side: sl_pstate (sequence
 * rules, snapshot encoding), its use by the partition manager (duplicates
 * answered with their original offset, gaps and old epochs refused,
 * state kept across restarts with and without a snapshot, dropped by
 * truncation, built by followers from replicated batches) and br_producer_id
 * (the /latest_producer_id_block JSON, InitProducerId answers from a
 * block; the ZooKeeper reservation is left to integration tests). Same
 * br_call double (tu_call.c) and fixture as test_partition; no network.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "partition/br_pm.h"
#include "control/br_producer_id.h"
#include "partition/br_pm_int.h"
#include "storage/sl_pstate.h"
#include "common/st_batch.h"
#include "common/st_log.h"
#include "raw.pb-c.h"
#include "record.pb-c.h"
#include "strata.pb-c.h"
#include "tu.h"
#include "tu_call.h"
#include "tu_pm.h"

/* --------------------------------------------------------------- fixture */

static void setup(void)
{
    tu_pm_setup("test_idempotence");
}

/* ------------------------------------------------------------ helpers */

/* The wire form of a batch of n records from producer pid. */
static void pbatch(int n, int64_t pid, int16_t epoch, int32_t seq, st_buf_t *wire)
{
    st_batch_builder_t b;
    st_batch_builder_init(&b, ST_CODEC_NONE);
    for (int i = 0; i < n; i++) {
        char v[32];
        int len = snprintf(v, sizeof v, "p%lld-s%d", (long long)pid, seq + i);
        CU_ASSERT_FATAL(st_batch_builder_add(&b, now_ms(), "k", 1, v, (size_t)len, NULL, 0) == ST_OK);
    }
    b.producer_id = pid;
    b.producer_epoch = epoch;
    b.base_sequence = seq;
    st_buf_t frame;
    st_buf_init(&frame);
    st_buf_init(wire);
    CU_ASSERT_FATAL(st_batch_builder_finish(&b, &frame) == ST_OK);
    CU_ASSERT_FATAL(st_batch_to_wire(frame.data, frame.len, wire) == ST_OK);
    st_batch_builder_fini(&b);
    st_buf_free(&frame);
}

static int32_t g_acks = 1; /* acks of the produce requests sent */

static void produce_many(br_call_t *c, const char *topic, st_buf_t *wires, size_t n)
{
    ProtobufCBinaryData *bd = calloc(n, sizeof *bd);
    for (size_t i = 0; i < n; i++) {
        bd[i].data = wires[i].data;
        bd[i].len = wires[i].len;
    }
    Strata__Raw__RawProducePartition pp = STRATA__RAW__RAW_PRODUCE_PARTITION__INIT;
    pp.partition = 0;
    pp.n_batches = n;
    pp.batches = bd;
    Strata__Raw__RawProducePartition *ppp = &pp;
    Strata__Raw__RawProduceTopic pt = STRATA__RAW__RAW_PRODUCE_TOPIC__INIT;
    pt.name = (char *)topic;
    pt.n_partitions = 1;
    pt.partitions = &ppp;
    Strata__Raw__RawProduceTopic *ptp = &pt;
    Strata__Raw__RawProduceRequest req = STRATA__RAW__RAW_PRODUCE_REQUEST__INIT;
    req.acks = g_acks;
    req.timeout_ms = 1000;
    req.n_topics = 1;
    req.topics = &ptp;
    br_pm_handle_produce(g_pm, c, &req);
    free(bd);
}

/* Produce wires[0..n) to topic-0; the error, and the base offset. */
static int send_n(const char *topic, st_buf_t *wires, size_t n, int64_t *base)
{
    br_call_t c;
    tu_call_init(&c, 11, -1);
    produce_many(&c, topic, wires, n);
    Strata__Response *r = tu_call_response(&c);
    CU_ASSERT_FATAL(r->body_case == STRATA__RESPONSE__BODY_PRODUCE);
    Strata__ProducePartitionResult *pr = r->produce->topics[0]->partitions[0];
    int err = pr->error;
    if (err != 0)
        CU_ASSERT(pr->error_message && strlen(pr->error_message) > 0);
    if (base)
        *base = pr->base_offset;
    strata__response__free_unpacked(r, NULL);
    tu_call_fini(&c);
    return err;
}

/* Produce one idempotent batch; the error and base offset. */
static int send_p(const char *topic, int n, int64_t pid, int16_t epoch, int32_t seq, int64_t *base)
{
    st_buf_t w;
    pbatch(n, pid, epoch, seq, &w);
    int err = send_n(topic, &w, 1, base);
    st_buf_free(&w);
    return err;
}

static br_part_t *part_of(br_pm_t *pm, const char *topic)
{
    br_part_t *p = br_pm_find(pm, topic, 0);
    CU_ASSERT_FATAL(p != NULL);
    return p;
}

static int64_t leo_of(const char *topic)
{
    return sl_log_end_offset(part_of(g_pm, topic)->log);
}

/* Number of *.snapshot files in topic-0's directory. */
static int snapshot_files(const char *topic, bool remove)
{
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/%s-0", g_dir, topic);
    DIR *d = opendir(dir);
    CU_ASSERT_FATAL(d != NULL);
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        size_t l = strlen(de->d_name);
        if (l > 9 && strcmp(de->d_name + l - 9, ".snapshot") == 0) {
            n++;
            if (remove) {
                char p[2048];
                snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
                CU_ASSERT(unlink(p) == 0);
            }
        }
    }
    closedir(d);
    return n;
}

static st_batch_hdr_t hdr(int64_t pid, int16_t epoch, int32_t seq, int32_t n, int64_t offset)
{
    st_batch_hdr_t h;
    memset(&h, 0, sizeof h);
    h.producer_id = pid;
    h.producer_epoch = epoch;
    h.base_sequence = seq;
    h.record_count = n;
    h.last_offset_delta = n - 1;
    h.base_offset = offset;
    return h;
}

/* ------------------------------------------------------------ sl_pstate */

/* The sequence rules on the bare state. */
static void test_rules(void)
{
    sl_pstate_t *ps = sl_pstate_new();
    CU_ASSERT_FATAL(ps != NULL);
    int64_t dup = -1;
    st_batch_hdr_t h = hdr(7, 0, 5, 1, 0);
    CU_ASSERT_EQUAL(sl_pstate_check(ps, &h, NULL, false, &dup), ST_ERR_UNKNOWN_PRODUCER_ID);
    CU_ASSERT_EQUAL(sl_pstate_check(ps, &h, NULL, true, &dup), ST_OK);
    h = hdr(7, 0, 0, 3, 10);
    CU_ASSERT_EQUAL(sl_pstate_check(ps, &h, NULL, false, &dup), ST_OK);
    CU_ASSERT_EQUAL(sl_pstate_update(ps, &h), ST_OK);
    /* the same batch again: a duplicate at its offset */
    CU_ASSERT_EQUAL(sl_pstate_check(ps, &h, NULL, false, &dup), ST_ERR_DUPLICATE_SEQUENCE_NUMBER);
    CU_ASSERT_EQUAL(dup, 10);
    /* next in line, a gap, an overlap */
    st_batch_hdr_t ok = hdr(7, 0, 3, 2, 13), gap = hdr(7, 0, 6, 1, 0), ovl = hdr(7, 0, 2, 2, 0);
    CU_ASSERT_EQUAL(sl_pstate_check(ps, &ok, NULL, false, &dup), ST_OK);
    CU_ASSERT_EQUAL(sl_pstate_check(ps, &gap, NULL, false, &dup), ST_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
    CU_ASSERT_EQUAL(sl_pstate_check(ps, &ovl, NULL, false, &dup), ST_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
    /* a later batch of the same request follows the earlier one */
    st_batch_hdr_t after = hdr(7, 0, 5, 1, 0);
    CU_ASSERT_EQUAL(sl_pstate_check(ps, &after, &ok, false, &dup), ST_OK);
    CU_ASSERT_EQUAL(sl_pstate_check(ps, &after, NULL, false, &dup), ST_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
    /* epochs: a new one starts at 0, an old one is fenced */
    st_batch_hdr_t e1 = hdr(7, 1, 3, 1, 0), e1z = hdr(7, 1, 0, 1, 20);
    CU_ASSERT_EQUAL(sl_pstate_check(ps, &e1, NULL, false, &dup), ST_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
    CU_ASSERT_EQUAL(sl_pstate_check(ps, &e1z, NULL, false, &dup), ST_OK);
    CU_ASSERT_EQUAL(sl_pstate_update(ps, &e1z), ST_OK);
    CU_ASSERT_EQUAL(sl_pstate_check(ps, &ok, NULL, false, &dup), ST_ERR_INVALID_PRODUCER_EPOCH);
    CU_ASSERT_EQUAL(sl_pstate_get(ps, 7)->epoch, 1);
    CU_ASSERT_EQUAL(sl_pstate_get(ps, 7)->n_batches, 1);
    /* negative sequence: invalid */
    st_batch_hdr_t neg = hdr(8, 0, -1, 1, 0);
    CU_ASSERT_EQUAL(sl_pstate_check(ps, &neg, NULL, false, &dup), ST_ERR_INVALID_REQUEST);
    /* only the last 5 batches are remembered */
    for (int i = 1; i <= 6; i++) {
        st_batch_hdr_t b = hdr(7, 1, i, 1, 20 + i);
        CU_ASSERT_EQUAL(sl_pstate_check(ps, &b, NULL, false, &dup), ST_OK);
        CU_ASSERT_EQUAL(sl_pstate_update(ps, &b), ST_OK);
    }
    CU_ASSERT_EQUAL(sl_pstate_get(ps, 7)->n_batches, SL_PSTATE_BATCHES);
    st_batch_hdr_t old = hdr(7, 1, 1, 1, 0), recent = hdr(7, 1, 2, 1, 0);
    CU_ASSERT_EQUAL(sl_pstate_check(ps, &old, NULL, false, &dup), ST_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
    CU_ASSERT_EQUAL(sl_pstate_check(ps, &recent, NULL, false, &dup), ST_ERR_DUPLICATE_SEQUENCE_NUMBER);
    CU_ASSERT_EQUAL(dup, 22);
    /* sequences wrap at INT32_MAX */
    CU_ASSERT_EQUAL(sl_pstate_seq_add(INT32_MAX, 1), 0);
    CU_ASSERT_EQUAL(sl_pstate_seq_add(INT32_MAX - 1, 3), 1);
    st_batch_hdr_t w1 = hdr(9, 0, INT32_MAX - 1, 2, 100), w2 = hdr(9, 0, 0, 1, 102);
    CU_ASSERT_EQUAL(sl_pstate_check(ps, &w1, NULL, true, &dup), ST_OK);
    CU_ASSERT_EQUAL(sl_pstate_update(ps, &w1), ST_OK);
    CU_ASSERT_EQUAL(sl_pstate_get(ps, 9)->batches[0].last_seq, INT32_MAX);
    CU_ASSERT_EQUAL(sl_pstate_check(ps, &w2, NULL, false, &dup), ST_OK);
    /* batches without a producer id are not tracked */
    st_batch_hdr_t plain = hdr(-1, -1, -1, 4, 200);
    CU_ASSERT_EQUAL(sl_pstate_update(ps, &plain), ST_OK);
    CU_ASSERT_EQUAL(sl_pstate_count(ps), 2);
    sl_pstate_free(ps);
}

/* Snapshot bytes round-trip; damage is detected. */
static void test_encode(void)
{
    sl_pstate_t *ps = sl_pstate_new(), *back = sl_pstate_new();
    for (int64_t pid = 40; pid > 0; pid -= 10)
        for (int i = 0; i < 7; i++) {
            st_batch_hdr_t h = hdr(pid, (int16_t)(pid / 10), i * 2, 2, pid * 100 + i * 2);
            CU_ASSERT_EQUAL(sl_pstate_update(ps, &h), ST_OK);
        }
    st_buf_t b;
    st_buf_init(&b);
    CU_ASSERT_EQUAL_FATAL(sl_pstate_encode(ps, &b), ST_OK);
    CU_ASSERT_EQUAL(sl_pstate_decode(back, b.data, b.len), ST_OK);
    CU_ASSERT_EQUAL(sl_pstate_count(back), 4);
    for (int64_t pid = 10; pid <= 40; pid += 10) {
        const sl_pstate_entry_t *x = sl_pstate_get(ps, pid), *y = sl_pstate_get(back, pid);
        CU_ASSERT_FATAL(x && y);
        CU_ASSERT(memcmp(x, y, sizeof *x) == 0);
    }
    for (size_t i = 0; i < b.len; i += 7) {
        b.data[i] ^= 0x20;
        CU_ASSERT_NOT_EQUAL(sl_pstate_decode(back, b.data, b.len), ST_OK);
        CU_ASSERT_EQUAL(sl_pstate_count(back), 0);
        b.data[i] ^= 0x20;
    }
    CU_ASSERT_EQUAL(sl_pstate_decode(back, b.data, b.len - 1), ST_ERR_CORRUPT);
    CU_ASSERT_EQUAL(sl_pstate_decode(back, b.data, 3), ST_ERR_CORRUPT);
    st_buf_free(&b);
    sl_pstate_free(ps);
    sl_pstate_free(back);
}

/* When the log start moves, producers whose newest batch ends below it are
 * forgotten; the others keep every batch; order by id is kept. */
static void test_truncate_head(void)
{
    sl_pstate_t *ps = sl_pstate_new();
    st_batch_hdr_t h[] = {
        hdr(7, 0, 0, 5, 0),  /* pid 7: offsets 0-4 */
        hdr(3, 0, 0, 5, 5),  /* pid 3: 5-9 */
        hdr(9, 0, 0, 2, 10), /* pid 9: 10-11 */
        hdr(3, 0, 5, 5, 12), /* pid 3: 12-16 */
        hdr(5, 0, 0, 1, 17), /* pid 5: 17 */
    };
    for (size_t i = 0; i < sizeof h / sizeof h[0]; i++)
        CU_ASSERT_EQUAL(sl_pstate_update(ps, &h[i]), ST_OK);
    CU_ASSERT_EQUAL(sl_pstate_count(ps), 4);
    CU_ASSERT_EQUAL(sl_pstate_truncate_head(ps, 0), 0);
    CU_ASSERT_EQUAL(sl_pstate_truncate_head(ps, 5), 1); /* pid 7 ended at 4 */
    CU_ASSERT_PTR_NULL(sl_pstate_get(ps, 7));
    CU_ASSERT_EQUAL(sl_pstate_truncate_head(ps, 11), 0); /* pid 9 ends at 11: kept */
    CU_ASSERT_EQUAL(sl_pstate_truncate_head(ps, 12), 1);
    CU_ASSERT_PTR_NULL(sl_pstate_get(ps, 9));
    const sl_pstate_entry_t *e3 = sl_pstate_get(ps, 3), *e5 = sl_pstate_get(ps, 5);
    CU_ASSERT_FATAL(e3 && e5);
    CU_ASSERT_EQUAL(e3->n_batches, 2);
    CU_ASSERT_EQUAL(e3->batches[1].last_seq, 9);
    CU_ASSERT_EQUAL(e5->batches[0].base_offset, 17);
    /* the next batch of a forgotten producer is that of an unknown one */
    st_batch_hdr_t next7 = hdr(7, 0, 5, 1, 18);
    int64_t dup = -1;
    CU_ASSERT_EQUAL(sl_pstate_check(ps, &next7, NULL, false, &dup), ST_ERR_UNKNOWN_PRODUCER_ID);
    CU_ASSERT_EQUAL(sl_pstate_check(ps, &next7, NULL, true, &dup), ST_OK);
    CU_ASSERT_EQUAL(sl_pstate_truncate_head(ps, 100), 2);
    CU_ASSERT_EQUAL(sl_pstate_count(ps), 0);
    sl_pstate_free(ps);
}

/* ------------------------------------------------------ through produce */

/* A retried batch is answered with its original offset and not appended
 * again; gaps and old epochs are refused and append nothing. */
static void test_duplicates(void)
{
    host_leader("dup", 0, 0);
    int64_t base = -1;
    CU_ASSERT_EQUAL(send_p("dup", 3, 5, 0, 0, &base), 0);
    CU_ASSERT_EQUAL(base, 0);
    st_buf_t fr, plain;
    {
        st_batch_builder_t b;
        st_batch_builder_init(&b, ST_CODEC_NONE);
        CU_ASSERT_FATAL(st_batch_builder_add(&b, now_ms(), NULL, 0, "x", 1, NULL, 0) == ST_OK);
        st_buf_init(&fr);
        st_buf_init(&plain);
        CU_ASSERT_FATAL(st_batch_builder_finish(&b, &fr) == ST_OK);
        CU_ASSERT_FATAL(st_batch_to_wire(fr.data, fr.len, &plain) == ST_OK);
        st_batch_builder_fini(&b);
    }
    CU_ASSERT_EQUAL(send_n("dup", &plain, 1, &base), 0); /* not idempotent: offset 3 */
    CU_ASSERT_EQUAL(base, 3);
    CU_ASSERT_EQUAL(send_n("dup", &plain, 1, &base), 0); /* and appended twice */
    CU_ASSERT_EQUAL(base, 4);
    /* the retry of the first batch */
    CU_ASSERT_EQUAL(send_p("dup", 3, 5, 0, 0, &base), 0);
    CU_ASSERT_EQUAL(base, 0);
    CU_ASSERT_EQUAL(leo_of("dup"), 5);
    CU_ASSERT_EQUAL(send_p("dup", 2, 5, 0, 3, &base), 0);
    CU_ASSERT_EQUAL(base, 5);
    CU_ASSERT_EQUAL(send_p("dup", 2, 5, 0, 3, &base), 0);
    CU_ASSERT_EQUAL(base, 5);
    CU_ASSERT_EQUAL(leo_of("dup"), 7);
    /* a gap, an unknown producer not at 0 */
    CU_ASSERT_EQUAL(send_p("dup", 1, 5, 0, 9, NULL), ST_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
    CU_ASSERT_EQUAL(send_p("dup", 1, 6, 0, 4, NULL), ST_ERR_UNKNOWN_PRODUCER_ID);
    CU_ASSERT_EQUAL(leo_of("dup"), 7);
    /* epoch 1 fences epoch 0 */
    CU_ASSERT_EQUAL(send_p("dup", 1, 5, 1, 2, NULL), ST_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
    CU_ASSERT_EQUAL(send_p("dup", 1, 5, 1, 0, &base), 0);
    CU_ASSERT_EQUAL(base, 7);
    CU_ASSERT_EQUAL(send_p("dup", 1, 5, 0, 5, NULL), ST_ERR_INVALID_PRODUCER_EPOCH);
    CU_ASSERT_EQUAL(send_p("dup", 3, 5, 0, 0, NULL), ST_ERR_INVALID_PRODUCER_EPOCH);
    CU_ASSERT_EQUAL(leo_of("dup"), 8);
    /* the log holds each idempotent batch once */
    br_part_t *p = part_of(g_pm, "dup");
    st_buf_t all;
    st_buf_init(&all);
    CU_ASSERT_FATAL(sl_log_read(p->log, 0, 1 << 20, -1, &all) == ST_OK);
    int batches = 0;
    for (size_t pos = 0; pos < all.len; batches++) {
        st_batch_hdr_t h;
        CU_ASSERT_FATAL(st_batch_hdr_decode(all.data + pos, all.len - pos, &h) == ST_OK);
        pos += st_batch_frame_size(&h);
    }
    CU_ASSERT_EQUAL(batches, 5);
    st_buf_free(&all);
    st_buf_free(&fr);
    st_buf_free(&plain);
}

/* Several batches of one producer in one request, with a retried one. */
static void test_multi_batch(void)
{
    host_leader("mb", 0, 0);
    st_buf_t w[3];
    pbatch(2, 3, 0, 0, &w[0]);
    pbatch(2, 3, 0, 2, &w[1]);
    pbatch(2, 3, 0, 4, &w[2]);
    int64_t base = -1;
    CU_ASSERT_EQUAL(send_n("mb", w, 2, &base), 0);
    CU_ASSERT_EQUAL(base, 0);
    CU_ASSERT_EQUAL(leo_of("mb"), 4);
    /* [retry of batch 2, new batch 3]: only batch 3 is appended */
    CU_ASSERT_EQUAL(send_n("mb", &w[1], 2, &base), 0);
    CU_ASSERT_EQUAL(base, 2);
    CU_ASSERT_EQUAL(leo_of("mb"), 6);
    /* [a gap after a good one]: the whole set is refused */
    st_buf_t x[2];
    pbatch(1, 3, 0, 6, &x[0]);
    pbatch(1, 3, 0, 8, &x[1]);
    CU_ASSERT_EQUAL(send_n("mb", x, 2, NULL), ST_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
    CU_ASSERT_EQUAL(leo_of("mb"), 6);
    for (int i = 0; i < 3; i++)
        st_buf_free(&w[i]);
    st_buf_free(&x[0]);
    st_buf_free(&x[1]);
}

/* A retry carrying a stored batch and a new one, after another producer
 * appended in between: each batch's own offset is in the answer. */
static void test_batch_offsets(void)
{
    host_leader("bo", 0, 0);
    st_buf_t w[2];
    pbatch(2, 3, 0, 0, &w[0]);
    pbatch(3, 3, 0, 2, &w[1]);
    CU_ASSERT_EQUAL(send_n("bo", w, 1, NULL), 0);
    CU_ASSERT_EQUAL(send_p("bo", 4, 9, 0, 0, NULL), 0); /* offsets 2..5 */
    br_call_t c;
    tu_call_init(&c, 11, -1);
    produce_many(&c, "bo", w, 2);
    Strata__Response *r = tu_call_response(&c);
    CU_ASSERT_FATAL(r->body_case == STRATA__RESPONSE__BODY_PRODUCE);
    Strata__ProducePartitionResult *pr = r->produce->topics[0]->partitions[0];
    CU_ASSERT_EQUAL(pr->error, 0);
    CU_ASSERT_EQUAL(pr->base_offset, 0); /* the first batch's, as before */
    CU_ASSERT_EQUAL_FATAL(pr->n_batch_base_offsets, 2);
    CU_ASSERT_EQUAL(pr->batch_base_offsets[0], 0);
    CU_ASSERT_EQUAL(pr->batch_base_offsets[1], 6);
    strata__response__free_unpacked(r, NULL);
    tu_call_fini(&c);
    CU_ASSERT_EQUAL(leo_of("bo"), 9);
    /* a refused set carries none */
    st_buf_t x;
    pbatch(1, 3, 0, 9, &x);
    tu_call_init(&c, 11, -1);
    produce_many(&c, "bo", &x, 1);
    r = tu_call_response(&c);
    pr = r->produce->topics[0]->partitions[0];
    CU_ASSERT_EQUAL(pr->error, ST_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
    CU_ASSERT_EQUAL(pr->n_batch_base_offsets, 0);
    strata__response__free_unpacked(r, NULL);
    tu_call_fini(&c);
    st_buf_free(&w[0]);
    st_buf_free(&w[1]);
    st_buf_free(&x);
}

/* A request of more batches than the state remembers (the client sends a
 * partition's whole queue), its answer lost: the retry of the whole
 * request, plus a new batch, is answered from the log, appended once. */
static void test_long_retry(void)
{
    host_leader("lr", 0, 0);
    /* another producer first, so the batches are not at offset = sequence */
    CU_ASSERT_EQUAL(send_p("lr", 3, 9, 0, 0, NULL), 0);
    enum {
        N = SL_PSTATE_BATCHES + 4
    };
    st_buf_t w[N + 1];
    for (int i = 0; i <= N; i++)
        pbatch(2, 4, 0, 2 * i, &w[i]);
    int64_t base = -1;
    CU_ASSERT_EQUAL(send_n("lr", w, N, &base), 0);
    CU_ASSERT_EQUAL(base, 3);
    CU_ASSERT_EQUAL(leo_of("lr"), 3 + 2 * N);
    /* without the log look-up the first batch is a gap */
    br_part_t *p = part_of(g_pm, "lr");
    st_batch_hdr_t h0 = hdr(4, 0, 0, 2, 0);
    int64_t dup = -1;
    CU_ASSERT_EQUAL(sl_pstate_check(p->pstate, &h0, NULL, false, &dup), ST_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
    CU_ASSERT(sl_pstate_find_retry(p->pstate, p->log, &h0, &dup));
    CU_ASSERT_EQUAL(dup, 3);
    /* a batch never written (same epoch, sequence in the past, other count) */
    st_batch_hdr_t bad = h0;
    bad.last_offset_delta = 0;
    CU_ASSERT_FALSE(sl_pstate_find_retry(p->pstate, p->log, &bad, &dup));
    /* the whole request again with one more batch: only that one is new */
    CU_ASSERT_EQUAL(send_n("lr", w, N + 1, &base), 0);
    CU_ASSERT_EQUAL(base, 3);
    CU_ASSERT_EQUAL(leo_of("lr"), 3 + 2 * (N + 1));
    /* and a retry of a middle part alone */
    CU_ASSERT_EQUAL(send_n("lr", &w[1], 3, &base), 0);
    CU_ASSERT_EQUAL(base, 5);
    CU_ASSERT_EQUAL(leo_of("lr"), 3 + 2 * (N + 1));
    for (int i = 0; i <= N; i++)
        st_buf_free(&w[i]);
}

/* A request's first batches appended by an earlier attempt, then more
 * than 4,096 offsets of another producer, then the rest of the request
 * (the retry carried the whole queue); the leader restarts and the whole
 * request comes again: every batch is a duplicate at its own offset,
 * nothing is appended and nothing is refused. */
static void test_retry_far_back(void)
{
    host_leader("fb", 0, 0);
    enum {
        N = SL_PSTATE_BATCHES + 4,
        FIRST = 3,
        OTHER = 6000
    };
    st_buf_t w[N], big;
    for (int i = 0; i < N; i++)
        pbatch(2, 4, 0, 2 * i, &w[i]);
    int64_t base = -1, want[N];
    CU_ASSERT_EQUAL(send_n("fb", w, FIRST, &base), 0);
    CU_ASSERT_EQUAL(base, 0);
    for (int i = 0; i < FIRST; i++)
        want[i] = 2 * i;
    pbatch(OTHER, 9, 0, 0, &big); /* another producer, in between */
    CU_ASSERT_EQUAL(send_n("fb", &big, 1, &base), 0);
    CU_ASSERT_EQUAL(base, 2 * FIRST);
    CU_ASSERT_EQUAL(send_n("fb", w, N, &base), 0);
    CU_ASSERT_EQUAL(base, 0);
    for (int i = FIRST; i < N; i++)
        want[i] = 2 * FIRST + OTHER + 2 * (i - FIRST);
    int64_t leo = leo_of("fb");
    CU_ASSERT_EQUAL(leo, 2 * N + OTHER);

    /* the leader restarts: the state is rebuilt from snapshot and log */
    fixture_close();
    fixture_open();
    host_leader("fb", 0, 1);
    br_part_t *p = part_of(g_pm, "fb");
    for (int i = 0; i < N; i++) {
        st_batch_hdr_t h = hdr(4, 0, 2 * i, 2, 0);
        int64_t dup = -1;
        st_err_t err = sl_pstate_check(p->pstate, &h, NULL, false, &dup);
        if (err == ST_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER) {
            CU_ASSERT(sl_pstate_find_retry(p->pstate, p->log, &h, &dup));
        } else {
            CU_ASSERT_EQUAL(err, ST_ERR_DUPLICATE_SEQUENCE_NUMBER);
        }
        CU_ASSERT_EQUAL(dup, want[i]);
    }
    CU_ASSERT_EQUAL(send_n("fb", w, N, &base), 0);
    CU_ASSERT_EQUAL(base, 0);
    CU_ASSERT_EQUAL(leo_of("fb"), leo);
    /* and again without any snapshot: rebuilt from the log alone */
    fixture_close();
    CU_ASSERT(snapshot_files("fb", true) >= 1);
    fixture_open();
    host_leader("fb", 0, 2);
    CU_ASSERT_EQUAL(send_n("fb", w, N, &base), 0);
    CU_ASSERT_EQUAL(base, 0);
    CU_ASSERT_EQUAL(leo_of("fb"), leo);
    /* a batch never written (same epoch, past sequence, another count) */
    st_batch_hdr_t bad = hdr(4, 0, 2, 1, 0);
    int64_t dup = -1;
    CU_ASSERT_FALSE(sl_pstate_find_retry(part_of(g_pm, "fb")->pstate, part_of(g_pm, "fb")->log, &bad, &dup));
    for (int i = 0; i < N; i++)
        st_buf_free(&w[i]);
    st_buf_free(&big);
}

/* A refused sequence and an acks=all refusal each get a log line: they
 * are rate-limited apart. */
static void test_log_slots(void)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/slots.log", g_dir);
    CU_ASSERT_EQUAL_FATAL(st_log_open(path, ST_LOG_INFO), 0);
    host_leader("ls", 0, 0);
    br_part_t *p = part_of(g_pm, "ls");
    p->min_insync = 2; /* the ISR is this broker alone */
    g_acks = -1;
    CU_ASSERT_EQUAL(send_p("ls", 1, 8, 0, 0, NULL), ST_ERR_NOT_ENOUGH_REPLICAS);
    g_acks = 1;
    CU_ASSERT_EQUAL(send_p("ls", 1, 8, 0, 0, NULL), 0);
    CU_ASSERT_EQUAL(send_p("ls", 1, 8, 0, 5, NULL), ST_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
    st_log_close();
    FILE *f = fopen(path, "r");
    CU_ASSERT_FATAL(f != NULL);
    char line[1024];
    bool isr = false, seq = false;
    while (fgets(line, sizeof line, f)) {
        isr |= strstr(line, "acks=all refused") != NULL;
        seq |= strstr(line, "refused a batch of producer 8") != NULL;
    }
    fclose(f);
    CU_ASSERT(isr);
    CU_ASSERT(seq);
}

/* The state survives a restart through its snapshot, and is rebuilt from
 * the log when the snapshot is gone; at most 2 snapshots stay. */
static void test_restart(void)
{
    host_leader("rs", 0, 0);
    int64_t base = -1;
    CU_ASSERT_EQUAL(send_p("rs", 2, 11, 0, 0, &base), 0);
    CU_ASSERT_EQUAL(send_p("rs", 2, 12, 0, 0, &base), 0);
    CU_ASSERT_EQUAL(send_p("rs", 2, 11, 0, 2, &base), 0);
    CU_ASSERT_EQUAL(base, 4);
    fixture_close(); /* clean: writes the snapshot */
    CU_ASSERT_EQUAL(snapshot_files("rs", false), 1);
    fixture_open();
    host_leader("rs", 0, 1);
    CU_ASSERT_EQUAL(sl_pstate_count(part_of(g_pm, "rs")->pstate), 2);
    CU_ASSERT_EQUAL(send_p("rs", 2, 11, 0, 2, &base), 0);
    CU_ASSERT_EQUAL(base, 4);
    CU_ASSERT_EQUAL(leo_of("rs"), 6);
    CU_ASSERT_EQUAL(send_p("rs", 1, 11, 0, 6, NULL), ST_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
    CU_ASSERT_EQUAL(send_p("rs", 1, 12, 0, 2, &base), 0);
    CU_ASSERT_EQUAL(base, 6);

    /* no snapshot at all: rebuilt from the batches in the log */
    fixture_close();
    CU_ASSERT_EQUAL(snapshot_files("rs", true), 2);
    fixture_open();
    host_leader("rs", 0, 2);
    CU_ASSERT_EQUAL(sl_pstate_count(part_of(g_pm, "rs")->pstate), 2);
    CU_ASSERT_EQUAL(send_p("rs", 1, 12, 0, 2, &base), 0);
    CU_ASSERT_EQUAL(base, 6);
    CU_ASSERT_EQUAL(send_p("rs", 2, 11, 0, 4, &base), 0);
    CU_ASSERT_EQUAL(base, 7);
    CU_ASSERT_EQUAL(leo_of("rs"), 9);

    /* a damaged newest snapshot: the older one plus the log */
    fixture_close();
    fixture_open();
    host_leader("rs", 0, 3);
    CU_ASSERT_EQUAL(send_p("rs", 1, 12, 0, 3, &base), 0);
    br_pm_tick(g_pm, now_ms() + 120000); /* periodic snapshot at 10 */
    CU_ASSERT_EQUAL(snapshot_files("rs", false), 2);
    char p[2048];
    snprintf(p, sizeof p, "%s/rs-0/%020d.snapshot", g_dir, 10);
    FILE *f = fopen(p, "r+");
    CU_ASSERT_FATAL(f != NULL);
    fputs("garbage", f);
    fclose(f);
    br_part_t *part = part_of(g_pm, "rs");
    CU_ASSERT_EQUAL(sl_pstate_load(part->pstate, part->log), ST_OK);
    CU_ASSERT_EQUAL(sl_pstate_snapshot_offset(part->pstate), 9);
    CU_ASSERT_EQUAL(send_p("rs", 1, 12, 0, 3, &base), 0);
    CU_ASSERT_EQUAL(base, 9);
    CU_ASSERT_EQUAL(send_p("rs", 1, 12, 0, 4, &base), 0);
    CU_ASSERT_EQUAL(base, 10);
}

/* Truncation drops the state of the cut batches, snapshots above the cut
 * included. */
static void test_truncation(void)
{
    host_leader("tr", 0, 0);
    int64_t base = -1;
    CU_ASSERT_EQUAL(send_p("tr", 1, 21, 0, 0, &base), 0);
    br_part_t *part = part_of(g_pm, "tr");
    br_part_snapshot_pstate(part); /* at 1 */
    CU_ASSERT_EQUAL(send_p("tr", 1, 21, 0, 1, &base), 0);
    CU_ASSERT_EQUAL(send_p("tr", 1, 22, 0, 0, &base), 0);
    CU_ASSERT_EQUAL(send_p("tr", 1, 21, 0, 2, &base), 0);
    CU_ASSERT_EQUAL(base, 3);
    br_part_snapshot_pstate(part); /* at 4 */
    CU_ASSERT_EQUAL(snapshot_files("tr", false), 2);
    /* what a follower does on a divergent suffix: cut at 2 */
    CU_ASSERT_EQUAL(sl_log_truncate_to(part->log, 2), ST_OK);
    CU_ASSERT_EQUAL(sl_pstate_truncated(part->pstate, part->log), ST_OK);
    CU_ASSERT_EQUAL(snapshot_files("tr", false), 1);
    CU_ASSERT_EQUAL(sl_pstate_snapshot_offset(part->pstate), 1);
    CU_ASSERT_PTR_NULL(sl_pstate_get(part->pstate, 22));
    CU_ASSERT_EQUAL(
        sl_pstate_get(part->pstate, 21)->batches[sl_pstate_get(part->pstate, 21)->n_batches - 1].last_seq, 1);
    /* the cut batch of 21 is appended again, not taken as a duplicate */
    CU_ASSERT_EQUAL(send_p("tr", 1, 21, 0, 3, NULL), ST_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
    CU_ASSERT_EQUAL(send_p("tr", 1, 21, 0, 2, &base), 0);
    CU_ASSERT_EQUAL(base, 2);
    CU_ASSERT_EQUAL(send_p("tr", 1, 22, 0, 0, &base), 0);
    CU_ASSERT_EQUAL(base, 3);
    /* restarting empty elsewhere forgets everything */
    CU_ASSERT_EQUAL(sl_log_truncate_fully_and_start_at(part->log, 50), ST_OK);
    sl_pstate_reset(part->pstate, part->log);
    CU_ASSERT_EQUAL(sl_pstate_count(part->pstate), 0);
    CU_ASSERT_EQUAL(snapshot_files("tr", false), 0);
    /* the log start moved: an unknown producer in mid-sequence is taken */
    CU_ASSERT_EQUAL(send_p("tr", 1, 21, 0, 7, &base), 0);
    CU_ASSERT_EQUAL(base, 50);
}

/* ------------------------------------------------------------ followers */

typedef struct peer {
    char *dir;
    sl_logdir_t *ld;
    br_pm_t *pm;
} peer_t;

static void peer_open(peer_t *p, int32_t id)
{
    p->dir = tu_tmpdir("test_idempotence_peer");
    CU_ASSERT_FATAL(sl_logdir_open(p->dir, &p->ld) == ST_OK);
    p->pm = br_pm_new(g_loop, id, &p->ld, 1, &g_limits);
    CU_ASSERT_FATAL(p->pm != NULL);
}

static void peer_close(peer_t *p)
{
    br_pm_free(p->pm, true);
    sl_logdir_close(p->ld, true);
    tu_rmrf(p->dir);
    free(p->dir);
}

/* One follower request from fpm to lpm, carried by hand. */
static int follow_step(br_pm_t *fpm, int32_t source, br_pm_t *lpm)
{
    br_follow_req_t *r;
    uint8_t *buf;
    size_t len;
    int64_t retry;
    if (br_pm_follow_next(fpm, source, now_ms(), &r, &buf, &len, &retry) != ST_OK)
        return -1;
    Strata__Request *req = strata__request__unpack(NULL, len, buf);
    CU_ASSERT_FATAL(req != NULL);
    int kind = (int)req->body_case;
    br_call_t c;
    tu_call_init(&c, req->correlation_id, req->replica_id);
    if (req->body_case == STRATA__REQUEST__BODY_FETCH)
        br_pm_handle_fetch(lpm, &c, req->fetch);
    else
        br_pm_handle_offset_for_leader_epoch(lpm, &c, req->offset_for_leader_epoch);
    int64_t deadline = now_ms() + 5000;
    while (c.replies == 0 && now_ms() < deadline)
        ev_run(g_loop, EVRUN_ONCE);
    CU_ASSERT_FATAL(c.replies == 1);
    br_pm_follow_answer(fpm, r, c.buf, c.len);
    br_follow_req_free(r);
    strata__request__free_unpacked(req, NULL);
    free(buf);
    tu_call_fini(&c);
    return kind;
}

/* A follower builds the state from replicated batches; after a leader
 * change the client's retry is answered with the original offset. */
static void test_follower(void)
{
    peer_t b2;
    peer_open(&b2, 2);
    int32_t isr12[] = {1, 2};
    host("fo", 0, 1, 1, isr12, 2);
    br_pm_t *lpm = g_pm;
    g_pm = b2.pm;
    host("fo", 0, 1, 1, isr12, 2);
    g_pm = lpm;
    int64_t base = -1;
    CU_ASSERT_EQUAL(send_p("fo", 2, 31, 0, 0, &base), 0);
    CU_ASSERT_EQUAL(send_p("fo", 3, 31, 0, 2, &base), 0);
    CU_ASSERT_EQUAL(base, 2);
    for (int i = 0; i < 4 && sl_log_end_offset(part_of(b2.pm, "fo")->log) < 5; i++)
        (void)follow_step(b2.pm, 1, lpm);
    br_part_t *f = part_of(b2.pm, "fo");
    CU_ASSERT_EQUAL_FATAL(sl_log_end_offset(f->log), 5);
    const sl_pstate_entry_t *e = sl_pstate_get(f->pstate, 31);
    CU_ASSERT_FATAL(e != NULL);
    CU_ASSERT_EQUAL(e->n_batches, 2);
    CU_ASSERT_EQUAL(e->batches[1].base_offset, 2);
    CU_ASSERT_EQUAL(e->batches[1].last_seq, 4);
    /* broker 2 takes over; the client retries its last batch there */
    int32_t isr2[] = {2};
    g_pm = b2.pm;
    host("fo", 0, 2, 2, isr2, 1);
    CU_ASSERT_EQUAL(send_p("fo", 3, 31, 0, 2, &base), 0);
    CU_ASSERT_EQUAL(base, 2);
    CU_ASSERT_EQUAL(sl_log_end_offset(f->log), 5);
    CU_ASSERT_EQUAL(send_p("fo", 1, 31, 0, 6, NULL), ST_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
    CU_ASSERT_EQUAL(send_p("fo", 1, 31, 0, 5, &base), 0);
    CU_ASSERT_EQUAL(base, 5);
    g_pm = lpm;
    peer_close(&b2);
}

/* ------------------------------------------------------------ br_producer_id */

static void test_pid_json(void)
{
    br_producer_id_block_t b = {.broker = 3, .start = 1000, .end = 1999}, back;
    char *json = NULL;
    CU_ASSERT_EQUAL_FATAL(br_producer_id_block_encode(&b, &json), ST_OK);
    CU_ASSERT_STRING_EQUAL(json,
                           "{\"version\":1,\"broker\":3,\"block_start\":\"1000\",\"block_end\":\"1999\"}");
    CU_ASSERT_EQUAL(br_producer_id_block_decode(json, strlen(json), &back), ST_OK);
    CU_ASSERT(back.broker == 3 && back.start == 1000 && back.end == 1999);
    free(json);
    const char *ints = "{\"version\":1,\"broker\":0,\"block_start\":0,\"block_end\":999}";
    CU_ASSERT_EQUAL(br_producer_id_block_decode(ints, strlen(ints), &back), ST_OK);
    CU_ASSERT(back.start == 0 && back.end == 999);
    const char *bad[] = {
        "",
        "[]",
        "{\"version\":2,\"broker\":0,\"block_start\":\"0\",\"block_end\":\"9\"}",
        "{\"version\":1,\"broker\":0,\"block_start\":\"10\",\"block_end\":\"9\"}",
        "{\"version\":1,\"broker\":0,\"block_start\":\"-1\",\"block_end\":\"9\"}",
        "{\"version\":1,\"broker\":0,\"block_start\":\"1x\",\"block_end\":\"9\"}",
        "{\"version\":1,\"broker\":0,\"block_start\":\"99999999999999999999\",\"block_end\":\"9\"}",
        "{\"version\":1,\"block_start\":\"0\",\"block_end\":\"9\"}",
        "{\"version\":1,\"broker\":-4,\"block_start\":\"0\",\"block_end\":\"9\"}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CU_ASSERT_EQUAL(br_producer_id_block_decode(bad[i], strlen(bad[i]), &back), ST_ERR_CORRUPT);
    CU_ASSERT_EQUAL(br_producer_id_block_decode(NULL, 0, &back), ST_ERR_CORRUPT);
    br_producer_id_block_t n;
    CU_ASSERT_EQUAL(br_producer_id_block_next(NULL, 4, &n), ST_OK);
    CU_ASSERT(n.broker == 4 && n.start == 0 && n.end == BR_PRODUCER_ID_BLOCK_SIZE - 1);
    CU_ASSERT_EQUAL(br_producer_id_block_next(&b, 4, &n), ST_OK);
    CU_ASSERT(n.start == 2000 && n.end == 2999);
    b.end = INT64_MAX - 5;
    CU_ASSERT_EQUAL(br_producer_id_block_next(&b, 4, &n), ST_ERR_STATE);
}

/* InitProducerId's answer: error, id, epoch. */
static int init_pid(br_producer_id_t *pid, const char *txn, int64_t id, int32_t epoch, int64_t *id_out,
                    int32_t *epoch_out)
{
    Strata__InitProducerIdRequest req = STRATA__INIT_PRODUCER_ID_REQUEST__INIT;
    req.transactional_id = (char *)(txn ? txn : "");
    req.producer_id = id;
    req.producer_epoch = epoch;
    br_call_t c;
    tu_call_init(&c, 21, -1);
    br_producer_id_handle_init(pid, &c, &req);
    Strata__Response *r = tu_call_response(&c);
    CU_ASSERT_FATAL(r->body_case == STRATA__RESPONSE__BODY_INIT_PRODUCER_ID);
    int err = r->init_producer_id->error;
    *id_out = r->init_producer_id->producer_id;
    *epoch_out = r->init_producer_id->producer_epoch;
    strata__response__free_unpacked(r, NULL);
    tu_call_fini(&c);
    return err;
}

static void test_pid_handler(void)
{
    br_producer_id_t *pid = br_producer_id_new(NULL, 1);
    int64_t id;
    int32_t ep;
    /* no block and no ZooKeeper: retriable error */
    CU_ASSERT_EQUAL(init_pid(pid, NULL, -1, -1, &id, &ep), ST_ERR_COORDINATOR_NOT_AVAILABLE);
    CU_ASSERT_EQUAL(id, -1);
    br_producer_id_block_t b = {.broker = 1, .start = 2000, .end = 2001};
    br_producer_id_set_block(pid, &b);
    CU_ASSERT_EQUAL(init_pid(pid, NULL, -1, -1, &id, &ep), 0);
    CU_ASSERT(id == 2000 && ep == 0);
    CU_ASSERT_EQUAL(init_pid(pid, NULL, -1, -1, &id, &ep), 0);
    CU_ASSERT(id == 2001 && ep == 0);
    CU_ASSERT_EQUAL(init_pid(pid, NULL, -1, -1, &id, &ep), ST_ERR_COORDINATOR_NOT_AVAILABLE);
    /* a known producer: same id, next epoch */
    CU_ASSERT_EQUAL(init_pid(pid, NULL, 2000, 0, &id, &ep), 0);
    CU_ASSERT(id == 2000 && ep == 1);
    CU_ASSERT_EQUAL(init_pid(pid, NULL, 77, 41, &id, &ep), 0);
    CU_ASSERT(id == 77 && ep == 42);
    /* epochs exhausted: a new id */
    b.start = 5000;
    b.end = 5999;
    br_producer_id_set_block(pid, &b);
    CU_ASSERT_EQUAL(init_pid(pid, NULL, 77, 32766, &id, &ep), 0);
    CU_ASSERT(id == 5000 && ep == 0);
    /* invalid */
    CU_ASSERT_EQUAL(init_pid(pid, NULL, 77, -1, &id, &ep), ST_ERR_INVALID_REQUEST);
    CU_ASSERT_EQUAL(init_pid(pid, NULL, -1, 3, &id, &ep), ST_ERR_INVALID_REQUEST);
    CU_ASSERT_EQUAL(init_pid(pid, NULL, 1, 40000, &id, &ep), ST_ERR_INVALID_REQUEST);
    CU_ASSERT_EQUAL(init_pid(pid, "txn-1", -1, -1, &id, &ep), ST_ERR_INVALID_REQUEST);
    CU_ASSERT_EQUAL(init_pid(pid, NULL, -1, -1, &id, &ep), 0);
    CU_ASSERT_EQUAL(id, 5001);
    br_producer_id_free(pid);
}

static CU_TestInfo tests[] = {
    {"producer state follows the log start", test_truncate_head},
    {"sequence rules", test_rules},
    {"snapshot encoding", test_encode},
    {"duplicates answered with the original offset", test_duplicates},
    {"several batches in one request", test_multi_batch},
    {"each batch's own offset in the answer", test_batch_offsets},
    {"retry of a request longer than the remembered batches", test_long_retry},
    {"retry found however far back its batch is", test_retry_far_back},
    {"refusal causes logged apart", test_log_slots},
    {"state survives restart, rebuilt without snapshot", test_restart},
    {"truncation drops state", test_truncation},
    {"followers build state from replicated batches", test_follower},
    {"producer id block JSON", test_pid_json},
    {"InitProducerId answers", test_pid_handler},
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    {"idempotence", NULL, NULL, setup, tu_pm_teardown, tests},
    CU_SUITE_INFO_NULL,
};

int main(void)
{
    return tu_main(suites);
}
