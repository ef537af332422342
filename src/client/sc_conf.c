/*
 * sc_conf: client property table and the strata_conf_* public calls.
 * Kafka's defaults except linger.ms, which is 5 (Kafka 3.x clients use 0
 * before 4.0 and 5 after): a few milliseconds of batching costs little
 * latency and multiplies throughput.
 */
#include "client/sc_conf.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define OFF(f) offsetof(struct strata_conf, f)
#define I64MAX INT64_MAX

const st_conf_prop_t sc_conf_table[] = {
    {"bootstrap.servers", ST_CONF_LIST, "tcp://127.0.0.1:9092", 0, 0, NULL, false, false,
     "comma-separated nng URLs of brokers to ask for metadata first", OFF(bootstrap_servers)},
    {"client.id", ST_CONF_STRING, "strata", 0, 0, NULL, false, false,
     "name sent with every request (logs, quotas)", OFF(client_id)},
    {"request.timeout.ms", ST_CONF_INT, "30000", 1, 3600000, NULL, false, false,
     "how long to wait for a response before failing (and maybe retrying) a request",
     OFF(request_timeout_ms)},
    {"metadata.max.age.ms", ST_CONF_INT, "300000", 100, I64MAX, NULL, false, false,
     "refresh metadata at least this often", OFF(metadata_max_age_ms)},
    {"retry.backoff.ms", ST_CONF_INT, "100", 0, 3600000, NULL, false, false,
     "wait before retrying a failed request", OFF(retry_backoff_ms)},
    {"reconnect.backoff.ms", ST_CONF_INT, "100", 1, 3600000, NULL, false, false,
     "wait before redialling a broker, and how long a broker whose connection failed is "
     "avoided at first (doubles per failure)",
     OFF(reconnect_backoff_ms)},
    {"reconnect.backoff.max.ms", ST_CONF_INT, "1000", 1, 3600000, NULL, false, false,
     "largest reconnect backoff (the doubling stops here)", OFF(reconnect_backoff_max_ms)},
    {"socket.connection.setup.timeout.ms", ST_CONF_INT, "10000", 1, 3600000, NULL, false, false,
     "how long a request waits for a connection to its broker before it fails (retriable, "
     "the broker is marked down and metadata comes from another one)",
     OFF(connection_setup_timeout_ms)},
    {"acks", ST_CONF_STRING, "all", 0, 0, "0|1|-1|all", false, false,
     "producer: replicas that must have a batch before it is acknowledged (all = -1)", OFF(acks)},
    {"batch.size", ST_CONF_INT, "16384", 1, 1073741824, NULL, false, false,
     "producer: bytes of records per partition batch before it is sent", OFF(batch_size)},
    {"linger.ms", ST_CONF_INT, "5", 0, 900000, NULL, false, false,
     "producer: wait this long for more records before sending a batch that is not full", OFF(linger_ms)},
    {"compression.type", ST_CONF_STRING, "none", 0, 0, "none|zstd|lz4", false, false,
     "producer: batch compression codec", OFF(compression_type)},
    {"delivery.timeout.ms", ST_CONF_INT, "120000", 1, I64MAX, NULL, false, false,
     "producer: give up on a record this long after send() (retries included)", OFF(delivery_timeout_ms)},
    {"retries", ST_CONF_INT, "2147483647", 0, 2147483647, NULL, false, false,
     "producer: retries of a batch after retriable errors", OFF(retries)},
    {"max.in.flight.requests.per.connection", ST_CONF_INT, "5", 1, 1000, NULL, false, false,
     "producer: produce requests in flight per broker (more than 1 may reorder on retry)",
     OFF(max_in_flight)},
    {"buffer.memory", ST_CONF_INT, "33554432", 1024, I64MAX, NULL, false, false,
     "producer: bytes of records waiting to be sent before send() blocks", OFF(buffer_memory)},
    {"max.block.ms", ST_CONF_INT, "60000", 0, I64MAX, NULL, false, false,
     "producer: how long send() waits for buffer space", OFF(max_block_ms)},
    {"max.request.size", ST_CONF_INT, "1048576", 1024, 1073741824, NULL, false, false,
     "producer: largest produce request (and largest record)", OFF(max_request_size)},
    {"enable.idempotence", ST_CONF_BOOL, "true", 0, 0, NULL, false, false,
     "producer: producer id + per-partition sequence numbers so retries never duplicate or "
     "reorder (needs acks=all, retries > 0, max.in.flight.requests.per.connection <= 5)",
     OFF(enable_idempotence)},
    {"client.rack", ST_CONF_STRING, NULL, 0, 0, NULL, false, false,
     "consumer: rack of this client; brokers may point it at an in-sync follower in the same rack "
     "to fetch from (KIP-392)",
     OFF(client_rack)},
    {"fetch.max.wait.ms", ST_CONF_INT, "500", 0, 3600000, NULL, false, false,
     "consumer: how long a broker may hold a fetch waiting for fetch.min.bytes", OFF(fetch_max_wait_ms)},
    {"fetch.min.bytes", ST_CONF_INT, "1", 0, 1073741824, NULL, false, false,
     "consumer: bytes a broker waits for before answering a fetch", OFF(fetch_min_bytes)},
    {"fetch.max.bytes", ST_CONF_INT, "52428800", 1024, 1073741824, NULL, false, false,
     "consumer: largest fetch response asked for", OFF(fetch_max_bytes)},
    {"max.partition.fetch.bytes", ST_CONF_INT, "1048576", 1, 1073741824, NULL, false, false,
     "consumer: bytes asked per partition per fetch (at least one batch comes back)",
     OFF(max_partition_fetch_bytes)},
    {"auto.offset.reset", ST_CONF_STRING, "latest", 0, 0, "earliest|latest|none", false, false,
     "consumer: where to go when the fetch offset is out of range (none = report an error)",
     OFF(auto_offset_reset)},
    {"enable.partition.eof", ST_CONF_BOOL, "false", 0, 0, NULL, false, false,
     "consumer: poll() reports STRATA_ERR_PARTITION_EOF when a partition is read to its end",
     OFF(enable_partition_eof)},
    {"statistics.interval.ms", ST_CONF_INT, "0", 0, 86400000, NULL, false, false,
     "how often the statistics callback (strata_conf_set_stats_cb) gets a JSON report; 0 = never",
     OFF(statistics_interval_ms)},
    {"queued.max.messages.kbytes", ST_CONF_INT, "65536", 1, 1048576, NULL, false, false,
     "consumer: fetched bytes buffered per consumer before fetching pauses", OFF(queued_max_kbytes)},
    {"group.id", ST_CONF_STRING, NULL, 0, 0, NULL, false, false,
     "consumer: the consumer group to join (needed by subscribe and commits)", OFF(group_id)},
    {"group.instance.id", ST_CONF_STRING, NULL, 0, 0, NULL, false, false,
     "consumer: static membership id (a restart within session.timeout.ms keeps the "
     "assignment)",
     OFF(group_instance_id)},
    {"session.timeout.ms", ST_CONF_INT, "45000", 1, 3600000, NULL, false, false,
     "consumer: the coordinator drops a member silent for this long", OFF(session_timeout_ms)},
    {"heartbeat.interval.ms", ST_CONF_INT, "3000", 1, 3600000, NULL, false, false,
     "consumer: how often a member heartbeats to the coordinator", OFF(heartbeat_interval_ms)},
    {"max.poll.interval.ms", ST_CONF_INT, "300000", 1, 2147483647, NULL, false, false,
     "consumer: longest time between polls before the member leaves the group", OFF(max_poll_interval_ms)},
    {"enable.auto.commit", ST_CONF_BOOL, "true", 0, 0, NULL, false, false,
     "consumer: commit positions in the background every auto.commit.interval.ms", OFF(enable_auto_commit)},
    {"auto.commit.interval.ms", ST_CONF_INT, "5000", 1, 2147483647, NULL, false, false,
     "consumer: how often positions are committed when enable.auto.commit=true",
     OFF(auto_commit_interval_ms)},
    {"partition.assignment.strategy", ST_CONF_LIST, "range,cooperative-sticky", 0, 0, NULL, false, false,
     "consumer: assignors in order of preference (range, roundrobin, sticky, "
     "cooperative-sticky)",
     OFF(partition_assignment_strategy)},
    {NULL, 0, NULL, 0, 0, NULL, false, false, NULL, 0},
};

st_err_t sc_conf_init(strata_conf_t *conf)
{
    memset(conf, 0, sizeof *conf);
    return st_conf_defaults(sc_conf_table, conf);
}

void sc_conf_fini(strata_conf_t *conf)
{
    st_conf_free(sc_conf_table, conf);
}

st_err_t sc_conf_idempotence(const strata_conf_t *conf, bool *on, char *err, size_t errlen)
{
    *on = false;
    if (!conf->enable_idempotence)
        return ST_OK;
    const char *why = NULL;
    if (sc_conf_acks(conf) != -1)
        why = "acks=all";
    else if (conf->retries == 0)
        why = "retries > 0";
    else if (conf->max_in_flight > 5)
        why = "max.in.flight.requests.per.connection <= 5";
    if (why == NULL) {
        *on = true;
        return ST_OK;
    }
    if (conf->explicit_set & SC_SET_IDEMPOTENCE) {
        if (err)
            snprintf(err, errlen, "enable.idempotence=true requires %s", why);
        return ST_ERR_INVALID_CONFIG;
    }
    /* left at its default: idempotence is quietly off, as in Kafka 3.2+ */
    return ST_OK;
}

int sc_conf_acks(const strata_conf_t *conf)
{
    if (conf->acks == NULL || strcmp(conf->acks, "all") == 0 || strcmp(conf->acks, "-1") == 0)
        return -1;
    return atoi(conf->acks);
}

st_codec_t sc_conf_codec(const strata_conf_t *conf)
{
    if (conf->compression_type != NULL && strcmp(conf->compression_type, "zstd") == 0)
        return ST_CODEC_ZSTD;
    if (conf->compression_type != NULL && strcmp(conf->compression_type, "lz4") == 0)
        return ST_CODEC_LZ4;
    return ST_CODEC_NONE;
}

int sc_conf_reset(const strata_conf_t *conf)
{
    if (conf->auto_offset_reset != NULL && strcmp(conf->auto_offset_reset, "earliest") == 0)
        return -2;
    if (conf->auto_offset_reset != NULL && strcmp(conf->auto_offset_reset, "none") == 0)
        return 0;
    return -1;
}

st_err_t sc_conf_bootstrap(const strata_conf_t *conf, char ***urls, size_t *n)
{
    *urls = NULL;
    *n = 0;
    const char *s = conf->bootstrap_servers ? conf->bootstrap_servers : "";
    size_t cap = 1;
    for (const char *p = s; *p; p++)
        cap += *p == ',';
    char **v = calloc(cap, sizeof *v);
    if (v == NULL)
        return ST_ERR_NOMEM;
    size_t k = 0;
    const char *p = s;
    while (*p) {
        const char *e = strchr(p, ',');
        if (e == NULL)
            e = p + strlen(p);
        const char *a = p, *b = e;
        while (a < b && (*a == ' ' || *a == '\t'))
            a++;
        while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
            b--;
        if (b > a) {
            v[k] = strndup(a, (size_t)(b - a));
            if (v[k] == NULL) {
                sc_conf_bootstrap_free(v, k);
                return ST_ERR_NOMEM;
            }
            k++;
        }
        p = *e ? e + 1 : e;
    }
    *urls = v;
    *n = k;
    return ST_OK;
}

void sc_conf_bootstrap_free(char **urls, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(urls[i]);
    free(urls);
}

st_err_t sc_conf_check(const strata_conf_t *conf, char *err, size_t errlen)
{
    char **urls;
    size_t n;
    if (sc_conf_bootstrap(conf, &urls, &n) != ST_OK)
        return ST_ERR_NOMEM;
    sc_conf_bootstrap_free(urls, n);
    if (n == 0) {
        if (err)
            snprintf(err, errlen, "bootstrap.servers: no broker URL given");
        return ST_ERR_INVALID_CONFIG;
    }
    return ST_OK;
}

/* ------------------------------------------------------ public calls */

strata_conf_t *strata_conf_new(void)
{
    strata_conf_t *c = calloc(1, sizeof *c);
    if (c == NULL)
        return NULL;
    if (sc_conf_init(c) != ST_OK) {
        sc_conf_fini(c);
        free(c);
        return NULL;
    }
    return c;
}

st_err_t sc_conf_copy(strata_conf_t *dst, const strata_conf_t *src)
{
    st_err_t e = sc_conf_init(dst);
    for (const st_conf_prop_t *p = sc_conf_table; e == ST_OK && p->name != NULL; p++) {
        char *v = st_conf_get(sc_conf_table, src, p->name);
        if (v == NULL)
            continue;
        e = st_conf_set(sc_conf_table, dst, p->name, v, NULL, 0);
        free(v);
    }
    dst->explicit_set = src->explicit_set;
    dst->stats_cb = src->stats_cb;
    dst->stats_opaque = src->stats_opaque;
    return e;
}

void strata_conf_set_stats_cb(strata_conf_t *conf, strata_stats_cb cb, void *opaque)
{
    if (conf == NULL)
        return;
    conf->stats_cb = cb;
    conf->stats_opaque = opaque;
}

strata_conf_t *strata_conf_dup(const strata_conf_t *conf)
{
    strata_conf_t *c = calloc(1, sizeof *c);
    if (c == NULL)
        return NULL;
    if (sc_conf_copy(c, conf) != ST_OK) {
        strata_conf_free(c);
        return NULL;
    }
    return c;
}

void strata_conf_free(strata_conf_t *conf)
{
    if (conf == NULL)
        return;
    sc_conf_fini(conf);
    free(conf);
}

strata_err_t strata_conf_set(strata_conf_t *conf, const char *key, const char *value, char *errstr,
                             size_t errlen)
{
    char tmp[256];
    if (key == NULL || value == NULL)
        return STRATA_ERR_INVALID_ARG;
    st_err_t e = st_conf_set(sc_conf_table, conf, key, value, tmp, sizeof tmp);
    if (e == ST_OK && strcmp(key, "enable.idempotence") == 0)
        conf->explicit_set |= SC_SET_IDEMPOTENCE;
    if (e != ST_OK && errstr != NULL && errlen > 0) {
        if (e == ST_ERR_NOT_FOUND)
            snprintf(errstr, errlen, "unknown property '%s'", key);
        else
            snprintf(errstr, errlen, "%s", tmp);
    }
    return (strata_err_t)e;
}

char *strata_conf_get(const strata_conf_t *conf, const char *key)
{
    return st_conf_get(sc_conf_table, conf, key);
}

void strata_conf_write_markdown(FILE *out)
{
    st_conf_write_markdown(sc_conf_table, "libstrata client properties", out);
}
