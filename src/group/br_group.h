/*
 * br_group: the group coordinator (DESIGN.md section 7). The coordinator
 * of group g is the leader of partition br_group_partition_for(g, n) of
 * __consumer_offsets; this module serves the groups of the offsets
 * partitions this broker leads: membership (JoinGroup, SyncGroup,
 * Heartbeat, LeaveGroup) with the Kafka group state machine, committed
 * offsets (OffsetCommit, OffsetFetch), ListGroups, DescribeGroups,
 * DeleteGroups, and FindCoordinator from the control plane's metadata.
 * Group metadata and offsets are records of __consumer_offsets written
 * through the partition manager with acks=all (br_pm_local_append); when
 * this broker becomes leader of an offsets partition it loads that
 * partition's groups (COORDINATOR_LOAD_IN_PROGRESS until done) and when
 * it stops leading one it unloads them (NOT_COORDINATOR). Assignors run
 * in the clients. Session and rebalance timers run on the core loop; the
 * caller's periodic tick expires offsets of empty groups. Owns: br_groups,
 * every group, member and parked call of a group request. Core loop only.
 */
#ifndef BR_GROUP_H
#define BR_GROUP_H

#include <ev.h>
#include <stdbool.h>
#include <stdint.h>

#include "partition/br_pm.h"
#include "broker/br_server.h"
#include "common/st_err.h"
#include "strata.pb-c.h"

typedef struct br_groups br_groups_t;

/* Coordinator settings (Kafka's names and defaults). */
typedef struct br_group_config {
    int32_t offsets_topic_num_partitions;       /* offsets.topic.num.partitions (50) */
    int16_t offsets_topic_replication_factor;   /* offsets.topic.replication.factor (3) */
    int32_t group_initial_rebalance_delay_ms;   /* group.initial.rebalance.delay.ms (3000) */
    int32_t group_min_session_timeout_ms;       /* group.min.session.timeout.ms (6000) */
    int32_t group_max_session_timeout_ms;       /* group.max.session.timeout.ms (1800000) */
    int64_t offsets_retention_ms;               /* offsets.retention.minutes (10080) in ms */
    int64_t offsets_retention_check_interval_ms;/* offsets.retention.check.interval.ms (600000) */
    int32_t offsets_commit_timeout_ms;          /* offsets.commit.timeout.ms (5000) */
    int32_t offset_metadata_max_bytes;          /* offset.metadata.max.bytes (4096) */
} br_group_config_t;

/* Kafka's defaults. */
void br_group_config_default(br_group_config_t *c);

/* What the coordinator needs from the control plane (br_md /
 * br_admin implement it; every function runs on the core loop and must
 * not call back into br_groups). */
typedef struct br_group_meta {
    /* Leader broker id of topic/partition from the metadata cache, -1
     * when none; *topic_exists false when the topic is unknown. */
    int32_t (*partition_leader)(void *arg, const char *topic, int32_t partition,
                                bool *topic_exists);
    /* First advertised URL of a live broker ("tcp://host:port"), NULL
     * when unknown. The string must stay valid until the next call. */
    const char *(*broker_url)(void *arg, int32_t broker_id);
    /* Create __consumer_offsets if it does not exist, asynchronously:
     * n_partitions partitions, replication factor min(rf, live brokers),
     * cleanup.policy=compact (as an internal topic). Called whenever a
     * FindCoordinator finds it missing; must be idempotent. */
    void (*ensure_offsets_topic)(void *arg, int32_t n_partitions, int16_t rf);
    void *arg;
} br_group_meta_t;

/* Start a coordinator on pm (it registers a role listener on pm and
 * loads offsets partitions led here from then on; partitions already led
 * when it starts are picked up through br_groups_partition_led). meta is
 * copied. NULL on allocation failure or invalid config. */
br_groups_t *br_groups_new(struct ev_loop *loop, br_pm_t *pm, int32_t broker_id,
                   const br_group_config_t *cfg, const br_group_meta_t *meta);
/* Answer every parked call NOT_COORDINATOR, stop timers, unregister,
 * free. Call before br_pm_free and before br_server_close (parked
 * br_calls belong to the server). */
void br_groups_free(br_groups_t *gc);

/* Handle one request whose body is FindCoordinator .. DeleteGroups
 * (bodies 30-39); anything else is answered INVALID_REQUEST. Answers now
 * or later through call. */
void br_groups_handle(br_groups_t *gc, br_call_t *call, const Strata__Request *req);

/* Periodic work (offsets retention of empty groups every
 * offsets.retention.check.interval.ms); call about once a second with
 * wall-clock ms. */
void br_groups_tick(br_groups_t *gc, int64_t now_ms);

/* Re-check leadership of every offsets partition against pm and load or
 * unload as needed (after br_groups_new on a manager already leading some,
 * or as a safety net). */
void br_groups_partition_led(br_groups_t *gc);

/* The offsets partition of group_id among n: Kafka's
 * Utils.abs(groupId.hashCode()) % n, where hashCode is Java's
 * String.hashCode over UTF-16 code units (malformed UTF-8 counts as
 * U+FFFD) and Utils.abs maps INT32_MIN to 0. */
int32_t br_group_partition_for(const char *group_id, int32_t n);

/* ---- introspection (tests, logs) ------------------------------------ */

typedef enum br_gstate {
    BR_GS_EMPTY = 0,           /* no members; offsets may remain */
    BR_GS_PREPARING_REBALANCE, /* waiting for members to (re)join */
    BR_GS_COMPLETING_REBALANCE,/* joined; waiting for the leader's assignment */
    BR_GS_STABLE,              /* assignment handed out; heartbeats flowing */
    BR_GS_DEAD,                /* being deleted or unloaded; no longer served */
} br_gstate_t;

/* "Empty", "PreparingRebalance", ... (Kafka's names). */
const char *br_gstate_name(br_gstate_t s);
/* State and generation of a loaded group; false when unknown here. */
bool br_groups_group_info(const br_groups_t *gc, const char *group_id, br_gstate_t *state,
                      int32_t *generation, int *n_members);

#endif
