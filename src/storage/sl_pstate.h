/*
 * sl_pstate: the idempotent-producer state of one partition (Kafka's
 * ProducerStateManager, without transactions). For each producer id it
 * keeps the producer epoch and the last SL_PSTATE_BATCHES batches
 * appended for it (base/last sequence, base offset), so that the leader
 * can refuse sequence gaps (OUT_OF_ORDER_SEQUENCE_NUMBER), fence old
 * epochs (INVALID_PRODUCER_EPOCH) and answer a retried batch with the
 * offset it got the first time instead of appending it again. The state
 * is a pure function of the log: leaders update it on append, followers
 * on every replicated batch, so a new leader already has it.
 *
 * Retry index. Besides its last batches, each producer keeps up to
 * SL_PSTATE_POINTS points (base sequence -> base offset) of its current
 * epoch's batches: every new batch adds one, and when the points are
 * full every other point of the older half goes, so the newest half stays
 * one point per batch and older ones thin out geometrically. The first
 * point (the oldest batch known of the epoch) always stays. A retried
 * batch older than the last batches lies in the log between the two
 * points that bracket its sequence (a producer's batches of one epoch are
 * appended in sequence order), so sl_pstate_find_retry finds it wherever
 * it is, however many other producers' records came in between.
 *
 * Persistence. A snapshot <partition dir>/<offset, 20 digits>.snapshot
 * holds the state of every batch below <offset> (written temp -> fsync ->
 * rename through sl_file_write_atomic; the latest SL_PSTATE_KEEP kept).
 * sl_pstate_load rebuilds the state from the latest readable snapshot at
 * or below the log end, then scans the batch headers of the log from
 * there; snapshots above the log end (a log tail lost in a crash, or cut
 * by truncation) are deleted first. Truncation reloads the same way.
 *
 * Snapshot file (little-endian): "STPS" | u16 version (2) | u16 0 |
 * u32 CRC32C of everything after it | u32 count | count entries of
 * { i64 producer_id | i16 epoch | u8 n | u8 m | n x { i32 base_seq |
 * i32 last_seq | i64 base_offset | i32 last_offset_delta } | m x {
 * i32 base_seq | i64 base_offset } }, sorted by producer id. Version 1
 * (m always 0, no points) is still read: its points are then seeded from
 * the last batches.
 *
 * Owns: the state and the snapshot files. Core loop only.
 */
#ifndef SL_PSTATE_H
#define SL_PSTATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/st_batch.h"
#include "common/st_err.h"
#include "storage/sl_log.h"

#define SL_PSTATE_BATCHES 5 /* batches remembered per producer, as in Kafka */
#define SL_PSTATE_KEEP 2    /* snapshot files kept */
#define SL_PSTATE_POINTS 64 /* retry index points per producer */

typedef struct sl_pstate_batch {
    int32_t base_seq;
    int32_t last_seq;
    int64_t base_offset;
    int32_t last_offset_delta;
} sl_pstate_batch_t;

/* One retry index point: a batch of the current epoch. */
typedef struct sl_pstate_point {
    int32_t base_seq;
    int64_t base_offset;
} sl_pstate_point_t;

typedef struct sl_pstate_entry {
    int64_t producer_id;
    int16_t epoch;
    uint8_t n_batches;                            /* 1..SL_PSTATE_BATCHES */
    uint8_t n_points;                             /* 0..SL_PSTATE_POINTS */
    sl_pstate_batch_t batches[SL_PSTATE_BATCHES]; /* oldest first */
    sl_pstate_point_t points[SL_PSTATE_POINTS];   /* ascending sequence and offset */
} sl_pstate_entry_t;

typedef struct sl_pstate sl_pstate_t;

sl_pstate_t *sl_pstate_new(void);
void sl_pstate_free(sl_pstate_t *ps);

/* Number of producers known; the entry of one producer or NULL. */
size_t sl_pstate_count(const sl_pstate_t *ps);
const sl_pstate_entry_t *sl_pstate_get(const sl_pstate_t *ps, int64_t producer_id);

/* The sequence `count` records after seq, wrapping at INT32_MAX to 0. */
int32_t sl_pstate_seq_add(int32_t seq, int32_t count);

/* Leader check of one client batch whose header h has producer_id >= 0,
 * before it is appended. prev is the header of an earlier batch of the
 * same producer accepted in the same request (NULL if none): h must then
 * follow it. unknown_ok: accept an unknown producer whose first sequence
 * is not 0 (Kafka 2.5+, KIP-360: its history may be gone, e.g. the log
 * start moved past it); otherwise UNKNOWN_PRODUCER_ID. Returns:
 *   ST_OK                               append it;
 *   ST_ERR_DUPLICATE_SEQUENCE_NUMBER    same epoch and same base and last
 *        sequence as one of the producer's last batches: do not append,
 *        *dup_offset is that batch's base offset;
 *   ST_ERR_INVALID_PRODUCER_EPOCH       epoch older than the producer's;
 *   ST_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER a gap, or a new epoch not starting
 *        at sequence 0;
 *   ST_ERR_UNKNOWN_PRODUCER_ID          see unknown_ok;
 *   ST_ERR_INVALID_REQUEST              negative epoch or sequence. */
st_err_t sl_pstate_check(const sl_pstate_t *ps, const st_batch_hdr_t *h, const st_batch_hdr_t *prev,
                         bool unknown_ok, int64_t *dup_offset);

/* Leader, after sl_pstate_check answered OUT_OF_ORDER_SEQUENCE_NUMBER for
 * a batch of the producer's current epoch that lies wholly before the
 * batches remembered for it: a retry of a request holding more than
 * SL_PSTATE_BATCHES batches (the client sends a partition's whole queue
 * in one request) whose first answer was lost, e.g. with the old leader.
 * Looks for it in the log between the two retry index points that
 * bracket its sequence. true and *dup_offset = its base offset when the
 * same producer, epoch, base sequence and record count are there: answer
 * it as a duplicate. true and *dup_offset = -1 when the scan stopped at
 * its byte bound before reaching the batch but the batch's sequences lie
 * between the epoch's oldest known batch and the remembered ones, so the
 * leader accepted them (in order) and they are stored: a duplicate whose
 * offset is unknown. false when the batch is not in the log (the log
 * holds other boundaries there): keep OUT_OF_ORDER. */
bool sl_pstate_find_retry(const sl_pstate_t *ps, sl_log_t *log, const st_batch_hdr_t *h, int64_t *dup_offset);
/* Record an appended batch (h->base_offset is its offset in the log).
 * Batches without a producer id are ignored. No checks: leaders check
 * first, followers and log scans take what the log holds. A newer epoch
 * replaces the producer's batches. ST_ERR_NOMEM only. */
st_err_t sl_pstate_update(sl_pstate_t *ps, const st_batch_hdr_t *h);
/* sl_pstate_update for every frame of a run of whole frames. */
st_err_t sl_pstate_update_frames(sl_pstate_t *ps, const uint8_t *frames, size_t len);

/* Forget everything (in memory only). */
void sl_pstate_clear(sl_pstate_t *ps);
/* The log start moved to log_start (retention, a follower following its
 * leader): forget producers whose newest batch ends below it, as Kafka
 * does, so the state stays bounded by what the log still holds. A
 * forgotten producer's next batch is accepted as the first of an unknown
 * producer (the log start is past 0). Returns how many were forgotten.
 * The snapshots on disk catch up at the next sl_pstate_snapshot. */
size_t sl_pstate_truncate_head(sl_pstate_t *ps, int64_t log_start);

/* Snapshot encoding, for the files and for tests. decode replaces the
 * state; ST_ERR_CORRUPT on anything malformed (state then empty). */
st_err_t sl_pstate_encode(const sl_pstate_t *ps, st_buf_t *out);
st_err_t sl_pstate_decode(sl_pstate_t *ps, const uint8_t *p, size_t len);

/* Rebuild from the log's directory and contents (see above). The state
 * then covers the whole log. ST_ERR_IO and the like when the log cannot
 * be read (state then covers what was read). */
st_err_t sl_pstate_load(sl_pstate_t *ps, sl_log_t *log);
/* After the log was cut (truncate_to): delete snapshots above the new
 * log end and reload. */
st_err_t sl_pstate_truncated(sl_pstate_t *ps, sl_log_t *log);
/* After the log restarted empty at an offset: delete every snapshot and
 * clear the state. */
void sl_pstate_reset(sl_pstate_t *ps, sl_log_t *log);
/* Write the snapshot at the log end, keep the latest SL_PSTATE_KEEP. */
st_err_t sl_pstate_snapshot(sl_pstate_t *ps, sl_log_t *log);
/* The offset of the newest snapshot written or loaded, -1 if none: the
 * caller snapshots again when the log end moved past it. */
int64_t sl_pstate_snapshot_offset(const sl_pstate_t *ps);

#endif
