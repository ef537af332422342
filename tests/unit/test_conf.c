/*
 * Unit tests of src/common/st_conf: defaults, parsing, ranges, unknown
 * keys, error messages naming the key, file parsing, Markdown output.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/st_conf.h"
#include "tu.h"

typedef struct tc_conf {
    int64_t id;
    int64_t size;
    bool flag;
    char *name;
    char *mode;
    char *list;
} tc_conf_t;

static const st_conf_prop_t tc_table[] = {
    {"test.id", ST_CONF_INT, NULL, 0, 1000, NULL, false, true, "an id", offsetof(tc_conf_t, id)},
    {"test.size", ST_CONF_INT, "1024", 1, INT64_MAX, NULL, true, false, "a size", offsetof(tc_conf_t, size)},
    {"test.flag", ST_CONF_BOOL, "true", 0, 0, NULL, false, false, "a flag", offsetof(tc_conf_t, flag)},
    {"test.name", ST_CONF_STRING, "hello", 0, 0, NULL, false, false, "a name", offsetof(tc_conf_t, name)},
    {"test.mode", ST_CONF_STRING, "delete", 0, 0, "delete|compact", false, false, "a mode",
     offsetof(tc_conf_t, mode)},
    {"test.list", ST_CONF_LIST, "a,b", 0, 0, NULL, false, false, "a list", offsetof(tc_conf_t, list)},
    {NULL},
};

static void test_defaults(void)
{
    tc_conf_t c = {0};
    CU_ASSERT_EQUAL(st_conf_defaults(tc_table, &c), ST_OK);
    CU_ASSERT_EQUAL(c.size, 1024);
    CU_ASSERT_TRUE(c.flag);
    CU_ASSERT_STRING_EQUAL(c.name, "hello");
    CU_ASSERT_STRING_EQUAL(c.mode, "delete");
    CU_ASSERT_STRING_EQUAL(c.list, "a,b");
    char *v = st_conf_get(tc_table, &c, "test.size");
    CU_ASSERT_STRING_EQUAL(v, "1024");
    free(v);
    v = st_conf_get(tc_table, &c, "test.id"); /* unset required int */
    CU_ASSERT_STRING_EQUAL(v, "");
    free(v);
    CU_ASSERT_PTR_NULL(st_conf_get(tc_table, &c, "no.such.key"));
    st_conf_free(tc_table, &c);
    CU_ASSERT_PTR_NULL(c.name);
}

static void test_set(void)
{
    tc_conf_t c = {0};
    char err[256];
    st_conf_defaults(tc_table, &c);
    CU_ASSERT_EQUAL(st_conf_set(tc_table, &c, "test.id", "7", err, sizeof err), ST_OK);
    CU_ASSERT_EQUAL(c.id, 7);
    CU_ASSERT_EQUAL(st_conf_set(tc_table, &c, "test.flag", "FALSE", err, sizeof err), ST_OK);
    CU_ASSERT_FALSE(c.flag);
    CU_ASSERT_EQUAL(st_conf_set(tc_table, &c, "test.mode", "compact", err, sizeof err), ST_OK);
    CU_ASSERT_STRING_EQUAL(c.mode, "compact");
    CU_ASSERT_EQUAL(st_conf_set(tc_table, &c, "test.list", " x , y ,z", err, sizeof err), ST_OK);
    CU_ASSERT_STRING_EQUAL(c.list, "x,y,z");
    char *v = st_conf_get(tc_table, &c, "test.flag");
    CU_ASSERT_STRING_EQUAL(v, "false");
    free(v);
    st_conf_free(tc_table, &c);
}

static void test_ranges_and_errors(void)
{
    tc_conf_t c = {0};
    char err[256];
    st_conf_defaults(tc_table, &c);
    CU_ASSERT_EQUAL(st_conf_set(tc_table, &c, "test.id", "1001", err, sizeof err), ST_ERR_INVALID_CONFIG);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "test.id"));
    CU_ASSERT_EQUAL(st_conf_set(tc_table, &c, "test.id", "-1", err, sizeof err), ST_ERR_INVALID_CONFIG);
    CU_ASSERT_EQUAL(st_conf_set(tc_table, &c, "test.id", "1000", err, sizeof err), ST_OK);
    CU_ASSERT_EQUAL(st_conf_set(tc_table, &c, "test.size", "12x", err, sizeof err), ST_ERR_INVALID_CONFIG);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "test.size"));
    CU_ASSERT_EQUAL(c.size, 1024); /* unchanged on error */
    CU_ASSERT_EQUAL(st_conf_set(tc_table, &c, "test.size", "", err, sizeof err), ST_ERR_INVALID_CONFIG);
    CU_ASSERT_EQUAL(st_conf_set(tc_table, &c, "test.size", "99999999999999999999999", err, sizeof err),
                    ST_ERR_INVALID_CONFIG);
    CU_ASSERT_EQUAL(st_conf_set(tc_table, &c, "test.flag", "yes", err, sizeof err), ST_ERR_INVALID_CONFIG);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "test.flag"));
    CU_ASSERT_EQUAL(st_conf_set(tc_table, &c, "test.mode", "weird", err, sizeof err), ST_ERR_INVALID_CONFIG);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "test.mode"));
    CU_ASSERT_STRING_EQUAL(c.mode, "delete");
    CU_ASSERT_EQUAL(st_conf_set(tc_table, &c, "test.unknown", "1", err, sizeof err), ST_ERR_NOT_FOUND);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "test.unknown"));
    st_conf_free(tc_table, &c);
}

static char *write_file(const char *dir, const char *text)
{
    char *path = malloc(strlen(dir) + 32);
    sprintf(path, "%s/conf.properties", dir);
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
    return path;
}

static void test_file(void)
{
    char *dir = tu_tmpdir("test_conf");
    char err[256];
    tc_conf_t c = {0};
    st_conf_defaults(tc_table, &c);
    char *path = write_file(dir, "# comment\n\n  test.id = 3 \ntest.name=a=b\ntest.id=4\n! also comment\n");
    CU_ASSERT_EQUAL(st_conf_load_file(tc_table, &c, path, false, err, sizeof err), ST_OK);
    CU_ASSERT_EQUAL(c.id, 4); /* later lines win */
    CU_ASSERT_STRING_EQUAL(c.name, "a=b");
    free(path);

    /* missing required key */
    st_conf_free(tc_table, &c);
    st_conf_defaults(tc_table, &c);
    path = write_file(dir, "test.size=5\n");
    CU_ASSERT_EQUAL(st_conf_load_file(tc_table, &c, path, false, err, sizeof err), ST_ERR_INVALID_CONFIG);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "test.id"));
    /* ... but a required key set before loading counts */
    st_conf_set(tc_table, &c, "test.id", "9", err, sizeof err);
    CU_ASSERT_EQUAL(st_conf_load_file(tc_table, &c, path, false, err, sizeof err), ST_OK);
    CU_ASSERT_EQUAL(c.size, 5);
    free(path);

    /* unknown key: error unless allowed */
    path = write_file(dir, "test.id=1\nbogus.key=1\n");
    CU_ASSERT_EQUAL(st_conf_load_file(tc_table, &c, path, false, err, sizeof err), ST_ERR_NOT_FOUND);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "bogus.key"));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, ":2"));
    CU_ASSERT_EQUAL(st_conf_load_file(tc_table, &c, path, true, err, sizeof err), ST_OK);
    free(path);

    /* bad value names key and line */
    path = write_file(dir, "test.id=1\ntest.size=0\n");
    CU_ASSERT_EQUAL(st_conf_load_file(tc_table, &c, path, false, err, sizeof err), ST_ERR_INVALID_CONFIG);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "test.size"));
    free(path);

    /* no '=' */
    path = write_file(dir, "test.id\n");
    CU_ASSERT_EQUAL(st_conf_load_file(tc_table, &c, path, false, err, sizeof err), ST_ERR_INVALID_CONFIG);
    free(path);

    /* missing file */
    CU_ASSERT_EQUAL(st_conf_load_file(tc_table, &c, "/nonexistent/x.properties", false, err, sizeof err),
                    ST_ERR_IO);
    st_conf_free(tc_table, &c);
    tu_rmrf(dir);
    free(dir);
}

static void test_markdown(void)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    st_conf_write_markdown(tc_table, "Test properties", f);
    fclose(f);
    CU_ASSERT_PTR_NOT_NULL(strstr(buf, "## Test properties"));
    CU_ASSERT_PTR_NOT_NULL(strstr(buf, "| `test.size` | int | `1024` | &ge; 1 | yes | a size |"));
    CU_ASSERT_PTR_NOT_NULL(strstr(buf, "| `test.id` | int | *required* | 0 .. 1000 | no | an id |"));
    CU_ASSERT_PTR_NOT_NULL(strstr(buf, "delete\\|compact"));
    free(buf);
}

static CU_TestInfo conf_tests[] = {
    {"defaults", test_defaults}, {"set", test_set},           {"ranges and errors", test_ranges_and_errors},
    {"file", test_file},         {"markdown", test_markdown}, CU_TEST_INFO_NULL,
};
static CU_SuiteInfo suites[] = {
    {"st_conf", NULL, NULL, NULL, NULL, conf_tests},
    CU_SUITE_INFO_NULL,
};

int main(void)
{
    return tu_main(suites);
}
