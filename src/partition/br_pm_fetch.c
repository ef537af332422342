/*
 * br_fetch: the Fetch request. For each requested partition it checks
 * hosting, leader epoch (KIP-320) and role, then reads whole frames from
 * the log (sl_log_read: one read) up to the high watermark for clients or
 * the log end for replicas (replica_id >= 0: a broker assigned the
 * partition; any other broker gets NOT_LEADER_OR_FOLLOWER, and a
 * replica's fetch offset is its log end, which may move the HW and the
 * ISR, see br_part_replica_fetched), within the partition's
 * max_bytes and the response's max_bytes (the first batch of the first
 * partition with data is returned even when larger, like Kafka). Each
 * frame becomes a strata.RecordBatch with st_batch_to_wire (one copy) and
 * the response is encoded through the raw views of proto/raw.proto
 * (batches as bytes), then sent with br_call_reply_bytes: no record is
 * ever decoded. With less than min_bytes gathered and max_wait_ms > 0 the
 * call waits as a br_pending (long poll) until appends on a requested
 * partition may make min_bytes available, a partition stops being served,
 * or the deadline. Entry point br_pm_handle_fetch (br_pm.h). Core
 * loop only.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "partition/br_pm.h"
#include "partition/br_pm_int.h"
#include "common/st_log.h"

#define BR_FETCH_MSG 160
#define BR_FETCH_PARTITION_DEFAULT_MAX (1024 * 1024) /* max.partition.fetch.bytes */
#define BR_FETCH_DEFAULT_MAX (50 * 1024 * 1024)      /* fetch.max.bytes */
#define BR_FETCH_DEFAULT_WAIT_CAP_MS 30000

typedef struct br_fetch_item {
    const char *topic; /* into the request, or into br_fetch.names once pending */
    size_t topic_idx;
    int32_t partition;
    int64_t offset;
    int32_t max_bytes;
    int32_t epoch;
    int64_t appended_mark; /* part->bytes_appended when last gathered (pending) */
    /* filled by br_fetch_gather */
    st_err_t err;
    int64_t hw, log_start;
    int32_t preferred;             /* KIP-392 preferred_read_replica, -1 none */
    size_t frames_off, frames_len; /* in pm->scratch_frames */
    char msg[BR_FETCH_MSG];
} br_fetch_item_t;

/* One fetch request. base first: it is the br_pending. */
typedef struct br_fetch {
    br_pending_t base;
    br_fetch_item_t *items;
    size_t n_items;
    const char **topics; /* name of each request topic (request or names) */
    char **names;        /* owned copies of topic names once pending */
    size_t n_topics;
    int32_t replica_id;
    char *rack_id; /* client fetch with rack_id (KIP-392), else NULL */
    int64_t min_bytes;
    int64_t max_bytes;
    int64_t gathered; /* bytes found by the last gather */
} br_fetch_t;

static void br_fetch_free(br_fetch_t *f)
{
    if (f->names)
        for (size_t i = 0; i < f->n_topics; i++)
            free(f->names[i]);
    free(f->names);
    free(f->rack_id);
    free(f->topics);
    free(f->items);
    free(f);
}

/* Read what each partition has to offer into pm->scratch_frames; returns
 * the bytes gathered. */
static int64_t br_fetch_gather(br_pm_t *pm, br_fetch_t *f)
{
    st_buf_t *fb = &pm->scratch_frames;
    fb->len = 0;
    int64_t total = 0, budget = f->max_bytes;
    for (size_t i = 0; i < f->n_items; i++) {
        br_fetch_item_t *it = &f->items[i];
        it->err = ST_OK;
        it->msg[0] = '\0';
        it->hw = -1;
        it->log_start = -1;
        it->preferred = -1;
        it->frames_off = fb->len;
        it->frames_len = 0;
        br_part_t *part = br_pm_find(pm, it->topic, it->partition);
        st_err_t err = ST_OK;
        /* KIP-392: a client in a rack may read a follower below its HW */
        bool as_follower = part && part->role == BR_ROLE_FOLLOWER && f->replica_id < 0 && f->rack_id;
        if (!part) {
            err = ST_ERR_UNKNOWN_TOPIC_OR_PARTITION;
            snprintf(it->msg, sizeof it->msg, "broker %d does not host topic '%s' partition %d",
                     pm->broker_id, it->topic, it->partition);
        } else if (part->role == BR_ROLE_OFFLINE) {
            err = ST_ERR_KAFKA_STORAGE_ERROR;
            snprintf(it->msg, sizeof it->msg, "the log of %s-%d is offline after a storage error", it->topic,
                     it->partition);
        } else if ((err = br_part_check_epoch(part, it->epoch)) != ST_OK) {
            snprintf(it->msg, sizeof it->msg,
                     err == ST_ERR_FENCED_LEADER_EPOCH
                         ? "current_leader_epoch %d is older than the leader epoch %d"
                         : "current_leader_epoch %d is newer than the leader epoch %d known here",
                     it->epoch, part->leader_epoch);
        } else if (part->role != BR_ROLE_LEADER && !as_follower) {
            err = ST_ERR_NOT_LEADER_OR_FOLLOWER;
            snprintf(it->msg, sizeof it->msg, "broker %d is not the leader of %s-%d (leader %d, epoch %d)",
                     pm->broker_id, it->topic, it->partition, part->leader, part->leader_epoch);
        } else if (f->replica_id >= 0 &&
                   (f->replica_id == pm->broker_id || !br_part_replica(part, f->replica_id))) {
            /* a broker that is not assigned this partition: refuse, so it
             * neither reads past the HW nor moves it */
            err = ST_ERR_NOT_LEADER_OR_FOLLOWER;
            snprintf(it->msg, sizeof it->msg, "broker %d is not a replica of %s-%d", f->replica_id, it->topic,
                     it->partition);
            br_pm_logf(pm, part, BR_LOGK_INVALID, "%s-%d: follower fetch refused: %s", it->topic,
                       it->partition, it->msg);
        }
        if (err != ST_OK) {
            it->err = err;
            continue;
        }
        int64_t start = sl_log_start_offset(part->log), leo = sl_log_end_offset(part->log);
        it->hw = part->hw;
        it->log_start = start;
        if (as_follower && !part->follower_served_logged) {
            part->follower_served_logged = true;
            st_log(ST_LOG_INFO, "br_fetch", "serving client fetch as follower: %s-%d (rack %s, leader %d)",
                   it->topic, it->partition, f->rack_id, part->leader);
        }
        if (!as_follower && f->replica_id < 0 && f->rack_id)
            it->preferred = br_part_preferred_read_replica(pm, part, f->rack_id);
        int64_t top = as_follower ? part->hw : leo; /* a follower serves below its HW only */
        if (it->offset < start || it->offset > top) {
            it->err = ST_ERR_OFFSET_OUT_OF_RANGE;
            snprintf(it->msg, sizeof it->msg,
                     "fetch offset %" PRId64 " is outside the log [%" PRId64 ", %" PRId64 "]", it->offset,
                     start, top);
            br_pm_logf(pm, part, BR_LOGK_RANGE,
                       "%s-%d: fetch at %" PRId64 " out of range [%" PRId64 ", %" PRId64 "]", it->topic,
                       it->partition, it->offset, start, top);
            continue;
        }
        if (it->max_bytes < 0) {
            it->err = ST_ERR_INVALID_REQUEST;
            snprintf(it->msg, sizeof it->msg, "negative max_bytes %d", it->max_bytes);
            continue;
        }
        int64_t limit = f->replica_id >= 0 ? leo : part->hw;
        if (it->offset >= limit)
            continue;
        bool first = total == 0;
        if (!first && budget <= 0)
            continue;
        int64_t lim = it->max_bytes > 0 ? it->max_bytes : BR_FETCH_PARTITION_DEFAULT_MAX;
        if (budget < lim)
            lim = budget > 0 ? budget : 1;
        size_t before = fb->len;
        err = sl_log_read(part->log, it->offset, (size_t)lim, limit, fb);
        if (err != ST_OK) {
            fb->len = before;
            if (err == ST_ERR_IO || err == ST_ERR_NO_SPACE) {
                br_part_set_offline(pm, part, err);
                it->err = ST_ERR_KAFKA_STORAGE_ERROR;
            } else {
                it->err = st_err_to_wire(err);
            }
            snprintf(it->msg, sizeof it->msg, "reading %s-%d at %" PRId64 " failed: %s", it->topic,
                     it->partition, it->offset, st_err_name(err));
            continue;
        }
        int64_t got = (int64_t)(fb->len - before);
        if (!first && got > lim) { /* one oversized batch: only the first may exceed */
            fb->len = before;
            got = 0;
        }
        it->frames_len = (size_t)got;
        total += got;
        budget -= got;
    }
    return total;
}

/* Encode the gathered response through the raw views and send it. */
static void br_fetch_reply(br_pm_t *pm, br_fetch_t *f)
{
    st_buf_t *fb = &pm->scratch_frames, *wb = &pm->scratch_wire;
    size_t n = f->n_items, nt = f->n_topics, nb = 0;
    wb->len = 0;
    /* count batches and wire bytes */
    size_t wire_total = 0;
    for (size_t i = 0; i < n; i++) {
        const uint8_t *p = fb->data + f->items[i].frames_off, *end = p + f->items[i].frames_len;
        while (p < end) {
            st_batch_hdr_t h;
            if (st_batch_hdr_decode(p, (size_t)(end - p), &h) != ST_OK ||
                st_batch_frame_size(&h) > (size_t)(end - p))
                break;
            size_t fs = st_batch_frame_size(&h);
            wire_total += st_batch_wire_size(p, fs);
            nb++;
            p += fs;
        }
    }
    Strata__Raw__RawFetchTopicResponse *tr = calloc(nt ? nt : 1, sizeof *tr);
    Strata__Raw__RawFetchTopicResponse **trp = calloc(nt ? nt : 1, sizeof *trp);
    Strata__Raw__RawFetchPartitionResponse *pr = calloc(n ? n : 1, sizeof *pr);
    Strata__Raw__RawFetchPartitionResponse **prp = calloc(n ? n : 1, sizeof *prp);
    ProtobufCBinaryData *bd = calloc(nb ? nb : 1, sizeof *bd);
    size_t *bd_off = calloc(nb ? nb : 1, sizeof *bd_off);
    uint8_t *out = NULL;
    if (!tr || !trp || !pr || !prp || !bd || !bd_off || st_buf_reserve(wb, wire_total) != ST_OK) {
        br_call_reply_error(f->base.call, ST_ERR_UNKNOWN_SERVER_ERROR, "out of memory");
        goto out;
    }
    for (size_t t = 0; t < nt; t++) {
        strata__raw__raw_fetch_topic_response__init(&tr[t]);
        trp[t] = &tr[t];
        tr[t].name = (char *)f->topics[t];
    }
    size_t bi = 0;
    for (size_t i = 0; i < n; i++) {
        br_fetch_item_t *it = &f->items[i];
        Strata__Raw__RawFetchPartitionResponse *r = &pr[i];
        strata__raw__raw_fetch_partition_response__init(r);
        prp[i] = r;
        r->partition = it->partition;
        r->error = (Strata__ErrorCode)it->err;
        r->error_message = it->msg;
        r->high_watermark = it->hw;
        r->last_stable_offset = it->hw;
        r->log_start_offset = it->log_start;
        r->preferred_read_replica = it->preferred;
        r->batches = &bd[bi];
        br_part_t *mp = it->frames_len ? br_pm_find(pm, it->topic, it->partition) : NULL;
        const uint8_t *p = fb->data + it->frames_off, *end = p + it->frames_len;
        while (p < end) {
            st_batch_hdr_t h;
            if (st_batch_hdr_decode(p, (size_t)(end - p), &h) != ST_OK ||
                st_batch_frame_size(&h) > (size_t)(end - p))
                break;
            size_t fs = st_batch_frame_size(&h);
            size_t before = wb->len;
            if (st_batch_to_wire(p, fs, wb) != ST_OK) {
                wb->len = before;
                break;
            }
            bd_off[bi] = before;
            bd[bi].len = wb->len - before;
            if (mp) {
                mp->m_bytes_out += bd[bi].len;
                mp->m_records_out += (uint64_t)h.last_offset_delta + 1;
            }
            bi++;
            r->n_batches++;
            p += fs;
        }
        Strata__Raw__RawFetchTopicResponse *t = &tr[it->topic_idx];
        if (!t->partitions)
            t->partitions = &prp[i]; /* items of one topic are consecutive */
        t->n_partitions++;
    }
    for (size_t i = 0; i < bi; i++)
        bd[i].data = wb->data + bd_off[i];

    Strata__Raw__RawFetchResponse body = STRATA__RAW__RAW_FETCH_RESPONSE__INIT;
    body.version = 1;
    body.n_topics = nt;
    body.topics = trp;
    Strata__Raw__RawResponse resp = STRATA__RAW__RAW_RESPONSE__INIT;
    resp.correlation_id = br_call_correlation_id(f->base.call);
    resp.body_case = STRATA__RAW__RAW_RESPONSE__BODY_FETCH;
    resp.fetch = &body;
    size_t size = strata__raw__raw_response__get_packed_size(&resp);
    out = malloc(size ? size : 1);
    if (!out) {
        br_call_reply_error(f->base.call, ST_ERR_UNKNOWN_SERVER_ERROR, "out of memory");
        goto out;
    }
    size_t packed = strata__raw__raw_response__pack(&resp, out);
    br_call_reply_bytes(f->base.call, out, packed);
out:
    free(out);
    free(tr);
    free(trp);
    free(pr);
    free(prp);
    free(bd);
    free(bd_off);
}

static bool br_fetch_any_error(const br_fetch_t *f)
{
    for (size_t i = 0; i < f->n_items; i++)
        if (f->items[i].err != ST_OK)
            return true;
    return false;
}

/* ------------------------------------------------------------ long poll */

static void br_fetch_complete(br_fetch_t *f)
{
    br_pm_t *pm = f->base.pm;
    (void)br_fetch_gather(pm, f);
    br_fetch_reply(pm, f);
    br_pending_finish(&f->base);
    br_fetch_free(f);
}

static void br_fetch_wake(br_pending_t *p, br_waiter_t *w, br_wake_t what)
{
    (void)w;
    br_fetch_t *f = (br_fetch_t *)p;
    if (what != (f->replica_id >= 0 ? BR_WAKE_LEO : BR_WAKE_HW))
        return;
    /* A replica reads to the log end: an upper bound of what is there now
     * is what was there plus every byte appended since on the watched
     * partitions, and gathering waits until it could reach min_bytes. A
     * client reads to the HW, which may expose bytes appended before the
     * fetch parked (acks=all, or a follower's HW catching up), so every
     * HW move gathers. */
    if (f->replica_id >= 0) {
        int64_t hint = f->gathered;
        for (size_t i = 0; i < p->n_waiters; i++) {
            br_waiter_t *wi = &p->waiters[i];
            if (wi->part)
                hint += wi->part->bytes_appended - f->items[wi->slot].appended_mark;
        }
        if (hint < f->min_bytes)
            return;
    }
    br_pm_t *pm = p->pm;
    int64_t got = br_fetch_gather(pm, f);
    if (got >= f->min_bytes || br_fetch_any_error(f)) {
        br_fetch_reply(pm, f);
        br_pending_finish(p);
        br_fetch_free(f);
        return;
    }
    f->gathered = got;
    for (size_t i = 0; i < p->n_waiters; i++) {
        br_waiter_t *wi = &p->waiters[i];
        if (wi->part)
            f->items[wi->slot].appended_mark = wi->part->bytes_appended;
    }
}

static void br_fetch_detach(br_pending_t *p, br_waiter_t *w, st_err_t err)
{
    (void)w;
    (void)err; /* the gather reports the partition's new state */
    br_fetch_complete((br_fetch_t *)p);
}

static void br_fetch_expire(br_pending_t *p)
{
    br_fetch_complete((br_fetch_t *)p);
}

static const br_pending_ops_t br_fetch_ops = {
    .wake = br_fetch_wake,
    .detach = br_fetch_detach,
    .expire = br_fetch_expire,
};

bool br_pending_is_fetch(const br_pending_t *p)
{
    return p && p->ops == &br_fetch_ops;
}

/* ------------------------------------------------------------ entry point */

void br_pm_handle_fetch(br_pm_t *pm, br_call_t *call, const Strata__FetchRequest *req)
{
    if (!req) {
        br_call_reply_error(call, ST_ERR_INVALID_REQUEST, "Fetch request without a body");
        return;
    }
    if (req->max_bytes < 0 || req->min_bytes < 0 || req->max_wait_ms < 0) {
        br_call_reply_error(call, ST_ERR_INVALID_REQUEST,
                            "max_bytes, min_bytes and max_wait_ms must not be negative");
        return;
    }
    size_t nt = req->topics ? req->n_topics : 0, n = 0;
    for (size_t i = 0; i < nt; i++)
        if (req->topics[i] && req->topics[i]->partitions)
            n += req->topics[i]->n_partitions;
    br_fetch_t *f = calloc(1, sizeof *f);
    if (!f || !(f->items = calloc(n ? n : 1, sizeof *f->items)) ||
        !(f->topics = calloc(nt ? nt : 1, sizeof *f->topics))) {
        if (f)
            free(f->items);
        free(f);
        br_call_reply_error(call, ST_ERR_UNKNOWN_SERVER_ERROR, "out of memory");
        return;
    }
    f->base.call = call;
    f->base.pm = pm;
    f->n_topics = nt;
    f->replica_id = br_call_replica_id(call);
    if (f->replica_id < 0 && req->rack_id && req->rack_id[0] && !(f->rack_id = strdup(req->rack_id))) {
        br_fetch_free(f);
        br_call_reply_error(call, ST_ERR_UNKNOWN_SERVER_ERROR, "out of memory");
        return;
    }
    f->min_bytes = req->min_bytes;
    int64_t cap = pm->limits.fetch_max_bytes > 0 ? pm->limits.fetch_max_bytes : BR_FETCH_DEFAULT_MAX;
    f->max_bytes = req->max_bytes > 0 && req->max_bytes < cap ? req->max_bytes : cap;
    size_t k = 0;
    for (size_t i = 0; i < nt; i++) {
        const Strata__FetchTopicRequest *t = req->topics[i];
        f->topics[i] = t && t->name ? t->name : "";
        size_t tn = t && t->partitions ? t->n_partitions : 0;
        for (size_t j = 0; j < tn; j++) {
            const Strata__FetchPartitionRequest *fp = t->partitions[j];
            br_fetch_item_t *it = &f->items[k++];
            it->topic = t->name ? t->name : "";
            it->topic_idx = i;
            it->partition = fp ? fp->partition : -1;
            it->offset = fp ? fp->fetch_offset : -1;
            it->max_bytes = fp ? fp->max_bytes : -1;
            it->epoch = fp ? fp->current_leader_epoch : -1;
        }
    }
    f->n_items = k;

    /* a follower's fetch offset is its log end: the leader's view of it */
    if (f->replica_id >= 0) {
        for (size_t i = 0; i < f->n_items; i++) {
            br_part_t *part = br_pm_find(pm, f->items[i].topic, f->items[i].partition);
            if (part && part->role == BR_ROLE_LEADER && br_part_check_epoch(part, f->items[i].epoch) == ST_OK)
                br_part_replica_fetched(pm, part, f->replica_id, f->items[i].offset);
        }
    }

    int64_t got = br_fetch_gather(pm, f);
    if (got >= f->min_bytes || req->max_wait_ms <= 0 || pm->closing || br_fetch_any_error(f) ||
        f->n_items == 0) {
        br_fetch_reply(pm, f);
        br_fetch_free(f);
        return;
    }

    /* long poll: keep the call; topic names must outlive the request */
    f->gathered = got;
    f->names = calloc(nt, sizeof *f->names);
    if (!f->names)
        goto answer_now;
    for (size_t i = 0; i < nt; i++) {
        const Strata__FetchTopicRequest *t = req->topics[i];
        f->names[i] = strdup(t && t->name ? t->name : "");
        if (!f->names[i])
            goto answer_now;
        f->topics[i] = f->names[i];
    }
    for (size_t i = 0; i < f->n_items; i++)
        f->items[i].topic = f->names[f->items[i].topic_idx];
    int64_t wait_cap =
        pm->limits.max_wait_ms_cap > 0 ? pm->limits.max_wait_ms_cap : BR_FETCH_DEFAULT_WAIT_CAP_MS;
    int64_t wait = req->max_wait_ms < wait_cap ? req->max_wait_ms : wait_cap;
    if (br_pending_start(pm, &f->base, &br_fetch_ops, call, f->n_items, wait) != ST_OK)
        goto answer_now;
    for (size_t i = 0; i < f->n_items; i++) {
        br_part_t *part = br_pm_find(pm, f->items[i].topic, f->items[i].partition);
        if (!part)
            continue; /* cannot happen: the gather found no error */
        f->items[i].appended_mark = part->bytes_appended;
        br_pending_watch(&f->base, i, part, i);
    }
    return;

answer_now:
    (void)br_fetch_gather(pm, f);
    br_fetch_reply(pm, f);
    br_fetch_free(f);
}
