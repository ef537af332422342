/*
 * cli_perf_e2e: `strata perf e2e`, end-to-end latency (see cli_perf_e2e.h).
 * One producer and one consumer in this process. The producer sends at a
 * fixed schedule (record i is due at start + i / rate) and writes the
 * monotonic time of its send call, in nanoseconds, into the first eight
 * bytes of each value, its sequence number into the next eight; the
 * consumer, on its own thread, subtracts that stamp from the monotonic
 * time at which strata_consumer_poll handed the record over. A record sent
 * more than 1 ms after its due time counts as late (the schedule slipped:
 * the figures then understate queueing). Latencies are kept for every
 * record (rate x seconds of them), so the percentiles are exact.
 */
#include "cli/cli_perf_e2e.h"

#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli_perf.h"
#include "cli/cli_util.h"
#include "client/strata.h"
#include "common/st_clock.h"

#define E2E_STAMP 16               /* stamp (8) + sequence (8) */
#define E2E_LATE_NS 1000000        /* sent more than this after its due time */
#define E2E_DRAIN_NS 10000000000LL /* wait for the last records at most 10 s */

static const char cli_e2e_help[] =
    "usage: strata perf e2e -t TOPIC [--rate R] [--seconds S] [--record-size B] [--acks 0|1|all]\n"
    "                       [--linger-ms L] [--json]\n"
    "  producer and consumer in one process; prints end-to-end latency percentiles in microseconds\n"
    "options:\n"
    "  -t, --topic TOPIC     topic (every partition is read from its end)\n"
    "      --rate R          records/s on a fixed schedule (default 10000)\n"
    "      --seconds S       how long to send (default 10)\n"
    "      --record-size B   value size in bytes, at least 16 (default 100)\n"
    "      --acks 0|1|all    (default 1)\n"
    "      --linger-ms L     producer linger.ms (default 0)\n" CLI_GLOBAL_HELP;

enum {
    E2E_RATE = 3000,
    E2E_SECONDS,
    E2E_SIZE,
    E2E_ACKS,
    E2E_LINGER
};

typedef struct e2e {
    strata_consumer_t *c;
    int64_t *lat_ns; /* by sequence number, -1 until received */
    int64_t n;
    atomic_llong received;
    atomic_llong dups;
    atomic_int stop; /* 1: producer done, drain; 2: give up */
    strata_err_t err;
} e2e_t;

static void *e2e_consume(void *arg)
{
    e2e_t *e = arg;
    while (atomic_load(&e->stop) < 2 && atomic_load(&e->received) < e->n) {
        const strata_message_t *m;
        strata_err_t rc = strata_consumer_poll(e->c, 100, &m);
        int64_t now = st_mono_ns();
        if (rc == STRATA_ERR_TIMEOUT)
            continue;
        if (rc != STRATA_OK || m->err != STRATA_OK) {
            e->err = rc != STRATA_OK ? rc : m->err;
            break;
        }
        if (m->value_len < E2E_STAMP)
            continue;
        int64_t stamp, seq;
        memcpy(&stamp, m->value, 8);
        memcpy(&seq, (const char *)m->value + 8, 8);
        if (seq < 0 || seq >= e->n)
            continue;
        if (e->lat_ns[seq] >= 0) {
            atomic_fetch_add(&e->dups, 1);
            continue;
        }
        e->lat_ns[seq] = now - stamp;
        atomic_fetch_add(&e->received, 1);
    }
    return NULL;
}

static int e2e_cmp(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static void e2e_sleep_until(int64_t due_ns)
{
    int64_t now = st_mono_ns();
    if (due_ns <= now)
        return;
    struct timespec ts = {(time_t)((due_ns - now) / 1000000000), (long)((due_ns - now) % 1000000000)};
    nanosleep(&ts, NULL);
}

/* Assign every partition of topic at its end; false (error printed) when
 * the topic is unknown. */
static bool e2e_assign(strata_consumer_t *c, strata_conf_t *conf, const char *topic)
{
    char err[256];
    strata_admin_t *a = strata_admin_new(conf, err, sizeof err);
    if (!a) {
        cli_err("%s", err);
        return false;
    }
    const char *names[1] = {topic};
    strata_metadata_t *md = NULL;
    strata_err_t rc = strata_admin_metadata(a, names, 1, 30000, &md);
    bool ok = rc == STRATA_OK && md->n_topics == 1 && md->topics[0].err == STRATA_OK &&
              md->topics[0].n_partitions > 0;
    if (!ok) {
        cli_err("topic '%s': %s", topic,
                strata_err_name(rc != STRATA_OK                     ? rc
                                : md->n_topics && md->topics[0].err ? md->topics[0].err
                                                                    : STRATA_ERR_UNKNOWN_TOPIC_OR_PARTITION));
    } else {
        size_t n = md->topics[0].n_partitions;
        strata_tp_t *tps = calloc(n, sizeof *tps);
        for (size_t i = 0; tps && i < n; i++) {
            tps[i].topic = topic;
            tps[i].partition = md->topics[0].partitions[i].id;
            tps[i].offset = STRATA_OFFSET_END;
        }
        ok = tps && strata_consumer_assign(c, tps, n) == STRATA_OK;
        if (!ok)
            cli_err("cannot assign the partitions of '%s'", topic);
        free(tps);
    }
    strata_metadata_free(md);
    strata_admin_free(a);
    return ok;
}

static int e2e_run(const char *topic, int64_t rate, int64_t seconds, int64_t size, const char *acks,
                   const char *linger)
{
    strata_conf_t *pconf = cli_conf(), *cconf = cli_conf();
    strata_producer_t *p = NULL;
    e2e_t e = {.n = rate * seconds};
    char *value = NULL, err[256];
    int rc = CLI_EXIT_ERROR;
    bool started = false;
    pthread_t th;
    if (!pconf || !cconf || !cli_conf_set(pconf, "acks", acks) || !cli_conf_set(pconf, "linger.ms", linger))
        goto out;
    if (!(e.lat_ns = malloc((size_t)e.n * sizeof *e.lat_ns)) || !(value = calloc(1, (size_t)size))) {
        cli_err("out of memory");
        goto out;
    }
    for (int64_t i = 0; i < e.n; i++)
        e.lat_ns[i] = -1;
    for (int64_t i = E2E_STAMP; i < size; i++)
        value[i] = (char)('A' + i % 26);
    if (!(e.c = strata_consumer_new(cconf, err, sizeof err)) ||
        !(p = strata_producer_new(pconf, err, sizeof err))) {
        cli_err("%s", err);
        goto out;
    }
    if (!e2e_assign(e.c, cconf, topic))
        goto out;
    /* the consumer resolves its end positions before the first record */
    const strata_message_t *m;
    for (int i = 0; i < 5; i++)
        (void)strata_consumer_poll(e.c, 100, &m);
    if (pthread_create(&th, NULL, e2e_consume, &e) != 0) {
        cli_err("cannot start the consumer thread");
        goto out;
    }
    started = true;
    int64_t late = 0, start = st_mono_ns();
    for (int64_t i = 0; i < e.n; i++) {
        int64_t due = start + (int64_t)((double)i * 1e9 / (double)rate);
        e2e_sleep_until(due);
        int64_t now = st_mono_ns();
        if (now - due > E2E_LATE_NS)
            late++;
        memcpy(value, &now, 8);
        memcpy(value + 8, &i, 8);
        strata_err_t se =
            strata_producer_send(p, topic, -1, NULL, 0, value, (size_t)size, NULL, 0, 0, NULL, NULL);
        if (se != STRATA_OK) {
            cli_err("send: %s", strata_err_name(se));
            goto out;
        }
    }
    int64_t sent_end = st_mono_ns();
    (void)strata_producer_flush(p, 30000);
    atomic_store(&e.stop, 1);
    while (atomic_load(&e.received) < e.n && st_mono_ns() - sent_end < E2E_DRAIN_NS && e.err == STRATA_OK)
        e2e_sleep_until(st_mono_ns() + 10000000);
    atomic_store(&e.stop, 2);
    pthread_join(th, NULL);
    started = false;
    int64_t got = atomic_load(&e.received);
    size_t k = 0;
    for (int64_t i = 0; i < e.n; i++)
        if (e.lat_ns[i] >= 0)
            e.lat_ns[k++] = e.lat_ns[i];
    qsort(e.lat_ns, k, sizeof *e.lat_ns, e2e_cmp);
    double us[5];
    const double ps[4] = {50, 90, 99, 99.9};
    for (int i = 0; i < 4; i++)
        us[i] = (double)cli_perf_percentile(e.lat_ns, k, ps[i]) / 1000.0;
    us[4] = k ? (double)e.lat_ns[k - 1] / 1000.0 : 0.0;
    if (cli_g.json)
        printf("{\"sent\":%" PRId64 ",\"received\":%" PRId64 ",\"duplicates\":%lld,\"late\":%" PRId64
               ",\"rate\":%" PRId64 ",\"seconds\":%" PRId64 ",\"record_size\":%" PRId64
               ",\"acks\":\"%s\",\"p50_us\":%.1f,\"p90_us\":%.1f,\"p99_us\":%.1f,\"p999_us\":%.1f,"
               "\"max_us\":%.1f}\n",
               e.n, got, (long long)atomic_load(&e.dups), late, rate, seconds, size, acks, us[0], us[1],
               us[2], us[3], us[4]);
    else
        printf("%" PRId64 " records sent at %" PRId64 " records/s (%" PRId64
               " late against the schedule), %" PRId64
               " received; end-to-end latency: %.1f us 50th, %.1f us 90th, %.1f us 99th, %.1f us 99.9th, "
               "%.1f us max.\n",
               e.n, rate, late, got, us[0], us[1], us[2], us[3], us[4]);
    if (e.err != STRATA_OK)
        cli_err("poll: %s", strata_err_name(e.err));
    else if (got < e.n)
        cli_err("%" PRId64 " of %" PRId64 " records not received within 10 s", e.n - got, e.n);
    else
        rc = CLI_EXIT_OK;
out:
    if (started) {
        atomic_store(&e.stop, 2);
        pthread_join(th, NULL);
    }
    if (p)
        strata_producer_close(p, 10000);
    strata_consumer_close(e.c);
    strata_conf_free(pconf);
    strata_conf_free(cconf);
    free(e.lat_ns);
    free(value);
    return rc;
}

int cli_perf_e2e_main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"topic", required_argument, NULL, 't'},
        {"rate", required_argument, NULL, E2E_RATE},
        {"seconds", required_argument, NULL, E2E_SECONDS},
        {"record-size", required_argument, NULL, E2E_SIZE},
        {"acks", required_argument, NULL, E2E_ACKS},
        {"linger-ms", required_argument, NULL, E2E_LINGER},
        CLI_GLOBAL_LONGOPTS,
        {NULL, 0, NULL, 0},
    };
    const char *topic = NULL, *acks = "1", *linger = "0";
    int64_t rate = 10000, seconds = 10, size = 100, tmp;
    int c;
    optind = 0;
    while ((c = getopt_long(argc, argv, "t:" CLI_GLOBAL_SHORTOPTS, longopts, NULL)) != -1) {
        switch (c) {
        case 't':
            topic = optarg;
            break;
        case E2E_RATE:
            if (!cli_parse_i64(optarg, &rate) || rate < 1 || rate > 10000000)
                return cli_usage_err("perf", "--rate: bad value '%s'", optarg);
            break;
        case E2E_SECONDS:
            if (!cli_parse_i64(optarg, &seconds) || seconds < 1 || seconds > 3600)
                return cli_usage_err("perf", "--seconds: bad value '%s'", optarg);
            break;
        case E2E_SIZE:
            if (!cli_parse_i64(optarg, &size) || size < E2E_STAMP || size > 1024 * 1024)
                return cli_usage_err("perf", "--record-size: bad value '%s' (16 B .. 1 MiB)", optarg);
            break;
        case E2E_ACKS:
            acks = optarg;
            break;
        case E2E_LINGER:
            if (!cli_parse_i64(optarg, &tmp) || tmp < 0)
                return cli_usage_err("perf", "--linger-ms: bad value '%s'", optarg);
            linger = optarg;
            break;
        case 'h':
            fputs(cli_e2e_help, stdout);
            return CLI_EXIT_OK;
        default:
            if (!cli_global_opt(c, optarg))
                return cli_usage_err("perf", "bad option");
        }
    }
    if (optind + 1 < argc)
        return cli_usage_err("perf", "unexpected argument '%s'", argv[optind + 1]);
    if (!topic)
        return cli_usage_err("perf", "-t TOPIC is required");
    if (rate * seconds > 100000000)
        return cli_usage_err("perf", "--rate x --seconds is limited to 100,000,000 records");
    return e2e_run(topic, rate, seconds, size, acks, linger);
}
