/*
 * br_partition: the partitions this broker hosts and the data-plane
 * requests on them (Produce, Fetch, ListOffsets). The control plane
 * (br_controller, br_metadata) tells it which replicas to host and in
 * which role; it opens and closes their logs (sl_logdir), answers
 * requests through br_call, keeps long-poll fetches and acks waits
 * pending and completes them when data or the high watermark arrives or
 * their timeout fires. Replication (issue 4) plugs in here: followers'
 * fetches update the leader's view of their log end offsets and the high
 * watermark. Owns: br_pm and every br_part. Core loop only.
 */
#ifndef BR_PARTITION_H
#define BR_PARTITION_H

#include <ev.h>
#include <stdbool.h>
#include <stdint.h>

#include "broker/br_server.h"
#include "common/st_err.h"
#include "raw.pb-c.h"
#include "storage/sl_log.h"
#include "storage/sl_logdir.h"
#include "strata.pb-c.h"

typedef struct br_pm br_pm_t;

typedef enum br_role {
    BR_ROLE_NONE = 0,   /* hosted replica, no state known yet */
    BR_ROLE_LEADER,     /* accepts produce, serves fetch */
    BR_ROLE_FOLLOWER,   /* copies the leader (issue 4); refuses produce */
    BR_ROLE_OFFLINE,    /* log directory failed */
} br_role_t;

/* What the control plane knows of one partition (from its state znode). */
typedef struct br_part_state {
    int32_t leader;          /* broker id, -1 none */
    int32_t leader_epoch;
    int32_t controller_epoch;
    const int32_t *replicas;
    size_t n_replicas;
    const int32_t *isr;
    size_t n_isr;
    /* Topic-level overrides of br_pm_limits_t (0 = the broker's value). */
    int32_t min_insync_replicas;          /* min.insync.replicas */
    int64_t timestamp_difference_max_ms;  /* message.timestamp.difference.max.ms */
} br_part_state_t;

/* Data-plane limits from the broker config. */
typedef struct br_pm_limits {
    int64_t message_max_bytes;     /* message.max.bytes */
    int64_t fetch_max_bytes;       /* fetch.max.bytes (response cap) */
    int64_t max_wait_ms_cap;       /* upper bound on a fetch's max_wait_ms */
    int64_t log_message_timestamp_difference_max_ms;
    int32_t min_insync_replicas;   /* min.insync.replicas for acks=all (<= 1: no check) */
} br_pm_limits_t;

/* log_dirs: the open sl_logdir of each log.dirs entry (not owned). */
br_pm_t *br_pm_new(struct ev_loop *loop, int32_t broker_id, sl_logdir_t **log_dirs,
                   size_t n_log_dirs, const br_pm_limits_t *limits);
/* Close every log (clean when `clean`), fail pending calls, free. */
void br_pm_free(br_pm_t *pm, bool clean);

/* Host (open or keep) a replica, in the role its state gives: leader when
 * state->leader is this broker. topic_config holds the effective log
 * config of the topic. A new leader epoch is recorded in the log's
 * leader-epoch cache. */
st_err_t br_pm_apply_state(br_pm_t *pm, const char *topic, int32_t partition,
                           const br_part_state_t *state, const sl_log_config_t *topic_config);
/* Stop hosting a replica; delete its files when `delete_log`. Pending
 * calls on it are answered NOT_LEADER_OR_FOLLOWER / UNKNOWN_TOPIC. */
void br_pm_stop(br_pm_t *pm, const char *topic, int32_t partition, bool delete_log);
/* Stop acting as leader for everything (ZooKeeper session lost). */
void br_pm_resign_all(br_pm_t *pm);
/* Topic config changed. */
void br_pm_set_config(br_pm_t *pm, const char *topic, const sl_log_config_t *cfg);

/* Request handlers: answer through call, now or later. */
void br_pm_handle_produce(br_pm_t *pm, br_call_t *call, const Strata__Raw__RawProduceRequest *req);
void br_pm_handle_fetch(br_pm_t *pm, br_call_t *call, const Strata__FetchRequest *req);
void br_pm_handle_list_offsets(br_pm_t *pm, br_call_t *call, const Strata__ListOffsetsRequest *req);

/* Periodic work (retention, flush.ms, checkpoints); the caller's timer
 * calls it about once a second. */
void br_pm_tick(br_pm_t *pm, int64_t now_ms);

#endif
