/*
 * sc_group: consumer-group membership (see sc_group.h for the state
 * machine and the thread rules): the subscription matched against
 * metadata, the coordinator look-up, the JoinGroup / SyncGroup /
 * Heartbeat exchange of the I/O thread (sc_group_tick), LeaveGroup at
 * close, and the life cycle of struct sc_group (sc_group_int.h). Commits
 * are in sc_group_commit.c, the application-thread side (rebalance
 * callbacks, the public subscription API) in sc_group_app.c. Members of
 * struct sc_group are guarded by cl.lock unless marked app (only the
 * application thread touches them). Answers from an older join attempt
 * are recognised by `epoch`, which bumps at every JoinGroup.
 */
#include "client/sc_group.h"

#include <assert.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>

#include "client/sc_assign.h"
#include "client/sc_client.h"
#include "client/sc_conf.h"
#include "client/sc_group_int.h"

/* -------------------------------------------------------- pure helpers */

const char *sc_group_state_name(sc_gstate_t s)
{
    static const char *const n[] = {"IDLE",    "NEED_JOIN", "REVOKE", "JOINING",
                                    "SYNCING", "ASSIGN",    "STABLE", "CLOSED"};
    return (unsigned)s < sizeof n / sizeof n[0] ? n[s] : "?";
}

bool sc_group_edge_ok(sc_gstate_t from, sc_gstate_t to)
{
    if (to == SC_G_CLOSED || (to == SC_G_IDLE && from != SC_G_CLOSED))
        return true;
    switch (from) {
    case SC_G_IDLE:
        return to == SC_G_NEED_JOIN;
    case SC_G_NEED_JOIN:
        return to == SC_G_REVOKE || to == SC_G_JOINING || to == SC_G_NEED_JOIN;
    case SC_G_REVOKE:
        return to == SC_G_NEED_JOIN;
    case SC_G_JOINING:
        return to == SC_G_SYNCING || to == SC_G_NEED_JOIN;
    case SC_G_SYNCING:
        return to == SC_G_ASSIGN || to == SC_G_NEED_JOIN;
    case SC_G_ASSIGN:
        return to == SC_G_STABLE || to == SC_G_NEED_JOIN;
    case SC_G_STABLE:
        return to == SC_G_NEED_JOIN;
    case SC_G_CLOSED:
        return false;
    }
    return false;
}

bool sc_group_topic_matches(const char *name, char *const *lits, size_t n, const void *res, size_t m)
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

bool sc_group_tp_in(const sc_assign_tp_t *v, size_t n, const char *topic, int32_t part)
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
        if (!sc_group_tp_in(b, nb, a[i].topic, a[i].partition))
            (*out)[(*n_out)++] = a[i];
    return ST_OK;
}

/* ----------------------------------------------------- small utilities */

void sc_group_tps_clear(sc_gtps_t *l)
{
    for (size_t i = 0; i < l->n; i++)
        free((char *)l->tps[i].topic);
    free(l->tps);
    l->tps = NULL;
    l->n = 0;
}

st_err_t sc_group_tps_set(sc_gtps_t *l, const sc_assign_tp_t *tps, size_t n)
{
    sc_gtps_t nl = {calloc(n ? n : 1, sizeof *nl.tps), 0};
    if (nl.tps == NULL)
        return ST_ERR_NOMEM;
    for (; nl.n < n; nl.n++) {
        nl.tps[nl.n].partition = tps[nl.n].partition;
        if ((nl.tps[nl.n].topic = strdup(tps[nl.n].topic)) == NULL) {
            sc_group_tps_clear(&nl);
            return ST_ERR_NOMEM;
        }
    }
    sc_group_tps_clear(l);
    *l = nl;
    return ST_OK;
}

void sc_group_strv_free(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

static int sc_group_strp_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void sc_group_set_str(char **dst, const char *src)
{
    char *s = strdup(src ? src : "");
    if (s == NULL)
        return; /* keep the old value on ENOMEM */
    free(*dst);
    *dst = s;
}

/* Lock held: the one writer of g->state. */
void sc_group_set_state(sc_group_t *g, sc_gstate_t to)
{
    assert(sc_group_edge_ok(g->state, to));
    g->state = to;
    pthread_cond_broadcast(&g->cl->ucond);
    sc_client_wakeup(g->cl);
}

bool sc_group_coord_err(st_err_t e)
{
    return e == ST_ERR_NOT_COORDINATOR || e == ST_ERR_COORDINATOR_NOT_AVAILABLE ||
           e == ST_ERR_NETWORK_EXCEPTION || e == ST_ERR_REQUEST_TIMED_OUT || e == ST_ERR_CLOSED ||
           e == ST_ERR_CONNECTION || e == ST_ERR_TIMEOUT;
}

/* Lock held: pack a request (sc_client_pack takes the lock itself). */
st_err_t sc_group_pack(sc_client_t *cl, Strata__Request *req, nng_msg **out)
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
static st_err_t sc_group_send(sc_group_t *g, sc_broker_t *br, Strata__Request *req, sc_req_cb cb,
                              int timeout_ms)
{
    nng_msg *m;
    st_err_t e = sc_group_pack(g->cl, req, &m);
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
st_err_t sc_group_unpack(st_err_t err, nng_msg *reply, Strata__Response__BodyCase body,
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
bool sc_group_resub(sc_group_t *g)
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
    qsort(v, n, sizeof *v, sc_group_strp_cmp);
    bool same = n == g->n_sub;
    for (size_t i = 0; same && i < n; i++)
        same = strcmp(v[i], g->sub[i]) == 0;
    if (same) {
        sc_group_strv_free(v, n);
        return false;
    }
    sc_group_strv_free(g->sub, g->n_sub);
    g->sub = v;
    g->n_sub = n;
    return true;
}

/* Lock held: ask for a rebalance now, or once the current one is done. */
void sc_group_want_rejoin(sc_group_t *g)
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
        sc_group_set_str(&g->member_id, "");
    g->generation = -1;
    sc_group_tps_clear(&g->pending);
}

static void sc_group_join_failed(sc_group_t *g, st_err_t e, int64_t now)
{
    if (sc_group_coord_err(e)) {
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

static void sc_group_fc_cb(sc_client_t *cl, sc_req_t *rq, st_err_t err, nng_msg *reply)
{
    sc_group_t *g = rq->arg;
    Strata__Response *r;
    err = sc_group_unpack(err, reply, STRATA__RESPONSE__BODY_FIND_COORDINATOR, &r);
    if (err == ST_OK)
        err = (st_err_t)r->find_coordinator->error;
    sc_client_lock(cl);
    g->coord_inflight = false;
    if (err == ST_OK && r->find_coordinator->node_id >= 0) {
        g->coord_id = r->find_coordinator->node_id;
        if (sc_client_broker(cl, g->coord_id) == NULL)
            sc_client_md_want(cl);
    } else {
        g->coord_retry_at = st_mono_ms() + cl->conf.retry_backoff_ms;
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
    if (e == ST_OK &&
        ((tops = calloc(cap + 1, sizeof *tops)) == NULL || (snap = calloc(cap + 1, sizeof *snap)) == NULL))
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

static void sc_group_sync_cb(sc_client_t *cl, sc_req_t *rq, st_err_t err, nng_msg *reply);

static void sc_group_join_cb(sc_client_t *cl, sc_req_t *rq, st_err_t err, nng_msg *reply)
{
    sc_group_t *g = rq->arg;
    Strata__Response *r;
    err = sc_group_unpack(err, reply, STRATA__RESPONSE__BODY_JOIN_GROUP, &r);
    const Strata__JoinGroupResponse *jr = err == ST_OK ? r->join_group : NULL;
    if (err == ST_OK)
        err = (st_err_t)jr->error;
    sc_client_lock(cl);
    int64_t now = st_mono_ms();
    g->req_inflight = false;
    if (g->state != SC_G_JOINING)
        goto out;
    if (err == ST_ERR_MEMBER_ID_REQUIRED) {
        sc_group_set_str(&g->member_id, jr->member_id);
        sc_group_set_state(g, SC_G_NEED_JOIN);
        goto out;
    }
    if (err != ST_OK) {
        sc_group_join_failed(g, err, now);
        goto out;
    }
    sc_group_set_str(&g->member_id, jr->member_id);
    sc_group_set_str(&g->protocol, jr->protocol_name);
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
        e = sc_group_send(g, br, &req, sc_group_sync_cb,
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

static void sc_group_sync_cb(sc_client_t *cl, sc_req_t *rq, st_err_t err, nng_msg *reply)
{
    sc_group_t *g = rq->arg;
    Strata__Response *r;
    err = sc_group_unpack(err, reply, STRATA__RESPONSE__BODY_SYNC_GROUP, &r);
    if (err == ST_OK)
        err = (st_err_t)r->sync_group->error;
    sc_client_lock(cl);
    int64_t now = st_mono_ms();
    g->req_inflight = false;
    if (g->state != SC_G_SYNCING)
        goto out;
    sc_assign_tplist_t l = {0};
    if (err == ST_OK)
        err = sc_assign_assignment_decode(r->sync_group->assignment.data, r->sync_group->assignment.len, &l);
    if (err == ST_OK)
        err = sc_group_tps_set(&g->pending, l.tps, l.n);
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

static void sc_group_hb_cb(sc_client_t *cl, sc_req_t *rq, st_err_t err, nng_msg *reply)
{
    sc_group_t *g = rq->arg;
    Strata__Response *r;
    err = sc_group_unpack(err, reply, STRATA__RESPONSE__BODY_HEARTBEAT, &r);
    if (err == ST_OK)
        err = (st_err_t)r->heartbeat->error;
    sc_client_lock(cl);
    g->hb_inflight = false;
    int64_t now = st_mono_ms();
    bool member = g->state == SC_G_STABLE || g->state == SC_G_ASSIGN || g->state == SC_G_REVOKE;
    if (!member || err == ST_OK)
        goto out;
    if (sc_group_coord_err(err)) {
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
                sc_group_set_str(&g->member_id, "");
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
    e = sc_group_send(g, br, &req, sc_group_join_cb, (int)(g->rebalance_ms + g->cl->conf.request_timeout_ms));
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
    if (sc_group_send(g, br, &req, sc_group_hb_cb, (int)g->cl->conf.request_timeout_ms) == ST_OK)
        g->hb_inflight = true;
}

static void sc_group_next(int64_t *next, int64_t at)
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
            sc_group_next(next, g->coord_retry_at);
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
            sc_group_send(g, any, &req, sc_group_fc_cb, (int)cl->conf.request_timeout_ms) == ST_OK)
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
            sc_group_next(next, g->retry_at);
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
        sc_group_next(next, g->next_hb);
        return;
    default:
        return;
    }
}

bool sc_group_needs_poll(sc_group_t *g)
{
    return g->lost_pending || g->state == SC_G_REVOKE || g->state == SC_G_ASSIGN ||
           (g->need_committed && st_mono_ms() >= g->committed_retry_at);
}

/* App thread: commit, revoke, leave; leaves the state `to`. */
void sc_group_leave(sc_group_t *g, sc_gstate_t to)
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
    sc_group_set_str(&g->member_id, "");
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
        sc_group_coord_call(g->cl, g->group_id, &req, STRATA__RESPONSE__BODY_LEAVE_GROUP, st_mono_ms() + tmo,
                            &r);
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

st_err_t sc_group_new(strata_consumer_t *c, const strata_conf_t *conf, sc_group_t **out, char *err,
                      size_t errlen)
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
                    snprintf(err, errlen, "partition.assignment.strategy: unknown assignor '%s'", name);
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

void sc_group_sub_clear(sc_group_t *g)
{
    sc_group_strv_free(g->lits, g->n_lits);
    g->lits = NULL;
    g->n_lits = 0;
    for (size_t i = 0; i < g->n_res; i++)
        regfree(&g->res[i]);
    free(g->res);
    g->res = NULL;
    g->n_res = 0;
    sc_group_strv_free(g->sub, g->n_sub);
    g->sub = NULL;
    g->n_sub = 0;
}

void sc_group_free(sc_group_t *g)
{
    if (g == NULL)
        return;
    sc_group_sub_clear(g);
    sc_group_tps_clear(&g->owned);
    sc_group_tps_clear(&g->pending);
    for (size_t i = 0; i < g->n_snap; i++)
        free(g->snap[i].name);
    free(g->snap);
    free(g->group_id);
    free(g->instance_id);
    free(g->member_id);
    free(g->protocol);
    free(g);
}
