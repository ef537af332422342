/*
 * br_produce: the Produce request on the leader. For each partition it
 * checks hosting, role and acks, turns every batch of the raw request
 * (batches stay bytes: proto/raw.proto) into a frame with one
 * st_batch_from_wire (one copy, CRC and structure checked, records only
 * counted; max_timestamp recomputed from the records and a producer's
 * log-append-time attribute cleared, as Kafka does for CreateTime, so the
 * time index and time retention see the records' real timestamps), checks
 * size and timestamps, checks the sequence of batches
 * from idempotent producers against the partition's sl_pstate (a retried
 * batch already in the log is answered with its original offset and not
 * appended again, as Kafka does), and appends each frame with one
 * sl_log_append_checked (the CRC was just checked: not computed twice).
 * acks=0 and acks=1 are answered at once (acks=0 still
 * gets a reply: the REQ/REP socket needs one, the client ignores it);
 * acks=-1 waits as a br_pending until the high watermark passes the last
 * appended offset, or answers REQUEST_TIMED_OUT at timeout_ms. Entry
 * point br_pm_handle_produce (br_pm.h). Core loop only.
 */
#include <assert.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "partition/br_pm.h"
#include "partition/br_pm_int.h"

#define BR_PRODUCE_MSG 200
#define BR_PRODUCE_SPANS_ON_STACK 64

typedef struct br_prod_res {
    Strata__ProducePartitionResult r;
    int64_t need_hw; /* acks=all: the HW this result waits for; -1 when settled */
    br_part_t *part; /* acks=all: the partition waited on (valid while need_hw >= 0) */
    size_t topic_idx;
    int64_t *offsets; /* r.batch_base_offsets, owned */
    char msg[BR_PRODUCE_MSG];
} br_prod_res_t;

/* One produce request being answered. base first: it is the br_pending. */
typedef struct br_produce {
    br_pending_t base;
    Strata__ProduceTopicResult *topics;
    Strata__ProduceTopicResult **topic_ptrs;
    br_prod_res_t *res;
    Strata__ProducePartitionResult **res_ptrs;
    char **names; /* owned copies of topic names once pending */
    size_t n_topics, n_res;
} br_produce_t;

static void br_produce_free(br_produce_t *pr)
{
    if (pr->names)
        for (size_t i = 0; i < pr->n_topics; i++)
            free(pr->names[i]);
    free(pr->names);
    if (pr->res)
        for (size_t i = 0; i < pr->n_res; i++)
            free(pr->res[i].offsets);
    free(pr->topics);
    free(pr->topic_ptrs);
    free(pr->res);
    free(pr->res_ptrs);
    free(pr);
}

static void br_res_fail(br_prod_res_t *res, st_err_t err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void br_res_fail(br_prod_res_t *res, st_err_t err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(res->msg, sizeof res->msg, fmt, ap);
    va_end(ap);
    res->r.error = (Strata__ErrorCode)st_err_to_wire(err);
    res->r.error_message = res->msg;
    res->r.base_offset = -1;
    res->r.log_start_offset = -1;
    res->r.n_batch_base_offsets = 0;
    res->need_hw = -1;
}

static void br_produce_reply(br_produce_t *pr)
{
    Strata__ProduceResponse body = STRATA__PRODUCE_RESPONSE__INIT;
    body.version = 1;
    body.n_topics = pr->n_topics;
    body.topics = pr->topic_ptrs;
    Strata__Response resp = STRATA__RESPONSE__INIT;
    resp.body_case = STRATA__RESPONSE__BODY_PRODUCE;
    resp.produce = &body;
    br_call_reply(pr->base.call, &resp);
}

typedef struct br_span {
    size_t off, len;
    st_batch_hdr_t h;
    bool dup;           /* a retried batch, already in the log */
    int64_t dup_offset; /* where, -1 when not known (sl_pstate_find_retry) */
} br_span_t;

/* Idempotence check of batch i (producer id >= 0) against the state and
 * the earlier batches of the same request; false after failing res. */
static bool br_produce_check_seq(br_pm_t *pm, br_part_t *part, br_prod_res_t *res, br_span_t *spans, size_t i)
{
    br_span_t *sp = &spans[i];
    const st_batch_hdr_t *h = &sp->h, *prev = NULL;
    for (size_t j = i; j-- > 0;) {
        if (spans[j].h.producer_id == h->producer_id && !spans[j].dup) {
            prev = &spans[j].h;
            break;
        }
    }
    int64_t dup = -1;
    /* an unknown producer that does not start at 0 is accepted once the
     * log start moved (its batches may have been deleted: KIP-360) */
    bool unknown_ok = sl_log_start_offset(part->log) > 0;
    st_err_t err = sl_pstate_check(part->pstate, h, prev, unknown_ok, &dup);
    /* a retried request longer than the remembered batches: its first
     * batches are only found in the log */
    if (err == ST_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER && !prev &&
        sl_pstate_find_retry(part->pstate, part->log, h, &dup))
        err = ST_ERR_DUPLICATE_SEQUENCE_NUMBER;
    if (err == ST_ERR_DUPLICATE_SEQUENCE_NUMBER) {
        sp->dup = true;
        sp->dup_offset = dup;
        return true;
    }
    if (err == ST_OK)
        return true;
    const sl_pstate_entry_t *e = sl_pstate_get(part->pstate, h->producer_id);
    int32_t last_seq = sl_pstate_seq_add(h->base_sequence, h->last_offset_delta);
    int known_epoch = prev ? prev->producer_epoch : e ? e->epoch : -1;
    int32_t known_last = prev ? sl_pstate_seq_add(prev->base_sequence, prev->last_offset_delta)
                         : e  ? e->batches[e->n_batches - 1].last_seq
                              : -1;
    switch (err) {
    case ST_ERR_INVALID_PRODUCER_EPOCH:
        br_res_fail(res, err, "producer %" PRId64 " epoch %d is fenced: epoch %d is current on %s-%d",
                    h->producer_id, h->producer_epoch, known_epoch, part->topic, part->partition);
        break;
    case ST_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER:
        if (h->producer_epoch != known_epoch)
            br_res_fail(res, err,
                        "producer %" PRId64 ": new epoch %d must start at sequence 0, "
                        "not %d",
                        h->producer_id, h->producer_epoch, h->base_sequence);
        else
            br_res_fail(res, err,
                        "producer %" PRId64 " epoch %d: sequence %d..%d does not follow "
                        "the last sequence %d on %s-%d",
                        h->producer_id, h->producer_epoch, h->base_sequence, last_seq, known_last,
                        part->topic, part->partition);
        break;
    case ST_ERR_UNKNOWN_PRODUCER_ID:
        br_res_fail(res, err,
                    "producer %" PRId64 " is unknown on %s-%d and its first sequence is "
                    "%d, not 0",
                    h->producer_id, part->topic, part->partition, h->base_sequence);
        break;
    default:
        br_res_fail(res, ST_ERR_INVALID_REQUEST,
                    "producer %" PRId64 ": invalid epoch %d or "
                    "sequence %d",
                    h->producer_id, h->producer_epoch, h->base_sequence);
        break;
    }
    br_pm_logf(pm, part, BR_LOGK_SEQUENCE, "%s-%d: refused a batch of producer %" PRId64 ": %s", part->topic,
               part->partition, h->producer_id, st_err_name(err));
    return false;
}

/* Validate and append the batches of one partition. */
static void br_produce_partition(br_pm_t *pm, br_prod_res_t *res, const char *topic,
                                 const Strata__Raw__RawProducePartition *pp, int32_t acks, int64_t now)
{
    res->need_hw = -1;
    res->r.base_offset = -1;
    res->r.log_append_time = -1;
    res->r.log_start_offset = -1;
    if (!pp) {
        br_res_fail(res, ST_ERR_INVALID_REQUEST, "empty partition entry");
        return;
    }
    res->r.partition = pp->partition;
    if (acks != 0 && acks != 1 && acks != -1) {
        br_res_fail(res, ST_ERR_INVALID_REQUIRED_ACKS, "acks must be 0, 1 or -1 (all), not %d", acks);
        return;
    }
    br_part_t *part = br_pm_find(pm, topic, pp->partition);
    if (!part) {
        br_res_fail(res, ST_ERR_UNKNOWN_TOPIC_OR_PARTITION, "broker %d does not host topic '%s' partition %d",
                    pm->broker_id, topic, pp->partition);
        br_pm_logf(pm, NULL, BR_LOGK_UNKNOWN, "produce to %s-%d: not hosted here", topic, pp->partition);
        return;
    }
    if (part->role == BR_ROLE_OFFLINE) {
        br_res_fail(res, ST_ERR_KAFKA_STORAGE_ERROR, "the log of %s-%d is offline after a storage error",
                    topic, pp->partition);
        return;
    }
    if (part->role != BR_ROLE_LEADER) {
        br_res_fail(res, ST_ERR_NOT_LEADER_OR_FOLLOWER,
                    "broker %d is not the leader of %s-%d (leader %d, epoch %d)", pm->broker_id, topic,
                    pp->partition, part->leader, part->leader_epoch);
        br_pm_logf(pm, part, BR_LOGK_NOT_LEADER, "produce to %s-%d refused: not leader", topic,
                   pp->partition);
        return;
    }
    if (acks == -1 && part->min_insync > 1 && part->n_isr < (size_t)part->min_insync) {
        br_res_fail(res, ST_ERR_NOT_ENOUGH_REPLICAS,
                    "%s-%d has %zu in-sync replica(s), min.insync.replicas is %d", topic, pp->partition,
                    part->n_isr, part->min_insync);
        br_pm_logf(pm, part, BR_LOGK_ISR, "%s-%d: acks=all refused, ISR below minimum", topic, pp->partition);
        return;
    }
    size_t nb = pp->batches ? pp->n_batches : 0;
    if (nb == 0) {
        br_res_fail(res, ST_ERR_INVALID_REQUEST, "no record batches for %s-%d", topic, pp->partition);
        return;
    }
    int64_t max =
        part->cfg.max_message_bytes > 0 ? part->cfg.max_message_bytes : pm->limits.message_max_bytes;
    int64_t diff = part->ts_diff_max_ms;
    br_span_t stack[BR_PRODUCE_SPANS_ON_STACK];
    br_span_t *spans = stack;
    if (nb > BR_PRODUCE_SPANS_ON_STACK) {
        spans = malloc(nb * sizeof *spans);
        if (!spans) {
            br_res_fail(res, ST_ERR_UNKNOWN_SERVER_ERROR, "out of memory");
            return;
        }
    }
    res->offsets = malloc(nb * sizeof *res->offsets);
    if (!res->offsets) {
        br_res_fail(res, ST_ERR_UNKNOWN_SERVER_ERROR, "out of memory");
        goto out;
    }
    st_buf_t *sb = &pm->scratch;
    sb->len = 0;

    /* 1. validate every batch (Kafka refuses the partition's whole set) */
    for (size_t i = 0; i < nb; i++) {
        const ProtobufCBinaryData *b = &pp->batches[i];
        if (max > 0 && (int64_t)b->len > max) {
            br_res_fail(res, ST_ERR_MESSAGE_TOO_LARGE,
                        "batch %zu is %zu bytes, over max.message.bytes %" PRId64, i, b->len, max);
            br_pm_logf(pm, part, BR_LOGK_TOO_LARGE, "%s-%d: refused a %zu-byte batch (max %" PRId64 ")",
                       topic, pp->partition, b->len, max);
            goto out;
        }
        size_t off = sb->len;
        const char *why = NULL;
        /* CreateTime: max_timestamp from the records, no log-append-time bit */
        st_err_t err = st_batch_from_wire_flags(b->data, b->len, sb, &why, ST_BATCH_WIRE_CREATE_TIME);
        if (err != ST_OK) {
            if (err == ST_ERR_NOMEM) {
                br_res_fail(res, ST_ERR_UNKNOWN_SERVER_ERROR, "out of memory");
                goto out;
            }
            br_res_fail(res, ST_ERR_CORRUPT_MESSAGE, "batch %zu is corrupt: %s", i, why ? why : "malformed");
            br_pm_logf(pm, part, BR_LOGK_CORRUPT, "%s-%d: refused a corrupt batch: %s", topic, pp->partition,
                       why ? why : "malformed");
            goto out;
        }
        spans[i].off = off;
        spans[i].len = sb->len - off;
        st_batch_hdr_t h;
        if (st_batch_hdr_decode(sb->data + off, spans[i].len, &h) != ST_OK) {
            br_res_fail(res, ST_ERR_CORRUPT_MESSAGE, "batch %zu has a malformed header", i);
            goto out;
        }
        spans[i].h = h;
        spans[i].dup = false;
        spans[i].dup_offset = -1;
        if (diff >= 0 && diff < INT64_MAX / 4 &&
            (h.first_timestamp < now - diff || h.max_timestamp > now + diff ||
             h.first_timestamp > now + diff || h.max_timestamp < now - diff)) {
            int64_t bad = (h.first_timestamp < now - diff || h.first_timestamp > now + diff)
                              ? h.first_timestamp
                              : h.max_timestamp;
            br_res_fail(res, ST_ERR_INVALID_TIMESTAMP,
                        "batch %zu timestamp %" PRId64 " is more than "
                        "message.timestamp.difference.max.ms (%" PRId64 ") from broker time %" PRId64,
                        i, bad, diff, now);
            br_pm_logf(pm, part, BR_LOGK_TIMESTAMP, "%s-%d: refused a batch with timestamp %" PRId64, topic,
                       pp->partition, bad);
            goto out;
        }
        if (h.producer_id >= 0 && !br_produce_check_seq(pm, part, res, spans, i))
            goto out;
    }

    /* 2. append: one write per batch; a retried batch is answered with
     * the offset it got the first time */
    int64_t first = -1, appended = 0, need_end = -1;
    for (size_t i = 0; i < nb; i++) {
        int64_t base = -1;
        if (spans[i].dup) {
            base = spans[i].dup_offset;
            if (first < 0)
                first = base;
            /* an unknown offset is below the log end: wait for all of it */
            int64_t dup_end =
                base >= 0 ? base + spans[i].h.last_offset_delta + 1 : sl_log_end_offset(part->log);
            if (dup_end > need_end)
                need_end = dup_end;
            res->offsets[i] = base;
            continue;
        }
        /* sb's frames were made and CRC-checked by st_batch_from_wire above */
        st_err_t err = sl_log_append_checked(part->log, sb->data + spans[i].off, spans[i].len,
                                             part->leader_epoch, now, &base);
        if (err != ST_OK) {
            if (err == ST_ERR_IO || err == ST_ERR_NO_SPACE) {
                br_res_fail(res, ST_ERR_KAFKA_STORAGE_ERROR, "writing %s-%d failed: %s", topic, pp->partition,
                            st_err_name(err));
                br_part_set_offline(pm, part, err);
            } else {
                br_res_fail(res, err, "append to %s-%d refused: %s", topic, pp->partition, st_err_name(err));
            }
            break;
        }
        if (first < 0)
            first = base;
        res->offsets[i] = base;
        appended += (int64_t)spans[i].len;
        part->m_bytes_in += spans[i].len;
        part->m_records_in += (uint64_t)spans[i].h.last_offset_delta + 1;
        need_end = sl_log_end_offset(part->log);
        if (spans[i].h.producer_id >= 0) {
            spans[i].h.base_offset = base;
            if (sl_pstate_update(part->pstate, &spans[i].h) != ST_OK)
                (void)sl_pstate_load(part->pstate, part->log); /* out of memory: rebuild */
        }
    }
    if (appended > 0)
        br_part_appended(pm, part, appended);
    if (res->r.error == STRATA__ERROR_CODE__NONE) {
        res->r.base_offset = first;
        res->r.batch_base_offsets = res->offsets;
        res->r.n_batch_base_offsets = nb;
        res->r.log_start_offset = sl_log_start_offset(part->log);
        if (acks == -1)
            res->need_hw = need_end;
    }
out:
    if (spans != stack)
        free(spans);
}

/* ------------------------------------------------------------ acks=all */

/* Settle every result whose HW target is reached; true when none waits. */
static bool br_produce_settle(br_produce_t *pr)
{
    bool done = true;
    for (size_t i = 0; i < pr->n_res; i++) {
        br_prod_res_t *res = &pr->res[i];
        if (res->need_hw < 0)
            continue;
        br_part_t *part = res->part;
        if (!part || part->role != BR_ROLE_LEADER || part->hw < res->need_hw) {
            done = false;
            continue;
        }
        /* as Kafka: the HW may have passed the batch only because the ISR
         * shrank under min.insync.replicas (followers died): not an ack */
        if (part->min_insync > 1 && part->n_isr < (size_t)part->min_insync)
            br_res_fail(res, ST_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND,
                        "%s-%d: the ISR shrank to %zu replica(s), under min.insync.replicas %d, "
                        "before the batch was acknowledged",
                        pr->topics[res->topic_idx].name, res->r.partition, part->n_isr, part->min_insync);
        res->need_hw = -1;
    }
    return done;
}

static void br_produce_complete(br_produce_t *pr)
{
    br_produce_reply(pr);
    br_pending_finish(&pr->base);
    br_produce_free(pr);
}

static void br_produce_wake(br_pending_t *p, br_waiter_t *w, br_wake_t what)
{
    (void)w;
    if (what != BR_WAKE_HW)
        return;
    br_produce_t *pr = (br_produce_t *)p;
    if (br_produce_settle(pr))
        br_produce_complete(pr);
}

static void br_produce_detach(br_pending_t *p, br_waiter_t *w, st_err_t err)
{
    br_produce_t *pr = (br_produce_t *)p;
    br_prod_res_t *res = &pr->res[w->slot];
    if (res->need_hw >= 0)
        br_res_fail(res, err, "%s-%d stopped being led here before the batch reached the ISR",
                    pr->topics[res->topic_idx].name, res->r.partition);
    if (br_produce_settle(pr))
        br_produce_complete(pr);
}

static void br_produce_expire(br_pending_t *p)
{
    br_produce_t *pr = (br_produce_t *)p;
    (void)br_produce_settle(pr);
    for (size_t i = 0; i < pr->n_res; i++) {
        br_prod_res_t *res = &pr->res[i];
        if (res->need_hw < 0)
            continue;
        if (p->pm->closing)
            br_res_fail(res, ST_ERR_NOT_LEADER_OR_FOLLOWER,
                        "broker %d is shutting down before the batch reached the ISR", p->pm->broker_id);
        else
            br_res_fail(res, ST_ERR_REQUEST_TIMED_OUT,
                        "the batch did not reach every ISR member within timeout_ms");
    }
    br_produce_complete(pr);
}

static const br_pending_ops_t br_produce_ops = {
    .wake = br_produce_wake,
    .detach = br_produce_detach,
    .expire = br_produce_expire,
};

bool br_pending_is_produce(const br_pending_t *p)
{
    return p && p->ops == &br_produce_ops;
}

/* Answer without waiting: results still short of their HW time out. */
static void br_produce_answer_now(br_produce_t *pr)
{
    for (size_t i = 0; i < pr->n_res; i++)
        if (pr->res[i].need_hw >= 0)
            br_res_fail(&pr->res[i], ST_ERR_REQUEST_TIMED_OUT,
                        "the batch did not reach every ISR member within timeout_ms");
    br_produce_reply(pr);
    br_produce_free(pr);
}

/* ------------------------------------------------------------ entry point */

void br_pm_handle_produce(br_pm_t *pm, br_call_t *call, const Strata__Raw__RawProduceRequest *req)
{
    if (!req) {
        br_call_reply_error(call, ST_ERR_INVALID_REQUEST, "Produce request without a body");
        return;
    }
    size_t nt = req->topics ? req->n_topics : 0, np = 0;
    for (size_t i = 0; i < nt; i++)
        if (req->topics[i] && req->topics[i]->partitions)
            np += req->topics[i]->n_partitions;
    br_produce_t *pr = calloc(1, sizeof *pr);
    if (!pr) {
        br_call_reply_error(call, ST_ERR_UNKNOWN_SERVER_ERROR, "out of memory");
        return;
    }
    pr->base.call = call;
    pr->n_topics = nt;
    pr->n_res = np;
    pr->topics = calloc(nt ? nt : 1, sizeof *pr->topics);
    pr->topic_ptrs = calloc(nt ? nt : 1, sizeof *pr->topic_ptrs);
    pr->res = calloc(np ? np : 1, sizeof *pr->res);
    pr->res_ptrs = calloc(np ? np : 1, sizeof *pr->res_ptrs);
    if (!pr->topics || !pr->topic_ptrs || !pr->res || !pr->res_ptrs) {
        br_call_reply_error(call, ST_ERR_UNKNOWN_SERVER_ERROR, "out of memory");
        br_produce_free(pr);
        return;
    }
    int64_t now = st_wall_ms();
    size_t k = 0, waiting = 0;
    for (size_t i = 0; i < nt; i++) {
        const Strata__Raw__RawProduceTopic *t = req->topics[i];
        Strata__ProduceTopicResult *tr = &pr->topics[i];
        strata__produce_topic_result__init(tr);
        pr->topic_ptrs[i] = tr;
        if (!t)
            continue;
        tr->name = t->name ? t->name : (char *)"";
        tr->partitions = &pr->res_ptrs[k];
        size_t tn = t->partitions ? t->n_partitions : 0;
        for (size_t j = 0; j < tn; j++, k++) {
            br_prod_res_t *res = &pr->res[k];
            strata__produce_partition_result__init(&res->r);
            pr->res_ptrs[k] = &res->r;
            tr->n_partitions++;
            res->topic_idx = i;
            br_produce_partition(pm, res, tr->name, t->partitions[j], req->acks, now);
            if (res->need_hw >= 0)
                res->part = br_pm_find(pm, tr->name, res->r.partition);
        }
    }
    pr->base.pm = pm;
    (void)br_produce_settle(pr);
    for (size_t i = 0; i < pr->n_res; i++)
        if (pr->res[i].need_hw >= 0)
            waiting++;
    if (waiting == 0 || req->timeout_ms <= 0 || pm->closing) {
        br_produce_answer_now(pr);
        return;
    }

    /* acks=all and the HW is behind: wait. Topic names must outlive the
     * request. */
    pr->names = calloc(nt, sizeof *pr->names);
    if (!pr->names) {
        br_produce_answer_now(pr);
        return;
    }
    for (size_t i = 0; i < nt; i++) {
        pr->names[i] = strdup(pr->topics[i].name);
        if (!pr->names[i]) {
            br_produce_answer_now(pr);
            return;
        }
        pr->topics[i].name = pr->names[i];
    }
    if (br_pending_start(pm, &pr->base, &br_produce_ops, call, waiting, req->timeout_ms) != ST_OK) {
        br_produce_answer_now(pr);
        return;
    }
    size_t wi = 0;
    for (size_t i = 0; i < pr->n_res; i++) {
        br_prod_res_t *res = &pr->res[i];
        if (res->need_hw < 0)
            continue;
        assert(res->part);
        br_pending_watch(&pr->base, wi++, res->part, i);
    }
}
