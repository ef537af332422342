/*
 * zknode: the ZooKeeper tree's paths and payloads. Owns the path layout under
 * the chroot (/strata by default), the JSON encoding of every znode payload
 * (jansson; readable with `zkCli.sh get`) and its strict decoding. Pure
 * code: no ZooKeeper calls, no I/O. The JSON Schema of each payload lives
 * in zk-schema/<kind>.schema.json and the unit tests check every encoder's
 * output against it. Decoders never trust their input (operators write
 * znodes by hand): wrong types, missing fields, negative ids, duplicates
 * yield ST_ERR_CORRUPT and a one-line reason in err. Thread-agnostic.
 */
#ifndef ZKNODE_H
#define ZKNODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/st_err.h"

#define ZKNODE_PATH_CLUSTER_ID "/cluster/id"
#define ZKNODE_PATH_BROKER_IDS "/brokers/ids"
#define ZKNODE_PATH_TOPICS "/brokers/topics"
#define ZKNODE_PATH_CONTROLLER "/controller"
#define ZKNODE_PATH_CONTROLLER_EPOCH "/controller_epoch"
#define ZKNODE_PATH_TOPIC_CONFIGS "/config/topics"
#define ZKNODE_PATH_BROKER_CONFIGS "/config/brokers"
#define ZKNODE_PATH_DELETE_TOPICS "/admin/delete_topics"
#define ZKNODE_PATH_PID_BLOCK "/latest_producer_id_block"
#define ZKNODE_PATH_REASSIGN "/admin/reassign_partitions"

/* Length of a topic or cluster id: a 16-byte uuid in unpadded base64url. */
#define ZKNODE_ID_LEN 22

/* Persistent parents every broker ensures at start, parents first;
 * NULL-terminated. */
extern const char *const zknode_persistent_paths[];

/*
 * Path builders. Each writes a NUL-terminated path into buf and returns its
 * length (like snprintf), or -1 when it does not fit in n bytes, when a
 * topic name is not valid (zknode_topic_name_valid) or an id/partition is
 * negative — so a hostile name can never escape its subtree.
 */
int zknode_path_broker(char *buf, size_t n, int32_t id);
int zknode_path_topic(char *buf, size_t n, const char *topic);
int zknode_path_partitions(char *buf, size_t n, const char *topic);           /* .../partitions */
int zknode_path_partition(char *buf, size_t n, const char *topic, int32_t p); /* .../partitions/<p> */
int zknode_path_partition_state(char *buf, size_t n, const char *topic,
                                int32_t p); /* .../partitions/<p>/state */
int zknode_path_topic_config(char *buf, size_t n, const char *topic);
int zknode_path_broker_config(char *buf, size_t n, int32_t id);
int zknode_path_delete_topic(char *buf, size_t n, const char *topic);

/* Kafka's topic name rules: [a-zA-Z0-9._-]{1,249}, not "." or "..".
 * NULL is not valid. */
bool zknode_topic_name_valid(const char *name);

/*
 * /brokers/ids/<id> (ephemeral):
 * {"version":1,"host":"127.0.0.1","port":9092,
 *  "endpoints":["tcp://127.0.0.1:9092"],"rack":null,"timestamp":"<ms>"}
 * The id is not in the payload (it is the znode name).
 */
typedef struct zknode_broker {
    int32_t id;
    char *host;
    int32_t port;
    char **endpoints;
    size_t n_endpoints;
    char *rack; /* NULL: no rack */
    int64_t timestamp_ms;
} zknode_broker_t;

/* Malloc'd JSON text (free with free()); NULL only on out of memory. */
char *zknode_broker_encode(const zknode_broker_t *b);
/* Parse json[0..len) into *out (zeroed first; id copied from the argument).
 * ST_OK, or ST_ERR_CORRUPT with a reason in err (out left empty), or
 * ST_ERR_NOMEM. On ST_OK free with zknode_broker_free. */
st_err_t zknode_broker_decode(const char *json, size_t len, int32_t id, zknode_broker_t *out, char *err,
                              size_t errlen);
/* Free the members of b and zero it; NULL-safe, idempotent. */
void zknode_broker_free(zknode_broker_t *b);

/* /controller (ephemeral): {"version":1,"brokerid":1,"timestamp":"<ms>"} */
typedef struct zknode_controller {
    int32_t broker_id;
    int64_t timestamp_ms;
} zknode_controller_t;

char *zknode_controller_encode(const zknode_controller_t *c);
st_err_t zknode_controller_decode(const char *json, size_t len, zknode_controller_t *out, char *err,
                                  size_t errlen);

/* /controller_epoch (persistent): a bare JSON integer, e.g. "3".
 * decode: ST_OK with *epoch in 0..INT32_MAX, else ST_ERR_CORRUPT. */
char *zknode_epoch_encode(int32_t epoch);
st_err_t zknode_epoch_decode(const char *text, size_t len, int32_t *epoch);

/*
 * /brokers/topics/<t> (persistent):
 * {"version":2,"topic_id":"<22 chars>","partitions":{"0":[1,2,3],"1":[2,3,1]}}
 * topic_id is "" when absent (a topic written by hand; the controller adds
 * one). replicas[p] holds n_replicas[p] broker ids of partition p.
 */
typedef struct zknode_topic {
    char topic_id[32];
    int32_t n_partitions;
    int32_t **replicas;
    int32_t *n_replicas;
} zknode_topic_t;

/* Encodes topic_id only when non-empty. */
char *zknode_topic_encode(const zknode_topic_t *t);
/* Partitions must be exactly "0".."n-1" (decimal, no leading zeros), each
 * with a non-empty list of distinct non-negative broker ids; topic_id, when
 * present, must be 22 base64url characters. */
st_err_t zknode_topic_decode(const char *json, size_t len, zknode_topic_t *out, char *err, size_t errlen);
void zknode_topic_free(zknode_topic_t *t);

/*
 * /brokers/topics/<t>/partitions/<p>/state (persistent):
 * {"version":1,"leader":1,"leader_epoch":0,"isr":[1,2,3],"controller_epoch":1}
 * leader -1 means offline. isr holds distinct non-negative ids.
 */
typedef struct zknode_part_state {
    int32_t leader;
    int32_t leader_epoch;
    int32_t controller_epoch;
    int32_t *isr;
    size_t n_isr;
} zknode_part_state_t;

char *zknode_part_state_encode(const zknode_part_state_t *s);
st_err_t zknode_part_state_decode(const char *json, size_t len, zknode_part_state_t *out, char *err,
                                  size_t errlen);
void zknode_part_state_free(zknode_part_state_t *s);

/* /config/topics/<t>, /config/brokers/<id> (persistent):
 * {"version":1,"config":{"retention.ms":"86400000"}} — values are strings. */
typedef struct zknode_config {
    size_t n;
    char **keys;
    char **values;
} zknode_config_t;

char *zknode_config_encode(const zknode_config_t *c);
st_err_t zknode_config_decode(const char *json, size_t len, zknode_config_t *out, char *err, size_t errlen);
void zknode_config_free(zknode_config_t *c);

/* /cluster/id (persistent): {"version":"1","id":"<22 chars>"} (the version
 * is a string, as in Kafka). decode copies the id into id[idlen]:
 * ST_ERR_CORRUPT when malformed or not a 22-char base64url id,
 * ST_ERR_INVALID_ARG when idlen is too small. */
char *zknode_cluster_id_encode(const char *id);
st_err_t zknode_cluster_id_decode(const char *json, size_t len, char *id, size_t idlen);

/*
 * /latest_producer_id_block (persistent): the last block of producer ids
 * a broker reserved, ids block_start..block_end inclusive:
 * {"version":1,"broker":1,"block_start":"0","block_end":"999"}
 * (numbers as decimal strings, Kafka's layout).
 */
typedef struct zknode_pid_block {
    int32_t broker;
    int64_t block_start;
    int64_t block_end;
} zknode_pid_block_t;

char *zknode_pid_block_encode(const zknode_pid_block_t *b);
/* ST_ERR_CORRUPT (reason in err) unless version 1, broker a non-negative
 * int32 and 0 <= block_start <= block_end, both decimal strings. */
st_err_t zknode_pid_block_decode(const char *json, size_t len, zknode_pid_block_t *out, char *err,
                                 size_t errlen);

/*
 * /admin/reassign_partitions (persistent, Kafka's): the target replica
 * lists of the partitions being moved; written by an admin, rewritten and
 * finally deleted by the controller.
 * {"version":1,"partitions":[{"topic":"t","partition":0,"replicas":[1,2,3]}]}
 * An entry may carry Kafka's "log_dirs" (strings, one per replica; strata
 * ignores it).
 */
typedef struct zknode_reassign_part {
    char *topic;
    int32_t partition;
    int32_t *replicas;
    size_t n_replicas;
} zknode_reassign_part_t;

typedef struct zknode_reassign {
    zknode_reassign_part_t *parts;
    size_t n;
} zknode_reassign_t;

char *zknode_reassign_encode(const zknode_reassign_t *r);
/* Version 1 only (as the controller reads it). Each entry needs a valid
 * topic name, a partition >= 0 and a non-empty list of distinct broker
 * ids; a topic-partition may appear only once. ST_ERR_CORRUPT with a
 * reason in err, or ST_ERR_NOMEM (out left empty); on ST_OK free with
 * zknode_reassign_free (NULL-safe, idempotent). */
st_err_t zknode_reassign_decode(const char *json, size_t len, zknode_reassign_t *out, char *err,
                                size_t errlen);
void zknode_reassign_free(zknode_reassign_t *r);

/* A random (version 4) uuid as 22 base64url characters + NUL, never
 * starting with '-' (as Kafka's Uuid.randomUuid, so it is not taken for a
 * command-line option). */
void zknode_new_id(char out[23]);

/* True when s is exactly ZKNODE_ID_LEN base64url characters. */
bool zknode_id_valid(const char *s);

#endif
