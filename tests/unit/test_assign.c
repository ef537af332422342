/*
 * Unit tests of src/client/sc_assign: Kafka's documented range/roundrobin
 * and sticky examples, stickiness on leave and join, the cooperative
 * two-phase handover, ownership conflicts, the protobuf codecs, and random
 * property rounds checked by sc_assign_validate().
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/sc_assign.h"
#include "tu.h"

#define MAXT 8
#define MAXP 512

static const char *tnames[MAXT] = {"t0", "t1", "t2", "t3", "t4", "t5", "t6", "t7"};

/* A test member with its own storage; owned topics point at tnames. */
typedef struct tmem {
    char id[16];
    const char *topics[MAXT + 1];
    size_t nt;
    sc_assign_tp_t owned[MAXP];
    size_t no;
    int32_t gen;
} tmem_t;

static const char *tname(const char *s)
{
    for (size_t i = 0; i < MAXT; i++)
        if (strcmp(tnames[i], s) == 0)
            return tnames[i];
    return NULL;
}

static void tm_init(tmem_t *m, const char *id, const char *subs)
{
    memset(m, 0, sizeof *m);
    snprintf(m->id, sizeof m->id, "%s", id);
    m->gen = -1;
    /* subs: digits of subscribed topics, e.g. "013" */
    for (const char *s = subs; *s; s++)
        m->topics[m->nt++] = tnames[*s - '0'];
}

static void tm_own(tmem_t *m, const char *topic, int32_t p)
{
    m->owned[m->no].topic = tname(topic);
    m->owned[m->no].partition = p;
    m->no++;
}

/* Owned partitions := the result's assignment of member i. */
static void tm_own_result(tmem_t *m, const sc_assign_assignment_t *a, int32_t gen)
{
    m->no = 0;
    m->gen = gen;
    for (size_t k = 0; k < a->n_tps; k++)
        tm_own(m, a->tps[k].topic, a->tps[k].partition);
}

static void tm_view(const tmem_t *tm, size_t n, sc_assign_member_t *out)
{
    for (size_t i = 0; i < n; i++) {
        out[i] = (sc_assign_member_t){.member_id = tm[i].id,
                                      .topics = (const char **)tm[i].topics,
                                      .n_topics = tm[i].nt,
                                      .owned = tm[i].owned,
                                      .n_owned = tm[i].no,
                                      .generation = tm[i].gen};
    }
}

/* "t0p0,t0p1,..." of one assignment. */
static const char *fmt(const sc_assign_assignment_t *a)
{
    static char buf[4096];
    size_t o = 0;
    buf[0] = '\0';
    for (size_t k = 0; k < a->n_tps && o < sizeof buf - 32; k++)
        o += (size_t)snprintf(buf + o, sizeof buf - o, "%s%sp%d", k ? "," : "", a->tps[k].topic,
                              (int)a->tps[k].partition);
    return buf;
}

static bool has(const sc_assign_assignment_t *a, const char *topic, int32_t p)
{
    for (size_t k = 0; k < a->n_tps; k++)
        if (strcmp(a->tps[k].topic, topic) == 0 && a->tps[k].partition == p)
            return true;
    return false;
}

static bool owns(const tmem_t *m, const char *topic, int32_t p)
{
    for (size_t k = 0; k < m->no; k++)
        if (strcmp(m->owned[k].topic, topic) == 0 && m->owned[k].partition == p)
            return true;
    return false;
}

static void check_valid(const sc_assign_member_t *m, size_t n, const sc_assign_topic_t *t, size_t nt,
                        const sc_assign_result_t *r, unsigned flags)
{
    char why[256];
    st_err_t e = sc_assign_validate(m, n, t, nt, r, flags, why, sizeof why);
    if (e != ST_OK)
        fprintf(stderr, "\nvalidate: %s\n", why);
    CU_ASSERT_EQUAL(e, ST_OK);
}

/* ---------------------------------------------------------------------- */

static void test_range_kafka(void)
{
    tmem_t tm[2];
    sc_assign_member_t m[2];
    sc_assign_topic_t t[2] = {{"t1", 3}, {"t0", 3}};
    sc_assign_result_t r;
    /* given in reverse order: the result follows the input order, the
     * assignment follows the member ids */
    tm_init(&tm[0], "C1", "01");
    tm_init(&tm[1], "C0", "01");
    tm_view(tm, 2, m);
    CU_ASSERT_EQUAL_FATAL(sc_assign_range(m, 2, t, 2, &r), ST_OK);
    CU_ASSERT_STRING_EQUAL(r.members[1].member_id, "C0");
    CU_ASSERT_STRING_EQUAL(fmt(&r.members[1]), "t0p0,t0p1,t1p0,t1p1");
    CU_ASSERT_STRING_EQUAL(fmt(&r.members[0]), "t0p2,t1p2");
    check_valid(m, 2, t, 2, &r, SC_ASSIGN_V_COMPLETE);
    /* range is not balanced across topics: the validator must notice */
    CU_ASSERT_EQUAL(sc_assign_validate(m, 2, t, 2, &r, SC_ASSIGN_V_BALANCED, NULL, 0), ST_ERR_STATE);
    sc_assign_result_free(&r);

    /* 3 members, 7 partitions: 3,2,2 */
    tmem_t tm3[3];
    sc_assign_member_t m3[3];
    sc_assign_topic_t t7[1] = {{"t0", 7}};
    tm_init(&tm3[0], "a", "0");
    tm_init(&tm3[1], "b", "0");
    tm_init(&tm3[2], "c", "0");
    tm_view(tm3, 3, m3);
    CU_ASSERT_EQUAL_FATAL(sc_assign_range(m3, 3, t7, 1, &r), ST_OK);
    CU_ASSERT_STRING_EQUAL(fmt(&r.members[0]), "t0p0,t0p1,t0p2");
    CU_ASSERT_STRING_EQUAL(fmt(&r.members[1]), "t0p3,t0p4");
    CU_ASSERT_STRING_EQUAL(fmt(&r.members[2]), "t0p5,t0p6");
    sc_assign_result_free(&r);
}

static void test_roundrobin_kafka(void)
{
    tmem_t tm[3];
    sc_assign_member_t m[3];
    sc_assign_topic_t t[3] = {{"t0", 3}, {"t1", 3}, {"t2", 3}};
    sc_assign_result_t r;
    tm_init(&tm[0], "C0", "01");
    tm_init(&tm[1], "C1", "01");
    tm_view(tm, 2, m);
    CU_ASSERT_EQUAL_FATAL(sc_assign_roundrobin(m, 2, t, 2, &r), ST_OK);
    CU_ASSERT_STRING_EQUAL(fmt(&r.members[0]), "t0p0,t0p2,t1p1");
    CU_ASSERT_STRING_EQUAL(fmt(&r.members[1]), "t0p1,t1p0,t1p2");
    check_valid(m, 2, t, 2, &r, SC_ASSIGN_V_COMPLETE | SC_ASSIGN_V_BALANCED);
    sc_assign_result_free(&r);

    /* Kafka's javadoc: C0 {t0}, C1 {t0,t1}, C2 {t0,t1,t2}; t0 1, t1 2, t2 3
     * partitions -> C0 [t0p0], C1 [t1p0], C2 [t1p1,t2p0,t2p1,t2p2] */
    sc_assign_topic_t tk[3] = {{"t2", 3}, {"t0", 1}, {"t1", 2}};
    tm_init(&tm[0], "C0", "0");
    tm_init(&tm[1], "C1", "01");
    tm_init(&tm[2], "C2", "012");
    tm_view(tm, 3, m);
    CU_ASSERT_EQUAL_FATAL(sc_assign_roundrobin(m, 3, tk, 3, &r), ST_OK);
    CU_ASSERT_STRING_EQUAL(fmt(&r.members[0]), "t0p0");
    CU_ASSERT_STRING_EQUAL(fmt(&r.members[1]), "t1p0");
    CU_ASSERT_STRING_EQUAL(fmt(&r.members[2]), "t1p1,t2p0,t2p1,t2p2");
    check_valid(m, 3, tk, 3, &r, SC_ASSIGN_V_COMPLETE);
    sc_assign_result_free(&r);
}

static void test_lookup_and_args(void)
{
    CU_ASSERT_PTR_EQUAL(sc_assign_lookup("range")->assign, sc_assign_range);
    CU_ASSERT_PTR_EQUAL(sc_assign_lookup("roundrobin")->assign, sc_assign_roundrobin);
    CU_ASSERT_PTR_EQUAL(sc_assign_lookup("sticky")->assign, sc_assign_sticky);
    CU_ASSERT_PTR_EQUAL(sc_assign_lookup("cooperative-sticky")->assign, sc_assign_cooperative_sticky);
    CU_ASSERT_TRUE(sc_assign_lookup("cooperative-sticky")->cooperative);
    CU_ASSERT_FALSE(sc_assign_lookup("sticky")->cooperative);
    CU_ASSERT_PTR_NULL(sc_assign_lookup("uniform"));
    CU_ASSERT_PTR_NULL(sc_assign_lookup(NULL));

    tmem_t tm[2];
    sc_assign_member_t m[2];
    sc_assign_result_t r;
    sc_assign_topic_t t[2] = {{"t0", 2}, {"t0", 2}};
    tm_init(&tm[0], "a", "0");
    tm_init(&tm[1], "a", "0");
    tm_view(tm, 2, m);
    CU_ASSERT_EQUAL(sc_assign_sticky(m, 2, t, 1, &r), ST_ERR_INVALID_ARG); /* dup member */
    CU_ASSERT_EQUAL(r.n, 0u);
    sc_assign_result_free(&r);
    CU_ASSERT_EQUAL(sc_assign_range(m, 1, t, 2, &r), ST_ERR_INVALID_ARG); /* dup topic */
    t[1] = (sc_assign_topic_t){"t1", -1};
    CU_ASSERT_EQUAL(sc_assign_roundrobin(m, 1, t, 2, &r), ST_ERR_INVALID_ARG);
    m[1].member_id = NULL;
    CU_ASSERT_EQUAL(sc_assign_cooperative_sticky(m, 2, t, 1, &r), ST_ERR_INVALID_ARG);

    /* unknown subscribed topic and bogus owned partitions are ignored */
    tm_init(&tm[0], "a", "05");
    tm_init(&tm[1], "b", "0");
    tm_own(&tm[0], "t0", 99);
    tm_own(&tm[0], "t5", 0);
    tm_own(&tm[0], "t0", -3);
    tm_view(tm, 2, m);
    sc_assign_topic_t t2[1] = {{"t0", 2}};
    static const char *names[] = {"range", "roundrobin", "sticky", "cooperative-sticky"};
    for (size_t i = 0; i < 4; i++) {
        CU_ASSERT_EQUAL_FATAL(sc_assign_lookup(names[i])->assign(m, 2, t2, 1, &r), ST_OK);
        CU_ASSERT_EQUAL(r.members[0].n_tps, 1u);
        CU_ASSERT_EQUAL(r.members[1].n_tps, 1u);
        check_valid(m, 2, t2, 1, &r, SC_ASSIGN_V_COMPLETE | SC_ASSIGN_V_BALANCED);
        sc_assign_result_free(&r);
    }
    /* no members at all */
    CU_ASSERT_EQUAL(sc_assign_sticky(NULL, 0, t2, 1, &r), ST_OK);
    CU_ASSERT_EQUAL(r.n, 0u);
    sc_assign_result_free(&r);
}

/* Kafka's StickyAssignor javadoc example: C0,C1,C2 on t0..t3 (2 partitions
 * each) own the round-robin result; C1 leaves; sticky keeps every owned
 * partition and spreads only C1's. */
static void test_sticky_kafka_leave(void)
{
    tmem_t tm[3];
    sc_assign_member_t m[3];
    sc_assign_topic_t t[4] = {{"t0", 2}, {"t1", 2}, {"t2", 2}, {"t3", 2}};
    sc_assign_result_t r;
    for (int i = 0; i < 3; i++) {
        char id[4];
        snprintf(id, sizeof id, "C%d", i);
        tm_init(&tm[i], id, "0123");
    }
    tm_view(tm, 3, m);
    CU_ASSERT_EQUAL_FATAL(sc_assign_sticky(m, 3, t, 4, &r), ST_OK);
    check_valid(m, 3, t, 4, &r, SC_ASSIGN_V_COMPLETE | SC_ASSIGN_V_BALANCED);
    CU_ASSERT_STRING_EQUAL(fmt(&r.members[0]), "t0p0,t1p1,t3p0");
    CU_ASSERT_STRING_EQUAL(fmt(&r.members[1]), "t0p1,t2p0,t3p1");
    CU_ASSERT_STRING_EQUAL(fmt(&r.members[2]), "t1p0,t2p1");
    for (int i = 0; i < 3; i++)
        tm_own_result(&tm[i], &r.members[i], 1);
    sc_assign_result_free(&r);

    tm[1] = tm[2]; /* C1 leaves */
    tm_view(tm, 2, m);
    CU_ASSERT_EQUAL_FATAL(sc_assign_sticky(m, 2, t, 4, &r), ST_OK);
    check_valid(m, 2, t, 4, &r, SC_ASSIGN_V_COMPLETE | SC_ASSIGN_V_BALANCED);
    CU_ASSERT_STRING_EQUAL(fmt(&r.members[0]), "t0p0,t1p1,t2p0,t3p0");
    CU_ASSERT_STRING_EQUAL(fmt(&r.members[1]), "t0p1,t1p0,t2p1,t3p1");
    sc_assign_result_free(&r);
}

/* A member joins: partitions come only from over-loaded members, the
 * fewest possible move, and nobody else changes. */
static void test_sticky_join(void)
{
    tmem_t tm[4];
    sc_assign_member_t m[4];
    sc_assign_topic_t t[2] = {{"t0", 6}, {"t1", 5}};
    sc_assign_result_t r;
    tm_init(&tm[0], "m0", "01");
    tm_init(&tm[1], "m1", "01");
    tm_init(&tm[2], "m2", "01");
    /* skewed ownership: m0 7, m1 3, m2 1 */
    for (int p = 0; p < 6; p++)
        tm_own(&tm[0], "t0", p);
    tm_own(&tm[0], "t1", 0);
    for (int p = 1; p < 4; p++)
        tm_own(&tm[1], "t1", p);
    tm_own(&tm[2], "t1", 4);
    tm_init(&tm[3], "m3", "01");
    for (int i = 0; i < 3; i++)
        tm[i].gen = 4;
    tm_view(tm, 4, m);
    CU_ASSERT_EQUAL_FATAL(sc_assign_sticky(m, 4, t, 2, &r), ST_OK);
    check_valid(m, 4, t, 2, &r, SC_ASSIGN_V_COMPLETE | SC_ASSIGN_V_BALANCED);
    /* 11 over 4: 3,3,3,2. m0 (7) must give 4; m1 (3) and m2 (1) keep all */
    size_t kept[4] = {0};
    for (int i = 0; i < 4; i++)
        for (size_t k = 0; k < tm[i].no; k++)
            kept[i] += has(&r.members[i], tm[i].owned[k].topic, tm[i].owned[k].partition);
    CU_ASSERT_EQUAL(r.members[0].n_tps, 3u);
    CU_ASSERT_EQUAL(kept[0], 3u);
    CU_ASSERT_EQUAL(kept[1], 3u);
    CU_ASSERT_EQUAL(kept[2], 1u);
    CU_ASSERT_EQUAL(r.members[1].n_tps, 3u);
    CU_ASSERT(r.members[2].n_tps >= 2);
    CU_ASSERT(r.members[3].n_tps >= 2);
    /* moved = 4, the minimum: total 11 minus kept 7 */
    CU_ASSERT_EQUAL(kept[0] + kept[1] + kept[2], 7u);
    /* idempotent: feeding the result back changes nothing */
    for (int i = 0; i < 4; i++)
        tm_own_result(&tm[i], &r.members[i], 5);
    char before[4][256];
    for (int i = 0; i < 4; i++)
        snprintf(before[i], sizeof before[i], "%s", fmt(&r.members[i]));
    sc_assign_result_free(&r);
    tm_view(tm, 4, m);
    CU_ASSERT_EQUAL_FATAL(sc_assign_sticky(m, 4, t, 2, &r), ST_OK);
    for (int i = 0; i < 4; i++)
        CU_ASSERT_STRING_EQUAL(fmt(&r.members[i]), before[i]);
    sc_assign_result_free(&r);
}

/* Two members claim the same partition: the higher generation wins; in the
 * same generation nobody keeps it. */
static void test_sticky_conflicts(void)
{
    tmem_t tm[3];
    sc_assign_member_t m[3];
    sc_assign_topic_t t[1] = {{"t0", 3}};
    sc_assign_result_t r;
    tm_init(&tm[0], "a", "0");
    tm_init(&tm[1], "b", "0");
    tm_init(&tm[2], "c", "0");
    tm_own(&tm[0], "t0", 2);
    tm[0].gen = 3;
    tm_own(&tm[1], "t0", 2); /* stale claim */
    tm_own(&tm[1], "t0", 2); /* listed twice */
    tm[1].gen = 2;
    tm_view(tm, 3, m);
    CU_ASSERT_EQUAL_FATAL(sc_assign_sticky(m, 3, t, 1, &r), ST_OK);
    CU_ASSERT_TRUE(has(&r.members[0], "t0", 2));
    check_valid(m, 3, t, 1, &r, SC_ASSIGN_V_COMPLETE | SC_ASSIGN_V_BALANCED);
    sc_assign_result_free(&r);
    /* cooperative: b still claims it, so a is not given it yet */
    CU_ASSERT_EQUAL_FATAL(sc_assign_cooperative_sticky(m, 3, t, 1, &r), ST_OK);
    CU_ASSERT_FALSE(has(&r.members[0], "t0", 2));
    CU_ASSERT_FALSE(has(&r.members[1], "t0", 2));
    CU_ASSERT_EQUAL(r.n_revoked, 1u);
    sc_assign_result_free(&r);

    /* same generation: neither keeps it; the lowest id with the fewest gets it */
    tm_init(&tm[0], "a", "0");
    tm_init(&tm[1], "b", "0");
    tm_own(&tm[0], "t0", 0);
    tm_own(&tm[1], "t0", 0);
    tm_own(&tm[1], "t0", 1);
    tm[0].gen = tm[1].gen = 7;
    tm_view(tm, 2, m);
    CU_ASSERT_EQUAL_FATAL(sc_assign_sticky(m, 2, t, 1, &r), ST_OK);
    CU_ASSERT_STRING_EQUAL(fmt(&r.members[0]), "t0p0,t0p2");
    CU_ASSERT_STRING_EQUAL(fmt(&r.members[1]), "t0p1");
    sc_assign_result_free(&r);
}

/* Cooperative: first rebalance after a join only revokes, the second one
 * hands the revoked partitions over. Subscriptions go through the codec. */
static void test_cooperative_two_phase(void)
{
    tmem_t tm[2];
    sc_assign_member_t m[2], dm[2];
    sc_assign_topic_t t[1] = {{"t0", 6}};
    sc_assign_result_t r;
    uint8_t *buf;
    size_t len;
    tm_init(&tm[0], "C0", "0");
    tm_init(&tm[1], "C1", "0");
    for (int p = 0; p < 6; p++)
        tm_own(&tm[0], "t0", p);
    tm[0].gen = 1;

    for (int round = 0; round < 2; round++) {
        tm_view(tm, 2, m);
        for (int i = 0; i < 2; i++) {
            CU_ASSERT_EQUAL_FATAL(sc_assign_subscription_encode(&m[i], &buf, &len), ST_OK);
            CU_ASSERT_EQUAL_FATAL(sc_assign_subscription_decode(m[i].member_id, buf, len, &dm[i]), ST_OK);
            free(buf);
        }
        CU_ASSERT_EQUAL_FATAL(sc_assign_cooperative_sticky(dm, 2, t, 1, &r), ST_OK);
        check_valid(dm, 2, t, 1, &r, round == 0 ? 0 : SC_ASSIGN_V_COMPLETE | SC_ASSIGN_V_BALANCED);
        if (round == 0) {
            /* C0 keeps 3, nobody gets the other 3 yet */
            CU_ASSERT_STRING_EQUAL(fmt(&r.members[0]), "t0p0,t0p1,t0p2");
            CU_ASSERT_EQUAL(r.members[1].n_tps, 0u);
            CU_ASSERT_EQUAL(r.n_revoked, 3u);
        } else {
            CU_ASSERT_STRING_EQUAL(fmt(&r.members[0]), "t0p0,t0p1,t0p2");
            CU_ASSERT_STRING_EQUAL(fmt(&r.members[1]), "t0p3,t0p4,t0p5");
            CU_ASSERT_EQUAL(r.n_revoked, 0u);
        }
        /* members now own exactly what they were given (C0 revoked the rest) */
        for (int i = 0; i < 2; i++) {
            tm_own_result(&tm[i], &r.members[i], 2 + round);
            sc_assign_member_fini(&dm[i]);
        }
        sc_assign_result_free(&r);
    }
}

static void test_codecs(void)
{
    tmem_t tm;
    sc_assign_member_t m, d;
    uint8_t *buf;
    size_t len;
    tm_init(&tm, "member-1", "031");
    tm_own(&tm, "t0", 4);
    tm_own(&tm, "t0", 1);
    tm_own(&tm, "t3", 0);
    tm_own(&tm, "t0", 2);
    tm.gen = 42;
    tm_view(&tm, 1, &m);
    CU_ASSERT_EQUAL_FATAL(sc_assign_subscription_encode(&m, &buf, &len), ST_OK);
    CU_ASSERT_EQUAL_FATAL(sc_assign_subscription_decode("member-1", buf, len, &d), ST_OK);
    free(buf);
    CU_ASSERT_STRING_EQUAL(d.member_id, "member-1");
    CU_ASSERT_EQUAL_FATAL(d.n_topics, 3u);
    CU_ASSERT_STRING_EQUAL(d.topics[1], "t3");
    CU_ASSERT_EQUAL(d.generation, 42);
    CU_ASSERT_EQUAL_FATAL(d.n_owned, 4u);
    for (size_t k = 0; k < 4; k++) {
        CU_ASSERT_STRING_EQUAL(d.owned[k].topic, tm.owned[k].topic);
        CU_ASSERT_EQUAL(d.owned[k].partition, tm.owned[k].partition);
    }
    sc_assign_member_fini(&d);
    CU_ASSERT_PTR_NULL(d.priv);

    sc_assign_tplist_t l;
    CU_ASSERT_EQUAL_FATAL(sc_assign_assignment_encode(tm.owned, tm.no, &buf, &len), ST_OK);
    CU_ASSERT_EQUAL_FATAL(sc_assign_assignment_decode(buf, len, &l), ST_OK);
    free(buf);
    CU_ASSERT_EQUAL_FATAL(l.n, 4u);
    CU_ASSERT_STRING_EQUAL(l.tps[2].topic, "t3");
    CU_ASSERT_EQUAL(l.tps[3].partition, 2);
    sc_assign_tplist_fini(&l);

    /* empty assignment */
    CU_ASSERT_EQUAL_FATAL(sc_assign_assignment_encode(NULL, 0, &buf, &len), ST_OK);
    CU_ASSERT_EQUAL_FATAL(sc_assign_assignment_decode(buf, len, &l), ST_OK);
    CU_ASSERT_EQUAL(l.n, 0u);
    free(buf);
    sc_assign_tplist_fini(&l);

    /* garbage is rejected, never crashes */
    static const uint8_t junk[] = {0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x12};
    CU_ASSERT_EQUAL(sc_assign_subscription_decode("x", junk, sizeof junk, &d), ST_ERR_CORRUPT);
    CU_ASSERT_PTR_NULL(d.priv);
    CU_ASSERT_EQUAL(sc_assign_assignment_decode(junk, sizeof junk, &l), ST_ERR_CORRUPT);
    sc_assign_member_fini(&d);
    sc_assign_tplist_fini(&l);
    /* NULL topic in input is an argument error */
    tm.owned[0].topic = NULL;
    CU_ASSERT_EQUAL(sc_assign_assignment_encode(tm.owned, tm.no, &buf, &len), ST_ERR_INVALID_ARG);
}

/* ---------------------------------------------------------------------- */
/* random property rounds                                                 */

static uint64_t rng = 0x9E3779B97F4A7C15ull;

static uint32_t rnd(uint32_t n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng % n);
}

static void test_random_rounds(void)
{
    static tmem_t tm[10];
    sc_assign_member_t m[10];
    sc_assign_topic_t t[MAXT];
    sc_assign_result_t r, s;
    static const char *names[] = {"range", "roundrobin", "sticky", "cooperative-sticky"};
    size_t failures = 0;

    for (int round = 0; round < 500 && failures < 5; round++) {
        size_t n = 1 + rnd(9), nt = 1 + rnd(5);
        bool same = rnd(2) == 0; /* everybody subscribes to the same topics */
        for (size_t i = 0; i < nt; i++)
            t[i] = (sc_assign_topic_t){tnames[i], (int32_t)rnd(13)};
        char common[MAXT + 1] = {0};
        for (size_t i = 0, k = 0; i < nt; i++)
            if (rnd(10) < 7 || i == 0)
                common[k++] = (char)('0' + i);
        for (size_t i = 0; i < n; i++) {
            char id[16], subs[MAXT + 1] = {0};
            snprintf(id, sizeof id, "m%02u", rnd(90));
            snprintf(id + 3, sizeof id - 3, "-%zu", i); /* unique */
            if (same) {
                snprintf(subs, sizeof subs, "%s", common);
            } else {
                for (size_t k = 0, j = 0; k < nt + 1; k++)
                    if (rnd(10) < 6)
                        subs[j++] = (char)('0' + k); /* k == nt: unknown topic */
            }
            tm_init(&tm[i], id, subs);
            /* random previous ownership, some of it invalid */
            size_t no = rnd(8);
            for (size_t k = 0; k < no; k++) {
                const char *topic = tnames[rnd((uint32_t)nt + 1)];
                tm_own(&tm[i], topic, (int32_t)rnd(14) - 1);
            }
            tm[i].gen = (int32_t)rnd(3);
        }
        /* half the time start from a realistic state: a previous sticky
         * run, then drop or add a member */
        tm_view(tm, n, m);
        if (rnd(2) == 0 && sc_assign_sticky(m, n, t, nt, &s) == ST_OK) {
            for (size_t i = 0; i < n; i++)
                tm_own_result(&tm[i], &s.members[i], 9);
            sc_assign_result_free(&s);
            if (n > 1 && rnd(2) == 0) {
                size_t gone = rnd((uint32_t)n);
                n--;
                tm[gone] = tm[n];
            } else if (n < 10)
                tm_init(&tm[n++], "zz-new", same ? common : "0");
            tm_view(tm, n, m);
        }

        for (size_t a = 0; a < 4; a++) {
            CU_ASSERT_EQUAL_FATAL(sc_assign_lookup(names[a])->assign(m, n, t, nt, &r), ST_OK);
            unsigned flags = a < 3 ? SC_ASSIGN_V_COMPLETE : 0;
            if (a == 2 || (same && a == 1))
                flags |= SC_ASSIGN_V_BALANCED;
            char why[256];
            if (sc_assign_validate(m, n, t, nt, &r, flags, why, sizeof why) != ST_OK) {
                fprintf(stderr, "\nround %d %s: %s\n", round, names[a], why);
                failures++;
            }
            if (a == 2 && same) {
                /* homogeneous stickiness: each member keeps
                 * min(valid previously owned, new count) */
                for (size_t i = 0; i < n; i++) {
                    size_t valid = 0, kept = 0;
                    for (size_t k = 0; k < tm[i].no; k++) {
                        const sc_assign_tp_t *o = &tm[i].owned[k];
                        bool dup = false;
                        for (size_t j = 0; j < k; j++)
                            dup |=
                                tm[i].owned[j].topic == o->topic && tm[i].owned[j].partition == o->partition;
                        bool ok = !dup && o->partition >= 0;
                        if (ok) {
                            ok = false;
                            for (size_t x = 0; x < nt; x++)
                                ok |= t[x].name == o->topic && o->partition < t[x].partitions;
                            ok &= strchr(common, o->topic[1]) != NULL;
                        }
                        /* claimed by nobody else at >= generation */
                        for (size_t j = 0; ok && j < n; j++)
                            if (j != i && tm[j].gen >= tm[i].gen && owns(&tm[j], o->topic, o->partition))
                                ok = false;
                        valid += ok;
                        kept += ok && has(&r.members[i], o->topic, o->partition);
                    }
                    size_t want = valid < r.members[i].n_tps ? valid : r.members[i].n_tps;
                    if (kept != want) {
                        fprintf(stderr, "\nround %d sticky: %s kept %zu of %zu valid, has %zu\n", round,
                                tm[i].id, kept, valid, r.members[i].n_tps);
                        failures++;
                    }
                }
            }
            if (a == 3) {
                /* cooperative: converges within a few rounds where members
                 * own exactly what they were given, ending complete and
                 * balanced; the result is a subset of the sticky target */
                CU_ASSERT_EQUAL_FATAL(sc_assign_sticky(m, n, t, nt, &s), ST_OK);
                size_t total = r.n_revoked;
                for (size_t i = 0; i < n; i++) {
                    for (size_t k = 0; k < r.members[i].n_tps; k++)
                        CU_ASSERT(
                            has(&s.members[i], r.members[i].tps[k].topic, r.members[i].tps[k].partition));
                    total += r.members[i].n_tps;
                }
                size_t stotal = 0;
                for (size_t i = 0; i < n; i++)
                    stotal += s.members[i].n_tps;
                CU_ASSERT_EQUAL(total, stotal);
                sc_assign_result_free(&s);
                static tmem_t cm[10];
                sc_assign_member_t cv[10];
                memcpy(cm, tm, n * sizeof cm[0]);
                int gen = 20, steps = 0;
                while (r.n_revoked > 0 && steps < 4) {
                    for (size_t i = 0; i < n; i++)
                        tm_own_result(&cm[i], &r.members[i], gen);
                    gen++;
                    steps++;
                    sc_assign_result_free(&r);
                    tm_view(cm, n, cv);
                    CU_ASSERT_EQUAL_FATAL(sc_assign_cooperative_sticky(cv, n, t, nt, &r), ST_OK);
                }
                tm_view(cm, n, cv);
                if (r.n_revoked != 0 ||
                    sc_assign_validate(cv, n, t, nt, &r, SC_ASSIGN_V_COMPLETE | SC_ASSIGN_V_BALANCED, why,
                                       sizeof why) != ST_OK) {
                    fprintf(stderr, "\nround %d coop did not settle after %d steps: %s\n", round, steps, why);
                    failures++;
                }
            }
            sc_assign_result_free(&r);
        }
    }
    CU_ASSERT_EQUAL(failures, 0u);
}

static CU_TestInfo tests[] = {
    {"range: Kafka examples", test_range_kafka},
    {"roundrobin: Kafka examples", test_roundrobin_kafka},
    {"lookup and bad input", test_lookup_and_args},
    {"sticky: Kafka example, member leaves", test_sticky_kafka_leave},
    {"sticky: member joins", test_sticky_join},
    {"sticky: ownership conflicts", test_sticky_conflicts},
    {"cooperative-sticky: two phases", test_cooperative_two_phase},
    {"codecs", test_codecs},
    {"random property rounds", test_random_rounds},
    CU_TEST_INFO_NULL,
};
static CU_SuiteInfo suites[] = {
    {"sc_assign", NULL, NULL, NULL, NULL, tests},
    CU_SUITE_INFO_NULL,
};

int main(void)
{
    return tu_main(suites);
}
