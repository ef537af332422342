/*
 * br_groups: the group coordinator (docs/design/DESIGN.md section 7). The coordinator
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
 *
 * One handler per request body (br_groups_handle_find_coordinator ..
 * br_groups_handle_delete_groups) with one signature, so that a dispatch
 * table can call them (the broker's request table, br_api). The
 * implementation: br_groups.c (coordinator, group table, offsets
 * partitions, FindCoordinator), br_group.c (one group and its state
 * machine), br_group_op.c (appends in flight), br_group_member.c,
 * br_group_offsets.c and br_group_admin.c (the other handlers), sharing
 * br_group_int.h; br_group_log (the records of __consumer_offsets).
 */
#ifndef BR_GROUPS_H
#define BR_GROUPS_H

#include <ev.h>
#include <stdbool.h>
#include <stdint.h>

#include "group/br_group.h"
#include "partition/br_pm.h"
#include "broker/br_call.h"
#include "common/st_err.h"
#include "strata.pb-c.h"

typedef struct br_groups br_groups_t;

/* What the coordinator needs from the control plane (br_md /
 * br_admin implement it; every function runs on the core loop and must
 * not call back into br_groups). */
typedef struct br_group_meta {
    /* Leader broker id of topic/partition from the metadata cache, -1
     * when none; *topic_exists false when the topic is unknown. */
    int32_t (*partition_leader)(void *arg, const char *topic, int32_t partition, bool *topic_exists);
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
br_groups_t *br_groups_new(struct ev_loop *loop, br_pm_t *pm, int32_t broker_id, const br_group_config_t *cfg,
                           const br_group_meta_t *meta);
/* Answer every parked call NOT_COORDINATOR, stop timers, unregister,
 * free. Call before br_pm_free and before br_server_close (parked
 * br_calls belong to the server). */
void br_groups_free(br_groups_t *gc);

/* ---- request handlers ------------------------------------------------
 * Each reads its own body from req (the caller guarantees that body is
 * non-NULL) and answers through call exactly once, now or later (a
 * parked call is answered NOT_COORDINATOR at the latest by
 * br_groups_free). Errors go into the response body as Kafka's
 * coordinator sets them: NOT_COORDINATOR when the group's offsets
 * partition is not led here, COORDINATOR_LOAD_IN_PROGRESS while it
 * loads, INVALID_GROUP_ID for an empty group id. */

/* req->find_coordinator: the leader of the key's offsets partition, from
 * the control plane's metadata (br_group_meta_t), with its URL, host and
 * port; COORDINATOR_NOT_AVAILABLE (and ensure_offsets_topic called) while
 * __consumer_offsets does not exist, or when the leader is unknown. Only
 * group keys; transaction coordinators are not supported. Answers now. */
void br_groups_handle_find_coordinator(br_groups_t *gc, br_call_t *call, const Strata__Request *req);
/* req->join_group (req->client_id names the client): join or rejoin;
 * an unknown dynamic member first gets MEMBER_ID_REQUIRED and a new
 * member id, a static member (group_instance_id) is admitted or replaces
 * its old member id at once. The call is parked until the join phase
 * completes (every member rejoined or the rebalance timeout passed), or
 * answered now with the current generation when nothing changes. */
void br_groups_handle_join_group(br_groups_t *gc, br_call_t *call, const Strata__Request *req);
/* req->sync_group: a member's assignment of the current generation. In
 * CompletingRebalance the call is parked until the leader's assignment
 * is stored (acks=all); in Stable it is answered now. */
void br_groups_handle_sync_group(br_groups_t *gc, br_call_t *call, const Strata__Request *req);
/* req->heartbeat: restart the member's session timer;
 * REBALANCE_IN_PROGRESS tells it to rejoin. Answers now. */
void br_groups_handle_heartbeat(br_groups_t *gc, br_call_t *call, const Strata__Request *req);
/* req->leave_group: remove the listed members (by member id or group
 * instance id; one result each) and rebalance the rest. Answers now. */
void br_groups_handle_leave_group(br_groups_t *gc, br_call_t *call, const Strata__Request *req);
/* req->offset_commit: store the listed offsets (a member's commit is
 * checked against its generation and counts as a heartbeat; a simple
 * commit without member id is accepted only by a group without members).
 * Answered when the append is acknowledged, with one error per
 * partition; at once when nothing is to be written. */
void br_groups_handle_offset_commit(br_groups_t *gc, br_call_t *call, const Strata__Request *req);
/* req->offset_fetch: the committed offsets of the listed partitions
 * (offset -1 when none), or of every committed partition when no topic is
 * listed. Answers now. */
void br_groups_handle_offset_fetch(br_groups_t *gc, br_call_t *call, const Strata__Request *req);
/* req->list_groups: the groups served here, optionally filtered by state
 * name (case-insensitive); COORDINATOR_LOAD_IN_PROGRESS while any offsets
 * partition loads. Answers now. */
void br_groups_handle_list_groups(br_groups_t *gc, br_call_t *call, const Strata__Request *req);
/* req->describe_groups: state, protocol and members of each listed group
 * (one entry per group id, in order; metadata and assignments only when
 * Stable). Answers now. */
void br_groups_handle_describe_groups(br_groups_t *gc, br_call_t *call, const Strata__Request *req);
/* req->delete_groups: delete each listed empty group (tombstones for its
 * metadata and offsets; NON_EMPTY_GROUP, GROUP_ID_NOT_FOUND otherwise).
 * Answered when every tombstone append completed, one result per group. */
void br_groups_handle_delete_groups(br_groups_t *gc, br_call_t *call, const Strata__Request *req);

/* Periodic work (offsets retention of empty groups every
 * offsets.retention.check.interval.ms); call about once a second with
 * wall-clock ms. */
void br_groups_tick(br_groups_t *gc, int64_t now_ms);

/* Re-check leadership of every offsets partition against pm and load or
 * unload as needed (after br_groups_new on a manager already leading some,
 * or as a safety net). */
void br_groups_partition_led(br_groups_t *gc);

/* ---- introspection (tests, logs) ------------------------------------ */

/* State and generation of a loaded group; false when unknown here. */
bool br_groups_group_info(const br_groups_t *gc, const char *group_id, br_group_state_t *state,
                          int32_t *generation, int *n_members);

/* Every committed offset of every group served here (loaded offsets
 * partitions only), for metrics: fn gets the group id, the partition and
 * the committed offset. fn must not call into br_groups. */
typedef void (*br_groups_offset_fn)(void *arg, const char *group_id, const char *topic, int32_t partition,
                                    int64_t offset);
void br_groups_foreach_offset(const br_groups_t *gc, br_groups_offset_fn fn, void *arg);

#endif
