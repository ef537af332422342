/*
 * br_group_int.h: the internals shared by the pieces of the group
 * coordinator (br_groups.c: the coordinator and its group table;
 * br_group.c: one group, its members and its state machine;
 * br_group_op.c: appends to __consumer_offsets in flight;
 * br_group_member.c: JoinGroup, SyncGroup, Heartbeat, LeaveGroup;
 * br_group_offsets.c: OffsetCommit, OffsetFetch, offsets expiry;
 * br_group_admin.c: ListGroups, DescribeGroups, DeleteGroups). Not for use
 * outside src/group.
 *
 * Groups live in one hash map of br_groups (group id -> br_group), each
 * tagged with its offsets partition; a partition is NONE (not led here),
 * LOADING (led, a deferred load is queued: requests get
 * COORDINATOR_LOAD_IN_PROGRESS) or LOADED. Unloading frees the groups of
 * that partition and bumps its incarnation, so an append that completes
 * later recognises it is stale and answers NOT_COORDINATOR.
 *
 * Invariants:
 *   1. A member has at most one parked JoinGroup and one parked
 *      SyncGroup call; join calls are parked only in PreparingRebalance,
 *      sync calls only in CompletingRebalance.
 *   2. Every parked call is answered exactly once: on completion of its
 *      phase, on removal of its member, on unload, or at br_groups_free.
 *   3. Only groups of LOADED partitions are in the map.
 *   4. An in-flight append (br_group_op) never points at a group: it
 *      names it by id, partition incarnation and generation.
 *
 * Core loop only.
 */
#ifndef BR_GROUP_INT_H
#define BR_GROUP_INT_H

#include <ev.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "group/br_groups.h"
#include "common/st_clock.h"
#include "common/st_hmap.h"
#include "common/st_batch.h"
#include "common/st_err.h"
#include "strata.pb-c.h"

#define BR_GTAG "group"

/* ------------------------------------------------------------ types */

typedef struct br_group br_group_t;

/* One supported protocol (assignor) of a member and its metadata. */
typedef struct br_group_proto {
    char *name;
    uint8_t *data;
    size_t len;
} br_group_proto_t;

typedef struct br_group_member {
    br_group_t *group;
    char *id;
    char *instance_id; /* NULL: dynamic member */
    char *client_id;
    char *client_host;
    int32_t session_timeout_ms;
    int32_t rebalance_timeout_ms;
    br_group_proto_t *protos;
    size_t n_protos;
    uint8_t *assignment;
    size_t assignment_len;
    br_call_t *join_call; /* parked JoinGroup (PreparingRebalance) */
    br_call_t *sync_call; /* parked SyncGroup (CompletingRebalance) */
    ev_timer session;
} br_group_member_t;

/* A member id handed out with MEMBER_ID_REQUIRED, not joined yet. */
typedef struct br_group_pending {
    br_group_t *group;
    char *id;
    ev_timer timer;
} br_group_pending_t;

/* A committed offset of a group. */
typedef struct br_group_offset {
    char *topic;
    int32_t partition;
    int64_t offset;
    int32_t leader_epoch;
    char *metadata;
    int64_t commit_ts;
    int64_t expire_ts;  /* -1: by offsets.retention once the group is empty */
    int64_t log_offset; /* of its record in __consumer_offsets, -1 unknown */
} br_group_offset_t;

struct br_group {
    br_groups_t *gc;
    char *id;
    int32_t opart;
    st_hnode_t hnode; /* in gc->groups */
    br_group_state_t state;
    int64_t state_ts; /* wall ms of the last transition */
    int32_t generation;
    char *protocol_type; /* NULL: never had members (simple commits) */
    char *protocol;
    char *leader;
    br_group_member_t **members;
    size_t n_members;
    br_group_pending_t **pending;
    size_t n_pending;
    br_group_offset_t *offsets;
    size_t n_offsets;
    ev_timer join_timer;
    bool join_timer_on;
    int64_t initial_until; /* initial delay ends (0: none) */
    int64_t initial_limit; /* the delay may not be extended past this */
    int64_t rebalance_deadline;
    int32_t sync_writing_gen; /* generation whose assignment is being written, -1 */
    bool has_meta;            /* a group record exists (load) */
};

/* Whether the groups of an offsets partition are served here. */
typedef enum br_groups_opart_state {
    BR_OPART_NONE = 0, /* not led here */
    BR_OPART_LOADING,
    BR_OPART_LOADED,
} br_groups_opart_state_t;

/* One partition of __consumer_offsets as the coordinator sees it. */
typedef struct br_groups_opart {
    br_groups_t *gc;
    int32_t partition;
    br_groups_opart_state_t state;
    uint32_t incarnation;
    ev_timer load;
    bool load_on;
} br_groups_opart_t;

typedef struct br_group_op br_group_op_t;

struct br_groups {
    struct ev_loop *loop;
    br_pm_t *pm;
    int32_t broker_id;
    br_group_config_t cfg;
    br_group_meta_t meta;
    br_groups_opart_t *parts;
    st_hmap_t groups;   /* group id -> br_group_t */
    br_group_op_t *ops; /* in-flight appends */
    int64_t last_retention_ms;
};

typedef enum br_group_op_kind {
    BR_GROUP_OP_FIRE = 0, /* nobody waits (empty group metadata, expiry) */
    BR_GROUP_OP_COMMIT,   /* OffsetCommit */
    BR_GROUP_OP_SYNC,     /* the leader's assignment */
    BR_GROUP_OP_STATIC,   /* a static member's new member id */
    BR_GROUP_OP_DELETE,   /* DeleteGroups tombstones */
} br_group_op_kind_t;

/* One partition of an OffsetCommit in flight. */
typedef struct br_group_commit_item {
    size_t topic; /* index into topics */
    st_err_t err;
    bool write;          /* valid: part of the batch */
    br_group_offset_t v; /* v.topic points into topics (not owned) */
} br_group_commit_item_t;

/* An OffsetCommit in flight: the request's partitions, grouped by topic
 * in request order, with their results. */
typedef struct br_group_commit {
    char **topics;
    size_t n_topics;
    br_group_commit_item_t *items;
    size_t n_items;
} br_group_commit_t;

/* A DeleteGroups in flight: one result per group id, answered when the
 * last of its appends completes. */
typedef struct br_group_delete {
    br_call_t *call;
    Strata__DeleteGroupResult *res;
    Strata__DeleteGroupResult **res_ptrs;
    char **ids;
    size_t n;
    size_t outstanding;
} br_group_delete_t;

/* One append in flight. Names its group (invariant 4); gc NULL once the
 * coordinator is gone (the completion then only frees it). */
struct br_group_op {
    br_groups_t *gc;
    br_group_op_t *prev, *next;
    br_group_op_kind_t kind;
    char *group_id;
    int32_t opart;
    uint32_t incarnation;
    int32_t generation;
    br_call_t *call;
    br_group_commit_t *commit;
    char **a_ids; /* SYNC: assignment per member */
    uint8_t **a_data;
    size_t *a_len;
    size_t n_a;
    char *old_id, *new_id;  /* STATIC */
    br_group_delete_t *del; /* DELETE */
    size_t del_idx;
};

/* ------------------------------------------------------ br_group.c */

/* strdup treating NULL as "". */
char *br_group_strdup(const char *s);

/* strcmp == 0 treating NULL as "". */
bool br_group_streq(const char *a, const char *b);

/* s, or NULL when s is NULL or empty. */
const char *br_group_nz(const char *s);

/* Reply through call; NULL: nobody to answer. */
void br_group_reply(br_call_t *call, Strata__Response *resp);

/* A JoinGroup error (generation -1) for member_id. */
void br_group_reply_join(br_call_t *call, st_err_t err, const char *member_id);

/* A SyncGroup answer: err, or the assignment with g's protocol. */
void br_group_reply_sync(br_call_t *call, st_err_t err, const br_group_t *g, const uint8_t *assignment,
                         size_t len);

/* A Heartbeat answer. */
void br_group_reply_heartbeat(br_call_t *call, st_err_t err);

/* A member's protocols: free n of them; copy a join's. */
void br_group_proto_free(br_group_proto_t *p, size_t n);
st_err_t br_group_proto_copy(Strata__JoinGroupProtocol *const *src, size_t n, br_group_proto_t **out,
                             size_t *n_out);

/* Are a join's protocols those m already has (names, order, metadata)? */
bool br_group_proto_same(const br_group_member_t *m, Strata__JoinGroupProtocol *const *src, size_t n);

/* m's protocol called name, NULL when it has none. */
const br_group_proto_t *br_group_member_proto(const br_group_member_t *m, const char *name);

/* The member of g with this id / group instance id; NULL if none. */
br_group_member_t *br_group_find_member(const br_group_t *g, const char *id);
br_group_member_t *br_group_find_instance(const br_group_t *g, const char *instance);

/* (Re)start the session timer of m. */
void br_group_member_touch(br_group_member_t *m);

/* A member out of its group: free; new (not added yet), NULL on
 * allocation failure. */
void br_group_member_free(br_group_member_t *m);
br_group_member_t *br_group_member_new(br_group_t *g, const char *id, const char *instance,
                                       const char *client_id, const char *client_host, int32_t session_ms,
                                       int32_t rebalance_ms);

/* Append m to g's members. */
st_err_t br_group_add_member(br_group_t *g, br_group_member_t *m);

/* Take m out of g (answering its parked calls with err) and free it. The
 * caller then updates the group (br_group_members_changed). */
void br_group_drop_member(br_group_t *g, br_group_member_t *m, st_err_t err);

/* Pending member ids: index of id (-1: none); removal by index. */
ssize_t br_group_pending_idx(const br_group_t *g, const char *id);
void br_group_drop_pending(br_group_t *g, size_t i);

/* g's committed offset of (topic, partition), NULL if none; removal. */
br_group_offset_t *br_group_find_offset(br_group_t *g, const char *topic, int32_t partition);
void br_group_offset_remove(br_group_t *g, br_group_offset_t *o);

/* Insert or replace (topic, partition); takes nothing from v. */
st_err_t br_group_offset_put(br_group_t *g, const br_group_offset_t *v);

/* Free a group that is out of the map or about to leave it: every parked
 * call is answered with err. */
void br_group_free(br_group_t *g, st_err_t err);

/* The one place a group changes state (after load). */
void br_group_transition(br_group_t *g, br_group_state_t to);

/* Answer a join with g's current generation (the leader also gets the
 * members and their metadata; skip_assignment for the leader only). */
void br_group_reply_join_current(br_group_t *g, br_group_member_t *m, br_call_t *call, bool skip_assignment);

/* Can a member with this protocol type and these protocols join g? */
bool br_group_supports(const br_group_t *g, const char *ptype, Strata__JoinGroupProtocol *const *protos,
                       size_t n, const br_group_member_t *self);

/* Forget the assignments of a generation that will not be used; answer
 * parked syncs with err. */
void br_group_reset_assignments(br_group_t *g, st_err_t err);

/* Enter PreparingRebalance (no-op when there or Dead), arming the join
 * timer: the initial delay from Empty, else the rebalance timeout. */
void br_group_prepare_rebalance(br_group_t *g, const char *reason);

/* PreparingRebalance: complete the join when everyone is in, or when the
 * rebalance timeout has passed (dropping who did not rejoin). */
void br_group_try_complete_join(br_group_t *g);

/* The callback of g's join timer. */
void br_group_join_timer_cb(struct ev_loop *loop, ev_timer *t, int revents);

/* Membership changed (leave, expiry): rebalance or finish a join. */
void br_group_members_changed(br_group_t *g, const char *reason);

/* The callback of a pending member id's timer: it expires. */
void br_group_pending_cb(struct ev_loop *loop, ev_timer *t, int revents);

/* Forget g's members and metadata (a load's newer group record). */
void br_group_clear_meta(br_group_t *g);

/* ------------------------------------------------------ br_groups.c */

/* The group table: lookup (NULL if not here), a new Empty group of
 * offsets partition opart (NULL on allocation failure), and removal and
 * free of a group with its parked calls answered err. */
br_group_t *br_groups_find(const br_groups_t *gc, const char *id);
br_group_t *br_groups_add_group(br_groups_t *gc, const char *id, int32_t opart);
void br_groups_remove_group(br_groups_t *gc, br_group_t *g, st_err_t err);

/* Is group_id served here right now? Sets *opart. */
st_err_t br_groups_check(const br_groups_t *gc, const char *group_id, int32_t *opart);

/* Drop a group made for a request that then failed, if it holds nothing. */
void br_groups_maybe_forget(br_groups_t *gc, br_group_t *g);

/* ------------------------------------------------------ br_group_op.c */

/* Free an append that was never handed to br_group_op_write. */
void br_group_op_free(br_group_op_t *op);

/* The group op names, if it is still the same incarnation (else NULL). */
br_group_t *br_group_op_group(const br_group_op_t *op);

/* Finish b into a frame and append it to the group's offsets partition;
 * op's completion runs exactly once (maybe before this returns). Takes
 * op. */
void br_group_op_write(br_groups_t *gc, st_batch_builder_t *b, br_group_op_t *op);

/* A new append of kind for g (naming it by id and generation) on behalf
 * of call (NULL: none); NULL on allocation failure. */
br_group_op_t *br_group_op_new(br_group_op_kind_t kind, const br_group_t *g, br_call_t *call);

/* Add g's metadata record to b; assignments from sync when given. */
st_err_t br_group_add_meta(st_batch_builder_t *b, const br_group_t *g, const br_group_op_t *sync);

/* Write g's metadata; nobody waits for it (an empty group's new
 * generation, as Kafka does). */
void br_group_store_fire(br_group_t *g);

/* ------------------------------------------------------ br_group_member.c */

/* Completions of appends (br_group_op_done), err already mapped: a
 * static member's new id, the leader's assignment. */
void br_group_op_static_done(br_group_op_t *op, st_err_t err);
void br_group_op_sync_done(br_group_op_t *op, st_err_t err);

/* Validate a member's request against its group: fencing, membership,
 * generation. */
st_err_t br_group_check_member(const br_group_t *g, const char *member_id, const char *instance,
                               int32_t generation, br_group_member_t **out);

/* ------------------------------------------------------ br_group_offsets.c */

/* An OffsetCommit in flight: free (NULL ok); answer call with its
 * per-partition results (top: the response's error); the completion of
 * its append (base_offset: where its batch was appended). */
void br_group_commit_free(br_group_commit_t *c);
void br_group_commit_reply(br_call_t *call, const br_group_commit_t *c, st_err_t top);
void br_group_op_commit_done(br_group_op_t *op, st_err_t err, int64_t base_offset);

/* Offsets of empty groups past their retention, and empty groups left
 * without offsets: tombstones, then gone (Kafka's cleanupGroupMetadata). */
void br_group_offsets_expire(br_groups_t *gc, int64_t now);

/* ------------------------------------------------------ br_group_admin.c */

/* Answer a DeleteGroups in flight and free it. */
void br_group_delete_reply(br_group_delete_t *d);

/* The group a node of gc->groups belongs to. */
#define BR_GROUP_OF(node) ST_CONTAINER_OF((node), br_group_t, hnode)

#endif
