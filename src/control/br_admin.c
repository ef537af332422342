/*
 * br_admin: the topic requests (see br_admin.h): CreateTopics, DeleteTopics
 * and CreatePartitions, the pending calls that wait for the cluster to
 * follow their writes, topics the broker creates itself (auto-creation,
 * __consumer_offsets), and the request switch and life cycle. Admin writes
 * go straight to ZooKeeper from whichever broker received the request, as
 * an operator with zkCli.sh would write them; the controller picks them up
 * through its watches. Replicas are placed by br_placement over the live
 * brokers of the cache. The other handlers are in br_admin_config.c and
 * br_admin_metadata.c (shared internals: br_admin_int.h).
 */
#include "control/br_admin.h"

#include <stdlib.h>
#include <string.h>

#include "common/st_clock.h"
#include "common/st_log.h"
#include "control/br_admin_int.h"
#include "control/br_placement.h"

/* ---------------------------------------------------------- pending */

typedef enum ad_wait_kind {
    AD_WAIT_CREATE,
    AD_WAIT_DELETE,
    AD_WAIT_PARTITIONS
} ad_wait_kind_t;

typedef enum ad_topic_phase {
    AD_PHASE_WRITING = 0, /* ZooKeeper write in flight */
    AD_PHASE_WAITING,     /* written, waiting for the cluster to follow */
    AD_PHASE_DONE,        /* result final */
} ad_topic_phase_t;

typedef struct ad_topic_result {
    char *name;
    ad_topic_phase_t phase;
    st_err_t err;
    char *msg;
    char topic_id[32];
    int32_t want_parts; /* partitions to wait for (create / create partitions) */
} ad_topic_result_t;

struct ad_wait {
    br_admin_t *ad;
    ad_wait_kind_t kind;
    br_call_t *call; /* NULL once answered */
    ad_topic_result_t *topics;
    size_t n_topics;
    int refs;     /* the pending list + writes in flight */
    bool started; /* in the pending list (ad_wait_start ran) */
    ev_timer timer;
    struct ad_wait *next;
};

static void ad_wait_unref(ad_wait_t *w)
{
    if (--w->refs > 0)
        return;
    for (size_t i = 0; i < w->n_topics; i++) {
        free(w->topics[i].name);
        free(w->topics[i].msg);
    }
    free(w->topics);
    free(w);
}

static void ad_result_set(ad_topic_result_t *r, st_err_t err, const char *msg)
{
    r->err = err;
    r->phase = AD_PHASE_DONE;
    free(r->msg);
    r->msg = msg ? strdup(msg) : NULL;
}

static void ad_wait_answer(ad_wait_t *w)
{
    if (!w->call)
        return;
    st_arena_t a = {0};
    Strata__TopicResult **res = st_arena_alloc(&a, (w->n_topics + 1) * sizeof *res);
    for (size_t i = 0; res && i < w->n_topics; i++) {
        ad_topic_result_t *t = &w->topics[i];
        res[i] = ST_ARENA_NEW(&a, Strata__TopicResult, STRATA__TOPIC_RESULT__INIT);
        if (!res[i])
            continue;
        res[i]->name = st_arena_strdup(&a, t->name);
        st_err_t e = t->phase == AD_PHASE_DONE ? t->err : ST_ERR_REQUEST_TIMED_OUT;
        res[i]->error = (Strata__ErrorCode)st_err_to_wire(e);
        res[i]->error_message =
            st_arena_strdup(&a, e == ST_ERR_REQUEST_TIMED_OUT && t->phase != AD_PHASE_DONE
                                    ? "timed out waiting for the cluster (the operation continues)"
                                    : t->msg);
        res[i]->topic_id = st_arena_strdup(&a, t->topic_id);
    }
    Strata__Response resp = STRATA__RESPONSE__INIT;
    Strata__CreateTopicsResponse ct = STRATA__CREATE_TOPICS_RESPONSE__INIT;
    Strata__DeleteTopicsResponse dt = STRATA__DELETE_TOPICS_RESPONSE__INIT;
    Strata__CreatePartitionsResponse cp = STRATA__CREATE_PARTITIONS_RESPONSE__INIT;
    if (w->kind == AD_WAIT_CREATE) {
        ct.n_topics = res ? w->n_topics : 0;
        ct.topics = res;
        resp.body_case = STRATA__RESPONSE__BODY_CREATE_TOPICS;
        resp.create_topics = &ct;
    } else if (w->kind == AD_WAIT_DELETE) {
        dt.n_topics = res ? w->n_topics : 0;
        dt.topics = res;
        resp.body_case = STRATA__RESPONSE__BODY_DELETE_TOPICS;
        resp.delete_topics = &dt;
    } else {
        cp.n_topics = res ? w->n_topics : 0;
        cp.topics = res;
        resp.body_case = STRATA__RESPONSE__BODY_CREATE_PARTITIONS;
        resp.create_partitions = &cp;
    }
    br_call_reply(w->call, &resp);
    w->call = NULL;
    st_arena_free(&a);
}

/* Is the cluster done with topic r of wait w? */
static bool ad_topic_ready(br_admin_t *ad, ad_wait_t *w, ad_topic_result_t *r)
{
    br_md_topic_t *t = br_md_topic(ad->cp->md, r->name);
    if (w->kind == AD_WAIT_DELETE)
        return t == NULL;
    if (!t || !t->loaded || t->n_parts < r->want_parts)
        return false;
    for (int32_t p = 0; p < r->want_parts; p++)
        if (t->parts[p].kind != BR_MD_STATE_OK || t->parts[p].leader < 0)
            return false;
    snprintf(r->topic_id, sizeof r->topic_id, "%s", t->topic_id);
    return true;
}

static void ad_wait_remove(br_admin_t *ad, ad_wait_t *w)
{
    for (ad_wait_t **pp = &ad->waits; *pp; pp = &(*pp)->next) {
        if (*pp == w) {
            *pp = w->next;
            break;
        }
    }
    ev_timer_stop(ad->cp->loop, &w->timer);
    ad_wait_unref(w);
}

/* Answer w if every topic is final; returns true when answered. */
static bool ad_wait_check(br_admin_t *ad, ad_wait_t *w)
{
    for (size_t i = 0; i < w->n_topics; i++) {
        ad_topic_result_t *r = &w->topics[i];
        if (r->phase == AD_PHASE_WAITING && ad_topic_ready(ad, w, r))
            ad_result_set(r, ST_OK, NULL);
        if (r->phase != AD_PHASE_DONE)
            return false;
    }
    ad_wait_answer(w);
    ad_wait_remove(ad, w);
    return true;
}

static void ad_wait_timeout(struct ev_loop *loop, ev_timer *t, int revents)
{
    (void)loop;
    (void)revents;
    ad_wait_t *w = t->data;
    ad_wait_answer(w);
    ad_wait_remove(w->ad, w);
}

static ad_wait_t *ad_wait_new(br_admin_t *ad, ad_wait_kind_t kind, br_call_t *call, size_t n)
{
    ad_wait_t *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    w->topics = calloc(n + 1, sizeof *w->topics);
    if (!w->topics) {
        free(w);
        return NULL;
    }
    w->ad = ad;
    w->kind = kind;
    w->call = call;
    w->n_topics = n;
    w->refs = 1;
    ev_timer_init(&w->timer, ad_wait_timeout, 0., 0.);
    w->timer.data = w;
    return w;
}

/* Start waiting (timeout_ms <= 0: answer as soon as the writes are done). */
static void ad_wait_start(br_admin_t *ad, ad_wait_t *w, int32_t timeout_ms)
{
    w->next = ad->waits;
    ad->waits = w;
    w->started = true;
    if (timeout_ms <= 0) {
        /* no waiting for the cluster: writes done = answered */
        for (size_t i = 0; i < w->n_topics; i++)
            if (w->topics[i].phase == AD_PHASE_WAITING)
                ad_result_set(&w->topics[i], ST_OK, NULL);
        timeout_ms = 30000; /* still bound the ZooKeeper writes */
    }
    ev_timer_set(&w->timer, timeout_ms / 1000.0, 0.);
    ev_timer_start(ad->cp->loop, &w->timer);
    ad_wait_check(ad, w);
}

typedef struct ad_write {
    ad_wait_t *w;
    size_t idx;
    int32_t timeout_ms;
    /* retry of a create whose stale config znode existed */
    char *topic_json;
    char *config_json;
} ad_write_t;

static void ad_write_finish(ad_write_t *wr, st_err_t err, const char *msg)
{
    ad_wait_t *w = wr->w;
    ad_topic_result_t *r = &w->topics[wr->idx];
    if (w->call && r->phase == AD_PHASE_WRITING) {
        if (err != ST_OK)
            ad_result_set(r, err, msg);
        else if (wr->timeout_ms <= 0)
            ad_result_set(r, ST_OK, NULL);
        else
            r->phase = AD_PHASE_WAITING;
        if (w->started)
            ad_wait_check(w->ad, w);
    }
    ad_wait_unref(w);
    free(wr->topic_json);
    free(wr->config_json);
    free(wr);
}

static ad_write_t *ad_write_new(ad_wait_t *w, size_t idx, int32_t timeout_ms)
{
    ad_write_t *wr = calloc(1, sizeof *wr);
    if (!wr)
        return NULL;
    wr->w = w;
    wr->idx = idx;
    wr->timeout_ms = timeout_ms;
    w->refs++;
    return wr;
}

void br_admin_md_changed(br_admin_t *ad)
{
    if (!ad)
        return;
    for (ad_wait_t *w = ad->waits, *next; w; w = next) {
        next = w->next;
        ad_wait_check(ad, w);
    }
}

/* --------------------------------------------------------- assignment */

/* Assign over the live brokers of the cache. */
static st_err_t ad_assign_live(br_admin_t *ad, int32_t n_parts, int32_t rf, int32_t first_partition,
                               int32_t *out)
{
    br_md_t *md = ad->cp->md;
    size_t n = br_md_n_brokers(md);
    int32_t *ids = calloc(n + 1, sizeof *ids);
    const char **racks = calloc(n + 1, sizeof *racks);
    st_err_t rc = ST_ERR_NOMEM;
    if (ids && racks) {
        for (size_t i = 0; i < n; i++) {
            const br_md_broker_t *b = br_md_broker_at(md, i);
            ids[i] = b->id;
            racks[i] = b->rack;
        }
        size_t start = n ? (size_t)random() % n : 0;
        rc = br_placement_assign(ids, racks, n, n_parts, rf, start, first_partition, out);
    }
    free(ids);
    free(racks);
    return rc;
}

/* ------------------------------------------------------ CreateTopics */

static void ad_create_done(void *arg, int rc, const zoo_op_result_t *results, int n);

static int ad_create_commit(br_admin_t *ad, ad_write_t *wr, bool set_config)
{
    ad_topic_result_t *r = &wr->w->topics[wr->idx];
    char tp[512], cp[512];
    zknode_path_topic(tp, sizeof tp, r->name);
    zknode_path_topic_config(cp, sizeof cp, r->name);
    zkc_multi_t *m = zkc_multi_new(ad->cp->zk);
    if (!m)
        return ZSYSTEMERROR;
    if (set_config)
        zkc_multi_set(m, cp, wr->config_json, (int)strlen(wr->config_json), -1);
    else
        zkc_multi_create(m, cp, wr->config_json, (int)strlen(wr->config_json), 0);
    zkc_multi_create(m, tp, wr->topic_json, (int)strlen(wr->topic_json), 0);
    return zkc_multi_commit(ad->cp->zk, m, ad_create_done, wr);
}

static void ad_create_done(void *arg, int rc, const zoo_op_result_t *results, int n)
{
    ad_write_t *wr = arg;
    if (rc == ZOK) {
        ST_INFO(AD_TAG, "created topic %s", wr->w->topics[wr->idx].name);
        ad_write_finish(wr, ST_OK, NULL);
        return;
    }
    if (n >= 2 && results && results[1].err == ZNODEEXISTS) {
        ad_write_finish(wr, ST_ERR_TOPIC_ALREADY_EXISTS, "topic already exists");
        return;
    }
    if (n >= 2 && results && results[0].err == ZNODEEXISTS && rc != ZCLOSING) {
        /* a stale config znode (left by a hand-made deletion): overwrite it */
        if (ad_create_commit(wr->w->ad, wr, true) == ZOK)
            return;
    }
    char msg[128];
    snprintf(msg, sizeof msg, "ZooKeeper: %s", zkc_rc_name(rc));
    ad_write_finish(
        wr, zkc_rc_to_err(rc) == ST_ERR_CLOSED ? ST_ERR_REQUEST_TIMED_OUT : ST_ERR_UNKNOWN_SERVER_ERROR, msg);
}

/* Validate one topic of a CreateTopics request and build its payloads.
 * Returns ST_OK with the topic and config JSON malloc'd. */
static st_err_t ad_create_prepare(br_admin_t *ad, const Strata__CreatableTopic *ct, char *msg, size_t msglen,
                                  char **topic_json, char **config_json, char topic_id[32],
                                  int32_t *n_parts_out)
{
    const br_cp_t *cp = ad->cp;
    *topic_json = *config_json = NULL;
    const char *name = ct->name;
    if (!zknode_topic_name_valid(name)) {
        snprintf(msg, msglen, "invalid topic name (1-249 of [a-zA-Z0-9._-], not . or ..)");
        return ST_ERR_INVALID_TOPIC_EXCEPTION;
    }
    if (br_md_topic(cp->md, name)) {
        snprintf(msg, msglen, "topic '%s' already exists", name);
        return ST_ERR_TOPIC_ALREADY_EXISTS;
    }
    /* configs */
    br_topic_config_t tc;
    br_topic_config_init(&tc, cp->conf);
    zknode_config_t zc = {0};
    zc.keys = calloc(ct->n_configs + 1, sizeof *zc.keys);
    zc.values = calloc(ct->n_configs + 1, sizeof *zc.values);
    st_err_t rc = ST_OK;
    zknode_topic_t zt = {0};
    int32_t *flat = NULL;
    if (!zc.keys || !zc.values) {
        rc = ST_ERR_NOMEM;
        goto out;
    }
    for (size_t i = 0; i < ct->n_configs; i++) {
        const Strata__ConfigEntry *e = ct->configs[i];
        if (!e || !e->name || !e->value) {
            snprintf(msg, msglen, "config entry without name or value");
            rc = ST_ERR_INVALID_CONFIG;
            goto out;
        }
        if (st_conf_set(br_topic_config_table, &tc, e->name, e->value, msg, msglen) != ST_OK) {
            rc = ST_ERR_INVALID_CONFIG;
            goto out;
        }
        zc.keys[zc.n] = e->name;
        zc.values[zc.n] = e->value;
        zc.n++;
    }
    int32_t n_parts, rf;
    if (ct->n_assignments > 0) {
        n_parts = (int32_t)ct->n_assignments;
        rf = -1;
        if (ct->n_assignments > 100000) {
            snprintf(msg, msglen, "too many partitions");
            rc = ST_ERR_INVALID_PARTITIONS;
            goto out;
        }
        zt.n_partitions = n_parts;
        zt.replicas = calloc((size_t)n_parts, sizeof *zt.replicas);
        zt.n_replicas = calloc((size_t)n_parts, sizeof *zt.n_replicas);
        if (!zt.replicas || !zt.n_replicas) {
            rc = ST_ERR_NOMEM;
            goto out;
        }
        for (size_t i = 0; i < ct->n_assignments; i++) {
            const Strata__ReplicaAssignment *ra = ct->assignments[i];
            if (!ra || ra->partition < 0 || ra->partition >= n_parts || zt.replicas[ra->partition] ||
                ra->n_replicas == 0) {
                snprintf(msg, msglen, "assignments must cover partitions 0..%d once each, with replicas",
                         n_parts - 1);
                rc = ST_ERR_INVALID_REPLICA_ASSIGNMENT;
                goto out;
            }
            if (rf < 0)
                rf = (int32_t)ra->n_replicas;
            if ((int32_t)ra->n_replicas != rf) {
                snprintf(msg, msglen, "every partition needs the same number of replicas");
                rc = ST_ERR_INVALID_REPLICA_ASSIGNMENT;
                goto out;
            }
            for (size_t j = 0; j < ra->n_replicas; j++) {
                for (size_t k = 0; k < j; k++)
                    if (ra->replicas[k] == ra->replicas[j]) {
                        snprintf(msg, msglen, "partition %d lists broker %d twice", ra->partition,
                                 ra->replicas[j]);
                        rc = ST_ERR_INVALID_REPLICA_ASSIGNMENT;
                        goto out;
                    }
                if (!br_md_broker_live(cp->md, ra->replicas[j])) {
                    snprintf(msg, msglen, "broker %d is not a live broker", ra->replicas[j]);
                    rc = ST_ERR_INVALID_REPLICA_ASSIGNMENT;
                    goto out;
                }
            }
            zt.replicas[ra->partition] = (int32_t *)ra->replicas;
            zt.n_replicas[ra->partition] = (int32_t)ra->n_replicas;
        }
    } else {
        n_parts = ct->num_partitions == -1 ? (int32_t)cp->conf->num_partitions : ct->num_partitions;
        rf = ct->replication_factor == -1 ? (int32_t)cp->conf->default_replication_factor
                                          : ct->replication_factor;
        if (n_parts <= 0 || n_parts > 100000) {
            snprintf(msg, msglen, "number of partitions must be at least 1 (got %d)", n_parts);
            rc = ST_ERR_INVALID_PARTITIONS;
            goto out;
        }
        if (rf <= 0 || rf > 1000) {
            snprintf(msg, msglen, "replication factor must be at least 1 (got %d)", rf);
            rc = ST_ERR_INVALID_REPLICATION_FACTOR;
            goto out;
        }
        if ((size_t)rf > br_md_n_brokers(cp->md)) {
            snprintf(msg, msglen, "replication factor %d larger than the %zu live brokers", rf,
                     br_md_n_brokers(cp->md));
            rc = ST_ERR_INVALID_REPLICATION_FACTOR;
            goto out;
        }
        flat = malloc((size_t)n_parts * (size_t)rf * sizeof *flat);
        zt.n_partitions = n_parts;
        zt.replicas = calloc((size_t)n_parts, sizeof *zt.replicas);
        zt.n_replicas = calloc((size_t)n_parts, sizeof *zt.n_replicas);
        if (!flat || !zt.replicas || !zt.n_replicas) {
            rc = ST_ERR_NOMEM;
            goto out;
        }
        rc = ad_assign_live(ad, n_parts, rf, 0, flat);
        if (rc != ST_OK) {
            snprintf(msg, msglen, "cannot assign replicas");
            goto out;
        }
        for (int32_t p = 0; p < n_parts; p++) {
            zt.replicas[p] = flat + (size_t)p * (size_t)rf;
            zt.n_replicas[p] = rf;
        }
    }
    if (rf > 0 && tc.min_insync_replicas > rf)
        ST_WARN(AD_TAG, "topic %s: min.insync.replicas %lld > replication factor %d", name,
                (long long)tc.min_insync_replicas, rf);
    char id[23];
    zknode_new_id(id);
    snprintf(zt.topic_id, sizeof zt.topic_id, "%s", id);
    snprintf(topic_id, 32, "%s", id);
    *topic_json = zknode_topic_encode(&zt);
    *config_json = zknode_config_encode(&zc);
    *n_parts_out = n_parts;
    if (!*topic_json || !*config_json) {
        free(*topic_json);
        free(*config_json);
        *topic_json = *config_json = NULL;
        rc = ST_ERR_NOMEM;
    }
out:
    free(zt.replicas);
    free(zt.n_replicas);
    free(flat);
    free(zc.keys);
    free(zc.values);
    br_topic_config_free(&tc);
    return rc;
}

static void ad_create_topics(br_admin_t *ad, br_call_t *call, const Strata__CreateTopicsRequest *req)
{
    size_t n = req->n_topics;
    ad_wait_t *w = ad_wait_new(ad, AD_WAIT_CREATE, call, n);
    if (!w) {
        br_call_reply_error(call, ST_ERR_NOMEM, "out of memory");
        return;
    }
    for (size_t i = 0; i < n; i++) {
        const Strata__CreatableTopic *ct = req->topics[i];
        ad_topic_result_t *r = &w->topics[i];
        r->name = strdup(ct && ct->name ? ct->name : "");
        if (!ct) {
            ad_result_set(r, ST_ERR_INVALID_REQUEST, "empty topic entry");
            continue;
        }
        /* a name listed more than once: every entry of it is refused (as
         * Kafka does), the other topics are created */
        bool dup = false;
        for (size_t j = 0; j < n && !dup; j++)
            dup = j != i && req->topics[j] && req->topics[j]->name && ct->name &&
                  strcmp(req->topics[j]->name, ct->name) == 0;
        if (dup) {
            ad_result_set(r, ST_ERR_INVALID_REQUEST, "Duplicate topic name.");
            continue;
        }
        char msg[256] = "";
        char *tj = NULL, *cj = NULL;
        int32_t np = 0;
        st_err_t rc = ad_create_prepare(ad, ct, msg, sizeof msg, &tj, &cj, r->topic_id, &np);
        if (rc != ST_OK) {
            ad_result_set(r, rc, msg);
            continue;
        }
        r->want_parts = np;
        if (req->validate_only) {
            free(tj);
            free(cj);
            r->topic_id[0] = '\0';
            ad_result_set(r, ST_OK, NULL);
            continue;
        }
        ad_write_t *wr = ad_write_new(w, i, req->timeout_ms);
        if (!wr) {
            free(tj);
            free(cj);
            ad_result_set(r, ST_ERR_NOMEM, "out of memory");
            continue;
        }
        wr->topic_json = tj;
        wr->config_json = cj;
        if (ad_create_commit(ad, wr, false) != ZOK)
            ad_write_finish(wr, ST_ERR_NOT_CONTROLLER, "ZooKeeper is not available");
    }
    ad_wait_start(ad, w, req->validate_only ? 0 : req->timeout_ms);
}

/* ------------------------------------------------------ DeleteTopics */

static void ad_delete_marked(void *arg, int rc, const char *path, const struct Stat *stat)
{
    (void)path;
    (void)stat;
    ad_write_t *wr = arg;
    if (rc == ZOK || rc == ZNODEEXISTS) {
        ad_write_finish(wr, ST_OK, NULL);
    } else {
        char msg[128];
        snprintf(msg, sizeof msg, "ZooKeeper: %s", zkc_rc_name(rc));
        ad_write_finish(wr, ST_ERR_UNKNOWN_SERVER_ERROR, msg);
    }
}

static void ad_delete_topics(br_admin_t *ad, br_call_t *call, const Strata__DeleteTopicsRequest *req)
{
    ad_wait_t *w = ad_wait_new(ad, AD_WAIT_DELETE, call, req->n_topics);
    if (!w) {
        br_call_reply_error(call, ST_ERR_NOMEM, "out of memory");
        return;
    }
    for (size_t i = 0; i < req->n_topics; i++) {
        const char *name = req->topics[i] ? req->topics[i] : "";
        ad_topic_result_t *r = &w->topics[i];
        r->name = strdup(name);
        char path[512];
        if (!zknode_topic_name_valid(name)) {
            ad_result_set(r, ST_ERR_INVALID_TOPIC_EXCEPTION,
                          "invalid topic name (1 to 249 of [a-zA-Z0-9._-], not \".\" or \"..\")");
            continue;
        }
        br_md_topic_t *t = br_md_topic(ad->cp->md, name);
        if (!t) {
            ad_result_set(r, ST_ERR_UNKNOWN_TOPIC_OR_PARTITION, "unknown topic");
            continue;
        }
        snprintf(r->topic_id, sizeof r->topic_id, "%s", t->topic_id);
        if (!ad->cp->conf->delete_topic_enable) {
            ad_result_set(r, ST_ERR_POLICY_VIOLATION,
                          "topic deletion is disabled (delete.topic.enable=false)");
            continue;
        }
        if (zknode_path_delete_topic(path, sizeof path, name) < 0) {
            ad_result_set(r, ST_ERR_INVALID_TOPIC_EXCEPTION, "invalid topic name");
            continue;
        }
        ad_write_t *wr = ad_write_new(w, i, req->timeout_ms);
        if (!wr) {
            ad_result_set(r, ST_ERR_NOMEM, "out of memory");
            continue;
        }
        if (zkc_create(ad->cp->zk, path, NULL, 0, 0, ad_delete_marked, wr) != ZOK)
            ad_write_finish(wr, ST_ERR_UNKNOWN_SERVER_ERROR, "ZooKeeper is not available");
        else
            ST_INFO(AD_TAG, "topic %s marked for deletion", name);
    }
    ad_wait_start(ad, w, req->timeout_ms);
}

/* -------------------------------------------------- CreatePartitions */

static void ad_partitions_done(void *arg, int rc, const struct Stat *stat)
{
    (void)stat;
    ad_write_t *wr = arg;
    if (rc == ZOK)
        ad_write_finish(wr, ST_OK, NULL);
    else if (rc == ZBADVERSION)
        ad_write_finish(wr, ST_ERR_REQUEST_TIMED_OUT, "the topic changed meanwhile; retry");
    else if (rc == ZNONODE)
        ad_write_finish(wr, ST_ERR_UNKNOWN_TOPIC_OR_PARTITION, "unknown topic");
    else
        ad_write_finish(wr, ST_ERR_UNKNOWN_SERVER_ERROR, zkc_rc_name(rc));
}

static void ad_create_partitions(br_admin_t *ad, br_call_t *call, const Strata__CreatePartitionsRequest *req)
{
    ad_wait_t *w = ad_wait_new(ad, AD_WAIT_PARTITIONS, call, req->n_topics);
    if (!w) {
        br_call_reply_error(call, ST_ERR_NOMEM, "out of memory");
        return;
    }
    for (size_t i = 0; i < req->n_topics; i++) {
        const Strata__CreatePartitionsTopic *cp = req->topics[i];
        ad_topic_result_t *r = &w->topics[i];
        r->name = strdup(cp && cp->name ? cp->name : "");
        br_md_topic_t *t = cp ? br_md_topic(ad->cp->md, cp->name) : NULL;
        if (!t || !t->loaded) {
            ad_result_set(r, ST_ERR_UNKNOWN_TOPIC_OR_PARTITION, "unknown topic");
            continue;
        }
        snprintf(r->topic_id, sizeof r->topic_id, "%s", t->topic_id);
        int32_t old_n = t->n_parts, new_n = cp->count;
        if (new_n <= old_n || new_n > 100000) {
            char msg[128];
            snprintf(msg, sizeof msg, "topic has %d partitions; the new count must be larger (got %d)", old_n,
                     new_n);
            ad_result_set(r, ST_ERR_INVALID_PARTITIONS, msg);
            continue;
        }
        int32_t rf = old_n > 0 ? (int32_t)t->parts[0].n_replicas : 1;
        int32_t add = new_n - old_n;
        int32_t *flat = calloc((size_t)add * (size_t)rf + 1, sizeof *flat);
        zknode_topic_t zt = {.n_partitions = new_n};
        zt.replicas = calloc((size_t)new_n, sizeof *zt.replicas);
        zt.n_replicas = calloc((size_t)new_n, sizeof *zt.n_replicas);
        snprintf(zt.topic_id, sizeof zt.topic_id, "%s", t->topic_id);
        st_err_t rc = (!flat || !zt.replicas || !zt.n_replicas) ? ST_ERR_NOMEM : ST_OK;
        char msg[160] = "";
        if (rc == ST_OK && cp->n_assignments > 0) {
            if (cp->n_assignments != (size_t)add) {
                snprintf(msg, sizeof msg, "%d new partitions need %d assignments", add, add);
                rc = ST_ERR_INVALID_REPLICA_ASSIGNMENT;
            }
            for (size_t k = 0; rc == ST_OK && k < cp->n_assignments; k++) {
                const Strata__ReplicaAssignment *ra = cp->assignments[k];
                if (!ra || (int32_t)ra->n_replicas != rf) {
                    snprintf(msg, sizeof msg, "each new partition needs %d replicas", rf);
                    rc = ST_ERR_INVALID_REPLICA_ASSIGNMENT;
                    break;
                }
                for (size_t j = 0; j < ra->n_replicas; j++) {
                    bool dup = false;
                    for (size_t q = 0; q < j; q++)
                        dup |= ra->replicas[q] == ra->replicas[j];
                    if (dup || !br_md_broker_live(ad->cp->md, ra->replicas[j])) {
                        snprintf(msg, sizeof msg, "broker %d is duplicated or not live", ra->replicas[j]);
                        rc = ST_ERR_INVALID_REPLICA_ASSIGNMENT;
                        break;
                    }
                    flat[k * (size_t)rf + j] = ra->replicas[j];
                }
            }
        } else if (rc == ST_OK) {
            rc = ad_assign_live(ad, add, rf, old_n, flat);
            if (rc != ST_OK)
                snprintf(msg, sizeof msg, "replication factor %d larger than the live brokers", rf);
        }
        char *json = NULL;
        if (rc == ST_OK) {
            for (int32_t p = 0; p < old_n; p++) {
                zt.replicas[p] = t->parts[p].replicas;
                zt.n_replicas[p] = (int32_t)t->parts[p].n_replicas;
            }
            for (int32_t p = 0; p < add; p++) {
                zt.replicas[old_n + p] = flat + (size_t)p * (size_t)rf;
                zt.n_replicas[old_n + p] = rf;
            }
            json = zknode_topic_encode(&zt);
        }
        free(zt.replicas);
        free(zt.n_replicas);
        if (rc != ST_OK || !json) {
            ad_result_set(r, rc != ST_OK ? rc : ST_ERR_NOMEM, msg);
            free(flat);
            free(json);
            continue;
        }
        free(flat);
        r->want_parts = new_n;
        if (req->validate_only) {
            free(json);
            ad_result_set(r, ST_OK, NULL);
            continue;
        }
        char path[512];
        zknode_path_topic(path, sizeof path, t->name);
        ad_write_t *wr = ad_write_new(w, i, req->timeout_ms);
        if (!wr ||
            zkc_set(ad->cp->zk, path, json, (int)strlen(json), t->version, ad_partitions_done, wr) != ZOK) {
            if (wr)
                ad_write_finish(wr, ST_ERR_UNKNOWN_SERVER_ERROR, "ZooKeeper is not available");
            else
                ad_result_set(r, ST_ERR_NOMEM, "out of memory");
        }
        free(json);
    }
    ad_wait_start(ad, w, req->validate_only ? 0 : req->timeout_ms);
}

/* ------------------------------------ topics the broker creates itself */

/* Create a topic without a client call (fire and forget). */
static void ad_create_quiet(br_admin_t *ad, const char *name, int32_t n_parts, int32_t rf, const char *ckey,
                            const char *cval)
{
    Strata__CreatableTopic ct = STRATA__CREATABLE_TOPIC__INIT;
    ct.name = (char *)name;
    ct.num_partitions = n_parts;
    ct.replication_factor = rf;
    Strata__ConfigEntry ce = STRATA__CONFIG_ENTRY__INIT, *cep = &ce;
    if (ckey && cval) {
        ce.name = (char *)ckey;
        ce.value = (char *)cval;
        ct.n_configs = 1;
        ct.configs = &cep;
    }
    char msg[256];
    char *tj = NULL, *cj = NULL, id[32];
    int32_t np;
    if (ad_create_prepare(ad, &ct, msg, sizeof msg, &tj, &cj, id, &np) != ST_OK) {
        ST_DEBUG(AD_TAG, "auto-create %s: %s", name, msg);
        return;
    }
    /* fire and forget: a wait with no call */
    ad_wait_t *w = ad_wait_new(ad, AD_WAIT_CREATE, NULL, 1);
    ad_write_t *wr = w ? ad_write_new(w, 0, 0) : NULL;
    if (!wr) {
        free(tj);
        free(cj);
        if (w)
            ad_wait_unref(w);
        return;
    }
    w->topics[0].name = strdup(name);
    wr->topic_json = tj;
    wr->config_json = cj;
    ST_INFO(AD_TAG, "auto-creating topic %s", name);
    if (ad_create_commit(ad, wr, false) != ZOK)
        ad_write_finish(wr, ST_ERR_UNKNOWN_SERVER_ERROR, NULL);
    ad_wait_unref(w);
}

void br_admin_auto_create(br_admin_t *ad, const char *name)
{
    ad_create_quiet(ad, name, -1, -1, NULL, NULL);
}

void br_admin_ensure_offsets_topic(br_admin_t *ad, int32_t n_parts, int16_t rf)
{
    br_md_t *md = ad->cp->md;
    if (!md || !br_md_ready(md) || br_md_topic(md, BR_OFFSETS_TOPIC) || !br_cp_registered(ad->cp))
        return;
    int64_t now = st_wall_ms();
    if (now - ad->offsets_create_ms < 1000)
        return; /* one attempt in flight at a time is enough */
    ad->offsets_create_ms = now;
    int32_t live = 0;
    for (size_t i = 0; i < br_md_n_brokers(md); i++)
        live += br_md_broker_at(md, i)->loaded;
    int32_t eff = rf < live ? rf : live;
    if (eff < 1)
        return;
    ad_create_quiet(ad, BR_OFFSETS_TOPIC, n_parts, eff, "cleanup.policy", "compact");
}

/* ----------------------------------------------------- topic requests */

void br_admin_handle_create_topics(br_admin_t *ad, br_call_t *call, const Strata__Request *req)
{
    ad_create_topics(ad, call, req->create_topics);
}

void br_admin_handle_delete_topics(br_admin_t *ad, br_call_t *call, const Strata__Request *req)
{
    ad_delete_topics(ad, call, req->delete_topics);
}

void br_admin_handle_create_partitions(br_admin_t *ad, br_call_t *call, const Strata__Request *req)
{
    ad_create_partitions(ad, call, req->create_partitions);
}

br_admin_t *br_admin_new(const br_cp_t *cp)
{
    br_admin_t *ad = calloc(1, sizeof *ad);
    if (ad)
        ad->cp = cp;
    return ad;
}

void br_admin_free(br_admin_t *ad)
{
    if (!ad)
        return;
    while (ad->waits) {
        ad_wait_t *w = ad->waits;
        if (w->call && br_call_is_closing(w->call))
            br_call_drop(w->call);
        else
            ad_wait_answer(w);
        w->call = NULL;
        ad_wait_remove(ad, w);
    }
    free(ad);
}
