/*
 * sc_admin_group: consumer-group administration (Kafka's admin client
 * group calls): list the groups of every broker, describe a group, the
 * committed offsets of a group, commit offsets for a group from outside
 * it (reset-offsets), delete a group. Every call is synchronous, bounded
 * by its timeout, and goes to the group's coordinator through
 * sc_group_coord_call() (sc_group_int.h), which follows coordinator moves.
 * Each call is implemented once on the client hub (sc_admin_group_*) and
 * exported as strata_admin_*; the strata_consumer_* group calls of
 * earlier releases are deprecated wrappers over the same functions.
 */
#include <stdlib.h>
#include <string.h>

#include "client/sc_admin.h"
#include "client/sc_assign.h"
#include "client/sc_client.h"
#include "client/sc_group_int.h"

static char *sc_admin_group_dup(const char *s)
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

static strata_err_t sc_admin_group_list(sc_client_t *cl, int timeout_ms, strata_group_listing_t **out,
                                        size_t *n)
{
    if (cl == NULL || out == NULL || n == NULL)
        return STRATA_ERR_INVALID_ARG;
    *out = NULL;
    *n = 0;
    st_err_t e = sc_client_md_refresh(cl, timeout_ms);
    if (e != ST_OK)
        return (strata_err_t)e;
    sc_client_lock(cl);
    size_t nb = 0;
    int32_t *ids = calloc(cl->n_brokers + 1, sizeof *ids);
    for (size_t i = 0; ids && i < cl->n_brokers; i++)
        if (cl->brokers[i]->in_md && cl->brokers[i]->id >= 0)
            ids[nb++] = cl->brokers[i]->id;
    sc_client_unlock(cl);
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
        sc_client_lock(cl);
        sc_broker_t *br = sc_client_broker(cl, ids[b]);
        sc_client_unlock(cl);
        if (br == NULL)
            continue;
        e = sc_client_call(cl, br, &req, timeout_ms, &r);
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
            v[cnt].group_id = sc_admin_group_dup(lgp->group_id);
            v[cnt].state = sc_admin_group_dup(lgp->state);
            v[cnt].protocol_type = sc_admin_group_dup(lgp->protocol_type);
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

static strata_err_t sc_admin_group_describe(sc_client_t *cl, const char *group, int timeout_ms,
                                            strata_group_desc_t **out)
{
    if (cl == NULL || group == NULL || out == NULL)
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
    int64_t deadline = st_mono_ms() + (timeout_ms < 0 ? cl->conf.request_timeout_ms : timeout_ms);
    st_err_t e = sc_group_coord_call(cl, group, &req, STRATA__RESPONSE__BODY_DESCRIBE_GROUPS, deadline, &r);
    sc_broker_t *br = NULL;
    int32_t coord = -1;
    if (e == ST_OK && sc_group_find_coord_sync(cl, group, deadline, &br) == ST_OK)
        coord = br->id;
    strata_group_desc_t *d = e == ST_OK ? calloc(1, sizeof *d) : NULL;
    if (e == ST_OK && d == NULL)
        e = ST_ERR_NOMEM;
    if (e == ST_OK) {
        const Strata__DescribedGroup *g = r->describe_groups->groups[0];
        d->group_id = sc_admin_group_dup(g->group_id);
        d->state = sc_admin_group_dup(g->state);
        d->protocol_type = sc_admin_group_dup(g->protocol_type);
        d->protocol = sc_admin_group_dup(g->protocol);
        d->generation = g->generation_id;
        d->coordinator = coord;
        d->members = calloc(g->n_members ? g->n_members : 1, sizeof *d->members);
        if (d->members == NULL)
            e = ST_ERR_NOMEM;
        for (size_t i = 0; e == ST_OK && i < g->n_members; i++) {
            const Strata__DescribedMember *dm = g->members[i];
            strata_group_member_t *m = &d->members[i];
            d->n_members++;
            m->member_id = sc_admin_group_dup(dm->member_id);
            m->instance_id = sc_admin_group_dup(dm->group_instance_id);
            m->client_id = sc_admin_group_dup(dm->client_id);
            m->client_host = sc_admin_group_dup(dm->client_host);
            sc_assign_tplist_t l = {0};
            if (dm->assignment.len > 0 &&
                sc_assign_assignment_decode(dm->assignment.data, dm->assignment.len, &l) == ST_OK) {
                m->assignment = calloc(l.n ? l.n : 1, sizeof *m->assignment);
                for (size_t k = 0; m->assignment && k < l.n; k++) {
                    m->assignment[k].topic = sc_admin_group_dup(l.tps[k].topic);
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

static strata_err_t sc_admin_group_offsets(sc_client_t *cl, const char *group, int timeout_ms,
                                           strata_commit_t **out, size_t *n)
{
    if (cl == NULL || group == NULL || out == NULL || n == NULL)
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
    st_err_t e =
        sc_group_coord_call(cl, group, &req, STRATA__RESPONSE__BODY_OFFSET_FETCH,
                            st_mono_ms() + (timeout_ms < 0 ? cl->conf.request_timeout_ms : timeout_ms), &r);
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
            v[cnt].topic = sc_admin_group_dup(tr->name);
            v[cnt].metadata = sc_admin_group_dup(pr->metadata);
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

static strata_err_t sc_admin_group_commit(sc_client_t *cl, const char *group, const strata_commit_t *offsets,
                                          size_t n, int timeout_ms)
{
    if (cl == NULL || group == NULL || (n > 0 && offsets == NULL))
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
    st_err_t e = sc_group_commit_build(group, -1, "", "", v, n, &s, &req);
    if (e == ST_OK) {
        e = sc_group_coord_call(cl, group, &req, STRATA__RESPONSE__BODY_OFFSET_COMMIT,
                                st_mono_ms() + (timeout_ms < 0 ? cl->conf.request_timeout_ms : timeout_ms),
                                &r);
        sc_group_cstore_fini(&s);
    }
    if (r)
        strata__response__free_unpacked(r, NULL);
    free(v);
    return (strata_err_t)e;
}

static strata_err_t sc_admin_group_delete(sc_client_t *cl, const char *group, int timeout_ms)
{
    if (cl == NULL || group == NULL)
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
    st_err_t e =
        sc_group_coord_call(cl, group, &req, STRATA__RESPONSE__BODY_DELETE_GROUPS,
                            st_mono_ms() + (timeout_ms < 0 ? cl->conf.request_timeout_ms : timeout_ms), &r);
    if (r)
        strata__response__free_unpacked(r, NULL);
    return (strata_err_t)e;
}

/* ------------------------------------------------------ the admin calls */

strata_err_t strata_admin_list_groups(strata_admin_t *a, int timeout_ms, strata_group_listing_t **out,
                                      size_t *n)
{
    return sc_admin_group_list(a ? &a->cl : NULL, timeout_ms, out, n);
}

strata_err_t strata_admin_describe_group(strata_admin_t *a, const char *group, int timeout_ms,
                                         strata_group_desc_t **out)
{
    return sc_admin_group_describe(a ? &a->cl : NULL, group, timeout_ms, out);
}

strata_err_t strata_admin_list_group_offsets(strata_admin_t *a, const char *group, int timeout_ms,
                                             strata_commit_t **out, size_t *n)
{
    return sc_admin_group_offsets(a ? &a->cl : NULL, group, timeout_ms, out, n);
}

strata_err_t strata_admin_alter_group_offsets(strata_admin_t *a, const char *group,
                                              const strata_commit_t *offsets, size_t n, int timeout_ms)
{
    return sc_admin_group_commit(a ? &a->cl : NULL, group, offsets, n, timeout_ms);
}

strata_err_t strata_admin_delete_group(strata_admin_t *a, const char *group, int timeout_ms)
{
    return sc_admin_group_delete(a ? &a->cl : NULL, group, timeout_ms);
}

/* ------------------------------- deprecated consumer-handle wrappers */

strata_err_t strata_consumer_list_groups(strata_consumer_t *c, int timeout_ms, strata_group_listing_t **out,
                                         size_t *n)
{
    return sc_admin_group_list(c ? &c->cl : NULL, timeout_ms, out, n);
}

strata_err_t strata_consumer_describe_group(strata_consumer_t *c, const char *group, int timeout_ms,
                                            strata_group_desc_t **out)
{
    return sc_admin_group_describe(c ? &c->cl : NULL, group, timeout_ms, out);
}

strata_err_t strata_consumer_group_offsets(strata_consumer_t *c, const char *group, int timeout_ms,
                                           strata_commit_t **out, size_t *n)
{
    return sc_admin_group_offsets(c ? &c->cl : NULL, group, timeout_ms, out, n);
}

strata_err_t strata_consumer_group_commit(strata_consumer_t *c, const char *group,
                                          const strata_commit_t *offsets, size_t n, int timeout_ms)
{
    return sc_admin_group_commit(c ? &c->cl : NULL, group, offsets, n, timeout_ms);
}

strata_err_t strata_consumer_delete_group(strata_consumer_t *c, const char *group, int timeout_ms)
{
    return sc_admin_group_delete(c ? &c->cl : NULL, group, timeout_ms);
}
