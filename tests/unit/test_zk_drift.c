/*
 * The drift rule of zk-schema/ for payloads the brokers encode themselves
 * (not through zkp): br_pid's /latest_producer_id_block and br_metadata's
 * additions to /brokers/ids/<id>. Each broker encoder's output must pass its
 * schema and zkp's decoder, zkp's encoding must pass the broker's decoder,
 * and every ZooKeeper path constant (#define ..._PATH "/...") in
 * src/broker and src/coord must be described by some schema file, so a new
 * znode cannot appear without one. (br_controller reads and writes
 * /admin/reassign_partitions through zkp_reassign_*; its test checks zkp's
 * encodings against the schema.)
 */
#include <dirent.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/br_controller.h"
#include "broker/br_metadata.h"
#include "broker/br_pid.h"
#include "coord/zkp.h"
#include "coord/zks.h"
#include "tu.h"

#ifndef ZK_SCHEMA_DIR
#error "ZK_SCHEMA_DIR must name the source tree's zk-schema directory"
#endif
#ifndef ST_SRCDIR
#error "ST_SRCDIR must name the source tree"
#endif

static zks_set_t *schemas;

static int suite_init(void)
{
    char err[512] = "";
    if (zks_set_load(ZK_SCHEMA_DIR, &schemas, err, sizeof(err)) != ST_OK) {
        fprintf(stderr, "zk-schema: %s\n", err);
        return 1;
    }
    return 0;
}

static int suite_clean(void)
{
    zks_set_free(schemas);
    schemas = NULL;
    return 0;
}

static void print_report(void *opaque, const char *where, const char *msg)
{
    (void)opaque;
    fprintf(stderr, "  %s %s\n", where, msg);
}

static size_t check(const char *path, const char *payload)
{
    return zks_check_node(schemas, path, payload, strlen(payload), false, print_report, NULL);
}

static void test_pid_block(void)
{
    CU_ASSERT_STRING_EQUAL(BR_PID_BLOCK_PATH, ZKP_PATH_PID_BLOCK);
    /* the first block, the next ones, and one near the end of the id space */
    br_pid_block_t b, prev;
    CU_ASSERT_EQUAL_FATAL(br_pid_block_next(NULL, 2, &b), ST_OK);
    for (int i = 0; i < 4; i++) {
        char *j = NULL, err[256] = "";
        CU_ASSERT_EQUAL_FATAL(br_pid_block_encode(&b, &j), ST_OK);
        CU_ASSERT_EQUAL(check(ZKP_PATH_PID_BLOCK, j), 0);
        zkp_pid_block_t d;
        CU_ASSERT_EQUAL(zkp_pid_block_decode(j, strlen(j), &d, err, sizeof(err)), ST_OK);
        CU_ASSERT_EQUAL(d.broker, b.broker);
        CU_ASSERT_EQUAL(d.block_start, b.start);
        CU_ASSERT_EQUAL(d.block_end, b.end);
        free(j);
        /* and the other way round */
        j = zkp_pid_block_encode(&d);
        br_pid_block_t e;
        CU_ASSERT_EQUAL(br_pid_block_decode(j, strlen(j), &e), ST_OK);
        CU_ASSERT_EQUAL(e.broker, b.broker);
        CU_ASSERT_EQUAL(e.start, b.start);
        CU_ASSERT_EQUAL(e.end, b.end);
        free(j);
        prev = b;
        if (i == 2)
            prev.end = INT64_MAX - 2 * BR_PID_BLOCK_SIZE;
        CU_ASSERT_EQUAL_FATAL(br_pid_block_next(&prev, 1, &b), ST_OK);
    }
}

static void test_reassign(void)
{
    /* br_controller reads and writes the znode with zkp_reassign_*: check
     * the path and that zkp's encodings pass the schema */
    CU_ASSERT_STRING_EQUAL(BR_REASSIGN_PATH, ZKP_PATH_REASSIGN);
    int32_t r0[] = {4, 5, 6}, r1[] = {2};
    zkp_reassign_part_t v[] = {
        {.topic = "orders", .partition = 0, .replicas = r0, .n_replicas = 3},
        {.topic = "x_y-z.1", .partition = 12, .replicas = r1, .n_replicas = 1},
    };
    char err[256] = "";
    zkp_reassign_t r = {.parts = v, .n = 2};
    char *j = zkp_reassign_encode(&r);
    CU_ASSERT_PTR_NOT_NULL_FATAL(j);
    CU_ASSERT_EQUAL(check(ZKP_PATH_REASSIGN, j), 0);
    zkp_reassign_t d;
    CU_ASSERT_EQUAL_FATAL(zkp_reassign_decode(j, strlen(j), &d, err, sizeof(err)), ST_OK);
    CU_ASSERT_EQUAL_FATAL(d.n, 2);
    CU_ASSERT_STRING_EQUAL(d.parts[1].topic, "x_y-z.1");
    CU_ASSERT_EQUAL(d.parts[1].partition, 12);
    CU_ASSERT_EQUAL_FATAL(d.parts[0].n_replicas, 3);
    CU_ASSERT_EQUAL(memcmp(d.parts[0].replicas, r0, sizeof(r0)), 0);
    free(j);
    zkp_reassign_free(&d);

    /* what the controller writes when one entry remains, and the empty
     * list an operator may leave */
    r.parts = v + 1;
    r.n = 1;
    j = zkp_reassign_encode(&r);
    CU_ASSERT_EQUAL(check(ZKP_PATH_REASSIGN, j), 0);
    free(j);
    r.n = 0;
    j = zkp_reassign_encode(&r);
    CU_ASSERT_PTR_NOT_NULL_FATAL(j);
    CU_ASSERT_EQUAL(check(ZKP_PATH_REASSIGN, j), 0);
    free(j);

    /* an empty replica list is refused by the schema and the decoder */
    const char *empty = "{\"version\":1,\"partitions\":[{\"topic\":\"t\",\"partition\":0,\"replicas\":[]}]}";
    CU_ASSERT_NOT_EQUAL(check(ZKP_PATH_REASSIGN, empty), 0);
    CU_ASSERT_EQUAL(zkp_reassign_decode(empty, strlen(empty), &d, err, sizeof(err)), ST_ERR_CORRUPT);
    zkp_reassign_free(&d);
}

static void test_member(void)
{
    char *eps[] = {"tcp://127.0.0.1:9092"};
    zkp_broker_t b = {.id = 4, .host = "127.0.0.1", .port = 9092, .endpoints = eps, .n_endpoints = 1,
                      .timestamp_ms = 1763686539000};
    char *dirs[] = {"/data/a", "/data/b"}, *topics[] = {"orders", "audit"};
    int32_t parts[] = {0, 3};
    br_md_member_t variants[] = {
        {0},
        {.offline_dirs = dirs, .n_offline_dirs = 2, .offline_topics = topics, .offline_parts = parts, .n_offline = 2},
        {.offline_dirs = dirs, .n_offline_dirs = 1},
        {.offline_topics = topics, .offline_parts = parts, .n_offline = 1},
        {.controlled_shutdown = true},
        {.offline_dirs = dirs, .n_offline_dirs = 1, .offline_topics = topics, .offline_parts = parts, .n_offline = 1,
         .controlled_shutdown = true},
    };
    for (size_t i = 0; i < sizeof(variants) / sizeof(variants[0]); i++) {
        char *j = br_md_member_encode(&b, &variants[i]);
        CU_ASSERT_PTR_NOT_NULL_FATAL(j);
        size_t dev = zks_check_node(schemas, "/brokers/ids/4", j, strlen(j), true, print_report, NULL);
        if (dev)
            fprintf(stderr, "  variant %zu: %s\n", i, j);
        CU_ASSERT_EQUAL(dev, 0);
        /* every broker still reads it as a registration */
        zkp_broker_t d;
        char err[256] = "";
        CU_ASSERT_EQUAL(zkp_broker_decode(j, strlen(j), 4, &d, err, sizeof(err)), ST_OK);
        CU_ASSERT_EQUAL(d.port, 9092);
        zkp_broker_free(&d);
        br_md_member_t x;
        CU_ASSERT_EQUAL(br_md_member_decode(j, strlen(j), &x), ST_OK);
        CU_ASSERT_EQUAL(x.n_offline_dirs, variants[i].n_offline_dirs);
        CU_ASSERT_EQUAL(x.n_offline, variants[i].n_offline);
        CU_ASSERT_EQUAL(x.controlled_shutdown, variants[i].controlled_shutdown);
        br_md_member_free(&x);
        free(j);
    }
}

/* Every `#define NAME "/..."` in the .c/.h files of dir whose NAME ends
 * in _PATH or starts with ZKP_PATH_ must match a schema. Returns the
 * number of constants seen. */
static int scan_dir(const char *dir, regex_t *re)
{
    char path[1024];
    int seen = 0;
    DIR *d = opendir(dir);
    CU_ASSERT_PTR_NOT_NULL_FATAL(d);
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        size_t l = strlen(de->d_name);
        if (l < 3 || (strcmp(de->d_name + l - 2, ".c") != 0 && strcmp(de->d_name + l - 2, ".h") != 0))
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        FILE *f = fopen(path, "r");
        if (f == NULL)
            continue;
        char line[1024];
        while (fgets(line, sizeof(line), f) != NULL) {
            regmatch_t m[3];
            if (regexec(re, line, 3, m, 0) != 0)
                continue;
            char name[128], value[512];
            snprintf(name, sizeof(name), "%.*s", (int)(m[1].rm_eo - m[1].rm_so), line + m[1].rm_so);
            snprintf(value, sizeof(value), "%.*s", (int)(m[2].rm_eo - m[2].rm_so), line + m[2].rm_so);
            size_t nl = strlen(name);
            if (strncmp(name, "ZKP_PATH_", 9) != 0 && (nl < 5 || strcmp(name + nl - 5, "_PATH") != 0))
                continue;
            seen++;
            const zks_entry_t *e = zks_set_match(schemas, value);
            if (e == NULL)
                fprintf(stderr, "  %s: %s \"%s\" has no zk-schema file\n", path, name, value);
            CU_ASSERT_PTR_NOT_NULL(e);
        }
        fclose(f);
    }
    closedir(d);
    return seen;
}

static void test_path_constants(void)
{
    regex_t re;
    CU_ASSERT_EQUAL_FATAL(regcomp(&re, "^#define[ \t]+([A-Z0-9_]+)[ \t]+\"(/[^\"]*)\"", REG_EXTENDED), 0);
    int seen = scan_dir(ST_SRCDIR "/src/coord", &re) + scan_dir(ST_SRCDIR "/src/broker", &re);
    regfree(&re);
    /* the scan itself works: zkp.h alone has ten */
    CU_ASSERT(seen >= 10);
}

int main(void)
{
    CU_TestInfo tests[] = {
        {"br_pid block encoder vs schema", test_pid_block},
        {"reassignment znode (zkp codec) vs schema", test_reassign},
        {"br_md member encoder vs broker schema", test_member},
        {"every path constant has a schema", test_path_constants},
        CU_TEST_INFO_NULL,
    };
    CU_SuiteInfo suites[] = {
        {"zk drift", suite_init, suite_clean, NULL, NULL, tests},
        CU_SUITE_INFO_NULL,
    };
    return tu_main(suites);
}
