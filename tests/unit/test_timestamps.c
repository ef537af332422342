/*
 * Unit tests of the timestamps a leader stores for a producer's batch
 * (CreateTime): st_batch_from_wire_flags with ST_BATCH_WIRE_CREATE_TIME
 * recomputes max_timestamp from the records and clears a log-append-time
 * attribute (with a valid CRC), and through the partition manager a batch
 * whose max_timestamp understates its records is found by ListOffsets by
 * time, a log-append-time batch is stored as CreateTime and gets the
 * timestamp checks. Same fixture (tu_pm) and br_call double as
 * test_partition.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/st_batch.h"
#include "common/st_crc.h"
#include "partition/br_pm.h"
#include "raw.pb-c.h"
#include "strata.pb-c.h"
#include "tu.h"
#include "tu_call.h"
#include "tu_pm.h"

static void setup(void)
{
    tu_pm_setup("test_timestamps");
}

/* A batch of n records at ts0, ts0 + step, ...; then the header's
 * max_timestamp and attributes overwritten as a producer might send them
 * (CRC recomputed, so the batch is well formed). Its wire form in wire. */
static void forged_batch(int n, int64_t ts0, int64_t step, int64_t max_ts, int16_t attributes, st_buf_t *wire)
{
    st_batch_builder_t b;
    st_batch_builder_init(&b, ST_CODEC_NONE);
    for (int i = 0; i < n; i++)
        CU_ASSERT_FATAL(st_batch_builder_add(&b, ts0 + i * step, "k", 1, "v", 1, NULL, 0) == ST_OK);
    st_buf_t frame;
    st_buf_init(&frame);
    CU_ASSERT_FATAL(st_batch_builder_finish(&b, &frame) == ST_OK);
    st_batch_builder_fini(&b);
    st_batch_hdr_t h;
    CU_ASSERT_FATAL(st_batch_hdr_decode(frame.data, frame.len, &h) == ST_OK);
    h.max_timestamp = max_ts;
    h.attributes = attributes;
    st_batch_hdr_encode(&h, frame.data);
    h.crc = st_batch_compute_crc(frame.data, frame.len);
    st_batch_hdr_encode(&h, frame.data);
    CU_ASSERT_FATAL(st_batch_validate(frame.data, frame.len) == ST_OK);
    st_buf_init(wire);
    CU_ASSERT_FATAL(st_batch_to_wire(frame.data, frame.len, wire) == ST_OK);
    st_buf_free(&frame);
}

/* Produce one wire batch (acks=1); the partition result's error, the base
 * offset in *base. */
static int produce_one(const char *topic, st_buf_t *wire, int64_t *base)
{
    ProtobufCBinaryData bd = {.len = wire->len, .data = wire->data};
    Strata__Raw__RawProducePartition pp = STRATA__RAW__RAW_PRODUCE_PARTITION__INIT;
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
    br_call_t c;
    tu_call_init(&c, 3, -1);
    br_pm_handle_produce(g_pm, &c, &req);
    Strata__Response *r = tu_call_response(&c);
    CU_ASSERT_FATAL(r->body_case == STRATA__RESPONSE__BODY_PRODUCE);
    CU_ASSERT_FATAL(r->produce->n_topics == 1 && r->produce->topics[0]->n_partitions == 1);
    int err = r->produce->topics[0]->partitions[0]->error;
    if (base)
        *base = r->produce->topics[0]->partitions[0]->base_offset;
    strata__response__free_unpacked(r, NULL);
    tu_call_fini(&c);
    return err;
}

/* ListOffsets by time on partition 0: the offset answered (-1 none). */
static int64_t offset_for_time(const char *topic, int64_t ts, int64_t *found_ts)
{
    Strata__ListOffsetsPartition lp = STRATA__LIST_OFFSETS_PARTITION__INIT;
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
    br_call_t c;
    tu_call_init(&c, 5, -1);
    br_pm_handle_list_offsets(g_pm, &c, &req);
    Strata__Response *r = tu_call_response(&c);
    CU_ASSERT_FATAL(r->body_case == STRATA__RESPONSE__BODY_LIST_OFFSETS);
    CU_ASSERT_FATAL(r->list_offsets->n_topics == 1 && r->list_offsets->topics[0]->n_partitions == 1);
    const Strata__ListOffsetsPartitionResult *p = r->list_offsets->topics[0]->partitions[0];
    CU_ASSERT_EQUAL(p->error, 0);
    int64_t off = p->offset;
    if (found_ts)
        *found_ts = p->timestamp;
    strata__response__free_unpacked(r, NULL);
    tu_call_fini(&c);
    return off;
}

/* The header of the first stored batch of topic/0 (a client fetch at 0). */
static void stored_header(const char *topic, st_batch_hdr_t *h)
{
    Strata__FetchPartitionRequest fp = STRATA__FETCH_PARTITION_REQUEST__INIT;
    fp.current_leader_epoch = -1;
    Strata__FetchPartitionRequest *fpp = &fp;
    Strata__FetchTopicRequest ft = STRATA__FETCH_TOPIC_REQUEST__INIT;
    ft.name = (char *)topic;
    ft.n_partitions = 1;
    ft.partitions = &fpp;
    Strata__FetchTopicRequest *ftp = &ft;
    Strata__FetchRequest req = STRATA__FETCH_REQUEST__INIT;
    req.n_topics = 1;
    req.topics = &ftp;
    br_call_t c;
    tu_call_init(&c, 7, -1);
    br_pm_handle_fetch(g_pm, &c, &req);
    CU_ASSERT_FATAL(c.replies == 1);
    Strata__Raw__RawResponse *r = strata__raw__raw_response__unpack(NULL, c.len, c.buf);
    CU_ASSERT_FATAL(r && r->body_case == STRATA__RAW__RAW_RESPONSE__BODY_FETCH && r->fetch->n_topics == 1 &&
                    r->fetch->topics[0]->n_partitions == 1);
    const Strata__Raw__RawFetchPartitionResponse *p = r->fetch->topics[0]->partitions[0];
    CU_ASSERT_EQUAL_FATAL(p->error, 0);
    CU_ASSERT_FATAL(p->n_batches >= 1);
    st_buf_t frame;
    st_buf_init(&frame);
    /* the stored batch is self-consistent: its CRC covers what it says */
    CU_ASSERT_FATAL(st_batch_from_wire(p->batches[0].data, p->batches[0].len, &frame, NULL) == ST_OK);
    CU_ASSERT_FATAL(st_batch_hdr_decode(frame.data, frame.len, h) == ST_OK);
    st_buf_free(&frame);
    strata__raw__raw_response__free_unpacked(r, NULL);
    tu_call_fini(&c);
}

/* ------------------------------------------------------------------ tests */

static void test_from_wire_create_time(void)
{
    st_buf_t w, f;
    forged_batch(3, 100000, 1000, 100000, ST_BATCH_ATTR_LOG_APPEND_TIME, &w);
    st_buf_init(&f);
    /* as received: kept as is */
    CU_ASSERT_EQUAL_FATAL(st_batch_from_wire(w.data, w.len, &f, NULL), ST_OK);
    st_batch_hdr_t h;
    CU_ASSERT_FATAL(st_batch_hdr_decode(f.data, f.len, &h) == ST_OK);
    CU_ASSERT_EQUAL(h.max_timestamp, 100000);
    CU_ASSERT(h.attributes & ST_BATCH_ATTR_LOG_APPEND_TIME);
    /* as a leader appends it: the records' timestamps, CreateTime */
    f.len = 0;
    CU_ASSERT_EQUAL_FATAL(st_batch_from_wire_flags(w.data, w.len, &f, NULL, ST_BATCH_WIRE_CREATE_TIME),
                          ST_OK);
    CU_ASSERT_FATAL(st_batch_hdr_decode(f.data, f.len, &h) == ST_OK);
    CU_ASSERT_EQUAL(h.first_timestamp, 100000);
    CU_ASSERT_EQUAL(h.max_timestamp, 102000);
    CU_ASSERT_EQUAL(h.attributes & ST_BATCH_ATTR_LOG_APPEND_TIME, 0);
    CU_ASSERT_EQUAL(st_batch_validate(f.data, f.len), ST_OK);
    st_buf_free(&w);
    /* an overstated max_timestamp comes down to the records' too */
    forged_batch(2, 5000, 10, 900000, 0, &w);
    f.len = 0;
    CU_ASSERT_EQUAL_FATAL(st_batch_from_wire_flags(w.data, w.len, &f, NULL, ST_BATCH_WIRE_CREATE_TIME),
                          ST_OK);
    CU_ASSERT_FATAL(st_batch_hdr_decode(f.data, f.len, &h) == ST_OK);
    CU_ASSERT_EQUAL(h.max_timestamp, 5010);
    CU_ASSERT_EQUAL(st_batch_validate(f.data, f.len), ST_OK);
    st_buf_free(&w);
    st_buf_free(&f);
}

static void test_list_offsets_understated_max(void)
{
    host_leader("lt", 0, 0);
    int64_t t0 = now_ms() - 60000;
    st_buf_t w;
    /* offsets 0..2 at t0, t0+1000, t0+2000 claiming max_timestamp t0 */
    forged_batch(3, t0, 1000, t0, 0, &w);
    CU_ASSERT_EQUAL(produce_one("lt", &w, NULL), 0);
    st_buf_free(&w);
    /* offsets 3..4 at t0+3000, t0+4000 */
    forged_batch(2, t0 + 3000, 1000, t0 + 4000, 0, &w);
    CU_ASSERT_EQUAL(produce_one("lt", &w, NULL), 0);
    st_buf_free(&w);
    int64_t ts = -1;
    CU_ASSERT_EQUAL(offset_for_time("lt", t0 + 1500, &ts), 2);
    CU_ASSERT_EQUAL(ts, t0 + 2000);
    CU_ASSERT_EQUAL(offset_for_time("lt", t0 + 1, NULL), 1);
    CU_ASSERT_EQUAL(offset_for_time("lt", t0 + 2500, NULL), 3);
    st_batch_hdr_t h;
    stored_header("lt", &h);
    CU_ASSERT_EQUAL(h.max_timestamp, t0 + 2000);
}

static void test_log_append_time_attribute(void)
{
    host_leader("la", 0, 0);
    int64_t t0 = now_ms() - 5000;
    st_buf_t w;
    /* log-append time claimed, with a max_timestamp far in the future */
    forged_batch(2, t0, 100, t0 + 86400000, ST_BATCH_ATTR_LOG_APPEND_TIME, &w);
    CU_ASSERT_EQUAL(produce_one("la", &w, NULL), 0);
    st_buf_free(&w);
    st_batch_hdr_t h;
    stored_header("la", &h);
    CU_ASSERT_EQUAL(h.attributes & ST_BATCH_ATTR_LOG_APPEND_TIME, 0);
    CU_ASSERT_EQUAL(h.first_timestamp, t0);
    CU_ASSERT_EQUAL(h.max_timestamp, t0 + 100);
    int64_t ts = -1;
    CU_ASSERT_EQUAL(offset_for_time("la", t0 + 50, &ts), 1);
    CU_ASSERT_EQUAL(ts, t0 + 100);

    /* the attribute no longer escapes message.timestamp.difference.max.ms */
    g_limits.log_message_timestamp_difference_max_ms = 60000;
    fixture_close();
    fixture_open();
    host_leader("lb", 0, 0);
    forged_batch(2, now_ms() - 3600 * 1000, 100, now_ms(), ST_BATCH_ATTR_LOG_APPEND_TIME, &w);
    CU_ASSERT_EQUAL(produce_one("lb", &w, NULL), ST_ERR_INVALID_TIMESTAMP);
    st_buf_free(&w);
}

static CU_TestInfo tests[] = {
    {"CREATE_TIME: max timestamp from the records", test_from_wire_create_time},
    {"ListOffsets by time: understated max_timestamp", test_list_offsets_understated_max},
    {"log-append-time attribute on a CreateTime topic", test_log_append_time_attribute},
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    {"timestamps", NULL, NULL, setup, tu_pm_teardown, tests},
    CU_SUITE_INFO_NULL,
};

int main(void)
{
    return tu_main(suites);
}
