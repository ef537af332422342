/*
 * Unit tests of zknode (znode paths + payloads) and zkschema (JSON Schema subset
 * validator + the zk-schema set). Every encoder's output is validated
 * against its schema file read from $(srcdir)/zk-schema; every decoder is
 * fed wrong types, missing fields and hostile values, and the schema must
 * reject the same payloads the decoder rejects.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coord/zknode.h"
#include "coord/zkschema.h"
#include "tu.h"

#ifndef ZK_SCHEMA_DIR
#error "ZK_SCHEMA_DIR must name the source tree's zk-schema directory"
#endif

static zkschema_set_t *schemas;

static int suite_init(void)
{
    char err[512] = "";
    if (zkschema_set_load(ZK_SCHEMA_DIR, &schemas, err, sizeof(err)) != ST_OK) {
        fprintf(stderr, "zk-schema: %s\n", err);
        return 1;
    }
    return 0;
}

static int suite_clean(void)
{
    zkschema_set_free(schemas);
    schemas = NULL;
    return 0;
}

static void print_report(void *opaque, const char *where, const char *msg)
{
    (void)opaque;
    if (getenv("TEST_ZKP_VERBOSE") != NULL)
        fprintf(stderr, "  %s %s\n", where, msg);
}

/* Collect the last message, to assert on its wording. */
static void keep_report(void *opaque, const char *where, const char *msg)
{
    char *buf = opaque;
    snprintf(buf, 512, "%s %s", where, msg);
}

/* Number of deviations of payload at path (persistent unless eph). */
static size_t check(const char *path, const char *payload, bool eph)
{
    return zkschema_check_node(schemas, path, payload, payload ? strlen(payload) : 0, eph, print_report,
                               NULL);
}

/* ------------------------------------------------------------------ */
/* Paths                                                                */
/* ------------------------------------------------------------------ */

static void test_paths(void)
{
    char b[64];
    CU_ASSERT_EQUAL(zknode_path_broker(b, sizeof(b), 7), (int)strlen("/brokers/ids/7"));
    CU_ASSERT_STRING_EQUAL(b, "/brokers/ids/7");
    CU_ASSERT(zknode_path_topic(b, sizeof(b), "orders") > 0);
    CU_ASSERT_STRING_EQUAL(b, "/brokers/topics/orders");
    CU_ASSERT(zknode_path_partitions(b, sizeof(b), "orders") > 0);
    CU_ASSERT_STRING_EQUAL(b, "/brokers/topics/orders/partitions");
    CU_ASSERT(zknode_path_partition(b, sizeof(b), "orders", 3) > 0);
    CU_ASSERT_STRING_EQUAL(b, "/brokers/topics/orders/partitions/3");
    CU_ASSERT(zknode_path_partition_state(b, sizeof(b), "orders", 12) > 0);
    CU_ASSERT_STRING_EQUAL(b, "/brokers/topics/orders/partitions/12/state");
    CU_ASSERT(zknode_path_topic_config(b, sizeof(b), "orders") > 0);
    CU_ASSERT_STRING_EQUAL(b, "/config/topics/orders");
    CU_ASSERT(zknode_path_broker_config(b, sizeof(b), 2) > 0);
    CU_ASSERT_STRING_EQUAL(b, "/config/brokers/2");
    CU_ASSERT(zknode_path_delete_topic(b, sizeof(b), "orders") > 0);
    CU_ASSERT_STRING_EQUAL(b, "/admin/delete_topics/orders");

    /* does not fit: exactly one byte short, and exactly fitting */
    CU_ASSERT_EQUAL(zknode_path_broker(b, strlen("/brokers/ids/7"), 7), -1);
    CU_ASSERT_EQUAL(zknode_path_broker(b, strlen("/brokers/ids/7") + 1, 7), (int)strlen("/brokers/ids/7"));
    /* invalid names and ids never build a path */
    CU_ASSERT_EQUAL(zknode_path_topic(b, sizeof(b), "../x"), -1);
    CU_ASSERT_EQUAL(zknode_path_topic(b, sizeof(b), "a/b"), -1);
    CU_ASSERT_EQUAL(zknode_path_topic(b, sizeof(b), NULL), -1);
    CU_ASSERT_EQUAL(zknode_path_partition_state(b, sizeof(b), "t", -1), -1);
    CU_ASSERT_EQUAL(zknode_path_broker(b, sizeof(b), -5), -1);

    /* every path built matches the schema for its kind */
    const struct {
        const char *path;
        const char *schema;
    } m[] = {
        {"/brokers/ids/7", "broker"},
        {"/brokers/topics/orders", "topic"},
        {"/brokers/topics/orders/partitions", "partitions"},
        {"/brokers/topics/orders/partitions/3", "partitions"},
        {"/brokers/topics/orders/partitions/12/state", "partition-state"},
        {"/config/topics/orders", "topic-config"},
        {"/config/brokers/2", "broker-config"},
        {"/admin/delete_topics/orders", "delete-topic"},
        {"/cluster/id", "cluster-id"},
        {"/controller", "controller"},
        {"/controller_epoch", "controller-epoch"},
        {ZKNODE_PATH_PID_BLOCK, "latest-producer-id-block"},
        {ZKNODE_PATH_REASSIGN, "reassign-partitions"},
    };
    for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++) {
        const zkschema_entry_t *e = zkschema_set_match(schemas, m[i].path);
        CU_ASSERT_PTR_NOT_NULL_FATAL(e);
        CU_ASSERT_STRING_EQUAL(e->name, m[i].schema);
    }
    for (size_t i = 0; zknode_persistent_paths[i] != NULL; i++) {
        const zkschema_entry_t *e = zkschema_set_match(schemas, zknode_persistent_paths[i]);
        CU_ASSERT_PTR_NOT_NULL_FATAL(e);
        CU_ASSERT_STRING_EQUAL(e->name, "parents");
    }
    CU_ASSERT_PTR_NULL(zkschema_set_match(schemas, "/brokers/ids/01"));
    CU_ASSERT_PTR_NULL(zkschema_set_match(schemas, "/brokers/ids/x"));
    CU_ASSERT_PTR_NULL(zkschema_set_match(schemas, "/brokers/topics/t/partitions/0/state/x"));
    CU_ASSERT_PTR_NULL(zkschema_set_match(schemas, "/whatever"));
}

static void test_topic_names(void)
{
    char longname[251];
    CU_ASSERT(zknode_topic_name_valid("orders"));
    CU_ASSERT(zknode_topic_name_valid("a.b_c-D9"));
    CU_ASSERT(zknode_topic_name_valid("__consumer_offsets"));
    CU_ASSERT(zknode_topic_name_valid("..."));
    CU_ASSERT_FALSE(zknode_topic_name_valid(""));
    CU_ASSERT_FALSE(zknode_topic_name_valid("."));
    CU_ASSERT_FALSE(zknode_topic_name_valid(".."));
    CU_ASSERT_FALSE(zknode_topic_name_valid("a b"));
    CU_ASSERT_FALSE(zknode_topic_name_valid("a/b"));
    CU_ASSERT_FALSE(zknode_topic_name_valid("é"));
    CU_ASSERT_FALSE(zknode_topic_name_valid(NULL));
    memset(longname, 'x', 249);
    longname[249] = '\0';
    CU_ASSERT(zknode_topic_name_valid(longname));
    longname[249] = 'x';
    longname[250] = '\0';
    CU_ASSERT_FALSE(zknode_topic_name_valid(longname));
}

static void test_new_id(void)
{
    char ids[200][23];
    for (int i = 0; i < 200; i++) {
        zknode_new_id(ids[i]);
        CU_ASSERT_EQUAL(strlen(ids[i]), 22);
        CU_ASSERT(zknode_id_valid(ids[i]));
        CU_ASSERT_NOT_EQUAL(ids[i][0], '-');
        for (int j = 0; j < i; j++)
            CU_ASSERT_STRING_NOT_EQUAL(ids[i], ids[j]);
    }
    CU_ASSERT_FALSE(zknode_id_valid("short"));
    CU_ASSERT_FALSE(zknode_id_valid("OHHi6iZWTbmnQHH5FkcbQ+")); /* not base64url */
    CU_ASSERT_FALSE(zknode_id_valid("OHHi6iZWTbmnQHH5FkcbQh")); /* spare bits set */
    CU_ASSERT(zknode_id_valid("OHHi6iZWTbmnQHH5FkcbQg"));
}

/* ------------------------------------------------------------------ */
/* Encoders validate against their schemas; round trips                 */
/* ------------------------------------------------------------------ */

static void test_broker(void)
{
    char *eps[] = {"tcp://127.0.0.1:9092", "tls+tcp://127.0.0.1:9093"};
    zknode_broker_t b = {.id = 3,
                         .host = "127.0.0.1",
                         .port = 9092,
                         .endpoints = eps,
                         .n_endpoints = 2,
                         .rack = NULL,
                         .timestamp_ms = 1763686539123};
    char err[256];
    char *j = zknode_broker_encode(&b);
    CU_ASSERT_PTR_NOT_NULL_FATAL(j);
    CU_ASSERT_EQUAL(check("/brokers/ids/3", j, true), 0);
    CU_ASSERT_EQUAL(check("/brokers/ids/3", j, false), 1); /* must be ephemeral */
    CU_ASSERT_PTR_NOT_NULL(strstr(j, "\"rack\":null"));
    CU_ASSERT_PTR_NOT_NULL(strstr(j, "\"timestamp\":\"1763686539123\""));
    zknode_broker_t d;
    CU_ASSERT_EQUAL_FATAL(zknode_broker_decode(j, strlen(j), 3, &d, err, sizeof(err)), ST_OK);
    CU_ASSERT_EQUAL(d.id, 3);
    CU_ASSERT_STRING_EQUAL(d.host, "127.0.0.1");
    CU_ASSERT_EQUAL(d.port, 9092);
    CU_ASSERT_EQUAL_FATAL(d.n_endpoints, 2);
    CU_ASSERT_STRING_EQUAL(d.endpoints[1], "tls+tcp://127.0.0.1:9093");
    CU_ASSERT_PTR_NULL(d.rack);
    CU_ASSERT_EQUAL(d.timestamp_ms, 1763686539123);
    zknode_broker_free(&d);
    zknode_broker_free(&d); /* idempotent */
    free(j);

    b.rack = "r1";
    j = zknode_broker_encode(&b);
    CU_ASSERT_EQUAL(check("/brokers/ids/3", j, true), 0);
    CU_ASSERT_EQUAL_FATAL(zknode_broker_decode(j, strlen(j), 3, &d, err, sizeof(err)), ST_OK);
    CU_ASSERT_STRING_EQUAL(d.rack, "r1");
    zknode_broker_free(&d);
    free(j);
}

static void test_controller(void)
{
    zknode_controller_t c = {.broker_id = 2, .timestamp_ms = 42}, d;
    char err[256];
    char *j = zknode_controller_encode(&c);
    CU_ASSERT_EQUAL(check("/controller", j, true), 0);
    CU_ASSERT_EQUAL_FATAL(zknode_controller_decode(j, strlen(j), &d, err, sizeof(err)), ST_OK);
    CU_ASSERT_EQUAL(d.broker_id, 2);
    CU_ASSERT_EQUAL(d.timestamp_ms, 42);
    free(j);

    int32_t e = -1;
    j = zknode_epoch_encode(17);
    CU_ASSERT_STRING_EQUAL(j, "17");
    CU_ASSERT_EQUAL(check("/controller_epoch", j, false), 0);
    CU_ASSERT_EQUAL(zknode_epoch_decode(j, strlen(j), &e), ST_OK);
    CU_ASSERT_EQUAL(e, 17);
    free(j);
    const char *bad[] = {"-1", "1.5", "\"3\"", "abc", "", "[1]", "3 4", "4294967296", "null"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        CU_ASSERT_EQUAL(zknode_epoch_decode(bad[i], strlen(bad[i]), &e), ST_ERR_CORRUPT);
        CU_ASSERT(check("/controller_epoch", bad[i], false) > 0);
    }
    CU_ASSERT_EQUAL(zknode_epoch_decode(NULL, 0, &e), ST_ERR_CORRUPT);
}

static void test_topic(void)
{
    int32_t r0[] = {1, 2, 3}, r1[] = {2, 3, 1}, r2[] = {3, 1, 2};
    int32_t *reps[] = {r0, r1, r2};
    int32_t nreps[] = {3, 3, 3};
    zknode_topic_t t = {.n_partitions = 3, .replicas = reps, .n_replicas = nreps}, d;
    char err[256];
    zknode_new_id(t.topic_id);
    char *j = zknode_topic_encode(&t);
    CU_ASSERT_EQUAL(check("/brokers/topics/orders", j, false), 0);
    CU_ASSERT_EQUAL_FATAL(zknode_topic_decode(j, strlen(j), &d, err, sizeof(err)), ST_OK);
    CU_ASSERT_STRING_EQUAL(d.topic_id, t.topic_id);
    CU_ASSERT_EQUAL_FATAL(d.n_partitions, 3);
    for (int p = 0; p < 3; p++) {
        CU_ASSERT_EQUAL_FATAL(d.n_replicas[p], 3);
        CU_ASSERT_EQUAL(memcmp(d.replicas[p], reps[p], sizeof(r0)), 0);
    }
    zknode_topic_free(&d);
    free(j);

    /* no topic id: omitted, still valid, decodes to "" */
    t.topic_id[0] = '\0';
    j = zknode_topic_encode(&t);
    CU_ASSERT_PTR_NULL(strstr(j, "topic_id"));
    CU_ASSERT_EQUAL(check("/brokers/topics/orders", j, false), 0);
    CU_ASSERT_EQUAL_FATAL(zknode_topic_decode(j, strlen(j), &d, err, sizeof(err)), ST_OK);
    CU_ASSERT_STRING_EQUAL(d.topic_id, "");
    zknode_topic_free(&d);
    free(j);

    /* hand-written by an operator, keys out of order */
    const char *hand = "{\"version\":1,\"partitions\":{\"1\":[2],\"0\":[1]}}";
    CU_ASSERT_EQUAL_FATAL(zknode_topic_decode(hand, strlen(hand), &d, err, sizeof(err)), ST_OK);
    CU_ASSERT_EQUAL(d.replicas[0][0], 1);
    CU_ASSERT_EQUAL(d.replicas[1][0], 2);
    zknode_topic_free(&d);
}

static void test_part_state(void)
{
    int32_t isr[] = {1, 3};
    zknode_part_state_t s = {.leader = 1, .leader_epoch = 5, .controller_epoch = 2, .isr = isr, .n_isr = 2},
                        d;
    char err[256];
    char *j = zknode_part_state_encode(&s);
    CU_ASSERT_EQUAL(check("/brokers/topics/t/partitions/0/state", j, false), 0);
    CU_ASSERT_EQUAL_FATAL(zknode_part_state_decode(j, strlen(j), &d, err, sizeof(err)), ST_OK);
    CU_ASSERT_EQUAL(d.leader, 1);
    CU_ASSERT_EQUAL(d.leader_epoch, 5);
    CU_ASSERT_EQUAL(d.controller_epoch, 2);
    CU_ASSERT_EQUAL_FATAL(d.n_isr, 2);
    CU_ASSERT_EQUAL(d.isr[1], 3);
    zknode_part_state_free(&d);
    free(j);

    /* offline partition */
    s.leader = -1;
    s.n_isr = 0;
    j = zknode_part_state_encode(&s);
    CU_ASSERT_EQUAL(check("/brokers/topics/t/partitions/0/state", j, false), 0);
    CU_ASSERT_EQUAL_FATAL(zknode_part_state_decode(j, strlen(j), &d, err, sizeof(err)), ST_OK);
    CU_ASSERT_EQUAL(d.leader, -1);
    CU_ASSERT_EQUAL(d.n_isr, 0);
    zknode_part_state_free(&d);
    free(j);
}

static void test_config(void)
{
    char *keys[] = {"retention.ms", "cleanup.policy"}, *vals[] = {"86400000", "delete"};
    zknode_config_t c = {.n = 2, .keys = keys, .values = vals}, d;
    char err[256];
    char *j = zknode_config_encode(&c);
    CU_ASSERT_EQUAL(check("/config/topics/orders", j, false), 0);
    CU_ASSERT_EQUAL(check("/config/brokers/1", j, false), 0);
    CU_ASSERT_EQUAL_FATAL(zknode_config_decode(j, strlen(j), &d, err, sizeof(err)), ST_OK);
    CU_ASSERT_EQUAL_FATAL(d.n, 2);
    CU_ASSERT_STRING_EQUAL(d.keys[0], "retention.ms");
    CU_ASSERT_STRING_EQUAL(d.values[0], "86400000");
    CU_ASSERT_STRING_EQUAL(d.keys[1], "cleanup.policy");
    zknode_config_free(&d);
    free(j);

    zknode_config_t empty = {0};
    j = zknode_config_encode(&empty);
    CU_ASSERT_STRING_EQUAL(j, "{\"version\":1,\"config\":{}}");
    CU_ASSERT_EQUAL(check("/config/topics/orders", j, false), 0);
    CU_ASSERT_EQUAL(zknode_config_decode(j, strlen(j), &d, err, sizeof(err)), ST_OK);
    CU_ASSERT_EQUAL(d.n, 0);
    zknode_config_free(&d);
    free(j);
}

static void test_cluster_id(void)
{
    char id[23], out[23];
    zknode_new_id(id);
    char *j = zknode_cluster_id_encode(id);
    CU_ASSERT_EQUAL(check("/cluster/id", j, false), 0);
    CU_ASSERT_EQUAL(zknode_cluster_id_decode(j, strlen(j), out, sizeof(out)), ST_OK);
    CU_ASSERT_STRING_EQUAL(out, id);
    CU_ASSERT_EQUAL(zknode_cluster_id_decode(j, strlen(j), out, 10), ST_ERR_INVALID_ARG);
    free(j);
    const char *bad[] = {"{\"version\":1,\"id\":\"OHHi6iZWTbmnQHH5FkcbQg\"}",
                         "{\"version\":\"1\"}",
                         "{\"version\":\"1\",\"id\":\"x\"}",
                         "{\"version\":\"1\",\"id\":7}",
                         "[]",
                         "nope"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        CU_ASSERT_EQUAL(zknode_cluster_id_decode(bad[i], strlen(bad[i]), out, sizeof(out)), ST_ERR_CORRUPT);
        CU_ASSERT(check("/cluster/id", bad[i], false) > 0);
    }
}

/* ------------------------------------------------------------------ */
/* Decoders reject bad payloads; the schema rejects the same ones        */
/* ------------------------------------------------------------------ */

static void test_decoders_reject(void)
{
    char err[256];
    const char *bad_broker[] = {
        "",
        "not json",
        "[]",
        "{\"host\":\"h\",\"port\":1,\"endpoints\":[\"tcp://h:1\"],\"timestamp\":\"1\"}", /* no version */
        "{\"version\":1,\"port\":1,\"endpoints\":[\"tcp://h:1\"],\"timestamp\":\"1\"}",  /* no host */
        "{\"version\":1,\"host\":5,\"port\":1,\"endpoints\":[\"tcp://h:1\"],\"timestamp\":\"1\"}",
        "{\"version\":1,\"host\":\"h\",\"port\":\"1\",\"endpoints\":[\"tcp://h:1\"],\"timestamp\":\"1\"}",
        "{\"version\":1,\"host\":\"h\",\"port\":70000,\"endpoints\":[\"tcp://h:1\"],\"timestamp\":\"1\"}",
        "{\"version\":1,\"host\":\"h\",\"port\":-1,\"endpoints\":[\"tcp://h:1\"],\"timestamp\":\"1\"}",
        "{\"version\":1,\"host\":\"h\",\"port\":1,\"endpoints\":[],\"timestamp\":\"1\"}",
        "{\"version\":1,\"host\":\"h\",\"port\":1,\"endpoints\":[3],\"timestamp\":\"1\"}",
        "{\"version\":1,\"host\":\"h\",\"port\":1,\"endpoints\":\"tcp://h:1\",\"timestamp\":\"1\"}",
        "{\"version\":1,\"host\":\"h\",\"port\":1,\"endpoints\":[\"tcp://h:1\"],\"timestamp\":1}",
        "{\"version\":1,\"host\":\"h\",\"port\":1,\"endpoints\":[\"tcp://h:1\"],\"timestamp\":\"12x\"}",
        "{\"version\":1,\"host\":\"h\",\"port\":1,\"endpoints\":[\"tcp://"
        "h:1\"],\"timestamp\":\"99999999999999999999\"}",
        "{\"version\":1,\"host\":\"h\",\"port\":1,\"endpoints\":[\"tcp://"
        "h:1\"],\"rack\":3,\"timestamp\":\"1\"}",
        "{\"version\":1,\"version\":1,\"host\":\"h\",\"port\":1,\"endpoints\":[\"tcp://"
        "h:1\"],\"timestamp\":\"1\"}",
    };
    for (size_t i = 0; i < sizeof(bad_broker) / sizeof(bad_broker[0]); i++) {
        zknode_broker_t b;
        err[0] = '\0';
        CU_ASSERT_EQUAL(zknode_broker_decode(bad_broker[i], strlen(bad_broker[i]), 1, &b, err, sizeof(err)),
                        ST_ERR_CORRUPT);
        CU_ASSERT(err[0] != '\0');
        CU_ASSERT_PTR_NULL(b.host);
        CU_ASSERT(check("/brokers/ids/1", bad_broker[i], true) > 0);
    }
    const char *ok_broker =
        "{\"version\":1,\"host\":\"h\",\"port\":1,\"endpoints\":[\"tcp://h:1\"],\"timestamp\":\"1\"}";
    zknode_broker_t b;
    CU_ASSERT_EQUAL(zknode_broker_decode(ok_broker, strlen(ok_broker), -1, &b, err, sizeof(err)),
                    ST_ERR_CORRUPT);

    const char *bad_ctl[] = {"{}",
                             "{\"version\":1,\"brokerid\":-1,\"timestamp\":\"1\"}",
                             "{\"version\":1,\"brokerid\":\"1\",\"timestamp\":\"1\"}",
                             "{\"version\":1,\"brokerid\":1}",
                             "{\"version\":0,\"brokerid\":1,\"timestamp\":\"1\"}",
                             "{\"version\":1,\"brokerid\":1.0,\"timestamp\":\"1\"}",
                             "1"};
    for (size_t i = 0; i < sizeof(bad_ctl) / sizeof(bad_ctl[0]); i++) {
        zknode_controller_t c;
        CU_ASSERT_EQUAL(zknode_controller_decode(bad_ctl[i], strlen(bad_ctl[i]), &c, err, sizeof(err)),
                        ST_ERR_CORRUPT);
        CU_ASSERT(check("/controller", bad_ctl[i], true) > 0);
    }

    /* topic: the first ones the schema also rejects; the rest only the
     * decoder can see (partition numbering is not expressible). */
    const char *bad_topic[] = {
        "{\"partitions\":{\"0\":[1]}}",
        "{\"version\":2}",
        "{\"version\":2,\"partitions\":{}}",
        "{\"version\":2,\"partitions\":[[1]]}",
        "{\"version\":2,\"partitions\":{\"0\":[]}}",
        "{\"version\":2,\"partitions\":{\"0\":[1,1]}}",
        "{\"version\":2,\"partitions\":{\"0\":[-1]}}",
        "{\"version\":2,\"partitions\":{\"0\":[\"1\"]}}",
        "{\"version\":2,\"partitions\":{\"0\":1}}",
        "{\"version\":2,\"partitions\":{\"00\":[1]}}",
        "{\"version\":2,\"partitions\":{\"x\":[1]}}",
        "{\"version\":2,\"partitions\":{\"-1\":[1]}}",
        "{\"version\":2,\"topic_id\":\"short\",\"partitions\":{\"0\":[1]}}",
        "{\"version\":2,\"topic_id\":5,\"partitions\":{\"0\":[1]}}",
        "{\"version\":2,\"partitions\":{\"0\":[2147483648]}}",
    };
    for (size_t i = 0; i < sizeof(bad_topic) / sizeof(bad_topic[0]); i++) {
        zknode_topic_t t;
        CU_ASSERT_EQUAL(zknode_topic_decode(bad_topic[i], strlen(bad_topic[i]), &t, err, sizeof(err)),
                        ST_ERR_CORRUPT);
        CU_ASSERT_PTR_NULL(t.replicas);
        CU_ASSERT(check("/brokers/topics/t", bad_topic[i], false) > 0);
    }
    const char *gap_topic[] = {"{\"version\":2,\"partitions\":{\"1\":[1]}}",
                               "{\"version\":2,\"partitions\":{\"0\":[1],\"2\":[1]}}"};
    for (size_t i = 0; i < 2; i++) {
        zknode_topic_t t;
        CU_ASSERT_EQUAL(zknode_topic_decode(gap_topic[i], strlen(gap_topic[i]), &t, err, sizeof(err)),
                        ST_ERR_CORRUPT);
        CU_ASSERT_PTR_NOT_NULL(strstr(err, "partition key"));
    }

    const char *bad_state[] = {
        "{\"leader\":1,\"leader_epoch\":0,\"isr\":[1],\"controller_epoch\":1}",
        "{\"version\":1,\"leader\":-2,\"leader_epoch\":0,\"isr\":[1],\"controller_epoch\":1}",
        "{\"version\":1,\"leader\":1,\"leader_epoch\":-1,\"isr\":[1],\"controller_epoch\":1}",
        "{\"version\":1,\"leader\":1,\"leader_epoch\":0,\"controller_epoch\":1}",
        "{\"version\":1,\"leader\":1,\"leader_epoch\":0,\"isr\":[1,1],\"controller_epoch\":1}",
        "{\"version\":1,\"leader\":1,\"leader_epoch\":0,\"isr\":1,\"controller_epoch\":1}",
        "{\"version\":1,\"leader\":1,\"leader_epoch\":0,\"isr\":[1]}",
        "{\"version\":1,\"leader\":\"1\",\"leader_epoch\":0,\"isr\":[1],\"controller_epoch\":1}",
        "{\"version\":1,\"leader\":1,\"leader_epoch\":0,\"isr\":[null],\"controller_epoch\":1}",
    };
    for (size_t i = 0; i < sizeof(bad_state) / sizeof(bad_state[0]); i++) {
        zknode_part_state_t s;
        CU_ASSERT_EQUAL(zknode_part_state_decode(bad_state[i], strlen(bad_state[i]), &s, err, sizeof(err)),
                        ST_ERR_CORRUPT);
        CU_ASSERT_PTR_NULL(s.isr);
        CU_ASSERT(check("/brokers/topics/t/partitions/0/state", bad_state[i], false) > 0);
    }

    const char *bad_cfg[] = {"{\"version\":1}", "{\"version\":1,\"config\":[]}",
                             "{\"version\":1,\"config\":{\"retention.ms\":86400000}}",
                             "{\"version\":1,\"config\":{\"a\":\"1\",\"b\":null}}", "{\"config\":{}}"};
    for (size_t i = 0; i < sizeof(bad_cfg) / sizeof(bad_cfg[0]); i++) {
        zknode_config_t c;
        CU_ASSERT_EQUAL(zknode_config_decode(bad_cfg[i], strlen(bad_cfg[i]), &c, err, sizeof(err)),
                        ST_ERR_CORRUPT);
        CU_ASSERT_EQUAL(c.n, 0);
        CU_ASSERT(check("/config/topics/t", bad_cfg[i], false) > 0);
    }
}

/* ------------------------------------------------------------------ */
/* The schema files themselves                                          */
/* ------------------------------------------------------------------ */

static void test_schema_files(void)
{
    CU_ASSERT(zkschema_set_count(schemas) >= 11);
    for (size_t i = 0; i < zkschema_set_count(schemas); i++) {
        const zkschema_entry_t *e = zkschema_set_entry(schemas, i);
        CU_ASSERT_EQUAL(zkschema_lint(e->schema, print_report, NULL), 0);
        const json_t *ex = json_object_get(e->schema, "examples");
        CU_ASSERT(json_array_size(ex) > 0);
        size_t k;
        json_t *v;
        json_array_foreach(ex, k, v)
        {
            CU_ASSERT_EQUAL(zkschema_validate(e->schema, v, "$", print_report, NULL), 0);
        }
        CU_ASSERT_PTR_NOT_NULL(json_object_get(e->schema, "x-strata-written-by"));
        CU_ASSERT_PTR_NOT_NULL(json_object_get(e->schema, "x-strata-watched-by"));
        CU_ASSERT_PTR_NOT_NULL(json_object_get(e->schema, "description"));
    }
    /* Container znodes carry no payload; JSON there is a deviation. */
    CU_ASSERT_EQUAL(check("/brokers", NULL, false), 0);
    CU_ASSERT_EQUAL(check("/brokers", "", false), 0);
    CU_ASSERT_EQUAL(check("/brokers", "{}", false), 1);
    CU_ASSERT_EQUAL(check("/admin/delete_topics/t", NULL, false), 0);
    CU_ASSERT_EQUAL(check("/brokers/topics/t/partitions/0", NULL, false), 0);
    /* A JSON payload that is empty is reported (null is not an object). */
    CU_ASSERT(check("/brokers/topics/t", NULL, false) > 0);
    /* unknown znode */
    char last[512] = "";
    CU_ASSERT_EQUAL(zkschema_check_node(schemas, "/brokers/junk", NULL, 0, false, keep_report, last), 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(last, "/brokers/junk unknown znode"));
    /* a wrong type names the field */
    const char *st = "{\"version\":1,\"leader\":\"x\",\"leader_epoch\":0,\"isr\":[1],\"controller_epoch\":1}";
    CU_ASSERT_EQUAL(zkschema_check_node(schemas, "/brokers/topics/t/partitions/0/state", st, strlen(st),
                                        false, keep_report, last),
                    1);
    CU_ASSERT_PTR_NOT_NULL(strstr(last, "$.leader: is string, expected integer"));
    /* a payload that does not parse */
    CU_ASSERT_EQUAL(zkschema_check_node(schemas, "/controller", "{", 1, true, keep_report, last), 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(last, "not JSON"));
}

static bool exists_in(void *opaque, const char *path)
{
    const char *const *list = opaque;
    for (size_t i = 0; list[i] != NULL; i++)
        if (strcmp(list[i], path) == 0)
            return true;
    return false;
}

static void test_required(void)
{
    const char *all[16];
    size_t n = 0;
    for (size_t i = 0; zknode_persistent_paths[i] != NULL; i++)
        all[n++] = zknode_persistent_paths[i];
    all[n++] = ZKNODE_PATH_CLUSTER_ID;
    all[n] = NULL;
    CU_ASSERT_EQUAL(zkschema_check_required(schemas, exists_in, all, print_report, NULL), 0);
    all[n - 1] = NULL; /* drop /cluster/id */
    char last[512] = "";
    CU_ASSERT_EQUAL(zkschema_check_required(schemas, exists_in, all, keep_report, last), 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(last, "/cluster/id"));
    const char *none[] = {NULL};
    CU_ASSERT_EQUAL(zkschema_check_required(schemas, exists_in, none, NULL, NULL), n);
}

static void test_load_errors(void)
{
    char err[512];
    zkschema_set_t *s = (zkschema_set_t *)1;
    CU_ASSERT_EQUAL(zkschema_set_load("/nonexistent-dir-zkschema", &s, err, sizeof(err)), ST_ERR_NOT_FOUND);
    CU_ASSERT_PTR_NULL(s);

    char *dir = tu_tmpdir("zkschema");
    char path[1024];
    snprintf(path, sizeof(path), "%s/x.schema.json", dir);
    FILE *f = fopen(path, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs("{\"x-strata-path\":\"/x\",\"x-strata-path-regex\":\"^/x$\",\"x-strata-kind\":\"persistent\","
          "\"type\":\"object\",\"requried\":[\"a\"]}",
          f);
    fclose(f);
    CU_ASSERT_EQUAL(zkschema_set_load(dir, &s, err, sizeof(err)), ST_ERR_CORRUPT);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "requried"));
    f = fopen(path, "w");
    fputs("{\"x-strata-path\":\"/x\",\"x-strata-path-regex\":\"^/x$\",\"x-strata-kind\":\"sometimes\"}", f);
    fclose(f);
    CU_ASSERT_EQUAL(zkschema_set_load(dir, &s, err, sizeof(err)), ST_ERR_CORRUPT);
    f = fopen(path, "w");
    fputs("{\"x-strata-path\":\"/x\",\"x-strata-path-regex\":\"^/x$\",\"x-strata-kind\":\"persistent\"}", f);
    fclose(f);
    CU_ASSERT_EQUAL_FATAL(zkschema_set_load(dir, &s, err, sizeof(err)), ST_OK);
    CU_ASSERT_EQUAL(zkschema_set_count(s), 1);
    CU_ASSERT_STRING_EQUAL(zkschema_set_entry(s, 0)->name, "x");
    zkschema_set_free(s);
    tu_rmrf(dir);
    free(dir);
}

/* ------------------------------------------------------------------ */
/* Validator keywords                                                   */
/* ------------------------------------------------------------------ */

/* Deviations of instance (JSON text) against schema (JSON text). */
static size_t v(const char *schema, const char *instance)
{
    json_error_t je;
    json_t *s = json_loads(schema, JSON_DECODE_ANY, &je);
    json_t *i = json_loads(instance, JSON_DECODE_ANY, &je);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_PTR_NOT_NULL_FATAL(i);
    size_t n = zkschema_validate(s, i, "$", print_report, NULL);
    json_decref(s);
    json_decref(i);
    return n;
}

static void test_validator(void)
{
    CU_ASSERT_EQUAL(v("{\"type\":\"integer\"}", "3"), 0);
    CU_ASSERT_EQUAL(v("{\"type\":\"integer\"}", "3.5"), 1);
    CU_ASSERT_EQUAL(v("{\"type\":\"number\"}", "3"), 0);
    CU_ASSERT_EQUAL(v("{\"type\":\"number\"}", "3.5"), 0);
    CU_ASSERT_EQUAL(v("{\"type\":\"boolean\"}", "false"), 0);
    CU_ASSERT_EQUAL(v("{\"type\":\"null\"}", "0"), 1);
    CU_ASSERT_EQUAL(v("{\"type\":[\"string\",\"null\"]}", "null"), 0);
    CU_ASSERT_EQUAL(v("{\"type\":[\"string\",\"null\"]}", "\"a\""), 0);
    CU_ASSERT_EQUAL(v("{\"type\":[\"string\",\"null\"]}", "1"), 1);
    CU_ASSERT_EQUAL(v("true", "1"), 0);
    CU_ASSERT_EQUAL(v("false", "1"), 1);

    const char *obj = "{\"type\":\"object\",\"required\":[\"a\",\"b\"],"
                      "\"properties\":{\"a\":{\"type\":\"integer\",\"minimum\":0,\"maximum\":10}},"
                      "\"patternProperties\":{\"^x[0-9]+$\":{\"type\":\"string\"}},"
                      "\"additionalProperties\":{\"type\":\"boolean\"}}";
    CU_ASSERT_EQUAL(v(obj, "{\"a\":1,\"b\":true}"), 0);
    CU_ASSERT_EQUAL(v(obj, "{\"a\":1}"), 1);             /* b missing */
    CU_ASSERT_EQUAL(v(obj, "{}"), 2);                    /* both missing */
    CU_ASSERT_EQUAL(v(obj, "{\"a\":11,\"b\":true}"), 1); /* maximum */
    CU_ASSERT_EQUAL(v(obj, "{\"a\":-1,\"b\":true}"), 1); /* minimum */
    CU_ASSERT_EQUAL(v(obj, "{\"a\":1,\"b\":1}"), 1);     /* additionalProperties schema */
    CU_ASSERT_EQUAL(v(obj, "{\"a\":1,\"b\":true,\"x12\":\"s\"}"), 0);
    CU_ASSERT_EQUAL(v(obj, "{\"a\":1,\"b\":true,\"x12\":3}"), 1); /* patternProperties */
    CU_ASSERT_EQUAL(v(obj, "[]"), 1);
    CU_ASSERT_EQUAL(v("{\"additionalProperties\":false,\"properties\":{\"a\":true}}", "{\"a\":1,\"c\":2}"),
                    1);
    CU_ASSERT_EQUAL(v("{\"minProperties\":1,\"maxProperties\":2}", "{}"), 1);
    CU_ASSERT_EQUAL(v("{\"minProperties\":1,\"maxProperties\":2}", "{\"a\":1,\"b\":2,\"c\":3}"), 1);

    const char *arr = "{\"type\":\"array\",\"minItems\":1,\"maxItems\":3,\"uniqueItems\":true,"
                      "\"items\":{\"type\":\"integer\"}}";
    CU_ASSERT_EQUAL(v(arr, "[1,2,3]"), 0);
    CU_ASSERT_EQUAL(v(arr, "[]"), 1);
    CU_ASSERT_EQUAL(v(arr, "[1,2,3,4]"), 1);
    CU_ASSERT_EQUAL(v(arr, "[1,1]"), 1);
    CU_ASSERT_EQUAL(v(arr, "[1,\"2\",3.5]"), 2);

    CU_ASSERT_EQUAL(v("{\"enum\":[1,\"a\",null]}", "\"a\""), 0);
    CU_ASSERT_EQUAL(v("{\"enum\":[1,\"a\",null]}", "2"), 1);
    CU_ASSERT_EQUAL(v("{\"const\":{\"k\":[1]}}", "{\"k\":[1]}"), 0);
    CU_ASSERT_EQUAL(v("{\"const\":{\"k\":[1]}}", "{\"k\":[2]}"), 1);
    CU_ASSERT_EQUAL(v("{\"pattern\":\"^[0-9]+$\"}", "\"123\""), 0);
    CU_ASSERT_EQUAL(v("{\"pattern\":\"^[0-9]+$\"}", "\"12a\""), 1);
    CU_ASSERT_EQUAL(v("{\"pattern\":\"^[0-9]+$\"}", "12"), 0); /* pattern applies to strings only */
    CU_ASSERT_EQUAL(v("{\"pattern\":\"([\"}", "\"x\""), 1);    /* bad regex is reported */
    CU_ASSERT_EQUAL(v("{\"minLength\":2,\"maxLength\":3}", "\"\xc3\xa9\xc3\xa9\""), 0); /* 2 code points */
    CU_ASSERT_EQUAL(v("{\"minLength\":2}", "\"a\""), 1);
    CU_ASSERT_EQUAL(v("{\"maxLength\":3}", "\"abcd\""), 1);
    CU_ASSERT_EQUAL(v("{\"minimum\":1.5}", "1"), 1);
    CU_ASSERT_EQUAL(v("{\"maximum\":9007199254740993}", "9007199254740993"), 0); /* exact for integers */

    /* nested locations appear in messages */
    char last[512] = "";
    json_t *s = json_loads("{\"properties\":{\"a\":{\"items\":{\"type\":\"string\"}}}}", 0, NULL);
    json_t *i = json_loads("{\"a\":[\"x\",2]}", 0, NULL);
    CU_ASSERT_EQUAL(zkschema_validate(s, i, "$", keep_report, last), 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(last, "$.a[1]: is integer, expected string"));
    json_decref(s);
    json_decref(i);

    /* lint */
    s = json_loads("{\"type\":\"strng\",\"requried\":[],\"items\":[{}],\"minItems\":-1,\"pattern\":\"(\"}", 0,
                   NULL);
    CU_ASSERT_EQUAL(zkschema_lint(s, print_report, NULL), 5);
    json_decref(s);
    s = json_loads("{\"title\":\"t\",\"x-any\":1,\"type\":[\"string\",\"null\"],\"examples\":[1]}", 0, NULL);
    CU_ASSERT_EQUAL(zkschema_lint(s, print_report, NULL), 0);
    json_decref(s);
}

static void test_pid_block(void)
{
    zknode_pid_block_t b = {.broker = 3, .block_start = 5000, .block_end = 5999}, d;
    char err[256];
    char *j = zknode_pid_block_encode(&b);
    CU_ASSERT_PTR_NOT_NULL_FATAL(j);
    CU_ASSERT_STRING_EQUAL(j, "{\"version\":1,\"broker\":3,\"block_start\":\"5000\",\"block_end\":\"5999\"}");
    CU_ASSERT_EQUAL(check(ZKNODE_PATH_PID_BLOCK, j, false), 0);
    CU_ASSERT_EQUAL(check(ZKNODE_PATH_PID_BLOCK, j, true), 1); /* persistent */
    CU_ASSERT_EQUAL_FATAL(zknode_pid_block_decode(j, strlen(j), &d, err, sizeof(err)), ST_OK);
    CU_ASSERT_EQUAL(d.broker, 3);
    CU_ASSERT_EQUAL(d.block_start, 5000);
    CU_ASSERT_EQUAL(d.block_end, 5999);
    free(j);
    /* the largest ids still fit */
    b.block_start = INT64_MAX - 999;
    b.block_end = INT64_MAX;
    j = zknode_pid_block_encode(&b);
    CU_ASSERT_EQUAL(check(ZKNODE_PATH_PID_BLOCK, j, false), 0);
    CU_ASSERT_EQUAL(zknode_pid_block_decode(j, strlen(j), &d, err, sizeof(err)), ST_OK);
    CU_ASSERT_EQUAL(d.block_end, INT64_MAX);
    free(j);

    /* rejected by both the schema and the decoder */
    const char *bad[] = {
        "{\"version\":1,\"broker\":1,\"block_start\":0,\"block_end\":\"999\"}", /* number, not string */
        "{\"version\":1,\"broker\":1,\"block_start\":\"-1\",\"block_end\":\"999\"}",
        "{\"version\":1,\"broker\":-1,\"block_start\":\"0\",\"block_end\":\"999\"}",
        "{\"version\":2,\"broker\":1,\"block_start\":\"0\",\"block_end\":\"999\"}",
        "{\"version\":1,\"broker\":1,\"block_start\":\"0\"}",
        "{\"version\":1,\"broker\":1,\"block_start\":\"\",\"block_end\":\"999\"}",
        "{\"version\":1,\"broker\":1,\"block_start\":\"0\",\"block_end\":\"99999999999999999999\"}",
        "[]",
        "",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        CU_ASSERT_EQUAL(zknode_pid_block_decode(bad[i], strlen(bad[i]), &d, err, sizeof(err)),
                        ST_ERR_CORRUPT);
        CU_ASSERT(check(ZKNODE_PATH_PID_BLOCK, bad[i], false) > 0);
    }
    /* schema-clean but refused by the decoder: start after end (strata zk
     * check reports it through the decoder) */
    const char *rev = "{\"version\":1,\"broker\":1,\"block_start\":\"1000\",\"block_end\":\"999\"}";
    CU_ASSERT_EQUAL(check(ZKNODE_PATH_PID_BLOCK, rev, false), 0);
    CU_ASSERT_EQUAL(zknode_pid_block_decode(rev, strlen(rev), &d, err, sizeof(err)), ST_ERR_CORRUPT);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "block_start"));
}

static void test_reassign(void)
{
    int32_t r0[] = {2, 3, 4}, r1[] = {1};
    zknode_reassign_part_t parts[] = {
        {.topic = "orders", .partition = 0, .replicas = r0, .n_replicas = 3},
        {.topic = "audit.log", .partition = 7, .replicas = r1, .n_replicas = 1},
    };
    zknode_reassign_t r = {.parts = parts, .n = 2}, d;
    char err[256];
    char *j = zknode_reassign_encode(&r);
    CU_ASSERT_PTR_NOT_NULL_FATAL(j);
    CU_ASSERT_STRING_EQUAL(
        j, "{\"version\":1,\"partitions\":[{\"topic\":\"orders\",\"partition\":0,\"replicas\":[2,3,4]},"
           "{\"topic\":\"audit.log\",\"partition\":7,\"replicas\":[1]}]}");
    CU_ASSERT_EQUAL(check(ZKNODE_PATH_REASSIGN, j, false), 0);
    CU_ASSERT_EQUAL_FATAL(zknode_reassign_decode(j, strlen(j), &d, err, sizeof(err)), ST_OK);
    CU_ASSERT_EQUAL_FATAL(d.n, 2);
    CU_ASSERT_STRING_EQUAL(d.parts[1].topic, "audit.log");
    CU_ASSERT_EQUAL(d.parts[1].partition, 7);
    CU_ASSERT_EQUAL_FATAL(d.parts[0].n_replicas, 3);
    CU_ASSERT_EQUAL(memcmp(d.parts[0].replicas, r0, sizeof(r0)), 0);
    zknode_reassign_free(&d);
    zknode_reassign_free(&d); /* idempotent */
    free(j);

    /* as Kafka's tools write it: log_dirs accepted; an empty list is valid */
    const char *kafka = "{\"version\":1,\"partitions\":[{\"topic\":\"t\",\"partition\":1,\"replicas\":[1,2],"
                        "\"log_dirs\":[\"any\",\"any\"]}]}";
    CU_ASSERT_EQUAL(check(ZKNODE_PATH_REASSIGN, kafka, false), 0);
    CU_ASSERT_EQUAL(zknode_reassign_decode(kafka, strlen(kafka), &d, err, sizeof(err)), ST_OK);
    CU_ASSERT_EQUAL(d.n, 1);
    zknode_reassign_free(&d);
    const char *none = "{\"version\":1,\"partitions\":[]}";
    CU_ASSERT_EQUAL(check(ZKNODE_PATH_REASSIGN, none, false), 0);
    CU_ASSERT_EQUAL(zknode_reassign_decode(none, strlen(none), &d, err, sizeof(err)), ST_OK);
    CU_ASSERT_EQUAL(d.n, 0);
    zknode_reassign_free(&d);

    const char *bad[] = {
        "{\"version\":1,\"partitions\":[{\"topic\":\"t\",\"partition\":0,\"replicas\":[]}]}",
        "{\"version\":1,\"partitions\":[{\"topic\":\"t\",\"partition\":0,\"replicas\":[1,1]}]}",
        "{\"version\":1,\"partitions\":[{\"topic\":\"t\",\"partition\":-1,\"replicas\":[1]}]}",
        "{\"version\":1,\"partitions\":[{\"topic\":\"a/b\",\"partition\":0,\"replicas\":[1]}]}",
        "{\"version\":1,\"partitions\":[{\"partition\":0,\"replicas\":[1]}]}",
        "{\"version\":1,\"partitions\":[{\"topic\":\"t\",\"partition\":0,\"replicas\":[\"1\"]}]}",
        "{\"version\":1,\"partitions\":[{\"topic\":\"t\",\"partition\":0,\"replicas\":[1],\"x\":1}]}",
        "{\"version\":2,\"partitions\":[]}",
        "{\"version\":1,\"partitions\":{}}",
        "{\"version\":1,\"partitions\":[3]}",
        "{\"version\":1}",
        "",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        CU_ASSERT(check(ZKNODE_PATH_REASSIGN, bad[i], false) > 0);
        /* the decoder ignores unknown members ("x"), as for every znode */
        if (strstr(bad[i], "\"x\"") == NULL)
            CU_ASSERT_EQUAL(zknode_reassign_decode(bad[i], strlen(bad[i]), &d, err, sizeof(err)),
                            ST_ERR_CORRUPT);
        CU_ASSERT_EQUAL(d.n, 0);
        zknode_reassign_free(&d);
    }
    /* what the schema cannot say: a partition listed twice, "." as a topic */
    const char *sem[] = {
        "{\"version\":1,\"partitions\":[{\"topic\":\"t\",\"partition\":0,\"replicas\":[1]},"
        "{\"topic\":\"t\",\"partition\":0,\"replicas\":[2]}]}",
        "{\"version\":1,\"partitions\":[{\"topic\":\"t\",\"partition\":0,\"replicas\":[1]},"
        "{\"topic\":\"..\",\"partition\":0,\"replicas\":[2]}]}",
    };
    for (size_t i = 0; i < sizeof(sem) / sizeof(sem[0]); i++) {
        CU_ASSERT_EQUAL(check(ZKNODE_PATH_REASSIGN, sem[i], false), 0);
        CU_ASSERT_EQUAL(zknode_reassign_decode(sem[i], strlen(sem[i]), &d, err, sizeof(err)), ST_ERR_CORRUPT);
        CU_ASSERT_EQUAL(d.n, 0);
        CU_ASSERT_PTR_NULL(d.parts);
    }
}

/* Mutated payloads (flipped, dropped, duplicated bytes; cut short) go
 * through every decoder and the schema check: each must answer OK or
 * CORRUPT, never crash or leak (ASan/valgrind runs catch the rest). */
static void test_mutations(void)
{
    const char *seeds[] = {
        "{\"version\":1,\"host\":\"h\",\"port\":9092,\"endpoints\":[\"tcp://"
        "h:9092\"],\"rack\":\"r\",\"timestamp\":\"17\"}",
        "{\"version\":1,\"brokerid\":1,\"timestamp\":\"1\"}",
        "{\"version\":2,\"topic_id\":\"OHHi6iZWTbmnQHH5FkcbQg\",\"partitions\":{\"0\":[1,2],\"1\":[2,1]}}",
        "{\"version\":1,\"leader\":1,\"leader_epoch\":0,\"isr\":[1,2],\"controller_epoch\":1}",
        "{\"version\":1,\"config\":{\"a.b\":\"1\"}}",
        "{\"version\":\"1\",\"id\":\"OHHi6iZWTbmnQHH5FkcbQg\"}",
        "12",
        "{\"version\":1,\"broker\":1,\"block_start\":\"1000\",\"block_end\":\"1999\"}",
        "{\"version\":1,\"partitions\":[{\"topic\":\"t\",\"partition\":0,\"replicas\":[1,2]},"
        "{\"topic\":\"u\",\"partition\":3,\"replicas\":[2]}]}",
    };
    const char *paths[] = {
        "/brokers/ids/1",    "/controller", "/brokers/topics/t", "/brokers/topics/t/partitions/0/state",
        "/config/topics/t",  "/cluster/id", "/controller_epoch", ZKNODE_PATH_PID_BLOCK,
        ZKNODE_PATH_REASSIGN};
    const char alphabet[] = "{}[]\":,0123456789-.e\\ ntfu";
    unsigned seed = 12345;
    char buf[256], err[256], id[32];
    int ok = 0;
    for (int round = 0; round < 3000; round++) {
        size_t k = (size_t)round % (sizeof(seeds) / sizeof(seeds[0]));
        size_t n = strlen(seeds[k]);
        memcpy(buf, seeds[k], n);
        int edits = 1 + (int)(rand_r(&seed) % 4);
        for (int e = 0; e < edits && n > 1; e++) {
            size_t at = (size_t)rand_r(&seed) % n;
            switch (rand_r(&seed) % 4) {
            case 0:
                buf[at] = alphabet[rand_r(&seed) % (sizeof(alphabet) - 1)];
                break;
            case 1:
                memmove(buf + at, buf + at + 1, n - at - 1);
                n--;
                break;
            case 2:
                if (n < sizeof(buf) - 1) {
                    memmove(buf + at + 1, buf + at, n - at);
                    n++;
                }
                break;
            default:
                n = at + 1;
                break;
            }
        }
        zknode_broker_t b;
        zknode_controller_t c;
        zknode_topic_t t;
        zknode_part_state_t st;
        zknode_config_t cf;
        zknode_pid_block_t pb;
        zknode_reassign_t ra;
        int32_t ep;
        st_err_t r[9];
        r[0] = zknode_broker_decode(buf, n, 1, &b, err, sizeof(err));
        r[1] = zknode_controller_decode(buf, n, &c, err, sizeof(err));
        r[2] = zknode_topic_decode(buf, n, &t, err, sizeof(err));
        r[3] = zknode_part_state_decode(buf, n, &st, err, sizeof(err));
        r[4] = zknode_config_decode(buf, n, &cf, err, sizeof(err));
        r[5] = zknode_cluster_id_decode(buf, n, id, sizeof(id));
        r[6] = zknode_epoch_decode(buf, n, &ep);
        r[7] = zknode_pid_block_decode(buf, n, &pb, err, sizeof(err));
        r[8] = zknode_reassign_decode(buf, n, &ra, err, sizeof(err));
        for (int i = 0; i < 9; i++)
            CU_ASSERT(r[i] == ST_OK || r[i] == ST_ERR_CORRUPT);
        if (r[k] == ST_OK)
            ok++;
        /* the schema check must cope with the same bytes */
        (void)zkschema_check_node(schemas, paths[k], buf, n, k < 2, NULL, NULL);
        zknode_broker_free(&b);
        zknode_topic_free(&t);
        zknode_part_state_free(&st);
        zknode_config_free(&cf);
        zknode_reassign_free(&ra);
    }
    /* some mutations keep the payload valid (e.g. a digit changed) */
    CU_ASSERT(ok > 0);
}

int main(void)
{
    CU_TestInfo zknode_tests[] = {
        {"paths", test_paths},
        {"topic names", test_topic_names},
        {"new id", test_new_id},
        {"broker", test_broker},
        {"controller + epoch", test_controller},
        {"topic", test_topic},
        {"partition state", test_part_state},
        {"config", test_config},
        {"cluster id", test_cluster_id},
        {"producer id block", test_pid_block},
        {"reassign partitions", test_reassign},
        {"decoders reject bad payloads", test_decoders_reject},
        {"mutated payloads", test_mutations},
        CU_TEST_INFO_NULL,
    };
    CU_TestInfo zkschema_tests[] = {
        {"schema files", test_schema_files},
        {"required paths", test_required},
        {"load errors", test_load_errors},
        {"validator keywords", test_validator},
        CU_TEST_INFO_NULL,
    };
    CU_SuiteInfo suites[] = {
        {"zknode", suite_init, suite_clean, NULL, NULL, zknode_tests},
        {"zkschema", suite_init, suite_clean, NULL, NULL, zkschema_tests},
        CU_SUITE_INFO_NULL,
    };
    return tu_main(suites);
}
