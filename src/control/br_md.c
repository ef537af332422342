/*
 * br_md: the cluster cache and the watches that keep it (see
 * br_md.h). Every read carries the session generation it was issued
 * in; answers from an older generation (a replaced ZooKeeper handle) are
 * ignored. A watch event re-reads its znode and re-arms the watch in the
 * same call. ZooKeeper answers a session's requests in order, so the last
 * answer for a znode is its latest value.
 */
#include "control/br_md.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "common/st_log.h"

#define MD_TAG "metadata"

struct br_md {
    const br_cp_t *cp;
    zkc_watcher_t *watch;
    uint64_t gen;
    br_md_broker_t *brokers;
    size_t n_brokers;
    bool brokers_listed;
    bool topics_listed;
    br_md_topic_t *topics;
    int32_t controller_id;
    int32_t controller_epoch;      /* /controller_epoch, 0 until read */
    zknode_config_t broker_config; /* /config/brokers/<this broker> */
};

typedef struct md_req {
    br_md_t *md;
    uint64_t gen;
    int32_t id;     /* broker id or partition */
    char name[256]; /* topic */
} md_req_t;

static md_req_t *md_req_new(br_md_t *md, const char *topic, int32_t id)
{
    md_req_t *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->md = md;
    r->gen = md->gen;
    r->id = id;
    if (topic)
        snprintf(r->name, sizeof r->name, "%s", topic);
    return r;
}

static bool md_req_current(const md_req_t *r, int rc)
{
    return rc != ZCLOSING && r->gen == r->md->gen;
}

static void md_changed(br_md_t *md, const char *topic)
{
    br_cp_md_changed(md->cp, topic);
}

/* ------------------------------------------- registration additions */

void br_md_member_free(br_md_member_t *x)
{
    if (!x)
        return;
    for (size_t i = 0; i < x->n_offline_dirs; i++)
        free(x->offline_dirs[i]);
    free(x->offline_dirs);
    for (size_t i = 0; i < x->n_offline; i++)
        free(x->offline_topics[i]);
    free(x->offline_topics);
    free(x->offline_parts);
    memset(x, 0, sizeof *x);
}

bool br_md_member_offline(const br_md_member_t *x, const char *topic, int32_t partition)
{
    for (size_t i = 0; x && topic && i < x->n_offline; i++)
        if (x->offline_parts[i] == partition && strcmp(x->offline_topics[i], topic) == 0)
            return true;
    return false;
}

char *br_md_member_encode(const zknode_broker_t *b, const br_md_member_t *x)
{
    char *base = zknode_broker_encode(b);
    if (!base || !x || (x->n_offline_dirs == 0 && x->n_offline == 0 && !x->controlled_shutdown))
        return base;
    char *out = NULL;
    json_t *root = json_loads(base, 0, NULL);
    json_t *dirs = json_array(), *parts = json_array();
    if (!root || !dirs || !parts)
        goto out;
    for (size_t i = 0; i < x->n_offline_dirs; i++)
        json_array_append_new(dirs, json_string(x->offline_dirs[i] ? x->offline_dirs[i] : ""));
    for (size_t i = 0; i < x->n_offline; i++)
        json_array_append_new(parts, json_pack("{s:s, s:i}", "topic",
                                               x->offline_topics[i] ? x->offline_topics[i] : "", "partition",
                                               (int)x->offline_parts[i]));
    if (x->n_offline_dirs || x->n_offline) {
        json_object_set(root, "offline_log_dirs", dirs);
        json_object_set(root, "offline_partitions", parts);
    }
    if (x->controlled_shutdown)
        json_object_set_new(root, "controlled_shutdown", json_true());
    out = json_dumps(root, JSON_COMPACT);
out:
    json_decref(dirs);
    json_decref(parts);
    json_decref(root);
    free(base);
    return out;
}

st_err_t br_md_member_decode(const char *json, size_t len, br_md_member_t *out)
{
    memset(out, 0, sizeof *out);
    json_t *root = json ? json_loadb(json, len, 0, NULL) : NULL;
    st_err_t rc = ST_OK;
    if (!json_is_object(root)) {
        json_decref(root);
        return ST_ERR_CORRUPT;
    }
    out->controlled_shutdown = json_is_true(json_object_get(root, "controlled_shutdown"));
    json_t *dirs = json_object_get(root, "offline_log_dirs");
    size_t nd = json_is_array(dirs) ? json_array_size(dirs) : 0;
    json_t *parts = json_object_get(root, "offline_partitions");
    size_t np = json_is_array(parts) ? json_array_size(parts) : 0;
    out->offline_dirs = calloc(nd + 1, sizeof *out->offline_dirs);
    out->offline_topics = calloc(np + 1, sizeof *out->offline_topics);
    out->offline_parts = calloc(np + 1, sizeof *out->offline_parts);
    if (!out->offline_dirs || !out->offline_topics || !out->offline_parts) {
        rc = ST_ERR_NOMEM;
        goto out;
    }
    for (size_t i = 0; i < nd; i++) {
        const char *d = json_string_value(json_array_get(dirs, i));
        if (d && !(out->offline_dirs[out->n_offline_dirs++] = strdup(d))) {
            rc = ST_ERR_NOMEM;
            goto out;
        }
    }
    for (size_t i = 0; i < np; i++) {
        json_t *e = json_array_get(parts, i);
        const char *t = json_string_value(json_object_get(e, "topic"));
        json_t *pj = json_object_get(e, "partition");
        if (!t || !json_is_integer(pj) || json_integer_value(pj) < 0 || json_integer_value(pj) > INT32_MAX)
            continue;
        out->offline_parts[out->n_offline] = (int32_t)json_integer_value(pj);
        if (!(out->offline_topics[out->n_offline++] = strdup(t))) {
            rc = ST_ERR_NOMEM;
            goto out;
        }
    }
out:
    json_decref(root);
    if (rc != ST_OK)
        br_md_member_free(out);
    return rc;
}

/* --------------------------------------------------------------- brokers */

static void md_broker_clear(br_md_broker_t *b)
{
    br_md_member_free(&b->member);
    free(b->host);
    free(b->url);
    free(b->rack);
    memset(b, 0, sizeof *b);
}

size_t br_md_n_brokers(const br_md_t *md)
{
    return md->n_brokers;
}

const br_md_broker_t *br_md_broker_at(const br_md_t *md, size_t i)
{
    return i < md->n_brokers ? &md->brokers[i] : NULL;
}

const br_md_broker_t *br_md_broker(const br_md_t *md, int32_t id)
{
    for (size_t i = 0; i < md->n_brokers; i++)
        if (md->brokers[i].id == id)
            return &md->brokers[i];
    return NULL;
}

bool br_md_broker_live(const br_md_t *md, int32_t id)
{
    return br_md_broker(md, id) != NULL;
}

bool br_md_replica_offline(const br_md_t *md, int32_t id, const char *topic, int32_t partition)
{
    const br_md_broker_t *b = br_md_broker(md, id);
    return b && br_md_member_offline(&b->member, topic, partition);
}

bool br_md_broker_stopping(const br_md_t *md, int32_t id)
{
    const br_md_broker_t *b = br_md_broker(md, id);
    return b && b->member.controlled_shutdown;
}

bool br_md_replica_live(const br_md_t *md, int32_t id, const char *topic, int32_t partition)
{
    const br_md_broker_t *b = br_md_broker(md, id);
    return b && !br_md_member_offline(&b->member, topic, partition);
}

bool br_md_ready(const br_md_t *md)
{
    return md->brokers_listed && md->topics_listed;
}

int32_t br_md_controller_id(const br_md_t *md)
{
    return md->controller_id;
}

static void md_read_broker(br_md_t *md, int32_t id);

int64_t br_md_broker_epoch(const br_md_t *md, int32_t id)
{
    const br_md_broker_t *b = br_md_broker(md, id);
    return b && b->loaded ? b->epoch : -1;
}

static void md_broker_exists_done(void *arg, int rc, const struct Stat *stat)
{
    md_req_t *r = arg;
    (void)stat;
    /* re-created between the get and the exists: read it (the exists watch
     * covers a later creation) */
    if (md_req_current(r, rc) && rc == ZOK)
        md_read_broker(r->md, r->id);
    free(r);
}

static void md_broker_data_done(void *arg, int rc, const char *data, int len, const struct Stat *stat)
{
    md_req_t *r = arg;
    br_md_t *md = r->md;
    if (!md_req_current(r, rc))
        goto out;
    if (rc == ZNONODE) {
        /* A failed get leaves no watch. A registration deleted and re-created
         * (broker restart) may still be listed by the children re-list, which
         * does not re-read known ids: watch for the creation instead. */
        char path[128];
        md_req_t *r2 = zknode_path_broker(path, sizeof path, r->id) < 0 ? NULL : md_req_new(md, NULL, r->id);
        if (r2 && zkc_exists(md->cp->zk, path, md->watch, md_broker_exists_done, r2) != ZOK)
            free(r2);
        goto out;
    }
    br_md_broker_t *b = (br_md_broker_t *)br_md_broker(md, r->id);
    if (!b || rc != ZOK)
        goto out;
    zknode_broker_t zb;
    char err[256];
    if (zknode_broker_decode(data, (size_t)len, r->id, &zb, err, sizeof err) != ST_OK) {
        ST_WARN(MD_TAG, "/brokers/ids/%d: %s", r->id, err);
        goto out;
    }
    int32_t id = b->id;
    md_broker_clear(b);
    b->id = id;
    b->host = zb.host ? strdup(zb.host) : NULL;
    b->port = zb.port;
    b->url = zb.n_endpoints > 0 && zb.endpoints[0] ? strdup(zb.endpoints[0]) : NULL;
    b->rack = zb.rack ? strdup(zb.rack) : NULL;
    b->epoch = stat ? stat->czxid : -1;
    b->loaded = true;
    zknode_broker_free(&zb);
    if (br_md_member_decode(data, (size_t)len, &b->member) != ST_OK)
        memset(&b->member, 0, sizeof b->member);
    if (b->member.n_offline || b->member.controlled_shutdown)
        ST_INFO(MD_TAG, "broker %d: %zu replica(s) in %zu failed log dir(s)%s", b->id, b->member.n_offline,
                b->member.n_offline_dirs, b->member.controlled_shutdown ? ", in controlled shutdown" : "");
    if (md->cp->pm)
        br_pm_set_broker_rack(md->cp->pm, b->id, b->rack);
    if (md->cp->pm && b->id != md->cp->broker_id)
        br_pm_set_broker_url(md->cp->pm, b->id, b->url);
    md_changed(md, NULL);
out:
    free(r);
}

static void md_read_broker(br_md_t *md, int32_t id)
{
    char path[128];
    if (zknode_path_broker(path, sizeof path, id) < 0)
        return;
    md_req_t *r = md_req_new(md, NULL, id);
    if (r && zkc_get(md->cp->zk, path, md->watch, md_broker_data_done, r) != ZOK)
        free(r);
}

static bool md_parse_id(const char *s, int32_t *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (!*s || *end || v < 0 || v > INT32_MAX)
        return false;
    *out = (int32_t)v;
    return true;
}

static void md_brokers_done(void *arg, int rc, const struct String_vector *names)
{
    md_req_t *r = arg;
    br_md_t *md = r->md;
    if (!md_req_current(r, rc) || rc != ZOK)
        goto out;
    br_md_broker_t *nb = calloc((size_t)names->count + 1, sizeof *nb);
    if (!nb)
        goto out;
    size_t n = 0;
    bool changed = !md->brokers_listed;
    for (int i = 0; i < names->count; i++) {
        int32_t id;
        if (!md_parse_id(names->data[i], &id))
            continue;
        br_md_broker_t *old = (br_md_broker_t *)br_md_broker(md, id);
        if (old) {
            nb[n++] = *old;
            memset(old, 0, sizeof *old);
            old->id = -1;
            /* its registration may have been re-created since it was read
             * (new czxid = new broker epoch, new offline list): re-read */
            md_read_broker(md, id);
        } else {
            nb[n].id = id;
            n++;
            changed = true;
            md_read_broker(md, id);
        }
    }
    for (size_t i = 0; i < md->n_brokers; i++) {
        if (md->brokers[i].id >= 0) {
            ST_INFO(MD_TAG, "broker %d left", md->brokers[i].id);
            changed = true;
            if (md->cp->pm)
                br_pm_set_broker_url(md->cp->pm, md->brokers[i].id, NULL);
        }
        md_broker_clear(&md->brokers[i]);
    }
    free(md->brokers);
    md->brokers = nb;
    md->n_brokers = n;
    md->brokers_listed = true;
    if (changed)
        md_changed(md, NULL);
out:
    free(r);
}

static void md_list_brokers(br_md_t *md)
{
    md_req_t *r = md_req_new(md, NULL, -1);
    if (r && zkc_children(md->cp->zk, ZKNODE_PATH_BROKER_IDS, md->watch, md_brokers_done, r) != ZOK)
        free(r);
}

/* ------------------------------------------------------------ controller */

static void md_controller_done(void *arg, int rc, const char *data, int len, const struct Stat *stat);

static void md_controller_exists_done(void *arg, int rc, const struct Stat *stat)
{
    md_req_t *r = arg;
    br_md_t *md = r->md;
    (void)stat;
    if (md_req_current(r, rc) && rc == ZOK) {
        /* it appeared between the get and the exists: read it */
        md_req_t *r2 = md_req_new(md, NULL, -1);
        if (r2 && zkc_get(md->cp->zk, ZKNODE_PATH_CONTROLLER, md->watch, md_controller_done, r2) != ZOK)
            free(r2);
    }
    free(r);
}

static void md_controller_done(void *arg, int rc, const char *data, int len, const struct Stat *stat)
{
    (void)stat;
    md_req_t *r = arg;
    br_md_t *md = r->md;
    if (!md_req_current(r, rc))
        goto out;
    int32_t old = md->controller_id;
    if (rc == ZOK) {
        zknode_controller_t c;
        char err[128];
        if (zknode_controller_decode(data, (size_t)len, &c, err, sizeof err) == ST_OK)
            md->controller_id = c.broker_id;
        else
            md->controller_id = -1;
    } else if (rc == ZNONODE) {
        md->controller_id = -1;
        md_req_t *r2 = md_req_new(md, NULL, -1);
        if (r2 &&
            zkc_exists(md->cp->zk, ZKNODE_PATH_CONTROLLER, md->watch, md_controller_exists_done, r2) != ZOK)
            free(r2);
    }
    if (old != md->controller_id)
        md_changed(md, NULL);
out:
    free(r);
}

static void md_read_controller_epoch(br_md_t *md);

static void md_epoch_exists_done(void *arg, int rc, const struct Stat *stat)
{
    md_req_t *r = arg;
    (void)stat;
    if (md_req_current(r, rc) && rc == ZOK)
        md_read_controller_epoch(r->md); /* created between the get and the exists */
    free(r);
}

static void md_epoch_done(void *arg, int rc, const char *data, int len, const struct Stat *stat)
{
    (void)stat;
    md_req_t *r = arg;
    br_md_t *md = r->md;
    if (!md_req_current(r, rc))
        goto out;
    int32_t e;
    if (rc == ZOK && data && zknode_epoch_decode(data, (size_t)len, &e) == ST_OK) {
        if (e > md->controller_epoch)
            md->controller_epoch = e; /* the epoch only grows */
    } else if (rc == ZNONODE) {
        md_req_t *r2 = md_req_new(md, NULL, -1);
        if (r2 &&
            zkc_exists(md->cp->zk, ZKNODE_PATH_CONTROLLER_EPOCH, md->watch, md_epoch_exists_done, r2) != ZOK)
            free(r2);
    }
out:
    free(r);
}

/* Read /controller_epoch and watch it (each new controller increments it). */
static void md_read_controller_epoch(br_md_t *md)
{
    md_req_t *r = md_req_new(md, NULL, -1);
    if (r && zkc_get(md->cp->zk, ZKNODE_PATH_CONTROLLER_EPOCH, md->watch, md_epoch_done, r) != ZOK)
        free(r);
}

int32_t br_md_controller_epoch(const br_md_t *md)
{
    return md ? md->controller_epoch : 0;
}

static void md_read_controller(br_md_t *md)
{
    md_req_t *r = md_req_new(md, NULL, -1);
    if (r && zkc_get(md->cp->zk, ZKNODE_PATH_CONTROLLER, md->watch, md_controller_done, r) != ZOK)
        free(r);
}

/* ---------------------------------------------------------------- topics */

br_md_topic_t *br_md_topics(const br_md_t *md)
{
    return md->topics;
}

br_md_topic_t *br_md_topic(const br_md_t *md, const char *name)
{
    if (!name)
        return NULL;
    for (br_md_topic_t *t = md->topics; t; t = t->next)
        if (strcmp(t->name, name) == 0)
            return t;
    return NULL;
}

void br_md_topic_config(const br_md_t *md, const br_md_topic_t *t, br_topic_config_t *out)
{
    br_topic_config_init(out, md->cp->conf);
    if (t && t->config.n) {
        char err[256];
        /* apply one at a time so that one bad override does not hide the rest */
        for (size_t i = 0; i < t->config.n; i++)
            if (br_topic_config_apply(out, &t->config.keys[i], &t->config.values[i], 1, err, sizeof err) !=
                ST_OK)
                ST_WARN(MD_TAG, "topic %s: ignoring config override: %s", t->name, err);
    }
}

static bool md_contains(const int32_t *v, size_t n, int32_t x)
{
    for (size_t i = 0; i < n; i++)
        if (v[i] == x)
            return true;
    return false;
}

/* Tell br_pm what this broker should do with partition p of t. */
static void md_apply_part(br_md_t *md, br_md_topic_t *t, int32_t p)
{
    const br_cp_t *cp = md->cp;
    br_md_part_t *part = &t->parts[p];
    bool assigned = md_contains(part->replicas, part->n_replicas, cp->broker_id);
    if (!cp->pm)
        return;
    if (!assigned) {
        /* reassigned away: the replica's files go too, as in Kafka */
        if (part->hosted) {
            ST_INFO(MD_TAG, "%s-%d: no longer a replica here: deleting it", t->name, p);
            br_pm_stop(cp->pm, t->name, p, true);
            part->hosted = false;
        } else {
            (void)br_pm_delete_stray(cp->pm, t->name, p); /* moved while we were down */
        }
        return;
    }
    if (part->kind != BR_MD_STATE_OK || !t->config_loaded)
        return;
    if (br_cp_fenced(cp))
        return; /* session not confirmed: br_core applies everything again once it is */
    if (br_cp_shutting_down(cp) && part->leader != cp->broker_id) {
        /* controlled shutdown: stop following, so that no leader takes us
         * back into its ISR just before we go */
        if (part->hosted) {
            br_pm_stop(cp->pm, t->name, p, false);
            part->hosted = false;
        }
        return;
    }
    br_topic_config_t tc;
    sl_log_config_t lc;
    br_md_topic_config(md, t, &tc);
    br_topic_config_to_log(&tc, &lc);
    int32_t min_isr = (int32_t)tc.min_insync_replicas;
    int64_t ts_max = tc.message_timestamp_difference_max_ms;
    br_topic_config_free(&tc);
    br_part_state_t st = {
        .min_insync_replicas = min_isr,
        .timestamp_difference_max_ms = ts_max,
        .leader = part->leader,
        .leader_epoch = part->leader_epoch,
        .controller_epoch = part->controller_epoch,
        .replicas = part->replicas,
        .n_replicas = part->n_replicas,
        .isr = part->isr,
        .n_isr = part->n_isr,
        .topic_id = t->topic_id,
    };
    st_err_t rc = br_pm_apply_state(cp->pm, t->name, p, &st, &lc);
    if (rc != ST_OK)
        ST_ERROR(MD_TAG, "%s-%d: cannot host replica: %s", t->name, p, st_err_name(rc));
    else
        part->hosted = true;
}

static void md_part_free(br_md_part_t *p)
{
    free(p->replicas);
    free(p->isr);
    memset(p, 0, sizeof *p);
}

static void md_topic_free(br_md_topic_t *t)
{
    for (int32_t i = 0; i < t->n_parts; i++)
        md_part_free(&t->parts[i]);
    free(t->parts);
    zknode_config_free(&t->config);
    free(t->name);
    free(t);
}

/* Topic gone: stop and delete every hosted replica, drop from the cache. */
static void md_remove_topic(br_md_t *md, br_md_topic_t *t)
{
    for (br_md_topic_t **pp = &md->topics; *pp; pp = &(*pp)->next) {
        if (*pp == t) {
            *pp = t->next;
            break;
        }
    }
    for (int32_t p = 0; p < t->n_parts; p++)
        if (t->parts[p].hosted && md->cp->pm)
            br_pm_stop(md->cp->pm, t->name, p, true);
    ST_INFO(MD_TAG, "topic %s deleted", t->name);
    md_topic_free(t);
}

static void md_read_state(br_md_t *md, const char *topic, int32_t p);

static void md_state_exists_done(void *arg, int rc, const struct Stat *stat)
{
    (void)stat;
    md_req_t *r = arg;
    if (md_req_current(r, rc) && rc == ZOK)
        md_read_state(r->md, r->name, r->id);
    free(r);
}

static void md_state_done(void *arg, int rc, const char *data, int len, const struct Stat *stat)
{
    md_req_t *r = arg;
    br_md_t *md = r->md;
    if (!md_req_current(r, rc))
        goto out;
    br_md_topic_t *t = br_md_topic(md, r->name);
    if (!t || r->id >= t->n_parts)
        goto out;
    br_md_part_t *part = &t->parts[r->id];
    if (rc == ZNONODE) {
        part->kind = BR_MD_STATE_NONE;
        char path[512];
        if (zknode_path_partition_state(path, sizeof path, r->name, r->id) >= 0) {
            md_req_t *r2 = md_req_new(md, r->name, r->id);
            if (r2 && zkc_exists(md->cp->zk, path, md->watch, md_state_exists_done, r2) != ZOK)
                free(r2);
        }
        md_changed(md, r->name);
        goto out;
    }
    if (rc != ZOK)
        goto out;
    zknode_part_state_t s;
    char err[256];
    if (zknode_part_state_decode(data, (size_t)len, &s, err, sizeof err) != ST_OK) {
        ST_WARN(MD_TAG, "%s-%d state: %s", r->name, r->id, err);
        goto out;
    }
    free(part->isr);
    part->isr = s.isr;
    part->n_isr = s.n_isr;
    s.isr = NULL;
    part->leader = s.leader;
    part->leader_epoch = s.leader_epoch;
    part->controller_epoch = s.controller_epoch;
    part->state_version = stat ? stat->version : 0;
    part->kind = BR_MD_STATE_OK;
    zknode_part_state_free(&s);
    md_apply_part(md, t, r->id);
    md_changed(md, r->name);
out:
    free(r);
}

void br_md_state_written(br_md_t *md, const char *topic, int32_t p, const zknode_part_state_t *s,
                         int32_t version)
{
    br_md_topic_t *t = br_md_topic(md, topic);
    if (!t || p < 0 || p >= t->n_parts)
        return;
    br_md_part_t *part = &t->parts[p];
    if (part->kind == BR_MD_STATE_OK && version >= 0 && part->state_version >= version)
        return; /* the cache already has this or a newer state */
    int32_t *isr = malloc((s->n_isr + 1) * sizeof *isr);
    if (!isr)
        return;
    memcpy(isr, s->isr, s->n_isr * sizeof *isr);
    free(part->isr);
    part->isr = isr;
    part->n_isr = s->n_isr;
    part->leader = s->leader;
    part->leader_epoch = s->leader_epoch;
    part->controller_epoch = s->controller_epoch;
    part->state_version = version;
    part->kind = BR_MD_STATE_OK;
    md_apply_part(md, t, p);
    md_changed(md, topic);
}

void br_md_reapply_all(br_md_t *md)
{
    for (br_md_topic_t *t = md->topics; t; t = t->next)
        for (int32_t p = 0; t->loaded && p < t->n_parts; p++)
            md_apply_part(md, t, p);
}

static void md_read_state(br_md_t *md, const char *topic, int32_t p)
{
    char path[512];
    if (zknode_path_partition_state(path, sizeof path, topic, p) < 0)
        return;
    md_req_t *r = md_req_new(md, topic, p);
    if (r && zkc_get(md->cp->zk, path, md->watch, md_state_done, r) != ZOK)
        free(r);
}

void br_md_refresh_states(br_md_t *md)
{
    for (br_md_topic_t *t = md->topics; t; t = t->next)
        for (int32_t p = 0; t->loaded && p < t->n_parts; p++)
            md_read_state(md, t->name, p);
}

static void md_read_topic(br_md_t *md, const char *topic);

static void md_topic_done(void *arg, int rc, const char *data, int len, const struct Stat *stat)
{
    md_req_t *r = arg;
    br_md_t *md = r->md;
    if (!md_req_current(r, rc))
        goto out;
    br_md_topic_t *t = br_md_topic(md, r->name);
    if (!t)
        goto out;
    if (rc == ZNONODE) {
        md_remove_topic(md, t);
        md_changed(md, r->name);
        goto out;
    }
    if (rc != ZOK)
        goto out;
    zknode_topic_t zt;
    char err[256];
    if (zknode_topic_decode(data, (size_t)len, &zt, err, sizeof err) != ST_OK) {
        ST_WARN(MD_TAG, "/brokers/topics/%s: %s", r->name, err);
        goto out;
    }
    snprintf(t->topic_id, sizeof t->topic_id, "%s", zt.topic_id);
    t->version = stat ? stat->version : 0;
    int32_t old_n = t->n_parts;
    if (zt.n_partitions > old_n) {
        br_md_part_t *np = realloc(t->parts, (size_t)zt.n_partitions * sizeof *np);
        if (!np) {
            zknode_topic_free(&zt);
            goto out;
        }
        memset(np + old_n, 0, (size_t)(zt.n_partitions - old_n) * sizeof *np);
        t->parts = np;
        t->n_parts = zt.n_partitions;
    }
    /* partitions are never removed (Kafka); a shorter list is ignored */
    for (int32_t p = 0; p < zt.n_partitions; p++) {
        br_md_part_t *part = &t->parts[p];
        free(part->replicas);
        part->replicas = malloc((size_t)zt.n_replicas[p] * sizeof(int32_t));
        part->n_replicas = part->replicas ? (size_t)zt.n_replicas[p] : 0;
        if (part->replicas)
            memcpy(part->replicas, zt.replicas[p], part->n_replicas * sizeof(int32_t));
        if (p >= old_n || !t->loaded)
            md_read_state(md, t->name, p);
        else
            md_apply_part(md, t, p);
    }
    t->loaded = true;
    zknode_topic_free(&zt);
    md_changed(md, r->name);
out:
    free(r);
}

static void md_read_topic(br_md_t *md, const char *topic)
{
    char path[512];
    if (zknode_path_topic(path, sizeof path, topic) < 0)
        return;
    md_req_t *r = md_req_new(md, topic, -1);
    if (r && zkc_get(md->cp->zk, path, md->watch, md_topic_done, r) != ZOK)
        free(r);
}

static void md_read_config(br_md_t *md, const char *topic);

static void md_config_exists_done(void *arg, int rc, const struct Stat *stat)
{
    (void)stat;
    md_req_t *r = arg;
    if (md_req_current(r, rc) && rc == ZOK)
        md_read_config(r->md, r->name);
    free(r);
}

static void md_config_done(void *arg, int rc, const char *data, int len, const struct Stat *stat)
{
    (void)stat;
    md_req_t *r = arg;
    br_md_t *md = r->md;
    if (!md_req_current(r, rc))
        goto out;
    br_md_topic_t *t = br_md_topic(md, r->name);
    if (!t)
        goto out;
    zknode_config_free(&t->config);
    if (rc == ZOK) {
        char err[256];
        if (zknode_config_decode(data, (size_t)len, &t->config, err, sizeof err) != ST_OK)
            ST_WARN(MD_TAG, "/config/topics/%s: %s", r->name, err);
    } else if (rc == ZNONODE) {
        char path[512];
        if (zknode_path_topic_config(path, sizeof path, r->name) >= 0) {
            md_req_t *r2 = md_req_new(md, r->name, -1);
            if (r2 && zkc_exists(md->cp->zk, path, md->watch, md_config_exists_done, r2) != ZOK)
                free(r2);
        }
    } else {
        goto out;
    }
    bool first = !t->config_loaded;
    t->config_loaded = true;
    if (first) {
        /* states already read wait for the config before hosting */
        for (int32_t p = 0; p < t->n_parts; p++)
            md_apply_part(md, t, p);
    } else if (md->cp->pm) {
        br_topic_config_t tc;
        sl_log_config_t lc;
        br_md_topic_config(md, t, &tc);
        br_topic_config_to_log(&tc, &lc);
        br_topic_config_free(&tc);
        br_pm_set_config(md->cp->pm, t->name, &lc);
    }
    md_changed(md, r->name);
out:
    free(r);
}

static void md_read_config(br_md_t *md, const char *topic)
{
    char path[512];
    if (zknode_path_topic_config(path, sizeof path, topic) < 0)
        return;
    md_req_t *r = md_req_new(md, topic, -1);
    if (r && zkc_get(md->cp->zk, path, md->watch, md_config_done, r) != ZOK)
        free(r);
}

static bool md_topic_listed(void *arg, const char *topic)
{
    const struct String_vector *names = arg;
    for (int i = 0; i < names->count; i++)
        if (strcmp(names->data[i], topic) == 0)
            return true;
    return false;
}

static void md_topics_done(void *arg, int rc, const struct String_vector *names)
{
    md_req_t *r = arg;
    br_md_t *md = r->md;
    if (!md_req_current(r, rc) || rc != ZOK)
        goto out;
    bool changed = !md->topics_listed;
    /* removed topics */
    for (br_md_topic_t *t = md->topics, *next; t; t = next) {
        next = t->next;
        bool found = false;
        for (int i = 0; i < names->count && !found; i++)
            found = strcmp(names->data[i], t->name) == 0;
        if (!found) {
            md_remove_topic(md, t);
            changed = true;
        }
    }
    for (int i = 0; i < names->count; i++) {
        const char *name = names->data[i];
        if (!zknode_topic_name_valid(name))
            continue;
        br_md_topic_t *t = br_md_topic(md, name);
        if (t && md->topics_listed)
            continue;
        if (!t) {
            t = calloc(1, sizeof *t);
            if (!t || !(t->name = strdup(name))) {
                free(t);
                continue;
            }
            t->next = md->topics;
            md->topics = t;
            changed = true;
        }
        md_read_config(md, name);
        md_read_topic(md, name);
    }
    md->topics_listed = true;
    /* replicas on disk of topics this cluster does not have (deleted while
     * this broker was down): set aside, not deleted, in case the broker
     * is pointed at the wrong ZooKeeper chroot */
    if (md->cp->pm)
        (void)br_pm_set_aside_strays(md->cp->pm, md_topic_listed, (void *)names);
    if (changed)
        md_changed(md, NULL);
out:
    free(r);
}

static void md_list_topics(br_md_t *md)
{
    md_req_t *r = md_req_new(md, NULL, -1);
    if (r && zkc_children(md->cp->zk, ZKNODE_PATH_TOPICS, md->watch, md_topics_done, r) != ZOK)
        free(r);
}

/* --------------------------------------------------- dynamic broker config */

static void md_read_broker_config(br_md_t *md);

static void md_broker_config_exists_done(void *arg, int rc, const struct Stat *stat)
{
    (void)stat;
    md_req_t *r = arg;
    if (md_req_current(r, rc) && rc == ZOK)
        md_read_broker_config(r->md);
    free(r);
}

static void md_broker_config_done(void *arg, int rc, const char *data, int len, const struct Stat *stat)
{
    (void)stat;
    md_req_t *r = arg;
    br_md_t *md = r->md;
    if (!md_req_current(r, rc))
        goto out;
    zknode_config_free(&md->broker_config);
    if (rc == ZOK) {
        char err[256];
        if (zknode_config_decode(data, (size_t)len, &md->broker_config, err, sizeof err) != ST_OK)
            ST_WARN(MD_TAG, "/config/brokers/%d: %s", md->cp->broker_id, err);
    } else if (rc == ZNONODE) {
        char path[128];
        if (zknode_path_broker_config(path, sizeof path, md->cp->broker_id) >= 0) {
            md_req_t *r2 = md_req_new(md, NULL, -1);
            if (r2 && zkc_exists(md->cp->zk, path, md->watch, md_broker_config_exists_done, r2) != ZOK)
                free(r2);
        }
    } else {
        goto out;
    }
    br_cp_dynamic_config(md->cp, &md->broker_config);
out:
    free(r);
}

static void md_read_broker_config(br_md_t *md)
{
    char path[128];
    if (zknode_path_broker_config(path, sizeof path, md->cp->broker_id) < 0)
        return;
    md_req_t *r = md_req_new(md, NULL, -1);
    if (r && zkc_get(md->cp->zk, path, md->watch, md_broker_config_done, r) != ZOK)
        free(r);
}

const zknode_config_t *br_md_broker_config(const br_md_t *md)
{
    return &md->broker_config;
}

void br_md_reapply_configs(br_md_t *md)
{
    if (!md->cp->pm)
        return;
    for (br_md_topic_t *t = md->topics; t; t = t->next) {
        bool hosted = false;
        for (int32_t p = 0; p < t->n_parts && !hosted; p++)
            hosted = t->parts[p].hosted;
        if (!hosted || !t->config_loaded)
            continue;
        br_topic_config_t tc;
        sl_log_config_t lc;
        br_md_topic_config(md, t, &tc);
        br_topic_config_to_log(&tc, &lc);
        br_topic_config_free(&tc);
        br_pm_set_config(md->cp->pm, t->name, &lc);
    }
}

/* ---------------------------------------------------------------- watches */

static void md_watch(void *arg, int type, const char *path)
{
    (void)type;
    br_md_t *md = arg;
    if (!path)
        return;
    if (strcmp(path, ZKNODE_PATH_BROKER_IDS) == 0) {
        md_list_brokers(md);
    } else if (strncmp(path, ZKNODE_PATH_BROKER_IDS "/", strlen(ZKNODE_PATH_BROKER_IDS) + 1) == 0) {
        int32_t id;
        if (md_parse_id(path + strlen(ZKNODE_PATH_BROKER_IDS) + 1, &id))
            md_read_broker(md, id);
    } else if (strcmp(path, ZKNODE_PATH_TOPICS) == 0) {
        md_list_topics(md);
    } else if (strncmp(path, ZKNODE_PATH_TOPICS "/", strlen(ZKNODE_PATH_TOPICS) + 1) == 0) {
        const char *rest = path + strlen(ZKNODE_PATH_TOPICS) + 1;
        const char *slash = strchr(rest, '/');
        if (!slash) {
            md_read_topic(md, rest);
            return;
        }
        char topic[256];
        size_t tl = (size_t)(slash - rest);
        if (tl >= sizeof topic)
            return;
        memcpy(topic, rest, tl);
        topic[tl] = '\0';
        int32_t p;
        char pbuf[32];
        if (sscanf(slash, "/partitions/%31[0-9]/state", pbuf) == 1 && md_parse_id(pbuf, &p))
            md_read_state(md, topic, p);
    } else if (strcmp(path, ZKNODE_PATH_CONTROLLER) == 0) {
        md_read_controller(md);
    } else if (strcmp(path, ZKNODE_PATH_CONTROLLER_EPOCH) == 0) {
        md_read_controller_epoch(md);
    } else if (strncmp(path, ZKNODE_PATH_BROKER_CONFIGS "/", strlen(ZKNODE_PATH_BROKER_CONFIGS) + 1) == 0) {
        int32_t id;
        if (md_parse_id(path + strlen(ZKNODE_PATH_BROKER_CONFIGS) + 1, &id) && id == md->cp->broker_id)
            md_read_broker_config(md);
    } else if (strncmp(path, ZKNODE_PATH_TOPIC_CONFIGS "/", strlen(ZKNODE_PATH_TOPIC_CONFIGS) + 1) == 0) {
        const char *topic = path + strlen(ZKNODE_PATH_TOPIC_CONFIGS) + 1;
        if (br_md_topic(md, topic))
            md_read_config(md, topic);
    }
}

br_md_t *br_md_new(const br_cp_t *cp)
{
    br_md_t *md = calloc(1, sizeof *md);
    if (!md)
        return NULL;
    md->cp = cp;
    md->controller_id = -1;
    md->watch = zkc_watcher_new(cp->zk, md_watch, md);
    if (!md->watch) {
        free(md);
        return NULL;
    }
    return md;
}

void br_md_start(br_md_t *md)
{
    md->gen++;
    md->brokers_listed = false;
    md->topics_listed = false;
    for (br_md_topic_t *t = md->topics; t; t = t->next)
        t->loaded = false; /* re-read every state */
    md_list_brokers(md);
    md_list_topics(md);
    md_read_controller(md);
    md_read_controller_epoch(md);
    md_read_broker_config(md);
}

void br_md_free(br_md_t *md)
{
    if (!md)
        return;
    for (size_t i = 0; i < md->n_brokers; i++)
        md_broker_clear(&md->brokers[i]);
    free(md->brokers);
    zknode_config_free(&md->broker_config);
    while (md->topics) {
        br_md_topic_t *t = md->topics;
        md->topics = t->next;
        md_topic_free(t);
    }
    free(md);
}
