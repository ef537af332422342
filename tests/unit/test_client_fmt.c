/*
 * Unit tests of the CLI's consume output: kcat-style format strings and
 * JSON lines (src/cli/cli_fmt.c).
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_fmt.h"
#include "tu.h"

static strata_message_t sample(void)
{
    static const strata_header_t hdrs[2] = {{"h1", 2, "a", 1}, {"h2", 2, "bc", 2}};
    strata_message_t m;
    memset(&m, 0, sizeof m);
    m.topic = "orders";
    m.partition = 3;
    m.offset = 42;
    m.timestamp = 1700000000123;
    m.key = "k1";
    m.key_len = 2;
    m.value = "hello";
    m.value_len = 5;
    m.headers = hdrs;
    m.n_headers = 2;
    return m;
}

static char *render(const char *fmt, const strata_message_t *m)
{
    cli_out_t o;
    cli_out_init(&o);
    CU_ASSERT_TRUE(cli_fmt_render(fmt, m, &o));
    if (o.buf == NULL)
        return strdup("");
    return o.buf;
}

static void check(const char *fmt, const strata_message_t *m, const char *want)
{
    char *got = render(fmt, m);
    CU_ASSERT_STRING_EQUAL(got, want);
    free(got);
}

static void test_fields(void)
{
    strata_message_t m = sample();
    check("%s\\n", &m, "hello\n");
    check("%t/%p/%o", &m, "orders/3/42");
    check("%k=%s", &m, "k1=hello");
    check("%T", &m, "1700000000123");
    check("%K %S", &m, "2 5");
    check("%h", &m, "h1=a,h2=bc");
    check("100%% %s", &m, "100% hello");
    check("a\\tb\\\\c", &m, "a\tb\\c");
    check("plain", &m, "plain");
    check("%x %", &m, "%x %");
}

static void test_nulls(void)
{
    strata_message_t m = sample();
    m.key = NULL;
    m.key_len = 0;
    m.value = NULL;
    m.value_len = 0;
    m.n_headers = 0;
    check("[%k][%s][%K][%S][%h]", &m, "[][][-1][-1][]");
}

static void test_binary_value(void)
{
    strata_message_t m = sample();
    m.value = "a\0b";
    m.value_len = 3;
    cli_out_t o;
    cli_out_init(&o);
    CU_ASSERT_TRUE(cli_fmt_render("%s|", &m, &o));
    CU_ASSERT_EQUAL(o.len, 4u);
    CU_ASSERT(memcmp(o.buf, "a\0b|", 4) == 0);
    cli_out_free(&o);
}

static void test_json(void)
{
    strata_message_t m = sample();
    cli_out_t o;
    cli_out_init(&o);
    CU_ASSERT_TRUE_FATAL(cli_fmt_json(&m, &o));
    CU_ASSERT_EQUAL(o.buf[o.len - 1], '\n');
    json_error_t je;
    json_t *j = json_loads(o.buf, 0, &je);
    CU_ASSERT_PTR_NOT_NULL_FATAL(j);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(j, "topic")), "orders");
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(j, "offset")), 42);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(j, "value")), "hello");
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(json_object_get(j, "headers"), "h2")), "bc");
    json_decref(j);
    /* binary values travel as base64 */
    m.value = "\xff\x00\x01";
    m.value_len = 3;
    m.key = NULL;
    o.len = 0;
    CU_ASSERT_TRUE_FATAL(cli_fmt_json(&m, &o));
    j = json_loads(o.buf, 0, &je);
    CU_ASSERT_PTR_NOT_NULL_FATAL(j);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(j, "value")), "/wAB");
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(j, "value_encoding")), "base64");
    CU_ASSERT_TRUE(json_is_null(json_object_get(j, "key")));
    json_decref(j);
    cli_out_free(&o);
}

static CU_TestInfo fmt_tests[] = {
    {"every escape", test_fields},
    {"null key and value", test_nulls},
    {"binary value", test_binary_value},
    {"json lines", test_json},
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    {"consume format", NULL, NULL, NULL, NULL, fmt_tests},
    CU_SUITE_INFO_NULL,
};

int main(void)
{
    return tu_main(suites);
}
