/*
 * Unit tests of libstrata's pure parts (no network): Kafka's murmur2 and
 * the default partitioner (keyed mapping and sticky keyless choice), the
 * producer's record accumulator (batching by size and by linger, frames
 * that validate and read back), and the client property table.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <pthread.h>

#include "client/sc_accum.h"
#include "client/sc_conf.h"
#include "client/sc_part.h"
#include "client/strata.h"
#include "common/st_batch.h"
#include "common/st_err.h"
#include "strata.pb-c.h"
#include "tu.h"

/* ---------------------------------------------------------- murmur2 */

/* Vectors from Apache Kafka's clients/src/test/java/org/apache/kafka/
 * common/utils/UtilsTest.java (testMurmur2), the values Java's
 * Utils.murmur2 returns. */
static const struct {
    const char *key;
    int32_t hash;
} kafka_vectors[] = {
    {"21", -973932308},
    {"foobar", -790332482},
    {"a-little-bit-long-string", -985981536},
    {"a-little-bit-longer-string", -1486304829},
    {"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971},
    {"abc", 479470107},
};

static void test_murmur2_vectors(void)
{
    for (size_t i = 0; i < sizeof kafka_vectors / sizeof kafka_vectors[0]; i++)
        CU_ASSERT_EQUAL(sc_murmur2(kafka_vectors[i].key, strlen(kafka_vectors[i].key)),
                        kafka_vectors[i].hash);
}

static void test_partition_mapping(void)
{
    /* toPositive(murmur2(key)) % n, computed from the vectors above */
    static const struct {
        const char *key;
        int32_t p3, p7, p12, p100;
    } m[] = {
        {"21", 0, 3, 0, 40},
        {"foobar", 0, 0, 6, 66},
        {"a-little-bit-long-string", 2, 1, 8, 12},
        {"a-little-bit-longer-string", 2, 0, 11, 19},
        {"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", 2, 3, 5, 77},
        {"abc", 0, 4, 3, 7},
    };
    for (size_t i = 0; i < sizeof m / sizeof m[0]; i++) {
        size_t n = strlen(m[i].key);
        CU_ASSERT_EQUAL(sc_part_for_key(m[i].key, n, 1), 0);
        CU_ASSERT_EQUAL(sc_part_for_key(m[i].key, n, 3), m[i].p3);
        CU_ASSERT_EQUAL(sc_part_for_key(m[i].key, n, 7), m[i].p7);
        CU_ASSERT_EQUAL(sc_part_for_key(m[i].key, n, 12), m[i].p12);
        CU_ASSERT_EQUAL(sc_part_for_key(m[i].key, n, 100), m[i].p100);
    }
    CU_ASSERT_EQUAL(sc_part_for_key("x", 1, 0), -1);
    /* the empty key is a key, not "no key" */
    int32_t e = sc_part_for_key("", 0, 10);
    CU_ASSERT(e >= 0 && e < 10);
}

static void test_sticky(void)
{
    sc_sticky_t s;
    sc_sticky_init(&s, 42);
    int32_t first = sc_sticky_get(&s, 8);
    CU_ASSERT(first >= 0 && first < 8);
    for (int i = 0; i < 100; i++)
        CU_ASSERT_EQUAL(sc_sticky_get(&s, 8), first);
    /* another partition's batch closing does not move it */
    sc_sticky_batch_closed(&s, (first + 1) % 8, 8);
    CU_ASSERT_EQUAL(sc_sticky_get(&s, 8), first);
    /* its own batch closing does, always to a different partition */
    for (int i = 0; i < 50; i++) {
        int32_t cur = sc_sticky_get(&s, 8);
        sc_sticky_batch_closed(&s, cur, 8);
        int32_t next = sc_sticky_get(&s, 8);
        CU_ASSERT(next != cur);
        CU_ASSERT(next >= 0 && next < 8);
    }
    /* one partition: stays */
    sc_sticky_t one;
    sc_sticky_init(&one, 7);
    CU_ASSERT_EQUAL(sc_sticky_get(&one, 1), 0);
    sc_sticky_batch_closed(&one, 0, 1);
    CU_ASSERT_EQUAL(sc_sticky_get(&one, 1), 0);
}

/* ------------------------------------------------------- accumulator */

static int dr_calls;

static void count_cb(const strata_delivery_t *dr, void *opaque)
{
    (void)dr;
    (void)opaque;
    dr_calls++;
}

static size_t ready_count(sc_apart_t *ap)
{
    size_t n = 0;
    for (sc_batch_t *b = ap->head; b; b = b->next)
        n++;
    return n;
}

static void test_accum_size(void)
{
    sc_accum_t a;
    sc_accum_init(&a, ST_CODEC_NONE, 1000, 5, 120000);
    sc_atopic_t *t = sc_accum_topic(&a, "t", true);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    CU_ASSERT_PTR_EQUAL(sc_accum_topic(&a, "t", false), t);
    CU_ASSERT_PTR_NULL(sc_accum_topic(&a, "other", false));
    CU_ASSERT_EQUAL(sc_accum_set_partitions(t, 2, (int32_t[]){1, 2}), ST_OK);
    char val[100];
    memset(val, 'v', sizeof val);
    bool closed;
    int closes = 0;
    /* 100-byte values: about 8 fit in 1000 bytes */
    for (int i = 0; i < 40; i++) {
        CU_ASSERT_EQUAL(sc_accum_append(&a, t, 0, 0, 1000 + i, NULL, 0, val, sizeof val, NULL, 0, count_cb,
                                        NULL, &closed),
                        ST_OK);
        closes += closed;
    }
    CU_ASSERT(closes >= 4);
    CU_ASSERT_EQUAL(ready_count(&t->parts[0]), (size_t)closes);
    CU_ASSERT_EQUAL(a.n_ready, (size_t)closes);
    CU_ASSERT_EQUAL(a.records, 40u);
    CU_ASSERT_EQUAL(ready_count(&t->parts[1]), 0u);
    /* every closed batch stays within batch.size and holds whole records */
    size_t total = 0;
    for (sc_batch_t *b = t->parts[0].head; b; b = b->next) {
        CU_ASSERT(st_batch_builder_size(&b->bld) <= 1000);
        CU_ASSERT(b->n_refs > 0);
        total += b->n_refs;
    }
    CU_ASSERT_PTR_NOT_NULL(t->parts[0].open);
    total += t->parts[0].open ? t->parts[0].open->n_refs : 0;
    CU_ASSERT_EQUAL(total, 40u);
    /* a finished batch is a valid frame whose records read back in order */
    sc_batch_t *b = sc_accum_pop(&a, &t->parts[0]);
    CU_ASSERT_EQUAL_FATAL(sc_batch_finish(b), ST_OK);
    CU_ASSERT_EQUAL(st_batch_validate(b->frame.data, b->frame.len), ST_OK);
    st_batch_iter_t it;
    CU_ASSERT_EQUAL_FATAL(st_batch_iter_init(&it, b->frame.data, b->frame.len), ST_OK);
    st_record_t rec;
    int64_t n = 0;
    while (st_batch_iter_next(&it, &rec) == ST_OK) {
        CU_ASSERT_EQUAL(rec.offset, n);
        CU_ASSERT_EQUAL(rec.timestamp, 1000 + n);
        CU_ASSERT_PTR_NULL(rec.key);
        CU_ASSERT_EQUAL(rec.value_len, sizeof val);
        n++;
    }
    CU_ASSERT_EQUAL((size_t)n, b->n_refs);
    st_batch_iter_fini(&it);
    size_t before = a.records;
    size_t nb = b->n_refs;
    sc_accum_release(&a, b);
    CU_ASSERT_EQUAL(a.records, before - nb);
    CU_ASSERT_EQUAL(a.pool_n, 1u);
    /* the pooled batch is reused */
    sc_accum_append(&a, t, 1, 0, 1, "k", 1, "v", 1, NULL, 0, NULL, NULL, &closed);
    CU_ASSERT_EQUAL(a.pool_n, 0u);
    sc_accum_fini(&a);
}

static void test_accum_linger(void)
{
    sc_accum_t a;
    sc_accum_init(&a, ST_CODEC_NONE, 16384, 5, 120000);
    sc_atopic_t *t = sc_accum_topic(&a, "t", true);
    sc_accum_set_partitions(t, 3, NULL);
    bool closed;
    strata_header_t h = {"hk", 2, "hv", 2};
    CU_ASSERT_EQUAL(sc_accum_append(&a, t, 1, 100, 1, "k", 1, "v", 1, &h, 1, NULL, NULL, &closed), ST_OK);
    CU_ASSERT_FALSE(closed);
    /* not yet: due at 105 */
    CU_ASSERT_EQUAL(sc_accum_linger(&a, 104, false), 105);
    CU_ASSERT_EQUAL(ready_count(&t->parts[1]), 0u);
    CU_ASSERT_EQUAL(sc_accum_linger(&a, 105, false), INT64_MAX);
    CU_ASSERT_EQUAL(ready_count(&t->parts[1]), 1u);
    CU_ASSERT_PTR_NULL(t->parts[1].open);
    /* flush closes at once */
    sc_accum_append(&a, t, 2, 200, 1, NULL, 0, "v", 1, NULL, 0, NULL, NULL, &closed);
    CU_ASSERT_EQUAL(sc_accum_linger(&a, 200, true), INT64_MAX);
    CU_ASSERT_EQUAL(ready_count(&t->parts[2]), 1u);
    /* requeue puts a batch back at the head */
    sc_batch_t *b1 = sc_accum_pop(&a, &t->parts[1]);
    sc_accum_append(&a, t, 1, 300, 1, NULL, 0, "w", 1, NULL, 0, NULL, NULL, &closed);
    sc_accum_close(&a, t, 1);
    sc_accum_requeue(&a, &t->parts[1], b1);
    CU_ASSERT_PTR_EQUAL(t->parts[1].head, b1);
    CU_ASSERT_EQUAL(ready_count(&t->parts[1]), 2u);
    /* the header survived */
    CU_ASSERT_EQUAL_FATAL(sc_batch_finish(b1), ST_OK);
    st_batch_iter_t it;
    st_record_t rec;
    CU_ASSERT_EQUAL_FATAL(st_batch_iter_init(&it, b1->frame.data, b1->frame.len), ST_OK);
    CU_ASSERT_EQUAL_FATAL(st_batch_iter_next(&it, &rec), ST_OK);
    CU_ASSERT_EQUAL(rec.n_headers, 1u);
    CU_ASSERT(rec.n_headers == 1 && memcmp(rec.headers[0].key, "hk", 2) == 0);
    CU_ASSERT(rec.key_len == 1 && memcmp(rec.key, "k", 1) == 0);
    st_batch_iter_fini(&it);
    sc_accum_fini(&a);
}

static void test_accum_compressed(void)
{
    sc_accum_t a;
    sc_accum_init(&a, ST_CODEC_ZSTD, 1 << 20, 0, 1000);
    sc_atopic_t *t = sc_accum_topic(&a, "z", true);
    sc_accum_set_partitions(t, 1, NULL);
    bool closed;
    for (int i = 0; i < 100; i++)
        sc_accum_append(&a, t, 0, 0, 5, NULL, 0, "aaaaaaaaaaaaaaaaaaaa", 20, NULL, 0, count_cb, NULL,
                        &closed);
    sc_accum_linger(&a, 0, false); /* linger 0: due at once */
    sc_batch_t *b = sc_accum_pop(&a, &t->parts[0]);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    CU_ASSERT_EQUAL_FATAL(sc_batch_finish(b), ST_OK);
    CU_ASSERT(b->frame.len < st_batch_builder_size(&b->bld));
    CU_ASSERT_EQUAL(st_batch_validate(b->frame.data, b->frame.len), ST_OK);
    st_batch_iter_t it;
    st_record_t rec;
    int n = 0;
    CU_ASSERT_EQUAL_FATAL(st_batch_iter_init(&it, b->frame.data, b->frame.len), ST_OK);
    while (st_batch_iter_next(&it, &rec) == ST_OK)
        n++;
    st_batch_iter_fini(&it);
    CU_ASSERT_EQUAL(n, 100);
    sc_accum_release(&a, b);
    CU_ASSERT_EQUAL(a.records, 0u);
    CU_ASSERT_EQUAL(a.bytes, 0u);
    sc_accum_fini(&a);
}

/* ------------------------------------------------------------ config */

static void test_conf_defaults(void)
{
    strata_conf_t *c = strata_conf_new();
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    CU_ASSERT_EQUAL(c->linger_ms, 5);
    CU_ASSERT_EQUAL(c->batch_size, 16384);
    CU_ASSERT_EQUAL(c->fetch_max_wait_ms, 500);
    CU_ASSERT_EQUAL(c->fetch_min_bytes, 1);
    CU_ASSERT_EQUAL(sc_conf_acks(c), -1);
    CU_ASSERT_EQUAL(sc_conf_codec(c), ST_CODEC_NONE);
    CU_ASSERT_EQUAL(sc_conf_reset(c), -1);
    char *v = strata_conf_get(c, "acks");
    CU_ASSERT_STRING_EQUAL(v, "all");
    free(v);
    CU_ASSERT_PTR_NULL(strata_conf_get(c, "no.such.key"));
    strata_conf_free(c);
}

static void test_conf_set(void)
{
    strata_conf_t *c = strata_conf_new();
    char err[256];
    CU_ASSERT_EQUAL(strata_conf_set(c, "acks", "1", err, sizeof err), STRATA_OK);
    CU_ASSERT_EQUAL(sc_conf_acks(c), 1);
    CU_ASSERT_EQUAL(strata_conf_set(c, "acks", "0", err, sizeof err), STRATA_OK);
    CU_ASSERT_EQUAL(sc_conf_acks(c), 0);
    CU_ASSERT_EQUAL(strata_conf_set(c, "acks", "2", err, sizeof err), STRATA_ERR_INVALID_CONFIG);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "acks"));
    CU_ASSERT_EQUAL(strata_conf_set(c, "compression.type", "lz4", err, sizeof err), STRATA_OK);
    CU_ASSERT_EQUAL(sc_conf_codec(c), ST_CODEC_LZ4);
    CU_ASSERT_EQUAL(strata_conf_set(c, "compression.type", "gzip", err, sizeof err),
                    STRATA_ERR_INVALID_CONFIG);
    CU_ASSERT_EQUAL(strata_conf_set(c, "linger.ms", "-1", err, sizeof err), STRATA_ERR_INVALID_CONFIG);
    CU_ASSERT_EQUAL(strata_conf_set(c, "linger.ms", "abc", err, sizeof err), STRATA_ERR_INVALID_CONFIG);
    CU_ASSERT_EQUAL(strata_conf_set(c, "linger.ms", "20", err, sizeof err), STRATA_OK);
    CU_ASSERT_EQUAL(c->linger_ms, 20);
    CU_ASSERT_EQUAL(strata_conf_set(c, "enable.partition.eof", "true", err, sizeof err), STRATA_OK);
    CU_ASSERT_TRUE(c->enable_partition_eof);
    CU_ASSERT_EQUAL(strata_conf_set(c, "auto.offset.reset", "earliest", err, sizeof err), STRATA_OK);
    CU_ASSERT_EQUAL(sc_conf_reset(c), -2);
    CU_ASSERT_EQUAL(strata_conf_set(c, "auto.offset.reset", "none", err, sizeof err), STRATA_OK);
    CU_ASSERT_EQUAL(sc_conf_reset(c), 0);
    CU_ASSERT_EQUAL(strata_conf_set(c, "bogus", "1", err, sizeof err), STRATA_ERR_NOT_FOUND);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "bogus"));
    /* a copy is deep and equal */
    strata_conf_t *d = strata_conf_dup(c);
    CU_ASSERT_PTR_NOT_NULL_FATAL(d);
    CU_ASSERT_EQUAL(d->linger_ms, 20);
    CU_ASSERT_EQUAL(sc_conf_codec(d), ST_CODEC_LZ4);
    CU_ASSERT_PTR_NOT_EQUAL(d->compression_type, c->compression_type);
    strata_conf_free(d);
    strata_conf_free(c);
}

static void test_conf_bootstrap(void)
{
    strata_conf_t *c = strata_conf_new();
    char err[256] = "";
    char **urls;
    size_t n;
    CU_ASSERT_EQUAL(strata_conf_set(c, "bootstrap.servers", " tcp://127.0.0.1:9092 ,,tcp://127.0.0.1:9093",
                                    err, sizeof err),
                    STRATA_OK);
    CU_ASSERT_EQUAL_FATAL(sc_conf_bootstrap(c, &urls, &n), ST_OK);
    CU_ASSERT_EQUAL_FATAL(n, 2u);
    CU_ASSERT_STRING_EQUAL(urls[0], "tcp://127.0.0.1:9092");
    CU_ASSERT_STRING_EQUAL(urls[1], "tcp://127.0.0.1:9093");
    sc_conf_bootstrap_free(urls, n);
    CU_ASSERT_EQUAL(sc_conf_check(c, err, sizeof err), ST_OK);
    CU_ASSERT_EQUAL(strata_conf_set(c, "bootstrap.servers", " , ", err, sizeof err), STRATA_OK);
    CU_ASSERT_EQUAL(sc_conf_check(c, err, sizeof err), ST_ERR_INVALID_CONFIG);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "bootstrap.servers"));
    /* a producer refuses to start without brokers, naming the key */
    err[0] = '\0';
    CU_ASSERT_PTR_NULL(strata_producer_new(c, err, sizeof err));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "bootstrap.servers"));
    strata_conf_free(c);
}

static void test_conf_markdown(void)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    strata_conf_write_markdown(f);
    fclose(f);
    CU_ASSERT_PTR_NOT_NULL(strstr(buf, "linger.ms"));
    CU_ASSERT_PTR_NOT_NULL(strstr(buf, "bootstrap.servers"));
    /* docs/client.md carries the same table (below its own heading): fail
     * when the committed copy drifts from the property table */
    char path[4096];
    snprintf(path, sizeof path, "%s/docs/client.md", ST_SRCDIR);
    FILE *d = fopen(path, "r");
    CU_ASSERT_PTR_NOT_NULL_FATAL(d);
    char *doc = NULL;
    size_t cap = 0;
    ssize_t n = getdelim(&doc, &cap, '\0', d);
    fclose(d);
    CU_ASSERT_FATAL(n > 0);
    const char *table = strstr(buf, "| Property");
    CU_ASSERT_PTR_NOT_NULL_FATAL(table);
    CU_ASSERT_PTR_NOT_NULL(strstr(doc, table));
    free(doc);
    free(buf);
}

/* Every wire code, named in strata.h with st_err's value (a missing or
 * misnumbered STRATA_ERR_ fails to compile or to compare). */
#define E(x)                                                                                                 \
    {                                                                                                        \
        (int)STRATA_ERR_##x, (int)ST_ERR_##x, #x                                                             \
    }
static const struct {
    int strata, st;
    const char *name;
} wire_codes[] = {
    E(UNKNOWN_SERVER_ERROR),
    E(OFFSET_OUT_OF_RANGE),
    E(CORRUPT_MESSAGE),
    E(UNKNOWN_TOPIC_OR_PARTITION),
    E(INVALID_FETCH_SIZE),
    E(LEADER_NOT_AVAILABLE),
    E(NOT_LEADER_OR_FOLLOWER),
    E(REQUEST_TIMED_OUT),
    E(BROKER_NOT_AVAILABLE),
    E(REPLICA_NOT_AVAILABLE),
    E(MESSAGE_TOO_LARGE),
    E(STALE_CONTROLLER_EPOCH),
    E(OFFSET_METADATA_TOO_LARGE),
    E(NETWORK_EXCEPTION),
    E(COORDINATOR_LOAD_IN_PROGRESS),
    E(COORDINATOR_NOT_AVAILABLE),
    E(NOT_COORDINATOR),
    E(INVALID_TOPIC_EXCEPTION),
    E(RECORD_LIST_TOO_LARGE),
    E(NOT_ENOUGH_REPLICAS),
    E(NOT_ENOUGH_REPLICAS_AFTER_APPEND),
    E(INVALID_REQUIRED_ACKS),
    E(ILLEGAL_GENERATION),
    E(INCONSISTENT_GROUP_PROTOCOL),
    E(INVALID_GROUP_ID),
    E(UNKNOWN_MEMBER_ID),
    E(INVALID_SESSION_TIMEOUT),
    E(REBALANCE_IN_PROGRESS),
    E(INVALID_COMMIT_OFFSET_SIZE),
    E(TOPIC_AUTHORIZATION_FAILED),
    E(GROUP_AUTHORIZATION_FAILED),
    E(CLUSTER_AUTHORIZATION_FAILED),
    E(INVALID_TIMESTAMP),
    E(UNSUPPORTED_VERSION),
    E(TOPIC_ALREADY_EXISTS),
    E(INVALID_PARTITIONS),
    E(INVALID_REPLICATION_FACTOR),
    E(INVALID_REPLICA_ASSIGNMENT),
    E(INVALID_CONFIG),
    E(NOT_CONTROLLER),
    E(INVALID_REQUEST),
    E(POLICY_VIOLATION),
    E(OUT_OF_ORDER_SEQUENCE_NUMBER),
    E(DUPLICATE_SEQUENCE_NUMBER),
    E(INVALID_PRODUCER_EPOCH),
    E(KAFKA_STORAGE_ERROR),
    E(UNKNOWN_PRODUCER_ID),
    E(NON_EMPTY_GROUP),
    E(GROUP_ID_NOT_FOUND),
    E(FENCED_LEADER_EPOCH),
    E(UNKNOWN_LEADER_EPOCH),
    E(STALE_BROKER_EPOCH),
    E(OFFSET_NOT_AVAILABLE),
    E(MEMBER_ID_REQUIRED),
    E(PREFERRED_LEADER_NOT_AVAILABLE),
    E(GROUP_MAX_SIZE_REACHED),
    E(FENCED_INSTANCE_ID),
    E(ELIGIBLE_LEADERS_NOT_AVAILABLE),
    E(ELECTION_NOT_NEEDED),
    E(INVALID_RECORD),
    E(THROTTLING_QUOTA_EXCEEDED),
};
#undef E

static bool wire_code_named(int v)
{
    for (size_t i = 0; i < sizeof wire_codes / sizeof wire_codes[0]; i++)
        if (wire_codes[i].strata == v)
            return true;
    return false;
}

static void test_err_wire_names(void)
{
    size_t n = sizeof wire_codes / sizeof wire_codes[0];
    for (size_t i = 0; i < n; i++) {
        CU_ASSERT_EQUAL(wire_codes[i].strata, wire_codes[i].st);
        CU_ASSERT_STRING_EQUAL(strata_err_name((strata_err_t)wire_codes[i].strata), wire_codes[i].name);
    }
    /* every st_err wire code (those st_err_name knows, >= -1) is in the table */
    size_t seen = 0;
    for (int v = -1; v < 1000; v++) {
        if (v == 0 || strcmp(st_err_name((st_err_t)v), "UNKNOWN_ERROR_CODE") == 0)
            continue;
        seen++;
        if (!wire_code_named(v))
            fprintf(stderr, "st_err wire code %d (%s) has no STRATA_ERR_ name\n", v,
                    st_err_name((st_err_t)v));
        CU_ASSERT_TRUE(wire_code_named(v));
    }
    CU_ASSERT_EQUAL(seen, n);
    /* and every strata.ErrorCode of the proto */
    const ProtobufCEnumDescriptor *d = &strata__error_code__descriptor;
    for (unsigned i = 0; i < d->n_values; i++) {
        if (d->values[i].value == 0)
            continue;
        CU_ASSERT_TRUE(wire_code_named(d->values[i].value));
        CU_ASSERT_STRING_EQUAL(strata_err_name((strata_err_t)d->values[i].value), d->values[i].name);
    }
    CU_ASSERT_STRING_EQUAL(strata_err_name(STRATA_ERR_REBALANCE_IN_PROGRESS), "REBALANCE_IN_PROGRESS");
    CU_ASSERT_STRING_EQUAL(strata_err_name(STRATA_ERR_DUPLICATE_SEQUENCE_NUMBER),
                           "DUPLICATE_SEQUENCE_NUMBER");
}

static void test_err_names(void)
{
    CU_ASSERT_STRING_EQUAL(strata_err_name(STRATA_ERR_NOT_LEADER_OR_FOLLOWER), "NOT_LEADER_OR_FOLLOWER");
    CU_ASSERT_STRING_EQUAL(strata_err_name(STRATA_ERR_PARTITION_EOF), "PARTITION_EOF");
    CU_ASSERT_STRING_EQUAL(strata_err_name(STRATA_ERR_QUEUE_FULL), "QUEUE_FULL");
    CU_ASSERT_TRUE(strata_err_retriable(STRATA_ERR_LEADER_NOT_AVAILABLE));
    CU_ASSERT_FALSE(strata_err_retriable(STRATA_ERR_TOPIC_ALREADY_EXISTS));
}

/* Statistics callback: reports arrive every statistics.interval.ms with
 * the client's brokers and the owner's fields (no broker needs to answer). */
static pthread_mutex_t g_stats_lock = PTHREAD_MUTEX_INITIALIZER;
static int g_stats_n;
static char g_stats_last[8192];

static void stats_cb(const char *json, void *opaque)
{
    CU_ASSERT_PTR_EQUAL(opaque, &g_stats_n);
    pthread_mutex_lock(&g_stats_lock);
    g_stats_n++;
    snprintf(g_stats_last, sizeof g_stats_last, "%s", json);
    pthread_mutex_unlock(&g_stats_lock);
}

/* Wait (bounded, 5 s) for n reports; the last one parsed. */
static json_t *stats_wait(int n)
{
    for (int i = 0; i < 500; i++) {
        pthread_mutex_lock(&g_stats_lock);
        int got = g_stats_n;
        pthread_mutex_unlock(&g_stats_lock);
        if (got >= n)
            break;
        struct timespec ts = {0, 10000000};
        nanosleep(&ts, NULL);
    }
    pthread_mutex_lock(&g_stats_lock);
    json_t *j = g_stats_n >= n ? json_loads(g_stats_last, 0, NULL) : NULL;
    pthread_mutex_unlock(&g_stats_lock);
    return j;
}

static void test_stats_cb(void)
{
    strata_conf_t *c = strata_conf_new();
    char err[256];
    CU_ASSERT_EQUAL(strata_conf_set(c, "bootstrap.servers", "tcp://127.0.0.1:1", err, sizeof err), STRATA_OK);
    CU_ASSERT_EQUAL(strata_conf_set(c, "statistics.interval.ms", "50", err, sizeof err), STRATA_OK);
    strata_conf_set_stats_cb(c, stats_cb, &g_stats_n);
    g_stats_n = 0;
    strata_producer_t *p = strata_producer_new(c, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    CU_ASSERT_EQUAL(strata_producer_send(p, "t", 0, NULL, 0, "v", 1, NULL, 0, 0, NULL, NULL), STRATA_OK);
    json_t *j = stats_wait(2);
    CU_ASSERT_PTR_NOT_NULL_FATAL(j);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(j, "type")), "producer");
    json_t *brs = json_object_get(j, "brokers");
    CU_ASSERT_EQUAL(json_array_size(brs), 1);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(json_array_get(brs, 0), "url")),
                           "tcp://127.0.0.1:1");
    CU_ASSERT_EQUAL(json_is_false(json_object_get(json_array_get(brs, 0), "connected")), 1);
    CU_ASSERT(json_integer_value(json_object_get(j, "records_queued")) +
                  json_integer_value(json_object_get(j, "records_waiting_metadata")) >=
              1);
    json_decref(j);
    strata_producer_close(p, 0);

    /* a consumer reports its assignment */
    g_stats_n = 0;
    strata_consumer_t *k = strata_consumer_new(c, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(k);
    strata_tp_t tp = {.topic = "t", .partition = 3, .offset = 7};
    CU_ASSERT_EQUAL(strata_consumer_assign(k, &tp, 1), STRATA_OK);
    j = stats_wait(2);
    CU_ASSERT_PTR_NOT_NULL_FATAL(j);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(j, "type")), "consumer");
    json_t *ps = json_object_get(j, "partitions");
    CU_ASSERT_EQUAL_FATAL(json_array_size(ps), 1);
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(json_array_get(ps, 0), "partition")), 3);
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(json_array_get(ps, 0), "fetch_offset")), 7);
    json_decref(j);
    strata_consumer_close(k);

    /* off by default */
    strata_conf_t *d = strata_conf_new();
    CU_ASSERT_EQUAL(strata_conf_set(d, "bootstrap.servers", "tcp://127.0.0.1:1", err, sizeof err), STRATA_OK);
    strata_conf_set_stats_cb(d, stats_cb, &g_stats_n);
    g_stats_n = 0;
    strata_admin_t *a = strata_admin_new(d, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    struct timespec ts = {0, 200000000};
    nanosleep(&ts, NULL);
    CU_ASSERT_EQUAL(g_stats_n, 0);
    strata_admin_free(a);
    strata_conf_free(d);
    strata_conf_free(c);
}

static CU_TestInfo part_tests[] = {
    {"murmur2 Kafka vectors", test_murmur2_vectors},
    {"keyed partition mapping", test_partition_mapping},
    {"sticky keyless partition", test_sticky},
    CU_TEST_INFO_NULL,
};

static CU_TestInfo accum_tests[] = {
    {"batching by size", test_accum_size},
    {"batching by linger, flush, requeue", test_accum_linger},
    {"compressed batch", test_accum_compressed},
    CU_TEST_INFO_NULL,
};

static CU_TestInfo conf_tests[] = {
    {"defaults", test_conf_defaults},        {"set and validate", test_conf_set},
    {"bootstrap list", test_conf_bootstrap}, {"markdown reference", test_conf_markdown},
    {"error names", test_err_names},         {"every wire code named", test_err_wire_names},
    {"statistics callback", test_stats_cb},  CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    {"partitioner", NULL, NULL, NULL, NULL, part_tests},
    {"accumulator", NULL, NULL, NULL, NULL, accum_tests},
    {"config", NULL, NULL, NULL, NULL, conf_tests},
    CU_SUITE_INFO_NULL,
};

int main(void)
{
    return tu_main(suites);
}
