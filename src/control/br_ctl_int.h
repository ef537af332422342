/*
 * br_ctl_int: the controller's internals, shared by its pieces and by
 * nothing else (everything outside talks to br_ctl.h):
 *   br_ctl.c            controller election and epoch, the work items and
 *                       jobs every controller write goes through, the
 *                       life cycle and the request switch;
 *   br_ctl_reconcile.c  partition states (the election rule), topic ids,
 *                       topic deletion;
 *   br_ctl_shutdown.c   controlled shutdown, preferred and unclean leader
 *                       elections (ElectLeaders, automatic rebalance);
 *   br_ctl_isr.c        leader-driven ISR writes;
 *   br_ctl_reassign.c   partition reassignment and its two requests.
 * It describes br_ctl and the work-item, job and settle records; owns
 * nothing by itself. Core loop only.
 *
 * Work items. Every write is a ctl_req_t keyed by a string ("s:t/p",
 * "id:t", "del:t", "ra:t") held in ctl->inflight while the write is in
 * flight, so that a reconcile pass does not start it twice; a request
 * carries the session generation (ctl->gen) it was issued in and is
 * ignored when answered in another one (br_ctl_current). Controller
 * writes are zoo_multis that start with a check of /controller_epoch
 * (br_ctl_multi); BADVERSION on that check means another broker is
 * controller now (br_ctl_multi_ok resigns). A job (ctl_job_t) gathers the
 * outcome of several state writes for someone waiting (a controlled
 * shutdown, an ElectLeaders call).
 */
#ifndef BR_CTL_INT_H
#define BR_CTL_INT_H

#include <ev.h>
#include <stdbool.h>
#include <stdint.h>

#include "control/br_ctl.h"
#include "control/br_md.h"

#define CTL_TAG "controller"

struct br_ctl {
    const br_cp_t *cp;
    zkc_watcher_t *watch;
    uint64_t gen;
    bool active;
    bool electing;
    int32_t epoch;
    int32_t epoch_version;
    uint64_t m_elections_clean;   /* leader failures: a new leader from the ISR */
    uint64_t m_elections_unclean; /* ... from outside the ISR */
    char **inflight;
    size_t n_inflight;
    char **deletes; /* children of /admin/delete_topics */
    size_t n_deletes;
    struct ctl_settle *settles; /* state writes done, cache not caught up yet */
    size_t n_settles;
    int32_t *shutting; /* brokers in controlled shutdown */
    int64_t *shutting_until;
    int64_t *shutting_epoch;   /* the registration that is stopping */
    int64_t cs_refused_log_ms; /* last "controlled shutdown refused" log line (wall ms) */
    size_t n_shutting;
    int64_t next_rebalance_ms;
    /* reassignment */
    zkc_watcher_t *reassign_watch;
    struct ctl_reassign *reassigns; /* /admin/reassign_partitions as last read */
    size_t n_reassigns;
    int32_t reassign_version; /* its znode version, -1 absent */
    bool reassign_writing;
    /* metadata changes arrive one znode at a time (hundreds after a broker
     * dies): one reconcile per loop iteration covers all of them */
    ev_timer reconcile_soon;
    /* bounce detection (KAFKA-7235): the broker epoch each broker had when
     * this controller last looked; a broker seen with another one restarted
     * in between, maybe faster than its registration's deletion could be
     * seen, and its leaderships are moved as after a failure */
    struct ctl_seen {
        int32_t id;
        int64_t epoch;
        bool bounced; /* leaderships still to move */
    } * seen;
    size_t n_seen;
};

/* A partition state we wrote: until the cache shows at least this znode
 * version, reconciling it again would only race our own write. */
typedef struct ctl_settle {
    char topic[256];
    int32_t partition;
    int32_t min_version;
    int64_t until_ms;
} ctl_settle_t;

typedef struct ctl_req {
    br_ctl_t *ctl;
    uint64_t gen;
    char key[300];
    char topic[256];
    int32_t partition;
    int stage;
    int32_t settle_version; /* state writes: version the write produces, -1 none */
    /* delete jobs: collected paths */
    char **paths;
    size_t n_paths;
    int outstanding;
    /* state writes of a job (controlled shutdown, elections) */
    struct ctl_job *job;
    size_t job_idx;
} ctl_req_t;

typedef struct ctl_reassign {
    zknode_reassign_part_t r;
    bool done;
} ctl_reassign_t;

/* A batch of state writes whose outcome someone waits for: finish runs
 * once every write completed (ok[i] tells which succeeded). */
typedef struct ctl_job {
    br_ctl_t *ctl;
    size_t n; /* entries */
    char **topics;
    int32_t *parts;
    st_err_t *errs;  /* per entry: ST_OK = written */
    int outstanding; /* writes in flight (+1 while issuing) */
    int64_t start_ms;
    void (*finish)(struct ctl_job *job);
    /* owner data */
    int32_t broker_id;
    br_ctl_cs_fn cs_fn;
    void *cs_arg;
    br_call_t *call;
    bool skip_not_needed;
} ctl_job_t;

/* Liveness of one partition's replicas: a broker whose registration lists
 * this partition in a failed log directory counts as dead for it. */
typedef struct ctl_pl {
    br_md_t *md;
    const char *topic;
    int32_t partition;
    int32_t exclude; /* a broker counted as dead all the same (-1: none) */
} ctl_pl_t;

static inline bool ctl_has(const int32_t *v, size_t n, int32_t x)
{
    for (size_t i = 0; i < n; i++)
        if (v[i] == x)
            return true;
    return false;
}

/* ---- work items (br_ctl.c) */

/* A work item of ctl in the current generation, keyed by key (NULL: no
 * key); NULL on out of memory. */
ctl_req_t *br_ctl_req_new(br_ctl_t *ctl, const char *key);
void br_ctl_req_free(ctl_req_t *r);
/* Finish a work item: release its key (when still current) and free it. */
void br_ctl_req_done(ctl_req_t *r);
/* The answer rc to r belongs to the current generation (not ZCLOSING). */
bool br_ctl_current(const ctl_req_t *r, int rc);
/* Key bookkeeping: in flight?, add (false on out of memory), release. */
bool br_ctl_inflight(br_ctl_t *ctl, const char *key);
bool br_ctl_inflight_add(br_ctl_t *ctl, const char *key);
void br_ctl_inflight_del(br_ctl_t *ctl, const char *key);
/* True while (topic, p) waits for the cache to show a state we wrote
 * (state_ok, version: what the cache holds now). */
bool br_ctl_settling(br_ctl_t *ctl, const char *topic, int32_t p, bool state_ok, int32_t version);
/* Common completion of a fenced multi: true on ZOK; resigns when the
 * epoch check failed (deposed); what names the write in the log. */
bool br_ctl_multi_ok(ctl_req_t *r, int rc, const zoo_op_result_t *results, int n, const char *what);
/* A new multi that starts with the /controller_epoch check; NULL on out
 * of memory. */
zkc_multi_t *br_ctl_multi(br_ctl_t *ctl);
/* zkc completion of a work item's multi (arg: the ctl_req_t): records
 * the settle version, releases the key, reports to its job. */
void br_ctl_write_done(void *arg, int rc, const zoo_op_result_t *results, int n);
/* Commit m (consumed) as work item key; a state write names its partition
 * and the znode version it produces (settle_version >= 0). */
void br_ctl_commit_state(br_ctl_t *ctl, zkc_multi_t *m, const char *key, const char *topic, int32_t p,
                         int32_t settle_version);
void br_ctl_commit(br_ctl_t *ctl, zkc_multi_t *m, const char *key);

/* ---- jobs (br_ctl.c) */

/* A job of up to n entries; finish runs once every write completed and
 * the holder released it. Starts held (br_ctl_job_release when issued). */
ctl_job_t *br_ctl_job_new(br_ctl_t *ctl, size_t n, void (*finish)(ctl_job_t *));
/* Append an entry with its initial outcome; returns its index. */
size_t br_ctl_job_add(ctl_job_t *job, const char *topic, int32_t p, st_err_t err);
/* Drop one hold; the last runs finish and frees the job. */
void br_ctl_job_release(ctl_job_t *job);
/* Write next as the state of t/p for job entry idx (or for nobody when
 * job is NULL). Returns false when the write could not start (another
 * write of that partition in flight, not connected). */
bool br_ctl_write_state(br_ctl_t *ctl, br_md_topic_t *t, int32_t p, zknode_part_state_t *next, ctl_job_t *job,
                        size_t idx, const char *why);

/* ---- the pieces */

/* One reconcile pass when active and the cache is ready: deletions,
 * topic ids, partition states, reassignments (br_ctl_reconcile.c). */
void br_ctl_reconcile(br_ctl_t *ctl);
/* Liveness of one partition's replicas (arg: a ctl_pl_t). */
bool br_ctl_live_part(void *arg, int32_t id);
/* auto.leader.rebalance.enable, once per check interval
 * (br_ctl_shutdown.c). */
void br_ctl_auto_rebalance(br_ctl_t *ctl);
/* Read (and watch) /admin/reassign_partitions (br_ctl_reassign.c). */
void br_ctl_reassign_load(br_ctl_t *ctl);
/* Take every pending reassignment one step further; prune finished ones. */
void br_ctl_reassign_reconcile(br_ctl_t *ctl);
/* Forget the reassignments read. */
void br_ctl_reassign_clear(br_ctl_t *ctl);
/* zkc watcher of /admin/reassign_partitions (arg: the br_ctl). */
void br_ctl_reassign_watch(void *arg, int type, const char *path);

#endif
