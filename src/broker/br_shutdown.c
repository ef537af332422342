/*
 * br_shutdown: the broker's side of a controlled shutdown (see br_core.h,
 * "Stopping"). It marks the registration "controlled_shutdown", then asks
 * the controller (itself, or over the net_req client) to move every
 * leadership away, retries every controlled.shutdown.retry.backoff.ms up to
 * controlled.shutdown.max.retries times while partitions remain, resigns
 * what is left, lingers BR_SHUTDOWN_LINGER_MS so clients hear
 * NOT_LEADER_OR_FOLLOWER, and stops the core. Owns: the socket to the
 * controller and the attempt in flight. Core loop only, but for the
 * exchange's completion, which only queues its result under a mutex.
 */
#include "broker/br_shutdown.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <nng/nng.h>

#include "broker/br_core.h"
#include "common/st_clock.h"
#include "common/st_log.h"
#include "control/br_ctl.h"
#include "control/br_md.h"
#include "net/net_req.h"

#define SHUTDOWN_TAG "broker"
/* after a controlled shutdown, how long the broker keeps answering
 * (NOT_LEADER_OR_FOLLOWER, Metadata) before it stops */
#define BR_SHUTDOWN_LINGER_MS 100
/* how long one request to the controller may take */
#define BR_SHUTDOWN_REQUEST_MS 15000

struct br_shutdown {
    br_core_t *core;
    int attempts;
    int64_t start_ms;
    ev_timer retry;
    bool lingering; /* leadership moved: answering, then stopping */
    ev_async async;
    nng_socket sock; /* to the controller at url */
    bool sock_open;
    char *url;
    net_req_t req;      /* the request to the controller */
    bool in_flight;     /* core loop */
    pthread_mutex_t mu; /* guards the result */
    bool have_result;
    st_err_t err;
    nng_msg *reply;
};

static void shutdown_finish(br_core_t *core, bool ok)
{
    br_shutdown_t *cs = core->cs;
    int64_t took = st_wall_ms() - cs->start_ms;
    if (ok)
        ST_INFO(SHUTDOWN_TAG, "controlled shutdown complete in %lld ms (%d attempt(s))", (long long)took,
                cs->attempts);
    else
        ST_WARN(SHUTDOWN_TAG, "controlled shutdown incomplete after %d attempt(s), %lld ms: stopping anyway",
                cs->attempts, (long long)took);
    if (!ok || !core->pm || !core->loop) {
        br_core_stop(core, 0);
        return;
    }
    /* Every leadership moved: stop leading at once, so produces waiting
     * here (and new ones) are answered NOT_LEADER_OR_FOLLOWER rather than
     * left to time out, even before the state watches arrive; keep serving
     * for a moment so those answers and Metadata reach the clients. */
    br_pm_resign_all(core->pm);
    cs->lingering = true;
    ev_timer_stop(core->loop, &cs->retry);
    ev_timer_set(&cs->retry, BR_SHUTDOWN_LINGER_MS / 1000.0, 0.);
    ev_timer_start(core->loop, &cs->retry);
}

/* One attempt's outcome. */
static void shutdown_result(br_core_t *core, st_err_t err, size_t remaining)
{
    br_shutdown_t *cs = core->cs;
    if (!cs || core->stopping)
        return;
    if (err == ST_OK && remaining == 0) {
        shutdown_finish(core, true);
        return;
    }
    if (err == ST_OK)
        ST_INFO(SHUTDOWN_TAG, "controlled shutdown: %zu partition(s) still led here", remaining);
    else
        ST_WARN(SHUTDOWN_TAG, "controlled shutdown attempt %d failed: %s", cs->attempts, st_err_name(err));
    if (cs->attempts > core->conf->controlled_shutdown_max_retries) {
        shutdown_finish(core, false);
        return;
    }
    ev_timer_stop(core->loop, &cs->retry);
    ev_timer_set(&cs->retry, core->conf->controlled_shutdown_retry_backoff_ms / 1000.0, 0.);
    ev_timer_start(core->loop, &cs->retry);
}

static void shutdown_local_done(void *arg, st_err_t err, const br_ctl_tp_t *remaining, size_t n)
{
    (void)remaining;
    shutdown_result(arg, err, n);
}

/* nng's thread: hand the outcome to the core loop. */
static void shutdown_done(void *arg, st_err_t err, nng_msg *reply, bool sent)
{
    (void)sent;
    br_shutdown_t *cs = arg;
    pthread_mutex_lock(&cs->mu);
    cs->have_result = true;
    cs->err = err;
    cs->reply = reply;
    pthread_mutex_unlock(&cs->mu);
    ev_async_send(cs->core->loop, &cs->async);
}

static void shutdown_async(struct ev_loop *loop, ev_async *w, int revents)
{
    (void)loop;
    (void)revents;
    br_core_t *core = w->data;
    br_shutdown_t *cs = core->cs;
    pthread_mutex_lock(&cs->mu);
    bool have = cs->have_result;
    st_err_t rv = cs->err;
    nng_msg *m = cs->reply;
    cs->have_result = false;
    cs->reply = NULL;
    pthread_mutex_unlock(&cs->mu);
    if (!have)
        return;
    cs->in_flight = false;
    if (rv != ST_OK || !m) {
        ST_WARN(SHUTDOWN_TAG, "controlled shutdown request to %s: %s", cs->url ? cs->url : "?",
                st_err_name(rv));
        if (m)
            nng_msg_free(m);
        shutdown_result(core, ST_ERR_REQUEST_TIMED_OUT, 0);
        return;
    }
    Strata__Response *resp = strata__response__unpack(NULL, nng_msg_len(m), nng_msg_body(m));
    nng_msg_free(m);
    st_err_t err = ST_ERR_INVALID_REQUEST;
    size_t n = 0;
    if (resp && resp->error != STRATA__ERROR_CODE__NONE) {
        err = (st_err_t)resp->error;
    } else if (resp && resp->body_case == STRATA__RESPONSE__BODY_CONTROLLED_SHUTDOWN &&
               resp->controlled_shutdown) {
        err = (st_err_t)resp->controlled_shutdown->error;
        for (size_t i = 0; i < resp->controlled_shutdown->n_remaining_partitions; i++)
            n += resp->controlled_shutdown->remaining_partitions[i]->n_partitions;
    }
    if (resp)
        strata__response__free_unpacked(resp, NULL);
    shutdown_result(core, err, n);
}

static void shutdown_retry(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    br_core_t *core = w->data;
    if (core->cs && core->cs->lingering)
        br_core_stop(core, 0);
    else
        br_shutdown_attempt(core);
}

static void shutdown_close_sock(br_shutdown_t *cs)
{
    net_req_fini(&cs->req);
    if (cs->sock_open) {
        nng_close(cs->sock);
        cs->sock_open = false;
    }
    pthread_mutex_lock(&cs->mu);
    if (cs->reply)
        nng_msg_free(cs->reply);
    cs->reply = NULL;
    cs->have_result = false;
    pthread_mutex_unlock(&cs->mu);
    cs->in_flight = false;
    free(cs->url);
    cs->url = NULL;
}

void br_shutdown_attempt(br_core_t *core)
{
    br_shutdown_t *cs = core->cs;
    if (!cs || core->stopping || cs->in_flight || cs->lingering)
        return;
    cs->attempts++;
    if (core->member != BR_MEMBER_REGISTERED) {
        shutdown_result(core, ST_ERR_BROKER_NOT_AVAILABLE, 0);
        return;
    }
    if (br_ctl_active(core->ctl)) {
        br_ctl_controlled_shutdown(core->ctl, core->broker_id, core->broker_epoch, shutdown_local_done, core);
        return;
    }
    int32_t cid = br_md_controller_id(core->md);
    const br_md_broker_t *b = cid >= 0 ? br_md_broker(core->md, cid) : NULL;
    if (!b || !b->loaded || !b->url) {
        shutdown_result(core, ST_ERR_NOT_CONTROLLER, 0);
        return;
    }
    if (!cs->url || strcmp(cs->url, b->url) != 0) {
        shutdown_close_sock(cs);
        cs->url = strdup(b->url);
        if (!cs->url) {
            shutdown_result(core, ST_ERR_NOMEM, 0);
            return;
        }
        st_err_t err = net_sock_open(&cs->sock, cs->url, NULL, NULL);
        cs->sock_open = err == ST_OK;
        if (err == ST_OK)
            err = net_req_init(&cs->req, cs->sock, shutdown_done, cs);
        if (err != ST_OK) {
            shutdown_close_sock(cs); /* the next attempt opens it again */
            shutdown_result(core, err == ST_ERR_NOMEM ? err : ST_ERR_NETWORK_EXCEPTION, 0);
            return;
        }
    }
    Strata__ControlledShutdownRequest cr = STRATA__CONTROLLED_SHUTDOWN_REQUEST__INIT;
    cr.version = 1;
    cr.broker_id = core->broker_id;
    cr.broker_epoch = core->broker_epoch;
    Strata__Request req = STRATA__REQUEST__INIT;
    req.correlation_id = (uint64_t)cs->attempts;
    req.client_id = (char *)"strata-controlled-shutdown";
    req.replica_id = core->broker_id;
    req.broker_epoch = core->broker_epoch;
    req.body_case = STRATA__REQUEST__BODY_CONTROLLED_SHUTDOWN;
    req.controlled_shutdown = &cr;
    nng_msg *m = NULL;
    size_t len = strata__request__get_packed_size(&req);
    if (nng_msg_alloc(&m, len) != 0) {
        shutdown_result(core, ST_ERR_NOMEM, 0);
        return;
    }
    strata__request__pack(&req, nng_msg_body(m));
    ST_INFO(SHUTDOWN_TAG, "controlled shutdown: asking controller %d at %s (attempt %d)", cid, cs->url,
            cs->attempts);
    cs->in_flight = true;
    net_req_start(&cs->req, m, BR_SHUTDOWN_REQUEST_MS, BR_SHUTDOWN_REQUEST_MS);
}

void br_shutdown_start(br_core_t *core)
{
    br_shutdown_t *cs = calloc(1, sizeof *cs);
    if (!cs) {
        br_core_stop(core, 0);
        return;
    }
    cs->core = core;
    cs->start_ms = st_wall_ms();
    pthread_mutex_init(&cs->mu, NULL);
    ev_timer_init(&cs->retry, shutdown_retry, 1., 0.);
    cs->retry.data = core;
    ev_async_init(&cs->async, shutdown_async);
    cs->async.data = core;
    ev_async_start(core->loop, &cs->async);
    core->cs = cs;
    core->shutting_down = true;
    ST_INFO(SHUTDOWN_TAG, "controlled shutdown: moving leadership away before stopping");
    /* first mark our registration, so that no leader takes us back into
     * an ISR; then ask the controller */
    core->self->controlled_shutdown = true;
    core->self_dirty = true;
    core->cs_after_publish = true;
    if (!br_core_self_publish(core)) {
        core->cs_after_publish = false;
        br_shutdown_attempt(core);
    }
}

void br_shutdown_free(br_core_t *core)
{
    br_shutdown_t *cs = core->cs;
    if (!cs)
        return;
    shutdown_close_sock(cs);
    ev_timer_stop(core->loop, &cs->retry);
    ev_async_stop(core->loop, &cs->async);
    pthread_mutex_destroy(&cs->mu);
    free(cs);
    core->cs = NULL;
}
