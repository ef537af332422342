/*
 * br_cleaner: the broker's log cleaner scheduler (Kafka's LogCleaner
 * manager). Every log.cleaner.backoff.ms, and again right after a run
 * that did some work, it looks at the replicas the partition manager
 * hosts, keeps those whose topic's cleanup.policy contains compact and
 * whose dirty ratio (sl_cleaner_dirty_ratio, below the replica's high
 * watermark) reaches min.cleanable.dirty.ratio, and cleans the dirtiest
 * ones, at most log.cleaner.threads at a time and one plan per log:
 * sl_cleaner_prepare on the core loop, sl_cleaner_run on a worker of its
 * own br_pool, sl_cleaner_commit back on the core loop, then one INFO line
 * with the run's throughput. It hooks the partition manager's log-closing
 * callback so that no log is closed or deleted with a plan outstanding: a
 * queued plan is abandoned, a running one is waited for, and the plan is
 * freed before the hook returns. An I/O error of a run or commit goes to
 * br_pm_storage_error (the log dir goes offline); any other failure skips
 * that log until the next backoff period. Also maps the compaction topic
 * configs to sl_log_config_t. Owns: the pool, the timer, the plans in
 * flight. Core loop only (but for the pool's workers).
 */
#ifndef BR_CLEANER_H
#define BR_CLEANER_H

#include <ev.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "partition/br_pm.h"
#include "common/st_err.h"
#include "storage/sl_log.h"

#define BR_CLEANER_DEFAULT_BACKOFF_MS 15000

typedef struct br_cleaner_config {
    bool enable;                /* log.cleaner.enable (true) */
    int threads;                /* log.cleaner.threads (1; <= 0: 1) */
    int64_t backoff_ms;         /* log.cleaner.backoff.ms (15000; <= 0: the default) */
    int64_t dedupe_buffer_size; /* log.cleaner.dedupe.buffer.size: key-map bytes shared
                                 * by all threads (0: SL_CLEANER_MAP_BYTES per thread) */
} br_cleaner_config_t;

typedef struct br_cleaner br_cleaner_t;

/* What the cleaner did since it started (for logs, metrics and tests). */
typedef struct br_cleaner_totals {
    int64_t runs;           /* plans committed */
    int64_t runs_failed;    /* run or commit failed (stale plans included) */
    int64_t runs_abandoned; /* the log closed while the plan was out */
    int64_t bytes_read;
    int64_t bytes_in, bytes_out;
    int64_t records_in, records_out;
} br_cleaner_totals_t;

/* Kafka's defaults (above). */
void br_cleaner_config_default(br_cleaner_config_t *c);

/* Start the cleaner for pm on loop (the pm's loop): its pool, its timer
 * (the first pass after backoff_ms) and the pm's log-closing hook. With
 * enable false nothing runs but the object exists. ST_ERR_INVALID_ARG,
 * ST_ERR_NOMEM, ST_ERR_IO (threads). Free it before pm, or after: when
 * pm is freed first its hook releases every plan and the cleaner goes
 * idle for good. */
st_err_t br_cleaner_new(struct ev_loop *loop, br_pm_t *pm, const br_cleaner_config_t *cfg,
                        br_cleaner_t **out);

/* Stop: abandon queued plans, wait for running ones, free every plan
 * (nothing is committed), unhook from pm. NULL is a no-op. */
void br_cleaner_free(br_cleaner_t *c);

/* One scheduling pass now (the timer calls it; tests drive it). now_ms is
 * the wall clock used for min.compaction.lag.ms and tombstone expiry.
 * Returns how many plans it started. */
int br_cleaner_schedule(br_cleaner_t *c, int64_t now_ms);

/* The partition manager's hook (br_pm_set_log_closing_fn): make sure no
 * plan on log is queued, running or held when it returns. */
void br_cleaner_forget_log(br_cleaner_t *c, sl_log_t *log);

/* Plans prepared and not yet committed or freed. */
int br_cleaner_active(const br_cleaner_t *c);
void br_cleaner_get_totals(const br_cleaner_t *c, br_cleaner_totals_t *out);

/* Fill the compaction fields of cfg from topic config strings (NULL: keep
 * the field as it is): cleanup.policy ("delete", "compact" or both,
 * comma-separated, in any order) -> cleanup_policy bits;
 * delete.retention.ms (>= 0) -> delete_retention_ms;
 * min.cleanable.dirty.ratio ([0, 1]) -> min_cleanable_dirty_ratio;
 * min.compaction.lag.ms (>= 0) -> min_compaction_lag_ms.
 * ST_OK, or ST_ERR_INVALID_CONFIG with err (may be NULL) naming the key;
 * cfg is unchanged then. */
st_err_t br_cleaner_log_config(sl_log_config_t *cfg, const char *cleanup_policy,
                               const char *delete_retention_ms, const char *min_cleanable_dirty_ratio,
                               const char *min_compaction_lag_ms, char *err, size_t errlen);

#endif
