/*
 * Unit tests of src/common: error names and mapping, CRC32C.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/st_arena.h"
#include "common/st_crc.h"
#include "common/st_hmap.h"
#include "common/st_err.h"
#include "tu.h"

static void test_err_names(void)
{
    CU_ASSERT_STRING_EQUAL(st_err_name(ST_ERR_NOT_LEADER_OR_FOLLOWER), "NOT_LEADER_OR_FOLLOWER");
    CU_ASSERT_STRING_EQUAL(st_err_name(ST_OK), "NONE");
    CU_ASSERT_STRING_EQUAL(st_err_name((st_err_t)12345), "UNKNOWN_ERROR_CODE");
}

static void test_err_wire(void)
{
    CU_ASSERT_EQUAL(st_err_to_wire(ST_ERR_NO_SPACE), ST_ERR_KAFKA_STORAGE_ERROR);
    CU_ASSERT_EQUAL(st_err_to_wire(ST_ERR_CORRUPT), ST_ERR_CORRUPT_MESSAGE);
    CU_ASSERT_EQUAL(st_err_to_wire(ST_ERR_OFFSET_OUT_OF_RANGE), ST_ERR_OFFSET_OUT_OF_RANGE);
    CU_ASSERT_TRUE(st_err_retriable(ST_ERR_NOT_LEADER_OR_FOLLOWER));
    CU_ASSERT_FALSE(st_err_retriable(ST_ERR_MESSAGE_TOO_LARGE));
}

static void test_crc32c(void)
{
    /* the standard CRC32C check value */
    CU_ASSERT_EQUAL(st_crc32c("123456789", 9), 0xE3069283u);
    CU_ASSERT_EQUAL(st_crc32c_update(st_crc32c("1234", 4), "56789", 5), 0xE3069283u);
    CU_ASSERT_EQUAL(st_crc32c("", 0), 0u);
    /* RFC 3720 B.4: 32 bytes of zeros */
    unsigned char z[32];
    memset(z, 0, sizeof z);
    CU_ASSERT_EQUAL(st_crc32c(z, sizeof z), 0x8A9136AAu);
}

typedef struct arena_pair {
    int64_t a;
    const char *name;
} arena_pair_t;

#define ARENA_PAIR_INIT                                                                                      \
    {                                                                                                        \
        42, "x"                                                                                              \
    }

static void test_arena(void)
{
    st_arena_t a = ST_ARENA_INIT;
    /* zeroed, aligned, distinct blocks across many chunks */
    unsigned char *prev = NULL;
    for (int i = 0; i < 5000; i++) {
        unsigned char *m = st_arena_alloc(&a, (size_t)(i % 97) + 1);
        CU_ASSERT_PTR_NOT_NULL_FATAL(m);
        CU_ASSERT_EQUAL((uintptr_t)m % _Alignof(max_align_t), 0);
        for (int k = 0; k < i % 97 + 1; k++)
            CU_ASSERT_EQUAL(m[k], 0);
        memset(m, 0xab, (size_t)(i % 97) + 1);
        CU_ASSERT(m != prev);
        prev = m;
    }
    /* a block larger than a chunk */
    unsigned char *big = st_arena_alloc(&a, 100000);
    CU_ASSERT_PTR_NOT_NULL_FATAL(big);
    CU_ASSERT_EQUAL(big[99999], 0);
    memset(big, 1, 100000);
    /* small blocks still come after the big one */
    CU_ASSERT_PTR_NOT_NULL(st_arena_alloc(&a, 8));
    CU_ASSERT_STRING_EQUAL(st_arena_strdup(&a, "topic"), "topic");
    CU_ASSERT_STRING_EQUAL(st_arena_strdup(&a, NULL), "");
    arena_pair_t *p = ST_ARENA_NEW(&a, arena_pair_t, ARENA_PAIR_INIT);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    CU_ASSERT_EQUAL(p->a, 42);
    CU_ASSERT_STRING_EQUAL(p->name, "x");
    st_arena_free(&a);
    CU_ASSERT_PTR_NULL(a.head);
    /* usable again after free */
    CU_ASSERT_PTR_NOT_NULL(st_arena_alloc(&a, 16));
    st_arena_free(&a);
}

typedef struct hm_obj {
    int key;
    st_hnode_t node;
} hm_obj_t;

static hm_obj_t *hm_find(st_hmap_t *m, int key, uint64_t h)
{
    for (st_hnode_t *n = st_hmap_first(m, h); n; n = st_hmap_next(n, h)) {
        hm_obj_t *o = ST_CONTAINER_OF(n, hm_obj_t, node);
        if (o->key == key)
            return o;
    }
    return NULL;
}

static uint64_t hm_hash(int key)
{
    /* every fourth key collides with its neighbour on purpose */
    int k = key - key % 2 * (key % 4 == 1);
    return st_hash_bytes(ST_HASH_INIT, &k, sizeof k);
}

static void test_hmap(void)
{
    enum {
        N = 5000
    };
    st_hmap_t m;
    CU_ASSERT_EQUAL_FATAL(st_hmap_init(&m, 4), ST_OK);
    hm_obj_t *objs = calloc(N, sizeof *objs);
    CU_ASSERT_PTR_NOT_NULL_FATAL(objs);
    for (int i = 0; i < N; i++) {
        objs[i].key = i;
        st_hmap_insert(&m, &objs[i].node, hm_hash(i));
    }
    CU_ASSERT_EQUAL(m.n, (size_t)N);
    CU_ASSERT(m.n_buckets >= (size_t)N); /* grew */
    for (int i = 0; i < N; i++)
        CU_ASSERT_PTR_EQUAL(hm_find(&m, i, hm_hash(i)), &objs[i]);
    CU_ASSERT_PTR_NULL(hm_find(&m, N + 1, hm_hash(N + 1)));
    for (int i = 0; i < N; i += 2)
        st_hmap_remove(&m, &objs[i].node);
    CU_ASSERT_EQUAL(m.n, (size_t)N / 2);
    for (int i = 0; i < N; i++)
        CU_ASSERT_PTR_EQUAL(hm_find(&m, i, hm_hash(i)), i % 2 ? &objs[i] : NULL);
    st_hmap_fini(&m);
    free(objs);
    /* FNV-1a of "a" (the published test value) */
    CU_ASSERT_EQUAL(st_hash_str(ST_HASH_INIT, "a"), 0xaf63dc4c8601ec8cull);
    CU_ASSERT_EQUAL(st_hash_bytes(ST_HASH_INIT, "a", 1), st_hash_str(ST_HASH_INIT, "a"));
}

static CU_TestInfo hmap_tests[] = {
    {"insert, find, collide, grow, remove", test_hmap},
    CU_TEST_INFO_NULL,
};

static CU_TestInfo arena_tests[] = {
    {"blocks, big blocks, strings, objects", test_arena},
    CU_TEST_INFO_NULL,
};

static CU_TestInfo err_tests[] = {
    {"names", test_err_names},
    {"wire mapping", test_err_wire},
    CU_TEST_INFO_NULL,
};
static CU_TestInfo crc_tests[] = {
    {"crc32c vectors", test_crc32c},
    CU_TEST_INFO_NULL,
};
static CU_SuiteInfo suites[] = {
    {"st_err", NULL, NULL, NULL, NULL, err_tests},
    {"st_crc", NULL, NULL, NULL, NULL, crc_tests},
    {"st_arena", NULL, NULL, NULL, NULL, arena_tests},
    {"st_hmap", NULL, NULL, NULL, NULL, hmap_tests},
    CU_SUITE_INFO_NULL,
};

int main(void)
{
    return tu_main(suites);
}
