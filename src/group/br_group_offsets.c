/*
 * br_group_offsets: committed offsets of the group coordinator:
 * OffsetCommit (validated, written to __consumer_offsets, applied to the
 * group when the append is acknowledged; a br_group_commit is one commit
 * in flight), OffsetFetch, and the expiry of offsets of empty groups
 * (Kafka's cleanupGroupMetadata, run from br_groups_tick). Defines the
 * public br_groups_handle_offset_commit and _offset_fetch of br_groups.h.
 * Core loop only.
 */
#include "group/br_group_int.h"

#include <stdlib.h>
#include <string.h>

#include "group/br_group_log.h"
#include "common/st_log.h"

/* ------------------------------------------------------ commits in flight */

void br_group_commit_free(br_group_commit_t *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n_topics; i++)
        free(c->topics[i]);
    for (size_t i = 0; i < c->n_items; i++)
        free(c->items[i].v.metadata);
    free(c->topics);
    free(c->items);
    free(c);
}

/* ------------------------------------------------------ OffsetCommit */

void br_group_commit_reply(br_call_t *call, const br_group_commit_t *c, st_err_t top)
{
    size_t nt = c ? c->n_topics : 0, np = c ? c->n_items : 0;
    Strata__OffsetCommitTopicResult *tr = calloc(nt ? nt : 1, sizeof *tr);
    Strata__OffsetCommitTopicResult **tp = calloc(nt ? nt : 1, sizeof *tp);
    Strata__OffsetCommitPartitionResult *pr = calloc(np ? np : 1, sizeof *pr);
    Strata__OffsetCommitPartitionResult **pp = calloc(np ? np : 1, sizeof *pp);
    Strata__OffsetCommitResponse b = STRATA__OFFSET_COMMIT_RESPONSE__INIT;
    b.version = 1;
    b.error = (Strata__ErrorCode)top;
    if (tr && tp && pr && pp) {
        /* items are grouped by topic in request order */
        size_t k = 0;
        for (size_t t = 0; t < nt; t++) {
            strata__offset_commit_topic_result__init(&tr[t]);
            tp[t] = &tr[t];
            tr[t].name = c->topics[t];
            tr[t].partitions = &pp[k];
            for (size_t i = 0; i < np; i++) {
                if (c->items[i].topic != t)
                    continue;
                strata__offset_commit_partition_result__init(&pr[k]);
                pp[k] = &pr[k];
                pr[k].partition = c->items[i].v.partition;
                pr[k].error = (Strata__ErrorCode)c->items[i].err;
                tr[t].n_partitions++;
                k++;
            }
        }
        b.n_topics = nt;
        b.topics = tp;
    } else {
        b.error = STRATA__ERROR_CODE__UNKNOWN_SERVER_ERROR;
    }
    Strata__Response resp = STRATA__RESPONSE__INIT;
    resp.body_case = STRATA__RESPONSE__BODY_OFFSET_COMMIT;
    resp.offset_commit = &b;
    br_group_reply(call, &resp);
    free(tr);
    free(tp);
    free(pr);
    free(pp);
}

void br_group_op_commit_done(br_group_op_t *op, st_err_t err, int64_t base_offset)
{
    br_group_commit_t *c = op->commit;
    br_group_t *g = br_group_op_group(op);
    if (err == ST_OK && !g)
        err = ST_ERR_NOT_COORDINATOR;
    for (size_t i = 0; i < c->n_items; i++) {
        br_group_commit_item_t *it = &c->items[i];
        if (!it->write)
            continue;
        it->v.log_offset = base_offset;
        if (err == ST_OK && br_group_offset_put(g, &it->v) != ST_OK)
            it->err = ST_ERR_UNKNOWN_SERVER_ERROR;
        else if (err != ST_OK)
            it->err = err;
    }
    br_group_commit_reply(op->call, c, ST_OK);
}

/* Copy the request's partitions into a br_group_commit (all errors NONE). */
static br_group_commit_t *br_group_commit_from(const Strata__OffsetCommitRequest *r)
{
    br_group_commit_t *c = calloc(1, sizeof *c);
    size_t np = 0;
    for (size_t t = 0; t < r->n_topics; t++)
        if (r->topics[t])
            np += r->topics[t]->n_partitions;
    if (!c || !(c->topics = calloc(r->n_topics ? r->n_topics : 1, sizeof *c->topics)) ||
        !(c->items = calloc(np ? np : 1, sizeof *c->items)))
        goto fail;
    for (size_t t = 0; t < r->n_topics; t++) {
        const Strata__OffsetCommitTopic *ct = r->topics[t];
        if (!(c->topics[t] = br_group_strdup(ct ? ct->name : "")))
            goto fail;
        c->n_topics++;
        for (size_t i = 0; ct && i < ct->n_partitions; i++) {
            const Strata__OffsetCommitPartition *cp = ct->partitions[i];
            br_group_commit_item_t *it = &c->items[c->n_items++];
            it->topic = t;
            it->v.topic = c->topics[t];
            it->v.partition = cp ? cp->partition : -1;
            it->v.offset = cp ? cp->offset : -1;
            it->v.leader_epoch = cp ? cp->leader_epoch : -1;
            if (!(it->v.metadata = br_group_strdup(cp ? cp->metadata : "")))
                goto fail;
            if (!cp || !*c->topics[t] || cp->partition < 0)
                it->err = ST_ERR_INVALID_REQUEST;
        }
    }
    return c;
fail:
    br_group_commit_free(c);
    return NULL;
}

void br_groups_handle_offset_commit(br_groups_t *gc, br_call_t *call, const Strata__Request *req)
{
    const Strata__OffsetCommitRequest *r = req->offset_commit;
    int32_t opart;
    br_group_commit_t *c = br_group_commit_from(r);
    if (!c) {
        br_group_commit_reply(call, NULL, ST_ERR_UNKNOWN_SERVER_ERROR);
        return;
    }
    st_err_t err = br_groups_check(gc, r->group_id, &opart);
    br_group_t *g = err == ST_OK ? br_groups_find(gc, r->group_id) : NULL;
    bool member_commit =
        r->generation_id >= 0 || br_group_nz(r->member_id) || br_group_nz(r->group_instance_id);
    if (err == ST_OK && !g) {
        if (member_commit)
            err = ST_ERR_ILLEGAL_GENERATION;
        else if (!(g = br_groups_add_group(gc, r->group_id, opart)))
            err = ST_ERR_UNKNOWN_SERVER_ERROR;
    }
    if (err == ST_OK && g->state == BR_GS_DEAD)
        err = ST_ERR_COORDINATOR_NOT_AVAILABLE;
    if (err == ST_OK && member_commit) {
        br_group_member_t *m = NULL;
        err = br_group_check_member(g, r->member_id, r->group_instance_id, r->generation_id, &m);
        if (err == ST_OK && g->state == BR_GS_COMPLETING_REBALANCE)
            err = ST_ERR_REBALANCE_IN_PROGRESS;
        if (err == ST_OK)
            br_group_member_touch(m); /* a commit is as good as a heartbeat */
    } else if (err == ST_OK && g->state != BR_GS_EMPTY) {
        err = ST_ERR_UNKNOWN_MEMBER_ID; /* simple commits only to groups without members */
    }
    int64_t now = st_wall_ms();
    st_batch_builder_t b;
    st_batch_builder_init(&b, ST_CODEC_NONE);
    size_t n_write = 0;
    for (size_t i = 0; i < c->n_items; i++) {
        br_group_commit_item_t *it = &c->items[i];
        if (err != ST_OK) {
            it->err = err;
            continue;
        }
        if (it->err != ST_OK)
            continue;
        if (strlen(it->v.metadata) > (size_t)gc->cfg.offset_metadata_max_bytes) {
            it->err = ST_ERR_OFFSET_METADATA_TOO_LARGE;
            continue;
        }
        it->v.commit_ts = now;
        it->v.expire_ts = r->retention_time_ms > 0 ? now + r->retention_time_ms : -1;
        Strata__OffsetValue ov = STRATA__OFFSET_VALUE__INIT;
        ov.offset = it->v.offset;
        ov.leader_epoch = it->v.leader_epoch;
        ov.metadata = it->v.metadata;
        ov.commit_timestamp = it->v.commit_ts;
        ov.expire_timestamp = it->v.expire_ts;
        if (br_group_log_add_offset(&b, now, g->id, it->v.topic, it->v.partition, &ov) != ST_OK) {
            it->err = ST_ERR_UNKNOWN_SERVER_ERROR;
            continue;
        }
        it->write = true;
        n_write++;
    }
    if (n_write == 0) {
        br_group_commit_reply(call, c, ST_OK);
        br_group_commit_free(c);
        br_groups_maybe_forget(gc, g);
    } else {
        br_group_op_t *op = br_group_op_new(BR_GROUP_OP_COMMIT, g, call);
        if (!op) {
            for (size_t i = 0; i < c->n_items; i++)
                if (c->items[i].write)
                    c->items[i].err = ST_ERR_UNKNOWN_SERVER_ERROR;
            br_group_commit_reply(call, c, ST_OK);
            br_group_commit_free(c);
        } else {
            op->commit = c;
            br_group_op_write(gc, &b, op);
        }
    }
    st_batch_builder_fini(&b);
}

/* ------------------------------------------------------ OffsetFetch */

void br_groups_handle_offset_fetch(br_groups_t *gc, br_call_t *call, const Strata__Request *req)
{
    const Strata__OffsetFetchRequest *r = req->offset_fetch;
    st_err_t err = br_groups_check(gc, r->group_id, NULL);
    br_group_t *g = err == ST_OK ? br_groups_find(gc, r->group_id) : NULL;
    Strata__OffsetFetchResponse b = STRATA__OFFSET_FETCH_RESPONSE__INIT;
    b.version = 1;
    b.error = (Strata__ErrorCode)err;
    /* the (topic, partition) list to answer: asked, or every committed one */
    size_t nt = 0, np = 0;
    bool all = r->n_topics == 0;
    if (err == ST_OK) {
        if (all) {
            np = g ? g->n_offsets : 0;
            nt = np; /* at most one topic per offset */
        } else {
            nt = r->n_topics;
            for (size_t t = 0; t < nt; t++)
                np += r->topics[t] ? r->topics[t]->n_partitions : 0;
        }
    }
    Strata__OffsetFetchTopicResult *tr = calloc(nt ? nt : 1, sizeof *tr);
    Strata__OffsetFetchTopicResult **tp = calloc(nt ? nt : 1, sizeof *tp);
    Strata__OffsetFetchPartitionResult *pr = calloc(np ? np : 1, sizeof *pr);
    Strata__OffsetFetchPartitionResult **pp = calloc(np ? np : 1, sizeof *pp);
    if (!tr || !tp || !pr || !pp) {
        b.error = STRATA__ERROR_CODE__UNKNOWN_SERVER_ERROR;
        goto reply;
    }
    size_t k = 0, ntop = 0;
    if (err == ST_OK && all) {
        /* first pass: the distinct topics; second: their partitions,
         * contiguous per topic */
        for (size_t i = 0; i < np; i++) {
            const br_group_offset_t *o = &g->offsets[i];
            bool seen = false;
            for (size_t j = 0; j < ntop && !seen; j++)
                seen = strcmp(tr[j].name, o->topic) == 0;
            if (!seen) {
                strata__offset_fetch_topic_result__init(&tr[ntop]);
                tp[ntop] = &tr[ntop];
                tr[ntop++].name = o->topic;
            }
        }
        for (size_t j = 0; j < ntop; j++) {
            tr[j].partitions = &pp[k];
            for (size_t i = 0; i < np; i++) {
                const br_group_offset_t *o = &g->offsets[i];
                if (strcmp(o->topic, tr[j].name) != 0)
                    continue;
                strata__offset_fetch_partition_result__init(&pr[k]);
                pp[k] = &pr[k];
                pr[k].partition = o->partition;
                pr[k].offset = o->offset;
                pr[k].leader_epoch = o->leader_epoch;
                pr[k].metadata = o->metadata;
                tr[j].n_partitions++;
                k++;
            }
        }
    } else if (err == ST_OK) {
        for (size_t t = 0; t < nt; t++) {
            const Strata__OffsetFetchTopic *ft = r->topics[t];
            strata__offset_fetch_topic_result__init(&tr[t]);
            tp[t] = &tr[t];
            tr[t].name = (char *)(ft && ft->name ? ft->name : "");
            tr[t].partitions = &pp[k];
            for (size_t i = 0; ft && i < ft->n_partitions; i++) {
                strata__offset_fetch_partition_result__init(&pr[k]);
                pp[k] = &pr[k];
                pr[k].partition = ft->partitions[i];
                pr[k].offset = -1;
                pr[k].leader_epoch = -1;
                const br_group_offset_t *o =
                    g ? br_group_find_offset(g, tr[t].name, ft->partitions[i]) : NULL;
                if (o) {
                    pr[k].offset = o->offset;
                    pr[k].leader_epoch = o->leader_epoch;
                    pr[k].metadata = o->metadata;
                }
                tr[t].n_partitions++;
                k++;
            }
        }
        ntop = nt;
    }
    b.n_topics = ntop;
    b.topics = tp;
reply:;
    Strata__Response resp = STRATA__RESPONSE__INIT;
    resp.body_case = STRATA__RESPONSE__BODY_OFFSET_FETCH;
    resp.offset_fetch = &b;
    br_group_reply(call, &resp);
    free(tr);
    free(tp);
    free(pr);
    free(pp);
}

/* ------------------------------------------------------ retention */

void br_group_offsets_expire(br_groups_t *gc, int64_t now)
{
    st_hmap_iter_t it = ST_HMAP_ITER(&gc->groups);
    for (st_hnode_t *hn; (hn = st_hmap_iter_next(&it));) {
        br_group_t *g = BR_GROUP_OF(hn);
        if (g->state != BR_GS_EMPTY || g->n_members > 0) {
            continue;
        }
        st_batch_builder_t b;
        st_batch_builder_init(&b, ST_CODEC_NONE);
        size_t expired = 0;
        int64_t ts = now;
        for (size_t k = g->n_offsets; k-- > 0;) {
            br_group_offset_t *o = &g->offsets[k];
            int64_t base = g->protocol_type ? g->state_ts : o->commit_ts;
            bool gone = o->expire_ts >= 0 ? now >= o->expire_ts : now - base >= gc->cfg.offsets_retention_ms;
            if (!gone)
                continue;
            if (br_group_log_add_offset(&b, ts, g->id, o->topic, o->partition, NULL) != ST_OK)
                break;
            br_group_offset_remove(g, o);
            expired++;
        }
        bool dead = g->n_offsets == 0;
        if (dead && g->has_meta && br_group_log_add_group(&b, ts, g->id, NULL) != ST_OK)
            dead = false;
        if (expired > 0 || dead) {
            br_group_op_t *op = br_group_op_new(BR_GROUP_OP_FIRE, g, NULL);
            st_log(ST_LOG_INFO, BR_GTAG, "group %s: %zu offset(s) expired%s", g->id, expired,
                   dead ? "; group removed" : "");
            if (dead) {
                br_group_transition(g, BR_GS_DEAD);
                br_groups_remove_group(gc, g, ST_ERR_COORDINATOR_NOT_AVAILABLE);
            }
            if (op && st_batch_builder_size(&b) > 0)
                br_group_op_write(gc, &b, op);
            else if (op)
                br_group_op_free(op);
        }
        st_batch_builder_fini(&b);
    }
}
