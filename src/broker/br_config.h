/*
 * br_config: the broker's configuration. Two st_conf tables: the broker
 * properties (server.properties, Kafka's key names where the concept is the
 * same) and the topic-level properties (/config/topics/<t> overrides),
 * whose defaults come from the broker's log.* keys. Produces the
 * sl_log_config_t of a topic and the docs/configuration.md reference.
 * Owns: br_config_t and br_topic_config_t values. Core loop only.
 */
#ifndef BR_CONFIG_H
#define BR_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "common/st_conf.h"
#include "common/st_err.h"
#include "storage/sl_log.h"

typedef struct br_config {
    int64_t broker_id;
    char *listeners;
    char *advertised_listeners;
    char *log_dirs;
    char *zookeeper_connect;
    int64_t zookeeper_session_timeout_ms;
    int64_t zookeeper_connection_timeout_ms;
    char *zookeeper_auth_digest;
    char *broker_rack;
    int64_t num_partitions;
    int64_t default_replication_factor;
    bool auto_create_topics_enable;
    bool delete_topic_enable;
    int64_t message_max_bytes;
    int64_t socket_request_max_bytes;
    int64_t fetch_max_bytes;
    int64_t log_segment_bytes;
    int64_t log_roll_ms;
    int64_t log_retention_ms;
    int64_t log_retention_hours;
    int64_t log_retention_bytes;
    int64_t log_retention_check_interval_ms;
    int64_t log_index_interval_bytes;
    int64_t log_index_size_max_bytes;
    int64_t log_flush_interval_messages;
    int64_t log_flush_interval_ms;
    int64_t min_insync_replicas;
    bool unclean_leader_election_enable;
    int64_t replica_lag_time_max_ms;
    int64_t replica_fetch_wait_max_ms;
    int64_t replica_fetch_max_bytes;
    int64_t replica_fetch_response_max_bytes;
    int64_t replica_fetch_backoff_ms;
    /* controller: shutdown, elections */
    bool controlled_shutdown_enable;
    int64_t controlled_shutdown_max_retries;
    int64_t controlled_shutdown_retry_backoff_ms;
    bool auto_leader_rebalance_enable;
    int64_t leader_imbalance_check_interval_seconds;
    int64_t leader_imbalance_per_broker_percentage;
    /* group coordinator */
    int64_t offsets_topic_num_partitions;
    int64_t offsets_topic_replication_factor;
    int64_t group_initial_rebalance_delay_ms;
    int64_t group_min_session_timeout_ms;
    int64_t group_max_session_timeout_ms;
    int64_t offsets_retention_minutes;
    int64_t offsets_retention_check_interval_ms;
    int64_t offsets_commit_timeout_ms;
    int64_t offset_metadata_max_bytes;
    /* log cleaner and compaction defaults */
    bool log_cleaner_enable;
    int64_t log_cleaner_threads;
    int64_t log_cleaner_backoff_ms;
    int64_t log_cleaner_dedupe_buffer_size;
    char *log_cleanup_policy;
    int64_t log_cleaner_delete_retention_ms;
    char *log_cleaner_min_cleanable_ratio;
    int64_t log_cleaner_min_compaction_lag_ms;
    char *log_file;
    char *log_level;
    char *metrics_listener;       /* metrics.listener: http://host:port, NULL/"" off */
    bool metrics_partition_level; /* metrics.partition.level */
} br_config_t;

typedef struct br_topic_config {
    int64_t segment_bytes;
    int64_t segment_ms;
    int64_t retention_ms;
    int64_t retention_bytes;
    int64_t index_interval_bytes;
    int64_t segment_index_bytes;
    int64_t flush_messages;
    int64_t flush_ms;
    int64_t max_message_bytes;
    char *cleanup_policy;
    int64_t delete_retention_ms;
    char *min_cleanable_dirty_ratio;
    int64_t min_compaction_lag_ms;
    int64_t min_insync_replicas;
    bool unclean_leader_election_enable;
    char *message_timestamp_type;
    int64_t message_timestamp_difference_max_ms;
} br_topic_config_t;

extern const st_conf_prop_t br_config_table[];
extern const st_conf_prop_t br_topic_config_table[];

/* Defaults for every broker key. */
void br_config_init(br_config_t *c);
/* Load path (may be NULL: defaults and overrides only), applying the
 * "key=value" overrides after the file (they win). Checks required keys
 * and cross-key rules; err names the offending key. */
st_err_t br_config_load(br_config_t *c, const char *path, char *const *overrides, size_t n_overrides,
                        char *err, size_t errlen);
void br_config_free(br_config_t *c);

/* Effective retention in ms: log.retention.ms when set, else hours. */
int64_t br_config_retention_ms(const br_config_t *c);

/* Split zookeeper.connect into hosts ("h:p,h:p") and chroot (default
 * /strata, never ending in '/'); both malloc'd. */
st_err_t br_config_zk_connect(const br_config_t *c, char **hosts, char **chroot);

/* Topic config: defaults from the broker config, then overrides
 * (keys/values as in /config/topics/<t>). Unknown keys and bad values give
 * ST_ERR_INVALID_CONFIG with err naming the key. */
void br_topic_config_init(br_topic_config_t *tc, const br_config_t *bc);
st_err_t br_topic_config_apply(br_topic_config_t *tc, char *const *keys, char *const *values, size_t n,
                               char *err, size_t errlen);
void br_topic_config_free(br_topic_config_t *tc);
/* The storage config of a topic. */
void br_topic_config_to_log(const br_topic_config_t *tc, sl_log_config_t *out);

/* Write docs/configuration.md (both tables). */
void br_config_write_docs(FILE *out);

#endif
