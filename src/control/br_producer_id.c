/*
 * br_producer_id: producer-id allocation from blocks reserved in ZooKeeper; see
 * br_producer_id.h. One reservation at a time: a br_producer_id_op carries it through
 * get -> set (or create) -> done, retrying on BADVERSION / NODEEXISTS up
 * to BR_PRODUCER_ID_MAX_ATTEMPTS. The op outlives br_producer_id_free when ZooKeeper has
 * not answered yet (its pid pointer is cleared; the callback frees it).
 * Core loop only.
 */
#include "control/br_producer_id.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/st_log.h"

#define BR_PRODUCER_ID_TAG "pid"
#define BR_PRODUCER_ID_MAX_ATTEMPTS 20
#define BR_PRODUCER_ID_EPOCH_MAX 32767 /* producer epochs are int16 in batches */

typedef struct br_producer_id_op br_producer_id_op_t;

typedef struct br_producer_id_wait {
    br_call_t *call;
    struct br_producer_id_wait *next;
} br_producer_id_wait_t;

struct br_producer_id {
    zkc_t *pd_zk;
    int32_t pd_broker;
    bool pd_have; /* pd_block is usable */
    br_producer_id_block_t pd_block;
    int64_t pd_next;                /* next id to hand out from pd_block */
    br_producer_id_wait_t *pd_wait; /* FIFO of calls wanting a new id */
    br_producer_id_wait_t **pd_wait_tail;
    br_producer_id_op_t *pd_op; /* reservation in flight, NULL if none */
};

struct br_producer_id_op {
    br_producer_id_t *pid; /* NULL once br_producer_id_free ran */
    int attempts;
    br_producer_id_block_t block; /* the block being written */
    char *json;
};

/* ------------------------------------------------------------ JSON */

st_err_t br_producer_id_block_encode(const br_producer_id_block_t *b, char **out)
{
    char start[24], end[24];
    snprintf(start, sizeof start, "%" PRId64, b->start);
    snprintf(end, sizeof end, "%" PRId64, b->end);
    json_t *o = json_pack("{s:i, s:i, s:s, s:s}", "version", 1, "broker", (int)b->broker, "block_start",
                          start, "block_end", end);
    if (!o)
        return ST_ERR_NOMEM;
    *out = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    return *out ? ST_OK : ST_ERR_NOMEM;
}

/* A non-negative int64 given as a decimal string or an integer. */
static bool br_producer_id_json_i64(json_t *v, int64_t *out)
{
    if (json_is_integer(v)) {
        *out = (int64_t)json_integer_value(v);
        return *out >= 0;
    }
    if (!json_is_string(v))
        return false;
    const char *s = json_string_value(v);
    if (json_string_length(v) == 0 || json_string_length(v) > 19 || strlen(s) != json_string_length(v))
        return false;
    for (const char *p = s; *p; p++)
        if (*p < '0' || *p > '9')
            return false;
    errno = 0;
    char *end = NULL;
    long long x = strtoll(s, &end, 10);
    if (errno != 0 || !end || *end)
        return false;
    *out = (int64_t)x;
    return true;
}

st_err_t br_producer_id_block_decode(const char *data, size_t len, br_producer_id_block_t *out)
{
    if (!data)
        return ST_ERR_CORRUPT;
    st_err_t err = ST_ERR_CORRUPT;
    json_error_t jerr;
    json_t *o = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!o || !json_is_object(o))
        goto out;
    json_t *ver = json_object_get(o, "version"), *broker = json_object_get(o, "broker");
    if (!json_is_integer(ver) || json_integer_value(ver) != 1 || !json_is_integer(broker) ||
        json_integer_value(broker) < 0 || json_integer_value(broker) > INT32_MAX)
        goto out;
    br_producer_id_block_t b = {.broker = (int32_t)json_integer_value(broker)};
    if (!br_producer_id_json_i64(json_object_get(o, "block_start"), &b.start) ||
        !br_producer_id_json_i64(json_object_get(o, "block_end"), &b.end) || b.start > b.end)
        goto out;
    *out = b;
    err = ST_OK;
out:
    json_decref(o);
    return err;
}

st_err_t br_producer_id_block_next(const br_producer_id_block_t *prev, int32_t broker,
                                   br_producer_id_block_t *out)
{
    int64_t start = prev ? prev->end + 1 : 0;
    if (prev && prev->end > INT64_MAX - BR_PRODUCER_ID_BLOCK_SIZE)
        return ST_ERR_STATE;
    out->broker = broker;
    out->start = start;
    out->end = start + BR_PRODUCER_ID_BLOCK_SIZE - 1;
    return ST_OK;
}

/* ------------------------------------------------------------ answers */

static void br_producer_id_reply(br_call_t *call, st_err_t err, int64_t producer_id, int32_t epoch)
{
    Strata__InitProducerIdResponse body = STRATA__INIT_PRODUCER_ID_RESPONSE__INIT;
    body.version = 1;
    body.error = (Strata__ErrorCode)st_err_to_wire(err);
    body.producer_id = err == ST_OK ? producer_id : -1;
    body.producer_epoch = err == ST_OK ? epoch : -1;
    Strata__Response resp = STRATA__RESPONSE__INIT;
    resp.body_case = STRATA__RESPONSE__BODY_INIT_PRODUCER_ID;
    resp.init_producer_id = &body;
    if (err != ST_OK)
        resp.error_message = (char *)st_err_name(err);
    br_call_reply(call, &resp);
}

/* Hand out ids to waiting calls while the block lasts. */
static void br_producer_id_serve(br_producer_id_t *pid)
{
    while (pid->pd_wait && pid->pd_have && pid->pd_next <= pid->pd_block.end) {
        br_producer_id_wait_t *w = pid->pd_wait;
        pid->pd_wait = w->next;
        if (!pid->pd_wait)
            pid->pd_wait_tail = &pid->pd_wait;
        br_producer_id_reply(w->call, ST_OK, pid->pd_next++, 0);
        free(w);
    }
}

static void br_producer_id_fail_waiting(br_producer_id_t *pid, st_err_t err)
{
    while (pid->pd_wait) {
        br_producer_id_wait_t *w = pid->pd_wait;
        pid->pd_wait = w->next;
        br_producer_id_reply(w->call, err, -1, -1);
        free(w);
    }
    pid->pd_wait_tail = &pid->pd_wait;
}

/* ------------------------------------------------------------ reservation */

static void br_producer_id_get_cb(void *arg, int rc, const char *data, int len, const struct Stat *stat);

static void br_producer_id_op_free(br_producer_id_op_t *op)
{
    free(op->json);
    free(op);
}

/* The op ended (ok: op->block is ours): install, answer, free. */
static void br_producer_id_op_done(br_producer_id_op_t *op, st_err_t err, const char *why)
{
    br_producer_id_t *pid = op->pid;
    if (pid) {
        pid->pd_op = NULL;
        if (err == ST_OK) {
            pid->pd_block = op->block;
            pid->pd_next = op->block.start;
            pid->pd_have = true;
            st_log(ST_LOG_INFO, BR_PRODUCER_ID_TAG, "reserved producer ids %" PRId64 "..%" PRId64,
                   op->block.start, op->block.end);
            br_producer_id_serve(pid);
        } else {
            st_log(ST_LOG_WARN, BR_PRODUCER_ID_TAG, "reserving producer ids failed: %s", why);
            br_producer_id_fail_waiting(pid, err);
        }
    }
    br_producer_id_op_free(op);
}

/* (Re)start with a read of the znode. */
static void br_producer_id_op_read(br_producer_id_op_t *op)
{
    if (++op->attempts > BR_PRODUCER_ID_MAX_ATTEMPTS) {
        br_producer_id_op_done(op, ST_ERR_COORDINATOR_NOT_AVAILABLE, "too many concurrent reservations");
        return;
    }
    int rc = zkc_get(op->pid->pd_zk, BR_PRODUCER_ID_BLOCK_PATH, NULL, br_producer_id_get_cb, op);
    if (rc != ZOK)
        br_producer_id_op_done(op, ST_ERR_COORDINATOR_NOT_AVAILABLE, zkc_rc_name(rc));
}

static void br_producer_id_set_cb(void *arg, int rc, const struct Stat *stat)
{
    (void)stat;
    br_producer_id_op_t *op = arg;
    if (!op->pid) {
        br_producer_id_op_free(op);
        return;
    }
    if (rc == ZOK)
        br_producer_id_op_done(op, ST_OK, NULL);
    else if (rc == ZBADVERSION || rc == ZNONODE)
        br_producer_id_op_read(op); /* another broker moved it: read again */
    else
        br_producer_id_op_done(op, ST_ERR_COORDINATOR_NOT_AVAILABLE, zkc_rc_name(rc));
}

static void br_producer_id_create_cb(void *arg, int rc, const char *path, const struct Stat *stat)
{
    (void)path;
    (void)stat;
    br_producer_id_op_t *op = arg;
    if (!op->pid) {
        br_producer_id_op_free(op);
        return;
    }
    if (rc == ZOK)
        br_producer_id_op_done(op, ST_OK, NULL);
    else if (rc == ZNODEEXISTS)
        br_producer_id_op_read(op);
    else
        br_producer_id_op_done(op, ST_ERR_COORDINATOR_NOT_AVAILABLE, zkc_rc_name(rc));
}

static void br_producer_id_get_cb(void *arg, int rc, const char *data, int len, const struct Stat *stat)
{
    br_producer_id_op_t *op = arg;
    br_producer_id_t *pid = op->pid;
    if (!pid) {
        br_producer_id_op_free(op);
        return;
    }
    br_producer_id_block_t prev;
    bool have_prev = false;
    if (rc == ZOK && !stat) {
        br_producer_id_op_done(op, ST_ERR_COORDINATOR_NOT_AVAILABLE, "no znode version");
        return;
    }
    if (rc == ZOK) {
        if (br_producer_id_block_decode(data, len > 0 ? (size_t)len : 0, &prev) != ST_OK) {
            br_producer_id_op_done(op, ST_ERR_UNKNOWN_SERVER_ERROR,
                                   BR_PRODUCER_ID_BLOCK_PATH " holds malformed JSON");
            return;
        }
        have_prev = true;
    } else if (rc != ZNONODE) {
        br_producer_id_op_done(op, ST_ERR_COORDINATOR_NOT_AVAILABLE, zkc_rc_name(rc));
        return;
    }
    if (br_producer_id_block_next(have_prev ? &prev : NULL, pid->pd_broker, &op->block) != ST_OK) {
        br_producer_id_op_done(op, ST_ERR_UNKNOWN_SERVER_ERROR, "producer id space exhausted");
        return;
    }
    free(op->json);
    op->json = NULL;
    if (br_producer_id_block_encode(&op->block, &op->json) != ST_OK) {
        br_producer_id_op_done(op, ST_ERR_UNKNOWN_SERVER_ERROR, "out of memory");
        return;
    }
    int jl = (int)strlen(op->json);
    int qrc = have_prev ? zkc_set(pid->pd_zk, BR_PRODUCER_ID_BLOCK_PATH, op->json, jl, stat->version,
                                  br_producer_id_set_cb, op)
                        : zkc_create(pid->pd_zk, BR_PRODUCER_ID_BLOCK_PATH, op->json, jl, 0,
                                     br_producer_id_create_cb, op);
    if (qrc != ZOK)
        br_producer_id_op_done(op, ST_ERR_COORDINATOR_NOT_AVAILABLE, zkc_rc_name(qrc));
}

/* Make sure a reservation runs (pid has waiting calls, no usable ids). */
static void br_producer_id_reserve(br_producer_id_t *pid)
{
    if (pid->pd_op)
        return;
    if (!pid->pd_zk) {
        br_producer_id_fail_waiting(pid, ST_ERR_COORDINATOR_NOT_AVAILABLE);
        return;
    }
    br_producer_id_op_t *op = calloc(1, sizeof *op);
    if (!op) {
        br_producer_id_fail_waiting(pid, ST_ERR_UNKNOWN_SERVER_ERROR);
        return;
    }
    op->pid = pid;
    pid->pd_op = op;
    br_producer_id_op_read(op);
}

/* ------------------------------------------------------------ public */

br_producer_id_t *br_producer_id_new(zkc_t *zk, int32_t broker_id)
{
    br_producer_id_t *pid = calloc(1, sizeof *pid);
    if (!pid)
        return NULL;
    pid->pd_zk = zk;
    pid->pd_broker = broker_id;
    pid->pd_wait_tail = &pid->pd_wait;
    return pid;
}

void br_producer_id_free(br_producer_id_t *pid)
{
    if (!pid)
        return;
    if (pid->pd_op)
        pid->pd_op->pid = NULL; /* its callback frees it */
    br_producer_id_fail_waiting(pid, ST_ERR_COORDINATOR_NOT_AVAILABLE);
    free(pid);
}

void br_producer_id_set_block(br_producer_id_t *pid, const br_producer_id_block_t *b)
{
    pid->pd_block = *b;
    pid->pd_next = b->start;
    pid->pd_have = b->start <= b->end;
    br_producer_id_serve(pid);
}

void br_producer_id_handle_init(br_producer_id_t *pid, br_call_t *call,
                                const Strata__InitProducerIdRequest *req)
{
    if (!req) {
        br_call_reply_error(call, ST_ERR_INVALID_REQUEST, "InitProducerId request without a body");
        return;
    }
    if (req->transactional_id && *req->transactional_id) {
        br_producer_id_reply(call, ST_ERR_INVALID_REQUEST, -1, -1); /* no transactions */
        return;
    }
    if ((req->producer_id >= 0) != (req->producer_epoch >= 0) ||
        req->producer_epoch > BR_PRODUCER_ID_EPOCH_MAX) {
        br_producer_id_reply(call, ST_ERR_INVALID_REQUEST, -1, -1);
        return;
    }
    if (req->producer_id >= 0 && req->producer_epoch < BR_PRODUCER_ID_EPOCH_MAX - 1) {
        /* a known producer starts over (KIP-360): same id, next epoch */
        br_producer_id_reply(call, ST_OK, req->producer_id, req->producer_epoch + 1);
        return;
    }
    /* a new producer, or its epochs are exhausted: a new id */
    if (pid->pd_have && pid->pd_next <= pid->pd_block.end && !pid->pd_wait) {
        br_producer_id_reply(call, ST_OK, pid->pd_next++, 0);
        return;
    }
    br_producer_id_wait_t *w = calloc(1, sizeof *w);
    if (!w) {
        br_producer_id_reply(call, ST_ERR_UNKNOWN_SERVER_ERROR, -1, -1);
        return;
    }
    w->call = call;
    *pid->pd_wait_tail = w;
    pid->pd_wait_tail = &w->next;
    br_producer_id_reserve(pid);
}
