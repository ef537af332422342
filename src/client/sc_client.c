/*
 * sc_client: connections, requests, metadata and the I/O thread shared by
 * producer, consumer and admin handles (see sc_client.h for the locking
 * rules). Request life: sc_req_new -> sc_client_submit (send queue) ->
 * I/O thread builds and nng_ctx_send()s it -> aio callback: SEND done ->
 * nng_ctx_recv -> RECV done -> done list -> I/O thread runs the owner's
 * callback unlocked -> freed.
 */
#include "client/sc_client.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "common/st_log.h"
#include "config.h"

#define SC_TAG "client"

void sc_client_lock(sc_client_t *cl)
{
    pthread_mutex_lock(&cl->lock);
}

void sc_client_unlock(sc_client_t *cl)
{
    pthread_mutex_unlock(&cl->lock);
}

void sc_client_wakeup(sc_client_t *cl)
{
    pthread_cond_signal(&cl->cond);
}

void sc_client_wake_by(sc_client_t *cl, int64_t at_ms)
{
    if (at_ms < cl->wake_at)
        pthread_cond_signal(&cl->cond);
}

static void sc_abstime(int64_t deadline_ms, struct timespec *ts)
{
    /* conds use CLOCK_MONOTONIC (see sc_client_init) */
    ts->tv_sec = deadline_ms / 1000;
    ts->tv_nsec = (deadline_ms % 1000) * 1000000;
}

void sc_client_wait(sc_client_t *cl, int64_t deadline_ms)
{
    if (deadline_ms < 0) {
        pthread_cond_wait(&cl->ucond, &cl->lock);
        return;
    }
    struct timespec ts;
    sc_abstime(deadline_ms, &ts);
    pthread_cond_timedwait(&cl->ucond, &cl->lock, &ts);
}

/* ------------------------------------------------------------ brokers */

/* How long a metadata request or an any-broker call waits for some
 * broker to be connected before it picks one blindly (a first dial to a
 * live broker takes milliseconds; one to a dead one never ends). */
#define SC_FIRST_CONNECT_WAIT_MS 1000

void sc_broker_mark_down(sc_client_t *cl, sc_broker_t *br, int64_t now)
{
    int64_t min = cl->conf.reconnect_backoff_ms, max = cl->conf.reconnect_backoff_max_ms;
    if (max < min)
        max = min;
    if (br->down_until > now)
        return; /* already backing off: one failure per backoff period */
    br->backoff_ms = br->backoff_ms <= 0 ? min : br->backoff_ms * 2;
    if (br->backoff_ms > max)
        br->backoff_ms = max;
    br->down_until = now + br->backoff_ms;
    ST_DEBUG(SC_TAG, "broker %d (%s) down for %lld ms", br->id, br->url, (long long)br->backoff_ms);
    if (cl->ops != NULL)
        sc_client_md_urgent(cl); /* its partitions need other leaders now */
}

bool sc_broker_usable(const sc_broker_t *br, int64_t now)
{
    return now >= br->down_until && (br->pipes > 0 || !br->was_connected);
}

/* nng's thread: a connection to a broker came up or went away. With
 * resending off, requests in flight on a lost one can never be answered,
 * so the I/O thread aborts them (they fail with NETWORK_EXCEPTION and are
 * retried) instead of letting them wait for request.timeout.ms. */
static void sc_pipe_event(nng_pipe pipe, nng_pipe_ev ev, void *arg)
{
    (void)pipe;
    sc_broker_t *br = arg;
    sc_client_t *cl = br->cl;
    pthread_mutex_lock(&cl->lock);
    if (ev == NNG_PIPE_EV_ADD_POST) {
        br->pipes++;
        br->was_connected = true;
        br->down_until = 0;
        br->backoff_ms = 0;
    } else {
        if (br->pipes > 0)
            br->pipes--;
        br->pipe_lost = true;
        if (br->pipes == 0)
            sc_broker_mark_down(cl, br, st_mono_ms());
    }
    pthread_cond_signal(&cl->cond);
    pthread_cond_broadcast(&cl->ucond);
    pthread_mutex_unlock(&cl->lock);
}

static st_err_t sc_broker_open(sc_client_t *cl, sc_broker_t *br)
{
    net_sock_opts_t o = {
        .recv_max = (size_t)cl->conf.fetch_max_bytes + (size_t)cl->conf.max_request_size + (1u << 20),
        .reconnect_min_ms = cl->conf.reconnect_backoff_ms,
        .reconnect_max_ms = cl->conf.reconnect_backoff_max_ms,
        .pipe_cb = sc_pipe_event,
        .pipe_arg = br,
    };
    st_err_t err = net_sock_open(&br->sock, br->url, &o, NULL);
    br->open = err == ST_OK;
    return err;
}

static sc_broker_t *sc_broker_add(sc_client_t *cl, int32_t id, const char *url, st_err_t *err)
{
    sc_broker_t **v = realloc(cl->brokers, (cl->n_brokers + 1) * sizeof *v);
    sc_broker_t *br = calloc(1, sizeof *br);
    if (v != NULL)
        cl->brokers = v;
    if (v == NULL || br == NULL || (br->url = strdup(url)) == NULL) {
        free(br);
        *err = ST_ERR_NOMEM;
        return NULL;
    }
    br->id = id;
    br->cl = cl;
    *err = sc_broker_open(cl, br);
    if (*err != ST_OK) {
        if (br->open)
            nng_close(br->sock);
        free(br->url);
        free(br);
        return NULL;
    }
    cl->brokers[cl->n_brokers++] = br;
    return br;
}

sc_broker_t *sc_client_broker(sc_client_t *cl, int32_t id)
{
    if (id < 0)
        return NULL;
    for (size_t i = 0; i < cl->n_brokers; i++)
        if (cl->brokers[i]->id == id && cl->brokers[i]->in_md)
            return cl->brokers[i];
    return NULL;
}

/* Candidate set of sc_client_any_broker: 1 = brokers in the metadata, 0 =
 * every entry (no metadata yet, or none of its brokers is usable). */
static bool sc_any_md_only(sc_client_t *cl, int64_t now)
{
    for (size_t i = 0; i < cl->n_brokers; i++)
        if (cl->brokers[i]->in_md && sc_broker_usable(cl->brokers[i], now))
            return true;
    return false;
}

bool sc_client_any_connected(sc_client_t *cl)
{
    int64_t now = st_mono_ms();
    bool md_only = sc_any_md_only(cl, now);
    for (size_t i = 0; i < cl->n_brokers; i++) {
        sc_broker_t *br = cl->brokers[i];
        if ((!md_only || br->in_md) && br->pipes > 0 && now >= br->down_until)
            return true;
    }
    return false;
}

sc_broker_t *sc_client_any_broker(sc_client_t *cl)
{
    if (cl->n_brokers == 0)
        return NULL;
    int64_t now = st_mono_ms();
    bool md_only = sc_any_md_only(cl, now);
    /* class 2: connected and usable; 1: usable (first dial under way);
     * 0: down (the earliest end of backoff wins) */
    int best_class = -1;
    sc_broker_t *best = NULL;
    size_t start = cl->rr++;
    for (size_t k = 0; k < cl->n_brokers; k++) {
        sc_broker_t *br = cl->brokers[(start + k) % cl->n_brokers];
        if (md_only && !br->in_md)
            continue;
        int c = !sc_broker_usable(br, now) ? 0 : br->pipes > 0 ? 2 : 1;
        if (c > best_class || (c == 0 && best_class == 0 && br->down_until < best->down_until)) {
            best_class = c;
            best = br;
        }
    }
    return best != NULL ? best : cl->brokers[0];
}

/* ----------------------------------------------------------- requests */

sc_req_t *sc_req_new(sc_broker_t *br, sc_req_cb cb, void *arg, int timeout_ms)
{
    sc_req_t *rq = calloc(1, sizeof *rq);
    if (rq == NULL)
        return NULL;
    rq->br = br;
    rq->cb = cb;
    rq->arg = arg;
    rq->timeout_ms = timeout_ms;
    rq->state = SC_REQ_QUEUED;
    return rq;
}

static void sc_req_free(sc_req_t *rq)
{
    net_req_fini(&rq->net);
    if (rq->msg != NULL)
        nng_msg_free(rq->msg);
    if (rq->reply != NULL)
        nng_msg_free(rq->reply);
    free(rq);
}

void sc_client_submit(sc_client_t *cl, sc_req_t *rq)
{
    rq->cl = cl;
    rq->next = NULL;
    rq->lprev = NULL;
    rq->lnext = cl->live;
    if (cl->live)
        cl->live->lprev = rq;
    cl->live = rq;
    if (cl->sendq_tail)
        cl->sendq_tail->next = rq;
    else
        cl->sendq = rq;
    cl->sendq_tail = rq;
    cl->n_reqs++;
    pthread_cond_signal(&cl->cond);
}

/* Any thread: put rq on the done list. */
static void sc_req_finish(sc_req_t *rq, st_err_t err, nng_msg *reply)
{
    sc_client_t *cl = rq->cl;
    pthread_mutex_lock(&cl->lock);
    if (rq->disconnected && err == ST_ERR_CLOSED)
        err = ST_ERR_NETWORK_EXCEPTION;
    /* Kafka: a connection that cannot be set up, or a request timing out
     * after request.timeout.ms (not a caller's shorter API timeout), puts
     * the broker in reconnect backoff and asks for metadata elsewhere */
    if (!cl->stopping && rq->br != NULL &&
        ((err == ST_ERR_NETWORK_EXCEPTION && !rq->disconnected) ||
         (err == ST_ERR_REQUEST_TIMED_OUT && rq->timeout_ms >= cl->conf.request_timeout_ms)))
        sc_broker_mark_down(cl, rq->br, st_mono_ms());
    if (err == ST_OK && reply != NULL && rq->br != NULL && rq->start_us > 0) {
        int64_t rtt = st_mono_us() - rq->start_us;
        rq->br->rtt_n++;
        rq->br->rtt_sum_us += rtt;
        if (rtt > rq->br->rtt_max_us)
            rq->br->rtt_max_us = rtt;
    }
    rq->err = err;
    rq->reply = reply;
    rq->state = SC_REQ_DONE;
    rq->next = NULL;
    if (cl->done_tail)
        cl->done_tail->next = rq;
    else
        cl->done = rq;
    cl->done_tail = rq;
    pthread_cond_signal(&cl->cond);
    pthread_mutex_unlock(&cl->lock);
}

/* nng's thread: the request was sent; false (closing) ends it. */
static bool sc_req_sent(void *arg)
{
    sc_req_t *rq = arg;
    pthread_mutex_lock(&rq->cl->lock);
    rq->state = SC_REQ_RECV;
    bool stopping = rq->cl->stopping;
    pthread_mutex_unlock(&rq->cl->lock);
    return !stopping;
}

/* nng's thread: the exchange ended. */
static void sc_req_done(void *arg, st_err_t e, nng_msg *reply, bool sent)
{
    sc_req_t *rq = arg;
    /* req0 completes a send once a connection took the message: a
     * timeout before that means no connection came up (nothing sent) */
    if (!sent && e == ST_ERR_REQUEST_TIMED_OUT && rq->setup_bound)
        e = ST_ERR_NETWORK_EXCEPTION;
    sc_req_finish(rq, e, reply);
}

/* I/O thread, unlocked: build and send one request. */
static void sc_req_start(sc_client_t *cl, sc_req_t *rq)
{
    st_err_t e = ST_OK;
    if (rq->msg == NULL && rq->build != NULL)
        e = rq->build(cl, rq, &rq->msg);
    if (e == ST_OK && rq->msg == NULL)
        e = ST_ERR_INVALID_ARG;
    if (e == ST_OK)
        e = net_req_init(&rq->net, rq->br->sock, sc_req_done, rq);
    if (e != ST_OK) {
        sc_req_finish(rq, e, NULL);
        return;
    }
    int send_to = (int)cl->conf.connection_setup_timeout_ms;
    rq->setup_bound = true;
    if (rq->timeout_ms >= 0 && rq->timeout_ms < send_to) {
        send_to = rq->timeout_ms;
        rq->setup_bound = false;
    }
    rq->net.sent = sc_req_sent;
    rq->net.no_reply = rq->no_reply;
    pthread_mutex_lock(&cl->lock);
    rq->state = SC_REQ_SEND;
    rq->start_us = st_mono_us();
    pthread_mutex_unlock(&cl->lock);
    nng_msg *msg = rq->msg;
    rq->msg = NULL;
    net_req_start(&rq->net, msg, send_to, rq->timeout_ms);
}

st_err_t sc_client_pack(sc_client_t *cl, Strata__Request *req, nng_msg **out)
{
    pthread_mutex_lock(&cl->lock);
    req->correlation_id = ++cl->corr;
    pthread_mutex_unlock(&cl->lock);
    req->client_id = cl->conf.client_id;
    req->replica_id = -1;
    size_t n = strata__request__get_packed_size(req);
    nng_msg *m;
    if (nng_msg_alloc(&m, n) != 0)
        return ST_ERR_NOMEM;
    strata__request__pack(req, nng_msg_body(m));
    *out = m;
    return ST_OK;
}

/* ----------------------------------------------------------- metadata */

void sc_client_md_want(sc_client_t *cl)
{
    if (!cl->md_wanted) {
        cl->md_wanted = true;
        pthread_cond_signal(&cl->cond);
    }
}

void sc_client_md_urgent(sc_client_t *cl)
{
    cl->md_urgent = true;
    cl->md_wanted = false; /* force the signal below */
    sc_client_md_want(cl);
}

void sc_client_md_by(sc_client_t *cl, int64_t at_ms)
{
    if (!cl->md_wanted || at_ms < cl->md_retry_ms)
        cl->md_retry_ms = at_ms;
    sc_client_md_want(cl);
}

st_err_t sc_client_md_interest(sc_client_t *cl, const char *topic)
{
    for (size_t i = 0; i < cl->n_interest; i++)
        if (strcmp(cl->interest[i], topic) == 0)
            return ST_OK;
    char **v = realloc(cl->interest, (cl->n_interest + 1) * sizeof *v);
    if (v == NULL)
        return ST_ERR_NOMEM;
    cl->interest = v;
    if ((v[cl->n_interest] = strdup(topic)) == NULL)
        return ST_ERR_NOMEM;
    cl->n_interest++;
    sc_client_md_want(cl);
    return ST_OK;
}

sc_mdtopic_t *sc_client_md_topic(sc_client_t *cl, const char *topic)
{
    for (size_t i = 0; i < cl->n_topics; i++)
        if (strcmp(cl->topics[i].name, topic) == 0)
            return &cl->topics[i];
    return NULL;
}

static void sc_md_free_topics(sc_mdtopic_t *t, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(t[i].name);
        free(t[i].parts);
    }
    free(t);
}

/* Lock held: install a metadata response. */
static void sc_md_apply(sc_client_t *cl, const Strata__MetadataResponse *md)
{
    for (size_t i = 0; i < cl->n_brokers; i++)
        cl->brokers[i]->in_md = false;
    for (size_t i = 0; i < md->n_brokers; i++) {
        const Strata__BrokerMetadata *b = md->brokers[i];
        char url[512];
        if (b->url != NULL && b->url[0] != '\0')
            snprintf(url, sizeof url, "%s", b->url);
        else
            snprintf(url, sizeof url, "tcp://%s:%d", b->host ? b->host : "127.0.0.1", b->port);
        sc_broker_t *br = NULL;
        for (size_t k = 0; k < cl->n_brokers; k++)
            if (cl->brokers[k]->id == b->id)
                br = cl->brokers[k];
        if (br == NULL) {
            st_err_t e;
            br = sc_broker_add(cl, b->id, url, &e);
            if (br == NULL) {
                ST_WARN(SC_TAG, "broker %d at %s: %s", b->id, url, st_err_name(e));
                continue;
            }
        }
        br->in_md = true;
    }
    cl->controller_id = md->controller_id;

    sc_mdtopic_t *nt = calloc(md->n_topics ? md->n_topics : 1, sizeof *nt);
    if (nt == NULL)
        return;
    size_t n = 0;
    for (size_t i = 0; i < md->n_topics; i++) {
        const Strata__TopicMetadata *t = md->topics[i];
        if (t->name == NULL)
            continue;
        sc_mdtopic_t *m = &nt[n];
        m->name = strdup(t->name);
        m->err = (st_err_t)t->error;
        int32_t np = 0;
        for (size_t k = 0; k < t->n_partitions; k++)
            if (t->partitions[k]->partition >= np)
                np = t->partitions[k]->partition + 1;
        m->parts = calloc(np ? (size_t)np : 1, sizeof *m->parts);
        if (m->name == NULL || m->parts == NULL) {
            free(m->name);
            free(m->parts);
            continue;
        }
        for (int32_t k = 0; k < np; k++) {
            m->parts[k].leader = -1;
            m->parts[k].err = ST_ERR_LEADER_NOT_AVAILABLE;
        }
        for (size_t k = 0; k < t->n_partitions; k++) {
            const Strata__PartitionMetadata *p = t->partitions[k];
            if (p->partition < 0)
                continue;
            m->parts[p->partition].leader = p->leader;
            m->parts[p->partition].epoch = p->leader_epoch;
            m->parts[p->partition].err = (st_err_t)p->error;
        }
        m->n_parts = np;
        if (np == 0 && m->err == ST_OK)
            m->err = ST_ERR_UNKNOWN_TOPIC_OR_PARTITION;
        n++;
    }
    sc_md_free_topics(cl->topics, cl->n_topics);
    cl->topics = nt;
    cl->n_topics = n;
    cl->md_version++;
}

static void sc_md_cb(sc_client_t *cl, sc_req_t *rq, st_err_t err, nng_msg *reply)
{
    (void)rq;
    Strata__Response *resp = NULL;
    if (err == ST_OK) {
        resp = strata__response__unpack(NULL, nng_msg_len(reply), nng_msg_body(reply));
        nng_msg_free(reply);
        if (resp == NULL || resp->body_case != STRATA__RESPONSE__BODY_METADATA)
            err = resp && resp->error ? (st_err_t)resp->error : ST_ERR_CORRUPT_MESSAGE;
    }
    pthread_mutex_lock(&cl->lock);
    cl->md_inflight = false;
    int64_t now = st_mono_ms();
    if (err == ST_OK) {
        sc_md_apply(cl, resp->metadata);
        cl->md_last_ms = now;
        if (cl->ops && cl->ops->on_metadata)
            cl->ops->on_metadata(cl);
    } else {
        ST_DEBUG(SC_TAG, "metadata request failed: %s", st_err_name(err));
        cl->md_wanted = true;
    }
    pthread_cond_broadcast(&cl->ucond);
    pthread_mutex_unlock(&cl->lock);
    if (resp)
        strata__response__free_unpacked(resp, NULL);
}

/* Lock held: send a metadata request when one is due. */
static void sc_md_maybe(sc_client_t *cl, int64_t now, int64_t *next)
{
    if (cl->md_inflight)
        return;
    int64_t due = cl->md_last_ms + cl->conf.metadata_max_age_ms;
    if (cl->md_wanted) {
        int64_t w = cl->md_urgent ? now : cl->md_retry_ms;
        if (w < due)
            due = w;
    }
    if (now < due) {
        if (due < *next)
            *next = due;
        return;
    }
    /* give first dials a moment so a dead broker is not picked blindly */
    if (!sc_client_any_connected(cl)) {
        int64_t wait = SC_FIRST_CONNECT_WAIT_MS;
        if (cl->conf.connection_setup_timeout_ms < wait)
            wait = cl->conf.connection_setup_timeout_ms;
        if (cl->md_nopipe_since == 0)
            cl->md_nopipe_since = now;
        if (now < cl->md_nopipe_since + wait) {
            if (cl->md_nopipe_since + wait < *next)
                *next = cl->md_nopipe_since + wait;
            return;
        }
    }
    cl->md_nopipe_since = 0;
    sc_broker_t *br = sc_client_any_broker(cl);
    if (br == NULL)
        return;
    Strata__MetadataRequest mr = STRATA__METADATA_REQUEST__INIT;
    Strata__Request req = STRATA__REQUEST__INIT;
    mr.topics = cl->interest;
    mr.n_topics = cl->n_interest;
    mr.all_topics = cl->n_interest == 0;
    mr.allow_auto_topic_creation = cl->allow_auto_create;
    req.body_case = STRATA__REQUEST__BODY_METADATA;
    req.metadata = &mr;
    req.correlation_id = ++cl->corr;
    req.client_id = cl->conf.client_id;
    req.replica_id = -1;
    size_t n = strata__request__get_packed_size(&req);
    nng_msg *m;
    if (nng_msg_alloc(&m, n) != 0)
        return;
    strata__request__pack(&req, nng_msg_body(m));
    sc_req_t *rq = sc_req_new(br, sc_md_cb, NULL, (int)cl->conf.request_timeout_ms);
    if (rq == NULL) {
        nng_msg_free(m);
        return;
    }
    rq->msg = m;
    cl->md_inflight = true;
    cl->md_wanted = false;
    cl->md_urgent = false;
    cl->md_retry_ms = now + (cl->conf.retry_backoff_ms > 0 ? cl->conf.retry_backoff_ms : 1);
    sc_client_submit(cl, rq);
}

/* ---------------------------------------------------------- I/O thread */

/* I/O thread, lock held (dropped while cancelling): abort the requests in
 * flight on broker `only`, whose connection was lost. Only this thread
 * frees requests, so the pointers stay valid while unlocked. */
static void sc_abort_inflight(sc_client_t *cl, sc_broker_t *only)
{
    size_t n = 0, cap = (size_t)cl->n_reqs;
    sc_req_t **v = calloc(cap ? cap : 1, sizeof *v);
    for (sc_req_t *rq = cl->live; v && rq && n < cap; rq = rq->lnext) {
        if ((rq->state != SC_REQ_SEND && rq->state != SC_REQ_RECV) || rq->net.aio == NULL)
            continue;
        if (only != NULL && rq->br != only)
            continue;
        if (only != NULL)
            rq->disconnected = true;
        v[n++] = rq;
    }
    pthread_mutex_unlock(&cl->lock);
    for (size_t i = 0; i < n; i++)
        net_req_cancel(&v[i]->net);
    free(v);
    pthread_mutex_lock(&cl->lock);
}

/* Lock held: the statistics report, as malloc'd JSON text (NULL on
 * ENOMEM); the round-trip windows restart. */
static char *sc_stats_report(sc_client_t *cl)
{
    json_t *r = json_object(), *brs = json_array();
    if (!r || !brs) {
        json_decref(r);
        json_decref(brs);
        return NULL;
    }
    size_t queued = 0;
    for (sc_req_t *q = cl->sendq; q; q = q->next)
        queued++;
    json_object_set_new(r, "type", json_string(cl->kind ? cl->kind : "client"));
    json_object_set_new(r, "client_id", json_string(cl->conf.client_id ? cl->conf.client_id : ""));
    json_object_set_new(r, "ts_ms", json_integer(st_wall_ms()));
    json_object_set_new(r, "requests_alive", json_integer(cl->n_reqs));
    json_object_set_new(r, "requests_queued", json_integer((json_int_t)queued));
    json_object_set_new(r, "metadata_version", json_integer(cl->md_version));
    for (size_t i = 0; i < cl->n_brokers; i++) {
        sc_broker_t *br = cl->brokers[i];
        json_t *b = json_object();
        if (!b)
            break;
        json_object_set_new(b, "id", json_integer(br->id));
        json_object_set_new(b, "url", json_string(br->url ? br->url : ""));
        json_object_set_new(b, "connected", json_boolean(br->pipes > 0));
        json_object_set_new(b, "produce_in_flight", json_integer(br->inflight));
        json_object_set_new(b, "fetch_in_flight", json_integer(br->fetching));
        json_object_set_new(b, "rtt_count", json_integer(br->rtt_n));
        json_object_set_new(b, "rtt_avg_us", json_integer(br->rtt_n ? br->rtt_sum_us / br->rtt_n : 0));
        json_object_set_new(b, "rtt_max_us", json_integer(br->rtt_max_us));
        json_array_append_new(brs, b);
        br->rtt_n = br->rtt_sum_us = br->rtt_max_us = 0;
    }
    json_object_set_new(r, "brokers", brs);
    if (cl->ops && cl->ops->stats)
        cl->ops->stats(cl, r);
    char *s = json_dumps(r, JSON_COMPACT);
    json_decref(r);
    return s;
}

/* Lock held: a statistics report when due, delivered unlocked. */
static void sc_stats_maybe(sc_client_t *cl, int64_t now, int64_t *next)
{
    int64_t iv = cl->conf.statistics_interval_ms;
    if (iv <= 0 || cl->conf.stats_cb == NULL || cl->stopping)
        return;
    if (cl->stats_next_ms == 0)
        cl->stats_next_ms = now + iv;
    if (now >= cl->stats_next_ms) {
        cl->stats_next_ms = now + iv;
        char *s = sc_stats_report(cl);
        if (s) {
            pthread_mutex_unlock(&cl->lock);
            cl->conf.stats_cb(s, cl->conf.stats_opaque);
            free(s);
            pthread_mutex_lock(&cl->lock);
        }
    }
    if (cl->stats_next_ms < *next)
        *next = cl->stats_next_ms;
}

static void *sc_client_run(void *arg)
{
    sc_client_t *cl = arg;
    pthread_mutex_lock(&cl->lock);
    for (;;) {
        bool progress = false;
        while (cl->done != NULL) {
            sc_req_t *rq = cl->done;
            cl->done = rq->next;
            if (cl->done == NULL)
                cl->done_tail = NULL;
            pthread_mutex_unlock(&cl->lock);
            nng_msg *reply = rq->reply;
            rq->reply = NULL;
            if (rq->br && rq->cb)
                rq->cb(cl, rq, rq->err, reply);
            else if (reply)
                nng_msg_free(reply);
            pthread_mutex_lock(&cl->lock);
            if (rq->lprev)
                rq->lprev->lnext = rq->lnext;
            else
                cl->live = rq->lnext;
            if (rq->lnext)
                rq->lnext->lprev = rq->lprev;
            pthread_mutex_unlock(&cl->lock);
            sc_req_free(rq);
            pthread_mutex_lock(&cl->lock);
            cl->n_reqs--;
            progress = true;
        }
        if (progress)
            pthread_cond_broadcast(&cl->ucond);
        for (size_t i = 0; i < cl->n_brokers; i++) {
            sc_broker_t *br = cl->brokers[i];
            if (br->pipe_lost) {
                br->pipe_lost = false;
                sc_abort_inflight(cl, br);
                if (cl->ops != NULL)
                    sc_client_md_want(cl);
            }
        }
        int64_t now = st_mono_ms();
        int64_t next = now + 1000;
        if (!cl->stopping && cl->ops != NULL) {
            sc_md_maybe(cl, now, &next);
            if (cl->ops->tick)
                cl->ops->tick(cl, now, &next);
        }
        sc_stats_maybe(cl, now, &next);
        if (cl->sendq != NULL) {
            sc_req_t *q = cl->sendq;
            cl->sendq = cl->sendq_tail = NULL;
            bool stopping = cl->stopping;
            pthread_mutex_unlock(&cl->lock);
            while (q != NULL) {
                sc_req_t *rq = q;
                q = q->next;
                rq->next = NULL;
                if (stopping)
                    sc_req_finish(rq, ST_ERR_CLOSED, NULL);
                else
                    sc_req_start(cl, rq);
            }
            pthread_mutex_lock(&cl->lock);
            continue;
        }
        if (cl->done != NULL)
            continue;
        if (cl->stopping && cl->n_reqs == 0)
            break;
        /* Stopping: requests in flight are left to finish (a reply, or
         * their own timeout: a long-poll fetch ends within
         * fetch.max.wait.ms). Cancelling a req0 context operation while
         * its connection is alive makes nng 1.5's nng_close hang later
         * (reproduced: tests in the report), so only requests on a lost
         * connection are aborted (above). */
        struct timespec ts;
        sc_abstime(next, &ts);
        cl->wake_at = next;
        pthread_cond_timedwait(&cl->cond, &cl->lock, &ts);
        cl->wake_at = INT64_MIN;
    }
    pthread_mutex_unlock(&cl->lock);
    return NULL;
}

/* ------------------------------------------------------- life cycle */

st_err_t sc_client_init(sc_client_t *cl, const strata_conf_t *conf, const sc_ops_t *ops, void *owner,
                        char *err, size_t errlen)
{
    char **urls = NULL;
    size_t n_urls = 0;
    st_err_t e;
    pthread_condattr_t ca;
    bool lock_ok = false;

    memset(cl, 0, sizeof *cl);
    cl->ops = ops;
    cl->owner = owner;
    cl->controller_id = -1;
    cl->md_last_ms = INT64_MIN / 2;
    cl->wake_at = INT64_MIN;
    if ((e = sc_conf_copy(&cl->conf, conf)) != ST_OK) {
        if (err)
            snprintf(err, errlen, "cannot copy configuration");
        goto fail;
    }
    if ((e = sc_conf_check(&cl->conf, err, errlen)) != ST_OK)
        goto fail;
    pthread_mutex_init(&cl->lock, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&cl->cond, &ca);
    pthread_cond_init(&cl->ucond, &ca);
    pthread_condattr_destroy(&ca);
    lock_ok = true;
    if ((e = sc_conf_bootstrap(&cl->conf, &urls, &n_urls)) != ST_OK)
        goto fail;
    for (size_t i = 0; i < n_urls; i++) {
        if (sc_broker_add(cl, -1 - (int32_t)i, urls[i], &e) == NULL) {
            if (err)
                snprintf(err, errlen, "bootstrap.servers: cannot dial '%s': %s", urls[i],
                         e == ST_ERR_INVALID_CONFIG ? "invalid URL" : st_err_name(e));
            goto fail;
        }
    }
    sc_conf_bootstrap_free(urls, n_urls);
    urls = NULL;
    if (pthread_create(&cl->thread, NULL, sc_client_run, cl) != 0) {
        e = ST_ERR_NOMEM;
        if (err)
            snprintf(err, errlen, "cannot start the I/O thread");
        goto fail;
    }
    cl->started = true;
    return ST_OK;

fail:
    sc_conf_bootstrap_free(urls, n_urls);
    for (size_t i = 0; i < cl->n_brokers; i++) {
        nng_close(cl->brokers[i]->sock);
        free(cl->brokers[i]->url);
        free(cl->brokers[i]);
    }
    free(cl->brokers);
    cl->brokers = NULL;
    cl->n_brokers = 0;
    if (lock_ok) {
        pthread_mutex_destroy(&cl->lock);
        pthread_cond_destroy(&cl->cond);
        pthread_cond_destroy(&cl->ucond);
    }
    sc_conf_fini(&cl->conf);
    return e;
}

void sc_client_fini(sc_client_t *cl)
{
    if (cl->started) {
        pthread_mutex_lock(&cl->lock);
        cl->stopping = true;
        pthread_cond_signal(&cl->cond);
        pthread_mutex_unlock(&cl->lock);
        pthread_join(cl->thread, NULL);
    }
    for (size_t i = 0; i < cl->n_brokers; i++) {
        nng_close(cl->brokers[i]->sock);
        free(cl->brokers[i]->url);
        free(cl->brokers[i]);
    }
    free(cl->brokers);
    sc_md_free_topics(cl->topics, cl->n_topics);
    for (size_t i = 0; i < cl->n_interest; i++)
        free(cl->interest[i]);
    free(cl->interest);
    pthread_mutex_destroy(&cl->lock);
    pthread_cond_destroy(&cl->cond);
    pthread_cond_destroy(&cl->ucond);
    sc_conf_fini(&cl->conf);
}

/* ------------------------------------------------- synchronous calls */

typedef struct sc_sync {
    bool done;
    st_err_t err;
    nng_msg *reply;
} sc_sync_t;

static void sc_sync_cb(sc_client_t *cl, sc_req_t *rq, st_err_t err, nng_msg *reply)
{
    sc_sync_t *s = rq->arg;
    pthread_mutex_lock(&cl->lock);
    s->done = true;
    s->err = err;
    s->reply = reply;
    pthread_cond_broadcast(&cl->ucond);
    pthread_mutex_unlock(&cl->lock);
}

st_err_t sc_client_call(sc_client_t *cl, sc_broker_t *br, Strata__Request *req, int timeout_ms,
                        Strata__Response **resp)
{
    nng_msg *m;
    sc_sync_t s = {false, ST_OK, NULL};
    *resp = NULL;
    st_err_t e = sc_client_pack(cl, req, &m);
    if (e != ST_OK)
        return e;
    pthread_mutex_lock(&cl->lock);
    if (br == SC_TO_CONTROLLER) {
        br = sc_client_broker(cl, cl->controller_id);
        if (br != NULL && !sc_broker_usable(br, st_mono_ms()))
            br = NULL;
    }
    if (br == NULL) {
        /* give first dials a moment so a dead broker is not picked blindly
         * (pipe events broadcast ucond) */
        int64_t wait = SC_FIRST_CONNECT_WAIT_MS;
        if (cl->conf.connection_setup_timeout_ms < wait)
            wait = cl->conf.connection_setup_timeout_ms;
        if (timeout_ms >= 0 && timeout_ms < wait)
            wait = timeout_ms;
        int64_t until = st_mono_ms() + wait;
        while (!sc_client_any_connected(cl) && st_mono_ms() < until)
            sc_client_wait(cl, until);
        br = sc_client_any_broker(cl);
    }
    sc_req_t *rq = br ? sc_req_new(br, sc_sync_cb, &s, timeout_ms < 0 ? -1 : timeout_ms) : NULL;
    if (rq == NULL) {
        pthread_mutex_unlock(&cl->lock);
        nng_msg_free(m);
        return br ? ST_ERR_NOMEM : ST_ERR_CONNECTION;
    }
    rq->msg = m;
    sc_client_submit(cl, rq);
    /* the request's own timeouts guarantee completion */
    while (!s.done)
        pthread_cond_wait(&cl->ucond, &cl->lock);
    pthread_mutex_unlock(&cl->lock);
    if (s.err != ST_OK)
        return s.err == ST_ERR_REQUEST_TIMED_OUT ? ST_ERR_TIMEOUT : s.err;
    *resp = strata__response__unpack(NULL, nng_msg_len(s.reply), nng_msg_body(s.reply));
    nng_msg_free(s.reply);
    if (*resp == NULL)
        return ST_ERR_CORRUPT_MESSAGE;
    return (st_err_t)(*resp)->error;
}

st_err_t sc_client_md_refresh(sc_client_t *cl, int timeout_ms)
{
    Strata__MetadataRequest mr = STRATA__METADATA_REQUEST__INIT;
    Strata__Request req = STRATA__REQUEST__INIT;
    Strata__Response *resp = NULL;
    char **topics = NULL;
    size_t nt = 0;
    st_err_t e = ST_OK;

    pthread_mutex_lock(&cl->lock);
    if (cl->n_interest) {
        topics = calloc(cl->n_interest, sizeof *topics);
        if (topics == NULL)
            e = ST_ERR_NOMEM;
        for (size_t i = 0; topics && i < cl->n_interest; i++)
            if ((topics[nt] = strdup(cl->interest[i])) != NULL)
                nt++;
    }
    pthread_mutex_unlock(&cl->lock);
    if (e != ST_OK)
        return e;
    mr.topics = topics;
    mr.n_topics = nt;
    mr.all_topics = nt == 0;
    mr.allow_auto_topic_creation = cl->allow_auto_create;
    req.body_case = STRATA__REQUEST__BODY_METADATA;
    req.metadata = &mr;
    e = sc_client_call(cl, NULL, &req, timeout_ms, &resp);
    if (e == ST_OK && resp->body_case != STRATA__RESPONSE__BODY_METADATA)
        e = ST_ERR_CORRUPT_MESSAGE;
    if (e == ST_OK) {
        pthread_mutex_lock(&cl->lock);
        sc_md_apply(cl, resp->metadata);
        cl->md_last_ms = st_mono_ms();
        if (cl->ops && cl->ops->on_metadata)
            cl->ops->on_metadata(cl);
        pthread_cond_signal(&cl->cond);
        pthread_mutex_unlock(&cl->lock);
    }
    for (size_t i = 0; i < nt; i++)
        free(topics[i]);
    free(topics);
    if (resp)
        strata__response__free_unpacked(resp, NULL);
    return e;
}

/* ------------------------------------------------ public error helpers */

const char *strata_err_name(strata_err_t err)
{
    if (err == STRATA_ERR_QUEUE_FULL)
        return "QUEUE_FULL";
    if (err == STRATA_ERR_PARTITION_EOF)
        return "PARTITION_EOF";
    return st_err_name((st_err_t)err);
}

bool strata_err_retriable(strata_err_t err)
{
    return err == STRATA_ERR_QUEUE_FULL || err == STRATA_ERR_TIMEOUT || err == STRATA_ERR_CONNECTION ||
           st_err_retriable((st_err_t)err);
}

const char *strata_version(void)
{
    return PACKAGE_VERSION;
}
