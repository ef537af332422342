/*
 * Runs the fuzz target's entry point (tests/fuzz/fuzz_request.c) over a
 * few thousand generated inputs: well-formed requests of every kind
 * (produce with real record batches), then random byte flips, truncations,
 * splices and pure noise. Under ASan/valgrind in CI this is the
 * always-on part of the request-decoder fuzzing.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/st_batch.h"
#include "raw.pb-c.h"
#include "strata.pb-c.h"
#include "tu.h"

int fuzz_request_one(const uint8_t *data, size_t size);

static uint64_t rng = 0x9E3779B97F4A7C15ull;

static uint64_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

typedef struct seed {
    uint8_t *buf;
    size_t len;
} seed_t;

static seed_t pack_request(Strata__Request *r)
{
    seed_t s;
    s.len = strata__request__get_packed_size(r);
    s.buf = malloc(s.len + 1);
    strata__request__pack(r, s.buf);
    return s;
}

static seed_t make_produce(void)
{
    st_batch_builder_t b;
    st_buf_t frame, wire;
    st_batch_builder_init(&b, ST_CODEC_NONE);
    st_buf_init(&frame);
    st_buf_init(&wire);
    for (int i = 0; i < 3; i++)
        st_batch_builder_add(&b, 1700000000000 + i, "k", 1, "value", 5, NULL, 0);
    CU_ASSERT_EQUAL(st_batch_builder_finish(&b, &frame), ST_OK);
    CU_ASSERT_EQUAL(st_batch_to_wire(frame.data, frame.len, &wire), ST_OK);
    Strata__Raw__RawProducePartition pp = STRATA__RAW__RAW_PRODUCE_PARTITION__INIT;
    ProtobufCBinaryData bd = {wire.len, wire.data};
    pp.n_batches = 1;
    pp.batches = &bd;
    Strata__Raw__RawProducePartition *ppp = &pp;
    Strata__Raw__RawProduceTopic tp = STRATA__RAW__RAW_PRODUCE_TOPIC__INIT;
    tp.name = "t";
    tp.n_partitions = 1;
    tp.partitions = &ppp;
    Strata__Raw__RawProduceTopic *ptp = &tp;
    Strata__Raw__RawProduceRequest pr = STRATA__RAW__RAW_PRODUCE_REQUEST__INIT;
    pr.acks = 1;
    pr.n_topics = 1;
    pr.topics = &ptp;
    Strata__Raw__RawRequest rr = STRATA__RAW__RAW_REQUEST__INIT;
    rr.correlation_id = 1;
    rr.replica_id = -1;
    rr.body_case = STRATA__RAW__RAW_REQUEST__BODY_PRODUCE;
    rr.produce = &pr;
    seed_t s;
    s.len = strata__raw__raw_request__get_packed_size(&rr);
    s.buf = malloc(s.len + 1);
    strata__raw__raw_request__pack(&rr, s.buf);
    st_buf_free(&frame);
    st_buf_free(&wire);
    st_batch_builder_fini(&b);
    return s;
}

static void test_fuzz_inputs(void)
{
    seed_t seeds[4];
    seeds[0] = make_produce();
    {
        Strata__MetadataRequest m = STRATA__METADATA_REQUEST__INIT;
        char *topics[] = {"a", "b"};
        m.n_topics = 2;
        m.topics = topics;
        Strata__Request r = STRATA__REQUEST__INIT;
        r.body_case = STRATA__REQUEST__BODY_METADATA;
        r.metadata = &m;
        seeds[1] = pack_request(&r);
    }
    {
        Strata__CreatableTopic ct = STRATA__CREATABLE_TOPIC__INIT;
        ct.name = "topic";
        ct.num_partitions = 3;
        ct.replication_factor = 1;
        Strata__CreatableTopic *pct = &ct;
        Strata__CreateTopicsRequest c = STRATA__CREATE_TOPICS_REQUEST__INIT;
        c.n_topics = 1;
        c.topics = &pct;
        Strata__Request r = STRATA__REQUEST__INIT;
        r.body_case = STRATA__REQUEST__BODY_CREATE_TOPICS;
        r.create_topics = &c;
        seeds[2] = pack_request(&r);
    }
    {
        Strata__FetchPartitionRequest fp = STRATA__FETCH_PARTITION_REQUEST__INIT;
        Strata__FetchPartitionRequest *pfp = &fp;
        Strata__FetchTopicRequest ft = STRATA__FETCH_TOPIC_REQUEST__INIT;
        ft.name = "t";
        ft.n_partitions = 1;
        ft.partitions = &pfp;
        Strata__FetchTopicRequest *pft = &ft;
        Strata__FetchRequest f = STRATA__FETCH_REQUEST__INIT;
        f.n_topics = 1;
        f.topics = &pft;
        Strata__Request r = STRATA__REQUEST__INIT;
        r.body_case = STRATA__REQUEST__BODY_FETCH;
        r.fetch = &f;
        seeds[3] = pack_request(&r);
    }
    /* the well-formed seeds decode completely */
    CU_ASSERT_EQUAL(fuzz_request_one(seeds[0].buf, seeds[0].len), 1 | 2 | 4);
    for (int i = 1; i < 4; i++)
        CU_ASSERT_EQUAL(fuzz_request_one(seeds[i].buf, seeds[i].len) & 2, 2);

    int decoded = 0, rejected = 0;
    uint8_t scratch[4096];
    for (int iter = 0; iter < 4000; iter++) {
        const seed_t *s = &seeds[next_rand() % 4];
        size_t len = s->len < sizeof scratch ? s->len : sizeof scratch;
        memcpy(scratch, s->buf, len);
        switch (next_rand() % 5) {
        case 0: /* flip a few bytes */
            for (int k = 0; k < 1 + (int)(next_rand() % 4); k++)
                scratch[next_rand() % len] ^= (uint8_t)(1u << (next_rand() % 8));
            break;
        case 1: /* truncate */
            len = next_rand() % (len + 1);
            break;
        case 2: /* random byte values */
            scratch[next_rand() % len] = (uint8_t)next_rand();
            break;
        case 3: /* splice two seeds */
        {
            const seed_t *o = &seeds[next_rand() % 4];
            size_t cut = next_rand() % (len + 1);
            size_t take = o->len < sizeof scratch - cut ? o->len : sizeof scratch - cut;
            memcpy(scratch + cut, o->buf, take);
            len = cut + take;
            break;
        }
        default: /* noise */
            len = next_rand() % 256;
            for (size_t k = 0; k < len; k++)
                scratch[k] = (uint8_t)next_rand();
            break;
        }
        /* a copy of exactly len bytes, so ASan sees reads past the end */
        uint8_t *in = malloc(len ? len : 1);
        memcpy(in, scratch, len);
        if (fuzz_request_one(in, len))
            decoded++;
        else
            rejected++;
        free(in);
    }
    CU_ASSERT_TRUE(decoded > 0);
    CU_ASSERT_TRUE(rejected > 0);
    for (int i = 0; i < 4; i++)
        free(seeds[i].buf);
}

/* Every input libFuzzer ever crashed on is kept in tests/fuzz/regress and
 * replayed here, so the sanitizer and valgrind runs cover it forever. */
static void test_fuzz_regressions(void)
{
    const char *dir = ST_SRCDIR "/tests/fuzz/regress";
    DIR *d = opendir(dir);
    CU_ASSERT_PTR_NOT_NULL_FATAL(d);
    int replayed = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        FILE *f = fopen(path, "rb");
        CU_ASSERT_PTR_NOT_NULL(f);
        if (!f)
            continue;
        uint8_t buf[65536];
        size_t n = fread(buf, 1, sizeof buf, f);
        fclose(f);
        fuzz_request_one(buf, n); /* must return; sanitizers catch the rest */
        replayed++;
    }
    closedir(d);
    CU_ASSERT_TRUE(replayed > 0);
}

static CU_TestInfo tests[] = {
    {"generated and mutated requests", test_fuzz_inputs},
    {"replay tests/fuzz/regress", test_fuzz_regressions},
    CU_TEST_INFO_NULL,
};
static CU_SuiteInfo suites[] = {
    {"fuzz_request", NULL, NULL, NULL, NULL, tests},
    CU_SUITE_INFO_NULL,
};

int main(void)
{
    return tu_main(suites);
}
