/*
 * br_core: one broker process's state, owned by the core loop
 * (docs/design/DESIGN.md section 2). It wires the parts together: configuration, the ZooKeeper
 * session (zkc), the request server, the partition manager, the metadata
 * cache, the controller and the admin handlers (which see the broker
 * only through the control-plane context core->cp, control/br_cp.h: the
 * core fills it, clears its pointers as it frees the objects, and
 * answers its state callbacks); and it owns membership:
 * the persistent parents, /cluster/id, the ephemeral /brokers/ids/<id>
 * registration and the broker epoch (its czxid). Session life cycle:
 *
 *   START -> (CONNECTED, new session) -> REGISTERING -> REGISTERED
 *   REGISTERED -> (session EXPIRED) -> br_pm_resign_all -> REGISTERING ...
 *   REGISTERING -> (id held by another live session) -> fatal, exit 1
 *
 * Log directory failure (br_pm's failure callback): on the next loop
 * iteration the broker rewrites its own registration with
 * "offline_log_dirs" and "offline_partitions" (br_md.h); the
 * controller then treats it as dead for exactly those partitions. The
 * failed directory is closed unclean, so that it is recovered at restart.
 *
 * Zombie fencing (docs/design/DESIGN.md section 6): the broker acts as leader only
 * while ZooKeeper has confirmed its session recently. Every tick it sends
 * a probe (exists on its own registration); an answer proves the session
 * was alive after the probe was sent. When no probe sent in the last
 * 2/3 of zookeeper.session.timeout.ms has been answered (the process was
 * paused, ZooKeeper is unreachable or slow), the broker resigns every
 * leadership (br_pm_resign_all: pending acks fail NOT_LEADER_OR_FOLLOWER),
 * answers Produce NOT_LEADER_OR_FOLLOWER and stops applying states, until
 * a fresh probe is answered (states are applied again) or the session
 * turns out expired (re-registration re-reads everything). The session
 * cannot expire before the send time of the last answered probe plus the
 * session timeout, so no other broker can have been elected in its place
 * while it still acts as leader.
 *
 * Stopping (SIGTERM/SIGINT, controlled.shutdown.enable): the broker first
 * marks its registration "controlled_shutdown":true (leaders then refuse
 * to take it back into an ISR), then asks
 * the controller (itself, or over the net_req client: br_shutdown.c) to move its
 * leaderships away, retries up to controlled.shutdown.max.retries times
 * every controlled.shutdown.retry.backoff.ms while partitions remain, then
 * breaks the loop; a second signal stops at once.
 *
 * Nothing in here is thread-safe: core loop only.
 */
#ifndef BR_CORE_H
#define BR_CORE_H

#include <ev.h>
#include <stdbool.h>
#include <stdint.h>

#include "broker/br_api.h"
#include "broker/br_config.h"
#include "partition/br_pm.h"
#include "broker/br_server.h"
#include "control/br_cp.h"
#include "coord/zkc.h"
#include "coord/zknode.h"
#include "storage/sl_logdir.h"

typedef struct br_producer_id br_producer_id_t;
typedef struct br_groups br_groups_t;
typedef struct br_cleaner br_cleaner_t;
typedef struct br_shutdown br_shutdown_t;
typedef struct br_md_member br_md_member_t;
typedef struct br_metrics br_metrics_t;

typedef enum br_member_state {
    BR_MEMBER_START = 0,   /* no session yet */
    BR_MEMBER_REGISTERING, /* creating parents, cluster id, /brokers/ids/<id> */
    BR_MEMBER_WAITING_OLD, /* our previous session's znode is still there */
    BR_MEMBER_REGISTERED,  /* ephemeral znode is ours; broker_epoch valid */
    BR_MEMBER_FATAL,       /* start-up error: exit 1 */
} br_member_state_t;

typedef struct br_core {
    struct ev_loop *loop;
    br_config_t *conf;
    int32_t broker_id;
    char **listeners; /* split `listeners` */
    size_t n_listeners;
    char **advertised; /* split `advertised.listeners` (or listeners) */
    size_t n_advertised;
    sl_logdir_t **log_dirs;
    size_t n_log_dirs;
    zkc_t *zk;
    zkc_watcher_t *member_watch;
    br_server_t *server;
    br_pm_t *pm;
    br_md_t *md;
    br_ctl_t *ctl;
    br_admin_t *admin;
    br_cp_t cp;              /* the control plane's view of the above (br_cp.h) */
    br_producer_id_t *pid;   /* InitProducerId */
    br_groups_t *gc;         /* group coordinator */
    br_cleaner_t *cleaner;   /* log compaction */
    br_shutdown_t *cs;       /* controlled shutdown in progress, NULL none */
    bool shutting_down;      /* controlled shutdown started: stop following */
    br_md_member_t *self;    /* our registration's additions */
    bool self_dirty;         /* self changed, not yet written */
    bool self_writing;       /* a set of our registration in flight */
    ev_timer self_publish;   /* deferred (0 s) write of self */
    bool cs_after_publish;   /* start the controlled shutdown request once written */
    int64_t zk_confirmed_ms; /* monotonic send time of the last answered probe */
    int64_t probe_sent_ms;   /* monotonic; the probe in flight */
    bool probe_inflight;
    bool fenced; /* session not confirmed: not acting as leader */
    br_member_state_t member;
    br_api_stats_t api_stats[BR_API_COUNT]; /* per row of br_api_table */
    int64_t api_epoch_log_ms;               /* last "broker epoch refused" log line (wall ms) */
    br_metrics_t *metrics;                  /* metrics.listener, NULL when off */
    uint64_t zk_connects;                   /* ZooKeeper connections established */
    uint64_t zk_expirations;                /* ZooKeeper sessions expired */
    int64_t broker_epoch;                   /* czxid of /brokers/ids/<id>, -1 unknown */
    char cluster_id[32];
    int64_t prev_session_file; /* session id found in the session file at start */
    int64_t register_deadline_ms;
    int parents_left;     /* persistent parent creates in flight */
    char **static_values; /* per br_config_table row: value before dynamic overrides */
    size_t n_static_values;
    ev_timer tick;
    ev_timer connect_timeout;
    ev_timer register_retry;
    ev_signal sigterm, sigint, sighup;
    bool stopping;
    int exit_code;
} br_core_t;

/* Build everything from a loaded config: open log dirs, the server
 * (listening), the ZooKeeper handle. Returns ST_OK or an error with err
 * filled; on error everything opened so far is closed. */
st_err_t br_core_open(br_core_t *core, struct ev_loop *loop, br_config_t *conf, char *err, size_t errlen);
/* Begin a stop: stop accepting requests and break the loop. Safe from
 * any callback. */
void br_core_stop(br_core_t *core, int exit_code);
/* After the loop returned: close partitions cleanly (br_pm_free(clean)),
 * close the ZooKeeper session (ephemerals vanish at once), close the
 * server and log dirs, free everything br_core_open built. */
void br_core_close(br_core_t *core);

/* Rewrite /brokers/ids/<id> (our own ephemeral) with core->self.
 * Returns whether a write was sent (or one is in flight). */
bool br_core_self_publish(br_core_t *core);

/* Split a comma list into a malloc'd array of malloc'd strings. */
char **br_split_list(const char *list, size_t *n);
void br_free_list(char **v, size_t n);

/* /config/brokers/<id> changed: apply its dynamic keys over the static
 * configuration (a key no longer overridden gets its static value back). */
void br_core_dynamic_config(br_core_t *core, const zknode_config_t *overrides);

/* True while the broker must not act as leader (ZooKeeper has not
 * confirmed its session recently, see above); checks the clock, may
 * start fencing. */
bool br_core_fenced(br_core_t *core);

/* Called by br_md whenever its view changes (topic may be NULL: many). */
void br_core_md_changed(br_core_t *core, const char *topic);

#endif
