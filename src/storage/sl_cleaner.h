/*
 * sl_cleaner: log compaction (cleanup.policy=compact) of one partition
 * log, as Kafka's log cleaner does it. For each key only the record with
 * the latest offset survives; tombstones (null value) go once their
 * segment is older than delete.retention.ms; keyless records are dropped
 * (compacted topics require keys: sl_log_append refuses them). Offsets of
 * kept records never change: a rewritten batch keeps its base offset,
 * last_offset_delta and the offset deltas of its survivors, so batches may
 * become sparse; batches left empty are dropped. Only closed segments are
 * cleaned, never the active one, so the log end offset never moves.
 * Owns: the cleaner checkpoint (<dir>/cleaner-offset-checkpoint, the first
 * offset not yet cleaned), the .cleaned/.swap files and the swap protocol
 * (docs/storage.md, "Log compaction"), and its recovery after a crash.
 *
 * Threads: the log is single-threaded, so a run is split in three.
 *   sl_cleaner_prepare  owner thread: decides whether the log is cleanable
 *                       and snapshots the segment list (and opens the
 *                       segment files) into a plan;
 *   sl_cleaner_run      any thread (the worker pool): reads the closed,
 *                       immutable segments, builds the key map, writes the
 *                       .cleaned files; touches nothing of the sl_log_t;
 *   sl_cleaner_commit   owner thread: swaps the files in segment by
 *                       segment, reloads those segments, writes the
 *                       checkpoint. A plan made stale by truncation or
 *                       retention meanwhile is refused (ST_ERR_STATE).
 * The owner must not close or delete the log between prepare and
 * commit/free of a plan.
 */
#ifndef SL_CLEANER_H
#define SL_CLEANER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/st_err.h"
#include "storage/sl_log.h"

#define SL_CLEANER_CHECKPOINT "cleaner-offset-checkpoint"
#define SL_CLEANER_MAP_BYTES ((size_t)64 << 20)

typedef struct sl_cleaner_opts {
    int64_t now_ms;     /* wall clock (lag, tombstone expiry) */
    int64_t max_offset; /* first offset that must stay untouched (high
                         * watermark); -1 = log end */
    bool force;         /* ignore min.cleanable.dirty.ratio */
    size_t map_bytes;   /* soft cap of the key map; 0 = SL_CLEANER_MAP_BYTES.
                         * Mapping stops after the segment that passes it. */
} sl_cleaner_opts_t;

typedef struct sl_cleaner_stats {
    double dirty_ratio;          /* dirty bytes / cleanable bytes at prepare */
    int64_t first_dirty;         /* checkpoint at prepare */
    int64_t dirty_end;           /* checkpoint after commit */
    int segments;                /* segments read for rewriting */
    int segments_swapped;        /* segments that changed and were swapped in */
    int64_t bytes_read;          /* map pass + rewrite pass */
    int64_t bytes_in, bytes_out; /* rewritten segments before / after */
    int64_t records_in, records_out;
    int64_t tombstones_dropped;
    int64_t keyless_dropped;
    int64_t keys; /* distinct keys in the map */
} sl_cleaner_stats_t;

typedef struct sl_cleaner_plan sl_cleaner_plan_t;

/* Owner thread. Compute the dirty ratio of the cleanable part of log:
 * closed segments below opts->max_offset whose largest timestamp is at
 * least min.compaction.lag.ms old, dirty = past the checkpoint. ST_OK
 * with *ratio in [0, 1] (0 when nothing is cleanable). */
st_err_t sl_cleaner_dirty_ratio(sl_log_t *log, const sl_cleaner_opts_t *opts, double *ratio);

/* Owner thread. Make a plan when the log is cleanable: cleanup.policy has
 * compact (else ST_ERR_STATE), something is dirty and (unless force) the
 * dirty ratio reaches min.cleanable.dirty.ratio (else ST_ERR_NOT_FOUND).
 * I/O errors opening the segments are returned as such. */
st_err_t sl_cleaner_prepare(sl_log_t *log, const sl_cleaner_opts_t *opts, sl_cleaner_plan_t **out);

/* Any thread, once per plan. The expensive part: map the dirty segments,
 * rewrite every planned segment into <base>.{log,index,timeindex}.cleaned
 * (fsync'd). Pure file work on the plan; the log may be used meanwhile.
 * Returns ST_OK, ST_ERR_CORRUPT (a bad frame), I/O errors, ST_ERR_NOMEM. */
st_err_t sl_cleaner_run(sl_cleaner_plan_t *plan);

/* Owner thread, after a successful run. Swap the changed segments in,
 * oldest first, each through the crash-safe protocol, reload them in the
 * log, and advance the checkpoint. ST_ERR_STATE when the log's closed
 * segments changed since prepare (nothing is swapped then). On an error
 * part way the log stays correct (a prefix of the segments cleaned). */
st_err_t sl_cleaner_commit(sl_log_t *log, sl_cleaner_plan_t *plan);

/* What the plan did so far. */
const sl_cleaner_stats_t *sl_cleaner_plan_stats(const sl_cleaner_plan_t *plan);

/* Close the plan's files and remove any .cleaned file not swapped in. Any
 * thread that owns the plan; NULL is a no-op. */
void sl_cleaner_plan_free(sl_cleaner_plan_t *plan);

/* prepare + run + commit on the calling thread (tests, tools). stats may
 * be NULL. Same errors as the three. */
st_err_t sl_cleaner_clean(sl_log_t *log, const sl_cleaner_opts_t *opts, sl_cleaner_stats_t *stats);

/* Called by sl_log_open before it lists segments: finish a swap whose
 * <base>.log.swap exists (rename the .swap files over the originals), roll
 * back every other (.cleaned files and .swap files without a
 * <base>.log.swap are removed), fsync the directory. */
st_err_t sl_cleaner_recover(const char *dir);

/* Test hook: when set, called with a step name at each step of
 * sl_cleaner_commit ("commit", "swap-index", "swap-log", "replace-index",
 * "replace-log", "reloaded", "checkpoint"), e.g. to _exit() there. */
extern void (*sl_cleaner_test_hook)(const char *step);

#endif
