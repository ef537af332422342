/*
 * sc_accum: the producer's record accumulator. Per topic and partition it
 * keeps one open batch (records are appended straight into an
 * st_batch_builder, so the hot path allocates nothing once the pools are
 * warm) and a queue of closed batches ready to send. A batch closes when
 * the next record would take it past batch.size, when it has lingered
 * linger.ms, or on flush. Pure data structure: no locks (the producer's
 * lock guards it), no network, so it is unit-tested alone.
 *
 * Ordering: every batch gets a per-partition creation number (`order`);
 * a batch put back for a retry is inserted by that number, so retried
 * batches always go out before newer ones and keep their relative order
 * whatever order their requests completed in. Idempotence: a batch gets
 * its producer id, epoch and base sequence the first time it is sent
 * (sc_accum_assign_seq) and keeps them, so a retry resends the same bytes.
 */
#ifndef SC_ACCUM_H
#define SC_ACCUM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "client/sc_part.h"
#include "client/strata.h"
#include "common/st_batch.h"

/* What to tell about one record once its batch is done. */
typedef struct sc_ref {
    strata_delivery_cb cb;
    void *opaque;
    int64_t timestamp;
} sc_ref_t;

typedef struct sc_atopic sc_atopic_t;

typedef struct sc_batch {
    struct sc_batch *next;
    sc_atopic_t *topic;
    int32_t partition;
    st_batch_builder_t bld;
    st_buf_t frame; /* the finished frame (finished == true) */
    bool finished;
    sc_ref_t *refs;
    size_t n_refs, refs_cap;
    size_t bytes; /* charged against buffer.memory */
    int64_t created_ms;
    int64_t deadline_ms; /* delivery.timeout.ms from the first record */
    int64_t retry_at_ms;
    int attempts;
    uint64_t order;      /* per-partition creation number */
    bool seq_set;        /* bld.producer_id/epoch/base_sequence fixed */
    st_err_t err;        /* outcome, set when the batch is done */
    int64_t base_offset; /* outcome: offset of the first record, or -1 */
} sc_batch_t;

typedef struct sc_apart {
    sc_batch_t *open;
    sc_batch_t *head, *tail; /* closed, waiting to be sent */
    int32_t leader;          /* broker id, -1 unknown */
    int inflight;            /* batches of this partition in flight */
    uint64_t next_order;     /* order of the next batch created */
    int64_t seq_pid;         /* producer id and epoch next_seq counts for */
    int16_t seq_epoch;
    int32_t next_seq; /* base sequence of the next batch sent */
    bool reseq;       /* refused sequences: renumber after the epoch bump */
    bool leader_wait; /* a batch failed on leader failed_on: retry at
                              * once when metadata names another leader */
    int32_t failed_on;
} sc_apart_t;

struct sc_atopic {
    sc_atopic_t *next;
    char *name;
    int32_t n_parts; /* 0 until metadata is known */
    sc_apart_t *parts;
    sc_sticky_t sticky;
    st_err_t md_err;
    size_t pend_n; /* its records waiting for metadata in the
                              * producer: later sends queue behind them */
};

typedef struct sc_accum {
    sc_atopic_t *topics;
    sc_atopic_t *last; /* lookup cache */
    sc_batch_t *pool;  /* free batches, allocations kept */
    size_t pool_n;
    st_codec_t codec;
    size_t batch_size;
    int64_t linger_ms;
    int64_t delivery_timeout_ms;
    size_t bytes;   /* bytes of records not yet reported */
    size_t records; /* records not yet reported */
    size_t n_ready; /* closed batches in ready queues */
} sc_accum_t;

void sc_accum_init(sc_accum_t *a, st_codec_t codec, size_t batch_size, int64_t linger_ms,
                   int64_t delivery_timeout_ms);
/* Free every topic and batch (callbacks are NOT called). */
void sc_accum_fini(sc_accum_t *a);

/* Find a topic; create it (with no partitions yet) when create. */
sc_atopic_t *sc_accum_topic(sc_accum_t *a, const char *name, bool create);
/* Set the partition count (it only grows) and leaders from metadata. */
st_err_t sc_accum_set_partitions(sc_atopic_t *t, int32_t n, const int32_t *leaders);

/* Bytes a record is charged. */
size_t sc_accum_record_size(size_t key_len, size_t value_len, const strata_header_t *h, size_t nh);

/* Append a record to partition p of t (0 <= p < t->n_parts). Closes the
 * open batch first when the record would not fit, and after the append
 * when the batch reached batch.size. *closed tells whether any batch was
 * closed (the caller wakes the sender and moves the sticky partition). */
st_err_t sc_accum_append(sc_accum_t *a, sc_atopic_t *t, int32_t p, int64_t now_ms, int64_t timestamp,
                         const void *key, size_t key_len, const void *value, size_t value_len,
                         const strata_header_t *headers, size_t n_headers, strata_delivery_cb cb,
                         void *opaque, bool *closed);

/* Close every open batch that lingered long enough (all when force).
 * Returns the earliest time a still-open batch will be due, or INT64_MAX. */
int64_t sc_accum_linger(sc_accum_t *a, int64_t now_ms, bool force);

/* Close the open batch of one partition (no-op when empty). */
void sc_accum_close(sc_accum_t *a, sc_atopic_t *t, int32_t p);

/* Ready queue ops. */
sc_batch_t *sc_accum_pop(sc_accum_t *a, sc_apart_t *ap);
/* Put a batch back for a retry: before every batch created after it
 * (ordered by b->order), so the oldest batch always goes out first. */
void sc_accum_requeue(sc_accum_t *a, sc_apart_t *ap, sc_batch_t *b);

/* The sequence `count` records after seq, wrapping at INT32_MAX to 0 (the
 * broker's rule, sl_pstate_seq_add). */
int32_t sc_seq_add(int32_t seq, int32_t count);
/* Give b (of partition ap, not finished yet) producer id pid, epoch and
 * the partition's next base sequence, unless it already has them; the
 * partition's counter restarts at 0 whenever pid or epoch changed since
 * it last counted, and then grows by b's record count. */
void sc_accum_assign_seq(sc_apart_t *ap, sc_batch_t *b, int64_t pid, int16_t epoch);
/* Forget the producer state of every queued batch of ap whose epoch or
 * id differs from (pid, epoch) (after an epoch bump refused its old
 * sequence); their frames are rebuilt when next sent. Returns how many. */
size_t sc_accum_reset_seq(sc_apart_t *ap, int64_t pid, int16_t epoch);

/* An epoch bump is wanted (a partition's sequences were refused): may the
 * producer ask for the next epoch now? Only once no batch numbered under
 * (pid, epoch) is unresolved - in flight, or queued for a retry - on a
 * partition whose sequences were not refused (ap->reseq): such a batch
 * may be stored already, and once a newer epoch reached its partition the
 * broker would answer its retry INVALID_PRODUCER_EPOCH instead of
 * DUPLICATE (Kafka's client, likewise, bumps only when the in-flight
 * batches are resolved). Refused partitions' batches are not stored and
 * are renumbered under the new epoch. */
bool sc_accum_bump_ready(const sc_accum_t *a, int64_t pid, int16_t epoch);
/* While an epoch bump is wanted: may b, the head of ap's queue, be sent?
 * Only a retry of a batch already numbered (seq_set) on a partition whose
 * sequences were not refused; new batches wait for the new epoch, so no
 * partition ever gets a newer epoch while an older one is unresolved. */
bool sc_accum_sendable_in_bump(const sc_apart_t *ap, const sc_batch_t *b);

/* Finish a batch's frame (compress, CRC) once; lock need not be held
 * as long as the batch is owned by the caller. */
st_err_t sc_batch_finish(sc_batch_t *b);
/* Return a batch to the pool and uncharge its records. */
void sc_accum_release(sc_accum_t *a, sc_batch_t *b);

#endif
