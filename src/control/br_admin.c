/*
 * br_admin: control-plane request handlers (see br_admin.h). Responses are
 * built from protobuf-c structs allocated in a per-call arena (ad_arena)
 * that is freed right after the reply is packed. Admin writes go straight
 * to ZooKeeper from whichever broker received the request, as an operator
 * with zkCli.sh would write them; the controller picks them up through its
 * watches.
 */
#include "control/br_admin.h"

#include <stdlib.h>
#include <string.h>

#include "control/br_ctl.h"
#include "control/br_md.h"
#include "common/st_log.h"
#include "coord/zknode.h"

#define AD_TAG "admin"

/* ------------------------------------------------------------- arena */

typedef struct ad_arena {
    void **p;
    size_t n, cap;
} ad_arena_t;

static void *ad_alloc(ad_arena_t *a, size_t size)
{
    if (a->n == a->cap) {
        size_t nc = a->cap ? a->cap * 2 : 64;
        void **np = realloc(a->p, nc * sizeof *np);
        if (!np)
            return NULL;
        a->p = np;
        a->cap = nc;
    }
    void *m = calloc(1, size ? size : 1);
    if (m)
        a->p[a->n++] = m;
    return m;
}

static char *ad_strdup(ad_arena_t *a, const char *s)
{
    if (!s)
        s = "";
    size_t n = strlen(s) + 1;
    char *c = ad_alloc(a, n);
    if (c)
        memcpy(c, s, n);
    return c ? c : (char *)"";
}

static void ad_arena_free(ad_arena_t *a)
{
    for (size_t i = 0; i < a->n; i++)
        free(a->p[i]);
    free(a->p);
    memset(a, 0, sizeof *a);
}

#define AD_NEW(a, type, init)                                                                                           \
    ({                                                                                                                  \
        type *_m = ad_alloc((a), sizeof(type));                                                                         \
        if (_m) {                                                                                                       \
            type _i = init;                                                                                             \
            *_m = _i;                                                                                                   \
        }                                                                                                               \
        _m;                                                                                                             \
    })

/* ---------------------------------------------------------- pending */

typedef enum ad_wait_kind { AD_WAIT_CREATE, AD_WAIT_DELETE, AD_WAIT_PARTITIONS } ad_wait_kind_t;

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
    int32_t want_parts;  /* partitions to wait for (create / create partitions) */
} ad_topic_result_t;

typedef struct ad_wait {
    br_admin_t *ad;
    ad_wait_kind_t kind;
    br_call_t *call;     /* NULL once answered */
    ad_topic_result_t *topics;
    size_t n_topics;
    int refs;            /* the pending list + writes in flight */
    bool started;        /* in the pending list (ad_wait_start ran) */
    ev_timer timer;
    struct ad_wait *next;
} ad_wait_t;

struct br_admin {
    const br_cp_t *cp;
    ad_wait_t *waits;
    int64_t offsets_create_ms; /* last __consumer_offsets creation attempt */
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
    ad_arena_t a = {0};
    Strata__TopicResult **res = ad_alloc(&a, (w->n_topics + 1) * sizeof *res);
    for (size_t i = 0; res && i < w->n_topics; i++) {
        ad_topic_result_t *t = &w->topics[i];
        res[i] = AD_NEW(&a, Strata__TopicResult, STRATA__TOPIC_RESULT__INIT);
        if (!res[i])
            continue;
        res[i]->name = ad_strdup(&a, t->name);
        st_err_t e = t->phase == AD_PHASE_DONE ? t->err : ST_ERR_REQUEST_TIMED_OUT;
        res[i]->error = (Strata__ErrorCode)st_err_to_wire(e);
        res[i]->error_message = ad_strdup(&a, e == ST_ERR_REQUEST_TIMED_OUT && t->phase != AD_PHASE_DONE
                                                  ? "timed out waiting for the cluster (the operation continues)"
                                                  : t->msg);
        res[i]->topic_id = ad_strdup(&a, t->topic_id);
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
    ad_arena_free(&a);
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

st_err_t br_admin_assign(const int32_t *brokers, const char *const *racks, size_t n_brokers, int32_t n_parts,
                         int32_t rf, size_t start_index, int32_t first_partition, int32_t *out)
{
    if (rf <= 0 || (size_t)rf > n_brokers || n_brokers == 0)
        return ST_ERR_INVALID_REPLICATION_FACTOR;
    /* sort by id (a copy), then alternate racks: r1 r2 r3 r1 r2 ... */
    size_t *idx = malloc(n_brokers * sizeof *idx);
    int32_t *order = malloc(n_brokers * sizeof *order);
    bool *used = calloc(n_brokers, sizeof *used);
    st_err_t rc = ST_ERR_NOMEM;
    if (!idx || !order || !used)
        goto out;
    for (size_t i = 0; i < n_brokers; i++)
        idx[i] = i;
    for (size_t i = 0; i < n_brokers; i++)
        for (size_t j = i + 1; j < n_brokers; j++)
            if (brokers[idx[j]] < brokers[idx[i]]) {
                size_t t = idx[i];
                idx[i] = idx[j];
                idx[j] = t;
            }
    bool rack_aware = false;
    for (size_t i = 0; racks && i < n_brokers; i++)
        rack_aware |= racks[i] != NULL;
    if (!rack_aware) {
        for (size_t i = 0; i < n_brokers; i++)
            order[i] = brokers[idx[i]];
    } else {
        size_t n = 0;
        while (n < n_brokers) {
            /* one pass: the first unused broker of each rack, racks in order of first appearance */
            const char *seen[n_brokers];
            size_t n_seen = 0;
            for (size_t k = 0; k < n_brokers; k++) {
                size_t i = idx[k];
                if (used[k])
                    continue;
                const char *rk = racks[i] ? racks[i] : "";
                bool dup = false;
                for (size_t s = 0; s < n_seen && !dup; s++)
                    dup = strcmp(seen[s], rk) == 0;
                if (dup)
                    continue;
                seen[n_seen++] = rk;
                used[k] = true;
                order[n++] = brokers[i];
            }
        }
    }
    for (int32_t p = 0; p < n_parts; p++)
        for (int32_t j = 0; j < rf; j++)
            out[(size_t)p * (size_t)rf + (size_t)j] =
                order[(start_index + (size_t)(first_partition + p) + (size_t)j) % n_brokers];
    rc = ST_OK;
out:
    free(idx);
    free(order);
    free(used);
    return rc;
}

/* Assign over the live brokers of the cache. */
static st_err_t ad_assign_live(br_admin_t *ad, int32_t n_parts, int32_t rf, int32_t first_partition, int32_t *out)
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
        rc = br_admin_assign(ids, racks, n, n_parts, rf, start, first_partition, out);
    }
    free(ids);
    free(racks);
    return rc;
}

/* ------------------------------------------------------- ApiVersions */

static void ad_api_versions(br_admin_t *ad, br_call_t *call)
{
    size_t n = ad->cp->n_apis;
    const br_api_t *apis = ad->cp->apis;
    Strata__ApiVersion *v = calloc(n, sizeof *v);
    Strata__ApiVersion **pv = calloc(n, sizeof *pv);
    if (!v || !pv) {
        br_call_reply_error(call, ST_ERR_NOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        strata__api_version__init(&v[i]);
        v[i].api = apis[i].api;
        v[i].name = (char *)apis[i].name;
        v[i].min_version = apis[i].min_version;
        v[i].max_version = apis[i].max_version;
        pv[i] = &v[i];
    }
    Strata__ApiVersionsResponse av = STRATA__API_VERSIONS_RESPONSE__INIT;
    av.version = 1;
    av.n_apis = n;
    av.apis = pv;
    Strata__Response resp = STRATA__RESPONSE__INIT;
    resp.body_case = STRATA__RESPONSE__BODY_API_VERSIONS;
    resp.api_versions = &av;
    br_call_reply(call, &resp);
out:
    free(v);
    free(pv);
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
    ad_write_finish(wr, zkc_rc_to_err(rc) == ST_ERR_CLOSED ? ST_ERR_REQUEST_TIMED_OUT : ST_ERR_UNKNOWN_SERVER_ERROR, msg);
}

/* Validate one topic of a CreateTopics request and build its payloads.
 * Returns ST_OK with the topic and config JSON malloc'd. */
static st_err_t ad_create_prepare(br_admin_t *ad, const Strata__CreatableTopic *ct, char *msg, size_t msglen,
                                  char **topic_json, char **config_json, char topic_id[32], int32_t *n_parts_out)
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
                snprintf(msg, msglen, "assignments must cover partitions 0..%d once each, with replicas", n_parts - 1);
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
                        snprintf(msg, msglen, "partition %d lists broker %d twice", ra->partition, ra->replicas[j]);
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
        rf = ct->replication_factor == -1 ? (int32_t)cp->conf->default_replication_factor : ct->replication_factor;
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
        bool dup = false;
        for (size_t j = 0; j < i && !dup; j++)
            dup = req->topics[j] && req->topics[j]->name && ct->name && strcmp(req->topics[j]->name, ct->name) == 0;
        if (dup) {
            ad_result_set(r, ST_ERR_INVALID_REQUEST, "topic listed twice in the request");
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
        br_md_topic_t *t = br_md_topic(ad->cp->md, name);
        if (!t) {
            ad_result_set(r, ST_ERR_UNKNOWN_TOPIC_OR_PARTITION, "unknown topic");
            continue;
        }
        snprintf(r->topic_id, sizeof r->topic_id, "%s", t->topic_id);
        if (!ad->cp->conf->delete_topic_enable) {
            ad_result_set(r, ST_ERR_POLICY_VIOLATION, "topic deletion is disabled (delete.topic.enable=false)");
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
            snprintf(msg, sizeof msg, "topic has %d partitions; the new count must be larger (got %d)", old_n, new_n);
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
        if (!wr || zkc_set(ad->cp->zk, path, json, (int)strlen(json), t->version, ad_partitions_done, wr) != ZOK) {
            if (wr)
                ad_write_finish(wr, ST_ERR_UNKNOWN_SERVER_ERROR, "ZooKeeper is not available");
            else
                ad_result_set(r, ST_ERR_NOMEM, "out of memory");
        }
        free(json);
    }
    ad_wait_start(ad, w, req->validate_only ? 0 : req->timeout_ms);
}

/* ----------------------------------------------------------- Metadata */

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

static void ad_auto_create(br_admin_t *ad, const char *name)
{
    ad_create_quiet(ad, name, -1, -1, NULL, NULL);
}

void br_admin_ensure_offsets_topic(br_admin_t *ad, int32_t n_parts, int16_t rf)
{
    br_md_t *md = ad->cp->md;
    if (!md || !br_md_ready(md) || br_md_topic(md, BR_OFFSETS_TOPIC) || !br_cp_registered(ad->cp))
        return;
    int64_t now = br_cp_now_ms();
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

static Strata__TopicMetadata *ad_topic_md(br_admin_t *ad, ad_arena_t *a, const br_md_topic_t *t)
{
    Strata__TopicMetadata *tm = AD_NEW(a, Strata__TopicMetadata, STRATA__TOPIC_METADATA__INIT);
    if (!tm)
        return NULL;
    tm->name = ad_strdup(a, t->name);
    tm->topic_id = ad_strdup(a, t->topic_id);
    tm->internal = strncmp(t->name, "__", 2) == 0;
    if (!t->loaded) {
        tm->error = STRATA__ERROR_CODE__LEADER_NOT_AVAILABLE;
        return tm;
    }
    tm->partitions = ad_alloc(a, ((size_t)t->n_parts + 1) * sizeof *tm->partitions);
    if (!tm->partitions)
        return tm;
    for (int32_t p = 0; p < t->n_parts; p++) {
        const br_md_part_t *part = &t->parts[p];
        Strata__PartitionMetadata *pm = AD_NEW(a, Strata__PartitionMetadata, STRATA__PARTITION_METADATA__INIT);
        if (!pm)
            break;
        pm->partition = p;
        pm->leader = part->kind == BR_MD_STATE_OK ? part->leader : -1;
        pm->leader_epoch = part->kind == BR_MD_STATE_OK ? part->leader_epoch : -1;
        if (pm->leader < 0)
            pm->error = STRATA__ERROR_CODE__LEADER_NOT_AVAILABLE;
        pm->replicas = ad_alloc(a, (part->n_replicas + 1) * sizeof(int32_t));
        pm->offline_replicas = ad_alloc(a, (part->n_replicas + 1) * sizeof(int32_t));
        if (pm->replicas && pm->offline_replicas) {
            for (size_t i = 0; i < part->n_replicas; i++) {
                pm->replicas[pm->n_replicas++] = part->replicas[i];
                if (!br_md_broker_live(ad->cp->md, part->replicas[i]))
                    pm->offline_replicas[pm->n_offline_replicas++] = part->replicas[i];
            }
        }
        if (part->kind == BR_MD_STATE_OK) {
            pm->isr = ad_alloc(a, (part->n_isr + 1) * sizeof(int32_t));
            if (pm->isr) {
                memcpy(pm->isr, part->isr, part->n_isr * sizeof(int32_t));
                pm->n_isr = part->n_isr;
            }
        }
        tm->partitions[tm->n_partitions++] = pm;
    }
    return tm;
}

static void ad_metadata(br_admin_t *ad, br_call_t *call, const Strata__MetadataRequest *req)
{
    const br_cp_t *cp = ad->cp;
    br_md_t *md = cp->md;
    ad_arena_t a = {0};
    Strata__MetadataResponse mr = STRATA__METADATA_RESPONSE__INIT;
    size_t nb = br_md_n_brokers(md);
    mr.brokers = ad_alloc(&a, (nb + 1) * sizeof *mr.brokers);
    for (size_t i = 0; mr.brokers && i < nb; i++) {
        const br_md_broker_t *b = br_md_broker_at(md, i);
        if (!b->loaded)
            continue;
        Strata__BrokerMetadata *bm = AD_NEW(&a, Strata__BrokerMetadata, STRATA__BROKER_METADATA__INIT);
        if (!bm)
            break;
        bm->id = b->id;
        bm->host = ad_strdup(&a, b->host);
        bm->port = b->port;
        bm->url = ad_strdup(&a, b->url);
        bm->rack = ad_strdup(&a, b->rack);
        mr.brokers[mr.n_brokers++] = bm;
    }
    mr.cluster_id = ad_strdup(&a, cp->cluster_id);
    mr.controller_id = br_md_controller_id(md);
    mr.controller_epoch = br_ctl_epoch(cp->ctl);
    size_t n_all = 0;
    for (br_md_topic_t *t = br_md_topics(md); t; t = t->next)
        n_all++;
    bool all = req->n_topics == 0;
    mr.topics = ad_alloc(&a, ((all ? n_all : req->n_topics) + 1) * sizeof *mr.topics);
    if (mr.topics && all) {
        for (br_md_topic_t *t = br_md_topics(md); t; t = t->next) {
            Strata__TopicMetadata *tm = ad_topic_md(ad, &a, t);
            if (tm)
                mr.topics[mr.n_topics++] = tm;
        }
    } else if (mr.topics) {
        for (size_t i = 0; i < req->n_topics; i++) {
            const char *name = req->topics[i] ? req->topics[i] : "";
            br_md_topic_t *t = br_md_topic(md, name);
            Strata__TopicMetadata *tm;
            if (t) {
                tm = ad_topic_md(ad, &a, t);
            } else {
                tm = AD_NEW(&a, Strata__TopicMetadata, STRATA__TOPIC_METADATA__INIT);
                if (!tm)
                    break;
                tm->name = ad_strdup(&a, name);
                if (!zknode_topic_name_valid(name)) {
                    tm->error = STRATA__ERROR_CODE__INVALID_TOPIC_EXCEPTION;
                } else if (req->allow_auto_topic_creation && cp->conf->auto_create_topics_enable) {
                    ad_auto_create(ad, name);
                    tm->error = STRATA__ERROR_CODE__LEADER_NOT_AVAILABLE;
                } else {
                    tm->error = STRATA__ERROR_CODE__UNKNOWN_TOPIC_OR_PARTITION;
                }
            }
            if (tm)
                mr.topics[mr.n_topics++] = tm;
        }
    }
    Strata__Response resp = STRATA__RESPONSE__INIT;
    resp.body_case = STRATA__RESPONSE__BODY_METADATA;
    resp.metadata = &mr;
    br_call_reply(call, &resp);
    ad_arena_free(&a);
}

/* --------------------------------------------------- Describe/Alter */

static bool ad_key_wanted(const Strata__ConfigResource *res, const char *key)
{
    if (res->n_keys == 0)
        return true;
    for (size_t i = 0; i < res->n_keys; i++)
        if (res->keys[i] && strcmp(res->keys[i], key) == 0)
            return true;
    return false;
}

static void ad_describe_configs(br_admin_t *ad, br_call_t *call, const Strata__DescribeConfigsRequest *req)
{
    const br_cp_t *cp = ad->cp;
    ad_arena_t a = {0};
    Strata__DescribeConfigsResponse dr = STRATA__DESCRIBE_CONFIGS_RESPONSE__INIT;
    dr.results = ad_alloc(&a, (req->n_resources + 1) * sizeof *dr.results);
    for (size_t i = 0; dr.results && i < req->n_resources; i++) {
        const Strata__ConfigResource *res = req->resources[i];
        Strata__DescribeConfigsResult *r = AD_NEW(&a, Strata__DescribeConfigsResult, STRATA__DESCRIBE_CONFIGS_RESULT__INIT);
        if (!r || !res)
            break;
        r->type = res->type;
        r->name = ad_strdup(&a, res->name);
        const st_conf_prop_t *table = NULL;
        void *target = NULL;
        br_topic_config_t tc;
        bool have_tc = false;
        const br_md_topic_t *t = NULL;
        char idbuf[32];
        snprintf(idbuf, sizeof idbuf, "%d", cp->broker_id);
        if (res->type == STRATA__RESOURCE_TYPE__RESOURCE_TOPIC) {
            t = br_md_topic(cp->md, res->name);
            if (!t) {
                r->error = STRATA__ERROR_CODE__UNKNOWN_TOPIC_OR_PARTITION;
                r->error_message = ad_strdup(&a, "unknown topic");
            } else {
                br_md_topic_config(cp->md, t, &tc);
                have_tc = true;
                table = br_topic_config_table;
                target = &tc;
            }
        } else if (res->type == STRATA__RESOURCE_TYPE__RESOURCE_BROKER) {
            if (res->name && *res->name && strcmp(res->name, idbuf) != 0) {
                r->error = STRATA__ERROR_CODE__INVALID_REQUEST;
                r->error_message = ad_strdup(&a, "ask that broker for its configuration");
            } else {
                table = br_config_table;
                target = cp->conf;
            }
        } else {
            r->error = STRATA__ERROR_CODE__INVALID_REQUEST;
            r->error_message = ad_strdup(&a, "unsupported resource type");
        }
        if (table) {
            size_t n = 0;
            for (const st_conf_prop_t *p = table; p->name; p++)
                n++;
            r->configs = ad_alloc(&a, (n + 1) * sizeof *r->configs);
            for (const st_conf_prop_t *p = table; r->configs && p->name; p++) {
                if (!ad_key_wanted(res, p->name))
                    continue;
                Strata__DescribedConfig *c = AD_NEW(&a, Strata__DescribedConfig, STRATA__DESCRIBED_CONFIG__INIT);
                if (!c)
                    break;
                char *v = st_conf_get(table, target, p->name);
                bool secret = strcmp(p->name, "zookeeper.auth.digest") == 0;
                c->name = ad_strdup(&a, p->name);
                c->value = ad_strdup(&a, secret && v && *v ? "[hidden]" : v);
                c->doc = ad_strdup(&a, p->doc);
                if (table == br_topic_config_table) {
                    bool over = false;
                    for (size_t k = 0; t && k < t->config.n; k++)
                        over |= strcmp(t->config.keys[k], p->name) == 0;
                    c->is_default = !over;
                    c->source = ad_strdup(&a, over ? "topic" : "default");
                } else {
                    const zknode_config_t *dyn = br_md_broker_config(cp->md);
                    bool over = false;
                    for (size_t k = 0; p->dynamic && k < dyn->n; k++)
                        over |= strcmp(dyn->keys[k], p->name) == 0;
                    bool def = p->def ? (v && strcmp(v, p->def) == 0) : (!v || !*v);
                    c->is_default = def && !over;
                    c->source = ad_strdup(&a, over ? "dynamic-broker" : def ? "default" : "static");
                    c->read_only = !p->dynamic;
                }
                free(v);
                r->configs[r->n_configs++] = c;
            }
        }
        if (have_tc)
            br_topic_config_free(&tc);
        dr.results[dr.n_results++] = r;
    }
    Strata__Response resp = STRATA__RESPONSE__INIT;
    resp.body_case = STRATA__RESPONSE__BODY_DESCRIBE_CONFIGS;
    resp.describe_configs = &dr;
    br_call_reply(call, &resp);
    ad_arena_free(&a);
}

typedef struct ad_alter {
    br_call_t *call;
    size_t pending;
    size_t n;
    Strata__AlterConfigsResult *results;
    char **msgs;
    char **names;
} ad_alter_t;

static void ad_alter_answer(ad_alter_t *al)
{
    Strata__AlterConfigsResult **pr = calloc(al->n + 1, sizeof *pr);
    for (size_t i = 0; pr && i < al->n; i++) {
        al->results[i].error_message = al->msgs[i] ? al->msgs[i] : (char *)"";
        al->results[i].name = al->names[i] ? al->names[i] : (char *)"";
        pr[i] = &al->results[i];
    }
    Strata__AlterConfigsResponse ar = STRATA__ALTER_CONFIGS_RESPONSE__INIT;
    ar.n_results = pr ? al->n : 0;
    ar.results = pr;
    Strata__Response resp = STRATA__RESPONSE__INIT;
    resp.body_case = STRATA__RESPONSE__BODY_ALTER_CONFIGS;
    resp.alter_configs = &ar;
    br_call_reply(al->call, &resp);
    free(pr);
    for (size_t i = 0; i < al->n; i++) {
        free(al->msgs[i]);
        free(al->names[i]);
    }
    free(al->msgs);
    free(al->names);
    free(al->results);
    free(al);
}

typedef struct ad_alter_write {
    zkc_t *zk;
    ad_alter_t *al;
    size_t idx;
    char *path;
    char *json;
    /* broker configs: the requested changes, merged after reading the znode */
    size_t n_changes;
    char **keys;
    char **values;     /* NULL: delete */
} ad_alter_write_t;

static void ad_alter_write_end(ad_alter_write_t *aw, int rc)
{
    ad_alter_t *al = aw->al;
    if (rc != ZOK) {
        al->results[aw->idx].error = STRATA__ERROR_CODE__UNKNOWN_SERVER_ERROR;
        free(al->msgs[aw->idx]);
        al->msgs[aw->idx] = strdup(zkc_rc_name(rc));
    }
    free(aw->path);
    free(aw->json);
    for (size_t i = 0; i < aw->n_changes; i++) {
        free(aw->keys[i]);
        free(aw->values[i]);
    }
    free(aw->keys);
    free(aw->values);
    free(aw);
    if (--al->pending == 0)
        ad_alter_answer(al);
}

static void ad_alter_created(void *arg, int rc, const char *path, const struct Stat *stat)
{
    (void)path;
    (void)stat;
    ad_alter_write_end(arg, rc);
}

static void ad_alter_set(void *arg, int rc, const struct Stat *stat)
{
    (void)stat;
    ad_alter_write_t *aw = arg;
    /* no config znode yet (a topic written by hand): create it */
    if (rc == ZNONODE && zkc_create(aw->zk, aw->path, aw->json, (int)strlen(aw->json), 0, ad_alter_created, aw) == ZOK)
        return;
    ad_alter_write_end(aw, rc);
}

/* The broker config znode was read: merge the changes, write it back. */
static void ad_alter_broker_read(void *arg, int rc, const char *data, int len, const struct Stat *stat)
{
    ad_alter_write_t *aw = arg;
    zknode_config_t cur = {0};
    if (rc == ZOK) {
        char err[256];
        if (zknode_config_decode(data, (size_t)len, &cur, err, sizeof err) != ST_OK)
            memset(&cur, 0, sizeof cur); /* a corrupt znode is replaced */
    } else if (rc != ZNONODE) {
        ad_alter_write_end(aw, rc);
        return;
    }
    size_t cap = cur.n + aw->n_changes + 1;
    zknode_config_t nc = {0};
    nc.keys = calloc(cap, sizeof *nc.keys);
    nc.values = calloc(cap, sizeof *nc.values);
    int zrc = ZSYSTEMERROR;
    if (nc.keys && nc.values) {
        for (size_t k = 0; k < cur.n; k++) {
            nc.keys[nc.n] = cur.keys[k];
            nc.values[nc.n++] = cur.values[k];
        }
        for (size_t c = 0; c < aw->n_changes; c++) {
            size_t at = nc.n;
            for (size_t q = 0; q < nc.n; q++)
                if (strcmp(nc.keys[q], aw->keys[c]) == 0)
                    at = q;
            if (!aw->values[c]) {
                if (at < nc.n) {
                    nc.keys[at] = nc.keys[nc.n - 1];
                    nc.values[at] = nc.values[nc.n - 1];
                    nc.n--;
                }
            } else {
                nc.keys[at] = aw->keys[c];
                nc.values[at] = aw->values[c];
                if (at == nc.n)
                    nc.n++;
            }
        }
        aw->json = zknode_config_encode(&nc);
        if (aw->json)
            zrc = rc == ZOK ? zkc_set(aw->zk, aw->path, aw->json, (int)strlen(aw->json), stat->version, ad_alter_set, aw)
                            : zkc_create(aw->zk, aw->path, aw->json, (int)strlen(aw->json), 0, ad_alter_created, aw);
    }
    free(nc.keys);
    free(nc.values);
    zknode_config_free(&cur);
    if (zrc != ZOK)
        ad_alter_write_end(aw, zrc);
}

/* AlterConfigs on a broker: dynamic keys only, stored in
 * /config/brokers/<id>; that broker applies them when its watch fires. */
static void ad_alter_broker(br_admin_t *ad, ad_alter_t *al, size_t i, const Strata__AlterConfigsResource *res,
                            bool validate_only)
{
    char *end = NULL;
    long id = res->name ? strtol(res->name, &end, 10) : -1;
    char path[128];
    if (!res->name || !*res->name || *end || id < 0 || id > INT32_MAX ||
        zknode_path_broker_config(path, sizeof path, (int32_t)id) < 0) {
        al->results[i].error = STRATA__ERROR_CODE__INVALID_REQUEST;
        al->msgs[i] = strdup("broker resource name must be a broker id");
        return;
    }
    br_config_t scratch;
    br_config_init(&scratch);
    char msg[256] = "";
    bool ok = true;
    for (size_t k = 0; ok && k < res->n_configs; k++) {
        const Strata__AlterableConfig *c = res->configs[k];
        const st_conf_prop_t *p = c && c->name ? st_conf_find(br_config_table, c->name) : NULL;
        if (!p || !p->dynamic) {
            snprintf(msg, sizeof msg, "%s: not a dynamic broker configuration key", c && c->name ? c->name : "?");
            ok = false;
        } else if (c->op != STRATA__ALTER_OP__ALTER_DELETE &&
                   st_conf_set(br_config_table, &scratch, c->name, c->value ? c->value : "", msg, sizeof msg) != ST_OK) {
            ok = false;
        }
    }
    br_config_free(&scratch);
    if (!ok) {
        al->results[i].error = STRATA__ERROR_CODE__INVALID_CONFIG;
        al->msgs[i] = strdup(msg);
        return;
    }
    if (validate_only)
        return;
    ad_alter_write_t *aw = calloc(1, sizeof *aw);
    if (!aw)
        return;
    aw->zk = ad->cp->zk;
    aw->al = al;
    aw->idx = i;
    aw->path = strdup(path);
    aw->keys = calloc(res->n_configs + 1, sizeof *aw->keys);
    aw->values = calloc(res->n_configs + 1, sizeof *aw->values);
    al->pending++;
    if (!aw->path || !aw->keys || !aw->values) {
        ad_alter_write_end(aw, ZSYSTEMERROR);
        return;
    }
    for (size_t k = 0; k < res->n_configs; k++) {
        const Strata__AlterableConfig *c = res->configs[k];
        aw->keys[k] = strdup(c->name);
        aw->values[k] = c->op == STRATA__ALTER_OP__ALTER_DELETE ? NULL : strdup(c->value ? c->value : "");
        aw->n_changes++;
    }
    int zrc = zkc_get(aw->zk, path, NULL, ad_alter_broker_read, aw);
    if (zrc != ZOK)
        ad_alter_write_end(aw, zrc);
    else
        ST_INFO(AD_TAG, "altering dynamic config of broker %ld", id);
}

static void ad_alter_configs(br_admin_t *ad, br_call_t *call, const Strata__AlterConfigsRequest *req)
{
    const br_cp_t *cp = ad->cp;
    ad_alter_t *al = calloc(1, sizeof *al);
    if (!al) {
        br_call_reply_error(call, ST_ERR_NOMEM, "out of memory");
        return;
    }
    al->call = call;
    al->n = req->n_resources;
    al->results = calloc(al->n + 1, sizeof *al->results);
    al->msgs = calloc(al->n + 1, sizeof *al->msgs);
    al->names = calloc(al->n + 1, sizeof *al->names);
    if (!al->results || !al->msgs || !al->names) {
        free(al->results);
        free(al->msgs);
        free(al->names);
        free(al);
        br_call_reply_error(call, ST_ERR_NOMEM, "out of memory");
        return;
    }
    al->pending = 1; /* held while issuing */
    for (size_t i = 0; i < al->n; i++) {
        Strata__AlterConfigsResult init = STRATA__ALTER_CONFIGS_RESULT__INIT;
        al->results[i] = init;
        const Strata__AlterConfigsResource *res = req->resources[i];
        if (!res)
            continue;
        al->results[i].type = res->type;
        al->names[i] = strdup(res->name ? res->name : "");
        if (res->type == STRATA__RESOURCE_TYPE__RESOURCE_BROKER) {
            ad_alter_broker(ad, al, i, res, req->validate_only);
            continue;
        }
        if (res->type != STRATA__RESOURCE_TYPE__RESOURCE_TOPIC) {
            al->results[i].error = STRATA__ERROR_CODE__INVALID_REQUEST;
            al->msgs[i] = strdup("only topic and broker configs can be altered");
            continue;
        }
        br_md_topic_t *t = br_md_topic(cp->md, res->name);
        if (!t) {
            al->results[i].error = STRATA__ERROR_CODE__UNKNOWN_TOPIC_OR_PARTITION;
            al->msgs[i] = strdup("unknown topic");
            continue;
        }
        /* new override set = old overrides with the changes applied */
        size_t cap = t->config.n + res->n_configs + 1;
        zknode_config_t zc = {0};
        zc.keys = calloc(cap, sizeof *zc.keys);
        zc.values = calloc(cap, sizeof *zc.values);
        br_topic_config_t tc;
        br_topic_config_init(&tc, cp->conf);
        char msg[256] = "";
        st_err_t rc = (!zc.keys || !zc.values) ? ST_ERR_NOMEM : ST_OK;
        for (size_t k = 0; rc == ST_OK && k < t->config.n; k++) {
            zc.keys[zc.n] = t->config.keys[k];
            zc.values[zc.n++] = t->config.values[k];
        }
        for (size_t k = 0; rc == ST_OK && k < res->n_configs; k++) {
            const Strata__AlterableConfig *c = res->configs[k];
            if (!c || !c->name || !st_conf_find(br_topic_config_table, c->name)) {
                snprintf(msg, sizeof msg, "%s: unknown topic configuration key", c && c->name ? c->name : "?");
                rc = ST_ERR_INVALID_CONFIG;
                break;
            }
            size_t at = zc.n;
            for (size_t q = 0; q < zc.n; q++)
                if (strcmp(zc.keys[q], c->name) == 0)
                    at = q;
            if (c->op == STRATA__ALTER_OP__ALTER_DELETE) {
                if (at < zc.n) {
                    zc.keys[at] = zc.keys[zc.n - 1];
                    zc.values[at] = zc.values[zc.n - 1];
                    zc.n--;
                }
            } else {
                zc.keys[at] = c->name;
                zc.values[at] = c->value ? c->value : (char *)"";
                if (at == zc.n)
                    zc.n++;
            }
        }
        if (rc == ST_OK && br_topic_config_apply(&tc, zc.keys, zc.values, zc.n, msg, sizeof msg) != ST_OK)
            rc = ST_ERR_INVALID_CONFIG;
        br_topic_config_free(&tc);
        char *json = rc == ST_OK ? zknode_config_encode(&zc) : NULL;
        free(zc.keys);
        free(zc.values);
        if (rc != ST_OK || !json) {
            al->results[i].error = (Strata__ErrorCode)st_err_to_wire(rc != ST_OK ? rc : ST_ERR_NOMEM);
            al->msgs[i] = strdup(msg);
            free(json);
            continue;
        }
        if (req->validate_only) {
            free(json);
            continue;
        }
        char path[512];
        zknode_path_topic_config(path, sizeof path, t->name);
        ad_alter_write_t *aw = calloc(1, sizeof *aw);
        if (!aw) {
            free(json);
            continue;
        }
        aw->zk = cp->zk;
        aw->al = al;
        aw->idx = i;
        aw->json = json;
        aw->path = strdup(path);
        al->pending++;
        int zrc = aw->path ? zkc_set(cp->zk, path, json, (int)strlen(json), -1, ad_alter_set, aw) : ZSYSTEMERROR;
        if (zrc != ZOK)
            ad_alter_write_end(aw, zrc);
        else
            ST_INFO(AD_TAG, "altering config of topic %s", t->name);
    }
    if (--al->pending == 0)
        ad_alter_answer(al);
}

/* ----------------------------------------------------------- dispatch */

void br_admin_handle(br_admin_t *ad, br_call_t *call, const Strata__Request *req)
{
    if (!br_cp_registered(ad->cp) && req->body_case != STRATA__REQUEST__BODY_API_VERSIONS) {
        br_call_reply_error(call, ST_ERR_BROKER_NOT_AVAILABLE, "broker is not registered in ZooKeeper yet");
        return;
    }
    switch (req->body_case) {
    case STRATA__REQUEST__BODY_API_VERSIONS:
        ad_api_versions(ad, call);
        return;
    case STRATA__REQUEST__BODY_METADATA:
        if (req->metadata)
            ad_metadata(ad, call, req->metadata);
        else
            br_call_reply_error(call, ST_ERR_INVALID_REQUEST, "empty body");
        return;
    case STRATA__REQUEST__BODY_CREATE_TOPICS:
        if (req->create_topics)
            ad_create_topics(ad, call, req->create_topics);
        else
            br_call_reply_error(call, ST_ERR_INVALID_REQUEST, "empty body");
        return;
    case STRATA__REQUEST__BODY_DELETE_TOPICS:
        if (req->delete_topics)
            ad_delete_topics(ad, call, req->delete_topics);
        else
            br_call_reply_error(call, ST_ERR_INVALID_REQUEST, "empty body");
        return;
    case STRATA__REQUEST__BODY_CREATE_PARTITIONS:
        if (req->create_partitions)
            ad_create_partitions(ad, call, req->create_partitions);
        else
            br_call_reply_error(call, ST_ERR_INVALID_REQUEST, "empty body");
        return;
    case STRATA__REQUEST__BODY_DESCRIBE_CONFIGS:
        if (req->describe_configs)
            ad_describe_configs(ad, call, req->describe_configs);
        else
            br_call_reply_error(call, ST_ERR_INVALID_REQUEST, "empty body");
        return;
    case STRATA__REQUEST__BODY_ALTER_CONFIGS:
        if (req->alter_configs)
            ad_alter_configs(ad, call, req->alter_configs);
        else
            br_call_reply_error(call, ST_ERR_INVALID_REQUEST, "empty body");
        return;
    default:
        br_call_reply_error(call, ST_ERR_INVALID_REQUEST, "unsupported request");
        return;
    }
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
