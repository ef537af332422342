/*
 * zkc: the broker's ZooKeeper client. It drives the single-threaded C
 * client (zookeeper_st) from the core libev loop: zookeeper_interest()
 * gives an fd and a timeout that become an ev_io and an ev_timer, and
 * zookeeper_process() runs completions and watches on the core. It wraps
 * the asynchronous calls with plain callbacks, applies the ACL policy
 * (digest auth: world read + auth all), and keeps the session state
 * machine:
 *
 *   CONNECTING --connected--> CONNECTED --disconnect--> CONNECTING
 *        \                                                  |
 *         `------------- session expired <-----------------'
 *                               |
 *                   EXPIRED: the handle is closed and a new one opened
 *                   (next loop iteration), state goes back to CONNECTING.
 *
 * The owner's session callback sees every transition; new_session is
 * true on the first CONNECTED of a session (register ephemerals again).
 * Completion callbacks get a ZooKeeper return code (ZOK, ZNONODE, ...);
 * pending ones are called with ZCLOSING / ZSESSIONEXPIRED when the handle
 * goes away, so they must check rc. Watches fire at most once, on the
 * zkc_watcher given when set; session events do not reach watchers.
 * Owns: the zhandle and its watchers. Core loop only.
 */
#ifndef ZKC_H
#define ZKC_H

#include <ev.h>
#include <stdbool.h>
#include <stdint.h>
#include <zookeeper/zookeeper.h>

#include "common/st_err.h"
#include "common/st_metrics.h"

typedef struct zkc zkc_t;

typedef enum zkc_state {
    ZKC_CONNECTING = 0, /* handle open, no session established (yet/anymore) */
    ZKC_CONNECTED,      /* session live */
    ZKC_EXPIRED,        /* session lost for good; a new handle follows */
    ZKC_AUTH_FAILED,    /* digest rejected: fatal */
    ZKC_CLOSED,         /* zkc_close was called */
} zkc_state_t;

typedef void (*zkc_session_fn)(void *arg, zkc_state_t state, bool new_session);
typedef void (*zkc_void_fn)(void *arg, int rc);

/* A watch target: fn(arg, event type (ZOO_CHANGED_EVENT ...), path). */
typedef void (*zkc_watch_fn)(void *arg, int type, const char *path);
typedef struct zkc_watcher zkc_watcher_t;

/* Open a handle on hosts ("h:p,h:p"). Every path given to zkc is relative
 * to chroot ("/strata"; NULL or "/" for none): zkc prefixes it itself
 * (rather than the C client) so that zkc_ensure_chroot can create the
 * chroot. auth_digest ("user:password") may be NULL. Returns at once; the
 * session callback reports CONNECTED later. */
st_err_t zkc_open(struct ev_loop *loop, const char *hosts, const char *chroot, int session_timeout_ms,
                  const char *auth_digest, zkc_session_fn fn, void *arg, zkc_t **out);
/* Create the chroot and its ancestors (existing ones are fine), then call
 * fn(arg, rc) once with ZOK or the first error. */
int zkc_ensure_chroot(zkc_t *z, zkc_void_fn fn, void *arg);
/* Close the session (its ephemeral znodes vanish at once), call pending
 * completions with ZCLOSING, free everything including watchers. */
void zkc_close(zkc_t *z);

zkc_state_t zkc_state(const zkc_t *z);
/* Latency of every operation, request to completion (for metrics).
 * Core loop. */
const st_mhist_t *zkc_latency(const zkc_t *z);
int64_t zkc_session_id(const zkc_t *z);
/* The session timeout the server negotiated (ms), 0 when not connected. */
int zkc_session_timeout_ms(const zkc_t *z);
/* Session id of the previous (expired) session of this zkc, 0 if none. */
int64_t zkc_previous_session_id(const zkc_t *z);
/* Name of a ZooKeeper return code. */
const char *zkc_rc_name(int rc);
/* Translate a ZooKeeper return code into the strata enum. */
st_err_t zkc_rc_to_err(int rc);

/* A watcher lives until zkc_close; it may be passed to many calls. */
zkc_watcher_t *zkc_watcher_new(zkc_t *z, zkc_watch_fn fn, void *arg);

typedef void (*zkc_stat_fn)(void *arg, int rc, const struct Stat *stat);
typedef void (*zkc_data_fn)(void *arg, int rc, const char *data, int len, const struct Stat *stat);
typedef void (*zkc_children_fn)(void *arg, int rc, const struct String_vector *names);
typedef void (*zkc_create_fn)(void *arg, int rc, const char *path, const struct Stat *stat);
typedef void (*zkc_multi_fn)(void *arg, int rc, const zoo_op_result_t *results, int n);

/* All return ZOK when the request was queued (the callback then runs
 * exactly once), or a ZooKeeper error code (callback not called).
 * flags: 0 or ZOO_EPHEMERAL. data may be NULL (empty znode). */
int zkc_create(zkc_t *z, const char *path, const char *data, int len, int flags, zkc_create_fn fn, void *arg);
int zkc_get(zkc_t *z, const char *path, zkc_watcher_t *w, zkc_data_fn fn, void *arg);
/* version -1 = unconditional. */
int zkc_set(zkc_t *z, const char *path, const char *data, int len, int version, zkc_stat_fn fn, void *arg);
int zkc_delete(zkc_t *z, const char *path, int version, zkc_void_fn fn, void *arg);
int zkc_exists(zkc_t *z, const char *path, zkc_watcher_t *w, zkc_stat_fn fn, void *arg);
int zkc_children(zkc_t *z, const char *path, zkc_watcher_t *w, zkc_children_fn fn, void *arg);

/* Multi-op transactions: build, then commit (which takes ownership). */
typedef struct zkc_multi zkc_multi_t;
zkc_multi_t *zkc_multi_new(zkc_t *z);
void zkc_multi_check(zkc_multi_t *m, const char *path, int version);
void zkc_multi_create(zkc_multi_t *m, const char *path, const char *data, int len, int flags);
void zkc_multi_set(zkc_multi_t *m, const char *path, const char *data, int len, int version);
void zkc_multi_delete(zkc_multi_t *m, const char *path, int version);
int zkc_multi_count(const zkc_multi_t *m);
/* Always consumes m. Returns like the calls above; on ZOK fn runs once
 * with the overall rc and the per-op results. */
int zkc_multi_commit(zkc_t *z, zkc_multi_t *m, zkc_multi_fn fn, void *arg);
void zkc_multi_free(zkc_multi_t *m);

#endif
