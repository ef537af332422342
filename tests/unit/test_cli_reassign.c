/*
 * Unit tests of `strata topic elect-leaders|reassign` argument handling
 * (no network): --topic/--partition/--replicas grouping, replica lists,
 * and Kafka's reassignment JSON.
 */
#include <stdlib.h>
#include <string.h>

#include "cli/cli_reassign.h"
#include "tu.h"

static void test_replicas(void)
{
    int32_t *v;
    size_t n;
    CU_ASSERT_TRUE_FATAL(cli_parse_replicas("1,2,3", &v, &n));
    CU_ASSERT_EQUAL(n, 3);
    CU_ASSERT(v[0] == 1 && v[1] == 2 && v[2] == 3);
    free(v);
    CU_ASSERT_TRUE_FATAL(cli_parse_replicas("7", &v, &n));
    CU_ASSERT_EQUAL(n, 1);
    free(v);
    CU_ASSERT_FALSE(cli_parse_replicas("1,1", &v, &n));
    CU_ASSERT_FALSE(cli_parse_replicas("1,x", &v, &n));
    CU_ASSERT_FALSE(cli_parse_replicas("-1", &v, &n));
    CU_ASSERT_FALSE(cli_parse_replicas("", &v, &n));
    CU_ASSERT_FALSE(cli_parse_replicas(",", &v, &n));
}

static void test_opts(void)
{
    cli_reassign_opts_t o;
    char err[300];
    memset(&o, 0, sizeof o);
    /* --partition before any --topic */
    CU_ASSERT_FALSE(cli_reassign_opt(&o, CLI_RA_PARTITION, "0", err, sizeof err));
    CU_ASSERT_TRUE(cli_reassign_opt(&o, CLI_RA_TOPIC, "a", err, sizeof err));
    CU_ASSERT_TRUE(cli_reassign_opt(&o, CLI_RA_PARTITION, "0", err, sizeof err));
    CU_ASSERT_TRUE(cli_reassign_opt(&o, CLI_RA_REPLICAS, "1,2", err, sizeof err));
    CU_ASSERT_FALSE(cli_reassign_opt(&o, CLI_RA_REPLICAS, "3", err, sizeof err));
    CU_ASSERT_TRUE(cli_reassign_opt(&o, CLI_RA_PARTITION, "1", err, sizeof err));
    CU_ASSERT_TRUE(cli_reassign_opt(&o, CLI_RA_REPLICAS, "3,1", err, sizeof err));
    CU_ASSERT_TRUE(cli_reassign_opt(&o, CLI_RA_TOPIC, "b", err, sizeof err));
    CU_ASSERT_FALSE(cli_reassign_opt(&o, CLI_RA_REPLICAS, "1", err, sizeof err));
    CU_ASSERT_FALSE(cli_reassign_opt(&o, CLI_RA_TYPE, "dirty", err, sizeof err));
    CU_ASSERT_TRUE(cli_reassign_opt(&o, CLI_RA_TYPE, "unclean", err, sizeof err));
    CU_ASSERT_EQUAL_FATAL(o.n, 3);
    CU_ASSERT_STRING_EQUAL(o.v[0].topic, "a");
    CU_ASSERT_EQUAL(o.v[0].partition, 0);
    CU_ASSERT_EQUAL(o.v[0].n_replicas, 2);
    CU_ASSERT_STRING_EQUAL(o.v[1].topic, "a");
    CU_ASSERT_EQUAL(o.v[1].partition, 1);
    CU_ASSERT(o.v[1].n_replicas == 2 && o.v[1].replicas[0] == 3);
    CU_ASSERT_STRING_EQUAL(o.v[2].topic, "b");
    CU_ASSERT_EQUAL(o.v[2].partition, -1); /* whole topic */
    CU_ASSERT_FALSE(o.v[2].partition_given);
    cli_reassign_opts_free(&o);
}

static void test_json(void)
{
    cli_reassign_opts_t o;
    char err[300];
    memset(&o, 0, sizeof o);
    const char *ok = "{\"version\":1,\"partitions\":[{\"topic\":\"t\",\"partition\":2,"
                     "\"replicas\":[3,1,2],\"log_dirs\":[\"any\",\"any\",\"any\"]},"
                     "{\"topic\":\"u\",\"partition\":0}]}";
    CU_ASSERT_TRUE_FATAL(cli_reassign_parse_json(&o, ok, err, sizeof err));
    CU_ASSERT_EQUAL_FATAL(o.n, 2);
    CU_ASSERT_STRING_EQUAL(o.v[0].topic, "t");
    CU_ASSERT_EQUAL(o.v[0].partition, 2);
    CU_ASSERT_EQUAL_FATAL(o.v[0].n_replicas, 3);
    CU_ASSERT(o.v[0].replicas[0] == 3 && o.v[0].replicas[1] == 1 && o.v[0].replicas[2] == 2);
    CU_ASSERT_TRUE(o.v[0].replicas_given);
    CU_ASSERT_FALSE(o.v[1].replicas_given); /* only valid with --cancel */
    cli_reassign_opts_free(&o);
    static const char *bad[] = {
        "",
        "[]",
        "{\"version\":2,\"partitions\":[{\"topic\":\"t\",\"partition\":0,\"replicas\":[1]}]}",
        "{\"version\":1,\"partitions\":[]}",
        "{\"version\":1,\"partitions\":[{\"topic\":\"t\",\"partition\":-1,\"replicas\":[1]}]}",
        "{\"version\":1,\"partitions\":[{\"partition\":0,\"replicas\":[1]}]}",
        "{\"version\":1,\"partitions\":[{\"topic\":\"t\",\"partition\":0,\"replicas\":[1,1]}]}",
        "{\"version\":1,\"partitions\":[{\"topic\":\"t\",\"partition\":0,\"replicas\":[]}]}",
        "{\"version\":1,\"partitions\":[{\"topic\":\"t\",\"partition\":0,\"replicas\":[\"1\"]}]}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memset(&o, 0, sizeof o);
        err[0] = '\0';
        CU_ASSERT_FALSE(cli_reassign_parse_json(&o, bad[i], err, sizeof err));
        CU_ASSERT(err[0] != '\0');
        cli_reassign_opts_free(&o);
    }
}

static CU_TestInfo tests[] = {
    {"replica lists", test_replicas},
    {"option grouping", test_opts},
    {"reassignment JSON", test_json},
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    {"cli reassign", NULL, NULL, NULL, NULL, tests},
    CU_SUITE_INFO_NULL,
};

int main(void)
{
    return tu_main(suites);
}
