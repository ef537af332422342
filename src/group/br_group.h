/*
 * br_group: the vocabulary of one consumer group that the coordinator's
 * users share: the coordinator settings (Kafka's names and defaults), the
 * states of Kafka's group state machine, and the mapping of a group to
 * its partition of __consumer_offsets. The groups themselves are private
 * to the coordinator (br_groups.h, br_group_int.h). Owns no state.
 */
#ifndef BR_GROUP_H
#define BR_GROUP_H

#include <stdint.h>

/* Coordinator settings (Kafka's names and defaults). */
typedef struct br_group_config {
    int32_t offsets_topic_num_partitions;        /* offsets.topic.num.partitions (50) */
    int16_t offsets_topic_replication_factor;    /* offsets.topic.replication.factor (3) */
    int32_t group_initial_rebalance_delay_ms;    /* group.initial.rebalance.delay.ms (3000) */
    int32_t group_min_session_timeout_ms;        /* group.min.session.timeout.ms (6000) */
    int32_t group_max_session_timeout_ms;        /* group.max.session.timeout.ms (1800000) */
    int64_t offsets_retention_ms;                /* offsets.retention.minutes (10080) in ms */
    int64_t offsets_retention_check_interval_ms; /* offsets.retention.check.interval.ms (600000) */
    int32_t offsets_commit_timeout_ms;           /* offsets.commit.timeout.ms (5000) */
    int32_t offset_metadata_max_bytes;           /* offset.metadata.max.bytes (4096) */
} br_group_config_t;

/* Kafka's defaults. */
void br_group_config_default(br_group_config_t *c);

/* The offsets partition of group_id among n: Kafka's
 * Utils.abs(groupId.hashCode()) % n, where hashCode is Java's
 * String.hashCode over UTF-16 code units (malformed UTF-8 counts as
 * U+FFFD) and Utils.abs maps INT32_MIN to 0. */
int32_t br_group_partition_for(const char *group_id, int32_t n);

typedef enum br_group_state {
    BR_GS_EMPTY = 0,            /* no members; offsets may remain */
    BR_GS_PREPARING_REBALANCE,  /* waiting for members to (re)join */
    BR_GS_COMPLETING_REBALANCE, /* joined; waiting for the leader's assignment */
    BR_GS_STABLE,               /* assignment handed out; heartbeats flowing */
    BR_GS_DEAD,                 /* being deleted or unloaded; no longer served */
} br_group_state_t;

/* "Empty", "PreparingRebalance", ... (Kafka's names). */
const char *br_group_state_name(br_group_state_t s);

#endif
