/*
 * br_group_admin: the administrative group requests: ListGroups,
 * DescribeGroups, and DeleteGroups (tombstones for the metadata and
 * every offset of an empty group; a br_group_delete collects the results
 * of its appends). Defines the public br_groups_handle_list_groups,
 * _describe_groups and _delete_groups of br_groups.h. Core loop only.
 */
#include "group/br_group_int.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "group/br_group_log.h"
#include "common/st_log.h"

/* ------------------------------------------------------ DeleteGroups results */

void br_group_delete_reply(br_group_delete_t *d)
{
    Strata__DeleteGroupsResponse b = STRATA__DELETE_GROUPS_RESPONSE__INIT;
    b.version = 1;
    b.n_results = d->n;
    b.results = d->res_ptrs;
    Strata__Response resp = STRATA__RESPONSE__INIT;
    resp.body_case = STRATA__RESPONSE__BODY_DELETE_GROUPS;
    resp.delete_groups = &b;
    br_group_reply(d->call, &resp);
    for (size_t i = 0; i < d->n; i++)
        free(d->ids[i]);
    free(d->ids);
    free(d->res);
    free(d->res_ptrs);
    free(d);
}

/* ------------------------------------------------------ List, Describe */

void br_groups_handle_list_groups(br_groups_t *gc, br_call_t *call, const Strata__Request *req)
{
    const Strata__ListGroupsRequest *r = req->list_groups;
    Strata__ListGroupsResponse b = STRATA__LIST_GROUPS_RESPONSE__INIT;
    b.version = 1;
    for (int32_t p = 0; p < gc->cfg.offsets_topic_num_partitions; p++)
        if (gc->parts[p].state == BR_OPART_LOADING)
            b.error = STRATA__ERROR_CODE__COORDINATOR_LOAD_IN_PROGRESS;
    size_t n = gc->groups.n;
    Strata__ListedGroup *lg = calloc(n ? n : 1, sizeof *lg);
    Strata__ListedGroup **lp = calloc(n ? n : 1, sizeof *lp);
    if (!lg || !lp) {
        b.error = STRATA__ERROR_CODE__UNKNOWN_SERVER_ERROR;
        n = 0;
    }
    size_t k = 0;
    st_hmap_iter_t it = ST_HMAP_ITER(&gc->groups);
    for (st_hnode_t *hn; lg && lp && (hn = st_hmap_iter_next(&it));) {
        br_group_t *g = BR_GROUP_OF(hn);
        const char *st = br_group_state_name(g->state);
        bool match = r->n_states_filter == 0;
        for (size_t f = 0; f < r->n_states_filter && !match; f++)
            match = r->states_filter[f] && strcasecmp(r->states_filter[f], st) == 0;
        if (!match || g->state == BR_GS_DEAD)
            continue;
        strata__listed_group__init(&lg[k]);
        lp[k] = &lg[k];
        lg[k].group_id = g->id;
        lg[k].protocol_type = (char *)(g->protocol_type ? g->protocol_type : "");
        lg[k].state = (char *)st;
        k++;
    }
    b.n_groups = k;
    b.groups = lp;
    Strata__Response resp = STRATA__RESPONSE__INIT;
    resp.body_case = STRATA__RESPONSE__BODY_LIST_GROUPS;
    resp.list_groups = &b;
    br_group_reply(call, &resp);
    free(lg);
    free(lp);
}

void br_groups_handle_describe_groups(br_groups_t *gc, br_call_t *call, const Strata__Request *req)
{
    const Strata__DescribeGroupsRequest *r = req->describe_groups;
    size_t n = r->n_groups, nm = 0;
    for (size_t i = 0; i < n; i++) {
        br_group_t *g =
            br_groups_check(gc, r->groups[i], NULL) == ST_OK ? br_groups_find(gc, r->groups[i]) : NULL;
        nm += g ? g->n_members : 0;
    }
    Strata__DescribedGroup *dg = calloc(n ? n : 1, sizeof *dg);
    Strata__DescribedGroup **dp = calloc(n ? n : 1, sizeof *dp);
    Strata__DescribedMember *dm = calloc(nm ? nm : 1, sizeof *dm);
    Strata__DescribedMember **dmp = calloc(nm ? nm : 1, sizeof *dmp);
    Strata__DescribeGroupsResponse b = STRATA__DESCRIBE_GROUPS_RESPONSE__INIT;
    b.version = 1;
    if (dg && dp && dm && dmp) {
        size_t k = 0;
        for (size_t i = 0; i < n; i++) {
            strata__described_group__init(&dg[i]);
            dp[i] = &dg[i];
            dg[i].group_id = (char *)(r->groups[i] ? r->groups[i] : "");
            st_err_t err = br_groups_check(gc, r->groups[i], NULL);
            br_group_t *g = err == ST_OK ? br_groups_find(gc, r->groups[i]) : NULL;
            dg[i].error = (Strata__ErrorCode)err;
            dg[i].state = (char *)br_group_state_name(g ? g->state : BR_GS_DEAD);
            if (!g)
                continue;
            dg[i].protocol_type = (char *)(g->protocol_type ? g->protocol_type : "");
            dg[i].generation_id = g->generation;
            bool stable = g->state == BR_GS_STABLE;
            dg[i].protocol = (char *)(stable && g->protocol ? g->protocol : "");
            dg[i].members = &dmp[k];
            for (size_t j = 0; j < g->n_members; j++) {
                const br_group_member_t *m = g->members[j];
                strata__described_member__init(&dm[k]);
                dmp[k] = &dm[k];
                dm[k].member_id = m->id;
                dm[k].group_instance_id = (char *)(m->instance_id ? m->instance_id : "");
                dm[k].client_id = m->client_id;
                dm[k].client_host = m->client_host;
                const br_group_proto_t *p = stable ? br_group_member_proto(m, g->protocol) : NULL;
                if (p) {
                    dm[k].metadata.data = p->data;
                    dm[k].metadata.len = p->len;
                }
                if (stable) {
                    dm[k].assignment.data = m->assignment;
                    dm[k].assignment.len = m->assignment_len;
                }
                dg[i].n_members++;
                k++;
            }
        }
        b.n_groups = n;
        b.groups = dp;
    }
    Strata__Response resp = STRATA__RESPONSE__INIT;
    resp.body_case = STRATA__RESPONSE__BODY_DESCRIBE_GROUPS;
    resp.describe_groups = &b;
    if (!(dg && dp && dm && dmp)) {
        resp.error = STRATA__ERROR_CODE__UNKNOWN_SERVER_ERROR;
        resp.body_case = STRATA__RESPONSE__BODY__NOT_SET;
    }
    br_group_reply(call, &resp);
    free(dg);
    free(dp);
    free(dm);
    free(dmp);
}

/* ------------------------------------------------------ DeleteGroups */

/* Tombstones for g's metadata and every offset of it into b. */
static st_err_t br_group_add_tombstones(st_batch_builder_t *b, const br_group_t *g, bool meta)
{
    int64_t now = st_wall_ms();
    for (size_t i = 0; i < g->n_offsets; i++) {
        st_err_t err =
            br_group_log_add_offset(b, now, g->id, g->offsets[i].topic, g->offsets[i].partition, NULL);
        if (err != ST_OK)
            return err;
    }
    return meta ? br_group_log_add_group(b, now, g->id, NULL) : ST_OK;
}

void br_groups_handle_delete_groups(br_groups_t *gc, br_call_t *call, const Strata__Request *req)
{
    const Strata__DeleteGroupsRequest *r = req->delete_groups;
    br_group_delete_t *d = calloc(1, sizeof *d);
    size_t n = r->n_groups;
    if (!d || !(d->res = calloc(n ? n : 1, sizeof *d->res)) ||
        !(d->res_ptrs = calloc(n ? n : 1, sizeof *d->res_ptrs)) ||
        !(d->ids = calloc(n ? n : 1, sizeof *d->ids))) {
        if (d) {
            free(d->res);
            free(d->res_ptrs);
            free(d);
        }
        br_call_reply_error(call, ST_ERR_UNKNOWN_SERVER_ERROR, "out of memory");
        return;
    }
    d->call = call;
    d->n = n;
    d->outstanding = 1; /* held by this function until the loop ends */
    for (size_t i = 0; i < n; i++) {
        strata__delete_group_result__init(&d->res[i]);
        d->res_ptrs[i] = &d->res[i];
        d->ids[i] = br_group_strdup(r->groups[i]);
        d->res[i].group_id = d->ids[i] ? d->ids[i] : (char *)"";
        st_err_t err = br_groups_check(gc, r->groups[i], NULL);
        br_group_t *g = err == ST_OK ? br_groups_find(gc, r->groups[i]) : NULL;
        if (err == ST_OK && (!g || g->state == BR_GS_DEAD))
            err = ST_ERR_GROUP_ID_NOT_FOUND;
        else if (err == ST_OK && g->state != BR_GS_EMPTY)
            err = ST_ERR_NON_EMPTY_GROUP;
        br_group_op_t *op = err == ST_OK ? br_group_op_new(BR_GROUP_OP_DELETE, g, NULL) : NULL;
        st_batch_builder_t b;
        st_batch_builder_init(&b, ST_CODEC_NONE);
        if (err == ST_OK && (!op || br_group_add_tombstones(&b, g, true) != ST_OK))
            err = ST_ERR_UNKNOWN_SERVER_ERROR;
        d->res[i].error = (Strata__ErrorCode)err;
        if (err == ST_OK) {
            st_log(ST_LOG_INFO, BR_GTAG, "group %s: deleted", g->id);
            br_group_transition(g, BR_GS_DEAD);
            br_groups_remove_group(gc, g, ST_ERR_COORDINATOR_NOT_AVAILABLE);
            op->del = d;
            op->del_idx = i;
            d->outstanding++;
            br_group_op_write(gc, &b, op);
        } else if (op) {
            br_group_op_free(op);
        }
        st_batch_builder_fini(&b);
    }
    if (--d->outstanding == 0)
        br_group_delete_reply(d);
}
