/*
 * test_group_client: the network-free parts of libstrata's consumer
 * groups (sc_group): state-machine edges, commit bookkeeping, lag,
 * reset-offsets targets, subscription matching, assignment differences,
 * and the API's answers before any broker is involved (consumer calls and
 * the admin group calls).
 */
#include <regex.h>
#include <stdlib.h>
#include <string.h>

#include "client/sc_group.h"
#include "tu.h"

static void test_edges(void)
{
    CU_ASSERT_TRUE(sc_group_edge_ok(SC_G_IDLE, SC_G_NEED_JOIN));
    CU_ASSERT_TRUE(sc_group_edge_ok(SC_G_NEED_JOIN, SC_G_REVOKE));
    CU_ASSERT_TRUE(sc_group_edge_ok(SC_G_REVOKE, SC_G_NEED_JOIN));
    CU_ASSERT_TRUE(sc_group_edge_ok(SC_G_NEED_JOIN, SC_G_JOINING));
    CU_ASSERT_TRUE(sc_group_edge_ok(SC_G_JOINING, SC_G_SYNCING));
    CU_ASSERT_TRUE(sc_group_edge_ok(SC_G_SYNCING, SC_G_ASSIGN));
    CU_ASSERT_TRUE(sc_group_edge_ok(SC_G_ASSIGN, SC_G_STABLE));
    CU_ASSERT_TRUE(sc_group_edge_ok(SC_G_STABLE, SC_G_NEED_JOIN));
    CU_ASSERT_TRUE(sc_group_edge_ok(SC_G_STABLE, SC_G_CLOSED));
    CU_ASSERT_TRUE(sc_group_edge_ok(SC_G_SYNCING, SC_G_IDLE));
    /* no shortcuts: an assignment is never applied without SyncGroup */
    CU_ASSERT_FALSE(sc_group_edge_ok(SC_G_JOINING, SC_G_STABLE));
    CU_ASSERT_FALSE(sc_group_edge_ok(SC_G_IDLE, SC_G_JOINING));
    CU_ASSERT_FALSE(sc_group_edge_ok(SC_G_REVOKE, SC_G_JOINING));
    CU_ASSERT_FALSE(sc_group_edge_ok(SC_G_STABLE, SC_G_ASSIGN));
    CU_ASSERT_FALSE(sc_group_edge_ok(SC_G_CLOSED, SC_G_IDLE));
    CU_ASSERT_FALSE(sc_group_edge_ok(SC_G_CLOSED, SC_G_NEED_JOIN));
    CU_ASSERT_STRING_EQUAL(sc_group_state_name(SC_G_STABLE), "STABLE");
}

static void test_commit_plan(void)
{
    sc_cpart_t p[4];
    memset(p, 0, sizeof p);
    /* 0: moved; 1: already committed; 2: position unknown; 3: ACTIVE from ListOffsets */
    p[0].pos = 10, p[0].committed = 5, p[0].state = SC_CP_ACTIVE;
    p[1].pos = 7, p[1].committed = 7, p[1].state = SC_CP_ACTIVE;
    p[2].pos = -1, p[2].start = -1, p[2].committed = -1, p[2].state = SC_CP_NEED_COMMITTED;
    p[3].pos = -1, p[3].start = 42, p[3].committed = -1, p[3].state = SC_CP_ACTIVE;
    size_t *idx = NULL, n = 0;
    CU_ASSERT_EQUAL(sc_group_commit_plan(p, 4, &idx, &n), ST_OK);
    CU_ASSERT_EQUAL(n, 2);
    if (n == 2) {
        CU_ASSERT_EQUAL(idx[0], 0);
        CU_ASSERT_EQUAL(idx[1], 3);
    }
    CU_ASSERT_EQUAL(sc_group_part_position(&p[3]), 42);
    CU_ASSERT_EQUAL(sc_group_part_position(&p[2]), -1);
    free(idx);
    /* after the commit is acknowledged nothing is left to commit */
    p[0].committed = 10;
    p[3].committed = 42;
    CU_ASSERT_EQUAL(sc_group_commit_plan(p, 4, &idx, &n), ST_OK);
    CU_ASSERT_EQUAL(n, 0);
    free(idx);
}

static void test_lag(void)
{
    CU_ASSERT_EQUAL(sc_group_lag(100, 40), 60);
    CU_ASSERT_EQUAL(sc_group_lag(100, 100), 0);
    CU_ASSERT_EQUAL(sc_group_lag(100, 120), 0); /* never negative */
    CU_ASSERT_EQUAL(sc_group_lag(100, -1), -1); /* nothing committed */
    CU_ASSERT_EQUAL(sc_group_lag(-1, 5), -1);   /* end unknown */
}

static void test_reset_plan(void)
{
    /* log holds [10, 100), committed 50 */
    CU_ASSERT_EQUAL(sc_group_reset_target(SC_RESET_EARLIEST, 0, 10, 100, 50, -1), 10);
    CU_ASSERT_EQUAL(sc_group_reset_target(SC_RESET_LATEST, 0, 10, 100, 50, -1), 100);
    CU_ASSERT_EQUAL(sc_group_reset_target(SC_RESET_OFFSET, 70, 10, 100, 50, -1), 70);
    CU_ASSERT_EQUAL(sc_group_reset_target(SC_RESET_OFFSET, 5, 10, 100, 50, -1), 10);    /* clamped */
    CU_ASSERT_EQUAL(sc_group_reset_target(SC_RESET_OFFSET, 500, 10, 100, 50, -1), 100); /* clamped */
    CU_ASSERT_EQUAL(sc_group_reset_target(SC_RESET_SHIFT, -20, 10, 100, 50, -1), 30);
    CU_ASSERT_EQUAL(sc_group_reset_target(SC_RESET_SHIFT, 20, 10, 100, 50, -1), 70);
    CU_ASSERT_EQUAL(sc_group_reset_target(SC_RESET_SHIFT, -80, 10, 100, 50, -1), 10);
    CU_ASSERT_EQUAL(sc_group_reset_target(SC_RESET_SHIFT, -5, 10, 100, -1, -1), 95); /* none: from end */
    CU_ASSERT_EQUAL(sc_group_reset_target(SC_RESET_SHIFT, 5, 10, 100, -1, -1), 15);  /* none: from start */
    CU_ASSERT_EQUAL(sc_group_reset_target(SC_RESET_SHIFT, INT64_MIN, 10, 100, 50, -1), 10);
    CU_ASSERT_EQUAL(sc_group_reset_target(SC_RESET_DATETIME, 123, 10, 100, 50, 64), 64);
    CU_ASSERT_EQUAL(sc_group_reset_target(SC_RESET_DATETIME, 123, 10, 100, 50, -1), 100);
}

static void test_matching(void)
{
    char *lits[] = {"orders", "__consumer_offsets"};
    regex_t re[1];
    CU_ASSERT_EQUAL_FATAL(regcomp(&re[0], "^pay.*", REG_EXTENDED | REG_NOSUB), 0);
    CU_ASSERT_TRUE(sc_group_topic_matches("orders", lits, 2, re, 1));
    CU_ASSERT_TRUE(sc_group_topic_matches("payments", lits, 2, re, 1));
    CU_ASSERT_TRUE(sc_group_topic_matches("__consumer_offsets", lits, 2, re, 1)); /* named */
    CU_ASSERT_FALSE(sc_group_topic_matches("orders2", lits, 2, re, 1));
    CU_ASSERT_FALSE(sc_group_topic_matches("refunds", lits, 2, re, 1));
    regex_t all[1];
    CU_ASSERT_EQUAL_FATAL(regcomp(&all[0], "^.*", REG_EXTENDED | REG_NOSUB), 0);
    CU_ASSERT_FALSE(sc_group_topic_matches("__consumer_offsets", NULL, 0, all, 1)); /* internal */
    CU_ASSERT_TRUE(sc_group_topic_matches("x", NULL, 0, all, 1));
    regfree(&re[0]);
    regfree(&all[0]);
}

static void test_minus(void)
{
    sc_assign_tp_t a[] = {{"t", 0}, {"t", 1}, {"u", 0}, {"u", 1}};
    sc_assign_tp_t b[] = {{"t", 1}, {"u", 2}, {"u", 0}};
    sc_assign_tp_t *out = NULL;
    size_t n = 0;
    /* cooperative: revoked = owned - new, added = new - owned */
    CU_ASSERT_EQUAL(sc_group_tp_minus(a, 4, b, 3, &out, &n), ST_OK);
    CU_ASSERT_EQUAL(n, 2);
    if (n == 2) {
        CU_ASSERT_STRING_EQUAL(out[0].topic, "t");
        CU_ASSERT_EQUAL(out[0].partition, 0);
        CU_ASSERT_STRING_EQUAL(out[1].topic, "u");
        CU_ASSERT_EQUAL(out[1].partition, 1);
    }
    free(out);
    CU_ASSERT_EQUAL(sc_group_tp_minus(b, 3, a, 4, &out, &n), ST_OK);
    CU_ASSERT_EQUAL(n, 1);
    if (n == 1)
        CU_ASSERT_EQUAL(out[0].partition, 2);
    free(out);
    CU_ASSERT_EQUAL(sc_group_tp_minus(NULL, 0, a, 4, &out, &n), ST_OK);
    CU_ASSERT_EQUAL(n, 0);
    free(out);
}

/* The API before any broker answers (bootstrap points at a closed port). */
static void test_api_offline(void)
{
    char err[256] = "";
    strata_conf_t *conf = strata_conf_new();
    CU_ASSERT_PTR_NOT_NULL_FATAL(conf);
    CU_ASSERT_EQUAL(strata_conf_set(conf, "bootstrap.servers", "tcp://127.0.0.1:1", NULL, 0), STRATA_OK);
    /* Kafka 3.x's default assignor list */
    char *v = strata_conf_get(conf, "partition.assignment.strategy");
    CU_ASSERT_STRING_EQUAL(v, "range,cooperative-sticky");
    free(v);
    strata_consumer_t *c = strata_consumer_new(conf, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    const char *t[] = {"a"};
    CU_ASSERT_EQUAL(strata_consumer_subscribe(c, t, 1), STRATA_ERR_INVALID_CONFIG); /* no group.id */
    strata_consumer_close(c);

    CU_ASSERT_EQUAL(strata_conf_set(conf, "group.id", "g1", NULL, 0), STRATA_OK);
    CU_ASSERT_EQUAL(strata_conf_set(conf, "partition.assignment.strategy", "range,bogus", NULL, 0),
                    STRATA_OK);
    CU_ASSERT_PTR_NULL(strata_consumer_new(conf, err, sizeof err));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "bogus"));

    CU_ASSERT_EQUAL(strata_conf_set(conf, "partition.assignment.strategy", "cooperative-sticky", NULL, 0),
                    STRATA_OK);
    c = strata_consumer_new(conf, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    const char *bad[] = {"^(unclosed"};
    CU_ASSERT_EQUAL(strata_consumer_subscribe(c, bad, 1), STRATA_ERR_INVALID_ARG);
    const char *ok[] = {"a", "^b.*"};
    CU_ASSERT_EQUAL(strata_consumer_subscribe(c, ok, 2), STRATA_OK);
    strata_tp_t tp = {"a", 0, 0};
    CU_ASSERT_EQUAL(strata_consumer_assign(c, &tp, 1), STRATA_ERR_STATE); /* subscribed */
    int64_t off;
    CU_ASSERT_EQUAL(strata_consumer_position(c, "a", 0, &off), STRATA_ERR_NOT_FOUND);
    CU_ASSERT_EQUAL(strata_consumer_lag(c, "a", 0, &off), STRATA_ERR_NOT_FOUND);
    CU_ASSERT_EQUAL(strata_consumer_pause(c, &tp, 1), STRATA_ERR_NOT_FOUND);
    /* nothing assigned: nothing to commit, no request needed */
    CU_ASSERT_EQUAL(strata_consumer_commit(c, NULL, 0, false, NULL, NULL), STRATA_OK);
    const strata_message_t *m;
    CU_ASSERT_EQUAL(strata_consumer_poll(c, 50, &m), STRATA_ERR_TIMEOUT);
    strata_consumer_close(c); /* never joined: returns without LeaveGroup */
    strata_conf_free(conf);
}

/* Group administration on an admin handle and the deprecated consumer
 * wrappers: argument checks answer before any request is sent. */
static void test_admin_args(void)
{
    char err[256] = "";
    strata_conf_t *conf = strata_conf_new();
    CU_ASSERT_PTR_NOT_NULL_FATAL(conf);
    CU_ASSERT_EQUAL(strata_conf_set(conf, "bootstrap.servers", "tcp://127.0.0.1:1", NULL, 0), STRATA_OK);
    strata_admin_t *a = strata_admin_new(conf, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    strata_group_listing_t *l = NULL;
    strata_group_desc_t *d = NULL;
    strata_commit_t *v = NULL;
    size_t n = 0;
    CU_ASSERT_EQUAL(strata_admin_list_groups(NULL, 10, &l, &n), STRATA_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(strata_admin_list_groups(a, 10, NULL, &n), STRATA_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(strata_admin_describe_group(a, NULL, 10, &d), STRATA_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(strata_admin_list_group_offsets(a, "g", 10, NULL, &n), STRATA_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(strata_admin_alter_group_offsets(a, "g", NULL, 1, 10), STRATA_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(strata_admin_delete_group(a, NULL, 10), STRATA_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(strata_consumer_list_groups(NULL, 10, &l, &n), STRATA_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(strata_consumer_describe_group(NULL, "g", 10, &d), STRATA_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(strata_consumer_group_offsets(NULL, "g", 10, &v, &n), STRATA_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(strata_consumer_group_commit(NULL, "g", NULL, 0, 10), STRATA_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(strata_consumer_delete_group(NULL, "g", 10), STRATA_ERR_INVALID_ARG);
    strata_admin_free(a);
    strata_conf_free(conf);
}

int main(void)
{
    CU_TestInfo tests[] = {
        {"state machine edges", test_edges},
        {"commit bookkeeping", test_commit_plan},
        {"lag", test_lag},
        {"reset-offsets targets", test_reset_plan},
        {"subscription matching", test_matching},
        {"assignment differences", test_minus},
        {"api without brokers", test_api_offline},
        {"group admin arguments", test_admin_args},
        CU_TEST_INFO_NULL,
    };
    CU_SuiteInfo suites[] = {
        {"group_client", NULL, NULL, NULL, NULL, tests},
        CU_SUITE_INFO_NULL,
    };
    return tu_main(suites);
}
