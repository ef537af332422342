/*
 * cli_perf: load generators (see cli_perf.h). Produce latency is measured
 * from send() to the delivery callback; like Kafka's ProducerPerformance
 * it keeps a sample of at most ~500k latencies for the percentiles, and
 * exact count, average and maximum over all records.
 */
#include "cli/cli_perf.h"

#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli_perf_e2e.h"
#include "cli/cli_util.h"
#include "client/strata.h"

#define CLI_PERF_REPORT_US 5000000
#define CLI_PERF_SAMPLES 500000
#define CLI_PERF_CLOCK_EVERY 64 /* sends per clock read when unthrottled (divides 1024) */

static const char cli_perf_help[] =
    "usage: strata perf produce -t TOPIC --num-records N --record-size S [--throughput R]\n"
    "                           [--acks 0|1|all] [--batch-size B] [--linger-ms L] [-z CODEC]\n"
    "       strata perf consume -t TOPIC --num-records N [--timeout-ms MS]\n"
    "       strata perf e2e -t TOPIC [--rate R] [--seconds S] [--record-size B] (see perf e2e --help)\n"
    "options:\n"
    "  -t, --topic TOPIC       topic\n"
    "      --num-records N     records to produce / consume\n"
    "      --record-size S     value size in bytes (produce)\n"
    "      --throughput R      records/s cap, -1 = unlimited (default -1)\n"
    "      --acks 0|1|all      (default all)\n"
    "      --batch-size B      producer batch.size (default 16384)\n"
    "      --linger-ms L       producer linger.ms (default 5)\n"
    "  -z, --compression C     none, zstd or lz4\n"
    "      --timeout-ms MS     consume: give up after MS without a record (default 10000)\n"
    "      --stats-interval-ms MS  also print the client's statistics (round trips, queues) every "
    "MS\n" CLI_GLOBAL_HELP;

enum {
    OPT_NUM = 2000,
    OPT_SIZE,
    OPT_TPUT,
    OPT_ACKS,
    OPT_BATCH,
    OPT_LINGER,
    OPT_TIMEOUT,
    OPT_STATS,
};

int64_t cli_perf_percentile(const int64_t *sorted, size_t n, double p)
{
    if (n == 0)
        return 0;
    size_t idx = (size_t)(p / 100.0 * (double)n);
    if (idx >= n)
        idx = n - 1;
    return sorted[idx];
}

static int cli_i64_cmp(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

typedef struct cli_pstats {
    int64_t start_us;
    int64_t count; /* completed */
    int64_t errors;
    strata_err_t first_err;
    int64_t bytes;
    int64_t lat_sum_us;
    int64_t lat_max_us;
    int64_t *samples;
    size_t n_samples;
    int64_t sample_every;
    /* window for progress lines */
    int64_t win_start_us;
    int64_t win_count;
    int64_t win_bytes;
    int64_t win_lat_sum_us;
    int64_t win_lat_max_us;
    int64_t record_size;
    pthread_mutex_t lock; /* the delivery callback runs on the I/O thread */
} cli_pstats_t;

static void cli_perf_window(cli_pstats_t *s, int64_t now, bool produce)
{
    pthread_mutex_lock(&s->lock);
    double secs = (double)(now - s->win_start_us) / 1e6;
    if (secs <= 0)
        secs = 1e-6;
    double rps = (double)s->win_count / secs;
    double mbs = (double)s->win_bytes / secs / (1024.0 * 1024.0);
    if (cli_g.json) {
        if (produce)
            printf("{\"progress\":true,\"records\":%" PRId64 ",\"records_per_sec\":%.1f,"
                   "\"mb_per_sec\":%.2f,\"latency_avg_ms\":%.2f,\"latency_max_ms\":%.2f}\n",
                   s->win_count, rps, mbs,
                   s->win_count ? (double)s->win_lat_sum_us / (double)s->win_count / 1000.0 : 0.0,
                   (double)s->win_lat_max_us / 1000.0);
        else
            printf("{\"progress\":true,\"records\":%" PRId64 ",\"records_per_sec\":%.1f,"
                   "\"mb_per_sec\":%.2f}\n",
                   s->win_count, rps, mbs);
    } else if (produce) {
        printf("%" PRId64 " records sent, %.1f records/sec (%.2f MB/sec), %.2f ms avg latency, "
               "%.2f ms max latency.\n",
               s->win_count, rps, mbs,
               s->win_count ? (double)s->win_lat_sum_us / (double)s->win_count / 1000.0 : 0.0,
               (double)s->win_lat_max_us / 1000.0);
    } else {
        printf("%" PRId64 " records consumed, %.1f records/sec (%.2f MB/sec).\n", s->win_count, rps, mbs);
    }
    fflush(stdout);
    s->win_start_us = now;
    s->win_count = s->win_bytes = s->win_lat_sum_us = s->win_lat_max_us = 0;
    pthread_mutex_unlock(&s->lock);
}

/* --stats-interval-ms: libstrata's statistics report as a progress line
 * (JSON: {"stats":report}; text: per broker round trips and requests in
 * flight, what is queued). Runs on the client's I/O thread. */
static void cli_perf_stats(const char *json, void *opaque)
{
    (void)opaque;
    if (cli_g.json) {
        printf("{\"stats\":%s}\n", json);
        fflush(stdout);
        return;
    }
    json_t *r = json_loads(json, 0, NULL);
    if (!r)
        return;
    printf("stats (%s):", json_string_value(json_object_get(r, "type")));
    size_t i;
    json_t *b;
    json_array_foreach(json_object_get(r, "brokers"), i, b)
    {
        if (json_integer_value(json_object_get(b, "id")) < 0)
            continue; /* bootstrap entry */
        printf(" broker %lld rtt %lld us avg, %lld max (%lld answers), %lld/%lld produce/fetch in flight;",
               (long long)json_integer_value(json_object_get(b, "id")),
               (long long)json_integer_value(json_object_get(b, "rtt_avg_us")),
               (long long)json_integer_value(json_object_get(b, "rtt_max_us")),
               (long long)json_integer_value(json_object_get(b, "rtt_count")),
               (long long)json_integer_value(json_object_get(b, "produce_in_flight")),
               (long long)json_integer_value(json_object_get(b, "fetch_in_flight")));
    }
    if (json_object_get(r, "records_queued"))
        printf(" %lld records queued", (long long)json_integer_value(json_object_get(r, "records_queued")));
    else
        printf(" %lld bytes fetched and not yet polled",
               (long long)json_integer_value(json_object_get(r, "bytes_queued")));
    printf("\n");
    fflush(stdout);
    json_decref(r);
}

/* cli_conf() with the statistics callback when --stats-interval-ms was given. */
static const char *cli_perf_stats_ms;

static strata_conf_t *cli_perf_conf(void)
{
    strata_conf_t *conf = cli_conf();
    if (conf && cli_perf_stats_ms) {
        if (!cli_conf_set(conf, "statistics.interval.ms", cli_perf_stats_ms)) {
            strata_conf_free(conf);
            return NULL;
        }
        strata_conf_set_stats_cb(conf, cli_perf_stats, NULL);
    }
    return conf;
}

/* Delivery callback: opaque is the send time in microseconds. */
static cli_pstats_t *cli_perf_cur;

static void cli_perf_dr(const strata_delivery_t *dr, void *opaque)
{
    cli_pstats_t *s = cli_perf_cur;
    int64_t now = st_mono_us();
    int64_t lat = now - (int64_t)(intptr_t)opaque;
    pthread_mutex_lock(&s->lock);
    if (dr->err != STRATA_OK) {
        if (s->errors++ == 0)
            s->first_err = dr->err;
        pthread_mutex_unlock(&s->lock);
        return;
    }
    if (s->count % s->sample_every == 0 && s->n_samples < CLI_PERF_SAMPLES + 1)
        s->samples[s->n_samples++] = lat;
    s->count++;
    s->bytes += s->record_size;
    s->lat_sum_us += lat;
    if (lat > s->lat_max_us)
        s->lat_max_us = lat;
    s->win_count++;
    s->win_bytes += s->record_size;
    s->win_lat_sum_us += lat;
    if (lat > s->win_lat_max_us)
        s->win_lat_max_us = lat;
    pthread_mutex_unlock(&s->lock);
}

static void cli_sleep_us(int64_t us)
{
    struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
    nanosleep(&ts, NULL);
}

static int cli_perf_produce(const char *topic, int64_t num, int64_t size, int64_t tput, const char *acks,
                            const char *batch, const char *linger, const char *codec)
{
    strata_conf_t *conf = cli_perf_conf();
    strata_producer_t *p = NULL;
    cli_pstats_t s;
    char *value = NULL;
    int rc = CLI_EXIT_OK;
    memset(&s, 0, sizeof s);
    pthread_mutex_init(&s.lock, NULL);
    if (conf == NULL || (acks && !cli_conf_set(conf, "acks", acks)) ||
        (batch && !cli_conf_set(conf, "batch.size", batch)) ||
        (linger && !cli_conf_set(conf, "linger.ms", linger)) ||
        (codec && !cli_conf_set(conf, "compression.type", codec))) {
        rc = CLI_EXIT_ERROR;
        goto out;
    }
    char err[256];
    if ((p = strata_producer_new(conf, err, sizeof err)) == NULL) {
        cli_err("%s", err);
        rc = CLI_EXIT_ERROR;
        goto out;
    }
    s.sample_every = num / CLI_PERF_SAMPLES + 1;
    s.samples = malloc((CLI_PERF_SAMPLES + 1) * sizeof *s.samples);
    value = malloc((size_t)size + 1);
    if (s.samples == NULL || value == NULL) {
        cli_err("out of memory");
        rc = CLI_EXIT_ERROR;
        goto out;
    }
    /* printable payload, like Kafka's perf tool's random uppercase letters */
    srand((unsigned)time(NULL));
    for (int64_t i = 0; i < size; i++)
        value[i] = (char)('A' + rand() % 26);
    s.record_size = size;
    cli_perf_cur = &s;
    s.start_us = s.win_start_us = st_mono_us();
    int64_t last_report = s.start_us;
    /* Unthrottled, the clock is read once per CLI_PERF_CLOCK_EVERY sends
     * (a record's send time is then at most that many sends early: well
     * under a millisecond at saturation, so latencies barely move);
     * throttled, once per record, for pacing. */
    int64_t now = s.start_us;
    for (int64_t i = 0; i < num; i++) {
        if (tput > 0 || i % CLI_PERF_CLOCK_EVERY == 0)
            now = st_mono_us();
        if (tput > 0) {
            int64_t due = s.start_us + (int64_t)((double)i * 1e6 / (double)tput);
            if (due > now) {
                cli_sleep_us(due - now);
                now = st_mono_us();
            }
        }
        strata_err_t e = strata_producer_send(p, topic, -1, NULL, 0, value, (size_t)size, NULL, 0, 0,
                                              cli_perf_dr, (void *)(intptr_t)now);
        if (e != STRATA_OK) {
            cli_err("send: %s", strata_err_name(e));
            rc = CLI_EXIT_ERROR;
            break;
        }
        if ((i & 1023) == 0 && now - last_report >= CLI_PERF_REPORT_US) {
            cli_perf_window(&s, now, true);
            last_report = now;
        }
    }
    while (strata_producer_flush(p, 1000) == STRATA_ERR_TIMEOUT) {
        now = st_mono_us();
        if (now - last_report >= CLI_PERF_REPORT_US) {
            cli_perf_window(&s, now, true);
            last_report = now;
        }
    }
    int64_t end = st_mono_us();
    strata_producer_close(p, 10000);
    p = NULL;
    double secs = (double)(end - s.start_us) / 1e6;
    qsort(s.samples, s.n_samples, sizeof *s.samples, cli_i64_cmp);
    double rps = (double)s.count / secs, mbs = (double)s.bytes / secs / (1024.0 * 1024.0);
    double avg = s.count ? (double)s.lat_sum_us / (double)s.count / 1000.0 : 0.0;
    double p50 = (double)cli_perf_percentile(s.samples, s.n_samples, 50) / 1000.0;
    double p99 = (double)cli_perf_percentile(s.samples, s.n_samples, 99) / 1000.0;
    double p999 = (double)cli_perf_percentile(s.samples, s.n_samples, 99.9) / 1000.0;
    double mx = (double)s.lat_max_us / 1000.0;
    if (cli_g.json)
        printf("{\"records\":%" PRId64 ",\"errors\":%" PRId64 ",\"seconds\":%.3f,"
               "\"records_per_sec\":%.1f,\"mb_per_sec\":%.2f,\"latency_avg_ms\":%.2f,"
               "\"latency_p50_ms\":%.2f,\"latency_p99_ms\":%.2f,\"latency_p999_ms\":%.2f,"
               "\"latency_max_ms\":%.2f}\n",
               s.count, s.errors, secs, rps, mbs, avg, p50, p99, p999, mx);
    else
        printf("%" PRId64 " records sent, %.1f records/sec (%.2f MB/sec), %.2f ms avg latency, "
               "%.2f ms max latency, %.2f ms 50th, %.2f ms 99th, %.2f ms 99.9th.\n",
               s.count, rps, mbs, avg, mx, p50, p99, p999);
    if (s.errors > 0) {
        cli_err("%" PRId64 " records failed: %s", s.errors, strata_err_name(s.first_err));
        rc = CLI_EXIT_ERROR;
    }
out:
    if (p != NULL)
        strata_producer_close(p, 10000);
    strata_conf_free(conf);
    free(s.samples);
    free(value);
    pthread_mutex_destroy(&s.lock);
    return rc;
}

static int cli_perf_consume(const char *topic, int64_t num, int64_t timeout_ms)
{
    strata_conf_t *conf = cli_perf_conf();
    strata_admin_t *a = NULL;
    strata_consumer_t *c = NULL;
    strata_metadata_t *md = NULL;
    strata_tp_t *tps = NULL;
    int rc = CLI_EXIT_OK;
    char err[256];
    if (conf == NULL || !cli_conf_set(conf, "auto.offset.reset", "earliest")) {
        rc = CLI_EXIT_ERROR;
        goto out;
    }
    if ((a = strata_admin_new(conf, err, sizeof err)) == NULL) {
        cli_err("%s", err);
        rc = CLI_EXIT_ERROR;
        goto out;
    }
    const char *names[1] = {topic};
    strata_err_t e = strata_admin_metadata(a, names, 1, 30000, &md);
    if (e != STRATA_OK || md->n_topics < 1 || md->topics[0].err != STRATA_OK ||
        md->topics[0].n_partitions == 0) {
        cli_err("topic '%s': %s", topic,
                strata_err_name(e != STRATA_OK                      ? e
                                : md->n_topics && md->topics[0].err ? md->topics[0].err
                                                                    : STRATA_ERR_UNKNOWN_TOPIC_OR_PARTITION));
        rc = CLI_EXIT_ERROR;
        goto out;
    }
    size_t n = md->topics[0].n_partitions;
    tps = calloc(n, sizeof *tps);
    if (tps == NULL || (c = strata_consumer_new(conf, err, sizeof err)) == NULL) {
        cli_err("%s", tps ? err : "out of memory");
        rc = CLI_EXIT_ERROR;
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        tps[i].topic = topic;
        tps[i].partition = md->topics[0].partitions[i].id;
        tps[i].offset = STRATA_OFFSET_BEGINNING;
    }
    strata_consumer_assign(c, tps, n);
    cli_pstats_t s;
    memset(&s, 0, sizeof s);
    pthread_mutex_init(&s.lock, NULL);
    s.start_us = s.win_start_us = st_mono_us();
    int64_t last_report = s.start_us, last_rec = s.start_us, first_us = 0;
    while (s.count < num) {
        const strata_message_t *m;
        e = strata_consumer_poll(c, 100, &m);
        int64_t now = st_mono_us();
        if (now - last_report >= CLI_PERF_REPORT_US) {
            cli_perf_window(&s, now, false);
            last_report = now;
        }
        if (e == STRATA_ERR_TIMEOUT) {
            if (now - last_rec >= timeout_ms * 1000) {
                cli_err("no record for %" PRId64 " ms after %" PRId64 " of %" PRId64 " records", timeout_ms,
                        s.count, num);
                rc = CLI_EXIT_ERROR;
                break;
            }
            continue;
        }
        if (e != STRATA_OK || m->err != STRATA_OK) {
            cli_err("poll: %s", strata_err_name(e != STRATA_OK ? e : m->err));
            rc = CLI_EXIT_ERROR;
            break;
        }
        if (first_us == 0)
            first_us = now;
        last_rec = now;
        int64_t b = (int64_t)(m->key_len + m->value_len);
        s.count++;
        s.bytes += b;
        s.win_count++;
        s.win_bytes += b;
    }
    int64_t end = st_mono_us();
    double secs = (double)(end - s.start_us) / 1e6;
    double fetch_secs = first_us ? (double)(end - first_us) / 1e6 : secs;
    double rps = (double)s.count / secs, mbs = (double)s.bytes / secs / (1024.0 * 1024.0);
    if (cli_g.json)
        printf("{\"records\":%" PRId64 ",\"bytes\":%" PRId64 ",\"seconds\":%.3f,"
               "\"records_per_sec\":%.1f,\"mb_per_sec\":%.2f,\"fetch_seconds\":%.3f,"
               "\"fetch_records_per_sec\":%.1f}\n",
               s.count, s.bytes, secs, rps, mbs, fetch_secs,
               fetch_secs > 0 ? (double)s.count / fetch_secs : 0.0);
    else
        printf("%" PRId64 " records consumed in %.3f s, %.1f records/sec (%.2f MB/sec); "
               "%.1f records/sec after the first record.\n",
               s.count, secs, rps, mbs, fetch_secs > 0 ? (double)s.count / fetch_secs : 0.0);
    pthread_mutex_destroy(&s.lock);
out:
    strata_consumer_close(c);
    strata_metadata_free(md);
    strata_admin_free(a);
    strata_conf_free(conf);
    free(tps);
    return rc;
}

int cli_perf_main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"topic", required_argument, NULL, 't'},
        {"num-records", required_argument, NULL, OPT_NUM},
        {"record-size", required_argument, NULL, OPT_SIZE},
        {"throughput", required_argument, NULL, OPT_TPUT},
        {"acks", required_argument, NULL, OPT_ACKS},
        {"batch-size", required_argument, NULL, OPT_BATCH},
        {"linger-ms", required_argument, NULL, OPT_LINGER},
        {"compression", required_argument, NULL, 'z'},
        {"timeout-ms", required_argument, NULL, OPT_TIMEOUT},
        {"stats-interval-ms", required_argument, NULL, OPT_STATS},
        CLI_GLOBAL_LONGOPTS,
        {NULL, 0, NULL, 0},
    };
    if (argc > 1 && strcmp(argv[1], "e2e") == 0)
        return cli_perf_e2e_main(argc, argv);
    const char *topic = NULL, *acks = NULL, *batch = NULL, *linger = NULL, *codec = NULL;
    int64_t num = -1, size = -1, tput = -1, timeout = 10000, tmp;
    int c;
    optind = 0; /* 0: full reset of GNU getopt (main already used it) */
    while ((c = getopt_long(argc, argv, "t:z:" CLI_GLOBAL_SHORTOPTS, longopts, NULL)) != -1) {
        switch (c) {
        case 't':
            topic = optarg;
            break;
        case OPT_NUM:
            if (!cli_parse_i64(optarg, &num) || num < 0)
                return cli_usage_err("perf", "--num-records: bad value '%s'", optarg);
            break;
        case OPT_SIZE:
            if (!cli_parse_i64(optarg, &size) || size < 0 || size > 100 * 1024 * 1024)
                return cli_usage_err("perf", "--record-size: bad value '%s'", optarg);
            break;
        case OPT_TPUT:
            if (!cli_parse_i64(optarg, &tput) || tput == 0 || tput < -1)
                return cli_usage_err("perf", "--throughput: bad value '%s'", optarg);
            break;
        case OPT_ACKS:
            acks = optarg;
            break;
        case OPT_BATCH:
            if (!cli_parse_i64(optarg, &tmp) || tmp < 1)
                return cli_usage_err("perf", "--batch-size: bad value '%s'", optarg);
            batch = optarg;
            break;
        case OPT_LINGER:
            if (!cli_parse_i64(optarg, &tmp) || tmp < 0)
                return cli_usage_err("perf", "--linger-ms: bad value '%s'", optarg);
            linger = optarg;
            break;
        case 'z':
            codec = optarg;
            break;
        case OPT_TIMEOUT:
            if (!cli_parse_i64(optarg, &timeout) || timeout < 1)
                return cli_usage_err("perf", "--timeout-ms: bad value '%s'", optarg);
            break;
        case OPT_STATS:
            if (!cli_parse_i64(optarg, &tmp) || tmp < 1)
                return cli_usage_err("perf", "--stats-interval-ms: bad value '%s'", optarg);
            cli_perf_stats_ms = optarg;
            break;
        case 'h':
            fputs(cli_perf_help, stdout);
            return CLI_EXIT_OK;
        default:
            if (!cli_global_opt(c, optarg))
                return cli_usage_err("perf", "bad option");
        }
    }
    if (optind >= argc)
        return cli_usage_err("perf", "expected 'produce' or 'consume'");
    const char *sub = argv[optind];
    if (optind + 1 < argc)
        return cli_usage_err("perf", "unexpected argument '%s'", argv[optind + 1]);
    if (topic == NULL)
        return cli_usage_err("perf", "-t TOPIC is required");
    if (num < 0)
        return cli_usage_err("perf", "--num-records is required");
    if (strcmp(sub, "produce") == 0) {
        if (size < 0)
            return cli_usage_err("perf", "--record-size is required");
        return cli_perf_produce(topic, num, size, tput, acks, batch, linger, codec);
    }
    if (strcmp(sub, "consume") == 0)
        return cli_perf_consume(topic, num, timeout);
    return cli_usage_err("perf", "unknown subcommand '%s'", sub);
}
