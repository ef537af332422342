/*
 * sl_epoch: the leader-epoch cache of one partition (Kafka's KIP-101),
 * a list of (epoch, start offset) in increasing order of both, persisted
 * in the leader-epoch-checkpoint file of the partition directory:
 *
 *   0              format version
 *   <n>            number of entries
 *   <epoch> <start offset>     n lines
 *
 * Written temp -> fsync -> rename. Assignments only change memory and
 * mark the cache dirty (no fsync per leader change, as in Kafka 3.7); the
 * owning sl_log writes it on flush and close, and rebuilds what a crash
 * lost from the batch headers (docs/storage.md, "Leader epochs").
 * Truncations are written at once. Owned by one sl_log.
 */
#ifndef SL_EPOCH_H
#define SL_EPOCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/st_err.h"

typedef struct sl_epoch_entry {
    int32_t epoch;
    int64_t start;
} sl_epoch_entry_t;

typedef struct sl_epoch_cache {
    char *path; /* the checkpoint file */
    sl_epoch_entry_t *ents;
    size_t n, cap;
    bool dirty; /* memory differs from the file */
} sl_epoch_cache_t;

/* Load path (a missing file is an empty cache; a malformed one is
 * ST_ERR_CORRUPT and an empty cache, the caller logs and goes on). */
st_err_t sl_epoch_load(sl_epoch_cache_t *c, const char *path);
void sl_epoch_free(sl_epoch_cache_t *c);
/* Write the checkpoint file atomically; clears dirty on success. */
st_err_t sl_epoch_save(sl_epoch_cache_t *c);
/* sl_epoch_save when dirty, else nothing. */
st_err_t sl_epoch_checkpoint(sl_epoch_cache_t *c);

/* Record that epoch starts at start. No-op when epoch is the latest
 * already; entries with epoch >= epoch or start >= start are replaced.
 * Memory only: marks the cache dirty when something changed (a cache
 * without a path, a scratch list, works too). */
st_err_t sl_epoch_assign(sl_epoch_cache_t *c, int32_t epoch, int64_t start);
/* Epoch of the entry covering offset (largest start <= offset), -1 when
 * none. */
int32_t sl_epoch_at(const sl_epoch_cache_t *c, int64_t offset);
/* Latest epoch, -1 when empty. */
int32_t sl_epoch_latest(const sl_epoch_cache_t *c);
/* KIP-101: largest epoch <= epoch and its end offset (next entry's start,
 * or log_end for the latest); -1/-1 when epoch is older than every entry
 * or the cache is empty. */
void sl_epoch_end_offset(const sl_epoch_cache_t *c, int32_t epoch, int64_t log_end, int32_t *epoch_out,
                         int64_t *end_offset);
/* Drop entries starting at or after offset (log truncated to offset).
 * This and the two below write the file (pending assignments too) when
 * something changed. */
st_err_t sl_epoch_truncate_end(sl_epoch_cache_t *c, int64_t offset);
/* Log start moved to offset: drop entries wholly below it, the last one
 * below keeps its epoch with start = offset. */
st_err_t sl_epoch_truncate_start(sl_epoch_cache_t *c, int64_t offset);
/* Remove everything. */
st_err_t sl_epoch_clear(sl_epoch_cache_t *c);

#endif
