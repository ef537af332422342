/*
 * sc_producer: producer handle (see sc_producer.h). Lock discipline: every
 * field of strata_producer is guarded by p->cl.lock; batches popped into a
 * request belong to that request until its callback puts them back.
 *
 * Idempotence (enable.idempotence, Kafka's KIP-98 without transactions):
 * before anything is sent the producer gets an id and epoch
 * (InitProducerId from any broker); a batch takes the partition's next
 * sequence when it is first sent and keeps its bytes on every retry. At
 * most ONE produce request per partition is in flight (it may carry many
 * batches of the partition, up to max.request.size), so a retry can never
 * be overtaken: the trade-off is one round trip per partition at a time
 * instead of five, which costs little since a request drains the whole
 * partition queue. OUT_OF_ORDER_SEQUENCE_NUMBER or UNKNOWN_PRODUCER_ID
 * (the broker lost our state) bump the epoch (InitProducerId with the
 * current id and epoch) and renumber the refused partition's batches from
 * 0: the broker refused them, so none of them is in its log. The bump
 * waits until every batch already numbered under the old epoch on the
 * other partitions is resolved (acknowledged or failed; meanwhile only
 * those retries go out, new batches wait): a retry of a batch that may be
 * stored must never reach its partition after a newer epoch did, or the
 * broker answers INVALID_PRODUCER_EPOCH instead of DUPLICATE. New batches
 * then start again at sequence 0 under the new epoch. INVALID_PRODUCER_EPOCH
 * is fatal.
 *
 * Leader changes (NOT_LEADER_OR_FOLLOWER, a lost connection, ...): the
 * metadata refresh goes out at once (concurrent ones coalesce), is
 * repeated every SC_MOVE_POLL_MS while the brokers still name the old
 * leader, and the partition's batches are resent as soon as a new leader
 * is named instead of after retry.backoff.ms (Kafka's KIP-951). Records
 * sent while earlier ones of their topic wait for metadata queue behind
 * them, so a partition's records are appended in send order.
 */
#include "client/sc_producer.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "client/sc_accum.h"
#include "client/sc_client.h"
#include "common/st_log.h"
#include "raw.pb-c.h"

typedef struct sc_pend {
    struct sc_pend *next;
    sc_atopic_t *t;
    int32_t partition;
    int64_t timestamp;
    int64_t deadline_ms;
    const void *key, *value;
    size_t key_len, value_len;
    strata_header_t *headers;
    size_t n_headers;
    size_t bytes;
    strata_delivery_cb cb;
    void *opaque;
} sc_pend_t;

typedef enum sc_pid_state {
    SC_PID_NONE, /* need an id (or an epoch bump): ask */
    SC_PID_WAIT, /* InitProducerId in flight */
    SC_PID_READY,
} sc_pid_state_t;

struct strata_producer {
    sc_client_t cl;
    sc_accum_t acc;
    int acks;
    sc_pend_t *pend, *pend_tail;
    size_t pend_n, pend_bytes;
    int flushing;
    bool closing;
    sc_batch_t *failed; /* reported by the tick, outside the lock */
    /* idempotence */
    bool idem;
    sc_pid_state_t pid_state;
    int64_t pid; /* -1 until InitProducerId answered */
    int16_t epoch;
    int64_t pid_retry_at;
    bool bump_wanted; /* refused sequences: bump once the old epoch is resolved */
    st_err_t fatal;   /* != ST_OK: fenced, every send fails */
};

typedef struct sc_preq {
    strata_producer_t *p;
    sc_batch_t *batches; /* grouped by topic, then partition, in order */
    size_t n_batches;
} sc_preq_t;

/* ----------------------------------------------------------- reports */

static void sc_report(sc_batch_t *b, st_err_t err, int64_t base)
{
    strata_delivery_t dr;
    dr.err = (strata_err_t)err;
    dr.topic = b->topic->name;
    dr.partition = b->partition;
    for (size_t i = 0; i < b->n_refs; i++) {
        if (b->refs[i].cb == NULL)
            continue;
        dr.offset = err == ST_OK && base >= 0 ? base + (int64_t)i : -1;
        dr.timestamp = b->refs[i].timestamp;
        b->refs[i].cb(&dr, b->refs[i].opaque);
    }
}

static void sc_pend_report(sc_pend_t *pd, st_err_t err)
{
    if (pd->cb == NULL)
        return;
    strata_delivery_t dr = {(strata_err_t)err, pd->t->name, pd->partition, -1, pd->timestamp};
    pd->cb(&dr, pd->opaque);
}

/* Lock held on entry and exit (dropped while callbacks run): report every
 * batch of list as failed with err, then release them. */
static void sc_report_failed(strata_producer_t *p, sc_batch_t *list, st_err_t err)
{
    if (list == NULL)
        return;
    sc_client_unlock(&p->cl);
    for (sc_batch_t *b = list; b != NULL; b = b->next)
        sc_report(b, err, -1);
    sc_client_lock(&p->cl);
    while (list != NULL) {
        sc_batch_t *n = list->next;
        sc_accum_release(&p->acc, list);
        list = n;
    }
    pthread_cond_broadcast(&p->cl.ucond);
}

/* ------------------------------------------------------- append path */

static st_err_t sc_append(strata_producer_t *p, sc_atopic_t *t, int32_t partition, int64_t now, int64_t ts,
                          const void *key, size_t key_len, const void *value, size_t value_len,
                          const strata_header_t *h, size_t nh, strata_delivery_cb cb, void *opaque)
{
    int32_t part = partition;
    if (part < 0)
        part =
            key != NULL ? sc_part_for_key(key, key_len, t->n_parts) : sc_sticky_get(&t->sticky, t->n_parts);
    bool closed;
    st_err_t e = sc_accum_append(&p->acc, t, part, now, ts, key, key_len, value, value_len, h, nh, cb, opaque,
                                 &closed);
    if (e != ST_OK)
        return e;
    if (closed) {
        if (partition < 0 && key == NULL)
            sc_sticky_batch_closed(&t->sticky, part, t->n_parts);
        sc_client_wakeup(&p->cl);
    } else if (t->parts[part].open != NULL && t->parts[part].open->n_refs == 1) {
        sc_client_wake_by(&p->cl, now + p->acc.linger_ms);
    }
    return ST_OK;
}

static st_err_t sc_pend_add(strata_producer_t *p, sc_atopic_t *t, int32_t partition, int64_t now, int64_t ts,
                            const void *key, size_t key_len, const void *value, size_t value_len,
                            const strata_header_t *h, size_t nh, strata_delivery_cb cb, void *opaque,
                            size_t bytes)
{
    size_t n = sizeof(sc_pend_t) + nh * sizeof(strata_header_t) + key_len + value_len;
    for (size_t i = 0; i < nh; i++)
        n += h[i].key_len + h[i].value_len;
    sc_pend_t *pd = malloc(n);
    if (pd == NULL)
        return ST_ERR_NOMEM;
    memset(pd, 0, sizeof *pd);
    uint8_t *q = (uint8_t *)(pd + 1);
    pd->headers = (strata_header_t *)q;
    q += nh * sizeof(strata_header_t);
    if (key != NULL) {
        memcpy(q, key, key_len);
        pd->key = q;
        q += key_len;
    }
    if (value != NULL) {
        memcpy(q, value, value_len);
        pd->value = q;
        q += value_len;
    }
    for (size_t i = 0; i < nh; i++) {
        pd->headers[i] = h[i];
        if (h[i].key) {
            memcpy(q, h[i].key, h[i].key_len);
            pd->headers[i].key = (const char *)q;
            q += h[i].key_len;
        }
        if (h[i].value) {
            memcpy(q, h[i].value, h[i].value_len);
            pd->headers[i].value = q;
            q += h[i].value_len;
        }
    }
    pd->t = t;
    pd->partition = partition;
    pd->timestamp = ts;
    /* like Kafka's send() waiting max.block.ms for metadata */
    pd->deadline_ms = now + p->cl.conf.max_block_ms;
    pd->key_len = key_len;
    pd->value_len = value_len;
    pd->n_headers = nh;
    pd->bytes = bytes;
    pd->cb = cb;
    pd->opaque = opaque;
    if (p->pend_tail)
        p->pend_tail->next = pd;
    else
        p->pend = pd;
    p->pend_tail = pd;
    p->pend_n++;
    p->pend_bytes += bytes;
    t->pend_n++;
    sc_client_md_want(&p->cl);
    return ST_OK;
}

strata_err_t strata_producer_send(strata_producer_t *p, const char *topic, int32_t partition, const void *key,
                                  size_t key_len, const void *value, size_t value_len,
                                  const strata_header_t *headers, size_t n_headers, int64_t timestamp,
                                  strata_delivery_cb cb, void *opaque)
{
    if (p == NULL || topic == NULL || topic[0] == '\0' || partition < -1 ||
        (n_headers > 0 && headers == NULL))
        return STRATA_ERR_INVALID_ARG;
    size_t bytes = sc_accum_record_size(key ? key_len : 0, value ? value_len : 0, headers, n_headers);
    if (bytes > (size_t)p->cl.conf.max_request_size)
        return STRATA_ERR_MESSAGE_TOO_LARGE;
    if (key == NULL)
        key_len = 0;
    if (value == NULL)
        value_len = 0;
    if (timestamp <= 0)
        timestamp = st_wall_ms();
    int64_t now = st_mono_ms();
    st_err_t e;
    sc_client_lock(&p->cl);
    if (p->closing) {
        sc_client_unlock(&p->cl);
        return STRATA_ERR_CLOSED;
    }
    if (p->fatal != ST_OK) {
        sc_client_unlock(&p->cl);
        return (strata_err_t)p->fatal;
    }
    if (p->acc.bytes + p->pend_bytes + bytes > (size_t)p->cl.conf.buffer_memory) {
        int64_t deadline = now + p->cl.conf.max_block_ms;
        while (p->acc.bytes + p->pend_bytes > 0 &&
               p->acc.bytes + p->pend_bytes + bytes > (size_t)p->cl.conf.buffer_memory) {
            if (st_mono_ms() >= deadline || p->closing) {
                sc_client_unlock(&p->cl);
                return p->closing ? STRATA_ERR_CLOSED : STRATA_ERR_QUEUE_FULL;
            }
            sc_client_wakeup(&p->cl);
            sc_client_wait(&p->cl, deadline);
        }
        now = st_mono_ms();
    }
    sc_atopic_t *t = sc_accum_topic(&p->acc, topic, true);
    if (t == NULL) {
        e = ST_ERR_NOMEM;
    } else if (t->n_parts == 0 || partition >= t->n_parts || t->pend_n > 0) {
        /* unknown yet, or records sent before are still pending: append
         * after them (the I/O thread appends them on its next tick) */
        e = sc_client_md_interest(&p->cl, topic);
        if (e == ST_OK)
            e = sc_pend_add(p, t, partition, now, timestamp, key, key_len, value, value_len, headers,
                            n_headers, cb, opaque, bytes);
        if (e == ST_OK && t->n_parts > 0)
            sc_client_wakeup(&p->cl);
    } else {
        e = sc_append(p, t, partition, now, timestamp, key, key_len, value, value_len, headers, n_headers, cb,
                      opaque);
    }
    sc_client_unlock(&p->cl);
    return (strata_err_t)e;
}

/* ---------------------------------------------------- produce requests */

static st_err_t sc_produce_build(sc_client_t *cl, sc_req_t *rq, nng_msg **out)
{
    sc_preq_t *pr = rq->arg;
    st_err_t e = ST_OK;
    st_buf_t wire;
    size_t *offs = NULL;
    Strata__Raw__RawProduceTopic *topics = NULL, **tptr = NULL;
    Strata__Raw__RawProducePartition *parts = NULL, **pptr = NULL;
    ProtobufCBinaryData *bins = NULL;
    size_t nt = 0, np = 0;

    st_buf_init(&wire);
    offs = calloc(pr->n_batches + 1, sizeof *offs);
    topics = calloc(pr->n_batches, sizeof *topics);
    tptr = calloc(pr->n_batches, sizeof *tptr);
    parts = calloc(pr->n_batches, sizeof *parts);
    pptr = calloc(pr->n_batches, sizeof *pptr);
    bins = calloc(pr->n_batches, sizeof *bins);
    if (!offs || !topics || !tptr || !parts || !pptr || !bins) {
        e = ST_ERR_NOMEM;
        goto out;
    }
    size_t i = 0;
    for (sc_batch_t *b = pr->batches; b != NULL; b = b->next, i++) {
        if ((e = sc_batch_finish(b)) != ST_OK)
            goto out;
        offs[i] = wire.len;
        if ((e = st_batch_to_wire(b->frame.data, b->frame.len, &wire)) != ST_OK)
            goto out;
    }
    offs[i] = wire.len;
    i = 0;
    sc_batch_t *prev = NULL;
    for (sc_batch_t *b = pr->batches; b != NULL; prev = b, b = b->next, i++) {
        bins[i].data = wire.data + offs[i];
        bins[i].len = offs[i + 1] - offs[i];
        if (prev == NULL || prev->topic != b->topic) {
            strata__raw__raw_produce_topic__init(&topics[nt]);
            topics[nt].name = b->topic->name;
            topics[nt].partitions = &pptr[np];
            tptr[nt] = &topics[nt];
            nt++;
        }
        if (prev == NULL || prev->topic != b->topic || prev->partition != b->partition) {
            strata__raw__raw_produce_partition__init(&parts[np]);
            parts[np].partition = b->partition;
            parts[np].batches = &bins[i];
            pptr[np] = &parts[np];
            topics[nt - 1].n_partitions++;
            np++;
        }
        parts[np - 1].n_batches++;
    }
    Strata__Raw__RawProduceRequest preq = STRATA__RAW__RAW_PRODUCE_REQUEST__INIT;
    Strata__Raw__RawRequest req = STRATA__RAW__RAW_REQUEST__INIT;
    preq.version = 1;
    preq.acks = pr->p->acks;
    preq.timeout_ms = (int32_t)cl->conf.request_timeout_ms;
    preq.topics = tptr;
    preq.n_topics = nt;
    sc_client_lock(cl);
    req.correlation_id = ++cl->corr;
    sc_client_unlock(cl);
    req.client_id = cl->conf.client_id;
    req.replica_id = -1;
    req.body_case = STRATA__RAW__RAW_REQUEST__BODY_PRODUCE;
    req.produce = &preq;
    size_t n = strata__raw__raw_request__get_packed_size(&req);
    nng_msg *m;
    if (nng_msg_alloc(&m, n) != 0) {
        e = ST_ERR_NOMEM;
        goto out;
    }
    strata__raw__raw_request__pack(&req, nng_msg_body(m));
    *out = m;
out:
    st_buf_free(&wire);
    free(offs);
    free(topics);
    free(tptr);
    free(parts);
    free(pptr);
    free(bins);
    (void)rq;
    return e;
}

static bool sc_produce_retriable(st_err_t e)
{
    return e != ST_ERR_CLOSED &&
           (st_err_retriable(e) || e == ST_ERR_REQUEST_TIMED_OUT || e == ST_ERR_NETWORK_EXCEPTION ||
            e == ST_ERR_NOT_LEADER_OR_FOLLOWER || e == ST_ERR_LEADER_NOT_AVAILABLE ||
            e == ST_ERR_UNKNOWN_TOPIC_OR_PARTITION || e == ST_ERR_NOT_ENOUGH_REPLICAS ||
            e == ST_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND);
}

/* Metadata poll interval while a partition's leader is moving. */
#define SC_MOVE_POLL_MS 20

/* Errors saying the partition's leader is elsewhere or gone. */
static bool sc_leader_error(st_err_t e)
{
    return e == ST_ERR_NOT_LEADER_OR_FOLLOWER || e == ST_ERR_LEADER_NOT_AVAILABLE ||
           e == ST_ERR_NETWORK_EXCEPTION || e == ST_ERR_CONNECTION || e == ST_ERR_UNKNOWN_TOPIC_OR_PARTITION;
}

/* Lock held: the broker refused batch b's sequence (OUT_OF_ORDER or
 * UNKNOWN_PRODUCER_ID). Its partition is renumbered under the next epoch;
 * want that epoch unless a bump already happened or is under way (the
 * tick asks once sc_accum_bump_ready). */
static void sc_idem_refused(strata_producer_t *p, sc_batch_t *b)
{
    sc_apart_t *ap = &b->topic->parts[b->partition];
    ap->reseq = true;
    if (p->pid_state == SC_PID_READY && b->bld.producer_id == p->pid && b->bld.producer_epoch == p->epoch)
        p->bump_wanted = true;
}

static const Strata__ProducePartitionResult *sc_find_result(const Strata__ProduceResponse *r,
                                                            const char *topic, int32_t part)
{
    if (r == NULL)
        return NULL;
    for (size_t i = 0; i < r->n_topics; i++) {
        const Strata__ProduceTopicResult *t = r->topics[i];
        if (t->name == NULL || strcmp(t->name, topic) != 0)
            continue;
        for (size_t k = 0; k < t->n_partitions; k++)
            if (t->partitions[k]->partition == part)
                return t->partitions[k];
    }
    return NULL;
}

void sc_produce_outcomes(const Strata__ProduceResponse *presp, st_err_t err, const sc_batch_t *batches,
                         sc_outcome_t *oc)
{
    /* offsets: each batch's own from batch_base_offsets when the broker
     * names one per batch sent; else (older brokers) consecutive across
     * the batches of one partition from base_offset */
    size_t i = 0, k = 0;
    int64_t next_off = -1;
    const sc_batch_t *prev = NULL;
    const Strata__ProducePartitionResult *r = NULL;
    bool per_batch = false;
    for (const sc_batch_t *b = batches; b != NULL; prev = b, b = b->next, i++) {
        if (err != ST_OK) {
            oc[i].err = err;
            oc[i].base = -1;
            continue;
        }
        if (presp == NULL) { /* acks=0 */
            oc[i].err = ST_OK;
            oc[i].base = -1;
            continue;
        }
        if (prev == NULL || prev->topic != b->topic || prev->partition != b->partition) {
            r = sc_find_result(presp, b->topic->name, b->partition);
            size_t group = 0;
            for (const sc_batch_t *g = b; g != NULL && g->topic == b->topic && g->partition == b->partition;
                 g = g->next)
                group++;
            per_batch = r != NULL && r->error == 0 && r->n_batch_base_offsets == group;
            k = 0;
            if (r == NULL) {
                oc[i].err = ST_ERR_UNKNOWN_SERVER_ERROR;
                next_off = -1;
            } else {
                oc[i].err = (st_err_t)r->error;
                next_off = r->error == 0 ? r->base_offset : -1;
            }
        } else {
            oc[i].err = oc[i - 1].err;
        }
        if (per_batch) {
            int64_t o = r->batch_base_offsets[k++];
            oc[i].base = o >= 0 ? o : -1;
            continue;
        }
        oc[i].base = next_off;
        if (next_off >= 0)
            next_off += (int64_t)b->n_refs;
    }
}

static void sc_produce_cb(sc_client_t *cl, sc_req_t *rq, st_err_t err, nng_msg *reply)
{
    sc_preq_t *pr = rq->arg;
    strata_producer_t *p = pr->p;
    Strata__Response *resp = NULL;
    const Strata__ProduceResponse *presp = NULL;
    sc_outcome_t *oc = calloc(pr->n_batches ? pr->n_batches : 1, sizeof *oc);

    if (err == ST_OK && reply != NULL) {
        resp = strata__response__unpack(NULL, nng_msg_len(reply), nng_msg_body(reply));
        if (resp == NULL)
            err = ST_ERR_CORRUPT_MESSAGE;
        else if (resp->error != 0)
            err = (st_err_t)resp->error;
        else if (resp->body_case != STRATA__RESPONSE__BODY_PRODUCE)
            err = ST_ERR_CORRUPT_MESSAGE;
        else
            presp = resp->produce;
    }
    if (reply)
        nng_msg_free(reply);
    if (oc != NULL)
        sc_produce_outcomes(presp, err, pr->batches, oc);
    size_t i;

    sc_batch_t *done = NULL, **done_tail = &done;
    sc_client_lock(cl);
    rq->br->inflight--;
    int64_t now = st_mono_ms();
    /* walk in reverse per partition so requeued batches keep their order:
     * collect retries per partition first, then push them back */
    sc_batch_t *b = pr->batches;
    i = 0;
    sc_batch_t *retry_head = NULL, *retry_tail = NULL;
    while (b != NULL) {
        sc_batch_t *n = b->next;
        sc_apart_t *ap = &b->topic->parts[b->partition];
        ap->inflight--;
        st_err_t be = oc ? oc[i].err : ST_ERR_NOMEM;
        b->next = NULL;
        bool refused = false;
        if (be == ST_ERR_DUPLICATE_SEQUENCE_NUMBER)
            be = ST_OK; /* already in the log (Kafka: success) */
        if (be == ST_OK) {
            ap->leader_wait = false;
        } else if (be == ST_ERR_INVALID_PRODUCER_EPOCH && p->idem) {
            if (p->fatal == ST_OK)
                p->fatal = be;
        } else if (p->idem && b->seq_set &&
                   (be == ST_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER || be == ST_ERR_UNKNOWN_PRODUCER_ID)) {
            refused = true;
        }
        if (be != ST_OK && (refused || sc_produce_retriable(be)) && !p->closing && p->fatal == ST_OK &&
            b->attempts < p->cl.conf.retries && now < b->deadline_ms) {
            if (refused)
                sc_idem_refused(p, b);
            b->attempts++;
            b->retry_at_ms = now + p->cl.conf.retry_backoff_ms;
            if (sc_leader_error(be)) {
                /* refresh now; resend as soon as another leader is named
                 * (KIP-951: no backoff when the leader moved) */
                ap->leader_wait = true;
                ap->failed_on = rq->br->id;
                sc_client_md_urgent(cl);
            } else {
                sc_client_md_want(cl); /* the leader may have moved or died */
            }
            /* keep for requeue */
            if (retry_tail)
                retry_tail->next = b;
            else
                retry_head = b;
            retry_tail = b;
        } else {
            b->err = be;
            b->base_offset = be == ST_OK && oc ? oc[i].base : -1;
            *done_tail = b;
            done_tail = &b->next;
        }
        /* end of a partition group: requeue its retries in order */
        if (n == NULL || n->topic != b->topic || n->partition != b->partition) {
            sc_batch_t *r = retry_head, *stack = NULL;
            while (r != NULL) { /* reverse */
                sc_batch_t *rn = r->next;
                r->next = stack;
                stack = r;
                r = rn;
            }
            while (stack != NULL) {
                sc_batch_t *sn = stack->next;
                sc_accum_requeue(&p->acc, ap, stack);
                stack = sn;
            }
            retry_head = retry_tail = NULL;
        }
        b = n;
        i++;
    }
    sc_client_wakeup(cl);
    sc_client_unlock(cl);

    for (sc_batch_t *d = done; d != NULL; d = d->next)
        sc_report(d, d->err, d->base_offset);

    sc_client_lock(cl);
    while (done != NULL) {
        sc_batch_t *n = done->next;
        sc_accum_release(&p->acc, done);
        done = n;
    }
    pthread_cond_broadcast(&cl->ucond);
    sc_client_unlock(cl);
    if (resp)
        strata__response__free_unpacked(resp, NULL);
    free(oc);
    free(pr);
}

/* ------------------------------------------------------ InitProducerId */

static st_err_t sc_pid_build(sc_client_t *cl, sc_req_t *rq, nng_msg **out)
{
    strata_producer_t *p = rq->arg;
    Strata__InitProducerIdRequest ip = STRATA__INIT_PRODUCER_ID_REQUEST__INIT;
    Strata__Request req = STRATA__REQUEST__INIT;
    ip.version = 1;
    sc_client_lock(cl);
    /* -1/-1 for a new id; the current pair asks for the next epoch */
    ip.producer_id = p->pid;
    ip.producer_epoch = p->pid >= 0 ? p->epoch : -1;
    sc_client_unlock(cl);
    ip.transaction_timeout_ms = 0;
    req.body_case = STRATA__REQUEST__BODY_INIT_PRODUCER_ID;
    req.init_producer_id = &ip;
    return sc_client_pack(cl, &req, out);
}

static void sc_pid_cb(sc_client_t *cl, sc_req_t *rq, st_err_t err, nng_msg *reply)
{
    strata_producer_t *p = rq->arg;
    Strata__Response *resp = NULL;
    int64_t pid = -1;
    int32_t epoch = -1;
    if (err == ST_OK && reply != NULL) {
        resp = strata__response__unpack(NULL, nng_msg_len(reply), nng_msg_body(reply));
        if (resp == NULL)
            err = ST_ERR_CORRUPT_MESSAGE;
        else if (resp->error != 0)
            err = (st_err_t)resp->error;
        else if (resp->body_case != STRATA__RESPONSE__BODY_INIT_PRODUCER_ID || resp->init_producer_id == NULL)
            err = ST_ERR_CORRUPT_MESSAGE;
        else if ((err = (st_err_t)resp->init_producer_id->error) == ST_OK) {
            pid = resp->init_producer_id->producer_id;
            epoch = resp->init_producer_id->producer_epoch;
            if (pid < 0 || epoch < 0 || epoch > INT16_MAX)
                err = ST_ERR_CORRUPT_MESSAGE;
        }
    }
    if (reply)
        nng_msg_free(reply);
    if (resp)
        strata__response__free_unpacked(resp, NULL);
    sc_client_lock(cl);
    if (err == ST_OK) {
        ST_DEBUG("sc_producer", "producer id %" PRId64 " epoch %d", pid, (int)epoch);
        p->pid = pid;
        p->epoch = (int16_t)epoch;
        p->pid_state = SC_PID_READY;
    } else if (err == ST_ERR_CLOSED || p->closing) {
        p->pid_state = SC_PID_NONE;
    } else if (st_err_retriable(err) || err == ST_ERR_COORDINATOR_NOT_AVAILABLE ||
               err == ST_ERR_REQUEST_TIMED_OUT || err == ST_ERR_NETWORK_EXCEPTION ||
               err == ST_ERR_CORRUPT_MESSAGE || err == ST_ERR_CONNECTION || err == ST_ERR_TIMEOUT) {
        p->pid_state = SC_PID_NONE;
        p->pid_retry_at = st_mono_ms() + (p->cl.conf.retry_backoff_ms > 0 ? p->cl.conf.retry_backoff_ms : 1);
        sc_client_wake_by(cl, p->pid_retry_at);
    } else {
        /* INVALID_PRODUCER_EPOCH (fenced), INVALID_REQUEST, ...: give up */
        p->pid_state = SC_PID_NONE;
        if (p->fatal == ST_OK)
            p->fatal = err;
    }
    sc_client_wakeup(cl);
    pthread_cond_broadcast(&cl->ucond);
    sc_client_unlock(cl);
}

/* Lock held: ask for a producer id or the next epoch when needed. */
static void sc_pid_tick(strata_producer_t *p, int64_t now, int64_t *next)
{
    if (p->pid_state != SC_PID_NONE || p->fatal != ST_OK || p->closing)
        return;
    if (p->acc.records == 0 && p->pend_n == 0)
        return; /* lazily, before the first send (a bump waits too) */
    if (now < p->pid_retry_at) {
        if (p->pid_retry_at < *next)
            *next = p->pid_retry_at;
        return;
    }
    sc_broker_t *br = sc_client_any_broker(&p->cl);
    if (br == NULL) {
        sc_client_md_want(&p->cl);
        p->pid_retry_at = now + (p->cl.conf.retry_backoff_ms > 0 ? p->cl.conf.retry_backoff_ms : 1);
        if (p->pid_retry_at < *next)
            *next = p->pid_retry_at;
        return;
    }
    sc_req_t *rq = sc_req_new(br, sc_pid_cb, p, (int)p->cl.conf.request_timeout_ms);
    if (rq == NULL)
        return;
    rq->build = sc_pid_build;
    p->pid_state = SC_PID_WAIT;
    sc_client_submit(&p->cl, rq);
}

/* Lock held: build requests for broker br while it has room. */
static void sc_produce_drain(strata_producer_t *p, sc_broker_t *br, int64_t now, int64_t *next)
{
    if (p->idem && (p->pid_state != SC_PID_READY || p->fatal != ST_OK))
        return;
    while (br->inflight < p->cl.conf.max_in_flight) {
        sc_preq_t *pr = NULL;
        sc_batch_t *tail = NULL;
        size_t bytes = 0;
        for (sc_atopic_t *t = p->acc.topics; t != NULL; t = t->next) {
            for (int32_t i = 0; i < t->n_parts; i++) {
                sc_apart_t *ap = &t->parts[i];
                if (ap->leader != br->id || ap->head == NULL)
                    continue;
                if (p->idem && ap->inflight > 0)
                    continue; /* one request per partition: order across retries */
                if (ap->head->retry_at_ms > now) {
                    if (ap->head->retry_at_ms < *next)
                        *next = ap->head->retry_at_ms;
                    continue;
                }
                while (ap->head != NULL && ap->head->retry_at_ms <= now &&
                       (!p->bump_wanted || sc_accum_sendable_in_bump(ap, ap->head)) &&
                       (bytes == 0 || bytes + ap->head->bytes <= (size_t)p->cl.conf.max_request_size)) {
                    if (pr == NULL && (pr = calloc(1, sizeof *pr)) == NULL)
                        return;
                    sc_batch_t *b = sc_accum_pop(&p->acc, ap);
                    if (p->idem)
                        sc_accum_assign_seq(ap, b, p->pid, p->epoch);
                    bytes += b->bytes;
                    ap->inflight++;
                    if (tail)
                        tail->next = b;
                    else
                        pr->batches = b;
                    tail = b;
                    pr->n_batches++;
                }
            }
        }
        if (pr == NULL)
            return;
        pr->p = p;
        sc_req_t *rq = sc_req_new(br, sc_produce_cb, pr, (int)p->cl.conf.request_timeout_ms);
        if (rq == NULL) {
            /* put the batches back in order */
            sc_batch_t *stack = NULL;
            while (pr->batches) {
                sc_batch_t *n = pr->batches->next;
                pr->batches->next = stack;
                stack = pr->batches;
                pr->batches = n;
            }
            while (stack) {
                sc_batch_t *n = stack->next;
                stack->topic->parts[stack->partition].inflight--;
                sc_accum_requeue(&p->acc, &stack->topic->parts[stack->partition], stack);
                stack = n;
            }
            free(pr);
            return;
        }
        rq->build = sc_produce_build;
        rq->no_reply = p->acks == 0;
        br->inflight++;
        sc_client_submit(&p->cl, rq);
    }
}

static void sc_producer_tick(sc_client_t *cl, int64_t now, int64_t *next)
{
    strata_producer_t *p = cl->owner;
    /* pending records whose topic became known */
    sc_pend_t **pp = &p->pend;
    sc_pend_t *expired = NULL;
    p->pend_tail = NULL;
    while (*pp != NULL) {
        sc_pend_t *pd = *pp;
        sc_atopic_t *t = pd->t;
        if (t->n_parts > 0 && pd->partition < t->n_parts) {
            if (sc_append(p, t, pd->partition, now, pd->timestamp, pd->key, pd->key_len, pd->value,
                          pd->value_len, pd->headers, pd->n_headers, pd->cb, pd->opaque) == ST_OK) {
                *pp = pd->next;
                p->pend_n--;
                p->pend_bytes -= pd->bytes;
                t->pend_n--;
                free(pd);
                continue;
            }
        } else if (now >= pd->deadline_ms || p->closing || p->fatal != ST_OK) {
            *pp = pd->next;
            p->pend_n--;
            p->pend_bytes -= pd->bytes;
            t->pend_n--;
            pd->next = expired;
            expired = pd;
            continue;
        } else {
            sc_client_md_want(cl);
        }
        p->pend_tail = pd;
        pp = &pd->next;
    }
    /* linger */
    int64_t due = sc_accum_linger(&p->acc, now, p->flushing > 0 || p->closing);
    if (due < *next)
        *next = due;
    /* expire ready batches (all of them once fenced), send the rest */
    sc_batch_t *failed = NULL;
    if (p->fatal != ST_OK)
        sc_accum_linger(&p->acc, now, true);
    for (sc_atopic_t *t = p->acc.topics; t != NULL; t = t->next) {
        for (int32_t i = 0; i < t->n_parts; i++) {
            sc_apart_t *ap = &t->parts[i];
            if (ap->reseq && p->pid_state == SC_PID_READY && !p->bump_wanted) {
                /* the epoch moved on: renumber what the broker refused */
                sc_accum_reset_seq(ap, p->pid, p->epoch);
                ap->reseq = false;
            }
            while (ap->head != NULL && (ap->head->deadline_ms <= now || p->fatal != ST_OK)) {
                sc_batch_t *b = sc_accum_pop(&p->acc, ap);
                b->next = failed;
                failed = b;
            }
            if (ap->head == NULL)
                continue;
            sc_broker_t *lb = ap->leader >= 0 ? sc_client_broker(cl, ap->leader) : NULL;
            if (lb == NULL || !sc_broker_usable(lb, now))
                sc_client_md_want(cl); /* no leader, or it is down: ask another broker */
        }
    }
    if (p->idem && p->bump_wanted && p->pid_state == SC_PID_READY &&
        sc_accum_bump_ready(&p->acc, p->pid, p->epoch)) {
        /* the old epoch is resolved everywhere: ask for the next one */
        p->bump_wanted = false;
        p->pid_state = SC_PID_NONE;
        p->pid_retry_at = 0;
    }
    if (p->idem)
        sc_pid_tick(p, now, next);
    for (size_t i = 0; i < cl->n_brokers; i++) {
        sc_broker_t *br = cl->brokers[i];
        if (!br->in_md)
            continue;
        if (sc_broker_usable(br, now))
            sc_produce_drain(p, br, now, next);
        else if (br->down_until > now && br->down_until < *next)
            *next = br->down_until; /* batches wait out its backoff (a reconnect wakes us too) */
    }
    if (expired != NULL) {
        sc_client_unlock(cl);
        for (sc_pend_t *pd = expired; pd != NULL; pd = pd->next)
            sc_pend_report(pd, p->fatal != ST_OK        ? p->fatal
                               : pd->t->md_err != ST_OK ? pd->t->md_err
                               : pd->t->n_parts > 0     ? ST_ERR_UNKNOWN_TOPIC_OR_PARTITION
                                                        : ST_ERR_TIMEOUT);
        while (expired != NULL) {
            sc_pend_t *n = expired->next;
            free(expired);
            expired = n;
        }
        sc_client_lock(cl);
        pthread_cond_broadcast(&cl->ucond);
    }
    sc_report_failed(p, failed, p->fatal != ST_OK ? p->fatal : ST_ERR_TIMEOUT);
}

static void sc_producer_on_metadata(sc_client_t *cl)
{
    strata_producer_t *p = cl->owner;
    for (sc_atopic_t *t = p->acc.topics; t != NULL; t = t->next) {
        sc_mdtopic_t *md = sc_client_md_topic(cl, t->name);
        if (md == NULL) {
            t->md_err = ST_ERR_UNKNOWN_TOPIC_OR_PARTITION;
            continue;
        }
        t->md_err = md->err;
        if (md->err != ST_OK || md->n_parts == 0)
            continue;
        int32_t *leaders = malloc((size_t)md->n_parts * sizeof *leaders);
        if (leaders == NULL)
            continue;
        for (int32_t i = 0; i < md->n_parts; i++)
            leaders[i] = md->parts[i].leader;
        sc_accum_set_partitions(t, md->n_parts, leaders);
        free(leaders);
        int64_t now = st_mono_ms();
        for (int32_t i = 0; i < t->n_parts; i++) {
            sc_apart_t *ap = &t->parts[i];
            if (!ap->leader_wait)
                continue;
            if (ap->leader < 0 || ap->leader == ap->failed_on) {
                /* the brokers have not heard of the move yet: ask again
                 * soon, while the batch waits out its backoff */
                if (ap->head != NULL && ap->head->retry_at_ms > now) {
                    int64_t at = now + SC_MOVE_POLL_MS;
                    sc_client_md_by(cl, at < ap->head->retry_at_ms ? at : ap->head->retry_at_ms);
                }
                continue;
            }
            /* the leader moved: retries go out now, not after the backoff */
            ap->leader_wait = false;
            for (sc_batch_t *b = ap->head; b != NULL; b = b->next)
                if (b->retry_at_ms > now)
                    b->retry_at_ms = now;
        }
    }
    sc_client_wakeup(cl);
}

/* Statistics (lock held): what waits where. */
static void sc_producer_stats(sc_client_t *cl, json_t *r)
{
    strata_producer_t *p = cl->owner;
    json_object_set_new(r, "records_queued", json_integer((json_int_t)p->acc.records));
    json_object_set_new(r, "bytes_queued", json_integer((json_int_t)p->acc.bytes));
    json_object_set_new(r, "batches_ready", json_integer((json_int_t)p->acc.n_ready));
    json_object_set_new(r, "records_waiting_metadata", json_integer((json_int_t)p->pend_n));
    json_object_set_new(r, "producer_id", json_integer(p->pid));
    json_object_set_new(r, "producer_epoch", json_integer(p->epoch));
}

static const sc_ops_t sc_producer_ops = {
    .tick = sc_producer_tick,
    .on_metadata = sc_producer_on_metadata,
    .stats = sc_producer_stats,
};

/* ----------------------------------------------------------- life cycle */

strata_producer_t *strata_producer_new(const strata_conf_t *conf, char *errstr, size_t errlen)
{
    strata_producer_t *p = calloc(1, sizeof *p);
    if (p == NULL) {
        if (errstr)
            snprintf(errstr, errlen, "out of memory");
        return NULL;
    }
    strata_conf_t *def = conf ? NULL : strata_conf_new();
    const strata_conf_t *c = conf ? conf : def;
    if (c == NULL) {
        free(p);
        return NULL;
    }
    p->acks = sc_conf_acks(c);
    p->pid = -1;
    p->epoch = -1;
    if (sc_conf_idempotence(c, &p->idem, errstr, errlen) != ST_OK) {
        strata_conf_free(def);
        free(p);
        return NULL;
    }
    sc_accum_init(&p->acc, sc_conf_codec(c), (size_t)c->batch_size, c->linger_ms, c->delivery_timeout_ms);
    st_err_t e = sc_client_init(&p->cl, c, &sc_producer_ops, p, errstr, errlen);
    strata_conf_free(def);
    if (e != ST_OK) {
        sc_accum_fini(&p->acc);
        free(p);
        return NULL;
    }
    sc_client_lock(&p->cl);
    p->cl.allow_auto_create = true;
    p->cl.kind = "producer";
    sc_client_unlock(&p->cl);
    return p;
}

size_t strata_producer_outstanding(strata_producer_t *p)
{
    sc_client_lock(&p->cl);
    size_t n = p->acc.records + p->pend_n;
    sc_client_unlock(&p->cl);
    return n;
}

strata_err_t strata_producer_flush(strata_producer_t *p, int timeout_ms)
{
    int64_t deadline = timeout_ms < 0 ? -1 : st_mono_ms() + timeout_ms;
    strata_err_t e = STRATA_OK;
    sc_client_lock(&p->cl);
    p->flushing++;
    sc_client_wakeup(&p->cl);
    while (p->acc.records + p->pend_n > 0) {
        if (deadline >= 0 && st_mono_ms() >= deadline) {
            e = STRATA_ERR_TIMEOUT;
            break;
        }
        sc_client_wait(&p->cl, deadline);
    }
    p->flushing--;
    sc_client_unlock(&p->cl);
    return e;
}

strata_err_t strata_producer_close(strata_producer_t *p, int timeout_ms)
{
    if (p == NULL)
        return STRATA_OK;
    strata_err_t e = strata_producer_flush(p, timeout_ms);
    sc_client_lock(&p->cl);
    p->closing = true;
    /* fail what is still queued (in-flight requests end when the sockets
     * close in sc_client_fini and report their own error) */
    sc_batch_t *failed = NULL;
    sc_accum_linger(&p->acc, st_mono_ms(), true);
    for (sc_atopic_t *t = p->acc.topics; t != NULL; t = t->next)
        for (int32_t i = 0; i < t->n_parts; i++)
            while (t->parts[i].head != NULL) {
                sc_batch_t *b = sc_accum_pop(&p->acc, &t->parts[i]);
                b->next = failed;
                failed = b;
            }
    sc_pend_t *pend = p->pend;
    p->pend = p->pend_tail = NULL;
    p->pend_n = 0;
    p->pend_bytes = 0;
    sc_report_failed(p, failed, ST_ERR_TIMEOUT);
    pthread_cond_broadcast(&p->cl.ucond);
    sc_client_unlock(&p->cl);
    while (pend != NULL) {
        sc_pend_t *n = pend->next;
        sc_pend_report(pend, ST_ERR_TIMEOUT);
        free(pend);
        pend = n;
    }
    sc_client_fini(&p->cl);
    sc_accum_fini(&p->acc);
    free(p);
    return e;
}
