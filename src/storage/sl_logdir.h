/*
 * sl_logdir: one log directory (an entry of log.dirs) holding many
 * partition logs. It owns the directory-wide files of docs/design/DESIGN.md section 3:
 * recovery-point-offset-checkpoint, replication-offset-checkpoint (high
 * watermarks, written by the broker) and the clean-shutdown marker; opens
 * every partition log found, running recovery where the marker is absent.
 * Single-threaded, like sl_log.
 */
#ifndef SL_LOGDIR_H
#define SL_LOGDIR_H

#include <stdint.h>

#include "common/st_err.h"
#include "storage/sl_log.h"

typedef struct sl_logdir sl_logdir_t;

/* Open dir (created if missing). Does not open partitions yet. */
st_err_t sl_logdir_open(const char *dir, sl_logdir_t **out);
/* Close every open log, write checkpoints, write the clean-shutdown
 * marker (when clean is true), free. */
void sl_logdir_close(sl_logdir_t *ld, bool clean);
const char *sl_logdir_path(const sl_logdir_t *ld);

/* Open (creating if needed) the log of topic/partition in this dir. The
 * log stays owned by ld. */
st_err_t sl_logdir_open_log(sl_logdir_t *ld, const char *topic, int32_t partition, const sl_log_config_t *cfg,
                            sl_log_t **out);
/* KIP-516: the topic id recorded in the partition's partition.meta
 * ("topic_id: <id>" line; out "" when the file has none or is missing).
 * A replica whose id differs from its topic's current one belongs to an
 * earlier topic of the same name. */
st_err_t sl_logdir_topic_id(sl_logdir_t *ld, const char *topic, int32_t partition, char *out, size_t n);
/* Record topic_id in partition.meta (written atomically). */
st_err_t sl_logdir_set_topic_id(sl_logdir_t *ld, const char *topic, int32_t partition, const char *topic_id);
/* Find an open log; NULL when not open. */
sl_log_t *sl_logdir_get(sl_logdir_t *ld, const char *topic, int32_t partition);
/* Close one log (partition moved away). */
void sl_logdir_close_log(sl_logdir_t *ld, const char *topic, int32_t partition);
/* Close and delete one log's files (topic deleted). */
st_err_t sl_logdir_delete_log(sl_logdir_t *ld, const char *topic, int32_t partition);
/* Rename the (closed) log of topic/partition to "<topic>-<partition>.stray"
 * (".stray.N" when taken) so that no scan opens it again, and forget it.
 * ST_ERR_INVALID_ARG when the log is open. The name set aside goes to
 * out (may be NULL). */
st_err_t sl_logdir_set_aside(sl_logdir_t *ld, const char *topic, int32_t partition, char *out,
                             size_t out_len);
/* List partition directories present on disk: callback per topic/partition. */
st_err_t sl_logdir_scan(sl_logdir_t *ld, void (*cb)(void *arg, const char *topic, int32_t partition),
                        void *arg);

/* Read-only look at the directory-wide checkpoints of dir (which need not
 * be open, and is not changed: the clean-shutdown marker stays): the
 * recovery point and the high watermark recorded for topic/partition, -1
 * each when not recorded. A malformed checkpoint counts as not recorded
 * (and is logged once). Returns ST_OK or an I/O error. */
st_err_t sl_logdir_peek_checkpoints(const char *dir, const char *topic, int32_t partition, int64_t *rp,
                                    int64_t *hw);

/* Write recovery-point-offset-checkpoint for all open logs. */
st_err_t sl_logdir_checkpoint_recovery(sl_logdir_t *ld);
/* Truncation of an open log (sl_log_truncate_to, and
 * sl_log_truncate_fully_and_start_at when fully) that also writes the
 * lowered recovery point to the checkpoint before it returns: a crash
 * after the cut and new appends then rechecks everything from the cut and
 * rebuilds the epochs written there, instead of trusting unflushed bytes
 * below a recovery point from before the truncation. */
st_err_t sl_logdir_truncate_to(sl_logdir_t *ld, const char *topic, int32_t partition, int64_t offset);
st_err_t sl_logdir_truncate_fully(sl_logdir_t *ld, const char *topic, int32_t partition, int64_t offset);
/* High watermarks: stored in replication-offset-checkpoint. */
st_err_t sl_logdir_set_hw(sl_logdir_t *ld, const char *topic, int32_t partition, int64_t hw);
int64_t sl_logdir_get_hw(sl_logdir_t *ld, const char *topic, int32_t partition); /* -1 unknown */
st_err_t sl_logdir_checkpoint_hw(sl_logdir_t *ld);

#endif
