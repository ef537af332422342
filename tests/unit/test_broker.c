/*
 * Unit tests of the broker control plane's pure parts: the broker/topic
 * property tables (br_config), the committed docs/configuration.md (fails
 * when it drifts from the tables: run `make docs/configuration.md`), the
 * controller's election rule (br_ctl_next_state), replica assignment
 * (br_placement_assign), the reassignment step rule (br_reassign_step), the
 * server's replica identity rule (a request is a broker's only with
 * broker_epoch > 0), over an inproc socket, and the dispatch's body
 * version check (br_api_check_version) against the schema.
 */
#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control/br_admin.h"
#include "broker/br_config.h"
#include "broker/br_api.h"
#include "broker/br_core.h"
#include "control/br_ctl.h"
#include "control/br_md.h"
#include "control/br_placement.h"
#include "broker/br_server.h"
#include "tu.h"

#ifndef ST_SRCDIR
#define ST_SRCDIR "."
#endif

/* ---------------------------------------------------------- br_config */

static char *write_props(const char *dir, const char *text)
{
    char *path = malloc(strlen(dir) + 32);
    sprintf(path, "%s/server.properties", dir);
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
    return path;
}

static void test_config_load(void)
{
    char *dir = tu_tmpdir("test_broker");
    char err[512];
    br_config_t c;
    br_config_init(&c);
    CU_ASSERT_STRING_EQUAL(c.listeners, "tcp://127.0.0.1:9092");
    CU_ASSERT_STRING_EQUAL(c.log_dirs, "/tmp/strata-logs");
    CU_ASSERT_EQUAL(c.zookeeper_session_timeout_ms, 18000);
    CU_ASSERT_EQUAL(c.message_max_bytes, 1048588);
    CU_ASSERT_EQUAL(c.socket_request_max_bytes, 104857600);
    CU_ASSERT_EQUAL(c.fetch_max_bytes, 57671680);
    CU_ASSERT_FALSE(c.auto_create_topics_enable);
    CU_ASSERT_TRUE(c.delete_topic_enable);
    CU_ASSERT_EQUAL(br_config_retention_ms(&c), 168LL * 3600000);

    char *path = write_props(dir, "broker.id=3\nzookeeper.connect=127.0.0.1:2181\nlog.retention.hours=1\n");
    char *ov[] = {"num.partitions=4", "log.retention.hours=2"};
    CU_ASSERT_EQUAL(br_config_load(&c, path, ov, 2, err, sizeof err), ST_OK);
    CU_ASSERT_EQUAL(c.broker_id, 3);
    CU_ASSERT_EQUAL(c.num_partitions, 4);
    CU_ASSERT_EQUAL(br_config_retention_ms(&c), 2LL * 3600000); /* override wins */
    char *hosts, *chroot;
    CU_ASSERT_EQUAL(br_config_zk_connect(&c, &hosts, &chroot), ST_OK);
    CU_ASSERT_STRING_EQUAL(hosts, "127.0.0.1:2181");
    CU_ASSERT_STRING_EQUAL(chroot, "/strata");
    free(hosts);
    free(chroot);
    br_config_free(&c);
    free(path);

    /* broker.id only from an override still satisfies the required check */
    br_config_init(&c);
    path = write_props(dir, "zookeeper.connect=a:1,b:2/x/y/\n");
    char *ov2[] = {"broker.id=9"};
    CU_ASSERT_EQUAL(br_config_load(&c, path, ov2, 1, err, sizeof err), ST_OK);
    CU_ASSERT_EQUAL(c.broker_id, 9);
    CU_ASSERT_EQUAL(br_config_zk_connect(&c, &hosts, &chroot), ST_OK);
    CU_ASSERT_STRING_EQUAL(hosts, "a:1,b:2");
    CU_ASSERT_STRING_EQUAL(chroot, "/x/y");
    free(hosts);
    free(chroot);
    br_config_free(&c);

    /* missing broker.id */
    br_config_init(&c);
    CU_ASSERT_EQUAL(br_config_load(&c, path, NULL, 0, err, sizeof err), ST_ERR_INVALID_CONFIG);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "broker.id"));
    br_config_free(&c);
    free(path);

    /* unknown key and bad value name the key */
    br_config_init(&c);
    path = write_props(dir, "broker.id=1\nzookeeper.connect=h:1\nlog.dirz=/x\n");
    CU_ASSERT_EQUAL(br_config_load(&c, path, NULL, 0, err, sizeof err), ST_ERR_INVALID_CONFIG);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "log.dirz"));
    br_config_free(&c);
    free(path);
    br_config_init(&c);
    path = write_props(dir, "broker.id=1\nzookeeper.connect=h:1\nnum.partitions=zero\n");
    CU_ASSERT_EQUAL(br_config_load(&c, path, NULL, 0, err, sizeof err), ST_ERR_INVALID_CONFIG);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "num.partitions"));
    br_config_free(&c);
    free(path);
    br_config_init(&c);
    path = write_props(dir, "broker.id=1\nzookeeper.connect=nohostport\n");
    CU_ASSERT_EQUAL(br_config_load(&c, path, NULL, 0, err, sizeof err), ST_ERR_INVALID_CONFIG);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "zookeeper.connect"));
    br_config_free(&c);
    free(path);
    char *bad_ov[] = {"no-equals-sign"};
    br_config_init(&c);
    CU_ASSERT_EQUAL(br_config_load(&c, NULL, bad_ov, 1, err, sizeof err), ST_ERR_INVALID_CONFIG);
    br_config_free(&c);
    tu_rmrf(dir);
    free(dir);
}

static void test_topic_config(void)
{
    br_config_t c;
    br_config_init(&c);
    char err[256];
    CU_ASSERT_EQUAL(st_conf_set(br_config_table, &c, "log.segment.bytes", "1000000", err, sizeof err), ST_OK);
    CU_ASSERT_EQUAL(st_conf_set(br_config_table, &c, "log.retention.ms", "5000", err, sizeof err), ST_OK);
    CU_ASSERT_EQUAL(st_conf_set(br_config_table, &c, "message.max.bytes", "2000", err, sizeof err), ST_OK);
    br_topic_config_t tc;
    br_topic_config_init(&tc, &c);
    CU_ASSERT_EQUAL(tc.segment_bytes, 1000000); /* defaults come from the broker */
    CU_ASSERT_EQUAL(tc.retention_ms, 5000);
    CU_ASSERT_EQUAL(tc.max_message_bytes, 2000);
    CU_ASSERT_STRING_EQUAL(tc.cleanup_policy, "delete");
    char *keys[] = {"retention.ms", "segment.bytes"};
    char *vals[] = {"-1", "4096"};
    CU_ASSERT_EQUAL(br_topic_config_apply(&tc, keys, vals, 2, err, sizeof err), ST_OK);
    sl_log_config_t lc;
    br_topic_config_to_log(&tc, &lc);
    CU_ASSERT_EQUAL(lc.retention_ms, -1);
    CU_ASSERT_EQUAL(lc.segment_bytes, 4096);
    CU_ASSERT_EQUAL(lc.max_message_bytes, 2000);
    char *bk[] = {"retention.bytes"};
    char *bv[] = {"lots"};
    CU_ASSERT_EQUAL(br_topic_config_apply(&tc, bk, bv, 1, err, sizeof err), ST_ERR_INVALID_CONFIG);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "retention.bytes"));
    char *uk[] = {"no.such"};
    CU_ASSERT_EQUAL(br_topic_config_apply(&tc, uk, bv, 1, err, sizeof err), ST_ERR_INVALID_CONFIG);
    br_topic_config_free(&tc);
    br_config_free(&c);
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = NULL;
    size_t cap = 0;
    *len = 0;
    for (;;) {
        if (*len + 4096 > cap) {
            cap = cap ? cap * 2 : 8192;
            buf = realloc(buf, cap);
        }
        size_t n = fread(buf + *len, 1, cap - *len, f);
        *len += n;
        if (n == 0)
            break;
    }
    fclose(f);
    return buf;
}

static void test_config_docs_drift(void)
{
    char *gen = NULL;
    size_t gen_len = 0;
    FILE *m = open_memstream(&gen, &gen_len);
    br_config_write_docs(m);
    fclose(m);
    size_t len = 0;
    char *committed = slurp(ST_SRCDIR "/docs/configuration.md", &len);
    CU_ASSERT_PTR_NOT_NULL_FATAL(committed);
    int same = len == gen_len && memcmp(committed, gen, len) == 0;
    if (!same)
        fprintf(stderr, "\ndocs/configuration.md is out of date: run `make docs/configuration.md`\n");
    CU_ASSERT_TRUE(same);
    CU_ASSERT_PTR_NOT_NULL(strstr(gen, "`zookeeper.connect`"));
    CU_ASSERT_PTR_NOT_NULL(strstr(gen, "## Topic properties"));
    free(committed);
    free(gen);
}

/* ------------------------------------------------------ election rule */

static const int32_t *g_live;
static size_t g_n_live;

static bool live_fn(void *arg, int32_t id)
{
    (void)arg;
    for (size_t i = 0; i < g_n_live; i++)
        if (g_live[i] == id)
            return true;
    return false;
}

static void test_election(void)
{
    int32_t replicas[] = {1, 2, 3};
    int32_t isr[] = {1, 2, 3};
    zknode_part_state_t cur = {.leader = 1, .leader_epoch = 4, .controller_epoch = 2, .isr = isr, .n_isr = 3};
    zknode_part_state_t out;

    int32_t all[] = {1, 2, 3};
    g_live = all;
    g_n_live = 3;
    CU_ASSERT_FALSE(br_ctl_next_state(&cur, replicas, 3, false, live_fn, NULL, &out)); /* nothing to do */

    /* leader 1 dies: first live ISR member in replica order, epoch bumped, 1 leaves the ISR */
    int32_t live23[] = {2, 3};
    g_live = live23;
    g_n_live = 2;
    CU_ASSERT_TRUE_FATAL(br_ctl_next_state(&cur, replicas, 3, false, live_fn, NULL, &out));
    CU_ASSERT_EQUAL(out.leader, 2);
    CU_ASSERT_EQUAL(out.leader_epoch, 5);
    CU_ASSERT_EQUAL(out.n_isr, 2);
    CU_ASSERT_EQUAL(out.isr[0], 2);
    CU_ASSERT_EQUAL(out.isr[1], 3);
    zknode_part_state_free(&out);

    /* a follower dies: leader kept, ISR shrinks, epoch bumped */
    int32_t live12[] = {1, 2};
    g_live = live12;
    g_n_live = 2;
    CU_ASSERT_TRUE_FATAL(br_ctl_next_state(&cur, replicas, 3, false, live_fn, NULL, &out));
    CU_ASSERT_EQUAL(out.leader, 1);
    CU_ASSERT_EQUAL(out.n_isr, 2);
    zknode_part_state_free(&out);

    /* only an out-of-ISR replica alive: offline unless unclean */
    int32_t isr1[] = {1};
    zknode_part_state_t cur1 = {.leader = 1, .leader_epoch = 7, .isr = isr1, .n_isr = 1};
    int32_t live3[] = {3};
    g_live = live3;
    g_n_live = 1;
    CU_ASSERT_TRUE_FATAL(br_ctl_next_state(&cur1, replicas, 3, false, live_fn, NULL, &out));
    CU_ASSERT_EQUAL(out.leader, -1);
    CU_ASSERT_EQUAL(out.leader_epoch, 8);
    CU_ASSERT_EQUAL(out.n_isr, 1); /* the last ISR is kept */
    CU_ASSERT_EQUAL(out.isr[0], 1);
    zknode_part_state_free(&out);
    CU_ASSERT_TRUE_FATAL(br_ctl_next_state(&cur1, replicas, 3, true, live_fn, NULL, &out));
    CU_ASSERT_EQUAL(out.leader, 3);
    CU_ASSERT_EQUAL(out.n_isr, 1);
    CU_ASSERT_EQUAL(out.isr[0], 3);
    zknode_part_state_free(&out);

    /* offline stays offline while nobody of the ISR is back ... */
    zknode_part_state_t off = {.leader = -1, .leader_epoch = 8, .isr = isr1, .n_isr = 1};
    CU_ASSERT_FALSE(br_ctl_next_state(&off, replicas, 3, false, live_fn, NULL, &out));
    /* ... and comes back with the ISR member */
    int32_t live1[] = {1};
    g_live = live1;
    g_n_live = 1;
    CU_ASSERT_TRUE_FATAL(br_ctl_next_state(&off, replicas, 3, false, live_fn, NULL, &out));
    CU_ASSERT_EQUAL(out.leader, 1);
    CU_ASSERT_EQUAL(out.leader_epoch, 9);
    zknode_part_state_free(&out);
}

/* ------------------------------------------ registration additions */

static void test_member_payload(void)
{
    char *eps[] = {(char *)"tcp://127.0.0.1:9092"};
    zknode_broker_t b = {.id = 3,
                         .host = (char *)"127.0.0.1",
                         .port = 9092,
                         .endpoints = eps,
                         .n_endpoints = 1,
                         .timestamp_ms = 1700000000000LL};
    br_md_member_t x, y;

    /* healthy: exactly zknode's payload, no additions */
    char *plain = br_md_member_encode(&b, NULL);
    char *zplain = zknode_broker_encode(&b);
    CU_ASSERT_TRUE_FATAL(plain && zplain);
    CU_ASSERT_STRING_EQUAL(plain, zplain);
    CU_ASSERT_EQUAL(br_md_member_decode(plain, strlen(plain), &y), ST_OK);
    CU_ASSERT_EQUAL(y.n_offline, 0);
    CU_ASSERT_EQUAL(y.n_offline_dirs, 0);
    CU_ASSERT_FALSE(y.controlled_shutdown);
    br_md_member_free(&y);
    free(plain);
    free(zplain);

    /* a failed directory with two replicas, and a controlled shutdown */
    char *dirs[] = {(char *)"/data/b"};
    char *topics[] = {(char *)"orders", (char *)"audit"};
    int32_t parts[] = {4, 0};
    x = (br_md_member_t){.offline_dirs = dirs,
                         .n_offline_dirs = 1,
                         .offline_topics = topics,
                         .offline_parts = parts,
                         .n_offline = 2,
                         .controlled_shutdown = true};
    char *json = br_md_member_encode(&b, &x);
    CU_ASSERT_PTR_NOT_NULL_FATAL(json);
    CU_ASSERT_PTR_NOT_NULL(strstr(json, "\"offline_partitions\""));
    CU_ASSERT_EQUAL_FATAL(br_md_member_decode(json, strlen(json), &y), ST_OK);
    CU_ASSERT_EQUAL(y.n_offline_dirs, 1);
    CU_ASSERT_STRING_EQUAL(y.offline_dirs[0], "/data/b");
    CU_ASSERT_EQUAL(y.n_offline, 2);
    CU_ASSERT_TRUE(y.controlled_shutdown);
    CU_ASSERT_TRUE(br_md_member_offline(&y, "orders", 4));
    CU_ASSERT_TRUE(br_md_member_offline(&y, "audit", 0));
    CU_ASSERT_FALSE(br_md_member_offline(&y, "orders", 0));
    CU_ASSERT_FALSE(br_md_member_offline(&y, "audit", 4));
    br_md_member_free(&y);
    br_md_member_free(&y); /* idempotent */
    /* the registration itself still decodes with zknode (older brokers) */
    zknode_broker_t zb;
    char err[128];
    CU_ASSERT_EQUAL(zknode_broker_decode(json, strlen(json), 3, &zb, err, sizeof err), ST_OK);
    CU_ASSERT_EQUAL(zb.port, 9092);
    zknode_broker_free(&zb);
    free(json);

    /* malformed additions are ignored, a non-object is CORRUPT */
    const char *odd =
        "{\"version\":1,\"offline_partitions\":[{\"topic\":7},{\"topic\":\"t\",\"partition\":-1},"
        "{\"topic\":\"t\",\"partition\":2}],\"offline_log_dirs\":\"x\",\"controlled_shutdown\":1}";
    CU_ASSERT_EQUAL_FATAL(br_md_member_decode(odd, strlen(odd), &y), ST_OK);
    CU_ASSERT_EQUAL(y.n_offline, 1);
    CU_ASSERT_TRUE(br_md_member_offline(&y, "t", 2));
    CU_ASSERT_EQUAL(y.n_offline_dirs, 0);
    CU_ASSERT_FALSE(y.controlled_shutdown);
    br_md_member_free(&y);
    CU_ASSERT_EQUAL(br_md_member_decode("[1]", 3, &y), ST_ERR_CORRUPT);
    CU_ASSERT_EQUAL(br_md_member_decode("{", 1, &y), ST_ERR_CORRUPT);
}

/* a replica in a failed log dir counts as dead for that partition only */
static bool offline_live_fn(void *arg, int32_t id)
{
    (void)arg;
    return id != 2; /* broker 2 is registered, but its replica here is offline */
}

static void test_election_offline_replica(void)
{
    int32_t replicas[] = {2, 1, 3};
    int32_t isr[] = {2, 1, 3};
    zknode_part_state_t cur = {.leader = 2, .leader_epoch = 1, .isr = isr, .n_isr = 3};
    zknode_part_state_t out;
    CU_ASSERT_TRUE_FATAL(br_ctl_next_state(&cur, replicas, 3, false, offline_live_fn, NULL, &out));
    CU_ASSERT_EQUAL(out.leader, 1);
    CU_ASSERT_EQUAL(out.leader_epoch, 2);
    CU_ASSERT_EQUAL(out.n_isr, 2);
    CU_ASSERT_EQUAL(out.isr[0], 1);
    CU_ASSERT_EQUAL(out.isr[1], 3);
    zknode_part_state_free(&out);
}

/* --------------------------------------------------------- assignment */

static void test_assign(void)
{
    int32_t brokers[] = {3, 1, 2};
    int32_t out[6 * 3];
    CU_ASSERT_EQUAL(br_placement_assign(brokers, NULL, 3, 6, 3, 0, 0, out), ST_OK);
    for (int p = 0; p < 6; p++) {
        /* distinct replicas, leaders rotate */
        CU_ASSERT_NOT_EQUAL(out[p * 3], out[p * 3 + 1]);
        CU_ASSERT_NOT_EQUAL(out[p * 3], out[p * 3 + 2]);
        CU_ASSERT_NOT_EQUAL(out[p * 3 + 1], out[p * 3 + 2]);
        CU_ASSERT_EQUAL(out[p * 3], 1 + (p % 3));
    }
    CU_ASSERT_EQUAL(br_placement_assign(brokers, NULL, 3, 1, 4, 0, 0, out),
                    ST_ERR_INVALID_REPLICATION_FACTOR);
    CU_ASSERT_EQUAL(br_placement_assign(brokers, NULL, 3, 1, 0, 0, 0, out),
                    ST_ERR_INVALID_REPLICATION_FACTOR);

    /* rack-aware: brokers 1,2 in rack a, 3,4 in rack b; RF 2 spans both racks */
    int32_t rb[] = {1, 2, 3, 4};
    const char *racks[] = {"a", "a", "b", "b"};
    int32_t o2[8 * 2];
    CU_ASSERT_EQUAL(br_placement_assign(rb, racks, 4, 8, 2, 1, 0, o2), ST_OK);
    for (int p = 0; p < 8; p++) {
        int32_t x = o2[p * 2], y = o2[p * 2 + 1];
        bool xa = x <= 2, ya = y <= 2;
        CU_ASSERT_NOT_EQUAL(xa, ya);
    }
}

/* ------------------------------------------------------- compaction keys */

static void test_compaction_config(void)
{
    br_config_t c;
    br_config_init(&c);
    CU_ASSERT_TRUE(c.controlled_shutdown_enable);
    CU_ASSERT_EQUAL(c.controlled_shutdown_max_retries, 3);
    CU_ASSERT_TRUE(c.auto_leader_rebalance_enable);
    CU_ASSERT_EQUAL(c.leader_imbalance_check_interval_seconds, 300);
    CU_ASSERT_EQUAL(c.leader_imbalance_per_broker_percentage, 10);
    CU_ASSERT_EQUAL(c.offsets_topic_num_partitions, 50);
    CU_ASSERT_EQUAL(c.offsets_topic_replication_factor, 3);
    char err[256];
    CU_ASSERT_EQUAL(
        st_conf_set(br_config_table, &c, "log.cleaner.delete.retention.ms", "1234", err, sizeof err), ST_OK);
    br_topic_config_t tc;
    br_topic_config_init(&tc, &c);
    sl_log_config_t lc;
    br_topic_config_to_log(&tc, &lc);
    CU_ASSERT_EQUAL(lc.cleanup_policy, SL_CLEANUP_DELETE);
    CU_ASSERT_EQUAL(lc.delete_retention_ms, 1234); /* broker default reaches the topic */
    CU_ASSERT_DOUBLE_EQUAL(lc.min_cleanable_dirty_ratio, 0.5, 1e-9);
    char *keys[] = {"cleanup.policy", "min.cleanable.dirty.ratio", "min.compaction.lag.ms",
                    "delete.retention.ms"};
    char *vals[] = {"compact,delete", "0.25", "60000", "10"};
    CU_ASSERT_EQUAL(br_topic_config_apply(&tc, keys, vals, 4, err, sizeof err), ST_OK);
    br_topic_config_to_log(&tc, &lc);
    CU_ASSERT_EQUAL(lc.cleanup_policy, SL_CLEANUP_DELETE | SL_CLEANUP_COMPACT);
    CU_ASSERT_DOUBLE_EQUAL(lc.min_cleanable_dirty_ratio, 0.25, 1e-9);
    CU_ASSERT_EQUAL(lc.min_compaction_lag_ms, 60000);
    CU_ASSERT_EQUAL(lc.delete_retention_ms, 10);
    char *bk[] = {"cleanup.policy"};
    char *bv[] = {"shred"};
    CU_ASSERT_EQUAL(br_topic_config_apply(&tc, bk, bv, 1, err, sizeof err), ST_ERR_INVALID_CONFIG);
    char *rk[] = {"min.cleanable.dirty.ratio"};
    char *rv[] = {"1.5"};
    br_topic_config_t tc2;
    br_topic_config_init(&tc2, &c);
    CU_ASSERT_EQUAL(br_topic_config_apply(&tc2, rk, rv, 1, err, sizeof err), ST_ERR_INVALID_CONFIG);
    br_topic_config_free(&tc2);
    br_topic_config_free(&tc);
    br_config_free(&c);

    /* a bad broker default stops the broker */
    br_config_t c2;
    br_config_init(&c2);
    char *ov[] = {"broker.id=1", "zookeeper.connect=127.0.0.1:2181", "log.cleanup.policy=never"};
    CU_ASSERT_EQUAL(br_config_load(&c2, NULL, ov, 3, err, sizeof err), ST_ERR_INVALID_CONFIG);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "log.cleanup.policy"));
    br_config_free(&c2);
}

/* ------------------------------------------------------- reassignment */

static void test_reassign_step(void)
{
    int32_t all[] = {1, 2, 3, 4};
    g_live = all;
    g_n_live = 4;
    int32_t *out = NULL, lead = -1;
    size_t n = 0;
    /* [1,2] -> [3,2]: first add 3 (target first, then the old ones) */
    int32_t target[] = {3, 2};
    int32_t r12[] = {1, 2}, isr12[] = {1, 2};
    CU_ASSERT_EQUAL(br_reassign_step(target, 2, r12, 2, isr12, 2, 1, live_fn, NULL, &out, &n, &lead), 1);
    CU_ASSERT_EQUAL_FATAL(n, 3);
    CU_ASSERT_EQUAL(out[0], 3);
    CU_ASSERT_EQUAL(out[1], 2);
    CU_ASSERT_EQUAL(out[2], 1);
    free(out);
    /* 3 not in the ISR yet: wait */
    int32_t r321[] = {3, 2, 1};
    CU_ASSERT_EQUAL(br_reassign_step(target, 2, r321, 3, isr12, 2, 1, live_fn, NULL, &out, &n, &lead), 2);
    CU_ASSERT_PTR_NULL(out);
    /* caught up; leader 1 is being removed: move leadership to 3 */
    int32_t isr123[] = {1, 2, 3};
    CU_ASSERT_EQUAL(br_reassign_step(target, 2, r321, 3, isr123, 3, 1, live_fn, NULL, &out, &n, &lead), 3);
    CU_ASSERT_EQUAL(lead, 3);
    /* leader moved (1 may still be in the ISR): shrink the replica set */
    int32_t isr32[] = {3, 2};
    for (int k = 0; k < 2; k++) {
        CU_ASSERT_EQUAL(br_reassign_step(target, 2, r321, 3, k ? isr123 : isr32, k ? 3 : 2, 3, live_fn, NULL,
                                         &out, &n, &lead),
                        4);
        CU_ASSERT_EQUAL_FATAL(n, 2);
        CU_ASSERT_EQUAL(out[0], 3);
        CU_ASSERT_EQUAL(out[1], 2);
        free(out);
    }
    /* done */
    CU_ASSERT_EQUAL(br_reassign_step(target, 2, target, 2, isr32, 2, 3, live_fn, NULL, &out, &n, &lead), 0);
    /* assignment done but the ISR still holds the removed replica (the
     * leader took it back in before it stopped being a replica): a state
     * write that keeps the leader */
    CU_ASSERT_EQUAL(br_reassign_step(target, 2, target, 2, isr123, 3, 3, live_fn, NULL, &out, &n, &lead), 3);
    CU_ASSERT_EQUAL(lead, 3);
    CU_ASSERT_PTR_NULL(out);
    /* leader kept and in the target: the old replica goes from the
     * assignment before the ISR */
    int32_t t2[] = {2, 3};
    CU_ASSERT_EQUAL(br_reassign_step(t2, 2, r321, 3, isr123, 3, 2, live_fn, NULL, &out, &n, &lead), 4);
    CU_ASSERT_EQUAL(n, 2);
    free(out);
    /* no live target replica: wait */
    int32_t live1[] = {1};
    g_live = live1;
    g_n_live = 1;
    CU_ASSERT_EQUAL(br_reassign_step(target, 2, r321, 3, isr123, 3, 1, live_fn, NULL, &out, &n, &lead), 2);
}

/* ------------------------------------------------- replica identity */

typedef struct seen {
    int calls;
    int32_t replica_id;
    int64_t broker_epoch;
} seen_t;

static void srv_request(void *arg, br_call_t *call, const Strata__Request *req)
{
    (void)req;
    seen_t *s = arg;
    s->calls++;
    s->replica_id = br_call_replica_id(call);
    s->broker_epoch = br_call_broker_epoch(call);
    br_call_reply_error(call, ST_ERR_INVALID_REQUEST, "test");
}

/* Send one request with these identity fields; what the handler saw. */
static void identity_roundtrip(struct ev_loop *loop, nng_socket cli, seen_t *s, int32_t rid, int64_t epoch)
{
    Strata__Request req = STRATA__REQUEST__INIT;
    Strata__ApiVersionsRequest av = STRATA__API_VERSIONS_REQUEST__INIT;
    req.correlation_id = 9;
    req.replica_id = rid;
    req.broker_epoch = epoch;
    req.body_case = STRATA__REQUEST__BODY_API_VERSIONS;
    req.api_versions = &av;
    uint8_t buf[128];
    size_t len = strata__request__pack(&req, buf);
    int before = s->calls;
    CU_ASSERT_EQUAL_FATAL(nng_send(cli, buf, len, 0), 0);
    for (int i = 0; i < 2000 && s->calls == before; i++) {
        ev_run(loop, EVRUN_NOWAIT);
        ev_sleep(0.001);
    }
    CU_ASSERT_EQUAL(s->calls, before + 1);
    void *reply = NULL;
    size_t rlen = 0;
    CU_ASSERT_EQUAL(nng_recv(cli, &reply, &rlen, NNG_FLAG_ALLOC), 0);
    if (reply)
        nng_free(reply, rlen);
}

static void test_replica_identity(void)
{
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    seen_t s = {0};
    br_server_handlers_t h = {.request = srv_request, .arg = &s};
    char *urls[] = {"inproc://test-broker-identity"};
    br_server_t *srv = NULL;
    char err[256];
    CU_ASSERT_EQUAL_FATAL(br_server_open(loop, urls, 1, 1 << 20, &h, &srv, err, sizeof err), ST_OK);
    nng_socket cli;
    CU_ASSERT_EQUAL_FATAL(nng_req0_open(&cli), 0);
    nng_socket_set_ms(cli, NNG_OPT_RECVTIMEO, 5000);
    CU_ASSERT_EQUAL_FATAL(nng_dial(cli, urls[0], NULL, 0), 0);
    /* a client: replica_id 0 (unset) is not broker 0 */
    identity_roundtrip(loop, cli, &s, 0, 0);
    CU_ASSERT_EQUAL(s.replica_id, -1);
    CU_ASSERT_EQUAL(s.broker_epoch, 0);
    /* a replica_id without an epoch is still a client */
    identity_roundtrip(loop, cli, &s, 2, 0);
    CU_ASSERT_EQUAL(s.replica_id, -1);
    /* a broker */
    identity_roundtrip(loop, cli, &s, 2, 77);
    CU_ASSERT_EQUAL(s.replica_id, 2);
    CU_ASSERT_EQUAL(s.broker_epoch, 77);
    identity_roundtrip(loop, cli, &s, 0, 5);
    CU_ASSERT_EQUAL(s.replica_id, 0);
    nng_close(cli);
    br_server_close(srv);
    ev_loop_destroy(loop);
}

/* ------------------------------------------------------ body versions */

/* The version table covers exactly Request's oneof, with the message
 * names, and every body has an int32 version. */
static void test_version_table(void)
{
    size_t n = 0;
    const br_api_t *apis = br_api_table(&n);
    const ProtobufCMessageDescriptor *d = &strata__request__descriptor;
    size_t bodies = 0;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        if (!(f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF))
            continue;
        bodies++;
        const br_api_t *a = NULL;
        for (size_t k = 0; k < n && !a; k++)
            if (apis[k].api == (int32_t)f->id)
                a = &apis[k];
        CU_ASSERT_PTR_NOT_NULL_FATAL(a);
        const ProtobufCMessageDescriptor *md = f->descriptor;
        char want[96];
        snprintf(want, sizeof want, "%sRequest", a->name);
        CU_ASSERT_STRING_EQUAL(md->short_name, want);
        const ProtobufCFieldDescriptor *v = protobuf_c_message_descriptor_get_field_by_name(md, "version");
        CU_ASSERT_PTR_NOT_NULL_FATAL(v);
        CU_ASSERT_EQUAL(v->type, PROTOBUF_C_TYPE_INT32);
        CU_ASSERT_EQUAL(a->min_version, 0);
        CU_ASSERT(a->max_version >= 1); /* every sender sends 1 */
        /* every body has a handler, but Produce (served from the raw
         * view), and an operation for the authorizer, but ApiVersions */
        CU_ASSERT((a->handle == NULL) == (a->api == STRATA__REQUEST__BODY_PRODUCE));
        CU_ASSERT((a->op == BR_API_OP_NONE) == (a->api == STRATA__REQUEST__BODY_API_VERSIONS));
        CU_ASSERT_PTR_EQUAL(br_api_find(a->api), a);
        CU_ASSERT_EQUAL(br_api_index(a), (int)(a - apis));
    }
    CU_ASSERT_EQUAL(bodies, n);
    CU_ASSERT_PTR_NULL(br_api_find(0));
    CU_ASSERT_PTR_NULL(br_api_find(9));
}

static void test_version_check(void)
{
    char msg[128] = "";
    Strata__FetchRequest f = STRATA__FETCH_REQUEST__INIT;
    Strata__Request req = STRATA__REQUEST__INIT;
    req.body_case = STRATA__REQUEST__BODY_FETCH;
    req.fetch = &f;
    CU_ASSERT_EQUAL(br_api_check_request_version(&req, msg, sizeof msg), ST_OK); /* unset */
    f.version = 1;
    CU_ASSERT_EQUAL(br_api_check_request_version(&req, msg, sizeof msg), ST_OK);
    f.version = 2;
    CU_ASSERT_EQUAL(br_api_check_request_version(&req, msg, sizeof msg), ST_ERR_UNSUPPORTED_VERSION);
    CU_ASSERT_PTR_NOT_NULL(strstr(msg, "Fetch version 2"));
    CU_ASSERT_PTR_NOT_NULL(strstr(msg, "0..1"));
    f.version = -1;
    CU_ASSERT_EQUAL(br_api_check_request_version(&req, msg, sizeof msg), ST_ERR_UNSUPPORTED_VERSION);
    /* another body, through the same reflection */
    Strata__HeartbeatRequest hb = STRATA__HEARTBEAT_REQUEST__INIT;
    hb.version = 9;
    req.body_case = STRATA__REQUEST__BODY_HEARTBEAT;
    req.heartbeat = &hb;
    CU_ASSERT_EQUAL(br_api_check_request_version(&req, msg, sizeof msg), ST_ERR_UNSUPPORTED_VERSION);
    CU_ASSERT_PTR_NOT_NULL(strstr(msg, "Heartbeat version 9"));
    /* an absent body or no body is left to the handler */
    req.heartbeat = NULL;
    CU_ASSERT_EQUAL(br_api_check_request_version(&req, msg, sizeof msg), ST_OK);
    req.body_case = STRATA__REQUEST__BODY__NOT_SET;
    CU_ASSERT_EQUAL(br_api_check_request_version(&req, msg, sizeof msg), ST_OK);
    /* the raw produce view */
    Strata__Raw__RawProduceRequest p = STRATA__RAW__RAW_PRODUCE_REQUEST__INIT;
    p.version = 1;
    CU_ASSERT_EQUAL(br_api_check_version(STRATA__REQUEST__BODY_PRODUCE, &p.base, msg, sizeof msg), ST_OK);
    p.version = 3;
    CU_ASSERT_EQUAL(br_api_check_version(STRATA__REQUEST__BODY_PRODUCE, &p.base, msg, sizeof msg),
                    ST_ERR_UNSUPPORTED_VERSION);
    CU_ASSERT_PTR_NOT_NULL(strstr(msg, "Produce version 3"));
}

static CU_TestInfo config_tests[] = {
    {"load, overrides, required, errors", test_config_load},
    {"topic config from broker defaults", test_topic_config},
    {"docs/configuration.md up to date", test_config_docs_drift},
    {"compaction and controller keys", test_compaction_config},
    CU_TEST_INFO_NULL,
};
static CU_TestInfo ctl_tests[] = {
    {"election rule", test_election},
    {"election with an offline replica", test_election_offline_replica},
    {"registration additions (offline replicas, controlled shutdown)", test_member_payload},
    {"replica assignment", test_assign},
    {"reassignment steps", test_reassign_step},
    CU_TEST_INFO_NULL,
};
static CU_TestInfo srv_tests[] = {
    {"replica identity needs a broker epoch", test_replica_identity},
    {"version table matches the schema", test_version_table},
    {"body version check", test_version_check},
    CU_TEST_INFO_NULL,
};
static CU_SuiteInfo suites[] = {
    {"br_config", NULL, NULL, NULL, NULL, config_tests},
    {"br_ctl", NULL, NULL, NULL, NULL, ctl_tests},
    {"br_server", NULL, NULL, NULL, NULL, srv_tests},
    CU_SUITE_INFO_NULL,
};

int main(void)
{
    return tu_main(suites);
}
