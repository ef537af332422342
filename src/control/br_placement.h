/*
 * br_placement: where the replicas of new partitions go, as a pure
 * function of the live brokers (and their racks): round-robin over the
 * brokers ordered by id, rack-aware (alternating racks) when any broker
 * has a rack, from a start index the caller picks (br_admin: at random,
 * as Kafka does). Used by CreateTopics, CreatePartitions and
 * auto-creation; unit-tested. Owns nothing; no I/O.
 */
#ifndef BR_PLACEMENT_H
#define BR_PLACEMENT_H

#include <stddef.h>
#include <stdint.h>

#include "common/st_err.h"

/* Replica assignment: n_parts partitions of rf replicas over
 * brokers[0..n_brokers) (racks[i] may be NULL, racks itself may be NULL),
 * starting at start_index; rack-aware when any rack is set. The first
 * partition is numbered first_partition (CreatePartitions continues the
 * rotation). out[p*rf + j] receives replica j of partition p. Returns
 * ST_ERR_INVALID_REPLICATION_FACTOR when rf <= 0 or rf > n_brokers,
 * ST_ERR_NOMEM. */
st_err_t br_placement_assign(const int32_t *brokers, const char *const *racks, size_t n_brokers,
                             int32_t n_parts, int32_t rf, size_t start_index, int32_t first_partition,
                             int32_t *out);

#endif
