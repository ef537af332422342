/*
 * sc_group_int: private to the pieces of sc_group (sc_group.c membership,
 * sc_group_commit.c offsets, sc_group_app.c application-thread side) and
 * to sc_admin_group.c, which sends group requests through the same
 * coordinator calls: struct sc_group and the functions the pieces share.
 * Not installed; nothing outside src/client includes it.
 */
#ifndef SC_GROUP_INT_H
#define SC_GROUP_INT_H

#include <regex.h>
#include <stdbool.h>
#include <stdint.h>

#include "client/sc_assign.h"
#include "client/sc_client.h"
#include "client/sc_group.h"

#define SC_G_MAX_ASSIGNORS 4

/* One subscribed topic with its partition count at the last assignment
 * (leader: a change means a rebalance). */
typedef struct sc_gsnap {
    char *name;
    int32_t parts; /* -1: not in metadata */
} sc_gsnap_t;

/* An owned list of topic-partitions. */
typedef struct sc_gtps {
    sc_assign_tp_t *tps;
    size_t n;
} sc_gtps_t;

struct sc_group {
    strata_consumer_t *c;
    sc_client_t *cl;
    char *group_id;
    char *instance_id; /* "" = dynamic member */
    const sc_assignor_t *assignors[SC_G_MAX_ASSIGNORS];
    size_t n_assignors;
    int64_t session_ms, hb_ms, rebalance_ms, autocommit_ms;
    bool autocommit;

    /* subscription */
    bool subscribed;
    char **lits;
    size_t n_lits;
    regex_t *res;
    size_t n_res;
    char **sub; /* effective topic list (sorted): what JoinGroup says */
    size_t n_sub;

    /* membership */
    sc_gstate_t state;
    int32_t coord_id; /* -1 unknown */
    bool coord_inflight;
    int64_t coord_retry_at;
    char *member_id;    /* "" before the first join */
    int32_t generation; /* -1: not a member of a generation */
    char *protocol;
    bool leader;
    bool cooperative;
    bool req_inflight; /* JoinGroup or SyncGroup */
    bool hb_inflight;
    uint32_t epoch;
    int64_t retry_at;
    int64_t next_hb;
    int64_t last_poll;
    bool rejoin_wanted; /* rejoin once the assignment is applied */
    bool lost_pending;  /* poll() must report the owned partitions lost */
    sc_gtps_t owned;    /* the applied assignment */
    int32_t owned_gen;
    sc_gtps_t pending; /* from SyncGroup, for poll() to apply */
    sc_gsnap_t *snap;
    size_t n_snap;

    /* app */
    strata_rebalance_cb cb;
    void *opaque;
    bool need_committed;
    int64_t committed_retry_at;
    int64_t next_autocommit;
};

/* ------------------------------------------------- shared by the pieces */

/* One offset to commit (strings owned by whoever built the vector). */
typedef struct sc_gco {
    char *topic;
    int32_t partition;
    int64_t offset;
    char *metadata;
} sc_gco_t;

/* The storage of one OffsetCommit request (sc_group_commit_build). */
typedef struct sc_gcstore {
    Strata__OffsetCommitRequest oc;
    Strata__OffsetCommitTopic *ts;
    Strata__OffsetCommitTopic **tp;
    Strata__OffsetCommitPartition *ps;
    Strata__OffsetCommitPartition **pp;
} sc_gcstore_t;

/* sc_group.c */
/* True for the errors that mean "find the coordinator again". */
bool sc_group_coord_err(st_err_t e);
/* Lock held: pack a request (sc_client_pack takes the lock itself). */
st_err_t sc_group_pack(sc_client_t *cl, Strata__Request *req, nng_msg **out);
/* Unpack a reply of body `body`; returns the envelope or transport error. */
st_err_t sc_group_unpack(st_err_t err, nng_msg *reply, Strata__Response__BodyCase body,
                         Strata__Response **out);
/* Whether topic/part is one of v[0..n). */
bool sc_group_tp_in(const sc_assign_tp_t *v, size_t n, const char *topic, int32_t part);
/* Free the list and empty it. */
void sc_group_tps_clear(sc_gtps_t *l);
/* Replace the list by a deep copy of tps[0..n). */
st_err_t sc_group_tps_set(sc_gtps_t *l, const sc_assign_tp_t *tps, size_t n);
/* Free n strings and the vector. */
void sc_group_strv_free(char **v, size_t n);
/* Lock held: the one writer of g->state. */
void sc_group_set_state(sc_group_t *g, sc_gstate_t to);
/* Lock held: recompute the effective topic list from metadata (patterns)
 * and the literal names. True when it changed. */
bool sc_group_resub(sc_group_t *g);
/* Lock held: ask for a rebalance now, or once the current one is done. */
void sc_group_want_rejoin(sc_group_t *g);
/* App thread: commit, revoke, leave; leaves the state `to`. */
void sc_group_leave(sc_group_t *g, sc_gstate_t to);
/* Forget the subscription (literal names, patterns, effective list). */
void sc_group_sub_clear(sc_group_t *g);

/* sc_group_commit.c */
/* App thread: the coordinator of `group` (FindCoordinator, metadata
 * refresh when the broker is not known yet). */
st_err_t sc_group_find_coord_sync(sc_client_t *cl, const char *group, int64_t deadline, sc_broker_t **out);
/* App thread: send req to the coordinator of group, again after a
 * coordinator change, until deadline. *out has the body (caller frees). */
st_err_t sc_group_coord_call(sc_client_t *cl, const char *group, Strata__Request *req,
                             Strata__Response__BodyCase body, int64_t deadline, Strata__Response **out);
/* Free what sc_group_commit_build() allocated in s. */
void sc_group_cstore_fini(sc_gcstore_t *s);
/* Build an OffsetCommit of v[0..n) for group in *req (storage in *s,
 * free with sc_group_cstore_fini()); generation -1 and member "" for a
 * commit from outside the group. */
st_err_t sc_group_commit_build(const char *group, int32_t gen, const char *member, const char *instance,
                               const sc_gco_t *v, size_t n, sc_gcstore_t *s, Strata__Request *req);
/* App thread: synchronous commit of positions (only: subset or NULL). */
st_err_t sc_group_commit_sync(sc_group_t *g, const sc_assign_tp_t *only, size_t n_only);
/* App thread: look up committed offsets of partitions in NEED_COMMITTED. */
void sc_group_fetch_committed(sc_group_t *g, int64_t deadline);

/* sc_group_app.c */
/* App thread: give up the whole assignment (revoked or lost). */
void sc_group_drop_all(sc_group_t *g, strata_rebalance_event_t ev);

#endif
