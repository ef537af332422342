/*
 * The drift rule of zk-schema/ for payloads the brokers encode themselves
 * (not through zknode): br_producer_id's /latest_producer_id_block and br_md's
 * additions to /brokers/ids/<id>. Each broker encoder's output must pass its
 * schema and zknode's decoder, zknode's encoding must pass the broker's decoder,
 * and every ZooKeeper path constant (#define ..._PATH "/...") in
 * src/ (every folder) must be described by some schema file, so a new
 * znode cannot appear without one. (br_ctl reads and writes
 * /admin/reassign_partitions through zknode_reassign_*; its test checks zknode's
 * encodings against the schema.)
 */
#include <dirent.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control/br_ctl.h"
#include "control/br_md.h"
#include "control/br_producer_id.h"
#include "coord/zknode.h"
#include "coord/zkschema.h"
#include "tu.h"

#ifndef ZK_SCHEMA_DIR
#error "ZK_SCHEMA_DIR must name the source tree's zk-schema directory"
#endif
#ifndef ST_SRCDIR
#error "ST_SRCDIR must name the source tree"
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
    fprintf(stderr, "  %s %s\n", where, msg);
}

static size_t check(const char *path, const char *payload)
{
    return zkschema_check_node(schemas, path, payload, strlen(payload), false, print_report, NULL);
}

static void test_pid_block(void)
{
    CU_ASSERT_STRING_EQUAL(BR_PRODUCER_ID_BLOCK_PATH, ZKNODE_PATH_PID_BLOCK);
    /* the first block, the next ones, and one near the end of the id space */
    br_producer_id_block_t b, prev;
    CU_ASSERT_EQUAL_FATAL(br_producer_id_block_next(NULL, 2, &b), ST_OK);
    for (int i = 0; i < 4; i++) {
        char *j = NULL, err[256] = "";
        CU_ASSERT_EQUAL_FATAL(br_producer_id_block_encode(&b, &j), ST_OK);
        CU_ASSERT_EQUAL(check(ZKNODE_PATH_PID_BLOCK, j), 0);
        zknode_pid_block_t d;
        CU_ASSERT_EQUAL(zknode_pid_block_decode(j, strlen(j), &d, err, sizeof(err)), ST_OK);
        CU_ASSERT_EQUAL(d.broker, b.broker);
        CU_ASSERT_EQUAL(d.block_start, b.start);
        CU_ASSERT_EQUAL(d.block_end, b.end);
        free(j);
        /* and the other way round */
        j = zknode_pid_block_encode(&d);
        br_producer_id_block_t e;
        CU_ASSERT_EQUAL(br_producer_id_block_decode(j, strlen(j), &e), ST_OK);
        CU_ASSERT_EQUAL(e.broker, b.broker);
        CU_ASSERT_EQUAL(e.start, b.start);
        CU_ASSERT_EQUAL(e.end, b.end);
        free(j);
        prev = b;
        if (i == 2)
            prev.end = INT64_MAX - 2 * BR_PRODUCER_ID_BLOCK_SIZE;
        CU_ASSERT_EQUAL_FATAL(br_producer_id_block_next(&prev, 1, &b), ST_OK);
    }
}

static void test_reassign(void)
{
    /* br_ctl reads and writes the znode with zknode_reassign_*: check
     * the path and that zknode's encodings pass the schema */
    CU_ASSERT_STRING_EQUAL(BR_REASSIGN_PATH, ZKNODE_PATH_REASSIGN);
    int32_t r0[] = {4, 5, 6}, r1[] = {2};
    zknode_reassign_part_t v[] = {
        {.topic = "orders", .partition = 0, .replicas = r0, .n_replicas = 3},
        {.topic = "x_y-z.1", .partition = 12, .replicas = r1, .n_replicas = 1},
    };
    char err[256] = "";
    zknode_reassign_t r = {.parts = v, .n = 2};
    char *j = zknode_reassign_encode(&r);
    CU_ASSERT_PTR_NOT_NULL_FATAL(j);
    CU_ASSERT_EQUAL(check(ZKNODE_PATH_REASSIGN, j), 0);
    zknode_reassign_t d;
    CU_ASSERT_EQUAL_FATAL(zknode_reassign_decode(j, strlen(j), &d, err, sizeof(err)), ST_OK);
    CU_ASSERT_EQUAL_FATAL(d.n, 2);
    CU_ASSERT_STRING_EQUAL(d.parts[1].topic, "x_y-z.1");
    CU_ASSERT_EQUAL(d.parts[1].partition, 12);
    CU_ASSERT_EQUAL_FATAL(d.parts[0].n_replicas, 3);
    CU_ASSERT_EQUAL(memcmp(d.parts[0].replicas, r0, sizeof(r0)), 0);
    free(j);
    zknode_reassign_free(&d);

    /* what the controller writes when one entry remains, and the empty
     * list an operator may leave */
    r.parts = v + 1;
    r.n = 1;
    j = zknode_reassign_encode(&r);
    CU_ASSERT_EQUAL(check(ZKNODE_PATH_REASSIGN, j), 0);
    free(j);
    r.n = 0;
    j = zknode_reassign_encode(&r);
    CU_ASSERT_PTR_NOT_NULL_FATAL(j);
    CU_ASSERT_EQUAL(check(ZKNODE_PATH_REASSIGN, j), 0);
    free(j);

    /* an empty replica list is refused by the schema and the decoder */
    const char *empty = "{\"version\":1,\"partitions\":[{\"topic\":\"t\",\"partition\":0,\"replicas\":[]}]}";
    CU_ASSERT_NOT_EQUAL(check(ZKNODE_PATH_REASSIGN, empty), 0);
    CU_ASSERT_EQUAL(zknode_reassign_decode(empty, strlen(empty), &d, err, sizeof(err)), ST_ERR_CORRUPT);
    zknode_reassign_free(&d);
}

static void test_member(void)
{
    char *eps[] = {"tcp://127.0.0.1:9092"};
    zknode_broker_t b = {.id = 4,
                         .host = "127.0.0.1",
                         .port = 9092,
                         .endpoints = eps,
                         .n_endpoints = 1,
                         .timestamp_ms = 1763686539000};
    char *dirs[] = {"/data/a", "/data/b"}, *topics[] = {"orders", "audit"};
    int32_t parts[] = {0, 3};
    br_md_member_t variants[] = {
        {0},
        {.offline_dirs = dirs,
         .n_offline_dirs = 2,
         .offline_topics = topics,
         .offline_parts = parts,
         .n_offline = 2},
        {.offline_dirs = dirs, .n_offline_dirs = 1},
        {.offline_topics = topics, .offline_parts = parts, .n_offline = 1},
        {.controlled_shutdown = true},
        {.offline_dirs = dirs,
         .n_offline_dirs = 1,
         .offline_topics = topics,
         .offline_parts = parts,
         .n_offline = 1,
         .controlled_shutdown = true},
    };
    for (size_t i = 0; i < sizeof(variants) / sizeof(variants[0]); i++) {
        char *j = br_md_member_encode(&b, &variants[i]);
        CU_ASSERT_PTR_NOT_NULL_FATAL(j);
        size_t dev = zkschema_check_node(schemas, "/brokers/ids/4", j, strlen(j), true, print_report, NULL);
        if (dev)
            fprintf(stderr, "  variant %zu: %s\n", i, j);
        CU_ASSERT_EQUAL(dev, 0);
        /* every broker still reads it as a registration */
        zknode_broker_t d;
        char err[256] = "";
        CU_ASSERT_EQUAL(zknode_broker_decode(j, strlen(j), 4, &d, err, sizeof(err)), ST_OK);
        CU_ASSERT_EQUAL(d.port, 9092);
        zknode_broker_free(&d);
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
 * in _PATH or starts with ZKNODE_PATH_ must match a schema. Returns the
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
            if (strncmp(name, "ZKNODE_PATH_", 9) != 0 && (nl < 5 || strcmp(name + nl - 5, "_PATH") != 0))
                continue;
            seen++;
            const zkschema_entry_t *e = zkschema_set_match(schemas, value);
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
    int seen = 0;
    static const char *const dirs[] = {"coord", "broker", "control", "partition", "group", "storage"};
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        char path[512];
        snprintf(path, sizeof path, "%s/src/%s", ST_SRCDIR, dirs[i]);
        seen += scan_dir(path, &re);
    }
    regfree(&re);
    /* the scan itself works: zknode.h alone has ten */
    CU_ASSERT(seen >= 10);
}

int main(void)
{
    CU_TestInfo tests[] = {
        {"br_producer_id block encoder vs schema", test_pid_block},
        {"reassignment znode (zknode codec) vs schema", test_reassign},
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
