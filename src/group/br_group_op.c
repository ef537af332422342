/*
 * br_group_op: writes of the coordinator to __consumer_offsets. A
 * br_group_op is one append in flight (through br_pm_local_append,
 * acks=all) on the coordinator's list of them; it names its group by id,
 * partition incarnation and generation (invariant 4 of br_group_int.h),
 * and its completion maps the append error as Kafka does and hands the
 * result to the request it belongs to (OffsetCommit, the leader's
 * SyncGroup, a static member's new id, DeleteGroups) or to nobody (fire
 * and forget). Also builds a group's metadata record. Core loop only.
 */
#include "group/br_group_int.h"

#include <stdlib.h>
#include <string.h>

#include "group/br_group_log.h"
#include "partition/br_pm_local.h"
#include "common/st_log.h"

/* ------------------------------------------------------ writes */

void br_group_op_free(br_group_op_t *op)
{
    free(op->group_id);
    br_group_commit_free(op->commit);
    for (size_t i = 0; i < op->n_a; i++) {
        free(op->a_ids[i]);
        free(op->a_data[i]);
    }
    free(op->a_ids);
    free(op->a_data);
    free(op->a_len);
    free(op->old_id);
    free(op->new_id);
    free(op);
}

/* Kafka's mapping of append errors for group writes. */
static st_err_t br_group_op_map_err(st_err_t e)
{
    switch (e) {
    case ST_OK:
        return ST_OK;
    case ST_ERR_UNKNOWN_TOPIC_OR_PARTITION:
    case ST_ERR_NOT_ENOUGH_REPLICAS:
    case ST_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND:
    case ST_ERR_REQUEST_TIMED_OUT:
        return ST_ERR_COORDINATOR_NOT_AVAILABLE;
    case ST_ERR_NOT_LEADER_OR_FOLLOWER:
    case ST_ERR_KAFKA_STORAGE_ERROR:
        return ST_ERR_NOT_COORDINATOR;
    default:
        return ST_ERR_UNKNOWN_SERVER_ERROR;
    }
}

br_group_t *br_group_op_group(const br_group_op_t *op)
{
    br_groups_t *gc = op->gc;
    const br_groups_opart_t *p = &gc->parts[op->opart];
    if (p->state != BR_OPART_LOADED || p->incarnation != op->incarnation)
        return NULL;
    return br_groups_find(gc, op->group_id);
}

static void br_group_op_done(void *arg, st_err_t err, int64_t base_offset)
{
    br_group_op_t *op = arg;
    br_groups_t *gc = op->gc;
    if (gc) {
        if (op->prev)
            op->prev->next = op->next;
        else
            gc->ops = op->next;
        if (op->next)
            op->next->prev = op->prev;
        st_err_t e = br_group_op_map_err(err);
        if (err != ST_OK)
            st_log(ST_LOG_WARN, BR_GTAG, "group %s: writing to %s-%d failed: %s", op->group_id,
                   BR_OFFSETS_TOPIC, op->opart, st_err_name(err));
        switch (op->kind) {
        case BR_GROUP_OP_FIRE:
            break;
        case BR_GROUP_OP_COMMIT:
            br_group_op_commit_done(op, e, base_offset);
            break;
        case BR_GROUP_OP_SYNC:
            br_group_op_sync_done(op, e);
            break;
        case BR_GROUP_OP_STATIC:
            br_group_op_static_done(op, e);
            break;
        case BR_GROUP_OP_DELETE:
            op->del->res[op->del_idx].error = (Strata__ErrorCode)e;
            if (--op->del->outstanding == 0)
                br_group_delete_reply(op->del);
            break;
        }
    }
    br_group_op_free(op);
}

void br_group_op_write(br_groups_t *gc, st_batch_builder_t *b, br_group_op_t *op)
{
    st_buf_t frame;
    st_buf_init(&frame);
    op->gc = gc;
    op->incarnation = gc->parts[op->opart].incarnation;
    op->prev = NULL;
    op->next = gc->ops;
    if (gc->ops)
        gc->ops->prev = op;
    gc->ops = op;
    st_err_t err = st_batch_builder_finish(b, &frame);
    if (err == ST_OK)
        err = br_pm_local_append(gc->pm, BR_OFFSETS_TOPIC, op->opart, frame.data, frame.len,
                                 gc->cfg.offsets_commit_timeout_ms, br_group_op_done, op);
    if (err != ST_OK)
        br_group_op_done(op, err, -1);
    st_buf_free(&frame);
}

br_group_op_t *br_group_op_new(br_group_op_kind_t kind, const br_group_t *g, br_call_t *call)
{
    br_group_op_t *op = calloc(1, sizeof *op);
    if (!op || !(op->group_id = strdup(g->id))) {
        free(op);
        return NULL;
    }
    op->kind = kind;
    op->opart = g->opart;
    op->generation = g->generation;
    op->call = call;
    return op;
}

st_err_t br_group_add_meta(st_batch_builder_t *b, const br_group_t *g, const br_group_op_t *sync)
{
    Strata__GroupMemberValue *mv = calloc(g->n_members ? g->n_members : 1, sizeof *mv);
    Strata__GroupMemberValue **mp = calloc(g->n_members ? g->n_members : 1, sizeof *mp);
    st_err_t err = ST_ERR_NOMEM;
    if (!mv || !mp)
        goto out;
    for (size_t i = 0; i < g->n_members; i++) {
        const br_group_member_t *m = g->members[i];
        strata__group_member_value__init(&mv[i]);
        mp[i] = &mv[i];
        mv[i].member_id = m->id;
        mv[i].group_instance_id = (char *)(m->instance_id ? m->instance_id : "");
        mv[i].client_id = m->client_id;
        mv[i].client_host = m->client_host;
        mv[i].rebalance_timeout_ms = m->rebalance_timeout_ms;
        mv[i].session_timeout_ms = m->session_timeout_ms;
        const br_group_proto_t *p = br_group_member_proto(m, g->protocol);
        if (p) {
            mv[i].subscription.data = p->data;
            mv[i].subscription.len = p->len;
        }
        mv[i].assignment.data = m->assignment;
        mv[i].assignment.len = m->assignment_len;
        if (sync) {
            mv[i].assignment.data = NULL;
            mv[i].assignment.len = 0;
            for (size_t k = 0; k < sync->n_a; k++) {
                if (strcmp(sync->a_ids[k], m->id) == 0) {
                    mv[i].assignment.data = sync->a_data[k];
                    mv[i].assignment.len = sync->a_len[k];
                }
            }
        }
    }
    Strata__GroupValue gv = STRATA__GROUP_VALUE__INIT;
    gv.protocol_type = (char *)(g->protocol_type ? g->protocol_type : "");
    gv.generation = g->generation;
    gv.protocol = (char *)(g->protocol ? g->protocol : "");
    gv.leader = (char *)(g->leader ? g->leader : "");
    gv.state_timestamp = g->state_ts;
    gv.n_members = g->n_members;
    gv.members = mp;
    err = br_group_log_add_group(b, st_wall_ms(), g->id, &gv);
out:
    free(mv);
    free(mp);
    return err;
}

void br_group_store_fire(br_group_t *g)
{
    st_batch_builder_t b;
    st_batch_builder_init(&b, ST_CODEC_NONE);
    br_group_op_t *op = br_group_op_new(BR_GROUP_OP_FIRE, g, NULL);
    if (op && br_group_add_meta(&b, g, NULL) == ST_OK)
        br_group_op_write(g->gc, &b, op);
    else if (op)
        br_group_op_free(op);
    st_batch_builder_fini(&b);
}
