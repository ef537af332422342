/*
 * sc_group: consumer-group membership of a strata_consumer (Kafka's
 * consumer coordinator, client side). Owns: the subscription (topic names
 * and '^' regular expressions, matched against metadata), the coordinator
 * look-up (FindCoordinator, again on NOT_COORDINATOR /
 * COORDINATOR_NOT_AVAILABLE, back-off on COORDINATOR_LOAD_IN_PROGRESS),
 * the JoinGroup / SyncGroup / Heartbeat / LeaveGroup exchange with the
 * assignors of sc_assign run by the leader, offset commits (manual, auto)
 * and committed-offset look-ups, plus the pure planning helpers the
 * group admin calls of sc_admin_group.c and the CLI use (lag,
 * reset-offsets). Implemented in sc_group.c (membership), sc_group_commit.c
 * (offsets) and sc_group_app.c (application thread), which share
 * sc_group_int.h.
 *
 * Membership state machine (g->state; sc_group_set_state() is the only
 * writer and asserts the edges below):
 *
 *   IDLE --subscribe--> NEED_JOIN
 *   NEED_JOIN --eager assignor and partitions owned--> REVOKE
 *   REVOKE --poll(): commit, revoked callback--> NEED_JOIN
 *   NEED_JOIN --JoinGroup sent--> JOINING
 *   JOINING --answer (leader: assignor ran), SyncGroup sent--> SYNCING
 *   SYNCING --assignment--> ASSIGN
 *   ASSIGN --poll(): revoked/assigned callbacks, new assignment--> STABLE
 *   JOINING, SYNCING, ASSIGN, STABLE --rebalance / errors--> NEED_JOIN
 *   any --unsubscribe--> IDLE;  any --close--> CLOSED
 *
 * The I/O thread (sc_group_tick, the request callbacks) drives the
 * network part with cl.lock held; everything that calls user code
 * (rebalance callbacks) or waits for an answer (sync commits, OffsetFetch
 * of a new assignment) runs on the application thread in sc_group_poll(),
 * commit or close. Heartbeats go every min(heartbeat.interval.ms,
 * session.timeout.ms / 3) in JoinGroup's ASSIGN, REVOKE and STABLE states.
 */
#ifndef SC_GROUP_H
#define SC_GROUP_H

#include <stdbool.h>
#include <stdint.h>

#include "client/sc_consumer.h"
#include "common/st_err.h"

typedef enum sc_gstate {
    SC_G_IDLE,      /* no subscription */
    SC_G_NEED_JOIN, /* (re)join as soon as the coordinator is known */
    SC_G_REVOKE,    /* eager: poll() must revoke everything before joining */
    SC_G_JOINING,   /* JoinGroup in flight */
    SC_G_SYNCING,   /* SyncGroup in flight */
    SC_G_ASSIGN,    /* assignment received; poll() applies it */
    SC_G_STABLE,    /* assignment applied; heartbeating */
    SC_G_CLOSED,    /* closing: the I/O thread does nothing more */
} sc_gstate_t;

/* Name of a state ("STABLE"). */
const char *sc_group_state_name(sc_gstate_t s);
/* True when from -> to is an edge of the diagram above. */
bool sc_group_edge_ok(sc_gstate_t from, sc_gstate_t to);

/* Create the group part of consumer c from conf (group.id non-empty).
 * ST_ERR_INVALID_CONFIG with a message for an unknown assignor. */
st_err_t sc_group_new(strata_consumer_t *c, const strata_conf_t *conf, sc_group_t **out, char *err,
                      size_t errlen);
/* Free (NULL-safe). The I/O thread must be stopped. */
void sc_group_free(sc_group_t *g);

/* I/O thread, lock held. */
void sc_group_tick(sc_group_t *g, int64_t now, int64_t *next);
void sc_group_on_metadata(sc_group_t *g);
/* Lock held: poll() has group work (callbacks, an assignment to apply). */
bool sc_group_needs_poll(sc_group_t *g);
/* Lock held or not (reads a flag the app thread owns). */
bool sc_group_subscribed(sc_group_t *g);

/* App thread, lock NOT held: do pending group work (lost / revoke /
 * assign, committed offsets of a new assignment, auto commit). */
void sc_group_poll(sc_group_t *g, int64_t deadline);
/* App thread: commit, revoke, LeaveGroup (dynamic members). */
void sc_group_close(sc_group_t *g);

/* ------------------------------------------------- pure helpers (tests) */

/* Position of a partition for committing: pos when known, else start
 * when the partition is ACTIVE, else -1. */
int64_t sc_group_part_position(const sc_cpart_t *cp);

/* Indexes of the partitions whose position is known and differs from the
 * committed offset; *idx is malloc'd (free), *n may be 0. */
st_err_t sc_group_commit_plan(const sc_cpart_t *parts, size_t n, size_t **idx, size_t *n_idx);

/* Lag of a partition: end - committed when both are known (>= 0), else
 * -1 (Kafka's tool prints "-"). Never negative. */
int64_t sc_group_lag(int64_t end, int64_t committed);

/* reset-offsets: the kinds of target. */
typedef enum sc_reset_kind {
    SC_RESET_EARLIEST,
    SC_RESET_LATEST,
    SC_RESET_OFFSET,   /* arg = the offset */
    SC_RESET_DATETIME, /* arg = ms since the epoch; resolved by the caller */
    SC_RESET_SHIFT,    /* arg = delta added to the current committed offset */
} sc_reset_kind_t;

/* The new offset of one partition: low/high are the log start and end
 * offsets, current the committed offset (-1 none; SHIFT from none starts
 * at low for a negative shift... see the .c), by_time the offset ListOffsets
 * gave for a DATETIME target (-1: no record that late = high). The result
 * is clamped into [low, high] as Kafka's tool does. */
int64_t sc_group_reset_target(sc_reset_kind_t kind, int64_t arg, int64_t low, int64_t high, int64_t current,
                              int64_t by_time);

/* Whether topic name matches a subscription of n literal names and m
 * compiled patterns (regex_t *; void * keeps regex.h out of here).
 * Internal topics ("__" prefix) match patterns never. */
bool sc_group_topic_matches(const char *name, char *const *lits, size_t n, const void *res, size_t m);

/* out = the elements of a that are not in b (topic strings borrowed from
 * a); out->tps malloc'd (free), may be empty. */
st_err_t sc_group_tp_minus(const sc_assign_tp_t *a, size_t na, const sc_assign_tp_t *b, size_t nb,
                           sc_assign_tp_t **out, size_t *n_out);

#endif
