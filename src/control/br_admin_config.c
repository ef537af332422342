/*
 * br_admin_config: DescribeConfigs and AlterConfigs (see br_admin.h).
 * Describe answers a topic's effective configuration (broker defaults +
 * its overrides, source "topic" or "default") or this broker's (static,
 * default or dynamic-broker; read-only unless dynamic; secrets hidden),
 * built in an arena (br_admin_int.h). Alter rewrites /config/topics/<t>
 * (the old overrides with the changes applied, validated as a whole) or,
 * for a broker, merges dynamic keys into /config/brokers/<id> after
 * reading it; the owners apply them when their watches fire. One answer
 * once every write completed.
 */
#include <stdlib.h>
#include <string.h>

#include "common/st_log.h"
#include "control/br_admin_int.h"

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
    st_arena_t a = {0};
    Strata__DescribeConfigsResponse dr = STRATA__DESCRIBE_CONFIGS_RESPONSE__INIT;
    dr.results = st_arena_alloc(&a, (req->n_resources + 1) * sizeof *dr.results);
    for (size_t i = 0; dr.results && i < req->n_resources; i++) {
        const Strata__ConfigResource *res = req->resources[i];
        Strata__DescribeConfigsResult *r =
            ST_ARENA_NEW(&a, Strata__DescribeConfigsResult, STRATA__DESCRIBE_CONFIGS_RESULT__INIT);
        if (!r || !res)
            break;
        r->type = res->type;
        r->name = st_arena_strdup(&a, res->name);
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
                r->error_message = st_arena_strdup(&a, "unknown topic");
            } else {
                br_md_topic_config(cp->md, t, &tc);
                have_tc = true;
                table = br_topic_config_table;
                target = &tc;
            }
        } else if (res->type == STRATA__RESOURCE_TYPE__RESOURCE_BROKER) {
            if (res->name && *res->name && strcmp(res->name, idbuf) != 0) {
                r->error = STRATA__ERROR_CODE__INVALID_REQUEST;
                r->error_message = st_arena_strdup(&a, "ask that broker for its configuration");
            } else {
                table = br_config_table;
                target = cp->conf;
            }
        } else {
            r->error = STRATA__ERROR_CODE__INVALID_REQUEST;
            r->error_message = st_arena_strdup(&a, "unsupported resource type");
        }
        if (table) {
            size_t n = 0;
            for (const st_conf_prop_t *p = table; p->name; p++)
                n++;
            r->configs = st_arena_alloc(&a, (n + 1) * sizeof *r->configs);
            for (const st_conf_prop_t *p = table; r->configs && p->name; p++) {
                if (!ad_key_wanted(res, p->name))
                    continue;
                Strata__DescribedConfig *c =
                    ST_ARENA_NEW(&a, Strata__DescribedConfig, STRATA__DESCRIBED_CONFIG__INIT);
                if (!c)
                    break;
                char *v = st_conf_get(table, target, p->name);
                bool secret = strcmp(p->name, "zookeeper.auth.digest") == 0;
                c->name = st_arena_strdup(&a, p->name);
                c->value = st_arena_strdup(&a, secret && v && *v ? "[hidden]" : v);
                c->doc = st_arena_strdup(&a, p->doc);
                if (table == br_topic_config_table) {
                    bool over = false;
                    for (size_t k = 0; t && k < t->config.n; k++)
                        over |= strcmp(t->config.keys[k], p->name) == 0;
                    c->is_default = !over;
                    c->source = st_arena_strdup(&a, over ? "topic" : "default");
                } else {
                    const zknode_config_t *dyn = br_md_broker_config(cp->md);
                    bool over = false;
                    for (size_t k = 0; p->dynamic && k < dyn->n; k++)
                        over |= strcmp(dyn->keys[k], p->name) == 0;
                    bool def = p->def ? (v && strcmp(v, p->def) == 0) : (!v || !*v);
                    c->is_default = def && !over;
                    c->source = st_arena_strdup(&a, over ? "dynamic-broker" : def ? "default" : "static");
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
    st_arena_free(&a);
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
    char **values; /* NULL: delete */
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
    if (rc == ZNONODE &&
        zkc_create(aw->zk, aw->path, aw->json, (int)strlen(aw->json), 0, ad_alter_created, aw) == ZOK)
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
            zrc = rc == ZOK ? zkc_set(aw->zk, aw->path, aw->json, (int)strlen(aw->json), stat->version,
                                      ad_alter_set, aw)
                            : zkc_create(aw->zk, aw->path, aw->json, (int)strlen(aw->json), 0,
                                         ad_alter_created, aw);
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
            snprintf(msg, sizeof msg, "%s: not a dynamic broker configuration key",
                     c && c->name ? c->name : "?");
            ok = false;
        } else if (c->op != STRATA__ALTER_OP__ALTER_DELETE &&
                   st_conf_set(br_config_table, &scratch, c->name, c->value ? c->value : "", msg,
                               sizeof msg) != ST_OK) {
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
                snprintf(msg, sizeof msg, "%s: unknown topic configuration key",
                         c && c->name ? c->name : "?");
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
        int zrc =
            aw->path ? zkc_set(cp->zk, path, json, (int)strlen(json), -1, ad_alter_set, aw) : ZSYSTEMERROR;
        if (zrc != ZOK)
            ad_alter_write_end(aw, zrc);
        else
            ST_INFO(AD_TAG, "altering config of topic %s", t->name);
    }
    if (--al->pending == 0)
        ad_alter_answer(al);
}

/* ---------------------------------------------------------- requests */

void br_admin_handle_describe_configs(br_admin_t *ad, br_call_t *call, const Strata__Request *req)
{
    ad_describe_configs(ad, call, req->describe_configs);
}

void br_admin_handle_alter_configs(br_admin_t *ad, br_call_t *call, const Strata__Request *req)
{
    ad_alter_configs(ad, call, req->alter_configs);
}
