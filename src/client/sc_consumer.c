/*
 * sc_consumer: consumer handle (see sc_consumer.h). Everything below
 * `cl` is guarded by cl.lock except the members marked "app", which only
 * the (single) application thread calling poll/seek/assign touches.
 * Stale answers are recognised by the assignment generation `gen` and the
 * per-partition seek `version` they were sent with.
 */
#include "client/sc_consumer.h"

#include <stdlib.h>
#include <string.h>

#include "client/sc_client.h"
#include "client/sc_group.h"
#include "common/st_batch.h"
#include "raw.pb-c.h"

typedef struct sc_fent {
    size_t idx;
    uint32_t version;
    int64_t offset;
} sc_fent_t;

typedef struct sc_fctx {
    strata_consumer_t *c;
    uint32_t gen;
    size_t n;
    sc_fent_t ent[];
} sc_fctx_t;

static void sc_chunk_free(sc_chunk_t *ch)
{
    if (ch == NULL)
        return;
    st_buf_free(&ch->frames);
    free(ch);
}

static sc_chunk_t *sc_chunk_new(sc_chunk_kind_t kind, uint32_t gen, size_t idx, uint32_t version)
{
    sc_chunk_t *ch = calloc(1, sizeof *ch);
    if (ch == NULL)
        return NULL;
    ch->kind = kind;
    ch->gen = gen;
    ch->idx = idx;
    ch->version = version;
    st_buf_init(&ch->frames);
    return ch;
}

/* Lock held. */
static void sc_enqueue(strata_consumer_t *c, sc_chunk_t *ch)
{
    ch->next = NULL;
    if (c->tail)
        c->tail->next = ch;
    else
        c->head = ch;
    c->tail = ch;
    c->queued += ch->frames.len;
    pthread_cond_broadcast(&c->cl.ucond);
}

static void sc_enqueue_event(strata_consumer_t *c, size_t idx, sc_chunk_kind_t kind, st_err_t err,
                             int64_t offset)
{
    sc_chunk_t *ch = sc_chunk_new(kind, c->gen, idx, c->parts[idx].version);
    if (ch == NULL)
        return;
    ch->err = err;
    ch->offset = offset;
    sc_enqueue(c, ch);
}

void sc_consumer_error_event(strata_consumer_t *c, size_t idx, st_err_t err, int64_t offset)
{
    sc_enqueue_event(c, idx, SC_CH_ERROR, err, offset);
}

/* Lock held: drop queued chunks of partition idx (all when idx == SIZE_MAX). */
static void sc_drop_queued(strata_consumer_t *c, size_t idx)
{
    sc_chunk_t **pp = &c->head;
    c->tail = NULL;
    while (*pp != NULL) {
        sc_chunk_t *ch = *pp;
        if (idx == SIZE_MAX || ch->idx == idx) {
            *pp = ch->next;
            c->queued -= ch->frames.len;
            sc_chunk_free(ch);
            continue;
        }
        c->tail = ch;
        pp = &ch->next;
    }
}

/* App thread: forget the current chunk. */
static void sc_drop_cur(strata_consumer_t *c)
{
    sc_consumer_drop_cur(c);
}

void sc_consumer_drop_cur(strata_consumer_t *c)
{
    if (c->in_batch) {
        st_batch_iter_fini(&c->it);
        c->in_batch = false;
    }
    if (c->cur != NULL) {
        sc_client_lock(&c->cl);
        c->queued -= c->cur->frames.len;
        sc_client_wakeup(&c->cl);
        sc_client_unlock(&c->cl);
        sc_chunk_free(c->cur);
        c->cur = NULL;
    }
}

static bool sc_fetch_retriable(st_err_t e)
{
    return st_err_retriable(e) || e == ST_ERR_REQUEST_TIMED_OUT || e == ST_ERR_NETWORK_EXCEPTION ||
           e == ST_ERR_NOT_LEADER_OR_FOLLOWER || e == ST_ERR_UNKNOWN_TOPIC_OR_PARTITION ||
           e == ST_ERR_LEADER_NOT_AVAILABLE || e == ST_ERR_FENCED_LEADER_EPOCH ||
           e == ST_ERR_UNKNOWN_LEADER_EPOCH || e == ST_ERR_OFFSET_NOT_AVAILABLE;
}

static int32_t sc_leader(sc_client_t *cl, const sc_cpart_t *cp)
{
    sc_mdtopic_t *t = sc_client_md_topic(cl, cp->topic);
    if (t == NULL || cp->partition >= t->n_parts)
        return -1;
    return t->parts[cp->partition].leader;
}

/* The broker to fetch cp from: its preferred read replica (KIP-392)
 * while valid, else its leader. */
static int32_t sc_fetch_from(sc_client_t *cl, sc_cpart_t *cp, int64_t now)
{
    if (cp->has_read_replica &&
        (now >= cp->read_replica_until || sc_client_broker(cl, cp->read_replica) == NULL))
        cp->has_read_replica = false;
    return cp->has_read_replica ? cp->read_replica : sc_leader(cl, cp);
}

/* ------------------------------------------------------------- fetch */

static const Strata__Raw__RawFetchPartitionResponse *sc_fetch_find(const Strata__Raw__RawFetchResponse *r,
                                                                   const char *topic, int32_t part)
{
    for (size_t i = 0; r && i < r->n_topics; i++) {
        const Strata__Raw__RawFetchTopicResponse *t = r->topics[i];
        if (t->name == NULL || strcmp(t->name, topic) != 0)
            continue;
        for (size_t k = 0; k < t->n_partitions; k++)
            if (t->partitions[k]->partition == part)
                return t->partitions[k];
    }
    return NULL;
}

static void sc_fetch_cb(sc_client_t *cl, sc_req_t *rq, st_err_t err, nng_msg *reply)
{
    sc_fctx_t *fx = rq->arg;
    strata_consumer_t *c = fx->c;
    Strata__Raw__RawResponse *resp = NULL;
    const Strata__Raw__RawFetchResponse *fr = NULL;
    sc_chunk_t **chunks = calloc(fx->n ? fx->n : 1, sizeof *chunks);
    st_err_t *errs = calloc(fx->n ? fx->n : 1, sizeof *errs);
    int64_t *hwms = calloc(fx->n ? fx->n : 1, sizeof *hwms);
    int32_t *prefs = calloc(fx->n ? fx->n : 1, sizeof *prefs);
    char **names = calloc(fx->n ? fx->n : 1, sizeof *names);
    int32_t *pnums = calloc(fx->n ? fx->n : 1, sizeof *pnums);

    if (chunks == NULL || errs == NULL || hwms == NULL || prefs == NULL || names == NULL || pnums == NULL)
        err = ST_ERR_NOMEM;
    if (err == ST_OK) {
        resp = strata__raw__raw_response__unpack(NULL, nng_msg_len(reply), nng_msg_body(reply));
        if (resp == NULL)
            err = ST_ERR_CORRUPT_MESSAGE;
        else if (resp->error != 0)
            err = (st_err_t)resp->error;
        else if (resp->body_case != STRATA__RAW__RAW_RESPONSE__BODY_FETCH)
            err = ST_ERR_CORRUPT_MESSAGE;
        else if (resp->fetch->error != 0)
            err = (st_err_t)resp->fetch->error;
        else
            fr = resp->fetch;
    }
    if (reply)
        nng_msg_free(reply);

    /* names of the partitions asked (read under the lock: parts may be
     * replaced by assign, which bumps gen) */
    sc_client_lock(cl);
    bool stale = fx->gen != c->gen;
    for (size_t i = 0; !stale && names && i < fx->n; i++) {
        names[i] = strdup(c->parts[fx->ent[i].idx].topic);
        pnums[i] = c->parts[fx->ent[i].idx].partition;
    }
    sc_client_unlock(cl);

    /* convert batches to frames off the lock */
    for (size_t i = 0; err == ST_OK && !stale && i < fx->n; i++) {
        const Strata__Raw__RawFetchPartitionResponse *pr =
            names[i] ? sc_fetch_find(fr, names[i], pnums[i]) : NULL;
        if (pr == NULL) {
            errs[i] = ST_ERR_UNKNOWN_TOPIC_OR_PARTITION;
            continue;
        }
        errs[i] = (st_err_t)pr->error;
        hwms[i] = pr->high_watermark;
        prefs[i] = pr->error == 0 ? pr->preferred_read_replica : -1;
        if (pr->error != 0 || pr->n_batches == 0)
            continue;
        sc_chunk_t *ch = sc_chunk_new(SC_CH_DATA, fx->gen, fx->ent[i].idx, fx->ent[i].version);
        if (ch == NULL) {
            errs[i] = ST_ERR_NOMEM;
            continue;
        }
        ch->offset = fx->ent[i].offset;
        size_t total = 0;
        for (size_t k = 0; k < pr->n_batches; k++)
            total += pr->batches[k].len;
        st_buf_reserve(&ch->frames, total);
        for (size_t k = 0; k < pr->n_batches; k++) {
            const char *why = NULL;
            st_err_t e = st_batch_from_wire(pr->batches[k].data, pr->batches[k].len, &ch->frames, &why);
            if (e != ST_OK) {
                /* keep the good batches before it, report the bad one */
                errs[i] = ST_ERR_CORRUPT_MESSAGE;
                break;
            }
        }
        if (ch->frames.len == 0) {
            sc_chunk_free(ch);
            continue;
        }
        chunks[i] = ch;
    }

    sc_client_lock(cl);
    rq->br->fetching--;
    if (fx->gen == c->gen)
        rq->br->fetch_cur--;
    int64_t now = st_mono_ms();
    stale = stale || fx->gen != c->gen;
    for (size_t i = 0; !stale && i < fx->n; i++) {
        sc_cpart_t *cp = &c->parts[fx->ent[i].idx];
        cp->fetching = false;
        if (cp->version != fx->ent[i].version || cp->state != SC_CP_ACTIVE)
            continue;
        st_err_t pe = err != ST_OK ? err : errs[i];
        sc_chunk_t *ch = chunks ? chunks[i] : NULL;
        if (ch != NULL) {
            /* advance past the last batch received */
            st_batch_hdr_t h;
            size_t off = 0, last = 0;
            while (off + ST_BATCH_HEADER_SIZE <= ch->frames.len &&
                   st_batch_hdr_decode(ch->frames.data + off, ch->frames.len - off, &h) == ST_OK) {
                last = off;
                off += st_batch_frame_size(&h);
            }
            st_batch_hdr_decode(ch->frames.data + last, ch->frames.len - last, &h);
            int64_t end = h.base_offset + h.last_offset_delta + 1;
            if (end > cp->fetch_pos)
                cp->fetch_pos = end;
            cp->eof_sent = false;
            sc_enqueue(c, ch);
            chunks[i] = NULL;
        }
        if (pe != ST_OK && cp->has_read_replica && rq->br->id == cp->read_replica) {
            /* KIP-392: any error from the read replica (e.g. an offset
             * beyond its high watermark): back to the leader at once */
            cp->has_read_replica = false;
            continue;
        }
        if (pe == ST_OK && prefs[i] >= 0 && prefs[i] != rq->br->id) {
            cp->has_read_replica = true;
            cp->read_replica = prefs[i];
            cp->read_replica_until = now + c->cl.conf.metadata_max_age_ms;
        }
        if (pe == ST_OK) {
            cp->hwm = hwms[i];
            if (c->cl.conf.enable_partition_eof && !cp->eof_sent && cp->fetch_pos >= cp->hwm) {
                cp->eof_sent = true;
                sc_enqueue_event(c, fx->ent[i].idx, SC_CH_EOF, ST_OK, cp->fetch_pos);
            }
        } else if (pe == ST_ERR_OFFSET_OUT_OF_RANGE && c->reset != 0) {
            cp->state = SC_CP_NEED_OFFSET;
            cp->want_ts = c->reset;
        } else if (pe == ST_ERR_OFFSET_OUT_OF_RANGE || pe == ST_ERR_CORRUPT_MESSAGE) {
            cp->state = SC_CP_STOPPED;
            sc_enqueue_event(c, fx->ent[i].idx, SC_CH_ERROR, pe, cp->fetch_pos);
        } else if (sc_fetch_retriable(pe)) {
            cp->retry_at = now + c->cl.conf.retry_backoff_ms;
            if (pe != ST_ERR_REQUEST_TIMED_OUT)
                sc_client_md_want(cl);
        } else if (pe != ST_ERR_CLOSED) {
            cp->retry_at = now + c->cl.conf.retry_backoff_ms;
            sc_enqueue_event(c, fx->ent[i].idx, SC_CH_ERROR, pe, cp->fetch_pos);
        }
    }
    sc_client_wakeup(cl);
    sc_client_unlock(cl);
    for (size_t i = 0; chunks && i < fx->n; i++)
        sc_chunk_free(chunks[i]);
    for (size_t i = 0; names && i < fx->n; i++)
        free(names[i]);
    free(chunks);
    free(errs);
    free(hwms);
    free(prefs);
    free(names);
    free(pnums);
    if (resp)
        strata__raw__raw_response__free_unpacked(resp, NULL);
    free(fx);
}

/* Lock held: one Fetch for broker br when it has none in flight. */
#define SC_FETCH_CUR 2
#define SC_FETCH_MAX 4

static void sc_fetch_send(strata_consumer_t *c, sc_broker_t *br, int64_t now, int64_t *next)
{
    /* Up to SC_FETCH_CUR fetches per broker for the current assignment,
     * each partition in at most one: a partition that becomes fetchable
     * (newly assigned, offset found, unpaused, answered) while another
     * fetch long-polls on the broker gets its own request at once instead
     * of waiting up to fetch.max.wait.ms. Fetches of an older assignment
     * (answers dropped) do not count, within a total cap. */
    if (br->fetch_cur >= SC_FETCH_CUR || br->fetching >= SC_FETCH_MAX ||
        c->queued >= (size_t)c->cl.conf.queued_max_kbytes * 1024)
        return;
    size_t n = 0;
    for (size_t i = 0; i < c->n_parts; i++) {
        sc_cpart_t *cp = &c->parts[i];
        if (cp->state != SC_CP_ACTIVE || cp->fetching || cp->paused ||
            sc_fetch_from(&c->cl, cp, now) != br->id)
            continue;
        if (cp->retry_at > now) {
            if (cp->retry_at < *next)
                *next = cp->retry_at;
            continue;
        }
        n++;
    }
    if (n == 0)
        return;
    sc_fctx_t *fx = calloc(1, sizeof *fx + n * sizeof fx->ent[0]);
    Strata__FetchTopicRequest *ts = calloc(n, sizeof *ts);
    Strata__FetchTopicRequest **tp = calloc(n, sizeof *tp);
    Strata__FetchPartitionRequest *ps = calloc(n, sizeof *ps);
    Strata__FetchPartitionRequest **pp = calloc(n, sizeof *pp);
    nng_msg *m = NULL;
    size_t nt = 0;
    if (!fx || !ts || !tp || !ps || !pp)
        goto out;
    fx->c = c;
    fx->gen = c->gen;
    for (size_t i = 0; i < c->n_parts; i++) {
        sc_cpart_t *cp = &c->parts[i];
        if (cp->state != SC_CP_ACTIVE || cp->fetching || cp->paused || cp->retry_at > now ||
            sc_fetch_from(&c->cl, cp, now) != br->id)
            continue;
        size_t k = fx->n;
        fx->ent[k].idx = i;
        fx->ent[k].version = cp->version;
        fx->ent[k].offset = cp->fetch_pos;
        strata__fetch_partition_request__init(&ps[k]);
        ps[k].partition = cp->partition;
        ps[k].fetch_offset = cp->fetch_pos;
        ps[k].max_bytes = (int32_t)c->cl.conf.max_partition_fetch_bytes;
        ps[k].current_leader_epoch = -1;
        ps[k].log_start_offset = -1;
        pp[k] = &ps[k];
        /* group by topic: partitions of one topic are contiguous in pp
         * only when assigned contiguously, so look the topic up */
        size_t t;
        for (t = 0; t < nt; t++)
            if (strcmp(ts[t].name, cp->topic) == 0)
                break;
        if (t == nt) {
            strata__fetch_topic_request__init(&ts[nt]);
            ts[nt].name = cp->topic;
            tp[nt] = &ts[nt];
            nt++;
        }
        fx->n++;
    }
    /* lay the partitions out per topic */
    Strata__FetchPartitionRequest **sorted = calloc(n, sizeof *sorted);
    if (sorted == NULL)
        goto out;
    size_t s = 0;
    for (size_t t = 0; t < nt; t++) {
        ts[t].partitions = &sorted[s];
        for (size_t k = 0; k < fx->n; k++)
            if (strcmp(c->parts[fx->ent[k].idx].topic, ts[t].name) == 0) {
                sorted[s++] = pp[k];
                ts[t].n_partitions++;
            }
    }
    Strata__FetchRequest f = STRATA__FETCH_REQUEST__INIT;
    Strata__Request req = STRATA__REQUEST__INIT;
    f.version = 1;
    f.max_wait_ms = (int32_t)c->cl.conf.fetch_max_wait_ms;
    f.min_bytes = (int32_t)c->cl.conf.fetch_min_bytes;
    f.max_bytes = (int32_t)c->cl.conf.fetch_max_bytes;
    if (c->cl.conf.client_rack && c->cl.conf.client_rack[0])
        f.rack_id = c->cl.conf.client_rack;
    f.topics = tp;
    f.n_topics = nt;
    req.body_case = STRATA__REQUEST__BODY_FETCH;
    req.fetch = &f;
    req.correlation_id = ++c->cl.corr;
    req.client_id = c->cl.conf.client_id;
    req.replica_id = -1;
    size_t len = strata__request__get_packed_size(&req);
    if (nng_msg_alloc(&m, len) == 0)
        strata__request__pack(&req, nng_msg_body(m));
    free(sorted);
    if (m == NULL)
        goto out;
    sc_req_t *rq =
        sc_req_new(br, sc_fetch_cb, fx, (int)(c->cl.conf.request_timeout_ms + c->cl.conf.fetch_max_wait_ms));
    if (rq == NULL)
        goto out;
    rq->msg = m;
    m = NULL;
    for (size_t k = 0; k < fx->n; k++)
        c->parts[fx->ent[k].idx].fetching = true;
    br->fetching++;
    br->fetch_cur++;
    sc_client_submit(&c->cl, rq);
    fx = NULL;
out:
    if (m)
        nng_msg_free(m);
    free(fx);
    free(ts);
    free(tp);
    free(ps);
    free(pp);
}

/* -------------------------------------------------------- ListOffsets */

static void sc_list_cb(sc_client_t *cl, sc_req_t *rq, st_err_t err, nng_msg *reply)
{
    sc_fctx_t *fx = rq->arg;
    strata_consumer_t *c = fx->c;
    Strata__Response *resp = NULL;
    if (err == ST_OK) {
        resp = strata__response__unpack(NULL, nng_msg_len(reply), nng_msg_body(reply));
        if (resp == NULL)
            err = ST_ERR_CORRUPT_MESSAGE;
        else if (resp->error != 0)
            err = (st_err_t)resp->error;
        else if (resp->body_case != STRATA__RESPONSE__BODY_LIST_OFFSETS)
            err = ST_ERR_CORRUPT_MESSAGE;
    }
    if (reply)
        nng_msg_free(reply);
    sc_client_lock(cl);
    rq->br->listing = false;
    int64_t now = st_mono_ms();
    for (size_t i = 0; fx->gen == c->gen && i < fx->n; i++) {
        sc_cpart_t *cp = &c->parts[fx->ent[i].idx];
        if (cp->version != fx->ent[i].version || cp->state != SC_CP_LISTING)
            continue;
        st_err_t pe = err;
        const Strata__ListOffsetsPartitionResult *r = NULL;
        for (size_t t = 0; pe == ST_OK && r == NULL && t < resp->list_offsets->n_topics; t++) {
            const Strata__ListOffsetsTopicResult *tr = resp->list_offsets->topics[t];
            if (tr->name == NULL || strcmp(tr->name, cp->topic) != 0)
                continue;
            for (size_t k = 0; k < tr->n_partitions; k++)
                if (tr->partitions[k]->partition == cp->partition)
                    r = tr->partitions[k];
        }
        if (pe == ST_OK)
            pe = r == NULL ? ST_ERR_UNKNOWN_TOPIC_OR_PARTITION : (st_err_t)r->error;
        cp->state = SC_CP_NEED_OFFSET;
        if (pe == ST_OK) {
            if (r->offset >= 0) {
                cp->fetch_pos = r->offset;
                cp->start = r->offset;
                cp->state = SC_CP_ACTIVE;
                cp->eof_sent = false;
            } else {
                cp->want_ts = -1; /* no record that late: go to the end */
            }
        } else if (sc_fetch_retriable(pe) || pe == ST_ERR_CLOSED) {
            cp->retry_at = now + c->cl.conf.retry_backoff_ms;
            if (pe != ST_ERR_CLOSED)
                sc_client_md_want(cl);
        } else {
            cp->state = SC_CP_STOPPED;
            sc_enqueue_event(c, fx->ent[i].idx, SC_CH_ERROR, pe, -1);
        }
    }
    sc_client_wakeup(cl);
    sc_client_unlock(cl);
    if (resp)
        strata__response__free_unpacked(resp, NULL);
    free(fx);
}

static void sc_list_send(strata_consumer_t *c, sc_broker_t *br, int64_t now, int64_t *next)
{
    if (br->listing)
        return;
    size_t n = 0;
    for (size_t i = 0; i < c->n_parts; i++) {
        sc_cpart_t *cp = &c->parts[i];
        if (cp->state == SC_CP_NEED_OFFSET && sc_leader(&c->cl, cp) == br->id) {
            if (cp->retry_at > now) {
                if (cp->retry_at < *next)
                    *next = cp->retry_at;
                continue;
            }
            n++;
        }
    }
    if (n == 0)
        return;
    sc_fctx_t *fx = calloc(1, sizeof *fx + n * sizeof fx->ent[0]);
    Strata__ListOffsetsTopic *ts = calloc(n, sizeof *ts);
    Strata__ListOffsetsTopic **tp = calloc(n, sizeof *tp);
    Strata__ListOffsetsPartition *ps = calloc(n, sizeof *ps);
    Strata__ListOffsetsPartition **pp = calloc(n, sizeof *pp);
    nng_msg *m = NULL;
    if (!fx || !ts || !tp || !ps || !pp)
        goto out;
    fx->c = c;
    fx->gen = c->gen;
    /* one topic entry per partition keeps this simple; brokers accept it */
    for (size_t i = 0; i < c->n_parts; i++) {
        sc_cpart_t *cp = &c->parts[i];
        if (cp->state != SC_CP_NEED_OFFSET || cp->retry_at > now || sc_leader(&c->cl, cp) != br->id)
            continue;
        size_t k = fx->n++;
        fx->ent[k].idx = i;
        fx->ent[k].version = cp->version;
        strata__list_offsets_partition__init(&ps[k]);
        ps[k].partition = cp->partition;
        ps[k].timestamp = cp->want_ts;
        ps[k].current_leader_epoch = -1;
        pp[k] = &ps[k];
        strata__list_offsets_topic__init(&ts[k]);
        ts[k].name = cp->topic;
        ts[k].partitions = &pp[k];
        ts[k].n_partitions = 1;
        tp[k] = &ts[k];
    }
    Strata__ListOffsetsRequest lo = STRATA__LIST_OFFSETS_REQUEST__INIT;
    Strata__Request req = STRATA__REQUEST__INIT;
    lo.version = 1;
    lo.topics = tp;
    lo.n_topics = fx->n;
    req.body_case = STRATA__REQUEST__BODY_LIST_OFFSETS;
    req.list_offsets = &lo;
    req.correlation_id = ++c->cl.corr;
    req.client_id = c->cl.conf.client_id;
    req.replica_id = -1;
    size_t len = strata__request__get_packed_size(&req);
    if (nng_msg_alloc(&m, len) != 0) {
        m = NULL;
        goto out;
    }
    strata__request__pack(&req, nng_msg_body(m));
    sc_req_t *rq = sc_req_new(br, sc_list_cb, fx, (int)c->cl.conf.request_timeout_ms);
    if (rq == NULL)
        goto out;
    rq->msg = m;
    m = NULL;
    for (size_t k = 0; k < fx->n; k++)
        c->parts[fx->ent[k].idx].state = SC_CP_LISTING;
    br->listing = true;
    sc_client_submit(&c->cl, rq);
    fx = NULL;
out:
    if (m)
        nng_msg_free(m);
    free(fx);
    free(ts);
    free(tp);
    free(ps);
    free(pp);
}

static void sc_consumer_tick(sc_client_t *cl, int64_t now, int64_t *next)
{
    strata_consumer_t *c = cl->owner;
    if (c->grp != NULL)
        sc_group_tick(c->grp, now, next);
    for (size_t i = 0; i < c->n_parts; i++) {
        sc_cpart_t *cp = &c->parts[i];
        if (cp->state != SC_CP_ACTIVE && cp->state != SC_CP_NEED_OFFSET)
            continue;
        sc_broker_t *lb = sc_client_broker(cl, sc_leader(cl, cp));
        if (lb == NULL || !sc_broker_usable(lb, now))
            sc_client_md_want(cl); /* no leader, or it is down: ask another broker */
    }
    for (size_t i = 0; i < cl->n_brokers; i++) {
        sc_broker_t *br = cl->brokers[i];
        if (!br->in_md)
            continue;
        if (!sc_broker_usable(br, now)) { /* wait out its backoff or a reconnect */
            if (br->down_until > now && br->down_until < *next)
                *next = br->down_until;
            continue;
        }
        sc_list_send(c, br, now, next);
        sc_fetch_send(c, br, now, next);
    }
}

static void sc_consumer_on_metadata(sc_client_t *cl)
{
    strata_consumer_t *c = cl->owner;
    if (c->grp != NULL)
        sc_group_on_metadata(c->grp);
    sc_client_wakeup(cl);
}

/* Statistics (lock held): per assigned partition, the fetch position,
 * the high watermark of the last answer and the lag between them. */
static void sc_consumer_stats(sc_client_t *cl, json_t *r)
{
    strata_consumer_t *c = cl->owner;
    json_t *ps = json_array();
    if (!ps)
        return;
    for (size_t i = 0; i < c->n_parts; i++) {
        const sc_cpart_t *cp = &c->parts[i];
        json_t *o = json_object();
        if (!o)
            break;
        json_object_set_new(o, "topic", json_string(cp->topic));
        json_object_set_new(o, "partition", json_integer(cp->partition));
        json_object_set_new(o, "fetch_offset", json_integer(cp->fetch_pos));
        json_object_set_new(o, "high_watermark", json_integer(cp->hwm));
        json_object_set_new(o, "lag",
                            json_integer(cp->hwm >= 0 && cp->fetch_pos >= 0 && cp->hwm > cp->fetch_pos
                                             ? cp->hwm - cp->fetch_pos
                                             : 0));
        json_object_set_new(o, "paused", json_boolean(cp->paused));
        json_array_append_new(ps, o);
    }
    json_object_set_new(r, "bytes_queued", json_integer((json_int_t)c->queued));
    json_object_set_new(r, "partitions", ps);
}

static const sc_ops_t sc_consumer_ops = {
    .tick = sc_consumer_tick,
    .on_metadata = sc_consumer_on_metadata,
    .stats = sc_consumer_stats,
};

/* ---------------------------------------------------------- public API */

strata_consumer_t *strata_consumer_new(const strata_conf_t *conf, char *errstr, size_t errlen)
{
    strata_consumer_t *c = calloc(1, sizeof *c);
    if (c == NULL)
        return NULL;
    strata_conf_t *def = conf ? NULL : strata_conf_new();
    const strata_conf_t *cf = conf ? conf : def;
    if (cf == NULL) {
        free(c);
        return NULL;
    }
    c->reset = sc_conf_reset(cf);
    st_err_t e = ST_OK;
    /* the group exists before the I/O thread starts: tick reads c->grp */
    if (cf->group_id != NULL && cf->group_id[0] != '\0')
        e = sc_group_new(c, cf, &c->grp, errstr, errlen);
    if (e == ST_OK)
        e = sc_client_init(&c->cl, cf, &sc_consumer_ops, c, errstr, errlen);
    strata_conf_free(def);
    if (e != ST_OK) {
        sc_group_free(c->grp);
        free(c);
        return NULL;
    }
    sc_client_lock(&c->cl);
    c->cl.kind = "consumer";
    sc_client_unlock(&c->cl);
    return c;
}

/* Lock held, gen just moved: fetches in flight belong to the old
 * assignment and no longer hold back fetches for the new one. */
static void sc_fetch_gen_moved(strata_consumer_t *c)
{
    for (size_t i = 0; i < c->cl.n_brokers; i++)
        c->cl.brokers[i]->fetch_cur = 0;
}

static void sc_parts_free(sc_cpart_t *parts, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(parts[i].topic);
    free(parts);
}

strata_err_t strata_consumer_assign(strata_consumer_t *c, const strata_tp_t *tps, size_t n)
{
    if (c == NULL || (n > 0 && tps == NULL))
        return STRATA_ERR_INVALID_ARG;
    if (c->grp != NULL && sc_group_subscribed(c->grp))
        return STRATA_ERR_STATE;
    sc_cpart_t *parts = calloc(n ? n : 1, sizeof *parts);
    if (parts == NULL)
        return STRATA_ERR_NOMEM;
    for (size_t i = 0; i < n; i++) {
        if (tps[i].topic == NULL || tps[i].partition < 0 || tps[i].offset < STRATA_OFFSET_BEGINNING ||
            (parts[i].topic = strdup(tps[i].topic)) == NULL) {
            sc_parts_free(parts, i);
            return tps[i].topic == NULL || tps[i].partition < 0 ? STRATA_ERR_INVALID_ARG : STRATA_ERR_NOMEM;
        }
        parts[i].partition = tps[i].partition;
        parts[i].hwm = -1;
        parts[i].start = -1;
        parts[i].pos = tps[i].offset >= 0 ? tps[i].offset : -1;
        parts[i].committed = -1;
        if (tps[i].offset >= 0) {
            parts[i].state = SC_CP_ACTIVE;
            parts[i].fetch_pos = tps[i].offset;
        } else {
            parts[i].state = SC_CP_NEED_OFFSET;
            parts[i].want_ts = tps[i].offset;
        }
    }
    sc_drop_cur(c);
    sc_client_lock(&c->cl);
    c->gen++;
    sc_fetch_gen_moved(c);
    sc_drop_queued(c, SIZE_MAX);
    sc_cpart_t *old = c->parts;
    size_t old_n = c->n_parts;
    c->parts = parts;
    c->n_parts = n;
    st_err_t e = ST_OK;
    for (size_t i = 0; i < n && e == ST_OK; i++)
        e = sc_client_md_interest(&c->cl, parts[i].topic);
    sc_client_md_want(&c->cl);
    sc_client_wakeup(&c->cl);
    sc_client_unlock(&c->cl);
    sc_parts_free(old, old_n);
    return (strata_err_t)e;
}

static strata_err_t sc_seek(strata_consumer_t *c, const char *topic, int32_t partition, int64_t offset,
                            bool by_time)
{
    if (c == NULL || topic == NULL)
        return STRATA_ERR_INVALID_ARG;
    if (c->cur != NULL) {
        /* pointers handed out by the last poll die here, as documented */
        size_t idx = c->cur->idx;
        if (idx < c->n_parts && strcmp(c->parts[idx].topic, topic) == 0 &&
            c->parts[idx].partition == partition)
            sc_drop_cur(c);
    }
    sc_client_lock(&c->cl);
    strata_err_t e = STRATA_ERR_NOT_FOUND;
    for (size_t i = 0; i < c->n_parts; i++) {
        sc_cpart_t *cp = &c->parts[i];
        if (cp->partition != partition || strcmp(cp->topic, topic) != 0)
            continue;
        cp->version++;
        cp->eof_sent = false;
        cp->retry_at = 0;
        cp->pos = !by_time && offset >= 0 ? offset : -1;
        if (!by_time && offset >= 0) {
            cp->state = SC_CP_ACTIVE;
            cp->fetch_pos = offset;
        } else {
            cp->state = SC_CP_NEED_OFFSET;
            cp->want_ts = offset;
        }
        sc_drop_queued(c, i);
        e = STRATA_OK;
    }
    sc_client_wakeup(&c->cl);
    sc_client_unlock(&c->cl);
    return e;
}

strata_err_t strata_consumer_seek(strata_consumer_t *c, const char *topic, int32_t partition, int64_t offset)
{
    if (offset < STRATA_OFFSET_BEGINNING)
        return STRATA_ERR_INVALID_ARG;
    return sc_seek(c, topic, partition, offset, false);
}

strata_err_t strata_consumer_seek_timestamp(strata_consumer_t *c, const char *topic, int32_t partition,
                                            int64_t timestamp_ms)
{
    if (timestamp_ms < 0)
        return STRATA_ERR_INVALID_ARG;
    return sc_seek(c, topic, partition, timestamp_ms, true);
}

/* App thread: the next record of the current chunk, or false. */
static bool sc_next_record(strata_consumer_t *c, strata_err_t *perr)
{
    sc_chunk_t *ch = c->cur;
    sc_cpart_t *cp = &c->parts[ch->idx];
    for (;;) {
        if (!c->in_batch) {
            st_batch_hdr_t h;
            if (ch->pos >= ch->frames.len ||
                st_batch_hdr_decode(ch->frames.data + ch->pos, ch->frames.len - ch->pos, &h) != ST_OK)
                return false;
            size_t fs = st_batch_frame_size(&h);
            if (fs > ch->frames.len - ch->pos)
                return false;
            /* skip whole batches below the wanted offset */
            if (h.base_offset + h.last_offset_delta < ch->offset) {
                ch->pos += fs;
                continue;
            }
            st_err_t e = st_batch_iter_init(&c->it, ch->frames.data + ch->pos, fs);
            ch->pos += fs;
            if (e != ST_OK) {
                st_batch_iter_fini(&c->it);
                *perr = STRATA_ERR_CORRUPT_MESSAGE;
                return true;
            }
            c->in_batch = true;
        }
        st_record_t rec;
        st_err_t e = st_batch_iter_next(&c->it, &rec);
        if (e == ST_ERR_NOT_FOUND) {
            st_batch_iter_fini(&c->it);
            c->in_batch = false;
            continue;
        }
        if (e != ST_OK) {
            st_batch_iter_fini(&c->it);
            c->in_batch = false;
            *perr = STRATA_ERR_CORRUPT_MESSAGE;
            return true;
        }
        if (rec.offset < ch->offset)
            continue;
        cp->pos = rec.offset + 1;
        if (rec.n_headers > c->hdrs_cap) {
            strata_header_t *v = realloc(c->hdrs, rec.n_headers * sizeof *v);
            if (v == NULL) {
                *perr = STRATA_ERR_NOMEM;
                return true;
            }
            c->hdrs = v;
            c->hdrs_cap = rec.n_headers;
        }
        for (size_t i = 0; i < rec.n_headers; i++) {
            c->hdrs[i].key = rec.headers[i].key;
            c->hdrs[i].key_len = rec.headers[i].key_len;
            c->hdrs[i].value = rec.headers[i].value;
            c->hdrs[i].value_len = rec.headers[i].value_len;
        }
        strata_message_t *m = &c->msg;
        m->err = STRATA_OK;
        m->topic = cp->topic;
        m->partition = cp->partition;
        m->offset = rec.offset;
        m->timestamp = rec.timestamp;
        m->key = rec.key;
        m->key_len = rec.key_len;
        m->value = rec.value;
        m->value_len = rec.value_len;
        m->headers = c->hdrs;
        m->n_headers = rec.n_headers;
        *perr = STRATA_OK;
        return true;
    }
}

strata_err_t strata_consumer_poll(strata_consumer_t *c, int timeout_ms, const strata_message_t **msg)
{
    if (c == NULL || msg == NULL)
        return STRATA_ERR_INVALID_ARG;
    int64_t deadline = timeout_ms < 0 ? -1 : st_mono_ms() + timeout_ms;
    *msg = NULL;
    for (;;) {
        if (c->grp != NULL)
            sc_group_poll(c->grp, deadline);
        if (c->cur != NULL) {
            sc_chunk_t *ch = c->cur;
            bool stale =
                ch->gen != c->gen || ch->idx >= c->n_parts || c->parts[ch->idx].version != ch->version;
            if (!stale && ch->kind == SC_CH_DATA) {
                strata_err_t e;
                if (sc_next_record(c, &e)) {
                    if (e != STRATA_OK) {
                        memset(&c->msg, 0, sizeof c->msg);
                        c->msg.err = e;
                        c->msg.topic = c->parts[ch->idx].topic;
                        c->msg.partition = c->parts[ch->idx].partition;
                        c->msg.offset = -1;
                    }
                    *msg = &c->msg;
                    return STRATA_OK;
                }
            } else if (!stale) {
                memset(&c->msg, 0, sizeof c->msg);
                c->msg.err = ch->kind == SC_CH_EOF ? STRATA_ERR_PARTITION_EOF : (strata_err_t)ch->err;
                c->msg.topic = c->parts[ch->idx].topic;
                c->msg.partition = c->parts[ch->idx].partition;
                c->msg.offset = ch->offset;
                sc_drop_cur(c);
                *msg = &c->msg;
                return STRATA_OK;
            }
            sc_drop_cur(c);
        }
        sc_client_lock(&c->cl);
        while (c->head == NULL) {
            if (deadline >= 0 && st_mono_ms() >= deadline) {
                sc_client_unlock(&c->cl);
                return STRATA_ERR_TIMEOUT;
            }
            if (c->grp != NULL && sc_group_needs_poll(c->grp))
                break;
            sc_client_wait(&c->cl, deadline);
        }
        if (c->head == NULL) {
            sc_client_unlock(&c->cl);
            continue;
        }
        c->cur = c->head;
        c->head = c->cur->next;
        if (c->head == NULL)
            c->tail = NULL;
        c->cur->next = NULL;
        sc_client_unlock(&c->cl);
    }
}

static st_err_t sc_list_one(strata_consumer_t *c, sc_broker_t *br, const char *topic, int32_t partition,
                            int64_t ts, int timeout_ms, int64_t *out)
{
    Strata__ListOffsetsPartition lp = STRATA__LIST_OFFSETS_PARTITION__INIT;
    Strata__ListOffsetsPartition *lpp = &lp;
    Strata__ListOffsetsTopic lt = STRATA__LIST_OFFSETS_TOPIC__INIT;
    Strata__ListOffsetsTopic *ltp = &lt;
    Strata__ListOffsetsRequest lo = STRATA__LIST_OFFSETS_REQUEST__INIT;
    Strata__Request req = STRATA__REQUEST__INIT;
    Strata__Response *resp = NULL;
    lp.partition = partition;
    lp.timestamp = ts;
    lp.current_leader_epoch = -1;
    lt.name = (char *)topic;
    lt.partitions = &lpp;
    lt.n_partitions = 1;
    lo.version = 1;
    lo.topics = &ltp;
    lo.n_topics = 1;
    req.body_case = STRATA__REQUEST__BODY_LIST_OFFSETS;
    req.list_offsets = &lo;
    st_err_t e = sc_client_call(&c->cl, br, &req, timeout_ms, &resp);
    if (e == ST_OK && (resp->body_case != STRATA__RESPONSE__BODY_LIST_OFFSETS ||
                       resp->list_offsets->n_topics < 1 || resp->list_offsets->topics[0]->n_partitions < 1))
        e = ST_ERR_CORRUPT_MESSAGE;
    if (e == ST_OK) {
        const Strata__ListOffsetsPartitionResult *r = resp->list_offsets->topics[0]->partitions[0];
        e = (st_err_t)r->error;
        *out = r->offset;
    }
    if (resp)
        strata__response__free_unpacked(resp, NULL);
    return e;
}

static st_err_t sc_leader_sync(strata_consumer_t *c, const char *topic, int32_t partition, int timeout_ms,
                               sc_broker_t **out);

strata_err_t strata_consumer_offset_for_time(strata_consumer_t *c, const char *topic, int32_t partition,
                                             int64_t timestamp_ms, int64_t *offset, int timeout_ms)
{
    if (c == NULL || topic == NULL || partition < 0 || timestamp_ms < 0 || offset == NULL)
        return STRATA_ERR_INVALID_ARG;
    sc_broker_t *br = NULL;
    st_err_t e = sc_leader_sync(c, topic, partition, timeout_ms, &br);
    if (e == ST_OK)
        e = sc_list_one(c, br, topic, partition, timestamp_ms, timeout_ms, offset);
    return (strata_err_t)e;
}

strata_err_t strata_consumer_query_watermarks(strata_consumer_t *c, const char *topic, int32_t partition,
                                              int64_t *low, int64_t *high, int timeout_ms)
{
    if (c == NULL || topic == NULL || partition < 0)
        return STRATA_ERR_INVALID_ARG;
    sc_broker_t *br = NULL;
    st_err_t e = sc_leader_sync(c, topic, partition, timeout_ms, &br);
    if (e == ST_OK && low)
        e = sc_list_one(c, br, topic, partition, -2, timeout_ms, low);
    if (e == ST_OK && high)
        e = sc_list_one(c, br, topic, partition, -1, timeout_ms, high);
    return (strata_err_t)e;
}

/* App thread: the leader of a partition, metadata refreshed first. */
static st_err_t sc_leader_sync(strata_consumer_t *c, const char *topic, int32_t partition, int timeout_ms,
                               sc_broker_t **out)
{
    sc_client_lock(&c->cl);
    st_err_t e = sc_client_md_interest(&c->cl, topic);
    sc_client_unlock(&c->cl);
    if (e == ST_OK)
        e = sc_client_md_refresh(&c->cl, timeout_ms);
    if (e != ST_OK)
        return e;
    sc_client_lock(&c->cl);
    sc_mdtopic_t *t = sc_client_md_topic(&c->cl, topic);
    sc_broker_t *br = NULL;
    if (t == NULL || t->err != ST_OK || partition >= t->n_parts)
        e = t && t->err != ST_OK ? t->err : ST_ERR_UNKNOWN_TOPIC_OR_PARTITION;
    else if ((br = sc_client_broker(&c->cl, t->parts[partition].leader)) == NULL)
        e = ST_ERR_LEADER_NOT_AVAILABLE;
    sc_client_unlock(&c->cl);
    *out = br;
    return e;
}

void strata_consumer_close(strata_consumer_t *c)
{
    if (c == NULL)
        return;
    sc_drop_cur(c);
    if (c->grp != NULL)
        sc_group_close(c->grp);
    sc_client_fini(&c->cl);
    sc_group_free(c->grp);
    sc_drop_queued(c, SIZE_MAX);
    sc_parts_free(c->parts, c->n_parts);
    free(c->hdrs);
    free(c);
}

/* ------------------------------------------------ group assignment */

st_err_t sc_consumer_set_parts(strata_consumer_t *c, const sc_assign_tp_t *tps, size_t n,
                               sc_cstate_t fresh_state, bool add_interest)
{
    sc_cpart_t *parts = calloc(n ? n : 1, sizeof *parts);
    if (parts == NULL)
        return ST_ERR_NOMEM;
    for (size_t i = 0; i < n; i++) {
        if ((parts[i].topic = strdup(tps[i].topic)) == NULL) {
            sc_parts_free(parts, i);
            return ST_ERR_NOMEM;
        }
        parts[i].partition = tps[i].partition;
        parts[i].state = fresh_state;
        parts[i].want_ts = c->reset != 0 ? c->reset : -1;
        parts[i].hwm = -1;
        parts[i].start = -1;
        parts[i].pos = -1;
        parts[i].committed = -1;
        /* a partition kept from the old assignment continues where the
         * application is (records fetched but not returned are refetched) */
        for (size_t k = 0; k < c->n_parts; k++) {
            const sc_cpart_t *o = &c->parts[k];
            if (o->partition != tps[i].partition || strcmp(o->topic, tps[i].topic) != 0)
                continue;
            parts[i].paused = o->paused;
            parts[i].committed = o->committed;
            parts[i].hwm = o->hwm;
            if (o->pos >= 0) {
                parts[i].state = SC_CP_ACTIVE;
                parts[i].fetch_pos = o->pos;
                parts[i].pos = o->pos;
            } else if (o->state != SC_CP_ACTIVE && o->state != SC_CP_LISTING) {
                parts[i].state = o->state;
                parts[i].want_ts = o->want_ts;
            }
            break;
        }
        if (parts[i].state == SC_CP_LISTING)
            parts[i].state = SC_CP_NEED_OFFSET;
    }
    sc_drop_cur(c);
    sc_client_lock(&c->cl);
    c->gen++;
    sc_fetch_gen_moved(c);
    sc_drop_queued(c, SIZE_MAX);
    sc_cpart_t *old = c->parts;
    size_t old_n = c->n_parts;
    c->parts = parts;
    c->n_parts = n;
    st_err_t e = ST_OK;
    for (size_t i = 0; add_interest && i < n && e == ST_OK; i++)
        e = sc_client_md_interest(&c->cl, parts[i].topic);
    sc_client_md_want(&c->cl);
    sc_client_wakeup(&c->cl);
    sc_client_unlock(&c->cl);
    sc_parts_free(old, old_n);
    return e;
}
