/*
 * st_err: the one error enum of strata. Positive values and -1 are the
 * wire error codes of proto/strata.proto (Kafka's numbering); values at or
 * below -100 are internal conditions (I/O, memory, bad arguments) that
 * never travel as such: st_err_to_wire() maps them to a wire code at the
 * edge. errno, ZooKeeper and nng codes are translated into this enum where
 * they are first seen. Owns: the enum, names, retriability.
 */
#ifndef ST_ERR_H
#define ST_ERR_H

#include <stdbool.h>

typedef enum st_err {
    ST_OK = 0,
    /* wire codes (same values as strata.ErrorCode) */
    ST_ERR_UNKNOWN_SERVER_ERROR = -1,
    ST_ERR_OFFSET_OUT_OF_RANGE = 1,
    ST_ERR_CORRUPT_MESSAGE = 2,
    ST_ERR_UNKNOWN_TOPIC_OR_PARTITION = 3,
    ST_ERR_INVALID_FETCH_SIZE = 4,
    ST_ERR_LEADER_NOT_AVAILABLE = 5,
    ST_ERR_NOT_LEADER_OR_FOLLOWER = 6,
    ST_ERR_REQUEST_TIMED_OUT = 7,
    ST_ERR_BROKER_NOT_AVAILABLE = 8,
    ST_ERR_REPLICA_NOT_AVAILABLE = 9,
    ST_ERR_MESSAGE_TOO_LARGE = 10,
    ST_ERR_STALE_CONTROLLER_EPOCH = 11,
    ST_ERR_OFFSET_METADATA_TOO_LARGE = 12,
    ST_ERR_NETWORK_EXCEPTION = 13,
    ST_ERR_COORDINATOR_LOAD_IN_PROGRESS = 14,
    ST_ERR_COORDINATOR_NOT_AVAILABLE = 15,
    ST_ERR_NOT_COORDINATOR = 16,
    ST_ERR_INVALID_TOPIC_EXCEPTION = 17,
    ST_ERR_RECORD_LIST_TOO_LARGE = 18,
    ST_ERR_NOT_ENOUGH_REPLICAS = 19,
    ST_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND = 20,
    ST_ERR_INVALID_REQUIRED_ACKS = 21,
    ST_ERR_ILLEGAL_GENERATION = 22,
    ST_ERR_INCONSISTENT_GROUP_PROTOCOL = 23,
    ST_ERR_INVALID_GROUP_ID = 24,
    ST_ERR_UNKNOWN_MEMBER_ID = 25,
    ST_ERR_INVALID_SESSION_TIMEOUT = 26,
    ST_ERR_REBALANCE_IN_PROGRESS = 27,
    ST_ERR_INVALID_COMMIT_OFFSET_SIZE = 28,
    ST_ERR_TOPIC_AUTHORIZATION_FAILED = 29,
    ST_ERR_GROUP_AUTHORIZATION_FAILED = 30,
    ST_ERR_CLUSTER_AUTHORIZATION_FAILED = 31,
    ST_ERR_INVALID_TIMESTAMP = 32,
    ST_ERR_UNSUPPORTED_VERSION = 35,
    ST_ERR_TOPIC_ALREADY_EXISTS = 36,
    ST_ERR_INVALID_PARTITIONS = 37,
    ST_ERR_INVALID_REPLICATION_FACTOR = 38,
    ST_ERR_INVALID_REPLICA_ASSIGNMENT = 39,
    ST_ERR_INVALID_CONFIG = 40,
    ST_ERR_NOT_CONTROLLER = 41,
    ST_ERR_INVALID_REQUEST = 42,
    ST_ERR_POLICY_VIOLATION = 44,
    ST_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER = 45,
    ST_ERR_DUPLICATE_SEQUENCE_NUMBER = 46,
    ST_ERR_INVALID_PRODUCER_EPOCH = 47,
    ST_ERR_KAFKA_STORAGE_ERROR = 56,
    ST_ERR_UNKNOWN_PRODUCER_ID = 59,
    ST_ERR_NON_EMPTY_GROUP = 68,
    ST_ERR_GROUP_ID_NOT_FOUND = 69,
    ST_ERR_FENCED_LEADER_EPOCH = 74,
    ST_ERR_UNKNOWN_LEADER_EPOCH = 75,
    ST_ERR_STALE_BROKER_EPOCH = 77,
    ST_ERR_OFFSET_NOT_AVAILABLE = 78,
    ST_ERR_MEMBER_ID_REQUIRED = 79,
    ST_ERR_PREFERRED_LEADER_NOT_AVAILABLE = 80,
    ST_ERR_GROUP_MAX_SIZE_REACHED = 81,
    ST_ERR_FENCED_INSTANCE_ID = 82,
    ST_ERR_ELIGIBLE_LEADERS_NOT_AVAILABLE = 83,
    ST_ERR_ELECTION_NOT_NEEDED = 84,
    ST_ERR_INVALID_RECORD = 87,
    ST_ERR_THROTTLING_QUOTA_EXCEEDED = 89,

    /* internal conditions (never on the wire as such) */
    ST_ERR_IO = -100,       /* read/write/fsync failed (errno kept by caller) */
    ST_ERR_NO_SPACE = -101, /* ENOSPC / EDQUOT */
    ST_ERR_NOMEM = -102,
    ST_ERR_INVALID_ARG = -103, /* caller passed something impossible */
    ST_ERR_NOT_FOUND = -104,
    ST_ERR_CORRUPT = -105, /* on-disk data failed a check */
    ST_ERR_EXISTS = -106,
    ST_ERR_TIMEOUT = -107,
    ST_ERR_CONNECTION = -108, /* transport failure (nng, ZooKeeper) */
    ST_ERR_CLOSED = -109,
    ST_ERR_STATE = -110, /* operation not allowed in the current state */
} st_err_t;

/* Upper-case name of the code ("NOT_LEADER_OR_FOLLOWER"); never NULL. */
const char *st_err_name(st_err_t err);

/* Wire code to send for err: internal codes map to the closest wire code
 * (I/O and disk-full to KAFKA_STORAGE_ERROR, corruption to
 * CORRUPT_MESSAGE, others to UNKNOWN_SERVER_ERROR). */
st_err_t st_err_to_wire(st_err_t err);

/* True when a client may retry the same request after a metadata refresh
 * or a short wait (Kafka's RetriableException set). */
bool st_err_retriable(st_err_t err);

/* Translate an errno value into ST_ERR_NO_SPACE, ST_ERR_NOMEM or ST_ERR_IO. */
st_err_t st_err_from_errno(int errnum);

#endif
