/*
 * br_group_log: the records of the internal topic __consumer_offsets.
 * Each record's key is an encoded strata.CoordinatorKey (an OffsetKey for
 * a committed offset, a GroupKey for a group's metadata); its value an
 * encoded OffsetValue or GroupValue, or null: a tombstone, which log
 * compaction keeps for delete.retention.ms and then drops with every
 * older record of that key. This module adds such records to a batch
 * being built, and loads a partition of the topic back by reading its
 * log from the start and handing each record, in log order, to a
 * visitor (later records win). Owns no state. Core loop only.
 */
#ifndef BR_GROUP_LOG_H
#define BR_GROUP_LOG_H

#include <stddef.h>
#include <stdint.h>

#include "partition/br_pm.h"
#include "common/st_batch.h"
#include "common/st_err.h"
#include "strata.pb-c.h"

#define BR_OFFSETS_TOPIC "__consumer_offsets"

/* Add an offset record (group, topic, partition) -> v to b; v NULL adds
 * the tombstone. ts: the record's timestamp (ms). */
st_err_t br_group_log_add_offset(st_batch_builder_t *b, int64_t ts, const char *group, const char *topic,
                                 int32_t partition, const Strata__OffsetValue *v);
/* Add a group metadata record group -> v to b; v NULL adds the tombstone. */
st_err_t br_group_log_add_group(st_batch_builder_t *b, int64_t ts, const char *group,
                                const Strata__GroupValue *v);

/* What a load reports, record by record, in log order. Values are valid
 * only during the call; NULL value = tombstone. */
typedef struct br_group_log_visitor {
    void (*offset)(void *arg, const char *group, const char *topic, int32_t partition,
                   const Strata__OffsetValue *v);
    void (*group)(void *arg, const char *group, const Strata__GroupValue *v);
    void *arg;
} br_group_log_visitor_t;

/* Counters of one load, for the log line and tests. */
typedef struct br_group_log_stats {
    int64_t records; /* visited */
    int64_t skipped; /* undecodable keys or values (logged, then ignored) */
    int64_t end;     /* offset the load stopped at */
} br_group_log_stats_t;

/* Read partition `partition` of __consumer_offsets hosted in pm from its
 * log start up to `end` (exclusive; -1: the log end) and visit every
 * record. Records that do not decode are skipped and counted, never
 * fatal; a corrupt frame stops the load with ST_ERR_CORRUPT_MESSAGE.
 * Other errors as br_pm_local_read. stats may be NULL. */
st_err_t br_group_log_load(br_pm_t *pm, int32_t partition, int64_t end, const br_group_log_visitor_t *v,
                           br_group_log_stats_t *stats);

#endif
