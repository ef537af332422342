/*
 * sl_log: one partition's log, a directory of indexed segments
 * (docs/design/DESIGN.md section 3). It assigns offsets, appends frames, serves reads
 * of whole frames, looks offsets up by time, rolls and retires segments,
 * truncates for replication, keeps the leader-epoch cache, flushes by
 * policy and recovers after a crash. Owns: everything under
 * <log.dir>/<topic>-<partition>/. Single-threaded: the owner (the broker
 * core) calls it; nothing here takes locks.
 */
#ifndef SL_LOG_H
#define SL_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/st_batch.h"
#include "common/st_err.h"

/* cleanup.policy bits: "delete", "compact" or "compact,delete". */
#define SL_CLEANUP_DELETE 0x1
#define SL_CLEANUP_COMPACT 0x2

typedef struct sl_log_config {
    int64_t segment_bytes;            /* segment.bytes (1 GiB) */
    int64_t segment_ms;               /* segment.ms (7 days) */
    int64_t retention_ms;             /* retention.ms (7 days; -1 = forever) */
    int64_t retention_bytes;          /* retention.bytes (-1 = unlimited) */
    int32_t index_interval_bytes;     /* index.interval.bytes (4096) */
    int32_t segment_index_bytes;      /* segment.index.bytes (10 MiB) */
    int64_t flush_messages;           /* flush.messages (-1 = never) */
    int64_t flush_ms;                 /* flush.ms (-1 = never) */
    int32_t max_message_bytes;        /* max.message.bytes: largest frame (1 MiB) */
    int64_t file_delete_delay_ms;     /* file.delete.delay.ms (unused: deletes are immediate) */
    int cleanup_policy;               /* cleanup.policy: SL_CLEANUP_* bits (delete; 0 = delete) */
    int64_t delete_retention_ms;      /* delete.retention.ms: tombstones kept this long (1 day) */
    double min_cleanable_dirty_ratio; /* min.cleanable.dirty.ratio (0.5) */
    int64_t min_compaction_lag_ms;    /* min.compaction.lag.ms (0) */
} sl_log_config_t;

/* Kafka's defaults. */
void sl_log_config_default(sl_log_config_t *c);

typedef struct sl_log sl_log_t;

/* What recovery found, for the caller's log line and for tests. */
typedef struct sl_recovery_info {
    bool ran; /* recovery scanned at least one segment */
    int64_t batches_checked;
    int64_t bytes_truncated;    /* torn/corrupt tail cut off */
    char corrupt_file[512];     /* "" when nothing was corrupt */
    int64_t corrupt_position;   /* byte position of the first bad frame, or -1 */
    const char *corrupt_reason; /* static string, or NULL */
    int indexes_rebuilt;
} sl_recovery_info_t;

/* Open (creating if missing) the partition log in dir. recovery_point is
 * the offset up to which data is known flushed (-1 = unknown: check
 * everything); clean_shutdown skips recovery when the files are
 * consistent. info may be NULL. */
st_err_t sl_log_open(const char *dir, const sl_log_config_t *cfg, int64_t recovery_point, bool clean_shutdown,
                     sl_log_t **out, sl_recovery_info_t *info);
/* Flush, write the leader-epoch checkpoint, unmap, close. */
void sl_log_close(sl_log_t *log);
/* Close and remove the whole directory (topic deletion). */
st_err_t sl_log_delete(sl_log_t *log);
/* Replace the configuration (topic config change). */
void sl_log_set_config(sl_log_t *log, const sl_log_config_t *cfg);

const char *sl_log_dir(const sl_log_t *log);
int64_t sl_log_start_offset(const sl_log_t *log);
int64_t sl_log_end_offset(const sl_log_t *log); /* next offset to assign */
int64_t sl_log_size_bytes(const sl_log_t *log);
int sl_log_segment_count(const sl_log_t *log);
int64_t sl_log_recovery_point(const sl_log_t *log); /* flushed up to here */

/* Append one validated frame as leader: assign offsets from the log end,
 * stamp leader_epoch, write. On success *base_offset is the first offset.
 * Refuses frames over max_message_bytes (ST_ERR_MESSAGE_TOO_LARGE) or
 * malformed ones (ST_ERR_CORRUPT_MESSAGE; also a sparse batch, and, with
 * cleanup.policy compact, any record without a key, as Kafka does). On a write error (ST_ERR_IO,
 * ST_ERR_NO_SPACE) nothing of the frame stays visible. now_ms drives
 * segment.ms rolls and flush.ms. */
st_err_t sl_log_append(sl_log_t *log, uint8_t *frame, size_t len, int32_t leader_epoch, int64_t now_ms,
                       int64_t *base_offset);
/* Append frames that already carry offsets (a follower copying its
 * leader). frames holds one or more whole frames; the first must start at
 * the log end offset and offsets must be contiguous. */
st_err_t sl_log_append_replica(sl_log_t *log, const uint8_t *frames, size_t len, int64_t now_ms);

/* The same two appends for frames whose CRC the caller has just checked
 * (each frame freshly made by st_batch_from_wire / _flags, which checks
 * it): everything above is checked except the CRC, which is not computed
 * a second time. Any other caller must use the checking versions. */
st_err_t sl_log_append_checked(sl_log_t *log, uint8_t *frame, size_t len, int32_t leader_epoch,
                               int64_t now_ms, int64_t *base_offset);
st_err_t sl_log_append_replica_checked(sl_log_t *log, const uint8_t *frames, size_t len, int64_t now_ms);

/* Read whole frames starting with the one that holds `offset`, up to
 * max_bytes (at least one frame is returned even when larger), never past
 * max_offset (exclusive; -1 = log end: used for the high watermark).
 * Appends the bytes to out. offset == end gives ST_OK and nothing;
 * offset < start or > end gives ST_ERR_OFFSET_OUT_OF_RANGE. */
st_err_t sl_log_read(sl_log_t *log, int64_t offset, size_t max_bytes, int64_t max_offset, st_buf_t *out);

/* First offset whose record timestamp is >= ts (Kafka's ListOffsets).
 * ST_ERR_NOT_FOUND when no record is that recent. */
st_err_t sl_log_offset_for_timestamp(sl_log_t *log, int64_t ts, int64_t *offset, int64_t *found_ts);

/* Remove everything at and above offset (replication: divergent suffix). */
st_err_t sl_log_truncate_to(sl_log_t *log, int64_t offset);
/* Drop all segments and restart empty at offset (follower far behind). */
st_err_t sl_log_truncate_fully_and_start_at(sl_log_t *log, int64_t offset);
/* Advance the log start offset (DeleteRecords); deletes segments wholly
 * below it. */
st_err_t sl_log_set_start_offset(sl_log_t *log, int64_t offset);

/* Retention: delete whole closed segments past retention.ms or beyond
 * retention.bytes (only when cleanup.policy has "delete"; empty closed
 * segments left by the cleaner at the head always go); the active
 * segment is never deleted, nor a segment holding offsets at or above
 * upper (the high watermark: retention never deletes what is not
 * committed yet, and so never moves the HW; -1: no bound). Also rolls the
 * active segment when segment.ms has passed. *deleted may be NULL. */
st_err_t sl_log_enforce_retention(sl_log_t *log, int64_t now_ms, int64_t upper, int *deleted);

/* fsync what is unflushed, write the leader-epoch checkpoint when it has
 * unwritten changes, and advance the recovery point. */
st_err_t sl_log_flush(sl_log_t *log);
/* Log flushes (sl_log_flush that succeeded) and segment rolls of every
 * log of the process since it started, for metrics. Any thread. */
void sl_log_totals(uint64_t *flushes, uint64_t *rolls);
/* Flush when flush.ms has elapsed since the last flush. */
st_err_t sl_log_maybe_flush(sl_log_t *log, int64_t now_ms);

/* Leader-epoch cache (leader-epoch-checkpoint). */
/* Record that `epoch` starts at `start_offset` (a new leader's first
 * offset). Entries with a later start are dropped. In memory only (no
 * fsync): the checkpoint file is written by sl_log_flush (before the
 * recovery point moves), sl_log_close, truncations and
 * sl_log_checkpoint_epochs; after a crash sl_log_open rebuilds every epoch
 * that has data above the recovery point from the frames' leader epochs.
 * An epoch without data may be lost by a crash (docs/storage.md). */
st_err_t sl_log_assign_epoch(sl_log_t *log, int32_t epoch, int64_t start_offset);
/* Write the leader-epoch checkpoint now if it has unwritten changes
 * (temp, fsync, rename). Optional: correctness never needs it. */
st_err_t sl_log_checkpoint_epochs(sl_log_t *log);
/* Latest epoch in the cache, -1 when empty. */
int32_t sl_log_latest_epoch(const sl_log_t *log);
/* KIP-101 lookup: the largest epoch <= `epoch` and the end offset of it
 * (start offset of the next epoch, or the log end for the latest).
 * Unknown (older than all) gives epoch -1, offset -1. */
void sl_log_end_offset_for_epoch(const sl_log_t *log, int32_t epoch, int32_t *epoch_out, int64_t *end_offset);

/* ---- for sl_cleaner only (owner thread) ------------------------------ */

const sl_log_config_t *sl_log_config(const sl_log_t *log);

/* One closed segment as the cleaner sees it. */
typedef struct sl_seg_info {
    int64_t si_base;
    int64_t si_next;   /* offset after its last batch (si_base when empty) */
    int64_t si_size;   /* bytes of its .log */
    int64_t si_max_ts; /* largest timestamp, INT64_MIN when none */
} sl_seg_info_t;

/* Snapshot of the closed segments (all but the active one), oldest
 * first, into a malloc'd array (*out NULL when n == 0). */
st_err_t sl_log_closed_segments(const sl_log_t *log, sl_seg_info_t **out, int *n);
/* A counter bumped whenever a closed segment is removed, truncated or
 * replaced: a cleaner plan made at another value is stale. */
uint64_t sl_log_generation(const sl_log_t *log);
/* Reopen closed segment `base` from its files (after the cleaner swapped
 * new ones in): the old descriptors are closed, the new files checked
 * (index tail, CRCs from the last index entry; full rebuild when that
 * fails). ST_ERR_NOT_FOUND when base is not a closed segment; on any error
 * the old segment stays in service. */
st_err_t sl_log_reload_segment(sl_log_t *log, int64_t base);

#endif
