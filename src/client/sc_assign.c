/*
 * sc_assign: client-side partition assignors (range, roundrobin, sticky,
 * cooperative-sticky), their validator and the ConsumerSubscription /
 * ConsumerAssignment codecs. See sc_assign.h for the contracts.
 *
 * Design notes. Every assignor first builds an sc_assign_ctx: members
 * sorted by id (a member's "rank" is its place in that order), topics
 * sorted by name, and every partition of every known topic numbered
 * globally: g = tbase[topic rank] + partition. Because both orders are
 * strcmp orders, ascending g is ascending (topic, partition), so results
 * built by walking g are sorted for free, and "lowest rank wins" is the
 * deterministic tie-break everywhere. The assignors only fill
 * owner[g] (a member rank or -1); one function turns that into a result.
 *
 * Invariants (asserted where cheap):
 *  1. owner[g] >= 0 implies sub[owner[g]][topic of g].
 *  2. count[r] == number of g with owner[g] == r.
 */
#include "client/sc_assign.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "strata.pb-c.h"

typedef struct sc_assign_ctx {
    const sc_assign_member_t *members;
    size_t n;
    const sc_assign_topic_t *topics;
    size_t nt;
    size_t *morder; /* rank -> input index */
    size_t *mrank;  /* input index -> rank */
    size_t *torder; /* topic rank -> input index */
    size_t *tbase;  /* topic rank -> first g; tbase[nt] == P */
    size_t P;
    size_t *gtopic; /* g -> topic rank */
    bool *sub;      /* sub[rank * nt + topic rank] */
    size_t *nsubs;  /* topic rank -> number of subscribers */
    ssize_t *owner; /* g -> member rank or -1 */
    size_t *count;  /* rank -> partitions owned */
} sc_assign_ctx_t;

static void *sc_assign_calloc(size_t n, size_t sz)
{
    return calloc(n ? n : 1, sz ? sz : 1);
}

static int sc_assign_cmp_member(const void *a, const void *b, void *arg)
{
    const sc_assign_member_t *m = arg;
    return strcmp(m[*(const size_t *)a].member_id, m[*(const size_t *)b].member_id);
}

static int sc_assign_cmp_topic(const void *a, const void *b, void *arg)
{
    const sc_assign_topic_t *t = arg;
    return strcmp(t[*(const size_t *)a].name, t[*(const size_t *)b].name);
}

/* Topic rank of `name`, or -1 when unknown. */
static ssize_t sc_assign_topic_find(const sc_assign_ctx_t *c, const char *name)
{
    if (name == NULL)
        return -1;
    size_t lo = 0, hi = c->nt;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int d = strcmp(c->topics[c->torder[mid]].name, name);
        if (d == 0)
            return (ssize_t)mid;
        if (d < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

/* Global partition id of (topic, partition), or -1 when unknown. */
static ssize_t sc_assign_gid(const sc_assign_ctx_t *c, const char *topic, int32_t partition)
{
    ssize_t t = sc_assign_topic_find(c, topic);
    if (t < 0 || partition < 0 || (size_t)partition >= c->tbase[t + 1] - c->tbase[t])
        return -1;
    return (ssize_t)(c->tbase[t] + (size_t)partition);
}

static void sc_assign_ctx_fini(sc_assign_ctx_t *c)
{
    free(c->morder);
    free(c->mrank);
    free(c->torder);
    free(c->tbase);
    free(c->gtopic);
    free(c->sub);
    free(c->nsubs);
    free(c->owner);
    free(c->count);
    memset(c, 0, sizeof *c);
}

/* Validate the input and build the context, with every partition unowned. */
static st_err_t sc_assign_ctx_init(sc_assign_ctx_t *c, const sc_assign_member_t *members, size_t n,
                                   const sc_assign_topic_t *topics, size_t nt)
{
    st_err_t err = ST_ERR_NOMEM;
    memset(c, 0, sizeof *c);
    c->members = members;
    c->n = n;
    c->topics = topics;
    c->nt = nt;
    if ((n > 0 && members == NULL) || (nt > 0 && topics == NULL))
        return ST_ERR_INVALID_ARG;
    if (n > SIZE_MAX / (nt ? nt : 1) / 2)
        return ST_ERR_INVALID_ARG;
    for (size_t i = 0; i < n; i++) {
        const sc_assign_member_t *m = &members[i];
        if (m->member_id == NULL || (m->n_topics > 0 && m->topics == NULL) ||
            (m->n_owned > 0 && m->owned == NULL))
            return ST_ERR_INVALID_ARG;
        for (size_t k = 0; k < m->n_topics; k++)
            if (m->topics[k] == NULL)
                return ST_ERR_INVALID_ARG;
    }
    for (size_t t = 0; t < nt; t++)
        if (topics[t].name == NULL || topics[t].partitions < 0)
            return ST_ERR_INVALID_ARG;

    c->morder = sc_assign_calloc(n, sizeof *c->morder);
    c->mrank = sc_assign_calloc(n, sizeof *c->mrank);
    c->torder = sc_assign_calloc(nt, sizeof *c->torder);
    c->tbase = sc_assign_calloc(nt + 1, sizeof *c->tbase);
    c->sub = sc_assign_calloc(n * nt, sizeof *c->sub);
    c->nsubs = sc_assign_calloc(nt, sizeof *c->nsubs);
    c->count = sc_assign_calloc(n, sizeof *c->count);
    if (!c->morder || !c->mrank || !c->torder || !c->tbase || !c->sub || !c->nsubs || !c->count)
        goto fail;

    for (size_t i = 0; i < n; i++)
        c->morder[i] = i;
    qsort_r(c->morder, n, sizeof *c->morder, sc_assign_cmp_member, (void *)members);
    for (size_t r = 0; r < n; r++) {
        c->mrank[c->morder[r]] = r;
        if (r > 0 && strcmp(members[c->morder[r - 1]].member_id, members[c->morder[r]].member_id) == 0) {
            err = ST_ERR_INVALID_ARG;
            goto fail;
        }
    }
    for (size_t t = 0; t < nt; t++)
        c->torder[t] = t;
    qsort_r(c->torder, nt, sizeof *c->torder, sc_assign_cmp_topic, (void *)topics);
    for (size_t t = 0; t < nt; t++) {
        if (t > 0 && strcmp(topics[c->torder[t - 1]].name, topics[c->torder[t]].name) == 0) {
            err = ST_ERR_INVALID_ARG;
            goto fail;
        }
        c->tbase[t + 1] = c->tbase[t] + (size_t)topics[c->torder[t]].partitions;
    }
    c->P = c->tbase[nt];

    c->gtopic = sc_assign_calloc(c->P, sizeof *c->gtopic);
    c->owner = sc_assign_calloc(c->P, sizeof *c->owner);
    if (!c->gtopic || !c->owner)
        goto fail;
    for (size_t t = 0; t < nt; t++)
        for (size_t g = c->tbase[t]; g < c->tbase[t + 1]; g++)
            c->gtopic[g] = t;
    for (size_t g = 0; g < c->P; g++)
        c->owner[g] = -1;

    for (size_t r = 0; r < n; r++) {
        const sc_assign_member_t *m = &members[c->morder[r]];
        for (size_t k = 0; k < m->n_topics; k++) {
            ssize_t t = sc_assign_topic_find(c, m->topics[k]);
            if (t >= 0 && !c->sub[r * nt + (size_t)t]) {
                c->sub[r * nt + (size_t)t] = true;
                c->nsubs[t]++;
            }
        }
    }
    return ST_OK;

fail:
    sc_assign_ctx_fini(c);
    return err;
}

static void sc_assign_give(sc_assign_ctx_t *c, size_t g, size_t r)
{
    assert(c->owner[g] < 0);
    assert(c->sub[r * c->nt + c->gtopic[g]]);
    c->owner[g] = (ssize_t)r;
    c->count[r]++;
}

/* ---------------------------------------------------------------------- */
/* results                                                                */

void sc_assign_result_free(sc_assign_result_t *r)
{
    if (r == NULL)
        return;
    for (size_t i = 0; i < r->n; i++) {
        free(r->members[i].member_id);
        free(r->members[i].tps);
    }
    free(r->members);
    for (size_t i = 0; i < r->n_names; i++)
        free(r->names[i]);
    free(r->names);
    memset(r, 0, sizeof *r);
}

/* Turn owner[] into *out (members in input order). */
static st_err_t sc_assign_result_build(const sc_assign_ctx_t *c, size_t n_revoked, sc_assign_result_t *out)
{
    sc_assign_result_t r = {0};
    r.n_revoked = n_revoked;
    r.names = sc_assign_calloc(c->nt, sizeof *r.names);
    r.members = sc_assign_calloc(c->n, sizeof *r.members);
    if (!r.names || !r.members)
        goto fail;
    for (size_t t = 0; t < c->nt; t++) {
        r.names[t] = strdup(c->topics[c->torder[t]].name);
        if (r.names[t] == NULL)
            goto fail;
        r.n_names++;
    }
    for (size_t i = 0; i < c->n; i++) {
        sc_assign_assignment_t *a = &r.members[i];
        r.n++;
        a->member_id = strdup(c->members[i].member_id);
        a->tps = sc_assign_calloc(c->count[c->mrank[i]], sizeof *a->tps);
        if (a->member_id == NULL || a->tps == NULL)
            goto fail;
    }
    for (size_t g = 0; g < c->P; g++) {
        if (c->owner[g] < 0)
            continue;
        size_t t = c->gtopic[g];
        sc_assign_assignment_t *a = &r.members[c->morder[c->owner[g]]];
        assert(a->n_tps < c->count[c->owner[g]]);
        a->tps[a->n_tps].topic = r.names[t];
        a->tps[a->n_tps].partition = (int32_t)(g - c->tbase[t]);
        a->n_tps++;
    }
    *out = r;
    return ST_OK;

fail:
    sc_assign_result_free(&r);
    return ST_ERR_NOMEM;
}

/* ---------------------------------------------------------------------- */
/* range and roundrobin                                                   */

static st_err_t sc_assign_range_core(sc_assign_ctx_t *c)
{
    size_t *subs = sc_assign_calloc(c->n, sizeof *subs);
    if (subs == NULL)
        return ST_ERR_NOMEM;
    for (size_t t = 0; t < c->nt; t++) {
        size_t ns = 0;
        for (size_t r = 0; r < c->n; r++)
            if (c->sub[r * c->nt + t])
                subs[ns++] = r;
        if (ns == 0)
            continue;
        size_t np = c->tbase[t + 1] - c->tbase[t];
        size_t per = np / ns, extra = np % ns;
        for (size_t i = 0; i < ns; i++) {
            size_t start = i * per + (i < extra ? i : extra);
            size_t len = per + (i < extra ? 1 : 0);
            for (size_t p = start; p < start + len; p++)
                sc_assign_give(c, c->tbase[t] + p, subs[i]);
        }
    }
    free(subs);
    return ST_OK;
}

static void sc_assign_roundrobin_core(sc_assign_ctx_t *c)
{
    size_t cur = 0;
    for (size_t g = 0; g < c->P; g++) {
        size_t t = c->gtopic[g];
        if (c->nsubs[t] == 0)
            continue;
        while (!c->sub[cur * c->nt + t])
            cur = (cur + 1) % c->n;
        sc_assign_give(c, g, cur);
        cur = (cur + 1) % c->n;
    }
}

/* ---------------------------------------------------------------------- */
/* sticky and cooperative-sticky                                          */

/* Claims on each partition from the members' owned lists. */
typedef struct sc_assign_claims {
    int32_t *maxgen; /* highest generation claiming g */
    size_t *nat;     /* distinct claimers at maxgen */
    ssize_t *who;    /* a claimer at maxgen */
    size_t *nall;    /* distinct claimers at any generation */
    ssize_t *any;    /* a claimer at any generation */
    ssize_t *prev;   /* the valid previous owner (sticky) or -1 */
} sc_assign_claims_t;

static void sc_assign_claims_fini(sc_assign_claims_t *cl)
{
    free(cl->maxgen);
    free(cl->nat);
    free(cl->who);
    free(cl->nall);
    free(cl->any);
    free(cl->prev);
}

static st_err_t sc_assign_claims_init(const sc_assign_ctx_t *c, sc_assign_claims_t *cl)
{
    ssize_t *mark = sc_assign_calloc(c->P, sizeof *mark);
    cl->maxgen = sc_assign_calloc(c->P, sizeof *cl->maxgen);
    cl->nat = sc_assign_calloc(c->P, sizeof *cl->nat);
    cl->who = sc_assign_calloc(c->P, sizeof *cl->who);
    cl->nall = sc_assign_calloc(c->P, sizeof *cl->nall);
    cl->any = sc_assign_calloc(c->P, sizeof *cl->any);
    cl->prev = sc_assign_calloc(c->P, sizeof *cl->prev);
    if (!mark || !cl->maxgen || !cl->nat || !cl->who || !cl->nall || !cl->any || !cl->prev) {
        free(mark);
        sc_assign_claims_fini(cl);
        memset(cl, 0, sizeof *cl);
        return ST_ERR_NOMEM;
    }
    for (size_t g = 0; g < c->P; g++) {
        mark[g] = cl->who[g] = cl->any[g] = cl->prev[g] = -1;
        cl->maxgen[g] = INT32_MIN;
    }
    for (size_t r = 0; r < c->n; r++) {
        const sc_assign_member_t *m = &c->members[c->morder[r]];
        for (size_t k = 0; k < m->n_owned; k++) {
            ssize_t g = sc_assign_gid(c, m->owned[k].topic, m->owned[k].partition);
            if (g < 0 || mark[g] == (ssize_t)r)
                continue; /* unknown, or listed twice by the same member */
            mark[g] = (ssize_t)r;
            if (cl->nall[g]++ == 0)
                cl->any[g] = (ssize_t)r;
            if (m->generation > cl->maxgen[g]) {
                cl->maxgen[g] = m->generation;
                cl->nat[g] = 1;
                cl->who[g] = (ssize_t)r;
            } else if (m->generation == cl->maxgen[g]) {
                cl->nat[g]++;
            }
        }
    }
    for (size_t g = 0; g < c->P; g++)
        if (cl->nat[g] == 1 && c->sub[(size_t)cl->who[g] * c->nt + c->gtopic[g]])
            cl->prev[g] = cl->who[g];
    free(mark);
    return ST_OK;
}

/* Orders unowned partitions: fewest potential owners first, then by g. */
static int sc_assign_cmp_unowned(const void *a, const void *b, void *arg)
{
    const sc_assign_ctx_t *c = arg;
    size_t ga = *(const size_t *)a, gb = *(const size_t *)b;
    size_t na = c->nsubs[c->gtopic[ga]], nb = c->nsubs[c->gtopic[gb]];
    if (na != nb)
        return na < nb ? -1 : 1;
    return ga < gb ? -1 : ga > gb;
}

/* Orders member ranks by count descending, then rank ascending. */
static int sc_assign_cmp_load(const void *a, const void *b, void *arg)
{
    const sc_assign_ctx_t *c = arg;
    size_t ra = *(const size_t *)a, rb = *(const size_t *)b;
    if (c->count[ra] != c->count[rb])
        return c->count[ra] > c->count[rb] ? -1 : 1;
    return ra < rb ? -1 : ra > rb;
}

/* The eligible member (subscribed to t) with the fewest partitions, lowest
 * rank on ties; -1 when nobody subscribes. */
static ssize_t sc_assign_least_loaded(const sc_assign_ctx_t *c, size_t t)
{
    ssize_t best = -1;
    for (size_t r = 0; r < c->n; r++)
        if (c->sub[r * c->nt + t] && (best < 0 || c->count[r] < c->count[best]))
            best = (ssize_t)r;
    return best;
}

/*
 * The sticky target in c->owner: keep valid previous owners, give the
 * unowned to the least loaded, then move one partition at a time from the
 * most loaded member that has a movable one to the least-loaded member
 * that can take it and has at least 2 fewer. Each move lowers the sum of
 * squared counts, so the loop ends; when it ends the result is balanced
 * in the validator's sense.
 */
static st_err_t sc_assign_sticky_core(sc_assign_ctx_t *c, const sc_assign_claims_t *cl)
{
    st_err_t err = ST_ERR_NOMEM;
    size_t *list = sc_assign_calloc(c->P, sizeof *list);
    size_t *off = sc_assign_calloc(c->n + 1, sizeof *off);
    size_t *fill = sc_assign_calloc(c->n, sizeof *fill);
    size_t *load = sc_assign_calloc(c->n, sizeof *load);
    ssize_t *mint = sc_assign_calloc(c->nt, sizeof *mint);
    if (!list || !off || !fill || !load || !mint)
        goto out;

    for (size_t g = 0; g < c->P; g++)
        if (cl->prev[g] >= 0)
            sc_assign_give(c, g, (size_t)cl->prev[g]);

    size_t nu = 0;
    for (size_t g = 0; g < c->P; g++)
        if (c->owner[g] < 0 && c->nsubs[c->gtopic[g]] > 0)
            list[nu++] = g;
    qsort_r(list, nu, sizeof *list, sc_assign_cmp_unowned, c);
    for (size_t i = 0; i < nu; i++) {
        ssize_t r = sc_assign_least_loaded(c, c->gtopic[list[i]]);
        assert(r >= 0);
        sc_assign_give(c, list[i], (size_t)r);
    }

    for (;;) {
        /* per-member partition lists (CSR) */
        memset(off, 0, (c->n + 1) * sizeof *off);
        for (size_t r = 0; r < c->n; r++)
            off[r + 1] = off[r] + c->count[r];
        memcpy(fill, off, c->n * sizeof *fill);
        for (size_t g = 0; g < c->P; g++)
            if (c->owner[g] >= 0)
                list[fill[c->owner[g]]++] = g;
        for (size_t t = 0; t < c->nt; t++)
            mint[t] = sc_assign_least_loaded(c, t);
        for (size_t r = 0; r < c->n; r++)
            load[r] = r;
        qsort_r(load, c->n, sizeof *load, sc_assign_cmp_load, c);

        ssize_t mv = -1, dst = -1;
        for (size_t i = 0; i < c->n && mv < 0; i++) {
            size_t src = load[i];
            if (c->count[src] < 2)
                break;
            ssize_t fallback = -1, fdst = -1;
            for (size_t k = off[src]; k < off[src + 1]; k++) {
                size_t g = list[k];
                ssize_t d = mint[c->gtopic[g]];
                if (d < 0 || c->count[d] + 2 > c->count[src])
                    continue;
                if (cl->prev[g] != (ssize_t)src) { /* not kept from before: free to move */
                    mv = (ssize_t)g;
                    dst = d;
                    break;
                }
                fallback = (ssize_t)g; /* the last one: keep the low partitions */
                fdst = d;
            }
            if (mv < 0 && fallback >= 0) {
                mv = fallback;
                dst = fdst;
            }
        }
        if (mv < 0)
            break;
        c->count[c->owner[mv]]--;
        c->owner[mv] = -1;
        sc_assign_give(c, (size_t)mv, (size_t)dst);
    }
    err = ST_OK;
out:
    free(list);
    free(off);
    free(fill);
    free(load);
    free(mint);
    return err;
}

static st_err_t sc_assign_sticky_any(const sc_assign_member_t *members, size_t n,
                                     const sc_assign_topic_t *topics, size_t nt, sc_assign_result_t *out,
                                     bool coop)
{
    sc_assign_ctx_t c;
    sc_assign_claims_t cl = {0};
    size_t revoked = 0;
    memset(out, 0, sizeof *out);
    st_err_t err = sc_assign_ctx_init(&c, members, n, topics, nt);
    if (err != ST_OK)
        return err;
    err = sc_assign_claims_init(&c, &cl);
    if (err != ST_OK)
        goto out;
    err = sc_assign_sticky_core(&c, &cl);
    if (err != ST_OK)
        goto out;
    if (coop) {
        /* withhold what another member still claims: it must revoke first */
        for (size_t g = 0; g < c.P; g++) {
            ssize_t o = c.owner[g];
            if (o < 0 || cl.nall[g] == 0 || (cl.nall[g] == 1 && cl.any[g] == o))
                continue;
            c.owner[g] = -1;
            c.count[o]--;
            revoked++;
        }
    }
    err = sc_assign_result_build(&c, revoked, out);
out:
    sc_assign_claims_fini(&cl);
    sc_assign_ctx_fini(&c);
    return err;
}

/* ---------------------------------------------------------------------- */
/* public assignors                                                       */

st_err_t sc_assign_range(const sc_assign_member_t *members, size_t n, const sc_assign_topic_t *topics,
                         size_t nt, sc_assign_result_t *out)
{
    sc_assign_ctx_t c;
    memset(out, 0, sizeof *out);
    st_err_t err = sc_assign_ctx_init(&c, members, n, topics, nt);
    if (err != ST_OK)
        return err;
    err = sc_assign_range_core(&c);
    if (err == ST_OK)
        err = sc_assign_result_build(&c, 0, out);
    sc_assign_ctx_fini(&c);
    return err;
}

st_err_t sc_assign_roundrobin(const sc_assign_member_t *members, size_t n, const sc_assign_topic_t *topics,
                              size_t nt, sc_assign_result_t *out)
{
    sc_assign_ctx_t c;
    memset(out, 0, sizeof *out);
    st_err_t err = sc_assign_ctx_init(&c, members, n, topics, nt);
    if (err != ST_OK)
        return err;
    sc_assign_roundrobin_core(&c);
    err = sc_assign_result_build(&c, 0, out);
    sc_assign_ctx_fini(&c);
    return err;
}

st_err_t sc_assign_sticky(const sc_assign_member_t *members, size_t n, const sc_assign_topic_t *topics,
                          size_t nt, sc_assign_result_t *out)
{
    return sc_assign_sticky_any(members, n, topics, nt, out, false);
}

st_err_t sc_assign_cooperative_sticky(const sc_assign_member_t *members, size_t n,
                                      const sc_assign_topic_t *topics, size_t nt, sc_assign_result_t *out)
{
    return sc_assign_sticky_any(members, n, topics, nt, out, true);
}

static const sc_assignor_t sc_assign_table[] = {
    {.name = "range", .assign = sc_assign_range, .cooperative = false},
    {.name = "roundrobin", .assign = sc_assign_roundrobin, .cooperative = false},
    {.name = "sticky", .assign = sc_assign_sticky, .cooperative = false},
    {.name = "cooperative-sticky", .assign = sc_assign_cooperative_sticky, .cooperative = true},
};

const sc_assignor_t *sc_assign_lookup(const char *name)
{
    if (name == NULL)
        return NULL;
    for (size_t i = 0; i < sizeof sc_assign_table / sizeof sc_assign_table[0]; i++)
        if (strcmp(sc_assign_table[i].name, name) == 0)
            return &sc_assign_table[i];
    return NULL;
}

/* ---------------------------------------------------------------------- */
/* validator                                                              */

st_err_t sc_assign_validate(const sc_assign_member_t *members, size_t n, const sc_assign_topic_t *topics,
                            size_t nt, const sc_assign_result_t *r, unsigned flags, char *why, size_t why_len)
{
    sc_assign_ctx_t c;
    char tmp[1];
    if (why == NULL || why_len == 0) {
        why = tmp;
        why_len = sizeof tmp;
    }
    why[0] = '\0';
    st_err_t err = sc_assign_ctx_init(&c, members, n, topics, nt);
    if (err != ST_OK)
        return err;
    err = ST_ERR_STATE;
    if (r == NULL || r->n != n || (n > 0 && r->members == NULL)) {
        snprintf(why, why_len, "result has %zu members, input %zu", r ? r->n : 0, n);
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        const sc_assign_assignment_t *a = &r->members[i];
        size_t rank = c.mrank[i];
        ssize_t last = -1;
        if (a->member_id == NULL || strcmp(a->member_id, members[i].member_id) != 0) {
            snprintf(why, why_len, "member %zu: id mismatch", i);
            goto out;
        }
        if (a->n_tps > 0 && a->tps == NULL) {
            snprintf(why, why_len, "member %s: NULL list", a->member_id);
            goto out;
        }
        for (size_t k = 0; k < a->n_tps; k++) {
            ssize_t g = sc_assign_gid(&c, a->tps[k].topic, a->tps[k].partition);
            if (g < 0) {
                snprintf(why, why_len, "member %s: unknown partition %s/%d", a->member_id,
                         a->tps[k].topic ? a->tps[k].topic : "(null)", (int)a->tps[k].partition);
                goto out;
            }
            if (g <= last) {
                snprintf(why, why_len, "member %s: list not sorted or duplicated at %s/%d", a->member_id,
                         a->tps[k].topic, (int)a->tps[k].partition);
                goto out;
            }
            last = g;
            if (!c.sub[rank * c.nt + c.gtopic[g]]) {
                snprintf(why, why_len, "member %s: got %s/%d of a topic it did not subscribe to",
                         a->member_id, a->tps[k].topic, (int)a->tps[k].partition);
                goto out;
            }
            if (c.owner[g] >= 0) {
                snprintf(why, why_len, "%s/%d assigned to %s and %s", a->tps[k].topic,
                         (int)a->tps[k].partition, members[c.morder[c.owner[g]]].member_id, a->member_id);
                goto out;
            }
            sc_assign_give(&c, (size_t)g, rank);
        }
    }
    if (flags & SC_ASSIGN_V_COMPLETE) {
        for (size_t g = 0; g < c.P; g++) {
            size_t t = c.gtopic[g];
            if (c.owner[g] < 0 && c.nsubs[t] > 0) {
                snprintf(why, why_len, "%s/%zu subscribed but unassigned", topics[c.torder[t]].name,
                         g - c.tbase[t]);
                goto out;
            }
        }
    }
    if (flags & SC_ASSIGN_V_BALANCED) {
        for (size_t g = 0; g < c.P; g++) {
            ssize_t o = c.owner[g];
            if (o < 0)
                continue;
            size_t t = c.gtopic[g];
            for (size_t b = 0; b < c.n; b++) {
                if (c.sub[b * c.nt + t] && c.count[b] + 2 <= c.count[o]) {
                    snprintf(why, why_len, "unbalanced: %s has %zu and %s/%zu, %s has %zu and could take it",
                             members[c.morder[o]].member_id, c.count[o], topics[c.torder[t]].name,
                             g - c.tbase[t], members[c.morder[b]].member_id, c.count[b]);
                    goto out;
                }
            }
        }
    }
    err = ST_OK;
out:
    sc_assign_ctx_fini(&c);
    return err;
}

/* ---------------------------------------------------------------------- */
/* protobuf codecs                                                        */

/* TopicPartitions messages for tps, adjacent equal topics grouped. On
 * ST_OK *msgs, *ptrs and *parts are malloc'd (free all three) and *ngroups set. */
static st_err_t sc_assign_group_tps(const sc_assign_tp_t *tps, size_t n, Strata__TopicPartitions **msgs,
                                    Strata__TopicPartitions ***ptrs, int32_t **parts, size_t *ngroups)
{
    size_t ng = 0;
    *msgs = NULL;
    *ptrs = NULL;
    *parts = NULL;
    *ngroups = 0;
    if (n > 0 && tps == NULL)
        return ST_ERR_INVALID_ARG;
    for (size_t i = 0; i < n; i++) {
        if (tps[i].topic == NULL)
            return ST_ERR_INVALID_ARG;
        if (i == 0 || strcmp(tps[i - 1].topic, tps[i].topic) != 0)
            ng++;
    }
    Strata__TopicPartitions *m = sc_assign_calloc(ng, sizeof *m);
    Strata__TopicPartitions **p = sc_assign_calloc(ng, sizeof *p);
    int32_t *v = sc_assign_calloc(n, sizeof *v);
    if (!m || !p || !v) {
        free(m);
        free(p);
        free(v);
        return ST_ERR_NOMEM;
    }
    size_t gi = 0;
    for (size_t i = 0; i < n; i++) {
        if (i == 0 || strcmp(tps[i - 1].topic, tps[i].topic) != 0) {
            strata__topic_partitions__init(&m[gi]);
            m[gi].topic = (char *)tps[i].topic;
            m[gi].partitions = &v[i];
            p[gi] = &m[gi];
            gi++;
        }
        v[i] = tps[i].partition;
        m[gi - 1].n_partitions++;
    }
    *msgs = m;
    *ptrs = p;
    *parts = v;
    *ngroups = ng;
    return ST_OK;
}

static st_err_t sc_assign_pack(const ProtobufCMessage *msg, uint8_t **buf, size_t *len)
{
    size_t sz = protobuf_c_message_get_packed_size(msg);
    uint8_t *b = malloc(sz ? sz : 1);
    if (b == NULL)
        return ST_ERR_NOMEM;
    *len = protobuf_c_message_pack(msg, b);
    *buf = b;
    return ST_OK;
}

st_err_t sc_assign_subscription_encode(const sc_assign_member_t *m, uint8_t **buf, size_t *len)
{
    Strata__ConsumerSubscription s = STRATA__CONSUMER_SUBSCRIPTION__INIT;
    Strata__TopicPartitions *msgs = NULL, **ptrs = NULL;
    int32_t *parts = NULL;
    size_t ng = 0;
    if (m == NULL || buf == NULL || len == NULL || (m->n_topics > 0 && m->topics == NULL))
        return ST_ERR_INVALID_ARG;
    for (size_t i = 0; i < m->n_topics; i++)
        if (m->topics[i] == NULL)
            return ST_ERR_INVALID_ARG;
    st_err_t err = sc_assign_group_tps(m->owned, m->n_owned, &msgs, &ptrs, &parts, &ng);
    if (err != ST_OK)
        return err;
    s.n_topics = m->n_topics;
    s.topics = (char **)m->topics;
    s.n_owned_partitions = ng;
    s.owned_partitions = ptrs;
    s.generation_id = m->generation;
    err = sc_assign_pack(&s.base, buf, len);
    free(msgs);
    free(ptrs);
    free(parts);
    return err;
}

/* Storage behind a decoded member. */
typedef struct sc_assign_sub_priv {
    Strata__ConsumerSubscription *msg;
    char *member_id;
    const char **topics;
    sc_assign_tp_t *owned;
} sc_assign_sub_priv_t;

void sc_assign_member_fini(sc_assign_member_t *m)
{
    if (m == NULL)
        return;
    sc_assign_sub_priv_t *p = m->priv;
    if (p != NULL) {
        if (p->msg)
            strata__consumer_subscription__free_unpacked(p->msg, NULL);
        free(p->member_id);
        free(p->topics);
        free(p->owned);
        free(p);
    }
    memset(m, 0, sizeof *m);
}

st_err_t sc_assign_subscription_decode(const char *member_id, const uint8_t *buf, size_t len,
                                       sc_assign_member_t *m)
{
    st_err_t err = ST_ERR_NOMEM;
    if (m == NULL)
        return ST_ERR_INVALID_ARG;
    memset(m, 0, sizeof *m);
    if (member_id == NULL || (len > 0 && buf == NULL))
        return ST_ERR_INVALID_ARG;
    sc_assign_sub_priv_t *p = calloc(1, sizeof *p);
    if (p == NULL)
        return ST_ERR_NOMEM;
    m->priv = p;
    p->msg = strata__consumer_subscription__unpack(NULL, len, buf);
    if (p->msg == NULL) {
        err = ST_ERR_CORRUPT;
        goto fail;
    }
    size_t total = 0;
    for (size_t i = 0; i < p->msg->n_owned_partitions; i++)
        total += p->msg->owned_partitions[i]->n_partitions;
    p->member_id = strdup(member_id);
    p->topics = sc_assign_calloc(p->msg->n_topics, sizeof *p->topics);
    p->owned = sc_assign_calloc(total, sizeof *p->owned);
    if (!p->member_id || !p->topics || !p->owned)
        goto fail;
    for (size_t i = 0; i < p->msg->n_topics; i++)
        p->topics[i] = p->msg->topics[i];
    size_t k = 0;
    for (size_t i = 0; i < p->msg->n_owned_partitions; i++) {
        const Strata__TopicPartitions *tp = p->msg->owned_partitions[i];
        for (size_t j = 0; j < tp->n_partitions; j++) {
            p->owned[k].topic = tp->topic;
            p->owned[k].partition = tp->partitions[j];
            k++;
        }
    }
    m->member_id = p->member_id;
    m->topics = p->topics;
    m->n_topics = p->msg->n_topics;
    m->owned = p->owned;
    m->n_owned = total;
    m->generation = p->msg->generation_id;
    return ST_OK;

fail:
    sc_assign_member_fini(m);
    return err;
}

st_err_t sc_assign_assignment_encode(const sc_assign_tp_t *tps, size_t n, uint8_t **buf, size_t *len)
{
    Strata__ConsumerAssignment a = STRATA__CONSUMER_ASSIGNMENT__INIT;
    Strata__TopicPartitions *msgs = NULL, **ptrs = NULL;
    int32_t *parts = NULL;
    size_t ng = 0;
    if (buf == NULL || len == NULL)
        return ST_ERR_INVALID_ARG;
    st_err_t err = sc_assign_group_tps(tps, n, &msgs, &ptrs, &parts, &ng);
    if (err != ST_OK)
        return err;
    a.n_partitions = ng;
    a.partitions = ptrs;
    err = sc_assign_pack(&a.base, buf, len);
    free(msgs);
    free(ptrs);
    free(parts);
    return err;
}

void sc_assign_tplist_fini(sc_assign_tplist_t *l)
{
    if (l == NULL)
        return;
    if (l->priv)
        strata__consumer_assignment__free_unpacked(l->priv, NULL);
    free(l->tps);
    memset(l, 0, sizeof *l);
}

st_err_t sc_assign_assignment_decode(const uint8_t *buf, size_t len, sc_assign_tplist_t *out)
{
    if (out == NULL)
        return ST_ERR_INVALID_ARG;
    memset(out, 0, sizeof *out);
    if (len > 0 && buf == NULL)
        return ST_ERR_INVALID_ARG;
    Strata__ConsumerAssignment *a = strata__consumer_assignment__unpack(NULL, len, buf);
    if (a == NULL)
        return ST_ERR_CORRUPT;
    size_t total = 0;
    for (size_t i = 0; i < a->n_partitions; i++)
        total += a->partitions[i]->n_partitions;
    out->priv = a;
    out->tps = sc_assign_calloc(total, sizeof *out->tps);
    if (out->tps == NULL) {
        sc_assign_tplist_fini(out);
        return ST_ERR_NOMEM;
    }
    for (size_t i = 0; i < a->n_partitions; i++)
        for (size_t j = 0; j < a->partitions[i]->n_partitions; j++) {
            out->tps[out->n].topic = a->partitions[i]->topic;
            out->tps[out->n].partition = a->partitions[i]->partitions[j];
            out->n++;
        }
    return ST_OK;
}
