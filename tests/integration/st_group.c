/*
 * st_group: integration-test and benchmark tool for consumer groups, on
 * libstrata's public API only (client/strata.h). Two modes:
 *
 *   st_group consume -b URLS -t TOPIC[,TOPIC] [-g GROUP] [-n NAME] [-i INSTANCE]
 *            [-a ASSIGNOR] [-s SESSION_MS] [-c COMMIT_EVERY] [-l LOG] [-q]
 *            [-P P,P,... (explicit assignment, no group)] [-m MAX] [-I IDLE_MS]
 *            [-X key=value]...
 *   st_group produce -b URLS -t TOPIC -N COUNT [-k NKEYS] [-p PARTITION]
 *            [-S START] [-r PER_SECOND] [-v] [-X key=value]...
 *
 * consume logs one line per event to LOG (default stdout), each written
 * with one write(2) on an O_APPEND descriptor so a SIGKILL loses nothing
 * already logged: "<unix_us> <name> <ev> ...", ev one of
 *   S                      subscribed (or assigned) at start
 *   A|R|L <topic> <p>      assigned / revoked / lost (from the consumer's own
 *                          rebalance callback, stamped inside it)
 *   M <topic> <p> <off> <key> <value>   a record (not with -q)
 *   F <topic> <p> <off>    first record of a partition since it was assigned
 *   K <records>            records read so far, after each rebalance callback
 *   C <topic> <p> <off>    offset committed (synchronous commit succeeded)
 *   E <text>               an error (commit failures, poll errors)
 *   X <records> <bytes> <first_us> <last_us>   clean exit
 * Commits (group mode, enable.auto.commit=false unless -X says otherwise):
 * every COMMIT_EVERY records (default 20), for revoked partitions in the
 * revoked callback and at exit; lost partitions are never committed;
 * COMMIT_EVERY 0: no commit at all (every owner reads from the start).
 * Exit on SIGTERM/SIGINT (commit, close: revoked callbacks, LeaveGroup
 * unless static), after MAX records, or IDLE_MS without a record (counted
 * from the first record, or from the start plus 10 s when none came).
 *
 * produce writes COUNT records, key "k<i % NKEYS>" (null key when NKEYS is
 * 0), value "v<i>" for i = START.., acks=all; -v prints "D <p> <off> <key>
 * <value>" per delivered record; prints "produced N failed M" at the end;
 * exit 1 when any record failed.
 *
 * Either mode ends itself with SIGALRM after $ST_GROUP_LIFETIME seconds
 * (default 300), so a test killed by its time limit leaves no process.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "client/strata.h"

#define SG_MAX_PARTS 4096
#define SG_MAX_PROPS 64

/* One partition this consumer has seen. */
typedef struct sg_part {
    char *topic;
    int32_t p;
    bool owned;
    bool seen_first; /* an F line since the last assignment */
    int64_t next;    /* last record read + 1, -1 none */
    int64_t committed;
} sg_part_t;

typedef struct sg {
    strata_consumer_t *c;
    const char *name;
    int log_fd;
    bool quiet;
    bool group;
    bool manual_commit;
    bool no_commit; /* -c 0 */
    sg_part_t parts[SG_MAX_PARTS];
    size_t n_parts;
    uint64_t records, bytes;
    int64_t first_us, last_us;
} sg_t;

static volatile sig_atomic_t sg_stop;

static void sg_on_signal(int sig)
{
    (void)sig;
    sg_stop = 1;
}

static int64_t sg_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* One log line, one write(). */
static void sg_log(sg_t *g, const char *fmt, ...)
{
    char line[1024];
    int n = snprintf(line, sizeof line, "%" PRId64 " %s ", sg_now_us(), g->name);
    if (n < 0 || (size_t)n >= sizeof line - 2)
        return;
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
    va_end(ap);
    if (m < 0)
        return;
    size_t len = strlen(line); /* vsnprintf truncated at worst */
    line[len++] = '\n';
    ssize_t w = write(g->log_fd, line, len);
    (void)w;
}

static sg_part_t *sg_part(sg_t *g, const char *topic, int32_t p)
{
    for (size_t i = 0; i < g->n_parts; i++)
        if (g->parts[i].p == p && strcmp(g->parts[i].topic, topic) == 0)
            return &g->parts[i];
    if (g->n_parts == SG_MAX_PARTS)
        return NULL;
    sg_part_t *sp = &g->parts[g->n_parts];
    sp->topic = strdup(topic);
    if (sp->topic == NULL)
        return NULL;
    sp->p = p;
    sp->owned = false;
    sp->seen_first = false;
    sp->next = -1;
    sp->committed = -1;
    g->n_parts++;
    return sp;
}

/* Commit the positions of the owned partitions in tps (all owned ones
 * when tps is NULL) that moved since their last commit; log each. */
static void sg_commit(sg_t *g, const strata_tp_t *tps, size_t n)
{
    if (!g->group || !g->manual_commit || g->no_commit)
        return;
    strata_commit_t offs[SG_MAX_PARTS];
    sg_part_t *which[SG_MAX_PARTS];
    size_t k = 0;
    for (size_t i = 0; i < g->n_parts; i++) {
        sg_part_t *sp = &g->parts[i];
        if (!sp->owned || sp->next < 0 || sp->next == sp->committed)
            continue;
        if (tps != NULL) {
            bool in = false;
            for (size_t j = 0; j < n && !in; j++)
                in = tps[j].partition == sp->p && strcmp(tps[j].topic, sp->topic) == 0;
            if (!in)
                continue;
        }
        offs[k] = (strata_commit_t){sp->topic, sp->p, sp->next, NULL};
        which[k++] = sp;
    }
    if (k == 0)
        return;
    strata_err_t e = strata_consumer_commit(g->c, offs, k, false, NULL, NULL);
    if (e != STRATA_OK) {
        sg_log(g, "E commit %s", strata_err_name(e));
        return;
    }
    for (size_t i = 0; i < k; i++) {
        which[i]->committed = offs[i].offset;
        sg_log(g, "C %s %d %" PRId64, offs[i].topic, offs[i].partition, offs[i].offset);
    }
}

static void sg_rebalance(strata_consumer_t *c, strata_rebalance_event_t ev, const strata_tp_t *tps, size_t n,
                         void *opaque)
{
    (void)c;
    sg_t *g = opaque;
    if (ev == STRATA_REBALANCE_REVOKED)
        sg_commit(g, tps, n);
    for (size_t i = 0; i < n; i++) {
        sg_part_t *sp = sg_part(g, tps[i].topic, tps[i].partition);
        const char *what = ev == STRATA_REBALANCE_ASSIGNED ? "A" : ev == STRATA_REBALANCE_REVOKED ? "R" : "L";
        if (sp != NULL) {
            sp->owned = ev == STRATA_REBALANCE_ASSIGNED;
            sp->seen_first = false;
            /* a new assignment starts at the committed offset: forget ours */
            sp->next = -1;
            sp->committed = -1;
        }
        sg_log(g, "%s %s %d", what, tps[i].topic, tps[i].partition);
    }
    sg_log(g, "K %" PRIu64, g->records);
}

static int sg_usage(void)
{
    fprintf(stderr, "usage: st_group consume -b URLS -t TOPICS [-g GROUP] [-n NAME] [-i INSTANCE]\n"
                    "         [-a ASSIGNOR] [-s SESSION_MS] [-c COMMIT_EVERY] [-l LOG] [-q]\n"
                    "         [-P P,P,...] [-m MAX] [-I IDLE_MS] [-X key=value]...\n"
                    "       st_group produce -b URLS -t TOPIC -N COUNT [-k NKEYS] [-p PARTITION]\n"
                    "         [-S START] [-r PER_SECOND] [-v] [-X key=value]...\n");
    return 2;
}

static bool sg_set(strata_conf_t *conf, const char *k, const char *v)
{
    char err[256];
    if (strata_conf_set(conf, k, v, err, sizeof err) != STRATA_OK) {
        fprintf(stderr, "st_group: %s=%s: %s\n", k, v, err);
        return false;
    }
    return true;
}

/* Apply "key=value" strings. */
static bool sg_props(strata_conf_t *conf, char **props, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char *eq = strchr(props[i], '=');
        if (eq == NULL) {
            fprintf(stderr, "st_group: -X %s: expected key=value\n", props[i]);
            return false;
        }
        *eq = '\0';
        bool ok = sg_set(conf, props[i], eq + 1);
        *eq = '=';
        if (!ok)
            return false;
    }
    return true;
}

/* ------------------------------------------------------------ consume */

static int sg_consume(int argc, char **argv)
{
    const char *boot = NULL, *topics = NULL, *group = NULL, *name = "c", *inst = NULL;
    const char *assignor = NULL, *session = NULL, *log_path = NULL, *plist = NULL;
    long commit_every = 20, max = 0, idle_ms = 0;
    char *props[SG_MAX_PROPS];
    size_t n_props = 0;
    int opt, rc = 1;
    sg_t *g = calloc(1, sizeof *g);
    strata_conf_t *conf = NULL;
    char *tlist = NULL;
    char *names[64];
    size_t n_names = 0;
    strata_tp_t tps[SG_MAX_PARTS];
    size_t n_tps = 0;

    if (g == NULL)
        return 1;
    g->log_fd = STDOUT_FILENO;
    while ((opt = getopt(argc, argv, "b:t:g:n:i:a:s:c:l:qP:m:I:X:")) != -1) {
        switch (opt) {
        case 'b':
            boot = optarg;
            break;
        case 't':
            topics = optarg;
            break;
        case 'g':
            group = optarg;
            break;
        case 'n':
            name = optarg;
            break;
        case 'i':
            inst = optarg;
            break;
        case 'a':
            assignor = optarg;
            break;
        case 's':
            session = optarg;
            break;
        case 'c':
            commit_every = strtol(optarg, NULL, 10);
            break;
        case 'l':
            log_path = optarg;
            break;
        case 'q':
            g->quiet = true;
            break;
        case 'P':
            plist = optarg;
            break;
        case 'm':
            max = strtol(optarg, NULL, 10);
            break;
        case 'I':
            idle_ms = strtol(optarg, NULL, 10);
            break;
        case 'X':
            if (n_props == SG_MAX_PROPS)
                goto usage;
            props[n_props++] = optarg;
            break;
        default:
            goto usage;
        }
    }
    if (boot == NULL || topics == NULL || (group == NULL) == (plist == NULL))
        goto usage;
    g->name = name;
    g->group = group != NULL;
    g->no_commit = commit_every <= 0;
    if (log_path != NULL) {
        g->log_fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (g->log_fd < 0) {
            fprintf(stderr, "st_group: %s: %s\n", log_path, strerror(errno));
            goto out;
        }
    }
    conf = strata_conf_new();
    if (conf == NULL || !sg_set(conf, "bootstrap.servers", boot) ||
        !sg_set(conf, "auto.offset.reset", "earliest") || !sg_set(conf, "client.id", name))
        goto out;
    if (group != NULL && (!sg_set(conf, "group.id", group) || !sg_set(conf, "enable.auto.commit", "false")))
        goto out;
    if (inst != NULL && !sg_set(conf, "group.instance.id", inst))
        goto out;
    if (assignor != NULL && !sg_set(conf, "partition.assignment.strategy", assignor))
        goto out;
    if (session != NULL && !sg_set(conf, "session.timeout.ms", session))
        goto out;
    if (!sg_props(conf, props, n_props))
        goto out;
    char *ac = strata_conf_get(conf, "enable.auto.commit");
    g->manual_commit = ac != NULL && strcmp(ac, "false") == 0;
    free(ac);

    char err[256];
    g->c = strata_consumer_new(conf, err, sizeof err);
    if (g->c == NULL) {
        fprintf(stderr, "st_group: consumer: %s\n", err);
        goto out;
    }
    tlist = strdup(topics);
    if (tlist == NULL)
        goto out;
    for (char *save = NULL, *t = strtok_r(tlist, ",", &save); t && n_names < 64;
         t = strtok_r(NULL, ",", &save))
        names[n_names++] = t;
    strata_err_t e;
    if (group != NULL) {
        strata_consumer_set_rebalance_cb(g->c, sg_rebalance, g);
        e = strata_consumer_subscribe(g->c, (const char *const *)names, n_names);
    } else {
        char *pl = strdup(plist);
        if (pl == NULL)
            goto out;
        for (char *save = NULL, *s = strtok_r(pl, ",", &save); s && n_tps < SG_MAX_PARTS;
             s = strtok_r(NULL, ",", &save))
            for (size_t i = 0; i < n_names && n_tps < SG_MAX_PARTS; i++)
                tps[n_tps++] = (strata_tp_t){names[i], (int32_t)atoi(s), STRATA_OFFSET_BEGINNING};
        free(pl);
        e = strata_consumer_assign(g->c, tps, n_tps);
    }
    if (e != STRATA_OK) {
        fprintf(stderr, "st_group: subscribe/assign: %s\n", strata_err_name(e));
        goto out;
    }
    sg_log(g, "S");
    for (size_t i = 0; i < n_tps; i++) {
        sg_part_t *sp = sg_part(g, tps[i].topic, tps[i].partition);
        if (sp != NULL)
            sp->owned = true;
        sg_log(g, "A %s %d", tps[i].topic, tps[i].partition);
    }

    long since_commit = 0;
    int64_t last_rec = sg_now_us() + 10000000; /* idle-exit grace before the first record */
    while (!sg_stop) {
        const strata_message_t *m = NULL;
        e = strata_consumer_poll(g->c, 100, &m);
        int64_t now = sg_now_us();
        if (e == STRATA_ERR_TIMEOUT) {
            if (idle_ms > 0 && now - last_rec > idle_ms * 1000)
                break;
            continue;
        }
        if (e != STRATA_OK) {
            sg_log(g, "E poll %s", strata_err_name(e));
            continue;
        }
        if (m->err != STRATA_OK) {
            if (m->err != STRATA_ERR_PARTITION_EOF)
                sg_log(g, "E %s %d %s", m->topic ? m->topic : "-", m->partition, strata_err_name(m->err));
            continue;
        }
        last_rec = now;
        if (g->records == 0)
            g->first_us = now;
        g->last_us = now;
        g->records++;
        g->bytes += m->key_len + m->value_len;
        sg_part_t *sp = sg_part(g, m->topic, m->partition);
        if (sp != NULL) {
            if (!sp->seen_first) {
                sp->seen_first = true;
                sg_log(g, "F %s %d %" PRId64, m->topic, m->partition, m->offset);
            }
            sp->next = m->offset + 1;
        }
        if (!g->quiet)
            sg_log(g, "M %s %d %" PRId64 " %.*s %.*s", m->topic, m->partition, m->offset,
                   m->key ? (int)m->key_len : 1, m->key ? (const char *)m->key : "-",
                   m->value ? (int)m->value_len : 1, m->value ? (const char *)m->value : "-");
        if (commit_every > 0 && ++since_commit >= commit_every) {
            since_commit = 0;
            sg_commit(g, NULL, 0);
        }
        if (max > 0 && g->records >= (uint64_t)max)
            break;
    }
    sg_commit(g, NULL, 0);
    strata_consumer_close(g->c);
    g->c = NULL;
    sg_log(g, "X %" PRIu64 " %" PRIu64 " %" PRId64 " %" PRId64, g->records, g->bytes, g->first_us,
           g->last_us);
    rc = 0;
    goto out;
usage:
    rc = sg_usage();
out:
    if (g->c != NULL)
        strata_consumer_close(g->c);
    for (size_t i = 0; i < g->n_parts; i++)
        free(g->parts[i].topic);
    if (g->log_fd >= 0 && g->log_fd != STDOUT_FILENO)
        close(g->log_fd);
    strata_conf_free(conf);
    free(tlist);
    free(g);
    return rc;
}

/* ------------------------------------------------------------ produce */

typedef struct sg_pstate {
    uint64_t ok, failed;
    bool verbose;
} sg_pstate_t;

static void sg_dr(const strata_delivery_t *dr, void *opaque)
{
    sg_pstate_t *st = opaque;
    if (dr->err != STRATA_OK) {
        if (__atomic_add_fetch(&st->failed, 1, __ATOMIC_RELAXED) == 1)
            fprintf(stderr, "st_group: delivery failed: %s\n", strata_err_name(dr->err));
        return;
    }
    __atomic_add_fetch(&st->ok, 1, __ATOMIC_RELAXED);
}

/* Delivery callback of -v: the record's key/value are rebuilt from i. */
typedef struct sg_rec {
    sg_pstate_t *st;
    long i;
    long nkeys;
} sg_rec_t;

static void sg_dr_v(const strata_delivery_t *dr, void *opaque)
{
    sg_rec_t *r = opaque;
    if (dr->err == STRATA_OK) {
        char line[128];
        int n;
        if (r->nkeys > 0)
            n = snprintf(line, sizeof line, "D %d %" PRId64 " k%ld v%ld\n", dr->partition, dr->offset,
                         r->i % r->nkeys, r->i);
        else
            n = snprintf(line, sizeof line, "D %d %" PRId64 " - v%ld\n", dr->partition, dr->offset, r->i);
        ssize_t w = write(STDOUT_FILENO, line, (size_t)n);
        (void)w;
    }
    sg_dr(dr, r->st);
    free(r);
}

static int sg_produce(int argc, char **argv)
{
    const char *boot = NULL, *topic = NULL;
    long count = -1, nkeys = 0, part = -1, start = 0, rate = 0;
    char *props[SG_MAX_PROPS];
    size_t n_props = 0;
    int opt, rc = 1;
    sg_pstate_t st = {0, 0, false};
    strata_producer_t *p = NULL;
    strata_conf_t *conf = NULL;

    while ((opt = getopt(argc, argv, "b:t:N:k:p:S:r:vX:")) != -1) {
        switch (opt) {
        case 'b':
            boot = optarg;
            break;
        case 't':
            topic = optarg;
            break;
        case 'N':
            count = strtol(optarg, NULL, 10);
            break;
        case 'k':
            nkeys = strtol(optarg, NULL, 10);
            break;
        case 'p':
            part = strtol(optarg, NULL, 10);
            break;
        case 'S':
            start = strtol(optarg, NULL, 10);
            break;
        case 'r':
            rate = strtol(optarg, NULL, 10);
            break;
        case 'v':
            st.verbose = true;
            break;
        case 'X':
            if (n_props == SG_MAX_PROPS)
                return sg_usage();
            props[n_props++] = optarg;
            break;
        default:
            return sg_usage();
        }
    }
    if (boot == NULL || topic == NULL || count < 0 || nkeys < 0)
        return sg_usage();
    conf = strata_conf_new();
    if (conf == NULL || !sg_set(conf, "bootstrap.servers", boot) || !sg_set(conf, "acks", "all") ||
        !sg_set(conf, "linger.ms", rate > 0 ? "0" : "5") || !sg_props(conf, props, n_props))
        goto out;
    char err[256];
    p = strata_producer_new(conf, err, sizeof err);
    if (p == NULL) {
        fprintf(stderr, "st_group: producer: %s\n", err);
        goto out;
    }
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (long i = start; i < start + count && !sg_stop; i++) {
        char key[32], val[32];
        int kl = snprintf(key, sizeof key, "k%ld", nkeys > 0 ? i % nkeys : 0);
        int vl = snprintf(val, sizeof val, "v%ld", i);
        strata_delivery_cb cb = sg_dr;
        void *op = &st;
        if (st.verbose) {
            sg_rec_t *r = malloc(sizeof *r);
            if (r == NULL)
                goto out;
            *r = (sg_rec_t){&st, i, nkeys};
            cb = sg_dr_v;
            op = r;
        }
        strata_err_t e =
            strata_producer_send(p, topic, (int32_t)part, nkeys > 0 ? key : NULL, nkeys > 0 ? (size_t)kl : 0,
                                 val, (size_t)vl, NULL, 0, 0, cb, op);
        if (e != STRATA_OK) {
            fprintf(stderr, "st_group: send: %s\n", strata_err_name(e));
            if (st.verbose)
                free(op);
            goto out;
        }
        if (rate > 0) {
            /* pace: record i - start is due at t0 + (i - start) / rate */
            double due = (double)(i - start + 1) / (double)rate;
            struct timespec now;
            clock_gettime(CLOCK_MONOTONIC, &now);
            double el = (double)(now.tv_sec - t0.tv_sec) + (double)(now.tv_nsec - t0.tv_nsec) / 1e9;
            if (due > el)
                usleep((useconds_t)((due - el) * 1e6));
        }
    }
    if (strata_producer_flush(p, 60000) != STRATA_OK)
        fprintf(stderr, "st_group: flush timed out\n");
    rc = st.failed == 0 && strata_producer_outstanding(p) == 0 ? 0 : 1;
out:
    if (p != NULL)
        strata_producer_close(p, 10000);
    printf("produced %" PRIu64 " failed %" PRIu64 "\n", st.ok, st.failed);
    strata_conf_free(conf);
    return rc;
}

int main(int argc, char **argv)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = sg_on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    /* a test killed by its time limit must not leave this behind */
    const char *life = getenv("ST_GROUP_LIFETIME");
    alarm(life != NULL ? (unsigned)atoi(life) : 300);
    if (argc < 2)
        return sg_usage();
    if (strcmp(argv[1], "consume") == 0)
        return sg_consume(argc - 1, argv + 1);
    if (strcmp(argv[1], "produce") == 0)
        return sg_produce(argc - 1, argv + 1);
    return sg_usage();
}
