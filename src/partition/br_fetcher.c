/*
 * br_fetcher: one leader broker's replica fetcher (see br_fetcher.h).
 * State machine of the request in flight, driven by the completion of
 * its net_req exchange (src/net) on nng's thread:
 *
 *   IDLE -(pump: br_pm_follow_next gives a request)-> SEND
 *   SEND -(sent)-> RECV -(answer or error)-> queued -> [core loop] applied -> IDLE -> pump
 *   SEND -(error)-> queued (failure)
 *
 * A kick or a back-off end schedules the pump through an ev_timer so it
 * never runs inside the caller (br_pm_apply_state). Only the exchange's
 * callback and the mutex-protected queue are touched by nng's threads.
 */
#include "partition/br_fetcher.h"

#include <nng/nng.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/st_clock.h"
#include "common/st_log.h"
#include "net/net_req.h"

#define BR_TAG "fetcher"

/* A completed request, handed from nng's thread to the core loop. */
typedef struct br_fdone {
    st_err_t err;
    nng_msg *msg; /* the answer when err == ST_OK */
    struct br_fdone *next;
} br_fdone_t;

struct br_fetcher {
    struct ev_loop *loop;
    br_pm_t *pm;
    int32_t self_id, source_id;
    char *url;
    int64_t timeout_ms;
    nng_socket sock;
    bool sock_open;
    net_req_t req; /* the one exchange: one request in flight */
    ev_async async;
    ev_timer timer;
    bool closing;
    /* the request in flight (core loop) */
    br_follow_req_t *inflight;
    /* shared with nng's threads */
    pthread_mutex_t mu;
    br_fdone_t *done_head, *done_tail;
};

/* nng's thread: queue the outcome for the core loop. */
static void br_fetcher_post(br_fetcher_t *f, st_err_t err, nng_msg *msg)
{
    br_fdone_t *d = calloc(1, sizeof *d);
    if (!d) {
        /* cannot report: the request stays in flight until the fetcher
         * is freed; very unlikely, and logged */
        if (msg)
            nng_msg_free(msg);
        st_log(ST_LOG_ERROR, BR_TAG, "out of memory: fetcher of broker %d stalls", f->source_id);
        return;
    }
    d->err = err;
    d->msg = msg;
    pthread_mutex_lock(&f->mu);
    if (f->done_tail)
        f->done_tail->next = d;
    else
        f->done_head = d;
    f->done_tail = d;
    pthread_mutex_unlock(&f->mu);
    ev_async_send(f->loop, &f->async);
}

/* nng's thread: the exchange ended. */
static void br_fetcher_done(void *arg, st_err_t err, nng_msg *reply, bool sent)
{
    (void)sent;
    br_fetcher_post(arg, err, reply);
}

static void br_fetcher_schedule(br_fetcher_t *f, double after_s)
{
    ev_timer_stop(f->loop, &f->timer);
    ev_timer_set(&f->timer, after_s > 0 ? after_s : 0.0, 0.0);
    ev_timer_start(f->loop, &f->timer);
}

/* Core loop: send the next request when idle. */
static void br_fetcher_pump(br_fetcher_t *f)
{
    if (f->closing || f->inflight)
        return;
    br_follow_req_t *req;
    uint8_t *buf;
    size_t len;
    int64_t retry_ms, now = st_wall_ms();
    st_err_t err = br_pm_follow_next(f->pm, f->source_id, now, &req, &buf, &len, &retry_ms);
    if (err == ST_ERR_NOT_FOUND) {
        if (retry_ms >= 0)
            br_fetcher_schedule(f, (double)(retry_ms - now) / 1000.0);
        return; /* idle until kicked */
    }
    if (err != ST_OK) {
        br_fetcher_schedule(f, 1.0);
        return;
    }
    nng_msg *msg = NULL;
    if (nng_msg_alloc(&msg, len) != 0) {
        free(buf);
        br_pm_follow_failed(f->pm, req, ST_ERR_NOMEM);
        br_follow_req_free(req);
        br_fetcher_schedule(f, 1.0);
        return;
    }
    memcpy(nng_msg_body(msg), buf, len);
    free(buf);
    f->inflight = req;
    net_req_start(&f->req, msg, f->timeout_ms, f->timeout_ms);
}

static void br_fetcher_timer_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
    (void)loop;
    (void)revents;
    br_fetcher_pump(t->data);
}

/* Core loop: apply what nng completed, then send the next request. */
static void br_fetcher_async_cb(struct ev_loop *loop, ev_async *a, int revents)
{
    (void)loop;
    (void)revents;
    br_fetcher_t *f = a->data;
    pthread_mutex_lock(&f->mu);
    br_fdone_t *d = f->done_head;
    f->done_head = f->done_tail = NULL;
    pthread_mutex_unlock(&f->mu);
    while (d) {
        br_fdone_t *next = d->next;
        br_follow_req_t *req = f->inflight;
        f->inflight = NULL;
        if (req && !f->closing) {
            if (d->err == ST_OK)
                br_pm_follow_answer(f->pm, req, nng_msg_body(d->msg), nng_msg_len(d->msg));
            else
                br_pm_follow_failed(f->pm, req, d->err);
        }
        br_follow_req_free(req);
        if (d->msg)
            nng_msg_free(d->msg);
        free(d);
        d = next;
    }
    /* after a transport failure the partitions are backed off: the pump
     * finds nothing ready and arms the timer for the end of the back-off */
    br_fetcher_pump(f);
}

st_err_t br_fetcher_new(struct ev_loop *loop, br_pm_t *pm, const br_fetcher_config_t *cfg, br_fetcher_t **out)
{
    *out = NULL;
    if (!loop || !pm || !cfg || !cfg->url)
        return ST_ERR_INVALID_ARG;
    st_err_t err = ST_ERR_NOMEM;
    br_fetcher_t *f = calloc(1, sizeof *f);
    if (!f)
        return ST_ERR_NOMEM;
    pthread_mutex_init(&f->mu, NULL);
    f->loop = loop;
    f->pm = pm;
    f->self_id = cfg->self_id;
    f->source_id = cfg->source_id;
    f->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : 30000;
    ev_async_init(&f->async, br_fetcher_async_cb);
    f->async.data = f;
    ev_timer_init(&f->timer, br_fetcher_timer_cb, 0.0, 0.0);
    f->timer.data = f;
    if (!(f->url = strdup(cfg->url)))
        goto fail;
    /* never resent: a fetch answered late is simply superseded */
    net_sock_opts_t so = {.recv_max = cfg->recv_max, .reconnect_min_ms = 100, .reconnect_max_ms = 2000};
    int rv;
    err = net_sock_open(&f->sock, f->url, &so, &rv);
    if (err == ST_OK) {
        f->sock_open = true;
        err = net_req_init(&f->req, f->sock, br_fetcher_done, f);
    }
    if (err != ST_OK) {
        st_log(ST_LOG_ERROR, BR_TAG, "broker %d: cannot dial leader %d at %s: %s", f->self_id, f->source_id,
               f->url, rv ? nng_strerror(rv) : st_err_name(err));
        goto fail;
    }
    ev_async_start(loop, &f->async);
    st_log(ST_LOG_INFO, BR_TAG, "fetching from broker %d at %s", f->source_id, f->url);
    *out = f;
    return ST_OK;
fail:
    br_fetcher_free(f);
    return err;
}

void br_fetcher_kick(br_fetcher_t *f)
{
    if (!f || f->closing || f->inflight)
        return;
    br_fetcher_schedule(f, 0.0);
}

void br_fetcher_free(br_fetcher_t *f)
{
    if (!f)
        return;
    f->closing = true;
    ev_timer_stop(f->loop, &f->timer);
    net_req_fini(&f->req); /* no callback runs after this */
    if (f->sock_open)
        nng_close(f->sock);
    ev_async_stop(f->loop, &f->async);
    br_fdone_t *d = f->done_head;
    while (d) {
        br_fdone_t *next = d->next;
        if (d->msg)
            nng_msg_free(d->msg);
        free(d);
        d = next;
    }
    br_follow_req_free(f->inflight);
    pthread_mutex_destroy(&f->mu);
    free(f->url);
    free(f);
}
