/*
 * br_ctl_reassign: partition reassignment (see br_ctl.h and
 * br_ctl_int.h). The active controller reads and watches
 * /admin/reassign_partitions and takes each entry one step at a time
 * (br_reassign_step): add the target replicas to the assignment, wait
 * until they are in the ISR, move leadership into the target, drop the
 * old replicas from the assignment and only then from the ISR; finished
 * or impossible entries are pruned from the znode (deleted when empty).
 * AlterPartitionReassignments and ListPartitionReassignments are answered
 * by any broker: they read and rewrite (or list) the znode with version
 * checks, retried a few times on a race. Core loop only.
 */
#include <stdlib.h>
#include <string.h>

#include "common/st_log.h"
#include "control/br_ctl_int.h"

/* --------------------------------------------------------- reassignment */

/* Free an array of n entries built here (a request's list; entries moved
 * out of a zknode_reassign_t are owned by their new holder). */
static void ctl_parts_free(zknode_reassign_part_t *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++) {
        free(v[i].topic);
        free(v[i].replicas);
    }
    free(v);
}

/* The znode's JSON for entries v[0..n) (zknode's encoder), or NULL. */
static char *ctl_reassign_json(zknode_reassign_part_t *v, size_t n)
{
    zknode_reassign_t r = {.parts = v, .n = n};
    return zknode_reassign_encode(&r);
}

int br_reassign_step(const int32_t *target, size_t n_target, const int32_t *replicas, size_t n_replicas,
                     const int32_t *isr, size_t n_isr, int32_t leader, bool (*live)(void *arg, int32_t id),
                     void *arg, int32_t **out, size_t *n_out, int32_t *new_leader)
{
    *out = NULL;
    *n_out = 0;
    *new_leader = -1;
    bool equal = n_target == n_replicas;
    for (size_t i = 0; equal && i < n_target; i++)
        equal = target[i] == replicas[i];
    bool extra_isr = false;
    for (size_t i = 0; i < n_isr && !extra_isr; i++)
        extra_isr = !ctl_has(target, n_target, isr[i]);
    if (equal && !extra_isr)
        return 0;
    if (!equal) {
        bool subset = true;
        for (size_t i = 0; subset && i < n_target; i++)
            subset = ctl_has(replicas, n_replicas, target[i]);
        if (!subset) {
            int32_t *v = malloc((n_target + n_replicas) * sizeof *v);
            if (!v)
                return 2;
            size_t k = 0;
            for (size_t i = 0; i < n_target; i++)
                v[k++] = target[i];
            for (size_t i = 0; i < n_replicas; i++)
                if (!ctl_has(target, n_target, replicas[i]))
                    v[k++] = replicas[i];
            *out = v;
            *n_out = k;
            return 1;
        }
        for (size_t i = 0; i < n_target; i++)
            if (!ctl_has(isr, n_isr, target[i]))
                return 2; /* still catching up */
    }
    if (!ctl_has(target, n_target, leader)) {
        int32_t cand = -1;
        for (size_t i = 0; i < n_target && cand < 0; i++)
            if (live(arg, target[i]))
                cand = target[i];
        if (cand < 0)
            return 2;
        *new_leader = cand;
        return 3;
    }
    if (!equal) {
        /* Drop the old replicas from the assignment first, and only then
         * from the ISR: while they are replicas, the leader may take a
         * caught-up one back into its ISR right after a shrink. */
        int32_t *v = malloc((n_target + 1) * sizeof *v);
        if (!v)
            return 2;
        memcpy(v, target, n_target * sizeof *v);
        *out = v;
        *n_out = n_target;
        return 4;
    }
    *new_leader = leader; /* assignment done: clean the ISR, keep the leader */
    return 3;
}

void br_ctl_reassign_clear(br_ctl_t *ctl)
{
    for (size_t i = 0; i < ctl->n_reassigns; i++) {
        free(ctl->reassigns[i].r.topic);
        free(ctl->reassigns[i].r.replicas);
    }
    free(ctl->reassigns);
    ctl->reassigns = NULL;
    ctl->n_reassigns = 0;
}

static void ctl_reassign_exists(void *arg, int rc, const struct Stat *stat);

static void ctl_reassign_read(void *arg, int rc, const char *data, int len, const struct Stat *stat)
{
    ctl_req_t *r = arg;
    br_ctl_t *ctl = r->ctl;
    if (!br_ctl_current(r, rc))
        goto out;
    if (rc == ZNONODE) {
        br_ctl_reassign_clear(ctl);
        ctl->reassign_version = -1;
        ctl_req_t *r2 = br_ctl_req_new(ctl, NULL);
        if (r2 &&
            zkc_exists(ctl->cp->zk, BR_REASSIGN_PATH, ctl->reassign_watch, ctl_reassign_exists, r2) != ZOK)
            br_ctl_req_free(r2);
        goto out;
    }
    if (rc != ZOK)
        goto out;
    zknode_reassign_t d;
    char err[128];
    br_ctl_reassign_clear(ctl);
    ctl->reassign_version = stat ? stat->version : 0;
    if (zknode_reassign_decode(data, len > 0 ? (size_t)len : 0, &d, err, sizeof err) != ST_OK) {
        ST_WARN(CTL_TAG, "%s is malformed (%s): ignoring it", BR_REASSIGN_PATH, err);
        goto out;
    }
    zknode_reassign_part_t *v = d.parts;
    size_t n = d.n;
    ctl->reassigns = calloc(n + 1, sizeof *ctl->reassigns);
    for (size_t i = 0; ctl->reassigns && i < n; i++) {
        ctl->reassigns[i].r = v[i];
        memset(&v[i], 0, sizeof v[i]);
    }
    ctl->n_reassigns = ctl->reassigns ? n : 0;
    zknode_reassign_free(&d);
    if (n)
        ST_INFO(CTL_TAG, "%zu partition reassignment(s) pending", n);
    br_ctl_reconcile(ctl);
out:
    br_ctl_req_free(r);
}

void br_ctl_reassign_load(br_ctl_t *ctl)
{
    ctl_req_t *r = br_ctl_req_new(ctl, NULL);
    if (r && zkc_get(ctl->cp->zk, BR_REASSIGN_PATH, ctl->reassign_watch, ctl_reassign_read, r) != ZOK)
        br_ctl_req_free(r);
}

static void ctl_reassign_exists(void *arg, int rc, const struct Stat *stat)
{
    (void)stat;
    ctl_req_t *r = arg;
    if (br_ctl_current(r, rc) && rc == ZOK)
        br_ctl_reassign_load(r->ctl);
    br_ctl_req_free(r);
}

void br_ctl_reassign_watch(void *arg, int type, const char *path)
{
    (void)type;
    (void)path;
    br_ctl_t *ctl = arg;
    if (ctl->active)
        br_ctl_reassign_load(ctl);
}

static void ctl_reassign_written(void *arg, int rc, const zoo_op_result_t *results, int n)
{
    ctl_req_t *r = arg;
    if (br_ctl_current(r, rc))
        r->ctl->reassign_writing = false;
    (void)br_ctl_multi_ok(r, rc, results, n, "reassignment list");
    br_ctl_req_free(r);
}

/* Remove the finished entries from the znode (delete it when empty). */
static void ctl_reassign_prune(br_ctl_t *ctl)
{
    size_t left = 0;
    bool any_done = false;
    for (size_t i = 0; i < ctl->n_reassigns; i++) {
        any_done |= ctl->reassigns[i].done;
        left += !ctl->reassigns[i].done;
    }
    if (!any_done || ctl->reassign_writing || ctl->reassign_version < 0)
        return;
    zkc_multi_t *m = br_ctl_multi(ctl);
    if (!m)
        return;
    if (left == 0) {
        zkc_multi_delete(m, BR_REASSIGN_PATH, ctl->reassign_version);
    } else {
        zknode_reassign_part_t *v = calloc(left, sizeof *v);
        size_t k = 0;
        for (size_t i = 0; v && i < ctl->n_reassigns; i++)
            if (!ctl->reassigns[i].done)
                v[k++] = ctl->reassigns[i].r;
        char *json = v ? ctl_reassign_json(v, k) : NULL;
        free(v);
        if (!json) {
            zkc_multi_free(m);
            return;
        }
        zkc_multi_set(m, BR_REASSIGN_PATH, json, (int)strlen(json), ctl->reassign_version);
        free(json);
    }
    ctl_req_t *r = br_ctl_req_new(ctl, NULL);
    if (!r || zkc_multi_commit(ctl->cp->zk, m, ctl_reassign_written, r) != ZOK) {
        free(r);
        return;
    }
    ctl->reassign_writing = true;
}

/* Rewrite partition p's replica list in the topic znode. */
static void ctl_write_replicas(br_ctl_t *ctl, br_md_topic_t *t, int32_t p, const int32_t *reps, size_t n)
{
    char key[300], path[512];
    snprintf(key, sizeof key, "ra:%s", t->name);
    if (br_ctl_inflight(ctl, key) || zknode_path_topic(path, sizeof path, t->name) < 0)
        return;
    zknode_topic_t zt = {.n_partitions = t->n_parts};
    snprintf(zt.topic_id, sizeof zt.topic_id, "%s", t->topic_id);
    zt.replicas = calloc((size_t)t->n_parts + 1, sizeof *zt.replicas);
    zt.n_replicas = calloc((size_t)t->n_parts + 1, sizeof *zt.n_replicas);
    if (zt.replicas && zt.n_replicas) {
        for (int32_t i = 0; i < t->n_parts; i++) {
            zt.replicas[i] = i == p ? (int32_t *)reps : t->parts[i].replicas;
            zt.n_replicas[i] = i == p ? (int32_t)n : (int32_t)t->parts[i].n_replicas;
        }
        char *json = zknode_topic_encode(&zt);
        zkc_multi_t *m = json ? br_ctl_multi(ctl) : NULL;
        if (m) {
            zkc_multi_set(m, path, json, (int)strlen(json), t->version);
            ST_INFO(CTL_TAG, "%s-%d: reassignment: replicas now %zu broker(s)", t->name, p, n);
            br_ctl_commit(ctl, m, key);
        }
        free(json);
    }
    free(zt.replicas);
    free(zt.n_replicas);
}

void br_ctl_reassign_reconcile(br_ctl_t *ctl)
{
    br_md_t *md = ctl->cp->md;
    for (size_t i = 0; i < ctl->n_reassigns; i++) {
        ctl_reassign_t *ra = &ctl->reassigns[i];
        if (ra->done)
            continue;
        br_md_topic_t *t = br_md_topic(md, ra->r.topic);
        if (!t || (t->loaded && ra->r.partition >= t->n_parts) || ra->r.n_replicas == 0) {
            ST_WARN(CTL_TAG, "reassignment of %s-%d dropped (unknown partition or empty replica list)",
                    ra->r.topic, ra->r.partition);
            ra->done = true;
            continue;
        }
        if (!t->loaded)
            continue;
        /* a target broker that is down (or not registered yet) is waited for */
        br_md_part_t *part = &t->parts[ra->r.partition];
        if (part->kind != BR_MD_STATE_OK)
            continue;
        int32_t *v = NULL, lead = -1;
        size_t nv = 0;
        ctl_pl_t pl = {.md = md, .topic = t->name, .partition = ra->r.partition, .exclude = -1};
        int step =
            br_reassign_step(ra->r.replicas, ra->r.n_replicas, part->replicas, part->n_replicas, part->isr,
                             part->n_isr, part->leader, br_ctl_live_part, &pl, &v, &nv, &lead);
        if (step == 0) {
            ST_INFO(CTL_TAG, "%s-%d: reassignment complete", ra->r.topic, ra->r.partition);
            ra->done = true;
        } else if (step == 1 || step == 4) {
            ctl_write_replicas(ctl, t, ra->r.partition, v, nv);
        } else if (step == 3) {
            zknode_part_state_t next = {.leader = lead, .leader_epoch = part->leader_epoch + 1};
            next.isr = malloc((part->n_isr + 1) * sizeof *next.isr);
            for (size_t j = 0; next.isr && j < part->n_isr; j++)
                if (ctl_has(ra->r.replicas, ra->r.n_replicas, part->isr[j]))
                    next.isr[next.n_isr++] = part->isr[j];
            if (next.isr)
                (void)br_ctl_write_state(ctl, t, ra->r.partition, &next, NULL, 0, "reassignment");
            free(next.isr);
        }
        free(v);
    }
    ctl_reassign_prune(ctl);
}

/* ---- AlterPartitionReassignments / ListPartitionReassignments (any broker) */

typedef struct ctl_alter {
    br_ctl_t *ctl;
    br_call_t *call;
    zknode_reassign_part_t *req; /* requested (n_replicas 0: cancel) */
    size_t n;
    st_err_t *errs;
    int tries;
    bool list; /* ListPartitionReassignments: req is the filter */
} ctl_alter_t;

static void ctl_alter_free(ctl_alter_t *a)
{
    ctl_parts_free(a->req, a->n);
    free(a->errs);
    free(a);
}

static void ctl_alter_answer(ctl_alter_t *a, st_err_t all)
{
    Strata__AlterPartitionReassignmentsResponse ar = STRATA__ALTER_PARTITION_REASSIGNMENTS_RESPONSE__INIT;
    Strata__ReassignmentResult *res = calloc(a->n + 1, sizeof *res);
    Strata__ReassignmentResult **pres = calloc(a->n + 1, sizeof *pres);
    if (!res || !pres) {
        free(res);
        free(pres);
        br_call_reply_error(a->call, ST_ERR_NOMEM, "out of memory");
        return;
    }
    for (size_t i = 0; i < a->n; i++) {
        strata__reassignment_result__init(&res[i]);
        st_err_t e = a->errs[i] != ST_OK ? a->errs[i] : all;
        res[i].topic = a->req[i].topic;
        res[i].partition = a->req[i].partition;
        res[i].error = (Strata__ErrorCode)e;
        res[i].error_message = e == ST_OK ? (char *)"" : (char *)st_err_name(e);
        pres[i] = &res[i];
    }
    ar.version = 1;
    ar.error = (Strata__ErrorCode)all;
    ar.n_results = a->n;
    ar.results = pres;
    Strata__Response resp = STRATA__RESPONSE__INIT;
    resp.body_case = STRATA__RESPONSE__BODY_ALTER_PARTITION_REASSIGNMENTS;
    resp.alter_partition_reassignments = &ar;
    br_call_reply(a->call, &resp);
    free(res);
    free(pres);
}

static void ctl_list_answer(ctl_alter_t *a, const zknode_reassign_part_t *v, size_t n)
{
    br_md_t *md = a->ctl->cp->md;
    Strata__ListPartitionReassignmentsResponse lr = STRATA__LIST_PARTITION_REASSIGNMENTS_RESPONSE__INIT;
    Strata__OngoingReassignment *o = calloc(n + 1, sizeof *o);
    Strata__OngoingReassignment **po = calloc(n + 1, sizeof *po);
    int32_t *scratch = NULL;
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        br_md_topic_t *t = br_md_topic(md, v[i].topic);
        size_t nr = t && v[i].partition < t->n_parts ? t->parts[v[i].partition].n_replicas : 0;
        total += 2 * (nr + v[i].n_replicas) + nr;
    }
    scratch = calloc(total + 1, sizeof *scratch);
    if (!o || !po || !scratch) {
        br_call_reply_error(a->call, ST_ERR_NOMEM, "out of memory");
        goto out;
    }
    size_t k = 0, used = 0;
    for (size_t i = 0; i < n; i++) {
        bool wanted = a->n == 0;
        for (size_t f = 0; f < a->n && !wanted; f++)
            wanted = a->req[f].partition == v[i].partition && a->req[f].topic &&
                     strcmp(a->req[f].topic, v[i].topic) == 0;
        br_md_topic_t *t = br_md_topic(md, v[i].topic);
        if (!wanted || !t || v[i].partition >= t->n_parts)
            continue;
        br_md_part_t *part = &t->parts[v[i].partition];
        strata__ongoing_reassignment__init(&o[k]);
        o[k].topic = v[i].topic;
        o[k].partition = v[i].partition;
        o[k].replicas = scratch + used;
        for (size_t j = 0; j < part->n_replicas; j++)
            o[k].replicas[o[k].n_replicas++] = part->replicas[j];
        used += part->n_replicas;
        /* adding: target replicas not in the ISR yet; removing: not in the target */
        o[k].adding_replicas = scratch + used;
        for (size_t j = 0; j < v[i].n_replicas; j++)
            if (!ctl_has(part->isr, part->n_isr, v[i].replicas[j]))
                o[k].adding_replicas[o[k].n_adding_replicas++] = v[i].replicas[j];
        used += v[i].n_replicas;
        o[k].removing_replicas = scratch + used;
        for (size_t j = 0; j < part->n_replicas; j++)
            if (!ctl_has(v[i].replicas, v[i].n_replicas, part->replicas[j]))
                o[k].removing_replicas[o[k].n_removing_replicas++] = part->replicas[j];
        used += part->n_replicas;
        po[k] = &o[k];
        k++;
    }
    lr.version = 1;
    lr.n_reassignments = k;
    lr.reassignments = po;
    Strata__Response resp = STRATA__RESPONSE__INIT;
    resp.body_case = STRATA__RESPONSE__BODY_LIST_PARTITION_REASSIGNMENTS;
    resp.list_partition_reassignments = &lr;
    br_call_reply(a->call, &resp);
out:
    free(o);
    free(po);
    free(scratch);
}

static void ctl_alter_go(ctl_alter_t *a);

static void ctl_alter_written(void *arg, int rc, const struct Stat *stat)
{
    (void)stat;
    ctl_alter_t *a = arg;
    if ((rc == ZBADVERSION || rc == ZNONODE) && ++a->tries < 5) {
        ctl_alter_go(a);
        return;
    }
    ctl_alter_answer(a, rc == ZOK                            ? ST_OK
                        : zkc_rc_to_err(rc) == ST_ERR_CLOSED ? ST_ERR_REQUEST_TIMED_OUT
                                                             : ST_ERR_UNKNOWN_SERVER_ERROR);
    ctl_alter_free(a);
}

static void ctl_alter_created(void *arg, int rc, const char *path, const struct Stat *stat)
{
    (void)path;
    ctl_alter_written(arg, rc == ZNODEEXISTS ? ZBADVERSION : rc, stat);
}

static void ctl_alter_deleted(void *arg, int rc)
{
    ctl_alter_written(arg, rc, NULL);
}

static void ctl_alter_read(void *arg, int rc, const char *data, int len, const struct Stat *stat)
{
    ctl_alter_t *a = arg;
    zknode_reassign_t d = {0};
    if (rc != ZOK && rc != ZNONODE) {
        if (a->list)
            br_call_reply_error(a->call, ST_ERR_REQUEST_TIMED_OUT, "ZooKeeper is not available");
        else
            ctl_alter_answer(a, ST_ERR_REQUEST_TIMED_OUT);
        ctl_alter_free(a);
        return;
    }
    char err[128];
    if (rc == ZOK && zknode_reassign_decode(data, len > 0 ? (size_t)len : 0, &d, err, sizeof err) != ST_OK)
        zknode_reassign_free(&d); /* a malformed list is replaced */
    const zknode_reassign_part_t *cur = d.parts;
    size_t n_cur = d.n;
    if (a->list) {
        ctl_list_answer(a, cur, n_cur);
        zknode_reassign_free(&d);
        ctl_alter_free(a);
        return;
    }
    /* merge: replace or cancel entries of the same partition, append new */
    zknode_reassign_part_t *m = calloc(n_cur + a->n + 1, sizeof *m);
    size_t k = 0;
    for (size_t i = 0; m && i < n_cur; i++) {
        bool replaced = false;
        for (size_t j = 0; j < a->n && !replaced; j++)
            replaced = a->errs[j] == ST_OK && a->req[j].partition == cur[i].partition &&
                       strcmp(a->req[j].topic, cur[i].topic) == 0;
        if (!replaced)
            m[k++] = cur[i];
    }
    for (size_t j = 0; m && j < a->n; j++)
        if (a->errs[j] == ST_OK && a->req[j].n_replicas > 0)
            m[k++] = a->req[j];
    char *json = m && k ? ctl_reassign_json(m, k) : NULL;
    free(m);
    zknode_reassign_free(&d);
    zkc_t *zk = a->ctl->cp->zk;
    int zrc;
    if (k == 0)
        zrc = rc == ZNONODE ? ZOK : zkc_delete(zk, BR_REASSIGN_PATH, stat->version, ctl_alter_deleted, a);
    else if (!json)
        zrc = ZSYSTEMERROR;
    else if (rc == ZNONODE)
        zrc = zkc_create(zk, BR_REASSIGN_PATH, json, (int)strlen(json), 0, ctl_alter_created, a);
    else
        zrc = zkc_set(zk, BR_REASSIGN_PATH, json, (int)strlen(json), stat->version, ctl_alter_written, a);
    free(json);
    if (k == 0 && rc == ZNONODE) {
        ctl_alter_answer(a, ST_OK);
        ctl_alter_free(a);
    } else if (zrc != ZOK) {
        ctl_alter_answer(a, ST_ERR_REQUEST_TIMED_OUT);
        ctl_alter_free(a);
    }
}

static void ctl_alter_go(ctl_alter_t *a)
{
    if (zkc_get(a->ctl->cp->zk, BR_REASSIGN_PATH, NULL, ctl_alter_read, a) != ZOK) {
        if (a->list)
            br_call_reply_error(a->call, ST_ERR_REQUEST_TIMED_OUT, "ZooKeeper is not available");
        else
            ctl_alter_answer(a, ST_ERR_REQUEST_TIMED_OUT);
        ctl_alter_free(a);
    }
}

static void ctl_alter_reassignments(br_ctl_t *ctl, br_call_t *call,
                                    const Strata__AlterPartitionReassignmentsRequest *req)
{
    br_md_t *md = ctl->cp->md;
    ctl_alter_t *a = calloc(1, sizeof *a);
    if (a) {
        a->req = calloc(req->n_partitions + 1, sizeof *a->req);
        a->errs = calloc(req->n_partitions + 1, sizeof *a->errs);
    }
    if (!a || !a->req || !a->errs) {
        if (a)
            ctl_alter_free(a);
        br_call_reply_error(call, ST_ERR_NOMEM, "out of memory");
        return;
    }
    a->ctl = ctl;
    a->call = call;
    for (size_t i = 0; i < req->n_partitions; i++) {
        const Strata__ReassignablePartition *rp = req->partitions[i];
        zknode_reassign_part_t *r = &a->req[a->n++];
        r->topic = strdup(rp && rp->topic ? rp->topic : "");
        r->partition = rp ? rp->partition : -1;
        r->replicas = calloc((rp ? rp->n_replicas : 0) + 1, sizeof(int32_t));
        if (!r->topic || !r->replicas) {
            a->errs[i] = ST_ERR_NOMEM;
            continue;
        }
        br_md_topic_t *t = br_md_topic(md, r->topic);
        if (!t || !t->loaded || r->partition < 0 || r->partition >= t->n_parts) {
            a->errs[i] = ST_ERR_UNKNOWN_TOPIC_OR_PARTITION;
            continue;
        }
        for (size_t j = 0; j < rp->n_replicas; j++) {
            int32_t id = rp->replicas[j];
            if (id < 0 || ctl_has(r->replicas, r->n_replicas, id) || !br_md_broker_live(md, id)) {
                a->errs[i] = ST_ERR_INVALID_REPLICA_ASSIGNMENT;
                break;
            }
            r->replicas[r->n_replicas++] = id;
        }
        for (size_t j = 0; j < i && a->errs[i] == ST_OK; j++)
            if (a->req[j].partition == r->partition && strcmp(a->req[j].topic, r->topic) == 0)
                a->errs[i] = ST_ERR_INVALID_REQUEST;
    }
    ctl_alter_go(a);
}

static void ctl_list_reassignments(br_ctl_t *ctl, br_call_t *call,
                                   const Strata__ListPartitionReassignmentsRequest *req)
{
    ctl_alter_t *a = calloc(1, sizeof *a);
    if (!a) {
        br_call_reply_error(call, ST_ERR_NOMEM, "out of memory");
        return;
    }
    a->ctl = ctl;
    a->call = call;
    a->list = true;
    size_t n = 0;
    for (size_t i = 0; i < req->n_topic_partitions; i++)
        n += req->topic_partitions[i] ? req->topic_partitions[i]->n_partitions : 0;
    a->req = calloc(n + 1, sizeof *a->req);
    if (!a->req) {
        ctl_alter_free(a);
        br_call_reply_error(call, ST_ERR_NOMEM, "out of memory");
        return;
    }
    for (size_t i = 0; i < req->n_topic_partitions; i++) {
        const Strata__TopicPartitions *tp = req->topic_partitions[i];
        for (size_t j = 0; tp && j < tp->n_partitions; j++) {
            a->req[a->n].topic = strdup(tp->topic ? tp->topic : "");
            a->req[a->n++].partition = tp->partitions[j];
        }
    }
    ctl_alter_go(a);
}

void br_ctl_handle_alter_partition_reassignments(br_ctl_t *ctl, br_call_t *call, const Strata__Request *req)
{
    ctl_alter_reassignments(ctl, call, req->alter_partition_reassignments);
}

void br_ctl_handle_list_partition_reassignments(br_ctl_t *ctl, br_call_t *call, const Strata__Request *req)
{
    ctl_list_reassignments(ctl, call, req->list_partition_reassignments);
}
