/*
 * sc_consumer: the strata_consumer_* calls. A consumer reads either an
 * explicit assignment (strata_consumer_assign) or, in a consumer group,
 * what the group gives it (strata_consumer_subscribe; the membership
 * protocol lives in sc_group). Per assigned partition a small state
 * machine:
 *
 *   NEED_COMMITTED --OffsetFetch in poll()--> ACTIVE (committed offset)
 *                                             or NEED_OFFSET (none: reset)
 *   NEED_OFFSET --ListOffsets sent--> LISTING --answer--> ACTIVE
 *   ACTIVE --OFFSET_OUT_OF_RANGE, reset earliest/latest--> NEED_OFFSET
 *   ACTIVE --OFFSET_OUT_OF_RANGE with reset none, CORRUPT_MESSAGE--> STOPPED
 *   any --seek--> ACTIVE (absolute offset) or NEED_OFFSET (logical/time)
 *
 * The I/O thread keeps one Fetch in flight per broker (long poll
 * fetch.max.wait.ms) and sends the next as soon as the previous answer
 * arrives, while the queue holds less than queued.max.messages.kbytes.
 * Answers are decoded through strata.raw.RawResponse (batches stay bytes),
 * turned into frames (CRC checked) off the lock and queued as one chunk
 * per partition; poll() iterates the records of the head chunk on the
 * caller's thread, so a record is decoded exactly once.
 *
 * The structs are here (not in the .c) because sc_group drives the
 * assignment of a group member; nothing outside src/client sees them.
 */
#ifndef SC_CONSUMER_H
#define SC_CONSUMER_H

#include "client/sc_assign.h"
#include "client/sc_client.h"
#include "client/strata.h"
#include "common/st_batch.h"

typedef enum sc_cstate {
    SC_CP_NEED_OFFSET,    /* want_ts must be resolved with ListOffsets */
    SC_CP_LISTING,        /* ListOffsets in flight */
    SC_CP_ACTIVE,         /* fetching from fetch_pos */
    SC_CP_STOPPED,        /* error reported; waits for a seek */
    SC_CP_NEED_COMMITTED, /* group member: committed offset not known yet */
} sc_cstate_t;

/* One assigned partition. Guarded by cl.lock, except the members marked
 * app, which only the application thread touches. */
typedef struct sc_cpart {
    char *topic;
    int32_t partition;
    sc_cstate_t state;
    int64_t want_ts; /* -2 earliest, -1 latest, >= 0 a timestamp */
    int64_t fetch_pos;
    int64_t hwm; /* high watermark of the last fetch answer, -1 unknown */
    uint32_t version;
    bool fetching;
    bool eof_sent;
    bool paused; /* not fetched; nothing of it is returned */
    int64_t retry_at;
    int64_t start;         /* where ListOffsets put fetch_pos; -1 none */
    bool has_read_replica; /* KIP-392: fetch from read_replica, not the leader */
    int32_t read_replica;
    int64_t read_replica_until; /* back to the leader then (metadata.max.age.ms) */
    /* app */
    int64_t pos;       /* next offset poll() returns; -1 unknown yet */
    int64_t committed; /* last offset committed by this consumer; -1 none */
} sc_cpart_t;

typedef enum sc_chunk_kind {
    SC_CH_DATA,
    SC_CH_EOF,
    SC_CH_ERROR
} sc_chunk_kind_t;

typedef struct sc_chunk {
    struct sc_chunk *next;
    sc_chunk_kind_t kind;
    uint32_t gen;
    size_t idx;
    uint32_t version;
    st_err_t err;
    int64_t offset; /* EOF/ERROR: position; DATA: first offset wanted */
    st_buf_t frames;
    size_t pos;
} sc_chunk_t;

typedef struct sc_group sc_group_t;

struct strata_consumer {
    sc_client_t cl;
    uint32_t gen; /* bumps when parts is replaced */
    sc_cpart_t *parts;
    size_t n_parts;
    sc_chunk_t *head, *tail;
    size_t queued;   /* bytes of frames queued */
    int reset;       /* sc_conf_reset() */
    sc_group_t *grp; /* the group membership; NULL without group.id */
    /* app */
    sc_chunk_t *cur;
    st_batch_iter_t it;
    bool in_batch;
    strata_message_t msg;
    strata_header_t *hdrs;
    size_t hdrs_cap;
};

/* App thread, lock NOT held: replace the assignment with tps. Partitions
 * that stay keep their position (they continue from what poll() returned
 * last); new ones start in `fresh_state` (SC_CP_NEED_COMMITTED for a group
 * member, SC_CP_NEED_OFFSET with the reset policy otherwise). With
 * add_interest the topics join the metadata interest list. */
st_err_t sc_consumer_set_parts(strata_consumer_t *c, const sc_assign_tp_t *tps, size_t n,
                               sc_cstate_t fresh_state, bool add_interest);

/* App thread, lock NOT held: forget the chunk poll() is reading. */
void sc_consumer_drop_cur(strata_consumer_t *c);

/* Lock held: queue an error event for partition idx (poll() reports it). */
void sc_consumer_error_event(strata_consumer_t *c, size_t idx, st_err_t err, int64_t offset);

#endif
