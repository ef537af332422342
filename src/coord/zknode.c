/*
 * zknode: ZooKeeper paths and JSON payloads (see zknode.h). Encoders build a
 * jansson tree and dump it compact, in insertion order; decoders parse with
 * duplicate keys rejected and check every field's type and range before
 * anything is copied out, so a decoder either fills *out completely or
 * leaves it empty.
 */
#include "coord/zknode.h"

#include <inttypes.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uuid/uuid.h>

const char *const zknode_persistent_paths[] = {
    "/cluster",       "/brokers",        "/brokers/ids", "/brokers/topics",      "/config",
    "/config/topics", "/config/brokers", "/admin",       "/admin/delete_topics", NULL,
};

/* Cap on replica / ISR list lengths accepted from ZooKeeper. */
#define ZKNODE_MAX_REPLICAS 4096

/* ------------------------------------------------------------------ */
/* Paths                                                                */
/* ------------------------------------------------------------------ */

bool zknode_topic_name_valid(const char *name)
{
    if (name == NULL)
        return false;
    size_t len = strlen(name);
    if (len == 0 || len > 249 || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
              c == '_' || c == '-'))
            return false;
    }
    return true;
}

static int zknode_path_fmt(char *buf, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = vsnprintf(buf, n, fmt, ap);
    va_end(ap);
    if (r < 0 || (size_t)r >= n)
        return -1;
    return r;
}

int zknode_path_broker(char *buf, size_t n, int32_t id)
{
    if (id < 0)
        return -1;
    return zknode_path_fmt(buf, n, ZKNODE_PATH_BROKER_IDS "/%" PRId32, id);
}

int zknode_path_topic(char *buf, size_t n, const char *topic)
{
    if (!zknode_topic_name_valid(topic))
        return -1;
    return zknode_path_fmt(buf, n, ZKNODE_PATH_TOPICS "/%s", topic);
}

int zknode_path_partitions(char *buf, size_t n, const char *topic)
{
    if (!zknode_topic_name_valid(topic))
        return -1;
    return zknode_path_fmt(buf, n, ZKNODE_PATH_TOPICS "/%s/partitions", topic);
}

int zknode_path_partition(char *buf, size_t n, const char *topic, int32_t p)
{
    if (!zknode_topic_name_valid(topic) || p < 0)
        return -1;
    return zknode_path_fmt(buf, n, ZKNODE_PATH_TOPICS "/%s/partitions/%" PRId32, topic, p);
}

int zknode_path_partition_state(char *buf, size_t n, const char *topic, int32_t p)
{
    if (!zknode_topic_name_valid(topic) || p < 0)
        return -1;
    return zknode_path_fmt(buf, n, ZKNODE_PATH_TOPICS "/%s/partitions/%" PRId32 "/state", topic, p);
}

int zknode_path_topic_config(char *buf, size_t n, const char *topic)
{
    if (!zknode_topic_name_valid(topic))
        return -1;
    return zknode_path_fmt(buf, n, ZKNODE_PATH_TOPIC_CONFIGS "/%s", topic);
}

int zknode_path_broker_config(char *buf, size_t n, int32_t id)
{
    if (id < 0)
        return -1;
    return zknode_path_fmt(buf, n, ZKNODE_PATH_BROKER_CONFIGS "/%" PRId32, id);
}

int zknode_path_delete_topic(char *buf, size_t n, const char *topic)
{
    if (!zknode_topic_name_valid(topic))
        return -1;
    return zknode_path_fmt(buf, n, ZKNODE_PATH_DELETE_TOPICS "/%s", topic);
}

/* ------------------------------------------------------------------ */
/* Ids                                                                  */
/* ------------------------------------------------------------------ */

static bool zknode_b64url_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

bool zknode_id_valid(const char *s)
{
    if (s == NULL || strlen(s) != ZKNODE_ID_LEN)
        return false;
    for (size_t i = 0; i < ZKNODE_ID_LEN; i++)
        if (!zknode_b64url_char(s[i]))
            return false;
    /* 16 bytes leave 4 spare bits in the last character: they must be 0,
     * i.e. the character is one of A, Q, g, w. */
    return strchr("AQgw", s[ZKNODE_ID_LEN - 1]) != NULL;
}

void zknode_new_id(char out[23])
{
    for (;;) {
        uuid_t u;
        unsigned char b64[32];
        uuid_generate_random(u);
        int n = EVP_EncodeBlock(b64, u, (int)sizeof(uuid_t)); /* 24 chars, "==" padded */
        (void)n;
        for (size_t i = 0; i < ZKNODE_ID_LEN; i++) {
            char c = (char)b64[i];
            out[i] = c == '+' ? '-' : c == '/' ? '_' : c;
        }
        out[ZKNODE_ID_LEN] = '\0';
        if (out[0] != '-')
            return;
    }
}

/* ------------------------------------------------------------------ */
/* Decoding helpers                                                     */
/* ------------------------------------------------------------------ */

static st_err_t zknode_fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static st_err_t zknode_fail(char *err, size_t errlen, const char *fmt, ...)
{
    if (err != NULL && errlen > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return ST_ERR_CORRUPT;
}

/* Parse one JSON object; NULL (and err filled) when it is not one. */
static json_t *zknode_load_object(const char *json, size_t len, char *err, size_t errlen)
{
    if (json == NULL || len == 0) {
        zknode_fail(err, errlen, "empty payload");
        return NULL;
    }
    json_error_t jerr;
    json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        zknode_fail(err, errlen, "not JSON: %s (line %d column %d)", jerr.text, jerr.line, jerr.column);
        return NULL;
    }
    if (!json_is_object(root)) {
        zknode_fail(err, errlen, "payload is not a JSON object");
        json_decref(root);
        return NULL;
    }
    return root;
}

/* Integer member key of obj in [min, max]. */
static st_err_t zknode_get_int(json_t *obj, const char *key, int64_t min, int64_t max, int64_t *out,
                               char *err, size_t errlen)
{
    json_t *v = json_object_get(obj, key);
    if (v == NULL)
        return zknode_fail(err, errlen, "missing field \"%s\"", key);
    if (!json_is_integer(v))
        return zknode_fail(err, errlen, "field \"%s\" must be an integer", key);
    json_int_t i = json_integer_value(v);
    if (i < min || i > max)
        return zknode_fail(err, errlen, "field \"%s\" is %lld, outside [%" PRId64 ", %" PRId64 "]", key,
                           (long long)i, min, max);
    *out = (int64_t)i;
    return ST_OK;
}

static st_err_t zknode_get_version(json_t *obj, char *err, size_t errlen)
{
    int64_t v;
    return zknode_get_int(obj, "version", 1, INT32_MAX, &v, err, errlen);
}

/* A string member holding a non-negative decimal int64 (Kafka's "timestamp"). */
static st_err_t zknode_get_ms(json_t *obj, const char *key, int64_t *out, char *err, size_t errlen)
{
    json_t *v = json_object_get(obj, key);
    if (v == NULL)
        return zknode_fail(err, errlen, "missing field \"%s\"", key);
    if (!json_is_string(v))
        return zknode_fail(err, errlen, "field \"%s\" must be a string of decimal digits", key);
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    if (n == 0 || n > 19)
        return zknode_fail(err, errlen, "field \"%s\" must be 1 to 19 decimal digits", key);
    int64_t r = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return zknode_fail(err, errlen, "field \"%s\" must be decimal digits", key);
        if (r > (INT64_MAX - (s[i] - '0')) / 10)
            return zknode_fail(err, errlen, "field \"%s\" is out of range", key);
        r = r * 10 + (s[i] - '0');
    }
    *out = r;
    return ST_OK;
}

static int zknode_cmp_i32(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

/* A JSON array of distinct non-negative int32 broker ids into a malloc'd
 * array (*out NULL when empty). what names the list in messages. */
static st_err_t zknode_get_id_list(json_t *arr, const char *what, bool allow_empty, int32_t **out,
                                   size_t *n_out, char *err, size_t errlen)
{
    st_err_t rc = ST_OK;
    int32_t *ids = NULL, *sorted = NULL;
    *out = NULL;
    *n_out = 0;
    if (!json_is_array(arr))
        return zknode_fail(err, errlen, "%s must be an array of broker ids", what);
    size_t n = json_array_size(arr);
    if (n == 0) {
        if (allow_empty)
            return ST_OK;
        return zknode_fail(err, errlen, "%s must not be empty", what);
    }
    if (n > ZKNODE_MAX_REPLICAS)
        return zknode_fail(err, errlen, "%s has %zu entries (at most %d)", what, n, ZKNODE_MAX_REPLICAS);
    ids = malloc(n * sizeof(*ids));
    sorted = malloc(n * sizeof(*sorted));
    if (ids == NULL || sorted == NULL) {
        rc = ST_ERR_NOMEM;
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        json_t *v = json_array_get(arr, i);
        if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > INT32_MAX) {
            rc = zknode_fail(err, errlen, "%s entry %zu is not a broker id (integer >= 0)", what, i);
            goto out;
        }
        ids[i] = sorted[i] = (int32_t)json_integer_value(v);
    }
    qsort(sorted, n, sizeof(*sorted), zknode_cmp_i32);
    for (size_t i = 1; i < n; i++) {
        if (sorted[i] == sorted[i - 1]) {
            rc = zknode_fail(err, errlen, "%s lists broker %" PRId32 " twice", what, sorted[i]);
            goto out;
        }
    }
    *out = ids;
    *n_out = n;
    ids = NULL;
out:
    free(ids);
    free(sorted);
    return rc;
}

/* Dump root compact and release it; NULL when root is NULL or on OOM. */
static char *zknode_dump(json_t *root)
{
    if (root == NULL)
        return NULL;
    char *s = json_dumps(root, JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref(root);
    return s;
}

static json_t *zknode_ms_string(int64_t ms)
{
    char buf[32];
    snprintf(buf, sizeof(buf), "%" PRId64, ms < 0 ? 0 : ms);
    return json_string(buf);
}

/* ------------------------------------------------------------------ */
/* /brokers/ids/<id>                                                    */
/* ------------------------------------------------------------------ */

char *zknode_broker_encode(const zknode_broker_t *b)
{
    json_t *eps = json_array();
    if (eps == NULL)
        return NULL;
    for (size_t i = 0; i < b->n_endpoints; i++)
        json_array_append_new(eps, json_string(b->endpoints[i] ? b->endpoints[i] : ""));
    json_t *root =
        json_pack("{s:i, s:s, s:i, s:o, s:o, s:o}", "version", 1, "host", b->host ? b->host : "", "port",
                  (int)b->port, "endpoints", eps, "rack", b->rack ? json_string(b->rack) : json_null(),
                  "timestamp", zknode_ms_string(b->timestamp_ms));
    return zknode_dump(root);
}

void zknode_broker_free(zknode_broker_t *b)
{
    if (b == NULL)
        return;
    free(b->host);
    for (size_t i = 0; i < b->n_endpoints; i++)
        free(b->endpoints[i]);
    free(b->endpoints);
    free(b->rack);
    memset(b, 0, sizeof(*b));
}

st_err_t zknode_broker_decode(const char *json, size_t len, int32_t id, zknode_broker_t *out, char *err,
                              size_t errlen)
{
    st_err_t rc;
    int64_t port;
    memset(out, 0, sizeof(*out));
    if (id < 0)
        return zknode_fail(err, errlen, "negative broker id %" PRId32, id);
    json_t *root = zknode_load_object(json, len, err, errlen);
    if (root == NULL)
        return ST_ERR_CORRUPT;
    out->id = id;
    if ((rc = zknode_get_version(root, err, errlen)) != ST_OK)
        goto out;
    json_t *host = json_object_get(root, "host");
    if (!json_is_string(host) || json_string_length(host) == 0) {
        rc = zknode_fail(err, errlen, "field \"host\" must be a non-empty string");
        goto out;
    }
    if ((rc = zknode_get_int(root, "port", 0, 65535, &port, err, errlen)) != ST_OK)
        goto out;
    json_t *eps = json_object_get(root, "endpoints");
    if (!json_is_array(eps) || json_array_size(eps) == 0) {
        rc = zknode_fail(err, errlen, "field \"endpoints\" must be a non-empty array of URLs");
        goto out;
    }
    size_t ne = json_array_size(eps);
    for (size_t i = 0; i < ne; i++) {
        json_t *e = json_array_get(eps, i);
        if (!json_is_string(e) || json_string_length(e) == 0 ||
            strlen(json_string_value(e)) != json_string_length(e)) {
            rc = zknode_fail(err, errlen, "endpoint %zu must be a non-empty string", i);
            goto out;
        }
    }
    json_t *rack = json_object_get(root, "rack");
    if (rack != NULL && !json_is_null(rack) && !json_is_string(rack)) {
        rc = zknode_fail(err, errlen, "field \"rack\" must be a string or null");
        goto out;
    }
    if ((rc = zknode_get_ms(root, "timestamp", &out->timestamp_ms, err, errlen)) != ST_OK)
        goto out;

    out->port = (int32_t)port;
    out->host = strdup(json_string_value(host));
    out->endpoints = calloc(ne, sizeof(char *));
    if (out->host == NULL || out->endpoints == NULL) {
        rc = ST_ERR_NOMEM;
        goto out;
    }
    for (size_t i = 0; i < ne; i++) {
        out->endpoints[i] = strdup(json_string_value(json_array_get(eps, i)));
        if (out->endpoints[i] == NULL) {
            rc = ST_ERR_NOMEM;
            goto out;
        }
        out->n_endpoints = i + 1;
    }
    if (json_is_string(rack) && (out->rack = strdup(json_string_value(rack))) == NULL)
        rc = ST_ERR_NOMEM;
out:
    json_decref(root);
    if (rc != ST_OK)
        zknode_broker_free(out);
    return rc;
}

/* ------------------------------------------------------------------ */
/* /controller, /controller_epoch                                       */
/* ------------------------------------------------------------------ */

char *zknode_controller_encode(const zknode_controller_t *c)
{
    return zknode_dump(json_pack("{s:i, s:i, s:o}", "version", 1, "brokerid", (int)c->broker_id, "timestamp",
                                 zknode_ms_string(c->timestamp_ms)));
}

st_err_t zknode_controller_decode(const char *json, size_t len, zknode_controller_t *out, char *err,
                                  size_t errlen)
{
    st_err_t rc;
    int64_t id;
    memset(out, 0, sizeof(*out));
    json_t *root = zknode_load_object(json, len, err, errlen);
    if (root == NULL)
        return ST_ERR_CORRUPT;
    if ((rc = zknode_get_version(root, err, errlen)) != ST_OK)
        goto out;
    if ((rc = zknode_get_int(root, "brokerid", 0, INT32_MAX, &id, err, errlen)) != ST_OK)
        goto out;
    if ((rc = zknode_get_ms(root, "timestamp", &out->timestamp_ms, err, errlen)) != ST_OK)
        goto out;
    out->broker_id = (int32_t)id;
out:
    json_decref(root);
    if (rc != ST_OK)
        memset(out, 0, sizeof(*out));
    return rc;
}

char *zknode_epoch_encode(int32_t epoch)
{
    char buf[16];
    snprintf(buf, sizeof(buf), "%" PRId32, epoch < 0 ? 0 : epoch);
    return strdup(buf);
}

st_err_t zknode_epoch_decode(const char *text, size_t len, int32_t *epoch)
{
    if (text == NULL || len == 0)
        return ST_ERR_CORRUPT;
    json_error_t jerr;
    json_t *v = json_loadb(text, len, JSON_DECODE_ANY, &jerr);
    st_err_t rc = ST_ERR_CORRUPT;
    if (json_is_integer(v) && json_integer_value(v) >= 0 && json_integer_value(v) <= INT32_MAX) {
        *epoch = (int32_t)json_integer_value(v);
        rc = ST_OK;
    }
    json_decref(v);
    return rc;
}

/* ------------------------------------------------------------------ */
/* /brokers/topics/<t>                                                  */
/* ------------------------------------------------------------------ */

char *zknode_topic_encode(const zknode_topic_t *t)
{
    json_t *parts = json_object();
    json_t *root = json_object();
    if (parts == NULL || root == NULL) {
        json_decref(parts);
        json_decref(root);
        return NULL;
    }
    json_object_set_new(root, "version", json_integer(2));
    if (t->topic_id[0] != '\0')
        json_object_set_new(root, "topic_id", json_string(t->topic_id));
    for (int32_t p = 0; p < t->n_partitions; p++) {
        char key[16];
        json_t *arr = json_array();
        snprintf(key, sizeof(key), "%" PRId32, p);
        for (int32_t r = 0; arr != NULL && r < t->n_replicas[p]; r++)
            json_array_append_new(arr, json_integer(t->replicas[p][r]));
        json_object_set_new(parts, key, arr);
    }
    json_object_set_new(root, "partitions", parts);
    return zknode_dump(root);
}

void zknode_topic_free(zknode_topic_t *t)
{
    if (t == NULL)
        return;
    if (t->replicas != NULL)
        for (int32_t p = 0; p < t->n_partitions; p++)
            free(t->replicas[p]);
    free(t->replicas);
    free(t->n_replicas);
    memset(t, 0, sizeof(*t));
}

/* "0", "17": decimal without sign or leading zeros, below limit. */
static bool zknode_parse_index(const char *s, int64_t limit, int64_t *out)
{
    size_t n = strlen(s);
    if (n == 0 || n > 10 || (n > 1 && s[0] == '0'))
        return false;
    int64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    if (v >= limit)
        return false;
    *out = v;
    return true;
}

st_err_t zknode_topic_decode(const char *json, size_t len, zknode_topic_t *out, char *err, size_t errlen)
{
    st_err_t rc;
    memset(out, 0, sizeof(*out));
    json_t *root = zknode_load_object(json, len, err, errlen);
    if (root == NULL)
        return ST_ERR_CORRUPT;
    if ((rc = zknode_get_version(root, err, errlen)) != ST_OK)
        goto out;
    json_t *tid = json_object_get(root, "topic_id");
    if (tid != NULL) {
        if (!json_is_string(tid) || !zknode_id_valid(json_string_value(tid))) {
            rc = zknode_fail(err, errlen, "field \"topic_id\" must be a 22-character base64url uuid");
            goto out;
        }
        memcpy(out->topic_id, json_string_value(tid), ZKNODE_ID_LEN + 1);
    }
    json_t *parts = json_object_get(root, "partitions");
    if (!json_is_object(parts) || json_object_size(parts) == 0) {
        rc = zknode_fail(err, errlen, "field \"partitions\" must be a non-empty object");
        goto out;
    }
    size_t n = json_object_size(parts);
    if (n > INT32_MAX) {
        rc = zknode_fail(err, errlen, "too many partitions");
        goto out;
    }
    out->n_partitions = (int32_t)n;
    out->replicas = calloc(n, sizeof(*out->replicas));
    out->n_replicas = calloc(n, sizeof(*out->n_replicas));
    if (out->replicas == NULL || out->n_replicas == NULL) {
        rc = ST_ERR_NOMEM;
        goto out;
    }
    const char *key;
    json_t *val;
    json_object_foreach(parts, key, val)
    {
        int64_t p;
        /* n distinct keys, each in [0, n): exactly 0..n-1. */
        if (!zknode_parse_index(key, (int64_t)n, &p)) {
            rc = zknode_fail(err, errlen, "partition key \"%.32s\" is not in 0..%zu", key, n - 1);
            goto out;
        }
        char what[48];
        size_t nr;
        snprintf(what, sizeof(what), "partition %" PRId64 " replicas", p);
        if ((rc = zknode_get_id_list(val, what, false, &out->replicas[p], &nr, err, errlen)) != ST_OK)
            goto out;
        out->n_replicas[p] = (int32_t)nr;
    }
out:
    json_decref(root);
    if (rc != ST_OK)
        zknode_topic_free(out);
    return rc;
}

/* ------------------------------------------------------------------ */
/* .../partitions/<p>/state                                             */
/* ------------------------------------------------------------------ */

char *zknode_part_state_encode(const zknode_part_state_t *s)
{
    json_t *isr = json_array();
    if (isr == NULL)
        return NULL;
    for (size_t i = 0; i < s->n_isr; i++)
        json_array_append_new(isr, json_integer(s->isr[i]));
    return zknode_dump(json_pack("{s:i, s:i, s:i, s:o, s:i}", "version", 1, "leader", (int)s->leader,
                                 "leader_epoch", (int)s->leader_epoch, "isr", isr, "controller_epoch",
                                 (int)s->controller_epoch));
}

void zknode_part_state_free(zknode_part_state_t *s)
{
    if (s == NULL)
        return;
    free(s->isr);
    memset(s, 0, sizeof(*s));
}

st_err_t zknode_part_state_decode(const char *json, size_t len, zknode_part_state_t *out, char *err,
                                  size_t errlen)
{
    st_err_t rc;
    int64_t leader, le, ce;
    memset(out, 0, sizeof(*out));
    json_t *root = zknode_load_object(json, len, err, errlen);
    if (root == NULL)
        return ST_ERR_CORRUPT;
    if ((rc = zknode_get_version(root, err, errlen)) != ST_OK)
        goto out;
    if ((rc = zknode_get_int(root, "leader", -1, INT32_MAX, &leader, err, errlen)) != ST_OK)
        goto out;
    if ((rc = zknode_get_int(root, "leader_epoch", 0, INT32_MAX, &le, err, errlen)) != ST_OK)
        goto out;
    if ((rc = zknode_get_int(root, "controller_epoch", 0, INT32_MAX, &ce, err, errlen)) != ST_OK)
        goto out;
    json_t *isr = json_object_get(root, "isr");
    if (isr == NULL) {
        rc = zknode_fail(err, errlen, "missing field \"isr\"");
        goto out;
    }
    if ((rc = zknode_get_id_list(isr, "isr", true, &out->isr, &out->n_isr, err, errlen)) != ST_OK)
        goto out;
    out->leader = (int32_t)leader;
    out->leader_epoch = (int32_t)le;
    out->controller_epoch = (int32_t)ce;
out:
    json_decref(root);
    if (rc != ST_OK)
        zknode_part_state_free(out);
    return rc;
}

/* ------------------------------------------------------------------ */
/* /config/topics/<t>, /config/brokers/<id>                             */
/* ------------------------------------------------------------------ */

char *zknode_config_encode(const zknode_config_t *c)
{
    json_t *cfg = json_object();
    if (cfg == NULL)
        return NULL;
    for (size_t i = 0; i < c->n; i++)
        json_object_set_new(cfg, c->keys[i], json_string(c->values[i] ? c->values[i] : ""));
    return zknode_dump(json_pack("{s:i, s:o}", "version", 1, "config", cfg));
}

void zknode_config_free(zknode_config_t *c)
{
    if (c == NULL)
        return;
    for (size_t i = 0; i < c->n; i++) {
        free(c->keys[i]);
        free(c->values[i]);
    }
    free(c->keys);
    free(c->values);
    memset(c, 0, sizeof(*c));
}

st_err_t zknode_config_decode(const char *json, size_t len, zknode_config_t *out, char *err, size_t errlen)
{
    st_err_t rc;
    memset(out, 0, sizeof(*out));
    json_t *root = zknode_load_object(json, len, err, errlen);
    if (root == NULL)
        return ST_ERR_CORRUPT;
    if ((rc = zknode_get_version(root, err, errlen)) != ST_OK)
        goto out;
    json_t *cfg = json_object_get(root, "config");
    if (!json_is_object(cfg)) {
        rc = zknode_fail(err, errlen, "field \"config\" must be an object of string values");
        goto out;
    }
    size_t n = json_object_size(cfg);
    const char *key;
    json_t *val;
    json_object_foreach(cfg, key, val)
    {
        if (!json_is_string(val) || strlen(json_string_value(val)) != json_string_length(val)) {
            rc = zknode_fail(err, errlen, "config \"%.64s\" must be a string", key);
            goto out;
        }
        if (key[0] == '\0') {
            rc = zknode_fail(err, errlen, "config key must not be empty");
            goto out;
        }
    }
    if (n > 0) {
        out->keys = calloc(n, sizeof(char *));
        out->values = calloc(n, sizeof(char *));
        if (out->keys == NULL || out->values == NULL) {
            rc = ST_ERR_NOMEM;
            goto out;
        }
    }
    json_object_foreach(cfg, key, val)
    {
        out->keys[out->n] = strdup(key);
        out->values[out->n] = strdup(json_string_value(val));
        out->n++;
        if (out->keys[out->n - 1] == NULL || out->values[out->n - 1] == NULL) {
            rc = ST_ERR_NOMEM;
            goto out;
        }
    }
out:
    json_decref(root);
    if (rc != ST_OK)
        zknode_config_free(out);
    return rc;
}

/* ------------------------------------------------------------------ */
/* /latest_producer_id_block                                            */
/* ------------------------------------------------------------------ */

char *zknode_pid_block_encode(const zknode_pid_block_t *b)
{
    return zknode_dump(json_pack("{s:i, s:i, s:o, s:o}", "version", 1, "broker", (int)b->broker,
                                 "block_start", zknode_ms_string(b->block_start), "block_end",
                                 zknode_ms_string(b->block_end)));
}

st_err_t zknode_pid_block_decode(const char *json, size_t len, zknode_pid_block_t *out, char *err,
                                 size_t errlen)
{
    st_err_t rc;
    int64_t broker;
    zknode_pid_block_t b = {0};
    memset(out, 0, sizeof(*out));
    json_t *root = zknode_load_object(json, len, err, errlen);
    if (root == NULL)
        return ST_ERR_CORRUPT;
    if ((rc = zknode_get_int(root, "version", 1, 1, &broker, err, errlen)) != ST_OK ||
        (rc = zknode_get_int(root, "broker", 0, INT32_MAX, &broker, err, errlen)) != ST_OK ||
        (rc = zknode_get_ms(root, "block_start", &b.block_start, err, errlen)) != ST_OK ||
        (rc = zknode_get_ms(root, "block_end", &b.block_end, err, errlen)) != ST_OK)
        goto out;
    if (b.block_start > b.block_end) {
        rc = zknode_fail(err, errlen, "block_start %" PRId64 " is after block_end %" PRId64, b.block_start,
                         b.block_end);
        goto out;
    }
    b.broker = (int32_t)broker;
    *out = b;
out:
    json_decref(root);
    return rc;
}

/* ------------------------------------------------------------------ */
/* /admin/reassign_partitions                                           */
/* ------------------------------------------------------------------ */

/* Cap on the entries of one reassignment accepted from ZooKeeper. */
#define ZKNODE_MAX_REASSIGN 100000

char *zknode_reassign_encode(const zknode_reassign_t *r)
{
    json_t *arr = json_array();
    if (arr == NULL)
        return NULL;
    for (size_t i = 0; i < r->n; i++) {
        const zknode_reassign_part_t *e = &r->parts[i];
        json_t *reps = json_array();
        for (size_t j = 0; reps != NULL && j < e->n_replicas; j++)
            json_array_append_new(reps, json_integer(e->replicas[j]));
        json_t *o = reps ? json_pack("{s:s, s:i, s:o}", "topic", e->topic ? e->topic : "", "partition",
                                     (int)e->partition, "replicas", reps)
                         : NULL;
        if (o == NULL || json_array_append_new(arr, o) != 0) {
            json_decref(arr);
            return NULL;
        }
    }
    return zknode_dump(json_pack("{s:i, s:o}", "version", 1, "partitions", arr));
}

void zknode_reassign_free(zknode_reassign_t *r)
{
    if (r == NULL)
        return;
    for (size_t i = 0; i < r->n; i++) {
        free(r->parts[i].topic);
        free(r->parts[i].replicas);
    }
    free(r->parts);
    memset(r, 0, sizeof(*r));
}

st_err_t zknode_reassign_decode(const char *json, size_t len, zknode_reassign_t *out, char *err,
                                size_t errlen)
{
    st_err_t rc;
    memset(out, 0, sizeof(*out));
    json_t *root = zknode_load_object(json, len, err, errlen);
    if (root == NULL)
        return ST_ERR_CORRUPT;
    int64_t ver;
    if ((rc = zknode_get_int(root, "version", 1, 1, &ver, err, errlen)) != ST_OK)
        goto out;
    json_t *arr = json_object_get(root, "partitions");
    if (!json_is_array(arr)) {
        rc = zknode_fail(err, errlen, "field \"partitions\" must be an array");
        goto out;
    }
    size_t n = json_array_size(arr);
    if (n > ZKNODE_MAX_REASSIGN) {
        rc = zknode_fail(err, errlen, "%zu partitions (at most %d)", n, ZKNODE_MAX_REASSIGN);
        goto out;
    }
    out->parts = calloc(n ? n : 1, sizeof(*out->parts));
    if (out->parts == NULL) {
        rc = ST_ERR_NOMEM;
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_array_get(arr, i);
        zknode_reassign_part_t *p = &out->parts[i];
        int64_t part;
        char what[48];
        if (!json_is_object(e)) {
            rc = zknode_fail(err, errlen, "partitions[%zu] is not an object", i);
            goto out;
        }
        json_t *t = json_object_get(e, "topic");
        if (!json_is_string(t) || !zknode_topic_name_valid(json_string_value(t))) {
            rc = zknode_fail(err, errlen, "partitions[%zu]: \"topic\" is not a valid topic name", i);
            goto out;
        }
        if ((rc = zknode_get_int(e, "partition", 0, INT32_MAX, &part, err, errlen)) != ST_OK)
            goto out;
        for (size_t j = 0; j < i; j++) {
            if (out->parts[j].partition == part && strcmp(out->parts[j].topic, json_string_value(t)) == 0) {
                rc = zknode_fail(err, errlen, "partitions[%zu]: %s-%" PRId64 " is listed twice", i,
                                 json_string_value(t), part);
                goto out;
            }
        }
        snprintf(what, sizeof(what), "partitions[%zu].replicas", i);
        if ((rc = zknode_get_id_list(json_object_get(e, "replicas"), what, false, &p->replicas,
                                     &p->n_replicas, err, errlen)) != ST_OK)
            goto out;
        out->n = i + 1; /* from here on, zknode_reassign_free releases entry i */
        p->partition = (int32_t)part;
        p->topic = strdup(json_string_value(t));
        if (p->topic == NULL) {
            rc = ST_ERR_NOMEM;
            goto out;
        }
    }
    out->n = n;
out:
    json_decref(root);
    if (rc != ST_OK)
        zknode_reassign_free(out);
    return rc;
}

/* ------------------------------------------------------------------ */
/* /cluster/id                                                          */
/* ------------------------------------------------------------------ */

char *zknode_cluster_id_encode(const char *id)
{
    return zknode_dump(json_pack("{s:s, s:s}", "version", "1", "id", id ? id : ""));
}

st_err_t zknode_cluster_id_decode(const char *json, size_t len, char *id, size_t idlen)
{
    st_err_t rc = ST_ERR_CORRUPT;
    json_t *root = zknode_load_object(json, len, NULL, 0);
    if (root == NULL)
        return ST_ERR_CORRUPT;
    json_t *ver = json_object_get(root, "version");
    json_t *v = json_object_get(root, "id");
    if (!json_is_string(ver) || !json_is_string(v) || !zknode_id_valid(json_string_value(v)))
        goto out;
    if (idlen < ZKNODE_ID_LEN + 1) {
        rc = ST_ERR_INVALID_ARG;
        goto out;
    }
    memcpy(id, json_string_value(v), ZKNODE_ID_LEN + 1);
    rc = ST_OK;
out:
    json_decref(root);
    return rc;
}
