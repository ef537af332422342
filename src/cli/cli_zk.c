/*
 * cli_zk: `strata zk check|tree|get|create|set|delete` (see cli_zk.h).
 *
 * The single-threaded ZooKeeper client has only the asynchronous API; each
 * call here is issued with a completion that fills a cli_zk_op, then
 * cli_zk_wait() runs zookeeper_interest()/poll()/zookeeper_process() until
 * that op is done or the deadline passes. check reads the whole tree into
 * memory first (paths sorted), then validates: the schema of each znode
 * (zkschema), the brokers' own decoders (zknode: what the schema cannot express,
 * e.g. partitions numbered 0..n-1), and cross-references between znodes
 * (partition numbers within the topic's assignment, leader and ISR among
 * the replicas, the controller registered, no state newer than
 * /controller_epoch, reassignments of partitions that exist).
 */
#include "cli/cli_zk.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zookeeper/zookeeper.h>

#include "coord/zknode.h"
#include "coord/zkschema.h"
#include "common/st_clock.h"

#define CLI_ZK_DEFAULT_CONNECT "127.0.0.1:2181/strata"
#define CLI_ZK_MAX_DEPTH 32
#define CLI_ZK_MAX_NODES 1000000

typedef struct cli_zk {
    zhandle_t *zh;
    int64_t deadline_ms; /* of the current call */
    int timeout_ms;
    bool json;
    int state; /* last session state seen by the watcher */
} cli_zk_t;

/* One outstanding call and its result. */
typedef struct cli_zk_op {
    bool done;
    int rc;
    char *data;
    int len;
    struct Stat stat;
    char **children;
    int n_children;
} cli_zk_op_t;

/* What ZooKeeper gets as a completion's data: the op to fill, unless the
 * wait gave up (the completion then still runs later, at the latest from
 * zookeeper_close() with ZCLOSING, and must not touch the caller's op).
 * Freed by the completion. */
typedef struct cli_zk_ticket {
    cli_zk_op_t *op;
    bool abandoned;
} cli_zk_ticket_t;

/* One znode read by the walk. */
typedef struct cli_zk_node {
    char *path;
    char *data;
    int len;
    bool ephemeral;
    int32_t version;
} cli_zk_node_t;

typedef struct cli_zk_tree {
    cli_zk_node_t *nodes;
    size_t n, cap;
} cli_zk_tree_t;

static void cli_zk_watcher(zhandle_t *zh, int type, int state, const char *path, void *ctx)
{
    (void)zh;
    (void)path;
    cli_zk_t *z = ctx;
    if (type == ZOO_SESSION_EVENT)
        z->state = state;
}

/* Drive the client until *done or the deadline. ZOK, ZOPERATIONTIMEOUT, or
 * the client's error. */
static int cli_zk_wait(cli_zk_t *z, const bool *done)
{
    while (!*done) {
        int fd = -1, interest = 0;
        struct timeval tv = {0, 0};
        int64_t left = z->deadline_ms - st_mono_ms();
        if (left <= 0)
            return ZOPERATIONTIMEOUT;
        int rc = zookeeper_interest(z->zh, &fd, &interest, &tv);
        if (rc != ZOK && rc != ZNOTHING && rc != ZCONNECTIONLOSS)
            return rc;
        int64_t wait = (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
        if (wait > left || wait < 0)
            wait = left;
        struct pollfd pfd = {.fd = fd, .events = 0};
        if (interest & ZOOKEEPER_READ)
            pfd.events |= POLLIN;
        if (interest & ZOOKEEPER_WRITE)
            pfd.events |= POLLOUT;
        int pr = poll(&pfd, fd >= 0 ? 1 : 0, (int)(wait > 100 ? 100 : wait));
        if (pr < 0 && errno != EINTR)
            return ZSYSTEMERROR;
        int events = 0;
        if (pr > 0) {
            if (pfd.revents & (POLLIN | POLLHUP | POLLERR))
                events |= ZOOKEEPER_READ;
            if (pfd.revents & POLLOUT)
                events |= ZOOKEEPER_WRITE;
        }
        rc = zookeeper_process(z->zh, events);
        if (rc == ZINVALIDSTATE || rc == ZSESSIONEXPIRED || rc == ZAUTHFAILED)
            return rc;
    }
    return ZOK;
}

/* Start a call: reset op, arm the deadline, return the ticket to pass as
 * the completion's data (NULL when out of memory). */
static cli_zk_ticket_t *cli_zk_begin(cli_zk_t *z, cli_zk_op_t *op)
{
    memset(op, 0, sizeof(*op));
    z->deadline_ms = st_mono_ms() + z->timeout_ms;
    cli_zk_ticket_t *t = calloc(1, sizeof(*t));
    if (t != NULL)
        t->op = op;
    return t;
}

/* In a completion: the op to fill, or NULL when the caller gave up. */
static cli_zk_op_t *cli_zk_claim(const void *data)
{
    cli_zk_ticket_t *t = (cli_zk_ticket_t *)data;
    cli_zk_op_t *op = t->abandoned ? NULL : t->op;
    free(t);
    return op;
}

static void cli_zk_op_free(cli_zk_op_t *op)
{
    free(op->data);
    for (int i = 0; i < op->n_children; i++)
        free(op->children[i]);
    free(op->children);
    memset(op, 0, sizeof(*op));
}

static void cli_zk_void_cb(int rc, const void *data)
{
    cli_zk_op_t *op = cli_zk_claim(data);
    if (op == NULL)
        return;
    op->rc = rc;
    op->done = true;
}

static void cli_zk_stat_cb(int rc, const struct Stat *stat, const void *data)
{
    cli_zk_op_t *op = cli_zk_claim(data);
    if (op == NULL)
        return;
    op->rc = rc;
    if (stat != NULL)
        op->stat = *stat;
    op->done = true;
}

static void cli_zk_string_cb(int rc, const char *value, const void *data)
{
    (void)value;
    cli_zk_void_cb(rc, data);
}

static void cli_zk_data_cb(int rc, const char *value, int len, const struct Stat *stat, const void *data)
{
    cli_zk_op_t *op = cli_zk_claim(data);
    if (op == NULL)
        return;
    op->rc = rc;
    if (rc == ZOK) {
        if (stat != NULL)
            op->stat = *stat;
        if (value != NULL && len > 0) {
            op->data = malloc((size_t)len + 1);
            if (op->data == NULL) {
                op->rc = ZSYSTEMERROR;
            } else {
                memcpy(op->data, value, (size_t)len);
                op->data[len] = '\0';
                op->len = len;
            }
        }
    }
    op->done = true;
}

static void cli_zk_children_cb(int rc, const struct String_vector *sv, const void *data)
{
    cli_zk_op_t *op = cli_zk_claim(data);
    if (op == NULL)
        return;
    op->rc = rc;
    if (rc == ZOK && sv != NULL && sv->count > 0) {
        op->children = calloc((size_t)sv->count, sizeof(char *));
        if (op->children == NULL) {
            op->rc = ZSYSTEMERROR;
        } else {
            for (int i = 0; i < sv->count; i++) {
                op->children[i] = strdup(sv->data[i]);
                if (op->children[i] == NULL) {
                    op->rc = ZSYSTEMERROR;
                    break;
                }
                op->n_children = i + 1;
            }
        }
    }
    op->done = true;
}

/* Finish a call started with rc = zoo_a*(..., t): wait for its
 * completion; on timeout the ticket is abandoned to the completion. */
static int cli_zk_finish(cli_zk_t *z, cli_zk_op_t *op, cli_zk_ticket_t *t, int rc)
{
    if (rc != ZOK) {
        free(t); /* not issued: no completion will run */
        return rc;
    }
    rc = cli_zk_wait(z, &op->done);
    if (!op->done) {
        t->abandoned = true;
        return rc != ZOK ? rc : ZOPERATIONTIMEOUT;
    }
    return op->rc;
}

static int cli_zk_get(cli_zk_t *z, const char *path, cli_zk_op_t *op)
{
    cli_zk_ticket_t *t = cli_zk_begin(z, op);
    if (t == NULL)
        return ZSYSTEMERROR;
    return cli_zk_finish(z, op, t, zoo_aget(z->zh, path, 0, cli_zk_data_cb, t));
}

static int cli_zk_children(cli_zk_t *z, const char *path, cli_zk_op_t *op)
{
    cli_zk_ticket_t *t = cli_zk_begin(z, op);
    if (t == NULL)
        return ZSYSTEMERROR;
    return cli_zk_finish(z, op, t, zoo_aget_children(z->zh, path, 0, cli_zk_children_cb, t));
}

/* ------------------------------------------------------------------ */
/* Session                                                              */
/* ------------------------------------------------------------------ */

static void cli_zk_close(cli_zk_t *z)
{
    if (z->zh != NULL) {
        zookeeper_close(z->zh);
        z->zh = NULL;
    }
}

/* Connect (bounded by the timeout) and log in with --zk-auth. */
static int cli_zk_open(cli_zk_t *z, const char *connect, const char *auth)
{
    /* the client library's own log lines (every refused connection) would
     * bury our one-line errors: silent unless STRATA_ZK_DEBUG is set */
    zoo_set_debug_level(getenv("STRATA_ZK_DEBUG") != NULL ? ZOO_LOG_LEVEL_DEBUG : (ZooLogLevel)0);
    z->state = 0;
    z->zh = zookeeper_init(connect, cli_zk_watcher, z->timeout_ms < 4000 ? 4000 : z->timeout_ms, NULL, z,
                           ZOO_NO_LOG_CLIENTENV);
    if (z->zh == NULL) {
        fprintf(stderr, "strata zk: cannot start a ZooKeeper client for \"%s\": %s\n", connect,
                strerror(errno));
        return 1;
    }
    /* Run the client in short slices until the session is connected; a
     * server still starting drops connections and the client retries. */
    int64_t deadline = st_mono_ms() + z->timeout_ms;
    while (z->state != ZOO_CONNECTED_STATE) {
        bool never = false;
        int64_t now = st_mono_ms();
        if (now >= deadline || z->state == ZOO_EXPIRED_SESSION_STATE || z->state == ZOO_AUTH_FAILED_STATE) {
            fprintf(stderr, "strata zk: cannot connect to ZooKeeper at %s within %d ms\n", connect,
                    z->timeout_ms);
            cli_zk_close(z);
            return 1;
        }
        z->deadline_ms = now + 50 < deadline ? now + 50 : deadline;
        (void)cli_zk_wait(z, &never);
    }
    if (auth != NULL) {
        cli_zk_op_t op;
        cli_zk_ticket_t *t = cli_zk_begin(z, &op);
        int rc =
            t == NULL
                ? ZSYSTEMERROR
                : cli_zk_finish(z, &op, t,
                                zoo_add_auth(z->zh, "digest", auth, (int)strlen(auth), cli_zk_void_cb, t));
        if (rc != ZOK) {
            fprintf(stderr, "strata zk: ZooKeeper digest authentication failed: %s\n", zerror(rc));
            cli_zk_close(z);
            return 1;
        }
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* Walk                                                                 */
/* ------------------------------------------------------------------ */

static void cli_zk_tree_free(cli_zk_tree_t *t)
{
    for (size_t i = 0; i < t->n; i++) {
        free(t->nodes[i].path);
        free(t->nodes[i].data);
    }
    free(t->nodes);
    memset(t, 0, sizeof(*t));
}

static int cli_zk_cmp_node(const void *a, const void *b)
{
    return strcmp(((const cli_zk_node_t *)a)->path, ((const cli_zk_node_t *)b)->path);
}

/* Read path and everything below it. Returns ZOK or the first hard error;
 * znodes that vanish while walking are skipped. */
static int cli_zk_walk(cli_zk_t *z, const char *path, int depth, cli_zk_tree_t *t)
{
    cli_zk_op_t op;
    char *child = NULL;
    int rc = ZOK;

    memset(&op, 0, sizeof(op));
    /* the quota subtree of a chroot-less connection is ZooKeeper's own */
    if (depth > CLI_ZK_MAX_DEPTH || t->n >= CLI_ZK_MAX_NODES || strcmp(path, "/zookeeper") == 0)
        goto out;
    rc = cli_zk_get(z, path, &op);
    if (rc != ZOK)
        goto out;
    if (t->n == t->cap) {
        size_t nc = t->cap ? t->cap * 2 : 64;
        cli_zk_node_t *nn = realloc(t->nodes, nc * sizeof(*nn));
        if (nn == NULL) {
            rc = ZSYSTEMERROR;
            goto out;
        }
        t->nodes = nn;
        t->cap = nc;
    }
    cli_zk_node_t *n = &t->nodes[t->n];
    if ((n->path = strdup(path)) == NULL) {
        rc = ZSYSTEMERROR;
        goto out;
    }
    n->data = op.data;
    n->len = op.len;
    n->ephemeral = op.stat.ephemeralOwner != 0;
    n->version = op.stat.version;
    op.data = NULL;
    t->n++;
    bool leaf = op.stat.numChildren == 0;
    cli_zk_op_free(&op);
    if (leaf)
        goto out;

    rc = cli_zk_children(z, path, &op);
    for (int i = 0; rc == ZOK && i < op.n_children; i++) {
        size_t l = strlen(path) + strlen(op.children[i]) + 2;
        if ((child = malloc(l)) == NULL) {
            rc = ZSYSTEMERROR;
            break;
        }
        snprintf(child, l, "%s%s%s", path, strcmp(path, "/") == 0 ? "" : "/", op.children[i]);
        rc = cli_zk_walk(z, child, depth + 1, t);
        free(child);
        child = NULL;
    }
out:
    cli_zk_op_free(&op);
    return rc == ZNONODE ? ZOK : rc;
}

static const cli_zk_node_t *cli_zk_find(const cli_zk_tree_t *t, const char *path)
{
    cli_zk_node_t key = {.path = (char *)path};
    return bsearch(&key, t->nodes, t->n, sizeof(*t->nodes), cli_zk_cmp_node);
}

static bool cli_zk_exists(void *opaque, const char *path)
{
    return cli_zk_find(opaque, path) != NULL;
}

/* ------------------------------------------------------------------ */
/* check                                                                */
/* ------------------------------------------------------------------ */

typedef struct cli_zk_report {
    json_t *list; /* --json: array of {path, problem} */
    size_t count;
} cli_zk_report_t;

static void cli_zk_deviation(void *opaque, const char *where, const char *msg)
{
    cli_zk_report_t *r = opaque;
    r->count++;
    if (r->list != NULL)
        json_array_append_new(r->list, json_pack("{s:s, s:s}", "path", where, "problem", msg));
    else
        printf("%s: %s\n", where, msg);
}

static void cli_zk_devf(cli_zk_report_t *r, const char *where, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void cli_zk_devf(cli_zk_report_t *r, const char *where, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    cli_zk_deviation(r, where, msg);
}

static bool cli_zk_has(const int32_t *ids, size_t n, int32_t id)
{
    for (size_t i = 0; i < n; i++)
        if (ids[i] == id)
            return true;
    return false;
}

/* "/brokers/topics/<t>/partitions/<p>/state" -> t (into buf) and p. */
static bool cli_zk_split_state(const char *path, char *topic, size_t tn, int32_t *p)
{
    const char *pre = ZKNODE_PATH_TOPICS "/";
    if (strncmp(path, pre, strlen(pre)) != 0)
        return false;
    const char *t = path + strlen(pre);
    const char *slash = strchr(t, '/');
    if (slash == NULL || (size_t)(slash - t) >= tn)
        return false;
    memcpy(topic, t, (size_t)(slash - t));
    topic[slash - t] = '\0';
    long v;
    char tail[16];
    if (sscanf(slash, "/partitions/%ld%15s", &v, tail) < 1 || v < 0 || v > INT32_MAX)
        return false;
    *p = (int32_t)v;
    return true;
}

/* What the schemas cannot say: decode with the brokers' own decoders and
 * compare znodes with each other. Only called on schema-clean znodes. */
static void cli_zk_semantic(const cli_zk_tree_t *t, const cli_zk_node_t *n, const zkschema_entry_t *e,
                            int32_t ctl_epoch, cli_zk_report_t *r)
{
    char err[256] = "";
    st_err_t rc = ST_OK;
    const char *d = n->data ? n->data : "";
    size_t len = (size_t)n->len;

    if (strcmp(e->name, "broker") == 0) {
        zknode_broker_t b;
        long id = strtol(strrchr(n->path, '/') + 1, NULL, 10);
        rc = zknode_broker_decode(d, len, (int32_t)id, &b, err, sizeof(err));
        zknode_broker_free(&b);
    } else if (strcmp(e->name, "controller") == 0) {
        zknode_controller_t c;
        rc = zknode_controller_decode(d, len, &c, err, sizeof(err));
        if (rc == ST_OK) {
            char p[64];
            zknode_path_broker(p, sizeof(p), c.broker_id);
            if (cli_zk_find(t, p) == NULL)
                cli_zk_devf(r, n->path, "controller broker %" PRId32 " is not registered (%s missing)",
                            c.broker_id, p);
        }
    } else if (strcmp(e->name, "topic") == 0) {
        zknode_topic_t tp;
        rc = zknode_topic_decode(d, len, &tp, err, sizeof(err));
        zknode_topic_free(&tp);
    } else if (strcmp(e->name, "partition-state") == 0 || strcmp(e->name, "partitions") == 0) {
        char topic[256], tpath[300];
        int32_t p;
        zknode_part_state_t s = {0};
        if (strcmp(e->name, "partition-state") == 0) {
            rc = zknode_part_state_decode(d, len, &s, err, sizeof(err));
            if (rc == ST_OK && ctl_epoch >= 0 && s.controller_epoch > ctl_epoch)
                cli_zk_devf(r, n->path,
                            "controller_epoch %" PRId32 " is newer than /controller_epoch %" PRId32,
                            s.controller_epoch, ctl_epoch);
        }
        if (rc == ST_OK && cli_zk_split_state(n->path, topic, sizeof(topic), &p) &&
            zknode_path_topic(tpath, sizeof(tpath), topic) > 0) {
            const cli_zk_node_t *tn = cli_zk_find(t, tpath);
            zknode_topic_t tp;
            char terr[64];
            if (tn != NULL && zknode_topic_decode(tn->data ? tn->data : "", (size_t)tn->len, &tp, terr,
                                                  sizeof(terr)) == ST_OK) {
                if (p >= tp.n_partitions) {
                    cli_zk_devf(r, n->path, "partition %" PRId32 " is not in %s (%" PRId32 " partitions)", p,
                                tpath, tp.n_partitions);
                } else if (strcmp(e->name, "partition-state") == 0) {
                    if (s.leader >= 0 && !cli_zk_has(tp.replicas[p], (size_t)tp.n_replicas[p], s.leader))
                        cli_zk_devf(r, n->path, "leader %" PRId32 " is not a replica of partition %" PRId32,
                                    s.leader, p);
                    for (size_t i = 0; i < s.n_isr; i++)
                        if (!cli_zk_has(tp.replicas[p], (size_t)tp.n_replicas[p], s.isr[i]))
                            cli_zk_devf(r, n->path,
                                        "isr member %" PRId32 " is not a replica of partition %" PRId32,
                                        s.isr[i], p);
                    if (s.leader >= 0 && !cli_zk_has(s.isr, s.n_isr, s.leader))
                        cli_zk_devf(r, n->path, "leader %" PRId32 " is not in the isr", s.leader);
                }
                zknode_topic_free(&tp);
            } else if (tn == NULL) {
                cli_zk_devf(r, n->path, "belongs to no topic (%s missing)", tpath);
            }
        }
        zknode_part_state_free(&s);
    } else if (strcmp(e->name, "topic-config") == 0 || strcmp(e->name, "broker-config") == 0) {
        zknode_config_t c;
        rc = zknode_config_decode(d, len, &c, err, sizeof(err));
        zknode_config_free(&c);
    } else if (strcmp(e->name, "latest-producer-id-block") == 0) {
        zknode_pid_block_t b;
        rc = zknode_pid_block_decode(d, len, &b, err, sizeof(err));
    } else if (strcmp(e->name, "reassign-partitions") == 0) {
        zknode_reassign_t ra;
        rc = zknode_reassign_decode(d, len, &ra, err, sizeof(err));
        for (size_t i = 0; rc == ST_OK && i < ra.n; i++) {
            char tpath[300];
            zknode_topic_t tp;
            char terr[64];
            const cli_zk_node_t *tn =
                zknode_path_topic(tpath, sizeof(tpath), ra.parts[i].topic) > 0 ? cli_zk_find(t, tpath) : NULL;
            if (tn == NULL) {
                cli_zk_devf(r, n->path, "reassigns %s-%" PRId32 " of a topic that does not exist",
                            ra.parts[i].topic, ra.parts[i].partition);
            } else if (zknode_topic_decode(tn->data ? tn->data : "", (size_t)tn->len, &tp, terr,
                                           sizeof(terr)) == ST_OK) {
                if (ra.parts[i].partition >= tp.n_partitions)
                    cli_zk_devf(r, n->path,
                                "reassigns partition %" PRId32 " of %s, which has %" PRId32 " partitions",
                                ra.parts[i].partition, ra.parts[i].topic, tp.n_partitions);
                zknode_topic_free(&tp);
            }
        }
        zknode_reassign_free(&ra);
    } else if (strcmp(e->name, "cluster-id") == 0) {
        char id[32];
        rc = zknode_cluster_id_decode(d, len, id, sizeof(id));
        snprintf(err, sizeof(err), "not a cluster id payload");
    }
    if (rc != ST_OK)
        cli_zk_devf(r, n->path, "brokers cannot decode it: %s", err);
}

static const char *cli_zk_schema_dir(const char *opt)
{
    static char buf[PATH_MAX];
    if (opt != NULL)
        return opt;
    const char *env = getenv("STRATA_ZK_SCHEMA_DIR");
    if (env != NULL && env[0] != '\0')
        return env;
#ifdef ST_ZK_SCHEMA_DIR
    if (access(ST_ZK_SCHEMA_DIR, R_OK) == 0)
        return ST_ZK_SCHEMA_DIR;
#endif
    /* next to the installed binary: <prefix>/bin/strata -> <prefix>/share/strata/zk-schema */
    char exe[PATH_MAX];
    ssize_t l = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (l > 0) {
        exe[l] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash != NULL) {
            *slash = '\0';
            snprintf(buf, sizeof(buf), "%.*s/../share/strata/zk-schema", (int)(sizeof(buf) - 32), exe);
            if (access(buf, R_OK) == 0)
                return buf;
        }
    }
    return "/usr/local/share/strata/zk-schema";
}

static int cli_zk_check(cli_zk_t *z, const char *schema_dir)
{
    char err[512] = "";
    zkschema_set_t *set = NULL;
    cli_zk_tree_t t = {0};
    cli_zk_report_t r = {0};
    int ret = 1;
    const char *dir = cli_zk_schema_dir(schema_dir);

    if (zkschema_set_load(dir, &set, err, sizeof(err)) != ST_OK) {
        fprintf(stderr, "strata zk check: %s (use --schema-dir or STRATA_ZK_SCHEMA_DIR)\n", err);
        return 1;
    }
    int rc = cli_zk_walk(z, "/", 0, &t);
    if (rc != ZOK) {
        fprintf(stderr, "strata zk check: reading the tree failed: %s\n", zerror(rc));
        goto out;
    }
    if (t.n == 0) {
        fprintf(stderr, "strata zk check: the chroot does not exist (has no broker started yet?)\n");
        goto out;
    }
    qsort(t.nodes, t.n, sizeof(*t.nodes), cli_zk_cmp_node);
    if (z->json)
        r.list = json_array();

    int32_t ctl_epoch = -1;
    const cli_zk_node_t *ce = cli_zk_find(&t, ZKNODE_PATH_CONTROLLER_EPOCH);
    if (ce != NULL && zknode_epoch_decode(ce->data, (size_t)ce->len, &ctl_epoch) != ST_OK)
        ctl_epoch = -1;

    for (size_t i = 0; i < t.n; i++) {
        const cli_zk_node_t *n = &t.nodes[i];
        if (strcmp(n->path, "/") == 0)
            continue; /* the chroot itself */
        size_t before = r.count;
        zkschema_check_node(set, n->path, n->data, (size_t)n->len, n->ephemeral, cli_zk_deviation, &r);
        const zkschema_entry_t *e = zkschema_set_match(set, n->path);
        if (e != NULL && r.count == before)
            cli_zk_semantic(&t, n, e, ctl_epoch, &r);
    }
    zkschema_check_required(set, cli_zk_exists, &t, cli_zk_deviation, &r);

    if (z->json) {
        json_t *o = json_pack("{s:b, s:I, s:o, s:s}", "ok", r.count == 0, "znodes", (json_int_t)t.n,
                              "deviations", r.list, "schema_dir", dir);
        r.list = NULL;
        char *s = json_dumps(o, JSON_INDENT(2));
        if (s != NULL)
            puts(s);
        free(s);
        json_decref(o);
    } else {
        printf("zk check: %zu znodes, %zu deviation%s\n", t.n, r.count, r.count == 1 ? "" : "s");
    }
    ret = r.count == 0 ? 0 : 1;
out:
    json_decref(r.list);
    cli_zk_tree_free(&t);
    zkschema_set_free(set);
    return ret;
}

/* ------------------------------------------------------------------ */
/* tree, get, create, set, delete                                       */
/* ------------------------------------------------------------------ */

static int cli_zk_tree(cli_zk_t *z, const char *root)
{
    cli_zk_tree_t t = {0};
    int rc = cli_zk_walk(z, root, 0, &t);
    if (rc != ZOK) {
        fprintf(stderr, "strata zk tree: %s: %s\n", root, zerror(rc));
        cli_zk_tree_free(&t);
        return 1;
    }
    if (t.n == 0) {
        fprintf(stderr, "strata zk tree: %s: no such znode\n", root);
        return 1;
    }
    qsort(t.nodes, t.n, sizeof(*t.nodes), cli_zk_cmp_node);
    json_t *arr = z->json ? json_array() : NULL;
    for (size_t i = 0; i < t.n; i++) {
        const cli_zk_node_t *n = &t.nodes[i];
        if (arr != NULL) {
            json_t *payload =
                n->len > 0 ? json_loadb(n->data, (size_t)n->len, JSON_DECODE_ANY, NULL) : json_null();
            if (payload == NULL)
                payload = json_stringn(n->data, (size_t)n->len);
            json_array_append_new(arr, json_pack("{s:s, s:o, s:b, s:i}", "path", n->path, "data", payload,
                                                 "ephemeral", n->ephemeral, "version", n->version));
        } else {
            printf("%s%s", n->path, n->ephemeral ? " (ephemeral)" : "");
            if (n->len > 0)
                printf(" %.*s", n->len, n->data);
            putchar('\n');
        }
    }
    if (arr != NULL) {
        char *s = json_dumps(arr, JSON_INDENT(2));
        if (s != NULL)
            puts(s);
        free(s);
        json_decref(arr);
    }
    cli_zk_tree_free(&t);
    return 0;
}

static int cli_zk_edit(cli_zk_t *z, const char *cmd, int argc, char **argv, int version, bool auth)
{
    cli_zk_op_t op;
    int rc;
    const char *path = argv[0];
    const char *data = argc > 1 ? argv[1] : NULL;
    int dlen = data ? (int)strlen(data) : -1;

    if (strcmp(cmd, "get") == 0) {
        rc = cli_zk_get(z, path, &op);
        if (rc == ZOK) {
            if (op.len > 0)
                printf("%.*s\n", op.len, op.data);
            else
                putchar('\n');
        }
    } else if (strcmp(cmd, "create") == 0) {
        /* same ACLs as the brokers: with credentials, world may read and
         * the authenticated identity may do everything */
        struct ACL acl[2] = {{ZOO_PERM_READ, ZOO_ANYONE_ID_UNSAFE}, {ZOO_PERM_ALL, ZOO_AUTH_IDS}};
        struct ACL_vector acls = {2, acl};
        cli_zk_ticket_t *t = cli_zk_begin(z, &op);
        rc = t == NULL
                 ? ZSYSTEMERROR
                 : cli_zk_finish(z, &op, t,
                                 zoo_acreate(z->zh, path, data, dlen, auth ? &acls : &ZOO_OPEN_ACL_UNSAFE,
                                             ZOO_PERSISTENT, cli_zk_string_cb, t));
    } else if (strcmp(cmd, "set") == 0) {
        if (data == NULL) {
            fprintf(stderr, "strata zk set: PATH DATA required\n");
            return 2;
        }
        cli_zk_ticket_t *t = cli_zk_begin(z, &op);
        rc = t == NULL
                 ? ZSYSTEMERROR
                 : cli_zk_finish(z, &op, t, zoo_aset(z->zh, path, data, dlen, version, cli_zk_stat_cb, t));
    } else {
        cli_zk_ticket_t *t = cli_zk_begin(z, &op);
        rc = t == NULL ? ZSYSTEMERROR
                       : cli_zk_finish(z, &op, t, zoo_adelete(z->zh, path, version, cli_zk_void_cb, t));
    }
    cli_zk_op_free(&op);
    if (rc != ZOK) {
        fprintf(stderr, "strata zk %s: %s: %s\n", cmd, path, zerror(rc));
        return 1;
    }
    return 0;
}

static void cli_zk_usage(FILE *f)
{
    fputs("usage: strata zk COMMAND [options]\n"
          "  check                    validate every znode against zk-schema/ (exit 1 on any deviation)\n"
          "  tree [PATH]              print the tree (default /) with payloads\n"
          "  get PATH                 print one znode's payload\n"
          "  create PATH [DATA]       create a persistent znode\n"
          "  set PATH DATA            replace a payload (--version N: only if at version N)\n"
          "  delete PATH              delete a znode without children (--version N)\n"
          "options:\n"
          "  -z, --zookeeper HOST:PORT[,HOST:PORT]/CHROOT   (env STRATA_ZOOKEEPER, "
          "default " CLI_ZK_DEFAULT_CONNECT ")\n"
          "      --zk-auth USER:PASSWORD   digest credentials (as the brokers' zookeeper.auth.digest)\n"
          "      --schema-dir DIR          zk-schema directory (env STRATA_ZK_SCHEMA_DIR)\n"
          "      --timeout-ms MS           bound on connecting and on each call (default 10000)\n"
          "      --json                    machine-readable output (check, tree)\n",
          f);
}

int cli_zk_main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"zookeeper", required_argument, NULL, 'z'},
        {"zk-auth", required_argument, NULL, 'a'},
        {"schema-dir", required_argument, NULL, 's'},
        {"timeout-ms", required_argument, NULL, 't'},
        {"version", required_argument, NULL, 'v'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    cli_zk_t z = {.timeout_ms = 10000};
    const char *connect = getenv("STRATA_ZOOKEEPER");
    const char *auth = NULL, *schema_dir = NULL;
    int version = -1, c;
    char *end;

    if (connect == NULL || connect[0] == '\0')
        connect = CLI_ZK_DEFAULT_CONNECT;
    optind = 0; /* glibc: full re-initialisation, the dispatcher may have used getopt */
    /* GNU getopt permutes: options may come before or after the command;
     * "--" ends them (for a payload starting with '-'). */
    while ((c = getopt_long(argc, argv, "z:h", opts, NULL)) != -1) {
        switch (c) {
        case 'z':
            connect = optarg;
            break;
        case 'a':
            auth = optarg;
            break;
        case 's':
            schema_dir = optarg;
            break;
        case 'j':
            z.json = true;
            break;
        case 't':
            z.timeout_ms = (int)strtol(optarg, &end, 10);
            if (*end != '\0' || z.timeout_ms <= 0) {
                fprintf(stderr, "strata zk: --timeout-ms needs a positive integer\n");
                return 2;
            }
            break;
        case 'v':
            version = (int)strtol(optarg, &end, 10);
            if (*end != '\0' || version < -1) {
                fprintf(stderr, "strata zk: --version needs an integer >= -1\n");
                return 2;
            }
            break;
        case 'h':
            cli_zk_usage(stdout);
            return 0;
        default:
            cli_zk_usage(stderr);
            return 2;
        }
    }
    char **pos = argv + optind;
    int npos = argc - optind;
    if (npos == 0) {
        cli_zk_usage(stderr);
        return 2;
    }
    const char *cmd = pos[0];
    bool edit = strcmp(cmd, "get") == 0 || strcmp(cmd, "create") == 0 || strcmp(cmd, "set") == 0 ||
                strcmp(cmd, "delete") == 0;
    if (strcmp(cmd, "check") != 0 && strcmp(cmd, "tree") != 0 && !edit) {
        fprintf(stderr, "strata zk: unknown command \"%s\"\n", cmd);
        cli_zk_usage(stderr);
        return 2;
    }
    if ((edit && npos < 2) || (strcmp(cmd, "check") == 0 && npos > 1) || npos > 3) {
        fprintf(stderr, "strata zk %s: wrong number of arguments\n", cmd);
        return 2;
    }
    if (edit && pos[1][0] != '/') {
        fprintf(stderr, "strata zk %s: a path starts with '/'\n", cmd);
        return 2;
    }
    if (auth != NULL && strchr(auth, ':') == NULL) {
        fprintf(stderr, "strata zk: --zk-auth takes USER:PASSWORD\n");
        return 2;
    }
    if (cli_zk_open(&z, connect, auth) != 0)
        return 1;
    int ret;
    if (strcmp(cmd, "check") == 0)
        ret = cli_zk_check(&z, schema_dir);
    else if (strcmp(cmd, "tree") == 0)
        ret = cli_zk_tree(&z, npos > 1 ? pos[1] : "/");
    else
        ret = cli_zk_edit(&z, cmd, npos - 1, pos + 1, version, auth != NULL);
    cli_zk_close(&z);
    return ret;
}
