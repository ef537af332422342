/*
 * Unit tests of the broker control plane's pure parts: the broker/topic
 * property tables (br_config), the committed docs/configuration.md (fails
 * when it drifts from the tables: run `make docs/configuration.md`), the
 * controller's election rule (br_ctl_next_state) and replica assignment
 * (br_admin_assign).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/br_admin.h"
#include "broker/br_config.h"
#include "broker/br_controller.h"
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
    zkp_part_state_t cur = {.leader = 1, .leader_epoch = 4, .controller_epoch = 2, .isr = isr, .n_isr = 3};
    zkp_part_state_t out;

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
    zkp_part_state_free(&out);

    /* a follower dies: leader kept, ISR shrinks, epoch bumped */
    int32_t live12[] = {1, 2};
    g_live = live12;
    g_n_live = 2;
    CU_ASSERT_TRUE_FATAL(br_ctl_next_state(&cur, replicas, 3, false, live_fn, NULL, &out));
    CU_ASSERT_EQUAL(out.leader, 1);
    CU_ASSERT_EQUAL(out.n_isr, 2);
    zkp_part_state_free(&out);

    /* only an out-of-ISR replica alive: offline unless unclean */
    int32_t isr1[] = {1};
    zkp_part_state_t cur1 = {.leader = 1, .leader_epoch = 7, .isr = isr1, .n_isr = 1};
    int32_t live3[] = {3};
    g_live = live3;
    g_n_live = 1;
    CU_ASSERT_TRUE_FATAL(br_ctl_next_state(&cur1, replicas, 3, false, live_fn, NULL, &out));
    CU_ASSERT_EQUAL(out.leader, -1);
    CU_ASSERT_EQUAL(out.leader_epoch, 8);
    CU_ASSERT_EQUAL(out.n_isr, 1); /* the last ISR is kept */
    CU_ASSERT_EQUAL(out.isr[0], 1);
    zkp_part_state_free(&out);
    CU_ASSERT_TRUE_FATAL(br_ctl_next_state(&cur1, replicas, 3, true, live_fn, NULL, &out));
    CU_ASSERT_EQUAL(out.leader, 3);
    CU_ASSERT_EQUAL(out.n_isr, 1);
    CU_ASSERT_EQUAL(out.isr[0], 3);
    zkp_part_state_free(&out);

    /* offline stays offline while nobody of the ISR is back ... */
    zkp_part_state_t off = {.leader = -1, .leader_epoch = 8, .isr = isr1, .n_isr = 1};
    CU_ASSERT_FALSE(br_ctl_next_state(&off, replicas, 3, false, live_fn, NULL, &out));
    /* ... and comes back with the ISR member */
    int32_t live1[] = {1};
    g_live = live1;
    g_n_live = 1;
    CU_ASSERT_TRUE_FATAL(br_ctl_next_state(&off, replicas, 3, false, live_fn, NULL, &out));
    CU_ASSERT_EQUAL(out.leader, 1);
    CU_ASSERT_EQUAL(out.leader_epoch, 9);
    zkp_part_state_free(&out);
}

/* --------------------------------------------------------- assignment */

static void test_assign(void)
{
    int32_t brokers[] = {3, 1, 2};
    int32_t out[6 * 3];
    CU_ASSERT_EQUAL(br_admin_assign(brokers, NULL, 3, 6, 3, 0, 0, out), ST_OK);
    for (int p = 0; p < 6; p++) {
        /* distinct replicas, leaders rotate */
        CU_ASSERT_NOT_EQUAL(out[p * 3], out[p * 3 + 1]);
        CU_ASSERT_NOT_EQUAL(out[p * 3], out[p * 3 + 2]);
        CU_ASSERT_NOT_EQUAL(out[p * 3 + 1], out[p * 3 + 2]);
        CU_ASSERT_EQUAL(out[p * 3], 1 + (p % 3));
    }
    CU_ASSERT_EQUAL(br_admin_assign(brokers, NULL, 3, 1, 4, 0, 0, out), ST_ERR_INVALID_REPLICATION_FACTOR);
    CU_ASSERT_EQUAL(br_admin_assign(brokers, NULL, 3, 1, 0, 0, 0, out), ST_ERR_INVALID_REPLICATION_FACTOR);

    /* rack-aware: brokers 1,2 in rack a, 3,4 in rack b; RF 2 spans both racks */
    int32_t rb[] = {1, 2, 3, 4};
    const char *racks[] = {"a", "a", "b", "b"};
    int32_t o2[8 * 2];
    CU_ASSERT_EQUAL(br_admin_assign(rb, racks, 4, 8, 2, 1, 0, o2), ST_OK);
    for (int p = 0; p < 8; p++) {
        int32_t x = o2[p * 2], y = o2[p * 2 + 1];
        bool xa = x <= 2, ya = y <= 2;
        CU_ASSERT_NOT_EQUAL(xa, ya);
    }
}

static CU_TestInfo config_tests[] = {
    {"load, overrides, required, errors", test_config_load},
    {"topic config from broker defaults", test_topic_config},
    {"docs/configuration.md up to date", test_config_docs_drift},
    CU_TEST_INFO_NULL,
};
static CU_TestInfo ctl_tests[] = {
    {"election rule", test_election},
    {"replica assignment", test_assign},
    CU_TEST_INFO_NULL,
};
static CU_SuiteInfo suites[] = {
    {"br_config", NULL, NULL, NULL, NULL, config_tests},
    {"br_controller", NULL, NULL, NULL, NULL, ctl_tests},
    CU_SUITE_INFO_NULL,
};

int main(void)
{
    return tu_main(suites);
}
