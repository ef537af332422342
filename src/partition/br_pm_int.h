/*
 * br_pm_int: the internal hub of the partition manager, shared by
 * br_pm.c (partitions, roles, high watermark, pending calls,
 * ListOffsets, periodic work), br_pm_produce.c (Produce) and br_pm_fetch.c
 * (Fetch). Not for use outside those three files: everything else talks
 * to br_pm.h. Owns nothing by itself; it describes br_pm, br_part
 * and the pending-call machinery. Core loop only.
 *
 * Pending calls. A request that cannot be answered at once (a long-poll
 * fetch, an acks=all produce) becomes a br_pending: the br_call, an
 * ev_timer for its deadline and one br_waiter per partition it waits on.
 * Each partition keeps the list of waiters on it. When the partition's
 * log end (LEO) or high watermark (HW) advances, or the partition stops
 * being led here, the partition calls its waiters' ops; a pending call
 * answers its br_call exactly once and then frees itself through
 * br_pending_finish().
 *
 * Invariants:
 *   1. A leader's HW only grows and stays within [log start, LEO].
 *   2. Every waiter is on exactly one partition's list and belongs to one
 *      live pending call; br_pending_finish() unlinks all of them.
 *   3. A pending call is on pm->pending until it is finished.
 */
#ifndef BR_PM_INT_H
#define BR_PM_INT_H

#include <ev.h>
#include <stdbool.h>
#include <stdint.h>

#include "partition/br_pm.h"
#include "storage/sl_pstate.h"
#include "common/st_clock.h"
#include "common/st_hmap.h"
#include "common/st_batch.h"

/* Kinds of error worth a log line, rate-limited per partition. */
typedef enum br_logk {
    BR_LOGK_UNKNOWN = 0,
    BR_LOGK_NOT_LEADER,
    BR_LOGK_TOO_LARGE,
    BR_LOGK_CORRUPT,
    BR_LOGK_TIMESTAMP,
    BR_LOGK_STORAGE,
    BR_LOGK_RANGE,
    BR_LOGK_EPOCH,
    BR_LOGK_INVALID,
    BR_LOGK_SEQUENCE, /* an idempotent producer's batch refused */
    BR_LOGK_ISR,      /* acks=all refused: ISR under min.insync.replicas */
    BR_LOGK__COUNT
} br_logk_t;

#define BR_LOG_INTERVAL_MS 60000

/* What a partition tells its waiters. */
typedef enum br_wake {
    BR_WAKE_LEO = 1, /* log end advanced (replica fetches) */
    BR_WAKE_HW = 2,  /* high watermark advanced (client fetches, acks=all) */
} br_wake_t;

typedef struct br_pending br_pending_t;
typedef struct br_waiter br_waiter_t;
typedef struct br_part br_part_t;

/* One pending call waiting on one partition. */
struct br_waiter {
    br_pending_t *pending;
    br_part_t *part;          /* NULL once detached */
    br_waiter_t *prev, *next; /* in part->waiters */
    size_t slot;              /* the caller's index (fetch item, produce result) */
};

typedef struct br_pending_ops {
    /* The partition of w advanced (what: BR_WAKE_*). May finish p. */
    void (*wake)(br_pending_t *p, br_waiter_t *w, br_wake_t what);
    /* w's partition stops being served here (stopped, no longer leader,
     * offline); err says why. w is already detached. May finish p. */
    void (*detach)(br_pending_t *p, br_waiter_t *w, st_err_t err);
    /* Deadline passed, or the manager is shutting down: answer now and
     * finish p. */
    void (*expire)(br_pending_t *p);
} br_pending_ops_t;

/* A call kept for later. Embedded first in the fetch/produce structs. */
struct br_pending {
    const br_pending_ops_t *ops;
    br_pm_t *pm;
    br_call_t *call;
    ev_timer timer;
    bool timer_on;
    br_pending_t *prev, *next; /* pm->pending */
    br_waiter_t *waiters;      /* n_waiters entries, owned */
    size_t n_waiters;
};

/* A follower's position as seen by the leader. */
typedef struct br_replica {
    int32_t id;
    int64_t leo;              /* -1: unknown (no fetch since we became leader) */
    int64_t last_fetch_ms;    /* -1: never */
    int64_t fetch_leader_leo; /* the leader's LEO at last_fetch_ms */
    int64_t caught_up_ms;     /* last time it had everything (Kafka's lastCaughtUpTimeMs) */
} br_replica_t;

/* Follower state of a replica led elsewhere (br_pm_replica.c). */
typedef enum br_fstate {
    BR_F_NONE = 0, /* not a follower */
    BR_F_EPOCH,    /* must ask the leader where f_ask_epoch ends (KIP-101) */
    BR_F_FETCH,    /* fetching from the log end */
} br_fstate_t;

/* One hosted replica. Core loop only. */
struct br_part {
    char *topic;
    int32_t partition;
    char topic_id[32];      /* from partition.meta, "" unknown (KIP-516) */
    st_hnode_t hnode;       /* in pm->map */
    br_part_t *prev, *next; /* pm->parts, for iteration */
    size_t dir_idx;         /* index into pm->dirs */
    sl_log_t *log;          /* owned by pm->dirs[dir_idx] */
    sl_log_config_t cfg;
    sl_pstate_t *pstate; /* idempotent producers (sl_pstate), follows the log */
    br_role_t role;
    int32_t leader;         /* broker id, -1 none */
    int32_t leader_epoch;   /* -1 until a state arrives */
    br_replica_t *replicas; /* every assigned replica incl. this broker */
    size_t n_replicas;
    int32_t *isr;
    size_t n_isr;
    int32_t min_insync;     /* effective min.insync.replicas */
    int64_t ts_diff_max_ms; /* effective message.timestamp.difference.max.ms */
    int64_t hw;             /* high watermark */
    int64_t bytes_appended; /* running total, to size long-poll wake-ups */
    br_waiter_t *waiters;   /* pending calls on this partition */
    int64_t last_log_ms[BR_LOGK__COUNT];
    /* follower side (br_pm_replica.c) */
    br_fstate_t fstate;
    int32_t f_ask_epoch; /* BR_F_EPOCH: the epoch to ask about */
    int64_t f_retry_ms;  /* back off until then (0: ready) */
    bool f_oor;          /* last fetch was out of range after an epoch check */
    /* leader side: an ISR change proposed to the control plane */
    int32_t *isr_proposed; /* NULL: none outstanding */
    size_t n_isr_proposed;
    int64_t isr_proposed_ms;
    bool follower_served_logged; /* KIP-392: "serving client fetch as follower" logged */
    /* metrics: traffic since the replica was opened here */
    uint64_t m_bytes_in, m_records_in, m_bytes_out, m_records_out;
};

typedef struct br_dir {
    sl_logdir_t *ld;
    size_t n_parts; /* partitions on disk or hosted in this dir */
    bool offline;   /* storage: an I/O error took the directory offline */
} br_dir_t;

/* A broker this one may fetch from: its URL and its fetcher. */
typedef struct br_source {
    int32_t id;
    char *url;                  /* NULL: unknown */
    struct br_fetcher *fetcher; /* NULL until needed */
} br_source_t;

typedef struct br_on_disk {
    char *topic;
    int32_t partition;
    size_t dir_idx;
} br_on_disk_t;

struct br_pm {
    struct ev_loop *loop;
    int32_t broker_id;
    br_pm_limits_t limits;
    br_dir_t *dirs;
    size_t n_dirs;
    br_on_disk_t *on_disk; /* found by sl_logdir_scan at start */
    size_t n_on_disk;
    st_hmap_t map; /* (topic, partition) -> br_part_t */
    size_t n_parts;
    br_part_t *parts;      /* list of all */
    br_pending_t *pending; /* list of pending calls */
    int64_t last_checkpoint_ms;
    int64_t last_pstate_ms;              /* last periodic producer-state snapshot */
    int64_t last_log_ms[BR_LOGK__COUNT]; /* for partitions not hosted */
    bool closing;
    st_buf_t scratch;        /* produce: frames of one partition */
    st_buf_t scratch_wire;   /* fetch: wire batches */
    st_buf_t scratch_frames; /* fetch: frames read */
    /* replication (br_pm_replica.c) */
    br_source_t *sources;
    size_t n_sources;
    uint64_t follow_corr; /* correlation ids of follower requests */
    br_pm_isr_change_fn isr_fn;
    void *isr_arg;
    int64_t broker_epoch; /* sent with follower requests (0: not registered) */
    /* storage: the log cleaner's close hook, the log-dir failure callback */
    br_pm_log_closing_fn closing_fn;
    void *closing_arg;
    br_pm_logdir_failure_fn dirfail_fn;
    void *dirfail_arg;
    /* fetch from followers (KIP-392): each known broker's rack */
    struct br_rack {
        int32_t id;
        char *rack; /* never NULL */
    } * racks;
    size_t n_racks;
    /* metrics (br_pm_get_stats) */
    uint64_t m_isr_shrinks, m_isr_expands;
};

/* ---- br_pm.c --------------------------------------------------- */

br_part_t *br_pm_find(br_pm_t *pm, const char *topic, int32_t partition);
/* Log one line for (part, kind) unless one was logged in the last minute;
 * part NULL uses the manager-wide slot. */
void br_pm_logf(br_pm_t *pm, br_part_t *part, br_logk_t kind, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* KIP-320 check of a requester's current_leader_epoch (-1 = skip). */
st_err_t br_part_check_epoch(const br_part_t *part, int32_t current_leader_epoch);
/* The hosted partition topic/partition, for a request only its leader
 * answers: UNKNOWN_TOPIC_OR_PARTITION, KAFKA_STORAGE_ERROR (offline),
 * FENCED/UNKNOWN_LEADER_EPOCH or NOT_LEADER_OR_FOLLOWER, else ST_OK and
 * *out set. */
st_err_t br_pm_leader_part(br_pm_t *pm, const char *topic, int32_t partition, int32_t current_leader_epoch,
                           br_part_t **out);
/* A partition's log end offset. */
int64_t br_part_leo(const br_part_t *part);
/* After an append on a leader: wake LEO waiters, recompute the HW, wake
 * HW waiters when it moved. */
void br_part_appended(br_pm_t *pm, br_part_t *part, int64_t bytes);
/* A follower fetched at fetch_offset: record its position, maybe move the
 * HW. */
void br_part_replica_fetched(br_pm_t *pm, br_part_t *part, int32_t replica_id, int64_t fetch_offset);
/* The replica entry of broker id, or NULL when id is not a replica. */
br_replica_t *br_part_replica(br_part_t *part, int32_t id);
/* KIP-392: the rack of broker id (NULL: none known). */
const char *br_pm_broker_rack(const br_pm_t *pm, int32_t id);
/* KIP-392, leader side: the replica a client in rack_id should read part
 * from: -1 (this leader) when rack_id is empty or this broker is in it,
 * else the first ISR follower whose broker is in rack_id, else -1. */
int32_t br_part_preferred_read_replica(const br_pm_t *pm, const br_part_t *part, const char *rack_id);
/* Tell every pending call waiting on part that `what` advanced. */
void br_part_wake(br_pm_t *pm, br_part_t *part, br_wake_t what);
/* Leader: HW = min LEO over the ISR; wakes HW waiters when it moved. */
void br_part_update_hw(br_pm_t *pm, br_part_t *part);
/* Take the partition offline after a storage error (logged once). */
void br_part_set_offline(br_pm_t *pm, br_part_t *part, st_err_t err);
/* Write the producer-state snapshot of part at its log end (clean close,
 * periodic from br_pm_tick). */
void br_part_snapshot_pstate(br_part_t *part);

/* Start a pending call with n_waiters waiter slots and a deadline in
 * timeout_ms (> 0). Waiters are attached with br_pending_watch(). */
st_err_t br_pending_start(br_pm_t *pm, br_pending_t *p, const br_pending_ops_t *ops, br_call_t *call,
                          size_t n_waiters, int64_t timeout_ms);
void br_pending_watch(br_pending_t *p, size_t i, br_part_t *part, size_t slot);
/* Unlink every waiter, stop the timer, leave pm->pending. The caller then
 * frees its struct. The call must have been answered. */
void br_pending_finish(br_pending_t *p);
/* True when p still has a waiter attached to a partition. */
bool br_pending_attached(const br_pending_t *p);

/* Whether p is a parked Produce (br_pm_produce.c) / Fetch (br_pm_fetch.c). */
bool br_pending_is_produce(const br_pending_t *p);
bool br_pending_is_fetch(const br_pending_t *p);
/* ---- br_pm_replica.c ----------------------------------------------------- */

/* apply_state made part a follower of part->leader (new_epoch: the leader
 * or epoch changed): start with the KIP-101 epoch check, wake the
 * fetcher of the leader. */
void br_part_become_follower(br_pm_t *pm, br_part_t *part, bool new_epoch);
/* Leader side after a replica's fetch was recorded: ISR expansion. */
void br_part_maybe_expand_isr(br_pm_t *pm, br_part_t *part, br_replica_t *r);
/* Leader side, from br_pm_tick: ISR shrink of lagging followers. */
void br_part_maybe_shrink_isr(br_pm_t *pm, br_part_t *part, int64_t now_ms);
/* Forget any outstanding ISR proposal (a new state arrived). */
void br_part_clear_isr_proposal(br_part_t *part);
/* Free the sources and their fetchers (br_pm_free). */
void br_pm_free_sources(br_pm_t *pm);

#endif
