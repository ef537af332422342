/*
 * br_pm: the partitions this broker hosts and the data-plane
 * requests on them (Produce, Fetch, ListOffsets). The control plane
 * (br_ctl, br_md) tells it which replicas to host and in
 * which role; it opens and closes their logs (sl_logdir), answers
 * requests through br_call, keeps long-poll fetches and acks waits
 * pending and completes them when data or the high watermark arrives or
 * their timeout fires. Replication: as leader it tracks each follower's
 * log end offset from its fetches, advances the high watermark over the
 * ISR and proposes ISR changes to the control plane; as follower it
 * copies the leader through one br_fetcher per leader broker (KIP-101
 * truncation first). Owns: br_pm, every br_part and the fetchers. Core
 * loop only.
 */
#ifndef BR_PM_H
#define BR_PM_H

#include <ev.h>
#include <stdbool.h>
#include <stdint.h>

#include "broker/br_call.h"
#include "common/st_err.h"
#include "raw.pb-c.h"
#include "storage/sl_log.h"
#include "storage/sl_logdir.h"
#include "strata.pb-c.h"

typedef struct br_pm br_pm_t;

typedef enum br_role {
    BR_ROLE_NONE = 0, /* hosted replica, no state known yet */
    BR_ROLE_LEADER,   /* accepts produce, serves fetch */
    BR_ROLE_FOLLOWER, /* copies the leader; refuses produce */
    BR_ROLE_OFFLINE,  /* log directory failed */
} br_role_t;

/* What the control plane knows of one partition (from its state znode). */
typedef struct br_part_state {
    int32_t leader; /* broker id, -1 none */
    int32_t leader_epoch;
    int32_t controller_epoch;
    const int32_t *replicas;
    size_t n_replicas;
    const int32_t *isr;
    size_t n_isr;
    /* Topic-level overrides of br_pm_limits_t (0 = the broker's value). */
    int32_t min_insync_replicas;         /* min.insync.replicas */
    int64_t timestamp_difference_max_ms; /* message.timestamp.difference.max.ms */
    /* KIP-516: the topic's id (NULL or "": unknown). A hosted replica
     * recorded under another id is of an earlier topic of the same name:
     * it is deleted and the replica starts empty. */
    const char *topic_id;
} br_part_state_t;

/* Data-plane limits from the broker config. */
typedef struct br_pm_limits {
    int64_t message_max_bytes; /* message.max.bytes */
    int64_t fetch_max_bytes;   /* fetch.max.bytes (response cap) */
    int64_t max_wait_ms_cap;   /* upper bound on a fetch's max_wait_ms */
    int64_t log_message_timestamp_difference_max_ms;
    int32_t min_insync_replicas; /* min.insync.replicas for acks=all (<= 1: no check) */
    /* Replication; 0 = Kafka's default. */
    int64_t replica_lag_time_max_ms;          /* replica.lag.time.max.ms (30000) */
    int32_t replica_fetch_wait_max_ms;        /* replica.fetch.wait.max.ms (500) */
    int32_t replica_fetch_max_bytes;          /* replica.fetch.max.bytes (1 MiB, per partition) */
    int32_t replica_fetch_response_max_bytes; /* replica.fetch.response.max.bytes (10 MiB) */
    int32_t replica_fetch_backoff_ms;         /* replica.fetch.backoff.ms (1000) */
} br_pm_limits_t;

/* The leader of a partition proposes a new ISR (a follower lagged more
 * than replica.lag.time.max.ms, or caught up with the high watermark).
 * The control plane writes it to the partition's state znode (checking
 * the znode version and that leader_epoch is still current) and then
 * calls br_pm_apply_state with the new state; until then the leader keeps
 * using the old ISR. It may ignore a proposal: the leader proposes again
 * after a few seconds while the condition holds. isr is valid only during
 * the call. */
typedef void (*br_pm_isr_change_fn)(void *arg, const char *topic, int32_t partition, int32_t leader_epoch,
                                    const int32_t *isr, size_t n_isr);

/* log_dirs: the open sl_logdir of each log.dirs entry (not owned). */
br_pm_t *br_pm_new(struct ev_loop *loop, int32_t broker_id, sl_logdir_t **log_dirs, size_t n_log_dirs,
                   const br_pm_limits_t *limits);
/* Close every log (clean when `clean`), fail pending calls, free. */
void br_pm_free(br_pm_t *pm, bool clean);

/* Host (open or keep) a replica, in the role its state gives: leader when
 * state->leader is this broker. topic_config holds the effective log
 * config of the topic. A new leader epoch is recorded in the log's
 * leader-epoch cache. */
st_err_t br_pm_apply_state(br_pm_t *pm, const char *topic, int32_t partition, const br_part_state_t *state,
                           const sl_log_config_t *topic_config);
/* Stop hosting a replica; delete its files when `delete_log`. Pending
 * calls on it are answered NOT_LEADER_OR_FOLLOWER / UNKNOWN_TOPIC. */
void br_pm_stop(br_pm_t *pm, const char *topic, int32_t partition, bool delete_log);
/* Stray replicas: directories left on disk by changes made while this
 * broker was down. br_pm_delete_stray deletes the unhosted replica of a
 * known topic that no longer lists this broker (what br_pm_stop would
 * have done had the broker been up); true when there was one.
 * br_pm_set_aside_strays renames, never deletes, every unhosted replica
 * whose topic `listed` does not know (a topic deleted meanwhile, or a
 * broker pointed at the wrong cluster), logging each; returns how many. */
bool br_pm_delete_stray(br_pm_t *pm, const char *topic, int32_t partition);
size_t br_pm_set_aside_strays(br_pm_t *pm, bool (*listed)(void *arg, const char *topic), void *arg);
/* Stop acting as leader for everything (ZooKeeper session lost). */
void br_pm_resign_all(br_pm_t *pm);
/* Topic config changed. */
void br_pm_set_config(br_pm_t *pm, const char *topic, const sl_log_config_t *cfg);

/* Request handlers: answer through call, now or later. */
void br_pm_handle_produce(br_pm_t *pm, br_call_t *call, const Strata__Raw__RawProduceRequest *req);
void br_pm_handle_fetch(br_pm_t *pm, br_call_t *call, const Strata__FetchRequest *req);
void br_pm_handle_list_offsets(br_pm_t *pm, br_call_t *call, const Strata__ListOffsetsRequest *req);
/* Leader side of KIP-101: for each partition, the largest epoch <= the
 * one asked and where it ends in this leader's log. Errors per partition
 * as in Fetch (UNKNOWN_TOPIC_OR_PARTITION, FENCED/UNKNOWN_LEADER_EPOCH,
 * NOT_LEADER_OR_FOLLOWER, KAFKA_STORAGE_ERROR). Answers at once. */
void br_pm_handle_offset_for_leader_epoch(br_pm_t *pm, br_call_t *call,
                                          const Strata__OffsetForLeaderEpochRequest *req);

/* ---- replication --------------------------------------------------- */

/* The control plane's metadata cache tells where broker id listens (its
 * first advertised nng URL; NULL: the broker is gone). Followers fetch
 * from their leader only once its URL is known. */
void br_pm_set_broker_url(br_pm_t *pm, int32_t broker_id, const char *url);
/* The control plane's metadata cache tells broker id's broker.rack
 * (NULL or "": none), this broker's own included. Fetch from followers
 * (KIP-392) uses it to point clients at a replica in their rack. */
void br_pm_set_broker_rack(br_pm_t *pm, int32_t broker_id, const char *rack);
/* Set (or clear with fn NULL) the ISR change callback. */
void br_pm_set_isr_change_fn(br_pm_t *pm, br_pm_isr_change_fn fn, void *arg);
/* This broker's epoch (czxid of its registration; 0 while unregistered).
 * Follower requests carry it with replica_id: a leader counts a request
 * as a replica's only when broker_epoch > 0 (proto/strata.proto). */
void br_pm_set_broker_epoch(br_pm_t *pm, int64_t broker_epoch);

/* Follower requests, for br_fetcher (and tests, which carry the bytes to
 * a leader themselves). A br_follow_req remembers what one request
 * asked, to apply its answer. */
typedef struct br_follow_req br_follow_req_t;
/* Build the next request to the leader broker `source` for the
 * partitions this broker follows from it: an OffsetForLeaderEpoch when
 * some still need the KIP-101 check, else a Fetch at each log end
 * (Request.replica_id = this broker, current_leader_epoch = the epoch
 * known here). On ST_OK *buf (malloc'd, encoded strata.Request) and *out
 * (free with br_follow_req_free) are set. ST_ERR_NOT_FOUND: nothing to
 * ask now; *retry_ms is then when a back-off ends (ms since the epoch),
 * or -1 when only new state can make work. */
st_err_t br_pm_follow_next(br_pm_t *pm, int32_t source, int64_t now_ms, br_follow_req_t **out, uint8_t **buf,
                           size_t *len, int64_t *retry_ms);
/* Apply the leader's encoded answer to req: append fetched batches,
 * truncate, move the follower HW, back off partitions in error. An
 * undecodable answer backs every partition of req off. Does not free req. */
void br_pm_follow_answer(br_pm_t *pm, const br_follow_req_t *req, const uint8_t *buf, size_t len);
/* The request got no answer (transport error or timeout): back off. */
void br_pm_follow_failed(br_pm_t *pm, const br_follow_req_t *req, st_err_t err);
void br_follow_req_free(br_follow_req_t *req);

/* Periodic work (retention, flush.ms, checkpoints); the caller's timer
 * calls it about once a second. */
void br_pm_tick(br_pm_t *pm, int64_t now_ms);

/* ---- storage services: log cleaner, log-dir failure */
/* BEGIN storage additions */

/* One hosted replica's log, for br_cleaner and the control plane. All
 * pointers are valid only during the call that produced them. */
typedef struct br_pm_log_ref {
    const char *topic;
    int32_t partition;
    sl_log_t *log;
    const char *log_dir; /* the log.dirs entry holding it */
    br_role_t role;
    int64_t hw; /* high watermark (a follower's as last learnt) */
    /* for metrics (br_metrics): membership as last applied, and the
     * replica's traffic since it was opened here */
    int32_t leader;
    size_t n_replicas;
    size_t n_isr;
    int32_t min_insync;
    uint64_t bytes_in, records_in;   /* appended by Produce on this leader */
    uint64_t bytes_out, records_out; /* batches sent by Fetch (clients and followers) */
} br_pm_log_ref_t;

typedef void (*br_pm_log_fn)(void *arg, const br_pm_log_ref_t *ref);
/* Call fn for every hosted replica (offline ones included). fn must not
 * start or stop replicas. */
void br_pm_foreach_log(br_pm_t *pm, br_pm_log_fn fn, void *arg);
/* Fill *out for topic/partition: ST_OK, or ST_ERR_NOT_FOUND when it is
 * not hosted here. */
st_err_t br_pm_get_log(br_pm_t *pm, const char *topic, int32_t partition, br_pm_log_ref_t *out);

/* Called just before the manager closes or deletes the log of a replica
 * (br_pm_stop, br_pm_free): whoever works on the log outside the core
 * loop (br_cleaner) must be done with it and have released it when fn
 * returns. br_pm_free calls it once more with log NULL after the last
 * log closed: the manager is gone. One hook; fn NULL clears it. */
typedef void (*br_pm_log_closing_fn)(void *arg, sl_log_t *log);
void br_pm_set_log_closing_fn(br_pm_t *pm, br_pm_log_closing_fn fn, void *arg);

/* Kafka's KAFKA_STORAGE_ERROR semantics: an I/O error (ST_ERR_IO,
 * ST_ERR_NO_SPACE) writing or flushing a log takes its whole log
 * directory offline: every replica in it becomes BR_ROLE_OFFLINE (Produce,
 * Fetch, ListOffsets answer KAFKA_STORAGE_ERROR, pending calls on them are
 * failed, followers stop fetching), no new replica is placed there, the
 * broker logs one ERROR line naming the directory and the cause, and the
 * failure callback tells the control plane, which must stop counting this
 * broker as leader or ISR member of those partitions. It stays so until
 * the broker restarts. */
typedef struct br_pm_tp {
    const char *topic;
    int32_t partition;
} br_pm_tp_t;
/* log_dir failed with err; parts are the replicas it took offline (valid
 * during the call only). Called once per directory, from inside whatever
 * call hit the error: fn must not call back into the manager to stop or
 * apply state (defer that work, e.g. to the next loop iteration). */
typedef void (*br_pm_logdir_failure_fn)(void *arg, const char *log_dir, st_err_t err, const br_pm_tp_t *parts,
                                        size_t n_parts);
void br_pm_set_logdir_failure_fn(br_pm_t *pm, br_pm_logdir_failure_fn fn, void *arg);
/* Report an I/O error hit on a hosted replica's log outside the manager
 * (br_cleaner): takes its directory offline as above. No-op when the
 * replica is not hosted. */
void br_pm_storage_error(br_pm_t *pm, const char *topic, int32_t partition, st_err_t err);
/* Whether log.dirs entry i (the order given to br_pm_new) is offline. */
bool br_pm_logdir_offline(const br_pm_t *pm, size_t i);

/* END storage additions */
/* Manager-wide counters and gauges for metrics (br_metrics). */
typedef struct br_pm_stats {
    uint64_t isr_shrinks;  /* ISR applied on this leader smaller, same leader epoch */
    uint64_t isr_expands;  /* ... larger */
    size_t parked_produce; /* acks=all Produce calls waiting for the high watermark */
    size_t parked_fetch;   /* Fetch calls waiting for data (long poll) */
    size_t offline_dirs;   /* log.dirs entries taken offline by an I/O error */
} br_pm_stats_t;
/* Fill *out (zeroes when pm is NULL). O(parked calls). */
void br_pm_get_stats(const br_pm_t *pm, br_pm_stats_t *out);

#endif
