/*
 * br_config: the broker and topic property tables (see br_config.h).
 * Each row is the one place a key's type, default, range and doc line are
 * written; parsing, validation and docs/configuration.md follow from it.
 */
#include "broker/br_config.h"

#include "partition/br_cleaner.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define BC(f) offsetof(br_config_t, f)
#define TC(f) offsetof(br_topic_config_t, f)
#define I64MAX INT64_MAX
#define I32MAX 2147483647

const st_conf_prop_t br_config_table[] = {
    {"broker.id", ST_CONF_INT, NULL, 0, I32MAX, NULL, false, true, "Unique id of this broker in the cluster.",
     BC(broker_id)},
    {"listeners", ST_CONF_LIST, "tcp://127.0.0.1:9092", 0, 0, NULL, false, false,
     "nng URLs the broker listens on, comma-separated.", BC(listeners)},
    {"advertised.listeners", ST_CONF_LIST, NULL, 0, 0, NULL, false, false,
     "URLs published in ZooKeeper for clients and other brokers; defaults to listeners.",
     BC(advertised_listeners)},
    {"log.dirs", ST_CONF_LIST, "/tmp/strata-logs", 0, 0, NULL, false, false,
     "Directories holding the partition logs, comma-separated.", BC(log_dirs)},
    {"zookeeper.connect", ST_CONF_STRING, NULL, 0, 0, NULL, false, true,
     "ZooKeeper ensemble as host:port[,host:port][/chroot]; the chroot defaults to /strata.",
     BC(zookeeper_connect)},
    {"zookeeper.session.timeout.ms", ST_CONF_INT, "18000", 1000, I32MAX, NULL, false, false,
     "ZooKeeper session timeout.", BC(zookeeper_session_timeout_ms)},
    {"zookeeper.connection.timeout.ms", ST_CONF_INT, "18000", 100, I32MAX, NULL, false, false,
     "How long start-up waits for the first ZooKeeper connection before giving up.",
     BC(zookeeper_connection_timeout_ms)},
    {"zookeeper.auth.digest", ST_CONF_STRING, NULL, 0, 0, NULL, false, false,
     "user:password for ZooKeeper digest authentication; znodes then get ACLs (world read, auth all).",
     BC(zookeeper_auth_digest)},
    {"broker.rack", ST_CONF_STRING, NULL, 0, 0, NULL, false, false,
     "Rack of this broker, for rack-aware replica assignment.", BC(broker_rack)},
    {"num.partitions", ST_CONF_INT, "1", 1, 100000, NULL, false, false,
     "Default partition count of new topics.", BC(num_partitions)},
    {"default.replication.factor", ST_CONF_INT, "1", 1, 1000, NULL, false, false,
     "Default replication factor of new topics.", BC(default_replication_factor)},
    {"auto.create.topics.enable", ST_CONF_BOOL, "false", 0, 0, NULL, false, false,
     "Create a topic when a client asks Metadata for it with auto-creation allowed.",
     BC(auto_create_topics_enable)},
    {"delete.topic.enable", ST_CONF_BOOL, "true", 0, 0, NULL, false, false, "Allow DeleteTopics.",
     BC(delete_topic_enable)},
    {"message.max.bytes", ST_CONF_INT, "1048588", 0, I32MAX, NULL, true, false,
     "Largest record batch the broker accepts (default of max.message.bytes).", BC(message_max_bytes)},
    {"socket.request.max.bytes", ST_CONF_INT, "104857600", 1024, I32MAX, NULL, false, false,
     "Largest request message accepted on a listener.", BC(socket_request_max_bytes)},
    {"fetch.max.bytes", ST_CONF_INT, "57671680", 1024, I32MAX, NULL, false, false,
     "Largest fetch response the broker builds.", BC(fetch_max_bytes)},
    {"log.segment.bytes", ST_CONF_INT, "1073741824", 14, I32MAX, NULL, true, false,
     "Segment size before a roll (default of segment.bytes).", BC(log_segment_bytes)},
    {"log.roll.ms", ST_CONF_INT, "604800000", 1, I64MAX, NULL, true, false,
     "Segment age before a roll (default of segment.ms).", BC(log_roll_ms)},
    {"log.retention.ms", ST_CONF_INT, NULL, -1, I64MAX, NULL, true, false,
     "Retention time; -1 keeps forever. When unset, log.retention.hours applies.", BC(log_retention_ms)},
    {"log.retention.hours", ST_CONF_INT, "168", 0, I32MAX, NULL, false, false,
     "Retention time in hours, used when log.retention.ms is unset.", BC(log_retention_hours)},
    {"log.retention.bytes", ST_CONF_INT, "-1", -1, I64MAX, NULL, true, false,
     "Retention size per partition; -1 unlimited (default of retention.bytes).", BC(log_retention_bytes)},
    {"log.retention.check.interval.ms", ST_CONF_INT, "300000", 1, I64MAX, NULL, false, false,
     "How often retention is checked.", BC(log_retention_check_interval_ms)},
    {"log.index.interval.bytes", ST_CONF_INT, "4096", 0, I32MAX, NULL, true, false,
     "Bytes between offset index entries (default of index.interval.bytes).", BC(log_index_interval_bytes)},
    {"log.index.size.max.bytes", ST_CONF_INT, "10485760", 4, I32MAX, NULL, true, false,
     "Maximum size of an offset index (default of segment.index.bytes).", BC(log_index_size_max_bytes)},
    {"log.flush.interval.messages", ST_CONF_INT, "-1", -1, I64MAX, NULL, true, false,
     "Messages between forced fsyncs; -1 never (default of flush.messages).",
     BC(log_flush_interval_messages)},
    {"log.flush.interval.ms", ST_CONF_INT, "-1", -1, I64MAX, NULL, true, false,
     "Time between forced fsyncs; -1 never (default of flush.ms).", BC(log_flush_interval_ms)},
    {"min.insync.replicas", ST_CONF_INT, "1", 1, 1000, NULL, true, false,
     "Minimum ISR size for acks=all produce.", BC(min_insync_replicas)},
    {"unclean.leader.election.enable", ST_CONF_BOOL, "false", 0, 0, NULL, true, false,
     "Allow a replica outside the ISR to become leader (may lose data).", BC(unclean_leader_election_enable)},
    {"replica.lag.time.max.ms", ST_CONF_INT, "30000", 1, I64MAX, NULL, false, false,
     "A follower not caught up for this long leaves the ISR.", BC(replica_lag_time_max_ms)},
    {"replica.fetch.wait.max.ms", ST_CONF_INT, "500", 0, I32MAX, NULL, false, false,
     "Longest a follower's fetch waits at the leader for new data.", BC(replica_fetch_wait_max_ms)},
    {"replica.fetch.max.bytes", ST_CONF_INT, "1048576", 0, I32MAX, NULL, false, false,
     "Bytes a follower asks per partition in one fetch.", BC(replica_fetch_max_bytes)},
    {"replica.fetch.response.max.bytes", ST_CONF_INT, "10485760", 0, I32MAX, NULL, false, false,
     "Largest fetch response a follower asks for.", BC(replica_fetch_response_max_bytes)},
    {"replica.fetch.backoff.ms", ST_CONF_INT, "1000", 0, I32MAX, NULL, false, false,
     "Pause of a follower's partition after a fetch error.", BC(replica_fetch_backoff_ms)},
    {"controlled.shutdown.enable", ST_CONF_BOOL, "true", 0, 0, NULL, false, false,
     "On SIGTERM, ask the controller to move this broker's leaderships away before stopping.",
     BC(controlled_shutdown_enable)},
    {"controlled.shutdown.max.retries", ST_CONF_INT, "3", 0, 1000, NULL, false, false,
     "Controlled-shutdown attempts before the broker stops anyway.", BC(controlled_shutdown_max_retries)},
    {"controlled.shutdown.retry.backoff.ms", ST_CONF_INT, "5000", 0, I32MAX, NULL, false, false,
     "Pause between controlled-shutdown attempts.", BC(controlled_shutdown_retry_backoff_ms)},
    {"auto.leader.rebalance.enable", ST_CONF_BOOL, "true", 0, 0, NULL, false, false,
     "The controller moves leadership back to preferred replicas when a broker's imbalance is too high.",
     BC(auto_leader_rebalance_enable)},
    {"leader.imbalance.check.interval.seconds", ST_CONF_INT, "300", 1, I32MAX, NULL, false, false,
     "How often the controller checks the leader imbalance.", BC(leader_imbalance_check_interval_seconds)},
    {"leader.imbalance.per.broker.percentage", ST_CONF_INT, "10", 0, 100, NULL, false, false,
     "Share of a broker's preferred partitions led elsewhere that triggers a preferred election.",
     BC(leader_imbalance_per_broker_percentage)},
    {"offsets.topic.num.partitions", ST_CONF_INT, "50", 1, 10000, NULL, false, false,
     "Partitions of __consumer_offsets (when it is created).", BC(offsets_topic_num_partitions)},
    {"offsets.topic.replication.factor", ST_CONF_INT, "3", 1, 32767, NULL, false, false,
     "Replication factor of __consumer_offsets (capped at the live broker count when created).",
     BC(offsets_topic_replication_factor)},
    {"group.initial.rebalance.delay.ms", ST_CONF_INT, "3000", 0, I32MAX, NULL, false, false,
     "Wait for more members before the first rebalance of an empty group.",
     BC(group_initial_rebalance_delay_ms)},
    {"group.min.session.timeout.ms", ST_CONF_INT, "6000", 0, I32MAX, NULL, false, false,
     "Smallest session timeout a consumer may ask for.", BC(group_min_session_timeout_ms)},
    {"group.max.session.timeout.ms", ST_CONF_INT, "1800000", 0, I32MAX, NULL, false, false,
     "Largest session timeout a consumer may ask for.", BC(group_max_session_timeout_ms)},
    {"offsets.retention.minutes", ST_CONF_INT, "10080", 1, I32MAX, NULL, false, false,
     "Committed offsets of an empty group are dropped after this long.", BC(offsets_retention_minutes)},
    {"offsets.retention.check.interval.ms", ST_CONF_INT, "600000", 1, I64MAX, NULL, false, false,
     "How often expired offsets are looked for.", BC(offsets_retention_check_interval_ms)},
    {"offsets.commit.timeout.ms", ST_CONF_INT, "5000", 1, I32MAX, NULL, false, false,
     "Longest an offset commit waits for the offsets topic's replicas.", BC(offsets_commit_timeout_ms)},
    {"offset.metadata.max.bytes", ST_CONF_INT, "4096", 0, I32MAX, NULL, false, false,
     "Largest metadata string of a committed offset.", BC(offset_metadata_max_bytes)},
    {"log.cleaner.enable", ST_CONF_BOOL, "true", 0, 0, NULL, false, false,
     "Run the log cleaner (compaction of topics with cleanup.policy=compact).", BC(log_cleaner_enable)},
    {"log.cleaner.threads", ST_CONF_INT, "1", 1, 64, NULL, false, false, "Cleaner threads.",
     BC(log_cleaner_threads)},
    {"log.cleaner.backoff.ms", ST_CONF_INT, "15000", 1, I64MAX, NULL, false, false,
     "Pause between cleaner passes when nothing is dirty enough.", BC(log_cleaner_backoff_ms)},
    {"log.cleaner.dedupe.buffer.size", ST_CONF_INT, "134217728", 0, I64MAX, NULL, false, false,
     "Key-map memory shared by the cleaner threads.", BC(log_cleaner_dedupe_buffer_size)},
    {"log.cleanup.policy", ST_CONF_STRING, "delete", 0, 0, NULL, true, false,
     "delete, compact or compact,delete (default of cleanup.policy).", BC(log_cleanup_policy)},
    {"log.cleaner.delete.retention.ms", ST_CONF_INT, "86400000", 0, I64MAX, NULL, true, false,
     "How long tombstones survive compaction (default of delete.retention.ms).",
     BC(log_cleaner_delete_retention_ms)},
    {"log.cleaner.min.cleanable.ratio", ST_CONF_STRING, "0.5", 0, 0, NULL, true, false,
     "Dirty share of a log that makes it eligible for cleaning (default of min.cleanable.dirty.ratio).",
     BC(log_cleaner_min_cleanable_ratio)},
    {"log.cleaner.min.compaction.lag.ms", ST_CONF_INT, "0", 0, I64MAX, NULL, true, false,
     "Records younger than this are not compacted (default of min.compaction.lag.ms).",
     BC(log_cleaner_min_compaction_lag_ms)},
    {"log.file", ST_CONF_STRING, NULL, 0, 0, NULL, false, false,
     "strata: file for the broker's own log lines (reopened on SIGHUP); stderr when unset.", BC(log_file)},
    {"log.level", ST_CONF_STRING, "info", 0, 0, "debug|info|warn|error", true, false,
     "strata: lowest level of the broker's own log lines.", BC(log_level)},
    {"metrics.listener", ST_CONF_STRING, NULL, 0, 0, NULL, false, false,
     "strata: http://host:port where the broker serves Prometheus metrics (GET /metrics) and GET /healthz "
     "(docs/metrics.md); off when empty.",
     BC(metrics_listener)},
    {"metrics.partition.level", ST_CONF_BOOL, "true", 0, 0, NULL, false, false,
     "strata: export per-partition metrics (log size, offsets, high watermark, group lag); switch off for "
     "brokers with many partitions.",
     BC(metrics_partition_level)},
    {NULL},
};

const st_conf_prop_t br_topic_config_table[] = {
    {"segment.bytes", ST_CONF_INT, "1073741824", 14, I32MAX, NULL, true, false,
     "Segment size before a roll. Default: log.segment.bytes.", TC(segment_bytes)},
    {"segment.ms", ST_CONF_INT, "604800000", 1, I64MAX, NULL, true, false,
     "Segment age before a roll. Default: log.roll.ms.", TC(segment_ms)},
    {"retention.ms", ST_CONF_INT, "604800000", -1, I64MAX, NULL, true, false,
     "Retention time, -1 forever. Default: log.retention.ms / log.retention.hours.", TC(retention_ms)},
    {"retention.bytes", ST_CONF_INT, "-1", -1, I64MAX, NULL, true, false,
     "Retention size per partition, -1 unlimited. Default: log.retention.bytes.", TC(retention_bytes)},
    {"index.interval.bytes", ST_CONF_INT, "4096", 0, I32MAX, NULL, true, false,
     "Bytes between offset index entries. Default: log.index.interval.bytes.", TC(index_interval_bytes)},
    {"segment.index.bytes", ST_CONF_INT, "10485760", 4, I32MAX, NULL, true, false,
     "Maximum offset index size. Default: log.index.size.max.bytes.", TC(segment_index_bytes)},
    {"flush.messages", ST_CONF_INT, "-1", -1, I64MAX, NULL, true, false,
     "Messages between forced fsyncs, -1 never. Default: log.flush.interval.messages.", TC(flush_messages)},
    {"flush.ms", ST_CONF_INT, "-1", -1, I64MAX, NULL, true, false,
     "Time between forced fsyncs, -1 never. Default: log.flush.interval.ms.", TC(flush_ms)},
    {"max.message.bytes", ST_CONF_INT, "1048588", 0, I32MAX, NULL, true, false,
     "Largest record batch. Default: message.max.bytes.", TC(max_message_bytes)},
    {"cleanup.policy", ST_CONF_STRING, "delete", 0, 0, NULL, true, false,
     "delete (retention), compact (keep the last record per key) or compact,delete. Default: "
     "log.cleanup.policy.",
     TC(cleanup_policy)},
    {"delete.retention.ms", ST_CONF_INT, "86400000", 0, I64MAX, NULL, true, false,
     "How long tombstones survive compaction. Default: log.cleaner.delete.retention.ms.",
     TC(delete_retention_ms)},
    {"min.cleanable.dirty.ratio", ST_CONF_STRING, "0.5", 0, 0, NULL, true, false,
     "Dirty share that makes the log eligible for cleaning, in [0, 1]. Default: "
     "log.cleaner.min.cleanable.ratio.",
     TC(min_cleanable_dirty_ratio)},
    {"min.compaction.lag.ms", ST_CONF_INT, "0", 0, I64MAX, NULL, true, false,
     "Records younger than this are not compacted. Default: log.cleaner.min.compaction.lag.ms.",
     TC(min_compaction_lag_ms)},
    {"min.insync.replicas", ST_CONF_INT, "1", 1, 1000, NULL, true, false,
     "Minimum ISR size for acks=all produce. Default: min.insync.replicas.", TC(min_insync_replicas)},
    {"unclean.leader.election.enable", ST_CONF_BOOL, "false", 0, 0, NULL, true, false,
     "Allow unclean leader election. Default: unclean.leader.election.enable.",
     TC(unclean_leader_election_enable)},
    {"message.timestamp.type", ST_CONF_STRING, "CreateTime", 0, 0, "CreateTime|LogAppendTime", true, false,
     "Record timestamps as sent by the producer or set on append.", TC(message_timestamp_type)},
    {"message.timestamp.difference.max.ms", ST_CONF_INT, "9223372036854775807", 0, I64MAX, NULL, true, false,
     "Largest accepted distance between a CreateTime timestamp and the broker clock.",
     TC(message_timestamp_difference_max_ms)},
    {NULL},
};

void br_config_init(br_config_t *c)
{
    memset(c, 0, sizeof *c);
    st_conf_defaults(br_config_table, c);
}

void br_config_free(br_config_t *c)
{
    st_conf_free(br_config_table, c);
}

static st_err_t br_config_apply_overrides(br_config_t *c, char *const *overrides, size_t n, char *err,
                                          size_t errlen)
{
    for (size_t i = 0; i < n; i++) {
        const char *eq = strchr(overrides[i], '=');
        if (!eq) {
            snprintf(err, errlen, "override '%s': expected key=value", overrides[i]);
            return ST_ERR_INVALID_CONFIG;
        }
        char key[256];
        size_t kl = (size_t)(eq - overrides[i]);
        if (kl >= sizeof key)
            kl = sizeof key - 1;
        memcpy(key, overrides[i], kl);
        key[kl] = '\0';
        st_err_t rc = st_conf_set(br_config_table, c, key, eq + 1, err, errlen);
        if (rc != ST_OK)
            return rc == ST_ERR_NOT_FOUND ? ST_ERR_INVALID_CONFIG : rc;
    }
    return ST_OK;
}

st_err_t br_config_load(br_config_t *c, const char *path, char *const *overrides, size_t n_overrides,
                        char *err, size_t errlen)
{
    /* Overrides go first so that required keys they supply count, then
     * again after the file so that they win. */
    st_err_t rc = br_config_apply_overrides(c, overrides, n_overrides, err, errlen);
    if (rc != ST_OK)
        return rc;
    if (path) {
        rc = st_conf_load_file(br_config_table, c, path, false, err, errlen);
        if (rc != ST_OK)
            return rc == ST_ERR_NOT_FOUND ? ST_ERR_INVALID_CONFIG : rc;
    }
    rc = br_config_apply_overrides(c, overrides, n_overrides, err, errlen);
    if (rc != ST_OK)
        return rc;
    for (const st_conf_prop_t *p = br_config_table; p->name; p++) {
        if (!p->required)
            continue;
        char *v = st_conf_get(br_config_table, c, p->name);
        bool missing = !v || !*v;
        free(v);
        if (missing) {
            snprintf(err, errlen, "%s: required configuration key is missing", p->name);
            return ST_ERR_INVALID_CONFIG;
        }
    }
    if (!c->listeners || !*c->listeners) {
        snprintf(err, errlen, "listeners: at least one URL is required");
        return ST_ERR_INVALID_CONFIG;
    }
    if (!c->log_dirs || !*c->log_dirs) {
        snprintf(err, errlen, "log.dirs: at least one directory is required");
        return ST_ERR_INVALID_CONFIG;
    }
    if (c->zookeeper_auth_digest && !strchr(c->zookeeper_auth_digest, ':')) {
        snprintf(err, errlen, "zookeeper.auth.digest: expected user:password");
        return ST_ERR_INVALID_CONFIG;
    }
    char *zc = NULL, *chroot = NULL;
    rc = br_config_zk_connect(c, &zc, &chroot);
    free(zc);
    free(chroot);
    if (rc != ST_OK) {
        snprintf(err, errlen, "zookeeper.connect: expected host:port[,host:port][/chroot]");
        return ST_ERR_INVALID_CONFIG;
    }
    sl_log_config_t lc;
    memset(&lc, 0, sizeof lc);
    char why[128];
    if (br_cleaner_log_config(&lc, c->log_cleanup_policy, NULL, c->log_cleaner_min_cleanable_ratio, NULL, why,
                              sizeof why) != ST_OK) {
        snprintf(err, errlen, "%s: %s",
                 strncmp(why, "cleanup", 7) == 0 ? "log.cleanup.policy" : "log.cleaner.min.cleanable.ratio",
                 why);
        return ST_ERR_INVALID_CONFIG;
    }
    return ST_OK;
}

int64_t br_config_retention_ms(const br_config_t *c)
{
    if (c->log_retention_ms != INT64_MIN)
        return c->log_retention_ms;
    return c->log_retention_hours * 3600000LL;
}

st_err_t br_config_zk_connect(const br_config_t *c, char **connect, char **chroot)
{
    *connect = NULL;
    *chroot = NULL;
    const char *zc = c->zookeeper_connect;
    if (!zc || !*zc)
        return ST_ERR_INVALID_CONFIG;
    const char *slash = strchr(zc, '/');
    size_t hl = slash ? (size_t)(slash - zc) : strlen(zc);
    if (hl == 0 || memchr(zc, ':', hl) == NULL)
        return ST_ERR_INVALID_CONFIG;
    const char *cr = slash && slash[1] ? slash : "/strata";
    size_t cl = strlen(cr);
    while (cl > 1 && cr[cl - 1] == '/')
        cl--;
    if (cl <= 1)
        cr = "/strata", cl = strlen(cr);
    *chroot = strndup(cr, cl);
    *connect = strndup(zc, hl);
    if (!*chroot || !*connect) {
        free(*chroot);
        free(*connect);
        *chroot = *connect = NULL;
        return ST_ERR_NOMEM;
    }
    return ST_OK;
}

void br_topic_config_init(br_topic_config_t *tc, const br_config_t *bc)
{
    memset(tc, 0, sizeof *tc);
    st_conf_defaults(br_topic_config_table, tc);
    tc->segment_bytes = bc->log_segment_bytes;
    tc->segment_ms = bc->log_roll_ms;
    tc->retention_ms = br_config_retention_ms(bc);
    tc->retention_bytes = bc->log_retention_bytes;
    tc->index_interval_bytes = bc->log_index_interval_bytes;
    tc->segment_index_bytes = bc->log_index_size_max_bytes;
    tc->flush_messages = bc->log_flush_interval_messages;
    tc->flush_ms = bc->log_flush_interval_ms;
    tc->max_message_bytes = bc->message_max_bytes;
    tc->min_insync_replicas = bc->min_insync_replicas;
    tc->unclean_leader_election_enable = bc->unclean_leader_election_enable;
    tc->delete_retention_ms = bc->log_cleaner_delete_retention_ms;
    tc->min_compaction_lag_ms = bc->log_cleaner_min_compaction_lag_ms;
    if (bc->log_cleanup_policy) {
        free(tc->cleanup_policy);
        tc->cleanup_policy = strdup(bc->log_cleanup_policy);
    }
    if (bc->log_cleaner_min_cleanable_ratio) {
        free(tc->min_cleanable_dirty_ratio);
        tc->min_cleanable_dirty_ratio = strdup(bc->log_cleaner_min_cleanable_ratio);
    }
}

st_err_t br_topic_config_apply(br_topic_config_t *tc, char *const *keys, char *const *values, size_t n,
                               char *err, size_t errlen)
{
    for (size_t i = 0; i < n; i++) {
        st_err_t rc = st_conf_set(br_topic_config_table, tc, keys[i], values[i], err, errlen);
        if (rc != ST_OK)
            return ST_ERR_INVALID_CONFIG;
    }
    /* the compaction keys have rules st_conf cannot express */
    sl_log_config_t lc;
    memset(&lc, 0, sizeof lc);
    if (br_cleaner_log_config(&lc, tc->cleanup_policy, NULL, tc->min_cleanable_dirty_ratio, NULL, err,
                              errlen) != ST_OK)
        return ST_ERR_INVALID_CONFIG;
    return ST_OK;
}

void br_topic_config_free(br_topic_config_t *tc)
{
    st_conf_free(br_topic_config_table, tc);
}

void br_topic_config_to_log(const br_topic_config_t *tc, sl_log_config_t *out)
{
    memset(out, 0, sizeof *out);
    out->segment_bytes = tc->segment_bytes;
    out->segment_ms = tc->segment_ms;
    out->retention_ms = tc->retention_ms;
    out->retention_bytes = tc->retention_bytes;
    out->index_interval_bytes = (int32_t)tc->index_interval_bytes;
    out->segment_index_bytes = (int32_t)tc->segment_index_bytes;
    out->flush_messages = tc->flush_messages;
    out->flush_ms = tc->flush_ms;
    out->max_message_bytes = (int32_t)tc->max_message_bytes;
    out->file_delete_delay_ms = 60000;
    out->cleanup_policy = SL_CLEANUP_DELETE;
    out->delete_retention_ms = tc->delete_retention_ms;
    out->min_cleanable_dirty_ratio = 0.5;
    out->min_compaction_lag_ms = tc->min_compaction_lag_ms;
    /* validated by br_topic_config_apply; a bad broker default keeps the defaults */
    br_cleaner_log_config(out, tc->cleanup_policy, NULL, tc->min_cleanable_dirty_ratio, NULL, NULL, 0);
}

void br_config_write_docs(FILE *out)
{
    fputs(
        "# strata configuration reference\n\n"
        "<!-- Generated by `stratad --print-config-docs` (`make docs/configuration.md`). Do not edit. -->\n\n"
        "Broker properties are read from the file given with `stratad -c`, one `key=value` per line\n"
        "(`#` starts a comment), and from `--override key=value` options, which win. Keys follow\n"
        "Apache Kafka's where the concept is the same; an unknown key or a bad value stops the broker\n"
        "with a message naming the key. Topic properties are per-topic overrides stored in\n"
        "ZooKeeper under `/config/topics/<topic>` (set with CreateTopics or AlterConfigs); a topic\n"
        "property that is not overridden takes the broker property named in its description.\n\n",
        out);
    st_conf_write_markdown(br_config_table, "Broker properties", out);
    st_conf_write_markdown(br_topic_config_table, "Topic properties", out);
}
