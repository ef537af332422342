/*
 * sc_group_commit: offsets of a consumer group, client side: the
 * synchronous coordinator calls every group request of the application
 * thread goes through (FindCoordinator, again on a coordinator change),
 * offset commits (manual sync and async, auto commit, the commit before a
 * revocation), committed offsets of a new assignment and
 * strata_consumer_committed(), plus the pure position / lag / reset-offsets
 * arithmetic. Part of sc_group (sc_group_int.h holds the shared state).
 */
#include "client/sc_group.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client/sc_client.h"
#include "client/sc_group_int.h"

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

int64_t sc_group_reset_target(sc_reset_kind_t kind, int64_t arg, int64_t low, int64_t high, int64_t current,
                              int64_t by_time)
{
    int64_t t;
    switch (kind) {
    case SC_RESET_EARLIEST:
        t = low;
        break;
    case SC_RESET_LATEST:
        t = high;
        break;
    case SC_RESET_OFFSET:
        t = arg;
        break;
    case SC_RESET_DATETIME:
        t = by_time < 0 ? high : by_time;
        break;
    case SC_RESET_SHIFT:
        /* nothing committed: shift from the end for a negative shift,
         * from the start otherwise (what a fresh consumer would read) */
        if (current < 0)
            current = arg < 0 ? high : low;
        t = arg < 0 && current < INT64_MIN - arg ? INT64_MIN : current + arg;
        break;
    default:
        t = low;
        break;
    }
    if (t < low)
        t = low;
    if (t > high)
        t = high;
    return t;
}

/* ----------------------------------------------- synchronous requests */

/* App thread: the coordinator of `group` (FindCoordinator, metadata
 * refresh when the broker is not known yet). */
st_err_t sc_group_find_coord_sync(sc_client_t *cl, const char *group, int64_t deadline, sc_broker_t **out)
{
    for (;;) {
        int tmo = (int)(deadline - st_mono_ms());
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
        if (e != ST_OK && !sc_group_coord_err(e) && e != ST_ERR_COORDINATOR_LOAD_IN_PROGRESS)
            return e;
        struct timespec ts = {0, (long)(cl->conf.retry_backoff_ms % 1000) * 1000000L};
        ts.tv_sec = cl->conf.retry_backoff_ms / 1000;
        nanosleep(&ts, NULL);
    }
}

/* The error a group body carries (its top-level code). */
static st_err_t sc_gcommit_body_err(const Strata__Response *r)
{
    switch (r->body_case) {
    case STRATA__RESPONSE__BODY_LEAVE_GROUP:
        return (st_err_t)r->leave_group->error;
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
    case STRATA__RESPONSE__BODY_OFFSET_FETCH:
        return (st_err_t)r->offset_fetch->error;
    case STRATA__RESPONSE__BODY_DESCRIBE_GROUPS:
        return r->describe_groups->n_groups ? (st_err_t)r->describe_groups->groups[0]->error
                                            : ST_ERR_CORRUPT_MESSAGE;
    case STRATA__RESPONSE__BODY_DELETE_GROUPS:
        return r->delete_groups->n_results ? (st_err_t)r->delete_groups->results[0]->error
                                           : ST_ERR_CORRUPT_MESSAGE;
    default:
        return ST_ERR_CORRUPT_MESSAGE;
    }
}

/* App thread: send req to the coordinator of group, again after a
 * coordinator change, until deadline. *out has the body (caller frees). */
st_err_t sc_group_coord_call(sc_client_t *cl, const char *group, Strata__Request *req,
                             Strata__Response__BodyCase body, int64_t deadline, Strata__Response **out)
{
    *out = NULL;
    for (;;) {
        sc_broker_t *br;
        st_err_t e = sc_group_find_coord_sync(cl, group, deadline, &br);
        if (e != ST_OK)
            return e;
        int tmo = (int)(deadline - st_mono_ms());
        if (tmo <= 0)
            return ST_ERR_TIMEOUT;
        Strata__Response *r = NULL;
        e = sc_client_call(cl, br, req, tmo, &r);
        if (e == ST_OK && r->body_case != body)
            e = ST_ERR_CORRUPT_MESSAGE;
        if (e == ST_OK)
            e = sc_gcommit_body_err(r);
        if (e == ST_OK || !(sc_group_coord_err(e) || e == ST_ERR_COORDINATOR_LOAD_IN_PROGRESS) ||
            st_mono_ms() >= deadline) {
            *out = r;
            return e;
        }
        if (r)
            strata__response__free_unpacked(r, NULL);
    }
}

/* ------------------------------------------------------------- commits */

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

void sc_group_cstore_fini(sc_gcstore_t *s)
{
    free(s->ts);
    free(s->tp);
    free(s->ps);
    free(s->pp);
}

st_err_t sc_group_commit_build(const char *group, int32_t gen, const char *member, const char *instance,
                               const sc_gco_t *v, size_t n, sc_gcstore_t *s, Strata__Request *req)
{
    memset(s, 0, sizeof *s);
    s->ts = calloc(n ? n : 1, sizeof *s->ts);
    s->tp = calloc(n ? n : 1, sizeof *s->tp);
    s->ps = calloc(n ? n : 1, sizeof *s->ps);
    s->pp = calloc(n ? n : 1, sizeof *s->pp);
    if (!s->ts || !s->tp || !s->ps || !s->pp) {
        sc_group_cstore_fini(s);
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

static void sc_gcommit_async_cb(sc_client_t *cl, sc_req_t *rq, st_err_t err, nng_msg *reply)
{
    sc_gcommit_t *gc = rq->arg;
    Strata__Response *r;
    err = sc_group_unpack(err, reply, STRATA__RESPONSE__BODY_OFFSET_COMMIT, &r);
    if (err == ST_OK)
        err = sc_gcommit_body_err(r);
    sc_client_lock(cl);
    if (err == ST_OK)
        sc_gcommit_done(gc->c, gc->v, gc->n);
    else if (sc_group_coord_err(err) && gc->c->grp != NULL)
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
        if (only != NULL && !sc_group_tp_in(only, n_only, cp->topic, cp->partition))
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
    st_err_t e = mid ? sc_group_commit_build(g->group_id, gen, mid, g->instance_id, gc->v, gc->n, &s, &req)
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
            e = sc_group_pack(&c->cl, &req, &m);
        sc_req_t *rq =
            e == ST_OK ? sc_req_new(br, sc_gcommit_async_cb, gc, (int)c->cl.conf.request_timeout_ms) : NULL;
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
        e = sc_group_coord_call(&c->cl, g->group_id, &req, STRATA__RESPONSE__BODY_OFFSET_COMMIT, deadline,
                                &r);
        if (e == ST_OK) {
            sc_client_lock(&c->cl);
            sc_gcommit_done(c, gc->v, gc->n);
            sc_client_unlock(&c->cl);
        }
        if (r)
            strata__response__free_unpacked(r, NULL);
    }
    sc_group_cstore_fini(&s);
    free(mid);
    sc_gcommit_free(gc);
    return e;
}

/* App thread: synchronous commit of positions (only: subset or NULL). */
st_err_t sc_group_commit_sync(sc_group_t *g, const sc_assign_tp_t *only, size_t n_only)
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
    return sc_gcommit_send(g->c, gc, false, st_mono_ms() + g->cl->conf.request_timeout_ms);
}

/* App thread: look up committed offsets of partitions in NEED_COMMITTED. */
void sc_group_fetch_committed(sc_group_t *g, int64_t deadline)
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
        int64_t dl = st_mono_ms() + g->cl->conf.request_timeout_ms;
        if (deadline >= 0 && deadline < dl)
            dl = deadline;
        if (dl <= st_mono_ms())
            dl = st_mono_ms() + 1;
        e = sc_group_coord_call(g->cl, g->group_id, &req, STRATA__RESPONSE__BODY_OFFSET_FETCH, dl, &r);
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
        g->committed_retry_at = st_mono_ms() + g->cl->conf.retry_backoff_ms;
        if (sc_group_coord_err(e))
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

/* ---------------------------------------------------------- public API */

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
                                         st_mono_ms() + c->cl.conf.request_timeout_ms);
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
    st_err_t e =
        sc_group_coord_call(&c->cl, c->grp->group_id, &req, STRATA__RESPONSE__BODY_OFFSET_FETCH,
                            st_mono_ms() + (timeout_ms < 0 ? c->cl.conf.request_timeout_ms : timeout_ms), &r);
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
