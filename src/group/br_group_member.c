/*
 * br_group_member: the membership requests of the group coordinator:
 * JoinGroup (new, pending, known and static members), SyncGroup (the
 * leader's assignment is stored, then handed out), Heartbeat and
 * LeaveGroup; they drive the state machine of br_group.c. Defines the
 * public br_groups_handle_join_group, _sync_group, _heartbeat and
 * _leave_group of br_groups.h. Core loop only.
 */
#include "group/br_group_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uuid/uuid.h>

#include "common/st_log.h"

/* ------------------------------------------------------ JoinGroup */

static st_err_t br_group_member_set_protocols(br_group_member_t *m, const Strata__JoinGroupRequest *r)
{
    br_group_proto_t *p;
    size_t n;
    st_err_t err = br_group_proto_copy(r->protocols, r->n_protocols, &p, &n);
    if (err != ST_OK)
        return err;
    br_group_proto_free(m->protos, m->n_protos);
    m->protos = p;
    m->n_protos = n;
    m->session_timeout_ms = r->session_timeout_ms;
    m->rebalance_timeout_ms = r->rebalance_timeout_ms > 0 ? r->rebalance_timeout_ms : r->session_timeout_ms;
    return ST_OK;
}

/* Add a new member (its first real join) and rebalance. */
static void br_group_join_new(br_group_t *g, br_call_t *call, const Strata__Request *env,
                              const Strata__JoinGroupRequest *r, const char *member_id)
{
    const char *instance = br_group_nz(r->group_instance_id);
    br_group_member_t *m =
        br_group_member_new(g, member_id, instance, env->client_id, call ? br_call_peer(call) : "",
                            r->session_timeout_ms, r->rebalance_timeout_ms);
    if (!m || br_group_member_set_protocols(m, r) != ST_OK || br_group_add_member(g, m) != ST_OK) {
        if (m)
            br_group_member_free(m);
        br_group_reply_join(call, ST_ERR_UNKNOWN_SERVER_ERROR, member_id);
        return;
    }
    if (g->n_members == 1 || !g->protocol_type) {
        free(g->protocol_type);
        g->protocol_type = br_group_strdup(r->protocol_type);
    }
    ssize_t pi = br_group_pending_idx(g, member_id);
    if (pi >= 0)
        br_group_drop_pending(g, (size_t)pi);
    m->join_call = call;
    br_group_member_touch(m);
    if (g->state == BR_GS_PREPARING_REBALANCE && g->initial_until) {
        /* a new member during the initial delay extends it */
        int64_t now = st_wall_ms(), d = g->gc->cfg.group_initial_rebalance_delay_ms;
        int64_t until = now + d < g->initial_limit ? now + d : g->initial_limit;
        if (until > g->initial_until)
            g->initial_until = until;
    }
    br_group_prepare_rebalance(g, "a new member joined");
    br_group_try_complete_join(g);
}

/* A static member rejoins with an empty member id: it takes over its old
 * member id's place (and assignment) under new_id. */
static void br_group_join_static_replace(br_group_t *g, br_group_member_t *m, br_call_t *call,
                                         const Strata__Request *env, const Strata__JoinGroupRequest *r,
                                         const char *new_id)
{
    char *old_id = m->id, *nid = strdup(new_id);
    if (!nid) {
        br_group_reply_join(call, ST_ERR_UNKNOWN_SERVER_ERROR, "");
        return;
    }
    if (m->join_call)
        br_group_reply_join(m->join_call, ST_ERR_FENCED_INSTANCE_ID, old_id);
    if (m->sync_call)
        br_group_reply_sync(m->sync_call, ST_ERR_FENCED_INSTANCE_ID, NULL, NULL, 0);
    m->join_call = m->sync_call = NULL;
    m->id = nid;
    bool was_leader = g->leader && strcmp(g->leader, old_id) == 0;
    if (was_leader) {
        free(g->leader);
        g->leader = strdup(nid);
    }
    free(m->client_id);
    m->client_id = br_group_strdup(env->client_id);
    bool same = br_group_proto_same(m, r->protocols, r->n_protocols);
    m->session_timeout_ms = r->session_timeout_ms;
    br_group_member_touch(m);
    st_log(ST_LOG_INFO, BR_GTAG, "group %s: static member %s replaced %s by %s", g->id, m->instance_id,
           old_id, nid);
    if (g->state == BR_GS_STABLE && same) {
        /* persist the new id; no rebalance, no new generation */
        br_group_op_t *op = br_group_op_new(BR_GROUP_OP_STATIC, g, call);
        st_batch_builder_t b;
        st_batch_builder_init(&b, ST_CODEC_NONE);
        if (op && (op->old_id = strdup(old_id)) && (op->new_id = strdup(nid)) &&
            br_group_add_meta(&b, g, NULL) == ST_OK) {
            br_group_op_write(g->gc, &b, op);
        } else {
            if (op)
                br_group_op_free(op);
            br_group_reply_join(call, ST_ERR_UNKNOWN_SERVER_ERROR, nid);
        }
        st_batch_builder_fini(&b);
        free(old_id);
        return;
    }
    free(old_id);
    if (br_group_member_set_protocols(m, r) != ST_OK) {
        br_group_reply_join(call, ST_ERR_UNKNOWN_SERVER_ERROR, nid);
        return;
    }
    m->join_call = call;
    br_group_prepare_rebalance(g, "a static member rejoined with new protocols");
    br_group_try_complete_join(g);
}

void br_group_op_static_done(br_group_op_t *op, st_err_t err)
{
    br_group_t *g = br_group_op_group(op);
    br_group_member_t *m = g ? br_group_find_member(g, op->new_id) : NULL;
    if (!m) {
        br_group_reply_join(op->call, err != ST_OK ? err : ST_ERR_NOT_COORDINATOR, op->new_id);
        return;
    }
    if (err != ST_OK) { /* revert to the old id, as Kafka does */
        char *old = strdup(op->old_id);
        if (old) {
            if (g->leader && strcmp(g->leader, m->id) == 0) {
                free(g->leader);
                g->leader = strdup(old);
            }
            free(m->id);
            m->id = old;
        }
        br_group_reply_join(op->call, err, op->new_id);
        return;
    }
    if (g->state == BR_GS_STABLE && g->generation == op->generation)
        br_group_reply_join_current(g, m, op->call, true);
    else
        br_group_reply_join(op->call, ST_ERR_REBALANCE_IN_PROGRESS, m->id);
}

void br_groups_handle_join_group(br_groups_t *gc, br_call_t *call, const Strata__Request *req)
{
    const Strata__JoinGroupRequest *r = req->join_group;
    int32_t opart;
    const char *member_id = r->member_id ? r->member_id : "";
    st_err_t err = br_groups_check(gc, r->group_id, &opart);
    if (err != ST_OK) {
        br_group_reply_join(call, err, member_id);
        return;
    }
    if (r->session_timeout_ms < gc->cfg.group_min_session_timeout_ms ||
        r->session_timeout_ms > gc->cfg.group_max_session_timeout_ms) {
        br_group_reply_join(call, ST_ERR_INVALID_SESSION_TIMEOUT, member_id);
        return;
    }
    br_group_t *g = br_groups_find(gc, r->group_id);
    if (!g) {
        if (*member_id) {
            br_group_reply_join(call, ST_ERR_UNKNOWN_MEMBER_ID, member_id);
            return;
        }
        if (!(g = br_groups_add_group(gc, r->group_id, opart))) {
            br_group_reply_join(call, ST_ERR_UNKNOWN_SERVER_ERROR, member_id);
            return;
        }
    }
    if (g->state == BR_GS_DEAD) {
        br_group_reply_join(call, ST_ERR_COORDINATOR_NOT_AVAILABLE, member_id);
        return;
    }
    const char *instance = br_group_nz(r->group_instance_id);
    if (!*member_id) {
        if (!br_group_supports(g, r->protocol_type, r->protocols, r->n_protocols, NULL)) {
            br_group_reply_join(call, ST_ERR_INCONSISTENT_GROUP_PROTOCOL, member_id);
            br_groups_maybe_forget(gc, g);
            return;
        }
        uuid_t u;
        char us[37], id[512];
        uuid_generate_random(u);
        uuid_unparse_lower(u, us);
        snprintf(id, sizeof id, "%.400s-%s", instance ? instance : (req->client_id ? req->client_id : ""),
                 us);
        br_group_member_t *old = br_group_find_instance(g, instance);
        if (old) {
            br_group_join_static_replace(g, old, call, req, r, id);
        } else if (instance) {
            br_group_join_new(g, call, req, r, id); /* static: no MEMBER_ID_REQUIRED */
        } else {
            br_group_pending_t *p = calloc(1, sizeof *p);
            br_group_pending_t **n = p ? realloc(g->pending, (g->n_pending + 1) * sizeof *n) : NULL;
            if (n)
                g->pending = n;
            if (!p || !n || !(p->id = strdup(id))) {
                free(p);
                br_group_reply_join(call, ST_ERR_UNKNOWN_SERVER_ERROR, member_id);
                br_groups_maybe_forget(gc, g);
                return;
            }
            p->group = g;
            ev_timer_init(&p->timer, br_group_pending_cb, (double)r->session_timeout_ms / 1000.0, 0.0);
            p->timer.data = p;
            ev_timer_start(gc->loop, &p->timer);
            g->pending[g->n_pending++] = p;
            br_group_reply_join(call, ST_ERR_MEMBER_ID_REQUIRED, id);
        }
        return;
    }
    /* a known (or pending) member id */
    if (br_group_pending_idx(g, member_id) >= 0) {
        if (!br_group_supports(g, r->protocol_type, r->protocols, r->n_protocols, NULL)) {
            br_group_reply_join(call, ST_ERR_INCONSISTENT_GROUP_PROTOCOL, member_id);
            return;
        }
        br_group_join_new(g, call, req, r, member_id);
        return;
    }
    br_group_member_t *m = br_group_find_member(g, member_id);
    br_group_member_t *mi = br_group_find_instance(g, instance);
    if (instance && mi && mi != m) {
        br_group_reply_join(call, ST_ERR_FENCED_INSTANCE_ID, member_id);
        return;
    }
    if (!m || g->state == BR_GS_EMPTY) {
        br_group_reply_join(call, ST_ERR_UNKNOWN_MEMBER_ID, member_id);
        return;
    }
    if (!br_group_supports(g, r->protocol_type, r->protocols, r->n_protocols, m)) {
        br_group_reply_join(call, ST_ERR_INCONSISTENT_GROUP_PROTOCOL, member_id);
        return;
    }
    bool same = br_group_proto_same(m, r->protocols, r->n_protocols);
    bool leader = g->leader && strcmp(g->leader, m->id) == 0;
    br_group_member_touch(m);
    if ((g->state == BR_GS_COMPLETING_REBALANCE && same) || (g->state == BR_GS_STABLE && same && !leader)) {
        br_group_reply_join_current(g, m, call, false);
        return;
    }
    if (br_group_member_set_protocols(m, r) != ST_OK) {
        br_group_reply_join(call, ST_ERR_UNKNOWN_SERVER_ERROR, member_id);
        return;
    }
    if (m->join_call) /* a duplicate join: the newer one waits */
        br_group_reply_join(m->join_call, ST_ERR_REBALANCE_IN_PROGRESS, m->id);
    m->join_call = call;
    br_group_prepare_rebalance(g, leader ? "the leader rejoined" : "a member changed protocols");
    br_group_try_complete_join(g);
}

/* ------------------------------------------------------ SyncGroup */

void br_group_op_sync_done(br_group_op_t *op, st_err_t err)
{
    br_group_t *g = br_group_op_group(op);
    if (!g || g->state != BR_GS_COMPLETING_REBALANCE || g->generation != op->generation)
        return; /* parked syncs were answered when the group moved on */
    g->sync_writing_gen = -1;
    if (err != ST_OK) {
        br_group_reset_assignments(g, err);
        br_group_prepare_rebalance(g, "storing the assignment failed");
        br_group_try_complete_join(g);
        return;
    }
    for (size_t i = 0; i < g->n_members; i++) {
        br_group_member_t *m = g->members[i];
        free(m->assignment);
        m->assignment = NULL;
        m->assignment_len = 0;
        for (size_t k = 0; k < op->n_a; k++) {
            if (strcmp(op->a_ids[k], m->id) == 0) {
                m->assignment = op->a_data[k];
                m->assignment_len = op->a_len[k];
                op->a_data[k] = NULL;
                op->a_len[k] = 0;
            }
        }
    }
    br_group_transition(g, BR_GS_STABLE);
    for (size_t i = 0; i < g->n_members; i++) {
        br_group_member_t *m = g->members[i];
        if (m->sync_call) {
            br_call_t *c = m->sync_call;
            m->sync_call = NULL;
            br_group_reply_sync(c, ST_OK, g, m->assignment, m->assignment_len);
        }
        br_group_member_touch(m);
    }
}

/* The leader's assignment: keep the entries naming current members. */
static st_err_t br_group_op_take_assignment(br_group_op_t *op, const br_group_t *g,
                                            const Strata__SyncGroupRequest *r)
{
    size_t n = r->n_assignments;
    op->a_ids = calloc(n ? n : 1, sizeof *op->a_ids);
    op->a_data = calloc(n ? n : 1, sizeof *op->a_data);
    op->a_len = calloc(n ? n : 1, sizeof *op->a_len);
    if (!op->a_ids || !op->a_data || !op->a_len)
        return ST_ERR_NOMEM;
    for (size_t i = 0; i < n; i++) {
        const Strata__SyncGroupAssignment *a = r->assignments[i];
        if (!a || !a->member_id || !br_group_find_member(g, a->member_id))
            continue;
        size_t k = op->n_a;
        op->a_ids[k] = strdup(a->member_id);
        op->a_data[k] = malloc(a->assignment.len ? a->assignment.len : 1);
        if (!op->a_ids[k] || !op->a_data[k]) {
            free(op->a_ids[k]);
            free(op->a_data[k]);
            return ST_ERR_NOMEM;
        }
        if (a->assignment.len)
            memcpy(op->a_data[k], a->assignment.data, a->assignment.len);
        op->a_len[k] = a->assignment.len;
        op->n_a++;
    }
    return ST_OK;
}

st_err_t br_group_check_member(const br_group_t *g, const char *member_id, const char *instance,
                               int32_t generation, br_group_member_t **out)
{
    br_group_member_t *mi = br_group_find_instance(g, br_group_nz(instance));
    if (mi && !br_group_streq(mi->id, member_id))
        return ST_ERR_FENCED_INSTANCE_ID;
    br_group_member_t *m = br_group_find_member(g, member_id);
    if (!m)
        return ST_ERR_UNKNOWN_MEMBER_ID;
    if (generation != g->generation)
        return ST_ERR_ILLEGAL_GENERATION;
    *out = m;
    return ST_OK;
}

/* The group and member a Sync or Heartbeat names, checked: coordinator
 * for the group, group known and alive, member of this generation. */
static st_err_t br_group_member_lookup(br_groups_t *gc, const char *group_id, const char *member_id,
                                       const char *instance_id, int32_t generation, br_group_t **gp,
                                       br_group_member_t **mp)
{
    *mp = NULL;
    st_err_t err = br_groups_check(gc, group_id, NULL);
    br_group_t *g = *gp = err == ST_OK ? br_groups_find(gc, group_id) : NULL;
    if (err == ST_OK && !g)
        err = ST_ERR_UNKNOWN_MEMBER_ID;
    else if (err == ST_OK && g->state == BR_GS_DEAD)
        err = ST_ERR_COORDINATOR_NOT_AVAILABLE;
    if (err == ST_OK)
        err = br_group_check_member(g, member_id, instance_id, generation, mp);
    return err;
}

void br_groups_handle_sync_group(br_groups_t *gc, br_call_t *call, const Strata__Request *req)
{
    const Strata__SyncGroupRequest *r = req->sync_group;
    br_group_t *g;
    br_group_member_t *m;
    st_err_t err =
        br_group_member_lookup(gc, r->group_id, r->member_id, r->group_instance_id, r->generation_id, &g, &m);
    if (err == ST_OK &&
        ((br_group_nz(r->protocol_type) && !br_group_streq(r->protocol_type, g->protocol_type)) ||
         (br_group_nz(r->protocol_name) && !br_group_streq(r->protocol_name, g->protocol))))
        err = ST_ERR_INCONSISTENT_GROUP_PROTOCOL;
    if (err == ST_OK && g->state == BR_GS_EMPTY)
        err = ST_ERR_UNKNOWN_MEMBER_ID;
    if (err == ST_OK && g->state == BR_GS_PREPARING_REBALANCE)
        err = ST_ERR_REBALANCE_IN_PROGRESS;
    if (err != ST_OK) {
        br_group_reply_sync(call, err, NULL, NULL, 0);
        return;
    }
    br_group_member_touch(m);
    if (g->state == BR_GS_STABLE) {
        br_group_reply_sync(call, ST_OK, g, m->assignment, m->assignment_len);
        return;
    }
    /* CompletingRebalance: wait for the leader's assignment to be stored */
    if (m->sync_call)
        br_group_reply_sync(m->sync_call, ST_ERR_REBALANCE_IN_PROGRESS, NULL, NULL, 0);
    m->sync_call = call;
    if (!g->leader || strcmp(g->leader, m->id) != 0 || g->sync_writing_gen == g->generation)
        return;
    br_group_op_t *op = br_group_op_new(BR_GROUP_OP_SYNC, g, NULL);
    st_batch_builder_t b;
    st_batch_builder_init(&b, ST_CODEC_NONE);
    if (!op || br_group_op_take_assignment(op, g, r) != ST_OK || br_group_add_meta(&b, g, op) != ST_OK) {
        if (op)
            br_group_op_free(op);
        st_batch_builder_fini(&b);
        br_group_reset_assignments(g, ST_ERR_UNKNOWN_SERVER_ERROR);
        br_group_prepare_rebalance(g, "out of memory storing the assignment");
        return;
    }
    g->sync_writing_gen = g->generation;
    br_group_op_write(gc, &b, op);
    st_batch_builder_fini(&b);
}

/* ------------------------------------------------------ Heartbeat, Leave */

void br_groups_handle_heartbeat(br_groups_t *gc, br_call_t *call, const Strata__Request *req)
{
    const Strata__HeartbeatRequest *r = req->heartbeat;
    br_group_t *g;
    br_group_member_t *m;
    st_err_t err =
        br_group_member_lookup(gc, r->group_id, r->member_id, r->group_instance_id, r->generation_id, &g, &m);
    if (err == ST_OK && g->state == BR_GS_EMPTY)
        err = ST_ERR_UNKNOWN_MEMBER_ID;
    if (err == ST_OK) {
        br_group_member_touch(m);
        if (g->state == BR_GS_PREPARING_REBALANCE)
            err = ST_ERR_REBALANCE_IN_PROGRESS;
    }
    br_group_reply_heartbeat(call, err);
}

void br_groups_handle_leave_group(br_groups_t *gc, br_call_t *call, const Strata__Request *req)
{
    const Strata__LeaveGroupRequest *r = req->leave_group;
    size_t n = r->n_members;
    Strata__LeaveGroupMemberResult *res = calloc(n ? n : 1, sizeof *res);
    Strata__LeaveGroupMemberResult **rp = calloc(n ? n : 1, sizeof *rp);
    Strata__LeaveGroupResponse b = STRATA__LEAVE_GROUP_RESPONSE__INIT;
    b.version = 1;
    if (!res || !rp) {
        b.error = STRATA__ERROR_CODE__UNKNOWN_SERVER_ERROR;
        n = 0;
    }
    st_err_t err = br_groups_check(gc, r->group_id, NULL);
    br_group_t *g = err == ST_OK ? br_groups_find(gc, r->group_id) : NULL;
    if (err == ST_OK && g && g->state == BR_GS_DEAD)
        err = ST_ERR_COORDINATOR_NOT_AVAILABLE;
    if (err != ST_OK)
        b.error = (Strata__ErrorCode)err;
    bool changed = false;
    for (size_t i = 0; i < n; i++) {
        const Strata__LeavingMember *lm = r->members[i];
        strata__leave_group_member_result__init(&res[i]);
        rp[i] = &res[i];
        res[i].member_id = (char *)(lm && lm->member_id ? lm->member_id : "");
        res[i].group_instance_id = (char *)(lm && lm->group_instance_id ? lm->group_instance_id : "");
        if (err != ST_OK) {
            res[i].error = (Strata__ErrorCode)err;
            continue;
        }
        const char *mid = br_group_nz(res[i].member_id), *inst = br_group_nz(res[i].group_instance_id);
        st_err_t e = ST_OK;
        br_group_member_t *m = NULL;
        ssize_t pi = g && mid ? br_group_pending_idx(g, mid) : -1;
        if (!g) {
            e = ST_ERR_UNKNOWN_MEMBER_ID;
        } else if (pi >= 0 && !inst) {
            br_group_drop_pending(g, (size_t)pi);
            changed = true;
        } else if (inst) {
            m = br_group_find_instance(g, inst);
            if (!m)
                e = ST_ERR_UNKNOWN_MEMBER_ID;
            else if (mid && strcmp(mid, m->id) != 0)
                e = ST_ERR_FENCED_INSTANCE_ID;
        } else if (!(m = br_group_find_member(g, mid))) {
            e = ST_ERR_UNKNOWN_MEMBER_ID;
        }
        if (e == ST_OK && m) {
            st_log(ST_LOG_INFO, BR_GTAG, "group %s: member %s left%s%s", g->id, m->id,
                   lm->reason && *lm->reason ? ": " : "", lm->reason ? lm->reason : "");
            br_group_drop_member(g, m, ST_ERR_UNKNOWN_MEMBER_ID);
            changed = true;
        }
        res[i].error = (Strata__ErrorCode)e;
    }
    if (changed)
        br_group_members_changed(g, "a member left");
    b.n_members = n;
    b.members = rp;
    Strata__Response resp = STRATA__RESPONSE__INIT;
    resp.body_case = STRATA__RESPONSE__BODY_LEAVE_GROUP;
    resp.leave_group = &b;
    br_group_reply(call, &resp);
    free(res);
    free(rp);
}
