/*
 * br_groups: the group coordinator itself (see br_groups.h): lifecycle,
 * the group table (one hash map, group id -> br_group), which offsets
 * partitions are served (role changes of __consumer_offsets partitions
 * load or unload their groups, see br_group_int.h), the checks every
 * request makes against them, FindCoordinator and the periodic tick. The
 * other br_groups_handle_* handlers are in br_group_member.c,
 * br_group_offsets.c and br_group_admin.c.
 * Core loop only.
 */
#include "group/br_group_int.h"

#include <stdlib.h>
#include <string.h>

#include "group/br_group_log.h"
#include "partition/br_pm_local.h"
#include "common/st_log.h"

#define BR_GROUPS_INITIAL_BUCKETS 64

/* ------------------------------------------------------ group map */

br_group_t *br_groups_find(const br_groups_t *gc, const char *id)
{
    if (!id)
        return NULL;
    uint64_t h = st_hash_str(ST_HASH_INIT, id);
    for (st_hnode_t *n = st_hmap_first(&gc->groups, h); n; n = st_hmap_next(n, h)) {
        br_group_t *g = BR_GROUP_OF(n);
        if (strcmp(g->id, id) == 0)
            return g;
    }
    return NULL;
}

br_group_t *br_groups_add_group(br_groups_t *gc, const char *id, int32_t opart)
{
    br_group_t *g = calloc(1, sizeof *g);
    if (!g || !(g->id = strdup(id))) {
        free(g);
        return NULL;
    }
    g->gc = gc;
    g->opart = opart;
    g->state = BR_GS_EMPTY;
    g->state_ts = st_wall_ms();
    g->sync_writing_gen = -1;
    ev_timer_init(&g->join_timer, br_group_join_timer_cb, 1.0, 0.0);
    g->join_timer.data = g;
    st_hmap_insert(&gc->groups, &g->hnode, st_hash_str(ST_HASH_INIT, g->id));
    return g;
}

void br_groups_remove_group(br_groups_t *gc, br_group_t *g, st_err_t err)
{
    st_hmap_remove(&gc->groups, &g->hnode);
    br_group_free(g, err);
}

/* ------------------------------------------------------ request checks */

st_err_t br_groups_check(const br_groups_t *gc, const char *group_id, int32_t *opart)
{
    if (!group_id || !*group_id)
        return ST_ERR_INVALID_GROUP_ID;
    int32_t p = br_group_partition_for(group_id, gc->cfg.offsets_topic_num_partitions);
    if (opart)
        *opart = p;
    switch (gc->parts[p].state) {
    case BR_OPART_LOADED:
        return ST_OK;
    case BR_OPART_LOADING:
        return ST_ERR_COORDINATOR_LOAD_IN_PROGRESS;
    case BR_OPART_NONE:
        break;
    }
    return ST_ERR_NOT_COORDINATOR;
}

void br_groups_maybe_forget(br_groups_t *gc, br_group_t *g)
{
    if (g && g->state == BR_GS_EMPTY && g->n_members == 0 && g->n_pending == 0 && g->n_offsets == 0 &&
        !g->has_meta && g->generation == 0)
        br_groups_remove_group(gc, g, ST_ERR_NOT_COORDINATOR);
}

/* ------------------------------------------------------ FindCoordinator */

void br_groups_handle_find_coordinator(br_groups_t *gc, br_call_t *call, const Strata__Request *req)
{
    const Strata__FindCoordinatorRequest *r = req->find_coordinator;
    Strata__FindCoordinatorResponse b = STRATA__FIND_COORDINATOR_RESPONSE__INIT;
    b.version = 1;
    b.node_id = -1;
    char host[256] = "";
    st_err_t err = ST_OK;
    if (r->key_type != STRATA__COORDINATOR_TYPE__COORDINATOR_GROUP) {
        err = ST_ERR_COORDINATOR_NOT_AVAILABLE;
        b.error_message = (char *)"transaction coordinators are not supported";
    } else if (!r->key || !*r->key) {
        err = ST_ERR_INVALID_GROUP_ID;
    } else if (!gc->meta.partition_leader || !gc->meta.broker_url) {
        err = ST_ERR_COORDINATOR_NOT_AVAILABLE;
    } else {
        int32_t p = br_group_partition_for(r->key, gc->cfg.offsets_topic_num_partitions);
        bool exists = false;
        int32_t leader = gc->meta.partition_leader(gc->meta.arg, BR_OFFSETS_TOPIC, p, &exists);
        const char *url = leader >= 0 ? gc->meta.broker_url(gc->meta.arg, leader) : NULL;
        if (!exists) {
            if (gc->meta.ensure_offsets_topic)
                gc->meta.ensure_offsets_topic(gc->meta.arg, gc->cfg.offsets_topic_num_partitions,
                                              gc->cfg.offsets_topic_replication_factor);
            err = ST_ERR_COORDINATOR_NOT_AVAILABLE;
            b.error_message = (char *)"the offsets topic is being created";
        } else if (!url) {
            err = ST_ERR_COORDINATOR_NOT_AVAILABLE;
        } else {
            b.node_id = leader;
            b.url = (char *)url;
            /* host and port from "scheme://host:port" when it has that shape */
            const char *h = strstr(url, "://");
            h = h ? h + 3 : url;
            const char *colon = strrchr(h, ':');
            if (colon && (size_t)(colon - h) < sizeof host) {
                memcpy(host, h, (size_t)(colon - h));
                host[colon - h] = '\0';
                b.host = host;
                b.port = atoi(colon + 1);
            }
        }
    }
    b.error = (Strata__ErrorCode)err;
    Strata__Response resp = STRATA__RESPONSE__INIT;
    resp.body_case = STRATA__RESPONSE__BODY_FIND_COORDINATOR;
    resp.find_coordinator = &b;
    br_group_reply(call, &resp);
}

/* ------------------------------------------------------ load, unload */

typedef struct br_groups_loader {
    br_groups_t *gc;
    int32_t opart;
    bool nomem;
} br_groups_loader_t;

static br_group_t *br_groups_load_group(br_groups_loader_t *l, const char *id)
{
    br_group_t *g = br_groups_find(l->gc, id);
    if (!g && !(g = br_groups_add_group(l->gc, id, l->opart)))
        l->nomem = true;
    return g;
}

static void br_groups_load_offset(void *arg, const char *group, const char *topic, int32_t partition,
                                  const Strata__OffsetValue *v)
{
    br_groups_loader_t *l = arg;
    if (br_group_partition_for(group, l->gc->cfg.offsets_topic_num_partitions) != l->opart)
        return; /* not this partition's group: ignore (never written by us) */
    br_group_t *g = br_groups_load_group(l, group);
    if (!g)
        return;
    if (!v) {
        br_group_offset_t *o = br_group_find_offset(g, topic, partition);
        if (o)
            br_group_offset_remove(g, o);
        return;
    }
    br_group_offset_t o = {.topic = (char *)topic,
                           .partition = partition,
                           .offset = v->offset,
                           .leader_epoch = v->leader_epoch,
                           .metadata = v->metadata,
                           .commit_ts = v->commit_timestamp,
                           .expire_ts = v->expire_timestamp,
                           .log_offset = -1}; /* loaded in log order */
    if (br_group_offset_put(g, &o) != ST_OK)
        l->nomem = true;
}

static void br_groups_load_group_rec(void *arg, const char *group, const Strata__GroupValue *v)
{
    br_groups_loader_t *l = arg;
    if (br_group_partition_for(group, l->gc->cfg.offsets_topic_num_partitions) != l->opart)
        return;
    br_group_t *g = br_groups_load_group(l, group);
    if (!g)
        return;
    br_group_clear_meta(g);
    if (!v)
        return;
    g->has_meta = true;
    g->generation = v->generation;
    g->protocol_type = br_group_nz(v->protocol_type) ? strdup(v->protocol_type) : NULL;
    g->protocol = br_group_nz(v->protocol) ? strdup(v->protocol) : NULL;
    g->leader = br_group_nz(v->leader) ? strdup(v->leader) : NULL;
    g->state_ts = v->state_timestamp > 0 ? v->state_timestamp : st_wall_ms();
    for (size_t i = 0; i < v->n_members; i++) {
        const Strata__GroupMemberValue *mv = v->members[i];
        if (!mv || !br_group_nz(mv->member_id) || mv->session_timeout_ms <= 0)
            continue;
        br_group_member_t *m =
            br_group_member_new(g, mv->member_id, br_group_nz(mv->group_instance_id), mv->client_id,
                                mv->client_host, mv->session_timeout_ms, mv->rebalance_timeout_ms);
        if (m && (m->protos = calloc(1, sizeof *m->protos)) &&
            (m->protos[0].name = br_group_strdup(g->protocol)) &&
            (m->protos[0].data = malloc(mv->subscription.len ? mv->subscription.len : 1)) &&
            (m->assignment = malloc(mv->assignment.len ? mv->assignment.len : 1)) &&
            br_group_add_member(g, m) == ST_OK) {
            m->n_protos = 1;
            m->protos[0].len = mv->subscription.len;
            if (mv->subscription.len)
                memcpy(m->protos[0].data, mv->subscription.data, mv->subscription.len);
            m->assignment_len = mv->assignment.len;
            if (mv->assignment.len)
                memcpy(m->assignment, mv->assignment.data, mv->assignment.len);
        } else {
            if (m) {
                m->n_protos = m->protos ? 1 : 0;
                br_group_member_free(m);
            }
            l->nomem = true;
        }
    }
}

static void br_groups_unload(br_groups_t *gc, int32_t p)
{
    br_groups_opart_t *op = &gc->parts[p];
    if (op->load_on) {
        ev_timer_stop(gc->loop, &op->load);
        op->load_on = false;
    }
    size_t n = 0;
    st_hmap_iter_t it = ST_HMAP_ITER(&gc->groups);
    for (st_hnode_t *hn; (hn = st_hmap_iter_next(&it));) {
        br_group_t *g = BR_GROUP_OF(hn);
        if (g->opart != p)
            continue;
        st_hmap_remove(&gc->groups, &g->hnode);
        br_group_free(g, ST_ERR_NOT_COORDINATOR);
        n++;
    }
    if (op->state != BR_OPART_NONE && n > 0)
        st_log(ST_LOG_INFO, BR_GTAG, "%s-%d: unloaded %zu group(s)", BR_OFFSETS_TOPIC, p, n);
    op->state = BR_OPART_NONE;
    op->incarnation++;
}

static void br_groups_load(br_groups_t *gc, int32_t p)
{
    br_groups_opart_t *op = &gc->parts[p];
    br_groups_loader_t l = {gc, p, false};
    br_group_log_visitor_t v = {br_groups_load_offset, br_groups_load_group_rec, &l};
    br_group_log_stats_t st;
    br_pm_part_info_t info;
    if (br_pm_local_info(gc->pm, BR_OFFSETS_TOPIC, p, &info) != ST_OK || info.role != BR_ROLE_LEADER) {
        br_groups_unload(gc, p);
        return;
    }
    /* to the log end, not the HW: a new leader's log is the truth, and
     * its HW may still lag records an earlier leader acknowledged */
    st_err_t err = br_group_log_load(gc->pm, p, info.log_end, &v, &st);
    if (err == ST_OK && l.nomem)
        err = ST_ERR_NOMEM;
    size_t n = 0;
    st_hmap_iter_t it = ST_HMAP_ITER(&gc->groups);
    for (st_hnode_t *hn; (hn = st_hmap_iter_next(&it));) {
        br_group_t *g = BR_GROUP_OF(hn);
        if (g->opart == p) {
            if (g->n_members > 0) {
                g->state = BR_GS_STABLE; /* initial state set by the load */
                for (size_t k = 0; k < g->n_members; k++)
                    br_group_member_touch(g->members[k]);
                n++;
            } else if (!g->has_meta && g->n_offsets == 0) {
                br_groups_remove_group(gc, g, ST_ERR_NOT_COORDINATOR);
            } else {
                g->state = BR_GS_EMPTY;
                n++;
            }
        }
    }
    if (err != ST_OK) {
        st_log(ST_LOG_ERROR, BR_GTAG, "%s-%d: loading groups failed: %s; retrying", BR_OFFSETS_TOPIC, p,
               st_err_name(err));
        br_groups_unload(gc, p);
        op->state = BR_OPART_LOADING;
        ev_timer_set(&op->load, 1.0, 0.0);
        ev_timer_start(gc->loop, &op->load);
        op->load_on = true;
        return;
    }
    op->state = BR_OPART_LOADED;
    st_log(ST_LOG_INFO, BR_GTAG, "%s-%d: loaded %zu group(s) from %lld record(s)", BR_OFFSETS_TOPIC, p, n,
           (long long)st.records);
}

static void br_groups_load_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
    (void)loop;
    (void)revents;
    br_groups_opart_t *op = t->data;
    op->load_on = false;
    if (op->state == BR_OPART_LOADING)
        br_groups_load(op->gc, op->partition);
}

static void br_groups_role_fn(void *arg, const char *topic, int32_t partition, br_role_t old_role,
                              br_role_t new_role, int32_t leader_epoch)
{
    (void)old_role;
    (void)leader_epoch;
    br_groups_t *gc = arg;
    if (strcmp(topic, BR_OFFSETS_TOPIC) != 0 || partition < 0 ||
        partition >= gc->cfg.offsets_topic_num_partitions)
        return;
    br_groups_opart_t *op = &gc->parts[partition];
    if (new_role == BR_ROLE_LEADER) {
        if (op->state != BR_OPART_NONE)
            return;                   /* same data, new epoch: stay loaded */
        op->state = BR_OPART_LOADING; /* deferred: never read the log inside apply_state */
        ev_timer_set(&op->load, 0.0, 0.0);
        ev_timer_start(gc->loop, &op->load);
        op->load_on = true;
    } else if (op->state != BR_OPART_NONE) {
        br_groups_unload(gc, partition);
    }
}

void br_groups_partition_led(br_groups_t *gc)
{
    for (int32_t p = 0; p < gc->cfg.offsets_topic_num_partitions; p++) {
        br_pm_part_info_t info;
        bool led =
            br_pm_local_info(gc->pm, BR_OFFSETS_TOPIC, p, &info) == ST_OK && info.role == BR_ROLE_LEADER;
        br_groups_role_fn(gc, BR_OFFSETS_TOPIC, p, BR_ROLE_NONE, led ? BR_ROLE_LEADER : BR_ROLE_NONE,
                          led ? info.leader_epoch : -1);
    }
}

/* ------------------------------------------------------ lifecycle */

br_groups_t *br_groups_new(struct ev_loop *loop, br_pm_t *pm, int32_t broker_id, const br_group_config_t *cfg,
                           const br_group_meta_t *meta)
{
    if (!loop || !pm || !cfg || cfg->offsets_topic_num_partitions <= 0 ||
        cfg->group_min_session_timeout_ms > cfg->group_max_session_timeout_ms)
        return NULL;
    br_groups_t *gc = calloc(1, sizeof *gc);
    if (!gc)
        return NULL;
    gc->loop = loop;
    gc->pm = pm;
    gc->broker_id = broker_id;
    gc->cfg = *cfg;
    if (meta)
        gc->meta = *meta;
    gc->parts = calloc((size_t)cfg->offsets_topic_num_partitions, sizeof *gc->parts);
    if (!gc->parts || st_hmap_init(&gc->groups, BR_GROUPS_INITIAL_BUCKETS) != ST_OK)
        goto fail;
    for (int32_t p = 0; p < cfg->offsets_topic_num_partitions; p++) {
        gc->parts[p].gc = gc;
        gc->parts[p].partition = p;
        ev_timer_init(&gc->parts[p].load, br_groups_load_cb, 0.0, 0.0);
        gc->parts[p].load.data = &gc->parts[p];
    }
    if (br_pm_add_role_fn(pm, br_groups_role_fn, gc) != ST_OK)
        goto fail;
    gc->last_retention_ms = st_wall_ms();
    br_groups_partition_led(gc);
    return gc;
fail:
    free(gc->parts);
    st_hmap_fini(&gc->groups);
    free(gc);
    return NULL;
}

void br_groups_free(br_groups_t *gc)
{
    if (!gc)
        return;
    br_pm_remove_role_fn(gc->pm, br_groups_role_fn, gc);
    /* appends still in flight: answer their calls, orphan them (the
     * partition manager completes and frees them later) */
    for (br_group_op_t *op = gc->ops; op; op = op->next) {
        op->gc = NULL;
        switch (op->kind) {
        case BR_GROUP_OP_COMMIT:
            for (size_t i = 0; i < op->commit->n_items; i++)
                if (op->commit->items[i].write)
                    op->commit->items[i].err = ST_ERR_NOT_COORDINATOR;
            br_group_commit_reply(op->call, op->commit, ST_OK);
            break;
        case BR_GROUP_OP_STATIC:
            br_group_reply_join(op->call, ST_ERR_NOT_COORDINATOR, op->new_id);
            break;
        case BR_GROUP_OP_DELETE:
            op->del->res[op->del_idx].error = STRATA__ERROR_CODE__NOT_COORDINATOR;
            if (--op->del->outstanding == 0)
                br_group_delete_reply(op->del);
            break;
        case BR_GROUP_OP_FIRE:
        case BR_GROUP_OP_SYNC:
            break; /* no call of its own (parked syncs go with their group) */
        }
    }
    for (int32_t p = 0; p < gc->cfg.offsets_topic_num_partitions; p++)
        br_groups_unload(gc, p);
    free(gc->parts);
    st_hmap_fini(&gc->groups);
    free(gc);
}

/* ------------------------------------------------------ tick */

void br_groups_tick(br_groups_t *gc, int64_t now_ms)
{
    if (!gc)
        return;
    if (now_ms - gc->last_retention_ms >= gc->cfg.offsets_retention_check_interval_ms ||
        now_ms < gc->last_retention_ms) {
        gc->last_retention_ms = now_ms;
        br_group_offsets_expire(gc, now_ms);
    }
}

/* ------------------------------------------------------ introspection */

bool br_groups_group_info(const br_groups_t *gc, const char *group_id, br_group_state_t *state,
                          int32_t *generation, int *n_members)
{
    const br_group_t *g = br_groups_find(gc, group_id);
    if (!g)
        return false;
    if (state)
        *state = g->state;
    if (generation)
        *generation = g->generation;
    if (n_members)
        *n_members = (int)g->n_members;
    return true;
}

void br_groups_foreach_offset(const br_groups_t *gc, br_groups_offset_fn fn, void *arg)
{
    if (!gc || !fn)
        return;
    st_hmap_iter_t it = ST_HMAP_ITER(&gc->groups);
    for (st_hnode_t *hn; (hn = st_hmap_iter_next(&it));) {
        const br_group_t *g = ST_CONTAINER_OF(hn, br_group_t, hnode);
        if (g->opart < 0 || g->opart >= gc->cfg.offsets_topic_num_partitions ||
            gc->parts[g->opart].state != BR_OPART_LOADED)
            continue;
        for (size_t i = 0; i < g->n_offsets; i++)
            fn(arg, g->id, g->offsets[i].topic, g->offsets[i].partition, g->offsets[i].offset);
    }
}
