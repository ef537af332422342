/*
 * br_ctl: controller election, epoch fencing, the work-item and job
 * machinery and the life cycle (see br_ctl.h; the pieces and the
 * work-item rules are described in br_ctl_int.h). Work items in flight
 * are keyed by a string so that a reconcile pass running while a write is
 * pending does not start it twice; the key is released when the write
 * completes, and the watch that follows brings the cache up to date.
 * A state write also leaves a settle record: until the cache shows the
 * znode version it produced, the partition is not reconciled again.
 */
#include "control/br_ctl.h"

#include <ev.h>
#include <stdlib.h>
#include <string.h>

#include "common/st_clock.h"
#include "common/st_log.h"
#include "control/br_ctl_int.h"

static void ctl_elect(br_ctl_t *ctl);

ctl_req_t *br_ctl_req_new(br_ctl_t *ctl, const char *key)
{
    ctl_req_t *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->ctl = ctl;
    r->gen = ctl->gen;
    r->settle_version = -1;
    if (key)
        snprintf(r->key, sizeof r->key, "%s", key);
    return r;
}

static void ctl_settle_add(br_ctl_t *ctl, const char *topic, int32_t p, int32_t min_version)
{
    ctl_settle_t *n = realloc(ctl->settles, (ctl->n_settles + 1) * sizeof *n);
    if (!n)
        return;
    ctl->settles = n;
    ctl_settle_t *e = &n[ctl->n_settles++];
    snprintf(e->topic, sizeof e->topic, "%s", topic);
    e->partition = p;
    e->min_version = min_version;
    e->until_ms = st_wall_ms() + 5000;
}

/* True while (t,p) waits for the cache to show our write. */
bool br_ctl_settling(br_ctl_t *ctl, const char *topic, int32_t p, bool state_ok, int32_t version)
{
    int64_t now = st_wall_ms();
    for (size_t i = 0; i < ctl->n_settles; i++) {
        ctl_settle_t *e = &ctl->settles[i];
        if (e->partition != p || strcmp(e->topic, topic) != 0)
            continue;
        if ((state_ok && version >= e->min_version) || now > e->until_ms) {
            ctl->settles[i] = ctl->settles[--ctl->n_settles];
            return false;
        }
        return true;
    }
    return false;
}

bool br_ctl_current(const ctl_req_t *r, int rc)
{
    return rc != ZCLOSING && r->gen == r->ctl->gen;
}

bool br_ctl_inflight(br_ctl_t *ctl, const char *key)
{
    for (size_t i = 0; i < ctl->n_inflight; i++)
        if (strcmp(ctl->inflight[i], key) == 0)
            return true;
    return false;
}

bool br_ctl_inflight_add(br_ctl_t *ctl, const char *key)
{
    char **n = realloc(ctl->inflight, (ctl->n_inflight + 1) * sizeof *n);
    if (!n)
        return false;
    ctl->inflight = n;
    if (!(n[ctl->n_inflight] = strdup(key)))
        return false;
    ctl->n_inflight++;
    return true;
}

void br_ctl_inflight_del(br_ctl_t *ctl, const char *key)
{
    for (size_t i = 0; i < ctl->n_inflight; i++) {
        if (strcmp(ctl->inflight[i], key) == 0) {
            free(ctl->inflight[i]);
            ctl->inflight[i] = ctl->inflight[--ctl->n_inflight];
            return;
        }
    }
}

static void ctl_inflight_clear(br_ctl_t *ctl)
{
    for (size_t i = 0; i < ctl->n_inflight; i++)
        free(ctl->inflight[i]);
    ctl->n_inflight = 0;
    ctl->n_settles = 0;
}

void br_ctl_req_free(ctl_req_t *r)
{
    for (size_t i = 0; i < r->n_paths; i++)
        free(r->paths[i]);
    free(r->paths);
    free(r);
}

/* Finish a work item: release its key (when still current). */
void br_ctl_req_done(ctl_req_t *r)
{
    if (r->gen == r->ctl->gen && r->key[0])
        br_ctl_inflight_del(r->ctl, r->key);
    br_ctl_req_free(r);
}

bool br_ctl_active(const br_ctl_t *ctl)
{
    return ctl && ctl->active;
}

void br_ctl_elections(const br_ctl_t *ctl, uint64_t *clean, uint64_t *unclean)
{
    *clean = ctl ? ctl->m_elections_clean : 0;
    *unclean = ctl ? ctl->m_elections_unclean : 0;
}

int32_t br_ctl_epoch(const br_ctl_t *ctl)
{
    return ctl ? ctl->epoch : 0;
}

/* A controller write failed on the epoch check: we were deposed. */
static void ctl_deposed(br_ctl_t *ctl)
{
    if (!ctl->active)
        return;
    ST_WARN(CTL_TAG, "controller epoch %d is stale: another broker is controller now", ctl->epoch);
    ctl->active = false;
    ctl->gen++;
    ctl_inflight_clear(ctl);
    ctl_elect(ctl);
}

/* Common completion of a fenced multi: handles deposition. */
bool br_ctl_multi_ok(ctl_req_t *r, int rc, const zoo_op_result_t *results, int n, const char *what)
{
    if (rc == ZOK)
        return true;
    if (!br_ctl_current(r, rc))
        return false;
    if (n > 0 && results && results[0].err == ZBADVERSION) {
        ctl_deposed(r->ctl);
        return false;
    }
    ST_DEBUG(CTL_TAG, "%s: %s (retrying)", what, zkc_rc_name(rc));
    return false;
}

zkc_multi_t *br_ctl_multi(br_ctl_t *ctl)
{
    zkc_multi_t *m = zkc_multi_new(ctl->cp->zk);
    if (m)
        zkc_multi_check(m, ZKNODE_PATH_CONTROLLER_EPOCH, ctl->epoch_version);
    return m;
}

/* -------------------------------------------------------------- election */

static void ctl_watch(void *arg, int type, const char *path);

static void ctl_deletes_done(void *arg, int rc, const struct String_vector *names)
{
    ctl_req_t *r = arg;
    br_ctl_t *ctl = r->ctl;
    if (br_ctl_current(r, rc) && rc == ZOK) {
        for (size_t i = 0; i < ctl->n_deletes; i++)
            free(ctl->deletes[i]);
        free(ctl->deletes);
        ctl->deletes = calloc((size_t)names->count + 1, sizeof(char *));
        ctl->n_deletes = 0;
        for (int i = 0; ctl->deletes && i < names->count; i++)
            if ((ctl->deletes[ctl->n_deletes] = strdup(names->data[i])))
                ctl->n_deletes++;
        br_ctl_reconcile(ctl);
    }
    br_ctl_req_free(r);
}

static void ctl_list_deletes(br_ctl_t *ctl)
{
    ctl_req_t *r = br_ctl_req_new(ctl, NULL);
    if (r && zkc_children(ctl->cp->zk, ZKNODE_PATH_DELETE_TOPICS, ctl->watch, ctl_deletes_done, r) != ZOK)
        br_ctl_req_free(r);
}

static void ctl_became(br_ctl_t *ctl, int32_t epoch, int32_t version)
{
    ctl->active = true;
    ctl->electing = false;
    ctl->epoch = epoch;
    ctl->epoch_version = version;
    ST_INFO(CTL_TAG, "broker %d is the controller, epoch %d", ctl->cp->broker_id, epoch);
    ctl->next_rebalance_ms = 0;
    ctl_list_deletes(ctl);
    br_ctl_reassign_load(ctl);
    br_ctl_reconcile(ctl);
}

static void ctl_bump_epoch(br_ctl_t *ctl);

static void ctl_epoch_created(void *arg, int rc, const char *path, const struct Stat *stat)
{
    (void)path;
    ctl_req_t *r = arg;
    br_ctl_t *ctl = r->ctl;
    if (br_ctl_current(r, rc)) {
        if (rc == ZOK)
            ctl_became(ctl, 1, stat ? stat->version : 0);
        else
            ctl_bump_epoch(ctl); /* created meanwhile, or a transient error */
    }
    br_ctl_req_free(r);
}

typedef struct ctl_epoch_req {
    ctl_req_t r;
    int32_t next;
} ctl_epoch_req_t;

static void ctl_epoch_set(void *arg, int rc, const struct Stat *stat)
{
    ctl_epoch_req_t *er = arg;
    br_ctl_t *ctl = er->r.ctl;
    if (br_ctl_current(&er->r, rc)) {
        if (rc == ZOK)
            ctl_became(ctl, er->next, stat ? stat->version : 0);
        else
            ctl_bump_epoch(ctl);
    }
    free(er);
}

static void ctl_epoch_read(void *arg, int rc, const char *data, int len, const struct Stat *stat)
{
    ctl_req_t *r = arg;
    br_ctl_t *ctl = r->ctl;
    if (!br_ctl_current(r, rc))
        goto out;
    if (rc == ZNONODE) {
        char *one = zknode_epoch_encode(1);
        ctl_req_t *r2 = br_ctl_req_new(ctl, NULL);
        if (one && r2 &&
            zkc_create(ctl->cp->zk, ZKNODE_PATH_CONTROLLER_EPOCH, one, (int)strlen(one), 0, ctl_epoch_created,
                       r2) == ZOK)
            r2 = NULL;
        free(r2);
        free(one);
        goto out;
    }
    if (rc != ZOK) {
        ctl->electing = false; /* retried by the tick */
        goto out;
    }
    int32_t e = 0;
    if (zknode_epoch_decode(data, (size_t)len, &e) != ST_OK) {
        ST_WARN(CTL_TAG, "/controller_epoch is corrupt: overwriting");
        e = 0;
    }
    ctl_epoch_req_t *er = calloc(1, sizeof *er);
    char *txt = zknode_epoch_encode(e + 1);
    if (er && txt) {
        er->r.ctl = ctl;
        er->r.gen = ctl->gen;
        er->next = e + 1;
        if (zkc_set(ctl->cp->zk, ZKNODE_PATH_CONTROLLER_EPOCH, txt, (int)strlen(txt), stat->version,
                    ctl_epoch_set, er) == ZOK)
            er = NULL;
    }
    free(er);
    free(txt);
out:
    br_ctl_req_free(r);
}

static void ctl_bump_epoch(br_ctl_t *ctl)
{
    ctl_req_t *r = br_ctl_req_new(ctl, NULL);
    if (r && zkc_get(ctl->cp->zk, ZKNODE_PATH_CONTROLLER_EPOCH, NULL, ctl_epoch_read, r) != ZOK) {
        br_ctl_req_free(r);
        ctl->electing = false;
    }
}

static void ctl_controller_read(void *arg, int rc, const char *data, int len, const struct Stat *stat)
{
    ctl_req_t *r = arg;
    br_ctl_t *ctl = r->ctl;
    if (!br_ctl_current(r, rc))
        goto out;
    if (rc == ZNONODE) {
        ctl->electing = false;
        ctl_elect(ctl); /* gone before we could watch it */
        goto out;
    }
    if (rc != ZOK) {
        ctl->electing = false;
        goto out;
    }
    zknode_controller_t c;
    char err[128];
    if (zknode_controller_decode(data, (size_t)len, &c, err, sizeof err) == ST_OK &&
        c.broker_id == ctl->cp->broker_id && stat && stat->ephemeralOwner == zkc_session_id(ctl->cp->zk)) {
        ctl_bump_epoch(ctl); /* ours (a retried create after a disconnect) */
        goto out;
    }
    ctl->electing = false;
out:
    br_ctl_req_free(r);
}

static void ctl_controller_created(void *arg, int rc, const char *path, const struct Stat *stat)
{
    (void)path;
    (void)stat;
    ctl_req_t *r = arg;
    br_ctl_t *ctl = r->ctl;
    if (!br_ctl_current(r, rc))
        goto out;
    if (rc == ZOK) {
        ctl_bump_epoch(ctl);
        goto out;
    }
    /* lost (or unsure): read and watch it */
    ctl_req_t *r2 = br_ctl_req_new(ctl, NULL);
    if (r2 && zkc_get(ctl->cp->zk, ZKNODE_PATH_CONTROLLER, ctl->watch, ctl_controller_read, r2) != ZOK) {
        br_ctl_req_free(r2);
        ctl->electing = false;
    }
out:
    br_ctl_req_free(r);
}

static void ctl_elect(br_ctl_t *ctl)
{
    if (ctl->active || ctl->electing || !ctl->cp->zk || !br_cp_registered(ctl->cp))
        return;
    zknode_controller_t c = {.broker_id = ctl->cp->broker_id, .timestamp_ms = st_wall_ms()};
    char *json = zknode_controller_encode(&c);
    ctl_req_t *r = br_ctl_req_new(ctl, NULL);
    if (json && r &&
        zkc_create(ctl->cp->zk, ZKNODE_PATH_CONTROLLER, json, (int)strlen(json), ZOO_EPHEMERAL,
                   ctl_controller_created, r) == ZOK) {
        ctl->electing = true;
        r = NULL;
    }
    if (r)
        br_ctl_req_free(r);
    free(json);
}

static void ctl_watch(void *arg, int type, const char *path)
{
    br_ctl_t *ctl = arg;
    if (!path)
        return;
    if (strcmp(path, ZKNODE_PATH_CONTROLLER) == 0) {
        if (type == ZOO_DELETED_EVENT && !ctl->active) {
            ctl->electing = false;
            ctl_elect(ctl);
        } else if (!ctl->active) {
            ctl_req_t *r = br_ctl_req_new(ctl, NULL);
            if (r && zkc_get(ctl->cp->zk, ZKNODE_PATH_CONTROLLER, ctl->watch, ctl_controller_read, r) != ZOK)
                br_ctl_req_free(r);
        }
    } else if (strcmp(path, ZKNODE_PATH_DELETE_TOPICS) == 0) {
        if (ctl->active)
            ctl_list_deletes(ctl);
    }
}

/* ------------------------------------------------------ work items */

static void ctl_job_write_done(ctl_job_t *job, size_t idx, st_err_t err);

void br_ctl_write_done(void *arg, int rc, const zoo_op_result_t *results, int n)
{
    ctl_req_t *r = arg;
    ctl_job_t *job = r->job;
    size_t idx = r->job_idx;
    bool ok = br_ctl_multi_ok(r, rc, results, n, r->key);
    if (ok) {
        ST_DEBUG(CTL_TAG, "%s written", r->key);
        if (r->settle_version >= 0 && r->gen == r->ctl->gen)
            ctl_settle_add(r->ctl, r->topic, r->partition, r->settle_version);
    }
    br_ctl_req_done(r);
    if (job)
        ctl_job_write_done(job, idx,
                           ok               ? ST_OK
                           : rc == ZCLOSING ? ST_ERR_NOT_CONTROLLER
                                            : ST_ERR_REQUEST_TIMED_OUT);
}

/* Commit m as work item key; m is consumed. A state write names its
 * partition and the znode version it produces (settle_version >= 0). */
static bool ctl_commit_job(br_ctl_t *ctl, zkc_multi_t *m, const char *key, const char *topic, int32_t p,
                           int32_t settle_version, ctl_job_t *job, size_t idx)
{
    ctl_req_t *r = br_ctl_req_new(ctl, key);
    if (r && topic) {
        snprintf(r->topic, sizeof r->topic, "%s", topic);
        r->partition = p;
        r->settle_version = settle_version;
    }
    if (!r || !m || !br_ctl_inflight_add(ctl, key)) {
        zkc_multi_free(m);
        free(r);
        return false;
    }
    r->job = job;
    r->job_idx = idx;
    if (zkc_multi_commit(ctl->cp->zk, m, br_ctl_write_done, r) != ZOK) {
        br_ctl_inflight_del(ctl, key);
        free(r);
        return false;
    }
    return true;
}

void br_ctl_commit_state(br_ctl_t *ctl, zkc_multi_t *m, const char *key, const char *topic, int32_t p,
                         int32_t settle_version)
{
    ctl_commit_job(ctl, m, key, topic, p, settle_version, NULL, 0);
}

void br_ctl_commit(br_ctl_t *ctl, zkc_multi_t *m, const char *key)
{
    br_ctl_commit_state(ctl, m, key, NULL, -1, -1);
}

/* ------------------------------------------------------------- jobs */

ctl_job_t *br_ctl_job_new(br_ctl_t *ctl, size_t n, void (*finish)(ctl_job_t *))
{
    ctl_job_t *job = calloc(1, sizeof *job);
    if (!job)
        return NULL;
    job->ctl = ctl;
    job->finish = finish;
    job->start_ms = st_wall_ms();
    job->topics = calloc(n + 1, sizeof *job->topics);
    job->parts = calloc(n + 1, sizeof *job->parts);
    job->errs = calloc(n + 1, sizeof *job->errs);
    job->outstanding = 1; /* held while issuing */
    if (!job->topics || !job->parts || !job->errs) {
        free(job->topics);
        free(job->parts);
        free(job->errs);
        free(job);
        return NULL;
    }
    return job;
}

size_t br_ctl_job_add(ctl_job_t *job, const char *topic, int32_t p, st_err_t err)
{
    size_t i = job->n++;
    job->topics[i] = strdup(topic);
    job->parts[i] = p;
    job->errs[i] = err;
    return i;
}

static void ctl_job_free(ctl_job_t *job)
{
    for (size_t i = 0; i < job->n; i++)
        free(job->topics[i]);
    free(job->topics);
    free(job->parts);
    free(job->errs);
    free(job);
}

void br_ctl_job_release(ctl_job_t *job)
{
    if (--job->outstanding > 0)
        return;
    if (job->finish)
        job->finish(job);
    ctl_job_free(job);
}

static void ctl_job_write_done(ctl_job_t *job, size_t idx, st_err_t err)
{
    if (idx < job->n)
        job->errs[idx] = err;
    br_ctl_job_release(job);
}

/* Write next as the state of t/p for job entry idx (or for nobody when
 * job is NULL). Returns false when the write could not start (another
 * write of that partition in flight, not connected). */
bool br_ctl_write_state(br_ctl_t *ctl, br_md_topic_t *t, int32_t p, zknode_part_state_t *next, ctl_job_t *job,
                        size_t idx, const char *why)
{
    br_md_part_t *part = &t->parts[p];
    char key[300], path[512];
    snprintf(key, sizeof key, "s:%s/%d", t->name, p);
    if (br_ctl_inflight(ctl, key) ||
        br_ctl_settling(ctl, t->name, p, part->kind == BR_MD_STATE_OK, part->state_version) ||
        zknode_path_partition_state(path, sizeof path, t->name, p) < 0)
        return false;
    next->controller_epoch = ctl->epoch;
    char *json = zknode_part_state_encode(next);
    zkc_multi_t *m = json ? br_ctl_multi(ctl) : NULL;
    if (!m) {
        free(json);
        return false;
    }
    zkc_multi_set(m, path, json, (int)strlen(json), part->state_version);
    free(json);
    if (job)
        job->outstanding++;
    if (!ctl_commit_job(ctl, m, key, t->name, p, part->state_version + 1, job, idx)) {
        if (job)
            job->outstanding--;
        return false;
    }
    ST_INFO(CTL_TAG, "%s-%d: %s: leader %d -> %d, leader epoch %d, ISR size %zu", t->name, p, why,
            part->leader, next->leader, next->leader_epoch, next->n_isr);
    return true;
}

/* ------------------------------------------------------------------ API */

static void ctl_reconcile_soon(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    br_ctl_reconcile(w->data);
}

br_ctl_t *br_ctl_new(const br_cp_t *cp)
{
    br_ctl_t *ctl = calloc(1, sizeof *ctl);
    if (!ctl)
        return NULL;
    ctl->cp = cp;
    ev_timer_init(&ctl->reconcile_soon, ctl_reconcile_soon, 0., 0.);
    ctl->reconcile_soon.data = ctl;
    ctl->watch = zkc_watcher_new(cp->zk, ctl_watch, ctl);
    ctl->reassign_watch = zkc_watcher_new(cp->zk, br_ctl_reassign_watch, ctl);
    ctl->reassign_version = -1;
    if (!ctl->watch || !ctl->reassign_watch) {
        free(ctl);
        return NULL;
    }
    return ctl;
}

void br_ctl_free(br_ctl_t *ctl)
{
    if (!ctl)
        return;
    if (ctl->cp->loop)
        ev_timer_stop(ctl->cp->loop, &ctl->reconcile_soon);
    ctl_inflight_clear(ctl);
    free(ctl->inflight);
    free(ctl->settles);
    for (size_t i = 0; i < ctl->n_deletes; i++)
        free(ctl->deletes[i]);
    free(ctl->deletes);
    br_ctl_reassign_clear(ctl);
    free(ctl->shutting);
    free(ctl->shutting_until);
    free(ctl->shutting_epoch);
    free(ctl->seen);
    free(ctl);
}

void br_ctl_start(br_ctl_t *ctl)
{
    ctl->gen++;
    ctl->active = false;
    ctl->electing = false;
    ctl_inflight_clear(ctl);
    ctl_elect(ctl);
}

void br_ctl_resign(br_ctl_t *ctl)
{
    if (ctl->active)
        ST_WARN(CTL_TAG, "resigning as controller (session lost)");
    ctl->gen++;
    ctl->active = false;
    ctl->electing = false;
    ctl_inflight_clear(ctl);
    ctl->n_seen = 0; /* a controller again starts from what it then reads */
}

void br_ctl_md_changed(br_ctl_t *ctl)
{
    if (!ctl)
        return;
    if (!ctl->active) /* nothing to reconcile; the tick elects */
        return;
    if (!ctl->cp->loop) {
        br_ctl_reconcile(ctl);
        return;
    }
    if (!ev_is_active(&ctl->reconcile_soon))
        ev_timer_start(ctl->cp->loop, &ctl->reconcile_soon);
}

void br_ctl_tick(br_ctl_t *ctl)
{
    if (!ctl || !br_cp_registered(ctl->cp))
        return;
    if (ctl->active) {
        br_ctl_reconcile(ctl);
        if (br_md_ready(ctl->cp->md))
            br_ctl_auto_rebalance(ctl);
    } else if (!ctl->electing && br_md_controller_id(ctl->cp->md) < 0)
        ctl_elect(ctl);
}
