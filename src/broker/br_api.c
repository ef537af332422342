/*
 * br_api: the request table and the dispatch over it (see br_api.h).
 */
#include "broker/br_api.h"

#include <stdio.h>
#include <stdlib.h>

#include "broker/br_core.h"
#include "common/st_clock.h"
#include "common/st_log.h"
#include "control/br_admin.h"
#include "control/br_ctl.h"
#include "control/br_md.h"
#include "control/br_producer_id.h"
#include "group/br_groups.h"
#include "partition/br_pm.h"

/* ------------------------------------------------------------ handlers */

static void api_versions(br_core_t *core, br_call_t *call, const Strata__Request *req);

static void api_fetch(br_core_t *core, br_call_t *call, const Strata__Request *req)
{
    br_pm_handle_fetch(core->pm, call, req->fetch);
}

static void api_list_offsets(br_core_t *core, br_call_t *call, const Strata__Request *req)
{
    br_pm_handle_list_offsets(core->pm, call, req->list_offsets);
}

static void api_offset_for_leader_epoch(br_core_t *core, br_call_t *call, const Strata__Request *req)
{
    br_pm_handle_offset_for_leader_epoch(core->pm, call, req->offset_for_leader_epoch);
}

static void api_init_producer_id(br_core_t *core, br_call_t *call, const Strata__Request *req)
{
    if (!core->pid)
        br_call_reply_error(call, ST_ERR_COORDINATOR_NOT_AVAILABLE, "producer ids not available");
    else
        br_producer_id_handle_init(core->pid, call, req->init_producer_id);
}

/* The handlers of the controller, the admin handlers and the group
 * coordinator take their own object; these adapters hand it over. */
#define API_ADAPT(name, obj, fn)                                                                             \
    static void api_##name(br_core_t *core, br_call_t *call, const Strata__Request *req)                     \
    {                                                                                                        \
        fn(core->obj, call, req);                                                                            \
    }

API_ADAPT(controlled_shutdown, ctl, br_ctl_handle_controlled_shutdown)
API_ADAPT(elect_leaders, ctl, br_ctl_handle_elect_leaders)
API_ADAPT(alter_partition_reassignments, ctl, br_ctl_handle_alter_partition_reassignments)
API_ADAPT(list_partition_reassignments, ctl, br_ctl_handle_list_partition_reassignments)
API_ADAPT(metadata, admin, br_admin_handle_metadata)
API_ADAPT(create_topics, admin, br_admin_handle_create_topics)
API_ADAPT(delete_topics, admin, br_admin_handle_delete_topics)
API_ADAPT(create_partitions, admin, br_admin_handle_create_partitions)
API_ADAPT(describe_configs, admin, br_admin_handle_describe_configs)
API_ADAPT(alter_configs, admin, br_admin_handle_alter_configs)
API_ADAPT(find_coordinator, gc, br_groups_handle_find_coordinator)
API_ADAPT(join_group, gc, br_groups_handle_join_group)
API_ADAPT(sync_group, gc, br_groups_handle_sync_group)
API_ADAPT(heartbeat, gc, br_groups_handle_heartbeat)
API_ADAPT(leave_group, gc, br_groups_handle_leave_group)
API_ADAPT(offset_commit, gc, br_groups_handle_offset_commit)
API_ADAPT(offset_fetch, gc, br_groups_handle_offset_fetch)
API_ADAPT(list_groups, gc, br_groups_handle_list_groups)
API_ADAPT(describe_groups, gc, br_groups_handle_describe_groups)
API_ADAPT(delete_groups, gc, br_groups_handle_delete_groups)

#undef API_ADAPT

/* --------------------------------------------------------------- table */

#define REG BR_API_REGISTERED
#define CTL (BR_API_REGISTERED | BR_API_CONTROLLER)
#define GRP BR_API_GROUP

/* Supported versions of each body. 1 is the version every body has been
 * sent with since the start; raise max_version here when a body changes
 * incompatibly (and keep serving the old one). Operations and resources
 * are Kafka's for the same request. */
static const br_api_t api_table[BR_API_COUNT] = {
    {10, "ApiVersions", 0, 1, BR_API_NO_BODY, BR_API_OP_NONE, BR_API_RES_NONE, api_versions},
    {11, "Metadata", 0, 1, REG, BR_API_OP_DESCRIBE, BR_API_RES_TOPIC, api_metadata},
    {12, "CreateTopics", 0, 1, REG, BR_API_OP_CREATE, BR_API_RES_TOPIC, api_create_topics},
    {13, "DeleteTopics", 0, 1, REG, BR_API_OP_DELETE, BR_API_RES_TOPIC, api_delete_topics},
    {14, "CreatePartitions", 0, 1, REG, BR_API_OP_ALTER, BR_API_RES_TOPIC, api_create_partitions},
    {15, "DescribeConfigs", 0, 1, REG, BR_API_OP_DESCRIBE_CONFIGS, BR_API_RES_TOPIC, api_describe_configs},
    {16, "AlterConfigs", 0, 1, REG, BR_API_OP_ALTER_CONFIGS, BR_API_RES_TOPIC, api_alter_configs},
    {17, "Produce", 0, 1, 0, BR_API_OP_WRITE, BR_API_RES_TOPIC, NULL},
    {18, "Fetch", 0, 1, 0, BR_API_OP_READ, BR_API_RES_TOPIC, api_fetch},
    {19, "ListOffsets", 0, 1, 0, BR_API_OP_DESCRIBE, BR_API_RES_TOPIC, api_list_offsets},
    {20, "OffsetForLeaderEpoch", 0, 1, 0, BR_API_OP_DESCRIBE, BR_API_RES_TOPIC, api_offset_for_leader_epoch},
    {21, "InitProducerId", 0, 1, 0, BR_API_OP_IDEMPOTENT_WRITE, BR_API_RES_CLUSTER, api_init_producer_id},
    {22, "ControlledShutdown", 0, 1, CTL | BR_API_BROKER_ONLY, BR_API_OP_CLUSTER_ACTION, BR_API_RES_CLUSTER,
     api_controlled_shutdown},
    {23, "ElectLeaders", 0, 1, CTL, BR_API_OP_ALTER, BR_API_RES_CLUSTER, api_elect_leaders},
    {24, "AlterPartitionReassignments", 0, 1, CTL, BR_API_OP_ALTER, BR_API_RES_CLUSTER,
     api_alter_partition_reassignments},
    {25, "ListPartitionReassignments", 0, 1, CTL, BR_API_OP_DESCRIBE, BR_API_RES_CLUSTER,
     api_list_partition_reassignments},
    {30, "FindCoordinator", 0, 1, GRP, BR_API_OP_DESCRIBE, BR_API_RES_GROUP, api_find_coordinator},
    {31, "JoinGroup", 0, 1, GRP, BR_API_OP_READ, BR_API_RES_GROUP, api_join_group},
    {32, "SyncGroup", 0, 1, GRP, BR_API_OP_READ, BR_API_RES_GROUP, api_sync_group},
    {33, "Heartbeat", 0, 1, GRP, BR_API_OP_READ, BR_API_RES_GROUP, api_heartbeat},
    {34, "LeaveGroup", 0, 1, GRP, BR_API_OP_READ, BR_API_RES_GROUP, api_leave_group},
    {35, "OffsetCommit", 0, 1, GRP, BR_API_OP_READ, BR_API_RES_GROUP, api_offset_commit},
    {36, "OffsetFetch", 0, 1, GRP, BR_API_OP_DESCRIBE, BR_API_RES_GROUP, api_offset_fetch},
    {37, "ListGroups", 0, 1, GRP, BR_API_OP_DESCRIBE, BR_API_RES_CLUSTER, api_list_groups},
    {38, "DescribeGroups", 0, 1, GRP, BR_API_OP_DESCRIBE, BR_API_RES_GROUP, api_describe_groups},
    {39, "DeleteGroups", 0, 1, GRP, BR_API_OP_DELETE, BR_API_RES_GROUP, api_delete_groups},
};

#undef REG
#undef CTL
#undef GRP

const br_api_t *br_api_table(size_t *n)
{
    *n = BR_API_COUNT;
    return api_table;
}

const br_api_t *br_api_find(int32_t api)
{
    for (size_t i = 0; i < BR_API_COUNT; i++)
        if (api_table[i].api == api)
            return &api_table[i];
    return NULL;
}

int br_api_index(const br_api_t *a)
{
    if (!a || a < api_table || a >= api_table + BR_API_COUNT)
        return -1;
    return (int)(a - api_table);
}

/* ------------------------------------------------------------ versions */

st_err_t br_api_check_version(int32_t api, const ProtobufCMessage *body, char *msg, size_t msglen)
{
    const br_api_t *a = br_api_find(api);
    if (!a || !body)
        return ST_OK;
    const ProtobufCFieldDescriptor *f =
        protobuf_c_message_descriptor_get_field_by_name(body->descriptor, "version");
    if (!f || f->type != PROTOBUF_C_TYPE_INT32 || f->label == PROTOBUF_C_LABEL_REPEATED)
        return ST_OK; /* every body has one (test_broker checks the schema) */
    int32_t v = *(const int32_t *)((const char *)body + f->offset);
    if (v >= a->min_version && v <= a->max_version)
        return ST_OK;
    snprintf(msg, msglen, "%s version %d is not supported (versions %d..%d)", a->name, (int)v,
             (int)a->min_version, (int)a->max_version);
    return ST_ERR_UNSUPPORTED_VERSION;
}

/* The body of the envelope's oneof, NULL when absent. */
static const ProtobufCMessage *api_body(const Strata__Request *req)
{
    const ProtobufCFieldDescriptor *f =
        protobuf_c_message_descriptor_get_field(req->base.descriptor, (unsigned)req->body_case);
    if (!f || f->type != PROTOBUF_C_TYPE_MESSAGE)
        return NULL;
    return *(ProtobufCMessage *const *)((const char *)req + f->offset);
}

st_err_t br_api_check_request_version(const Strata__Request *req, char *msg, size_t msglen)
{
    return br_api_check_version((int32_t)req->body_case, api_body(req), msg, msglen);
}

/* ------------------------------------------------------------ dispatch */

static void api_count(br_core_t *core, const br_api_t *a, br_call_t *call, bool refused)
{
    int i = br_api_index(a);
    if (i < 0)
        return;
    if (refused)
        core->api_stats[i].refused++;
    else
        core->api_stats[i].requests++;
    br_call_set_tag(call, i); /* its latency is counted in the row's histogram (br_metrics) */
}

/* Answer with an envelope error, counted as refused by dispatch. */
static void api_refuse(br_core_t *core, const br_api_t *a, br_call_t *call, st_err_t err, const char *msg)
{
    api_count(core, a, call, true);
    br_call_reply_error(call, err, msg);
}

/* One log line per this many ms for requests refused for their broker
 * epoch: a forged request can be sent at any rate. */
#define API_EPOCH_LOG_INTERVAL_MS 60000

/* A broker's request (broker_epoch > 0) must carry exactly the epoch (the
 * czxid of /brokers/ids/<replica_id>) the metadata cache knows for that
 * broker: an older one is a zombie's, a newer or unknown one is not a
 * registration this broker has seen (forged, or a broker whose new
 * registration the cache has not read yet: it retries). False and
 * STALE_BROKER_EPOCH in *err with a reason in msg otherwise; the refusal
 * is logged once a minute. */
static bool api_broker_epoch_ok(br_core_t *core, br_call_t *call, const char *what, char *msg, size_t msglen)
{
    int64_t e = br_call_broker_epoch(call);
    if (e <= 0)
        return true;
    int32_t id = br_call_replica_id(call);
    int64_t known = core->md ? br_md_broker_epoch(core->md, id) : -1;
    if (known > 0 && e == known)
        return true;
    if (known <= 0)
        snprintf(msg, msglen, "broker epoch %lld of broker %d: no such registration is known", (long long)e,
                 (int)id);
    else
        snprintf(msg, msglen, "broker epoch %lld of broker %d is %s than its registration's (%lld)",
                 (long long)e, (int)id, e < known ? "older" : "newer", (long long)known);
    int64_t now = st_wall_ms();
    if (core->api_epoch_log_ms == 0 || now - core->api_epoch_log_ms >= API_EPOCH_LOG_INTERVAL_MS) {
        core->api_epoch_log_ms = now;
        ST_WARN("br_api", "%s refused (STALE_BROKER_EPOCH): %s (from %s; logged once a minute)", what, msg,
                br_call_peer(call));
    }
    return false;
}

void br_api_produce(void *arg, br_call_t *call, const Strata__Raw__RawProduceRequest *req)
{
    br_core_t *core = arg;
    const br_api_t *a = br_api_find(STRATA__REQUEST__BODY_PRODUCE);
    char msg[128];
    if (br_core_fenced(core))
        api_refuse(core, a, call, ST_ERR_NOT_LEADER_OR_FOLLOWER, "ZooKeeper session not confirmed");
    else if (!api_broker_epoch_ok(core, call, a->name, msg, sizeof msg))
        api_refuse(core, a, call, ST_ERR_STALE_BROKER_EPOCH, msg);
    else if (br_api_check_version(a->api, &req->base, msg, sizeof msg) != ST_OK)
        api_refuse(core, a, call, ST_ERR_UNSUPPORTED_VERSION, msg);
    else {
        api_count(core, a, call, false);
        br_pm_handle_produce(core->pm, call, req);
    }
}

void br_api_request(void *arg, br_call_t *call, const Strata__Request *req)
{
    br_core_t *core = arg;
    (void)br_core_fenced(core); /* resigns before serving anything, if due */
    const br_api_t *a = br_api_find((int32_t)req->body_case);
    char msg[128];
    if (!api_broker_epoch_ok(core, call, a ? a->name : "request", msg, sizeof msg)) {
        api_refuse(core, a, call, ST_ERR_STALE_BROKER_EPOCH, msg);
        return;
    }
    if (!a) {
        br_call_reply_error(call, ST_ERR_INVALID_REQUEST, "unsupported request");
        return;
    }
    const ProtobufCMessage *body = api_body(req);
    if (br_api_check_version(a->api, body, msg, sizeof msg) != ST_OK) {
        api_refuse(core, a, call, ST_ERR_UNSUPPORTED_VERSION, msg);
    } else if (!a->handle) {
        /* the server decodes a well-formed Produce into its raw view */
        api_refuse(core, a, call, ST_ERR_INVALID_REQUEST, "malformed produce body");
    } else if (!body && !(a->flags & BR_API_NO_BODY)) {
        snprintf(msg, sizeof msg, "empty %s body", a->name);
        api_refuse(core, a, call, ST_ERR_INVALID_REQUEST, msg);
    } else if ((a->flags & BR_API_REGISTERED) && core->member != BR_MEMBER_REGISTERED) {
        api_refuse(core, a, call, ST_ERR_BROKER_NOT_AVAILABLE, "broker is not registered in ZooKeeper yet");
    } else if ((a->flags & BR_API_GROUP) && !core->gc) {
        api_refuse(core, a, call, ST_ERR_COORDINATOR_NOT_AVAILABLE, "no group coordinator");
    } else {
        api_count(core, a, call, false);
        a->handle(core, call, req);
    }
}

/* --------------------------------------------------------- ApiVersions */

static void api_versions(br_core_t *core, br_call_t *call, const Strata__Request *req)
{
    (void)core;
    (void)req;
    Strata__ApiVersion v[BR_API_COUNT];
    Strata__ApiVersion *pv[BR_API_COUNT];
    for (size_t i = 0; i < BR_API_COUNT; i++) {
        strata__api_version__init(&v[i]);
        v[i].api = api_table[i].api;
        v[i].name = (char *)api_table[i].name;
        v[i].min_version = api_table[i].min_version;
        v[i].max_version = api_table[i].max_version;
        pv[i] = &v[i];
    }
    Strata__ApiVersionsResponse av = STRATA__API_VERSIONS_RESPONSE__INIT;
    av.version = 1;
    av.n_apis = BR_API_COUNT;
    av.apis = pv;
    Strata__Response resp = STRATA__RESPONSE__INIT;
    resp.body_case = STRATA__RESPONSE__BODY_API_VERSIONS;
    resp.api_versions = &av;
    br_call_reply(call, &resp);
}
