/*
 * sc_assign: the client-side partition assignors of consumer groups
 * (Kafka's ConsumerPartitionAssignor). The group leader collects every
 * member's ConsumerSubscription (proto/strata.proto) from JoinGroup, runs
 * one assignor and sends each member its ConsumerAssignment in SyncGroup.
 * Owns: the four assignors ("range", "roundrobin", "sticky",
 * "cooperative-sticky") as pure functions over plain C structs, a lookup by
 * name, a validator of results (used by tests and as a debug check), and
 * the encode/decode helpers between those structs and the protobuf bytes.
 * No I/O, no globals: any thread may call anything here.
 *
 * Determinism: members are ordered by member_id and topics by name
 * (strcmp) whatever the input order, so the same input always yields the
 * same output; each member's partitions are sorted by (topic, partition).
 */
#ifndef SC_ASSIGN_H
#define SC_ASSIGN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/st_err.h"

/* One topic-partition. topic is borrowed (see the owner of the array). */
typedef struct sc_assign_tp {
    const char *topic;
    int32_t partition;
} sc_assign_tp_t;

/* A topic known from metadata with its partition count (partitions >= 0). */
typedef struct sc_assign_topic {
    const char *name;
    int32_t partitions;
} sc_assign_topic_t;

/* One group member as the leader sees it: its subscription and, for the
 * sticky assignors, the partitions it owns now (owned_partitions of its
 * ConsumerSubscription) with the generation they were assigned in. All
 * pointers are borrowed from the caller, except for a member filled by
 * sc_assign_subscription_decode() (then priv holds the storage and
 * sc_assign_member_fini() frees it). */
typedef struct sc_assign_member {
    const char *member_id;
    const char **topics; /* subscribed topic names */
    size_t n_topics;
    const sc_assign_tp_t *owned; /* owned partitions (may be NULL) */
    size_t n_owned;
    int32_t generation; /* generation of `owned`; -1 when unknown */
    void *priv;         /* decode storage; NULL for caller-built members */
} sc_assign_member_t;

/* A list of topic-partitions; owns its storage (free with
 * sc_assign_tplist_fini). */
typedef struct sc_assign_tplist {
    sc_assign_tp_t *tps;
    size_t n;
    void *priv;
} sc_assign_tplist_t;

/* One member's assignment. */
typedef struct sc_assign_assignment {
    char *member_id;     /* owned copy */
    sc_assign_tp_t *tps; /* sorted by (topic, partition); topic strings point
                          * into the result's own name table */
    size_t n_tps;
} sc_assign_assignment_t;

/* The output of an assignor: members[i] belongs to the input's members[i]
 * (same order as given). Self-contained: it copies every string it needs,
 * so it outlives the input. Free with sc_assign_result_free(). */
typedef struct sc_assign_result {
    sc_assign_assignment_t *members;
    size_t n;
    size_t n_revoked; /* cooperative-sticky: partitions given to nobody this
                       * generation because they change owner */
    char **names;     /* the result's copies of topic names */
    size_t n_names;
} sc_assign_result_t;

/* Every assignor has this signature. On ST_OK *out is filled (free it with
 * sc_assign_result_free); on error *out is left empty (safe to free).
 * Subscribed topics missing from `topics` are ignored (no metadata yet), so
 * are owned partitions of unknown topics or out of range. Errors:
 * ST_ERR_INVALID_ARG for a NULL/duplicate member id, a NULL/duplicate topic
 * name or a negative partition count; ST_ERR_NOMEM. */
typedef st_err_t (*sc_assign_fn)(const sc_assign_member_t *members, size_t n, const sc_assign_topic_t *topics,
                                 size_t nt, sc_assign_result_t *out);

/* RangeAssignor: per topic, its subscribers sorted by member id get
 * contiguous ranges; the first (partitions % subscribers) get one more. */
st_err_t sc_assign_range(const sc_assign_member_t *members, size_t n, const sc_assign_topic_t *topics,
                         size_t nt, sc_assign_result_t *out);

/* RoundRobinAssignor: all topic-partitions sorted, dealt in turn to the
 * members (sorted by id), skipping members not subscribed to the topic. */
st_err_t sc_assign_roundrobin(const sc_assign_member_t *members, size_t n, const sc_assign_topic_t *topics,
                              size_t nt, sc_assign_result_t *out);

/* StickyAssignor (eager): keeps every valid owned partition (still
 * subscribed; when two members claim one, the higher generation wins and a
 * tie keeps it for nobody), gives unowned partitions to the least-loaded
 * eligible member, then moves partitions one at a time from the most
 * loaded member to the least-loaded eligible one until balanced: no member
 * has 2 or more partitions more than another member that could take one of
 * them. Partitions it did not own before move first, then the highest
 * (topic, partition) ones. */
st_err_t sc_assign_sticky(const sc_assign_member_t *members, size_t n, const sc_assign_topic_t *topics,
                          size_t nt, sc_assign_result_t *out);

/* CooperativeStickyAssignor: the sticky target, except that a partition
 * some other member still claims in owned_partitions is withheld (given to
 * nobody, counted in n_revoked). The old owner sees it missing from its
 * assignment, revokes it and rejoins; the next rebalance, where nobody
 * claims it, gives it to its new owner. */
st_err_t sc_assign_cooperative_sticky(const sc_assign_member_t *members, size_t n,
                                      const sc_assign_topic_t *topics, size_t nt, sc_assign_result_t *out);

/* An assignor as listed in JoinGroup protocols. cooperative: the consumer
 * must use the incremental protocol (revoke only what it lost, then rejoin
 * when it lost anything). */
typedef struct sc_assignor {
    const char *name;
    sc_assign_fn assign;
    bool cooperative;
} sc_assignor_t;

/* The assignor called `name` ("range", "roundrobin", "sticky",
 * "cooperative-sticky"), or NULL when unknown. Static storage. */
const sc_assignor_t *sc_assign_lookup(const char *name);

/* Free a result's storage and leave it empty. NULL-safe; idempotent. */
void sc_assign_result_free(sc_assign_result_t *r);

/* Checks for sc_assign_validate(). */
#define SC_ASSIGN_V_COMPLETE                                                                                 \
    0x1u /* every partition of a topic some member
                                   * subscribes to is assigned */
#define SC_ASSIGN_V_BALANCED                                                                                 \
    0x2u /* no member owns a partition another
                                   * eligible member with 2+ fewer could take */

/* Validate r against the input: one entry per member with the right id;
 * each member's list sorted without duplicates; only known partitions of
 * topics the member subscribes to; no partition assigned twice; plus the
 * checks in `flags`. ST_OK, or ST_ERR_STATE with a reason in why (when
 * why_len > 0). Errors in the input itself give ST_ERR_INVALID_ARG. */
st_err_t sc_assign_validate(const sc_assign_member_t *members, size_t n, const sc_assign_topic_t *topics,
                            size_t nt, const sc_assign_result_t *r, unsigned flags, char *why,
                            size_t why_len);

/* ConsumerSubscription bytes from m's topics, owned partitions (grouped by
 * adjacent equal topics) and generation. *buf is malloc'd (caller frees).
 * ST_ERR_INVALID_ARG for NULL strings, ST_ERR_NOMEM. */
st_err_t sc_assign_subscription_encode(const sc_assign_member_t *m, uint8_t **buf, size_t *len);

/* Parse ConsumerSubscription bytes of member `member_id` (copied) into *m,
 * which then owns its storage: free with sc_assign_member_fini().
 * ST_ERR_CORRUPT on undecodable bytes, ST_ERR_NOMEM. */
st_err_t sc_assign_subscription_decode(const char *member_id, const uint8_t *buf, size_t len,
                                       sc_assign_member_t *m);

/* Free a decoded member and zero it. NULL-safe; does nothing to the
 * strings of a caller-built member (priv == NULL) except zeroing it. */
void sc_assign_member_fini(sc_assign_member_t *m);

/* ConsumerAssignment bytes for one member's partitions (adjacent equal
 * topics grouped). *buf is malloc'd. ST_ERR_INVALID_ARG, ST_ERR_NOMEM. */
st_err_t sc_assign_assignment_encode(const sc_assign_tp_t *tps, size_t n, uint8_t **buf, size_t *len);

/* Parse ConsumerAssignment bytes into *out (owned; sc_assign_tplist_fini).
 * ST_ERR_CORRUPT on undecodable bytes, ST_ERR_NOMEM. */
st_err_t sc_assign_assignment_decode(const uint8_t *buf, size_t len, sc_assign_tplist_t *out);

/* Free a decoded list and zero it. NULL-safe. */
void sc_assign_tplist_fini(sc_assign_tplist_t *l);

#endif
