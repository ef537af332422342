/*
 * zkc: zookeeper_st on libev (see zkc.h for the state machine).
 *
 * Invariants:
 *  1. z->zh is NULL only between an expiry and the reopen timer, or after
 *     a failed zookeeper_init (the reopen timer then retries).
 *  2. After every entry into the C client (a call, zookeeper_process) the
 *     ev_io/ev_timer pair is refreshed from zookeeper_interest().
 *  3. Each queued call owns one zkc_op, freed by its completion trampoline.
 */
#include "coord/zkc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <zookeeper/proto.h>

#include "common/st_clock.h"
#include "common/st_log.h"

#define ZKC_TAG "zk"

struct zkc_watcher {
    zkc_watch_fn fn;
    void *arg;
    struct zkc_watcher *next;
};

struct zkc {
    struct ev_loop *loop;
    zhandle_t *zh;
    char *connect;
    char *chroot; /* "" or "/strata": prefixed to every path here */
    char *auth;
    int session_timeout_ms;
    zkc_state_t state;
    int64_t session_id;      /* of the current session once connected */
    int64_t prev_session_id; /* of the session that expired */
    zkc_session_fn fn;
    void *arg;
    ev_io io;
    int io_fd;
    int io_events;
    ev_timer timer;
    ev_timer reopen;
    struct ACL acl_entries[2];
    struct ACL_vector acl;
    zkc_watcher_t *watchers;
    st_mhist_t latency; /* request to completion, every operation */
};

typedef struct zkc_op {
    zkc_t *z;
    int64_t start_ns; /* st_mono_ns when sent */
    union {
        zkc_void_fn v;
        zkc_stat_fn s;
        zkc_data_fn d;
        zkc_children_fn c;
        zkc_create_fn cr;
        zkc_multi_fn m;
    } fn;
    void *arg;
    zkc_multi_t *multi;
} zkc_op_t;

struct zkc_multi {
    zkc_t *z;
    int n, cap;
    zoo_op_t *ops;
    char **strs; /* copies of paths/data, n_strs of them */
    int n_strs, cap_strs;
    struct Stat *stats;
    zoo_op_result_t *results;
    bool failed; /* out of memory while building */
};

static void zkc_update(zkc_t *z);

#define ZKC_PATH_MAX 1024

/* chroot + path into buf; NULL when it does not fit. */
static const char *zkc_full(const zkc_t *z, const char *path, char *buf)
{
    int n = snprintf(buf, ZKC_PATH_MAX, "%s%s", z->chroot, path);
    if (n < 0 || n >= ZKC_PATH_MAX)
        return NULL;
    /* "/strata" + "/" must stay "/strata" */
    if (z->chroot[0] && strcmp(path, "/") == 0)
        buf[strlen(z->chroot)] = '\0';
    return buf;
}

/* Path as the caller knows it (chroot stripped). */
static const char *zkc_strip(const zkc_t *z, const char *path)
{
    size_t cl = strlen(z->chroot);
    if (path && cl && strncmp(path, z->chroot, cl) == 0)
        return path[cl] ? path + cl : "/";
    return path;
}

const char *zkc_rc_name(int rc)
{
    return zerror(rc);
}

st_err_t zkc_rc_to_err(int rc)
{
    if (rc == ZOK)
        return ST_OK;
    if (rc == ZNONODE)
        return ST_ERR_NOT_FOUND;
    if (rc == ZNODEEXISTS)
        return ST_ERR_EXISTS;
    if (rc == ZOPERATIONTIMEOUT)
        return ST_ERR_TIMEOUT;
    if (rc == ZBADVERSION || rc == ZNOTEMPTY)
        return ST_ERR_STATE;
    if (rc == ZBADARGUMENTS)
        return ST_ERR_INVALID_ARG;
    if (rc == ZCLOSING)
        return ST_ERR_CLOSED;
    return ST_ERR_CONNECTION;
}

/* ---------------------------------------------------------- loop glue */

static void zkc_process(zkc_t *z, int events)
{
    if (!z->zh)
        return;
    int rc = zookeeper_process(z->zh, events);
    if (rc != ZOK && rc != ZNOTHING && rc != ZCONNECTIONLOSS && rc != ZSESSIONEXPIRED)
        ST_DEBUG(ZKC_TAG, "zookeeper_process: %s", zerror(rc));
    zkc_update(z);
}

static void zkc_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)loop;
    zkc_t *z = w->data;
    int events = 0;
    if (revents & EV_READ)
        events |= ZOOKEEPER_READ;
    if (revents & EV_WRITE)
        events |= ZOOKEEPER_WRITE;
    zkc_process(z, events);
}

static void zkc_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    zkc_process(w->data, 0);
}

static void zkc_update(zkc_t *z)
{
    if (!z->zh) {
        ev_io_stop(z->loop, &z->io);
        ev_timer_stop(z->loop, &z->timer);
        z->io_fd = -1;
        return;
    }
    int fd = -1, interest = 0;
    struct timeval tv = {0, 0};
    int rc = zookeeper_interest(z->zh, &fd, &interest, &tv);
    if (rc != ZOK && rc != ZCONNECTIONLOSS && rc != ZNOTHING)
        ST_DEBUG(ZKC_TAG, "zookeeper_interest: %s", zerror(rc));
    int events = 0;
    if (interest & ZOOKEEPER_READ)
        events |= EV_READ;
    if (interest & ZOOKEEPER_WRITE)
        events |= EV_WRITE;
    /* Always re-arm: the client closes and reopens its socket on
     * reconnects, and a reused fd number must be re-registered with
     * libev (see libev's notes on fd reuse). ZooKeeper traffic is light. */
    {
        ev_io_stop(z->loop, &z->io);
        z->io_fd = fd;
        z->io_events = events;
        if (fd >= 0 && events) {
            ev_io_set(&z->io, fd, events);
            ev_io_start(z->loop, &z->io);
        }
    }
    double after = (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
    if (after < 0.001)
        after = 0.001;
    if (after > 1.0)
        after = 1.0;
    ev_timer_stop(z->loop, &z->timer);
    ev_timer_set(&z->timer, after, 0.);
    ev_timer_start(z->loop, &z->timer);
}

/* ------------------------------------------------------------ session */

static void zkc_set_state(zkc_t *z, zkc_state_t st, bool new_session)
{
    z->state = st;
    if (z->fn)
        z->fn(z->arg, st, new_session);
}

static void zkc_session_watcher(zhandle_t *zh, int type, int state, const char *path, void *ctx)
{
    (void)path;
    zkc_t *z = ctx;
    if (type != ZOO_SESSION_EVENT || !z || z->zh != zh)
        return;
    if (state == ZOO_CONNECTED_STATE) {
        const clientid_t *cid = zoo_client_id(zh);
        int64_t sid = cid ? cid->client_id : 0;
        bool fresh = sid != z->session_id;
        z->session_id = sid;
        ST_INFO(ZKC_TAG, "connected, session 0x%llx%s", (unsigned long long)sid, fresh ? " (new)" : "");
        zkc_set_state(z, ZKC_CONNECTED, fresh);
    } else if (state == ZOO_EXPIRED_SESSION_STATE) {
        ST_WARN(ZKC_TAG, "session 0x%llx expired", (unsigned long long)z->session_id);
        z->prev_session_id = z->session_id;
        /* the handle is replaced from the loop, not from inside zookeeper_process */
        ev_timer_stop(z->loop, &z->reopen);
        ev_timer_set(&z->reopen, 0., 0.);
        ev_timer_start(z->loop, &z->reopen);
        zkc_set_state(z, ZKC_EXPIRED, false);
    } else if (state == ZOO_AUTH_FAILED_STATE) {
        ST_ERROR(ZKC_TAG, "authentication failed");
        zkc_set_state(z, ZKC_AUTH_FAILED, false);
    } else {
        if (z->state == ZKC_CONNECTED)
            ST_WARN(ZKC_TAG, "disconnected, reconnecting");
        zkc_set_state(z, ZKC_CONNECTING, false);
    }
}

static int zkc_init_handle(zkc_t *z)
{
    z->zh = zookeeper_init(z->connect, zkc_session_watcher, z->session_timeout_ms, NULL, z, 0);
    if (!z->zh)
        return errno ? errno : EINVAL;
    if (z->auth) {
        int rc = zoo_add_auth(z->zh, "digest", z->auth, (int)strlen(z->auth), NULL, NULL);
        if (rc != ZOK)
            ST_WARN(ZKC_TAG, "zoo_add_auth: %s", zerror(rc));
    }
    z->io_fd = -1;
    z->io_events = 0;
    zkc_update(z);
    return 0;
}

static void zkc_reopen_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    zkc_t *z = w->data;
    if (z->zh) {
        zhandle_t *old = z->zh;
        z->zh = NULL;
        zkc_update(z);
        zookeeper_close(old);
    }
    z->state = ZKC_CONNECTING;
    if (zkc_init_handle(z) != 0) {
        ST_ERROR(ZKC_TAG, "zookeeper_init(%s) failed, retrying in 1 s", z->connect);
        ev_timer_set(&z->reopen, 1., 0.);
        ev_timer_start(z->loop, &z->reopen);
        return;
    }
    zkc_set_state(z, ZKC_CONNECTING, false);
}

st_err_t zkc_open(struct ev_loop *loop, const char *hosts, const char *chroot, int session_timeout_ms,
                  const char *auth_digest, zkc_session_fn fn, void *arg, zkc_t **out)
{
    *out = NULL;
    zkc_t *z = calloc(1, sizeof *z);
    if (!z)
        return ST_ERR_NOMEM;
    z->loop = loop;
    z->connect = strdup(hosts);
    z->chroot = strdup(chroot && strcmp(chroot, "/") != 0 ? chroot : "");
    z->auth = auth_digest && *auth_digest ? strdup(auth_digest) : NULL;
    if (!z->connect || !z->chroot || (auth_digest && *auth_digest && !z->auth)) {
        free(z->connect);
        free(z->chroot);
        free(z->auth);
        free(z);
        return ST_ERR_NOMEM;
    }
    z->session_timeout_ms = session_timeout_ms;
    z->fn = fn;
    z->arg = arg;
    z->state = ZKC_CONNECTING;
    z->io_fd = -1;
    ev_io_init(&z->io, zkc_io_cb, 0, EV_READ);
    z->io.data = z;
    ev_timer_init(&z->timer, zkc_timer_cb, 1., 0.);
    z->timer.data = z;
    ev_timer_init(&z->reopen, zkc_reopen_cb, 0., 0.);
    z->reopen.data = z;
    if (z->auth) {
        z->acl_entries[0].perms = ZOO_PERM_READ;
        z->acl_entries[0].id = ZOO_ANYONE_ID_UNSAFE;
        z->acl_entries[1].perms = ZOO_PERM_ALL;
        z->acl_entries[1].id = ZOO_AUTH_IDS;
        z->acl.count = 2;
        z->acl.data = z->acl_entries;
    } else {
        z->acl = ZOO_OPEN_ACL_UNSAFE;
    }
    zoo_set_debug_level(ZOO_LOG_LEVEL_ERROR);
    if (zkc_init_handle(z) != 0) {
        ST_ERROR(ZKC_TAG, "zookeeper_init(%s): %s", hosts, strerror(errno));
        free(z->connect);
        free(z->chroot);
        free(z->auth);
        free(z);
        return ST_ERR_INVALID_CONFIG;
    }
    *out = z;
    return ST_OK;
}

void zkc_close(zkc_t *z)
{
    if (!z)
        return;
    ev_timer_stop(z->loop, &z->reopen);
    z->fn = NULL;
    if (z->zh) {
        zhandle_t *zh = z->zh;
        ev_io_stop(z->loop, &z->io);
        ev_timer_stop(z->loop, &z->timer);
        z->zh = NULL;
        zookeeper_close(zh);
    }
    z->state = ZKC_CLOSED;
    while (z->watchers) {
        zkc_watcher_t *w = z->watchers;
        z->watchers = w->next;
        free(w);
    }
    free(z->connect);
    free(z->chroot);
    free(z->auth);
    free(z);
}

zkc_state_t zkc_state(const zkc_t *z)
{
    return z->state;
}

int64_t zkc_session_id(const zkc_t *z)
{
    return z->session_id;
}

int zkc_session_timeout_ms(const zkc_t *z)
{
    return z->zh && z->state == ZKC_CONNECTED ? zoo_recv_timeout(z->zh) : 0;
}

int64_t zkc_previous_session_id(const zkc_t *z)
{
    return z->prev_session_id;
}

zkc_watcher_t *zkc_watcher_new(zkc_t *z, zkc_watch_fn fn, void *arg)
{
    zkc_watcher_t *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    w->fn = fn;
    w->arg = arg;
    w->next = z->watchers;
    z->watchers = w;
    return w;
}

static void zkc_watch_tramp(zhandle_t *zh, int type, int state, const char *path, void *ctx)
{
    (void)state;
    zkc_watcher_t *w = ctx;
    if (type == ZOO_SESSION_EVENT || type == ZOO_NOTWATCHING_EVENT || !w)
        return;
    const zkc_t *z = zoo_get_context(zh);
    w->fn(w->arg, type, z ? zkc_strip(z, path) : path);
}

/* ---------------------------------------------------------- operations */

static zkc_op_t *zkc_op_new(zkc_t *z, void *arg)
{
    zkc_op_t *op = calloc(1, sizeof *op);
    if (op) {
        op->z = z;
        op->arg = arg;
        op->start_ns = st_mono_ns();
    }
    return op;
}

/* A completion arrived: its latency (not for ZCLOSING, the handle closing). */
static void zkc_observe(const zkc_op_t *op, int rc)
{
    if (rc != ZCLOSING)
        st_mhist_observe(&op->z->latency, (double)(st_mono_ns() - op->start_ns) / 1e9);
}

const st_mhist_t *zkc_latency(const zkc_t *z)
{
    return &z->latency;
}

/* Common tail of every call: free the op when the call was not queued. */
static int zkc_queued(zkc_t *z, zkc_op_t *op, int rc)
{
    if (rc != ZOK) {
        if (op && op->multi)
            zkc_multi_free(op->multi);
        free(op);
    }
    zkc_update(z);
    return rc;
}

/* The common start of an asynchronous call: the handle is open, the path
 * fits under the chroot (*path then points into full), an op record for
 * arg. NULL with *rc a ZooKeeper code (ZINVALIDSTATE, ZBADARGUMENTS,
 * ZSYSTEMERROR) when the call cannot be made. */
static zkc_op_t *zkc_begin(zkc_t *z, const char **path, char *full, void *arg, int *rc)
{
    zkc_op_t *op = NULL;
    if (!z->zh)
        *rc = ZINVALIDSTATE;
    else if (!(*path = zkc_full(z, *path, full)))
        *rc = ZBADARGUMENTS;
    else if (!(op = zkc_op_new(z, arg)))
        *rc = ZSYSTEMERROR;
    return op;
}

static void zkc_create_done(int rc, const char *path, const struct Stat *stat, const void *data)
{
    zkc_op_t *op = (zkc_op_t *)data;
    zkc_observe(op, rc);
    if (op->fn.cr)
        op->fn.cr(op->arg, rc, path ? zkc_strip(op->z, path) : NULL, stat);
    free(op);
}

int zkc_create(zkc_t *z, const char *path, const char *data, int len, int flags, zkc_create_fn fn, void *arg)
{
    char full[ZKC_PATH_MAX];
    int rc;
    zkc_op_t *op = zkc_begin(z, &path, full, arg, &rc);
    if (!op)
        return rc;
    op->fn.cr = fn;
    rc = zoo_acreate2(z->zh, path, data, data ? len : -1, &z->acl, flags, zkc_create_done, op);
    return zkc_queued(z, op, rc);
}

static void zkc_data_done(int rc, const char *value, int len, const struct Stat *stat, const void *data)
{
    zkc_op_t *op = (zkc_op_t *)data;
    zkc_observe(op, rc);
    if (op->fn.d)
        op->fn.d(op->arg, rc, value, value ? len : 0, stat);
    free(op);
}

int zkc_get(zkc_t *z, const char *path, zkc_watcher_t *w, zkc_data_fn fn, void *arg)
{
    char full[ZKC_PATH_MAX];
    int rc;
    zkc_op_t *op = zkc_begin(z, &path, full, arg, &rc);
    if (!op)
        return rc;
    op->fn.d = fn;
    rc = w ? zoo_awget(z->zh, path, zkc_watch_tramp, w, zkc_data_done, op)
           : zoo_aget(z->zh, path, 0, zkc_data_done, op);
    return zkc_queued(z, op, rc);
}

static void zkc_stat_done(int rc, const struct Stat *stat, const void *data)
{
    zkc_op_t *op = (zkc_op_t *)data;
    zkc_observe(op, rc);
    if (op->fn.s)
        op->fn.s(op->arg, rc, stat);
    free(op);
}

int zkc_set(zkc_t *z, const char *path, const char *data, int len, int version, zkc_stat_fn fn, void *arg)
{
    char full[ZKC_PATH_MAX];
    int rc;
    zkc_op_t *op = zkc_begin(z, &path, full, arg, &rc);
    if (!op)
        return rc;
    op->fn.s = fn;
    rc = zoo_aset(z->zh, path, data, data ? len : -1, version, zkc_stat_done, op);
    return zkc_queued(z, op, rc);
}

int zkc_exists(zkc_t *z, const char *path, zkc_watcher_t *w, zkc_stat_fn fn, void *arg)
{
    char full[ZKC_PATH_MAX];
    int rc;
    zkc_op_t *op = zkc_begin(z, &path, full, arg, &rc);
    if (!op)
        return rc;
    op->fn.s = fn;
    rc = w ? zoo_awexists(z->zh, path, zkc_watch_tramp, w, zkc_stat_done, op)
           : zoo_aexists(z->zh, path, 0, zkc_stat_done, op);
    return zkc_queued(z, op, rc);
}

static void zkc_void_done(int rc, const void *data)
{
    zkc_op_t *op = (zkc_op_t *)data;
    zkc_observe(op, rc);
    if (op->fn.v)
        op->fn.v(op->arg, rc);
    free(op);
}

int zkc_delete(zkc_t *z, const char *path, int version, zkc_void_fn fn, void *arg)
{
    char full[ZKC_PATH_MAX];
    int rc;
    zkc_op_t *op = zkc_begin(z, &path, full, arg, &rc);
    if (!op)
        return rc;
    op->fn.v = fn;
    rc = zoo_adelete(z->zh, path, version, zkc_void_done, op);
    return zkc_queued(z, op, rc);
}

static void zkc_children_done(int rc, const struct String_vector *strings, const void *data)
{
    zkc_op_t *op = (zkc_op_t *)data;
    zkc_observe(op, rc);
    struct String_vector empty = {0, NULL};
    if (op->fn.c)
        op->fn.c(op->arg, rc, strings ? strings : &empty);
    free(op);
}

int zkc_children(zkc_t *z, const char *path, zkc_watcher_t *w, zkc_children_fn fn, void *arg)
{
    char full[ZKC_PATH_MAX];
    int rc;
    zkc_op_t *op = zkc_begin(z, &path, full, arg, &rc);
    if (!op)
        return rc;
    op->fn.c = fn;
    rc = w ? zoo_awget_children(z->zh, path, zkc_watch_tramp, w, zkc_children_done, op)
           : zoo_aget_children(z->zh, path, 0, zkc_children_done, op);
    return zkc_queued(z, op, rc);
}

/* --------------------------------------------------------------- multi */

zkc_multi_t *zkc_multi_new(zkc_t *z)
{
    zkc_multi_t *m = calloc(1, sizeof(zkc_multi_t));
    if (m)
        m->z = z;
    return m;
}

void zkc_multi_free(zkc_multi_t *m)
{
    if (!m)
        return;
    for (int i = 0; i < m->n_strs; i++)
        free(m->strs[i]);
    free(m->strs);
    free(m->ops);
    free(m->stats);
    free(m->results);
    free(m);
}

int zkc_multi_count(const zkc_multi_t *m)
{
    return m->n;
}

/* Keep a copy of len bytes (NUL-terminated) owned by m. */
static char *zkc_multi_keep(zkc_multi_t *m, const char *s, int len);

/* Keep chroot + path. */
static const char *zkc_multi_path(zkc_multi_t *m, const char *path)
{
    char full[ZKC_PATH_MAX];
    if (!zkc_full(m->z, path, full)) {
        m->failed = true;
        return NULL;
    }
    return zkc_multi_keep(m, full, (int)strlen(full));
}

static char *zkc_multi_keep(zkc_multi_t *m, const char *s, int len)
{
    if (!s)
        return NULL;
    if (m->n_strs == m->cap_strs) {
        int nc = m->cap_strs ? m->cap_strs * 2 : 16;
        char **ns = realloc(m->strs, (size_t)nc * sizeof *ns);
        if (!ns) {
            m->failed = true;
            return NULL;
        }
        m->strs = ns;
        m->cap_strs = nc;
    }
    char *c = malloc((size_t)len + 1);
    if (!c) {
        m->failed = true;
        return NULL;
    }
    memcpy(c, s, (size_t)len);
    c[len] = '\0';
    m->strs[m->n_strs++] = c;
    return c;
}

static zoo_op_t *zkc_multi_slot(zkc_multi_t *m)
{
    if (m->n == m->cap) {
        int nc = m->cap ? m->cap * 2 : 8;
        zoo_op_t *no = realloc(m->ops, (size_t)nc * sizeof *no);
        if (!no) {
            m->failed = true;
            return NULL;
        }
        m->ops = no;
        m->cap = nc;
    }
    zoo_op_t *op = &m->ops[m->n++];
    memset(op, 0, sizeof *op);
    return op;
}

void zkc_multi_check(zkc_multi_t *m, const char *path, int version)
{
    const char *p = zkc_multi_path(m, path);
    zoo_op_t *op = zkc_multi_slot(m);
    if (op)
        zoo_check_op_init(op, p, version);
}

void zkc_multi_create(zkc_multi_t *m, const char *path, const char *data, int len, int flags)
{
    const char *p = zkc_multi_path(m, path);
    const char *d = zkc_multi_keep(m, data, data ? len : 0);
    static const char zeros[512];
    char *buf = zkc_multi_keep(m, zeros, (int)sizeof zeros - 1);
    zoo_op_t *op = zkc_multi_slot(m);
    if (op)
        zoo_create_op_init(op, p, d, d ? len : -1, NULL, flags, buf, buf ? (int)sizeof zeros - 1 : 0);
}

void zkc_multi_set(zkc_multi_t *m, const char *path, const char *data, int len, int version)
{
    const char *p = zkc_multi_path(m, path);
    const char *d = zkc_multi_keep(m, data, data ? len : 0);
    zoo_op_t *op = zkc_multi_slot(m);
    if (op)
        zoo_set_op_init(op, p, d, d ? len : -1, version, NULL);
}

void zkc_multi_delete(zkc_multi_t *m, const char *path, int version)
{
    const char *p = zkc_multi_path(m, path);
    zoo_op_t *op = zkc_multi_slot(m);
    if (op)
        zoo_delete_op_init(op, p, version);
}

static void zkc_multi_done(int rc, const void *data)
{
    zkc_op_t *op = (zkc_op_t *)data;
    zkc_observe(op, rc);
    if (op->fn.m)
        op->fn.m(op->arg, rc, op->multi->results, op->multi->n);
    zkc_multi_free(op->multi);
    free(op);
}

int zkc_multi_commit(zkc_t *z, zkc_multi_t *m, zkc_multi_fn fn, void *arg)
{
    if (!m)
        return ZSYSTEMERROR;
    if (!z->zh || m->failed || m->n == 0) {
        int rc = !z->zh ? ZINVALIDSTATE : m->failed ? ZSYSTEMERROR : ZBADARGUMENTS;
        zkc_multi_free(m);
        return rc;
    }
    m->stats = calloc((size_t)m->n, sizeof *m->stats);
    m->results = calloc((size_t)m->n, sizeof *m->results);
    zkc_op_t *op = zkc_op_new(z, arg);
    if (!m->stats || !m->results || !op) {
        free(op);
        zkc_multi_free(m);
        return ZSYSTEMERROR;
    }
    for (int i = 0; i < m->n; i++) {
        if (m->ops[i].type == ZOO_CREATE_OP)
            m->ops[i].create_op.acl = &z->acl;
        else if (m->ops[i].type == ZOO_SETDATA_OP)
            m->ops[i].set_op.stat = &m->stats[i];
    }
    op->fn.m = fn;
    op->multi = m;
    int rc = zoo_amulti(z->zh, m->n, m->ops, m->results, zkc_multi_done, op);
    return zkc_queued(z, op, rc);
}

/* ------------------------------------------------------------- chroot */

typedef struct zkc_chroot_job {
    zkc_void_fn fn;
    void *arg;
    int left;
    int rc;
} zkc_chroot_job_t;

static void zkc_chroot_step(int rc, const char *path, const void *data)
{
    (void)path;
    zkc_chroot_job_t *j = (zkc_chroot_job_t *)data;
    if (rc != ZOK && rc != ZNODEEXISTS && j->rc == ZOK)
        j->rc = rc;
    if (--j->left == 0) {
        if (j->fn)
            j->fn(j->arg, j->rc);
        free(j);
    }
}

int zkc_ensure_chroot(zkc_t *z, zkc_void_fn fn, void *arg)
{
    if (!z->zh)
        return ZINVALIDSTATE;
    zkc_chroot_job_t *j = calloc(1, sizeof *j);
    if (!j)
        return ZSYSTEMERROR;
    j->fn = fn;
    j->arg = arg;
    j->left = 1;
    char buf[ZKC_PATH_MAX];
    size_t cl = strlen(z->chroot);
    for (size_t i = 1; i <= cl && cl < sizeof buf; i++) {
        if (i == cl || z->chroot[i] == '/') {
            memcpy(buf, z->chroot, i);
            buf[i] = '\0';
            /* parents of the chroot: open ACL would let anyone write; use ours */
            if (zoo_acreate(z->zh, buf, NULL, -1, &z->acl, 0, zkc_chroot_step, j) == ZOK)
                j->left++;
        }
    }
    zkc_update(z);
    zkc_chroot_step(ZOK, NULL, j);
    return ZOK;
}
