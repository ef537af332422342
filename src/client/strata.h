/*
 * strata.h: the public C API of libstrata, the client library of the
 * strata event-streaming broker (pkg-config: libstrata). Three handle
 * types share one configuration object: a producer (asynchronous,
 * batching, Kafka's default partitioner), a consumer (explicit
 * assignment, or membership of a consumer group with commits) and an
 * admin client (topics, configs, cluster metadata, reassignments,
 * consumer-group administration). Handles are opaque. Each handle owns
 * one internal I/O thread plus nng's own threads; the calls below never
 * block on the network except the ones that take a timeout (flush,
 * close, poll and the admin calls). See docs/client.md for a guide and
 * every property.
 *
 * Threads: a producer may be used from any number of threads at once.
 * A consumer is used from one thread at a time. Admin calls are
 * thread-safe. Delivery callbacks run on the producer's I/O thread.
 */
#ifndef STRATA_H
#define STRATA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------ errors */

/* Error codes. Values >= -1 are the wire codes of proto/strata.proto
 * (Kafka's numbering; every strata.ErrorCode value is named here, with the
 * same value as in the proto); values <= -100 are local conditions. */
typedef enum strata_err {
    STRATA_OK = 0,
    STRATA_ERR_UNKNOWN_SERVER_ERROR = -1,
    STRATA_ERR_OFFSET_OUT_OF_RANGE = 1,
    STRATA_ERR_CORRUPT_MESSAGE = 2,
    STRATA_ERR_UNKNOWN_TOPIC_OR_PARTITION = 3,
    STRATA_ERR_INVALID_FETCH_SIZE = 4,
    STRATA_ERR_LEADER_NOT_AVAILABLE = 5,
    STRATA_ERR_NOT_LEADER_OR_FOLLOWER = 6,
    STRATA_ERR_REQUEST_TIMED_OUT = 7,
    STRATA_ERR_BROKER_NOT_AVAILABLE = 8,
    STRATA_ERR_REPLICA_NOT_AVAILABLE = 9,
    STRATA_ERR_MESSAGE_TOO_LARGE = 10,
    STRATA_ERR_STALE_CONTROLLER_EPOCH = 11,
    STRATA_ERR_OFFSET_METADATA_TOO_LARGE = 12,
    STRATA_ERR_NETWORK_EXCEPTION = 13,
    STRATA_ERR_COORDINATOR_LOAD_IN_PROGRESS = 14,
    STRATA_ERR_COORDINATOR_NOT_AVAILABLE = 15,
    STRATA_ERR_NOT_COORDINATOR = 16,
    STRATA_ERR_INVALID_TOPIC_EXCEPTION = 17,
    STRATA_ERR_RECORD_LIST_TOO_LARGE = 18,
    STRATA_ERR_NOT_ENOUGH_REPLICAS = 19,
    STRATA_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND = 20,
    STRATA_ERR_INVALID_REQUIRED_ACKS = 21,
    STRATA_ERR_ILLEGAL_GENERATION = 22,
    STRATA_ERR_INCONSISTENT_GROUP_PROTOCOL = 23,
    STRATA_ERR_INVALID_GROUP_ID = 24,
    STRATA_ERR_UNKNOWN_MEMBER_ID = 25,
    STRATA_ERR_INVALID_SESSION_TIMEOUT = 26,
    STRATA_ERR_REBALANCE_IN_PROGRESS = 27,
    STRATA_ERR_INVALID_COMMIT_OFFSET_SIZE = 28,
    STRATA_ERR_TOPIC_AUTHORIZATION_FAILED = 29,
    STRATA_ERR_GROUP_AUTHORIZATION_FAILED = 30,
    STRATA_ERR_CLUSTER_AUTHORIZATION_FAILED = 31,
    STRATA_ERR_INVALID_TIMESTAMP = 32,
    STRATA_ERR_UNSUPPORTED_VERSION = 35,
    STRATA_ERR_TOPIC_ALREADY_EXISTS = 36,
    STRATA_ERR_INVALID_PARTITIONS = 37,
    STRATA_ERR_INVALID_REPLICATION_FACTOR = 38,
    STRATA_ERR_INVALID_REPLICA_ASSIGNMENT = 39,
    STRATA_ERR_INVALID_CONFIG = 40,
    STRATA_ERR_NOT_CONTROLLER = 41,
    STRATA_ERR_INVALID_REQUEST = 42,
    STRATA_ERR_POLICY_VIOLATION = 44,
    STRATA_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER = 45,
    STRATA_ERR_DUPLICATE_SEQUENCE_NUMBER = 46,
    STRATA_ERR_INVALID_PRODUCER_EPOCH = 47,
    STRATA_ERR_KAFKA_STORAGE_ERROR = 56,
    STRATA_ERR_UNKNOWN_PRODUCER_ID = 59,
    STRATA_ERR_NON_EMPTY_GROUP = 68,
    STRATA_ERR_GROUP_ID_NOT_FOUND = 69,
    STRATA_ERR_FENCED_LEADER_EPOCH = 74,
    STRATA_ERR_UNKNOWN_LEADER_EPOCH = 75,
    STRATA_ERR_STALE_BROKER_EPOCH = 77,
    STRATA_ERR_OFFSET_NOT_AVAILABLE = 78,
    STRATA_ERR_MEMBER_ID_REQUIRED = 79,
    STRATA_ERR_PREFERRED_LEADER_NOT_AVAILABLE = 80,
    STRATA_ERR_GROUP_MAX_SIZE_REACHED = 81,
    STRATA_ERR_FENCED_INSTANCE_ID = 82,
    STRATA_ERR_ELIGIBLE_LEADERS_NOT_AVAILABLE = 83,
    STRATA_ERR_ELECTION_NOT_NEEDED = 84,
    STRATA_ERR_INVALID_RECORD = 87,
    STRATA_ERR_THROTTLING_QUOTA_EXCEEDED = 89,
    /* local conditions */
    STRATA_ERR_IO = -100,
    STRATA_ERR_NOMEM = -102,
    STRATA_ERR_INVALID_ARG = -103,
    STRATA_ERR_NOT_FOUND = -104,
    STRATA_ERR_TIMEOUT = -107,    /* the call's own timeout expired */
    STRATA_ERR_CONNECTION = -108, /* no broker reachable */
    STRATA_ERR_CLOSED = -109,     /* handle is closing */
    STRATA_ERR_STATE = -110,
    STRATA_ERR_QUEUE_FULL = -120,    /* producer buffer full for max.block.ms */
    STRATA_ERR_PARTITION_EOF = -121, /* consumer reached the end of a partition (event) */
} strata_err_t;

/* Upper-case name of an error code ("NOT_LEADER_OR_FOLLOWER"); never NULL. */
const char *strata_err_name(strata_err_t err);
/* True when the operation may succeed if retried later. */
bool strata_err_retriable(strata_err_t err);
/* The library version, "MAJOR.MINOR.PATCH". */
const char *strata_version(void);

/* ---------------------------------------------------- configuration */

typedef struct strata_conf strata_conf_t;

/* A configuration with every property at its default; NULL on ENOMEM. */
strata_conf_t *strata_conf_new(void);
/* Deep copy; NULL on ENOMEM. */
strata_conf_t *strata_conf_dup(const strata_conf_t *conf);
void strata_conf_free(strata_conf_t *conf);
/* Set property `key` from text (Kafka's property names, e.g.
 * "bootstrap.servers", "linger.ms", "acks"=0|1|-1|all). Returns STRATA_OK,
 * STRATA_ERR_NOT_FOUND for an unknown key or STRATA_ERR_INVALID_CONFIG for
 * a bad value; errstr (errlen bytes, may be NULL) receives a message. */
strata_err_t strata_conf_set(strata_conf_t *conf, const char *key, const char *value, char *errstr,
                             size_t errlen);
/* Current value of key as malloc'd text (free()), NULL when unknown. */
char *strata_conf_get(const strata_conf_t *conf, const char *key);
/* Write the Markdown reference of every client property to out. */
void strata_conf_write_markdown(FILE *out);
/* Statistics, like librdkafka's statistics.interval.ms: with that property
 * > 0, every producer, consumer and admin client made from conf calls cb
 * with a JSON object (NUL-terminated, valid during the call) every
 * statistics.interval.ms, on the client's I/O thread; cb must not block
 * and must not call back into the same client. The fields are listed in
 * docs/client.md ("Statistics"). cb NULL turns them off. */
typedef void (*strata_stats_cb)(const char *json, void *opaque);
void strata_conf_set_stats_cb(strata_conf_t *conf, strata_stats_cb cb, void *opaque);

/* ------------------------------------------------------------ records */

/* A record header. key need not be NUL-terminated. */
typedef struct strata_header {
    const char *key;
    size_t key_len;
    const void *value; /* NULL = null value */
    size_t value_len;
} strata_header_t;

/* ----------------------------------------------------------- producer */

typedef struct strata_producer strata_producer_t;

/* What happened to one record: err is STRATA_OK and offset its offset
 * (-1 with acks=0), or the error that made the producer give up. */
typedef struct strata_delivery {
    strata_err_t err;
    const char *topic;
    int32_t partition;
    int64_t offset;
    int64_t timestamp;
} strata_delivery_t;

/* Called once per record on the producer's I/O thread. It must not block
 * and must not call strata_producer_flush/close; it may call send. */
typedef void (*strata_delivery_cb)(const strata_delivery_t *dr, void *opaque);

/* Create a producer from conf (copied; the caller keeps and frees conf).
 * Never blocks: brokers are dialled in the background. Returns NULL and
 * a message in errstr on a bad configuration (e.g. enable.idempotence=true
 * set together with acks other than all).
 *
 * Idempotence (enable.idempotence, default true as in Kafka 3.x; quietly
 * off when left at its default while acks is not all, retries is 0 or
 * max.in.flight.requests.per.connection > 5): the producer gets a
 * producer id before its first send and numbers each partition's batches,
 * so retries never duplicate or reorder records. Fenced by a newer epoch
 * (INVALID_PRODUCER_EPOCH, wire code 47) it fails every queued record and
 * every later send with that error. */
strata_producer_t *strata_producer_new(const strata_conf_t *conf, char *errstr, size_t errlen);

/* Queue one record. partition -1 lets the partitioner choose (murmur2 of
 * the key, sticky partitioning for keyless records). key/value NULL mean
 * null; all bytes are copied before return. timestamp 0 or negative = now
 * (ms since the epoch). cb may be NULL. Waits up to max.block.ms when the
 * buffer (buffer.memory) is full, then returns STRATA_ERR_QUEUE_FULL.
 * Other errors: STRATA_ERR_INVALID_ARG, STRATA_ERR_MESSAGE_TOO_LARGE,
 * STRATA_ERR_CLOSED. Errors found later go to the delivery callback. */
strata_err_t strata_producer_send(strata_producer_t *p, const char *topic, int32_t partition, const void *key,
                                  size_t key_len, const void *value, size_t value_len,
                                  const strata_header_t *headers, size_t n_headers, int64_t timestamp,
                                  strata_delivery_cb cb, void *opaque);

/* Send everything queued now (ignoring linger.ms) and wait until every
 * record has had its delivery callback, or timeout_ms (-1 = forever).
 * STRATA_OK, or STRATA_ERR_TIMEOUT with records still outstanding. */
strata_err_t strata_producer_flush(strata_producer_t *p, int timeout_ms);

/* Records queued or in flight (not yet reported). */
size_t strata_producer_outstanding(strata_producer_t *p);

/* Flush for up to timeout_ms, fail what remains with STRATA_ERR_TIMEOUT
 * (their callbacks run), stop the I/O thread and free p. Returns STRATA_OK
 * when everything was delivered, else STRATA_ERR_TIMEOUT. */
strata_err_t strata_producer_close(strata_producer_t *p, int timeout_ms);

/* ----------------------------------------------------------- consumer */

typedef struct strata_consumer strata_consumer_t;

#define STRATA_OFFSET_END (-1)       /* the next record to be written */
#define STRATA_OFFSET_BEGINNING (-2) /* the first record still stored */

/* One partition of an assignment and where to start reading. */
typedef struct strata_tp {
    const char *topic;
    int32_t partition;
    int64_t offset; /* >= 0, STRATA_OFFSET_BEGINNING or STRATA_OFFSET_END */
} strata_tp_t;

/* What strata_consumer_poll hands back. Pointers stay valid until the
 * next poll, seek, assign or close on the same consumer. */
typedef struct strata_message {
    strata_err_t err; /* STRATA_OK: a record; else an event or error */
    const char *topic;
    int32_t partition;
    int64_t offset; /* the record's offset; for PARTITION_EOF the end offset */
    int64_t timestamp;
    const void *key; /* NULL = null key */
    size_t key_len;
    const void *value; /* NULL = null value */
    size_t value_len;
    const strata_header_t *headers;
    size_t n_headers;
} strata_message_t;

/* Create a consumer from conf (copied). Returns NULL with errstr filled on
 * a bad configuration. */
strata_consumer_t *strata_consumer_new(const strata_conf_t *conf, char *errstr, size_t errlen);

/* Replace the assignment with these n partitions (n = 0 clears it). */
strata_err_t strata_consumer_assign(strata_consumer_t *c, const strata_tp_t *tps, size_t n);

/* Move an assigned partition to offset (>= 0, STRATA_OFFSET_BEGINNING or
 * STRATA_OFFSET_END); records already queued for it are dropped.
 * STRATA_ERR_NOT_FOUND when the partition is not assigned. */
strata_err_t strata_consumer_seek(strata_consumer_t *c, const char *topic, int32_t partition, int64_t offset);
/* Move to the first record with a timestamp >= timestamp_ms (ListOffsets);
 * to the end when there is none. */
strata_err_t strata_consumer_seek_timestamp(strata_consumer_t *c, const char *topic, int32_t partition,
                                            int64_t timestamp_ms);

/* Wait up to timeout_ms (-1 = forever) for the next record or event.
 * STRATA_OK with *msg set (msg->err tells a record, STRATA_OK, from an event:
 * STRATA_ERR_PARTITION_EOF when enable.partition.eof=true, or a partition
 * error such as OFFSET_OUT_OF_RANGE with auto.offset.reset=none, after
 * which that partition stops until seek); STRATA_ERR_TIMEOUT when nothing
 * came. */
strata_err_t strata_consumer_poll(strata_consumer_t *c, int timeout_ms, const strata_message_t **msg);

/* Low (log start) and high (high watermark) offsets of a partition, asked
 * from its leader (ListOffsets). Blocks up to timeout_ms. */
strata_err_t strata_consumer_query_watermarks(strata_consumer_t *c, const char *topic, int32_t partition,
                                              int64_t *low, int64_t *high, int timeout_ms);

/* Stop fetching and free c. Waits for a fetch still in flight to end
 * (at most fetch.max.wait.ms when the broker is healthy). A group member
 * first commits its positions (enable.auto.commit=true), runs the revoked
 * callback and, unless it is a static member (group.instance.id), sends
 * LeaveGroup so the group rebalances at once instead of after
 * session.timeout.ms. */
void strata_consumer_close(strata_consumer_t *c);

/* ----------------------------------------------------- consumer groups
 * With group.id set, a consumer may subscribe instead of assign: the
 * group's coordinator (FindCoordinator) and the members' assignor
 * (partition.assignment.strategy, default "range,cooperative-sticky" as in
 * Kafka 3.x) decide which partitions it reads. Rebalance callbacks,
 * commits and offset look-ups run on the application thread inside the
 * calls below and inside poll(). See docs/client.md. */

/* Subscribe to n topics (replacing any earlier subscription). A name
 * starting with '^' is a POSIX extended regular expression matched
 * against every topic name (internal "__" topics only when named
 * literally); topics created later that match are picked up at the next
 * metadata refresh (metadata.max.age.ms). STRATA_ERR_INVALID_CONFIG
 * without group.id, STRATA_ERR_INVALID_ARG for a bad pattern,
 * STRATA_ERR_STATE after assign(). */
strata_err_t strata_consumer_subscribe(strata_consumer_t *c, const char *const *topics, size_t n);
/* Leave the group (commit and revoke first, as close does) and forget
 * the subscription. */
strata_err_t strata_consumer_unsubscribe(strata_consumer_t *c);

typedef enum strata_rebalance_event {
    STRATA_REBALANCE_ASSIGNED, /* these partitions are now yours */
    STRATA_REBALANCE_REVOKED,  /* give these back: commit what you need now */
    STRATA_REBALANCE_LOST,     /* already owned by someone else: do not commit */
} strata_rebalance_event_t;

/* Called from poll(), unsubscribe() or close() on the application thread
 * with the partitions concerned (n may be 0 for ASSIGNED after an eager
 * rebalance). The callback may call commit, committed, position, seek,
 * pause and resume; not poll or close. With eager assignors every
 * rebalance revokes everything and assigns everything again; with
 * cooperative-sticky only moved partitions are revoked or assigned. */
typedef void (*strata_rebalance_cb)(strata_consumer_t *c, strata_rebalance_event_t ev, const strata_tp_t *tps,
                                    size_t n, void *opaque);
void strata_consumer_set_rebalance_cb(strata_consumer_t *c, strata_rebalance_cb cb, void *opaque);

/* One offset to commit: the NEXT record to read (last processed + 1). */
typedef struct strata_commit {
    const char *topic;
    int32_t partition;
    int64_t offset;
    const char *metadata; /* stored with the offset; NULL = "" */
} strata_commit_t;

/* Result of an asynchronous commit, on the consumer's I/O thread: err of
 * the request (the first partition error when the request went through). */
typedef void (*strata_commit_cb)(strata_consumer_t *c, strata_err_t err, void *opaque);

/* Commit offsets to the group coordinator. offsets NULL (n = 0) commits
 * the current position of every assigned partition that moved since the
 * last commit. Synchronous (cb NULL and async false): waits up to
 * request.timeout.ms, retrying after a coordinator change; errors:
 * REBALANCE_IN_PROGRESS / ILLEGAL_GENERATION / UNKNOWN_MEMBER_ID (the
 * group moved on: the partitions may belong to someone else now),
 * STRATA_ERR_INVALID_CONFIG without group.id. async: queued and answered
 * to cb (may be NULL). */
strata_err_t strata_consumer_commit(strata_consumer_t *c, const strata_commit_t *offsets, size_t n,
                                    bool async, strata_commit_cb cb, void *opaque);

/* The committed offset of a partition (-1 when none) and its metadata
 * (malloc'd, free(); metadata may be NULL), asked from the coordinator. */
strata_err_t strata_consumer_committed(strata_consumer_t *c, const char *topic, int32_t partition,
                                       int64_t *offset, char **metadata, int timeout_ms);

/* The offset of the next record poll() returns for an assigned partition.
 * STRATA_ERR_NOT_FOUND when not assigned, STRATA_ERR_STATE while the
 * starting offset is still being looked up. */
strata_err_t strata_consumer_position(strata_consumer_t *c, const char *topic, int32_t partition,
                                      int64_t *offset);

/* Records between the position and the high watermark the last fetch
 * saw (no request is sent). STRATA_ERR_STATE when either is unknown. */
strata_err_t strata_consumer_lag(strata_consumer_t *c, const char *topic, int32_t partition, int64_t *lag);

/* Stop / restart fetching n assigned partitions (offset ignored). Records
 * of a paused partition are not returned; its position stays. A
 * rebalance keeps the pause on partitions that stay assigned. */
strata_err_t strata_consumer_pause(strata_consumer_t *c, const strata_tp_t *tps, size_t n);
strata_err_t strata_consumer_resume(strata_consumer_t *c, const strata_tp_t *tps, size_t n);

/* The current assignment as a malloc'd array (free with
 * strata_tp_list_free); topics point into the array's own storage. */
strata_err_t strata_consumer_assignment(strata_consumer_t *c, strata_tp_t **tps, size_t *n);
void strata_tp_list_free(strata_tp_t *tps, size_t n);

/* The first offset of partition with a timestamp >= timestamp_ms, or -1
 * when there is none (ListOffsets). */
strata_err_t strata_consumer_offset_for_time(strata_consumer_t *c, const char *topic, int32_t partition,
                                             int64_t timestamp_ms, int64_t *offset, int timeout_ms);

/* -------------------------------------------------------------- admin */

typedef struct strata_admin strata_admin_t;

/* Create an admin client from conf (copied). */
strata_admin_t *strata_admin_new(const strata_conf_t *conf, char *errstr, size_t errlen);
void strata_admin_free(strata_admin_t *a);

/* Create a topic. partitions / replication_factor -1 = broker defaults;
 * configs is an array of n_configs "key=value" strings. Waits up to
 * timeout_ms. On a broker error, errmsg (may be NULL) gets its message. */
strata_err_t strata_admin_create_topic(strata_admin_t *a, const char *name, int32_t partitions,
                                       int32_t replication_factor, const char *const *configs,
                                       size_t n_configs, int timeout_ms, char *errmsg, size_t errlen);
strata_err_t strata_admin_delete_topic(strata_admin_t *a, const char *name, int timeout_ms, char *errmsg,
                                       size_t errlen);
/* Grow a topic to total_partitions partitions. */
strata_err_t strata_admin_create_partitions(strata_admin_t *a, const char *name, int32_t total_partitions,
                                            int timeout_ms, char *errmsg, size_t errlen);

typedef enum strata_resource {
    STRATA_RESOURCE_TOPIC = 2,
    STRATA_RESOURCE_BROKER = 4,
} strata_resource_t;

typedef struct strata_config_entry {
    const char *name;
    const char *value;
    bool is_default;
    bool read_only;
    const char *source; /* "default", "static", "topic", "dynamic-broker" */
    const char *doc;
} strata_config_entry_t;

typedef struct strata_config_list strata_config_list_t;

/* Describe the configuration of a topic or broker (name = topic name or
 * broker id as text). *out must be freed with strata_config_list_free. */
strata_err_t strata_admin_describe_configs(strata_admin_t *a, strata_resource_t type, const char *name,
                                           int timeout_ms, strata_config_list_t **out, char *errmsg,
                                           size_t errlen);
size_t strata_config_list_count(const strata_config_list_t *l);
const strata_config_entry_t *strata_config_list_get(const strata_config_list_t *l, size_t i);
void strata_config_list_free(strata_config_list_t *l);

/* Set the n_set "key=value" entries and delete the n_del keys (back to
 * their defaults) of one resource, incrementally. */
strata_err_t strata_admin_alter_configs(strata_admin_t *a, strata_resource_t type, const char *name,
                                        const char *const *set, size_t n_set, const char *const *del,
                                        size_t n_del, int timeout_ms, char *errmsg, size_t errlen);

typedef struct strata_broker_info {
    int32_t id;
    const char *host;
    int32_t port;
    const char *url;  /* nng URL */
    const char *rack; /* "" when none */
} strata_broker_info_t;

typedef struct strata_partition_info {
    int32_t id;
    strata_err_t err;
    int32_t leader; /* -1: offline (no leader) */
    int32_t leader_epoch;
    const int32_t *replicas;
    size_t n_replicas;
    const int32_t *isr;
    size_t n_isr;
    const int32_t *offline_replicas;
    size_t n_offline_replicas;
} strata_partition_info_t;

typedef struct strata_topic_info {
    const char *name;
    strata_err_t err;
    const char *topic_id;
    bool internal;
    const strata_partition_info_t *partitions;
    size_t n_partitions;
} strata_topic_info_t;

typedef struct strata_metadata {
    const char *cluster_id;
    int32_t controller_id; /* -1: none */
    const strata_broker_info_t *brokers;
    size_t n_brokers;
    const strata_topic_info_t *topics;
    size_t n_topics;
} strata_metadata_t;

/* Cluster metadata for the n named topics (n = 0: all topics), from any
 * broker. Free with strata_metadata_free. */
strata_err_t strata_admin_metadata(strata_admin_t *a, const char *const *topics, size_t n, int timeout_ms,
                                   strata_metadata_t **out);
void strata_metadata_free(strata_metadata_t *md);
/* Partition with fewer in-sync replicas than replicas. */
bool strata_partition_under_replicated(const strata_partition_info_t *p);
/* Partition without a leader. */
bool strata_partition_offline(const strata_partition_info_t *p);

/* --- leader elections and partition reassignment (controller calls) --- */

typedef enum strata_election_type {
    STRATA_ELECTION_PREFERRED = 0, /* move leadership back to the first replica */
    STRATA_ELECTION_UNCLEAN = 1,   /* a leaderless partition may take an out-of-sync replica */
} strata_election_type_t;

/* One partition of a topic; partition -1 = every partition of the topic
 * (looked up in the metadata first). */
typedef struct strata_topic_partition {
    const char *topic;
    int32_t partition;
} strata_topic_partition_t;

/* Outcome for one partition of an election or reassignment request. */
typedef struct strata_partition_result {
    const char *topic;
    int32_t partition;
    strata_err_t err;    /* STRATA_OK, or e.g. ELECTION_NOT_NEEDED (84) */
    const char *message; /* "" when none */
} strata_partition_result_t;

typedef struct strata_partition_results strata_partition_results_t;
size_t strata_partition_results_count(const strata_partition_results_t *r);
const strata_partition_result_t *strata_partition_results_get(const strata_partition_results_t *r, size_t i);
void strata_partition_results_free(strata_partition_results_t *r);

/* Elect leaders (Kafka's ElectLeaders) for the n partitions given (n = 0:
 * every partition of the cluster). Returns the request's own error
 * (envelope, controller not reachable, ...); per-partition outcomes go to
 * *out (may be NULL when not wanted; free with
 * strata_partition_results_free). */
strata_err_t strata_admin_elect_leaders(strata_admin_t *a, strata_election_type_t type,
                                        const strata_topic_partition_t *parts, size_t n, int timeout_ms,
                                        strata_partition_results_t **out, char *errmsg, size_t errlen);

/* A new replica list for one partition; n_replicas = 0 cancels a pending
 * reassignment of it. */
typedef struct strata_reassignment {
    const char *topic;
    int32_t partition;
    const int32_t *replicas;
    size_t n_replicas;
} strata_reassignment_t;

/* Start (or cancel) the n reassignments (AlterPartitionReassignments).
 * The controller carries them out in the background: new replicas catch
 * up and join the ISR before old ones are dropped. Outcomes as for
 * strata_admin_elect_leaders. */
strata_err_t strata_admin_alter_reassignments(strata_admin_t *a, const strata_reassignment_t *v, size_t n,
                                              int timeout_ms, strata_partition_results_t **out, char *errmsg,
                                              size_t errlen);

/* A reassignment still in progress. */
typedef struct strata_ongoing_reassignment {
    const char *topic;
    int32_t partition;
    const int32_t *replicas; /* current full set (old + new) */
    size_t n_replicas;
    const int32_t *adding;
    size_t n_adding;
    const int32_t *removing;
    size_t n_removing;
} strata_ongoing_reassignment_t;

typedef struct strata_reassignment_list strata_reassignment_list_t;

/* Reassignments in progress for the n partitions given (n = 0: all).
 * Free *out with strata_reassignment_list_free. */
strata_err_t strata_admin_list_reassignments(strata_admin_t *a, const strata_topic_partition_t *parts,
                                             size_t n, int timeout_ms, strata_reassignment_list_t **out,
                                             char *errmsg, size_t errlen);
size_t strata_reassignment_list_count(const strata_reassignment_list_t *l);
const strata_ongoing_reassignment_t *strata_reassignment_list_get(const strata_reassignment_list_t *l,
                                                                  size_t i);
void strata_reassignment_list_free(strata_reassignment_list_t *l);

/* Consumer-group administration (strata group ...), as in Kafka's admin
 * client: nothing here joins a group. timeout_ms < 0 means the handle's
 * request.timeout.ms; each call follows the group's coordinator when it
 * moves. */
typedef struct strata_group_listing {
    char *group_id;
    char *state;         /* Empty, PreparingRebalance, CompletingRebalance, Stable, Dead */
    char *protocol_type; /* "consumer", or "" for a group of simple commits */
    int32_t coordinator; /* broker id */
} strata_group_listing_t;

/* Every group of the cluster (ListGroups to each broker). Free *out with
 * strata_group_listing_free. */
strata_err_t strata_admin_list_groups(strata_admin_t *a, int timeout_ms, strata_group_listing_t **out,
                                      size_t *n);
void strata_group_listing_free(strata_group_listing_t *l, size_t n);

typedef struct strata_group_member {
    char *member_id;
    char *instance_id; /* "" for a dynamic member */
    char *client_id;
    char *client_host;
    strata_tp_t *assignment; /* offset -1 */
    size_t n_assignment;
} strata_group_member_t;

typedef struct strata_group_desc {
    char *group_id;
    char *state;
    char *protocol_type;
    char *protocol; /* the assignor in use */
    int32_t generation;
    int32_t coordinator;
    strata_group_member_t *members;
    size_t n_members;
} strata_group_desc_t;

/* State and members of a group (DescribeGroups to its coordinator). A
 * group nobody knows comes back with state "Dead" and no members. Free
 * *out with strata_group_desc_free. */
strata_err_t strata_admin_describe_group(strata_admin_t *a, const char *group, int timeout_ms,
                                         strata_group_desc_t **out);
void strata_group_desc_free(strata_group_desc_t *d);

/* Every offset committed by group (OffsetFetch; topic and metadata
 * malloc'd). Free *out with strata_commit_list_free. */
strata_err_t strata_admin_list_group_offsets(strata_admin_t *a, const char *group, int timeout_ms,
                                             strata_commit_t **out, size_t *n);
void strata_commit_list_free(strata_commit_t *v, size_t n);

/* Commit offsets for a group the caller is not a member of (a simple
 * commit, generation -1; reset-offsets): the coordinator accepts it only
 * while the group has no members (UNKNOWN_MEMBER_ID otherwise). */
strata_err_t strata_admin_alter_group_offsets(strata_admin_t *a, const char *group,
                                              const strata_commit_t *offsets, size_t n, int timeout_ms);

/* Delete an empty group and its offsets: NON_EMPTY_GROUP while it has
 * members, GROUP_ID_NOT_FOUND when unknown. */
strata_err_t strata_admin_delete_group(strata_admin_t *a, const char *group, int timeout_ms);

/* Deprecated, removed in the next release: the same group administration
 * on a consumer handle (any consumer, with or without group.id, serves as
 * the connection). Each behaves as the strata_admin_* call it names. */

/* Deprecated: use strata_admin_list_groups. */
strata_err_t strata_consumer_list_groups(strata_consumer_t *c, int timeout_ms, strata_group_listing_t **out,
                                         size_t *n);
/* Deprecated: use strata_admin_describe_group. */
strata_err_t strata_consumer_describe_group(strata_consumer_t *c, const char *group, int timeout_ms,
                                            strata_group_desc_t **out);
/* Deprecated: use strata_admin_list_group_offsets. */
strata_err_t strata_consumer_group_offsets(strata_consumer_t *c, const char *group, int timeout_ms,
                                           strata_commit_t **out, size_t *n);
/* Deprecated: use strata_admin_alter_group_offsets. */
strata_err_t strata_consumer_group_commit(strata_consumer_t *c, const char *group,
                                          const strata_commit_t *offsets, size_t n, int timeout_ms);
/* Deprecated: use strata_admin_delete_group. */
strata_err_t strata_consumer_delete_group(strata_consumer_t *c, const char *group, int timeout_ms);

#ifdef __cplusplus
}
#endif

#endif
