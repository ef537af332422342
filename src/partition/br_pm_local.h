/*
 * br_pm_local: what the partition manager offers to services inside the
 * broker that use a hosted partition as their own store (the group
 * coordinator and __consumer_offsets): append a batch built here as
 * leader and learn when the high watermark passes it, read frames of a
 * hosted partition, query its role and offsets, and hear about role
 * changes. Built on br_pm_int.h (the manager's internals) so the data
 * plane's files stay untouched but for one hook: br_pm.c calls
 * br_pm_local_role_changed() wherever a replica's role or leader epoch
 * changes. Owns: the role-listener registry and the pending local
 * appends. Core loop only.
 */
#ifndef BR_PM_LOCAL_H
#define BR_PM_LOCAL_H

#include <stddef.h>
#include <stdint.h>

#include "partition/br_pm.h"
#include "common/st_batch.h"
#include "common/st_err.h"

/* A replica's role or leader epoch changed (old_role -> new_role; both
 * BR_ROLE_NONE after br_pm_stop, which passes new_role NONE just before
 * the replica goes away). Called synchronously from inside
 * br_pm_apply_state / br_pm_stop / br_pm_resign_all: the listener must
 * not call those back; it may read the partition (br_pm_local_*) and
 * schedule work. topic is valid only during the call. */
typedef void (*br_pm_role_fn)(void *arg, const char *topic, int32_t partition, br_role_t old_role,
                              br_role_t new_role, int32_t leader_epoch);

/* Register a role listener (several may be; each (fn, arg) once).
 * ST_ERR_NOMEM, ST_ERR_EXISTS. Remove it before pm is freed. */
st_err_t br_pm_add_role_fn(br_pm_t *pm, br_pm_role_fn fn, void *arg);
/* Remove a listener; no-op when absent. */
void br_pm_remove_role_fn(br_pm_t *pm, br_pm_role_fn fn, void *arg);
/* The hook br_pm.c calls; fires every listener of pm. */
void br_pm_local_role_changed(br_pm_t *pm, const char *topic, int32_t partition, br_role_t old_role,
                              br_role_t new_role, int32_t leader_epoch);

/* One hosted replica as seen right now. */
typedef struct br_pm_part_info {
    br_role_t role;
    int32_t leader_epoch;
    int64_t log_start;
    int64_t log_end;
    int64_t hw;
} br_pm_part_info_t;

/* Fill *out for topic/partition. ST_ERR_UNKNOWN_TOPIC_OR_PARTITION when
 * it is not hosted here. */
st_err_t br_pm_local_info(br_pm_t *pm, const char *topic, int32_t partition, br_pm_part_info_t *out);

/* Append to `out` whole frames of a hosted replica from the one holding
 * `offset`, at most max_bytes (at least one frame), never at or past
 * max_offset (-1: log end). Errors: UNKNOWN_TOPIC_OR_PARTITION,
 * KAFKA_STORAGE_ERROR (offline), OFFSET_OUT_OF_RANGE, ST_ERR_IO. */
st_err_t br_pm_local_read(br_pm_t *pm, const char *topic, int32_t partition, int64_t offset, size_t max_bytes,
                          int64_t max_offset, st_buf_t *out);

/* Outcome of a local append: err ST_OK once the high watermark passed
 * the whole batch (acks=all), else NOT_LEADER_OR_FOLLOWER (leadership
 * lost, or the manager is closing), UNKNOWN_TOPIC_OR_PARTITION (replica
 * stopped), KAFKA_STORAGE_ERROR or REQUEST_TIMED_OUT. base_offset is the
 * batch's first offset (-1 when it was never appended). */
typedef void (*br_pm_append_fn)(void *arg, st_err_t err, int64_t base_offset);

/* Append one frame built with st_batch_builder (its base offset and
 * epoch are stamped here) to topic/partition as leader, acks=all: fn is
 * called exactly once when the HW passes the batch, on failure, or after
 * timeout_ms. fn may run before this function returns (a single-replica
 * ISR), so set up whatever fn uses before calling. Returns an error
 * without calling fn when the append cannot start: UNKNOWN_TOPIC_OR_
 * PARTITION, NOT_LEADER_OR_FOLLOWER, NOT_ENOUGH_REPLICAS (ISR below
 * min.insync.replicas), KAFKA_STORAGE_ERROR, MESSAGE_TOO_LARGE,
 * CORRUPT_MESSAGE, ST_ERR_NOMEM. */
st_err_t br_pm_local_append(br_pm_t *pm, const char *topic, int32_t partition, uint8_t *frame, size_t len,
                            int64_t timeout_ms, br_pm_append_fn fn, void *arg);

#endif
