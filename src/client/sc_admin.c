/*
 * sc_admin: admin handle (see sc_admin.h). The handle has no tick: its
 * I/O thread only moves requests and replies.
 */
#include "client/sc_admin.h"

#include <stdlib.h>
#include <string.h>

#include "client/sc_client.h"

struct strata_config_list {
    Strata__Response *resp;
    strata_config_entry_t *ents;
    size_t n;
};

typedef struct sc_md {
    strata_metadata_t pub; /* first: strata_metadata_t * casts to sc_md_t * */
    Strata__Response *resp;
    strata_broker_info_t *brokers;
    strata_topic_info_t *topics;
    strata_partition_info_t *parts;
} sc_md_t;

strata_admin_t *strata_admin_new(const strata_conf_t *conf, char *errstr, size_t errlen)
{
    strata_admin_t *a = calloc(1, sizeof *a);
    if (a == NULL)
        return NULL;
    strata_conf_t *def = conf ? NULL : strata_conf_new();
    const strata_conf_t *c = conf ? conf : def;
    st_err_t e = c ? sc_client_init(&a->cl, c, NULL, a, errstr, errlen) : ST_ERR_NOMEM;
    strata_conf_free(def);
    if (e != ST_OK) {
        free(a);
        return NULL;
    }
    sc_client_lock(&a->cl);
    a->cl.kind = "admin";
    sc_client_unlock(&a->cl);
    return a;
}

void strata_admin_free(strata_admin_t *a)
{
    if (a == NULL)
        return;
    sc_client_fini(&a->cl);
    free(a);
}

static void sc_errmsg(char *errmsg, size_t errlen, const char *msg, st_err_t e)
{
    if (errmsg == NULL || errlen == 0)
        return;
    if (msg != NULL && msg[0] != '\0')
        snprintf(errmsg, errlen, "%s: %s", st_err_name(e), msg);
    else
        snprintf(errmsg, errlen, "%s", st_err_name(e));
}

/* Send req to the controller (or any broker); on NOT_CONTROLLER, no
 * controller known or an unreachable broker, refresh metadata (from a live
 * broker) and try once more. */
static st_err_t sc_admin_call(strata_admin_t *a, Strata__Request *req, int timeout_ms,
                              Strata__Response **resp, bool to_controller)
{
    int aio_to = timeout_ms < 0 ? -1 : timeout_ms + (int)a->cl.conf.request_timeout_ms;
    sc_client_lock(&a->cl);
    bool known = sc_client_broker(&a->cl, a->cl.controller_id) != NULL;
    sc_client_unlock(&a->cl);
    if (to_controller && !known)
        sc_client_md_refresh(&a->cl, timeout_ms < 0 ? (int)a->cl.conf.request_timeout_ms : timeout_ms);
    st_err_t e = sc_client_call(&a->cl, to_controller ? SC_TO_CONTROLLER : NULL, req, aio_to, resp);
    if (e == ST_ERR_NETWORK_EXCEPTION || (e == ST_ERR_NOT_CONTROLLER && to_controller)) {
        /* NETWORK_EXCEPTION: the broker could not be reached (it is now in
         * backoff) or dropped the connection; ask another one */
        if (*resp != NULL)
            strata__response__free_unpacked(*resp, NULL);
        *resp = NULL;
        sc_client_md_refresh(&a->cl, timeout_ms < 0 ? (int)a->cl.conf.request_timeout_ms : timeout_ms);
        e = sc_client_call(&a->cl, to_controller ? SC_TO_CONTROLLER : NULL, req, aio_to, resp);
    }
    return e;
}

/* The first TopicResult of a response, checked. */
static st_err_t sc_topic_result(st_err_t e, Strata__Response *resp, size_t n, Strata__TopicResult **v,
                                char *errmsg, size_t errlen)
{
    if (e != ST_OK) {
        sc_errmsg(errmsg, errlen, resp ? resp->error_message : NULL, e);
        return e;
    }
    if (n < 1) {
        sc_errmsg(errmsg, errlen, "empty response", ST_ERR_CORRUPT_MESSAGE);
        return ST_ERR_CORRUPT_MESSAGE;
    }
    e = (st_err_t)v[0]->error;
    if (e != ST_OK)
        sc_errmsg(errmsg, errlen, v[0]->error_message, e);
    return e;
}

/* Split "k=v" into a ConfigEntry (pointers into a copy). */
static char *sc_split_kv(const char *kv, char **value)
{
    char *k = strdup(kv);
    if (k == NULL)
        return NULL;
    char *eq = strchr(k, '=');
    if (eq == NULL) {
        free(k);
        return NULL;
    }
    *eq = '\0';
    *value = eq + 1;
    return k;
}

strata_err_t strata_admin_create_topic(strata_admin_t *a, const char *name, int32_t partitions,
                                       int32_t replication_factor, const char *const *configs,
                                       size_t n_configs, int timeout_ms, char *errmsg, size_t errlen)
{
    if (a == NULL || name == NULL || (n_configs > 0 && configs == NULL))
        return STRATA_ERR_INVALID_ARG;
    Strata__CreatableTopic ct = STRATA__CREATABLE_TOPIC__INIT;
    Strata__CreatableTopic *ctp = &ct;
    Strata__CreateTopicsRequest cr = STRATA__CREATE_TOPICS_REQUEST__INIT;
    Strata__Request req = STRATA__REQUEST__INIT;
    Strata__Response *resp = NULL;
    Strata__ConfigEntry *ents = calloc(n_configs ? n_configs : 1, sizeof *ents);
    Strata__ConfigEntry **ep = calloc(n_configs ? n_configs : 1, sizeof *ep);
    char **keys = calloc(n_configs ? n_configs : 1, sizeof *keys);
    st_err_t e = ST_OK;
    if (!ents || !ep || !keys) {
        e = ST_ERR_NOMEM;
        goto out;
    }
    for (size_t i = 0; i < n_configs; i++) {
        char *v;
        strata__config_entry__init(&ents[i]);
        if ((keys[i] = sc_split_kv(configs[i], &v)) == NULL) {
            e = ST_ERR_INVALID_CONFIG;
            if (errmsg)
                snprintf(errmsg, errlen, "config '%s' is not key=value", configs[i]);
            goto out;
        }
        ents[i].name = keys[i];
        ents[i].value = v;
        ep[i] = &ents[i];
    }
    ct.name = (char *)name;
    ct.num_partitions = partitions;
    ct.replication_factor = replication_factor;
    ct.configs = ep;
    ct.n_configs = n_configs;
    cr.version = 1;
    cr.topics = &ctp;
    cr.n_topics = 1;
    cr.timeout_ms = timeout_ms < 0 ? 30000 : timeout_ms;
    req.body_case = STRATA__REQUEST__BODY_CREATE_TOPICS;
    req.create_topics = &cr;
    e = sc_admin_call(a, &req, timeout_ms, &resp, true);
    if (e == ST_OK && resp->body_case != STRATA__RESPONSE__BODY_CREATE_TOPICS)
        e = ST_ERR_CORRUPT_MESSAGE;
    e = sc_topic_result(e, resp, e == ST_OK ? resp->create_topics->n_topics : 0,
                        e == ST_OK ? resp->create_topics->topics : NULL, errmsg, errlen);
out:
    for (size_t i = 0; keys && i < n_configs; i++)
        free(keys[i]);
    free(keys);
    free(ents);
    free(ep);
    if (resp)
        strata__response__free_unpacked(resp, NULL);
    return (strata_err_t)e;
}

strata_err_t strata_admin_delete_topic(strata_admin_t *a, const char *name, int timeout_ms, char *errmsg,
                                       size_t errlen)
{
    if (a == NULL || name == NULL)
        return STRATA_ERR_INVALID_ARG;
    Strata__DeleteTopicsRequest dr = STRATA__DELETE_TOPICS_REQUEST__INIT;
    Strata__Request req = STRATA__REQUEST__INIT;
    Strata__Response *resp = NULL;
    char *names[1] = {(char *)name};
    dr.version = 1;
    dr.topics = names;
    dr.n_topics = 1;
    dr.timeout_ms = timeout_ms < 0 ? 30000 : timeout_ms;
    req.body_case = STRATA__REQUEST__BODY_DELETE_TOPICS;
    req.delete_topics = &dr;
    st_err_t e = sc_admin_call(a, &req, timeout_ms, &resp, true);
    if (e == ST_OK && resp->body_case != STRATA__RESPONSE__BODY_DELETE_TOPICS)
        e = ST_ERR_CORRUPT_MESSAGE;
    e = sc_topic_result(e, resp, e == ST_OK ? resp->delete_topics->n_topics : 0,
                        e == ST_OK ? resp->delete_topics->topics : NULL, errmsg, errlen);
    if (resp)
        strata__response__free_unpacked(resp, NULL);
    return (strata_err_t)e;
}

strata_err_t strata_admin_create_partitions(strata_admin_t *a, const char *name, int32_t total_partitions,
                                            int timeout_ms, char *errmsg, size_t errlen)
{
    if (a == NULL || name == NULL || total_partitions < 1)
        return STRATA_ERR_INVALID_ARG;
    Strata__CreatePartitionsTopic pt = STRATA__CREATE_PARTITIONS_TOPIC__INIT;
    Strata__CreatePartitionsTopic *ptp = &pt;
    Strata__CreatePartitionsRequest cr = STRATA__CREATE_PARTITIONS_REQUEST__INIT;
    Strata__Request req = STRATA__REQUEST__INIT;
    Strata__Response *resp = NULL;
    pt.name = (char *)name;
    pt.count = total_partitions;
    cr.version = 1;
    cr.topics = &ptp;
    cr.n_topics = 1;
    cr.timeout_ms = timeout_ms < 0 ? 30000 : timeout_ms;
    req.body_case = STRATA__REQUEST__BODY_CREATE_PARTITIONS;
    req.create_partitions = &cr;
    st_err_t e = sc_admin_call(a, &req, timeout_ms, &resp, true);
    if (e == ST_OK && resp->body_case != STRATA__RESPONSE__BODY_CREATE_PARTITIONS)
        e = ST_ERR_CORRUPT_MESSAGE;
    e = sc_topic_result(e, resp, e == ST_OK ? resp->create_partitions->n_topics : 0,
                        e == ST_OK ? resp->create_partitions->topics : NULL, errmsg, errlen);
    if (resp)
        strata__response__free_unpacked(resp, NULL);
    return (strata_err_t)e;
}

strata_err_t strata_admin_describe_configs(strata_admin_t *a, strata_resource_t type, const char *name,
                                           int timeout_ms, strata_config_list_t **out, char *errmsg,
                                           size_t errlen)
{
    if (a == NULL || name == NULL || out == NULL)
        return STRATA_ERR_INVALID_ARG;
    *out = NULL;
    Strata__ConfigResource cres = STRATA__CONFIG_RESOURCE__INIT;
    Strata__ConfigResource *crp = &cres;
    Strata__DescribeConfigsRequest dr = STRATA__DESCRIBE_CONFIGS_REQUEST__INIT;
    Strata__Request req = STRATA__REQUEST__INIT;
    Strata__Response *resp = NULL;
    cres.type = (Strata__ResourceType)type;
    cres.name = (char *)name;
    dr.version = 1;
    dr.resources = &crp;
    dr.n_resources = 1;
    req.body_case = STRATA__REQUEST__BODY_DESCRIBE_CONFIGS;
    req.describe_configs = &dr;
    st_err_t e = sc_admin_call(a, &req, timeout_ms, &resp, false);
    if (e == ST_OK &&
        (resp->body_case != STRATA__RESPONSE__BODY_DESCRIBE_CONFIGS || resp->describe_configs->n_results < 1))
        e = ST_ERR_CORRUPT_MESSAGE;
    if (e == ST_OK) {
        Strata__DescribeConfigsResult *r = resp->describe_configs->results[0];
        e = (st_err_t)r->error;
        if (e != ST_OK) {
            sc_errmsg(errmsg, errlen, r->error_message, e);
        } else {
            strata_config_list_t *l = calloc(1, sizeof *l);
            if (l != NULL)
                l->ents = calloc(r->n_configs ? r->n_configs : 1, sizeof *l->ents);
            if (l == NULL || l->ents == NULL) {
                free(l);
                e = ST_ERR_NOMEM;
            } else {
                for (size_t i = 0; i < r->n_configs; i++) {
                    const Strata__DescribedConfig *dc = r->configs[i];
                    l->ents[i].name = dc->name;
                    l->ents[i].value = dc->value;
                    l->ents[i].is_default = dc->is_default;
                    l->ents[i].read_only = dc->read_only;
                    l->ents[i].source = dc->source;
                    l->ents[i].doc = dc->doc;
                }
                l->n = r->n_configs;
                l->resp = resp;
                resp = NULL;
                *out = l;
            }
        }
    } else {
        sc_errmsg(errmsg, errlen, resp ? resp->error_message : NULL, e);
    }
    if (resp)
        strata__response__free_unpacked(resp, NULL);
    return (strata_err_t)e;
}

size_t strata_config_list_count(const strata_config_list_t *l)
{
    return l ? l->n : 0;
}

const strata_config_entry_t *strata_config_list_get(const strata_config_list_t *l, size_t i)
{
    return l && i < l->n ? &l->ents[i] : NULL;
}

void strata_config_list_free(strata_config_list_t *l)
{
    if (l == NULL)
        return;
    if (l->resp)
        strata__response__free_unpacked(l->resp, NULL);
    free(l->ents);
    free(l);
}

strata_err_t strata_admin_alter_configs(strata_admin_t *a, strata_resource_t type, const char *name,
                                        const char *const *set, size_t n_set, const char *const *del,
                                        size_t n_del, int timeout_ms, char *errmsg, size_t errlen)
{
    if (a == NULL || name == NULL || (n_set && set == NULL) || (n_del && del == NULL))
        return STRATA_ERR_INVALID_ARG;
    size_t n = n_set + n_del;
    Strata__AlterableConfig *cs = calloc(n ? n : 1, sizeof *cs);
    Strata__AlterableConfig **cp = calloc(n ? n : 1, sizeof *cp);
    char **keys = calloc(n ? n : 1, sizeof *keys);
    Strata__AlterConfigsResource res = STRATA__ALTER_CONFIGS_RESOURCE__INIT;
    Strata__AlterConfigsResource *resp_ = &res;
    Strata__AlterConfigsRequest ar = STRATA__ALTER_CONFIGS_REQUEST__INIT;
    Strata__Request req = STRATA__REQUEST__INIT;
    Strata__Response *resp = NULL;
    st_err_t e = ST_OK;
    if (!cs || !cp || !keys) {
        e = ST_ERR_NOMEM;
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        strata__alterable_config__init(&cs[i]);
        cp[i] = &cs[i];
        if (i < n_set) {
            char *v;
            if ((keys[i] = sc_split_kv(set[i], &v)) == NULL) {
                e = ST_ERR_INVALID_CONFIG;
                if (errmsg)
                    snprintf(errmsg, errlen, "config '%s' is not key=value", set[i]);
                goto out;
            }
            cs[i].name = keys[i];
            cs[i].value = v;
            cs[i].op = STRATA__ALTER_OP__ALTER_SET;
        } else {
            cs[i].name = (char *)del[i - n_set];
            cs[i].value = (char *)"";
            cs[i].op = STRATA__ALTER_OP__ALTER_DELETE;
        }
    }
    res.type = (Strata__ResourceType)type;
    res.name = (char *)name;
    res.configs = cp;
    res.n_configs = n;
    ar.version = 1;
    ar.resources = &resp_;
    ar.n_resources = 1;
    req.body_case = STRATA__REQUEST__BODY_ALTER_CONFIGS;
    req.alter_configs = &ar;
    e = sc_admin_call(a, &req, timeout_ms, &resp, true);
    if (e == ST_OK &&
        (resp->body_case != STRATA__RESPONSE__BODY_ALTER_CONFIGS || resp->alter_configs->n_results < 1))
        e = ST_ERR_CORRUPT_MESSAGE;
    if (e == ST_OK) {
        e = (st_err_t)resp->alter_configs->results[0]->error;
        if (e != ST_OK)
            sc_errmsg(errmsg, errlen, resp->alter_configs->results[0]->error_message, e);
    } else {
        sc_errmsg(errmsg, errlen, resp ? resp->error_message : NULL, e);
    }
out:
    for (size_t i = 0; keys && i < n; i++)
        free(keys[i]);
    free(keys);
    free(cs);
    free(cp);
    if (resp)
        strata__response__free_unpacked(resp, NULL);
    return (strata_err_t)e;
}

strata_err_t strata_admin_metadata(strata_admin_t *a, const char *const *topics, size_t n, int timeout_ms,
                                   strata_metadata_t **out)
{
    if (a == NULL || out == NULL || (n && topics == NULL))
        return STRATA_ERR_INVALID_ARG;
    *out = NULL;
    Strata__MetadataRequest mr = STRATA__METADATA_REQUEST__INIT;
    Strata__Request req = STRATA__REQUEST__INIT;
    Strata__Response *resp = NULL;
    mr.version = 1;
    mr.topics = (char **)topics;
    mr.n_topics = n;
    mr.all_topics = n == 0;
    req.body_case = STRATA__REQUEST__BODY_METADATA;
    req.metadata = &mr;
    int aio_to = timeout_ms < 0 ? -1 : timeout_ms;
    st_err_t e = sc_client_call(&a->cl, NULL, &req, aio_to, &resp);
    if (e == ST_OK && resp->body_case != STRATA__RESPONSE__BODY_METADATA)
        e = ST_ERR_CORRUPT_MESSAGE;
    if (e != ST_OK) {
        if (resp)
            strata__response__free_unpacked(resp, NULL);
        return (strata_err_t)e;
    }
    const Strata__MetadataResponse *m = resp->metadata;
    size_t np = 0;
    for (size_t i = 0; i < m->n_topics; i++)
        np += m->topics[i]->n_partitions;
    sc_md_t *md = calloc(1, sizeof *md);
    if (md != NULL) {
        md->brokers = calloc(m->n_brokers ? m->n_brokers : 1, sizeof *md->brokers);
        md->topics = calloc(m->n_topics ? m->n_topics : 1, sizeof *md->topics);
        md->parts = calloc(np ? np : 1, sizeof *md->parts);
    }
    if (md == NULL || !md->brokers || !md->topics || !md->parts) {
        if (md) {
            free(md->brokers);
            free(md->topics);
            free(md->parts);
            free(md);
        }
        strata__response__free_unpacked(resp, NULL);
        return STRATA_ERR_NOMEM;
    }
    for (size_t i = 0; i < m->n_brokers; i++) {
        const Strata__BrokerMetadata *b = m->brokers[i];
        md->brokers[i] = (strata_broker_info_t){b->id, b->host, b->port, b->url, b->rack};
    }
    size_t k = 0;
    for (size_t i = 0; i < m->n_topics; i++) {
        const Strata__TopicMetadata *t = m->topics[i];
        md->topics[i].name = t->name;
        md->topics[i].err = (strata_err_t)t->error;
        md->topics[i].topic_id = t->topic_id;
        md->topics[i].internal = t->internal;
        md->topics[i].partitions = &md->parts[k];
        md->topics[i].n_partitions = t->n_partitions;
        for (size_t j = 0; j < t->n_partitions; j++, k++) {
            const Strata__PartitionMetadata *p = t->partitions[j];
            strata_partition_info_t *pi = &md->parts[k];
            pi->id = p->partition;
            pi->err = (strata_err_t)p->error;
            pi->leader = p->leader;
            pi->leader_epoch = p->leader_epoch;
            pi->replicas = p->replicas;
            pi->n_replicas = p->n_replicas;
            pi->isr = p->isr;
            pi->n_isr = p->n_isr;
            pi->offline_replicas = p->offline_replicas;
            pi->n_offline_replicas = p->n_offline_replicas;
        }
    }
    md->pub.cluster_id = m->cluster_id;
    md->pub.controller_id = m->controller_id;
    md->pub.brokers = md->brokers;
    md->pub.n_brokers = m->n_brokers;
    md->pub.topics = md->topics;
    md->pub.n_topics = m->n_topics;
    md->resp = resp;
    *out = &md->pub;
    return STRATA_OK;
}

void strata_metadata_free(strata_metadata_t *pub)
{
    if (pub == NULL)
        return;
    sc_md_t *md = (sc_md_t *)pub;
    strata__response__free_unpacked(md->resp, NULL);
    free(md->brokers);
    free(md->topics);
    free(md->parts);
    free(md);
}

bool strata_partition_under_replicated(const strata_partition_info_t *p)
{
    return p->n_isr < p->n_replicas;
}

bool strata_partition_offline(const strata_partition_info_t *p)
{
    return p->leader < 0;
}

/* ------------------------------------- elections and reassignments */

struct strata_partition_results {
    Strata__Response *resp;
    strata_partition_result_t *v;
    size_t n;
};

struct strata_reassignment_list {
    Strata__Response *resp;
    strata_ongoing_reassignment_t *v;
    size_t n;
};

/* TopicPartitions messages for a request, grouped by topic. */
typedef struct sc_tpset {
    Strata__TopicPartitions *tps;
    Strata__TopicPartitions **ptrs;
    int32_t *parts;
    size_t n;
} sc_tpset_t;

static void sc_tpset_free(sc_tpset_t *s)
{
    free(s->tps);
    free(s->ptrs);
    free(s->parts);
    memset(s, 0, sizeof *s);
}

/* Group parts[0..n) by topic (in first-seen order); partition -1 becomes
 * every partition of the topic (metadata). Topic names point into parts. */
static st_err_t sc_tpset_build(strata_admin_t *a, const strata_topic_partition_t *parts, size_t n,
                               int timeout_ms, sc_tpset_t *s, char *errmsg, size_t errlen)
{
    memset(s, 0, sizeof *s);
    strata_metadata_t *md = NULL;
    st_err_t e = ST_OK;
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        if (parts[i].topic == NULL || parts[i].partition < -1)
            return ST_ERR_INVALID_ARG;
        if (parts[i].partition >= 0) {
            total++;
            continue;
        }
        if (md == NULL) {
            const char **names = calloc(n, sizeof *names);
            size_t k = 0;
            if (names == NULL)
                return ST_ERR_NOMEM;
            for (size_t j = 0; j < n; j++)
                if (parts[j].partition < 0)
                    names[k++] = parts[j].topic;
            e = (st_err_t)strata_admin_metadata(a, names, k, timeout_ms, &md);
            free(names);
            if (e != ST_OK) {
                sc_errmsg(errmsg, errlen, "metadata", e);
                return e;
            }
        }
        bool found = false;
        for (size_t t = 0; t < md->n_topics; t++) {
            if (strcmp(md->topics[t].name, parts[i].topic) != 0)
                continue;
            if (md->topics[t].err != STRATA_OK) {
                e = (st_err_t)md->topics[t].err;
                sc_errmsg(errmsg, errlen, parts[i].topic, e);
                goto out;
            }
            total += md->topics[t].n_partitions;
            found = true;
        }
        if (!found) {
            e = ST_ERR_UNKNOWN_TOPIC_OR_PARTITION;
            sc_errmsg(errmsg, errlen, parts[i].topic, e);
            goto out;
        }
    }
    s->tps = calloc(n ? n : 1, sizeof *s->tps);
    s->ptrs = calloc(n ? n : 1, sizeof *s->ptrs);
    s->parts = calloc(total ? total : 1, sizeof *s->parts);
    if (!s->tps || !s->ptrs || !s->parts) {
        e = ST_ERR_NOMEM;
        goto out;
    }
    /* partitions of a topic must be contiguous: fill topic by topic */
    size_t used = 0;
    for (size_t i = 0; i < n; i++) {
        size_t t;
        for (t = 0; t < s->n; t++)
            if (strcmp(s->tps[t].topic, parts[i].topic) == 0)
                break;
        if (t < s->n)
            continue; /* topic already done */
        strata__topic_partitions__init(&s->tps[s->n]);
        s->tps[s->n].topic = (char *)parts[i].topic;
        s->tps[s->n].partitions = &s->parts[used];
        s->ptrs[s->n] = &s->tps[s->n];
        for (size_t j = i; j < n; j++) {
            if (strcmp(parts[j].topic, parts[i].topic) != 0)
                continue;
            if (parts[j].partition >= 0) {
                s->parts[used++] = parts[j].partition;
                continue;
            }
            for (size_t m = 0; m < md->n_topics; m++)
                if (strcmp(md->topics[m].name, parts[j].topic) == 0)
                    for (size_t q = 0; q < md->topics[m].n_partitions; q++)
                        s->parts[used++] = md->topics[m].partitions[q].id;
        }
        s->tps[s->n].n_partitions = (size_t)(&s->parts[used] - s->tps[s->n].partitions);
        s->n++;
    }
out:
    strata_metadata_free(md);
    if (e != ST_OK)
        sc_tpset_free(s);
    return e;
}

/* Turn the per-partition results of a response into *out. */
typedef struct sc_rawres {
    const char *topic;
    int32_t partition;
    int error;
    const char *msg;
} sc_rawres_t;

static st_err_t sc_results_make(Strata__Response *resp, const sc_rawres_t *raw, size_t n,
                                strata_partition_results_t **out)
{
    strata_partition_results_t *r = calloc(1, sizeof *r);
    if (r == NULL || (r->v = calloc(n ? n : 1, sizeof *r->v)) == NULL) {
        free(r);
        return ST_ERR_NOMEM;
    }
    for (size_t i = 0; i < n; i++)
        r->v[i] = (strata_partition_result_t){raw[i].topic ? raw[i].topic : "", raw[i].partition,
                                              (strata_err_t)raw[i].error, raw[i].msg ? raw[i].msg : ""};
    r->n = n;
    r->resp = resp;
    *out = r;
    return ST_OK;
}

size_t strata_partition_results_count(const strata_partition_results_t *r)
{
    return r ? r->n : 0;
}

const strata_partition_result_t *strata_partition_results_get(const strata_partition_results_t *r, size_t i)
{
    return r && i < r->n ? &r->v[i] : NULL;
}

void strata_partition_results_free(strata_partition_results_t *r)
{
    if (r == NULL)
        return;
    if (r->resp)
        strata__response__free_unpacked(r->resp, NULL);
    free(r->v);
    free(r);
}

/* Common tail of the calls answered with per-partition results: check
 * the envelope and body, then hand the results out (or free them). */
static st_err_t sc_results_finish(st_err_t e, Strata__Response *resp, int body_case, int top_err,
                                  const sc_rawres_t *raw, size_t n, strata_partition_results_t **out,
                                  char *errmsg, size_t errlen)
{
    if (e == ST_OK && (int)resp->body_case != body_case)
        e = ST_ERR_CORRUPT_MESSAGE;
    if (e == ST_OK && top_err != 0)
        e = (st_err_t)top_err;
    if (e != ST_OK) {
        sc_errmsg(errmsg, errlen, resp ? resp->error_message : NULL, e);
    } else if (out != NULL) {
        e = sc_results_make(resp, raw, n, out);
        if (e == ST_OK)
            return ST_OK;
    }
    if (resp)
        strata__response__free_unpacked(resp, NULL);
    return e;
}

strata_err_t strata_admin_elect_leaders(strata_admin_t *a, strata_election_type_t type,
                                        const strata_topic_partition_t *parts, size_t n, int timeout_ms,
                                        strata_partition_results_t **out, char *errmsg, size_t errlen)
{
    if (out)
        *out = NULL;
    if (a == NULL || (n > 0 && parts == NULL) ||
        (type != STRATA_ELECTION_PREFERRED && type != STRATA_ELECTION_UNCLEAN))
        return STRATA_ERR_INVALID_ARG;
    sc_tpset_t s;
    st_err_t e = sc_tpset_build(a, parts, n, timeout_ms, &s, errmsg, errlen);
    if (e != ST_OK)
        return (strata_err_t)e;
    Strata__ElectLeadersRequest er = STRATA__ELECT_LEADERS_REQUEST__INIT;
    Strata__Request req = STRATA__REQUEST__INIT;
    Strata__Response *resp = NULL;
    sc_rawres_t *raw = NULL;
    er.version = 1;
    er.election_type = type == STRATA_ELECTION_UNCLEAN ? STRATA__ELECTION_TYPE__ELECTION_UNCLEAN
                                                       : STRATA__ELECTION_TYPE__ELECTION_PREFERRED;
    er.topic_partitions = s.ptrs;
    er.n_topic_partitions = s.n;
    er.timeout_ms = timeout_ms < 0 ? (int32_t)a->cl.conf.request_timeout_ms : timeout_ms;
    req.body_case = STRATA__REQUEST__BODY_ELECT_LEADERS;
    req.elect_leaders = &er;
    e = sc_admin_call(a, &req, timeout_ms, &resp, true);
    size_t nr = 0;
    int top = 0;
    if (e == ST_OK && resp->body_case == STRATA__RESPONSE__BODY_ELECT_LEADERS) {
        const Strata__ElectLeadersResponse *r = resp->elect_leaders;
        top = r->error;
        nr = r->n_results;
        raw = calloc(nr ? nr : 1, sizeof *raw);
        if (raw == NULL)
            e = ST_ERR_NOMEM;
        for (size_t i = 0; raw && i < nr; i++)
            raw[i] = (sc_rawres_t){r->results[i]->topic, r->results[i]->partition, r->results[i]->error,
                                   r->results[i]->error_message};
    }
    e = sc_results_finish(e, resp, STRATA__RESPONSE__BODY_ELECT_LEADERS, top, raw, nr, out, errmsg, errlen);
    free(raw);
    sc_tpset_free(&s);
    return (strata_err_t)e;
}

strata_err_t strata_admin_alter_reassignments(strata_admin_t *a, const strata_reassignment_t *v, size_t n,
                                              int timeout_ms, strata_partition_results_t **out, char *errmsg,
                                              size_t errlen)
{
    if (out)
        *out = NULL;
    if (a == NULL || n == 0 || v == NULL)
        return STRATA_ERR_INVALID_ARG;
    for (size_t i = 0; i < n; i++)
        if (v[i].topic == NULL || v[i].partition < 0 || (v[i].n_replicas > 0 && !v[i].replicas))
            return STRATA_ERR_INVALID_ARG;
    Strata__ReassignablePartition *rp = calloc(n, sizeof *rp);
    Strata__ReassignablePartition **rpp = calloc(n, sizeof *rpp);
    Strata__AlterPartitionReassignmentsRequest ar = STRATA__ALTER_PARTITION_REASSIGNMENTS_REQUEST__INIT;
    Strata__Request req = STRATA__REQUEST__INIT;
    Strata__Response *resp = NULL;
    sc_rawres_t *raw = NULL;
    st_err_t e = ST_OK;
    size_t nr = 0;
    int top = 0;
    if (rp == NULL || rpp == NULL) {
        e = ST_ERR_NOMEM;
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        strata__reassignable_partition__init(&rp[i]);
        rp[i].topic = (char *)v[i].topic;
        rp[i].partition = v[i].partition;
        rp[i].replicas = (int32_t *)v[i].replicas;
        rp[i].n_replicas = v[i].n_replicas;
        rpp[i] = &rp[i];
    }
    ar.version = 1;
    ar.partitions = rpp;
    ar.n_partitions = n;
    ar.timeout_ms = timeout_ms < 0 ? (int32_t)a->cl.conf.request_timeout_ms : timeout_ms;
    req.body_case = STRATA__REQUEST__BODY_ALTER_PARTITION_REASSIGNMENTS;
    req.alter_partition_reassignments = &ar;
    e = sc_admin_call(a, &req, timeout_ms, &resp, true);
    if (e == ST_OK && resp->body_case == STRATA__RESPONSE__BODY_ALTER_PARTITION_REASSIGNMENTS) {
        const Strata__AlterPartitionReassignmentsResponse *r = resp->alter_partition_reassignments;
        top = r->error;
        nr = r->n_results;
        raw = calloc(nr ? nr : 1, sizeof *raw);
        if (raw == NULL)
            e = ST_ERR_NOMEM;
        for (size_t i = 0; raw && i < nr; i++)
            raw[i] = (sc_rawres_t){r->results[i]->topic, r->results[i]->partition, r->results[i]->error,
                                   r->results[i]->error_message};
    }
    e = sc_results_finish(e, resp, STRATA__RESPONSE__BODY_ALTER_PARTITION_REASSIGNMENTS, top, raw, nr, out,
                          errmsg, errlen);
out:
    free(raw);
    free(rp);
    free(rpp);
    return (strata_err_t)e;
}

strata_err_t strata_admin_list_reassignments(strata_admin_t *a, const strata_topic_partition_t *parts,
                                             size_t n, int timeout_ms, strata_reassignment_list_t **out,
                                             char *errmsg, size_t errlen)
{
    if (out == NULL || a == NULL || (n > 0 && parts == NULL))
        return STRATA_ERR_INVALID_ARG;
    *out = NULL;
    sc_tpset_t s;
    st_err_t e = sc_tpset_build(a, parts, n, timeout_ms, &s, errmsg, errlen);
    if (e != ST_OK)
        return (strata_err_t)e;
    Strata__ListPartitionReassignmentsRequest lr = STRATA__LIST_PARTITION_REASSIGNMENTS_REQUEST__INIT;
    Strata__Request req = STRATA__REQUEST__INIT;
    Strata__Response *resp = NULL;
    lr.version = 1;
    lr.topic_partitions = s.ptrs;
    lr.n_topic_partitions = s.n;
    req.body_case = STRATA__REQUEST__BODY_LIST_PARTITION_REASSIGNMENTS;
    req.list_partition_reassignments = &lr;
    e = sc_admin_call(a, &req, timeout_ms, &resp, true);
    sc_tpset_free(&s);
    if (e == ST_OK && resp->body_case != STRATA__RESPONSE__BODY_LIST_PARTITION_REASSIGNMENTS)
        e = ST_ERR_CORRUPT_MESSAGE;
    if (e == ST_OK && resp->list_partition_reassignments->error != 0)
        e = (st_err_t)resp->list_partition_reassignments->error;
    if (e != ST_OK) {
        sc_errmsg(errmsg, errlen, resp ? resp->error_message : NULL, e);
        if (resp)
            strata__response__free_unpacked(resp, NULL);
        return (strata_err_t)e;
    }
    const Strata__ListPartitionReassignmentsResponse *r = resp->list_partition_reassignments;
    strata_reassignment_list_t *l = calloc(1, sizeof *l);
    if (l == NULL || (l->v = calloc(r->n_reassignments ? r->n_reassignments : 1, sizeof *l->v)) == NULL) {
        free(l);
        strata__response__free_unpacked(resp, NULL);
        return STRATA_ERR_NOMEM;
    }
    for (size_t i = 0; i < r->n_reassignments; i++) {
        const Strata__OngoingReassignment *o = r->reassignments[i];
        l->v[i] = (strata_ongoing_reassignment_t){
            o->topic,           o->partition,         o->replicas,          o->n_replicas,
            o->adding_replicas, o->n_adding_replicas, o->removing_replicas, o->n_removing_replicas};
    }
    l->n = r->n_reassignments;
    l->resp = resp;
    *out = l;
    return STRATA_OK;
}

size_t strata_reassignment_list_count(const strata_reassignment_list_t *l)
{
    return l ? l->n : 0;
}

const strata_ongoing_reassignment_t *strata_reassignment_list_get(const strata_reassignment_list_t *l,
                                                                  size_t i)
{
    return l && i < l->n ? &l->v[i] : NULL;
}

void strata_reassignment_list_free(strata_reassignment_list_t *l)
{
    if (l == NULL)
        return;
    if (l->resp)
        strata__response__free_unpacked(l->resp, NULL);
    free(l->v);
    free(l);
}
