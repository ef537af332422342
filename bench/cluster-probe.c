/*
 * cluster-probe: the measuring half of bench/cluster-bench. It
 * owns the two availability measurements that need a signal sent and
 * acknowledgements timed inside one process, on the public client API
 * (strata.h) only:
 *
 *   failover: SIGKILL a broker (by pid) and time, from the kill, (a) the
 *             first acknowledged write to one partition the victim led and
 *             (b) every partition of the topic having a live leader again
 *             in Metadata (polled every --poll-ms).
 *   gap:      produce at a fixed rate, explicit partitions round-robin,
 *             SIGTERM a broker (controlled shutdown) and report the longest
 *             gap between acknowledgements of one partition, for the
 *             partitions the victim led and for all of them.
 *   info:     leaders per broker and the controller, from Metadata; with
 *             --timeout-ms, first wait until every partition has a leader.
 *
 * Results are one line of JSON on stdout; progress and errors on stderr.
 * Not a test: it never asserts, it measures. Exit 1 on a setup error.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client/strata.h"

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void sleep_us(int64_t us)
{
    if (us <= 0)
        return;
    struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
    nanosleep(&ts, NULL);
}

/* True once pid is gone or a zombie (its sockets are closed either way). */
static bool pid_dead(pid_t pid)
{
    if (kill(pid, 0) != 0)
        return errno == ESRCH;
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return true;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *rp = strrchr(buf, ')');
    return rp == NULL || (rp[1] == ' ' && (rp[2] == 'Z' || rp[2] == 'X'));
}

typedef struct opts {
    const char *bootstrap;
    const char *topic;
    int32_t victim;
    pid_t pid;
    const char *acks;
    int64_t timeout_ms;
    int64_t poll_ms;
    int64_t rate;       /* gap: records/s */
    int64_t before_ms;  /* gap: produce this long before the signal */
    int64_t after_ms;   /* gap: and this long after the victim exited */
    const char **props; /* -X key=value for the producer */
    size_t n_props;
} opts_t;

static strata_conf_t *make_conf(const opts_t *o, bool producer)
{
    char err[256];
    strata_conf_t *c = strata_conf_new();
    if (c == NULL)
        return NULL;
    if (strata_conf_set(c, "bootstrap.servers", o->bootstrap, err, sizeof err) != STRATA_OK)
        goto bad;
    if (producer) {
        if (strata_conf_set(c, "acks", o->acks, err, sizeof err) != STRATA_OK ||
            strata_conf_set(c, "linger.ms", "0", err, sizeof err) != STRATA_OK)
            goto bad;
        for (size_t i = 0; i < o->n_props; i++) {
            char key[128];
            const char *eq = strchr(o->props[i], '=');
            size_t kl = eq ? (size_t)(eq - o->props[i]) : 0;
            if (eq == NULL || kl >= sizeof key) {
                snprintf(err, sizeof err, "bad -X '%s'", o->props[i]);
                goto bad;
            }
            memcpy(key, o->props[i], kl);
            key[kl] = '\0';
            if (strata_conf_set(c, key, eq + 1, err, sizeof err) != STRATA_OK)
                goto bad;
        }
    }
    return c;
bad:
    fprintf(stderr, "cluster-probe: %s\n", err);
    strata_conf_free(c);
    return NULL;
}

/* Metadata of the topic; NULL (after a message when loud) on failure. */
static strata_metadata_t *topic_md(strata_admin_t *a, const char *topic, int timeout_ms, bool loud)
{
    strata_metadata_t *md = NULL;
    const char *names[1] = {topic};
    strata_err_t e = strata_admin_metadata(a, names, 1, timeout_ms, &md);
    if (e != STRATA_OK || md->n_topics != 1 || md->topics[0].err != STRATA_OK ||
        md->topics[0].n_partitions == 0) {
        if (loud)
            fprintf(stderr, "cluster-probe: metadata of '%s': %s\n", topic,
                    strata_err_name(e != STRATA_OK                      ? e
                                    : md->n_topics && md->topics[0].err ? md->topics[0].err
                                                                        : STRATA_ERR_NOT_FOUND));
        strata_metadata_free(md);
        return NULL;
    }
    return md;
}

/* Partitions whose leader is -1, the victim or not a registered broker. */
static size_t count_leaderless(const strata_metadata_t *md, int32_t victim, int32_t probe_part,
                               bool *probe_ok)
{
    const strata_topic_info_t *t = &md->topics[0];
    size_t bad = 0;
    *probe_ok = false;
    for (size_t i = 0; i < t->n_partitions; i++) {
        int32_t l = t->partitions[i].leader;
        bool live = l >= 0 && l != victim;
        if (live) {
            live = false;
            for (size_t b = 0; b < md->n_brokers; b++)
                if (md->brokers[b].id == l)
                    live = true;
        }
        if (!live)
            bad++;
        else if (t->partitions[i].id == probe_part)
            *probe_ok = true;
    }
    return bad;
}

/* ------------------------------------------------------------ failover */

typedef struct fo_state {
    pthread_mutex_t lock;
    int64_t ok_us; /* first successful delivery (0: none yet) */
    int pending;
    int errors;
    strata_err_t last_err;
} fo_state_t;

static void fo_dr(const strata_delivery_t *dr, void *opaque)
{
    fo_state_t *s = opaque;
    int64_t t = now_us();
    pthread_mutex_lock(&s->lock);
    s->pending--;
    if (dr->err == STRATA_OK) {
        if (s->ok_us == 0)
            s->ok_us = t;
    } else {
        s->errors++;
        s->last_err = dr->err;
    }
    pthread_mutex_unlock(&s->lock);
}

/* (a2): a new producer per attempt (fresh metadata, request.timeout.ms
 * 1000), so the figure is the cluster's, not the long-lived client's. */
typedef struct fresh {
    const opts_t *o;
    int32_t probe;
    int64_t deadline_us;
    _Atomic int64_t ok_us; /* first success, 0: none yet */
    int attempts;
    _Atomic bool stop;
} fresh_t;

static void *fresh_run(void *arg)
{
    fresh_t *f = arg;
    static const char val[100] = {0};
    char err[256];
    while (!f->stop && now_us() < f->deadline_us) {
        strata_conf_t *c = make_conf(f->o, true);
        strata_producer_t *p = NULL;
        fo_state_t s;
        memset(&s, 0, sizeof s);
        pthread_mutex_init(&s.lock, NULL);
        int64_t began = now_us();
        if (c != NULL && strata_conf_set(c, "request.timeout.ms", "1000", err, sizeof err) == STRATA_OK &&
            (p = strata_producer_new(c, err, sizeof err)) != NULL) {
            s.pending = 1;
            if (strata_producer_send(p, f->o->topic, f->probe, NULL, 0, val, sizeof val, NULL, 0, 0, fo_dr,
                                     &s) == STRATA_OK)
                strata_producer_flush(p, 1000);
            strata_producer_close(p, 0);
        }
        strata_conf_free(c);
        pthread_mutex_destroy(&s.lock);
        f->attempts++;
        if (s.ok_us != 0) {
            f->ok_us = s.ok_us;
            break;
        }
        if (now_us() - began < 50000)
            sleep_us(50000 - (now_us() - began));
    }
    return NULL;
}

static int run_failover(const opts_t *o)
{
    strata_conf_t *ac = make_conf(o, false), *pc = make_conf(o, true);
    strata_admin_t *a = NULL;
    strata_producer_t *p = NULL;
    strata_metadata_t *md = NULL;
    fo_state_t s;
    int rc = 1;
    char err[256];
    memset(&s, 0, sizeof s);
    pthread_mutex_init(&s.lock, NULL);
    if (ac == NULL || pc == NULL)
        goto out;
    if ((a = strata_admin_new(ac, err, sizeof err)) == NULL ||
        (p = strata_producer_new(pc, err, sizeof err)) == NULL) {
        fprintf(stderr, "cluster-probe: %s\n", err);
        goto out;
    }
    if ((md = topic_md(a, o->topic, 30000, true)) == NULL)
        goto out;
    const strata_topic_info_t *t = &md->topics[0];
    size_t total = t->n_partitions, led = 0;
    int32_t probe = -1;
    for (size_t i = 0; i < total; i++)
        if (t->partitions[i].leader == o->victim) {
            if (probe < 0)
                probe = t->partitions[i].id;
            led++;
        }
    if (probe < 0) {
        fprintf(stderr, "cluster-probe: broker %d leads no partition of %s\n", (int)o->victim, o->topic);
        goto out;
    }
    strata_metadata_free(md);
    md = NULL;
    /* warm up: the producer knows the probe partition's leader and is connected */
    static const char val[100] = {0};
    s.pending = 1;
    if (strata_producer_send(p, o->topic, probe, NULL, 0, val, sizeof val, NULL, 0, 0, fo_dr, &s) !=
            STRATA_OK ||
        strata_producer_flush(p, 30000) != STRATA_OK || s.ok_us == 0) {
        fprintf(stderr, "cluster-probe: warm-up write to %s/%d failed: %s\n", o->topic, (int)probe,
                strata_err_name(s.last_err));
        goto out;
    }
    s.ok_us = 0;
    s.errors = 0;

    int64_t t0 = now_us();
    if (kill(o->pid, SIGKILL) != 0) {
        fprintf(stderr, "cluster-probe: kill %d: %s\n", (int)o->pid, strerror(errno));
        goto out;
    }
    while (!pid_dead(o->pid) && now_us() - t0 < 2000000)
        sleep_us(1000);
    int64_t dead_us = now_us();
    int64_t probe_md_us = 0, all_us = 0, deadline = t0 + o->timeout_ms * 1000;
    fresh_t fr = {.o = o, .probe = probe, .deadline_us = deadline};
    pthread_t fr_thread;
    bool fr_started = pthread_create(&fr_thread, NULL, fresh_run, &fr) == 0;
    size_t last_bad = total;
    int64_t last_progress = t0;
    while (now_us() < deadline) {
        pthread_mutex_lock(&s.lock);
        bool need_send = s.ok_us == 0 && s.pending == 0;
        bool done_a = s.ok_us != 0;
        if (need_send)
            s.pending = 1;
        pthread_mutex_unlock(&s.lock);
        if (need_send && strata_producer_send(p, o->topic, probe, NULL, 0, val, sizeof val, NULL, 0, 0, fo_dr,
                                              &s) != STRATA_OK) {
            pthread_mutex_lock(&s.lock);
            s.pending = 0;
            pthread_mutex_unlock(&s.lock);
        }
        if (all_us == 0) {
            strata_metadata_t *m = topic_md(a, o->topic, (int)o->poll_ms * 10, false);
            int64_t tm = now_us();
            if (m != NULL) {
                bool probe_ok;
                last_bad = count_leaderless(m, o->victim, probe, &probe_ok);
                if (probe_ok && probe_md_us == 0)
                    probe_md_us = tm;
                if (last_bad == 0)
                    all_us = tm;
                strata_metadata_free(m);
            }
        }
        if (done_a && all_us != 0 && (!fr_started || fr.ok_us != 0))
            break;
        if (now_us() - last_progress >= 1000000) {
            fprintf(stderr, "cluster-probe: +%.1f s: %zu of %zu partitions without a live leader%s\n",
                    (double)(now_us() - t0) / 1e6, last_bad, total,
                    done_a ? "" : ", no write acknowledged yet");
            last_progress = now_us();
        }
        sleep_us(o->poll_ms * 1000);
    }
    fr.stop = true;
    if (fr_started)
        pthread_join(fr_thread, NULL);
    pthread_mutex_lock(&s.lock);
    int64_t ok_us = s.ok_us;
    int errors = s.errors;
    strata_err_t last_err = s.last_err;
    pthread_mutex_unlock(&s.lock);
#define MS(x) ((x) ? (double)((x)-t0) / 1000.0 : -1.0)
    printf("{\"partitions\":%zu,\"victim\":%d,\"victim_led\":%zu,\"probe_partition\":%d,"
           "\"dead_ms\":%.1f,\"first_ack_ms\":%.1f,\"fresh_first_ack_ms\":%.1f,\"fresh_attempts\":%d,\"probe_"
           "leader_in_metadata_ms\":%.1f,"
           "\"all_leaders_ms\":%.1f,\"leaderless_at_end\":%zu,\"write_errors\":%d,"
           "\"last_error\":\"%s\"}\n",
           total, (int)o->victim, led, (int)probe, MS(dead_us), MS(ok_us), MS(fr.ok_us), fr.attempts,
           MS(probe_md_us), MS(all_us), all_us ? (size_t)0 : last_bad, errors,
           errors ? strata_err_name(last_err) : "");
#undef MS
    rc = 0;
out:
    if (p != NULL)
        strata_producer_close(p, 2000);
    strata_metadata_free(md);
    strata_admin_free(a);
    strata_conf_free(ac);
    strata_conf_free(pc);
    pthread_mutex_destroy(&s.lock);
    return rc;
}

/* ----------------------------------------------------------------- gap */

typedef struct gap_part {
    int64_t last_ack_us; /* 0: none yet */
    int64_t max_gap_us;
    int64_t max_gap_end_us;
    int64_t acks;
    int64_t sent; /* sender thread only */
    int64_t done; /* acks + errors */
    bool victim_led;
} gap_part_t;

typedef struct gap_state {
    pthread_mutex_t lock;
    gap_part_t *parts; /* indexed by partition id */
    size_t n_parts;
    int64_t last_any_us; /* any partition */
    int64_t max_any_gap_us;
    int64_t acks;
    int64_t errors;
    strata_err_t first_err;
    int64_t lat_max_us;
} gap_state_t;

static gap_state_t gap_s;

static void gap_dr(const strata_delivery_t *dr, void *opaque)
{
    int64_t t = now_us(), sent = (int64_t)(intptr_t)opaque;
    gap_state_t *s = &gap_s;
    pthread_mutex_lock(&s->lock);
    if (dr->partition >= 0 && (size_t)dr->partition < s->n_parts)
        s->parts[dr->partition].done++;
    if (dr->err != STRATA_OK) {
        if (s->errors++ == 0)
            s->first_err = dr->err;
    } else if (dr->partition >= 0 && (size_t)dr->partition < s->n_parts) {
        gap_part_t *g = &s->parts[dr->partition];
        if (g->last_ack_us != 0 && t - g->last_ack_us > g->max_gap_us) {
            g->max_gap_us = t - g->last_ack_us;
            g->max_gap_end_us = t;
        }
        g->last_ack_us = t;
        g->acks++;
        if (s->last_any_us != 0 && t - s->last_any_us > s->max_any_gap_us)
            s->max_any_gap_us = t - s->last_any_us;
        s->last_any_us = t;
        s->acks++;
        if (t - sent > s->lat_max_us)
            s->lat_max_us = t - sent;
    }
    pthread_mutex_unlock(&s->lock);
}

static int run_gap(const opts_t *o)
{
    strata_conf_t *ac = make_conf(o, false), *pc = make_conf(o, true);
    strata_admin_t *a = NULL;
    strata_producer_t *p = NULL;
    strata_metadata_t *md = NULL;
    int rc = 1;
    char err[256];
    pthread_mutex_init(&gap_s.lock, NULL);
    if (ac == NULL || pc == NULL)
        goto out;
    if ((a = strata_admin_new(ac, err, sizeof err)) == NULL ||
        (p = strata_producer_new(pc, err, sizeof err)) == NULL) {
        fprintf(stderr, "cluster-probe: %s\n", err);
        goto out;
    }
    if ((md = topic_md(a, o->topic, 30000, true)) == NULL)
        goto out;
    const strata_topic_info_t *t = &md->topics[0];
    size_t n = 0, led = 0;
    for (size_t i = 0; i < t->n_partitions; i++)
        if (t->partitions[i].id >= 0 && (size_t)t->partitions[i].id + 1 > n)
            n = (size_t)t->partitions[i].id + 1;
    if ((gap_s.parts = calloc(n, sizeof *gap_s.parts)) == NULL) {
        fprintf(stderr, "cluster-probe: out of memory\n");
        goto out;
    }
    gap_s.n_parts = n;
    for (size_t i = 0; i < t->n_partitions; i++)
        if (t->partitions[i].leader == o->victim && t->partitions[i].id >= 0) {
            gap_s.parts[t->partitions[i].id].victim_led = true;
            led++;
        }
    if (led == 0) {
        fprintf(stderr, "cluster-probe: broker %d leads no partition of %s\n", (int)o->victim, o->topic);
        goto out;
    }
    static const char val[100] = {0};
    int64_t start = now_us(), t0 = 0, dead_us = 0, stop = 0, sent = 0;
    int64_t hard_end = start + (o->before_ms + o->timeout_ms + o->after_ms) * 1000;
    int32_t next = 0;
    for (;;) {
        int64_t now = now_us();
        if (t0 == 0 && now - start >= o->before_ms * 1000) {
            pthread_mutex_lock(&gap_s.lock);
            int64_t acks = gap_s.acks;
            pthread_mutex_unlock(&gap_s.lock);
            if (acks == 0) {
                fprintf(stderr, "cluster-probe: nothing acknowledged in %" PRId64 " ms\n", o->before_ms);
                goto out;
            }
            t0 = now_us();
            if (kill(o->pid, SIGTERM) != 0) {
                fprintf(stderr, "cluster-probe: kill %d: %s\n", (int)o->pid, strerror(errno));
                goto out;
            }
        }
        if (t0 != 0 && dead_us == 0 && pid_dead(o->pid)) {
            dead_us = now;
            stop = now + o->after_ms * 1000;
        }
        if ((stop != 0 && now >= stop) || now >= hard_end)
            break;
        int64_t due = start + (int64_t)((double)sent * 1e6 / (double)o->rate);
        if (due > now) {
            sleep_us(due - now < 1000 ? due - now : 1000);
            continue;
        }
        strata_err_t e = strata_producer_send(p, o->topic, next, NULL, 0, val, sizeof val, NULL, 0, 0, gap_dr,
                                              (void *)(intptr_t)now);
        if (e != STRATA_OK) {
            fprintf(stderr, "cluster-probe: send: %s\n", strata_err_name(e));
            goto out;
        }
        sent++;
        pthread_mutex_lock(&gap_s.lock);
        gap_s.parts[next].sent++;
        pthread_mutex_unlock(&gap_s.lock);
        next = (int32_t)(((size_t)next + 1) % n);
    }
    strata_producer_flush(p, 10000);
    pthread_mutex_lock(&gap_s.lock);
    int64_t vmax = 0, vmax_end = 0, amax = 0, amax_end = 0, end = now_us();
    int32_t vpart = -1, apart = -1;
    size_t open = 0;
    char open_list[256] = "";
    for (size_t i = 0; i < n; i++) {
        gap_part_t *g = &gap_s.parts[i];
        /* records still unanswered: the gap is still open at the end */
        if (g->done < g->sent) {
            int64_t since = g->last_ack_us ? g->last_ack_us : start;
            open++;
            size_t ol = strlen(open_list);
            if (ol + 16 < sizeof open_list)
                snprintf(open_list + ol, sizeof open_list - ol, "%s%zu%s", ol ? "," : "", i,
                         g->victim_led ? "*" : "");
            if (end - since > g->max_gap_us) {
                g->max_gap_us = end - since;
                g->max_gap_end_us = end;
            }
        }
        if (g->victim_led && g->max_gap_us > vmax) {
            vmax = g->max_gap_us;
            vmax_end = g->max_gap_end_us;
            vpart = (int32_t)i;
        }
        if (g->max_gap_us > amax) {
            amax = g->max_gap_us;
            amax_end = g->max_gap_end_us;
            apart = (int32_t)i;
        }
    }
    double natural = (double)n / (double)o->rate * 1000.0;
    printf("{\"partitions\":%zu,\"victim\":%d,\"victim_led\":%zu,\"rate\":%" PRId64 ","
           "\"sent\":%" PRId64 ",\"acks\":%" PRId64 ",\"errors\":%" PRId64 ",\"first_error\":\"%s\","
           "\"exit_ms\":%.1f,\"natural_gap_ms\":%.2f,\"max_gap_victim_ms\":%.1f,"
           "\"max_gap_victim_partition\":%d,\"max_gap_victim_end_ms\":%.1f,"
           "\"max_gap_any_partition_ms\":%.1f,\"max_gap_any_partition\":%d,\"max_gap_any_end_ms\":%.1f,\"max_"
           "gap_aggregate_ms\":%.1f,\"latency_max_ms\":%.1f,"
           "\"partitions_unanswered\":%zu,\"unanswered\":\"%s\"}\n",
           n, (int)o->victim, led, o->rate, sent, gap_s.acks, gap_s.errors,
           gap_s.errors ? strata_err_name(gap_s.first_err) : "",
           dead_us ? (double)(dead_us - t0) / 1000.0 : -1.0, natural, (double)vmax / 1000.0, (int)vpart,
           vmax_end ? (double)(vmax_end - t0) / 1000.0 : -1.0, (double)amax / 1000.0, (int)apart,
           amax_end ? (double)(amax_end - t0) / 1000.0 : -1.0, (double)gap_s.max_any_gap_us / 1000.0,
           (double)gap_s.lat_max_us / 1000.0, open, open_list);
    pthread_mutex_unlock(&gap_s.lock);
    rc = 0;
out:
    if (p != NULL)
        strata_producer_close(p, 2000);
    strata_metadata_free(md);
    strata_admin_free(a);
    strata_conf_free(ac);
    strata_conf_free(pc);
    free(gap_s.parts);
    pthread_mutex_destroy(&gap_s.lock);
    return rc;
}

/* ---------------------------------------------------------------- info */

static int run_info(const opts_t *o)
{
    strata_conf_t *ac = make_conf(o, false);
    strata_admin_t *a = NULL;
    strata_metadata_t *md = NULL;
    int rc = 1;
    char err[256];
    if (ac == NULL)
        goto out;
    if ((a = strata_admin_new(ac, err, sizeof err)) == NULL) {
        fprintf(stderr, "cluster-probe: %s\n", err);
        goto out;
    }
    int64_t deadline = now_us() + o->timeout_ms * 1000;
    size_t bad = 0;
    for (;;) {
        strata_metadata_free(md);
        md = topic_md(a, o->topic, 5000, false);
        if (md != NULL) {
            bool unused;
            bad = count_leaderless(md, -1, -1, &unused);
            if (bad == 0)
                break;
        }
        if (now_us() >= deadline)
            break;
        sleep_us(o->poll_ms * 1000);
    }
    if (md == NULL) {
        md = topic_md(a, o->topic, 5000, true);
        if (md == NULL)
            goto out;
    }
    printf("{\"partitions\":%zu,\"controller\":%d,\"leaderless\":%zu,\"leaders\":{",
           md->topics[0].n_partitions, (int)md->controller_id, bad);
    for (size_t b = 0; b < md->n_brokers; b++) {
        size_t led = 0;
        for (size_t i = 0; i < md->topics[0].n_partitions; i++)
            if (md->topics[0].partitions[i].leader == md->brokers[b].id)
                led++;
        printf("%s\"%d\":%zu", b ? "," : "", (int)md->brokers[b].id, led);
    }
    printf("}}\n");
    rc = bad == 0 ? 0 : 1;
out:
    strata_metadata_free(md);
    strata_admin_free(a);
    strata_conf_free(ac);
    return rc;
}

static void usage(FILE *f)
{
    fputs("usage: cluster-probe failover|gap -b URLS -t TOPIC --victim ID --pid PID\n"
          "       cluster-probe info -b URLS -t TOPIC [--timeout-ms MS]\n"
          "         [--acks 0|1|all] [--timeout-ms MS] [--poll-ms MS]\n"
          "         [--rate R] [--before-ms MS] [--after-ms MS] [-X key=value]...\n"
          "  failover: SIGKILL PID, time first ack on a partition it led and all leaders back\n"
          "  gap:      produce R records/s round-robin, SIGTERM PID, longest ack gap\n"
          "  info:     leaders per broker (exit 1 while some partition has none)\n",
          f);
}

int main(int argc, char **argv)
{
    static const struct option lo[] = {
        {"bootstrap-server", required_argument, NULL, 'b'},
        {"topic", required_argument, NULL, 't'},
        {"victim", required_argument, NULL, 'v'},
        {"pid", required_argument, NULL, 'p'},
        {"acks", required_argument, NULL, 'a'},
        {"timeout-ms", required_argument, NULL, 'T'},
        {"poll-ms", required_argument, NULL, 'P'},
        {"rate", required_argument, NULL, 'r'},
        {"before-ms", required_argument, NULL, 'B'},
        {"after-ms", required_argument, NULL, 'A'},
        {"property", required_argument, NULL, 'X'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    opts_t o = {.acks = "1",
                .victim = -1,
                .timeout_ms = 30000,
                .poll_ms = 20,
                .rate = 2000,
                .before_ms = 2000,
                .after_ms = 3000};
    const char *props[32];
    int c;
    while ((c = getopt_long(argc, argv, "b:t:X:h", lo, NULL)) != -1) {
        switch (c) {
        case 'b':
            o.bootstrap = optarg;
            break;
        case 't':
            o.topic = optarg;
            break;
        case 'v':
            o.victim = (int32_t)atoi(optarg);
            break;
        case 'p':
            o.pid = (pid_t)atoi(optarg);
            break;
        case 'a':
            o.acks = optarg;
            break;
        case 'T':
            o.timeout_ms = atoll(optarg);
            break;
        case 'P':
            o.poll_ms = atoll(optarg);
            break;
        case 'r':
            o.rate = atoll(optarg);
            break;
        case 'B':
            o.before_ms = atoll(optarg);
            break;
        case 'A':
            o.after_ms = atoll(optarg);
            break;
        case 'X':
            if (o.n_props == sizeof props / sizeof *props) {
                fprintf(stderr, "cluster-probe: too many -X\n");
                return 2;
            }
            props[o.n_props++] = optarg;
            o.props = props;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    bool info = optind + 1 == argc && strcmp(argv[optind], "info") == 0;
    if (optind + 1 != argc || o.bootstrap == NULL || o.topic == NULL ||
        (!info && (o.victim < 0 || o.pid <= 1)) || o.timeout_ms < 1 || o.poll_ms < 1 || o.rate < 1 ||
        o.before_ms < 0 || o.after_ms < 0) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[optind], "failover") == 0)
        return run_failover(&o);
    if (strcmp(argv[optind], "gap") == 0)
        return run_gap(&o);
    if (info)
        return run_info(&o);
    usage(stderr);
    return 2;
}
