/*
 * net_req: req0 sockets and request/answer exchanges (see net_req.h).
 */
#include "net/net_req.h"

#include <nng/protocol/reqrep0/req.h>

st_err_t net_err(int rv)
{
    switch (rv) {
    case 0:
        return ST_OK;
    case NNG_ETIMEDOUT:
        return ST_ERR_REQUEST_TIMED_OUT;
    case NNG_ECLOSED:
    case NNG_ECANCELED:
        return ST_ERR_CLOSED;
    case NNG_ENOMEM:
        return ST_ERR_NOMEM;
    case NNG_EADDRINVAL:
    case NNG_EINVAL:
    case NNG_ENOTSUP:
        return ST_ERR_INVALID_CONFIG;
    default:
        return ST_ERR_NETWORK_EXCEPTION;
    }
}

st_err_t net_sock_open(nng_socket *sock, const char *url, const net_sock_opts_t *o, int *rvp)
{
    int rv = nng_req0_open(sock);
    if (rv == 0) {
        /* nng resends an unanswered request after 60 s by default: that
         * would duplicate produce requests, so never resend */
        rv = nng_socket_set_ms(*sock, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
        if (rv == 0 && o && o->recv_max > 0)
            rv = nng_socket_set_size(*sock, NNG_OPT_RECVMAXSZ, o->recv_max);
        if (rv == 0 && o && o->reconnect_min_ms > 0)
            rv = nng_socket_set_ms(*sock, NNG_OPT_RECONNMINT, (nng_duration)o->reconnect_min_ms);
        if (rv == 0 && o && o->reconnect_min_ms > 0) {
            int64_t max =
                o->reconnect_max_ms < o->reconnect_min_ms ? o->reconnect_min_ms : o->reconnect_max_ms;
            rv = nng_socket_set_ms(*sock, NNG_OPT_RECONNMAXT, (nng_duration)max);
        }
        if (rv == 0 && o && o->pipe_cb) {
            rv = nng_pipe_notify(*sock, NNG_PIPE_EV_ADD_POST, o->pipe_cb, o->pipe_arg);
            if (rv == 0)
                rv = nng_pipe_notify(*sock, NNG_PIPE_EV_REM_POST, o->pipe_cb, o->pipe_arg);
        }
        if (rv == 0)
            rv = nng_dial(*sock, url, NULL, NNG_FLAG_NONBLOCK);
        if (rv != 0)
            nng_close(*sock);
    }
    if (rvp)
        *rvp = rv;
    return net_err(rv);
}

/* nng's thread: advance the exchange. */
static void net_req_aio_cb(void *arg)
{
    net_req_t *r = arg;
    int rv = nng_aio_result(r->aio);
    if (r->phase == NET_SEND) {
        if (rv != 0) {
            nng_msg *m = nng_aio_get_msg(r->aio); /* not sent: ours to free */
            nng_aio_set_msg(r->aio, NULL);
            if (m)
                nng_msg_free(m);
            r->phase = NET_IDLE;
            r->done(r->arg, net_err(rv), NULL, false);
            return;
        }
        if (r->no_reply) {
            r->phase = NET_IDLE;
            r->done(r->arg, ST_OK, NULL, true);
            return;
        }
        if (r->sent && !r->sent(r->arg)) {
            r->phase = NET_IDLE;
            r->done(r->arg, ST_ERR_CLOSED, NULL, true);
            return;
        }
        r->phase = NET_RECV;
        nng_aio_set_timeout(r->aio, r->recv_timeout_ms < 0 ? NNG_DURATION_INFINITE
                                                           : (nng_duration)r->recv_timeout_ms);
        nng_ctx_recv(r->ctx, r->aio);
        return;
    }
    nng_msg *m = rv == 0 ? nng_aio_get_msg(r->aio) : NULL;
    nng_aio_set_msg(r->aio, NULL);
    r->phase = NET_IDLE;
    r->done(r->arg, net_err(rv), m, true);
}

st_err_t net_req_init(net_req_t *r, nng_socket sock, net_done_fn done, void *arg)
{
    r->done = done;
    r->arg = arg;
    r->phase = NET_IDLE;
    int rv = nng_ctx_open(&r->ctx, sock);
    if (rv == 0)
        r->ctx_open = true;
    if (rv == 0)
        rv = nng_aio_alloc(&r->aio, net_req_aio_cb, r);
    return net_err(rv);
}

void net_req_start(net_req_t *r, nng_msg *msg, int64_t send_timeout_ms, int64_t recv_timeout_ms)
{
    r->recv_timeout_ms = recv_timeout_ms;
    r->phase = NET_SEND;
    nng_aio_set_timeout(r->aio, send_timeout_ms < 0 ? NNG_DURATION_INFINITE : (nng_duration)send_timeout_ms);
    nng_aio_set_msg(r->aio, msg);
    nng_ctx_send(r->ctx, r->aio);
}

void net_req_cancel(net_req_t *r)
{
    if (r->aio)
        nng_aio_cancel(r->aio);
}

void net_req_fini(net_req_t *r)
{
    if (r->aio) {
        nng_aio_stop(r->aio); /* cancels and waits for the callback */
        nng_msg *m = nng_aio_get_msg(r->aio);
        nng_aio_set_msg(r->aio, NULL);
        if (m)
            nng_msg_free(m);
    }
    if (r->ctx_open)
        nng_ctx_close(r->ctx);
    r->ctx_open = false;
    if (r->aio)
        nng_aio_free(r->aio);
    r->aio = NULL;
    r->phase = NET_IDLE;
}
