/*
 * br_md (br_md): every broker's cache of the cluster as ZooKeeper
 * holds it: live brokers (endpoints, rack), topics (id, replica
 * assignment, config overrides), the state of every partition (leader,
 * leader epoch, ISR) and the controller id. It keeps the cache current
 * with watches on /brokers/ids, /brokers/topics and its children, each
 * partition's state znode, /config/topics/<t> and /controller, and tells
 * the partition manager what to host: br_pm_apply_state when a replica
 * assigned here changes state, br_pm_set_config on config changes,
 * br_pm_stop (with delete_log) when a topic goes. It reaches the broker
 * only through the control-plane context (br_cp.h): the context's
 * dynamic_config callback when /config/brokers/<this id> changes, and
 * after each change its md_changed callback, so the controller and
 * pending admin calls can react. Owns: the cache. Core loop only.
 */
#ifndef BR_MD_H
#define BR_MD_H

#include <stdbool.h>
#include <stdint.h>

#include "broker/br_config.h"
#include "control/br_cp.h"
#include "coord/zknode.h"

/* Strata's additions to a broker's own registration /brokers/ids/<id>
 * (docs/operations.md), rewritten by that broker on its own ephemeral:
 *   "offline_log_dirs":["/data/a",...]   log directories that failed;
 *   "offline_partitions":[{"topic":t,"partition":p},...]  its replicas in
 *       them: the controller treats the broker as dead for exactly these
 *       (new leader from the rest of the ISR, broker dropped from the ISR);
 *   "controlled_shutdown":true           this registration is stopping:
 *       no leader may add it to an ISR again (a restart registers anew).
 * All absent in a healthy broker's payload. */
typedef struct br_md_member {
    char **offline_dirs;
    size_t n_offline_dirs;
    char **offline_topics; /* parallel to offline_parts */
    int32_t *offline_parts;
    size_t n_offline;
    bool controlled_shutdown;
} br_md_member_t;

/* The registration JSON: zknode_broker_encode's payload plus x's fields (x
 * may be NULL). Malloc'd; NULL only on out of memory. */
char *br_md_member_encode(const zknode_broker_t *b, const br_md_member_t *x);
/* Read the additions from a registration payload into *out (zeroed
 * first; missing or malformed fields are simply absent). ST_OK, or
 * ST_ERR_CORRUPT when json is not an object, ST_ERR_NOMEM. Free with
 * br_md_member_free. */
st_err_t br_md_member_decode(const char *json, size_t len, br_md_member_t *out);
/* Free x's members and zero it; NULL-safe, idempotent. */
void br_md_member_free(br_md_member_t *x);
/* Whether x lists topic/partition as offline. */
bool br_md_member_offline(const br_md_member_t *x, const char *topic, int32_t partition);

typedef struct br_md_broker {
    int32_t id;
    char *host;
    int32_t port;
    char *url;             /* first endpoint */
    char *rack;            /* NULL: none */
    int64_t epoch;         /* broker epoch: czxid of its registration znode */
    bool loaded;           /* payload read */
    br_md_member_t member; /* offline replicas, controlled shutdown */
} br_md_broker_t;

typedef enum br_md_state_kind {
    BR_MD_STATE_UNKNOWN = 0, /* not read yet */
    BR_MD_STATE_NONE,        /* no state znode */
    BR_MD_STATE_OK,
} br_md_state_kind_t;

typedef struct br_md_part {
    int32_t *replicas;
    size_t n_replicas;
    br_md_state_kind_t kind;
    int32_t leader;
    int32_t leader_epoch;
    int32_t controller_epoch;
    int32_t *isr;
    size_t n_isr;
    int32_t state_version; /* znode version of the state */
    bool hosted;           /* handed to br_pm */
} br_md_part_t;

typedef struct br_md_topic {
    char *name;
    bool loaded; /* assignment read */
    char topic_id[32];
    int32_t version; /* znode version of /brokers/topics/<t> */
    int32_t n_parts;
    br_md_part_t *parts;
    zknode_config_t config; /* overrides from /config/topics/<t> */
    bool config_loaded;
    struct br_md_topic *next;
} br_md_topic_t;

/* A cache over cp's ZooKeeper handle, feeding cp's partition manager
 * (cp is kept, not copied: it must outlive the cache). NULL on out of
 * memory. */
br_md_t *br_md_new(const br_cp_t *cp);
void br_md_free(br_md_t *md);
/* (Re)read everything and set every watch: call on each new session. */
void br_md_start(br_md_t *md);

size_t br_md_n_brokers(const br_md_t *md);
const br_md_broker_t *br_md_broker_at(const br_md_t *md, size_t i);
const br_md_broker_t *br_md_broker(const br_md_t *md, int32_t id);
bool br_md_broker_live(const br_md_t *md, int32_t id);
/* Broker id is live but its replica of topic/partition sits in a failed
 * log directory (its registration lists it offline). */
bool br_md_replica_offline(const br_md_t *md, int32_t id, const char *topic, int32_t partition);
/* Broker id is live and its current registration says it is in
 * controlled shutdown. */
bool br_md_broker_stopping(const br_md_t *md, int32_t id);
/* Live, and its replica of topic/partition is usable (not offline). */
bool br_md_replica_live(const br_md_t *md, int32_t id, const char *topic, int32_t partition);
/* The controller epoch in /controller_epoch as last read (watched; it
 * only grows), 0 before the first read or when no controller was ever
 * elected. */
int32_t br_md_controller_epoch(const br_md_t *md);
/* Broker epoch of a live broker, -1 when unknown. */
int64_t br_md_broker_epoch(const br_md_t *md, int32_t id);
/* True once the broker list and topic list were read this session. */
bool br_md_ready(const br_md_t *md);

br_md_topic_t *br_md_topics(const br_md_t *md);
br_md_topic_t *br_md_topic(const br_md_t *md, const char *name);
int32_t br_md_controller_id(const br_md_t *md);

/* Dynamic overrides of this broker (/config/brokers/<id>). */
const zknode_config_t *br_md_broker_config(const br_md_t *md);
/* Hand every hosted partition its effective config again (broker
 * defaults changed). */
void br_md_reapply_configs(br_md_t *md);

/* A state this broker wrote itself (leader-driven ISR change) at znode
 * version `version`: update the cache and the partition manager now,
 * unless the cache already holds that version or a newer one. */
void br_md_state_written(br_md_t *md, const char *topic, int32_t p, const zknode_part_state_t *s,
                         int32_t version);
/* Hand every partition to the partition manager again (controlled
 * shutdown started: followers stop). */
void br_md_reapply_all(br_md_t *md);
/* Read every partition state again from ZooKeeper and hand each to the
 * partition manager as it arrives: after this broker was fenced (its
 * session unconfirmed), the cached states may be stale, and applying them
 * could make a deposed leader lead for a round trip. */
void br_md_refresh_states(br_md_t *md);
/* Effective config of a topic (broker defaults + overrides); free with
 * br_topic_config_free. */
void br_md_topic_config(const br_md_t *md, const br_md_topic_t *t, br_topic_config_t *out);

#endif
