/*
 * br_core: process wiring and ZooKeeper membership (see br_core.h).
 *
 * Registration, on every new session:
 *   1. create the persistent parents (NODEEXISTS is fine);
 *   2. read /cluster/id, creating it when absent;
 *   3. create the ephemeral /brokers/ids/<id>. On NODEEXISTS read its
 *      ephemeralOwner: our own session -> registered; the session recorded
 *      in <first log dir>/zookeeper-session (our previous run) or our
 *      expired session -> wait for the znode to vanish (watch), at most
 *      the session timeout; any other session -> fatal start-up error.
 *   4. broker epoch = czxid of the znode; start the metadata cache and the
 *      controller election.
 */
#include "broker/br_core.h"

#include "broker/br_api.h"
#include "broker/br_metrics.h"
#include "broker/br_shutdown.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "control/br_admin.h"
#include "partition/br_cleaner.h"
#include "control/br_ctl.h"
#include "group/br_groups.h"
#include "control/br_md.h"
#include "control/br_producer_id.h"
#include "common/st_clock.h"
#include "common/st_log.h"
#include "coord/zknode.h"

#define CORE_TAG "broker"
#define CORE_SESSION_FILE "zookeeper-session"

char **br_split_list(const char *list, size_t *n)
{
    *n = 0;
    size_t cap = 1;
    for (const char *c = list; c && *c; c++)
        cap += *c == ',';
    char **v = calloc(cap + 1, sizeof *v);
    if (!v || !list)
        return v;
    const char *s = list;
    while (*s) {
        const char *e = strchr(s, ',');
        size_t len = e ? (size_t)(e - s) : strlen(s);
        while (len && (*s == ' ' || *s == '\t'))
            s++, len--;
        while (len && (s[len - 1] == ' ' || s[len - 1] == '\t'))
            len--;
        if (len)
            v[(*n)++] = strndup(s, len);
        if (!e)
            break;
        s = e + 1;
    }
    return v;
}

void br_free_list(char **v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        free(v[i]);
    free(v);
}

/* ------------------------------------------------------- session file */

static char *core_session_path(br_core_t *core)
{
    if (core->n_log_dirs == 0)
        return NULL;
    const char *dir = sl_logdir_path(core->log_dirs[0]);
    char *p = malloc(strlen(dir) + sizeof CORE_SESSION_FILE + 2);
    if (p)
        sprintf(p, "%s/%s", dir, CORE_SESSION_FILE);
    return p;
}

static int64_t core_read_session(br_core_t *core)
{
    char *path = core_session_path(core);
    int64_t sid = 0;
    FILE *f = path ? fopen(path, "r") : NULL;
    if (f) {
        unsigned long long v;
        if (fscanf(f, "%llx", &v) == 1)
            sid = (int64_t)v;
        fclose(f);
    }
    free(path);
    return sid;
}

/* temp -> fsync -> rename -> fsync dir */
static void core_write_session(br_core_t *core, int64_t sid)
{
    char *path = core_session_path(core);
    char *tmp = path ? malloc(strlen(path) + 5) : NULL;
    int fd = -1;
    if (!tmp)
        goto out;
    sprintf(tmp, "%s.tmp", path);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        goto out;
    char buf[32];
    int len = snprintf(buf, sizeof buf, "%llx\n", (unsigned long long)sid);
    if (write(fd, buf, (size_t)len) != len || fsync(fd) != 0)
        goto out;
    close(fd);
    fd = -1;
    if (rename(tmp, path) != 0)
        goto out;
    int dfd = open(sl_logdir_path(core->log_dirs[0]), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
out:
    if (fd >= 0)
        close(fd);
    free(tmp);
    free(path);
}

/* --------------------------------------------------------- membership */

static void core_fatal(br_core_t *core, const char *msg)
{
    ST_ERROR(CORE_TAG, "%s", msg);
    fprintf(stderr, "stratad: %s\n", msg);
    core->member = BR_MEMBER_FATAL;
    br_core_stop(core, 1);
}

static void core_register(br_core_t *core);

static void core_self_schedule(br_core_t *core);

static void core_registered(br_core_t *core, const struct Stat *stat)
{
    core->member = BR_MEMBER_REGISTERED;
    core->broker_epoch = stat ? stat->czxid : -1;
    core->fenced = false;
    core->zk_confirmed_ms = st_mono_ms();
    /* a probe sent on an expired session may never complete: the new
     * session probes afresh (core_probe_done checks the owner) */
    core->probe_inflight = false;
    if (core->self_dirty)
        core_self_schedule(core);
    core_write_session(core, zkc_session_id(core->zk));
    if (core->pm)
        br_pm_set_broker_epoch(core->pm, core->broker_epoch);
    ST_INFO(CORE_TAG, "registered broker %d in ZooKeeper (broker epoch %" PRId64 ", cluster %s)",
            core->broker_id, core->broker_epoch, core->cluster_id);
    br_md_start(core->md);
    br_ctl_start(core->ctl);
}

static void core_old_gone(void *arg, int rc, const struct Stat *stat)
{
    (void)stat;
    br_core_t *core = arg;
    if (rc == ZCLOSING || core->stopping)
        return;
    if (rc == ZNONODE && core->member == BR_MEMBER_WAITING_OLD)
        core_register(core); /* vanished already */
}

static void core_member_watch(void *arg, int type, const char *path)
{
    (void)path;
    br_core_t *core = arg;
    if (type == ZOO_DELETED_EVENT && core->member == BR_MEMBER_WAITING_OLD && !core->stopping) {
        ST_INFO(CORE_TAG, "previous registration vanished; registering");
        core_register(core);
    }
}

static void core_existing_read(void *arg, int rc, const char *data, int len, const struct Stat *stat)
{
    (void)data;
    (void)len;
    br_core_t *core = arg;
    if (rc == ZCLOSING || core->stopping || core->member != BR_MEMBER_REGISTERING)
        return;
    if (rc == ZNONODE) {
        core_register(core);
        return;
    }
    if (rc != ZOK || !stat)
        return; /* connection trouble: the next session event restarts */
    int64_t owner = stat->ephemeralOwner;
    if (owner == zkc_session_id(core->zk)) {
        core_registered(core, stat);
        return;
    }
    if (owner != 0 && (owner == core->prev_session_file || owner == zkc_previous_session_id(core->zk))) {
        core->member = BR_MEMBER_WAITING_OLD;
        if (core->register_deadline_ms == 0)
            core->register_deadline_ms = st_wall_ms() + core->conf->zookeeper_session_timeout_ms + 2000;
        ST_WARN(CORE_TAG,
                "broker.id %d is still registered by our previous session 0x%llx; waiting for it to expire",
                core->broker_id, (unsigned long long)owner);
        char p[64];
        zknode_path_broker(p, sizeof p, core->broker_id);
        zkc_exists(core->zk, p, core->member_watch, core_old_gone, core);
        return;
    }
    char msg[160];
    snprintf(msg, sizeof msg, "broker.id %d is already registered in ZooKeeper (session 0x%llx)",
             core->broker_id, (unsigned long long)owner);
    core_fatal(core, msg);
}

static void core_register_done(void *arg, int rc, const char *path, const struct Stat *stat)
{
    (void)path;
    br_core_t *core = arg;
    if (rc == ZCLOSING || core->stopping)
        return;
    if (rc == ZOK) {
        core_registered(core, stat);
    } else if (rc == ZNODEEXISTS) {
        char p[64];
        zknode_path_broker(p, sizeof p, core->broker_id);
        core->member = BR_MEMBER_REGISTERING;
        zkc_get(core->zk, p, NULL, core_existing_read, core);
    } else {
        ST_WARN(CORE_TAG, "registration failed: %s (will retry)", zkc_rc_name(rc));
    }
}

/* Our registration payload (malloc'd JSON, NULL on out of memory): the
 * endpoints, host and port of the first endpoint for Kafka-style tools,
 * rack, and core->self's additions. */
static char *core_member_json(br_core_t *core)
{
    zknode_broker_t b = {.id = core->broker_id, .port = 0, .rack = core->conf->broker_rack};
    b.endpoints = core->advertised;
    b.n_endpoints = core->n_advertised;
    b.timestamp_ms = st_wall_ms();
    char host[256] = "";
    if (core->n_advertised > 0) {
        const char *u = core->advertised[0];
        const char *h = strstr(u, "://");
        h = h ? h + 3 : u;
        const char *colon = strrchr(h, ':');
        if (colon && (size_t)(colon - h) < sizeof host) {
            memcpy(host, h, (size_t)(colon - h));
            host[colon - h] = '\0';
            b.port = atoi(colon + 1);
        } else {
            snprintf(host, sizeof host, "%s", h);
        }
    }
    b.host = host;
    return br_md_member_encode(&b, core->self);
}

static void core_register(br_core_t *core)
{
    core->member = BR_MEMBER_REGISTERING;
    char *json = core_member_json(core);
    core->self_dirty = false; /* the new registration carries it */
    char p[64];
    zknode_path_broker(p, sizeof p, core->broker_id);
    if (!json ||
        zkc_create(core->zk, p, json, (int)strlen(json), ZOO_EPHEMERAL, core_register_done, core) != ZOK)
        ST_WARN(CORE_TAG, "cannot send the registration (will retry)");
    free(json);
}

static void core_cluster_id_created(void *arg, int rc, const char *path, const struct Stat *stat);

static void core_cluster_id_read(void *arg, int rc, const char *data, int len, const struct Stat *stat)
{
    (void)stat;
    br_core_t *core = arg;
    if (rc == ZCLOSING || core->stopping)
        return;
    if (rc == ZNONODE) {
        char id[23];
        zknode_new_id(id);
        char *json = zknode_cluster_id_encode(id);
        if (json)
            zkc_create(core->zk, ZKNODE_PATH_CLUSTER_ID, json, (int)strlen(json), 0, core_cluster_id_created,
                       core);
        free(json);
        return;
    }
    if (rc != ZOK)
        return;
    if (zknode_cluster_id_decode(data, (size_t)len, core->cluster_id, sizeof core->cluster_id) != ST_OK) {
        ST_WARN(CORE_TAG, "/cluster/id is malformed; continuing without a cluster id");
        core->cluster_id[0] = '\0';
    }
    core_register(core);
}

static void core_cluster_id_created(void *arg, int rc, const char *path, const struct Stat *stat)
{
    (void)path;
    (void)stat;
    br_core_t *core = arg;
    if (rc == ZCLOSING || core->stopping)
        return;
    if (rc == ZOK || rc == ZNODEEXISTS)
        zkc_get(core->zk, ZKNODE_PATH_CLUSTER_ID, NULL, core_cluster_id_read, core);
}

static void core_parent_done(void *arg, int rc, const char *path, const struct Stat *stat)
{
    (void)path;
    (void)stat;
    br_core_t *core = arg;
    if (rc == ZCLOSING || core->stopping)
        return;
    if (rc != ZOK && rc != ZNODEEXISTS)
        ST_WARN(CORE_TAG, "creating %s: %s", path ? path : "parent", zkc_rc_name(rc));
    if (--core->parents_left == 0)
        zkc_get(core->zk, ZKNODE_PATH_CLUSTER_ID, NULL, core_cluster_id_read, core);
}

static void core_chroot_done(void *arg, int rc)
{
    br_core_t *core = arg;
    if (rc == ZCLOSING || core->stopping)
        return;
    if (rc != ZOK)
        ST_WARN(CORE_TAG, "creating the ZooKeeper chroot: %s", zkc_rc_name(rc));
    core->parents_left = 1;
    for (size_t i = 0; zknode_persistent_paths[i]; i++) {
        if (zkc_create(core->zk, zknode_persistent_paths[i], NULL, 0, 0, core_parent_done, core) == ZOK)
            core->parents_left++;
    }
    core_parent_done(core, ZOK, NULL, NULL);
}

static void core_start_registration(br_core_t *core)
{
    core->member = BR_MEMBER_REGISTERING;
    if (zkc_ensure_chroot(core->zk, core_chroot_done, core) != ZOK)
        ST_WARN(CORE_TAG, "cannot start registration: ZooKeeper handle not ready");
}

static void core_session(void *arg, zkc_state_t st, bool new_session)
{
    br_core_t *core = arg;
    if (core->stopping)
        return;
    switch (st) {
    case ZKC_CONNECTED:
        core->zk_connects++;
        ev_timer_stop(core->loop, &core->connect_timeout);
        if (new_session)
            core_start_registration(core);
        break;
    case ZKC_EXPIRED:
        core->zk_expirations++;
        ST_WARN(CORE_TAG, "ZooKeeper session expired: resigning leadership until registered again");
        if (core->pm)
            br_pm_resign_all(core->pm);
        br_ctl_resign(core->ctl);
        core->member = BR_MEMBER_START;
        core->register_deadline_ms = 0;
        break;
    case ZKC_AUTH_FAILED:
        core_fatal(core, "ZooKeeper authentication failed (zookeeper.auth.digest)");
        break;
    default:
        break;
    }
}

/* ------------------------------------------ our registration's payload */

static void core_self_written(void *arg, int rc, const struct Stat *stat);

/* Rewrite /brokers/ids/<id> (our own ephemeral) with core->self. Returns
 * whether a write was sent (or one is in flight). */
bool br_core_self_publish(br_core_t *core)
{
    if (core->self_writing)
        return true;
    if (core->stopping || core->member != BR_MEMBER_REGISTERED || zkc_state(core->zk) != ZKC_CONNECTED)
        return false;
    char *json = core_member_json(core);
    char p[64];
    zknode_path_broker(p, sizeof p, core->broker_id);
    bool sent = json && zkc_set(core->zk, p, json, (int)strlen(json), -1, core_self_written, core) == ZOK;
    free(json);
    if (sent) {
        core->self_writing = true;
        core->self_dirty = false;
    }
    return sent;
}

static void core_self_written(void *arg, int rc, const struct Stat *stat)
{
    (void)stat;
    br_core_t *core = arg;
    core->self_writing = false;
    if (rc == ZCLOSING || core->stopping)
        return;
    if (rc != ZOK) {
        ST_WARN(CORE_TAG, "rewriting our registration: %s (will retry)", zkc_rc_name(rc));
        core->self_dirty = true;
    } else {
        ST_INFO(CORE_TAG, "registration updated (%zu offline partition(s)%s)", core->self->n_offline,
                core->self->controlled_shutdown ? ", controlled shutdown" : "");
    }
    if (rc == ZOK && core->self_dirty && br_core_self_publish(core))
        return; /* changed again meanwhile */
    if (core->cs_after_publish) {
        core->cs_after_publish = false;
        br_shutdown_attempt(core);
    }
}

static void core_self_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    br_core_t *core = w->data;
    if (core->self_dirty)
        br_core_self_publish(core);
}

static void core_self_schedule(br_core_t *core)
{
    if (!core->loop || core->stopping)
        return;
    ev_timer_stop(core->loop, &core->self_publish);
    ev_timer_set(&core->self_publish, 0., 0.);
    ev_timer_start(core->loop, &core->self_publish);
}

static bool core_list_has(char **v, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i], s) == 0)
            return true;
    return false;
}

/* br_pm_logdir_failure_fn: called from inside the manager; record and
 * defer the ZooKeeper write to the next loop iteration. */
static void core_logdir_failed(void *arg, const char *log_dir, st_err_t err, const br_pm_tp_t *parts,
                               size_t n)
{
    br_core_t *core = arg;
    br_md_member_t *x = core->self;
    ST_ERROR(CORE_TAG, "log directory %s failed (%s): %zu replica(s) offline; telling the controller",
             log_dir ? log_dir : "?", st_err_name(err), n);
    if (log_dir && !core_list_has(x->offline_dirs, x->n_offline_dirs, log_dir)) {
        char **d = realloc(x->offline_dirs, (x->n_offline_dirs + 1) * sizeof *d);
        if (d) {
            x->offline_dirs = d;
            if ((d[x->n_offline_dirs] = strdup(log_dir)))
                x->n_offline_dirs++;
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (!parts[i].topic || br_md_member_offline(x, parts[i].topic, parts[i].partition))
            continue;
        char **t = realloc(x->offline_topics, (x->n_offline + 1) * sizeof *t);
        if (!t)
            break;
        x->offline_topics = t;
        int32_t *pp = realloc(x->offline_parts, (x->n_offline + 1) * sizeof *pp);
        if (!pp)
            break;
        x->offline_parts = pp;
        if (!(t[x->n_offline] = strdup(parts[i].topic)))
            break;
        pp[x->n_offline++] = parts[i].partition;
    }
    core->self_dirty = true;
    core_self_schedule(core);
}

/* ------------------------------------------------------ zombie fencing */

/* The session timeout ZooKeeper negotiated (it may cap the configured one
 * to its own min/max), the configured one before any session. */
static int64_t core_session_timeout_ms(br_core_t *core)
{
    int t = zkc_session_timeout_ms(core->zk);
    return t > 0 ? t : core->conf->zookeeper_session_timeout_ms;
}

static void core_probe_done(void *arg, int rc, const struct Stat *stat)
{
    br_core_t *core = arg;
    core->probe_inflight = false;
    if (rc == ZCLOSING || core->stopping)
        return;
    if (rc != ZOK || !stat || stat->ephemeralOwner != zkc_session_id(core->zk) ||
        core->member != BR_MEMBER_REGISTERED)
        return;
    if (core->probe_sent_ms > core->zk_confirmed_ms)
        core->zk_confirmed_ms = core->probe_sent_ms;
    if (core->fenced && !br_core_fenced(core)) {
        ST_WARN(CORE_TAG, "ZooKeeper confirmed our session again: reading partition states");
        if (core->md)
            br_md_refresh_states(core->md);
    }
}

static void core_probe(br_core_t *core)
{
    /* a probe unanswered for a whole session timeout is lost: send another */
    if (core->probe_inflight && st_mono_ms() - core->probe_sent_ms > core_session_timeout_ms(core))
        core->probe_inflight = false;
    if (core->probe_inflight || core->stopping || core->member != BR_MEMBER_REGISTERED ||
        zkc_state(core->zk) != ZKC_CONNECTED)
        return;
    char p[64];
    zknode_path_broker(p, sizeof p, core->broker_id);
    core->probe_sent_ms = st_mono_ms();
    if (zkc_exists(core->zk, p, NULL, core_probe_done, core) == ZOK)
        core->probe_inflight = true;
}

bool br_core_fenced(br_core_t *core)
{
    if (core->member != BR_MEMBER_REGISTERED)
        return false; /* nothing is led before registration; expiry resigned all */
    int64_t age = st_mono_ms() - core->zk_confirmed_ms;
    int64_t limit = core_session_timeout_ms(core) * 2 / 3;
    if (age > limit / 2)
        core_probe(core);
    if (age <= limit) {
        core->fenced = false;
        return false;
    }
    if (!core->fenced) {
        core->fenced = true;
        ST_WARN(CORE_TAG,
                "ZooKeeper has not confirmed our session for %lld ms (session timeout %lld ms): "
                "resigning leadership until it does",
                (long long)age, (long long)core_session_timeout_ms(core));
        if (core->pm)
            br_pm_resign_all(core->pm);
    }
    return true;
}

/* ------------------------------------------- group coordinator's view */

static int32_t core_meta_leader(void *arg, const char *topic, int32_t partition, bool *topic_exists)
{
    br_core_t *core = arg;
    br_md_topic_t *t = core->md && topic ? br_md_topic(core->md, topic) : NULL;
    *topic_exists = t && t->loaded;
    if (!*topic_exists || partition < 0 || partition >= t->n_parts)
        return -1;
    const br_md_part_t *part = &t->parts[partition];
    return part->kind == BR_MD_STATE_OK ? part->leader : -1;
}

static const char *core_meta_url(void *arg, int32_t broker_id)
{
    br_core_t *core = arg;
    const br_md_broker_t *b = core->md ? br_md_broker(core->md, broker_id) : NULL;
    return b && b->loaded ? b->url : NULL;
}

static void core_meta_offsets(void *arg, int32_t n_partitions, int16_t rf)
{
    br_core_t *core = arg;
    if (core->admin && !core->stopping)
        br_admin_ensure_offsets_topic(core->admin, n_partitions, rf);
}

/* ----------------------------------------------- control plane's view */

static bool core_cp_registered(void *arg)
{
    br_core_t *core = arg;
    return core->member == BR_MEMBER_REGISTERED;
}

static bool core_cp_stopping(void *arg)
{
    br_core_t *core = arg;
    return core->stopping;
}

static bool core_cp_fenced(void *arg)
{
    br_core_t *core = arg;
    return core->fenced;
}

static bool core_cp_shutting_down(void *arg)
{
    br_core_t *core = arg;
    return core->shutting_down;
}

static void core_cp_md_changed(void *arg, const char *topic)
{
    br_core_md_changed(arg, topic);
}

static void core_cp_dynamic_config(void *arg, const zknode_config_t *overrides)
{
    br_core_dynamic_config(arg, overrides);
}

/* Fill core->cp from what br_core_open built so far (the ZooKeeper handle
 * and the partition manager); md and ctl are added as they are created. */
static void core_cp_init(br_core_t *core)
{
    br_cp_t *cp = &core->cp;
    memset(cp, 0, sizeof *cp);
    cp->loop = core->loop;
    cp->broker_id = core->broker_id;
    cp->conf = core->conf;
    cp->zk = core->zk;
    cp->pm = core->pm;
    cp->cluster_id = core->cluster_id;
    cp->arg = core;
    cp->registered = core_cp_registered;
    cp->stopping = core_cp_stopping;
    cp->fenced = core_cp_fenced;
    cp->shutting_down = core_cp_shutting_down;
    cp->md_changed = core_cp_md_changed;
    cp->dynamic_config = core_cp_dynamic_config;
}

void br_core_dynamic_config(br_core_t *core, const zknode_config_t *ov)
{
    char err[256];
    size_t i = 0;
    for (const st_conf_prop_t *p = br_config_table; p->name; p++, i++) {
        if (!p->dynamic || i >= core->n_static_values)
            continue;
        const char *v = NULL;
        for (size_t k = 0; ov && k < ov->n; k++)
            if (strcmp(ov->keys[k], p->name) == 0)
                v = ov->values[k];
        if (!v)
            v = core->static_values[i];
        if (p->type == ST_CONF_INT && (!v || !*v)) {
            /* back to "unset" (st_conf's INT64_MIN marker, e.g. log.retention.ms) */
            *(int64_t *)((char *)core->conf + p->offset) = INT64_MIN;
            continue;
        }
        if (v && st_conf_set(br_config_table, core->conf, p->name, v, err, sizeof err) != ST_OK)
            ST_WARN(CORE_TAG, "dynamic config ignored: %s", err);
    }
    int level = st_log_level_parse(core->conf->log_level ? core->conf->log_level : "info");
    if (level >= 0)
        st_log_set_level((st_log_level_t)level);
    if (core->md)
        br_md_reapply_configs(core->md);
    ST_INFO(CORE_TAG, "dynamic broker config applied (%zu override(s))", ov ? ov->n : 0);
}

void br_core_md_changed(br_core_t *core, const char *topic)
{
    (void)topic;
    if (core->stopping)
        return;
    br_ctl_md_changed(core->ctl);
    br_admin_md_changed(core->admin);
}

/* ------------------------------------------------------------ timers */

static void core_tick(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    br_core_t *core = w->data;
    if (core->stopping)
        return;
    (void)br_core_fenced(core); /* first: a resumed zombie resigns before anything else */
    core_probe(core);
    if (core->self_dirty && !core->self_writing)
        br_core_self_publish(core);
    if (core->pm)
        br_pm_tick(core->pm, st_wall_ms());
    if (core->gc)
        br_groups_tick(core->gc, st_wall_ms());
    br_ctl_tick(core->ctl);
    if (core->member == BR_MEMBER_WAITING_OLD && core->register_deadline_ms &&
        st_wall_ms() > core->register_deadline_ms && zkc_state(core->zk) == ZKC_CONNECTED) {
        /* the registration is our previous session's: ZooKeeper expires it
         * for sure, later than expected when this process was paused or
         * cut off meanwhile. Keep waiting, and look again (a watch set on
         * an older session may be gone). */
        core->register_deadline_ms = st_wall_ms() + core->conf->zookeeper_session_timeout_ms + 2000;
        ST_WARN(CORE_TAG,
                "broker.id %d is still registered by our previous session; still waiting for it to expire",
                core->broker_id);
        char p[64];
        zknode_path_broker(p, sizeof p, core->broker_id);
        core->member = BR_MEMBER_REGISTERING;
        zkc_get(core->zk, p, NULL, core_existing_read, core);
    }
}

static void core_connect_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    br_core_t *core = w->data;
    if (zkc_state(core->zk) != ZKC_CONNECTED && core->member == BR_MEMBER_START) {
        char msg[256];
        snprintf(msg, sizeof msg,
                 "could not connect to ZooKeeper (%s) within zookeeper.connection.timeout.ms=%lld",
                 core->conf->zookeeper_connect, (long long)core->conf->zookeeper_connection_timeout_ms);
        core_fatal(core, msg);
    }
}

static void core_signal(struct ev_loop *loop, ev_signal *w, int revents)
{
    (void)loop;
    (void)revents;
    br_core_t *core = w->data;
    if (w->signum == SIGHUP) {
        if (st_log_reopen() != 0)
            ST_ERROR(CORE_TAG, "reopening the log file: %s", strerror(errno));
        else
            ST_INFO(CORE_TAG, "log file reopened (SIGHUP)");
        return;
    }
    ST_INFO(CORE_TAG, "signal %d: shutting down", w->signum);
    if (core->cs || !core->conf->controlled_shutdown_enable || core->member != BR_MEMBER_REGISTERED ||
        zkc_state(core->zk) != ZKC_CONNECTED) {
        br_core_stop(core, 0); /* a second signal, or nothing to hand over */
        return;
    }
    br_shutdown_start(core);
}

/* -------------------------------------------------------- life cycle */

/* The request server's `answered` hook: request latency per API row. */
static void core_answered(void *arg, int tag, int64_t elapsed_ns)
{
    br_core_t *core = arg;
    br_metrics_observe(core->metrics, tag, elapsed_ns);
}

st_err_t br_core_open(br_core_t *core, struct ev_loop *loop, br_config_t *conf, char *err, size_t errlen)
{
    memset(core, 0, sizeof *core);
    core->loop = loop;
    core->conf = conf;
    core->broker_id = (int32_t)conf->broker_id;
    core->broker_epoch = -1;
    st_err_t rc = ST_OK;
    char *zconnect = NULL, *chroot = NULL;

    core->listeners = br_split_list(conf->listeners, &core->n_listeners);
    const char *adv = conf->advertised_listeners && *conf->advertised_listeners ? conf->advertised_listeners
                                                                                : conf->listeners;
    core->advertised = br_split_list(adv, &core->n_advertised);
    size_t n_dirs = 0;
    char **dirs = br_split_list(conf->log_dirs, &n_dirs);
    if (!core->listeners || !core->advertised || !dirs || core->n_listeners == 0 || n_dirs == 0) {
        snprintf(err, errlen, "listeners and log.dirs must not be empty");
        br_free_list(dirs, n_dirs);
        rc = ST_ERR_INVALID_CONFIG;
        goto fail;
    }
    core->log_dirs = calloc(n_dirs, sizeof *core->log_dirs);
    for (size_t i = 0; core->log_dirs && i < n_dirs; i++) {
        rc = sl_logdir_open(dirs[i], &core->log_dirs[i]);
        if (rc != ST_OK) {
            snprintf(err, errlen, "log.dirs: cannot open %s: %s", dirs[i], st_err_name(rc));
            br_free_list(dirs, n_dirs);
            goto fail;
        }
        core->n_log_dirs++;
    }
    br_free_list(dirs, n_dirs);
    if (!core->log_dirs) {
        rc = ST_ERR_NOMEM;
        goto fail;
    }
    core->prev_session_file = core_read_session(core);
    for (const st_conf_prop_t *p = br_config_table; p->name; p++)
        core->n_static_values++;
    core->static_values = calloc(core->n_static_values + 1, sizeof *core->static_values);
    if (!core->static_values) {
        rc = ST_ERR_NOMEM;
        goto fail;
    }
    for (size_t i = 0; i < core->n_static_values; i++)
        core->static_values[i] = st_conf_get(br_config_table, conf, br_config_table[i].name);

    br_pm_limits_t limits = {
        .message_max_bytes = conf->message_max_bytes,
        .fetch_max_bytes = conf->fetch_max_bytes,
        .max_wait_ms_cap = 30000,
        .log_message_timestamp_difference_max_ms = INT64_MAX,
        .min_insync_replicas = (int32_t)conf->min_insync_replicas,
        .replica_lag_time_max_ms = conf->replica_lag_time_max_ms,
        .replica_fetch_wait_max_ms = (int32_t)conf->replica_fetch_wait_max_ms,
        .replica_fetch_max_bytes = (int32_t)conf->replica_fetch_max_bytes,
        .replica_fetch_response_max_bytes = (int32_t)conf->replica_fetch_response_max_bytes,
        .replica_fetch_backoff_ms = (int32_t)conf->replica_fetch_backoff_ms,
    };
    core->pm = br_pm_new(loop, core->broker_id, core->log_dirs, core->n_log_dirs, &limits);
    if (!core->pm) {
        snprintf(err, errlen, "cannot create the partition manager");
        rc = ST_ERR_NOMEM;
        goto fail;
    }
    br_cleaner_config_t cc;
    br_cleaner_config_default(&cc);
    cc.enable = conf->log_cleaner_enable;
    cc.threads = (int)conf->log_cleaner_threads;
    cc.backoff_ms = conf->log_cleaner_backoff_ms;
    cc.dedupe_buffer_size = conf->log_cleaner_dedupe_buffer_size;
    rc = br_cleaner_new(loop, core->pm, &cc, &core->cleaner);
    if (rc != ST_OK) {
        snprintf(err, errlen, "cannot start the log cleaner: %s", st_err_name(rc));
        goto fail;
    }
    br_group_config_t gcfg;
    br_group_config_default(&gcfg);
    gcfg.offsets_topic_num_partitions = (int32_t)conf->offsets_topic_num_partitions;
    gcfg.offsets_topic_replication_factor = (int16_t)conf->offsets_topic_replication_factor;
    gcfg.group_initial_rebalance_delay_ms = (int32_t)conf->group_initial_rebalance_delay_ms;
    gcfg.group_min_session_timeout_ms = (int32_t)conf->group_min_session_timeout_ms;
    gcfg.group_max_session_timeout_ms = (int32_t)conf->group_max_session_timeout_ms;
    gcfg.offsets_retention_ms = conf->offsets_retention_minutes * 60000;
    gcfg.offsets_retention_check_interval_ms = conf->offsets_retention_check_interval_ms;
    gcfg.offsets_commit_timeout_ms = (int32_t)conf->offsets_commit_timeout_ms;
    gcfg.offset_metadata_max_bytes = (int32_t)conf->offset_metadata_max_bytes;
    br_group_meta_t meta = {.partition_leader = core_meta_leader,
                            .broker_url = core_meta_url,
                            .ensure_offsets_topic = core_meta_offsets,
                            .arg = core};
    core->gc = br_groups_new(loop, core->pm, core->broker_id, &gcfg, &meta);
    if (!core->gc) {
        snprintf(err, errlen, "cannot start the group coordinator (check the group.* and offsets.* keys)");
        rc = ST_ERR_INVALID_CONFIG;
        goto fail;
    }

    rc = br_config_zk_connect(conf, &zconnect, &chroot);
    if (rc != ST_OK) {
        snprintf(err, errlen, "zookeeper.connect: invalid");
        goto fail;
    }
    rc = zkc_open(loop, zconnect, chroot, (int)conf->zookeeper_session_timeout_ms,
                  conf->zookeeper_auth_digest, core_session, core, &core->zk);
    if (rc != ST_OK) {
        snprintf(err, errlen, "zookeeper.connect=%s: cannot create a ZooKeeper handle",
                 conf->zookeeper_connect);
        goto fail;
    }
    core->member_watch = zkc_watcher_new(core->zk, core_member_watch, core);
    core->self = calloc(1, sizeof *core->self);
    br_pm_set_logdir_failure_fn(core->pm, core_logdir_failed, core);
    core_cp_init(core);
    core->md = core->cp.md = br_md_new(&core->cp);
    core->ctl = core->cp.ctl = br_ctl_new(&core->cp);
    core->admin = br_admin_new(&core->cp);
    core->pid = br_producer_id_new(core->zk, core->broker_id);
    if (core->ctl)
        br_pm_set_isr_change_fn(core->pm, br_ctl_isr_change, core->ctl);
    if (!core->member_watch || !core->md || !core->ctl || !core->admin || !core->pid || !core->self) {
        snprintf(err, errlen, "out of memory");
        rc = ST_ERR_NOMEM;
        goto fail;
    }

    if (conf->metrics_listener && *conf->metrics_listener) {
        core->metrics = br_metrics_new(core);
        if (!core->metrics) {
            snprintf(err, errlen, "out of memory");
            rc = ST_ERR_NOMEM;
            goto fail;
        }
        rc = br_metrics_listen(core->metrics, conf->metrics_listener, err, errlen);
        if (rc != ST_OK)
            goto fail;
    }
    br_server_handlers_t h = {
        .produce = br_api_produce, .request = br_api_request, .answered = core_answered, .arg = core};
    rc = br_server_open(loop, core->listeners, core->n_listeners, (size_t)conf->socket_request_max_bytes, &h,
                        &core->server, err, errlen);
    if (rc != ST_OK)
        goto fail;

    ev_timer_init(&core->tick, core_tick, 1., 1.);
    core->tick.data = core;
    ev_timer_init(&core->self_publish, core_self_timer, 0., 0.);
    core->self_publish.data = core;
    ev_timer_start(loop, &core->tick);
    ev_timer_init(&core->connect_timeout, core_connect_timeout,
                  conf->zookeeper_connection_timeout_ms / 1000.0, 0.);
    core->connect_timeout.data = core;
    ev_timer_start(loop, &core->connect_timeout);
    ev_signal_init(&core->sigterm, core_signal, SIGTERM);
    ev_signal_init(&core->sigint, core_signal, SIGINT);
    ev_signal_init(&core->sighup, core_signal, SIGHUP);
    core->sigterm.data = core->sigint.data = core->sighup.data = core;
    ev_signal_start(loop, &core->sigterm);
    ev_signal_start(loop, &core->sigint);
    ev_signal_start(loop, &core->sighup);
    ST_INFO(CORE_TAG, "broker %d starting, ZooKeeper %s%s", core->broker_id, zconnect, chroot);
    free(zconnect);
    free(chroot);
    return ST_OK;
fail:
    free(zconnect);
    free(chroot);
    br_core_close(core);
    return rc;
}

void br_core_stop(br_core_t *core, int exit_code)
{
    if (core->stopping)
        return;
    core->stopping = true;
    core->exit_code = exit_code;
    if (core->server)
        br_server_stop_accepting(core->server);
    /* the teardown runs in br_core_close once the loop has returned: this
     * may be called from inside a ZooKeeper or nng callback */
    if (core->loop)
        ev_break(core->loop, EVBREAK_ALL);
}

void br_core_close(br_core_t *core)
{
    core->stopping = true;
    br_metrics_free(core->metrics); /* first: its HTTP threads stop before the state they report goes */
    core->metrics = NULL;
    if (core->server)
        br_server_stop_accepting(core->server);
    br_shutdown_free(core);
    if (core->gc) {
        br_groups_free(core->gc); /* before the manager and the server */
        core->gc = NULL;
    }
    if (core->cleaner) {
        br_cleaner_free(core->cleaner);
        core->cleaner = NULL;
    }
    if (core->pid) {
        br_producer_id_free(core->pid);
        core->pid = NULL;
    }
    /* a failed log directory is closed unclean: recovered at restart */
    bool *dir_failed = calloc(core->n_log_dirs + 1, sizeof *dir_failed);
    for (size_t i = 0; dir_failed && core->pm && i < core->n_log_dirs; i++)
        dir_failed[i] = br_pm_logdir_offline(core->pm, i);
    if (core->pm) {
        br_pm_set_isr_change_fn(core->pm, NULL, NULL);
        br_pm_set_logdir_failure_fn(core->pm, NULL, NULL);
        br_pm_free(core->pm, true);
        core->pm = core->cp.pm = NULL;
    }
    if (core->admin) {
        br_admin_free(core->admin);
        core->admin = NULL;
    }
    if (core->zk) {
        zkc_close(core->zk); /* our ephemeral znodes vanish now */
        core->zk = core->cp.zk = NULL;
    }
    br_md_free(core->md);
    core->md = core->cp.md = NULL;
    br_ctl_free(core->ctl);
    core->ctl = core->cp.ctl = NULL;
    if (core->server) {
        br_server_close(core->server);
        core->server = NULL;
    }
    for (size_t i = 0; i < core->n_log_dirs; i++)
        sl_logdir_close(core->log_dirs[i], !(dir_failed && dir_failed[i]));
    free(dir_failed);
    core->n_log_dirs = 0;
    if (core->loop) {
        ev_timer_stop(core->loop, &core->tick);
        ev_timer_stop(core->loop, &core->self_publish);
        ev_timer_stop(core->loop, &core->connect_timeout);
        ev_signal_stop(core->loop, &core->sigterm);
        ev_signal_stop(core->loop, &core->sigint);
        ev_signal_stop(core->loop, &core->sighup);
    }
    br_free_list(core->listeners, core->n_listeners);
    br_free_list(core->advertised, core->n_advertised);
    free(core->log_dirs);
    br_free_list(core->static_values, core->n_static_values);
    core->static_values = NULL;
    core->n_static_values = 0;
    core->listeners = core->advertised = NULL;
    core->log_dirs = NULL;
    if (core->self) {
        br_md_member_free(core->self);
        free(core->self);
        core->self = NULL;
    }
    ST_INFO(CORE_TAG, "broker %d stopped", core->broker_id);
}
