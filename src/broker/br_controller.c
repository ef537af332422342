/*
 * br_controller: election, epoch fencing and reconciliation (see
 * br_controller.h). Work items in flight are keyed by a string ("s:t/p",
 * "id:t", "del:t") so that a reconcile pass running while a write is
 * pending does not start it twice; the key is released when the write
 * completes, and the watch that follows brings the cache up to date.
 */
#include "broker/br_controller.h"

#include <stdlib.h>
#include <string.h>

#include "broker/br_metadata.h"
#include "common/st_log.h"

#define CTL_TAG "controller"

struct br_ctl {
    br_core_t *core;
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
} ctl_req_t;

static void ctl_elect(br_ctl_t *ctl);
static void ctl_reconcile(br_ctl_t *ctl);

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
    e->until_ms = br_core_now_ms() + 5000;
}

/* True while (t,p) waits for the cache to show our write. */
static bool ctl_settling(br_ctl_t *ctl, const char *topic, int32_t p, bool state_ok, int32_t version)
{
    int64_t now = br_core_now_ms();
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
    zkc_multi_t *m = zkc_multi_new(ctl->core->zk);
    if (m)
        zkc_multi_check(m, ZKP_PATH_CONTROLLER_EPOCH, ctl->epoch_version);
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

bool br_ctl_next_state(const zkp_part_state_t *cur, const int32_t *replicas, size_t n_replicas, bool unclean,
                       bool (*live)(void *arg, int32_t id), void *arg, zkp_part_state_t *out)
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
    if (r && zkc_children(ctl->core->zk, ZKP_PATH_DELETE_TOPICS, ctl->watch, ctl_deletes_done, r) != ZOK)
        ctl_req_free(r);
}

static void ctl_became(br_ctl_t *ctl, int32_t epoch, int32_t version)
{
    ctl->active = true;
    ctl->electing = false;
    ctl->epoch = epoch;
    ctl->epoch_version = version;
    ST_INFO(CTL_TAG, "broker %d is the controller, epoch %d", ctl->core->broker_id, epoch);
    ctl_list_deletes(ctl);
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
        char *one = zkp_epoch_encode(1);
        ctl_req_t *r2 = ctl_req_new(ctl, NULL);
        if (one && r2 &&
            zkc_create(ctl->core->zk, ZKP_PATH_CONTROLLER_EPOCH, one, (int)strlen(one), 0, ctl_epoch_created, r2) == ZOK)
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
    if (zkp_epoch_decode(data, (size_t)len, &e) != ST_OK) {
        ST_WARN(CTL_TAG, "/controller_epoch is corrupt: overwriting");
        e = 0;
    }
    ctl_epoch_req_t *er = calloc(1, sizeof *er);
    char *txt = zkp_epoch_encode(e + 1);
    if (er && txt) {
        er->r.ctl = ctl;
        er->r.gen = ctl->gen;
        er->next = e + 1;
        if (zkc_set(ctl->core->zk, ZKP_PATH_CONTROLLER_EPOCH, txt, (int)strlen(txt), stat->version, ctl_epoch_set, er) ==
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
    if (r && zkc_get(ctl->core->zk, ZKP_PATH_CONTROLLER_EPOCH, NULL, ctl_epoch_read, r) != ZOK) {
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
    zkp_controller_t c;
    char err[128];
    if (zkp_controller_decode(data, (size_t)len, &c, err, sizeof err) == ST_OK && c.broker_id == ctl->core->broker_id &&
        stat && stat->ephemeralOwner == zkc_session_id(ctl->core->zk)) {
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
    if (r2 && zkc_get(ctl->core->zk, ZKP_PATH_CONTROLLER, ctl->watch, ctl_controller_read, r2) != ZOK) {
        ctl_req_free(r2);
        ctl->electing = false;
    }
out:
    ctl_req_free(r);
}

static void ctl_elect(br_ctl_t *ctl)
{
    if (ctl->active || ctl->electing || !ctl->core->zk || ctl->core->member != BR_MEMBER_REGISTERED)
        return;
    zkp_controller_t c = {.broker_id = ctl->core->broker_id, .timestamp_ms = br_core_now_ms()};
    char *json = zkp_controller_encode(&c);
    ctl_req_t *r = ctl_req_new(ctl, NULL);
    if (json && r &&
        zkc_create(ctl->core->zk, ZKP_PATH_CONTROLLER, json, (int)strlen(json), ZOO_EPHEMERAL, ctl_controller_created,
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
    if (strcmp(path, ZKP_PATH_CONTROLLER) == 0) {
        if (type == ZOO_DELETED_EVENT && !ctl->active) {
            ctl->electing = false;
            ctl_elect(ctl);
        } else if (!ctl->active) {
            ctl_req_t *r = ctl_req_new(ctl, NULL);
            if (r && zkc_get(ctl->core->zk, ZKP_PATH_CONTROLLER, ctl->watch, ctl_controller_read, r) != ZOK)
                ctl_req_free(r);
        }
    } else if (strcmp(path, ZKP_PATH_DELETE_TOPICS) == 0) {
        if (ctl->active)
            ctl_list_deletes(ctl);
    }
}

/* ------------------------------------------------------- reconciliation */

static bool ctl_live(void *arg, int32_t id)
{
    return br_md_broker_live(arg, id);
}

static void ctl_write_done(void *arg, int rc, const zoo_op_result_t *results, int n)
{
    ctl_req_t *r = arg;
    if (ctl_multi_ok(r, rc, results, n, r->key)) {
        ST_DEBUG(CTL_TAG, "%s written", r->key);
        if (r->settle_version >= 0 && r->gen == r->ctl->gen)
            ctl_settle_add(r->ctl, r->topic, r->partition, r->settle_version);
    }
    ctl_req_done(r);
}

/* Commit m as work item key; m is consumed. A state write names its
 * partition and the znode version it produces (settle_version >= 0). */
static void ctl_commit_state(br_ctl_t *ctl, zkc_multi_t *m, const char *key, const char *topic, int32_t p,
                             int32_t settle_version)
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
        return;
    }
    if (zkc_multi_commit(ctl->core->zk, m, ctl_write_done, r) != ZOK) {
        ctl_inflight_del(ctl, key);
        free(r);
    }
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
        if (zkp_path_partition(p, sizeof p, r->topic, r->partition) < 0 ||
            zkc_exists(ctl->core->zk, p, NULL, ctl_new_part_step, r) != ZOK)
            ctl_req_done(r);
        return;
    }
    br_md_topic_t *t = br_md_topic(ctl->core->md, r->topic);
    if (!t || r->partition >= t->n_parts || zkp_path_partition_state(p, sizeof p, r->topic, r->partition) < 0 ||
        zkp_path_partitions(parts, sizeof parts, r->topic) < 0 ||
        zkp_path_partition(part, sizeof part, r->topic, r->partition) < 0) {
        ctl_req_done(r);
        return;
    }
    br_md_part_t *bp = &t->parts[r->partition];
    zkp_part_state_t s = {.leader = -1, .leader_epoch = 0, .controller_epoch = ctl->epoch};
    s.isr = malloc((bp->n_replicas + 1) * sizeof(int32_t));
    for (size_t i = 0; s.isr && i < bp->n_replicas; i++) {
        if (br_md_broker_live(ctl->core->md, bp->replicas[i])) {
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
    char *json = s.isr ? zkp_part_state_encode(&s) : NULL;
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
    if (!m || zkc_multi_commit(ctl->core->zk, m, ctl_write_done, r) != ZOK) {
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
    if (zkp_path_partitions(path, sizeof path, t->name) < 0 || !ctl_inflight_add(ctl, key)) {
        free(r);
        return;
    }
    if (zkc_exists(ctl->core->zk, path, NULL, ctl_new_part_step, r) != ZOK) {
        ctl_inflight_del(ctl, key);
        free(r);
    }
}

static void ctl_topic_id(br_ctl_t *ctl, br_md_topic_t *t)
{
    char key[300], path[512];
    snprintf(key, sizeof key, "id:%s", t->name);
    if (ctl_inflight(ctl, key) || zkp_path_topic(path, sizeof path, t->name) < 0)
        return;
    zkp_topic_t zt = {.n_partitions = t->n_parts};
    zt.replicas = calloc((size_t)t->n_parts + 1, sizeof *zt.replicas);
    zt.n_replicas = calloc((size_t)t->n_parts + 1, sizeof *zt.n_replicas);
    if (!zt.replicas || !zt.n_replicas)
        goto out;
    for (int32_t p = 0; p < t->n_parts; p++) {
        zt.replicas[p] = t->parts[p].replicas;
        zt.n_replicas[p] = (int32_t)t->parts[p].n_replicas;
    }
    char id[23];
    zkp_new_id(id);
    snprintf(zt.topic_id, sizeof zt.topic_id, "%s", id);
    char *json = zkp_topic_encode(&zt);
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
    zkp_part_state_t cur = {.leader = part->leader,
                            .leader_epoch = part->leader_epoch,
                            .controller_epoch = part->controller_epoch,
                            .isr = part->isr,
                            .n_isr = part->n_isr};
    zkp_part_state_t next;
    if (!br_ctl_next_state(&cur, part->replicas, part->n_replicas, unclean, ctl_live, ctl->core->md, &next))
        return;
    next.controller_epoch = ctl->epoch;
    char *json = zkp_part_state_encode(&next);
    if (json && zkp_path_partition_state(path, sizeof path, t->name, p) >= 0) {
        zkc_multi_t *m = ctl_multi(ctl);
        if (m) {
            zkc_multi_set(m, path, json, (int)strlen(json), part->state_version);
            ST_INFO(CTL_TAG, "%s-%d: leader %d -> %d, leader epoch %d%s", t->name, p, part->leader, next.leader,
                    next.leader_epoch, next.leader < 0 ? " (offline)" : "");
            ctl_commit_state(ctl, m, key, t->name, p, part->state_version + 1);
        }
    }
    free(json);
    zkp_part_state_free(&next);
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
    if (!m || zkp_path_delete_topic(adm, sizeof adm, r->topic) < 0) {
        zkc_multi_free(m);
        ctl_req_done(r);
        return;
    }
    for (size_t i = 0; i < r->n_paths; i++)
        zkc_multi_delete(m, r->paths[i], -1);
    zkc_multi_delete(m, adm, -1);
    ST_INFO(CTL_TAG, "deleting topic %s (%zu znodes)", r->topic, r->n_paths);
    if (zkc_multi_commit(ctl->core->zk, m, ctl_write_done, r) != ZOK)
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
    if (zkc_children(r->ctl->core->zk, path, NULL, ctl_del_children, c) != ZOK) {
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
    if (!ctl->core->conf->delete_topic_enable) {
        ST_WARN(CTL_TAG, "topic %s marked for deletion but delete.topic.enable=false", topic);
        return;
    }
    if (!zkp_topic_name_valid(topic) || zkp_path_topic(p1, sizeof p1, topic) < 0 ||
        zkp_path_topic_config(p2, sizeof p2, topic) < 0) {
        /* a bogus marker: remove it */
        char adm[600];
        snprintf(adm, sizeof adm, "%s/%s", ZKP_PATH_DELETE_TOPICS, topic);
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
    br_md_t *md = ctl->core->md;
    if (!ctl->active || !md || !br_md_ready(md) || zkc_state(ctl->core->zk) != ZKC_CONNECTED)
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
}

/* ------------------------------------------------------------------ API */

br_ctl_t *br_ctl_new(br_core_t *core)
{
    br_ctl_t *ctl = calloc(1, sizeof *ctl);
    if (!ctl)
        return NULL;
    ctl->core = core;
    ctl->watch = zkc_watcher_new(core->zk, ctl_watch, ctl);
    if (!ctl->watch) {
        free(ctl);
        return NULL;
    }
    return ctl;
}

void br_ctl_free(br_ctl_t *ctl)
{
    if (!ctl)
        return;
    ctl_inflight_clear(ctl);
    free(ctl->inflight);
    free(ctl->settles);
    for (size_t i = 0; i < ctl->n_deletes; i++)
        free(ctl->deletes[i]);
    free(ctl->deletes);
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
    if (ctl)
        ctl_reconcile(ctl);
}

void br_ctl_tick(br_ctl_t *ctl)
{
    if (!ctl || ctl->core->member != BR_MEMBER_REGISTERED)
        return;
    if (ctl->active)
        ctl_reconcile(ctl);
    else if (!ctl->electing && br_md_controller_id(ctl->core->md) < 0)
        ctl_elect(ctl);
}
