/*
 * Unit tests of the broker's data plane (br_pm, br_produce,
 * br_fetch, br_replica): a real sl_logdir in a temp dir, a private libev
 * loop and the br_call double of tu_call.c that captures the
 * encoded reply. Replication tests run a second manager (broker 2) and
 * carry its follower requests to the leader by hand: no network. They
 * look inside br_part through br_pm_int.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "partition/br_pm.h"
#include "partition/br_pm_int.h"
#include "common/st_batch.h"
#include "raw.pb-c.h"
#include "record.pb-c.h"
#include "strata.pb-c.h"
#include "tu.h"
#include "tu_call.h"
#include "tu_pm.h"

/* --------------------------------------------------------------- fixture */

static void setup(void)
{
    tu_pm_setup("test_partition");
}

/* A batch of n records "v<i>" with the given timestamp: its frame (base
 * offset 0) and its wire form. */
static void make_batch(int n, int64_t ts, size_t value_len, st_buf_t *frame, st_buf_t *wire)
{
    st_batch_builder_t b;
    st_batch_builder_init(&b, ST_CODEC_NONE);
    char *v = malloc(value_len + 16);
    for (int i = 0; i < n; i++) {
        memset(v, 'x', value_len + 16);
        int len = snprintf(v, value_len + 16, "v%d", i);
        v[len] = 'x';
        CU_ASSERT_FATAL(st_batch_builder_add(&b, ts + i, "k", 1, v,
                                             value_len > (size_t)len ? value_len : (size_t)len, NULL,
                                             0) == ST_OK);
    }
    free(v);
    st_buf_init(frame);
    st_buf_init(wire);
    CU_ASSERT_FATAL(st_batch_builder_finish(&b, frame) == ST_OK);
    CU_ASSERT_FATAL(st_batch_to_wire(frame->data, frame->len, wire) == ST_OK);
    st_batch_builder_fini(&b);
}

/* Produce the given wire batches to one partition. */
static void produce(br_call_t *c, const char *topic, int32_t partition, st_buf_t *wires, size_t n,
                    int32_t acks, int32_t timeout_ms)
{
    ProtobufCBinaryData *bd = calloc(n ? n : 1, sizeof *bd);
    for (size_t i = 0; i < n; i++) {
        bd[i].data = wires[i].data;
        bd[i].len = wires[i].len;
    }
    Strata__Raw__RawProducePartition pp = STRATA__RAW__RAW_PRODUCE_PARTITION__INIT;
    pp.partition = partition;
    pp.n_batches = n;
    pp.batches = bd;
    Strata__Raw__RawProducePartition *ppp = &pp;
    Strata__Raw__RawProduceTopic pt = STRATA__RAW__RAW_PRODUCE_TOPIC__INIT;
    pt.name = (char *)topic;
    pt.n_partitions = 1;
    pt.partitions = &ppp;
    Strata__Raw__RawProduceTopic *ptp = &pt;
    Strata__Raw__RawProduceRequest req = STRATA__RAW__RAW_PRODUCE_REQUEST__INIT;
    req.acks = acks;
    req.timeout_ms = timeout_ms;
    req.n_topics = 1;
    req.topics = &ptp;
    br_pm_handle_produce(g_pm, c, &req);
    free(bd);
}

/* Produce and return the single partition result's error and base offset. */
static int produce_one(const char *topic, int32_t partition, st_buf_t *wire, int64_t *base, char *msg,
                       size_t msglen)
{
    br_call_t c;
    tu_call_init(&c, 7, -1);
    produce(&c, topic, partition, wire, 1, 1, 1000);
    Strata__Response *r = tu_call_response(&c);
    CU_ASSERT_FATAL(r->body_case == STRATA__RESPONSE__BODY_PRODUCE);
    CU_ASSERT_FATAL(r->produce->n_topics == 1 && r->produce->topics[0]->n_partitions == 1);
    Strata__ProducePartitionResult *pr = r->produce->topics[0]->partitions[0];
    CU_ASSERT_EQUAL(pr->partition, partition);
    int err = pr->error;
    if (base)
        *base = pr->base_offset;
    if (msg)
        snprintf(msg, msglen, "%s", pr->error_message ? pr->error_message : "");
    if (err != 0)
        CU_ASSERT(pr->error_message && strlen(pr->error_message) > 0);
    strata__response__free_unpacked(r, NULL);
    tu_call_fini(&c);
    return err;
}

static const char *g_rack_id; /* rack_id of fetch_req's requests, NULL none */

static void fetch_req(br_call_t *c, const char *topic, const int32_t *parts, size_t n_parts, int64_t offset,
                      int32_t part_max, int32_t max_bytes, int32_t min_bytes, int32_t max_wait, int32_t epoch)
{
    Strata__FetchPartitionRequest *fp = calloc(n_parts, sizeof *fp);
    Strata__FetchPartitionRequest **fpp = calloc(n_parts, sizeof *fpp);
    for (size_t i = 0; i < n_parts; i++) {
        strata__fetch_partition_request__init(&fp[i]);
        fp[i].partition = parts[i];
        fp[i].fetch_offset = offset;
        fp[i].max_bytes = part_max;
        fp[i].current_leader_epoch = epoch;
        fpp[i] = &fp[i];
    }
    Strata__FetchTopicRequest ft = STRATA__FETCH_TOPIC_REQUEST__INIT;
    ft.name = (char *)topic;
    ft.n_partitions = n_parts;
    ft.partitions = fpp;
    Strata__FetchTopicRequest *ftp = &ft;
    Strata__FetchRequest req = STRATA__FETCH_REQUEST__INIT;
    req.max_wait_ms = max_wait;
    req.min_bytes = min_bytes;
    req.max_bytes = max_bytes;
    req.n_topics = 1;
    req.topics = &ftp;
    if (g_rack_id)
        req.rack_id = (char *)g_rack_id;
    br_pm_handle_fetch(g_pm, c, &req);
    free(fp);
    free(fpp);
}

static void fetch(br_call_t *c, const char *topic, int32_t partition, int64_t offset, int32_t epoch)
{
    fetch_req(c, topic, &partition, 1, offset, 0, 0, 0, 0, epoch);
}

/* The single partition of a fetch reply, through the raw view. */
static Strata__Raw__RawResponse *raw_response(const br_call_t *c)
{
    CU_ASSERT_FATAL(c->replies == 1);
    Strata__Raw__RawResponse *r = strata__raw__raw_response__unpack(NULL, c->len, c->buf);
    CU_ASSERT_FATAL(r != NULL);
    CU_ASSERT_EQUAL(r->correlation_id, c->corr);
    CU_ASSERT_FATAL(r->body_case == STRATA__RAW__RAW_RESPONSE__BODY_FETCH);
    CU_ASSERT_FATAL(r->fetch->n_topics == 1);
    return r;
}

static int fetch_error(const char *topic, int32_t partition, int64_t offset, int32_t epoch)
{
    br_call_t c;
    tu_call_init(&c, 9, -1);
    fetch(&c, topic, partition, offset, epoch);
    Strata__Raw__RawResponse *r = raw_response(&c);
    CU_ASSERT_FATAL(r->fetch->topics[0]->n_partitions == 1);
    Strata__Raw__RawFetchPartitionResponse *p = r->fetch->topics[0]->partitions[0];
    int err = p->error;
    if (err != 0)
        CU_ASSERT(p->error_message && strlen(p->error_message) > 0);
    strata__raw__raw_response__free_unpacked(r, NULL);
    tu_call_fini(&c);
    return err;
}

static void bufs_free(st_buf_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        st_buf_free(&b[i]);
}

/* ------------------------------------------------------------------ tests */

static void test_round_trip(void)
{
    host_leader("t", 0, 3);
    int64_t ts = now_ms();
    st_buf_t frames[3], wires[3];
    make_batch(5, ts, 10, &frames[0], &wires[0]);
    make_batch(1, ts + 10, 100, &frames[1], &wires[1]);
    make_batch(20, ts + 20, 30, &frames[2], &wires[2]);

    /* two batches in one request, then one more */
    br_call_t c;
    tu_call_init(&c, 42, -1);
    produce(&c, "t", 0, wires, 2, 1, 1000);
    Strata__Response *r = tu_call_response(&c);
    CU_ASSERT_FATAL(r->body_case == STRATA__RESPONSE__BODY_PRODUCE);
    Strata__ProducePartitionResult *pr = r->produce->topics[0]->partitions[0];
    CU_ASSERT_STRING_EQUAL(r->produce->topics[0]->name, "t");
    CU_ASSERT_EQUAL(pr->error, 0);
    CU_ASSERT_EQUAL(pr->base_offset, 0);
    CU_ASSERT_EQUAL(pr->log_start_offset, 0);
    CU_ASSERT_EQUAL(pr->log_append_time, -1);
    strata__response__free_unpacked(r, NULL);
    tu_call_fini(&c);
    int64_t base = -1;
    CU_ASSERT_EQUAL(produce_one("t", 0, &wires[2], &base, NULL, 0), 0);
    CU_ASSERT_EQUAL(base, 6);

    /* the frames as the leader stored them: offsets and epoch assigned */
    st_batch_set_offset_epoch(frames[0].data, 0, 3);
    st_batch_set_offset_epoch(frames[1].data, 5, 3);
    st_batch_set_offset_epoch(frames[2].data, 6, 3);

    tu_call_init(&c, 43, -1);
    fetch(&c, "t", 0, 0, -1);
    Strata__Raw__RawResponse *raw = raw_response(&c);
    Strata__Raw__RawFetchPartitionResponse *rp = raw->fetch->topics[0]->partitions[0];
    CU_ASSERT_STRING_EQUAL(raw->fetch->topics[0]->name, "t");
    CU_ASSERT_EQUAL(rp->error, 0);
    CU_ASSERT_EQUAL(rp->high_watermark, 26);
    CU_ASSERT_EQUAL(rp->log_start_offset, 0);
    CU_ASSERT_FATAL(rp->n_batches == 3);
    for (size_t i = 0; i < 3; i++) {
        /* byte-identical: the wire form of the stored frame ... */
        st_buf_t expect;
        st_buf_init(&expect);
        CU_ASSERT_FATAL(st_batch_to_wire(frames[i].data, frames[i].len, &expect) == ST_OK);
        CU_ASSERT_EQUAL(rp->batches[i].len, expect.len);
        CU_ASSERT(rp->batches[i].len == expect.len &&
                  memcmp(rp->batches[i].data, expect.data, expect.len) == 0);
        /* ... and back to the very frame the producer built */
        st_buf_t back;
        st_buf_init(&back);
        const char *why = NULL;
        CU_ASSERT_FATAL(st_batch_from_wire(rp->batches[i].data, rp->batches[i].len, &back, &why) == ST_OK);
        CU_ASSERT(back.len == frames[i].len && memcmp(back.data, frames[i].data, back.len) == 0);
        st_buf_free(&back);
        st_buf_free(&expect);
    }
    strata__raw__raw_response__free_unpacked(raw, NULL);

    /* a stock decoder reads the same reply */
    r = tu_call_response(&c);
    CU_ASSERT_FATAL(r->body_case == STRATA__RESPONSE__BODY_FETCH);
    Strata__FetchPartitionResponse *fp = r->fetch->topics[0]->partitions[0];
    CU_ASSERT_FATAL(fp->n_batches == 3);
    CU_ASSERT_EQUAL(fp->batches[0]->base_offset, 0);
    CU_ASSERT_EQUAL(fp->batches[1]->base_offset, 5);
    CU_ASSERT_EQUAL(fp->batches[2]->base_offset, 6);
    CU_ASSERT_EQUAL(fp->batches[2]->partition_leader_epoch, 3);
    CU_ASSERT_EQUAL(fp->batches[2]->record_count, 20);
    CU_ASSERT_FATAL(fp->batches[0]->n_records == 5);
    CU_ASSERT_EQUAL(fp->batches[0]->records[4]->offset_delta, 4);
    CU_ASSERT(fp->batches[0]->records[1]->value.len == 10 &&
              memcmp(fp->batches[0]->records[1]->value.data, "v1", 2) == 0);
    CU_ASSERT_FATAL(fp->batches[2]->n_records == 20);
    strata__response__free_unpacked(r, NULL);
    tu_call_fini(&c);

    /* fetching from the middle returns the batch holding the offset */
    tu_call_init(&c, 44, -1);
    fetch(&c, "t", 0, 7, -1);
    raw = raw_response(&c);
    rp = raw->fetch->topics[0]->partitions[0];
    CU_ASSERT_EQUAL(rp->error, 0);
    CU_ASSERT_EQUAL(rp->n_batches, 1);
    strata__raw__raw_response__free_unpacked(raw, NULL);
    tu_call_fini(&c);

    /* at the log end: nothing, no error */
    tu_call_init(&c, 45, -1);
    fetch(&c, "t", 0, 26, -1);
    raw = raw_response(&c);
    CU_ASSERT_EQUAL(raw->fetch->topics[0]->partitions[0]->error, 0);
    CU_ASSERT_EQUAL(raw->fetch->topics[0]->partitions[0]->n_batches, 0);
    strata__raw__raw_response__free_unpacked(raw, NULL);
    tu_call_fini(&c);
    bufs_free(frames, 3);
    bufs_free(wires, 3);
}

static void test_max_bytes(void)
{
    host_leader("m", 0, 0);
    host_leader("m", 1, 0);
    int64_t ts = now_ms();
    st_buf_t f[4], w[4];
    for (int i = 0; i < 4; i++) {
        make_batch(10, ts, 200, &f[i], &w[i]); /* ~2.1 KB each */
        CU_ASSERT_EQUAL(produce_one("m", i % 2, &w[i], NULL, NULL, 0), 0);
    }
    int32_t parts[] = {0, 1};
    br_call_t c;
    /* per-partition limit below one batch: still one batch from the first
     * partition, none from the second */
    tu_call_init(&c, 1, -1);
    fetch_req(&c, "m", parts, 2, 0, 100, 0, 0, 0, -1);
    Strata__Raw__RawResponse *raw = raw_response(&c);
    CU_ASSERT_FATAL(raw->fetch->topics[0]->n_partitions == 2);
    CU_ASSERT_EQUAL(raw->fetch->topics[0]->partitions[0]->n_batches, 1);
    CU_ASSERT_EQUAL(raw->fetch->topics[0]->partitions[1]->n_batches, 0);
    CU_ASSERT_EQUAL(raw->fetch->topics[0]->partitions[1]->error, 0);
    strata__raw__raw_response__free_unpacked(raw, NULL);
    tu_call_fini(&c);
    /* overall limit of ~1.5 batches: partition 0 gets one, 1 none */
    tu_call_init(&c, 2, -1);
    fetch_req(&c, "m", parts, 2, 0, 0, (int32_t)(f[0].len * 3 / 2), 0, 0, -1);
    raw = raw_response(&c);
    CU_ASSERT_EQUAL(raw->fetch->topics[0]->partitions[0]->n_batches, 1);
    CU_ASSERT_EQUAL(raw->fetch->topics[0]->partitions[1]->n_batches, 0);
    strata__raw__raw_response__free_unpacked(raw, NULL);
    tu_call_fini(&c);
    /* no limits: everything */
    tu_call_init(&c, 3, -1);
    fetch_req(&c, "m", parts, 2, 0, 0, 0, 0, 0, -1);
    raw = raw_response(&c);
    CU_ASSERT_EQUAL(raw->fetch->topics[0]->partitions[0]->n_batches, 2);
    CU_ASSERT_EQUAL(raw->fetch->topics[0]->partitions[1]->n_batches, 2);
    strata__raw__raw_response__free_unpacked(raw, NULL);
    tu_call_fini(&c);
    bufs_free(f, 4);
    bufs_free(w, 4);
}

static void test_not_leader_unknown(void)
{
    int32_t isr[] = {2, 1};
    host("f", 0, 2, 1, isr, 2);
    st_buf_t f, w;
    make_batch(1, now_ms(), 10, &f, &w);
    CU_ASSERT_EQUAL(produce_one("f", 0, &w, NULL, NULL, 0), ST_ERR_NOT_LEADER_OR_FOLLOWER);
    CU_ASSERT_EQUAL(fetch_error("f", 0, 0, -1), ST_ERR_NOT_LEADER_OR_FOLLOWER);
    CU_ASSERT_EQUAL(produce_one("nope", 0, &w, NULL, NULL, 0), ST_ERR_UNKNOWN_TOPIC_OR_PARTITION);
    CU_ASSERT_EQUAL(produce_one("f", 7, &w, NULL, NULL, 0), ST_ERR_UNKNOWN_TOPIC_OR_PARTITION);
    CU_ASSERT_EQUAL(fetch_error("nope", 0, 0, -1), ST_ERR_UNKNOWN_TOPIC_OR_PARTITION);

    /* becoming leader makes it writable; losing it again refuses */
    host("f", 0, 1, 2, isr, 2);
    int32_t isr1[] = {1};
    host("f", 0, 1, 2, isr1, 1);
    CU_ASSERT_EQUAL(produce_one("f", 0, &w, NULL, NULL, 0), 0);
    br_pm_resign_all(g_pm);
    CU_ASSERT_EQUAL(produce_one("f", 0, &w, NULL, NULL, 0), ST_ERR_NOT_LEADER_OR_FOLLOWER);

    /* stopped partitions are unknown */
    br_pm_stop(g_pm, "f", 0, true);
    CU_ASSERT_EQUAL(fetch_error("f", 0, 0, -1), ST_ERR_UNKNOWN_TOPIC_OR_PARTITION);
    st_buf_free(&f);
    st_buf_free(&w);
}

static void test_invalid_acks(void)
{
    host_leader("a", 0, 0);
    st_buf_t f, w;
    make_batch(1, now_ms(), 10, &f, &w);
    br_call_t c;
    tu_call_init(&c, 1, -1);
    produce(&c, "a", 0, &w, 1, 2, 1000);
    Strata__Response *r = tu_call_response(&c);
    CU_ASSERT_EQUAL(r->produce->topics[0]->partitions[0]->error, ST_ERR_INVALID_REQUIRED_ACKS);
    strata__response__free_unpacked(r, NULL);
    tu_call_fini(&c);
    /* acks=0 still gets a (ignored) reply and appends */
    tu_call_init(&c, 2, -1);
    produce(&c, "a", 0, &w, 1, 0, 1000);
    r = tu_call_response(&c);
    CU_ASSERT_EQUAL(r->produce->topics[0]->partitions[0]->error, 0);
    CU_ASSERT_EQUAL(r->produce->topics[0]->partitions[0]->base_offset, 0);
    strata__response__free_unpacked(r, NULL);
    tu_call_fini(&c);
    st_buf_free(&f);
    st_buf_free(&w);
}

static void test_too_large(void)
{
    g_cfg.max_message_bytes = 1000;
    host_leader("big", 0, 0);
    st_buf_t f, w;
    make_batch(4, now_ms(), 600, &f, &w);
    char msg[256];
    CU_ASSERT_EQUAL(produce_one("big", 0, &w, NULL, msg, sizeof msg), ST_ERR_MESSAGE_TOO_LARGE);
    CU_ASSERT(strstr(msg, "max.message.bytes") != NULL);
    st_buf_free(&f);
    st_buf_free(&w);
    make_batch(1, now_ms(), 100, &f, &w);
    CU_ASSERT_EQUAL(produce_one("big", 0, &w, NULL, NULL, 0), 0);
    st_buf_free(&f);
    st_buf_free(&w);
}

static void test_corrupt(void)
{
    host_leader("c", 0, 0);
    st_buf_t f, w;
    make_batch(3, now_ms(), 40, &f, &w);
    w.data[w.len - 5] ^= 0x01; /* inside the last record's value */
    char msg[256];
    int64_t base = 0;
    CU_ASSERT_EQUAL(produce_one("c", 0, &w, &base, msg, sizeof msg), ST_ERR_CORRUPT_MESSAGE);
    CU_ASSERT_EQUAL(base, -1);
    CU_ASSERT(strstr(msg, "corrupt") != NULL);
    /* garbage that is not even a RecordBatch */
    st_buf_t g;
    st_buf_init(&g);
    st_buf_append(&g, "\xff\xff\xff\xff\xff", 5);
    CU_ASSERT_EQUAL(produce_one("c", 0, &g, NULL, NULL, 0), ST_ERR_CORRUPT_MESSAGE);
    st_buf_free(&g);
    /* nothing was appended */
    br_call_t c;
    tu_call_init(&c, 1, -1);
    fetch(&c, "c", 0, 0, -1);
    Strata__Raw__RawResponse *raw = raw_response(&c);
    CU_ASSERT_EQUAL(raw->fetch->topics[0]->partitions[0]->high_watermark, 0);
    CU_ASSERT_EQUAL(raw->fetch->topics[0]->partitions[0]->n_batches, 0);
    strata__raw__raw_response__free_unpacked(raw, NULL);
    tu_call_fini(&c);
    st_buf_free(&f);
    st_buf_free(&w);
}

static void test_invalid_timestamp(void)
{
    g_limits.log_message_timestamp_difference_max_ms = 60000;
    fixture_close();
    fixture_open();
    host_leader("ts", 0, 0);
    st_buf_t f, w;
    make_batch(2, now_ms() - 3600 * 1000, 10, &f, &w);
    char msg[256];
    CU_ASSERT_EQUAL(produce_one("ts", 0, &w, NULL, msg, sizeof msg), ST_ERR_INVALID_TIMESTAMP);
    CU_ASSERT(strstr(msg, "message.timestamp.difference.max.ms") != NULL);
    st_buf_free(&f);
    st_buf_free(&w);
    make_batch(2, now_ms() + 3600 * 1000, 10, &f, &w);
    CU_ASSERT_EQUAL(produce_one("ts", 0, &w, NULL, NULL, 0), ST_ERR_INVALID_TIMESTAMP);
    st_buf_free(&f);
    st_buf_free(&w);
    make_batch(2, now_ms(), 10, &f, &w);
    CU_ASSERT_EQUAL(produce_one("ts", 0, &w, NULL, NULL, 0), 0);
    st_buf_free(&f);
    st_buf_free(&w);
}

static void test_out_of_range(void)
{
    host_leader("r", 0, 0);
    st_buf_t f, w;
    make_batch(3, now_ms(), 10, &f, &w);
    CU_ASSERT_EQUAL(produce_one("r", 0, &w, NULL, NULL, 0), 0);
    br_call_t c;
    tu_call_init(&c, 1, -1);
    fetch(&c, "r", 0, 100, -1);
    Strata__Raw__RawResponse *raw = raw_response(&c);
    Strata__Raw__RawFetchPartitionResponse *p = raw->fetch->topics[0]->partitions[0];
    CU_ASSERT_EQUAL(p->error, ST_ERR_OFFSET_OUT_OF_RANGE);
    CU_ASSERT_EQUAL(p->log_start_offset, 0);
    CU_ASSERT_EQUAL(p->high_watermark, 3);
    CU_ASSERT(strlen(p->error_message) > 0);
    strata__raw__raw_response__free_unpacked(raw, NULL);
    tu_call_fini(&c);
    CU_ASSERT_EQUAL(fetch_error("r", 0, -5, -1), ST_ERR_OFFSET_OUT_OF_RANGE);
    /* negative request-level sizes: envelope INVALID_REQUEST, no crash */
    int32_t part = 0;
    tu_call_init(&c, 2, -1);
    fetch_req(&c, "r", &part, 1, 0, 0, -1, 0, 0, -1);
    Strata__Response *r = tu_call_response(&c);
    CU_ASSERT_EQUAL(r->error, ST_ERR_INVALID_REQUEST);
    strata__response__free_unpacked(r, NULL);
    tu_call_fini(&c);
    tu_call_init(&c, 3, -1);
    fetch_req(&c, "r", &part, 1, 0, -7, 0, 0, 0, -1);
    raw = raw_response(&c);
    CU_ASSERT_EQUAL(raw->fetch->topics[0]->partitions[0]->error, ST_ERR_INVALID_REQUEST);
    strata__raw__raw_response__free_unpacked(raw, NULL);
    tu_call_fini(&c);
    st_buf_free(&f);
    st_buf_free(&w);
}

static void test_fenced_epochs(void)
{
    host_leader("e", 0, 5);
    CU_ASSERT_EQUAL(fetch_error("e", 0, 0, 4), ST_ERR_FENCED_LEADER_EPOCH);
    CU_ASSERT_EQUAL(fetch_error("e", 0, 0, 6), ST_ERR_UNKNOWN_LEADER_EPOCH);
    CU_ASSERT_EQUAL(fetch_error("e", 0, 0, 5), 0);
    CU_ASSERT_EQUAL(fetch_error("e", 0, 0, -1), 0);
    /* a stale state does not roll the epoch back */
    host_leader("e", 0, 4);
    CU_ASSERT_EQUAL(fetch_error("e", 0, 0, 5), 0);
    host_leader("e", 0, 6);
    CU_ASSERT_EQUAL(fetch_error("e", 0, 0, 5), ST_ERR_FENCED_LEADER_EPOCH);
}

static Strata__ListOffsetsPartitionResult *list_offsets(br_call_t *c, Strata__Response **rout,
                                                        const char *topic, int64_t ts)
{
    Strata__ListOffsetsPartition lp = STRATA__LIST_OFFSETS_PARTITION__INIT;
    lp.partition = 0;
    lp.timestamp = ts;
    lp.current_leader_epoch = -1;
    Strata__ListOffsetsPartition *lpp = &lp;
    Strata__ListOffsetsTopic lt = STRATA__LIST_OFFSETS_TOPIC__INIT;
    lt.name = (char *)topic;
    lt.n_partitions = 1;
    lt.partitions = &lpp;
    Strata__ListOffsetsTopic *ltp = &lt;
    Strata__ListOffsetsRequest req = STRATA__LIST_OFFSETS_REQUEST__INIT;
    req.n_topics = 1;
    req.topics = &ltp;
    tu_call_init(c, 5, -1);
    br_pm_handle_list_offsets(g_pm, c, &req);
    Strata__Response *r = tu_call_response(c);
    *rout = r;
    CU_ASSERT_FATAL(r->body_case == STRATA__RESPONSE__BODY_LIST_OFFSETS);
    CU_ASSERT_FATAL(r->list_offsets->n_topics == 1 && r->list_offsets->topics[0]->n_partitions == 1);
    return r->list_offsets->topics[0]->partitions[0];
}

static void test_list_offsets(void)
{
    host_leader("lo", 0, 2);
    int64_t t0 = now_ms() - 10000;
    st_buf_t f[3], w[3];
    for (int i = 0; i < 3; i++) {
        make_batch(4, t0 + i * 1000, 10, &f[i], &w[i]); /* offsets 4i..4i+3 */
        CU_ASSERT_EQUAL(produce_one("lo", 0, &w[i], NULL, NULL, 0), 0);
    }
    br_call_t c;
    Strata__Response *r;
    Strata__ListOffsetsPartitionResult *p = list_offsets(&c, &r, "lo", -2);
    CU_ASSERT_EQUAL(p->error, 0);
    CU_ASSERT_EQUAL(p->offset, 0);
    CU_ASSERT_EQUAL(p->leader_epoch, 2);
    strata__response__free_unpacked(r, NULL);
    tu_call_fini(&c);
    p = list_offsets(&c, &r, "lo", -1);
    CU_ASSERT_EQUAL(p->offset, 12);
    strata__response__free_unpacked(r, NULL);
    tu_call_fini(&c);
    p = list_offsets(&c, &r, "lo", t0 + 1000);
    CU_ASSERT_EQUAL(p->error, 0);
    CU_ASSERT_EQUAL(p->offset, 4);
    CU_ASSERT_EQUAL(p->timestamp, t0 + 1000);
    strata__response__free_unpacked(r, NULL);
    tu_call_fini(&c);
    p = list_offsets(&c, &r, "lo", t0 + 1002); /* inside the second batch */
    CU_ASSERT_EQUAL(p->offset, 6);
    CU_ASSERT_EQUAL(p->timestamp, t0 + 1002);
    strata__response__free_unpacked(r, NULL);
    tu_call_fini(&c);
    p = list_offsets(&c, &r, "lo", t0 + 100000);
    CU_ASSERT_EQUAL(p->error, 0);
    CU_ASSERT_EQUAL(p->offset, -1);
    CU_ASSERT_EQUAL(p->timestamp, -1);
    strata__response__free_unpacked(r, NULL);
    tu_call_fini(&c);
    p = list_offsets(&c, &r, "gone", -1);
    CU_ASSERT_EQUAL(p->error, ST_ERR_UNKNOWN_TOPIC_OR_PARTITION);
    strata__response__free_unpacked(r, NULL);
    tu_call_fini(&c);
    bufs_free(f, 3);
    bufs_free(w, 3);
}

static void test_long_poll_produce(void)
{
    host_leader("lp", 0, 0);
    host_leader("lp", 1, 0);
    br_call_t c;
    tu_call_init(&c, 77, -1);
    int32_t parts[] = {0, 1};
    fetch_req(&c, "lp", parts, 2, 0, 0, 0, 1, 5000, -1);
    ev_run(g_loop, EVRUN_NOWAIT);
    CU_ASSERT_EQUAL(c.replies, 0); /* nothing yet: pending */
    st_buf_t f, w;
    make_batch(3, now_ms(), 10, &f, &w);
    CU_ASSERT_EQUAL(produce_one("lp", 1, &w, NULL, NULL, 0), 0);
    ev_run(g_loop, EVRUN_NOWAIT);
    CU_ASSERT_EQUAL_FATAL(c.replies, 1);
    Strata__Raw__RawResponse *raw = raw_response(&c);
    CU_ASSERT_FATAL(raw->fetch->topics[0]->n_partitions == 2);
    CU_ASSERT_STRING_EQUAL(raw->fetch->topics[0]->name, "lp");
    CU_ASSERT_EQUAL(raw->fetch->topics[0]->partitions[0]->n_batches, 0);
    CU_ASSERT_EQUAL(raw->fetch->topics[0]->partitions[1]->n_batches, 1);
    CU_ASSERT_EQUAL(raw->fetch->topics[0]->partitions[1]->high_watermark, 3);
    strata__raw__raw_response__free_unpacked(raw, NULL);
    tu_call_fini(&c);

    /* min_bytes larger than one batch: the first append is not enough */
    tu_call_init(&c, 78, -1);
    fetch_req(&c, "lp", parts, 1, 0, 0, 0, (int32_t)(f.len * 2 + 10), 5000, -1);
    CU_ASSERT_EQUAL(c.replies, 0);
    CU_ASSERT_EQUAL(produce_one("lp", 0, &w, NULL, NULL, 0), 0);
    CU_ASSERT_EQUAL(c.replies, 0);
    CU_ASSERT_EQUAL(produce_one("lp", 0, &w, NULL, NULL, 0), 0);
    CU_ASSERT_EQUAL(c.replies, 0);
    CU_ASSERT_EQUAL(produce_one("lp", 0, &w, NULL, NULL, 0), 0);
    CU_ASSERT_EQUAL_FATAL(c.replies, 1);
    raw = raw_response(&c);
    CU_ASSERT_EQUAL(raw->fetch->topics[0]->partitions[0]->n_batches, 3);
    strata__raw__raw_response__free_unpacked(raw, NULL);
    tu_call_fini(&c);

    /* a pending fetch is answered when its partition goes away ... */
    tu_call_init(&c, 79, -1);
    fetch_req(&c, "lp", parts, 1, 9, 0, 0, 1, 5000, -1);
    CU_ASSERT_EQUAL(c.replies, 0);
    br_pm_stop(g_pm, "lp", 0, false);
    raw = raw_response(&c);
    CU_ASSERT_EQUAL(raw->fetch->topics[0]->partitions[0]->error, ST_ERR_UNKNOWN_TOPIC_OR_PARTITION);
    strata__raw__raw_response__free_unpacked(raw, NULL);
    tu_call_fini(&c);

    /* ... and when the manager closes */
    tu_call_init(&c, 80, -1);
    fetch_req(&c, "lp", parts + 1, 1, 3, 0, 0, 1, 5000, -1);
    CU_ASSERT_EQUAL(c.replies, 0);
    fixture_close();
    CU_ASSERT_EQUAL(c.replies, 1);
    tu_call_fini(&c);
    fixture_open();
    st_buf_free(&f);
    st_buf_free(&w);
}

static void test_long_poll_timeout(void)
{
    host_leader("lt", 0, 0);
    br_call_t c;
    tu_call_init(&c, 5, -1);
    int32_t part = 0;
    fetch_req(&c, "lt", &part, 1, 0, 0, 0, 1, 20, -1);
    CU_ASSERT_EQUAL(c.replies, 0);
    /* bounded: the 20 ms timer fires well within 5 s */
    int64_t deadline = now_ms() + 5000;
    while (c.replies == 0 && now_ms() < deadline)
        ev_run(g_loop, EVRUN_ONCE);
    CU_ASSERT_EQUAL_FATAL(c.replies, 1);
    Strata__Raw__RawResponse *raw = raw_response(&c);
    CU_ASSERT_EQUAL(raw->fetch->topics[0]->partitions[0]->error, 0);
    CU_ASSERT_EQUAL(raw->fetch->topics[0]->partitions[0]->n_batches, 0);
    strata__raw__raw_response__free_unpacked(raw, NULL);
    tu_call_fini(&c);
}

/* acks=all waits for the ISR: a follower's fetch moves the HW. */
static void test_acks_all(void)
{
    int32_t isr[] = {1, 2};
    host("aa", 0, 1, 1, isr, 2);
    st_buf_t f, w;
    make_batch(2, now_ms(), 10, &f, &w);
    br_call_t c;
    tu_call_init(&c, 11, -1);
    produce(&c, "aa", 0, &w, 1, -1, 5000);
    CU_ASSERT_EQUAL(c.replies, 0);
    /* clients do not see the record above the HW */
    br_call_t fc;
    tu_call_init(&fc, 12, -1);
    fetch(&fc, "aa", 0, 0, -1);
    Strata__Raw__RawResponse *raw = raw_response(&fc);
    CU_ASSERT_EQUAL(raw->fetch->topics[0]->partitions[0]->n_batches, 0);
    CU_ASSERT_EQUAL(raw->fetch->topics[0]->partitions[0]->high_watermark, 0);
    strata__raw__raw_response__free_unpacked(raw, NULL);
    tu_call_fini(&fc);
    /* the follower (replica 2) reads it from the log end ... */
    tu_call_init(&fc, 13, 2);
    fetch(&fc, "aa", 0, 0, -1);
    raw = raw_response(&fc);
    CU_ASSERT_EQUAL(raw->fetch->topics[0]->partitions[0]->n_batches, 1);
    strata__raw__raw_response__free_unpacked(raw, NULL);
    tu_call_fini(&fc);
    CU_ASSERT_EQUAL(c.replies, 0);
    /* ... and its next fetch at 2 acknowledges it */
    tu_call_init(&fc, 14, 2);
    fetch(&fc, "aa", 0, 2, -1);
    tu_call_fini(&fc);
    CU_ASSERT_EQUAL_FATAL(c.replies, 1);
    Strata__Response *r = tu_call_response(&c);
    CU_ASSERT_EQUAL(r->produce->topics[0]->partitions[0]->error, 0);
    CU_ASSERT_EQUAL(r->produce->topics[0]->partitions[0]->base_offset, 0);
    strata__response__free_unpacked(r, NULL);
    tu_call_fini(&c);

    /* no follower progress: REQUEST_TIMED_OUT at timeout_ms */
    tu_call_init(&c, 15, -1);
    produce(&c, "aa", 0, &w, 1, -1, 20);
    CU_ASSERT_EQUAL(c.replies, 0);
    int64_t deadline = now_ms() + 5000;
    while (c.replies == 0 && now_ms() < deadline)
        ev_run(g_loop, EVRUN_ONCE);
    r = tu_call_response(&c);
    CU_ASSERT_EQUAL(r->produce->topics[0]->partitions[0]->error, ST_ERR_REQUEST_TIMED_OUT);
    strata__response__free_unpacked(r, NULL);
    tu_call_fini(&c);

    /* leadership lost while waiting: NOT_LEADER_OR_FOLLOWER */
    tu_call_init(&c, 16, -1);
    produce(&c, "aa", 0, &w, 1, -1, 5000);
    CU_ASSERT_EQUAL(c.replies, 0);
    host("aa", 0, 2, 2, isr, 2);
    r = tu_call_response(&c);
    CU_ASSERT_EQUAL(r->produce->topics[0]->partitions[0]->error, ST_ERR_NOT_LEADER_OR_FOLLOWER);
    strata__response__free_unpacked(r, NULL);
    tu_call_fini(&c);
    st_buf_free(&f);
    st_buf_free(&w);
}

static void test_min_insync(void)
{
    g_limits.min_insync_replicas = 2;
    fixture_close();
    fixture_open();
    host_leader("mi", 0, 0);
    st_buf_t f, w;
    make_batch(1, now_ms(), 10, &f, &w);
    br_call_t c;
    tu_call_init(&c, 1, -1);
    produce(&c, "mi", 0, &w, 1, -1, 1000);
    Strata__Response *r = tu_call_response(&c);
    CU_ASSERT_EQUAL(r->produce->topics[0]->partitions[0]->error, ST_ERR_NOT_ENOUGH_REPLICAS);
    strata__response__free_unpacked(r, NULL);
    tu_call_fini(&c);
    CU_ASSERT_EQUAL(produce_one("mi", 0, &w, NULL, NULL, 0), 0); /* acks=1 is fine */
    st_buf_free(&f);
    st_buf_free(&w);
}

/* Topic-level overrides carried by the partition state. */
static void test_topic_overrides(void)
{
    int32_t replicas[] = {1, 2}, isr[] = {1};
    br_part_state_t st = {
        .leader = 1,
        .leader_epoch = 0,
        .replicas = replicas,
        .n_replicas = 2,
        .isr = isr,
        .n_isr = 1,
        .min_insync_replicas = 2,
        .timestamp_difference_max_ms = 60000,
    };
    CU_ASSERT_FATAL(br_pm_apply_state(g_pm, "ov", 0, &st, &g_cfg) == ST_OK);
    st_buf_t f, w;
    make_batch(1, now_ms() - 3600 * 1000, 10, &f, &w);
    CU_ASSERT_EQUAL(produce_one("ov", 0, &w, NULL, NULL, 0), ST_ERR_INVALID_TIMESTAMP);
    br_call_t c;
    tu_call_init(&c, 1, -1);
    produce(&c, "ov", 0, &w, 1, -1, 1000);
    Strata__Response *r = tu_call_response(&c);
    CU_ASSERT_EQUAL(r->produce->topics[0]->partitions[0]->error, ST_ERR_NOT_ENOUGH_REPLICAS);
    strata__response__free_unpacked(r, NULL);
    tu_call_fini(&c);
    st_buf_free(&f);
    st_buf_free(&w);
}

/* Logs survive a restart of the manager and are found in their dir. */
static void test_restart(void)
{
    host_leader("rs", 0, 0);
    st_buf_t f, w;
    make_batch(3, now_ms(), 10, &f, &w);
    CU_ASSERT_EQUAL(produce_one("rs", 0, &w, NULL, NULL, 0), 0);
    /* the periodic checkpoint records the high watermark */
    CU_ASSERT_EQUAL(sl_logdir_get_hw(g_ld, "rs", 0), -1);
    br_pm_tick(g_pm, now_ms() + 10000);
    CU_ASSERT_EQUAL(sl_logdir_get_hw(g_ld, "rs", 0), 3);
    fixture_close();
    fixture_open();
    CU_ASSERT_EQUAL(sl_logdir_get_hw(g_ld, "rs", 0), 3);
    host_leader("rs", 0, 1);
    int64_t base = -1;
    CU_ASSERT_EQUAL(produce_one("rs", 0, &w, &base, NULL, 0), 0);
    CU_ASSERT_EQUAL(base, 3);
    st_buf_free(&f);
    st_buf_free(&w);
}

/* ------------------------------------------------------------ replication */

/* A second manager, broker 2, in its own directory: the follower. */
typedef struct peer {
    char *dir;
    sl_logdir_t *ld;
    br_pm_t *pm;
} peer_t;

static void peer_open(peer_t *p, int32_t id)
{
    p->dir = tu_tmpdir("test_partition_peer");
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

/* Run fn against pm instead of g_pm. */
#define WITH_PM(pm_, stmt)                                                                                   \
    do {                                                                                                     \
        br_pm_t *saved_ = g_pm;                                                                              \
        g_pm = (pm_);                                                                                        \
        stmt;                                                                                                \
        g_pm = saved_;                                                                                       \
    } while (0)

static void produce_n(const char *topic, int n)
{
    for (int i = 0; i < n; i++) {
        st_buf_t f, w;
        make_batch(1 + i, now_ms(), 10, &f, &w);
        CU_ASSERT_EQUAL(produce_one(topic, 0, &w, NULL, NULL, 0), 0);
        st_buf_free(&f);
        st_buf_free(&w);
    }
}

static br_part_t *part_of(br_pm_t *pm, const char *topic)
{
    br_part_t *p = br_pm_find(pm, topic, 0);
    CU_ASSERT_FATAL(p != NULL);
    return p;
}

/* One follower request from fpm to the leader lpm, carried by hand:
 * returns the request's body case, or -1 when there was nothing to ask. */
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
    CU_ASSERT_EQUAL(req->replica_id, 2);
    int kind = (int)req->body_case;
    br_call_t c;
    tu_call_init(&c, req->correlation_id, req->replica_id);
    if (req->body_case == STRATA__REQUEST__BODY_FETCH) {
        CU_ASSERT(req->fetch->max_wait_ms > 0);
        br_pm_handle_fetch(lpm, &c, req->fetch);
    } else {
        CU_ASSERT_FATAL(req->body_case == STRATA__REQUEST__BODY_OFFSET_FOR_LEADER_EPOCH);
        br_pm_handle_offset_for_leader_epoch(lpm, &c, req->offset_for_leader_epoch);
    }
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

/* Leader side of OffsetForLeaderEpoch. */
static void test_offset_for_leader_epoch(void)
{
    host_leader("oe", 0, 1);
    produce_n("oe", 2); /* offsets 0, 1-2 in epoch 1 */
    host_leader("oe", 0, 3);
    produce_n("oe", 1); /* offset 3 in epoch 3 */
    int32_t asks[] = {1, 2, 3, 0, 3, 3};
    int32_t cur[] = {-1, 3, 3, -1, 2, 4};
    int32_t want_epoch[] = {1, 1, 3, -1, -1, -1};
    int64_t want_end[] = {3, 3, 4, -1, -1, -1};
    int want_err[] = {0, 0, 0, 0, ST_ERR_FENCED_LEADER_EPOCH, ST_ERR_UNKNOWN_LEADER_EPOCH};
    for (size_t i = 0; i < 6; i++) {
        Strata__EpochPartition ep = STRATA__EPOCH_PARTITION__INIT;
        ep.partition = 0;
        ep.current_leader_epoch = cur[i];
        ep.leader_epoch = asks[i];
        Strata__EpochPartition *epp = &ep;
        Strata__EpochTopic et = STRATA__EPOCH_TOPIC__INIT;
        et.name = (char *)"oe";
        et.n_partitions = 1;
        et.partitions = &epp;
        Strata__EpochTopic *etp = &et;
        Strata__OffsetForLeaderEpochRequest req = STRATA__OFFSET_FOR_LEADER_EPOCH_REQUEST__INIT;
        req.n_topics = 1;
        req.topics = &etp;
        br_call_t c;
        tu_call_init(&c, 40 + i, 2);
        br_pm_handle_offset_for_leader_epoch(g_pm, &c, &req);
        Strata__Response *r = tu_call_response(&c);
        CU_ASSERT_FATAL(r->body_case == STRATA__RESPONSE__BODY_OFFSET_FOR_LEADER_EPOCH);
        Strata__EpochPartitionResult *res = r->offset_for_leader_epoch->topics[0]->partitions[0];
        CU_ASSERT_EQUAL(res->error, want_err[i]);
        CU_ASSERT_EQUAL(res->leader_epoch, want_epoch[i]);
        CU_ASSERT_EQUAL(res->end_offset, want_end[i]);
        strata__response__free_unpacked(r, NULL);
        tu_call_fini(&c);
    }
    /* a follower refuses */
    int32_t isr[] = {1, 2};
    host("oe", 0, 2, 4, isr, 2);
    Strata__EpochPartition ep = STRATA__EPOCH_PARTITION__INIT;
    ep.leader_epoch = 3;
    ep.current_leader_epoch = -1;
    Strata__EpochPartition *epp = &ep;
    Strata__EpochTopic et = STRATA__EPOCH_TOPIC__INIT;
    et.name = (char *)"oe";
    et.n_partitions = 1;
    et.partitions = &epp;
    Strata__EpochTopic *etp = &et;
    Strata__OffsetForLeaderEpochRequest req = STRATA__OFFSET_FOR_LEADER_EPOCH_REQUEST__INIT;
    req.n_topics = 1;
    req.topics = &etp;
    br_call_t c;
    tu_call_init(&c, 50, 3);
    br_pm_handle_offset_for_leader_epoch(g_pm, &c, &req);
    Strata__Response *r = tu_call_response(&c);
    CU_ASSERT_EQUAL(r->offset_for_leader_epoch->topics[0]->partitions[0]->error,
                    ST_ERR_NOT_LEADER_OR_FOLLOWER);
    strata__response__free_unpacked(r, NULL);
    tu_call_fini(&c);
}

/* The byte content of a log from offset `from`. */
static void log_bytes(br_pm_t *pm, const char *topic, int64_t from, st_buf_t *out)
{
    st_buf_init(out);
    br_part_t *p = part_of(pm, topic);
    CU_ASSERT_FATAL(sl_log_read(p->log, from, 1 << 20, -1, out) == ST_OK);
}

/* A follower with a divergent suffix truncates it (KIP-101), copies the
 * leader, moves the leader's HW and completes an acks=all produce. */
static void test_follower_truncates_and_copies(void)
{
    peer_t b2;
    peer_open(&b2, 2);
    int32_t isr1[] = {1}, isr2[] = {2}, isr12[] = {1, 2};
    /* broker 2 led epoch 1 and wrote offsets 0..2 that nobody copied */
    WITH_PM(b2.pm, host("rt", 0, 2, 1, isr2, 1); produce_n("rt", 3));
    /* broker 1 has offset 0 of epoch 1, then leads epoch 2: offsets 1..2 */
    host("rt", 0, 1, 1, isr1, 1);
    produce_n("rt", 1);
    host("rt", 0, 1, 2, isr1, 1);
    produce_n("rt", 2);
    host("rt", 0, 1, 2, isr12, 2); /* broker 2 joins the ISR */
    WITH_PM(b2.pm, host("rt", 0, 1, 2, isr12, 2));
    br_part_t *f = part_of(b2.pm, "rt"), *l = part_of(g_pm, "rt");
    CU_ASSERT_EQUAL(f->role, BR_ROLE_FOLLOWER);
    CU_ASSERT_EQUAL(sl_log_end_offset(f->log), 6); /* 1 + 2 + 3 records */
    /* an acks=all produce waits for broker 2 */
    st_buf_t bf, bw;
    make_batch(2, now_ms(), 10, &bf, &bw);
    br_call_t pc;
    tu_call_init(&pc, 60, -1);
    produce(&pc, "rt", 0, &bw, 1, -1, 10000);
    CU_ASSERT_EQUAL(pc.replies, 0);
    int64_t leader_leo = sl_log_end_offset(l->log);
    CU_ASSERT_EQUAL(leader_leo, 1 + 1 + 2 + 2);

    /* 1: where does epoch 1 end? at 1 on the leader: cut back to 1 */
    CU_ASSERT_EQUAL(follow_step(b2.pm, 1, g_pm), STRATA__REQUEST__BODY_OFFSET_FOR_LEADER_EPOCH);
    CU_ASSERT_EQUAL(sl_log_end_offset(f->log), 1);
    /* 2: fetch at 1 copies the rest */
    CU_ASSERT_EQUAL(follow_step(b2.pm, 1, g_pm), STRATA__REQUEST__BODY_FETCH);
    CU_ASSERT_EQUAL(sl_log_end_offset(f->log), leader_leo);
    CU_ASSERT_EQUAL(l->hw, 4); /* broker 2 at 1: the HW (4, from the ISR {1} days) holds */
    CU_ASSERT_EQUAL(br_part_replica(l, 2)->leo, 1);
    CU_ASSERT_EQUAL(pc.replies, 0);
    /* 3: fetch at the end: the leader's HW reaches it, acks=all answers */
    CU_ASSERT_EQUAL(follow_step(b2.pm, 1, g_pm), STRATA__REQUEST__BODY_FETCH);
    CU_ASSERT_EQUAL(l->hw, leader_leo);
    CU_ASSERT_EQUAL_FATAL(pc.replies, 1);
    Strata__Response *r = tu_call_response(&pc);
    CU_ASSERT_EQUAL(r->produce->topics[0]->partitions[0]->error, 0);
    CU_ASSERT_EQUAL(r->produce->topics[0]->partitions[0]->base_offset, 4);
    strata__response__free_unpacked(r, NULL);
    tu_call_fini(&pc);
    CU_ASSERT_EQUAL(f->hw, leader_leo); /* the answer carried the HW */
    /* same bytes, same epochs from offset 1 (offset 0 of epoch 1 was
     * written by both "leaders of epoch 1" of this made-up history) */
    st_buf_t a, b;
    log_bytes(g_pm, "rt", 1, &a);
    log_bytes(b2.pm, "rt", 1, &b);
    CU_ASSERT(a.len > 0);
    CU_ASSERT_EQUAL(a.len, b.len);
    CU_ASSERT(a.len == b.len && memcmp(a.data, b.data, a.len) == 0);
    int32_t e;
    int64_t end;
    sl_log_end_offset_for_epoch(f->log, 1, &e, &end);
    CU_ASSERT_EQUAL(e, 1);
    CU_ASSERT_EQUAL(end, 1);
    st_buf_free(&a);
    st_buf_free(&b);
    st_buf_free(&bf);
    st_buf_free(&bw);

    /* a new leader epoch restarts with the epoch check, which finds
     * nothing to cut */
    host("rt", 0, 1, 3, isr12, 2);
    WITH_PM(b2.pm, host("rt", 0, 1, 3, isr12, 2));
    CU_ASSERT_EQUAL(follow_step(b2.pm, 1, g_pm), STRATA__REQUEST__BODY_OFFSET_FOR_LEADER_EPOCH);
    CU_ASSERT_EQUAL(sl_log_end_offset(f->log), leader_leo);
    /* a stale leader: the follower backs off instead of fetching */
    WITH_PM(b2.pm, host("rt", 0, 1, 4, isr12, 2));
    CU_ASSERT_EQUAL(follow_step(b2.pm, 1, g_pm), STRATA__REQUEST__BODY_OFFSET_FOR_LEADER_EPOCH);
    CU_ASSERT_EQUAL(follow_step(b2.pm, 1, g_pm), -1);
    CU_ASSERT_EQUAL(sl_log_end_offset(f->log), leader_leo);
    peer_close(&b2);
}

/* KIP-279: the leader answers an older epoch the follower lacks; the
 * follower cuts to its own end of the epoch below it, asks again, and
 * ends at the smaller of the two ends of the common epoch, keeping
 * nothing of its divergent later epoch. */
static void test_follower_epoch_follow_up(void)
{
    peer_t b2;
    peer_open(&b2, 2);
    int32_t isr1[] = {1}, isr2[] = {2}, isr12[] = {1, 2};
    /* broker 2: epoch 1 at 0..9, then it led epoch 3 at 10..12 */
    WITH_PM(b2.pm, host("fu", 0, 2, 1, isr2, 1); produce_n("fu", 4));
    WITH_PM(b2.pm, host("fu", 0, 2, 3, isr2, 1); produce_n("fu", 2));
    /* broker 1: epoch 1 at 0..11, epoch 2 at 12..14, now leads epoch 4 */
    host("fu", 0, 1, 1, isr1, 1);
    produce_n("fu", 4);
    produce_n("fu", 1);
    produce_n("fu", 1);
    host("fu", 0, 1, 2, isr1, 1);
    produce_n("fu", 2);
    host("fu", 0, 1, 4, isr12, 2);
    WITH_PM(b2.pm, host("fu", 0, 1, 4, isr12, 2));
    br_part_t *f = part_of(b2.pm, "fu"), *l = part_of(g_pm, "fu");
    CU_ASSERT_EQUAL_FATAL(sl_log_end_offset(f->log), 13);
    CU_ASSERT_EQUAL_FATAL(sl_log_end_offset(l->log), 15);
    /* epoch 3? the leader knows epoch 2, ending at 15, which broker 2
     * lacks: cut to its end of epoch 1 (10) and ask about epoch 1 */
    CU_ASSERT_EQUAL(follow_step(b2.pm, 1, g_pm), STRATA__REQUEST__BODY_OFFSET_FOR_LEADER_EPOCH);
    CU_ASSERT_EQUAL(sl_log_end_offset(f->log), 10);
    /* epoch 1 ends at 12 on the leader, at 10 here: 10 */
    CU_ASSERT_EQUAL(follow_step(b2.pm, 1, g_pm), STRATA__REQUEST__BODY_OFFSET_FOR_LEADER_EPOCH);
    CU_ASSERT_EQUAL(sl_log_end_offset(f->log), 10);
    CU_ASSERT_EQUAL(follow_step(b2.pm, 1, g_pm), STRATA__REQUEST__BODY_FETCH);
    CU_ASSERT_EQUAL(sl_log_end_offset(f->log), 15);
    st_buf_t a, b;
    log_bytes(g_pm, "fu", 10, &a);
    log_bytes(b2.pm, "fu", 10, &b);
    CU_ASSERT(a.len > 0 && a.len == b.len && memcmp(a.data, b.data, a.len) == 0);
    st_buf_free(&a);
    st_buf_free(&b);
    int32_t e;
    int64_t end;
    sl_log_end_offset_for_epoch(f->log, 1, &e, &end);
    CU_ASSERT_EQUAL(e, 1);
    CU_ASSERT_EQUAL(end, 12);
    sl_log_end_offset_for_epoch(f->log, 3, &e, &end);
    CU_ASSERT_EQUAL(e, 2);
    CU_ASSERT_EQUAL(end, 15);
    peer_close(&b2);
}

/* Host "tid" led by broker 1 alone at epoch, under topic id id. */
static void host_with_id(int32_t epoch, const char *id)
{
    int32_t replicas[] = {1};
    br_part_state_t st = {
        .leader = 1,
        .leader_epoch = epoch,
        .controller_epoch = 1,
        .replicas = replicas,
        .n_replicas = 1,
        .isr = replicas,
        .n_isr = 1,
        .topic_id = id,
    };
    CU_ASSERT_FATAL(br_pm_apply_state(g_pm, "tid", 0, &st, &g_cfg) == ST_OK);
}

/* KIP-516: a replica kept from a topic deleted and re-created while this
 * broker did not see it is dropped when the new topic's id arrives, even
 * at a lower leader epoch; the same id keeps it, across a restart too. */
static void test_topic_id_recreated(void)
{
    host_with_id(5, "AAAAAAAAAAAAAAAAAAAAAA");
    produce_n("tid", 3);
    br_part_t *p = part_of(g_pm, "tid");
    CU_ASSERT_EQUAL(br_part_leo(p), 6);
    char id[32];
    CU_ASSERT_EQUAL(sl_logdir_topic_id(g_ld, "tid", 0, id, sizeof id), ST_OK);
    CU_ASSERT_STRING_EQUAL(id, "AAAAAAAAAAAAAAAAAAAAAA");
    /* same topic after a restart: data kept */
    fixture_close();
    fixture_open();
    host_with_id(6, "AAAAAAAAAAAAAAAAAAAAAA");
    CU_ASSERT_EQUAL(br_part_leo(part_of(g_pm, "tid")), 6);
    /* re-created topic, its first leader epoch: the old data goes */
    fixture_close();
    fixture_open();
    host_with_id(0, "BBBBBBBBBBBBBBBBBBBBBB");
    p = part_of(g_pm, "tid");
    CU_ASSERT_EQUAL(br_part_leo(p), 0);
    CU_ASSERT_EQUAL(p->leader_epoch, 0);
    CU_ASSERT_EQUAL(p->role, BR_ROLE_LEADER);
    CU_ASSERT_EQUAL(sl_logdir_topic_id(g_ld, "tid", 0, id, sizeof id), ST_OK);
    CU_ASSERT_STRING_EQUAL(id, "BBBBBBBBBBBBBBBBBBBBBB");
    produce_n("tid", 1);
    CU_ASSERT_EQUAL(br_part_leo(p), 1);
    /* while hosted, too */
    host_with_id(0, "CCCCCCCCCCCCCCCCCCCCCC");
    CU_ASSERT_EQUAL(br_part_leo(part_of(g_pm, "tid")), 0);
}

/* A follower behind the leader's log start restarts its log there. */
static void test_follower_behind_log_start(void)
{
    peer_t b2;
    peer_open(&b2, 2);
    int32_t isr1[] = {1}, isr12[] = {1, 2};
    host("ls", 0, 1, 1, isr1, 1);
    produce_n("ls", 3); /* 0, 1-2, 3-5 */
    br_part_t *l = part_of(g_pm, "ls");
    CU_ASSERT_FATAL(sl_log_set_start_offset(l->log, 3) == ST_OK);
    WITH_PM(b2.pm, host("ls", 0, 1, 1, isr12, 2));
    br_part_t *f = part_of(b2.pm, "ls");
    /* empty log: no epoch check, straight to fetching, out of range */
    CU_ASSERT_EQUAL(follow_step(b2.pm, 1, g_pm), STRATA__REQUEST__BODY_FETCH);
    CU_ASSERT_EQUAL(sl_log_start_offset(f->log), 3);
    CU_ASSERT_EQUAL(sl_log_end_offset(f->log), 3);
    CU_ASSERT_EQUAL(follow_step(b2.pm, 1, g_pm), STRATA__REQUEST__BODY_FETCH);
    CU_ASSERT_EQUAL(sl_log_end_offset(f->log), 6);
    peer_close(&b2);
}

/* Fetches from brokers that are not replicas are refused. */
static void test_not_a_replica(void)
{
    host_leader("nr", 0, 1);
    produce_n("nr", 1);
    br_call_t c;
    tu_call_init(&c, 70, 7);
    fetch(&c, "nr", 0, 0, -1);
    Strata__Raw__RawResponse *raw = raw_response(&c);
    CU_ASSERT_EQUAL(raw->fetch->topics[0]->partitions[0]->error, ST_ERR_NOT_LEADER_OR_FOLLOWER);
    CU_ASSERT_EQUAL(raw->fetch->topics[0]->partitions[0]->n_batches, 0);
    strata__raw__raw_response__free_unpacked(raw, NULL);
    tu_call_fini(&c);
}

static int g_isr_calls;
static int32_t g_isr[8];
static size_t g_n_isr;

static void isr_cb(void *arg, const char *topic, int32_t partition, int32_t epoch, const int32_t *isr,
                   size_t n)
{
    (void)arg;
    CU_ASSERT_STRING_EQUAL(topic, "is");
    CU_ASSERT_EQUAL(partition, 0);
    CU_ASSERT_EQUAL(epoch, 1);
    g_isr_calls++;
    g_n_isr = n < 8 ? n : 8;
    memcpy(g_isr, isr, g_n_isr * sizeof *isr);
}

static void replica_fetch(const char *topic, int32_t id, int64_t offset)
{
    br_call_t c;
    tu_call_init(&c, 80, id);
    fetch(&c, topic, 0, offset, -1);
    CU_ASSERT_EQUAL(c.replies, 1);
    tu_call_fini(&c);
}

/* ISR proposals: expand on catch-up, shrink after replica.lag.time.max.ms. */
static void test_isr_proposals(void)
{
    g_isr_calls = 0;
    br_pm_set_isr_change_fn(g_pm, isr_cb, NULL);
    int32_t isr12[] = {1, 2}, isr1[] = {1};
    host("is", 0, 1, 1, isr12, 2);
    produce_n("is", 1);
    /* replica 3 at offset 0 has reached the HW (0: replica 2 unknown) */
    replica_fetch("is", 3, 0);
    CU_ASSERT_EQUAL_FATAL(g_isr_calls, 1);
    CU_ASSERT_EQUAL(g_n_isr, 3);
    CU_ASSERT_EQUAL(g_isr[2], 3);
    /* the same proposal is not repeated at once */
    replica_fetch("is", 3, 0);
    CU_ASSERT_EQUAL(g_isr_calls, 1);
    /* nothing lags yet */
    br_pm_tick(g_pm, now_ms());
    CU_ASSERT_EQUAL(g_isr_calls, 1);
    /* a minute later replica 2 never caught up: ISR {1} */
    br_pm_tick(g_pm, now_ms() + 60000);
    CU_ASSERT_EQUAL_FATAL(g_isr_calls, 2);
    CU_ASSERT_EQUAL(g_n_isr, 1);
    CU_ASSERT_EQUAL(g_isr[0], 1);
    /* control applies it: the HW moves to the log end */
    host("is", 0, 1, 1, isr1, 1);
    CU_ASSERT_EQUAL(part_of(g_pm, "is")->hw, 1);
    /* replica 2 catches up: proposed back */
    replica_fetch("is", 2, 1);
    CU_ASSERT_EQUAL_FATAL(g_isr_calls, 3);
    CU_ASSERT_EQUAL(g_n_isr, 2);
    CU_ASSERT_EQUAL(g_isr[1], 2);
    br_pm_set_isr_change_fn(g_pm, NULL, NULL);
}

/* KIP-497: while an expansion is proposed, the HW is the minimum over
 * the ISR plus the replica being added, so the new ISR never commits
 * with a member below the HW. */
static void test_isr_expansion_bounds_hw(void)
{
    g_isr_calls = 0;
    br_pm_set_isr_change_fn(g_pm, isr_cb, NULL);
    int32_t isr12[] = {1, 2};
    host("is", 0, 1, 1, isr12, 2);
    br_part_t *l = part_of(g_pm, "is");
    produce_n("is", 1);
    int64_t leo1 = br_part_leo(l);
    replica_fetch("is", 2, leo1);
    CU_ASSERT_EQUAL(l->hw, leo1);
    /* replica 3 has caught up: expansion to {1,2,3} proposed */
    replica_fetch("is", 3, leo1);
    CU_ASSERT_EQUAL_FATAL(g_isr_calls, 1);
    CU_ASSERT_EQUAL(g_n_isr, 3);
    /* more records; replica 2 takes them, replica 3 does not yet */
    produce_n("is", 3);
    int64_t leo2 = br_part_leo(l);
    CU_ASSERT_FATAL(leo2 > leo1);
    replica_fetch("is", 2, leo2);
    CU_ASSERT_EQUAL(l->hw, leo1);
    /* replica 3 fetches them: the HW moves */
    replica_fetch("is", 3, leo2);
    CU_ASSERT_EQUAL(l->hw, leo2);
    /* a proposal never applied, whose replica stopped fetching, is
     * withdrawn after replica.lag.time.max.ms: the HW is free again */
    produce_n("is", 1);
    int64_t leo3 = br_part_leo(l);
    replica_fetch("is", 2, leo3);
    CU_ASSERT_EQUAL(l->hw, leo2);
    br_pm_tick(g_pm, now_ms() + 60000);
    CU_ASSERT_EQUAL(l->hw, leo3);
    br_pm_set_isr_change_fn(g_pm, NULL, NULL);
}

/* A proposal adding a replica that a reassignment then removes is never
 * applied: the new assignment drops it, and it does not hold the HW. */
static void test_isr_proposal_of_removed_replica(void)
{
    g_isr_calls = 0;
    br_pm_set_isr_change_fn(g_pm, isr_cb, NULL);
    int32_t isr12[] = {1, 2}, r12[] = {1, 2};
    host("is", 0, 1, 1, isr12, 2);
    br_part_t *l = part_of(g_pm, "is");
    produce_n("is", 1);
    int64_t leo1 = br_part_leo(l);
    replica_fetch("is", 2, leo1);
    replica_fetch("is", 3, leo1); /* caught up: expansion to {1,2,3} proposed */
    CU_ASSERT_EQUAL_FATAL(g_isr_calls, 1);
    br_part_state_t st = {.leader = 1,
                          .leader_epoch = 1,
                          .controller_epoch = 1,
                          .replicas = r12,
                          .n_replicas = 2,
                          .isr = isr12,
                          .n_isr = 2};
    CU_ASSERT_FATAL(br_pm_apply_state(g_pm, "is", 0, &st, &g_cfg) == ST_OK);
    produce_n("is", 2);
    int64_t leo2 = br_part_leo(l);
    replica_fetch("is", 2, leo2);
    CU_ASSERT_EQUAL(l->hw, leo2);
    br_pm_set_isr_change_fn(g_pm, NULL, NULL);
}

/* Retention never deletes above the HW, so it never moves the HW: an
 * acks=all produce whose records only the leader has stays parked. */
static void test_retention_below_hw(void)
{
    sl_log_config_t saved = g_cfg;
    g_cfg.segment_bytes = 200;
    g_cfg.retention_ms = 1;
    int32_t isr12[] = {1, 2};
    host("rh", 0, 1, 1, isr12, 2);
    br_part_t *l = part_of(g_pm, "rh");
    for (int i = 0; i < 4; i++)
        produce_n("rh", 2);
    CU_ASSERT_FATAL(sl_log_segment_count(l->log) > 3);
    int64_t leo = br_part_leo(l);
    replica_fetch("rh", 2, 3); /* replica 2 has offsets 0..2: HW 3 */
    CU_ASSERT_EQUAL(l->hw, 3);
    st_buf_t bf, bw;
    make_batch(2, now_ms(), 10, &bf, &bw);
    br_call_t pc;
    tu_call_init(&pc, 61, -1);
    produce(&pc, "rh", 0, &bw, 1, -1, 60000);
    CU_ASSERT_EQUAL(pc.replies, 0);
    /* an hour later every closed segment is past retention.ms */
    br_pm_tick(g_pm, now_ms() + 3600 * 1000);
    CU_ASSERT(sl_log_start_offset(l->log) <= 3);
    CU_ASSERT_EQUAL(l->hw, 3);
    CU_ASSERT_EQUAL(pc.replies, 0);
    CU_ASSERT_EQUAL(br_part_leo(l), leo + 2);
    /* replica 2 leaves the ISR: now it is acknowledged */
    int32_t isr1[] = {1};
    host("rh", 0, 1, 1, isr1, 1);
    CU_ASSERT_EQUAL(pc.replies, 1);
    tu_call_fini(&pc);
    st_buf_free(&bf);
    st_buf_free(&bw);
    g_cfg = saved;
}

/* ------------------------------------------------------------ KIP-392 */

/* One client fetch of partition 0 at offset with rack (NULL: none):
 * error, preferred_read_replica, batches and the next offset after them. */
static int rack_fetch(br_pm_t *pm, const char *topic, int64_t offset, const char *rack, int32_t *preferred,
                      size_t *n_batches)
{
    br_call_t c;
    tu_call_init(&c, 80, -1);
    g_rack_id = rack;
    WITH_PM(pm, fetch(&c, topic, 0, offset, -1));
    g_rack_id = NULL;
    Strata__Raw__RawResponse *raw = raw_response(&c);
    Strata__Raw__RawFetchPartitionResponse *p = raw->fetch->topics[0]->partitions[0];
    int err = p->error;
    if (preferred)
        *preferred = p->preferred_read_replica;
    if (n_batches)
        *n_batches = p->n_batches;
    strata__raw__raw_response__free_unpacked(raw, NULL);
    tu_call_fini(&c);
    return err;
}

/* The leader names an ISR follower in the client's rack, and still serves. */
static void test_preferred_read_replica(void)
{
    int32_t isr1[] = {1}, isr123[] = {1, 2, 3}, isr13[] = {1, 3};
    host("pr", 0, 1, 1, isr1, 1);
    produce_n("pr", 2); /* HW 3 */
    host("pr", 0, 1, 1, isr123, 3);
    br_pm_set_broker_rack(g_pm, 1, "r1");
    br_pm_set_broker_rack(g_pm, 2, "r2");
    br_pm_set_broker_rack(g_pm, 3, "r3");
    int32_t pref = 99;
    size_t nb = 0;
    CU_ASSERT_EQUAL(rack_fetch(g_pm, "pr", 0, "r2", &pref, &nb), 0);
    CU_ASSERT_EQUAL(pref, 2);
    CU_ASSERT_EQUAL(nb, 2); /* served this time too */
    CU_ASSERT_EQUAL(rack_fetch(g_pm, "pr", 0, "r3", &pref, NULL), 0);
    CU_ASSERT_EQUAL(pref, 3);
    CU_ASSERT_EQUAL(rack_fetch(g_pm, "pr", 0, "r1", &pref, NULL), 0); /* the leader's own rack */
    CU_ASSERT_EQUAL(pref, -1);
    CU_ASSERT_EQUAL(rack_fetch(g_pm, "pr", 0, "r9", &pref, NULL), 0); /* nobody there */
    CU_ASSERT_EQUAL(pref, -1);
    CU_ASSERT_EQUAL(rack_fetch(g_pm, "pr", 0, NULL, &pref, NULL), 0); /* old client */
    CU_ASSERT_EQUAL(pref, -1);
    /* only in-sync followers */
    host("pr", 0, 1, 1, isr13, 2);
    CU_ASSERT_EQUAL(rack_fetch(g_pm, "pr", 0, "r2", &pref, NULL), 0);
    CU_ASSERT_EQUAL(pref, -1);
    br_part_t *part = part_of(g_pm, "pr");
    CU_ASSERT_EQUAL(br_part_preferred_read_replica(g_pm, part, "r3"), 3);
    br_pm_set_broker_rack(g_pm, 3, NULL); /* forgotten */
    CU_ASSERT_EQUAL(br_part_preferred_read_replica(g_pm, part, "r3"), -1);
    CU_ASSERT_PTR_NULL(br_pm_broker_rack(g_pm, 3));
}

/* A follower serves a client with a rack below its own high watermark. */
static void test_follower_serves_client(void)
{
    peer_t b2;
    peer_open(&b2, 2);
    int32_t isr1[] = {1}, isr12[] = {1, 2};
    host("fs", 0, 1, 1, isr1, 1);
    produce_n("fs", 3); /* 0, 1-2, 3-5 */
    host("fs", 0, 1, 1, isr12, 2);
    WITH_PM(b2.pm, host("fs", 0, 1, 1, isr12, 2));
    CU_ASSERT_EQUAL(follow_step(b2.pm, 1, g_pm), STRATA__REQUEST__BODY_FETCH);
    br_part_t *f = part_of(b2.pm, "fs");
    CU_ASSERT_EQUAL(sl_log_end_offset(f->log), 6);
    CU_ASSERT_EQUAL(f->hw, 6);
    produce_n("fs", 1); /* 6 on the leader; its HW stays 6 until broker 2 fetches at 7 */
    CU_ASSERT_EQUAL(follow_step(b2.pm, 1, g_pm), STRATA__REQUEST__BODY_FETCH);
    CU_ASSERT_EQUAL(sl_log_end_offset(f->log), 7);
    CU_ASSERT_EQUAL(f->hw, 6);
    size_t nb = 0;
    int32_t pref = 99;
    /* without a rack: refused as before */
    CU_ASSERT_EQUAL(rack_fetch(b2.pm, "fs", 0, NULL, NULL, NULL), ST_ERR_NOT_LEADER_OR_FOLLOWER);
    /* with one: the batches below its HW, not the one above */
    CU_ASSERT_EQUAL(rack_fetch(b2.pm, "fs", 0, "r2", &pref, &nb), 0);
    CU_ASSERT_EQUAL(nb, 3);
    CU_ASSERT_EQUAL(pref, -1);
    CU_ASSERT_EQUAL(rack_fetch(b2.pm, "fs", 6, "r2", NULL, &nb), 0);
    CU_ASSERT_EQUAL(nb, 0);
    /* beyond its HW: out of range, the client goes back to the leader */
    CU_ASSERT_EQUAL(rack_fetch(b2.pm, "fs", 7, "r2", NULL, NULL), ST_ERR_OFFSET_OUT_OF_RANGE);

    /* a long poll at its HW parks there, and the follower's next fetch,
     * which brings a higher HW from the leader, answers it (not the
     * 5 s deadline) */
    br_call_t c;
    tu_call_init(&c, 81, -1);
    int32_t p0 = 0;
    g_rack_id = "r2";
    WITH_PM(b2.pm, fetch_req(&c, "fs", &p0, 1, 6, 0, 0, 1, 5000, -1));
    g_rack_id = NULL;
    CU_ASSERT_EQUAL(c.replies, 0);
    CU_ASSERT_EQUAL(follow_step(b2.pm, 1, g_pm), STRATA__REQUEST__BODY_FETCH); /* leader HW -> 7 */
    CU_ASSERT_EQUAL(follow_step(b2.pm, 1, g_pm), STRATA__REQUEST__BODY_FETCH); /* brings it here */
    CU_ASSERT_EQUAL(f->hw, 7);
    CU_ASSERT_EQUAL_FATAL(c.replies, 1);
    Strata__Raw__RawResponse *raw = raw_response(&c);
    CU_ASSERT_EQUAL(raw->fetch->topics[0]->partitions[0]->error, 0);
    CU_ASSERT_EQUAL(raw->fetch->topics[0]->partitions[0]->n_batches, 1);
    CU_ASSERT_EQUAL(raw->fetch->topics[0]->partitions[0]->high_watermark, 7);
    strata__raw__raw_response__free_unpacked(raw, NULL);
    tu_call_fini(&c);
    peer_close(&b2);
}

static CU_TestInfo tests[] = {
    {"produce -> fetch round trip", test_round_trip},
    {"fetch max_bytes", test_max_bytes},
    {"not leader, unknown partition", test_not_leader_unknown},
    {"invalid acks, acks=0", test_invalid_acks},
    {"message too large", test_too_large},
    {"corrupt batch", test_corrupt},
    {"invalid timestamp", test_invalid_timestamp},
    {"offset out of range, negative sizes", test_out_of_range},
    {"fenced epochs", test_fenced_epochs},
    {"list offsets", test_list_offsets},
    {"long poll completed by produce", test_long_poll_produce},
    {"long poll timeout", test_long_poll_timeout},
    {"acks=all waits for the ISR", test_acks_all},
    {"min.insync.replicas", test_min_insync},
    {"topic-level overrides", test_topic_overrides},
    {"restart keeps the log", test_restart},
    {"OffsetForLeaderEpoch (leader side)", test_offset_for_leader_epoch},
    {"follower truncates (KIP-101), copies, acks=all", test_follower_truncates_and_copies},
    {"follower behind the leader's log start", test_follower_behind_log_start},
    {"fetch from a broker that is not a replica", test_not_a_replica},
    {"KIP-392: preferred read replica", test_preferred_read_replica},
    {"KIP-392: follower serves a client in its rack", test_follower_serves_client},
    {"ISR expand and shrink proposals", test_isr_proposals},
    {"KIP-497: a proposed expansion bounds the HW", test_isr_expansion_bounds_hw},
    {"a proposal adding a reassigned-away replica", test_isr_proposal_of_removed_replica},
    {"KIP-279: follow-up epoch question", test_follower_epoch_follow_up},
    {"KIP-516: a re-created topic's replica starts empty", test_topic_id_recreated},
    {"retention stays below the HW", test_retention_below_hw},
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    {"br_pm", NULL, NULL, setup, tu_pm_teardown, tests},
    CU_SUITE_INFO_NULL,
};

int main(void)
{
    return tu_main(suites);
}
