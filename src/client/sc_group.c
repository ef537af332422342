/*
 * sc_group: consumer-group membership, commits and group admin calls (see
 * sc_group.h for the state machine and the thread rules). Members of
 * struct sc_group are guarded by cl.lock unless marked app (only the
 * application thread touches them). Answers from an older join attempt
 * are recognised by `epoch`, which bumps at every JoinGroup.
 */
#include "client/sc_group.h"

#include <assert.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client/sc_assign.h"
#include "client/sc_client.h"
#include "client/sc_conf.h"

#define SC_G_MAX_ASSIGNORS 4

/* One subscribed topic with its partition count at the last assignment
 * (leader: a change means a rebalance). */
typedef struct sc_gsnap {
    char *name;
    int32_t parts; /* -1: not in metadata */
} sc_gsnap_t;

/* An owned list of topic-partitions. */
typedef struct sc_gtps {
    sc_assign_tp_t *tps;
    size_t n;
} sc_gtps_t;

struct sc_group {
    strata_consumer_t *c;
    sc_client_t *cl;
    char *group_id;
    char *instance_id;  /* "" = dynamic member */
    const sc_assignor_t *assignors[SC_G_MAX_ASSIGNORS];
    size_t n_assignors;
    int64_t session_ms, hb_ms, rebalance_ms, autocommit_ms;
    bool autocommit;

    /* subscription */
    bool subscribed;
    char **lits;
    size_t n_lits;
    regex_t *res;
    size_t n_res;
    char **sub;         /* effective topic list (sorted): what JoinGroup says */
    size_t n_sub;

    /* membership */
    sc_gstate_t state;
    int32_t coord_id;   /* -1 unknown */
    bool coord_inflight;
    int64_t coord_retry_at;
    char *member_id;    /* "" before the first join */
    int32_t generation; /* -1: not a member of a generation */
    char *protocol;
    bool leader;
    bool cooperative;
    bool req_inflight;  /* JoinGroup or SyncGroup */
    bool hb_inflight;
    uint32_t epoch;
    int64_t retry_at;
    int64_t next_hb;
    int64_t last_poll;
    bool rejoin_wanted; /* rejoin once the assignment is applied */
    bool lost_pending;  /* poll() must report the owned partitions lost */
    sc_gtps_t owned;    /* the applied assignment */
    int32_t owned_gen;
    sc_gtps_t pending;  /* from SyncGroup, for poll() to apply */
    sc_gsnap_t *snap;
    size_t n_snap;

    /* app */
    strata_rebalance_cb cb;
    void *opaque;
    bool need_committed;
    int64_t committed_retry_at;
    int64_t next_autocommit;
};

/* -------------------------------------------------------- pure helpers */

const char *sc_group_state_name(sc_gstate_t s)
{
    static const char *const n[] = {"IDLE",   "NEED_JOIN", "REVOKE", "JOINING",
                                     "SYNCING", "ASSIGN",   "STABLE", "CLOSED"};
    return (unsigned)s < sizeof n / sizeof n[0] ? n[s] : "?";
}

bool sc_group_edge_ok(sc_gstate_t from, sc_gstate_t to)
{
    if (to == SC_G_CLOSED || (to == SC_G_IDLE && from != SC_G_CLOSED))
        return true;
    switch (from) {
    case SC_G_IDLE: return to == SC_G_NEED_JOIN;
    case SC_G_NEED_JOIN: return to == SC_G_REVOKE || to == SC_G_JOINING || to == SC_G_NEED_JOIN;
    case SC_G_REVOKE: return to == SC_G_NEED_JOIN;
    case SC_G_JOINING: return to == SC_G_SYNCING || to == SC_G_NEED_JOIN;
    case SC_G_SYNCING: return to == SC_G_ASSIGN || to == SC_G_NEED_JOIN;
    case SC_G_ASSIGN: return to == SC_G_STABLE || to == SC_G_NEED_JOIN;
    case SC_G_STABLE: return to == SC_G_NEED_JOIN;
    case SC_G_CLOSED: return false;
    }
    return false;
}

int64_t sc_group_part_position(const sc_cpart_t *cp)
{
    if (cp->pos >= 0)
        return cp->pos;
    if (cp->state == SC_CP_ACTIVE && cp->start >= 0)
        return cp->start;
    return -1;
}

st_err_t sc_group_commit_plan(const sc_cpart_t *parts, size_t n, size_t **idx, size_t *n_idx)
{
    *idx = calloc(n ? n : 1, sizeof **idx);
    *n_idx = 0;
    if (*idx == NULL)
        return ST_ERR_NOMEM;
    for (size_t i = 0; i < n; i++) {
        int64_t p = sc_group_part_position(&parts[i]);
        if (p >= 0 && p != parts[i].committed)
            (*idx)[(*n_idx)++] = i;
    }
    return ST_OK;
}

int64_t sc_group_lag(int64_t end, int64_t committed)
{
    if (end < 0 || committed < 0)
        return -1;
    return end > committed ? end - committed : 0;
}

int64_t sc_group_reset_target(sc_reset_kind_t kind, int64_t arg, int64_t low, int64_t high,
                              int64_t current, int64_t by_time)
{
    int64_t t;
    switch (kind) {
    case SC_RESET_EARLIEST: t = low; break;
    case SC_RESET_LATEST: t = high; break;
    case SC_RESET_OFFSET: t = arg; break;
    case SC_RESET_DATETIME: t = by_time < 0 ? high : by_time; break;
    case SC_RESET_SHIFT:
        /* nothing committed: shift from the end for a negative shift,
         * from the start otherwise (what a fresh consumer would read) */
        if (current < 0)
            current = arg < 0 ? high : low;
        t = arg < 0 && current < INT64_MIN - arg ? INT64_MIN : current + arg;
        break;
    default: t = low; break;
    }
    if (t < low)
        t = low;
    if (t > high)
        t = high;
    return t;
}

bool sc_group_topic_matches(const char *name, char *const *lits, size_t n, const void *res,
                            size_t m)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(lits[i], name) == 0)
            return true;
    if (strncmp(name, "__", 2) == 0)
        return false;
    const regex_t *r = res;
    for (size_t i = 0; i < m; i++)
        if (regexec(&r[i], name, 0, NULL, 0) == 0)
            return true;
    return false;
}

static bool sc_tp_in(const sc_assign_tp_t *v, size_t n, const char *topic, int32_t part)
{
    for (size_t i = 0; i < n; i++)
        if (v[i].partition == part && strcmp(v[i].topic, topic) == 0)
            return true;
    return false;
}

st_err_t sc_group_tp_minus(const sc_assign_tp_t *a, size_t na, const sc_assign_tp_t *b, size_t nb,
                           sc_assign_tp_t **out, size_t *n_out)
{
    *n_out = 0;
    *out = calloc(na ? na : 1, sizeof **out);
    if (*out == NULL)
        return ST_ERR_NOMEM;
    for (size_t i = 0; i < na; i++)
        if (!sc_tp_in(b, nb, a[i].topic, a[i].partition))
            (*out)[(*n_out)++] = a[i];
    return ST_OK;
}

/* ----------------------------------------------------- small utilities */

static void sc_gtps_clear(sc_gtps_t *l)
{
    for (size_t i = 0; i < l->n; i++)
        free((char *)l->tps[i].topic);
    free(l->tps);
    l->tps = NULL;
    l->n = 0;
}

static st_err_t sc_gtps_set(sc_gtps_t *l, const sc_assign_tp_t *tps, size_t n)
{
    sc_gtps_t nl = {calloc(n ? n : 1, sizeof *nl.tps), 0};
    if (nl.tps == NULL)
        return ST_ERR_NOMEM;
    for (; nl.n < n; nl.n++) {
        nl.tps[nl.n].partition = tps[nl.n].partition;
        if ((nl.tps[nl.n].topic = strdup(tps[nl.n].topic)) == NULL) {
            sc_gtps_clear(&nl);
            return ST_ERR_NOMEM;
        }
    }
    sc_gtps_clear(l);
    *l = nl;
    return ST_OK;
}

static void sc_strv_free(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

static int sc_strp_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void sc_set_str(char **dst, const char *src)
{
    char *s = strdup(src ? src : "");
    if (s == NULL)
        return; /* keep the old value on ENOMEM */
    free(*dst);
    *dst = s;
}

/* Lock held: the one writer of g->state. */
static void sc_group_set_state(sc_group_t *g, sc_gstate_t to)
{
    assert(sc_group_edge_ok(g->state, to));
    g->state = to;
    pthread_cond_broadcast(&g->cl->ucond);
    sc_client_wakeup(g->cl);
}

static bool sc_coord_err(st_err_t e)
{
    return e == ST_ERR_NOT_COORDINATOR || e == ST_ERR_COORDINATOR_NOT_AVAILABLE ||
           e == ST_ERR_NETWORK_EXCEPTION || e == ST_ERR_REQUEST_TIMED_OUT || e == ST_ERR_CLOSED ||
           e == ST_ERR_CONNECTION || e == ST_ERR_TIMEOUT;
}

/* Lock held: pack a request (sc_client_pack takes the lock itself). */
static st_err_t sc_gpack(sc_client_t *cl, Strata__Request *req, nng_msg **out)
{
    req->correlation_id = ++cl->corr;
    req->client_id = cl->conf.client_id;
    req->replica_id = -1;
    size_t n = strata__request__get_packed_size(req);
    if (nng_msg_alloc(out, n) != 0)
        return ST_ERR_NOMEM;
    strata__request__pack(req, nng_msg_body(*out));
    return ST_OK;
}

/* Lock held: send req to br with callback cb(arg). */
static st_err_t sc_gsend(sc_group_t *g, sc_broker_t *br, Strata__Request *req, sc_req_cb cb,
                         int timeout_ms)
{
    nng_msg *m;
    st_err_t e = sc_gpack(g->cl, req, &m);
    if (e != ST_OK)
        return e;
    sc_req_t *rq = sc_req_new(br, cb, g, timeout_ms);
    if (rq == NULL) {
        nng_msg_free(m);
        return ST_ERR_NOMEM;
    }
    rq->msg = m;
    sc_client_submit(g->cl, rq);
    return ST_OK;
}

/* Unpack a reply of body `body`; returns the envelope or transport error. */
static st_err_t sc_gunpack(st_err_t err, nng_msg *reply, Strata__Response__BodyCase body,
                           Strata__Response **out)
{
    *out = NULL;
    if (err == ST_OK) {
        *out = strata__response__unpack(NULL, nng_msg_len(reply), nng_msg_body(reply));
        if (*out == NULL)
            err = ST_ERR_CORRUPT_MESSAGE;
        else if ((*out)->error != 0)
            err = (st_err_t)(*out)->error;
        else if ((*out)->body_case != body)
            err = ST_ERR_CORRUPT_MESSAGE;
    }
    if (reply)
        nng_msg_free(reply);
    return err;
}

/* ------------------------------------------------------- subscription */

/* Lock held: recompute the effective topic list from metadata (patterns)
 * and the literal names. True when it changed. */
static bool sc_group_resub(sc_group_t *g)
{
    sc_client_t *cl = g->cl;
    size_t cap = g->n_lits + cl->n_topics + 1, n = 0;
    char **v = calloc(cap, sizeof *v);
    if (v == NULL)
        return false;
    for (size_t i = 0; i < g->n_lits; i++)
        if ((v[n] = strdup(g->lits[i])) != NULL)
            n++;
    for (size_t i = 0; g->n_res > 0 && i < cl->n_topics; i++) {
        const sc_mdtopic_t *t = &cl->topics[i];
        if (t->err != ST_OK || !sc_group_topic_matches(t->name, NULL, 0, g->res, g->n_res))
            continue;
        bool dup = false;
        for (size_t k = 0; k < n && !dup; k++)
            dup = strcmp(v[k], t->name) == 0;
        if (!dup && (v[n] = strdup(t->name)) != NULL)
            n++;
    }
    qsort(v, n, sizeof *v, sc_strp_cmp);
    bool same = n == g->n_sub;
    for (size_t i = 0; same && i < n; i++)
        same = strcmp(v[i], g->sub[i]) == 0;
    if (same) {
        sc_strv_free(v, n);
        return false;
    }
    sc_strv_free(g->sub, g->n_sub);
    g->sub = v;
    g->n_sub = n;
    return true;
}

/* Lock held: ask for a rebalance now, or once the current one is done. */
static void sc_group_want_rejoin(sc_group_t *g)
{
    if (g->state == SC_G_STABLE)
        sc_group_set_state(g, SC_G_NEED_JOIN);
    else if (g->state != SC_G_IDLE && g->state != SC_G_CLOSED && g->state != SC_G_NEED_JOIN)
        g->rejoin_wanted = true;
}

void sc_group_on_metadata(sc_group_t *g)
{
    if (!g->subscribed || g->state == SC_G_CLOSED)
        return;
    if (sc_group_resub(g)) {
        sc_group_want_rejoin(g);
        return;
    }
    if (!g->leader || g->state != SC_G_STABLE)
        return;
    for (size_t i = 0; i < g->n_snap; i++) {
        const sc_mdtopic_t *t = sc_client_md_topic(g->cl, g->snap[i].name);
        int32_t now = t && t->err == ST_OK ? t->n_parts : -1;
        if (t != NULL && now != g->snap[i].parts) {
            sc_group_want_rejoin(g);
            return;
        }
    }
}

bool sc_group_subscribed(sc_group_t *g)
{
    return g->subscribed;
}

/* ------------------------------------------------------- the protocol */

static void sc_group_lost(sc_group_t *g, bool reset_member)
{
    if (g->owned.n > 0)
        g->lost_pending = true;
    if (reset_member)
        sc_set_str(&g->member_id, "");
    g->generation = -1;
    sc_gtps_clear(&g->pending);
}

static void sc_group_join_failed(sc_group_t *g, st_err_t e, int64_t now)
{
    if (sc_coord_err(e)) {
        g->coord_id = -1;
    } else if (e == ST_ERR_UNKNOWN_MEMBER_ID || e == ST_ERR_FENCED_INSTANCE_ID) {
        sc_group_lost(g, true);
        g->retry_at = now + (e == ST_ERR_FENCED_INSTANCE_ID ? g->session_ms : 0);
    } else if (e == ST_ERR_ILLEGAL_GENERATION) {
        sc_group_lost(g, false);
    } else if (e != ST_ERR_REBALANCE_IN_PROGRESS) {
        g->retry_at = now + g->cl->conf.retry_backoff_ms;
    }
    if (g->state != SC_G_CLOSED && g->state != SC_G_IDLE)
        sc_group_set_state(g, SC_G_NEED_JOIN);
}

static void sc_fc_cb(sc_client_t *cl, sc_req_t *rq, st_err_t err, nng_msg *reply)
{
    sc_group_t *g = rq->arg;
    Strata__Response *r;
    err = sc_gunpack(err, reply, STRATA__RESPONSE__BODY_FIND_COORDINATOR, &r);
    if (err == ST_OK)
        err = (st_err_t)r->find_coordinator->error;
    sc_client_lock(cl);
    g->coord_inflight = false;
    if (err == ST_OK && r->find_coordinator->node_id >= 0) {
        g->coord_id = r->find_coordinator->node_id;
        if (sc_client_broker(cl, g->coord_id) == NULL)
            sc_client_md_want(cl);
    } else {
        g->coord_retry_at = sc_now_ms() + cl->conf.retry_backoff_ms;
        sc_client_md_want(cl);
    }
    sc_client_wakeup(cl);
    sc_client_unlock(cl);
    if (r)
        strata__response__free_unpacked(r, NULL);
}

/* Lock held: the leader's assignments for the JoinGroup members. */
static st_err_t sc_group_assign(sc_group_t *g, const Strata__JoinGroupResponse *jr,
                                Strata__SyncGroupAssignment ***out, size_t *n_out)
{
    const sc_assignor_t *as = sc_assign_lookup(jr->protocol_name);
    size_t n = jr->n_members;
    sc_assign_member_t *mem = calloc(n ? n : 1, sizeof *mem);
    sc_assign_topic_t *tops = NULL;
    sc_gsnap_t *snap = NULL;
    size_t nt = 0, ns = 0, cap = 0;
    sc_assign_result_t res = {0};
    Strata__SyncGroupAssignment **v = NULL;
    st_err_t e = as == NULL ? ST_ERR_INCONSISTENT_GROUP_PROTOCOL : ST_OK;
    if (mem == NULL)
        e = ST_ERR_NOMEM;
    for (size_t i = 0; e == ST_OK && i < n; i++) {
        e = sc_assign_subscription_decode(jr->members[i]->member_id, jr->members[i]->metadata.data,
                                          jr->members[i]->metadata.len, &mem[i]);
        cap += mem[i].n_topics;
    }
    if (e == ST_OK && ((tops = calloc(cap + 1, sizeof *tops)) == NULL ||
                       (snap = calloc(cap + 1, sizeof *snap)) == NULL))
        e = ST_ERR_NOMEM;
    for (size_t i = 0; e == ST_OK && i < n; i++) {
        for (size_t k = 0; k < mem[i].n_topics; k++) {
            const char *name = mem[i].topics[k];
            bool seen = false;
            for (size_t s = 0; s < ns && !seen; s++)
                seen = strcmp(snap[s].name, name) == 0;
            if (seen)
                continue;
            const sc_mdtopic_t *t = sc_client_md_topic(g->cl, name);
            if ((snap[ns].name = strdup(name)) == NULL) {
                e = ST_ERR_NOMEM;
                break;
            }
            snap[ns].parts = t && t->err == ST_OK ? t->n_parts : -1;
            if (t == NULL) {
                /* another member's topic: learn it, rebalance when it shows */
                sc_client_md_interest(g->cl, name);
                sc_client_md_want(g->cl);
            } else if (t->err == ST_OK) {
                tops[nt].name = t->name;
                tops[nt].partitions = t->n_parts;
                nt++;
            }
            ns++;
        }
    }
    if (e == ST_OK)
        e = as->assign(mem, n, tops, nt, &res);
    if (e == ST_OK && (v = calloc(n ? n : 1, sizeof *v)) == NULL)
        e = ST_ERR_NOMEM;
    for (size_t i = 0; e == ST_OK && i < n; i++) {
        v[i] = calloc(1, sizeof **v);
        if (v[i] == NULL) {
            e = ST_ERR_NOMEM;
            break;
        }
        strata__sync_group_assignment__init(v[i]);
        v[i]->member_id = strdup(jr->members[i]->member_id);
        uint8_t *buf = NULL;
        size_t len = 0;
        e = sc_assign_assignment_encode(res.members[i].tps, res.members[i].n_tps, &buf, &len);
        v[i]->assignment.data = buf;
        v[i]->assignment.len = len;
        if (v[i]->member_id == NULL && e == ST_OK)
            e = ST_ERR_NOMEM;
    }
    if (e == ST_OK) {
        for (size_t i = 0; i < g->n_snap; i++)
            free(g->snap[i].name);
        free(g->snap);
        g->snap = snap;
        g->n_snap = ns;
        snap = NULL;
        *out = v;
        *n_out = n;
        v = NULL;
    }
    for (size_t i = 0; v && i < n; i++) {
        if (v[i] != NULL) {
            free(v[i]->member_id);
            free(v[i]->assignment.data);
            free(v[i]);
        }
    }
    free(v);
    for (size_t i = 0; snap && i < ns; i++)
        free(snap[i].name);
    free(snap);
    sc_assign_result_free(&res);
    for (size_t i = 0; mem && i < n; i++)
        sc_assign_member_fini(&mem[i]);
    free(mem);
    free(tops);
    return e;
}

static void sc_sync_cb(sc_client_t *cl, sc_req_t *rq, st_err_t err, nng_msg *reply);

static void sc_join_cb(sc_client_t *cl, sc_req_t *rq, st_err_t err, nng_msg *reply)
{
    sc_group_t *g = rq->arg;
    Strata__Response *r;
    err = sc_gunpack(err, reply, STRATA__RESPONSE__BODY_JOIN_GROUP, &r);
    const Strata__JoinGroupResponse *jr = err == ST_OK ? r->join_group : NULL;
    if (err == ST_OK)
        err = (st_err_t)jr->error;
    sc_client_lock(cl);
    int64_t now = sc_now_ms();
    g->req_inflight = false;
    if (g->state != SC_G_JOINING)
        goto out;
    if (err == ST_ERR_MEMBER_ID_REQUIRED) {
        sc_set_str(&g->member_id, jr->member_id);
        sc_group_set_state(g, SC_G_NEED_JOIN);
        goto out;
    }
    if (err != ST_OK) {
        sc_group_join_failed(g, err, now);
        goto out;
    }
    sc_set_str(&g->member_id, jr->member_id);
    sc_set_str(&g->protocol, jr->protocol_name);
    g->generation = jr->generation_id;
    g->leader = jr->leader != NULL && strcmp(jr->leader, jr->member_id) == 0;
    const sc_assignor_t *as = sc_assign_lookup(jr->protocol_name);
    g->cooperative = as != NULL && as->cooperative;

    Strata__SyncGroupAssignment **asg = NULL;
    size_t n_asg = 0;
    st_err_t e = ST_OK;
    if (g->leader && !jr->skip_assignment)
        e = sc_group_assign(g, jr, &asg, &n_asg);
    sc_broker_t *br = sc_client_broker(cl, g->coord_id);
    if (e == ST_OK && br == NULL)
        e = ST_ERR_COORDINATOR_NOT_AVAILABLE;
    if (e == ST_OK) {
        Strata__SyncGroupRequest sr = STRATA__SYNC_GROUP_REQUEST__INIT;
        Strata__Request req = STRATA__REQUEST__INIT;
        sr.version = 1;
        sr.group_id = g->group_id;
        sr.generation_id = g->generation;
        sr.member_id = g->member_id;
        sr.group_instance_id = g->instance_id;
        sr.protocol_type = "consumer";
        sr.protocol_name = g->protocol;
        sr.assignments = asg;
        sr.n_assignments = n_asg;
        req.body_case = STRATA__REQUEST__BODY_SYNC_GROUP;
        req.sync_group = &sr;
        e = sc_gsend(g, br, &req, sc_sync_cb,
                     (int)(g->rebalance_ms + cl->conf.request_timeout_ms));
    }
    for (size_t i = 0; i < n_asg; i++) {
        free(asg[i]->member_id);
        free(asg[i]->assignment.data);
        free(asg[i]);
    }
    free(asg);
    if (e != ST_OK) {
        sc_group_join_failed(g, e, now);
        goto out;
    }
    g->req_inflight = true;
    sc_group_set_state(g, SC_G_SYNCING);
out:
    sc_client_unlock(cl);
    if (r)
        strata__response__free_unpacked(r, NULL);
}

static void sc_sync_cb(sc_client_t *cl, sc_req_t *rq, st_err_t err, nng_msg *reply)
{
    sc_group_t *g = rq->arg;
    Strata__Response *r;
    err = sc_gunpack(err, reply, STRATA__RESPONSE__BODY_SYNC_GROUP, &r);
    if (err == ST_OK)
        err = (st_err_t)r->sync_group->error;
    sc_client_lock(cl);
    int64_t now = sc_now_ms();
    g->req_inflight = false;
    if (g->state != SC_G_SYNCING)
        goto out;
    sc_assign_tplist_t l = {0};
    if (err == ST_OK)
        err = sc_assign_assignment_decode(r->sync_group->assignment.data,
                                          r->sync_group->assignment.len, &l);
    if (err == ST_OK)
        err = sc_gtps_set(&g->pending, l.tps, l.n);
    sc_assign_tplist_fini(&l);
    if (err != ST_OK) {
        sc_group_join_failed(g, err, now);
        goto out;
    }
    g->next_hb = now + g->hb_ms;
    sc_group_set_state(g, SC_G_ASSIGN);
out:
    sc_client_unlock(cl);
    if (r)
        strata__response__free_unpacked(r, NULL);
}

static void sc_hb_cb(sc_client_t *cl, sc_req_t *rq, st_err_t err, nng_msg *reply)
{
    sc_group_t *g = rq->arg;
    Strata__Response *r;
    err = sc_gunpack(err, reply, STRATA__RESPONSE__BODY_HEARTBEAT, &r);
    if (err == ST_OK)
        err = (st_err_t)r->heartbeat->error;
    sc_client_lock(cl);
    g->hb_inflight = false;
    int64_t now = sc_now_ms();
    bool member = g->state == SC_G_STABLE || g->state == SC_G_ASSIGN || g->state == SC_G_REVOKE;
    if (!member || err == ST_OK)
        goto out;
    if (sc_coord_err(err)) {
        g->coord_id = -1;
    } else if (err == ST_ERR_REBALANCE_IN_PROGRESS) {
        sc_group_want_rejoin(g);
    } else if (err == ST_ERR_UNKNOWN_MEMBER_ID || err == ST_ERR_ILLEGAL_GENERATION ||
               err == ST_ERR_FENCED_INSTANCE_ID) {
        if (g->state != SC_G_REVOKE) {
            sc_group_lost(g, err != ST_ERR_ILLEGAL_GENERATION);
            g->retry_at = now + (err == ST_ERR_FENCED_INSTANCE_ID ? g->session_ms : 0);
            sc_group_set_state(g, SC_G_NEED_JOIN);
        } else {
            /* the revoke in poll() still runs; the join after it starts over */
            if (err != ST_ERR_ILLEGAL_GENERATION)
                sc_set_str(&g->member_id, "");
            g->generation = -1;
        }
    } else {
        g->next_hb = now + g->cl->conf.retry_backoff_ms;
    }
out:
    sc_client_wakeup(cl);
    sc_client_unlock(cl);
    if (r)
        strata__response__free_unpacked(r, NULL);
}

/* Lock held: the JoinGroup request. */
static st_err_t sc_group_send_join(sc_group_t *g, sc_broker_t *br)
{
    Strata__JoinGroupRequest jr = STRATA__JOIN_GROUP_REQUEST__INIT;
    Strata__Request req = STRATA__REQUEST__INIT;
    Strata__JoinGroupProtocol pv[SC_G_MAX_ASSIGNORS];
    Strata__JoinGroupProtocol *pp[SC_G_MAX_ASSIGNORS];
    sc_assign_member_t me = {0};
    uint8_t *meta = NULL;
    size_t meta_len = 0;
    me.member_id = g->member_id;
    me.topics = (const char **)g->sub;
    me.n_topics = g->n_sub;
    me.owned = g->owned.tps;
    me.n_owned = g->owned.n;
    me.generation = g->owned.n ? g->owned_gen : -1;
    st_err_t e = sc_assign_subscription_encode(&me, &meta, &meta_len);
    if (e != ST_OK)
        return e;
    for (size_t i = 0; i < g->n_assignors; i++) {
        strata__join_group_protocol__init(&pv[i]);
        pv[i].name = (char *)g->assignors[i]->name;
        pv[i].metadata.data = meta;
        pv[i].metadata.len = meta_len;
        pp[i] = &pv[i];
    }
    jr.version = 1;
    jr.group_id = g->group_id;
    jr.session_timeout_ms = (int32_t)g->session_ms;
    jr.rebalance_timeout_ms = (int32_t)g->rebalance_ms;
    jr.member_id = g->member_id;
    jr.group_instance_id = g->instance_id;
    jr.protocol_type = "consumer";
    jr.protocols = pp;
    jr.n_protocols = g->n_assignors;
    req.body_case = STRATA__REQUEST__BODY_JOIN_GROUP;
    req.join_group = &jr;
    e = sc_gsend(g, br, &req, sc_join_cb, (int)(g->rebalance_ms + g->cl->conf.request_timeout_ms));
    free(meta);
    return e;
}

static void sc_group_send_hb(sc_group_t *g, sc_broker_t *br)
{
    Strata__HeartbeatRequest hb = STRATA__HEARTBEAT_REQUEST__INIT;
    Strata__Request req = STRATA__REQUEST__INIT;
    hb.version = 1;
    hb.group_id = g->group_id;
    hb.generation_id = g->generation;
    hb.member_id = g->member_id;
    hb.group_instance_id = g->instance_id;
    req.body_case = STRATA__REQUEST__BODY_HEARTBEAT;
    req.heartbeat = &hb;
    if (sc_gsend(g, br, &req, sc_hb_cb, (int)g->cl->conf.request_timeout_ms) == ST_OK)
        g->hb_inflight = true;
}

static void sc_next(int64_t *next, int64_t at)
{
    if (at < *next)
        *next = at;
}

void sc_group_tick(sc_group_t *g, int64_t now, int64_t *next)
{
    sc_client_t *cl = g->cl;
    if (g->state == SC_G_IDLE || g->state == SC_G_CLOSED)
        return;
    if (g->coord_id < 0) {
        if (g->coord_inflight)
            return;
        if (now < g->coord_retry_at) {
            sc_next(next, g->coord_retry_at);
            return;
        }
        sc_broker_t *any = sc_client_any_broker(cl);
        Strata__FindCoordinatorRequest fc = STRATA__FIND_COORDINATOR_REQUEST__INIT;
        Strata__Request req = STRATA__REQUEST__INIT;
        fc.version = 1;
        fc.key = g->group_id;
        fc.key_type = STRATA__COORDINATOR_TYPE__COORDINATOR_GROUP;
        req.body_case = STRATA__REQUEST__BODY_FIND_COORDINATOR;
        req.find_coordinator = &fc;
        if (any != NULL &&
            sc_gsend(g, any, &req, sc_fc_cb, (int)cl->conf.request_timeout_ms) == ST_OK)
            g->coord_inflight = true;
        else
            g->coord_retry_at = now + cl->conf.retry_backoff_ms;
        return;
    }
    sc_broker_t *br = sc_client_broker(cl, g->coord_id);
    if (br == NULL) {
        sc_client_md_want(cl);
        return;
    }
    switch (g->state) {
    case SC_G_NEED_JOIN:
        if (g->req_inflight)
            return;
        if (now < g->retry_at) {
            sc_next(next, g->retry_at);
            return;
        }
        if (g->n_sub == 0 && g->n_res > 0 && cl->md_last_ms == 0)
            return; /* patterns need metadata first */
        if (!g->cooperative && g->owned.n > 0 && !g->lost_pending) {
            sc_group_set_state(g, SC_G_REVOKE);
            return;
        }
        g->epoch++;
        g->rejoin_wanted = false;
        if (sc_group_send_join(g, br) == ST_OK) {
            g->req_inflight = true;
            sc_group_set_state(g, SC_G_JOINING);
        } else {
            g->retry_at = now + cl->conf.retry_backoff_ms;
        }
        return;
    case SC_G_STABLE:
        if (now - g->last_poll > g->rebalance_ms) {
            /* max.poll.interval.ms passed without poll(): give the
             * partitions up (Kafka leaves the group); the next poll()
             * reports them lost and rejoins */
            sc_group_lost(g, g->instance_id[0] == '\0');
            sc_group_set_state(g, SC_G_NEED_JOIN);
            g->retry_at = INT64_MAX; /* until poll() */
            return;
        }
        /* fall through */
    case SC_G_ASSIGN:
    case SC_G_REVOKE:
        if (g->generation < 0 || g->hb_inflight)
            return;
        if (now >= g->next_hb) {
            sc_group_send_hb(g, br);
            g->next_hb = now + g->hb_ms;
        }
        sc_next(next, g->next_hb);
        return;
    default:
        return;
    }
}

bool sc_group_needs_poll(sc_group_t *g)
{
    return g->lost_pending || g->state == SC_G_REVOKE || g->state == SC_G_ASSIGN ||
           (g->need_committed && sc_now_ms() >= g->committed_retry_at);
}

/* ----------------------------------------------- synchronous requests */

/* App thread: the coordinator of `group` (FindCoordinator, metadata
 * refresh when the broker is not known yet). */
static st_err_t sc_find_coord_sync(sc_client_t *cl, const char *group, int64_t deadline,
                                   sc_broker_t **out)
{
    for (;;) {
        int tmo = (int)(deadline - sc_now_ms());
        if (tmo <= 0)
            return ST_ERR_TIMEOUT;
        Strata__FindCoordinatorRequest fc = STRATA__FIND_COORDINATOR_REQUEST__INIT;
        Strata__Request req = STRATA__REQUEST__INIT;
        Strata__Response *r = NULL;
        fc.version = 1;
        fc.key = (char *)group;
        req.body_case = STRATA__REQUEST__BODY_FIND_COORDINATOR;
        req.find_coordinator = &fc;
        st_err_t e = sc_client_call(cl, NULL, &req, tmo, &r);
        if (e == ST_OK && r->body_case != STRATA__RESPONSE__BODY_FIND_COORDINATOR)
            e = ST_ERR_CORRUPT_MESSAGE;
        if (e == ST_OK)
            e = (st_err_t)r->find_coordinator->error;
        int32_t node = e == ST_OK ? r->find_coordinator->node_id : -1;
        if (r)
            strata__response__free_unpacked(r, NULL);
        if (e == ST_OK) {
            sc_client_lock(cl);
            *out = sc_client_broker(cl, node);
            sc_client_unlock(cl);
            if (*out != NULL)
                return ST_OK;
            e = sc_client_md_refresh(cl, tmo);
            sc_client_lock(cl);
            *out = sc_client_broker(cl, node);
            sc_client_unlock(cl);
            if (*out != NULL)
                return ST_OK;
        }
        if (e != ST_OK && !sc_coord_err(e) && e != ST_ERR_COORDINATOR_LOAD_IN_PROGRESS)
            return e;
        struct timespec ts = {0, (long)(cl->conf.retry_backoff_ms % 1000) * 1000000L};
        ts.tv_sec = cl->conf.retry_backoff_ms / 1000;
        nanosleep(&ts, NULL);
    }
}

/* The error a group body carries (its top-level code). */
static st_err_t sc_gbody_err(const Strata__Response *r)
{
    switch (r->body_case) {
    case STRATA__RESPONSE__BODY_LEAVE_GROUP: return (st_err_t)r->leave_group->error;
    case STRATA__RESPONSE__BODY_OFFSET_COMMIT: {
        const Strata__OffsetCommitResponse *oc = r->offset_commit;
        if (oc->error != 0)
            return (st_err_t)oc->error;
        for (size_t t = 0; t < oc->n_topics; t++)
            for (size_t p = 0; p < oc->topics[t]->n_partitions; p++)
                if (oc->topics[t]->partitions[p]->error != 0)
                    return (st_err_t)oc->topics[t]->partitions[p]->error;
        return ST_OK;
    }
    case STRATA__RESPONSE__BODY_OFFSET_FETCH: return (st_err_t)r->offset_fetch->error;
    case STRATA__RESPONSE__BODY_DESCRIBE_GROUPS:
        return r->describe_groups->n_groups ? (st_err_t)r->describe_groups->groups[0]->error
                                            : ST_ERR_CORRUPT_MESSAGE;
    case STRATA__RESPONSE__BODY_DELETE_GROUPS:
        return r->delete_groups->n_results ? (st_err_t)r->delete_groups->results[0]->error
                                           : ST_ERR_CORRUPT_MESSAGE;
    default: return ST_ERR_CORRUPT_MESSAGE;
    }
}

/* App thread: send req to the coordinator of group, again after a
 * coordinator change, until deadline. *out has the body (caller frees). */
static st_err_t sc_coord_call(sc_client_t *cl, const char *group, Strata__Request *req,
                              Strata__Response__BodyCase body, int64_t deadline,
                              Strata__Response **out)
{
    *out = NULL;
    for (;;) {
        sc_broker_t *br;
        st_err_t e = sc_find_coord_sync(cl, group, deadline, &br);
        if (e != ST_OK)
            return e;
        int tmo = (int)(deadline - sc_now_ms());
        if (tmo <= 0)
            return ST_ERR_TIMEOUT;
        Strata__Response *r = NULL;
        e = sc_client_call(cl, br, req, tmo, &r);
        if (e == ST_OK && r->body_case != body)
            e = ST_ERR_CORRUPT_MESSAGE;
        if (e == ST_OK)
            e = sc_gbody_err(r);
        if (e == ST_OK || !(sc_coord_err(e) || e == ST_ERR_COORDINATOR_LOAD_IN_PROGRESS) ||
            sc_now_ms() >= deadline) {
            *out = r;
            return e;
        }
        if (r)
            strata__response__free_unpacked(r, NULL);
    }
}

/* ------------------------------------------------------------- commits */

typedef struct sc_gco {
    char *topic;
    int32_t partition;
    int64_t offset;
    char *metadata;
} sc_gco_t;

typedef struct sc_gcommit {
    strata_consumer_t *c;
    sc_gco_t *v;
    size_t n;
    strata_commit_cb cb;
    void *opaque;
} sc_gcommit_t;

static void sc_gcommit_free(sc_gcommit_t *gc)
{
    for (size_t i = 0; gc && i < gc->n; i++) {
        free(gc->v[i].topic);
        free(gc->v[i].metadata);
    }
    if (gc)
        free(gc->v);
    free(gc);
}

/* Build an OffsetCommit for group (generation -1 and member "" for a
 * simple commit) in *req; storage in *store (free with free()). */
typedef struct sc_gcstore {
    Strata__OffsetCommitRequest oc;
    Strata__OffsetCommitTopic *ts;
    Strata__OffsetCommitTopic **tp;
    Strata__OffsetCommitPartition *ps;
    Strata__OffsetCommitPartition **pp;
} sc_gcstore_t;

static void sc_gcstore_fini(sc_gcstore_t *s)
{
    free(s->ts);
    free(s->tp);
    free(s->ps);
    free(s->pp);
}

static st_err_t sc_gcommit_build(const char *group, int32_t gen, const char *member,
                                 const char *instance, const sc_gco_t *v, size_t n,
                                 sc_gcstore_t *s, Strata__Request *req)
{
    memset(s, 0, sizeof *s);
    s->ts = calloc(n ? n : 1, sizeof *s->ts);
    s->tp = calloc(n ? n : 1, sizeof *s->tp);
    s->ps = calloc(n ? n : 1, sizeof *s->ps);
    s->pp = calloc(n ? n : 1, sizeof *s->pp);
    if (!s->ts || !s->tp || !s->ps || !s->pp) {
        sc_gcstore_fini(s);
        return ST_ERR_NOMEM;
    }
    size_t nt = 0, np = 0;
    /* topics in order of first appearance, their partitions contiguous */
    for (size_t i = 0; i < n; i++) {
        size_t t;
        for (t = 0; t < nt; t++)
            if (strcmp(s->ts[t].name, v[i].topic) == 0)
                break;
        if (t < nt)
            continue;
        strata__offset_commit_topic__init(&s->ts[nt]);
        s->ts[nt].name = v[i].topic;
        s->ts[nt].partitions = &s->pp[np];
        for (size_t k = i; k < n; k++) {
            if (strcmp(v[k].topic, v[i].topic) != 0)
                continue;
            strata__offset_commit_partition__init(&s->ps[np]);
            s->ps[np].partition = v[k].partition;
            s->ps[np].offset = v[k].offset;
            s->ps[np].leader_epoch = -1;
            s->ps[np].metadata = v[k].metadata ? v[k].metadata : "";
            s->pp[np] = &s->ps[np];
            np++;
            s->ts[nt].n_partitions++;
        }
        s->tp[nt] = &s->ts[nt];
        nt++;
    }
    strata__offset_commit_request__init(&s->oc);
    s->oc.version = 1;
    s->oc.group_id = (char *)group;
    s->oc.generation_id = gen;
    s->oc.member_id = (char *)(member ? member : "");
    s->oc.group_instance_id = (char *)(instance ? instance : "");
    s->oc.retention_time_ms = -1;
    s->oc.topics = s->tp;
    s->oc.n_topics = nt;
    strata__request__init(req);
    req->body_case = STRATA__REQUEST__BODY_OFFSET_COMMIT;
    req->offset_commit = &s->oc;
    return ST_OK;
}

/* Lock held: remember committed offsets in the current assignment. */
static void sc_gcommit_done(strata_consumer_t *c, const sc_gco_t *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < c->n_parts; k++)
            if (c->parts[k].partition == v[i].partition && strcmp(c->parts[k].topic, v[i].topic) == 0)
                c->parts[k].committed = v[i].offset;
}

static void sc_async_commit_cb(sc_client_t *cl, sc_req_t *rq, st_err_t err, nng_msg *reply)
{
    sc_gcommit_t *gc = rq->arg;
    Strata__Response *r;
    err = sc_gunpack(err, reply, STRATA__RESPONSE__BODY_OFFSET_COMMIT, &r);
    if (err == ST_OK)
        err = sc_gbody_err(r);
    sc_client_lock(cl);
    if (err == ST_OK)
        sc_gcommit_done(gc->c, gc->v, gc->n);
    else if (sc_coord_err(err) && gc->c->grp != NULL)
        gc->c->grp->coord_id = -1;
    sc_client_unlock(cl);
    if (gc->cb)
        gc->cb(gc->c, (strata_err_t)err, gc->opaque);
    if (r)
        strata__response__free_unpacked(r, NULL);
    sc_gcommit_free(gc);
}

/* App thread: the positions to commit (all moved partitions, or only
 * those in `only`). */
static st_err_t sc_gcommit_positions(strata_consumer_t *c, const sc_assign_tp_t *only, size_t n_only,
                                     sc_gcommit_t *gc)
{
    size_t *idx = NULL, n = 0;
    sc_client_lock(&c->cl);
    st_err_t e = sc_group_commit_plan(c->parts, c->n_parts, &idx, &n);
    if (e == ST_OK && (gc->v = calloc(n ? n : 1, sizeof *gc->v)) == NULL)
        e = ST_ERR_NOMEM;
    for (size_t i = 0; e == ST_OK && i < n; i++) {
        const sc_cpart_t *cp = &c->parts[idx[i]];
        if (only != NULL && !sc_tp_in(only, n_only, cp->topic, cp->partition))
            continue;
        sc_gco_t *o = &gc->v[gc->n];
        if ((o->topic = strdup(cp->topic)) == NULL) {
            e = ST_ERR_NOMEM;
            break;
        }
        o->partition = cp->partition;
        o->offset = sc_group_part_position(cp);
        gc->n++;
    }
    sc_client_unlock(&c->cl);
    free(idx);
    return e;
}

/* App thread: send gc (owned by this call). */
static st_err_t sc_gcommit_send(strata_consumer_t *c, sc_gcommit_t *gc, bool async, int64_t deadline)
{
    sc_group_t *g = c->grp;
    sc_gcstore_t s;
    Strata__Request req;
    if (gc->n == 0) {
        if (gc->cb)
            gc->cb(c, STRATA_OK, gc->opaque);
        sc_gcommit_free(gc);
        return ST_OK;
    }
    sc_client_lock(&c->cl);
    bool member = g->generation >= 0 && g->state != SC_G_IDLE;
    char *mid = strdup(member ? g->member_id : "");
    int32_t gen = member ? g->generation : -1;
    sc_broker_t *br = g->coord_id >= 0 ? sc_client_broker(&c->cl, g->coord_id) : NULL;
    sc_client_unlock(&c->cl);
    st_err_t e = mid ? sc_gcommit_build(g->group_id, gen, mid, g->instance_id, gc->v, gc->n, &s, &req)
                     : ST_ERR_NOMEM;
    if (e != ST_OK) {
        free(mid);
        sc_gcommit_free(gc);
        return e;
    }
    if (async) {
        nng_msg *m = NULL;
        sc_client_lock(&c->cl);
        if (br == NULL)
            e = ST_ERR_COORDINATOR_NOT_AVAILABLE;
        if (e == ST_OK)
            e = sc_gpack(&c->cl, &req, &m);
        sc_req_t *rq = e == ST_OK ? sc_req_new(br, sc_async_commit_cb, gc,
                                               (int)c->cl.conf.request_timeout_ms)
                                  : NULL;
        if (rq != NULL) {
            rq->msg = m;
            sc_client_submit(&c->cl, rq);
            gc = NULL;
        } else if (m != NULL) {
            nng_msg_free(m);
            e = ST_ERR_NOMEM;
        }
        sc_client_unlock(&c->cl);
        if (gc != NULL && gc->cb)
            gc->cb(c, (strata_err_t)e, gc->opaque);
    } else {
        Strata__Response *r = NULL;
        e = sc_coord_call(&c->cl, g->group_id, &req, STRATA__RESPONSE__BODY_OFFSET_COMMIT, deadline,
                          &r);
        if (e == ST_OK) {
            sc_client_lock(&c->cl);
            sc_gcommit_done(c, gc->v, gc->n);
            sc_client_unlock(&c->cl);
        }
        if (r)
            strata__response__free_unpacked(r, NULL);
    }
    sc_gcstore_fini(&s);
    free(mid);
    sc_gcommit_free(gc);
    return e;
}

/* App thread: synchronous commit of positions (only: subset or NULL). */
static st_err_t sc_group_commit_sync(sc_group_t *g, const sc_assign_tp_t *only, size_t n_only)
{
    sc_gcommit_t *gc = calloc(1, sizeof *gc);
    if (gc == NULL)
        return ST_ERR_NOMEM;
    gc->c = g->c;
    st_err_t e = sc_gcommit_positions(g->c, only, n_only, gc);
    if (e != ST_OK) {
        sc_gcommit_free(gc);
        return e;
    }
    return sc_gcommit_send(g->c, gc, false, sc_now_ms() + g->cl->conf.request_timeout_ms);
}

/* ------------------------------------------------- app-thread work */

static void sc_group_callback(sc_group_t *g, strata_rebalance_event_t ev, const sc_assign_tp_t *tps,
                              size_t n)
{
    if (g->cb == NULL)
        return;
    strata_tp_t *v = calloc(n ? n : 1, sizeof *v);
    if (v == NULL)
        return;
    for (size_t i = 0; i < n; i++) {
        v[i].topic = tps[i].topic;
        v[i].partition = tps[i].partition;
        v[i].offset = -1;
    }
    g->cb(g->c, ev, v, n, g->opaque);
    free(v);
}

/* App thread: look up committed offsets of partitions in NEED_COMMITTED. */
static void sc_group_fetch_committed(sc_group_t *g, int64_t deadline)
{
    strata_consumer_t *c = g->c;
    size_t n = 0;
    for (size_t i = 0; i < c->n_parts; i++)
        n += c->parts[i].state == SC_CP_NEED_COMMITTED;
    if (n == 0) {
        g->need_committed = false;
        return;
    }
    Strata__OffsetFetchTopic *ts = calloc(n, sizeof *ts);
    Strata__OffsetFetchTopic **tp = calloc(n, sizeof *tp);
    int32_t *pn = calloc(n, sizeof *pn);
    Strata__Response *r = NULL;
    st_err_t e = ST_ERR_NOMEM;
    if (ts && tp && pn) {
        size_t k = 0;
        for (size_t i = 0; i < c->n_parts; i++) {
            if (c->parts[i].state != SC_CP_NEED_COMMITTED)
                continue;
            strata__offset_fetch_topic__init(&ts[k]);
            ts[k].name = c->parts[i].topic;
            pn[k] = c->parts[i].partition;
            ts[k].partitions = &pn[k];
            ts[k].n_partitions = 1;
            tp[k] = &ts[k];
            k++;
        }
        Strata__OffsetFetchRequest of = STRATA__OFFSET_FETCH_REQUEST__INIT;
        Strata__Request req = STRATA__REQUEST__INIT;
        of.version = 1;
        of.group_id = g->group_id;
        of.topics = tp;
        of.n_topics = k;
        req.body_case = STRATA__REQUEST__BODY_OFFSET_FETCH;
        req.offset_fetch = &of;
        int64_t dl = sc_now_ms() + g->cl->conf.request_timeout_ms;
        if (deadline >= 0 && deadline < dl)
            dl = deadline;
        if (dl <= sc_now_ms())
            dl = sc_now_ms() + 1;
        e = sc_coord_call(g->cl, g->group_id, &req, STRATA__RESPONSE__BODY_OFFSET_FETCH, dl, &r);
    }
    sc_client_lock(&c->cl);
    for (size_t i = 0; e == ST_OK && i < c->n_parts; i++) {
        sc_cpart_t *cp = &c->parts[i];
        if (cp->state != SC_CP_NEED_COMMITTED)
            continue;
        const Strata__OffsetFetchPartitionResult *pr = NULL;
        for (size_t t = 0; pr == NULL && t < r->offset_fetch->n_topics; t++) {
            const Strata__OffsetFetchTopicResult *tr = r->offset_fetch->topics[t];
            if (tr->name == NULL || strcmp(tr->name, cp->topic) != 0)
                continue;
            for (size_t p = 0; p < tr->n_partitions; p++)
                if (tr->partitions[p]->partition == cp->partition)
                    pr = tr->partitions[p];
        }
        cp->version++;
        if (pr != NULL && pr->error == 0 && pr->offset >= 0) {
            cp->state = SC_CP_ACTIVE;
            cp->fetch_pos = pr->offset;
            cp->pos = pr->offset;
            cp->committed = pr->offset;
        } else if (c->reset != 0) {
            cp->state = SC_CP_NEED_OFFSET;
            cp->want_ts = c->reset;
        } else {
            /* auto.offset.reset=none and nothing committed */
            cp->state = SC_CP_STOPPED;
            sc_consumer_error_event(c, i, ST_ERR_OFFSET_OUT_OF_RANGE, -1);
        }
    }
    if (e == ST_OK) {
        g->need_committed = false;
    } else {
        g->committed_retry_at = sc_now_ms() + g->cl->conf.retry_backoff_ms;
        if (sc_coord_err(e))
            g->coord_id = -1;
    }
    sc_client_wakeup(&c->cl);
    sc_client_unlock(&c->cl);
    if (r)
        strata__response__free_unpacked(r, NULL);
    free(ts);
    free(tp);
    free(pn);
}

/* App thread: give up the whole assignment (revoked or lost). */
static void sc_group_drop_all(sc_group_t *g, strata_rebalance_event_t ev)
{
    sc_gtps_t old = {0};
    sc_client_lock(g->cl);
    old = g->owned;
    g->owned.tps = NULL;
    g->owned.n = 0;
    sc_client_unlock(g->cl);
    if (ev == STRATA_REBALANCE_REVOKED && g->autocommit && old.n > 0)
        sc_group_commit_sync(g, NULL, 0);
    if (old.n > 0 || ev != STRATA_REBALANCE_LOST)
        sc_group_callback(g, ev, old.tps, old.n);
    sc_consumer_set_parts(g->c, NULL, 0, SC_CP_NEED_COMMITTED, false);
    sc_gtps_clear(&old);
}

/* App thread: apply g->pending (state ASSIGN). */
static void sc_group_apply(sc_group_t *g)
{
    sc_gtps_t cur = {0}, next = {0};
    sc_assign_tp_t *revoked = NULL, *added = NULL;
    size_t n_rev = 0, n_add = 0;
    sc_client_lock(g->cl);
    if (g->state != SC_G_ASSIGN) {
        sc_client_unlock(g->cl);
        return;
    }
    next = g->pending;
    g->pending.tps = NULL;
    g->pending.n = 0;
    sc_gtps_set(&cur, g->owned.tps, g->owned.n);
    sc_client_unlock(g->cl);

    if (sc_group_tp_minus(cur.tps, cur.n, next.tps, next.n, &revoked, &n_rev) != ST_OK ||
        sc_group_tp_minus(next.tps, next.n, cur.tps, cur.n, &added, &n_add) != ST_OK)
        goto out;
    if (n_rev > 0) {
        if (g->autocommit)
            sc_group_commit_sync(g, revoked, n_rev);
        sc_group_callback(g, STRATA_REBALANCE_REVOKED, revoked, n_rev);
    }
    sc_consumer_set_parts(g->c, next.tps, next.n, SC_CP_NEED_COMMITTED, false);
    g->need_committed = true;
    g->committed_retry_at = 0;
    sc_client_lock(g->cl);
    if (g->state == SC_G_ASSIGN) {
        sc_gtps_clear(&g->owned);
        g->owned = next;
        next.tps = NULL;
        next.n = 0;
        g->owned_gen = g->generation;
        bool rejoin = g->rejoin_wanted || (g->cooperative && n_rev > 0);
        g->rejoin_wanted = false;
        sc_group_set_state(g, SC_G_STABLE);
        if (rejoin)
            sc_group_set_state(g, SC_G_NEED_JOIN);
    }
    sc_client_unlock(g->cl);
    sc_group_callback(g, STRATA_REBALANCE_ASSIGNED, added, n_add);
out:
    free(revoked);
    free(added);
    sc_gtps_clear(&cur);
    sc_gtps_clear(&next);
}

void sc_group_poll(sc_group_t *g, int64_t deadline)
{
    int64_t now = sc_now_ms();
    sc_client_lock(g->cl);
    g->last_poll = now;
    if (g->state == SC_G_NEED_JOIN && g->retry_at == INT64_MAX)
        g->retry_at = 0; /* back after a max.poll.interval.ms expiry */
    bool lost = g->lost_pending;
    g->lost_pending = false;
    sc_client_unlock(g->cl);
    if (lost)
        sc_group_drop_all(g, STRATA_REBALANCE_LOST);
    sc_client_lock(g->cl);
    sc_gstate_t st = g->state;
    sc_client_unlock(g->cl);
    if (st == SC_G_REVOKE) {
        sc_group_drop_all(g, STRATA_REBALANCE_REVOKED);
        sc_client_lock(g->cl);
        if (g->state == SC_G_REVOKE)
            sc_group_set_state(g, SC_G_NEED_JOIN);
        sc_client_unlock(g->cl);
    } else if (st == SC_G_ASSIGN) {
        sc_group_apply(g);
    }
    if (g->need_committed && sc_now_ms() >= g->committed_retry_at)
        sc_group_fetch_committed(g, deadline);
    if (g->autocommit && now >= g->next_autocommit) {
        g->next_autocommit = now + g->autocommit_ms;
        sc_client_lock(g->cl);
        bool stable = g->state == SC_G_STABLE;
        sc_client_unlock(g->cl);
        if (stable)
            strata_consumer_commit(g->c, NULL, 0, true, NULL, NULL);
    }
}

/* App thread: commit, revoke, leave; leaves the state `to`. */
static void sc_group_leave(sc_group_t *g, sc_gstate_t to)
{
    sc_client_lock(g->cl);
    bool member = g->member_id[0] != '\0' && g->state != SC_G_IDLE && g->state != SC_G_CLOSED;
    bool lost = g->lost_pending;
    g->lost_pending = false;
    sc_client_unlock(g->cl);
    if (g->owned.n > 0)
        sc_group_drop_all(g, lost ? STRATA_REBALANCE_LOST : STRATA_REBALANCE_REVOKED);
    sc_client_lock(g->cl);
    sc_group_set_state(g, to);
    char *mid = strdup(g->member_id);
    sc_set_str(&g->member_id, "");
    g->generation = -1;
    sc_client_unlock(g->cl);
    if (member && mid != NULL && g->instance_id[0] == '\0') {
        /* static members stay: a restart within session.timeout.ms gets
         * the same partitions back without a rebalance */
        Strata__LeavingMember lm = STRATA__LEAVING_MEMBER__INIT;
        Strata__LeavingMember *lmp = &lm;
        Strata__LeaveGroupRequest lr = STRATA__LEAVE_GROUP_REQUEST__INIT;
        Strata__Request req = STRATA__REQUEST__INIT;
        Strata__Response *r = NULL;
        lm.member_id = mid;
        lm.group_instance_id = g->instance_id;
        lm.reason = "the consumer is closing";
        lr.version = 1;
        lr.group_id = g->group_id;
        lr.members = &lmp;
        lr.n_members = 1;
        req.body_case = STRATA__REQUEST__BODY_LEAVE_GROUP;
        req.leave_group = &lr;
        int64_t tmo = g->cl->conf.request_timeout_ms < 5000 ? g->cl->conf.request_timeout_ms : 5000;
        sc_coord_call(g->cl, g->group_id, &req, STRATA__RESPONSE__BODY_LEAVE_GROUP,
                      sc_now_ms() + tmo, &r);
        if (r)
            strata__response__free_unpacked(r, NULL);
    }
    free(mid);
}

void sc_group_close(sc_group_t *g)
{
    sc_group_leave(g, SC_G_CLOSED);
}

/* ------------------------------------------------------- life cycle */

st_err_t sc_group_new(strata_consumer_t *c, const strata_conf_t *conf, sc_group_t **out,
                      char *err, size_t errlen)
{
    sc_group_t *g = calloc(1, sizeof *g);
    if (g == NULL)
        return ST_ERR_NOMEM;
    g->c = c;
    g->cl = &c->cl;
    g->group_id = strdup(conf->group_id);
    g->instance_id = strdup(conf->group_instance_id ? conf->group_instance_id : "");
    g->member_id = strdup("");
    g->protocol = strdup("");
    g->coord_id = -1;
    g->generation = -1;
    g->session_ms = conf->session_timeout_ms;
    g->hb_ms = conf->heartbeat_interval_ms;
    if (g->hb_ms > g->session_ms / 3)
        g->hb_ms = g->session_ms / 3;
    g->rebalance_ms = conf->max_poll_interval_ms;
    g->autocommit = conf->enable_auto_commit;
    g->autocommit_ms = conf->auto_commit_interval_ms;
    st_err_t e = ST_OK;
    if (!g->group_id || !g->instance_id || !g->member_id || !g->protocol)
        e = ST_ERR_NOMEM;
    /* partition.assignment.strategy */
    const char *s = conf->partition_assignment_strategy ? conf->partition_assignment_strategy : "";
    while (e == ST_OK && *s) {
        size_t len = strcspn(s, ",");
        char name[64];
        const char *a = s;
        while (len > 0 && *a == ' ') {
            a++;
            len--;
        }
        while (len > 0 && a[len - 1] == ' ')
            len--;
        if (len > 0) {
            snprintf(name, sizeof name, "%.*s", (int)len, a);
            const sc_assignor_t *as = sc_assign_lookup(name);
            if (as == NULL || g->n_assignors == SC_G_MAX_ASSIGNORS) {
                if (err)
                    snprintf(err, errlen, "partition.assignment.strategy: unknown assignor '%s'",
                             name);
                e = ST_ERR_INVALID_CONFIG;
                break;
            }
            g->assignors[g->n_assignors++] = as;
        }
        s += strcspn(s, ",");
        if (*s == ',')
            s++;
    }
    if (e == ST_OK && g->n_assignors == 0) {
        if (err)
            snprintf(err, errlen, "partition.assignment.strategy: no assignor given");
        e = ST_ERR_INVALID_CONFIG;
    }
    if (e == ST_OK) {
        /* the first (preferred) assignor decides until the group picks */
        g->cooperative = g->assignors[0]->cooperative;
        for (size_t i = 0; i < g->n_assignors; i++)
            if (g->assignors[i]->cooperative != g->cooperative)
                g->cooperative = false; /* mixed list: revoke eagerly (safe) */
    }
    if (e != ST_OK) {
        sc_group_free(g);
        return e;
    }
    *out = g;
    return ST_OK;
}

static void sc_group_sub_clear(sc_group_t *g)
{
    sc_strv_free(g->lits, g->n_lits);
    g->lits = NULL;
    g->n_lits = 0;
    for (size_t i = 0; i < g->n_res; i++)
        regfree(&g->res[i]);
    free(g->res);
    g->res = NULL;
    g->n_res = 0;
    sc_strv_free(g->sub, g->n_sub);
    g->sub = NULL;
    g->n_sub = 0;
}

void sc_group_free(sc_group_t *g)
{
    if (g == NULL)
        return;
    sc_group_sub_clear(g);
    sc_gtps_clear(&g->owned);
    sc_gtps_clear(&g->pending);
    for (size_t i = 0; i < g->n_snap; i++)
        free(g->snap[i].name);
    free(g->snap);
    free(g->group_id);
    free(g->instance_id);
    free(g->member_id);
    free(g->protocol);
    free(g);
}

/* ---------------------------------------------------------- public API */

strata_err_t strata_consumer_subscribe(strata_consumer_t *c, const char *const *topics, size_t n)
{
    if (c == NULL || (n > 0 && topics == NULL))
        return STRATA_ERR_INVALID_ARG;
    sc_group_t *g = c->grp;
    if (g == NULL)
        return STRATA_ERR_INVALID_CONFIG;
    if (n == 0)
        return strata_consumer_unsubscribe(c);
    sc_client_lock(&c->cl);
    bool assigned = !g->subscribed && c->n_parts > 0;
    sc_client_unlock(&c->cl);
    if (assigned)
        return STRATA_ERR_STATE;
    char **lits = calloc(n, sizeof *lits);
    regex_t *res = calloc(n, sizeof *res);
    size_t nl = 0, nr = 0;
    st_err_t e = lits && res ? ST_OK : ST_ERR_NOMEM;
    for (size_t i = 0; e == ST_OK && i < n; i++) {
        if (topics[i] == NULL || topics[i][0] == '\0')
            e = ST_ERR_INVALID_ARG;
        else if (topics[i][0] == '^')
            e = regcomp(&res[nr], topics[i], REG_EXTENDED | REG_NOSUB) == 0 ? (nr++, ST_OK)
                                                                         : ST_ERR_INVALID_ARG;
        else if ((lits[nl++] = strdup(topics[i])) == NULL)
            e = ST_ERR_NOMEM;
    }
    if (e != ST_OK) {
        sc_strv_free(lits, nl);
        for (size_t i = 0; i < nr; i++)
            regfree(&res[i]);
        free(res);
        return (strata_err_t)e;
    }
    sc_client_lock(&c->cl);
    sc_group_sub_clear(g);
    g->lits = lits;
    g->n_lits = nl;
    g->res = res;
    g->n_res = nr;
    g->subscribed = true;
    /* literal names only: metadata for just those; patterns need all */
    for (size_t i = 0; nr == 0 && i < nl; i++)
        sc_client_md_interest(&c->cl, lits[i]);
    sc_group_resub(g);
    g->last_poll = sc_now_ms();
    if (g->state == SC_G_IDLE)
        sc_group_set_state(g, SC_G_NEED_JOIN);
    else
        sc_group_want_rejoin(g);
    sc_client_md_want(&c->cl);
    sc_client_wakeup(&c->cl);
    sc_client_unlock(&c->cl);
    return STRATA_OK;
}

strata_err_t strata_consumer_unsubscribe(strata_consumer_t *c)
{
    if (c == NULL)
        return STRATA_ERR_INVALID_ARG;
    sc_group_t *g = c->grp;
    if (g == NULL || !g->subscribed)
        return STRATA_OK;
    sc_group_leave(g, SC_G_IDLE);
    sc_client_lock(&c->cl);
    g->subscribed = false;
    sc_group_sub_clear(g);
    sc_client_unlock(&c->cl);
    return STRATA_OK;
}

void strata_consumer_set_rebalance_cb(strata_consumer_t *c, strata_rebalance_cb cb, void *opaque)
{
    if (c == NULL || c->grp == NULL)
        return;
    c->grp->cb = cb;
    c->grp->opaque = opaque;
}

strata_err_t strata_consumer_commit(strata_consumer_t *c, const strata_commit_t *offsets, size_t n,
                                    bool async, strata_commit_cb cb, void *opaque)
{
    if (c == NULL || (n > 0 && offsets == NULL))
        return STRATA_ERR_INVALID_ARG;
    if (c->grp == NULL)
        return STRATA_ERR_INVALID_CONFIG;
    sc_gcommit_t *gc = calloc(1, sizeof *gc);
    if (gc == NULL)
        return STRATA_ERR_NOMEM;
    gc->c = c;
    gc->cb = cb;
    gc->opaque = opaque;
    st_err_t e = ST_OK;
    if (offsets == NULL) {
        e = sc_gcommit_positions(c, NULL, 0, gc);
    } else if ((gc->v = calloc(n, sizeof *gc->v)) == NULL) {
        e = ST_ERR_NOMEM;
    } else {
        for (; e == ST_OK && gc->n < n; gc->n++) {
            const strata_commit_t *o = &offsets[gc->n];
            sc_gco_t *d = &gc->v[gc->n];
            if (o->topic == NULL || o->partition < 0 || o->offset < 0)
                e = ST_ERR_INVALID_ARG;
            else if ((d->topic = strdup(o->topic)) == NULL ||
                     (o->metadata && (d->metadata = strdup(o->metadata)) == NULL))
                e = ST_ERR_NOMEM;
            d->partition = o->partition;
            d->offset = o->offset;
        }
    }
    if (e != ST_OK) {
        sc_gcommit_free(gc);
        return (strata_err_t)e;
    }
    return (strata_err_t)sc_gcommit_send(c, gc, async || cb != NULL,
                                         sc_now_ms() + c->cl.conf.request_timeout_ms);
}

strata_err_t strata_consumer_committed(strata_consumer_t *c, const char *topic, int32_t partition,
                                       int64_t *offset, char **metadata, int timeout_ms)
{
    if (c == NULL || topic == NULL || partition < 0 || offset == NULL)
        return STRATA_ERR_INVALID_ARG;
    if (c->grp == NULL)
        return STRATA_ERR_INVALID_CONFIG;
    int32_t pn = partition;
    Strata__OffsetFetchTopic t = STRATA__OFFSET_FETCH_TOPIC__INIT;
    Strata__OffsetFetchTopic *tp = &t;
    Strata__OffsetFetchRequest of = STRATA__OFFSET_FETCH_REQUEST__INIT;
    Strata__Request req = STRATA__REQUEST__INIT;
    Strata__Response *r = NULL;
    t.name = (char *)topic;
    t.partitions = &pn;
    t.n_partitions = 1;
    of.version = 1;
    of.group_id = c->grp->group_id;
    of.topics = &tp;
    of.n_topics = 1;
    req.body_case = STRATA__REQUEST__BODY_OFFSET_FETCH;
    req.offset_fetch = &of;
    *offset = -1;
    if (metadata)
        *metadata = NULL;
    st_err_t e = sc_coord_call(&c->cl, c->grp->group_id, &req, STRATA__RESPONSE__BODY_OFFSET_FETCH,
                               sc_now_ms() + (timeout_ms < 0 ? c->cl.conf.request_timeout_ms
                                                             : timeout_ms),
                               &r);
    for (size_t i = 0; e == ST_OK && i < r->offset_fetch->n_topics; i++) {
        const Strata__OffsetFetchTopicResult *tr = r->offset_fetch->topics[i];
        if (tr->name == NULL || strcmp(tr->name, topic) != 0)
            continue;
        for (size_t k = 0; k < tr->n_partitions; k++) {
            const Strata__OffsetFetchPartitionResult *pr = tr->partitions[k];
            if (pr->partition != partition)
                continue;
            e = (st_err_t)pr->error;
            *offset = pr->offset;
            if (e == ST_OK && metadata && pr->offset >= 0 &&
                (*metadata = strdup(pr->metadata ? pr->metadata : "")) == NULL)
                e = ST_ERR_NOMEM;
        }
    }
    if (r)
        strata__response__free_unpacked(r, NULL);
    return (strata_err_t)e;
}

static sc_cpart_t *sc_find_part(strata_consumer_t *c, const char *topic, int32_t partition)
{
    for (size_t i = 0; topic && i < c->n_parts; i++)
        if (c->parts[i].partition == partition && strcmp(c->parts[i].topic, topic) == 0)
            return &c->parts[i];
    return NULL;
}

strata_err_t strata_consumer_position(strata_consumer_t *c, const char *topic, int32_t partition,
                                      int64_t *offset)
{
    if (c == NULL || offset == NULL)
        return STRATA_ERR_INVALID_ARG;
    sc_client_lock(&c->cl);
    sc_cpart_t *cp = sc_find_part(c, topic, partition);
    *offset = cp ? sc_group_part_position(cp) : -1;
    sc_client_unlock(&c->cl);
    if (cp == NULL)
        return STRATA_ERR_NOT_FOUND;
    return *offset >= 0 ? STRATA_OK : STRATA_ERR_STATE;
}

strata_err_t strata_consumer_lag(strata_consumer_t *c, const char *topic, int32_t partition,
                                 int64_t *lag)
{
    if (c == NULL || lag == NULL)
        return STRATA_ERR_INVALID_ARG;
    sc_client_lock(&c->cl);
    sc_cpart_t *cp = sc_find_part(c, topic, partition);
    *lag = cp ? sc_group_lag(cp->hwm, sc_group_part_position(cp)) : -1;
    sc_client_unlock(&c->cl);
    if (cp == NULL)
        return STRATA_ERR_NOT_FOUND;
    return *lag >= 0 ? STRATA_OK : STRATA_ERR_STATE;
}

static strata_err_t sc_pause(strata_consumer_t *c, const strata_tp_t *tps, size_t n, bool pause)
{
    if (c == NULL || (n > 0 && tps == NULL))
        return STRATA_ERR_INVALID_ARG;
    strata_err_t e = STRATA_OK;
    /* the current chunk may belong to a partition being paused */
    for (size_t i = 0; pause && c->cur != NULL && i < n; i++) {
        if (c->cur->idx < c->n_parts && tps[i].topic != NULL &&
            c->parts[c->cur->idx].partition == tps[i].partition &&
            strcmp(c->parts[c->cur->idx].topic, tps[i].topic) == 0) {
            sc_consumer_drop_cur(c);
        }
    }
    sc_client_lock(&c->cl);
    for (size_t i = 0; i < n; i++) {
        sc_cpart_t *cp = sc_find_part(c, tps[i].topic, tps[i].partition);
        if (cp == NULL) {
            e = STRATA_ERR_NOT_FOUND;
            continue;
        }
        if (cp->paused == pause)
            continue;
        cp->paused = pause;
        if (pause) {
            /* drop what was fetched beyond the position: refetched on resume */
            int64_t p = sc_group_part_position(cp);
            cp->version++;
            cp->fetching = false;
            if (p >= 0 && cp->state == SC_CP_ACTIVE)
                cp->fetch_pos = p;
        }
    }
    sc_client_wakeup(&c->cl);
    sc_client_unlock(&c->cl);
    return e;
}

strata_err_t strata_consumer_pause(strata_consumer_t *c, const strata_tp_t *tps, size_t n)
{
    return sc_pause(c, tps, n, true);
}

strata_err_t strata_consumer_resume(strata_consumer_t *c, const strata_tp_t *tps, size_t n)
{
    return sc_pause(c, tps, n, false);
}

strata_err_t strata_consumer_assignment(strata_consumer_t *c, strata_tp_t **tps, size_t *n)
{
    if (c == NULL || tps == NULL || n == NULL)
        return STRATA_ERR_INVALID_ARG;
    *tps = calloc(c->n_parts ? c->n_parts : 1, sizeof **tps);
    *n = 0;
    if (*tps == NULL)
        return STRATA_ERR_NOMEM;
    for (size_t i = 0; i < c->n_parts; i++) {
        char *t = strdup(c->parts[i].topic);
        if (t == NULL) {
            strata_tp_list_free(*tps, *n);
            *tps = NULL;
            *n = 0;
            return STRATA_ERR_NOMEM;
        }
        (*tps)[*n].topic = t;
        (*tps)[*n].partition = c->parts[i].partition;
        (*tps)[*n].offset = sc_group_part_position(&c->parts[i]);
        (*n)++;
    }
    return STRATA_OK;
}

void strata_tp_list_free(strata_tp_t *tps, size_t n)
{
    for (size_t i = 0; tps && i < n; i++)
        free((char *)tps[i].topic);
    free(tps);
}

/* -------------------------------------------------- group administration */

static char *sc_dup(const char *s)
{
    return strdup(s ? s : "");
}

void strata_group_listing_free(strata_group_listing_t *l, size_t n)
{
    for (size_t i = 0; l && i < n; i++) {
        free(l[i].group_id);
        free(l[i].state);
        free(l[i].protocol_type);
    }
    free(l);
}

strata_err_t strata_consumer_list_groups(strata_consumer_t *c, int timeout_ms,
                                         strata_group_listing_t **out, size_t *n)
{
    if (c == NULL || out == NULL || n == NULL)
        return STRATA_ERR_INVALID_ARG;
    *out = NULL;
    *n = 0;
    st_err_t e = sc_client_md_refresh(&c->cl, timeout_ms);
    if (e != ST_OK)
        return (strata_err_t)e;
    sc_client_lock(&c->cl);
    size_t nb = 0;
    int32_t *ids = calloc(c->cl.n_brokers + 1, sizeof *ids);
    for (size_t i = 0; ids && i < c->cl.n_brokers; i++)
        if (c->cl.brokers[i]->in_md && c->cl.brokers[i]->id >= 0)
            ids[nb++] = c->cl.brokers[i]->id;
    sc_client_unlock(&c->cl);
    if (ids == NULL)
        return STRATA_ERR_NOMEM;
    strata_group_listing_t *v = NULL;
    size_t cnt = 0;
    for (size_t b = 0; e == ST_OK && b < nb; b++) {
        Strata__ListGroupsRequest lg = STRATA__LIST_GROUPS_REQUEST__INIT;
        Strata__Request req = STRATA__REQUEST__INIT;
        Strata__Response *r = NULL;
        lg.version = 1;
        req.body_case = STRATA__REQUEST__BODY_LIST_GROUPS;
        req.list_groups = &lg;
        sc_client_lock(&c->cl);
        sc_broker_t *br = sc_client_broker(&c->cl, ids[b]);
        sc_client_unlock(&c->cl);
        if (br == NULL)
            continue;
        e = sc_client_call(&c->cl, br, &req, timeout_ms, &r);
        if (e == ST_OK && r->body_case != STRATA__RESPONSE__BODY_LIST_GROUPS)
            e = ST_ERR_CORRUPT_MESSAGE;
        if (e == ST_OK)
            e = (st_err_t)r->list_groups->error;
        if (e == ST_ERR_COORDINATOR_LOAD_IN_PROGRESS || e == ST_ERR_COORDINATOR_NOT_AVAILABLE)
            e = ST_OK; /* that broker's groups are not loaded yet: skip it */
        size_t add = e == ST_OK && r && r->body_case == STRATA__RESPONSE__BODY_LIST_GROUPS
                         ? r->list_groups->n_groups
                         : 0;
        strata_group_listing_t *nv = add ? realloc(v, (cnt + add) * sizeof *v) : v;
        if (add > 0 && nv == NULL) {
            e = ST_ERR_NOMEM;
            add = 0;
        } else {
            v = nv;
        }
        for (size_t i = 0; i < add; i++) {
            const Strata__ListedGroup *lgp = r->list_groups->groups[i];
            v[cnt].group_id = sc_dup(lgp->group_id);
            v[cnt].state = sc_dup(lgp->state);
            v[cnt].protocol_type = sc_dup(lgp->protocol_type);
            v[cnt].coordinator = ids[b];
            cnt++;
        }
        if (r)
            strata__response__free_unpacked(r, NULL);
    }
    free(ids);
    if (e != ST_OK) {
        strata_group_listing_free(v, cnt);
        return (strata_err_t)e;
    }
    *out = v;
    *n = cnt;
    return STRATA_OK;
}

void strata_group_desc_free(strata_group_desc_t *d)
{
    if (d == NULL)
        return;
    for (size_t i = 0; i < d->n_members; i++) {
        strata_group_member_t *m = &d->members[i];
        free(m->member_id);
        free(m->instance_id);
        free(m->client_id);
        free(m->client_host);
        strata_tp_list_free(m->assignment, m->n_assignment);
    }
    free(d->members);
    free(d->group_id);
    free(d->state);
    free(d->protocol_type);
    free(d->protocol);
    free(d);
}

strata_err_t strata_consumer_describe_group(strata_consumer_t *c, const char *group, int timeout_ms,
                                            strata_group_desc_t **out)
{
    if (c == NULL || group == NULL || out == NULL)
        return STRATA_ERR_INVALID_ARG;
    *out = NULL;
    char *gv = (char *)group;
    Strata__DescribeGroupsRequest dg = STRATA__DESCRIBE_GROUPS_REQUEST__INIT;
    Strata__Request req = STRATA__REQUEST__INIT;
    Strata__Response *r = NULL;
    dg.version = 1;
    dg.groups = &gv;
    dg.n_groups = 1;
    req.body_case = STRATA__REQUEST__BODY_DESCRIBE_GROUPS;
    req.describe_groups = &dg;
    int64_t deadline = sc_now_ms() + (timeout_ms < 0 ? c->cl.conf.request_timeout_ms : timeout_ms);
    st_err_t e = sc_coord_call(&c->cl, group, &req, STRATA__RESPONSE__BODY_DESCRIBE_GROUPS, deadline,
                               &r);
    sc_broker_t *br = NULL;
    int32_t coord = -1;
    if (e == ST_OK && sc_find_coord_sync(&c->cl, group, deadline, &br) == ST_OK)
        coord = br->id;
    strata_group_desc_t *d = e == ST_OK ? calloc(1, sizeof *d) : NULL;
    if (e == ST_OK && d == NULL)
        e = ST_ERR_NOMEM;
    if (e == ST_OK) {
        const Strata__DescribedGroup *g = r->describe_groups->groups[0];
        d->group_id = sc_dup(g->group_id);
        d->state = sc_dup(g->state);
        d->protocol_type = sc_dup(g->protocol_type);
        d->protocol = sc_dup(g->protocol);
        d->generation = g->generation_id;
        d->coordinator = coord;
        d->members = calloc(g->n_members ? g->n_members : 1, sizeof *d->members);
        if (d->members == NULL)
            e = ST_ERR_NOMEM;
        for (size_t i = 0; e == ST_OK && i < g->n_members; i++) {
            const Strata__DescribedMember *dm = g->members[i];
            strata_group_member_t *m = &d->members[i];
            d->n_members++;
            m->member_id = sc_dup(dm->member_id);
            m->instance_id = sc_dup(dm->group_instance_id);
            m->client_id = sc_dup(dm->client_id);
            m->client_host = sc_dup(dm->client_host);
            sc_assign_tplist_t l = {0};
            if (dm->assignment.len > 0 &&
                sc_assign_assignment_decode(dm->assignment.data, dm->assignment.len, &l) == ST_OK) {
                m->assignment = calloc(l.n ? l.n : 1, sizeof *m->assignment);
                for (size_t k = 0; m->assignment && k < l.n; k++) {
                    m->assignment[k].topic = sc_dup(l.tps[k].topic);
                    m->assignment[k].partition = l.tps[k].partition;
                    m->assignment[k].offset = -1;
                    m->n_assignment++;
                }
            }
            sc_assign_tplist_fini(&l);
        }
    }
    if (r)
        strata__response__free_unpacked(r, NULL);
    if (e != ST_OK) {
        strata_group_desc_free(d);
        return (strata_err_t)e;
    }
    *out = d;
    return STRATA_OK;
}

void strata_commit_list_free(strata_commit_t *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++) {
        free((char *)v[i].topic);
        free((char *)v[i].metadata);
    }
    free(v);
}

strata_err_t strata_consumer_group_offsets(strata_consumer_t *c, const char *group, int timeout_ms,
                                           strata_commit_t **out, size_t *n)
{
    if (c == NULL || group == NULL || out == NULL || n == NULL)
        return STRATA_ERR_INVALID_ARG;
    *out = NULL;
    *n = 0;
    Strata__OffsetFetchRequest of = STRATA__OFFSET_FETCH_REQUEST__INIT;
    Strata__Request req = STRATA__REQUEST__INIT;
    Strata__Response *r = NULL;
    of.version = 1;
    of.group_id = (char *)group;
    req.body_case = STRATA__REQUEST__BODY_OFFSET_FETCH;
    req.offset_fetch = &of;
    st_err_t e = sc_coord_call(&c->cl, group, &req, STRATA__RESPONSE__BODY_OFFSET_FETCH,
                               sc_now_ms() + (timeout_ms < 0 ? c->cl.conf.request_timeout_ms
                                                             : timeout_ms),
                               &r);
    size_t cnt = 0, cap = 0;
    for (size_t t = 0; e == ST_OK && t < r->offset_fetch->n_topics; t++)
        cap += r->offset_fetch->topics[t]->n_partitions;
    strata_commit_t *v = e == ST_OK ? calloc(cap ? cap : 1, sizeof *v) : NULL;
    if (e == ST_OK && v == NULL)
        e = ST_ERR_NOMEM;
    for (size_t t = 0; e == ST_OK && t < r->offset_fetch->n_topics; t++) {
        const Strata__OffsetFetchTopicResult *tr = r->offset_fetch->topics[t];
        for (size_t k = 0; k < tr->n_partitions; k++) {
            const Strata__OffsetFetchPartitionResult *pr = tr->partitions[k];
            if (pr->error != 0 || pr->offset < 0)
                continue;
            v[cnt].topic = sc_dup(tr->name);
            v[cnt].metadata = sc_dup(pr->metadata);
            v[cnt].partition = pr->partition;
            v[cnt].offset = pr->offset;
            cnt++;
        }
    }
    if (r)
        strata__response__free_unpacked(r, NULL);
    if (e != ST_OK) {
        strata_commit_list_free(v, cnt);
        return (strata_err_t)e;
    }
    *out = v;
    *n = cnt;
    return STRATA_OK;
}

strata_err_t strata_consumer_group_commit(strata_consumer_t *c, const char *group,
                                          const strata_commit_t *offsets, size_t n, int timeout_ms)
{
    if (c == NULL || group == NULL || (n > 0 && offsets == NULL))
        return STRATA_ERR_INVALID_ARG;
    sc_gco_t *v = calloc(n ? n : 1, sizeof *v);
    if (v == NULL)
        return STRATA_ERR_NOMEM;
    for (size_t i = 0; i < n; i++) {
        v[i].topic = (char *)offsets[i].topic;
        v[i].partition = offsets[i].partition;
        v[i].offset = offsets[i].offset;
        v[i].metadata = (char *)offsets[i].metadata;
    }
    sc_gcstore_t s;
    Strata__Request req;
    Strata__Response *r = NULL;
    st_err_t e = sc_gcommit_build(group, -1, "", "", v, n, &s, &req);
    if (e == ST_OK) {
        e = sc_coord_call(&c->cl, group, &req, STRATA__RESPONSE__BODY_OFFSET_COMMIT,
                          sc_now_ms() + (timeout_ms < 0 ? c->cl.conf.request_timeout_ms
                                                        : timeout_ms),
                          &r);
        sc_gcstore_fini(&s);
    }
    if (r)
        strata__response__free_unpacked(r, NULL);
    free(v);
    return (strata_err_t)e;
}

strata_err_t strata_consumer_delete_group(strata_consumer_t *c, const char *group, int timeout_ms)
{
    if (c == NULL || group == NULL)
        return STRATA_ERR_INVALID_ARG;
    char *gv = (char *)group;
    Strata__DeleteGroupsRequest dg = STRATA__DELETE_GROUPS_REQUEST__INIT;
    Strata__Request req = STRATA__REQUEST__INIT;
    Strata__Response *r = NULL;
    dg.version = 1;
    dg.groups = &gv;
    dg.n_groups = 1;
    req.body_case = STRATA__REQUEST__BODY_DELETE_GROUPS;
    req.delete_groups = &dg;
    st_err_t e = sc_coord_call(&c->cl, group, &req, STRATA__RESPONSE__BODY_DELETE_GROUPS,
                               sc_now_ms() + (timeout_ms < 0 ? c->cl.conf.request_timeout_ms
                                                             : timeout_ms),
                               &r);
    if (r)
        strata__response__free_unpacked(r, NULL);
    return (strata_err_t)e;
}
