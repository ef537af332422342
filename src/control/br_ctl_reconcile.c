/*
 * br_ctl_reconcile: the controller's reconcile pass (see br_ctl.h and
 * br_ctl_int.h). It compares the metadata cache with what should be:
 * a partition without a state gets one (leader = first live replica,
 * ISR = live replicas); a partition whose leader or ISR members died gets
 * the state of the election rule (br_ctl_next_state: a new leader from
 * the live ISR, unclean only when the topic allows it, offline keeping
 * the last ISR); a topic written by hand gets a topic_id; a topic marked
 * under /admin/delete_topics is deleted (its whole subtree in one fenced
 * multi). Then the pending reassignments take a step
 * (br_ctl_reassign.c). Core loop only.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "common/st_log.h"
#include "control/br_ctl_int.h"

/* ------------------------------------------------------- election rule */

bool br_ctl_next_state(const zknode_part_state_t *cur, const int32_t *replicas, size_t n_replicas,
                       bool unclean, bool (*live)(void *arg, int32_t id), void *arg, zknode_part_state_t *out)
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

/* ------------------------------------------------------- reconciliation */

bool br_ctl_live_part(void *arg, int32_t id)
{
    const ctl_pl_t *pl = arg;
    return id != pl->exclude && br_md_replica_live(pl->md, id, pl->topic, pl->partition);
}

/* ---- bounce detection: a registration re-created between two reads */

static struct ctl_seen *ctl_seen_find(br_ctl_t *ctl, int32_t id)
{
    for (size_t i = 0; i < ctl->n_seen; i++)
        if (ctl->seen[i].id == id)
            return &ctl->seen[i];
    return NULL;
}

/* Compare every live broker's epoch with the one seen last. */
static void ctl_detect_bounces(br_ctl_t *ctl)
{
    br_md_t *md = ctl->cp->md;
    for (size_t i = 0; i < br_md_n_brokers(md); i++) {
        const br_md_broker_t *b = br_md_broker_at(md, i);
        if (!b || !b->loaded || b->epoch < 0)
            continue;
        struct ctl_seen *s = ctl_seen_find(ctl, b->id);
        if (!s) {
            struct ctl_seen *n = realloc(ctl->seen, (ctl->n_seen + 1) * sizeof *n);
            if (!n)
                return;
            ctl->seen = n;
            ctl->seen[ctl->n_seen++] = (struct ctl_seen){.id = b->id, .epoch = b->epoch};
            continue;
        }
        if (s->epoch == b->epoch)
            continue;
        ST_WARN(CTL_TAG,
                "broker %d registered again (broker epoch %" PRId64 " -> %" PRId64
                "): a restart; moving the leaderships it held with a new leader epoch",
                b->id, s->epoch, b->epoch);
        s->epoch = b->epoch;
        s->bounced = true;
    }
}

static bool ctl_bounced(br_ctl_t *ctl, int32_t id)
{
    struct ctl_seen *s = id >= 0 ? ctl_seen_find(ctl, id) : NULL;
    return s && s->bounced;
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
    if (!br_ctl_current(r, rc) || (rc != ZOK && rc != ZNONODE) || !ctl->active) {
        br_ctl_req_done(r);
        return;
    }
    char p[512], parts[512], part[512];
    if (rc == ZNONODE)
        r->outstanding |= r->stage == 0 ? 4 : 8;
    if (r->stage == 0) {
        r->stage = 1;
        if (zknode_path_partition(p, sizeof p, r->topic, r->partition) < 0 ||
            zkc_exists(ctl->cp->zk, p, NULL, ctl_new_part_step, r) != ZOK)
            br_ctl_req_done(r);
        return;
    }
    br_md_topic_t *t = br_md_topic(ctl->cp->md, r->topic);
    if (!t || r->partition >= t->n_parts ||
        zknode_path_partition_state(p, sizeof p, r->topic, r->partition) < 0 ||
        zknode_path_partitions(parts, sizeof parts, r->topic) < 0 ||
        zknode_path_partition(part, sizeof part, r->topic, r->partition) < 0) {
        br_ctl_req_done(r);
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
    zkc_multi_t *m = json ? br_ctl_multi(ctl) : NULL;
    if (m) {
        if (r->outstanding & 4)
            zkc_multi_create(m, parts, NULL, 0, 0);
        if (r->outstanding & 8)
            zkc_multi_create(m, part, NULL, 0, 0);
        zkc_multi_create(m, p, json, (int)strlen(json), 0);
    }
    free(json);
    if (!m || zkc_multi_commit(ctl->cp->zk, m, br_ctl_write_done, r) != ZOK) {
        br_ctl_req_done(r);
        return;
    }
    ST_INFO(CTL_TAG, "%s-%d: creating state (leader %d)", r->topic, r->partition, s.leader);
}

static void ctl_new_part(br_ctl_t *ctl, br_md_topic_t *t, int32_t p, const char *key)
{
    char path[512];
    ctl_req_t *r = br_ctl_req_new(ctl, key);
    if (!r)
        return;
    snprintf(r->topic, sizeof r->topic, "%s", t->name);
    r->partition = p;
    if (zknode_path_partitions(path, sizeof path, t->name) < 0 || !br_ctl_inflight_add(ctl, key)) {
        free(r);
        return;
    }
    if (zkc_exists(ctl->cp->zk, path, NULL, ctl_new_part_step, r) != ZOK) {
        br_ctl_inflight_del(ctl, key);
        free(r);
    }
}

static void ctl_topic_id(br_ctl_t *ctl, br_md_topic_t *t)
{
    char key[300], path[512];
    snprintf(key, sizeof key, "id:%s", t->name);
    if (br_ctl_inflight(ctl, key) || zknode_path_topic(path, sizeof path, t->name) < 0)
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
    zkc_multi_t *m = json ? br_ctl_multi(ctl) : NULL;
    if (m) {
        zkc_multi_set(m, path, json, (int)strlen(json), t->version);
        ST_INFO(CTL_TAG, "topic %s: assigning topic id %s", t->name, id);
        br_ctl_commit(ctl, m, key);
    }
    free(json);
out:
    free(zt.replicas);
    free(zt.n_replicas);
}

/* Returns false when the partition could not be looked at now (a write
 * of it in flight or settling): a bounce of its leader waits. */
static bool ctl_part_state(br_ctl_t *ctl, br_md_topic_t *t, int32_t p, bool unclean)
{
    br_md_part_t *part = &t->parts[p];
    char key[300], path[512];
    snprintf(key, sizeof key, "s:%s/%d", t->name, p);
    if (br_ctl_inflight(ctl, key) ||
        br_ctl_settling(ctl, t->name, p, part->kind == BR_MD_STATE_OK, part->state_version))
        return false;
    if (part->kind == BR_MD_STATE_NONE) {
        ctl_new_part(ctl, t, p, key);
        return true;
    }
    if (part->kind != BR_MD_STATE_OK)
        return true;
    zknode_part_state_t cur = {.leader = part->leader,
                               .leader_epoch = part->leader_epoch,
                               .controller_epoch = part->controller_epoch,
                               .isr = part->isr,
                               .n_isr = part->n_isr};
    zknode_part_state_t next;
    bool bounced = ctl_bounced(ctl, part->leader);
    /* a restarted leader is handled as a failed one (elect another ISR
     * member); when it is the only one, it keeps leading under a new
     * epoch, so requests and retries meant for its old life are fenced */
    ctl_pl_t pl = {
        .md = ctl->cp->md, .topic = t->name, .partition = p, .exclude = bounced ? part->leader : -1};
    bool change =
        br_ctl_next_state(&cur, part->replicas, part->n_replicas, unclean, br_ctl_live_part, &pl, &next);
    if (bounced && (!change || next.leader < 0) &&
        br_md_replica_live(ctl->cp->md, part->leader, t->name, p)) {
        if (change)
            zknode_part_state_free(&next);
        memset(&next, 0, sizeof next);
        next.leader = cur.leader;
        next.leader_epoch = cur.leader_epoch + 1;
        next.isr = malloc((cur.n_isr + 1) * sizeof *next.isr);
        if (!next.isr)
            return false;
        memcpy(next.isr, cur.isr, cur.n_isr * sizeof *next.isr);
        next.n_isr = cur.n_isr;
        change = true;
    }
    if (!change)
        return true;
    next.controller_epoch = ctl->epoch;
    char *json = zknode_part_state_encode(&next);
    if (json && zknode_path_partition_state(path, sizeof path, t->name, p) >= 0) {
        zkc_multi_t *m = br_ctl_multi(ctl);
        if (m) {
            zkc_multi_set(m, path, json, (int)strlen(json), part->state_version);
            ST_INFO(CTL_TAG, "%s-%d: leader %d -> %d, leader epoch %d%s", t->name, p, part->leader,
                    next.leader, next.leader_epoch, next.leader < 0 ? " (offline)" : "");
            br_ctl_commit_state(ctl, m, key, t->name, p, part->state_version + 1);
            if (next.leader >= 0 && next.leader != part->leader) {
                if (ctl_has(part->isr, part->n_isr, next.leader))
                    ctl->m_elections_clean++;
                else
                    ctl->m_elections_unclean++;
            }
        }
    }
    free(json);
    zknode_part_state_free(&next);
    return true;
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
    zkc_multi_t *m = br_ctl_multi(ctl);
    if (!m || zknode_path_delete_topic(adm, sizeof adm, r->topic) < 0) {
        zkc_multi_free(m);
        br_ctl_req_done(r);
        return;
    }
    for (size_t i = 0; i < r->n_paths; i++)
        zkc_multi_delete(m, r->paths[i], -1);
    zkc_multi_delete(m, adm, -1);
    ST_INFO(CTL_TAG, "deleting topic %s (%zu znodes)", r->topic, r->n_paths);
    if (zkc_multi_commit(ctl->cp->zk, m, br_ctl_write_done, r) != ZOK)
        br_ctl_req_done(r);
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
    if (rc == ZOK && br_ctl_current(r, rc)) {
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
        if (r->stage < 0 || !br_ctl_current(r, ZOK) || !r->ctl->active)
            br_ctl_req_done(r);
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
    if (br_ctl_inflight(ctl, key))
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
        zkc_multi_t *m = br_ctl_multi(ctl);
        if (m) {
            zkc_multi_delete(m, adm, -1);
            br_ctl_commit(ctl, m, key);
        }
        return;
    }
    ctl_req_t *r = br_ctl_req_new(ctl, key);
    if (!r || !br_ctl_inflight_add(ctl, key)) {
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
            br_ctl_req_done(r);
        else
            ctl_del_finish(r);
    }
}

void br_ctl_reconcile(br_ctl_t *ctl)
{
    br_md_t *md = ctl->cp->md;
    if (!ctl->active || !md || !br_md_ready(md) || zkc_state(ctl->cp->zk) != ZKC_CONNECTED)
        return;
    for (size_t i = 0; i < ctl->n_deletes; i++)
        ctl_delete_topic(ctl, ctl->deletes[i]);
    ctl_detect_bounces(ctl);
    bool waiting = false;
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
            if (!ctl_part_state(ctl, t, p, unclean) && ctl_bounced(ctl, t->parts[p].leader))
                waiting = true;
    }
    /* every leadership of a restarted broker was moved (or is being
     * written): done with its restart */
    for (size_t i = 0; i < ctl->n_seen && !waiting; i++)
        ctl->seen[i].bounced = false;
    br_ctl_reassign_reconcile(ctl);
}
