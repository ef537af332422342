/*
 * br_admin_metadata: Metadata (see br_admin.h). Metadata
 * answers from the metadata cache: the live brokers, the cluster id, the
 * controller and the controller epoch (/controller_epoch, as the cache
 * read it, or the active controller's own), and the topics asked (or
 * all) with each partition's leader, leader epoch, replicas, offline
 * replicas and ISR; an unknown topic is auto-created when the request
 * allows it and auto.create.topics.enable is set (answered
 * LEADER_NOT_AVAILABLE meanwhile). Responses are built in an arena
 * (br_admin_int.h).
 */
#include <stdlib.h>
#include <string.h>

#include "common/st_log.h"
#include "control/br_admin_int.h"

/* ----------------------------------------------------------- Metadata */

static Strata__TopicMetadata *ad_topic_md(br_admin_t *ad, st_arena_t *a, const br_md_topic_t *t)
{
    Strata__TopicMetadata *tm = ST_ARENA_NEW(a, Strata__TopicMetadata, STRATA__TOPIC_METADATA__INIT);
    if (!tm)
        return NULL;
    tm->name = st_arena_strdup(a, t->name);
    tm->topic_id = st_arena_strdup(a, t->topic_id);
    tm->internal = strncmp(t->name, "__", 2) == 0;
    if (!t->loaded) {
        tm->error = STRATA__ERROR_CODE__LEADER_NOT_AVAILABLE;
        return tm;
    }
    tm->partitions = st_arena_alloc(a, ((size_t)t->n_parts + 1) * sizeof *tm->partitions);
    if (!tm->partitions)
        return tm;
    for (int32_t p = 0; p < t->n_parts; p++) {
        const br_md_part_t *part = &t->parts[p];
        Strata__PartitionMetadata *pm =
            ST_ARENA_NEW(a, Strata__PartitionMetadata, STRATA__PARTITION_METADATA__INIT);
        if (!pm)
            break;
        pm->partition = p;
        pm->leader = part->kind == BR_MD_STATE_OK ? part->leader : -1;
        pm->leader_epoch = part->kind == BR_MD_STATE_OK ? part->leader_epoch : -1;
        if (pm->leader < 0)
            pm->error = STRATA__ERROR_CODE__LEADER_NOT_AVAILABLE;
        pm->replicas = st_arena_alloc(a, (part->n_replicas + 1) * sizeof(int32_t));
        pm->offline_replicas = st_arena_alloc(a, (part->n_replicas + 1) * sizeof(int32_t));
        if (pm->replicas && pm->offline_replicas) {
            for (size_t i = 0; i < part->n_replicas; i++) {
                pm->replicas[pm->n_replicas++] = part->replicas[i];
                if (!br_md_broker_live(ad->cp->md, part->replicas[i]))
                    pm->offline_replicas[pm->n_offline_replicas++] = part->replicas[i];
            }
        }
        if (part->kind == BR_MD_STATE_OK) {
            pm->isr = st_arena_alloc(a, (part->n_isr + 1) * sizeof(int32_t));
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
    st_arena_t a = {0};
    Strata__MetadataResponse mr = STRATA__METADATA_RESPONSE__INIT;
    size_t nb = br_md_n_brokers(md);
    mr.brokers = st_arena_alloc(&a, (nb + 1) * sizeof *mr.brokers);
    for (size_t i = 0; mr.brokers && i < nb; i++) {
        const br_md_broker_t *b = br_md_broker_at(md, i);
        if (!b->loaded)
            continue;
        Strata__BrokerMetadata *bm = ST_ARENA_NEW(&a, Strata__BrokerMetadata, STRATA__BROKER_METADATA__INIT);
        if (!bm)
            break;
        bm->id = b->id;
        bm->host = st_arena_strdup(&a, b->host);
        bm->port = b->port;
        bm->url = st_arena_strdup(&a, b->url);
        bm->rack = st_arena_strdup(&a, b->rack);
        mr.brokers[mr.n_brokers++] = bm;
    }
    mr.cluster_id = st_arena_strdup(&a, cp->cluster_id);
    mr.controller_id = br_md_controller_id(md);
    /* the active controller knows its epoch before the cache reads it back */
    mr.controller_epoch = br_md_controller_epoch(md);
    if (br_ctl_active(cp->ctl) && br_ctl_epoch(cp->ctl) > mr.controller_epoch)
        mr.controller_epoch = br_ctl_epoch(cp->ctl);
    size_t n_all = 0;
    for (br_md_topic_t *t = br_md_topics(md); t; t = t->next)
        n_all++;
    bool all = req->n_topics == 0;
    mr.topics = st_arena_alloc(&a, ((all ? n_all : req->n_topics) + 1) * sizeof *mr.topics);
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
                tm = ST_ARENA_NEW(&a, Strata__TopicMetadata, STRATA__TOPIC_METADATA__INIT);
                if (!tm)
                    break;
                tm->name = st_arena_strdup(&a, name);
                if (!zknode_topic_name_valid(name)) {
                    tm->error = STRATA__ERROR_CODE__INVALID_TOPIC_EXCEPTION;
                } else if (req->allow_auto_topic_creation && cp->conf->auto_create_topics_enable) {
                    br_admin_auto_create(ad, name);
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
    st_arena_free(&a);
}

/* ---------------------------------------------------------- requests */

void br_admin_handle_metadata(br_admin_t *ad, br_call_t *call, const Strata__Request *req)
{
    ad_metadata(ad, call, req->metadata);
}
