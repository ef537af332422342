/*
 * br_ctl: election, epoch fencing and reconciliation (see
 * br_ctl.h). Work items in flight are keyed by a string ("s:t/p",
 * "id:t", "del:t") so that a reconcile pass running while a write is
 * pending does not start it twice; the key is released when the write
 * completes, and the watch that follows brings the cache up to date.
 */
#include "control/br_ctl.h"

#include <ev.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "control/br_md.h"
#include "common/st_log.h"

#define CTL_TAG "controller"

struct br_ctl {
    const br_cp_t *cp;
    zkc_watcher_t *watch;
    uint64_t gen;
    bool active;
    bool electing;
    int32_t epoch;
    int32_t epoch_version;
    char **inflight;
    size_t n_inflight;
    char **deletes;          /* children of /admin/delete_topics */
    size_t n_deletes;
    struct ctl_settle *settles; /* state writes done, cache not caught up yet */
    size_t n_settles;
    int32_t *shutting;       /* brokers in controlled shutdown */
    int64_t *shutting_until;
    int64_t *shutting_epoch; /* the registration that is stopping */
    size_t n_shutting;
    int64_t next_rebalance_ms;
    /* reassignment */
    zkc_watcher_t *reassign_watch;
    struct ctl_reassign *reassigns; /* /admin/reassign_partitions as last read */
    size_t n_reassigns;
    int32_t reassign_version;       /* its znode version, -1 absent */
    bool reassign_writing;
    /* metadata changes arrive one znode at a time (hundreds after a broker
     * dies): one reconcile per loop iteration covers all of them */
    ev_timer reconcile_soon;
};

/* A partition state we wrote: until the cache shows at least this znode
 * version, reconciling it again would only race our own write. */
typedef struct ctl_settle {
    char topic[256];
    int32_t partition;
    int32_t min_version;
    int64_t until_ms;
} ctl_settle_t;

typedef struct ctl_req {
    br_ctl_t *ctl;
    uint64_t gen;
    char key[300];
    char topic[256];
    int32_t partition;
    int stage;
    int32_t settle_version;  /* state writes: version the write produces, -1 none */
    /* delete jobs: collected paths */
    char **paths;
    size_t n_paths;
    int outstanding;
    /* state writes of a job (controlled shutdown, elections) */
    struct ctl_job *job;
    size_t job_idx;
} ctl_req_t;

typedef struct ctl_reassign {
    zknode_reassign_part_t r;
    bool done;
} ctl_reassign_t;

/* A batch of state writes whose outcome someone waits for: finish runs
 * once every write completed (ok[i] tells which succeeded). */
typedef struct ctl_job {
    br_ctl_t *ctl;
    size_t n;                /* entries */
    char **topics;
    int32_t *parts;
    st_err_t *errs;          /* per entry: ST_OK = written */
    int outstanding;         /* writes in flight (+1 while issuing) */
    int64_t start_ms;
    void (*finish)(struct ctl_job *job);
    /* owner data */
    int32_t broker_id;
    br_ctl_cs_fn cs_fn;
    void *cs_arg;
    br_call_t *call;
    bool skip_not_needed;
} ctl_job_t;

static void ctl_elect(br_ctl_t *ctl);
static void ctl_reconcile(br_ctl_t *ctl);
static void ctl_reassign_load(br_ctl_t *ctl);
static void ctl_reassign_reconcile(br_ctl_t *ctl);

static ctl_req_t *ctl_req_new(br_ctl_t *ctl, const char *key)
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
    e->until_ms = br_cp_now_ms() + 5000;
}

/* True while (t,p) waits for the cache to show our write. */
static bool ctl_settling(br_ctl_t *ctl, const char *topic, int32_t p, bool state_ok, int32_t version)
{
    int64_t now = br_cp_now_ms();
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

static bool ctl_current(const ctl_req_t *r, int rc)
{
    return rc != ZCLOSING && r->gen == r->ctl->gen;
}

static bool ctl_inflight(br_ctl_t *ctl, const char *key)
{
    for (size_t i = 0; i < ctl->n_inflight; i++)
        if (strcmp(ctl->inflight[i], key) == 0)
            return true;
    return false;
}

static bool ctl_inflight_add(br_ctl_t *ctl, const char *key)
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

static void ctl_inflight_del(br_ctl_t *ctl, const char *key)
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

static void ctl_req_free(ctl_req_t *r)
{
    for (size_t i = 0; i < r->n_paths; i++)
        free(r->paths[i]);
    free(r->paths);
    free(r);
}

/* Finish a work item: release its key (when still current). */
static void ctl_req_done(ctl_req_t *r)
{
    if (r->gen == r->ctl->gen && r->key[0])
        ctl_inflight_del(r->ctl, r->key);
    ctl_req_free(r);
}

bool br_ctl_active(const br_ctl_t *ctl)
{
    return ctl && ctl->active;
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
static bool ctl_multi_ok(ctl_req_t *r, int rc, const zoo_op_result_t *results, int n, const char *what)
{
    if (rc == ZOK)
        return true;
    if (!ctl_current(r, rc))
        return false;
    if (n > 0 && results && results[0].err == ZBADVERSION) {
        ctl_deposed(r->ctl);
        return false;
    }
    ST_DEBUG(CTL_TAG, "%s: %s (retrying)", what, zkc_rc_name(rc));
    return false;
}

static zkc_multi_t *ctl_multi(br_ctl_t *ctl)
{
    zkc_multi_t *m = zkc_multi_new(ctl->cp->zk);
    if (m)
        zkc_multi_check(m, ZKNODE_PATH_CONTROLLER_EPOCH, ctl->epoch_version);
    return m;
}

/* ------------------------------------------------------- election rule */

static bool ctl_has(const int32_t *v, size_t n, int32_t x)
{
    for (size_t i = 0; i < n; i++)
        if (v[i] == x)
            return true;
    return false;
}

bool br_ctl_next_state(const zknode_part_state_t *cur, const int32_t *replicas, size_t n_replicas, bool unclean,
                       bool (*live)(void *arg, int32_t id), void *arg, zknode_part_state_t *out)
{
    memset(out, 0, sizeof *out);
    int32_t *isr = malloc((cur->n_isr + n_replicas + 1) * sizeof *isr);
    if (!isr)
        return false;
    size_t n_isr = 0;
    for (size_t i = 0; i < cur->n_isr; i++)
        if (live(arg, cur->isr[i]))
            isr[n_isr++] = cur->isr[i];
    int32_t leader = cur->leader;
    if (leader >= 0 && live(arg, leader)) {
        if (!ctl_has(isr, n_isr, leader))
            isr[n_isr++] = leader;
        if (n_isr == cur->n_isr) {
            free(isr);
            return false; /* nothing dead in the ISR */
        }
    } else {
        int32_t cand = -1;
        for (size_t i = 0; i < n_replicas && cand < 0; i++)
            if (live(arg, replicas[i]) && ctl_has(cur->isr, cur->n_isr, replicas[i]))
                cand = replicas[i];
        if (cand < 0 && unclean) {
            for (size_t i = 0; i < n_replicas && cand < 0; i++)
                if (live(arg, replicas[i]))
                    cand = replicas[i];
            if (cand >= 0) {
                isr[0] = cand;
                n_isr = 1;
            }
        }
        if (cand < 0) {
            if (leader < 0) {
                free(isr);
                return false; /* already offline */
            }
            /* offline: keep the last ISR so that its return is clean */
            n_isr = cur->n_isr;
            if (n_isr)
                memcpy(isr, cur->isr, n_isr * sizeof *isr);
        }
        leader = cand;
    }
    out->leader = leader;
    out->leader_epoch = cur->leader_epoch + 1;
    out->controller_epoch = cur->controller_epoch;
    out->isr = isr;
    out->n_isr = n_isr;
    return true;
}

/* -------------------------------------------------------------- election */

static void ctl_watch(void *arg, int type, const char *path);

static void ctl_deletes_done(void *arg, int rc, const struct String_vector *names)
{
    ctl_req_t *r = arg;
    br_ctl_t *ctl = r->ctl;
    if (ctl_current(r, rc) && rc == ZOK) {
        for (size_t i = 0; i < ctl->n_deletes; i++)
            free(ctl->deletes[i]);
        free(ctl->deletes);
        ctl->deletes = calloc((size_t)names->count + 1, sizeof(char *));
        ctl->n_deletes = 0;
        for (int i = 0; ctl->deletes && i < names->count; i++)
            if ((ctl->deletes[ctl->n_deletes] = strdup(names->data[i])))
                ctl->n_deletes++;
        ctl_reconcile(ctl);
    }
    ctl_req_free(r);
}

static void ctl_list_deletes(br_ctl_t *ctl)
{
    ctl_req_t *r = ctl_req_new(ctl, NULL);
    if (r && zkc_children(ctl->cp->zk, ZKNODE_PATH_DELETE_TOPICS, ctl->watch, ctl_deletes_done, r) != ZOK)
        ctl_req_free(r);
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
    ctl_reassign_load(ctl);
    ctl_reconcile(ctl);
}

static void ctl_bump_epoch(br_ctl_t *ctl);

static void ctl_epoch_created(void *arg, int rc, const char *path, const struct Stat *stat)
{
    (void)path;
    ctl_req_t *r = arg;
    br_ctl_t *ctl = r->ctl;
    if (ctl_current(r, rc)) {
        if (rc == ZOK)
            ctl_became(ctl, 1, stat ? stat->version : 0);
        else
            ctl_bump_epoch(ctl); /* created meanwhile, or a transient error */
    }
    ctl_req_free(r);
}

typedef struct ctl_epoch_req {
    ctl_req_t r;
    int32_t next;
} ctl_epoch_req_t;

static void ctl_epoch_set(void *arg, int rc, const struct Stat *stat)
{
    ctl_epoch_req_t *er = arg;
    br_ctl_t *ctl = er->r.ctl;
    if (ctl_current(&er->r, rc)) {
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
    if (!ctl_current(r, rc))
        goto out;
    if (rc == ZNONODE) {
        char *one = zknode_epoch_encode(1);
        ctl_req_t *r2 = ctl_req_new(ctl, NULL);
        if (one && r2 &&
            zkc_create(ctl->cp->zk, ZKNODE_PATH_CONTROLLER_EPOCH, one, (int)strlen(one), 0, ctl_epoch_created, r2) == ZOK)
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
        if (zkc_set(ctl->cp->zk, ZKNODE_PATH_CONTROLLER_EPOCH, txt, (int)strlen(txt), stat->version, ctl_epoch_set, er) ==
            ZOK)
            er = NULL;
    }
    free(er);
    free(txt);
out:
    ctl_req_free(r);
}

static void ctl_bump_epoch(br_ctl_t *ctl)
{
    ctl_req_t *r = ctl_req_new(ctl, NULL);
    if (r && zkc_get(ctl->cp->zk, ZKNODE_PATH_CONTROLLER_EPOCH, NULL, ctl_epoch_read, r) != ZOK) {
        ctl_req_free(r);
        ctl->electing = false;
    }
}

static void ctl_controller_read(void *arg, int rc, const char *data, int len, const struct Stat *stat)
{
    ctl_req_t *r = arg;
    br_ctl_t *ctl = r->ctl;
    if (!ctl_current(r, rc))
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
    if (zknode_controller_decode(data, (size_t)len, &c, err, sizeof err) == ST_OK && c.broker_id == ctl->cp->broker_id &&
        stat && stat->ephemeralOwner == zkc_session_id(ctl->cp->zk)) {
        ctl_bump_epoch(ctl); /* ours (a retried create after a disconnect) */
        goto out;
    }
    ctl->electing = false;
out:
    ctl_req_free(r);
}

static void ctl_controller_created(void *arg, int rc, const char *path, const struct Stat *stat)
{
    (void)path;
    (void)stat;
    ctl_req_t *r = arg;
    br_ctl_t *ctl = r->ctl;
    if (!ctl_current(r, rc))
        goto out;
    if (rc == ZOK) {
        ctl_bump_epoch(ctl);
        goto out;
    }
    /* lost (or unsure): read and watch it */
    ctl_req_t *r2 = ctl_req_new(ctl, NULL);
    if (r2 && zkc_get(ctl->cp->zk, ZKNODE_PATH_CONTROLLER, ctl->watch, ctl_controller_read, r2) != ZOK) {
        ctl_req_free(r2);
        ctl->electing = false;
    }
out:
    ctl_req_free(r);
}

static void ctl_elect(br_ctl_t *ctl)
{
    if (ctl->active || ctl->electing || !ctl->cp->zk || !br_cp_registered(ctl->cp))
        return;
    zknode_controller_t c = {.broker_id = ctl->cp->broker_id, .timestamp_ms = br_cp_now_ms()};
    char *json = zknode_controller_encode(&c);
    ctl_req_t *r = ctl_req_new(ctl, NULL);
    if (json && r &&
        zkc_create(ctl->cp->zk, ZKNODE_PATH_CONTROLLER, json, (int)strlen(json), ZOO_EPHEMERAL, ctl_controller_created,
                   r) == ZOK) {
        ctl->electing = true;
        r = NULL;
    }
    if (r)
        ctl_req_free(r);
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
            ctl_req_t *r = ctl_req_new(ctl, NULL);
            if (r && zkc_get(ctl->cp->zk, ZKNODE_PATH_CONTROLLER, ctl->watch, ctl_controller_read, r) != ZOK)
                ctl_req_free(r);
        }
    } else if (strcmp(path, ZKNODE_PATH_DELETE_TOPICS) == 0) {
        if (ctl->active)
            ctl_list_deletes(ctl);
    }
}

/* ------------------------------------------------------- reconciliation */

/* Liveness of one partition's replicas: a broker whose registration lists
 * this partition in a failed log directory counts as dead for it. */
typedef struct ctl_pl {
    br_md_t *md;
    const char *topic;
    int32_t partition;
} ctl_pl_t;

static bool ctl_live_part(void *arg, int32_t id)
{
    const ctl_pl_t *pl = arg;
    return br_md_replica_live(pl->md, id, pl->topic, pl->partition);
}

static void ctl_job_write_done(ctl_job_t *job, size_t idx, st_err_t err);

static void ctl_write_done(void *arg, int rc, const zoo_op_result_t *results, int n)
{
    ctl_req_t *r = arg;
    ctl_job_t *job = r->job;
    size_t idx = r->job_idx;
    bool ok = ctl_multi_ok(r, rc, results, n, r->key);
    if (ok) {
        ST_DEBUG(CTL_TAG, "%s written", r->key);
        if (r->settle_version >= 0 && r->gen == r->ctl->gen)
            ctl_settle_add(r->ctl, r->topic, r->partition, r->settle_version);
    }
    ctl_req_done(r);
    if (job)
        ctl_job_write_done(job, idx, ok ? ST_OK : rc == ZCLOSING ? ST_ERR_NOT_CONTROLLER : ST_ERR_REQUEST_TIMED_OUT);
}

/* Commit m as work item key; m is consumed. A state write names its
 * partition and the znode version it produces (settle_version >= 0). */
static bool ctl_commit_job(br_ctl_t *ctl, zkc_multi_t *m, const char *key, const char *topic, int32_t p,
                           int32_t settle_version, ctl_job_t *job, size_t idx)
{
    ctl_req_t *r = ctl_req_new(ctl, key);
    if (r && topic) {
        snprintf(r->topic, sizeof r->topic, "%s", topic);
        r->partition = p;
        r->settle_version = settle_version;
    }
    if (!r || !m || !ctl_inflight_add(ctl, key)) {
        zkc_multi_free(m);
        free(r);
        return false;
    }
    r->job = job;
    r->job_idx = idx;
    if (zkc_multi_commit(ctl->cp->zk, m, ctl_write_done, r) != ZOK) {
        ctl_inflight_del(ctl, key);
        free(r);
        return false;
    }
    return true;
}

static void ctl_commit_state(br_ctl_t *ctl, zkc_multi_t *m, const char *key, const char *topic, int32_t p,
                             int32_t settle_version)
{
    ctl_commit_job(ctl, m, key, topic, p, settle_version, NULL, 0);
}

static void ctl_commit(br_ctl_t *ctl, zkc_multi_t *m, const char *key)
{
    ctl_commit_state(ctl, m, key, NULL, -1, -1);
}

/* New partition: look which of .../partitions and .../partitions/<p>
 * exist (reads), then one fenced multi creates the missing parents and the
 * state. r->stage: 0 = asking for .../partitions, 1 = for .../<p>; bit 4
 * and 8 of r->outstanding record "missing". */
static void ctl_new_part_step(void *arg, int rc, const struct Stat *stat)
{
    (void)stat;
    ctl_req_t *r = arg;
    br_ctl_t *ctl = r->ctl;
    if (!ctl_current(r, rc) || (rc != ZOK && rc != ZNONODE) || !ctl->active) {
        ctl_req_done(r);
        return;
    }
    char p[512], parts[512], part[512];
    if (rc == ZNONODE)
        r->outstanding |= r->stage == 0 ? 4 : 8;
    if (r->stage == 0) {
        r->stage = 1;
        if (zknode_path_partition(p, sizeof p, r->topic, r->partition) < 0 ||
            zkc_exists(ctl->cp->zk, p, NULL, ctl_new_part_step, r) != ZOK)
            ctl_req_done(r);
        return;
    }
    br_md_topic_t *t = br_md_topic(ctl->cp->md, r->topic);
    if (!t || r->partition >= t->n_parts || zknode_path_partition_state(p, sizeof p, r->topic, r->partition) < 0 ||
        zknode_path_partitions(parts, sizeof parts, r->topic) < 0 ||
        zknode_path_partition(part, sizeof part, r->topic, r->partition) < 0) {
        ctl_req_done(r);
        return;
    }
    br_md_part_t *bp = &t->parts[r->partition];
    zknode_part_state_t s = {.leader = -1, .leader_epoch = 0, .controller_epoch = ctl->epoch};
    s.isr = malloc((bp->n_replicas + 1) * sizeof(int32_t));
    for (size_t i = 0; s.isr && i < bp->n_replicas; i++) {
        if (br_md_replica_live(ctl->cp->md, bp->replicas[i], r->topic, r->partition)) {
            if (s.leader < 0)
                s.leader = bp->replicas[i];
            s.isr[s.n_isr++] = bp->replicas[i];
        }
    }
    if (s.isr && s.n_isr == 0) {
        /* nobody alive: whoever of the replicas comes first will lead */
        memcpy(s.isr, bp->replicas, bp->n_replicas * sizeof(int32_t));
        s.n_isr = bp->n_replicas;
    }
    char *json = s.isr ? zknode_part_state_encode(&s) : NULL;
    free(s.isr);
    r->settle_version = 0;
    zkc_multi_t *m = json ? ctl_multi(ctl) : NULL;
    if (m) {
        if (r->outstanding & 4)
            zkc_multi_create(m, parts, NULL, 0, 0);
        if (r->outstanding & 8)
            zkc_multi_create(m, part, NULL, 0, 0);
        zkc_multi_create(m, p, json, (int)strlen(json), 0);
    }
    free(json);
    if (!m || zkc_multi_commit(ctl->cp->zk, m, ctl_write_done, r) != ZOK) {
        ctl_req_done(r);
        return;
    }
    ST_INFO(CTL_TAG, "%s-%d: creating state (leader %d)", r->topic, r->partition, s.leader);
}

static void ctl_new_part(br_ctl_t *ctl, br_md_topic_t *t, int32_t p, const char *key)
{
    char path[512];
    ctl_req_t *r = ctl_req_new(ctl, key);
    if (!r)
        return;
    snprintf(r->topic, sizeof r->topic, "%s", t->name);
    r->partition = p;
    if (zknode_path_partitions(path, sizeof path, t->name) < 0 || !ctl_inflight_add(ctl, key)) {
        free(r);
        return;
    }
    if (zkc_exists(ctl->cp->zk, path, NULL, ctl_new_part_step, r) != ZOK) {
        ctl_inflight_del(ctl, key);
        free(r);
    }
}

static void ctl_topic_id(br_ctl_t *ctl, br_md_topic_t *t)
{
    char key[300], path[512];
    snprintf(key, sizeof key, "id:%s", t->name);
    if (ctl_inflight(ctl, key) || zknode_path_topic(path, sizeof path, t->name) < 0)
        return;
    zknode_topic_t zt = {.n_partitions = t->n_parts};
    zt.replicas = calloc((size_t)t->n_parts + 1, sizeof *zt.replicas);
    zt.n_replicas = calloc((size_t)t->n_parts + 1, sizeof *zt.n_replicas);
    if (!zt.replicas || !zt.n_replicas)
        goto out;
    for (int32_t p = 0; p < t->n_parts; p++) {
        zt.replicas[p] = t->parts[p].replicas;
        zt.n_replicas[p] = (int32_t)t->parts[p].n_replicas;
    }
    char id[23];
    zknode_new_id(id);
    snprintf(zt.topic_id, sizeof zt.topic_id, "%s", id);
    char *json = zknode_topic_encode(&zt);
    zkc_multi_t *m = json ? ctl_multi(ctl) : NULL;
    if (m) {
        zkc_multi_set(m, path, json, (int)strlen(json), t->version);
        ST_INFO(CTL_TAG, "topic %s: assigning topic id %s", t->name, id);
        ctl_commit(ctl, m, key);
    }
    free(json);
out:
    free(zt.replicas);
    free(zt.n_replicas);
}

static void ctl_part_state(br_ctl_t *ctl, br_md_topic_t *t, int32_t p, bool unclean)
{
    br_md_part_t *part = &t->parts[p];
    char key[300], path[512];
    snprintf(key, sizeof key, "s:%s/%d", t->name, p);
    if (ctl_inflight(ctl, key) || ctl_settling(ctl, t->name, p, part->kind == BR_MD_STATE_OK, part->state_version))
        return;
    if (part->kind == BR_MD_STATE_NONE) {
        ctl_new_part(ctl, t, p, key);
        return;
    }
    if (part->kind != BR_MD_STATE_OK)
        return;
    zknode_part_state_t cur = {.leader = part->leader,
                            .leader_epoch = part->leader_epoch,
                            .controller_epoch = part->controller_epoch,
                            .isr = part->isr,
                            .n_isr = part->n_isr};
    zknode_part_state_t next;
    ctl_pl_t pl = {.md = ctl->cp->md, .topic = t->name, .partition = p};
    if (!br_ctl_next_state(&cur, part->replicas, part->n_replicas, unclean, ctl_live_part, &pl, &next))
        return;
    next.controller_epoch = ctl->epoch;
    char *json = zknode_part_state_encode(&next);
    if (json && zknode_path_partition_state(path, sizeof path, t->name, p) >= 0) {
        zkc_multi_t *m = ctl_multi(ctl);
        if (m) {
            zkc_multi_set(m, path, json, (int)strlen(json), part->state_version);
            ST_INFO(CTL_TAG, "%s-%d: leader %d -> %d, leader epoch %d%s", t->name, p, part->leader, next.leader,
                    next.leader_epoch, next.leader < 0 ? " (offline)" : "");
            ctl_commit_state(ctl, m, key, t->name, p, part->state_version + 1);
        }
    }
    free(json);
    zknode_part_state_free(&next);
}

/* ---- topic deletion: collect the subtree, delete it in one fenced multi */

static void ctl_del_collect(ctl_req_t *r, const char *path);

static void ctl_del_finish(ctl_req_t *r)
{
    br_ctl_t *ctl = r->ctl;
    /* deepest first */
    for (size_t i = 0; i < r->n_paths; i++) {
        for (size_t j = i + 1; j < r->n_paths; j++) {
            size_t di = 0, dj = 0;
            for (const char *c = r->paths[i]; *c; c++)
                di += *c == '/';
            for (const char *c = r->paths[j]; *c; c++)
                dj += *c == '/';
            if (dj > di) {
                char *tmp = r->paths[i];
                r->paths[i] = r->paths[j];
                r->paths[j] = tmp;
            }
        }
    }
    char adm[512];
    zkc_multi_t *m = ctl_multi(ctl);
    if (!m || zknode_path_delete_topic(adm, sizeof adm, r->topic) < 0) {
        zkc_multi_free(m);
        ctl_req_done(r);
        return;
    }
    for (size_t i = 0; i < r->n_paths; i++)
        zkc_multi_delete(m, r->paths[i], -1);
    zkc_multi_delete(m, adm, -1);
    ST_INFO(CTL_TAG, "deleting topic %s (%zu znodes)", r->topic, r->n_paths);
    if (zkc_multi_commit(ctl->cp->zk, m, ctl_write_done, r) != ZOK)
        ctl_req_done(r);
}

typedef struct ctl_del_child {
    ctl_req_t *r;
    char path[512];
} ctl_del_child_t;

static void ctl_del_children(void *arg, int rc, const struct String_vector *names)
{
    ctl_del_child_t *c = arg;
    ctl_req_t *r = c->r;
    r->outstanding--;
    if (rc == ZOK && ctl_current(r, rc)) {
        char **np = realloc(r->paths, (r->n_paths + 1) * sizeof *np);
        if (np) {
            r->paths = np;
            if ((np[r->n_paths] = strdup(c->path)))
                r->n_paths++;
        }
        for (int i = 0; i < names->count; i++) {
            char child[512];
            if (snprintf(child, sizeof child, "%s/%s", c->path, names->data[i]) < (int)sizeof child)
                ctl_del_collect(r, child);
        }
    } else if (rc != ZNONODE) {
        r->stage = -1; /* failed: give up this round */
    }
    free(c);
    if (r->outstanding == 0) {
        if (r->stage < 0 || !ctl_current(r, ZOK) || !r->ctl->active)
            ctl_req_done(r);
        else
            ctl_del_finish(r);
    }
}

static void ctl_del_collect(ctl_req_t *r, const char *path)
{
    ctl_del_child_t *c = calloc(1, sizeof *c);
    if (!c) {
        r->stage = -1;
        return;
    }
    c->r = r;
    snprintf(c->path, sizeof c->path, "%s", path);
    r->outstanding++;
    if (zkc_children(r->ctl->cp->zk, path, NULL, ctl_del_children, c) != ZOK) {
        r->outstanding--;
        r->stage = -1;
        free(c);
    }
}

static void ctl_delete_topic(br_ctl_t *ctl, const char *topic)
{
    char key[300], p1[512], p2[512];
    snprintf(key, sizeof key, "del:%s", topic);
    if (ctl_inflight(ctl, key))
        return;
    if (!ctl->cp->conf->delete_topic_enable) {
        ST_WARN(CTL_TAG, "topic %s marked for deletion but delete.topic.enable=false", topic);
        return;
    }
    if (!zknode_topic_name_valid(topic) || zknode_path_topic(p1, sizeof p1, topic) < 0 ||
        zknode_path_topic_config(p2, sizeof p2, topic) < 0) {
        /* a bogus marker: remove it */
        char adm[600];
        snprintf(adm, sizeof adm, "%s/%s", ZKNODE_PATH_DELETE_TOPICS, topic);
        zkc_multi_t *m = ctl_multi(ctl);
        if (m) {
            zkc_multi_delete(m, adm, -1);
            ctl_commit(ctl, m, key);
        }
        return;
    }
    ctl_req_t *r = ctl_req_new(ctl, key);
    if (!r || !ctl_inflight_add(ctl, key)) {
        free(r);
        return;
    }
    snprintf(r->topic, sizeof r->topic, "%s", topic);
    r->outstanding = 1; /* hold the job open while issuing */
    ctl_del_collect(r, p1);
    ctl_del_collect(r, p2);
    r->outstanding--;
    if (r->outstanding == 0) {
        if (r->stage < 0)
            ctl_req_done(r);
        else
            ctl_del_finish(r);
    }
}

static void ctl_reconcile(br_ctl_t *ctl)
{
    br_md_t *md = ctl->cp->md;
    if (!ctl->active || !md || !br_md_ready(md) || zkc_state(ctl->cp->zk) != ZKC_CONNECTED)
        return;
    for (size_t i = 0; i < ctl->n_deletes; i++)
        ctl_delete_topic(ctl, ctl->deletes[i]);
    for (br_md_topic_t *t = br_md_topics(md); t; t = t->next) {
        if (!t->loaded)
            continue;
        bool deleting = false;
        for (size_t i = 0; i < ctl->n_deletes && !deleting; i++)
            deleting = strcmp(ctl->deletes[i], t->name) == 0;
        if (deleting)
            continue;
        if (!t->topic_id[0])
            ctl_topic_id(ctl, t);
        br_topic_config_t tc;
        br_md_topic_config(md, t, &tc);
        bool unclean = tc.unclean_leader_election_enable;
        br_topic_config_free(&tc);
        for (int32_t p = 0; p < t->n_parts; p++)
            ctl_part_state(ctl, t, p, unclean);
    }
    ctl_reassign_reconcile(ctl);
}

/* ------------------------------------------------------------- jobs */

static ctl_job_t *ctl_job_new(br_ctl_t *ctl, size_t n, void (*finish)(ctl_job_t *))
{
    ctl_job_t *job = calloc(1, sizeof *job);
    if (!job)
        return NULL;
    job->ctl = ctl;
    job->finish = finish;
    job->start_ms = br_cp_now_ms();
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

static size_t ctl_job_add(ctl_job_t *job, const char *topic, int32_t p, st_err_t err)
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

static void ctl_job_release(ctl_job_t *job)
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
    ctl_job_release(job);
}

/* Write next as the state of t/p for job entry idx (or for nobody when
 * job is NULL). Returns false when the write could not start (another
 * write of that partition in flight, not connected). */
static bool ctl_write_state(br_ctl_t *ctl, br_md_topic_t *t, int32_t p, zknode_part_state_t *next, ctl_job_t *job,
                            size_t idx, const char *why)
{
    br_md_part_t *part = &t->parts[p];
    char key[300], path[512];
    snprintf(key, sizeof key, "s:%s/%d", t->name, p);
    if (ctl_inflight(ctl, key) || ctl_settling(ctl, t->name, p, part->kind == BR_MD_STATE_OK, part->state_version) ||
        zknode_path_partition_state(path, sizeof path, t->name, p) < 0)
        return false;
    next->controller_epoch = ctl->epoch;
    char *json = zknode_part_state_encode(next);
    zkc_multi_t *m = json ? ctl_multi(ctl) : NULL;
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
    ST_INFO(CTL_TAG, "%s-%d: %s: leader %d -> %d, leader epoch %d, ISR size %zu", t->name, p, why, part->leader,
            next->leader, next->leader_epoch, next->n_isr);
    return true;
}

/* --------------------------------------------------- controlled shutdown */

bool br_ctl_shutting_down(br_ctl_t *ctl, int32_t id)
{
    int64_t now = br_cp_now_ms();
    /* a broker that registered again (new epoch) is back */
    for (size_t i = 0; ctl && i < ctl->n_shutting; i++)
        if (ctl->shutting[i] == id && ctl->shutting_until[i] > now &&
            br_md_broker_epoch(ctl->cp->md, id) <= ctl->shutting_epoch[i])
            return true;
    /* its registration says so (a controller elected since it began) */
    return ctl && br_md_broker_stopping(ctl->cp->md, id);
}

static void ctl_mark_shutting(br_ctl_t *ctl, int32_t id, int64_t epoch)
{
    int64_t until = br_cp_now_ms() + 120000;
    for (size_t i = 0; i < ctl->n_shutting; i++) {
        if (ctl->shutting[i] == id) {
            ctl->shutting_until[i] = until;
            ctl->shutting_epoch[i] = epoch;
            return;
        }
    }
    int32_t *a = realloc(ctl->shutting, (ctl->n_shutting + 1) * sizeof *a);
    if (!a)
        return;
    ctl->shutting = a;
    int64_t *b = realloc(ctl->shutting_until, (ctl->n_shutting + 1) * sizeof *b);
    if (!b)
        return;
    ctl->shutting_until = b;
    int64_t *c = realloc(ctl->shutting_epoch, (ctl->n_shutting + 1) * sizeof *c);
    if (!c)
        return;
    ctl->shutting_epoch = c;
    c[ctl->n_shutting] = epoch;
    a[ctl->n_shutting] = id;
    b[ctl->n_shutting++] = until;
}

/* Live and eligible as a new leader. */
static bool ctl_eligible(br_ctl_t *ctl, int32_t id)
{
    return br_md_broker_live(ctl->cp->md, id) && !br_ctl_shutting_down(ctl, id);
}

/* Eligible as the new leader of topic/partition: also not offline there. */
static bool ctl_eligible_tp(br_ctl_t *ctl, int32_t id, const char *topic, int32_t p)
{
    return ctl_eligible(ctl, id) && !br_md_replica_offline(ctl->cp->md, id, topic, p);
}

static void ctl_cs_finish(ctl_job_t *job)
{
    size_t n = 0;
    st_err_t why = ST_OK;
    br_ctl_tp_t *rem = calloc(job->n + 1, sizeof *rem);
    for (size_t i = 0; rem && i < job->n; i++) {
        if (job->errs[i] != ST_OK) {
            why = job->errs[i];
            rem[n].topic = job->topics[i];
            rem[n++].partition = job->parts[i];
        }
    }
    ST_INFO(CTL_TAG, "controlled shutdown of broker %d: leaderships moved in %lld ms, %zu partition(s) remain%s%s",
            job->broker_id, (long long)(br_cp_now_ms() - job->start_ms), n, n ? ": " : "",
            n ? st_err_name(why) : "");
    if (job->cs_fn)
        job->cs_fn(job->cs_arg, rem ? ST_OK : ST_ERR_NOMEM, rem, n);
    free(rem);
}

void br_ctl_controlled_shutdown(br_ctl_t *ctl, int32_t broker_id, int64_t broker_epoch, br_ctl_cs_fn fn, void *arg)
{
    br_md_t *md = ctl->cp->md;
    if (!ctl->active || !md || !br_md_ready(md)) {
        fn(arg, ST_ERR_NOT_CONTROLLER, NULL, 0);
        return;
    }
    int64_t known = br_md_broker_epoch(md, broker_id);
    if (known < 0 || broker_epoch < known) {
        fn(arg, known < 0 ? ST_ERR_BROKER_NOT_AVAILABLE : ST_ERR_STALE_BROKER_EPOCH, NULL, 0);
        return;
    }
    ctl_mark_shutting(ctl, broker_id, known);
    size_t n = 0;
    for (br_md_topic_t *t = br_md_topics(md); t; t = t->next)
        n += t->loaded ? (size_t)t->n_parts : 0;
    ctl_job_t *job = ctl_job_new(ctl, n, ctl_cs_finish);
    if (!job) {
        fn(arg, ST_ERR_NOMEM, NULL, 0);
        return;
    }
    job->broker_id = broker_id;
    job->cs_fn = fn;
    job->cs_arg = arg;
    ST_INFO(CTL_TAG, "controlled shutdown of broker %d requested", broker_id);
    for (br_md_topic_t *t = br_md_topics(md); t; t = t->next) {
        if (!t->loaded)
            continue;
        for (int32_t p = 0; p < t->n_parts; p++) {
            br_md_part_t *part = &t->parts[p];
            if (part->kind != BR_MD_STATE_OK || !ctl_has(part->isr, part->n_isr, broker_id))
                continue;
            bool leads = part->leader == broker_id;
            int32_t cand = -1;
            for (size_t i = 0; leads && i < part->n_replicas && cand < 0; i++)
                if (part->replicas[i] != broker_id && ctl_has(part->isr, part->n_isr, part->replicas[i]) &&
                    ctl_eligible_tp(ctl, part->replicas[i], t->name, p))
                    cand = part->replicas[i];
            if (leads && cand < 0) {
                ctl_job_add(job, t->name, p, ST_ERR_ELIGIBLE_LEADERS_NOT_AVAILABLE);
                continue;
            }
            if (!leads && part->n_isr <= 1)
                continue;
            zknode_part_state_t next = {.leader = leads ? cand : part->leader,
                                     .leader_epoch = part->leader_epoch + (leads ? 1 : 0)};
            next.isr = malloc(part->n_isr * sizeof *next.isr);
            if (!next.isr) {
                if (leads)
                    ctl_job_add(job, t->name, p, ST_ERR_NOMEM);
                continue;
            }
            for (size_t i = 0; i < part->n_isr; i++)
                if (part->isr[i] != broker_id)
                    next.isr[next.n_isr++] = part->isr[i];
            /* only leader moves count towards the answer */
            size_t idx = leads ? ctl_job_add(job, t->name, p, ST_ERR_REQUEST_TIMED_OUT) : (size_t)-1;
            if (!ctl_write_state(ctl, t, p, &next, leads ? job : NULL, idx, "controlled shutdown") && leads)
                job->errs[idx] = ST_ERR_REQUEST_TIMED_OUT;
            free(next.isr);
        }
    }
    ctl_job_release(job);
}

/* ------------------------------------------------------------ elections */

/* Start a preferred (or unclean) election of t/p. ST_OK: a write started
 * (job entry idx gets its outcome). */
static st_err_t ctl_elect_one(br_ctl_t *ctl, br_md_topic_t *t, int32_t p, bool unclean, ctl_job_t *job, size_t idx)
{
    br_md_part_t *part = &t->parts[p];
    if (part->kind != BR_MD_STATE_OK || part->n_replicas == 0)
        return ST_ERR_UNKNOWN_TOPIC_OR_PARTITION;
    zknode_part_state_t next = {.leader = -1, .leader_epoch = part->leader_epoch + 1};
    next.isr = malloc((part->n_isr + 1) * sizeof *next.isr);
    if (!next.isr)
        return ST_ERR_NOMEM;
    st_err_t rc = ST_OK;
    if (!unclean) {
        int32_t pref = part->replicas[0];
        if (part->leader == pref) {
            rc = ST_ERR_ELECTION_NOT_NEEDED;
        } else if (!ctl_eligible_tp(ctl, pref, t->name, p) || !ctl_has(part->isr, part->n_isr, pref)) {
            rc = ST_ERR_PREFERRED_LEADER_NOT_AVAILABLE;
        } else {
            next.leader = pref;
            memcpy(next.isr, part->isr, part->n_isr * sizeof *next.isr);
            next.n_isr = part->n_isr;
        }
    } else {
        if (part->leader >= 0 && br_md_replica_live(ctl->cp->md, part->leader, t->name, p)) {
            rc = ST_ERR_ELECTION_NOT_NEEDED;
        } else {
            for (size_t i = 0; i < part->n_replicas && next.leader < 0; i++)
                if (ctl_eligible_tp(ctl, part->replicas[i], t->name, p) &&
                    ctl_has(part->isr, part->n_isr, part->replicas[i]))
                    next.leader = part->replicas[i];
            for (size_t i = 0; i < part->n_replicas && next.leader < 0; i++)
                if (ctl_eligible_tp(ctl, part->replicas[i], t->name, p))
                    next.leader = part->replicas[i];
            if (next.leader < 0) {
                rc = ST_ERR_ELIGIBLE_LEADERS_NOT_AVAILABLE;
            } else if (ctl_has(part->isr, part->n_isr, next.leader)) {
                for (size_t i = 0; i < part->n_isr; i++)
                    if (br_md_replica_live(ctl->cp->md, part->isr[i], t->name, p))
                        next.isr[next.n_isr++] = part->isr[i];
            } else {
                next.isr[next.n_isr++] = next.leader;
            }
        }
    }
    if (rc == ST_OK &&
        !ctl_write_state(ctl, t, p, &next, job, idx, unclean ? "unclean election" : "preferred election"))
        rc = ST_ERR_REQUEST_TIMED_OUT; /* busy: retriable */
    free(next.isr);
    return rc;
}

static void ctl_elect_finish(ctl_job_t *job)
{
    br_call_t *call = job->call;
    if (!call)
        return;
    Strata__ElectLeadersResponse er = STRATA__ELECT_LEADERS_RESPONSE__INIT;
    Strata__ElectLeaderResult *res = calloc(job->n + 1, sizeof *res);
    Strata__ElectLeaderResult **pres = calloc(job->n + 1, sizeof *pres);
    if (!res || !pres) {
        free(res);
        free(pres);
        br_call_reply_error(call, ST_ERR_NOMEM, "out of memory");
        return;
    }
    size_t k = 0;
    for (size_t i = 0; i < job->n; i++) {
        if (job->skip_not_needed && job->errs[i] == ST_ERR_ELECTION_NOT_NEEDED)
            continue;
        strata__elect_leader_result__init(&res[k]);
        res[k].topic = job->topics[i] ? job->topics[i] : (char *)"";
        res[k].partition = job->parts[i];
        res[k].error = (Strata__ErrorCode)job->errs[i];
        res[k].error_message = job->errs[i] == ST_OK ? (char *)"" : (char *)st_err_name(job->errs[i]);
        pres[k] = &res[k];
        k++;
    }
    er.version = 1;
    er.n_results = k;
    er.results = pres;
    Strata__Response resp = STRATA__RESPONSE__INIT;
    resp.body_case = STRATA__RESPONSE__BODY_ELECT_LEADERS;
    resp.elect_leaders = &er;
    br_call_reply(call, &resp);
    free(res);
    free(pres);
}

static void ctl_elect_leaders(br_ctl_t *ctl, br_call_t *call, const Strata__ElectLeadersRequest *req)
{
    br_md_t *md = ctl->cp->md;
    bool unclean = req->election_type == STRATA__ELECTION_TYPE__ELECTION_UNCLEAN;
    size_t n = 0;
    if (req->n_topic_partitions == 0) {
        for (br_md_topic_t *t = br_md_topics(md); t; t = t->next)
            n += t->loaded ? (size_t)t->n_parts : 0;
    } else {
        for (size_t i = 0; i < req->n_topic_partitions; i++)
            n += req->topic_partitions[i] ? req->topic_partitions[i]->n_partitions : 0;
    }
    ctl_job_t *job = ctl_job_new(ctl, n, ctl_elect_finish);
    if (!job) {
        br_call_reply_error(call, ST_ERR_NOMEM, "out of memory");
        return;
    }
    job->call = call;
    if (req->n_topic_partitions == 0) {
        for (br_md_topic_t *t = br_md_topics(md); t; t = t->next) {
            for (int32_t p = 0; t->loaded && p < t->n_parts; p++) {
                size_t idx = ctl_job_add(job, t->name, p, ST_OK);
                job->errs[idx] = ctl_elect_one(ctl, t, p, unclean, job, idx);
            }
        }
        job->skip_not_needed = true; /* "every partition": report the ones acted on */
    } else {
        for (size_t i = 0; i < req->n_topic_partitions; i++) {
            const Strata__TopicPartitions *tp = req->topic_partitions[i];
            for (size_t j = 0; tp && j < tp->n_partitions; j++) {
                const char *name = tp->topic ? tp->topic : "";
                size_t idx = ctl_job_add(job, name, tp->partitions[j], ST_OK);
                br_md_topic_t *t = br_md_topic(md, name);
                if (!t || !t->loaded || tp->partitions[j] < 0 || tp->partitions[j] >= t->n_parts)
                    job->errs[idx] = ST_ERR_UNKNOWN_TOPIC_OR_PARTITION;
                else
                    job->errs[idx] = ctl_elect_one(ctl, t, tp->partitions[j], unclean, job, idx);
            }
        }
    }
    ctl_job_release(job);
}

/* A reassignment of t/p is pending (leadership is the reassignment's). */
static bool ctl_reassigning(br_ctl_t *ctl, const char *topic, int32_t p)
{
    for (size_t i = 0; i < ctl->n_reassigns; i++)
        if (!ctl->reassigns[i].done && ctl->reassigns[i].r.partition == p &&
            strcmp(ctl->reassigns[i].r.topic, topic) == 0)
            return true;
    return false;
}

/* auto.leader.rebalance.enable: per broker, the share of the partitions
 * it is preferred leader of that someone else leads; above the threshold,
 * preferred elections for those. */
static void ctl_auto_rebalance(br_ctl_t *ctl)
{
    br_md_t *md = ctl->cp->md;
    br_config_t *conf = ctl->cp->conf;
    int64_t now = br_cp_now_ms();
    if (!conf->auto_leader_rebalance_enable)
        return;
    if (ctl->next_rebalance_ms == 0)
        ctl->next_rebalance_ms = now + conf->leader_imbalance_check_interval_seconds * 1000;
    if (now < ctl->next_rebalance_ms)
        return;
    ctl->next_rebalance_ms = now + conf->leader_imbalance_check_interval_seconds * 1000;
    for (size_t b = 0; b < br_md_n_brokers(md); b++) {
        int32_t id = br_md_broker_at(md, b)->id;
        if (!ctl_eligible(ctl, id))
            continue;
        size_t total = 0, off = 0;
        for (br_md_topic_t *t = br_md_topics(md); t; t = t->next) {
            for (int32_t p = 0; t->loaded && p < t->n_parts; p++) {
                br_md_part_t *part = &t->parts[p];
                if (part->n_replicas == 0 || part->replicas[0] != id || part->kind != BR_MD_STATE_OK)
                    continue;
                total++;
                off += part->leader != id;
            }
        }
        if (total == 0 || off * 100 <= total * (size_t)conf->leader_imbalance_per_broker_percentage)
            continue;
        ST_INFO(CTL_TAG, "broker %d leads %zu of its %zu preferred partitions: preferred elections",
                id, total - off, total);
        for (br_md_topic_t *t = br_md_topics(md); t; t = t->next)
            for (int32_t p = 0; t->loaded && p < t->n_parts; p++)
                if (t->parts[p].n_replicas && t->parts[p].replicas[0] == id && t->parts[p].leader != id &&
                    !ctl_reassigning(ctl, t->name, p))
                    (void)ctl_elect_one(ctl, t, p, false, NULL, 0);
    }
}

/* ------------------------------------------------- leader-driven ISR */

typedef struct ctl_isr {
    br_ctl_t *ctl;
    char topic[256];
    int32_t partition;
    int32_t leader_epoch;
    int32_t *isr;
    size_t n_isr;
    int tries;
    int32_t assign_version; /* of /brokers/topics/<t> as read for this try */
    int32_t *assign;        /* the partition's replicas in it */
    size_t n_assign;
    zknode_part_state_t written;
} ctl_isr_t;

static void ctl_isr_free(ctl_isr_t *x)
{
    free(x->isr);
    free(x->assign);
    free(x->written.isr);
    free(x);
}

static void ctl_isr_assign_read(void *arg, int rc, const char *data, int len, const struct Stat *stat);
static void ctl_isr_read(void *arg, int rc, const char *data, int len, const struct Stat *stat);

/* An ISR change reads the assignment, then the state, then writes the
 * state in a multi that also checks the assignment's version: a broker
 * removed from the replicas meanwhile (reassignment) is never added back. */
static void ctl_isr_start(ctl_isr_t *x)
{
    char path[512];
    if (br_cp_stopping(x->ctl->cp) || zknode_path_topic(path, sizeof path, x->topic) < 0 ||
        zkc_get(x->ctl->cp->zk, path, NULL, ctl_isr_assign_read, x) != ZOK)
        ctl_isr_free(x);
}

static void ctl_isr_assign_read(void *arg, int rc, const char *data, int len, const struct Stat *stat)
{
    ctl_isr_t *x = arg;
    zknode_topic_t t;
    char err[128], path[512];
    if (rc != ZOK || !stat || br_cp_stopping(x->ctl->cp) ||
        zknode_topic_decode(data, (size_t)len, &t, err, sizeof err) != ST_OK) {
        ctl_isr_free(x);
        return;
    }
    free(x->assign);
    x->assign = NULL;
    x->n_assign = 0;
    if (x->partition >= 0 && x->partition < t.n_partitions) {
        size_t n = (size_t)t.n_replicas[x->partition];
        x->assign = malloc((n + 1) * sizeof *x->assign);
        if (x->assign) {
            memcpy(x->assign, t.replicas[x->partition], n * sizeof *x->assign);
            x->n_assign = n;
        }
    }
    zknode_topic_free(&t);
    x->assign_version = stat->version;
    if (!x->assign || zknode_path_partition_state(path, sizeof path, x->topic, x->partition) < 0 ||
        zkc_get(x->ctl->cp->zk, path, NULL, ctl_isr_read, x) != ZOK)
        ctl_isr_free(x);
}

static void ctl_isr_set(void *arg, int rc, const zoo_op_result_t *results, int n)
{
    ctl_isr_t *x = arg;
    if ((rc == ZBADVERSION || rc == ZNONODE) && ++x->tries < 4 && !br_cp_stopping(x->ctl->cp)) {
        free(x->written.isr);
        x->written.isr = NULL;
        ctl_isr_start(x);
        return;
    }
    const struct Stat *stat = rc == ZOK && results && n == 2 ? results[1].stat : NULL;
    if (rc == ZOK && !br_cp_stopping(x->ctl->cp) && x->ctl->cp->md) {
        ST_INFO(CTL_TAG, "%s-%d: ISR now %zu replica(s) (leader epoch %d)", x->topic, x->partition,
                x->written.n_isr, x->written.leader_epoch);
        br_md_state_written(x->ctl->cp->md, x->topic, x->partition, &x->written, stat ? stat->version : -1);
    } else if (rc != ZOK && rc != ZCLOSING) {
        ST_DEBUG(CTL_TAG, "%s-%d: ISR change not written: %s", x->topic, x->partition, zkc_rc_name(rc));
    }
    ctl_isr_free(x);
}

static void ctl_isr_read(void *arg, int rc, const char *data, int len, const struct Stat *stat)
{
    ctl_isr_t *x = arg;
    const br_cp_t *cp = x->ctl->cp;
    zknode_part_state_t cur;
    char err[128], path[512];
    if (rc != ZOK || !stat || br_cp_stopping(cp) ||
        zknode_part_state_decode(data, (size_t)len, &cur, err, sizeof err) != ST_OK) {
        ctl_isr_free(x);
        return;
    }
    bool ours = cur.leader == cp->broker_id && cur.leader_epoch == x->leader_epoch;
    /* refuse to add back a broker that is gone, in controlled shutdown
     * (this registration; a restart registers anew), or whose replica of
     * this partition is in a failed log directory */
    size_t kept = 0;
    for (size_t i = 0; i < x->n_isr; i++) {
        int32_t id = x->isr[i];
        bool added = !ctl_has(cur.isr, cur.n_isr, id) && id != cp->broker_id;
        if (added && (!ctl_has(x->assign, x->n_assign, id) ||
                      !br_md_replica_live(cp->md, id, x->topic, x->partition) ||
                      br_ctl_shutting_down(x->ctl, id))) {
            ST_INFO(CTL_TAG, "%s-%d: not adding broker %d to the ISR (%s)", x->topic, x->partition, id,
                    !ctl_has(x->assign, x->n_assign, id) ? "no longer a replica"
                    : !br_md_broker_live(cp->md, id) ? "not registered"
                    : br_md_replica_offline(cp->md, id, x->topic, x->partition) ? "replica offline"
                                                                                     : "controlled shutdown");
            continue;
        }
        x->isr[kept++] = id;
    }
    x->n_isr = kept;
    bool same = cur.n_isr == x->n_isr;
    for (size_t i = 0; same && i < x->n_isr; i++)
        same = ctl_has(cur.isr, cur.n_isr, x->isr[i]);
    if (!ours || same || x->n_isr == 0) {
        zknode_part_state_free(&cur);
        ctl_isr_free(x);
        return;
    }
    x->written.leader = cur.leader;
    x->written.leader_epoch = cur.leader_epoch;
    x->written.controller_epoch = cur.controller_epoch;
    zknode_part_state_free(&cur);
    x->written.isr = malloc((x->n_isr + 1) * sizeof *x->written.isr);
    if (!x->written.isr) {
        ctl_isr_free(x);
        return;
    }
    memcpy(x->written.isr, x->isr, x->n_isr * sizeof *x->isr);
    x->written.n_isr = x->n_isr;
    char *json = zknode_part_state_encode(&x->written);
    char tpath[512];
    zkc_multi_t *m = json ? zkc_multi_new(cp->zk) : NULL;
    if (!m || zknode_path_partition_state(path, sizeof path, x->topic, x->partition) < 0 ||
        zknode_path_topic(tpath, sizeof tpath, x->topic) < 0) {
        zkc_multi_free(m);
        ctl_isr_free(x);
    } else {
        zkc_multi_check(m, tpath, x->assign_version);
        zkc_multi_set(m, path, json, (int)strlen(json), stat->version);
        if (zkc_multi_commit(cp->zk, m, ctl_isr_set, x) != ZOK)
            ctl_isr_free(x);
    }
    free(json);
}

void br_ctl_isr_change(void *arg, const char *topic, int32_t partition, int32_t leader_epoch, const int32_t *isr,
                       size_t n_isr)
{
    br_ctl_t *ctl = arg;
    if (!ctl || !topic || n_isr == 0 || !br_cp_registered(ctl->cp))
        return;
    ctl_isr_t *x = calloc(1, sizeof *x);
    if (!x)
        return;
    x->ctl = ctl;
    snprintf(x->topic, sizeof x->topic, "%s", topic);
    x->partition = partition;
    x->leader_epoch = leader_epoch;
    x->isr = malloc(n_isr * sizeof *isr);
    if (!x->isr) {
        free(x);
        return;
    }
    memcpy(x->isr, isr, n_isr * sizeof *isr);
    x->n_isr = n_isr;
    ctl_isr_start(x);
}

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

static void ctl_reassign_clear(br_ctl_t *ctl)
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
    if (!ctl_current(r, rc))
        goto out;
    if (rc == ZNONODE) {
        ctl_reassign_clear(ctl);
        ctl->reassign_version = -1;
        ctl_req_t *r2 = ctl_req_new(ctl, NULL);
        if (r2 && zkc_exists(ctl->cp->zk, BR_REASSIGN_PATH, ctl->reassign_watch, ctl_reassign_exists, r2) != ZOK)
            ctl_req_free(r2);
        goto out;
    }
    if (rc != ZOK)
        goto out;
    zknode_reassign_t d;
    char err[128];
    ctl_reassign_clear(ctl);
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
    ctl_reconcile(ctl);
out:
    ctl_req_free(r);
}

static void ctl_reassign_load(br_ctl_t *ctl)
{
    ctl_req_t *r = ctl_req_new(ctl, NULL);
    if (r && zkc_get(ctl->cp->zk, BR_REASSIGN_PATH, ctl->reassign_watch, ctl_reassign_read, r) != ZOK)
        ctl_req_free(r);
}

static void ctl_reassign_exists(void *arg, int rc, const struct Stat *stat)
{
    (void)stat;
    ctl_req_t *r = arg;
    if (ctl_current(r, rc) && rc == ZOK)
        ctl_reassign_load(r->ctl);
    ctl_req_free(r);
}

static void ctl_reassign_watch(void *arg, int type, const char *path)
{
    (void)type;
    (void)path;
    br_ctl_t *ctl = arg;
    if (ctl->active)
        ctl_reassign_load(ctl);
}

static void ctl_reassign_written(void *arg, int rc, const zoo_op_result_t *results, int n)
{
    ctl_req_t *r = arg;
    if (ctl_current(r, rc))
        r->ctl->reassign_writing = false;
    (void)ctl_multi_ok(r, rc, results, n, "reassignment list");
    ctl_req_free(r);
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
    zkc_multi_t *m = ctl_multi(ctl);
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
    ctl_req_t *r = ctl_req_new(ctl, NULL);
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
    if (ctl_inflight(ctl, key) || zknode_path_topic(path, sizeof path, t->name) < 0)
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
        zkc_multi_t *m = json ? ctl_multi(ctl) : NULL;
        if (m) {
            zkc_multi_set(m, path, json, (int)strlen(json), t->version);
            ST_INFO(CTL_TAG, "%s-%d: reassignment: replicas now %zu broker(s)", t->name, p, n);
            ctl_commit(ctl, m, key);
        }
        free(json);
    }
    free(zt.replicas);
    free(zt.n_replicas);
}

static void ctl_reassign_reconcile(br_ctl_t *ctl)
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
        ctl_pl_t pl = {.md = md, .topic = t->name, .partition = ra->r.partition};
        int step = br_reassign_step(ra->r.replicas, ra->r.n_replicas, part->replicas, part->n_replicas, part->isr,
                                    part->n_isr, part->leader, ctl_live_part, &pl, &v, &nv, &lead);
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
                (void)ctl_write_state(ctl, t, ra->r.partition, &next, NULL, 0, "reassignment");
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
    bool list;               /* ListPartitionReassignments: req is the filter */
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
    ctl_alter_answer(a, rc == ZOK ? ST_OK : zkc_rc_to_err(rc) == ST_ERR_CLOSED ? ST_ERR_REQUEST_TIMED_OUT
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

static void ctl_alter_reassignments(br_ctl_t *ctl, br_call_t *call, const Strata__AlterPartitionReassignmentsRequest *req)
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

static void ctl_list_reassignments(br_ctl_t *ctl, br_call_t *call, const Strata__ListPartitionReassignmentsRequest *req)
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

/* ---------------------------------------------------------- requests */

static void ctl_cs_reply(void *arg, st_err_t err, const br_ctl_tp_t *rem, size_t n)
{
    br_call_t *call = arg;
    Strata__ControlledShutdownResponse cr = STRATA__CONTROLLED_SHUTDOWN_RESPONSE__INIT;
    Strata__TopicPartitions *tps = calloc(n + 1, sizeof *tps);
    Strata__TopicPartitions **ptps = calloc(n + 1, sizeof *ptps);
    int32_t *parts = calloc(n + 1, sizeof *parts);
    if (!tps || !ptps || !parts) {
        br_call_reply_error(call, ST_ERR_NOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        strata__topic_partitions__init(&tps[i]);
        tps[i].topic = (char *)rem[i].topic;
        parts[i] = rem[i].partition;
        tps[i].partitions = &parts[i];
        tps[i].n_partitions = 1;
        ptps[i] = &tps[i];
    }
    cr.version = 1;
    cr.error = (Strata__ErrorCode)err;
    cr.n_remaining_partitions = n;
    cr.remaining_partitions = ptps;
    Strata__Response resp = STRATA__RESPONSE__INIT;
    resp.body_case = STRATA__RESPONSE__BODY_CONTROLLED_SHUTDOWN;
    resp.controlled_shutdown = &cr;
    br_call_reply(call, &resp);
out:
    free(tps);
    free(ptps);
    free(parts);
}

void br_ctl_handle(br_ctl_t *ctl, br_call_t *call, const Strata__Request *req)
{
    switch (req->body_case) {
    case STRATA__REQUEST__BODY_CONTROLLED_SHUTDOWN:
        if (!req->controlled_shutdown) {
            br_call_reply_error(call, ST_ERR_INVALID_REQUEST, "empty body");
        } else if (br_call_broker_epoch(call) <= 0 ||
                   br_call_replica_id(call) != req->controlled_shutdown->broker_id) {
            br_call_reply_error(call, ST_ERR_INVALID_REQUEST, "controlled shutdown must come from the broker itself");
        } else {
            br_ctl_controlled_shutdown(ctl, req->controlled_shutdown->broker_id,
                                       req->controlled_shutdown->broker_epoch, ctl_cs_reply, call);
        }
        return;
    case STRATA__REQUEST__BODY_ELECT_LEADERS:
        if (!req->elect_leaders) {
            br_call_reply_error(call, ST_ERR_INVALID_REQUEST, "empty body");
        } else if (!ctl->active || !br_md_ready(ctl->cp->md)) {
            Strata__ElectLeadersResponse er = STRATA__ELECT_LEADERS_RESPONSE__INIT;
            er.version = 1;
            er.error = STRATA__ERROR_CODE__NOT_CONTROLLER;
            Strata__Response resp = STRATA__RESPONSE__INIT;
            resp.body_case = STRATA__RESPONSE__BODY_ELECT_LEADERS;
            resp.elect_leaders = &er;
            br_call_reply(call, &resp);
        } else {
            ctl_elect_leaders(ctl, call, req->elect_leaders);
        }
        return;
    case STRATA__REQUEST__BODY_ALTER_PARTITION_REASSIGNMENTS:
        if (req->alter_partition_reassignments)
            ctl_alter_reassignments(ctl, call, req->alter_partition_reassignments);
        else
            br_call_reply_error(call, ST_ERR_INVALID_REQUEST, "empty body");
        return;
    case STRATA__REQUEST__BODY_LIST_PARTITION_REASSIGNMENTS:
        if (req->list_partition_reassignments)
            ctl_list_reassignments(ctl, call, req->list_partition_reassignments);
        else
            br_call_reply_error(call, ST_ERR_INVALID_REQUEST, "empty body");
        return;
    default:
        br_call_reply_error(call, ST_ERR_INVALID_REQUEST, "not a controller request");
        return;
    }
}

/* ------------------------------------------------------------------ API */

static void ctl_reconcile_soon(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    ctl_reconcile(w->data);
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
    ctl->reassign_watch = zkc_watcher_new(cp->zk, ctl_reassign_watch, ctl);
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
    ctl_reassign_clear(ctl);
    free(ctl->shutting);
    free(ctl->shutting_until);
    free(ctl->shutting_epoch);
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
}

void br_ctl_md_changed(br_ctl_t *ctl)
{
    if (!ctl)
        return;
    if (!ctl->active) /* nothing to reconcile; the tick elects */
        return;
    if (!ctl->cp->loop) {
        ctl_reconcile(ctl);
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
        ctl_reconcile(ctl);
        if (br_md_ready(ctl->cp->md))
            ctl_auto_rebalance(ctl);
    } else if (!ctl->electing && br_md_controller_id(ctl->cp->md) < 0)
        ctl_elect(ctl);
}
